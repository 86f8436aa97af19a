/* SPDX-License-Identifier: MIT */
/*
 * Replay: a guest invalidation stream recorded by QEMU pushed through the
 * same flush path a live guest uses (tag store, planner, and a host back
 * end chosen by name), and what the host received. No KVM. The command
 * line is cli/cmd-replay.c; docs/replay.md has the model.
 */
#ifndef TAGVMM_REPLAY_REPLAY_H
#define TAGVMM_REPLAY_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hostvtd/flushpath.h"
#include "replay/topology.h"
#include "vtd/desc.h"

/* vIOMMUs a stream may name: as many as `tagvmm run` makes (VIOMMU_MAX_UNITS). */
#define REPLAY_MAX_VIOMMUS 4

#define REPLAY_DEFAULT_QUEUE_ENTRIES 256

/* How a step ended, beside REPLAY_OK; the caller turns it into an exit status. */
enum replay_status {
	REPLAY_OK = 0,
	REPLAY_FAILED,		/* no memory, a file, the flush path could not be built */
	REPLAY_BAD_SETUP,	/* a topology or unit count the host cannot have */
	REPLAY_BAD_INPUT,	/* the stream is malformed or truncated */
};

struct dryrun_host;

/* Set the first group (zero the rest), then replay_setup(). */
struct replay {
	const char *path;		/* the stream, for messages */
	struct topology topo;		/* --assign; empty: one domain per DID seen */
	bool auto_topology;
	unsigned int nunits;		/* host units; 0: as many as the topology names */
	unsigned int queue_entries;	/* the guest's queue size, to count untraced descriptors */
	bool json;			/* the summary as JSON */
	bool no_merge;

	struct flush_path fp;		/* back end, units, tag store, trace, engine */
	struct tag_store *ts;		/* fp's */
	struct flush_engine *fe;	/* fp's */
	struct dryrun_host *ri;		/* fp's back end with --backend iommufd-dry-run */

	struct vtd_desc *batch;
	size_t nbatch, cap;
	unsigned long batch_first_line;

	/* What the trace itself says, per vIOMMU queue (tagvmm_viommu lines). */
	uint64_t tail_writes, untraced;
	uint16_t viommu;		/* whose events these are now */
	struct replay_queue {
		uint64_t traced_since_tail, expected_since_tail;
		uint32_t last_tail;
		bool seen_tail;
	} queue[REPLAY_MAX_VIOMMUS];
	uint8_t auto_dids[0x10000];	/* bit v: DID auto-attached on vIOMMU v */
};

/*
 * Build the flush path from @fo (its units and no_merge come from @rp)
 * and apply the topology. Messages go to stderr.
 */
enum replay_status replay_setup(struct replay *rp, const struct flush_path_options *fo);
/*
 * Replay @in. Pending work is never dropped: a malformed or truncated
 * stream still flushes what came before it. *@host_failed is set when a
 * host submission failed.
 */
enum replay_status replay_stream(struct replay *rp, FILE *in, bool *host_failed);
/* The summary (stdout): what the guest queued, what the host received. */
void replay_print_summary(struct replay *rp);
/*
 * A VMM's exit path: the back end's teardown calls (the dry run checks
 * them too). Returns 0, or -1 with a message on stderr.
 */
int replay_teardown(struct replay *rp);
/* Free everything; returns -1 if writing the flush trace failed. */
int replay_free(struct replay *rp);

#endif
