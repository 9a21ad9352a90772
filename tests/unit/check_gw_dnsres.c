/* SPDX-License-Identifier: ISC */
/*
 * The gateway's DNS-resource authorizations for assigned_ips
 * (controld/gw_dnsres.c): pattern matches (wildcards, case, a trailing
 * dot), expiry, reject_access, resource_updated (a bad pattern fails
 * closed), the re-sync, bad input refused, the cap.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>

#include "check_util.h"
#include "gw_dnsres.h"

#define CL1	"11111111-1111-4111-8111-111111111111"
#define CL2	"22222222-2222-4222-8222-222222222222"
#define RA	"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define RB	"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"

START_TEST(test_check)
{
	struct gw_dnsres *t;

	ck_assert_ptr_nonnull(t = gw_dnsres_new());
	ck_assert_int_eq(gw_dnsres_set(t, CL1, RA, "*.Corp.test", 1000), 0);
	ck_assert_int_eq(gw_dnsres_set(t, CL1, RB, "db.corp.test", 0), 0);
	ck_assert_uint_eq(gw_dnsres_count(t), 2);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, "app.corp.test", 999),
	    0);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, "APP.corp.test.", 999),
	    0);
	/* "*." also matches the parent (§4.4) */
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, "corp.test", 999), 0);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, "a.b.corp.test", 999),
	    -EPERM);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, "app.evil.test", 999),
	    -EPERM);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, "", 999), -EPERM);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, NULL, 999), -EPERM);
	/* expired at expires_at; 0 never */
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, "app.corp.test", 1000),
	    -ETIMEDOUT);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RB, "db.corp.test",
	    UINT64_MAX), 0);
	/* another client, another resource's domain */
	ck_assert_int_eq(gw_dnsres_check(t, CL2, RA, "app.corp.test", 1),
	    -ENOENT);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RB, "app.corp.test", 1),
	    -EPERM);
	/* replaced: new expiry */
	ck_assert_int_eq(gw_dnsres_set(t, CL1, RA, "*.corp.test", 2000), 0);
	ck_assert_uint_eq(gw_dnsres_count(t), 2);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, "app.corp.test", 1500),
	    0);
	/* reject_access */
	ck_assert_int_eq(gw_dnsres_del(t, CL1, RA), 0);
	ck_assert_int_eq(gw_dnsres_del(t, CL1, RA), -ENOENT);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, "app.corp.test", 1),
	    -ENOENT);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RB, "db.corp.test", 1), 0);
	gw_dnsres_free(t);
	gw_dnsres_free(NULL);
}
END_TEST

START_TEST(test_update_and_resync)
{
	struct gw_dnsres *t;

	ck_assert_ptr_nonnull(t = gw_dnsres_new());
	ck_assert_int_eq(gw_dnsres_set(t, CL1, RA, "app.corp.test", 0), 0);
	ck_assert_int_eq(gw_dnsres_set(t, CL2, RA, "app.corp.test", 0), 0);
	ck_assert_int_eq(gw_dnsres_set(t, CL2, RB, "db.corp.test", 0), 0);
	ck_assert_uint_eq(gw_dnsres_update(t, RA, "**.corp.test"), 2);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, "a.b.corp.test", 1), 0);
	ck_assert_int_eq(gw_dnsres_check(t, CL2, RA, "x.corp.test", 1), 0);
	/* a pattern that does not parse: its entries go (fails closed) */
	ck_assert_uint_eq(gw_dnsres_update(t, RA, "a..b"), 2);
	ck_assert_uint_eq(gw_dnsres_count(t), 1);
	ck_assert_int_eq(gw_dnsres_check(t, CL1, RA, "a.corp.test", 1),
	    -ENOENT);
	ck_assert_uint_eq(gw_dnsres_update(t, RA, "x.test"), 0);
	ck_assert_int_eq(gw_dnsres_check(t, CL2, RB, "db.corp.test", 1), 0);
	gw_dnsres_clear(t);
	ck_assert_uint_eq(gw_dnsres_count(t), 0);
	ck_assert_int_eq(gw_dnsres_check(t, CL2, RB, "db.corp.test", 1),
	    -ENOENT);
	gw_dnsres_free(t);
}
END_TEST

START_TEST(test_refused_and_cap)
{
	char id[80], big[80];
	struct gw_dnsres *t;
	unsigned i;

	ck_assert_ptr_nonnull(t = gw_dnsres_new());
	ck_assert_int_eq(gw_dnsres_set(t, "", RA, "a.test", 0), -EINVAL);
	ck_assert_int_eq(gw_dnsres_set(t, CL1, NULL, "a.test", 0), -EINVAL);
	ck_assert_int_eq(gw_dnsres_set(t, CL1, RA, "a b.test", 0), -EINVAL);
	ck_assert_int_eq(gw_dnsres_set(t, CL1, RA, "", 0), -EINVAL);
	ck_assert_int_eq(gw_dnsres_set(t, CL1, RA, NULL, 0), -EINVAL);
	snprintf(big, sizeof(big), "%065d", 0);
	ck_assert_int_eq(gw_dnsres_set(t, big, RA, "a.test", 0), -EINVAL);
	ck_assert_int_eq(gw_dnsres_check(t, big, RA, "a.test", 0), -ENOENT);
	ck_assert_uint_eq(gw_dnsres_count(t), 0);
	for (i = 0; i < GW_DNSRES_MAX; i++) {
		snprintf(id, sizeof(id), "client-%u", i);
		ck_assert_int_eq(gw_dnsres_set(t, id, RA, "a.test", 0), 0);
	}
	ck_assert_int_eq(gw_dnsres_set(t, CL1, RA, "a.test", 0), -ENOSPC);
	/* replacing one that exists still works when full */
	ck_assert_int_eq(gw_dnsres_set(t, "client-7", RA, "b.test", 0), 0);
	ck_assert_int_eq(gw_dnsres_check(t, "client-7", RA, "b.test", 0), 0);
	gw_dnsres_free(t);
}
END_TEST

static Suite *
gw_dnsres_suite(void)
{
	Suite *s = suite_create("gw_dnsres");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_update_and_resync);
	tcase_add_test(tc, test_refused_and_cap);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(gw_dnsres_suite)
