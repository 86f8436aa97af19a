// SPDX-License-Identifier: MIT
/*
 * Hostile register and queue input to the emulated VT-d unit, driven
 * through the MMIO bus as a vCPU would (docs/viommu.md, the fault table):
 * the cases check_vtd_unit did not cover, among them the two the table
 * documented untested (128-bit descriptors in scalable mode, page-group
 * responses). One unit, one device attached to guest DID 5 (host DID 5),
 * a simulated host behind it.
 */
#include <check.h>

#include "check_main.h"
#include "viommu/viommu-priv.h"
#include "vtd_testutil.h"

#define REG(off)	(MACHINE_VTD_BASE + (off))
#define QBASE		0x100000ULL
#define STATUS		0x200000ULL
#define ROOT		0x300000ULL
#define GUEST_SID	0x0008
#define HOST_SID	0x0300
#define DID		5

static struct vm vm;
static struct vtd_test_host host;
static struct viommu unit;
static struct viommu_dev dev;

static void setup(void)
{
	char err[128];

	vtd_test_vm_init(&vm, VTD_TEST_RAM_SIZE);
	vtd_test_host_init(&host, 1);
	ck_assert_int_eq(viommu_unit_init(&unit, &vm, 0, false, err, sizeof(err)), 0);
	unit.ts = host.ts;
	unit.fe = host.fe;
	memset(&dev, 0, sizeof(dev));
	dev.unit = &unit;
	dev.guest_sid = GUEST_SID;
	vtd_test_host_device(&host, &dev.host, 0, HOST_SID, true);
	unit.devs[unit.ndevs++] = &dev;
	vtd_test_attach(&host, &dev.host, GUEST_SID, 0, DID, 0, DID, false);
}

static void teardown(void)
{
	viommu_unit_exit(&unit);
	vtd_test_host_free(&host);
	vtd_test_vm_free(&vm);
}

static uint64_t rd(unsigned int off, unsigned int len)
{
	return vtd_test_mmio_read(&vm, REG(off), len);
}

static void wr(unsigned int off, uint64_t val, unsigned int len)
{
	vtd_test_mmio_write(&vm, REG(off), val, len);
}

static unsigned int iqei(void)
{
	return (unsigned int)(rd(VTD_REG_IQER, 8) & 0xf);
}

/* Scalable root latched; a queue of 128-bit (@wide false) or 256-bit descriptors; QI on. */
static void scalable_qi(bool wide)
{
	wr(VTD_REG_RTADDR, ROOT | 1ULL << VTD_RTADDR_TTM_SHIFT, 8);
	wr(VTD_REG_GCMD, VTD_GCMD_SRTP, 4);
	wr(VTD_REG_IQA, QBASE | (wide ? VTD_IQA_DW : 0), 8);
	wr(VTD_REG_GCMD, VTD_GCMD_QIE, 4);
	ck_assert(rd(VTD_REG_GSTS, 4) & VTD_GCMD_QIE);
}

static struct vtd_desc iotlb_dsi(void)
{
	struct vtd_desc d = { .type = VTD_DESC_IOTLB };

	d.iotlb.gran = VTD_IOTLB_DOMAIN;
	d.iotlb.did = DID;
	return d;
}

static struct vtd_desc wait_sw(uint32_t data)
{
	struct vtd_desc d = { .type = VTD_DESC_WAIT };

	d.wait.sw = true;
	d.wait.status_addr = STATUS;
	d.wait.status_data = data;
	return d;
}

static uint64_t host_iotlb_invalidations(void)
{
	struct flush_stats s;

	flush_engine_stats(host.fe, &s);
	return s.host_invalidations;
}

/* Scalable mode needs 256-bit descriptors: a 128-bit queue is refused at its first one. */
START_TEST(narrow_descriptors_in_scalable_mode)
{
	struct vtd_desc d = iotlb_dsi(), w = wait_sw(1);

	scalable_qi(false);
	vtd_test_put_desc(&vm, QBASE, &d, false);
	vtd_test_put_desc(&vm, QBASE + 16, &w, false);
	wr(VTD_REG_IQT, 32, 8);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(iqei(), VTD_IQEI_TYPE);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 0);		/* on the refused descriptor */
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0);	/* nothing after it ran */
	ck_assert_uint_eq(host_iotlb_invalidations(), 0);
	/* Clearing IQE re-fetches it: refused again, the queue never runs past it. */
	wr(VTD_REG_FSTS, VTD_FSTS_IQE, 4);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 0);
}
END_TEST

/*
 * A unit without ECAP.PRS (behind --vfio, page requests need iommufd fault
 * forwarding): a page-group response is refused (IQEI 3), after what came
 * before it was flushed and its wait completed.
 */
START_TEST(page_group_response_refused)
{
	struct vtd_desc d = iotlb_dsi(), w = wait_sw(7), pg = { .type = VTD_DESC_PGRP_RESP };

	unit.ecap &= ~VTD_ECAP_PRS;
	pg.pgrp.rcode = 1;
	scalable_qi(true);
	vtd_test_put_desc(&vm, QBASE, &d, true);
	vtd_test_put_desc(&vm, QBASE + 32, &w, true);
	vtd_test_put_desc(&vm, QBASE + 64, &pg, true);
	wr(VTD_REG_IQT, 96, 8);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 7);
	ck_assert_uint_eq(host_iotlb_invalidations(), 1);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(iqei(), VTD_IQEI_TYPE);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 64);
}
END_TEST

/*
 * A wait whose status address is not 4-aligned: bits 1:0 of its second
 * quadword are reserved (the address is bits 63:2), so the descriptor is
 * refused, IQE with IQEI 4, IQH on it, and nothing in guest RAM changes.
 */
START_TEST(wait_status_address_misaligned)
{
	struct vtd_desc w = wait_sw(0x1234);
	uint8_t *qw1 = vtd_test_gpa(&vm, QBASE + 8, 8);

	scalable_qi(true);
	vtd_test_write64(&vm, STATUS, 0x5555555555555555ULL);
	vtd_test_put_desc(&vm, QBASE, &w, true);
	qw1[0] |= 2;		/* status address STATUS + 2 */
	wr(VTD_REG_IQT, 32, 8);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(iqei(), VTD_IQEI_RSVD);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 0);
	ck_assert_uint_eq(vtd_test_read64(&vm, STATUS), 0x5555555555555555ULL);
}
END_TEST

/* TTM 2 (abort DMA, no ECAP.ADMS) and 3 are reserved: the RTADDR write is ignored. */
START_TEST(reserved_ttm_ignored)
{
	wr(VTD_REG_RTADDR, ROOT | 1ULL << VTD_RTADDR_TTM_SHIFT, 8);
	wr(VTD_REG_RTADDR, (ROOT + 0x1000) | 2ULL << VTD_RTADDR_TTM_SHIFT, 8);
	ck_assert_uint_eq(rd(VTD_REG_RTADDR, 8), ROOT | 1ULL << VTD_RTADDR_TTM_SHIFT);
	wr(VTD_REG_RTADDR, (ROOT + 0x2000) | 3ULL << VTD_RTADDR_TTM_SHIFT, 8);
	ck_assert_uint_eq(rd(VTD_REG_RTADDR, 8), ROOT | 1ULL << VTD_RTADDR_TTM_SHIFT);
}
END_TEST

/* Moving or resizing a live queue would strand IQH: IQA writes with QI on are ignored. */
START_TEST(iqa_write_while_qi_on_ignored)
{
	scalable_qi(true);
	wr(VTD_REG_IQA, 0x500000 | VTD_IQA_DW | 3, 8);
	ck_assert_uint_eq(rd(VTD_REG_IQA, 8), QBASE | VTD_IQA_DW);
}
END_TEST

/*
 * Accesses that straddle registers or the end of the unit's window, and
 * write-1-to-clear of FSTS bits that are not: ignored, nothing changes.
 */
START_TEST(straddling_accesses_and_fsts_w1c)
{
	uint64_t before = unit.ignored_accesses;
	uint8_t data[8];

	/* 8 bytes at 0xffc: half of them beyond the window; the bus hands it over or refuses it. */
	memset(data, 0xff, sizeof(data));
	if (bus_dispatch(&vm.mmio, REG(0xffc), data, 8, false))
		ck_assert_uint_eq(data[0] | data[1] | data[2] | data[3], 0);
	memset(data, 0xff, sizeof(data));
	(void)bus_dispatch(&vm.mmio, REG(0xffc), data, 8, true);
	/* 8 bytes at GSTS (4-aligned only) and a 4-byte write across IQT's halves. */
	wr(VTD_REG_GSTS, ~0ULL, 8);
	wr(VTD_REG_IQT + 2, ~0ULL, 4);
	ck_assert_uint_eq(rd(VTD_REG_IQT, 8), 0);
	ck_assert_uint_eq(rd(VTD_REG_GSTS, 4), 0);
	ck_assert_uint_ge(unit.ignored_accesses - before, 2);

	/* A fault pending: PPF and FRI are not write-1-to-clear; F in its FRCD is. */
	struct vtd_fault f = { .sid = GUEST_SID, .reason = VTD_FR_CTX_NOT_PRESENT, .addr = 0x1000 };

	pthread_mutex_lock(&unit.lock);
	vtd_record_fault(&unit, &f);
	pthread_mutex_unlock(&unit.lock);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_PPF);
	wr(VTD_REG_FSTS, ~0u, 4);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_PPF);
	wr(VTD_FRCD_OFFSET + 12, 1u << 31, 4);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4) & VTD_FSTS_PPF, 0);
}
END_TEST

static Suite *vtd_hostile_suite(void)
{
	Suite *s = suite_create("vtd_hostile");
	TCase *tc = tcase_create("hostile");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, narrow_descriptors_in_scalable_mode);
	tcase_add_test(tc, page_group_response_refused);
	tcase_add_test(tc, wait_status_address_misaligned);
	tcase_add_test(tc, reserved_ttm_ignored);
	tcase_add_test(tc, iqa_write_while_qi_on_ignored);
	tcase_add_test(tc, straddling_accesses_and_fsts_w1c);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(vtd_hostile_suite());
}
