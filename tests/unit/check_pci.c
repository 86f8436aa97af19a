// SPDX-License-Identifier: MIT
/*
 * The PCI host bridge and device framework, driven the way a guest drives
 * them: through 0xCF8/0xCFC and ECAM on the VM's buses, with interrupts
 * recorded through the framework's seams (no KVM needed).
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
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

static int record_irq(struct vm *v, unsigned int gsi, bool level)
{
	ck_assert_ptr_eq(v, &vm);
	ck_assert_uint_lt(nirqs, 64);
	irqs[nirqs++] = (struct irq_event){ gsi, level };
	return 0;
}

static int record_msi(struct vm *v, uint64_t address, uint32_t data)
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

static void bar_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
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

static struct test_dev *new_dev(void)
{
	struct test_dev *t = calloc(1, sizeof(*t));

	ck_assert_ptr_nonnull(t);
	pci_device_init(&t->pci, 0x1234, 0x5678, 0x018000, 3);
	devs[ndevs++] = t;
	return t;
}

static void setup(void)
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

static void teardown(void)
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

static uint64_t bus_read(struct bus *b, uint64_t addr, unsigned int len)
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

static void bus_write(struct bus *b, uint64_t addr, unsigned int len, uint64_t val)
{
	uint8_t data[8];
	unsigned int i;

	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(val >> (8 * i));
	ck_assert_msg(bus_dispatch(b, addr, data, len, true), "nothing at %#llx",
		      (unsigned long long)addr);
}

/* An access outside the PCI windows: does anyone take it? */
static bool mapped(struct bus *b, uint64_t addr)
{
	uint8_t data[4];

	return bus_dispatch(b, addr, data, 4, false);
}

/* Does an access at @addr reach @t's BAR handler? */
static bool decoded(struct test_dev *t, struct bus *b, uint64_t addr)
{
	unsigned int before = t->accesses;
	uint8_t data[4];

	bus_dispatch(b, addr, data, 4, false);
	return t->accesses != before;
}

static void conf1_select(uint16_t bdf, unsigned int reg)
{
	bus_write(&vm.pio, CONF_ADDR, 4, 0x80000000u | (uint32_t)bdf << 8 | (reg & 0xfc));
}

static uint32_t conf1_read(uint16_t bdf, unsigned int reg, unsigned int len)
{
	conf1_select(bdf, reg);
	return (uint32_t)bus_read(&vm.pio, CONF_DATA + (reg & 3), len);
}

static void conf1_write(uint16_t bdf, unsigned int reg, unsigned int len, uint32_t val)
{
	conf1_select(bdf, reg);
	bus_write(&vm.pio, CONF_DATA + (reg & 3), len, val);
}

static uint64_t ecam(uint16_t bdf, unsigned int reg)
{
	return MACHINE_ECAM_BASE + ((uint64_t)bdf << 12) + reg;
}

static uint32_t cfg_read(uint16_t bdf, unsigned int reg, unsigned int len)
{
	return (uint32_t)bus_read(&vm.mmio, ecam(bdf, reg), len);
}

static void cfg_write(uint16_t bdf, unsigned int reg, unsigned int len, uint32_t val)
{
	bus_write(&vm.mmio, ecam(bdf, reg), len, val);
}

/* ---- configuration mechanisms ---- */

START_TEST(test_conf1_widths)
{
	/* The bridge: vendor 0x0000, device 0x7476, class 06:00:00. */
	ck_assert_uint_eq(conf1_read(0, 0x00, 4), 0x74760000);
	ck_assert_uint_eq(conf1_read(0, 0x02, 2), 0x7476);
	ck_assert_uint_eq(conf1_read(0, 0x03, 1), 0x74);
	ck_assert_uint_eq(conf1_read(0, 0x01, 2), 0x7600);	/* unaligned word inside the dword */
	ck_assert_uint_eq(conf1_read(0, 0x08, 4) >> 8, 0x060000);

	/* CONFIG_ADDRESS keeps enable, bus, device, function and register only. */
	bus_write(&vm.pio, CONF_ADDR, 4, 0xffffffff);
	ck_assert_uint_eq(bus_read(&vm.pio, CONF_ADDR, 4), 0x80fffffc);

	/* Byte and word writes land at their offset within the dword. */
	conf1_write(0, 0x0c, 1, 0x10);			/* cache line size */
	ck_assert_uint_eq(conf1_read(0, 0x0c, 1), 0x10);
	conf1_write(0, 0x0d, 1, 0x40);			/* latency timer: read-only 0 */
	ck_assert_uint_eq(conf1_read(0, 0x0c, 4) & 0xffff, 0x0010);
	conf1_write(0, 0x04, 2, 0x0006);
	ck_assert_uint_eq(conf1_read(0, 0x04, 2), 0x0006);
	ck_assert_uint_eq(pci_config_read(&vm, 0, 0x04, 2), 0x0006);
}
END_TEST

START_TEST(test_conf1_disabled_and_absent)
{
	struct test_dev *t = new_dev();

	ck_assert_int_eq(pci_register(&vm, &t->pci, BDF(2, 0)), 0);
	/* Bit 31 clear: no configuration cycle. */
	bus_write(&vm.pio, CONF_ADDR, 4, (uint32_t)BDF(2, 0) << 8 | 0x0c);
	ck_assert_uint_eq(bus_read(&vm.pio, CONF_DATA, 4), 0xffffffff);
	bus_write(&vm.pio, CONF_DATA, 1, 0x20);
	ck_assert_uint_eq(pci_config_read(&vm, BDF(2, 0), 0x0c, 1), 0);

	/* Absent functions and buses read all ones; writes vanish. */
	ck_assert_uint_eq(conf1_read(BDF(5, 0), 0, 4), 0xffffffff);
	ck_assert_uint_eq(conf1_read(BDF(2, 1), 0, 2), 0xffff);
	ck_assert_uint_eq(conf1_read(0x100 | BDF(2, 0), 0, 4), 0xffffffff);
	conf1_write(BDF(5, 0), 0x04, 2, 0x7);
	ck_assert_uint_eq(pci_config_read(&vm, BDF(5, 0), 0, 4), 0xffffffff);

	/* Odd accesses to CONFIG_ADDRESS's port range are ignored. */
	conf1_select(BDF(2, 0), 0);
	bus_write(&vm.pio, CONF_ADDR + 2, 2, 0);
	ck_assert_uint_eq(bus_read(&vm.pio, CONF_ADDR + 2, 1), 0xff);
	ck_assert_uint_eq(conf1_read(BDF(2, 0), 0, 4), 0x56781234);
}
END_TEST

START_TEST(test_reset_port)
{
	ck_assert_int_eq(atomic_load(&vm.stop_reason), VM_RUNNING);
	bus_write(&vm.pio, 0xcf9, 1, 0x02);		/* SYS_RST alone resets nothing */
	ck_assert_int_eq(atomic_load(&vm.stop_reason), VM_RUNNING);
	ck_assert_uint_eq(bus_read(&vm.pio, 0xcf9, 1), 0x02);
	bus_write(&vm.pio, 0xcf9, 1, 0x06);
	ck_assert_int_eq(atomic_load(&vm.stop_reason), VM_RESET);
}
END_TEST

START_TEST(test_ecam)
{
	struct test_dev *t = new_dev();

	ck_assert(pci_add_pcie_cap(&t->pci, PCI_EXP_TYPE_RC_END));
	ck_assert_uint_eq(pci_add_pasid_cap(&t->pci, 20), 0x100);
	ck_assert_int_eq(pci_register(&vm, &t->pci, BDF(3, 0)), 0);

	ck_assert_uint_eq(cfg_read(BDF(3, 0), 0, 1), 0x34);
	ck_assert_uint_eq(cfg_read(BDF(3, 0), 1, 1), 0x12);
	ck_assert_uint_eq(cfg_read(BDF(3, 0), 2, 2), 0x5678);
	ck_assert_uint_eq(cfg_read(BDF(3, 0), 0, 4), 0x56781234);
	ck_assert_uint_eq(bus_read(&vm.mmio, ecam(BDF(3, 0), 0), 8),
			  0x56781234ULL | (uint64_t)pci_config_read(&vm, BDF(3, 0), 4, 4) << 32);
	/* Extended space: the PASID header, reachable only through ECAM. */
	ck_assert_uint_eq(cfg_read(BDF(3, 0), 0x100, 4) & 0xffff, PCI_EXT_CAP_ID_PASID);
	ck_assert_uint_eq(cfg_read(BDF(3, 0), 0x104, 2), 20 << 8);
	ck_assert_uint_eq(cfg_read(BDF(3, 0), 0xffc, 4), 0);
	/* Absent functions, including their extended space. */
	ck_assert_uint_eq(cfg_read(BDF(3, 1), 0, 4), 0xffffffff);
	ck_assert_uint_eq(cfg_read(BDF(31, 7), 0x100, 4), 0xffffffff);
	ck_assert_uint_eq(bus_read(&vm.mmio, ecam(BDF(9, 0), 0), 8), ~0ULL);
	/* A misaligned qword across two functions: each half goes to its own. */
	ck_assert_uint_eq(bus_read(&vm.mmio, ecam(BDF(2, 7), 0xffc), 8), 0x56781234ffffffffULL);
	/* Writes through ECAM. */
	cfg_write(BDF(3, 0), 0x3c, 1, 0x0b);
	ck_assert_uint_eq(conf1_read(BDF(3, 0), 0x3c, 1), 0x0b);
}
END_TEST

/* ---- BARs ---- */

static struct test_dev *bar_dev(uint16_t bdf)
{
	struct test_dev *t = new_dev();

	ck_assert_int_eq(pci_device_set_bar(&t->pci, 0, PCI_BAR_IO, 0x20, bar_io, t), 0);
	ck_assert_int_eq(pci_device_set_bar(&t->pci, 1, PCI_BAR_MEM32, 0x1000, bar_io, t), 0);
	ck_assert_int_eq(pci_device_set_bar(&t->pci, 2, PCI_BAR_MEM64, 0x100000, bar_io, t), 0);
	ck_assert_int_eq(pci_register(&vm, &t->pci, bdf), 0);
	return t;
}

START_TEST(test_bar_describe_errors)
{
	struct test_dev *t = new_dev();

	ck_assert_int_eq(pci_device_set_bar(&t->pci, 6, PCI_BAR_MEM32, 0x1000, bar_io, t), -1);
	ck_assert_int_eq(pci_device_set_bar(&t->pci, 0, PCI_BAR_MEM32, 0x1800, bar_io, t), -1);
	ck_assert_int_eq(pci_device_set_bar(&t->pci, 5, PCI_BAR_MEM64, 0x1000, bar_io, t), -1);
	ck_assert_int_eq(pci_device_set_bar(&t->pci, 4, PCI_BAR_MEM64, 0x1000, bar_io, t), 0);
	ck_assert_int_eq(pci_device_set_bar(&t->pci, 5, PCI_BAR_MEM32, 0x1000, bar_io, t), -1);
	ck_assert_int_eq(pci_device_set_bar(&t->pci, 4, PCI_BAR_IO, 0x10, bar_io, t), -1);
	ck_assert_int_eq(pci_device_set_bar(&t->pci, 0, PCI_BAR_IO, 2, bar_io, t), -1);
}
END_TEST

START_TEST(test_bar_sizing)
{
	uint16_t bdf = BDF(4, 0);
	unsigned int i;

	bar_dev(bdf);
	for (i = 0; i < 6; i++)
		conf1_write(bdf, 0x10 + 4 * i, 4, 0xffffffff);
	ck_assert_uint_eq(conf1_read(bdf, 0x10, 4), 0x0000ffe1);	/* I/O, 32 bytes */
	ck_assert_uint_eq(conf1_read(bdf, 0x14, 4), 0xfffff000);	/* MEM32, 4 KiB */
	ck_assert_uint_eq(conf1_read(bdf, 0x18, 4), 0xfff00004);	/* MEM64 low, 1 MiB */
	ck_assert_uint_eq(conf1_read(bdf, 0x1c, 4), 0xffffffff);	/* MEM64 high */
	ck_assert_uint_eq(conf1_read(bdf, 0x20, 4), 0);			/* unused */
	ck_assert_uint_eq(conf1_read(bdf, 0x24, 4), 0);
	conf1_write(bdf, 0x30, 4, 0xffffffff);				/* no ROM */
	ck_assert_uint_eq(conf1_read(bdf, 0x30, 4), 0);
	/* Byte-wide sizing writes work too (the type bits survive). */
	conf1_write(bdf, 0x14, 1, 0xff);
	ck_assert_uint_eq(conf1_read(bdf, 0x14, 1), 0x00);
	conf1_write(bdf, 0x10, 1, 0x00);
	ck_assert_uint_eq(conf1_read(bdf, 0x10, 1), 0x01);
}
END_TEST

START_TEST(test_bar_preassigned)
{
	uint16_t bdf = BDF(4, 0);
	struct test_dev *t = bar_dev(bdf);
	uint32_t io = conf1_read(bdf, 0x10, 4) & ~3u, mem = conf1_read(bdf, 0x14, 4);
	uint32_t mem64 = conf1_read(bdf, 0x18, 4) & ~0xfu;

	ck_assert_uint_ge(io, MACHINE_PCI_IO_BASE);
	ck_assert_uint_eq(io % 0x20, 0);
	ck_assert_uint_ge(mem, MACHINE_PCI_MMIO_BASE);
	ck_assert_uint_eq(mem % 0x1000, 0);
	ck_assert_uint_eq(mem64 % 0x100000, 0);
	ck_assert_uint_eq(conf1_read(bdf, 0x1c, 4), 0);
	/* Decoding is off until the guest turns it on. */
	ck_assert(!decoded(t, &vm.pio, io));
	ck_assert(!decoded(t, &vm.mmio, mem));
	conf1_write(bdf, 0x04, 2, 0x0003);
	ck_assert(decoded(t, &vm.pio, io));
	ck_assert(decoded(t, &vm.mmio, mem));
	ck_assert(decoded(t, &vm.mmio, mem64));
	ck_assert_uint_eq(t->pci.bars[1].mapped_at, mem);
}
END_TEST

START_TEST(test_bar_map_unmap)
{
	uint16_t bdf = BDF(4, 0);
	struct test_dev *t = bar_dev(bdf);

	conf1_write(bdf, 0x10, 4, 0xd000);
	conf1_write(bdf, 0x14, 4, 0xc0100000);
	conf1_write(bdf, 0x18, 4, 0xc1000000);
	conf1_write(bdf, 0x1c, 4, 0);

	/* Memory decode only: the I/O BAR stays off. */
	conf1_write(bdf, 0x04, 2, 0x0002);
	ck_assert(!decoded(t, &vm.pio, 0xd000));
	ck_assert_uint_eq(bus_read(&vm.mmio, 0xc0100010, 4), 0xa3a2a1a0);
	ck_assert_uint_eq(t->last_offset, 0x10);
	bus_write(&vm.mmio, 0xc0100ffc, 2, 0xbeef);
	ck_assert_uint_eq(t->last_offset, 0xffc);
	ck_assert(t->last_write);
	ck_assert_uint_eq(t->last_value, 0xbeef);
	ck_assert_uint_eq(bus_read(&vm.mmio, 0xc1000008ULL, 8), 0xa7a6a5a4a3a2a1a0ULL);
	ck_assert_uint_eq(t->last_offset, 8);
	ck_assert_uint_eq(t->last_len, 8);
	/* Holes in the window, and accesses straddling a BAR's end, read all ones. */
	t->accesses = 0;
	ck_assert_uint_eq(bus_read(&vm.mmio, 0xc0200000, 4), 0xffffffff);
	ck_assert_uint_eq(bus_read(&vm.mmio, 0xc0100ffe, 4), 0xffffffff);
	bus_write(&vm.mmio, 0xc0100ffe, 4, 0);
	ck_assert_uint_eq(t->accesses, 0);

	/* I/O decode too. */
	conf1_write(bdf, 0x04, 2, 0x0003);
	ck_assert_uint_eq(bus_read(&vm.pio, 0xd004, 2), 0xa1a0);
	ck_assert_uint_eq(t->last_offset, 4);

	/* Moving an enabled BAR unmaps the old place. */
	conf1_write(bdf, 0x14, 4, 0xc0200000);
	ck_assert(!decoded(t, &vm.mmio, 0xc0100000));
	ck_assert(decoded(t, &vm.mmio, 0xc0200000));
	ck_assert_uint_eq(t->pci.bars[1].mapped_at, 0xc0200000);

	/* Decode off: everything goes away. */
	conf1_write(bdf, 0x04, 2, 0x0000);
	t->accesses = 0;
	bus_read(&vm.mmio, 0xc0200000, 4);
	bus_read(&vm.mmio, 0xc1000000, 4);
	bus_read(&vm.pio, 0xd000, 4);
	ck_assert_uint_eq(t->accesses, 0);
	ck_assert_uint_eq(t->pci.bars[1].mapped_at, 0);
	ck_assert_uint_eq(t->pci.bars[2].mapped_at, 0);
	ck_assert_uint_eq(t->pci.bars[0].mapped_at, 0);

	/* Programmed through ECAM (the MMIO bus) and outside the window above 4 GiB. */
	cfg_write(bdf, 0x04, 2, 0x0002);
	ck_assert_uint_eq(t->pci.bars[1].mapped_at, 0xc0200000);
	cfg_write(bdf, 0x1c, 4, 0x1);
	ck_assert_uint_eq(t->pci.bars[2].mapped_at, 0);
	ck_assert(!mapped(&vm.mmio, 0x1c1000000ULL));
	cfg_write(bdf, 0x1c, 4, 0);
	ck_assert_uint_eq(t->pci.bars[2].mapped_at, 0xc1000000);
}
END_TEST

START_TEST(test_bar_overlap_refused)
{
	struct test_dev *a = bar_dev(BDF(4, 0)), *b = bar_dev(BDF(5, 0));
	static uint8_t other;

	conf1_write(BDF(4, 0), 0x14, 4, 0xc0300000);
	conf1_write(BDF(4, 0), 0x04, 2, 0x0002);
	ck_assert(decoded(a, &vm.mmio, 0xc0300000));

	/* Over another device's BAR: refused, the first one still works. */
	conf1_write(BDF(5, 0), 0x14, 4, 0xc0300000);
	conf1_write(BDF(5, 0), 0x04, 2, 0x0002);
	ck_assert_uint_eq(b->pci.bars[1].mapped_at, 0);
	a->accesses = 0;
	bus_read(&vm.mmio, 0xc0300000, 4);
	ck_assert_uint_eq(a->accesses, 1);
	ck_assert_uint_eq(b->accesses, 0);

	/* Over RAM, ECAM, the IOAPIC and the LAPIC: refused. */
	conf1_write(BDF(5, 0), 0x14, 4, 0x10000000);
	ck_assert_uint_eq(b->pci.bars[1].mapped_at, 0);
	conf1_write(BDF(5, 0), 0x14, 4, MACHINE_ECAM_BASE);
	ck_assert_uint_eq(b->pci.bars[1].mapped_at, 0);
	ck_assert_uint_eq(cfg_read(0, 0, 4), 0x74760000);	/* ECAM intact */
	conf1_write(BDF(5, 0), 0x14, 4, MACHINE_IOAPIC_BASE);
	ck_assert_uint_eq(b->pci.bars[1].mapped_at, 0);
	conf1_write(BDF(5, 0), 0x14, 4, MACHINE_LAPIC_BASE);
	ck_assert_uint_eq(b->pci.bars[1].mapped_at, 0);
	/* A 64-bit BAR reaching into RAM from below 4 GiB... */
	conf1_write(BDF(5, 0), 0x18, 4, 0x00100000);
	conf1_write(BDF(5, 0), 0x1c, 4, 0);
	ck_assert_uint_eq(b->pci.bars[2].mapped_at, 0);

	/* I/O BAR over the PCI ports and past 64 KiB: refused. */
	conf1_write(BDF(5, 0), 0x10, 4, 0xcf0);
	conf1_write(BDF(5, 0), 0x04, 2, 0x0003);
	ck_assert_uint_eq(b->pci.bars[0].mapped_at, 0);
	ck_assert_uint_eq(conf1_read(0, 0, 4), 0x74760000);	/* 0xCF8 intact */
	ck_assert_int_eq(bus_register(&vm.pio, 0x3f8, 8, bar_io, &other, "serial"), 0);
	conf1_write(BDF(5, 0), 0x10, 4, 0x3e0);
	ck_assert_uint_eq(b->pci.bars[0].mapped_at, 0);

	/* Moved somewhere free, it maps. */
	conf1_write(BDF(5, 0), 0x10, 4, 0xe000);
	ck_assert_uint_eq(b->pci.bars[0].mapped_at, 0xe000);
	conf1_write(BDF(5, 0), 0x14, 4, 0xc0400000);
	ck_assert_uint_eq(b->pci.bars[1].mapped_at, 0xc0400000);
	ck_assert_int_eq(bus_unregister(&vm.pio, 0x3f8, &other), 0);
}
END_TEST

/* ---- read-only and W1C bits ---- */

START_TEST(test_readonly_and_w1c)
{
	struct test_dev *t = new_dev();
	uint16_t bdf = BDF(6, 0);

	ck_assert(pci_add_msi_cap(&t->pci, 1, false));
	ck_assert_int_eq(pci_register(&vm, &t->pci, bdf), 0);

	cfg_write(bdf, 0x00, 4, 0xdeadbeef);
	ck_assert_uint_eq(cfg_read(bdf, 0x00, 4), 0x56781234);
	cfg_write(bdf, 0x08, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(bdf, 0x08, 4), 0x01800003);
	cfg_write(bdf, 0x0e, 1, 0xff);
	ck_assert_uint_eq(cfg_read(bdf, 0x0e, 1), 0);
	cfg_write(bdf, 0x2c, 4, 0);
	ck_assert_uint_eq(cfg_read(bdf, 0x2c, 4), 0x56781234);
	cfg_write(bdf, 0x34, 1, 0x80);
	ck_assert_uint_eq(cfg_read(bdf, 0x34, 1), 0x40);

	/* Command: only the implemented bits. */
	cfg_write(bdf, 0x04, 2, 0xffff);
	ck_assert_uint_eq(cfg_read(bdf, 0x04, 2), 0x0547);
	cfg_write(bdf, 0x04, 2, 0);

	/* Status: capability list is read-only, error bits are W1C. */
	t->pci.cfg[0x07] |= 0xf9;	/* as if the device had reported every error */
	cfg_write(bdf, 0x06, 2, 0x0010);
	ck_assert_uint_eq(cfg_read(bdf, 0x06, 2), 0xf910);
	cfg_write(bdf, 0x06, 2, 0x8100);
	ck_assert_uint_eq(cfg_read(bdf, 0x06, 2), 0x7810);
	cfg_write(bdf, 0x04, 4, 0xffff0000);	/* dword write: command 0, status cleared */
	ck_assert_uint_eq(cfg_read(bdf, 0x04, 4), 0x00100000);

	/* Interrupt line is the guest's scratch; the pin is not. */
	cfg_write(bdf, 0x3c, 2, 0x0309);
	ck_assert_uint_eq(cfg_read(bdf, 0x3c, 2), 0x0109);

	/* Hostile sizes and offsets through the accessors never escape 4 KiB. */
	ck_assert_uint_eq(pci_config_read(&vm, bdf, 0xffe, 4), 0xffffffff);
	ck_assert_uint_eq(pci_config_read(&vm, bdf, 0x1000, 1), 0xff);
	ck_assert_uint_eq(pci_config_read(&vm, bdf, 1, 3), 0x567812);
	pci_config_write(&vm, bdf, 0xffe, 4, 0xffffffff);
	pci_config_write(&vm, bdf, 0x2000, 4, 0xffffffff);
	pci_config_write(&vm, bdf, 0, 0, 0);
	pci_config_write(&vm, bdf, 0, 9, 0);
	ck_assert_uint_eq(cfg_read(bdf, 0x00, 4), 0x56781234);
}
END_TEST

/* ---- capabilities ---- */

START_TEST(test_capability_walk)
{
	struct test_dev *t = new_dev();
	uint16_t bdf = BDF(7, 0), ext;
	uint8_t ids[8], msi, msix, exp;
	unsigned int n = 0, ptr, guard = 0;
	uint32_t hdr;

	msi = pci_add_msi_cap(&t->pci, 4, true);
	msix = pci_add_msix_cap(&t->pci, 8, 2);
	exp = pci_add_pcie_cap(&t->pci, PCI_EXP_TYPE_ENDPOINT);
	ck_assert(msi && msix && exp);
	ck_assert_uint_eq(pci_add_pasid_cap(&t->pci, 16), 0x100);
	ext = pci_add_ats_cap(&t->pci, 32);
	ck_assert_uint_gt(ext, 0x100);
	ck_assert_int_eq(pci_register(&vm, &t->pci, bdf), 0);

	ck_assert(cfg_read(bdf, 0x06, 2) & 0x10);
	for (ptr = cfg_read(bdf, 0x34, 1); ptr; ptr = cfg_read(bdf, ptr + 1, 1)) {
		ck_assert_uint_ge(ptr, 0x40);
		ck_assert_uint_eq(ptr & 3, 0);
		ck_assert_uint_lt(++guard, 48);
		ids[n++] = (uint8_t)cfg_read(bdf, ptr, 1);
	}
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(ids[0], PCI_CAP_ID_MSI);
	ck_assert_uint_eq(ids[1], PCI_CAP_ID_MSIX);
	ck_assert_uint_eq(ids[2], PCI_CAP_ID_EXP);

	/* MSI: 64-bit, per-vector masking, 4 vectors. */
	ck_assert_uint_eq(cfg_read(bdf, msi + 2, 2), 0x0184);
	/* MSI-X: 8 entries in BAR 2, PBA on the next page. */
	ck_assert_uint_eq(cfg_read(bdf, msix + 2, 2), 7);
	ck_assert_uint_eq(cfg_read(bdf, msix + 4, 4), 0x0002);
	ck_assert_uint_eq(cfg_read(bdf, msix + 8, 4), 0x1002);
	/* PCIe: version 2, endpoint; DevCtl writable where it should be. */
	ck_assert_uint_eq(cfg_read(bdf, exp + 2, 2), 0x0002);
	cfg_write(bdf, exp + 8, 2, 0xffff);
	ck_assert_uint_eq(cfg_read(bdf, exp + 8, 2), 0x78ff);
	cfg_write(bdf, exp + 4, 4, 0);
	ck_assert_uint_eq(cfg_read(bdf, exp + 4, 4), 1u << 15);
	/* Capability headers are read-only. */
	cfg_write(bdf, msi, 2, 0xffff);
	ck_assert_uint_eq(cfg_read(bdf, msi, 2), (unsigned int)msix << 8 | PCI_CAP_ID_MSI);

	/* The extended chain: PASID then ATS. */
	hdr = cfg_read(bdf, 0x100, 4);
	ck_assert_uint_eq(hdr & 0xffff, PCI_EXT_CAP_ID_PASID);
	ck_assert_uint_eq((hdr >> 16) & 0xf, 1);
	ck_assert_uint_eq(hdr >> 20, ext);
	hdr = cfg_read(bdf, ext, 4);
	ck_assert_uint_eq(hdr & 0xffff, PCI_EXT_CAP_ID_ATS);
	ck_assert_uint_eq(hdr >> 20, 0);
	cfg_write(bdf, 0x100, 4, 0);
	ck_assert_uint_eq(cfg_read(bdf, 0x100, 4) >> 20, ext);

	/* PASID: 16-bit width, only Enable writable. */
	ck_assert_uint_eq(cfg_read(bdf, 0x104, 2), 16 << 8);
	cfg_write(bdf, 0x104, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(bdf, 0x104, 4), 0x00011000);
	/* ATS: queue depth 32 encodes as 0; Enable and STU writable. */
	ck_assert_uint_eq(cfg_read(bdf, ext + 4, 2) & 0x1f, 0);
	cfg_write(bdf, ext + 6, 2, 0xffff);
	ck_assert_uint_eq(cfg_read(bdf, ext + 6, 2), 0x801f);
	cfg_write(bdf, ext + 6, 2, 0x0005);
	ck_assert_uint_eq(cfg_read(bdf, ext + 6, 2), 0x0005);
}
END_TEST

START_TEST(test_capability_space_runs_out)
{
	struct test_dev *t = new_dev();
	unsigned int n = 0;

	while (pci_add_cap(&t->pci, 0x09, 16))
		n++;
	ck_assert_uint_eq(n, (0x100 - 0x40) / 16);
	ck_assert_uint_eq(pci_add_msi_cap(&t->pci, 1, false), 0);
	ck_assert_uint_eq(pci_add_ext_cap(&t->pci, 0x0b, 1, 0x1000), 0);

	/* Out-of-range parameters are refused. */
	t = new_dev();
	ck_assert_uint_eq(pci_add_msi_cap(&t->pci, 64, false), 0);
	ck_assert_uint_eq(pci_add_msi_cap(&t->pci, 0, false), 0);
	ck_assert_uint_eq(pci_add_msix_cap(&t->pci, 0, 0), 0);
	ck_assert_uint_eq(pci_add_msix_cap(&t->pci, 4096, 0), 0);
	ck_assert_uint_eq(pci_add_msix_cap(&t->pci, 4, 6), 0);
	ck_assert_uint_eq(pci_add_pasid_cap(&t->pci, 21), 0);
	ck_assert_uint_eq(pci_add_ats_cap(&t->pci, 33), 0);
	/* Only one MSI and one MSI-X capability. */
	ck_assert(pci_add_msi_cap(&t->pci, 1, false));
	ck_assert_uint_eq(pci_add_msi_cap(&t->pci, 1, false), 0);
	ck_assert(pci_add_msix_cap(&t->pci, 1, 0));
	ck_assert_uint_eq(pci_add_msix_cap(&t->pci, 1, 1), 0);
}
END_TEST

/* ---- MSI ---- */

START_TEST(test_msi_delivery)
{
	struct test_dev *t = new_dev();
	uint16_t bdf = BDF(8, 0);
	uint8_t msi = pci_add_msi_cap(&t->pci, 4, true);

	ck_assert_int_eq(pci_register(&vm, &t->pci, bdf), 0);
	cfg_write(bdf, msi + 4, 4, 0xfee01003);		/* low bits are reserved */
	ck_assert_uint_eq(cfg_read(bdf, msi + 4, 4), 0xfee01000);
	cfg_write(bdf, msi + 8, 4, 0x1);
	cfg_write(bdf, msi + 12, 2, 0x4040);

	/* Not enabled: INTx instead (no MSI). */
	pci_device_notify(&t->pci, 0);
	ck_assert_uint_eq(nmsis, 0);
	pci_device_intx_deassert(&t->pci);

	/* Enabled but no Bus Master Enable: nothing goes out. */
	cfg_write(bdf, msi + 2, 2, 0x0001);
	nirqs = 0;
	pci_device_notify(&t->pci, 0);
	ck_assert_uint_eq(nmsis, 0);
	ck_assert_uint_eq(nirqs, 0);

	cfg_write(bdf, 0x04, 2, 0x0004);
	pci_device_notify(&t->pci, 0);
	ck_assert_uint_eq(nmsis, 1);
	ck_assert_uint_eq(msis[0].address, 0x1fee01000ULL);
	ck_assert_uint_eq(msis[0].data, 0x4040);

	/* One vector enabled: vector 3 folds onto it. Four: low data bits. */
	pci_device_notify(&t->pci, 3);
	ck_assert_uint_eq(msis[1].data, 0x4040);
	cfg_write(bdf, msi + 2, 2, 0x0021);		/* MME = 4 vectors */
	pci_device_notify(&t->pci, 3);
	ck_assert_uint_eq(msis[2].data, 0x4043);
	cfg_write(bdf, msi + 2, 2, 0x0071);		/* more than it can: clamped to 4 */
	pci_device_notify(&t->pci, 6);
	ck_assert_uint_eq(msis[3].data, 0x4042);

	/* Masked: pending, sent on unmask. */
	cfg_write(bdf, msi + 16, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(bdf, msi + 16, 4), 0xf);
	pci_device_notify(&t->pci, 1);
	ck_assert_uint_eq(nmsis, 4);
	ck_assert_uint_eq(cfg_read(bdf, msi + 20, 4), 0x2);
	cfg_write(bdf, msi + 20, 4, 0);			/* pending is read-only */
	ck_assert_uint_eq(cfg_read(bdf, msi + 20, 4), 0x2);
	cfg_write(bdf, msi + 16, 4, 0xd);		/* unmask vector 1 only */
	ck_assert_uint_eq(nmsis, 5);
	ck_assert_uint_eq(msis[4].data, 0x4041);
	ck_assert_uint_eq(cfg_read(bdf, msi + 20, 4), 0);
}
END_TEST

START_TEST(test_msi_32bit)
{
	struct test_dev *t = new_dev();
	uint16_t bdf = BDF(8, 0);
	uint8_t msi = pci_add_msi_cap(&t->pci, 1, false);

	ck_assert_int_eq(pci_register(&vm, &t->pci, bdf), 0);
	ck_assert_uint_eq(cfg_read(bdf, msi + 2, 2), 0x0000);
	cfg_write(bdf, msi + 4, 4, 0xfee00000);
	cfg_write(bdf, msi + 8, 2, 0x0031);
	cfg_write(bdf, msi + 2, 2, 0x0071);		/* MME beyond MMC: one vector */
	cfg_write(bdf, 0x04, 2, 0x0004);
	pci_device_notify(&t->pci, 5);
	ck_assert_uint_eq(nmsis, 1);
	ck_assert_uint_eq(msis[0].address, 0xfee00000);
	ck_assert_uint_eq(msis[0].data, 0x0031);
}
END_TEST

/* ---- MSI-X ---- */

START_TEST(test_msix_delivery)
{
	struct test_dev *t = new_dev();
	uint16_t bdf = BDF(9, 0);
	uint8_t msix = pci_add_msix_cap(&t->pci, 4, 2);
	const uint64_t bar = 0xc0800000, table = bar, pba = bar + 0x1000;

	ck_assert(msix);
	ck_assert_uint_eq(t->pci.bars[2].kind, PCI_BAR_MEM32);
	ck_assert_int_eq(pci_register(&vm, &t->pci, bdf), 0);
	cfg_write(bdf, 0x18, 4, (uint32_t)bar);
	cfg_write(bdf, 0x04, 2, 0x0006);

	/* Entries start masked; the table is readable at any width. */
	ck_assert_uint_eq(bus_read(&vm.mmio, table + 16 + 12, 4), 1);
	bus_write(&vm.mmio, table + 16, 8, 0x00000000fee02003ULL);
	bus_write(&vm.mmio, table + 16 + 8, 4, 0x51);
	ck_assert_uint_eq(bus_read(&vm.mmio, table + 16, 4), 0xfee02000);
	ck_assert_uint_eq(bus_read(&vm.mmio, table + 16 + 8, 1), 0x51);
	bus_write(&vm.mmio, table + 16 + 12, 4, 0xfffffffe);	/* reserved bits stay 0 */
	ck_assert_uint_eq(bus_read(&vm.mmio, table + 16 + 12, 4), 0);
	bus_write(&vm.mmio, table + 16 + 12, 4, 1);

	/* MSI-X off: no message. */
	pci_device_notify(&t->pci, 1);
	ck_assert_uint_eq(nmsis, 0);
	pci_device_intx_deassert(&t->pci);

	cfg_write(bdf, msix + 2, 2, 0x8000);
	pci_device_notify(&t->pci, 1);			/* entry masked: pending */
	ck_assert_uint_eq(nmsis, 0);
	ck_assert_uint_eq(bus_read(&vm.mmio, pba, 8), 0x2);
	bus_write(&vm.mmio, pba, 8, 0);			/* PBA is read-only */
	ck_assert_uint_eq(bus_read(&vm.mmio, pba, 1), 0x2);
	bus_write(&vm.mmio, table + 16 + 12, 4, 0);	/* unmask: delivered */
	ck_assert_uint_eq(nmsis, 1);
	ck_assert_uint_eq(msis[0].address, 0xfee02000);
	ck_assert_uint_eq(msis[0].data, 0x51);
	ck_assert_uint_eq(bus_read(&vm.mmio, pba, 1), 0);

	pci_device_notify(&t->pci, 1);
	ck_assert_uint_eq(nmsis, 2);

	/* Function mask holds everything back; clearing it sends. */
	cfg_write(bdf, msix + 2, 2, 0xc000);
	pci_device_notify(&t->pci, 1);
	ck_assert_uint_eq(nmsis, 2);
	ck_assert_uint_eq(bus_read(&vm.mmio, pba, 1), 0x2);
	cfg_write(bdf, msix + 2, 2, 0x8000);
	ck_assert_uint_eq(nmsis, 3);
	ck_assert_uint_eq(bus_read(&vm.mmio, pba, 1), 0);

	/* Out of range vectors go nowhere; table size is read-only. */
	pci_device_notify(&t->pci, 4);
	pci_device_notify(&t->pci, 100000);
	ck_assert_uint_eq(nmsis, 3);
	cfg_write(bdf, msix + 2, 2, 0x87ff);
	ck_assert_uint_eq(cfg_read(bdf, msix + 2, 2), 0x8003);
	/* Only the INTx raise and lower from before MSI-X was enabled. */
	ck_assert_uint_eq(nirqs, 2);
}
END_TEST

START_TEST(test_msix_shared_bar)
{
	struct test_dev *t = new_dev();
	uint16_t bdf = BDF(10, 0);
	const uint64_t bar = 0xc0800000;

	ck_assert_int_eq(pci_device_set_bar(&t->pci, 0, PCI_BAR_MEM32, 0x4000, bar_io, t), 0);
	ck_assert(pci_add_msix_cap(&t->pci, 2, 0));
	ck_assert_int_eq(pci_register(&vm, &t->pci, bdf), 0);
	cfg_write(bdf, 0x10, 4, (uint32_t)bar);
	cfg_write(bdf, 0x04, 2, 0x0002);
	/* Device registers below, MSI-X table and PBA in the upper half. */
	ck_assert_uint_eq(bus_read(&vm.mmio, bar + 0x10, 4), 0xa3a2a1a0);
	ck_assert_uint_eq(t->last_offset, 0x10);
	ck_assert_uint_eq(bus_read(&vm.mmio, bar + 0x2000 + 12, 4), 1);
	ck_assert_uint_eq(t->accesses, 1);
	ck_assert_uint_eq(bus_read(&vm.mmio, bar + 0x3000, 4), 0);

	/* A BAR too small for the table, or an I/O BAR: refused. */
	t = new_dev();
	ck_assert_int_eq(pci_device_set_bar(&t->pci, 1, PCI_BAR_MEM32, 0x1000, bar_io, t), 0);
	ck_assert_uint_eq(pci_add_msix_cap(&t->pci, 2, 1), 0);
	ck_assert_int_eq(pci_device_set_bar(&t->pci, 2, PCI_BAR_IO, 0x100, bar_io, t), 0);
	ck_assert_uint_eq(pci_add_msix_cap(&t->pci, 2, 2), 0);
	ck_assert_uint_eq(t->pci.cfg[0x34], 0);
}
END_TEST

/* ---- INTx ---- */

START_TEST(test_intx_swizzle)
{
	static const struct { unsigned int slot, pin, gsi; } cases[] = {
		{ 0, 1, 16 }, { 1, 1, 17 }, { 3, 1, 19 }, { 4, 1, 16 },
		{ 3, 2, 16 }, { 2, 4, 17 }, { 31, 1, 19 }, { 31, 4, 18 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct test_dev *t = new_dev();
		uint16_t bdf = BDF(cases[i].slot, 1 + i % 7);

		t->pci.cfg[0x3d] = (uint8_t)cases[i].pin;
		ck_assert_int_eq(pci_register(&vm, &t->pci, bdf), 0);
		ck_assert_int_eq(t->pci.intx_gsi, (int)cases[i].gsi);
		ck_assert_uint_eq(cfg_read(bdf, 0x3c, 1), cases[i].gsi);
		nirqs = 0;
		pci_device_notify(&t->pci, 0);
		ck_assert_uint_eq(nirqs, 1);
		ck_assert_uint_eq(irqs[0].gsi, cases[i].gsi);
		ck_assert(irqs[0].level);
		pci_device_intx_deassert(&t->pci);
		ck_assert_uint_eq(nirqs, 2);
		ck_assert(!irqs[1].level);
	}
}
END_TEST

START_TEST(test_intx_level_semantics)
{
	struct test_dev *a = new_dev(), *b = new_dev(), *c = new_dev();

	c->pci.cfg[0x3d] = 0;				/* no INTx at all */
	ck_assert_int_eq(pci_register(&vm, &a->pci, BDF(0, 1)), 0);
	ck_assert_int_eq(pci_register(&vm, &b->pci, BDF(4, 0)), 0);
	ck_assert_int_eq(pci_register(&vm, &c->pci, BDF(8, 0)), 0);
	ck_assert_int_eq(a->pci.intx_gsi, 16);
	ck_assert_int_eq(b->pci.intx_gsi, 16);
	ck_assert_int_eq(c->pci.intx_gsi, -1);

	pci_device_notify(&c->pci, 0);
	ck_assert_uint_eq(nirqs, 0);

	/* Asserted until deasserted; repeated notifies add nothing. */
	pci_device_notify(&a->pci, 0);
	pci_device_notify(&a->pci, 0);
	ck_assert_uint_eq(nirqs, 1);
	ck_assert(cfg_read(BDF(0, 1), 0x06, 2) & 0x08);
	/* Wired OR: the second function on GSI 16 keeps it up. */
	pci_device_notify(&b->pci, 0);
	ck_assert_uint_eq(nirqs, 1);
	pci_device_intx_deassert(&a->pci);
	ck_assert_uint_eq(nirqs, 1);
	ck_assert(!(cfg_read(BDF(0, 1), 0x06, 2) & 0x08));
	pci_device_intx_deassert(&b->pci);
	ck_assert_uint_eq(nirqs, 2);
	ck_assert(!irqs[1].level);

	/* Interrupt Disable lowers the line but keeps the status. */
	pci_device_notify(&a->pci, 0);
	ck_assert_uint_eq(nirqs, 3);
	cfg_write(BDF(0, 1), 0x04, 2, 0x0400);
	ck_assert_uint_eq(nirqs, 4);
	ck_assert(!irqs[3].level);
	ck_assert(cfg_read(BDF(0, 1), 0x06, 2) & 0x08);
	cfg_write(BDF(0, 1), 0x04, 2, 0x0000);
	ck_assert_uint_eq(nirqs, 5);
	ck_assert(irqs[4].level);
	/* The status bit is read-only to the guest. */
	cfg_write(BDF(0, 1), 0x06, 2, 0xffff);
	ck_assert(cfg_read(BDF(0, 1), 0x06, 2) & 0x08);
	pci_device_intx_deassert(&a->pci);
	ck_assert_uint_eq(nirqs, 6);
}
END_TEST

START_TEST(test_registry)
{
	struct test_dev *a = new_dev(), *b = new_dev(), *c = new_dev();

	ck_assert_ptr_eq(pci_find(&vm, 0), pci_find(&vm, 0));
	ck_assert_ptr_nonnull(pci_find(&vm, 0));
	ck_assert_int_eq(pci_register(&vm, &a->pci, 0), -1);		/* the bridge's */
	ck_assert_int_eq(pci_register(&vm, &a->pci, 0x100), -1);	/* no bus 1 */
	ck_assert_int_eq(pci_register(&vm, &a->pci, BDF(1, 0)), 0);
	ck_assert_int_eq(pci_register(&vm, &b->pci, BDF(1, 0)), -1);
	ck_assert_int_eq(pci_register(&vm, &b->pci, BDF(1, 2)), 0);
	ck_assert_ptr_eq(pci_find(&vm, BDF(1, 0)), &a->pci);
	ck_assert_ptr_eq(pci_find(&vm, BDF(1, 2)), &b->pci);
	ck_assert_ptr_null(pci_find(&vm, BDF(1, 1)));
	ck_assert_ptr_null(pci_find(&vm, 0xffff));
	/* Function 0 of a multi-function device says so. */
	ck_assert_uint_eq(cfg_read(BDF(1, 0), 0x0e, 1), 0x80);
	ck_assert_int_eq(pci_register(&vm, &c->pci, BDF(2, 3)), 0);
	ck_assert_uint_eq(vm.machine.npci, 3);
	ck_assert_uint_eq(vm.machine.pci[0].bdf, BDF(1, 0));
	ck_assert_uint_eq(vm.machine.pci[2].bdf, BDF(2, 3));
}
END_TEST

/* ---- concurrency: vCPU threads and a device thread at once ---- */

static atomic_uint msi_count;

static int count_msi(struct vm *v, uint64_t address, uint32_t data)
{
	(void)v;
	(void)address;
	(void)data;
	atomic_fetch_add(&msi_count, 1);
	return 0;
}

struct race {
	struct test_dev *t;
	uint16_t bdf;
	atomic_bool stop;
};

static void *race_notify(void *arg)
{
	struct race *r = arg;
	unsigned int i = 0;

	while (!atomic_load(&r->stop))
		pci_device_notify(&r->t->pci, i++ % 4);
	return NULL;
}

static void *race_table(void *arg)
{
	unsigned int i;

	(void)arg;
	uint8_t data[4];

	for (i = 0; i < 20000; i++) {
		uint32_t v = i & 1;

		memcpy(data, &v, 4);
		/* The BAR may be moving: a miss is fine, a crash is not. */
		bus_dispatch(&vm.mmio, 0xc0800000 + 16 * (i % 4) + 12, data, 4, true);
	}
	return NULL;
}

static void *race_config(void *arg)
{
	struct race *r = arg;
	unsigned int i;

	for (i = 0; i < 5000; i++) {
		cfg_write(r->bdf, 0x04, 2, (i & 1) ? 0x0006 : 0x0004);
		cfg_write(r->bdf, 0x18, 4, (i & 2) ? 0xc0800000 : 0xc0900000);
		if (!(i & 2))
			cfg_write(r->bdf, 0x18, 4, 0xc0800000);
	}
	return NULL;
}

START_TEST(test_concurrent_access)
{
	struct race r = { .t = new_dev(), .bdf = BDF(13, 0) };
	uint8_t msix = pci_add_msix_cap(&r.t->pci, 4, 2);
	pthread_t notifier, table, config;
	unsigned int v;

	ck_assert_int_eq(pci_register(&vm, &r.t->pci, r.bdf), 0);
	pci_signal_msi = count_msi;
	cfg_write(r.bdf, 0x18, 4, 0xc0800000);
	cfg_write(r.bdf, 0x04, 2, 0x0006);
	cfg_write(r.bdf, msix + 2, 2, 0x8000);
	ck_assert_int_eq(pthread_create(&notifier, NULL, race_notify, &r), 0);
	ck_assert_int_eq(pthread_create(&table, NULL, race_table, &r), 0);
	ck_assert_int_eq(pthread_create(&config, NULL, race_config, &r), 0);
	pthread_join(table, NULL);
	pthread_join(config, NULL);
	atomic_store(&r.stop, true);
	pthread_join(notifier, NULL);

	/* Unmask everything: whatever was pending goes out, and nothing stays. */
	cfg_write(r.bdf, 0x04, 2, 0x0006);
	cfg_write(r.bdf, 0x18, 4, 0xc0800000);
	for (v = 0; v < 4; v++)
		bus_write(&vm.mmio, 0xc0800000 + 16 * v + 12, 4, 0);
	ck_assert_uint_eq(bus_read(&vm.mmio, 0xc0801000, 1), 0);
	ck_assert_uint_gt(atomic_load(&msi_count), 0);
	ck_assert_uint_eq(r.t->pci.bars[2].mapped_at, 0xc0800000);
}
END_TEST

/* A deterministic storm of hostile accesses: nothing may crash or leak. */
START_TEST(test_hostile_traffic)
{
	struct test_dev *t = new_dev();
	uint16_t bdf = BDF(12, 0);
	unsigned int i, seed = 12345;
	static const unsigned int sizes[] = { 1, 2, 4, 8 };

	pci_device_set_bar(&t->pci, 0, PCI_BAR_MEM64, 0x4000, bar_io, t);
	pci_add_msi_cap(&t->pci, 8, true);
	pci_add_msix_cap(&t->pci, 16, 4);
	pci_add_pcie_cap(&t->pci, PCI_EXP_TYPE_RC_END);
	pci_add_pasid_cap(&t->pci, 20);
	pci_add_ats_cap(&t->pci, 8);
	ck_assert_int_eq(pci_register(&vm, &t->pci, bdf), 0);
	for (i = 0; i < 20000; i++) {
		unsigned int len = sizes[(seed = seed * 1103515245 + 12345) >> 16 & 3];
		unsigned int reg = (seed = seed * 1103515245 + 12345) >> 8 & 0xfff;
		uint32_t val = (seed = seed * 1103515245 + 12345);
		uint8_t data[8];

		if (reg > 0x1000 - len)
			reg = 0x1000 - len;
		memcpy(data, &val, 4);
		memcpy(data + 4, &val, 4);
		bus_dispatch(&vm.mmio, ecam(bdf, reg), data, len, val & 1);
		if (!(i % 7))
			pci_device_notify(&t->pci, val % 20);
		if (!(i % 11) && t->pci.bars[4].mapped_at)
			bus_dispatch(&vm.mmio, t->pci.bars[4].mapped_at + (val >> 8) % 0x2000, data,
				     len, val & 2);
	}
	ck_assert_uint_eq(cfg_read(bdf, 0, 4), 0x56781234);
	ck_assert_uint_eq(cfg_read(0, 0, 4), 0x74760000);
}
END_TEST

static Suite *pci_suite(void)
{
	Suite *s = suite_create("pci");
	TCase *tc = tcase_create("pci");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_conf1_widths);
	tcase_add_test(tc, test_conf1_disabled_and_absent);
	tcase_add_test(tc, test_reset_port);
	tcase_add_test(tc, test_ecam);
	tcase_add_test(tc, test_bar_describe_errors);
	tcase_add_test(tc, test_bar_sizing);
	tcase_add_test(tc, test_bar_preassigned);
	tcase_add_test(tc, test_bar_map_unmap);
	tcase_add_test(tc, test_bar_overlap_refused);
	tcase_add_test(tc, test_readonly_and_w1c);
	tcase_add_test(tc, test_capability_walk);
	tcase_add_test(tc, test_capability_space_runs_out);
	tcase_add_test(tc, test_msi_delivery);
	tcase_add_test(tc, test_msi_32bit);
	tcase_add_test(tc, test_msix_delivery);
	tcase_add_test(tc, test_msix_shared_bar);
	tcase_add_test(tc, test_intx_swizzle);
	tcase_add_test(tc, test_intx_level_semantics);
	tcase_add_test(tc, test_registry);
	tcase_add_test(tc, test_hostile_traffic);
	tcase_add_test(tc, test_concurrent_access);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pci_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
