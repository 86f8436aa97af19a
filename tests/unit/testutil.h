/* SPDX-License-Identifier: MIT */
/* Shared fixtures for the hostvtd unit tests: host units, devices, descriptors. */
#ifndef TAGVMM_TESTS_TESTUTIL_H
#define TAGVMM_TESTS_TESTUTIL_H

#include <stdio.h>
#include <string.h>

#include "hostvtd/host.h"
#include "hostvtd/tagstore.h"
#include "vtd/desc.h"
#include "vtd/regs.h"

/* A unit with PSI and the given MAMV; no back end (planner-only tests). */
static inline void test_unit(struct host_unit *u, unsigned int index, unsigned int mamv)
{
	memset(u, 0, sizeof(*u));
	u->index = index;
	snprintf(u->name, sizeof(u->name), "dmar%u", index);
	u->cap = VTD_CAP_PSI | (uint64_t)mamv << VTD_CAP_MAMV_SHIFT;
}

static inline void test_device(struct host_device *d, uint16_t sid, struct host_unit *u, bool ats)
{
	memset(d, 0, sizeof(*d));
	host_device_name(sid, d->name);
	d->sid = sid;
	d->unit = u;
	d->ats = ats;
}

static inline struct tag_attach test_attach(struct host_device *d, uint16_t did, uint32_t pasid,
					    bool nested)
{
	struct tag_attach a = {
		.dev = d, .guest_sid = d->sid, .host_did = did, .host_pasid = pasid, .nested = nested,
	};
	return a;
}

static inline struct guest_domain_key test_key(uint16_t did, uint32_t pasid)
{
	struct guest_domain_key k = { 0, did, pasid };
	return k;
}

static inline struct vtd_desc piotlb_page(uint16_t did, uint32_t pasid, uint64_t addr,
					  unsigned int am, bool ih)
{
	struct vtd_desc d = { .type = VTD_DESC_PIOTLB };

	d.piotlb.gran = VTD_PIOTLB_PAGE;
	d.piotlb.did = did;
	d.piotlb.pasid = pasid;
	d.piotlb.addr = addr;
	d.piotlb.am = (uint8_t)am;
	d.piotlb.ih = ih;
	return d;
}

static inline struct vtd_desc piotlb_all(uint16_t did, uint32_t pasid)
{
	struct vtd_desc d = { .type = VTD_DESC_PIOTLB };

	d.piotlb.gran = VTD_PIOTLB_PASID;
	d.piotlb.did = did;
	d.piotlb.pasid = pasid;
	return d;
}

static inline struct vtd_desc iotlb_desc(enum vtd_iotlb_gran gran, uint16_t did, uint64_t addr,
					 unsigned int am)
{
	struct vtd_desc d = { .type = VTD_DESC_IOTLB };

	d.iotlb.gran = gran;
	d.iotlb.did = did;
	d.iotlb.addr = addr;
	d.iotlb.am = (uint8_t)am;
	return d;
}

static inline struct vtd_desc pdevtlb_desc(uint16_t sid, uint32_t pasid, uint64_t base,
					   unsigned int order)
{
	struct vtd_desc d = { .type = VTD_DESC_PDEVTLB };

	d.pdevtlb.sid = sid;
	d.pdevtlb.pasid = pasid;
	d.pdevtlb.addr = vtd_devtlb_encode_addr(base, order, &d.pdevtlb.size);
	return d;
}

static inline struct vtd_desc devtlb_desc(uint16_t sid, uint64_t base, unsigned int order)
{
	struct vtd_desc d = { .type = VTD_DESC_DEVTLB };

	d.devtlb.sid = sid;
	d.devtlb.addr = vtd_devtlb_encode_addr(base, order, &d.devtlb.size);
	return d;
}

#endif
