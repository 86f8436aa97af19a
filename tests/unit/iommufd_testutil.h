/* SPDX-License-Identifier: MIT */
/*
 * The iommufd back end's test fixture, shared by check_iommufd.c and
 * check_devtlb_cover_oracle.c: a recording fake /dev/iommu
 * (fake_hostops.h) under an iommufd_host with two units, binds, the
 * flush ops the planner makes, and the invalidation calls the fake saw.
 */
#ifndef TAGVMM_TESTS_IOMMUFD_TESTUTIL_H
#define TAGVMM_TESTS_IOMMUFD_TESTUTIL_H

#include <check.h>
#include <string.h>

#include "fake_hostops.h"
#include "hostvtd/flush.h"
#include "hostvtd/iommufd.h"
#include "lib/iommufd-compat.h"
#include "testutil.h"

#define IOAS_ID 2
#define FIRST_HWPT_ID 100

static struct fake_hostops *fake;	/* one fixture per test program */
static struct iommufd_host *host;
static struct host_unit units[2];

static inline void setup(void)
{
	char err[256];

	fake = fake_hostops_new();
	ck_assert_ptr_nonnull(fake);
	fake_hostops_add_node(fake, IOMMUFD_DEV_PATH);
	fake_hostops_ioctl_ids(fake, IOMMU_HWPT_ALLOC, offsetof(struct iommu_hwpt_alloc, out_hwpt_id),
			       FIRST_HWPT_ID);
	ck_assert_int_eq(iommufd_host_open(&fake->ops, &host, err, sizeof(err)), 0);
	test_unit(&units[0], 0, 9);
	test_unit(&units[1], 1, 9);
}

static inline void teardown(void)
{
	iommufd_host_close(host);
	ck_assert(!fake->overflow);
	fake_hostops_free(fake);
}

/* Both units added, each through its first device (dev ids 10 and 11). */
static inline void add_units(void)
{
	ck_assert_int_eq(iommufd_host_add_unit(host, &units[0], 10, IOAS_ID), 0);
	ck_assert_int_eq(iommufd_host_add_unit(host, &units[1], 11, IOAS_ID), 0);
}

static inline uint32_t bind(struct host_unit *u, uint32_t dev_id, uint16_t did, uint32_t pasid)
{
	uint32_t id = 0;

	ck_assert_int_eq(iommufd_bind_s1(host, u, dev_id, did, pasid, 0x12345000, 48,
					 IOMMU_VTD_S1_SRE, &id), 0);
	ck_assert_uint_ne(id, 0);
	return id;
}

static inline struct flush_op piotlb_op(struct host_unit *u, uint16_t did, uint32_t pasid, uint64_t addr,
				 unsigned int am, bool ih)
{
	struct flush_op op = {
		.kind = FLUSH_OP_PIOTLB, .tag_type = CACHE_TAG_NESTING_IOTLB, .unit = u,
		.did = did, .pasid = pasid, .scope = FLUSH_RANGE, .addr = addr, .am = (uint8_t)am,
		.ih = ih, .absorbed = 1,
	};
	return op;
}

static inline struct flush_op all_op(struct host_unit *u, uint16_t did, uint32_t pasid)
{
	struct flush_op op = piotlb_op(u, did, pasid, 0, VTD_MAX_AM, false);

	op.scope = FLUSH_ALL;
	return op;
}

static inline struct flush_op pdevtlb_op(struct host_unit *u, uint16_t sid, uint16_t did, uint32_t pasid,
				  uint64_t addr, unsigned int am)
{
	struct flush_op op = piotlb_op(u, did, pasid, addr, am, false);

	op.kind = FLUSH_OP_PDEVTLB;
	op.tag_type = CACHE_TAG_NESTING_DEVTLB;
	op.sid = sid;
	return op;
}

static inline int submit(struct host_unit *u, const struct flush_op *ops, size_t n, struct host_error *err)
{
	ck_assert_ptr_eq(u->backend, &iommufd_backend);
	return u->backend->submit(u, ops, n, err);
}

/* The @nth IOMMU_HWPT_INVALIDATE: its argument and its entries. */
static inline const struct iommu_hwpt_vtd_s1_invalidate *invalidation(size_t nth,
							       struct iommu_hwpt_invalidate *inv)
{
	const struct fake_call *c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE, nth);

	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->arg_len, 32);
	memcpy(inv, c->arg, sizeof(*inv));
	ck_assert_uint_eq(inv->size, 32);
	ck_assert_uint_eq(inv->data_type, 0);	/* IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 */
	ck_assert_uint_eq(inv->entry_len, 24);
	ck_assert_uint_eq(c->ptr_len, (size_t)inv->entry_num * 24);
	ck_assert(!c->truncated);
	return (const struct iommu_hwpt_vtd_s1_invalidate *)c->ptr;
}

#endif
