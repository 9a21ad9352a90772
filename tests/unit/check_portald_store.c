/* SPDX-License-Identifier: ISC */
/* fz-portald's SQLite device store: stable, unique, persistent addresses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "contrib/portal/store.h"

#define PK1 "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY="
#define PK2 "fiAjSBWDgQfD1CFJkTwOf4zg+1QhH0eTT+oLaVIMpH8="

static char dbpath[64];

static void
setup(void)
{
	int fd;

	snprintf(dbpath, sizeof(dbpath), "/tmp/check_portald_store.XXXXXX");
	fd = mkstemp(dbpath);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void
teardown(void)
{
	char p[80];

	unlink(dbpath);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
}

START_TEST(test_addresses)
{
	char v4[INET_ADDRSTRLEN], v6[INET6_ADDRSTRLEN];

	ck_assert_int_eq(pd_store_addresses(1, v4, v6), 0);
	ck_assert_str_eq(v4, "100.64.0.1");
	ck_assert_str_eq(v6, "fd00:2021:1111::1");
	ck_assert_int_eq(pd_store_addresses(0x12345, v4, v6), 0);
	ck_assert_str_eq(v4, "100.65.35.69");
	ck_assert_str_eq(v6, "fd00:2021:1111::1:2345");
	ck_assert_int_eq(pd_store_addresses(PD_STORE_MAX_DEVICES, v4, v6), 0);
	ck_assert_str_eq(v4, "100.95.255.254");	/* last of /11 but broadcast */
	ck_assert_str_eq(v6, "fd00:2021:1111::1f:fffe");
	ck_assert_int_eq(pd_store_addresses(0, v4, v6), -ERANGE);
	ck_assert_int_eq(pd_store_addresses(PD_STORE_MAX_DEVICES + 1, v4, v6),
	    -ERANGE);
}
END_TEST

START_TEST(test_stable_unique_persistent)
{
	struct pd_store *s;
	struct pd_device a, a2, g, c2;

	ck_assert_int_eq(pd_store_open_sqlite(dbpath, &s), 0);
	ck_assert_int_eq(pd_store_device_upsert(s, PD_ROLE_CLIENT, "ext-a",
	    "laptop", PK1, 100, &a), 0);
	ck_assert_str_eq(a.ipv4, "100.64.0.1");
	ck_assert_str_eq(a.ipv6, "fd00:2021:1111::1");
	ck_assert_int_eq(a.last_seen, 100);
	ck_assert_int_eq(a.id[14], '4');
	/* a gateway with the same external_id is another device */
	ck_assert_int_eq(pd_store_device_upsert(s, PD_ROLE_GATEWAY, "ext-a",
	    "gw", PK2, 101, &g), 0);
	ck_assert_str_eq(g.ipv4, "100.64.0.2");
	ck_assert_str_ne(g.id, a.id);
	ck_assert_int_ne(memcmp(g.psk_base, a.psk_base, PD_PSK_BASE_LEN), 0);
	/* reconnect with a new key and name: same id, addresses, psk_base */
	ck_assert_int_eq(pd_store_device_upsert(s, PD_ROLE_CLIENT, "ext-a",
	    "laptop2", PK2, 200, &a2), 0);
	ck_assert_str_eq(a2.id, a.id);
	ck_assert_str_eq(a2.ipv4, a.ipv4);
	ck_assert_str_eq(a2.ipv6, a.ipv6);
	ck_assert_str_eq(a2.name, "laptop2");
	ck_assert_str_eq(a2.public_key, PK2);
	ck_assert_int_eq(a2.last_seen, 200);
	ck_assert_int_eq(memcmp(a2.psk_base, a.psk_base, PD_PSK_BASE_LEN), 0);
	ck_assert_int_eq(pd_store_device_seen(s, a.id, 300), 0);
	pd_store_free(s);

	/* after a restart */
	ck_assert_int_eq(pd_store_open_sqlite(dbpath, &s), 0);
	ck_assert_int_eq(pd_store_device_upsert(s, PD_ROLE_CLIENT, "ext-a",
	    "laptop2", PK2, 400, &a2), 0);
	ck_assert_str_eq(a2.id, a.id);
	ck_assert_str_eq(a2.ipv4, "100.64.0.1");
	ck_assert_int_eq(memcmp(a2.psk_base, a.psk_base, PD_PSK_BASE_LEN), 0);
	ck_assert_int_eq(pd_store_device_upsert(s, PD_ROLE_CLIENT, "ext-b",
	    "other", PK1, 401, &c2), 0);
	ck_assert_str_eq(c2.ipv4, "100.64.0.3");	/* never reused */
	ck_assert_str_eq(c2.ipv6, "fd00:2021:1111::3");
	pd_store_free(s);
}
END_TEST

static int
authz_collect(void *arg, const struct pd_store_authz *a)
{
	struct pd_store_authz *out = arg;
	size_t i;

	for (i = 0; i < 4 && out[i].client_id[0] != '\0'; i++)
		;
	ck_assert_uint_lt(i, 4);
	out[i] = *a;
	return 0;
}

/* Authorizations survive a restart; expired and deleted ones do not. */
START_TEST(test_authz_kept)
{
	struct pd_store *s;
	struct pd_store_authz a = { "owner-1", "client-1", "gw-1", "res-1",
	    2000 }, got[4];

	ck_assert_int_eq(pd_store_open_sqlite(dbpath, &s), 0);
	ck_assert_int_eq(pd_store_authz_put(s, &a), 0);
	a.expires_at = 3000;				/* replaced, not added */
	ck_assert_int_eq(pd_store_authz_put(s, &a), 0);
	snprintf(a.resource_id, sizeof(a.resource_id), "res-2");
	ck_assert_int_eq(pd_store_authz_put(s, &a), 0);
	snprintf(a.resource_id, sizeof(a.resource_id), "res-old");
	a.expires_at = 500;
	ck_assert_int_eq(pd_store_authz_put(s, &a), 0);
	pd_store_free(s);

	ck_assert_int_eq(pd_store_open_sqlite(dbpath, &s), 0);
	memset(got, 0, sizeof(got));
	ck_assert_int_eq(pd_store_authz_each(s, 1000, authz_collect, got), 0);
	ck_assert_str_eq(got[0].resource_id, "res-1");
	ck_assert_int_eq(got[0].expires_at, 3000);
	ck_assert_str_eq(got[0].client_owner, "owner-1");
	ck_assert_str_eq(got[0].gateway_id, "gw-1");
	ck_assert_str_eq(got[1].resource_id, "res-2");
	ck_assert_str_eq(got[2].client_id, "");		/* res-old expired */
	ck_assert_int_eq(pd_store_authz_del(s, "client-1", "gw-1", "res-1"), 0);
	memset(got, 0, sizeof(got));
	ck_assert_int_eq(pd_store_authz_each(s, 1000, authz_collect, got), 0);
	ck_assert_str_eq(got[0].resource_id, "res-2");
	ck_assert_str_eq(got[1].client_id, "");
	pd_store_free(s);
}
END_TEST

static int
authz_stop(void *arg, const struct pd_store_authz *a)
{
	(*(int *)arg)++;
	(void)a;
	return 7;
}

/* The store keeps its statements prepared: one left half-way (a callback
 * stopped the walk) starts afresh next time and holds no lock. */
START_TEST(test_stmt_reuse)
{
	struct pd_store *s, *s2;
	struct pd_store_authz a = { "o", "c", "g", "r1", 2000 }, got[4];
	struct pd_device d, d2;
	int n = 0, i;

	ck_assert_int_eq(pd_store_open_sqlite(dbpath, &s), 0);
	ck_assert_int_eq(pd_store_authz_put(s, &a), 0);
	snprintf(a.resource_id, sizeof(a.resource_id), "r2");
	ck_assert_int_eq(pd_store_authz_put(s, &a), 0);
	ck_assert_int_eq(pd_store_authz_each(s, 1000, authz_stop, &n), 7);
	ck_assert_int_eq(n, 1);
	/* another connection can write: nothing is left locked */
	ck_assert_int_eq(pd_store_open_sqlite(dbpath, &s2), 0);
	ck_assert_int_eq(pd_store_device_upsert(s2, PD_ROLE_CLIENT, "x", "n",
	    PK1, 5, &d2), 0);
	pd_store_free(s2);
	memset(got, 0, sizeof(got));
	ck_assert_int_eq(pd_store_authz_each(s, 1000, authz_collect, got), 0);
	ck_assert_str_eq(got[0].resource_id, "r1");
	ck_assert_str_eq(got[1].resource_id, "r2");
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(pd_store_device_upsert(s, PD_ROLE_CLIENT, "x",
		    "n", PK1, 6 + i, &d), 0);
		ck_assert_str_eq(d.id, d2.id);
		ck_assert_int_eq(d.last_seen, 6 + i);
	}
	pd_store_free(s);
}
END_TEST

START_TEST(test_invalid)
{
	struct pd_store *s;
	struct pd_device d;
	char longid[PD_EXTID_MAX + 2];

	ck_assert_int_eq(pd_store_open_sqlite(dbpath, &s), 0);
	ck_assert_int_eq(pd_store_device_upsert(s, PD_ROLE_CLIENT, "x", "n",
	    "short", 1, &d), -EINVAL);
	ck_assert_int_eq(pd_store_device_upsert(s, PD_ROLE_CLIENT, "", "n",
	    PK1, 1, &d), -EINVAL);
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ck_assert_int_eq(pd_store_device_upsert(s, PD_ROLE_CLIENT, longid, "n",
	    PK1, 1, &d), -EINVAL);
	/* SQL metacharacters are data */
	ck_assert_int_eq(pd_store_device_upsert(s, PD_ROLE_CLIENT,
	    "x'); DROP TABLE devices;--", "n", PK1, 1, &d), 0);
	ck_assert_str_eq(d.external_id, "x'); DROP TABLE devices;--");
	pd_store_free(s);
	pd_store_free(NULL);
	ck_assert_int_ne(pd_store_open_sqlite("/nonexistent/dir/x.db", &s), 0);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("portald_store");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_stable_unique_persistent);
	tcase_add_test(tc, test_stmt_reuse);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_authz_kept);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
