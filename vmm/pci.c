// SPDX-License-Identifier: MIT
/*
 * The PCI host bridge: configuration mechanism #1 (0xCF8 CONFIG_ADDRESS,
 * 0xCFC..0xCFF CONFIG_DATA), ECAM at MACHINE_ECAM_BASE, the registry of
 * functions on bus 0, the bridge's own function at 00:00.0, and the wired
 * OR of the swizzled INTx lines.
 *
 * Only ECAM reaches the extended configuration space (0x100..0xFFF):
 * CONFIG_ADDRESS carries an 8-bit register number.
 *
 * BARs live in the two windows the firmware tables give the bridge
 * (MACHINE_PCI_IO_BASE and MACHINE_PCI_MMIO_BASE): the bridge registers
 * each window on its bus once and dispatches inside it from its own table.
 * That keeps BAR moves off the buses' locks: bus handlers run under their
 * bus's read lock, and a BAR move arrives inside one (an ECAM write on the
 * MMIO bus, a 0xCFC write on the port bus), so bus_register() there would
 * deadlock. A BAR outside the windows is not decoded.
 *
 * Like firmware, pci_register() gives each BAR an address in the windows
 * (natural alignment, bump allocation) but leaves decoding off: the guest
 * enables it, or moves the BARs first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/init.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"

/*
 * The bridge's own IDs. We are not Intel, Red Hat or QEMU, and borrowing
 * one of their IDs would also invite the guest's quirks for their
 * chipsets. Vendor 0x0000 is the PCI ID database's "missing ID" entry
 * (not 0xFFFF, which means "no function"); nothing binds to it, and the
 * host bridge needs no driver. Change both together if tagvmm ever gets
 * an assigned ID.
 */
#define HOST_BRIDGE_VENDOR	0x0000
#define HOST_BRIDGE_DEVICE	0x7476	/* "tv" */
#define HOST_BRIDGE_CLASS	0x060000

#define CONFIG_ADDRESS_ENABLE	0x80000000u
#define CONFIG_ADDRESS_MASK	0x80fffffcu	/* enable, bus, device, function, register */

#define RESET_CONTROL_PORT	1		/* 0xCF9, inside CONFIG_ADDRESS */
#define RESET_SYS_RST		0x02
#define RESET_RST_CPU		0x04
#define RESET_FULL_RST		0x08

#define PCI_HEADER_TYPE		0x0e
#define PCI_HEADER_MULTI	0x80
#define PCI_INTERRUPT_LINE	0x3c
#define PCI_INTERRUPT_PIN	0x3d
#define PCI_INTX_LINES		4

#define PCI_FUNCTIONS		(MACHINE_PCI_BUSES * 256)
#define PCI_WINDOW_MAPS		(MACHINE_MAX_PCI * PCI_NUM_BARS)

struct window_map {
	uint64_t base, len;
	io_handler_t fn;
	void *opaque;
};

/* A host bridge window: the BARs decoded in it, unsorted (a few dozen). */
struct pci_window {
	const char *name;
	uint64_t base, size;
	pthread_rwlock_t lock;
	struct window_map maps[PCI_WINDOW_MAPS];
	unsigned int n;
	bool registered;
};

struct pci_host {
	struct vm *vm;
	pthread_mutex_t lock;		/* everything below */
	uint32_t config_address;
	uint8_t reset_control;
	struct pci_device *functions[PCI_FUNCTIONS];	/* indexed by bdf */
	unsigned int nfunctions;
	unsigned int intx_count[PCI_INTX_LINES];	/* functions asserting each line */
	uint64_t next_mmio, next_io;	/* BAR address allocators */
	bool pio_registered, ecam_registered;
	struct pci_window io_window, mem_window;
	struct pci_device bridge;
};

int (*pci_irq_line)(struct vm *vm, unsigned int gsi, bool level) = vm_irq_line;

struct pci_device *pci_find(struct vm *vm, uint16_t bdf)
{
	struct pci_host *host = vm->pci;
	struct pci_device *dev;

	if (!host || bdf >= PCI_FUNCTIONS)
		return NULL;
	pthread_mutex_lock(&host->lock);
	dev = host->functions[bdf];
	pthread_mutex_unlock(&host->lock);
	return dev;
}

static uint32_t all_ones(unsigned int len)
{
	return len >= 4 ? 0xffffffff : (1u << (8 * len)) - 1;
}

uint32_t pci_config_read(struct vm *vm, uint16_t bdf, unsigned int offset, unsigned int len)
{
	struct pci_device *dev = pci_find(vm, bdf);

	if (!dev || !len || len > 4 || offset >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - offset)
		return all_ones(len);
	return pci_device_config_read(dev, offset, len);
}

void pci_config_write(struct vm *vm, uint16_t bdf, unsigned int offset, unsigned int len,
		      uint32_t value)
{
	struct pci_device *dev = pci_find(vm, bdf);

	if (dev)
		pci_device_config_write(dev, offset, len, value);
}

static uint32_t get_le(const uint8_t *data, unsigned int len)
{
	uint32_t val = 0;
	unsigned int i;

	for (i = 0; i < len && i < 4; i++)
		val |= (uint32_t)data[i] << (8 * i);
	return val;
}

static void put_le(uint8_t *data, unsigned int len, uint32_t val)
{
	unsigned int i;

	for (i = 0; i < len && i < 4; i++)
		data[i] = (uint8_t)(val >> (8 * i));
}

/*
 * 0xCF8..0xCFF. A dword at 0xCF8 is CONFIG_ADDRESS; a byte at 0xCF9 is the
 * reset control register; other accesses to 0xCF8..0xCFB go nowhere (on
 * real chipsets they fall through to the ISA bus). 0xCFC..0xCFF is a
 * window on the dword CONFIG_ADDRESS selects.
 */
static void conf1_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		     bool is_write)
{
	struct pci_host *host = opaque;
	uint32_t address;

	if (offset < 4) {
		pthread_mutex_lock(&host->lock);
		if (offset == 0 && len == 4) {
			if (is_write)
				host->config_address = get_le(data, 4) & CONFIG_ADDRESS_MASK;
			else
				put_le(data, 4, host->config_address);
		} else if (offset == RESET_CONTROL_PORT && len == 1) {
			if (!is_write) {
				data[0] = host->reset_control;
			} else {
				host->reset_control = data[0] & (RESET_SYS_RST | RESET_FULL_RST);
				if (data[0] & RESET_RST_CPU)
					vm_request_stop(host->vm, VM_RESET,
							"the guest reset the machine (port 0xcf9)");
			}
		} else if (!is_write) {
			memset(data, 0xff, len);
		}
		pthread_mutex_unlock(&host->lock);
		return;
	}

	pthread_mutex_lock(&host->lock);
	address = host->config_address;
	pthread_mutex_unlock(&host->lock);
	if (!(address & CONFIG_ADDRESS_ENABLE) || offset + len > 8) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	{
		uint16_t bdf = (uint16_t)(address >> 8);
		unsigned int reg = (address & 0xfc) + (unsigned int)(offset - 4);

		if (is_write)
			pci_config_write(host->vm, bdf, reg, len, get_le(data, len));
		else
			put_le(data, len, pci_config_read(host->vm, bdf, reg, len));
	}
}

/*
 * ECAM: the offset is bus << 20 | device << 15 | function << 12 | register,
 * so bits 27:12 are the bdf. Accesses are split at dwords and functions
 * (a qword is two dwords; a misaligned one never spills into garbage).
 */
static void ecam_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		    bool is_write)
{
	struct pci_host *host = opaque;

	while (len) {
		uint16_t bdf = (uint16_t)(offset >> 12);
		unsigned int reg = offset & 0xfff;
		unsigned int chunk = len < 4 ? len : 4;

		if (chunk > PCI_CFG_SIZE - reg)
			chunk = PCI_CFG_SIZE - reg;
		if (is_write)
			pci_config_write(host->vm, bdf, reg, chunk, get_le(data, chunk));
		else
			put_le(data, chunk, pci_config_read(host->vm, bdf, reg, chunk));
		offset += chunk;
		data += chunk;
		len -= chunk;
	}
}

/*
 * An access in a window: the BAR's handler runs outside the window lock,
 * so it may itself move BARs (or notify). A BAR unmapped meanwhile may
 * see one last access; devices outlive their mappings, so that is safe.
 * Holes read as all ones (master abort).
 */
static void window_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
		      bool is_write)
{
	struct pci_window *w = opaque;
	uint64_t addr = w->base + offset;
	struct window_map m = { 0 };
	unsigned int i;

	pthread_rwlock_rdlock(&w->lock);
	for (i = 0; i < w->n; i++) {
		if (addr >= w->maps[i].base && addr - w->maps[i].base < w->maps[i].len &&
		    len <= w->maps[i].len - (addr - w->maps[i].base)) {
			m = w->maps[i];
			break;
		}
	}
	pthread_rwlock_unlock(&w->lock);
	if (m.fn)
		m.fn(m.opaque, addr - m.base, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
}

static struct pci_window *window_of(struct vm *vm, bool io)
{
	if (!vm->pci)
		return NULL;
	return io ? &vm->pci->io_window : &vm->pci->mem_window;
}

int pci_host_map_bar(struct vm *vm, bool io, uint64_t base, uint64_t size, io_handler_t fn,
		     void *opaque)
{
	struct pci_window *w = window_of(vm, io);
	int err = 0;
	unsigned int i;

	if (!w || !fn || !size) {
		errno = EINVAL;
		return -1;
	}
	if (base < w->base || base - w->base > w->size || size > w->size - (base - w->base)) {
		errno = ERANGE;
		return -1;
	}
	pthread_rwlock_wrlock(&w->lock);
	for (i = 0; i < w->n && !err; i++)
		if (base < w->maps[i].base + w->maps[i].len && w->maps[i].base < base + size)
			err = EEXIST;
	if (!err && w->n == PCI_WINDOW_MAPS)
		err = ENOSPC;
	if (!err)
		w->maps[w->n++] = (struct window_map){ base, size, fn, opaque };
	pthread_rwlock_unlock(&w->lock);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

int pci_host_unmap_bar(struct vm *vm, bool io, uint64_t base, void *opaque)
{
	struct pci_window *w = window_of(vm, io);
	unsigned int i;
	int ret = -1;

	if (!w)
		return -1;
	pthread_rwlock_wrlock(&w->lock);
	for (i = 0; i < w->n; i++) {
		if (w->maps[i].base == base && w->maps[i].opaque == opaque) {
			w->maps[i] = w->maps[--w->n];
			ret = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&w->lock);
	return ret;
}

static int window_init(struct vm *vm, struct pci_window *w, bool io, char *err, size_t errlen)
{
	struct bus *bus = io ? &vm->pio : &vm->mmio;

	w->name = io ? "pci-io-window" : "pci-mmio-window";
	w->base = io ? MACHINE_PCI_IO_BASE : MACHINE_PCI_MMIO_BASE;
	w->size = io ? MACHINE_PCI_IO_SIZE : MACHINE_PCI_MMIO_SIZE;
	pthread_rwlock_init(&w->lock, NULL);
	if (bus_register(bus, w->base, w->size, window_io, w, w->name)) {
		snprintf(err, errlen, "pci: cannot register the %s window at %#llx: %s",
			 io ? "I/O" : "MMIO", (unsigned long long)w->base, strerror(errno));
		return -1;
	}
	w->registered = true;
	return 0;
}

static void window_exit(struct vm *vm, struct pci_window *w, bool io)
{
	if (!w->name)
		return;
	if (w->registered)
		bus_unregister(io ? &vm->pio : &vm->mmio, w->base, w);
	pthread_rwlock_destroy(&w->lock);
}

void pci_host_set_intx(struct vm *vm, unsigned int gsi, bool level)
{
	struct pci_host *host = vm->pci;
	unsigned int line = gsi - MACHINE_PCI_INTX_GSI;
	bool change;

	if (!host || gsi < MACHINE_PCI_INTX_GSI || line >= PCI_INTX_LINES)
		return;
	pthread_mutex_lock(&host->lock);
	if (level)
		change = host->intx_count[line]++ == 0;
	else
		change = host->intx_count[line] && --host->intx_count[line] == 0;
	if (change)
		pci_irq_line(vm, gsi, level);
	pthread_mutex_unlock(&host->lock);
}

/* Give each BAR a naturally aligned address in its window, as firmware would. */
static void assign_bars(struct pci_host *host, struct pci_device *dev)
{
	unsigned int i;

	for (i = 0; i < PCI_NUM_BARS; i++) {
		const struct pci_bar *bar = &dev->bars[i];
		bool io = bar->kind == PCI_BAR_IO;
		uint64_t *next = io ? &host->next_io : &host->next_mmio;
		uint64_t end = io ? MACHINE_PCI_IO_BASE + MACHINE_PCI_IO_SIZE :
				    MACHINE_PCI_MMIO_BASE + MACHINE_PCI_MMIO_SIZE;
		uint64_t addr;
		unsigned int reg = 0x10 + 4 * i, b;

		if (bar->kind == PCI_BAR_NONE || !bar->size)
			continue;
		addr = (*next + bar->size - 1) & ~(bar->size - 1);
		if (addr < *next || addr + bar->size > end || addr + bar->size < addr)
			continue;	/* window full: the guest assigns it */
		*next = addr + bar->size;
		for (b = 0; b < (bar->kind == PCI_BAR_MEM64 ? 8u : 4u); b++) {
			uint8_t byte = (uint8_t)(addr >> (8 * b));

			dev->cfg[reg + b] = (uint8_t)((dev->cfg[reg + b] & ~dev->wmask[reg + b]) |
						      (byte & dev->wmask[reg + b]));
		}
	}
}

static int add_function(struct pci_host *host, struct pci_device *dev, uint16_t bdf,
			bool describe)
{
	struct machine *m = &host->vm->machine;
	unsigned int pin = dev->cfg[PCI_INTERRUPT_PIN];
	struct pci_device *fn0 = NULL;

	if (bdf >= PCI_FUNCTIONS)
		return -1;
	pthread_mutex_lock(&host->lock);
	if (host->functions[bdf] || (describe && m->npci >= MACHINE_MAX_PCI)) {
		pthread_mutex_unlock(&host->lock);
		return -1;
	}
	dev->vm = host->vm;
	dev->bdf = bdf;
	/* Swizzle as the firmware's _PRT says: INTA of slot s is GSI base + s % 4. */
	if (pin >= 1 && pin <= 4) {
		dev->intx_gsi = MACHINE_PCI_INTX_GSI + (int)(((bdf >> 3) + pin - 1) % PCI_INTX_LINES);
		dev->cfg[PCI_INTERRUPT_LINE] = (uint8_t)dev->intx_gsi;
	} else {
		dev->cfg[PCI_INTERRUPT_PIN] = 0;
		dev->intx_gsi = -1;
	}
	assign_bars(host, dev);
	host->functions[bdf] = dev;
	host->nfunctions++;
	if (describe)
		m->pci[m->npci++] = (struct machine_pci_dev){ .bdf = bdf };
	/* A device with functions beyond 0 says so in function 0's header type. */
	if (bdf & 7)
		fn0 = host->functions[bdf & ~7];
	else if (host->functions[bdf + 1] || host->functions[bdf + 2] || host->functions[bdf + 3] ||
		 host->functions[bdf + 4] || host->functions[bdf + 5] || host->functions[bdf + 6] ||
		 host->functions[bdf + 7])
		fn0 = dev;
	pthread_mutex_unlock(&host->lock);

	if (fn0) {
		pthread_mutex_lock(&fn0->lock);
		fn0->cfg[PCI_HEADER_TYPE] |= PCI_HEADER_MULTI;
		pthread_mutex_unlock(&fn0->lock);
	}
	return 0;
}

int pci_register(struct vm *vm, struct pci_device *dev, uint16_t bdf)
{
	if (!vm->pci)
		return -1;
	return add_function(vm->pci, dev, bdf, true);
}

int pci_host_bridge_init(struct vm *vm, char *err, size_t errlen)
{
	struct pci_host *host = calloc(1, sizeof(*host));

	if (!host) {
		snprintf(err, errlen, "pci: out of memory");
		return -1;
	}
	host->vm = vm;
	host->next_mmio = MACHINE_PCI_MMIO_BASE;
	host->next_io = MACHINE_PCI_IO_BASE;
	pthread_mutex_init(&host->lock, NULL);
	vm->pci = host;

	pci_device_init(&host->bridge, HOST_BRIDGE_VENDOR, HOST_BRIDGE_DEVICE, HOST_BRIDGE_CLASS, 0);
	host->bridge.cfg[PCI_INTERRUPT_PIN] = 0;
	if (add_function(host, &host->bridge, 0, false)) {
		snprintf(err, errlen, "pci: cannot register the host bridge at 00:00.0");
		goto fail;
	}
	if (bus_register(&vm->pio, MACHINE_PCI_CONF_PORT, 8, conf1_io, host, "pci-conf1")) {
		snprintf(err, errlen, "pci: cannot register ports %#x..%#x: %s",
			 MACHINE_PCI_CONF_PORT, MACHINE_PCI_CONF_PORT + 7, strerror(errno));
		goto fail;
	}
	host->pio_registered = true;
	if (bus_register(&vm->mmio, MACHINE_ECAM_BASE, MACHINE_ECAM_SIZE, ecam_io, host, "pci-ecam")) {
		snprintf(err, errlen, "pci: cannot register ECAM at %#llx: %s",
			 (unsigned long long)MACHINE_ECAM_BASE, strerror(errno));
		goto fail;
	}
	host->ecam_registered = true;
	if (window_init(vm, &host->io_window, true, err, errlen) ||
	    window_init(vm, &host->mem_window, false, err, errlen))
		goto fail;
	return 0;
fail:
	pci_host_bridge_exit(vm);
	return -1;
}
VM_INIT_EXIT(pci_host_bridge_init, pci_host_bridge_exit, VM_INIT_BUS);

/* The registered functions belong to their devices; only the bridge is ours. */
void pci_host_bridge_exit(struct vm *vm)
{
	struct pci_host *host = vm->pci;

	if (!host)
		return;
	if (host->pio_registered)
		bus_unregister(&vm->pio, MACHINE_PCI_CONF_PORT, host);
	if (host->ecam_registered)
		bus_unregister(&vm->mmio, MACHINE_ECAM_BASE, host);
	window_exit(vm, &host->io_window, true);
	window_exit(vm, &host->mem_window, false);
	pci_device_exit(&host->bridge);
	pthread_mutex_destroy(&host->lock);
	vm->pci = NULL;
	free(host);
}

int pci_free_slot(struct vm *vm, unsigned int first_slot)
{
	for (unsigned int slot = first_slot; slot < 32; slot++) {
		unsigned int fn = 0;

		while (fn < 8 && !pci_find(vm, (uint16_t)(slot << 3 | fn)))
			fn++;
		if (fn == 8)
			return (int)(slot << 3);
	}
	return -1;
}
