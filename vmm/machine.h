/* SPDX-License-Identifier: MIT */
/*
 * The machine tagvmm builds: its guest-physical memory map, fixed I/O
 * ports and IRQs, and a plain description (struct machine) that the ACPI
 * and device-tree builders turn into tables. Nothing here touches KVM, so
 * the table builders are testable on their own. docs/machine.md describes
 * the same map for users.
 */
#ifndef TAGVMM_VMM_MACHINE_H
#define TAGVMM_VMM_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Guest-physical memory map. */
#define MACHINE_LOW_RAM_END	0x000a0000ULL	/* 640 KiB of conventional memory */
#define MACHINE_BIOS_START	0x000e0000ULL	/* ACPI tables (RSDP scan area) */
#define MACHINE_BIOS_END	0x00100000ULL
#define MACHINE_HIGH_LOAD	0x00100000ULL	/* kernels and ELF guests load here */
#define MACHINE_HOLE_START	0xc0000000ULL	/* MMIO hole: 3 GiB .. 4 GiB */
#define MACHINE_HOLE_END	0x100000000ULL	/* RAM above the hole starts here */

#define MACHINE_PCI_MMIO_BASE	0xc0000000ULL	/* 32-bit BAR window */
#define MACHINE_PCI_MMIO_SIZE	0x20000000ULL
#define MACHINE_ECAM_BASE	0xe0000000ULL	/* PCIe ECAM, bus 0 .. MACHINE_PCI_BUSES-1 */
#define MACHINE_PCI_BUSES	1
#define MACHINE_ECAM_SIZE	((uint64_t)MACHINE_PCI_BUSES << 20)
#define MACHINE_IOAPIC_BASE	0xfec00000ULL
#define MACHINE_VTD_BASE	0xfed90000ULL	/* vIOMMU units, 4 KiB apart */
#define MACHINE_LAPIC_BASE	0xfee00000ULL
#define MACHINE_TSS_ADDR	0xfeffd000ULL	/* KVM_SET_TSS_ADDR: 3 pages */
#define MACHINE_IDENT_MAP_ADDR	0xfeffc000ULL	/* KVM_SET_IDENTITY_MAP_ADDR: 1 page */

/* Boot-time structures in low memory (all below MACHINE_LOW_RAM_END). */
#define MACHINE_GDT_ADDR	0x00000500ULL
#define MACHINE_ZERO_PAGE	0x00007000ULL	/* Linux boot_params */
#define MACHINE_PVH_START_INFO	0x00006000ULL	/* PVH hvm_start_info + memmap */
#define MACHINE_BOOT_STACK	0x00008ff0ULL
#define MACHINE_PML4_ADDR	0x00009000ULL	/* identity map: PML4, PDPT, 4 PDs */
#define MACHINE_CMDLINE_ADDR	0x00020000ULL
#define MACHINE_CMDLINE_MAX	0x00010000ULL
#define MACHINE_DTB_ADDR	0x00030000ULL	/* flattened device tree for ELF guests */
#define MACHINE_DTB_MAX		0x00010000ULL

/* Fixed I/O ports and legacy IRQs. */
#define MACHINE_COM1_PORT	0x3f8
#define MACHINE_COM1_IRQ	4
#define MACHINE_PCI_CONF_PORT	0xcf8		/* CONFIG_ADDRESS; CONFIG_DATA at 0xcfc */
#define MACHINE_PCI_IO_BASE	0xc000		/* I/O BAR window */
#define MACHINE_PCI_IO_SIZE	0x4000
/* ACPI hardware-reduced sleep control/status registers (FADT SLEEP_*_REG). */
#define MACHINE_SLEEP_CTL_PORT	0x600
#define MACHINE_SLEEP_STS_PORT	0x601
#define MACHINE_SLEEP_TYP_S5	5		/* \_S5 SLP_TYP value in the DSDT */
#define MACHINE_SLEEP_SLP_EN	0x20		/* SLP_EN, bit 5 of the control register */
#define MACHINE_SLEEP_TYP_SHIFT	2
/* The ACPI PM timer (FADT X_PM_TMR_BLK), 4 bytes, where QEMU's chipsets put it. */
#define MACHINE_PM_TIMER_PORT	0x608
/* The reset control register (FADT RESET_REG): writing MACHINE_RESET_VALUE resets. */
#define MACHINE_RESET_PORT	0xcf9
#define MACHINE_RESET_VALUE	0x06
/* Interrupts: GSIs 0..23 on the IOAPIC; PCI INTx swizzled onto 16..19. */
#define MACHINE_IOAPIC_PINS	24
#define MACHINE_PCI_INTX_GSI	16

#define MACHINE_MAX_CPUS	64
#define MACHINE_MIN_RAM		(16ULL << 20)
#define MACHINE_MAX_RAM		(1ULL << 40)
#define MACHINE_MAX_E820	8
#define MACHINE_MAX_PCI		32
#define MACHINE_MAX_IOMMUS	8
/* DMA addressability the DMAR reports (Host Address Width = this - 1). */
#define MACHINE_DMA_ADDR_BITS	48

enum e820_type { E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3 };

struct e820_region {
	uint64_t addr, size;
	enum e820_type type;
};

/* A PCI function the tables must describe (DTB interrupt-map, DMAR scope). */
struct machine_pci_dev {
	uint16_t bdf;
	unsigned int iommu;		/* index into machine.iommus, when any */
};
/* machine_pci_dev.iommu of a function no IOMMU translates: no DMAR scope, no catch-all. */
#define MACHINE_PCI_NO_IOMMU	0xffffffffu

/* A vIOMMU unit (viommu issue): DRHD in the DMAR, an iommu node in the DTB. */
struct machine_iommu {
	uint64_t base;
	uint16_t segment;
};

struct machine {
	unsigned int ncpus;
	uint64_t ram_size;		/* bytes of guest RAM, split around the hole */
	struct e820_region e820[MACHINE_MAX_E820];
	size_t ne820;
	struct machine_pci_dev pci[MACHINE_MAX_PCI];
	size_t npci;
	struct machine_iommu iommus[MACHINE_MAX_IOMMUS];
	size_t niommus;
};

/*
 * Fill @m for @ncpus vCPUs and @ram_size bytes of RAM: the e820 map (low
 * RAM, the BIOS area reserved, RAM from 1 MiB to the hole, RAM above 4 GiB).
 * Returns 0, or -1 when the sizes are out of range.
 */
int machine_init(struct machine *m, unsigned int ncpus, uint64_t ram_size);

/* Where RAM ends below the hole, and how much lies above 4 GiB. */
uint64_t machine_low_ram_end(const struct machine *m);
uint64_t machine_high_ram_size(const struct machine *m);

/*
 * The GSI that INTx pin @pin (0 = INTA .. 3 = INTD) of PCI slot @slot
 * raises: the usual swizzle over four lines from MACHINE_PCI_INTX_GSI. The
 * DSDT's _PRT and the DTB's interrupt-map both describe exactly this.
 */
static inline unsigned int machine_pci_intx_gsi(unsigned int slot, unsigned int pin)
{
	return MACHINE_PCI_INTX_GSI + (slot + pin) % 4;
}

/*
 * The vIOMMU unit that also translates every PCI function no unit claims
 * (DMAR INCLUDE_PCI_ALL, the catch-all range of the DTB's iommu-map): the
 * last unit, when no PCI function is listed or some listed function has
 * .iommu >= niommus (MACHINE_PCI_NO_IOMMU aside). -1 when every function
 * is assigned explicitly or to no IOMMU (or there are no units).
 */
int machine_iommu_catch_all(const struct machine *m);

#endif
