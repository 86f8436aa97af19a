/* SPDX-License-Identifier: MIT */
/*
 * PCI passthrough (--vfio BDF): host discovery and the iommufd/VFIO cdev
 * setup that gives a real device DMA access to guest RAM.
 *
 * Every host call goes through a struct host_ops (hostvtd/hostops.h), so
 * the sequence is tested against a recording fake. host_ops has no
 * directory listing; the two lookups that need one (an IOMMU group's
 * devices, a device's vfio-dev/ cdev name) go through a vfio_list_dir_fn
 * given alongside it.
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
#include <sys/types.h>

struct host_ops;
struct vm;
struct vfio_pci;
struct vfio_pci_io;

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
 * Lists the entries of directory @path (without "." and "..") into @buf as
 * NUL-terminated names, one after the other. Returns the bytes used, or -1
 * with errno (ENOSPC when @buf is too small).
 */
typedef ssize_t (*vfio_list_dir_fn)(void *ctx, const char *path, char *buf, size_t len);

/* opendir(3)/readdir(3); @ctx is unused. */
ssize_t vfio_list_dir_real(void *ctx, const char *path, char *buf, size_t len);

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
	const struct vfio_pci_io *io;	/* for the guest functions' region and eventfd calls */
	struct vfio_state *next;
};

/*
 * Checks every device in @bdfs on the host, then binds each to a new
 * iommufd, maps all guest RAM (iova = guest physical address) into one
 * IOAS, attaches the devices to it and resets them, and gives each its
 * guest PCI function (vfio_pci_create(), at a free slot from
 * VFIO_GUEST_FIRST_SLOT). Returns 0 (also for @n == 0, which does
 * nothing), or -1 with a message in @err that names the device, the step
 * and the fix; everything done so far is undone.
 * Call after vm_init_all() (guest RAM and the PCI host bridge exist) and
 * before viommu_setup().
 */
int vfio_setup(struct vm *vm, const char *const *bdfs, size_t n,
	       const struct host_ops *ops, char *err, size_t errlen);
/*
 * vfio_setup() with the directory listing and the guest functions' region
 * and eventfd calls given (tests); @io NULL is vfio_pci_io_real.
 */
int vfio_setup_with(struct vm *vm, const char *const *bdfs, size_t n,
		    const struct host_ops *ops, vfio_list_dir_fn list_dir,
		    const struct vfio_pci_io *io, char *err, size_t errlen);

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
 * The host calls vfio-pci.c needs beyond struct host_ops: region accesses
 * and mappings, and eventfds. TODO(hostops): these belong in struct
 * host_ops; they are separate only until the seam grows them.
 * Each returns what the system call does, -1 (MAP_FAILED) with errno on
 * failure. mmap and munmap may both be NULL: every BAR is then trapped.
 * read may be NULL where no device interrupt is ever signalled (tests):
 * what a masked vector's eventfd holds is then never looked at.
 */
struct vfio_pci_io {
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t len, off_t off);
	/* A shared read-write mapping of @len bytes of @fd at @off. */
	void *(*mmap)(void *ctx, int fd, size_t len, off_t off);
	int (*munmap)(void *ctx, void *addr, size_t len);
	int (*eventfd)(void *ctx);		/* a non-blocking, close-on-exec eventfd */
	/* An eventfd's count (8 bytes), which it resets; EAGAIN when it is 0. */
	ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
	int (*close)(void *ctx, int fd);	/* for the eventfds */
	void *ctx;
};

/* pread(2), pwrite(2), mmap(2) MAP_SHARED, munmap(2), eventfd(2), read(2), close(2). */
extern const struct vfio_pci_io vfio_pci_io_real;

/*
 * Models the VFIO device @device_fd (bound and attached; vfio.c owns the
 * fd) as a PCI function at @guest_bdf of @vm, registered on its host
 * bridge, with INTx wired when the device has it and its mappable BAR
 * areas mmapped (they enter memslots, vm_map_device_memory(), while the
 * guest decodes the BAR). KVM's interrupt ioctls go to vm->vm_fd through
 * @ops. Returns NULL with a message in @err; a BAR that cannot be mmapped
 * is trapped instead, with a warning.
 */
struct vfio_pci *vfio_pci_create(struct vm *vm, const struct host_ops *ops, int device_fd,
				 uint16_t guest_bdf, char *err, size_t errlen);
/* vfio_pci_create() with the region, mapping and eventfd calls given (tests). */
struct vfio_pci *vfio_pci_create_with(struct vm *vm, const struct host_ops *ops,
				      const struct vfio_pci_io *io, int device_fd,
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

#endif
