/* SPDX-License-Identifier: MIT */
/*
 * The flush engine: the straight line from a guest batch to the host.
 * guest batch -> tag store -> flush plan -> back end per unit -> flush trace.
 * Shared by the live vIOMMU and by replay.
 */
#ifndef TAGVMM_HOSTVTD_FLUSH_H
#define TAGVMM_HOSTVTD_FLUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostvtd/backend.h"
#include "hostvtd/plan.h"
#include "hostvtd/tagstore.h"

struct flush_trace;

struct flush_stats {
	uint64_t guest_descriptors;	/* everything queued, waits included */
	uint64_t guest_invalidations;	/* descriptors asking the host for work */
	uint64_t guest_batches;		/* batches (one per wait) */
	uint64_t host_invalidations;	/* IOTLB + PASID-IOTLB ops */
	uint64_t host_devtlb_invalidations;
	uint64_t host_submissions;	/* one wait each */
	uint64_t unique_tag_bound;	/* sum over batches of distinct op keys */
	uint64_t no_target;		/* guest invalidations no host tag needed */
	uint64_t host_errors;
};

struct flush_result {
	int status;			/* 0, or -1 when some submission failed */
	struct host_error err;		/* the first failure */
};

struct flush_engine;

struct flush_engine *flush_engine_new(struct tag_store *ts, struct flush_trace *trace,
				      const struct plan_options *opt);
void flush_engine_free(struct flush_engine *fe);

/*
 * Push one guest batch: @n decoded descriptors that preceded a wait (the
 * wait itself excluded; @waits says how many wait descriptors closed it, for
 * the counters). Returns only after every host submission completed or
 * failed, so the caller may then complete the guest's wait. Thread-safe:
 * vCPU threads may call it concurrently.
 */
int flush_engine_batch(struct flush_engine *fe, uint16_t viommu, const struct vtd_desc *reqs,
		       size_t n, unsigned int waits, struct flush_result *res);

void flush_engine_stats(struct flush_engine *fe, struct flush_stats *out);

#endif
