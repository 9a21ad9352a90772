/* SPDX-License-Identifier: ISC */
/*
 * Credentials the portal derives (firezone-protocols.md §2.1, §3.3, §9).
 * Intermediate digests are wiped at the one exit of each function.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "creds.h"

/* 1b4e5d3a-6c0f-4b8e-9f2a-0d7c6e5f4a31: fz-portald's name space. */
const uint8_t portal_uuid_ns_fz[16] = {
	0x1b, 0x4e, 0x5d, 0x3a, 0x6c, 0x0f, 0x4b, 0x8e,
	0x9f, 0x2a, 0x0d, 0x7c, 0x6e, 0x5f, 0x4a, 0x31,
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 32 hex digits, with hyphens after digits 8, 12, 16, 20 when hyph. */
static int
parse_hex_uuid(const char *s, size_t n, bool hyph, uint8_t out[16])
{
	uint8_t u[16];
	size_t i, d = 0;
	int hi, lo;

	if (n != (hyph ? 36u : 32u))
		return -EINVAL;
	for (i = 0; i < n;) {
		if (hyph && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i++] != '-')
				return -EINVAL;
			continue;
		}
		if ((hi = hexval((unsigned char)s[i])) < 0 ||
		    (lo = hexval((unsigned char)s[i + 1])) < 0)
			return -EINVAL;
		u[d++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	memcpy(out, u, 16);
	return 0;
}

int
portal_uuid_parse(const char *s, uint8_t out[16])
{
	size_t n;

	if (s == NULL)
		return -EINVAL;
	n = strlen(s);
	if (n == 32)
		return parse_hex_uuid(s, n, false, out);
	if (n == 36)
		return parse_hex_uuid(s, n, true, out);
	if (n == 38 && s[0] == '{' && s[37] == '}')
		return parse_hex_uuid(s + 1, 36, true, out);
	if (n == 45 && strncasecmp(s, "urn:uuid:", 9) == 0)
		return parse_hex_uuid(s + 9, 36, true, out);
	return -EINVAL;
}

void
portal_uuid_format(const uint8_t u[16], char out[PORTAL_UUID_STRLEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hx[u[i] >> 4];
		out[o++] = hx[u[i] & 0xf];
	}
	out[o] = '\0';
}

static void
sha256(const void *p, size_t n, uint8_t out[32])
{
	crypto_hash_sha256(out, p, n);
}

static void
b64_nopad(const uint8_t d[32], char out[PORTAL_B64_SHA256_LEN + 1])
{
	sodium_bin2base64(out, PORTAL_B64_SHA256_LEN + 1, d, 32,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

int
portal_relay_password(const char *stamp_secret, uint64_t expiry,
    const char *salt, char out[PORTAL_B64_SHA256_LEN + 1])
{
	crypto_hash_sha256_state st;
	uint8_t d[32];
	char ex[24];

	if (stamp_secret == NULL || salt == NULL)
		return -EINVAL;
	snprintf(ex, sizeof(ex), "%" PRIu64, expiry);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)ex, strlen(ex));
	crypto_hash_sha256_update(&st, (const uint8_t *)":", 1);
	crypto_hash_sha256_update(&st, (const uint8_t *)stamp_secret,
	    strlen(stamp_secret));
	crypto_hash_sha256_update(&st, (const uint8_t *)":", 1);
	crypto_hash_sha256_update(&st, (const uint8_t *)salt, strlen(salt));
	crypto_hash_sha256_final(&st, d);
	b64_nopad(d, out);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(d, sizeof(d));
	return 0;
}

int
portal_relay_salt(const char *pubkey_b64, char out[PORTAL_B64_SHA256_LEN + 1])
{
	uint8_t d[32];

	if (pubkey_b64 == NULL)
		return -EINVAL;
	sha256(pubkey_b64, strlen(pubkey_b64), d);
	b64_nopad(d, out);
	return 0;
}

int
portal_relay_username(uint64_t expiry, const char *pubkey_b64, char *out,
    size_t outlen)
{
	char salt[PORTAL_B64_SHA256_LEN + 1];
	int r, n;

	if ((r = portal_relay_salt(pubkey_b64, salt)) < 0)
		return r;
	n = snprintf(out, outlen, "%" PRIu64 ":%s", expiry, salt);
	if (n < 0 || (size_t)n >= outlen)
		return -ENOSPC;
	return 0;
}

int
portal_relay_id(const char *stamp_secret, char out[PORTAL_UUID_STRLEN + 1])
{
	uint8_t d[32];

	if (stamp_secret == NULL)
		return -EINVAL;
	sha256(stamp_secret, strlen(stamp_secret), d);
	/* a(32) b(16) '4' c(12) '10' d(62): the v4 bits over the digest. */
	d[6] = (d[6] & 0x0f) | 0x40;
	d[8] = (d[8] & 0x3f) | 0x80;
	portal_uuid_format(d, out);
	return 0;
}

int
portal_stamp_secret(char out[PORTAL_STAMP_SECRET_LEN + 1])
{
	uint8_t b[32];

	if (sodium_init() < 0)
		return -EIO;
	randombytes_buf(b, sizeof(b));
	sodium_bin2hex(out, PORTAL_STAMP_SECRET_LEN + 1, b, sizeof(b));
	sodium_memzero(b, sizeof(b));
	return 0;
}

/* RFC 4648 base32, lowercase, no padding: 32 bytes -> 52 characters. */
static void
base32_lower(const uint8_t *d, size_t n, char *out)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint32_t acc = 0;
	int bits = 0;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 8) | d[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = al[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = al[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

int
portal_ice_credentials(const char *iid, const char *ipk, const char *rid,
    const char *rpk, struct portal_ice_creds *initiator,
    struct portal_ice_creds *receiver)
{
	crypto_hash_sha256_state st;
	const char *parts[4] = { iid, ipk, rid, rpk };
	uint8_t d[32];
	char h[53];
	int i;

	for (i = 0; i < 4; i++)
		if (parts[i] == NULL)
			return -EINVAL;
	/* seed = "<initiator_id>:<initiator_pk>:<receiver_id>:<receiver_pk>" */
	crypto_hash_sha256_init(&st);
	for (i = 0; i < 4; i++) {
		if (i > 0)
			crypto_hash_sha256_update(&st, (const uint8_t *)":", 1);
		crypto_hash_sha256_update(&st, (const uint8_t *)parts[i],
		    strlen(parts[i]));
	}
	crypto_hash_sha256_final(&st, d);
	base32_lower(d, sizeof(d), h);
	memcpy(initiator->username, h, 4);
	initiator->username[4] = '\0';
	memcpy(initiator->password, h + 4, 22);
	initiator->password[22] = '\0';
	memcpy(receiver->username, h + 26, 4);
	receiver->username[4] = '\0';
	memcpy(receiver->password, h + 30, 22);
	receiver->password[22] = '\0';
	sodium_memzero(h, sizeof(h));
	sodium_memzero(d, sizeof(d));
	return 0;
}

static int
psk(bool cc, const uint8_t a[32], const uint8_t b[32],
    const char *aid, const char *bid, const char *apk, const char *bpk,
    char out[PORTAL_B64_KEY_LEN + 1])
{
	uint8_t pw[64], key[32];
	char *salt = NULL;
	int n, r = -EINVAL;

	if (a == NULL || b == NULL || aid == NULL || bid == NULL ||
	    apk == NULL || bpk == NULL)
		return -EINVAL;
	if (cc)
		n = asprintf(&salt, "WG_PSK_CC|CA_ID:%s|CB_ID:%s|CA_PK:%s|"
		    "CB_PK:%s", aid, bid, apk, bpk);
	else
		n = asprintf(&salt, "WG_PSK|C_ID:%s|G_ID:%s|C_PK:%s|G_PK:%s",
		    aid, bid, apk, bpk);
	if (n < 0)
		return -ENOMEM;
	memcpy(pw, a, 32);
	memcpy(pw + 32, b, 32);
	if (PKCS5_PBKDF2_HMAC((const char *)pw, sizeof(pw),
	    (const unsigned char *)salt, n, 1, EVP_sha256(), sizeof(key),
	    key) != 1) {
		r = -EIO;
		goto out;
	}
	sodium_bin2base64(out, PORTAL_B64_KEY_LEN + 1, key, sizeof(key),
	    sodium_base64_VARIANT_ORIGINAL);
	r = 0;
out:
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(key, sizeof(key));
	free(salt);
	return r;
}

int
portal_psk(const uint8_t client_base[32], const uint8_t gateway_base[32],
    const char *client_id, const char *gateway_id, const char *client_pubkey,
    const char *gateway_pubkey, char out[PORTAL_B64_KEY_LEN + 1])
{
	return psk(false, client_base,
	    gateway_base, client_id, gateway_id, client_pubkey,
	    gateway_pubkey, out);
}

int
portal_psk_cc(const uint8_t a_base[32], const uint8_t b_base[32],
    const char *a_id, const char *b_id, const char *a_pubkey,
    const char *b_pubkey, char out[PORTAL_B64_KEY_LEN + 1])
{
	return psk(true, a_base,
	    b_base, a_id, b_id, a_pubkey, b_pubkey, out);
}

int
portal_external_id(const char *device_id, char **out)
{
	uint8_t u[16], d[32];
	char *s;

	if (device_id == NULL || *device_id == '\0')
		return -EINVAL;
	if (portal_uuid_parse(device_id, u) == 0) {
		/* The hash is of the string as given, not its canonical form. */
		sha256(device_id, strlen(device_id), d);
		if ((s = malloc(65)) == NULL)
			return -ENOMEM;
		sodium_bin2hex(s, 65, d, sizeof(d));
	} else if ((s = strdup(device_id)) == NULL)
		return -ENOMEM;
	*out = s;
	return 0;
}

int
portal_turn_rest_creds(const char *secret, uint64_t expiry, const char *name,
    char *user, size_t userlen, char *pass, size_t passlen)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char u[PORTAL_UUID_STRLEN + 300];
	int n;

	if (secret == NULL)
		return -EINVAL;
	if (name != NULL && *name != '\0')
		n = snprintf(u, sizeof(u), "%" PRIu64 ":%s", expiry, name);
	else
		n = snprintf(u, sizeof(u), "%" PRIu64, expiry);
	if (n < 0 || (size_t)n >= sizeof(u) || (size_t)n >= userlen)
		return -ENOSPC;
	if (HMAC(EVP_sha1(), secret, (int)strlen(secret),
	    (const unsigned char *)u, (size_t)n, mac, &maclen) == NULL)
		return -EIO;
	if (passlen < sodium_base64_ENCODED_LEN(maclen,
	    sodium_base64_VARIANT_ORIGINAL)) {
		sodium_memzero(mac, sizeof(mac));
		return -ENOSPC;
	}
	sodium_bin2base64(pass, passlen, mac, maclen,
	    sodium_base64_VARIANT_ORIGINAL);
	memcpy(user, u, (size_t)n + 1);
	sodium_memzero(mac, sizeof(mac));
	return 0;
}

int
portal_uuid_from_name(const uint8_t ns[16], const char *name,
    char out[PORTAL_UUID_STRLEN + 1])
{
	EVP_MD_CTX *ctx;
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	int ok;

	if (ns == NULL || name == NULL)
		return -EINVAL;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -ENOMEM;
	/* RFC 9562 §5.5: SHA-1(namespace || name), version 5, variant 10. */
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, ns, 16) == 1 &&
	    EVP_DigestUpdate(ctx, name, strlen(name)) == 1 &&
	    EVP_DigestFinal_ex(ctx, d, &dl) == 1 && dl >= 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -EIO;
	d[6] = (d[6] & 0x0f) | 0x50;
	d[8] = (d[8] & 0x3f) | 0x80;
	portal_uuid_format(d, out);
	return 0;
}
