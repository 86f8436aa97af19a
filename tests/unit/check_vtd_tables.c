// SPDX-License-Identifier: MIT
/*
 * The emulated VT-d's table lookups (viommu/tables.c), page walks
 * (viommu/walk.c) and tag-store attachments, against tables built in a
 * malloc'ed guest RAM: no KVM.
 */
#include <check.h>
#include <pthread.h>
#include <string.h>

#include "check_main.h"
#include "viommu/viommu-priv.h"
#include "vtd_testutil.h"

#define ROOT		0x10000ULL
#define RAM		VTD_TEST_RAM_SIZE
#define SL_RW		3ULL			/* second stage R|W */
#define FL_PRESENT	1ULL
#define FL_RW		2ULL
#define FL_US		4ULL
#define FL_A		(1ULL << 5)
#define FL_D		(1ULL << 6)
#define FL_XD		(1ULL << 63)
#define FL_TABLE	(FL_PRESENT | FL_RW | FL_US)

struct fixture {
	struct vm vm;
	struct vtd_test_host host;
	struct viommu u;
	struct vtd_test_tables t;
	struct viommu_dev dev[2];
};

static struct fixture fx;

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	vtd_test_vm_init(&fx.vm, RAM);
	vtd_test_host_init(&fx.host, 1);
	fx.t.vm = &fx.vm;
	fx.t.next = 0x100000;
	fx.u.vm = &fx.vm;
	fx.u.index = 0;
	/* SAGAW 3/4/5-level, MGAW 47, SLLPS 2M+1G, FS1GP, FS5LP. */
	fx.u.cap = (0xeULL << VTD_CAP_SAGAW_SHIFT) | (47ULL << VTD_CAP_MGAW_SHIFT) | (3ULL << 34) |
		   VTD_CAP_FS1GP | VTD_CAP_FS5LP;
	fx.u.ecap = VTD_ECAP_DT | VTD_ECAP_PT | VTD_ECAP_NEST | VTD_ECAP_SMTS | VTD_ECAP_FLTS |
		    VTD_ECAP_SLTS | VTD_ECAP_SRS | VTD_ECAP_PASID | 19ULL << VTD_ECAP_PSS_SHIFT;
	fx.u.gsts = VTD_GCMD_TE;
	fx.u.rtaddr_active = ROOT;
	fx.u.ts = fx.host.ts;
	fx.u.fe = fx.host.fe;
	pthread_mutex_init(&fx.u.lock, NULL);
	for (int i = 0; i < 2; i++) {
		fx.dev[i].unit = &fx.u;
		fx.dev[i].guest_sid = (uint16_t)(0x0010 + i * 8);	/* 00:02.0, 00:03.0 */
		vtd_test_host_device(&fx.host, &fx.dev[i].host, 0, (uint16_t)(0x100 + i), i == 0);
	}
}

static void teardown(void)
{
	pthread_mutex_destroy(&fx.u.lock);
	vtd_test_host_free(&fx.host);
	vtd_test_vm_free(&fx.vm);
}

static void scalable(void)
{
	fx.u.rtaddr_active = ROOT | 1ULL << VTD_RTADDR_TTM_SHIFT;
}

static int lookup(uint16_t sid, bool has_pasid, uint32_t pasid, struct vtd_xlate *x,
		  struct vtd_fault *f)
{
	return vtd_lookup(&fx.u, sid, has_pasid, pasid, x, f);
}

/* ---- legacy lookup ---- */

START_TEST(legacy_present)
{
	struct vtd_xlate x;
	struct vtd_fault f;
	uint64_t slpt = vtd_test_page(&fx.t);

	vtd_test_legacy_ctx(&fx.t, ROOT, 0x0010, slpt | 1, 2 | 7 << 8);	/* AW 2, DID 7 */
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), 0);
	ck_assert_int_eq(x.mode, VTD_XLATE_SL);
	ck_assert_uint_eq(x.did, 7);
	ck_assert_uint_eq(x.sl_levels, 4);
	ck_assert_uint_eq(x.slptr, slpt);
	ck_assert(!x.ats_ok && !x.fpd && !x.scalable);

	/* TT 1: device TLB allowed; TT 2: pass-through; FPD. */
	vtd_test_legacy_ctx(&fx.t, ROOT, 0x0010, slpt | 1 | 1 << 2 | 2, 2 | 7 << 8);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), 0);
	ck_assert(x.ats_ok && x.fpd);
	vtd_test_legacy_ctx(&fx.t, ROOT, 0x0010, 1 | 2 << 2, 7 << 8);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), 0);
	ck_assert_int_eq(x.mode, VTD_XLATE_PT);

	/* Translation disabled: pass-through whatever the tables say. */
	fx.u.gsts = 0;
	ck_assert_int_eq(lookup(0x0300, false, 0, &x, &f), 0);
	ck_assert_int_eq(x.mode, VTD_XLATE_PT);
}
END_TEST

START_TEST(legacy_faults)
{
	struct vtd_xlate x;
	struct vtd_fault f;
	uint64_t slpt = vtd_test_page(&fx.t);

	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_ROOT_NOT_PRESENT);
	ck_assert_uint_eq(f.sid, 0x0010);

	vtd_test_legacy_ctx(&fx.t, ROOT, 0x0010, slpt | 1, 2 | 7 << 8);
	ck_assert_int_eq(lookup(0x0018, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_CTX_NOT_PRESENT);

	/* Requests with PASID have no place in legacy tables. */
	ck_assert_int_eq(lookup(0x0010, true, 5, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PASID_IN_LEGACY);

	/* Reserved bits: context lo bit 4, hi bit 7, SLPTPTR above the 48-bit HAW; TT 3; AW 0. */
	vtd_test_legacy_ctx(&fx.t, ROOT, 0x0010, slpt | 1 | 1 << 4, 2 | 7 << 8);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_CTX_RSVD);
	vtd_test_legacy_ctx(&fx.t, ROOT, 0x0010, slpt | 1, 2 | 1 << 7);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_CTX_RSVD);
	vtd_test_legacy_ctx(&fx.t, ROOT, 0x0010, slpt | 1 | 1ULL << 50, 2);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_CTX_RSVD);
	vtd_test_legacy_ctx(&fx.t, ROOT, 0x0010, slpt | 1 | 3 << 2, 2);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_CTX_INVALID);
	vtd_test_legacy_ctx(&fx.t, ROOT, 0x0010, slpt | 1, 0);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_CTX_INVALID);

	/* Root entry reserved bits, then a context table outside RAM. */
	vtd_test_write64(&fx.vm, ROOT + 8, 1);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_ROOT_RSVD);
	vtd_test_write64(&fx.vm, ROOT + 8, 0);
	vtd_test_write64(&fx.vm, ROOT, (RAM + 0x1000) | 1);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_CTX_TABLE_INVALID);

	/* Root table outside RAM, and a root entry straddling its end. */
	fx.u.rtaddr_active = RAM + 0x10000;
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_ROOT_TABLE_INVALID);
	fx.u.rtaddr_active = RAM - 0x1000;
	ck_assert_int_eq(lookup(0xff00, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_ROOT_NOT_PRESENT);	/* last entry is in RAM, zero */

	/* A reserved TTM. */
	fx.u.rtaddr_active = ROOT | 2ULL << VTD_RTADDR_TTM_SHIFT;
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_RTADDR_INVALID);
}
END_TEST

/* ---- scalable lookup ---- */

#define PE_PGTT(p)	((uint64_t)(p) << 6)

static uint64_t sm_setup(uint16_t sid, uint64_t extra_v0, uint32_t rid_pasid)
{
	/* PDTS 7 below: 2^14 directory entries, 32 pages. */
	uint64_t pdir = vtd_test_page(&fx.t);

	for (int i = 1; i < 32; i++)
		vtd_test_page(&fx.t);
	scalable();
	/* P, DTE, PASIDE, PDTS 7. */
	vtd_test_sm_ctx(&fx.t, ROOT, sid, pdir | 1 | 1 << 2 | 1 << 3 | 7ULL << 9 | extra_v0,
			rid_pasid);
	return pdir;
}

START_TEST(sm_lookup)
{
	struct vtd_xlate x;
	struct vtd_fault f;
	uint64_t pdir = sm_setup(0x0010, 0, 0);
	uint64_t flpt = vtd_test_page(&fx.t), slpt = vtd_test_page(&fx.t);
	uint64_t fl[8] = { 1 | PE_PGTT(1), 3, flpt | 1 | 1 << 4 };	/* SRE, WPE, DID 3 */
	uint64_t sl[8] = { slpt | 1 | 2 << 2 | PE_PGTT(2), 9 };
	uint64_t nest[8] = { slpt | 1 | 2 << 2 | PE_PGTT(3), 11, flpt | 1 << 2 };	/* 5-level */
	uint64_t pt[8] = { 1 | PE_PGTT(4), 12 };

	vtd_test_pasid_entry(&fx.t, pdir, 0, fl);
	vtd_test_pasid_entry(&fx.t, pdir, 0x1234, sl);
	vtd_test_pasid_entry(&fx.t, pdir, 0x1235, nest);
	vtd_test_pasid_entry(&fx.t, pdir, 0xfffff, pt);

	/* RID_PASID (0) for requests without PASID. */
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), 0);
	ck_assert_int_eq(x.mode, VTD_XLATE_FL);
	ck_assert(x.scalable && x.ats_ok && x.sre && x.wpe);
	ck_assert_uint_eq(x.did, 3);
	ck_assert_uint_eq(x.flptr, flpt);
	ck_assert_uint_eq(x.fl_levels, 4);

	ck_assert_int_eq(lookup(0x0010, true, 0x1234, &x, &f), 0);
	ck_assert_int_eq(x.mode, VTD_XLATE_SL);
	ck_assert_uint_eq(x.did, 9);
	ck_assert_uint_eq(x.sl_levels, 4);
	ck_assert_uint_eq(x.slptr, slpt);

	ck_assert_int_eq(lookup(0x0010, true, 0x1235, &x, &f), 0);
	ck_assert_int_eq(x.mode, VTD_XLATE_NESTED);
	ck_assert_uint_eq(x.fl_levels, 5);
	ck_assert(!x.sre);

	ck_assert_int_eq(lookup(0x0010, true, 0xfffff, &x, &f), 0);
	ck_assert_int_eq(x.mode, VTD_XLATE_PT);
	ck_assert_uint_eq(x.did, 12);

	/* Without ECAP.SRS, SRE and WPE are reserved: the entry faults, FPD honoured. */
	fx.u.ecap &= ~VTD_ECAP_SRS;
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PTE_RSVD);
	fl[2] = flpt | 1 << 4;		/* WPE alone */
	vtd_test_pasid_entry(&fx.t, pdir, 0, fl);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PTE_RSVD);
	fl[2] = flpt;
	vtd_test_pasid_entry(&fx.t, pdir, 0, fl);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), 0);
	ck_assert(!x.sre && !x.wpe);
	fx.u.ecap |= VTD_ECAP_SRS;

	/* A device in the upper half of the root entry. */
	pdir = sm_setup(0x0185, 0, 0);
	vtd_test_pasid_entry(&fx.t, pdir, 0, sl);
	ck_assert_int_eq(lookup(0x0185, false, 0, &x, &f), 0);
	ck_assert_uint_eq(x.did, 9);
	ck_assert(vtd_test_read64(&fx.vm, ROOT + 16 + 8) & 1);	/* bus 1, upper half */
}
END_TEST

START_TEST(sm_faults)
{
	struct vtd_xlate x;
	struct vtd_fault f;
	uint64_t pdir = sm_setup(0x0010, 0, 0);
	uint64_t pe[8] = { 1 | PE_PGTT(4), 1 };

	vtd_test_pasid_entry(&fx.t, pdir, 64, pe);

	/* PASID entry not present (its table exists); no FPD anywhere: recorded. */
	ck_assert_int_eq(lookup(0x0010, true, 65, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PTE_NOT_PRESENT);
	ck_assert(!f.suppress && f.has_pasid && f.pasid == 65);
	ck_assert_int_eq(lookup(0x0010, true, 0x400, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PDE_NOT_PRESENT);

	pe[0] |= 1ULL << 10;	/* reserved */
	vtd_test_pasid_entry(&fx.t, pdir, 64, pe);
	ck_assert_int_eq(lookup(0x0010, true, 64, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PTE_RSVD);
	pe[0] = 1 | PE_PGTT(5);
	vtd_test_pasid_entry(&fx.t, pdir, 64, pe);
	ck_assert_int_eq(lookup(0x0010, true, 64, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PTE_PGTT);
	pe[0] = 1 | PE_PGTT(2);		/* SL with AW 0: unsupported width */
	vtd_test_pasid_entry(&fx.t, pdir, 64, pe);
	ck_assert_int_eq(lookup(0x0010, true, 64, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PTE_PGTT);
	pe[0] = 1 | 2 | PE_PGTT(1);	/* FPD in the PASID entry, FLPM 2 reserved */
	pe[2] = 2 << 2;
	vtd_test_pasid_entry(&fx.t, pdir, 64, pe);
	ck_assert_int_eq(lookup(0x0010, true, 64, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PTE_PGTT);
	ck_assert(f.suppress);

	/* PASID directory entry reserved bits; then its table outside RAM. */
	vtd_test_write64(&fx.vm, pdir + 8, vtd_test_read64(&fx.vm, pdir + 8) | 1 << 5);
	ck_assert_int_eq(lookup(0x0010, true, 64, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PDE_RSVD);
	vtd_test_write64(&fx.vm, pdir + 8, (RAM + 0x1000) | 1);
	ck_assert_int_eq(lookup(0x0010, true, 64, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PTE_ACCESS);

	/* PDTS 0: 128 directory entries, PASID 128 * 64 is beyond. */
	sm_setup(0x0010, 0, 0);
	vtd_test_sm_ctx(&fx.t, ROOT, 0x0010, pdir | 1 | 1 << 3, 0);
	ck_assert_int_eq(lookup(0x0010, true, 128 * 64, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_CTE_PDTS);
	/* PASIDE clear: requests with PASID fault. */
	vtd_test_sm_ctx(&fx.t, ROOT, 0x0010, pdir | 1, 0);
	ck_assert_int_eq(lookup(0x0010, true, 64, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_CTE_PASIDE);
	/* Context reserved bits, not present, root entry not present. */
	vtd_test_sm_ctx(&fx.t, ROOT, 0x0010, pdir | 1 | 1 << 5, 0);
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_CTE_RSVD);
	ck_assert_int_eq(lookup(0x0011, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_CTE_NOT_PRESENT);
	ck_assert_int_eq(lookup(0x0090, false, 0, &x, &f), -1);	/* devfn >= 128: upper half */
	ck_assert_uint_eq(f.reason, VTD_FR_SM_RTE_NOT_PRESENT);
	fx.u.rtaddr_active = (RAM + 0x1000) | 1ULL << VTD_RTADDR_TTM_SHIFT;
	ck_assert_int_eq(lookup(0x0010, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_TABLE_ACCESS);
}
END_TEST

/* ---- second-stage walks ---- */

static struct vtd_xlate sl_xlate(uint64_t slpt, bool scalable_mode)
{
	struct vtd_xlate x = {
		.mode = VTD_XLATE_SL, .slptr = slpt, .sl_levels = 4, .scalable = scalable_mode,
		.aw_bits = 48, .sl_2m = true, .sl_1g = true,
	};
	return x;
}

static int xlate(const struct vtd_xlate *x, uint64_t iova, unsigned int access, uint64_t *gpa,
		 struct vtd_fault *f)
{
	memset(f, 0, sizeof(*f));
	return vtd_translate(&fx.vm, x, iova, access, gpa, f);
}

START_TEST(sl_walks)
{
	uint64_t slpt = vtd_test_page(&fx.t), gpa = 0;
	struct vtd_xlate x = sl_xlate(slpt, false);
	struct vtd_fault f;

	vtd_test_map(&fx.t, slpt, 4, 0x7000001000ULL, 0x5000, 1, SL_RW, SL_RW);
	vtd_test_map(&fx.t, slpt, 4, 0x40200000ULL, 0x800000, 2, 1, SL_RW);	/* read-only 2M */
	vtd_test_map(&fx.t, slpt, 4, 0x80000000ULL, 0x40000000, 3, SL_RW, SL_RW);	/* 1G */

	ck_assert_int_eq(xlate(&x, 0x7000001abcULL, VTD_ACCESS_WRITE, &gpa, &f), 0);
	ck_assert_uint_eq(gpa, 0x5abc);
	ck_assert_int_eq(xlate(&x, 0x40212345ULL, VTD_ACCESS_READ, &gpa, &f), 0);
	ck_assert_uint_eq(gpa, 0x812345);
	ck_assert_int_eq(xlate(&x, 0x80123456ULL, VTD_ACCESS_READ, &gpa, &f), 0);
	ck_assert_uint_eq(gpa, 0x40123456);

	/* Permissions: write to a read-only page; a hole. */
	ck_assert_int_eq(xlate(&x, 0x40212345ULL, VTD_ACCESS_WRITE, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_WRITE);
	ck_assert(f.write);
	ck_assert_uint_eq(f.addr, 0x40212000ULL);
	ck_assert_int_eq(xlate(&x, 0x7000002000ULL, VTD_ACCESS_READ, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_READ);
	x.scalable = true;
	ck_assert_int_eq(xlate(&x, 0x40212345ULL, VTD_ACCESS_WRITE, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_WRITE);
	x.scalable = false;

	/* Beyond MGAW (48 bits), and beyond a 3-level AGAW (39 bits). */
	ck_assert_int_eq(xlate(&x, 1ULL << 48, VTD_ACCESS_READ, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_ADDR_BEYOND_MGAW);
	x.sl_levels = 3;
	ck_assert_int_eq(xlate(&x, 1ULL << 39, VTD_ACCESS_READ, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_ADDR_BEYOND_MGAW);
	x.sl_levels = 4;

	/* Reserved: an address bit above the 48-bit width; a 2M leaf with low bits set. */
	vtd_test_map(&fx.t, slpt, 4, 0x7000003000ULL, 1ULL << 49, 1, SL_RW, SL_RW);
	ck_assert_int_eq(xlate(&x, 0x7000003000ULL, VTD_ACCESS_READ, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_PAGING_RSVD);
	vtd_test_map(&fx.t, slpt, 4, 0x40400000ULL, 0x801000, 2, SL_RW, SL_RW);
	ck_assert_int_eq(xlate(&x, 0x40400000ULL, VTD_ACCESS_READ, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_PAGING_RSVD);
	/* Without 2M support, PS at level 2 is reserved. */
	x.sl_2m = false;
	ck_assert_int_eq(xlate(&x, 0x40212345ULL, VTD_ACCESS_READ, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_PAGING_RSVD);
	x.sl_2m = true;

	/* A next-level table outside RAM; an SLPTPTR outside RAM. */
	vtd_test_write64(&fx.vm, slpt + 8 * 0x10, (RAM + 0x3000) | SL_RW);
	ck_assert_int_eq(xlate(&x, 0x10ULL << 39, VTD_ACCESS_READ, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_PAGING_ENTRY_INVALID);
	x = sl_xlate(RAM - 8 + 0x1000, true);
	ck_assert_int_eq(xlate(&x, 0, VTD_ACCESS_READ, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SS_PTR_INVALID);

	/* A loop (a table pointing at itself) ends after the levels run out. */
	x = sl_xlate(slpt, false);
	vtd_test_write64(&fx.vm, slpt + 8 * 0x20, slpt | SL_RW);
	ck_assert_int_eq(xlate(&x, 0x20ULL << 39 | 0x20ULL << 30 | 0x20ULL << 21 | 0x20ULL << 12,
			       VTD_ACCESS_READ, &gpa, &f), 0);
	ck_assert_uint_eq(gpa, slpt);	/* the table read as its own page, four times: no spin */

	/* Pass-through. */
	x.mode = VTD_XLATE_PT;
	ck_assert_int_eq(xlate(&x, 0x1234, VTD_ACCESS_WRITE, &gpa, &f), 0);
	ck_assert_uint_eq(gpa, 0x1234);
}
END_TEST

/* ---- first-stage walks ---- */

static struct vtd_xlate fl_xlate(uint64_t flpt)
{
	struct vtd_xlate x = {
		.mode = VTD_XLATE_FL, .flptr = flpt, .fl_levels = 4, .scalable = true,
		.aw_bits = 48, .fl_1g = true,
	};
	return x;
}

START_TEST(fl_walks)
{
	uint64_t flpt = vtd_test_page(&fx.t), gpa = 0;
	struct vtd_xlate x = fl_xlate(flpt);
	struct vtd_fault f;
	const uint64_t user_rw = 0x7fff00001000ULL, user_ro = 0x7fff00002000ULL;
	const uint64_t kernel = 0xffff800000003000ULL, big = 0x7fff40000000ULL;
	uint64_t leaf;

	vtd_test_map(&fx.t, flpt, 4, user_rw, 0x6000, 1, FL_PRESENT | FL_RW | FL_US, FL_TABLE);
	vtd_test_map(&fx.t, flpt, 4, user_ro, 0x7000, 1, FL_PRESENT | FL_US | FL_XD, FL_TABLE);
	vtd_test_map(&fx.t, flpt, 4, kernel, 0x8000, 1, FL_PRESENT, FL_PRESENT | FL_RW);
	vtd_test_map(&fx.t, flpt, 4, big, 0x200000, 2, FL_PRESENT | FL_RW | FL_US, FL_TABLE);

	/* User read: A set in every entry used, D not. */
	ck_assert_int_eq(xlate(&x, user_rw + 0x10, VTD_ACCESS_READ | VTD_ACCESS_USER, &gpa, &f), 0);
	ck_assert_uint_eq(gpa, 0x6010);
	ck_assert(vtd_test_read64(&fx.vm, flpt + 8 * 255) & FL_A);
	/* User write: D set in the leaf. */
	ck_assert_int_eq(xlate(&x, user_rw, VTD_ACCESS_WRITE | VTD_ACCESS_USER, &gpa, &f), 0);

	/* Find the leaf through the tables to check A/D exactly. */
	{
		uint64_t t = flpt;

		for (int level = 4; level > 1; level--)
			t = vtd_test_read64(&fx.vm, t + ((user_rw >> (12 + 9 * (level - 1))) & 511) * 8) &
			    0xffffffffff000ULL;
		leaf = vtd_test_read64(&fx.vm, t + ((user_rw >> 12) & 511) * 8);
		ck_assert_uint_eq(leaf & (FL_A | FL_D), FL_A | FL_D);
		leaf = vtd_test_read64(&fx.vm, t + ((user_ro >> 12) & 511) * 8);
		ck_assert_uint_eq(leaf & (FL_A | FL_D), 0);
	}

	/* User write to read-only; exec of XD; user access to a supervisor page. */
	ck_assert_int_eq(xlate(&x, user_ro, VTD_ACCESS_WRITE | VTD_ACCESS_USER, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_WRITE);
	ck_assert_int_eq(xlate(&x, user_ro, VTD_ACCESS_READ | VTD_ACCESS_EXEC | VTD_ACCESS_USER,
			       &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_FS_EXEC);
	ck_assert_int_eq(xlate(&x, kernel, VTD_ACCESS_READ | VTD_ACCESS_USER, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_FS_USER);

	/* Supervisor requests need SRE; writes to read-only pages fault only with WPE. */
	ck_assert_int_eq(xlate(&x, kernel, VTD_ACCESS_READ, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PTE_SRE);
	x.sre = true;
	ck_assert_int_eq(xlate(&x, kernel + 8, VTD_ACCESS_WRITE, &gpa, &f), 0);
	ck_assert_uint_eq(gpa, 0x8008);
	x.wpe = true;
	ck_assert_int_eq(xlate(&x, kernel, VTD_ACCESS_WRITE, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_WRITE);

	/* 2M page; non-canonical; not present; reserved (PS in a PML4 entry). */
	ck_assert_int_eq(xlate(&x, big + 0x1234, VTD_ACCESS_READ | VTD_ACCESS_USER, &gpa, &f), 0);
	ck_assert_uint_eq(gpa, 0x201234);
	ck_assert_int_eq(xlate(&x, 0x0000800000000000ULL, VTD_ACCESS_READ | VTD_ACCESS_USER, &gpa,
			       &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_FS_NONCANONICAL);
	ck_assert_int_eq(xlate(&x, 0x1000, VTD_ACCESS_READ | VTD_ACCESS_USER, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_FS_NOT_PRESENT);
	vtd_test_write64(&fx.vm, flpt, 0x9000 | FL_TABLE | 1 << 7);
	ck_assert_int_eq(xlate(&x, 0x1000, VTD_ACCESS_READ | VTD_ACCESS_USER, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_FS_RSVD);
	/* FSPTPTR outside RAM. */
	x.flptr = RAM;
	ck_assert_int_eq(xlate(&x, 0x1000, VTD_ACCESS_READ | VTD_ACCESS_USER, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_FS_PTR_INVALID);
	ck_assert(!f.suppress);
	x.fpd = true;
	ck_assert_int_eq(xlate(&x, 0x1000, VTD_ACCESS_READ | VTD_ACCESS_USER, &gpa, &f), -1);
	ck_assert(f.suppress);
}
END_TEST

START_TEST(nested_walks)
{
	uint64_t slpt = vtd_test_page(&fx.t), flpt = vtd_test_page(&fx.t), gpa = 0;
	struct vtd_xlate x = fl_xlate(flpt);
	struct vtd_fault f;
	const uint64_t iova = 0x7000000000ULL, ipa_out = RAM + 0x5000;

	/* Second stage: identity for the first 8 MiB (2M pages), and ipa_out -> 0x300000. */
	for (uint64_t a = 0; a < 0x800000; a += 0x200000)
		vtd_test_map(&fx.t, slpt, 4, a, a, 2, SL_RW, SL_RW);
	vtd_test_map(&fx.t, slpt, 4, ipa_out, 0x300000, 1, SL_RW, SL_RW);
	vtd_test_map(&fx.t, flpt, 4, iova, ipa_out, 1, FL_PRESENT | FL_RW | FL_US, FL_TABLE);
	x.mode = VTD_XLATE_NESTED;
	x.slptr = slpt;
	x.sl_levels = 4;
	x.sl_2m = x.sl_1g = true;

	ck_assert_int_eq(xlate(&x, iova + 0x42, VTD_ACCESS_WRITE | VTD_ACCESS_USER, &gpa, &f), 0);
	ck_assert_uint_eq(gpa, 0x300042);
	/* As FL only, the same tables give the intermediate address. */
	x.mode = VTD_XLATE_FL;
	ck_assert_int_eq(xlate(&x, iova + 0x42, VTD_ACCESS_READ | VTD_ACCESS_USER, &gpa, &f), 0);
	ck_assert_uint_eq(gpa, ipa_out + 0x42);
	x.mode = VTD_XLATE_NESTED;

	/* The final address not writable in the second stage. */
	vtd_test_map(&fx.t, slpt, 4, ipa_out, 0x300000, 1, 1, SL_RW);
	ck_assert_int_eq(xlate(&x, iova, VTD_ACCESS_WRITE | VTD_ACCESS_USER, &gpa, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_WRITE);

	/* First-stage tables made read-only in the second stage: A/D update refused. */
	{
		struct vtd_xlate y = x;
		uint64_t pml4e = vtd_test_read64(&fx.vm, flpt + ((iova >> 39) & 511) * 8);

		vtd_test_write64(&fx.vm, flpt + ((iova >> 39) & 511) * 8, pml4e & ~FL_A);
		vtd_test_map(&fx.t, slpt, 4, 0, 0, 2, 1, SL_RW);	/* 0-2M: read-only */
		ck_assert(flpt < 0x200000);
		ck_assert_int_eq(xlate(&y, iova, VTD_ACCESS_READ | VTD_ACCESS_USER, &gpa, &f), -1);
		ck_assert_uint_eq(f.reason, VTD_FR_NESTED_FS_WRITE);
		/* ... and not readable: the root table read is refused. */
		vtd_test_map(&fx.t, slpt, 4, 0, 0, 2, 2, SL_RW);	/* write-only */
		ck_assert_int_eq(xlate(&y, iova, VTD_ACCESS_READ | VTD_ACCESS_USER, &gpa, &f), -1);
		ck_assert_uint_eq(f.reason, VTD_FR_NESTED_FS_ROOT_READ);
	}
}
END_TEST

/* ---- attachments ---- */

static size_t iotlb_users(uint16_t did, uint32_t pasid, size_t *ntags)
{
	struct guest_domain_key key = { .viommu = 0, .did = did, .pasid = pasid };
	const struct tag_domain *d;
	size_t users = 0;

	*ntags = 0;
	tag_store_read_lock(fx.host.ts);
	d = tag_store_find(fx.host.ts, key);
	if (d) {
		size_t n;
		const struct cache_tag *t = tag_domain_tags(d, &n);

		for (size_t i = 0; i < n; i++) {
			if (t[i].type == CACHE_TAG_IOTLB || t[i].type == CACHE_TAG_NESTING_IOTLB) {
				users += t[i].users;
				(*ntags)++;
			}
		}
	}
	tag_store_read_unlock(fx.host.ts);
	return users;
}

static uint64_t host_invalidations(void)
{
	struct flush_stats s;

	flush_engine_stats(fx.host.fe, &s);
	return s.host_invalidations + s.host_devtlb_invalidations;
}

START_TEST(sync_legacy)
{
	uint64_t slpt = vtd_test_page(&fx.t);
	size_t ntags;

	fx.u.devs[0] = &fx.dev[0];
	fx.u.devs[1] = &fx.dev[1];
	fx.u.ndevs = 2;
	vtd_test_legacy_ctx(&fx.t, ROOT, fx.dev[0].guest_sid, slpt | 1, 2 | 5 << 8);
	vtd_test_legacy_ctx(&fx.t, ROOT, fx.dev[1].guest_sid, slpt | 1, 2 | 5 << 8);

	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 1);
	ck_assert_uint_eq(fx.dev[0].attach[0].did, 5);
	ck_assert_uint_eq(fx.dev[0].attach[0].host_did, vtd_host_did(&fx.u, 5));
	ck_assert(!fx.dev[0].attach[0].nested);
	/* Two devices of one domain behind one host unit: one IOTLB tag, two users. */
	ck_assert_uint_eq(iotlb_users(5, 0, &ntags), 2);
	ck_assert_uint_eq(ntags, 1);
	ck_assert_uint_eq(tag_store_domains(fx.host.ts), 1);

	/* Syncing again changes nothing and flushes nothing. */
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(iotlb_users(5, 0, &ntags), 2);
	ck_assert_uint_eq(host_invalidations(), 0);

	/* Device 0 moves to DID 6: flush (IOTLB + its ATC), detach, attach. */
	ck_assert_int_eq(simvtd_iotlb_insert(fx.host.sim, 0, vtd_host_did(&fx.u, 5), 0, false, 0x1000),
			 0);
	vtd_test_legacy_ctx(&fx.t, ROOT, fx.dev[0].guest_sid, slpt | 1, 2 | 6 << 8);
	vtd_sync_attachments(&fx.u, false, fx.dev[0].guest_sid);
	ck_assert_uint_eq(host_invalidations(), 2);	/* IOTLB DSI + device TLB (ATS) */
	ck_assert(!simvtd_iotlb_present(fx.host.sim, 0, vtd_host_did(&fx.u, 5), 0, 0x1000));
	ck_assert_uint_eq(fx.dev[0].nattach, 1);
	ck_assert_uint_eq(fx.dev[0].attach[0].did, 6);
	ck_assert_uint_eq(iotlb_users(5, 0, &ntags), 1);
	ck_assert_uint_eq(iotlb_users(6, 0, &ntags), 1);

	/* Translation off: everything detached. */
	fx.u.gsts = 0;
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 0);
	ck_assert_uint_eq(fx.dev[1].nattach, 0);
	ck_assert_uint_eq(tag_store_domains(fx.host.ts), 0);
	ck_assert_uint_eq(tag_store_tags(fx.host.ts), 0);
}
END_TEST

START_TEST(sync_scalable)
{
	uint64_t pdir = sm_setup(fx.dev[0].guest_sid, 0, 0);
	uint64_t flpt = vtd_test_page(&fx.t), slpt = vtd_test_page(&fx.t);
	uint64_t fl[8] = { 1 | PE_PGTT(1), 3, flpt };
	uint64_t sl[8] = { slpt | 1 | 2 << 2 | PE_PGTT(2), 9 };
	uint64_t pt[8] = { 1 | PE_PGTT(4), 4 };
	uint64_t before;
	size_t ntags;

	fx.u.devs[0] = &fx.dev[0];
	fx.u.ndevs = 1;
	vtd_test_pasid_entry(&fx.t, pdir, 0, fl);
	vtd_test_pasid_entry(&fx.t, pdir, 0x1234, sl);
	vtd_test_pasid_entry(&fx.t, pdir, 0x1240, pt);		/* PT: no tags */
	vtd_test_pasid_entry(&fx.t, pdir, 0x30000, fl);		/* DID 3 again, other PASID */

	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 3);
	ck_assert_uint_eq(tag_store_domains(fx.host.ts), 3);
	ck_assert_uint_eq(iotlb_users(3, 0, &ntags), 1);
	ck_assert_uint_eq(iotlb_users(3, 0x30000, &ntags), 1);
	ck_assert_uint_eq(iotlb_users(9, 0x1234, &ntags), 1);

	/* PASID 0x30000 moves to DID 8: PASID-selective flush, detach, attach. */
	before = host_invalidations();
	fl[1] = 8;
	vtd_test_pasid_entry(&fx.t, pdir, 0x30000, fl);
	vtd_sync_attachments(&fx.u, false, fx.dev[0].guest_sid);
	ck_assert_uint_gt(host_invalidations(), before);
	ck_assert_uint_eq(iotlb_users(3, 0x30000, &ntags), 0);
	ck_assert_uint_eq(iotlb_users(8, 0x30000, &ntags), 1);
	ck_assert_uint_eq(iotlb_users(3, 0, &ntags), 1);
	ck_assert_uint_eq(fx.dev[0].nattach, 3);

	/* The PASID entry cleared: its attachment goes. */
	memset(fl, 0, sizeof(fl));
	vtd_test_pasid_entry(&fx.t, pdir, 0x30000, fl);
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 2);
	ck_assert_uint_eq(tag_store_domains(fx.host.ts), 2);

	/* Another device SID: nothing happens to this one. */
	fx.u.gsts = 0;
	vtd_sync_attachments(&fx.u, false, 0x0300);
	ck_assert_uint_eq(fx.dev[0].nattach, 2);
	vtd_sync_attachments(&fx.u, false, fx.dev[0].guest_sid);
	ck_assert_uint_eq(fx.dev[0].nattach, 0);
	ck_assert_uint_eq(tag_store_tags(fx.host.ts), 0);
}
END_TEST

/*
 * No ECAP.RPS: a non-zero RID_PASID is a reserved field (0x42), for
 * lookups with or without PASID, and nothing of the device is attached
 * (requests without PASID are cached under PASID 0 on the host).
 */
START_TEST(rid_pasid_reserved)
{
	uint64_t pdir = sm_setup(fx.dev[0].guest_sid, 0, 5);
	uint64_t slpt = vtd_test_page(&fx.t);
	uint64_t sl5[8] = { slpt | 1 | 2 << 2 | PE_PGTT(2), 7 };
	uint64_t sl0[8] = { slpt | 1 | 2 << 2 | PE_PGTT(2), 8 };
	struct vtd_xlate x;
	struct vtd_fault f;

	ck_assert_uint_eq(VTD_FR_SM_CTE_RSVD, 0x42);
	vtd_test_pasid_entry(&fx.t, pdir, 5, sl5);
	vtd_test_pasid_entry(&fx.t, pdir, 0, sl0);
	fx.u.devs[0] = &fx.dev[0];
	fx.u.ndevs = 1;

	ck_assert_int_eq(lookup(fx.dev[0].guest_sid, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_CTE_RSVD);
	ck_assert(!f.suppress);
	ck_assert_int_eq(lookup(fx.dev[0].guest_sid, true, 5, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_CTE_RSVD);
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 0);
	ck_assert_uint_eq(tag_store_domains(fx.host.ts), 0);

	/* RID_PASID 0: requests without PASID get PASID entry 0, attached as PASID 0. */
	vtd_test_sm_ctx(&fx.t, ROOT, fx.dev[0].guest_sid,
			pdir | 1 | 1 << 2 | 1 << 3 | 7ULL << 9, 0);
	ck_assert_int_eq(lookup(fx.dev[0].guest_sid, false, 0, &x, &f), 0);
	ck_assert_uint_eq(x.did, 8);
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 2);
	for (size_t i = 0; i < fx.dev[0].nattach; i++)
		ck_assert_uint_eq(fx.dev[0].attach[i].did, fx.dev[0].attach[i].pasid ? 7 : 8);
	ck_assert(fx.dev[0].pasid_ok);
}
END_TEST

/*
 * CAP.ND = 5: DID bits above 13 are reserved in legacy context entries
 * (0x0b) and PASID table entries (0x5a), so no attachment is ever made
 * with a DID that vtd_host_did() would have to fold onto another.
 */
START_TEST(wide_dids_reserved)
{
	uint64_t slpt = vtd_test_page(&fx.t);
	uint64_t pdir;
	uint64_t sl[8] = { slpt | 1 | 2 << 2 | PE_PGTT(2), 0x4003 };
	struct vtd_xlate x;
	struct vtd_fault f;

	fx.u.devs[0] = &fx.dev[0];
	fx.u.ndevs = 1;
	vtd_test_legacy_ctx(&fx.t, ROOT, fx.dev[0].guest_sid, slpt | 1, 2 | 0x4003ULL << 8);
	ck_assert_int_eq(lookup(fx.dev[0].guest_sid, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_CTX_RSVD);
	vtd_test_legacy_ctx(&fx.t, ROOT, fx.dev[0].guest_sid, slpt | 1, 2 | 0x8003ULL << 8);
	ck_assert_int_eq(lookup(fx.dev[0].guest_sid, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_CTX_RSVD);
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 0);
	/* The widest valid DID still works. */
	vtd_test_legacy_ctx(&fx.t, ROOT, fx.dev[0].guest_sid, slpt | 1, 2 | 0x3fffULL << 8);
	ck_assert_int_eq(lookup(fx.dev[0].guest_sid, false, 0, &x, &f), 0);
	ck_assert_uint_eq(x.did, 0x3fff);

	pdir = sm_setup(fx.dev[0].guest_sid, 0, 0);
	vtd_test_pasid_entry(&fx.t, pdir, 0, sl);
	vtd_test_pasid_entry(&fx.t, pdir, 0x1234, sl);
	ck_assert_int_eq(lookup(fx.dev[0].guest_sid, false, 0, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PTE_RSVD);
	ck_assert_int_eq(lookup(fx.dev[0].guest_sid, true, 0x1234, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_PTE_RSVD);
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 0);
	ck_assert_uint_eq(tag_store_domains(fx.host.ts), 0);
	sl[1] = 0x3fff;
	vtd_test_pasid_entry(&fx.t, pdir, 0x1234, sl);
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 1);
	ck_assert_uint_eq(fx.dev[0].attach[0].did, 0x3fff);
}
END_TEST

START_TEST(host_dids)
{
	struct viommu other = fx.u;

	other.index = 3;
	ck_assert_uint_ne(vtd_host_did(&fx.u, 5), vtd_host_did(&other, 5));
	ck_assert_uint_ne(vtd_host_did(&fx.u, 5), vtd_host_did(&fx.u, 6));
	ck_assert_uint_eq(vtd_host_did(&other, 0x3fff), 0xffff);
	ck_assert_uint_eq(vtd_host_did(&fx.u, 7), vtd_host_did(&fx.u, 7));
}
END_TEST

/* ---- PASID-cache granularity (vtd_sync_pasid, vtd_sync_domain) ---- */

/* The attachment of @pasid of @dev, or NULL. */
static const struct viommu_attach *attach_of(const struct viommu_dev *dev, uint32_t pasid)
{
	for (size_t i = 0; i < dev->nattach; i++)
		if (dev->attach[i].pasid == pasid)
			return &dev->attach[i];
	return NULL;
}

static uint16_t did_of(const struct viommu_dev *dev, uint32_t pasid)
{
	const struct viommu_attach *a = attach_of(dev, pasid);

	ck_assert_msg(a != NULL, "PASID %#x of %04x not attached", pasid, dev->guest_sid);
	return a->did;
}

/* A second-stage PASID entry with DID @did (slpt shared), or a cleared one (@did 0). */
static void sl_entry(uint64_t pdir, uint32_t pasid, uint64_t slpt, uint16_t did)
{
	uint64_t pe[8] = { 0 };

	if (did) {
		pe[0] = slpt | 1 | 2 << 2 | PE_PGTT(2);
		pe[1] = did;
	}
	vtd_test_pasid_entry(&fx.t, pdir, pasid, pe);
}

/*
 * PASID-selective: two entries of device 0 change (and one of device 1,
 * and a new PASID appears); a PC for one PASID moves only that one. A
 * second PC for the other moves it. No directory walk: the new PASID is
 * not picked up. Device 1's attachments are not touched (no flush, no
 * detach) by a PC naming a PASID it does not use, even though its tables
 * changed.
 */
START_TEST(pc_pasid_selective)
{
	uint64_t pdir0 = sm_setup(fx.dev[0].guest_sid, 0, 0);
	uint64_t pdir1 = sm_setup(fx.dev[1].guest_sid, 0, 0);
	uint64_t slpt = vtd_test_page(&fx.t);
	struct flush_result res;
	uint64_t before;
	size_t ntags;

	fx.u.devs[0] = &fx.dev[0];
	fx.u.devs[1] = &fx.dev[1];
	fx.u.ndevs = 2;
	sl_entry(pdir0, 0, slpt, 3);
	sl_entry(pdir0, 0x10, slpt, 4);
	sl_entry(pdir0, 0x20, slpt, 5);
	sl_entry(pdir1, 0, slpt, 3);
	sl_entry(pdir1, 0x20, slpt, 4);
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 3);
	ck_assert_uint_eq(fx.dev[1].nattach, 2);

	sl_entry(pdir0, 0x10, slpt, 8);
	sl_entry(pdir0, 0x20, slpt, 9);
	sl_entry(pdir0, 0x30, slpt, 4);		/* new, not attached yet */
	sl_entry(pdir1, 0x20, 0, 0);		/* device 1 drops 0x20 ... */
	sl_entry(pdir1, 0, slpt, 7);		/* ... and moves its PASID 0 */

	ck_assert_int_eq(simvtd_atc_insert(fx.host.sim, fx.dev[0].host.sid, 0x10, 0x3000), 0);
	ck_assert_int_eq(simvtd_atc_insert(fx.host.sim, fx.dev[0].host.sid, 0x20, 0x3000), 0);
	ck_assert_int_eq(simvtd_atc_insert(fx.host.sim, fx.dev[0].host.sid, 0, 0x3000), 0);
	before = host_invalidations();
	ck_assert_int_eq(vtd_sync_pasid(&fx.u, 4, 0x10, &res), 0);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0x10), 8);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0x20), 5);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0), 3);
	ck_assert_ptr_null(attach_of(&fx.dev[0], 0x30));
	ck_assert_uint_eq(fx.dev[0].nattach, 3);
	/* Only device 0's 0x10 was flushed (IOTLB of DID 4, ATC of PASID 0x10);
	 * the ATC entries of its other PASIDs, in other domains, stay. */
	ck_assert_uint_gt(host_invalidations(), before);
	ck_assert(!simvtd_atc_present(fx.host.sim, fx.dev[0].host.sid, 0x10, 0x3000));
	ck_assert(simvtd_atc_present(fx.host.sim, fx.dev[0].host.sid, 0x20, 0x3000));
	ck_assert(simvtd_atc_present(fx.host.sim, fx.dev[0].host.sid, 0, 0x3000));
	/* Device 1: unchanged, in dev->attach[] and in the store. */
	ck_assert_uint_eq(fx.dev[1].nattach, 2);
	ck_assert_uint_eq(did_of(&fx.dev[1], 0), 3);
	ck_assert_uint_eq(did_of(&fx.dev[1], 0x20), 4);
	ck_assert_uint_eq(iotlb_users(4, 0x20, &ntags), 1);
	ck_assert_uint_eq(iotlb_users(5, 0x20, &ntags), 1);
	ck_assert_uint_eq(iotlb_users(3, 0, &ntags), 2);
	ck_assert_uint_eq(iotlb_users(8, 0x10, &ntags), 1);
	ck_assert_uint_eq(iotlb_users(4, 0x10, &ntags), 0);

	/* The second PC: 0x20 moves on device 0 and goes on device 1 (its entry was cleared). */
	ck_assert_int_eq(vtd_sync_pasid(&fx.u, 4, 0x20, &res), 0);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0x20), 9);
	ck_assert_ptr_null(attach_of(&fx.dev[1], 0x20));
	ck_assert_uint_eq(did_of(&fx.dev[1], 0), 3);
	ck_assert_uint_eq(iotlb_users(4, 0x20, &ntags), 0);
	ck_assert_uint_eq(iotlb_users(5, 0x20, &ntags), 0);

	/* The descriptor's DID is not a filter: a PC naming another DID still re-reads 0x30. */
	ck_assert_int_eq(vtd_sync_pasid(&fx.u, 1234, 0x30, &res), 0);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0x30), 4);
	/* PASID 0 too (RID_PASID): device 1 moves now. */
	ck_assert_int_eq(vtd_sync_pasid(&fx.u, 3, 0, &res), 0);
	ck_assert_uint_eq(did_of(&fx.dev[1], 0), 7);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0), 3);

	/* Global: everything as the tables say, nothing more to do. */
	before = host_invalidations();
	ck_assert_int_eq(vtd_sync_attachments_result(&fx.u, true, 0, &res), 0);
	ck_assert_uint_eq(host_invalidations(), before);
	ck_assert_uint_eq(fx.dev[0].nattach, 4);
	ck_assert_uint_eq(fx.dev[1].nattach, 1);
}
END_TEST

/*
 * Domain-selective: only PASIDs whose attachment has the DID or whose
 * entry now names it move; global picks up the rest.
 */
START_TEST(pc_domain_selective)
{
	uint64_t pdir0 = sm_setup(fx.dev[0].guest_sid, 0, 0);
	uint64_t pdir1 = sm_setup(fx.dev[1].guest_sid, 0, 0);
	uint64_t slpt = vtd_test_page(&fx.t);
	struct flush_result res;

	fx.u.devs[0] = &fx.dev[0];
	fx.u.devs[1] = &fx.dev[1];
	fx.u.ndevs = 2;
	sl_entry(pdir0, 0, slpt, 3);
	sl_entry(pdir0, 0x10, slpt, 4);
	sl_entry(pdir0, 0x20, slpt, 4);
	sl_entry(pdir0, 0x30, slpt, 5);
	sl_entry(pdir1, 0x10, slpt, 4);
	sl_entry(pdir1, 0x50, slpt, 5);
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 4);
	ck_assert_uint_eq(fx.dev[1].nattach, 2);

	sl_entry(pdir0, 0, slpt, 9);		/* DID 3 -> 9: out of scope */
	sl_entry(pdir0, 0x10, slpt, 6);		/* old DID 4: moves */
	sl_entry(pdir0, 0x20, 0, 0);		/* old DID 4: goes */
	sl_entry(pdir0, 0x30, slpt, 4);		/* new DID 4: moves */
	sl_entry(pdir0, 0x40, slpt, 7);		/* new, DID 7: out of scope */
	sl_entry(pdir1, 0x10, slpt, 6);		/* device 1, old DID 4: moves */
	sl_entry(pdir1, 0x50, slpt, 8);		/* device 1, DID 5 -> 8: out of scope */

	ck_assert_int_eq(vtd_sync_domain(&fx.u, 4, &res), 0);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0), 3);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0x10), 6);
	ck_assert_ptr_null(attach_of(&fx.dev[0], 0x20));
	ck_assert_uint_eq(did_of(&fx.dev[0], 0x30), 4);
	ck_assert_ptr_null(attach_of(&fx.dev[0], 0x40));
	ck_assert_uint_eq(did_of(&fx.dev[1], 0x10), 6);
	ck_assert_uint_eq(did_of(&fx.dev[1], 0x50), 5);

	/* A domain PC for the new PASID's DID attaches it. */
	ck_assert_int_eq(vtd_sync_domain(&fx.u, 7, &res), 0);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0x40), 7);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0), 3);

	/* Global still does everything. */
	ck_assert_int_eq(vtd_sync_attachments_result(&fx.u, true, 0, &res), 0);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0), 9);
	ck_assert_uint_eq(did_of(&fx.dev[1], 0x50), 8);
	ck_assert_uint_eq(fx.dev[0].nattach, 4);
	ck_assert_uint_eq(fx.dev[1].nattach, 2);
}
END_TEST

/*
 * PASID-selective, same failure rule as a full resync: the leaving
 * attachment whose flush fails stays (and blocks its PASID), -1 with the
 * host's error; the next PC retries.
 */
START_TEST(pc_pasid_flush_failure_keeps)
{
	uint64_t pdir0 = sm_setup(fx.dev[0].guest_sid, 0, 0);
	uint64_t slpt = vtd_test_page(&fx.t);
	struct flush_result res = { 0 };
	size_t ntags;

	fx.u.devs[0] = &fx.dev[0];
	fx.u.ndevs = 1;
	sl_entry(pdir0, 0x10, slpt, 4);
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0x10), 4);

	sl_entry(pdir0, 0x10, slpt, 8);
	simvtd_inject_iqe(fx.host.sim, 0, 1);
	ck_assert_int_eq(vtd_sync_pasid(&fx.u, 4, 0x10, &res), -1);
	ck_assert_int_ne(res.status, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 1);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0x10), 4);
	ck_assert_uint_eq(iotlb_users(8, 0x10, &ntags), 0);

	ck_assert_int_eq(vtd_sync_pasid(&fx.u, 4, 0x10, &res), 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 1);
	ck_assert_uint_eq(did_of(&fx.dev[0], 0x10), 8);
}
END_TEST

/*
 * PASIDs beyond what ECAP advertises never become attachments (nor reach
 * a host): 2^(PSS + 1) of them, none with ECAP.PASID clear, whatever the
 * context entry's PASIDE and PDTS say.
 */
START_TEST(pasid_width_limits)
{
	uint64_t pdir = sm_setup(fx.dev[0].guest_sid, 0, 0);
	uint64_t fl[8] = { 1 | PE_PGTT(1), 3, vtd_test_page(&fx.t) };
	struct vtd_xlate x;
	struct vtd_fault f;

	fx.u.devs[0] = &fx.dev[0];
	fx.u.ndevs = 1;
	fx.u.ecap &= ~(0x1fULL << VTD_ECAP_PSS_SHIFT);
	fx.u.ecap |= 4ULL << VTD_ECAP_PSS_SHIFT;	/* 32 PASIDs */
	vtd_test_pasid_entry(&fx.t, pdir, 0, fl);
	vtd_test_pasid_entry(&fx.t, pdir, 31, fl);
	vtd_test_pasid_entry(&fx.t, pdir, 32, fl);
	vtd_test_pasid_entry(&fx.t, pdir, 0x1000, fl);
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 2);	/* PASIDs 0 and 31 */
	ck_assert_int_eq(lookup(fx.dev[0].guest_sid, true, 31, &x, &f), 0);
	ck_assert_int_eq(lookup(fx.dev[0].guest_sid, true, 32, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_CTE_PDTS);
	/* PASID-selective: the same limit. */
	ck_assert_int_eq(vtd_sync_pasid(&fx.u, 3, 0x1000, NULL), 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 2);

	/* No PASID support: only requests without PASID, through PASID entry 0. */
	fx.u.ecap &= ~(VTD_ECAP_PASID | 0x1fULL << VTD_ECAP_PSS_SHIFT);
	vtd_sync_attachments(&fx.u, true, 0);
	ck_assert_uint_eq(fx.dev[0].nattach, 1);
	ck_assert_uint_eq(fx.dev[0].attach[0].pasid, 0);
	ck_assert(!fx.dev[0].pasid_ok);
	ck_assert_int_eq(lookup(fx.dev[0].guest_sid, true, 31, &x, &f), -1);
	ck_assert_uint_eq(f.reason, VTD_FR_SM_CTE_PASIDE);
}
END_TEST

static Suite *vtd_tables_suite(void)
{
	Suite *s = suite_create("vtd_tables");
	TCase *tc = tcase_create("tables");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, legacy_present);
	tcase_add_test(tc, legacy_faults);
	tcase_add_test(tc, sm_lookup);
	tcase_add_test(tc, sm_faults);
	tcase_add_test(tc, sl_walks);
	tcase_add_test(tc, fl_walks);
	tcase_add_test(tc, nested_walks);
	tcase_add_test(tc, sync_legacy);
	tcase_add_test(tc, sync_scalable);
	tcase_add_test(tc, host_dids);
	tcase_add_test(tc, rid_pasid_reserved);
	tcase_add_test(tc, wide_dids_reserved);
	tcase_add_test(tc, pc_pasid_selective);
	tcase_add_test(tc, pc_domain_selective);
	tcase_add_test(tc, pc_pasid_flush_failure_keeps);
	tcase_add_test(tc, pasid_width_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(vtd_tables_suite());
}
