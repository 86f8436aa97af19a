// SPDX-License-Identifier: MIT
/*
 * Concurrency stress: vCPU-like threads push guest batches through the
 * flush engine while other threads attach and detach devices. Run under
 * ThreadSanitizer by scripts/check.sh (a data race or a use-after-free
 * fails it); under a plain build it checks that nothing is lost: every
 * attach is undone, every batch is counted.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check_main.h"
#include "hostvtd/flush.h"
#include "hostvtd/simvtd.h"
#include "testutil.h"

#define FLUSHERS 4
#define ATTACHERS 3
#define DEVS_PER_ATTACHER 4
#define ROUNDS 1500

static struct simvtd *sim;
static struct tag_store *ts;
static struct flush_engine *fe;
static atomic_int attachers_done;
static atomic_ulong batches;

struct attacher {
	unsigned int id;
	struct host_device devs[DEVS_PER_ATTACHER];
};

static void *attach_loop(void *arg)
{
	struct attacher *at = arg;
	unsigned int seed = at->id;

	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < DEVS_PER_ATTACHER; i++) {
			uint16_t did = (uint16_t)(1 + rand_r(&seed) % 4);
			uint32_t pasid = (uint32_t)(rand_r(&seed) % 3);
			struct tag_attach a = test_attach(&at->devs[i], did, pasid, pasid != 0);

			ck_assert_int_eq(tag_store_attach(ts, test_key(did, pasid), &a), 0);
			if (rand_r(&seed) % 2)
				sched_yield();
			ck_assert_int_eq(tag_store_detach(ts, test_key(did, pasid), &a), 0);
		}
	}
	atomic_fetch_add(&attachers_done, 1);
	return NULL;
}

static void *flush_loop(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg;

	while (atomic_load(&attachers_done) < ATTACHERS) {
		struct vtd_desc reqs[6];
		size_t n = 1 + rand_r(&seed) % 6;

		for (size_t i = 0; i < n; i++) {
			uint16_t did = (uint16_t)(1 + rand_r(&seed) % 4);
			uint32_t pasid = (uint32_t)(rand_r(&seed) % 3);

			switch (rand_r(&seed) % 4) {
			case 0:
				reqs[i] = iotlb_desc(VTD_IOTLB_DOMAIN, did, 0, 0);
				break;
			case 1:
				reqs[i] = pdevtlb_desc((uint16_t)(0x100 + rand_r(&seed) % 16 * 8),
						       pasid, 0x2000, 1);
				break;
			default:
				reqs[i] = piotlb_page(did, pasid, (uint64_t)(rand_r(&seed) % 512) << 12,
						      0, false);
				break;
			}
		}
		ck_assert_int_eq(flush_engine_batch(fe, 0, reqs, n, 1, NULL), 0);
		atomic_fetch_add(&batches, 1);
	}
	return NULL;
}

START_TEST(attach_detach_against_flush)
{
	struct simvtd_config cfg = { .units = 2 };
	pthread_t flushers[FLUSHERS], attachers[ATTACHERS];
	struct attacher at[ATTACHERS];
	struct flush_stats st;

	sim = simvtd_new(&cfg);
	ck_assert_ptr_nonnull(sim);
	ts = tag_store_new();
	fe = flush_engine_new(ts, NULL, NULL);
	for (unsigned int i = 0; i < ATTACHERS; i++) {
		at[i].id = i + 1;
		for (int d = 0; d < DEVS_PER_ATTACHER; d++)
			test_device(&at[i].devs[d], (uint16_t)(0x100 + (i * DEVS_PER_ATTACHER + d) * 8),
				    simvtd_unit(sim, (i + d) % 2), d % 2);
	}
	for (uintptr_t i = 0; i < FLUSHERS; i++)
		ck_assert_int_eq(pthread_create(&flushers[i], NULL, flush_loop, (void *)(i + 100)), 0);
	for (unsigned int i = 0; i < ATTACHERS; i++)
		ck_assert_int_eq(pthread_create(&attachers[i], NULL, attach_loop, &at[i]), 0);
	for (unsigned int i = 0; i < ATTACHERS; i++)
		pthread_join(attachers[i], NULL);
	for (unsigned int i = 0; i < FLUSHERS; i++)
		pthread_join(flushers[i], NULL);

	ck_assert_uint_eq(tag_store_tags(ts), 0);
	ck_assert_uint_eq(tag_store_domains(ts), 0);
	flush_engine_stats(fe, &st);
	ck_assert_uint_eq(st.guest_batches, atomic_load(&batches));
	ck_assert_uint_gt(st.guest_batches, 0);
	ck_assert_uint_eq(st.host_errors, 0);
	flush_engine_free(fe);
	tag_store_free(ts);
	simvtd_free(sim);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("concurrency");

	tcase_add_test(tc, attach_detach_against_flush);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return check_run(s);
}
