// SPDX-License-Identifier: MIT
/*
 * Reader for QEMU's VT-d invalidation trace (see qemu-trace.h and
 * tests/data/README.md for the line formats).
 *
 * The log is hostile input: every line is checked for NUL bytes and a
 * terminating newline before it is looked at, and the three events we
 * replay must match QEMU's format strings exactly, because a half-parsed
 * descriptor would be replayed as a different invalidation than the guest
 * sent. Everything else is skipped: QEMU may log other events into the
 * same file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "replay/qemu-trace.h"

#define EV_DESC		"vtd_inv_desc"
#define EV_DESC_INVALID	"vtd_inv_desc_invalid"
#define EV_TAIL		"vtd_inv_qi_tail"
#define EV_VIOMMU	"tagvmm_viommu"
#define EV_UPPER	"tagvmm_inv_desc_upper"

struct qemu_trace_reader {
	FILE *in;
	char *line;		/* getline's buffer, reused */
	size_t cap;
	unsigned long lines;
	unsigned long skipped;
	bool failed;
	char failure[192];	/* repeated on every call once failed */
	bool have_upper;	/* an upper line waits for its descriptor line */
	uint64_t upper[2];
	unsigned long upper_line;
};

/* A cursor over one line; the line is NUL-terminated and holds no other NUL. */
struct cursor {
	const char *p;
	const char *why;	/* first parse failure, for the error message */
	char why_buf[64];	/* room for a failure that names a field */
};

struct qemu_trace_reader *qemu_trace_open(FILE *in)
{
	struct qemu_trace_reader *r = calloc(1, sizeof(*r));

	if (r)
		r->in = in;
	return r;
}

void qemu_trace_close(struct qemu_trace_reader *r)
{
	if (!r)
		return;
	free(r->line);
	free(r);
}

unsigned long qemu_trace_lines(const struct qemu_trace_reader *r)
{
	return r->lines;
}

unsigned long qemu_trace_skipped(const struct qemu_trace_reader *r)
{
	return r->skipped;
}

static void copy_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

/* Record a failure (sticky) and hand it to the caller; always returns -1. */
__attribute__((format(printf, 4, 5)))
static int fail(struct qemu_trace_reader *r, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->failure, sizeof(r->failure), fmt, ap);
	va_end(ap);
	r->failed = true;
	copy_err(err, errlen, r->failure);
	return -1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *skip_digits(const char *p)
{
	while (is_digit(*p))
		p++;
	return p;
}

/*
 * "-msg timestamp=on" puts "%d@%zu.%06zu:" before the event name. Anything
 * that is not exactly that shape is left alone: the line is then simply not
 * one of our events.
 */
static const char *strip_prefix(const char *s)
{
	const char *p = s, *q;

	q = skip_digits(p);
	if (q == p || *q != '@')
		return s;
	p = q + 1;
	q = skip_digits(p);
	if (q == p || *q != '.')
		return s;
	p = q + 1;
	q = skip_digits(p);
	if (q == p || *q != ':')
		return s;
	p = q + 1;
	while (*p == ' ')
		p++;
	return p;
}

static void expect(struct cursor *c, const char *lit, const char *why)
{
	size_t n = strlen(lit);

	if (c->why)
		return;
	if (strncmp(c->p, lit, n) != 0) {
		c->why = why;
		return;
	}
	c->p += n;
}

/* QEMU prints "0x%" PRIx64: no padding, but leading zeros are harmless. */
static uint64_t parse_hex(struct cursor *c, const char *what)
{
	uint64_t v = 0;
	const char *start;
	int d;

	if (c->why)
		return 0;
	if (c->p[0] != '0' || c->p[1] != 'x') {
		snprintf(c->why_buf, sizeof(c->why_buf), "%s: expected 0x", what);
		c->why = c->why_buf;
		return 0;
	}
	start = c->p += 2;
	while ((d = hex_digit_value(*c->p)) >= 0) {
		if (v >> 60) {
			snprintf(c->why_buf, sizeof(c->why_buf), "%s: hex value wider than 64 bits",
				 what);
			c->why = c->why_buf;
			return 0;
		}
		v = v << 4 | (unsigned int)d;
		c->p++;
	}
	if (c->p == start) {
		snprintf(c->why_buf, sizeof(c->why_buf), "%s: no hex digits", what);
		c->why = c->why_buf;
	}
	return v;
}

/* One token up to the next space: QEMU's descriptor type name. */
static void skip_token(struct cursor *c, const char *why)
{
	const char *start = c->p;

	if (c->why)
		return;
	while (*c->p && *c->p != ' ')
		c->p++;
	if (c->p == start)
		c->why = why;
}

static void expect_end(struct cursor *c)
{
	if (!c->why && *c->p)
		c->why = "trailing garbage";
}

/* "invalidate desc type %s high 0x%lx low 0x%lx" */
static void parse_desc(struct cursor *c, struct qemu_trace_event *ev)
{
	expect(c, " invalidate desc type ", "expected 'invalidate desc type'");
	skip_token(c, "missing type name");
	expect(c, " high ", "expected 'high'");
	ev->raw.qw[1] = parse_hex(c, "high");
	expect(c, " low ", "expected 'low'");
	ev->raw.qw[0] = parse_hex(c, "low");
	expect_end(c);
	ev->kind = QEMU_TRACE_DESC;
}

/* "invalid inv desc hi 0x%lx lo 0x%lx" (QEMU 2.x; 7.2 no longer has it) */
static void parse_desc_invalid(struct cursor *c, struct qemu_trace_event *ev)
{
	expect(c, " invalid inv desc hi ", "expected 'invalid inv desc hi'");
	ev->raw.qw[1] = parse_hex(c, "hi");
	expect(c, " lo ", "expected 'lo'");
	ev->raw.qw[0] = parse_hex(c, "lo");
	expect_end(c);
	ev->kind = QEMU_TRACE_DESC;
	ev->invalid = 1;
}

/* A decimal number up to @max; @what names it in the failure. */
static uint64_t parse_decimal(struct cursor *c, uint64_t max, const char *too_big,
			      const char *none)
{
	uint64_t v = 0;
	const char *start = c->p;

	if (c->why)
		return 0;
	while (is_digit(*c->p)) {
		v = v * 10 + (unsigned int)(*c->p - '0');
		if (v > max) {
			c->why = too_big;
			return 0;
		}
		c->p++;
	}
	if (c->p == start)
		c->why = none;
	return v;
}

/* "write tail %d" */
static void parse_tail(struct cursor *c, struct qemu_trace_event *ev)
{
	uint64_t v;

	expect(c, " write tail ", "expected 'write tail'");
	v = parse_decimal(c, UINT32_MAX, "tail out of range (over 4294967295)",
			  "tail: expected a decimal number");
	expect_end(c);
	ev->kind = QEMU_TRACE_TAIL;
	ev->tail = (uint32_t)v;
}

/* tagvmm's "tagvmm_viommu %u" */
static void parse_viommu(struct cursor *c, struct qemu_trace_event *ev)
{
	uint64_t v;

	expect(c, " ", "expected a vIOMMU number");
	v = parse_decimal(c, UINT16_MAX, "vIOMMU out of range (over 65535)",
			  "vIOMMU: expected a decimal number");
	expect_end(c);
	ev->kind = QEMU_TRACE_VIOMMU;
	ev->viommu = (uint16_t)v;
}

/* tagvmm's "tagvmm_inv_desc_upper qw2 0x%lx qw3 0x%lx", kept in raw.qw[2..3] */
static void parse_upper(struct cursor *c, struct qemu_trace_event *ev)
{
	expect(c, " qw2 ", "expected 'qw2'");
	ev->raw.qw[2] = parse_hex(c, "qw2");
	expect(c, " qw3 ", "expected 'qw3'");
	ev->raw.qw[3] = parse_hex(c, "qw3");
	expect_end(c);
	ev->wide = 1;
}

/*
 * Parse one complete line (newline already removed). Returns 1 for an
 * event, 0 for a skipped line, -1 with @event and @why filled for a
 * malformed event.
 */
static int parse_line(const char *line, struct qemu_trace_event *ev, const char **event,
		      char *why, size_t whylen)
{
	struct cursor c = { .p = strip_prefix(line) };
	size_t name_len = strcspn(c.p, " ");
	void (*parse)(struct cursor *, struct qemu_trace_event *);

	if (name_len == strlen(EV_DESC) && !strncmp(c.p, EV_DESC, name_len)) {
		*event = EV_DESC;
		parse = parse_desc;
	} else if (name_len == strlen(EV_DESC_INVALID) &&
		   !strncmp(c.p, EV_DESC_INVALID, name_len)) {
		*event = EV_DESC_INVALID;
		parse = parse_desc_invalid;
	} else if (name_len == strlen(EV_TAIL) && !strncmp(c.p, EV_TAIL, name_len)) {
		*event = EV_TAIL;
		parse = parse_tail;
	} else if (name_len == strlen(EV_VIOMMU) && !strncmp(c.p, EV_VIOMMU, name_len)) {
		*event = EV_VIOMMU;
		parse = parse_viommu;
	} else if (name_len == strlen(EV_UPPER) && !strncmp(c.p, EV_UPPER, name_len)) {
		*event = EV_UPPER;
		parse = parse_upper;
	} else {
		return 0;
	}
	c.p += name_len;
	parse(&c, ev);
	if (c.why) {
		snprintf(why, whylen, "%s", c.why);
		return -1;
	}
	return 1;
}

/* Read one line; 1 with @len set, 0 at end of input, -1 on a read error. */
static int read_line(struct qemu_trace_reader *r, size_t *len, char *err, size_t errlen)
{
	ssize_t n;
	int saved;

	errno = 0;
	n = getline(&r->line, &r->cap, r->in);
	if (n >= 0) {
		*len = (size_t)n;
		return 1;
	}
	saved = errno;
	if (ferror(r->in) || !feof(r->in))
		return fail(r, err, errlen, "line %lu: read error: %s", r->lines + 1,
			    strerror(saved ? saved : EIO));
	return 0;
}

int qemu_trace_next(struct qemu_trace_reader *r, struct qemu_trace_event *ev, char *err,
		    size_t errlen)
{
	for (;;) {
		const char *event = NULL;
		char why[64];
		size_t len = 0;
		int ret;

		if (r->failed) {
			copy_err(err, errlen, r->failure);
			return -1;
		}
		ret = read_line(r, &len, err, errlen);
		if (ret == 0 && r->have_upper)
			return fail(r, err, errlen, "line %lu: the upper half on line %lu has no "
				    "descriptor line after it", r->lines, r->upper_line);
		if (ret <= 0)
			return ret;
		r->lines++;
		if (memchr(r->line, '\0', len))
			return fail(r, err, errlen, "line %lu: NUL byte in line", r->lines);
		/* QEMU ends every line with \n: a missing one means a cut file. */
		if (len == 0 || r->line[len - 1] != '\n')
			return fail(r, err, errlen, "line %lu: truncated last line", r->lines);
		r->line[--len] = '\0';
		/* Accept CRLF: a log copied through Windows tooling is still the same log. */
		if (len && r->line[len - 1] == '\r')
			r->line[--len] = '\0';

		memset(ev, 0, sizeof(*ev));
		ev->line = r->lines;
		ret = parse_line(r->line, ev, &event, why, sizeof(why));
		if (ret < 0)
			return fail(r, err, errlen, "line %lu: malformed %s: %s", r->lines, event,
				    why);
		if (ret == 0) {
			r->skipped++;
			continue;
		}
		/* An upper half belongs to the descriptor line right after it. */
		bool is_upper = !strcmp(event, EV_UPPER);

		if (r->have_upper && (is_upper || ev->kind != QEMU_TRACE_DESC))
			return fail(r, err, errlen, "line %lu: the upper half on line %lu has no "
				    "descriptor line after it", r->lines, r->upper_line);
		if (is_upper) {
			r->have_upper = true;
			r->upper[0] = ev->raw.qw[2];
			r->upper[1] = ev->raw.qw[3];
			r->upper_line = r->lines;
			continue;
		}
		if (r->have_upper) {
			ev->raw.qw[2] = r->upper[0];
			ev->raw.qw[3] = r->upper[1];
			ev->wide = 1;
			r->have_upper = false;
		}
		return 1;
	}
}
