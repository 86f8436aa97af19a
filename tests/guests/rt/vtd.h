/* SPDX-License-Identifier: MIT */
/*
 * A small VT-d driver for the test guests (tests/guests/viommu-*.c): find
 * the vIOMMU units (ACPI DMAR, checked against the device tree), the
 * emulated DMA engines on bus 0 (viommu/simdev-regs.h), build legacy and
 * scalable-mode tables, run the invalidation queue and read fault records.
 * Everything is polled and bounded: a VMM that never answers makes the test
 * FAIL instead of hanging. Register layouts come from vtd/regs.h; table and
 * descriptor layouts are encoded here by hand (VT-d spec chapters 6 and 9),
 * because vtd/desc.c needs snprintf and so does not link freestanding.
 */
#ifndef TAGVMM_GUEST_VTD_H
#define TAGVMM_GUEST_VTD_H

#include "rt.h"
#include "viommu/simdev-regs.h"
#include "vtd/regs.h"

/* ---- Zeroed 4 KiB pages from a static pool in the guest image. ---- */
void *vtd_alloc_page(void);
static inline uint64_t vtd_pa(const volatile void *p) { return (uintptr_t)p; }

/* An address no RAM of a `-m 64M` guest backs, below the MMIO hole. */
#define VTD_OUTSIDE_RAM 0x80000000ULL

/* ---- Units. ---- */
#define VTD_GUEST_MAX_UNITS 4
#define VTD_SCOPE_MAX 32

struct vtd_unit {
	uint64_t base;
	uint64_t cap, ecap;
	bool include_all;		/* DRHD INCLUDE_PCI_ALL */
	uint16_t scope[VTD_SCOPE_MAX];	/* BDFs the DRHD lists */
	unsigned int nscope;

	bool scalable;			/* RTADDR.TTM = 1: scalable-mode tables */
	uint64_t *root;			/* 256 root entries of 128 bits */
	uint8_t *queue;			/* invalidation queue: one page (IQA.QS = 0) */
	unsigned int desc_size;		/* 16, or 32 with IQA.DW */
	unsigned int nslots, tail;	/* software tail, in descriptors */
	volatile uint32_t *status;	/* where wait descriptors write */
	uint32_t seq;			/* last wait status value used */
};

extern struct vtd_unit vtd_units[VTD_GUEST_MAX_UNITS];
extern unsigned int vtd_nunits;

/* Find the units from the DMAR, check the DTB agrees; fails the test if none. */
unsigned int vtd_discover(const void *dtb);
/* The unit whose DRHD covers @bdf (explicit scope first, then INCLUDE_PCI_ALL). */
struct vtd_unit *vtd_unit_of(uint16_t bdf);

static inline uint32_t vtd_read32(const struct vtd_unit *u, unsigned int reg) { return readl(u->base + reg); }
static inline uint64_t vtd_read64(const struct vtd_unit *u, unsigned int reg) { return readq(u->base + reg); }
static inline void vtd_write32(const struct vtd_unit *u, unsigned int reg, uint32_t v) { writel(u->base + reg, v); }
static inline void vtd_write64(const struct vtd_unit *u, unsigned int reg, uint64_t v) { writeq(u->base + reg, v); }

/*
 * Bring a unit up the way Linux does: mask fault events, allocate and
 * enable the queue (IQA.DW in scalable mode), point RTADDR at an empty root
 * table (TTM per @scalable), SRTP, flush every cache, then TE.
 */
void vtd_unit_init(struct vtd_unit *u, bool scalable);
/* Set a one-shot or persistent GCMD bit and wait for GSTS to follow. */
void vtd_gcmd(struct vtd_unit *u, uint32_t bit, bool on);
/* Write RTADDR (with the unit's TTM) and latch it with SRTP. */
void vtd_set_root(struct vtd_unit *u, uint64_t rtaddr);

/* ---- Translation tables. ---- */
/* 4-level tables shared by both formats: x86 first stage, VT-d second stage. */
#define VTD_SL_R (1ULL << 0)
#define VTD_SL_W (1ULL << 1)
#define VTD_FL_P (1ULL << 0)
#define VTD_FL_RW (1ULL << 1)
#define VTD_FL_US (1ULL << 2)
#define VTD_FL_A (1ULL << 5)
#define VTD_FL_D (1ULL << 6)
#define VTD_PTE_ADDR 0x000ffffffffff000ULL

uint64_t *vtd_pt_new(void);
/* Map one 4 KiB page; returns the leaf entry so a test can remap it. */
uint64_t *vtd_fl_map(uint64_t *pml4, uint64_t iova, uint64_t pa);
uint64_t *vtd_sl_map(uint64_t *pml4, uint64_t iova, uint64_t pa);
/*
 * Identity-map in a second stage every pool page handed out so far: under
 * nesting, first-stage tables are read through the second stage.
 */
void vtd_sl_map_pool(uint64_t *sl);
/* Point an existing leaf at another page, keeping its permissions. */
static inline void vtd_pte_retarget(uint64_t *pte, uint64_t pa)
{
	*pte = (*pte & ~VTD_PTE_ADDR) | (pa & VTD_PTE_ADDR);
	barrier();
}

/* Legacy mode: context entry for @bdf with a second-stage table (TT 0, or 1 with @dte). */
void vtd_legacy_attach(struct vtd_unit *u, uint16_t bdf, uint16_t did, uint64_t *slpt, bool dte);

/* Scalable mode. The 128-bit root entry and 256-bit context entry of @bdf. */
uint64_t *vtd_sm_root_entry(struct vtd_unit *u, uint16_t bdf);
uint64_t *vtd_sm_context(struct vtd_unit *u, uint16_t bdf);
/*
 * Give @bdf a PASID directory (one page: PDTS 2, PASIDs below 2^15) and a
 * present context entry: RID_PASID 0, DTE per @dte, PASIDE per @pasid_en.
 * Returns the directory.
 */
uint64_t *vtd_sm_attach(struct vtd_unit *u, uint16_t bdf, bool dte, bool pasid_en);
/* The 512-bit PASID table entry of (@bdf, @pasid), allocating its PASID table. */
uint64_t *vtd_pasid_entry(struct vtd_unit *u, uint16_t bdf, uint32_t pasid);

#define VTD_PGTT_FL 1
#define VTD_PGTT_SL 2
#define VTD_PGTT_NESTED 3
#define VTD_PGTT_PT 4
/*
 * Fill a PASID entry, present bit last (AW 4-level, SRE so supervisor
 * requests pass, FLPM 4-level). @fl / @sl may be NULL when PGTT needs none.
 */
void vtd_pasid_set(uint64_t *pe, unsigned int pgtt, uint16_t did, const uint64_t *fl,
		   const uint64_t *sl);
static inline void vtd_pasid_clear(uint64_t *pe)
{
	pe[0] &= ~1ULL;
	barrier();
}

/* ---- Queued invalidation. ---- */
struct qi_desc {
	uint64_t qw[4];
};

#define QI_TIMEOUT (1U << 31)	/* vtd_qi_wait: the status never arrived */
#define VTD_FSTS_QI_ERRORS ((uint32_t)(VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE))

struct qi_desc qi_cc_global(void);
struct qi_desc qi_cc_device(uint16_t did, uint16_t sid);
struct qi_desc qi_iotlb_global(void);
struct qi_desc qi_iotlb_dsi(uint16_t did);
struct qi_desc qi_iotlb_psi(uint16_t did, uint64_t addr, unsigned int am);
struct qi_desc qi_devtlb(uint16_t sid, uint64_t addr);
struct qi_desc qi_wait_desc(uint64_t status_addr, uint32_t data);
struct qi_desc qi_piotlb_pasid(uint16_t did, uint32_t pasid);
struct qi_desc qi_piotlb_page(uint16_t did, uint32_t pasid, uint64_t addr, unsigned int am);
struct qi_desc qi_pc_global(void);
struct qi_desc qi_pc_domain(uint16_t did);
struct qi_desc qi_pc_pasid(uint16_t did, uint32_t pasid);
struct qi_desc qi_pdevtlb(uint16_t sid, uint32_t pasid, uint64_t addr);

/* Write @d into the slot at the software tail and advance it; IQT untouched. */
void vtd_qi_push(struct vtd_unit *u, const struct qi_desc *d);
/* Byte offset of software slot @slot (what IQH/IQT hold). */
static inline uint64_t vtd_qi_offset(const struct vtd_unit *u, unsigned int slot)
{
	return (uint64_t)(slot % u->nslots) * u->desc_size;
}
/* Write IQT = the software tail. */
void vtd_qi_kick(struct vtd_unit *u);
/*
 * Append a wait with status write, kick, and poll: 0 when the status
 * arrived, else the FSTS error bits seen (IQE/ICE/ITE) or QI_TIMEOUT.
 */
uint32_t vtd_qi_wait(struct vtd_unit *u);
/* vtd_qi_push each of @d, then vtd_qi_wait. */
uint32_t vtd_qi_submit(struct vtd_unit *u, const struct qi_desc *d, unsigned int n);
/* The same, failing the test (with FSTS, IQERCD, IQH) unless it completes. */
void vtd_qi_submit_ok(struct vtd_unit *u, const struct qi_desc *d, unsigned int n,
		      const char *what);
/*
 * Recover a queue that stopped on an error: clear FSTS's queue errors,
 * turn QI off and on again at the unit's own queue (IQH back to 0), and
 * check it runs. Fails the test when it does not.
 */
void vtd_qi_reset(struct vtd_unit *u);
/* Global context-cache (+ PASID-cache in scalable mode) + IOTLB flush. */
void vtd_flush_all(struct vtd_unit *u);

/* ---- Fault recording. ---- */
struct vtd_frcd {
	uint16_t sid;
	uint8_t reason;
	bool pasid_present;
	uint32_t pasid;
	uint64_t addr;
};
/* Take (read and clear) one pending fault record; false when none is. */
bool vtd_fault_take(struct vtd_unit *u, struct vtd_frcd *out);
/* Clear every pending record and FSTS.PFO, so a later check starts clean. */
void vtd_fault_clear_all(struct vtd_unit *u);

/* ---- The emulated DMA engine. ---- */
struct simdev {
	uint16_t bdf;
	uint64_t bar;
	struct vtd_unit *unit;
	unsigned int ats_cap, pasid_cap;	/* extended capability offsets, 0: none */
};

/* Every sim device on bus 0, with memory decode and bus mastering on. */
unsigned int simdev_find_all(struct simdev *out, unsigned int max);
static inline uint64_t simdev_read(const struct simdev *d, unsigned int reg) { return readq(d->bar + reg); }
/* Set the Enable bit of the device's ATS / PASID capability (fails if absent). */
void simdev_enable_ats(struct simdev *d);
void simdev_enable_pasid(struct simdev *d);
#define SIMDEV_NO_PASID (-1)
/* Copy @len bytes from IOVA @src to @dst, tagged with @pasid; returns STATUS. */
uint64_t simdev_copy(const struct simdev *d, uint64_t src, uint64_t dst, uint32_t len, int pasid);

/* ---- Buffers: a pattern per seed, written and checked a qword at a time. ---- */
void vtd_fill(void *buf, uint64_t seed, size_t len);
bool vtd_check(const void *buf, uint64_t seed, size_t len);

#endif
