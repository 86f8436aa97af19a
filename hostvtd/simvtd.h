/* SPDX-License-Identifier: MIT */
/*
 * The simulated host VT-d: one or more host units, each with a real
 * queued-invalidation ring in (simulated) host memory and IQA/IQH/IQT/ICS/
 * FSTS/IQER register semantics, executing the descriptors it is given
 * against an IOTLB model and per-device ATC models. It is the host back end
 * wherever there is no VT-d hardware, and the oracle of the tests.
 */
#ifndef TAGVMM_HOSTVTD_SIMVTD_H
#define TAGVMM_HOSTVTD_SIMVTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostvtd/backend.h"
#include "hostvtd/host.h"

#define SIMVTD_MAX_UNITS HOST_MAX_UNITS
#define SIMVTD_DESC_SLOTS 16	/* descriptor type codes 0..15 */

struct simvtd_config {
	unsigned int units;		/* 1..SIMVTD_MAX_UNITS */
	uint64_t cap, ecap;		/* 0: simvtd_default_cap()/ecap() */
	unsigned int queue_order;	/* queue is 2^order 4 KiB pages (IQA.QS), 0..7 */
	size_t mem_size;		/* simulated host memory; 0: 4 MiB */
	/*
	 * Entries per IOTLB and ATC, a power of two >= 256; 0: SIM_CACHE_CAPACITY.
	 * Only bench_fresh_iovas sets it, to show what the bound prevents.
	 */
	size_t cache_capacity;
};

struct simvtd;

/* CAP/ECAP of a modern scalable-mode unit: PSI, MAMV 9, QI, DT, PASID, NEST, SMTS. */
uint64_t simvtd_default_cap(void);
uint64_t simvtd_default_ecap(void);

/* Returns NULL with errno set on a bad config or no memory. */
struct simvtd *simvtd_new(const struct simvtd_config *cfg);
void simvtd_free(struct simvtd *sim);
unsigned int simvtd_units(const struct simvtd *sim);
/* Unit @i, named "dmar<i>", wired to simvtd_backend. NULL if out of range. */
struct host_unit *simvtd_unit(struct simvtd *sim, unsigned int i);

/* The back end that submits flush ops through a unit's ring. */
extern const struct host_backend simvtd_backend;

/*
 * Register access, as a driver would do it. Writing IQT executes the ring
 * from IQH to the new tail synchronously; errors set FSTS.IQE/ITE and IQER
 * and leave IQH on the offending descriptor (IQE) or past it (ITE, whose
 * pending waits are aborted). While IQE or ITE is set the queue stalls
 * (IQT writes are dropped under IQE); FSTS error bits are write-1-to-clear
 * and clearing the last one resumes the queue from IQH, as the hardware
 * does. Units start enabled as Linux leaves them: IQA = their own queue of
 * 2^queue_order pages, DW set when ECAP.SMTS, IQH = IQT = 0, GSTS.QIES.
 *
 * The back end chunks large submissions so the tail never overruns the
 * head. On an IQE it replaces the refused descriptor with a no-op wait, on
 * an ITE it clears the error, and in both cases resumes the queue: the ops
 * after err->op_index were still executed (re-flushing them is harmless).
 */
uint64_t simvtd_reg_read(struct simvtd *sim, unsigned int unit, unsigned int off);
void simvtd_reg_write(struct simvtd *sim, unsigned int unit, unsigned int off, uint64_t val);

/*
 * Simulated host memory: bounds-checked access, and a bump allocator.
 * Memory starts at a non-zero host address, so hpa 0 is never valid.
 */
void *simvtd_mem(struct simvtd *sim, uint64_t hpa, size_t len);
uint64_t simvtd_mem_alloc(struct simvtd *sim, size_t len, size_t align);	/* 0 on failure */

/*
 * Cache models. IOTLB entries are per unit, tagged (DID, PASID, page) and
 * whether they hold a first-stage/nested translation (flushed by type 6) or
 * a second-stage one (type 2 only). Type 2 flushes every entry of its DID,
 * whatever the PASID. ATC entries are per device SID, tagged (PASID, page).
 *
 * Each entry also remembers its translation's result, its target: the
 * page-aligned guest-physical page plus SIMVTD_TARGET_* permission bits.
 * Like hardware, a lookup returns what was cached, however stale: only an
 * invalidation removes it. The *_insert/_present calls are the same with
 * target 0 (no permission: useless for DMA, fine for flush tests).
 */
#define SIMVTD_TARGET_R		(1ULL << 0)
#define SIMVTD_TARGET_W		(1ULL << 1)
#define SIMVTD_TARGET_PAGE(t)	((t) & ~0xfffULL)
int simvtd_iotlb_insert_target(struct simvtd *sim, unsigned int unit, uint16_t did,
			       uint32_t pasid, bool first_stage, uint64_t iova, uint64_t target);
bool simvtd_iotlb_lookup(struct simvtd *sim, unsigned int unit, uint16_t did, uint32_t pasid,
			 uint64_t iova, uint64_t *target);
int simvtd_atc_insert_target(struct simvtd *sim, uint16_t sid, uint32_t pasid, uint64_t iova,
			     uint64_t target);
bool simvtd_atc_lookup(struct simvtd *sim, uint16_t sid, uint32_t pasid, uint64_t iova,
		       uint64_t *target);
size_t simvtd_iotlb_entries(struct simvtd *sim, unsigned int unit);
/* The IOTLB entries of host unit @unit tagged with a DID in [@did_first, @did_last]. */
size_t simvtd_iotlb_entries_in(struct simvtd *sim, unsigned int unit, uint16_t did_first,
				uint16_t did_last);
size_t simvtd_atc_entries(struct simvtd *sim, uint16_t sid);

static inline int simvtd_iotlb_insert(struct simvtd *sim, unsigned int unit, uint16_t did,
				      uint32_t pasid, bool first_stage, uint64_t iova)
{
	return simvtd_iotlb_insert_target(sim, unit, did, pasid, first_stage, iova, 0);
}

static inline bool simvtd_iotlb_present(struct simvtd *sim, unsigned int unit, uint16_t did,
					uint32_t pasid, uint64_t iova)
{
	return simvtd_iotlb_lookup(sim, unit, did, pasid, iova, NULL);
}

static inline int simvtd_atc_insert(struct simvtd *sim, uint16_t sid, uint32_t pasid,
				    uint64_t iova)
{
	return simvtd_atc_insert_target(sim, sid, pasid, iova, 0);
}

static inline bool simvtd_atc_present(struct simvtd *sim, uint16_t sid, uint32_t pasid,
				      uint64_t iova)
{
	return simvtd_atc_lookup(sim, sid, pasid, iova, NULL);
}

/* What a unit received and did. */
struct simvtd_counters {
	uint64_t desc[SIMVTD_DESC_SLOTS];	/* by descriptor type, index = type */
	uint64_t tail_writes;			/* IQT writes that ran descriptors */
	uint64_t waits;
	uint64_t iotlb_evicted, atc_evicted;	/* cache entries the flushes removed */
	uint64_t iqe, ite;
};
void simvtd_counters(struct simvtd *sim, unsigned int unit, struct simvtd_counters *out);

/*
 * Fault injection. The next @count device-TLB descriptors for @sid time
 * out (ITE with ITESID = @sid). The next @count descriptors of @unit are
 * refused as malformed (IQE, IQEI 3).
 */
void simvtd_inject_ite(struct simvtd *sim, uint16_t sid, unsigned int count);
void simvtd_inject_iqe(struct simvtd *sim, unsigned int unit, unsigned int count);

#endif
