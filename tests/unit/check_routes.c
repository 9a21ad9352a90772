/* SPDX-License-Identifier: ISC */
/*
 * tunneld/net/routes, the pure part: the route set the tunnel wants
 * (§4.1/§4.2 ranges, resources, Internet Resource per family) and the diff
 * routes_apply turns into netlink adds and removes.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_util.h"
#include "routes.h"

static struct fz_cidr
C(const char *s)
{
	struct fz_cidr c;

	ck_assert_int_eq(cidr_parse(s, false, &c), 0);
	return c;
}

static bool
has(const struct route_set *s, uint32_t table, int ifi, const char *cidr)
{
	struct route_ent e;

	memset(&e, 0, sizeof(e));
	e.table = table;
	e.ifindex = ifi;
	e.dst = C(cidr);
	return route_set_has(s, &e);
}

START_TEST(test_build_ranges)
{
	struct route_set s;
	struct fz_cidr res[2] = { C("172.20.0.0/16"), C("2001:db8::/48") };

	route_set_init(&s);
	ck_assert_int_eq(routes_build(&s, 7, res, 2, false, true, true), 0);
	ck_assert_uint_eq(s.n, 8);
	ck_assert(has(&s, ROUTES_TABLE_USER, 7, "100.64.0.0/11"));
	ck_assert(has(&s, ROUTES_TABLE_USER, 7, "100.96.0.0/11"));
	ck_assert(has(&s, ROUTES_TABLE_USER, 7, "100.100.111.0/24"));
	ck_assert(has(&s, ROUTES_TABLE_USER, 7, "fd00:2021:1111::/107"));
	ck_assert(has(&s, ROUTES_TABLE_USER, 7, "fd00:2021:1111:8000::/107"));
	ck_assert(has(&s, ROUTES_TABLE_USER, 7,
	    "fd00:2021:1111:8000:100:100:111:0/120"));
	ck_assert(has(&s, ROUTES_TABLE_USER, 7, "172.20.0.0/16"));
	ck_assert(has(&s, ROUTES_TABLE_USER, 7, "2001:db8::/48"));
	ck_assert(!has(&s, ROUTES_TABLE_INET, 7, "0.0.0.0/0"));
	route_set_clear(&s);
}
END_TEST

START_TEST(test_build_internet_and_family)
{
	struct route_set s;
	struct fz_cidr res[2] = { C("172.20.0.0/16"), C("2001:db8::/48") };

	route_set_init(&s);
	ck_assert_int_eq(routes_build(&s, 3, res, 2, true, true, true), 0);
	ck_assert(has(&s, ROUTES_TABLE_INET, 3, "0.0.0.0/0"));
	ck_assert(has(&s, ROUTES_TABLE_INET, 3, "::/0"));
	ck_assert_uint_eq(s.n, 10);
	/* IPv4 only: no IPv6 range, resource or default route. */
	ck_assert_int_eq(routes_build(&s, 3, res, 2, true, true, false), 0);
	ck_assert_uint_eq(s.n, 5);
	ck_assert(has(&s, ROUTES_TABLE_INET, 3, "0.0.0.0/0"));
	ck_assert(!has(&s, ROUTES_TABLE_INET, 3, "::/0"));
	ck_assert(!has(&s, ROUTES_TABLE_USER, 3, "2001:db8::/48"));
	route_set_clear(&s);
}
END_TEST

START_TEST(test_build_dedup)
{
	struct route_set s;
	/* Two resources with the same network, one equal to a range. */
	struct fz_cidr res[3] = { C("10.0.0.0/8"), C("10.0.0.0/8"),
	    C("100.64.0.0/11") };

	route_set_init(&s);
	ck_assert_int_eq(routes_build(&s, 1, res, 3, false, true, false), 0);
	ck_assert_uint_eq(s.n, 4);
	route_set_clear(&s);
}
END_TEST

START_TEST(test_diff)
{
	struct route_set have, want, add, del;
	struct fz_cidr a = C("10.1.0.0/16"), b = C("10.2.0.0/16"),
	    c = C("10.3.0.0/16"), d = C("::/0");

	route_set_init(&have);
	route_set_init(&want);
	route_set_init(&add);
	route_set_init(&del);
	ck_assert_int_eq(route_set_add(&have, ROUTES_TABLE_USER, 5, 0, &a), 0);
	ck_assert_int_eq(route_set_add(&have, ROUTES_TABLE_USER, 5, 0, &b), 0);
	ck_assert_int_eq(route_set_add(&have, ROUTES_TABLE_INET, 5, 0, &d), 0);
	/* want: b stays, c new, a and d gone; a also moves table. */
	ck_assert_int_eq(route_set_add(&want, ROUTES_TABLE_USER, 5, 0, &c), 0);
	ck_assert_int_eq(route_set_add(&want, ROUTES_TABLE_USER, 5, 0, &b), 0);
	ck_assert_int_eq(route_set_add(&want, ROUTES_TABLE_LAN, 2, 100, &a), 0);
	ck_assert_int_eq(routes_diff(&have, &want, &add, &del), 0);
	ck_assert_uint_eq(add.n, 2);
	ck_assert_uint_eq(del.n, 2);
	ck_assert(has(&del, ROUTES_TABLE_USER, 5, "10.1.0.0/16"));
	ck_assert(has(&del, ROUTES_TABLE_INET, 5, "::/0"));
	ck_assert(has(&add, ROUTES_TABLE_USER, 5, "10.3.0.0/16"));
	ck_assert(!has(&add, ROUTES_TABLE_LAN, 2, "10.1.0.0/16")); /* metric */
	ck_assert_uint_eq(add.v[1].metric + add.v[0].metric, 100);
	/* Same sets, any order: no change. */
	ck_assert_int_eq(routes_diff(&want, &want, &add, &del), 0);
	ck_assert_uint_eq(add.n + del.n, 0);
	/* From nothing: all adds; to nothing: all removes. */
	route_set_clear(&have);
	ck_assert_int_eq(routes_diff(&have, &want, &add, &del), 0);
	ck_assert_uint_eq(add.n, 3);
	ck_assert_uint_eq(del.n, 0);
	ck_assert_int_eq(routes_diff(&want, &have, &add, &del), 0);
	ck_assert_uint_eq(add.n, 0);
	ck_assert_uint_eq(del.n, 3);
	route_set_clear(&want);
	route_set_clear(&add);
	route_set_clear(&del);
}
END_TEST

START_TEST(test_diff_ifindex_change)
{
	struct route_set have, want, add, del;
	struct fz_cidr a = C("10.1.0.0/16");

	route_set_init(&have);
	route_set_init(&want);
	route_set_init(&add);
	route_set_init(&del);
	/* A TUN re-created under a new index: remove old, add new. */
	ck_assert_int_eq(route_set_add(&have, ROUTES_TABLE_USER, 5, 0, &a), 0);
	ck_assert_int_eq(route_set_add(&want, ROUTES_TABLE_USER, 6, 0, &a), 0);
	ck_assert_int_eq(routes_diff(&have, &want, &add, &del), 0);
	ck_assert_uint_eq(add.n, 1);
	ck_assert_uint_eq(del.n, 1);
	ck_assert_int_eq(add.v[0].ifindex, 6);
	ck_assert_int_eq(del.v[0].ifindex, 5);
	route_set_clear(&have);
	route_set_clear(&want);
	route_set_clear(&add);
	route_set_clear(&del);
}
END_TEST

START_TEST(test_set_add_bad)
{
	struct route_set s;
	struct fz_cidr c = C("10.0.0.0/8");

	route_set_init(&s);
	c.family = AF_UNIX;
	ck_assert_int_eq(route_set_add(&s, ROUTES_TABLE_USER, 1, 0, &c),
	    -EAFNOSUPPORT);
	c.family = AF_INET;
	c.prefix = 33;
	ck_assert_int_eq(route_set_add(&s, ROUTES_TABLE_USER, 1, 0, &c),
	    -EINVAL);
	ck_assert_uint_eq(s.n, 0);
	route_set_clear(&s);
}
END_TEST

START_TEST(test_mark_socket)
{
	unsigned mark = 0;
	socklen_t len = sizeof(mark);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	ck_assert_int_ge(fd, 0);
	rc = routes_mark_socket(fd);
	if (geteuid() != 0) {
		/* Without CAP_NET_ADMIN the kernel refuses, and we say so. */
		ck_assert_int_eq(rc, -EPERM);
	} else {
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_MARK, &mark,
		    &len), 0);
		ck_assert_uint_eq(mark, 0xfd002021u);
	}
	close(fd);
	ck_assert_int_eq(routes_mark_socket(-1), -EBADF);
}
END_TEST

static Suite *
routes_suite(void)
{
	Suite *s = suite_create("routes");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_build_ranges);
	tcase_add_test(tc, test_build_internet_and_family);
	tcase_add_test(tc, test_build_dedup);
	tcase_add_test(tc, test_diff);
	tcase_add_test(tc, test_diff_ifindex_change);
	tcase_add_test(tc, test_set_add_bad);
	tcase_add_test(tc, test_mark_socket);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(routes_suite)
