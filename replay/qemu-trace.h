/* SPDX-License-Identifier: MIT */
/*
 * Reader for guest invalidation streams recorded by QEMU's VT-d model:
 *   qemu-system-x86_64 ... -trace 'vtd_inv_desc*' -trace vtd_inv_qi_tail -D LOG
 * It yields the raw descriptors ("vtd_inv_desc ... high 0x.. low 0x..",
 * also "vtd_inv_desc_invalid ... hi 0x.. lo 0x..") and the tail writes
 * ("vtd_inv_qi_tail write tail N"), with their line numbers. Decoded
 * companion events (vtd_inv_desc_iotlb_pages, ...) and unrelated lines are
 * skipped and counted. Format notes: tests/data/README.md.
 *
 * Two lines QEMU never writes extend the format for streams recorded by
 * `tagvmm run --guest-trace` (docs/replay.md):
 *   "tagvmm_viommu N": the events that follow are vIOMMU N's (default 0);
 *   "tagvmm_inv_desc_upper qw2 0x.. qw3 0x..": bits 255:128 of the
 *   256-bit descriptor (scalable mode, DW=1) on the next event line, which
 *   must be a descriptor (lines of other events may sit in between).
 */
#ifndef TAGVMM_REPLAY_QEMU_TRACE_H
#define TAGVMM_REPLAY_QEMU_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vtd/desc.h"

enum qemu_trace_kind {
	QEMU_TRACE_DESC,	/* raw holds qw0 = low, qw1 = high; qw2/qw3 zero */
	QEMU_TRACE_TAIL,	/* tail holds the descriptor index written to IQT */
	QEMU_TRACE_VIOMMU,	/* viommu holds the vIOMMU of the events that follow */
};

struct qemu_trace_event {
	enum qemu_trace_kind kind;
	unsigned long line;
	struct vtd_raw_desc raw;
	int wide;		/* raw holds all 256 bits (an upper line came first) */
	uint32_t tail;
	uint16_t viommu;
	/*
	 * 1 for vtd_inv_desc_invalid lines. Only older QEMU has that event;
	 * 7.2 logs an unknown descriptor type with error_report instead.
	 */
	int invalid;
};

struct qemu_trace_reader;

/* Reads from @in (not closed by qemu_trace_close). NULL on no memory. */
struct qemu_trace_reader *qemu_trace_open(FILE *in);
void qemu_trace_close(struct qemu_trace_reader *r);

/*
 * Next event: returns 1 with @ev filled, 0 at a clean end of input, or -1
 * with "line N: what is wrong" in @err (a malformed vtd_inv_desc or
 * vtd_inv_qi_tail line, a value out of range, a truncated last line, a read
 * error). After -1 the reader stays failed.
 */
int qemu_trace_next(struct qemu_trace_reader *r, struct qemu_trace_event *ev, char *err,
		    size_t errlen);

/* Lines read and lines skipped (other events, unrelated text) so far. */
unsigned long qemu_trace_lines(const struct qemu_trace_reader *r);
unsigned long qemu_trace_skipped(const struct qemu_trace_reader *r);

#endif
