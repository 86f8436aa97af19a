// SPDX-License-Identifier: MIT
/*
 * Legacy-mode VT-d: root and context tables with a 4-level second-stage
 * table, the way Linux sets up a DMA domain without scalable mode. The
 * DMA engine copies a buffer from one IOVA to another; both IOVAs are far
 * from the buffers' physical addresses, so the bytes only arrive where
 * they should if the unit really translated.
 */
#include "vtd.h"

TEST_NAME("viommu-legacy");

#define DID 1
#define IOVA_SRC 0x40000000ULL
#define IOVA_DST 0x40001000ULL
#define LEN 512

int main(const void *dtb)
{
	struct simdev dev;

	vtd_discover(dtb);
	expect(simdev_find_all(&dev, 1) == 1, "no sim device (--sim-device dma,iommu=dmar0)");
	struct vtd_unit *u = dev.unit;

	vtd_unit_init(u, false);

	uint8_t *src = vtd_alloc_page(), *dst = vtd_alloc_page();
	uint64_t *slpt = vtd_pt_new();

	vtd_sl_map(slpt, IOVA_SRC, vtd_pa(src));
	vtd_sl_map(slpt, IOVA_DST, vtd_pa(dst));
	vtd_legacy_attach(u, dev.bdf, DID, slpt, false);
	/* Not-present to present needs no flush without CM; a device flush is what Linux does anyway. */
	struct qi_desc attach[] = { qi_cc_device(DID, dev.bdf), qi_iotlb_dsi(DID) };
	vtd_qi_submit_ok(u, attach, 2, "attach");

	vtd_fill(src, 1, LEN);
	uint64_t st = simdev_copy(&dev, IOVA_SRC, IOVA_DST, LEN, SIMDEV_NO_PASID);
	expect(st == SIMDEV_STATUS_DONE, "DMA status %lu, fault addr 0x%lx", st,
	       simdev_read(&dev, SIMDEV_FAULT_ADDR));
	expect(vtd_check(dst, 1, LEN), "destination does not hold the source bytes");

	/* An IOVA the table does not map must fault, and the unit must say where. */
	st = simdev_copy(&dev, IOVA_SRC, IOVA_DST + 0x1000, LEN, SIMDEV_NO_PASID);
	expect(st == SIMDEV_STATUS_FAULT, "DMA to an unmapped IOVA: status %lu", st);
	expect(simdev_read(&dev, SIMDEV_FAULT_ADDR) == IOVA_DST + 0x1000, "FAULT_ADDR 0x%lx",
	       simdev_read(&dev, SIMDEV_FAULT_ADDR));
	struct vtd_frcd f;
	expect(vtd_fault_take(u, &f), "no fault record for the unmapped IOVA");
	printf("fault: sid 0x%x reason 0x%x addr 0x%lx\n", f.sid, f.reason, f.addr);
	expect(f.sid == dev.bdf && f.addr == IOVA_DST + 0x1000, "fault record sid 0x%x addr 0x%lx",
	       f.sid, f.addr);
	return 0;
}
