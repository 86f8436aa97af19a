// SPDX-License-Identifier: MIT
/* PCI configuration space through both access mechanisms the VMM offers. */
#include "rt.h"

#define CF8_ENABLE 0x80000000U

static uint32_t cf8_address(uint16_t bdf, unsigned int reg)
{
	return CF8_ENABLE | (uint32_t)bdf << 8 | (reg & 0xfc);
}

uint32_t pci_cf8_read32(uint16_t bdf, unsigned int reg)
{
	outl(MACHINE_PCI_CONF_PORT, cf8_address(bdf, reg));
	return inl(MACHINE_PCI_CONF_PORT + 4);
}

void pci_cf8_write32(uint16_t bdf, unsigned int reg, uint32_t v)
{
	outl(MACHINE_PCI_CONF_PORT, cf8_address(bdf, reg));
	outl(MACHINE_PCI_CONF_PORT + 4, v);
}

/* ECAM: 4 KiB per function, bus/device/function straight from the BDF. */
static uint64_t ecam_address(uint64_t ecam, uint16_t bdf, unsigned int reg)
{
	return ecam + ((uint64_t)bdf << 12) + (reg & 0xffc);
}

uint32_t pci_ecam_read32(uint64_t ecam, uint16_t bdf, unsigned int reg)
{
	return readl(ecam_address(ecam, bdf, reg));
}

void pci_ecam_write32(uint64_t ecam, uint16_t bdf, unsigned int reg, uint32_t v)
{
	writel(ecam_address(ecam, bdf, reg), v);
}
