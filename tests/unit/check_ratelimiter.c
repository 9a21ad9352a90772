/* SPDX-License-Identifier: ISC */
/*
 * The handshake rate limiter against a fake clock: a burst of 5, then 20 a
 * second; sources independent; IPv6 grouped by /64; idle entries
 * collected; a full table refuses new sources only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "fztime.h"
#include "ratelimiter.h"
#include "check_util.h"

#define T0	(1000 * NSEC_PER_SEC)

static struct ratelimiter *R;

static void
setup(void)
{
	ck_assert_int_eq(ratelimiter_new(0, &R), 0);
}

static void
teardown(void)
{
	ratelimiter_free(R);
	R = NULL;
}

static union fz_sockaddr
sa(const char *s)
{
	union fz_sockaddr a;

	ck_assert_int_eq(addr_parse(s, ADDR_PORT_OPTIONAL, &a), 0);
	return a;
}

/* How many of n messages, one every step ns from t, are allowed. */
static unsigned
allowed(const char *src, uint64_t t, unsigned n, uint64_t step)
{
	union fz_sockaddr a = sa(src);
	unsigned i, ok = 0;

	for (i = 0; i < n; i++)
		ok += ratelimiter_allow(R, &a.sa, t + i * step);
	return ok;
}

START_TEST(test_burst_then_rate)
{
	/* Five at once, then nothing until a token (50 ms) comes back. */
	ck_assert_uint_eq(allowed("192.0.2.1", T0, 100, 0), 5);
	ck_assert_uint_eq(allowed("192.0.2.1", T0 + 49 * NSEC_PER_MSEC, 1, 0),
	    0);
	ck_assert_uint_eq(allowed("192.0.2.1", T0 + 50 * NSEC_PER_MSEC, 1, 0),
	    1);
	/* Then 20 a second: 1000 tries over the next second. */
	ck_assert_uint_eq(allowed("192.0.2.1", T0 + 51 * NSEC_PER_MSEC, 1000,
	    NSEC_PER_MSEC), 20);
	/* Idle for long, the bucket holds 5 again, no more. */
	ck_assert_uint_eq(allowed("192.0.2.1", T0 + 60 * NSEC_PER_SEC, 100, 0),
	    5);
}
END_TEST

START_TEST(test_sources_independent)
{
	ck_assert_uint_eq(allowed("192.0.2.1:1", T0, 10, 0), 5);
	ck_assert_uint_eq(allowed("192.0.2.1:2", T0, 10, 0), 0);  /* port */
	ck_assert_uint_eq(allowed("192.0.2.2", T0, 10, 0), 5);
	ck_assert_uint_eq(allowed("[2001:db8::1]:1", T0, 10, 0), 5);
	/* 192.0.2.1 as an IPv6 address is another key. */
	ck_assert_uint_eq(allowed("[::ffff:192.0.2.1]:1", T0, 10, 0), 5);
	ck_assert_uint_eq(ratelimiter_entries(R), 4);
}
END_TEST

START_TEST(test_ipv6_slash64)
{
	ck_assert_uint_eq(allowed("[2001:db8:1:2::1]:1", T0, 3, 0), 3);
	/* Anywhere in the same /64 shares the bucket. */
	ck_assert_uint_eq(allowed("[2001:db8:1:2:ffff:ffff:ffff:ffff]:9", T0,
	    10, 0), 2);
	/* The next /64 does not. */
	ck_assert_uint_eq(allowed("[2001:db8:1:3::1]:1", T0, 10, 0), 5);
	ck_assert_uint_eq(ratelimiter_entries(R), 2);
}
END_TEST

START_TEST(test_gc_bounds_memory)
{
	char s[64];
	unsigned i;

	for (i = 0; i < 10000; i++) {
		snprintf(s, sizeof(s), "10.%u.%u.1", i / 256, i % 256);
		ck_assert(allowed(s, T0 + 2 * NSEC_PER_SEC, 1, 0) == 1);
	}
	ck_assert_uint_eq(ratelimiter_entries(R), 10000);
	/* Less than a second later nothing is collected... */
	ck_assert_uint_eq(allowed("10.255.0.1", T0 + 3 * NSEC_PER_SEC -
	    NSEC_PER_MSEC, 1, 0), 1);
	ck_assert_uint_eq(ratelimiter_entries(R), 10001);
	/* ...a second after their last message, they all go. */
	ck_assert_uint_eq(allowed("10.255.0.2", T0 + 4 * NSEC_PER_SEC, 1, 0),
	    1);
	ck_assert_uint_eq(ratelimiter_entries(R), 1);
}
END_TEST

START_TEST(test_table_full)
{
	struct ratelimiter *small;
	union fz_sockaddr a[5];
	unsigned i;

	ck_assert_int_eq(ratelimiter_new(4, &small), 0);
	for (i = 0; i < 5; i++) {
		char s[32];

		snprintf(s, sizeof(s), "198.51.100.%u", i + 1);
		a[i] = sa(s);
	}
	for (i = 0; i < 4; i++)
		ck_assert(ratelimiter_allow(small, &a[i].sa, T0));
	/* Full: a new source is refused; known ones keep their buckets. */
	ck_assert(!ratelimiter_allow(small, &a[4].sa, T0));
	ck_assert(ratelimiter_allow(small, &a[0].sa, T0));
	ck_assert_uint_eq(ratelimiter_entries(small), 4);
	/* Once the idle entries are collected there is room again. */
	ck_assert(ratelimiter_allow(small, &a[4].sa, T0 + 2 * NSEC_PER_SEC));
	ck_assert_uint_eq(ratelimiter_entries(small), 1);
	ratelimiter_free(small);
}
END_TEST

START_TEST(test_other_family)
{
	union fz_sockaddr a;

	memset(&a, 0, sizeof(a));
	a.sa.sa_family = AF_UNIX;
	ck_assert(!ratelimiter_allow(R, &a.sa, T0));
	ck_assert_uint_eq(ratelimiter_entries(R), 0);
	ratelimiter_free(NULL);
}
END_TEST

/* Out-of-order clock reads (threads race to the lock) refill nothing. */
START_TEST(test_clock_behind)
{
	ck_assert_uint_eq(allowed("192.0.2.9", T0 + NSEC_PER_SEC, 5, 0), 5);
	ck_assert_uint_eq(allowed("192.0.2.9", T0, 5, 0), 0);
}
END_TEST

static Suite *
ratelimiter_suite(void)
{
	Suite *s = suite_create("ratelimiter");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_burst_then_rate);
	tcase_add_test(tc, test_sources_independent);
	tcase_add_test(tc, test_ipv6_slash64);
	tcase_add_test(tc, test_gc_bounds_memory);
	tcase_add_test(tc, test_table_full);
	tcase_add_test(tc, test_other_family);
	tcase_add_test(tc, test_clock_behind);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ratelimiter_suite)
