// SPDX-License-Identifier: MIT
/*
 * vmm/dma.h: without an IOMMU a device's DMA is the identity; with one,
 * every call reaches the IOMMU's space for the requester. The vIOMMU's
 * space itself is tested through the sim engine (check_simdev).
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "vmm/dma.h"
#include "vmm/kvm.h"

#define RAM_SIZE (1u << 20)

static struct vm vm;
static uint8_t *ram;

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	ram = calloc(1, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	vm.nmem = 1;
	vm.mem[0] = (struct mem_region){ .gpa = 0, .size = RAM_SIZE, .host = ram };
}

static void teardown(void)
{
	free(ram);
}

START_TEST(identity_without_iommu)
{
	struct dma_space s;
	struct dma_request rq = { .rid = 0x10, .has_pasid = true, .pasid = 5 };
	struct dma_translation t;

	ck_assert_int_eq(dma_space_of(&vm, 0x10, &s), 0);
	ck_assert_ptr_null(s.ops);
	dma_lock(&s);
	ck_assert_int_eq(dma_translate(&s, &rq, 0x12345, 0x3000, true, &t), 0);
	ck_assert_uint_eq(t.gpa, 0x12345);
	ck_assert_uint_eq(t.len, 0x3000);
	ck_assert_int_eq(t.source, DMA_SOURCE_IDENTITY);
	ck_assert_ptr_eq(dma_map(&vm, &s, &rq, 0x2000, 16, false, &t), ram + 0x2000);
	/* Outside guest RAM there is nothing to map. */
	ck_assert_ptr_null(dma_map(&vm, &s, &rq, RAM_SIZE - 8, 16, false, &t));
	dma_unlock(&s);
}
END_TEST

/* A stand-in IOMMU: adds 0x1000, covers at most 0x100 bytes, faults at 0xdead000. */
struct fake_iommu {
	int locks, unlocks, translates, spaces;
	uint16_t last_rid;
	struct dma_request last;
	bool last_write;
};

static struct fake_iommu fake;

static void fake_lock(void *ctx)
{
	ck_assert_ptr_eq(ctx, &fake);
	fake.locks++;
}

static void fake_unlock(void *ctx)
{
	ck_assert_ptr_eq(ctx, &fake);
	fake.unlocks++;
}

static int fake_translate(void *ctx, const struct dma_request *rq, uint64_t iova, uint64_t len,
			  bool write, struct dma_translation *out)
{
	ck_assert_ptr_eq(ctx, &fake);
	fake.translates++;
	fake.last = *rq;
	fake.last_write = write;
	out->source = DMA_SOURCE_WALK;
	if (iova == 0xdead000)
		return -1;
	out->gpa = iova + 0x1000;
	out->len = len < 0x100 ? len : 0x100;
	return 0;
}

static const struct dma_ops fake_ops = { fake_lock, fake_unlock, fake_translate };

static int fake_space(void *opaque, uint16_t rid, struct dma_space *out)
{
	ck_assert_ptr_eq(opaque, &fake);
	fake.spaces++;
	fake.last_rid = rid;
	if (rid == 0xffff)
		return -1;
	*out = (struct dma_space){ .ops = &fake_ops, .ctx = &fake };
	return 0;
}

START_TEST(iommu_decides)
{
	struct dma_space s;
	struct dma_request rq = { .rid = 0x18, .has_pasid = true, .pasid = 7, .ats = true };
	struct dma_translation t;

	memset(&fake, 0, sizeof(fake));
	vm.dma_iommu = (struct dma_iommu){ .space = fake_space, .opaque = &fake };
	ck_assert_int_eq(dma_space_of(&vm, 0xffff, &s), -1);
	ck_assert_int_eq(dma_space_of(&vm, 0x18, &s), 0);
	ck_assert_int_eq(fake.spaces, 2);
	ck_assert_uint_eq(fake.last_rid, 0x18);

	dma_lock(&s);
	ck_assert_int_eq(fake.locks, 1);
	ck_assert_ptr_eq(dma_map(&vm, &s, &rq, 0x4000, 0x80, true, &t), ram + 0x5000);
	ck_assert(fake.last_write);
	ck_assert_uint_eq(fake.last.pasid, 7);
	ck_assert(fake.last.ats);
	/* The IOMMU covers less than asked: no pointer past what it translated. */
	ck_assert_ptr_null(dma_map(&vm, &s, &rq, 0x4000, 0x200, false, &t));
	ck_assert_uint_eq(t.len, 0x100);
	/* A fault: no pointer, and the device learns where the translation came from. */
	ck_assert_ptr_null(dma_map(&vm, &s, &rq, 0xdead000, 8, false, &t));
	ck_assert_int_eq(t.source, DMA_SOURCE_WALK);
	ck_assert_int_eq(fake.translates, 3);
	dma_unlock(&s);
	ck_assert_int_eq(fake.unlocks, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dma");
	TCase *tc = tcase_create("dma");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, identity_without_iommu);
	tcase_add_test(tc, iommu_decides);
	suite_add_tcase(s, tc);
	return check_run(s);
}
