/* SPDX-License-Identifier: MIT */
/*
 * Shared by check_pci and check_pci_dev: a VM with just the buses and the
 * PCI host bridge, interrupts recorded through the framework's seams (no KVM
 * needed), a test device whose BARs record accesses, and the guest-side
 * configuration accessors (0xCF8/0xCFC and ECAM).
 */
#ifndef TAGVMM_TESTS_PCI_TESTUTIL_H
#define TAGVMM_TESTS_PCI_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/kvm.h"
#include "vmm/pci.h"

#define RAM_SIZE	(1ULL << 30)
#define BDF(d, f)	((uint16_t)((d) << 3 | (f)))
#define CONF_ADDR	0xcf8
#define CONF_DATA	0xcfc

static struct vm vm;

/* ---- recording seams ---- */

struct irq_event { unsigned int gsi; bool level; };
struct msi_event { uint64_t address; uint32_t data; };
static struct irq_event irqs[64];
static unsigned int nirqs;
static struct msi_event msis[64];
static unsigned int nmsis;

static inline int record_irq(struct vm *v, unsigned int gsi, bool level)
{
	ck_assert_ptr_eq(v, &vm);
	ck_assert_uint_lt(nirqs, 64);
	irqs[nirqs++] = (struct irq_event){ gsi, level };
	return 0;
}

static inline int record_msi(struct vm *v, uint64_t address, uint32_t data)
{
	ck_assert_ptr_eq(v, &vm);
	ck_assert_uint_lt(nmsis, 64);
	msis[nmsis++] = (struct msi_event){ address, data };
	return 0;
}

/* ---- a test device whose BARs record accesses ---- */

struct test_dev {
	struct pci_device pci;
	uint64_t last_offset;
	unsigned int last_len, accesses;
	bool last_write;
	uint32_t last_value;
};

static struct test_dev *devs[8];
static unsigned int ndevs;

static inline void bar_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
			  bool is_write)
{
	struct test_dev *t = opaque;
	unsigned int i;

	t->last_offset = offset;
	t->last_len = len;
	t->last_write = is_write;
	t->accesses++;
	t->last_value = 0;
	for (i = 0; i < len; i++) {
		if (is_write && i < 4)
			t->last_value |= (uint32_t)data[i] << (8 * i);
		else if (!is_write)
			data[i] = (uint8_t)(0xa0 + i);
	}
}

static inline struct test_dev *new_dev(void)
{
	struct test_dev *t = calloc(1, sizeof(*t));

	ck_assert_ptr_nonnull(t);
	pci_device_init(&t->pci, 0x1234, 0x5678, 0x018000, 3);
	devs[ndevs++] = t;
	return t;
}

static inline void setup(void)
{
	char err[256];

	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = -1;
	vm.console_in = vm.console_out = -1;
	vm.nmem = 1;
	vm.mem[0] = (struct mem_region){ .gpa = 0, .size = RAM_SIZE };
	ck_assert_int_eq(bus_init(&vm.pio, "pio"), 0);
	ck_assert_int_eq(bus_init(&vm.mmio, "mmio"), 0);
	ck_assert_int_eq(pci_host_bridge_init(&vm, err, sizeof(err)), 0);
	pci_irq_line = record_irq;
	pci_signal_msi = record_msi;
	nirqs = nmsis = ndevs = 0;
}

static inline void teardown(void)
{
	while (ndevs) {
		struct test_dev *t = devs[--ndevs];

		pci_device_exit(&t->pci);
		free(t);
	}
	pci_host_bridge_exit(&vm);
	ck_assert_ptr_null(vm.pci);
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
}

/* ---- guest-side accessors ---- */

static inline uint64_t bus_read(struct bus *b, uint64_t addr, unsigned int len)
{
	uint8_t data[8];
	uint64_t val = 0;
	unsigned int i;

	memset(data, 0x5a, sizeof(data));
	ck_assert_msg(bus_dispatch(b, addr, data, len, false), "nothing at %#llx",
		      (unsigned long long)addr);
	for (i = 0; i < len; i++)
		val |= (uint64_t)data[i] << (8 * i);
	return val;
}

static inline void bus_write(struct bus *b, uint64_t addr, unsigned int len, uint64_t val)
{
	uint8_t data[8];
	unsigned int i;

	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(val >> (8 * i));
	ck_assert_msg(bus_dispatch(b, addr, data, len, true), "nothing at %#llx",
		      (unsigned long long)addr);
}

/* An access outside the PCI windows: does anyone take it? */
static inline bool mapped(struct bus *b, uint64_t addr)
{
	uint8_t data[4];

	return bus_dispatch(b, addr, data, 4, false);
}

/* Does an access at @addr reach @t's BAR handler? */
static inline bool decoded(struct test_dev *t, struct bus *b, uint64_t addr)
{
	unsigned int before = t->accesses;
	uint8_t data[4];

	bus_dispatch(b, addr, data, 4, false);
	return t->accesses != before;
}

static inline void conf1_select(uint16_t bdf, unsigned int reg)
{
	bus_write(&vm.pio, CONF_ADDR, 4, 0x80000000u | (uint32_t)bdf << 8 | (reg & 0xfc));
}

static inline uint32_t conf1_read(uint16_t bdf, unsigned int reg, unsigned int len)
{
	conf1_select(bdf, reg);
	return (uint32_t)bus_read(&vm.pio, CONF_DATA + (reg & 3), len);
}

static inline void conf1_write(uint16_t bdf, unsigned int reg, unsigned int len, uint32_t val)
{
	conf1_select(bdf, reg);
	bus_write(&vm.pio, CONF_DATA + (reg & 3), len, val);
}

static inline uint64_t ecam(uint16_t bdf, unsigned int reg)
{
	return MACHINE_ECAM_BASE + ((uint64_t)bdf << 12) + reg;
}

static inline uint32_t cfg_read(uint16_t bdf, unsigned int reg, unsigned int len)
{
	return (uint32_t)bus_read(&vm.mmio, ecam(bdf, reg), len);
}

static inline void cfg_write(uint16_t bdf, unsigned int reg, unsigned int len, uint32_t val)
{
	bus_write(&vm.mmio, ecam(bdf, reg), len, val);
}

#endif
