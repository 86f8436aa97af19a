// SPDX-License-Identifier: MIT
/*
 * vfio-pci.c: the guest-facing model of a passed-through function, run
 * against the recording fake host (tests/unit/fake_hostops.h) and a fake
 * device: its regions, config space and interrupt counts are tables here,
 * region reads and writes and eventfds go through a fake struct
 * vfio_pci_io that records them.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "check_main.h"
#include "fake_hostops.h"
#include "pci_testutil.h"
#include "vmm/vfio-compat.h"
#include "vmm/vfio.h"

#define GUEST_BDF	BDF(3, 0)
#define CFG_OFF		(7ULL << 40)
#define REGION_OFF(i)	((uint64_t)(i) << 40)

/* ---- the fake device ---- */

static struct fake_hostops *fake;
static struct host_ops ops;
static int devfd;
static uint8_t devcfg[PCI_CFG_SIZE];
static struct { uint64_t size, offset; uint32_t flags; } region[8];	/* by VFIO index */
static uint32_t irq_count[3];

struct rw { bool write; uint64_t off; size_t len; uint32_t val; };
static struct rw rws[64];
static unsigned int nrws;
static int next_efd;
static unsigned int efd_closed;
static struct kvm_irq_routing_entry routes[256];
static unsigned int nroutes, nrouting_calls;

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/*
 * vendor 8086 device 1234, a network controller; BAR0 64-bit prefetchable
 * 16 KiB, BAR2 32-bit 4 KiB, BAR4 I/O 32 bytes; caps MSI -> VNDR -> PCIe
 * -> MSI-X (16 entries in BAR2), extended AER -> PASID (20 bits).
 */
static void make_device(void)
{
	memset(devcfg, 0, sizeof(devcfg));
	put16(devcfg + 0, 0x8086);
	put16(devcfg + 2, 0x1234);
	put16(devcfg + 4, 0x0007);		/* host left it enabled: not shown */
	put16(devcfg + 6, 0x0010);
	put32(devcfg + 8, 0x02000001);
	devcfg[0x0e] = 0x80;			/* multi-function on the host: not shown */
	put32(devcfg + 0x10, 0xc);
	put32(devcfg + 0x18, 0x0);
	put32(devcfg + 0x20, 0x1);
	put16(devcfg + 0x2c, 0x8086);
	put16(devcfg + 0x2e, 0xabcd);
	put32(devcfg + 0x30, 0xfff00001);	/* ROM: not shown */
	devcfg[0x34] = 0x40;
	devcfg[0x3d] = 1;
	devcfg[0x40] = 0x05; devcfg[0x41] = 0x50;
	put16(devcfg + 0x42, 0x0084);		/* 4 vectors, 64-bit */
	devcfg[0x50] = 0x09; devcfg[0x51] = 0x60; devcfg[0x52] = 0x10;
	devcfg[0x60] = 0x10; devcfg[0x61] = 0x70;
	put16(devcfg + 0x62, 0x0002);
	put32(devcfg + 0x64, 0x10008fc1);	/* FLR capable */
	devcfg[0x70] = 0x11; devcfg[0x71] = 0x00;
	put16(devcfg + 0x72, 15);
	put32(devcfg + 0x74, 0x2);		/* table in BAR2 at 0 */
	put32(devcfg + 0x78, 0x802);
	put32(devcfg + 0x100, 0x0001 | 1u << 16 | 0x140u << 20);	/* AER */
	put32(devcfg + 0x140, 0x001b | 1u << 16);			/* PASID, last */
	put16(devcfg + 0x144, 20 << 8);

	memset(region, 0, sizeof(region));
	region[0] = (typeof(region[0])){ 0x4000, REGION_OFF(0), 7 };
	region[2] = (typeof(region[0])){ 0x1000, REGION_OFF(2), 7 };
	region[4] = (typeof(region[0])){ 32, REGION_OFF(4), 3 };
	region[7] = (typeof(region[0])){ PCI_CFG_SIZE, CFG_OFF, 3 };
	irq_count[0] = 1;
	irq_count[1] = 4;
	irq_count[2] = 16;
}

static int test_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	int ret = fake_hostops_ioctl(ctx, fd, req, arg);

	if (ret < 0)
		return ret;
	if (req == VFIO_DEVICE_GET_REGION_INFO) {
		struct vfio_region_info *r = arg;

		ck_assert_uint_lt(r->index, 8);
		r->size = region[r->index].size;
		r->offset = region[r->index].offset;
		r->flags = region[r->index].flags;
	} else if (req == VFIO_DEVICE_GET_IRQ_INFO) {
		struct vfio_irq_info *q = arg;

		if (q->index < 3) {
			q->count = irq_count[q->index];
			q->flags = VFIO_IRQ_INFO_EVENTFD;
		}
	} else if (req == KVM_SET_GSI_ROUTING) {
		struct kvm_irq_routing *r = arg;

		ck_assert_uint_le(r->nr, 256);
		memcpy(routes, r->entries, r->nr * sizeof(routes[0]));
		nroutes = r->nr;
		nrouting_calls++;
	}
	return ret;
}

static ssize_t fake_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	(void)ctx;
	ck_assert_int_eq(fd, devfd);
	if ((uint64_t)off >= CFG_OFF) {
		ck_assert_uint_le((uint64_t)off - CFG_OFF + len, PCI_CFG_SIZE);
		memcpy(buf, devcfg + (off - (off_t)CFG_OFF), len);
		return (ssize_t)len;
	}
	ck_assert_uint_lt(nrws, 64);
	rws[nrws++] = (struct rw){ false, (uint64_t)off, len, 0 };
	memset(buf, 0x3c, len);
	return (ssize_t)len;
}

static ssize_t fake_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	uint32_t v = 0;

	(void)ctx;
	ck_assert_int_eq(fd, devfd);
	memcpy(&v, buf, len < 4 ? len : 4);
	ck_assert_uint_lt(nrws, 64);
	rws[nrws++] = (struct rw){ true, (uint64_t)off, len, v };
	return (ssize_t)len;
}

static int fake_eventfd(void *ctx)
{
	(void)ctx;
	return next_efd++;
}

static int fake_close(void *ctx, int fd)
{
	(void)ctx;
	ck_assert_int_ge(fd, 500);
	efd_closed++;
	return 0;
}

static const struct vfio_pci_io fake_io = {
	.pread = fake_pread, .pwrite = fake_pwrite, .eventfd = fake_eventfd, .close = fake_close,
};

static struct vfio_pci *vp;

static void vsetup(void)
{
	setup();
	fake = fake_hostops_new();
	ck_assert_ptr_nonnull(fake);
	ops = fake->ops;
	ops.ioctl = test_ioctl;
	fake_hostops_arg_sized(fake, VFIO_DEVICE_GET_REGION_INFO);
	fake_hostops_arg_sized(fake, VFIO_DEVICE_GET_IRQ_INFO);
	fake_hostops_arg_sized(fake, VFIO_DEVICE_SET_IRQS);
	fake_hostops_arg_fixed(fake, KVM_IRQFD, sizeof(struct kvm_irqfd));
	fake_hostops_add_node(fake, "/dev/vfio/devices/vfio0");
	fake_hostops_add_node(fake, "/dev/kvm-vm");
	devfd = fake->ops.open(fake, "/dev/vfio/devices/vfio0", O_RDWR);
	vm.vm_fd = fake->ops.open(fake, "/dev/kvm-vm", O_RDWR);
	make_device();
	nrws = 0;
	next_efd = 500;
	efd_closed = 0;
	nroutes = nrouting_calls = 0;
	vp = NULL;
}

static void vteardown(void)
{
	vfio_pci_destroy(vp);
	vp = NULL;
	fake_hostops_free(fake);
	vm.vm_fd = -1;
	teardown();
}

static struct vfio_pci *create(void)
{
	char err[256] = "";

	vp = vfio_pci_create_with(&vm, &ops, &fake_io, devfd, GUEST_BDF, err, sizeof(err));
	ck_assert_msg(vp, "%s", err);
	return vp;
}

static uint32_t gcfg(unsigned int off, unsigned int len)
{
	return cfg_read(GUEST_BDF, off, len);
}

static const struct vfio_irq_set *set_irqs_call(size_t nth)
{
	const struct fake_call *c = fake_hostops_find(fake, FAKE_IOCTL, VFIO_DEVICE_SET_IRQS, nth);

	return c ? (const struct vfio_irq_set *)c->arg : NULL;
}

static int32_t irq_set_fd(const struct vfio_irq_set *s, unsigned int i)
{
	int32_t fd;

	memcpy(&fd, s->data + 4 * i, 4);
	return fd;
}

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

START_TEST(test_config_filtered)
{
	unsigned int off, ids[8], n = 0;

	create();
	ck_assert_ptr_eq(pci_find(&vm, GUEST_BDF), vfio_pci_device(vp));
	ck_assert_uint_eq(gcfg(0, 4), 0x12348086);
	ck_assert_uint_eq(gcfg(0x08, 4), 0x02000001);
	ck_assert_uint_eq(gcfg(0x2c, 4), 0xabcd8086);
	ck_assert_uint_eq(gcfg(0x04, 2), 0);		/* command starts off */
	ck_assert_uint_eq(gcfg(0x0e, 1), 0);		/* single function */
	ck_assert_uint_eq(gcfg(0x30, 4), 0);		/* no ROM */
	ck_assert(gcfg(0x06, 2) & 0x10);
	/* Standard list: MSI -> PCIe -> MSI-X, the vendor cap gone. */
	for (off = gcfg(0x34, 1); off; off = gcfg(off + 1, 1)) {
		ck_assert_uint_ge(off, 0x40);
		ck_assert_uint_lt(n, 8);
		ids[n++] = gcfg(off, 1);
	}
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(ids[0], PCI_CAP_ID_MSI);
	ck_assert_uint_eq(ids[1], PCI_CAP_ID_EXP);
	ck_assert_uint_eq(ids[2], PCI_CAP_ID_MSIX);
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

/* Program MSI-X entry @v through the relocated table in BAR3. */
static void msix_entry(uint64_t table, unsigned int v, uint32_t addr, uint32_t data, bool masked)
{
	bus_write(&vm.mmio, table + 16 * v, 4, addr);
	bus_write(&vm.mmio, table + 16 * v + 4, 4, 0);
	bus_write(&vm.mmio, table + 16 * v + 8, 4, data);
	bus_write(&vm.mmio, table + 16 * v + 12, 4, masked);
}

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

	/* The INTx irqfd went, one irqfd per vector came, each on its own GSI. */
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, KVM_IRQFD), 17);
	{
		const struct kvm_irqfd *f = (const void *)fake_hostops_find(
			fake, FAKE_IOCTL, KVM_IRQFD, 0)->arg;

		ck_assert_uint_eq(f->flags, KVM_IRQFD_FLAG_DEASSIGN);
		ck_assert_uint_eq(f->fd, 500);
	}
	for (unsigned int v = 0; v < 16; v++) {
		const struct kvm_irqfd *f = (const void *)fake_hostops_find(
			fake, FAKE_IOCTL, KVM_IRQFD, v + 1)->arg;

		ck_assert_uint_eq(f->fd, 502 + v);
		ck_assert_uint_eq(f->gsi, MACHINE_IOAPIC_PINS + v);
		ck_assert_uint_eq(f->flags, 0);
	}

	/* Routes: the base table and the 15 unmasked vectors' messages. */
	ck_assert_uint_ge(nrouting_calls, 2);
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

START_TEST(test_hostile_writes_stay_virtual)
{
	uint8_t before[PCI_CFG_SIZE];

	create();
	memcpy(before, devcfg, sizeof(before));
	nrws = 0;
	/* Where the vendor cap and AER are on the device, BARs, ROM, PASID, header. */
	for (unsigned int off = 0x08; off < PCI_CFG_SIZE; off += 4)
		cfg_write(GUEST_BDF, off, 4, 0xffffffff);
	cfg_write(GUEST_BDF, 0x06, 2, 0xffff);
	for (unsigned int i = 0; i < nrws; i++)
		ck_assert_msg(!rws[i].write, "config write at %#llx leaked",
			      (unsigned long long)rws[i].off);
	ck_assert(!memcmp(before, devcfg, sizeof(before)));
	/* Still nothing of the vendor cap or AER visible. */
	ck_assert_uint_eq(gcfg(0x100, 4) & 0xffff, PCI_EXT_CAP_ID_PASID);
	ck_assert_uint_eq(gcfg(0x108, 4), 0);
	ck_assert_uint_eq(gcfg(0x30, 4), 0);
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
	ck_assert_ptr_null(vfio_pci_create_with(&vm, &ops, &fake_io, devfd, GUEST_BDF, err,
						sizeof(err)));
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
	tcase_add_test(tc, test_hostile_writes_stay_virtual);
	tcase_add_test(tc, test_destroy_releases);
	tcase_add_test(tc, test_query_failure);
	suite_add_tcase(s, tc);
	return check_run(s);
}
