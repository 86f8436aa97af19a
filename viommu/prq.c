// SPDX-License-Identifier: MIT
/*
 * Page requests of one emulated VT-d unit (spec 7.4, registers 10.4.31-38;
 * ECAP.PRS and PDS): a device whose translation failed asks the guest to
 * make the page present; the unit writes the request into the guest's page
 * request queue and raises the page request event; the guest answers with
 * a page group response (type 9) in its invalidation queue, which goes
 * back to the device that asked.
 *
 * The queue is the guest's memory and the registers are the guest's:
 * every head, tail and base is hostile. A tail or head outside the queue,
 * or a slot outside guest RAM, is treated as a full queue: PRO is set and
 * the request dropped (hardware then answers an LPIG request Success
 * itself, spec 7.4.1; the device retries and may ask again). Requests are
 * written when made, so a wait with PD (page-request drain) has nothing
 * left to drain. Caller holds u->lock except where said.
 */
#include <string.h>

#include "viommu/viommu-priv.h"
#include "vmm/kvm.h"
#include "vtd/regs.h"

#define PRS_PPR		VTD_BIT(0)	/* pending page request */
#define PRS_PRO		VTD_BIT(1)	/* page request overflow */
#define PQ_OFFSET_MASK	0x7ffe0ULL	/* PQH/PQT bits 18:5: a 32-byte slot */
#define PQA_PQS(v)	((unsigned int)VTD_FIELD(v, 2, 0))
#define PRQ_SLOT	32

/* Page request descriptor (spec 9.9, type 1). */
#define PRD_TYPE		1ULL
#define PRD_PASID_PRESENT	VTD_BIT(8)

static uint64_t queue_bytes(const struct viommu *u)
{
	return (uint64_t)PRQ_SLOT << (PQA_PQS(u->pqa) + 7);
}

/* The page request event (spec 7.4.2): only when PPR or PRO newly become set. */
static void page_request_event(struct viommu *u, uint32_t prs_before)
{
	if (prs_before & (PRS_PPR | PRS_PRO))
		return;
	vtd_raise_event(u, &u->pectl, u->peaddr, u->peuaddr, u->pedata);
}

static enum vtd_prq_result overflow(struct viommu *u)
{
	uint32_t before = u->prs;

	u->prs |= PRS_PRO;
	u->page_requests_dropped++;
	page_request_event(u, before);
	return VTD_PRQ_DROPPED;
}

static enum vtd_prq_result page_request_locked(struct viommu *u, const struct vtd_page_req *pr)
{
	uint64_t size = queue_bytes(u), head = u->pqh & PQ_OFFSET_MASK;
	uint64_t tail = u->pqt & PQ_OFFSET_MASK, base = u->pqa & VTD_PAGE_MASK;
	uint64_t slot[4] = { 0 };
	uint32_t before = u->prs;
	void *p;

	if (!(u->ecap & VTD_ECAP_PRS) || !pr->has_pasid || !vtd_context_pre(u, pr->rid))
		return VTD_PRQ_REFUSED;
	/* An overflowed queue takes nothing until software clears PRO. */
	if (u->prs & PRS_PRO) {
		u->page_requests_dropped++;
		return VTD_PRQ_DROPPED;
	}
	if (head >= size || tail >= size || (tail + PRQ_SLOT) % size == head)
		return overflow(u);
	p = base + tail >= base ? vm_gpa(u->vm, base + tail, PRQ_SLOT) : NULL;
	if (!p)
		return overflow(u);
	slot[0] = PRD_TYPE | PRD_PASID_PRESENT | (uint64_t)pr->rid << 16 |
		  (uint64_t)(pr->pasid & ((1u << VTD_PASID_BITS) - 1)) << 32 |
		  (uint64_t)pr->exec << 52 | (uint64_t)pr->priv << 53;
	slot[1] = (uint64_t)pr->read | (uint64_t)pr->write << 1 | (uint64_t)pr->lpig << 2 |
		  (uint64_t)(pr->prgi & 0x1ff) << 3 | (pr->addr & VTD_PAGE_MASK);
	memcpy(p, slot, sizeof(slot));
	u->pqt = (tail + PRQ_SLOT) % size;
	u->prs |= PRS_PPR;
	u->page_requests++;
	page_request_event(u, before);
	return VTD_PRQ_QUEUED;
}

enum vtd_prq_result vtd_page_request(struct viommu *u, const struct vtd_page_req *pr)
{
	enum vtd_prq_result r;

	vtd_unit_lock(u);
	r = page_request_locked(u, pr);
	pthread_mutex_unlock(&u->lock);
	return r;
}

/*
 * A page group response from the guest's queue: to the device with that
 * RID behind this unit. One for a RID no device here has is dropped, as
 * hardware drops a response nobody waits for.
 */
void vtd_page_response(struct viommu *u, const struct vtd_desc_pgrp_resp *resp)
{
	for (size_t i = 0; i < u->ndevs; i++) {
		struct viommu_dev *d = u->devs[i];

		if (d->guest_sid != resp->rid || !d->page_response)
			continue;
		u->page_responses++;
		d->page_response(d->page_response_opaque, resp);
		return;
	}
	u->page_responses_unrouted++;
}

bool vtd_prq_reg_read(struct viommu *u, unsigned int off, uint32_t *val)
{
	if (!(u->ecap & VTD_ECAP_PRS))
		return false;
	switch (off) {
	case VTD_REG_PQH:	*val = (uint32_t)u->pqh; return true;
	case VTD_REG_PQH + 4:	*val = (uint32_t)(u->pqh >> 32); return true;
	case VTD_REG_PQT:	*val = (uint32_t)u->pqt; return true;
	case VTD_REG_PQT + 4:	*val = (uint32_t)(u->pqt >> 32); return true;
	case VTD_REG_PQA:	*val = (uint32_t)u->pqa; return true;
	case VTD_REG_PQA + 4:	*val = (uint32_t)(u->pqa >> 32); return true;
	case VTD_REG_PRS:	*val = u->prs; return true;
	case VTD_REG_PECTL:	*val = u->pectl; return true;
	case VTD_REG_PEDATA:	*val = u->pedata; return true;
	case VTD_REG_PEADDR:	*val = u->peaddr; return true;
	case VTD_REG_PEUADDR:	*val = u->peuaddr; return true;
	}
	return false;
}

static void set_half(uint64_t *reg, unsigned int off, uint32_t val, uint64_t mask)
{
	uint64_t v = (off & 4) ? (*reg & 0xffffffffULL) | (uint64_t)val << 32
			       : (*reg & ~0xffffffffULL) | val;

	*reg = v & mask;
}

bool vtd_prq_reg_write(struct viommu *u, unsigned int off, uint32_t val)
{
	if (!(u->ecap & VTD_ECAP_PRS))
		return false;
	switch (off) {
	case VTD_REG_PQH:
	case VTD_REG_PQH + 4:
		set_half(&u->pqh, off, val, PQ_OFFSET_MASK);
		return true;
	case VTD_REG_PQT:
	case VTD_REG_PQT + 4:
		/* Hardware's to advance; software resets it when it sets the queue up (Linux writes 0). */
		set_half(&u->pqt, off, val, PQ_OFFSET_MASK);
		return true;
	case VTD_REG_PQA:
	case VTD_REG_PQA + 4:
		set_half(&u->pqa, off, val, VTD_PAGE_MASK | 7);
		return true;
	case VTD_REG_PRS:
		u->prs &= ~(val & (PRS_PPR | PRS_PRO));
		/* Serviced: the event condition is gone (spec 10.4.35). */
		if (!(u->prs & (PRS_PPR | PRS_PRO)))
			u->pectl &= ~VTD_ECTL_IP;
		return true;
	case VTD_REG_PECTL:
		vtd_ectl_write(u, &u->pectl, val, u->peaddr, u->peuaddr, u->pedata);
		return true;
	case VTD_REG_PEDATA:	u->pedata = val; return true;
	case VTD_REG_PEADDR:	u->peaddr = val & ~3u; return true;
	case VTD_REG_PEUADDR:	u->peuaddr = val; return true;
	}
	return false;
}
