// SPDX-License-Identifier: MIT
/*
 * PCI functions: configuration space semantics, BARs and interrupts
 * (capabilities are laid out by pci-cap.c).
 *
 * Every config byte has a write mask and a write-one-to-clear mask, so
 * read-only fields, W1C status bits and BAR sizing (a BAR register keeps
 * only the address bits its size leaves writable, so all ones reads back
 * as the size mask) all fall out of one byte-wise write rule. What the
 * masks cannot express is done after the write: decode enables and BAR
 * moves (re)map BARs on the buses, MSI/MSI-X unmasking sends pending
 * messages, Interrupt Disable drops INTx. The device's hooks
 * (struct pci_device_ops) run in between, after the remapping and before
 * the pending messages go, so what a device hands in while a vector was
 * masked joins its pending bit instead of making a second message.
 *
 * BARs are decoded in the host bridge's windows (pci.c says why not
 * directly on the buses).
 *
 * Locking: dev->lock guards the config space, the MSI-X table and PBA and
 * the INTx state. BAR (un)mapping happens with dev->lock released, under
 * bar_map_lock, so no BAR handler (the MSI-X table takes dev->lock) ever
 * waits behind a mapping change that waits for it. Device hooks run with
 * dev->lock released (bar_mapped under bar_map_lock), so a device may take
 * its own locks there and call pci_device_notify().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/pci-priv.h"

int (*pci_signal_msi)(struct vm *vm, uint64_t address, uint32_t data) = vm_signal_msi;

static pthread_mutex_t bar_map_lock = PTHREAD_MUTEX_INITIALIZER;

void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device, uint32_t class,
		     uint8_t revision)
{
	const struct pci_device_ops *ops = dev->ops;
	void *opaque = dev->opaque;

	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->opaque = opaque;
	dev->intx_gsi = -1;
	dev->cap_end = PCI_STD_CAP_START;
	dev->ext_cap_end = PCI_STD_CFG_SIZE;
	pthread_mutex_init(&dev->lock, NULL);

	cfg_set(dev, PCI_VENDOR_ID, 2, vendor, 0, 0);
	cfg_set(dev, PCI_DEVICE_ID, 2, device, 0, 0);
	cfg_set(dev, PCI_COMMAND, 2, 0,
		PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
		PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE, 0);
	cfg_set(dev, PCI_STATUS, 2, 0, 0, PCI_STATUS_W1C);
	cfg_set(dev, PCI_REVISION_ID, 1, revision, 0, 0);
	cfg_set(dev, PCI_CLASS_PROG, 3, class & 0xffffff, 0, 0);
	cfg_set(dev, PCI_CACHE_LINE_SIZE, 1, 0, 0xff, 0);
	cfg_set(dev, PCI_SUBSYSTEM_VENDOR_ID, 2, vendor, 0, 0);
	cfg_set(dev, PCI_SUBSYSTEM_ID, 2, device, 0, 0);
	cfg_set(dev, PCI_INTERRUPT_LINE, 1, 0, 0xff, 0);
	cfg_set(dev, PCI_INTERRUPT_PIN, 1, 1, 0, 0);
}

/* Slot @i is the upper half of the 64-bit BAR below it. */
static bool bar_is_upper_half(const struct pci_device *dev, unsigned int i)
{
	return i > 0 && dev->bars[i - 1].kind == PCI_BAR_MEM64;
}

int pci_device_set_bar(struct pci_device *dev, unsigned int i, enum pci_bar_kind kind,
		       uint64_t size, io_handler_t fn, void *opaque)
{
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * i;
	uint64_t mask = ~(size - 1);
	struct pci_bar *bar;

	if (i >= PCI_NUM_BARS || !is_pow2(size) || bar_is_upper_half(dev, i) ||
	    dev->bars[i].kind != PCI_BAR_NONE)
		return -1;
	bar = &dev->bars[i];
	switch (kind) {
	case PCI_BAR_IO:
		if (size < 4 || size > MACHINE_PCI_IO_SIZE)
			return -1;
		cfg_set(dev, reg, 4, 0x1, (uint32_t)mask & 0xfffc, 0);
		break;
	case PCI_BAR_MEM32:
		if (size < 16 || size > MACHINE_PCI_MMIO_SIZE)
			return -1;
		cfg_set(dev, reg, 4, bar->prefetchable ? 0x8 : 0, (uint32_t)mask & 0xfffffff0, 0);
		break;
	case PCI_BAR_MEM64:
		if (size < 16 || size > (1ULL << 40) || i + 1 >= PCI_NUM_BARS ||
		    dev->bars[i + 1].kind != PCI_BAR_NONE)
			return -1;
		cfg_set(dev, reg, 4, 0x4 | (bar->prefetchable ? 0x8 : 0),
			(uint32_t)mask & 0xfffffff0, 0);
		cfg_set(dev, reg + 4, 4, 0, (uint32_t)(mask >> 32), 0);
		break;
	default:
		return -1;
	}
	bar->kind = kind;
	bar->size = size;
	bar->fn = fn;
	bar->opaque = opaque;
	bar->mapped_at = 0;
	return 0;
}

/* The address the guest programmed into BAR @i (without the type bits). */
static uint64_t bar_address(const struct pci_device *dev, unsigned int i)
{
	unsigned int reg = PCI_BASE_ADDRESS_0 + 4 * i;

	switch (dev->bars[i].kind) {
	case PCI_BAR_IO:
		return cfg32(dev, reg) & 0xfffc;
	case PCI_BAR_MEM32:
		return cfg32(dev, reg) & 0xfffffff0;
	case PCI_BAR_MEM64:
		return (cfg32(dev, reg) & 0xfffffff0) | (uint64_t)cfg32(dev, reg + 4) << 32;
	default:
		return 0;
	}
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * Guest RAM never exits to us, so a BAR there would be dead. The windows
 * lie in the MMIO hole, clear of RAM, ECAM and the APICs; this is the
 * belt to that pair of braces, should a memory layout ever change.
 */
static bool over_ram(struct vm *vm, uint64_t addr, uint64_t size)
{
	size_t i;

	for (i = 0; i < vm->nmem; i++)
		if (ranges_overlap(addr, size, vm->mem[i].gpa, vm->mem[i].size))
			return true;
	return false;
}

static void msix_bar_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
			bool is_write);

static void unclaimed_bar_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
			     bool is_write)
{
	(void)opaque;
	(void)offset;
	if (!is_write)
		memset(data, 0, len);
}

/* What serves BAR @i on the bus, and the opaque it was registered with. */
static io_handler_t bar_handler(struct pci_device *dev, unsigned int i, void **opaque)
{
	if (dev->msix_cap && dev->msix_bar == i) {
		*opaque = dev;
		return msix_bar_io;
	}
	if (dev->bars[i].fn) {
		*opaque = dev->bars[i].opaque;
		return dev->bars[i].fn;
	}
	*opaque = &dev->bars[i];
	return unclaimed_bar_io;
}

static void bar_refused(struct pci_device *dev, unsigned int i, uint64_t addr, const char *why)
{
	if (dev->bar_warned & (1u << i))
		return;
	dev->bar_warned |= 1u << i;
	char b[PCI_BDF_LEN];

	fprintf(stderr, "tagvmm: pci %s: BAR%u at %#llx (%#llx bytes) is %s; left unmapped\n",
		pci_bdf_format(dev->bdf, b), i, (unsigned long long)addr,
		(unsigned long long)dev->bars[i].size, why);
}

/*
 * Make the bridge's windows match the config space: each BAR decoded at
 * its address while its decode is enabled, not decoded otherwise.
 */
static void update_mappings(struct pci_device *dev)
{
	unsigned int i;

	if (!dev->vm)
		return;
	pthread_mutex_lock(&bar_map_lock);
	for (i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *bar = &dev->bars[i];
		bool io = bar->kind == PCI_BAR_IO;
		const char *why = NULL;
		uint64_t want = 0, was = bar->mapped_at;
		io_handler_t fn;
		void *opaque;

		if (bar->kind == PCI_BAR_NONE)
			continue;
		pthread_mutex_lock(&dev->lock);
		if (cfg16(dev, PCI_COMMAND) & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY))
			want = bar_address(dev, i);
		pthread_mutex_unlock(&dev->lock);
		if (want == bar->mapped_at)
			continue;

		fn = bar_handler(dev, i, &opaque);
		if (bar->mapped_at) {
			pci_host_unmap_bar(dev->vm, io, bar->mapped_at, opaque);
			bar->mapped_at = 0;
		}
		if (want) {	/* address 0: not assigned */
			if (!io && over_ram(dev->vm, want, bar->size))
				why = "over guest RAM";
			else if (pci_host_map_bar(dev->vm, io, want, bar->size, fn, opaque))
				why = errno == EEXIST ? "over another BAR" :
				      errno == ERANGE ? "outside the host bridge's window" :
				      "not mappable";
			if (why)
				bar_refused(dev, i, want, why);
			else
				bar->mapped_at = want;
		}
		if (bar->mapped_at != was && dev->ops && dev->ops->bar_mapped)
			dev->ops->bar_mapped(dev, i, bar->mapped_at);
	}
	pthread_mutex_unlock(&bar_map_lock);
}

void pci_device_exit(struct pci_device *dev)
{
	pthread_mutex_lock(&dev->lock);
	put(dev->cfg, PCI_COMMAND, 0, 2);
	pthread_mutex_unlock(&dev->lock);
	update_mappings(dev);
	pci_device_intx_deassert(dev);
	free(dev->msix_table);
	dev->msix_table = NULL;
	dev->msix_cap = 0;
	pthread_mutex_destroy(&dev->lock);
}

/* ---- interrupts ---- */

static bool bus_master(const struct pci_device *dev)
{
	return cfg16(dev, PCI_COMMAND) & PCI_COMMAND_MASTER;
}

static bool msi_enabled(const struct pci_device *dev)
{
	return dev->msi_cap && (cfg16(dev, dev->msi_cap + MSI_FLAGS) & MSI_FLAGS_ENABLE);
}

static bool msix_enabled(const struct pci_device *dev)
{
	return dev->msix_cap && (cfg16(dev, dev->msix_cap + MSIX_FLAGS) & MSIX_FLAGS_ENABLE);
}

static void signal_msi(struct pci_device *dev, uint64_t address, uint32_t data)
{
	if (dev->vm)
		pci_signal_msi(dev->vm, address, data);
}

/* INTx reaches its GSI while asserted, unless disabled or superseded by MSI. */
static void update_intx(struct pci_device *dev)
{
	bool level = (cfg16(dev, PCI_STATUS) & PCI_STATUS_INTERRUPT) &&
		     !(cfg16(dev, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) &&
		     !msi_enabled(dev) && !msix_enabled(dev);

	if (dev->intx_gsi < 0 || !dev->vm || level == dev->intx_driven)
		return;
	dev->intx_driven = level;
	pci_host_set_intx(dev->vm, (unsigned int)dev->intx_gsi, level);
}

/* MSI register offsets depend on the 64-bit flag. */
static unsigned int msi_data_off(const struct pci_device *dev)
{
	return dev->msi_cap + ((cfg16(dev, dev->msi_cap + MSI_FLAGS) & MSI_FLAGS_64BIT) ? 12 : 8);
}

static unsigned int msi_mask_off(const struct pci_device *dev)
{
	return msi_data_off(dev) + 4;
}

static unsigned int msi_vectors(const struct pci_device *dev)
{
	uint16_t flags = cfg16(dev, dev->msi_cap + MSI_FLAGS);
	unsigned int can = (flags & MSI_FLAGS_QMASK) >> 1, enabled = (flags & MSI_FLAGS_QSIZE) >> 4;

	return 1u << (enabled < can ? enabled : can);
}

static void msi_send(struct pci_device *dev, unsigned int vector)
{
	uint16_t flags = cfg16(dev, dev->msi_cap + MSI_FLAGS);
	uint64_t address = cfg32(dev, dev->msi_cap + 4);
	uint32_t data = cfg16(dev, msi_data_off(dev));

	if (flags & MSI_FLAGS_64BIT)
		address |= (uint64_t)cfg32(dev, dev->msi_cap + 8) << 32;
	/* Multiple messages: the vector replaces the low data bits. */
	data = (data & ~(msi_vectors(dev) - 1)) | vector;
	signal_msi(dev, address, data);
}

static void msi_notify(struct pci_device *dev, unsigned int vector)
{
	vector %= msi_vectors(dev);
	if (cfg16(dev, dev->msi_cap + MSI_FLAGS) & MSI_FLAGS_MASKBIT) {
		unsigned int mask = msi_mask_off(dev), pending = mask + 4;

		if (cfg32(dev, mask) & (1u << vector)) {
			put(dev->cfg, pending, cfg32(dev, pending) | 1u << vector, 4);
			return;
		}
		put(dev->cfg, pending, cfg32(dev, pending) & ~(1u << vector), 4);
	}
	msi_send(dev, vector);
}

/* Send MSI vectors that were pending and are no longer masked. */
static void msi_flush_pending(struct pci_device *dev)
{
	unsigned int mask, pending, v, n;
	uint32_t ready;

	if (!msi_enabled(dev) || !bus_master(dev) ||
	    !(cfg16(dev, dev->msi_cap + MSI_FLAGS) & MSI_FLAGS_MASKBIT))
		return;
	mask = msi_mask_off(dev);
	pending = mask + 4;
	n = msi_vectors(dev);
	ready = cfg32(dev, pending) & ~cfg32(dev, mask);
	for (v = 0; v < n; v++) {
		if (!(ready & (1u << v)))
			continue;
		put(dev->cfg, pending, cfg32(dev, pending) & ~(1u << v), 4);
		msi_send(dev, v);
	}
}

static uint8_t *msix_entry(struct pci_device *dev, unsigned int v)
{
	return dev->msix_table + (size_t)v * MSIX_ENTRY_SIZE;
}

static uint8_t *msix_pba(struct pci_device *dev)
{
	return dev->msix_table + (size_t)dev->msix_entries * MSIX_ENTRY_SIZE;
}

static bool msix_masked(struct pci_device *dev, unsigned int v)
{
	return (cfg16(dev, dev->msix_cap + MSIX_FLAGS) & MSIX_FLAGS_MASKALL) ||
	       (get(msix_entry(dev, v), MSIX_ENTRY_CTRL, 4) & MSIX_CTRL_MASKBIT);
}

static void msix_send(struct pci_device *dev, unsigned int v)
{
	const uint8_t *e = msix_entry(dev, v);

	signal_msi(dev, get(e, 0, 4) | (uint64_t)get(e, 4, 4) << 32, get(e, 8, 4));
}

static void msix_notify(struct pci_device *dev, unsigned int v)
{
	if (v >= dev->msix_entries)
		return;
	if (msix_masked(dev, v)) {
		msix_pba(dev)[v / 8] |= (uint8_t)(1u << (v % 8));
	} else {
		msix_pba(dev)[v / 8] &= (uint8_t)~(1u << (v % 8));
		msix_send(dev, v);
	}
}

static void msix_flush_pending(struct pci_device *dev)
{
	uint8_t *pba = msix_pba(dev);
	unsigned int v;

	if (!msix_enabled(dev) || !bus_master(dev))
		return;
	for (v = 0; v < dev->msix_entries; v++) {
		if (!(pba[v / 8] & (1u << (v % 8))) || msix_masked(dev, v))
			continue;
		pba[v / 8] &= (uint8_t)~(1u << (v % 8));
		msix_send(dev, v);
	}
}

void pci_device_notify(struct pci_device *dev, unsigned int vector)
{
	pthread_mutex_lock(&dev->lock);
	if (msix_enabled(dev)) {
		if (bus_master(dev))
			msix_notify(dev, vector);
	} else if (msi_enabled(dev)) {
		if (bus_master(dev))
			msi_notify(dev, vector);
	} else if (dev->cfg[PCI_INTERRUPT_PIN]) {
		dev->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
		update_intx(dev);
	}
	pthread_mutex_unlock(&dev->lock);
}

void pci_device_intx_deassert(struct pci_device *dev)
{
	pthread_mutex_lock(&dev->lock);
	dev->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
	update_intx(dev);
	pthread_mutex_unlock(&dev->lock);
}

/*
 * The MSI-X BAR: table and PBA where the capability says, the device's
 * own handler for the rest. Table fields: address (dword aligned), upper
 * address, data, vector control (bit 0 only); the PBA is read-only.
 * A table write reaches the device's msix_written hook for each entry it
 * touched before pending messages go out; a PBA read first lets the
 * device hand in what it holds (msix_pba_read).
 */
static void msix_bar_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
			bool is_write)
{
	struct pci_device *dev = opaque;
	uint64_t table = cfg32(dev, dev->msix_cap + MSIX_TABLE) & ~7u;
	uint64_t pba = cfg32(dev, dev->msix_cap + MSIX_PBA) & ~7u;
	uint64_t table_len = (uint64_t)dev->msix_entries * MSIX_ENTRY_SIZE;
	uint64_t pba_len = round_up(dev->msix_entries, 64) / 8;
	const struct pci_device_ops *ops = dev->ops;
	bool in_table = ranges_overlap(offset, len, table, table_len);
	unsigned int i;

	if (!in_table && !ranges_overlap(offset, len, pba, pba_len)) {
		struct pci_bar *bar = &dev->bars[dev->msix_bar];

		if (bar->fn)
			bar->fn(bar->opaque, offset, data, len, is_write);
		else if (!is_write)
			memset(data, 0, len);
		return;
	}

	if (!is_write && ops && ops->msix_pba_read && ranges_overlap(offset, len, pba, pba_len))
		ops->msix_pba_read(dev);
	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < len; i++) {
		uint64_t off = offset + i;

		if (off >= table && off < table + table_len) {
			uint8_t *b = dev->msix_table + (off - table);
			unsigned int field = (unsigned int)((off - table) % MSIX_ENTRY_SIZE);
			uint8_t wmask = field == 0 ? 0xfc : field < MSIX_ENTRY_CTRL ? 0xff :
					field == MSIX_ENTRY_CTRL ? MSIX_CTRL_MASKBIT : 0;

			if (is_write)
				*b = (uint8_t)((*b & ~wmask) | (data[i] & wmask));
			else
				data[i] = *b;
		} else if (off >= pba && off < pba + pba_len) {
			if (!is_write)
				data[i] = msix_pba(dev)[off - pba];
		} else if (!is_write) {
			data[i] = 0;
		}
	}
	pthread_mutex_unlock(&dev->lock);
	if (!is_write)
		return;
	if (in_table && ops && ops->msix_written) {
		uint64_t first = offset > table ? offset - table : 0;
		uint64_t end = offset + len < table + table_len ? offset + len - table : table_len;

		for (uint64_t v = first / MSIX_ENTRY_SIZE; v <= (end - 1) / MSIX_ENTRY_SIZE; v++)
			ops->msix_written(dev, (unsigned int)v);
	}
	pthread_mutex_lock(&dev->lock);
	msix_flush_pending(dev);
	pthread_mutex_unlock(&dev->lock);
}

/* ---- config space ---- */

uint32_t pci_device_config_read(struct pci_device *dev, unsigned int offset, unsigned int len)
{
	uint32_t val;

	if (!len || len > 4 || offset >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - offset)
		return 0xffffffff;
	pthread_mutex_lock(&dev->lock);
	val = get(dev->cfg, offset, len);
	pthread_mutex_unlock(&dev->lock);
	return val;
}

void pci_device_config_update(struct pci_device *dev, unsigned int offset, unsigned int len,
			      uint32_t clear, uint32_t set)
{
	if (!len || len > 4 || offset >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - offset)
		return;
	pthread_mutex_lock(&dev->lock);
	put(dev->cfg, offset, (get(dev->cfg, offset, len) & ~clear) | set, len);
	pthread_mutex_unlock(&dev->lock);
}

void pci_device_config_write(struct pci_device *dev, unsigned int offset, unsigned int len,
			     uint32_t value)
{
	bool remap, irqs;
	unsigned int i;

	if (!len || len > 4 || offset >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - offset)
		return;
	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < len; i++) {
		unsigned int o = offset + i;
		uint8_t byte = (uint8_t)(value >> (8 * i));

		dev->cfg[o] = (uint8_t)((dev->cfg[o] & ~dev->wmask[o]) | (byte & dev->wmask[o]));
		dev->cfg[o] &= (uint8_t)~(byte & dev->w1cmask[o]);
	}
	remap = pci_config_touches(offset, len, PCI_COMMAND, 2) ||
		pci_config_touches(offset, len, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS);
	irqs = pci_config_touches(offset, len, PCI_COMMAND, 2) ||
	       (dev->msi_cap && pci_config_touches(offset, len, dev->msi_cap,
					 PCI_STD_CFG_SIZE - dev->msi_cap)) ||
	       (dev->msix_cap && pci_config_touches(offset, len, dev->msix_cap + MSIX_FLAGS, 2));
	if (irqs)
		update_intx(dev);
	pthread_mutex_unlock(&dev->lock);

	if (remap)
		update_mappings(dev);
	if (dev->ops && dev->ops->config_written)
		dev->ops->config_written(dev, offset, len);
	if (irqs) {
		pthread_mutex_lock(&dev->lock);
		if (dev->msi_cap)
			msi_flush_pending(dev);
		if (dev->msix_cap)
			msix_flush_pending(dev);
		pthread_mutex_unlock(&dev->lock);
	}
}
