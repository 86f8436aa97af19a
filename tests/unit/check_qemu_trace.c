// SPDX-License-Identifier: MIT
/*
 * Unit tests for the QEMU VT-d trace reader (replay/qemu-trace.c).
 *
 * The real trace in tests/data is checked against the numbers its README
 * states, which were counted independently of this parser; the hand-written
 * inputs cover every way a line can be malformed.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "replay/qemu-trace.h"

#define TRACE_NAME	"tests/data/qemu-nvme-sm.trace"
#define MAX_EVENTS	16

struct run {
	int ret;			/* last qemu_trace_next() result */
	int nev;
	struct qemu_trace_event ev[MAX_EVENTS];
	char err[256];
	unsigned long lines, skipped;
};

static FILE *open_mem(const char *buf, size_t len)
{
	FILE *f = fmemopen((void *)buf, len, "r");

	ck_assert_msg(f, "fmemopen failed");
	return f;
}

/* Read @len bytes of @buf to the end or the first error. */
static void run_buf(const char *buf, size_t len, struct run *out)
{
	struct qemu_trace_event ev;
	struct qemu_trace_reader *r;
	FILE *f = open_mem(buf, len);

	memset(out, 0, sizeof(*out));
	r = qemu_trace_open(f);
	ck_assert_ptr_nonnull(r);
	while ((out->ret = qemu_trace_next(r, &ev, out->err, sizeof(out->err))) == 1) {
		ck_assert_int_lt(out->nev, MAX_EVENTS);
		out->ev[out->nev++] = ev;
	}
	out->lines = qemu_trace_lines(r);
	out->skipped = qemu_trace_skipped(r);
	qemu_trace_close(r);
	fclose(f);
}

static void run_str(const char *s, struct run *out)
{
	run_buf(s, strlen(s), out);
}

static void assert_tail(const struct qemu_trace_event *ev, unsigned long line, uint32_t tail)
{
	ck_assert_int_eq(ev->kind, QEMU_TRACE_TAIL);
	ck_assert_uint_eq(ev->line, line);
	ck_assert_uint_eq(ev->tail, tail);
}

static void assert_desc(const struct qemu_trace_event *ev, unsigned long line, uint64_t qw0,
			uint64_t qw1, int invalid)
{
	ck_assert_int_eq(ev->kind, QEMU_TRACE_DESC);
	ck_assert_uint_eq(ev->line, line);
	ck_assert_uint_eq(ev->raw.qw[0], qw0);
	ck_assert_uint_eq(ev->raw.qw[1], qw1);
	ck_assert_uint_eq(ev->raw.qw[2], 0);
	ck_assert_uint_eq(ev->raw.qw[3], 0);
	ck_assert_int_eq(ev->invalid, invalid);
}

/* ---- the real trace ---- */

/* `make check` exports top_srcdir; by hand, try the usual spots. */
static FILE *open_real_trace(void)
{
	const char *dirs[] = { getenv("top_srcdir"), ".", "..", "../.." };
	char path[4096];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		FILE *f;

		if (!dirs[i])
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirs[i], TRACE_NAME);
		f = fopen(path, "r");
		if (f)
			return f;
	}
	ck_abort_msg("%s not found: set top_srcdir to the source tree", TRACE_NAME);
	return NULL;
}

struct trace_stats {
	unsigned long descs, tails, by_type[16];
	unsigned long page_am[64];
	unsigned long advance_sum, short_groups, tail_zero_lines[4], ntail_zero;
};

/*
 * A tail line comes before the descriptors it made QEMU process, so the
 * advance it announces is settled against the descriptors that follow it,
 * when the next tail line (or the end) arrives.
 */
struct group {
	uint32_t prev_tail;
	uint32_t advance;
	unsigned long descs;
};

static void settle_group(struct trace_stats *st, const struct group *g)
{
	if (g->advance > g->descs)
		st->short_groups++;
}

static void account_tail(struct trace_stats *st, const struct qemu_trace_event *ev,
			 struct group *g)
{
	settle_group(st, g);
	g->advance = st->tails ? (ev->tail - g->prev_tail) % 256 : 0;
	g->prev_tail = ev->tail;
	g->descs = 0;
	st->advance_sum += g->advance;
	if (ev->tail == 0 && st->ntail_zero < 4)
		st->tail_zero_lines[st->ntail_zero++] = ev->line;
	st->tails++;
}

static void account_desc(struct trace_stats *st, const struct qemu_trace_event *ev)
{
	unsigned int type = ev->raw.qw[0] & 0xf;

	ck_assert_int_eq(ev->invalid, 0);
	ck_assert_uint_eq(ev->raw.qw[2], 0);
	ck_assert_uint_eq(ev->raw.qw[3], 0);
	st->by_type[type]++;
	/* IOTLB page-selective: granularity (qw0 5:4) 3, AM in qw1 5:0 */
	if (type == 2 && ((ev->raw.qw[0] >> 4) & 3) == 3)
		st->page_am[ev->raw.qw[1] & 0x3f]++;
	if (type == 5)
		ck_assert_uint_eq(ev->raw.qw[0], 0x200000025);
	st->descs++;
}

/* Also checks the first three events and that the tail leads the descriptors. */
static void read_real_trace(struct trace_stats *st, unsigned long *lines, unsigned long *skipped)
{
	struct qemu_trace_event ev;
	struct qemu_trace_reader *r;
	struct group g = { 0 };
	char err[256] = "";
	FILE *f = open_real_trace();
	int ret;

	memset(st, 0, sizeof(*st));
	r = qemu_trace_open(f);
	ck_assert_ptr_nonnull(r);
	while ((ret = qemu_trace_next(r, &ev, err, sizeof(err))) == 1) {
		unsigned long n = st->descs + st->tails;

		if (n == 0)
			assert_tail(&ev, 1, 0);
		else if (n == 1)
			assert_tail(&ev, 2, 2);
		else if (n == 2)
			assert_desc(&ev, 3, 0x11, 0, 0);
		if (ev.kind == QEMU_TRACE_TAIL) {
			account_tail(st, &ev, &g);
		} else {
			ck_assert_uint_gt(st->tails, 0);
			account_desc(st, &ev);
			g.descs++;
		}
	}
	ck_assert_msg(ret == 0, "unexpected error: %s", err);
	settle_group(st, &g);
	*lines = qemu_trace_lines(r);
	*skipped = qemu_trace_skipped(r);
	qemu_trace_close(r);
	fclose(f);
}

START_TEST(test_real_trace_counts)
{
	struct trace_stats st;
	unsigned long lines, skipped;

	read_real_trace(&st, &lines, &skipped);
	ck_assert_uint_eq(lines, 1494);
	ck_assert_uint_eq(st.descs, 593);
	ck_assert_uint_eq(st.tails, 303);
	ck_assert_uint_eq(skipped, 1494 - 593 - 303);
	ck_assert_uint_eq(st.by_type[1], 6);	/* context-cache: 1 global + 5 device */
	ck_assert_uint_eq(st.by_type[2], 285);	/* IOTLB: 1 global + 5 domain + 279 page */
	ck_assert_uint_eq(st.by_type[5], 302);	/* wait */
	ck_assert_uint_eq(st.by_type[1] + st.by_type[2] + st.by_type[5], st.descs);
}
END_TEST

START_TEST(test_real_trace_details)
{
	static const unsigned long am[6] = { 101, 26, 51, 26, 51, 24 };
	struct trace_stats st;
	unsigned long lines, skipped, pages = 0;

	read_real_trace(&st, &lines, &skipped);
	for (unsigned int i = 0; i < 64; i++) {
		if (i < 6)
			ck_assert_uint_eq(st.page_am[i], am[i]);
		else
			ck_assert_uint_eq(st.page_am[i], 0);
		pages += st.page_am[i];
	}
	ck_assert_uint_eq(pages, 279);
	/* 604 slots queued, 11 of them untraced PASID-cache / P_IOTLB */
	ck_assert_uint_eq(st.advance_sum, 604);
	ck_assert_uint_eq(st.short_groups, 11);
	ck_assert_uint_eq(st.ntail_zero, 3);
	ck_assert_uint_eq(st.tail_zero_lines[0], 1);
	ck_assert_uint_eq(st.tail_zero_lines[1], 620);
	ck_assert_uint_eq(st.tail_zero_lines[2], 1260);
}
END_TEST

/* ---- well-formed lines ---- */

START_TEST(test_desc_high_low)
{
	struct run r;

	run_str("vtd_inv_desc invalidate desc type iotlb high 0xfffd8002 low 0x300f2\n"
		"vtd_inv_desc invalidate desc type x high 0xffffffffffffffff low 0x0\n"
		"vtd_inv_desc invalidate desc type iotlb high 0x0000000000000000001 low 0xABCdef\n",
		&r);
	ck_assert_int_eq(r.ret, 0);
	ck_assert_int_eq(r.nev, 3);
	assert_desc(&r.ev[0], 1, 0x300f2, 0xfffd8002, 0);
	assert_desc(&r.ev[1], 2, 0, UINT64_MAX, 0);
	assert_desc(&r.ev[2], 3, 0xabcdef, 1, 0);
	ck_assert_uint_eq(r.skipped, 0);
}
END_TEST

START_TEST(test_desc_invalid_event)
{
	struct run r;

	run_str("vtd_inv_desc_invalid invalid inv desc hi 0x12 lo 0xf\n", &r);
	ck_assert_int_eq(r.ret, 0);
	ck_assert_int_eq(r.nev, 1);
	assert_desc(&r.ev[0], 1, 0xf, 0x12, 1);
}
END_TEST

START_TEST(test_tail_range)
{
	struct run r;

	run_str("vtd_inv_qi_tail write tail 0\n"
		"vtd_inv_qi_tail write tail 4294967295\n"
		"vtd_inv_qi_tail write tail 007\n", &r);
	ck_assert_int_eq(r.ret, 0);
	ck_assert_int_eq(r.nev, 3);
	assert_tail(&r.ev[0], 1, 0);
	assert_tail(&r.ev[1], 2, UINT32_MAX);
	assert_tail(&r.ev[2], 3, 7);
}
END_TEST

START_TEST(test_timestamp_prefix)
{
	struct run r;

	run_str("12637@1795469433.090063:vtd_inv_qi_tail write tail 0\n"
		"12637@1795469433.090070:vtd_inv_desc invalidate desc type wait high 0x1d7ca804 low 0x200000025\n"
		"1@2.3:   vtd_inv_qi_tail write tail 2\n"
		/* not a prefix, so the event name is not ours */
		"12637@x.1:vtd_inv_qi_tail write tail 9\n"
		"12637@1.:vtd_inv_qi_tail write tail 9\n"
		"@1.2:vtd_inv_qi_tail write tail 9\n"
		"1@2.3vtd_inv_qi_tail write tail 9\n"
		/* a prefix does not excuse a malformed event */
		"1@2.3:vtd_inv_qi_tail write tail x\n", &r);
	ck_assert_int_eq(r.ret, -1);
	ck_assert_int_eq(r.nev, 3);
	assert_tail(&r.ev[0], 1, 0);
	assert_desc(&r.ev[1], 2, 0x200000025, 0x1d7ca804, 0);
	assert_tail(&r.ev[2], 3, 2);
	ck_assert_uint_eq(r.skipped, 4);
	ck_assert_str_eq(r.err, "line 8: malformed vtd_inv_qi_tail: tail: expected a decimal number");
}
END_TEST

START_TEST(test_unrelated_lines_skipped)
{
	struct run r;

	run_str("\n"
		"vtd_inv_desc_iotlb_pages iotlb invalidate domain 0x3 addr 0xfffff000 mask 0x0\n"
		"vtd_inv_desc_wait_sw wait invalidate status write addr 0x1d7ca804 data 0x2\n"
		"vtd_inv_desc_wait_write_fail write fail for wait desc hi 0x1 lo 0x2\n"
		"vtd_inv_qi_fetch \n"
		"vtd_inv_qi_head read head 3\n"
		"vtd_warn_invalid_qi_tail tail 0x5\n"
		"vtd_inv_descx invalidate desc type iotlb high 0x0 low 0x1\n"
		"vtd_inv_qi_tails write tail 1\n"
		"vtd_inv_des invalidate desc type iotlb high 0x0 low 0x1\n"
		" vtd_inv_qi_tail write tail 1\n"
		"qemu-system-x86_64: terminating on signal 15\n"
		"vtd_inv_qi_tail write tail 4\n", &r);
	ck_assert_int_eq(r.ret, 0);
	ck_assert_int_eq(r.nev, 1);
	assert_tail(&r.ev[0], 13, 4);
	ck_assert_uint_eq(r.lines, 13);
	ck_assert_uint_eq(r.skipped, 12);
}
END_TEST

/* CRLF is accepted: one \r right before the \n is dropped. */
START_TEST(test_crlf)
{
	struct run r;

	run_str("vtd_inv_qi_tail write tail 5\r\n"
		"vtd_inv_desc invalidate desc type iotlb high 0x0 low 0xd2\r\n"
		"\r\n"
		"vtd_inv_qi_tail write tail 6\r\r\n", &r);
	ck_assert_int_eq(r.ret, -1);
	ck_assert_int_eq(r.nev, 2);
	assert_tail(&r.ev[0], 1, 5);
	assert_desc(&r.ev[1], 2, 0xd2, 0, 0);
	ck_assert_uint_eq(r.skipped, 1);
	ck_assert_str_eq(r.err, "line 4: malformed vtd_inv_qi_tail: trailing garbage");
}
END_TEST

START_TEST(test_empty_input)
{
	struct qemu_trace_event ev;
	struct qemu_trace_reader *r;
	char err[64] = "untouched";
	FILE *f = fopen("/dev/null", "r");
	struct run run;

	ck_assert_ptr_nonnull(f);
	r = qemu_trace_open(f);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(qemu_trace_next(r, &ev, err, sizeof(err)), 0);
	ck_assert_int_eq(qemu_trace_next(r, &ev, err, sizeof(err)), 0);
	ck_assert_uint_eq(qemu_trace_lines(r), 0);
	ck_assert_uint_eq(qemu_trace_skipped(r), 0);
	ck_assert_str_eq(err, "untouched");
	qemu_trace_close(r);
	fclose(f);

	run_str("\n\n", &run);
	ck_assert_int_eq(run.ret, 0);
	ck_assert_int_eq(run.nev, 0);
	ck_assert_uint_eq(run.lines, 2);
	ck_assert_uint_eq(run.skipped, 2);
}
END_TEST

/* tagvmm's own lines: the vIOMMU of what follows, a descriptor's upper half. */
START_TEST(test_tagvmm_extensions)
{
	struct run r;

	run_str("tagvmm_viommu 2\n"
		"tagvmm_inv_desc_upper qw2 0x5 qw3 0x6\n"
		"vtd_inv_desc_iotlb_pages something QEMU logs in between\n"
		"vtd_inv_desc invalidate desc type piotlb high 0x1 low 0x2\n"
		"vtd_inv_desc invalidate desc type wait high 0x3 low 0x4\n", &r);
	ck_assert_int_eq(r.ret, 0);
	ck_assert_int_eq(r.nev, 3);
	ck_assert_int_eq(r.ev[0].kind, QEMU_TRACE_VIOMMU);
	ck_assert_uint_eq(r.ev[0].viommu, 2);
	ck_assert_int_eq(r.ev[1].kind, QEMU_TRACE_DESC);
	ck_assert_uint_eq(r.ev[1].line, 4);
	ck_assert_int_eq(r.ev[1].wide, 1);
	ck_assert_uint_eq(r.ev[1].raw.qw[0], 2);
	ck_assert_uint_eq(r.ev[1].raw.qw[1], 1);
	ck_assert_uint_eq(r.ev[1].raw.qw[2], 5);
	ck_assert_uint_eq(r.ev[1].raw.qw[3], 6);
	assert_desc(&r.ev[2], 5, 4, 3, 0);
	ck_assert_int_eq(r.ev[2].wide, 0);
	ck_assert_uint_eq(r.skipped, 1);
	ck_assert_uint_eq(r.lines, 5);	/* 3 events, the upper half, 1 skipped */
}
END_TEST

/* An upper half must be followed by its descriptor, not by anything else. */
START_TEST(test_upper_without_descriptor)
{
	static const struct {
		const char *input, *err;
	} cases[] = {
		{ "tagvmm_inv_desc_upper qw2 0x1 qw3 0x2\nvtd_inv_qi_tail write tail 2\n",
		  "line 2: the upper half on line 1 has no descriptor line after it" },
		{ "tagvmm_inv_desc_upper qw2 0x1 qw3 0x2\ntagvmm_viommu 1\n",
		  "line 2: the upper half on line 1 has no descriptor line after it" },
		{ "tagvmm_inv_desc_upper qw2 0x1 qw3 0x2\ntagvmm_inv_desc_upper qw2 0x1 qw3 0x2\n",
		  "line 2: the upper half on line 1 has no descriptor line after it" },
		{ "vtd_inv_qi_tail write tail 2\ntagvmm_inv_desc_upper qw2 0x1 qw3 0x2\n",
		  "line 2: the upper half on line 2 has no descriptor line after it" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;

		run_str(cases[i].input, &r);
		ck_assert_int_eq(r.ret, -1);
		ck_assert_str_eq(r.err, cases[i].err);
	}
}
END_TEST

/* ---- malformed lines ---- */

static const struct {
	const char *line;
	const char *err;	/* after "line 3: malformed " */
} malformed[] = {
	{ "vtd_inv_desc", "vtd_inv_desc: expected 'invalidate desc type'" },
	{ "vtd_inv_desc ", "vtd_inv_desc: expected 'invalidate desc type'" },
	{ "vtd_inv_desc  invalidate desc type iotlb high 0x0 low 0x1",
	  "vtd_inv_desc: expected 'invalidate desc type'" },
	{ "vtd_inv_desc invalidate desc type", "vtd_inv_desc: expected 'invalidate desc type'" },
	{ "vtd_inv_desc invalidate desc type ", "vtd_inv_desc: missing type name" },
	{ "vtd_inv_desc invalidate desc type  high 0x0 low 0x1", "vtd_inv_desc: missing type name" },
	{ "vtd_inv_desc invalidate desc type iotlb", "vtd_inv_desc: expected 'high'" },
	{ "vtd_inv_desc invalidate desc type iotlb low 0x1 high 0x0", "vtd_inv_desc: expected 'high'" },
	{ "vtd_inv_desc invalidate desc type iotlb high", "vtd_inv_desc: expected 'high'" },
	{ "vtd_inv_desc invalidate desc type iotlb high ", "vtd_inv_desc: high: expected 0x" },
	{ "vtd_inv_desc invalidate desc type iotlb high 12 low 0x1", "vtd_inv_desc: high: expected 0x" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0X1 low 0x1", "vtd_inv_desc: high: expected 0x" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x low 0x1", "vtd_inv_desc: high: no hex digits" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0xg low 0x1", "vtd_inv_desc: high: no hex digits" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x1g low 0x1", "vtd_inv_desc: expected 'low'" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x0", "vtd_inv_desc: expected 'low'" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x0 low", "vtd_inv_desc: expected 'low'" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x0 low ", "vtd_inv_desc: low: expected 0x" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x0 low -0x1", "vtd_inv_desc: low: expected 0x" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x0 low 0x", "vtd_inv_desc: low: no hex digits" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x0 low 0x1 ", "vtd_inv_desc: trailing garbage" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x0 low 0x1 x", "vtd_inv_desc: trailing garbage" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x0 low 0x1\t", "vtd_inv_desc: trailing garbage" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x10000000000000000 low 0x1",
	  "vtd_inv_desc: high: hex value wider than 64 bits" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x0 low 0x1ffffffffffffffff",
	  "vtd_inv_desc: low: hex value wider than 64 bits" },
	{ "vtd_inv_desc invalidate desc type iotlb high 0x0 low 0xffffffffffffffffffffffffffffffff",
	  "vtd_inv_desc: low: hex value wider than 64 bits" },
	{ "vtd_inv_desc_invalid", "vtd_inv_desc_invalid: expected 'invalid inv desc hi'" },
	{ "vtd_inv_desc_invalid invalid inv desc hi 0x1", "vtd_inv_desc_invalid: expected 'lo'" },
	{ "vtd_inv_desc_invalid invalid inv desc hi 0x1 lo 0xz",
	  "vtd_inv_desc_invalid: lo: no hex digits" },
	{ "vtd_inv_desc_invalid invalid inv desc hi 0x11111111111111111 lo 0x1",
	  "vtd_inv_desc_invalid: hi: hex value wider than 64 bits" },
	{ "vtd_inv_desc_invalid invalid inv desc hi 0x1 lo 0x2 3",
	  "vtd_inv_desc_invalid: trailing garbage" },
	{ "vtd_inv_qi_tail", "vtd_inv_qi_tail: expected 'write tail'" },
	{ "vtd_inv_qi_tail write tail", "vtd_inv_qi_tail: expected 'write tail'" },
	{ "vtd_inv_qi_tail write tail ", "vtd_inv_qi_tail: tail: expected a decimal number" },
	{ "vtd_inv_qi_tail write tail -1", "vtd_inv_qi_tail: tail: expected a decimal number" },
	{ "vtd_inv_qi_tail write tail 0x10", "vtd_inv_qi_tail: trailing garbage" },
	{ "vtd_inv_qi_tail write tail 12 ", "vtd_inv_qi_tail: trailing garbage" },
	{ "vtd_inv_qi_tail write tail 4294967296",
	  "vtd_inv_qi_tail: tail out of range (over 4294967295)" },
	{ "vtd_inv_qi_tail write tail 99999999999999999999999999999",
	  "vtd_inv_qi_tail: tail out of range (over 4294967295)" },
	{ "1@2.3:vtd_inv_desc invalidate desc type iotlb high 0x0 low",
	  "vtd_inv_desc: expected 'low'" },
	{ "tagvmm_viommu", "tagvmm_viommu: expected a vIOMMU number" },
	{ "tagvmm_viommu ", "tagvmm_viommu: vIOMMU: expected a decimal number" },
	{ "tagvmm_viommu 1 ", "tagvmm_viommu: trailing garbage" },
	{ "tagvmm_viommu 65536", "tagvmm_viommu: vIOMMU out of range (over 65535)" },
	{ "tagvmm_inv_desc_upper", "tagvmm_inv_desc_upper: expected 'qw2'" },
	{ "tagvmm_inv_desc_upper qw2 0x1", "tagvmm_inv_desc_upper: expected 'qw3'" },
	{ "tagvmm_inv_desc_upper qw2 0x1 qw3 0x", "tagvmm_inv_desc_upper: qw3: no hex digits" },
	{ "tagvmm_inv_desc_upper qw2 0x1 qw3 0x2 x", "tagvmm_inv_desc_upper: trailing garbage" },
};

/* Each malformed line sits on line 3, after a good event and a skipped line. */
START_TEST(test_malformed)
{
	const char *line = malformed[_i].line;
	char input[512], want[512];
	struct run r;

	snprintf(input, sizeof(input),
		 "vtd_inv_qi_tail write tail 2\n"
		 "vtd_inv_desc_cc_global context invalidate globally\n"
		 "%s\n"
		 "vtd_inv_qi_tail write tail 4\n", line);
	snprintf(want, sizeof(want), "line 3: malformed %s", malformed[_i].err);
	run_str(input, &r);
	ck_assert_msg(r.ret == -1, "accepted: '%s'", line);
	ck_assert_int_eq(r.nev, 1);
	assert_tail(&r.ev[0], 1, 2);
	ck_assert_str_eq(r.err, want);
	ck_assert_uint_eq(r.lines, 3);
}
END_TEST

/* After an error the reader keeps failing with the same message. */
START_TEST(test_error_is_sticky)
{
	static const char input[] = "vtd_inv_qi_tail write tail x\nvtd_inv_qi_tail write tail 2\n";
	struct qemu_trace_event ev;
	struct qemu_trace_reader *r;
	char err[128], err2[128];
	FILE *f = open_mem(input, sizeof(input) - 1);

	r = qemu_trace_open(f);
	ck_assert_int_eq(qemu_trace_next(r, &ev, err, sizeof(err)), -1);
	ck_assert_int_eq(qemu_trace_next(r, &ev, err2, sizeof(err2)), -1);
	ck_assert_str_eq(err, err2);
	ck_assert_uint_eq(qemu_trace_lines(r), 1);
	/* A caller that does not want the text must still get -1, not a crash. */
	ck_assert_int_eq(qemu_trace_next(r, &ev, NULL, 0), -1);
	/* A short buffer gets a truncated, terminated message. */
	ck_assert_int_eq(qemu_trace_next(r, &ev, err2, 7), -1);
	ck_assert_str_eq(err2, "line 1");
	qemu_trace_close(r);
	fclose(f);
}
END_TEST

START_TEST(test_truncated_last_line)
{
	static const char *const inputs[] = {
		"vtd_inv_qi_tail write tail 2",
		"vtd_inv_qi_tail write tail 2\r",
		"vtd_inv_desc invalidate desc type iotlb high 0x0 low 0xd2",
		"unrelated text",
		"vtd_inv_qi_tail write tail x",
	};
	struct run r;

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		run_str(inputs[i], &r);
		ck_assert_int_eq(r.ret, -1);
		ck_assert_int_eq(r.nev, 0);
		ck_assert_str_eq(r.err, "line 1: truncated last line");
	}

	run_str("vtd_inv_qi_tail write tail 2\nvtd_inv_desc_cc_global context inv", &r);
	ck_assert_int_eq(r.ret, -1);
	ck_assert_int_eq(r.nev, 1);
	ck_assert_str_eq(r.err, "line 2: truncated last line");
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char in1[] = "vtd_inv_qi_tail write tail 2\nvtd_inv_qi_tail write\0tail 4\n";
	static const char in2[] = "\0\n";
	static const char in3[] = "vtd_inv_desc_cc_global context invalidate globally\0";
	struct run r;

	run_buf(in1, sizeof(in1) - 1, &r);
	ck_assert_int_eq(r.ret, -1);
	ck_assert_int_eq(r.nev, 1);
	ck_assert_str_eq(r.err, "line 2: NUL byte in line");

	/* Even in a line that would be skipped. */
	run_buf(in2, sizeof(in2) - 1, &r);
	ck_assert_int_eq(r.ret, -1);
	ck_assert_str_eq(r.err, "line 1: NUL byte in line");

	run_buf(in3, sizeof(in3) - 1, &r);
	ck_assert_int_eq(r.ret, -1);
	ck_assert_str_eq(r.err, "line 1: NUL byte in line");
}
END_TEST

#define MB (1024 * 1024)

/* Append @s at @p, return the new end. */
static char *put(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

START_TEST(test_long_lines)
{
	char *buf = malloc(4 * MB), *p = buf;
	struct run r;

	ck_assert_ptr_nonnull(buf);
	/* 1 MB of unrelated text */
	memset(p, 'x', MB);
	p = put(p + MB, "\n");
	/* a 1 MB type name */
	p = put(p, "vtd_inv_desc invalidate desc type ");
	memset(p, 't', MB);
	p = put(p + MB, " high 0x1 low 0x2\n");
	/* 1 MB of leading zeros is still a 64-bit value */
	p = put(p, "vtd_inv_desc invalidate desc type iotlb high 0x");
	memset(p, '0', MB);
	p = put(p + MB, "ff low 0x3\n");
	p = put(p, "vtd_inv_qi_tail write tail 9\n");
	run_buf(buf, (size_t)(p - buf), &r);
	ck_assert_msg(r.ret == 0, "%s", r.err);
	ck_assert_int_eq(r.nev, 3);
	assert_desc(&r.ev[0], 2, 0x2, 0x1, 0);
	assert_desc(&r.ev[1], 3, 0x3, 0xff, 0);
	assert_tail(&r.ev[2], 4, 9);
	ck_assert_uint_eq(r.skipped, 1);

	/* 1 MB of hex digits must fail cleanly, not overflow */
	p = put(buf, "vtd_inv_desc invalidate desc type iotlb high 0x0 low 0x");
	memset(p, 'f', MB);
	p = put(p + MB, "\n");
	run_buf(buf, (size_t)(p - buf), &r);
	ck_assert_int_eq(r.ret, -1);
	ck_assert_str_eq(r.err, "line 1: malformed vtd_inv_desc: low: hex value wider than 64 bits");
	free(buf);
}
END_TEST

/* A stream opened for writing only: getline fails with a stream error. */
START_TEST(test_read_error)
{
	struct qemu_trace_event ev;
	struct qemu_trace_reader *r;
	char err[128];
	FILE *f = fopen("/dev/null", "w");

	ck_assert_ptr_nonnull(f);
	r = qemu_trace_open(f);
	ck_assert_int_eq(qemu_trace_next(r, &ev, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "line 1: read error: ", 20) == 0, "got '%s'", err);
	ck_assert_int_eq(qemu_trace_next(r, &ev, err, sizeof(err)), -1);
	qemu_trace_close(r);
	fclose(f);
}
END_TEST

static Suite *qemu_trace_suite(void)
{
	Suite *s = suite_create("qemu_trace");
	TCase *real = tcase_create("real_trace");
	TCase *good = tcase_create("well_formed");
	TCase *bad = tcase_create("malformed");

	tcase_add_test(real, test_real_trace_counts);
	tcase_add_test(real, test_real_trace_details);
	suite_add_tcase(s, real);

	tcase_add_test(good, test_desc_high_low);
	tcase_add_test(good, test_desc_invalid_event);
	tcase_add_test(good, test_tail_range);
	tcase_add_test(good, test_timestamp_prefix);
	tcase_add_test(good, test_unrelated_lines_skipped);
	tcase_add_test(good, test_crlf);
	tcase_add_test(good, test_empty_input);
	tcase_add_test(good, test_long_lines);
	tcase_add_test(good, test_tagvmm_extensions);
	suite_add_tcase(s, good);

	tcase_add_loop_test(bad, test_malformed, 0, sizeof(malformed) / sizeof(malformed[0]));
	tcase_add_test(bad, test_error_is_sticky);
	tcase_add_test(bad, test_upper_without_descriptor);
	tcase_add_test(bad, test_truncated_last_line);
	tcase_add_test(bad, test_nul_byte);
	tcase_add_test(bad, test_read_error);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	return check_run(qemu_trace_suite());
}
