// SPDX-License-Identifier: MIT
/*
 * The emulated DMA engine. Its requests go through vmm/dma.h like any
 * device's: each chunk (at most a page on either side) is translated and
 * copied under dma_lock(), so no wait the guest queues completes in
 * between, and the next chunk translates again. Behind a vIOMMU the space
 * is viommu/dma.c's, which uses the simulated host VT-d's IOTLB and the
 * device's ATC as hardware would, so a missing host invalidation shows as
 * DMA landing on a stale page.
 *
 * Locking: d->lock serializes the registers and holds for a whole command
 * (a command runs inside the MMIO write that starts it). The PCI
 * framework's lock (config space) is taken before dma_lock(), never under
 * it. Order: d->lock, then the unit's lock (dma_lock(), a page request).
 * A page group response arrives under the unit's lock: it only takes
 * d->resp_lock, which is never held while taking another lock. The engine
 * acts on it (and keeps the PRI status bits) under d->lock, at its next
 * BAR access or PRI control write.
 *
 * PRI (PCIe 6.0 10.4): one page request outstanding at most, and none
 * while Response Failure is set or the guest allocated no requests.
 * Stopped reads 1 while Enable is clear and nothing is outstanding;
 * Reset with Enable clear drops an outstanding request (its command ends
 * in STATUS_FAULT) and clears itself; a response code of Response Failure
 * sets that bit, a response to no outstanding group sets Unexpected PRG
 * Index.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/pci-bdf.h"
#include "viommu/simdev-regs.h"
#include "viommu/simdev.h"
#include "viommu/viommu-priv.h"
#include "vmm/dma.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"

#define SIMDEV_BAR_SIZE		0x1000
#define SIMDEV_MSIX_BAR		2
#define SIMDEV_MSIX_VECTORS	1
#define SIMDEV_ATS_QDEP		32
#define SIMDEV_PASID_MASK	((1u << VTD_PASID_BITS) - 1)

#define DMA_PAGE_SIZE		4096ULL
#define DMA_PAGE_MASK		(~(DMA_PAGE_SIZE - 1))


struct simdev {
	struct pci_device pci;
	struct vm *vm;
	struct dma_space dma;		/* where its requests go */
	uint16_t rid;
	uint16_t ats_cap, pasid_cap, pri_cap;	/* config offsets, 0: absent */
	struct viommu_dev *vdev;

	pthread_mutex_t lock;
	uint64_t src, dst, len, pasid;
	uint64_t status, fault_addr;
	uint64_t atc_hits, iotlb_hits, walks, page_requests;
	/* PRI: a copy stopped on a page request (STATUS_PAGE_REQUEST). */
	uint64_t resume_at;		/* bytes done */
	uint16_t prgi_next, prgi_wait;
	unsigned int tries;		/* page requests of this command */

	pthread_mutex_t resp_lock;	/* the response, as the unit hands it over */
	bool resp_valid;
	uint8_t resp_code;
	uint16_t resp_prgi;
};

static uint16_t cfg_read16(struct simdev *d, unsigned int off)
{
	return (uint16_t)pci_device_config_read(&d->pci, off, 2);
}

static bool ats_enabled(struct simdev *d)
{
	return d->ats_cap && (cfg_read16(d, d->ats_cap + ATS_CTRL) & ATS_CTRL_ENABLE);
}

static bool pasid_enabled(struct simdev *d)
{
	return d->pasid_cap && (cfg_read16(d, d->pasid_cap + PASID_CTRL) & PASID_CTRL_ENABLE);
}

static bool pri_enabled(struct simdev *d)
{
	return d->pri_cap && (cfg_read16(d, d->pri_cap + PRI_CTRL) & PRI_CTRL_ENABLE);
}

/* Whether the engine may make a page request now (PRI enabled is the caller's). */
static bool pri_may_request(struct simdev *d)
{
	return !(cfg_read16(d, d->pri_cap + PRI_STATUS) & PRI_STATUS_RF) &&
	       pci_device_config_read(&d->pci, d->pri_cap + PRI_ALLOCATION, 4) != 0;
}

static void pri_status(struct simdev *d, uint16_t clear, uint16_t set)
{
	pci_device_config_update(&d->pci, d->pri_cap + PRI_STATUS, 2, clear, set);
}

/* Stopped: Enable clear and no page request outstanding. Under d->lock. */
static void pri_update_stopped(struct simdev *d)
{
	bool stopped = !pri_enabled(d) && d->status != SIMDEV_STATUS_PAGE_REQUEST;

	pri_status(d, PRI_STATUS_STOPPED, stopped ? PRI_STATUS_STOPPED : 0);
}

/* Count where a translation came from, faulted ones included. */
static void count(struct simdev *d, const struct dma_translation *t)
{
	if (t->source == DMA_SOURCE_WALK)
		d->walks++;
	else if (t->source == DMA_SOURCE_ATC)
		d->atc_hits++;
	else if (t->source == DMA_SOURCE_IOTLB)
		d->iotlb_hits++;
}

/*
 * Host pointer for @n bytes at @iova of a side of the copy, or NULL: a
 * fault was recorded, or (*@recoverable) a translation request was refused
 * by the page tables and a page request may help.
 */
static void *map(struct simdev *d, const struct dma_request *r, uint64_t iova, uint64_t n,
		 bool write, bool *recoverable)
{
	struct dma_translation t = { .source = DMA_SOURCE_IDENTITY };
	void *host = dma_map(d->vm, &d->dma, r, iova, n, write, &t);

	count(d, &t);
	*recoverable = !host && t.recoverable;
	return host;
}

/*
 * Move @n bytes from IOVA @s to IOVA @t, neither crossing a page: both
 * translated afresh and copied in one hold of u->lock, so no wait the
 * guest queues completes in between (see the top of the file). Returns 0,
 * or -1 with *@fault_at the IOVA that could not be moved, *@write which
 * side it was, and *@recoverable whether a page request may help.
 */
static int copy_chunk(struct simdev *d, const struct dma_request *r, uint64_t s, uint64_t t,
		      uint64_t n, uint64_t *fault_at, bool *write, bool *recoverable)
{
	void *from, *to;
	int ret = -1;

	dma_lock(&d->dma);
	*write = false;
	from = map(d, r, s, n, false, recoverable);
	if (!from) {
		*fault_at = s;
		goto out;
	}
	*write = true;
	to = map(d, r, t, n, true, recoverable);
	if (!to) {
		*fault_at = t;
		goto out;
	}
	memmove(to, from, n);
	ret = 0;
out:
	dma_unlock(&d->dma);
	return ret;
}

/*
 * A page request for @addr (PCIe PRI, one page, last of its group), made
 * outside dma_lock(). Returns true when the copy may go on at once (the
 * queue overflowed: the unit answers an LPIG request Success itself).
 */
static bool page_request(struct simdev *d, const struct dma_request *r, uint64_t addr,
			 bool write, uint64_t done)
{
	struct vtd_page_req pr = {
		.rid = d->rid, .has_pasid = true, .pasid = r->pasid, .addr = addr & DMA_PAGE_MASK,
		.read = !write, .write = write, .lpig = true,
	};

	d->fault_addr = addr;
	if (d->tries >= SIMDEV_PRI_TRIES || !pri_may_request(d)) {
		d->status = SIMDEV_STATUS_FAULT;
		return false;
	}
	d->tries++;
	pr.prgi = d->prgi_next++ & 0x1ff;
	d->page_requests++;
	switch (vtd_page_request(d->vdev->unit, &pr)) {
	case VTD_PRQ_QUEUED:
		d->status = SIMDEV_STATUS_PAGE_REQUEST;
		d->resume_at = done;
		d->prgi_wait = pr.prgi;
		return false;
	case VTD_PRQ_DROPPED:
		return true;
	case VTD_PRQ_REFUSED:
		break;
	}
	d->status = SIMDEV_STATUS_FAULT;
	return false;
}

/*
 * SIMDEV_CMD_COPY from byte @done on: chunks never cross a page on either
 * side, so each chunk is one vm_gpa range, translated when it is copied.
 * FAULT_ADDR is the IOVA of the first byte that could not be moved.
 */
static void run_copy(struct simdev *d, uint64_t done)
{
	struct dma_request r = { .rid = d->rid };
	uint64_t len = d->len;

	if (!len || len > SIMDEV_MAX_LEN ||
	    !(cfg_read16(d, PCI_COMMAND) & PCI_COMMAND_MASTER)) {
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
		uint64_t s = d->src + done, t = d->dst + done, n = len - done, at;
		bool write, recoverable;
		/* Config space is read before dma_lock(), never under it. */
		r.ats = ats_enabled(d);
		r.translation_request = r.ats && r.has_pasid && pri_enabled(d);

		if (n > DMA_PAGE_SIZE - (s & ~DMA_PAGE_MASK))
			n = DMA_PAGE_SIZE - (s & ~DMA_PAGE_MASK);
		if (n > DMA_PAGE_SIZE - (t & ~DMA_PAGE_MASK))
			n = DMA_PAGE_SIZE - (t & ~DMA_PAGE_MASK);
		if (copy_chunk(d, &r, s, t, n, &at, &write, &recoverable)) {
			if (recoverable && page_request(d, &r, at, write, done))
				continue;	/* overflowed: answered Success, retry */
			if (!recoverable) {
				d->fault_addr = at;
				d->status = SIMDEV_STATUS_FAULT;
			}
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
	case SIMDEV_PAGE_REQUESTS:	return d->page_requests;
	default:		return 0;
	}
}

/*
 * The unit's side of a page group response (struct viommu_dev's
 * page_response), under the unit's lock: kept for the engine to act on.
 */
static void page_response(void *opaque, const struct vtd_desc_pgrp_resp *resp)
{
	struct simdev *d = opaque;

	pthread_mutex_lock(&d->resp_lock);
	d->resp_valid = true;
	d->resp_code = resp->rcode;
	d->resp_prgi = resp->prgi;
	pthread_mutex_unlock(&d->resp_lock);
}

/*
 * A copy stopped on a page request goes on once its group's response has
 * come: Success retries the translation, anything else faults. Responses
 * to other groups are dropped. Returns true when the command ended.
 */
static bool resume(struct simdev *d)
{
	bool have, ended;
	uint16_t prgi;
	uint8_t code;

	pthread_mutex_lock(&d->resp_lock);
	have = d->resp_valid;
	code = d->resp_code;
	prgi = d->resp_prgi;
	d->resp_valid = false;
	pthread_mutex_unlock(&d->resp_lock);
	if (!have || !d->pri_cap)
		return false;
	if (d->status != SIMDEV_STATUS_PAGE_REQUEST || prgi != d->prgi_wait) {
		pri_status(d, 0, PRI_STATUS_UPRGI);
		return false;
	}
	if (code == VTD_PRG_RESP_FAILURE)
		pri_status(d, 0, PRI_STATUS_RF);
	if (code != VTD_PRG_RESP_SUCCESS) {
		d->status = SIMDEV_STATUS_FAULT;
		ended = true;
	} else {
		run_copy(d, d->resume_at);
		ended = d->status != SIMDEV_STATUS_PAGE_REQUEST;
	}
	pri_update_stopped(d);
	return ended;
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
		if ((val & mask) == SIMDEV_CMD_COPY) {
			d->tries = 0;
			run_copy(d, 0);
		} else {
			d->status = SIMDEV_STATUS_BAD;
		}
		/* Stopped on a page request: vector 0 when it ends (resume()). */
		return d->status != SIMDEV_STATUS_PAGE_REQUEST;
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
	notify = resume(d);
	if (is_write) {
		for (i = 0; i < len; i++)
			val |= (uint64_t)data[i] << (8 * i);
		notify = reg_write(d, reg, val << shift, mask) || notify;
	} else {
		val = reg_read(d, reg) >> shift;
		for (i = 0; i < len; i++)
			data[i] = (uint8_t)(val >> (8 * i));
	}
	pthread_mutex_unlock(&d->lock);
	if (notify)
		pci_device_notify(&d->pci, 0);
}

/*
 * A write to the PRI control register: Reset (with Enable clear) drops an
 * outstanding page request, whose command then ends in STATUS_FAULT; then
 * Stopped follows Enable. Runs without the framework's lock.
 */
static void config_written(struct pci_device *pci, unsigned int offset, unsigned int len)
{
	struct simdev *d = pci->opaque;
	bool notify;
	uint16_t ctrl;

	if (!d->pri_cap || !pci_config_touches(offset, len, d->pri_cap + PRI_CTRL, 2))
		return;
	pthread_mutex_lock(&d->lock);
	notify = resume(d);
	ctrl = cfg_read16(d, d->pri_cap + PRI_CTRL);
	if (ctrl & PRI_CTRL_RESET) {
		pci_device_config_update(&d->pci, d->pri_cap + PRI_CTRL, 2, PRI_CTRL_RESET, 0);
		if (!(ctrl & PRI_CTRL_ENABLE) && d->status == SIMDEV_STATUS_PAGE_REQUEST) {
			d->status = SIMDEV_STATUS_FAULT;
			notify = true;
		}
	}
	pri_update_stopped(d);
	pthread_mutex_unlock(&d->lock);
	if (notify)
		pci_device_notify(&d->pci, 0);
}

static const struct pci_device_ops simdev_ops = {
	.config_written = config_written,
};

struct simdev *simdev_create(struct vm *vm, struct viommu_dev *vdev, struct simvtd *sim,
			     bool ats, bool pasid, uint16_t bdf, char *err, size_t errlen)
{
	char b[PCI_BDF_LEN];
	struct simdev *d;

	if (!vm || !vdev || !vdev->unit || !sim) {
		snprintf(err, errlen, "sim device %s: no vIOMMU or host", pci_bdf_format(bdf, b));
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->vm = vm;
	d->rid = vdev->guest_sid;
	d->vdev = vdev;
	/* Its requests reach the vIOMMU through the simulated host's caches. */
	vdev->sim = sim;
	viommu_dma_space(vdev, &d->dma);
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->resp_lock, NULL);
	pci_device_init(&d->pci, SIMDEV_VENDOR, SIMDEV_DEVICE, SIMDEV_CLASS, 0);
	d->pci.ops = &simdev_ops;
	d->pci.opaque = d;
	d->pci.cfg[0x3d] = 0;	/* MSI-X only: no INTx pin */
	if (pci_device_set_bar(&d->pci, 0, PCI_BAR_MEM32, SIMDEV_BAR_SIZE, simdev_mmio, d) ||
	    !pci_add_msix_cap(&d->pci, SIMDEV_MSIX_VECTORS, SIMDEV_MSIX_BAR) ||
	    !pci_add_pcie_cap(&d->pci, PCI_EXP_TYPE_RC_END) ||
	    (pasid && !(d->pasid_cap = pci_add_pasid_cap(&d->pci, VTD_PASID_BITS))) ||
	    (ats && !(d->ats_cap = pci_add_ats_cap(&d->pci, SIMDEV_ATS_QDEP)))) {
		snprintf(err, errlen, "sim device %s: cannot build its config space",
			 pci_bdf_format(bdf, b));
		goto fail;
	}
	if (pci_register(vm, &d->pci, bdf)) {
		snprintf(err, errlen, "sim device %s: slot taken or PCI full", pci_bdf_format(bdf, b));
		goto fail;
	}
	return d;
fail:
	pci_device_exit(&d->pci);
	pthread_mutex_destroy(&d->resp_lock);
	pthread_mutex_destroy(&d->lock);
	free(d);
	return NULL;
}

int simdev_add_pri(struct simdev *d, char *err, size_t errlen)
{
	if (!d->ats_cap || !d->pasid_cap) {
		snprintf(err, errlen, "pri needs ats and pasid");
		return -1;
	}
	d->pri_cap = pci_add_pri_cap(&d->pci, SIMDEV_PRI_TRIES);
	if (!d->pri_cap) {
		snprintf(err, errlen, "cannot add the PRI capability");
		return -1;
	}
	d->vdev->page_response = page_response;
	d->vdev->page_response_opaque = d;
	return 0;
}

void simdev_free(struct simdev *d)
{
	if (!d)
		return;
	if (d->vdev && d->vdev->page_response_opaque == d)
		d->vdev->page_response = NULL;
	pci_device_exit(&d->pci);
	pthread_mutex_destroy(&d->resp_lock);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

struct pci_device *simdev_pci(struct simdev *d)
{
	return &d->pci;
}
