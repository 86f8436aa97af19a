// SPDX-License-Identifier: MIT
/*
 * The dry-run iommufd (iommufd-dryrun.h). Each check names the kernel
 * function that makes it, so the two can be held side by side; the order of
 * the checks is the kernel's too, since it decides which errno a call with
 * several faults gets.
 *
 * Past 800 lines on purpose: every object kind (IOAS, device, HWPTs, fault
 * queues and their fds) lives in one per-iommufd object table under one
 * lock, and the kernel's checks cross them (a HWPT holds its parent and
 * its fault queue; IOMMU_DESTROY follows those users); split, that table
 * would become an interface of its own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/iommufd-compat.h"
#include "hostvtd/iommufd-dryrun.h"
#include "hostvtd/iommufd.h"
#include "lib/util.h"
#include "vtd/regs.h"

/* Far from the fds a process usually holds, so a mix-up shows in the log. */
#define DRYRUN_FIRST_FD 1000
/* hw_pagetable.c: the most entries one IOMMU_HWPT_INVALIDATE takes. */
#define DR_INVALIDATE_ENTRY_NUM_MAX (1u << 19)

enum dr_type {
	DR_FREE,
	DR_IOAS,
	DR_DEVICE,
	DR_HWPT_PAGING,
	DR_HWPT_NESTED,
	DR_FAULT,
};

/*
 * A fault queue (fault.c): groups the test injected, waiting to be read;
 * groups read and not yet answered (the kernel's fault->response xarray,
 * by cookie); and the answers, kept for the test to check. All bounded:
 * a full table refuses the injection.
 */
struct dr_fault {
	int fd;				/* its file; -1 once closed */
	struct iommu_hwpt_pgfault deliver[IOMMUFD_DRYRUN_FAULT_MAX];
	uint8_t group_len[IOMMUFD_DRYRUN_FAULT_MAX];	/* at each group's first record */
	size_t ndeliver;
	struct {
		uint32_t cookie;
		uint32_t nrec;
	} waiting[IOMMUFD_DRYRUN_FAULT_MAX];
	size_t nwaiting;
	uint32_t next_cookie;		/* xa_alloc() with XA_FLAGS_ALLOC1: from 1 */
	struct iommu_hwpt_page_response answered[IOMMUFD_DRYRUN_FAULT_MAX];
	size_t nanswered;
};

struct dr_obj {
	enum dr_type type;
	/*
	 * Objects holding this one (the kernel's obj->users less the xarray's
	 * own reference): IOMMU_DESTROY refuses with EBUSY while non-zero.
	 */
	unsigned int users;
	uint32_t pt_id;			/* HWPTs: the IOAS or the parent they hold */
	uint32_t dev_id;		/* HWPTs: the device they were allocated through */
	uint64_t cap, ecap;		/* devices: their unit's registers */
	bool nest_parent;
	struct iommu_hwpt_vtd_s1 s1;
	uint32_t fault_id;		/* nested HWPTs allocated with FAULT_ID_VALID; else 0 */
	struct dr_fault *fault;		/* DR_FAULT */
	uint64_t calls, entries, refused;
};

/* One open of /dev/iommu: its own object ids, as each iommufd_ctx has. */
struct dr_ctx {
	int fd;
	struct dr_obj *objs;		/* indexed by id; ids start at 1 (XA_FLAGS_ALLOC1) */
	size_t nslots;
	struct dr_ctx *next;
};

struct iommufd_dryrun {
	struct host_ops ops;
	pthread_mutex_t lock;
	struct dr_ctx *ctxs;
	int next_fd;
	FILE *log;
	struct iommufd_dryrun_stats st;
	unsigned int linux_version;	/* major * 100 + minor; the rules' version */
};

/* One ioctl being answered: its description and, if refused, why. */
struct call {
	struct iommufd_dryrun *dr;
	struct dr_ctx *ctx;
	void *arg;
	uint32_t user_size;
	char desc[256];
	char why[160];
};

__attribute__((format(printf, 2, 3)))
static void describe(struct call *c, const char *fmt, ...)
{
	size_t len = strlen(c->desc);
	va_list ap;

	if (len >= sizeof(c->desc) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(c->desc + len, sizeof(c->desc) - len, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4)))
static int refuse(struct call *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

static struct dr_ctx *find_ctx(struct iommufd_dryrun *dr, int fd)
{
	for (struct dr_ctx *x = dr->ctxs; x; x = x->next)
		if (x->fd == fd)
			return x;
	return NULL;
}

static struct dr_obj *get_obj(struct dr_ctx *x, uint32_t id, enum dr_type type)
{
	if (id == 0 || id >= x->nslots || x->objs[id].type == DR_FREE)
		return NULL;
	if (type != DR_FREE && x->objs[id].type != type)
		return NULL;
	return &x->objs[id];
}

/* The lowest free id, as xa_alloc() hands out; 0 when out of memory. */
static uint32_t new_obj(struct dr_ctx *x, enum dr_type type)
{
	uint32_t id;

	for (id = 1; id < x->nslots; id++)
		if (x->objs[id].type == DR_FREE)
			break;
	if (id >= x->nslots) {
		size_t old = x->nslots, cap = x->nslots;

		if (array_reserve((void **)&x->objs, &cap, id + 1, sizeof(*x->objs)))
			return 0;
		memset(&x->objs[old], 0, (cap - old) * sizeof(*x->objs));
		x->nslots = cap;
	}
	memset(&x->objs[id], 0, sizeof(x->objs[id]));
	x->objs[id].type = type;
	return id;
}

static void free_obj(struct dr_ctx *x, uint32_t id)
{
	struct dr_obj *o = &x->objs[id];

	if ((o->type == DR_HWPT_PAGING || o->type == DR_HWPT_NESTED) && get_obj(x, o->pt_id, DR_FREE))
		x->objs[o->pt_id].users--;
	if (o->fault_id && get_obj(x, o->fault_id, DR_FAULT))
		x->objs[o->fault_id].users--;
	free(o->fault);
	memset(o, 0, sizeof(*o));
}

/*
 * iommufd_fops_ioctl(): the leading u32 is the caller's struct size; below
 * the command's last mandatory field is EINVAL, beyond the kernel's struct
 * the extra bytes must be zero (copy_struct_from_user(): E2BIG).
 */
static int get_cmd(struct call *c, void *kbuf, size_t ksize, size_t min_size)
{
	const unsigned char *u = c->arg;

	if (!c->arg)
		return refuse(c, EFAULT, "NULL argument");
	memcpy(&c->user_size, c->arg, sizeof(c->user_size));
	describe(c, " size %u", c->user_size);
	if (c->user_size < min_size)
		return refuse(c, EINVAL, "size %u is below the %zu bytes the command needs",
			      c->user_size, min_size);
	for (size_t i = ksize; i < c->user_size; i++)
		if (u[i])
			return refuse(c, E2BIG, "size %u: byte %zu beyond the kernel's %zu-byte struct "
				      "is not zero", c->user_size, i, ksize);
	memset(kbuf, 0, ksize);
	memcpy(kbuf, c->arg, c->user_size < ksize ? c->user_size : ksize);
	return 0;
}

/* iommufd_ucmd_respond(): the kernel writes back as much as the caller has. */
static void respond(struct call *c, const void *kbuf, size_t ksize)
{
	memcpy(c->arg, kbuf, c->user_size < ksize ? c->user_size : ksize);
}

/* main.c: iommufd_ioas_alloc_ioctl() */
static int do_ioas_alloc(struct call *c)
{
	struct iommu_ioas_alloc cmd;
	uint32_t id;

	if (get_cmd(c, &cmd, sizeof(cmd), offsetof(struct iommu_ioas_alloc, out_ioas_id) + 4))
		return -1;
	describe(c, " flags %#x", cmd.flags);
	if (cmd.flags)
		return refuse(c, EOPNOTSUPP, "flags %#x: IOAS allocation takes none", cmd.flags);
	id = new_obj(c->ctx, DR_IOAS);
	if (!id)
		return refuse(c, ENOMEM, "out of memory");
	cmd.out_ioas_id = id;
	describe(c, " -> ioas %u", id);
	respond(c, &cmd, sizeof(cmd));
	return 0;
}

/* Paging HWPT on an IOAS: iommufd_hwpt_paging_alloc(), intel_iommu_domain_alloc_paging_flags(). */
static int alloc_paging(struct call *c, const struct iommu_hwpt_alloc *cmd, struct dr_obj *dev)
{
	const uint32_t valid = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING |
			       IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID;
	bool parent = cmd->flags & IOMMU_HWPT_ALLOC_NEST_PARENT;

	if (cmd->flags & ~valid)
		return refuse(c, EOPNOTSUPP, "flags %#x: unknown bits", cmd->flags);
	if (cmd->flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING)
		return refuse(c, EOPNOTSUPP, "DIRTY_TRACKING: the dry run's devices report no "
			      "IOMMU_CAP_DIRTY_TRACKING");
	if ((cmd->flags & IOMMU_HWPT_FAULT_ID_VALID) && parent)
		return refuse(c, EOPNOTSUPP, "FAULT_ID_VALID with NEST_PARENT");
	/* The Intel driver, which gets the flags without FAULT_ID_VALID. */
	if (parent && !(dev->ecap & VTD_ECAP_NEST))
		return refuse(c, EOPNOTSUPP, "NEST_PARENT: device %u's unit has no ECAP.NEST",
			      cmd->dev_id);
	if (cmd->data_len)
		return refuse(c, EOPNOTSUPP, "VT-d paging domains take no driver data");
	if (parent && (!(dev->ecap & VTD_ECAP_SMTS) || !(dev->ecap & VTD_ECAP_SLTS)))
		return refuse(c, EOPNOTSUPP, "NEST_PARENT: device %u's unit lacks scalable mode "
			      "or second-stage translation", cmd->dev_id);
	/* iommufd_hwpt_paging_alloc(): valid_flags has no FAULT_ID_VALID (6.11-6.15). */
	if (cmd->flags & IOMMU_HWPT_FAULT_ID_VALID)
		return refuse(c, EOPNOTSUPP, "FAULT_ID_VALID on a paging HWPT: only nested HWPTs "
			      "report faults to user space");
	return 0;
}

/* Nested HWPT on a parent: iommufd_hwpt_nested_alloc(), intel_iommu_domain_alloc_nested(). */
static int alloc_nested(struct call *c, const struct iommu_hwpt_alloc *cmd, struct dr_obj *dev,
			struct dr_obj *parent, struct iommu_hwpt_vtd_s1 *s1)
{
	if ((cmd->flags & ~(IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID)) || !cmd->data_len)
		return refuse(c, EOPNOTSUPP, "a nested HWPT takes driver data and no flags but "
			      "FAULT_ID_VALID and PASID (flags %#x, data_len %u)", cmd->flags,
			      cmd->data_len);
	if (!parent->nest_parent)
		return refuse(c, EINVAL, "pt_id %u was not allocated with NEST_PARENT", cmd->pt_id);
	/* The Intel driver's nested_supported(): scalable mode and ECAP.NEST. */
	if (!(dev->ecap & VTD_ECAP_NEST) || !(dev->ecap & VTD_ECAP_SMTS))
		return refuse(c, EOPNOTSUPP, "device %u's unit has no ECAP.NEST or no scalable "
			      "mode", cmd->dev_id);
	if (cmd->data_type != IOMMU_HWPT_DATA_VTD_S1)
		return refuse(c, EOPNOTSUPP, "data_type %u: the VT-d driver nests only "
			      "IOMMU_HWPT_DATA_VTD_S1", cmd->data_type);
	/* iommu_copy_struct_from_user(): exactly the struct this kernel knows. */
	if (cmd->data_len != sizeof(*s1))
		return refuse(c, EINVAL, "data_len %u: struct iommu_hwpt_vtd_s1 is %zu bytes",
			      cmd->data_len, sizeof(*s1));
	if (!cmd->data_uptr)
		return refuse(c, EFAULT, "data_uptr is NULL");
	memcpy(s1, (const void *)(uintptr_t)cmd->data_uptr, sizeof(*s1));
	describe(c, " s1 {pgtbl %#llx width %u flags %#llx}", (unsigned long long)s1->pgtbl_addr,
		 s1->addr_width, (unsigned long long)s1->flags);
	/* iommufd_hwpt_alloc() after the allocation: iommufd_get_fault(). */
	if ((cmd->flags & IOMMU_HWPT_FAULT_ID_VALID) && !get_obj(c->ctx, cmd->fault_id, DR_FAULT))
		return refuse(c, ENOENT, "fault_id %u is no fault queue of this iommufd",
			      cmd->fault_id);
	return 0;
}

/* hw_pagetable.c: iommufd_hwpt_alloc() */
static int do_hwpt_alloc(struct call *c)
{
	struct iommu_hwpt_alloc cmd;
	struct iommu_hwpt_vtd_s1 s1;
	struct dr_obj *dev, *pt, *o;
	uint32_t id;

	if (get_cmd(c, &cmd, sizeof(cmd), offsetof(struct iommu_hwpt_alloc, __reserved) + 4))
		return -1;
	describe(c, " flags %#x dev %u pt %u data_type %u data_len %u", cmd.flags, cmd.dev_id,
		 cmd.pt_id, cmd.data_type, cmd.data_len);
	if (cmd.__reserved)
		return refuse(c, EOPNOTSUPP, "__reserved is %#x, not zero", cmd.__reserved);
	if ((cmd.data_type == IOMMU_HWPT_DATA_NONE) != (cmd.data_len == 0))
		return refuse(c, EINVAL, "data_type %u with data_len %u", cmd.data_type, cmd.data_len);
	dev = get_obj(c->ctx, cmd.dev_id, DR_DEVICE);
	if (!dev)
		return refuse(c, ENOENT, "dev_id %u is no device bound to this iommufd", cmd.dev_id);
	pt = get_obj(c->ctx, cmd.pt_id, DR_FREE);
	if (!pt)
		return refuse(c, EINVAL, "pt_id %u is no object of this iommufd", cmd.pt_id);
	memset(&s1, 0, sizeof(s1));
	if (pt->type == DR_IOAS) {
		if (alloc_paging(c, &cmd, dev))
			return -1;
	} else if (pt->type == DR_HWPT_PAGING) {
		if (alloc_nested(c, &cmd, dev, pt, &s1))
			return -1;
	} else {
		return refuse(c, EINVAL, "pt_id %u is neither an IOAS nor a paging HWPT", cmd.pt_id);
	}
	id = new_obj(c->ctx, pt->type == DR_IOAS ? DR_HWPT_PAGING : DR_HWPT_NESTED);
	if (!id)
		return refuse(c, ENOMEM, "out of memory");
	/* new_obj() may have moved the array: look the parent up again. */
	c->ctx->objs[cmd.pt_id].users++;
	o = &c->ctx->objs[id];
	o->pt_id = cmd.pt_id;
	o->dev_id = cmd.dev_id;
	o->nest_parent = cmd.flags & IOMMU_HWPT_ALLOC_NEST_PARENT;
	o->s1 = s1;
	if (cmd.flags & IOMMU_HWPT_FAULT_ID_VALID) {
		o->fault_id = cmd.fault_id;
		c->ctx->objs[cmd.fault_id].users++;	/* hwpt->fault holds it */
		describe(c, " fault %u", cmd.fault_id);
	}
	cmd.out_hwpt_id = id;
	c->dr->st.hwpt_allocs++;
	c->dr->st.live_hwpts++;
	describe(c, " -> hwpt %u", id);
	respond(c, &cmd, sizeof(cmd));
	return 0;
}

/* device.c: iommufd_get_hw_info(), intel_iommu_hw_info() */
static int do_get_hw_info(struct call *c)
{
	struct iommu_hw_info cmd;
	struct iommu_hw_info_vtd vtd;
	struct dr_obj *dev;
	uint32_t copy;

	if (get_cmd(c, &cmd, sizeof(cmd), offsetof(struct iommu_hw_info, __reserved) + 4))
		return -1;
	describe(c, " flags %#x dev %u data_len %u", cmd.flags, cmd.dev_id, cmd.data_len);
	if (cmd.flags)
		return refuse(c, EOPNOTSUPP, "flags %#x: none are modelled", cmd.flags);
	if (cmd.__reserved)
		return refuse(c, EOPNOTSUPP, "__reserved is %#x, not zero", cmd.__reserved);
	dev = get_obj(c->ctx, cmd.dev_id, DR_DEVICE);
	if (!dev)
		return refuse(c, ENOENT, "dev_id %u is no device bound to this iommufd", cmd.dev_id);
	memset(&vtd, 0, sizeof(vtd));
	/* intel_iommu_hw_info() reports the erratum on every unit. */
	vtd.flags = IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17;
	vtd.cap_reg = dev->cap;
	vtd.ecap_reg = dev->ecap;
	copy = cmd.data_len < sizeof(vtd) ? cmd.data_len : (uint32_t)sizeof(vtd);
	if (cmd.data_len && !cmd.data_uptr)
		return refuse(c, EFAULT, "data_uptr is NULL with data_len %u", cmd.data_len);
	if (cmd.data_len) {
		/* The kernel zero-fills what the caller asked for beyond its data. */
		memcpy((void *)(uintptr_t)cmd.data_uptr, &vtd, copy);
		memset((char *)(uintptr_t)cmd.data_uptr + copy, 0, cmd.data_len - copy);
	}
	cmd.data_len = sizeof(vtd);
	cmd.out_data_type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
	cmd.out_capabilities = 0;
	c->dr->st.hw_info++;
	describe(c, " -> intel-vtd cap %#llx ecap %#llx", (unsigned long long)dev->cap,
		 (unsigned long long)dev->ecap);
	respond(c, &cmd, sizeof(cmd));
	return 0;
}

/* nested.c: intel_nested_cache_invalidate_user(), one entry. */
static int check_entry(struct call *c, const struct iommu_hwpt_invalidate *cmd, uint32_t i)
{
	struct iommu_hwpt_vtd_s1_invalidate e;

	/* iommu_copy_struct_from_user_array(): exactly the entry this kernel knows. */
	if (cmd->entry_len != sizeof(e))
		return refuse(c, EINVAL, "entry_len %u: struct iommu_hwpt_vtd_s1_invalidate is %zu bytes",
			      cmd->entry_len, sizeof(e));
	memcpy(&e, (const char *)(uintptr_t)cmd->data_uptr + (size_t)i * cmd->entry_len, sizeof(e));
	if (i < 4)
		describe(c, " {%#llx +%llu%s}", (unsigned long long)e.addr,
			 (unsigned long long)e.npages, e.flags & IOMMU_VTD_INV_FLAGS_LEAF ? " leaf" : "");
	else if (i == 4)
		describe(c, " ...");
	if ((e.flags & ~(uint32_t)IOMMU_VTD_INV_FLAGS_LEAF) || e.__reserved)
		return refuse(c, EOPNOTSUPP, "entry %u: flags %#x, __reserved %#x (only LEAF is defined)",
			      i, e.flags, e.__reserved);
	if ((e.addr & (VTD_PAGE_SIZE - 1)) || (e.npages == UINT64_MAX && e.addr))
		return refuse(c, EINVAL, "entry %u: addr %#llx npages %#llx (4 KiB aligned; all "
			      "pages only from 0)", i, (unsigned long long)e.addr,
			      (unsigned long long)e.npages);
	return 0;
}

/* hw_pagetable.c: iommufd_hwpt_invalidate() */
static int do_hwpt_invalidate(struct call *c)
{
	struct iommu_hwpt_invalidate cmd;
	struct dr_obj *pt = NULL;
	uint32_t done = 0;
	int rc = 0;

	c->dr->st.invalidate_calls++;
	if (get_cmd(c, &cmd, sizeof(cmd), offsetof(struct iommu_hwpt_invalidate, __reserved) + 4))
		return -1;
	describe(c, " hwpt %u data_type %u entry_len %u entry_num %u", cmd.hwpt_id, cmd.data_type,
		 cmd.entry_len, cmd.entry_num);
	if (cmd.__reserved) {
		rc = refuse(c, EOPNOTSUPP, "__reserved is %#x, not zero", cmd.__reserved);
		goto out;
	}
	/* The bound is the stable kernels' (Debian's 6.12.118 has it): one call cannot pin a CPU. */
	if (cmd.entry_num && (!cmd.data_uptr || !cmd.entry_len || cmd.entry_len > VTD_PAGE_SIZE ||
			      cmd.entry_num > DR_INVALIDATE_ENTRY_NUM_MAX)) {
		rc = refuse(c, EINVAL, "entry_num %u with data_uptr %#llx, entry_len %u", cmd.entry_num,
			    (unsigned long long)cmd.data_uptr, cmd.entry_len);
		goto out;
	}
	pt = get_obj(c->ctx, cmd.hwpt_id, DR_FREE);
	if (!pt) {
		rc = refuse(c, ENOENT, "hwpt_id %u is no object of this iommufd", cmd.hwpt_id);
		goto out;
	}
	/* Before 6.13 the kernel looked the id up as a nested HWPT only: any other object is absent. */
	if (pt->type != DR_HWPT_NESTED && c->dr->linux_version < 613) {
		rc = refuse(c, ENOENT, "hwpt_id %u is no nested HWPT (Linux %u.%u rules)", cmd.hwpt_id,
			    c->dr->linux_version / 100, c->dr->linux_version % 100);
		pt = NULL;
		goto out;
	}
	if (pt->type != DR_HWPT_NESTED) {
		/* Kernel-managed caches (a nest parent) take no user invalidation. */
		rc = refuse(c, EINVAL, "hwpt_id %u is not a nested HWPT", cmd.hwpt_id);
		pt = NULL;
		goto out;
	}
	pt->calls++;
	if (cmd.data_type != IOMMU_HWPT_INVALIDATE_DATA_VTD_S1) {
		rc = refuse(c, EINVAL, "data_type %u: the VT-d driver takes only "
			    "IOMMU_HWPT_INVALIDATE_DATA_VTD_S1", cmd.data_type);
		goto out;
	}
	/* The driver stops at the first bad entry; the ones before it were flushed. */
	for (; done < cmd.entry_num; done++) {
		rc = check_entry(c, &cmd, done);
		if (rc)
			break;
	}
	pt->entries += done;
	c->dr->st.invalidate_entries += done;
out:
	if (rc && pt)
		pt->refused++;
	/* Written back on every path: the number of entries handled. */
	cmd.entry_num = done;
	describe(c, " -> %u handled", done);
	respond(c, &cmd, sizeof(cmd));
	return rc;
}

/* fault.c: iommufd_fault_alloc(); the queue's file gets an fd of its own. */
static int do_fault_queue_alloc(struct call *c)
{
	struct iommu_fault_alloc cmd;
	struct dr_fault *f;
	uint32_t id;

	if (c->dr->linux_version < 611)
		return refuse(c, ENOTTY, "IOMMU_FAULT_QUEUE_ALLOC arrived in Linux 6.11");
	if (get_cmd(c, &cmd, sizeof(cmd), offsetof(struct iommu_fault_alloc, out_fault_fd) + 4))
		return -1;
	describe(c, " flags %#x", cmd.flags);
	if (cmd.flags)
		return refuse(c, EOPNOTSUPP, "flags %#x: must be 0", cmd.flags);
	f = calloc(1, sizeof(*f));
	id = f ? new_obj(c->ctx, DR_FAULT) : 0;
	if (!id) {
		free(f);
		return refuse(c, ENOMEM, "out of memory");
	}
	f->fd = c->dr->next_fd++;
	f->next_cookie = 1;
	c->ctx->objs[id].fault = f;
	cmd.out_fault_id = id;
	cmd.out_fault_fd = (uint32_t)f->fd;
	describe(c, " -> fault %u fd %d", id, f->fd);
	respond(c, &cmd, sizeof(cmd));
	return 0;
}

/* main.c: iommufd_destroy(), iommufd_object_remove() */
static int do_destroy(struct call *c)
{
	struct iommu_destroy cmd;
	struct dr_obj *o;

	if (get_cmd(c, &cmd, sizeof(cmd), offsetof(struct iommu_destroy, id) + 4))
		return -1;
	describe(c, " id %u", cmd.id);
	o = get_obj(c->ctx, cmd.id, DR_FREE);
	if (!o)
		return refuse(c, ENOENT, "id %u is no object of this iommufd", cmd.id);
	/* A bound device is held by its VFIO cdev until unbound. */
	if (o->users || o->type == DR_DEVICE)
		return refuse(c, EBUSY, "id %u is in use (%s)", cmd.id,
			      o->type == DR_DEVICE ? "a device is destroyed by unbinding it" :
			      "another object holds it");
	if (o->type == DR_HWPT_PAGING || o->type == DR_HWPT_NESTED)
		c->dr->st.live_hwpts--;
	free_obj(c->ctx, cmd.id);
	c->dr->st.destroys++;
	return 0;
}

static const char *ioctl_name(unsigned long request)
{
	switch (request) {
	case IOMMU_DESTROY:		return "IOMMU_DESTROY";
	case IOMMU_IOAS_ALLOC:		return "IOMMU_IOAS_ALLOC";
	case IOMMU_HWPT_ALLOC:		return "IOMMU_HWPT_ALLOC";
	case IOMMU_GET_HW_INFO:		return "IOMMU_GET_HW_INFO";
	case IOMMU_HWPT_INVALIDATE:	return "IOMMU_HWPT_INVALIDATE";
	case IOMMU_FAULT_QUEUE_ALLOC:	return "IOMMU_FAULT_QUEUE_ALLOC";
	default:			return NULL;
	}
}

static const char *errno_name(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "error";
}

static void log_call(struct iommufd_dryrun *dr, int fd, unsigned long request, const struct call *c,
		     int rc, int err)
{
	const char *name = ioctl_name(request);

	if (!dr->log)
		return;
	if (name)
		fprintf(dr->log, "iommufd %d: %s%s", fd, name, c->desc);
	else
		fprintf(dr->log, "iommufd %d: ioctl %#lx", fd, request);
	if (rc)
		fprintf(dr->log, ": %s: %s\n", errno_name(err), c->why);
	else
		fputc('\n', dr->log);
}

static int dr_ioctl(void *vdr, int fd, unsigned long request, void *arg)
{
	struct iommufd_dryrun *dr = vdr;
	struct call c = { .dr = dr, .arg = arg };
	int rc, err = 0;

	pthread_mutex_lock(&dr->lock);
	c.ctx = find_ctx(dr, fd);
	if (!c.ctx) {
		pthread_mutex_unlock(&dr->lock);
		errno = EBADF;
		return -1;
	}
	dr->st.ioctls++;
	switch (request) {
	case IOMMU_DESTROY:		rc = do_destroy(&c); break;
	case IOMMU_IOAS_ALLOC:		rc = do_ioas_alloc(&c); break;
	case IOMMU_HWPT_ALLOC:		rc = do_hwpt_alloc(&c); break;
	case IOMMU_GET_HW_INFO:		rc = do_get_hw_info(&c); break;
	case IOMMU_HWPT_INVALIDATE:	rc = do_hwpt_invalidate(&c); break;
	case IOMMU_FAULT_QUEUE_ALLOC:	rc = do_fault_queue_alloc(&c); break;
	default:
		rc = refuse(&c, ENOTTY, "not an ioctl the dry run models");
		break;
	}
	if (rc) {
		err = errno;
		dr->st.refused++;
		dr->st.last_errno = err;
		snprintf(dr->st.last_error, sizeof(dr->st.last_error), "%s: %s",
			 ioctl_name(request) ? ioctl_name(request) : "ioctl", c.why);
	}
	log_call(dr, fd, request, &c, rc, err);
	pthread_mutex_unlock(&dr->lock);
	errno = err;
	return rc;
}

static int dr_open(void *vdr, const char *path, int flags)
{
	struct iommufd_dryrun *dr = vdr;
	struct dr_ctx *x;
	int fd;

	(void)flags;
	if (strcmp(path, IOMMUFD_DEV_PATH)) {
		errno = ENOENT;
		return -1;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_lock(&dr->lock);
	fd = x->fd = dr->next_fd++;
	x->next = dr->ctxs;
	dr->ctxs = x;
	if (dr->log)
		fprintf(dr->log, "iommufd %d: open %s\n", fd, path);
	pthread_mutex_unlock(&dr->lock);
	return fd;
}

static void free_ctx(struct iommufd_dryrun *dr, struct dr_ctx *x)
{
	/* iommufd_fops_release(): closing the file frees every object in it. */
	for (size_t id = 1; id < x->nslots; id++) {
		if (x->objs[id].type == DR_HWPT_PAGING || x->objs[id].type == DR_HWPT_NESTED)
			dr->st.live_hwpts--;
		free(x->objs[id].fault);
	}
	free(x->objs);
	free(x);
}

/* The fault queue whose file is @fd, in any iommufd. Caller holds dr->lock. */
static struct dr_fault *find_fault_fd(struct iommufd_dryrun *dr, int fd)
{
	for (struct dr_ctx *x = dr->ctxs; x; x = x->next)
		for (size_t id = 1; id < x->nslots; id++)
			if (x->objs[id].type == DR_FAULT && x->objs[id].fault->fd == fd)
				return x->objs[id].fault;
	return NULL;
}

static int dr_close(void *vdr, int fd)
{
	struct iommufd_dryrun *dr = vdr;
	struct dr_fault *f;
	struct dr_ctx **pp;

	pthread_mutex_lock(&dr->lock);
	/* The fault object lives on (the iommufd holds it); only its file is gone. */
	f = find_fault_fd(dr, fd);
	if (f) {
		f->fd = -1;
		dr->st.fault_fds_closed++;
		if (dr->log)
			fprintf(dr->log, "fault fd %d: close\n", fd);
		pthread_mutex_unlock(&dr->lock);
		return 0;
	}
	for (pp = &dr->ctxs; *pp; pp = &(*pp)->next) {
		struct dr_ctx *x = *pp;

		if (x->fd != fd)
			continue;
		*pp = x->next;
		free_ctx(dr, x);
		if (dr->log)
			fprintf(dr->log, "iommufd %d: close\n", fd);
		pthread_mutex_unlock(&dr->lock);
		return 0;
	}
	pthread_mutex_unlock(&dr->lock);
	errno = EBADF;
	return -1;
}

/* No sysfs and no other device nodes: the back end's only path is /dev/iommu. */
static ssize_t dr_readlink(void *vdr, const char *path, char *buf, size_t len)
{
	(void)vdr;
	(void)path;
	(void)buf;
	(void)len;
	errno = ENOENT;
	return -1;
}

static int dr_access(void *vdr, const char *path, int mode)
{
	(void)vdr;
	(void)mode;
	if (!strcmp(path, IOMMUFD_DEV_PATH))
		return 0;
	errno = ENOENT;
	return -1;
}

static ssize_t dr_read_file(void *vdr, const char *path, char *buf, size_t len)
{
	return dr_readlink(vdr, path, buf, len);
}

static ssize_t dr_list_dir(void *vdr, const char *path, char *buf, size_t len)
{
	return dr_readlink(vdr, path, buf, len);
}

/* No device is modelled: its regions, BAR mappings and eventfds are VFIO's, never asked for. */
static ssize_t not_modelled(void)
{
	errno = ENOSYS;
	return -1;
}

static ssize_t dr_pread(void *vdr, int fd, void *buf, size_t len, off_t off)
{
	(void)vdr;
	(void)fd;
	(void)buf;
	(void)len;
	(void)off;
	return not_modelled();
}

static ssize_t dr_pwrite(void *vdr, int fd, const void *buf, size_t len, off_t off)
{
	(void)buf;
	return dr_pread(vdr, fd, NULL, len, off);
}

static void *dr_mmap(void *vdr, int fd, size_t len, off_t off)
{
	(void)vdr;
	(void)fd;
	(void)len;
	(void)off;
	not_modelled();
	return MAP_FAILED;
}

static int dr_munmap(void *vdr, void *addr, size_t len)
{
	(void)vdr;
	(void)addr;
	(void)len;
	return (int)not_modelled();
}

static int dr_eventfd(void *vdr)
{
	(void)vdr;
	return (int)not_modelled();
}

/*
 * fault.c: iommufd_fault_fops_read(). Whole groups only: a size that is no
 * multiple of the record is ESPIPE, a first group that does not fit is
 * EINVAL, and an empty queue reads 0. Each group read gets a cookie
 * (repeated on its records) and waits for its response.
 */
static ssize_t fault_read(struct dr_fault *f, void *buf, size_t len)
{
	const size_t rec = sizeof(struct iommu_hwpt_pgfault);
	size_t done = 0;

	if (len % rec) {
		errno = ESPIPE;
		return -1;
	}
	while (f->ndeliver) {
		size_t n = f->group_len[0];

		if (n * rec > len - done) {
			if (done == 0) {
				errno = EINVAL;
				return -1;
			}
			break;
		}
		if (f->nwaiting == IOMMUFD_DRYRUN_FAULT_MAX)
			break;		/* xa_alloc() failing: the group stays queued */
		f->waiting[f->nwaiting].cookie = f->next_cookie;
		f->waiting[f->nwaiting++].nrec = (uint32_t)n;
		for (size_t i = 0; i < n; i++) {
			struct iommu_hwpt_pgfault r = f->deliver[i];

			r.cookie = f->next_cookie;
			memcpy((char *)buf + done, &r, rec);
			done += rec;
		}
		f->next_cookie++;
		memmove(f->deliver, f->deliver + n, (f->ndeliver - n) * sizeof(f->deliver[0]));
		memmove(f->group_len, f->group_len + n, (f->ndeliver - n) * sizeof(f->group_len[0]));
		f->ndeliver -= n;
	}
	return (ssize_t)done;
}

/*
 * fault.c: iommufd_fault_fops_write(). Whole responses only (ESPIPE);
 * a code other than SUCCESS or INVALID, or a cookie no group waits under,
 * stops the write with EINVAL, returning what was taken before it.
 */
static ssize_t fault_write(struct dr_fault *f, const void *buf, size_t len)
{
	const size_t rsz = sizeof(struct iommu_hwpt_page_response);
	size_t done = 0;

	if (len % rsz) {
		errno = ESPIPE;
		return -1;
	}
	while (done < len) {
		struct iommu_hwpt_page_response r;
		size_t k;

		memcpy(&r, (const char *)buf + done, rsz);
		if (r.code != IOMMUFD_PAGE_RESP_SUCCESS && r.code != IOMMUFD_PAGE_RESP_INVALID)
			break;
		for (k = 0; k < f->nwaiting && f->waiting[k].cookie != r.cookie; k++)
			;
		if (k == f->nwaiting)
			break;
		f->waiting[k] = f->waiting[--f->nwaiting];
		if (f->nanswered < IOMMUFD_DRYRUN_FAULT_MAX)
			f->answered[f->nanswered++] = r;
		done += rsz;
	}
	if (done == 0 && len) {
		errno = EINVAL;
		return -1;
	}
	return (ssize_t)done;
}

static ssize_t dr_read(void *vdr, int fd, void *buf, size_t len)
{
	struct iommufd_dryrun *dr = vdr;
	struct dr_fault *f;
	ssize_t rc;

	pthread_mutex_lock(&dr->lock);
	f = find_fault_fd(dr, fd);
	if (!f) {
		pthread_mutex_unlock(&dr->lock);
		return dr_pread(vdr, fd, buf, len, 0);
	}
	rc = fault_read(f, buf, len);
	pthread_mutex_unlock(&dr->lock);
	return rc;
}

static ssize_t dr_write(void *vdr, int fd, const void *buf, size_t len)
{
	struct iommufd_dryrun *dr = vdr;
	struct dr_fault *f;
	ssize_t rc;
	int err;

	pthread_mutex_lock(&dr->lock);
	f = find_fault_fd(dr, fd);
	if (!f) {
		pthread_mutex_unlock(&dr->lock);
		return dr_pwrite(vdr, fd, buf, len, 0);
	}
	rc = fault_write(f, buf, len);
	err = errno;
	if (dr->log)
		fprintf(dr->log, "fault fd %d: write %zu bytes = %zd\n", fd, len, rc);
	pthread_mutex_unlock(&dr->lock);
	errno = err;
	return rc;
}

/* The fault queue @fault_id of iommufd @fd. Caller holds dr->lock. */
static struct dr_fault *fault_of(struct iommufd_dryrun *dr, int fd, uint32_t fault_id)
{
	struct dr_ctx *x = find_ctx(dr, fd);
	struct dr_obj *o = x ? get_obj(x, fault_id, DR_FAULT) : NULL;

	return o ? o->fault : NULL;
}

int iommufd_dryrun_inject_fault(struct iommufd_dryrun *dr, int fd, uint32_t fault_id,
				const struct iommu_hwpt_pgfault *recs, size_t n)
{
	struct dr_fault *f;
	int ret = -1;

	pthread_mutex_lock(&dr->lock);
	f = fault_of(dr, fd, fault_id);
	if (!f) {
		errno = ENOENT;
	} else if (n == 0 || n > UINT8_MAX || n > IOMMUFD_DRYRUN_FAULT_MAX - f->ndeliver) {
		errno = ENOSPC;
	} else {
		memcpy(f->deliver + f->ndeliver, recs, n * sizeof(*recs));
		memset(f->group_len + f->ndeliver, 0, n);
		f->group_len[f->ndeliver] = (uint8_t)n;
		f->ndeliver += n;
		ret = 0;
	}
	pthread_mutex_unlock(&dr->lock);
	return ret;
}

ssize_t iommufd_dryrun_fault_responses(struct iommufd_dryrun *dr, int fd, uint32_t fault_id,
				       struct iommu_hwpt_page_response *out, size_t max,
				       unsigned int *waiting, bool *fd_open)
{
	struct dr_fault *f;
	ssize_t n = -1;

	pthread_mutex_lock(&dr->lock);
	f = fault_of(dr, fd, fault_id);
	if (!f) {
		errno = ENOENT;
	} else {
		n = (ssize_t)(f->nanswered < max ? f->nanswered : max);
		memcpy(out, f->answered, (size_t)n * sizeof(*out));
		if (waiting)
			*waiting = (unsigned int)f->nwaiting;
		if (fd_open)
			*fd_open = f->fd >= 0;
	}
	pthread_mutex_unlock(&dr->lock);
	return n;
}

void iommufd_dryrun_set_linux(struct iommufd_dryrun *dr, unsigned int major, unsigned int minor)
{
	unsigned int v = major * 100 + minor;

	pthread_mutex_lock(&dr->lock);
	dr->linux_version = v < IOMMUFD_DRYRUN_LINUX_NEWEST ? v : IOMMUFD_DRYRUN_LINUX_NEWEST;
	pthread_mutex_unlock(&dr->lock);
}

struct iommufd_dryrun *iommufd_dryrun_new(void)
{
	struct iommufd_dryrun *dr = calloc(1, sizeof(*dr));

	if (!dr)
		return NULL;
	dr->linux_version = IOMMUFD_DRYRUN_LINUX_NEWEST;
	dr->ops = (struct host_ops){
		.open = dr_open,
		.close = dr_close,
		.ioctl = dr_ioctl,
		.readlink = dr_readlink,
		.access = dr_access,
		.read_file = dr_read_file,
		.list_dir = dr_list_dir,
		.pread = dr_pread,
		.pwrite = dr_pwrite,
		.mmap = dr_mmap,
		.munmap = dr_munmap,
		.eventfd = dr_eventfd,
		.read = dr_read,
		.write = dr_write,
		.ctx = dr,
	};
	pthread_mutex_init(&dr->lock, NULL);
	dr->next_fd = DRYRUN_FIRST_FD;
	return dr;
}

void iommufd_dryrun_free(struct iommufd_dryrun *dr)
{
	if (!dr)
		return;
	while (dr->ctxs) {
		struct dr_ctx *x = dr->ctxs;

		dr->ctxs = x->next;
		free_ctx(dr, x);
	}
	pthread_mutex_destroy(&dr->lock);
	free(dr);
}

const struct host_ops *iommufd_dryrun_ops(struct iommufd_dryrun *dr)
{
	return &dr->ops;
}

int iommufd_dryrun_bind_device(struct iommufd_dryrun *dr, int fd, uint64_t cap, uint64_t ecap,
			       uint32_t *dev_id)
{
	struct dr_ctx *x;
	uint32_t id;

	pthread_mutex_lock(&dr->lock);
	x = find_ctx(dr, fd);
	id = x ? new_obj(x, DR_DEVICE) : 0;
	if (id) {
		x->objs[id].cap = cap;
		x->objs[id].ecap = ecap;
		*dev_id = id;
		if (dr->log)
			fprintf(dr->log, "iommufd %d: VFIO_DEVICE_BIND_IOMMUFD (stand-in) -> dev %u\n",
				fd, id);
	}
	pthread_mutex_unlock(&dr->lock);
	if (!id) {
		errno = x ? ENOMEM : EBADF;
		return -1;
	}
	return 0;
}

void iommufd_dryrun_set_log(struct iommufd_dryrun *dr, FILE *log)
{
	pthread_mutex_lock(&dr->lock);
	dr->log = log;
	pthread_mutex_unlock(&dr->lock);
}

void iommufd_dryrun_stats(struct iommufd_dryrun *dr, struct iommufd_dryrun_stats *out)
{
	pthread_mutex_lock(&dr->lock);
	*out = dr->st;
	pthread_mutex_unlock(&dr->lock);
}

int iommufd_dryrun_hwpt(struct iommufd_dryrun *dr, int fd, uint32_t id,
			struct iommufd_dryrun_hwpt *out)
{
	struct dr_ctx *x;
	struct dr_obj *o = NULL;

	pthread_mutex_lock(&dr->lock);
	x = find_ctx(dr, fd);
	if (x)
		o = get_obj(x, id, DR_FREE);
	if (o && (o->type == DR_HWPT_PAGING || o->type == DR_HWPT_NESTED)) {
		memset(out, 0, sizeof(*out));
		out->id = id;
		out->nested = o->type == DR_HWPT_NESTED;
		out->nest_parent = o->nest_parent;
		out->pt_id = o->pt_id;
		out->dev_id = o->dev_id;
		out->s1_pgtbl = o->s1.pgtbl_addr;
		out->s1_flags = o->s1.flags;
		out->fault_id = o->fault_id;
		out->s1_addr_width = o->s1.addr_width;
		out->invalidate_calls = o->calls;
		out->invalidate_entries = o->entries;
		out->invalidate_refused = o->refused;
	} else {
		o = NULL;
	}
	pthread_mutex_unlock(&dr->lock);
	if (!o) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}
