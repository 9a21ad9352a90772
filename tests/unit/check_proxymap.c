/* SPDX-License-Identifier: ISC */
/* The client's proxy IP map (proxymap.h): parse, set, replace, evict. */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "proxymap.h"

#define RES	"00000000-0000-0000-0000-000000000065"
#define IPS8	"100.96.0.1, 100.96.0.2, 100.96.0.3, 100.96.0.4, " \
		"fd00:2021:1111:8000::, fd00:2021:1111:8000::1, " \
		"fd00:2021:1111:8000::2, fd00:2021:1111:8000::3"

static struct fz_ip
ip(const char *s)
{
	struct fz_ip r;

	memset(&r, 0, sizeof(r));
	if (inet_pton(AF_INET, s, r.a) == 1)
		r.af = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, s, r.a), 1);
		r.af = AF_INET6;
	}
	return r;
}

/* Name n's 4 IPv4 proxy IPs: 100.96.n/256.n%256*4+1.. */
static struct p2p_msg
name4(unsigned n, const char *res)
{
	struct p2p_msg m;
	char dom[64];

	memset(&m, 0, sizeof(m));
	m.type = P2P_ASSIGNED_IPS;
	snprintf(m.resource, sizeof(m.resource), "%s", res);
	snprintf(dom, sizeof(dom), "n%u.corp.test", n);
	snprintf(m.domain, sizeof(m.domain), "%s", dom);
	m.nproxy = 4;
	for (unsigned i = 0; i < 4; i++) {
		m.proxy[i].af = AF_INET;
		m.proxy[i].a[0] = 100;
		m.proxy[i].a[1] = 97 + (uint8_t)(n >> 14);
		m.proxy[i].a[2] = (uint8_t)(n >> 6);
		m.proxy[i].a[3] = (uint8_t)(((n & 63) << 2) + i);
	}
	return m;
}

START_TEST(test_range)
{
	struct fz_ip a;

	a = ip("100.96.0.1");
	ck_assert(proxymap_in_range(0, a.a));
	a = ip("100.127.255.255");
	ck_assert(proxymap_in_range(0, a.a));
	a = ip("100.128.0.0");
	ck_assert(!proxymap_in_range(0, a.a));
	a = ip("100.95.255.255");
	ck_assert(!proxymap_in_range(0, a.a));
	a = ip("10.96.0.1");
	ck_assert(!proxymap_in_range(0, a.a));
	a = ip("fd00:2021:1111:8000::1");
	ck_assert(proxymap_in_range(1, a.a));
	a = ip("fd00:2021:1111:8000::1f:ffff");
	ck_assert(proxymap_in_range(1, a.a));
	a = ip("fd00:2021:1111:8000::20:0");
	ck_assert(!proxymap_in_range(1, a.a));
	a = ip("fd00:2021:1111::1");		/* a tunnel address */
	ck_assert(!proxymap_in_range(1, a.a));
	a = ip("fd00:2021:1111:8000:100:100:111:0");	/* a sentinel */
	ck_assert(!proxymap_in_range(1, a.a));
}
END_TEST

START_TEST(test_parse)
{
	struct p2p_msg m;

	memset(&m, 0x55, sizeof(m));
	ck_assert_int_eq(proxymap_parse(RES, "app.corp.test", IPS8, &m), 0);
	ck_assert_int_eq(m.type, P2P_ASSIGNED_IPS);
	ck_assert_str_eq(m.resource, RES);
	ck_assert_str_eq(m.domain, "app.corp.test");
	ck_assert_uint_eq(m.nproxy, 8);
	ck_assert_int_eq(m.proxy[0].af, AF_INET);
	ck_assert_int_eq(m.proxy[3].a[3], 4);
	ck_assert_int_eq(m.proxy[7].af, AF_INET6);
	ck_assert_int_eq(m.proxy[7].a[15], 3);
	ck_assert_int_eq(proxymap_parse(RES, "a.b", "100.96.0.1, 100.96.0.2, "
	    "100.96.0.3, 100.96.0.4", &m), 0);
	ck_assert_uint_eq(m.nproxy, 4);
}
END_TEST

START_TEST(test_parse_reject)
{
	static const char *const bad_ips[] = {
		"",
		"100.96.0.1",
		"100.96.0.1, 100.96.0.2, 100.96.0.3",		/* 3 */
		"100.96.0.1, 100.96.0.2, 100.96.0.3, 100.96.0.4, "
		    "100.96.0.5",				/* 5 */
		"100.96.0.1, 100.96.0.2, 100.96.0.3, 10.0.0.1",	/* range */
		"100.96.0.1, 100.96.0.2, 100.96.0.3, 100.100.111.1",
		"100.96.0.1, 100.96.0.2, 100.96.0.3, 100.96.0.3", /* twice */
		"100.96.0.1, 100.96.0.2, 100.96.0.3, 100.96.0.4:53",
		"100.96.0.1, 100.96.0.2, 100.96.0.3, nonsense",
		IPS8 ", 100.96.0.9",				/* 9 */
	};
	char longres[P2P_RESOURCE_MAX + 2], longdom[P2P_DOMAIN_MAX + 2];
	struct p2p_msg m, keep;

	memset(&m, 0x55, sizeof(m));
	keep = m;
	for (size_t i = 0; i < sizeof(bad_ips) / sizeof(bad_ips[0]); i++)
		ck_assert_msg(proxymap_parse(RES, "a.b", bad_ips[i], &m) ==
		    -EINVAL, "%s", bad_ips[i]);
	memset(longres, 'a', sizeof(longres) - 1);
	longres[sizeof(longres) - 1] = '\0';
	memset(longdom, 'a', sizeof(longdom) - 1);
	longdom[sizeof(longdom) - 1] = '\0';
	ck_assert_int_eq(proxymap_parse(longres, "a.b", IPS8, &m), -EINVAL);
	ck_assert_int_eq(proxymap_parse(RES, longdom, IPS8, &m), -EINVAL);
	longdom[sizeof(longdom) - 2] = '\0';		/* 253: fine */
	ck_assert_int_eq(proxymap_parse(RES, longdom, IPS8, &m), 0);
	keep = m;
	ck_assert_int_eq(proxymap_parse("", "a.b", IPS8, &m), -EINVAL);
	ck_assert_int_eq(proxymap_parse("a\"b", "a.b", IPS8, &m), -EINVAL);
	ck_assert_int_eq(proxymap_parse(RES, "", IPS8, &m), -EINVAL);
	ck_assert_int_eq(proxymap_parse(RES, "a b", IPS8, &m), -EINVAL);
	ck_assert_int_eq(proxymap_parse(RES, "a\"b", IPS8, &m), -EINVAL);
	ck_assert_int_eq(proxymap_parse(NULL, "a", IPS8, &m), -EINVAL);
	ck_assert_int_eq(proxymap_parse(RES, "a", NULL, &m), -EINVAL);
	ck_assert(memcmp(&m, &keep, sizeof(m)) == 0);	/* untouched */
}
END_TEST

START_TEST(test_set_lookup_replace)
{
	struct proxymap *pm = proxymap_new();
	struct p2p_msg a, b, out;
	struct fz_ip x;

	ck_assert_ptr_nonnull(pm);
	ck_assert_int_eq(proxymap_parse(RES, "app.corp.test", IPS8, &a), 0);
	ck_assert_int_eq(proxymap_set(pm, &a), 0);
	ck_assert_uint_eq(proxymap_count(pm), 1);
	x = ip("fd00:2021:1111:8000::2");
	ck_assert_int_eq(proxymap_lookup(pm, &x, &out), 0);
	ck_assert_str_eq(out.domain, "app.corp.test");
	ck_assert_uint_eq(out.nproxy, 8);
	x = ip("100.96.0.5");
	ck_assert_int_eq(proxymap_lookup(pm, &x, &out), -ENOENT);
	/* The same name again with other IPs: the old ones go. */
	ck_assert_int_eq(proxymap_parse(RES, "app.corp.test", "100.96.0.5, "
	    "100.96.0.6, 100.96.0.7, 100.96.0.8", &b), 0);
	ck_assert_int_eq(proxymap_set(pm, &b), 0);
	ck_assert_uint_eq(proxymap_count(pm), 1);
	x = ip("100.96.0.1");
	ck_assert_int_eq(proxymap_lookup(pm, &x, &out), -ENOENT);
	x = ip("100.96.0.8");
	ck_assert_int_eq(proxymap_lookup(pm, &x, &out), 0);
	ck_assert_uint_eq(out.nproxy, 4);
	/* Another name taking one of those IPs: the first name goes. */
	ck_assert_int_eq(proxymap_parse("r2", "other.corp.test",
	    "100.96.0.8, 100.96.0.9, 100.96.0.10, 100.96.0.11", &a), 0);
	ck_assert_int_eq(proxymap_set(pm, &a), 0);
	ck_assert_uint_eq(proxymap_count(pm), 1);
	x = ip("100.96.0.5");
	ck_assert_int_eq(proxymap_lookup(pm, &x, &out), -ENOENT);
	x = ip("100.96.0.8");
	ck_assert_int_eq(proxymap_lookup(pm, &x, &out), 0);
	ck_assert_str_eq(out.domain, "other.corp.test");
	ck_assert_str_eq(out.resource, "r2");
	/* A bad message changes nothing. */
	a.nproxy = 3;
	ck_assert_int_eq(proxymap_set(pm, &a), -EINVAL);
	a.nproxy = 4;
	a.type = P2P_DOMAIN_STATUS;
	ck_assert_int_eq(proxymap_set(pm, &a), -EINVAL);
	ck_assert_uint_eq(proxymap_count(pm), 1);
	proxymap_clear(pm);
	ck_assert_uint_eq(proxymap_count(pm), 0);
	ck_assert_int_eq(proxymap_lookup(pm, &x, &out), -ENOENT);
	proxymap_free(pm);
	proxymap_free(NULL);
}
END_TEST

START_TEST(test_keep)
{
	struct proxymap *pm = proxymap_new();
	const char *ids[] = { "r1", "r3" };
	struct p2p_msg m, out;

	for (unsigned i = 0; i < 6; i++) {
		char res[8];

		snprintf(res, sizeof(res), "r%u", i % 3 + 1);
		m = name4(i, res);
		ck_assert_int_eq(proxymap_set(pm, &m), 0);
	}
	ck_assert_uint_eq(proxymap_count(pm), 6);
	ck_assert_uint_eq(proxymap_keep(pm, ids, 2), 2);	/* r2's */
	ck_assert_uint_eq(proxymap_count(pm), 4);
	m = name4(1, "r2");
	ck_assert_int_eq(proxymap_lookup(pm, &m.proxy[2], &out), -ENOENT);
	m = name4(2, "r3");
	ck_assert_int_eq(proxymap_lookup(pm, &m.proxy[2], &out), 0);
	ck_assert_str_eq(out.resource, "r3");
	ck_assert_uint_eq(proxymap_keep(pm, NULL, 0), 4);
	ck_assert_uint_eq(proxymap_count(pm), 0);
	proxymap_free(pm);
}
END_TEST

/* Full: the name set longest ago goes; every other one stays findable. */
START_TEST(test_evict)
{
	struct proxymap *pm = proxymap_new();
	struct p2p_msg m, out;
	unsigned i;

	for (i = 0; i < PROXYMAP_MAX; i++) {
		m = name4(i, "r");
		ck_assert_int_eq(proxymap_set(pm, &m), 0);
	}
	ck_assert_uint_eq(proxymap_count(pm), PROXYMAP_MAX);
	m = name4(0, "r");				/* refreshed */
	ck_assert_int_eq(proxymap_set(pm, &m), 0);
	m = name4(PROXYMAP_MAX, "r");
	ck_assert_int_eq(proxymap_set(pm, &m), 0);
	ck_assert_uint_eq(proxymap_count(pm), PROXYMAP_MAX);
	m = name4(1, "r");				/* the oldest now */
	ck_assert_int_eq(proxymap_lookup(pm, &m.proxy[0], &out), -ENOENT);
	for (i = 0; i <= PROXYMAP_MAX; i++) {
		if (i == 1)
			continue;
		m = name4(i, "r");
		for (unsigned j = 0; j < 4; j++) {
			ck_assert_int_eq(proxymap_lookup(pm, &m.proxy[j],
			    &out), 0);
			ck_assert_str_eq(out.domain, m.domain);
		}
	}
	proxymap_free(pm);
}
END_TEST

static Suite *
proxymap_suite(void)
{
	Suite *s = suite_create("proxymap");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_range);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_parse_reject);
	tcase_add_test(tc, test_set_lookup_replace);
	tcase_add_test(tc, test_keep);
	tcase_add_test(tc, test_evict);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(proxymap_suite)
