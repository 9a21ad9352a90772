/* SPDX-License-Identifier: ISC */
/* Shared main() for the Check unit-test programs: one suite per program. */
#ifndef FZ_CHECK_UTIL_H
#define FZ_CHECK_UTIL_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(suite_fn)						\
int									\
main(void)								\
{									\
	SRunner *sr = srunner_create(suite_fn());			\
	int failed;							\
									\
	srunner_run_all(sr, CK_ENV);					\
	failed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;		\
}

#endif
