// SPDX-License-Identifier: MIT
/*
 * Randomized stale-translation oracle. Random topologies and guest batches
 * run through the flush engine into the simulated host, whose IOTLB and ATC
 * models were filled with translations of the attached domains. Once a
 * batch completes, no cached entry that any of its requests covered may
 * survive, merged or not.
 */
#include <check.h>
#include <stdlib.h>

#include "check_main.h"
#include "hostvtd/flush.h"
#include "hostvtd/simvtd.h"
#include "testutil.h"

#define MAX_DEV 12
#define MAX_ATTACH 32
#define PAGES 64		/* guest IOVA space of the test: 64 pages */

struct attachment {
	struct guest_domain_key key;
	struct host_device *dev;
	uint16_t guest_sid;
	bool nested;
};

struct world {
	struct simvtd *sim;
	unsigned int nunits;
	struct host_device devs[MAX_DEV];
	uint16_t guest_sids[MAX_DEV];
	size_t ndev;
	struct attachment att[MAX_ATTACH];
	size_t natt;
	struct tag_store *ts;
	struct flush_engine *fe;
	bool no_merge;
};

/* Host numbering: host DID = guest DID + 100, host PASID = guest PASID. */
static uint16_t host_did(uint16_t did)
{
	return (uint16_t)(did + 100);
}

static void build_world(struct world *w, unsigned int seed, bool no_merge)
{
	struct simvtd_config cfg = { 0 };
	struct plan_options opt = { .no_merge = no_merge };

	srand(seed);
	memset(w, 0, sizeof(*w));
	w->no_merge = no_merge;
	w->nunits = 1 + rand() % 3;
	cfg.units = w->nunits;
	w->sim = simvtd_new(&cfg);
	ck_assert_ptr_nonnull(w->sim);
	w->ts = tag_store_new();
	w->fe = flush_engine_new(w->ts, NULL, &opt);
	ck_assert_ptr_nonnull(w->fe);
	w->ndev = 2 + rand() % (MAX_DEV - 1);
	for (size_t i = 0; i < w->ndev; i++) {
		test_device(&w->devs[i], (uint16_t)(0x100 + i * 8),
			    simvtd_unit(w->sim, rand() % w->nunits), rand() % 2);
		w->guest_sids[i] = (uint16_t)(0x200 + i);
	}
	/* Each device joins one or two domains; a domain is nested or not as a whole. */
	for (size_t i = 0; i < w->ndev && w->natt < MAX_ATTACH; i++) {
		int joins = 1 + rand() % 2;

		for (int j = 0; j < joins; j++) {
			struct attachment *a = &w->att[w->natt];
			uint16_t did = (uint16_t)(1 + rand() % 3);
			uint32_t pasid = (uint32_t)(rand() % 3);
			struct tag_attach ta;
			bool dup = false;

			for (size_t k = 0; k < w->natt; k++)
				dup |= w->att[k].dev == &w->devs[i] && w->att[k].key.did == did &&
				       w->att[k].key.pasid == pasid;
			if (dup)
				continue;
			a->key = test_key(did, pasid);
			a->dev = &w->devs[i];
			a->guest_sid = w->guest_sids[i];
			a->nested = (did + pasid) % 2;
			ta = test_attach(a->dev, host_did(did), pasid, a->nested);
			ta.guest_sid = a->guest_sid;
			ck_assert_int_eq(tag_store_attach(w->ts, a->key, &ta), 0);
			w->natt++;
		}
	}
}

static void free_world(struct world *w)
{
	flush_engine_free(w->fe);
	tag_store_free(w->ts);
	simvtd_free(w->sim);
}

/* Fill the caches with translations of random attachments. */
static void fill_caches(struct world *w)
{
	for (int i = 0; i < 40; i++) {
		struct attachment *a = &w->att[rand() % w->natt];
		uint64_t iova = (uint64_t)(rand() % PAGES) << VTD_PAGE_SHIFT;

		ck_assert_int_eq(simvtd_iotlb_insert(w->sim, a->dev->unit->index, host_did(a->key.did),
						     a->key.pasid, a->nested, iova), 0);
		if (a->dev->ats)
			ck_assert_int_eq(simvtd_atc_insert(w->sim, a->dev->sid, a->key.pasid, iova), 0);
	}
}

static struct vtd_desc random_request(struct world *w)
{
	uint16_t did = (uint16_t)(1 + rand() % 3);
	uint32_t pasid = (uint32_t)(rand() % 3);
	unsigned int am = (unsigned int)(rand() % 4);
	uint64_t addr = ((uint64_t)(rand() % PAGES) << VTD_PAGE_SHIFT) & ~((VTD_PAGE_SIZE << am) - 1);
	size_t dev = (size_t)rand() % w->ndev;

	switch (rand() % 8) {
	case 0:
		return piotlb_all(did, pasid);
	case 1:
		return iotlb_desc(VTD_IOTLB_PAGE, did, addr, am);
	case 2:
		return iotlb_desc(rand() % 4 ? VTD_IOTLB_DOMAIN : VTD_IOTLB_GLOBAL, did, 0, 0);
	case 3:
		return devtlb_desc(w->guest_sids[dev], addr, am);
	case 4:
		return pdevtlb_desc(w->guest_sids[dev], pasid, addr, am);
	default:
		return piotlb_page(did, pasid, addr, am, rand() % 2);
	}
}

static bool covers(uint64_t start, uint64_t end, uint64_t iova)
{
	return iova >= start && iova <= end;
}

/* Range a request names, as [start, end]. */
static void request_range(const struct vtd_desc *d, uint64_t *start, uint64_t *end)
{
	uint64_t base;
	unsigned int order;

	*start = 0;
	*end = UINT64_MAX;
	switch (d->type) {
	case VTD_DESC_PIOTLB:
		if (d->piotlb.gran == VTD_PIOTLB_PAGE) {
			*start = d->piotlb.addr;
			*end = *start + (VTD_PAGE_SIZE << d->piotlb.am) - 1;
		}
		break;
	case VTD_DESC_IOTLB:
		if (d->iotlb.gran == VTD_IOTLB_PAGE) {
			*start = d->iotlb.addr;
			*end = *start + (VTD_PAGE_SIZE << d->iotlb.am) - 1;
		}
		break;
	case VTD_DESC_DEVTLB:
		vtd_devtlb_range(d->devtlb.addr, d->devtlb.size, &base, &order);
		*start = base;
		*end = base + (VTD_PAGE_SIZE << order) - 1;
		break;
	case VTD_DESC_PDEVTLB:
		vtd_devtlb_range(d->pdevtlb.addr, d->pdevtlb.size, &base, &order);
		*start = base;
		*end = base + (VTD_PAGE_SIZE << order) - 1;
		break;
	default:
		break;
	}
}

/* Does @d name attachment @a's domain (IOTLB-class) or device (device-TLB)? */
static bool names_domain(const struct vtd_desc *d, const struct attachment *a)
{
	if (d->type == VTD_DESC_PIOTLB)
		return d->piotlb.did == a->key.did && d->piotlb.pasid == a->key.pasid;
	if (d->type == VTD_DESC_IOTLB)
		return d->iotlb.gran == VTD_IOTLB_GLOBAL || d->iotlb.did == a->key.did;
	return false;
}

static bool names_device(const struct vtd_desc *d, const struct attachment *a)
{
	if (d->type == VTD_DESC_DEVTLB)
		return d->devtlb.sid == a->guest_sid && a->key.pasid == 0;
	if (d->type == VTD_DESC_PDEVTLB)
		return d->pdevtlb.sid == a->guest_sid && d->pdevtlb.pasid == a->key.pasid;
	return false;
}

static size_t check_no_stale(struct world *w, const struct vtd_desc *reqs, size_t n)
{
	size_t checked = 0;

	for (size_t r = 0; r < n; r++) {
		uint64_t start, end;

		request_range(&reqs[r], &start, &end);
		for (size_t i = 0; i < w->natt; i++) {
			const struct attachment *a = &w->att[i];
			bool dom = names_domain(&reqs[r], a), dev = names_device(&reqs[r], a);

			if (!dom && !dev)
				continue;
			for (uint64_t p = 0; p < PAGES; p++) {
				uint64_t iova = p << VTD_PAGE_SHIFT;

				if (!covers(start, end, iova))
					continue;
				checked++;
				if (dom)
					ck_assert_msg(!simvtd_iotlb_present(w->sim, a->dev->unit->index,
									    host_did(a->key.did),
									    a->key.pasid, iova),
						      "stale IOTLB entry did %u pasid %u iova 0x%llx",
						      a->key.did, a->key.pasid, (unsigned long long)iova);
				/*
				 * A device-TLB request cleans the ATC. Merged, a
				 * domain flush leaves ATCs to the guest's own
				 * device-TLB requests (VT-d semantics); unmerged,
				 * QEMU's per-device HWPT invalidation cleans them too.
				 */
				if (a->dev->ats && (dev || w->no_merge))
					ck_assert_msg(!simvtd_atc_present(w->sim, a->dev->sid,
									  a->key.pasid, iova),
						      "stale ATC entry sid 0x%x pasid %u iova 0x%llx",
						      a->dev->sid, a->key.pasid, (unsigned long long)iova);
			}
		}
	}
	return checked;
}

static void run_oracle(bool no_merge)
{
	size_t checked = 0;
	uint64_t evicted = 0;

	for (unsigned int seed = 1; seed <= 60; seed++) {
		struct world w;

		build_world(&w, seed, no_merge);
		for (int round = 0; round < 30; round++) {
			struct vtd_desc reqs[12];
			size_t n = 1 + (size_t)rand() % 12;
			struct flush_result res;

			fill_caches(&w);
			for (size_t i = 0; i < n; i++)
				reqs[i] = random_request(&w);
			ck_assert_int_eq(flush_engine_batch(w.fe, 0, reqs, n, 1, &res), 0);
			checked += check_no_stale(&w, reqs, n);
		}
		for (unsigned int u = 0; u < w.nunits; u++) {
			struct simvtd_counters c;

			simvtd_counters(w.sim, u, &c);
			evicted += c.iotlb_evicted + c.atc_evicted;
		}
		free_world(&w);
	}
	/* The oracle must have had something to look at. */
	ck_assert_uint_gt(checked, 1000);
	ck_assert_uint_gt(evicted, 1000);
}

START_TEST(no_stale_translation_merged)
{
	run_oracle(false);
}
END_TEST

START_TEST(no_stale_translation_unmerged)
{
	run_oracle(true);
}
END_TEST

/*
 * The oracle's premise: an entry the flush did not reach stays in the
 * simulated host (so a missed flush would be seen), and the flush that
 * does reach it removes it.
 */
START_TEST(entry_survives_until_flushed)
{
	struct world w;
	struct vtd_desc req;

	build_world(&w, 3, false);
	ck_assert_int_eq(simvtd_iotlb_insert(w.sim, w.att[0].dev->unit->index,
					     host_did(w.att[0].key.did), w.att[0].key.pasid,
					     w.att[0].nested, 0x1000), 0);
	/* A flush of another page leaves it. */
	req = piotlb_page(w.att[0].key.did, w.att[0].key.pasid, 0x9000, 0, false);
	ck_assert_int_eq(flush_engine_batch(w.fe, 0, &req, 1, 1, NULL), 0);
	ck_assert(simvtd_iotlb_present(w.sim, w.att[0].dev->unit->index, host_did(w.att[0].key.did),
				       w.att[0].key.pasid, 0x1000));
	req = piotlb_page(w.att[0].key.did, w.att[0].key.pasid, 0x1000, 0, false);
	ck_assert_int_eq(flush_engine_batch(w.fe, 0, &req, 1, 1, NULL), 0);
	ck_assert(!simvtd_iotlb_present(w.sim, w.att[0].dev->unit->index, host_did(w.att[0].key.did),
					w.att[0].key.pasid, 0x1000));
	free_world(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("oracle");
	TCase *tc = tcase_create("stale");

	tcase_add_test(tc, no_stale_translation_merged);
	tcase_add_test(tc, no_stale_translation_unmerged);
	tcase_add_test(tc, entry_survives_until_flushed);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return check_run(s);
}
