/* SPDX-License-Identifier: MIT */
/*
 * The emulated DMA engine (`--sim-device dma,...`): a PCI function behind
 * a vIOMMU whose requests go through the simulated host VT-d's caches, so
 * a missing host invalidation shows as DMA landing on a stale page.
 * Registers: viommu/simdev-regs.h.
 */
#ifndef TAGVMM_VIOMMU_SIMDEV_H
#define TAGVMM_VIOMMU_SIMDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct viommu_dev;
struct simvtd;
struct simdev;
struct pci_device;

/*
 * Create the engine for @vdev (its unit, guest SID and host placement must
 * be set) and register it at @bdf on @vm's host bridge. @ats and @pasid add
 * the ATS and PASID (20-bit) extended capabilities. Returns NULL with a
 * message in @err.
 */
struct simdev *simdev_create(struct vm *vm, struct viommu_dev *vdev, struct simvtd *sim,
			     bool ats, bool pasid, uint16_t bdf, char *err, size_t errlen);
/*
 * Add the PCI Page Request Interface to an engine with ATS and PASID,
 * before the guest runs; its page requests go to @d's vIOMMU (prq.c).
 * Returns 0, or -1 with a message.
 */
int simdev_add_pri(struct simdev *d, char *err, size_t errlen);
/* Once the vCPUs have stopped; NULL-safe. */
void simdev_free(struct simdev *d);
/* The PCI function (tests drive BAR 0 through pci->bars[0].fn). */
struct pci_device *simdev_pci(struct simdev *d);

#endif
