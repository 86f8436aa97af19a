// SPDX-License-Identifier: MIT
/*
 * Scalable mode, first stage, requests without PASID (RID_PASID 0): the
 * setup Linux uses for a DMA domain on a scalable-mode unit. After a
 * first copy, the destination IOVA is remapped to another page and only
 * that page is flushed (P_IOTLB, page-selective) before copying again:
 * the data must land on the new page. A unit or host that kept the old
 * translation writes the old page and fails the test.
 */
#include "vtd.h"

TEST_NAME("viommu-sm");

#define DID 3
#define PASID_RID 0	/* the context's RID_PASID */
#define IOVA_SRC 0x7f0000000000ULL	/* high in the 48-bit space: all four levels differ */
#define IOVA_DST 0x7f0000200000ULL
#define LEN 512

static void copy_ok(const struct simdev *d, const char *what)
{
	uint64_t st = simdev_copy(d, IOVA_SRC, IOVA_DST, LEN, SIMDEV_NO_PASID);

	expect(st == SIMDEV_STATUS_DONE, "%s: DMA status %lu, fault addr 0x%lx", what, st,
	       simdev_read(d, SIMDEV_FAULT_ADDR));
}

int main(const void *dtb)
{
	struct simdev dev;

	vtd_discover(dtb);
	expect(simdev_find_all(&dev, 1) == 1, "no sim device (--sim-device dma,iommu=dmar0)");
	struct vtd_unit *u = dev.unit;

	expect(u->ecap & VTD_ECAP_FLTS, "unit has no first-stage translation");
	vtd_unit_init(u, true);

	uint8_t *src = vtd_alloc_page(), *old_dst = vtd_alloc_page(), *new_dst = vtd_alloc_page();
	uint64_t *fl = vtd_pt_new();

	vtd_fl_map(fl, IOVA_SRC, vtd_pa(src));
	uint64_t *dst_pte = vtd_fl_map(fl, IOVA_DST, vtd_pa(old_dst));

	vtd_sm_attach(u, dev.bdf, false, false);
	vtd_pasid_set(vtd_pasid_entry(u, dev.bdf, PASID_RID), VTD_PGTT_FL, DID, fl, NULL);
	struct qi_desc attach[] = { qi_cc_device(DID, dev.bdf), qi_pc_pasid(DID, PASID_RID),
				    qi_piotlb_pasid(DID, PASID_RID) };
	vtd_qi_submit_ok(u, attach, 3, "attach");

	/* Twice, so the second copy can come from a cached translation. */
	vtd_fill(src, 1, LEN);
	copy_ok(&dev, "first copy");
	expect(vtd_check(old_dst, 1, LEN), "first copy: destination does not hold the source");
	vtd_fill(src, 2, LEN);
	copy_ok(&dev, "second copy");
	expect(vtd_check(old_dst, 2, LEN), "second copy: destination does not hold the source");
	printf("before remap: iotlb hits %lu, walks %lu\n", simdev_read(&dev, SIMDEV_IOTLB_HITS),
	       simdev_read(&dev, SIMDEV_WALKS));

	vtd_pte_retarget(dst_pte, vtd_pa(new_dst));
	struct qi_desc flush = qi_piotlb_page(DID, PASID_RID, IOVA_DST, 0);
	vtd_qi_submit_ok(u, &flush, 1, "P_IOTLB after remap");

	vtd_fill(src, 3, LEN);
	copy_ok(&dev, "copy after remap");
	expect(!vtd_check(old_dst, 3, LEN), "copy after remap went to the OLD page: stale translation");
	expect(vtd_check(old_dst, 2, LEN), "the old page changed after the remap");
	expect(vtd_check(new_dst, 3, LEN), "copy after remap: the new page does not hold the source");
	printf("after remap: iotlb hits %lu, walks %lu\n", simdev_read(&dev, SIMDEV_IOTLB_HITS),
	       simdev_read(&dev, SIMDEV_WALKS));
	return 0;
}
