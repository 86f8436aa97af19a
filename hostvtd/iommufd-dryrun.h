/* SPDX-License-Identifier: MIT */
/*
 * A dry-run iommufd: a struct host_ops whose /dev/iommu answers the ioctls
 * the nesting back end makes (IOMMU_IOAS_ALLOC, IOMMU_HWPT_ALLOC for nest
 * parents and VT-d stage-1 nested HWPTs, IOMMU_GET_HW_INFO,
 * IOMMU_HWPT_INVALIDATE, IOMMU_DESTROY, IOMMU_FAULT_QUEUE_ALLOC and the
 * fault queue's fd: reads of injected faults, page responses) by checking every argument the way
 * Linux's iommufd core and its Intel VT-d driver check it, refusing with the
 * kernel's errno, and counting what each HWPT received.
 *
 * It answers the question "which iommufd calls would this guest's stream
 * cost a real host?" where there is no /dev/iommu. It is not a fake that
 * returns canned results: a call the kernel would refuse is refused, with
 * the same errno, and nothing is counted as flushed that the kernel would
 * not have flushed. What it cannot know: hardware timing, device-TLB
 * timeouts (current kernels report none through IOMMU_HWPT_INVALIDATE
 * anyway), and whatever happens at device attach, which is VFIO's job and
 * not modelled (the kernel checks the stage-1 address width and flags
 * there, not at allocation). See docs/replay.md.
 *
 * The rules modelled are those of Linux 6.14 and later
 * (drivers/iommu/iommufd/main.c, hw_pagetable.c, device.c and
 * drivers/iommu/intel/nested.c, iommu.c); iommufd_dryrun_set_linux() selects
 * an older kernel's where they differ. Held against Debian's 6.12.118 in the
 * passthrough testbed (tests/realkvm/iommufd-agree.c, docs/passthrough.md). ioctls the back end never makes
 * are refused with ENOTTY, as "not modelled"; every other path opens with
 * ENOENT (there is no sysfs, so nothing to list either), and the device
 * calls (region reads and writes, mmap, eventfds) fail with ENOSYS: the
 * back end makes none. Thread-safe: one lock around everything.
 */
#ifndef TAGVMM_HOSTVTD_IOMMUFD_DRYRUN_H
#define TAGVMM_HOSTVTD_IOMMUFD_DRYRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/hostops.h"

struct iommufd_dryrun;

/* One HWPT as the dry run's kernel sees it. */
struct iommufd_dryrun_hwpt {
	uint32_t id;
	bool nested;			/* VT-d stage 1; else a paging HWPT */
	bool nest_parent;		/* paging HWPTs: IOMMU_HWPT_ALLOC_NEST_PARENT */
	uint32_t pt_id;			/* the IOAS (paging) or the parent HWPT (nested) */
	uint32_t dev_id;		/* the device it was allocated through */
	uint64_t s1_pgtbl, s1_flags;	/* nested: the guest's stage-1 table */
	uint32_t s1_addr_width;
	uint32_t fault_id;		/* nested: the fault queue it reports to; 0: none */
	uint64_t invalidate_calls;	/* IOMMU_HWPT_INVALIDATE calls that reached it */
	uint64_t invalidate_entries;	/* entries it handled */
	uint64_t invalidate_refused;	/* of those calls, the ones that failed */
};

struct iommufd_dryrun_stats {
	uint64_t ioctls;		/* every ioctl on a dry-run iommufd */
	uint64_t refused;		/* ... answered with an error */
	uint64_t hwpt_allocs, destroys, hw_info;
	uint64_t invalidate_calls;	/* IOMMU_HWPT_INVALIDATE, refused ones included */
	uint64_t invalidate_entries;	/* entries handled */
	uint64_t live_hwpts;		/* allocated and not destroyed */
	uint64_t fault_fds_closed;	/* fault queue fds closed */
	int last_errno;			/* of the last refusal, 0 if none */
	char last_error[192];		/* why, in the kernel's terms */
};

struct iommufd_dryrun *iommufd_dryrun_new(void);
/*
 * The kernel whose rules to follow, where they changed: IOMMU_HWPT_INVALIDATE
 * of an object that is no nested HWPT is ENOENT before 6.13 (the id was
 * looked up as a nested HWPT; found against Debian's 6.12.118 in the
 * passthrough testbed) and EINVAL from 6.13. Later versions than the
 * newest modelled are taken as it. Default: IOMMUFD_DRYRUN_LINUX_NEWEST.
 */
#define IOMMUFD_DRYRUN_LINUX_NEWEST 614
void iommufd_dryrun_set_linux(struct iommufd_dryrun *dr, unsigned int major, unsigned int minor);
/* Frees every context still open; close the iommufd_host using it first. */
void iommufd_dryrun_free(struct iommufd_dryrun *dr);
/* The ops to hand to iommufd_host_open(). Valid as long as @dr. */
const struct host_ops *iommufd_dryrun_ops(struct iommufd_dryrun *dr);

/*
 * Stand-in for VFIO_DEVICE_BIND_IOMMUFD, which a real VMM issues on the
 * device's cdev: a device behind a VT-d unit with registers @cap/@ecap
 * (ECAP.SMTS, SLTS and NEST decide what it may allocate), bound to the
 * iommufd @fd. *@dev_id is its object id in that iommufd. Returns 0, or
 * -1 with errno EBADF (unknown fd) or ENOMEM.
 */
int iommufd_dryrun_bind_device(struct iommufd_dryrun *dr, int fd, uint64_t cap, uint64_t ecap,
			       uint32_t *dev_id);

/* Log every ioctl, its arguments and its answer, one line each; NULL stops. */
void iommufd_dryrun_set_log(struct iommufd_dryrun *dr, FILE *log);

void iommufd_dryrun_stats(struct iommufd_dryrun *dr, struct iommufd_dryrun_stats *out);
/* HWPT @id of iommufd @fd. Returns 0, or -1 with errno ENOENT. */
int iommufd_dryrun_hwpt(struct iommufd_dryrun *dr, int fd, uint32_t id,
			struct iommufd_dryrun_hwpt *out);

/*
 * Fault queues (IOMMU_FAULT_QUEUE_ALLOC, Linux 6.11; fault.c). Each holds
 * at most IOMMUFD_DRYRUN_FAULT_MAX records waiting to be read, groups
 * waiting for a response, and responses kept for the test.
 */
#define IOMMUFD_DRYRUN_FAULT_MAX 64
struct iommu_hwpt_pgfault;
struct iommu_hwpt_page_response;
/*
 * Test hook: the device behind fault queue @fault_id of iommufd @fd
 * reports one page request group, @n records (the last should carry
 * IOMMU_PGFAULT_FLAGS_LAST_PAGE; cookies are assigned when read, as the
 * kernel does). Returns 0, or -1 with ENOENT (no such queue) or ENOSPC.
 */
int iommufd_dryrun_inject_fault(struct iommufd_dryrun *dr, int fd, uint32_t fault_id,
				const struct iommu_hwpt_pgfault *recs, size_t n);
/*
 * The responses queue @fault_id took so far (up to @max into @out; the
 * count is returned), how many groups still wait for one, and whether its
 * fd is still open. -1 with ENOENT when there is no such queue.
 */
ssize_t iommufd_dryrun_fault_responses(struct iommufd_dryrun *dr, int fd, uint32_t fault_id,
				       struct iommu_hwpt_page_response *out, size_t max,
				       unsigned int *waiting, bool *fd_open);

#endif
