// SPDX-License-Identifier: MIT
/*
 * The guest's root, context and PASID tables (VT-d spec 3.4-3.6, 9.1-9.6):
 * what they say about a (SID, PASID), and the tag-store attachments of the
 * assigned devices that follow from it. Past 800 lines because the resync
 * in steps (struct vtd_resync) shares the lookup's private decoders and
 * the attachment rules; splitting them would expose both.
 *
 * Every table pointer and entry is hostile. Entries are copied out of guest
 * RAM through vm_gpa() with their exact size before they are looked at; a
 * table outside RAM is the spec's table-access fault; every index is
 * bounded by the table it indexes. Faults on the root entry, the TTM or the
 * context entry itself are never suppressed; faults after a valid context
 * entry honour FPD (context, PASID directory entry, PASID entry: any set).
 *
 * Host DIDs: host = index * 0x4000 + guest DID. vIOMMU indexes are below
 * VIOMMU_MAX_UNITS (4) and guest DIDs below 2^14 (the units advertise
 * CAP.ND = 5), so every (vIOMMU, guest DID) gets its own host DID and all
 * of them fit 16 bits, with no state to keep. DID bits above the 14 that
 * CAP.ND reports are reserved here (legacy context entries, PASID table
 * entries): an entry with one set faults as reserved and is never attached,
 * so two guest domains can never be folded onto one host DID and share
 * host cache entries.
 *
 * RID_PASID: ECAP.RPS is not advertised, so the spec requires the context
 * entry's RID_PASID field to be 0; anything else is a reserved-field fault.
 * Requests without PASID therefore always use PASID entry 0, the PASID the
 * host caches (and dma.c) tag them with.
 *
 * Past 800 lines on purpose: the legacy and scalable lookups and the
 * resyncs that turn their answers into attachments share the entry
 * decoders and the flush-before-detach rules; apart, all of those would
 * become the unit's private interface.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viommu/viommu-priv.h"
#include "vmm/kvm.h"
#include "vtd/desc.h"
#include "vtd/regs.h"

/* Root entry (9.1, 9.2): P and CTP in each 64-bit half used. */
#define RTE_P			VTD_BIT(0)
#define RTE_RSVD_LOW		0xffeULL
/* Legacy context entry (9.3). */
#define CE_P			VTD_BIT(0)
#define CE_FPD			VTD_BIT(1)
#define CE_TT(lo)		VTD_FIELD(lo, 3, 2)
#define CE_LO_RSVD		0xff0ULL
#define CE_HI_RSVD		0xffffffffff000080ULL
/* DID (bits 23:8) beyond the CAP.ND width: reserved, see above. */
#define CE_HI_DID_RSVD		((0xffffULL << (8 + VTD_GUEST_DID_BITS)) & 0xffff00ULL)
#define CE_TT_SL		0
#define CE_TT_SL_DEVTLB		1
#define CE_TT_PT		2
/* Scalable-mode context entry (9.4). */
#define SCE_DTE			VTD_BIT(2)
#define SCE_PASIDE		VTD_BIT(3)
#define SCE_PRE			VTD_BIT(4)	/* page requests enabled */
#define SCE_PDTS(v0)		VTD_FIELD(v0, 11, 9)
#define SCE_V0_RSVD		0x1e0ULL
#define SCE_V1_RSVD		0xffffffffffe00000ULL
#define SCE_RID_PASID(v1)	((uint32_t)VTD_FIELD(v1, 19, 0))	/* must be 0: no RPS */
/* PASID directory entry (9.5). */
#define PDE_P			VTD_BIT(0)
#define PDE_FPD			VTD_BIT(1)
#define PDE_RSVD		0xffcULL
/* PASID table entry (9.6). */
#define PE_P			VTD_BIT(0)
#define PE_FPD			VTD_BIT(1)
#define PE_AW(v0)		((unsigned int)VTD_FIELD(v0, 4, 2))
#define PE_PGTT(v0)		((unsigned int)VTD_FIELD(v0, 8, 6))
#define PE_V0_RSVD		0xc00ULL
#define PE_V1_RSVD		0x7f0000ULL
#define PE_DID(v1)		((uint16_t)VTD_FIELD(v1, 15, 0))
/* DID bits beyond the CAP.ND width: reserved, see above. */
#define PE_V1_DID_RSVD		((0xffffULL << VTD_GUEST_DID_BITS) & 0xffffULL)
#define PE_SRE			VTD_BIT(0)
#define PE_FLPM(v2)		((unsigned int)VTD_FIELD(v2, 3, 2))
#define PE_WPE			VTD_BIT(4)
#define PGTT_FL			1
#define PGTT_SL			2
#define PGTT_NESTED		3
#define PGTT_PT			4

/* Each PGTT value, the ECAP bit that must advertise it, and what it means. */
static const struct {
	uint64_t ecap;
	enum vtd_xlate_mode mode;
} pgtt_modes[] = {
	[PGTT_FL] = { VTD_ECAP_FLTS, VTD_XLATE_FL },
	[PGTT_SL] = { VTD_ECAP_SLTS, VTD_XLATE_SL },
	[PGTT_NESTED] = { VTD_ECAP_NEST, VTD_XLATE_NESTED },
	[PGTT_PT] = { VTD_ECAP_PT, VTD_XLATE_PT },
};

#define PASID_DIR_SHIFT		6	/* PASID[19:6] indexes the directory */
#define PASID_TABLE_ENTRIES	64
#define PASID_ENTRY_SIZE	64

static unsigned int unit_aw_bits(const struct viommu *u)
{
	unsigned int aw = (unsigned int)VTD_CAP_MGAW(u->cap) + 1;

	return aw < 39 ? 48 : aw;	/* an unset CAP (early tests): a 48-bit unit */
}

/* Bits [63:aw] of a pointer field: reserved (spec: above HAW). */
static uint64_t above_haw(const struct viommu *u)
{
	unsigned int aw = unit_aw_bits(u);

	return aw >= 64 ? 0 : ~(VTD_BIT(aw) - 1);
}

/* AW encodes 2 + levels; CAP.SAGAW bit AW says whether the unit walks that many. */
static bool sagaw_ok(const struct viommu *u, unsigned int aw)
{
	return aw >= 1 && aw <= 3 && (VTD_CAP_SAGAW(u->cap) & (1u << aw));
}

static int lookup_fault(struct vtd_fault *f, uint8_t reason, bool suppress)
{
	f->reason = reason;
	f->suppress = suppress;
	return -1;
}

/*
 * Copy @len bytes of guest RAM, or fail when any of it is outside RAM.
 * The entries are qwords other threads may write meanwhile (the walker's
 * atomic A/D updates, when a guest aliases its page tables with these
 * tables): read each with a relaxed atomic load, as hardware reads them
 * whole.
 */
static bool read_guest(struct viommu *u, uint64_t gpa, void *buf, size_t len)
{
	const void *p = vm_gpa(u->vm, gpa, len);

	if (!p)
		return false;
	if (((uintptr_t)p | (uintptr_t)buf | len) % sizeof(uint64_t)) {
		memcpy(buf, p, len);
		return true;
	}
	for (size_t i = 0; i < len / sizeof(uint64_t); i++)
		((uint64_t *)buf)[i] = __atomic_load_n((const uint64_t *)p + i, __ATOMIC_RELAXED);
	return true;
}

static int legacy_lookup(struct viommu *u, uint16_t sid, bool has_pasid, struct vtd_xlate *x,
			 struct vtd_fault *f)
{
	uint64_t rta = u->rtaddr_active & VTD_RTADDR_ADDR_MASK;
	uint64_t re[2], ce[2];
	unsigned int tt, aw;

	/* Legacy tables have no PASID: such requests are refused outright (spec 3.4.1). */
	if (has_pasid)
		return lookup_fault(f, VTD_FR_SM_PASID_IN_LEGACY, false);
	if (!read_guest(u, rta + (uint64_t)(sid >> 8) * sizeof(re), re, sizeof(re)))
		return lookup_fault(f, VTD_FR_ROOT_TABLE_INVALID, false);
	if (!(re[0] & RTE_P))
		return lookup_fault(f, VTD_FR_ROOT_NOT_PRESENT, false);
	if ((re[0] & (RTE_RSVD_LOW | above_haw(u))) || re[1])
		return lookup_fault(f, VTD_FR_ROOT_RSVD, false);
	if (!read_guest(u, (re[0] & VTD_PAGE_MASK) + (uint64_t)(sid & 0xff) * sizeof(ce), ce,
			sizeof(ce)))
		return lookup_fault(f, VTD_FR_CTX_TABLE_INVALID, false);
	if (!(ce[0] & CE_P))
		return lookup_fault(f, VTD_FR_CTX_NOT_PRESENT, false);
	if ((ce[0] & (CE_LO_RSVD | above_haw(u))) || (ce[1] & (CE_HI_RSVD | CE_HI_DID_RSVD)))
		return lookup_fault(f, VTD_FR_CTX_RSVD, false);

	tt = (unsigned int)CE_TT(ce[0]);
	aw = (unsigned int)VTD_FIELD(ce[1], 2, 0);
	if (tt > CE_TT_PT || (tt == CE_TT_SL_DEVTLB && !(u->ecap & VTD_ECAP_DT)) ||
	    (tt == CE_TT_PT && !(u->ecap & VTD_ECAP_PT)) || (tt != CE_TT_PT && !sagaw_ok(u, aw)))
		return lookup_fault(f, VTD_FR_CTX_INVALID, false);

	x->fpd = ce[0] & CE_FPD;
	x->did = (uint16_t)VTD_FIELD(ce[1], 23, 8);
	x->ats_ok = tt == CE_TT_SL_DEVTLB;
	if (tt == CE_TT_PT) {
		x->mode = VTD_XLATE_PT;
	} else {
		x->mode = VTD_XLATE_SL;
		x->sl_levels = aw + 2;
		x->slptr = ce[0] & VTD_PAGE_MASK;
	}
	return 0;
}

/* The 256-bit scalable-mode context entry of @sid. */
static int sm_context(struct viommu *u, uint16_t sid, uint64_t ce[4], struct vtd_fault *f)
{
	uint64_t rta = u->rtaddr_active & VTD_RTADDR_ADDR_MASK;
	uint64_t re[2], half;
	uint8_t devfn = sid & 0xff;

	if (!read_guest(u, rta + (uint64_t)(sid >> 8) * sizeof(re), re, sizeof(re)))
		return lookup_fault(f, VTD_FR_SM_TABLE_ACCESS, false);
	/* The lower half serves devfn 0-127, the upper half 128-255 (spec 9.2). */
	half = devfn < 128 ? re[0] : re[1];
	if (!(half & RTE_P))
		return lookup_fault(f, VTD_FR_SM_RTE_NOT_PRESENT, false);
	if (half & (RTE_RSVD_LOW | above_haw(u)))
		return lookup_fault(f, VTD_FR_SM_RTE_RSVD, false);
	if (!read_guest(u, (half & VTD_PAGE_MASK) + (uint64_t)(devfn & 0x7f) * 32, ce, 32))
		return lookup_fault(f, VTD_FR_SM_CTE_ACCESS, false);
	if (!(ce[0] & CE_P))
		return lookup_fault(f, VTD_FR_SM_CTE_NOT_PRESENT, false);
	/* RID_PASID must be 0 without ECAP.RPS (spec 9.4): treated as reserved. */
	if ((ce[0] & (SCE_V0_RSVD | above_haw(u))) || (ce[1] & SCE_V1_RSVD) ||
	    SCE_RID_PASID(ce[1]) || ce[2] || ce[3])
		return lookup_fault(f, VTD_FR_SM_CTE_RSVD, false);
	return 0;
}

bool vtd_context_pre(struct viommu *u, uint16_t sid)
{
	struct vtd_fault f = { 0 };
	uint64_t ce[4];

	if (VTD_FIELD(u->rtaddr_active, 11, 10) != 1 || !(u->gsts & VTD_GCMD_TE))
		return false;
	return sm_context(u, sid, ce, &f) == 0 && (ce[0] & SCE_PRE);
}

/* Decode a present-or-not 512-bit PASID entry into @x. */
static int sm_pasid_entry(struct viommu *u, const uint64_t pe[8], bool fpd, struct vtd_xlate *x,
			  struct vtd_fault *f)
{
	unsigned int pgtt = PE_PGTT(pe[0]);
	bool uses_sl, uses_fl;

	if (!(pe[0] & PE_P))
		return lookup_fault(f, VTD_FR_SM_PTE_NOT_PRESENT, fpd);
	fpd |= pe[0] & PE_FPD;
	if ((pe[0] & PE_V0_RSVD) || (pe[1] & (PE_V1_RSVD | PE_V1_DID_RSVD)) || pe[3] || pe[4] ||
	    pe[5] || pe[6] || pe[7])
		return lookup_fault(f, VTD_FR_SM_PTE_RSVD, fpd);

	if (pgtt >= sizeof(pgtt_modes) / sizeof(pgtt_modes[0]) || !pgtt_modes[pgtt].ecap ||
	    !(u->ecap & pgtt_modes[pgtt].ecap))
		return lookup_fault(f, VTD_FR_SM_PTE_PGTT, fpd);
	x->mode = pgtt_modes[pgtt].mode;

	uses_sl = pgtt == PGTT_SL || pgtt == PGTT_NESTED;
	uses_fl = pgtt == PGTT_FL || pgtt == PGTT_NESTED;
	if (uses_sl) {
		if (!sagaw_ok(u, PE_AW(pe[0])))
			return lookup_fault(f, VTD_FR_SM_PTE_PGTT, fpd);
		if (pe[0] & above_haw(u))
			return lookup_fault(f, VTD_FR_SM_PTE_RSVD, fpd);
		x->sl_levels = PE_AW(pe[0]) + 2;
		x->slptr = pe[0] & VTD_PAGE_MASK;
	}
	if (uses_fl) {
		unsigned int flpm = PE_FLPM(pe[2]);

		/* FLPM 0: 4-level, 1: 5-level (needs CAP.FS5LP); 2, 3 reserved. */
		if (flpm > 1 || (flpm == 1 && !(u->cap & VTD_CAP_FS5LP)))
			return lookup_fault(f, VTD_FR_SM_PTE_PGTT, fpd);
		/* SRE and WPE are reserved unless the unit supports supervisor requests. */
		if ((pe[2] & above_haw(u)) ||
		    ((pe[2] & (PE_SRE | PE_WPE)) && !(u->ecap & VTD_ECAP_SRS)))
			return lookup_fault(f, VTD_FR_SM_PTE_RSVD, fpd);
		x->fl_levels = 4 + flpm;
		x->flptr = pe[2] & VTD_PAGE_MASK;
		x->sre = pe[2] & PE_SRE;
		x->wpe = pe[2] & PE_WPE;
	}
	x->did = PE_DID(pe[1]);
	x->fpd = fpd;
	return 0;
}

/* The PASID entry of @pasid under context entry @ce: directory, then table. */
static int sm_pasid(struct viommu *u, const uint64_t ce[4], uint32_t pasid, struct vtd_xlate *x,
		    struct vtd_fault *f)
{
	bool fpd = ce[0] & CE_FPD;
	uint64_t dir_index = pasid >> PASID_DIR_SHIFT, pde, pe[8];

	/* PDTS: the directory has 2^(PDTS + 7) entries. */
	if (dir_index >= (1ULL << (SCE_PDTS(ce[0]) + 7)))
		return lookup_fault(f, VTD_FR_SM_CTE_PDTS, fpd);
	if (!read_guest(u, (ce[0] & VTD_PAGE_MASK) + dir_index * 8, &pde, sizeof(pde)))
		return lookup_fault(f, VTD_FR_SM_PDE_ACCESS, fpd);
	if (!(pde & PDE_P))
		return lookup_fault(f, VTD_FR_SM_PDE_NOT_PRESENT, fpd);
	fpd |= pde & PDE_FPD;
	if (pde & (PDE_RSVD | above_haw(u)))
		return lookup_fault(f, VTD_FR_SM_PDE_RSVD, fpd);
	if (!read_guest(u, (pde & VTD_PAGE_MASK) +
			(uint64_t)(pasid % PASID_TABLE_ENTRIES) * PASID_ENTRY_SIZE, pe, sizeof(pe)))
		return lookup_fault(f, VTD_FR_SM_PTE_ACCESS, fpd);
	return sm_pasid_entry(u, pe, fpd, x, f);
}

static void xlate_init(struct viommu *u, struct vtd_xlate *x)
{
	unsigned int sllps = (unsigned int)VTD_CAP_SLLPS(u->cap);

	memset(x, 0, sizeof(*x));
	x->aw_bits = unit_aw_bits(u);
	x->sl_2m = sllps & 1;
	x->sl_1g = sllps & 2;
	x->fl_1g = u->cap & VTD_CAP_FS1GP;
}

/*
 * How many PASIDs the unit accepts: 2^(ECAP.PSS + 1), or none with PASID
 * support off (PASID 0 still serves requests without PASID). With VFIO
 * devices the unit advertises only the host's width, and a PASID beyond
 * it must never reach the host.
 */
static uint64_t pasid_limit(const struct viommu *u)
{
	if (!(u->ecap & VTD_ECAP_PASID))
		return 0;
	return 1ULL << (VTD_ECAP_PSS(u->ecap) + 1);
}

/* TTM of the latched root table: 0 legacy, 1 scalable, -1 unusable. */
static int root_mode(const struct viommu *u)
{
	uint64_t ttm = (u->rtaddr_active & VTD_RTADDR_TTM_MASK) >> VTD_RTADDR_TTM_SHIFT;

	if (ttm == 0)
		return 0;
	if (ttm == 1 && (u->ecap & VTD_ECAP_SMTS))
		return 1;
	return -1;
}

int vtd_lookup(struct viommu *u, uint16_t sid, bool has_pasid, uint32_t pasid,
	       struct vtd_xlate *x, struct vtd_fault *f)
{
	uint64_t ce[4];
	int mode;

	xlate_init(u, x);
	memset(f, 0, sizeof(*f));
	f->sid = sid;
	f->has_pasid = has_pasid;
	f->pasid = has_pasid ? pasid : 0;

	/* Translation disabled: DMA passes through untranslated (spec 10.4.4, GSTS.TES). */
	if (!(u->gsts & VTD_GCMD_TE)) {
		x->mode = VTD_XLATE_PT;
		return 0;
	}
	mode = root_mode(u);
	if (mode < 0)
		return lookup_fault(f, VTD_FR_SM_RTADDR_INVALID, false);
	if (mode == 0)
		return legacy_lookup(u, sid, has_pasid, x, f);

	x->scalable = true;
	if (sm_context(u, sid, ce, f))
		return -1;
	x->ats_ok = ce[0] & SCE_DTE;
	/* Requests without PASID use RID_PASID, which sm_context() checked is 0. */
	if (!has_pasid)
		pasid = 0;
	else if (!(ce[0] & SCE_PASIDE) || !pasid_limit(u))
		return lookup_fault(f, VTD_FR_SM_CTE_PASIDE, ce[0] & CE_FPD);
	else if ((pasid & (VTD_BIT(VTD_PASID_BITS) - 1)) >= pasid_limit(u))
		return lookup_fault(f, VTD_FR_SM_CTE_PDTS, ce[0] & CE_FPD);
	if (sm_pasid(u, ce, pasid & (VTD_BIT(VTD_PASID_BITS) - 1), x, f))
		return -1;
	return 0;
}

uint16_t vtd_host_did(struct viommu *u, uint16_t guest_did)
{
	static bool warned;
	const uint16_t width = 1u << VTD_GUEST_DID_BITS;

	if (guest_did >= width && !__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
		fprintf(stderr, "viommu%u: guest DID %#x is wider than %u bits; host DIDs may be shared\n",
			u->index, guest_did, VTD_GUEST_DID_BITS);
	return (uint16_t)((u->index % 4) * width + (guest_did & (width - 1)));
}

/* ---- Attachments ---- */

struct wanted {
	struct viommu_attach a[VTD_MAX_ATTACH];
	size_t n;
	bool overflow;
	bool pasid_ok;		/* requests with PASID allowed (scalable, PASIDE) */
	bool rid_known;		/* rid_mode was looked up (not by a PASID-selective sync of PASID != 0) */
	enum vtd_xlate_mode rid_mode;	/* requests without PASID; BLOCKED when they fault */
	bool rid_did_valid;	/* the RID's entry names a DID (rid_did) */
	uint16_t rid_did;
};

static bool attach_equal(const struct viommu_attach *a, const struct viommu_attach *b)
{
	return a->pasid == b->pasid && a->did == b->did && a->host_did == b->host_did &&
	       a->nested == b->nested && a->flptr == b->flptr && a->fl_levels == b->fl_levels &&
	       a->sre == b->sre && a->wpe == b->wpe;
}

/*
 * What a translation config means for the tag store. Pass-through and
 * blocked requests are cached under no guest DID the guest could
 * invalidate, so they get no tags: PT DMA goes to guest-physical addresses,
 * whose host mappings are the VMM's business, not the guest's.
 */
static void want(struct viommu *u, struct wanted *w, uint32_t pasid, const struct vtd_xlate *x)
{
	struct viommu_attach a = {
		.pasid = pasid,
		.did = x->did,
		.host_did = vtd_host_did(u, x->did),
		.nested = x->mode == VTD_XLATE_FL || x->mode == VTD_XLATE_NESTED,
	};

	/* The first stage matters to the host only for nested attachments (a new table, a new HWPT). */
	if (a.nested) {
		a.flptr = x->flptr;
		a.fl_levels = (uint8_t)x->fl_levels;
		a.sre = x->sre;
		a.wpe = x->wpe;
	}

	if (x->mode != VTD_XLATE_SL && x->mode != VTD_XLATE_FL && x->mode != VTD_XLATE_NESTED)
		return;
	for (size_t i = 0; i < w->n; i++)
		if (w->a[i].pasid == pasid)
			return;
	if (w->n == VTD_MAX_ATTACH) {
		w->overflow = true;
		return;
	}
	w->a[w->n++] = a;
}

/* Requests without PASID: their mode and DID (for passthrough placement), and their attachment. */
static void want_rid(struct viommu *u, struct wanted *w, const struct vtd_xlate *x)
{
	w->rid_mode = x->mode;
	w->rid_did = x->did;
	w->rid_did_valid = x->mode != VTD_XLATE_BLOCKED;
	want(u, w, 0, x);
}

/*
 * Every present PASID entry of the context's directory but 0 (RID_PASID),
 * within PDTS, from directory entry *@next on. Each directory entry read
 * and each PASID entry read costs one unit of *@budget; the walk stops
 * between directory entries once the budget is spent, with *@next where
 * to go on. Returns true when the walk is complete.
 */
static bool want_pasids(struct viommu *u, const uint64_t ce[4], struct wanted *w,
			uint64_t *next, unsigned long *budget)
{
	uint64_t dir_entries = 1ULL << (SCE_PDTS(ce[0]) + 7);
	uint64_t limit = pasid_limit(u);
	uint64_t max_dir = (limit + PASID_TABLE_ENTRIES - 1) >> PASID_DIR_SHIFT;
	uint64_t dir = ce[0] & VTD_PAGE_MASK;

	if (dir_entries > max_dir)
		dir_entries = max_dir;
	for (uint64_t d = *next; d < dir_entries && !w->overflow; d++) {
		uint64_t pde;

		if (!*budget) {
			*next = d;
			return false;
		}
		vtd_spend(u, budget, 1);
		if (!read_guest(u, dir + d * 8, &pde, sizeof(pde)) || !(pde & PDE_P) ||
		    (pde & (PDE_RSVD | above_haw(u))))
			continue;
		for (uint32_t i = 0; i < PASID_TABLE_ENTRIES && !w->overflow; i++) {
			uint32_t pasid = (uint32_t)(d << PASID_DIR_SHIFT) | i;
			uint64_t pe[8];
			struct vtd_xlate x;
			struct vtd_fault f;

			if (pasid == 0 || pasid >= limit)
				continue;	/* RID_PASID's (done by the caller), or beyond PSS */
			vtd_spend(u, budget, 1);
			if (!read_guest(u, (pde & VTD_PAGE_MASK) + (uint64_t)i * PASID_ENTRY_SIZE, pe,
					sizeof(pe)) || !(pe[0] & PE_P))
				continue;
			xlate_init(u, &x);
			x.scalable = true;
			if (sm_pasid_entry(u, pe, false, &x, &f) == 0)
				want(u, w, pasid, &x);
		}
	}
	*next = 0;
	return true;
}

/*
 * Which PASIDs of a device a resync looks at (the PASID-cache granularity,
 * spec 6.5.2.6). Out-of-scope attachments are left alone, in the store and
 * in dev->attach[]; in-scope ones follow the tables exactly as in a full
 * resync.
 *   SCOPE_ALL    every PASID (context-cache invalidations, global PC)
 *   SCOPE_DID    a PASID whose attachment has the DID, or whose entry now
 *                names it (domain-selective PC)
 *   SCOPE_PASID  that PASID only, whatever DID its old or new entry names
 *                (PASID-selective PC: the descriptor's DID is not trusted
 *                to name the old domain, so it is not used as a filter)
 */
enum sync_kind { SCOPE_ALL, SCOPE_DID, SCOPE_PASID };
struct sync_scope {
	enum sync_kind kind;
	uint16_t did;
	uint32_t pasid;
};

/*
 * An empty @w. With translation off requests pass through (the RID's mode
 * is PT) and nothing is attached: returns false. Otherwise the RID is
 * blocked until a lookup says more.
 */
static bool wanted_start(const struct viommu *u, struct wanted *w, bool rid_known)
{
	memset(w, 0, sizeof(*w));
	w->rid_known = rid_known;
	w->rid_mode = VTD_XLATE_PT;
	if (!(u->gsts & VTD_GCMD_TE))
		return false;
	w->rid_mode = VTD_XLATE_BLOCKED;
	return true;
}

/*
 * What the guest's tables now say about @dev, up to the directory walk:
 * returns true when one is needed, over the directory of context entry
 * @ce (want_pasids()).
 */
static bool compute_wanted(struct viommu *u, struct viommu_dev *dev, struct wanted *w,
			   uint64_t ce[4])
{
	struct vtd_xlate x;
	struct vtd_fault f;
	int mode;

	if (!wanted_start(u, w, true))
		return false;
	mode = root_mode(u);
	if (mode == 0) {
		if (vtd_lookup(u, dev->guest_sid, false, 0, &x, &f) == 0)
			want_rid(u, w, &x);
		return false;
	}
	if (mode < 0 || sm_context(u, dev->guest_sid, ce, &f))
		return false;
	/* Requests without PASID: PASID entry 0 (RID_PASID is 0, sm_context()). */
	xlate_init(u, &x);
	x.scalable = true;
	if (sm_pasid(u, ce, 0, &x, &f) == 0)
		want_rid(u, w, &x);
	if ((ce[0] & SCE_PASIDE) && pasid_limit(u)) {
		w->pasid_ok = true;
		return true;
	}
	return false;
}

/*
 * What the guest's tables now say about PASID @pasid of @dev alone: the
 * context entry, one directory entry and one PASID entry, as vtd_lookup()
 * reads them; no directory walk. Same answer for that PASID as
 * compute_wanted() (up to its VTD_MAX_ATTACH cap), and the same pasid_ok.
 */
static void compute_wanted_pasid(struct viommu *u, struct viommu_dev *dev, uint32_t pasid,
				 struct wanted *w)
{
	struct vtd_xlate x;
	struct vtd_fault f;
	uint64_t ce[4];
	int mode;

	if (!wanted_start(u, w, pasid == 0))
		return;
	mode = root_mode(u);
	if (mode == 0) {
		if (pasid == 0 && vtd_lookup(u, dev->guest_sid, false, 0, &x, &f) == 0)
			want_rid(u, w, &x);
		return;
	}
	if (mode < 0 || sm_context(u, dev->guest_sid, ce, &f))
		return;
	w->pasid_ok = (ce[0] & SCE_PASIDE) && pasid_limit(u);
	/* PASID 0 is RID_PASID's entry, looked at whatever PASIDE says (as above). */
	if (pasid != 0 && (!w->pasid_ok || pasid >= pasid_limit(u)))
		return;
	xlate_init(u, &x);
	x.scalable = true;
	if (sm_pasid(u, ce, pasid, &x, &f) != 0)
		return;
	if (pasid == 0)
		want_rid(u, w, &x);
	else
		want(u, w, pasid, &x);
}

/*
 * Before an attachment goes, flush what the host may cache for it, while
 * its tags still route the flush: the guest domain's IOTLB entries and the
 * device's ATC for that PASID. Returns the host's result: on failure the
 * caller must keep the attachment (see sync_device()).
 */
static struct flush_result flush_attachment(struct viommu *u, struct viommu_dev *dev,
					    const struct viommu_attach *a)
{
	struct flush_result res = { 0 };
	struct vtd_desc batch[2];
	size_t n = 0;

	if (!u->fe)
		return res;
	memset(batch, 0, sizeof(batch));
	if (a->nested) {
		batch[n].type = VTD_DESC_PIOTLB;
		batch[n].piotlb.gran = VTD_PIOTLB_PASID;
		batch[n].piotlb.did = a->did;
		batch[n++].piotlb.pasid = a->pasid;
	} else {
		batch[n].type = VTD_DESC_IOTLB;
		batch[n].iotlb.gran = VTD_IOTLB_DOMAIN;
		batch[n++].iotlb.did = a->did;
	}
	if (dev->host.ats) {
		if (a->pasid == 0) {
			batch[n].type = VTD_DESC_DEVTLB;
			batch[n].devtlb.sid = dev->guest_sid;
			batch[n].devtlb.addr = vtd_devtlb_encode_addr(0, VTD_MAX_AM,
								      &batch[n].devtlb.size);
		} else {
			batch[n].type = VTD_DESC_PDEVTLB;
			batch[n].pdevtlb.sid = dev->guest_sid;
			batch[n].pdevtlb.pasid = a->pasid;
			batch[n].pdevtlb.addr = vtd_devtlb_encode_addr(0, VTD_MAX_AM,
								       &batch[n].pdevtlb.size);
		}
		n++;
	}
	if (flush_engine_batch(u->fe, (uint16_t)u->index, batch, n, 0, &res) && res.status == 0) {
		res.status = -1;	/* failed without saying why */
		res.err.kind = HOST_ERR_IO;
	}
	return res;
}

static struct tag_attach tag_of(struct viommu_dev *dev, const struct viommu_attach *a)
{
	struct tag_attach t = {
		.dev = &dev->host,
		.guest_sid = dev->guest_sid,
		.host_did = a->host_did,
		.host_pasid = a->pasid,
		.nested = a->nested,
	};
	return t;
}

static struct guest_domain_key key_of(struct viommu *u, const struct viommu_attach *a)
{
	struct guest_domain_key k = { .viommu = (uint16_t)u->index, .did = a->did, .pasid = a->pasid };

	return k;
}

/*
 * An attachment whose host flush failed is NOT detached: the device's ATC
 * entries for it are keyed by (SID, PASID) only, and once its tags left
 * the store no guest device-TLB invalidation would reach them again. It
 * stays in dev->attach[] and the store (the device keeps its old domain,
 * DMA included, as if the context-cache invalidation had not happened),
 * and the next context- or PASID-cache invalidation retries. Until it is
 * gone no new attachment takes its PASID: one PASID, one attachment.
 * Returns 0, or -1 with @res the first failed flush.
 */
static bool scope_has(const struct sync_scope *sc, const struct viommu_attach *a)
{
	switch (sc->kind) {
	case SCOPE_PASID:
		return a->pasid == sc->pasid;
	case SCOPE_DID:
		return a->did == sc->did;
	default:
		return true;
	}
}

/* The wanted attachment of @pasid, if any. */
static const struct viommu_attach *wanted_of(const struct wanted *w, uint32_t pasid)
{
	for (size_t j = 0; j < w->n; j++)
		if (w->a[j].pasid == pasid)
			return &w->a[j];
	return NULL;
}

/* Bring @dev in line with @wanted, what its tables say (within @sc). */
static int sync_device(struct viommu *u, struct viommu_dev *dev, const struct sync_scope *sc,
		       const struct wanted *wanted, struct flush_result *res)
{
	static bool warned;
	struct wanted w = *wanted;
	bool scoped[VTD_MAX_ATTACH];
	struct viommu_attach gone[2 * VTD_MAX_ATTACH];	/* passthrough: left, still bound */
	size_t i, j, ngone = 0;
	int ret = 0;

	dev->pasid_ok = w.pasid_ok;
	/*
	 * A wanted PASID is in scope if its new attachment is, or its current
	 * one is (decided before the loops below change dev->attach[]).
	 */
	for (j = 0; j < w.n; j++) {
		scoped[j] = scope_has(sc, &w.a[j]);
		for (i = 0; i < dev->nattach && !scoped[j]; i++)
			scoped[j] = dev->attach[i].pasid == w.a[j].pasid &&
				    scope_has(sc, &dev->attach[i]);
	}
	if (w.overflow && !__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
		fprintf(stderr, "viommu%u: device %04x has more than %u PASIDs in use; "
			"only the first %u are shadowed\n",
			u->index, dev->guest_sid, VTD_MAX_ATTACH, VTD_MAX_ATTACH);

	/* Gone: flush, then detach (unless the flush failed). */
	for (i = 0; i < dev->nattach;) {
		const struct viommu_attach *a = &dev->attach[i];
		struct tag_attach t = tag_of(dev, a);
		const struct viommu_attach *now = wanted_of(&w, a->pasid);
		struct flush_result fr;
		bool keep = !scope_has(sc, a) && !(now && scope_has(sc, now));

		for (j = 0; j < w.n && !keep; j++)
			keep = attach_equal(a, &w.a[j]);
		if (keep) {
			i++;
			continue;
		}
		fr = flush_attachment(u, dev, a);
		if (fr.status) {
			if (!ret)
				*res = fr;
			ret = -1;
			i++;
			continue;
		}
		if (tag_store_detach(u->ts, key_of(u, a), &t))
			fprintf(stderr, "viommu%u: detach of %04x did %u pasid %u: not in the store\n",
				u->index, dev->guest_sid, a->did, a->pasid);
		/* A passthrough device still uses its HWPT until viommu_pt_place() moved it. */
		if (a->hwpt)
			gone[ngone++] = *a;
		dev->attach[i] = dev->attach[--dev->nattach];
	}
	/* New: attach, unless an attachment (kept, or a failed one) holds the PASID. */
	for (j = 0; j < w.n; j++) {
		bool taken = !scoped[j];
		struct tag_attach t;

		for (i = 0; i < dev->nattach && !taken; i++)
			taken = dev->attach[i].pasid == w.a[j].pasid;
		if (taken || dev->nattach == VTD_MAX_ATTACH)
			continue;
		/*
		 * A passthrough device's second-stage attachment has nothing on
		 * the host to shadow it (viommu_pt_place() blocks the device and
		 * says why); a nested one needs its HWPT before its tags exist.
		 */
		if (dev->pt && (!w.a[j].nested || viommu_pt_bind(u, dev, &w.a[j])))
			continue;
		t = tag_of(dev, &w.a[j]);
		if (tag_store_attach(u->ts, key_of(u, &w.a[j]), &t)) {
			perror("viommu: tag_store_attach");
			if (w.a[j].hwpt)
				gone[ngone++] = w.a[j];
			continue;
		}
		dev->attach[dev->nattach++] = w.a[j];
	}
	if (dev->pt) {
		/*
		 * The RID is placed again only when its entry is in scope: a
		 * domain-selective sync of another DID must not move it.
		 */
		bool rid_scope = w.rid_known &&
				 (sc->kind != SCOPE_DID ||
				  (w.rid_did_valid && w.rid_did == sc->did) ||
				  (dev->rid_did_valid && dev->rid_did == sc->did));

		if (viommu_pt_place(u, dev, rid_scope, w.rid_mode) && !ret) {
			memset(res, 0, sizeof(*res));
			res->status = -1;
			res->err.kind = HOST_ERR_IO;
			res->err.sid = dev->host.sid;
			snprintf(res->err.msg, sizeof(res->err.msg),
				 "%s: the host refused to move or block its DMA", dev->host.name);
			ret = -1;
		}
		if (rid_scope) {
			dev->rid_did = w.rid_did;
			dev->rid_did_valid = w.rid_did_valid;
		}
		for (i = 0; i < ngone; i++)
			viommu_pt_unbind(u, dev, &gone[i]);
	}
	return ret;
}

/*
 * A resync of the unit's devices in steps: the state between them. The
 * directory walk of one device may span several steps (want_pasids());
 * the tables may change in between, as they may while hardware walks
 * them, and what the walk found is applied once it ends.
 */
struct vtd_resync {
	bool active;
	bool all;		/* every device, or those with guest SID @sid */
	uint16_t sid;
	struct sync_scope sc;
	size_t dev;		/* the device at hand (index in u->devs) */
	bool started;		/* its compute_wanted() ran ... */
	bool walking;		/* ... and its directory walk is under way */
	uint64_t ce[4];		/* its context entry, for the walk */
	uint64_t next;		/* the walk's next directory entry */
	struct wanted w;
	int ret;		/* -1 once a flush failed: @first is the first one */
	struct flush_result first;
};

/* Fixed costs of a step, in the units of want_pasids(): entry reads. */
#define RESYNC_DEVICE_COST	4	/* root, context, directory and PASID entry */
#define RESYNC_APPLY_COST	64	/* flushes and tag-store changes of one device */

static void resync_init(struct vtd_resync *r, bool all, uint16_t sid, const struct sync_scope *sc)
{
	memset(r, 0, sizeof(*r));
	r->active = true;
	r->all = all;
	r->sid = sid;
	r->sc = *sc;
}

/*
 * Go on with @r for at most *@budget units (overshooting by at most one
 * directory entry's table and one device's apply). Returns 1 while work
 * is left, else 0, or -1 with @res (may be NULL) the first failed flush.
 */
static int resync_run(struct viommu *u, struct vtd_resync *r, unsigned long *budget,
		      struct flush_result *res)
{
	for (; r->dev < u->ndevs; r->dev++) {
		struct viommu_dev *dev = u->devs[r->dev];
		struct flush_result fr;

		if (!dev || !(r->all || dev->guest_sid == r->sid))
			continue;
		if (!r->started) {
			if (!*budget)
				return 1;
			vtd_spend(u, budget, RESYNC_DEVICE_COST);
			r->started = true;
			r->next = 0;
			if (r->sc.kind == SCOPE_PASID) {
				compute_wanted_pasid(u, dev, r->sc.pasid, &r->w);
				r->walking = false;
			} else {
				r->walking = compute_wanted(u, dev, &r->w, r->ce);
			}
		}
		if (r->walking && !want_pasids(u, r->ce, &r->w, &r->next, budget))
			return 1;
		r->started = r->walking = false;
		vtd_spend(u, budget, RESYNC_APPLY_COST);
		if (sync_device(u, dev, &r->sc, &r->w, &fr) && !r->ret) {
			r->first = fr;
			r->ret = -1;
		}
	}
	r->active = false;
	if (res)
		*res = r->ret ? r->first : (struct flush_result){ 0 };
	return r->ret;
}

/* All of it at once: the callers that have no step to return to. */
static int sync_devices(struct viommu *u, bool all, uint16_t sid, const struct sync_scope *sc,
			struct flush_result *res)
{
	struct vtd_resync r;
	unsigned long unlimited = ~0UL;

	resync_init(&r, all, sid, sc);
	return resync_run(u, &r, &unlimited, res);
}

int vtd_resync_start(struct viommu *u, const struct vtd_resync_req *req)
{
	struct sync_scope sc = { .kind = SCOPE_ALL };

	if (!u->resync && !(u->resync = calloc(1, sizeof(*u->resync))))
		return -1;
	if (req->kind == VTD_RESYNC_DOMAIN)
		sc = (struct sync_scope){ .kind = SCOPE_DID, .did = req->did };
	else if (req->kind == VTD_RESYNC_PASID)
		sc = (struct sync_scope){ .kind = SCOPE_PASID, .did = req->did,
					  .pasid = req->pasid & (VTD_BIT(VTD_PASID_BITS) - 1) };
	resync_init(u->resync, req->kind != VTD_RESYNC_DEVICES || req->all, req->sid, &sc);
	return 0;
}

int vtd_sync_req(struct viommu *u, const struct vtd_resync_req *req, struct flush_result *res)
{
	struct vtd_resync r;
	unsigned long unlimited = ~0UL;
	struct vtd_resync *saved = u->resync;
	int ret;

	/* vtd_resync_start() without the allocation: on the stack, run to the end. */
	u->resync = &r;
	r.active = false;
	ret = vtd_resync_start(u, req);
	if (ret == 0)
		ret = resync_run(u, &r, &unlimited, res);
	u->resync = saved;
	return ret;
}

bool vtd_resync_active(const struct viommu *u)
{
	return u->resync && u->resync->active;
}

int vtd_resync_step(struct viommu *u, unsigned long *budget, struct flush_result *res)
{
	if (!vtd_resync_active(u)) {
		if (res)
			memset(res, 0, sizeof(*res));
		return 0;
	}
	return resync_run(u, u->resync, budget, res);
}

void vtd_resync_free(struct viommu *u)
{
	free(u->resync);
	u->resync = NULL;
}

int vtd_sync_attachments_result(struct viommu *u, bool all, uint16_t sid,
				struct flush_result *res)
{
	const struct sync_scope sc = { .kind = SCOPE_ALL };

	return sync_devices(u, all, sid, &sc, res);
}

/*
 * Cost model of a resync, all under u->lock, per device of the unit (at
 * most 24): the root and context entries (two reads), then
 *  - PASID-selective: one PASID directory entry (8 bytes) and one PASID
 *    entry (64 bytes); no walk.
 *  - domain-selective, global, context-cache: the directory walk of
 *    want_pasids(): one 8-byte read per directory entry up to PDTS (at
 *    most 2^14), plus 64 reads of 64 bytes per PRESENT directory entry,
 *    stopping early once VTD_MAX_ATTACH PASIDs are wanted. A directory
 *    the guest filled with present entries pointing at empty tables is
 *    the worst case (2^20 entry reads, about 9 ms per device at -O2).
 * The queue and the registers therefore resync in steps of a bounded
 * number of entry reads (vtd_resync_step(), work.c), never all of it in
 * one exit or under one hold of u->lock; the synchronous calls below are
 * for callers that own no queue (tests, setup).
 * Flushes of leaving attachments come on top, one host batch each.
 */
int vtd_sync_pasid(struct viommu *u, uint16_t did, uint32_t pasid, struct flush_result *res)
{
	const struct sync_scope sc = {
		.kind = SCOPE_PASID, .did = did, .pasid = pasid & (VTD_BIT(VTD_PASID_BITS) - 1),
	};

	return sync_devices(u, true, 0, &sc, res);
}

/*
 * A DMA request found no attachment while CAP.CM is clear. The guest may
 * then make a not-present root, context or PASID entry present without
 * invalidating anything (the spec lets it: nothing caches a not-present
 * entry), so the request can be the first sign of it. Sync that one
 * device for the PASID and domain its tables name now: the cost of a
 * PASID-selective invalidation limited to one device.
 */
int vtd_sync_miss(struct viommu *u, uint16_t sid, uint16_t did, uint32_t pasid,
		  struct flush_result *res)
{
	const struct sync_scope sc = {
		.kind = SCOPE_PASID, .did = did, .pasid = pasid & (VTD_BIT(VTD_PASID_BITS) - 1),
	};

	return sync_devices(u, false, sid, &sc, res);
}

int vtd_sync_domain(struct viommu *u, uint16_t did, struct flush_result *res)
{
	const struct sync_scope sc = { .kind = SCOPE_DID, .did = did };

	return sync_devices(u, true, 0, &sc, res);
}

/*
 * The register-side callers (SRTP, TE, CCMD in unit.c) have no queue to
 * stall and no wait to abort: a failure is recorded as ICE (ICESID as the
 * queue would give it), whatever the host's kind, ITE included; CCMD still
 * reports its CAIG. The kept attachment is retried by the next resync.
 */
void vtd_sync_attachments(struct viommu *u, bool all, uint16_t sid)
{
	struct flush_result res;

	if (vtd_sync_attachments_result(u, all, sid, &res) == 0)
		return;
	if (res.err.kind == HOST_ERR_ITE)
		res.err.kind = HOST_ERR_ICE;
	vtd_report_host_error(u, &res);
}
