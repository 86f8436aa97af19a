// SPDX-License-Identifier: MIT
/* The PIO/MMIO bus: registration, overlap, lookup edges, concurrency. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "vmm/bus.h"

/* Each handler call records where it landed. */
struct probe {
	int calls;
	uint64_t offset;
	unsigned int len;
	bool is_write;
	uint8_t fill;
};

static void probe_fn(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		     bool is_write)
{
	struct probe *p = opaque;

	p->calls++;
	p->offset = offset;
	p->len = len;
	p->is_write = is_write;
	if (!is_write)
		memset(data, p->fill, len);
}

static struct bus b;

static void setup(void)
{
	ck_assert_int_eq(bus_init(&b, "test"), 0);
}

static void teardown(void)
{
	bus_destroy(&b);
}

START_TEST(register_and_dispatch)
{
	struct probe p = { .fill = 0xab };
	uint8_t data[4] = { 0 };

	ck_assert_int_eq(bus_register(&b, 0x100, 8, probe_fn, &p, "p"), 0);
	ck_assert(bus_dispatch(&b, 0x104, data, 4, false));
	ck_assert_int_eq(p.calls, 1);
	ck_assert_uint_eq(p.offset, 4);
	ck_assert_uint_eq(p.len, 4);
	ck_assert(!p.is_write);
	ck_assert_uint_eq(data[0], 0xab);
	ck_assert_uint_eq(data[3], 0xab);
	ck_assert(bus_dispatch(&b, 0x100, data, 1, true));
	ck_assert(p.is_write);
	ck_assert_uint_eq(p.offset, 0);
}
END_TEST

START_TEST(boundaries)
{
	struct probe p = { 0 };
	uint8_t data[8];

	ck_assert_int_eq(bus_register(&b, 0x100, 8, probe_fn, &p, "p"), 0);
	ck_assert(!bus_dispatch(&b, 0xff, data, 1, false));	/* just below */
	ck_assert(bus_dispatch(&b, 0x100, data, 1, false));	/* first byte */
	ck_assert(bus_dispatch(&b, 0x107, data, 1, false));	/* last byte */
	ck_assert_uint_eq(p.offset, 7);
	ck_assert(!bus_dispatch(&b, 0x108, data, 1, false));	/* just above */
	ck_assert(bus_dispatch(&b, 0x100, data, 8, false));	/* exactly the range */
	ck_assert(!bus_dispatch(&b, 0x106, data, 4, false));	/* straddles the end */
	ck_assert(!bus_dispatch(&b, 0xfe, data, 4, false));	/* straddles the start */
	ck_assert(!bus_dispatch(&b, 0x100, data, 0, false));	/* empty access */
	ck_assert_int_eq(p.calls, 3);
}
END_TEST

START_TEST(top_of_space)
{
	struct probe p = { 0 };
	uint8_t data[8];

	ck_assert_int_eq(bus_register(&b, UINT64_MAX - 3, 4, probe_fn, &p, "top"), 0);
	ck_assert(bus_dispatch(&b, UINT64_MAX, data, 1, false));
	ck_assert_uint_eq(p.offset, 3);
	ck_assert(!bus_dispatch(&b, UINT64_MAX, data, 2, false));	/* would wrap */
	ck_assert(bus_dispatch(&b, UINT64_MAX - 3, data, 4, false));
	/* A range that wraps past the top is refused. */
	ck_assert_int_eq(bus_register(&b, UINT64_MAX - 1, 4, probe_fn, &p, "wrap"), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(overlap_refused)
{
	struct probe p = { 0 };

	ck_assert_int_eq(bus_register(&b, 0x100, 0x10, probe_fn, &p, "a"), 0);
	ck_assert_int_eq(bus_register(&b, 0x200, 0x10, probe_fn, &p, "b"), 0);
	ck_assert_int_eq(bus_register(&b, 0x10f, 1, probe_fn, &p, "x"), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(bus_register(&b, 0xf0, 0x11, probe_fn, &p, "x"), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(bus_register(&b, 0x1f8, 0x10, probe_fn, &p, "x"), -1);
	ck_assert_int_eq(bus_register(&b, 0x0, 0x1000, probe_fn, &p, "x"), -1);	/* covers both */
	ck_assert_int_eq(bus_register(&b, 0x100, 0x10, probe_fn, &p, "x"), -1);	/* same */
	ck_assert_int_eq(bus_register(&b, 0x108, 2, probe_fn, &p, "x"), -1);	/* inside */
	/* Adjacent on both sides is fine. */
	ck_assert_int_eq(bus_register(&b, 0xf0, 0x10, probe_fn, &p, "c"), 0);
	ck_assert_int_eq(bus_register(&b, 0x110, 0xf0, probe_fn, &p, "d"), 0);
	ck_assert_uint_eq(b.n, 4);
	ck_assert_int_eq(bus_register(&b, 0x300, 0, probe_fn, &p, "empty"), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(unregister)
{
	struct probe p = { 0 }, q = { 0 };
	uint8_t data[1];

	ck_assert_int_eq(bus_register(&b, 0x100, 0x10, probe_fn, &p, "p"), 0);
	ck_assert_int_eq(bus_register(&b, 0x200, 0x10, probe_fn, &q, "q"), 0);
	ck_assert_int_eq(bus_unregister(&b, 0x100, &q), -1);	/* not q's */
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(bus_unregister(&b, 0x101, &p), -1);	/* not the base */
	ck_assert_int_eq(bus_unregister(&b, 0x100, &p), 0);
	ck_assert(!bus_dispatch(&b, 0x100, data, 1, false));
	ck_assert(bus_dispatch(&b, 0x200, data, 1, false));
	ck_assert_int_eq(q.calls, 1);
	/* The freed range can be taken again (a moved BAR). */
	ck_assert_int_eq(bus_register(&b, 0x108, 0x10, probe_fn, &q, "q2"), 0);
	ck_assert_int_eq(bus_unregister(&b, 0x100, &p), -1);
}
END_TEST

START_TEST(many_ranges)
{
	enum { N = 1000 };
	static struct probe p[N];
	uint8_t data[4];

	/* Registered out of order: every third, then the rest. */
	for (int pass = 0; pass < 3; pass++)
		for (int i = pass; i < N; i += 3)
			ck_assert_int_eq(bus_register(&b, 0x1000 + i * 0x10, 8, probe_fn, &p[i],
						      "r"), 0);
	ck_assert_uint_eq(b.n, N);
	for (size_t i = 1; i < b.n; i++)
		ck_assert_uint_lt(b.ranges[i - 1].base, b.ranges[i].base);
	for (int i = 0; i < N; i++) {
		ck_assert(bus_dispatch(&b, 0x1000 + i * 0x10 + 4, data, 4, true));
		ck_assert(!bus_dispatch(&b, 0x1000 + i * 0x10 + 8, data, 1, true));	/* gap */
		ck_assert_int_eq(p[i].calls, 1);
		ck_assert_uint_eq(p[i].offset, 4);
	}
	for (int i = 0; i < N; i += 2)
		ck_assert_int_eq(bus_unregister(&b, 0x1000 + i * 0x10, &p[i]), 0);
	for (int i = 0; i < N; i++)
		ck_assert(bus_dispatch(&b, 0x1000 + i * 0x10, data, 1, false) == (i % 2 == 1));
}
END_TEST

/* Readers keep dispatching to a fixed range while a writer adds and removes others. */
static atomic_bool stop_readers;
static atomic_long reader_errors;

static void count_fn(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		     bool is_write)
{
	(void)offset;
	(void)is_write;
	atomic_fetch_add((atomic_long *)opaque, 1);
	memset(data, 0x11, len);
}

static void *reader(void *arg)
{
	uint8_t data[4];

	(void)arg;
	while (!atomic_load(&stop_readers)) {
		if (!bus_dispatch(&b, 0x8000, data, 4, false) || data[0] != 0x11)
			atomic_fetch_add(&reader_errors, 1);
	}
	return NULL;
}

START_TEST(concurrent_readers)
{
	static atomic_long fixed_calls, other_calls;
	pthread_t t[4];

	ck_assert_int_eq(bus_register(&b, 0x8000, 4, count_fn, &fixed_calls, "fixed"), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader, NULL), 0);
	/* Let the readers get going, so the writer really runs against them. */
	while (atomic_load(&fixed_calls) < 1000)
		sched_yield();
	for (int round = 0; round < 2000; round++) {
		/* Ranges on both sides, so the fixed one moves in the array. */
		uint64_t base = (round % 2) ? 0x100 + round * 8 : 0x10000 + round * 8;

		ck_assert_int_eq(bus_register(&b, base, 8, count_fn, &other_calls, "o"), 0);
		if (round % 3 == 0)
			ck_assert_int_eq(bus_unregister(&b, base, &other_calls), 0);
	}
	atomic_store(&stop_readers, true);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(atomic_load(&reader_errors), 0);
	ck_assert_int_gt(atomic_load(&fixed_calls), 0);
}
END_TEST

/* A handler that moves itself, as an ECAM write moving a BAR would. */
static void mover_fn(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		     bool is_write)
{
	(void)offset;
	(void)data;
	(void)len;
	if (is_write) {
		ck_assert_int_eq(bus_unregister(&b, 0x100, opaque), 0);
		ck_assert_int_eq(bus_register(&b, 0x200, 4, mover_fn, opaque, "moved"), 0);
	}
}

START_TEST(handler_may_reregister)
{
	uint8_t data[1] = { 0 };
	int token;

	ck_assert_int_eq(bus_register(&b, 0x100, 4, mover_fn, &token, "mover"), 0);
	ck_assert(bus_dispatch(&b, 0x100, data, 1, true));
	ck_assert(!bus_dispatch(&b, 0x100, data, 1, false));
	ck_assert(bus_dispatch(&b, 0x200, data, 1, false));
}
END_TEST

START_TEST(destroy_twice)
{
	struct bus zero;

	memset(&zero, 0, sizeof(zero));
	bus_destroy(&zero);	/* never initialised */
	bus_destroy(&b);
	bus_destroy(&b);
	ck_assert_int_eq(bus_init(&b, NULL), 0);	/* teardown destroys it again */
	ck_assert_str_eq(b.name, "bus");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("bus");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, register_and_dispatch);
	tcase_add_test(tc, boundaries);
	tcase_add_test(tc, top_of_space);
	tcase_add_test(tc, overlap_refused);
	tcase_add_test(tc, unregister);
	tcase_add_test(tc, many_ranges);
	tcase_add_test(tc, concurrent_readers);
	tcase_add_test(tc, handler_may_reregister);
	tcase_add_test(tc, destroy_twice);
	suite_add_tcase(s, tc);
	return check_run(s);
}
