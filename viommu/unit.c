// SPDX-License-Identifier: MIT
/*
 * The register file of one emulated VT-d unit (spec chapters 10 and 11):
 * capabilities, global command/status, register-based invalidation, fault
 * recording and the fault and invalidation event interrupts. qi.c runs the
 * invalidation queue; tables.c turns the guest's tables into attachments.
 *
 * Every access is the guest's: sizes other than 4 and 8, misaligned
 * offsets and unknown registers read as 0 and ignore writes. Nothing a
 * guest writes here can stop the VMM; the worst it gets is a fault status.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hostvtd/flush.h"
#include "viommu/guest-trace.h"
#include "viommu/viommu-priv.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "vtd/desc.h"
#include "vtd/regs.h"

#define VTD_VERSION		0x10	/* 1.0: major 7:4, minor 3:0 */
#define VTD_ND_14BIT		5	/* CAP.ND: 2^14 domain IDs (VTD_GUEST_DID_BITS: host DIDs stay unique) */
#define VTD_SAGAW_4LEVEL	(1ULL << 2)	/* 48-bit, 4-level second-stage tables */
#define VTD_MGAW		47	/* 48-bit guest address width, minus one */
#define VTD_MAMV		9
#define VTD_SLLPS_2M_1G		3	/* CAP.SLLPS: 2 MiB and 1 GiB second-stage pages (walk.c) */
/*
 * CAP.FS1GP: 1 GiB first-stage pages (walk.c). ECAP.SMPWC: scalable-mode
 * walks are coherent, which they are: every walk reads guest memory
 * afresh. Linux calls a unit SVM-capable only with both (FS1GP when the
 * CPU has 1 GiB pages), and skips its cache flushes of PASID entries.
 */


static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
/* GSTS status bits the unit can report (same positions as the GCMD commands). */
#define VTD_GSTS_TES		VTD_GCMD_TE
#define VTD_GSTS_RTPS		VTD_GCMD_SRTP
#define VTD_GSTS_QIES		VTD_GCMD_QIE

#define VTD_FSTS_W1C_BITS	(VTD_FSTS_PFO | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)

/* ---- invalidation through registers (QI disabled) ---------------------- */

/* Spec 10.4.7: CCMD. The context cache is the guest's tables, so resync. */
static void ccmd_write(struct viommu *u)
{
	unsigned int cirg = (unsigned int)VTD_FIELD(u->ccmd, 62, 61);
	uint16_t sid = (uint16_t)VTD_FIELD(u->ccmd, 31, 16);
	unsigned int fm = (unsigned int)VTD_FIELD(u->ccmd, 33, 32);

	if (!(u->ccmd & VTD_CCMD_ICC))
		return;
	u->ccmd &= ~(3ULL << VTD_CCMD_CAIG_SHIFT);
	/*
	 * Register-based invalidation is not allowed with QI on (spec 6.5.2);
	 * a reserved granularity gets CAIG 0: nothing was done.
	 */
	if ((u->gsts & VTD_GSTS_QIES) || cirg == 0) {
		u->ccmd &= ~VTD_CCMD_ICC;
		return;
	}
	/*
	 * A function mask covers several SIDs: resync them all, which is a
	 * superset. ICC stays set until the resync is done (work.c).
	 */
	vtd_work_resync(u, cirg != VTD_CC_DEVICE || fm != 0, sid, cirg);
}

/* Spec 10.4.8: IOTLB_REG + IVA, turned into the type 2 descriptor they mean. */
static void iotlb_reg_write(struct viommu *u)
{

	if (!(u->iotlb_reg & VTD_IOTLB_IVT))
		return;
	/* Behind a resync its flush must wait: IVT stays set meanwhile (work.c). */
	if (vtd_work_busy(u)) {
		u->iotlb_reg_pending = true;
		return;
	}
	vtd_iotlb_reg_run(u);
}

void vtd_iotlb_reg_run(struct viommu *u)
{
	unsigned int iirg = (unsigned int)VTD_FIELD(u->iotlb_reg, 61, 60);
	struct vtd_desc d = { .type = VTD_DESC_IOTLB };
	struct flush_result res;

	if (!(u->iotlb_reg & VTD_IOTLB_IVT))
		return;
	u->iotlb_reg &= ~(VTD_IOTLB_IVT | 3ULL << VTD_IOTLB_IAIG_SHIFT);
	if ((u->gsts & VTD_GSTS_QIES) || iirg == 0)
		return;		/* IAIG 0: request not performed */

	d.iotlb.gran = (enum vtd_iotlb_gran)iirg;
	d.iotlb.did = (uint16_t)VTD_FIELD(u->iotlb_reg, 47, 32);
	d.iotlb.dr = !!(u->iotlb_reg & VTD_IOTLB_DR);
	d.iotlb.dw = !!(u->iotlb_reg & VTD_IOTLB_DW);
	if (iirg == VTD_IOTLB_PAGE) {
		d.iotlb.addr = u->iva & VTD_PAGE_MASK;
		d.iotlb.am = (uint8_t)(u->iva & VTD_IVA_AM_MASK);
		d.iotlb.ih = !!(u->iva & VTD_IVA_IH);
		/*
		 * AM beyond CAP.MAMV is undefined (spec 10.4.8.1); hardware may
		 * invalidate more than asked and says so in IAIG: do the domain.
		 */
		if (d.iotlb.am > VTD_MAMV) {
			d.iotlb.gran = VTD_IOTLB_DOMAIN;
			d.iotlb.addr = 0;
			d.iotlb.am = 0;
			d.iotlb.ih = false;
		}
	}
	/*
	 * A host failure cannot be reported through these registers (no
	 * ITE/ICE for register-based invalidation); the engine counts it.
	 */
	flush_engine_batch(u->fe, (uint16_t)u->index, &d, 1, 0, &res);
	u->iotlb_reg |= (uint64_t)d.iotlb.gran << VTD_IOTLB_IAIG_SHIFT;
}

/* ---- global command ---------------------------------------------------- */

/*
 * Spec 10.4.4: software writes the persistent enables (TE, QIE, IRE, CFI)
 * as they should be plus at most one one-shot command (SRTP, WBF, ...).
 */
static void gcmd_write(struct viommu *u, uint32_t val)
{
	u->gcmd = val;

	/* Both take effect now; their resyncs follow (work.c). */
	if (val & VTD_GCMD_SRTP) {
		u->rtaddr_active = u->rtaddr;
		u->gsts |= VTD_GSTS_RTPS;
		vtd_work_resync(u, true, 0, 0);
	}

	if (!!(val & VTD_GCMD_TE) != !!(u->gsts & VTD_GSTS_TES)) {
		u->gsts ^= VTD_GSTS_TES;
		vtd_work_resync(u, true, 0, 0);
	}

	if ((val & VTD_GCMD_QIE) && !(u->gsts & VTD_GSTS_QIES)) {
		/* A tail written before enabling (Windows does) runs now (vtd_work_kick()). */
		u->gsts |= VTD_GSTS_QIES;
	} else if (!(val & VTD_GCMD_QIE) && (u->gsts & VTD_GSTS_QIES)) {
		/*
		 * Spec 10.4.4: software may disable QI only with the queue
		 * empty (IQH == IQT); otherwise the command is ignored.
		 * IQH is reset to 0 whenever QI is disabled (spec 11.4.9.1).
		 */
		if ((u->iqh & VTD_IQ_OFFSET_MASK) == (u->iqt & VTD_IQ_OFFSET_MASK)) {
			u->gsts &= ~VTD_GSTS_QIES;
			u->iqh = 0;
			/* A resync the queue left unfinished is no descriptor's now. */
			if (u->resync_owner == VTD_RESYNC_BY_QUEUE)
				u->resync_owner = VTD_RESYNC_BY_REGS;
			/* No wait is left to answer for a failed flush. */
			u->qi_failed = u->qi_failed_ice = false;
		}
	}

	/*
	 * WBF completes at once (no write buffer: CAP.RWBF is clear), so its
	 * status never shows. SIRTP, IRE and CFI belong to interrupt
	 * remapping, which ECAP.IR does not advertise: ignored, no status.
	 * SFL/EAFL: no advanced fault logging.
	 */
}

/* ---- register access --------------------------------------------------- */

/* The 64-bit registers; everything else implemented is 32-bit. */
static bool reg64_base(unsigned int off, unsigned int *base)
{
	static const unsigned int regs64[] = {
		VTD_REG_CAP, VTD_REG_ECAP, VTD_REG_RTADDR, VTD_REG_CCMD, VTD_REG_IQH,
		VTD_REG_IQT, VTD_REG_IQA, VTD_REG_IQER, VTD_IOTLB_OFFSET, VTD_IOTLB_OFFSET + 8,
	};

	if (off >= VTD_FRCD_OFFSET && off < VTD_FRCD_OFFSET + VTD_NFR * 16) {
		*base = off & ~7u;
		return true;
	}
	for (size_t i = 0; i < sizeof(regs64) / sizeof(regs64[0]); i++) {
		if (off >= regs64[i] && off < regs64[i] + 8) {
			*base = regs64[i];
			return true;
		}
	}
	return false;
}

static uint64_t reg64_read(struct viommu *u, unsigned int base)
{
	if (base >= VTD_FRCD_OFFSET && base < VTD_FRCD_OFFSET + VTD_NFR * 16)
		return u->frcd[(base - VTD_FRCD_OFFSET) / 16][(base / 8) & 1];

	switch (base) {
	case VTD_REG_CAP:		return u->cap;
	case VTD_REG_ECAP:		return u->ecap;
	case VTD_REG_RTADDR:		return u->rtaddr;
	case VTD_REG_CCMD:		return u->ccmd;
	case VTD_REG_IQH:		return u->iqh;
	case VTD_REG_IQT:		return u->iqt;
	case VTD_REG_IQA:		return u->iqa;
	case VTD_REG_IQER:		return u->iqercd;
	case VTD_IOTLB_OFFSET:		return 0;	/* IVA is write-only */
	case VTD_IOTLB_OFFSET + 8:	return u->iotlb_reg;
	}
	return 0;
}

/* Write the bytes of @mask in @val to the 64-bit register at @base. */
static void reg64_write(struct viommu *u, unsigned int base, uint64_t val, uint64_t mask)
{
	const uint64_t hi32 = 0xffffffff00000000ULL;

	if (base >= VTD_FRCD_OFFSET && base < VTD_FRCD_OFFSET + VTD_NFR * 16) {
		unsigned int i = (base - VTD_FRCD_OFFSET) / 16;

		/* Only F (bit 127) is writable, and only to clear it. */
		if ((base & 8) && (val & mask & VTD_FRCD_HI_F)) {
			u->frcd[i][1] &= ~VTD_FRCD_HI_F;
			vtd_fault_update_ppf(u);
		}
		return;
	}

	switch (base) {
	case VTD_REG_RTADDR: {
		uint64_t v = (u->rtaddr & ~mask) | (val & mask);

		/* TTM 2 (abort DMA, no ECAP.ADMS) and 3 are reserved: ignore the write. */
		if (VTD_FIELD(v, 11, 10) > 1)
			return;
		u->rtaddr = v & (VTD_RTADDR_ADDR_MASK | VTD_RTADDR_TTM_MASK);
		return;
	}
	case VTD_REG_CCMD:
		u->ccmd = (u->ccmd & ~mask) | (val & mask);
		/* ICC lives in the upper half, which software writes last. */
		if (mask & hi32)
			ccmd_write(u);
		return;
	case VTD_REG_IQT:
		if (!(mask & 0xffffffffULL))
			return;
		if (u->gsts & VTD_GCMD_QIE)
			guest_trace_submission(u->guest_trace, u->vm, u->index, u->iqa,
					       u->iqt & VTD_IQ_OFFSET_MASK, val & VTD_IQ_OFFSET_MASK);
		u->iqt = val & VTD_IQ_OFFSET_MASK;
		return;		/* processed by vtd_work_kick(), vtd_mmio() */
	case VTD_REG_IQA: {
		uint64_t v = (u->iqa & ~mask) | (val & mask);
		uint64_t keep = VTD_IQA_ADDR_MASK | 7;

		/*
		 * Moving or resizing a live queue would leave IQH outside it;
		 * the spec forbids it, so writes while QI is on are ignored.
		 */
		if (u->gsts & VTD_GSTS_QIES)
			return;
		if (u->ecap & VTD_ECAP_SMTS)
			keep |= VTD_IQA_DW;
		u->iqa = v & keep;
		return;
	}
	case VTD_IOTLB_OFFSET:
		u->iva = (u->iva & ~mask) | (val & mask);
		u->iva &= VTD_PAGE_MASK | VTD_IVA_IH | VTD_IVA_AM_MASK;
		return;
	case VTD_IOTLB_OFFSET + 8:
		u->iotlb_reg = (u->iotlb_reg & ~mask) | (val & mask);
		if (mask & hi32)
			iotlb_reg_write(u);
		return;
	}
	/* CAP, ECAP, IQH, IQERCD: read-only. */
}

static bool reg32_read(struct viommu *u, unsigned int off, uint32_t *val)
{
	switch (off) {
	case VTD_REG_VER:	*val = VTD_VERSION; return true;
	case VTD_REG_GCMD:	*val = 0; return true;	/* write-only */
	case VTD_REG_GSTS:	*val = u->gsts; return true;
	case VTD_REG_FSTS:	*val = u->fsts; return true;
	case VTD_REG_FECTL:	*val = u->fectl; return true;
	case VTD_REG_FEDATA:	*val = u->fedata; return true;
	case VTD_REG_FEADDR:	*val = u->feaddr; return true;
	case VTD_REG_FEUADDR:	*val = u->feuaddr; return true;
	case VTD_REG_ICS:	*val = u->ics; return true;
	case VTD_REG_IECTL:	*val = u->iectl; return true;
	case VTD_REG_IEDATA:	*val = u->iedata; return true;
	case VTD_REG_IEADDR:	*val = u->ieaddr; return true;
	case VTD_REG_IEUADDR:	*val = u->ieuaddr; return true;
	}
	if (vtd_prq_reg_read(u, off, val))
		return true;
	*val = 0;
	return false;
}

static bool reg32_write(struct viommu *u, unsigned int off, uint32_t val)
{
	switch (off) {
	case VTD_REG_GCMD:
		gcmd_write(u, val);
		return true;
	case VTD_REG_FSTS: {
		u->fsts &= ~(val & VTD_FSTS_W1C_BITS);
		vtd_fault_update_ppf(u);
		/* Spec 6.5.2.10: fetching resumes from IQH once the error is cleared (vtd_work_kick()). */
		return true;
	}
	case VTD_REG_FECTL:
		vtd_ectl_write(u, &u->fectl, val, u->feaddr, u->feuaddr, u->fedata);
		return true;
	case VTD_REG_FEDATA:	u->fedata = val; return true;
	case VTD_REG_FEADDR:	u->feaddr = val & ~3u; return true;
	case VTD_REG_FEUADDR:	u->feuaddr = val; return true;
	case VTD_REG_ICS:
		if (val & VTD_ICS_IWC) {
			u->ics &= ~VTD_ICS_IWC;
			u->iectl &= ~VTD_ECTL_IP;
		}
		return true;
	case VTD_REG_IECTL:
		vtd_ectl_write(u, &u->iectl, val, u->ieaddr, u->ieuaddr, u->iedata);
		return true;
	case VTD_REG_IEDATA:	u->iedata = val; return true;
	case VTD_REG_IEADDR:	u->ieaddr = val & ~3u; return true;
	case VTD_REG_IEUADDR:	u->ieuaddr = val; return true;
	case VTD_REG_VER:
	case VTD_REG_GSTS:
		return true;	/* read-only */
	}
	return vtd_prq_reg_write(u, off, val);
}

static void vtd_mmio(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		     bool is_write)
{
	struct viommu *u = opaque;
	unsigned int off = (unsigned int)offset;
	unsigned int base;
	uint64_t val = 0;
	bool known = true;

	if ((len != 4 && len != 8) || (offset & (len - 1)) || offset >= VTD_REG_SIZE) {
		if (!is_write)
			memset(data, 0, len);
		pthread_mutex_lock(&u->lock);
		u->ignored_accesses++;
		pthread_mutex_unlock(&u->lock);
		return;
	}
	if (is_write)
		memcpy(&val, data, len);	/* little-endian host, as KVM's x86 */

	vtd_unit_lock(u);
	if (reg64_base(off, &base)) {
		unsigned int shift = (off - base) * 8;

		if (is_write)
			reg64_write(u, base, val << shift,
				    (len == 8 ? ~0ULL : 0xffffffffULL) << shift);
		else
			val = reg64_read(u, base) >> shift;
	} else if (is_write) {
		known = reg32_write(u, off, (uint32_t)val);
		if (len == 8)
			known = reg32_write(u, off + 4, (uint32_t)(val >> 32)) && known;
	} else {
		uint32_t lo, hi = 0;

		known = reg32_read(u, off, &lo);
		if (len == 8)
			known = reg32_read(u, off + 4, &hi) && known;
		val = (uint64_t)hi << 32 | lo;
	}
	if (!known)
		u->ignored_accesses++;
	if (is_write) {
		/* What tagvmm adds to the guest's tail write: measured, not guessed. */
		bool tail = reg64_base(off, &base) && base == VTD_REG_IQT &&
			    !(u->fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE));
		uint64_t t0 = tail ? now_ns() : 0;

		vtd_work_kick(u);
		if (tail) {
			u->tail_writes++;
			u->tail_ns += now_ns() - t0;
		}
	} else {
		/*
		 * A guest polling the unit (FSTS, GSTS, CCMD) while work is
		 * pending drives that work itself, one budget per exit, instead
		 * of depending on the worker thread being scheduled: on a real
		 * KVM a spinning vCPU can starve its host's other threads (seen
		 * in the nested testbed, where the vIOMMU test guests stalled).
		 */
		vtd_work_kick(u);
	}
	pthread_mutex_unlock(&u->lock);

	if (!is_write)
		memcpy(data, &val, len);
}

int viommu_unit_init(struct viommu *u, struct vm *vm, unsigned int index, bool caching_mode,
		     char *err, size_t errlen)
{
	memset(u, 0, sizeof(*u));
	u->vm = vm;
	u->index = index;
	u->base = MACHINE_VTD_BASE + (uint64_t)index * VTD_REG_SIZE;
	u->signal_msi = vm_signal_msi;

	u->cap = VTD_ND_14BIT | VTD_SAGAW_4LEVEL << VTD_CAP_SAGAW_SHIFT |
		 (uint64_t)VTD_MGAW << VTD_CAP_MGAW_SHIFT |
		 (uint64_t)(VTD_FRCD_OFFSET / 16) << VTD_CAP_FRO_SHIFT | VTD_CAP_PSI |
		 (uint64_t)(VTD_NFR - 1) << VTD_CAP_NFR_SHIFT |
		 (uint64_t)VTD_MAMV << VTD_CAP_MAMV_SHIFT |
		 (uint64_t)VTD_SLLPS_2M_1G << VTD_CAP_SLLPS_SHIFT | VTD_CAP_FS1GP;
	if (caching_mode)
		u->cap |= VTD_CAP_CM;
	/* No IR (not implemented). PRS and PDS: page requests (prq.c). */
	u->ecap = VTD_ECAP_QI | VTD_ECAP_DT | VTD_ECAP_PT | VTD_ECAP_NEST | VTD_ECAP_PASID |
		  VTD_ECAP_PRS | VTD_ECAP_PDS |
		  VTD_ECAP_SRS |
		  (uint64_t)(VTD_PASID_BITS - 1) << VTD_ECAP_PSS_SHIFT | VTD_ECAP_SMTS |
		  VTD_ECAP_FLTS | VTD_ECAP_SLTS | VTD_ECAP_SMPWCS |
		  (uint64_t)(VTD_IOTLB_OFFSET / 16) << VTD_ECAP_IRO_SHIFT;
	/* Interrupts start masked (spec 11.4.4.2, 11.4.9.6: IM resets to 1). */
	u->fectl = VTD_ECTL_IM;
	u->iectl = VTD_ECTL_IM;
	u->pectl = VTD_ECTL_IM;

	if (pthread_mutex_init(&u->lock, NULL)) {
		snprintf(err, errlen, "dmar%u: mutex init failed", index);
		return -1;
	}
	if (bus_register(&vm->mmio, u->base, VTD_REG_SIZE, vtd_mmio, u, "vtd")) {
		snprintf(err, errlen, "dmar%u: cannot register MMIO at %#llx: %s", index,
			 (unsigned long long)u->base, strerror(errno));
		pthread_mutex_destroy(&u->lock);
		return -1;
	}
	return 0;
}

void viommu_unit_exit(struct viommu *u)
{
	if (!u->vm)
		return;
	bus_unregister(&u->vm->mmio, u->base, u);
	vtd_work_stop(u);
	vtd_resync_free(u);
	vtd_qi_exit(u);
	pthread_mutex_destroy(&u->lock);
	u->vm = NULL;
}
