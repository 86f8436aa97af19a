// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the descriptor codec. Input: one flag byte (bit 0:
 * 256-bit form) and up to 32 bytes of descriptor, little-endian qwords.
 *
 * Whatever decodes must re-encode to the identical raw descriptor (a valid
 * descriptor has no reserved bit set, so nothing may be lost), and decoding
 * that again must give the same fields.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vtd/desc.h"
#include "vtd/regs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_fields(const struct vtd_desc *a, const struct vtd_desc *b)
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
	return false;
}

static void load_raw(const uint8_t *bytes, size_t n, struct vtd_raw_desc *raw)
{
	uint8_t buf[sizeof(raw->qw)] = { 0 };

	memcpy(buf, bytes, n < sizeof(buf) ? n : sizeof(buf));
	for (unsigned int q = 0; q < 4; q++) {
		raw->qw[q] = 0;
		for (unsigned int b = 0; b < 8; b++)
			raw->qw[q] |= (uint64_t)buf[q * 8 + b] << (8 * b);
	}
}

/* The range helpers must invert each other on whatever address we got. */
static void check_devtlb_range(uint64_t addr, bool size)
{
	uint64_t base, base2, again;
	unsigned int order, order2;
	bool size2;

	vtd_devtlb_range(addr, size, &base, &order);
	if (order > VTD_MAX_AM)
		abort();
	again = vtd_devtlb_encode_addr(base, order, &size2);
	vtd_devtlb_range(again, size2, &base2, &order2);
	if (base2 != base || order2 != order)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vtd_raw_desc raw, again;
	struct vtd_desc d, d2;
	enum vtd_desc_error err;
	unsigned int nqw;
	bool wide;
	char text[64];

	if (size < 1)
		return 0;
	wide = data[0] & 1;
	load_raw(data + 1, size - 1, &raw);

	err = vtd_desc_decode(&raw, wide, &d);
	if (d.type != vtd_desc_raw_type(raw.qw[0]))
		abort();
	vtd_desc_format(&d, text, sizeof(text));
	if (strlen(vtd_desc_strerror(err)) == 0)
		abort();
	if (err != VTD_DESC_OK)
		return 0;

	vtd_desc_encode(&d, &again);
	nqw = wide ? 4 : 2;
	if (memcmp(raw.qw, again.qw, nqw * sizeof(raw.qw[0])) != 0)
		abort();
	if (vtd_desc_decode(&again, wide, &d2) != VTD_DESC_OK || !same_fields(&d, &d2))
		abort();

	if (d.type == VTD_DESC_DEVTLB)
		check_devtlb_range(d.devtlb.addr, d.devtlb.size);
	else if (d.type == VTD_DESC_PDEVTLB)
		check_devtlb_range(d.pdevtlb.addr, d.pdevtlb.size);
	return 0;
}
