/* SPDX-License-Identifier: MIT */
/*
 * Setting up and tearing down VFIO devices behind a vIOMMU
 * (passthrough.c); the per-attachment calls are in viommu-priv.h.
 */
#ifndef TAGVMM_VIOMMU_PASSTHROUGH_H
#define TAGVMM_VIOMMU_PASSTHROUGH_H

#include <stddef.h>

struct vm;
struct viommu;
struct viommu_dev;
struct viommu_pt_host;

/*
 * Put every device of vfio_state_of(@vm) behind a vIOMMU: device i behind
 * @units[@placement[i]] (all behind @units[0] when @placement is NULL; a
 * placement at or past @nunits is refused).
 * A nest parent per host unit (IOMMU_GET_HW_INFO first: a unit that
 * cannot nest a first stage is refused, naming what it lacks), the device
 * attached to it, a struct viommu_dev in @slots (*@used of @nslots taken,
 * and added to its vIOMMU), and each vIOMMU's CAP/ECAP limited to what the
 * host units behind it support. Without VFIO devices does nothing.
 * Returns 0, or -1 with a message; either way *@out is for
 * viommu_pt_teardown().
 * Call after vfio_setup() and viommu_unit_init(), before the guest runs.
 */
int viommu_pt_setup(struct vm *vm, struct viommu *units, unsigned int nunits,
		    const unsigned int *placement, struct viommu_dev *slots, size_t nslots,
		    size_t *used, struct viommu_pt_host **out, char *err, size_t errlen);
/*
 * Forward what the host's fault queues hold into the guests' page request
 * queues (pt-fault.c): one read of each, at most PT_FAULT_READ_MAX records.
 * Returns the groups read. The reader thread calls it; with the unit's
 * worker off (tests, fuzzing) the caller does.
 */
unsigned int viommu_pt_fault_poll(struct viommu_pt_host *p);
/* No reader thread: the caller polls (tests). NULL is a no-op. */
void viommu_pt_fault_reader_off(struct viommu_pt_host *p);
/* Print what the iommufd back end sent (stderr); NULL is a no-op. */
void viommu_pt_report(struct viommu_pt_host *p);
/*
 * Put the devices back on vfio.c's IOAS, release every HWPT and empty
 * IOAS of ours. Before vfio_teardown(); NULL is a no-op.
 */
void viommu_pt_teardown(struct viommu_pt_host *p);

#endif
