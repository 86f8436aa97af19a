// SPDX-License-Identifier: MIT
/*
 * `tagvmm run`'s option parser (cli/run-options.c) and the vIOMMU
 * placement it feeds (viommu_place(), viommu/setup.c), without a VM: the
 * entry points fuzz/fuzz_setup.c drives, and what it relies on.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "cli/cli.h"
#include "cli/run-options.h"
#include "viommu/viommu.h"

static int parse(struct run_options *o, char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return run_parse_options(argc, argv, o);
}

/*
 * A second parse in one process starts afresh: getopt must not resume in
 * the cluster the first stopped in ("-hq" stops after h). With optind = 1
 * glibc read the first argv's "q" and lost "-k x".
 */
START_TEST(second_parse_starts_afresh)
{
	char a0[] = "run", a1[] = "-hq";
	char b0[] = "run", b1[] = "-k", b2[] = "x";
	char *first[] = { a0, a1, NULL }, *second[] = { b0, b1, b2, NULL };
	struct run_options o;

	ck_assert_int_eq(parse(&o, first), -1);		/* --help printed */
	ck_assert_int_eq(parse(&o, second), 0);
	ck_assert_str_eq(o.boot.kernel, "x");
	ck_assert(!o.quiet);
}
END_TEST

START_TEST(viommu_options_parsed)
{
	char a0[] = "run", a1[] = "--viommu", a2[] = "--sim-device", a3[] = "dma,iommu=dmar2,ats",
	     a4[] = "--sim-device", a5[] = "dma,iommu=dmar0,viommu=1,ats,pasid,pri", a6[] = "-k",
	     a7[] = "x";
	char b0[] = "run", b1[] = "--viommu=5", b2[] = "-k", b3[] = "x";
	char c0[] = "run", c1[] = "--sim-device", c2[] = "dma,iommu=dmar0", c3[] = "-k", c4[] = "x";
	char *good[] = { a0, a1, a2, a3, a4, a5, a6, a7, NULL };
	char *too_many[] = { b0, b1, b2, b3, NULL };
	char *no_viommu[] = { c0, c1, c2, c3, c4, NULL };
	struct run_options o;

	ck_assert_int_eq(parse(&o, good), 0);
	ck_assert_uint_eq(o.viommu.units, 1);
	ck_assert(!o.viommu.units_given);
	ck_assert_uint_eq(o.viommu.ndevs, 2);
	ck_assert_uint_eq(o.viommu.devs[0].host_unit, 2);
	ck_assert(o.viommu.devs[1].viommu_given && o.viommu.devs[1].pri);
	ck_assert_int_eq(parse(&o, too_many), EXIT_USAGE);
	ck_assert_int_eq(parse(&o, no_viommu), EXIT_USAGE);
}
END_TEST

static struct sim_device_spec dev(unsigned int host_unit)
{
	return (struct sim_device_spec){ .host_unit = host_unit };
}

/* Plain --viommu: one vIOMMU per host unit named, in unit order; viommu=V kept. */
START_TEST(place_host_matched)
{
	struct viommu_options o = { .units = 1, .ite_device = -1, .ndevs = 4 }, p;
	unsigned int host_units;
	char err[160];

	o.devs[0] = dev(3);
	o.devs[1] = dev(1);
	o.devs[2] = dev(3);
	o.devs[3] = (struct sim_device_spec){ .host_unit = 0, .viommu = 0, .viommu_given = true };
	ck_assert_int_eq(viommu_place(&o, &p, &host_units, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.units, 3);			/* dmar0, dmar1, dmar3 */
	ck_assert_uint_eq(p.devs[0].viommu, 2);
	ck_assert_uint_eq(p.devs[1].viommu, 1);
	ck_assert_uint_eq(p.devs[2].viommu, 2);
	ck_assert_uint_eq(p.devs[3].viommu, 0);
	ck_assert_uint_eq(host_units, 4);
	ck_assert_uint_eq(o.devs[0].viommu, 0);		/* the given options untouched */

	/* More host units than vIOMMUs: the last vIOMMU takes the rest. */
	o.ndevs = 6;
	for (unsigned int i = 0; i < 6; i++)
		o.devs[i] = dev(i);
	ck_assert_int_eq(viommu_place(&o, &p, &host_units, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.units, VIOMMU_MAX_UNITS);
	ck_assert_uint_eq(p.devs[5].viommu, VIOMMU_MAX_UNITS - 1);
	ck_assert_uint_eq(p.devs[4].viommu, VIOMMU_MAX_UNITS - 1);
	ck_assert_uint_eq(p.devs[2].viommu, 2);
}
END_TEST

/*
 * VFIO devices get host-matched vIOMMUs too: after the simulated units,
 * one per real host unit, in the order the devices were named; devices
 * on one unit share its vIOMMU; --viommu=N puts them all behind vIOMMU 0.
 */
START_TEST(place_vfio_by_host_unit)
{
	struct viommu_options o = { .units = 1, .ite_device = -1, .ndevs = 2, .nvfio = 3 }, p;
	unsigned int host_units;
	char err[160];

	o.devs[0] = dev(1);
	o.devs[1] = dev(0);
	snprintf(o.vfio_unit[0], sizeof(o.vfio_unit[0]), "dmar5");
	snprintf(o.vfio_unit[1], sizeof(o.vfio_unit[1]), "dmar0");	/* the real host's dmar0 */
	snprintf(o.vfio_unit[2], sizeof(o.vfio_unit[2]), "dmar5");
	ck_assert_int_eq(viommu_place(&o, &p, &host_units, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.units, 4);
	ck_assert_uint_eq(p.devs[0].viommu, 1);
	ck_assert_uint_eq(p.devs[1].viommu, 0);
	ck_assert_uint_eq(p.vfio_viommu[0], 2);
	ck_assert_uint_eq(p.vfio_viommu[1], 3);
	ck_assert_uint_eq(p.vfio_viommu[2], 2);
	ck_assert_uint_eq(host_units, 2);		/* simulated ones only */

	/* VFIO devices only: one vIOMMU per real unit; past the limit they share the last. */
	o.ndevs = 0;
	o.nvfio = 6;
	for (unsigned int i = 0; i < 6; i++)
		snprintf(o.vfio_unit[i], sizeof(o.vfio_unit[i]), "dmar%u", 10 + i);
	ck_assert_int_eq(viommu_place(&o, &p, &host_units, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.units, VIOMMU_MAX_UNITS);
	ck_assert_uint_eq(p.vfio_viommu[0], 0);
	ck_assert_uint_eq(p.vfio_viommu[3], 3);
	ck_assert_uint_eq(p.vfio_viommu[5], VIOMMU_MAX_UNITS - 1);

	/* One real unit: one vIOMMU. */
	o.nvfio = 2;
	snprintf(o.vfio_unit[1], sizeof(o.vfio_unit[1]), "dmar10");
	ck_assert_int_eq(viommu_place(&o, &p, &host_units, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.units, 1);
	ck_assert_uint_eq(p.vfio_viommu[0], 0);
	ck_assert_uint_eq(p.vfio_viommu[1], 0);

	/* --viommu=3: three, the VFIO devices behind vIOMMU 0. */
	o.units = 3;
	o.units_given = true;
	o.nvfio = 3;
	snprintf(o.vfio_unit[2], sizeof(o.vfio_unit[2]), "dmar7");
	ck_assert_int_eq(viommu_place(&o, &p, &host_units, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.units, 3);
	for (unsigned int i = 0; i < 3; i++)
		ck_assert_uint_eq(p.vfio_viommu[i], 0);

	/* More than VFIO_MAX_DEVICES is refused, by name. */
	o.nvfio = VIOMMU_MAX_VFIO + 1;
	ck_assert_int_eq(viommu_place(&o, &p, &host_units, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--vfio"));
}
END_TEST

/* --viommu=N keeps N; a viommu=V beyond it, or an --inject-ite device that is not there, is refused. */
START_TEST(place_refusals)
{
	struct viommu_options o = { .units = 2, .units_given = true, .ite_device = -1, .ndevs = 2 }, p;
	unsigned int host_units;
	char err[160] = "";

	o.devs[0] = dev(1);
	o.devs[1] = (struct sim_device_spec){ .host_unit = 0, .viommu = 1, .viommu_given = true };
	ck_assert_int_eq(viommu_place(&o, &p, &host_units, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.units, 2);
	ck_assert_uint_eq(p.devs[0].viommu, 0);
	ck_assert_uint_eq(p.devs[1].viommu, 1);
	o.devs[1].viommu = 2;
	ck_assert_int_eq(viommu_place(&o, &p, &host_units, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "viommu=2"));
	o.devs[1].viommu = 0;
	o.ite_device = 2;
	ck_assert_int_eq(viommu_place(&o, &p, &host_units, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--inject-ite"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("run_options");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, second_parse_starts_afresh);
	tcase_add_test(tc, viommu_options_parsed);
	tcase_add_test(tc, place_host_matched);
	tcase_add_test(tc, place_vfio_by_host_unit);
	tcase_add_test(tc, place_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
