// SPDX-License-Identifier: MIT
/*
 * AML: vmm/aml.c's encoders against hand-assembled bytes (PkgLength at each
 * width boundary, integers, NameStrings, resource descriptors, overflow),
 * then the DSDT acpi_build() makes, walked by a small independent parser
 * and (when $IASL is set) disassembled and recompiled byte for byte.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi_testutil.h"
#include "check_main.h"
#include "vmm/acpi.h"
#include "vmm/aml.h"
#include "vmm/machine.h"

/* ---- An independent minimal AML walker ----------------------------------- */

#define MAX_OBJS 64

struct obj {
	char path[64];
	char kind;			/* 'D' device, 'N' name, 'M' method, 'S' scope */
	const uint8_t *data, *end;	/* Name: the data object; others: the body */
};

struct walk {
	struct obj objs[MAX_OBJS];
	size_t n;
};

/* PkgLength: returns the end of the object, moving *p past the encoding. */
static const uint8_t *pkg_length(const uint8_t **p, const uint8_t *limit)
{
	const uint8_t *start = *p;
	unsigned int extra = start[0] >> 6;
	uint32_t len;

	if (extra == 0) {
		len = start[0] & 0x3f;
	} else {
		len = start[0] & 0x0f;
		for (unsigned int i = 0; i < extra; i++)
			len |= (uint32_t)start[1 + i] << (4 + 8 * i);
		/* The encoding must be the shortest (what iasl emits). */
		ck_assert_uint_gt(len, extra == 1 ? 0x3f : extra == 2 ? 0xfff : 0xfffff);
	}
	*p = start + 1 + extra;
	ck_assert_ptr_le(start + len, limit);
	ck_assert_uint_ge(len, 1 + extra);
	return start + len;
}

/* NameString into dotted text ("\\_SB_.PCI0"). */
static void name_string(const uint8_t **p, char *out, size_t outlen)
{
	const uint8_t *q = *p;
	size_t o = 0;
	unsigned int nseg = 1;

	while (*q == '\\' || *q == '^')
		out[o++] = (char)*q++;
	if (*q == 0x2e) {
		nseg = 2;
		q++;
	} else if (*q == 0x2f) {
		nseg = q[1];
		q += 2;
	} else if (*q == 0) {
		nseg = 0;
		q++;
	}
	for (unsigned int s = 0; s < nseg; s++) {
		if (s)
			out[o++] = '.';
		for (int i = 0; i < 4; i++) {
			/* LeadNameChar, then NameChars (digits allowed). */
			ck_assert(q[i] == '_' || (q[i] >= 'A' && q[i] <= 'Z') ||
				  (i > 0 && q[i] >= '0' && q[i] <= '9'));
			out[o++] = (char)q[i];
		}
		q += 4;
		ck_assert_uint_lt(o, outlen - 6);
	}
	out[o] = 0;
	*p = q;
}

static uint64_t read_int(const uint8_t **p)
{
	const uint8_t *q = *p;
	unsigned int n;
	uint64_t v = 0;

	switch (*q) {
	case 0x00: *p = q + 1; return 0;
	case 0x01: *p = q + 1; return 1;
	case 0x0a: n = 1; break;
	case 0x0b: n = 2; break;
	case 0x0c: n = 4; break;
	case 0x0e: n = 8; break;
	default:
		ck_abort_msg("not an integer: opcode 0x%02x", *q);
		return 0;
	}
	for (unsigned int i = 0; i < n; i++)
		v |= (uint64_t)q[1 + i] << (8 * i);
	/* Shortest form, as iasl writes them. */
	ck_assert(n == 1 ? v > 1 : v >> (4 * n) != 0);
	*p = q + 1 + n;
	return v;
}

static void skip_data(const uint8_t **p, const uint8_t *limit);

/* Package: checks the element count against the elements present. */
static const uint8_t *package(const uint8_t **p, const uint8_t *limit, unsigned int *count)
{
	const uint8_t *end, *q;
	unsigned int n = 0;

	ck_assert_uint_eq(**p, 0x12);
	(*p)++;
	end = pkg_length(p, limit);
	*count = *(*p)++;
	for (q = *p; q < end; n++)
		skip_data(&q, end);
	ck_assert_ptr_eq(q, end);
	ck_assert_uint_eq(n, *count);
	return end;
}

/* Buffer: checks BufferSize against the bytes present. */
static const uint8_t *buffer(const uint8_t **p, const uint8_t *limit, size_t *size)
{
	const uint8_t *end;

	ck_assert_uint_eq(**p, 0x11);
	(*p)++;
	end = pkg_length(p, limit);
	*size = read_int(p);
	ck_assert_uint_eq(*size, (size_t)(end - *p));
	return end;
}

static void skip_data(const uint8_t **p, const uint8_t *limit)
{
	unsigned int count;
	size_t size;

	if (**p == 0x12)
		*p = package(p, limit, &count);
	else if (**p == 0x11)
		*p = buffer(p, limit, &size);
	else
		read_int(p);
	ck_assert_ptr_le(*p, limit);
}

static void walk_terms(struct walk *w, const uint8_t *p, const uint8_t *end, const char *scope)
{
	while (p < end) {
		struct obj *o;
		char name[48];
		const uint8_t *obj_end;
		char kind;

		ck_assert_uint_lt(w->n, MAX_OBJS);
		o = &w->objs[w->n++];
		if (p[0] == 0x10 || (p[0] == 0x5b && p[1] == 0x82) || p[0] == 0x14) {
			kind = p[0] == 0x10 ? 'S' : p[0] == 0x14 ? 'M' : 'D';
			p += p[0] == 0x5b ? 2 : 1;
			obj_end = pkg_length(&p, end);
			name_string(&p, name, sizeof(name));
			if (kind == 'M')
				p++;		/* MethodFlags */
		} else if (p[0] == 0x08) {
			kind = 'N';
			p++;
			name_string(&p, name, sizeof(name));
			obj_end = p;
			skip_data(&obj_end, end);
		} else {
			ck_abort_msg("unexpected opcode 0x%02x in a term list", p[0]);
			return;
		}
		if (name[0] == '\\')
			snprintf(o->path, sizeof(o->path), "%s", name);
		else
			snprintf(o->path, sizeof(o->path), "%s.%s", scope, name);
		o->kind = kind;
		o->data = p;
		o->end = obj_end;
		if (kind == 'S' || kind == 'D')
			walk_terms(w, p, obj_end, o->path);
		p = obj_end;
	}
	ck_assert_ptr_eq(p, end);
}

static const struct obj *find_obj(const struct walk *w, const char *path, char kind)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->objs[i].path, path) && w->objs[i].kind == kind)
			return &w->objs[i];
	ck_abort_msg("%s not in the DSDT", path);
	return NULL;
}

/* Resource descriptors in a _CRS buffer: returns the count, checks the End Tag. */
static unsigned int walk_resources(const struct obj *o, const uint8_t **desc, unsigned int max)
{
	const uint8_t *p = o->data, *end;
	size_t size;
	unsigned int n = 0;

	end = buffer(&p, o->end, &size);
	while (p < end) {
		size_t len = (p[0] & 0x80) ? 3u + le16(p + 1) : 1u + (p[0] & 7);

		ck_assert_ptr_le(p + len, end);
		if (p[0] == 0x79) {
			ck_assert_ptr_eq(p + len, end);
			return n;
		}
		ck_assert_uint_lt(n, max);
		desc[n++] = p;
		p += len;
	}
	ck_abort_msg("no End Tag");
	return 0;
}

static uint32_t eisa(const struct obj *o)
{
	const uint8_t *p = o->data;

	return (uint32_t)read_int(&p);
}

/* ---- Encoders ------------------------------------------------------------- */

#define ck_assert_aml(a, ...) do { \
		static const uint8_t want_[] = { __VA_ARGS__ }; \
		ck_assert(!aml_failed(a)); \
		ck_assert_uint_eq((a)->len, sizeof(want_)); \
		ck_assert_mem_eq((a)->buf, want_, sizeof(want_)); \
	} while (0)

START_TEST(integer_shortest)
{
	static const struct {
		uint64_t v;
		uint8_t len, enc[9];
	} cases[] = {
		{ 0, 1, { 0x00 } },
		{ 1, 1, { 0x01 } },
		{ 2, 2, { 0x0a, 0x02 } },
		{ 0xff, 2, { 0x0a, 0xff } },
		{ 0x100, 3, { 0x0b, 0x00, 0x01 } },
		{ 0xffff, 3, { 0x0b, 0xff, 0xff } },
		{ 0x10000, 5, { 0x0c, 0x00, 0x00, 0x01, 0x00 } },
		{ 0xffffffff, 5, { 0x0c, 0xff, 0xff, 0xff, 0xff } },
		{ 0x100000000, 9, { 0x0e, 0, 0, 0, 0, 1, 0, 0, 0 } },
		{ UINT64_MAX, 9, { 0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[16];
		const uint8_t *p = buf;
		struct aml a;

		aml_init(&a, buf, sizeof(buf));
		aml_integer(&a, cases[i].v);
		ck_assert(!aml_failed(&a));
		ck_assert_uint_eq(a.len, cases[i].len);
		ck_assert_mem_eq(buf, cases[i].enc, cases[i].len);
		ck_assert_uint_eq(read_int(&p), cases[i].v);
	}
}
END_TEST

START_TEST(name_strings)
{
	uint8_t buf[32];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "PCI0");
	ck_assert_aml(&a, 'P', 'C', 'I', '0');

	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "\\_SB");
	ck_assert_aml(&a, '\\', '_', 'S', 'B', '_');

	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "\\_SB.PCI0");
	ck_assert_aml(&a, '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0');

	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "\\_SB.PCI0.S8");
	ck_assert_aml(&a, '\\', 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',
		      'S', '8', '_', '_');

	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "^^COM1");
	ck_assert_aml(&a, '^', '^', 'C', 'O', 'M', '1');

	/* The root alone, and no name at all, end in a NullName. */
	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "\\");
	ck_assert_aml(&a, '\\', 0x00);
	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "");
	ck_assert_aml(&a, 0x00);
}
END_TEST

START_TEST(eisa_ids)
{
	ck_assert_uint_eq(aml_eisa_id("PNP0A08"), 0x080ad041);
	ck_assert_uint_eq(aml_eisa_id("PNP0A03"), 0x030ad041);
	ck_assert_uint_eq(aml_eisa_id("PNP0C02"), 0x020cd041);
	ck_assert_uint_eq(aml_eisa_id("PNP0501"), 0x0105d041);
}
END_TEST

/*
 * A Package whose PkgLength covers @body bytes after the encoding (the
 * NumElements byte and ZeroOps), at each width's first and last total.
 */
START_TEST(pkg_length_boundaries)
{
	static const struct {
		size_t body;
		uint8_t n, enc[4];
	} cases[] = {
		{ 1, 1, { 0x02 } },				/* empty Package */
		{ 0x3e, 1, { 0x3f } },				/* 1 byte: up to 0x3f */
		{ 0x3f, 2, { 0x41, 0x04 } },			/* 0x41: 0x40 needs 2 */
		{ 0xffd, 2, { 0x4f, 0xff } },			/* 2 bytes: up to 0xfff */
		{ 0xffe, 3, { 0x81, 0x00, 0x01 } },		/* 0x1001 */
		{ 0xffffc, 3, { 0x8f, 0xff, 0xff } },		/* 3 bytes: up to 0xfffff */
		{ 0xffffd, 4, { 0xc1, 0x00, 0x00, 0x01 } },	/* 0x100001 */
	};
	size_t cap = 0x100010;
	uint8_t *buf = malloc(cap);

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aml a;
		const uint8_t *p = buf + 1, *end;

		aml_init(&a, buf, cap);
		aml_package(&a, 0);
		for (size_t k = 1; k < cases[i].body; k++)
			aml_integer(&a, 0);
		aml_close(&a);
		ck_assert(!aml_failed(&a));
		ck_assert_uint_eq(a.len, 1 + cases[i].n + cases[i].body);
		ck_assert_uint_eq(buf[0], 0x12);
		ck_assert_mem_eq(buf + 1, cases[i].enc, cases[i].n);
		/* The body slid down behind the shorter encoding intact. */
		ck_assert_uint_eq(buf[1 + cases[i].n], 0);
		end = pkg_length(&p, buf + a.len);
		ck_assert_ptr_eq(end, buf + a.len);
	}
	free(buf);
}
END_TEST

START_TEST(nested_objects)
{
	uint8_t buf[64];
	struct aml a;

	/* Method(_STA) { Return (0x0F) } */
	aml_init(&a, buf, sizeof(buf));
	aml_method(&a, "_STA");
	aml_return(&a);
	aml_integer(&a, 0x0f);
	aml_close(&a);
	ck_assert_aml(&a, 0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f);

	/* Scope(\_SB) { Device(COM1) { Name(_UID, 1) } } */
	aml_init(&a, buf, sizeof(buf));
	aml_scope(&a, "\\_SB");
	aml_device(&a, "COM1");
	aml_name_integer(&a, "_UID", 1);
	ck_assert(aml_failed(&a));		/* still open */
	aml_close(&a);
	aml_close(&a);
	ck_assert_aml(&a, 0x10, 0x13, '\\', '_', 'S', 'B', '_',
		      0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1',
		      0x08, '_', 'U', 'I', 'D', 0x01);

	/* Name(_HID, EisaId("PNP0501")) */
	aml_init(&a, buf, sizeof(buf));
	aml_name_eisa_id(&a, "_HID", "PNP0501");
	ck_assert_aml(&a, 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01);
}
END_TEST

START_TEST(resource_template)
{
	struct aml_resources r = { .len = 0 };
	uint8_t buf[128];
	struct aml a;

	aml_res_io(&r, 0x3f8, 8);
	aml_res_irq_no_flags(&r, 4);
	aml_init(&a, buf, sizeof(buf));
	aml_resource_template(&a, &r);
	ck_assert_aml(&a, 0x11, 0x10, 0x0a, 0x0d,
		      0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
		      0x22, 0x10, 0x00,
		      0x79, 0x00);

	memset(&r, 0, sizeof(r));
	aml_res_word_bus_number(&r, 0, 1);
	aml_res_word_io(&r, 0xc000, 0x4000);
	aml_res_memory32_fixed(&r, 0xe0000000, 0x100000);
	aml_res_dword_memory(&r, 0xc0000000, 0x20000000);
	ck_assert_uint_eq(r.len, 16 + 16 + 12 + 26);
	ck_assert_mem_eq(r.b, ((const uint8_t[]){ 0x88, 13, 0, 2, 0x0c, 0, 0, 0, 0, 0, 0, 0,
						    0, 0, 1, 0 }), 16);
	ck_assert_mem_eq(r.b + 16, ((const uint8_t[]){ 0x88, 13, 0, 1, 0x0c, 3, 0, 0, 0x00, 0xc0,
							 0xff, 0xff, 0, 0, 0x00, 0x40 }), 16);
	ck_assert_mem_eq(r.b + 32, ((const uint8_t[]){ 0x86, 9, 0, 1, 0, 0, 0, 0xe0, 0, 0, 0x10,
							 0 }), 12);
	ck_assert_mem_eq(r.b + 44, ((const uint8_t[]){ 0x87, 23, 0, 0, 0x0c, 1, 0, 0, 0, 0,
							 0, 0, 0, 0xc0, 0xff, 0xff, 0xff, 0xdf,
							 0, 0, 0, 0, 0, 0, 0, 0x20 }), 26);
}
END_TEST

START_TEST(failures_are_sticky)
{
	struct aml_resources r = { .len = 0 };
	uint8_t buf[64], *small;
	struct aml a;

	/* Out of room: the stream fails and never writes past @cap. */
	small = malloc(3);
	ck_assert_ptr_nonnull(small);
	aml_init(&a, small, 3);
	aml_name_integer(&a, "_UID", 0);
	ck_assert(aml_failed(&a));
	ck_assert_uint_le(a.len, 3);
	free(small);

	/* Closing what was never opened. */
	aml_init(&a, buf, sizeof(buf));
	aml_close(&a);
	ck_assert(aml_failed(&a));

	/* Nesting deeper than AML_MAX_DEPTH. */
	aml_init(&a, buf, sizeof(buf));
	for (unsigned int i = 0; i <= AML_MAX_DEPTH; i++)
		aml_package(&a, 1);
	ck_assert(aml_failed(&a));

	/* Descriptors past AML_RES_MAX fail the template, not the caller's stack. */
	for (unsigned int i = 0; i < AML_RES_MAX / 8 + 1; i++)
		aml_res_io(&r, (uint16_t)(0x100 + 8 * i), 8);
	ck_assert(r.overflow);
	ck_assert_uint_le(r.len, AML_RES_MAX);
	aml_init(&a, buf, sizeof(buf));
	aml_resource_template(&a, &r);
	ck_assert(aml_failed(&a));
}
END_TEST

/* ---- DSDT ----------------------------------------------------------------- */

START_TEST(dsdt_structure)
{
	struct tables t;
	struct walk w = { .n = 0 };
	const struct obj *o;
	const uint8_t *d[8], *p, *end, *e;
	unsigned int count, i;

	build_for(&t, 1, GIB);
	ck_assert_uint_eq(t.dsdt[8], 2);
	walk_terms(&w, t.dsdt + 36, t.dsdt + le32(t.dsdt + 4), "");

	find_obj(&w, "\\_SB_", 'S');
	find_obj(&w, "\\_SB_.PCI0", 'D');
	ck_assert_uint_eq(eisa(find_obj(&w, "\\_SB_.PCI0._HID", 'N')), 0x080ad041);
	ck_assert_uint_eq(eisa(find_obj(&w, "\\_SB_.PCI0._CID", 'N')), 0x030ad041);
	find_obj(&w, "\\_SB_.PCI0._SEG", 'N');
	find_obj(&w, "\\_SB_.PCI0._BBN", 'N');
	ck_assert_uint_eq(eisa(find_obj(&w, "\\_SB_.MBRD._HID", 'N')), 0x020cd041);
	ck_assert_uint_eq(eisa(find_obj(&w, "\\_SB_.COM1._HID", 'N')), 0x0105d041);
	find_obj(&w, "\\_SB_.COM1._STA", 'M');

	/* PCI0._CRS: bus numbers, config ports, I/O window, MMIO window. */
	ck_assert_uint_eq(walk_resources(find_obj(&w, "\\_SB_.PCI0._CRS", 'N'), d, 8), 4);
	ck_assert_uint_eq(d[0][0], 0x88);
	ck_assert_uint_eq(d[0][3], 2);
	ck_assert_uint_eq(le16(d[0] + 10), MACHINE_PCI_BUSES - 1);
	ck_assert_uint_eq(d[1][0], 0x47);
	ck_assert_uint_eq(le16(d[1] + 2), MACHINE_PCI_CONF_PORT);
	ck_assert_uint_eq(d[1][7], 8);
	ck_assert_uint_eq(d[2][0], 0x88);
	ck_assert_uint_eq(d[2][3], 1);
	ck_assert_uint_eq(le16(d[2] + 8), MACHINE_PCI_IO_BASE);
	ck_assert_uint_eq(le16(d[2] + 14), MACHINE_PCI_IO_SIZE);
	ck_assert_uint_eq(d[3][0], 0x87);
	ck_assert_uint_eq(le32(d[3] + 10), MACHINE_PCI_MMIO_BASE);
	ck_assert_uint_eq(le32(d[3] + 14), MACHINE_PCI_MMIO_BASE + MACHINE_PCI_MMIO_SIZE - 1);
	ck_assert_uint_eq(le32(d[3] + 22), MACHINE_PCI_MMIO_SIZE);

	/* MBRD._CRS reserves the ECAM window (so Linux keeps MCFG), the sleep registers, the PM timer. */
	ck_assert_uint_eq(walk_resources(find_obj(&w, "\\_SB_.MBRD._CRS", 'N'), d, 8), 3);
	ck_assert_uint_eq(d[0][0], 0x86);
	ck_assert_uint_eq(le32(d[0] + 4), MACHINE_ECAM_BASE);
	ck_assert_uint_eq(le32(d[0] + 8), MACHINE_ECAM_SIZE);
	ck_assert_uint_eq(le16(d[1] + 2), MACHINE_SLEEP_CTL_PORT);
	ck_assert_uint_eq(d[1][7], 2);
	ck_assert_uint_eq(le16(d[2] + 2), MACHINE_PM_TIMER_PORT);
	ck_assert_uint_eq(d[2][7], 4);

	/* COM1._CRS: 8 ports at 0x3f8 and IRQ 4. */
	ck_assert_uint_eq(walk_resources(find_obj(&w, "\\_SB_.COM1._CRS", 'N'), d, 8), 2);
	ck_assert_uint_eq(le16(d[0] + 2), MACHINE_COM1_PORT);
	ck_assert_uint_eq(d[0][7], 8);
	ck_assert_uint_eq(d[1][0], 0x22);
	ck_assert_uint_eq(le16(d[1] + 1), 1u << MACHINE_COM1_IRQ);

	/* _PRT: every slot's four pins on the swizzled GSIs. */
	o = find_obj(&w, "\\_SB_.PCI0._PRT", 'N');
	p = o->data;
	end = package(&p, o->end, &count);
	ck_assert_uint_eq(count, 128);
	for (i = 0; i < count; i++) {
		unsigned int n;

		e = package(&p, end, &n);
		ck_assert_uint_eq(n, 4);
		uint64_t addr = read_int(&p), pin = read_int(&p);
		uint64_t src = read_int(&p), gsi = read_int(&p);

		ck_assert_uint_eq(addr, (uint64_t)(i / 4) << 16 | 0xffff);
		ck_assert_uint_eq(pin, i % 4);
		ck_assert_uint_eq(src, 0);
		ck_assert_uint_eq(gsi, machine_pci_intx_gsi(i / 4, i % 4));
		ck_assert_ptr_eq(p, e);
	}

	/* \_S5: {SLP_TYPa = MACHINE_SLEEP_TYP_S5, 0, 0, 0}. */
	o = find_obj(&w, "\\_S5_", 'N');
	p = o->data;
	package(&p, o->end, &count);
	ck_assert_uint_eq(count, 4);
	ck_assert_uint_eq(read_int(&p), MACHINE_SLEEP_TYP_S5);
	for (i = 1; i < 4; i++)
		ck_assert_uint_eq(read_int(&p), 0);
	free(t.buf);
}
END_TEST

/* ---- iasl ----------------------------------------------------------------- */

START_TEST(iasl_dsdt)
{
	const char *iasl = tool("IASL");
	char dir[] = "/tmp/check_aml.XXXXXX", path[512], cmd[1536];
	struct tables t;
	char *dsl;
	uint8_t *aml;
	size_t aml_len;

	if (!iasl)
		return;		/* the structural tests above still ran */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	build_for(&t, 8, 4 * GIB);

	dsl = iasl_disassemble(iasl, dir, t.dsdt);
	ck_assert_ptr_nonnull(strstr(dsl, "Device (PCI0)"));
	ck_assert_ptr_nonnull(strstr(dsl, "EisaId (\"PNP0A08\")"));
	ck_assert_ptr_nonnull(strstr(dsl, "EisaId (\"PNP0A03\")"));
	ck_assert_ptr_nonnull(strstr(dsl, "EisaId (\"PNP0C02\")"));
	ck_assert_ptr_nonnull(strstr(dsl, "Device (COM1)"));
	ck_assert_ptr_nonnull(strstr(dsl, "EisaId (\"PNP0501\")"));
	ck_assert_ptr_nonnull(strstr(dsl, "Name (_PRT, Package (0x80)"));
	ck_assert_ptr_nonnull(strstr(dsl, "Name (\\_S5, Package (0x04)"));
	ck_assert_ptr_nonnull(strstr(dsl, "WordBusNumber (ResourceProducer"));
	ck_assert_ptr_nonnull(strstr(dsl, "DWordMemory (ResourceProducer"));
	ck_assert_ptr_nonnull(strstr(dsl, "Memory32Fixed (ReadWrite,\n                    0xE0000000"));
	ck_assert_ptr_nonnull(strstr(dsl, "IRQNoFlags ()\n                    {4}"));
	free(dsl);

	/* Recompiled without optimisations, the listing gives back our AML. */
	snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' -oa -p re DSDT.dsl >iasl-re.log 2>&1", dir, iasl);
	ck_assert_msg(system(cmd) == 0, "iasl could not recompile the DSDT");
	snprintf(path, sizeof(path), "%s/re.aml", dir);
	aml = (uint8_t *)slurp(path, &aml_len);
	ck_assert_uint_eq(aml_len, le32(t.dsdt + 4));
	ck_assert_mem_eq(aml + 36, t.dsdt + 36, aml_len - 36);
	free(aml);

	free(t.buf);
	rm_dir(dir);
}
END_TEST

static Suite *aml_suite(void)
{
	Suite *s = suite_create("aml");
	TCase *enc = tcase_create("encoders");
	TCase *dsdt = tcase_create("dsdt");
	TCase *iasl = tcase_create("iasl");

	tcase_add_test(enc, integer_shortest);
	tcase_add_test(enc, name_strings);
	tcase_add_test(enc, eisa_ids);
	tcase_add_test(enc, pkg_length_boundaries);
	tcase_add_test(enc, nested_objects);
	tcase_add_test(enc, resource_template);
	tcase_add_test(enc, failures_are_sticky);
	tcase_add_test(dsdt, dsdt_structure);
	tcase_add_test(iasl, iasl_dsdt);
	tcase_set_timeout(iasl, 60);
	suite_add_tcase(s, enc);
	suite_add_tcase(s, dsdt);
	suite_add_tcase(s, iasl);
	return s;
}

int main(void)
{
	return check_run(aml_suite());
}
