// SPDX-License-Identifier: MIT
/*
 * The iommufd back end's device-TLB cover rule (hostvtd/devtlb-cover.h,
 * docs/design.md "Device-TLB work") against a stale-translation oracle on
 * a host with iommufd's flush semantics.
 *
 * The kernel is the recording fake (iommufd_testutil.h) plus a model of
 * what a real one does with each IOMMU_HWPT_INVALIDATE entry: it flushes
 * the nested HWPT's IOTLB and the ATC of every device attached to that
 * HWPT over the entry's range. The model keeps each device's ATC (the
 * mapping generation it cached per page) and each PASID's mappings.
 *
 * Random guests, each following the VT-d spec's rule that a changed
 * mapping gets an IOTLB-class request before any device-TLB request for
 * it, change mappings, let devices load translations, send PASID-IOTLB and
 * PASID device-TLB requests (one per submission as Linux 6.1 does, or a
 * PASID-IOTLB with its device-TLB requests in one batch as 6.10+ does),
 * and move devices off and onto HWPTs, where a device comes with entries
 * it cached before; now and then a call times out (the kernel flushed the
 * IOTLB, not necessarily the ATCs). Once a device-TLB request's submission completes, the device
 * may hold no stale translation in its range, whether the back end sent
 * an entry for it or found it covered by an earlier flush.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "iommufd_testutil.h"

#define ODEVS 6
#define OPAGES 16
#define OPASIDS 2
#define ODID 1
#define NO_ENTRY (-1)

struct oracle {
	uint32_t pasid_of[ODEVS];	/* 0: not attached yet */
	uint32_t hwpt_of[ODEVS];
	int gen[OPASIDS][OPAGES];	/* the mapping's version */
	bool unflushed[OPASIDS][OPAGES];	/* changed, no IOTLB request since */
	int atc[ODEVS][OPAGES];		/* generation cached, or NO_ENTRY */
	unsigned int skipped;		/* device-TLB requests that needed no call */
	unsigned int sent;		/* ... that did */
};

static uint32_t pasid_value(unsigned int p)
{
	return 5 + p;
}

static unsigned int pasid_index(uint32_t pasid)
{
	return pasid - 5;
}

/* The kernel's side of every call the fake saw: flush IOTLB and ATCs of the HWPT. */
static unsigned int apply_calls(struct oracle *o)
{
	size_t ncalls = fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE);

	for (size_t n = 0; n < ncalls; n++) {
		struct iommu_hwpt_invalidate inv;
		const struct iommu_hwpt_vtd_s1_invalidate *e = invalidation(n, &inv);
		const struct fake_call *c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE, n);

		/* A call that timed out: the IOTLB is flushed, the ATCs are not known to be. */
		if (c->ret)
			continue;
		for (uint32_t k = 0; k < inv.entry_num; k++) {
			uint64_t first = e[k].addr >> 12, count = e[k].npages;

			for (unsigned int d = 0; d < ODEVS; d++) {
				if (o->hwpt_of[d] != inv.hwpt_id)
					continue;
				for (uint64_t pg = 0; pg < OPAGES; pg++)
					if (count == UINT64_MAX || (pg >= first && pg - first < count))
						o->atc[d][pg] = NO_ENTRY;
			}
		}
	}
	fake_hostops_clear_calls(fake);
	return (unsigned int)ncalls;
}

/* A naturally aligned range of 2^am pages holding @pg. */
static void range_of(unsigned int pg, unsigned int am, unsigned int *first, unsigned int *count)
{
	*count = 1u << am;
	*first = pg & ~(*count - 1);
}

static bool range_unflushed(const struct oracle *o, unsigned int p, unsigned int first,
			    unsigned int count)
{
	for (unsigned int pg = first; pg < first + count && pg < OPAGES; pg++)
		if (o->unflushed[p][pg])
			return true;
	return false;
}

/* What the guest expects once its device-TLB request completed. */
static void assert_fresh(const struct oracle *o, unsigned int d, unsigned int first,
			 unsigned int count, unsigned int seed, unsigned int step)
{
	unsigned int p = pasid_index(o->pasid_of[d]);

	for (unsigned int pg = first; pg < first + count && pg < OPAGES; pg++)
		ck_assert_msg(o->atc[d][pg] == NO_ENTRY || o->atc[d][pg] == o->gen[p][pg],
			      "seed %u step %u: device %u caches generation %d of page %u, "
			      "the mapping is at %d", seed, step, d, o->atc[d][pg], pg, o->gen[p][pg]);
}

static void attach(struct oracle *o, unsigned int d, unsigned int p)
{
	o->pasid_of[d] = pasid_value(p);
	o->hwpt_of[d] = bind(&units[0], 20 + d, ODID, pasid_value(p));
}

/* With no device left, the HWPT is gone and the guest's domain has nothing to flush. */
static bool pasid_attached(const struct oracle *o, unsigned int p)
{
	for (unsigned int d = 0; d < ODEVS; d++)
		if (o->pasid_of[d] == pasid_value(p))
			return true;
	return false;
}

static unsigned int bound_device(const struct oracle *o)
{
	unsigned int d;

	do
		d = (unsigned int)rand() % ODEVS;
	while (!o->pasid_of[d]);
	return d;
}

static void run_guest(unsigned int seed, unsigned int steps)
{
	struct oracle o;
	struct host_error err;

	memset(&o, 0, sizeof(o));
	memset(o.atc, 0xff, sizeof(o.atc));	/* NO_ENTRY */
	srand(seed);
	add_units();
	/* Two devices per PASID from the start; the others attach later. */
	for (unsigned int d = 0; d < 4; d++)
		attach(&o, d, d % OPASIDS);

	for (unsigned int step = 0; step < steps; step++) {
		unsigned int what = (unsigned int)rand() % 100, d, p, pg, am, first, count;

		pg = (unsigned int)rand() % OPAGES;
		am = (unsigned int)rand() % 3;
		range_of(pg, am, &first, &count);
		if (what < 25) {		/* a device loads a translation */
			d = bound_device(&o);
			p = pasid_index(o.pasid_of[d]);
			o.atc[d][pg] = o.gen[p][pg];
		} else if (what < 40) {		/* the guest changes a mapping */
			p = (unsigned int)rand() % OPASIDS;
			o.gen[p][pg]++;
			o.unflushed[p][pg] = true;
		} else if (what < 55) {		/* PASID-IOTLB, a submission of its own (6.1) */
			struct flush_op op;

			p = (unsigned int)rand() % OPASIDS;
			if (!pasid_attached(&o, p))
				continue;
			op = piotlb_op(&units[0], ODID, pasid_value(p), (uint64_t)first << 12, am, false);
			/* Now and then the kernel reports a device-TLB timeout (the guest sees ITE). */
			if (rand() % 8 == 0) {
				fake_hostops_fail_ioctl(fake, IOMMU_HWPT_INVALIDATE, ETIMEDOUT);
				ck_assert_int_eq(submit(&units[0], &op, 1, &err), -1);
				ck_assert_int_eq(err.kind, HOST_ERR_ITE);
			} else {
				ck_assert_int_eq(submit(&units[0], &op, 1, &err), 0);
			}
			apply_calls(&o);
			for (unsigned int i = first; i < first + count; i++)
				o.unflushed[p][i] = false;
		} else if (what < 63) {		/* PASID-IOTLB and its device-TLB requests, one batch (6.10+) */
			struct flush_op ops[1 + ODEVS];
			size_t n = 0;

			p = (unsigned int)rand() % OPASIDS;
			if (!pasid_attached(&o, p))
				continue;
			ops[n++] = piotlb_op(&units[0], ODID, pasid_value(p), (uint64_t)first << 12, am,
					     false);
			for (d = 0; d < ODEVS; d++)
				if (o.pasid_of[d] == pasid_value(p))
					ops[n++] = pdevtlb_op(&units[0], (uint16_t)(0x100 + d), ODID,
							      pasid_value(p), (uint64_t)first << 12, am);
			ck_assert_int_eq(submit(&units[0], ops, n, &err), 0);
			apply_calls(&o);
			for (unsigned int i = first; i < first + count; i++)
				o.unflushed[p][i] = false;
			for (d = 0; d < ODEVS; d++)
				if (o.pasid_of[d] == pasid_value(p))
					assert_fresh(&o, d, first, count, seed, step);
		} else if (what < 85) {		/* a device-TLB request, a submission of its own (6.1) */
			struct flush_op op;

			d = bound_device(&o);
			p = pasid_index(o.pasid_of[d]);
			/* The spec: an IOTLB-class request first for what changed. */
			if (range_unflushed(&o, p, first, count))
				continue;
			op = pdevtlb_op(&units[0], (uint16_t)(0x100 + d), ODID, o.pasid_of[d],
					(uint64_t)first << 12, am);
			ck_assert_int_eq(submit(&units[0], &op, 1, &err), 0);
			if (apply_calls(&o))
				o.sent++;
			else
				o.skipped++;
			assert_fresh(&o, d, first, count, seed, step);
		} else if (what < 90) {		/* a device leaves its HWPT */
			unsigned int attached = 0;

			d = bound_device(&o);
			for (unsigned int i = 0; i < ODEVS; i++)
				attached += o.pasid_of[i] != 0;
			if (attached <= 2)
				continue;
			ck_assert_int_eq(iommufd_unbind_s1(host, &units[0], 20 + d, ODID,
							   o.pasid_of[d]), 0);
			o.pasid_of[d] = 0;
			o.hwpt_of[d] = 0;
			fake_hostops_clear_calls(fake);
		} else {			/* a device attaches, caching what it loaded before */
			for (d = 0; d < ODEVS && o.pasid_of[d]; d++)
				;
			if (d == ODEVS)
				continue;
			p = (unsigned int)rand() % OPASIDS;
			for (unsigned int i = 0; i < OPAGES; i++)
				o.atc[d][i] = o.gen[p][i] > 0 && rand() % 2 ? o.gen[p][i] - 1 : NO_ENTRY;
			attach(&o, d, p);
			fake_hostops_clear_calls(fake);
		}
	}
	/* The rule must have been exercised both ways, or the run proves nothing. */
	ck_assert_msg(o.skipped > 0 && o.sent > 0, "seed %u: %u skipped, %u sent", seed, o.skipped,
		      o.sent);
}

START_TEST(spec_conforming_guests_see_no_stale_atc)
{
	run_guest((unsigned int)_i + 1, 400);
}
END_TEST

/*
 * The rule's one premise, shown to matter: a guest that changes a mapping
 * and sends only the device-TLB request, after a flush that covered the
 * range, keeps the stale translation (as it would keep a stale IOTLB
 * entry on hardware). The oracle sees it.
 */
START_TEST(a_guest_skipping_the_iotlb_request_keeps_its_stale_entry)
{
	struct oracle o;
	struct host_error err;
	struct flush_op iotlb = piotlb_op(&units[0], ODID, pasid_value(0), 0, 2, false);
	struct flush_op devtlb = pdevtlb_op(&units[0], 0x100, ODID, pasid_value(0), 0x1000, 0);

	memset(&o, 0, sizeof(o));
	memset(o.atc, 0xff, sizeof(o.atc));
	add_units();
	attach(&o, 0, 0);
	ck_assert_int_eq(submit(&units[0], &iotlb, 1, &err), 0);
	apply_calls(&o);
	o.atc[0][1] = o.gen[0][1];	/* the device loads page 1 */
	o.gen[0][1]++;			/* the guest changes it, without the IOTLB request */
	ck_assert_int_eq(submit(&units[0], &devtlb, 1, &err), 0);
	ck_assert_uint_eq(apply_calls(&o), 0);	/* covered by the first flush: no call */
	ck_assert_int_eq(o.atc[0][1], o.gen[0][1] - 1);
}
END_TEST

static Suite *oracle_suite(void)
{
	Suite *s = suite_create("devtlb_cover_oracle");
	TCase *tc = tcase_create("oracle");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, spec_conforming_guests_see_no_stale_atc, 0, 200);
	tcase_add_test(tc, a_guest_skipping_the_iotlb_request_keeps_its_stale_entry);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(oracle_suite());
}
