// SPDX-License-Identifier: MIT
/*
 * The flush trace's fields as both readers (text in trace-summary.c,
 * JSON lines in trace-json.c) parse them: error reporting, numbers, names,
 * and the writer's vocabulary looked up through its one definition.
 * Calls neither reader.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hostvtd/backend.h"
#include "hostvtd/plan.h"
#include "hostvtd/trace-reader.h"
#include "vtd/desc.h"

int trace_fail(struct trace_reader *r, const char *fmt, ...)
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

const char *trace_quote(const char *s, size_t len, char *buf, size_t size)
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

/* ---- numbers ---- */

enum num_error { NUM_OK, NUM_SYNTAX, NUM_RANGE };

static enum num_error parse_uint(const char *s, size_t len, unsigned int base, uint64_t max,
				 uint64_t *out)
{
	bool overflow = false;
	uint64_t v = 0;

	if (!len)
		return NUM_SYNTAX;
	for (size_t i = 0; i < len; i++) {
		int d = hex_digit_value(s[i]);

		if (d < 0 || (unsigned int)d >= base)
			return NUM_SYNTAX;
		/* Keep scanning after overflow: junk later on is the better message. */
		if (overflow || v > (UINT64_MAX - (unsigned int)d) / base)
			overflow = true;
		else
			v = v * base + (unsigned int)d;
	}
	if (overflow || v > max)
		return NUM_RANGE;
	*out = v;
	return NUM_OK;
}

int trace_number(struct trace_reader *r, const char *what, const char *s, size_t len, bool hex,
		 uint64_t max, uint64_t *out)
{
	enum num_error e;

	if (hex) {
		if (len < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
			return trace_fail(r, "%s: expected a 0x-prefixed hex number, found '%s'",
					  what, Q(s, len));
		e = parse_uint(s + 2, len - 2, 16, max, out);
	} else {
		e = parse_uint(s, len, 10, max, out);
	}
	if (e == NUM_SYNTAX)
		return trace_fail(r, "%s: bad %s number '%s'", what, hex ? "hex" : "decimal",
				  Q(s, len));
	if (e == NUM_RANGE)
		return trace_fail(r, "%s: '%s' out of range (max %" PRIu64 ")", what, Q(s, len),
				  max);
	return 0;
}

int trace_name(struct trace_reader *r, const char *what, const char *s, size_t len,
	       char out[HOST_NAME_LEN])
{
	if (!len)
		return trace_fail(r, "%s: empty name", what);
	if (len >= HOST_NAME_LEN)
		return trace_fail(r, "%s: name '%s' longer than %d characters", what, Q(s, len),
				  HOST_NAME_LEN - 1);
	for (size_t i = 0; i < len; i++)
		if (!trace_is_name_char((unsigned char)s[i]))
			return trace_fail(r, "%s: bad character in name '%s'", what, Q(s, len));
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* ---- names the writer uses, looked up through their one definition ---- */

/* Whether @s (@len bytes, not NUL-terminated) is exactly @word. */
static bool token_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && !memcmp(word, s, len);
}

int trace_desc_type_of(struct trace_reader *r, const char *s, size_t len, unsigned int *type)
{
	for (unsigned int t = VTD_DESC_CC; t <= VTD_DESC_TYPE_MAX; t++) {
		if (token_is(s, len, vtd_desc_type_name(t))) {
			*type = t;
			return 0;
		}
	}
	return trace_fail(r, "unknown descriptor type '%s'", Q(s, len));
}

int trace_tag_type_check(struct trace_reader *r, const char *s, size_t len)
{
	for (unsigned int t = CACHE_TAG_IOTLB; t <= CACHE_TAG_NESTING_DEVTLB; t++) {
		if (token_is(s, len, cache_tag_type_name((enum cache_tag_type)t)))
			return 0;
	}
	return trace_fail(r, "unknown cache tag type '%s'", Q(s, len));
}

/* "ok", or the name of the host error that ended the submission. */
int trace_status_of(struct trace_reader *r, const char *s, size_t len, bool *failed)
{
	if (token_is(s, len, "ok")) {
		*failed = false;
		return 0;
	}
	for (unsigned int k = HOST_ERR_IQE; k <= HOST_ERR_IO; k++) {
		if (token_is(s, len, host_error_name((enum host_error_kind)k))) {
			*failed = true;
			return 0;
		}
	}
	return trace_fail(r, "unknown status '%s'", Q(s, len));
}

int trace_event_of(struct trace_reader *r, const char *s, size_t len, enum trace_event *ev)
{
	static const struct { const char *name; enum trace_event ev; } events[] = {
		{ "qi_submit", EV_SUBMIT },
		{ "cache_tag_flush_range", EV_FLUSH_RANGE },
		{ "qi_wait", EV_WAIT },
	};

	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		if (token_is(s, len, events[i].name)) {
			*ev = events[i].ev;
			return 0;
		}
	}
	return trace_fail(r, "unknown event '%s'", Q(s, len));
}
