// SPDX-License-Identifier: MIT
/*
 * The machine as a flattened device tree, built with libfdt's sequential
 * write API. x86 has no standard DT machine binding, so docs/machine.md
 * spells out the conventions used here:
 *  - the root has #address-cells = #size-cells = 2 (64-bit addresses);
 *  - /serial@3f8's reg and the PCI I/O window's parent address are I/O
 *    port numbers, since x86 has no memory-mapped I/O space to translate to;
 *  - interrupts go to /ioapic@fec00000 (the "intel,ce4100-ioapic" binding:
 *    <pin sense>, sense 0 = edge rising, 1 = level low);
 *  - there is no DT binding for Intel VT-d, so the vIOMMU units are
 *    "tagvmm,vtd" nodes with #iommu-cells = 1 (the requester ID), named
 *    from the PCI node's iommu-map.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <libfdt.h>

#include "vmm/fdt.h"

#define FDT_PHANDLE_IOAPIC	1
#define FDT_PHANDLE_IOMMU0	2	/* units take 2, 3, ... */
#define FDT_COM1_CLOCK		1843200	/* the 1.8432 MHz UART crystal: divisor 1 = 115200 baud */
#define FDT_IOAPIC_EDGE_RISING	0
#define FDT_IOAPIC_LEVEL_LOW	1
/* PCI bus binding (IEEE 1275 PCI): phys.hi space codes. */
#define FDT_PCI_SPACE_IO	0x01000000u
#define FDT_PCI_SPACE_MEM32	0x02000000u
#define FDT_PCI_RID_COUNT	((uint32_t)MACHINE_PCI_BUSES << 8)

/* Every libfdt call returns a negative FDT_ERR_* on failure. */
#define TRY(call)                                                                                \
	do {                                                                                     \
		int rc_ = (call);                                                                \
		if (rc_ < 0)                                                                     \
			return rc_;                                                              \
	} while (0)

/* A property of 32-bit cells, converted to big-endian on the way out. */
struct cells {
	fdt32_t *v;
	size_t n, cap;
	bool oom;
};

static void cells_push(struct cells *c, uint32_t v)
{
	if (c->oom)
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		fdt32_t *nv = realloc(c->v, cap * sizeof(*nv));

		if (!nv) {
			c->oom = true;
			return;
		}
		c->v = nv;
		c->cap = cap;
	}
	c->v[c->n++] = cpu_to_fdt32(v);
}

static void cells_push64(struct cells *c, uint64_t v)
{
	cells_push(c, (uint32_t)(v >> 32));
	cells_push(c, (uint32_t)v);
}

static int cells_property(void *fdt, const char *name, struct cells *c)
{
	int rc = c->oom ? -FDT_ERR_INTERNAL
			: fdt_property(fdt, name, c->v, (int)(c->n * sizeof(*c->v)));

	free(c->v);
	*c = (struct cells){ .v = NULL };
	return rc;
}

static int fdt_reg64(void *fdt, uint64_t addr, uint64_t size)
{
	fdt64_t reg[2] = { cpu_to_fdt64(addr), cpu_to_fdt64(size) };

	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

static int add_memory(void *fdt, const struct machine *m)
{
	struct cells reg = { .v = NULL };

	TRY(fdt_begin_node(fdt, "memory@0"));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	for (size_t i = 0; i < m->ne820; i++) {
		if (m->e820[i].type != E820_RAM)
			continue;
		cells_push64(&reg, m->e820[i].addr);
		cells_push64(&reg, m->e820[i].size);
	}
	TRY(cells_property(fdt, "reg", &reg));
	return fdt_end_node(fdt);
}

static int add_cpus(void *fdt, const struct machine *m)
{
	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_u32(fdt, "#address-cells", 1));
	TRY(fdt_property_u32(fdt, "#size-cells", 0));
	for (unsigned int i = 0; i < m->ncpus; i++) {
		char name[16];

		snprintf(name, sizeof(name), "cpu@%x", i);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		/* reg is the local APIC ID, which KVM numbers like the vCPUs. */
		TRY(fdt_property_u32(fdt, "reg", i));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

static int add_ioapic(void *fdt)
{
	char name[32];

	snprintf(name, sizeof(name), "ioapic@%llx", (unsigned long long)MACHINE_IOAPIC_BASE);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "intel,ce4100-ioapic"));
	TRY(fdt_reg64(fdt, MACHINE_IOAPIC_BASE, 0x1000));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 2));
	/* interrupt-map entries name no parent unit address. */
	TRY(fdt_property_u32(fdt, "#address-cells", 0));
	TRY(fdt_property_u32(fdt, "phandle", FDT_PHANDLE_IOAPIC));
	return fdt_end_node(fdt);
}

static int add_serial(void *fdt)
{
	char name[32];
	fdt32_t irq[2] = { cpu_to_fdt32(MACHINE_COM1_IRQ), cpu_to_fdt32(FDT_IOAPIC_EDGE_RISING) };

	snprintf(name, sizeof(name), "serial@%x", MACHINE_COM1_PORT);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	TRY(fdt_reg64(fdt, MACHINE_COM1_PORT, 8));	/* I/O ports, see above */
	TRY(fdt_property_u32(fdt, "clock-frequency", FDT_COM1_CLOCK));
	TRY(fdt_property(fdt, "interrupts", irq, sizeof(irq)));
	return fdt_end_node(fdt);
}

/*
 * iommu-map (Documentation/devicetree/bindings/pci/pci-iommu.txt): entries
 * <rid-base &iommu iommu-base length>, non-overlapping and in RID order. The
 * catch-all unit (DMAR INCLUDE_PCI_ALL) gets every gap between the others.
 */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void iommu_map_entry(struct cells *c, uint32_t rid, unsigned int unit, uint32_t len)
{
	cells_push(c, rid);
	cells_push(c, FDT_PHANDLE_IOMMU0 + unit);
	cells_push(c, rid);
	cells_push(c, len);
}

static int add_iommu_map(void *fdt, const struct machine *m)
{
	int catch_all = machine_iommu_catch_all(m);
	uint32_t listed[MACHINE_MAX_PCI];	/* rid << 8 | unit, sortable */
	struct cells map = { .v = NULL };
	size_t n = 0;
	uint32_t next = 0;

	for (size_t k = 0; k < m->npci; k++) {
		unsigned int unit = m->pci[k].iommu;

		if (unit < m->niommus && (int)unit != catch_all &&
		    m->pci[k].bdf < FDT_PCI_RID_COUNT)
			listed[n++] = (uint32_t)m->pci[k].bdf << 8 | unit;
	}
	qsort(listed, n, sizeof(listed[0]), cmp_u32);
	for (size_t i = 0; i < n; i++) {
		uint32_t rid = listed[i] >> 8;

		if (rid < next)
			continue;	/* a function listed twice: the first unit wins */
		if (catch_all >= 0 && rid > next)
			iommu_map_entry(&map, next, (unsigned int)catch_all, rid - next);
		iommu_map_entry(&map, rid, listed[i] & 0xff, 1);
		next = rid + 1;
	}
	if (catch_all >= 0 && next < FDT_PCI_RID_COUNT)
		iommu_map_entry(&map, next, (unsigned int)catch_all, FDT_PCI_RID_COUNT - next);
	if (map.n == 0 && !map.oom) {
		free(map.v);
		return 0;
	}
	return cells_property(fdt, "iommu-map", &map);
}

static int add_pci(void *fdt, const struct machine *m)
{
	char name[32];
	fdt32_t bus_range[2] = { cpu_to_fdt32(0), cpu_to_fdt32(MACHINE_PCI_BUSES - 1) };
	struct cells ranges = { .v = NULL }, imap = { .v = NULL };
	fdt32_t imask[4] = { cpu_to_fdt32(0xf800), 0, 0, cpu_to_fdt32(7) };

	snprintf(name, sizeof(name), "pci@%llx", (unsigned long long)MACHINE_ECAM_BASE);
	TRY(fdt_begin_node(fdt, name));
	TRY(fdt_property_string(fdt, "compatible", "pci-host-ecam-generic"));
	TRY(fdt_property_string(fdt, "device_type", "pci"));
	TRY(fdt_property_u32(fdt, "#address-cells", 3));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
	TRY(fdt_reg64(fdt, MACHINE_ECAM_BASE, MACHINE_ECAM_SIZE));
	TRY(fdt_property(fdt, "bus-range", bus_range, sizeof(bus_range)));

	/* ranges: <phys.hi phys.mid phys.lo  parent-addr(2)  size(2)>, identity-mapped. */
	cells_push(&ranges, FDT_PCI_SPACE_IO);
	cells_push64(&ranges, MACHINE_PCI_IO_BASE);
	cells_push64(&ranges, MACHINE_PCI_IO_BASE);
	cells_push64(&ranges, MACHINE_PCI_IO_SIZE);
	cells_push(&ranges, FDT_PCI_SPACE_MEM32);
	cells_push64(&ranges, MACHINE_PCI_MMIO_BASE);
	cells_push64(&ranges, MACHINE_PCI_MMIO_BASE);
	cells_push64(&ranges, MACHINE_PCI_MMIO_SIZE);
	TRY(cells_property(fdt, "ranges", &ranges));

	/* INTx, the same swizzle as the DSDT's _PRT: pins 1..4 are INTA..INTD. */
	TRY(fdt_property(fdt, "interrupt-map-mask", imask, sizeof(imask)));
	for (unsigned int slot = 0; slot < 32; slot++) {
		for (unsigned int pin = 0; pin < 4; pin++) {
			cells_push(&imap, slot << 11);
			cells_push(&imap, 0);
			cells_push(&imap, 0);
			cells_push(&imap, pin + 1);
			cells_push(&imap, FDT_PHANDLE_IOAPIC);
			cells_push(&imap, machine_pci_intx_gsi(slot, pin));
			cells_push(&imap, FDT_IOAPIC_LEVEL_LOW);
		}
	}
	TRY(cells_property(fdt, "interrupt-map", &imap));
	if (m->niommus)
		TRY(add_iommu_map(fdt, m));
	return fdt_end_node(fdt);
}

static int add_iommus(void *fdt, const struct machine *m)
{
	for (size_t u = 0; u < m->niommus; u++) {
		char name[32];

		snprintf(name, sizeof(name), "iommu@%llx", (unsigned long long)m->iommus[u].base);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "compatible", "tagvmm,vtd"));
		TRY(fdt_reg64(fdt, m->iommus[u].base, 0x1000));
		TRY(fdt_property_u32(fdt, "#iommu-cells", 1));
		TRY(fdt_property_u32(fdt, "phandle", FDT_PHANDLE_IOMMU0 + (uint32_t)u));
		TRY(fdt_end_node(fdt));
	}
	return 0;
}

static int build(const struct machine *m, const char *cmdline, void *fdt, size_t size)
{
	char stdout_path[32];

	if (size > INT32_MAX)
		size = INT32_MAX;
	TRY(fdt_create(fdt, (int)size));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", "tagvmm,x86"));
	TRY(fdt_property_string(fdt, "model", "tagvmm"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_u32(fdt, "interrupt-parent", FDT_PHANDLE_IOAPIC));

	snprintf(stdout_path, sizeof(stdout_path), "/serial@%x", MACHINE_COM1_PORT);
	TRY(fdt_begin_node(fdt, "chosen"));
	if (cmdline && *cmdline)
		TRY(fdt_property_string(fdt, "bootargs", cmdline));
	TRY(fdt_property_string(fdt, "stdout-path", stdout_path));
	TRY(fdt_end_node(fdt));

	TRY(add_memory(fdt, m));
	TRY(add_cpus(fdt, m));
	TRY(add_ioapic(fdt));
	TRY(add_serial(fdt));
	TRY(add_pci(fdt, m));
	TRY(add_iommus(fdt, m));

	TRY(fdt_end_node(fdt));
	return fdt_finish(fdt);
}

int fdt_build(const struct machine *m, const char *cmdline, void *buf, size_t size, char *err,
	      size_t errlen)
{
	int rc = build(m, cmdline, buf, size);

	if (rc < 0) {
		snprintf(err, errlen, "device tree: %s", fdt_strerror(rc));
		return -1;
	}
	return 0;
}
