/* SPDX-License-Identifier: MIT */
/*
 * Flush planner: turns one guest batch (every invalidation the guest queued
 * before a wait) into the smallest host plan. One op per (host unit, DID,
 * PASID) covering the union of the guest ranges, one op per (ATS device,
 * PASID), grouped so each host unit gets exactly one submission.
 */
#ifndef TAGVMM_HOSTVTD_PLAN_H
#define TAGVMM_HOSTVTD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostvtd/host.h"
#include "hostvtd/tagstore.h"
#include "vtd/desc.h"

/* What a host op invalidates; each maps to one descriptor type. */
enum flush_op_kind {
	FLUSH_OP_IOTLB,		/* type 2: DID-granular, second stage */
	FLUSH_OP_PIOTLB,	/* type 6: (DID, PASID), first stage / nested */
	FLUSH_OP_DEVTLB,	/* type 3: a device's ATC, requests without PASID */
	FLUSH_OP_PDEVTLB,	/* type 8: a device's ATC for one PASID */
};

enum flush_scope {
	FLUSH_RANGE,		/* addr/am below */
	FLUSH_ALL,		/* DSI (type 2), PASID-selective (type 6), whole ATC (3/8) */
};

struct flush_op {
	enum flush_op_kind kind;
	enum cache_tag_type tag_type;	/* the tag this op serves (for the trace) */
	struct host_unit *unit;
	uint16_t did;
	uint32_t pasid;
	/* Device-TLB ops: the device, copied so the op survives a detach. */
	uint16_t sid, pfsid;
	uint8_t qdep;
	char dev_name[HOST_NAME_LEN];

	enum flush_scope scope;
	uint64_t start, end;		/* union of the guest ranges, inclusive bytes */
	uint64_t addr;			/* aligned cover sent to the host */
	uint8_t am;			/* 2^am pages; VTD_MAX_AM with FLUSH_ALL */
	bool ih;			/* leaf-only: every folded request had IH set */
	unsigned int absorbed;		/* guest requests folded into this op */
};

/* The host descriptor for @op (shared by the simulated host and the trace). */
void flush_op_encode(const struct flush_op *op, struct vtd_raw_desc *raw);

/* A device-TLB op (types 3 and 8): it names a device, not a domain. */
static inline bool flush_op_is_devtlb(enum flush_op_kind kind)
{
	return kind == FLUSH_OP_DEVTLB || kind == FLUSH_OP_PDEVTLB;
}

struct plan_options {
	bool no_merge;		/* forward one for one, one submission per op (QEMU's way) */
};

/*
 * A plan is reusable: flush_plan_build() resets it. After a build, ops are
 * ordered by unit index, and within a unit IOTLB ops come before device-TLB
 * ops (an ATC refill must not hit a stale IOTLB entry).
 */
struct flush_plan {
	struct flush_op *ops;
	size_t nops, cap;

	/* Per batch accounting. */
	unsigned int guest_invalidations;	/* requests that ask the host for work */
	unsigned int no_target;		/* requests that reached no host tag */
	unsigned int unique_tag_bound;	/* distinct op keys the batch touched */

	/* Planner scratch, kept across builds to avoid allocating per batch. */
	struct plan_scratch *scratch;
};

void flush_plan_init(struct flush_plan *plan);
void flush_plan_free(struct flush_plan *plan);

/*
 * Build the plan for @n decoded guest descriptors of vIOMMU @viommu (no wait
 * descriptor among them). Descriptors that need no host work (context and
 * PASID cache, IEC, page responses) are accepted and not counted as
 * invalidations. Returns 0, or -1 on allocation failure.
 */
int flush_plan_build(struct flush_plan *plan, struct tag_store *ts, uint16_t viommu,
		     const struct vtd_desc *reqs, size_t n, const struct plan_options *opt);

/*
 * The aligned cover of [start, end] as Linux's calculate_psi_aligned_address():
 * returns the base address and stores the mask in *am (VTD_MAX_AM when only
 * the whole space covers it).
 */
uint64_t flush_psi_cover(uint64_t start, uint64_t end, unsigned int *am);

/* Does this guest descriptor ask the host for invalidation work? */
bool vtd_desc_is_host_invalidation(const struct vtd_desc *d);

#endif
