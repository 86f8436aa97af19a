// SPDX-License-Identifier: MIT
/*
 * A guest that asks its vIOMMU for unbounded work (hardening finding 1):
 * sixteen devices in scalable mode share one PASID directory of 2^14
 * present entries, all aimed at one table of 64 present but invalid PASID
 * entries, so each global PASID-cache invalidation makes the unit read
 * about 2^20 entries per device. Run with 16 `--sim-device
 * dma,iommu=dmar0,pasid`.
 *
 * First a round that must complete: global PASID-cache invalidations and
 * a wait, whose status must arrive (tagvmm works them off in steps outside
 * the IQT write), while device 0's PASID 5 in its own directory goes away
 * and its DMA must then fault. Then the guest prints "FLOOD: started" and
 * refills its queue with them forever, ringing the doorbell and reading
 * registers; tests/kvm/flood.sh sends SIGTERM and times the exit.
 */
#include "vtd.h"

TEST_NAME("viommu-flood");

#define NDEVS 16
#define DIR_ENTRIES (1u << 14)	/* PDTS 7 */
#define PDTS_MAX 7
#define CTX_PASIDE (1ULL << 3)
#define CTX_PDTS_SHIFT 9
#define DID 9
#define PASID 5
#define IOVA 0x40000000ULL
#define LEN 64
#define POLLS 20000000u		/* a status poll is one exit: minutes, never forever */

static uint64_t dir[DIR_ENTRIES] __attribute__((aligned(4096)));
static uint64_t table[64 * 8] __attribute__((aligned(4096)));

static bool wait_status(struct vtd_unit *u, uint32_t seq)
{
	for (unsigned int i = 0; i < POLLS; i++) {
		if (*u->status == seq)
			return true;
		if (vtd_read32(u, VTD_REG_FSTS) & VTD_FSTS_QI_ERRORS)
			return false;
	}
	return false;
}

/* Queue a wait with status write, ring the doorbell, wait for it. */
static bool submit(struct vtd_unit *u)
{
	uint32_t seq = ++u->seq;
	struct qi_desc w = qi_wait_desc(vtd_pa(u->status), seq);

	vtd_qi_push(u, &w);
	vtd_qi_kick(u);
	return wait_status(u, seq);
}

/* Fill the queue with global PASID-cache invalidations (DIDs differ: no run of equal ones). */
static void push_floods(struct vtd_unit *u, unsigned int n, uint16_t *did)
{
	for (unsigned int i = 0; i < n; i++) {
		struct qi_desc pc = qi_pc_global();

		pc.qw[0] |= (uint64_t)(++*did & 0x3fff) << 16;	/* DID field, ignored by a global one */
		vtd_qi_push(u, &pc);
	}
}

int main(const void *dtb)
{
	struct simdev devs[NDEVS];
	uint16_t did = 0;

	vtd_discover(dtb);
	expect(simdev_find_all(devs, NDEVS) == NDEVS, "want %u sim devices with pasid", NDEVS);
	struct vtd_unit *u = devs[0].unit;

	vtd_unit_init(u, true);
	for (unsigned int i = 0; i < 64; i++)
		table[i * 8] = 1;	/* present, PGTT 0: invalid */
	for (unsigned int d = 0; d < DIR_ENTRIES; d++)
		dir[d] = vtd_pa(table) | 1;

	/* Device 0: its own directory, PASID 5 first stage over a mapped page. */
	uint8_t *src = vtd_alloc_page(), *dst = vtd_alloc_page();
	uint64_t *fl = vtd_pt_new();

	vtd_fl_map(fl, IOVA, vtd_pa(src));
	vtd_fl_map(fl, IOVA + 0x1000, vtd_pa(dst));
	vtd_sm_attach(u, devs[0].bdf, false, true);
	uint64_t *pe = vtd_pasid_entry(u, devs[0].bdf, PASID);

	vtd_pasid_set(pe, VTD_PGTT_FL, DID, fl, NULL);
	simdev_enable_pasid(&devs[0]);
	for (unsigned int i = 1; i < NDEVS; i++) {
		uint64_t *ce = vtd_sm_context(u, devs[i].bdf);

		vtd_sm_attach(u, devs[i].bdf, false, true);
		ce[0] = vtd_pa(dir) | (uint64_t)PDTS_MAX << CTX_PDTS_SHIFT | CTX_PASIDE | 1;
		simdev_enable_pasid(&devs[i]);
	}
	barrier();
	struct qi_desc attach[] = { qi_cc_global(), qi_pc_global(), qi_piotlb_pasid(DID, PASID) };

	for (unsigned int i = 0; i < 3; i++)
		vtd_qi_push(u, &attach[i]);
	expect(submit(u), "attach: FSTS 0x%x", vtd_read32(u, VTD_REG_FSTS));
	vtd_fill(src, 7, LEN);
	uint64_t st = simdev_copy(&devs[0], IOVA, IOVA + 0x1000, LEN, PASID);

	expect(st == SIMDEV_STATUS_DONE && vtd_check(dst, 7, LEN), "DMA before: status %lu", st);

	/* A round that must complete, after the resyncs before it. */
	vtd_pasid_clear(pe);
	push_floods(u, 4, &did);
	struct qi_desc piotlb = qi_piotlb_pasid(DID, PASID);

	vtd_qi_push(u, &piotlb);
	expect(submit(u), "the wait behind 4 global PASID-cache invalidations: FSTS 0x%x "
	       "IQH 0x%lx IQT 0x%lx", vtd_read32(u, VTD_REG_FSTS), vtd_read64(u, VTD_REG_IQH),
	       vtd_read64(u, VTD_REG_IQT));
	st = simdev_copy(&devs[0], IOVA, IOVA + 0x1000, LEN, PASID);
	expect(st == SIMDEV_STATUS_FAULT, "DMA on the removed PASID after the wait: status %lu", st);
	printf("wait completed after the resyncs; DMA on the removed PASID faults\n");

	/* Forever: the queue full of them, the doorbell rung, registers read. */
	printf("FLOOD: started\n");
	for (;;) {
		push_floods(u, u->nslots - 1 - (unsigned int)((u->tail + u->nslots -
			    (vtd_read64(u, VTD_REG_IQH) & VTD_IQ_OFFSET_MASK) / u->desc_size) % u->nslots),
			    &did);
		vtd_qi_kick(u);
		for (unsigned int i = 0; i < 1000; i++)
			(void)vtd_read32(u, VTD_REG_FSTS);
	}
}
