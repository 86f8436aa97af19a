/* SPDX-License-Identifier: MIT */
/*
 * A fake passed-through function for the tests of vfio-pci.c
 * (check_vfio_pci.c, check_vfio_pci_mmap.c). Its regions (with optional
 * sparse mmap areas), config space and interrupt counts are tables here;
 * ops is the fake's host_ops with the device layered on: region reads and
 * writes, mmaps (the fake's anonymous shared memory) and eventfds are
 * recorded here, in tables the tests read.
 *
 * KVM's half of the interrupts is modelled from the ioctls vfio-pci sends
 * through the fake host_ops: the routing table (refused whole, EINVAL, if
 * it has a GSI at or more entries than kvm_max_routes, which
 * KVM_CHECK_EXTENSION(KVM_CAP_IRQ_ROUTING) reports), which eventfd is on
 * which irqfd, and each eventfd's count. fire() raises a vector the way VFIO
 * does: delivered through its irqfd and route if it has one (recorded in
 * kvm_msis), counted in the eventfd otherwise; assigning an irqfd to an
 * eventfd with a count delivers it, as KVM_IRQFD does. Reading an eventfd
 * that is on an irqfd fails the test: that count is KVM's.
 *
 * Include after pci_testutil.h; everything is static.
 */
#ifndef TAGVMM_TESTS_VFIO_PCI_FAKE_H
#define TAGVMM_TESTS_VFIO_PCI_FAKE_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/kvm.h>

#include "fake_hostops.h"
#include "lib/vfio-compat.h"
#include "vmm/vfio.h"

#define CFG_OFF		(7ULL << 40)
#define REGION_OFF(i)	((uint64_t)(i) << 40)
#define FIRST_EFD	500
#define MAX_EFDS	64

static struct fake_hostops *fake;
static struct host_ops ops;
static int devfd;
static uint8_t devcfg[PCI_CFG_SIZE];

struct fake_region {
	uint64_t size, offset;
	uint32_t flags;
	unsigned int nsparse;		/* > 0: a VFIO_REGION_INFO_CAP_SPARSE_MMAP */
	struct vfio_region_sparse_mmap_area sparse[4];
};
static struct fake_region region[8];	/* by VFIO index */
static uint32_t irq_count[3];

/* Region accesses, other than config reads. */
struct rw { bool write; uint64_t off; size_t len; uint32_t val; };
static struct rw rws[256];
static unsigned int nrws;

/* mmaps of the device fd. */
struct fake_map { void *p; size_t len; uint64_t off; bool unmapped; };
static struct fake_map maps[16];
static unsigned int nmaps;
static uint64_t mmap_fails_at = UINT64_MAX;	/* a device offset whose mmap fails */

/*
 * KVM, as far as the tests need it. kvm_lock and host_lock (the recording
 * fake is not thread-safe) let tests race vCPU threads against the device.
 */
static pthread_mutex_t kvm_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t host_lock = PTHREAD_MUTEX_INITIALIZER;
static int next_efd;
static unsigned int efd_closed;
static uint64_t efd_count[MAX_EFDS];
static int efd_gsi[MAX_EFDS];			/* -1: on no irqfd */
static struct kvm_irq_routing_entry routes[256];
static unsigned int nroutes, nrouting_calls;
static struct msi_event kvm_msis[256];		/* what irqfds delivered (the first 256) */
static unsigned int nkvm_msis, kvm_dropped;	/* dropped: an irqfd GSI with no MSI route */
static unsigned int kvm_gsi_msis[256];		/* deliveries by GSI (those under 256) */
static unsigned int kvm_max_routes;		/* KVM_MAX_IRQ_ROUTES */
static void (*after_read)(int fd);		/* runs after an eventfd read (races) */

static inline void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/*
 * vendor 8086 device 1234, a network controller; BAR0 64-bit prefetchable
 * 16 KiB, BAR2 32-bit 4 KiB, BAR4 I/O 32 bytes, all trapped (no
 * FLAG_MMAP); caps MSI -> VNDR -> PCIe -> MSI-X (16 entries in BAR2),
 * extended AER -> PASID (20 bits).
 */
static inline void make_device(void)
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
	region[0] = (struct fake_region){ .size = 0x4000, .offset = REGION_OFF(0), .flags = 3 };
	region[2] = (struct fake_region){ .size = 0x1000, .offset = REGION_OFF(2), .flags = 3 };
	region[4] = (struct fake_region){ .size = 32, .offset = REGION_OFF(4), .flags = 3 };
	region[7] = (struct fake_region){ .size = PCI_CFG_SIZE, .offset = CFG_OFF, .flags = 3 };
	irq_count[0] = 1;
	irq_count[1] = 4;
	irq_count[2] = 16;
}

/* KVM delivering GSI @gsi: through its MSI route, if it has one. kvm_lock held. */
static inline void kvm_deliver(uint32_t gsi)
{
	for (unsigned int i = 0; i < nroutes; i++) {
		if (routes[i].gsi == gsi && routes[i].type == KVM_IRQ_ROUTING_MSI) {
			if (nkvm_msis < 256)
				kvm_msis[nkvm_msis] = (struct msi_event){
					routes[i].u.msi.address_lo |
					(uint64_t)routes[i].u.msi.address_hi << 32,
					routes[i].u.msi.data };
			nkvm_msis++;
			if (gsi < 256)
				kvm_gsi_msis[gsi]++;
			return;
		}
	}
	kvm_dropped++;
}

static inline unsigned int efd_index(int fd)
{
	ck_assert_int_ge(fd, FIRST_EFD);
	ck_assert_int_lt(fd, FIRST_EFD + MAX_EFDS);
	return (unsigned int)(fd - FIRST_EFD);
}

/* VFIO signals eventfd @fd. */
static inline void fire(int fd)
{
	unsigned int i = efd_index(fd);

	pthread_mutex_lock(&kvm_lock);
	if (efd_gsi[i] >= 0)
		kvm_deliver((uint32_t)efd_gsi[i]);
	else
		efd_count[i]++;
	pthread_mutex_unlock(&kvm_lock);
}

static inline int test_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	int ret;

	pthread_mutex_lock(&host_lock);
	ret = fake_hostops_ioctl(ctx, fd, req, arg);
	pthread_mutex_unlock(&host_lock);
	if (ret < 0)
		return ret;
	if (req == VFIO_DEVICE_GET_REGION_INFO) {
		struct vfio_region_info *r = arg;
		const struct fake_region *f;
		struct vfio_region_info_cap_sparse_mmap sp = { 0 };
		uint32_t need = sizeof(*r);

		ck_assert_uint_lt(r->index, 8);
		f = &region[r->index];
		r->size = f->size;
		r->offset = f->offset;
		r->flags = f->flags;
		r->cap_offset = 0;
		if (!f->nsparse)
			return ret;
		/* As the kernel does: the caps if they fit, else the size they need. */
		need += sizeof(sp) + f->nsparse * sizeof(f->sparse[0]);
		r->flags |= VFIO_REGION_INFO_FLAG_CAPS;
		if (r->argsz < need) {
			r->argsz = need;
			return ret;
		}
		sp.header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
		sp.header.version = 1;
		sp.nr_areas = f->nsparse;
		memcpy((uint8_t *)arg + sizeof(*r), &sp, sizeof(sp));
		memcpy((uint8_t *)arg + sizeof(*r) + sizeof(sp), f->sparse,
		       f->nsparse * sizeof(f->sparse[0]));
		r->cap_offset = sizeof(*r);
	} else if (req == VFIO_DEVICE_GET_IRQ_INFO) {
		struct vfio_irq_info *q = arg;

		if (q->index < 3) {
			q->count = irq_count[q->index];
			q->flags = VFIO_IRQ_INFO_EVENTFD;
		}
	} else if (req == KVM_CHECK_EXTENSION) {
		return (uintptr_t)arg == KVM_CAP_IRQ_ROUTING ? (int)kvm_max_routes : 0;
	} else if (req == KVM_SET_GSI_ROUTING) {
		struct kvm_irq_routing *r = arg;
		bool refused = r->nr > kvm_max_routes;

		for (unsigned int i = 0; i < r->nr; i++)
			refused |= r->entries[i].gsi >= kvm_max_routes;
		if (refused) {
			errno = EINVAL;	/* KVM keeps its table */
			return -1;
		}
		ck_assert_uint_le(r->nr, 256);
		pthread_mutex_lock(&kvm_lock);
		memcpy(routes, r->entries, r->nr * sizeof(routes[0]));
		nroutes = r->nr;
		nrouting_calls++;
		pthread_mutex_unlock(&kvm_lock);
	} else if (req == KVM_IRQFD) {
		const struct kvm_irqfd *f = arg;
		unsigned int i = efd_index((int)f->fd);

		pthread_mutex_lock(&kvm_lock);
		if (f->flags & KVM_IRQFD_FLAG_DEASSIGN) {
			ck_assert_int_eq(efd_gsi[i], (int)f->gsi);
			efd_gsi[i] = -1;
		} else {
			ck_assert_int_eq(efd_gsi[i], -1);
			efd_gsi[i] = (int)f->gsi;
			/* KVM_IRQFD delivers what the eventfd already counts. */
			if (efd_count[i]) {
				efd_count[i] = 0;
				kvm_deliver(f->gsi);
			}
		}
		pthread_mutex_unlock(&kvm_lock);
	}
	return ret;
}

static inline ssize_t fake_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	(void)ctx;
	ck_assert_int_eq(fd, devfd);
	if ((uint64_t)off >= CFG_OFF) {
		ck_assert_uint_le((uint64_t)off - CFG_OFF + len, PCI_CFG_SIZE);
		memcpy(buf, devcfg + (off - (off_t)CFG_OFF), len);
		return (ssize_t)len;
	}
	ck_assert_uint_lt(nrws, 256);
	rws[nrws++] = (struct rw){ false, (uint64_t)off, len, 0 };
	memset(buf, 0x3c, len);
	return (ssize_t)len;
}

static inline ssize_t fake_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	uint32_t v = 0;

	(void)ctx;
	ck_assert_int_eq(fd, devfd);
	memcpy(&v, buf, len < 4 ? len : 4);
	ck_assert_uint_lt(nrws, 256);
	rws[nrws++] = (struct rw){ true, (uint64_t)off, len, v };
	return (ssize_t)len;
}

static inline void *fake_mmap(void *ctx, int fd, size_t len, off_t off)
{
	void *p;

	ck_assert_int_eq(fd, devfd);
	if ((uint64_t)off == mmap_fails_at) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	pthread_mutex_lock(&host_lock);
	p = fake_hostops_mmap(ctx, fd, len, off);
	pthread_mutex_unlock(&host_lock);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_uint_lt(nmaps, 16);
	maps[nmaps++] = (struct fake_map){ p, len, (uint64_t)off, false };
	return p;
}

static inline int fake_munmap(void *ctx, void *addr, size_t len)
{
	int ret;

	for (unsigned int i = 0; i < nmaps; i++) {
		if (maps[i].p == addr && !maps[i].unmapped) {
			ck_assert_uint_eq(maps[i].len, len);
			maps[i].unmapped = true;
			pthread_mutex_lock(&host_lock);
			ret = fake_hostops_munmap(ctx, addr, len);
			pthread_mutex_unlock(&host_lock);
			return ret;
		}
	}
	ck_abort_msg("munmap of %p, which the fake did not map", addr);
	return -1;
}

/* The mmap of device offset @off, or NULL. */
static inline struct fake_map *map_at(uint64_t off)
{
	for (unsigned int i = 0; i < nmaps; i++)
		if (maps[i].off == off)
			return &maps[i];
	return NULL;
}

static inline int fake_eventfd(void *ctx)
{
	(void)ctx;
	ck_assert_int_lt(next_efd, FIRST_EFD + MAX_EFDS);
	return next_efd++;
}

static inline ssize_t fake_read(void *ctx, int fd, void *buf, size_t len)
{
	unsigned int i = efd_index(fd);
	ssize_t ret = (ssize_t)sizeof(uint64_t);

	(void)ctx;
	ck_assert_uint_eq(len, sizeof(uint64_t));
	pthread_mutex_lock(&kvm_lock);
	ck_assert_msg(efd_gsi[i] < 0, "eventfd %d read while on an irqfd", fd);
	if (!efd_count[i]) {
		errno = EAGAIN;
		ret = -1;
	} else {
		memcpy(buf, &efd_count[i], sizeof(uint64_t));
		efd_count[i] = 0;
	}
	pthread_mutex_unlock(&kvm_lock);
	if (after_read)
		after_read(fd);
	return ret;
}

/* vfio-pci closes only the eventfds it made: the device fd is vfio.c's. */
static inline int fake_close(void *ctx, int fd)
{
	(void)ctx;
	ck_assert_int_ge(fd, FIRST_EFD);
	efd_closed++;
	return 0;
}

/* The fake's state back to nothing, the device to make_device()'s. */
static inline void fake_device_reset(void)
{
	make_device();
	nrws = nmaps = 0;
	mmap_fails_at = UINT64_MAX;
	next_efd = FIRST_EFD;
	efd_closed = 0;
	memset(efd_count, 0, sizeof(efd_count));
	for (unsigned int i = 0; i < MAX_EFDS; i++)
		efd_gsi[i] = -1;
	nroutes = nrouting_calls = nkvm_msis = kvm_dropped = 0;
	memset(kvm_gsi_msis, 0, sizeof(kvm_gsi_msis));
	kvm_max_routes = 4096;
	after_read = NULL;
}

/*
 * The fake host_ops with the VFIO and KVM requests it records declared,
 * the device's cdev, and the device and KVM layered on in ops.
 */
static inline void fake_host_new(void)
{
	fake = fake_hostops_new();
	ck_assert_ptr_nonnull(fake);
	ops = fake->ops;
	ops.ioctl = test_ioctl;
	ops.pread = fake_pread;
	ops.pwrite = fake_pwrite;
	ops.mmap = fake_mmap;
	ops.munmap = fake_munmap;
	ops.eventfd = fake_eventfd;
	ops.read = fake_read;
	ops.close = fake_close;
	fake_hostops_arg_sized(fake, VFIO_DEVICE_GET_REGION_INFO);
	fake_hostops_arg_sized(fake, VFIO_DEVICE_GET_IRQ_INFO);
	fake_hostops_arg_sized(fake, VFIO_DEVICE_SET_IRQS);
	fake_hostops_arg_fixed(fake, KVM_IRQFD, sizeof(struct kvm_irqfd));
	fake_hostops_add_node(fake, "/dev/vfio/devices/vfio0");
	devfd = fake->ops.open(fake, "/dev/vfio/devices/vfio0", O_RDWR);
	fake_device_reset();
}

#endif
