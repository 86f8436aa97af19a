/* SPDX-License-Identifier: MIT */
/*
 * PCI: the host bridge (configuration through 0xCF8/0xCFC and through
 * ECAM) and a small framework for PCI functions: 4 KiB configuration space
 * with per-byte write masks, BARs that map themselves on the buses when the
 * guest enables decoding, and a capability list (MSI, MSI-X, PCIe, and the
 * PASID and ATS extended capabilities the vIOMMU needs).
 */
#ifndef TAGVMM_VMM_PCI_H
#define TAGVMM_VMM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/pci-bdf.h"
#include "vmm/bus.h"

struct vm;

#define PCI_CFG_SIZE		4096
#define PCI_NUM_BARS		6

/* Standard capability IDs and extended capability IDs used here. */
#define PCI_CAP_ID_MSI		0x05
#define PCI_CAP_ID_EXP		0x10
#define PCI_CAP_ID_MSIX		0x11
#define PCI_EXT_CAP_ID_ATS	0x000f
#define PCI_EXT_CAP_ID_PASID	0x001b
#define PCI_EXT_CAP_ID_PRI	0x0013

/* Config registers a device model reads to know what the guest enabled. */
#define PCI_COMMAND		0x04
#define PCI_COMMAND_IO		0x0001
#define PCI_COMMAND_MEMORY	0x0002
#define PCI_COMMAND_MASTER	0x0004	/* bus master: the function may DMA */
#define PCI_COMMAND_PARITY	0x0040
#define PCI_COMMAND_SERR	0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PASID_CTRL		6	/* in the PASID extended capability */
#define PASID_CTRL_ENABLE	0x0001
#define PRI_CTRL		4	/* in the PRI extended capability */
#define PRI_CTRL_ENABLE		0x0001
#define PRI_CTRL_RESET		0x0002
#define PRI_STATUS		6
#define PRI_STATUS_RF		0x0001	/* Response Failure (RW1C) */
#define PRI_STATUS_UPRGI	0x0002	/* Unexpected Page Request Group Index (RW1C) */
#define PRI_STATUS_STOPPED	0x0100
#define PRI_STATUS_PASID	0x8000	/* PRG responses need a PASID */
#define PRI_CAPACITY		8
#define PRI_ALLOCATION		12
#define ATS_CTRL		6	/* in the ATS extended capability */
#define ATS_CTRL_ENABLE		0x8000

/* Whether a config access [@off, @off + @len) touches register [@reg, @reg + @reglen). */
static inline bool pci_config_touches(unsigned int off, unsigned int len, unsigned int reg,
				      unsigned int reglen)
{
	return off < reg + reglen && reg < off + len;
}

enum pci_bar_kind { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar {
	enum pci_bar_kind kind;
	uint64_t size;			/* power of two; 0: unused */
	bool prefetchable;
	io_handler_t fn;		/* accesses, with the offset into the BAR */
	void *opaque;
	uint64_t mapped_at;		/* where it is on its bus; 0: not mapped */
};

struct pci_device;

/*
 * What a device may want to know beyond its BAR accesses; every hook is
 * optional and runs without dev->lock held. The two write hooks run after
 * the framework applied the write and before it sends the MSI/MSI-X
 * messages the write unmasked, so an interrupt the device held while the
 * vector was masked, handed in then with pci_device_notify(), merges with
 * the vector's pending bit into one message.
 */
struct pci_device_ops {
	/* A config write. */
	void (*config_written)(struct pci_device *dev, unsigned int offset, unsigned int len);
	/* A write to MSI-X table entry @vector: its address, data or mask. */
	void (*msix_written)(struct pci_device *dev, unsigned int vector);
	/* The guest is about to read the PBA: hand in what masked vectors hold. */
	void (*msix_pba_read)(struct pci_device *dev);
	/*
	 * BAR @i is now decoded at @addr, or no longer (0): at decode enable
	 * and disable, a move (one call, the new address), a refused mapping,
	 * pci_device_exit(). Serialized for all devices by the framework's BAR
	 * mapping lock; the bridge's window has already changed.
	 */
	void (*bar_mapped)(struct pci_device *dev, unsigned int i, uint64_t addr);
};

struct pci_device {
	struct vm *vm;
	uint16_t bdf;			/* bus << 8 | device << 3 | function */
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];	/* bits the guest may write */
	uint8_t w1cmask[PCI_CFG_SIZE];	/* bits the guest clears by writing 1 */
	struct pci_bar bars[PCI_NUM_BARS];
	const struct pci_device_ops *ops;
	void *opaque;
	uint8_t last_cap;		/* tail of the standard capability list */
	uint16_t last_ext_cap;		/* tail of the extended capability list */
	uint16_t ext_cap_end;		/* next free byte in extended space */
	/* MSI-X table and PBA live in a BAR (see pci_add_msix_cap). */
	uint8_t msix_bar;
	uint16_t msix_entries;
	uint8_t *msix_table;
	int intx_gsi;			/* -1 with no INTx */

	/* Framework-private state (pci-dev.c); devices leave it alone. */
	pthread_mutex_t lock;		/* config space, MSI-X table and PBA, INTx */
	uint8_t cap_end;		/* next free byte for standard capabilities */
	uint8_t msi_cap, msix_cap;	/* capability offsets, 0: absent */
	uint8_t bar_warned;		/* BARs whose refused mapping was logged */
	bool intx_driven;		/* this function holds its INTx GSI high */
};

/* PCIe capability device/port types (pci_add_pcie_cap). */
#define PCI_EXP_TYPE_ENDPOINT	0x0
#define PCI_EXP_TYPE_RC_END	0x9	/* root-complex integrated endpoint: bus 0 */

/*
 * Set up @dev's header: vendor, device, class (24-bit), revision. The
 * function is placed at @bdf when registered. Subsystem IDs follow vendor/device.
 * The interrupt pin starts as INTA; a function without INTx clears
 * cfg[0x3d] before pci_register(). ops and opaque survive the call.
 */
void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device, uint32_t class,
		     uint8_t revision);
/* Unmap @dev's BARs and free what the framework allocated (MSI-X table). */
void pci_device_exit(struct pci_device *dev);
/* Describe BAR @i; the guest programs its address. Returns 0 or -1. */
int pci_device_set_bar(struct pci_device *dev, unsigned int i, enum pci_bar_kind kind,
		       uint64_t size, io_handler_t fn, void *opaque);

/*
 * Capabilities: each returns the capability's config offset, or 0 when full.
 * pci_add_msi_cap: @mask64 selects a 64-bit message address with per-vector
 * masking (and pending bits); false gives a 32-bit address, no masking.
 * @vectors is rounded up to a power of two, at most 32.
 * pci_add_msix_cap: when BAR @bar is not described yet it becomes a 32-bit
 * memory BAR of its own, table at offset 0 and PBA on the next 4 KiB page;
 * when the device already described it, table and PBA take its upper half
 * (which must be large enough) and the device's handler keeps the rest.
 */
uint8_t pci_add_cap(struct pci_device *dev, uint8_t id, unsigned int len);
uint16_t pci_add_ext_cap(struct pci_device *dev, uint16_t id, uint8_t version, unsigned int len);
/* The offset of extended capability @id in @dev's list, or 0 when it has none. */
uint16_t pci_find_ext_cap(const struct pci_device *dev, uint16_t id);
uint8_t pci_add_msi_cap(struct pci_device *dev, unsigned int vectors, bool mask64);
uint8_t pci_add_msix_cap(struct pci_device *dev, unsigned int entries, unsigned int bar);
uint8_t pci_add_pcie_cap(struct pci_device *dev, uint8_t port_type);
/*
 * pci_add_pasid_cap also marks End-End TLP Prefix Supported in the PCIe
 * capability's DevCap2 (a PASID travels in such a prefix; Linux enables
 * PASID only on a function whose path has the bit), so a function adds
 * its PCIe capability first.
 */
uint16_t pci_add_pasid_cap(struct pci_device *dev, unsigned int pasid_bits);
uint16_t pci_add_ats_cap(struct pci_device *dev, unsigned int queue_depth);
uint16_t pci_add_pri_cap(struct pci_device *dev, unsigned int capacity);

/*
 * Raise an interrupt the way the guest configured: MSI-X, MSI, or INTx.
 * MSI and MSI-X are messages: nothing is sent without Bus Master Enable,
 * a masked vector sets its pending bit and is sent on unmask (a message
 * sent clears the bit: one message for everything pending), an MSI
 * vector beyond those the guest enabled folds onto them (modulo).
 * INTx is a level: notify asserts it (status bit 3) and it stays asserted
 * until the device calls pci_device_intx_deassert(), typically when the
 * guest reads or clears the device's interrupt status; the GSI is the OR
 * of every function swizzled onto it, and Interrupt Disable or MSI/MSI-X
 * enable keep it low.
 */
void pci_device_notify(struct pci_device *dev, unsigned int vector);
void pci_device_intx_deassert(struct pci_device *dev);

/* Config access to one function (what pci_config_read/write route to). */
uint32_t pci_device_config_read(struct pci_device *dev, unsigned int offset, unsigned int len);
void pci_device_config_write(struct pci_device *dev, unsigned int offset, unsigned int len,
			     uint32_t value);
/*
 * The device's own change of a register the guest cannot write (status
 * bits, self-clearing controls): @len bytes at @offset become
 * (old & ~@clear) | @set, whatever the write masks say.
 */
void pci_device_config_update(struct pci_device *dev, unsigned int offset, unsigned int len,
			      uint32_t clear, uint32_t set);

/* Where interrupts go: vm_irq_line and vm_signal_msi unless a test records them. */
extern int (*pci_irq_line)(struct vm *vm, unsigned int gsi, bool level);
extern int (*pci_signal_msi)(struct vm *vm, uint64_t address, uint32_t data);

/* Register @dev on the VM's host bridge at @bdf. Returns 0, or -1 (taken, full). */
int pci_register(struct vm *vm, struct pci_device *dev, uint16_t bdf);
/* The function at @bdf, or NULL. */
struct pci_device *pci_find(struct vm *vm, uint16_t bdf);
/* Function 0 of the first bus 0 slot from @first_slot with no function yet; -1: none. */
int pci_free_slot(struct vm *vm, unsigned int first_slot);

/*
 * Config accessors used by both 0xCF8/0xCFC and ECAM (and the tests):
 * honour the write masks, BAR sizing, and decode enables. Absent functions
 * read as all ones.
 */
uint32_t pci_config_read(struct vm *vm, uint16_t bdf, unsigned int offset, unsigned int len);
void pci_config_write(struct vm *vm, uint16_t bdf, unsigned int offset, unsigned int len,
		      uint32_t value);

/*
 * The host bridge: its own function at 00:00.0, 0xCF8/0xCFC and ECAM.
 * A byte write to 0xCF9 (reset control register) with RST_CPU (bit 2)
 * set stops the VM with VM_RESET.
 */
int pci_host_bridge_init(struct vm *vm, char *err, size_t errlen);
/* Undo pci_host_bridge_init (vm_destroy, before the buses go). */
void pci_host_bridge_exit(struct vm *vm);

/* Between pci-dev.c and pci.c: drive a swizzled INTx GSI (wired OR). */
void pci_host_set_intx(struct vm *vm, unsigned int gsi, bool level);
/*
 * Between pci-dev.c and pci.c: decode a BAR in the bridge's I/O or MMIO
 * window. Returns 0, or -1 with errno ERANGE (outside the window), EEXIST
 * (overlaps another BAR), ENOSPC or EINVAL.
 */
int pci_host_map_bar(struct vm *vm, bool io, uint64_t base, uint64_t size, io_handler_t fn,
		     void *opaque);
int pci_host_unmap_bar(struct vm *vm, bool io, uint64_t base, void *opaque);

#endif
