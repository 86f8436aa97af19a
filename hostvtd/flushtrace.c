// SPDX-License-Identifier: MIT
/*
 * The flush trace: the writer the flush engine calls once per host
 * submission, and the reader behind `tagvmm trace summary`. The format is
 * specified in docs/flush-trace.md; writer and reader must agree with it.
 *
 * Traces are read back from files anyone may have edited, concatenated or
 * cut short, so the reader trusts nothing: every line is bounded, every
 * number range-checked, every name validated before it reaches a table.
 */

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/flushtrace.h"
#include "vtd/regs.h"

/* ------------------------------------------------------------------ */
/* Names                                                              */
/* ------------------------------------------------------------------ */

/*
 * A name must stay one token in the text format and need no escaping in
 * JSON: printable ASCII, no space, no quote, no backslash.
 */
static bool is_name_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '"' && c != '\\';
}

/* Copy @name into a trace-safe token; "-" stands for a missing name. */
static void trace_name(char out[HOST_NAME_LEN], const char *name)
{
	size_t len = name ? strnlen(name, HOST_NAME_LEN - 1) : 0;

	if (!len) {
		strcpy(out, "-");
		return;
	}
	for (size_t i = 0; i < len; i++)
		out[i] = is_name_char((unsigned char)name[i]) ? name[i] : '_';
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
};

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
	return t;
}

struct flush_trace *flush_trace_open(const char *path, enum flush_trace_format fmt)
{
	struct flush_trace *t;
	FILE *f;

	if (!path || (fmt != FLUSH_TRACE_TEXT && fmt != FLUSH_TRACE_JSON)) {
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
	if (!f || (fmt != FLUSH_TRACE_TEXT && fmt != FLUSH_TRACE_JSON)) {
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

static bool op_is_devtlb(const struct flush_op *op)
{
	return op->kind == FLUSH_OP_DEVTLB || op->kind == FLUSH_OP_PDEVTLB;
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
	if (op_is_devtlb(op))
		trace_name(v->dev, op->dev_name);
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
	trace_name(name, unit ? unit->name : NULL);

	pthread_mutex_lock(&t->lock);
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
	pthread_mutex_unlock(&t->lock);
}

/* ------------------------------------------------------------------ */
/* Reader                                                             */
/* ------------------------------------------------------------------ */

#define TRACE_DID_SLOTS 2048		/* power of two, > 2 * TRACE_SUMMARY_MAX_DIDS */
#define TRACE_MAX_TOKENS 24
#define JSON_MAX_FIELDS 32
#define JSON_MAX_ITEMS 4
#define TRACE_PASID_MAX 0xfffff		/* PASIDs are 20 bits wide */

enum trace_event { EV_SUBMIT, EV_FLUSH_RANGE, EV_WAIT };

/* One record, whichever format it came in. */
struct trace_record {
	enum trace_event event;
	uint64_t batch, sub;
	char unit[HOST_NAME_LEN];
	/* qi_submit */
	unsigned int desc_type;
	uint64_t qw[4];
	/* cache_tag_flush_range */
	uint64_t pasid, did, start, end, addr, mask, absorbed;
	/* qi_wait */
	uint64_t descs, op, sid;
	bool failed;
};

struct reader {
	struct trace_summary *s;
	uint64_t line;
	char *errbuf;
	size_t errlen;

	/* Distinct batch numbers: open addressing, grown at half load. */
	uint64_t *batch_keys;
	unsigned char *batch_used;
	size_t batch_slots;

	/* (unit, DID) -> index + 1 into s->dids; 0 is empty. */
	uint16_t did_slot[TRACE_DID_SLOTS];
};

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!r->errbuf || !r->errlen)
		return -1;
	n = snprintf(r->errbuf, r->errlen, "line %" PRIu64 ": ", r->line);
	if (n >= 0 && (size_t)n < r->errlen) {
		va_start(ap, fmt);
		vsnprintf(r->errbuf + n, r->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Quote a piece of hostile input for an error message: bounded, and with
 * anything unprintable replaced so a trace cannot drive the terminal.
 */
static const char *quote(const char *s, size_t len, char *buf, size_t size)
{
	size_t max = size - 4, i;

	for (i = 0; i < len && i < max; i++)
		buf[i] = (s[i] >= ' ' && s[i] < 0x7f) ? s[i] : '?';
	if (i < len)
		strcpy(buf + i, "...");
	else
		buf[i] = '\0';
	return buf;
}

#define QUOTE_LEN 44
#define Q(s, len) quote((s), (len), (char[QUOTE_LEN]){ 0 }, QUOTE_LEN)
#define QS(s) Q((s), strlen(s))

/* ---- numbers ---- */

enum num_error { NUM_OK, NUM_SYNTAX, NUM_RANGE };

static enum num_error parse_uint(const char *s, size_t len, unsigned int base, uint64_t max,
				 uint64_t *out)
{
	uint64_t v = 0;

	if (!len)
		return NUM_SYNTAX;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return NUM_SYNTAX;
		/* Keep scanning after overflow: junk later on is the better message. */
		if (v > (UINT64_MAX - d) / base)
			v = UINT64_MAX, max = 0;
		else
			v = v * base + d;
	}
	if (v > max)
		return NUM_RANGE;
	*out = v;
	return NUM_OK;
}

static int number(struct reader *r, const char *what, const char *s, size_t len, bool hex,
		  uint64_t max, uint64_t *out)
{
	enum num_error e;

	if (hex) {
		if (len < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
			return fail(r, "%s: expected a 0x-prefixed hex number, found '%s'", what,
				    Q(s, len));
		e = parse_uint(s + 2, len - 2, 16, max, out);
	} else {
		e = parse_uint(s, len, 10, max, out);
	}
	if (e == NUM_SYNTAX)
		return fail(r, "%s: bad %s number '%s'", what, hex ? "hex" : "decimal", Q(s, len));
	if (e == NUM_RANGE)
		return fail(r, "%s: '%s' out of range (max %" PRIu64 ")", what, Q(s, len), max);
	return 0;
}

static int name(struct reader *r, const char *what, const char *s, size_t len,
		char out[HOST_NAME_LEN])
{
	if (!len)
		return fail(r, "%s: empty name", what);
	if (len >= HOST_NAME_LEN)
		return fail(r, "%s: name '%s' longer than %d characters", what, Q(s, len),
			    HOST_NAME_LEN - 1);
	for (size_t i = 0; i < len; i++)
		if (!is_name_char((unsigned char)s[i]))
			return fail(r, "%s: bad character in name '%s'", what, Q(s, len));
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* ---- names the writer uses, looked up through their one definition ---- */

static int desc_type_of(struct reader *r, const char *s, size_t len, unsigned int *type)
{
	for (unsigned int t = VTD_DESC_CC; t <= VTD_DESC_TYPE_MAX; t++) {
		const char *n = vtd_desc_type_name(t);

		if (strlen(n) == len && !memcmp(n, s, len)) {
			*type = t;
			return 0;
		}
	}
	return fail(r, "unknown descriptor type '%s'", Q(s, len));
}

static int tag_type_check(struct reader *r, const char *s, size_t len)
{
	for (unsigned int t = CACHE_TAG_IOTLB; t <= CACHE_TAG_NESTING_DEVTLB; t++) {
		const char *n = cache_tag_type_name((enum cache_tag_type)t);

		if (strlen(n) == len && !memcmp(n, s, len))
			return 0;
	}
	return fail(r, "unknown cache tag type '%s'", Q(s, len));
}

/* "ok", or the name of the host error that ended the submission. */
static int status_of(struct reader *r, const char *s, size_t len, bool *failed)
{
	if (len == 2 && !memcmp(s, "ok", 2)) {
		*failed = false;
		return 0;
	}
	for (unsigned int k = HOST_ERR_IQE; k <= HOST_ERR_IO; k++) {
		const char *n = host_error_name((enum host_error_kind)k);

		if (strlen(n) == len && !memcmp(n, s, len)) {
			*failed = true;
			return 0;
		}
	}
	return fail(r, "unknown status '%s'", Q(s, len));
}

static int event_of(struct reader *r, const char *s, size_t len, enum trace_event *ev)
{
	static const struct { const char *name; enum trace_event ev; } events[] = {
		{ "qi_submit", EV_SUBMIT },
		{ "cache_tag_flush_range", EV_FLUSH_RANGE },
		{ "qi_wait", EV_WAIT },
	};

	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		if (strlen(events[i].name) == len && !memcmp(events[i].name, s, len)) {
			*ev = events[i].ev;
			return 0;
		}
	}
	return fail(r, "unknown event '%s'", Q(s, len));
}

/* ---- text records ---- */

static int expect_word(struct reader *r, char **tok, size_t i, const char *word)
{
	if (strcmp(tok[i], word))
		return fail(r, "expected '%s', found '%s'", word, QS(tok[i]));
	return 0;
}

/* "NAME[PASID]": the last '[' separates, so a name may itself hold one. */
static int parse_dev_pasid(struct reader *r, const char *tok, struct trace_record *rec)
{
	const char *open = strrchr(tok, '[');
	size_t len = strlen(tok);
	char dev[HOST_NAME_LEN];

	if (!open || len < 2 || tok[len - 1] != ']')
		return fail(r, "expected DEV[PASID], found '%s'", QS(tok));
	if (name(r, "device", tok, (size_t)(open - tok), dev))
		return -1;
	return number(r, "pasid", open + 1, len - (size_t)(open - tok) - 2, false,
		      TRACE_PASID_MAX, &rec->pasid);
}

static int parse_range(struct reader *r, const char *tok, struct trace_record *rec)
{
	size_t len = strlen(tok);
	const char *dash = strchr(tok, '-');

	if (len < 3 || tok[0] != '[' || tok[len - 1] != ']' || !dash)
		return fail(r, "expected [0xSTART-0xEND], found '%s'", QS(tok));
	if (number(r, "range start", tok + 1, (size_t)(dash - tok) - 1, true, UINT64_MAX,
		   &rec->start))
		return -1;
	return number(r, "range end", dash + 1, len - (size_t)(dash - tok) - 2, true, UINT64_MAX,
		      &rec->end);
}

static int check_fields(struct reader *r, const char *event, char **tok, size_t ntok,
			size_t want)
{
	if (ntok < want)
		return fail(r, "truncated %s record (%zu of %zu fields)", event, ntok, want);
	if (ntok > want)
		return fail(r, "unexpected '%s' after the %s record", QS(tok[want]), event);
	return 0;
}

static int parse_text(struct reader *r, char *line, struct trace_record *rec)
{
	char *tok[TRACE_MAX_TOKENS];
	size_t ntok = 0, len;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		if (ntok == TRACE_MAX_TOKENS)
			return fail(r, "too many fields");
		tok[ntok++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}

	if (ntok < 5)
		return fail(r, "truncated record: expected 'batch N sub N EVENT: ...'");
	if (expect_word(r, tok, 0, "batch") ||
	    number(r, "batch", tok[1], strlen(tok[1]), false, UINT64_MAX, &rec->batch) ||
	    expect_word(r, tok, 2, "sub") ||
	    number(r, "sub", tok[3], strlen(tok[3]), false, UINT64_MAX, &rec->sub))
		return -1;
	len = strlen(tok[4]);
	if (len < 2 || tok[4][len - 1] != ':')
		return fail(r, "expected 'EVENT:', found '%s'", QS(tok[4]));
	if (event_of(r, tok[4], len - 1, &rec->event))
		return -1;

	switch (rec->event) {
	case EV_SUBMIT:
		/* batch B sub S qi_submit: TYPE UNIT: QW0 QW1 QW2 QW3 */
		if (check_fields(r, "qi_submit", tok, ntok, 11) ||
		    desc_type_of(r, tok[5], strlen(tok[5]), &rec->desc_type))
			return -1;
		len = strlen(tok[6]);
		if (len < 2 || tok[6][len - 1] != ':')
			return fail(r, "expected 'UNIT:', found '%s'", QS(tok[6]));
		if (name(r, "unit", tok[6], len - 1, rec->unit))
			return -1;
		for (size_t i = 0; i < 4; i++)
			if (number(r, "qw", tok[7 + i], strlen(tok[7 + i]), true, UINT64_MAX,
				   &rec->qw[i]))
				return -1;
		return 0;
	case EV_FLUSH_RANGE:
		/*
		 * batch B sub S cache_tag_flush_range: UNIT DEV[PASID] type T did D
		 * [0xS-0xE] addr 0xA mask 0xM absorbed N
		 */
		if (check_fields(r, "cache_tag_flush_range", tok, ntok, 18) ||
		    name(r, "unit", tok[5], strlen(tok[5]), rec->unit) ||
		    parse_dev_pasid(r, tok[6], rec) ||
		    expect_word(r, tok, 7, "type") ||
		    tag_type_check(r, tok[8], strlen(tok[8])) ||
		    expect_word(r, tok, 9, "did") ||
		    number(r, "did", tok[10], strlen(tok[10]), false, UINT16_MAX, &rec->did) ||
		    parse_range(r, tok[11], rec) ||
		    expect_word(r, tok, 12, "addr") ||
		    number(r, "addr", tok[13], strlen(tok[13]), true, UINT64_MAX, &rec->addr) ||
		    expect_word(r, tok, 14, "mask") ||
		    number(r, "mask", tok[15], strlen(tok[15]), true, VTD_MAX_AM, &rec->mask) ||
		    expect_word(r, tok, 16, "absorbed") ||
		    number(r, "absorbed", tok[17], strlen(tok[17]), false, UINT32_MAX,
			   &rec->absorbed))
			return -1;
		return 0;
	case EV_WAIT:
		/* batch B sub S qi_wait: UNIT descs N status ok|ERR op N sid 0xSID */
		if (ntok < 10)
			return check_fields(r, "qi_wait", tok, ntok, 10);
		if (name(r, "unit", tok[5], strlen(tok[5]), rec->unit) ||
		    expect_word(r, tok, 6, "descs") ||
		    number(r, "descs", tok[7], strlen(tok[7]), false, UINT32_MAX, &rec->descs) ||
		    expect_word(r, tok, 8, "status") ||
		    status_of(r, tok[9], strlen(tok[9]), &rec->failed) ||
		    check_fields(r, "qi_wait", tok, ntok, rec->failed ? 14 : 10))
			return -1;
		if (rec->failed &&
		    (expect_word(r, tok, 10, "op") ||
		     number(r, "op", tok[11], strlen(tok[11]), false, UINT32_MAX, &rec->op) ||
		     expect_word(r, tok, 12, "sid") ||
		     number(r, "sid", tok[13], strlen(tok[13]), true, UINT16_MAX, &rec->sid)))
			return -1;
		return 0;
	}
	return fail(r, "unknown event");
}

/* ---- JSON records: one flat object per line ---- */

enum json_kind { JV_STRING, JV_NUMBER, JV_LITERAL, JV_ARRAY };

struct json_value {
	enum json_kind kind;
	const char *str;		/* string (unescaped in place) or number text */
	size_t len;
	size_t nitems;			/* arrays: how many items */
	bool all_strings;		/* arrays: every item a string */
	const char *item[JSON_MAX_ITEMS];
	size_t item_len[JSON_MAX_ITEMS];
};

struct json_field {
	const char *key;
	size_t key_len;
	struct json_value v;
};

struct json_parser {
	struct reader *r;
	const char *line;
	char *p;
	size_t nfields;
	struct json_field f[JSON_MAX_FIELDS];
};

static int json_fail(struct json_parser *j, const char *what)
{
	return fail(j->r, "JSON: %s at column %zu", what, (size_t)(j->p - j->line) + 1);
}

static void json_ws(struct json_parser *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n')
		j->p++;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Unescape in place: an escape is never shorter than what it stands for,
 * so the write cursor never passes the read cursor.
 */
static int json_string(struct json_parser *j, const char **out, size_t *out_len)
{
	char *w = ++j->p, *start = w;

	for (;;) {
		unsigned char c = (unsigned char)*j->p;

		if (!c)
			return json_fail(j, "unterminated string");
		if (c == '"')
			break;
		if (c < 0x20)
			return json_fail(j, "control character in string");
		if (c != '\\') {
			*w++ = *j->p++;
			continue;
		}
		j->p++;
		switch (*j->p) {
		case '"': case '\\': case '/': *w++ = *j->p; break;
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case 'u': {
			unsigned int cp = 0;

			for (int i = 1; i <= 4; i++) {
				int d = hex_digit(j->p[i]);

				if (d < 0)
					return json_fail(j, "bad \\u escape");
				cp = cp << 4 | (unsigned int)d;
			}
			if (!cp)
				return json_fail(j, "NUL character in string");
			/* UTF-8; lone surrogates pass through, names reject them anyway. */
			if (cp < 0x80) {
				*w++ = (char)cp;
			} else if (cp < 0x800) {
				*w++ = (char)(0xc0 | cp >> 6);
				*w++ = (char)(0x80 | (cp & 0x3f));
			} else {
				*w++ = (char)(0xe0 | cp >> 12);
				*w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
				*w++ = (char)(0x80 | (cp & 0x3f));
			}
			j->p += 4;
			break;
		}
		default:
			return json_fail(j, "bad escape in string");
		}
		j->p++;
	}
	j->p++;			/* the closing quote, now behind w */
	*out = start;
	*out_len = (size_t)(w - start);
	*w = '\0';
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The JSON number grammar; the value is only converted where a field needs it. */
static int json_number(struct json_parser *j, struct json_value *v)
{
	char *s = j->p;

	if (*j->p == '-')
		j->p++;
	if (*j->p == '0')
		j->p++;
	else if (is_digit(*j->p))
		while (is_digit(*j->p))
			j->p++;
	else
		return json_fail(j, "bad number");
	if (*j->p == '.') {
		j->p++;
		if (!is_digit(*j->p))
			return json_fail(j, "bad number");
		while (is_digit(*j->p))
			j->p++;
	}
	if (*j->p == 'e' || *j->p == 'E') {
		j->p++;
		if (*j->p == '+' || *j->p == '-')
			j->p++;
		if (!is_digit(*j->p))
			return json_fail(j, "bad number");
		while (is_digit(*j->p))
			j->p++;
	}
	v->kind = JV_NUMBER;
	v->str = s;
	v->len = (size_t)(j->p - s);
	return 0;
}

static int json_scalar(struct json_parser *j, struct json_value *v)
{
	static const char *const literals[] = { "true", "false", "null" };

	if (*j->p == '"') {
		v->kind = JV_STRING;
		return json_string(j, &v->str, &v->len);
	}
	if (*j->p == '-' || is_digit(*j->p))
		return json_number(j, v);
	for (size_t i = 0; i < 3; i++) {
		size_t len = strlen(literals[i]);

		if (!strncmp(j->p, literals[i], len)) {
			v->kind = JV_LITERAL;
			v->str = j->p;
			v->len = len;
			j->p += len;
			return 0;
		}
	}
	if (*j->p == '[' || *j->p == '{')
		return json_fail(j, "nested arrays and objects are not part of the format");
	return json_fail(j, "expected a value");
}

static int json_value(struct json_parser *j, struct json_value *v)
{
	memset(v, 0, sizeof(*v));
	if (*j->p != '[')
		return json_scalar(j, v);

	v->kind = JV_ARRAY;
	v->all_strings = true;
	j->p++;
	json_ws(j);
	if (*j->p == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		struct json_value item;

		json_ws(j);
		memset(&item, 0, sizeof(item));
		if (json_scalar(j, &item))
			return -1;
		if (item.kind != JV_STRING)
			v->all_strings = false;
		if (v->nitems < JSON_MAX_ITEMS) {
			v->item[v->nitems] = item.str;
			v->item_len[v->nitems] = item.len;
		}
		v->nitems++;
		json_ws(j);
		if (*j->p == ']') {
			j->p++;
			return 0;
		}
		if (*j->p != ',')
			return json_fail(j, "expected ',' or ']'");
		j->p++;
	}
}

static int json_object(struct json_parser *j)
{
	json_ws(j);
	if (*j->p != '{')
		return json_fail(j, "expected '{'");
	j->p++;
	json_ws(j);
	if (*j->p == '}') {
		j->p++;
	} else {
		for (;;) {
			struct json_field *f;

			json_ws(j);
			if (*j->p != '"')
				return json_fail(j, "expected a string key");
			if (j->nfields == JSON_MAX_FIELDS)
				return json_fail(j, "too many fields");
			f = &j->f[j->nfields];
			if (json_string(j, &f->key, &f->key_len))
				return -1;
			for (size_t i = 0; i < j->nfields; i++)
				if (j->f[i].key_len == f->key_len &&
				    !memcmp(j->f[i].key, f->key, f->key_len))
					return fail(j->r, "JSON: duplicate key '%s'",
						    Q(f->key, f->key_len));
			json_ws(j);
			if (*j->p != ':')
				return json_fail(j, "expected ':'");
			j->p++;
			json_ws(j);
			if (json_value(j, &f->v))
				return -1;
			j->nfields++;
			json_ws(j);
			if (*j->p == '}') {
				j->p++;
				break;
			}
			if (*j->p != ',')
				return json_fail(j, "expected ',' or '}'");
			j->p++;
		}
	}
	json_ws(j);
	if (*j->p)
		return json_fail(j, "text after the JSON object");
	return 0;
}

static const struct json_value *json_get(struct json_parser *j, const char *key)
{
	size_t len = strlen(key);

	for (size_t i = 0; i < j->nfields; i++)
		if (j->f[i].key_len == len && !memcmp(j->f[i].key, key, len))
			return &j->f[i].v;
	return NULL;
}

static const struct json_value *json_need(struct json_parser *j, const char *key,
					  enum json_kind kind)
{
	static const char *const kinds[] = {
		[JV_STRING] = "a string", [JV_NUMBER] = "a number",
		[JV_LITERAL] = "a literal", [JV_ARRAY] = "an array",
	};
	const struct json_value *v = json_get(j, key);

	if (!v) {
		fail(j->r, "missing field '%s'", key);
		return NULL;
	}
	if (v->kind != kind) {
		fail(j->r, "field '%s' must be %s", key, kinds[kind]);
		return NULL;
	}
	return v;
}

static int json_uint(struct json_parser *j, const char *key, uint64_t max, uint64_t *out)
{
	const struct json_value *v = json_need(j, key, JV_NUMBER);

	return v ? number(j->r, key, v->str, v->len, false, max, out) : -1;
}

static int json_hex(struct json_parser *j, const char *key, uint64_t max, uint64_t *out)
{
	const struct json_value *v = json_need(j, key, JV_STRING);

	return v ? number(j->r, key, v->str, v->len, true, max, out) : -1;
}

static int json_name(struct json_parser *j, const char *key, char out[HOST_NAME_LEN])
{
	const struct json_value *v = json_need(j, key, JV_STRING);

	return v ? name(j->r, key, v->str, v->len, out) : -1;
}

static int parse_json(struct reader *r, char *line, struct trace_record *rec)
{
	struct json_parser *j;
	const struct json_value *v;
	char dev[HOST_NAME_LEN];
	int ret = -1;

	/* ~1.5 KiB of field table: keep it off small thread stacks. */
	j = calloc(1, sizeof(*j));
	if (!j) {
		fail(r, "out of memory");
		errno = ENOMEM;
		return -2;
	}
	j->r = r;
	j->line = line;
	j->p = line;
	if (json_object(j) ||
	    json_uint(j, "batch", UINT64_MAX, &rec->batch) ||
	    json_uint(j, "sub", UINT64_MAX, &rec->sub) ||
	    !(v = json_need(j, "event", JV_STRING)) ||
	    event_of(r, v->str, v->len, &rec->event) ||
	    json_name(j, "unit", rec->unit))
		goto out;

	switch (rec->event) {
	case EV_SUBMIT:
		if (!(v = json_need(j, "type", JV_STRING)) ||
		    desc_type_of(r, v->str, v->len, &rec->desc_type) ||
		    !(v = json_need(j, "qw", JV_ARRAY)))
			goto out;
		if (v->nitems != 4 || !v->all_strings) {
			fail(r, "field 'qw' must be an array of 4 hex strings");
			goto out;
		}
		for (size_t i = 0; i < 4; i++)
			if (number(r, "qw", v->item[i], v->item_len[i], true, UINT64_MAX,
				   &rec->qw[i]))
				goto out;
		break;
	case EV_FLUSH_RANGE:
		if (json_name(j, "dev", dev) ||
		    json_uint(j, "pasid", TRACE_PASID_MAX, &rec->pasid) ||
		    !(v = json_need(j, "type", JV_STRING)) ||
		    tag_type_check(r, v->str, v->len) ||
		    json_uint(j, "did", UINT16_MAX, &rec->did) ||
		    json_hex(j, "start", UINT64_MAX, &rec->start) ||
		    json_hex(j, "end", UINT64_MAX, &rec->end) ||
		    json_hex(j, "addr", UINT64_MAX, &rec->addr) ||
		    json_uint(j, "mask", VTD_MAX_AM, &rec->mask) ||
		    json_uint(j, "absorbed", UINT32_MAX, &rec->absorbed))
			goto out;
		break;
	case EV_WAIT:
		if (json_uint(j, "descs", UINT32_MAX, &rec->descs) ||
		    !(v = json_need(j, "status", JV_STRING)) ||
		    status_of(r, v->str, v->len, &rec->failed))
			goto out;
		if (rec->failed &&
		    (json_uint(j, "op", UINT32_MAX, &rec->op) ||
		     json_hex(j, "sid", UINT16_MAX, &rec->sid)))
			goto out;
		break;
	}
	ret = 0;
out:
	free(j);
	return ret;
}

/* ---- accounting ---- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static int batch_insert(uint64_t *keys, unsigned char *used, size_t slots, uint64_t b)
{
	size_t i = mix64(b) & (slots - 1);

	while (used[i]) {
		if (keys[i] == b)
			return 0;
		i = (i + 1) & (slots - 1);
	}
	used[i] = 1;
	keys[i] = b;
	return 1;
}

/* Batches from concurrent vCPUs interleave, so distinct needs a set. */
static int note_batch(struct reader *r, uint64_t b)
{
	if (2 * (r->s->batches + 1) > r->batch_slots) {
		size_t slots = r->batch_slots ? 2 * r->batch_slots : 1024;
		uint64_t *keys = malloc(slots * sizeof(*keys));
		unsigned char *used = calloc(slots, 1);

		if (!keys || !used) {
			free(keys);
			free(used);
			fail(r, "out of memory");
			errno = ENOMEM;
			return -2;
		}
		for (size_t i = 0; i < r->batch_slots; i++)
			if (r->batch_used[i])
				batch_insert(keys, used, slots, r->batch_keys[i]);
		free(r->batch_keys);
		free(r->batch_used);
		r->batch_keys = keys;
		r->batch_used = used;
		r->batch_slots = slots;
	}
	r->s->batches += batch_insert(r->batch_keys, r->batch_used, r->batch_slots, b);
	return 0;
}

static struct trace_summary_unit *unit_of(struct reader *r, const char *unit)
{
	struct trace_summary *s = r->s;

	for (size_t i = 0; i < s->nunits; i++)
		if (!strcmp(s->units[i].name, unit))
			return &s->units[i];
	if (s->nunits == TRACE_SUMMARY_MAX_UNITS) {
		s->units_truncated = true;
		return NULL;
	}
	strcpy(s->units[s->nunits].name, unit);
	return &s->units[s->nunits++];
}

static struct trace_summary_did *did_of(struct reader *r, const char *unit, uint16_t did)
{
	struct trace_summary *s = r->s;
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a over the name */
	size_t i;

	for (const char *c = unit; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
	i = mix64(h ^ did) & (TRACE_DID_SLOTS - 1);
	while (r->did_slot[i]) {
		struct trace_summary_did *d = &s->dids[r->did_slot[i] - 1];

		if (d->did == did && !strcmp(d->unit, unit))
			return d;
		i = (i + 1) & (TRACE_DID_SLOTS - 1);
	}
	if (s->ndids == TRACE_SUMMARY_MAX_DIDS) {
		s->dids_truncated = true;
		return NULL;
	}
	strcpy(s->dids[s->ndids].unit, unit);
	s->dids[s->ndids].did = did;
	r->did_slot[i] = (uint16_t)++s->ndids;
	return &s->dids[s->ndids - 1];
}

static int add(struct reader *r, uint64_t *counter, uint64_t n)
{
	if (__builtin_add_overflow(*counter, n, counter))
		return fail(r, "counter overflow");
	return 0;
}

static int account(struct reader *r, const struct trace_record *rec)
{
	struct trace_summary *s = r->s;
	struct trace_summary_unit *u;
	struct trace_summary_did *d;
	int ret;

	/* Checks that need the whole record, whichever format it came in. */
	if (rec->event == EV_SUBMIT && vtd_desc_raw_type(rec->qw[0]) != rec->desc_type)
		return fail(r, "qi_submit type %s does not match qw0 0x%" PRIx64 " (type %u)",
			    vtd_desc_type_name(rec->desc_type), rec->qw[0],
			    vtd_desc_raw_type(rec->qw[0]));
	if (rec->event == EV_FLUSH_RANGE && rec->start > rec->end)
		return fail(r, "range start 0x%" PRIx64 " above end 0x%" PRIx64,
			    rec->start, rec->end);

	ret = note_batch(r, rec->batch);
	if (ret)
		return ret;
	u = unit_of(r, rec->unit);

	switch (rec->event) {
	case EV_SUBMIT:
		if (add(r, &s->records, 1))
			return -1;
		switch (rec->desc_type) {
		case VTD_DESC_IOTLB:
		case VTD_DESC_PIOTLB:
			if (add(r, &s->invalidations, 1) || (u && add(r, &u->invalidations, 1)))
				return -1;
			break;
		case VTD_DESC_DEVTLB:
		case VTD_DESC_PDEVTLB:
			if (add(r, &s->devtlb_invalidations, 1) ||
			    (u && add(r, &u->devtlb_invalidations, 1)))
				return -1;
			break;
		default:
			break;
		}
		break;
	case EV_FLUSH_RANGE:
		d = did_of(r, rec->unit, (uint16_t)rec->did);
		if (add(r, &s->absorbed, rec->absorbed) ||
		    (u && add(r, &u->absorbed, rec->absorbed)) ||
		    (d && (add(r, &d->invalidations, 1) || add(r, &d->absorbed, rec->absorbed))))
			return -1;
		break;
	case EV_WAIT:
		if (add(r, &s->submissions, 1) || (u && add(r, &u->submissions, 1)))
			return -1;
		if (rec->failed && (add(r, &s->errors, 1) || (u && add(r, &u->errors, 1))))
			return -1;
		break;
	}
	return 0;
}

/* ---- lines ---- */

enum line_status { LINE_OK, LINE_EOF, LINE_TOO_LONG, LINE_READ_ERROR };

/*
 * getline() would grow its buffer to whatever a hostile file holds in one
 * line; a bounded read refuses at TRACE_LINE_MAX instead.
 */
static enum line_status read_line(FILE *in, char *buf, size_t *lenp)
{
	size_t len = 0;
	int c;

	while ((c = getc_unlocked(in)) != EOF && c != '\n') {
		if (len == TRACE_LINE_MAX)
			return LINE_TOO_LONG;
		buf[len++] = (char)c;
	}
	if (c == EOF) {
		if (ferror_unlocked(in))
			return LINE_READ_ERROR;
		if (!len)
			return LINE_EOF;
	}
	buf[len] = '\0';
	*lenp = len;
	return LINE_OK;
}

static int parse_line(struct reader *r, char *line, size_t len)
{
	struct trace_record rec;
	char *p = line;
	int ret;

	if (memchr(line, '\0', len))
		return fail(r, "NUL byte in line");
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || *p == '#')
		return 0;

	memset(&rec, 0, sizeof(rec));
	ret = *p == '{' ? parse_json(r, p, &rec) : parse_text(r, p, &rec);
	if (ret)
		return ret;
	return account(r, &rec);
}

static int unit_cmp(const void *a, const void *b)
{
	return strverscmp(((const struct trace_summary_unit *)a)->name,
			  ((const struct trace_summary_unit *)b)->name);
}

static int did_cmp(const void *a, const void *b)
{
	const struct trace_summary_did *x = a, *y = b;
	int c = strverscmp(x->unit, y->unit);

	return c ? c : (int)x->did - (int)y->did;
}

int trace_summary_read(FILE *in, struct trace_summary *s, char *errbuf, size_t errlen)
{
	struct reader *r;
	char *buf;
	int ret = 0;

	memset(s, 0, sizeof(*s));
	if (errbuf && errlen)
		errbuf[0] = '\0';
	r = calloc(1, sizeof(*r));
	buf = malloc(TRACE_LINE_MAX + 1);
	if (!r || !buf) {
		free(r);
		free(buf);
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "out of memory");
		errno = ENOMEM;
		return -2;
	}
	r->s = s;
	r->errbuf = errbuf;
	r->errlen = errlen;

	flockfile(in);
	for (;;) {
		size_t len;
		enum line_status st;

		r->line++;
		st = read_line(in, buf, &len);
		if (st == LINE_EOF)
			break;
		if (st == LINE_TOO_LONG) {
			ret = fail(r, "line longer than %d bytes", TRACE_LINE_MAX);
			break;
		}
		if (st == LINE_READ_ERROR) {
			int saved = errno ? errno : EIO;

			fail(r, "read error: %s", strerror(saved));
			errno = saved;
			ret = -2;
			break;
		}
		ret = parse_line(r, buf, len);
		if (ret)
			break;
	}
	funlockfile(in);

	qsort(s->units, s->nunits, sizeof(s->units[0]), unit_cmp);
	qsort(s->dids, s->ndids, sizeof(s->dids[0]), did_cmp);
	free(r->batch_keys);
	free(r->batch_used);
	free(r);
	free(buf);
	return ret;
}

double trace_summary_merge_ratio(const struct trace_summary *s)
{
	uint64_t ops = s->invalidations + s->devtlb_invalidations;

	return ops ? (double)s->absorbed / (double)ops : 0.0;
}

static void print_json(const struct trace_summary *s, FILE *out)
{
	/* Names were validated on the way in: nothing in them needs escaping. */
	fprintf(out, "{\"records\":%" PRIu64 ",\"batches\":%" PRIu64 ",\"submissions\":%" PRIu64
		",\"invalidations\":%" PRIu64 ",\"devtlb_invalidations\":%" PRIu64
		",\"absorbed\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"merge_ratio\":%.2f,\"units\":[",
		s->records, s->batches, s->submissions, s->invalidations,
		s->devtlb_invalidations, s->absorbed, s->errors, trace_summary_merge_ratio(s));
	for (size_t i = 0; i < s->nunits; i++) {
		const struct trace_summary_unit *u = &s->units[i];

		fprintf(out, "%s{\"name\":\"%s\",\"submissions\":%" PRIu64 ",\"invalidations\":%"
			PRIu64 ",\"devtlb_invalidations\":%" PRIu64 ",\"absorbed\":%" PRIu64
			",\"errors\":%" PRIu64 "}", i ? "," : "", u->name, u->submissions,
			u->invalidations, u->devtlb_invalidations, u->absorbed, u->errors);
	}
	fputs("],\"dids\":[", out);
	for (size_t i = 0; i < s->ndids; i++) {
		const struct trace_summary_did *d = &s->dids[i];

		fprintf(out, "%s{\"unit\":\"%s\",\"did\":%u,\"invalidations\":%" PRIu64
			",\"absorbed\":%" PRIu64 "}", i ? "," : "", d->unit, (unsigned int)d->did,
			d->invalidations, d->absorbed);
	}
	fprintf(out, "],\"units_truncated\":%s,\"dids_truncated\":%s}\n",
		s->units_truncated ? "true" : "false", s->dids_truncated ? "true" : "false");
}

static void print_text(const struct trace_summary *s, FILE *out)
{
	fprintf(out, "%-21s %12" PRIu64 "\n", "records", s->records);
	fprintf(out, "%-21s %12" PRIu64 "\n", "batches", s->batches);
	fprintf(out, "%-21s %12" PRIu64 "\n", "submissions", s->submissions);
	fprintf(out, "%-21s %12" PRIu64 "\n", "invalidations", s->invalidations);
	fprintf(out, "%-21s %12" PRIu64 "\n", "devtlb_invalidations", s->devtlb_invalidations);
	fprintf(out, "%-21s %12" PRIu64 "\n", "absorbed", s->absorbed);
	fprintf(out, "%-21s %12" PRIu64 "\n", "errors", s->errors);
	fprintf(out, "%-21s %12.2f\n", "merge_ratio", trace_summary_merge_ratio(s));

	if (s->nunits) {
		fprintf(out, "\n%-15s %11s %13s %20s %10s %8s\n", "unit", "submissions",
			"invalidations", "devtlb_invalidations", "absorbed", "errors");
		for (size_t i = 0; i < s->nunits; i++) {
			const struct trace_summary_unit *u = &s->units[i];

			fprintf(out, "%-15s %11" PRIu64 " %13" PRIu64 " %20" PRIu64 " %10" PRIu64
				" %8" PRIu64 "\n", u->name, u->submissions, u->invalidations,
				u->devtlb_invalidations, u->absorbed, u->errors);
		}
		if (s->units_truncated)
			fprintf(out, "(more than %d units: the rest are in the totals only)\n",
				TRACE_SUMMARY_MAX_UNITS);
	}
	if (s->ndids) {
		fprintf(out, "\n%-15s %5s %13s %10s\n", "unit", "did", "invalidations", "absorbed");
		for (size_t i = 0; i < s->ndids; i++) {
			const struct trace_summary_did *d = &s->dids[i];

			fprintf(out, "%-15s %5u %13" PRIu64 " %10" PRIu64 "\n", d->unit,
				(unsigned int)d->did, d->invalidations, d->absorbed);
		}
		if (s->dids_truncated)
			fprintf(out, "(more than %d unit/DID pairs: the rest are in the totals only)\n",
				TRACE_SUMMARY_MAX_DIDS);
	}
}

void trace_summary_print(const struct trace_summary *s, FILE *out, bool json)
{
	if (json)
		print_json(s, out);
	else
		print_text(s, out);
}
