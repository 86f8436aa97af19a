// SPDX-License-Identifier: MIT
/*
 * A hostile guest: every case must give the VT-d spec's error and leave
 * the VMM running, so this guest carries on and PASSes at the end. Run
 * with one ATS device and `--inject-ite 0:1` (its next device-TLB
 * invalidation times out).
 *  1. device-TLB timeout: FSTS.ITE, IQERCD.ITESID = the SID, no status write;
 *  2. bad descriptor type, reserved bit set: IQE with IQEI 3 / 4, IQH on it;
 *  3. IQT beyond the queue, IQT not 256-bit aligned: IQE (IQEI 1 / 6);
 *  4. queue base outside RAM: IQE on the fetch (IQEI 2);
 *  5. wait status address outside RAM: IQE, status never written;
 *  6. root, context, PASID directory and PASID table pointers outside RAM:
 *     DMA fails (STATUS_FAULT) with a table-access fault record.
 */
#include "vtd.h"

TEST_NAME("viommu-hostile");

#define DID 9
#define PASID_RID 0
#define IOVA_SRC 0x40000000ULL
#define IOVA_DST 0x40001000ULL
#define LEN 128

static struct simdev dev;
static struct vtd_unit *u;
static uint8_t *src, *dst;
static uint64_t seed = 1;

static void copy_ok(const char *what)
{
	vtd_fill(src, ++seed, LEN);
	uint64_t st = simdev_copy(&dev, IOVA_SRC, IOVA_DST, LEN, SIMDEV_NO_PASID);

	expect(st == SIMDEV_STATUS_DONE && vtd_check(dst, seed, LEN),
	       "%s: DMA status %lu fault addr 0x%lx (data %s)", what, st,
	       simdev_read(&dev, SIMDEV_FAULT_ADDR), vtd_check(dst, seed, LEN) ? "ok" : "wrong");
}

static uint64_t iqh(void) { return vtd_read64(u, VTD_REG_IQH) & VTD_IQ_OFFSET_MASK; }
static unsigned int iqei(void) { return (unsigned int)VTD_IQER_IQEI(vtd_read64(u, VTD_REG_IQER)); }

/* Poll FSTS for @bit (bounded); the queue answers inside the IQT write on this VMM. */
static bool fsts_has(uint32_t bit)
{
	for (unsigned int i = 0; i < 10000; i++)
		if (vtd_read32(u, VTD_REG_FSTS) & bit)
			return true;
	return false;
}

static void expect_iqe(const char *what, unsigned int want_iqei, uint64_t want_iqh)
{
	expect(fsts_has((uint32_t)VTD_FSTS_IQE), "%s: no IQE (FSTS 0x%x)", what,
	       vtd_read32(u, VTD_REG_FSTS));
	printf("%s: IQE, IQEI %u, IQH 0x%lx\n", what, iqei(), iqh());
	if (want_iqei)
		expect(iqei() == want_iqei, "%s: IQEI %u, want %u", what, iqei(), want_iqei);
	if (want_iqh != ~0ULL)
		expect(iqh() == want_iqh, "%s: IQH 0x%lx, want 0x%lx (the bad descriptor)", what,
		       iqh(), want_iqh);
}

static void ite_case(void)
{
	uint32_t stale = u->seq + 1;	/* the status the aborted wait would write */
	struct qi_desc inv = qi_devtlb(dev.bdf, IOVA_DST);
	uint32_t r = vtd_qi_submit(u, &inv, 1);

	expect(r & VTD_FSTS_ITE, "device-TLB invalidation with --inject-ite 0:1: result 0x%x FSTS 0x%x",
	       r, vtd_read32(u, VTD_REG_FSTS));
	uint16_t sid = (uint16_t)(vtd_read64(u, VTD_REG_IQER) >> VTD_IQER_ITESID_SHIFT);
	printf("ITE: ITESID 0x%x\n", sid);
	expect(sid == dev.bdf, "IQERCD.ITESID 0x%x, want 0x%x", sid, dev.bdf);
	expect(*u->status != stale, "the wait after a timed-out invalidation wrote its status");
	vtd_write32(u, VTD_REG_FSTS, (uint32_t)VTD_FSTS_ITE);	/* W1C */
	expect(!(vtd_read32(u, VTD_REG_FSTS) & VTD_FSTS_ITE), "ITE did not clear");
	/* As Linux does after ITE: submit again (the injection is used up). */
	vtd_qi_submit_ok(u, &inv, 1, "device-TLB invalidation after ITE was cleared");
	copy_ok("DMA after ITE");
}

static void bad_type_case(void)
{
	unsigned int slot = u->tail;
	struct qi_desc bad = { { 0xf, 0, 0, 0 } };	/* type 15: none */

	vtd_qi_push(u, &bad);
	uint32_t r = vtd_qi_wait(u);
	expect(r & VTD_FSTS_IQE, "bad type: result 0x%x", r);
	expect_iqe("bad type", VTD_IQEI_TYPE, vtd_qi_offset(u, slot));
	/* Recover as Linux's qi_check_fault does: neutralise the slot, clear IQE, carry on. */
	struct qi_desc nop = { { 5, 0, 0, 0 } };	/* a wait without status write */
	memcpy(u->queue + vtd_qi_offset(u, slot), nop.qw, u->desc_size);
	vtd_write32(u, VTD_REG_FSTS, (uint32_t)VTD_FSTS_IQE);
	vtd_qi_kick(u);	/* same tail: resumes from IQH if clearing IQE did not already */
	for (unsigned int i = 0; i < 10000 && *u->status != u->seq; i++)
		(void)vtd_read32(u, VTD_REG_FSTS);
	expect(*u->status == u->seq, "bad type: the wait after the fixed slot never completed (FSTS 0x%x IQH 0x%lx)",
	       vtd_read32(u, VTD_REG_FSTS), iqh());
}

static void reserved_bit_case(void)
{
	unsigned int slot = u->tail;
	struct qi_desc bad = qi_piotlb_pasid(DID, PASID_RID);

	bad.qw[0] |= 1ULL << 63;	/* qw0 63:52 are reserved in a PASID-IOTLB descriptor */
	vtd_qi_push(u, &bad);
	uint32_t r = vtd_qi_wait(u);
	expect(r & VTD_FSTS_IQE, "reserved bit: result 0x%x", r);
	expect_iqe("reserved bit", VTD_IQEI_RSVD, vtd_qi_offset(u, slot));
	vtd_qi_reset(u);
}

static void tail_cases(void)
{
	vtd_write64(u, VTD_REG_IQT, PAGE_SIZE);	/* QS 0: one page, so offset 4096 is beyond */
	expect_iqe("IQT beyond the queue", VTD_IQEI_TAIL, ~0ULL);
	vtd_qi_reset(u);

	vtd_write64(u, VTD_REG_IQT, 0x10);	/* bit 4 set with 256-bit descriptors */
	expect_iqe("IQT misaligned", VTD_IQEI_TAIL_ALIGN, ~0ULL);
	vtd_qi_reset(u);
}

static void queue_outside_ram_case(void)
{
	vtd_gcmd(u, VTD_GCMD_QIE, false);
	vtd_write64(u, VTD_REG_IQT, 0);
	vtd_write64(u, VTD_REG_IQA, VTD_OUTSIDE_RAM | VTD_IQA_DW);
	vtd_gcmd(u, VTD_GCMD_QIE, true);
	vtd_write64(u, VTD_REG_IQT, 2 * 32);	/* two descriptors to fetch from nowhere */
	expect_iqe("queue outside RAM", VTD_IQEI_FETCH, 0);
	vtd_qi_reset(u);	/* back to the unit's own queue page */
}

static void status_outside_ram_case(void)
{
	unsigned int slot = u->tail;
	struct qi_desc w = qi_wait_desc(VTD_OUTSIDE_RAM, 0x5a5a);

	vtd_qi_push(u, &w);
	vtd_qi_kick(u);
	expect_iqe("wait status outside RAM", 0, vtd_qi_offset(u, slot));
	vtd_qi_reset(u);
}

/* Break one table pointer, flush, and expect the DMA to fault with the table-access reason. */
static void table_case(const char *what, uint64_t *entry, uint64_t bad, uint8_t reason)
{
	uint64_t good = *entry;
	struct vtd_frcd f;

	*entry = bad;
	vtd_flush_all(u);
	vtd_fill(src, ++seed, LEN);
	uint64_t st = simdev_copy(&dev, IOVA_SRC, IOVA_DST, LEN, SIMDEV_NO_PASID);
	expect(st == SIMDEV_STATUS_FAULT, "%s: DMA status %lu, want FAULT", what, st);
	expect(vtd_fault_take(u, &f), "%s: no fault record", what);
	printf("%s: fault sid 0x%x reason 0x%x\n", what, f.sid, f.reason);
	expect(f.sid == dev.bdf, "%s: fault record sid 0x%x, want 0x%x", what, f.sid, dev.bdf);
	expect(f.reason == reason, "%s: reason 0x%x, want 0x%x", what, f.reason, reason);
	vtd_fault_clear_all(u);
	*entry = good;
	vtd_flush_all(u);
	copy_ok(what);
}

/*
 * Scalable-mode fault reasons for "the entry could not be read" (VT-d spec
 * 7.1.3: SRT.1, SCT.1, SPD.1, SPT.1), one per table level.
 */
#define FR_SM_ROOT_ACCESS 0x38
#define FR_SM_CONTEXT_ACCESS 0x40
#define FR_SM_PASID_DIR_ACCESS 0x50
#define FR_SM_PASID_TABLE_ACCESS 0x58

static void root_case(void)
{
	uint64_t good = vtd_pa(u->root);
	struct vtd_frcd f;

	vtd_set_root(u, VTD_OUTSIDE_RAM);
	vtd_flush_all(u);
	uint64_t st = simdev_copy(&dev, IOVA_SRC, IOVA_DST, LEN, SIMDEV_NO_PASID);
	expect(st == SIMDEV_STATUS_FAULT, "root table outside RAM: DMA status %lu", st);
	expect(vtd_fault_take(u, &f), "root table outside RAM: no fault record");
	printf("root table outside RAM: fault sid 0x%x reason 0x%x\n", f.sid, f.reason);
	expect(f.sid == dev.bdf && f.reason == FR_SM_ROOT_ACCESS,
	       "root table outside RAM: sid 0x%x reason 0x%x, want 0x%x", f.sid, f.reason,
	       FR_SM_ROOT_ACCESS);
	vtd_fault_clear_all(u);
	vtd_set_root(u, good);
	vtd_flush_all(u);
	copy_ok("root table restored");
}

int main(const void *dtb)
{
	vtd_discover(dtb);
	expect(simdev_find_all(&dev, 1) == 1, "no sim device (--sim-device dma,iommu=dmar0,ats)");
	u = dev.unit;
	vtd_unit_init(u, true);

	src = vtd_alloc_page();
	dst = vtd_alloc_page();
	uint64_t *fl = vtd_pt_new();
	vtd_fl_map(fl, IOVA_SRC, vtd_pa(src));
	vtd_fl_map(fl, IOVA_DST, vtd_pa(dst));
	uint64_t *dir = vtd_sm_attach(u, dev.bdf, true, false);
	vtd_pasid_set(vtd_pasid_entry(u, dev.bdf, PASID_RID), VTD_PGTT_FL, DID, fl, NULL);
	/* Attach with context- and PASID-cache flushes only: they flush no device TLB. */
	struct qi_desc attach[] = { qi_cc_device(DID, dev.bdf), qi_pc_pasid(DID, PASID_RID) };
	vtd_qi_submit_ok(u, attach, 2, "attach");
	simdev_enable_ats(&dev);
	copy_ok("first DMA");

	ite_case();	/* first: before anything else can flush the device TLB */
	bad_type_case();
	reserved_bit_case();
	tail_cases();
	queue_outside_ram_case();
	status_outside_ram_case();
	copy_ok("DMA after the queue errors");

	uint64_t *ce = vtd_sm_context(u, dev.bdf);
	root_case();
	table_case("context table outside RAM", vtd_sm_root_entry(u, dev.bdf),
		   VTD_OUTSIDE_RAM | 1, FR_SM_CONTEXT_ACCESS);
	table_case("PASID directory outside RAM", &ce[0],
		   (ce[0] & ~VTD_PTE_ADDR) | VTD_OUTSIDE_RAM, FR_SM_PASID_DIR_ACCESS);
	table_case("PASID table outside RAM", &dir[PASID_RID >> 6], VTD_OUTSIDE_RAM | 1,
		   FR_SM_PASID_TABLE_ACCESS);
	return 0;
}
