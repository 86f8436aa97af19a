// SPDX-License-Identifier: MIT
/*
 * The emulated DMA engine. Each IOVA page a command touches is translated
 * the way a device behind real VT-d hardware gets it translated: from the
 * device's ATC when ATS is on, else from the host unit's IOTLB, else by a
 * walk of the guest's tables whose result is cached in both. Cached
 * results are used as they are, however stale: the only thing that makes
 * a DMA see a guest's remap is the host invalidation the flush path sends.
 * So the engine keeps no translation of its own beyond the chunk it is
 * copying, and the guests catch a missing flush by where the data lands.
 *
 * Without an attachment the host has nothing to translate with, so the
 * guest's tables decide: pass-through (translation disabled, legacy TT 2,
 * scalable PGTT 4) moves data to GPA = IOVA, uncached since there is no
 * translation to cache; anything else faults.
 *
 * Locking: d->lock serializes the registers and holds for a whole command
 * (a command runs inside the MMIO write that starts it). Below it, each
 * chunk (at most a page on either side) is translated AND copied with the
 * unit's lock held: ATC and IOTLB lookups, walk, cache fills, fault record
 * and the memmove. The guest's queue processing holds the same lock and a
 * wait completes only there, so once a wait completed no DMA still uses a
 * translation its batch invalidated, and no fill lands after the flush
 * that should have removed it. The next chunk translates again. The PCI
 * framework's lock (config space) is taken before the unit's, never under
 * it; the simulated host's IOTLB and ATC locks only under it (vtd.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/simvtd.h"
#include "viommu/simdev-regs.h"
#include "viommu/simdev.h"
#include "viommu/vtd.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"

#define SIMDEV_BAR_SIZE		0x1000
#define SIMDEV_MSIX_BAR		2
#define SIMDEV_MSIX_VECTORS	1
#define SIMDEV_ATS_QDEP		32
#define SIMDEV_PASID_MASK	((1u << VTD_PASID_BITS) - 1)

#define DMA_PAGE_SIZE		4096ULL
#define DMA_PAGE_MASK		(~(DMA_PAGE_SIZE - 1))

/* Config bits the engine obeys (vmm/pci-dev.c keeps its names private). */
#define CFG_COMMAND		0x04
#define CFG_COMMAND_MASTER	0x0004
#define EXT_CAP_CTRL		6	/* ATS and PASID control: capability + 6 */
#define ATS_CTRL_ENABLE		0x8000
#define PASID_CTRL_ENABLE	0x0001

struct simdev {
	struct pci_device pci;
	struct vm *vm;
	struct viommu_dev *vdev;
	struct simvtd *sim;
	uint16_t ats_cap, pasid_cap;	/* config offsets, 0: absent */

	pthread_mutex_t lock;
	uint64_t src, dst, len, pasid;
	uint64_t status, fault_addr;
	uint64_t atc_hits, iotlb_hits, walks;
};

/* The requester of one command, as the IOMMU sees it. */
struct dma_req {
	bool has_pasid;
	uint32_t pasid;		/* also the host PASID: the host numbers PASIDs as the guest */
};

static uint16_t cfg_read16(struct simdev *d, unsigned int off)
{
	return (uint16_t)pci_device_config_read(&d->pci, off, 2);
}

static bool ats_enabled(struct simdev *d)
{
	return d->ats_cap && (cfg_read16(d, d->ats_cap + EXT_CAP_CTRL) & ATS_CTRL_ENABLE);
}

static bool pasid_enabled(struct simdev *d)
{
	return d->pasid_cap && (cfg_read16(d, d->pasid_cap + EXT_CAP_CTRL) & PASID_CTRL_ENABLE);
}

/* The device's attachment for @pasid (0: requests without PASID). Caller holds u->lock. */
static const struct viommu_attach *find_attach(const struct viommu_dev *vdev, uint32_t pasid)
{
	size_t n = vdev->nattach < VTD_MAX_ATTACH ? vdev->nattach : VTD_MAX_ATTACH;

	for (size_t i = 0; i < n; i++)
		if (vdev->attach[i].pasid == pasid)
			return &vdev->attach[i];
	return NULL;
}

static struct vtd_fault make_fault(const struct simdev *d, const struct dma_req *r,
				   uint64_t iova, bool write, uint8_t reason)
{
	return (struct vtd_fault){
		.sid = d->vdev->guest_sid, .has_pasid = r->has_pasid, .pasid = r->pasid,
		.addr = iova & DMA_PAGE_MASK, .reason = reason, .write = write,
	};
}

/*
 * Fill in who asked: walk.c knows the address and the reason but not the
 * requester. Caller holds u->lock.
 */
static void record_fault(struct simdev *d, const struct dma_req *r, uint64_t iova, bool write,
			 struct vtd_fault *f)
{
	struct vtd_fault full = make_fault(d, r, iova, write, f->reason);

	full.suppress = f->suppress;
	vtd_record_fault(d->vdev->unit, &full);
}

/*
 * No attachment for the request: the host has no translation for it.
 * Pass-through needs none: the guest's tables say GPA = IOVA, and nothing
 * goes into the host IOTLB or the ATC, there being no translation to
 * cache. Otherwise the host sees the device blocked: say why from the
 * guest's tables when they refuse it too, else as a context the host does
 * not have (the guest changed its tables without invalidating the context
 * cache). Caller holds u->lock.
 */
static int untranslated(struct simdev *d, const struct dma_req *r, uint64_t page, bool write,
			uint64_t *gpa_page)
{
	struct viommu *u = d->vdev->unit;
	struct vtd_xlate x;
	struct vtd_fault f;

	if (vtd_lookup(u, d->vdev->guest_sid, r->has_pasid, r->pasid, &x, &f)) {
		record_fault(d, r, page, write, &f);
		return -1;
	}
	if (x.mode == VTD_XLATE_PT) {
		*gpa_page = page;
		return 0;
	}
	f = make_fault(d, r, page, write, VTD_FR_CTX_NOT_PRESENT);
	f.suppress = x.fpd;
	record_fault(d, r, page, write, &f);
	return -1;
}

/*
 * Walk the guest's tables for @page and cache the result in the host
 * IOTLB (and the ATC when @ats). @stale is a cached target of the same
 * page that lacked the permission: when the walk lands on the same page
 * its permission is kept, so reads and writes of one page stop
 * re-walking. Caller holds u->lock.
 */
static int walk(struct simdev *d, const struct dma_req *r, const struct viommu_attach *a,
		uint64_t page, bool write, bool ats, uint64_t stale, uint64_t *gpa_page)
{
	struct viommu *u = d->vdev->unit;
	unsigned int access = (write ? VTD_ACCESS_WRITE : VTD_ACCESS_READ) | VTD_ACCESS_USER;
	struct vtd_xlate x;
	struct vtd_fault f = { 0 };
	uint64_t gpa, target;

	/* Requests carry no privilege: the device never sets PR, so first stage sees a user. */
	d->walks++;
	if (vtd_lookup(u, d->vdev->guest_sid, r->has_pasid, r->pasid, &x, &f)) {
		record_fault(d, r, page, write, &f);
		return -1;
	}
	if (vtd_translate(d->vm, &x, page, access, &gpa, &f)) {
		f.suppress |= x.fpd;
		record_fault(d, r, page, write, &f);
		return -1;
	}
	*gpa_page = gpa & DMA_PAGE_MASK;
	target = *gpa_page | (write ? SIMVTD_TARGET_W : SIMVTD_TARGET_R);
	if (stale && SIMVTD_TARGET_PAGE(stale) == *gpa_page)
		target |= stale & (SIMVTD_TARGET_R | SIMVTD_TARGET_W);
	/* A failed fill only costs a later walk. */
	(void)simvtd_iotlb_insert_target(d->sim, d->vdev->host.unit->index, a->host_did, r->pasid,
					 a->nested, page, target);
	if (ats && x.ats_ok)
		(void)simvtd_atc_insert_target(d->sim, d->vdev->host.sid, r->pasid, page, target);
	return 0;
}

/*
 * Translate the page of @iova for a read or a write; @ats: the device's
 * ATS is enabled. Returns 0, or -1 after recording a fault. Caller holds
 * u->lock.
 */
static int translate(struct simdev *d, const struct dma_req *r, uint64_t iova, bool write,
		     bool ats, uint64_t *gpa_page)
{
	uint64_t need = write ? SIMVTD_TARGET_W : SIMVTD_TARGET_R;
	uint64_t page = iova & DMA_PAGE_MASK, cached = 0, stale = 0;
	const struct viommu_attach *a = NULL;
	/*
	 * A request with PASID where the synced context allows none (legacy
	 * mode, PASIDE clear) must not borrow what requests without PASID
	 * use under PASID 0, cached or attached: the tables refuse it.
	 */
	bool pasid_ok = !r->has_pasid || d->vdev->pasid_ok;

	if (ats && pasid_ok &&
	    simvtd_atc_lookup(d->sim, d->vdev->host.sid, r->pasid, page, &cached)) {
		if (cached & need) {
			d->atc_hits++;
			*gpa_page = SIMVTD_TARGET_PAGE(cached);
			return 0;
		}
		stale = cached;
	}

	/*
	 * An IOTLB hit does not fill the ATC: whether the context lets the
	 * device cache translations (ats_ok) is only known from a walk.
	 */
	cached = 0;
	if (d->vdev->host.unit && pasid_ok)
		a = find_attach(d->vdev, r->pasid);
	if (!a)
		return untranslated(d, r, page, write, gpa_page);
	if (simvtd_iotlb_lookup(d->sim, d->vdev->host.unit->index, a->host_did, r->pasid, page,
				&cached) && (cached & need)) {
		d->iotlb_hits++;
		*gpa_page = SIMVTD_TARGET_PAGE(cached);
		return 0;
	}
	if (cached && !(cached & need))
		stale = cached;
	return walk(d, r, a, page, write, ats, stale, gpa_page);
}

/*
 * Host pointer for @n bytes at @iova (within one page) of a side of the
 * copy, or NULL after recording a fault. A translated GPA outside guest
 * RAM: the simulated host's second stage maps guest RAM only, so the host
 * unit refuses the address, a translation fault with ADDR_BEYOND_MGAW.
 * Caller holds u->lock, and keeps it while using the pointer.
 */
static void *dma_map(struct simdev *d, const struct dma_req *r, uint64_t iova, uint64_t n,
		     bool write, bool ats)
{
	uint64_t gpa_page;
	void *host;

	if (translate(d, r, iova, write, ats, &gpa_page))
		return NULL;
	host = vm_gpa(d->vm, gpa_page + (iova & ~DMA_PAGE_MASK), n);
	if (!host) {
		struct vtd_fault f = make_fault(d, r, iova, write, VTD_FR_ADDR_BEYOND_MGAW);

		vtd_record_fault(d->vdev->unit, &f);
	}
	return host;
}

/*
 * Move @n bytes from IOVA @s to IOVA @t, neither crossing a page: both
 * translated afresh and copied in one hold of u->lock, so no wait the
 * guest queues completes in between (see the top of the file). Returns 0,
 * or -1 with *@fault_at the IOVA that could not be moved.
 */
static int copy_chunk(struct simdev *d, const struct dma_req *r, uint64_t s, uint64_t t,
		      uint64_t n, bool ats, uint64_t *fault_at)
{
	struct viommu *u = d->vdev->unit;
	void *from, *to;
	int ret = -1;

	vtd_unit_lock(u);
	from = dma_map(d, r, s, n, false, ats);
	if (!from) {
		*fault_at = s;
		goto out;
	}
	to = dma_map(d, r, t, n, true, ats);
	if (!to) {
		*fault_at = t;
		goto out;
	}
	memmove(to, from, n);
	ret = 0;
out:
	pthread_mutex_unlock(&u->lock);
	return ret;
}

/*
 * SIMDEV_CMD_COPY: chunks never cross a page on either side, so each
 * chunk is one vm_gpa range, translated when it is copied. FAULT_ADDR is
 * the IOVA of the first byte that could not be moved.
 */
static void run_copy(struct simdev *d)
{
	struct dma_req r = { 0 };
	uint64_t len = d->len, done = 0;

	if (!len || len > SIMDEV_MAX_LEN || !d->vdev->unit ||
	    !(cfg_read16(d, CFG_COMMAND) & CFG_COMMAND_MASTER)) {
		d->status = SIMDEV_STATUS_BAD;
		return;
	}
	if (d->pasid & SIMDEV_PASID_VALID) {
		if (!pasid_enabled(d)) {
			d->status = SIMDEV_STATUS_BAD;
			return;
		}
		r.has_pasid = true;
		r.pasid = (uint32_t)(d->pasid & SIMDEV_PASID_MASK);
	}
	while (done < len) {
		uint64_t s = d->src + done, t = d->dst + done, n = len - done;
		/* Config space is read before u->lock is taken, never under it. */
		bool ats = ats_enabled(d);

		if (n > DMA_PAGE_SIZE - (s & ~DMA_PAGE_MASK))
			n = DMA_PAGE_SIZE - (s & ~DMA_PAGE_MASK);
		if (n > DMA_PAGE_SIZE - (t & ~DMA_PAGE_MASK))
			n = DMA_PAGE_SIZE - (t & ~DMA_PAGE_MASK);
		if (copy_chunk(d, &r, s, t, n, ats, &d->fault_addr)) {
			d->status = SIMDEV_STATUS_FAULT;
			return;
		}
		done += n;
	}
	d->status = SIMDEV_STATUS_DONE;
}

static uint64_t reg_read(struct simdev *d, uint64_t reg)
{
	switch (reg) {
	case SIMDEV_ID:		return SIMDEV_ID_VALUE;
	case SIMDEV_SRC:	return d->src;
	case SIMDEV_DST:	return d->dst;
	case SIMDEV_LEN:	return d->len;
	case SIMDEV_PASID:	return d->pasid;
	case SIMDEV_STATUS:	return d->status;
	case SIMDEV_FAULT_ADDR:	return d->fault_addr;
	case SIMDEV_ATC_HITS:	return d->atc_hits;
	case SIMDEV_IOTLB_HITS:	return d->iotlb_hits;
	case SIMDEV_WALKS:	return d->walks;
	default:		return 0;
	}
}

/* Returns true when a command ran (and vector 0 is due). */
static bool reg_write(struct simdev *d, uint64_t reg, uint64_t val, uint64_t mask)
{
	uint64_t *slot;

	switch (reg) {
	case SIMDEV_SRC:	slot = &d->src; break;
	case SIMDEV_DST:	slot = &d->dst; break;
	case SIMDEV_LEN:	slot = &d->len; break;
	case SIMDEV_PASID:	slot = &d->pasid; break;
	case SIMDEV_CMD:
		/* A command is the write of its low byte; the rest of a split write is ignored. */
		if (!(mask & 0xff))
			return false;
		if ((val & mask) == SIMDEV_CMD_COPY)
			run_copy(d);
		else
			d->status = SIMDEV_STATUS_BAD;
		return true;
	default:
		return false;		/* read-only or unused */
	}
	*slot = (*slot & ~mask) | (val & mask);
	if (slot == &d->pasid)
		d->pasid &= SIMDEV_PASID_VALID | SIMDEV_PASID_MASK;
	return false;
}

/* BAR 0. Any access inside one 64-bit register works; others read 0 and are dropped. */
static void simdev_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
			bool is_write)
{
	struct simdev *d = opaque;
	unsigned int shift = (unsigned int)(offset & 7) * 8, i;
	uint64_t reg = offset & ~7ULL, val = 0, mask;
	bool notify = false;

	if (!is_write)
		memset(data, 0, len);
	if (!len || len > 8 || (offset & 7) + len > 8 || offset >= SIMDEV_BAR_SIZE)
		return;
	mask = (len == 8 ? ~0ULL : (1ULL << (8 * len)) - 1) << shift;
	pthread_mutex_lock(&d->lock);
	if (is_write) {
		for (i = 0; i < len; i++)
			val |= (uint64_t)data[i] << (8 * i);
		notify = reg_write(d, reg, val << shift, mask);
	} else {
		val = reg_read(d, reg) >> shift;
		for (i = 0; i < len; i++)
			data[i] = (uint8_t)(val >> (8 * i));
	}
	pthread_mutex_unlock(&d->lock);
	if (notify)
		pci_device_notify(&d->pci, 0);
}

struct simdev *simdev_create(struct vm *vm, struct viommu_dev *vdev, struct simvtd *sim,
			     bool ats, bool pasid, uint16_t bdf, char *err, size_t errlen)
{
	struct simdev *d;

	if (!vm || !vdev || !vdev->unit || !sim) {
		snprintf(err, errlen, "sim device %02x:%02x.%x: no vIOMMU or host", bdf >> 8,
			 (bdf >> 3) & 0x1f, bdf & 7);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->vm = vm;
	d->vdev = vdev;
	d->sim = sim;
	pthread_mutex_init(&d->lock, NULL);
	pci_device_init(&d->pci, SIMDEV_VENDOR, SIMDEV_DEVICE, SIMDEV_CLASS, 0);
	d->pci.cfg[0x3d] = 0;	/* MSI-X only: no INTx pin */
	if (pci_device_set_bar(&d->pci, 0, PCI_BAR_MEM32, SIMDEV_BAR_SIZE, simdev_mmio, d) ||
	    !pci_add_msix_cap(&d->pci, SIMDEV_MSIX_VECTORS, SIMDEV_MSIX_BAR) ||
	    !pci_add_pcie_cap(&d->pci, PCI_EXP_TYPE_RC_END) ||
	    (pasid && !(d->pasid_cap = pci_add_pasid_cap(&d->pci, VTD_PASID_BITS))) ||
	    (ats && !(d->ats_cap = pci_add_ats_cap(&d->pci, SIMDEV_ATS_QDEP)))) {
		snprintf(err, errlen, "sim device %02x:%02x.%x: cannot build its config space",
			 bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7);
		goto fail;
	}
	if (pci_register(vm, &d->pci, bdf)) {
		snprintf(err, errlen, "sim device %02x:%02x.%x: slot taken or PCI full", bdf >> 8,
			 (bdf >> 3) & 0x1f, bdf & 7);
		goto fail;
	}
	return d;
fail:
	pci_device_exit(&d->pci);
	pthread_mutex_destroy(&d->lock);
	free(d);
	return NULL;
}

void simdev_free(struct simdev *d)
{
	if (!d)
		return;
	pci_device_exit(&d->pci);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

struct pci_device *simdev_pci(struct simdev *d)
{
	return &d->pci;
}
