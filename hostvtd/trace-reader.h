/* SPDX-License-Identifier: MIT */
/*
 * Private to the flush trace: what the writer (flushtrace.c), the reader
 * core (trace-summary.c), the JSON-lines parser (trace-json.c) and the
 * field parsers both readers use (trace-fields.c) share.
 * The public API is hostvtd/flushtrace.h.
 */
#ifndef TAGVMM_HOSTVTD_TRACE_READER_H
#define TAGVMM_HOSTVTD_TRACE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hostvtd/flushtrace.h"
#include "lib/util.h"

/*
 * A name must stay one token in the text format and need no escaping in
 * JSON: printable ASCII, no space, no quote, no backslash. The writer
 * replaces anything else; the reader rejects it.
 */
static inline bool trace_is_name_char(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '"' && c != '\\';
}

/* ---- reader ---- */

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

/* One trace_summary_read() in progress (trace-summary.c). */
#define TRACE_DID_SLOTS 2048		/* power of two, > 2 * TRACE_SUMMARY_MAX_DIDS */

struct trace_reader {
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

/* Puts "line N: ..." in the caller's error buffer; returns -1. */
int trace_fail(struct trace_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Quote a piece of hostile input for an error message: bounded, and with
 * anything unprintable replaced so a trace cannot drive the terminal.
 */
const char *trace_quote(const char *s, size_t len, char *buf, size_t size);

#define TRACE_QUOTE_LEN 44
#define Q(s, len) trace_quote((s), (len), (char[TRACE_QUOTE_LEN]){ 0 }, TRACE_QUOTE_LEN)
#define QS(s) Q((s), strlen(s))

/*
 * Field parsers: 0, or -1 with the reason in the error buffer. @what names
 * the field in the message. Numbers are decimal, or 0x-prefixed hex if @hex.
 */
int trace_number(struct trace_reader *r, const char *what, const char *s, size_t len, bool hex,
		 uint64_t max, uint64_t *out);
int trace_name(struct trace_reader *r, const char *what, const char *s, size_t len,
	       char out[HOST_NAME_LEN]);

/* Names the writer uses, looked up through their one definition. */
int trace_desc_type_of(struct trace_reader *r, const char *s, size_t len, unsigned int *type);
int trace_tag_type_check(struct trace_reader *r, const char *s, size_t len);
int trace_status_of(struct trace_reader *r, const char *s, size_t len, bool *failed);
int trace_event_of(struct trace_reader *r, const char *s, size_t len, enum trace_event *ev);

/* ---- trace-fields.c ends here; the parsers proper: ---- */

/*
 * One JSON-lines record (trace-json.c). @line is unescaped in place.
 * Returns 0; -1 for a malformed record; -2 with errno set if memory ran out.
 */
int trace_parse_json(struct trace_reader *r, char *line, struct trace_record *rec);

#endif
