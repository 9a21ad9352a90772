/* SPDX-License-Identifier: ISC */
/* portal/creds.c against the vectors of firezone-protocols.md §9. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "creds.h"

#define SECRET_HEX \
	"4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab"
#define GW_PK	"uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY="
#define CL_ID	"3abd725a-733b-4801-ac16-72f26cd98a24"
#define CL_PK	"fiAjSBWDgQfD1CFJkTwOf4zg+1QhH0eTT+oLaVIMpH8="
#define GW_ID	"d263d490-a0bb-452a-8990-01d27a1f1144"

START_TEST(relay_password_vectors)
{
	char out[PORTAL_B64_SHA256_LEN + 1];

	ck_assert_int_eq(portal_relay_password(
	    "1cab293a-4032-46f4-862a-40e5d174b0d2", 1685984278,
	    "uvdgKvS9GXYZ_vmv", out), 0);
	ck_assert_str_eq(out, "6xUIoZ+QvxKhRasLifwfRkMXl+ETLJUsFkHlXjlHAkg");
	ck_assert_int_eq(portal_relay_password(SECRET_HEX, 1892160000,
	    "n23JJ2wKKtt30oXi", out), 0);
	ck_assert_str_eq(out, "00hqldgk5xLeKKOB+xls9mHMVtgqzie9DulfgQwMv68");
}
END_TEST

START_TEST(relay_username_and_portal_password)
{
	char user[128], salt[PORTAL_B64_SHA256_LEN + 1];
	char pw[PORTAL_B64_SHA256_LEN + 1];

	ck_assert_int_eq(portal_relay_salt(GW_PK, salt), 0);
	ck_assert_str_eq(salt, "IHF707vzp8S20otOb0X8DnipWwBnjqx3vXEV53OMrpE");
	ck_assert_int_eq(portal_relay_username(PORTAL_GATEWAY_RELAY_EXPIRY,
	    GW_PK, user, sizeof(user)), 0);
	ck_assert_str_eq(user,
	    "2145916800:IHF707vzp8S20otOb0X8DnipWwBnjqx3vXEV53OMrpE");
	ck_assert_int_eq(portal_relay_password(SECRET_HEX,
	    PORTAL_GATEWAY_RELAY_EXPIRY, salt, pw), 0);
	ck_assert_str_eq(pw, "uTgM6kXvA9fIDYm00KZyun05zr4mYPF3xVLvUA/qkz8");
	/* Too small a buffer: -ENOSPC, nothing claimed. */
	ck_assert_int_eq(portal_relay_username(PORTAL_GATEWAY_RELAY_EXPIRY,
	    GW_PK, user, 20), -ENOSPC);
}
END_TEST

START_TEST(relay_id_vector)
{
	char id[PORTAL_UUID_STRLEN + 1];

	ck_assert_int_eq(portal_relay_id(SECRET_HEX, id), 0);
	ck_assert_str_eq(id, "aa93cc3a-23e1-4e3b-93b9-0b7bb3c0a369");
}
END_TEST

START_TEST(ice_credentials_vector)
{
	struct portal_ice_creds i, r;

	ck_assert_int_eq(portal_ice_credentials(CL_ID, CL_PK, GW_ID, GW_PK,
	    &i, &r), 0);
	ck_assert_str_eq(i.username, "sim3");
	ck_assert_str_eq(i.password, "ceqc5rlg6ueluoxqoa56ze");
	ck_assert_str_eq(r.username, "bmet");
	ck_assert_str_eq(r.password, "g6zhuorrjh2c2cmvvuepsa");
	ck_assert_int_eq(portal_ice_credentials(CL_ID, NULL, GW_ID, GW_PK,
	    &i, &r), -EINVAL);
}
END_TEST

START_TEST(psk_vector)
{
	uint8_t c[32], g[32];
	char out[PORTAL_B64_KEY_LEN + 1], cc[PORTAL_B64_KEY_LEN + 1];
	int i;

	for (i = 0; i < 32; i++) {
		c[i] = (uint8_t)i;
		g[i] = (uint8_t)(0x20 + i);
	}
	ck_assert_int_eq(portal_psk(c, g, CL_ID, GW_ID, CL_PK, GW_PK, out), 0);
	ck_assert_str_eq(out, "AYlDZtTGEucn4Vzjdi9A2kXpjO4LJUqZNAssv/JqYRA=");
	/* The client<->client prefix gives another key of the same shape. */
	ck_assert_int_eq(portal_psk_cc(c, g, CL_ID, GW_ID, CL_PK, GW_PK, cc),
	    0);
	ck_assert_uint_eq(strlen(cc), 44);
	ck_assert_str_ne(cc, out);
}
END_TEST

START_TEST(external_id_hashing)
{
	char *s = NULL;

	ck_assert_int_eq(portal_external_id(
	    "9e2c7c1f-4d4b-4f5e-9c53-0f6a3b1f2e11", &s), 0);
	ck_assert_str_eq(s,
	    "0603e7e10da494a740c09d11943855faac2d432525934500bac8298a47caef73");
	free(s);
	/* Not a UUID: verbatim. */
	ck_assert_int_eq(portal_external_id("my-laptop", &s), 0);
	ck_assert_str_eq(s, "my-laptop");
	free(s);
	/* Almost a UUID (a hyphen moved): verbatim. */
	ck_assert_int_eq(portal_external_id(
	    "9e2c7c1f4-d4b-4f5e-9c53-0f6a3b1f2e11", &s), 0);
	ck_assert_str_eq(s, "9e2c7c1f4-d4b-4f5e-9c53-0f6a3b1f2e11");
	free(s);
	/* Other UUID forms parse (and are hashed as given). */
	ck_assert_int_eq(portal_external_id(
	    "9E2C7C1F4D4B4F5E9C530F6A3B1F2E11", &s), 0);
	ck_assert_uint_eq(strlen(s), 64);
	free(s);
	ck_assert_int_eq(portal_external_id("", &s), -EINVAL);
}
END_TEST

START_TEST(uuid_parse_forms)
{
	static const char *ok[] = {
		"9e2c7c1f-4d4b-4f5e-9c53-0f6a3b1f2e11",
		"9E2C7C1F-4D4B-4F5E-9C53-0F6A3B1F2E11",
		"9e2c7c1f4d4b4f5e9c530f6a3b1f2e11",
		"{9e2c7c1f-4d4b-4f5e-9c53-0f6a3b1f2e11}",
		"urn:uuid:9e2c7c1f-4d4b-4f5e-9c53-0f6a3b1f2e11",
	};
	static const char *bad[] = {
		"", "9e2c7c1f-4d4b-4f5e-9c53-0f6a3b1f2e1",
		"9e2c7c1f-4d4b-4f5e-9c53-0f6a3b1f2e111",
		"9e2c7c1g-4d4b-4f5e-9c53-0f6a3b1f2e11",
		"9e2c7c1f_4d4b-4f5e-9c53-0f6a3b1f2e11",
		"{9e2c7c1f-4d4b-4f5e-9c53-0f6a3b1f2e11",
	};
	char txt[PORTAL_UUID_STRLEN + 1];
	uint8_t u[16];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_int_eq(portal_uuid_parse(ok[i], u), 0);
		portal_uuid_format(u, txt);
		ck_assert_str_eq(txt, "9e2c7c1f-4d4b-4f5e-9c53-0f6a3b1f2e11");
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(portal_uuid_parse(bad[i], u), -EINVAL);
}
END_TEST

START_TEST(turn_rest_credentials)
{
	char user[64], pass[64];

	/* Python: base64(hmac.new(b"north-secret", u, sha1).digest()) */
	ck_assert_int_eq(portal_turn_rest_creds("north-secret", 1735689600,
	    "alice", user, sizeof(user), pass, sizeof(pass)), 0);
	ck_assert_str_eq(user, "1735689600:alice");
	ck_assert_str_eq(pass, "/Hgk2wzS1yMKgEQRSzOmdlh6bg0=");
	ck_assert_int_eq(portal_turn_rest_creds("north-secret", 1735689600,
	    NULL, user, sizeof(user), pass, sizeof(pass)), 0);
	ck_assert_str_eq(user, "1735689600");
	ck_assert_str_eq(pass, "QZOAJyTYFtIzWU9gWle0XjTfbaU=");
	ck_assert_int_eq(portal_turn_rest_creds("s", 1, "alice", user, 5,
	    pass, sizeof(pass)), -ENOSPC);
	ck_assert_int_eq(portal_turn_rest_creds("s", 1, "alice", user,
	    sizeof(user), pass, 10), -ENOSPC);
}
END_TEST

START_TEST(uuid_v5)
{
	/* RFC 9562 DNS name space; Python uuid.uuid5 agrees. */
	static const uint8_t dns_ns[16] = {
		0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
		0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
	};
	char id[PORTAL_UUID_STRLEN + 1];

	ck_assert_int_eq(portal_uuid_from_name(dns_ns, "www.example.com", id),
	    0);
	ck_assert_str_eq(id, "2ed6657d-e927-568b-95e1-2665a8aea6a2");
	ck_assert_int_eq(portal_uuid_from_name(portal_uuid_ns_fz, "site:hq",
	    id), 0);
	ck_assert_str_eq(id, "a8e55281-f237-5cd6-9ebd-993f4d1dcc99");
}
END_TEST

START_TEST(stamp_secret_random_hex)
{
	char a[PORTAL_STAMP_SECRET_LEN + 1], b[PORTAL_STAMP_SECRET_LEN + 1];
	size_t i;

	ck_assert_int_eq(portal_stamp_secret(a), 0);
	ck_assert_int_eq(portal_stamp_secret(b), 0);
	ck_assert_uint_eq(strlen(a), 64);
	for (i = 0; i < 64; i++)
		ck_assert(strchr("0123456789abcdef", a[i]) != NULL);
	ck_assert_str_ne(a, b);
}
END_TEST

static Suite *
creds_suite(void)
{
	Suite *s = suite_create("creds");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, relay_password_vectors);
	tcase_add_test(tc, relay_username_and_portal_password);
	tcase_add_test(tc, relay_id_vector);
	tcase_add_test(tc, ice_credentials_vector);
	tcase_add_test(tc, psk_vector);
	tcase_add_test(tc, external_id_hashing);
	tcase_add_test(tc, uuid_parse_forms);
	tcase_add_test(tc, turn_rest_credentials);
	tcase_add_test(tc, uuid_v5);
	tcase_add_test(tc, stamp_secret_random_hex);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(creds_suite)
