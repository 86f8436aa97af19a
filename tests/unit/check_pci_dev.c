// SPDX-License-Identifier: MIT
/*
 * The PCI device framework, driven the way a guest drives it through ECAM:
 * read-only and W1C bits, the capability lists (MSI, MSI-X, PCIe, PASID,
 * ATS), MSI and MSI-X delivery, INTx routing and level semantics, and vCPU
 * and device threads racing. Interrupts are recorded through the
 * framework's seams (no KVM needed).
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "pci_testutil.h"

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
	/* Lookup along the chain; a function without extended capabilities has none. */
	ck_assert_uint_eq(pci_find_ext_cap(&t->pci, PCI_EXT_CAP_ID_PASID), 0x100);
	ck_assert_uint_eq(pci_find_ext_cap(&t->pci, PCI_EXT_CAP_ID_ATS), ext);
	ck_assert_uint_eq(pci_find_ext_cap(&t->pci, 0x0001), 0);	/* AER: not there */
	ck_assert_uint_eq(pci_find_ext_cap(&new_dev()->pci, PCI_EXT_CAP_ID_ATS), 0);
	ck_assert_uint_eq(pci_find_ext_cap(&new_dev()->pci, 0), 0);

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
	/* The PASID capability marked End-End TLP Prefix Supported in DevCap2 (read-only). */
	ck_assert_uint_eq(cfg_read(bdf, exp + 0x24, 4), 1u << 21);
	cfg_write(bdf, exp + 0x24, 4, 0);
	ck_assert_uint_eq(cfg_read(bdf, exp + 0x24, 4), 1u << 21);
	/* The device's own update ignores the write masks; the guest's write cannot undo it. */
	pci_device_config_update(&t->pci, exp + 0x24, 4, 1u << 21, 1u << 16);
	ck_assert_uint_eq(cfg_read(bdf, exp + 0x24, 4), 1u << 16);
	pci_device_config_update(&t->pci, PCI_CFG_SIZE - 2, 4, ~0u, 0);	/* out of range: ignored */

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

/* ---- device hooks (struct pci_device_ops) ---- */

struct hooked {
	struct test_dev t;
	struct { unsigned int bar; uint64_t addr; } mapped[16];
	unsigned int nmapped;
	unsigned int written[16], nwritten;
	unsigned int pba_reads;
	int held;		/* a vector the device holds, handed in from the hooks; -1: none */
};

static struct hooked *hooked_of(struct pci_device *dev)
{
	return (struct hooked *)(void *)dev;	/* pci is the first member of both */
}

static void hand_in(struct hooked *h)
{
	if (h->held >= 0) {
		pci_device_notify(&h->t.pci, (unsigned int)h->held);
		h->held = -1;
	}
}

static void hook_config(struct pci_device *dev, unsigned int offset, unsigned int len)
{
	(void)offset;
	(void)len;
	hand_in(hooked_of(dev));
}

static void hook_msix(struct pci_device *dev, unsigned int vector)
{
	struct hooked *h = hooked_of(dev);

	ck_assert_uint_lt(h->nwritten, 16);
	h->written[h->nwritten++] = vector;
	hand_in(h);
}

static void hook_pba(struct pci_device *dev)
{
	hooked_of(dev)->pba_reads++;
}

static void hook_bar(struct pci_device *dev, unsigned int i, uint64_t addr)
{
	struct hooked *h = hooked_of(dev);

	/* The window already matches: decoded where announced, or not at all. */
	ck_assert_uint_eq(dev->bars[i].mapped_at, addr);
	ck_assert_uint_lt(h->nmapped, 16);
	h->mapped[h->nmapped].bar = i;
	h->mapped[h->nmapped++].addr = addr;
}

static const struct pci_device_ops hook_ops = {
	.config_written = hook_config, .msix_written = hook_msix,
	.msix_pba_read = hook_pba, .bar_mapped = hook_bar,
};

static void assert_mapped(struct hooked *h, unsigned int n, unsigned int bar, uint64_t addr)
{
	ck_assert_uint_gt(h->nmapped, n);
	ck_assert_uint_eq(h->mapped[n].bar, bar);
	ck_assert_uint_eq(h->mapped[n].addr, addr);
}

START_TEST(test_bar_mapped_hook)
{
	struct hooked *h = calloc(1, sizeof(*h));
	uint16_t bdf = BDF(11, 0);

	ck_assert_ptr_nonnull(h);
	h->held = -1;
	h->t.pci.ops = &hook_ops;
	pci_device_init(&h->t.pci, 0x1234, 0x5678, 0x018000, 3);
	devs[ndevs++] = &h->t;
	ck_assert_int_eq(pci_device_set_bar(&h->t.pci, 0, PCI_BAR_MEM32, 0x4000, bar_io, &h->t), 0);
	ck_assert_int_eq(pci_device_set_bar(&h->t.pci, 1, PCI_BAR_IO, 0x20, bar_io, &h->t), 0);
	ck_assert_int_eq(pci_register(&vm, &h->t.pci, bdf), 0);
	cfg_write(bdf, 0x10, 4, 0xc0800000);
	ck_assert_uint_eq(h->nmapped, 0);		/* decoding still off */

	cfg_write(bdf, 0x04, 2, 0x0002);		/* memory only */
	ck_assert_uint_eq(h->nmapped, 1);
	assert_mapped(h, 0, 0, 0xc0800000);
	cfg_write(bdf, 0x10, 4, 0xc0840000);		/* a move: one call */
	ck_assert_uint_eq(h->nmapped, 2);
	assert_mapped(h, 1, 0, 0xc0840000);
	cfg_write(bdf, 0x10, 4, 0xc0840000);		/* no move: no call */
	cfg_write(bdf, 0x04, 2, 0x0003);		/* I/O on too */
	ck_assert_uint_eq(h->nmapped, 3);
	assert_mapped(h, 2, 1, h->t.pci.bars[1].mapped_at);
	ck_assert_uint_ne(h->t.pci.bars[1].mapped_at, 0);
	cfg_write(bdf, 0x04, 2, 0x0001);		/* memory off */
	ck_assert_uint_eq(h->nmapped, 4);
	assert_mapped(h, 3, 0, 0);
	cfg_write(bdf, 0x10, 4, 0x00100000);		/* over RAM: refused, no call */
	cfg_write(bdf, 0x04, 2, 0x0003);
	ck_assert_uint_eq(h->nmapped, 4);
	cfg_write(bdf, 0x10, 4, 0xc0840000);
	ck_assert_uint_eq(h->nmapped, 5);
	assert_mapped(h, 4, 0, 0xc0840000);

	/* Exit unmaps what is mapped (and teardown() must not exit it again). */
	ck_assert_ptr_eq(devs[ndevs - 1], &h->t);
	ndevs--;
	pci_device_exit(&h->t.pci);
	ck_assert_uint_eq(h->nmapped, 7);
	for (unsigned int n = 5; n < 7; n++)
		ck_assert_uint_eq(h->mapped[n].addr, 0);
	ck_assert_uint_ne(h->mapped[5].bar, h->mapped[6].bar);
	free(h);
}
END_TEST

START_TEST(test_msix_hooks)
{
	struct hooked *h = calloc(1, sizeof(*h));
	uint16_t bdf = BDF(12, 0);
	const uint64_t table = 0xc0800000, pba = table + 0x1000;
	uint8_t msix;

	ck_assert_ptr_nonnull(h);
	h->held = -1;
	h->t.pci.ops = &hook_ops;
	pci_device_init(&h->t.pci, 0x1234, 0x5678, 0x018000, 3);
	devs[ndevs++] = &h->t;
	msix = pci_add_msix_cap(&h->t.pci, 4, 2);
	ck_assert(msix);
	ck_assert_int_eq(pci_register(&vm, &h->t.pci, bdf), 0);
	cfg_write(bdf, 0x18, 4, (uint32_t)table);
	cfg_write(bdf, 0x04, 2, 0x0006);
	cfg_write(bdf, msix + 2, 2, 0x8000);

	/* One call per entry a table write touches; none for reads or the PBA. */
	bus_write(&vm.mmio, table + 16 + 8, 4, 0x51);
	ck_assert_uint_eq(h->nwritten, 1);
	ck_assert_uint_eq(h->written[0], 1);
	/* Entry 1's control and entry 2's address. */
	bus_write(&vm.mmio, table + 16 + 12, 8, 0x00000000fee00001ULL);
	ck_assert_uint_eq(h->nwritten, 3);
	ck_assert_uint_eq(h->written[1], 1);
	ck_assert_uint_eq(h->written[2], 2);
	bus_read(&vm.mmio, table + 16, 8);
	bus_write(&vm.mmio, pba, 8, 0);
	ck_assert_uint_eq(h->nwritten, 3);
	ck_assert_uint_eq(h->pba_reads, 0);
	bus_read(&vm.mmio, table, 4);
	ck_assert_uint_eq(h->pba_reads, 0);

	/* A PBA read asks the device first, so what it hands in shows. */
	bus_write(&vm.mmio, table + 16, 4, 0xfee02000);
	ck_assert_uint_eq(bus_read(&vm.mmio, pba, 8), 0);
	ck_assert_uint_eq(h->pba_reads, 1);

	/*
	 * Unmasking: a pending bit and what the device held while masked,
	 * handed in from the hook, go out as one message.
	 */
	pci_device_notify(&h->t.pci, 1);			/* masked: pending */
	ck_assert_uint_eq(nmsis, 0);
	ck_assert_uint_eq(bus_read(&vm.mmio, pba, 1), 0x2);
	h->held = 1;
	bus_write(&vm.mmio, table + 16 + 12, 4, 0);
	ck_assert_int_eq(h->held, -1);
	ck_assert_uint_eq(nmsis, 1);
	ck_assert_uint_eq(msis[0].address, 0xfee02000);
	ck_assert_uint_eq(msis[0].data, 0x51);
	ck_assert_uint_eq(bus_read(&vm.mmio, pba, 1), 0);

	/* The same through config_written when Function Mask clears. */
	cfg_write(bdf, msix + 2, 2, 0xc000);
	pci_device_notify(&h->t.pci, 1);
	ck_assert_uint_eq(nmsis, 1);
	h->held = 1;
	cfg_write(bdf, msix + 2, 2, 0x8000);
	ck_assert_int_eq(h->held, -1);
	ck_assert_uint_eq(nmsis, 2);
	ck_assert_uint_eq(bus_read(&vm.mmio, pba, 1), 0);
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

static Suite *pci_dev_suite(void)
{
	Suite *s = suite_create("pci_dev");
	TCase *tc = tcase_create("pci_dev");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_readonly_and_w1c);
	tcase_add_test(tc, test_capability_walk);
	tcase_add_test(tc, test_capability_space_runs_out);
	tcase_add_test(tc, test_msi_delivery);
	tcase_add_test(tc, test_msi_32bit);
	tcase_add_test(tc, test_msix_delivery);
	tcase_add_test(tc, test_msix_shared_bar);
	tcase_add_test(tc, test_bar_mapped_hook);
	tcase_add_test(tc, test_msix_hooks);
	tcase_add_test(tc, test_intx_swizzle);
	tcase_add_test(tc, test_intx_level_semantics);
	tcase_add_test(tc, test_concurrent_access);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(pci_dev_suite());
}
