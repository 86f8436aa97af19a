// SPDX-License-Identifier: MIT
/*
 * The flush trace reader's JSON-lines records: one flat object per line,
 * as the writer (flushtrace.c) emits them and docs/flush-trace.md specifies.
 * Only what the format needs is accepted: no nesting beyond an array of
 * scalars, no duplicate keys. Like the rest of the reader it trusts nothing.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/trace-reader.h"
#include "vtd/regs.h"

#define JSON_MAX_FIELDS 32
#define JSON_MAX_ITEMS 4

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
	struct trace_reader *r;
	const char *line;
	char *p;
	size_t nfields;
	struct json_field f[JSON_MAX_FIELDS];
};

static int json_fail(struct json_parser *j, const char *what)
{
	return trace_fail(j->r, "JSON: %s at column %zu", what, (size_t)(j->p - j->line) + 1);
}

static void json_ws(struct json_parser *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n')
		j->p++;
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
				int d = hex_digit_value(j->p[i]);

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
					return trace_fail(j->r, "JSON: duplicate key '%s'",
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
		trace_fail(j->r, "missing field '%s'", key);
		return NULL;
	}
	if (v->kind != kind) {
		trace_fail(j->r, "field '%s' must be %s", key, kinds[kind]);
		return NULL;
	}
	return v;
}

static int json_uint(struct json_parser *j, const char *key, uint64_t max, uint64_t *out)
{
	const struct json_value *v = json_need(j, key, JV_NUMBER);

	return v ? trace_number(j->r, key, v->str, v->len, false, max, out) : -1;
}

static int json_hex(struct json_parser *j, const char *key, uint64_t max, uint64_t *out)
{
	const struct json_value *v = json_need(j, key, JV_STRING);

	return v ? trace_number(j->r, key, v->str, v->len, true, max, out) : -1;
}

static int json_name(struct json_parser *j, const char *key, char out[HOST_NAME_LEN])
{
	const struct json_value *v = json_need(j, key, JV_STRING);

	return v ? trace_name(j->r, key, v->str, v->len, out) : -1;
}

int trace_parse_json(struct trace_reader *r, char *line, struct trace_record *rec)
{
	struct json_parser *j;
	const struct json_value *v;
	char dev[HOST_NAME_LEN];
	int ret = -1;

	/* ~1.5 KiB of field table: keep it off small thread stacks. */
	j = calloc(1, sizeof(*j));
	if (!j) {
		trace_fail(r, "out of memory");
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
	    trace_event_of(r, v->str, v->len, &rec->event) ||
	    json_name(j, "unit", rec->unit))
		goto out;

	switch (rec->event) {
	case EV_SUBMIT:
		if (!(v = json_need(j, "type", JV_STRING)) ||
		    trace_desc_type_of(r, v->str, v->len, &rec->desc_type) ||
		    !(v = json_need(j, "qw", JV_ARRAY)))
			goto out;
		if (v->nitems != 4 || !v->all_strings) {
			trace_fail(r, "field 'qw' must be an array of 4 hex strings");
			goto out;
		}
		for (size_t i = 0; i < 4; i++)
			if (trace_number(r, "qw", v->item[i], v->item_len[i], true, UINT64_MAX,
					 &rec->qw[i]))
				goto out;
		break;
	case EV_FLUSH_RANGE:
		if (json_name(j, "dev", dev) ||
		    json_uint(j, "pasid", TRACE_PASID_MAX, &rec->pasid) ||
		    !(v = json_need(j, "type", JV_STRING)) ||
		    trace_tag_type_check(r, v->str, v->len) ||
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
		    trace_status_of(r, v->str, v->len, &rec->failed))
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
