/* SPDX-License-Identifier: MIT */
/*
 * Shared by check_acpi and check_aml: build a table set with acpi_build()
 * and find each table through the RSDP and XSDT the way a guest does,
 * checking the headers on the way; and run $IASL over a table.
 */
#ifndef TAGVMM_TESTS_ACPI_TESTUTIL_H
#define TAGVMM_TESTS_ACPI_TESTUTIL_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/acpi.h"
#include "vmm/machine.h"

#define GIB (1ULL << 30)
#define MIB (1ULL << 20)
#define TABLES_GPA MACHINE_BIOS_START
#define TABLES_SIZE 0x20000

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Check has no ordered pointer comparison. */
#define ck_assert_ptr_le(a, b) ck_assert_msg((const void *)(a) <= (const void *)(b), \
					     "%s > %s", #a, #b)

static inline uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* A built table set and where each table is. */
struct tables {
	struct machine m;
	uint8_t *buf;
	size_t used;
	const uint8_t *xsdt, *fadt, *dsdt, *madt, *mcfg, *dmar;
};

static inline const uint8_t *at_gpa(const struct tables *t, uint64_t gpa)
{
	ck_assert_uint_ge(gpa, TABLES_GPA);
	ck_assert_uint_lt(gpa - TABLES_GPA, t->used);
	return t->buf + (gpa - TABLES_GPA);
}

/* Check the table at @p: within the buffer, 16-byte aligned, summing to 0. */
static inline void check_table(const struct tables *t, const uint8_t *p, const char *sig)
{
	uint32_t len = le32(p + 4);

	ck_assert_mem_eq(p, sig, 4);
	ck_assert_uint_ge(len, 36);
	ck_assert_uint_le((size_t)(p - t->buf) + len, t->used);
	ck_assert_uint_eq((size_t)(p - t->buf) % 16, 0);
	ck_assert_uint_eq(sum(p, len), 0);
	ck_assert_mem_eq(p + 10, "TAGVMM", 6);
}

static inline void build(struct tables *t)
{
	const uint8_t *rsdp;

	t->buf = malloc(TABLES_SIZE);
	ck_assert_ptr_nonnull(t->buf);
	t->used = acpi_build(&t->m, t->buf, TABLES_SIZE, TABLES_GPA);
	ck_assert_uint_gt(t->used, 0);
	ck_assert_uint_le(t->used, TABLES_SIZE);

	rsdp = t->buf;
	ck_assert_mem_eq(rsdp, "RSD PTR ", 8);
	ck_assert_uint_eq(sum(rsdp, 20), 0);
	ck_assert_uint_eq(sum(rsdp, 36), 0);
	ck_assert_uint_eq(rsdp[15], 2);
	ck_assert_mem_eq(rsdp + 9, "TAGVMM", 6);
	ck_assert_uint_eq(le32(rsdp + 16), 0);		/* no RSDT */
	ck_assert_uint_eq(le32(rsdp + 20), 36);

	t->xsdt = at_gpa(t, le64(rsdp + 24));
	check_table(t, t->xsdt, "XSDT");
	t->fadt = t->dsdt = t->madt = t->mcfg = t->dmar = NULL;
	for (uint32_t off = 36; off < le32(t->xsdt + 4); off += 8) {
		const uint8_t *p = at_gpa(t, le64(t->xsdt + off));

		if (!memcmp(p, "FACP", 4))
			t->fadt = p;
		else if (!memcmp(p, "APIC", 4))
			t->madt = p;
		else if (!memcmp(p, "MCFG", 4))
			t->mcfg = p;
		else if (!memcmp(p, "DMAR", 4))
			t->dmar = p;
		else
			ck_abort_msg("unexpected table %.4s in the XSDT", (const char *)p);
		check_table(t, p, (const char *)p);
	}
	ck_assert_ptr_nonnull(t->fadt);
	ck_assert_ptr_nonnull(t->madt);
	ck_assert_ptr_nonnull(t->mcfg);
	t->dsdt = at_gpa(t, le64(t->fadt + 140));
	check_table(t, t->dsdt, "DSDT");
	ck_assert_uint_eq(le32(t->xsdt + 4), 36 + 8 * (t->m.niommus ? 4 : 3));
}

static inline void build_for(struct tables *t, unsigned int ncpus, uint64_t ram)
{
	ck_assert_int_eq(machine_init(&t->m, ncpus, ram), 0);
	build(t);
}

/* ---- iasl ----------------------------------------------------------------- */

/* $IASL, or NULL when unset: the tests that need it then pass trivially. */
static inline const char *tool(const char *var)
{
	const char *v = getenv(var);

	return v && *v ? v : NULL;
}

static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static inline void spit(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, len, f), len);
	fclose(f);
}

/* Disassemble one table; returns the .dsl text (caller frees). */
static inline char *iasl_disassemble(const char *iasl, const char *dir, const uint8_t *table)
{
	char path[512], cmd[1536];
	char *dsl;

	snprintf(path, sizeof(path), "%s/%.4s.dat", dir, (const char *)table);
	spit(path, table, le32(table + 4));
	snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' -d %.4s.dat >iasl-%.4s.log 2>&1", dir, iasl,
		 (const char *)table, (const char *)table);
	ck_assert_msg(system(cmd) == 0, "iasl -d failed on %.4s", (const char *)table);
	snprintf(path, sizeof(path), "%s/%.4s.dsl", dir, (const char *)table);
	dsl = slurp(path, NULL);
	/* The disassembler flags bad checksums, lengths and unknown data. */
	ck_assert_msg(!strstr(dsl, "Error") && !strstr(dsl, "Invalid") &&
			      !strstr(dsl, "Incorrect") && !strstr(dsl, "terminates") &&
			      !strstr(dsl, "Unknown"),
		      "iasl complains about %.4s:\n%s", (const char *)table, dsl);
	return dsl;
}

static inline void rm_dir(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

#endif
