// SPDX-License-Identifier: MIT
/*
 * The machine description: how guest RAM is split around the MMIO hole and
 * the e820 map every boot protocol hands to the guest (docs/machine.md).
 */
#include <string.h>

#include "vmm/machine.h"

#define MACHINE_MIN_RAM		(16ULL << 20)
/*
 * An upper bound that catches unit mistakes ("-m 4096G") before mmap does:
 * 1 TiB needs 41 physical address bits, within any host KVM runs on and
 * within MACHINE_DMA_ADDR_BITS.
 */
#define MACHINE_MAX_RAM		(1ULL << 40)
#define MACHINE_PAGE_SIZE	4096ULL

static void add_e820(struct machine *m, uint64_t addr, uint64_t size, enum e820_type type)
{
	if (!size || m->ne820 >= MACHINE_MAX_E820)
		return;
	m->e820[m->ne820++] = (struct e820_region){ .addr = addr, .size = size, .type = type };
}

uint64_t machine_low_ram_end(const struct machine *m)
{
	return m->ram_size < MACHINE_HOLE_START ? m->ram_size : MACHINE_HOLE_START;
}

uint64_t machine_high_ram_size(const struct machine *m)
{
	return m->ram_size > MACHINE_HOLE_START ? m->ram_size - MACHINE_HOLE_START : 0;
}

int machine_init(struct machine *m, unsigned int ncpus, uint64_t ram_size)
{
	memset(m, 0, sizeof(*m));
	if (ncpus < 1 || ncpus > MACHINE_MAX_CPUS)
		return -1;
	/* Memslots are page-granular; KVM rejects anything else later and less clearly. */
	if (ram_size < MACHINE_MIN_RAM || ram_size > MACHINE_MAX_RAM ||
	    ram_size % MACHINE_PAGE_SIZE)
		return -1;
	m->ncpus = ncpus;
	m->ram_size = ram_size;

	/*
	 * RAM fills guest-physical memory from 0 up to the hole as one memslot;
	 * the e820 map hides 640 KiB .. 1 MiB (VGA window, option ROMs) from the
	 * guest as on a PC, and reserves the BIOS area because the ACPI tables
	 * and the RSDP scan window live there.
	 */
	add_e820(m, 0, MACHINE_LOW_RAM_END, E820_RAM);
	add_e820(m, MACHINE_BIOS_START, MACHINE_BIOS_END - MACHINE_BIOS_START, E820_RESERVED);
	add_e820(m, MACHINE_HIGH_LOAD, machine_low_ram_end(m) - MACHINE_HIGH_LOAD, E820_RAM);
	/*
	 * Real firmware reserves the ECAM window in e820: Linux checks the MCFG
	 * region against e820 in its early pass (arch/x86/pci/mmconfig-shared.c,
	 * pci_mmcfg_reserved) and against PNP0C02 _CRS later (the DSDT has both).
	 */
	add_e820(m, MACHINE_ECAM_BASE, MACHINE_ECAM_SIZE, E820_RESERVED);
	add_e820(m, MACHINE_HOLE_END, machine_high_ram_size(m), E820_RAM);
	return 0;
}

int machine_iommu_catch_all(const struct machine *m)
{
	if (!m->niommus)
		return -1;
	if (!m->npci)
		return (int)m->niommus - 1;
	for (size_t i = 0; i < m->npci; i++)
		if (m->pci[i].iommu >= m->niommus && m->pci[i].iommu != MACHINE_PCI_NO_IOMMU)
			return (int)m->niommus - 1;
	return -1;
}
