/* SPDX-License-Identifier: MIT */
/*
 * The flush trace: one record per host invalidation, in the spirit of
 * Linux's intel_iommu trace events (qi_submit, cache_tag_flush_range), plus
 * one qi_wait record per submission. Text or JSON lines; to a file, stderr,
 * or nowhere (a NULL trace). Format: docs/flush-trace.md.
 */
#ifndef TAGVMM_HOSTVTD_FLUSHTRACE_H
#define TAGVMM_HOSTVTD_FLUSHTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hostvtd/backend.h"
#include "hostvtd/plan.h"

enum flush_trace_format { FLUSH_TRACE_TEXT, FLUSH_TRACE_JSON };

/* --flush-trace-format: "text" or "json". Returns 0, or -1 for anything else. */
int flush_trace_format_parse(const char *name, enum flush_trace_format *out);

struct flush_trace;

/*
 * A trace written to a file stops (with a comment line saying so) past this
 * size: the guest decides how much there is to write. Tests set less.
 */
#define FLUSH_TRACE_MAX_BYTES	(1ULL << 30)
struct flush_trace;
void flush_trace_set_max_bytes(struct flush_trace *t, uint64_t max_bytes);

/* @path "-" means stderr. Returns NULL with errno set on failure. */
struct flush_trace *flush_trace_open(const char *path, enum flush_trace_format fmt);
/* Trace to an already open stream (not closed by flush_trace_close). */
struct flush_trace *flush_trace_stream(FILE *f, enum flush_trace_format fmt);
/* Flushes and closes; returns 0, or -1 if any write failed. NULL is fine. */
int flush_trace_close(struct flush_trace *t);

/*
 * Record one host submission: @n ops sent to @unit as submission @sub of
 * guest batch @batch, and how it ended (@err NULL or kind NONE: success).
 * Thread-safe; a submission's records are never interleaved with another's.
 * A NULL @t records nothing.
 */
void flush_trace_submission(struct flush_trace *t, uint64_t batch, uint64_t sub,
			    const struct host_unit *unit, const struct flush_op *ops, size_t n,
			    const struct host_error *err);

/* `tagvmm trace summary`: read a trace (text or JSON lines, mixed is fine). */
#define TRACE_SUMMARY_MAX_UNITS 64
#define TRACE_SUMMARY_MAX_DIDS 1024

struct trace_summary_unit {
	char name[HOST_NAME_LEN];
	uint64_t invalidations, devtlb_invalidations, submissions, absorbed, errors;
};

struct trace_summary_did {
	char unit[HOST_NAME_LEN];
	uint16_t did;
	uint64_t invalidations, absorbed;
};

struct trace_summary {
	uint64_t records, batches, submissions;
	uint64_t invalidations;		/* iotlb + p_iotlb */
	uint64_t devtlb_invalidations;	/* dev_tlb + p_dev_tlb */
	uint64_t absorbed;		/* guest requests folded in, over all records */
	uint64_t errors;
	size_t nunits, ndids;
	bool units_truncated;		/* more units than the table holds */
	bool dids_truncated;		/* more (unit, DID) pairs than the table holds */
	struct trace_summary_unit units[TRACE_SUMMARY_MAX_UNITS];
	struct trace_summary_did dids[TRACE_SUMMARY_MAX_DIDS];
};

/*
 * Parse @in into @s (reset first). Returns 0; -1 with "line N: why" in
 * @errbuf for a malformed record or unknown event; -2 with errno set and a
 * message in @errbuf when reading failed or memory ran out. Lines longer
 * than TRACE_LINE_MAX bytes are malformed. Tables are sorted by unit name
 * (version order: dmar2 before dmar10), then DID.
 */
#define TRACE_LINE_MAX 4096
int trace_summary_read(FILE *in, struct trace_summary *s, char *errbuf, size_t errlen);
/* Merge ratio: guest requests absorbed per host invalidation (devTLB included). */
double trace_summary_merge_ratio(const struct trace_summary *s);
void trace_summary_print(const struct trace_summary *s, FILE *out, bool json);

#endif
