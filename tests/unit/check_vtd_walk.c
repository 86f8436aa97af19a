// SPDX-License-Identifier: MIT
/*
 * Page walks (viommu/walk.c) against a guest that changes its tables while
 * the walk runs. walk.c is compiled into this test with
 * VTD_WALK_TEST_HOOK, which calls vtd_walk_test_hook() between the walk
 * and its accessed/dirty updates: the test plays the other vCPU there,
 * deterministically.
 *
 * Guest: 16 MiB of RAM at 0; tables from 0x400000, identity-mapped in the
 * second stage by one 2 MiB page (the xlate says CAP.SLLPS has it).
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "viommu/viommu-priv.h"
#include "vtd_testutil.h"

#define FS_ROOT		0x400000ULL	/* first allocator page */
#define T_GPA		0x800000ULL	/* the first-stage leaf table, as the first stage names it */
#define RAM_X		0x900000ULL	/* ... where the second stage first puts it */
#define RAM_Y		0xa00000ULL	/* ... and where it puts it mid-walk */
#define DATA		0x600000ULL
#define IOVA		0x7000ULL
#define SL_RW		3ULL
#define FL_P_RW		3ULL
#define FL_A		(1ULL << 5)
#define FL_D		(1ULL << 6)

static struct vm vm;
static struct vtd_test_tables tables;
static uint64_t sl_root;
static void (*hook)(void);

void vtd_walk_test_hook(struct vm *hook_vm);
void vtd_walk_test_hook(struct vm *hook_vm)
{
	ck_assert_ptr_eq(hook_vm, &vm);
	if (hook) {
		void (*h)(void) = hook;

		hook = NULL;	/* once: the A/D update's own walk must not re-enter */
		h();
	}
}

static void setup(void)
{
	vtd_test_vm_init(&vm, VTD_TEST_RAM_SIZE);
	tables.vm = &vm;
	tables.next = FS_ROOT;
	hook = NULL;
}

static void teardown(void)
{
	vtd_test_vm_free(&vm);
}

/* Another vCPU: the leaf table moves to RAM_Y, and RAM_X becomes read-only. */
static void move_leaf_table(void)
{
	vtd_test_map(&tables, sl_root, 4, T_GPA, RAM_Y, 1, SL_RW, SL_RW);
	vtd_test_map(&tables, sl_root, 4, RAM_X, RAM_X, 1, 1, SL_RW);
}

/*
 * Hardening finding 4: the nested A/D update checked write permission on
 * a fresh second-stage walk but wrote at the address of the earlier one,
 * setting A and D in a page the guest's new mapping makes read-only.
 */
START_TEST(nested_ad_update_follows_the_new_mapping)
{
	struct vtd_xlate x = {
		.mode = VTD_XLATE_NESTED, .scalable = true, .aw_bits = 48, .sre = true,
		.fl_levels = 4, .flptr = FS_ROOT, .sl_levels = 4, .sl_2m = true,
	};
	struct vtd_fault f = { 0 };
	uint64_t gpa = 0, leaf = DATA | FL_P_RW;
	uint64_t l3, l2;

	vtd_test_page(&tables);		/* FS_ROOT */
	l3 = vtd_test_page(&tables);
	l2 = vtd_test_page(&tables);
	vtd_test_write64(&vm, FS_ROOT, l3 | FL_P_RW);
	vtd_test_write64(&vm, l3, l2 | FL_P_RW);
	vtd_test_write64(&vm, l2, T_GPA | FL_P_RW);
	vtd_test_write64(&vm, RAM_X + (IOVA >> 12) * 8, leaf);
	vtd_test_write64(&vm, RAM_Y + (IOVA >> 12) * 8, leaf);

	sl_root = vtd_test_page(&tables);
	x.slptr = sl_root;
	vtd_test_map(&tables, sl_root, 4, FS_ROOT, FS_ROOT, 2, SL_RW, SL_RW);	/* 2 MiB */
	vtd_test_map(&tables, sl_root, 4, DATA, DATA, 1, SL_RW, SL_RW);
	vtd_test_map(&tables, sl_root, 4, T_GPA, RAM_X, 1, SL_RW, SL_RW);
	vtd_test_map(&tables, sl_root, 4, RAM_X, RAM_X, 1, SL_RW, SL_RW);

	/* Without a change mid-walk: A in every entry, D in the leaf. */
	ck_assert_int_eq(vtd_translate(&vm, &x, IOVA, VTD_ACCESS_WRITE, &gpa, &f), 0);
	ck_assert_uint_eq(gpa, DATA);
	ck_assert_uint_eq(vtd_test_read64(&vm, RAM_X + (IOVA >> 12) * 8), leaf | FL_A | FL_D);
	ck_assert_uint_eq(vtd_test_read64(&vm, l2) & FL_A, FL_A);

	vtd_test_write64(&vm, RAM_X + (IOVA >> 12) * 8, leaf);
	hook = move_leaf_table;
	ck_assert_int_eq(vtd_translate(&vm, &x, IOVA, VTD_ACCESS_WRITE, &gpa, &f), 0);
	ck_assert_ptr_null(hook);
	/* The read-only page is untouched; the table the second stage now names has A and D. */
	ck_assert_uint_eq(vtd_test_read64(&vm, RAM_X + (IOVA >> 12) * 8), leaf);
	ck_assert_uint_eq(vtd_test_read64(&vm, RAM_Y + (IOVA >> 12) * 8), leaf | FL_A | FL_D);
}
END_TEST

/* CAP.FS1GP: a first-stage PS entry at level 3 maps 1 GiB; without it, PS there is reserved. */
START_TEST(first_stage_1g_page_only_with_fs1gp)
{
	struct vtd_xlate x = {
		.mode = VTD_XLATE_FL, .scalable = true, .aw_bits = 48, .fl_levels = 4,
		.flptr = FS_ROOT, .fl_1g = true, .sre = true,
	};
	struct vtd_fault f = { 0 };
	uint64_t gpa = 0, l3;

	vtd_test_page(&tables);		/* FS_ROOT */
	l3 = vtd_test_page(&tables);
	vtd_test_write64(&vm, FS_ROOT, l3 | FL_P_RW);
	/* IOVA 1 GiB .. 2 GiB -> GPA 0 .. 1 GiB (the guest's 16 MiB sit at its start). */
	vtd_test_write64(&vm, l3 + 8, 0 | FL_P_RW | (1ULL << 7));
	ck_assert_int_eq(vtd_translate(&vm, &x, (1ULL << 30) + DATA + 0x123, VTD_ACCESS_READ,
				       &gpa, &f), 0);
	ck_assert_uint_eq(gpa, DATA + 0x123);

	x.fl_1g = false;
	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(vtd_translate(&vm, &x, (1ULL << 30) + DATA, VTD_ACCESS_READ, &gpa, &f),
			 -1);
	ck_assert_uint_eq(f.reason, VTD_FR_FS_RSVD);
}
END_TEST

static Suite *vtd_walk_suite(void)
{
	Suite *s = suite_create("vtd_walk");
	TCase *tc = tcase_create("races");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, nested_ad_update_follows_the_new_mapping);
	tcase_add_test(tc, first_stage_1g_page_only_with_fs1gp);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(vtd_walk_suite());
}
