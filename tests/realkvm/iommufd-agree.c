// SPDX-License-Identifier: MIT
/*
 * iommufd-agree: holds the dry-run /dev/iommu (hostvtd/iommufd-dryrun.c)
 * against a real kernel's, for every call the two share. Run in the
 * passthrough testbed's L1 (tests/realkvm/passthrough-l1-init.sh) on a VFIO
 * device cdev that no one else uses:
 *
 *   iommufd-agree /dev/vfio/devices/vfioN
 *
 * The device is bound to a real iommufd (VFIO_DEVICE_BIND_IOMMUFD), and the
 * dry run gets a device with the CAP and ECAP the real kernel reports for
 * it. Then the same calls, correct ones and mistakes, go to both in the
 * same order, each side with its own object ids, and each line says what
 * both answered: AGREE or DIFFER, the errno of each, and for calls that
 * succeed the outputs a caller reads. The calls tagvmm makes that the dry
 * run does not model (IOAS map and unmap, the VFIO device calls) run on the
 * real kernel only, on REAL lines. The last line counts them; the exit
 * status is 0 when every shared call agreed, 1 when one differed, 2 when
 * the setup failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "hostvtd/iommufd-dryrun.h"
#include "lib/hostops.h"
#include "lib/iommufd-compat.h"
#include "lib/vfio-compat.h"

/* One /dev/iommu: the real kernel's or the dry run's, and the ids it gave. */
struct side {
	const char *name;
	const struct host_ops *ops;
	int fd;
	uint32_t dev_id, ioas_id, hwpt_id;
};

/* One call: its result (0 or an errno) and, on success, what it returned. */
struct answer {
	int err;
	char out[96];
};

static int call(struct side *s, unsigned long request, void *arg, struct answer *a)
{
	a->out[0] = '\0';
	a->err = s->ops->ioctl(s->ops->ctx, s->fd, request, arg) ? errno : 0;
	return a->err;
}

/* An ioctl on another fd of the real side (the device's cdev). */
static int ioctl_errno(const struct side *s, int fd, unsigned long request, void *arg)
{
	return s->ops->ioctl(s->ops->ctx, fd, request, arg) ? errno : 0;
}

/* IOMMU_GET_HW_INFO with @data_len bytes of buffer; @tweak may spoil the command. */
static void hw_info(struct side *s, uint32_t data_len, bool null_data, uint32_t dev_delta,
		    uint32_t flags, uint32_t size, struct answer *a)
{
	/* Room for a command larger than the kernel's, with a byte set beyond it. */
	union {
		struct iommu_hw_info cmd;
		unsigned char raw[sizeof(struct iommu_hw_info) + 8];
	} u;
	struct iommu_hw_info_vtd vtd[2];

	memset(&u, 0, sizeof(u));
	memset(vtd, 0xa5, sizeof(vtd));
	u.cmd.size = size ? size : sizeof(u.cmd);
	if (u.cmd.size > sizeof(u.cmd))
		u.raw[sizeof(u.cmd) + 4] = 1;
	u.cmd.flags = flags;
	u.cmd.dev_id = s->dev_id + dev_delta;
	u.cmd.data_len = data_len;
	u.cmd.data_uptr = null_data ? 0 : (uintptr_t)vtd;
	if (call(s, IOMMU_GET_HW_INFO, &u, a))
		return;
	snprintf(a->out, sizeof(a->out), "type %u data_len %u flags %#x", u.cmd.out_data_type,
		 u.cmd.data_len, data_len >= 4 ? vtd[0].flags : 0);
}

static void ioas_alloc(struct side *s, uint32_t flags, struct answer *a)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd), .flags = flags };

	if (!call(s, IOMMU_IOAS_ALLOC, &cmd, a) && !flags)
		s->ioas_id = cmd.out_ioas_id;
}

enum pt { PT_IOAS, PT_HWPT, PT_BAD, PT_DEVICE };

static uint32_t pt_id(const struct side *s, enum pt pt)
{
	switch (pt) {
	case PT_IOAS:	return s->ioas_id;
	case PT_HWPT:	return s->hwpt_id;
	case PT_DEVICE:	return s->dev_id;
	default:	return s->ioas_id + 1000;
	}
}

/* IOMMU_HWPT_ALLOC; the first paging HWPT allocated is kept for what follows. */
static void hwpt_alloc(struct side *s, uint32_t flags, enum pt pt, uint32_t dev_delta,
		       uint32_t data_type, uint32_t data_len, uint32_t reserved, struct answer *a)
{
	struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = 0x100000, .addr_width = 48 };
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd), .flags = flags, .dev_id = s->dev_id + dev_delta,
		.pt_id = pt_id(s, pt), .data_type = data_type, .data_len = data_len,
		.data_uptr = data_len ? (uintptr_t)&s1 : 0, .__reserved = reserved,
	};

	if (call(s, IOMMU_HWPT_ALLOC, &cmd, a))
		return;
	if (!s->hwpt_id && pt == PT_IOAS && !flags)
		s->hwpt_id = cmd.out_hwpt_id;
	else	/* any other success is not kept: give it back */
		s->ops->ioctl(s->ops->ctx, s->fd, IOMMU_DESTROY,
			      &(struct iommu_destroy){ .size = sizeof(struct iommu_destroy),
						       .id = cmd.out_hwpt_id });
	snprintf(a->out, sizeof(a->out), "allocated");
}

static void hwpt_invalidate(struct side *s, enum pt pt, uint32_t entry_num, bool null_data,
			    struct answer *a)
{
	struct iommu_hwpt_vtd_s1_invalidate e = { .addr = 0, .npages = 1 };
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd), .hwpt_id = pt_id(s, pt),
		.data_uptr = null_data ? 0 : (uintptr_t)&e,
		.data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, .entry_len = sizeof(e),
		.entry_num = entry_num,
	};

	call(s, IOMMU_HWPT_INVALIDATE, &cmd, a);
	snprintf(a->out + strlen(a->out), sizeof(a->out) - strlen(a->out), "entry_num out %u",
		 cmd.entry_num);
}

static void destroy(struct side *s, enum pt pt, struct answer *a)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = pt_id(s, pt) };

	call(s, IOMMU_DESTROY, &cmd, a);
}

/*
 * The shared calls, in order. Each runs on both sides; the state they
 * leave (an IOAS, a paging HWPT) is what the next ones use.
 */
#define DEV_UNKNOWN 1000
static void run_case(int i, struct side *s, struct answer *a, const char **what)
{
	switch (i) {
#define CASE(n, desc, ...) case n: *what = desc; __VA_ARGS__; return
	CASE(0, "IOMMU_GET_HW_INFO: the device, a whole struct iommu_hw_info_vtd",
	     hw_info(s, sizeof(struct iommu_hw_info_vtd), false, 0, 0, 0, a));
	CASE(1, "IOMMU_GET_HW_INFO: data_len 0 (the caller asks for the size)",
	     hw_info(s, 0, false, 0, 0, 0, a));
	CASE(2, "IOMMU_GET_HW_INFO: data_len 4, a short buffer",
	     hw_info(s, 4, false, 0, 0, 0, a));
	CASE(3, "IOMMU_GET_HW_INFO: data_len 32, more than the kernel has",
	     hw_info(s, 32, false, 0, 0, 0, a));
	CASE(4, "IOMMU_GET_HW_INFO: an unknown dev_id",
	     hw_info(s, sizeof(struct iommu_hw_info_vtd), false, DEV_UNKNOWN, 0, 0, a));
	CASE(5, "IOMMU_GET_HW_INFO: flags 1 (unknown)",
	     hw_info(s, sizeof(struct iommu_hw_info_vtd), false, 0, 1, 0, a));
	CASE(6, "IOMMU_GET_HW_INFO: size 8, below the command",
	     hw_info(s, sizeof(struct iommu_hw_info_vtd), false, 0, 0, 8, a));
	CASE(7, "IOMMU_GET_HW_INFO: size 8 bytes beyond the kernel's struct, a byte set there",
	     hw_info(s, sizeof(struct iommu_hw_info_vtd), false, 0, 0,
		     sizeof(struct iommu_hw_info) + 8, a));
	CASE(8, "IOMMU_GET_HW_INFO: data_len 16 with data_uptr NULL",
	     hw_info(s, 16, true, 0, 0, 0, a));
	CASE(9, "IOMMU_IOAS_ALLOC: flags 1 (unknown)", ioas_alloc(s, 1, a));
	CASE(10, "IOMMU_IOAS_ALLOC", ioas_alloc(s, 0, a));
	CASE(11, "IOMMU_HWPT_ALLOC: paging HWPT on the IOAS",
	     hwpt_alloc(s, 0, PT_IOAS, 0, IOMMU_HWPT_DATA_NONE, 0, 0, a));
	CASE(12, "IOMMU_HWPT_ALLOC: NEST_PARENT on the IOAS",
	     hwpt_alloc(s, IOMMU_HWPT_ALLOC_NEST_PARENT, PT_IOAS, 0, IOMMU_HWPT_DATA_NONE, 0, 0, a));
	CASE(13, "IOMMU_HWPT_ALLOC: DIRTY_TRACKING on the IOAS",
	     hwpt_alloc(s, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, PT_IOAS, 0, IOMMU_HWPT_DATA_NONE, 0, 0,
			a));
	CASE(14, "IOMMU_HWPT_ALLOC: flag bit 30 (unknown)",
	     hwpt_alloc(s, 1u << 30, PT_IOAS, 0, IOMMU_HWPT_DATA_NONE, 0, 0, a));
	CASE(15, "IOMMU_HWPT_ALLOC: an unknown dev_id",
	     hwpt_alloc(s, 0, PT_IOAS, DEV_UNKNOWN, IOMMU_HWPT_DATA_NONE, 0, 0, a));
	CASE(16, "IOMMU_HWPT_ALLOC: an unknown pt_id",
	     hwpt_alloc(s, 0, PT_BAD, 0, IOMMU_HWPT_DATA_NONE, 0, 0, a));
	CASE(17, "IOMMU_HWPT_ALLOC: pt_id is the device",
	     hwpt_alloc(s, 0, PT_DEVICE, 0, IOMMU_HWPT_DATA_NONE, 0, 0, a));
	CASE(18, "IOMMU_HWPT_ALLOC: data_type NONE with data_len 24",
	     hwpt_alloc(s, 0, PT_IOAS, 0, IOMMU_HWPT_DATA_NONE, 24, 0, a));
	CASE(19, "IOMMU_HWPT_ALLOC: __reserved set",
	     hwpt_alloc(s, 0, PT_IOAS, 0, IOMMU_HWPT_DATA_NONE, 0, 1, a));
	CASE(20, "IOMMU_HWPT_ALLOC: VT-d stage 1 on the IOAS",
	     hwpt_alloc(s, 0, PT_IOAS, 0, IOMMU_HWPT_DATA_VTD_S1,
			sizeof(struct iommu_hwpt_vtd_s1), 0, a));
	CASE(21, "IOMMU_HWPT_ALLOC: VT-d stage 1 on a paging HWPT that is no nest parent",
	     hwpt_alloc(s, 0, PT_HWPT, 0, IOMMU_HWPT_DATA_VTD_S1,
			sizeof(struct iommu_hwpt_vtd_s1), 0, a));
	CASE(22, "IOMMU_HWPT_INVALIDATE: the paging HWPT (kernel-managed)",
	     hwpt_invalidate(s, PT_HWPT, 1, false, a));
	CASE(23, "IOMMU_HWPT_INVALIDATE: an unknown hwpt_id",
	     hwpt_invalidate(s, PT_BAD, 1, false, a));
	CASE(24, "IOMMU_HWPT_INVALIDATE: the IOAS",
	     hwpt_invalidate(s, PT_IOAS, 1, false, a));
	CASE(25, "IOMMU_HWPT_INVALIDATE: entry_num 1 with data_uptr NULL",
	     hwpt_invalidate(s, PT_HWPT, 1, true, a));
	CASE(26, "IOMMU_HWPT_INVALIDATE: entry_num 2^19 + 1 (past the kernel's bound)",
	     hwpt_invalidate(s, PT_BAD, (1u << 19) + 1, false, a));
	CASE(27, "IOMMU_DESTROY: the IOAS while the paging HWPT holds it", destroy(s, PT_IOAS, a));
	CASE(28, "IOMMU_DESTROY: the device", destroy(s, PT_DEVICE, a));
	CASE(29, "IOMMU_DESTROY: the paging HWPT", destroy(s, PT_HWPT, a));
	CASE(30, "IOMMU_DESTROY: the paging HWPT again", destroy(s, PT_HWPT, a));
	CASE(31, "IOMMU_DESTROY: an unknown id", destroy(s, PT_BAD, a));
	CASE(32, "IOMMU_DESTROY: the IOAS", destroy(s, PT_IOAS, a));
#undef CASE
	default: *what = NULL;
	}
}

/* "ok", or the errno's name. */
static const char *err_name(int err)
{
	const char *name = err ? strerrorname_np(err) : "ok";

	return name ? name : "an unnamed errno";
}

/*
 * What tagvmm --vfio does that only the real kernel answers: map guest RAM
 * into the IOAS, attach the device to it, detach, unmap.
 */
static int real_only(struct side *r, int dev_fd)
{
	const size_t len = 2 << 20;
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iommu_ioas_map map = {
		.size = sizeof(map), .user_va = (uintptr_t)mem, .length = len, .iova = 0x100000,
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
	};
	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap), .iova = 0x100000, .length = len };
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
	struct vfio_device_detach_iommufd_pt dt = { .argsz = sizeof(dt) };
	struct answer a;
	int bad = 0;

	if (mem == MAP_FAILED)
		return 1;
	ioas_alloc(r, 0, &a);
	map.ioas_id = unmap.ioas_id = at.pt_id = r->ioas_id;
	/* Each line: what the kernel answered, and whether that was what tagvmm expects. */
#define EXPECT(want, fmt, ...) do { \
		printf("REAL " fmt ": %s%s\n", __VA_ARGS__, err_name(a.err), \
		       a.err == (want) ? "" : " (unexpected)"); \
		bad += a.err != (want); \
	} while (0)
	call(r, IOMMU_IOAS_MAP, &map, &a);
	EXPECT(0, "%s", "IOMMU_IOAS_MAP: 2 MiB at iova 0x100000, fixed, read-write");
	map.iova = 0x200000;
	call(r, IOMMU_IOAS_MAP, &map, &a);
	EXPECT(EEXIST, "%s", "IOMMU_IOAS_MAP: iova 0x200000, over the first map");
	a.err = ioctl_errno(r, dev_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
	EXPECT(0, "VFIO_DEVICE_ATTACH_IOMMUFD_PT: the IOAS (pt_id out %u)", at.pt_id);
	/* With a 4 KiB-page domain attached, the IOAS takes only page-aligned IOVAs. */
	map.iova = 0x400800;
	call(r, IOMMU_IOAS_MAP, &map, &a);
	EXPECT(EINVAL, "%s", "IOMMU_IOAS_MAP: iova 0x400800 (not page-aligned), a device attached");
	a.err = ioctl_errno(r, dev_fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt);
	EXPECT(0, "%s", "VFIO_DEVICE_DETACH_IOMMUFD_PT");
	call(r, IOMMU_IOAS_UNMAP, &unmap, &a);
	EXPECT(0, "%s", "IOMMU_IOAS_UNMAP: the 2 MiB");
	call(r, IOMMU_IOAS_UNMAP, &unmap, &a);
	EXPECT(ENOENT, "%s", "IOMMU_IOAS_UNMAP: the same range again");
	at.pt_id = r->ioas_id + 1000;
	a.err = ioctl_errno(r, dev_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
	EXPECT(ENOENT, "%s", "VFIO_DEVICE_ATTACH_IOMMUFD_PT: an unknown pt_id");
#undef EXPECT
	munmap(mem, len);
	return bad;
}

int main(int argc, char **argv)
{
	struct iommufd_dryrun *dr = iommufd_dryrun_new();
	struct side real = { .name = "real", .ops = &host_ops_real };
	struct side dry = { .name = "dry run", .ops = dr ? iommufd_dryrun_ops(dr) : NULL };
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct iommu_hw_info_vtd vtd = { 0 };
	struct iommu_hw_info info = { .size = sizeof(info), .data_len = sizeof(vtd),
				      .data_uptr = (uintptr_t)&vtd };
	int dev_fd, agree = 0, differ = 0, real_bad;
	unsigned int major = IOMMUFD_DRYRUN_LINUX_NEWEST / 100, minor = IOMMUFD_DRYRUN_LINUX_NEWEST % 100;
	struct utsname un = { .release = "unknown" };

	if (argc != 2) {
		fprintf(stderr, "usage: iommufd-agree /dev/vfio/devices/vfioN\n");
		return 2;
	}
	if (!dr)
		return 2;
	real.fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	dev_fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (real.fd < 0 || dev_fd < 0) {
		fprintf(stderr, "iommufd-agree: cannot open /dev/iommu or %s: %s\n", argv[1],
			strerror(errno));
		return 2;
	}
	bind.iommufd = real.fd;
	if (ioctl_errno(&real, dev_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		fprintf(stderr, "iommufd-agree: VFIO_DEVICE_BIND_IOMMUFD: %s\n", strerror(errno));
		return 2;
	}
	real.dev_id = bind.out_devid;
	info.dev_id = real.dev_id;
	if (ioctl_errno(&real, real.fd, IOMMU_GET_HW_INFO, &info)) {
		fprintf(stderr, "iommufd-agree: IOMMU_GET_HW_INFO: %s\n", strerror(errno));
		return 2;
	}
	printf("device %s: dev_id %u, VT-d cap %#llx ecap %#llx\n", argv[1], real.dev_id,
	       (unsigned long long)vtd.cap_reg, (unsigned long long)vtd.ecap_reg);
	/* The dry run follows this kernel's rules where they changed. */
	if (uname(&un) == 0 && sscanf(un.release, "%u.%u", &major, &minor) == 2)
		iommufd_dryrun_set_linux(dr, major, minor);
	printf("kernel %s; the dry run follows Linux %u.%u's rules\n", un.release, major, minor);
	dry.fd = dry.ops->open(dry.ops->ctx, "/dev/iommu", O_RDWR);
	if (dry.fd < 0 ||
	    iommufd_dryrun_bind_device(dr, dry.fd, vtd.cap_reg, vtd.ecap_reg, &dry.dev_id)) {
		fprintf(stderr, "iommufd-agree: the dry run: %s\n", strerror(errno));
		return 2;
	}

	for (int i = 0;; i++) {
		struct answer ra, da;
		const char *what;

		run_case(i, &real, &ra, &what);
		if (!what)
			break;
		run_case(i, &dry, &da, &what);
		bool same = ra.err == da.err && !strcmp(ra.out, da.out);
		printf("%s %s: real %s%s%s, dry run %s%s%s\n", same ? "AGREE" : "DIFFER", what,
		       err_name(ra.err), ra.out[0] ? " " : "", ra.out, err_name(da.err),
		       da.out[0] ? " " : "", da.out);
		same ? agree++ : differ++;
	}
	real.ioas_id = 0;
	real_bad = real_only(&real, dev_fd);
	printf("agree: %d shared calls, %d agree, %d differ; %d unexpected answers from the "
	       "real-only calls\n", agree + differ, agree, differ, real_bad);
	close(dev_fd);
	close(real.fd);
	dry.ops->close(dry.ops->ctx, dry.fd);
	iommufd_dryrun_free(dr);
	return differ || real_bad ? 1 : 0;
}

