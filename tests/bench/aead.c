/* SPDX-License-Identifier: ISC */
/*
 * Transport-data AEAD speed per core (tunneld/wg/aead.c): libsodium and
 * OpenSSL EVP sealing and opening packets of one size in place, rounds
 * interleaved so that both see the same machine; prints Gbit/s (best and
 * median of the rounds; an open copies its ciphertext in first) and the
 * ratio openssl/sodium; "evp" is OpenSSL through the EVP calls (the
 * code before the provider's functions were called directly), with the
 * ratio openssl/evp.  Each thread keeps its OpenSSL context keyed between
 * packets as the data plane's workers do (aead_thread_hold).  Then
 * OpenSSL sealing with two keys in turn (a thread's context set to
 * another key every packet, as with many peers' packets interleaved), and
 * two threads sealing with one key (each its own context).
 *
 *   tests/bench/aead [LEN [ROUNDS [MS]]]   (defaults 1420 9 100)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "aead.h"

/* This thread's CPU time: per-core rates on a shared, busy machine. */
static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t len;
static uint64_t span_ns;
static uint8_t key[32], key2[32];

struct run {
	struct aead_key	*k;
	bool		 seal;
	double		 gbps;
	bool		 alt;		/* seal with key and key2 in turn */
};

/* Packets through k for span_ns of CPU time; Gbit/s of payload. */
static void *
run(void *arg)
{
	struct run *r = arg;
	uint8_t *buf = calloc(2, len), nonce[12] = { 0 }, tag[16];
	uint8_t *ct = buf + len;
	uint64_t t0, t, n = 0;

	if (buf == NULL)
		return NULL;
	aead_thread_hold(true);
	/* A packet that opens, sealed by the reference. */
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(ct, tag, NULL, ct,
	    len, NULL, 0, NULL, nonce, key);
	t0 = cpu_ns();
	do {
		for (int i = 0; i < 64; i++, n++) {
			if (r->seal) {
				if (aead_seal(r->k, r->alt && n % 2 ? key2 :
				    key, nonce, buf, len, tag))
					abort();
			} else {
				memcpy(buf, ct, len);
				if (aead_open(r->k, key, nonce, buf, len, tag))
					abort();
			}
		}
	} while ((t = cpu_ns() - t0) < span_ns);
	r->gbps = (double)n * (double)len * 8 / (double)t;
	aead_thread_hold(false);
	free(buf);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static const char *bname[3] = { "sodium", "openssl", "evp" };
	static const enum aead_backend be[3] = { AEAD_SODIUM, AEAD_OPENSSL,
	    AEAD_OPENSSL };
	int rounds, op, b, i;
	double g[3][2][64], med[3][2], best[3][2];
	struct aead_key k[3][2];

	len = argc > 1 ? strtoul(argv[1], NULL, 10) : 1420;
	rounds = argc > 2 ? atoi(argv[2]) : 9;
	span_ns = (argc > 3 ? strtoull(argv[3], NULL, 10) : 100) * 1000000;
	if (rounds < 1 || rounds > 64 || len == 0 || len > 65535 ||
	    sodium_init() < 0)
		return 2;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(key2, sizeof(key2));
	for (b = 0; b < 3; b++) {
		aead_openssl_evp_api(b == 2);
		for (op = 0; op < 2; op++)
			aead_key_init_with(&k[b][op], be[b]);
	}
	aead_openssl_evp_api(false);
	if (!k[1][0].openssl) {
		fprintf(stderr, "no OpenSSL ChaCha20-Poly1305\n");
		return 1;
	}
	for (i = 0; i < rounds; i++)
		for (op = 0; op < 2; op++)
			for (b = 0; b < 3; b++) {
				struct run r = { &k[b][op], op == 0, 0, false };

				run(&r);
				g[b][op][i] = r.gbps;
			}
	printf("AEAD per core, %zu-byte packets, %d rounds of %llu ms CPU "
	    "(best / median Gbit/s)\n", len, rounds,
	    (unsigned long long)(span_ns / 1000000));
	for (op = 0; op < 2; op++)
		for (b = 0; b < 3; b++) {
			qsort(g[b][op], (size_t)rounds, sizeof(double), cmp);
			best[b][op] = g[b][op][rounds - 1];
			med[b][op] = g[b][op][rounds / 2];
			printf("  %-5s %-8s %6.2f / %6.2f\n",
			    op == 0 ? "seal" : "open", bname[b], best[b][op],
			    med[b][op]);
		}
	printf("openssl/sodium: seal %.2fx (median %.2fx), open %.2fx "
	    "(median %.2fx)\n", best[1][0] / best[0][0],
	    med[1][0] / med[0][0], best[1][1] / best[0][1],
	    med[1][1] / med[0][1]);
	printf("openssl/evp:    seal %.2fx (median %.2fx), open %.2fx "
	    "(median %.2fx)\n", best[1][0] / best[2][0],
	    med[1][0] / med[2][0], best[1][1] / best[2][1],
	    med[1][1] / med[2][1]);

	/* One thread, two keys in turn: the context set to a key each time. */
	for (i = 0; i < rounds; i++) {
		struct run r = { &k[1][0], true, 0, true };

		run(&r);
		g[1][0][i] = r.gbps;
	}
	qsort(g[1][0], (size_t)rounds, sizeof(double), cmp);
	printf("openssl, two keys in turn: seal %6.2f / %6.2f (%.2fx one "
	    "key)\n", g[1][0][rounds - 1], g[1][0][rounds / 2],
	    g[1][0][rounds - 1] / best[1][0]);

	/* Two threads sealing with one key (each its own context). */
	for (b = 0; b < 2; b++) {
		struct run r[2] = { { &k[b][0], true, 0, false },
		    { &k[b][0], true, 0, false } };
		pthread_t th;

		if (pthread_create(&th, NULL, run, &r[1]) != 0)
			return 1;
		run(&r[0]);
		pthread_join(th, NULL);
		printf("two threads, one key, %-8s seal %6.2f Gbit/s "
		    "(sum)\n", bname[b], r[0].gbps + r[1].gbps);
	}
	for (b = 0; b < 3; b++)
		for (op = 0; op < 2; op++)
			aead_key_fini(&k[b][op]);
	sodium_memzero(key, sizeof(key));
	return 0;
}
