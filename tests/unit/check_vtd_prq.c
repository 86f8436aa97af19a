// SPDX-License-Identifier: MIT
/*
 * Page requests of the emulated VT-d unit (viommu/prq.c): the request a
 * device makes, written into the guest's page request queue with the
 * event interrupt; overflow; the context entry's PRE; hostile queue
 * registers; and the guest's page group responses going back to the
 * device that asked, after the invalidations queued before them.
 */
#include <check.h>

#include "check_main.h"
#include "viommu/viommu-priv.h"
#include "vtd_testutil.h"

#define REG(off)	(MACHINE_VTD_BASE + (off))
#define QBASE		0x100000ULL
#define STATUS		0x200000ULL
#define ROOT		0x300000ULL
#define TABLES		0x400000ULL
#define PQ		0x500000ULL	/* PQS 0: 128 slots of 32 bytes */
#define GUEST_SID	0x0008
#define HOST_SID	0x0300
#define DID		5
#define PASID		9
#define PE_ADDR		0xfee01000u
#define PE_DATA		0x4041u
#define SCE_P		1ULL
#define SCE_PRE		(1ULL << 4)

static struct vm vm;
static struct vtd_test_host host;
static struct vtd_test_tables tables;
static struct viommu unit;
static struct viommu_dev dev;
static unsigned int nmsi;
static uint64_t msi_addr;
static uint32_t msi_data;
static struct vtd_desc_pgrp_resp responses[8];
static unsigned int nresponses;
static uint64_t host_flushes_at_response;

static int record_msi(struct vm *v, uint64_t address, uint32_t data)
{
	(void)v;
	nmsi++;
	msi_addr = address;
	msi_data = data;
	return 0;
}

static uint64_t host_iotlb_invalidations(void)
{
	struct flush_stats st;

	flush_engine_stats(host.fe, &st);
	return st.host_invalidations;
}

static void record_response(void *opaque, const struct vtd_desc_pgrp_resp *r)
{
	ck_assert_ptr_eq(opaque, &dev);
	if (nresponses < 8)
		responses[nresponses] = *r;
	nresponses++;
	host_flushes_at_response = host_iotlb_invalidations();
}

static uint64_t rd(unsigned int off, unsigned int len)
{
	return vtd_test_mmio_read(&vm, REG(off), len);
}

static void wr(unsigned int off, uint64_t val, unsigned int len)
{
	vtd_test_mmio_write(&vm, REG(off), val, len);
}

/* Scalable mode, translation on, the device's context entry with @ce0; the queue set up as Linux does. */
static void setup_unit(uint64_t ce0)
{
	vtd_test_sm_ctx(&tables, ROOT, GUEST_SID, ce0, 0);
	wr(VTD_REG_RTADDR, ROOT | 1ULL << VTD_RTADDR_TTM_SHIFT, 8);
	wr(VTD_REG_GCMD, VTD_GCMD_SRTP, 4);
	wr(VTD_REG_GCMD, VTD_GCMD_TE, 4);
	wr(VTD_REG_PQH, 0, 8);
	wr(VTD_REG_PQT, 0, 8);
	wr(VTD_REG_PQA, PQ, 8);
	wr(VTD_REG_PEDATA, PE_DATA, 4);
	wr(VTD_REG_PEADDR, PE_ADDR, 4);
	wr(VTD_REG_PEUADDR, 0, 4);
	wr(VTD_REG_PECTL, 0, 4);	/* unmasked */
}

static void setup(void)
{
	char err[128];

	vtd_test_vm_init(&vm, VTD_TEST_RAM_SIZE);
	vtd_test_host_init(&host, 1);
	ck_assert_int_eq(viommu_unit_init(&unit, &vm, 0, false, err, sizeof(err)), 0);
	unit.ts = host.ts;
	unit.fe = host.fe;
	unit.signal_msi = record_msi;
	nmsi = 0;
	nresponses = 0;
	memset(&dev, 0, sizeof(dev));
	dev.unit = &unit;
	dev.guest_sid = GUEST_SID;
	dev.page_response = record_response;
	dev.page_response_opaque = &dev;
	vtd_test_host_device(&host, &dev.host, 0, HOST_SID, true);
	unit.devs[unit.ndevs++] = &dev;
	vtd_test_attach(&host, &dev.host, GUEST_SID, 0, DID, 0, DID, false);
	tables.vm = &vm;
	tables.next = TABLES;
}

static void teardown(void)
{
	viommu_unit_exit(&unit);
	vtd_test_host_free(&host);
	vtd_test_vm_free(&vm);
}

static struct vtd_page_req req(uint64_t addr, uint16_t prgi, bool lpig)
{
	struct vtd_page_req r = {
		.rid = GUEST_SID, .has_pasid = true, .pasid = PASID, .addr = addr | 0xabc,
		.read = true, .write = true, .lpig = lpig, .prgi = prgi,
	};
	return r;
}

START_TEST(request_written_with_event)
{
	struct vtd_page_req r = req(0x7f0000123000ULL, 0x1a5, true);
	uint64_t qw0, qw1;

	setup_unit(SCE_P | SCE_PRE);
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_QUEUED);
	qw0 = vtd_test_read64(&vm, PQ);
	qw1 = vtd_test_read64(&vm, PQ + 8);
	ck_assert_uint_eq(qw0 & 0xff, 1);				/* type */
	ck_assert_uint_eq((qw0 >> 8) & 1, 1);				/* PASID present */
	ck_assert_uint_eq((qw0 >> 16) & 0xffff, GUEST_SID);
	ck_assert_uint_eq((qw0 >> 32) & 0xfffff, PASID);
	ck_assert_uint_eq(qw1 & 7, 1 | 2 | 4);				/* R, W, LPIG */
	ck_assert_uint_eq((qw1 >> 3) & 0x1ff, 0x1a5);
	ck_assert_uint_eq(qw1 & ~0xfffULL, 0x7f0000123000ULL);
	ck_assert_uint_eq(rd(VTD_REG_PQT, 8), 32);
	ck_assert_uint_eq(rd(VTD_REG_PRS, 4), 1);			/* PPR */
	ck_assert_uint_eq(nmsi, 1);
	ck_assert_uint_eq(msi_addr, PE_ADDR);
	ck_assert_uint_eq(msi_data, PE_DATA);

	/* PPR still set: no second interrupt. */
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_QUEUED);
	ck_assert_uint_eq(rd(VTD_REG_PQT, 8), 64);
	ck_assert_uint_eq(nmsi, 1);
	/* Serviced (PPR cleared): the next one interrupts again. */
	wr(VTD_REG_PRS, 1, 4);
	wr(VTD_REG_PQH, 64, 8);
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_QUEUED);
	ck_assert_uint_eq(nmsi, 2);
	/* Masked: pending in IP, delivered on unmask. */
	wr(VTD_REG_PRS, 1, 4);
	wr(VTD_REG_PECTL, VTD_ECTL_IM, 4);
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_QUEUED);
	ck_assert_uint_eq(nmsi, 2);
	ck_assert(rd(VTD_REG_PECTL, 4) & VTD_ECTL_IP);
	wr(VTD_REG_PECTL, 0, 4);
	ck_assert_uint_eq(nmsi, 3);
	ck_assert(!(rd(VTD_REG_PECTL, 4) & VTD_ECTL_IP));
}
END_TEST

START_TEST(request_refused)
{
	struct vtd_page_req r = req(0x1000, 1, true);

	/* PRE clear in the context entry. */
	setup_unit(SCE_P);
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_REFUSED);
	/* No PASID. */
	setup_unit(SCE_P | SCE_PRE);
	r.has_pasid = false;
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_REFUSED);
	/* A unit without PRS. */
	r.has_pasid = true;
	unit.ecap &= ~VTD_ECAP_PRS;
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_REFUSED);
	ck_assert_uint_eq(rd(VTD_REG_PQA, 8), 0);	/* its registers are reserved */
	unit.ecap |= VTD_ECAP_PRS;
	/* Translation off. */
	wr(VTD_REG_GCMD, 0, 4);
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_REFUSED);
	ck_assert_uint_eq(rd(VTD_REG_PQT, 8), 0);
	ck_assert_uint_eq(nmsi, 0);
}
END_TEST

/* 128 slots hold 127 requests; the next sets PRO; nothing more until PRO is cleared. */
START_TEST(overflow_sets_pro_and_drops)
{
	struct vtd_page_req r = req(0x2000, 2, false);

	setup_unit(SCE_P | SCE_PRE);
	for (int i = 0; i < 127; i++)
		ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_QUEUED);
	ck_assert_uint_eq(rd(VTD_REG_PQT, 8), 127 * 32);
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_DROPPED);
	ck_assert_uint_eq(rd(VTD_REG_PRS, 4), 3);	/* PPR | PRO */
	ck_assert_uint_eq(nmsi, 1);			/* PPR was pending already */
	/* The guest drained the queue but left PRO set: still dropped. */
	wr(VTD_REG_PQH, 127 * 32, 8);
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_DROPPED);
	wr(VTD_REG_PRS, 3, 4);
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_QUEUED);
	ck_assert_uint_eq(rd(VTD_REG_PQT, 8), 0);	/* wrapped */
	ck_assert_uint_eq(unit.page_requests, 128);
	ck_assert_uint_eq(unit.page_requests_dropped, 2);
}
END_TEST

/* Hostile queue registers: a tail or head outside the queue, a queue outside RAM. */
START_TEST(hostile_queue_registers)
{
	struct vtd_page_req r = req(0x3000, 3, true);

	setup_unit(SCE_P | SCE_PRE);
	wr(VTD_REG_PQT, 0xffffffffffffffffULL, 8);
	ck_assert_uint_eq(rd(VTD_REG_PQT, 8), 0x7ffe0);		/* bits 18:5 only */
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_DROPPED);
	ck_assert(rd(VTD_REG_PRS, 4) & 2);
	wr(VTD_REG_PRS, 3, 4);
	wr(VTD_REG_PQT, 0, 8);
	wr(VTD_REG_PQH, 0x1000, 8);				/* beyond the 4 KiB queue */
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_DROPPED);
	wr(VTD_REG_PRS, 3, 4);
	wr(VTD_REG_PQH, 0, 8);
	wr(VTD_REG_PQA, VTD_TEST_RAM_SIZE + 0x1000, 8);		/* outside guest RAM */
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_DROPPED);
	wr(VTD_REG_PRS, 3, 4);
	wr(VTD_REG_PQA, 0xfffffffffffff007ULL, 8);		/* the top of the address space, PQS 7 */
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_DROPPED);
	/* 32-bit halves of the 64-bit registers. */
	wr(VTD_REG_PRS, 3, 4);
	wr(VTD_REG_PQA, PQ >> 32, 4);
	wr(VTD_REG_PQA + 4, 0, 4);
	wr(VTD_REG_PQA, PQ | 1, 4);
	ck_assert_uint_eq(rd(VTD_REG_PQA, 8), PQ | 1);
	ck_assert_int_eq(vtd_page_request(&unit, &r), VTD_PRQ_QUEUED);
}
END_TEST

/* A page group response goes to the device with its RID, after what was queued before it. */
START_TEST(response_routed_after_earlier_invalidations)
{
	struct vtd_desc inv = { .type = VTD_DESC_IOTLB }, resp = { .type = VTD_DESC_PGRP_RESP };
	struct vtd_desc other, w = { .type = VTD_DESC_WAIT };

	setup_unit(SCE_P | SCE_PRE);
	inv.iotlb.gran = VTD_IOTLB_DOMAIN;
	inv.iotlb.did = DID;
	resp.pgrp.rid = GUEST_SID;
	resp.pgrp.pasid_present = true;
	resp.pgrp.pasid = PASID;
	resp.pgrp.prgi = 0x1a5;
	resp.pgrp.lpig = true;
	resp.pgrp.rcode = 1;	/* Invalid Request */
	other = resp;
	other.pgrp.rid = 0x0010;	/* nobody's */
	w.wait.sw = true;
	w.wait.status_addr = STATUS;
	w.wait.status_data = 7;
	wr(VTD_REG_IQA, QBASE | VTD_IQA_DW, 8);
	wr(VTD_REG_GCMD, VTD_GCMD_TE | VTD_GCMD_QIE, 4);
	vtd_test_put_desc(&vm, QBASE, &inv, true);
	vtd_test_put_desc(&vm, QBASE + 32, &resp, true);
	vtd_test_put_desc(&vm, QBASE + 64, &other, true);
	vtd_test_put_desc(&vm, QBASE + 96, &w, true);
	wr(VTD_REG_IQT, 128, 8);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 7);
	ck_assert(!(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE));
	ck_assert_uint_eq(nresponses, 1);
	ck_assert_uint_eq(responses[0].rid, GUEST_SID);
	ck_assert_uint_eq(responses[0].pasid, PASID);
	ck_assert_uint_eq(responses[0].prgi, 0x1a5);
	ck_assert_uint_eq(responses[0].rcode, 1);
	ck_assert(responses[0].lpig);
	ck_assert_uint_eq(host_flushes_at_response, 1);	/* the IOTLB flush went first */
	ck_assert_uint_eq(unit.page_responses, 1);
	ck_assert_uint_eq(unit.page_responses_unrouted, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vtd_prq");
	TCase *tc = tcase_create("prq");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, request_written_with_event);
	tcase_add_test(tc, request_refused);
	tcase_add_test(tc, overflow_sets_pro_and_drops);
	tcase_add_test(tc, hostile_queue_registers);
	tcase_add_test(tc, response_routed_after_earlier_invalidations);
	suite_add_tcase(s, tc);
	return check_run(s);
}
