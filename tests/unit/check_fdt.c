// SPDX-License-Identifier: MIT
/*
 * The device tree: built, validated with fdt_check_full and read back with
 * libfdt node by node; the iommu-map checked RID by RID against the DMAR's
 * rules; and (when $DTC is set) decompiled by dtc without a warning.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "check_main.h"
#include "vmm/fdt.h"
#include "vmm/machine.h"

#define GIB (1ULL << 30)
#define DTB_SIZE MACHINE_DTB_MAX

static void *build(const struct machine *m, const char *cmdline)
{
	void *fdt = malloc(DTB_SIZE);
	char err[128] = "";

	ck_assert_ptr_nonnull(fdt);
	ck_assert_msg(fdt_build(m, cmdline, fdt, DTB_SIZE, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(fdt_check_full(fdt, DTB_SIZE), 0);
	ck_assert_uint_le(fdt_totalsize(fdt), DTB_SIZE);
	return fdt;
}

static int node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	ck_assert_msg(off >= 0, "%s: %s", path, fdt_strerror(off));
	return off;
}

static const fdt32_t *prop(const void *fdt, int off, const char *name, int *len)
{
	const fdt32_t *p = fdt_getprop(fdt, off, name, len);

	ck_assert_msg(p != NULL, "no %s property", name);
	return p;
}

static uint32_t cell(const void *fdt, int off, const char *name)
{
	int len;
	const fdt32_t *p = prop(fdt, off, name, &len);

	ck_assert_int_eq(len, 4);
	return fdt32_to_cpu(*p);
}

static uint64_t cells64(const fdt32_t *p)
{
	return (uint64_t)fdt32_to_cpu(p[0]) << 32 | fdt32_to_cpu(p[1]);
}

static void assert_string(const void *fdt, int off, const char *name, const char *want)
{
	const char *s = fdt_getprop(fdt, off, name, NULL);

	ck_assert_msg(s != NULL, "no %s property", name);
	ck_assert_str_eq(s, want);
}

static void assert_reg(const void *fdt, int off, uint64_t addr, uint64_t size)
{
	int len;
	const fdt32_t *reg = prop(fdt, off, "reg", &len);

	ck_assert_int_eq(len, 16);
	ck_assert_uint_eq(cells64(reg), addr);
	ck_assert_uint_eq(cells64(reg + 2), size);
}

START_TEST(root_chosen_memory_cpus)
{
	struct machine m;
	void *fdt;
	int off, len, n = 0, ncpus = 0;
	const fdt32_t *reg;

	ck_assert_int_eq(machine_init(&m, 4, 5 * GIB), 0);
	fdt = build(&m, "console=ttyS0 quiet");
	off = node(fdt, "/");
	assert_string(fdt, off, "compatible", "tagvmm,x86");
	ck_assert_uint_eq(cell(fdt, off, "#address-cells"), 2);
	ck_assert_uint_eq(cell(fdt, off, "#size-cells"), 2);

	off = node(fdt, "/chosen");
	assert_string(fdt, off, "bootargs", "console=ttyS0 quiet");
	assert_string(fdt, off, "stdout-path", "/serial@3f8");
	node(fdt, fdt_getprop(fdt, off, "stdout-path", NULL));

	/* /memory@0 lists exactly the e820 RAM ranges. */
	off = node(fdt, "/memory@0");
	assert_string(fdt, off, "device_type", "memory");
	reg = prop(fdt, off, "reg", &len);
	for (size_t i = 0; i < m.ne820; i++) {
		if (m.e820[i].type != E820_RAM)
			continue;
		ck_assert_int_ge(len, (n + 1) * 16);
		ck_assert_uint_eq(cells64(reg + 4 * n), m.e820[i].addr);
		ck_assert_uint_eq(cells64(reg + 4 * n + 2), m.e820[i].size);
		n++;
	}
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(len, n * 16);

	off = node(fdt, "/cpus");
	ck_assert_uint_eq(cell(fdt, off, "#address-cells"), 1);
	ck_assert_uint_eq(cell(fdt, off, "#size-cells"), 0);
	for (int c = fdt_first_subnode(fdt, off); c >= 0; c = fdt_next_subnode(fdt, c)) {
		char want[16];

		snprintf(want, sizeof(want), "cpu@%x", ncpus);
		ck_assert_str_eq(fdt_get_name(fdt, c, NULL), want);
		assert_string(fdt, c, "device_type", "cpu");
		ck_assert_uint_eq(cell(fdt, c, "reg"), (uint32_t)ncpus);
		ncpus++;
	}
	ck_assert_int_eq(ncpus, 4);
	ck_assert_int_lt(fdt_path_offset(fdt, "/iommu@fed90000"), 0);
	free(fdt);

	/* No command line, no bootargs. */
	fdt = build(&m, NULL);
	ck_assert_ptr_null(fdt_getprop(fdt, node(fdt, "/chosen"), "bootargs", NULL));
	free(fdt);
}
END_TEST

START_TEST(serial_and_interrupts)
{
	struct machine m;
	void *fdt;
	int off, ioapic, len;
	const fdt32_t *irq;

	ck_assert_int_eq(machine_init(&m, 1, GIB), 0);
	fdt = build(&m, "");
	ioapic = fdt_node_offset_by_phandle(fdt, cell(fdt, node(fdt, "/"), "interrupt-parent"));
	ck_assert_int_eq(ioapic, node(fdt, "/ioapic@fec00000"));
	assert_string(fdt, ioapic, "compatible", "intel,ce4100-ioapic");
	ck_assert_ptr_nonnull(fdt_getprop(fdt, ioapic, "interrupt-controller", NULL));
	ck_assert_uint_eq(cell(fdt, ioapic, "#interrupt-cells"), 2);
	assert_reg(fdt, ioapic, MACHINE_IOAPIC_BASE, 0x1000);

	off = node(fdt, "/serial@3f8");
	assert_string(fdt, off, "compatible", "ns16550a");
	assert_reg(fdt, off, MACHINE_COM1_PORT, 8);
	ck_assert_uint_eq(cell(fdt, off, "clock-frequency"), 1843200);
	irq = prop(fdt, off, "interrupts", &len);
	ck_assert_int_eq(len, 8);
	ck_assert_uint_eq(fdt32_to_cpu(irq[0]), MACHINE_COM1_IRQ);
	ck_assert_uint_eq(fdt32_to_cpu(irq[1]), 0);	/* edge, rising */
	free(fdt);
}
END_TEST

START_TEST(pci_host)
{
	struct machine m;
	void *fdt;
	int off, len, ioapic;
	const fdt32_t *p;

	ck_assert_int_eq(machine_init(&m, 1, GIB), 0);
	fdt = build(&m, NULL);
	ioapic = node(fdt, "/ioapic@fec00000");
	off = node(fdt, "/pci@e0000000");
	assert_string(fdt, off, "compatible", "pci-host-ecam-generic");
	assert_string(fdt, off, "device_type", "pci");
	ck_assert_uint_eq(cell(fdt, off, "#address-cells"), 3);
	ck_assert_uint_eq(cell(fdt, off, "#size-cells"), 2);
	ck_assert_uint_eq(cell(fdt, off, "#interrupt-cells"), 1);
	assert_reg(fdt, off, MACHINE_ECAM_BASE, MACHINE_ECAM_SIZE);
	p = prop(fdt, off, "bus-range", &len);
	ck_assert_int_eq(len, 8);
	ck_assert_uint_eq(fdt32_to_cpu(p[0]), 0);
	ck_assert_uint_eq(fdt32_to_cpu(p[1]), MACHINE_PCI_BUSES - 1);

	/* ranges: the I/O window, then the 32-bit non-prefetchable window. */
	p = prop(fdt, off, "ranges", &len);
	ck_assert_int_eq(len, 2 * 7 * 4);
	ck_assert_uint_eq(fdt32_to_cpu(p[0]), 0x01000000);
	ck_assert_uint_eq(cells64(p + 1), MACHINE_PCI_IO_BASE);
	ck_assert_uint_eq(cells64(p + 3), MACHINE_PCI_IO_BASE);
	ck_assert_uint_eq(cells64(p + 5), MACHINE_PCI_IO_SIZE);
	ck_assert_uint_eq(fdt32_to_cpu(p[7]), 0x02000000);
	ck_assert_uint_eq(cells64(p + 8), MACHINE_PCI_MMIO_BASE);
	ck_assert_uint_eq(cells64(p + 10), MACHINE_PCI_MMIO_BASE);
	ck_assert_uint_eq(cells64(p + 12), MACHINE_PCI_MMIO_SIZE);

	/* interrupt-map: every slot and pin, matching the DSDT's _PRT. */
	p = prop(fdt, off, "interrupt-map-mask", &len);
	ck_assert_int_eq(len, 16);
	ck_assert_uint_eq(fdt32_to_cpu(p[0]), 0xf800);
	ck_assert_uint_eq(fdt32_to_cpu(p[3]), 7);
	p = prop(fdt, off, "interrupt-map", &len);
	ck_assert_int_eq(len, 32 * 4 * 7 * 4);
	for (unsigned int i = 0; i < 32 * 4; i++, p += 7) {
		unsigned int slot = i / 4, pin = i % 4;

		ck_assert_uint_eq(fdt32_to_cpu(p[0]), slot << 11);
		ck_assert_uint_eq(fdt32_to_cpu(p[3]), pin + 1);
		ck_assert_int_eq(fdt_node_offset_by_phandle(fdt, fdt32_to_cpu(p[4])), ioapic);
		ck_assert_uint_eq(fdt32_to_cpu(p[5]), machine_pci_intx_gsi(slot, pin));
		ck_assert_uint_eq(fdt32_to_cpu(p[6]), 1);	/* level, active low */
	}
	ck_assert_ptr_null(fdt_getprop(fdt, off, "iommu-map", NULL));
	free(fdt);
}
END_TEST

/* The unit node iommu-map sends @rid to, or -1; asserts non-overlap. */
static int iommu_for_rid(const void *fdt, uint32_t rid)
{
	int len, found = -1;
	const fdt32_t *map = prop(fdt, node(fdt, "/pci@e0000000"), "iommu-map", &len);

	ck_assert_int_eq(len % 16, 0);
	for (int i = 0; i < len / 16; i++, map += 4) {
		uint32_t base = fdt32_to_cpu(map[0]), n = fdt32_to_cpu(map[3]);

		if (rid < base || rid >= base + n)
			continue;
		ck_assert_msg(found < 0, "RID %#x is in two iommu-map entries", rid);
		ck_assert_uint_eq(fdt32_to_cpu(map[2]), base);	/* output ID = RID */
		found = fdt_node_offset_by_phandle(fdt, fdt32_to_cpu(map[1]));
		ck_assert_int_ge(found, 0);
	}
	return found;
}

static void two_units(struct machine *m)
{
	ck_assert_int_eq(machine_init(m, 2, GIB), 0);
	m->niommus = 2;
	m->iommus[0].base = MACHINE_VTD_BASE;
	m->iommus[1].base = MACHINE_VTD_BASE + 0x1000;
	m->npci = 3;
	m->pci[0] = (struct machine_pci_dev){ .bdf = 3 << 3, .iommu = 0 };
	m->pci[1] = (struct machine_pci_dev){ .bdf = 2 << 3, .iommu = 1 };
	m->pci[2] = (struct machine_pci_dev){ .bdf = 1 << 3, .iommu = 0 };
}

START_TEST(iommu_nodes_and_map)
{
	struct machine m;
	void *fdt;
	int unit[2];

	two_units(&m);
	fdt = build(&m, NULL);
	for (int u = 0; u < 2; u++) {
		char path[32];

		snprintf(path, sizeof(path), "/iommu@%llx",
			 (unsigned long long)m.iommus[u].base);
		unit[u] = node(fdt, path);
		assert_string(fdt, unit[u], "compatible", "tagvmm,vtd");
		assert_reg(fdt, unit[u], m.iommus[u].base, 0x1000);
		ck_assert_uint_eq(cell(fdt, unit[u], "#iommu-cells"), 1);
		ck_assert_int_eq(fdt_node_offset_by_phandle(fdt, cell(fdt, unit[u], "phandle")),
				 unit[u]);
	}
	/* Every function explicit: only those RIDs are mapped, in RID order. */
	ck_assert_int_eq(iommu_for_rid(fdt, 1 << 3), unit[0]);
	ck_assert_int_eq(iommu_for_rid(fdt, 2 << 3), unit[1]);
	ck_assert_int_eq(iommu_for_rid(fdt, 3 << 3), unit[0]);
	ck_assert_int_eq(iommu_for_rid(fdt, 0), -1);
	ck_assert_int_eq(iommu_for_rid(fdt, 4 << 3), -1);
	{
		int len;
		const fdt32_t *map = prop(fdt, node(fdt, "/pci@e0000000"), "iommu-map", &len);

		ck_assert_int_eq(len, 3 * 16);
		ck_assert_uint_lt(fdt32_to_cpu(map[0]), fdt32_to_cpu(map[4]));
		ck_assert_uint_lt(fdt32_to_cpu(map[4]), fdt32_to_cpu(map[8]));
	}
	free(fdt);

	/* An unassigned function: the last unit catches every other RID (INCLUDE_PCI_ALL). */
	m.pci[0].iommu = 9;
	fdt = build(&m, NULL);
	unit[0] = node(fdt, "/iommu@fed90000");
	unit[1] = node(fdt, "/iommu@fed91000");
	for (uint32_t rid = 0; rid < MACHINE_PCI_BUSES * 256u; rid++)
		ck_assert_int_eq(iommu_for_rid(fdt, rid), rid == (1 << 3) ? unit[0] : unit[1]);
	free(fdt);

	/* A function behind no IOMMU (virtio iommu=off): its RID is in no entry, no catch-all. */
	m.pci[0].iommu = MACHINE_PCI_NO_IOMMU;
	fdt = build(&m, NULL);
	unit[0] = node(fdt, "/iommu@fed90000");
	unit[1] = node(fdt, "/iommu@fed91000");
	ck_assert_int_eq(iommu_for_rid(fdt, 3 << 3), -1);
	ck_assert_int_eq(iommu_for_rid(fdt, 2 << 3), unit[1]);
	ck_assert_int_eq(iommu_for_rid(fdt, 1 << 3), unit[0]);
	ck_assert_int_eq(iommu_for_rid(fdt, 4 << 3), -1);
	free(fdt);
}
END_TEST

START_TEST(too_small_buffer)
{
	struct machine m;
	char err[128];
	void *big;
	uint32_t need;

	two_units(&m);
	big = build(&m, "console=ttyS0");
	need = fdt_totalsize(big);
	for (size_t size = 0; size < need; size += size < 128 ? 1 : 251) {
		void *b = malloc(size ? size : 1);

		err[0] = 0;
		ck_assert_int_eq(fdt_build(&m, "console=ttyS0", b, size, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, "FDT_ERR_NOSPACE") != NULL, "size %zu: %s", size, err);
		free(b);
	}
	free(big);
}
END_TEST

START_TEST(dtc_decompiles_cleanly)
{
	const char *dtc = getenv("DTC");
	char dir[] = "/tmp/check_fdt.XXXXXX", cmd[1024], path[512];
	struct machine m;
	void *fdt;
	FILE *f;
	long errsize;

	if (!dtc || !*dtc)
		return;		/* the libfdt checks above still ran */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	two_units(&m);
	m.pci[0].iommu = 9;
	fdt = build(&m, "console=ttyS0");
	snprintf(path, sizeof(path), "%s/tagvmm.dtb", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(fdt, 1, fdt_totalsize(fdt), f), fdt_totalsize(fdt));
	fclose(f);
	free(fdt);

	snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' -I dtb -O dts -o tagvmm.dts tagvmm.dtb 2>dtc.err",
		 dir, dtc);
	ck_assert_int_eq(system(cmd), 0);
	/* dtc's checks (unit addresses, PCI bridge, interrupt-map, phandles) are silent. */
	snprintf(path, sizeof(path), "%s/dtc.err", dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	errsize = ftell(f);
	fclose(f);
	if (errsize) {
		snprintf(cmd, sizeof(cmd), "cat '%s/dtc.err' >&2", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	ck_assert_int_eq(errsize, 0);
	snprintf(cmd, sizeof(cmd), "grep -q 'compatible = \"tagvmm,vtd\"' '%s/tagvmm.dts'", dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *fdt_suite(void)
{
	Suite *s = suite_create("fdt");
	TCase *tc = tcase_create("fdt");
	TCase *tool = tcase_create("dtc");

	tcase_add_test(tc, root_chosen_memory_cpus);
	tcase_add_test(tc, serial_and_interrupts);
	tcase_add_test(tc, pci_host);
	tcase_add_test(tc, iommu_nodes_and_map);
	tcase_add_test(tc, too_small_buffer);
	tcase_add_test(tool, dtc_decompiles_cleanly);
	tcase_set_timeout(tool, 60);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tool);
	return s;
}

int main(void)
{
	return check_run(fdt_suite());
}
