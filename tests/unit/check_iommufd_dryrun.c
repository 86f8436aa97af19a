// SPDX-License-Identifier: MIT
/*
 * The dry-run iommufd: each argument check the kernel makes, with the
 * kernel's errno, and that the nesting back end's own calls all pass and
 * are counted per HWPT.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "check_main.h"
#include "hostvtd/flush.h"
#include "lib/iommufd-compat.h"
#include "hostvtd/iommufd-dryrun.h"
#include "hostvtd/iommufd.h"
#include "hostvtd/simvtd.h"
#include "testutil.h"

static struct iommufd_dryrun *dr;
static const struct host_ops *ops;
static int fd;
static uint32_t ioas, dev, parent, nested;

static int call(unsigned long request, void *arg)
{
	return ops->ioctl(ops->ctx, fd, request, arg);
}

/* The ioctl fails with @err, and the dry run counts one more refusal. */
#define ck_refused(request, arg, err)                                                  \
	do {                                                                           \
		struct iommufd_dryrun_stats before_, after_;                           \
		iommufd_dryrun_stats(dr, &before_);                                    \
		errno = 0;                                                             \
		ck_assert_int_eq(call(request, arg), -1);                              \
		ck_assert_int_eq(errno, err);                                          \
		iommufd_dryrun_stats(dr, &after_);                                     \
		ck_assert_uint_eq(after_.refused, before_.refused + 1);                \
		ck_assert_int_eq(after_.last_errno, err);                              \
	} while (0)

static struct iommu_hwpt_alloc parent_alloc(uint32_t dev_id, uint32_t pt_id)
{
	struct iommu_hwpt_alloc a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
	a.dev_id = dev_id;
	a.pt_id = pt_id;
	return a;
}

static struct iommu_hwpt_alloc nested_alloc(uint32_t dev_id, uint32_t pt_id,
					    struct iommu_hwpt_vtd_s1 *s1)
{
	struct iommu_hwpt_alloc a;

	memset(s1, 0, sizeof(*s1));
	s1->pgtbl_addr = 0x40000000;
	s1->addr_width = 48;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.dev_id = dev_id;
	a.pt_id = pt_id;
	a.data_type = IOMMU_HWPT_DATA_VTD_S1;
	a.data_len = sizeof(*s1);
	a.data_uptr = (uintptr_t)s1;
	return a;
}

static struct iommu_hwpt_invalidate inv_of(uint32_t hwpt_id,
					   struct iommu_hwpt_vtd_s1_invalidate *e, uint32_t n)
{
	struct iommu_hwpt_invalidate inv;

	memset(&inv, 0, sizeof(inv));
	inv.size = sizeof(inv);
	inv.hwpt_id = hwpt_id;
	inv.data_uptr = (uintptr_t)e;
	inv.data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1;
	inv.entry_len = sizeof(*e);
	inv.entry_num = n;
	return inv;
}

static struct iommu_hwpt_vtd_s1_invalidate entry(uint64_t addr, uint64_t npages, uint32_t flags)
{
	struct iommu_hwpt_vtd_s1_invalidate e = { .addr = addr, .npages = npages, .flags = flags };

	return e;
}

static struct iommufd_dryrun_hwpt hwpt_info(uint32_t id)
{
	struct iommufd_dryrun_hwpt h;

	ck_assert_int_eq(iommufd_dryrun_hwpt(dr, fd, id, &h), 0);
	return h;
}

/* An iommufd with an IOAS, a nesting-capable device, its nest parent and one nested HWPT. */
static void setup(void)
{
	struct iommu_ioas_alloc ia = { .size = sizeof(ia) };
	struct iommu_hwpt_vtd_s1 s1;
	struct iommu_hwpt_alloc a;

	dr = iommufd_dryrun_new();
	ck_assert_ptr_nonnull(dr);
	ops = iommufd_dryrun_ops(dr);
	fd = ops->open(ops->ctx, IOMMUFD_DEV_PATH, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(call(IOMMU_IOAS_ALLOC, &ia), 0);
	ioas = ia.out_ioas_id;
	ck_assert_int_eq(iommufd_dryrun_bind_device(dr, fd, simvtd_default_cap(),
						    simvtd_default_ecap(), &dev), 0);
	a = parent_alloc(dev, ioas);
	ck_assert_int_eq(call(IOMMU_HWPT_ALLOC, &a), 0);
	parent = a.out_hwpt_id;
	a = nested_alloc(dev, parent, &s1);
	ck_assert_int_eq(call(IOMMU_HWPT_ALLOC, &a), 0);
	nested = a.out_hwpt_id;
}

static void teardown(void)
{
	iommufd_dryrun_free(dr);
}

START_TEST(ids_are_the_lowest_free_from_one)
{
	/* IOAS 1, device 2, parent 3, nested 4, as the kernel's xa_alloc() hands them out. */
	ck_assert_uint_eq(ioas, 1);
	ck_assert_uint_eq(dev, 2);
	ck_assert_uint_eq(parent, 3);
	ck_assert_uint_eq(nested, 4);
	ck_assert(hwpt_info(parent).nest_parent);
	ck_assert(hwpt_info(nested).nested);
	ck_assert_uint_eq(hwpt_info(nested).pt_id, parent);
	ck_assert_uint_eq(hwpt_info(nested).s1_pgtbl, 0x40000000);
}
END_TEST

START_TEST(open_close_and_unknown_fds)
{
	int fd2;
	struct iommu_destroy d = { .size = sizeof(d), .id = 1 };

	errno = 0;
	ck_assert_int_eq(ops->open(ops->ctx, "/dev/vfio/devices/vfio0", O_RDWR), -1);
	ck_assert_int_eq(errno, ENOENT);
	fd2 = ops->open(ops->ctx, IOMMUFD_DEV_PATH, O_RDWR);
	ck_assert_int_ge(fd2, 0);
	ck_assert_int_ne(fd2, fd);
	/* Each open is its own context: fd's ids mean nothing in fd2. */
	errno = 0;
	ck_assert_int_eq(ops->ioctl(ops->ctx, fd2, IOMMU_DESTROY, &d), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(ops->close(ops->ctx, fd2), 0);
	errno = 0;
	ck_assert_int_eq(ops->close(ops->ctx, fd2), -1);
	ck_assert_int_eq(errno, EBADF);
	errno = 0;
	ck_assert_int_eq(ops->ioctl(ops->ctx, fd2, IOMMU_DESTROY, &d), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(valid_invalidation_is_counted_per_hwpt)
{
	struct iommu_hwpt_vtd_s1_invalidate e[3] = {
		entry(0x1000, 1, IOMMU_VTD_INV_FLAGS_LEAF), entry(0x8000, 8, 0), entry(0, UINT64_MAX, 0),
	};
	struct iommu_hwpt_invalidate inv = inv_of(nested, e, 3);
	struct iommufd_dryrun_stats st;

	ck_assert_int_eq(call(IOMMU_HWPT_INVALIDATE, &inv), 0);
	ck_assert_uint_eq(inv.entry_num, 3);
	inv = inv_of(nested, e, 0);	/* an empty array is a call too, with nothing done */
	ck_assert_int_eq(call(IOMMU_HWPT_INVALIDATE, &inv), 0);
	ck_assert_uint_eq(inv.entry_num, 0);
	ck_assert_uint_eq(hwpt_info(nested).invalidate_calls, 2);
	ck_assert_uint_eq(hwpt_info(nested).invalidate_entries, 3);
	ck_assert_uint_eq(hwpt_info(nested).invalidate_refused, 0);
	iommufd_dryrun_stats(dr, &st);
	ck_assert_uint_eq(st.invalidate_calls, 2);
	ck_assert_uint_eq(st.invalidate_entries, 3);
	ck_assert_uint_eq(st.refused, 0);
}
END_TEST

START_TEST(bad_size_is_refused)
{
	struct iommu_hwpt_vtd_s1_invalidate e = entry(0x1000, 1, 0);
	struct {
		struct iommu_hwpt_invalidate inv;
		uint64_t tail;
	} big;
	struct iommu_hwpt_invalidate inv = inv_of(nested, &e, 1);

	/* Below offsetofend(__reserved): the kernel's min_size check. */
	inv.size = offsetof(struct iommu_hwpt_invalidate, entry_num);
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	/* A newer caller's bigger struct is fine while the extra bytes are zero... */
	big.inv = inv_of(nested, &e, 1);
	big.inv.size = sizeof(big);
	big.tail = 0;
	ck_assert_int_eq(call(IOMMU_HWPT_INVALIDATE, &big), 0);
	ck_assert_uint_eq(big.inv.entry_num, 1);
	/* ...and E2BIG when they are not (copy_struct_from_user()). */
	big.tail = 1;
	ck_refused(IOMMU_HWPT_INVALIDATE, &big, E2BIG);
	/* The same rule on every command. */
	{
		struct iommu_destroy d = { .size = 4, .id = nested };

		ck_refused(IOMMU_DESTROY, &d, EINVAL);
	}
	ck_assert_uint_eq(hwpt_info(nested).invalidate_calls, 1);
}
END_TEST

START_TEST(bad_entry_len_is_refused)
{
	struct iommu_hwpt_vtd_s1_invalidate e[2] = { entry(0x1000, 1, 0), entry(0x2000, 1, 0) };
	struct iommu_hwpt_invalidate inv;

	/* The VT-d entry is exactly 24 bytes to this kernel: shorter and longer are EINVAL. */
	inv = inv_of(nested, e, 1);
	inv.entry_len = 16;
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	ck_assert_uint_eq(inv.entry_num, 0);
	inv = inv_of(nested, e, 1);
	inv.entry_len = 32;
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	ck_assert_uint_eq(inv.entry_num, 0);
	/* Entries without a length or an array, before the HWPT is even looked up. */
	inv = inv_of(nested, e, 2);
	inv.entry_len = 0;
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	inv = inv_of(nested, e, 2);
	inv.data_uptr = 0;
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	ck_assert_uint_eq(hwpt_info(nested).invalidate_calls, 2);
	ck_assert_uint_eq(hwpt_info(nested).invalidate_refused, 2);
	ck_assert_uint_eq(hwpt_info(nested).invalidate_entries, 0);
}
END_TEST

START_TEST(unknown_hwpt_id_is_refused)
{
	struct iommu_hwpt_vtd_s1_invalidate e = entry(0x1000, 1, 0);
	struct iommu_hwpt_invalidate inv = inv_of(99, &e, 1);

	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, ENOENT);
	ck_assert_uint_eq(inv.entry_num, 0);
	/* An object that is not a nested HWPT: the nest parent's caches are the kernel's. */
	inv = inv_of(parent, &e, 1);
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	inv = inv_of(ioas, &e, 1);
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	/* Linux 6.12 looked the id up as a nested HWPT: the real kernel said ENOENT for both. */
	iommufd_dryrun_set_linux(dr, 6, 12);
	inv = inv_of(parent, &e, 1);
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, ENOENT);
	inv = inv_of(ioas, &e, 1);
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, ENOENT);
	/* A version past the newest modelled follows the newest rules. */
	iommufd_dryrun_set_linux(dr, 7, 2);
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	ck_assert_uint_eq(hwpt_info(parent).invalidate_calls, 0);
	ck_assert_uint_eq(hwpt_info(nested).invalidate_calls, 0);
}
END_TEST

/* One call cannot make the kernel walk an unbounded array (the stable kernels' limits). */
START_TEST(invalidation_array_is_bounded)
{
	static struct iommu_hwpt_vtd_s1_invalidate e[2];
	struct iommu_hwpt_invalidate inv = inv_of(nested, e, (1u << 19) + 1);

	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	ck_assert_uint_eq(inv.entry_num, 0);
	inv = inv_of(nested, e, 1);
	inv.entry_len = 4097;
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	/* Before the id is looked up. */
	inv = inv_of(99, e, (1u << 19) + 1);
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	ck_assert_uint_eq(hwpt_info(nested).invalidate_entries, 0);
}
END_TEST

START_TEST(nonzero_reserved_is_refused)
{
	struct iommu_hwpt_vtd_s1_invalidate e[3] = {
		entry(0x1000, 1, 0), entry(0x2000, 1, 0), entry(0x3000, 1, 0),
	};
	struct iommu_hwpt_invalidate inv = inv_of(nested, e, 3);
	struct iommu_hwpt_vtd_s1 s1;
	struct iommu_hwpt_alloc a;
	struct iommu_hw_info info;
	struct iommu_hw_info_vtd vtd;

	inv.__reserved = 1;
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EOPNOTSUPP);
	ck_assert_uint_eq(inv.entry_num, 0);
	/* An entry's own reserved field: the entries before it were handled. */
	e[1].__reserved = 1;
	inv = inv_of(nested, e, 3);
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EOPNOTSUPP);
	ck_assert_uint_eq(inv.entry_num, 1);
	ck_assert_uint_eq(hwpt_info(nested).invalidate_entries, 1);
	a = nested_alloc(dev, parent, &s1);
	a.__reserved = 1;
	ck_refused(IOMMU_HWPT_ALLOC, &a, EOPNOTSUPP);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.dev_id = dev;
	info.data_len = sizeof(vtd);
	info.data_uptr = (uintptr_t)&vtd;
	info.__reserved = 1;
	ck_refused(IOMMU_GET_HW_INFO, &info, EOPNOTSUPP);
}
END_TEST

START_TEST(bad_entries_stop_the_array)
{
	struct iommu_hwpt_vtd_s1_invalidate e[3];
	struct iommu_hwpt_invalidate inv;

	e[0] = entry(0x1000, 1, 0);
	e[1] = entry(0x2000, 1, 0x2);	/* only LEAF is defined */
	e[2] = entry(0x3000, 1, 0);
	inv = inv_of(nested, e, 3);
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EOPNOTSUPP);
	ck_assert_uint_eq(inv.entry_num, 1);
	e[1] = entry(0x2080, 1, 0);	/* not 4 KiB aligned */
	inv = inv_of(nested, e, 3);
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	ck_assert_uint_eq(inv.entry_num, 1);
	e[0] = entry(0x1000, UINT64_MAX, 0);	/* "everything" starts at 0 */
	inv = inv_of(nested, e, 3);
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	ck_assert_uint_eq(inv.entry_num, 0);
	inv = inv_of(nested, e, 1);
	inv.data_type = 1;
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	ck_assert_uint_eq(hwpt_info(nested).invalidate_entries, 2);
	ck_assert_uint_eq(hwpt_info(nested).invalidate_refused, 4);
}
END_TEST

START_TEST(hwpt_alloc_checks)
{
	struct iommu_hwpt_vtd_s1 s1;
	struct iommu_hwpt_alloc a;
	uint32_t plain, no_nest, no_sm, no_sl;

	a = nested_alloc(77, parent, &s1);
	ck_refused(IOMMU_HWPT_ALLOC, &a, ENOENT);		/* no such device */
	a = nested_alloc(dev, 77, &s1);
	ck_refused(IOMMU_HWPT_ALLOC, &a, EINVAL);		/* no such pt_id */
	a = nested_alloc(dev, nested, &s1);
	ck_refused(IOMMU_HWPT_ALLOC, &a, EINVAL);		/* nesting on a nested HWPT */
	a = nested_alloc(dev, parent, &s1);
	a.data_len = 16;
	ck_refused(IOMMU_HWPT_ALLOC, &a, EINVAL);		/* iommu_hwpt_vtd_s1 is 24 bytes */
	a = nested_alloc(dev, parent, &s1);
	a.data_type = IOMMU_HWPT_DATA_NONE;
	ck_refused(IOMMU_HWPT_ALLOC, &a, EINVAL);		/* data without a type */
	a = nested_alloc(dev, parent, &s1);
	a.data_type = 2;
	ck_refused(IOMMU_HWPT_ALLOC, &a, EOPNOTSUPP);		/* not VT-d stage 1 */
	a = nested_alloc(dev, parent, &s1);
	a.flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
	ck_refused(IOMMU_HWPT_ALLOC, &a, EOPNOTSUPP);		/* a nested HWPT is no parent */
	a = parent_alloc(dev, ioas);
	a.flags |= IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
	ck_refused(IOMMU_HWPT_ALLOC, &a, EOPNOTSUPP);
	/* A paging HWPT that is not a nest parent cannot carry a stage 1. */
	a = parent_alloc(dev, ioas);
	a.flags = 0;
	ck_assert_int_eq(call(IOMMU_HWPT_ALLOC, &a), 0);
	plain = a.out_hwpt_id;
	a = nested_alloc(dev, plain, &s1);
	ck_refused(IOMMU_HWPT_ALLOC, &a, EINVAL);
	/* A unit without ECAP.NEST has no nest parent. */
	ck_assert_int_eq(iommufd_dryrun_bind_device(dr, fd, simvtd_default_cap(),
						    simvtd_default_ecap() & ~VTD_ECAP_NEST, &no_nest), 0);
	a = parent_alloc(no_nest, ioas);
	ck_refused(IOMMU_HWPT_ALLOC, &a, EOPNOTSUPP);
	/* Nor one without scalable mode or second stage; and none of them nests. */
	ck_assert_int_eq(iommufd_dryrun_bind_device(dr, fd, simvtd_default_cap(),
						    simvtd_default_ecap() & ~VTD_ECAP_SMTS, &no_sm), 0);
	a = parent_alloc(no_sm, ioas);
	ck_refused(IOMMU_HWPT_ALLOC, &a, EOPNOTSUPP);
	a = nested_alloc(no_sm, parent, &s1);
	ck_refused(IOMMU_HWPT_ALLOC, &a, EOPNOTSUPP);
	ck_assert_int_eq(iommufd_dryrun_bind_device(dr, fd, simvtd_default_cap(),
						    simvtd_default_ecap() & ~VTD_ECAP_SLTS, &no_sl), 0);
	a = parent_alloc(no_sl, ioas);
	ck_refused(IOMMU_HWPT_ALLOC, &a, EOPNOTSUPP);
	/* FAULT_ID_VALID: never with NEST_PARENT; otherwise the fault object must exist. */
	a = parent_alloc(dev, ioas);
	a.flags |= IOMMU_HWPT_FAULT_ID_VALID;
	ck_refused(IOMMU_HWPT_ALLOC, &a, EOPNOTSUPP);
	a = nested_alloc(dev, parent, &s1);
	a.flags |= IOMMU_HWPT_FAULT_ID_VALID;
	a.fault_id = 99;
	ck_refused(IOMMU_HWPT_ALLOC, &a, ENOENT);
	/* PASID-capable HWPTs (Linux 6.15): a parent and a nested one on it. */
	a = parent_alloc(dev, ioas);
	a.flags |= IOMMU_HWPT_ALLOC_PASID;
	ck_assert_int_eq(call(IOMMU_HWPT_ALLOC, &a), 0);
	a = nested_alloc(dev, a.out_hwpt_id, &s1);
	a.flags = IOMMU_HWPT_ALLOC_PASID;
	ck_assert_int_eq(call(IOMMU_HWPT_ALLOC, &a), 0);
}
END_TEST

START_TEST(destroy_follows_object_users)
{
	struct iommu_destroy d = { .size = sizeof(d) };
	struct iommu_hwpt_vtd_s1 s1;
	struct iommu_hwpt_alloc a;
	struct iommufd_dryrun_stats st;

	d.id = parent;
	ck_refused(IOMMU_DESTROY, &d, EBUSY);		/* the nested HWPT holds it */
	d.id = ioas;
	ck_refused(IOMMU_DESTROY, &d, EBUSY);		/* the parent holds it */
	d.id = dev;
	ck_refused(IOMMU_DESTROY, &d, EBUSY);		/* devices go by unbinding */
	d.id = 99;
	ck_refused(IOMMU_DESTROY, &d, ENOENT);
	d.id = nested;
	ck_assert_int_eq(call(IOMMU_DESTROY, &d), 0);
	ck_refused(IOMMU_DESTROY, &d, ENOENT);
	d.id = parent;
	ck_assert_int_eq(call(IOMMU_DESTROY, &d), 0);
	iommufd_dryrun_stats(dr, &st);
	ck_assert_uint_eq(st.live_hwpts, 0);
	ck_assert_uint_eq(st.destroys, 2);
	/* Freed ids are handed out again, lowest first. */
	a = parent_alloc(dev, ioas);
	ck_assert_int_eq(call(IOMMU_HWPT_ALLOC, &a), 0);
	ck_assert_uint_eq(a.out_hwpt_id, parent);
	a = nested_alloc(dev, a.out_hwpt_id, &s1);
	ck_assert_int_eq(call(IOMMU_HWPT_ALLOC, &a), 0);
	ck_assert_uint_eq(a.out_hwpt_id, nested);
}
END_TEST

START_TEST(hw_info_reports_the_unit)
{
	struct iommu_hw_info info;
	struct iommu_hw_info_vtd vtd;
	uint64_t cap, ecap;
	struct iommufd_host *h;
	char err[256];

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.dev_id = dev;
	info.data_len = 8;	/* shorter than the data: the kernel copies what fits */
	memset(&vtd, 0xff, sizeof(vtd));
	info.data_uptr = (uintptr_t)&vtd;
	ck_assert_int_eq(call(IOMMU_GET_HW_INFO, &info), 0);
	ck_assert_uint_eq(info.data_len, sizeof(vtd));
	ck_assert_uint_eq(info.out_data_type, IOMMU_HW_INFO_TYPE_INTEL_VTD);
	/* Linux reports the erratum on every unit (seen from Debian's 6.12.118 in the testbed). */
	ck_assert_uint_eq(vtd.flags, IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17);
	ck_assert_uint_eq(vtd.cap_reg, UINT64_MAX);	/* beyond data_len: untouched */
	info.dev_id = 42;
	ck_refused(IOMMU_GET_HW_INFO, &info, ENOENT);
	/* Through the back end, on its own iommufd. */
	ck_assert_int_eq(iommufd_host_open(ops, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(iommufd_dryrun_bind_device(dr, iommufd_host_fd(h), 0x1234,
						    simvtd_default_ecap(), &info.dev_id), 0);
	ck_assert_int_eq(iommufd_host_get_hw_info(h, info.dev_id, &cap, &ecap), 0);
	ck_assert_uint_eq(cap, 0x1234);
	ck_assert_uint_eq(ecap, simvtd_default_ecap());
	iommufd_host_close(h);
}
END_TEST

/* @expr holds, and errno says @err. */
#define ck_fails(expr, err)                                                            \
	do {                                                                           \
		errno = 0;                                                             \
		ck_assert(expr);                                                       \
		ck_assert_int_eq(errno, err);                                          \
	} while (0)

static struct iommu_hwpt_pgfault pgfault(uint32_t dev_id, uint32_t grpid, uint64_t addr, bool last)
{
	struct iommu_hwpt_pgfault r;

	memset(&r, 0, sizeof(r));
	r.flags = IOMMU_PGFAULT_FLAGS_PASID_VALID | (last ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0);
	r.dev_id = dev_id;
	r.pasid = 5;
	r.grpid = grpid;
	r.perm = IOMMU_PGFAULT_PERM_READ;
	r.addr = addr;
	return r;
}

/* fault.c and hw_pagetable.c of Linux 6.12: the queue, its fd, and who may report to it. */
START_TEST(fault_queue_follows_the_kernel)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hwpt_pgfault recs[3], out[4];
	struct iommu_hwpt_page_response resp[3], got[4];
	struct iommu_hwpt_vtd_s1 s1;
	struct iommu_hwpt_alloc a;
	unsigned int waiting;
	bool open;
	int ffd;

	fa.flags = 1;
	ck_refused(IOMMU_FAULT_QUEUE_ALLOC, &fa, EOPNOTSUPP);
	fa.flags = 0;
	ck_assert_int_eq(call(IOMMU_FAULT_QUEUE_ALLOC, &fa), 0);
	ck_assert_uint_ne(fa.out_fault_id, 0);
	ffd = (int)fa.out_fault_fd;
	ck_assert_int_ge(ffd, 0);
	/* FAULT_ID_VALID: on a nested HWPT with a real queue; never on a paging one. */
	a = parent_alloc(dev, ioas);
	a.flags = IOMMU_HWPT_FAULT_ID_VALID;
	a.fault_id = fa.out_fault_id;
	ck_refused(IOMMU_HWPT_ALLOC, &a, EOPNOTSUPP);
	a = nested_alloc(dev, parent, &s1);
	a.flags = IOMMU_HWPT_FAULT_ID_VALID;
	a.fault_id = ioas;
	ck_refused(IOMMU_HWPT_ALLOC, &a, ENOENT);
	a.fault_id = fa.out_fault_id;
	ck_assert_int_eq(call(IOMMU_HWPT_ALLOC, &a), 0);
	/* The HWPT holds the queue. */
	{
		struct iommu_destroy d = { .size = sizeof(d), .id = fa.out_fault_id };

		ck_refused(IOMMU_DESTROY, &d, EBUSY);
	}

	/* Empty: reads 0. Sizes that are no multiple of a record: ESPIPE. */
	ck_assert_int_eq(ops->read(ops->ctx, ffd, out, sizeof(out)), 0);
	recs[0] = pgfault(dev, 1, 0x1000, true);
	ck_assert_int_eq(iommufd_dryrun_inject_fault(dr, fd, fa.out_fault_id, recs, 1), 0);
	recs[0] = pgfault(dev, 2, 0x2000, false);
	recs[1] = pgfault(dev, 2, 0x3000, false);
	recs[2] = pgfault(dev, 2, 0x4000, true);
	ck_assert_int_eq(iommufd_dryrun_inject_fault(dr, fd, fa.out_fault_id, recs, 3), 0);
	ck_fails(ops->read(ops->ctx, ffd, out, sizeof(out[0]) + 1) == -1, ESPIPE);
	/* Whole groups only: one record's room takes the first group, not half the second. */
	ck_assert_int_eq(ops->read(ops->ctx, ffd, out, 2 * sizeof(out[0])), sizeof(out[0]));
	ck_assert_uint_eq(out[0].grpid, 1);
	ck_assert_uint_eq(out[0].cookie, 1);
	ck_fails(ops->read(ops->ctx, ffd, out, 2 * sizeof(out[0])) == -1, EINVAL);
	ck_assert_int_eq(ops->read(ops->ctx, ffd, out, sizeof(out)), 3 * sizeof(out[0]));
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(out[i].cookie, 2);
		ck_assert_uint_eq(out[i].addr, 0x2000 + 0x1000 * (uint64_t)i);
	}
	ck_assert_uint_eq(out[2].flags & IOMMU_PGFAULT_FLAGS_LAST_PAGE, IOMMU_PGFAULT_FLAGS_LAST_PAGE);

	/* Responses: whole ones (ESPIPE), known cookies and codes only (EINVAL). */
	resp[0] = (struct iommu_hwpt_page_response){ .cookie = 1, .code = IOMMUFD_PAGE_RESP_SUCCESS };
	ck_fails(ops->write(ops->ctx, ffd, resp, 4) == -1, ESPIPE);
	resp[0].code = 2;
	ck_fails(ops->write(ops->ctx, ffd, resp, sizeof(resp[0])) == -1, EINVAL);
	resp[0] = (struct iommu_hwpt_page_response){ .cookie = 9, .code = IOMMUFD_PAGE_RESP_SUCCESS };
	ck_fails(ops->write(ops->ctx, ffd, resp, sizeof(resp[0])) == -1, EINVAL);
	/* A bad one after good ones: the good ones are taken, the count says how many. */
	resp[0] = (struct iommu_hwpt_page_response){ .cookie = 1, .code = IOMMUFD_PAGE_RESP_SUCCESS };
	resp[1] = (struct iommu_hwpt_page_response){ .cookie = 2, .code = IOMMUFD_PAGE_RESP_INVALID };
	resp[2] = (struct iommu_hwpt_page_response){ .cookie = 1, .code = IOMMUFD_PAGE_RESP_SUCCESS };
	ck_assert_int_eq(ops->write(ops->ctx, ffd, resp, sizeof(resp)), 2 * sizeof(resp[0]));
	ck_assert_int_eq(iommufd_dryrun_fault_responses(dr, fd, fa.out_fault_id, got, 4, &waiting,
							&open), 2);
	ck_assert_uint_eq(got[0].cookie, 1);
	ck_assert_uint_eq(got[0].code, IOMMUFD_PAGE_RESP_SUCCESS);
	ck_assert_uint_eq(got[1].cookie, 2);
	ck_assert_uint_eq(got[1].code, IOMMUFD_PAGE_RESP_INVALID);
	ck_assert_uint_eq(waiting, 0);
	ck_assert(open);

	/* Bounded: injection beyond the queue's room is refused, not grown. */
	for (int i = 0; i < IOMMUFD_DRYRUN_FAULT_MAX; i++)
		ck_assert_int_eq(iommufd_dryrun_inject_fault(dr, fd, fa.out_fault_id, recs, 1), 0);
	ck_fails(iommufd_dryrun_inject_fault(dr, fd, fa.out_fault_id, recs, 1) == -1, ENOSPC);

	ck_assert_int_eq(ops->close(ops->ctx, ffd), 0);
	ck_assert_int_eq(iommufd_dryrun_fault_responses(dr, fd, fa.out_fault_id, got, 4, NULL,
							&open), 2);
	ck_assert(!open);
	ck_fails(ops->read(ops->ctx, ffd, out, sizeof(out)) == -1, ENOSYS);
}
END_TEST

/* Before 6.11 there is no fault queue at all. */
START_TEST(fault_queue_needs_linux_6_11)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };

	iommufd_dryrun_set_linux(dr, 6, 10);
	ck_refused(IOMMU_FAULT_QUEUE_ALLOC, &fa, ENOTTY);
}
END_TEST

START_TEST(unmodelled_ioctls_are_enotty)
{
	struct iommu_ioas_map map;

	memset(&map, 0, sizeof(map));
	map.size = sizeof(map);
	ck_refused(IOMMU_IOAS_MAP, &map, ENOTTY);
}
END_TEST


/* No sysfs and no device: the VFIO half of host_ops fails, and no ioctl comes of it. */
START_TEST(device_calls_are_not_modelled)
{
	struct iommufd_dryrun_stats before, after;
	char buf[16] = "";

	iommufd_dryrun_stats(dr, &before);
	ck_fails(ops->list_dir(ops->ctx, "/sys/kernel/iommu_groups/1/devices", buf,
			       sizeof(buf)) == -1, ENOENT);
	ck_fails(ops->pread(ops->ctx, fd, buf, 4, 0) == -1, ENOSYS);
	ck_fails(ops->pwrite(ops->ctx, fd, buf, 4, 0) == -1, ENOSYS);
	ck_fails(ops->mmap(ops->ctx, fd, 4096, 0) == MAP_FAILED, ENOSYS);
	ck_fails(ops->munmap(ops->ctx, buf, sizeof(buf)) == -1, ENOSYS);
	ck_fails(ops->eventfd(ops->ctx) == -1, ENOSYS);
	ck_fails(ops->read(ops->ctx, fd, buf, 8) == -1, ENOSYS);
	iommufd_dryrun_stats(dr, &after);
	ck_assert_uint_eq(after.ioctls, before.ioctls);
}
END_TEST

START_TEST(log_names_the_refusal)
{
	struct iommu_hwpt_vtd_s1_invalidate e = entry(0x1000, 1, 0);
	struct iommu_hwpt_invalidate inv = inv_of(nested, &e, 1);
	char *buf = NULL;
	size_t len = 0;
	FILE *log = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(log);
	iommufd_dryrun_set_log(dr, log);
	ck_assert_int_eq(call(IOMMU_HWPT_INVALIDATE, &inv), 0);
	inv.entry_len = 16;
	ck_refused(IOMMU_HWPT_INVALIDATE, &inv, EINVAL);
	iommufd_dryrun_set_log(dr, NULL);
	fclose(log);
	ck_assert_ptr_nonnull(strstr(buf, "IOMMU_HWPT_INVALIDATE size 32 hwpt 4 data_type 0 "
				     "entry_len 24 entry_num 1 {0x1000 +1} -> 1 handled\n"));
	ck_assert_ptr_nonnull(strstr(buf, "entry_len 16 entry_num 1 -> 0 handled: EINVAL: entry_len 16"));
	free(buf);
}
END_TEST

/*
 * The back end's whole life against the dry run: every call it makes is one
 * the kernel accepts, and the SVA fan-out costs one call per HWPT.
 */
START_TEST(back_end_passes_and_sva_is_one_call_per_hwpt)
{
	const uint64_t page = 0x7f0000001000ULL;
	struct host_unit units[2];
	struct host_device devs[8];
	struct vtd_desc reqs[16];
	struct iommufd_dryrun_stats st;
	struct iommufd_stats ist;
	struct iommufd_host *h;
	struct flush_engine *fe;
	struct tag_store *ts = tag_store_new();
	struct iommu_ioas_alloc ia = { .size = sizeof(ia) };
	uint32_t hwpt[2] = { 0 }, dev_ids[8];
	char err[256];
	size_t n = 0;

	ck_assert_ptr_nonnull(ts);
	ck_assert_int_eq(iommufd_host_open(ops, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(ops->ioctl(ops->ctx, iommufd_host_fd(h), IOMMU_IOAS_ALLOC, &ia), 0);
	for (unsigned int u = 0; u < 2; u++) {
		test_unit(&units[u], u, 9);
		units[u].ecap = simvtd_default_ecap();
	}
	for (int i = 0; i < 8; i++) {
		struct tag_attach a;
		uint32_t id;

		test_device(&devs[i], (uint16_t)(0x100 + i * 8), &units[i % 2], true);
		ck_assert_int_eq(iommufd_dryrun_bind_device(dr, iommufd_host_fd(h), 0,
							    units[i % 2].ecap, &dev_ids[i]), 0);
		if (i < 2)
			ck_assert_int_eq(iommufd_host_add_unit(h, &units[i], dev_ids[i], ia.out_ioas_id), 0);
		a = test_attach(&devs[i], 1, 5, true);
		ck_assert_int_eq(tag_store_attach(ts, test_key(1, 5), &a), 0);
		ck_assert_int_eq(iommufd_bind_s1(h, &units[i % 2], dev_ids[i], 1, 5, 0x40000000, 48, 0,
						 &id), 0);
		if (i < 2)
			hwpt[i] = id;
		reqs[n++] = piotlb_page(1, 5, page, 0, false);
		reqs[n++] = pdevtlb_desc(devs[i].sid, 5, page, 0);
	}
	fe = flush_engine_new(ts, NULL, NULL);
	ck_assert_ptr_nonnull(fe);
	ck_assert_int_eq(flush_engine_batch(fe, 0, reqs, n, 1, NULL), 0);

	iommufd_dryrun_stats(dr, &st);
	ck_assert_uint_eq(st.refused, 0);
	ck_assert_uint_eq(st.invalidate_calls, 2);
	for (int u = 0; u < 2; u++) {
		struct iommufd_dryrun_hwpt hw;

		ck_assert_int_eq(iommufd_dryrun_hwpt(dr, iommufd_host_fd(h), hwpt[u], &hw), 0);
		ck_assert(hw.nested);
		ck_assert_uint_eq(hw.invalidate_calls, 1);
		ck_assert_uint_eq(hw.invalidate_entries, 1);
	}
	iommufd_host_stats(h, &ist);
	ck_assert_uint_eq(ist.invalidate_calls, st.invalidate_calls);
	ck_assert_uint_eq(ist.devtlb_covered, 8);

	/* Teardown: the last unbind of each HWPT destroys it, and the kernel agrees. */
	for (int i = 7; i >= 0; i--)
		ck_assert_int_eq(iommufd_unbind_s1(h, &units[i % 2], dev_ids[i], 1, 5), 0);
	iommufd_dryrun_stats(dr, &st);
	ck_assert_uint_eq(st.destroys, 2);
	ck_assert_uint_eq(st.refused, 0);
	flush_engine_free(fe);
	iommufd_host_close(h);
	tag_store_free(ts);
}
END_TEST

/* A refusal surfaces as the back end's HOST_ERR_IO, never as success. */
/* The back end's fault queue against the dry run: allocated, bound, read, answered, closed. */
START_TEST(back_end_fault_queue_round_trip)
{
	struct iommu_ioas_alloc ia = { .size = sizeof(ia) };
	struct iommu_hwpt_pgfault recs[3], out[8];
	struct iommu_hwpt_page_response got[2];
	struct iommufd_dryrun_stats st;
	struct iommufd_dryrun_hwpt hw;
	struct iommufd_host *h;
	struct host_unit unit;
	uint32_t dev_id, plain, faulting, again;
	unsigned int waiting;
	char err[256];
	bool open;

	ck_assert_int_eq(iommufd_host_open(ops, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(ops->ioctl(ops->ctx, iommufd_host_fd(h), IOMMU_IOAS_ALLOC, &ia), 0);
	test_unit(&unit, 0, 9);
	unit.ecap = simvtd_default_ecap();
	ck_assert_int_eq(iommufd_dryrun_bind_device(dr, iommufd_host_fd(h), 0, unit.ecap, &dev_id), 0);
	ck_assert_int_eq(iommufd_host_add_unit(h, &unit, dev_id, ia.out_ioas_id), 0);
	/* No queue yet: a faulting bind is refused before any ioctl. */
	ck_assert_int_eq(iommufd_bind_s1_iopf(h, &unit, dev_id, 1, 5, 0x40000000, 48, 0, true,
					      &faulting), -1);
	ck_assert_int_eq(errno, EOPNOTSUPP);
	ck_assert(!iommufd_host_has_faults(h, &unit));
	ck_assert_int_eq(iommufd_host_enable_faults(h, &unit), 0);
	ck_assert_int_eq(iommufd_host_enable_faults(h, &unit), 0);	/* once per unit */
	ck_assert(iommufd_host_has_faults(h, &unit));
	ck_assert_int_eq(iommufd_bind_s1(h, &unit, dev_id, 1, 5, 0x40000000, 48, 0, &plain), 0);
	ck_assert_int_eq(iommufd_bind_s1_iopf(h, &unit, dev_id, 1, 5, 0x40000000, 48, 0, true,
					      &faulting), 0);
	ck_assert_uint_ne(plain, faulting);	/* different keys, never shared */
	ck_assert_int_eq(iommufd_bind_s1_iopf(h, &unit, dev_id, 1, 5, 0x40000000, 48, 0, true,
					      &again), 0);
	ck_assert_uint_eq(again, faulting);
	ck_assert_int_eq(iommufd_dryrun_hwpt(dr, iommufd_host_fd(h), faulting, &hw), 0);
	ck_assert_uint_eq(hw.s1_flags, 0);	/* the key's marker never reaches the kernel */
	ck_assert_uint_eq(hw.fault_id, 4);
	ck_assert_int_eq(iommufd_dryrun_hwpt(dr, iommufd_host_fd(h), plain, &hw), 0);
	ck_assert_uint_eq(hw.fault_id, 0);
	iommufd_dryrun_stats(dr, &st);
	ck_assert_uint_eq(st.refused, 0);

	/* Fault queue id: the lowest free object id after the IOAS, device and parent. */
	recs[0] = pgfault(dev_id, 3, 0x5000, false);
	recs[1] = pgfault(dev_id, 3, 0x6000, false);
	recs[2] = pgfault(dev_id, 3, 0x7000, true);
	ck_assert_int_eq(iommufd_dryrun_inject_fault(dr, iommufd_host_fd(h), 4, recs, 3), 0);
	ck_assert_int_eq(iommufd_host_read_faults(h, &unit, out, 2), -1);	/* group too big */
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(iommufd_host_read_faults(h, &unit, out, 8), 3);
	ck_assert_uint_eq(out[2].addr, 0x7000);
	ck_assert_int_eq(iommufd_host_read_faults(h, &unit, out, 8), 0);
	ck_assert_int_eq(iommufd_host_page_response(h, &unit, out[0].cookie,
						    IOMMUFD_PAGE_RESP_INVALID), 0);
	ck_assert_int_eq(iommufd_host_page_response(h, &unit, out[0].cookie,
						    IOMMUFD_PAGE_RESP_INVALID), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(iommufd_dryrun_fault_responses(dr, iommufd_host_fd(h), 4, got, 2, &waiting,
							&open), 1);
	ck_assert_uint_eq(got[0].code, IOMMUFD_PAGE_RESP_INVALID);
	ck_assert_uint_eq(waiting, 0);

	ck_assert_int_eq(iommufd_unbind_hwpt(h, dev_id, plain), 0);
	ck_assert_int_eq(iommufd_unbind_hwpt(h, dev_id, faulting), 0);
	ck_assert_int_eq(iommufd_unbind_hwpt(h, dev_id, faulting), 0);
	ck_assert_int_eq(iommufd_host_remove_unit(h, &unit), 0);
	iommufd_dryrun_stats(dr, &st);
	ck_assert_uint_eq(st.fault_fds_closed, 1);
	ck_assert_uint_eq(st.refused, 0);	/* the queue was destroyed too, once free */
	ck_assert_int_eq(iommufd_dryrun_fault_responses(dr, iommufd_host_fd(h), 4, got, 2, NULL,
							&open), -1);
	iommufd_host_close(h);
}
END_TEST

START_TEST(refusal_reaches_the_flush_engine)
{
	struct host_unit unit;
	struct host_device d;
	struct tag_store *ts = tag_store_new();
	struct iommu_ioas_alloc ia = { .size = sizeof(ia) };
	struct iommufd_host *h;
	struct flush_engine *fe;
	struct flush_result res;
	struct vtd_desc req = piotlb_page(1, 5, 0x1000, 0, false);
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	uint32_t dev_id, hwpt_id;
	char err[256];

	ck_assert_int_eq(iommufd_host_open(ops, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(ops->ioctl(ops->ctx, iommufd_host_fd(h), IOMMU_IOAS_ALLOC, &ia), 0);
	test_unit(&unit, 0, 9);
	unit.ecap = simvtd_default_ecap();
	test_device(&d, 0x100, &unit, false);
	ck_assert_int_eq(iommufd_dryrun_bind_device(dr, iommufd_host_fd(h), 0, unit.ecap, &dev_id), 0);
	ck_assert_int_eq(iommufd_host_add_unit(h, &unit, dev_id, ia.out_ioas_id), 0);
	ck_assert_int_eq(iommufd_bind_s1(h, &unit, dev_id, 1, 5, 0x40000000, 48, 0, &hwpt_id), 0);
	{
		struct tag_attach a = test_attach(&d, 1, 5, true);

		ck_assert_int_eq(tag_store_attach(ts, test_key(1, 5), &a), 0);
	}
	/* Pull the HWPT from under the back end, as only a bug could. */
	destroy.id = hwpt_id;
	ck_assert_int_eq(ops->ioctl(ops->ctx, iommufd_host_fd(h), IOMMU_DESTROY, &destroy), 0);
	fe = flush_engine_new(ts, NULL, NULL);
	ck_assert_ptr_nonnull(fe);
	ck_assert_int_eq(flush_engine_batch(fe, 0, &req, 1, 1, &res), -1);
	ck_assert_int_eq(res.err.kind, HOST_ERR_IO);
	ck_assert_ptr_nonnull(strstr(res.err.msg, "No such file"));
	flush_engine_free(fe);
	iommufd_host_close(h);
	tag_store_free(ts);
}
END_TEST

static Suite *dryrun_suite(void)
{
	Suite *s = suite_create("iommufd-dryrun");
	TCase *uapi = tcase_create("uapi");
	TCase *backend = tcase_create("backend");

	tcase_add_checked_fixture(uapi, setup, teardown);
	tcase_add_test(uapi, ids_are_the_lowest_free_from_one);
	tcase_add_test(uapi, open_close_and_unknown_fds);
	tcase_add_test(uapi, valid_invalidation_is_counted_per_hwpt);
	tcase_add_test(uapi, bad_size_is_refused);
	tcase_add_test(uapi, bad_entry_len_is_refused);
	tcase_add_test(uapi, unknown_hwpt_id_is_refused);
	tcase_add_test(uapi, invalidation_array_is_bounded);
	tcase_add_test(uapi, nonzero_reserved_is_refused);
	tcase_add_test(uapi, bad_entries_stop_the_array);
	tcase_add_test(uapi, hwpt_alloc_checks);
	tcase_add_test(uapi, destroy_follows_object_users);
	tcase_add_test(uapi, hw_info_reports_the_unit);
	tcase_add_test(uapi, unmodelled_ioctls_are_enotty);
	tcase_add_test(uapi, fault_queue_follows_the_kernel);
	tcase_add_test(uapi, fault_queue_needs_linux_6_11);
	tcase_add_test(uapi, device_calls_are_not_modelled);
	tcase_add_test(uapi, log_names_the_refusal);
	suite_add_tcase(s, uapi);
	tcase_add_checked_fixture(backend, setup, teardown);
	tcase_add_test(backend, back_end_passes_and_sva_is_one_call_per_hwpt);
	tcase_add_test(backend, refusal_reaches_the_flush_engine);
	tcase_add_test(backend, back_end_fault_queue_round_trip);
	suite_add_tcase(s, backend);
	return s;
}

int main(void)
{
	return check_run(dryrun_suite());
}
