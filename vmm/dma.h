/* SPDX-License-Identifier: MIT */
/*
 * DMA: where a device's bus address lands in guest memory. Every device
 * model that reads or writes guest memory on its own asks here, so a
 * second device behind the vIOMMU needs no copy of the translation.
 *
 * A device's requests go through a struct dma_space. Without an IOMMU
 * the space is the identity (bus address = guest-physical address). With
 * the emulated VT-d (viommu/dma.c) the space translates through the
 * guest's tables and the host's caches, records a fault the guest sees
 * when it cannot, and keeps every translation it hands out valid while
 * the device holds dma_lock(): a guest's invalidation wait cannot
 * complete in between. The vmm/ side knows nothing of VT-d.
 *
 * A device takes dma_lock(), translates and moves data, then dma_unlock(),
 * one page (or less) at a time; it never keeps a translation past the
 * unlock. Reads of its own config space (bus master, ATS enable) happen
 * before dma_lock(), never under it.
 */
#ifndef TAGVMM_VMM_DMA_H
#define TAGVMM_VMM_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

/* Who asks, as the IOMMU sees it. */
struct dma_request {
	uint16_t rid;		/* requester ID: bus << 8 | devfn */
	bool has_pasid;
	uint32_t pasid;		/* with has_pasid; also the host PASID */
	bool ats;		/* the device's ATS is enabled: its ATC may answer */
	/*
	 * An ATS translation request of a device that can ask for pages
	 * (PRI enabled): when the page tables refuse it (not present, no
	 * permission) the IOMMU answers without recording a fault, and the
	 * device may make a page request (out->recoverable).
	 */
	bool translation_request;
};

/* Where a translation came from, for the device's statistics. */
enum dma_source {
	DMA_SOURCE_IDENTITY,	/* no IOMMU, or pass-through */
	DMA_SOURCE_ATC,		/* the device's own ATC */
	DMA_SOURCE_IOTLB,	/* the host unit's IOTLB */
	DMA_SOURCE_WALK,	/* a walk of the guest's tables (set even when it faulted) */
};

struct dma_translation {
	uint64_t gpa;		/* guest-physical address of the IOVA asked */
	uint64_t len;		/* bytes from there the translation covers (at most asked) */
	enum dma_source source;
	bool recoverable;	/* a translation_request refused by the page tables: nothing recorded */
};

/* An IOMMU's side of a device's DMA. */
struct dma_ops {
	/* Hold translations stable: dma_lock()/dma_unlock() (may be NULL). */
	void (*lock)(void *ctx);
	void (*unlock)(void *ctx);
	/*
	 * Translate [iova, iova + len) for a read or a write. Returns 0 with
	 * @out filled, or -1 after reporting the fault to the guest (the
	 * IOMMU's business); out->source is set either way. A translation
	 * that lands outside guest RAM is a fault.
	 */
	int (*translate)(void *ctx, const struct dma_request *rq, uint64_t iova, uint64_t len,
			 bool write, struct dma_translation *out);
};

/* A device's DMA address space: @ops NULL is the identity. */
struct dma_space {
	const struct dma_ops *ops;
	void *ctx;
};

/*
 * What an IOMMU installs in struct vm (vm->dma_iommu): the space of the
 * device with requester ID @rid. Returns 0, or -1 when the IOMMU has no
 * such device (its DMA is then refused).
 */
struct dma_iommu {
	int (*space)(void *opaque, uint16_t rid, struct dma_space *out);
	void *opaque;
};

/*
 * The space of device @rid on @vm: the IOMMU's when one is installed,
 * else the identity. Returns 0, or -1 when the IOMMU refuses @rid.
 */
int dma_space_of(struct vm *vm, uint16_t rid, struct dma_space *out);

void dma_lock(const struct dma_space *s);
void dma_unlock(const struct dma_space *s);

/* See struct dma_ops; the identity covers any length and never faults. */
int dma_translate(const struct dma_space *s, const struct dma_request *rq, uint64_t iova,
		  uint64_t len, bool write, struct dma_translation *out);

/*
 * Host pointer for @len bytes at @iova, all inside one translation (a
 * page at most behind an IOMMU), or NULL: a fault (reported by the IOMMU)
 * or, without one, an address outside guest RAM. @out as dma_translate()
 * fills it. Caller holds dma_lock() while it uses the pointer.
 */
void *dma_map(struct vm *vm, const struct dma_space *s, const struct dma_request *rq,
	      uint64_t iova, uint64_t len, bool write, struct dma_translation *out);

#endif
