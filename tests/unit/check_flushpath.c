// SPDX-License-Identifier: MIT
/* hostvtd/flushpath.h: back ends by name from one table, the trace format parser. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "hostvtd/flushpath.h"
#include "hostvtd/iommufd-dryrun-host.h"
#include "hostvtd/simvtd.h"

START_TEST(trace_format_names)
{
	enum flush_trace_format f = FLUSH_TRACE_JSON;

	ck_assert_int_eq(flush_trace_format_parse("text", &f), 0);
	ck_assert_int_eq(f, FLUSH_TRACE_TEXT);
	ck_assert_int_eq(flush_trace_format_parse("json", &f), 0);
	ck_assert_int_eq(f, FLUSH_TRACE_JSON);
	ck_assert_int_eq(flush_trace_format_parse("xml", &f), -1);
	ck_assert_int_eq(flush_trace_format_parse("", &f), -1);
	ck_assert_int_eq(flush_trace_format_parse("JSON", &f), -1);
	ck_assert_int_eq(f, FLUSH_TRACE_JSON);	/* untouched on refusal */
}
END_TEST

START_TEST(backend_table)
{
	ck_assert_ptr_nonnull(host_backend_find("sim"));
	ck_assert_ptr_nonnull(host_backend_find("iommufd-dry-run"));
	ck_assert_ptr_null(host_backend_find("vfio"));
	ck_assert_ptr_null(host_backend_find(""));
	ck_assert_str_eq(host_backend_names(), "sim or iommufd-dry-run");
}
END_TEST

START_TEST(build_sim)
{
	struct flush_path_options o = { .units = 3 };	/* no name: the default, sim */
	struct flush_path fp;
	char err[256];

	ck_assert_int_eq(flush_path_build(&fp, &o, err, sizeof(err)), 0);
	ck_assert_str_eq(fp.kind->name, "sim");
	ck_assert_ptr_nonnull(flush_path_backend(&fp, "sim"));
	ck_assert_ptr_null(flush_path_backend(&fp, "iommufd-dry-run"));
	ck_assert_uint_eq(fp.nunits, 3);
	for (unsigned int i = 0; i < 3; i++) {
		ck_assert_uint_eq(fp.units[i]->index, i);
		ck_assert_ptr_eq(fp.units[i]->backend, &simvtd_backend);
	}
	ck_assert_str_eq(fp.units[2]->name, "dmar2");
	ck_assert_ptr_nonnull(fp.ts);
	ck_assert_ptr_nonnull(fp.fe);
	ck_assert_ptr_null(fp.trace);
	ck_assert_int_eq(flush_path_free(&fp), 0);
	ck_assert_ptr_null(fp.fe);
	ck_assert_int_eq(flush_path_free(&fp), 0);	/* a zeroed path is fine */
}
END_TEST

START_TEST(build_dry_run)
{
	struct flush_path_options o = { .backend = "iommufd-dry-run", .units = HOST_MAX_UNITS };
	struct flush_path fp;
	char err[256];

	ck_assert_int_eq(flush_path_build(&fp, &o, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(flush_path_backend(&fp, "iommufd-dry-run"));
	ck_assert_ptr_null(flush_path_backend(&fp, "sim"));
	ck_assert_uint_eq(fp.nunits, HOST_MAX_UNITS);
	ck_assert_uint_eq(fp.units[HOST_MAX_UNITS - 1]->index, HOST_MAX_UNITS - 1);
	ck_assert_str_eq(fp.units[HOST_MAX_UNITS - 1]->name, "dmar15");
	ck_assert_int_eq(flush_path_free(&fp), 0);
}
END_TEST

START_TEST(build_refusals)
{
	struct flush_path_options o = { .backend = "vfio", .units = 1 };
	struct flush_path fp;
	char err[256];

	ck_assert_int_eq(flush_path_build(&fp, &o, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "sim or iommufd-dry-run"));
	o.backend = "sim";
	o.units = 0;
	ck_assert_int_eq(flush_path_build(&fp, &o, err, sizeof(err)), -1);
	o.units = HOST_MAX_UNITS + 1;
	ck_assert_int_eq(flush_path_build(&fp, &o, err, sizeof(err)), -1);
	o.units = 1;
	o.trace = "/nonexistent/dir/trace";
	ck_assert_int_eq(flush_path_build(&fp, &o, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/trace"));
	ck_assert_ptr_null(fp.fe);	/* freed already */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("flushpath");
	TCase *tc = tcase_create("flushpath");

	tcase_add_test(tc, trace_format_names);
	tcase_add_test(tc, backend_table);
	tcase_add_test(tc, build_sim);
	tcase_add_test(tc, build_dry_run);
	tcase_add_test(tc, build_refusals);
	suite_add_tcase(s, tc);
	return check_run(s);
}
