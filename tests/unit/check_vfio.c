// SPDX-License-Identifier: MIT
/*
 * --vfio: host discovery refusals and the iommufd/VFIO cdev sequence, run
 * against a recording fake host (sysfs links, directories, /dev nodes and
 * ioctls), since no test machine has VT-d, /dev/iommu or /dev/vfio.
 *
 * The fake is tests/unit/fake_hostops.h, with the fake device of
 * fake_vfio_host.h layered on. Each device's guest function (vfio-pci.c)
 * is created on a real PCI host bridge, over that device: its regions,
 * IRQ counts, config space and eventfds come from that header through the
 * same host_ops (check_vfio_pci.c tests the model itself).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "check_main.h"
#include "fake_hostops.h"
#include "fake_vfio_host.h"
#include "lib/hostops.h"
#include "lib/iommufd-compat.h"
#include "lib/vfio-compat.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/vfio.h"

#define BDF0 "0000:3b:00.0"
#define BDF1 "0000:3b:00.1"
/* The VM fd: the fake's last fd, so the sequences keep 100, 101, ... for the host's. */
#define VM_FD (FAKE_FIRST_FD + 63)
/* Guest functions: slot 0x11 on, function 0. */
#define GUEST_BDF(slot) ((uint16_t)((slot) << 3))

static char err[512];

/* Guest RAM as vm_create() lays it out: below the hole and above 4 GiB. */
static struct vm vm;
static uint8_t ram_low[64], ram_high[32];

/* Functions other than vfio's the tests put on the bus. */
static struct pci_device others[16];
static size_t nothers;

static void other_function(uint16_t bdf)
{
	struct pci_device *d = &others[nothers++];

	pci_device_init(d, 0x1234, 0x5678, 0x018000, 0);
	ck_assert_int_eq(pci_register(&vm, d, bdf), 0);
}

/* The host's open fds, without the VM fd. */
static uint64_t open_fds(void)
{
	return fake->open_fds & ~(1ULL << (VM_FD - FAKE_FIRST_FD));
}

static void setup(void)
{
	fake_vfio_host_init();
	host_with_device(BDF0, 17, "vfio0");

	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = -1;
	vm.console_in = vm.console_out = -1;
	vm.mem[0] = (struct mem_region){ .gpa = 0, .size = 0xc0000000, .host = ram_low };
	vm.mem[1] = (struct mem_region){ .gpa = 0x100000000ull, .size = 0x40000000,
					 .host = ram_high };
	vm.nmem = 2;
	/* The buses and the host bridge (00:00.0) the guest functions go on. */
	ck_assert_int_eq(bus_init(&vm.pio, "pio"), 0);
	ck_assert_int_eq(bus_init(&vm.mmio, "mmio"), 0);
	ck_assert_int_eq(pci_host_bridge_init(&vm, err, sizeof(err)), 0);
	nothers = 0;
	fake_hostops_add_node(fake, "/dev/kvm-vm");
	fake->next_fd = VM_FD;
	vm.vm_fd = fake->ops.open(fake, "/dev/kvm-vm", O_RDWR);
	ck_assert_int_eq(vm.vm_fd, VM_FD);
	fake->next_fd = FAKE_FIRST_FD;
	fake_hostops_clear_calls(fake);
}

static void teardown(void)
{
	vfio_teardown(&vm);
	ck_assert_uint_eq(open_fds(), 0);
	ck_assert_int_eq(efds_open, 0);
	ck_assert(!fake->overflow);
	while (nothers)
		pci_device_exit(&others[--nothers]);
	pci_host_bridge_exit(&vm);
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
	ck_assert_int_eq(fake->ops.close(fake, vm.vm_fd), 0);
	ck_assert_uint_eq(fake->open_fds, 0);
	fake_hostops_free(fake);
}

static int run(size_t n, ...)
{
	const char *bdfs[VFIO_MAX_DEVICES + 1];
	va_list ap;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		bdfs[i] = va_arg(ap, const char *);
	va_end(ap);
	/* After any failure a test queued: GET_INFO answers for every device. */
	for (size_t i = 0; i < n; i++)
		script_ok(VFIO_DEVICE_GET_INFO);
	err[0] = '\0';
	return vfio_setup(&vm, bdfs, n, &ops, err, sizeof(err));
}

static const char *request_name(unsigned long request)
{
#define REQ(r) if (request == (r)) return #r
	REQ(VFIO_DEVICE_BIND_IOMMUFD);
	REQ(VFIO_DEVICE_GET_INFO);
	REQ(VFIO_DEVICE_ATTACH_IOMMUFD_PT);
	REQ(VFIO_DEVICE_DETACH_IOMMUFD_PT);
	REQ(VFIO_DEVICE_RESET);
	REQ(IOMMU_IOAS_ALLOC);
	REQ(IOMMU_IOAS_MAP);
	REQ(IOMMU_IOAS_UNMAP);
	REQ(IOMMU_DESTROY);
	REQ(VFIO_DEVICE_GET_REGION_INFO);
	REQ(VFIO_DEVICE_GET_IRQ_INFO);
	REQ(VFIO_DEVICE_SET_IRQS);
	REQ(KVM_IRQFD);
#undef REQ
	return "unknown";
}

/* Only the calls that change the host: open, close and ioctl. */
static bool is_action(const struct fake_call *c)
{
	return c->kind == FAKE_OPEN || c->kind == FAKE_CLOSE || c->kind == FAKE_IOCTL;
}

static size_t count_ioctls(void)
{
	size_t n = 0;

	for (size_t i = 0; i < fake->ncalls; i++)
		n += fake->calls[i].kind == FAKE_IOCTL;
	return n;
}

/* The actions from the @from-th one on, one a line, for exact sequence checks. */
static const char *actions_from(size_t from)
{
	static char buf[4096];
	size_t len = 0, seen = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < fake->ncalls; i++) {
		const struct fake_call *c = &fake->calls[i];

		if (!is_action(c) || seen++ < from)
			continue;
		if (c->kind == FAKE_OPEN)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%sopen %s = %d",
						len ? "\n" : "", c->path,
						c->ret < 0 ? -c->err : c->ret);
		else if (c->kind == FAKE_CLOSE)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%sclose %d",
						len ? "\n" : "", c->fd);
		else
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%sioctl %d %s",
						len ? "\n" : "", c->fd,
						request_name(c->request));
	}
	return buf;
}

static size_t count_actions(void)
{
	size_t n = 0;

	for (size_t i = 0; i < fake->ncalls; i++)
		n += is_action(&fake->calls[i]);
	return n;
}

/* The argument of the @nth (from 0) call of @request, as the kernel would get it. */
static void arg_of(unsigned long request, size_t nth, void *out, size_t len)
{
	const struct fake_call *c = fake_hostops_find(fake, FAKE_IOCTL, request, nth);

	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->arg_len, len);
	memcpy(out, c->arg, len);
}

static void refused(const char *message)
{
	ck_assert_int_eq(run(1, BDF0), -1);
	ck_assert_str_eq(err, message);
	ck_assert_uint_eq(count_ioctls(), 0);
	ck_assert_uint_eq(open_fds(), 0);
	ck_assert_ptr_null(vfio_state_of(&vm));
}

/* ---- addresses ---- */

START_TEST(test_parse_bdf)
{
	char out[VFIO_BDF_LEN];
	static const char *const bad[] = {
		"3b:00.0", "0000:3b:00", "0000:3b:00.8", "0000:3b:20.0", "0000:3g:00.0",
		"00000:3b:00.0", "0000-3b-00.0", "0000:3b:00.0 ", "", "0000:3b:0.00",
	};

	ck_assert_int_eq(vfio_parse_bdf("0000:3b:00.0", out), 0);
	ck_assert_str_eq(out, "0000:3b:00.0");
	ck_assert_int_eq(vfio_parse_bdf("ABCD:FF:1F.7", out), 0);
	ck_assert_str_eq(out, "abcd:ff:1f.7");	/* sysfs spells it in lower case */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(vfio_parse_bdf(bad[i], out) == -1, "accepted '%s'", bad[i]);
	ck_assert_int_eq(vfio_parse_bdf(NULL, out), -1);
}
END_TEST

START_TEST(test_bad_arguments)
{
	ck_assert_int_eq(run(1, "3b:00.0"), -1);
	ck_assert_str_eq(err, "--vfio '3b:00.0': not a PCI address DDDD:BB:DD.F "
			 "(e.g. 0000:3b:00.0)");
	ck_assert_int_eq(run(2, BDF0, "0000:3B:00.0"), -1);
	ck_assert_str_eq(err, "--vfio 0000:3b:00.0 given twice");
	ck_assert_uint_eq(fake->ncalls, 0);
	ck_assert_int_eq(run(0), 0);	/* no --vfio: nothing touched */
	ck_assert_uint_eq(fake->ncalls, 0);
	ck_assert_ptr_null(vfio_state_of(&vm));
}
END_TEST

/* ---- discovery refusals, each before anything is opened ---- */

START_TEST(test_refuse_no_device)
{
	fake_remove(PCI BDF0);
	refused("no PCI device 0000:3b:00.0 (/sys/bus/pci/devices/0000:3b:00.0)");
}
END_TEST

START_TEST(test_refuse_other_driver)
{
	fake_hostops_add_link(fake, PCI BDF0 "/driver", "../../../../bus/pci/drivers/ixgbe");
	refused("0000:3b:00.0 is bound to ixgbe, not vfio-pci: echo 0000:3b:00.0 > "
		"/sys/bus/pci/drivers/vfio-pci/bind, after echo 0000:3b:00.0 > "
		"/sys/bus/pci/devices/0000:3b:00.0/driver/unbind and echo vfio-pci > "
		"/sys/bus/pci/devices/0000:3b:00.0/driver_override (or: driverctl "
		"set-override 0000:3b:00.0 vfio-pci)");
}
END_TEST

START_TEST(test_refuse_no_driver)
{
	fake_remove(PCI BDF0 "/driver");
	refused("0000:3b:00.0 is bound to no driver, not vfio-pci: echo 0000:3b:00.0 > "
		"/sys/bus/pci/drivers/vfio-pci/bind, after echo vfio-pci > "
		"/sys/bus/pci/devices/0000:3b:00.0/driver_override (or: driverctl "
		"set-override 0000:3b:00.0 vfio-pci)");
}
END_TEST

START_TEST(test_refuse_no_iommu_group)
{
	fake_remove(PCI BDF0 "/iommu_group");
	refused("0000:3b:00.0 has no IOMMU group, so the IOMMU is not enabled: boot the host "
		"with intel_iommu=on (and VT-d enabled in the firmware)");
}
END_TEST

START_TEST(test_refuse_partial_group)
{
	fake_dir("/sys/kernel/iommu_groups/17/devices", BDF0, BDF1, NULL);
	refused("0000:3b:00.0: IOMMU group 17 also holds 0000:3b:00.1: pass all of them "
		"(--vfio 0000:3b:00.0 --vfio 0000:3b:00.1)");
}
END_TEST

/*
 * Functions behind a conventional PCI bridge: one IOMMU group with the
 * bridge in it (as Linux 6.12 under QEMU's VT-d shows it). The bridge is
 * no member to pass; the other function is.
 */
START_TEST(test_group_behind_a_bridge)
{
	fake_hostops_add_file(fake, PCI "0000:00:04.0/class", "0x060400\n");
	fake_hostops_add_file(fake, PCI BDF1 "/class", "0x020000\n");
	fake_dir("/sys/kernel/iommu_groups/17/devices", "0000:00:04.0", BDF0, BDF1, NULL);
	refused("0000:3b:00.0: IOMMU group 17 also holds 0000:3b:00.1: pass all of them "
		"(--vfio 0000:3b:00.0 --vfio 0000:3b:00.1)");
	host_with_device(BDF1, 17, "vfio1");
	fake_dir("/sys/kernel/iommu_groups/17/devices", "0000:00:04.0", BDF0, BDF1, NULL);
	ck_assert_int_eq(run(2, BDF0, BDF1), 0);
	ck_assert_uint_eq(vfio_state_of(&vm)->ndevs, 2);
}
END_TEST

START_TEST(test_whole_group_accepted)
{
	host_with_device(BDF1, 17, "vfio1");
	fake_dir("/sys/kernel/iommu_groups/17/devices", BDF1, BDF0, NULL);
	ck_assert_int_eq(run(2, BDF0, BDF1), 0);
	ck_assert_uint_eq(vfio_state_of(&vm)->ndevs, 2);
	ck_assert_uint_eq(vfio_state_of(&vm)->devs[1].group, 17);
}
END_TEST

START_TEST(test_refuse_no_iommu_unit)
{
	fake_remove(PCI BDF0 "/iommu");
	refused("0000:3b:00.0 has no IOMMU unit (/sys/bus/pci/devices/0000:3b:00.0/iommu), so "
		"the IOMMU is not enabled: boot the host with intel_iommu=on");
}
END_TEST

START_TEST(test_refuse_not_vtd)
{
	fake_hostops_add_link(fake, PCI BDF0 "/iommu", "../../../virtual/iommu/ivhd0");
	refused("0000:3b:00.0 is behind ivhd0, not an Intel VT-d unit (dmarN): passthrough "
		"needs VT-d");
}
END_TEST

START_TEST(test_refuse_no_dev_iommu)
{
	fake_remove("/dev/iommu");
	refused("no /dev/iommu: load the iommufd module (modprobe iommufd)");
}
END_TEST

START_TEST(test_refuse_dev_iommu_permission)
{
	denied_path = "/dev/iommu";
	refused("cannot open /dev/iommu: Permission denied: run as root or give this user "
		"read-write access to it (and to the VFIO cdevs)");
}
END_TEST

START_TEST(test_refuse_no_cdev)
{
	fake_remove(PCI BDF0 "/vfio-dev");
	refused("no VFIO cdev for 0000:3b:00.0: needs CONFIG_VFIO_DEVICE_CDEV (Linux 6.6+)");
	/* An empty vfio-dev/ is the same. */
	fake_dir(PCI BDF0 "/vfio-dev", NULL);
	refused("no VFIO cdev for 0000:3b:00.0: needs CONFIG_VFIO_DEVICE_CDEV (Linux 6.6+)");
}
END_TEST

START_TEST(test_refuse_cdev_node_missing)
{
	fake_remove("/dev/vfio/devices/vfio0");
	refused("0000:3b:00.0: /dev/vfio/devices/vfio0 is missing although sysfs lists it: is "
		"devtmpfs (or udev) managing /dev?");
}
END_TEST

START_TEST(test_refuse_cdev_permission)
{
	denied_path = "/dev/vfio/devices/vfio0";
	refused("0000:3b:00.0: cannot open /dev/vfio/devices/vfio0: Permission denied: run as "
		"root or give this user read-write access to it");
}
END_TEST

START_TEST(test_refuse_not_pci)
{
	info_flags = VFIO_DEVICE_FLAGS_PLATFORM;
	ck_assert_int_eq(run(1, BDF0), -1);
	ck_assert_str_eq(err, "0000:3b:00.0: VFIO_DEVICE_GET_INFO: not a PCI device (flags 0x4)");
	/* Refused before any guest RAM was pinned. */
	ck_assert_str_eq(actions_from(0),
			 "open /dev/iommu = 100\n"
			 "open /dev/vfio/devices/vfio0 = 101\n"
			 "ioctl 101 VFIO_DEVICE_BIND_IOMMUFD\n"
			 "ioctl 101 VFIO_DEVICE_GET_INFO\n"
			 "close 101\n"
			 "close 100");
}
END_TEST

/* ---- the host sequence ---- */

/*
 * vfio_pci_create() on cdev @fd: region and IRQ info, then INTx (trigger
 * eventfd, resampling irqfd on the VM fd, unmask eventfd).
 */
#define GUEST_FUNCTION_CREATED(fd)				\
	"ioctl " fd " VFIO_DEVICE_GET_REGION_INFO\n"		\
	"ioctl " fd " VFIO_DEVICE_GET_REGION_INFO\n"		\
	"ioctl " fd " VFIO_DEVICE_GET_REGION_INFO\n"		\
	"ioctl " fd " VFIO_DEVICE_GET_REGION_INFO\n"		\
	"ioctl " fd " VFIO_DEVICE_GET_REGION_INFO\n"		\
	"ioctl " fd " VFIO_DEVICE_GET_REGION_INFO\n"		\
	"ioctl " fd " VFIO_DEVICE_GET_REGION_INFO\n"		\
	"ioctl " fd " VFIO_DEVICE_GET_IRQ_INFO\n"		\
	"ioctl " fd " VFIO_DEVICE_GET_IRQ_INFO\n"		\
	"ioctl " fd " VFIO_DEVICE_GET_IRQ_INFO\n"		\
	"ioctl " fd " VFIO_DEVICE_SET_IRQS\n"			\
	"ioctl 163 KVM_IRQFD\n"					\
	"ioctl " fd " VFIO_DEVICE_SET_IRQS"
/* vfio_pci_destroy(): INTx trigger off, the irqfd deassigned. */
#define GUEST_FUNCTION_DESTROYED(fd)				\
	"ioctl " fd " VFIO_DEVICE_SET_IRQS\n"			\
	"ioctl 163 KVM_IRQFD"

static const char happy_setup[] =
	"open /dev/iommu = 100\n"
	"open /dev/vfio/devices/vfio0 = 101\n"
	"ioctl 101 VFIO_DEVICE_BIND_IOMMUFD\n"
	"ioctl 101 VFIO_DEVICE_GET_INFO\n"
	"ioctl 100 IOMMU_IOAS_ALLOC\n"
	"ioctl 100 IOMMU_IOAS_MAP\n"
	"ioctl 100 IOMMU_IOAS_MAP\n"
	"ioctl 101 VFIO_DEVICE_ATTACH_IOMMUFD_PT\n"
	"ioctl 101 VFIO_DEVICE_RESET\n"
	GUEST_FUNCTION_CREATED("101");

static const char happy_teardown[] =
	GUEST_FUNCTION_DESTROYED("101") "\n"
	"ioctl 101 VFIO_DEVICE_RESET\n"
	"ioctl 101 VFIO_DEVICE_DETACH_IOMMUFD_PT\n"
	"ioctl 100 IOMMU_IOAS_UNMAP\n"
	"ioctl 100 IOMMU_IOAS_UNMAP\n"
	"ioctl 100 IOMMU_DESTROY\n"
	"close 101\n"
	"close 100";

START_TEST(test_happy_sequence)
{
	const uint32_t map_flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				   IOMMU_IOAS_MAP_WRITEABLE;
	struct vfio_device_bind_iommufd bind;
	struct vfio_device_info info;
	struct iommu_ioas_alloc alloc;
	struct iommu_ioas_map map0, map1;
	struct vfio_device_attach_iommufd_pt attach;
	struct vfio_device_detach_iommufd_pt detach;
	struct iommu_ioas_unmap unmap_high, unmap_low;
	struct iommu_destroy destroy;
	const struct vfio_state *s;
	size_t setup_actions;

	ck_assert_int_eq(run(1, BDF0), 0);
	ck_assert_str_eq(actions_from(0), happy_setup);

	/* The arguments as the kernel gets them. */
	arg_of(VFIO_DEVICE_BIND_IOMMUFD, 0, &bind, sizeof(bind));
	ck_assert_uint_eq(bind.argsz, sizeof(bind));
	ck_assert_uint_eq(bind.flags, 0);
	ck_assert_int_eq(bind.iommufd, 100);
	arg_of(VFIO_DEVICE_GET_INFO, 0, &info, sizeof(info));
	ck_assert_uint_eq(info.argsz, sizeof(info));
	arg_of(IOMMU_IOAS_ALLOC, 0, &alloc, sizeof(alloc));
	ck_assert_uint_eq(alloc.size, sizeof(alloc));
	ck_assert_uint_eq(alloc.flags, 0);
	arg_of(IOMMU_IOAS_MAP, 0, &map0, sizeof(map0));
	ck_assert_uint_eq(map0.size, sizeof(map0));
	ck_assert_uint_eq(map0.flags, map_flags);
	ck_assert_uint_eq(map0.ioas_id, 7);
	ck_assert_uint_eq(map0.__reserved, 0);
	ck_assert_uint_eq(map0.user_va, (uintptr_t)ram_low);
	ck_assert_uint_eq(map0.iova, 0);
	ck_assert_uint_eq(map0.length, 0xc0000000);
	arg_of(IOMMU_IOAS_MAP, 1, &map1, sizeof(map1));
	ck_assert_uint_eq(map1.flags, map_flags);
	ck_assert_uint_eq(map1.ioas_id, 7);
	ck_assert_uint_eq(map1.user_va, (uintptr_t)ram_high);
	ck_assert_uint_eq(map1.iova, 0x100000000ull);	/* iova = guest physical address */
	ck_assert_uint_eq(map1.length, 0x40000000);
	arg_of(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0, &attach, sizeof(attach));
	ck_assert_uint_eq(attach.argsz, sizeof(attach));
	ck_assert_uint_eq(attach.flags, 0);
	ck_assert_uint_eq(attach.pt_id, 7);		/* the IOAS */

	/* What the kernel answered is kept. */
	s = vfio_state_of(&vm);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->iommufd, 100);
	ck_assert_uint_eq(s->ioas_id, 7);
	ck_assert_uint_eq(s->nmapped, 2);
	ck_assert_str_eq(s->devs[0].iommu_unit, "dmar2");
	ck_assert_str_eq(s->devs[0].cdev, "/dev/vfio/devices/vfio0");
	ck_assert_uint_eq(s->devs[0].group, 17);
	ck_assert_int_eq(s->devs[0].fd, 101);
	ck_assert_uint_eq(s->devs[0].dev_id, 0x40);
	ck_assert_uint_eq(s->devs[0].pt_id, 0x20);	/* the HWPT the kernel chose */
	ck_assert_uint_eq(s->devs[0].flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
	ck_assert_uint_eq(s->devs[0].num_regions, 9);
	ck_assert_uint_eq(s->devs[0].num_irqs, 5);
	ck_assert_uint_eq(s->devs[0].guest_bdf, GUEST_BDF(0x11));
	ck_assert_ptr_nonnull(s->devs[0].pci);
	ck_assert_uint_eq(open_fds(), 3);		/* fds 100 and 101 */
	ck_assert_int_eq(efds_open, 2);			/* INTx trigger and resample */

	setup_actions = count_actions();
	vfio_teardown(&vm);
	ck_assert_str_eq(actions_from(setup_actions), happy_teardown);
	arg_of(VFIO_DEVICE_DETACH_IOMMUFD_PT, 0, &detach, sizeof(detach));
	ck_assert_uint_eq(detach.argsz, sizeof(detach));
	ck_assert_uint_eq(detach.flags, 0);
	/* Reverse order: the region mapped last goes first. */
	arg_of(IOMMU_IOAS_UNMAP, 0, &unmap_high, sizeof(unmap_high));
	ck_assert_uint_eq(unmap_high.size, sizeof(unmap_high));
	ck_assert_uint_eq(unmap_high.ioas_id, 7);
	ck_assert_uint_eq(unmap_high.iova, 0x100000000ull);
	ck_assert_uint_eq(unmap_high.length, 0x40000000);
	arg_of(IOMMU_IOAS_UNMAP, 1, &unmap_low, sizeof(unmap_low));
	ck_assert_uint_eq(unmap_low.iova, 0);
	ck_assert_uint_eq(unmap_low.length, 0xc0000000);
	arg_of(IOMMU_DESTROY, 0, &destroy, sizeof(destroy));
	ck_assert_uint_eq(destroy.size, sizeof(destroy));
	ck_assert_uint_eq(destroy.id, 7);
	ck_assert_ptr_null(vfio_state_of(&vm));
	ck_assert_uint_eq(open_fds(), 0);
	ck_assert_int_eq(efds_open, 0);

	/* Again is harmless. */
	setup_actions = fake->ncalls;
	vfio_teardown(&vm);
	ck_assert_uint_eq(fake->ncalls, setup_actions);
}
END_TEST

START_TEST(test_two_devices_share_one_ioas)
{
	struct vfio_device_attach_iommufd_pt attach;

	host_with_device("0000:5e:00.0", 30, "vfio4");
	ck_assert_int_eq(run(2, BDF0, "0000:5e:00.0"), 0);
	/* Both bound before guest RAM is pinned once; each attached to the same IOAS. */
	ck_assert_str_eq(actions_from(0),
			 "open /dev/iommu = 100\n"
			 "open /dev/vfio/devices/vfio0 = 101\n"
			 "ioctl 101 VFIO_DEVICE_BIND_IOMMUFD\n"
			 "ioctl 101 VFIO_DEVICE_GET_INFO\n"
			 "open /dev/vfio/devices/vfio4 = 102\n"
			 "ioctl 102 VFIO_DEVICE_BIND_IOMMUFD\n"
			 "ioctl 102 VFIO_DEVICE_GET_INFO\n"
			 "ioctl 100 IOMMU_IOAS_ALLOC\n"
			 "ioctl 100 IOMMU_IOAS_MAP\n"
			 "ioctl 100 IOMMU_IOAS_MAP\n"
			 "ioctl 101 VFIO_DEVICE_ATTACH_IOMMUFD_PT\n"
			 "ioctl 101 VFIO_DEVICE_RESET\n"
			 GUEST_FUNCTION_CREATED("101") "\n"
			 "ioctl 102 VFIO_DEVICE_ATTACH_IOMMUFD_PT\n"
			 "ioctl 102 VFIO_DEVICE_RESET\n"
			 GUEST_FUNCTION_CREATED("102"));
	arg_of(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 1, &attach, sizeof(attach));
	ck_assert_uint_eq(attach.pt_id, 7);
	ck_assert_uint_eq(vfio_state_of(&vm)->devs[1].dev_id, 0x41);
	/* Each on a slot of its own. */
	ck_assert_uint_eq(vfio_state_of(&vm)->devs[0].guest_bdf, GUEST_BDF(0x11));
	ck_assert_uint_eq(vfio_state_of(&vm)->devs[1].guest_bdf, GUEST_BDF(0x12));
	ck_assert_uint_eq(pci_config_read(&vm, GUEST_BDF(0x12), 0, 4),
			  (uint32_t)DEV_ID(102) << 16 | 0x8086);
	fake_hostops_clear_calls(fake);
	vfio_teardown(&vm);
	/* Both guest functions go before either device is reset. */
	ck_assert_str_eq(actions_from(0),
			 GUEST_FUNCTION_DESTROYED("102") "\n"
			 GUEST_FUNCTION_DESTROYED("101") "\n"
			 "ioctl 102 VFIO_DEVICE_RESET\n"
			 "ioctl 101 VFIO_DEVICE_RESET\n"
			 "ioctl 102 VFIO_DEVICE_DETACH_IOMMUFD_PT\n"
			 "ioctl 101 VFIO_DEVICE_DETACH_IOMMUFD_PT\n"
			 "ioctl 100 IOMMU_IOAS_UNMAP\n"
			 "ioctl 100 IOMMU_IOAS_UNMAP\n"
			 "ioctl 100 IOMMU_DESTROY\n"
			 "close 102\n"
			 "close 101\n"
			 "close 100");
}
END_TEST

START_TEST(test_no_reset_without_support)
{
	info_flags = VFIO_DEVICE_FLAGS_PCI;
	ck_assert_int_eq(run(1, BDF0), 0);
	vfio_teardown(&vm);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, VFIO_DEVICE_RESET), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, VFIO_DEVICE_DETACH_IOMMUFD_PT), 1);
}
END_TEST

/* Each ioctl of the setup fails in turn: the error names it, and all is undone. */
static const struct {
	unsigned long request;
	int nth;
	const char *message;
	const char *unwind;	/* the actions after the failing one */
} failures[] = {
	{ VFIO_DEVICE_BIND_IOMMUFD, 1,
	  "0000:3b:00.0: VFIO_DEVICE_BIND_IOMMUFD failed: Device or resource busy (errno 16)",
	  "close 101\nclose 100" },
	{ VFIO_DEVICE_GET_INFO, 1,
	  "0000:3b:00.0: VFIO_DEVICE_GET_INFO failed: Device or resource busy (errno 16)",
	  "close 101\nclose 100" },
	{ IOMMU_IOAS_ALLOC, 1,
	  "IOMMU_IOAS_ALLOC failed: Device or resource busy (errno 16)",
	  "close 101\nclose 100" },
	{ IOMMU_IOAS_MAP, 1,
	  "IOMMU_IOAS_MAP of guest RAM [0, 0xc0000000) failed: Device or resource busy "
	  "(errno 16)",
	  "ioctl 100 IOMMU_DESTROY\nclose 101\nclose 100" },
	{ IOMMU_IOAS_MAP, 2,
	  "IOMMU_IOAS_MAP of guest RAM [0x100000000, 0x140000000) failed: Device or resource "
	  "busy (errno 16)",
	  "ioctl 100 IOMMU_IOAS_UNMAP\nioctl 100 IOMMU_DESTROY\nclose 101\nclose 100" },
	{ VFIO_DEVICE_ATTACH_IOMMUFD_PT, 1,
	  "0000:3b:00.0: VFIO_DEVICE_ATTACH_IOMMUFD_PT failed: Device or resource busy "
	  "(errno 16)",
	  "ioctl 100 IOMMU_IOAS_UNMAP\nioctl 100 IOMMU_IOAS_UNMAP\nioctl 100 IOMMU_DESTROY\n"
	  "close 101\nclose 100" },
	{ VFIO_DEVICE_RESET, 1,
	  "0000:3b:00.0: VFIO_DEVICE_RESET failed: Device or resource busy (errno 16)",
	  "ioctl 101 VFIO_DEVICE_DETACH_IOMMUFD_PT\nioctl 100 IOMMU_IOAS_UNMAP\n"
	  "ioctl 100 IOMMU_IOAS_UNMAP\nioctl 100 IOMMU_DESTROY\nclose 101\nclose 100" },
	/* vfio_pci_create() fails: the device was started, so it is reset. */
	{ VFIO_DEVICE_GET_REGION_INFO, 1,
	  "0000:3b:00.0: vfio-pci 00:11.0: VFIO_DEVICE_GET_REGION_INFO(0): Device or resource "
	  "busy",
	  "ioctl 101 VFIO_DEVICE_RESET\nioctl 101 VFIO_DEVICE_DETACH_IOMMUFD_PT\n"
	  "ioctl 100 IOMMU_IOAS_UNMAP\nioctl 100 IOMMU_IOAS_UNMAP\nioctl 100 IOMMU_DESTROY\n"
	  "close 101\nclose 100" },
	/* Its INTx irqfd fails: the trigger it set is taken back, then the same. */
	{ KVM_IRQFD, 1,
	  "0000:3b:00.0: vfio-pci 00:11.0: INTx eventfd/irqfd setup: Device or resource busy",
	  "ioctl 101 VFIO_DEVICE_SET_IRQS\n"
	  "ioctl 101 VFIO_DEVICE_RESET\nioctl 101 VFIO_DEVICE_DETACH_IOMMUFD_PT\n"
	  "ioctl 100 IOMMU_IOAS_UNMAP\nioctl 100 IOMMU_IOAS_UNMAP\nioctl 100 IOMMU_DESTROY\n"
	  "close 101\nclose 100" },
};

/* Index, among the actions, of the last call of @request. */
static size_t last_action_of(unsigned long request)
{
	size_t seen = 0, at = 0;

	for (size_t i = 0; i < fake->ncalls; i++) {
		const struct fake_call *c = &fake->calls[i];

		if (!is_action(c))
			continue;
		if (c->kind == FAKE_IOCTL && c->request == request)
			at = seen;
		seen++;
	}
	return at;
}

START_TEST(test_failure_unwinds)
{
	fail_nth(failures[_i].request, failures[_i].nth, EBUSY);
	ck_assert_int_eq(run(1, BDF0), -1);
	ck_assert_str_eq(err, failures[_i].message);
	ck_assert_str_eq(actions_from(last_action_of(failures[_i].request) + 1),
			 failures[_i].unwind);
	ck_assert_uint_eq(open_fds(), 0);
	ck_assert_int_eq(efds_open, 0);
	ck_assert_ptr_null(vfio_state_of(&vm));
}
END_TEST

START_TEST(test_second_device_failure_unwinds_first)
{
	host_with_device("0000:5e:00.0", 30, "vfio4");
	fail_nth(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 2, EINVAL);
	ck_assert_int_eq(run(2, BDF0, "0000:5e:00.0"), -1);
	ck_assert_str_eq(err, "0000:5e:00.0: VFIO_DEVICE_ATTACH_IOMMUFD_PT failed: Invalid "
			 "argument (errno 22)");
	/* The first device was started: its guest function goes, and it is reset too. */
	ck_assert_str_eq(actions_from(last_action_of(VFIO_DEVICE_ATTACH_IOMMUFD_PT) + 1),
			 GUEST_FUNCTION_DESTROYED("101") "\n"
			 "ioctl 101 VFIO_DEVICE_RESET\n"
			 "ioctl 101 VFIO_DEVICE_DETACH_IOMMUFD_PT\n"
			 "ioctl 100 IOMMU_IOAS_UNMAP\n"
			 "ioctl 100 IOMMU_IOAS_UNMAP\n"
			 "ioctl 100 IOMMU_DESTROY\n"
			 "close 102\n"
			 "close 101\n"
			 "close 100");
	ck_assert_uint_eq(open_fds(), 0);
	ck_assert_int_eq(efds_open, 0);
}
END_TEST

START_TEST(test_map_enomem_hint)
{
	fail_nth(IOMMU_IOAS_MAP, 1, ENOMEM);
	ck_assert_int_eq(run(1, BDF0), -1);
	ck_assert_str_eq(err, "IOMMU_IOAS_MAP of guest RAM [0, 0xc0000000) failed: Cannot "
			 "allocate memory (errno 12): pinning guest RAM needs RLIMIT_MEMLOCK "
			 "(ulimit -l) at least the guest's size");
}
END_TEST

START_TEST(test_setup_twice_refused)
{
	ck_assert_int_eq(run(1, BDF0), 0);
	ck_assert_int_eq(run(1, BDF0), -1);
	ck_assert_str_eq(err, "vfio: devices are already set up for this VM");
}
END_TEST

/* The nesting hook: re-point a device at another page table (replace, no detach). */
START_TEST(test_attach_replace)
{
	struct vfio_device_attach_iommufd_pt attach;

	ck_assert_int_eq(run(1, BDF0), 0);
	fake_hostops_clear_calls(fake);
	ck_assert_int_eq(vfio_device_attach(&vm, 0, 55, err, sizeof(err)), 0);
	ck_assert_str_eq(actions_from(0), "ioctl 101 VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	arg_of(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0, &attach, sizeof(attach));
	ck_assert_uint_eq(attach.argsz, sizeof(attach));
	ck_assert_uint_eq(attach.flags, 0);
	ck_assert_uint_eq(attach.pt_id, 55);
	ck_assert_uint_eq(vfio_state_of(&vm)->devs[0].pt_id, 0x21);	/* as answered */
	ck_assert_int_eq(vfio_device_attach(&vm, 1, 55, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "vfio: no assigned device 1");
}
END_TEST

/* ---- the guest function ---- */

START_TEST(test_guest_function)
{
	const struct vfio_state *s;
	struct pci_device *d;

	ck_assert_int_eq(run(1, BDF0), 0);
	s = vfio_state_of(&vm);
	/* At 00:11.0, with the device's IDs, as the guest's config cycles see it. */
	ck_assert_uint_eq(s->devs[0].guest_bdf, GUEST_BDF(0x11));
	d = pci_find(&vm, GUEST_BDF(0x11));
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_eq(d, vfio_pci_device(s->devs[0].pci));
	ck_assert_uint_eq(pci_config_read(&vm, GUEST_BDF(0x11), 0x00, 2), 0x8086);
	ck_assert_uint_eq(pci_config_read(&vm, GUEST_BDF(0x11), 0x02, 2), DEV_ID(101));
	ck_assert_uint_eq(pci_config_read(&vm, GUEST_BDF(0x11), 0x0b, 1), 0x02);
	ck_assert_uint_eq(pci_config_read(&vm, GUEST_BDF(0x11), 0x3d, 1), 1);
	ck_assert_int_eq(d->bars[0].kind, PCI_BAR_MEM32);
	ck_assert_uint_eq(d->bars[0].size, 0x1000);
	/* The slots below are left to the host bridge and the vIOMMU's sim devices. */
	ck_assert_ptr_null(pci_find(&vm, GUEST_BDF(0x01)));
	ck_assert_ptr_null(pci_find(&vm, GUEST_BDF(0x10)));
	/* The INTx irqfd is on the function's GSI, through the VM fd. */
	{
		const struct fake_call *c = fake_hostops_find(fake, FAKE_IOCTL, KVM_IRQFD, 0);
		const struct kvm_irqfd *f = (const void *)c->arg;

		ck_assert_int_eq(c->fd, VM_FD);
		ck_assert_int_ge(d->intx_gsi, 0);
		ck_assert_uint_eq(f->gsi, (uint32_t)d->intx_gsi);
		ck_assert_uint_eq(f->flags, KVM_IRQFD_FLAG_RESAMPLE);
	}
	vfio_teardown(&vm);
	ck_assert_uint_eq(efds_open, 0);
}
END_TEST

START_TEST(test_guest_slot_taken)
{
	/* A sim device at 00:01.0, something at 00:11.3: 00:11 is not free. */
	other_function(GUEST_BDF(0x01));
	other_function(GUEST_BDF(0x11) | 3);
	ck_assert_int_eq(run(1, BDF0), 0);
	ck_assert_uint_eq(vfio_state_of(&vm)->devs[0].guest_bdf, GUEST_BDF(0x12));
	ck_assert_uint_eq(pci_config_read(&vm, GUEST_BDF(0x12), 0, 4),
			  (uint32_t)DEV_ID(101) << 16 | 0x8086);
	ck_assert_ptr_null(pci_find(&vm, GUEST_BDF(0x11)));
}
END_TEST

START_TEST(test_guest_no_free_slot)
{
	for (unsigned int slot = 0x11; slot < 0x20; slot++)
		other_function(GUEST_BDF(slot));
	ck_assert_int_eq(run(1, BDF0), -1);
	ck_assert_str_eq(err, "0000:3b:00.0: no free PCI slot for its guest function (00:11.0 "
			 "to 00:1f.0 are taken)");
	/* Nothing of the function was made; the device was reset (action 8): undo all. */
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, VFIO_DEVICE_GET_REGION_INFO), 0);
	ck_assert_str_eq(actions_from(9),
			 "ioctl 101 VFIO_DEVICE_RESET\n"
			 "ioctl 101 VFIO_DEVICE_DETACH_IOMMUFD_PT\n"
			 "ioctl 100 IOMMU_IOAS_UNMAP\n"
			 "ioctl 100 IOMMU_IOAS_UNMAP\n"
			 "ioctl 100 IOMMU_DESTROY\n"
			 "close 101\n"
			 "close 100");
	ck_assert_uint_eq(open_fds(), 0);
}
END_TEST

/* ---- the real directory listing ---- */

START_TEST(test_list_dir_real)
{
	char dir[] = "/tmp/check_vfio.XXXXXX", path[64], buf[64];
	ssize_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vfio3", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	n = host_ops_real.list_dir(NULL, dir, buf, sizeof(buf));
	ck_assert_int_eq(n, 6);
	ck_assert_str_eq(buf, "vfio3");
	ck_assert_int_eq(host_ops_real.list_dir(NULL, dir, buf, 3), -1);
	ck_assert_int_eq(errno, ENOSPC);
	rmdir(path);
	rmdir(dir);
	ck_assert_int_eq(host_ops_real.list_dir(NULL, dir, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vfio");
	TCase *tc = tcase_create("discovery");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_bdf);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_refuse_no_device);
	tcase_add_test(tc, test_refuse_other_driver);
	tcase_add_test(tc, test_refuse_no_driver);
	tcase_add_test(tc, test_refuse_no_iommu_group);
	tcase_add_test(tc, test_refuse_partial_group);
	tcase_add_test(tc, test_whole_group_accepted);
	tcase_add_test(tc, test_group_behind_a_bridge);
	tcase_add_test(tc, test_refuse_no_iommu_unit);
	tcase_add_test(tc, test_refuse_not_vtd);
	tcase_add_test(tc, test_refuse_no_dev_iommu);
	tcase_add_test(tc, test_refuse_dev_iommu_permission);
	tcase_add_test(tc, test_refuse_no_cdev);
	tcase_add_test(tc, test_refuse_cdev_node_missing);
	tcase_add_test(tc, test_refuse_cdev_permission);
	tcase_add_test(tc, test_refuse_not_pci);
	tcase_add_test(tc, test_list_dir_real);
	suite_add_tcase(s, tc);

	tc = tcase_create("sequence");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_happy_sequence);
	tcase_add_test(tc, test_two_devices_share_one_ioas);
	tcase_add_test(tc, test_no_reset_without_support);
	tcase_add_loop_test(tc, test_failure_unwinds, 0, sizeof(failures) / sizeof(failures[0]));
	tcase_add_test(tc, test_second_device_failure_unwinds_first);
	tcase_add_test(tc, test_map_enomem_hint);
	tcase_add_test(tc, test_setup_twice_refused);
	tcase_add_test(tc, test_attach_replace);
	suite_add_tcase(s, tc);

	tc = tcase_create("guest function");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_guest_function);
	tcase_add_test(tc, test_guest_slot_taken);
	tcase_add_test(tc, test_guest_no_free_slot);
	suite_add_tcase(s, tc);
	return check_run(s);
}
