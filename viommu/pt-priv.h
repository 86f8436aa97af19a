/* SPDX-License-Identifier: MIT */
/*
 * What passthrough.c and pt-fault.c share: a VFIO device behind the
 * vIOMMU and the host side of all of them.
 */
#ifndef TAGVMM_VIOMMU_PT_PRIV_H
#define TAGVMM_VIOMMU_PT_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hostvtd/host.h"
#include "viommu/viommu-priv.h"
#include "vmm/vfio.h"

/*
 * Outstanding host page request groups the guest holds (answered by its
 * type-9 response, or by us when the guest cannot take them). A guest
 * gets at most this many at a time: a group beyond it is answered Success
 * at once, as an overflowing queue is (pt-fault.c).
 */
#define PT_FAULT_GROUPS		256
/* Records read at once: a host group larger than this is never read (EINVAL; logged). */
#define PT_FAULT_READ_MAX	512

struct pt_fault_group {
	bool used;
	struct viommu_dev *dev;
	uint32_t pasid;
	uint16_t prgi;
	uint32_t cookie;		/* iommufd's, for the response */
};

struct pt_fault_stats {
	uint64_t groups, records;	/* read from the host */
	uint64_t injected;		/* page requests queued for the guest */
	uint64_t answered_overflow;	/* guest queue (or our table) full: Success at once */
	uint64_t answered_refused;	/* guest cannot take it (no PRE, no PASID): Invalid */
	uint64_t unknown_dev, unbound_pasid;	/* answered Invalid */
	uint64_t responses;		/* guest responses written back */
	uint64_t unmatched;		/* guest responses with no group: dropped */
	uint64_t pri_resets;		/* Response Failure: the device's other groups answered too */
	uint64_t bad_reads, write_errors;
};

struct pt_faults {
	/* The group table: a leaf lock, taken under the unit's lock (responses), never around it. */
	pthread_mutex_t lock;
	bool lock_ready;
	struct pt_fault_group groups[PT_FAULT_GROUPS];
	/*
	 * PT_FAULT_READ_MAX records, used by one poll at a time (poll_lock):
	 * the reader's, or a caller's with the reader off (tests, fuzzing).
	 * Taken before the unit's lock and the table's, never under them.
	 */
	struct iommu_hwpt_pgfault *buf;
	pthread_mutex_t poll_lock;
	struct pt_fault_stats st;
	unsigned long warnings;		/* for the rate limit */
	/* The reader thread, started with the first faulting HWPT unless reader_off. */
	pthread_t thread;
	pthread_cond_t cond;
	bool thread_started, stop, reader_off;
};

/* Releases the tables asked for while the device still sat on the HWPT: at most one per placement, twice. */
#define PT_MAX_PENDING	(2 * (VTD_MAX_ATTACH + 1))

struct viommu_pt {
	struct viommu_pt_host *host;
	struct viommu_dev *dev;
	size_t vfio_index;		/* in vfio_state_of(vm)->devs */
	uint32_t dev_id;		/* iommufd's */
	uint32_t rid_pt;		/* what the RID is attached to on the host; 0: detached */
	struct {
		uint32_t pasid, pt;
	} pasid_pt[VTD_MAX_ATTACH];	/* PASIDs other than 0 attached on the host */
	size_t npasid_pt;
	uint32_t pending[PT_MAX_PENDING];	/* binds to release once nothing sits on them */
	size_t npending;
	bool warned_s2;
};

struct viommu_pt_host {
	struct vm *vm;
	struct iommufd_host *h;
	uint32_t ioas_id;		/* vfio.c's: guest RAM at its GPA */
	struct host_unit units[VFIO_MAX_DEVICES];
	unsigned int nunits;
	struct viommu_pt devs[VFIO_MAX_DEVICES];
	unsigned int ndevs;
	struct pt_faults faults;	/* page fault forwarding (pt-fault.c) */
};


/* pt-fault.c */
/* Make the unit's fault queue when the host unit has PRS. false: the vIOMMU offers no PRS. */
bool viommu_pt_faults_unit(struct viommu_pt_host *p, struct host_unit *hu);
/* Does a nested HWPT of @dev, bound now, report its page faults (PRE set, PRS offered)? */
bool viommu_pt_faults_wanted(struct viommu *u, struct viommu_dev *dev);
/* The reader thread, once (not after viommu_pt_fault_reader_off(): the caller polls). Under u->lock is fine. */
void viommu_pt_faults_start(struct viommu_pt_host *p);
/* Route @pt's guest page group responses here when its unit has a fault queue. */
void viommu_pt_faults_device(struct viommu_pt *pt);
/* A snapshot of the counters (any thread). */
void viommu_pt_fault_stats(struct viommu_pt_host *p, struct pt_fault_stats *out);
/* Stop the reader and forget every group; before the units go. */
void viommu_pt_faults_stop(struct viommu_pt_host *p);

#endif
