/* SPDX-License-Identifier: ISC */
/* The client wiring's pure parts: lists, resources, sentinel packets. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_util.h"
#include "client_net.h"
#include "dnspkt.h"
#include "offload.h"

START_TEST(test_list_parse)
{
	union fz_sockaddr a[4];
	char out[256];
	size_t n = 99;

	ck_assert_int_eq(cn_addr_list_parse("", a, 4, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(cn_addr_list_parse("1.1.1.1, 2606:4700::1111,9.9.9.9",
	    a, 4, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(a[1].sa.sa_family, AF_INET6);
	ck_assert_int_eq(cn_addr_list_fmt(a, n, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "1.1.1.1, 2606:4700::1111, 9.9.9.9");
	ck_assert_int_eq(cn_addr_list_fmt(a, n, out, 10), -ENOSPC);
	n = 77;
	ck_assert_int_eq(cn_addr_list_parse("1.1.1.1, nope", a, 4, &n),
	    -EINVAL);
	ck_assert_int_eq(cn_addr_list_parse("1.1.1.1:53", a, 4, &n), -EINVAL);
	ck_assert_int_eq(cn_addr_list_parse("1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 "
	    "5.5.5.5", a, 4, &n), -E2BIG);
	ck_assert_uint_eq(n, 77);		/* untouched on failure */
}
END_TEST

START_TEST(test_resource_cidrs)
{
	struct ipc_resource r[5] = {
		{ "a", "cidr", "10.50.0.7/24", "n", "", "online" },
		{ "b", "dns", "app.corp.test", "n", "", "online" },
		{ "c", "cidr", "2001:db8::1", "n", "", "online" },
		{ "d", "cidr", "bogus", "n", "", "online" },
		{ "e", "internet", "", "n", "", "online" },
	};
	struct ipc_resource_list l = { 5, r };
	struct fz_cidr c[4];
	char s[64];
	bool inet;

	ck_assert_uint_eq(cn_resource_cidrs(&l, c, 4, &inet), 2);
	ck_assert(inet);
	ck_assert_int_eq(cidr_fmt(&c[0], s, sizeof(s)), 0);
	ck_assert_str_eq(s, "10.50.0.0/24");
	ck_assert_int_eq(cidr_fmt(&c[1], s, sizeof(s)), 0);
	ck_assert_str_eq(s, "2001:db8::1/128");
	ck_assert_uint_eq(cn_resource_cidrs(&l, c, 1, &inet), 1);
	l.n = 2;
	ck_assert_uint_eq(cn_resource_cidrs(&l, c, 4, &inet), 1);
	ck_assert(!inet);
}
END_TEST

static void
sa(const char *s, union fz_sockaddr *out)
{
	ck_assert_int_eq(addr_parse(s, ADDR_PORT_OPTIONAL, out), 0);
}

/* The one's-complement sum of the UDP segment with its pseudo-header. */
static uint16_t
udp_verify(const uint8_t *ip, size_t len, size_t hl)
{
	return off_csum_fold(off_csum_add(off_pseudo(ip, 17, len - hl),
	    ip + hl, len - hl));
}

START_TEST(test_build_parse_v4)
{
	static const uint8_t q[] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
	    0 };
	union fz_sockaddr from, to, f2, t2;
	uint8_t pkt[128];
	const uint8_t *p;
	size_t len, plen;

	sa("100.64.0.3:40000", &from);
	sa("100.100.111.1:53", &to);
	ck_assert_int_eq(dnspkt_build(&from, &to, q, sizeof(q), pkt,
	    sizeof(pkt), &len), 0);
	ck_assert_uint_eq(len, 20 + 8 + sizeof(q));
	/* header checksum verifies to 0, so does the UDP one */
	ck_assert_uint_eq(off_csum_fold(off_csum_add(0, pkt, 20)), 0);
	ck_assert_uint_eq(udp_verify(pkt, len, 20), 0);
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen), 0);
	ck_assert(addr_eq(&f2.sa, &from.sa));
	ck_assert(addr_eq(&t2.sa, &to.sa));
	ck_assert_uint_eq(plen, sizeof(q));
	ck_assert_mem_eq(p, q, sizeof(q));
	/* padding after the packet is ignored */
	ck_assert_int_eq(dnspkt_parse(pkt, len + 3, &f2, &t2, &p, &plen), 0);
	ck_assert_uint_eq(plen, sizeof(q));
	/* not port 53: to a sentinel, but dropped */
	pkt[20 + 3] = 54;
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen),
	    -ENOENT);
	pkt[20 + 3] = 53;
	/* a UDP length past the packet */
	off_put16(pkt + 24, (uint16_t)(len));
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen),
	    -ENOENT);
	off_put16(pkt + 24, (uint16_t)(8 + sizeof(q)));
	/* a fragment */
	off_put16(pkt + 6, 0x2000);
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen),
	    -ENOENT);
	off_put16(pkt + 6, 0x4000);
	/* not a sentinel */
	pkt[18] = 110;
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen),
	    -EBADMSG);
	/* truncated */
	ck_assert_int_eq(dnspkt_parse(pkt, 10, &f2, &t2, &p, &plen),
	    -EBADMSG);
	ck_assert_int_eq(dnspkt_build(&from, &to, q, sizeof(q), pkt, 30,
	    &len), -ENOBUFS);
}
END_TEST

START_TEST(test_build_parse_v6)
{
	static const uint8_t q[] = { 0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
	    0, 0, 1, 0, 1 };
	union fz_sockaddr from, to, f2, t2;
	uint8_t pkt[128];
	const uint8_t *p;
	size_t len, plen;

	sa("[fd00:2021:1111::3]:5353", &from);
	sa("[fd00:2021:1111:8000:100:100:111:2]:53", &to);
	ck_assert_int_eq(dnspkt_build(&from, &to, q, sizeof(q), pkt,
	    sizeof(pkt), &len), 0);
	ck_assert_uint_eq(len, 40 + 8 + sizeof(q));
	ck_assert_uint_eq(pkt[0] >> 4, 6);
	ck_assert_uint_eq(udp_verify(pkt, len, 40), 0);
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen), 0);
	ck_assert(addr_eq(&f2.sa, &from.sa));
	ck_assert(addr_eq(&t2.sa, &to.sa));
	ck_assert_mem_eq(p, q, sizeof(q));
	ck_assert(dnspkt_is_sentinel(AF_INET6, pkt + 24));
	pkt[39] = 0xff;		/* still in the /120 */
	ck_assert(dnspkt_is_sentinel(AF_INET6, pkt + 24));
	pkt[38] = 0x12;		/* outside */
	ck_assert(!dnspkt_is_sentinel(AF_INET6, pkt + 24));
	/* mixed families */
	sa("100.100.111.1:53", &to);
	ck_assert_int_eq(dnspkt_build(&from, &to, q, sizeof(q), pkt,
	    sizeof(pkt), &len), -EAFNOSUPPORT);
}
END_TEST

static Suite *
client_net_suite(void)
{
	Suite *s = suite_create("client_net");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_list_parse);
	tcase_add_test(tc, test_resource_cidrs);
	tcase_add_test(tc, test_build_parse_v4);
	tcase_add_test(tc, test_build_parse_v6);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(client_net_suite)
