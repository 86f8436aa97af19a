// SPDX-License-Identifier: MIT
/*
 * The PCI host bridge, driven the way a guest drives it: configuration
 * through 0xCF8/0xCFC and ECAM on the VM's buses, BAR sizing, mapping and
 * overlap refusal, the device registry, the 0xCF9 reset port and a storm of
 * hostile accesses. The function framework (capabilities, MSI, MSI-X, INTx)
 * is in check_pci_dev.c.
 */
#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pci_testutil.h"

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

/* ---- registry ---- */

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
	tcase_add_test(tc, test_registry);
	tcase_add_test(tc, test_hostile_traffic);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(pci_suite());
}
