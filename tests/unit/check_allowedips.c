/* SPDX-License-Identifier: ISC */
/* The allowed-IPs trie against a naive reference with random tables. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"
#include "check_util.h"

static void *
V(int n)
{
	return (void *)(uintptr_t)n;
}

static void
ins(struct allowedips *t, const char *s, int v)
{
	struct fz_cidr c;

	ck_assert_int_eq(cidr_parse(s, false, &c), 0);
	ck_assert_int_eq(allowedips_insert(t, &c, V(v)), 0);
}

static void *
look(struct allowedips *t, const char *s)
{
	uint8_t a[16];
	int fam = strchr(s, ':') != NULL ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(fam, s, a), 1);
	return allowedips_lookup(t, fam, a);
}

START_TEST(test_basic)
{
	struct allowedips *t;

	ck_assert_int_eq(allowedips_new(&t), 0);
	ck_assert_ptr_null(look(t, "10.0.0.1"));
	ins(t, "10.0.0.0/8", 1);
	ins(t, "10.1.0.0/16", 2);
	ins(t, "10.1.2.3/32", 3);
	ins(t, "0.0.0.0/0", 4);
	ins(t, "fd00::/8", 5);
	ins(t, "fd00:2021::/32", 6);
	ck_assert_ptr_eq(look(t, "10.0.0.1"), V(1));
	ck_assert_ptr_eq(look(t, "10.1.9.9"), V(2));
	ck_assert_ptr_eq(look(t, "10.1.2.3"), V(3));
	ck_assert_ptr_eq(look(t, "11.0.0.0"), V(4));
	ck_assert_ptr_eq(look(t, "fd00:2021::1"), V(6));
	ck_assert_ptr_eq(look(t, "fd01::1"), V(5));
	ck_assert_ptr_null(look(t, "2001:db8::1"));
	ck_assert_uint_eq(allowedips_count(t), 6);
	ins(t, "10.1.0.0/16", 7);			/* replace */
	ck_assert_ptr_eq(look(t, "10.1.9.9"), V(7));
	ck_assert_uint_eq(allowedips_count(t), 6);
	allowedips_remove_value(t, V(7));
	ck_assert_ptr_eq(look(t, "10.1.9.9"), V(1));
	ck_assert_ptr_eq(look(t, "10.1.2.3"), V(3));
	allowedips_remove_value(t, V(4));
	ck_assert_ptr_null(look(t, "11.0.0.0"));
	ck_assert_uint_eq(allowedips_count(t), 4);
	allowedips_free(t);
}
END_TEST

struct ref {
	struct fz_cidr	c;
	int		v;
};

static int
ref_lookup(struct ref *r, int n, int fam, const uint8_t *a)
{
	int i, best = -1, bestlen = -1;

	for (i = 0; i < n; i++) {
		if (r[i].v != 0 && cidr_contains(&r[i].c, fam, a) &&
		    r[i].c.prefix > bestlen) {
			best = r[i].v;
			bestlen = r[i].c.prefix;
		}
	}
	return best;
}

/* Random prefixes biased to share bits, then random removals. */
static void
random_round(int fam, unsigned seed)
{
	enum { N = 1500, Q = 20000 };
	static struct ref r[N];
	unsigned alen = fam == AF_INET ? 4 : 16, maxp = alen * 8;
	struct allowedips *t;
	uint8_t a[16];
	int i, j, n = 0;

	srandom(seed);
	ck_assert_int_eq(allowedips_new(&t), 0);
	for (i = 0; i < N; i++) {
		struct fz_cidr c;
		char s[64];

		memset(a, 0, sizeof(a));
		for (j = 0; j < (int)alen; j++)
			a[j] = (uint8_t)(random() & (j < 2 ? 0x3 : 0xff));
		inet_ntop(fam, a, s, sizeof(s));
		snprintf(s + strlen(s), 8, "/%ld", random() % (maxp + 1));
		ck_assert_int_eq(cidr_parse(s, false, &c), 0);
		/* Later inserts of an equal prefix replace earlier ones. */
		for (j = 0; j < n; j++)
			if (r[j].c.prefix == c.prefix &&
			    memcmp(r[j].c.addr, c.addr, 16) == 0)
				r[j].v = 0;
		r[n].c = c;
		r[n].v = i + 1;
		n++;
		ck_assert_int_eq(allowedips_insert(t, &c, V(i + 1)), 0);
	}
	for (i = 0; i < Q; i++) {
		int want, got;

		if (i == Q / 2) {
			/* Remove a third of the values. */
			for (j = 0; j < n; j += 3) {
				if (r[j].v != 0)
					allowedips_remove_value(t, V(r[j].v));
				r[j].v = 0;
			}
		}
		for (j = 0; j < (int)alen; j++)
			a[j] = (uint8_t)(random() & (j < 2 ? 0x3 : 0xff));
		want = ref_lookup(r, n, fam, a);
		got = (int)(uintptr_t)allowedips_lookup(t, fam, a);
		ck_assert_int_eq(got == 0 ? -1 : got, want);
	}
	allowedips_free(t);
}

START_TEST(test_random_v4)
{
	random_round(AF_INET, 1);
	random_round(AF_INET, 2);
}
END_TEST

START_TEST(test_random_v6)
{
	random_round(AF_INET6, 3);
}
END_TEST

static void
count_cb(const struct fz_cidr *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
}

START_TEST(test_walk_and_bad)
{
	struct allowedips *t;
	struct fz_cidr c;
	int n = 0;

	ck_assert_int_eq(allowedips_new(&t), 0);
	ins(t, "10.0.0.0/24", 1);
	ins(t, "fd00::1/128", 1);
	ins(t, "10.0.1.0/24", 2);
	allowedips_walk(t, V(1), count_cb, &n);
	ck_assert_int_eq(n, 2);
	memset(&c, 0, sizeof(c));
	c.family = AF_UNIX;
	ck_assert_int_eq(allowedips_insert(t, &c, V(1)), -EINVAL);
	ck_assert_int_eq(cidr_parse("1.2.3.4/32", true, &c), 0);
	ck_assert_int_eq(allowedips_insert(t, &c, NULL), -EINVAL);
	ck_assert_ptr_null(allowedips_lookup(t, AF_UNIX, c.addr));
	allowedips_free(t);
	allowedips_free(NULL);
}
END_TEST

static Suite *
aip_suite(void)
{
	Suite *s = suite_create("allowedips");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_random_v4);
	tcase_add_test(tc, test_random_v6);
	tcase_add_test(tc, test_walk_and_bad);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(aip_suite)
