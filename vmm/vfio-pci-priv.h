/* SPDX-License-Identifier: MIT */
/*
 * Between vfio-pci.c (config space, BARs, create and destroy) and
 * vfio-pci-irq.c (INTx, MSI, MSI-X): the state of one passed-through
 * function.
 *
 * Locks, each taken only after the ones to its left:
 *   all_lock (vfio-pci-irq.c) -> irq_lock -> dev->lock (pci-dev.c)
 *   bar_map_lock (pci-dev.c) -> bar_lock -> dev->lock
 * A second device's irq_lock is taken only under all_lock (KVM's routing
 * table covers every device of the VM).
 */
#ifndef TAGVMM_VMM_VFIO_PCI_PRIV_H
#define TAGVMM_VMM_VFIO_PCI_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/pci-priv.h"
#include "vmm/pci.h"
#include "lib/vfio-compat.h"
#include "vmm/vfio.h"

#define VFIO_PCI_NUM_REGIONS	7	/* BAR0..5 and config, in that order here */
#define VFIO_PCI_REGION_CFG	6
#define VFIO_PCI_MAX_AREAS	8	/* mmapped pieces of one BAR; more stay trapped */

enum vfio_pci_irq_mode { IRQ_NONE, IRQ_INTX, IRQ_MSI, IRQ_MSIX };

/*
 * Whole pages of a BAR, mmapped, and in a memslot while the guest decodes
 * the BAR. A memslot KVM would not remove stays (stuck) at its old address
 * until a later bar_mapped or destroy removes it; until then the device
 * keeps Memory on and the mmap is kept.
 */
struct vfio_pci_area {
	uint64_t off, size;		/* in the BAR */
	void *host;
	int slot;			/* -1: in no memslot */
	bool stuck;			/* slot: one whose removal failed */
};

struct vfio_pci_bar {
	struct vfio_pci *vp;
	unsigned int index;
	unsigned int nareas;		/* 0: every access trapped */
	struct vfio_pci_area areas[VFIO_PCI_MAX_AREAS];	/* slots under bar_lock */
	uint64_t trapped;		/* accesses that exited to bar_io(); atomic */
};

/* No GSI for a vector: KVM's routing table has no room (vfio-pci-irq.c). */
#define VFIO_PCI_NO_GSI		UINT32_MAX

/* One MSI/MSI-X vector. */
struct vfio_pci_vector {
	int efd;			/* what VFIO signals */
	uint32_t gsi;			/* VFIO_PCI_NO_GSI: never routed, never on an irqfd */
	bool irqfd;			/* efd on a KVM irqfd */
	bool routed;			/* a route to addr/data is in KVM's table */
	bool changed;			/* routed, addr or data: changed by this sync */
	uint64_t addr;
	uint32_t data;
};

struct vfio_pci {
	struct pci_device pci;
	struct vm *vm;
	const struct host_ops *ops;	/* every host call, KVM's too */
	int fd;
	struct vfio_region_info regions[VFIO_PCI_NUM_REGIONS];
	struct vfio_irq_info irqs[VFIO_PCI_MSIX_IRQ_INDEX + 1];
	struct vfio_pci_bar bars[PCI_NUM_BARS];
	uint8_t msi_cap, msix_cap;	/* guest offsets; 0: not shown */
	bool registered;

	pthread_mutex_t bar_lock;	/* the areas' slots, cmd_written */
	int cmd_written;		/* the command register the device has; -1: unknown */

	pthread_mutex_t irq_lock;	/* everything below */
	enum vfio_pci_irq_mode mode;
	int intx_fd, intx_resample_fd;
	bool intx_irqfd;
	unsigned int nvec;		/* MSI/MSI-X vectors enabled */
	struct vfio_pci_vector *vec;
	bool resync;			/* a KVM call failed: next sync redoes every vector */
	unsigned int max_routes;	/* KVM's routing table size; 0: not asked yet */
	bool gsi_warned;		/* vectors went without a GSI (said once) */
	struct vfio_pci *next;		/* the device list, under all_lock */
};

static inline uint32_t vfio_pci_le(const uint8_t *p, unsigned int len)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

/* ioctl(2) through the device's host_ops: returns its result, or -1 with errno. */
static inline int vfio_pci_ioctl(struct vfio_pci *vp, int fd, unsigned long req, void *arg)
{
	return vp->ops->ioctl(vp->ops->ctx, fd, req, arg);
}

/* "tagvmm: vfio-pci BB:DD.F: @what: strerror(errno)" on stderr. */
void vfio_pci_warn(struct vfio_pci *vp, const char *what);

/* vfio-pci-irq.c: lists @vp for the routing table and wires INTx. Returns 0 or -1 (errno). */
int vfio_pci_irq_start(struct vfio_pci *vp);
/* Interrupts off, irqfds and eventfds gone, unlisted; harmless if never started. */
void vfio_pci_irq_stop(struct vfio_pci *vp);
/* The pci_device_ops hooks for interrupts. */
void vfio_pci_irq_config_written(struct pci_device *dev, unsigned int offset, unsigned int len);
void vfio_pci_msix_written(struct pci_device *dev, unsigned int vector);
void vfio_pci_msix_pba_read(struct pci_device *dev);

#endif
