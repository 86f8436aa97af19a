/* SPDX-License-Identifier: MIT */
/*
 * Between the PCI function files (pci-dev.c: config space, BARs,
 * interrupts; pci-cap.c: capability layout; vfio-pci*.c: passed-through
 * functions): register offsets and the byte-wise config helpers they use.
 */
#ifndef TAGVMM_VMM_PCI_PRIV_H
#define TAGVMM_VMM_PCI_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/pci.h"

/* Header offsets. */
#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_STATUS		0x06
#define PCI_REVISION_ID		0x08
#define PCI_CLASS_PROG		0x09
#define PCI_CACHE_LINE_SIZE	0x0c
#define PCI_HEADER_TYPE		0x0e
#define PCI_BASE_ADDRESS_0	0x10
#define PCI_SUBSYSTEM_VENDOR_ID	0x2c
#define PCI_SUBSYSTEM_ID	0x2e
#define PCI_CAPABILITY_LIST	0x34
#define PCI_INTERRUPT_LINE	0x3c
#define PCI_INTERRUPT_PIN	0x3d
#define PCI_STD_CAP_START	0x40
#define PCI_STD_CFG_SIZE	0x100


#define PCI_STATUS_INTERRUPT	0x0008
#define PCI_STATUS_CAP_LIST	0x0010
#define PCI_STATUS_W1C		0xf900	/* parity, target/master aborts, SERR, DPE */

/* MSI capability. */
#define MSI_FLAGS		2
#define MSI_FLAGS_ENABLE	0x0001
#define MSI_FLAGS_QMASK		0x000e	/* vectors the function can do (log2) */
#define MSI_FLAGS_QSIZE		0x0070	/* vectors the guest enabled (log2) */
#define MSI_FLAGS_64BIT		0x0080
#define MSI_FLAGS_MASKBIT	0x0100

/* MSI-X capability and table. */
#define MSIX_FLAGS		2
#define MSIX_FLAGS_QSIZE	0x07ff
#define MSIX_FLAGS_MASKALL	0x4000
#define MSIX_FLAGS_ENABLE	0x8000
#define MSIX_TABLE		4
#define MSIX_PBA		8
#define MSIX_ENTRY_SIZE		16
#define MSIX_ENTRY_CTRL		12
#define MSIX_CTRL_MASKBIT	0x1
#define MSIX_MAX_ENTRIES	2048

/* PCI Express capability (version 2 layout). */
#define EXP_FLAGS		0x02
#define EXP_DEVCAP		0x04
#define EXP_DEVCTL		0x08
#define EXP_DEVSTA		0x0a
#define EXP_DEVCAP2		0x24
#define EXP_DEVCAP2_EE_PREFIX	0x00200000	/* End-End TLP Prefix Supported */
#define EXP_LNKCAP		0x0c
#define EXP_LNKCTL		0x10
#define EXP_LNKSTA		0x12
#define EXP_LNKCAP2		0x2c
#define EXP_LNKCTL2		0x30
#define EXP_CAP_LEN		0x3c

#define PASID_CAP		4
#define ATS_CAP			4

#define PCI_PAGE		4096ULL

static inline uint16_t cfg16(const struct pci_device *dev, unsigned int off)
{
	return (uint16_t)(dev->cfg[off] | dev->cfg[off + 1] << 8);
}

static inline uint32_t cfg32(const struct pci_device *dev, unsigned int off)
{
	return (uint32_t)cfg16(dev, off) | (uint32_t)cfg16(dev, off + 2) << 16;
}

static inline void put(uint8_t *p, unsigned int off, uint32_t val, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		p[off + i] = (uint8_t)(val >> (8 * i));
}

static inline uint32_t get(const uint8_t *p, unsigned int off, unsigned int len)
{
	uint32_t val = 0;
	unsigned int i;

	for (i = 0; i < len; i++)
		val |= (uint32_t)p[off + i] << (8 * i);
	return val;
}

/* Set a register's reset value, write mask and W1C mask together. */
static inline void cfg_set(struct pci_device *dev, unsigned int off, unsigned int len, uint32_t val,
		    uint32_t wmask, uint32_t w1c)
{
	put(dev->cfg, off, val, len);
	put(dev->wmask, off, wmask, len);
	put(dev->w1cmask, off, w1c, len);
}

static inline bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static inline uint64_t round_up(uint64_t x, uint64_t align)
{
	return (x + align - 1) & ~(align - 1);
}

#endif
