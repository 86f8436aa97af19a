/* SPDX-License-Identifier: MIT */
/*
 * Inside the emulated VT-d unit. One struct viommu per unit the guest sees.
 *
 *   unit.c    registers, GCMD/GSTS, register-based invalidation, the
 *             MMIO handler
 *   fault.c   fault recording (FRCDs, FSTS), queue errors, the fault
 *             event MSI; it calls into no other file of the unit
 *   qi.c      the invalidation queue: fetch, decode, batch up to each wait,
 *             hand the batch to the flush engine, then complete the wait
 *   tables.c  root/context/PASID tables (legacy and scalable mode) and
 *             turning them into tag-store attachments of assigned devices
 *   walk.c    first-stage and second-stage page walks
 *   dma.c     DMA translation for devices behind the unit (vmm/dma.h)
 *   simdev.c  the emulated DMA engine behind the simulated host VT-d
 *   passthrough.c  VFIO devices behind the vIOMMU: guest first-stage
 *             tables become nested HWPTs on the host (iommufd)
 *   setup.c   options, creation, DMAR/DTB description, teardown
 *   work.c    bounded work per exit: what is left runs in the unit's
 *             worker thread, in steps
 *
 * Locking: u->lock (a mutex) serializes register writes, queue processing
 * and table changes of one unit, in the vCPU's exit or in a step of the
 * unit's worker (work.c), never longer than one VTD_WORK_BUDGET of work;
 * vtd_unit_lock() lets waiting vCPUs and DMA in ahead of the worker's
 * next step. It is held across a flush_engine_batch()
 * call, which takes the tag store's lock inside (order: u->lock, then the
 * store, then the simulated host's unit, IOTLB and ATC locks). DMA
 * (any device on vmm/dma.h: dma_lock() is u->lock, dma.c) holds u->lock
 * for each page it moves: the ATC and IOTLB
 * lookups, the table walk, the cache fills, the fault record and the copy
 * itself. Since a wait completes only inside queue processing, also under
 * u->lock, no wait can complete while a DMA still uses a translation the
 * wait's batch invalidated. Order there: the device's own lock, then
 * u->lock, then the simulated host's IOTLB and ATC locks; u->lock is never
 * taken with a simulated-host lock or the PCI framework's lock held.
 */
#ifndef TAGVMM_VIOMMU_PRIV_H
#define TAGVMM_VIOMMU_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostvtd/flush.h"
#include "hostvtd/host.h"
#include "hostvtd/tagstore.h"
#include "vtd/desc.h"
#include "vtd/fault.h"

struct vm;
struct simvtd;
struct qi_run;
struct vtd_resync;

/* Who started the resync under way (struct viommu's resync_owner). */
#define VTD_RESYNC_BY_NONE	0
#define VTD_RESYNC_BY_QUEUE	1	/* a context- or PASID-cache descriptor at IQH */
#define VTD_RESYNC_BY_REGS	2	/* SRTP, TE or CCMD */

#define VTD_REG_SIZE		0x1000	/* MMIO window of one unit */
#define VTD_NFR			8	/* fault recording registers */
#define VTD_FRCD_OFFSET		0x400	/* CAP.FRO * 16 */
#define VTD_IOTLB_OFFSET	0x500	/* ECAP.IRO * 16: IVA, then IOTLB_REG at +8 */
#define VTD_MAX_BATCH		256	/* descriptors planned in one go before a wait */
#define VTD_PASID_BITS		20
#define VIOMMU_MAX_UNIT_DEVS	32	/* 16 sim, 8 VFIO and 8 emulated (virtio) devices */

/* Why a translation or table lookup failed: the spec's fault reasons (7.1.3). */
struct vtd_fault {
	uint16_t sid;
	bool has_pasid;
	uint32_t pasid;
	uint64_t addr;			/* the faulting IOVA (page-aligned) */
	uint8_t reason;			/* FR field: spec fault reason code */
	bool write;			/* request type */
	bool suppress;			/* FPD set: not recorded */
};

enum vtd_xlate_mode {
	VTD_XLATE_BLOCKED,		/* not present: faults */
	VTD_XLATE_PT,			/* pass-through: IOVA = GPA */
	VTD_XLATE_SL,			/* second stage only (legacy, or scalable PGTT=SL) */
	VTD_XLATE_FL,			/* first stage only */
	VTD_XLATE_NESTED,		/* first stage nested over second stage */
};

/* What the guest's tables say about requests from (SID, PASID). */
struct vtd_xlate {
	enum vtd_xlate_mode mode;
	uint16_t did;
	uint64_t flptr;			/* first-stage table (guest-physical) */
	unsigned int fl_levels;		/* 4 or 5 */
	uint64_t slptr;			/* second-stage table (guest-physical) */
	unsigned int sl_levels;		/* 3, 4 or 5 */
	bool sre;			/* supervisor requests allowed (first stage) */
	bool wpe;			/* write protect enforced for supervisor */
	bool fpd;			/* fault processing disabled */
	bool ats_ok;			/* device-TLB enabled for the device (DTE / TT) */
	/* Filled by vtd_lookup() from CAP, for vtd_translate(): */
	bool scalable;			/* which family of fault reasons */
	unsigned int aw_bits;		/* CAP.MGAW + 1: input width and guest physical width */
	bool sl_2m, sl_1g;		/* CAP.SLLPS */
	bool fl_1g;			/* CAP.FS1GP */
};

/* One assigned (emulated) device behind a vIOMMU. */
#define VTD_MAX_ATTACH 16
struct viommu_attach {
	uint32_t pasid;			/* guest PASID (0: requests without PASID) */
	uint16_t did;			/* guest DID */
	uint16_t host_did;
	bool nested;
	/* First stage (nested): what a passthrough device's host HWPT is built from. */
	uint64_t flptr;
	uint8_t fl_levels;
	bool sre, wpe;
	uint32_t hwpt;			/* passthrough: the nested HWPT it is bound to; 0 otherwise */
};

struct viommu_pt;

struct viommu_dev {
	struct viommu *unit;
	uint16_t guest_sid;
	struct host_device host;	/* placement on the simulated host */
	struct viommu_attach attach[VTD_MAX_ATTACH];
	size_t nattach;
	struct simdev *simdev;		/* the device model, for ATC and DMA; NULL for passthrough */
	struct simvtd *sim;		/* DMA goes through this simulated host's caches (dma.c) */
	struct viommu_pt *pt;		/* a VFIO device (passthrough.c); NULL for sim devices */
	/* Passthrough: the DID the RID's entry named when last placed (domain-selective scope). */
	bool rid_did_valid;
	uint16_t rid_did;
	/*
	 * The context as last synced lets requests carry a PASID (scalable
	 * mode, PASIDE set). Without it a request with PASID must not use
	 * the no-PASID attachment (PASID 0): the tables refuse it.
	 */
	bool pasid_ok;
	/*
	 * Where the guest's page group responses for this RID go (prq.c),
	 * called with the unit's lock held: it must not take it, nor any
	 * lock held while taking it. NULL: responses are counted and dropped.
	 */
	void (*page_response)(void *opaque, const struct vtd_desc_pgrp_resp *resp);
	void *page_response_opaque;
};

/* prq.c: a device's page request (spec 7.4.1), and what became of it. */
struct vtd_page_req {
	uint16_t rid;
	bool has_pasid;
	uint32_t pasid;
	uint64_t addr;			/* page address; the low 12 bits are ignored */
	bool read, write, exec, priv;
	bool lpig;			/* last page in group */
	uint16_t prgi;			/* page request group index, 9 bits */
};

enum vtd_prq_result {
	VTD_PRQ_QUEUED,		/* in the guest's queue: a response will come, if the guest sends one */
	VTD_PRQ_REFUSED,	/* no PRS, no PASID, or the context entry's PRE clear: a fault */
	VTD_PRQ_DROPPED,	/* overflow (PRO): for an LPIG request the unit answers Success itself */
};

struct viommu {
	struct vm *vm;
	unsigned int index;
	struct guest_trace *guest_trace;	/* --guest-trace, shared by the units; or NULL */
	uint64_t base;			/* MMIO base */
	pthread_mutex_t lock;

	/* Registers (spec 11.4). */
	uint64_t cap, ecap;
	uint32_t gcmd, gsts;
	uint64_t rtaddr;		/* as written */
	uint64_t rtaddr_active;		/* latched by SRTP */
	uint64_t ccmd;
	uint64_t iotlb_reg, iva;
	uint32_t fsts, fectl, fedata, feaddr, feuaddr;
	uint64_t frcd[VTD_NFR][2];
	unsigned int frcd_next;
	uint64_t iqh, iqt, iqa;
	uint32_t ics, iectl, iedata, ieaddr, ieuaddr;
	uint64_t iqercd;
	/* Page requests (prq.c, spec 7.4 and 10.4.31-38). */
	uint64_t pqh, pqt, pqa;
	uint32_t prs, pectl, pedata, peaddr, peuaddr;
	uint64_t page_requests, page_requests_dropped, page_responses, page_responses_unrouted;
	/*
	 * A flush that closed no wait failed on the host (qi.c): the next
	 * wait must not complete. Kept across IQT writes; cleared by that
	 * wait or when QI is disabled.
	 */
	bool qi_failed;
	bool qi_failed_ice;		/* ...and the next wait reports ICE (not after an ITE) */

	/* Shadowing. */
	struct tag_store *ts;		/* shared by all units */
	struct flush_engine *fe;	/* shared by all units */
	struct viommu_dev *devs[VIOMMU_MAX_UNIT_DEVS];
	size_t ndevs;
	uint64_t batches, descriptors;	/* statistics */
	uint64_t tail_writes, tail_ns;	/* IQT writes processed, time spent in them */
	struct qi_run *qi_scratch;	/* qi.c's batch buffer, kept between tail writes */

	/* Bounded work per exit (work.c). */
	struct vtd_resync *resync;	/* tables.c's resync in steps, if one is under way */
	unsigned int resync_owner;	/* VTD_RESYNC_BY_*: who started it */
	bool reg_resync;		/* a register resync waits: of all devices, or of @reg_sid */
	bool reg_all;
	uint16_t reg_sid;
	unsigned int reg_caig;		/* CCMD's CAIG for the waiting resync (0: not CCMD's) */
	unsigned int run_caig;		/* ... for the one under way */
	bool iotlb_reg_pending;		/* IOTLB_REG.IVT set, waiting behind a resync */
	unsigned long work_budget;	/* units per step: VTD_WORK_BUDGET (the fuzzer sets less) */
	uint64_t work_spent;		/* units of work done, overshoot included (vtd_spend()) */
	bool work_more;			/* the worker has work */
	bool work_stop;
	bool worker_started;
	bool worker_off;		/* no worker: the caller steps the work (fuzzing) */
	pthread_t worker;
	pthread_cond_t work_cond;
	uint64_t work_steps;		/* steps the worker took (statistics) */
	uint64_t work_max_step_ns;	/* the longest of them, in thread CPU time */
	unsigned int lock_waiters;	/* threads in vtd_unit_lock() (atomic) */
	uint64_t work_max_exit;		/* most units one exit or step spent (u->work_spent) */
	uint64_t collapsed;		/* repeated cache invalidations run once */
	uint64_t ignored_accesses;	/* odd-sized, misaligned or unknown register accesses */

	/* MSI delivery: vm_signal_msi, or a test's recorder (set after viommu_unit_init). */
	int (*signal_msi)(struct vm *vm, uint64_t address, uint32_t data);
};

/* unit.c */
int viommu_unit_init(struct viommu *u, struct vm *vm, unsigned int index, bool caching_mode,
		     char *err, size_t errlen);
void viommu_unit_exit(struct viommu *u);

/* fault.c */
/* Record a fault (unless suppressed) and raise the fault event. Caller holds u->lock. */
void vtd_record_fault(struct viommu *u, const struct vtd_fault *f);
/* Set an FSTS error bit (IQE/ITE/ICE) and raise the fault event. Caller holds u->lock. */
void vtd_report_qi_error(struct viommu *u, uint32_t fsts_bit);
/* Deliver an interrupt described by an (addr, upper addr, data) register triple. */
void vtd_send_msi(struct viommu *u, uint32_t addr, uint32_t uaddr, uint32_t data);
/* An event of control register @ectl: pending in IP while masked (IM), else its MSI now. */
void vtd_raise_event(struct viommu *u, uint32_t *ectl, uint32_t addr, uint32_t uaddr,
		     uint32_t data);
/* An event control register's write: IM, and a pending IP delivered on unmask. */
void vtd_ectl_write(struct viommu *u, uint32_t *ectl, uint32_t val, uint32_t addr,
		    uint32_t uaddr, uint32_t data);
/* FSTS.PPF (and FECTL.IP) again after the guest cleared records or status bits. */
void vtd_fault_update_ppf(struct viommu *u);

/*
 * prq.c: page requests. vtd_page_request() takes u->lock (a device calls
 * it outside dma_lock()). The register accessors and vtd_page_response()
 * run with u->lock held (unit.c, qi.c).
 */
enum vtd_prq_result vtd_page_request(struct viommu *u, const struct vtd_page_req *pr);
void vtd_page_response(struct viommu *u, const struct vtd_desc_pgrp_resp *resp);
bool vtd_prq_reg_read(struct viommu *u, unsigned int off, uint32_t *val);
bool vtd_prq_reg_write(struct viommu *u, unsigned int off, uint32_t val);
/* tables.c: the scalable-mode context entry of @sid is present and has PRE set. */
bool vtd_context_pre(struct viommu *u, uint16_t sid);

/*
 * qi.c: run the queue from IQH towards IQT for about *@budget units
 * (descriptors and the entry reads of their resyncs), spending it.
 * Returns true when it stopped for the budget with work left (work.c
 * goes on with it). vtd_qi_pending(): QI on, not stalled, not empty.
 * Caller holds u->lock.
 */
bool vtd_qi_run(struct viommu *u, unsigned long *budget);
bool vtd_qi_pending(const struct viommu *u);
void vtd_qi_exit(struct viommu *u);

/*
 * work.c: bounded work per exit. The register side and the queue never
 * do more than VTD_WORK_BUDGET units in one MMIO exit (or one hold of
 * u->lock): vtd_work_kick(), called at the end of every register write,
 * does that much of what is pending (a register resync, a deferred
 * IOTLB register invalidation, the queue) and hands the rest to the
 * unit's worker thread, which goes on in steps of the same size,
 * dropping u->lock in between. Caller of vtd_work_kick() holds u->lock;
 * vtd_work_stop() (without it) ends the worker, dropping what is left.
 */
#define VTD_WORK_BUDGET		(1ul << 14)
/*
 * Spend @cost units of *@budget (never below 0) and count all of them in
 * u->work_spent: a step's real cost, overshoot included, is what
 * u->work_max_exit reports and the tests and the fuzzer bound.
 */
static inline void vtd_spend(struct viommu *u, unsigned long *budget, unsigned long cost)
{
	u->work_spent += cost;
	*budget = *budget > cost ? *budget - cost : 0;
}
void vtd_work_kick(struct viommu *u);
/* Register side: a resync of every device (@all) or of @sid; CCMD's CAIG once done (0: none). */
void vtd_work_resync(struct viommu *u, bool all, uint16_t sid, unsigned int ccmd_caig);
bool vtd_work_busy(const struct viommu *u);
/* Take u->lock ahead of the worker's next step (vCPU exits, DMA). */
void vtd_unit_lock(struct viommu *u);
void vtd_work_stop(struct viommu *u);
/*
 * With u->worker_off (set before the unit is used): one worker step, in
 * the caller's thread, taking u->lock. Returns whether work is left.
 */
bool vtd_work_step(struct viommu *u);
/* unit.c: the IOTLB register invalidation, once nothing is ahead of it. */
void vtd_iotlb_reg_run(struct viommu *u);
/*
 * Turn a failed host flush into the guest's ITE (ITESID) or ICE (ICESID),
 * the SID being the guest's for the host device named. Returns true for ITE.
 */
bool vtd_report_host_error(struct viommu *u, const struct flush_result *res);

/* qi.c: run the queue from IQH to IQT. Caller holds u->lock. */
void vtd_qi_process(struct viommu *u);
void vtd_qi_exit(struct viommu *u);

/* tables.c (caller holds u->lock) */
/*
 * Look up (SID, PASID) in the guest's tables. Returns 0 with @x filled, or
 * -1 with @f filled (reason, suppress per FPD). Requests without PASID use
 * PASID entry 0 in scalable mode: ECAP.RPS is not advertised, so the
 * context's RID_PASID must be 0 (a reserved-field fault otherwise), and
 * the no-PASID attachment is always PASID 0, as the host caches see it.
 */
int vtd_lookup(struct viommu *u, uint16_t sid, bool has_pasid, uint32_t pasid,
	       struct vtd_xlate *x, struct vtd_fault *f);
/*
 * Bring the tag store in line with the guest's tables for device @sid
 * (every device when @all): detach what the tables no longer say (flushing
 * the host caches of that attachment first), attach what they now say.
 * An attachment whose flush fails stays (in dev->attach[] and the store,
 * so guest flushes still reach the device's ATC) and is retried by the
 * next resync; meanwhile no new attachment takes its PASID.
 * vtd_sync_attachments_result() returns 0, or -1 with @res (may be NULL)
 * the first failed flush, for the queue to report (qi.c);
 * vtd_sync_attachments(), for the register side (unit.c), records any
 * failure as ICE itself.
 */
int vtd_sync_attachments_result(struct viommu *u, bool all, uint16_t sid,
				struct flush_result *res);
void vtd_sync_attachments(struct viommu *u, bool all, uint16_t sid);
/*
 * PASID-cache invalidations of narrower granularity (spec 6.5.2.6), over
 * every device of the unit, with the same flush-before-detach and
 * keep-on-failure rules and the same return as
 * vtd_sync_attachments_result():
 * vtd_sync_pasid() re-reads PASID @pasid's entry only (no directory walk)
 * and changes only that PASID's attachment, whatever DID the old or new
 * entry names (@did is not used to filter);
 * vtd_sync_domain() changes only attachments whose current or new DID is
 * @did (it still walks each directory to find PASIDs newly naming @did).
 * Both also refresh dev->pasid_ok from the context entry they read.
 */
int vtd_sync_pasid(struct viommu *u, uint16_t did, uint32_t pasid, struct flush_result *res);
int vtd_sync_miss(struct viommu *u, uint16_t sid, uint16_t did, uint32_t pasid,
		  struct flush_result *res);
int vtd_sync_domain(struct viommu *u, uint16_t did, struct flush_result *res);
/*
 * The same resyncs in steps, for bounded work per exit (work.c): one at a
 * time per unit. vtd_resync_start() sets one up (-1: out of memory);
 * vtd_resync_step() goes on with it for about *@budget entry reads,
 * spending the budget, and returns 1 while work is left, then 0, or -1
 * with @res the first failed flush, as vtd_sync_attachments_result().
 */
enum vtd_resync_kind {
	VTD_RESYNC_DEVICES,	/* every PASID of every device (@all) or of @sid */
	VTD_RESYNC_DOMAIN,	/* as vtd_sync_domain(@did) */
	VTD_RESYNC_PASID,	/* as vtd_sync_pasid(@did, @pasid) */
};
struct vtd_resync_req {
	enum vtd_resync_kind kind;
	bool all;
	uint16_t sid;
	uint16_t did;
	uint32_t pasid;
};
int vtd_resync_start(struct viommu *u, const struct vtd_resync_req *req);
/* All of @req at once (callers without a step to return to). */
int vtd_sync_req(struct viommu *u, const struct vtd_resync_req *req, struct flush_result *res);
int vtd_resync_step(struct viommu *u, unsigned long *budget, struct flush_result *res);
bool vtd_resync_active(const struct viommu *u);
void vtd_resync_free(struct viommu *u);
/*
 * The host DID a guest DID of this unit maps to (stable, unique per VM):
 * index * 0x4000 + guest DID, so guest DIDs must fit VTD_GUEST_DID_BITS
 * (units advertise CAP.ND = 5). tables.c treats DID bits above that as
 * reserved, so no attachment has a wider DID; one passed here anyway is
 * folded.
 */
#define VTD_GUEST_DID_BITS 14
uint16_t vtd_host_did(struct viommu *u, uint16_t guest_did);

/*
 * passthrough.c (caller holds u->lock). A VFIO device follows the guest's
 * tables on the host: each nested (first-stage) attachment is bound to a
 * nested HWPT before it enters the tag store (viommu_pt_bind() fills a->hwpt;
 * -1 when the host refuses it: the PASID stays blocked, with a message),
 * and unbound once it left the store and the device no longer uses it.
 * viommu_pt_place() then attaches the device's RID and PASIDs on the host to
 * what dev->attach[] and @rid_mode (the RID's mode; ignored unless
 * @rid_known) say: its nested HWPT, the nest parent for pass-through or
 * translation off, detached (no DMA) for anything else or when the host
 * refuses the move. It returns -1 only when even the detach failed.
 * viommu_pt_unbind() releases a bind once the device no longer sits on it.
 */
int viommu_pt_bind(struct viommu *u, struct viommu_dev *dev, struct viommu_attach *a);
void viommu_pt_unbind(struct viommu *u, struct viommu_dev *dev, const struct viommu_attach *a);
int viommu_pt_place(struct viommu *u, struct viommu_dev *dev, bool rid_known,
		 enum vtd_xlate_mode rid_mode);

/*
 * dma.c: the vmm/dma.h space of @dev (its unit must be set), for a device
 * model to translate its DMA through.
 */
struct dma_space;
void viommu_dma_space(struct viommu_dev *dev, struct dma_space *out);

/* walk.c: translate @iova for an access of @x; no locks needed (guest memory only). */
#define VTD_ACCESS_READ		(1u << 0)
#define VTD_ACCESS_WRITE	(1u << 1)
#define VTD_ACCESS_EXEC		(1u << 2)
#define VTD_ACCESS_USER		(1u << 3)	/* user-mode request (first stage U/S) */
int vtd_translate(struct vm *vm, const struct vtd_xlate *x, uint64_t iova, unsigned int access,
		  uint64_t *gpa, struct vtd_fault *f);

#endif
