/* SPDX-License-Identifier: MIT */
/*
 * virtio 1.x devices on PCI, modern only (docs/virtio.md): virtio-blk on a
 * raw image (`--disk`) and virtio-rng (`--rng`). Their DMA goes through
 * vmm/dma.h: behind a vIOMMU every ring and buffer address is an IOVA
 * translated for the function's requester ID (VIRTIO_F_ACCESS_PLATFORM),
 * without one it is a guest-physical address.
 */
#ifndef TAGVMM_VMM_VIRTIO_H
#define TAGVMM_VMM_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct pci_device;
struct virtio_pci;

#define VIRTIO_MAX_DEVICES	8

enum virtio_kind { VIRTIO_KIND_BLK, VIRTIO_KIND_RNG };

/* One `--disk FILE[,ro][,ats][,iommu=off]` or `--rng[=ats,iommu=off]`. */
struct virtio_spec {
	enum virtio_kind kind;
	char path[1024];		/* blk: the raw image */
	bool ro;			/* blk: VIRTIO_BLK_F_RO, image opened read-only */
	bool ats;			/* the PCIe ATS capability (behind a vIOMMU only) */
	bool no_iommu;			/* iommu=off: never behind the vIOMMU */
};

/*
 * Parse the value of --disk (@arg: FILE[,opt...]) or --rng (@arg: NULL or
 * opt[,opt...]). Returns 0, or -1
 * with a message in @err.
 */
int virtio_parse_disk(const char *arg, struct virtio_spec *out, char *err, size_t errlen);
int virtio_parse_rng(const char *arg, struct virtio_spec *out, char *err, size_t errlen);

/*
 * Create the device @s describes and register it at @bdf. @iommu: the
 * function sits behind a vIOMMU (the caller places it there), so its DMA
 * uses dma_space_of() and VIRTIO_F_ACCESS_PLATFORM is offered and
 * required; without it the DMA is the identity and the machine
 * description marks the function as behind no IOMMU, so the DMAR and the
 * device tree leave it out. Returns NULL with a message in @err.
 */
struct virtio_pci *virtio_create(struct vm *vm, const struct virtio_spec *s, uint16_t bdf,
				 bool iommu, char *err, size_t errlen);
/* Stop the device's worker and free it; NULL-safe. Before the vIOMMU goes. */
void virtio_free(struct virtio_pci *vp);
struct pci_device *virtio_pci_device(struct virtio_pci *vp);
/* Wait until every kick so far has been processed (tests; reset does the same). */
void virtio_quiesce(struct virtio_pci *vp);

/* What the device did, for tests and the exit report. */
struct virtio_stats {
	uint64_t requests;		/* chains completed (used elements written) */
	uint64_t errors;		/* times the device set DEVICE_NEEDS_RESET */
	uint64_t dma_faults;		/* translations refused (recorded by the IOMMU) */
	uint64_t atc_hits, iotlb_hits, walks;
};
void virtio_get_stats(struct virtio_pci *vp, struct virtio_stats *out);

#endif
