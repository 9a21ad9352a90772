/* SPDX-License-Identifier: ISC */
/*
 * Transport-data ChaCha20-Poly1305 (RFC 8439): libsodium, the reference,
 * and OpenSSL 3's EVP (its AVX2/AVX-512 code is about twice libsodium's
 * speed per core where it has them).  An EVP key holds one context, set
 * to its key once; each packet re-initialises only the nonce, so nothing
 * is allocated per packet.  The context is not safe for two threads at
 * once: a try-lock guards it, and the thread that loses seals or opens
 * that packet with libsodium (same output: the tests check both ways).
 *
 * The EVP calls around the cipher cost about a tenth of its time at 1420
 * bytes (EVP_CipherInit_ex asks the provider for the IV length through
 * OSSL_PARAMs, the tag ctrl becomes another OSSL_PARAM exchange, each
 * located by name with strcmp: tests/bench/cpu_split).  So the context is
 * the implementing provider's own (the one EVP_CIPHER_fetch found), driven
 * through its dispatch table (newctx, encrypt/decrypt_init, update, final,
 * get/set_ctx_params: OpenSSL 3's public provider interface), which does
 * the same work minus that layer.  Without the table (or with
 * FZ_AEAD_EVP=1) a key uses the EVP calls.
 */
#define LOG_MODULE "wg"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <sodium.h>

#include "aead.h"
#include "log.h"

struct aead_ops {
	const char	*name;
	/* Sets k up for key; leaves k->ctx NULL on failure (libsodium). */
	void		(*init)(struct aead_key *, const uint8_t *key, bool enc);
};

static EVP_CIPHER *evp_cipher;		/* fetched once; never freed */
static pthread_once_t evp_once = PTHREAD_ONCE_INIT;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;
static _Atomic int chosen = AEAD_AUTO;

/* The provider's functions for ChaCha20-Poly1305, if found. */
static struct {
	void				*provctx;
	OSSL_FUNC_cipher_newctx_fn	*newctx;
	OSSL_FUNC_cipher_freectx_fn	*freectx;
	OSSL_FUNC_cipher_encrypt_init_fn *einit;
	OSSL_FUNC_cipher_decrypt_init_fn *dinit;
	OSSL_FUNC_cipher_update_fn	*update;
	OSSL_FUNC_cipher_final_fn	*final;
	OSSL_FUNC_cipher_get_ctx_params_fn *get_params;
	OSSL_FUNC_cipher_set_ctx_params_fn *set_params;
} prov;
static _Atomic bool prov_ok, evp_api_only;
/*
 * Bytes of a provider context (all one allocation: 856 with OpenSSL
 * 3.0's ChaCha20-Poly1305, most of them read by every packet), for
 * aead_key_prefetch; learnt from the first (glibc), else its first lines.
 */
#define PROV_CTX_MAX	1024
static _Atomic size_t prov_ctx_bytes = 192;
static atomic_bool prov_ctx_learnt;

/* Is name one of the colon-separated names in list (any case)? */
static bool
name_in(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ':');
		size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

		if (l == n && OPENSSL_strncasecmp(p, name, n) == 0)
			return true;
		p = e != NULL ? e + 1 : NULL;
	}
	return false;
}

static void
prov_find(void)
{
	OSSL_PROVIDER *pv = (OSSL_PROVIDER *)EVP_CIPHER_get0_provider(
	    evp_cipher);
	const OSSL_ALGORITHM *a;
	const OSSL_DISPATCH *d = NULL;
	int no_cache = 0;

	if (pv == NULL || (a = OSSL_PROVIDER_query_operation(pv, OSSL_OP_CIPHER,
	    &no_cache)) == NULL)
		return;
	for (; a->algorithm_names != NULL; a++)
		if (name_in(a->algorithm_names, EVP_CIPHER_get0_name(
		    evp_cipher))) {
			d = a->implementation;
			break;
		}
	for (; d != NULL && d->function_id != 0; d++)
		switch (d->function_id) {
		case OSSL_FUNC_CIPHER_NEWCTX:
			prov.newctx = OSSL_FUNC_cipher_newctx(d);
			break;
		case OSSL_FUNC_CIPHER_FREECTX:
			prov.freectx = OSSL_FUNC_cipher_freectx(d);
			break;
		case OSSL_FUNC_CIPHER_ENCRYPT_INIT:
			prov.einit = OSSL_FUNC_cipher_encrypt_init(d);
			break;
		case OSSL_FUNC_CIPHER_DECRYPT_INIT:
			prov.dinit = OSSL_FUNC_cipher_decrypt_init(d);
			break;
		case OSSL_FUNC_CIPHER_UPDATE:
			prov.update = OSSL_FUNC_cipher_update(d);
			break;
		case OSSL_FUNC_CIPHER_FINAL:
			prov.final = OSSL_FUNC_cipher_final(d);
			break;
		case OSSL_FUNC_CIPHER_GET_CTX_PARAMS:
			prov.get_params = OSSL_FUNC_cipher_get_ctx_params(d);
			break;
		case OSSL_FUNC_CIPHER_SET_CTX_PARAMS:
			prov.set_params = OSSL_FUNC_cipher_set_ctx_params(d);
			break;
		}
	prov.provctx = OSSL_PROVIDER_get0_provider_ctx(pv);
	/* The algorithm stays: the provider is never unloaded. */
	OSSL_PROVIDER_unquery_operation(pv, OSSL_OP_CIPHER, a);
	prov_ok = prov.newctx != NULL && prov.freectx != NULL &&
	    prov.einit != NULL && prov.dinit != NULL && prov.update != NULL &&
	    prov.final != NULL && prov.get_params != NULL &&
	    prov.set_params != NULL;
}

static void
evp_fetch(void)
{
	const char *env = getenv("FZ_AEAD_EVP");

	evp_cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	if (env != NULL && strcmp(env, "1") == 0)
		evp_api_only = true;
	if (evp_cipher != NULL)
		prov_find();
}

void
aead_openssl_evp_api(bool on)
{
	pthread_once(&evp_once, evp_fetch);
	evp_api_only = on;
}

bool
aead_key_direct(const struct aead_key *k)
{
	return k->ctx != NULL && k->direct;
}

/* --- libsodium --- */

static void
sodium_init_key(struct aead_key *k, const uint8_t *key, bool enc)
{
	(void)key;
	(void)enc;
	k->ctx = NULL;
	k->direct = false;
}

static void
sodium_seal(const uint8_t *key, const uint8_t *nonce, uint8_t *buf,
    size_t len, uint8_t *tag)
{
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(buf, tag, NULL,
	    buf, len, NULL, 0, NULL, nonce, key);
}

static int
sodium_open(const uint8_t *key, const uint8_t *nonce, uint8_t *buf,
    size_t len, const uint8_t *tag)
{
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(buf, NULL,
	    buf, len, tag, NULL, 0, nonce, key) != 0) {
		memset(buf, 0, len);
		return -EBADMSG;
	}
	return 0;
}

/* --- OpenSSL EVP --- */

static void
evp_init_key(struct aead_key *k, const uint8_t *key, bool enc)
{
	EVP_CIPHER_CTX *c;

	k->ctx = NULL;
	k->direct = false;
	pthread_once(&evp_once, evp_fetch);
	if (prov_ok && !evp_api_only) {
		void *pc = prov.newctx(prov.provctx);

		if (pc == NULL)
			return;
		if ((enc ? prov.einit(pc, key, AEAD_KEY_LEN, NULL, 0, NULL) :
		    prov.dinit(pc, key, AEAD_KEY_LEN, NULL, 0, NULL)) != 1) {
			prov.freectx(pc);
			return;
		}
		k->ctx = pc;
		k->direct = true;
#ifdef __GLIBC__
		/* The provider's context size, learnt from the first. */
		if (!atomic_exchange_explicit(&prov_ctx_learnt, true,
		    memory_order_relaxed)) {
			size_t sz = malloc_usable_size(pc);

			atomic_store_explicit(&prov_ctx_bytes, sz < 192 ? 192 :
			    sz > PROV_CTX_MAX ? PROV_CTX_MAX : sz,
			    memory_order_relaxed);
		}
#endif
		return;
	}
	if (evp_cipher == NULL || (c = EVP_CIPHER_CTX_new()) == NULL)
		return;
	if (EVP_CipherInit_ex(c, evp_cipher, NULL, key, NULL, enc ? 1 : 0)
	    != 1) {
		EVP_CIPHER_CTX_free(c);
		return;
	}
	k->ctx = c;
}

/* 0, or -EIO if EVP failed (buf is then garbage). */
static int
evp_seal(EVP_CIPHER_CTX *c, const uint8_t *nonce, uint8_t *buf, size_t len,
    uint8_t *tag)
{
	int n = 0, f;

	if (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 1) != 1 ||
	    (len > 0 && EVP_CipherUpdate(c, buf, &n, buf, (int)len) != 1) ||
	    EVP_CipherFinal_ex(c, buf + n, &f) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN,
	    tag) != 1)
		return -EIO;
	return 0;
}

static int
evp_open(EVP_CIPHER_CTX *c, const uint8_t *nonce, uint8_t *buf, size_t len,
    const uint8_t *tag)
{
	int n = 0, f;

	/* EVP writes the plaintext before the tag is checked. */
	if (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 0) != 1 ||
	    (len > 0 && EVP_CipherUpdate(c, buf, &n, buf, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN,
	    (void *)tag) != 1 ||
	    EVP_CipherFinal_ex(c, buf + n, &f) != 1) {
		OPENSSL_cleanse(buf, len);
		return -EBADMSG;
	}
	return 0;
}

/* The same through the provider's functions. */
static int
prov_seal(void *c, const uint8_t *nonce, uint8_t *buf, size_t len,
    uint8_t *tag)
{
	OSSL_PARAM p[2];
	size_t n = 0, f;

	p[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	    tag, AEAD_TAG_LEN);
	p[1] = OSSL_PARAM_construct_end();
	if (prov.einit(c, NULL, 0, nonce, AEAD_NONCE_LEN, NULL) != 1 ||
	    (len > 0 && prov.update(c, buf, &n, len, buf, len) != 1) ||
	    prov.final(c, buf + n, &f, len - n) != 1 ||
	    prov.get_params(c, p) != 1)
		return -EIO;
	return 0;
}

static int
prov_open(void *c, const uint8_t *nonce, uint8_t *buf, size_t len,
    const uint8_t *tag)
{
	OSSL_PARAM p[2];
	size_t n = 0, f;

	p[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	    (void *)tag, AEAD_TAG_LEN);
	p[1] = OSSL_PARAM_construct_end();
	/* The plaintext is written before the tag is checked. */
	if (prov.dinit(c, NULL, 0, nonce, AEAD_NONCE_LEN, NULL) != 1 ||
	    (len > 0 && prov.update(c, buf, &n, len, buf, len) != 1) ||
	    prov.set_params(c, p) != 1 ||
	    prov.final(c, buf + n, &f, len - n) != 1) {
		OPENSSL_cleanse(buf, len);
		return -EBADMSG;
	}
	return 0;
}

static const struct aead_ops backends[] = {
	[AEAD_SODIUM] = { "sodium", sodium_init_key },
	[AEAD_OPENSSL] = { "openssl", evp_init_key },
};

/* --- the calls --- */

int
aead_seal(struct aead_key *k, const uint8_t key[AEAD_KEY_LEN],
    const uint8_t nonce[AEAD_NONCE_LEN], uint8_t *buf, size_t len,
    uint8_t tag[AEAD_TAG_LEN])
{
	int rc;

	if (len < AEAD_EVP_MIN_LEN || k->ctx == NULL ||
	    atomic_flag_test_and_set_explicit(&k->busy, memory_order_acquire)) {
		sodium_seal(key, nonce, buf, len, tag);
		return 0;
	}
	rc = k->direct ? prov_seal(k->ctx, nonce, buf, len, tag) :
	    evp_seal(k->ctx, nonce, buf, len, tag);
	atomic_flag_clear_explicit(&k->busy, memory_order_release);
	return rc;
}

int
aead_open(struct aead_key *k, const uint8_t key[AEAD_KEY_LEN],
    const uint8_t nonce[AEAD_NONCE_LEN], uint8_t *buf, size_t len,
    const uint8_t tag[AEAD_TAG_LEN])
{
	int rc;

	/* The length first: a short message reads nothing but the key. */
	if (len < AEAD_EVP_MIN_LEN || k->ctx == NULL ||
	    atomic_flag_test_and_set_explicit(&k->busy, memory_order_acquire))
		return sodium_open(key, nonce, buf, len, tag);
	rc = k->direct ? prov_open(k->ctx, nonce, buf, len, tag) :
	    evp_open(k->ctx, nonce, buf, len, tag);
	atomic_flag_clear_explicit(&k->busy, memory_order_release);
	return rc;
}

void
aead_key_init_with(struct aead_key *k, enum aead_backend b,
    const uint8_t key[AEAD_KEY_LEN], bool encrypt)
{
	atomic_flag_clear(&k->busy);
	k->direct = false;
	if (b != AEAD_OPENSSL)
		b = AEAD_SODIUM;
	backends[b].init(k, key, encrypt);
}

void
aead_key_init(struct aead_key *k, const uint8_t key[AEAD_KEY_LEN],
    bool encrypt)
{
	aead_key_init_with(k, aead_backend(), key, encrypt);
}

void
aead_key_prefetch(const struct aead_key *k)
{
	const char *c = k->ctx;
	size_t n, i;

	if (c == NULL)
		return;
	/*
	 * A provider context, all its lines (a seal or open reads most of
	 * them, and their misses would come one after another); an
	 * EVP_CIPHER_CTX its 200 bytes (the provider's behind it is out of
	 * reach).
	 */
	n = k->direct ? atomic_load_explicit(&prov_ctx_bytes,
	    memory_order_relaxed) : 192;
	for (i = 0; i < n; i += 64)
		__builtin_prefetch(c + i);
}

void
aead_key_fini(struct aead_key *k)
{
	if (k == NULL)
		return;
	/* The provider's context is cleansed as it is freed. */
	if (k->ctx != NULL && k->direct)
		prov.freectx(k->ctx);
	else
		EVP_CIPHER_CTX_free(k->ctx);
	k->ctx = NULL;
}

/* --- choosing --- */

const char *
aead_backend_name(enum aead_backend b)
{
	return b == AEAD_SODIUM || b == AEAD_OPENSSL ? backends[b].name :
	    "auto";
}

int
aead_backend_parse(const char *s, enum aead_backend *out)
{
	if (strcmp(s, "auto") == 0)
		*out = AEAD_AUTO;
	else if (strcmp(s, "sodium") == 0 || strcmp(s, "libsodium") == 0)
		*out = AEAD_SODIUM;
	else if (strcmp(s, "openssl") == 0 || strcmp(s, "evp") == 0)
		*out = AEAD_OPENSSL;
	else
		return -EINVAL;
	return 0;
}

/* This thread's CPU time: a busy machine preempts, it does not slow. */
static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define PROBE_LEN	1420	/* a full packet at the default MTU */
#define PROBE_PKTS	128
#define PROBE_ROUNDS	3

/*
 * Nanoseconds for PROBE_PKTS seals of PROBE_LEN bytes, the best of
 * PROBE_ROUNDS interleaved rounds (the machine may be busy): about a
 * millisecond in all.
 */
static void
probe(uint64_t best[2])
{
	static uint8_t buf[PROBE_LEN];
	uint8_t key[AEAD_KEY_LEN], nonce[AEAD_NONCE_LEN] = { 0 }, tag[16];
	struct aead_key k[2];
	int r, b, i;

	randombytes_buf(key, sizeof(key));
	aead_key_init_with(&k[0], AEAD_SODIUM, key, true);
	aead_key_init_with(&k[1], AEAD_OPENSSL, key, true);
	best[0] = best[1] = UINT64_MAX;
	for (r = 0; r < PROBE_ROUNDS; r++)
		for (b = 0; b < 2; b++) {
			uint64_t t0 = cpu_ns(), t;

			for (i = 0; i < PROBE_PKTS; i++) {
				nonce[4] = (uint8_t)i;
				if (aead_seal(&k[b], key, nonce, buf,
				    sizeof(buf), tag) != 0)
					break;
			}
			t = cpu_ns() - t0;
			if (i == PROBE_PKTS && t < best[b])
				best[b] = t;
		}
	if (k[1].ctx == NULL)
		best[1] = UINT64_MAX;	/* no EVP context: not a choice */
	aead_key_fini(&k[0]);
	aead_key_fini(&k[1]);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(buf, sizeof(buf));
}

static double
gbps(uint64_t ns)
{
	return ns == 0 || ns == UINT64_MAX ? 0 :
	    (double)PROBE_PKTS * PROBE_LEN * 8 / (double)ns;
}

static enum aead_backend
measure(void)
{
	uint64_t t[2];
	enum aead_backend b;

	if (sodium_init() < 0)
		return AEAD_SODIUM;
	probe(t);
	b = t[1] < t[0] ? AEAD_OPENSSL : AEAD_SODIUM;
	log_info("transport data AEAD: %s (measured per core at %d bytes: "
	    "openssl %.1f, sodium %.1f Gbit/s)", backends[b].name, PROBE_LEN,
	    gbps(t[1]), gbps(t[0]));
	return b;
}

enum aead_backend
aead_select(enum aead_backend b)
{
	if (b != AEAD_SODIUM && b != AEAD_OPENSSL)
		b = measure();
	else
		log_info("transport data AEAD: %s (forced)", backends[b].name);
	atomic_store(&chosen, b);
	return b;
}

static void
choose_default(void)
{
	enum aead_backend b = AEAD_AUTO;
	const char *env = getenv("FZ_AEAD");
	int expected = AEAD_AUTO;

	if (env != NULL && *env != '\0' && aead_backend_parse(env, &b) != 0) {
		log_warnx("FZ_AEAD: want sodium, openssl or auto; measuring");
		b = AEAD_AUTO;
	}
	if (b == AEAD_AUTO)
		b = measure();
	else
		log_info("transport data AEAD: %s (FZ_AEAD)",
		    backends[b].name);
	/* Unless aead_select forced one meanwhile. */
	atomic_compare_exchange_strong(&chosen, &expected, (int)b);
}

enum aead_backend
aead_backend(void)
{
	int b = atomic_load_explicit(&chosen, memory_order_relaxed);

	if (b != AEAD_AUTO)
		return (enum aead_backend)b;
	pthread_once(&choose_once, choose_default);
	return (enum aead_backend)atomic_load(&chosen);
}
