/* SPDX-License-Identifier: MIT */
/*
 * What the bus-only tests of vfio-pci.c share (check_vfio_pci.c,
 * check_vfio_pci_routes.c): a VM with just the buses and the host bridge
 * (pci_testutil.h) whose KVM is vfio_pci_fake.h's model, the function
 * under test (vp, at GUEST_BDF), and the guest's side of MSI-X.
 *
 * Include after pci_testutil.h and vfio_pci_fake.h; everything is static.
 */
#ifndef TAGVMM_TESTS_VFIO_PCI_GUEST_H
#define TAGVMM_TESTS_VFIO_PCI_GUEST_H

#include <check.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <linux/kvm.h>

#define GUEST_BDF	BDF(3, 0)

/* After create() and msix_on(): vector v's eventfd, GSI and message. */
#define VEC_EFD(v)	(FIRST_EFD + 2 + (int)(v))	/* after INTx's trigger and resample */
#define VEC_GSI(v)	(MACHINE_IOAPIC_PINS + (v))
#define VEC_ADDR(v)	(0xfee00000u | (v) << 12)
#define VEC_DATA(v)	(0x4020u + (v))

static struct vfio_pci *vp;

/* A bus-only VM (pci_testutil.h) whose fd is the fake's: KVM is the fake's model. */
static inline void vsetup(void)
{
	setup();
	fake_host_new();
	fake_hostops_add_node(fake, "/dev/kvm-vm");
	vm.vm_fd = fake->ops.open(fake, "/dev/kvm-vm", O_RDWR);
	vp = NULL;
}

static inline void vteardown(void)
{
	vfio_pci_destroy(vp);
	vp = NULL;
	fake_hostops_free(fake);
	vm.vm_fd = -1;
	teardown();
}

/* The fake device's function at @bdf. */
static inline struct vfio_pci *create_at(uint16_t bdf)
{
	char err[256] = "";
	struct vfio_pci *p = vfio_pci_create(&vm, &ops, devfd, bdf, err, sizeof(err));

	ck_assert_msg(p, "%s", err);
	return p;
}

static inline struct vfio_pci *create(void)
{
	return vp = create_at(GUEST_BDF);
}

static inline uint32_t gcfg(unsigned int off, unsigned int len)
{
	return cfg_read(GUEST_BDF, off, len);
}

static inline const struct vfio_irq_set *set_irqs_call(size_t nth)
{
	const struct fake_call *c = fake_hostops_find(fake, FAKE_IOCTL, VFIO_DEVICE_SET_IRQS, nth);

	return c ? (const struct vfio_irq_set *)c->arg : NULL;
}

static inline int32_t irq_set_fd(const struct vfio_irq_set *s, unsigned int i)
{
	int32_t fd;

	memcpy(&fd, s->data + 4 * i, 4);
	return fd;
}

/* Program MSI-X entry @v through the relocated table at @table. */
static inline void msix_entry(uint64_t table, unsigned int v, uint32_t addr, uint32_t data,
			      bool masked)
{
	bus_write(&vm.mmio, table + 16 * v, 4, addr);
	bus_write(&vm.mmio, table + 16 * v + 4, 4, 0);
	bus_write(&vm.mmio, table + 16 * v + 8, 4, data);
	bus_write(&vm.mmio, table + 16 * v + 12, 4, masked);
}

/* Where the guest finds function @bdf's MSI-X table (@reg 4) or PBA (@reg 8). */
static inline uint64_t msix_addr_at(uint16_t bdf, unsigned int reg)
{
	uint32_t v = cfg_read(bdf, pci_find(&vm, bdf)->msix_cap + reg, 4);

	return (cfg_read(bdf, 0x10 + 4 * (v & 7), 4) & ~0xfu) + (v & ~7u);
}

static inline uint64_t msix_addr(unsigned int reg)
{
	return msix_addr_at(GUEST_BDF, reg);
}

static inline void mask(unsigned int v, bool masked)
{
	bus_write(&vm.mmio, msix_addr(4) + 16 * v + 12, 4, masked);
}

static inline uint64_t pba(void)
{
	return bus_read(&vm.mmio, msix_addr(8), 8);
}

/*
 * MSI-X on at @bdf as Linux turns it on: Function Mask, each entry
 * unmasked with VEC_ADDR(v) and @data0 + v, Function Mask off.
 */
static inline void msix_on_at(uint16_t bdf, uint32_t data0)
{
	struct pci_device *d = pci_find(&vm, bdf);

	cfg_write(bdf, 0x04, 2, 0x0006);
	cfg_write(bdf, d->msix_cap + 2, 2, 0xc000);
	for (unsigned int v = 0; v < d->msix_entries; v++)
		msix_entry(msix_addr_at(bdf, 4), v, VEC_ADDR(v), data0 + v, false);
	cfg_write(bdf, d->msix_cap + 2, 2, 0x8000);
}

/* MSI-X on for vp, every vector on its irqfd with VEC_ADDR/VEC_DATA. */
static inline void msix_on(void)
{
	msix_on_at(GUEST_BDF, VEC_DATA(0));
	for (unsigned int v = 0; v < 16; v++)
		ck_assert_int_eq(efd_gsi[VEC_EFD(v) - FIRST_EFD], (int)VEC_GSI(v));
}

static inline const struct kvm_irq_routing_entry *route_of(unsigned int v)
{
	for (unsigned int i = 0; i < nroutes; i++)
		if (routes[i].gsi == VEC_GSI(v))
			return &routes[i];
	return NULL;
}

static inline void assert_route(unsigned int v, uint32_t addr, uint32_t data)
{
	const struct kvm_irq_routing_entry *e = route_of(v);

	ck_assert_msg(e, "vector %u has no route", v);
	ck_assert_uint_eq(e->type, KVM_IRQ_ROUTING_MSI);
	ck_assert_uint_eq(e->u.msi.address_lo, addr);
	ck_assert_uint_eq(e->u.msi.address_hi, 0);
	ck_assert_uint_eq(e->u.msi.data, data);
}

#endif
