// SPDX-License-Identifier: MIT
/*
 * vfio-pci.c: the guest-facing model of a passed-through function, run
 * against the recording fake host (tests/unit/fake_hostops.h) and the
 * fake device and KVM of vfio_pci_fake.h, on a VM without KVM: config
 * space, trapped BARs, and interrupts (MSI, MSI-X re-programming, masks
 * and pending bits). KVM refusing interrupt calls, and its routing table's
 * limit: check_vfio_pci_routes.c. BAR mmap needs KVM memslots:
 * check_vfio_pci_mmap.c.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "check_main.h"
#include "pci_testutil.h"
#include "vfio_pci_fake.h"
#include "vfio_pci_guest.h"

/* ---- tests ---- */

START_TEST(test_region_and_irq_info)
{
	static const uint32_t want[] = { 0, 1, 2, 3, 4, 5, VFIO_PCI_CONFIG_REGION_INDEX };

	create();
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, VFIO_DEVICE_GET_REGION_INFO), 7);
	for (size_t i = 0; i < 7; i++) {
		const struct fake_call *c =
			fake_hostops_find(fake, FAKE_IOCTL, VFIO_DEVICE_GET_REGION_INFO, i);
		const struct vfio_region_info *r = (const void *)c->arg;

		ck_assert_int_eq(c->fd, devfd);
		ck_assert_uint_eq(r->argsz, sizeof(*r));
		ck_assert_uint_eq(r->index, want[i]);
	}
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, VFIO_DEVICE_GET_IRQ_INFO), 3);
	for (size_t i = 0; i < 3; i++) {
		const struct fake_call *c =
			fake_hostops_find(fake, FAKE_IOCTL, VFIO_DEVICE_GET_IRQ_INFO, i);

		ck_assert_uint_eq(((const struct vfio_irq_info *)(const void *)c->arg)->index, i);
	}
}
END_TEST

/* The standard capability list the guest sees: MSI -> PCIe -> MSI-X, the vendor cap gone. */
static void assert_cap_list(void)
{
	unsigned int ids[8], n = 0;

	for (unsigned int off = gcfg(0x34, 1); off; off = gcfg(off + 1, 1)) {
		ck_assert_uint_ge(off, 0x40);
		ck_assert_uint_lt(n, 8);
		ids[n++] = gcfg(off, 1);
	}
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(ids[0], PCI_CAP_ID_MSI);
	ck_assert_uint_eq(ids[1], PCI_CAP_ID_EXP);
	ck_assert_uint_eq(ids[2], PCI_CAP_ID_MSIX);
}

START_TEST(test_config_filtered)
{
	unsigned int off;

	create();
	ck_assert_ptr_eq(pci_find(&vm, GUEST_BDF), vfio_pci_device(vp));
	ck_assert_uint_eq(gcfg(0, 4), 0x12348086);
	ck_assert_uint_eq(gcfg(0x08, 4), 0x02000001);
	ck_assert_uint_eq(gcfg(0x2c, 4), 0xabcd8086);
	ck_assert_uint_eq(gcfg(0x04, 2), 0);		/* command starts off */
	ck_assert_uint_eq(gcfg(0x0e, 1), 0);		/* single function */
	ck_assert_uint_eq(gcfg(0x30, 4), 0);		/* no ROM */
	ck_assert(gcfg(0x06, 2) & 0x10);
	assert_cap_list();
	/* The PCIe cap: device's DevCap without FLR, RC integrated endpoint on bus 0. */
	off = gcfg(gcfg(0x34, 1) + 1, 1);
	ck_assert_uint_eq(gcfg(off + 4, 4), 0x00008fc1);
	ck_assert_uint_eq((gcfg(off + 2, 2) >> 4) & 0xf, PCI_EXP_TYPE_RC_END);
	/* MSI: 4 vectors, shown with a 32-bit address. */
	off = gcfg(0x34, 1);
	ck_assert_uint_eq(gcfg(off + 2, 2) & 0x8e, 0x04);
	/* Extended list: PASID only, at 0x100, the last one, 20 bits. */
	ck_assert_uint_eq(gcfg(0x100, 4) & 0xffff, PCI_EXT_CAP_ID_PASID);
	ck_assert_uint_eq(gcfg(0x100, 4) >> 20, 0);
	ck_assert_uint_eq((gcfg(0x104, 2) >> 8) & 0x1f, 20);
	for (off = 0x104; off < PCI_CFG_SIZE; off += 4)
		if (off >= 0x108)
			ck_assert_uint_eq(gcfg(off, 4), 0);	/* nothing of AER leaks */
}
END_TEST

static uint64_t bar_size(unsigned int i, bool is64)
{
	uint32_t old = gcfg(0x10 + 4 * i, 4), lo, hi = 0xffffffff;

	cfg_write(GUEST_BDF, 0x10 + 4 * i, 4, 0xffffffff);
	lo = gcfg(0x10 + 4 * i, 4);
	cfg_write(GUEST_BDF, 0x10 + 4 * i, 4, old);
	if (is64) {
		old = gcfg(0x14 + 4 * i, 4);
		cfg_write(GUEST_BDF, 0x14 + 4 * i, 4, 0xffffffff);
		hi = gcfg(0x14 + 4 * i, 4);
		cfg_write(GUEST_BDF, 0x14 + 4 * i, 4, old);
	}
	if (lo & 1)
		return (uint64_t)(uint16_t)~(lo & ~3u) + 1;
	return ~(((uint64_t)hi << 32) | (lo & ~0xfu)) + 1;
}

START_TEST(test_bars)
{
	struct pci_device *d;

	create();
	d = vfio_pci_device(vp);
	ck_assert_int_eq(d->bars[0].kind, PCI_BAR_MEM64);
	ck_assert(d->bars[0].prefetchable);
	ck_assert_uint_eq(gcfg(0x10, 4) & 0xf, 0xc);
	ck_assert_uint_eq(bar_size(0, true), 0x4000);
	ck_assert_int_eq(d->bars[2].kind, PCI_BAR_MEM32);
	ck_assert_uint_eq(gcfg(0x18, 4) & 0xf, 0x0);
	ck_assert_uint_eq(bar_size(2, false), 0x1000);
	ck_assert_int_eq(d->bars[4].kind, PCI_BAR_IO);
	ck_assert_uint_eq(gcfg(0x20, 4) & 0x3, 0x1);
	ck_assert_uint_eq(bar_size(4, false), 32);
	/* MSI-X moved into the free slot BAR3, away from the device's registers. */
	ck_assert_int_eq(d->bars[3].kind, PCI_BAR_MEM32);
	ck_assert_uint_eq(d->msix_bar, 3);
	ck_assert_int_eq(d->bars[5].kind, PCI_BAR_NONE);
	ck_assert_uint_eq(gcfg(0x24, 4), 0);
	/* Sizing writes stay virtual. */
	for (unsigned int i = 0; i < nrws; i++)
		ck_assert(!rws[i].write);
}
END_TEST

START_TEST(test_bar_forwarding)
{
	uint64_t bar0, bar4;

	create();
	nrws = 0;
	cfg_write(GUEST_BDF, 0x04, 2, 0x0007);
	/* The command register is written through, at the config region offset. */
	ck_assert_uint_eq(nrws, 1);
	ck_assert(rws[0].write);
	ck_assert_uint_eq(rws[0].off, CFG_OFF + 4);
	ck_assert_uint_eq(rws[0].len, 2);
	ck_assert_uint_eq(rws[0].val, 0x0007);

	bar0 = (gcfg(0x10, 4) & ~0xfu) | (uint64_t)gcfg(0x14, 4) << 32;
	bar4 = gcfg(0x20, 4) & ~3u;
	ck_assert_uint_ne(bar0, 0);
	ck_assert_uint_ne(bar4, 0);
	nrws = 0;
	bus_write(&vm.mmio, bar0 + 0x10, 4, 0xdeadbeef);
	ck_assert_uint_eq(bus_read(&vm.mmio, bar0 + 0x3ff8, 8), 0x3c3c3c3c3c3c3c3cULL);
	ck_assert_uint_eq(bus_read(&vm.pio, bar4 + 8, 2), 0x3c3c);
	bus_write(&vm.pio, bar4 + 4, 1, 0x5a);
	ck_assert_uint_eq(nrws, 4);
	ck_assert(rws[0].write);
	ck_assert_uint_eq(rws[0].off, REGION_OFF(0) + 0x10);
	ck_assert_uint_eq(rws[0].len, 4);
	ck_assert_uint_eq(rws[0].val, 0xdeadbeef);
	ck_assert(!rws[1].write);
	ck_assert_uint_eq(rws[1].off, REGION_OFF(0) + 0x3ff8);
	ck_assert_uint_eq(rws[1].len, 8);
	ck_assert(!rws[2].write);
	ck_assert_uint_eq(rws[2].off, REGION_OFF(4) + 8);
	ck_assert(rws[3].write);
	ck_assert_uint_eq(rws[3].off, REGION_OFF(4) + 4);
	ck_assert_uint_eq(rws[3].val, 0x5a);
}
END_TEST

START_TEST(test_intx_wired_at_create)
{
	const struct vfio_irq_set *s;
	const struct fake_call *c;
	const struct kvm_irqfd *f;
	struct pci_device *d;

	create();
	d = vfio_pci_device(vp);
	ck_assert_int_ge(d->intx_gsi, MACHINE_PCI_INTX_GSI);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, VFIO_DEVICE_SET_IRQS), 2);
	s = set_irqs_call(0);
	ck_assert_uint_eq(s->index, VFIO_PCI_INTX_IRQ_INDEX);
	ck_assert_uint_eq(s->flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_uint_eq(s->count, 1);
	ck_assert_int_eq(irq_set_fd(s, 0), 500);
	s = set_irqs_call(1);
	ck_assert_uint_eq(s->flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK);
	ck_assert_int_eq(irq_set_fd(s, 0), 501);
	c = fake_hostops_find(fake, FAKE_IOCTL, KVM_IRQFD, 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->fd, vm.vm_fd);
	f = (const void *)c->arg;
	ck_assert_uint_eq(f->fd, 500);
	ck_assert_uint_eq(f->gsi, (uint32_t)d->intx_gsi);
	ck_assert_uint_eq(f->flags, KVM_IRQFD_FLAG_RESAMPLE);
	ck_assert_uint_eq(f->resamplefd, 501);
}
END_TEST

START_TEST(test_msix_enable)
{
	struct pci_device *d;
	const struct vfio_irq_set *s;
	unsigned int cap, msi_routes = 0;
	uint64_t table;

	create();
	d = vfio_pci_device(vp);
	cap = d->msix_cap;
	table = gcfg(0x1c, 4) & ~0xfu;
	cfg_write(GUEST_BDF, 0x04, 2, 0x0006);
	fake_hostops_clear_calls(fake);

	/* Linux: enable with Function Mask, program the table, unmask. */
	cfg_write(GUEST_BDF, cap + 2, 2, 0xc000);
	for (unsigned int v = 0; v < 16; v++)
		msix_entry(table, v, 0xfee00000 | v << 12, 0x4020 + v, v == 5);
	cfg_write(GUEST_BDF, cap + 2, 2, 0x8000);

	/* INTx off first, then MSI-X with one eventfd per vector. */
	s = set_irqs_call(0);
	ck_assert_uint_eq(s->index, VFIO_PCI_INTX_IRQ_INDEX);
	ck_assert_uint_eq(s->flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_uint_eq(s->count, 0);
	s = set_irqs_call(1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->index, VFIO_PCI_MSIX_IRQ_INDEX);
	ck_assert_uint_eq(s->flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_uint_eq(s->start, 0);
	ck_assert_uint_eq(s->count, 16);
	ck_assert_uint_eq(s->argsz, sizeof(*s) + 16 * 4);
	for (unsigned int v = 0; v < 16; v++)
		ck_assert_int_eq(irq_set_fd(s, v), 502 + (int)v);
	ck_assert_ptr_null(set_irqs_call(2));

	/*
	 * The INTx irqfd went; each vector has its own GSI, and an irqfd once
	 * the guest can take it: not while Function Mask was set, never for
	 * the masked vector 5.
	 */
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, KVM_IRQFD), 16);
	{
		const struct kvm_irqfd *f = (const void *)fake_hostops_find(
			fake, FAKE_IOCTL, KVM_IRQFD, 0)->arg;

		ck_assert_uint_eq(f->flags, KVM_IRQFD_FLAG_DEASSIGN);
		ck_assert_uint_eq(f->fd, 500);
	}
	for (unsigned int i = 1, v = 0; i < 16; i++, v++) {
		const struct kvm_irqfd *f = (const void *)fake_hostops_find(
			fake, FAKE_IOCTL, KVM_IRQFD, i)->arg;

		v += v == 5;
		ck_assert_uint_eq(f->fd, 502 + v);
		ck_assert_uint_eq(f->gsi, MACHINE_IOAPIC_PINS + v);
		ck_assert_uint_eq(f->flags, 0);
	}
	ck_assert_int_eq(efd_gsi[502 + 5 - FIRST_EFD], -1);

	/*
	 * Routes: the base table and the 15 unmasked vectors' messages, in one
	 * update: nothing changed for KVM while Function Mask held them all.
	 */
	ck_assert_uint_eq(nrouting_calls, 1);
	for (unsigned int i = 0; i < nroutes; i++) {
		if (routes[i].type != KVM_IRQ_ROUTING_MSI)
			continue;
		unsigned int v = routes[i].gsi - MACHINE_IOAPIC_PINS;

		ck_assert_uint_lt(v, 16);
		ck_assert_uint_ne(v, 5);
		ck_assert_uint_eq(routes[i].u.msi.address_lo, 0xfee00000 | v << 12);
		ck_assert_uint_eq(routes[i].u.msi.address_hi, 0);
		ck_assert_uint_eq(routes[i].u.msi.data, 0x4020 + v);
		msi_routes++;
	}
	ck_assert_uint_eq(msi_routes, 15);
	ck_assert_uint_eq(nroutes, 15 + 15 + 23);	/* PICs without 2, IOAPIC without 2 */

	/* Disable: MSI-X off, irqfds deassigned, eventfds closed, INTx back. */
	fake_hostops_clear_calls(fake);
	cfg_write(GUEST_BDF, cap + 2, 2, 0);
	s = set_irqs_call(0);
	ck_assert_uint_eq(s->index, VFIO_PCI_MSIX_IRQ_INDEX);
	ck_assert_uint_eq(s->count, 0);
	ck_assert_uint_eq(efd_closed, 16);
	s = set_irqs_call(1);
	ck_assert_uint_eq(s->index, VFIO_PCI_INTX_IRQ_INDEX);
	ck_assert_uint_eq(s->flags, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER);
	ck_assert_uint_eq(nroutes, 15 + 23);
}
END_TEST

START_TEST(test_msi_enable)
{
	struct pci_device *d;
	const struct vfio_irq_set *s;
	unsigned int cap;

	create();
	d = vfio_pci_device(vp);
	cap = d->msi_cap;
	ck_assert_uint_ne(cap, 0);
	cfg_write(GUEST_BDF, cap + 4, 4, 0xfee01000);
	cfg_write(GUEST_BDF, cap + 8, 2, 0x4040);
	fake_hostops_clear_calls(fake);
	cfg_write(GUEST_BDF, cap + 2, 2, 0x0021);	/* enable, 4 vectors */
	s = set_irqs_call(1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->index, VFIO_PCI_MSI_IRQ_INDEX);
	ck_assert_uint_eq(s->count, 4);
	ck_assert_uint_eq(nroutes, 15 + 23 + 4);
	for (unsigned int v = 0; v < 4; v++) {
		const struct kvm_irq_routing_entry *e = &routes[15 + 23 + v];

		ck_assert_uint_eq(e->type, KVM_IRQ_ROUTING_MSI);
		ck_assert_uint_eq(e->gsi, MACHINE_IOAPIC_PINS + v);
		ck_assert_uint_eq(e->u.msi.address_lo, 0xfee01000);
		ck_assert_uint_eq(e->u.msi.data, 0x4040 | v);
	}
}
END_TEST

/* ---- MSI-X after enable: re-programming, masks, pending bits ---- */

START_TEST(test_msix_reprogram_while_enabled)
{
	uint64_t table;
	unsigned int calls;

	create();
	msix_on();
	table = msix_addr(4);
	calls = nrouting_calls;

	/* Linux moving vector 3 to another CPU: mask, address and data, unmask. */
	mask(3, true);
	ck_assert_ptr_null(route_of(3));
	ck_assert_int_eq(efd_gsi[VEC_EFD(3) - FIRST_EFD], -1);
	ck_assert_uint_eq(nrouting_calls, calls + 1);
	bus_write(&vm.mmio, table + 16 * 3, 4, 0xfee05000);
	bus_write(&vm.mmio, table + 16 * 3 + 4, 4, 0);
	bus_write(&vm.mmio, table + 16 * 3 + 8, 4, 0x4099);
	ck_assert_uint_eq(nrouting_calls, calls + 1);	/* masked: nothing for KVM */
	mask(3, false);
	ck_assert_uint_eq(nrouting_calls, calls + 2);
	assert_route(3, 0xfee05000, 0x4099);
	ck_assert_int_eq(efd_gsi[VEC_EFD(3) - FIRST_EFD], (int)VEC_GSI(3));
	fire(VEC_EFD(3));
	ck_assert_uint_eq(nkvm_msis, 1);
	ck_assert_uint_eq(kvm_msis[0].address, 0xfee05000);
	ck_assert_uint_eq(kvm_msis[0].data, 0x4099);

	/* Rewritten without masking (older kernels, other guests): seen at once. */
	fake_hostops_clear_calls(fake);
	bus_write(&vm.mmio, table + 16 * 4 + 8, 4, 0x40aa);
	ck_assert_uint_eq(nrouting_calls, calls + 3);
	assert_route(4, VEC_ADDR(4), 0x40aa);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, KVM_IRQFD), 0);
	fire(VEC_EFD(4));
	ck_assert_uint_eq(kvm_msis[1].data, 0x40aa);
	/* The same value again changes nothing. */
	bus_write(&vm.mmio, table + 16 * 4 + 8, 4, 0x40aa);
	ck_assert_uint_eq(nrouting_calls, calls + 3);

	/* The others kept theirs; nothing reached the guest any other way. */
	for (unsigned int v = 0; v < 16; v++)
		if (v != 3 && v != 4)
			assert_route(v, VEC_ADDR(v), VEC_DATA(v));
	ck_assert_uint_eq(nmsis, 0);
	ck_assert_uint_eq(kvm_dropped, 0);
}
END_TEST

START_TEST(test_msix_masked_vector_pending)
{
	create();
	msix_on();

	/* Masked: off its irqfd and routeless, so what the device sends waits. */
	mask(2, true);
	ck_assert_ptr_null(route_of(2));
	ck_assert_int_eq(efd_gsi[VEC_EFD(2) - FIRST_EFD], -1);
	fire(VEC_EFD(2));
	fire(VEC_EFD(2));
	ck_assert_uint_eq(nkvm_msis + nmsis + kvm_dropped, 0);

	/* The PBA shows it; reading it twice changes nothing. */
	ck_assert_uint_eq(pba(), 1u << 2);
	ck_assert_uint_eq(pba(), 1u << 2);
	ck_assert_uint_eq(efd_count[VEC_EFD(2) - FIRST_EFD], 0);

	/* More while masked after the PBA read: still one pending message. */
	fire(VEC_EFD(2));
	mask(2, false);
	ck_assert_uint_eq(nmsis + nkvm_msis, 1);
	ck_assert_uint_eq(nmsis, 1);
	ck_assert_uint_eq(msis[0].address, VEC_ADDR(2));
	ck_assert_uint_eq(msis[0].data, VEC_DATA(2));
	ck_assert_uint_eq(pba(), 0);
	ck_assert_uint_eq(efd_count[VEC_EFD(2) - FIRST_EFD], 0);

	/* Unmasked again: the irqfd delivers, the VMM is out of the way. */
	assert_route(2, VEC_ADDR(2), VEC_DATA(2));
	fire(VEC_EFD(2));
	ck_assert_uint_eq(nkvm_msis, 1);
	ck_assert_uint_eq(kvm_msis[0].data, VEC_DATA(2));
	ck_assert_uint_eq(nmsis, 1);

	/* Held and unmasked without a PBA read in between: delivered on unmask. */
	mask(7, true);
	fire(VEC_EFD(7));
	ck_assert_uint_eq(nmsis + nkvm_msis, 2);
	mask(7, false);
	ck_assert_uint_eq(nmsis, 2);
	ck_assert_uint_eq(msis[1].data, VEC_DATA(7));
	ck_assert_uint_eq(pba(), 0);

	/* Masked and unmasked with nothing sent: nothing delivered. */
	mask(9, true);
	mask(9, false);
	ck_assert_uint_eq(nmsis + nkvm_msis, 3);
	ck_assert_uint_eq(kvm_dropped, 0);
}
END_TEST

START_TEST(test_msix_function_mask_pending)
{
	unsigned int cap;

	create();
	msix_on();
	cap = vfio_pci_device(vp)->msix_cap;

	/* Function Mask holds every vector: all off their irqfds. */
	cfg_write(GUEST_BDF, cap + 2, 2, 0xc000);
	for (unsigned int v = 0; v < 16; v++)
		ck_assert_int_eq(efd_gsi[VEC_EFD(v) - FIRST_EFD], -1);
	ck_assert_uint_eq(nroutes, 15 + 23);
	fire(VEC_EFD(1));
	fire(VEC_EFD(9));
	fire(VEC_EFD(9));
	ck_assert_uint_eq(pba(), 1u << 1 | 1u << 9);
	fire(VEC_EFD(9));		/* after the PBA read: merges with its pending bit */
	fire(VEC_EFD(12));

	/* Cleared: each held vector once, by its own message; all back on irqfds. */
	cfg_write(GUEST_BDF, cap + 2, 2, 0x8000);
	ck_assert_uint_eq(nkvm_msis, 0);
	ck_assert_uint_eq(nmsis, 3);
	for (unsigned int i = 0; i < 3; i++) {
		unsigned int v = (msis[i].address >> 12) & 0xff;

		ck_assert_msg(v == 1 || v == 9 || v == 12, "vector %u sent", v);
		ck_assert_uint_eq(msis[i].data, VEC_DATA(v));
	}
	ck_assert_uint_ne(msis[0].address, msis[1].address);
	ck_assert_uint_ne(msis[1].address, msis[2].address);
	ck_assert_uint_ne(msis[0].address, msis[2].address);
	ck_assert_uint_eq(pba(), 0);
	for (unsigned int v = 0; v < 16; v++) {
		ck_assert_int_eq(efd_gsi[VEC_EFD(v) - FIRST_EFD], (int)VEC_GSI(v));
		assert_route(v, VEC_ADDR(v), VEC_DATA(v));
	}
}
END_TEST

/* The device signals again right after the VMM read the eventfd (once). */
static void fire_again(int fd)
{
	after_read = NULL;
	fire(fd);
}

START_TEST(test_msix_unmask_race)
{
	create();
	msix_on();
	mask(6, true);
	fire(VEC_EFD(6));
	/*
	 * An interrupt between the unmask's eventfd read and its irqfd is not
	 * lost: the eventfd still counts it when KVM_IRQFD assigns it, and KVM
	 * delivers it through the route, which is already in place.
	 */
	after_read = fire_again;
	mask(6, false);
	ck_assert_ptr_null(after_read);
	ck_assert_uint_eq(nmsis, 1);
	ck_assert_uint_eq(nkvm_msis, 1);
	ck_assert_uint_eq(kvm_msis[0].data, VEC_DATA(6));
	ck_assert_uint_eq(kvm_dropped, 0);
	ck_assert_uint_eq(efd_count[VEC_EFD(6) - FIRST_EFD], 0);
}
END_TEST

START_TEST(test_msi_reprogram_while_enabled)
{
	unsigned int cap, calls;

	create();
	cap = vfio_pci_device(vp)->msi_cap;
	cfg_write(GUEST_BDF, 0x04, 2, 0x0006);
	cfg_write(GUEST_BDF, cap + 4, 4, 0xfee01000);
	cfg_write(GUEST_BDF, cap + 8, 2, 0x4040);
	cfg_write(GUEST_BDF, cap + 2, 2, 0x0001);	/* one vector */
	assert_route(0, 0xfee01000, 0x4040);
	calls = nrouting_calls;

	/* Linux moves an MSI vector by rewriting address and data, still enabled. */
	cfg_write(GUEST_BDF, cap + 4, 4, 0xfee03000);
	assert_route(0, 0xfee03000, 0x4040);
	cfg_write(GUEST_BDF, cap + 8, 2, 0x4051);
	assert_route(0, 0xfee03000, 0x4051);
	ck_assert_uint_eq(nrouting_calls, calls + 2);
	cfg_write(GUEST_BDF, cap + 8, 2, 0x4051);
	ck_assert_uint_eq(nrouting_calls, calls + 2);
	fire(VEC_EFD(0));
	ck_assert_uint_eq(nkvm_msis, 1);
	ck_assert_uint_eq(kvm_msis[0].address, 0xfee03000);
}
END_TEST

/* ---- vCPUs and the device racing ---- */

/*
 * Vectors 0-3 race. epoch[v] is odd while vector v is surely masked: from
 * the moment its mask write has returned (the hook ran) until its next
 * unmask write starts. A fire that began and ended within one odd epoch
 * was held, and the unmask ending that epoch owes the guest a message.
 */
static atomic_uint sent[4], epoch[4], caught;
static atomic_bool racing;
static unsigned int fired[4], owed[4];		/* the device thread's */

static int count_msi(struct vm *v, uint64_t address, uint32_t data)
{
	unsigned int vec = (address >> 12) & 0xff;

	(void)v;
	ck_assert_uint_lt(vec, 4);
	ck_assert_uint_eq(data, VEC_DATA(vec));
	atomic_fetch_add(&sent[vec], 1);
	return 0;
}

static void *race_device(void *arg)
{
	unsigned int seen[4] = { 0 };	/* the last epoch counted in owed[] */

	(void)arg;
	for (unsigned int i = 0; atomic_load(&racing); i++) {
		unsigned int v = i % 4, before = atomic_load(&epoch[v]);

		fire(VEC_EFD(v));
		fired[v]++;
		if ((before & 1) && atomic_load(&epoch[v]) == before && seen[v] != before) {
			seen[v] = before;
			owed[v]++;
			atomic_fetch_add(&caught, 1);
		}
	}
	return NULL;
}

/*
 * Vectors 2 * @arg and 2 * @arg + 1 masked and unmasked, the PBA read;
 * 2000 times, and on until the device has fired into a few masked spans.
 */
static void *race_vcpu(void *arg)
{
	unsigned int first = 2 * (unsigned int)(uintptr_t)arg;
	uint64_t table = msix_addr(4), pba_at = msix_addr(8);
	uint8_t data[8];

	for (unsigned int i = 0; i < 2000 || (atomic_load(&caught) < 8 && i < 100000); i++) {
		uint32_t m = i & 1;
		unsigned int v = first + (i / 2) % 2;

		if (!m && (atomic_load(&epoch[v]) & 1))
			atomic_fetch_add(&epoch[v], 1);
		memcpy(data, &m, 4);
		bus_dispatch(&vm.mmio, table + 16 * v + 12, data, 4, true);
		if (m && !(atomic_load(&epoch[v]) & 1))
			atomic_fetch_add(&epoch[v], 1);
		bus_dispatch(&vm.mmio, pba_at, data, 8, false);
	}
	return NULL;
}

START_TEST(test_msix_race)
{
	pthread_t dev, cpu[2];

	create();
	msix_on();
	pci_signal_msi = count_msi;
	atomic_store(&racing, true);
	ck_assert_int_eq(pthread_create(&dev, NULL, race_device, NULL), 0);
	for (uintptr_t i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&cpu[i], NULL, race_vcpu, (void *)i), 0);
	for (unsigned int i = 0; i < 2; i++)
		pthread_join(cpu[i], NULL);
	atomic_store(&racing, false);
	pthread_join(dev, NULL);

	/* Everything unmasked: nothing held anywhere, every vector on its irqfd. */
	for (unsigned int v = 0; v < 4; v++)
		mask(v, false);
	ck_assert_uint_eq(pba(), 0);
	for (unsigned int v = 0; v < 4; v++) {
		ck_assert_uint_eq(efd_count[VEC_EFD(v) - FIRST_EFD], 0);
		ck_assert_int_eq(efd_gsi[VEC_EFD(v) - FIRST_EFD], (int)VEC_GSI(v));
		assert_route(v, VEC_ADDR(v), VEC_DATA(v));
	}
	/*
	 * Per vector: held interrupts merge and none is made up (at most one
	 * message a fire), but every masked span the device fired into gave
	 * one message (from the VMM) at its unmask, and a vector fired at all
	 * reached the guest.
	 */
	ck_assert_uint_gt(atomic_load(&caught), 0);
	for (unsigned int v = 0; v < 4; v++) {
		unsigned int got = atomic_load(&sent[v]) + kvm_gsi_msis[VEC_GSI(v)];

		ck_assert_msg(got <= fired[v], "vector %u: %u messages for %u fires", v, got,
			      fired[v]);
		ck_assert_msg(atomic_load(&sent[v]) >= owed[v],
			      "vector %u: %u held messages for %u masked spans fired into", v,
			      atomic_load(&sent[v]), owed[v]);
		ck_assert(got > 0 || !fired[v]);
	}
	ck_assert_uint_eq(kvm_dropped, 0);
}
END_TEST

/* A guest's config write; the device gets nothing from it but the command register. */
static void hostile_write(unsigned int off, unsigned int len, uint64_t val)
{
	unsigned int was = nrws;

	bus_write(&vm.mmio, ecam(GUEST_BDF, off), len, val);
	for (unsigned int i = was; i < nrws; i++)
		ck_assert_msg(!rws[i].write || (rws[i].off == CFG_OFF + 4 && rws[i].len == 2),
			      "%u bytes at %#x: %zu written at %#llx", len, off, rws[i].len,
			      (unsigned long long)rws[i].off);
}

/* @len bytes of @val at every offset, or (words and up) every unaligned one. */
static void write_everywhere(unsigned int len, uint64_t val)
{
	for (unsigned int off = 0; off + len <= PCI_CFG_SIZE; off++)
		if (len == 1 || off % len)
			hostile_write(off, len, val);
}

START_TEST(test_hostile_writes_stay_virtual)
{
	static const struct { unsigned int off, len; uint64_t val; uint16_t cmd; } straddle[] = {
		{ 0x03, 2, 0x0700, 0x0007 }, { 0x02, 4, 0x04060000, 0x0406 },
		{ 0x05, 1, 0x00, 0x0006 }, { 0x01, 8, 0x02000000, 0x0002 }, { 0x05, 2, 0x04, 0x0402 },
	};
	uint8_t before[PCI_CFG_SIZE];
	const struct vfio_irq_set *s;
	uint32_t bars[PCI_NUM_BARS];

	create();
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		bars[i] = gcfg(0x10 + 4 * i, 4);
	memcpy(before, devcfg, sizeof(before));
	nrws = 0;
	/* Where the vendor cap and AER are on the device, BARs, ROM, PASID, header. */
	for (unsigned int off = 0x08; off < PCI_CFG_SIZE; off += 4)
		hostile_write(off, 4, 0xffffffff);
	hostile_write(0x06, 2, 0xffff);
	/*
	 * Bytes at every offset, words at odd ones, dwords and qwords straddling
	 * registers (the command register among them: 0x03, 0x05), all ones,
	 * then all zeroes.
	 */
	for (unsigned int pass = 0; pass < 2; pass++) {
		uint64_t val = pass ? 0 : ~0ULL;

		for (unsigned int len = 1; len <= 8; len *= 2)
			write_everywhere(len, val);
	}
	/* The device has the guest's command register. */
	ck_assert_uint_gt(nrws, 0);
	ck_assert(rws[nrws - 1].write);
	ck_assert_uint_eq(rws[nrws - 1].val, gcfg(0x04, 2));
	/* Each write that changes the command register from a neighbour's offset reaches it. */
	for (unsigned int i = 0; i < sizeof(straddle) / sizeof(straddle[0]); i++) {
		unsigned int was = nrws;

		hostile_write(straddle[i].off, straddle[i].len, straddle[i].val);
		ck_assert_uint_eq(gcfg(0x04, 2), straddle[i].cmd);
		ck_assert_uint_eq(nrws, was + 1);
		ck_assert_uint_eq(rws[was].off, CFG_OFF + 4);
		ck_assert_uint_eq(rws[was].val, straddle[i].cmd);
	}
	ck_assert(!memcmp(before, devcfg, sizeof(before)));
	/* Still the device's IDs, its kept capabilities only, nothing of the vendor cap or AER. */
	ck_assert_uint_eq(gcfg(0, 4), 0x12348086);
	assert_cap_list();
	ck_assert_uint_eq(gcfg(0x100, 4) & 0xffff, PCI_EXT_CAP_ID_PASID);
	ck_assert_uint_eq(gcfg(0x108, 4), 0);
	ck_assert_uint_eq(gcfg(0x30, 4), 0);

	/* Still a function a driver can use: BARs back, MSI-X anew, each vector to the guest. */
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		cfg_write(GUEST_BDF, 0x10 + 4 * i, 4, bars[i]);
	fake_hostops_clear_calls(fake);
	msix_on_at(GUEST_BDF, VEC_DATA(0));
	s = set_irqs_call(1);
	ck_assert_uint_eq(s->index, VFIO_PCI_MSIX_IRQ_INDEX);
	ck_assert_uint_eq(s->count, 16);
	for (unsigned int v = 0; v < 16; v++)
		fire(irq_set_fd(s, v));
	ck_assert_uint_eq(nkvm_msis, 16);
	for (unsigned int v = 0; v < 16; v++)
		ck_assert_uint_eq(kvm_msis[v].data, VEC_DATA(v));
	ck_assert_uint_eq(kvm_dropped, 0);
}
END_TEST

START_TEST(test_destroy_releases)
{
	const struct kvm_irqfd *f;

	create();
	fake_hostops_clear_calls(fake);
	vfio_pci_destroy(vp);
	vp = NULL;
	ck_assert_uint_eq(efd_closed, 2);
	f = (const void *)fake_hostops_find(fake, FAKE_IOCTL, KVM_IRQFD, 0)->arg;
	ck_assert_uint_eq(f->flags, KVM_IRQFD_FLAG_DEASSIGN);
	ck_assert_uint_eq(set_irqs_call(0)->count, 0);
}
END_TEST

START_TEST(test_query_failure)
{
	char err[256] = "";

	fake_hostops_fail_ioctl(fake, VFIO_DEVICE_GET_REGION_INFO, EIO);
	ck_assert_ptr_null(vfio_pci_create(&vm, &ops, devfd, GUEST_BDF, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "VFIO_DEVICE_GET_REGION_INFO"));
	ck_assert_ptr_null(pci_find(&vm, GUEST_BDF));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vfio_pci");
	TCase *tc = tcase_create("model");

	tcase_add_checked_fixture(tc, vsetup, vteardown);
	tcase_add_test(tc, test_region_and_irq_info);
	tcase_add_test(tc, test_config_filtered);
	tcase_add_test(tc, test_bars);
	tcase_add_test(tc, test_bar_forwarding);
	tcase_add_test(tc, test_intx_wired_at_create);
	tcase_add_test(tc, test_msix_enable);
	tcase_add_test(tc, test_msi_enable);
	tcase_add_test(tc, test_msix_reprogram_while_enabled);
	tcase_add_test(tc, test_msix_masked_vector_pending);
	tcase_add_test(tc, test_msix_function_mask_pending);
	tcase_add_test(tc, test_msix_unmask_race);
	tcase_add_test(tc, test_msi_reprogram_while_enabled);
	tcase_add_test(tc, test_msix_race);
	tcase_add_test(tc, test_hostile_writes_stay_virtual);
	tcase_add_test(tc, test_destroy_releases);
	tcase_add_test(tc, test_query_failure);
	suite_add_tcase(s, tc);
	return check_run(s);
}
