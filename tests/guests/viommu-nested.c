// SPDX-License-Identifier: MIT
/*
 * Nested translation (PGTT 3): a first stage whose tables and outputs are
 * themselves translated by a second stage the guest also builds. The
 * first stage's outputs lie outside RAM, so only a unit that really walks
 * both stages finds the data pages. Then attach/detach as Linux does it,
 * with the flushes in between: the device's PASID entry moves to another
 * domain (DID, both stages) and back, each time torn down (P clear,
 * PASID-cache + PASID-IOTLB flush) and set up (PASID-cache flush). While
 * detached, the first domain's first stage changes with no flush at all
 * (no device is attached, so Linux sends none): after re-attaching, DMA
 * must follow the new tables. Last, a second-stage change flushed with a
 * DID-selective IOTLB invalidation.
 */
#include "vtd.h"

TEST_NAME("viommu-nested");

#define PASID 7
#define IOVA_SRC 0x10000000ULL
#define IOVA_DST 0x10001000ULL
#define LEN 256

struct domain {
	uint16_t did;
	uint64_t *fl, *sl;
	uint64_t *fl_dst;	/* first-stage leaf of IOVA_DST */
	uint64_t ipa;		/* where the first stage puts IOVA_SRC; IOVA_DST is ipa + 4 KiB */
};

static struct simdev dev;
static struct vtd_unit *u;
static uint8_t *src;

/* First stage: IOVA -> IPA (outside RAM); second stage: IPA -> pages, and the pool 1:1. */
static void domain_build(struct domain *d, uint16_t did, uint64_t ipa, uint8_t *dst)
{
	d->did = did;
	d->ipa = ipa;
	d->fl = vtd_pt_new();
	vtd_fl_map(d->fl, IOVA_SRC, ipa);
	d->fl_dst = vtd_fl_map(d->fl, IOVA_DST, ipa + PAGE_SIZE);
	d->sl = vtd_pt_new();
	vtd_sl_map_pool(d->sl);
	vtd_sl_map(d->sl, ipa, vtd_pa(src));
	vtd_sl_map(d->sl, ipa + PAGE_SIZE, vtd_pa(dst));
}

static void attach(const struct domain *d)
{
	vtd_pasid_set(vtd_pasid_entry(u, dev.bdf, PASID), VTD_PGTT_NESTED, d->did, d->fl, d->sl);
	struct qi_desc pc = qi_pc_pasid(d->did, PASID);
	vtd_qi_submit_ok(u, &pc, 1, "attach");
}

/* intel_pasid_tear_down_entry(): clear P, then PASID cache, PASID IOTLB (device TLB: no ATS). */
static void detach(const struct domain *d)
{
	vtd_pasid_clear(vtd_pasid_entry(u, dev.bdf, PASID));
	struct qi_desc fl[] = { qi_pc_pasid(d->did, PASID), qi_piotlb_pasid(d->did, PASID) };
	vtd_qi_submit_ok(u, fl, 2, "detach");
}

static void copy_expect(uint64_t seed, const uint8_t *dst, const char *what)
{
	vtd_fill(src, seed, LEN);
	uint64_t st = simdev_copy(&dev, IOVA_SRC, IOVA_DST, LEN, PASID);

	expect(st == SIMDEV_STATUS_DONE, "%s: DMA status %lu fault addr 0x%lx", what, st,
	       simdev_read(&dev, SIMDEV_FAULT_ADDR));
	expect(vtd_check(dst, seed, LEN), "%s: data not where the current tables put it", what);
}

int main(const void *dtb)
{
	struct domain a, b;

	vtd_discover(dtb);
	expect(simdev_find_all(&dev, 1) == 1, "no sim device (--sim-device dma,iommu=dmar0,pasid)");
	u = dev.unit;
	expect((u->ecap & VTD_ECAP_NEST) && (u->ecap & VTD_ECAP_FLTS) && (u->ecap & VTD_ECAP_SLTS),
	       "unit lacks nesting (ECAP 0x%lx)", u->ecap);
	vtd_unit_init(u, true);
	simdev_enable_pasid(&dev);

	src = vtd_alloc_page();
	uint8_t *a_dst = vtd_alloc_page(), *a_dst2 = vtd_alloc_page(), *a_dst3 = vtd_alloc_page();
	uint8_t *b_dst = vtd_alloc_page();

	vtd_sm_attach(u, dev.bdf, false, true);
	struct qi_desc cc = qi_cc_device(1, dev.bdf);
	vtd_qi_submit_ok(u, &cc, 1, "context");

	domain_build(&a, 1, 0x20000000ULL, a_dst);
	domain_build(&b, 2, 0x30000000ULL, b_dst);
	/* A second IPA in A for the first-stage change made while A is detached. */
	vtd_sl_map(a.sl, a.ipa + 2 * PAGE_SIZE, vtd_pa(a_dst2));

	attach(&a);
	copy_expect(1, a_dst, "domain A");

	detach(&a);
	attach(&b);
	copy_expect(2, b_dst, "domain B after the switch");
	expect(vtd_check(a_dst, 1, LEN), "domain A's page changed while B was attached");

	vtd_pte_retarget(a.fl_dst, a.ipa + 2 * PAGE_SIZE);	/* A is detached: no flush */
	detach(&b);
	attach(&a);
	copy_expect(3, a_dst2, "domain A re-attached with a changed first stage");
	expect(vtd_check(a_dst, 1, LEN) && vtd_check(b_dst, 2, LEN),
	       "an old destination changed after re-attaching A (stale translation)");

	/* Second stage under the first: move the IPA, flush the DID. */
	vtd_sl_map(a.sl, a.ipa + 2 * PAGE_SIZE, vtd_pa(a_dst3));
	struct qi_desc dsi = qi_iotlb_dsi(a.did);
	vtd_qi_submit_ok(u, &dsi, 1, "second-stage flush");
	copy_expect(4, a_dst3, "domain A after a second-stage change");
	expect(vtd_check(a_dst2, 3, LEN), "the old second-stage page changed after the flush");
	return 0;
}
