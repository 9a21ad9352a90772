/* SPDX-License-Identifier: ISC */
/*
 * tunneld/wg/aead.c: the OpenSSL EVP backend against libsodium, the
 * reference.  RFC 8439 §2.8.2's ciphertext from both; the same tags from
 * both (WireGuard's transport data carries no associated data, so the
 * RFC's tag, which covers some, is checked on libsodium alone); random
 * round trips both ways between the backends at every length 0..1600 and
 * a few larger, in place; a flipped bit in tag or ciphertext rejected and
 * the buffer wiped; a thread's context set to one key after another, and
 * two threads on one key at once, each with its own; the backend's choice
 * and FZ_AEAD's words.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "aead.h"
#include "check_util.h"

static const uint8_t rfc_nonce[12] = {
	0x07, 0x00, 0x00, 0x00, 0x40, 0x41, 0x42, 0x43,
	0x44, 0x45, 0x46, 0x47,
};
static const uint8_t rfc_aad[12] = {
	0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3,
	0xc4, 0xc5, 0xc6, 0xc7,
};
static const char rfc_plain[] = "Ladies and Gentlemen of the class of '99: "
    "If I could offer you only one tip for the future, sunscreen would be "
    "it.";
static const uint8_t rfc_cipher[114] = {
	0xd3, 0x1a, 0x8d, 0x34, 0x64, 0x8e, 0x60, 0xdb, 0x7b, 0x86, 0xaf, 0xbc,
	0x53, 0xef, 0x7e, 0xc2, 0xa4, 0xad, 0xed, 0x51, 0x29, 0x6e, 0x08, 0xfe,
	0xa9, 0xe2, 0xb5, 0xa7, 0x36, 0xee, 0x62, 0xd6, 0x3d, 0xbe, 0xa4, 0x5e,
	0x8c, 0xa9, 0x67, 0x12, 0x82, 0xfa, 0xfb, 0x69, 0xda, 0x92, 0x72, 0x8b,
	0x1a, 0x71, 0xde, 0x0a, 0x9e, 0x06, 0x0b, 0x29, 0x05, 0xd6, 0xa5, 0xb6,
	0x7e, 0xcd, 0x3b, 0x36, 0x92, 0xdd, 0xbd, 0x7f, 0x2d, 0x77, 0x8b, 0x8c,
	0x98, 0x03, 0xae, 0xe3, 0x28, 0x09, 0x1b, 0x58, 0xfa, 0xb3, 0x24, 0xe4,
	0xfa, 0xd6, 0x75, 0x94, 0x55, 0x85, 0x80, 0x8b, 0x48, 0x31, 0xd7, 0xbc,
	0x3f, 0xf4, 0xde, 0xf0, 0x8e, 0x4b, 0x7a, 0x9d, 0xe5, 0x76, 0xd2, 0x65,
	0x86, 0xce, 0xc6, 0x4b, 0x61, 0x16,
};
static const uint8_t rfc_tag[16] = {
	0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a, 0x7e, 0x90, 0x2e, 0xcb,
	0xd0, 0x60, 0x06, 0x91,
};

static const enum aead_backend both[2] = { AEAD_SODIUM, AEAD_OPENSSL };

static void
rfc_key(uint8_t key[32])
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
}

/* The WireGuard nonce: 4 zero bytes, then the counter little-endian. */
static void
wg_nonce(uint8_t n[12], uint64_t counter)
{
	memset(n, 0, 4);
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

static void
setup(void)
{
	ck_assert_int_ge(sodium_init(), 0);
}

/* The same tests with OpenSSL keys through the EVP calls. */
static void
setup_evp_api(void)
{
	ck_assert_int_ge(sodium_init(), 0);
	aead_openssl_evp_api(true);
}

START_TEST(test_reference_rfc8439)
{
	uint8_t key[32], out[114], tag[16];
	unsigned long long tl;

	/* The reference itself against the RFC, associated data and all. */
	rfc_key(key);
	ck_assert_int_eq(crypto_aead_chacha20poly1305_ietf_encrypt_detached(
	    out, tag, &tl, (const uint8_t *)rfc_plain, 114, rfc_aad,
	    sizeof(rfc_aad), NULL, rfc_nonce, key), 0);
	ck_assert_mem_eq(out, rfc_cipher, 114);
	ck_assert_mem_eq(tag, rfc_tag, 16);
}
END_TEST

START_TEST(test_rfc8439_both)
{
	uint8_t key[32], ref_tag[16], buf[114], tag[16];
	struct aead_key k;

	rfc_key(key);
	ck_assert_int_eq(crypto_aead_chacha20poly1305_ietf_encrypt_detached(
	    buf, ref_tag, NULL, (const uint8_t *)rfc_plain, 114, NULL, 0,
	    NULL, rfc_nonce, key), 0);
	for (int b = 0; b < 2; b++) {
		aead_key_init_with(&k, both[b]);
		ck_assert(both[b] == AEAD_SODIUM || k.openssl);
		memcpy(buf, rfc_plain, 114);
		ck_assert_int_eq(aead_seal(&k, key, rfc_nonce, buf, 114, tag),
		    0);
		ck_assert_mem_eq(buf, rfc_cipher, 114);
		ck_assert_mem_eq(tag, ref_tag, 16);
		/* Twice on one context: only the nonce is set again. */
		memcpy(buf, rfc_plain, 114);
		ck_assert_int_eq(aead_seal(&k, key, rfc_nonce, buf, 114, tag),
		    0);
		ck_assert_mem_eq(buf, rfc_cipher, 114);
		ck_assert_mem_eq(tag, ref_tag, 16);
		aead_key_fini(&k);

		aead_key_init_with(&k, both[b]);
		ck_assert_int_eq(aead_open(&k, key, rfc_nonce, buf, 114, tag),
		    0);
		ck_assert_mem_eq(buf, rfc_plain, 114);
		aead_key_fini(&k);
	}
}
END_TEST

/* A keepalive: nothing but the tag, at WireGuard's counter nonces. */
START_TEST(test_keepalive)
{
	uint8_t key[32], nonce[12], tag[2][16], dummy[1];
	static const uint64_t ctr[] = { 0, 1, 0xffffffffULL,
	    (1ULL << 60) - 1 };
	struct aead_key k;

	randombytes_buf(key, sizeof(key));
	for (size_t i = 0; i < sizeof(ctr) / sizeof(ctr[0]); i++) {
		wg_nonce(nonce, ctr[i]);
		for (int b = 0; b < 2; b++) {
			aead_key_init_with(&k, both[b]);
			ck_assert_int_eq(aead_seal(&k, key, nonce, dummy, 0,
			    tag[b]), 0);
			aead_key_fini(&k);
		}
		ck_assert_mem_eq(tag[0], tag[1], 16);
		for (int b = 0; b < 2; b++) {
			aead_key_init_with(&k, both[b]);
			ck_assert_int_eq(aead_open(&k, key, nonce, dummy, 0,
			    tag[b]), 0);
			tag[b][15] ^= 1;
			ck_assert_int_eq(aead_open(&k, key, nonce, dummy, 0,
			    tag[b]), -EBADMSG);
			tag[b][15] ^= 1;
			aead_key_fini(&k);
		}
	}
}
END_TEST

#define MAXLEN	1600

static bool
wiped(const uint8_t *p, size_t len)
{
	static const uint8_t zero[65535];

	return memcmp(p, zero, len) == 0;
}

/*
 * Every length 0..MAXLEN and some larger: sealed by each backend (same
 * bytes), opened by each (in place), and rejected with a flipped bit.
 */
START_TEST(test_cross_random)
{
	static const size_t big[] = { 1420, 1500, 2048, 9000, 65535 };
	uint8_t key[32], nonce[12], tag[2][16];
	uint8_t *plain, *ct[2], *buf;
	struct aead_key seal[2], open[2];
	size_t len, n;

	plain = malloc(65535);
	ct[0] = malloc(65535);
	ct[1] = malloc(65535);
	buf = malloc(65535);
	ck_assert(plain && ct[0] && ct[1] && buf);
	randombytes_buf(key, sizeof(key));
	for (int b = 0; b < 2; b++) {
		aead_key_init_with(&seal[b], both[b]);
		aead_key_init_with(&open[b], both[b]);
	}
	for (n = 0; n <= MAXLEN + sizeof(big) / sizeof(big[0]); n++) {
		len = n <= MAXLEN ? n : big[n - MAXLEN - 1];
		randombytes_buf(plain, len);
		wg_nonce(nonce, randombytes_random());
		for (int b = 0; b < 2; b++) {
			memcpy(ct[b], plain, len);
			ck_assert_int_eq(aead_seal(&seal[b], key, nonce, ct[b],
			    len, tag[b]), 0);
		}
		ck_assert_msg(memcmp(ct[0], ct[1], len) == 0 &&
		    memcmp(tag[0], tag[1], 16) == 0, "len %zu differs", len);
		for (int b = 0; b < 2; b++) {
			memcpy(buf, ct[0], len);
			ck_assert_int_eq(aead_open(&open[b], key, nonce, buf,
			    len, tag[0]), 0);
			ck_assert_msg(memcmp(buf, plain, len) == 0,
			    "backend %d, len %zu", b, len);
			/* A flipped tag bit: rejected, nothing left behind. */
			memcpy(buf, ct[0], len);
			tag[0][n % 16] ^= (uint8_t)(1u << (n % 8));
			ck_assert_int_eq(aead_open(&open[b], key, nonce, buf,
			    len, tag[0]), -EBADMSG);
			tag[0][n % 16] ^= (uint8_t)(1u << (n % 8));
			ck_assert(wiped(buf, len));
			if (len == 0)
				continue;
			/* A flipped ciphertext bit. */
			memcpy(buf, ct[0], len);
			buf[n % len] ^= 0x80;
			ck_assert_int_eq(aead_open(&open[b], key, nonce, buf,
			    len, tag[0]), -EBADMSG);
			ck_assert(wiped(buf, len));
		}
	}
	/* The contexts still work after the rejections. */
	memcpy(buf, ct[0], len);
	ck_assert_int_eq(aead_open(&open[1], key, nonce, buf, len, tag[0]), 0);
	for (int b = 0; b < 2; b++) {
		aead_key_fini(&seal[b]);
		aead_key_fini(&open[b]);
	}
	aead_key_fini(NULL);
	free(plain);
	free(ct[0]);
	free(ct[1]);
	free(buf);
}
END_TEST

/*
 * Long messages under three keys in turn, the same key twice in a row, and
 * a wipe in between, on a thread that keeps its keys and on one that does
 * not: libsodium's bytes every time, and every message opens.
 */
static void
keys_in_turn(bool hold)
{
	enum { LEN = 1420, N = 12 };
	static const int which[N] = { 0, 1, 2, 2, 0, 1, 1, 0, 2, 0, 0, 1 };
	uint8_t key[3][32], nonce[12], ref[LEN], buf[LEN], tag[16], rtag[16];
	struct aead_key ks, ko;

	for (int i = 0; i < 3; i++)
		randombytes_buf(key[i], 32);
	aead_thread_hold(hold);
	aead_key_init_with(&ks, AEAD_OPENSSL);
	aead_key_init_with(&ko, AEAD_OPENSSL);
	for (int i = 0; i < N; i++) {
		const uint8_t *kk = key[which[i]];

		if (i == 6)
			aead_thread_wipe();
		wg_nonce(nonce, (uint64_t)i);
		randombytes_buf(ref, LEN);
		memcpy(buf, ref, LEN);
		ck_assert_int_eq(crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		    ref, rtag, NULL, ref, LEN, NULL, 0, NULL, nonce, kk), 0);
		ck_assert_int_eq(aead_seal(&ks, kk, nonce, buf, LEN, tag), 0);
		ck_assert_mem_eq(buf, ref, LEN);
		ck_assert_mem_eq(tag, rtag, 16);
		ck_assert_int_eq(aead_open(&ko, kk, nonce, buf, LEN, tag), 0);
		/* Under another key it does not open (and is wiped). */
		memcpy(buf, ref, LEN);
		ck_assert_int_eq(aead_open(&ko, key[(which[i] + 1) % 3],
		    nonce, buf, LEN, tag), -EBADMSG);
		for (int j = 0; j < LEN; j++)
			ck_assert_uint_eq(buf[j], 0);
	}
	aead_key_fini(&ks);
	aead_key_fini(&ko);
	aead_thread_hold(false);
	sodium_memzero(key, sizeof(key));
}

START_TEST(test_keys_in_turn)
{
	keys_in_turn(true);
	keys_in_turn(false);
}
END_TEST

/*
 * One thread's contexts driven at random, against libsodium: seals and
 * opens under eight keys at lengths from 640 to 1600 (whole and partial
 * ChaCha blocks), runs under one key and changes, opens that fail (a
 * flipped tag or ciphertext bit, another key) between good ones, wipes,
 * and the hold switched on and off.  Every seal gives libsodium's bytes,
 * every good open its plaintext, every bad one -EBADMSG.
 */
struct mixer {
	uint32_t	seed;
	int		rounds;
	int		failed;	/* the first round that went wrong, + 1 */
};

static uint32_t
mix_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void *
mix_run(void *arg)
{
	enum { KEYS = 8 };
	struct mixer *m = arg;
	uint8_t key[KEYS][32], nonce[12], ref[MAXLEN], buf[MAXLEN], tag[16];
	uint8_t rtag[16];
	struct aead_key ks, ko;
	uint32_t s = m->seed;
	int cur = 0;

	for (int i = 0; i < KEYS; i++)
		randombytes_buf(key[i], 32);
	aead_key_init_with(&ks, AEAD_OPENSSL);
	aead_key_init_with(&ko, AEAD_OPENSSL);
	aead_thread_hold(true);
	for (int r = 0; r < m->rounds && m->failed == 0; r++) {
		uint32_t op = mix_next(&s) % 100;
		size_t len = 640 + mix_next(&s) % (MAXLEN - 640 + 1);
		int rc;

		if (op < 20)
			cur = (int)(mix_next(&s) % KEYS);
		if (op == 20) {
			aead_thread_wipe();
			continue;
		}
		if (op == 21) {
			aead_thread_hold((mix_next(&s) & 1) != 0);
			continue;
		}
		wg_nonce(nonce, mix_next(&s));
		randombytes_buf(ref, len);
		memcpy(buf, ref, len);
		crypto_aead_chacha20poly1305_ietf_encrypt_detached(ref, rtag,
		    NULL, ref, len, NULL, 0, NULL, nonce, key[cur]);
		if (aead_seal(&ks, key[cur], nonce, buf, len, tag) != 0 ||
		    memcmp(buf, ref, len) != 0 || memcmp(tag, rtag, 16) != 0) {
			m->failed = r + 1;
			break;
		}
		if (op < 40) {		/* a bad message first */
			uint32_t how = mix_next(&s) % 3;

			if (how == 0)
				buf[mix_next(&s) % len] ^= 1;
			else if (how == 1)
				tag[mix_next(&s) % 16] ^= 0x80;
			rc = aead_open(&ko, key[how == 2 ? (cur + 1) % KEYS :
			    cur], nonce, buf, len, tag);
			if (rc != -EBADMSG) {
				m->failed = r + 1;
				break;
			}
			memcpy(buf, ref, len);
			memcpy(tag, rtag, 16);
		}
		if (aead_open(&ko, key[cur], nonce, buf, len, tag) != 0) {
			m->failed = r + 1;
			break;
		}
		/* buf holds the plaintext: libsodium opens ref to compare. */
		if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(ref,
		    NULL, ref, len, rtag, NULL, 0, nonce, key[cur]) != 0 ||
		    memcmp(buf, ref, len) != 0) {
			m->failed = r + 1;
			break;
		}
	}
	aead_thread_hold(false);
	aead_key_fini(&ks);
	aead_key_fini(&ko);
	sodium_memzero(key, sizeof(key));
	return NULL;
}

START_TEST(test_random_mix)
{
	struct mixer m = { .seed = 0x9e3779b9u + (uint32_t)_i, .rounds = 4000 };

	mix_run(&m);
	ck_assert_msg(m.failed == 0, "round %d went wrong (seed %u)",
	    m.failed - 1, m.seed);
}
END_TEST

/* The same on three threads at once, each with its own keys. */
START_TEST(test_random_mix_threads)
{
	struct mixer m[3];
	pthread_t th[3];

	for (int t = 0; t < 3; t++) {
		m[t] = (struct mixer){ .seed = 0x85ebca6bu * (uint32_t)(t + 1),
		    .rounds = 3000 };
		ck_assert_int_eq(pthread_create(&th[t], NULL, mix_run, &m[t]),
		    0);
	}
	for (int t = 0; t < 3; t++) {
		ck_assert_int_eq(pthread_join(th[t], NULL), 0);
		ck_assert_msg(m[t].failed == 0, "thread %d: round %d went "
		    "wrong (seed %u)", t, m[t].failed - 1, m[t].seed);
	}
}
END_TEST

struct sealer {
	const uint8_t	*key;
	uint8_t		 out[64][16];	/* tags */
};

static void *
seal_many(void *arg)
{
	struct sealer *s = arg;
	struct aead_key k;
	uint8_t nonce[12], buf[1000];

	aead_thread_hold(true);
	aead_key_init_with(&k, AEAD_OPENSSL);
	for (int i = 0; i < 64; i++) {
		memset(buf, i, sizeof(buf));
		wg_nonce(nonce, (uint64_t)i);
		if (aead_seal(&k, s->key, nonce, buf, sizeof(buf), s->out[i]))
			return s;
	}
	aead_key_fini(&k);
	aead_thread_hold(false);
	return NULL;
}

/* Two threads sealing under one key at once: each its own context. */
START_TEST(test_two_threads)
{
	uint8_t key[32], nonce[12], buf[1000], tag[16];
	struct sealer s[2];
	pthread_t th[2];
	void *rv;

	randombytes_buf(key, sizeof(key));
	for (int t = 0; t < 2; t++) {
		s[t].key = key;
		ck_assert_int_eq(pthread_create(&th[t], NULL, seal_many, &s[t]),
		    0);
	}
	for (int t = 0; t < 2; t++) {
		ck_assert_int_eq(pthread_join(th[t], &rv), 0);
		ck_assert_ptr_null(rv);
	}
	for (int i = 0; i < 64; i++) {
		memset(buf, i, sizeof(buf));
		wg_nonce(nonce, (uint64_t)i);
		ck_assert_int_eq(crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		    buf, tag, NULL, buf, sizeof(buf), NULL, 0, NULL, nonce, key),
		    0);
		ck_assert_mem_eq(s[0].out[i], tag, 16);
		ck_assert_mem_eq(s[1].out[i], tag, 16);
	}
}
END_TEST

START_TEST(test_choice)
{
	enum aead_backend b;
	struct aead_key k;

	ck_assert_int_eq(aead_backend_parse("openssl", &b), 0);
	ck_assert_int_eq(b, AEAD_OPENSSL);
	ck_assert_int_eq(aead_backend_parse("sodium", &b), 0);
	ck_assert_int_eq(b, AEAD_SODIUM);
	ck_assert_int_eq(aead_backend_parse("auto", &b), 0);
	ck_assert_int_eq(b, AEAD_AUTO);
	ck_assert_int_eq(aead_backend_parse("rot13", &b), -EINVAL);

	b = aead_backend();
	ck_assert(b == AEAD_SODIUM || b == AEAD_OPENSSL);
	b = aead_select(AEAD_AUTO);
	ck_assert(b == AEAD_SODIUM || b == AEAD_OPENSSL);
	ck_assert_int_eq(aead_backend(), b);
	ck_assert_int_eq(aead_select(AEAD_SODIUM), AEAD_SODIUM);
	aead_key_init(&k);
	ck_assert(!k.openssl);
	aead_key_fini(&k);
	ck_assert_int_eq(aead_select(AEAD_OPENSSL), AEAD_OPENSSL);
	aead_key_init(&k);
	ck_assert(k.openssl);
	aead_key_fini(&k);
	ck_assert_str_eq(aead_backend_name(AEAD_OPENSSL), "openssl");
	ck_assert_str_eq(aead_backend_name(AEAD_SODIUM), "sodium");
}
END_TEST

/* OpenSSL keys use the provider's functions, or EVP when asked. */
START_TEST(test_direct)
{
	struct aead_key k;

	aead_key_init_with(&k, AEAD_OPENSSL);
	ck_assert(k.openssl);
	ck_assert(aead_key_direct(&k));
	aead_key_fini(&k);
	aead_key_init_with(&k, AEAD_OPENSSL);
	ck_assert(aead_key_direct(&k));
	aead_key_fini(&k);
	aead_openssl_evp_api(true);
	aead_key_init_with(&k, AEAD_OPENSSL);
	ck_assert(k.openssl);
	ck_assert(!aead_key_direct(&k));
	aead_key_fini(&k);
	aead_openssl_evp_api(false);
	aead_key_init_with(&k, AEAD_SODIUM);
	ck_assert(!aead_key_direct(&k));
	aead_key_fini(&k);
}
END_TEST

static Suite *
aead_suite(void)
{
	Suite *s = suite_create("aead");
	TCase *tc = tcase_create("backends");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reference_rfc8439);
	tcase_add_test(tc, test_rfc8439_both);
	tcase_add_test(tc, test_keepalive);
	tcase_add_test(tc, test_cross_random);
	tcase_add_test(tc, test_keys_in_turn);
	tcase_add_test(tc, test_two_threads);
	tcase_add_loop_test(tc, test_random_mix, 0, 4);
	tcase_add_test(tc, test_random_mix_threads);
	tcase_add_test(tc, test_choice);
	tcase_add_test(tc, test_direct);
	suite_add_tcase(s, tc);

	tc = tcase_create("evp_api");
	tcase_add_checked_fixture(tc, setup_evp_api, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rfc8439_both);
	tcase_add_test(tc, test_keepalive);
	tcase_add_test(tc, test_cross_random);
	tcase_add_test(tc, test_keys_in_turn);
	tcase_add_test(tc, test_two_threads);
	tcase_add_loop_test(tc, test_random_mix, 0, 2);
	tcase_add_test(tc, test_random_mix_threads);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(aead_suite)
