// SPDX-License-Identifier: MIT
/*
 * First-stage and second-stage page walks of the emulated VT-d (spec
 * 3.6-3.8, 9.7-9.8). Every table address and entry comes from the guest and
 * is hostile: each entry is read through vm_gpa() with its exact size, a
 * table outside RAM is the spec's "table access" fault, and the walk is
 * bounded by the number of levels, so loops in the guest's tables cannot
 * make it spin.
 *
 * Address widths: the unit's MGAW + 1 (x->aw_bits) is both the widest input
 * address and the guest's physical address width. Table pointers and output
 * addresses with bits set between aw_bits and 51 are reserved-bit faults, in
 * both stages; for the first stage this stands in for the guest CPU's
 * MAXPHYADDR (48 with the default MGAW of 47; 52 would only widen it).
 *
 * The caller fills the fault's SID and PASID; vtd_translate() fills the
 * address, the reason, the request type and whether FPD suppresses it.
 */
#include <stdbool.h>
#include <stdint.h>

#include "viommu/viommu-priv.h"
#include "vmm/kvm.h"
#include "vtd/regs.h"

/* Second-stage entry bits (spec 9.8). */
#define SL_R		VTD_BIT(0)
#define SL_W		VTD_BIT(1)
#define SL_PS		VTD_BIT(7)

/* First-stage entry bits: x86 paging (spec 9.7). */
#define FL_P		VTD_BIT(0)
#define FL_RW		VTD_BIT(1)
#define FL_US		VTD_BIT(2)
#define FL_A		VTD_BIT(5)
#define FL_D		VTD_BIT(6)
#define FL_PS		VTD_BIT(7)
#define FL_XD		VTD_BIT(63)

/*
 * Tests only (tests/unit/check_vtd_walk.c compiles this file with it):
 * called between a first-stage walk and its A/D updates, where another
 * vCPU may change the tables.
 */
#ifdef VTD_WALK_TEST_HOOK
void vtd_walk_test_hook(struct vm *vm);
#else
#define vtd_walk_test_hook(vm) ((void)(vm))
#endif

#define LEVEL_SHIFT(level)	(VTD_PAGE_SHIFT + 9 * ((level) - 1))
#define MAX_LEVELS		5

/* Why a second-stage walk failed; each caller maps it to its own fault reason. */
enum sl_error {
	SL_OK,
	SL_BEYOND_MGAW,
	SL_ROOT_ACCESS,		/* SLPTPTR's table outside RAM */
	SL_ACCESS,		/* a lower table outside RAM */
	SL_RSVD,
	SL_NO_READ,
	SL_NO_WRITE,
};

/* Bits [51:aw_bits] of a table pointer or output address: reserved. */
static uint64_t above_aw(const struct vtd_xlate *x)
{
	unsigned int aw = x->aw_bits ? x->aw_bits : 48;

	if (aw >= 52)
		return 0;
	return (VTD_BIT(52) - 1) & ~(VTD_BIT(aw) - 1);
}

static uint64_t addr_bits(void)
{
	return (VTD_BIT(52) - 1) & VTD_PAGE_MASK;
}

/*
 * The guest may rewrite an entry while we walk (another vCPU): read it once,
 * atomically, and use only that copy.
 */
static uint64_t *entry_ptr(struct vm *vm, uint64_t gpa)
{
	return vm_gpa(vm, gpa, sizeof(uint64_t));
}

static enum sl_error sl_walk(struct vm *vm, const struct vtd_xlate *x, uint64_t addr, bool write,
			     uint64_t *out)
{
	unsigned int levels = x->sl_levels;
	unsigned int width = VTD_PAGE_SHIFT + 9 * levels;
	uint64_t table = x->slptr & VTD_PAGE_MASK;

	if (levels < 2 || levels > MAX_LEVELS)
		return SL_ROOT_ACCESS;	/* vtd_lookup() never hands these out */
	if (x->aw_bits && x->aw_bits < width)
		width = x->aw_bits;
	if (width < 64 && addr >> width)
		return SL_BEYOND_MGAW;

	for (unsigned int level = levels; level >= 1; level--) {
		uint64_t *p = entry_ptr(vm, table + ((addr >> LEVEL_SHIFT(level)) & 511) * 8);
		uint64_t e, rsvd = above_aw(x);
		bool leaf = level == 1;

		if (!p)
			return level == levels ? SL_ROOT_ACCESS : SL_ACCESS;
		e = __atomic_load_n(p, __ATOMIC_ACQUIRE);
		/* R = W = 0 is "not present": the request faults as a permission fault. */
		if (!(e & (SL_R | SL_W)))
			return write ? SL_NO_WRITE : SL_NO_READ;
		if (e & SL_PS) {
			/* PS: a 1 GiB page at level 3, 2 MiB at level 2, if CAP.SLLPS says so. */
			if ((level == 3 && x->sl_1g) || (level == 2 && x->sl_2m)) {
				leaf = true;
				rsvd |= (VTD_BIT(LEVEL_SHIFT(level)) - 1) & VTD_PAGE_MASK;
			} else if (level != 1) {
				return SL_RSVD;
			}
		}
		if (e & rsvd)
			return SL_RSVD;
		/* Permissions are the AND over all levels (spec 3.7.1). */
		if (write ? !(e & SL_W) : !(e & SL_R))
			return write ? SL_NO_WRITE : SL_NO_READ;
		if (leaf) {
			uint64_t size = VTD_BIT(LEVEL_SHIFT(level));

			*out = (e & addr_bits() & ~(size - 1)) | (addr & (size - 1));
			return SL_OK;
		}
		table = e & addr_bits();
	}
	return SL_ACCESS;	/* not reached: level 1 is always a leaf */
}

/* Second-stage reasons for the final address of a request. */
static uint8_t sl_reason(const struct vtd_xlate *x, enum sl_error err)
{
	static const uint8_t legacy[] = {
		[SL_BEYOND_MGAW] = VTD_FR_ADDR_BEYOND_MGAW,
		[SL_ROOT_ACCESS] = VTD_FR_PAGING_ENTRY_INVALID,
		[SL_ACCESS] = VTD_FR_PAGING_ENTRY_INVALID,
		[SL_RSVD] = VTD_FR_PAGING_RSVD,
		[SL_NO_READ] = VTD_FR_READ,
		[SL_NO_WRITE] = VTD_FR_WRITE,
	};
	static const uint8_t scalable[] = {
		[SL_BEYOND_MGAW] = VTD_FR_SM_ADDR_BEYOND_MGAW,
		[SL_ROOT_ACCESS] = VTD_FR_SS_PTR_INVALID,
		[SL_ACCESS] = VTD_FR_SS_ACCESS,
		[SL_RSVD] = VTD_FR_SS_RSVD,
		[SL_NO_READ] = VTD_FR_SM_READ,
		[SL_NO_WRITE] = VTD_FR_SM_WRITE,
	};

	return x->scalable ? scalable[err] : legacy[err];
}

/*
 * Nested: the second stage refused an access to a first-stage table (spec
 * 3.8: first-stage table addresses are guest-physical and translate through
 * the second stage).
 */
static uint8_t nested_table_reason(enum sl_error err, bool root)
{
	switch (err) {
	case SL_BEYOND_MGAW:
		return VTD_FR_NESTED_FS_BEYOND_MGAW;
	case SL_NO_READ:
		return root ? VTD_FR_NESTED_FS_ROOT_READ : VTD_FR_NESTED_FS_READ;
	case SL_NO_WRITE:
		return VTD_FR_NESTED_FS_WRITE;
	case SL_RSVD:
		return VTD_FR_SS_RSVD;
	case SL_ROOT_ACCESS:
		return VTD_FR_SS_PTR_INVALID;
	default:
		return VTD_FR_SS_ACCESS;
	}
}

static int fault(const struct vtd_xlate *x, uint64_t iova, unsigned int access, uint8_t reason,
		 struct vtd_fault *f)
{
	f->addr = iova & VTD_PAGE_MASK;
	f->reason = reason;
	f->write = access & VTD_ACCESS_WRITE;
	f->suppress = x->fpd;
	return -1;
}

/* Where a first-stage entry lives in guest RAM, through the second stage when nested. */
static int fl_entry_gpa(struct vm *vm, const struct vtd_xlate *x, uint64_t gpa, bool write,
			bool root, uint64_t *out, uint8_t *reason)
{
	enum sl_error err;

	if (x->mode != VTD_XLATE_NESTED) {
		*out = gpa;
		return 0;
	}
	err = sl_walk(vm, x, gpa, write, out);
	if (err == SL_OK)
		return 0;
	*reason = nested_table_reason(err, root);
	return -1;
}

static bool fl_canonical(uint64_t iova, unsigned int levels)
{
	unsigned int bits = VTD_PAGE_SHIFT + 9 * levels;	/* 48 or 57 */
	uint64_t upper = iova >> (bits - 1);

	return upper == 0 || upper == (UINT64_MAX >> (bits - 1));
}

static int fl_translate(struct vm *vm, const struct vtd_xlate *x, uint64_t iova,
			unsigned int access, uint64_t *gpa, struct vtd_fault *f)
{
	unsigned int levels = x->fl_levels == 5 ? 5 : 4;
	uint64_t entry_gpa[MAX_LEVELS];	/* each used entry, as the first stage names it */
	uint64_t entries[MAX_LEVELS];
	uint64_t table = x->flptr & VTD_PAGE_MASK, out = 0;
	bool writable = true, user = true, xd = false;
	unsigned int used = 0, level;
	uint8_t reason = 0;

	if (!fl_canonical(iova, levels))
		return fault(x, iova, access, VTD_FR_FS_NONCANONICAL, f);

	for (level = levels; level >= 1; level--) {
		uint64_t rsvd = above_aw(x), e, *p;
		bool root = level == levels, leaf = level == 1;
		uint64_t gpa_fs = table + ((iova >> LEVEL_SHIFT(level)) & 511) * 8, at;

		if (fl_entry_gpa(vm, x, gpa_fs, false, root, &at, &reason))
			return fault(x, iova, access, reason, f);
		p = entry_ptr(vm, at);
		if (!p)
			return fault(x, iova, access, root ? VTD_FR_FS_PTR_INVALID : VTD_FR_FS_ACCESS, f);
		e = __atomic_load_n(p, __ATOMIC_ACQUIRE);
		if (!(e & FL_P))
			return fault(x, iova, access, VTD_FR_FS_NOT_PRESENT, f);
		if (e & FL_PS) {
			/* PS maps 1 GiB at level 3 (CAP.FS1GP) and 2 MiB at level 2; bit 7 is PAT at level 1. */
			if (level == 2 || (level == 3 && x->fl_1g)) {
				leaf = true;
				/* Bit 12 is PAT; the rest below the page size is reserved. */
				rsvd |= (VTD_BIT(LEVEL_SHIFT(level)) - 1) & ~(VTD_BIT(13) - 1);
			} else if (level != 1) {
				return fault(x, iova, access, VTD_FR_FS_RSVD, f);
			}
		}
		if (e & rsvd)
			return fault(x, iova, access, VTD_FR_FS_RSVD, f);
		writable &= !!(e & FL_RW);
		user &= !!(e & FL_US);
		xd |= !!(e & FL_XD);
		entry_gpa[used] = gpa_fs;
		entries[used++] = e;
		if (leaf) {
			uint64_t size = VTD_BIT(LEVEL_SHIFT(level));

			out = (e & addr_bits() & ~(size - 1)) | (iova & (size - 1));
			break;
		}
		table = e & addr_bits();
	}

	/* Privilege and permission checks (spec 3.6.2). */
	if (access & VTD_ACCESS_USER) {
		if (!user)
			return fault(x, iova, access, VTD_FR_FS_USER, f);
		if ((access & VTD_ACCESS_WRITE) && !writable)
			return fault(x, iova, access, VTD_FR_SM_WRITE, f);
	} else {
		if (!x->sre)
			return fault(x, iova, access, VTD_FR_SM_PTE_SRE, f);
		/* Supervisor writes ignore R/W unless WPE (as CR0.WP). */
		if ((access & VTD_ACCESS_WRITE) && !writable && x->wpe)
			return fault(x, iova, access, VTD_FR_SM_WRITE, f);
	}
	if ((access & VTD_ACCESS_EXEC) && xd)
		return fault(x, iova, access, VTD_FR_FS_EXEC, f);

	/*
	 * Accessed and dirty flags (spec 3.6.3), set like the CPU does: A in
	 * every entry used, D in the leaf on writes, each with an atomic OR so
	 * a concurrent guest update of the other bits is never lost. We set
	 * them only once the request is known to succeed. Nested, the update
	 * is a write through the second stage, which must allow it.
	 */
	vtd_walk_test_hook(vm);
	for (unsigned int i = 0; i < used; i++) {
		uint64_t want = FL_A, at;
		uint64_t *p;

		if (i == used - 1 && (access & VTD_ACCESS_WRITE))
			want |= FL_D;
		if ((entries[i] & want) == want)
			continue;
		/*
		 * Written where this walk (the one that allowed the write) puts
		 * the entry: the guest may have moved the table since the read.
		 */
		if (fl_entry_gpa(vm, x, entry_gpa[i], true, i == 0, &at, &reason))
			return fault(x, iova, access, reason, f);
		p = entry_ptr(vm, at);
		if (!p)
			return fault(x, iova, access, VTD_FR_FS_ACCESS, f);
		__atomic_fetch_or(p, want, __ATOMIC_ACQ_REL);
	}

	if (x->mode == VTD_XLATE_NESTED) {
		enum sl_error err = sl_walk(vm, x, out, access & VTD_ACCESS_WRITE, &out);

		if (err != SL_OK)
			return fault(x, iova, access, sl_reason(x, err), f);
	}
	*gpa = out;
	return 0;
}

int vtd_translate(struct vm *vm, const struct vtd_xlate *x, uint64_t iova, unsigned int access,
		  uint64_t *gpa, struct vtd_fault *f)
{
	enum sl_error err;

	switch (x->mode) {
	case VTD_XLATE_PT:
		*gpa = iova;
		return 0;
	case VTD_XLATE_SL:
		err = sl_walk(vm, x, iova, access & VTD_ACCESS_WRITE, gpa);
		if (err != SL_OK)
			return fault(x, iova, access, sl_reason(x, err), f);
		return 0;
	case VTD_XLATE_FL:
	case VTD_XLATE_NESTED:
		return fl_translate(vm, x, iova, access, gpa, f);
	case VTD_XLATE_BLOCKED:
	default:
		return fault(x, iova, access,
			     x->scalable ? VTD_FR_SM_PTE_NOT_PRESENT : VTD_FR_CTX_NOT_PRESENT, f);
	}
}
