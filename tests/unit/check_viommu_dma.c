// SPDX-License-Identifier: MIT
/*
 * viommu_setup() installs the vmm/dma.h hook: a device behind the vIOMMU
 * finds its DMA space by requester ID, an unknown requester is refused,
 * and after viommu_teardown() DMA is the identity again. The translation
 * itself is tested through the sim engine (check_simdev). Also where
 * viommu_setup() places devices: one vIOMMU per host unit by default.
 */
#include <string.h>

#include <check.h>

#include "check_main.h"
#include "viommu/viommu.h"
#include "vmm/dma.h"
#include "vmm/pci.h"
#include "vtd_testutil.h"

#define SIM_BDF	0x08	/* 00:01.0: the first sim device */

static struct vm vm;
static char err[256];

static void setup(void)
{
	vtd_test_vm_init(&vm, VTD_TEST_RAM_SIZE);
	ck_assert_int_eq(pci_host_bridge_init(&vm, err, sizeof(err)), 0);
}

static void teardown(void)
{
	viommu_teardown(&vm);
	pci_host_bridge_exit(&vm);
	vtd_test_vm_free(&vm);
}

START_TEST(hook_installed_and_removed)
{
	struct viommu_options o = { .units = 1, .ndevs = 1, .ite_device = -1 };
	struct dma_request rq = { .rid = SIM_BDF };
	struct dma_translation t;
	struct dma_space s;

	ck_assert_int_eq(viommu_sim_device_parse("dma,iommu=dmar0", &o.devs[0], err,
						 sizeof(err)), 0);
	ck_assert_msg(viommu_setup(&vm, &o, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(vm.dma_iommu.space);

	ck_assert_int_eq(dma_space_of(&vm, SIM_BDF + 8, &s), -1);	/* no such device */
	ck_assert_int_eq(dma_space_of(&vm, SIM_BDF, &s), 0);
	ck_assert_ptr_nonnull(s.ops);
	/* Translation still off (GSTS.TES clear): pass-through, nothing cached. */
	dma_lock(&s);
	ck_assert_ptr_eq(dma_map(&vm, &s, &rq, 0x3008, 16, true, &t),
			 (uint8_t *)vm.mem[0].host + 0x3008);
	ck_assert_uint_eq(t.gpa, 0x3008);
	ck_assert_int_eq(t.source, DMA_SOURCE_IDENTITY);
	/* At most the rest of the page, so a caller never runs past a translation. */
	ck_assert_int_eq(dma_translate(&s, &rq, 0x3ff0, 0x100, false, &t), 0);
	ck_assert_uint_eq(t.len, 0x10);
	dma_unlock(&s);

	viommu_teardown(&vm);
	ck_assert_ptr_null(vm.dma_iommu.space);
	ck_assert_int_eq(dma_space_of(&vm, SIM_BDF, &s), 0);
	ck_assert_ptr_null(s.ops);
}
END_TEST

/* The vIOMMU the machine description puts sim device @i (00:0i+1.0) behind. */
static int iommu_of(unsigned int i)
{
	for (size_t p = 0; p < vm.machine.npci; p++)
		if (vm.machine.pci[p].bdf == (uint16_t)((i + 1) << 3))
			return (int)vm.machine.pci[p].iommu;
	return -1;
}

static int setup_devices(struct viommu_options *o, const char *const *specs, unsigned int n)
{
	o->ndevs = n;
	o->ite_device = -1;
	for (unsigned int i = 0; i < n; i++)
		ck_assert_int_eq(viommu_sim_device_parse(specs[i], &o->devs[i], err, sizeof(err)), 0);
	return viommu_setup(&vm, o, err, sizeof(err));
}

START_TEST(plain_viommu_places_one_per_host_unit)
{
	static const char *const specs[] = { "dma,iommu=dmar2", "dma,iommu=dmar0",
					     "dma,iommu=dmar2", "dma,iommu=dmar0,viommu=0",
					     "dma,iommu=dmar5" };
	struct viommu_options o = { .units = 1 };

	ck_assert_msg(setup_devices(&o, specs, 5) == 0, "%s", err);
	/* Host units 0, 2, 5 named: vIOMMUs 0, 1, 2 in unit order. */
	ck_assert_uint_eq(vm.machine.niommus, 3);
	ck_assert_int_eq(iommu_of(0), 1);
	ck_assert_int_eq(iommu_of(1), 0);
	ck_assert_int_eq(iommu_of(2), 1);
	ck_assert_int_eq(iommu_of(3), 0);
	ck_assert_int_eq(iommu_of(4), 2);
}
END_TEST

START_TEST(viommu_v_overrides_placement)
{
	static const char *const specs[] = { "dma,iommu=dmar0,viommu=1", "dma,iommu=dmar1,viommu=0" };
	struct viommu_options o = { .units = 1 };

	ck_assert_msg(setup_devices(&o, specs, 2) == 0, "%s", err);
	ck_assert_uint_eq(vm.machine.niommus, 2);
	ck_assert_int_eq(iommu_of(0), 1);
	ck_assert_int_eq(iommu_of(1), 0);
}
END_TEST

START_TEST(viommu_n_puts_devices_behind_zero)
{
	static const char *const specs[] = { "dma,iommu=dmar0", "dma,iommu=dmar1",
					     "dma,iommu=dmar1,viommu=2" };
	struct viommu_options o = { .units = 3, .units_given = true };

	ck_assert_msg(setup_devices(&o, specs, 3) == 0, "%s", err);
	ck_assert_uint_eq(vm.machine.niommus, 3);
	ck_assert_int_eq(iommu_of(0), 0);
	ck_assert_int_eq(iommu_of(1), 0);
	ck_assert_int_eq(iommu_of(2), 2);
}
END_TEST

START_TEST(viommu_v_beyond_placed_units_is_refused)
{
	static const char *const specs[] = { "dma,iommu=dmar0", "dma,iommu=dmar1,viommu=2" };
	struct viommu_options o = { .units = 1 };

	ck_assert_int_eq(setup_devices(&o, specs, 2), -1);
	ck_assert_msg(strstr(err, "viommu=2, but there are 2 vIOMMUs (one per host unit the sim"),
		      "%s", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("viommu_dma");
	TCase *tc = tcase_create("viommu_dma");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, hook_installed_and_removed);
	tcase_add_test(tc, plain_viommu_places_one_per_host_unit);
	tcase_add_test(tc, viommu_v_overrides_placement);
	tcase_add_test(tc, viommu_n_puts_devices_behind_zero);
	tcase_add_test(tc, viommu_v_beyond_placed_units_is_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
