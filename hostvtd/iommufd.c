// SPDX-License-Identifier: MIT
/*
 * The iommufd nesting back end. See iommufd.h for the object model and
 * docs/passthrough.md for the invalidation mapping and its reasons.
 *
 * Past 800 lines on purpose: setup (units, nested HWPT binds and their
 * lifetimes, the units' fault queues) and submission share the unit and
 * HWPT tables and the lock that lets them run concurrently; apart, those
 * tables and their locking would be an interface of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/iommufd-compat.h"
#include "hostvtd/devtlb-cover.h"
#include "hostvtd/iommufd.h"
#include "hostvtd/plan.h"
#include "lib/util.h"
#include "vtd/regs.h"

/* One host unit's iommufd side: unit->backend_data. */
struct iommufd_unit {
	struct iommufd_host *host;
	struct host_unit *unit;
	uint32_t dev_id, ioas_id;
	uint32_t parent_hwpt_id;	/* kernel-managed stage 2, NEST_PARENT */
	uint32_t alloc_flags;		/* IOMMU_HWPT_ALLOC_PASID or 0, for its nested HWPTs too */
	/*
	 * The unit's fault queue (IOMMU_FAULT_QUEUE_ALLOC), shared by all its
	 * nested HWPTs that report page faults: one per host unit, not one per
	 * HWPT (as QEMU's out-of-tree series has per guest PASID entry),
	 * because each record names its device (dev_id) and PASID anyway, and
	 * so the fds and reads stay bounded by the host units rather than
	 * following how many PASIDs the guest binds. fault_fd -1: none.
	 */
	uint32_t fault_id;
	int fault_fd;
	struct iommufd_unit *next;
};

/* One nested HWPT: the guest stage 1 of one (unit, host DID, host PASID). */
struct nested_hwpt {
	const struct host_unit *unit;
	uint16_t did;
	uint32_t pasid;
	uint32_t hwpt_id;
	uint64_t s1_pgtbl;
	uint32_t addr_width, s1_flags;
	uint32_t *dev_ids;		/* one element per bind */
	size_t users, cap;
	/* Its invalidations' reach into the ATCs behind it: cover_lock, or the write lock. */
	struct devtlb_cover cover;
};

struct iommufd_host {
	const struct host_ops *ops;
	int fd;
	bool owns_fd;			/* opened here (iommufd_host_open), closed here */
	/*
	 * Units and nested HWPTs: setup calls write, submissions read.
	 * Submissions of several units run at once under the read lock;
	 * cover_lock orders their updates of a HWPT's cover (taken inside
	 * the read lock, never the other way round).
	 */
	pthread_rwlock_t lock;
	pthread_mutex_t cover_lock;
	struct iommufd_unit *units;
	struct nested_hwpt *nested;
	size_t nnested, cap_nested;

	atomic_uint_fast64_t invalidate_calls, invalidate_entries;
	atomic_uint_fast64_t devtlb_covered, devtlb_entries, s2_ops_elided, devtlb_done_before;
	char errmsg[256];
};

__attribute__((format(printf, 3, 4)))
static int fail(struct iommufd_host *h, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->errmsg, sizeof(h->errmsg), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

static int host_ioctl(struct iommufd_host *h, unsigned long request, void *arg)
{
	return h->ops->ioctl(h->ops->ctx, h->fd, request, arg);
}

int iommufd_host_open(const struct host_ops *ops, struct iommufd_host **out, char *err,
		      size_t errlen)
{
	struct iommufd_host *h;
	int fd, e;

	*out = NULL;
	fd = ops->open(ops->ctx, IOMMUFD_DEV_PATH, O_RDWR);
	if (fd < 0) {
		e = errno;
		switch (e) {
		case ENOENT:
		case ENODEV:
		case ENXIO:
			snprintf(err, errlen, "%s: %s: no iommufd in this kernel; load it "
				 "(modprobe iommufd) and boot with intel_iommu=on",
				 IOMMUFD_DEV_PATH, strerror(e));
			break;
		case EACCES:
		case EPERM:
			snprintf(err, errlen, "%s: %s: run as root or give the VMM's user "
				 "read-write access to %s (see docs/passthrough.md)",
				 IOMMUFD_DEV_PATH, strerror(e), IOMMUFD_DEV_PATH);
			break;
		default:
			snprintf(err, errlen, "%s: %s", IOMMUFD_DEV_PATH, strerror(e));
		}
		errno = e;
		return -1;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		ops->close(ops->ctx, fd);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	h->ops = ops;
	h->fd = fd;
	h->owns_fd = true;
	pthread_rwlock_init(&h->lock, NULL);
	pthread_mutex_init(&h->cover_lock, NULL);
	*out = h;
	return 0;
}

struct iommufd_host *iommufd_host_wrap(const struct host_ops *ops, int fd)
{
	struct iommufd_host *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ops = ops;
	h->fd = fd;
	pthread_rwlock_init(&h->lock, NULL);
	pthread_mutex_init(&h->cover_lock, NULL);
	return h;
}

void iommufd_host_close(struct iommufd_host *h)
{
	if (!h)
		return;
	while (h->units) {
		struct iommufd_unit *u = h->units;

		h->units = u->next;
		if (u->fault_fd >= 0)
			h->ops->close(h->ops->ctx, u->fault_fd);
		u->unit->backend = NULL;
		u->unit->backend_data = NULL;
		free(u);
	}
	for (size_t i = 0; i < h->nnested; i++)
		free(h->nested[i].dev_ids);
	free(h->nested);
	if (h->owns_fd)
		h->ops->close(h->ops->ctx, h->fd);
	pthread_rwlock_destroy(&h->lock);
	pthread_mutex_destroy(&h->cover_lock);
	free(h);
}

int iommufd_host_fd(const struct iommufd_host *h)
{
	return h->fd;
}

const char *iommufd_host_error(const struct iommufd_host *h)
{
	return h->errmsg;
}

void iommufd_host_stats(struct iommufd_host *h, struct iommufd_stats *out)
{
	out->invalidate_calls = atomic_load(&h->invalidate_calls);
	out->invalidate_entries = atomic_load(&h->invalidate_entries);
	out->devtlb_covered = atomic_load(&h->devtlb_covered);
	out->devtlb_entries = atomic_load(&h->devtlb_entries);
	out->s2_ops_elided = atomic_load(&h->s2_ops_elided);
	out->devtlb_done_before = atomic_load(&h->devtlb_done_before);
}

static struct iommufd_unit *find_unit(const struct iommufd_host *h, const struct host_unit *unit)
{
	for (struct iommufd_unit *u = h->units; u; u = u->next)
		if (u->unit == unit)
			return u;
	return NULL;
}

int iommufd_host_add_unit(struct iommufd_host *h, struct host_unit *unit, uint32_t dev_id,
			  uint32_t ioas_id)
{
	return iommufd_host_add_unit_flags(h, unit, dev_id, ioas_id, 0);
}

int iommufd_host_add_unit_flags(struct iommufd_host *h, struct host_unit *unit, uint32_t dev_id,
				uint32_t ioas_id, uint32_t flags)
{
	struct iommu_hwpt_alloc alloc;
	struct iommufd_unit *u;
	int ret = -1;

	pthread_rwlock_wrlock(&h->lock);
	if (find_unit(h, unit)) {
		fail(h, EEXIST, "%s: already an iommufd unit", unit->name);
		goto out;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		fail(h, ENOMEM, "out of memory");
		goto out;
	}
	memset(&alloc, 0, sizeof(alloc));
	alloc.size = sizeof(alloc);
	alloc.flags = IOMMU_HWPT_ALLOC_NEST_PARENT | (flags & IOMMU_HWPT_ALLOC_PASID);
	alloc.dev_id = dev_id;
	alloc.pt_id = ioas_id;
	alloc.data_type = IOMMU_HWPT_DATA_NONE;
	if (host_ioctl(h, IOMMU_HWPT_ALLOC, &alloc) < 0) {
		int e = errno;

		free(u);
		if (e == ENOTTY)
			fail(h, e, "%s: the kernel has no IOMMU_HWPT_ALLOC (VT-d nesting needs "
			     "Linux 6.8 or later)", unit->name);
		else if (e == EOPNOTSUPP)
			fail(h, e, "%s: no nest-parent HWPT for device %u: the host unit lacks "
			     "scalable mode or nesting (ECAP.NEST)", unit->name, dev_id);
		else
			fail(h, e, "%s: IOMMU_HWPT_ALLOC (nest parent, device %u, IOAS %u): %s",
			     unit->name, dev_id, ioas_id, strerror(e));
		goto out;
	}
	u->host = h;
	u->unit = unit;
	u->dev_id = dev_id;
	u->ioas_id = ioas_id;
	u->parent_hwpt_id = alloc.out_hwpt_id;
	u->alloc_flags = flags & IOMMU_HWPT_ALLOC_PASID;
	u->fault_fd = -1;
	u->next = h->units;
	h->units = u;
	unit->backend = &iommufd_backend;
	unit->backend_data = u;
	ret = 0;
out:
	pthread_rwlock_unlock(&h->lock);
	return ret;
}

/* IOMMU_DESTROY of @id; on failure the message names @what and says why EBUSY happens. */
static int destroy_object(struct iommufd_host *h, uint32_t id, const char *what)
{
	struct iommu_destroy destroy;

	memset(&destroy, 0, sizeof(destroy));
	destroy.size = sizeof(destroy);
	destroy.id = id;
	if (host_ioctl(h, IOMMU_DESTROY, &destroy) == 0)
		return 0;
	return fail(h, errno, "IOMMU_DESTROY of %s %u: %s%s", what, id, strerror(errno),
		    errno == EBUSY ? " (a device is still attached to it)" : "");
}

int iommufd_host_remove_unit(struct iommufd_host *h, struct host_unit *unit)
{
	struct iommufd_unit **p, *u;
	char what[48];
	int ret = -1;

	pthread_rwlock_wrlock(&h->lock);
	for (p = &h->units; *p && (*p)->unit != unit; p = &(*p)->next)
		;
	u = *p;
	if (!u) {
		fail(h, ENOENT, "%s: not an iommufd unit", unit->name);
		goto out;
	}
	for (size_t i = 0; i < h->nnested; i++)
		if (h->nested[i].unit == unit) {
			fail(h, EBUSY, "%s: nested HWPT %u is still bound", unit->name,
			     h->nested[i].hwpt_id);
			goto out;
		}
	snprintf(what, sizeof(what), "%s's nest parent", unit->name);
	if (destroy_object(h, u->parent_hwpt_id, what))
		goto out;
	/* No nested HWPT holds the fault queue any more: its fd, then the object. */
	if (u->fault_fd >= 0) {
		h->ops->close(h->ops->ctx, u->fault_fd);
		u->fault_fd = -1;
		snprintf(what, sizeof(what), "%s's fault queue", unit->name);
		if (destroy_object(h, u->fault_id, what))
			fprintf(stderr, "tagvmm: iommufd: %s\n", h->errmsg);
	}
	*p = u->next;
	unit->backend = NULL;
	unit->backend_data = NULL;
	free(u);
	ret = 0;
out:
	pthread_rwlock_unlock(&h->lock);
	return ret;
}

uint32_t iommufd_host_unit_flags(const struct iommufd_host *h, const struct host_unit *unit)
{
	const struct iommufd_unit *u = find_unit(h, unit);

	return u ? u->alloc_flags : 0;
}

int iommufd_host_enable_faults(struct iommufd_host *h, struct host_unit *unit)
{
	struct iommu_fault_alloc fa;
	struct iommufd_unit *u;
	int ret = -1;

	pthread_rwlock_wrlock(&h->lock);
	u = find_unit(h, unit);
	if (!u) {
		fail(h, ENODEV, "%s: not an iommufd unit", unit->name);
		goto out;
	}
	if (u->fault_fd >= 0) {
		ret = 0;
		goto out;
	}
	memset(&fa, 0, sizeof(fa));
	fa.size = sizeof(fa);
	if (host_ioctl(h, IOMMU_FAULT_QUEUE_ALLOC, &fa) < 0) {
		int e = errno;

		fail(h, e, "%s: IOMMU_FAULT_QUEUE_ALLOC: %s%s", unit->name, strerror(e),
		     e == ENOTTY ? " (page fault forwarding needs Linux 6.11 or later)" : "");
		goto out;
	}
	u->fault_id = fa.out_fault_id;
	u->fault_fd = (int)fa.out_fault_fd;
	ret = 0;
out:
	pthread_rwlock_unlock(&h->lock);
	return ret;
}

/* The unit's fault queue fd, or -1 with errno ENODEV. */
static int unit_fault_fd(struct iommufd_host *h, const struct host_unit *unit)
{
	const struct iommufd_unit *u;
	int fd;

	pthread_rwlock_rdlock(&h->lock);
	u = find_unit(h, unit);
	fd = u ? u->fault_fd : -1;
	pthread_rwlock_unlock(&h->lock);
	if (fd < 0)
		errno = ENODEV;
	return fd;
}

bool iommufd_host_has_faults(struct iommufd_host *h, const struct host_unit *unit)
{
	return unit_fault_fd(h, unit) >= 0;
}

ssize_t iommufd_host_read_faults(struct iommufd_host *h, const struct host_unit *unit,
				 struct iommu_hwpt_pgfault *recs, size_t max)
{
	const size_t rec = sizeof(*recs);
	ssize_t n = -1;
	int fd = unit_fault_fd(h, unit);

	if (fd < 0)
		return -1;
	/* The unit's fd stays open until remove_unit(), which the reader's owner orders after it. */
	n = h->ops->read(h->ops->ctx, fd, recs, max * rec);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	if ((size_t)n % rec || (size_t)n > max * rec) {
		errno = EIO;
		return -1;
	}
	return n / (ssize_t)rec;
}

int iommufd_host_page_response(struct iommufd_host *h, const struct host_unit *unit,
			       uint32_t cookie, uint32_t code)
{
	struct iommu_hwpt_page_response r = { .cookie = cookie, .code = code };
	ssize_t n;
	int fd = unit_fault_fd(h, unit);

	if (fd < 0)
		return -1;
	n = h->ops->write(h->ops->ctx, fd, &r, sizeof(r));
	if (n == (ssize_t)sizeof(r))
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

uint32_t iommufd_host_parent_hwpt(const struct iommufd_host *h, const struct host_unit *unit)
{
	const struct iommufd_unit *u = find_unit(h, unit);

	return u ? u->parent_hwpt_id : 0;
}

int iommufd_host_get_hw_info(struct iommufd_host *h, uint32_t dev_id, uint64_t *cap,
			     uint64_t *ecap)
{
	struct iommu_hw_info_vtd vtd;
	struct iommu_hw_info info;

	memset(&vtd, 0, sizeof(vtd));
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.dev_id = dev_id;
	info.data_len = sizeof(vtd);
	info.data_uptr = (uintptr_t)&vtd;
	if (host_ioctl(h, IOMMU_GET_HW_INFO, &info) < 0)
		return fail(h, errno, "IOMMU_GET_HW_INFO (device %u): %s", dev_id, strerror(errno));
	if (info.out_data_type != IOMMU_HW_INFO_TYPE_INTEL_VTD)
		return fail(h, EOPNOTSUPP, "device %u is not behind Intel VT-d (hw info type %u)",
			    dev_id, info.out_data_type);
	/* The kernel reports how much it filled; cap and ecap are the last fields. */
	if (info.data_len < sizeof(vtd))
		return fail(h, EPROTO, "device %u: VT-d hw info is %u bytes, expected %zu",
			    dev_id, info.data_len, sizeof(vtd));
	*cap = vtd.cap_reg;
	*ecap = vtd.ecap_reg;
	return 0;
}

/*
 * A nested HWPT's key is the whole stage-1 configuration: (unit, DID,
 * PASID, table, width, flags). Two devices the guest put in one domain
 * with different tables (a guest bug the spec leaves undefined) get one
 * HWPT each, and a flush of the domain reaches both.
 */
static bool same_s1(const struct nested_hwpt *n, uint64_t s1_pgtbl, uint32_t addr_width,
		    uint32_t s1_flags)
{
	return n->s1_pgtbl == s1_pgtbl && n->addr_width == addr_width && n->s1_flags == s1_flags;
}

/* The @nth HWPT of (unit, DID, PASID), whatever its table; NULL after the last. */
static struct nested_hwpt *find_nested(struct iommufd_host *h, const struct host_unit *unit,
				       uint16_t did, uint32_t pasid, size_t *cursor)
{
	/* A VM has a handful of keys: a scan beats a hash here. */
	for (size_t i = *cursor; i < h->nnested; i++) {
		struct nested_hwpt *n = &h->nested[i];

		if (n->unit == unit && n->did == did && n->pasid == pasid) {
			*cursor = i + 1;
			return n;
		}
	}
	*cursor = h->nnested;
	return NULL;
}

static struct nested_hwpt *find_nested_s1(struct iommufd_host *h, const struct host_unit *unit,
					  uint16_t did, uint32_t pasid, uint64_t s1_pgtbl,
					  uint32_t addr_width, uint32_t s1_flags)
{
	struct nested_hwpt *n;
	size_t cur = 0;

	while ((n = find_nested(h, unit, did, pasid, &cur)))
		if (same_s1(n, s1_pgtbl, addr_width, s1_flags))
			return n;
	return NULL;
}

static size_t user_index(const struct nested_hwpt *n, uint32_t dev_id)
{
	size_t i;

	for (i = 0; i < n->users && n->dev_ids[i] != dev_id; i++)
		;
	return i;
}

/* The HWPT of (unit, DID, PASID) @dev_id is bound to. */
static struct nested_hwpt *find_bound(struct iommufd_host *h, const struct host_unit *unit,
				      uint32_t dev_id, uint16_t did, uint32_t pasid)
{
	struct nested_hwpt *n;
	size_t cur = 0;

	while ((n = find_nested(h, unit, did, pasid, &cur)))
		if (user_index(n, dev_id) < n->users)
			return n;
	return NULL;
}

uint32_t iommufd_nested_hwpt(struct iommufd_host *h, const struct host_unit *unit,
			     uint16_t host_did, uint32_t host_pasid, unsigned int *users)
{
	struct nested_hwpt *n;
	size_t cur = 0;
	uint32_t id = 0;

	pthread_rwlock_rdlock(&h->lock);
	n = find_nested(h, unit, host_did, host_pasid, &cur);
	if (n)
		id = n->hwpt_id;
	if (users)
		*users = n ? (unsigned int)n->users : 0;
	pthread_rwlock_unlock(&h->lock);
	return id;
}

static int add_user(struct nested_hwpt *n, uint32_t dev_id)
{
	if (array_reserve((void **)&n->dev_ids, &n->cap, n->users + 1, sizeof(*n->dev_ids)))
		return -1;
	n->dev_ids[n->users++] = dev_id;
	/* The new device's ATC saw none of the HWPT's earlier invalidations. */
	devtlb_cover_reset(&n->cover);
	return 0;
}

int iommufd_bind_s1(struct iommufd_host *h, struct host_unit *unit, uint32_t dev_id,
		    uint16_t host_did, uint32_t host_pasid, uint64_t s1_pgtbl, uint32_t addr_width,
		    uint32_t s1_flags, uint32_t *hwpt_id)
{
	return iommufd_bind_s1_iopf(h, unit, dev_id, host_did, host_pasid, s1_pgtbl, addr_width,
				    s1_flags, false, hwpt_id);
}

/*
 * Kept in nested_hwpt.s1_flags beside the IOMMU_VTD_S1_* bits, never sent:
 * a HWPT that reports faults is a different key from one that does not.
 */
#define NESTED_IOPF	(1u << 31)

int iommufd_bind_s1_iopf(struct iommufd_host *h, struct host_unit *unit, uint32_t dev_id,
			 uint16_t host_did, uint32_t host_pasid, uint64_t s1_pgtbl,
			 uint32_t addr_width, uint32_t s1_flags, bool iopf, uint32_t *hwpt_id)
{
	/* The 6.11 layout, whatever the system header's: fault_id is written by offset. */
	union {
		struct iommu_hwpt_alloc a;
		unsigned char raw[IOMMU_HWPT_ALLOC_SIZE_6_11];
	} buf;
	struct iommu_hwpt_alloc *alloc = &buf.a;
	uint32_t key_flags = (s1_flags & ~NESTED_IOPF) | (iopf ? NESTED_IOPF : 0);
	struct iommu_hwpt_vtd_s1 s1;
	struct iommufd_unit *u;
	struct nested_hwpt *n;
	int ret = -1;

	pthread_rwlock_wrlock(&h->lock);
	u = find_unit(h, unit);
	if (!u) {
		fail(h, ENODEV, "%s: not an iommufd unit (iommufd_host_add_unit first)", unit->name);
		goto out;
	}
	if (iopf && u->fault_fd < 0) {
		fail(h, EOPNOTSUPP, "%s: no fault queue (iommufd_host_enable_faults first)",
		     unit->name);
		goto out;
	}
	s1_flags = key_flags;
	n = find_nested_s1(h, unit, host_did, host_pasid, s1_pgtbl, addr_width, s1_flags);
	if (n) {
		if (add_user(n, dev_id)) {
			fail(h, ENOMEM, "out of memory");
			goto out;
		}
		*hwpt_id = n->hwpt_id;
		ret = 0;
		goto out;
	}
	/* Room first: an allocated HWPT must never be lost to a failed realloc. */
	if (array_reserve((void **)&h->nested, &h->cap_nested, h->nnested + 1, sizeof(*h->nested))) {
		fail(h, ENOMEM, "out of memory");
		goto out;
	}
	n = &h->nested[h->nnested];
	memset(n, 0, sizeof(*n));
	if (add_user(n, dev_id)) {
		fail(h, ENOMEM, "out of memory");
		goto out;
	}
	memset(&s1, 0, sizeof(s1));
	s1.flags = s1_flags & ~NESTED_IOPF;
	s1.pgtbl_addr = s1_pgtbl;
	s1.addr_width = addr_width;
	memset(&buf, 0, sizeof(buf));
	/* Without a fault queue the struct stays the size the system header knows. */
	alloc->size = iopf ? sizeof(buf) : sizeof(*alloc);
	alloc->flags = u->alloc_flags;
	alloc->dev_id = dev_id;
	alloc->pt_id = u->parent_hwpt_id;
	alloc->data_type = IOMMU_HWPT_DATA_VTD_S1;
	alloc->data_len = sizeof(s1);
	alloc->data_uptr = (uintptr_t)&s1;
	if (iopf) {
		alloc->flags |= IOMMU_HWPT_FAULT_ID_VALID;
		memcpy(buf.raw + IOMMU_HWPT_ALLOC_FAULT_ID_OFFSET, &u->fault_id, sizeof(u->fault_id));
	}
	if (host_ioctl(h, IOMMU_HWPT_ALLOC, alloc) < 0) {
		int e = errno;

		free(n->dev_ids);
		fail(h, e, "%s: IOMMU_HWPT_ALLOC (stage 1 at %#llx, width %u, DID %u PASID %u, "
		     "device %u): %s", unit->name, (unsigned long long)s1_pgtbl, addr_width,
		     host_did, host_pasid, dev_id, strerror(e));
		goto out;
	}
	n->unit = unit;
	n->did = host_did;
	n->pasid = host_pasid;
	n->hwpt_id = alloc->out_hwpt_id;
	n->s1_pgtbl = s1_pgtbl;
	n->addr_width = addr_width;
	n->s1_flags = s1_flags;
	h->nnested++;
	*hwpt_id = n->hwpt_id;
	ret = 0;
out:
	pthread_rwlock_unlock(&h->lock);
	return ret;
}

/* Drop @dev_id's bind of @n; the last one destroys the HWPT. Caller holds h->lock. */
static int unbind_locked(struct iommufd_host *h, struct nested_hwpt *n, uint32_t dev_id)
{
	size_t i = user_index(n, dev_id);
	char what[64];

	if (n->users > 1) {
		n->dev_ids[i] = n->dev_ids[--n->users];
		return 0;
	}
	snprintf(what, sizeof(what), "%s's nested HWPT (DID %u PASID %u)", n->unit->name, n->did,
		 n->pasid);
	if (destroy_object(h, n->hwpt_id, what))
		return -1;
	free(n->dev_ids);
	*n = h->nested[--h->nnested];
	return 0;
}

int iommufd_unbind_s1(struct iommufd_host *h, struct host_unit *unit, uint32_t dev_id,
		      uint16_t host_did, uint32_t host_pasid)
{
	struct nested_hwpt *n;
	int ret;

	pthread_rwlock_wrlock(&h->lock);
	n = find_bound(h, unit, dev_id, host_did, host_pasid);
	if (n)
		ret = unbind_locked(h, n, dev_id);
	else
		ret = fail(h, ENOENT, "%s: device %u is not bound to DID %u PASID %u", unit->name,
			   dev_id, host_did, host_pasid);
	pthread_rwlock_unlock(&h->lock);
	return ret;
}

int iommufd_unbind_hwpt(struct iommufd_host *h, uint32_t dev_id, uint32_t hwpt_id)
{
	struct nested_hwpt *n = NULL;
	int ret;

	pthread_rwlock_wrlock(&h->lock);
	for (size_t i = 0; i < h->nnested && !n; i++)
		if (h->nested[i].hwpt_id == hwpt_id &&
		    user_index(&h->nested[i], dev_id) < h->nested[i].users)
			n = &h->nested[i];
	if (n)
		ret = unbind_locked(h, n, dev_id);
	else
		ret = fail(h, ENOENT, "device %u is not bound to nested HWPT %u", dev_id, hwpt_id);
	pthread_rwlock_unlock(&h->lock);
	return ret;
}

/* ---- Submission ---- */

/*
 * The entry for @op's range. Device TLBs have no leaf hint, and an entry
 * without LEAF is the wider invalidation, so only IOTLB ops carry it.
 */
static void op_entry(const struct flush_op *op, struct iommu_hwpt_vtd_s1_invalidate *e)
{
	memset(e, 0, sizeof(*e));
	if (op->scope == FLUSH_ALL || op->am >= VTD_MAX_AM) {
		e->addr = 0;
		e->npages = UINT64_MAX;
	} else {
		e->addr = op->addr;
		e->npages = 1ULL << op->am;
	}
	if (op->ih && !flush_op_is_devtlb(op->kind))
		e->flags = IOMMU_VTD_INV_FLAGS_LEAF;
}

static bool entry_covers(const struct iommu_hwpt_vtd_s1_invalidate *a,
			 const struct iommu_hwpt_vtd_s1_invalidate *b)
{
	if (a->npages == UINT64_MAX)
		return true;
	if (b->npages == UINT64_MAX)
		return false;
	/* Both are naturally aligned blocks below 2^64: the last byte cannot wrap. */
	return a->addr <= b->addr &&
	       b->addr + (b->npages << VTD_PAGE_SHIFT) - 1 <= a->addr + (a->npages << VTD_PAGE_SHIFT) - 1;
}

/*
 * Where each op goes. An op is placed in every nested HWPT of its (DID,
 * PASID): usually one, more when the guest gave one domain several tables.
 * A placement either has its own entry in its HWPT's array or is covered
 * by an IOTLB entry of the same HWPT (a device-TLB op whose range the
 * HWPT's flush already reaches: the kernel flushes the ATCs behind a
 * nested HWPT with it).
 */
enum route_kind {
	ROUTE_NONE,		/* nothing to send: done when the submission is */
	ROUTE_PLACED,		/* placements [first, first + count) */
	ROUTE_FAILED,		/* no HWPT for its key */
};

struct op_route {
	enum route_kind kind;
	size_t first, count;
};

struct placement {
	size_t op;
	size_t group;		/* the HWPT's group */
	size_t entry;		/* index in the group's array (its own or the covering one) */
	bool covered;		/* by an entry of this submission, or (done_before) */
	bool done_before;	/* by an earlier invalidation of the HWPT: nothing to send */
	struct iommu_hwpt_vtd_s1_invalidate inv;
};

struct inv_group {
	uint32_t hwpt_id;
	struct nested_hwpt *nh;	/* stable: the read lock keeps h->nested in place */
	size_t count, base;
	size_t handled;		/* entries the kernel reported handled */
};

struct submit_ctx {
	const struct flush_op *ops;
	size_t n;
	struct op_route *route;
	struct placement *pl;
	size_t npl, cap_pl;
	struct inv_group *groups;
	size_t ngroups, cap_groups;
	struct host_error *err;
	size_t err_op;		/* op_index of the failure reported so far */
	bool failed;
	bool oom;
};

static size_t group_for(struct submit_ctx *c, struct nested_hwpt *nh)
{
	for (size_t g = 0; g < c->ngroups; g++)
		if (c->groups[g].hwpt_id == nh->hwpt_id)
			return g;
	if (array_reserve((void **)&c->groups, &c->cap_groups, c->ngroups + 1, sizeof(*c->groups))) {
		c->oom = true;
		return SIZE_MAX;
	}
	memset(&c->groups[c->ngroups], 0, sizeof(c->groups[0]));
	c->groups[c->ngroups].hwpt_id = nh->hwpt_id;
	c->groups[c->ngroups].nh = nh;
	return c->ngroups++;
}

static bool placement_done(const struct submit_ctx *c, const struct placement *p)
{
	return p->done_before || p->entry < c->groups[p->group].handled;
}

static void entry_range(const struct iommu_hwpt_vtd_s1_invalidate *e, uint64_t *first,
			uint64_t *last)
{
	*first = e->npages == UINT64_MAX ? 0 : e->addr;
	*last = e->npages == UINT64_MAX ? UINT64_MAX : e->addr + (e->npages << VTD_PAGE_SHIFT) - 1;
}

/* Is op @i done once the groups reached their `handled` counts? */
static bool op_done(const struct submit_ctx *c, size_t i)
{
	const struct op_route *r = &c->route[i];

	if (r->kind == ROUTE_FAILED)
		return false;
	for (size_t k = 0; r->kind == ROUTE_PLACED && k < r->count; k++)
		if (!placement_done(c, &c->pl[r->first + k]))
			return false;
	return true;
}

/*
 * Keep the failure whose first undone op comes first: that op is where the
 * caller's "ops from op_index on may not have completed" starts.
 */
__attribute__((format(printf, 5, 6)))
static void report(struct submit_ctx *c, enum host_error_kind kind, size_t op_index, uint16_t sid,
		   const char *fmt, ...)
{
	va_list ap;

	if (c->failed && op_index >= c->err_op)
		return;
	c->failed = true;
	c->err_op = op_index;
	memset(c->err, 0, sizeof(*c->err));
	c->err->kind = kind;
	c->err->op_index = op_index;
	c->err->sid = sid;
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	va_end(ap);
}

static size_t first_undone(const struct submit_ctx *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (!op_done(c, i))
			return i;
	return c->n;
}

/* The first op with an undone placement in group @g (or any later group when @later). */
static size_t first_undone_of(const struct submit_ctx *c, size_t g, bool later)
{
	size_t first = c->n;

	for (size_t k = 0; k < c->npl; k++) {
		const struct placement *p = &c->pl[k];

		if ((p->group == g || (later && p->group > g)) && !placement_done(c, p) &&
		    p->op < first)
			first = p->op;
	}
	return first;
}

/* The kernel does not say which device timed out: name the HWPT's first ATS op. */
static uint16_t group_sid(const struct submit_ctx *c, size_t g)
{
	for (size_t k = 0; k < c->npl; k++)
		if (c->pl[k].group == g && flush_op_is_devtlb(c->ops[c->pl[k].op].kind))
			return c->ops[c->pl[k].op].sid;
	return 0;
}

/*
 * Place op @i in group @g. A device-TLB op is covered by an IOTLB entry of
 * the same group, or done before (devtlb-cover.h), or gets an entry of its own.
 */
static void place(struct submit_ctx *c, struct iommufd_host *h, size_t i, size_t g)
{
	struct placement *p;

	if (array_reserve((void **)&c->pl, &c->cap_pl, c->npl + 1, sizeof(*c->pl))) {
		c->oom = true;
		return;
	}
	p = &c->pl[c->npl];
	memset(p, 0, sizeof(*p));
	p->op = i;
	p->group = g;
	op_entry(&c->ops[i], &p->inv);
	if (flush_op_is_devtlb(c->ops[i].kind)) {
		for (size_t k = 0; k < c->npl; k++) {
			const struct placement *o = &c->pl[k];

			if (o->group == g && !o->covered && !flush_op_is_devtlb(c->ops[o->op].kind) &&
			    entry_covers(&o->inv, &p->inv)) {
				p->covered = true;
				p->entry = o->entry;
				break;
			}
		}
		if (!p->covered) {
			uint64_t first, last;

			entry_range(&p->inv, &first, &last);
			pthread_mutex_lock(&h->cover_lock);
			p->done_before = devtlb_cover_covers(&c->groups[g].nh->cover, first, last);
			pthread_mutex_unlock(&h->cover_lock);
			p->covered = p->done_before;
		}
		atomic_fetch_add(p->done_before ? &h->devtlb_done_before :
				 p->covered ? &h->devtlb_covered : &h->devtlb_entries, 1);
	}
	if (!p->covered)
		p->entry = c->groups[g].count++;
	c->npl++;
}

/*
 * After group @g's call: a complete success adds its entries' ranges to
 * the HWPT's cover (every entry, whichever op it was made for, flushes the
 * HWPT's IOTLB and the ATCs behind it); anything else empties it, since the
 * ATCs may not have been reached.
 */
static void record_cover(const struct submit_ctx *c, struct iommufd_host *h, size_t g, bool ok)
{
	struct devtlb_cover *cover = &c->groups[g].nh->cover;

	pthread_mutex_lock(&h->cover_lock);
	if (!ok)
		devtlb_cover_reset(cover);
	for (size_t k = 0; ok && k < c->npl; k++) {
		const struct placement *p = &c->pl[k];
		uint64_t first, last;

		if (p->group != g || p->covered)
			continue;
		entry_range(&p->inv, &first, &last);
		devtlb_cover_add(cover, first, last);
	}
	pthread_mutex_unlock(&h->cover_lock);
}

static void route_ops(struct submit_ctx *c, struct iommufd_host *h, struct host_unit *unit)
{
	/* IOTLB-class ops first, so device-TLB ops can find an entry covering them. */
	for (int pass = 0; pass < 2 && !c->oom; pass++) {
		for (size_t i = 0; i < c->n && !c->oom; i++) {
			const struct flush_op *op = &c->ops[i];
			struct op_route *r = &c->route[i];
			struct nested_hwpt *nh;
			size_t cur = 0;

			if (flush_op_is_devtlb(op->kind) != (pass == 1))
				continue;
			/*
			 * Second stage is the kernel-managed nest parent: the kernel
			 * flushes its IOTLB and the ATCs behind it on every IOAS
			 * change before the ioctl returns, and the uAPI has no
			 * user invalidation for it. Nothing is left to send.
			 */
			if (op->kind == FLUSH_OP_IOTLB || op->tag_type == CACHE_TAG_DEVTLB) {
				r->kind = ROUTE_NONE;
				atomic_fetch_add(&h->s2_ops_elided, 1);
				continue;
			}
			r->kind = ROUTE_PLACED;
			r->first = c->npl;
			while ((nh = find_nested(h, unit, op->did, op->pasid, &cur)) && !c->oom) {
				size_t g = group_for(c, nh);

				if (g != SIZE_MAX)
					place(c, h, i, g);
			}
			r->count = c->npl - r->first;
			if (r->count == 0 && !c->oom) {
				r->kind = ROUTE_FAILED;
				report(c, HOST_ERR_IO, i, flush_op_is_devtlb(op->kind) ? op->sid : 0,
				       "%s: no nested HWPT for DID %u PASID %u (not bound with "
				       "iommufd_bind_s1)", unit->name, op->did, op->pasid);
			}
		}
	}
}

static void submit_ctx_free(struct submit_ctx *c)
{
	free(c->route);
	free(c->pl);
	free(c->groups);
}

static int iommufd_submit(struct host_unit *unit, const struct flush_op *ops, size_t n,
			  struct host_error *err)
{
	struct iommufd_unit *u = unit->backend_data;
	struct iommufd_host *h = u->host;
	struct iommu_hwpt_vtd_s1_invalidate *entries = NULL;
	struct submit_ctx c = { .ops = ops, .n = n, .err = err };
	size_t base = 0;

	memset(err, 0, sizeof(*err));
	if (n == 0)
		return 0;
	c.route = calloc(n, sizeof(*c.route));
	pthread_rwlock_rdlock(&h->lock);
	if (c.route)
		route_ops(&c, h, unit);
	for (size_t g = 0; g < c.ngroups; g++) {
		c.groups[g].base = base;
		base += c.groups[g].count;
	}
	if (c.route && !c.oom && base)
		entries = calloc(base, sizeof(*entries));
	if (!c.route || c.oom || (base && !entries)) {
		pthread_rwlock_unlock(&h->lock);
		submit_ctx_free(&c);
		free(entries);
		err->kind = HOST_ERR_IO;
		snprintf(err->msg, sizeof(err->msg), "%s: out of memory", unit->name);
		return -1;
	}
	for (size_t k = 0; k < c.npl; k++)
		if (!c.pl[k].covered)
			entries[c.groups[c.pl[k].group].base + c.pl[k].entry] = c.pl[k].inv;

	for (size_t g = 0; g < c.ngroups; g++) {
		struct inv_group *grp = &c.groups[g];
		struct iommu_hwpt_invalidate inv;
		int rc, e;

		/* Only device-TLB ops done before: nothing to send. */
		if (grp->count == 0)
			continue;
		memset(&inv, 0, sizeof(inv));
		inv.size = sizeof(inv);
		inv.hwpt_id = grp->hwpt_id;
		inv.data_uptr = (uintptr_t)&entries[grp->base];
		inv.data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1;
		inv.entry_len = sizeof(entries[0]);
		inv.entry_num = (uint32_t)grp->count;
		rc = host_ioctl(h, IOMMU_HWPT_INVALIDATE, &inv);
		e = errno;
		atomic_fetch_add(&h->invalidate_calls, 1);
		atomic_fetch_add(&h->invalidate_entries, grp->count);
		/*
		 * The kernel stops at the first entry it cannot handle and writes
		 * back how many it did. A failure that leaves entry_num at its
		 * input (checks before any entry ran, or a failed copy-out)
		 * proves nothing was done, so it counts as none handled.
		 */
		if (rc == 0)
			grp->handled = inv.entry_num < grp->count ? inv.entry_num : grp->count;
		else
			grp->handled = inv.entry_num < grp->count ? inv.entry_num : 0;
		record_cover(&c, h, g, rc == 0 && grp->handled == grp->count);
		if (rc == 0 && grp->handled == grp->count)
			continue;
		if (rc == 0) {
			report(&c, HOST_ERR_IO, first_undone_of(&c, g, true), 0,
			       "%s: HWPT %u: the kernel handled %zu of %zu entries and reported success",
			       unit->name, grp->hwpt_id, grp->handled, grp->count);
			break;
		}
		if (e == ETIMEDOUT) {
			/* A device TLB timed out: the other HWPTs still get their flush. */
			report(&c, HOST_ERR_ITE, first_undone_of(&c, g, false), group_sid(&c, g),
			       "%s: HWPT %u: device-TLB invalidation timed out after %zu of %zu entries",
			       unit->name, grp->hwpt_id, grp->handled, grp->count);
			continue;
		}
		/* Later groups stay at handled = 0: first_undone() sees them as undone. */
		report(&c, HOST_ERR_IO, first_undone_of(&c, g, true), 0,
		       "%s: IOMMU_HWPT_INVALIDATE HWPT %u: %s after %zu of %zu entries",
		       unit->name, grp->hwpt_id, strerror(e), grp->handled, grp->count);
		break;
	}
	pthread_rwlock_unlock(&h->lock);

	if (c.failed) {
		/* Whatever failed, op_index is the first op not known to be done. */
		err->op_index = first_undone(&c);
	}
	submit_ctx_free(&c);
	free(entries);
	return c.failed ? -1 : 0;
}

const struct host_backend iommufd_backend = {
	.name = "iommufd",
	.submit = iommufd_submit,
};
