// SPDX-License-Identifier: MIT
/*
 * Queued-invalidation descriptor codec.
 *
 * Reserved bits per descriptor type, as checked by vtd_desc_decode(). Bits
 * 3:0 and 11:9 of qw0 are the type (any value but 1..9 is refused before the
 * reserved masks apply). In 256-bit form qw2 and qw3 are reserved for types
 * 1-8; for type 9 they carry private data.
 *
 *  type           qw0 reserved           qw1 reserved           notes
 *  1 cc_inv       0xfffc00000000f1c0     all                    G=0 refused
 *  2 iotlb_inv    0xffffffff0000f100     0x0000000000000f80     G=0 refused
 *  3 dev_tlb_inv  0x000f0000ffe001f0     0x0000000000000ffe     PFSID decoded
 *  4 iec_inv      0xffff000007fff1e0     all
 *  5 inv_wait     0x00000000fffff100     0x0000000000000003     PD decoded
 *  6 p_iotlb_inv  0xfff000000000f1c0     0x0000000000000f80     G=0,1 refused
 *  7 pc_inv       0xfff000000000f1c0     all                    G=2 refused
 *  8 p_dev_tlb    none                   0x00000000000007fe     PFSID decoded
 *  9 page_grp     0xfff00000000001c0     0xfffffffffffff003     PDP decoded
 *
 * Sources checked: Linux drivers/iommu/intel/iommu.h QI_* field macros; QEMU
 * hw/i386/intel_iommu_internal.h VTD_INV_DESC_*_RSVD* masks; VirtualBox
 * include/VBox/iommu-intel.h, which spells out every field of the VT-d spec.
 * QEMU calls some spec-defined fields reserved because it does not implement
 * them: PFSID (15:12, 63:52) in types 3 and 8 and PD (bit 7) in waits. We
 * follow the spec and decode them. Type 9 uses the VT-d 3.x layout (PDP in
 * bit 5, LPIG in qw1 bit 2, PRGI in qw1 11:3); spec 4.0 dropped PDP and the
 * private data, which only makes bit 5 reserved there.
 */
#include <stdio.h>
#include <string.h>

#include "vtd/desc.h"
#include "vtd/regs.h"

#define ALL_BITS	(~0ULL)

static const uint64_t rsvd_qw0[VTD_DESC_TYPE_MAX + 1] = {
	[VTD_DESC_CC]		= 0xfffc00000000f1c0ULL,
	[VTD_DESC_IOTLB]	= 0xffffffff0000f100ULL,
	[VTD_DESC_DEVTLB]	= 0x000f0000ffe001f0ULL,
	[VTD_DESC_IEC]		= 0xffff000007fff1e0ULL,
	[VTD_DESC_WAIT]		= 0x00000000fffff100ULL,
	[VTD_DESC_PIOTLB]	= 0xfff000000000f1c0ULL,
	[VTD_DESC_PC]		= 0xfff000000000f1c0ULL,
	[VTD_DESC_PDEVTLB]	= 0,
	[VTD_DESC_PGRP_RESP]	= 0xfff00000000001c0ULL,
};

static const uint64_t rsvd_qw1[VTD_DESC_TYPE_MAX + 1] = {
	[VTD_DESC_CC]		= ALL_BITS,
	[VTD_DESC_IOTLB]	= 0x0000000000000f80ULL,
	[VTD_DESC_DEVTLB]	= 0x0000000000000ffeULL,
	[VTD_DESC_IEC]		= ALL_BITS,
	[VTD_DESC_WAIT]		= 0x0000000000000003ULL,
	[VTD_DESC_PIOTLB]	= 0x0000000000000f80ULL,
	[VTD_DESC_PC]		= ALL_BITS,
	[VTD_DESC_PDEVTLB]	= 0x00000000000007feULL,
	[VTD_DESC_PGRP_RESP]	= 0xfffffffffffff003ULL,
};

/* Field [hi:lo] placed at its position in a qword, value masked to width. */
#define PUT(v, hi, lo)	(((uint64_t)(v) & ((2ULL << ((hi) - (lo))) - 1)) << (lo))
#define GET(q, hi, lo)	VTD_FIELD(q, hi, lo)

/* PFSID is split: bits 3:0 in qw0 15:12, bits 15:4 in qw0 63:52. */
static uint16_t get_pfsid(uint64_t qw0)
{
	return (uint16_t)(GET(qw0, 15, 12) | GET(qw0, 63, 52) << 4);
}

static uint64_t put_pfsid(uint16_t pfsid)
{
	return PUT(pfsid, 3, 0) << 12 | PUT(pfsid >> 4, 11, 0) << 52;
}

unsigned int vtd_desc_raw_type(uint64_t qw0)
{
	return (unsigned int)(GET(qw0, 11, 9) << 4 | GET(qw0, 3, 0));
}

static uint64_t put_type(unsigned int type)
{
	return PUT(type, 3, 0) | PUT(type >> 4, 2, 0) << 9;
}

static enum vtd_desc_error decode_cc(uint64_t qw0, struct vtd_desc_cc *cc)
{
	unsigned int g = GET(qw0, 5, 4);

	if (g == 0)
		return VTD_DESC_ERR_GRAN;
	cc->gran = (enum vtd_cc_gran)g;
	cc->did = GET(qw0, 31, 16);
	cc->sid = GET(qw0, 47, 32);
	cc->fm = GET(qw0, 49, 48);
	return VTD_DESC_OK;
}

static enum vtd_desc_error decode_iotlb(uint64_t qw0, uint64_t qw1, struct vtd_desc_iotlb *t)
{
	unsigned int g = GET(qw0, 5, 4);

	if (g == 0)
		return VTD_DESC_ERR_GRAN;
	t->gran = (enum vtd_iotlb_gran)g;
	t->dw = GET(qw0, 6, 6);
	t->dr = GET(qw0, 7, 7);
	t->did = GET(qw0, 31, 16);
	t->am = GET(qw1, 5, 0);
	t->ih = GET(qw1, 6, 6);
	t->addr = qw1 & VTD_PAGE_MASK;
	return VTD_DESC_OK;
}

static void decode_devtlb(uint64_t qw0, uint64_t qw1, struct vtd_desc_devtlb *t)
{
	t->pfsid = get_pfsid(qw0);
	t->qdep = GET(qw0, 20, 16);
	t->sid = GET(qw0, 47, 32);
	t->size = GET(qw1, 0, 0);
	t->addr = qw1 & VTD_PAGE_MASK;
}

static void decode_iec(uint64_t qw0, struct vtd_desc_iec *t)
{
	t->selective = GET(qw0, 4, 4);
	t->im = GET(qw0, 31, 27);
	t->iidx = GET(qw0, 47, 32);
}

static void decode_wait(uint64_t qw0, uint64_t qw1, struct vtd_desc_wait *t)
{
	t->intr = GET(qw0, 4, 4);
	t->sw = GET(qw0, 5, 5);
	t->fence = GET(qw0, 6, 6);
	t->drain = GET(qw0, 7, 7);
	t->status_data = GET(qw0, 63, 32);
	t->status_addr = qw1 & ~3ULL;
}

static enum vtd_desc_error decode_piotlb(uint64_t qw0, uint64_t qw1, struct vtd_desc_piotlb *t)
{
	unsigned int g = GET(qw0, 5, 4);

	if (g != VTD_PIOTLB_PASID && g != VTD_PIOTLB_PAGE)
		return VTD_DESC_ERR_GRAN;
	t->gran = (enum vtd_piotlb_gran)g;
	t->did = GET(qw0, 31, 16);
	t->pasid = GET(qw0, 51, 32);
	t->am = GET(qw1, 5, 0);
	t->ih = GET(qw1, 6, 6);
	t->addr = qw1 & VTD_PAGE_MASK;
	return VTD_DESC_OK;
}

static enum vtd_desc_error decode_pc(uint64_t qw0, struct vtd_desc_pc *t)
{
	unsigned int g = GET(qw0, 5, 4);

	if (g == 2)
		return VTD_DESC_ERR_GRAN;
	t->gran = (enum vtd_pc_gran)g;
	t->did = GET(qw0, 31, 16);
	t->pasid = GET(qw0, 51, 32);
	return VTD_DESC_OK;
}

static void decode_pdevtlb(uint64_t qw0, uint64_t qw1, struct vtd_desc_pdevtlb *t)
{
	t->qdep = GET(qw0, 8, 4);
	t->pfsid = get_pfsid(qw0);
	t->sid = GET(qw0, 31, 16);
	t->pasid = GET(qw0, 51, 32);
	t->global = GET(qw1, 0, 0);
	t->size = GET(qw1, 11, 11);
	t->addr = qw1 & VTD_PAGE_MASK;
}

static void decode_pgrp(const struct vtd_raw_desc *raw, bool wide, struct vtd_desc_pgrp_resp *t)
{
	uint64_t qw0 = raw->qw[0], qw1 = raw->qw[1];

	t->pasid_present = GET(qw0, 4, 4);
	t->priv_present = GET(qw0, 5, 5);
	t->rcode = GET(qw0, 15, 12);
	t->rid = GET(qw0, 31, 16);
	t->pasid = GET(qw0, 51, 32);
	t->lpig = GET(qw1, 2, 2);
	t->prgi = GET(qw1, 11, 3);
	/* A 128-bit queue has no room for private data. */
	t->priv[0] = wide ? raw->qw[2] : 0;
	t->priv[1] = wide ? raw->qw[3] : 0;
}

static bool has_reserved_bits(const struct vtd_raw_desc *raw, bool wide, unsigned int type)
{
	if ((raw->qw[0] & rsvd_qw0[type]) || (raw->qw[1] & rsvd_qw1[type]))
		return true;
	if (wide && type != VTD_DESC_PGRP_RESP)
		return raw->qw[2] || raw->qw[3];
	return false;
}

enum vtd_desc_error vtd_desc_decode(const struct vtd_raw_desc *raw, bool wide,
				    struct vtd_desc *out)
{
	unsigned int type = vtd_desc_raw_type(raw->qw[0]);
	uint64_t qw0 = raw->qw[0], qw1 = raw->qw[1];

	memset(out, 0, sizeof(*out));
	out->type = (enum vtd_desc_type)type;
	if (type < VTD_DESC_CC || type > VTD_DESC_TYPE_MAX)
		return VTD_DESC_ERR_TYPE;
	if (has_reserved_bits(raw, wide, type))
		return VTD_DESC_ERR_RESERVED;

	switch (type) {
	case VTD_DESC_CC:
		return decode_cc(qw0, &out->cc);
	case VTD_DESC_IOTLB:
		return decode_iotlb(qw0, qw1, &out->iotlb);
	case VTD_DESC_DEVTLB:
		decode_devtlb(qw0, qw1, &out->devtlb);
		break;
	case VTD_DESC_IEC:
		decode_iec(qw0, &out->iec);
		break;
	case VTD_DESC_WAIT:
		decode_wait(qw0, qw1, &out->wait);
		break;
	case VTD_DESC_PIOTLB:
		return decode_piotlb(qw0, qw1, &out->piotlb);
	case VTD_DESC_PC:
		return decode_pc(qw0, &out->pc);
	case VTD_DESC_PDEVTLB:
		decode_pdevtlb(qw0, qw1, &out->pdevtlb);
		break;
	case VTD_DESC_PGRP_RESP:
		decode_pgrp(raw, wide, &out->pgrp);
		break;
	}
	return VTD_DESC_OK;
}

static void encode_fields(const struct vtd_desc *d, uint64_t *qw)
{
	switch (d->type) {
	case VTD_DESC_CC:
		qw[0] |= PUT(d->cc.gran, 5, 4) | PUT(d->cc.did, 31, 16) |
			 PUT(d->cc.sid, 47, 32) | PUT(d->cc.fm, 49, 48);
		break;
	case VTD_DESC_IOTLB:
		qw[0] |= PUT(d->iotlb.gran, 5, 4) | PUT(d->iotlb.dw, 6, 6) |
			 PUT(d->iotlb.dr, 7, 7) | PUT(d->iotlb.did, 31, 16);
		qw[1] = (d->iotlb.addr & VTD_PAGE_MASK) | PUT(d->iotlb.ih, 6, 6) |
			PUT(d->iotlb.am, 5, 0);
		break;
	case VTD_DESC_DEVTLB:
		qw[0] |= put_pfsid(d->devtlb.pfsid) | PUT(d->devtlb.qdep, 20, 16) |
			 PUT(d->devtlb.sid, 47, 32);
		qw[1] = (d->devtlb.addr & VTD_PAGE_MASK) | PUT(d->devtlb.size, 0, 0);
		break;
	case VTD_DESC_IEC:
		qw[0] |= PUT(d->iec.selective, 4, 4) | PUT(d->iec.im, 31, 27) |
			 PUT(d->iec.iidx, 47, 32);
		break;
	case VTD_DESC_WAIT:
		qw[0] |= PUT(d->wait.intr, 4, 4) | PUT(d->wait.sw, 5, 5) |
			 PUT(d->wait.fence, 6, 6) | PUT(d->wait.drain, 7, 7) |
			 PUT(d->wait.status_data, 63, 32);
		qw[1] = d->wait.status_addr & ~3ULL;
		break;
	case VTD_DESC_PIOTLB:
		qw[0] |= PUT(d->piotlb.gran, 5, 4) | PUT(d->piotlb.did, 31, 16) |
			 PUT(d->piotlb.pasid, 51, 32);
		qw[1] = (d->piotlb.addr & VTD_PAGE_MASK) | PUT(d->piotlb.ih, 6, 6) |
			PUT(d->piotlb.am, 5, 0);
		break;
	case VTD_DESC_PC:
		qw[0] |= PUT(d->pc.gran, 5, 4) | PUT(d->pc.did, 31, 16) |
			 PUT(d->pc.pasid, 51, 32);
		break;
	case VTD_DESC_PDEVTLB:
		qw[0] |= PUT(d->pdevtlb.qdep, 8, 4) | put_pfsid(d->pdevtlb.pfsid) |
			 PUT(d->pdevtlb.sid, 31, 16) | PUT(d->pdevtlb.pasid, 51, 32);
		qw[1] = (d->pdevtlb.addr & VTD_PAGE_MASK) |
			PUT(d->pdevtlb.size, 11, 11) | PUT(d->pdevtlb.global, 0, 0);
		break;
	case VTD_DESC_PGRP_RESP:
		qw[0] |= PUT(d->pgrp.pasid_present, 4, 4) |
			 PUT(d->pgrp.priv_present, 5, 5) | PUT(d->pgrp.rcode, 15, 12) |
			 PUT(d->pgrp.rid, 31, 16) | PUT(d->pgrp.pasid, 51, 32);
		qw[1] = PUT(d->pgrp.lpig, 2, 2) | PUT(d->pgrp.prgi, 11, 3);
		qw[2] = d->pgrp.priv[0];
		qw[3] = d->pgrp.priv[1];
		break;
	}
}

void vtd_desc_encode(const struct vtd_desc *d, struct vtd_raw_desc *raw)
{
	/* Unknown types keep only their type bits, so they decode as ERR_TYPE. */
	memset(raw, 0, sizeof(*raw));
	raw->qw[0] = put_type(d->type);
	encode_fields(d, raw->qw);
}

static const char *const type_names[VTD_DESC_TYPE_MAX + 1] = {
	[VTD_DESC_CC]		= "cc_inv",
	[VTD_DESC_IOTLB]	= "iotlb_inv",
	[VTD_DESC_DEVTLB]	= "dev_tlb_inv",
	[VTD_DESC_IEC]		= "iec_inv",
	[VTD_DESC_WAIT]		= "inv_wait",
	[VTD_DESC_PIOTLB]	= "p_iotlb_inv",
	[VTD_DESC_PC]		= "pc_inv",
	[VTD_DESC_PDEVTLB]	= "p_dev_tlb_inv",
	[VTD_DESC_PGRP_RESP]	= "page_grp_resp",
};

const char *vtd_desc_type_name(unsigned int type)
{
	if (type < VTD_DESC_CC || type > VTD_DESC_TYPE_MAX)
		return "unknown";
	return type_names[type];
}

const char *vtd_desc_strerror(enum vtd_desc_error err)
{
	switch (err) {
	case VTD_DESC_OK:
		return "ok";
	case VTD_DESC_ERR_TYPE:
		return "unknown descriptor type";
	case VTD_DESC_ERR_RESERVED:
		return "reserved bit set";
	case VTD_DESC_ERR_GRAN:
		return "reserved granularity";
	}
	return "unknown error";
}

void vtd_devtlb_range(uint64_t addr, bool size, uint64_t *base, unsigned int *order)
{
	uint64_t pfn = addr >> VTD_PAGE_SHIFT;
	unsigned int ones;

	if (!size) {
		*base = addr & VTD_PAGE_MASK;
		*order = 0;
		return;
	}
	/* ~pfn is never 0: the top 12 bits of a 52-bit page number are clear. */
	ones = (unsigned int)__builtin_ctzll(~pfn);
	if (ones + 1 >= VTD_MAX_AM) {
		*base = 0;
		*order = VTD_MAX_AM;
		return;
	}
	*order = ones + 1;
	*base = addr & ~((VTD_PAGE_SIZE << *order) - 1);
}

uint64_t vtd_devtlb_encode_addr(uint64_t base, unsigned int order, bool *size)
{
	uint64_t span;

	if (order == 0) {
		*size = false;
		return base & VTD_PAGE_MASK;
	}
	*size = true;
	if (order >= VTD_MAX_AM)
		return 0x7ffffffffffff000ULL;
	span = VTD_PAGE_SIZE << order;
	/* The lowest clear bit at or above bit 12 encodes the size. */
	return (base & ~(span - 1)) | (((span >> 1) - 1) & VTD_PAGE_MASK);
}

static const char *cc_gran_name(unsigned int g)
{
	static const char *const names[] = { "rsvd", "global", "domain", "device" };

	return names[g & 3];
}

static const char *iotlb_gran_name(unsigned int g)
{
	static const char *const names[] = { "rsvd", "global", "domain", "page" };

	return names[g & 3];
}

static const char *piotlb_gran_name(unsigned int g)
{
	static const char *const names[] = { "rsvd", "rsvd", "pasid", "page" };

	return names[g & 3];
}

static const char *pc_gran_name(unsigned int g)
{
	static const char *const names[] = { "domain", "pasid", "rsvd", "global" };

	return names[g & 3];
}

int vtd_desc_format(const struct vtd_desc *d, char *buf, size_t len)
{
	const char *name = vtd_desc_type_name(d->type);
	unsigned long long a;

	switch (d->type) {
	case VTD_DESC_CC:
		return snprintf(buf, len, "%s did %u sid 0x%04x gran %s fm %u", name,
				d->cc.did, d->cc.sid, cc_gran_name(d->cc.gran), d->cc.fm);
	case VTD_DESC_IOTLB:
		a = d->iotlb.addr;
		return snprintf(buf, len, "%s did %u gran %s addr 0x%llx am %u ih %d dr %d dw %d",
				name, d->iotlb.did, iotlb_gran_name(d->iotlb.gran), a,
				d->iotlb.am, d->iotlb.ih, d->iotlb.dr, d->iotlb.dw);
	case VTD_DESC_DEVTLB:
		a = d->devtlb.addr;
		return snprintf(buf, len, "%s sid 0x%04x pfsid 0x%04x qdep %u addr 0x%llx s %d",
				name, d->devtlb.sid, d->devtlb.pfsid, d->devtlb.qdep, a,
				d->devtlb.size);
	case VTD_DESC_IEC:
		return snprintf(buf, len, "%s gran %s iidx %u im %u", name,
				d->iec.selective ? "index" : "global", d->iec.iidx, d->iec.im);
	case VTD_DESC_WAIT:
		a = d->wait.status_addr;
		return snprintf(buf, len, "%s if %d sw %d fn %d pd %d data 0x%x addr 0x%llx",
				name, d->wait.intr, d->wait.sw, d->wait.fence, d->wait.drain,
				d->wait.status_data, a);
	case VTD_DESC_PIOTLB:
		a = d->piotlb.addr;
		return snprintf(buf, len, "%s did %u pasid %u gran %s addr 0x%llx am %u ih %d",
				name, d->piotlb.did, d->piotlb.pasid,
				piotlb_gran_name(d->piotlb.gran), a, d->piotlb.am, d->piotlb.ih);
	case VTD_DESC_PC:
		return snprintf(buf, len, "%s did %u pasid %u gran %s", name, d->pc.did,
				d->pc.pasid, pc_gran_name(d->pc.gran));
	case VTD_DESC_PDEVTLB:
		a = d->pdevtlb.addr;
		return snprintf(buf, len,
				"%s sid 0x%04x pfsid 0x%04x qdep %u pasid %u addr 0x%llx s %d g %d",
				name, d->pdevtlb.sid, d->pdevtlb.pfsid, d->pdevtlb.qdep,
				d->pdevtlb.pasid, a, d->pdevtlb.size, d->pdevtlb.global);
	case VTD_DESC_PGRP_RESP:
		return snprintf(buf, len,
				"%s rid 0x%04x pasid %u pasid_p %d prgi %u lpig %d rc %u priv_p %d priv 0x%llx 0x%llx",
				name, d->pgrp.rid, d->pgrp.pasid, d->pgrp.pasid_present,
				d->pgrp.prgi, d->pgrp.lpig, d->pgrp.rcode, d->pgrp.priv_present,
				(unsigned long long)d->pgrp.priv[0],
				(unsigned long long)d->pgrp.priv[1]);
	}
	return snprintf(buf, len, "unknown type %u", (unsigned int)d->type);
}

/* Field-by-field comparison: the union may hold stale padding. */
bool vtd_desc_equal(const struct vtd_desc *a, const struct vtd_desc *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case VTD_DESC_CC:
		return a->cc.gran == b->cc.gran && a->cc.did == b->cc.did &&
		       a->cc.sid == b->cc.sid && a->cc.fm == b->cc.fm;
	case VTD_DESC_IOTLB:
		return a->iotlb.gran == b->iotlb.gran && a->iotlb.dr == b->iotlb.dr &&
		       a->iotlb.dw == b->iotlb.dw && a->iotlb.did == b->iotlb.did &&
		       a->iotlb.addr == b->iotlb.addr && a->iotlb.am == b->iotlb.am &&
		       a->iotlb.ih == b->iotlb.ih;
	case VTD_DESC_DEVTLB:
		return a->devtlb.sid == b->devtlb.sid && a->devtlb.pfsid == b->devtlb.pfsid &&
		       a->devtlb.qdep == b->devtlb.qdep && a->devtlb.addr == b->devtlb.addr &&
		       a->devtlb.size == b->devtlb.size;
	case VTD_DESC_IEC:
		return a->iec.selective == b->iec.selective && a->iec.im == b->iec.im &&
		       a->iec.iidx == b->iec.iidx;
	case VTD_DESC_WAIT:
		return a->wait.intr == b->wait.intr && a->wait.sw == b->wait.sw &&
		       a->wait.fence == b->wait.fence && a->wait.drain == b->wait.drain &&
		       a->wait.status_data == b->wait.status_data &&
		       a->wait.status_addr == b->wait.status_addr;
	case VTD_DESC_PIOTLB:
		return a->piotlb.gran == b->piotlb.gran && a->piotlb.did == b->piotlb.did &&
		       a->piotlb.pasid == b->piotlb.pasid && a->piotlb.addr == b->piotlb.addr &&
		       a->piotlb.am == b->piotlb.am && a->piotlb.ih == b->piotlb.ih;
	case VTD_DESC_PC:
		return a->pc.gran == b->pc.gran && a->pc.did == b->pc.did &&
		       a->pc.pasid == b->pc.pasid;
	case VTD_DESC_PDEVTLB:
		return a->pdevtlb.sid == b->pdevtlb.sid && a->pdevtlb.pfsid == b->pdevtlb.pfsid &&
		       a->pdevtlb.qdep == b->pdevtlb.qdep && a->pdevtlb.pasid == b->pdevtlb.pasid &&
		       a->pdevtlb.addr == b->pdevtlb.addr && a->pdevtlb.size == b->pdevtlb.size &&
		       a->pdevtlb.global == b->pdevtlb.global;
	case VTD_DESC_PGRP_RESP:
		return a->pgrp.pasid_present == b->pgrp.pasid_present &&
		       a->pgrp.priv_present == b->pgrp.priv_present &&
		       a->pgrp.rcode == b->pgrp.rcode && a->pgrp.rid == b->pgrp.rid &&
		       a->pgrp.pasid == b->pgrp.pasid && a->pgrp.prgi == b->pgrp.prgi &&
		       a->pgrp.lpig == b->pgrp.lpig && a->pgrp.priv[0] == b->pgrp.priv[0] &&
		       a->pgrp.priv[1] == b->pgrp.priv[1];
	}
	return true;
}
