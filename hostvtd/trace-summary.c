// SPDX-License-Identifier: MIT
/*
 * The flush trace reader behind `tagvmm trace summary`: lines, text
 * records, accounting and the summary printers. JSON-lines records are
 * parsed in trace-json.c; both parse fields with trace-fields.c. The format is specified in docs/flush-trace.md;
 * the writer (flushtrace.c) and the reader must agree with it.
 *
 * Traces are read back from files anyone may have edited, concatenated or
 * cut short, so the reader trusts nothing: every line is bounded, every
 * number range-checked, every name validated before it reaches a table.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/flushtrace.h"
#include "hostvtd/trace-reader.h"
#include "lib/util.h"
#include "vtd/regs.h"

#define TRACE_MAX_TOKENS 24

/* ---- text records ---- */

static int expect_word(struct trace_reader *r, char **tok, size_t i, const char *word)
{
	if (strcmp(tok[i], word))
		return trace_fail(r, "expected '%s', found '%s'", word, QS(tok[i]));
	return 0;
}

/* A whole token as a number or a name. */
static int tok_number(struct trace_reader *r, const char *what, const char *tok, bool hex,
		      uint64_t max, uint64_t *out)
{
	return trace_number(r, what, tok, strlen(tok), hex, max, out);
}

static int tok_name(struct trace_reader *r, const char *what, const char *tok,
		    char out[HOST_NAME_LEN])
{
	return trace_name(r, what, tok, strlen(tok), out);
}

/* "NAME[PASID]": the last '[' separates, so a name may itself hold one. */
static int parse_dev_pasid(struct trace_reader *r, const char *tok, struct trace_record *rec)
{
	const char *open = strrchr(tok, '[');
	size_t len = strlen(tok);
	char dev[HOST_NAME_LEN];

	if (!open || len < 2 || tok[len - 1] != ']')
		return trace_fail(r, "expected DEV[PASID], found '%s'", QS(tok));
	if (trace_name(r, "device", tok, (size_t)(open - tok), dev))
		return -1;
	return trace_number(r, "pasid", open + 1, len - (size_t)(open - tok) - 2, false,
			    TRACE_PASID_MAX, &rec->pasid);
}

static int parse_range(struct trace_reader *r, const char *tok, struct trace_record *rec)
{
	size_t len = strlen(tok);
	const char *dash = strchr(tok, '-');

	if (len < 3 || tok[0] != '[' || tok[len - 1] != ']' || !dash)
		return trace_fail(r, "expected [0xSTART-0xEND], found '%s'", QS(tok));
	if (trace_number(r, "range start", tok + 1, (size_t)(dash - tok) - 1, true, UINT64_MAX,
			 &rec->start))
		return -1;
	return trace_number(r, "range end", dash + 1, len - (size_t)(dash - tok) - 2, true,
			    UINT64_MAX, &rec->end);
}

static int check_fields(struct trace_reader *r, const char *event, char **tok, size_t ntok,
			size_t want)
{
	if (ntok < want)
		return trace_fail(r, "truncated %s record (%zu of %zu fields)", event, ntok, want);
	if (ntok > want)
		return trace_fail(r, "unexpected '%s' after the %s record", QS(tok[want]), event);
	return 0;
}

static int parse_text(struct trace_reader *r, char *line, struct trace_record *rec)
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
			return trace_fail(r, "too many fields");
		tok[ntok++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}

	if (ntok < 5)
		return trace_fail(r, "truncated record: expected 'batch N sub N EVENT: ...'");
	if (expect_word(r, tok, 0, "batch") ||
	    tok_number(r, "batch", tok[1], false, UINT64_MAX, &rec->batch) ||
	    expect_word(r, tok, 2, "sub") ||
	    tok_number(r, "sub", tok[3], false, UINT64_MAX, &rec->sub))
		return -1;
	len = strlen(tok[4]);
	if (len < 2 || tok[4][len - 1] != ':')
		return trace_fail(r, "expected 'EVENT:', found '%s'", QS(tok[4]));
	if (trace_event_of(r, tok[4], len - 1, &rec->event))
		return -1;

	switch (rec->event) {
	case EV_SUBMIT:
		/* batch B sub S qi_submit: TYPE UNIT: QW0 QW1 QW2 QW3 */
		if (check_fields(r, "qi_submit", tok, ntok, 11) ||
		    trace_desc_type_of(r, tok[5], strlen(tok[5]), &rec->desc_type))
			return -1;
		len = strlen(tok[6]);
		if (len < 2 || tok[6][len - 1] != ':')
			return trace_fail(r, "expected 'UNIT:', found '%s'", QS(tok[6]));
		if (trace_name(r, "unit", tok[6], len - 1, rec->unit))
			return -1;
		for (size_t i = 0; i < 4; i++)
			if (tok_number(r, "qw", tok[7 + i], true, UINT64_MAX, &rec->qw[i]))
				return -1;
		return 0;
	case EV_FLUSH_RANGE:
		/*
		 * batch B sub S cache_tag_flush_range: UNIT DEV[PASID] type T did D
		 * [0xS-0xE] addr 0xA mask 0xM absorbed N
		 */
		if (check_fields(r, "cache_tag_flush_range", tok, ntok, 18) ||
		    tok_name(r, "unit", tok[5], rec->unit) ||
		    parse_dev_pasid(r, tok[6], rec) ||
		    expect_word(r, tok, 7, "type") ||
		    trace_tag_type_check(r, tok[8], strlen(tok[8])) ||
		    expect_word(r, tok, 9, "did") ||
		    tok_number(r, "did", tok[10], false, UINT16_MAX, &rec->did) ||
		    parse_range(r, tok[11], rec) ||
		    expect_word(r, tok, 12, "addr") ||
		    tok_number(r, "addr", tok[13], true, UINT64_MAX, &rec->addr) ||
		    expect_word(r, tok, 14, "mask") ||
		    tok_number(r, "mask", tok[15], true, VTD_MAX_AM, &rec->mask) ||
		    expect_word(r, tok, 16, "absorbed") ||
		    tok_number(r, "absorbed", tok[17], false, UINT32_MAX, &rec->absorbed))
			return -1;
		return 0;
	case EV_WAIT:
		/* batch B sub S qi_wait: UNIT descs N status ok|ERR op N sid 0xSID */
		if (ntok < 10)
			return check_fields(r, "qi_wait", tok, ntok, 10);
		if (tok_name(r, "unit", tok[5], rec->unit) ||
		    expect_word(r, tok, 6, "descs") ||
		    tok_number(r, "descs", tok[7], false, UINT32_MAX, &rec->descs) ||
		    expect_word(r, tok, 8, "status") ||
		    trace_status_of(r, tok[9], strlen(tok[9]), &rec->failed) ||
		    check_fields(r, "qi_wait", tok, ntok, rec->failed ? 14 : 10))
			return -1;
		if (rec->failed &&
		    (expect_word(r, tok, 10, "op") ||
		     tok_number(r, "op", tok[11], false, UINT32_MAX, &rec->op) ||
		     expect_word(r, tok, 12, "sid") ||
		     tok_number(r, "sid", tok[13], true, UINT16_MAX, &rec->sid)))
			return -1;
		return 0;
	}
	return trace_fail(r, "unknown event");
}

/* ---- accounting ---- */

static int batch_insert(uint64_t *keys, unsigned char *used, size_t slots, uint64_t b)
{
	size_t i = hash_mix64(b) & (slots - 1);

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
static int note_batch(struct trace_reader *r, uint64_t b)
{
	if (2 * (r->s->batches + 1) > r->batch_slots) {
		size_t slots = r->batch_slots ? 2 * r->batch_slots : 1024;
		uint64_t *keys = malloc(slots * sizeof(*keys));
		unsigned char *used = calloc(slots, 1);

		if (!keys || !used) {
			free(keys);
			free(used);
			trace_fail(r, "out of memory");
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

static struct trace_summary_unit *unit_of(struct trace_reader *r, const char *unit)
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

static struct trace_summary_did *did_of(struct trace_reader *r, const char *unit, uint16_t did)
{
	struct trace_summary *s = r->s;
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a over the name */
	size_t i;

	for (const char *c = unit; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
	i = hash_mix64(h ^ did) & (TRACE_DID_SLOTS - 1);
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

static int add(struct trace_reader *r, uint64_t *counter, uint64_t n)
{
	if (__builtin_add_overflow(*counter, n, counter))
		return trace_fail(r, "counter overflow");
	return 0;
}

static int account(struct trace_reader *r, const struct trace_record *rec)
{
	struct trace_summary *s = r->s;
	struct trace_summary_unit *u;
	struct trace_summary_did *d;
	int ret;

	/* Checks that need the whole record, whichever format it came in. */
	if (rec->event == EV_SUBMIT && vtd_desc_raw_type(rec->qw[0]) != rec->desc_type)
		return trace_fail(r, "qi_submit type %s does not match qw0 0x%" PRIx64 " (type %u)",
				  vtd_desc_type_name(rec->desc_type), rec->qw[0],
				  vtd_desc_raw_type(rec->qw[0]));
	if (rec->event == EV_FLUSH_RANGE && rec->start > rec->end)
		return trace_fail(r, "range start 0x%" PRIx64 " above end 0x%" PRIx64,
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

static int parse_line(struct trace_reader *r, char *line, size_t len)
{
	struct trace_record rec;
	char *p = line;
	int ret;

	if (memchr(line, '\0', len))
		return trace_fail(r, "NUL byte in line");
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || *p == '#')
		return 0;

	memset(&rec, 0, sizeof(rec));
	ret = *p == '{' ? trace_parse_json(r, p, &rec) : parse_text(r, p, &rec);
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
	struct trace_reader *r;
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
			ret = trace_fail(r, "line longer than %d bytes", TRACE_LINE_MAX);
			break;
		}
		if (st == LINE_READ_ERROR) {
			int saved = errno ? errno : EIO;

			trace_fail(r, "read error: %s", strerror(saved));
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
