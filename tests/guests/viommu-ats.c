// SPDX-License-Identifier: MIT
/*
 * A device with ATS (context DTE set, ATS enabled in its capability):
 * its translations are cached in its own ATC. A repeated copy must be
 * served from the ATC (SIMDEV_ATC_HITS grows). Then two remaps of the
 * destination:
 *  - flushed with P_IOTLB only: as on VT-d hardware, the device TLB keeps
 *    the old translation (docs/design.md: a guest IOTLB request leaves
 *    device TLBs to the guest's device-TLB requests), so the device still
 *    writes the old page: the missing invalidation shows; the device-TLB
 *    invalidation sent after it brings the new page;
 *  - flushed with P_IOTLB and an explicit device-TLB invalidation (type 3,
 *    requests without PASID) in one batch, the path Linux takes: the new
 *    page at once.
 */
#include "vtd.h"

TEST_NAME("viommu-ats");

#define DID 4
#define PASID_RID 0
#define IOVA_SRC 0x200000000ULL
#define IOVA_DST 0x200001000ULL
#define LEN 256

static struct simdev dev;

static void copy_expect(uint8_t *src_page, uint64_t seed, const uint8_t *dst, const char *what)
{
	vtd_fill(src_page, seed, LEN);
	uint64_t st = simdev_copy(&dev, IOVA_SRC, IOVA_DST, LEN, SIMDEV_NO_PASID);

	expect(st == SIMDEV_STATUS_DONE, "%s: DMA status %lu fault addr 0x%lx", what, st,
	       simdev_read(&dev, SIMDEV_FAULT_ADDR));
	expect(vtd_check(dst, seed, LEN), "%s: data not on the page the tables name%s", what,
	       seed > 2 ? " (stale ATC or IOTLB entry)" : "");
}

int main(const void *dtb)
{
	vtd_discover(dtb);
	expect(simdev_find_all(&dev, 1) == 1, "no sim device (--sim-device dma,iommu=dmar0,ats)");
	struct vtd_unit *u = dev.unit;

	expect(u->ecap & VTD_ECAP_DT, "unit does not support device TLBs (ECAP.DT)");
	vtd_unit_init(u, true);

	uint8_t *src = vtd_alloc_page(), *dst[3];
	uint64_t *fl = vtd_pt_new();

	for (unsigned int i = 0; i < 3; i++)
		dst[i] = vtd_alloc_page();
	vtd_fl_map(fl, IOVA_SRC, vtd_pa(src));
	uint64_t *dst_pte = vtd_fl_map(fl, IOVA_DST, vtd_pa(dst[0]));

	vtd_sm_attach(u, dev.bdf, true, false);
	vtd_pasid_set(vtd_pasid_entry(u, dev.bdf, PASID_RID), VTD_PGTT_FL, DID, fl, NULL);
	struct qi_desc attach[] = { qi_cc_device(DID, dev.bdf), qi_pc_pasid(DID, PASID_RID) };
	vtd_qi_submit_ok(u, attach, 2, "attach");
	simdev_enable_ats(&dev);

	copy_expect(src, 1, dst[0], "first copy (fills the ATC)");
	uint64_t hits = simdev_read(&dev, SIMDEV_ATC_HITS);
	copy_expect(src, 2, dst[0], "second copy");
	uint64_t hits2 = simdev_read(&dev, SIMDEV_ATC_HITS);
	printf("atc hits: %lu after the first copy, %lu after the second\n", hits, hits2);
	expect(hits2 > hits, "the second copy was not served from the ATC (hits %lu -> %lu)", hits,
	       hits2);

	/* Remap, flush the IOTLB only: the device TLB still holds the old page. */
	vtd_pte_retarget(dst_pte, vtd_pa(dst[1]));
	struct qi_desc piotlb = qi_piotlb_page(DID, PASID_RID, IOVA_DST, 0);
	vtd_qi_submit_ok(u, &piotlb, 1, "P_IOTLB");
	vtd_fill(dst[1], 99, LEN);
	copy_expect(src, 3, dst[0], "after P_IOTLB only, the ATC's old page");
	expect(vtd_check(dst[1], 99, LEN), "the ATC lost its entry without a device-TLB invalidation");
	/* Now the device-TLB invalidation the guest owes (type 3). */
	struct qi_desc devtlb = qi_devtlb(dev.bdf, IOVA_DST);
	vtd_qi_submit_ok(u, &devtlb, 1, "device TLB");
	copy_expect(src, 4, dst[1], "after the device-TLB invalidation");
	expect(vtd_check(dst[0], 3, LEN), "the first page changed after its unmap");

	/* Remap, flush both explicitly in one batch. */
	vtd_pte_retarget(dst_pte, vtd_pa(dst[2]));
	struct qi_desc both[] = { qi_piotlb_page(DID, PASID_RID, IOVA_DST, 0),
				  qi_devtlb(dev.bdf, IOVA_DST) };
	vtd_qi_submit_ok(u, both, 2, "P_IOTLB + device TLB");
	copy_expect(src, 5, dst[2], "after P_IOTLB + device-TLB invalidation");
	expect(vtd_check(dst[1], 4, LEN), "the second page changed after its unmap");
	uint64_t hits3 = simdev_read(&dev, SIMDEV_ATC_HITS);
	copy_expect(src, 6, dst[2], "copy after the refill");
	printf("atc hits: %lu before, %lu after a copy on the refilled ATC\n", hits3,
	       simdev_read(&dev, SIMDEV_ATC_HITS));
	expect(simdev_read(&dev, SIMDEV_ATC_HITS) > hits3, "the ATC did not refill after the flush");
	return 0;
}
