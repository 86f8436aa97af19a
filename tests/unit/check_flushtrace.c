// SPDX-License-Identifier: MIT
/*
 * Unit tests for the flush trace (hostvtd/flushtrace.c): the exact lines the
 * writer produces in both formats, the reader's counters over them, its
 * refusal of malformed input (with the right line number), and records
 * staying whole when several threads trace at once.
 *
 * Expected descriptor qwords are written out from the VT-d spec (and the
 * Linux examples in the reference notes), not taken from flush_op_encode(),
 * so the trace and the encoder are checked against each other.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "hostvtd/flushtrace.h"
#include "vtd/regs.h"

static struct host_unit dmar0 = { .index = 0, .name = "dmar0" };
static struct host_unit dmar1 = { .index = 1, .name = "dmar1" };

/* DID 5, 8 pages at 0x10000000: the reference's qw0 0x50032 qw1 0x10000003. */
static struct flush_op iotlb_range(void)
{
	return (struct flush_op){
		.kind = FLUSH_OP_IOTLB, .tag_type = CACHE_TAG_IOTLB, .unit = &dmar0,
		.did = 5, .scope = FLUSH_RANGE, .start = 0x10000000, .end = 0x10007fff,
		.addr = 0x10000000, .am = 3, .absorbed = 3,
	};
}

static struct flush_op iotlb_all(void)
{
	/* start/end left as junk: FLUSH_ALL must print the whole space anyway. */
	return (struct flush_op){
		.kind = FLUSH_OP_IOTLB, .tag_type = CACHE_TAG_IOTLB, .unit = &dmar0,
		.did = 7, .scope = FLUSH_ALL, .start = 0x1234, .end = 0x5678,
		.addr = 0x1000, .am = 1, .absorbed = 2,
	};
}

static struct flush_op devtlb_range(void)
{
	return (struct flush_op){
		.kind = FLUSH_OP_DEVTLB, .tag_type = CACHE_TAG_DEVTLB, .unit = &dmar0,
		.did = 5, .sid = 0x0300, .dev_name = "0000:03:00.0", .scope = FLUSH_RANGE,
		.start = 0x10000000, .end = 0x10007fff, .addr = 0x10000000, .am = 3,
		.absorbed = 1,
	};
}

static struct flush_op piotlb_range(void)
{
	return (struct flush_op){
		.kind = FLUSH_OP_PIOTLB, .tag_type = CACHE_TAG_NESTING_IOTLB, .unit = &dmar1,
		.did = 1, .pasid = 1, .scope = FLUSH_RANGE, .start = 0x10000, .end = 0x13fff,
		.addr = 0x10000, .am = 2, .absorbed = 4,
	};
}

static struct flush_op piotlb_all(void)
{
	return (struct flush_op){
		.kind = FLUSH_OP_PIOTLB, .tag_type = CACHE_TAG_NESTING_IOTLB, .unit = &dmar1,
		.did = 2, .pasid = 3, .scope = FLUSH_ALL, .absorbed = 6,
	};
}

static struct flush_op pdevtlb_all(void)
{
	return (struct flush_op){
		.kind = FLUSH_OP_PDEVTLB, .tag_type = CACHE_TAG_NESTING_DEVTLB, .unit = &dmar1,
		.did = 2, .pasid = 5, .sid = 0x0310, .pfsid = 0x0300, .qdep = 4,
		.dev_name = "0000:03:02.0", .scope = FLUSH_ALL, .absorbed = 2,
	};
}

/* Three submissions over two batches; the second fails on its third op. */
static void write_sample(struct flush_trace *t)
{
	struct flush_op a[] = { iotlb_range(), iotlb_all(), devtlb_range() };
	struct flush_op b[] = { piotlb_range(), piotlb_all(), pdevtlb_all() };
	struct flush_op c[] = { iotlb_range() };
	struct host_error ite = { .kind = HOST_ERR_ITE, .op_index = 2, .sid = 0x0310 };
	struct host_error none = { .kind = HOST_ERR_NONE };

	flush_trace_submission(t, 1, 0, &dmar0, a, 3, NULL);
	flush_trace_submission(t, 1, 1, &dmar1, b, 3, &ite);
	flush_trace_submission(t, 2, 2, &dmar0, c, 1, &none);
}

static const char sample_text[] =
	"batch 1 sub 0 qi_submit: iotlb_inv dmar0: 0x50032 0x10000003 0x0 0x0\n"
	"batch 1 sub 0 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 5 "
	"[0x10000000-0x10007fff] addr 0x10000000 mask 0x3 absorbed 3\n"
	"batch 1 sub 0 qi_submit: iotlb_inv dmar0: 0x70022 0x0 0x0 0x0\n"
	"batch 1 sub 0 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 7 "
	"[0x0-0xffffffffffffffff] addr 0x0 mask 0x34 absorbed 2\n"
	"batch 1 sub 0 qi_submit: dev_tlb_inv dmar0: 0x30000000003 0x10003001 0x0 0x0\n"
	"batch 1 sub 0 cache_tag_flush_range: dmar0 0000:03:00.0[0] type devtlb did 5 "
	"[0x10000000-0x10007fff] addr 0x10000000 mask 0x3 absorbed 1\n"
	"batch 1 sub 0 qi_wait: dmar0 descs 3 status ok\n"
	"batch 1 sub 1 qi_submit: p_iotlb_inv dmar1: 0x100010036 0x10002 0x0 0x0\n"
	"batch 1 sub 1 cache_tag_flush_range: dmar1 dmar1[1] type nesting_iotlb did 1 "
	"[0x10000-0x13fff] addr 0x10000 mask 0x2 absorbed 4\n"
	"batch 1 sub 1 qi_submit: p_iotlb_inv dmar1: 0x300020026 0x0 0x0 0x0\n"
	"batch 1 sub 1 cache_tag_flush_range: dmar1 dmar1[3] type nesting_iotlb did 2 "
	"[0x0-0xffffffffffffffff] addr 0x0 mask 0x34 absorbed 6\n"
	"batch 1 sub 1 qi_submit: p_dev_tlb_inv dmar1: 0x300000503100048 0x7ffffffffffff800 0x0 0x0\n"
	"batch 1 sub 1 cache_tag_flush_range: dmar1 0000:03:02.0[5] type nesting_devtlb did 2 "
	"[0x0-0xffffffffffffffff] addr 0x0 mask 0x34 absorbed 2\n"
	"batch 1 sub 1 qi_wait: dmar1 descs 3 status ITE op 2 sid 0x0310\n"
	"batch 2 sub 2 qi_submit: iotlb_inv dmar0: 0x50032 0x10000003 0x0 0x0\n"
	"batch 2 sub 2 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 5 "
	"[0x10000000-0x10007fff] addr 0x10000000 mask 0x3 absorbed 3\n"
	"batch 2 sub 2 qi_wait: dmar0 descs 1 status ok\n";

static const char sample_json[] =
	"{\"batch\":1,\"sub\":0,\"event\":\"qi_submit\",\"unit\":\"dmar0\",\"type\":\"iotlb_inv\","
	"\"qw\":[\"0x50032\",\"0x10000003\",\"0x0\",\"0x0\"]}\n"
	"{\"batch\":1,\"sub\":0,\"event\":\"cache_tag_flush_range\",\"unit\":\"dmar0\",\"dev\":\"dmar0\","
	"\"pasid\":0,\"type\":\"iotlb\",\"did\":5,\"start\":\"0x10000000\",\"end\":\"0x10007fff\","
	"\"addr\":\"0x10000000\",\"mask\":3,\"absorbed\":3}\n"
	"{\"batch\":1,\"sub\":0,\"event\":\"qi_submit\",\"unit\":\"dmar0\",\"type\":\"iotlb_inv\","
	"\"qw\":[\"0x70022\",\"0x0\",\"0x0\",\"0x0\"]}\n"
	"{\"batch\":1,\"sub\":0,\"event\":\"cache_tag_flush_range\",\"unit\":\"dmar0\",\"dev\":\"dmar0\","
	"\"pasid\":0,\"type\":\"iotlb\",\"did\":7,\"start\":\"0x0\",\"end\":\"0xffffffffffffffff\","
	"\"addr\":\"0x0\",\"mask\":52,\"absorbed\":2}\n"
	"{\"batch\":1,\"sub\":0,\"event\":\"qi_submit\",\"unit\":\"dmar0\",\"type\":\"dev_tlb_inv\","
	"\"qw\":[\"0x30000000003\",\"0x10003001\",\"0x0\",\"0x0\"]}\n"
	"{\"batch\":1,\"sub\":0,\"event\":\"cache_tag_flush_range\",\"unit\":\"dmar0\","
	"\"dev\":\"0000:03:00.0\",\"pasid\":0,\"type\":\"devtlb\",\"did\":5,\"start\":\"0x10000000\","
	"\"end\":\"0x10007fff\",\"addr\":\"0x10000000\",\"mask\":3,\"absorbed\":1}\n"
	"{\"batch\":1,\"sub\":0,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":3,\"status\":\"ok\"}\n"
	"{\"batch\":1,\"sub\":1,\"event\":\"qi_submit\",\"unit\":\"dmar1\",\"type\":\"p_iotlb_inv\","
	"\"qw\":[\"0x100010036\",\"0x10002\",\"0x0\",\"0x0\"]}\n"
	"{\"batch\":1,\"sub\":1,\"event\":\"cache_tag_flush_range\",\"unit\":\"dmar1\",\"dev\":\"dmar1\","
	"\"pasid\":1,\"type\":\"nesting_iotlb\",\"did\":1,\"start\":\"0x10000\",\"end\":\"0x13fff\","
	"\"addr\":\"0x10000\",\"mask\":2,\"absorbed\":4}\n"
	"{\"batch\":1,\"sub\":1,\"event\":\"qi_submit\",\"unit\":\"dmar1\",\"type\":\"p_iotlb_inv\","
	"\"qw\":[\"0x300020026\",\"0x0\",\"0x0\",\"0x0\"]}\n"
	"{\"batch\":1,\"sub\":1,\"event\":\"cache_tag_flush_range\",\"unit\":\"dmar1\",\"dev\":\"dmar1\","
	"\"pasid\":3,\"type\":\"nesting_iotlb\",\"did\":2,\"start\":\"0x0\",\"end\":\"0xffffffffffffffff\","
	"\"addr\":\"0x0\",\"mask\":52,\"absorbed\":6}\n"
	"{\"batch\":1,\"sub\":1,\"event\":\"qi_submit\",\"unit\":\"dmar1\",\"type\":\"p_dev_tlb_inv\","
	"\"qw\":[\"0x300000503100048\",\"0x7ffffffffffff800\",\"0x0\",\"0x0\"]}\n"
	"{\"batch\":1,\"sub\":1,\"event\":\"cache_tag_flush_range\",\"unit\":\"dmar1\","
	"\"dev\":\"0000:03:02.0\",\"pasid\":5,\"type\":\"nesting_devtlb\",\"did\":2,\"start\":\"0x0\","
	"\"end\":\"0xffffffffffffffff\",\"addr\":\"0x0\",\"mask\":52,\"absorbed\":2}\n"
	"{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dmar1\",\"descs\":3,\"status\":\"ITE\","
	"\"op\":2,\"sid\":\"0x0310\"}\n"
	"{\"batch\":2,\"sub\":2,\"event\":\"qi_submit\",\"unit\":\"dmar0\",\"type\":\"iotlb_inv\","
	"\"qw\":[\"0x50032\",\"0x10000003\",\"0x0\",\"0x0\"]}\n"
	"{\"batch\":2,\"sub\":2,\"event\":\"cache_tag_flush_range\",\"unit\":\"dmar0\",\"dev\":\"dmar0\","
	"\"pasid\":0,\"type\":\"iotlb\",\"did\":5,\"start\":\"0x10000000\",\"end\":\"0x10007fff\","
	"\"addr\":\"0x10000000\",\"mask\":3,\"absorbed\":3}\n"
	"{\"batch\":2,\"sub\":2,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":1,\"status\":\"ok\"}\n";

/* Everything a stream got, as one string (caller frees). */
static char *slurp(FILE *f)
{
	long len;
	char *buf;

	ck_assert_int_eq(fflush(f), 0);
	len = ftell(f);
	ck_assert_int_ge(len, 0);
	buf = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(buf);
	rewind(f);
	ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	return buf;
}

static char *trace_of(enum flush_trace_format fmt)
{
	FILE *f = tmpfile();
	struct flush_trace *t;
	char *text;

	ck_assert_ptr_nonnull(f);
	t = flush_trace_stream(f, fmt);
	ck_assert_ptr_nonnull(t);
	write_sample(t);
	ck_assert_int_eq(flush_trace_close(t), 0);
	text = slurp(f);
	fclose(f);
	return text;
}

/* Summarize a string; returns what trace_summary_read() returned. */
static int read_string(const char *text, struct trace_summary *s, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	ck_assert_ptr_nonnull(f);
	ret = trace_summary_read(f, s, err, errlen);
	fclose(f);
	return ret;
}

static struct trace_summary summary;	/* big: keep it off the stack */

static const struct trace_summary_unit *find_unit(const struct trace_summary *s, const char *name)
{
	for (size_t i = 0; i < s->nunits; i++)
		if (!strcmp(s->units[i].name, name))
			return &s->units[i];
	ck_abort_msg("unit %s not in summary", name);
	return NULL;
}

static void check_sample_summary(const struct trace_summary *s)
{
	const struct trace_summary_unit *u;

	ck_assert_uint_eq(s->records, 7);
	ck_assert_uint_eq(s->batches, 2);
	ck_assert_uint_eq(s->submissions, 3);
	ck_assert_uint_eq(s->invalidations, 5);
	ck_assert_uint_eq(s->devtlb_invalidations, 2);
	ck_assert_uint_eq(s->absorbed, 3 + 2 + 1 + 4 + 6 + 2 + 3);
	ck_assert_uint_eq(s->errors, 1);
	ck_assert_double_eq_tol(trace_summary_merge_ratio(s), 21.0 / 7.0, 1e-9);

	ck_assert_uint_eq(s->nunits, 2);
	ck_assert(!s->units_truncated);
	/* Sorted by name. */
	ck_assert_str_eq(s->units[0].name, "dmar0");
	ck_assert_str_eq(s->units[1].name, "dmar1");
	u = find_unit(s, "dmar0");
	ck_assert_uint_eq(u->submissions, 2);
	ck_assert_uint_eq(u->invalidations, 3);
	ck_assert_uint_eq(u->devtlb_invalidations, 1);
	ck_assert_uint_eq(u->absorbed, 9);
	ck_assert_uint_eq(u->errors, 0);
	u = find_unit(s, "dmar1");
	ck_assert_uint_eq(u->submissions, 1);
	ck_assert_uint_eq(u->invalidations, 2);
	ck_assert_uint_eq(u->devtlb_invalidations, 1);
	ck_assert_uint_eq(u->absorbed, 12);
	ck_assert_uint_eq(u->errors, 1);

	/* (dmar0, 5) (dmar0, 7) (dmar1, 1) (dmar1, 2), in that order. */
	ck_assert(!s->dids_truncated);
	ck_assert_uint_eq(s->ndids, 4);
	ck_assert_str_eq(s->dids[0].unit, "dmar0");
	ck_assert_uint_eq(s->dids[0].did, 5);
	ck_assert_uint_eq(s->dids[0].invalidations, 3);
	ck_assert_uint_eq(s->dids[0].absorbed, 7);
	ck_assert_str_eq(s->dids[1].unit, "dmar0");
	ck_assert_uint_eq(s->dids[1].did, 7);
	ck_assert_uint_eq(s->dids[1].invalidations, 1);
	ck_assert_uint_eq(s->dids[1].absorbed, 2);
	ck_assert_str_eq(s->dids[2].unit, "dmar1");
	ck_assert_uint_eq(s->dids[2].did, 1);
	ck_assert_uint_eq(s->dids[2].invalidations, 1);
	ck_assert_uint_eq(s->dids[2].absorbed, 4);
	ck_assert_str_eq(s->dids[3].unit, "dmar1");
	ck_assert_uint_eq(s->dids[3].did, 2);
	ck_assert_uint_eq(s->dids[3].invalidations, 2);
	ck_assert_uint_eq(s->dids[3].absorbed, 8);
}

/* ---- writer ---- */

START_TEST(test_text_lines)
{
	char *text = trace_of(FLUSH_TRACE_TEXT);

	ck_assert_str_eq(text, sample_text);
	free(text);
}
END_TEST

START_TEST(test_json_lines)
{
	char *text = trace_of(FLUSH_TRACE_JSON);

	ck_assert_str_eq(text, sample_json);
	free(text);
}
END_TEST

START_TEST(test_hostile_names)
{
	/* A name with a space or quote must not split a token or a JSON string. */
	struct host_unit odd = { .name = "dm ar\"9" };
	struct flush_op op = devtlb_range();
	FILE *f = tmpfile();
	struct flush_trace *t;
	char err[256], *text;

	memcpy(op.dev_name, "bad\\dev\nname", 13);
	ck_assert_ptr_nonnull(f);
	t = flush_trace_stream(f, FLUSH_TRACE_JSON);
	flush_trace_submission(t, 9, 9, &odd, &op, 1, NULL);
	flush_trace_submission(t, 9, 10, NULL, NULL, 0, NULL);
	ck_assert_int_eq(flush_trace_close(t), 0);
	text = slurp(f);
	ck_assert_ptr_nonnull(strstr(text, "\"unit\":\"dm_ar_9\",\"dev\":\"bad_dev_name\""));
	ck_assert_ptr_nonnull(strstr(text, "\"unit\":\"-\",\"descs\":0,\"status\":\"ok\""));
	/* And what it wrote reads back. */
	ck_assert_int_eq(read_string(text, &summary, err, sizeof(err)), 0);
	ck_assert_uint_eq(summary.records, 1);
	ck_assert_uint_eq(summary.submissions, 2);
	ck_assert_uint_eq(summary.nunits, 2);
	free(text);
	fclose(f);
}
END_TEST

/* A guest decides how many submissions there are: a trace file stops at its cap, saying so. */
START_TEST(test_size_cap)
{
	struct flush_op op = devtlb_range();
	struct host_unit unit = { .name = "dmar0" };
	FILE *f = tmpfile();
	struct flush_trace *t;
	char *text;

	ck_assert_ptr_nonnull(f);
	t = flush_trace_stream(f, FLUSH_TRACE_TEXT);
	flush_trace_set_max_bytes(t, 1000);
	for (unsigned int i = 0; i < 1000; i++)
		flush_trace_submission(t, i, i, &unit, &op, 1, NULL);
	ck_assert_int_eq(flush_trace_close(t), 0);
	text = slurp(f);
	ck_assert_uint_lt(strlen(text), 1500);
	ck_assert_ptr_nonnull(strstr(text, "# flush trace stopped at 1000 bytes"));
	free(text);
	fclose(f);
}
END_TEST

START_TEST(test_null_and_open)
{
	struct flush_op op = iotlb_range();
	struct flush_trace *t;
	char path[] = "/tmp/check_flushtrace.XXXXXX";
	int fd;

	flush_trace_submission(NULL, 1, 1, &dmar0, &op, 1, NULL);
	ck_assert_int_eq(flush_trace_close(NULL), 0);

	errno = 0;
	ck_assert_ptr_null(flush_trace_open("/nonexistent-dir/trace", FLUSH_TRACE_TEXT));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(flush_trace_stream(NULL, FLUSH_TRACE_TEXT));

	t = flush_trace_open("-", FLUSH_TRACE_TEXT);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(flush_trace_close(t), 0);

	/* A real file, written and read back through the summary. */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	t = flush_trace_open(path, FLUSH_TRACE_TEXT);
	ck_assert_ptr_nonnull(t);
	write_sample(t);
	ck_assert_int_eq(flush_trace_close(t), 0);
	{
		FILE *f = fopen(path, "r");
		char err[128];

		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(trace_summary_read(f, &summary, err, sizeof(err)), 0);
		fclose(f);
		check_sample_summary(&summary);
	}
	unlink(path);
	close(fd);
}
END_TEST

START_TEST(test_write_error)
{
	struct flush_op op = iotlb_range();
	struct flush_trace *t;
	FILE *f;

	f = fopen("/dev/full", "w");
	if (!f)
		return;		/* no /dev/full here: nothing to provoke the error with */
	t = flush_trace_stream(f, FLUSH_TRACE_TEXT);
	flush_trace_submission(t, 1, 1, &dmar0, &op, 1, NULL);
	/* Later successes (there are none here) must not hide the first error. */
	flush_trace_submission(t, 1, 2, &dmar0, &op, 1, NULL);
	errno = 0;
	ck_assert_int_eq(flush_trace_close(t), -1);
	ck_assert_int_eq(errno, ENOSPC);
	fclose(f);

	t = flush_trace_open("/dev/full", FLUSH_TRACE_JSON);
	ck_assert_ptr_nonnull(t);
	flush_trace_submission(t, 1, 1, &dmar0, &op, 1, NULL);
	ck_assert_int_eq(flush_trace_close(t), -1);
}
END_TEST

/* ---- reader ---- */

START_TEST(test_read_text)
{
	char err[128] = "untouched";

	ck_assert_int_eq(read_string(sample_text, &summary, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	check_sample_summary(&summary);
}
END_TEST

START_TEST(test_read_json)
{
	char err[128];

	ck_assert_int_eq(read_string(sample_json, &summary, err, sizeof(err)), 0);
	check_sample_summary(&summary);
}
END_TEST

START_TEST(test_read_mixed)
{
	/* First half text, second half JSON, with comments, blanks and CRLF. */
	char *text = malloc(sizeof(sample_text) + sizeof(sample_json) + 64);
	const char *json_half = strstr(sample_json, "{\"batch\":1,\"sub\":1,");
	const char *text_end = strstr(sample_text, "batch 1 sub 1");
	size_t head = (size_t)(text_end - sample_text), len;
	char err[128];

	ck_assert_ptr_nonnull(text);
	strcpy(text, "# flush trace\n\n   \n");
	len = strlen(text);
	memcpy(text + len, sample_text, head);
	strcpy(text + len + head, "  # indented comment\r\n\r\n");
	strcat(text, json_half);
	ck_assert_int_eq(read_string(text, &summary, err, sizeof(err)), 0);
	check_sample_summary(&summary);
	free(text);
}
END_TEST

START_TEST(test_read_reuses_summary)
{
	char err[128];

	ck_assert_int_eq(read_string(sample_text, &summary, err, sizeof(err)), 0);
	/* A second read starts from zero, it does not add up. */
	ck_assert_int_eq(read_string(sample_text, &summary, err, sizeof(err)), 0);
	check_sample_summary(&summary);
	ck_assert_int_eq(read_string("", &summary, err, sizeof(err)), 0);
	ck_assert_uint_eq(summary.records, 0);
	ck_assert_uint_eq(summary.nunits, 0);
	ck_assert_double_eq(trace_summary_merge_ratio(&summary), 0.0);
}
END_TEST

START_TEST(test_read_no_final_newline)
{
	char err[128];

	ck_assert_int_eq(read_string("batch 4 sub 1 qi_wait: dmar3 descs 0 status IQE op 0 sid 0x0000",
				     &summary, err, sizeof(err)), 0);
	ck_assert_uint_eq(summary.submissions, 1);
	ck_assert_uint_eq(summary.errors, 1);
	ck_assert_uint_eq(summary.batches, 1);
	ck_assert_str_eq(summary.units[0].name, "dmar3");
}
END_TEST

START_TEST(test_ratio)
{
	const char *text =
		"batch 1 sub 1 qi_submit: iotlb_inv dmar0: 0x10022 0x0 0x0 0x0\n"
		"batch 1 sub 1 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 1 "
		"[0x0-0xffffffffffffffff] addr 0x0 mask 0x34 absorbed 7\n"
		"batch 1 sub 1 qi_submit: iotlb_inv dmar0: 0x20022 0x0 0x0 0x0\n"
		"batch 1 sub 1 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 2 "
		"[0x0-0xffffffffffffffff] addr 0x0 mask 0x34 absorbed 2\n"
		"batch 1 sub 1 qi_submit: dev_tlb_inv dmar0: 0x10000000003 0x7ffffffffffff001 0x0 0x0\n"
		"batch 1 sub 1 cache_tag_flush_range: dmar0 0000:01:00.0[0] type devtlb did 2 "
		"[0x0-0xffffffffffffffff] addr 0x0 mask 0x34 absorbed 1\n"
		"batch 1 sub 1 qi_wait: dmar0 descs 3 status ok\n";
	char err[128], *out = NULL;
	size_t len;
	FILE *f;

	ck_assert_int_eq(read_string(text, &summary, err, sizeof(err)), 0);
	ck_assert_uint_eq(summary.absorbed, 10);
	ck_assert_double_eq_tol(trace_summary_merge_ratio(&summary), 10.0 / 3.0, 1e-9);

	f = open_memstream(&out, &len);
	trace_summary_print(&summary, f, false);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out, "\nmerge_ratio                   3.33\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nabsorbed                        10\n"));
	free(out);
}
END_TEST

START_TEST(test_print_json)
{
	char err[128], *out = NULL;
	size_t len;
	FILE *f;

	ck_assert_int_eq(read_string(sample_text, &summary, err, sizeof(err)), 0);
	f = open_memstream(&out, &len);
	trace_summary_print(&summary, f, true);
	fclose(f);
	ck_assert_str_eq(out,
		"{\"records\":7,\"batches\":2,\"submissions\":3,\"invalidations\":5,"
		"\"devtlb_invalidations\":2,\"absorbed\":21,\"errors\":1,\"merge_ratio\":3.00,"
		"\"units\":[{\"name\":\"dmar0\",\"submissions\":2,\"invalidations\":3,"
		"\"devtlb_invalidations\":1,\"absorbed\":9,\"errors\":0},"
		"{\"name\":\"dmar1\",\"submissions\":1,\"invalidations\":2,"
		"\"devtlb_invalidations\":1,\"absorbed\":12,\"errors\":1}],"
		"\"dids\":[{\"unit\":\"dmar0\",\"did\":5,\"invalidations\":3,\"absorbed\":7},"
		"{\"unit\":\"dmar0\",\"did\":7,\"invalidations\":1,\"absorbed\":2},"
		"{\"unit\":\"dmar1\",\"did\":1,\"invalidations\":1,\"absorbed\":4},"
		"{\"unit\":\"dmar1\",\"did\":2,\"invalidations\":2,\"absorbed\":8}],"
		"\"units_truncated\":false,\"dids_truncated\":false}\n");
	free(out);
}
END_TEST

START_TEST(test_print_text)
{
	char err[128], *out = NULL;
	size_t len;
	FILE *f;

	ck_assert_int_eq(read_string(sample_text, &summary, err, sizeof(err)), 0);
	f = open_memstream(&out, &len);
	trace_summary_print(&summary, f, false);
	fclose(f);
	ck_assert_str_eq(out,
		"records                          7\n"
		"batches                          2\n"
		"submissions                      3\n"
		"invalidations                    5\n"
		"devtlb_invalidations             2\n"
		"absorbed                        21\n"
		"errors                           1\n"
		"merge_ratio                   3.00\n"
		"\n"
		"unit            submissions invalidations devtlb_invalidations   absorbed   errors\n"
		"dmar0                     2             3                    1          9        0\n"
		"dmar1                     1             2                    1         12        1\n"
		"\n"
		"unit              did invalidations   absorbed\n"
		"dmar0               5             3          7\n"
		"dmar0               7             1          2\n"
		"dmar1               1             1          4\n"
		"dmar1               2             2          8\n");
	free(out);
}
END_TEST

START_TEST(test_truncated_tables)
{
	char *text = NULL, err[128];
	size_t len;
	FILE *f = open_memstream(&text, &len);

	/* 70 units (one DID each), then 1100 DIDs on dmar0. */
	for (int i = 0; i < 70; i++)
		fprintf(f, "batch %d sub 0 cache_tag_flush_range: dmar%d dmar%d[0] type iotlb "
			"did 1 [0x0-0xfff] addr 0x0 mask 0x0 absorbed 1\n", i, i, i);
	for (int did = 0; did < 1100; did++)
		fprintf(f, "{\"batch\":1,\"sub\":1,\"event\":\"cache_tag_flush_range\","
			"\"unit\":\"dmar0\",\"dev\":\"dmar0\",\"pasid\":0,\"type\":\"iotlb\","
			"\"did\":%d,\"start\":\"0x0\",\"end\":\"0xfff\",\"addr\":\"0x0\","
			"\"mask\":0,\"absorbed\":2}\n", did + 2);
	fclose(f);
	ck_assert_int_eq(read_string(text, &summary, err, sizeof(err)), 0);
	ck_assert_uint_eq(summary.nunits, TRACE_SUMMARY_MAX_UNITS);
	ck_assert(summary.units_truncated);
	ck_assert_uint_eq(summary.ndids, TRACE_SUMMARY_MAX_DIDS);
	ck_assert(summary.dids_truncated);
	/* Totals still count everything. */
	ck_assert_uint_eq(summary.absorbed, 70 + 2 * 1100);
	ck_assert_uint_eq(summary.batches, 70);
	/* Version order: dmar2 before dmar10. */
	ck_assert_str_eq(summary.units[2].name, "dmar2");
	ck_assert_str_eq(summary.units[10].name, "dmar10");
	free(text);
}
END_TEST

struct bad_input {
	const char *text;
	unsigned int line;
	const char *why;	/* a substring of the message */
};

static const char good[] = "batch 1 sub 1 qi_wait: dmar0 descs 1 status ok\n";

static const struct bad_input bad_inputs[] = {
	{ "# c\nbatch 1 sub 1 qi_submit: iotlb_inv dmar0: 0x5003g 0x0 0x0 0x0\n", 2,
	  "qw: bad hex number '0x5003g'" },
	{ "batch 1 sub 1 qi_submit: iotlb_inv dmar0: 50032 0x0 0x0 0x0\n", 1,
	  "expected a 0x-prefixed hex number" },
	{ "batch 1 sub 1 qi_submit: iotlb_inv dmar0: 0x 0x0 0x0 0x0\n", 1, "expected a 0x" },
	{ "batch 1 sub 1 qi_wait: dmar0 descs 1\n", 1, "truncated qi_wait record" },
	{ "batch 1 sub 1 qi_submit: iotlb_inv dmar0: 0x50032 0x0 0x0\n", 1, "truncated qi_submit" },
	{ "batch 1 sub\n", 1, "truncated record" },
	{ "batch 1 sub 1 qi_wait: dmar0 descs 1 status ok extra\n", 1, "unexpected 'extra'" },
	{ "batch 1 sub 1 qi_wait: dmar0 descs 1 status ITE op 1\n", 1, "truncated qi_wait" },
	{ "batch 1 sub 1 qi_frob: dmar0\n", 1, "unknown event 'qi_frob'" },
	{ "batch 1 sub 1 qi_wait dmar0 descs 1 status ok\n", 1, "expected 'EVENT:'" },
	{ "hello world\n", 1, "truncated record" },
	{ "bitch 1 sub 1 qi_wait: dmar0 descs 1 status ok\n", 1, "expected 'batch'" },
	{ "batch 1 sub 1 qi_wait: dmar0 descs 1 status WAT\n", 1, "unknown status 'WAT'" },
	{ "batch 1 sub 1 qi_wait: dmar0 descs 1 status none\n", 1, "unknown status" },
	{ "batch 18446744073709551616 sub 1 qi_wait: dmar0 descs 1 status ok\n", 1,
	  "batch: '18446744073709551616' out of range" },
	{ "batch 18446744073709551615 sub 1 qi_wait: dmar0 descs 1 status ok\n"
	  "batch 1 sub 1 qi_wait: dmar0 descs 1 status ITE op 1 sid 0x10000\n", 2,
	  "sid: '0x10000' out of range (max 65535)" },
	{ "batch -1 sub 1 qi_wait: dmar0 descs 1 status ok\n", 1, "batch: bad decimal number" },
	{ "batch 1 sub 1 qi_submit: iotlb_inv dmar0: 0x10000000000000000 0x0 0x0 0x0\n", 1,
	  "out of range" },
	{ "batch 1 sub 1 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 70000 "
	  "[0x0-0xfff] addr 0x0 mask 0x0 absorbed 1\n", 1, "did: '70000' out of range" },
	{ "batch 1 sub 1 cache_tag_flush_range: dmar0 dmar0[1048576] type iotlb did 1 "
	  "[0x0-0xfff] addr 0x0 mask 0x0 absorbed 1\n", 1, "pasid: '1048576' out of range" },
	{ "batch 1 sub 1 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 1 "
	  "[0x0-0xfff] addr 0x0 mask 0x35 absorbed 1\n", 1, "mask: '0x35' out of range" },
	{ "batch 1 sub 1 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 1 "
	  "[0x0-0xfff] addr 0x0 mask 0x0 absorbed 4294967296\n", 1, "absorbed" },
	{ "batch 1 sub 1 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 1 "
	  "[0x1000-0xfff] addr 0x0 mask 0x0 absorbed 1\n", 1, "above end" },
	{ "batch 1 sub 1 cache_tag_flush_range: dmar0 dmar0[0] type iotlb did 1 "
	  "0x0-0xfff addr 0x0 mask 0x0 absorbed 1\n", 1, "expected [0xSTART-0xEND]" },
	{ "batch 1 sub 1 cache_tag_flush_range: dmar0 dmar0 type iotlb did 1 "
	  "[0x0-0xfff] addr 0x0 mask 0x0 absorbed 1\n", 1, "expected DEV[PASID]" },
	{ "batch 1 sub 1 cache_tag_flush_range: dmar0 dmar0[0] type tlb did 1 "
	  "[0x0-0xfff] addr 0x0 mask 0x0 absorbed 1\n", 1, "unknown cache tag type 'tlb'" },
	{ "batch 1 sub 1 cache_tag_flush_range: dmar0 dmar0[0] kind iotlb did 1 "
	  "[0x0-0xfff] addr 0x0 mask 0x0 absorbed 1\n", 1, "expected 'type', found 'kind'" },
	{ "batch 1 sub 1 qi_submit: iotlb_inv dmar0: 0x50036 0x0 0x0 0x0\n", 1,
	  "does not match qw0" },
	{ "batch 1 sub 1 qi_submit: frob_inv dmar0: 0x50032 0x0 0x0 0x0\n", 1,
	  "unknown descriptor type 'frob_inv'" },
	{ "batch 1 sub 1 qi_submit: iotlb_inv dmar0 0x50032 0x0 0x0 0x0\n", 1, "expected 'UNIT:'" },
	{ "batch 1 sub 1 qi_wait: dmar0123456789abc descs 1 status ok\n", 1,
	  "longer than 15 characters" },
	{ "batch 1 sub 1 qi_wait: dm\x1b[2Jar descs 1 status ok\n", 1, "bad character in name" },
	{ "batch 1 sub 1 qi_wait: dmar0 descs 1 status ok\nbatch 1 sub 1 qi_wait: dmar0 "
	  "descs 1 status ok\n\n\nbatch 1 sub 1 qi_wait: dmar0 descs 1 status xx\n", 5,
	  "unknown status 'xx'" },
	/* JSON */
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":1}\n", 1,
	  "missing field 'status'" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":1,"
	  "\"status\":\"ok\"\n", 1, "expected ',' or '}'" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":1,"
	  "\"status\":\"ok}\n", 1, "unterminated string" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":1,"
	  "\"status\":\"ok\"} x\n", 1, "text after the JSON object" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":\"1\","
	  "\"status\":\"ok\"}\n", 1, "field 'descs' must be a number" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":1.5,"
	  "\"status\":\"ok\"}\n", 1, "descs: bad decimal number '1.5'" },
	{ "{\"batch\":-1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":1,"
	  "\"status\":\"ok\"}\n", 1, "batch: bad decimal number '-1'" },
	{ "{\"batch\":01,\"sub\":1}\n", 1, "expected ',' or '}'" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":1,"
	  "\"status\":\"ok\",\"batch\":2}\n", 1, "duplicate key 'batch'" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":{\"a\":1}}\n", 1, "nested" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":[[1]]}\n", 1, "nested" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_frob\",\"unit\":\"dmar0\"}\n", 1,
	  "unknown event 'qi_frob'" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"cache_tag_flush_range\",\"unit\":\"dmar0\","
	  "\"dev\":\"dmar0\",\"pasid\":0,\"type\":\"iotlb\",\"did\":65536,\"start\":\"0x0\","
	  "\"end\":\"0xfff\",\"addr\":\"0x0\",\"mask\":0,\"absorbed\":1}\n", 1,
	  "did: '65536' out of range" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"cache_tag_flush_range\",\"unit\":\"dmar0\","
	  "\"dev\":\"dmar0\",\"pasid\":0,\"type\":\"iotlb\",\"did\":1,\"start\":\"0x0\","
	  "\"end\":\"0xfffg\",\"addr\":\"0x0\",\"mask\":0,\"absorbed\":1}\n", 1,
	  "end: bad hex number" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_submit\",\"unit\":\"dmar0\",\"type\":\"iotlb_inv\","
	  "\"qw\":[\"0x50032\",\"0x0\",\"0x0\"]}\n", 1, "array of 4 hex strings" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_submit\",\"unit\":\"dmar0\",\"type\":\"iotlb_inv\","
	  "\"qw\":[\"0x50032\",\"0x0\",\"0x0\",0]}\n", 1, "array of 4 hex strings" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dm\\u0000ar\"}\n", 1,
	  "NUL character" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dm\\u00e9ar\",\"descs\":1,"
	  "\"status\":\"ok\"}\n", 1, "bad character in name" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":1,"
	  "\"status\":\"ITE\",\"op\":0}\n", 1, "missing field 'sid'" },
	{ "{\"batch\":1,\"sub\":1,\"event\":\"qi_wait\",\"unit\":\"dmar0\",\"descs\":1,"
	  "\"status\":\"ok\",\"note\":\"a\\qb\"}\n", 1, "bad escape" },
	{ "{", 1, "expected a string key" },
	{ "{}", 1, "missing field 'batch'" },
};

START_TEST(test_malformed)
{
	const struct bad_input *b = &bad_inputs[_i];
	char err[256], want[32];

	ck_assert_int_eq(read_string(b->text, &summary, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "line %u: ", b->line);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "case %d: '%s' does not start with '%s'",
		      _i, err, want);
	ck_assert_msg(strstr(err, b->why), "case %d: '%s' does not say '%s'", _i, err, b->why);
	/* Never anything unprintable in the message, whatever the input held. */
	for (const char *c = err; *c; c++)
		ck_assert_msg(*c >= ' ' && *c < 0x7f, "case %d: unprintable in '%s'", _i, err);
}
END_TEST

/* The extras a JSON record may carry: ignored, as long as they are well formed. */
START_TEST(test_json_tolerance)
{
	const char *text =
		" { \"event\" : \"qi_wait\" , \"batch\" : 1, \"sub\":1,\"unit\":\"dmar\\u0030\","
		"\"descs\":1,\"status\":\"ok\",\"note\":\"a\\\"b\\\\c\\/\\n\",\"list\":[1,true,null,"
		"-2.5e3],\"empty\":[],\"flag\":false} \r\n";
	char err[128];

	ck_assert_int_eq(read_string(text, &summary, err, sizeof(err)), 0);
	ck_assert_uint_eq(summary.submissions, 1);
	ck_assert_str_eq(summary.units[0].name, "dmar0");
}
END_TEST

START_TEST(test_long_line)
{
	size_t n = 100000;
	char *text = malloc(n + 64), err[128];

	ck_assert_ptr_nonnull(text);
	strcpy(text, good);
	memset(text + strlen(good), 'a', n);
	strcpy(text + strlen(good) + n, "\n");
	ck_assert_int_eq(read_string(text, &summary, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "line 2: line longer than 4096 bytes");

	/* Exactly TRACE_LINE_MAX is still a line: a comment that long is fine. */
	memset(text, '#', TRACE_LINE_MAX);
	strcpy(text + TRACE_LINE_MAX, "\n");
	ck_assert_int_eq(read_string(text, &summary, err, sizeof(err)), 0);
	free(text);
}
END_TEST

START_TEST(test_nul_byte)
{
	static const char text[] = "batch 1 sub 1 qi_wait: dmar0\0 descs 1 status ok\n";
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
	char err[128];

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(trace_summary_read(f, &summary, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "line 1: NUL byte in line");
	fclose(f);
}
END_TEST

START_TEST(test_small_errbuf)
{
	char err[8];

	/* Truncated messages, never overflows; NULL buffer is fine too. */
	ck_assert_int_eq(read_string("junk\n", &summary, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "line 1:");
	ck_assert_int_eq(read_string("junk\n", &summary, NULL, 0), -1);
}
END_TEST

START_TEST(test_read_error)
{
	FILE *f = fopen("/", "r");	/* a directory: fopen works, reading fails */
	char err[128];

	if (!f)
		return;
	errno = 0;
	ck_assert_int_eq(trace_summary_read(f, &summary, err, sizeof(err)), -2);
	ck_assert_int_eq(errno, EISDIR);
	ck_assert_ptr_nonnull(strstr(err, "read error"));
	fclose(f);
}
END_TEST

/* ---- concurrency ---- */

#define THREADS 4
#define SUBMISSIONS 300

struct writer_arg {
	struct flush_trace *t;
	unsigned int id;
};

static void *writer(void *p)
{
	struct writer_arg *a = p;
	struct flush_op ops[] = { iotlb_range(), devtlb_range() };
	struct host_error ice = { .kind = HOST_ERR_ICE, .op_index = 1, .sid = 0x0300 };

	for (unsigned int i = 0; i < SUBMISSIONS; i++) {
		ops[0].did = (uint16_t)a->id;
		ops[1].did = (uint16_t)a->id;
		flush_trace_submission(a->t, a->id * 100000 + i, i, a->id & 1 ? &dmar1 : &dmar0,
				       ops, 2, i % 10 == 0 ? &ice : NULL);
	}
	return NULL;
}

static void check_concurrent(enum flush_trace_format fmt)
{
	struct writer_arg args[THREADS];
	pthread_t threads[THREADS];
	struct flush_trace *t;
	FILE *f = tmpfile();
	char err[256], *text, *line, *save;
	unsigned long long batch = 0, sub = 0;
	unsigned int in_group = 0;

	ck_assert_ptr_nonnull(f);
	t = flush_trace_stream(f, fmt);
	for (unsigned int i = 0; i < THREADS; i++) {
		args[i] = (struct writer_arg){ .t = t, .id = i + 1 };
		ck_assert_int_eq(pthread_create(&threads[i], NULL, writer, &args[i]), 0);
	}
	for (unsigned int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	ck_assert_int_eq(flush_trace_close(t), 0);

	rewind(f);
	ck_assert_int_eq(trace_summary_read(f, &summary, err, sizeof(err)), 0);
	ck_assert_uint_eq(summary.records, THREADS * SUBMISSIONS * 2);
	ck_assert_uint_eq(summary.submissions, THREADS * SUBMISSIONS);
	ck_assert_uint_eq(summary.batches, THREADS * SUBMISSIONS);
	ck_assert_uint_eq(summary.invalidations, THREADS * SUBMISSIONS);
	ck_assert_uint_eq(summary.devtlb_invalidations, THREADS * SUBMISSIONS);
	ck_assert_uint_eq(summary.absorbed, THREADS * SUBMISSIONS * 4);
	ck_assert_uint_eq(summary.errors, THREADS * SUBMISSIONS / 10);
	ck_assert_uint_eq(summary.ndids, THREADS);
	for (size_t i = 0; i < summary.ndids; i++)
		ck_assert_uint_eq(summary.dids[i].invalidations, SUBMISSIONS * 2);

	/* Each submission's five lines are contiguous. */
	text = slurp(f);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long b, s;
		int n = fmt == FLUSH_TRACE_JSON ?
			sscanf(line, "{\"batch\":%llu,\"sub\":%llu,", &b, &s) :
			sscanf(line, "batch %llu sub %llu ", &b, &s);

		ck_assert_int_eq(n, 2);
		if (in_group) {
			ck_assert_uint_eq(b, batch);
			ck_assert_uint_eq(s, sub);
		}
		batch = b;
		sub = s;
		in_group = (in_group + 1) % 5;
		ck_assert_int_eq(!in_group, !!strstr(line, "qi_wait"));
	}
	ck_assert_uint_eq(in_group, 0);
	free(text);
	fclose(f);
}

START_TEST(test_concurrent_text)
{
	check_concurrent(FLUSH_TRACE_TEXT);
}
END_TEST

START_TEST(test_concurrent_json)
{
	check_concurrent(FLUSH_TRACE_JSON);
}
END_TEST

static Suite *flushtrace_suite(void)
{
	Suite *s = suite_create("flushtrace");
	TCase *tc;

	tc = tcase_create("writer");
	tcase_add_test(tc, test_text_lines);
	tcase_add_test(tc, test_json_lines);
	tcase_add_test(tc, test_hostile_names);
	tcase_add_test(tc, test_null_and_open);
	tcase_add_test(tc, test_write_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("reader");
	tcase_add_test(tc, test_read_text);
	tcase_add_test(tc, test_read_json);
	tcase_add_test(tc, test_read_mixed);
	tcase_add_test(tc, test_read_reuses_summary);
	tcase_add_test(tc, test_read_no_final_newline);
	tcase_add_test(tc, test_ratio);
	tcase_add_test(tc, test_print_json);
	tcase_add_test(tc, test_print_text);
	tcase_add_test(tc, test_truncated_tables);
	tcase_add_test(tc, test_json_tolerance);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_small_errbuf);
	tcase_add_test(tc, test_read_error);
	tcase_add_loop_test(tc, test_malformed, 0, (int)(sizeof(bad_inputs) / sizeof(bad_inputs[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_concurrent_text);
	tcase_add_test(tc, test_concurrent_json);
	tcase_add_test(tc, test_size_cap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(flushtrace_suite());
}
