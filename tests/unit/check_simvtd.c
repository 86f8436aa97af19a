// SPDX-License-Identifier: MIT
/*
 * The simulated host VT-d: register and queue semantics driven the way a
 * driver would, the cache models, and the back end with fault injection.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "hostvtd/plan.h"
#include "hostvtd/simvtd.h"
#include "vtd/desc.h"
#include "vtd/regs.h"

#define DSZ 32		/* the default units use 256-bit descriptors */
#define MB (1ULL << 20)
#define KB4 4096ULL

static struct simvtd *sim_make(unsigned int units, unsigned int order)
{
	struct simvtd_config cfg = { .units = units, .queue_order = order };
	struct simvtd *sim = simvtd_new(&cfg);

	ck_assert_ptr_nonnull(sim);
	return sim;
}

static uint64_t reg(struct simvtd *sim, unsigned int off)
{
	return simvtd_reg_read(sim, 0, off);
}

static size_t slots(struct simvtd *sim, unsigned int unit)
{
	return (KB4 << VTD_IQA_QS(simvtd_reg_read(sim, unit, VTD_REG_IQA))) / DSZ;
}

static void put_slot(struct simvtd *sim, unsigned int unit, size_t slot, const struct vtd_desc *d)
{
	uint64_t base = simvtd_reg_read(sim, unit, VTD_REG_IQA) & VTD_IQA_ADDR_MASK;
	struct vtd_raw_desc raw;
	void *p = simvtd_mem(sim, base + slot * DSZ, DSZ);

	ck_assert_ptr_nonnull(p);
	vtd_desc_encode(d, &raw);
	memcpy(p, raw.qw, DSZ);
}

/* Queue @n descriptors at the tail and ring the doorbell once. */
static void push(struct simvtd *sim, unsigned int unit, const struct vtd_desc *d, size_t n)
{
	size_t tail = simvtd_reg_read(sim, unit, VTD_REG_IQT) / DSZ, q = slots(sim, unit), i;

	for (i = 0; i < n; i++)
		put_slot(sim, unit, (tail + i) % q, &d[i]);
	simvtd_reg_write(sim, unit, VTD_REG_IQT, ((tail + n) % q) * DSZ);
}

static struct vtd_desc iotlb(enum vtd_iotlb_gran g, uint16_t did, uint64_t addr, uint8_t am)
{
	return (struct vtd_desc){ .type = VTD_DESC_IOTLB,
				  .iotlb = { .gran = g, .did = did, .addr = addr, .am = am } };
}

static struct vtd_desc piotlb(enum vtd_piotlb_gran g, uint16_t did, uint32_t pasid,
			      uint64_t addr, uint8_t am)
{
	return (struct vtd_desc){ .type = VTD_DESC_PIOTLB,
				  .piotlb = { .gran = g, .did = did, .pasid = pasid,
					      .addr = addr, .am = am } };
}

static struct vtd_desc devtlb(uint16_t sid, uint64_t base, unsigned int order)
{
	struct vtd_desc d = { .type = VTD_DESC_DEVTLB, .devtlb = { .sid = sid } };

	d.devtlb.addr = vtd_devtlb_encode_addr(base, order, &d.devtlb.size);
	return d;
}

static struct vtd_desc pdevtlb(uint16_t sid, uint32_t pasid, uint64_t base, unsigned int order,
			       bool global)
{
	struct vtd_desc d = { .type = VTD_DESC_PDEVTLB,
			      .pdevtlb = { .sid = sid, .pasid = pasid, .global = global } };

	d.pdevtlb.addr = vtd_devtlb_encode_addr(base, order, &d.pdevtlb.size);
	return d;
}

static struct vtd_desc wait_sw(uint64_t addr, uint32_t data)
{
	return (struct vtd_desc){ .type = VTD_DESC_WAIT,
				  .wait = { .sw = true, .status_addr = addr, .status_data = data } };
}

static uint32_t *status_alloc(struct simvtd *sim, uint64_t *hpa)
{
	*hpa = simvtd_mem_alloc(sim, 4, 4);
	ck_assert_uint_ne(*hpa, 0);
	return simvtd_mem(sim, *hpa, 4);
}

/* ---- Configuration and memory ---- */

START_TEST(test_config)
{
	struct simvtd_config bad[] = {
		{ .units = 0 }, { .units = 17 }, { .units = 1, .queue_order = 8 },
		{ .units = 4, .queue_order = 7, .mem_size = MB },
		{ .units = 1, .mem_size = 1ULL << 40 },
	};
	uint64_t cap = simvtd_default_cap(), ecap = simvtd_default_ecap();
	struct simvtd *sim;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_ptr_null(simvtd_new(&bad[i]));
		ck_assert_int_eq(errno, EINVAL);
	}
	ck_assert_uint_eq(VTD_CAP_ND(cap), 6);
	ck_assert_uint_eq(VTD_CAP_MAMV(cap), 9);
	ck_assert(cap & VTD_CAP_PSI);
	ck_assert_uint_eq(VTD_CAP_MGAW(cap), 47);
	ck_assert_uint_eq(VTD_CAP_SAGAW(cap), 4);
	ck_assert(!(cap & (VTD_CAP_DWD | VTD_CAP_DRD)));
	ck_assert_uint_eq(VTD_ECAP_PSS(ecap), 19);
	ck_assert(ecap & VTD_ECAP_QI && ecap & VTD_ECAP_DT && ecap & VTD_ECAP_PASID);
	ck_assert(ecap & VTD_ECAP_NEST && ecap & VTD_ECAP_SMTS && ecap & VTD_ECAP_FLTS);
	ck_assert(ecap & VTD_ECAP_SLTS);

	sim = sim_make(3, 1);
	ck_assert_uint_eq(simvtd_units(sim), 3);
	for (i = 0; i < 3; i++) {
		struct host_unit *u = simvtd_unit(sim, i);
		char name[16];

		snprintf(name, sizeof(name), "dmar%u", i);
		ck_assert_str_eq(u->name, name);
		ck_assert_uint_eq(u->index, i);
		ck_assert_ptr_eq(u->backend, &simvtd_backend);
		ck_assert_uint_eq(u->cap, cap);
		ck_assert_uint_eq(simvtd_reg_read(sim, i, VTD_REG_CAP), cap);
		ck_assert_uint_eq(simvtd_reg_read(sim, i, VTD_REG_ECAP), ecap);
		/* Enabled as Linux leaves it: QI on, 256-bit, QS = order. */
		ck_assert(simvtd_reg_read(sim, i, VTD_REG_GSTS) & VTD_GCMD_QIE);
		ck_assert(simvtd_reg_read(sim, i, VTD_REG_IQA) & VTD_IQA_DW);
		ck_assert_uint_eq(VTD_IQA_QS(simvtd_reg_read(sim, i, VTD_REG_IQA)), 1);
	}
	ck_assert_ptr_null(simvtd_unit(sim, 3));
	simvtd_free(sim);
}
END_TEST

START_TEST(test_memory)
{
	struct simvtd_config cfg = { .units = 1, .mem_size = MB };
	struct simvtd *sim = simvtd_new(&cfg);
	uint64_t a, b, base;

	ck_assert_ptr_nonnull(sim);
	ck_assert_ptr_null(simvtd_mem(sim, 0, 1));
	a = simvtd_mem_alloc(sim, 100, 8);
	b = simvtd_mem_alloc(sim, 10, 4096);
	ck_assert_uint_ne(a, 0);
	ck_assert_uint_eq(a % 8, 0);
	ck_assert_uint_eq(b % 4096, 0);
	ck_assert_uint_ge(b, a + 100);
	ck_assert_ptr_nonnull(simvtd_mem(sim, a, 100));
	ck_assert_uint_eq(*(uint8_t *)simvtd_mem(sim, a, 1), 0);
	ck_assert_uint_eq(simvtd_mem_alloc(sim, 2 * MB, 8), 0);
	ck_assert_uint_eq(simvtd_mem_alloc(sim, 16, 3), 0);	/* not a power of two */

	/* Memory spans [base, base + 1 MiB): the queue was the first allocation. */
	base = simvtd_reg_read(sim, 0, VTD_REG_IQA) & VTD_IQA_ADDR_MASK;
	ck_assert_ptr_nonnull(simvtd_mem(sim, base + MB - 4, 4));
	ck_assert_ptr_null(simvtd_mem(sim, base + MB - 4, 5));
	ck_assert_ptr_null(simvtd_mem(sim, base + MB, 1));
	ck_assert_ptr_null(simvtd_mem(sim, base, SIZE_MAX));
	ck_assert_ptr_null(simvtd_mem(sim, UINT64_MAX, 2));
	simvtd_free(sim);
}
END_TEST

/* ---- Registers and the queue ---- */

START_TEST(test_qie_iqa)
{
	struct simvtd *sim = sim_make(1, 0);
	uint64_t hpa, iqa = reg(sim, VTD_REG_IQA), q2;
	uint32_t *st = status_alloc(sim, &hpa);
	struct vtd_desc w = wait_sw(hpa, 7);

	/* IQA is frozen while QI is enabled. */
	simvtd_reg_write(sim, 0, VTD_REG_IQA, iqa | 1);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQA), iqa);

	simvtd_reg_write(sim, 0, VTD_REG_GCMD, 0);
	ck_assert(!(reg(sim, VTD_REG_GSTS) & VTD_GCMD_QIE));
	/* A tail write with QI off runs nothing. */
	put_slot(sim, 0, 0, &w);
	simvtd_reg_write(sim, 0, VTD_REG_IQT, DSZ);
	ck_assert_uint_eq(*st, 0);
	simvtd_reg_write(sim, 0, VTD_REG_IQT, 0);

	/* Reserved bits, or a queue outside memory: ignored, IQE (no IQEI fits). */
	simvtd_reg_write(sim, 0, VTD_REG_IQA, iqa | 0x8);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQA), iqa);
	ck_assert(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE);
	ck_assert_uint_eq(VTD_IQER_IQEI(reg(sim, VTD_REG_IQER)), VTD_IQEI_NONE);
	simvtd_reg_write(sim, 0, VTD_REG_FSTS, VTD_FSTS_IQE);
	ck_assert(!(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE));
	simvtd_reg_write(sim, 0, VTD_REG_IQA, 0x1000 | VTD_IQA_DW);
	ck_assert(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQA), iqa);
	simvtd_reg_write(sim, 0, VTD_REG_FSTS, VTD_FSTS_IQE);

	/* A fresh two-page queue is accepted; enabling resets IQH. */
	q2 = simvtd_mem_alloc(sim, 2 * KB4, KB4);
	simvtd_reg_write(sim, 0, VTD_REG_IQA, q2 | VTD_IQA_DW | 1);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQA), q2 | VTD_IQA_DW | 1);
	simvtd_reg_write(sim, 0, VTD_REG_GCMD, VTD_GCMD_QIE);
	ck_assert(reg(sim, VTD_REG_GSTS) & VTD_GCMD_QIE);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), 0);
	ck_assert_uint_eq(slots(sim, 0), 256);
	push(sim, 0, &w, 1);
	ck_assert_uint_eq(*st, 7);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), DSZ);
	simvtd_free(sim);
}
END_TEST

START_TEST(test_iqt_validation)
{
	struct simvtd *sim = sim_make(1, 0);
	uint64_t hpa;
	uint32_t *st = status_alloc(sim, &hpa);
	struct vtd_desc w = wait_sw(hpa, 1);
	struct simvtd_counters c;
	size_t i;

	for (i = 0; i < 128; i++)
		put_slot(sim, 0, i, &w);
	/* Beyond a one-page queue (128 slots of 32 bytes). */
	simvtd_reg_write(sim, 0, VTD_REG_IQT, 4096);
	ck_assert(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE);
	ck_assert_uint_eq(VTD_IQER_IQEI(reg(sim, VTD_REG_IQER)), VTD_IQEI_TAIL);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), 0);
	ck_assert_uint_eq(*st, 0);
	/* While IQE is set a valid tail is ignored too. */
	simvtd_reg_write(sim, 0, VTD_REG_IQT, DSZ);
	ck_assert_uint_eq(*st, 0);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQT), 0);
	simvtd_reg_write(sim, 0, VTD_REG_FSTS, VTD_FSTS_IQE);

	/* A 128-bit aligned tail is misaligned for 256-bit descriptors. */
	simvtd_reg_write(sim, 0, VTD_REG_IQT, 0x10);
	ck_assert(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE);
	ck_assert_uint_eq(VTD_IQER_IQEI(reg(sim, VTD_REG_IQER)), VTD_IQEI_TAIL_ALIGN);
	ck_assert_uint_eq(*st, 0);
	simvtd_reg_write(sim, 0, VTD_REG_FSTS, VTD_FSTS_IQE);
	simvtd_reg_write(sim, 0, VTD_REG_IQT, 1ULL << 20);	/* reserved bit */
	ck_assert(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE);
	simvtd_reg_write(sim, 0, VTD_REG_FSTS, VTD_FSTS_IQE);

	simvtd_reg_write(sim, 0, VTD_REG_IQT, 3 * DSZ);
	ck_assert_uint_eq(*st, 1);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), 3 * DSZ);
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.desc[VTD_DESC_WAIT], 3);
	ck_assert_uint_eq(c.waits, 3);
	ck_assert_uint_eq(c.tail_writes, 1);
	ck_assert_uint_eq(c.iqe, 3);
	simvtd_free(sim);
}
END_TEST

START_TEST(test_bad_descriptor_stalls)
{
	struct simvtd *sim = sim_make(1, 0);
	uint64_t hpa, base = reg(sim, VTD_REG_IQA) & VTD_IQA_ADDR_MASK;
	uint32_t *st = status_alloc(sim, &hpa);
	struct vtd_desc d[3] = { iotlb(VTD_IOTLB_DOMAIN, 1, 0, 0), iotlb(VTD_IOTLB_DOMAIN, 2, 0, 0),
				 wait_sw(hpa, 2) };
	struct simvtd_counters c;
	uint64_t *slot1;

	simvtd_iotlb_insert(sim, 0, 1, 0, false, 0x1000);
	simvtd_iotlb_insert(sim, 0, 2, 0, false, 0x1000);
	/* Queue three, then poison the second with a reserved bit of qw1. */
	put_slot(sim, 0, 0, &d[0]);
	put_slot(sim, 0, 1, &d[1]);
	put_slot(sim, 0, 2, &d[2]);
	slot1 = simvtd_mem(sim, base + DSZ, DSZ);
	slot1[1] |= 0x80;
	simvtd_reg_write(sim, 0, VTD_REG_IQT, 3 * DSZ);

	ck_assert(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE);
	ck_assert_uint_eq(VTD_IQER_IQEI(reg(sim, VTD_REG_IQER)), VTD_IQEI_RSVD);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), DSZ);		/* on the bad one */
	ck_assert(!simvtd_iotlb_present(sim, 0, 1, 0, 0x1000));
	ck_assert(simvtd_iotlb_present(sim, 0, 2, 0, 0x1000));	/* not run */
	ck_assert_uint_eq(*st, 0);				/* wait not run */

	/* Fix the slot as Linux does, then clear IQE: the queue resumes. */
	slot1[1] &= ~0x80ULL;
	simvtd_reg_write(sim, 0, VTD_REG_FSTS, VTD_FSTS_IQE);
	ck_assert(!(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE));
	ck_assert_uint_eq(VTD_IQER_IQEI(reg(sim, VTD_REG_IQER)), 0);
	ck_assert(!simvtd_iotlb_present(sim, 0, 2, 0, 0x1000));
	ck_assert_uint_eq(*st, 2);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), 3 * DSZ);
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.desc[VTD_DESC_IOTLB], 2);
	ck_assert_uint_eq(c.iqe, 1);
	ck_assert_uint_eq(c.iotlb_evicted, 2);

	/* An unknown type and a reserved granularity: IQEI 3 and 4. */
	{
		struct vtd_desc pc = { .type = VTD_DESC_PC, .pc = { .gran = VTD_PC_GLOBAL } };
		uint64_t *s3 = simvtd_mem(sim, base + 3 * DSZ, DSZ);

		put_slot(sim, 0, 3, &pc);
		s3[0] = (s3[0] & ~0x30ULL) | (2 << 4);		/* PC G=2 is reserved */
		simvtd_reg_write(sim, 0, VTD_REG_IQT, 4 * DSZ);
		ck_assert_uint_eq(VTD_IQER_IQEI(reg(sim, VTD_REG_IQER)), VTD_IQEI_RSVD);
		s3[0] = 0xf;					/* type 15 */
		simvtd_reg_write(sim, 0, VTD_REG_FSTS, VTD_FSTS_IQE);
		ck_assert(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE);
		ck_assert_uint_eq(VTD_IQER_IQEI(reg(sim, VTD_REG_IQER)), VTD_IQEI_TYPE);
		ck_assert_uint_eq(reg(sim, VTD_REG_IQH), 3 * DSZ);
	}
	simvtd_free(sim);
}
END_TEST

START_TEST(test_wait)
{
	struct simvtd *sim = sim_make(1, 0);
	uint64_t hpa;
	uint32_t *st = status_alloc(sim, &hpa);
	struct vtd_desc d[2] = { wait_sw(hpa, 0xdeadbeef),
				 { .type = VTD_DESC_WAIT, .wait = { .intr = true } } };
	struct simvtd_counters c;

	push(sim, 0, d, 2);
	ck_assert_uint_eq(*st, 0xdeadbeef);
	ck_assert_uint_eq(reg(sim, VTD_REG_ICS), VTD_ICS_IWC);
	simvtd_reg_write(sim, 0, VTD_REG_ICS, VTD_ICS_IWC);
	ck_assert_uint_eq(reg(sim, VTD_REG_ICS), 0);

	/* A status address outside memory: IQE (no IQEI fits), IQH on the wait. */
	d[0] = wait_sw(0x4000, 1);
	push(sim, 0, d, 1);
	ck_assert(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE);
	ck_assert_uint_eq(VTD_IQER_IQEI(reg(sim, VTD_REG_IQER)), VTD_IQEI_NONE);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), 2 * DSZ);
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.waits, 2);
	ck_assert_uint_eq(c.iqe, 1);
	simvtd_free(sim);
}
END_TEST

START_TEST(test_ring_wraps)
{
	struct simvtd *sim = sim_make(1, 0);
	uint64_t hpa;
	uint32_t *st = status_alloc(sim, &hpa);
	struct simvtd_counters c;
	unsigned int i;

	/* 300 submissions of 3 descriptors wrap a 128-slot ring 7 times. */
	for (i = 1; i <= 300; i++) {
		struct vtd_desc d[3] = { iotlb(VTD_IOTLB_PAGE, i, (uint64_t)i << 12, 0),
					 devtlb(i, (uint64_t)i << 12, 0), wait_sw(hpa, i) };

		simvtd_iotlb_insert(sim, 0, i, 0, false, (uint64_t)i << 12);
		push(sim, 0, d, 3);
		ck_assert_uint_eq(*st, i);
		ck_assert(!simvtd_iotlb_present(sim, 0, i, 0, (uint64_t)i << 12));
		ck_assert_uint_eq(reg(sim, VTD_REG_IQH), reg(sim, VTD_REG_IQT));
	}
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), (900 % 128) * DSZ);
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.desc[VTD_DESC_IOTLB], 300);
	ck_assert_uint_eq(c.desc[VTD_DESC_DEVTLB], 300);
	ck_assert_uint_eq(c.waits, 300);
	ck_assert_uint_eq(c.tail_writes, 300);
	ck_assert_uint_eq(c.iotlb_evicted, 300);
	ck_assert_uint_eq(c.iqe + c.ite, 0);
	simvtd_free(sim);
}
END_TEST

/* ---- Cache models ---- */

static void fill_iotlb(struct simvtd *sim, uint16_t did, uint32_t pasid, bool fs,
		       unsigned int pages)
{
	unsigned int i;

	for (i = 0; i < pages; i++)
		ck_assert_int_eq(simvtd_iotlb_insert(sim, 0, did, pasid, fs, (uint64_t)i << 12), 0);
}

START_TEST(test_iotlb_type2)
{
	struct simvtd *sim = sim_make(2, 0);
	struct vtd_desc d;
	struct simvtd_counters c;
	unsigned int i;

	fill_iotlb(sim, 1, 0, false, 64);
	fill_iotlb(sim, 1, 3, true, 64);
	fill_iotlb(sim, 2, 0, false, 64);
	ck_assert_int_eq(simvtd_iotlb_insert(sim, 1, 1, 0, false, 0), 0);
	/* Inserting again is idempotent. */
	fill_iotlb(sim, 2, 0, false, 64);
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), 192);

	/* PSI: 8 pages at 0x13000 align down to [0x10000, 0x18000), all PASIDs. */
	d = iotlb(VTD_IOTLB_PAGE, 1, 0x13000, 3);
	push(sim, 0, &d, 1);
	for (i = 0; i < 64; i++) {
		bool in = i >= 0x10 && i < 0x18;

		ck_assert_int_eq(simvtd_iotlb_present(sim, 0, 1, 0, (uint64_t)i << 12), !in);
		ck_assert_int_eq(simvtd_iotlb_present(sim, 0, 1, 3, (uint64_t)i << 12), !in);
		ck_assert(simvtd_iotlb_present(sim, 0, 2, 0, (uint64_t)i << 12));
	}
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.iotlb_evicted, 16);

	/* AM 0 is one page; IH and the low address bits do not matter. */
	d = iotlb(VTD_IOTLB_PAGE, 2, 0x20fff, 0);
	d.iotlb.ih = true;
	push(sim, 0, &d, 1);
	ck_assert(!simvtd_iotlb_present(sim, 0, 2, 0, 0x20000));
	ck_assert(simvtd_iotlb_present(sim, 0, 2, 0, 0x1f000));
	ck_assert(simvtd_iotlb_present(sim, 0, 2, 0, 0x21000));

	/* AM above MAMV (9) is refused and flushes nothing. */
	d = iotlb(VTD_IOTLB_PAGE, 2, 0, 10);
	push(sim, 0, &d, 1);
	ck_assert(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE);
	ck_assert(simvtd_iotlb_present(sim, 0, 2, 0, 0));
	/* Make it a legal MAMV-sized flush and resume. */
	d.iotlb.am = 9;
	put_slot(sim, 0, reg(sim, VTD_REG_IQH) / DSZ, &d);
	simvtd_reg_write(sim, 0, VTD_REG_FSTS, VTD_FSTS_IQE);
	ck_assert(!simvtd_iotlb_present(sim, 0, 2, 0, 0));
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), 192 - 16 - 64);

	/* DSI: everything of DID 1, any PASID and stage; DID 2 untouched. */
	fill_iotlb(sim, 2, 0, false, 64);
	d = iotlb(VTD_IOTLB_DOMAIN, 1, 0, 0);
	push(sim, 0, &d, 1);
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), 64);
	ck_assert(simvtd_iotlb_present(sim, 0, 2, 0, 0x3f000));

	/* Global: everything of this unit only. */
	d = iotlb(VTD_IOTLB_GLOBAL, 0, 0, 0);
	push(sim, 0, &d, 1);
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), 0);
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 1), 1);
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.iotlb_evicted, 256);
	ck_assert_uint_eq(c.desc[VTD_DESC_IOTLB], 5);
	simvtd_free(sim);
}
END_TEST

START_TEST(test_iotlb_no_psi)
{
	struct simvtd_config cfg = { .units = 1, .cap = simvtd_default_cap() & ~VTD_CAP_PSI };
	struct simvtd *sim = simvtd_new(&cfg);
	struct vtd_desc d = iotlb(VTD_IOTLB_PAGE, 1, 0, 0);

	push(sim, 0, &d, 1);
	ck_assert(reg(sim, VTD_REG_FSTS) & VTD_FSTS_IQE);
	ck_assert_uint_eq(VTD_IQER_IQEI(reg(sim, VTD_REG_IQER)), VTD_IQEI_RSVD);
	simvtd_free(sim);
}
END_TEST

START_TEST(test_iotlb_type6)
{
	struct simvtd *sim = sim_make(1, 0);
	struct vtd_desc d;

	fill_iotlb(sim, 1, 5, true, 32);
	fill_iotlb(sim, 1, 6, true, 32);
	fill_iotlb(sim, 1, 0, false, 32);	/* second stage: type 6 leaves it */
	fill_iotlb(sim, 2, 5, true, 32);

	/* Page-selective within PASID: 4 pages from 0x8000. */
	d = piotlb(VTD_PIOTLB_PAGE, 1, 5, 0x8000, 2);
	push(sim, 0, &d, 1);
	ck_assert(simvtd_iotlb_present(sim, 0, 1, 5, 0x7000));
	ck_assert(!simvtd_iotlb_present(sim, 0, 1, 5, 0x8000));
	ck_assert(!simvtd_iotlb_present(sim, 0, 1, 5, 0xb000));
	ck_assert(simvtd_iotlb_present(sim, 0, 1, 5, 0xc000));
	ck_assert(simvtd_iotlb_present(sim, 0, 1, 6, 0x8000));
	ck_assert(simvtd_iotlb_present(sim, 0, 2, 5, 0x8000));
	ck_assert(simvtd_iotlb_present(sim, 0, 1, 0, 0x8000));
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), 128 - 4);

	/* PASID-selective: all of (1, 5), nothing else. */
	d = piotlb(VTD_PIOTLB_PASID, 1, 5, 0, 0);
	push(sim, 0, &d, 1);
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), 96);
	ck_assert(!simvtd_iotlb_present(sim, 0, 1, 5, 0));

	/* A second-stage entry tagged with a PASID survives type 6 too. */
	ck_assert_int_eq(simvtd_iotlb_insert(sim, 0, 1, 6, false, 0x100000), 0);
	d = piotlb(VTD_PIOTLB_PASID, 1, 6, 0, 0);
	push(sim, 0, &d, 1);
	ck_assert(simvtd_iotlb_present(sim, 0, 1, 6, 0x100000));
	ck_assert(!simvtd_iotlb_present(sim, 0, 1, 6, 0));
	/* ... and goes with type 2 DSI. */
	d = iotlb(VTD_IOTLB_DOMAIN, 1, 0, 0);
	push(sim, 0, &d, 1);
	ck_assert(!simvtd_iotlb_present(sim, 0, 1, 6, 0x100000));
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), 32);
	simvtd_free(sim);
}
END_TEST

START_TEST(test_atc)
{
	struct simvtd *sim = sim_make(1, 0);
	struct simvtd_counters c;
	struct vtd_desc d;
	unsigned int i;

	for (i = 0; i < 16; i++) {
		simvtd_atc_insert(sim, 0x10, 0, (uint64_t)i << 12);
		simvtd_atc_insert(sim, 0x10, 7, (uint64_t)i << 12);
		simvtd_atc_insert(sim, 0x10, 8, (uint64_t)i << 12);
		simvtd_atc_insert(sim, 0x11, 0, (uint64_t)i << 12);
	}
	ck_assert_uint_eq(simvtd_atc_entries(sim, 0x10), 48);
	ck_assert_uint_eq(simvtd_atc_entries(sim, 0x11), 16);

	/* Type 3: PASID 0 of the SID, 4 pages at 0x4000. */
	d = devtlb(0x10, 0x4000, 2);
	push(sim, 0, &d, 1);
	for (i = 0; i < 16; i++) {
		bool in = i >= 4 && i < 8;

		ck_assert_int_eq(simvtd_atc_present(sim, 0x10, 0, (uint64_t)i << 12), !in);
		ck_assert(simvtd_atc_present(sim, 0x10, 7, (uint64_t)i << 12));
		ck_assert(simvtd_atc_present(sim, 0x11, 0, (uint64_t)i << 12));
	}
	/* Type 8: one PASID, one page. */
	d = pdevtlb(0x10, 7, 0x2000, 0, false);
	push(sim, 0, &d, 1);
	ck_assert(!simvtd_atc_present(sim, 0x10, 7, 0x2000));
	ck_assert(simvtd_atc_present(sim, 0x10, 8, 0x2000));
	ck_assert(simvtd_atc_present(sim, 0x10, 0, 0x2000));
	/* Type 8 with G: every PASID of the SID in the range (8 pages at 0). */
	d = pdevtlb(0x10, 7, 0, 3, true);
	push(sim, 0, &d, 1);
	for (i = 0; i < 8; i++) {
		ck_assert(!simvtd_atc_present(sim, 0x10, 0, (uint64_t)i << 12));
		ck_assert(!simvtd_atc_present(sim, 0x10, 8, (uint64_t)i << 12));
	}
	ck_assert(simvtd_atc_present(sim, 0x10, 8, 0x8000));
	ck_assert_uint_eq(simvtd_atc_entries(sim, 0x10), 24);
	/* Whole address space, PASID 8. */
	d = pdevtlb(0x10, 8, 0, VTD_MAX_AM, false);
	push(sim, 0, &d, 1);
	ck_assert_uint_eq(simvtd_atc_entries(sim, 0x10), 16);
	/* Type 3 over everything: PASID 0 only. */
	d = devtlb(0x10, 0, VTD_MAX_AM);
	push(sim, 0, &d, 1);
	ck_assert_uint_eq(simvtd_atc_entries(sim, 0x10), 8);
	ck_assert_uint_eq(simvtd_atc_entries(sim, 0x11), 16);
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.atc_evicted, 64 - 8 - 16);
	ck_assert_uint_eq(c.desc[VTD_DESC_DEVTLB], 2);
	ck_assert_uint_eq(c.desc[VTD_DESC_PDEVTLB], 3);
	simvtd_free(sim);
}
END_TEST

/* Random flushes against a naive model of the same entries. */
struct ref_entry {
	uint16_t did;
	uint32_t pasid;
	uint64_t page;
	bool fs, live;
};

/*
 * Entries remember what their translation resolved to and hand it back,
 * however stale, until an invalidation removes them; a refresh replaces
 * the target. The older calls keep working with target 0.
 */
START_TEST(test_cache_targets)
{
	struct simvtd *sim = sim_make(2, 0);
	uint64_t t = 0;
	struct vtd_desc d;
	unsigned int i;

	ck_assert_int_eq(simvtd_iotlb_insert_target(sim, 1, 3, 4, true, 0x5123,
						    0xabc000 | SIMVTD_TARGET_R), 0);
	ck_assert(simvtd_iotlb_lookup(sim, 1, 3, 4, 0x5fff, &t));
	ck_assert_uint_eq(t, 0xabc000 | SIMVTD_TARGET_R);
	ck_assert_uint_eq(SIMVTD_TARGET_PAGE(t), 0xabc000);
	ck_assert(simvtd_iotlb_lookup(sim, 1, 3, 4, 0x5000, NULL));
	ck_assert(!simvtd_iotlb_lookup(sim, 0, 3, 4, 0x5000, &t));
	ck_assert(!simvtd_iotlb_lookup(sim, 1, 3, 5, 0x5000, &t));
	ck_assert(!simvtd_iotlb_lookup(sim, 1, 3, 4, 0x6000, &t));
	ck_assert(!simvtd_iotlb_lookup(sim, 9, 3, 4, 0x5000, &t));
	ck_assert_int_eq(simvtd_iotlb_insert_target(sim, 9, 3, 4, true, 0, 1), -1);

	/* Refresh: the new target wins, still one entry. */
	ck_assert_int_eq(simvtd_iotlb_insert_target(sim, 1, 3, 4, true, 0x5000,
						    0xdef000 | SIMVTD_TARGET_W), 0);
	ck_assert(simvtd_iotlb_lookup(sim, 1, 3, 4, 0x5000, &t));
	ck_assert_uint_eq(t, 0xdef000 | SIMVTD_TARGET_W);
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 1), 1);

	/* Targets survive merges of the unsorted tail and unrelated flushes. */
	for (i = 0; i < 300; i++)
		ck_assert_int_eq(simvtd_iotlb_insert_target(sim, 1, 7, 0, false, (uint64_t)i << 12,
							    ((uint64_t)i << 20) | 3), 0);
	d = piotlb(VTD_PIOTLB_PAGE, 7, 0, 0x10000, 0);	/* type 6 spares second stage */
	push(sim, 1, &d, 1);
	for (i = 0; i < 300; i++) {
		ck_assert(simvtd_iotlb_lookup(sim, 1, 7, 0, (uint64_t)i << 12, &t));
		ck_assert_uint_eq(t, ((uint64_t)i << 20) | 3);
	}
	ck_assert(simvtd_iotlb_lookup(sim, 1, 3, 4, 0x5000, &t));
	d = piotlb(VTD_PIOTLB_PAGE, 3, 4, 0x5000, 0);
	push(sim, 1, &d, 1);
	ck_assert(!simvtd_iotlb_lookup(sim, 1, 3, 4, 0x5000, &t));

	/* The old calls: target 0. */
	ck_assert_int_eq(simvtd_iotlb_insert(sim, 0, 1, 0, false, 0x9000), 0);
	t = 55;
	ck_assert(simvtd_iotlb_lookup(sim, 0, 1, 0, 0x9000, &t));
	ck_assert_uint_eq(t, 0);

	/* ATC: per SID and PASID, gone with a device-TLB invalidation. */
	ck_assert_int_eq(simvtd_atc_insert_target(sim, 0x42, 0, 0x3000, 0x77000 | 1), 0);
	ck_assert_int_eq(simvtd_atc_insert_target(sim, 0x42, 9, 0x3000, 0x88000 | 3), 0);
	ck_assert(simvtd_atc_lookup(sim, 0x42, 0, 0x3abc, &t));
	ck_assert_uint_eq(t, 0x77000 | 1);
	ck_assert(simvtd_atc_lookup(sim, 0x42, 9, 0x3000, &t));
	ck_assert_uint_eq(t, 0x88000 | 3);
	ck_assert(!simvtd_atc_lookup(sim, 0x43, 0, 0x3000, &t));
	ck_assert_int_eq(simvtd_atc_insert(sim, 0x43, 0, 0x3000), 0);
	ck_assert(simvtd_atc_lookup(sim, 0x43, 0, 0x3000, &t));
	ck_assert_uint_eq(t, 0);
	d = devtlb(0x42, 0x3000, 0);
	push(sim, 0, &d, 1);
	ck_assert(!simvtd_atc_lookup(sim, 0x42, 0, 0x3000, &t));
	ck_assert(simvtd_atc_lookup(sim, 0x42, 9, 0x3000, &t));
	ck_assert_uint_eq(t, 0x88000 | 3);
	simvtd_free(sim);
}
END_TEST

START_TEST(test_iotlb_random)
{
	enum { N = 4000, FLUSHES = 300 };
	struct simvtd *sim = sim_make(1, 0);
	struct ref_entry *ref = calloc(N, sizeof(*ref));
	unsigned int seed = 12345, i, f;
	size_t live = 0;

	for (i = 0; i < N; i++) {
		ref[i] = (struct ref_entry){ .did = rand_r(&seed) % 4, .pasid = rand_r(&seed) % 3,
					     .page = i, .fs = rand_r(&seed) & 1, .live = true };
		ck_assert_int_eq(simvtd_iotlb_insert(sim, 0, ref[i].did, ref[i].pasid, ref[i].fs,
						     ref[i].page << 12), 0);
	}
	for (f = 0; f < FLUSHES; f++) {
		uint16_t did = rand_r(&seed) % 4;
		uint32_t pasid = rand_r(&seed) % 3;
		unsigned int am = rand_r(&seed) % 8;
		uint64_t first = (rand_r(&seed) % N) & ~((1ULL << am) - 1);
		bool type6 = rand_r(&seed) & 1;
		struct vtd_desc d = type6 ? piotlb(VTD_PIOTLB_PAGE, did, pasid, first << 12, am) :
					    iotlb(VTD_IOTLB_PAGE, did, first << 12, am);

		push(sim, 0, &d, 1);
		for (i = first; i < N && i < first + (1u << am); i++)
			if (ref[i].did == did && (!type6 || (ref[i].pasid == pasid && ref[i].fs)))
				ref[i].live = false;
	}
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(simvtd_iotlb_present(sim, 0, ref[i].did, ref[i].pasid,
						      ref[i].page << 12), ref[i].live);
		live += ref[i].live;
	}
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), live);
	ck_assert_uint_lt(live, N);
	free(ref);
	simvtd_free(sim);
}
END_TEST

/* ---- The back end ---- */

static struct flush_op op_iotlb(struct host_unit *u, uint16_t did, uint64_t addr, uint8_t am)
{
	return (struct flush_op){ .kind = FLUSH_OP_IOTLB, .unit = u, .did = did,
				  .scope = FLUSH_RANGE, .addr = addr, .am = am };
}

static struct flush_op op_devtlb(struct host_unit *u, uint16_t sid, uint32_t pasid)
{
	return (struct flush_op){ .kind = pasid ? FLUSH_OP_PDEVTLB : FLUSH_OP_DEVTLB, .unit = u,
				  .sid = sid, .pasid = pasid, .scope = FLUSH_ALL,
				  .am = VTD_MAX_AM };
}

static int submit(struct host_unit *u, const struct flush_op *ops, size_t n,
		  struct host_error *err)
{
	return u->backend->submit(u, ops, n, err);
}

START_TEST(test_backend_submit)
{
	struct simvtd *sim = sim_make(2, 0);
	struct host_unit *u = simvtd_unit(sim, 1);
	struct flush_op ops[4] = {
		op_iotlb(u, 1, 0x4000, 2),
		{ .kind = FLUSH_OP_PIOTLB, .unit = u, .did = 2, .pasid = 9, .scope = FLUSH_ALL,
		  .am = VTD_MAX_AM },
		op_devtlb(u, 0x20, 0),
		op_devtlb(u, 0x20, 9),
	};
	struct host_error err;
	struct simvtd_counters c;

	simvtd_iotlb_insert(sim, 1, 1, 0, false, 0x5000);
	simvtd_iotlb_insert(sim, 1, 1, 0, false, 0x8000);
	simvtd_iotlb_insert(sim, 1, 2, 9, true, 0x123000);
	simvtd_atc_insert(sim, 0x20, 0, 0x5000);
	simvtd_atc_insert(sim, 0x20, 9, 0x5000);
	simvtd_atc_insert(sim, 0x20, 4, 0x5000);

	ck_assert_int_eq(submit(u, ops, 4, &err), 0);
	ck_assert_int_eq(err.kind, HOST_ERR_NONE);
	ck_assert(!simvtd_iotlb_present(sim, 1, 1, 0, 0x5000));
	ck_assert(simvtd_iotlb_present(sim, 1, 1, 0, 0x8000));
	ck_assert(!simvtd_iotlb_present(sim, 1, 2, 9, 0x123000));
	ck_assert_uint_eq(simvtd_atc_entries(sim, 0x20), 1);
	ck_assert(simvtd_atc_present(sim, 0x20, 4, 0x5000));

	simvtd_counters(sim, 1, &c);
	ck_assert_uint_eq(c.desc[VTD_DESC_IOTLB], 1);
	ck_assert_uint_eq(c.desc[VTD_DESC_PIOTLB], 1);
	ck_assert_uint_eq(c.desc[VTD_DESC_DEVTLB], 1);
	ck_assert_uint_eq(c.desc[VTD_DESC_PDEVTLB], 1);
	ck_assert_uint_eq(c.waits, 1);
	ck_assert_uint_eq(c.tail_writes, 1);
	ck_assert_uint_eq(simvtd_reg_read(sim, 1, VTD_REG_IQH), 5 * DSZ);
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.tail_writes, 0);
	ck_assert_int_eq(submit(u, ops, 0, &err), 0);

	/* A stalled queue is an I/O error, not a hang. */
	simvtd_reg_write(sim, 1, VTD_REG_IQT, 8);
	ck_assert_int_eq(submit(u, ops, 1, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_IO);
	simvtd_free(sim);
}
END_TEST

START_TEST(test_backend_ite)
{
	struct simvtd *sim = sim_make(1, 0);
	struct host_unit *u = simvtd_unit(sim, 0);
	struct flush_op ops[4] = {
		op_iotlb(u, 1, 0, 0), op_devtlb(u, 0x30, 0), op_iotlb(u, 2, 0, 0),
		op_devtlb(u, 0x31, 0),
	};
	struct host_error err;
	struct simvtd_counters c;

	simvtd_iotlb_insert(sim, 0, 1, 0, false, 0);
	simvtd_iotlb_insert(sim, 0, 2, 0, false, 0);
	simvtd_atc_insert(sim, 0x30, 0, 0);
	simvtd_atc_insert(sim, 0x31, 0, 0);
	simvtd_inject_ite(sim, 0x30, 1);

	ck_assert_int_eq(submit(u, ops, 4, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_ITE);
	ck_assert_uint_eq(err.op_index, 1);
	ck_assert_uint_eq(err.sid, 0x30);
	ck_assert_ptr_nonnull(strstr(err.msg, "timed out"));
	/* The device never answered; everything queued behind it still ran. */
	ck_assert(simvtd_atc_present(sim, 0x30, 0, 0));
	ck_assert(!simvtd_iotlb_present(sim, 0, 1, 0, 0));
	ck_assert(!simvtd_iotlb_present(sim, 0, 2, 0, 0));
	ck_assert(!simvtd_atc_present(sim, 0x31, 0, 0));
	ck_assert_uint_eq(reg(sim, VTD_REG_FSTS) & (VTD_FSTS_ITE | VTD_FSTS_IQE), 0);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), reg(sim, VTD_REG_IQT));
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.ite, 1);
	ck_assert_uint_eq(c.desc[VTD_DESC_IOTLB], 2);
	ck_assert_uint_eq(c.desc[VTD_DESC_DEVTLB], 2);
	ck_assert_uint_eq(c.waits, 1);

	/* The injection is spent: the retry succeeds. */
	ck_assert_int_eq(submit(u, ops + 1, 1, &err), 0);
	ck_assert(!simvtd_atc_present(sim, 0x30, 0, 0));

	/* Two timeouts of two devices: the first is reported, both cleared. */
	simvtd_inject_ite(sim, 0x30, 1);
	simvtd_inject_ite(sim, 0x31, 1);
	ck_assert_int_eq(submit(u, ops, 4, &err), -1);
	ck_assert_uint_eq(err.op_index, 1);
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.ite, 3);
	ck_assert_uint_eq(reg(sim, VTD_REG_FSTS), 0);
	ck_assert_int_eq(submit(u, ops, 4, &err), 0);
	simvtd_free(sim);
}
END_TEST

START_TEST(test_backend_ite_raw)
{
	struct simvtd *sim = sim_make(1, 0);
	uint64_t hpa;
	uint32_t *st = status_alloc(sim, &hpa);
	struct vtd_desc d[3] = { devtlb(0x40, 0, 0), wait_sw(hpa, 5), iotlb(VTD_IOTLB_GLOBAL, 0, 0, 0) };

	/* ITE: IQH moves past the timed-out descriptor, the wait is aborted. */
	simvtd_iotlb_insert(sim, 0, 1, 0, false, 0);
	simvtd_inject_ite(sim, 0x40, 1);
	push(sim, 0, d, 3);
	ck_assert(reg(sim, VTD_REG_FSTS) & VTD_FSTS_ITE);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQER) >> VTD_IQER_ITESID_SHIFT & 0xffff, 0x40);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), DSZ);
	ck_assert_uint_eq(*st, 0);
	ck_assert(simvtd_iotlb_present(sim, 0, 1, 0, 0));
	simvtd_reg_write(sim, 0, VTD_REG_FSTS, VTD_FSTS_ITE);
	ck_assert_uint_eq(*st, 5);
	ck_assert(!simvtd_iotlb_present(sim, 0, 1, 0, 0));
	simvtd_free(sim);
}
END_TEST

START_TEST(test_backend_iqe)
{
	struct simvtd *sim = sim_make(1, 0);
	struct host_unit *u = simvtd_unit(sim, 0);
	/* AM 12 exceeds MAMV: the unit refuses the second op. */
	struct flush_op ops[3] = { op_iotlb(u, 1, 0, 0), op_iotlb(u, 2, 0, 12), op_iotlb(u, 3, 0, 0) };
	struct host_error err;
	struct simvtd_counters c;
	unsigned int did;

	for (did = 1; did <= 3; did++)
		simvtd_iotlb_insert(sim, 0, did, 0, false, 0);
	ck_assert_int_eq(submit(u, ops, 3, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_IQE);
	ck_assert_uint_eq(err.op_index, 1);
	ck_assert(!simvtd_iotlb_present(sim, 0, 1, 0, 0));
	ck_assert(simvtd_iotlb_present(sim, 0, 2, 0, 0));
	ck_assert(!simvtd_iotlb_present(sim, 0, 3, 0, 0));
	ck_assert_uint_eq(reg(sim, VTD_REG_FSTS), 0);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), reg(sim, VTD_REG_IQT));

	/* Injected: the first op, then twice more on its replacement. */
	for (did = 1; did <= 3; did++)
		simvtd_iotlb_insert(sim, 0, did, 0, false, 0);
	ops[1].am = 0;
	simvtd_inject_iqe(sim, 0, 3);
	ck_assert_int_eq(submit(u, ops, 3, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_IQE);
	ck_assert_uint_eq(err.op_index, 0);
	ck_assert(simvtd_iotlb_present(sim, 0, 1, 0, 0));
	ck_assert(!simvtd_iotlb_present(sim, 0, 2, 0, 0));
	ck_assert(!simvtd_iotlb_present(sim, 0, 3, 0, 0));
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.iqe, 4);
	ck_assert_int_eq(submit(u, ops, 3, &err), 0);
	simvtd_free(sim);
}
END_TEST

START_TEST(test_backend_large)
{
	enum { N = 1000 };
	struct simvtd *sim = sim_make(1, 0);
	struct host_unit *u = simvtd_unit(sim, 0);
	struct flush_op *ops = calloc(N, sizeof(*ops));
	struct host_error err;
	struct simvtd_counters c;
	unsigned int i;

	for (i = 0; i < N; i++) {
		ops[i] = op_iotlb(u, i, (uint64_t)i << 12, 0);
		simvtd_iotlb_insert(sim, 0, i, 0, false, (uint64_t)i << 12);
	}
	/* A timeout deep in the fourth chunk (126 ops per chunk). */
	ops[400] = op_devtlb(u, 0x50, 0);
	simvtd_inject_ite(sim, 0x50, 1);
	ck_assert_int_eq(submit(u, ops, N, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_ITE);
	ck_assert_uint_eq(err.op_index, 400);
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), 1);
	ck_assert(simvtd_iotlb_present(sim, 0, 400, 0, 400 << 12));
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.desc[VTD_DESC_IOTLB], N - 1);
	ck_assert_uint_eq(c.waits, (N + 125) / 126);
	ck_assert_uint_eq(c.tail_writes, (N + 125) / 126);
	free(ops);
	simvtd_free(sim);
}
END_TEST

START_TEST(test_legacy_queue)
{
	struct simvtd_config cfg = {
		.units = 1,
		.ecap = simvtd_default_ecap() & ~(VTD_ECAP_SMTS | VTD_ECAP_PASID),
	};
	struct simvtd *sim = simvtd_new(&cfg);
	struct host_unit *u = simvtd_unit(sim, 0);
	struct flush_op *ops = calloc(300, sizeof(*ops));
	struct host_error err;
	struct simvtd_counters c;
	uint64_t iqa = reg(sim, VTD_REG_IQA);
	unsigned int i;

	/* Without scalable mode the queue holds 256 128-bit descriptors. */
	ck_assert(!(iqa & VTD_IQA_DW));
	for (i = 0; i < 300; i++)
		ops[i] = op_iotlb(u, i, 0, 0);
	ck_assert_int_eq(submit(u, ops, 300, &err), 0);
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.desc[VTD_DESC_IOTLB], 300);
	ck_assert_uint_eq(c.waits, 2);				/* 254 ops per chunk */
	ck_assert_uint_eq(reg(sim, VTD_REG_IQH), (302 % 256) * 16);

	/* PASID-based flushes are unsupported here: IQE, IQEI 3 (type), skipped. */
	ops[1] = (struct flush_op){ .kind = FLUSH_OP_PIOTLB, .unit = u, .did = 1, .pasid = 1,
				    .scope = FLUSH_ALL, .am = VTD_MAX_AM };
	ck_assert_int_eq(submit(u, ops, 3, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_IQE);
	ck_assert_uint_eq(err.op_index, 1);
	ck_assert_ptr_nonnull(strstr(err.msg, "IQEI 3"));
	simvtd_counters(sim, 0, &c);
	ck_assert_uint_eq(c.desc[VTD_DESC_IOTLB], 302);

	/* 256-bit descriptors need scalable mode. */
	simvtd_reg_write(sim, 0, VTD_REG_GCMD, 0);
	simvtd_reg_write(sim, 0, VTD_REG_IQA, iqa | VTD_IQA_DW);
	ck_assert_uint_eq(reg(sim, VTD_REG_IQA), iqa);
	ck_assert_uint_eq(VTD_IQER_IQEI(reg(sim, VTD_REG_IQER)), VTD_IQEI_NONE);
	free(ops);
	simvtd_free(sim);
}
END_TEST

struct thread_arg {
	struct simvtd *sim;
	unsigned int unit, id, fails;
};

static void *submitter(void *p)
{
	struct thread_arg *a = p;
	struct host_unit *u = simvtd_unit(a->sim, a->unit);
	struct flush_op ops[5];
	struct host_error err;
	unsigned int i, j;

	for (i = 0; i < 200; i++) {
		for (j = 0; j < 5; j++) {
			uint16_t did = a->id * 1000 + j;

			simvtd_iotlb_insert(a->sim, a->unit, did, 0, false, (uint64_t)i << 12);
			ops[j] = op_iotlb(u, did, (uint64_t)i << 12, 0);
		}
		if (submit(u, ops, 5, &err))
			a->fails++;
		for (j = 0; j < 5; j++)
			if (simvtd_iotlb_present(a->sim, a->unit, a->id * 1000 + j, 0,
						 (uint64_t)i << 12))
				a->fails++;
	}
	return NULL;
}

START_TEST(test_concurrent)
{
	struct simvtd *sim = sim_make(2, 0);
	struct thread_arg args[4];
	pthread_t t[4];
	struct simvtd_counters c;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ .sim = sim, .unit = i % 2, .id = i + 1 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, submitter, &args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_uint_eq(args[i].fails, 0);
	}
	for (i = 0; i < 2; i++) {
		simvtd_counters(sim, i, &c);
		ck_assert_uint_eq(c.desc[VTD_DESC_IOTLB], 2 * 200 * 5);
		ck_assert_uint_eq(c.waits, 2 * 200);
		ck_assert_uint_eq(c.iotlb_evicted, 2 * 200 * 5);
		ck_assert_uint_eq(simvtd_iotlb_entries(sim, i), 0);
	}
	simvtd_free(sim);
}
END_TEST

static Suite *simvtd_suite(void)
{
	Suite *s = suite_create("simvtd");
	TCase *regs = tcase_create("registers"), *cache = tcase_create("caches");
	TCase *be = tcase_create("backend");

	tcase_add_test(regs, test_config);
	tcase_add_test(regs, test_memory);
	tcase_add_test(regs, test_qie_iqa);
	tcase_add_test(regs, test_iqt_validation);
	tcase_add_test(regs, test_bad_descriptor_stalls);
	tcase_add_test(regs, test_wait);
	tcase_add_test(regs, test_ring_wraps);
	tcase_add_test(cache, test_iotlb_type2);
	tcase_add_test(cache, test_iotlb_no_psi);
	tcase_add_test(cache, test_iotlb_type6);
	tcase_add_test(cache, test_atc);
	tcase_add_test(cache, test_cache_targets);
	tcase_add_test(cache, test_iotlb_random);
	tcase_add_test(be, test_backend_submit);
	tcase_add_test(be, test_backend_ite);
	tcase_add_test(be, test_backend_ite_raw);
	tcase_add_test(be, test_backend_iqe);
	tcase_add_test(be, test_backend_large);
	tcase_add_test(be, test_legacy_queue);
	tcase_add_test(be, test_concurrent);
	tcase_set_timeout(be, 60);
	suite_add_tcase(s, regs);
	suite_add_tcase(s, cache);
	suite_add_tcase(s, be);
	return s;
}

int main(void)
{
	return check_run(simvtd_suite());
}
