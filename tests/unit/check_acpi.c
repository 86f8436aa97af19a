// SPDX-License-Identifier: MIT
/*
 * The machine description and its ACPI tables: the e820 map, every table's
 * checksum, length and fields at their spec offsets, and (when $IASL is set)
 * ACPICA's disassembler reading each table. The DSDT's AML is checked in
 * check_aml.c.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi_testutil.h"
#include "check_main.h"
#include "vmm/acpi.h"
#include "vmm/machine.h"

/* ---- machine ------------------------------------------------------------ */

static void check_e820(const struct machine *m, size_t i, uint64_t addr, uint64_t size,
		       enum e820_type type)
{
	ck_assert_uint_lt(i, m->ne820);
	ck_assert_uint_eq(m->e820[i].addr, addr);
	ck_assert_uint_eq(m->e820[i].size, size);
	ck_assert_int_eq(m->e820[i].type, type);
}

START_TEST(machine_small)
{
	struct machine m;

	ck_assert_int_eq(machine_init(&m, 1, GIB), 0);
	ck_assert_uint_eq(m.ne820, 4);
	check_e820(&m, 0, 0, MACHINE_LOW_RAM_END, E820_RAM);
	check_e820(&m, 1, MACHINE_BIOS_START, MACHINE_BIOS_END - MACHINE_BIOS_START, E820_RESERVED);
	check_e820(&m, 2, MIB, GIB - MIB, E820_RAM);
	check_e820(&m, 3, MACHINE_ECAM_BASE, MACHINE_ECAM_SIZE, E820_RESERVED);
	ck_assert_uint_eq(machine_low_ram_end(&m), GIB);
	ck_assert_uint_eq(machine_high_ram_size(&m), 0);
}
END_TEST

START_TEST(machine_split_around_hole)
{
	struct machine m;

	ck_assert_int_eq(machine_init(&m, 8, 5 * GIB), 0);
	ck_assert_uint_eq(m.ncpus, 8);
	ck_assert_uint_eq(m.ne820, 5);
	check_e820(&m, 2, MIB, MACHINE_HOLE_START - MIB, E820_RAM);
	check_e820(&m, 4, MACHINE_HOLE_END, 5 * GIB - MACHINE_HOLE_START, E820_RAM);
	ck_assert_uint_eq(machine_low_ram_end(&m), MACHINE_HOLE_START);
	ck_assert_uint_eq(machine_high_ram_size(&m), 2 * GIB);

	/* Exactly up to the hole: nothing above 4 GiB. */
	ck_assert_int_eq(machine_init(&m, 1, MACHINE_HOLE_START), 0);
	ck_assert_uint_eq(m.ne820, 4);
	ck_assert_uint_eq(machine_high_ram_size(&m), 0);

	/* No e820 RAM range overlaps the hole or another range. */
	ck_assert_int_eq(machine_init(&m, 1, 7 * GIB), 0);
	for (size_t i = 0; i + 1 < m.ne820; i++)
		ck_assert_uint_le(m.e820[i].addr + m.e820[i].size, m.e820[i + 1].addr);
}
END_TEST

START_TEST(machine_rejects)
{
	struct machine m;

	ck_assert_int_eq(machine_init(&m, 0, GIB), -1);
	ck_assert_int_eq(machine_init(&m, MACHINE_MAX_CPUS + 1, GIB), -1);
	ck_assert_int_eq(machine_init(&m, MACHINE_MAX_CPUS, GIB), 0);
	ck_assert_int_eq(machine_init(&m, 1, 16 * MIB - 4096), -1);
	ck_assert_int_eq(machine_init(&m, 1, 16 * MIB), 0);
	ck_assert_int_eq(machine_init(&m, 1, 1ULL << 50), -1);
	ck_assert_int_eq(machine_init(&m, 1, GIB + 100), -1);
}
END_TEST

START_TEST(machine_catch_all)
{
	struct machine m;

	ck_assert_int_eq(machine_init(&m, 1, GIB), 0);
	ck_assert_int_eq(machine_iommu_catch_all(&m), -1);
	m.niommus = 2;
	ck_assert_int_eq(machine_iommu_catch_all(&m), 1);	/* nothing listed */
	m.npci = 2;
	m.pci[0] = (struct machine_pci_dev){ .bdf = 0x08, .iommu = 0 };
	m.pci[1] = (struct machine_pci_dev){ .bdf = 0x10, .iommu = 1 };
	ck_assert_int_eq(machine_iommu_catch_all(&m), -1);
	m.pci[1].iommu = 7;
	ck_assert_int_eq(machine_iommu_catch_all(&m), 1);
	/* A function behind no IOMMU (virtio iommu=off) asks for no catch-all. */
	m.pci[1].iommu = MACHINE_PCI_NO_IOMMU;
	ck_assert_int_eq(machine_iommu_catch_all(&m), -1);
	ck_assert_uint_eq(machine_pci_intx_gsi(0, 0), MACHINE_PCI_INTX_GSI);
	ck_assert_uint_eq(machine_pci_intx_gsi(3, 2), MACHINE_PCI_INTX_GSI + 1);
}
END_TEST

/* ---- fixed tables --------------------------------------------------------- */

START_TEST(checksum_zeroes_sum)
{
	uint8_t b[37];

	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 7 + 3);
	b[9] = 0;
	b[9] = acpi_checksum(b, sizeof(b));
	ck_assert_uint_eq(sum(b, sizeof(b)), 0);
	ck_assert_uint_eq(acpi_checksum(b, 0), 0);
}
END_TEST

START_TEST(xsdt_and_layout)
{
	struct tables t;

	build_for(&t, 2, GIB);
	ck_assert_ptr_null(t.dmar);
	/* The XSDT lists the FADT first; the DSDT is reached only through it. */
	ck_assert_ptr_eq(at_gpa(&t, le64(t.xsdt + 36)), t.fadt);
	free(t.buf);
}
END_TEST

START_TEST(fadt_fields)
{
	struct tables t;
	const uint8_t *f;

	build_for(&t, 1, GIB);
	f = t.fadt;
	ck_assert_uint_eq(le32(f + 4), 276);
	ck_assert_uint_eq(f[8], 6);
	ck_assert_uint_eq(f[131], 5);			/* FADT minor version */
	ck_assert_uint_eq(le32(f + 112) & (1u << 20), 1u << 20);	/* HW_REDUCED_ACPI */
	ck_assert_uint_eq(le32(f + 112) & 0x30, 0x30);	/* no fixed buttons */
	ck_assert_uint_eq(le16(f + 109) & 0x2, 0);	/* no 8042 */
	ck_assert_uint_eq(le32(f + 36), 0);		/* no FACS */
	ck_assert_uint_eq(le64(f + 132), 0);
	ck_assert_uint_eq(le32(f + 40), 0);		/* the 64-bit X_DSDT is used */
	ck_assert_uint_eq(le64(f + 140), TABLES_GPA + (uint64_t)(t.dsdt - t.buf));
	ck_assert_uint_eq(le16(f + 46), 0);		/* no SCI */
	/* SLEEP_CONTROL_REG and SLEEP_STATUS_REG: 8-bit system I/O registers. */
	for (unsigned int i = 0; i < 2; i++) {
		const uint8_t *gas = f + 244 + 12 * i;

		ck_assert_uint_eq(gas[0], 1);
		ck_assert_uint_eq(gas[1], 8);
		ck_assert_uint_eq(gas[2], 0);
		ck_assert_uint_eq(gas[3], 1);
		ck_assert_uint_eq(le64(gas + 4),
				  i ? MACHINE_SLEEP_STS_PORT : MACHINE_SLEEP_CTL_PORT);
	}
	/* PM_TMR_BLK (76), PM_TMR_LEN (91) and X_PM_TMR_BLK (208): 32-bit system I/O. */
	ck_assert_uint_eq(le32(f + 76), MACHINE_PM_TIMER_PORT);
	ck_assert_uint_eq(f[91], 4);
	ck_assert_uint_eq(f[208], 1);
	ck_assert_uint_eq(f[209], 32);
	ck_assert_uint_eq(f[211], 3);
	ck_assert_uint_eq(le64(f + 212), MACHINE_PM_TIMER_PORT);
	ck_assert_uint_eq(le32(f + 112) & (1u << 8), 0);	/* TMR_VAL_EXT clear: 24 bits */
	ck_assert_mem_eq(f + 268, "TAGVMM", 6);
	free(t.buf);
}
END_TEST

static void check_madt(unsigned int ncpus)
{
	struct tables t;
	const uint8_t *p, *end;
	unsigned int lapics = 0, ioapics = 0, isos = 0, nmis = 0;

	build_for(&t, ncpus, GIB);
	ck_assert_uint_eq(le32(t.madt + 36), MACHINE_LAPIC_BASE);
	ck_assert_uint_eq(le32(t.madt + 40), 1);	/* PCAT_COMPAT */
	p = t.madt + 44;
	end = t.madt + le32(t.madt + 4);
	while (p < end) {
		ck_assert_uint_ge(p[1], 2);
		ck_assert_ptr_le(p + p[1], end);
		switch (p[0]) {
		case 0:
			ck_assert_uint_eq(p[1], 8);
			ck_assert_uint_eq(p[2], lapics);	/* processor UID */
			ck_assert_uint_eq(p[3], lapics);	/* APIC ID */
			ck_assert_uint_eq(le32(p + 4), 1);	/* enabled */
			lapics++;
			break;
		case 1:
			ck_assert_uint_eq(p[1], 12);
			ck_assert_uint_eq(le32(p + 4), MACHINE_IOAPIC_BASE);
			ck_assert_uint_eq(le32(p + 8), 0);
			ioapics++;
			break;
		case 2:
			ck_assert_uint_eq(p[1], 10);
			ck_assert_uint_eq(p[2], 0);		/* ISA */
			ck_assert_uint_eq(p[3], 0);		/* IRQ 0 ... */
			ck_assert_uint_eq(le32(p + 4), 2);	/* ... is GSI 2 */
			isos++;
			break;
		case 4:
			ck_assert_uint_eq(p[1], 6);
			ck_assert_uint_eq(p[2], 0xff);
			ck_assert_uint_eq(p[5], 1);		/* LINT1 */
			nmis++;
			break;
		default:
			ck_abort_msg("unexpected MADT entry type %u", p[0]);
		}
		p += p[1];
	}
	ck_assert_ptr_eq(p, end);
	ck_assert_uint_eq(lapics, ncpus);
	ck_assert_uint_eq(ioapics, 1);
	ck_assert_uint_eq(isos, 1);
	ck_assert_uint_eq(nmis, 1);
	free(t.buf);
}

START_TEST(madt_one_cpu)
{
	check_madt(1);
}
END_TEST

START_TEST(madt_eight_cpus)
{
	check_madt(8);
}
END_TEST

START_TEST(madt_max_cpus)
{
	check_madt(MACHINE_MAX_CPUS);
}
END_TEST

START_TEST(mcfg_entry)
{
	struct tables t;

	build_for(&t, 1, GIB);
	ck_assert_uint_eq(le32(t.mcfg + 4), 44 + 16);
	ck_assert_uint_eq(le64(t.mcfg + 44), MACHINE_ECAM_BASE);
	ck_assert_uint_eq(le16(t.mcfg + 52), 0);
	ck_assert_uint_eq(t.mcfg[54], 0);
	ck_assert_uint_eq(t.mcfg[55], MACHINE_PCI_BUSES - 1);
	free(t.buf);
}
END_TEST

/* ---- DMAR ----------------------------------------------------------------- */

struct drhd_view {
	uint8_t flags;
	uint64_t base;
	unsigned int nscopes;
	uint16_t scope_bdf[MACHINE_MAX_PCI];
};

static size_t parse_dmar(const uint8_t *dmar, struct drhd_view *units, size_t max)
{
	const uint8_t *p = dmar + 48, *end = dmar + le32(dmar + 4);
	size_t n = 0;

	ck_assert_uint_eq(dmar[8], 1);
	ck_assert_uint_eq(dmar[36], MACHINE_DMA_ADDR_BITS - 1);
	ck_assert_uint_eq(dmar[37], 0);
	while (p < end) {
		const uint8_t *s, *send;
		struct drhd_view *u;

		ck_assert_uint_eq(le16(p), 0);
		ck_assert_uint_ge(le16(p + 2), 16);
		ck_assert_ptr_le(p + le16(p + 2), end);
		ck_assert_uint_lt(n, max);
		u = &units[n++];
		memset(u, 0, sizeof(*u));
		u->flags = p[4];
		ck_assert_uint_eq(p[5], 0);		/* one 4 KiB register page */
		ck_assert_uint_eq(le16(p + 6), 0);
		u->base = le64(p + 8);
		send = p + le16(p + 2);
		for (s = p + 16; s < send; s += s[1]) {
			ck_assert_uint_eq(s[0], 1);	/* PCI endpoint */
			ck_assert_uint_eq(s[1], 8);
			u->scope_bdf[u->nscopes++] = (uint16_t)(s[5] << 8 | s[6] << 3 | s[7]);
		}
		ck_assert_ptr_eq(s, send);
		p = send;
	}
	ck_assert_ptr_eq(p, end);
	return n;
}

static void two_units(struct machine *m)
{
	ck_assert_int_eq(machine_init(m, 2, GIB), 0);
	m->niommus = 2;
	m->iommus[0].base = MACHINE_VTD_BASE;
	m->iommus[1].base = MACHINE_VTD_BASE + 0x1000;
	m->npci = 3;
	m->pci[0] = (struct machine_pci_dev){ .bdf = 1 << 3, .iommu = 0 };
	m->pci[1] = (struct machine_pci_dev){ .bdf = 2 << 3, .iommu = 1 };
	m->pci[2] = (struct machine_pci_dev){ .bdf = 3 << 3 | 1, .iommu = 0 };
}

START_TEST(dmar_two_units_explicit)
{
	struct tables t;
	struct drhd_view u[4];

	two_units(&t.m);
	build(&t);
	ck_assert_ptr_nonnull(t.dmar);
	ck_assert_uint_eq(parse_dmar(t.dmar, u, 4), 2);
	ck_assert_uint_eq(u[0].base, MACHINE_VTD_BASE);
	ck_assert_uint_eq(u[0].flags, 0);
	ck_assert_uint_eq(u[0].nscopes, 2);
	ck_assert_uint_eq(u[0].scope_bdf[0], 0x08);
	ck_assert_uint_eq(u[0].scope_bdf[1], 0x19);
	ck_assert_uint_eq(u[1].base, MACHINE_VTD_BASE + 0x1000);
	ck_assert_uint_eq(u[1].flags, 0);
	ck_assert_uint_eq(u[1].nscopes, 1);
	ck_assert_uint_eq(u[1].scope_bdf[0], 0x10);
	ck_assert_uint_eq(le32(t.dmar + 4), 48 + 2 * 16 + 3 * 8);
	free(t.buf);
}
END_TEST

/* A function behind no IOMMU is in no DRHD scope, and no unit becomes the catch-all. */
START_TEST(dmar_function_behind_no_iommu)
{
	struct tables t;
	struct drhd_view u[4];

	two_units(&t.m);
	t.m.pci[2].iommu = MACHINE_PCI_NO_IOMMU;
	build(&t);
	ck_assert_uint_eq(parse_dmar(t.dmar, u, 4), 2);
	ck_assert_uint_eq(u[0].flags, 0);
	ck_assert_uint_eq(u[0].nscopes, 1);
	ck_assert_uint_eq(u[0].scope_bdf[0], 0x08);
	ck_assert_uint_eq(u[1].flags, 0);
	ck_assert_uint_eq(u[1].nscopes, 1);
	ck_assert_uint_eq(u[1].scope_bdf[0], 0x10);
	free(t.buf);
}
END_TEST

START_TEST(dmar_catch_all_is_last)
{
	struct tables t;
	struct drhd_view u[4];

	two_units(&t.m);
	t.m.pci[1].iommu = 5;	/* not assigned: behind the catch-all unit */
	build(&t);
	ck_assert_uint_eq(parse_dmar(t.dmar, u, 4), 2);
	ck_assert_uint_eq(u[0].flags, 0);
	ck_assert_uint_eq(u[0].nscopes, 2);
	ck_assert_uint_eq(u[1].flags, 1);	/* INCLUDE_PCI_ALL, no PCI scopes */
	ck_assert_uint_eq(u[1].nscopes, 0);
	free(t.buf);

	/* Units but no listed functions: the one unit covers everything. */
	ck_assert_int_eq(machine_init(&t.m, 1, GIB), 0);
	t.m.niommus = 1;
	t.m.iommus[0].base = MACHINE_VTD_BASE;
	build(&t);
	ck_assert_uint_eq(le32(t.dmar + 4), 64);
	ck_assert_uint_eq(parse_dmar(t.dmar, u, 4), 1);
	ck_assert_uint_eq(u[0].flags, 1);
	free(t.buf);
}
END_TEST

START_TEST(too_small_buffer)
{
	struct machine m;
	uint8_t *big = malloc(TABLES_SIZE);
	size_t need;

	two_units(&m);
	ck_assert_ptr_nonnull(big);
	need = acpi_build(&m, big, TABLES_SIZE, TABLES_GPA);
	ck_assert_uint_gt(need, 0);
	/* Exact-size heap buffers, so ASan sees any write past the end. */
	for (size_t size = 0; size < need; size += size < 64 ? 1 : 97) {
		uint8_t *b = malloc(size ? size : 1);

		ck_assert_uint_eq(acpi_build(&m, b, size, TABLES_GPA), 0);
		free(b);
	}
	{
		uint8_t *b = malloc(need);

		ck_assert_uint_eq(acpi_build(&m, b, need - 1, TABLES_GPA), 0);
		/* Every byte up to the end is written, alignment gaps included. */
		memset(b, 0xa5, need);
		ck_assert_uint_eq(acpi_build(&m, b, need, TABLES_GPA), need);
		ck_assert_mem_eq(b, big, need);
		free(b);
	}
	free(big);
}
END_TEST

/* ---- iasl ----------------------------------------------------------------- */

static unsigned int count_of(const char *hay, const char *needle)
{
	unsigned int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

START_TEST(iasl_reads_tables)
{
	const char *iasl = tool("IASL");
	char dir[] = "/tmp/check_acpi.XXXXXX";
	struct tables t;
	char *dsl;

	if (!iasl)
		return;		/* the structural tests above still ran */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	two_units(&t.m);
	t.m.ncpus = 8;
	build(&t);

	dsl = iasl_disassemble(iasl, dir, t.fadt);
	ck_assert_ptr_nonnull(strstr(dsl, "Hardware Reduced (V5) : 1"));
	ck_assert_ptr_nonnull(strstr(dsl, "Sleep Control Register"));
	ck_assert_ptr_nonnull(strstr(dsl, "Address : 0000000000000600"));
	free(dsl);

	dsl = iasl_disassemble(iasl, dir, t.madt);
	ck_assert_uint_eq(count_of(dsl, "[Processor Local APIC]"), 8);
	ck_assert_uint_eq(count_of(dsl, "[I/O APIC]"), 1);
	ck_assert_uint_eq(count_of(dsl, "[Interrupt Source Override]"), 1);
	ck_assert_uint_eq(count_of(dsl, "[Local APIC NMI]"), 1);
	free(dsl);

	dsl = iasl_disassemble(iasl, dir, t.mcfg);
	ck_assert_ptr_nonnull(strstr(dsl, "Base Address : 00000000E0000000"));
	free(dsl);

	dsl = iasl_disassemble(iasl, dir, t.dmar);
	ck_assert_uint_eq(count_of(dsl, "[Hardware Unit Definition]"), 2);
	ck_assert_uint_eq(count_of(dsl, "[PCI Endpoint Device]"), 3);
	ck_assert_ptr_nonnull(strstr(dsl, "Host Address Width : 2F"));
	free(dsl);

	dsl = iasl_disassemble(iasl, dir, t.xsdt);
	free(dsl);
	free(t.buf);
	rm_dir(dir);
}
END_TEST

static Suite *acpi_suite(void)
{
	Suite *s = suite_create("acpi");
	TCase *machine = tcase_create("machine");
	TCase *fixed = tcase_create("tables");
	TCase *iasl = tcase_create("iasl");

	tcase_add_test(machine, machine_small);
	tcase_add_test(machine, machine_split_around_hole);
	tcase_add_test(machine, machine_rejects);
	tcase_add_test(machine, machine_catch_all);
	tcase_add_test(fixed, checksum_zeroes_sum);
	tcase_add_test(fixed, xsdt_and_layout);
	tcase_add_test(fixed, fadt_fields);
	tcase_add_test(fixed, madt_one_cpu);
	tcase_add_test(fixed, madt_eight_cpus);
	tcase_add_test(fixed, madt_max_cpus);
	tcase_add_test(fixed, mcfg_entry);
	tcase_add_test(fixed, dmar_two_units_explicit);
	tcase_add_test(fixed, dmar_catch_all_is_last);
	tcase_add_test(fixed, dmar_function_behind_no_iommu);
	tcase_add_test(fixed, too_small_buffer);
	tcase_add_test(iasl, iasl_reads_tables);
	tcase_set_timeout(iasl, 60);
	suite_add_tcase(s, machine);
	suite_add_tcase(s, fixed);
	suite_add_tcase(s, iasl);
	return s;
}

int main(void)
{
	return check_run(acpi_suite());
}
