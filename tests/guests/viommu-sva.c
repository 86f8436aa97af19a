// SPDX-License-Identifier: MIT
/*
 * Shared virtual addressing bound the way Linux 6.1's intel_svm binds one mm:
 * every sim device (run with eight, four behind each of two host units,
 * all with ATS and PASID) gets PASID 5 in its own PASID table, all
 * pointing at one first-stage table with one guest DID. Each device
 * copies through it; then the destination is remapped and flushed as
 * intel_svm flushes, once per device: P_IOTLB for (DID, PASID, page) and
 * P_DEVTLB for that device's SID. All of a round's descriptors share ONE
 * wait per vIOMMU: this is a batching guest, not Linux. Linux 6.1 submits
 * each descriptor with its own wait, and merging cannot cross waits, so
 * there the host work is much larger (docs/performance.md, item 1, measures
 * both patterns).
 * Every device must then use the new page. tests/kvm/viommu.sh checks in
 * the flush trace that each round cost one host IOTLB-class invalidation
 * per (host unit, DID, PASID): 2, not 8.
 */
#include "vtd.h"

TEST_NAME("viommu-sva");

#define DID 1
#define PASID 5
#define IOVA_SRC 0x100000000ULL
#define IOVA_DST 0x100001000ULL
#define LEN 256
#define MAX_DEVS 8
#define ROUNDS 2

static struct simdev devs[MAX_DEVS];
static unsigned int ndevs;

/* Every device copies a pattern of its own; each must arrive on @dst. */
static void copy_from_all(uint8_t *src, uint8_t *dst, unsigned int round)
{
	for (unsigned int i = 0; i < ndevs; i++) {
		uint64_t seed = round * 100 + i;

		vtd_fill(src, seed, LEN);
		uint64_t st = simdev_copy(&devs[i], IOVA_SRC, IOVA_DST, LEN, PASID);

		expect(st == SIMDEV_STATUS_DONE, "round %u dev %u: DMA status %lu fault addr 0x%lx",
		       round, i, st, simdev_read(&devs[i], SIMDEV_FAULT_ADDR));
		expect(vtd_check(dst, seed, LEN),
		       "round %u dev %u (%02x:%02x.%u): data not on the current page%s", round, i,
		       devs[i].bdf >> 8, (devs[i].bdf >> 3) & 31, devs[i].bdf & 7,
		       round ? ": stale translation after the flush" : "");
	}
}

/* The flush of one round: per device P_IOTLB + P_DEVTLB, one wait per unit. */
static void flush_round(void)
{
	for (unsigned int k = 0; k < vtd_nunits; k++) {
		struct vtd_unit *u = &vtd_units[k];
		unsigned int n = 0;

		for (unsigned int i = 0; i < ndevs; i++) {
			if (devs[i].unit != u)
				continue;
			struct qi_desc d[2] = { qi_piotlb_page(DID, PASID, IOVA_DST, 0),
						qi_pdevtlb(devs[i].bdf, PASID, IOVA_DST) };
			vtd_qi_push(u, &d[0]);
			vtd_qi_push(u, &d[1]);
			n++;
		}
		if (n) {
			uint32_t r = vtd_qi_wait(u);
			expect(r == 0, "flush round: FSTS 0x%x IQERCD 0x%lx (result 0x%x)",
			       vtd_read32(u, VTD_REG_FSTS), vtd_read64(u, VTD_REG_IQER), r);
		}
	}
}

int main(const void *dtb)
{
	vtd_discover(dtb);
	ndevs = simdev_find_all(devs, MAX_DEVS);
	expect(ndevs >= 2, "%u sim devices, want several (run with 8)", ndevs);

	for (unsigned int k = 0; k < vtd_nunits; k++)
		vtd_unit_init(&vtd_units[k], true);

	uint8_t *src = vtd_alloc_page(), *pages[ROUNDS + 1];
	uint64_t *fl = vtd_pt_new();

	for (unsigned int r = 0; r <= ROUNDS; r++)
		pages[r] = vtd_alloc_page();
	vtd_fl_map(fl, IOVA_SRC, vtd_pa(src));
	uint64_t *dst_pte = vtd_fl_map(fl, IOVA_DST, vtd_pa(pages[0]));

	/* Bind: per device a PASID table whose entry 5 holds the shared first stage. */
	for (unsigned int i = 0; i < ndevs; i++) {
		struct simdev *d = &devs[i];

		vtd_sm_attach(d->unit, d->bdf, true, true);
		vtd_pasid_set(vtd_pasid_entry(d->unit, d->bdf, PASID), VTD_PGTT_FL, DID, fl, NULL);
		struct qi_desc attach[] = { qi_cc_device(DID, d->bdf), qi_pc_pasid(DID, PASID) };
		vtd_qi_submit_ok(d->unit, attach, 2, "bind");
		simdev_enable_pasid(d);
		simdev_enable_ats(d);
	}

	copy_from_all(src, pages[0], 0);
	for (unsigned int r = 1; r <= ROUNDS; r++) {
		vtd_pte_retarget(dst_pte, vtd_pa(pages[r]));
		flush_round();
		copy_from_all(src, pages[r], r);
		expect(vtd_check(pages[r - 1], (r - 1) * 100 + ndevs - 1, LEN),
		       "round %u: the previous page changed after its unmap", r);
	}
	printf("viommu-sva: devices %u flush rounds %u\n", ndevs, ROUNDS);
	return 0;
}
