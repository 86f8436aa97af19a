// SPDX-License-Identifier: MIT
/*
 * The guest invalidation stream recorder (viommu/guest-trace.c), read back
 * with the replay's own reader: what the guest queued between two tails,
 * wrapping, 256-bit descriptors, vIOMMU switches, descriptors outside RAM,
 * tails the hardware refuses, and the size cap.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "replay/qemu-trace.h"
#include "viommu/guest-trace.h"
#include "vtd/regs.h"
#include "vtd_testutil.h"

#define QUEUE	0x10000ULL	/* one page: QS 0, 256 narrow or 128 wide descriptors */

static struct vm vm;
static char path[64];

static void setup(void)
{
	int fd;

	vtd_test_vm_init(&vm, VTD_TEST_RAM_SIZE);
	snprintf(path, sizeof(path), "/tmp/check_guest_trace.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
	vtd_test_vm_free(&vm);
}

/* Descriptor @i of the queue: qw0 = 0x100 * i + 4 (type 4: wait), qw1..3 = i + 1..3. */
static void fill_queue(bool wide)
{
	uint64_t *q = (uint64_t *)((uint8_t *)vm.mem[0].host + QUEUE);
	unsigned int n = wide ? 128 : 256, words = wide ? 4 : 2;

	for (unsigned int i = 0; i < n; i++)
		for (unsigned int w = 0; w < words; w++)
			q[i * words + w] = w ? i + w : 0x100ULL * i + 4;
}

static int read_back(struct qemu_trace_event *ev, int max, char *err)
{
	FILE *f = fopen(path, "r");
	struct qemu_trace_reader *r;
	int n = 0, rc;

	ck_assert_ptr_nonnull(f);
	r = qemu_trace_open(f);
	while (n < max && (rc = qemu_trace_next(r, &ev[n], err, 256)) == 1)
		n++;
	ck_assert_int_ne(rc, -1);
	qemu_trace_close(r);
	fclose(f);
	return n;
}

START_TEST(records_submissions_between_tails)
{
	struct guest_trace *t = guest_trace_open(path);
	struct qemu_trace_event ev[16];
	char err[256];
	int n;

	ck_assert_ptr_nonnull(t);
	fill_queue(false);
	/* Descriptors 2..4, then a wrap: 255, 0. */
	guest_trace_submission(t, &vm, 0, QUEUE, 2 * 16, 5 * 16);
	guest_trace_submission(t, &vm, 1, QUEUE, 255 * 16, 1 * 16);
	ck_assert_int_eq(guest_trace_close(t), 0);

	n = read_back(ev, 16, err);
	ck_assert_int_eq(n, 8);
	ck_assert_int_eq(ev[0].kind, QEMU_TRACE_TAIL);
	ck_assert_uint_eq(ev[0].tail, 5);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(ev[1 + i].kind, QEMU_TRACE_DESC);
		ck_assert_uint_eq(ev[1 + i].raw.qw[0], 0x100ULL * (2 + i) + 4);
		ck_assert_uint_eq(ev[1 + i].raw.qw[1], 2 + i + 1);
		ck_assert_int_eq(ev[1 + i].wide, 0);
	}
	ck_assert_int_eq(ev[4].kind, QEMU_TRACE_VIOMMU);
	ck_assert_uint_eq(ev[4].viommu, 1);
	ck_assert_int_eq(ev[5].kind, QEMU_TRACE_TAIL);
	ck_assert_uint_eq(ev[5].tail, 1);
	ck_assert_uint_eq(ev[6].raw.qw[0], 0x100ULL * 255 + 4);
	ck_assert_uint_eq(ev[7].raw.qw[0], 4);
}
END_TEST

START_TEST(wide_queue_records_all_256_bits)
{
	struct guest_trace *t = guest_trace_open(path);
	struct qemu_trace_event ev[8];
	char err[256];

	fill_queue(true);
	guest_trace_submission(t, &vm, 0, QUEUE | VTD_IQA_DW, 7 * 32, 8 * 32);
	ck_assert_int_eq(guest_trace_close(t), 0);
	ck_assert_int_eq(read_back(ev, 8, err), 2);
	ck_assert_uint_eq(ev[0].tail, 8);
	ck_assert_int_eq(ev[1].wide, 1);
	ck_assert_uint_eq(ev[1].raw.qw[0], 0x100ULL * 7 + 4);
	ck_assert_uint_eq(ev[1].raw.qw[1], 8);
	ck_assert_uint_eq(ev[1].raw.qw[2], 9);
	ck_assert_uint_eq(ev[1].raw.qw[3], 10);
}
END_TEST

/* A queue outside RAM, a tail past the queue, a misaligned wide tail: tail lines only. */
START_TEST(unreadable_or_refused_submissions_record_no_descriptor)
{
	struct guest_trace *t = guest_trace_open(path);
	struct qemu_trace_event ev[8];
	char err[256];

	guest_trace_submission(t, &vm, 0, VTD_TEST_RAM_SIZE + 0x1000, 0, 3 * 16);
	guest_trace_submission(t, &vm, 0, QUEUE, 0, 0x2000);
	guest_trace_submission(t, &vm, 0, QUEUE | VTD_IQA_DW, 0, 0x10);
	guest_trace_submission(t, &vm, 0, (0ULL - 0x1000) & VTD_IQA_ADDR_MASK, 0, 16);
	ck_assert_int_eq(guest_trace_close(t), 0);
	ck_assert_int_eq(read_back(ev, 8, err), 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ev[i].kind, QEMU_TRACE_TAIL);
}
END_TEST

START_TEST(file_stops_at_the_cap)
{
	struct guest_trace *t = guest_trace_open(path);
	long size;
	FILE *f;
	char line[128] = "";

	guest_trace_set_max_bytes(t, 4096);
	fill_queue(false);
	for (int i = 0; i < 1000; i++)
		guest_trace_submission(t, &vm, 0, QUEUE, 0, 255 * 16);
	ck_assert_int_eq(guest_trace_close(t), 0);
	f = fopen(path, "r");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	/* One submission past the cap at most, then the comment. */
	ck_assert_int_lt(size, 4096 + 255 * 100 + 100);
	fseek(f, -80, SEEK_END);
	while (fgets(line, sizeof(line), f))
		;
	fclose(f);
	ck_assert_msg(strstr(line, "guest trace stopped at 4096 bytes"), "last line: %s", line);
}
END_TEST

START_TEST(null_trace_is_a_no_op)
{
	guest_trace_submission(NULL, &vm, 0, QUEUE, 0, 16);
	ck_assert_int_eq(guest_trace_close(NULL), 0);
	ck_assert_ptr_null(guest_trace_open("/nonexistent-dir/x"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guest_trace");
	TCase *tc = tcase_create("guest_trace");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, records_submissions_between_tails);
	tcase_add_test(tc, wide_queue_records_all_256_bits);
	tcase_add_test(tc, unreadable_or_refused_submissions_record_no_descriptor);
	tcase_add_test(tc, file_stops_at_the_cap);
	tcase_add_test(tc, null_trace_is_a_no_op);
	suite_add_tcase(s, tc);
	return check_run(s);
}
