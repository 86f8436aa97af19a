// SPDX-License-Identifier: MIT
/* Flush planner: merging, range union, escalation, device TLBs, granularity. */
#include <check.h>
#include <stdlib.h>

#include "check_main.h"
#include "hostvtd/plan.h"
#include "testutil.h"

#define NDEV 8

static struct host_unit units[2];
static struct host_device devs[NDEV];
static struct tag_store *ts;
static struct flush_plan plan;

static void setup(void)
{
	test_unit(&units[0], 0, 9);
	test_unit(&units[1], 1, 4);
	for (int i = 0; i < NDEV; i++)
		test_device(&devs[i], (uint16_t)(0x100 + i * 8), &units[i % 2], true);
	ts = tag_store_new();
	ck_assert_ptr_nonnull(ts);
	flush_plan_init(&plan);
}

static void teardown(void)
{
	flush_plan_free(&plan);
	tag_store_free(ts);
}

/* SVA: all devices bound to guest (DID 1, PASID 5), nested. */
static void attach_sva(void)
{
	for (int i = 0; i < NDEV; i++) {
		struct tag_attach a = test_attach(&devs[i], 1, 5, true);

		ck_assert_int_eq(tag_store_attach(ts, test_key(1, 5), &a), 0);
	}
}

static size_t count_kind(enum flush_op_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < plan.nops; i++)
		n += plan.ops[i].kind == kind;
	return n;
}

static int build(const struct vtd_desc *reqs, size_t n, bool no_merge)
{
	struct plan_options opt = { .no_merge = no_merge };

	return flush_plan_build(&plan, ts, 0, reqs, n, &opt);
}

START_TEST(psi_cover_matches_linux)
{
	unsigned int am;

	/* Linux's example: 0x3000-0x4fff needs an 8-page block at 0. */
	ck_assert_uint_eq(flush_psi_cover(0x3000, 0x4fff, &am), 0);
	ck_assert_uint_eq(am, 3);
	ck_assert_uint_eq(flush_psi_cover(0x4000, 0x4fff, &am), 0x4000);
	ck_assert_uint_eq(am, 0);
	ck_assert_uint_eq(flush_psi_cover(0x4000, 0x7fff, &am), 0x4000);
	ck_assert_uint_eq(am, 2);
	ck_assert_uint_eq(flush_psi_cover(0x10000000, 0x10007fff, &am), 0x10000000);
	ck_assert_uint_eq(am, 3);
	flush_psi_cover(0, UINT64_MAX, &am);
	ck_assert_uint_eq(am, VTD_MAX_AM);
	flush_psi_cover(0x2000, 0x1000, &am);	/* empty or inverted: everything */
	ck_assert_uint_eq(am, VTD_MAX_AM);
	/* Every cover contains its range and is aligned to its size. */
	srand(7);
	for (int i = 0; i < 100000; i++) {
		uint64_t s = ((uint64_t)rand() << 12) & 0xffffffffff000ULL;
		uint64_t e = s + ((uint64_t)(rand() % 4096) << 12) + 0xfff;
		uint64_t base = flush_psi_cover(s, e, &am);

		ck_assert_uint_lt(am, VTD_MAX_AM);
		ck_assert_uint_eq(base & ((VTD_PAGE_SIZE << am) - 1), 0);
		ck_assert_uint_le(base, s);
		ck_assert_uint_ge(base + (VTD_PAGE_SIZE << am) - 1, e);
		/* Minimal: half the block would miss part of the range. */
		if (am > 0) {
			uint64_t half = VTD_PAGE_SIZE << (am - 1);
			bool fits_low = e < base + half, fits_high = s >= base + half;

			ck_assert(!fits_low && !fits_high);
		}
	}
}
END_TEST

/* A batching guest: one PASID-IOTLB + one PASID device-TLB per device, one wait. */
START_TEST(sva_fanout_merges_to_one_per_unit)
{
	struct vtd_desc reqs[2 * NDEV];
	size_t n = 0;

	attach_sva();
	for (int i = 0; i < NDEV; i++) {
		reqs[n++] = piotlb_page(1, 5, 0x7f0000001000ULL, 0, false);
		reqs[n++] = pdevtlb_desc(devs[i].sid, 5, 0x7f0000001000ULL, 0);
	}
	ck_assert_int_eq(build(reqs, n, false), 0);
	ck_assert_uint_eq(count_kind(FLUSH_OP_PIOTLB), 2);	/* one per unit */
	ck_assert_uint_eq(count_kind(FLUSH_OP_PDEVTLB), NDEV);	/* one per ATS device */
	ck_assert_uint_eq(plan.nops, plan.unique_tag_bound);
	ck_assert_uint_eq(plan.guest_invalidations, 2 * NDEV);
	ck_assert_uint_eq(plan.no_target, 0);
	for (size_t i = 0; i < plan.nops; i++) {
		ck_assert_uint_eq(plan.ops[i].scope, FLUSH_RANGE);
		ck_assert_uint_eq(plan.ops[i].addr, 0x7f0000001000ULL);
		ck_assert_uint_eq(plan.ops[i].am, 0);
		ck_assert_uint_eq(plan.ops[i].pasid, 5);
	}
	/*
	 * Each unit's IOTLB op absorbed all 8 guest P_IOTLBs; each device's
	 * op only its own P_DEVTLB (a P_IOTLB leaves device TLBs alone).
	 */
	ck_assert_uint_eq(plan.ops[0].kind, FLUSH_OP_PIOTLB);
	ck_assert_uint_eq(plan.ops[0].absorbed, NDEV);
	ck_assert_uint_eq(plan.ops[1].kind, FLUSH_OP_PDEVTLB);
	ck_assert_uint_eq(plan.ops[1].absorbed, 1);

	/* Unmerged (QEMU's way): one per device per request. */
	ck_assert_int_eq(build(reqs, n, true), 0);
	ck_assert_uint_eq(count_kind(FLUSH_OP_PIOTLB), NDEV * NDEV);
	ck_assert_uint_eq(plan.unique_tag_bound, 2 + NDEV);
}
END_TEST

/*
 * Linux 6.1 intel_svm: a PASID-IOTLB alone in its submission. Merged, the
 * host gets one PASID-IOTLB per unit and no device-TLB work: the guest's
 * own device-TLB submissions follow. Unmerged (QEMU's per-device HWPT
 * invalidations), every ATS device's TLB is flushed with it.
 */
START_TEST(iotlb_request_alone_leaves_device_tlbs_to_the_guest)
{
	struct vtd_desc req = piotlb_page(1, 5, 0x7f0000001000ULL, 0, false);

	attach_sva();
	ck_assert_int_eq(build(&req, 1, false), 0);
	ck_assert_uint_eq(count_kind(FLUSH_OP_PIOTLB), 2);
	ck_assert_uint_eq(count_kind(FLUSH_OP_PDEVTLB), 0);
	ck_assert_uint_eq(plan.nops, plan.unique_tag_bound);

	ck_assert_int_eq(build(&req, 1, true), 0);
	ck_assert_uint_eq(count_kind(FLUSH_OP_PIOTLB), NDEV);
	ck_assert_uint_eq(count_kind(FLUSH_OP_PDEVTLB), NDEV);
}
END_TEST

START_TEST(ops_grouped_per_unit_iotlb_first)
{
	struct vtd_desc reqs[3] = {
		pdevtlb_desc(devs[1].sid, 5, 0x1000, 0),	/* unit 1 device first */
		piotlb_page(1, 5, 0x1000, 0, false),
	};

	attach_sva();
	ck_assert_int_eq(build(reqs, 2, false), 0);
	for (size_t i = 1; i < plan.nops; i++) {
		const struct flush_op *a = &plan.ops[i - 1], *b = &plan.ops[i];
		bool dev_a = a->kind == FLUSH_OP_PDEVTLB, dev_b = b->kind == FLUSH_OP_PDEVTLB;

		ck_assert_uint_le(a->unit->index, b->unit->index);
		if (a->unit == b->unit)
			ck_assert(!(dev_a && !dev_b));	/* never devTLB before IOTLB */
	}
	ck_assert_uint_eq(plan.ops[0].unit->index, 0);
	ck_assert_uint_eq(plan.ops[plan.nops - 1].unit->index, 1);
}
END_TEST

START_TEST(range_union_becomes_one_aligned_cover)
{
	struct vtd_desc reqs[3] = {
		piotlb_page(1, 5, 0x3000, 0, true),
		piotlb_page(1, 5, 0x4000, 0, true),
		piotlb_page(1, 5, 0x6000, 1, true),
	};
	struct tag_attach a = test_attach(&devs[0], 1, 5, true);

	devs[0].ats = false;
	ck_assert_int_eq(tag_store_attach(ts, test_key(1, 5), &a), 0);
	ck_assert_int_eq(build(reqs, 3, false), 0);
	ck_assert_uint_eq(plan.nops, 1);
	ck_assert_uint_eq(plan.ops[0].start, 0x3000);
	ck_assert_uint_eq(plan.ops[0].end, 0x7fff);
	ck_assert_uint_eq(plan.ops[0].addr, 0);
	ck_assert_uint_eq(plan.ops[0].am, 3);
	ck_assert(plan.ops[0].ih);
	ck_assert_uint_eq(plan.ops[0].absorbed, 3);

	/* One request without IH clears the hint for the merged op. */
	reqs[1].piotlb.ih = false;
	ck_assert_int_eq(build(reqs, 3, false), 0);
	ck_assert(!plan.ops[0].ih);
}
END_TEST

START_TEST(escalates_beyond_mamv_and_without_psi)
{
	struct vtd_desc reqs[2] = {
		piotlb_page(2, 0, 0x0, 0, false),
		piotlb_page(2, 0, 0x40000000, 0, false),	/* cover needs AM 19 */
	};
	struct tag_attach a0 = test_attach(&devs[0], 2, 0, true);	/* unit 0: MAMV 9 */
	struct tag_attach a1 = test_attach(&devs[1], 2, 0, true);	/* unit 1: MAMV 4 */

	devs[0].ats = devs[1].ats = false;
	ck_assert_int_eq(tag_store_attach(ts, test_key(2, 0), &a0), 0);
	ck_assert_int_eq(tag_store_attach(ts, test_key(2, 0), &a1), 0);
	ck_assert_int_eq(build(reqs, 2, false), 0);
	ck_assert_uint_eq(plan.nops, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_uint_eq(plan.ops[i].scope, FLUSH_ALL);
		ck_assert_uint_eq(plan.ops[i].am, VTD_MAX_AM);
	}

	/* AM 5 fits unit 0 (MAMV 9) but not unit 1 (MAMV 4). */
	reqs[0] = piotlb_page(2, 0, 0x0, 5, false);
	ck_assert_int_eq(build(reqs, 1, false), 0);
	ck_assert_uint_eq(plan.ops[0].scope, FLUSH_RANGE);
	ck_assert_uint_eq(plan.ops[0].am, 5);
	ck_assert_uint_eq(plan.ops[1].scope, FLUSH_ALL);

	units[0].cap &= ~VTD_CAP_PSI;
	reqs[0] = piotlb_page(2, 0, 0x0, 0, false);
	ck_assert_int_eq(build(reqs, 1, false), 0);
	ck_assert_uint_eq(plan.ops[0].scope, FLUSH_ALL);
}
END_TEST

START_TEST(pasid_selective_dominates_ranges)
{
	struct vtd_desc reqs[3] = {
		piotlb_page(1, 5, 0x1000, 0, true),
		piotlb_all(1, 5),
		piotlb_page(1, 5, 0x9000, 0, true),
	};

	attach_sva();
	ck_assert_int_eq(build(reqs, 3, false), 0);
	for (size_t i = 0; i < plan.nops; i++) {
		ck_assert_uint_eq(plan.ops[i].scope, FLUSH_ALL);
		ck_assert(!plan.ops[i].ih);
	}
}
END_TEST

START_TEST(no_merge_across_dids_or_pasids)
{
	struct tag_attach a = test_attach(&devs[0], 1, 5, true);
	struct tag_attach b = test_attach(&devs[2], 2, 5, true);	/* same unit, other DID */
	struct tag_attach c = test_attach(&devs[4], 1, 6, true);	/* same unit+DID, other PASID */
	struct vtd_desc reqs[3] = {
		piotlb_page(1, 5, 0x1000, 0, false),
		piotlb_page(2, 5, 0x1000, 0, false),
		piotlb_page(1, 6, 0x1000, 0, false),
	};

	devs[0].ats = devs[2].ats = devs[4].ats = false;
	ck_assert_int_eq(tag_store_attach(ts, test_key(1, 5), &a), 0);
	ck_assert_int_eq(tag_store_attach(ts, test_key(2, 5), &b), 0);
	ck_assert_int_eq(tag_store_attach(ts, test_key(1, 6), &c), 0);
	ck_assert_int_eq(build(reqs, 3, false), 0);
	ck_assert_uint_eq(plan.nops, 3);
	ck_assert_uint_eq(plan.ops[0].did, 1);
	ck_assert_uint_eq(plan.ops[0].pasid, 5);
	ck_assert_uint_eq(plan.ops[1].did, 2);
	ck_assert_uint_eq(plan.ops[2].pasid, 6);
}
END_TEST

/* Type 2 names no PASID: second-stage tags differing only in PASID share one op. */
START_TEST(iotlb_type2_dedupes_pasids)
{
	struct tag_attach a = test_attach(&devs[0], 3, 0, false);
	struct tag_attach b = test_attach(&devs[0], 3, 9, false);
	struct vtd_desc req = iotlb_desc(VTD_IOTLB_PAGE, 3, 0x5000, 0);

	devs[0].ats = false;
	ck_assert_int_eq(tag_store_attach(ts, test_key(3, 0), &a), 0);
	ck_assert_int_eq(tag_store_attach(ts, test_key(3, 9), &b), 0);
	ck_assert_int_eq(build(&req, 1, false), 0);
	ck_assert_uint_eq(plan.nops, 1);
	ck_assert_uint_eq(plan.ops[0].kind, FLUSH_OP_IOTLB);
	ck_assert_uint_eq(plan.ops[0].addr, 0x5000);
	ck_assert_uint_eq(plan.ops[0].absorbed, 2);	/* counted once per domain */

	req = iotlb_desc(VTD_IOTLB_DOMAIN, 3, 0, 0);
	ck_assert_int_eq(build(&req, 1, false), 0);
	ck_assert_uint_eq(plan.nops, 1);
	ck_assert_uint_eq(plan.ops[0].scope, FLUSH_ALL);

	/* Global reaches every domain of the vIOMMU, each as a DSI. */
	struct tag_attach c = test_attach(&devs[2], 4, 0, false);

	devs[2].ats = false;
	ck_assert_int_eq(tag_store_attach(ts, test_key(4, 0), &c), 0);
	req = iotlb_desc(VTD_IOTLB_GLOBAL, 0, 0, 0);
	ck_assert_int_eq(build(&req, 1, false), 0);
	ck_assert_uint_eq(plan.nops, 2);
	ck_assert_uint_eq(plan.ops[0].scope, FLUSH_ALL);
	ck_assert_uint_eq(plan.ops[1].scope, FLUSH_ALL);
	ck_assert_uint_ne(plan.ops[0].did, plan.ops[1].did);
}
END_TEST

START_TEST(devtlb_per_device_and_unknown_sids)
{
	struct tag_attach a = test_attach(&devs[0], 1, 0, false);
	struct vtd_desc reqs[3] = {
		devtlb_desc(devs[0].sid, 0x10000, 2),
		devtlb_desc(devs[0].sid, 0x40000, 0),
		devtlb_desc(0x999, 0x1000, 0),		/* no such device */
	};

	ck_assert_int_eq(tag_store_attach(ts, test_key(1, 0), &a), 0);
	ck_assert_int_eq(build(reqs, 3, false), 0);
	ck_assert_uint_eq(plan.nops, 1);
	ck_assert_uint_eq(plan.ops[0].kind, FLUSH_OP_DEVTLB);
	ck_assert_uint_eq(plan.ops[0].sid, devs[0].sid);
	ck_assert_str_eq(plan.ops[0].dev_name, devs[0].name);
	ck_assert_uint_eq(plan.ops[0].start, 0x10000);
	ck_assert_uint_eq(plan.ops[0].end, 0x40fff);
	ck_assert_uint_eq(plan.ops[0].addr, 0);	/* 0x10000..0x40fff: 64-page cover at 0 */
	ck_assert_uint_eq(plan.ops[0].am, 7);
	ck_assert_uint_eq(plan.guest_invalidations, 3);
	ck_assert_uint_eq(plan.no_target, 1);

	/* Device-TLB ranges have no MAMV limit: a 1 GiB flush stays ranged. */
	reqs[0] = devtlb_desc(devs[0].sid, 0, 18);
	ck_assert_int_eq(build(reqs, 1, false), 0);
	ck_assert_uint_eq(plan.ops[0].scope, FLUSH_RANGE);
	ck_assert_uint_eq(plan.ops[0].am, 18);
}
END_TEST

START_TEST(requests_needing_no_host_work)
{
	struct vtd_desc reqs[4] = { { .type = VTD_DESC_CC }, { .type = VTD_DESC_PC },
				    { .type = VTD_DESC_IEC }, piotlb_page(9, 9, 0, 0, false) };

	attach_sva();
	reqs[0].cc.gran = VTD_CC_GLOBAL;
	ck_assert_int_eq(build(reqs, 4, false), 0);
	ck_assert_uint_eq(plan.nops, 0);
	ck_assert_uint_eq(plan.guest_invalidations, 1);	/* only the P_IOTLB asks the host */
	ck_assert_uint_eq(plan.no_target, 1);		/* and no domain (9, 9) exists */
	ck_assert_int_eq(build(NULL, 0, false), 0);
	ck_assert_uint_eq(plan.nops, 0);
}
END_TEST

START_TEST(encode_matches_descriptor_layout)
{
	struct flush_op op = { .kind = FLUSH_OP_IOTLB, .unit = &units[0], .did = 5,
			       .scope = FLUSH_RANGE, .addr = 0x10000000, .am = 3 };
	struct vtd_raw_desc raw;
	struct vtd_desc d;

	flush_op_encode(&op, &raw);
	ck_assert_uint_eq(raw.qw[0], 0x50032);	/* reference vector: DID 5, PSI */
	ck_assert_uint_eq(raw.qw[1], 0x10000003);
	op.kind = FLUSH_OP_PIOTLB;
	op.pasid = 0x12345;
	op.scope = FLUSH_ALL;
	flush_op_encode(&op, &raw);
	ck_assert_int_eq(vtd_desc_decode(&raw, true, &d), VTD_DESC_OK);
	ck_assert_uint_eq(d.type, VTD_DESC_PIOTLB);
	ck_assert_uint_eq(d.piotlb.gran, VTD_PIOTLB_PASID);
	ck_assert_uint_eq(d.piotlb.pasid, 0x12345);
	ck_assert_uint_eq(raw.qw[1], 0);
	op.kind = FLUSH_OP_PDEVTLB;
	op.sid = 0x1234;
	flush_op_encode(&op, &raw);
	ck_assert_uint_eq(raw.qw[1], 0x7FFFFFFFFFFFF800ULL);	/* whole-ATC flush */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("core");

	/*
	 * psi_cover_matches_linux checks 100000 random covers: about 5 s
	 * under Check's default 4 s timeout on a loaded 2-core machine.
	 */
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, psi_cover_matches_linux);
	tcase_add_test(tc, sva_fanout_merges_to_one_per_unit);
	tcase_add_test(tc, iotlb_request_alone_leaves_device_tlbs_to_the_guest);
	tcase_add_test(tc, ops_grouped_per_unit_iotlb_first);
	tcase_add_test(tc, range_union_becomes_one_aligned_cover);
	tcase_add_test(tc, escalates_beyond_mamv_and_without_psi);
	tcase_add_test(tc, pasid_selective_dominates_ranges);
	tcase_add_test(tc, no_merge_across_dids_or_pasids);
	tcase_add_test(tc, iotlb_type2_dedupes_pasids);
	tcase_add_test(tc, devtlb_per_device_and_unknown_sids);
	tcase_add_test(tc, requests_needing_no_host_work);
	tcase_add_test(tc, encode_matches_descriptor_layout);
	suite_add_tcase(s, tc);
	return check_run(s);
}
