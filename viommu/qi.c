// SPDX-License-Identifier: MIT
/*
 * The invalidation queue of one emulated unit (spec 6.5.2): run from IQH
 * towards IQT, a bounded amount in the guest's IQT write and the rest in
 * steps of the unit's worker (work.c). Invalidations queue up in a batch
 * until a wait descriptor; the wait hands the batch to the flush engine,
 * which returns only after the host completed it, and only then is the
 * wait's status written or its interrupt raised. A context- or
 * PASID-cache descriptor's resync may take several steps; the head stays
 * on it until it is done, so nothing behind it runs early.
 *
 * Decisions where the spec leaves room (all documented for the guest
 * driver's sake):
 *  - Type 9 (page group response) is refused with IQEI 3: ECAP.PRS is not
 *    advertised, so no page request can be answered.
 *  - PASID-based types 6, 7, 8 are refused with IQEI 7 (TTM) while the
 *    active root table is in legacy mode: they name PASIDs, which legacy
 *    tables do not have.
 *  - In scalable mode 128-bit descriptors are refused (IQEI 3), as VT-d
 *    hardware and VirtualBox's model do: scalable mode needs IQA.DW = 1.
 *  - Page-selective IOTLB/PASID-IOTLB with AM > CAP.MAMV: IQE, IQEI 4, as
 *    QEMU does.
 *  - A wait whose status address is outside guest RAM: IQE with IQEI 0
 *    (no specific code exists), head on the wait; the batch before it was
 *    already flushed.
 *  - A host failure other than a device-TLB timeout (host IQE, ICE, I/O)
 *    is reported as ICE with ICESID = the guest SID if the host named a
 *    device; like ITE, the wait it would have completed is not performed
 *    (the host did not confirm the work), but ICE does not stall the queue.
 *  - A flush that closes no wait (the batch filled at VTD_MAX_BATCH, a
 *    context- or PASID-cache descriptor, the end of the queue, an IQE)
 *    still carries work a later wait vouches for. Any failure of such a
 *    flush, ITE or ICE, sets u->qi_failed, which outlives the IQT write:
 *    the next wait is then not completed either (no status write, no
 *    IWC; ICE again unless the failure was an ITE, whose aborted waits
 *    the spec leaves silent) and clears it. Otherwise the guest would see
 *    a wait complete over invalidations the host never confirmed.
 *  - A host ITE on a flush that is not a wait's sets ITE and stops. Before
 *    a context- or PASID-cache descriptor the head stays ON that
 *    descriptor: it has not run yet, and its resync is needed (the device
 *    must leave its old domain), while running it again is harmless. In
 *    the other cases the head moves past the current descriptor (already
 *    in the failed batch). Processing resumes once software clears ITE.
 *  - The resync a context- or PASID-cache descriptor triggers flushes the
 *    host caches of each attachment it removes. If that flush fails, the
 *    attachment stays (tables.c) and the failure is treated as above: ITE
 *    (head ON the descriptor, so the resync retries once ITE is cleared)
 *    or ICE, and the next wait is not completed either way.
 *  - A run of identical context- or PASID-cache descriptors (byte for
 *    byte, nothing between them) runs once, at its last: no wait can
 *    tell, and a queue full of global ones costs one resync.
 *  - A PASID-cache descriptor resyncs by its granularity: PASID-selective
 *    re-reads that PASID's entry of each device (no directory walk),
 *    domain-selective touches only attachments whose old or new DID is
 *    the descriptor's, global everything (tables.c: vtd_sync_pasid(),
 *    vtd_sync_domain()). Context-cache descriptors stay device-selective
 *    or global.
 *  - IQE and ITE stall the queue until software clears them in FSTS
 *    (spec 6.5.2.10); unit.c resumes processing then.
 */
#include <stdlib.h>
#include <string.h>

#include "hostvtd/flush.h"
#include "viommu/viommu-priv.h"
#include "vmm/kvm.h"
#include "vtd/desc.h"
#include "vtd/regs.h"

struct qi_run {
	struct viommu *u;
	struct vtd_desc batch[VTD_MAX_BATCH];
	size_t n;
};

static void report_iqe(struct viommu *u, enum vtd_iqei iqei)
{
	u->iqercd = (u->iqercd & ~0xfULL) | (uint64_t)iqei;
	vtd_report_qi_error(u, VTD_FSTS_IQE);
}

/*
 * Send what is gathered to the host. @waits is 1 when a wait closes the
 * batch. Returns 0, or -1 after reporting the host's error; *ite tells
 * whether it was a timeout (which stalls the queue). A failure of a flush
 * that closes no wait is remembered for the next wait (u->qi_failed).
 */
static int flush_batch(struct qi_run *r, unsigned int waits, bool *ite)
{
	struct flush_result res = { 0 };
	int ret;

	*ite = false;
	if (!r->n && !waits)
		return 0;
	ret = flush_engine_batch(r->u->fe, (uint16_t)r->u->index, r->batch, r->n, waits, &res);
	r->n = 0;
	if (ret == 0 && res.status == 0)
		return 0;
	*ite = vtd_report_host_error(r->u, &res);
	if (!waits) {
		r->u->qi_failed = true;
		/* An ITE was reported already and aborts the pending wait by itself. */
		if (!*ite)
			r->u->qi_failed_ice = true;
	}
	return -1;
}

static bool pasid_type(enum vtd_desc_type t)
{
	return t == VTD_DESC_PIOTLB || t == VTD_DESC_PC || t == VTD_DESC_PDEVTLB;
}

/* What this unit refuses beyond vtd_desc_decode's checks; VTD_IQEI_NONE if fine. */
static int unsupported(struct viommu *u, const struct vtd_desc *d, bool wide)
{
	bool scalable = VTD_FIELD(u->rtaddr_active, 11, 10) == 1;

	if (d->type == VTD_DESC_PGRP_RESP && !(u->ecap & VTD_ECAP_PRS))
		return VTD_IQEI_TYPE;
	if (scalable && !wide)
		return VTD_IQEI_TYPE;
	if (!scalable && pasid_type(d->type))
		return VTD_IQEI_TTM;
	if (d->type == VTD_DESC_IOTLB && d->iotlb.gran == VTD_IOTLB_PAGE &&
	    d->iotlb.am > VTD_CAP_MAMV(u->cap))
		return VTD_IQEI_RSVD;
	if (d->type == VTD_DESC_PIOTLB && d->piotlb.gran == VTD_PIOTLB_PAGE &&
	    d->piotlb.am > VTD_CAP_MAMV(u->cap))
		return VTD_IQEI_RSVD;
	return VTD_IQEI_NONE;
}

/* Spec 6.5.2.8: the wait's status write and completion interrupt. */
static int complete_wait(struct viommu *u, const struct vtd_desc_wait *w)
{
	if (w->sw) {
		void *p = (w->status_addr & 3) ? NULL : vm_gpa(u->vm, w->status_addr, 4);

		if (!p)
			return -1;
		/*
		 * One 4-byte store (the address is 4-aligned), ordered after
		 * every write the wait vouches for: the guest polls this word
		 * from another CPU while we write it, and must never see it torn.
		 */
		__atomic_store_n((uint32_t *)p, w->status_data, __ATOMIC_RELEASE);
	}
	/* QEMU once asserted on SW and IF together: both are fine here. */
	if (w->intr && !(u->ics & VTD_ICS_IWC)) {
		u->ics |= VTD_ICS_IWC;
		vtd_raise_event(u, &u->iectl, u->ieaddr, u->ieuaddr, u->iedata);
	}
	return 0;
}

/* Does the descriptor after @head repeat it exactly (and is it queued)? */
static bool repeated(struct viommu *u, uint64_t qbase, uint64_t head, uint64_t dsize,
		     uint64_t qbytes, uint64_t tail, const struct vtd_raw_desc *raw)
{
	uint64_t next = (head + dsize) % qbytes;
	const void *p;

	if (next == tail || qbase + next < qbase)
		return false;
	p = vm_gpa(u->vm, qbase + next, dsize);
	return p && !memcmp(p, raw->qw, dsize);
}

/* The resync a context- or PASID-cache descriptor asks for. */
static struct vtd_resync_req resync_of(const struct vtd_desc *d)
{
	struct vtd_resync_req req = { .kind = VTD_RESYNC_DEVICES, .all = true };

	if (d->type == VTD_DESC_CC) {
		req.all = d->cc.gran != VTD_CC_DEVICE || d->cc.fm != 0;
		req.sid = d->cc.sid;
	} else if (d->pc.gran == VTD_PC_PASID) {
		req = (struct vtd_resync_req){ .kind = VTD_RESYNC_PASID, .did = d->pc.did,
					       .pasid = d->pc.pasid };
	} else if (d->pc.gran == VTD_PC_DOMAIN) {
		req = (struct vtd_resync_req){ .kind = VTD_RESYNC_DOMAIN, .did = d->pc.did };
	}
	return req;
}

bool vtd_qi_pending(const struct viommu *u)
{
	return (u->gsts & VTD_GCMD_QIE) && !(u->fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE)) &&
	       (u->iqh & VTD_IQ_OFFSET_MASK) != (u->iqt & VTD_IQ_OFFSET_MASK);
}

bool vtd_qi_run(struct viommu *u, unsigned long *budget)
{
	struct qi_run *r;
	bool wide = u->iqa & VTD_IQA_DW;
	uint64_t dsize = wide ? 32 : 16;
	uint64_t qbytes = VTD_PAGE_SIZE << VTD_IQA_QS(u->iqa);
	uint64_t qbase = u->iqa & VTD_IQA_ADDR_MASK;
	uint64_t tail = u->iqt & VTD_IQ_OFFSET_MASK;
	uint64_t head = u->iqh & VTD_IQ_OFFSET_MASK;
	bool more = false;
	int iqei;
	bool ite;

	if (!(u->gsts & VTD_GCMD_QIE) || (u->fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE)))
		return false;
	if (tail >= qbytes) {
		report_iqe(u, VTD_IQEI_TAIL);
		return false;
	}
	if (wide && (tail & 0x10)) {
		report_iqe(u, VTD_IQEI_TAIL_ALIGN);
		return false;
	}
	if (head == tail)
		return false;

	/*
	 * ~12 KiB, on the heap rather than a vCPU thread's stack, and kept for
	 * the unit's life: clearing it on every tail write cost more than the
	 * rest of the submission. u->lock makes it ours.
	 */
	if (!u->qi_scratch)
		u->qi_scratch = calloc(1, sizeof(*r));
	r = u->qi_scratch;
	if (!r) {
		/* Nothing fetched yet: the guest sees a fetch failure and may retry. */
		report_iqe(u, VTD_IQEI_NONE);
		return false;
	}
	r->u = u;
	r->n = 0;

	while (head != tail) {
		struct vtd_raw_desc raw = { { 0 } };
		struct vtd_desc d;
		enum vtd_desc_error derr;
		const void *src = NULL;

		/*
		 * Out of budget: what is gathered goes to the host now (as at
		 * the end of the queue) and the rest waits for the next step
		 * (work.c), the head on the first descriptor not done.
		 */
		if (!*budget) {
			more = true;
			break;
		}
		if (u->resync_owner == VTD_RESYNC_BY_QUEUE) {
			struct flush_result res;
			int sret = vtd_resync_step(u, budget, &res);

			if (sret > 0) {
				more = true;
				break;
			}
			u->resync_owner = VTD_RESYNC_BY_NONE;
			/*
			 * A failed flush of a leaving attachment kept it (tables.c):
			 * like any flush that closes no wait, ITE or ICE now and the
			 * next wait not completed. On ITE the head stays on this
			 * descriptor, so the resync (a retry) runs once ITE is
			 * cleared; after ICE the next one retries.
			 */
			if (sret) {
				u->qi_failed = true;
				if (vtd_report_host_error(u, &res))
					goto stop_on;
				u->qi_failed_ice = true;
			}
			goto next;
		}
		vtd_spend(u, budget, 1);

		if (qbase + head >= qbase)
			src = vm_gpa(u->vm, qbase + head, dsize);
		if (!src) {
			iqei = VTD_IQEI_FETCH;
			goto iqe;
		}
		memcpy(raw.qw, src, dsize);
		derr = vtd_desc_decode(&raw, wide, &d);
		if (derr == VTD_DESC_ERR_TYPE) {
			iqei = VTD_IQEI_TYPE;
			goto iqe;
		}
		if (derr != VTD_DESC_OK) {
			iqei = VTD_IQEI_RSVD;
			goto iqe;
		}
		iqei = unsupported(u, &d, wide);
		if (iqei != VTD_IQEI_NONE)
			goto iqe;

		u->descriptors++;
		switch (d.type) {
		case VTD_DESC_CC:
		case VTD_DESC_PC:
			/*
			 * A run of identical cache invalidations with nothing in
			 * between is one: the last of the run does the same resync,
			 * later, and no wait can observe the ones skipped.
			 */
			if (repeated(u, qbase, head, dsize, qbytes, tail, &raw)) {
				u->collapsed++;
				break;
			}
			/*
			 * Invalidations queued before the change reach the old
			 * attachment. On ITE this descriptor has not run: keep
			 * the head on it so that it runs once ITE is cleared.
			 */
			if (flush_batch(r, 0, &ite) && ite)
				goto stop_on;
			{
				struct vtd_resync_req req = resync_of(&d);
				struct flush_result res;

				if (vtd_resync_start(u, &req) == 0) {
					/* The loop's top runs it, the head still on this descriptor. */
					u->resync_owner = VTD_RESYNC_BY_QUEUE;
					continue;
				}
				/* No memory for the steps: all of it now. */
				if (vtd_sync_req(u, &req, &res)) {
					u->qi_failed = true;
					if (vtd_report_host_error(u, &res))
						goto stop_on;
					u->qi_failed_ice = true;
				}
			}
			break;
		case VTD_DESC_WAIT:
			u->batches++;
			/*
			 * Spec: a wait is aborted, not completed, when its batch
			 * failed; so is one whose batch includes host work that
			 * failed in an earlier flush (qi_failed). Either way this
			 * wait answers for that failure: the next one starts clean.
			 */
			/* A batch costs one unit per descriptor it sends to the host. */
			vtd_spend(u, budget, r->n);
			if (flush_batch(r, 1, &ite)) {
				u->qi_failed = u->qi_failed_ice = false;
				if (ite)
					goto stop_after;
				break;
			}
			if (u->qi_failed) {
				/*
				 * After an ITE the spec aborts pending waits without a
				 * word (the guest resubmits, as Linux does); after
				 * another failure the guest is told with ICE.
				 */
				if (u->qi_failed_ice)
					vtd_report_qi_error(u, VTD_FSTS_ICE);
				u->qi_failed = u->qi_failed_ice = false;
				break;
			}
			if (complete_wait(u, &d.wait)) {
				iqei = VTD_IQEI_NONE;
				goto iqe_flushed;
			}
			break;
		case VTD_DESC_PGRP_RESP:
			/*
			 * The device retries once answered: invalidations queued
			 * before the response reach the host first.
			 */
			if (flush_batch(r, 0, &ite) && ite)
				goto stop_on;
			vtd_page_response(u, &d.pgrp);
			break;
		default:
			/* IEC: no interrupt remapping, nothing cached. FN is implicit. */
			if (!vtd_desc_is_host_invalidation(&d))
				break;
			/* Host work: planned with the rest of the batch at the next wait. */
			r->batch[r->n++] = d;
			if (r->n == VTD_MAX_BATCH && flush_batch(r, 0, &ite) && ite)
				goto stop_after;
			break;
		}
next:
		head = (head + dsize) % qbytes;
		u->iqh = head;
	}
	flush_batch(r, 0, &ite);
	return more && !(u->fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE));

iqe:
	/* Never lose what came before the bad descriptor. */
	flush_batch(r, 0, &ite);
iqe_flushed:
	/* The head stays on the offending descriptor (spec 6.5.2.10). */
	u->iqh = head;
	report_iqe(u, (enum vtd_iqei)iqei);
	return false;

stop_after:
	u->iqh = (head + dsize) % qbytes;
	return false;

stop_on:
	u->iqh = head;
	return false;
}

void vtd_qi_exit(struct viommu *u)
{
	free(u->qi_scratch);
	u->qi_scratch = NULL;
}
