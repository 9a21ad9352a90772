/* SPDX-License-Identifier: ISC */
/*
 * The resource pattern matcher and its specificity order.  The tables are
 * Firezone's own test cases (tunnel-proto dns/resource_stub_resolver.rs
 * domain_pattern_matches / domain_pattern_does_not_match, dns/pattern.rs
 * pattern_ordering) plus the cases firezone-protocols.md §4.4 states.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "dns_pattern.h"

struct match_case {
	const char	*pattern, *name;
	bool		 match;
};

static const struct match_case cases[] = {
	/* Firezone: domain_pattern_matches */
	{ "**.example.com", "example.com", true },
	{ "app.**.example.com", "app.bar.foo.example.com", true },
	{ "**.example.com", "foo.example.com", true },
	{ "**.example.com", "foo.bar.example.com", true },
	{ "*.example.com", "foo.example.com", true },
	{ "*.example.com", "example.com", true },
	{ "foo.*.example.com", "foo.bar.example.com", true },
	{ "app.*.*.example.com", "app.foo.bar.example.com", true },
	{ "app.f??.example.com", "app.foo.example.com", true },
	{ "app.example.com", "app.example.com", true },
	{ "*?*.example.com", "app.example.com", true },
	{ "app.**.web.**.example.com", "app.web.example.com", true },
	/* Firezone: domain_pattern_does_not_match */
	{ "app.*.example.com", "app.foo.bar.example.com", false },
	{ "app.*com", "app.foo.com", false },
	{ "app?com", "app.com", false },
	/* §4.4 and edges */
	{ "app.**.example.com", "app.x.y.example.com", true },
	{ "app.**.example.com", "app.example.com", true },
	{ "app.example.com", "APP.Example.COM.", true },
	{ "APP.example.com", "app.example.com", true },
	{ "app.example.com", "xapp.example.com", false },
	{ "app.example.com", "example.com", false },
	{ "*.example.com", "a.b.example.com", false },
	{ "*.example.com", "notexample.com", false },
	{ "*.example.com", "com", false },
	{ "**.example.com", "com", false },
	{ "**.example.com", "xexample.com", false },
	{ "app.f??.example.com", "app.fo.example.com", false },
	{ "app.f??.example.com", "app.fooo.example.com", false },
	{ "*ample.com", "example.com", true },
	{ "*ample.com", "a.example.com", false },
	{ "a*b*c.corp", "abc.corp", true },
	{ "a*b*c.corp", "axxbyyc.corp", true },
	{ "a*b*c.corp", "axxbyy.corp", false },
	{ "**", "anything.at.all", true },
	{ "app.**.web.**.example.com", "app.1.2.web.3.example.com", true },
	{ "app.**.web.**.example.com", "app.1.2.example.com", false },
	{ "example.com", "example..com", false },
	{ "example.com", "", false },
};

START_TEST(test_match_table)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char norm[DNS_PATTERN_MAX + 1];

		ck_assert_int_eq(dns_pattern_normalize(cases[i].pattern, norm,
		    sizeof(norm)), 0);
		ck_assert_msg(dns_pattern_match(norm, cases[i].name) ==
		    cases[i].match, "%s vs %s: expected %s", cases[i].pattern,
		    cases[i].name, cases[i].match ? "match" : "no match");
	}
}
END_TEST

START_TEST(test_normalize)
{
	static const char *bad[] = { "", ".", "a..b", ".a", "a**.b", "**a.b",
	    "a.***", "a b.c", "a/b", "[ab].c", "a\\.b", "ex%ample.com" };
	char norm[DNS_PATTERN_MAX + 1], big[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(dns_pattern_normalize(bad[i], norm,
		    sizeof(norm)) == -EINVAL, "%s accepted", bad[i]);
	ck_assert_int_eq(dns_pattern_normalize("App.Example.COM.", norm,
	    sizeof(norm)), 0);
	ck_assert_str_eq(norm, "app.example.com");
	ck_assert_int_eq(dns_pattern_normalize("*-x_y?.**.c", norm,
	    sizeof(norm)), 0);
	ck_assert_str_eq(norm, "*-x_y?.**.c");
	/* a label of 64 and a name of 254 are too long */
	memset(big, 'a', 64);
	strcpy(big + 64, ".com");
	ck_assert_int_eq(dns_pattern_normalize(big, norm, sizeof(norm)),
	    -EINVAL);
	for (i = 0; i < 254; i++)
		big[i] = i % 2 ? '.' : 'a';
	big[253] = 'a';
	big[254] = '\0';
	ck_assert_int_eq(dns_pattern_normalize(big, norm, sizeof(norm)),
	    -EINVAL);
	big[253] = '\0';
	ck_assert_int_eq(dns_pattern_normalize(big, norm, sizeof(norm)), 0);
	ck_assert(dns_pattern_match(norm, big));
	ck_assert_int_eq(dns_pattern_normalize("a.b", norm, 3), -EINVAL);
}
END_TEST

static int
cmp_qsort(const void *a, const void *b)
{
	return dns_pattern_cmp(*(const char *const *)a,
	    *(const char *const *)b);
}

/* Firezone's pattern_ordering: a set of patterns iterates in this order. */
START_TEST(test_ordering_table)
{
	const char *in[] = { "**.example.com", "bar.example.com",
	    "foo.example.com", "example.com", "*ample.com",
	    "*.bar.example.com", "?.example.com", "*.com", "*.example.com" };
	static const char *want[] = {
		"example.com",		/* shorter first */
		"bar.example.com",	/* lexical by default */
		"*.bar.example.com",	/* lexically before a specific one */
		"foo.example.com",
		"?.example.com",	/* '?' second */
		"*.example.com",	/* '*' third */
		"**.example.com",	/* "**" last */
		"*ample.com",		/* a specific part beats a wildcard */
		"*.com",		/* wildcards after all literals */
	};
	size_t i, j, n = sizeof(in) / sizeof(in[0]);

	qsort(in, n, sizeof(in[0]), cmp_qsort);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(in[i], want[i]);
	/* antisymmetric, and equal only to itself */
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			int a = dns_pattern_cmp(want[i], want[j]);
			int b = dns_pattern_cmp(want[j], want[i]);

			ck_assert_int_eq(a < 0, b > 0);
			ck_assert_int_eq(a == 0, i == j);
			ck_assert_int_eq(a < 0, i < j);
		}
}
END_TEST

/* Many "**" cost polynomial time (a naive backtracker would not finish). */
START_TEST(test_many_double_stars)
{
	char pat[DNS_PATTERN_MAX + 1], name[DNS_PATTERN_MAX + 1], norm[300];
	size_t i, p = 0, n = 0;

	for (i = 0; i < 60; i++) {
		memcpy(pat + p, "**.", 3);
		p += 3;
	}
	memcpy(pat + p, "x", 2);
	for (i = 0; i < 120; i++) {
		memcpy(name + n, "a.", 2);
		n += 2;
	}
	memcpy(name + n, "y", 2);
	ck_assert_int_eq(dns_pattern_normalize(pat, norm, sizeof(norm)), 0);
	ck_assert(!dns_pattern_match(norm, name));
	name[n] = 'x';
	ck_assert(dns_pattern_match(norm, name));
}
END_TEST

static Suite *
dns_pattern_suite(void)
{
	Suite *s = suite_create("dns_pattern");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_match_table);
	tcase_add_test(tc, test_normalize);
	tcase_add_test(tc, test_ordering_table);
	tcase_add_test(tc, test_many_double_stars);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dns_pattern_suite)
