// SPDX-License-Identifier: MIT
/*
 * The simulated host VT-d. Each unit has a real invalidation queue in
 * simulated host memory and executes it synchronously when IQT is written,
 * with the error behaviour of spec 6.5.2.10: an IQE leaves IQH on the bad
 * descriptor, an ITE moves IQH past the timed-out one and aborts the waits
 * behind it, and in both cases the queue stalls until software clears the
 * FSTS bit.
 *
 * Locking: unit->lock guards the unit's registers, ring, counters and IQE
 * injection; unit->tlb_lock its IOTLB model; sim->atc_lock the ATC models
 * and ITE injection; sim->mem_lock the bump allocator. Order: unit->lock
 * before tlb_lock/atc_lock. Ring memory itself is owned by whoever holds
 * unit->lock (tests poking it directly must not race the back end).
 *
 * Past 800 lines on purpose: registers, ring execution, fault injection
 * and the back end's chunking are one state machine under unit->lock
 * (the cache models are already apart, in simvtd-cache.c); split, every
 * piece would need the others' locking rules.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/plan.h"
#include "hostvtd/simvtd-cache.h"
#include "hostvtd/simvtd.h"
#include "vtd/desc.h"
#include "vtd/regs.h"

#define SIM_MEM_BASE		0x100000ULL	/* hpa 0 is never valid */
#define SIM_MEM_DEFAULT		(4u << 20)
#define SIM_MEM_MAX		(1ULL << 30)
#define SIM_VER			0x60		/* spec 6.0 */
#define SIM_MAMV		9
#define SIM_FRO			0x40		/* fault records at 0x400 */
#define SIM_IRO			0x50		/* IOTLB registers at 0x500 */
#define SIM_STATUS_INUSE	1
#define SIM_STATUS_DONE		2		/* Linux's QI_DONE */

struct sim_unit {
	struct host_unit hu;
	struct simvtd *sim;
	pthread_mutex_t lock;
	uint64_t queue_hpa, status_hpa;
	uint32_t gsts, fsts, ics;
	uint64_t iqa, iqh, iqt, iqer;
	unsigned int inject_iqe;
	struct simvtd_counters cnt;

	pthread_mutex_t tlb_lock;
	struct sim_cache iotlb;
};

struct simvtd {
	unsigned int nunits;
	struct sim_unit units[SIMVTD_MAX_UNITS];

	pthread_mutex_t mem_lock;
	uint8_t *mem;
	size_t mem_size, mem_used;

	pthread_mutex_t atc_lock;
	struct sim_cache atc;
	uint32_t *ite_pending;		/* indexed by SID */
};

/* Page range [*first, *last] of a 2^order-page region containing @addr. */
static void page_range(uint64_t addr, unsigned int order, uint64_t *first, uint64_t *last)
{
	uint64_t page = addr >> VTD_PAGE_SHIFT;

	if (order >= VTD_MAX_AM) {
		*first = 0;
		*last = UINT64_MAX >> VTD_PAGE_SHIFT;
		return;
	}
	*first = page & ~((1ULL << order) - 1);
	*last = *first + (1ULL << order) - 1;
}

/* ---- Configuration and memory --------------------------------------------- */

uint64_t simvtd_default_cap(void)
{
	return 6 |					/* ND: 16-bit DIDs */
	       (0x4ULL << VTD_CAP_SAGAW_SHIFT) |	/* 4-level tables */
	       (47ULL << VTD_CAP_MGAW_SHIFT) |		/* 48-bit addresses */
	       ((uint64_t)SIM_FRO << VTD_CAP_FRO_SHIFT) |
	       (0x3ULL << 34) |				/* SLLPS: 2M, 1G */
	       VTD_CAP_PSI |
	       (7ULL << VTD_CAP_NFR_SHIFT) |
	       ((uint64_t)SIM_MAMV << VTD_CAP_MAMV_SHIFT) |
	       VTD_CAP_FS1GP;
}

uint64_t simvtd_default_ecap(void)
{
	return VTD_ECAP_QI | VTD_ECAP_DT | VTD_ECAP_PT |
	       ((uint64_t)SIM_IRO << VTD_ECAP_IRO_SHIFT) |
	       VTD_ECAP_NEST | (19ULL << VTD_ECAP_PSS_SHIFT) | VTD_ECAP_PASID |
	       VTD_ECAP_SMTS | VTD_ECAP_SLTS | VTD_ECAP_FLTS;
}

void *simvtd_mem(struct simvtd *sim, uint64_t hpa, size_t len)
{
	uint64_t off;

	if (hpa < SIM_MEM_BASE)
		return NULL;
	off = hpa - SIM_MEM_BASE;
	if (off > sim->mem_size || len > sim->mem_size - off)
		return NULL;
	return sim->mem + off;
}

uint64_t simvtd_mem_alloc(struct simvtd *sim, size_t len, size_t align)
{
	uint64_t hpa = 0;
	size_t start;

	if (!align)
		align = 1;
	if (align & (align - 1))
		return 0;
	pthread_mutex_lock(&sim->mem_lock);
	start = (sim->mem_used + align - 1) & ~(align - 1);
	if (start >= sim->mem_used && start <= sim->mem_size && len <= sim->mem_size - start &&
	    len) {
		sim->mem_used = start + len;
		hpa = SIM_MEM_BASE + start;
	}
	pthread_mutex_unlock(&sim->mem_lock);
	return hpa;
}

static size_t queue_bytes(const struct sim_unit *u)
{
	return VTD_PAGE_SIZE << VTD_IQA_QS(u->iqa);
}

static size_t desc_bytes(const struct sim_unit *u)
{
	return u->iqa & VTD_IQA_DW ? 32 : 16;
}

static uint64_t queue_base(const struct sim_unit *u)
{
	return u->iqa & VTD_IQA_ADDR_MASK;
}

static void unit_init(struct simvtd *sim, struct sim_unit *u, unsigned int i,
		      const struct simvtd_config *cfg)
{
	u->sim = sim;
	u->hu.index = i;
	snprintf(u->hu.name, sizeof(u->hu.name), "dmar%u", i);
	u->hu.cap = cfg->cap ? cfg->cap : simvtd_default_cap();
	u->hu.ecap = cfg->ecap ? cfg->ecap : simvtd_default_ecap();
	u->hu.backend = &simvtd_backend;
	u->hu.backend_data = u;
	u->iotlb.capacity = cfg->cache_capacity;
	pthread_mutex_init(&u->lock, NULL);
	pthread_mutex_init(&u->tlb_lock, NULL);
	u->queue_hpa = simvtd_mem_alloc(sim, VTD_PAGE_SIZE << cfg->queue_order, VTD_PAGE_SIZE);
	u->status_hpa = simvtd_mem_alloc(sim, 64, 64);
	/* Enabled the way Linux's dmar_enable_qi() leaves it. */
	u->iqa = u->queue_hpa | cfg->queue_order;
	if (u->hu.ecap & VTD_ECAP_SMTS)
		u->iqa |= VTD_IQA_DW;
	if (u->hu.ecap & VTD_ECAP_QI)
		u->gsts = VTD_GCMD_QIE;
}

struct simvtd *simvtd_new(const struct simvtd_config *cfg)
{
	struct simvtd *sim;
	size_t need, mem;
	unsigned int i;

	if (!cfg || !cfg->units || cfg->units > SIMVTD_MAX_UNITS || cfg->queue_order > 7 ||
	    (cfg->cache_capacity && (cfg->cache_capacity < 256 || cfg->cache_capacity > UINT32_MAX ||
				     (cfg->cache_capacity & (cfg->cache_capacity - 1)))))
		goto inval;
	need = cfg->units * ((VTD_PAGE_SIZE << cfg->queue_order) + VTD_PAGE_SIZE);
	mem = cfg->mem_size ? cfg->mem_size : need + SIM_MEM_DEFAULT;
	if (mem < need || mem > SIM_MEM_MAX)
		goto inval;

	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return NULL;
	sim->mem = calloc(1, mem);
	sim->ite_pending = calloc(UINT16_MAX + 1, sizeof(*sim->ite_pending));
	if (!sim->mem || !sim->ite_pending) {
		free(sim->mem);
		free(sim->ite_pending);
		free(sim);
		errno = ENOMEM;
		return NULL;
	}
	sim->mem_size = mem;
	sim->nunits = cfg->units;
	sim->atc.capacity = cfg->cache_capacity;
	pthread_mutex_init(&sim->mem_lock, NULL);
	pthread_mutex_init(&sim->atc_lock, NULL);
	for (i = 0; i < cfg->units; i++)
		unit_init(sim, &sim->units[i], i, cfg);
	return sim;
inval:
	errno = EINVAL;
	return NULL;
}

void simvtd_free(struct simvtd *sim)
{
	unsigned int i;

	if (!sim)
		return;
	for (i = 0; i < sim->nunits; i++) {
		pthread_mutex_destroy(&sim->units[i].lock);
		pthread_mutex_destroy(&sim->units[i].tlb_lock);
		sim_cache_free(&sim->units[i].iotlb);
	}
	pthread_mutex_destroy(&sim->mem_lock);
	pthread_mutex_destroy(&sim->atc_lock);
	sim_cache_free(&sim->atc);
	free(sim->ite_pending);
	free(sim->mem);
	free(sim);
}

unsigned int simvtd_units(const struct simvtd *sim)
{
	return sim->nunits;
}

struct host_unit *simvtd_unit(struct simvtd *sim, unsigned int i)
{
	return i < sim->nunits ? &sim->units[i].hu : NULL;
}

static struct sim_unit *sim_unit(struct simvtd *sim, unsigned int i)
{
	return i < sim->nunits ? &sim->units[i] : NULL;
}

/* ---- Descriptor execution ------------------------------------------------- */

enum exec_result { EXEC_OK, EXEC_IQE, EXEC_ITE };

static enum exec_result raise_iqe(struct sim_unit *u, enum vtd_iqei iqei)
{
	u->fsts |= VTD_FSTS_IQE;
	u->iqer = (u->iqer & ~0xfULL) | iqei;
	u->cnt.iqe++;
	return EXEC_IQE;
}

static void flush_iotlb(struct sim_unit *u, uint32_t did, bool any_pasid, uint32_t pasid,
			uint64_t addr, unsigned int am, bool first_stage_only)
{
	uint64_t first, last;

	page_range(addr, am, &first, &last);
	pthread_mutex_lock(&u->tlb_lock);
	u->cnt.iotlb_evicted += sim_cache_erase(&u->iotlb, did, any_pasid, pasid, first, last,
						first_stage_only);
	pthread_mutex_unlock(&u->tlb_lock);
}

static enum exec_result exec_iotlb(struct sim_unit *u, const struct vtd_desc_iotlb *d)
{
	if (d->gran == VTD_IOTLB_GLOBAL) {
		pthread_mutex_lock(&u->tlb_lock);
		u->cnt.iotlb_evicted += sim_cache_clear(&u->iotlb);
		pthread_mutex_unlock(&u->tlb_lock);
	} else if (d->gran == VTD_IOTLB_DOMAIN) {
		flush_iotlb(u, d->did, true, 0, 0, VTD_MAX_AM, false);
	} else {
		if (!(u->hu.cap & VTD_CAP_PSI) || d->am > VTD_CAP_MAMV(u->hu.cap))
			return raise_iqe(u, VTD_IQEI_RSVD);
		flush_iotlb(u, d->did, true, 0, d->addr, d->am, false);
	}
	return EXEC_OK;
}

static enum exec_result exec_piotlb(struct sim_unit *u, const struct vtd_desc_piotlb *d)
{
	if (d->gran == VTD_PIOTLB_PASID)
		flush_iotlb(u, d->did, false, d->pasid, 0, VTD_MAX_AM, true);
	else
		flush_iotlb(u, d->did, false, d->pasid, d->addr, d->am, true);
	return EXEC_OK;
}

/*
 * Device-TLB flush of @sid. An injected timeout consumes the descriptor
 * without touching the ATC: the device never answered.
 */
static enum exec_result exec_atc(struct sim_unit *u, uint16_t sid, bool any_pasid, uint32_t pasid,
				 uint64_t addr, bool size)
{
	struct simvtd *sim = u->sim;
	uint64_t base, first, last;
	unsigned int order;
	bool timeout = false;

	vtd_devtlb_range(addr, size, &base, &order);
	page_range(base, order, &first, &last);
	pthread_mutex_lock(&sim->atc_lock);
	if (sim->ite_pending[sid]) {
		sim->ite_pending[sid]--;
		timeout = true;
	} else {
		u->cnt.atc_evicted += sim_cache_erase(&sim->atc, sid, any_pasid, pasid, first,
						      last, false);
	}
	pthread_mutex_unlock(&sim->atc_lock);
	if (!timeout)
		return EXEC_OK;
	u->fsts |= VTD_FSTS_ITE;
	u->iqer = (u->iqer & ~(0xffffULL << VTD_IQER_ITESID_SHIFT)) |
		  (uint64_t)sid << VTD_IQER_ITESID_SHIFT;
	u->cnt.ite++;
	return EXEC_ITE;
}

static enum exec_result exec_wait(struct sim_unit *u, const struct vtd_desc_wait *d)
{
	if (d->sw) {
		void *p = (d->status_addr & 3) ? NULL : simvtd_mem(u->sim, d->status_addr, 4);

		if (!p)
			return raise_iqe(u, VTD_IQEI_NONE);	/* the spec has no code for it */
		memcpy(p, &d->status_data, sizeof(d->status_data));
	}
	if (d->intr)
		u->ics |= VTD_ICS_IWC;
	u->cnt.waits++;
	return EXEC_OK;
}

/* Does the unit implement this descriptor type? */
static bool type_supported(const struct sim_unit *u, enum vtd_desc_type type)
{
	bool pasid = (u->hu.ecap & VTD_ECAP_PASID) && (u->hu.ecap & VTD_ECAP_SMTS);

	switch (type) {
	case VTD_DESC_DEVTLB:
		return u->hu.ecap & VTD_ECAP_DT;
	case VTD_DESC_PDEVTLB:
		return (u->hu.ecap & VTD_ECAP_DT) && pasid;
	case VTD_DESC_PIOTLB:
	case VTD_DESC_PC:
		return pasid;
	default:
		return true;
	}
}

static enum exec_result exec_one(struct sim_unit *u, const struct vtd_raw_desc *raw)
{
	enum exec_result r = EXEC_OK;
	enum vtd_desc_error derr;
	struct vtd_desc d;

	if (u->inject_iqe) {
		u->inject_iqe--;
		return raise_iqe(u, VTD_IQEI_RSVD);
	}
	derr = vtd_desc_decode(raw, u->iqa & VTD_IQA_DW, &d);
	if (derr != VTD_DESC_OK)
		return raise_iqe(u, derr == VTD_DESC_ERR_TYPE ? VTD_IQEI_TYPE : VTD_IQEI_RSVD);
	if (!type_supported(u, d.type))
		return raise_iqe(u, VTD_IQEI_TYPE);

	switch (d.type) {
	case VTD_DESC_IOTLB:
		r = exec_iotlb(u, &d.iotlb);
		break;
	case VTD_DESC_PIOTLB:
		r = exec_piotlb(u, &d.piotlb);
		break;
	case VTD_DESC_DEVTLB:
		r = exec_atc(u, d.devtlb.sid, false, 0, d.devtlb.addr, d.devtlb.size);
		break;
	case VTD_DESC_PDEVTLB:
		r = exec_atc(u, d.pdevtlb.sid, d.pdevtlb.global, d.pdevtlb.pasid,
			     d.pdevtlb.addr, d.pdevtlb.size);
		break;
	case VTD_DESC_WAIT:
		r = exec_wait(u, &d.wait);
		break;
	default:
		break;		/* CC, IEC, PC, page responses: nothing cached here */
	}
	if (r != EXEC_IQE)
		u->cnt.desc[d.type & (SIMVTD_DESC_SLOTS - 1)]++;
	return r;
}

static bool queue_stalled(const struct sim_unit *u)
{
	return !(u->gsts & VTD_GCMD_QIE) || (u->fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE));
}

/* Execute from IQH to IQT; stops at the first error. Returns descriptors run. */
static size_t unit_run(struct sim_unit *u)
{
	size_t qbytes = queue_bytes(u), dsz = desc_bytes(u), budget = qbytes / dsz, ran = 0;

	while (u->iqh != u->iqt && budget-- && !queue_stalled(u)) {
		const void *slot = simvtd_mem(u->sim, queue_base(u) + u->iqh, dsz);
		struct vtd_raw_desc raw = { { 0 } };
		enum exec_result r;

		if (!slot) {
			raise_iqe(u, VTD_IQEI_FETCH);
			break;
		}
		memcpy(raw.qw, slot, dsz);
		r = exec_one(u, &raw);
		if (r == EXEC_IQE)
			break;
		u->iqh = (u->iqh + dsz) % qbytes;
		ran++;
	}
	return ran;
}

/* ---- Registers ------------------------------------------------------------ */

static void write_iqa(struct sim_unit *u, uint64_t val)
{
	size_t qbytes = VTD_PAGE_SIZE << VTD_IQA_QS(val);
	bool bad = val & 0x7f8;		/* bits 10:3 are reserved */

	if (u->gsts & VTD_GCMD_QIE)
		return;			/* spec: IQA may only change with QI off */
	if ((val & VTD_IQA_DW) && !(u->hu.ecap & VTD_ECAP_SMTS))
		bad = true;
	if (!simvtd_mem(u->sim, val & VTD_IQA_ADDR_MASK, qbytes))
		bad = true;
	if (bad) {
		raise_iqe(u, VTD_IQEI_NONE);	/* no IQEI describes a bad IQA */
		return;
	}
	u->iqa = val;
}

static void write_iqt(struct sim_unit *u, uint64_t val)
{
	if (!(u->gsts & VTD_GCMD_QIE)) {
		u->iqt = val & VTD_IQ_OFFSET_MASK;
		return;
	}
	if (u->fsts & VTD_FSTS_IQE)
		return;
	if ((val & ~VTD_IQ_OFFSET_MASK) || val >= queue_bytes(u)) {
		raise_iqe(u, VTD_IQEI_TAIL);
		return;
	}
	if (val & (desc_bytes(u) - 1)) {
		raise_iqe(u, VTD_IQEI_TAIL_ALIGN);
		return;
	}
	u->iqt = val;
	if (unit_run(u))
		u->cnt.tail_writes++;
}

static void write_gcmd(struct sim_unit *u, uint32_t val)
{
	uint32_t sticky = VTD_GCMD_QIE | VTD_GCMD_TE | VTD_GCMD_IRE;

	if ((val & VTD_GCMD_QIE) && !(u->hu.ecap & VTD_ECAP_QI))
		val &= ~VTD_GCMD_QIE;
	/* Enabling QI resets the head; the driver zeroes the tail first. */
	if ((val & VTD_GCMD_QIE) && !(u->gsts & VTD_GCMD_QIE))
		u->iqh = 0;
	u->gsts = (u->gsts & ~sticky) | (val & sticky);
}

/* FSTS is write-1-to-clear; clearing the last error resumes the queue. */
static void write_fsts(struct sim_unit *u, uint32_t val)
{
	uint32_t clear = val & (VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE);

	u->fsts &= ~clear;
	if (clear & VTD_FSTS_IQE)
		u->iqer &= ~0xfULL;
	if (clear & VTD_FSTS_ITE)
		u->iqer &= ~(0xffffULL << VTD_IQER_ITESID_SHIFT);
	if (clear & (VTD_FSTS_IQE | VTD_FSTS_ITE))
		unit_run(u);
}

static void reg_write_locked(struct sim_unit *u, unsigned int off, uint64_t val)
{
	switch (off) {
	case VTD_REG_GCMD:
		write_gcmd(u, (uint32_t)val);
		break;
	case VTD_REG_FSTS:
		write_fsts(u, (uint32_t)val);
		break;
	case VTD_REG_IQA:
		write_iqa(u, val);
		break;
	case VTD_REG_IQT:
		write_iqt(u, val);
		break;
	case VTD_REG_ICS:
		u->ics &= ~(val & VTD_ICS_IWC);
		break;
	default:
		break;		/* read-only or not modelled */
	}
}

static uint64_t reg_read_locked(struct sim_unit *u, unsigned int off)
{
	switch (off) {
	case VTD_REG_VER:	return SIM_VER;
	case VTD_REG_CAP:	return u->hu.cap;
	case VTD_REG_ECAP:	return u->hu.ecap;
	case VTD_REG_GSTS:	return u->gsts;
	case VTD_REG_FSTS:	return u->fsts;
	case VTD_REG_IQH:	return u->iqh;
	case VTD_REG_IQT:	return u->iqt;
	case VTD_REG_IQA:	return u->iqa;
	case VTD_REG_ICS:	return u->ics;
	case VTD_REG_IQER:	return u->iqer;
	default:		return 0;
	}
}

uint64_t simvtd_reg_read(struct simvtd *sim, unsigned int unit, unsigned int off)
{
	struct sim_unit *u = sim_unit(sim, unit);
	uint64_t val;

	if (!u)
		return ~0ULL;
	pthread_mutex_lock(&u->lock);
	val = reg_read_locked(u, off);
	pthread_mutex_unlock(&u->lock);
	return val;
}

void simvtd_reg_write(struct simvtd *sim, unsigned int unit, unsigned int off, uint64_t val)
{
	struct sim_unit *u = sim_unit(sim, unit);

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	reg_write_locked(u, off, val);
	pthread_mutex_unlock(&u->lock);
}

/* ---- Cache models and counters ------------------------------------------- */

int simvtd_iotlb_insert_target(struct simvtd *sim, unsigned int unit, uint16_t did,
			       uint32_t pasid, bool first_stage, uint64_t iova, uint64_t target)
{
	struct sim_unit *u = sim_unit(sim, unit);
	int ret;

	if (!u) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&u->tlb_lock);
	ret = sim_cache_insert(&u->iotlb, did, pasid, iova >> VTD_PAGE_SHIFT, first_stage, target);
	pthread_mutex_unlock(&u->tlb_lock);
	if (ret)
		errno = ENOMEM;
	return ret;
}

bool simvtd_iotlb_lookup(struct simvtd *sim, unsigned int unit, uint16_t did, uint32_t pasid,
			 uint64_t iova, uint64_t *target)
{
	struct sim_unit *u = sim_unit(sim, unit);
	bool hit;

	if (!u)
		return false;
	pthread_mutex_lock(&u->tlb_lock);
	hit = sim_cache_lookup(&u->iotlb, did, pasid, iova >> VTD_PAGE_SHIFT, target);
	pthread_mutex_unlock(&u->tlb_lock);
	return hit;
}

size_t simvtd_iotlb_entries(struct simvtd *sim, unsigned int unit)
{
	struct sim_unit *u = sim_unit(sim, unit);
	size_t n;

	if (!u)
		return 0;
	pthread_mutex_lock(&u->tlb_lock);
	n = sim_cache_entries(&u->iotlb);
	pthread_mutex_unlock(&u->tlb_lock);
	return n;
}

size_t simvtd_iotlb_entries_in(struct simvtd *sim, unsigned int unit, uint16_t did_first,
				uint16_t did_last)
{
	struct sim_unit *u = sim_unit(sim, unit);
	size_t n;

	if (!u)
		return 0;
	pthread_mutex_lock(&u->tlb_lock);
	n = sim_cache_groups_entries(&u->iotlb, did_first, did_last);
	pthread_mutex_unlock(&u->tlb_lock);
	return n;
}

int simvtd_atc_insert_target(struct simvtd *sim, uint16_t sid, uint32_t pasid, uint64_t iova,
			     uint64_t target)
{
	int ret;

	pthread_mutex_lock(&sim->atc_lock);
	ret = sim_cache_insert(&sim->atc, sid, pasid, iova >> VTD_PAGE_SHIFT, false, target);
	pthread_mutex_unlock(&sim->atc_lock);
	if (ret)
		errno = ENOMEM;
	return ret;
}

bool simvtd_atc_lookup(struct simvtd *sim, uint16_t sid, uint32_t pasid, uint64_t iova,
		       uint64_t *target)
{
	bool hit;

	pthread_mutex_lock(&sim->atc_lock);
	hit = sim_cache_lookup(&sim->atc, sid, pasid, iova >> VTD_PAGE_SHIFT, target);
	pthread_mutex_unlock(&sim->atc_lock);
	return hit;
}

size_t simvtd_atc_entries(struct simvtd *sim, uint16_t sid)
{
	size_t n;

	pthread_mutex_lock(&sim->atc_lock);
	n = sim_cache_group_entries(&sim->atc, sid);
	pthread_mutex_unlock(&sim->atc_lock);
	return n;
}

void simvtd_counters(struct simvtd *sim, unsigned int unit, struct simvtd_counters *out)
{
	struct sim_unit *u = sim_unit(sim, unit);

	memset(out, 0, sizeof(*out));
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	*out = u->cnt;
	pthread_mutex_unlock(&u->lock);
}

void simvtd_inject_ite(struct simvtd *sim, uint16_t sid, unsigned int count)
{
	pthread_mutex_lock(&sim->atc_lock);
	sim->ite_pending[sid] = count;
	pthread_mutex_unlock(&sim->atc_lock);
}

void simvtd_inject_iqe(struct simvtd *sim, unsigned int unit, unsigned int count)
{
	struct sim_unit *u = sim_unit(sim, unit);

	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->inject_iqe = count;
	pthread_mutex_unlock(&u->lock);
}

/* ---- The back end --------------------------------------------------------- */

static void ring_put(struct sim_unit *u, size_t slot, const struct vtd_raw_desc *raw)
{
	size_t dsz = desc_bytes(u);

	memcpy(simvtd_mem(u->sim, queue_base(u) + slot * dsz, dsz), raw->qw, dsz);
}

static void ring_put_wait(struct sim_unit *u, size_t slot, bool status_write)
{
	struct vtd_desc d = {
		.type = VTD_DESC_WAIT,
		.wait = { .sw = status_write, .status_data = SIM_STATUS_DONE,
			  .status_addr = status_write ? u->status_hpa : 0 },
	};
	struct vtd_raw_desc raw;

	vtd_desc_encode(&d, &raw);
	ring_put(u, slot, &raw);
}

static uint32_t *status_word(struct sim_unit *u)
{
	return simvtd_mem(u->sim, u->status_hpa, sizeof(uint32_t));
}

static void note_error(struct sim_unit *u, struct host_error *err, bool *failed,
		       enum host_error_kind kind, size_t op_index, uint16_t sid)
{
	char dev[HOST_NAME_LEN];

	if (*failed)
		return;		/* report the first op that failed */
	*failed = true;
	err->kind = kind;
	err->op_index = op_index;
	err->sid = sid;
	if (kind == HOST_ERR_ITE) {
		host_device_name(sid, dev);
		snprintf(err->msg, sizeof(err->msg), "%s: device-TLB invalidation of %s timed out",
			 u->hu.name, dev);
	} else if (kind == HOST_ERR_IQE) {
		snprintf(err->msg, sizeof(err->msg), "%s: invalidation queue error (IQEI %u) at op %zu",
			 u->hu.name, (unsigned int)VTD_IQER_IQEI(u->iqer), op_index);
	} else {
		snprintf(err->msg, sizeof(err->msg), "%s: invalidation queue not usable",
			 u->hu.name);
	}
}

/*
 * Recover from the errors a chunk raised, as qi_check_fault() does, but
 * without losing work: a refused descriptor is replaced by a no-op wait and
 * the queue resumed; a timeout is recorded and the queue resumed behind it.
 * Each pass moves IQH forward, so the loop is bounded by the chunk length.
 */
static void chunk_recover(struct sim_unit *u, size_t first_slot, size_t len, size_t base,
			  struct host_error *err, bool *failed)
{
	size_t dsz = desc_bytes(u), slots = queue_bytes(u) / dsz, pass;
	/* Injected refusals hit the replacement too, so they add passes. */
	size_t passes = len + 2 + u->inject_iqe;

	for (pass = 0; pass < passes && (u->fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE)); pass++) {
		size_t head = u->iqh / dsz, idx = (head + slots - first_slot) % slots;

		if (u->fsts & VTD_FSTS_ITE) {
			/* IQH is past the descriptor that timed out. */
			idx = (idx + slots - 1) % slots;
			note_error(u, err, failed, HOST_ERR_ITE, base + idx,
				   (uint16_t)(u->iqer >> VTD_IQER_ITESID_SHIFT));
			reg_write_locked(u, VTD_REG_FSTS, VTD_FSTS_ITE);
			continue;
		}
		if (idx > len) {
			/* Not ours: the queue was broken before we came. */
			note_error(u, err, failed, HOST_ERR_IO, base, 0);
			return;
		}
		/*
		 * An op refused: it did not run, the no-op wait in its slot lets
		 * the rest run. Our closing wait refused: rewrite it as it was,
		 * every op already completed, so that is no error of the ops.
		 */
		if (idx < len)
			note_error(u, err, failed, HOST_ERR_IQE, base + idx, 0);
		ring_put_wait(u, head, idx == len);
		reg_write_locked(u, VTD_REG_FSTS, VTD_FSTS_IQE);
	}
}

/* Queue @len ops plus a wait, run them, and recover from errors. */
static void submit_chunk(struct sim_unit *u, const struct flush_op *ops, size_t len, size_t base,
			 struct host_error *err, bool *failed)
{
	size_t dsz = desc_bytes(u), slots = queue_bytes(u) / dsz;
	size_t first_slot = u->iqt / dsz, i;
	uint32_t *status = status_word(u);

	for (i = 0; i < len; i++) {
		struct vtd_raw_desc raw;

		flush_op_encode(&ops[i], &raw);
		ring_put(u, (first_slot + i) % slots, &raw);
	}
	*status = SIM_STATUS_INUSE;
	ring_put_wait(u, (first_slot + len) % slots, true);
	reg_write_locked(u, VTD_REG_IQT, ((first_slot + len + 1) % slots) * dsz);
	chunk_recover(u, first_slot, len, base, err, failed);
	/* The resume qi_submit_sync() would do; harmless if nothing is pending. */
	reg_write_locked(u, VTD_REG_IQT, u->iqt);
	if (*status != SIM_STATUS_DONE)
		note_error(u, err, failed, HOST_ERR_IO, base + len, 0);
}

static int simvtd_submit(struct host_unit *hu, const struct flush_op *ops, size_t n,
			 struct host_error *err)
{
	struct sim_unit *u = hu->backend_data;
	size_t base, chunk_max;
	bool failed = false;

	memset(err, 0, sizeof(*err));
	if (!n)
		return 0;
	pthread_mutex_lock(&u->lock);
	/* One slot for the wait and one gap so the tail never catches the head. */
	chunk_max = queue_bytes(u) / desc_bytes(u) - 2;
	if (queue_stalled(u) || u->iqh != u->iqt || !status_word(u) || !chunk_max) {
		note_error(u, err, &failed, HOST_ERR_IO, 0, 0);
		pthread_mutex_unlock(&u->lock);
		return -1;
	}
	for (base = 0; base < n; base += chunk_max) {
		size_t len = n - base < chunk_max ? n - base : chunk_max;

		submit_chunk(u, ops + base, len, base, err, &failed);
		/* Never queue behind work the unit still holds. */
		if (queue_stalled(u) || u->iqh != u->iqt) {
			note_error(u, err, &failed, HOST_ERR_IO, base + len, 0);
			break;
		}
		if (failed && err->kind == HOST_ERR_IO)
			break;
	}
	pthread_mutex_unlock(&u->lock);
	return failed ? -1 : 0;
}

const struct host_backend simvtd_backend = {
	.name = "simvtd",
	.submit = simvtd_submit,
};
