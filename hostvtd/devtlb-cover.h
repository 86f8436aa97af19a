/* SPDX-License-Identifier: MIT */
/*
 * What a nested HWPT's past invalidations already did to the device TLBs
 * behind it. On iommufd every IOMMU_HWPT_INVALIDATE of a nested HWPT also
 * flushes the ATC of each ATS device attached to it, over the entry's
 * range. The VT-d spec makes software invalidate the IOTLB before the
 * device TLB whenever it changes a mapping, and tagvmm turns each guest
 * IOTLB-class request into such an invalidation of the HWPT. So a later
 * guest device-TLB-only request for a device on that HWPT is already done
 * when a successful invalidation of the HWPT, made while the device was
 * attached to it, covered its range: no translation the device could have
 * cached since then is stale unless the guest changed a mapping without
 * the IOTLB request the spec requires (its own bug, confined to its own
 * memory: stage 2 is the kernel's). docs/design.md, "Device-TLB work".
 *
 * A small FIFO of ranges per HWPT, emptied when the HWPT's devices change
 * or one of its invalidations fails; forgetting a range only costs an
 * invalidation. The caller locks.
 */
#ifndef TAGVMM_HOSTVTD_DEVTLB_COVER_H
#define TAGVMM_HOSTVTD_DEVTLB_COVER_H

#include <stdbool.h>
#include <stdint.h>

#define DEVTLB_COVER_RANGES 8

struct devtlb_cover {
	uint64_t first[DEVTLB_COVER_RANGES], last[DEVTLB_COVER_RANGES];	/* bytes, inclusive */
	unsigned int n, next;
	bool all;			/* a whole-HWPT invalidation succeeded */
};

void devtlb_cover_reset(struct devtlb_cover *c);
/* A successful invalidation of [first, last] (0, UINT64_MAX: everything). */
void devtlb_cover_add(struct devtlb_cover *c, uint64_t first, uint64_t last);
/* Did one recorded invalidation cover all of [first, last]? */
bool devtlb_cover_covers(const struct devtlb_cover *c, uint64_t first, uint64_t last);

#endif
