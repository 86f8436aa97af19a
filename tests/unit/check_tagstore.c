// SPDX-License-Identifier: MIT
/* Tag store: assign/unassign, refcounts, lookups, device-TLB routing. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "check_main.h"
#include "testutil.h"

static struct host_unit units[2];
static struct host_device devs[4];
static struct tag_store *ts;

static void setup(void)
{
	test_unit(&units[0], 0, 9);
	test_unit(&units[1], 1, 9);
	test_device(&devs[0], 0x10, &units[0], true);
	test_device(&devs[1], 0x18, &units[0], true);
	test_device(&devs[2], 0x20, &units[1], false);
	test_device(&devs[3], 0x28, &units[1], true);
	ts = tag_store_new();
	ck_assert_ptr_nonnull(ts);
}

static void teardown(void)
{
	tag_store_free(ts);
}

static size_t count_type(const struct tag_domain *d, enum cache_tag_type type, unsigned int *users)
{
	size_t n, found = 0;
	const struct cache_tag *t = tag_domain_tags(d, &n);

	*users = 0;
	for (size_t i = 0; i < n; i++)
		if (t[i].type == type) {
			found++;
			*users += t[i].users;
		}
	return found;
}

START_TEST(shared_iotlb_tag_counts_users)
{
	struct tag_attach a0 = test_attach(&devs[0], 1, 5, true);
	struct tag_attach a1 = test_attach(&devs[1], 1, 5, true);
	const struct tag_domain *d;
	unsigned int users;

	ck_assert_int_eq(tag_store_attach(ts, test_key(1, 5), &a0), 0);
	ck_assert_int_eq(tag_store_attach(ts, test_key(1, 5), &a1), 0);
	/* One IOTLB tag for the unit, one device-TLB tag per ATS device. */
	ck_assert_uint_eq(tag_store_tags(ts), 3);
	ck_assert_uint_eq(tag_store_domains(ts), 1);
	tag_store_read_lock(ts);
	d = tag_store_find(ts, test_key(1, 5));
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(count_type(d, CACHE_TAG_NESTING_IOTLB, &users), 1);
	ck_assert_uint_eq(users, 2);
	ck_assert_uint_eq(count_type(d, CACHE_TAG_NESTING_DEVTLB, &users), 2);
	ck_assert_uint_eq(users, 2);
	ck_assert_ptr_null(tag_store_find(ts, test_key(1, 6)));
	ck_assert_ptr_null(tag_store_find(ts, test_key(2, 5)));
	tag_store_read_unlock(ts);

	ck_assert_int_eq(tag_store_detach(ts, test_key(1, 5), &a0), 0);
	ck_assert_uint_eq(tag_store_tags(ts), 2);
	tag_store_read_lock(ts);
	d = tag_store_find(ts, test_key(1, 5));
	ck_assert_uint_eq(count_type(d, CACHE_TAG_NESTING_IOTLB, &users), 1);
	ck_assert_uint_eq(users, 1);
	tag_store_read_unlock(ts);
	ck_assert_int_eq(tag_store_detach(ts, test_key(1, 5), &a1), 0);
	ck_assert_uint_eq(tag_store_tags(ts), 0);
	ck_assert_uint_eq(tag_store_domains(ts), 0);
}
END_TEST

START_TEST(units_and_types_are_separate_tags)
{
	struct tag_attach a0 = test_attach(&devs[0], 1, 0, false);
	struct tag_attach a2 = test_attach(&devs[2], 1, 0, false);
	struct tag_attach a2n = test_attach(&devs[2], 1, 0, true);
	const struct tag_domain *d;
	unsigned int users;

	ck_assert_int_eq(tag_store_attach(ts, test_key(1, 0), &a0), 0);
	ck_assert_int_eq(tag_store_attach(ts, test_key(1, 0), &a2), 0);
	ck_assert_int_eq(tag_store_attach(ts, test_key(1, 0), &a2n), 0);
	tag_store_read_lock(ts);
	d = tag_store_find(ts, test_key(1, 0));
	ck_assert_uint_eq(count_type(d, CACHE_TAG_IOTLB, &users), 2);	/* two units */
	ck_assert_uint_eq(count_type(d, CACHE_TAG_NESTING_IOTLB, &users), 1);
	ck_assert_uint_eq(count_type(d, CACHE_TAG_DEVTLB, &users), 1);	/* devs[2] has no ATS */
	tag_store_read_unlock(ts);
}
END_TEST

START_TEST(attach_same_device_twice_counts_twice)
{
	struct tag_attach a = test_attach(&devs[3], 7, 0, false);

	ck_assert_int_eq(tag_store_attach(ts, test_key(7, 0), &a), 0);
	ck_assert_int_eq(tag_store_attach(ts, test_key(7, 0), &a), 0);
	ck_assert_uint_eq(tag_store_tags(ts), 2);
	ck_assert_int_eq(tag_store_detach(ts, test_key(7, 0), &a), 0);
	ck_assert_uint_eq(tag_store_tags(ts), 2);
	ck_assert_int_eq(tag_store_detach(ts, test_key(7, 0), &a), 0);
	ck_assert_uint_eq(tag_store_tags(ts), 0);
	errno = 0;
	ck_assert_int_eq(tag_store_detach(ts, test_key(7, 0), &a), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(detach_unknown_changes_nothing)
{
	struct tag_attach a = test_attach(&devs[0], 3, 0, false);
	struct tag_attach other = test_attach(&devs[2], 3, 0, false);

	ck_assert_int_eq(tag_store_attach(ts, test_key(3, 0), &a), 0);
	ck_assert_int_eq(tag_store_detach(ts, test_key(3, 0), &other), -1);
	ck_assert_int_eq(tag_store_detach(ts, test_key(4, 0), &a), -1);
	ck_assert_uint_eq(tag_store_tags(ts), 2);
	ck_assert_int_eq(tag_store_attach(ts, test_key(3, 0), NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* Linux bug: ATS turned off between attach and detach left a stale tag. */
START_TEST(detach_after_ats_disabled_drops_devtlb_tag)
{
	struct host_device dev;
	struct tag_attach a;

	test_device(&dev, 0x40, &units[0], true);
	a = test_attach(&dev, 2, 0, false);
	ck_assert_int_eq(tag_store_attach(ts, test_key(2, 0), &a), 0);
	ck_assert_uint_eq(tag_store_tags(ts), 2);
	dev.ats = false;
	ck_assert_int_eq(tag_store_detach(ts, test_key(2, 0), &a), 0);
	ck_assert_uint_eq(tag_store_tags(ts), 0);
}
END_TEST

static void count_domain(const struct tag_domain *d, void *arg)
{
	(void)d;
	(*(int *)arg)++;
}

static void collect_pasid(const struct cache_tag *t, void *arg)
{
	*(uint32_t *)arg += t->pasid;
}

/* Attachments with and without ATS to one domain: each detach undoes its own. */
START_TEST(mixed_ats_attachments_detach_their_own_tags)
{
	struct host_device dev;
	struct tag_attach a;
	uint32_t sum = 0;

	test_device(&dev, 0x48, &units[0], false);
	a = test_attach(&dev, 6, 0, false);
	ck_assert_int_eq(tag_store_attach(ts, test_key(6, 0), &a), 0);	/* no ATS */
	dev.ats = true;
	ck_assert_int_eq(tag_store_attach(ts, test_key(6, 0), &a), 0);	/* with ATS */
	ck_assert_uint_eq(tag_store_tags(ts), 2);
	/* ATS is on: the ATS attachment goes, the other one stays. */
	ck_assert_int_eq(tag_store_detach(ts, test_key(6, 0), &a), 0);
	ck_assert_uint_eq(tag_store_tags(ts), 1);
	tag_store_read_lock(ts);
	ck_assert_uint_eq(tag_store_each_devtlb(ts, 0, 0x48, true, 0, collect_pasid, &sum), 0);
	tag_store_read_unlock(ts);

	/* And the other way round: the non-ATS one first, the device-TLB tag stays. */
	ck_assert_int_eq(tag_store_attach(ts, test_key(6, 0), &a), 0);	/* with ATS */
	dev.ats = false;
	ck_assert_int_eq(tag_store_detach(ts, test_key(6, 0), &a), 0);	/* the non-ATS one */
	ck_assert_uint_eq(tag_store_tags(ts), 2);
	tag_store_read_lock(ts);
	ck_assert_uint_eq(tag_store_each_devtlb(ts, 0, 0x48, true, 0, collect_pasid, &sum), 1);
	tag_store_read_unlock(ts);
	/* Only ATS attachments left and ATS now off: the tag still goes. */
	ck_assert_int_eq(tag_store_detach(ts, test_key(6, 0), &a), 0);
	ck_assert_uint_eq(tag_store_tags(ts), 0);
	ck_assert_uint_eq(tag_store_domains(ts), 0);
}
END_TEST

START_TEST(each_domain_by_did_and_all)
{
	int n = 0;

	for (uint32_t pasid = 0; pasid < 5; pasid++) {
		struct tag_attach a = test_attach(&devs[0], 9, pasid, true);

		ck_assert_int_eq(tag_store_attach(ts, test_key(9, pasid), &a), 0);
	}
	struct tag_attach b = test_attach(&devs[2], 10, 0, false);
	ck_assert_int_eq(tag_store_attach(ts, test_key(10, 0), &b), 0);

	tag_store_read_lock(ts);
	ck_assert_uint_eq(tag_store_each_domain(ts, 0, false, 9, count_domain, &n), 5);
	ck_assert_int_eq(n, 5);
	ck_assert_uint_eq(tag_store_each_domain(ts, 0, true, 0, count_domain, &n), 6);
	ck_assert_uint_eq(tag_store_each_domain(ts, 1, true, 0, count_domain, &n), 0);
	ck_assert_uint_eq(tag_store_each_domain(ts, 0, false, 11, count_domain, &n), 0);
	tag_store_read_unlock(ts);
}
END_TEST

START_TEST(devtlb_routing_by_guest_sid)
{
	struct tag_attach a = test_attach(&devs[0], 1, 0, true);
	uint32_t sum = 0;

	a.guest_sid = 0x300;	/* the guest numbers its devices its own way */
	ck_assert_int_eq(tag_store_attach(ts, test_key(1, 0), &a), 0);
	a.host_pasid = 7;
	ck_assert_int_eq(tag_store_attach(ts, test_key(1, 7), &a), 0);

	tag_store_read_lock(ts);
	ck_assert_uint_eq(tag_store_each_devtlb(ts, 0, 0x300, false, 7, collect_pasid, &sum), 1);
	ck_assert_uint_eq(sum, 7);
	ck_assert_uint_eq(tag_store_each_devtlb(ts, 0, 0x300, true, 0, collect_pasid, &sum), 2);
	ck_assert_uint_eq(tag_store_each_devtlb(ts, 0, devs[0].sid, true, 0, collect_pasid, &sum), 0);
	tag_store_read_unlock(ts);
	ck_assert_int_eq(tag_store_detach(ts, test_key(1, 7), &a), 0);
	tag_store_read_lock(ts);
	ck_assert_uint_eq(tag_store_each_devtlb(ts, 0, 0x300, true, 0, collect_pasid, &sum), 1);
	tag_store_read_unlock(ts);
}
END_TEST

START_TEST(many_domains_grow_the_tables)
{
	struct tag_attach a = test_attach(&devs[0], 0, 0, true);

	for (uint32_t i = 0; i < 20000; i++) {
		a.host_did = (uint16_t)(i & 0xffff);
		a.host_pasid = i;
		ck_assert_int_eq(tag_store_attach(ts, test_key((uint16_t)(i % 100), i), &a), 0);
	}
	ck_assert_uint_eq(tag_store_domains(ts), 20000);
	tag_store_read_lock(ts);
	for (uint32_t i = 0; i < 20000; i += 997)
		ck_assert_ptr_nonnull(tag_store_find(ts, test_key((uint16_t)(i % 100), i)));
	tag_store_read_unlock(ts);
	for (uint32_t i = 0; i < 20000; i++) {
		a.host_did = (uint16_t)(i & 0xffff);
		a.host_pasid = i;
		ck_assert_int_eq(tag_store_detach(ts, test_key((uint16_t)(i % 100), i), &a), 0);
	}
	ck_assert_uint_eq(tag_store_domains(ts), 0);
	ck_assert_uint_eq(tag_store_tags(ts), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tagstore");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, shared_iotlb_tag_counts_users);
	tcase_add_test(tc, units_and_types_are_separate_tags);
	tcase_add_test(tc, attach_same_device_twice_counts_twice);
	tcase_add_test(tc, detach_unknown_changes_nothing);
	tcase_add_test(tc, detach_after_ats_disabled_drops_devtlb_tag);
	tcase_add_test(tc, mixed_ats_attachments_detach_their_own_tags);
	tcase_add_test(tc, each_domain_by_did_and_all);
	tcase_add_test(tc, devtlb_routing_by_guest_sid);
	tcase_add_test(tc, many_domains_grow_the_tables);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return check_run(s);
}
