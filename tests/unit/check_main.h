/* SPDX-License-Identifier: MIT */
/* The end of every Check test's main(): run the suite, report, exit status. */
#ifndef TAGVMM_TESTS_CHECK_MAIN_H
#define TAGVMM_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
