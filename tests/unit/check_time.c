/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <string.h>

#include "fztime.h"
#include "check_util.h"

START_TEST(test_mono_advances)
{
	uint64_t a = time_mono_ns(), b = time_mono_ns();

	ck_assert_uint_ge(b, a);
	ck_assert_uint_gt(time_real_ns(), 1600000000ULL * NSEC_PER_SEC);
}
END_TEST

START_TEST(test_fake_clock)
{
	time_fake_enable(1000, 1700000000ULL * NSEC_PER_SEC);
	ck_assert(time_is_fake());
	ck_assert_uint_eq(time_mono_ns(), 1000);
	time_fake_advance(5 * NSEC_PER_SEC);
	ck_assert_uint_eq(time_mono_ns(), 1000 + 5 * NSEC_PER_SEC);
	ck_assert_uint_eq(time_real_ns(), 1700000005ULL * NSEC_PER_SEC);
	time_fake_disable();
	ck_assert(!time_is_fake());
	ck_assert_uint_gt(time_mono_ns(), 0);
}
END_TEST

START_TEST(test_rfc3339)
{
	char buf[40];

	ck_assert_int_eq(time_fmt_rfc3339(1700000000ULL * NSEC_PER_SEC +
	    123456789, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "2023-11-14T22:13:20.123456Z");
	ck_assert_int_eq(time_fmt_rfc3339(0, buf, 10), -ENOBUFS);
}
END_TEST

static Suite *
time_suite(void)
{
	Suite *s = suite_create("time");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_mono_advances);
	tcase_add_test(tc, test_fake_clock);
	tcase_add_test(tc, test_rfc3339);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(time_suite)
