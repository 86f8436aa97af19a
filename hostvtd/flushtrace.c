// SPDX-License-Identifier: MIT
/*
 * The flush trace writer: the flush engine calls flush_trace_submission()
 * once per host submission. The format is specified in docs/flush-trace.md;
 * the reader behind `tagvmm trace summary` (trace-summary.c, trace-json.c)
 * must agree with it.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/flushtrace.h"
#include "hostvtd/trace-reader.h"
#include "vtd/regs.h"

/* ------------------------------------------------------------------ */
/* Names                                                              */
/* ------------------------------------------------------------------ */

/*
 * Copy @name into a trace-safe token (see trace_is_name_char); "-" stands
 * for a missing name.
 */
static void safe_name(char out[HOST_NAME_LEN], const char *name)
{
	size_t len = name ? strnlen(name, HOST_NAME_LEN - 1) : 0;

	if (!len) {
		strcpy(out, "-");
		return;
	}
	for (size_t i = 0; i < len; i++)
		out[i] = trace_is_name_char((unsigned char)name[i]) ? name[i] : '_';
	out[len] = '\0';
}

/* ------------------------------------------------------------------ */
/* Writer                                                             */
/* ------------------------------------------------------------------ */

struct flush_trace {
	FILE *f;
	bool owned;			/* we opened it, so we close it */
	enum flush_trace_format fmt;
	pthread_mutex_t lock;		/* one submission's records stay together */
	int error;			/* errno of the first failed write, 0 if none */
	bool full;			/* max_bytes reached: no more records */
	uint64_t max_bytes;		/* FLUSH_TRACE_MAX_BYTES unless a test says less */
};

static bool format_ok(enum flush_trace_format fmt)
{
	return fmt == FLUSH_TRACE_TEXT || fmt == FLUSH_TRACE_JSON;
}

static struct flush_trace *trace_new(FILE *f, bool owned, enum flush_trace_format fmt)
{
	struct flush_trace *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (pthread_mutex_init(&t->lock, NULL)) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->f = f;
	t->owned = owned;
	t->fmt = fmt;
	t->max_bytes = FLUSH_TRACE_MAX_BYTES;
	return t;
}

int flush_trace_format_parse(const char *name, enum flush_trace_format *out)
{
	if (!strcmp(name, "text"))
		*out = FLUSH_TRACE_TEXT;
	else if (!strcmp(name, "json"))
		*out = FLUSH_TRACE_JSON;
	else
		return -1;
	return 0;
}

struct flush_trace *flush_trace_open(const char *path, enum flush_trace_format fmt)
{
	struct flush_trace *t;
	FILE *f;

	if (!path || !format_ok(fmt)) {
		errno = EINVAL;
		return NULL;
	}
	if (!strcmp(path, "-"))
		return trace_new(stderr, false, fmt);
	f = fopen(path, "we");
	if (!f)
		return NULL;
	t = trace_new(f, true, fmt);
	if (!t) {
		int saved = errno;

		fclose(f);
		errno = saved;
	}
	return t;
}

struct flush_trace *flush_trace_stream(FILE *f, enum flush_trace_format fmt)
{
	if (!f || !format_ok(fmt)) {
		errno = EINVAL;
		return NULL;
	}
	return trace_new(f, false, fmt);
}

int flush_trace_close(struct flush_trace *t)
{
	int error;

	if (!t)
		return 0;
	error = t->error;
	if (fflush(t->f) && !error)
		error = errno ? errno : EIO;
	if (t->owned && fclose(t->f) && !error)
		error = errno ? errno : EIO;
	pthread_mutex_destroy(&t->lock);
	free(t);
	if (error) {
		errno = error;
		return -1;
	}
	return 0;
}

/* What cache_tag_flush_range shows of an op, as Linux shows a tag's flush. */
struct op_view {
	char dev[HOST_NAME_LEN];
	const char *type;
	uint64_t start, end, addr;
	unsigned int mask;
};

static void op_view(const struct flush_op *op, const char *unit, struct op_view *v)
{
	/* Linux names the IOMMU itself as the "device" of an IOTLB tag. */
	if (flush_op_is_devtlb(op->kind))
		safe_name(v->dev, op->dev_name);
	else
		snprintf(v->dev, sizeof(v->dev), "%s", unit);
	v->type = cache_tag_type_name(op->tag_type);
	if (op->scope == FLUSH_ALL) {
		/* Whatever the planner left in start/end, ALL means everything. */
		v->start = 0;
		v->end = UINT64_MAX;
		v->addr = 0;
		v->mask = VTD_MAX_AM;
	} else {
		v->start = op->start;
		v->end = op->end;
		v->addr = op->addr;
		v->mask = op->am;
	}
}

static const char *desc_name(const struct vtd_raw_desc *raw)
{
	return vtd_desc_type_name(vtd_desc_raw_type(raw->qw[0]));
}

static void write_text(FILE *f, uint64_t batch, uint64_t sub, const char *unit,
		       const struct flush_op *ops, size_t n, const struct host_error *err)
{
	for (size_t i = 0; i < n; i++) {
		struct vtd_raw_desc raw;
		struct op_view v;

		flush_op_encode(&ops[i], &raw);
		op_view(&ops[i], unit, &v);
		fprintf(f, "batch %" PRIu64 " sub %" PRIu64 " qi_submit: %s %s: 0x%" PRIx64
			" 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 "\n",
			batch, sub, desc_name(&raw), unit,
			raw.qw[0], raw.qw[1], raw.qw[2], raw.qw[3]);
		fprintf(f, "batch %" PRIu64 " sub %" PRIu64 " cache_tag_flush_range: %s %s[%u]"
			" type %s did %u [0x%" PRIx64 "-0x%" PRIx64 "] addr 0x%" PRIx64
			" mask 0x%x absorbed %u\n",
			batch, sub, unit, v.dev, (unsigned int)ops[i].pasid, v.type,
			(unsigned int)ops[i].did, v.start, v.end, v.addr, v.mask,
			ops[i].absorbed);
	}
	fprintf(f, "batch %" PRIu64 " sub %" PRIu64 " qi_wait: %s descs %zu status ",
		batch, sub, unit, n);
	if (err)
		fprintf(f, "%s op %zu sid 0x%04x\n", host_error_name(err->kind), err->op_index,
			(unsigned int)err->sid);
	else
		fputs("ok\n", f);
}

static void write_json(FILE *f, uint64_t batch, uint64_t sub, const char *unit,
		       const struct flush_op *ops, size_t n, const struct host_error *err)
{
	for (size_t i = 0; i < n; i++) {
		struct vtd_raw_desc raw;
		struct op_view v;

		flush_op_encode(&ops[i], &raw);
		op_view(&ops[i], unit, &v);
		fprintf(f, "{\"batch\":%" PRIu64 ",\"sub\":%" PRIu64 ",\"event\":\"qi_submit\","
			"\"unit\":\"%s\",\"type\":\"%s\",\"qw\":[\"0x%" PRIx64 "\",\"0x%" PRIx64
			"\",\"0x%" PRIx64 "\",\"0x%" PRIx64 "\"]}\n",
			batch, sub, unit, desc_name(&raw),
			raw.qw[0], raw.qw[1], raw.qw[2], raw.qw[3]);
		fprintf(f, "{\"batch\":%" PRIu64 ",\"sub\":%" PRIu64 ",\"event\":\"cache_tag_flush_range\","
			"\"unit\":\"%s\",\"dev\":\"%s\",\"pasid\":%u,\"type\":\"%s\",\"did\":%u,"
			"\"start\":\"0x%" PRIx64 "\",\"end\":\"0x%" PRIx64 "\",\"addr\":\"0x%" PRIx64 "\","
			"\"mask\":%u,\"absorbed\":%u}\n",
			batch, sub, unit, v.dev, (unsigned int)ops[i].pasid, v.type,
			(unsigned int)ops[i].did, v.start, v.end, v.addr, v.mask, ops[i].absorbed);
	}
	fprintf(f, "{\"batch\":%" PRIu64 ",\"sub\":%" PRIu64 ",\"event\":\"qi_wait\","
		"\"unit\":\"%s\",\"descs\":%zu,\"status\":", batch, sub, unit, n);
	if (err)
		fprintf(f, "\"%s\",\"op\":%zu,\"sid\":\"0x%04x\"}\n", host_error_name(err->kind),
			err->op_index, (unsigned int)err->sid);
	else
		fputs("\"ok\"}\n", f);
}

void flush_trace_set_max_bytes(struct flush_trace *t, uint64_t max_bytes)
{
	if (t)
		t->max_bytes = max_bytes;
}

void flush_trace_submission(struct flush_trace *t, uint64_t batch, uint64_t sub,
			    const struct host_unit *unit, const struct flush_op *ops, size_t n,
			    const struct host_error *err)
{
	char name[HOST_NAME_LEN];

	if (!t)
		return;
	if (!ops)
		n = 0;
	if (err && err->kind == HOST_ERR_NONE)
		err = NULL;
	safe_name(name, unit ? unit->name : NULL);

	pthread_mutex_lock(&t->lock);
	if (t->full) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	errno = 0;
	if (t->fmt == FLUSH_TRACE_JSON)
		write_json(t->f, batch, sub, name, ops, n, err);
	else
		write_text(t->f, batch, sub, name, ops, n, err);
	/*
	 * Flush per submission: a trace is read when something went wrong,
	 * and the records before a crash are the ones that matter.
	 */
	if ((fflush(t->f) || ferror(t->f)) && !t->error)
		t->error = errno ? errno : EIO;
	/*
	 * The guest decides how many submissions there are: a file stops
	 * growing at FLUSH_TRACE_MAX_BYTES, saying so (a pipe has no position
	 * and no cap; its reader drains it).
	 */
	if (ftello(t->f) >= (off_t)t->max_bytes) {
		t->full = true;
		fprintf(t->f, "# flush trace stopped at %llu bytes (FLUSH_TRACE_MAX_BYTES)\n",
			(unsigned long long)t->max_bytes);
		fflush(t->f);
	}
	pthread_mutex_unlock(&t->lock);
}
