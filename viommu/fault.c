// SPDX-License-Identifier: MIT
/*
 * Fault reporting of one emulated VT-d unit (spec chapter 7): recording
 * translation faults in the FRCDs, the queue's IQE/ITE/ICE, a failed host
 * flush turned into the guest's ITE or ICE, and the fault event MSI. The
 * register side (unit.c), the queue (qi.c), the tables (tables.c) and DMA
 * (dma.c) all report here; this file calls none of them. Caller holds
 * u->lock throughout.
 */
#include "hostvtd/flush.h"
#include "viommu/viommu-priv.h"
#include "vtd/regs.h"

/* Conditions that make the fault event pending (spec 7.3.1). */
#define VTD_FSTS_EVENT_BITS	(VTD_FSTS_PFO | VTD_FSTS_PPF | VTD_FSTS_IQE | VTD_FSTS_ICE | \
				 VTD_FSTS_ITE)

void vtd_send_msi(struct viommu *u, uint32_t addr, uint32_t uaddr, uint32_t data)
{
	uint64_t address = (uint64_t)uaddr << 32 | addr;

	/* A failed delivery is the guest's problem (bad address), not ours. */
	if (u->signal_msi)
		u->signal_msi(u->vm, address, data);
}

void vtd_raise_event(struct viommu *u, uint32_t *ectl, uint32_t addr, uint32_t uaddr,
		     uint32_t data)
{
	if (*ectl & VTD_ECTL_IM) {
		*ectl |= VTD_ECTL_IP;
		return;
	}
	*ectl &= ~VTD_ECTL_IP;
	vtd_send_msi(u, addr, uaddr, data);
}

/* IM cleared with the interrupt pending: deliver it now (spec 10.4.10). */
void vtd_ectl_write(struct viommu *u, uint32_t *ectl, uint32_t val, uint32_t addr,
		    uint32_t uaddr, uint32_t data)
{
	*ectl = (*ectl & ~VTD_ECTL_IM) | (val & VTD_ECTL_IM);
	if (!(*ectl & VTD_ECTL_IM) && (*ectl & VTD_ECTL_IP)) {
		*ectl &= ~VTD_ECTL_IP;
		vtd_send_msi(u, addr, uaddr, data);
	}
}

/*
 * Raise the fault event unless one is already outstanding: the spec
 * (7.3.1) generates an interrupt only when the first status condition
 * becomes pending. Masked, it stays pending in FECTL.IP until unmasked.
 */
static void fault_event(struct viommu *u, uint32_t fsts_before)
{
	if (fsts_before & VTD_FSTS_EVENT_BITS)
		return;
	vtd_raise_event(u, &u->fectl, u->feaddr, u->feuaddr, u->fedata);
}

void vtd_fault_update_ppf(struct viommu *u)
{
	u->fsts &= ~VTD_FSTS_PPF;
	for (unsigned int i = 0; i < VTD_NFR; i++)
		if (u->frcd[i][1] & VTD_FRCD_HI_F)
			u->fsts |= VTD_FSTS_PPF;
	/* Serviced everything: the interrupt condition is gone (spec 10.4.10 IP). */
	if (!(u->fsts & VTD_FSTS_EVENT_BITS))
		u->fectl &= ~VTD_ECTL_IP;
}

void vtd_record_fault(struct viommu *u, const struct vtd_fault *f)
{
	uint32_t before = u->fsts;
	unsigned int idx = u->frcd_next;
	uint64_t hi;

	if (f->suppress)
		return;
	/* Spec 7.2.1: while PFO is set no new fault is recorded. */
	if (u->fsts & VTD_FSTS_PFO)
		return;
	if (u->frcd[idx][1] & VTD_FRCD_HI_F) {
		u->fsts |= VTD_FSTS_PFO;
		fault_event(u, before);
		return;
	}

	hi = VTD_FRCD_HI_F | f->sid | (uint64_t)f->reason << VTD_FRCD_HI_FR_SHIFT;
	if (!f->write)
		hi |= VTD_FRCD_HI_T;
	if (f->has_pasid)
		hi |= VTD_FRCD_HI_PP |
		      (uint64_t)(f->pasid & ((1u << VTD_PASID_BITS) - 1)) << VTD_FRCD_HI_PV_SHIFT;
	u->frcd[idx][0] = f->addr & VTD_PAGE_MASK;
	u->frcd[idx][1] = hi;
	u->frcd_next = (idx + 1) % VTD_NFR;

	/* FRI names the first pending record: set when PPF goes from 0 to 1. */
	if (!(u->fsts & VTD_FSTS_PPF)) {
		u->fsts &= ~(uint32_t)VTD_FSTS_FRI_MASK;
		u->fsts |= idx << VTD_FSTS_FRI_SHIFT;
	}
	u->fsts |= VTD_FSTS_PPF;
	fault_event(u, before);
}

void vtd_report_qi_error(struct viommu *u, uint32_t fsts_bit)
{
	uint32_t before = u->fsts;

	u->fsts |= fsts_bit;
	fault_event(u, before);
}

static uint16_t guest_sid_of(struct viommu *u, uint16_t host_sid)
{
	for (size_t i = 0; i < u->ndevs; i++)
		if (u->devs[i] && u->devs[i]->host.sid == host_sid)
			return u->devs[i]->guest_sid;
	return 0;
}

/* Turn a failed host flush into the guest's ITE or ICE. Returns true for ITE. */
bool vtd_report_host_error(struct viommu *u, const struct flush_result *res)
{
	uint64_t sid = guest_sid_of(u, res->err.sid);

	if (res->err.kind == HOST_ERR_ITE) {
		u->iqercd &= ~(0xffffULL << VTD_IQER_ITESID_SHIFT);
		u->iqercd |= sid << VTD_IQER_ITESID_SHIFT;
		vtd_report_qi_error(u, VTD_FSTS_ITE);
		return true;
	}
	u->iqercd &= ~(0xffffULL << VTD_IQER_ICESID_SHIFT);
	u->iqercd |= sid << VTD_IQER_ICESID_SHIFT;
	vtd_report_qi_error(u, VTD_FSTS_ICE);
	return false;
}
