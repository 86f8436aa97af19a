// SPDX-License-Identifier: MIT
/*
 * The iommufd nesting back end against a recording fake of the host_ops
 * seam: uAPI numbers and layouts, setup calls, and how flush plans become
 * IOMMU_HWPT_INVALIDATE calls.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "fake_hostops.h"
#include "hostvtd/flush.h"
#include "lib/iommufd-compat.h"
#include "hostvtd/iommufd.h"
#include "testutil.h"
#include "iommufd_testutil.h"

#define NDEV 8

/* Values from torvalds/linux include/uapi/linux/iommufd.h. */
START_TEST(uapi_matches_kernel_header)
{
	ck_assert_uint_eq(IOMMU_DESTROY, 0x3b80);
	ck_assert_uint_eq(IOMMU_IOAS_ALLOC, 0x3b81);
	ck_assert_uint_eq(IOMMU_IOAS_MAP, 0x3b85);
	ck_assert_uint_eq(IOMMU_HWPT_ALLOC, 0x3b89);
	ck_assert_uint_eq(IOMMU_GET_HW_INFO, 0x3b8a);
	ck_assert_uint_eq(IOMMU_HWPT_INVALIDATE, 0x3b8d);

	ck_assert_uint_eq(sizeof(struct iommu_destroy), 8);
	ck_assert_uint_eq(sizeof(struct iommu_ioas_alloc), 12);
	ck_assert_uint_eq(sizeof(struct iommu_ioas_map), 40);
#ifndef TAGVMM_IOMMUFD_SYSTEM_UAPI
	ck_assert_uint_eq(sizeof(struct iommu_hwpt_alloc), 48);	/* 6.11+: fault_id */
#endif
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_alloc, dev_id), 8);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_alloc, pt_id), 12);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_alloc, out_hwpt_id), 16);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_alloc, data_type), 24);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_alloc, data_len), 28);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_alloc, data_uptr), 32);
	ck_assert_uint_eq(sizeof(struct iommu_hwpt_vtd_s1), 24);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_vtd_s1, pgtbl_addr), 8);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_vtd_s1, addr_width), 16);
	ck_assert_uint_eq(sizeof(struct iommu_hwpt_invalidate), 32);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_invalidate, hwpt_id), 4);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_invalidate, data_uptr), 8);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_invalidate, data_type), 16);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_invalidate, entry_len), 20);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_invalidate, entry_num), 24);
	ck_assert_uint_eq(sizeof(struct iommu_hwpt_vtd_s1_invalidate), 24);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_vtd_s1_invalidate, npages), 8);
	ck_assert_uint_eq(offsetof(struct iommu_hwpt_vtd_s1_invalidate, flags), 16);
	ck_assert_uint_eq(sizeof(struct iommu_hw_info), 40);
	ck_assert_uint_eq(offsetof(struct iommu_hw_info, data_len), 12);
	ck_assert_uint_eq(offsetof(struct iommu_hw_info, data_uptr), 16);
	ck_assert_uint_eq(offsetof(struct iommu_hw_info, out_data_type), 24);
	ck_assert_uint_eq(sizeof(struct iommu_hw_info_vtd), 24);
	ck_assert_uint_eq(offsetof(struct iommu_hw_info_vtd, cap_reg), 8);
	ck_assert_uint_eq(offsetof(struct iommu_hw_info_vtd, ecap_reg), 16);

	ck_assert_int_eq(IOMMUFD_TYPE, ';');
	ck_assert_int_eq(IOMMU_HWPT_ALLOC_NEST_PARENT, 1);
	ck_assert_int_eq(IOMMU_HWPT_DATA_NONE, 0);
	ck_assert_int_eq(IOMMU_HWPT_DATA_VTD_S1, 1);
	ck_assert_int_eq(IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, 0);
	ck_assert_int_eq(IOMMU_VTD_INV_FLAGS_LEAF, 1);
	ck_assert_int_eq(IOMMU_HW_INFO_TYPE_INTEL_VTD, 1);
	ck_assert_int_eq(IOMMU_VTD_S1_SRE, 1);
	ck_assert_int_eq(IOMMU_VTD_S1_EAFE, 2);
	ck_assert_int_eq(IOMMU_VTD_S1_WPE, 4);
}
END_TEST

START_TEST(open_uses_dev_iommu)
{
	const struct fake_call *c = fake_hostops_find(fake, FAKE_OPEN, 0, 0);

	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->path, "/dev/iommu");
	ck_assert_int_eq(c->flags & O_ACCMODE, O_RDWR);
	ck_assert_int_eq(iommufd_host_fd(host), c->fd);
}
END_TEST

START_TEST(open_failures_say_what_to_do)
{
	struct fake_hostops *f = fake_hostops_new();
	struct iommufd_host *h = (struct iommufd_host *)1;
	char err[256];

	/* No node: the module is missing or the IOMMU is off. */
	ck_assert_int_eq(iommufd_host_open(&f->ops, &h, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(h);
	ck_assert_ptr_nonnull(strstr(err, "/dev/iommu"));
	ck_assert_ptr_nonnull(strstr(err, "modprobe iommufd"));
	ck_assert_ptr_nonnull(strstr(err, "intel_iommu=on"));

	fake_hostops_fail_path(f, IOMMUFD_DEV_PATH, EACCES);
	ck_assert_int_eq(iommufd_host_open(&f->ops, &h, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_ptr_nonnull(strstr(err, "Permission denied"));
	ck_assert_ptr_nonnull(strstr(err, "run as root"));
	ck_assert_ptr_nonnull(strstr(err, "docs/passthrough.md"));

	fake_hostops_fail_path(f, IOMMUFD_DEV_PATH, EBUSY);
	ck_assert_int_eq(iommufd_host_open(&f->ops, &h, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/dev/iommu: Device or resource busy");
	ck_assert_uint_eq(fake_hostops_count(f, FAKE_OPEN, 0), 3);
	fake_hostops_free(f);
}
END_TEST

START_TEST(add_unit_allocates_nest_parent)
{
	const struct fake_call *c;
	struct iommu_hwpt_alloc a;

	ck_assert_int_eq(iommufd_host_add_unit(host, &units[0], 10, IOAS_ID), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_ALLOC), 1);
	c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_HWPT_ALLOC, 0);
	ck_assert_int_eq(c->fd, iommufd_host_fd(host));
	ck_assert_uint_eq(c->arg_len, 48);
	memcpy(&a, c->arg, sizeof(a));
	ck_assert_uint_eq(a.size, 48);
	ck_assert_uint_eq(a.flags, IOMMU_HWPT_ALLOC_NEST_PARENT);
	ck_assert_uint_eq(a.dev_id, 10);
	ck_assert_uint_eq(a.pt_id, IOAS_ID);
	ck_assert_uint_eq(a.data_type, IOMMU_HWPT_DATA_NONE);
	ck_assert_uint_eq(a.data_len, 0);
	ck_assert_uint_eq(a.data_uptr, 0);
	ck_assert_uint_eq(c->ptr_len, 0);
	ck_assert_ptr_eq(units[0].backend, &iommufd_backend);
	ck_assert_ptr_nonnull(units[0].backend_data);
	ck_assert_uint_eq(iommufd_host_parent_hwpt(host, &units[0]), FIRST_HWPT_ID);
	ck_assert_uint_eq(iommufd_host_parent_hwpt(host, &units[1]), 0);

	ck_assert_int_eq(iommufd_host_add_unit(host, &units[0], 10, IOAS_ID), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_ALLOC), 1);
}
END_TEST

START_TEST(add_unit_failures)
{
	fake_hostops_fail_ioctl(fake, IOMMU_HWPT_ALLOC, ENOTTY);
	ck_assert_int_eq(iommufd_host_add_unit(host, &units[0], 10, IOAS_ID), -1);
	ck_assert_int_eq(errno, ENOTTY);
	ck_assert_ptr_nonnull(strstr(iommufd_host_error(host), "Linux 6.8"));
	ck_assert_ptr_null(units[0].backend);

	fake_hostops_fail_ioctl(fake, IOMMU_HWPT_ALLOC, EOPNOTSUPP);
	ck_assert_int_eq(iommufd_host_add_unit(host, &units[0], 10, IOAS_ID), -1);
	ck_assert_ptr_nonnull(strstr(iommufd_host_error(host), "ECAP.NEST"));

	/* Nothing was kept: the next try works. */
	ck_assert_int_eq(iommufd_host_add_unit(host, &units[0], 10, IOAS_ID), 0);
	ck_assert_uint_eq(iommufd_host_parent_hwpt(host, &units[0]), FIRST_HWPT_ID);
}
END_TEST

START_TEST(hw_info_reads_cap_and_ecap)
{
	struct iommu_hw_info_vtd vtd = { .cap_reg = 0xd2008c40660462ULL, .ecap_reg = 0x29a00f0505eULL };
	struct fake_ioctl_result r = { .out_off = offsetof(struct iommu_hw_info, out_data_type),
				       .out_len = 4, .ptr_out_len = sizeof(vtd) };
	uint32_t type = IOMMU_HW_INFO_TYPE_INTEL_VTD;
	const struct fake_call *c;
	struct iommu_hw_info info;
	uint64_t cap = 0, ecap = 0;

	memcpy(r.out, &type, 4);
	memcpy(r.ptr_out, &vtd, sizeof(vtd));
	fake_hostops_script_ioctl(fake, IOMMU_GET_HW_INFO, &r);
	ck_assert_int_eq(iommufd_host_get_hw_info(host, 10, &cap, &ecap), 0);
	ck_assert_uint_eq(cap, vtd.cap_reg);
	ck_assert_uint_eq(ecap, vtd.ecap_reg);
	c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_GET_HW_INFO, 0);
	memcpy(&info, c->arg, sizeof(info));
	ck_assert_uint_eq(info.size, 40);
	ck_assert_uint_eq(info.dev_id, 10);
	ck_assert_uint_eq(info.data_len, 24);
	ck_assert_uint_ne(info.data_uptr, 0);

	/* Not VT-d (the kernel leaves type NONE): refuse rather than guess. */
	ck_assert_int_eq(iommufd_host_get_hw_info(host, 10, &cap, &ecap), -1);
	ck_assert_int_eq(errno, EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(iommufd_host_error(host), "not behind Intel VT-d"));
}
END_TEST

START_TEST(bind_s1_allocates_nested_hwpt)
{
	struct iommu_hwpt_vtd_s1 s1;
	const struct fake_call *c;
	struct iommu_hwpt_alloc a;
	struct host_unit stray;
	unsigned int users;
	uint32_t id, id2;

	add_units();
	ck_assert_int_eq(iommufd_bind_s1(host, &units[0], 20, 1, 5, 0xabcde000, 57,
					 IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_WPE, &id), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_ALLOC), 3);
	c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_HWPT_ALLOC, 2);
	memcpy(&a, c->arg, sizeof(a));
	ck_assert_uint_eq(a.size, 48);
	ck_assert_uint_eq(a.flags, 0);
	ck_assert_uint_eq(a.dev_id, 20);
	ck_assert_uint_eq(a.pt_id, iommufd_host_parent_hwpt(host, &units[0]));
	ck_assert_uint_eq(a.data_type, 1);
	ck_assert_uint_eq(a.data_len, 24);
	ck_assert_uint_eq(c->ptr_len, 24);
	memcpy(&s1, c->ptr, sizeof(s1));
	ck_assert_uint_eq(s1.pgtbl_addr, 0xabcde000);
	ck_assert_uint_eq(s1.addr_width, 57);
	ck_assert_uint_eq(s1.flags, IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_WPE);
	ck_assert_uint_eq(s1.__reserved, 0);
	ck_assert_uint_eq(id, FIRST_HWPT_ID + 2);

	/* Same key: the second device shares the HWPT, no kernel call. */
	ck_assert_int_eq(iommufd_bind_s1(host, &units[0], 21, 1, 5, 0xabcde000, 57,
					 IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_WPE, &id2), 0);
	ck_assert_uint_eq(id2, id);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_ALLOC), 3);
	ck_assert_uint_eq(iommufd_nested_hwpt(host, &units[0], 1, 5, &users), id);
	ck_assert_uint_eq(users, 2);

	/* Same domain, another table (a guest bug): a HWPT of its own, not a refusal. */
	ck_assert_int_eq(iommufd_bind_s1(host, &units[0], 22, 1, 5, 0x55555000, 57, 0, &id2), 0);
	ck_assert_uint_eq(id2, FIRST_HWPT_ID + 3);
	/* Flags are part of the key too. */
	ck_assert_int_eq(iommufd_bind_s1(host, &units[0], 24, 1, 5, 0x55555000, 57,
					 IOMMU_VTD_S1_SRE, &id2), 0);
	ck_assert_uint_eq(id2, FIRST_HWPT_ID + 4);
	/* A table change: device 22 bound to the old and the new table at once, then the old let go. */
	ck_assert_int_eq(iommufd_bind_s1(host, &units[0], 22, 1, 5, 0xabcde000, 57,
					 IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_WPE, &id2), 0);
	ck_assert_uint_eq(id2, id);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_ALLOC), 5);
	ck_assert_int_eq(iommufd_unbind_hwpt(host, 22, FIRST_HWPT_ID + 3), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_DESTROY), 1);
	ck_assert_int_eq(iommufd_unbind_hwpt(host, 22, FIRST_HWPT_ID + 3), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_uint_eq(iommufd_nested_hwpt(host, &units[0], 1, 5, &users), id);
	ck_assert_uint_eq(users, 3);

	/* Other PASID, other unit: HWPTs of their own, each on its unit's parent. */
	ck_assert_uint_eq(bind(&units[0], 20, 1, 6), FIRST_HWPT_ID + 5);
	ck_assert_uint_eq(bind(&units[1], 23, 1, 5), FIRST_HWPT_ID + 6);
	c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_HWPT_ALLOC, 6);
	memcpy(&a, c->arg, sizeof(a));
	ck_assert_uint_eq(a.pt_id, iommufd_host_parent_hwpt(host, &units[1]));

	/* A unit that was never added. */
	test_unit(&stray, 5, 9);
	ck_assert_int_eq(iommufd_bind_s1(host, &stray, 23, 1, 7, 0, 48, 0, &id2), -1);
	ck_assert_int_eq(errno, ENODEV);
}
END_TEST

START_TEST(unbind_destroys_with_last_user)
{
	struct iommu_destroy d;
	const struct fake_call *c;
	uint32_t id;

	add_units();
	id = bind(&units[0], 20, 1, 5);
	bind(&units[0], 21, 1, 5);
	ck_assert_int_eq(iommufd_unbind_s1(host, &units[0], 20, 1, 5), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_DESTROY), 0);
	ck_assert_int_eq(iommufd_unbind_s1(host, &units[0], 20, 1, 5), -1);
	ck_assert_int_eq(errno, ENOENT);

	/* Still attached in the kernel: the binding stays as it was. */
	fake_hostops_fail_ioctl(fake, IOMMU_DESTROY, EBUSY);
	ck_assert_int_eq(iommufd_unbind_s1(host, &units[0], 21, 1, 5), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_ptr_nonnull(strstr(iommufd_host_error(host), "still attached"));
	ck_assert_uint_eq(iommufd_nested_hwpt(host, &units[0], 1, 5, NULL), id);

	ck_assert_int_eq(iommufd_unbind_s1(host, &units[0], 21, 1, 5), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_DESTROY), 2);
	c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_DESTROY, 1);
	ck_assert_uint_eq(c->arg_len, 8);
	memcpy(&d, c->arg, sizeof(d));
	ck_assert_uint_eq(d.size, 8);
	ck_assert_uint_eq(d.id, id);
	ck_assert_uint_eq(iommufd_nested_hwpt(host, &units[0], 1, 5, NULL), 0);
}
END_TEST

/*
 * Entries from op ranges. The planner would merge one key's ranges into one
 * op; the back end must still send whatever a submission holds.
 */
START_TEST(invalidate_maps_ranges_to_entries)
{
	struct flush_op ops[4] = {
		piotlb_op(&units[0], 1, 5, 0x1000, 0, true),
		piotlb_op(&units[0], 1, 5, 0x8000, 3, false),
		piotlb_op(&units[0], 1, 5, 0x40000000, 9, true),
		all_op(&units[0], 1, 5),
	};
	const struct iommu_hwpt_vtd_s1_invalidate *e;
	struct iommu_hwpt_invalidate inv;
	struct host_error err;
	uint32_t id;

	add_units();
	id = bind(&units[0], 20, 1, 5);
	ck_assert_int_eq(submit(&units[0], ops, 4, &err), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), 1);
	e = invalidation(0, &inv);
	ck_assert_uint_eq(inv.hwpt_id, id);
	ck_assert_uint_eq(inv.entry_num, 4);
	ck_assert_uint_eq(e[0].addr, 0x1000);
	ck_assert_uint_eq(e[0].npages, 1);
	ck_assert_uint_eq(e[0].flags, IOMMU_VTD_INV_FLAGS_LEAF);
	ck_assert_uint_eq(e[1].addr, 0x8000);
	ck_assert_uint_eq(e[1].npages, 8);
	ck_assert_uint_eq(e[1].flags, 0);
	ck_assert_uint_eq(e[2].addr, 0x40000000);
	ck_assert_uint_eq(e[2].npages, 512);
	ck_assert_uint_eq(e[2].flags, IOMMU_VTD_INV_FLAGS_LEAF);
	ck_assert_uint_eq(e[3].addr, 0);
	ck_assert_uint_eq(e[3].npages, UINT64_MAX);
	ck_assert_uint_eq(e[3].flags, 0);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(e[i].__reserved, 0);
}
END_TEST

START_TEST(one_call_per_hwpt)
{
	struct flush_op ops[4] = {
		piotlb_op(&units[0], 1, 5, 0x1000, 0, false),
		piotlb_op(&units[0], 2, 5, 0x2000, 1, false),
		piotlb_op(&units[0], 1, 5, 0x10000, 2, false),
		pdevtlb_op(&units[0], 0x100, 2, 5, 0x2000, 0),	/* covered by op 1 */
	};
	const struct iommu_hwpt_vtd_s1_invalidate *e;
	struct iommu_hwpt_invalidate inv;
	struct iommufd_stats st;
	struct host_error err;
	uint32_t a, b;

	add_units();
	a = bind(&units[0], 20, 1, 5);
	b = bind(&units[0], 21, 2, 5);
	ck_assert_int_eq(submit(&units[0], ops, 4, &err), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), 2);
	e = invalidation(0, &inv);
	ck_assert_uint_eq(inv.hwpt_id, a);
	ck_assert_uint_eq(inv.entry_num, 2);
	ck_assert_uint_eq(e[0].addr, 0x1000);
	ck_assert_uint_eq(e[1].addr, 0x10000);
	ck_assert_uint_eq(e[1].npages, 4);
	e = invalidation(1, &inv);
	ck_assert_uint_eq(inv.hwpt_id, b);
	ck_assert_uint_eq(inv.entry_num, 1);
	ck_assert_uint_eq(e[0].addr, 0x2000);
	ck_assert_uint_eq(e[0].npages, 2);
	iommufd_host_stats(host, &st);
	ck_assert_uint_eq(st.invalidate_calls, 2);
	ck_assert_uint_eq(st.invalidate_entries, 3);
	ck_assert_uint_eq(st.devtlb_covered, 1);
	ck_assert_uint_eq(st.devtlb_entries, 0);
}
END_TEST

/*
 * One guest domain, two stage-1 tables (devices 20 and 21 disagree): each
 * table has its HWPT, and the domain's flush reaches both, one call each.
 * When the second call fails, the op is not done even though the first
 * HWPT was flushed.
 */
START_TEST(one_domain_two_tables_flushes_both)
{
	struct flush_op ops[1] = { piotlb_op(&units[0], 1, 5, 0x3000, 0, true) };
	const struct fake_ioctl_result ok = { 0 };
	const struct iommu_hwpt_vtd_s1_invalidate *e;
	struct iommu_hwpt_invalidate inv;
	struct host_error err;
	uint32_t a, b;

	add_units();
	a = bind(&units[0], 20, 1, 5);
	ck_assert_int_eq(iommufd_bind_s1(host, &units[0], 21, 1, 5, 0x77777000, 48,
					 IOMMU_VTD_S1_SRE, &b), 0);
	ck_assert_uint_ne(a, b);
	ck_assert_int_eq(submit(&units[0], ops, 1, &err), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), 2);
	for (size_t k = 0; k < 2; k++) {
		e = invalidation(k, &inv);
		ck_assert_uint_eq(inv.hwpt_id, k == 0 ? a : b);
		ck_assert_uint_eq(inv.entry_num, 1);
		ck_assert_uint_eq(e[0].addr, 0x3000);
		ck_assert_uint_eq(e[0].npages, 1);
		ck_assert_uint_eq(e[0].flags, IOMMU_VTD_INV_FLAGS_LEAF);
	}

	fake_hostops_script_ioctl(fake, IOMMU_HWPT_INVALIDATE, &ok);
	fake_hostops_fail_ioctl(fake, IOMMU_HWPT_INVALIDATE, EIO);
	ck_assert_int_eq(submit(&units[0], ops, 1, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_IO);
	ck_assert_uint_eq(err.op_index, 0);

	/* Unbinding the second device leaves the first table's HWPT alone. */
	ck_assert_int_eq(iommufd_unbind_s1(host, &units[0], 21, 1, 5), 0);
	ck_assert_uint_eq(iommufd_nested_hwpt(host, &units[0], 1, 5, NULL), a);
}
END_TEST

/* A device-TLB op alone: the only way through this uAPI is its HWPT's flush. */
START_TEST(devtlb_alone_flushes_its_hwpt)
{
	struct flush_op ops[3] = {
		piotlb_op(&units[0], 1, 5, 0x100000, 0, true),
		pdevtlb_op(&units[0], 0x100, 1, 5, 0x200000, 2),	/* outside op 0 */
		pdevtlb_op(&units[0], 0x108, 1, 5, 0x100000, 0),	/* inside op 0 */
	};
	/* Alone, at a range no earlier flush of the HWPT reached. */
	struct flush_op alone = pdevtlb_op(&units[0], 0x100, 1, 5, 0x600000, 2);
	const struct iommu_hwpt_vtd_s1_invalidate *e;
	struct iommu_hwpt_invalidate inv;
	struct iommufd_stats st;
	struct host_error err;

	add_units();
	bind(&units[0], 20, 1, 5);
	ck_assert_int_eq(submit(&units[0], &alone, 1, &err), 0);
	e = invalidation(0, &inv);
	ck_assert_uint_eq(inv.entry_num, 1);
	ck_assert_uint_eq(e[0].addr, 0x600000);
	ck_assert_uint_eq(e[0].npages, 4);
	ck_assert_uint_eq(e[0].flags, 0);	/* no leaf hint for an ATC */

	ck_assert_int_eq(submit(&units[0], ops, 3, &err), 0);
	e = invalidation(1, &inv);
	ck_assert_uint_eq(inv.entry_num, 2);
	ck_assert_uint_eq(e[0].addr, 0x100000);
	ck_assert_uint_eq(e[0].flags, IOMMU_VTD_INV_FLAGS_LEAF);
	ck_assert_uint_eq(e[1].addr, 0x200000);
	ck_assert_uint_eq(e[1].npages, 4);
	iommufd_host_stats(host, &st);
	ck_assert_uint_eq(st.devtlb_entries, 2);
	ck_assert_uint_eq(st.devtlb_covered, 1);

	/* A whole-ATC op is covered only by a whole-HWPT entry. */
	ops[1].scope = FLUSH_ALL;
	ops[1].am = VTD_MAX_AM;
	ck_assert_int_eq(submit(&units[0], ops, 2, &err), 0);
	e = invalidation(2, &inv);
	ck_assert_uint_eq(inv.entry_num, 2);
	ck_assert_uint_eq(e[1].npages, UINT64_MAX);
	ops[0] = all_op(&units[0], 1, 5);
	ck_assert_int_eq(submit(&units[0], ops, 2, &err), 0);
	e = invalidation(3, &inv);
	ck_assert_uint_eq(inv.entry_num, 1);
}
END_TEST

/*
 * A device-TLB op an earlier successful flush of its HWPT already reached
 * needs no call (devtlb-cover.h), until a device joins the HWPT or a flush
 * of it fails.
 */
START_TEST(devtlb_done_by_an_earlier_hwpt_flush)
{
	struct flush_op iotlb = piotlb_op(&units[0], 1, 5, 0x100000, 2, false);
	struct flush_op inside = pdevtlb_op(&units[0], 0x100, 1, 5, 0x101000, 0);
	struct flush_op outside = pdevtlb_op(&units[0], 0x100, 1, 5, 0x104000, 0);
	struct iommufd_stats st;
	struct host_error err;
	unsigned int calls = 0;

	add_units();
	bind(&units[0], 20, 1, 5);
	ck_assert_int_eq(submit(&units[0], &iotlb, 1, &err), 0);
	calls++;
	/* Linux 6.1: the device-TLB op in a submission of its own. */
	ck_assert_int_eq(submit(&units[0], &inside, 1, &err), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), calls);
	ck_assert_int_eq(submit(&units[0], &outside, 1, &err), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), ++calls);
	/* ... and now the outside range was flushed too. */
	ck_assert_int_eq(submit(&units[0], &outside, 1, &err), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), calls);
	iommufd_host_stats(host, &st);
	ck_assert_uint_eq(st.devtlb_done_before, 2);

	/* A device joins the HWPT: its ATC saw none of that. */
	bind(&units[0], 21, 1, 5);
	ck_assert_int_eq(submit(&units[0], &inside, 1, &err), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), ++calls);

	/* A failed flush forgets what the HWPT's ATCs saw. */
	fake_hostops_fail_ioctl(fake, IOMMU_HWPT_INVALIDATE, EIO);
	ck_assert_int_eq(submit(&units[0], &iotlb, 1, &err), -1);
	calls++;
	ck_assert_int_eq(submit(&units[0], &inside, 1, &err), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), ++calls);
	iommufd_host_stats(host, &st);
	ck_assert_uint_eq(st.devtlb_done_before, 2);
}
END_TEST

/* Second stage is the kernel's: nothing to send, and nothing left stale. */
START_TEST(second_stage_ops_need_no_call)
{
	struct flush_op ops[2] = {
		piotlb_op(&units[0], 3, 0, 0x1000, 0, false),
		pdevtlb_op(&units[0], 0x100, 3, 0, 0x1000, 0),
	};
	struct iommufd_stats st;
	struct host_error err;

	add_units();
	ops[0].kind = FLUSH_OP_IOTLB;
	ops[0].tag_type = CACHE_TAG_IOTLB;
	ops[1].kind = FLUSH_OP_DEVTLB;
	ops[1].tag_type = CACHE_TAG_DEVTLB;
	ck_assert_int_eq(submit(&units[0], ops, 2, &err), 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), 0);
	iommufd_host_stats(host, &st);
	ck_assert_uint_eq(st.s2_ops_elided, 2);
}
END_TEST

START_TEST(partial_completion_is_a_failure)
{
	struct flush_op ops[4] = {
		piotlb_op(&units[0], 1, 5, 0x1000, 0, false),
		piotlb_op(&units[0], 1, 5, 0x8000, 3, false),
		piotlb_op(&units[0], 1, 5, 0x40000000, 9, false),
		all_op(&units[0], 1, 5),
	};
	struct fake_ioctl_result r = { .ret = -1, .err = EIO, .out_len = 4,
				       .out_off = offsetof(struct iommu_hwpt_invalidate, entry_num) };
	uint32_t handled = 2;
	struct host_error err;

	add_units();
	bind(&units[0], 20, 1, 5);
	memcpy(r.out, &handled, 4);
	fake_hostops_script_ioctl(fake, IOMMU_HWPT_INVALIDATE, &r);
	ck_assert_int_eq(submit(&units[0], ops, 4, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_IO);
	ck_assert_uint_eq(err.op_index, 2);
	ck_assert_ptr_nonnull(strstr(err.msg, "after 2 of 4"));
	/* No resubmission of the rest. */
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), 1);

	/* Success with fewer handled is still not success. */
	handled = 3;
	r.ret = 0;
	r.err = 0;
	memcpy(r.out, &handled, 4);
	fake_hostops_script_ioctl(fake, IOMMU_HWPT_INVALIDATE, &r);
	ck_assert_int_eq(submit(&units[0], ops, 4, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_IO);
	ck_assert_uint_eq(err.op_index, 3);
}
END_TEST

START_TEST(io_error_stops_the_unit)
{
	struct flush_op ops[3] = {
		piotlb_op(&units[0], 1, 5, 0x1000, 0, false),
		piotlb_op(&units[0], 2, 5, 0x1000, 0, false),
		pdevtlb_op(&units[0], 0x100, 1, 5, 0x1000, 0),
	};
	struct host_error err;

	add_units();
	bind(&units[0], 20, 1, 5);
	bind(&units[0], 21, 2, 5);
	fake_hostops_fail_ioctl(fake, IOMMU_HWPT_INVALIDATE, EINVAL);
	ck_assert_int_eq(submit(&units[0], ops, 3, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_IO);
	ck_assert_uint_eq(err.op_index, 0);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), 1);
}
END_TEST

START_TEST(timeout_is_ite_and_others_still_run)
{
	struct flush_op ops[4] = {
		piotlb_op(&units[0], 1, 5, 0x1000, 0, false),
		piotlb_op(&units[0], 2, 5, 0x1000, 0, false),
		pdevtlb_op(&units[0], 0x100, 1, 5, 0x1000, 0),
		pdevtlb_op(&units[0], 0x108, 2, 5, 0x1000, 0),
	};
	struct host_error err;

	add_units();
	bind(&units[0], 20, 1, 5);
	bind(&units[0], 21, 2, 5);
	fake_hostops_fail_ioctl(fake, IOMMU_HWPT_INVALIDATE, ETIMEDOUT);
	ck_assert_int_eq(submit(&units[0], ops, 4, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_ITE);
	ck_assert_uint_eq(err.op_index, 0);
	ck_assert_uint_eq(err.sid, 0x100);	/* the timed-out HWPT's ATS device */
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), 2);
}
END_TEST

START_TEST(unknown_key_is_an_error)
{
	struct flush_op ops[2] = {
		piotlb_op(&units[0], 1, 5, 0x1000, 0, false),
		piotlb_op(&units[0], 7, 9, 0x1000, 0, false),
	};
	struct host_error err;

	add_units();
	bind(&units[0], 20, 1, 5);
	ck_assert_int_eq(submit(&units[0], ops, 2, &err), -1);
	ck_assert_int_eq(err.kind, HOST_ERR_IO);
	ck_assert_uint_eq(err.op_index, 1);
	ck_assert_ptr_nonnull(strstr(err.msg, "no nested HWPT for DID 7 PASID 9"));
	/* The known key was still flushed. */
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), 1);
}
END_TEST

/*
 * THE KEY SCENARIO. SVA: 8 ATS devices on 2 units bound nested to one guest
 * domain (DID 1, PASID 5). Linux 6.1's intel_svm invalidates a page with
 * one P_IOTLB and one P_DEVTLB per device: 16 descriptors in one batch.
 *
 * QEMU's nesting (viommu-anchors.md §2.3-2.4; read from its code, not
 * measured here) gives each device its own nested HWPT and issues one
 * IOMMU_HWPT_INVALIDATE per matching device for every guest P_IOTLB: 8 per
 * request, 8 x 8 = 64 for this batch. Here the 4 devices of a unit share one
 * nested HWPT, the planner merges the 8 requests, and each unit's P_IOTLB
 * entry also covers its devices' ATCs: 2 calls, one entry each.
 */
#define QEMU_CALLS_PER_PIOTLB NDEV
#define QEMU_CALLS_THIS_BATCH (NDEV * QEMU_CALLS_PER_PIOTLB)

START_TEST(sva_fanout_is_one_call_per_hwpt)
{
	const uint64_t page = 0x7f0000001000ULL;
	const struct iommu_hwpt_vtd_s1_invalidate *e;
	struct host_device devs[NDEV];
	struct vtd_desc reqs[2 * NDEV];
	struct iommu_hwpt_invalidate inv;
	struct flush_result res;
	struct flush_stats fst;
	struct iommufd_stats st;
	struct flush_engine *fe;
	struct tag_store *ts;
	uint32_t hwpt[2];
	size_t n = 0;

	add_units();
	ts = tag_store_new();
	ck_assert_ptr_nonnull(ts);
	for (int i = 0; i < NDEV; i++) {
		struct tag_attach a;
		uint32_t id;

		test_device(&devs[i], (uint16_t)(0x100 + i * 8), &units[i % 2], true);
		a = test_attach(&devs[i], 1, 5, true);
		ck_assert_int_eq(tag_store_attach(ts, test_key(1, 5), &a), 0);
		id = bind(devs[i].unit, 20 + (uint32_t)i, 1, 5);
		if (i < 2)
			hwpt[i] = id;
		else
			ck_assert_uint_eq(id, hwpt[i % 2]);	/* shared per unit */
	}
	ck_assert_uint_ne(hwpt[0], hwpt[1]);
	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_ALLOC), 2 + 2);

	for (int i = 0; i < NDEV; i++) {
		reqs[n++] = piotlb_page(1, 5, page, 0, false);
		reqs[n++] = pdevtlb_desc(devs[i].sid, 5, page, 0);
	}
	fe = flush_engine_new(ts, NULL, NULL);
	ck_assert_ptr_nonnull(fe);
	ck_assert_int_eq(flush_engine_batch(fe, 0, reqs, n, 1, &res), 0);

	ck_assert_uint_eq(fake_hostops_count(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE), 2);
	for (size_t k = 0; k < 2; k++) {
		e = invalidation(k, &inv);
		ck_assert_uint_eq(inv.hwpt_id, hwpt[k]);
		ck_assert_uint_eq(inv.entry_num, 1);
		ck_assert_uint_eq(e[0].addr, page);
		ck_assert_uint_eq(e[0].npages, 1);
		ck_assert_uint_eq(e[0].flags, 0);
	}
	iommufd_host_stats(host, &st);
	ck_assert_uint_eq(st.invalidate_calls, 2);
	ck_assert_uint_eq(st.devtlb_covered, NDEV);
	ck_assert_uint_eq(st.devtlb_entries, 0);
	flush_engine_stats(fe, &fst);
	ck_assert_uint_eq(fst.host_submissions, 2);
	ck_assert_uint_eq(fst.guest_invalidations, 2 * NDEV);
	ck_assert_uint_lt(st.invalidate_calls, QEMU_CALLS_PER_PIOTLB);
	ck_assert_uint_eq(QEMU_CALLS_THIS_BATCH, 64);

	flush_engine_free(fe);
	tag_store_free(ts);
}
END_TEST

static Suite *iommufd_suite(void)
{
	Suite *s = suite_create("iommufd");
	TCase *uapi = tcase_create("uapi");
	TCase *setup_tc = tcase_create("setup");
	TCase *inv = tcase_create("invalidate");

	tcase_add_test(uapi, uapi_matches_kernel_header);
	suite_add_tcase(s, uapi);

	tcase_add_checked_fixture(setup_tc, setup, teardown);
	tcase_add_test(setup_tc, open_uses_dev_iommu);
	tcase_add_test(setup_tc, open_failures_say_what_to_do);
	tcase_add_test(setup_tc, add_unit_allocates_nest_parent);
	tcase_add_test(setup_tc, add_unit_failures);
	tcase_add_test(setup_tc, hw_info_reads_cap_and_ecap);
	tcase_add_test(setup_tc, bind_s1_allocates_nested_hwpt);
	tcase_add_test(setup_tc, unbind_destroys_with_last_user);
	suite_add_tcase(s, setup_tc);

	tcase_add_checked_fixture(inv, setup, teardown);
	tcase_add_test(inv, invalidate_maps_ranges_to_entries);
	tcase_add_test(inv, one_call_per_hwpt);
	tcase_add_test(inv, one_domain_two_tables_flushes_both);
	tcase_add_test(inv, devtlb_alone_flushes_its_hwpt);
	tcase_add_test(inv, devtlb_done_by_an_earlier_hwpt_flush);
	tcase_add_test(inv, second_stage_ops_need_no_call);
	tcase_add_test(inv, partial_completion_is_a_failure);
	tcase_add_test(inv, io_error_stops_the_unit);
	tcase_add_test(inv, timeout_is_ite_and_others_still_run);
	tcase_add_test(inv, unknown_key_is_an_error);
	tcase_add_test(inv, sva_fanout_is_one_call_per_hwpt);
	suite_add_tcase(s, inv);
	return s;
}

int main(void)
{
	return check_run(iommufd_suite());
}
