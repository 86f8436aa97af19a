/* SPDX-License-Identifier: MIT */
/*
 * `tagvmm run --guest-trace FILE`: the guest's own invalidation stream, as
 * it queued it, in the QEMU trace format `tagvmm replay --qemu-trace` reads
 * (replay/qemu-trace.h): per IQT write, the tail line and every descriptor
 * between the old and the new tail, all 256 bits of each in scalable mode's
 * wide queue, and a tagvmm_viommu line whenever the vIOMMU changes. Each
 * submission is recorded when the guest writes IQT, from guest memory as it
 * is then, so the trace shows the guest's submission boundaries whatever
 * tagvmm's work budget later does with them. docs/replay.md.
 */
#ifndef TAGVMM_VIOMMU_GUEST_TRACE_H
#define TAGVMM_VIOMMU_GUEST_TRACE_H

#include <stdint.h>
#include <stdio.h>

struct vm;
struct guest_trace;

/*
 * A file stops growing past this size (a comment line says so): the guest
 * decides how much it submits. Tests set less.
 */
#define GUEST_TRACE_MAX_BYTES	(1ULL << 30)

/* @path "-" is stderr. NULL with errno set on failure. */
struct guest_trace *guest_trace_open(const char *path);
void guest_trace_set_max_bytes(struct guest_trace *t, uint64_t max_bytes);

/*
 * The guest moved vIOMMU @viommu's tail from @old_tail to @new_tail (byte
 * offsets, IQT's QT field) with queue register @iqa: record the
 * submission. Descriptors outside guest RAM are left out (the replay counts
 * them as untraced). NULL @t does nothing. Thread-safe.
 */
void guest_trace_submission(struct guest_trace *t, struct vm *vm, unsigned int viommu,
			    uint64_t iqa, uint64_t old_tail, uint64_t new_tail);

/* Flushes and closes; 0, or -1 if any write failed. NULL is fine. */
int guest_trace_close(struct guest_trace *t);

#endif
