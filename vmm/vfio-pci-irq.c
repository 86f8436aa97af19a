// SPDX-License-Identifier: MIT
/*
 * Interrupts of a passed-through PCI function (vfio-pci.c has the rest).
 *
 * The guest sees MSI and MSI-X emulated by the framework (pci-dev.c); this
 * file turns what it programs into VFIO_DEVICE_SET_IRQS, and the host
 * kernel programs the real capability. One eventfd per vector is given to
 * VFIO, and each vector the guest can receive has its eventfd on a KVM
 * irqfd, on a GSI of its own whose KVM_SET_GSI_ROUTING entry is an MSI
 * route with the address/data the guest programmed: the device's
 * interrupts reach the guest without the VMM.
 *
 * What the guest programs is followed through three framework hooks:
 * config_written (MSI/MSI-X enable, Function Mask, the MSI address and
 * data), msix_written (an MSI-X table entry: Linux rewrites address/data
 * to move a vector to another CPU while MSI-X stays enabled, masking the
 * entry around it) and msix_pba_read. Each compares the guest's message
 * and mask with what KVM has and changes only what differs, so rewriting a
 * masked entry costs no routing update.
 *
 * Masked vectors (per-vector mask bit or Function Mask): their eventfd is
 * taken off its irqfd and their route removed, so the eventfd counts what
 * the device sends. The VMM reads that count (drain()) when the guest
 * reads the PBA, which sets the vector's pending bit, and when the guest
 * unmasks the vector, which sends one message, merged with a pending bit
 * set earlier (the framework sends pending messages only after the hook).
 * Unmasking installs the route, drains, and only then assigns the irqfd:
 * whatever the device signals after the drain is still in the eventfd when
 * KVM_IRQFD assigns it, and KVM delivers an eventfd's pending count at
 * assignment, through the route already there. Nothing is lost and nothing
 * is sent twice. The eventfd of a vector on no irqfd is read only under
 * its device's irq_lock, and taking a vector off its irqfd waits
 * (KVM_IRQFD deassign flushes) until KVM no longer reads it.
 *
 * MSI is shown with a 32-bit address and without per-vector masking; with
 * no mask, its vectors are on an irqfd whenever MSI is enabled with a
 * non-zero address.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table. The base routes are
 * kvm.c's setup_gsi_routing() (vm_base_gsi_routes(); TODO: move the table
 * into kvm.c with an add/remove-MSI-route API), then the routed vectors of
 * every device of the VM (the list here). KVM refuses the whole table if
 * a GSI, or the number of entries, reaches the limit KVM_CAP_IRQ_ROUTING
 * gives (1024 if it says nothing), so vectors get GSIs only below a bound
 * that keeps every table within it (msi_gsi_end()), first come first
 * served among the VM's devices. A vector beyond has no GSI and never a
 * route or an irqfd (a message says so, once per device): its eventfd
 * counts, and the VMM hands that to the guest at a PBA read or when a
 * sync finds the vector unmasked.
 *
 * A refused KVM call leaves nothing inconsistent, and the device's next
 * sync retries it (vp->resync: every vector, the routing table rewritten).
 * After a failed KVM_SET_GSI_ROUTING, KVM has its old table: the vectors
 * whose routes were to go in or change get no irqfd (off the one they
 * had), so their eventfds count and a PBA read delivers meanwhile. A
 * vector whose irqfd KVM_IRQFD would not deassign keeps its route: the
 * guest's mask is not honoured until the retry, but nothing is dropped.
 *
 * INTx: an eventfd trigger and a resample eventfd on the function's
 * swizzled GSI (KVM_IRQFD_FLAG_RESAMPLE, VFIO's INTx unmask on resample),
 * while neither MSI nor MSI-X is enabled; vfio-pci needs INTx off before
 * MSI goes on.
 *
 * Locks: vfio-pci-priv.h. The hooks run on vCPU threads outside dev->lock;
 * pci_device_notify() from drain() takes dev->lock inside irq_lock.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "lib/hostops.h"
#include "vmm/kvm.h"
#include "vmm/vfio-pci-priv.h"

#define MSI_CAP_LEN		12	/* flags, 32-bit address, data */
#define DEFAULT_MAX_ROUTES	1024	/* when KVM_CAP_IRQ_ROUTING does not say */

/* Every vfio_pci, for the routing table (KVM keeps one per VM). */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vfio_pci *all_devices;

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
	ret = vfio_pci_ioctl(vp, vp->fd, VFIO_DEVICE_SET_IRQS, s);
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
	return vfio_pci_ioctl(vp, vp->vm->vm_fd, KVM_IRQFD, &a);
}

/*
 * How far MSI GSIs may go: KVM refuses a whole routing table that has a
 * GSI at or over KVM_CAP_IRQ_ROUTING's limit or more entries than it.
 * The base routes take VM_BASE_GSI_ROUTES entries for the GSIs under
 * MACHINE_IOAPIC_PINS, so GSIs [MACHINE_IOAPIC_PINS, end) keep both
 * within the limit, whatever the devices route.
 */
static uint32_t msi_gsi_end(struct vfio_pci *vp)
{
	if (!vp->max_routes) {
		int n = vfio_pci_ioctl(vp, vp->vm->vm_fd, KVM_CHECK_EXTENSION,
			       (void *)(uintptr_t)KVM_CAP_IRQ_ROUTING);

		vp->max_routes = n > 0 ? (unsigned int)n : DEFAULT_MAX_ROUTES;
	}
	if (vp->max_routes <= VM_BASE_GSI_ROUTES)
		return MACHINE_IOAPIC_PINS;
	return vp->max_routes - VM_BASE_GSI_ROUTES + MACHINE_IOAPIC_PINS;
}

/*
 * A GSI for each of @vp's vectors, from MACHINE_IOAPIC_PINS up, that no
 * other device of the VM uses; VFIO_PCI_NO_GSI once msi_gsi_end() is
 * reached. Returns how many went without, or -1 (ENOMEM). all_lock and
 * @vp's irq_lock held.
 */
static int alloc_gsis(struct vfio_pci *vp)
{
	uint32_t base = MACHINE_IOAPIC_PINS, end = msi_gsi_end(vp), next = base;
	bool *used = calloc(end - base + 1, sizeof(*used));
	int none = 0;

	if (!used)
		return -1;
	for (struct vfio_pci *d = all_devices; d; d = d->next) {
		if (d->vm != vp->vm || d == vp)
			continue;
		pthread_mutex_lock(&d->irq_lock);
		for (unsigned int v = 0; v < d->nvec; v++)
			if (d->vec[v].gsi >= base && d->vec[v].gsi < end)
				used[d->vec[v].gsi - base] = true;
		pthread_mutex_unlock(&d->irq_lock);
	}
	for (unsigned int v = 0; v < vp->nvec; v++) {
		while (next < end && used[next - base])
			next++;
		vp->vec[v].gsi = next < end ? next++ : VFIO_PCI_NO_GSI;
		none += vp->vec[v].gsi == VFIO_PCI_NO_GSI;
	}
	free(used);
	return none;
}

/*
 * The guest's message for vector @v, false when the guest does not take
 * it now (masked, or no address). MSI: one message, the vector in its low
 * data bits.
 */
static bool vector_message(struct vfio_pci *vp, unsigned int v, uint64_t *addr, uint32_t *data)
{
	struct pci_device *dev = &vp->pci;
	bool ok;

	pthread_mutex_lock(&dev->lock);
	if (vp->mode == IRQ_MSIX) {
		const uint8_t *e = dev->msix_table + (size_t)v * MSIX_ENTRY_SIZE;
		uint16_t flags = (uint16_t)vfio_pci_le(dev->cfg + vp->msix_cap + 2, 2);

		*addr = vfio_pci_le(e, 4) | (uint64_t)vfio_pci_le(e + 4, 4) << 32;
		*data = vfio_pci_le(e + 8, 4);
		ok = !(flags & MSIX_FLAGS_MASKALL) && !(vfio_pci_le(e + 12, 4) & 1);
	} else {
		*addr = vfio_pci_le(dev->cfg + vp->msi_cap + 4, 4);
		*data = (vfio_pci_le(dev->cfg + vp->msi_cap + 8, 2) & ~(vp->nvec - 1)) | v;
		ok = true;
	}
	pthread_mutex_unlock(&dev->lock);
	return ok && *addr;
}

/*
 * KVM_SET_GSI_ROUTING: kvm.c's base routes, then the routed vectors of
 * every device of @vm. all_lock held, and @self's irq_lock (NULL: none).
 */
static int set_routes(struct vm *vm, const struct host_ops *ops, const struct vfio_pci *self)
{
	struct kvm_irq_routing *r;
	size_t cap = VM_BASE_GSI_ROUTES, n;
	int ret;

	for (struct vfio_pci *d = all_devices; d; d = d->next)
		if (d->vm == vm)
			cap += d->nvec;	/* nvec changes only under all_lock */
	r = calloc(1, sizeof(*r) + cap * sizeof(r->entries[0]));
	if (!r)
		return -1;
	n = vm_base_gsi_routes(r->entries);
	for (struct vfio_pci *d = all_devices; d; d = d->next) {
		if (d->vm != vm)
			continue;
		if (d != self)
			pthread_mutex_lock(&d->irq_lock);
		for (unsigned int v = 0; v < d->nvec && n < cap; v++) {
			const struct vfio_pci_vector *e = &d->vec[v];

			if (!e->routed)
				continue;
			r->entries[n].gsi = e->gsi;
			r->entries[n].type = KVM_IRQ_ROUTING_MSI;
			r->entries[n].u.msi.address_lo = (uint32_t)e->addr;
			r->entries[n].u.msi.address_hi = (uint32_t)(e->addr >> 32);
			r->entries[n++].u.msi.data = e->data;
		}
		if (d != self)
			pthread_mutex_unlock(&d->irq_lock);
	}
	r->nr = (uint32_t)n;
	ret = ops->ioctl(ops->ctx, vm->vm_fd, KVM_SET_GSI_ROUTING, r);
	free(r);
	return ret;
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
	if (vp->pci.intx_gsi < 0 || !vp->irqs[VFIO_PCI_INTX_IRQ_INDEX].count) {
		vp->mode = IRQ_INTX;	/* what the guest asked for, though there is none */
		return 0;
	}
	if (vp->intx_fd < 0 && (vp->intx_fd = vp->ops->eventfd(vp->ops->ctx)) < 0)
		return -1;
	if (vp->intx_resample_fd < 0 &&
	    (vp->intx_resample_fd = vp->ops->eventfd(vp->ops->ctx)) < 0)
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

/* irq_lock held: MSI/MSI-X off, the irqfds and eventfds gone. The caller rewrites the routes. */
static void msi_off(struct vfio_pci *vp)
{
	uint32_t index = vp->mode == IRQ_MSIX ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX;

	if (vp->mode != IRQ_MSI && vp->mode != IRQ_MSIX)
		return;
	set_irqs(vp, index, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, NULL);
	for (unsigned int v = 0; v < vp->nvec; v++) {
		if (vp->vec[v].irqfd)
			irqfd(vp, vp->vec[v].efd, vp->vec[v].gsi, KVM_IRQFD_FLAG_DEASSIGN, -1);
		if (vp->vec[v].efd >= 0)
			vp->ops->close(vp->ops->ctx, vp->vec[v].efd);
	}
	free(vp->vec);
	vp->vec = NULL;
	vp->nvec = 0;
	vp->mode = IRQ_NONE;
}

/*
 * all_lock and irq_lock held, mode IRQ_NONE. Every vector starts held: no
 * route, no irqfd; sync_vectors() then gives the guest those it takes.
 */
static int msi_on(struct vfio_pci *vp, enum vfio_pci_irq_mode mode, unsigned int nvec)
{
	uint32_t index = mode == IRQ_MSIX ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX;
	int *fds, none;

	if (!nvec || nvec > vp->irqs[index].count) {
		errno = EINVAL;
		return -1;
	}
	vp->vec = calloc(nvec, sizeof(*vp->vec));
	fds = calloc(nvec, sizeof(*fds));
	if (!vp->vec || !fds) {
		free(vp->vec);
		free(fds);
		vp->vec = NULL;
		return -1;
	}
	for (unsigned int v = 0; v < nvec; v++)
		vp->vec[v].efd = -1;
	vp->mode = mode;
	vp->nvec = nvec;
	none = alloc_gsis(vp);
	if (none < 0)
		goto fail;
	if (none && !vp->gsi_warned) {
		char what[160];

		snprintf(what, sizeof(what), "%s vectors %u-%u get no GSI (KVM's routing table, "
			 "%u routes, is full): their interrupts wait for %s (said once)",
			 mode == IRQ_MSIX ? "MSI-X" : "MSI", nvec - (unsigned int)none, nvec - 1,
			 vp->max_routes, mode == IRQ_MSIX ? "a PBA read or an unmask" :
			 "a write to the MSI capability");
		errno = ENOSPC;
		vfio_pci_warn(vp, what);
		vp->gsi_warned = true;
	}
	for (unsigned int v = 0; v < nvec; v++)
		if ((fds[v] = vp->vec[v].efd = vp->ops->eventfd(vp->ops->ctx)) < 0)
			goto fail;
	if (set_irqs(vp, index, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, nvec, fds))
		goto fail;
	free(fds);
	return 0;
fail:
	{
		int e = errno;

		msi_off(vp);
		free(fds);
		errno = e;
	}
	return -1;
}

/*
 * Hand what vector @v's eventfd counted to the framework: the pending bit
 * while the guest masks the vector, a message once it does not. irq_lock
 * held and the eventfd on no irqfd, so nothing else reads it.
 */
static void drain(struct vfio_pci *vp, unsigned int v)
{
	uint64_t n = 0;

	if (vp->ops->read(vp->ops->ctx, vp->vec[v].efd, &n, sizeof(n)) == (ssize_t)sizeof(n) && n)
		pci_device_notify(&vp->pci, v);
}

/*
 * Vector @v's KVM state to the guest's, but for the routing table: off its
 * irqfd if the guest does not take it, its route marked changed if it
 * differs. Returns whether the routing table must change. irq_lock held.
 */
static bool sync_vector(struct vfio_pci *vp, unsigned int v)
{
	struct vfio_pci_vector *e = &vp->vec[v];
	uint64_t addr = 0;
	uint32_t data = 0;
	bool on = vector_message(vp, v, &addr, &data);

	e->changed = false;
	if (e->gsi == VFIO_PCI_NO_GSI) {
		if (on)
			drain(vp, v);	/* the VMM is its only way to the guest */
		return false;
	}
	/* Off its irqfd before the route goes: from then on the eventfd counts. */
	if (!on && e->irqfd) {
		if (irqfd(vp, e->efd, e->gsi, KVM_IRQFD_FLAG_DEASSIGN, -1)) {
			/* Still on its irqfd, so it keeps its route: unmasked, in effect. */
			vfio_pci_warn(vp, "KVM_IRQFD deassign (vector left unmasked; retried)");
			vp->resync = true;
			return false;
		}
		e->irqfd = false;
	}
	if (on == e->routed && (!on || (addr == e->addr && data == e->data)))
		return false;
	e->routed = on;
	e->addr = on ? addr : 0;
	e->data = on ? data : 0;
	e->changed = true;
	return true;
}

/*
 * Give KVM what the guest programmed for vectors [first, last): a route
 * and an irqfd for each vector the guest takes, neither for the others.
 * @routes: rewrite the routing table even if no vector changed (vectors
 * went away). After a failed KVM call (vp->resync), every vector again.
 * all_lock and irq_lock held.
 */
static void sync_vectors(struct vfio_pci *vp, unsigned int first, unsigned int last, bool routes)
{
	bool failed;

	if (vp->resync) {
		first = 0;
		last = vp->nvec;
		routes = true;
		vp->resync = false;
	}
	for (unsigned int v = first; v < last; v++)
		routes |= sync_vector(vp, v);
	failed = routes && set_routes(vp->vm, vp->ops, vp);
	if (failed) {
		vfio_pci_warn(vp, "KVM_SET_GSI_ROUTING (retried at the next change)");
		vp->resync = true;
	}
	for (unsigned int v = first; v < last; v++) {
		struct vfio_pci_vector *e = &vp->vec[v];

		/*
		 * KVM kept its old table, without this route: no irqfd on it
		 * (off one it had for an older message), so the eventfd counts
		 * until the retry, and a PBA read hands it over meanwhile.
		 */
		if (failed && e->changed && e->routed &&
		    (!e->irqfd || !irqfd(vp, e->efd, e->gsi, KVM_IRQFD_FLAG_DEASSIGN, -1)))
			e->routed = e->irqfd = false;
		if (!e->routed || e->irqfd)
			continue;
		drain(vp, v);
		if (irqfd(vp, e->efd, e->gsi, 0, -1)) {
			vfio_pci_warn(vp, "KVM_IRQFD (retried at the next change)");
			vp->resync = true;
		} else {
			e->irqfd = true;
		}
	}
}

/* What the guest's config space asks for: MSI-X, else MSI, else INTx. */
static enum vfio_pci_irq_mode wanted_mode(struct vfio_pci *vp, unsigned int *nvec)
{
	struct pci_device *dev = &vp->pci;
	enum vfio_pci_irq_mode want = IRQ_INTX;

	pthread_mutex_lock(&dev->lock);
	if (vp->msix_cap && (vfio_pci_le(dev->cfg + vp->msix_cap + 2, 2) & MSIX_FLAGS_ENABLE)) {
		want = IRQ_MSIX;
		*nvec = dev->msix_entries;
	} else if (vp->msi_cap &&
		   (vfio_pci_le(dev->cfg + vp->msi_cap + 2, 2) & MSI_FLAGS_ENABLE)) {
		uint16_t f = (uint16_t)vfio_pci_le(dev->cfg + vp->msi_cap + 2, 2);
		unsigned int can = (f & MSI_FLAGS_QMASK) >> 1, en = (f & MSI_FLAGS_QSIZE) >> 4;

		want = IRQ_MSI;
		*nvec = 1u << (en < can ? en : can);
	}
	pthread_mutex_unlock(&dev->lock);
	return want;
}

/*
 * Bring the host side in line with the guest: the interrupt mode, then
 * vectors [first, last) (all of them after a mode change).
 */
static void sync_irqs(struct vfio_pci *vp, unsigned int first, unsigned int last)
{
	unsigned int nvec = 0;
	enum vfio_pci_irq_mode want = wanted_mode(vp, &nvec);
	bool routes = false;

	pthread_mutex_lock(&all_lock);
	pthread_mutex_lock(&vp->irq_lock);
	if (want != vp->mode || (want != IRQ_INTX && nvec != vp->nvec)) {
		routes = vp->mode == IRQ_MSI || vp->mode == IRQ_MSIX;	/* theirs go */
		msi_off(vp);
		intx_off(vp);
		if (want == IRQ_INTX) {
			if (intx_on(vp))
				vfio_pci_warn(vp, "INTx setup");
		} else if (msi_on(vp, want, nvec)) {
			vfio_pci_warn(vp, want == IRQ_MSIX ? "MSI-X setup" : "MSI setup");
			if (intx_on(vp))
				vfio_pci_warn(vp, "INTx setup");
		}
		first = 0;
		last = UINT_MAX;
	}
	if (last > vp->nvec)
		last = vp->nvec;
	if (routes || first < last || vp->resync)
		sync_vectors(vp, first < last ? first : last, last, routes);
	pthread_mutex_unlock(&vp->irq_lock);
	pthread_mutex_unlock(&all_lock);
}

void vfio_pci_irq_config_written(struct pci_device *dev, unsigned int offset, unsigned int len)
{
	struct vfio_pci *vp = dev->opaque;

	/* All of MSI: Linux moves an MSI vector by rewriting address and data while enabled. */
	if ((vp->msi_cap && pci_config_touches(offset, len, vp->msi_cap + 2u, MSI_CAP_LEN - 2)) ||
	    (vp->msix_cap && pci_config_touches(offset, len, vp->msix_cap + 2u, 2)))
		sync_irqs(vp, 0, UINT_MAX);
}

void vfio_pci_msix_written(struct pci_device *dev, unsigned int vector)
{
	sync_irqs(dev->opaque, vector, vector + 1);
}

void vfio_pci_msix_pba_read(struct pci_device *dev)
{
	struct vfio_pci *vp = dev->opaque;

	pthread_mutex_lock(&vp->irq_lock);
	if (vp->mode == IRQ_MSIX)
		for (unsigned int v = 0; v < vp->nvec; v++)
			if (!vp->vec[v].irqfd)
				drain(vp, v);
	pthread_mutex_unlock(&vp->irq_lock);
}

int vfio_pci_irq_start(struct vfio_pci *vp)
{
	int ret;

	pthread_mutex_lock(&all_lock);
	vp->next = all_devices;
	all_devices = vp;
	pthread_mutex_lock(&vp->irq_lock);
	ret = intx_on(vp);
	pthread_mutex_unlock(&vp->irq_lock);
	pthread_mutex_unlock(&all_lock);
	return ret;
}

void vfio_pci_irq_stop(struct vfio_pci *vp)
{
	bool had_routes, listed = false;

	pthread_mutex_lock(&all_lock);
	pthread_mutex_lock(&vp->irq_lock);
	had_routes = vp->mode == IRQ_MSI || vp->mode == IRQ_MSIX;
	msi_off(vp);
	intx_off(vp);
	if (vp->intx_fd >= 0)
		vp->ops->close(vp->ops->ctx, vp->intx_fd);
	if (vp->intx_resample_fd >= 0)
		vp->ops->close(vp->ops->ctx, vp->intx_resample_fd);
	vp->intx_fd = vp->intx_resample_fd = -1;
	pthread_mutex_unlock(&vp->irq_lock);
	for (struct vfio_pci **p = &all_devices; *p; p = &(*p)->next) {
		if (*p == vp) {
			*p = vp->next;
			listed = true;
			break;
		}
	}
	if (listed && had_routes && set_routes(vp->vm, vp->ops, NULL))
		vfio_pci_warn(vp, "KVM_SET_GSI_ROUTING");
	pthread_mutex_unlock(&all_lock);
}
