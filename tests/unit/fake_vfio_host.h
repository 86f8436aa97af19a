/* SPDX-License-Identifier: MIT */
/*
 * A fake host with VFIO devices, for tests of --vfio (check_vfio.c) and of
 * VFIO devices behind the vIOMMU (check_viommu_vfio.c): sysfs links and
 * directories, /dev nodes, the VFIO and iommufd ioctls (recorded by
 * fake_hostops.h) and a small fake device behind every cdev.
 *
 * ops is a copy of the fake's host_ops with the device layered on: open
 * refusals, the device's answers to its ioctls and config reads, and its
 * eventfds. Those are counted here (efds_open), not handed out by the
 * fake, so the fds and closes in the fake's log are the host's own.
 * Everything is static: each test program includes this once and gets
 * its own copy.
 */
#ifndef TAGVMM_TESTS_FAKE_VFIO_HOST_H
#define TAGVMM_TESTS_FAKE_VFIO_HOST_H

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <linux/kvm.h>

#include "fake_hostops.h"
#include "lib/iommufd-compat.h"
#include "lib/vfio-compat.h"
#include "vmm/vfio.h"

#define PCI "/sys/bus/pci/devices/"

/* ---- the fake host ---- */

static struct fake_hostops *fake;
static struct host_ops ops;		/* fake->ops, with the device layered on */
static uint32_t info_flags;		/* what VFIO_DEVICE_GET_INFO reports */

/* Strings the fake points to (it does not copy them). */
static inline const char *keep(const char *fmt, ...)
{
	static char pool[64][160];
	static size_t used;
	char *s = pool[used++ % 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s, sizeof(pool[0]), fmt, ap);
	va_end(ap);
	return s;
}

/* A path that only exists (access finds it), like a device's own sysfs directory. */
static inline void fake_exists(const char *path)
{
	struct fake_path *p = fake_hostops_path(fake, path, true);

	ck_assert_ptr_nonnull(p);
	p->fail_errno = 0;
}

static inline void fake_remove(const char *path)
{
	fake_hostops_fail_path(fake, path, ENOENT);
}

/*
 * open() fails with this errno on this path while access(F_OK) still finds
 * it, as for a root-only node: fake_hostops_fail_path() fails every call.
 */
static const char *denied_path;

static int open_with_denial(void *ctx, const char *path, int flags)
{
	if (denied_path && !strcmp(path, denied_path)) {
		errno = EACCES;
		return -1;
	}
	return fake_hostops_open(ctx, path, flags);
}

/* A directory whose entries are the names that follow, NULL-terminated. */
#define fake_dir(...) fake_hostops_add_dir(fake, __VA_ARGS__)

/*
 * The fake device behind every cdev: BAR0 a 4 KiB 32-bit memory BAR, INTx
 * only, a 256-byte config space with Intel's vendor ID and device ID
 * 0x1500 + (fd - 100), so each device of a test has its own.
 */
#define DEV_ID(fd)	((uint16_t)(0x1500 + (fd) - FAKE_FIRST_FD))
#define CFG_OFF		(7ULL << 40)
#define FIRST_EFD	500	/* the device's eventfds: apart from the fake's fds */
static int efds_open, next_efd;

static int device_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	int ret = fake_hostops_ioctl(ctx, fd, request, arg);

	if (ret < 0)
		return ret;
	if (request == VFIO_DEVICE_GET_REGION_INFO) {
		struct vfio_region_info *r = arg;

		r->size = r->index == 0 ? 0x1000 : r->index == VFIO_PCI_CONFIG_REGION_INDEX ? 256 : 0;
		r->offset = r->index == VFIO_PCI_CONFIG_REGION_INDEX ? CFG_OFF :
			    (uint64_t)r->index << 40;
		r->flags = r->size ? VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE : 0;
	} else if (request == VFIO_DEVICE_GET_IRQ_INFO) {
		struct vfio_irq_info *q = arg;

		q->count = q->index == VFIO_PCI_INTX_IRQ_INDEX;
		q->flags = VFIO_IRQ_INFO_EVENTFD;
	}
	return ret;
}

/* A BAR reads as the fake's all ones; config space is the device's. */
static ssize_t device_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	uint8_t cfg[256] = { 0 };

	if (fake_hostops_pread(ctx, fd, buf, len, off) < 0)
		return -1;
	if ((uint64_t)off < CFG_OFF || (uint64_t)off - CFG_OFF + len > sizeof(cfg))
		return (ssize_t)len;	/* a BAR */
	cfg[0] = 0x86;
	cfg[1] = 0x80;
	cfg[2] = (uint8_t)DEV_ID(fd);
	cfg[3] = (uint8_t)(DEV_ID(fd) >> 8);
	cfg[0x0b] = 0x02;		/* network controller */
	cfg[0x3d] = 1;			/* INTA */
	memcpy(buf, cfg + (off - (off_t)CFG_OFF), len);
	return (ssize_t)len;
}

static int device_eventfd(void *ctx)
{
	(void)ctx;
	efds_open++;
	return next_efd++;
}

/* The device's eventfds are counted here; every other fd is the fake's. */
static int device_close(void *ctx, int fd)
{
	if (fd < FIRST_EFD)
		return fake_hostops_close(ctx, fd);
	ck_assert_int_lt(fd, next_efd);
	efds_open--;
	return 0;
}

/* Scripts the next call of @request to succeed (GET_INFO: with the device's info). */
static inline void script_ok(unsigned long request)
{
	struct fake_ioctl_result r = { 0 };

	if (request == VFIO_DEVICE_GET_INFO) {
		struct vfio_device_info info = {
			.flags = info_flags, .num_regions = 9, .num_irqs = 5,
		};

		r.out_off = offsetof(struct vfio_device_info, flags);
		r.out_len = offsetof(struct vfio_device_info, cap_offset) - r.out_off;
		memcpy(r.out, &info.flags, r.out_len);
	}
	fake_hostops_script_ioctl(fake, request, &r);
}

/* The @nth call (from 1) of @request fails with @err. */
static inline void fail_nth(unsigned long request, int nth, int err)
{
	for (int i = 1; i < nth; i++)
		script_ok(request);
	fake_hostops_fail_ioctl(fake, request, err);
}

/* A healthy host: the device bound to vfio-pci, alone in its group, behind host unit @unit. */
static inline void host_with_device_on(const char *bdf, unsigned int group, const char *cdev,
				       const char *unit)
{
	fake_exists(keep(PCI "%s", bdf));
	fake_hostops_add_link(fake, keep(PCI "%s/driver", bdf),
			      "../../../../bus/pci/drivers/vfio-pci");
	fake_hostops_add_link(fake, keep(PCI "%s/iommu_group", bdf),
			      keep("../../../../kernel/iommu_groups/%u", group));
	fake_dir(keep("/sys/kernel/iommu_groups/%u/devices", group), bdf, NULL);
	fake_hostops_add_link(fake, keep(PCI "%s/iommu", bdf),
			      keep("../../../virtual/iommu/%s", unit));
	fake_dir(keep(PCI "%s/vfio-dev", bdf), cdev, NULL);
	fake_hostops_add_node(fake, keep("/dev/vfio/devices/%s", cdev));
}

/* The same behind dmar2. */
static inline void host_with_device(const char *bdf, unsigned int group, const char *cdev)
{
	host_with_device_on(bdf, group, cdev, "dmar2");
}

/*
 * A fresh fake with every VFIO request declared, the kernel's id answers,
 * open() refusals and the fake device layered on, and /dev/iommu present.
 */
static inline void fake_vfio_host_init(void)
{
	fake = fake_hostops_new();
	ck_assert_ptr_nonnull(fake);
	/* VFIO's structs start with argsz, like iommufd's with size. */
	fake_hostops_arg_sized(fake, VFIO_DEVICE_BIND_IOMMUFD);
	fake_hostops_arg_sized(fake, VFIO_DEVICE_GET_INFO);
	fake_hostops_arg_sized(fake, VFIO_DEVICE_ATTACH_IOMMUFD_PT);
	fake_hostops_arg_sized(fake, VFIO_DEVICE_DETACH_IOMMUFD_PT);
	fake_hostops_arg_sized(fake, IOMMU_IOAS_UNMAP);
	fake_hostops_arg_sized(fake, VFIO_DEVICE_GET_REGION_INFO);
	fake_hostops_arg_sized(fake, VFIO_DEVICE_GET_IRQ_INFO);
	fake_hostops_arg_sized(fake, VFIO_DEVICE_SET_IRQS);
	fake_hostops_arg_fixed(fake, KVM_IRQFD, sizeof(struct kvm_irqfd));
	/* The kernel's answers. */
	fake_hostops_ioctl_ids(fake, VFIO_DEVICE_BIND_IOMMUFD,
			       offsetof(struct vfio_device_bind_iommufd, out_devid), 0x40);
	fake_hostops_ioctl_ids(fake, IOMMU_IOAS_ALLOC,
			       offsetof(struct iommu_ioas_alloc, out_ioas_id), 7);
	fake_hostops_ioctl_ids(fake, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
			       offsetof(struct vfio_device_attach_iommufd_pt, pt_id), 0x20);
	ops = fake->ops;
	ops.open = open_with_denial;
	ops.ioctl = device_ioctl;
	ops.pread = device_pread;
	ops.eventfd = device_eventfd;
	ops.close = device_close;
	denied_path = NULL;
	info_flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	efds_open = 0;
	next_efd = FIRST_EFD;
	fake_hostops_add_node(fake, "/dev/iommu");
}

/*
 * The fake is not thread-safe. With a second thread calling the host (the
 * fault reader of viommu/pt-fault.c), fake_vfio_lock_ops() routes ops'
 * ioctl, read and write (the only calls either thread makes meanwhile)
 * through fake_lock; the test takes it too for its own looks into the fake.
 */
static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct host_ops fake_unlocked;

static inline int fake_locked_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	int r, e;

	pthread_mutex_lock(&fake_lock);
	r = fake_unlocked.ioctl(ctx, fd, request, arg);
	e = errno;
	pthread_mutex_unlock(&fake_lock);
	errno = e;
	return r;
}

static inline ssize_t fake_locked_read(void *ctx, int fd, void *buf, size_t len)
{
	ssize_t r;
	int e;

	pthread_mutex_lock(&fake_lock);
	r = fake_unlocked.read(ctx, fd, buf, len);
	e = errno;
	pthread_mutex_unlock(&fake_lock);
	errno = e;
	return r;
}

static inline ssize_t fake_locked_write(void *ctx, int fd, const void *buf, size_t len)
{
	ssize_t r;
	int e;

	pthread_mutex_lock(&fake_lock);
	r = fake_unlocked.write(ctx, fd, buf, len);
	e = errno;
	pthread_mutex_unlock(&fake_lock);
	errno = e;
	return r;
}

/* After fake_vfio_host_init(), before the host is used from a second thread. */
static inline void fake_vfio_lock_ops(void)
{
	fake_unlocked = ops;
	ops.ioctl = fake_locked_ioctl;
	ops.read = fake_locked_read;
	ops.write = fake_locked_write;
}

/* The host unit's answer to the next IOMMU_GET_HW_INFO: a VT-d unit with @cap and @ecap. */
static inline void fake_script_hw_info(uint64_t cap, uint64_t ecap)
{
	struct iommu_hw_info_vtd vtd = { .cap_reg = cap, .ecap_reg = ecap };
	struct fake_ioctl_result r = { .out_off = offsetof(struct iommu_hw_info, out_data_type),
				       .out_len = 4, .ptr_out_len = sizeof(vtd) };
	uint32_t type = IOMMU_HW_INFO_TYPE_INTEL_VTD;

	memcpy(r.out, &type, 4);
	memcpy(r.ptr_out, &vtd, sizeof(vtd));
	fake_hostops_script_ioctl(fake, IOMMU_GET_HW_INFO, &r);
}

#endif
