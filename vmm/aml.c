// SPDX-License-Identifier: MIT
/*
 * AML emitter and resource descriptors for the DSDT (see vmm/aml.h).
 * Section numbers refer to the ACPI 6.5 specification.
 */
#include <string.h>

#include "vmm/aml.h"

/* Opcodes and prefixes (§20.3, §20.2.2). */
#define AML_ZERO_OP		0x00
#define AML_ONE_OP		0x01
#define AML_NAME_OP		0x08
#define AML_BYTE_PREFIX		0x0a
#define AML_WORD_PREFIX		0x0b
#define AML_DWORD_PREFIX	0x0c
#define AML_QWORD_PREFIX	0x0e
#define AML_SCOPE_OP		0x10
#define AML_BUFFER_OP		0x11
#define AML_PACKAGE_OP		0x12
#define AML_METHOD_OP		0x14
#define AML_DUAL_NAME_PREFIX	0x2e
#define AML_MULTI_NAME_PREFIX	0x2f
#define AML_EXT_OP_PREFIX	0x5b
#define AML_EXT_DEVICE_OP	0x82
#define AML_ROOT_CHAR		'\\'
#define AML_PARENT_CHAR		'^'
#define AML_RETURN_OP		0xa4

static void put_le16(uint8_t *p, uint16_t v)
{
	memcpy(p, &(uint8_t[2]){ v, v >> 8 }, 2);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &(uint8_t[4]){ v, v >> 8, v >> 16, v >> 24 }, 4);
}

void aml_init(struct aml *a, void *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

bool aml_failed(const struct aml *a)
{
	return a->overflow || a->depth;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	if (a->len >= a->cap) {
		a->overflow = true;
		return;
	}
	a->buf[a->len++] = b;
}

static void aml_bytes(struct aml *a, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		aml_byte(a, ((const uint8_t *)p)[i]);
}

static void aml_le(struct aml *a, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

void aml_integer(struct aml *a, uint64_t v)
{
	static const uint8_t prefix[] = { AML_BYTE_PREFIX, AML_WORD_PREFIX, AML_DWORD_PREFIX,
					  AML_QWORD_PREFIX };
	unsigned int i = 0;

	if (v <= 1) {
		aml_byte(a, v ? AML_ONE_OP : AML_ZERO_OP);
		return;
	}
	while (i < 3 && v >> (8u << i))
		i++;
	aml_byte(a, prefix[i]);
	aml_le(a, v, 1u << i);
}

void aml_name_string(struct aml *a, const char *path)
{
	unsigned int nseg = 0;

	while (*path == AML_ROOT_CHAR || *path == AML_PARENT_CHAR)
		aml_byte(a, (uint8_t)*path++);
	if (*path) {
		nseg = 1;
		for (const char *p = path; *p; p++)
			nseg += *p == '.';
	}
	if (nseg == 0) {
		aml_byte(a, 0);		/* NullName */
		return;
	}
	if (nseg == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nseg);
	}
	while (*path) {
		unsigned int n = 0;

		for (; *path && *path != '.'; path++, n++)
			if (n < 4)
				aml_byte(a, (uint8_t)*path);
		for (; n < 4; n++)
			aml_byte(a, '_');
		if (*path == '.')
			path++;
	}
}

uint32_t aml_eisa_id(const char *id)
{
	uint32_t v = (uint32_t)(id[0] - 0x40) << 26 | (uint32_t)(id[1] - 0x40) << 21 |
		     (uint32_t)(id[2] - 0x40) << 16;

	for (int i = 3; i < 7; i++) {
		char c = id[i];
		uint32_t nibble = c <= '9' ? (uint32_t)(c - '0') : (uint32_t)(c - 'A' + 10);

		v |= nibble << (4 * (6 - i));
	}
	return __builtin_bswap32(v);
}

static void aml_open(struct aml *a)
{
	if (a->depth >= AML_MAX_DEPTH) {
		a->overflow = true;
		return;
	}
	a->open[a->depth++] = a->len;
	aml_le(a, 0, 4);	/* room for the longest PkgLength */
}

void aml_close(struct aml *a)
{
	size_t at, body;
	unsigned int n;
	uint32_t total;

	if (a->depth == 0 || a->overflow) {
		a->overflow = true;
		return;
	}
	at = a->open[--a->depth];
	body = a->len - at - 4;
	if (body + 1 <= 0x3f)
		n = 1;
	else if (body + 2 <= 0xfff)
		n = 2;
	else if (body + 3 <= 0xfffff)
		n = 3;
	else if (body + 4 <= 0xfffffff)
		n = 4;
	else {
		a->overflow = true;
		return;
	}
	total = (uint32_t)(body + n);
	memmove(a->buf + at + n, a->buf + at + 4, body);
	a->len = at + n + body;
	if (n == 1) {
		a->buf[at] = (uint8_t)total;
		return;
	}
	/* Lead byte: count of following bytes in bits 7:6, the low nibble in 3:0. */
	a->buf[at] = (uint8_t)((n - 1) << 6 | (total & 0xf));
	for (unsigned int i = 1; i < n; i++)
		a->buf[at + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
}

void aml_scope(struct aml *a, const char *name)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_open(a);
	aml_name_string(a, name);
}

void aml_device(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_EXT_DEVICE_OP);
	aml_open(a);
	aml_name_string(a, name);
}

void aml_method(struct aml *a, const char *name)
{
	aml_byte(a, AML_METHOD_OP);
	aml_open(a);
	aml_name_string(a, name);
	aml_byte(a, 0);
}

void aml_package(struct aml *a, uint8_t nelems)
{
	aml_byte(a, AML_PACKAGE_OP);
	aml_open(a);
	aml_byte(a, nelems);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name_string(a, name);
}

void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_eisa_id(struct aml *a, const char *name, const char *id)
{
	aml_name(a, name);
	aml_integer(a, aml_eisa_id(id));
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN_OP);
}

/* ---- Resource descriptors (§6.4) ------------------------------------------ */

#define RES_IRQ_NO_FLAGS	0x22	/* small item 0x04, length 2 */
#define RES_IO			0x47	/* small item 0x08, length 7 */
#define RES_END_TAG		0x79	/* small item 0x0f, length 1 */
#define RES_MEMORY32_FIXED	0x86
#define RES_DWORD_ADDRESS	0x87
#define RES_WORD_ADDRESS	0x88
#define RES_TYPE_MEMORY		0
#define RES_TYPE_IO		1
#define RES_TYPE_BUS		2
/* General flags: _MIF and _MAF fixed, positive decode, ResourceProducer. */
#define RES_WINDOW_FLAGS	0x0c

static uint8_t *res_take(struct aml_resources *r, size_t n)
{
	uint8_t *p;

	if (r->overflow || n > AML_RES_MAX - r->len || n > sizeof(r->scratch)) {
		r->overflow = true;
		return r->scratch;
	}
	p = r->b + r->len;
	r->len += n;
	return p;
}

void aml_res_io(struct aml_resources *r, uint16_t base, uint8_t len)
{
	uint8_t *p = res_take(r, 8);

	p[0] = RES_IO;
	p[1] = 1;			/* decodes 16 address lines */
	put_le16(p + 2, base);
	put_le16(p + 4, base);
	p[6] = 1;
	p[7] = len;
}

void aml_res_irq_no_flags(struct aml_resources *r, unsigned int irq)
{
	uint8_t *p = res_take(r, 3);

	p[0] = RES_IRQ_NO_FLAGS;
	put_le16(p + 1, (uint16_t)(1u << irq));
}

void aml_res_memory32_fixed(struct aml_resources *r, uint32_t base, uint32_t len)
{
	uint8_t *p = res_take(r, 12);

	p[0] = RES_MEMORY32_FIXED;
	put_le16(p + 1, 9);
	p[3] = 1;			/* read-write */
	put_le32(p + 4, base);
	put_le32(p + 8, len);
}

/* Word Address Space Descriptor (§6.4.3.5.3). */
static void res_word_window(struct aml_resources *r, uint8_t type, uint16_t min, uint16_t len)
{
	uint8_t *p = res_take(r, 16);

	p[0] = RES_WORD_ADDRESS;
	put_le16(p + 1, 13);
	p[3] = type;
	p[4] = RES_WINDOW_FLAGS;
	p[5] = type == RES_TYPE_IO ? 3 : 0;	/* I/O: EntireRange (ISA and non-ISA) */
	put_le16(p + 6, 0);			/* granularity */
	put_le16(p + 8, min);
	put_le16(p + 10, (uint16_t)(min + len - 1));
	put_le16(p + 12, 0);			/* translation */
	put_le16(p + 14, len);
}

void aml_res_word_bus_number(struct aml_resources *r, uint16_t min, uint16_t len)
{
	res_word_window(r, RES_TYPE_BUS, min, len);
}

void aml_res_word_io(struct aml_resources *r, uint16_t min, uint16_t len)
{
	res_word_window(r, RES_TYPE_IO, min, len);
}

void aml_res_dword_memory(struct aml_resources *r, uint32_t min, uint32_t len)
{
	uint8_t *p = res_take(r, 26);

	p[0] = RES_DWORD_ADDRESS;
	put_le16(p + 1, 23);
	p[3] = RES_TYPE_MEMORY;
	p[4] = RES_WINDOW_FLAGS;
	p[5] = 1;				/* read-write, non-cacheable, memory */
	put_le32(p + 6, 0);
	put_le32(p + 10, min);
	put_le32(p + 14, min + len - 1);
	put_le32(p + 18, 0);
	put_le32(p + 22, len);
}

void aml_resource_template(struct aml *a, const struct aml_resources *r)
{
	if (r->overflow) {
		a->overflow = true;
		return;
	}
	aml_byte(a, AML_BUFFER_OP);
	aml_open(a);
	aml_integer(a, r->len + 2);
	aml_bytes(a, r->b, r->len);
	aml_byte(a, RES_END_TAG);
	aml_byte(a, 0);			/* checksum 0: treat as valid */
	aml_close(a);
}
