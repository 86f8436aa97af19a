// SPDX-License-Identifier: MIT
/*
 * PCI capabilities: laying out the standard and extended capability lists
 * of a function and giving each register its reset value and write masks,
 * so pci-dev.c's one byte-wise write rule serves them all.
 */
#include <stdlib.h>
#include <string.h>

#include "vmm/pci-priv.h"

uint8_t pci_add_cap(struct pci_device *dev, uint8_t id, unsigned int len)
{
	unsigned int off = (unsigned int)round_up(dev->cap_end, 4);

	if (len < 2 || off + len > PCI_STD_CFG_SIZE)
		return 0;
	cfg_set(dev, off, 1, id, 0, 0);
	cfg_set(dev, off + 1, 1, 0, 0, 0);
	if (dev->last_cap)
		dev->cfg[dev->last_cap + 1] = (uint8_t)off;
	else
		dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	dev->last_cap = (uint8_t)off;
	dev->cap_end = (uint8_t)(off + len < PCI_STD_CFG_SIZE ? off + len : 0xff);
	return (uint8_t)off;
}

uint16_t pci_add_ext_cap(struct pci_device *dev, uint16_t id, uint8_t version, unsigned int len)
{
	unsigned int off = (unsigned int)round_up(dev->ext_cap_end ? dev->ext_cap_end :
						  PCI_STD_CFG_SIZE, 4);

	if (len < 4 || off + len > PCI_CFG_SIZE || version > 0xf)
		return 0;
	cfg_set(dev, off, 4, id | (uint32_t)version << 16, 0, 0);
	if (dev->last_ext_cap)
		put(dev->cfg, dev->last_ext_cap, cfg32(dev, dev->last_ext_cap) | off << 20, 4);
	dev->last_ext_cap = (uint16_t)off;
	dev->ext_cap_end = (uint16_t)(off + len);
	return (uint16_t)off;
}

uint16_t pci_find_ext_cap(const struct pci_device *dev, uint16_t id)
{
	/* The list is the framework's (headers are read-only to the guest); the bound is belt and braces. */
	unsigned int off = dev->last_ext_cap ? PCI_STD_CFG_SIZE : 0;

	for (unsigned int hops = 0; off >= PCI_STD_CFG_SIZE && off + 4 <= PCI_CFG_SIZE &&
	     hops < PCI_CFG_SIZE / 4; hops++) {
		uint32_t hdr = cfg32(dev, off);

		if ((hdr & 0xffff) == id)
			return (uint16_t)off;
		off = hdr >> 20;
	}
	return 0;
}

uint8_t pci_add_msi_cap(struct pci_device *dev, unsigned int vectors, bool mask64)
{
	unsigned int log2 = 0, len = mask64 ? 24 : 12, data;
	uint16_t flags;
	uint8_t off;

	if (!vectors || vectors > 32 || dev->msi_cap)
		return 0;
	while ((1u << log2) < vectors)
		log2++;
	off = pci_add_cap(dev, PCI_CAP_ID_MSI, len);
	if (!off)
		return 0;
	flags = (uint16_t)(log2 << 1) | (mask64 ? MSI_FLAGS_64BIT | MSI_FLAGS_MASKBIT : 0);
	cfg_set(dev, off + MSI_FLAGS, 2, flags, MSI_FLAGS_ENABLE | MSI_FLAGS_QSIZE, 0);
	cfg_set(dev, off + 4, 4, 0, 0xfffffffc, 0);
	if (mask64)
		cfg_set(dev, off + 8, 4, 0, 0xffffffff, 0);
	data = off + (mask64 ? 12 : 8);
	cfg_set(dev, data, 2, 0, 0xffff, 0);
	if (mask64) {
		cfg_set(dev, data + 4, 4, 0, (uint32_t)((1ULL << (1u << log2)) - 1), 0);
		cfg_set(dev, data + 8, 4, 0, 0, 0);	/* pending: read-only */
	}
	dev->msi_cap = off;
	return off;
}

uint8_t pci_add_msix_cap(struct pci_device *dev, unsigned int entries, unsigned int bar)
{
	uint64_t table_len = round_up((uint64_t)entries * MSIX_ENTRY_SIZE, PCI_PAGE);
	uint64_t need = table_len + PCI_PAGE, base = 0, size;
	size_t pba_bytes = round_up(entries, 64) / 8;
	uint8_t *table;
	unsigned int v;
	uint8_t off;

	if (!entries || entries > MSIX_MAX_ENTRIES || bar >= PCI_NUM_BARS || dev->msix_cap)
		return 0;
	if (dev->bars[bar].kind == PCI_BAR_NONE) {
		for (size = PCI_PAGE; size < need; size <<= 1)
			;
		if (pci_device_set_bar(dev, bar, PCI_BAR_MEM32, size, NULL, NULL))
			return 0;
	} else if (dev->bars[bar].kind == PCI_BAR_IO || dev->bars[bar].size / 2 < need) {
		return 0;
	} else {
		base = dev->bars[bar].size / 2;
	}
	table = calloc(1, (size_t)entries * MSIX_ENTRY_SIZE + pba_bytes);
	if (!table)
		return 0;
	off = pci_add_cap(dev, PCI_CAP_ID_MSIX, 12);
	if (!off) {
		free(table);
		return 0;
	}
	cfg_set(dev, off + MSIX_FLAGS, 2, entries - 1, MSIX_FLAGS_MASKALL | MSIX_FLAGS_ENABLE, 0);
	cfg_set(dev, off + MSIX_TABLE, 4, (uint32_t)base | bar, 0, 0);
	cfg_set(dev, off + MSIX_PBA, 4, (uint32_t)(base + table_len) | bar, 0, 0);
	/* Entries start masked. */
	for (v = 0; v < entries; v++)
		put(table, v * MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL, MSIX_CTRL_MASKBIT, 4);
	dev->msix_table = table;
	dev->msix_entries = (uint16_t)entries;
	dev->msix_bar = (uint8_t)bar;
	dev->msix_cap = off;
	return off;
}

uint8_t pci_add_pcie_cap(struct pci_device *dev, uint8_t port_type)
{
	uint8_t off = pci_add_cap(dev, PCI_CAP_ID_EXP, EXP_CAP_LEN);

	if (!off)
		return 0;
	/* Capability version 2, the given device/port type. */
	cfg_set(dev, off + EXP_FLAGS, 2, 0x2 | (port_type & 0xf) << 4, 0, 0);
	/* DevCap: 128-byte max payload, role-based error reporting. */
	cfg_set(dev, off + EXP_DEVCAP, 4, 1u << 15, 0, 0);
	/*
	 * DevCtl: error reporting enables, relaxed ordering, max payload, no
	 * snoop, max read request are the guest's; reset values as hardware
	 * has them (relaxed ordering, no snoop, 512-byte reads).
	 */
	cfg_set(dev, off + EXP_DEVCTL, 2, 0x2810, 0x78ff, 0);
	/* DevSta: error detected bits are W1C. */
	cfg_set(dev, off + EXP_DEVSTA, 2, 0, 0, 0x000f);
	if (port_type != PCI_EXP_TYPE_RC_END) {
		/* A x1 link at 2.5 GT/s, which is always up. */
		cfg_set(dev, off + EXP_LNKCAP, 4, 0x11, 0, 0);
		cfg_set(dev, off + EXP_LNKCTL, 2, 0, 0x00c3, 0);
		cfg_set(dev, off + EXP_LNKSTA, 2, 0x11, 0, 0);
		cfg_set(dev, off + EXP_LNKCAP2, 4, 0x2, 0, 0);
		cfg_set(dev, off + EXP_LNKCTL2, 2, 0x1, 0x000f, 0);
	}
	return off;
}

/* The offset of standard capability @id, or 0. */
static uint8_t find_cap(const struct pci_device *dev, uint8_t id)
{
	unsigned int off = dev->cfg[PCI_CAPABILITY_LIST] & 0xfc;

	/* The list is the framework's; the bound is belt and braces. */
	for (unsigned int hops = 0; off >= PCI_STD_CAP_START && hops < 48; hops++) {
		if (dev->cfg[off] == id)
			return (uint8_t)off;
		off = dev->cfg[off + 1] & 0xfc;
	}
	return 0;
}

uint16_t pci_add_pasid_cap(struct pci_device *dev, unsigned int pasid_bits)
{
	uint8_t exp = find_cap(dev, PCI_CAP_ID_EXP);
	uint16_t off;

	if (!pasid_bits || pasid_bits > 20)
		return 0;
	off = pci_add_ext_cap(dev, PCI_EXT_CAP_ID_PASID, 1, 8);
	if (!off)
		return 0;
	/* Max PASID width; no execute or privileged mode, so only Enable is writable. */
	cfg_set(dev, off + PASID_CAP, 2, pasid_bits << 8, 0, 0);
	cfg_set(dev, off + PASID_CTRL, 2, 0, 0x0001, 0);
	/*
	 * A PASID is an End-End TLP Prefix: Linux's pci_enable_pasid() refuses
	 * a function without the bit on its path (an RCiEP's path is itself).
	 */
	if (exp)
		put(dev->cfg, exp + EXP_DEVCAP2, cfg32(dev, exp + EXP_DEVCAP2) | EXP_DEVCAP2_EE_PREFIX, 4);
	return off;
}

/*
 * PCIe Page Request Interface (16 bytes), in its reset state: Stopped set
 * (Linux enables PRI only then), PRG responses need a PASID. Enable and
 * Reset are the guest's; Response Failure and Unexpected PRG Index are
 * write-1-to-clear. The device model keeps Stopped, clears Reset after
 * acting on it and sets the two error bits (pci_device_config_update).
 */
uint16_t pci_add_pri_cap(struct pci_device *dev, unsigned int capacity)
{
	uint16_t off;

	if (!capacity)
		return 0;
	off = pci_add_ext_cap(dev, PCI_EXT_CAP_ID_PRI, 1, 16);
	if (!off)
		return 0;
	cfg_set(dev, off + PRI_CTRL, 2, 0, 0x0003, 0);		/* Enable, Reset */
	cfg_set(dev, off + PRI_STATUS, 2, PRI_STATUS_STOPPED | PRI_STATUS_PASID, 0, 0x0003);
	cfg_set(dev, off + PRI_CAPACITY, 4, capacity, 0, 0);
	cfg_set(dev, off + PRI_ALLOCATION, 4, 0, 0xffffffff, 0);
	return off;
}

uint16_t pci_add_ats_cap(struct pci_device *dev, unsigned int queue_depth)
{
	uint16_t off;

	if (!queue_depth || queue_depth > 32)
		return 0;
	off = pci_add_ext_cap(dev, PCI_EXT_CAP_ID_ATS, 1, 8);
	if (!off)
		return 0;
	/* Invalidate queue depth (0 encodes 32); page-aligned requests. */
	cfg_set(dev, off + ATS_CAP, 2, (queue_depth & 0x1f) | 0x20, 0, 0);
	/* Enable (bit 15) and the smallest translation unit (bits 4:0). */
	cfg_set(dev, off + ATS_CTRL, 2, 0, 0x801f, 0);
	return off;
}
