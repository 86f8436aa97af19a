/* SPDX-License-Identifier: MIT */
/*
 * The host back-end interface: where a flush plan's per-unit submission
 * goes. The simulated host VT-d (simvtd.c) and the iommufd nesting back end
 * both implement it. A submission is synchronous: when submit() returns 0
 * every op in it has completed on the host.
 */
#ifndef TAGVMM_HOSTVTD_BACKEND_H
#define TAGVMM_HOSTVTD_BACKEND_H

#include <stddef.h>
#include <stdint.h>

struct host_unit;
struct flush_op;

enum host_error_kind {
	HOST_ERR_NONE = 0,
	HOST_ERR_IQE,		/* the unit refused a descriptor */
	HOST_ERR_ITE,		/* a device-TLB invalidation timed out */
	HOST_ERR_ICE,		/* an invalidation completion error */
	HOST_ERR_IO,		/* the back end itself failed (ioctl, memory) */
};

struct host_error {
	enum host_error_kind kind;
	size_t op_index;	/* first op that did not complete */
	uint16_t sid;		/* ITE/ICE: the device's SID */
	char msg[128];
};

struct host_backend {
	const char *name;
	/*
	 * Execute @n ops on @unit, in order, and wait for all of them.
	 * Returns 0, or -1 with @err filled: err->op_index is the first op
	 * that failed. After an op's own failure (IQE, ITE) the back end
	 * still runs every other op; after HOST_ERR_IO (the unit itself is
	 * stuck) the remaining ops are not attempted. Either way ops from
	 * op_index on may not have completed, so the caller must not report
	 * them as done: the guest's wait is not completed.
	 */
	int (*submit)(struct host_unit *unit, const struct flush_op *ops, size_t n,
		      struct host_error *err);
};

const char *host_error_name(enum host_error_kind kind);

#endif
