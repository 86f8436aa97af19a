// SPDX-License-Identifier: MIT
/*
 * PCI passthrough through iommufd and the VFIO device cdev (Linux 6.6+).
 *
 * vfio_setup() runs in two phases. Discovery only reads sysfs, so every
 * host misconfiguration is refused with its fix before anything is opened
 * or pinned. Setup then binds the devices, maps guest RAM once into a
 * shared IOAS, attaches and resets them, and gives each its guest PCI
 * function (vfio-pci.c); a failure unwinds through the same code as the
 * teardown at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/hostops.h"
#include "lib/iommufd-compat.h"
#include "lib/pci-bdf.h"
#include "lib/vfio-compat.h"
#include "vmm/init.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/vfio.h"

#define SYSFS_PCI_DEVICES	"/sys/bus/pci/devices"
#define SYSFS_IOMMU_GROUPS	"/sys/kernel/iommu_groups"
#define DEV_IOMMU		"/dev/iommu"
#define DEV_VFIO_DEVICES	"/dev/vfio/devices"
#define LIST_BUF_SIZE		4096

int vfio_parse_bdf(const char *arg, char out[VFIO_BDF_LEN])
{
	uint16_t domain, bdf;

	/*
	 * Exactly dddd:bb:dd.f: sysfs has no other spelling to look up. At
	 * this length with the domain's colon in place, every field is as
	 * wide as pci_bdf_parse() allows, so only that spelling passes.
	 */
	if (!arg || strlen(arg) != VFIO_BDF_LEN - 1 || arg[4] != ':' ||
	    pci_bdf_parse(arg, &domain, &bdf))
		return -1;
	pci_sbdf_format(domain, bdf, out);	/* sysfs spells it in lower case */
	return 0;
}

/* The last component of a sysfs link target ("../../bus/pci/drivers/vfio-pci"). */
static int read_link_name(const struct host_ops *ops, const char *path, char *name,
			  size_t len)
{
	char target[PATH_MAX];
	ssize_t n = ops->readlink(ops->ctx, path, target, sizeof(target) - 1);
	const char *base;

	if (n < 0)
		return -1;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (!*base || strlen(base) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(name, base);
	return 0;
}

static bool bdf_given(const struct vfio_state *s, const char *bdf)
{
	for (size_t i = 0; i < s->ndevs; i++)
		if (!strcmp(s->devs[i].bdf, bdf))
			return true;
	return false;
}

/*
 * A PCI-to-PCI or CardBus bridge (class 06 04 or 06 07). A conventional
 * bridge and the functions behind it share one IOMMU group, the bridge
 * included; the kernel lets the group be used while the bridge has no
 * driver or a DMA-managed one (pcieport), and a bridge cannot be assigned,
 * so it is no member the user must pass.
 */
static bool is_bridge(const struct host_ops *ops, const char *bdf)
{
	char path[sizeof(SYSFS_PCI_DEVICES) + 64], cls[32];
	unsigned long v;
	char *end;

	if (snprintf(path, sizeof(path), SYSFS_PCI_DEVICES "/%.32s/class", bdf) >= (int)sizeof(path))
		return false;
	if (ops->read_file(ops->ctx, path, cls, sizeof(cls)) < 0)
		return false;
	errno = 0;
	v = strtoul(cls, &end, 16);
	if (errno || end == cls)
		return false;
	return (v >> 8) == 0x0604 || (v >> 8) == 0x0607;
}

/* Sysfs checks of one device: it exists, vfio-pci owns it, it is behind VT-d. */
static int discover_device(struct vfio_state *s, struct vfio_device *d, char *err,
			   size_t errlen)
{
	const struct host_ops *ops = s->ops;
	char path[PATH_MAX], name[64], members[LIST_BUF_SIZE];
	ssize_t len;
	char *end;

	snprintf(path, sizeof(path), SYSFS_PCI_DEVICES "/%s", d->bdf);
	if (ops->access(ops->ctx, path, F_OK)) {
		snprintf(err, errlen, "no PCI device %s (%s)", d->bdf, path);
		return -1;
	}

	snprintf(path, sizeof(path), SYSFS_PCI_DEVICES "/%s/driver", d->bdf);
	if (read_link_name(ops, path, name, sizeof(name)))
		strcpy(name, "no driver");
	if (strcmp(name, "vfio-pci")) {
		char unbind[128] = "";

		if (strcmp(name, "no driver"))
			snprintf(unbind, sizeof(unbind), "echo %s > " SYSFS_PCI_DEVICES
				 "/%s/driver/unbind and ", d->bdf, d->bdf);
		snprintf(err, errlen, "%s is bound to %s, not vfio-pci: echo %s > "
			 "/sys/bus/pci/drivers/vfio-pci/bind, after %secho vfio-pci > "
			 SYSFS_PCI_DEVICES "/%s/driver_override (or: driverctl set-override "
			 "%s vfio-pci)", d->bdf, name, d->bdf, unbind, d->bdf, d->bdf);
		return -1;
	}

	snprintf(path, sizeof(path), SYSFS_PCI_DEVICES "/%s/iommu_group", d->bdf);
	if (read_link_name(ops, path, name, sizeof(name))) {
		snprintf(err, errlen, "%s has no IOMMU group, so the IOMMU is not enabled: boot "
			 "the host with intel_iommu=on (and VT-d enabled in the firmware)", d->bdf);
		return -1;
	}
	errno = 0;
	d->group = strtoul(name, &end, 10);
	if (errno || *end || end == name) {
		snprintf(err, errlen, "%s: unexpected IOMMU group '%s' in %s", d->bdf, name, path);
		return -1;
	}

	/* The group is the unit of isolation: a device left out could DMA into the guest. */
	snprintf(path, sizeof(path), SYSFS_IOMMU_GROUPS "/%lu/devices", d->group);
	len = ops->list_dir(ops->ctx, path, members, sizeof(members));
	if (len < 0) {
		snprintf(err, errlen, "%s: cannot list IOMMU group %lu (%s): %s", d->bdf,
			 d->group, path, strerror(errno));
		return -1;
	}
	for (char *m = members; m < members + len; m += strlen(m) + 1)
		if (strcmp(m, d->bdf) && !bdf_given(s, m) && !is_bridge(ops, m)) {
			snprintf(err, errlen, "%s: IOMMU group %lu also holds %s: pass all of them "
				 "(--vfio %s --vfio %s)", d->bdf, d->group, m, d->bdf, m);
			return -1;
		}

	snprintf(path, sizeof(path), SYSFS_PCI_DEVICES "/%s/iommu", d->bdf);
	if (read_link_name(ops, path, d->iommu_unit, sizeof(d->iommu_unit))) {
		snprintf(err, errlen, "%s has no IOMMU unit (%s), so the IOMMU is not enabled: "
			 "boot the host with intel_iommu=on", d->bdf, path);
		return -1;
	}
	if (strncmp(d->iommu_unit, "dmar", 4)) {
		snprintf(err, errlen, "%s is behind %s, not an Intel VT-d unit (dmarN): "
			 "passthrough needs VT-d", d->bdf, d->iommu_unit);
		return -1;
	}
	return 0;
}

/* The device's cdev: vfio-dev/vfioN in sysfs names /dev/vfio/devices/vfioN. */
static int discover_cdev(struct vfio_state *s, struct vfio_device *d, char *err,
			 size_t errlen)
{
	const struct host_ops *ops = s->ops;
	char path[PATH_MAX], names[LIST_BUF_SIZE];
	ssize_t len;

	snprintf(path, sizeof(path), SYSFS_PCI_DEVICES "/%s/vfio-dev", d->bdf);
	len = ops->list_dir(ops->ctx, path, names, sizeof(names));
	for (char *m = names; len > 0 && m < names + len; m += strlen(m) + 1)
		if (!strncmp(m, "vfio", 4) && strlen(m) < sizeof(d->cdev) -
		    sizeof(DEV_VFIO_DEVICES "/")) {
			snprintf(d->cdev, sizeof(d->cdev), DEV_VFIO_DEVICES "/%s", m);
			break;
		}
	if (!d->cdev[0]) {
		snprintf(err, errlen, "no VFIO cdev for %s: needs CONFIG_VFIO_DEVICE_CDEV "
			 "(Linux 6.6+)", d->bdf);
		return -1;
	}
	if (ops->access(ops->ctx, d->cdev, F_OK)) {
		snprintf(err, errlen, "%s: %s is missing although sysfs lists it: is devtmpfs "
			 "(or udev) managing /dev?", d->bdf, d->cdev);
		return -1;
	}
	return 0;
}

static int open_iommufd(struct vfio_state *s, char *err, size_t errlen)
{
	const struct host_ops *ops = s->ops;

	if (ops->access(ops->ctx, DEV_IOMMU, F_OK)) {
		snprintf(err, errlen, "no " DEV_IOMMU ": load the iommufd module "
			 "(modprobe iommufd)");
		return -1;
	}
	s->iommufd = ops->open(ops->ctx, DEV_IOMMU, O_RDWR);
	if (s->iommufd < 0) {
		int e = errno;

		if (e == EACCES || e == EPERM)
			snprintf(err, errlen, "cannot open " DEV_IOMMU ": %s: run as root or give "
				 "this user read-write access to it (and to the VFIO cdevs)",
				 strerror(e));
		else
			snprintf(err, errlen, "cannot open " DEV_IOMMU ": %s", strerror(e));
		return -1;
	}
	return 0;
}

/* Errors name the device, the step and errno. */
static int step_failed(const struct vfio_device *d, const char *step, char *err,
		       size_t errlen)
{
	int e = errno;

	if (d)
		snprintf(err, errlen, "%s: %s failed: %s (errno %d)", d->bdf, step,
			 strerror(e), e);
	else
		snprintf(err, errlen, "%s failed: %s (errno %d)", step, strerror(e), e);
	return -1;
}

static int open_and_bind(struct vfio_state *s, struct vfio_device *d, char *err,
			 size_t errlen)
{
	const struct host_ops *ops = s->ops;
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind),
		.flags = 0,
		.iommufd = s->iommufd,
	};
	struct vfio_device_info info = { .argsz = sizeof(info) };

	d->fd = ops->open(ops->ctx, d->cdev, O_RDWR);
	if (d->fd < 0) {
		int e = errno;

		if (e == EACCES || e == EPERM)
			snprintf(err, errlen, "%s: cannot open %s: %s: run as root or give this "
				 "user read-write access to it", d->bdf, d->cdev, strerror(e));
		else
			snprintf(err, errlen, "%s: cannot open %s: %s (errno %d)", d->bdf,
				 d->cdev, strerror(e), e);
		return -1;
	}
	if (ops->ioctl(ops->ctx, d->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return step_failed(d, "VFIO_DEVICE_BIND_IOMMUFD", err, errlen);
	d->bound = true;
	d->dev_id = bind.out_devid;

	/* Before any guest RAM is pinned: refuse what is not a PCI function. */
	if (ops->ioctl(ops->ctx, d->fd, VFIO_DEVICE_GET_INFO, &info))
		return step_failed(d, "VFIO_DEVICE_GET_INFO", err, errlen);
	d->flags = info.flags;
	d->num_regions = info.num_regions;
	d->num_irqs = info.num_irqs;
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI)) {
		snprintf(err, errlen, "%s: VFIO_DEVICE_GET_INFO: not a PCI device (flags %#x)",
			 d->bdf, info.flags);
		return -1;
	}
	return 0;
}

/* Guest RAM at iova = guest physical address: the device DMAs as the guest sees memory. */
static int map_guest_ram(struct vfio_state *s, char *err, size_t errlen)
{
	const struct host_ops *ops = s->ops;
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	if (ops->ioctl(ops->ctx, s->iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return step_failed(NULL, "IOMMU_IOAS_ALLOC", err, errlen);
	s->ioas_allocated = true;
	s->ioas_id = alloc.out_ioas_id;

	for (size_t i = 0; i < s->vm->nmem; i++) {
		const struct mem_region *r = &s->vm->mem[i];
		struct iommu_ioas_map map = {
			.size = sizeof(map),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = s->ioas_id,
			.user_va = (uintptr_t)r->host,
			.length = r->size,
			.iova = r->gpa,
		};

		if (ops->ioctl(ops->ctx, s->iommufd, IOMMU_IOAS_MAP, &map)) {
			int e = errno;

			snprintf(err, errlen, "IOMMU_IOAS_MAP of guest RAM [%#llx, %#llx) failed: "
				 "%s (errno %d)%s", (unsigned long long)r->gpa,
				 (unsigned long long)(r->gpa + r->size), strerror(e), e,
				 e == ENOMEM ? ": pinning guest RAM needs RLIMIT_MEMLOCK "
				 "(ulimit -l) at least the guest's size" : "");
			return -1;
		}
		s->nmapped++;
	}
	return 0;
}

static int attach_pt(struct vfio_state *s, struct vfio_device *d, uint32_t pt_id,
		     char *err, size_t errlen)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.flags = 0,
		.pt_id = pt_id,
	};

	if (s->ops->ioctl(s->ops->ctx, d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return step_failed(d, "VFIO_DEVICE_ATTACH_IOMMUFD_PT", err, errlen);
	d->attached = true;
	d->pt_id = attach.pt_id;
	return 0;
}

/* VFIO_DEVICE_DETACH_IOMMUFD_PT of the RID (@pasid 0) or of one PASID. */
static int detach_pt(struct vfio_state *s, struct vfio_device *d, uint32_t pasid)
{
	struct tagvmm_vfio_detach_pasid detach = {
		.argsz = pasid ? sizeof(detach) : sizeof(struct vfio_device_detach_iommufd_pt),
		.flags = pasid ? VFIO_DEVICE_DETACH_PASID : 0,
		.pasid = pasid,
	};

	return s->ops->ioctl(s->ops->ctx, d->fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach);
}

static void teardown_failed(const struct vfio_device *d, const char *step)
{
	int e = errno;

	fprintf(stderr, "tagvmm: vfio: %s%s%s failed: %s (errno %d)\n", d ? d->bdf : "",
		d ? ": " : "", step, strerror(e), e);
}

/* The exact reverse of the setup, from whatever point it reached. */
static void unwind(struct vfio_state *s)
{
	const struct host_ops *ops = s->ops;

	/* The guest functions first: their interrupts go while the devices are still set up. */
	for (size_t i = s->ndevs; i-- > 0;) {
		vfio_pci_destroy(s->devs[i].pci);
		s->devs[i].pci = NULL;
	}
	for (size_t i = s->ndevs; i-- > 0;) {
		struct vfio_device *d = &s->devs[i];

		/* Stop the device's DMA before its address space goes away. */
		if (d->started && (d->flags & VFIO_DEVICE_FLAGS_RESET) &&
		    ops->ioctl(ops->ctx, d->fd, VFIO_DEVICE_RESET, NULL))
			teardown_failed(d, "VFIO_DEVICE_RESET");
		d->started = false;
	}
	for (size_t i = s->ndevs; i-- > 0;) {
		struct vfio_device *d = &s->devs[i];

		if (d->attached && detach_pt(s, d, 0))
			teardown_failed(d, "VFIO_DEVICE_DETACH_IOMMUFD_PT");
		d->attached = false;
	}
	while (s->nmapped > 0) {
		const struct mem_region *r = &s->vm->mem[--s->nmapped];
		struct iommu_ioas_unmap unmap = {
			.size = sizeof(unmap),
			.ioas_id = s->ioas_id,
			.iova = r->gpa,
			.length = r->size,
		};

		if (ops->ioctl(ops->ctx, s->iommufd, IOMMU_IOAS_UNMAP, &unmap))
			teardown_failed(NULL, "IOMMU_IOAS_UNMAP");
	}
	if (s->ioas_allocated) {
		struct iommu_destroy destroy = { .size = sizeof(destroy), .id = s->ioas_id };

		if (ops->ioctl(ops->ctx, s->iommufd, IOMMU_DESTROY, &destroy))
			teardown_failed(NULL, "IOMMU_DESTROY");
		s->ioas_allocated = false;
	}
	/* Closing the cdev is the unbind. */
	for (size_t i = s->ndevs; i-- > 0;) {
		struct vfio_device *d = &s->devs[i];

		if (d->fd >= 0)
			ops->close(ops->ctx, d->fd);
		d->fd = -1;
		d->bound = false;
	}
	if (s->iommufd >= 0)
		ops->close(ops->ctx, s->iommufd);
	s->iommufd = -1;
}

/* The function the guest sees and drives: config space, BARs, INTx/MSI/MSI-X. */
static int create_guest_function(struct vfio_state *s, struct vfio_device *d, char *err,
				 size_t errlen)
{
	char why[256];
	int bdf = pci_free_slot(s->vm, VFIO_GUEST_FIRST_SLOT);

	if (bdf < 0) {
		snprintf(err, errlen, "%s: no free PCI slot for its guest function (00:%02x.0 to "
			 "00:1f.0 are taken)", d->bdf, VFIO_GUEST_FIRST_SLOT);
		return -1;
	}
	why[0] = '\0';
	d->pci = vfio_pci_create(s->vm, s->ops, d->fd, (uint16_t)bdf, why, sizeof(why));
	if (!d->pci) {
		snprintf(err, errlen, "%s: %s", d->bdf, why);
		return -1;
	}
	d->guest_bdf = (uint16_t)bdf;
	return 0;
}

static int setup_host(struct vfio_state *s, char *err, size_t errlen)
{
	const struct host_ops *ops = s->ops;

	for (size_t i = 0; i < s->ndevs; i++)
		if (discover_device(s, &s->devs[i], err, errlen))
			return -1;
	if (open_iommufd(s, err, errlen))
		return -1;
	for (size_t i = 0; i < s->ndevs; i++)
		if (discover_cdev(s, &s->devs[i], err, errlen))
			return -1;

	for (size_t i = 0; i < s->ndevs; i++)
		if (open_and_bind(s, &s->devs[i], err, errlen))
			return -1;
	if (map_guest_ram(s, err, errlen))
		return -1;
	for (size_t i = 0; i < s->ndevs; i++) {
		struct vfio_device *d = &s->devs[i];

		/* With --viommu, viommu_setup() moves it to its unit's nest parent. */
		if (attach_pt(s, d, s->ioas_id, err, errlen))
			return -1;
		/* Whatever the host driver left running must not DMA into the guest. */
		if ((d->flags & VFIO_DEVICE_FLAGS_RESET) &&
		    ops->ioctl(ops->ctx, d->fd, VFIO_DEVICE_RESET, NULL))
			return step_failed(d, "VFIO_DEVICE_RESET", err, errlen);
		d->started = true;
		if (create_guest_function(s, d, err, errlen))
			return -1;
	}
	return 0;
}

int vfio_setup(struct vm *vm, const char *const *bdfs, size_t n,
	       const struct host_ops *ops, char *err, size_t errlen)
{
	struct vfio_state *s;

	if (n == 0)
		return 0;
	if (vfio_state_of(vm)) {
		snprintf(err, errlen, "vfio: devices are already set up for this VM");
		return -1;
	}
	if (n > VFIO_MAX_DEVICES) {
		snprintf(err, errlen, "at most %d --vfio devices", VFIO_MAX_DEVICES);
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "vfio: out of memory");
		return -1;
	}
	s->vm = vm;
	s->ops = ops;
	s->iommufd = -1;
	for (size_t i = 0; i < n; i++) {
		struct vfio_device *d = &s->devs[i];

		d->fd = -1;
		if (vfio_parse_bdf(bdfs[i], d->bdf)) {
			snprintf(err, errlen, "--vfio '%s': not a PCI address DDDD:BB:DD.F "
				 "(e.g. 0000:3b:00.0)", bdfs[i]);
			free(s);
			return -1;
		}
		if (bdf_given(s, d->bdf)) {
			snprintf(err, errlen, "--vfio %s given twice", d->bdf);
			free(s);
			return -1;
		}
		s->ndevs++;
	}

	if (setup_host(s, err, errlen)) {
		unwind(s);
		free(s);
		return -1;
	}
	vm->vfio = s;
	return 0;
}

struct vfio_state *vfio_state_of(const struct vm *vm)
{
	return vm->vfio;
}

void vfio_teardown(struct vm *vm)
{
	struct vfio_state *s = vm->vfio;

	if (!s)
		return;
	vm->vfio = NULL;
	unwind(s);
	free(s);
}

/* Assigned device @index of @vm with its cdev open, or NULL with a message. */
static struct vfio_device *open_device(struct vm *vm, size_t index, struct vfio_state **sp,
				       char *err, size_t errlen)
{
	struct vfio_state *s = vfio_state_of(vm);

	if (!s || index >= s->ndevs || s->devs[index].fd < 0) {
		snprintf(err, errlen, "vfio: no assigned device %zu", index);
		return NULL;
	}
	*sp = s;
	return &s->devs[index];
}

int vfio_device_attach(struct vm *vm, size_t index, uint32_t pt_id, char *err, size_t errlen)
{
	struct vfio_state *s;
	struct vfio_device *d = open_device(vm, index, &s, err, errlen);

	return d ? attach_pt(s, d, pt_id, err, errlen) : -1;
}

int vfio_device_detach(struct vm *vm, size_t index, char *err, size_t errlen)
{
	struct vfio_state *s;
	struct vfio_device *d = open_device(vm, index, &s, err, errlen);

	if (!d)
		return -1;
	if (!d->attached)
		return 0;
	if (detach_pt(s, d, 0))
		return step_failed(d, "VFIO_DEVICE_DETACH_IOMMUFD_PT", err, errlen);
	d->attached = false;
	d->pt_id = 0;
	return 0;
}

int vfio_device_attach_pasid(struct vm *vm, size_t index, uint32_t pasid, uint32_t pt_id,
			     char *err, size_t errlen)
{
	struct tagvmm_vfio_attach_pasid attach = {
		.argsz = sizeof(attach),
		.flags = VFIO_DEVICE_ATTACH_PASID,
		.pt_id = pt_id,
		.pasid = pasid,
	};
	struct vfio_state *s;
	struct vfio_device *d;

	if (pasid == 0)
		return vfio_device_attach(vm, index, pt_id, err, errlen);
	d = open_device(vm, index, &s, err, errlen);
	if (!d)
		return -1;
	if (s->ops->ioctl(s->ops->ctx, d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return step_failed(d, errno == EINVAL || errno == ENOTTY || errno == EOPNOTSUPP ?
				   "VFIO_DEVICE_ATTACH_IOMMUFD_PT of a PASID (the kernel or the "
				   "device may lack PASID attach)" :
				   "VFIO_DEVICE_ATTACH_IOMMUFD_PT of a PASID", err, errlen);
	return 0;
}

int vfio_device_detach_pasid(struct vm *vm, size_t index, uint32_t pasid, char *err,
			     size_t errlen)
{
	struct vfio_state *s;
	struct vfio_device *d = open_device(vm, index, &s, err, errlen);

	if (!d)
		return -1;
	if (pasid == 0) {
		snprintf(err, errlen, "vfio: PASID 0 is the device itself (vfio_device_detach())");
		return -1;
	}
	if (detach_pt(s, d, pasid))
		return step_failed(d, "VFIO_DEVICE_DETACH_IOMMUFD_PT of a PASID", err, errlen);
	return 0;
}

/* vm_destroy() undoes the passthrough before guest RAM is unmapped. */
static int vfio_init(struct vm *vm, char *err, size_t errlen)
{
	(void)vm;
	(void)err;
	(void)errlen;
	return 0;
}
VM_INIT_EXIT(vfio_init, vfio_teardown, VM_INIT_DEVICE);
