// SPDX-License-Identifier: MIT
/*
 * DMA translation for devices behind a vIOMMU: the vmm/dma.h space of a
 * struct viommu_dev. Each IOVA page is translated the way a device behind
 * real VT-d hardware gets it translated: from the device's ATC when ATS
 * is on, else from the host unit's IOTLB, else by a walk of the guest's
 * tables whose result is cached in both. Cached results are used as they
 * are, however stale: the only thing that makes a DMA see a guest's remap
 * is the host invalidation the flush path sends. So a device keeps no
 * translation of its own beyond the chunk it is copying, and the guests
 * catch a missing flush by where the data lands.
 *
 * The caches are the simulated host's (dev->sim) for devices placed on
 * it; a device without one has every request walked.
 *
 * Without an attachment the host has nothing to translate with, so the
 * guest's tables decide: pass-through (translation disabled, legacy TT 2,
 * scalable PGTT 4) moves data to GPA = IOVA, uncached since there is no
 * translation to cache; anything else faults.
 *
 * Locking: dma_lock() is the unit's lock. The device holds it for each
 * chunk (at most a page on either side): ATC and IOTLB lookups, walk,
 * cache fills, fault record and the copy itself. The guest's queue
 * processing holds the same lock and a wait completes only there, so once
 * a wait completed no DMA still uses a translation its batch invalidated,
 * and no fill lands after the flush that should have removed it. The
 * simulated host's IOTLB and ATC locks are taken only under it
 * (viommu-priv.h).
 */
#include <pthread.h>

#include "hostvtd/simvtd.h"
#include "viommu/viommu-priv.h"
#include "vmm/dma.h"
#include "vmm/kvm.h"
#include "vtd/regs.h"

#define DMA_PAGE_SIZE		4096ULL
#define DMA_PAGE_MASK		(~(DMA_PAGE_SIZE - 1))

/* The device's attachment for @pasid (0: requests without PASID). Caller holds u->lock. */
static const struct viommu_attach *find_attach(const struct viommu_dev *vdev, uint32_t pasid)
{
	size_t n = vdev->nattach < VTD_MAX_ATTACH ? vdev->nattach : VTD_MAX_ATTACH;

	for (size_t i = 0; i < n; i++)
		if (vdev->attach[i].pasid == pasid)
			return &vdev->attach[i];
	return NULL;
}

static struct vtd_fault make_fault(const struct viommu_dev *vdev, const struct dma_request *r,
				   uint64_t iova, bool write, uint8_t reason)
{
	return (struct vtd_fault){
		.sid = vdev->guest_sid, .has_pasid = r->has_pasid, .pasid = r->pasid,
		.addr = iova & DMA_PAGE_MASK, .reason = reason, .write = write,
	};
}

/*
 * Fill in who asked: walk.c knows the address and the reason but not the
 * requester. Caller holds u->lock.
 */
static void record_fault(struct viommu_dev *vdev, const struct dma_request *r, uint64_t iova,
			 bool write, struct vtd_fault *f)
{
	struct vtd_fault full = make_fault(vdev, r, iova, write, f->reason);

	full.suppress = f->suppress;
	vtd_record_fault(vdev->unit, &full);
}

static int walk(struct viommu_dev *vdev, const struct dma_request *r,
		const struct viommu_attach *a, uint64_t page, bool write, uint64_t stale,
		struct dma_translation *out);

/*
 * No attachment for the request: the host has no translation for it.
 * Pass-through needs none: the guest's tables say GPA = IOVA, and nothing
 * goes into the host IOTLB or the ATC, there being no translation to
 * cache. With CAP.CM clear the guest may have made the entry present
 * without an invalidation (vtd_sync_miss()): sync the device for it and
 * walk. Otherwise the host sees the device blocked: say why from the
 * guest's tables when they refuse it too, else as a context the host does
 * not have (with CM set, the guest changed its tables without the
 * invalidation caching mode requires). Caller holds u->lock.
 */
static int untranslated(struct viommu_dev *vdev, const struct dma_request *r, uint64_t page,
			bool write, struct dma_translation *out)
{
	struct viommu *u = vdev->unit;
	struct vtd_xlate x;
	struct vtd_fault f;

	if (vtd_lookup(u, vdev->guest_sid, r->has_pasid, r->pasid, &x, &f)) {
		record_fault(vdev, r, page, write, &f);
		return -1;
	}
	if (x.mode == VTD_XLATE_PT) {
		out->gpa = page;
		out->source = DMA_SOURCE_IDENTITY;
		return 0;
	}
	if (!(u->cap & VTD_CAP_CM) && vdev->host.unit) {
		struct flush_result res;
		const struct viommu_attach *a = NULL;

		/* A failed sync leaves the device as it was: the fault below says so. */
		if (vtd_sync_miss(u, vdev->guest_sid, x.did, r->pasid, &res) == 0 &&
		    (!r->has_pasid || vdev->pasid_ok))
			a = find_attach(vdev, r->pasid);
		if (a)
			return walk(vdev, r, a, page, write, 0, out);
	}
	f = make_fault(vdev, r, page, write, VTD_FR_CTX_NOT_PRESENT);
	f.suppress = x.fpd;
	record_fault(vdev, r, page, write, &f);
	return -1;
}

/*
 * Walk the guest's tables for @page and cache the result in the host
 * IOTLB (and the ATC when ATS is on). @stale is a cached target of the
 * same page that lacked the permission: when the walk lands on the same
 * page its permission is kept, so reads and writes of one page stop
 * re-walking. Caller holds u->lock.
 */
static int walk(struct viommu_dev *vdev, const struct dma_request *r,
		const struct viommu_attach *a, uint64_t page, bool write, uint64_t stale,
		struct dma_translation *out)
{
	struct viommu *u = vdev->unit;
	unsigned int access = (write ? VTD_ACCESS_WRITE : VTD_ACCESS_READ) | VTD_ACCESS_USER;
	struct vtd_xlate x;
	struct vtd_fault f = { 0 };
	uint64_t gpa, target;

	/* Requests carry no privilege: the device never sets PR, so first stage sees a user. */
	out->source = DMA_SOURCE_WALK;
	if (vtd_lookup(u, vdev->guest_sid, r->has_pasid, r->pasid, &x, &f)) {
		record_fault(vdev, r, page, write, &f);
		return -1;
	}
	if (vtd_translate(u->vm, &x, page, access, &gpa, &f)) {
		/* A translation request's failed walk is answered, not recorded (spec 7.1). */
		if (r->translation_request) {
			out->recoverable = true;
			return -1;
		}
		f.suppress |= x.fpd;
		record_fault(vdev, r, page, write, &f);
		return -1;
	}
	out->gpa = gpa & DMA_PAGE_MASK;
	if (!vdev->sim)
		return 0;
	target = out->gpa | (write ? SIMVTD_TARGET_W : SIMVTD_TARGET_R);
	if (stale && SIMVTD_TARGET_PAGE(stale) == out->gpa)
		target |= stale & (SIMVTD_TARGET_R | SIMVTD_TARGET_W);
	/* A failed fill only costs a later walk. */
	(void)simvtd_iotlb_insert_target(vdev->sim, vdev->host.unit->index, a->host_did, r->pasid,
					 a->nested, page, target);
	if (r->ats && x.ats_ok)
		(void)simvtd_atc_insert_target(vdev->sim, vdev->host.sid, r->pasid, page, target);
	return 0;
}

/* The page of @page's translation for a read or a write. Caller holds u->lock. */
static int translate_page(struct viommu_dev *vdev, const struct dma_request *r, uint64_t page,
			  bool write, struct dma_translation *out)
{
	uint64_t need = write ? SIMVTD_TARGET_W : SIMVTD_TARGET_R;
	uint64_t cached = 0, stale = 0;
	const struct viommu_attach *a = NULL;
	/*
	 * A request with PASID where the synced context allows none (legacy
	 * mode, PASIDE clear) must not borrow what requests without PASID
	 * use under PASID 0, cached or attached: the tables refuse it.
	 */
	bool pasid_ok = !r->has_pasid || vdev->pasid_ok;

	if (vdev->sim && r->ats && pasid_ok &&
	    simvtd_atc_lookup(vdev->sim, vdev->host.sid, r->pasid, page, &cached)) {
		if (cached & need) {
			out->source = DMA_SOURCE_ATC;
			out->gpa = SIMVTD_TARGET_PAGE(cached);
			return 0;
		}
		stale = cached;
	}

	/*
	 * An IOTLB hit does not fill the ATC: whether the context lets the
	 * device cache translations (ats_ok) is only known from a walk.
	 */
	cached = 0;
	if (vdev->host.unit && pasid_ok)
		a = find_attach(vdev, r->pasid);
	if (!a)
		return untranslated(vdev, r, page, write, out);
	if (vdev->sim &&
	    simvtd_iotlb_lookup(vdev->sim, vdev->host.unit->index, a->host_did, r->pasid, page,
				&cached) && (cached & need)) {
		out->source = DMA_SOURCE_IOTLB;
		out->gpa = SIMVTD_TARGET_PAGE(cached);
		return 0;
	}
	if (cached && !(cached & need))
		stale = cached;
	return walk(vdev, r, a, page, write, stale, out);
}

/*
 * At most the rest of @iova's page. A translated GPA outside guest RAM:
 * the simulated host's second stage maps guest RAM only, so the host unit
 * refuses the address, a translation fault with ADDR_BEYOND_MGAW.
 */
static int dev_translate(void *ctx, const struct dma_request *r, uint64_t iova, uint64_t len,
			 bool write, struct dma_translation *out)
{
	struct viommu_dev *vdev = ctx;
	uint64_t offset = iova & ~DMA_PAGE_MASK;

	*out = (struct dma_translation){ .source = DMA_SOURCE_IDENTITY };
	if (translate_page(vdev, r, iova & DMA_PAGE_MASK, write, out))
		return -1;
	out->gpa += offset;
	out->len = len < DMA_PAGE_SIZE - offset ? len : DMA_PAGE_SIZE - offset;
	if (!vm_gpa(vdev->unit->vm, out->gpa, out->len)) {
		struct vtd_fault f = make_fault(vdev, r, iova, write, VTD_FR_ADDR_BEYOND_MGAW);

		vtd_record_fault(vdev->unit, &f);
		return -1;
	}
	return 0;
}

static void dev_lock(void *ctx)
{
	struct viommu_dev *vdev = ctx;

	vtd_unit_lock(vdev->unit);
}

static void dev_unlock(void *ctx)
{
	struct viommu_dev *vdev = ctx;

	pthread_mutex_unlock(&vdev->unit->lock);
}

static const struct dma_ops viommu_dma_ops = {
	.lock = dev_lock,
	.unlock = dev_unlock,
	.translate = dev_translate,
};

void viommu_dma_space(struct viommu_dev *dev, struct dma_space *out)
{
	*out = (struct dma_space){ .ops = &viommu_dma_ops, .ctx = dev };
}
