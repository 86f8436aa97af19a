// SPDX-License-Identifier: MIT
/*
 * The guest-facing model of one passed-through PCI function.
 *
 * Config space is virtual: the device's header and the capabilities kept
 * are copied into a struct pci_device (vmm/pci.h) once, and from then on
 * the guest reads and writes the copy under the framework's write masks.
 * Only the command register is written through to the device (Memory,
 * I/O and Bus Master must reach it for it to decode and DMA; vfio-pci in
 * the host kernel virtualizes the bits it must). BARs, the expansion ROM
 * and every capability stay virtual, so a guest write to hidden config
 * space never reaches the device.
 *
 * Capabilities kept, the rest hidden (unlinked from the lists):
 *  - standard: PCI Express, MSI, MSI-X. The guest needs these to drive the
 *    device and its interrupts; power management, VPD, vendor-specific,
 *    AF and the like either act on host-owned state (power, reset) or are
 *    device back doors the guest has no business with. The guest sees
 *    MSI/MSI-X emulated by the framework, and this file turns what it
 *    programs into VFIO_DEVICE_SET_IRQS (the host kernel programs the real
 *    capability).
 *  - extended: PASID and ATS only, which the vIOMMU needs the guest to see.
 *    Their enables stay virtual: the host IOMMU driver owns the real ones.
 *    AER, DPC and ACS belong to the host's error handling and isolation
 *    (IOMMU groups), SR-IOV would create host functions, Resizable BAR
 *    would change a BAR under the host, LTR/L1SS are platform power.
 * The capabilities are laid out again by the framework (pci_add_*_cap), in
 * the device's order, so guest offsets differ from the device's: nothing
 * but the command register is ever written through, so no offset
 * translation is needed.
 *
 * The PCIe capability is the framework's (a root-complex integrated
 * endpoint on bus 0, since there is no root port), with the device's
 * Device Capabilities minus Function Level Reset (reset is the host's,
 * through VFIO_DEVICE_RESET).
 *
 * MSI-X: the guest's table lives in the framework, in a BAR slot the
 * device leaves free (as QEMU's MSI-X relocation does); the device's own
 * table area in its BAR is blocked by vfio-pci in the host anyway. A
 * device with no free BAR slot is shown without MSI-X (TODO).
 * MSI is shown with a 32-bit address and no per-vector masking, since
 * irqfd delivery (below) could not honour the mask.
 *
 * Interrupts: one eventfd per vector, given to VFIO_DEVICE_SET_IRQS, and
 * a KVM irqfd for each on a GSI of its own whose KVM_SET_GSI_ROUTING entry
 * is an MSI route with the address/data the guest programmed. A masked
 * vector (or MSI-X function mask) has no route: KVM drops its interrupts
 * (TODO: latch them in the PBA). Routes are recomputed on every write to
 * the MSI or MSI-X control registers, which covers how Linux programs the
 * table (enable with Function Mask set, write the entries, clear Function
 * Mask). TODO: the framework has no hook for MSI-X table writes, so a
 * later re-programming of an entry (affinity change) is not seen.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table. The base routes here are
 * kvm.c's setup_gsi_routing() (the two must agree; TODO: move the table
 * into kvm.c with an add/remove-MSI-route API), plus the MSI routes of
 * every vfio_pci of the VM (a list in this file).
 *
 * INTx: an eventfd trigger and a resample eventfd on the function's
 * swizzled GSI (KVM_IRQFD_FLAG_RESAMPLE, VFIO's INTx unmask on resample),
 * while neither MSI nor MSI-X is enabled; vfio-pci needs INTx off before
 * MSI goes on.
 *
 * BARs are trapped: every access exits to the VMM and becomes a pread or
 * pwrite at the region's offset. TODO(mmap): a region with
 * VFIO_REGION_INFO_FLAG_MMAP could be mmap()ed from the device fd and put
 * in a KVM memslot at the BAR's guest address (moved when the guest moves
 * the BAR, minus the MSI-X table page), with no exits at all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "hostvtd/hostops.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/vfio-compat.h"
#include "vmm/vfio.h"

#define CFG_COMMAND		0x04
#define CFG_STATUS		0x06
#define CFG_REVISION		0x08
#define CFG_BAR0		0x10
#define CFG_SUBSYS_VENDOR	0x2c
#define CFG_CAP_PTR		0x34
#define CFG_INT_PIN		0x3d
#define CFG_STATUS_CAP_LIST	0x0010
#define CFG_STD_SIZE		0x100

#define CAP_ID_VNDR		0x09

#define MSI_FLAGS_ENABLE	0x0001
#define MSI_FLAGS_QMASK		0x000e
#define MSI_FLAGS_QSIZE		0x0070
#define MSIX_FLAGS_QSIZE	0x07ff
#define MSIX_FLAGS_MASKALL	0x4000
#define MSIX_FLAGS_ENABLE	0x8000
#define MSIX_ENTRY_SIZE		16
#define EXP_DEVCAP		0x04
#define EXP_DEVCAP_FLR		(1u << 28)
#define PASID_CAP		4
#define ATS_CAP			4

#define NUM_REGIONS		7	/* BAR0..5 and config, in that order here */
#define REGION_CFG		6

enum irq_mode { IRQ_NONE, IRQ_INTX, IRQ_MSI, IRQ_MSIX };

struct vfio_pci_bar {
	struct vfio_pci *vp;
	unsigned int index;
};

struct vfio_pci {
	struct pci_device pci;
	struct vm *vm;
	const struct host_ops *ops;
	struct vfio_pci_io io;
	int fd;
	struct vfio_region_info regions[NUM_REGIONS];
	struct vfio_irq_info irqs[VFIO_PCI_MSIX_IRQ_INDEX + 1];
	struct vfio_pci_bar bars[PCI_NUM_BARS];
	uint8_t msi_cap, msix_cap;	/* guest offsets; 0: not shown */
	bool registered;

	pthread_mutex_t irq_lock;	/* everything below */
	enum irq_mode mode;
	int intx_fd, intx_resample_fd;
	bool intx_irqfd;
	unsigned int nvec;		/* MSI/MSI-X vectors enabled */
	int *efd;			/* per vector */
	uint32_t *gsi;			/* per vector */
	bool *irqfd;			/* per vector: KVM_IRQFD assigned */
	struct vfio_pci *next;		/* all_devices */
};

/* Every vfio_pci, for the routing table (KVM keeps one per VM). */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vfio_pci *all_devices;

/* ---- the real host calls ---- */

static ssize_t real_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	(void)ctx;
	return pread(fd, buf, len, off);
}

static ssize_t real_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	(void)ctx;
	return pwrite(fd, buf, len, off);
}

static int real_eventfd(void *ctx)
{
	(void)ctx;
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static int real_close(void *ctx, int fd)
{
	(void)ctx;
	return close(fd);
}

const struct vfio_pci_io vfio_pci_io_real = {
	.pread = real_pread, .pwrite = real_pwrite, .eventfd = real_eventfd, .close = real_close,
};

/* ---- helpers ---- */

static uint32_t le(const uint8_t *p, unsigned int len)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static int xioctl(struct vfio_pci *vp, int fd, unsigned long req, void *arg)
{
	return vp->ops->ioctl(vp->ops->ctx, fd, req, arg);
}

static const char *bdf_name(const struct vfio_pci *vp, char buf[16])
{
	snprintf(buf, 16, "%02x:%02x.%u", vp->pci.bdf >> 8, (vp->pci.bdf >> 3) & 0x1f,
		 vp->pci.bdf & 7u);
	return buf;
}

static bool region_ok(const struct vfio_region_info *r, uint64_t off, size_t len, uint32_t flag)
{
	return (r->flags & flag) && off <= r->size && len <= r->size - off;
}

/* ---- BARs: trapped and forwarded ---- */

static void bar_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct vfio_pci_bar *b = opaque;
	struct vfio_pci *vp = b->vp;
	const struct vfio_region_info *r = &vp->regions[b->index];
	off_t at = (off_t)(r->offset + offset);
	ssize_t n;

	if (is_write) {
		if (region_ok(r, offset, len, VFIO_REGION_INFO_FLAG_WRITE))
			vp->io.pwrite(vp->io.ctx, vp->fd, data, len, at);
		return;
	}
	n = region_ok(r, offset, len, VFIO_REGION_INFO_FLAG_READ) ?
	    vp->io.pread(vp->io.ctx, vp->fd, data, len, at) : -1;
	if (n != (ssize_t)len)
		memset(data, 0xff, len);	/* master abort */
}

/* ---- interrupts ---- */

static int set_irqs(struct vfio_pci *vp, uint32_t index, uint32_t flags, unsigned int count,
		    const int *fds)
{
	size_t sz = sizeof(struct vfio_irq_set) + (fds ? count * sizeof(int32_t) : 0);
	struct vfio_irq_set *s = calloc(1, sz);
	int ret;

	if (!s)
		return -1;
	s->argsz = (uint32_t)sz;
	s->flags = flags;
	s->index = index;
	s->start = 0;
	s->count = count;
	if (fds)
		for (unsigned int i = 0; i < count; i++)
			memcpy(s->data + i * sizeof(int32_t), &(int32_t){ fds[i] }, sizeof(int32_t));
	ret = xioctl(vp, vp->fd, VFIO_DEVICE_SET_IRQS, s);
	free(s);
	return ret;
}

static int irqfd(struct vfio_pci *vp, int fd, uint32_t gsi, uint32_t flags, int resample)
{
	struct kvm_irqfd a;

	memset(&a, 0, sizeof(a));
	a.fd = (uint32_t)fd;
	a.gsi = gsi;
	a.flags = flags;
	a.resamplefd = resample >= 0 ? (uint32_t)resample : 0;
	return xioctl(vp, vp->vm->vm_fd, KVM_IRQFD, &a);
}

/*
 * Is @gsi used by an MSI vector of a device of @vm? all_lock held, and
 * @self's irq_lock (the lock order is all_lock, then irq_lock).
 */
static bool gsi_used(struct vm *vm, const struct vfio_pci *self, uint32_t gsi)
{
	for (struct vfio_pci *d = all_devices; d; d = d->next) {
		bool used = false;

		if (d->vm != vm)
			continue;
		if (d != self)
			pthread_mutex_lock(&d->irq_lock);
		for (unsigned int v = 0; v < d->nvec && !used; v++)
			used = d->gsi[v] == gsi;
		if (d != self)
			pthread_mutex_unlock(&d->irq_lock);
		if (used)
			return true;
	}
	return false;
}

/*
 * The guest's message for vector @v, false when it is masked (no route).
 * MSI: one message, the vector in its low data bits.
 */
static bool vector_message(struct vfio_pci *vp, unsigned int v, uint64_t *addr, uint32_t *data)
{
	struct pci_device *dev = &vp->pci;
	bool ok;

	pthread_mutex_lock(&dev->lock);
	if (vp->mode == IRQ_MSIX) {
		const uint8_t *e = dev->msix_table + (size_t)v * MSIX_ENTRY_SIZE;
		uint16_t flags = (uint16_t)le(dev->cfg + vp->msix_cap + 2, 2);

		*addr = le(e, 4) | (uint64_t)le(e + 4, 4) << 32;
		*data = le(e + 8, 4);
		ok = !(flags & MSIX_FLAGS_MASKALL) && !(le(e + 12, 4) & 1);
	} else {
		/* 32-bit MSI without masking (see the top of the file). */
		*addr = le(dev->cfg + vp->msi_cap + 4, 4);
		*data = (le(dev->cfg + vp->msi_cap + 8, 2) & ~(vp->nvec - 1)) | v;
		ok = true;
	}
	pthread_mutex_unlock(&dev->lock);
	return ok && *addr;
}

/*
 * KVM_SET_GSI_ROUTING: kvm.c's base routes (keep in step with
 * setup_gsi_routing()) and the MSI routes of every device of @vm.
 */
static int update_routes(struct vm *vm, const struct host_ops *ops)
{
	struct kvm_irq_routing *r;
	size_t cap = VM_BASE_GSI_ROUTES, n;
	int ret;

	pthread_mutex_lock(&all_lock);
	for (struct vfio_pci *d = all_devices; d; d = d->next)
		if (d->vm == vm)
			cap += d->nvec;
	r = calloc(1, sizeof(*r) + cap * sizeof(r->entries[0]));
	if (!r) {
		pthread_mutex_unlock(&all_lock);
		return -1;
	}
	n = vm_base_gsi_routes(r->entries);
	for (struct vfio_pci *d = all_devices; d; d = d->next) {
		if (d->vm != vm)
			continue;
		pthread_mutex_lock(&d->irq_lock);
		for (unsigned int v = 0; v < d->nvec && n < cap; v++) {
			uint64_t addr;
			uint32_t data;

			if (!vector_message(d, v, &addr, &data))
				continue;
			r->entries[n].gsi = d->gsi[v];
			r->entries[n].type = KVM_IRQ_ROUTING_MSI;
			r->entries[n].u.msi.address_lo = (uint32_t)addr;
			r->entries[n].u.msi.address_hi = (uint32_t)(addr >> 32);
			r->entries[n++].u.msi.data = data;
		}
		pthread_mutex_unlock(&d->irq_lock);
	}
	pthread_mutex_unlock(&all_lock);
	r->nr = (uint32_t)n;
	ret = ops->ioctl(ops->ctx, vm->vm_fd, KVM_SET_GSI_ROUTING, r);
	free(r);
	return ret;
}

static void warn(struct vfio_pci *vp, const char *what)
{
	char b[16];

	fprintf(stderr, "tagvmm: vfio-pci %s: %s: %s\n", bdf_name(vp, b), what, strerror(errno));
}

/* irq_lock held. */
static void intx_off(struct vfio_pci *vp)
{
	if (vp->intx_irqfd) {
		set_irqs(vp, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
			 VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
		irqfd(vp, vp->intx_fd, (uint32_t)vp->pci.intx_gsi, KVM_IRQFD_FLAG_DEASSIGN, -1);
		vp->intx_irqfd = false;
	}
	if (vp->mode == IRQ_INTX)
		vp->mode = IRQ_NONE;
}

/* irq_lock held; the eventfds are made once and kept. */
static int intx_on(struct vfio_pci *vp)
{
	if (vp->pci.intx_gsi < 0 || !vp->irqs[VFIO_PCI_INTX_IRQ_INDEX].count)
		return 0;
	if (vp->intx_fd < 0 && (vp->intx_fd = vp->io.eventfd(vp->io.ctx)) < 0)
		return -1;
	if (vp->intx_resample_fd < 0 &&
	    (vp->intx_resample_fd = vp->io.eventfd(vp->io.ctx)) < 0)
		return -1;
	if (set_irqs(vp, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD |
		     VFIO_IRQ_SET_ACTION_TRIGGER, 1, &vp->intx_fd))
		return -1;
	if (irqfd(vp, vp->intx_fd, (uint32_t)vp->pci.intx_gsi, KVM_IRQFD_FLAG_RESAMPLE,
		  vp->intx_resample_fd)) {
		set_irqs(vp, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
			 VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
		return -1;
	}
	vp->intx_irqfd = true;
	/* The guest's EOI signals the resample fd, which unmasks INTx in vfio-pci. */
	if (set_irqs(vp, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD |
		     VFIO_IRQ_SET_ACTION_UNMASK, 1, &vp->intx_resample_fd)) {
		intx_off(vp);
		return -1;
	}
	vp->mode = IRQ_INTX;
	return 0;
}

/* irq_lock held: turn MSI/MSI-X off, drop the irqfds and the eventfds. */
static void msi_off(struct vfio_pci *vp)
{
	uint32_t index = vp->mode == IRQ_MSIX ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX;

	if (vp->mode != IRQ_MSI && vp->mode != IRQ_MSIX)
		return;
	set_irqs(vp, index, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
	for (unsigned int v = 0; v < vp->nvec; v++) {
		if (vp->irqfd[v])
			irqfd(vp, vp->efd[v], vp->gsi[v], KVM_IRQFD_FLAG_DEASSIGN, -1);
		if (vp->efd[v] >= 0)
			vp->io.close(vp->io.ctx, vp->efd[v]);
	}
	free(vp->efd);
	free(vp->gsi);
	free(vp->irqfd);
	vp->efd = NULL;
	vp->gsi = NULL;
	vp->irqfd = NULL;
	vp->nvec = 0;
	vp->mode = IRQ_NONE;
}

/* all_lock and irq_lock held, mode IRQ_NONE. The caller sets the routes afterwards. */
static int msi_on(struct vfio_pci *vp, enum irq_mode mode, unsigned int nvec)
{
	uint32_t index = mode == IRQ_MSIX ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX;
	uint32_t next = MACHINE_IOAPIC_PINS;

	if (!nvec || nvec > vp->irqs[index].count) {
		errno = EINVAL;
		return -1;
	}
	vp->efd = malloc(nvec * sizeof(*vp->efd));
	vp->gsi = calloc(nvec, sizeof(*vp->gsi));
	vp->irqfd = calloc(nvec, sizeof(*vp->irqfd));
	if (!vp->efd || !vp->gsi || !vp->irqfd) {
		free(vp->efd);
		free(vp->gsi);
		free(vp->irqfd);
		vp->efd = NULL;
		vp->gsi = NULL;
		vp->irqfd = NULL;
		return -1;
	}
	for (unsigned int v = 0; v < nvec; v++)
		vp->efd[v] = -1;
	vp->mode = mode;
	vp->nvec = nvec;
	/* GSIs above the IOAPIC's, unused by any device of the VM (all_lock held). */
	for (unsigned int v = 0; v < nvec; v++) {
		while (gsi_used(vp->vm, vp, next))
			next++;
		vp->gsi[v] = next++;
	}
	for (unsigned int v = 0; v < nvec; v++)
		if ((vp->efd[v] = vp->io.eventfd(vp->io.ctx)) < 0)
			goto fail;
	for (unsigned int v = 0; v < nvec; v++) {
		if (irqfd(vp, vp->efd[v], vp->gsi[v], 0, -1))
			goto fail;
		vp->irqfd[v] = true;
	}
	if (set_irqs(vp, index, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, nvec,
		     vp->efd))
		goto fail;
	return 0;
fail:
	{
		int e = errno;

		msi_off(vp);
		errno = e;
	}
	return -1;
}

/* What the guest's config space asks for: MSI-X, else MSI, else INTx. */
static enum irq_mode wanted_mode(struct vfio_pci *vp, unsigned int *nvec)
{
	struct pci_device *dev = &vp->pci;
	enum irq_mode want = IRQ_INTX;

	pthread_mutex_lock(&dev->lock);
	if (vp->msix_cap && (le(dev->cfg + vp->msix_cap + 2, 2) & MSIX_FLAGS_ENABLE)) {
		want = IRQ_MSIX;
		*nvec = dev->msix_entries;
	} else if (vp->msi_cap && (le(dev->cfg + vp->msi_cap + 2, 2) & MSI_FLAGS_ENABLE)) {
		uint16_t f = (uint16_t)le(dev->cfg + vp->msi_cap + 2, 2);
		unsigned int can = (f & MSI_FLAGS_QMASK) >> 1, en = (f & MSI_FLAGS_QSIZE) >> 4;

		want = IRQ_MSI;
		*nvec = 1u << (en < can ? en : can);
	}
	pthread_mutex_unlock(&dev->lock);
	return want;
}

/* Bring the host side in line with the guest's interrupt configuration. */
static void sync_irqs(struct vfio_pci *vp)
{
	unsigned int nvec = 0;
	enum irq_mode want = wanted_mode(vp, &nvec);
	bool routes = false;

	pthread_mutex_lock(&all_lock);
	pthread_mutex_lock(&vp->irq_lock);
	if (want != vp->mode || (want != IRQ_INTX && nvec != vp->nvec)) {
		routes = vp->mode == IRQ_MSI || vp->mode == IRQ_MSIX;
		msi_off(vp);
		intx_off(vp);
		if (want == IRQ_INTX) {
			if (intx_on(vp))
				warn(vp, "INTx setup");
		} else if (msi_on(vp, want, nvec)) {
			warn(vp, want == IRQ_MSIX ? "MSI-X setup" : "MSI setup");
			if (intx_on(vp))
				warn(vp, "INTx setup");
		} else {
			routes = true;
		}
	} else {
		routes = want != IRQ_INTX;	/* a message or a mask changed */
	}
	pthread_mutex_unlock(&vp->irq_lock);
	pthread_mutex_unlock(&all_lock);
	if (routes && update_routes(vp->vm, vp->ops))
		warn(vp, "KVM_SET_GSI_ROUTING");
}

/* ---- config space ---- */

static bool touches(unsigned int off, unsigned int len, unsigned int reg, unsigned int reglen)
{
	return off < reg + reglen && reg < off + len;
}

static void config_written(struct pci_device *dev, unsigned int offset, unsigned int len)
{
	struct vfio_pci *vp = dev->opaque;

	if (touches(offset, len, CFG_COMMAND, 2)) {
		uint16_t cmd = (uint16_t)pci_device_config_read(dev, CFG_COMMAND, 2);
		const struct vfio_region_info *r = &vp->regions[REGION_CFG];
		uint8_t b[2] = { (uint8_t)cmd, (uint8_t)(cmd >> 8) };

		if (vp->io.pwrite(vp->io.ctx, vp->fd, b, 2, (off_t)(r->offset + CFG_COMMAND)) != 2)
			warn(vp, "command register write");
	}
	if ((vp->msi_cap && touches(offset, len, vp->msi_cap + 2u, 2)) ||
	    (vp->msix_cap && touches(offset, len, vp->msix_cap + 2u, 2)))
		sync_irqs(vp);
}

static const struct pci_device_ops vfio_pci_ops = { .config_written = config_written };

static int fail(char *err, size_t errlen, uint16_t bdf, const char *fmt, const char *what)
{
	snprintf(err, errlen, "vfio-pci %02x:%02x.%u: %s: %s", bdf >> 8, (bdf >> 3) & 0x1f,
		 bdf & 7u, what, fmt);
	return -1;
}

static int query(struct vfio_pci *vp, uint16_t bdf, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < NUM_REGIONS; i++) {
		struct vfio_region_info *r = &vp->regions[i];

		r->argsz = sizeof(*r);
		r->index = i == REGION_CFG ? VFIO_PCI_CONFIG_REGION_INDEX : VFIO_PCI_BAR0_REGION_INDEX + i;
		if (xioctl(vp, vp->fd, VFIO_DEVICE_GET_REGION_INFO, r)) {
			char what[48];

			snprintf(what, sizeof(what), "VFIO_DEVICE_GET_REGION_INFO(%u)", r->index);
			return fail(err, errlen, bdf, strerror(errno), what);
		}
	}
	for (unsigned int i = 0; i <= VFIO_PCI_MSIX_IRQ_INDEX; i++) {
		struct vfio_irq_info *q = &vp->irqs[i];

		q->argsz = sizeof(*q);
		q->index = i;
		if (xioctl(vp, vp->fd, VFIO_DEVICE_GET_IRQ_INFO, q)) {
			char what[48];

			snprintf(what, sizeof(what), "VFIO_DEVICE_GET_IRQ_INFO(%u)", i);
			return fail(err, errlen, bdf, strerror(errno), what);
		}
		if (!(q->flags & VFIO_IRQ_INFO_EVENTFD))
			q->count = 0;	/* unusable without eventfds */
	}
	return 0;
}

/* Read the device's config space (up to 4 KiB) into @cfg. */
static int read_config(struct vfio_pci *vp, uint8_t *cfg, uint16_t bdf, char *err, size_t errlen)
{
	const struct vfio_region_info *r = &vp->regions[REGION_CFG];
	size_t len = r->size < PCI_CFG_SIZE ? (size_t)r->size : PCI_CFG_SIZE;
	ssize_t n;

	memset(cfg, 0, PCI_CFG_SIZE);
	if (len < 0x40 || !(r->flags & VFIO_REGION_INFO_FLAG_READ))
		return fail(err, errlen, bdf, "no readable config region", "config space");
	n = vp->io.pread(vp->io.ctx, vp->fd, cfg, len, (off_t)r->offset);
	if (n != (ssize_t)len)
		return fail(err, errlen, bdf, n < 0 ? strerror(errno) : "short read",
			    "reading config space");
	if (len < PCI_CFG_SIZE)
		memset(cfg + len, 0, PCI_CFG_SIZE - len);
	return 0;
}

static int setup_bars(struct vfio_pci *vp, const uint8_t *cfg, uint16_t bdf, char *err,
		      size_t errlen)
{
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		uint32_t reg = le(cfg + CFG_BAR0 + 4 * i, 4);
		uint64_t size = vp->regions[i].size;
		enum pci_bar_kind kind;

		if (!size)
			continue;
		if (reg & 1)
			kind = PCI_BAR_IO;
		else if (((reg >> 1) & 3) == 2)
			kind = PCI_BAR_MEM64;
		else
			kind = PCI_BAR_MEM32;
		vp->bars[i] = (struct vfio_pci_bar){ vp, i };
		vp->pci.bars[i].prefetchable = kind != PCI_BAR_IO && (reg & 8);
		if (pci_device_set_bar(&vp->pci, i, kind, size, bar_io, &vp->bars[i])) {
			char what[32];

			snprintf(what, sizeof(what), "BAR%u", i);
			vp->pci.bars[i].prefetchable = false;
			return fail(err, errlen, bdf, "size or type not supported", what);
		}
		if (kind == PCI_BAR_MEM64)
			i++;
	}
	return 0;
}

static bool bar_slot_free(const struct pci_device *dev, unsigned int i)
{
	return dev->bars[i].kind == PCI_BAR_NONE &&
	       !(i > 0 && dev->bars[i - 1].kind == PCI_BAR_MEM64);
}

/* The standard capabilities kept, in the device's order. */
static void setup_caps(struct vfio_pci *vp, const uint8_t *cfg)
{
	struct pci_device *dev = &vp->pci;
	unsigned int off = cfg[CFG_CAP_PTR] & 0xfc, guard = 0;

	if (!(le(cfg + CFG_STATUS, 2) & CFG_STATUS_CAP_LIST))
		off = 0;
	for (; off >= 0x40 && off < CFG_STD_SIZE && guard < 48; guard++) {
		uint8_t id = cfg[off];
		unsigned int next = cfg[off + 1] & 0xfc;

		if (id == PCI_CAP_ID_MSI && !vp->msi_cap && vp->irqs[VFIO_PCI_MSI_IRQ_INDEX].count) {
			unsigned int can = (le(cfg + off + 2, 2) & MSI_FLAGS_QMASK) >> 1;
			unsigned int n = 1u << can;

			if (n > vp->irqs[VFIO_PCI_MSI_IRQ_INDEX].count)
				n = vp->irqs[VFIO_PCI_MSI_IRQ_INDEX].count;
			vp->msi_cap = pci_add_msi_cap(dev, n, false);
		} else if (id == PCI_CAP_ID_MSIX && !vp->msix_cap &&
			   vp->irqs[VFIO_PCI_MSIX_IRQ_INDEX].count) {
			unsigned int n = (le(cfg + off + 2, 2) & MSIX_FLAGS_QSIZE) + 1u;

			if (n > vp->irqs[VFIO_PCI_MSIX_IRQ_INDEX].count)
				n = vp->irqs[VFIO_PCI_MSIX_IRQ_INDEX].count;
			for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
				if (bar_slot_free(dev, b)) {
					vp->msix_cap = pci_add_msix_cap(dev, n, b);
					break;
				}
			}
		} else if (id == PCI_CAP_ID_EXP) {
			uint8_t at = pci_add_pcie_cap(dev, (dev->bdf >> 8) == 0 ?
						      PCI_EXP_TYPE_RC_END : PCI_EXP_TYPE_ENDPOINT);

			if (at) {
				uint32_t devcap = le(cfg + off + EXP_DEVCAP, 4) & ~EXP_DEVCAP_FLR;

				for (unsigned int b = 0; b < 4; b++)
					dev->cfg[at + EXP_DEVCAP + b] = (uint8_t)(devcap >> (8 * b));
			}
		}
		off = next;
	}
}

/* The extended capabilities kept: PASID and ATS, in the device's order. */
static void setup_ext_caps(struct vfio_pci *vp, const uint8_t *cfg)
{
	unsigned int off = CFG_STD_SIZE, guard = 0;

	if (vp->regions[REGION_CFG].size < PCI_CFG_SIZE)
		return;		/* conventional PCI: no extended space */
	while (off >= CFG_STD_SIZE && off + 4 <= PCI_CFG_SIZE && guard++ < 512) {
		uint32_t hdr = le(cfg + off, 4);
		uint16_t id = (uint16_t)(hdr & 0xffff);

		if (!hdr || hdr == 0xffffffff)
			break;
		if (id == PCI_EXT_CAP_ID_PASID && off + 8 <= PCI_CFG_SIZE) {
			unsigned int bits = (le(cfg + off + PASID_CAP, 2) >> 8) & 0x1f;

			if (bits)
				pci_add_pasid_cap(&vp->pci, bits > 20 ? 20 : bits);
		} else if (id == PCI_EXT_CAP_ID_ATS && off + 8 <= PCI_CFG_SIZE) {
			unsigned int depth = le(cfg + off + ATS_CAP, 2) & 0x1f;

			pci_add_ats_cap(&vp->pci, depth ? depth : 32);
		}
		off = (hdr >> 20) & 0xffc;
	}
}

struct pci_device *vfio_pci_device(struct vfio_pci *vp)
{
	return &vp->pci;
}

struct vfio_pci *vfio_pci_create(struct vm *vm, const struct host_ops *ops, int device_fd,
				 uint16_t guest_bdf, char *err, size_t errlen)
{
	return vfio_pci_create_with(vm, ops, &vfio_pci_io_real, device_fd, guest_bdf, err, errlen);
}

struct vfio_pci *vfio_pci_create_with(struct vm *vm, const struct host_ops *ops,
				      const struct vfio_pci_io *io, int device_fd,
				      uint16_t guest_bdf, char *err, size_t errlen)
{
	struct vfio_pci *vp = calloc(1, sizeof(*vp));
	uint8_t *cfg = malloc(PCI_CFG_SIZE);
	struct pci_device *dev;

	if (!vp || !cfg) {
		free(vp);
		free(cfg);
		snprintf(err, errlen, "vfio-pci: out of memory");
		return NULL;
	}
	vp->vm = vm;
	vp->ops = ops;
	vp->io = *io;
	vp->fd = device_fd;
	vp->intx_fd = vp->intx_resample_fd = -1;
	pthread_mutex_init(&vp->irq_lock, NULL);
	dev = &vp->pci;
	if (query(vp, guest_bdf, err, errlen) || read_config(vp, cfg, guest_bdf, err, errlen))
		goto fail_free;

	dev->ops = &vfio_pci_ops;
	dev->opaque = vp;
	pci_device_init(dev, (uint16_t)le(cfg, 2), (uint16_t)le(cfg + 2, 2),
			le(cfg + CFG_REVISION, 4) >> 8, cfg[CFG_REVISION]);
	dev->bdf = guest_bdf;		/* for the PCIe port type; pci_register sets it too */
	memcpy(dev->cfg + CFG_SUBSYS_VENDOR, cfg + CFG_SUBSYS_VENDOR, 4);
	dev->cfg[CFG_INT_PIN] = vp->irqs[VFIO_PCI_INTX_IRQ_INDEX].count ? cfg[CFG_INT_PIN] : 0;
	if (dev->cfg[CFG_INT_PIN] > 4)
		dev->cfg[CFG_INT_PIN] = 1;
	if (setup_bars(vp, cfg, guest_bdf, err, errlen))
		goto fail_dev;
	setup_caps(vp, cfg);
	setup_ext_caps(vp, cfg);

	pthread_mutex_lock(&all_lock);
	vp->next = all_devices;
	all_devices = vp;
	pthread_mutex_unlock(&all_lock);

	if (pci_register(vm, dev, guest_bdf)) {
		fail(err, errlen, guest_bdf, "slot taken or bus full", "pci_register");
		goto fail_listed;
	}
	vp->registered = true;
	pthread_mutex_lock(&vp->irq_lock);
	if (intx_on(vp)) {
		pthread_mutex_unlock(&vp->irq_lock);
		fail(err, errlen, guest_bdf, strerror(errno), "INTx eventfd/irqfd setup");
		vfio_pci_destroy(vp);
		free(cfg);
		return NULL;
	}
	pthread_mutex_unlock(&vp->irq_lock);
	free(cfg);
	return vp;

fail_listed:
	pthread_mutex_lock(&all_lock);
	for (struct vfio_pci **p = &all_devices; *p; p = &(*p)->next) {
		if (*p == vp) {
			*p = vp->next;
			break;
		}
	}
	pthread_mutex_unlock(&all_lock);
fail_dev:
	pci_device_exit(dev);
fail_free:
	pthread_mutex_destroy(&vp->irq_lock);
	free(vp);
	free(cfg);
	return NULL;
}

void vfio_pci_destroy(struct vfio_pci *vp)
{
	bool had_routes;

	if (!vp)
		return;
	pthread_mutex_lock(&vp->irq_lock);
	had_routes = vp->mode == IRQ_MSI || vp->mode == IRQ_MSIX;
	msi_off(vp);
	intx_off(vp);
	if (vp->intx_fd >= 0)
		vp->io.close(vp->io.ctx, vp->intx_fd);
	if (vp->intx_resample_fd >= 0)
		vp->io.close(vp->io.ctx, vp->intx_resample_fd);
	vp->intx_fd = vp->intx_resample_fd = -1;
	pthread_mutex_unlock(&vp->irq_lock);

	pthread_mutex_lock(&all_lock);
	for (struct vfio_pci **p = &all_devices; *p; p = &(*p)->next) {
		if (*p == vp) {
			*p = vp->next;
			break;
		}
	}
	pthread_mutex_unlock(&all_lock);
	if (had_routes)
		update_routes(vp->vm, vp->ops);
	pci_device_exit(&vp->pci);
	pthread_mutex_destroy(&vp->irq_lock);
	free(vp);
}
