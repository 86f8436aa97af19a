// SPDX-License-Identifier: MIT
/*
 * Find the PCI host bridge the way two kinds of OS would, and check they
 * agree: the ECAM window from the device tree's /pci node and from the
 * ACPI MCFG (and vmm/machine.h), then bus 0 walked through ECAM and
 * through the legacy 0xCF8/0xCFC ports, function by function. 00:00.0
 * must be a host bridge (class 06 00).
 */
#include "rt.h"

TEST_NAME("pci-enumerate");

#define PCI_ID 0x00
#define PCI_CLASS_REV 0x08
#define PCI_HEADER 0x0c		/* cache line, latency, header type, BIST */
#define HEADER_MULTIFUNCTION 0x00800000U
#define CLASS_HOST_BRIDGE 0x0600
#define ABSENT 0xffffffffU

struct ecam_window {
	uint64_t base, size;
	unsigned int bus_start, bus_end;
};

static void window_from_dt(const void *dtb, struct ecam_window *w)
{
	struct dt dt;
	uint64_t ac = 2, sc = 1, start, end;	/* the spec's defaults for #address/#size-cells */

	expect(dt_open(&dt, dtb) == 0, "no device tree at %p", dtb);
	int root = dt_find(&dt, "/");
	int pci = dt_find(&dt, "/pci");

	expect(pci >= 0, "device tree has no /pci node");
	dt_prop_cells(&dt, root, "#address-cells", 0, 1, &ac);
	dt_prop_cells(&dt, root, "#size-cells", 0, 1, &sc);
	expect(ac >= 1 && ac <= 2 && sc >= 1 && sc <= 2, "root #address-cells %lu #size-cells %lu",
	       ac, sc);

	uint32_t len;
	const uint8_t *reg = dt_prop(&dt, pci, "reg", &len);

	expect(reg && len >= (ac + sc) * 4, "/pci has no usable reg");
	w->base = ac == 2 ? be64(reg) : be32(reg);
	w->size = sc == 2 ? be64(reg + ac * 4) : be32(reg + ac * 4);
	expect(dt_prop_cells(&dt, pci, "bus-range", 0, 1, &start) &&
		       dt_prop_cells(&dt, pci, "bus-range", 1, 1, &end),
	       "/pci has no bus-range");
	w->bus_start = (unsigned int)start;
	w->bus_end = (unsigned int)end;
	printf("dtb  %s: ecam 0x%lx size 0x%lx buses %u-%u\n", dt_name(&dt, pci), w->base, w->size,
	       w->bus_start, w->bus_end);
}

static void window_from_mcfg(struct ecam_window *w)
{
	const struct acpi_header *mcfg = acpi_find_table("MCFG", 0);

	expect(mcfg, "no ACPI MCFG (or a bad checksum on the way)");
	/* 8 reserved bytes after the header, then 16-byte allocation entries. */
	size_t n = (mcfg->length - sizeof(*mcfg) - 8) / 16;

	expect(n == 1, "MCFG has %zu allocations, want 1", n);
	const uint8_t *e = (const uint8_t *)(mcfg + 1) + 8;
	uint16_t segment = (uint16_t)(e[8] | e[9] << 8);

	expect(segment == 0, "MCFG segment %u", segment);
	w->base = load_le64(e);
	w->bus_start = e[10];
	w->bus_end = e[11];
	w->size = (uint64_t)(w->bus_end - w->bus_start + 1) << 20;
	printf("mcfg: ecam 0x%lx buses %u-%u\n", w->base, w->bus_start, w->bus_end);
}

/* One function through both mechanisms; false when it does not exist. */
static bool probe(uint64_t ecam, uint16_t bdf, uint32_t *header)
{
	static const unsigned int regs[] = { PCI_ID, PCI_CLASS_REV, PCI_HEADER };
	uint32_t via_ecam[3], via_ports[3];

	for (unsigned int i = 0; i < ARRAY_SIZE(regs); i++) {
		via_ecam[i] = pci_ecam_read32(ecam, bdf, regs[i]);
		via_ports[i] = pci_cf8_read32(bdf, regs[i]);
		expect(via_ecam[i] == via_ports[i],
		       "%02x:%02x.%u reg 0x%02x: ecam 0x%08x, cf8 0x%08x", bdf >> 8, (bdf >> 3) & 31,
		       bdf & 7, regs[i], via_ecam[i], via_ports[i]);
		if (i == 0 && via_ecam[0] == ABSENT)
			return false;
	}
	printf("%02x:%02x.%u %04x:%04x class %06x rev %02x header %02x\n", bdf >> 8,
	       (bdf >> 3) & 31, bdf & 7, via_ecam[0] & 0xffff, via_ecam[0] >> 16, via_ecam[1] >> 8,
	       via_ecam[1] & 0xff, (via_ecam[2] >> 16) & 0x7f);
	*header = via_ecam[2];
	if (bdf == 0)
		expect(via_ecam[1] >> 16 == CLASS_HOST_BRIDGE, "00:00.0 class %04x, want a host bridge",
		       via_ecam[1] >> 16);
	return true;
}

int main(const void *dtb)
{
	struct ecam_window dt, acpi;

	window_from_dt(dtb, &dt);
	window_from_mcfg(&acpi);
	expect(dt.base == acpi.base && dt.bus_start == acpi.bus_start && dt.bus_end == acpi.bus_end,
	       "device tree and MCFG disagree");
	expect(dt.size == acpi.size, "/pci reg size 0x%lx for %u buses", dt.size,
	       dt.bus_end - dt.bus_start + 1);
	expect(dt.base == MACHINE_ECAM_BASE, "ecam at 0x%lx, machine.h says 0x%lx", dt.base,
	       (unsigned long)MACHINE_ECAM_BASE);
	expect(dt.bus_start == 0, "bus range starts at %u", dt.bus_start);

	unsigned int found = 0;
	bool host_bridge = false;

	for (unsigned int dev = 0; dev < 32; dev++) {
		for (unsigned int fn = 0; fn < 8; fn++) {
			uint32_t header;

			if (!probe(dt.base, PCI_BDF(0, dev, fn), &header)) {
				if (fn == 0)
					break;
				continue;
			}
			found++;
			host_bridge |= dev == 0 && fn == 0;
			if (fn == 0 && !(header & HEADER_MULTIFUNCTION))
				break;
		}
	}
	expect(host_bridge, "no device at 00:00.0");
	printf("%u functions on bus 0\n", found);
	return 0;
}
