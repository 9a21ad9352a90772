/* SPDX-License-Identifier: ISC */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "check_util.h"

static void
roundtrip(const char *in, enum addr_port pm, const char *want)
{
	union fz_sockaddr sa;
	char out[ADDR_STRLEN];

	ck_assert_msg(addr_parse(in, pm, &sa) == 0, "parse %s", in);
	ck_assert_int_eq(addr_fmt(&sa.sa, pm != ADDR_PORT_NONE, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, want);
}

START_TEST(test_addr_good)
{
	roundtrip("192.0.2.1", ADDR_PORT_NONE, "192.0.2.1");
	roundtrip("192.0.2.1:53", ADDR_PORT_REQUIRED, "192.0.2.1:53");
	roundtrip("192.0.2.1", ADDR_PORT_OPTIONAL, "192.0.2.1:0");
	roundtrip("2001:db8::1", ADDR_PORT_NONE, "2001:db8::1");
	roundtrip("[2001:db8::1]", ADDR_PORT_OPTIONAL, "[2001:db8::1]:0");
	roundtrip("[2001:DB8::1]:65535", ADDR_PORT_REQUIRED,
	    "[2001:db8::1]:65535");
	roundtrip("[fe80::1%7]:1", ADDR_PORT_REQUIRED, "[fe80::1%7]:1");
	roundtrip("[::ffff:1.2.3.4]:9", ADDR_PORT_REQUIRED,
	    "[::ffff:1.2.3.4]:9");
}
END_TEST

START_TEST(test_addr_bad)
{
	static const char *bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4:", "1.2.3.4:x",
		"1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:+1", "1.2.3.4:123456",
		"[::1", "[::1]x", "[::1]:", "::1]:5", "[1.2.3.4]:5", "[]:1",
		"[::1%]:1", "[::1%nosuchif0]:1", "1.2.3.4 :5", " 1.2.3.4",
		"gggg::1", "1.2.3.4:5:6",
		"[aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa]:1",
	};
	union fz_sockaddr sa;
	unsigned i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(addr_parse(bad[i], ADDR_PORT_OPTIONAL, &sa) ==
		    -EINVAL, "accepted '%s'", bad[i]);
	ck_assert_int_eq(addr_parse(NULL, ADDR_PORT_OPTIONAL, &sa), -EINVAL);
	ck_assert_int_eq(addr_parse("1.2.3.4:5", ADDR_PORT_NONE, &sa), -EINVAL);
	ck_assert_int_eq(addr_parse("1.2.3.4", ADDR_PORT_REQUIRED, &sa),
	    -EINVAL);
}
END_TEST

START_TEST(test_addr_untouched_on_error)
{
	union fz_sockaddr sa;

	memset(&sa, 0x5a, sizeof(sa));
	ck_assert_int_eq(addr_parse("1.2.3.4:99999", ADDR_PORT_OPTIONAL, &sa),
	    -EINVAL);
	ck_assert_uint_eq(((uint8_t *)&sa)[0], 0x5a);
}
END_TEST

START_TEST(test_addr_eq_unmap)
{
	union fz_sockaddr a, b, m;

	ck_assert_int_eq(addr_parse("10.0.0.1:5", ADDR_PORT_REQUIRED, &a), 0);
	ck_assert_int_eq(addr_parse("10.0.0.1:5", ADDR_PORT_REQUIRED, &b), 0);
	ck_assert(addr_eq(&a.sa, &b.sa));
	addr_set_port(&b.sa, 6);
	ck_assert_uint_eq(addr_port(&b.sa), 6);
	ck_assert(!addr_eq(&a.sa, &b.sa));
	ck_assert_int_eq(addr_parse("[::ffff:10.0.0.1]:5", ADDR_PORT_REQUIRED,
	    &m), 0);
	ck_assert(!addr_eq(&a.sa, &m.sa));
	addr_unmap_v4(&m);
	ck_assert_int_eq(m.sa.sa_family, AF_INET);
	ck_assert(addr_eq(&a.sa, &m.sa));
	ck_assert_uint_eq(addr_len(&m.sa), sizeof(struct sockaddr_in));
}
END_TEST

START_TEST(test_addr_fmt_small)
{
	union fz_sockaddr a;
	char out[8];

	ck_assert_int_eq(addr_parse("[2001:db8::1]:5", ADDR_PORT_REQUIRED, &a),
	    0);
	ck_assert_int_eq(addr_fmt(&a.sa, true, out, sizeof(out)), -ENOBUFS);
	a.sa.sa_family = AF_UNIX;
	ck_assert_int_eq(addr_fmt(&a.sa, true, out, sizeof(out)),
	    -EAFNOSUPPORT);
}
END_TEST

START_TEST(test_cidr_parse)
{
	struct fz_cidr c;
	char out[64];

	ck_assert_int_eq(cidr_parse("10.1.2.3/8", false, &c), 0);
	ck_assert_int_eq(cidr_fmt(&c, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "10.0.0.0/8");
	ck_assert_int_eq(cidr_parse("10.1.2.3/8", true, &c), -EINVAL);
	ck_assert_int_eq(cidr_parse("10.0.0.0/8", true, &c), 0);
	ck_assert_int_eq(cidr_parse("192.0.2.7", true, &c), 0);
	ck_assert_uint_eq(c.prefix, 32);
	ck_assert_int_eq(cidr_parse("2001:db8:ffff::1/33", false, &c), 0);
	ck_assert_int_eq(cidr_fmt(&c, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "2001:db8:8000::/33");
	ck_assert_int_eq(cidr_parse("::/0", true, &c), 0);
	ck_assert_uint_eq(c.prefix, 0);
	ck_assert_int_eq(cidr_parse("0.0.0.0/0", true, &c), 0);
}
END_TEST

START_TEST(test_cidr_bad)
{
	static const char *bad[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1",
		"10.0.0.0/1a", "10.0.0.0/0008", "::/129", "10.0.0/8",
		"10.0.0.0/8/8", "x/8", "10.0.0.0 /8",
	};
	struct fz_cidr c;
	unsigned i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cidr_parse(bad[i], false, &c) == -EINVAL,
		    "accepted '%s'", bad[i]);
	ck_assert_int_eq(cidr_parse(NULL, false, &c), -EINVAL);
}
END_TEST

START_TEST(test_cidr_contains)
{
	struct fz_cidr c;
	struct in_addr a4;
	struct in6_addr a6;
	union fz_sockaddr sa;

	ck_assert_int_eq(cidr_parse("172.16.0.0/12", true, &c), 0);
	inet_pton(AF_INET, "172.31.255.255", &a4);
	ck_assert(cidr_contains(&c, AF_INET, &a4));
	inet_pton(AF_INET, "172.32.0.0", &a4);
	ck_assert(!cidr_contains(&c, AF_INET, &a4));
	inet_pton(AF_INET6, "::ac10:1", &a6);
	ck_assert(!cidr_contains(&c, AF_INET6, &a6));

	ck_assert_int_eq(cidr_parse("fd00:2021:1111::/48", true, &c), 0);
	inet_pton(AF_INET6, "fd00:2021:1111:8000::1", &a6);
	ck_assert(cidr_contains(&c, AF_INET6, &a6));
	inet_pton(AF_INET6, "fd00:2021:1112::1", &a6);
	ck_assert(!cidr_contains(&c, AF_INET6, &a6));

	ck_assert_int_eq(cidr_parse("0.0.0.0/0", true, &c), 0);
	ck_assert_int_eq(addr_parse("203.0.113.9:1", ADDR_PORT_REQUIRED, &sa),
	    0);
	ck_assert(cidr_contains_sa(&c, &sa.sa));
	ck_assert_int_eq(cidr_parse("203.0.113.9/32", true, &c), 0);
	ck_assert(cidr_contains_sa(&c, &sa.sa));
	ck_assert_int_eq(cidr_parse("203.0.113.8/32", true, &c), 0);
	ck_assert(!cidr_contains_sa(&c, &sa.sa));
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_addr_good);
	tcase_add_test(tc, test_addr_bad);
	tcase_add_test(tc, test_addr_untouched_on_error);
	tcase_add_test(tc, test_addr_eq_unmap);
	tcase_add_test(tc, test_addr_fmt_small);
	tcase_add_test(tc, test_cidr_parse);
	tcase_add_test(tc, test_cidr_bad);
	tcase_add_test(tc, test_cidr_contains);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(addr_suite)
