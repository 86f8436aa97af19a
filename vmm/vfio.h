/* SPDX-License-Identifier: MIT */
/*
 * PCI passthrough (--vfio BDF): host discovery and the iommufd/VFIO cdev
 * setup that gives a real device DMA access to guest RAM.
 *
 * Every host call, here and in the guest functions (sysfs, /dev, ioctls,
 * region reads and writes, BAR mmaps, eventfds), goes through one struct
 * host_ops (lib/hostops.h), so the sequence is tested against a
 * recording fake.
 *
 * Each device then gets its guest-visible PCI function (vfio-pci.c, below).
 * With --viommu the devices then sit behind the vIOMMU, which moves them
 * between HWPTs as the guest programs its tables (viommu/passthrough.c).
 */
#ifndef TAGVMM_VMM_VFIO_H
#define TAGVMM_VMM_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct host_ops;
struct vm;
struct vfio_pci;

#define VFIO_MAX_DEVICES	8
#define VFIO_BDF_LEN		13	/* "dddd:bb:dd.f" and its NUL */

/*
 * Guest functions go on bus 0 at the first slot from here on whose eight
 * functions are all free (pci_find()), function 0: above the host bridge
 * (00:00.0) and the vIOMMU sim devices, which viommu_setup() places at
 * 00:01.0 onwards after vfio_setup() ran (up to VIOMMU_MAX_SIM_DEVICES,
 * 16, so 00:10.0 at most).
 */
#define VFIO_GUEST_FIRST_SLOT	0x11

/*
 * Parses a PCI address "DDDD:BB:DD.F" (hexadecimal, the domain always
 * given) into its sysfs spelling, lower case. Returns 0 or -1.
 */
int vfio_parse_bdf(const char *arg, char out[VFIO_BDF_LEN]);

/* One assigned device. */
struct vfio_device {
	char bdf[VFIO_BDF_LEN];
	unsigned long group;		/* IOMMU group number */
	char iommu_unit[32];		/* the host VT-d unit, "dmarN" */
	char cdev[64];			/* /dev/vfio/devices/vfioN */
	int fd;				/* the cdev; -1 while closed */
	bool bound;			/* VFIO_DEVICE_BIND_IOMMUFD done (undone by close) */
	bool attached;			/* VFIO_DEVICE_ATTACH_IOMMUFD_PT done */
	bool started;			/* reset at start done: reset again at exit */
	uint32_t dev_id;		/* iommufd's handle for the device */
	uint32_t pt_id;			/* the HWPT the kernel attached it to */
	uint32_t flags;			/* VFIO_DEVICE_FLAGS_* */
	uint32_t num_regions, num_irqs;
	uint16_t guest_bdf;		/* where the guest sees it (bus << 8 | dev << 3 | fn) */
	struct vfio_pci *pci;		/* its guest function; NULL until created */
};

/* The passthrough state of one VM: one iommufd, one IOAS for all devices. */
struct vfio_state {
	struct vm *vm;
	const struct host_ops *ops;
	int iommufd;			/* /dev/iommu; -1 while closed */
	uint32_t ioas_id;
	bool ioas_allocated;
	size_t nmapped;			/* guest RAM regions mapped into the IOAS */
	struct vfio_device devs[VFIO_MAX_DEVICES];
	size_t ndevs;
};

/*
 * Checks every device in @bdfs on the host, then binds each to a new
 * iommufd, maps all guest RAM (iova = guest physical address) into one
 * IOAS, attaches the devices to it and resets them, and gives each its
 * guest PCI function (vfio_pci_create(), at a free slot from
 * VFIO_GUEST_FIRST_SLOT). Returns 0 (also for @n == 0, which does
 * nothing), or -1 with a message in @err that names the device, the step
 * and the fix; everything done so far is undone. @ops is kept, for the
 * guest functions and the teardown: it must outlive the VM.
 * Call after vm_init_all() (guest RAM and the PCI host bridge exist) and
 * before viommu_setup().
 */
int vfio_setup(struct vm *vm, const char *const *bdfs, size_t n,
	       const struct host_ops *ops, char *err, size_t errlen);

/*
 * Undoes vfio_setup() in reverse: removes the guest functions
 * (vfio_pci_destroy(): interrupts off, irqfds and eventfds gone), resets,
 * detaches, unmaps guest RAM,
 * destroys the IOAS, closes the cdevs (unbinding them) and the iommufd.
 * A no-op without devices; vm_destroy() calls it, and again is harmless.
 */
void vfio_teardown(struct vm *vm);

/* The VM's passthrough state, or NULL without --vfio. */
struct vfio_state *vfio_state_of(const struct vm *vm);

/*
 * Re-attaches device @index to @pt_id (an IOAS or a HWPT of the same
 * iommufd). The kernel replaces the attachment in one step, with no window
 * where DMA is blocked. With --viommu, viommu/passthrough.c moves the
 * device between the nest parent, its nested HWPTs and an empty IOAS as
 * the guest programs its tables.
 */
int vfio_device_attach(struct vm *vm, size_t index, uint32_t pt_id, char *err, size_t errlen);
/*
 * Detach device @index (its RID): the kernel blocks its DMA until the next
 * attach. A no-op when it is not attached.
 */
int vfio_device_detach(struct vm *vm, size_t index, char *err, size_t errlen);
/*
 * Attach (or replace) one PASID of device @index to @pt_id, and detach it
 * again (VFIO_DEVICE_ATTACH_PASID, Linux 6.15). PASID 0 is the device
 * itself: vfio_device_attach().
 */
int vfio_device_attach_pasid(struct vm *vm, size_t index, uint32_t pasid, uint32_t pt_id,
			     char *err, size_t errlen);
int vfio_device_detach_pasid(struct vm *vm, size_t index, uint32_t pasid, char *err,
			     size_t errlen);

/*
 * The guest-facing model of one passed-through PCI function (vfio-pci.c,
 * vfio-pci-irq.c): its config space, filtered and virtualized, in a
 * struct pci_device; its BARs mmapped into KVM memslots where the region
 * allows it, trapped and forwarded to the VFIO regions elsewhere; its
 * INTx, MSI and MSI-X routed to the guest with eventfds and KVM irqfds.
 */
struct pci_device;

/*
 * Models the VFIO device @device_fd (bound and attached; vfio.c owns the
 * fd) as a PCI function at @guest_bdf of @vm, registered on its host
 * bridge, with INTx wired when the device has it and its mappable BAR
 * areas mmapped (they enter memslots, vm_map_device_memory(), while the
 * guest decodes the BAR). Region accesses, mmaps, eventfds and KVM's
 * interrupt ioctls (to vm->vm_fd) all go through @ops, which is kept: it
 * must outlive the function. Returns NULL with a message in @err; a BAR
 * that cannot be mmapped is trapped instead, with a warning.
 */
struct vfio_pci *vfio_pci_create(struct vm *vm, const struct host_ops *ops, int device_fd,
				 uint16_t guest_bdf, char *err, size_t errlen);
/*
 * Turns the device's interrupts off, removes its irqfds and GSI routes,
 * closes its eventfds, removes its memslots and unmaps its BARs, frees it.
 * The framework has no pci_unregister(): call at VM teardown only (after
 * the vCPUs stopped). NULL is a no-op.
 */
void vfio_pci_destroy(struct vfio_pci *vp);
/* The guest-visible function. */
struct pci_device *vfio_pci_device(struct vfio_pci *vp);
/*
 * One line per BAR: its size, the bytes mmapped into memslots (guest
 * accesses there never exit) and the accesses trapped so far. For --stats.
 */
void vfio_pci_print_stats(const struct vfio_pci *vp, FILE *out);

#endif
