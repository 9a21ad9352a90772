/* SPDX-License-Identifier: ISC */
/*
 * Transport-data ChaCha20-Poly1305 (RFC 8439): libsodium, the reference,
 * and OpenSSL 3's EVP (its AVX2/AVX-512 code is about twice libsodium's
 * speed per core where it has them).
 *
 * OpenSSL's context is the thread's, not the key's: each thread keeps one
 * context per direction (made at its first long message) and sets it to
 * the message's key and nonce, or to the nonce alone when it holds that key
 * already (a flow's packets come together).  A context per key (856 bytes
 * with OpenSSL 3.0, most of them read by every message) was a dozen cache
 * lines per packet with thousands of peers, which no prefetching hid
 * (tests/bench/peers: send at 10 000 peers +11 to +16 % of 10 peers with
 * them); setting the key costs about 15 ns a message where it changes.
 * Nothing is allocated per packet, a context is never shared by two
 * threads, and no key holds anything but its 32 bytes, which its owner
 * wipes.  The copy a thread's context holds is wiped after each message
 * unless the thread asked to keep it (aead_thread_hold: the data plane's
 * workers, which wipe it before they sleep, aead_thread_wipe) and when
 * the thread exits.
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
#include <pthread.h>
#include <stdatomic.h>
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

static const char *const backend_names[] = {
	[AEAD_SODIUM] = "sodium",
	[AEAD_OPENSSL] = "openssl",
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
static _Atomic bool ossl_failed;	/* logged once */

/*
 * A thread's OpenSSL contexts, [direct][encrypt] (direct: the provider's
 * own, else an EVP_CIPHER_CTX), and the key each is set to.
 */
struct tstate {
	void		*ctx[2][2];
	uint8_t		 key[2][2][AEAD_KEY_LEN];
	bool		 keyed[2][2];
	bool		 hold;		/* keep the key between messages */
};
static __thread struct tstate *tstate;
static pthread_key_t tstate_key;	/* frees a thread's at its exit */
static pthread_once_t tstate_once = PTHREAD_ONCE_INIT;
static bool tstate_key_ok;

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
	return k->openssl && k->direct;
}

/* --- libsodium --- */

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

/* --- OpenSSL: a thread's contexts --- */

/* Sets c (not yet keyed) to key, or to zeros when key is NULL. */
static int
ctx_key(void *c, bool direct, bool enc, const uint8_t *key)
{
	static const uint8_t zero[AEAD_KEY_LEN];

	if (key == NULL)
		key = zero;
	if (direct)
		return (enc ? prov.einit(c, key, AEAD_KEY_LEN, NULL, 0, NULL) :
		    prov.dinit(c, key, AEAD_KEY_LEN, NULL, 0, NULL)) == 1 ?
		    0 : -EIO;
	return EVP_CipherInit_ex(c, NULL, NULL, key, NULL, enc ? 1 : 0) ==
	    1 ? 0 : -EIO;
}

/* Frees a thread's context (both calls cleanse it). */
static void
ctx_free(void *c, bool direct)
{
	if (direct)
		prov.freectx(c);
	else
		EVP_CIPHER_CTX_free(c);
}

/*
 * Frees a thread's context, which cleanses it (it may hold a key, or part
 * of one, or state after an error), and forgets its key; the next message
 * makes another.
 */
static void
tstate_drop(struct tstate *t, int d, int e)
{
	if (t->ctx[d][e] != NULL)
		ctx_free(t->ctx[d][e], d);
	t->ctx[d][e] = NULL;
	sodium_memzero(t->key[d][e], AEAD_KEY_LEN);
	t->keyed[d][e] = false;
}

/* Overwrites the key a thread's context holds (nothing if none). */
static void
tstate_wipe_one(struct tstate *t, int d, int e)
{
	if (!t->keyed[d][e])
		return;
	if (ctx_key(t->ctx[d][e], d, e, NULL) != 0) {
		tstate_drop(t, d, e);
		return;
	}
	sodium_memzero(t->key[d][e], AEAD_KEY_LEN);
	t->keyed[d][e] = false;
}

static void
tstate_free(void *arg)
{
	struct tstate *t = arg;

	for (int d = 0; d < 2; d++)
		for (int e = 0; e < 2; e++)
			if (t->ctx[d][e] != NULL)
				ctx_free(t->ctx[d][e], d);
	if (t == tstate)
		tstate = NULL;
	sodium_memzero(t, sizeof(*t));
	free(t);
}

static void
tstate_key_make(void)
{
	tstate_key_ok = pthread_key_create(&tstate_key, tstate_free) == 0;
}

static struct tstate *
tstate_get(void)
{
	struct tstate *t;

	if (tstate != NULL)
		return tstate;
	pthread_once(&tstate_once, tstate_key_make);
	if (!tstate_key_ok || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (pthread_setspecific(tstate_key, t) != 0) {
		free(t);
		return NULL;
	}
	return tstate = t;
}

/*
 * Whether two keys are the same, in constant time: four 64-bit words
 * (sodium_memcmp's byte loop was 2 % of a gateway's CPU under load).
 */
static bool
key_eq(const uint8_t a[AEAD_KEY_LEN], const uint8_t b[AEAD_KEY_LEN])
{
	uint64_t x, y, d = 0;

	for (int i = 0; i < AEAD_KEY_LEN; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		d |= x ^ y;
	}
	return d == 0;
}

/*
 * This thread's context for direct/enc, set to key (the nonce is the
 * caller's to set), or NULL (no memory, or OpenSSL failed: libsodium).
 */
static void *
tstate_ctx(struct tstate *t, bool direct, bool enc, const uint8_t *key)
{
	int d = direct, e = enc;
	void *c = t->ctx[d][e];

	if (c == NULL) {
		if (direct)
			c = prov.newctx(prov.provctx);
		else if ((c = EVP_CIPHER_CTX_new()) != NULL &&
		    EVP_CipherInit_ex(c, evp_cipher, NULL, NULL, NULL,
		    enc ? 1 : 0) != 1) {
			ctx_free(c, false);
			c = NULL;
		}
		if ((t->ctx[d][e] = c) == NULL)
			return NULL;
		t->keyed[d][e] = false;
	}
	if (t->keyed[d][e] && key_eq(t->key[d][e], key))
		return c;
	t->keyed[d][e] = false;
	if (ctx_key(c, direct, enc, key) != 0) {
		tstate_drop(t, d, e);	/* it may hold part of the key */
		return NULL;
	}
	memcpy(t->key[d][e], key, AEAD_KEY_LEN);
	t->keyed[d][e] = true;
	return c;
}

void
aead_thread_hold(bool on)
{
	struct tstate *t = tstate_get();

	if (t == NULL)
		return;
	t->hold = on;
	if (!on)
		aead_thread_wipe();
}

void
aead_thread_wipe(void)
{
	struct tstate *t = tstate;

	if (t == NULL)
		return;
	for (int d = 0; d < 2; d++)
		for (int e = 0; e < 2; e++)
			tstate_wipe_one(t, d, e);
}

/* --- OpenSSL EVP --- */

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

/* --- the calls --- */

/*
 * Seals (enc) or opens with this thread's context for k: 0, -EBADMSG
 * (opening: buf wiped), -EIO; or -ENOMEM when there is no context (the
 * caller uses libsodium).
 */
static int
ossl_do(const struct aead_key *k, bool enc, const uint8_t *key,
    const uint8_t *nonce, uint8_t *buf, size_t len, uint8_t *tag)
{
	struct tstate *t = tstate_get();
	void *c;
	int rc;

	if (t == NULL || (c = tstate_ctx(t, k->direct, enc, key)) == NULL)
		return -ENOMEM;
	if (k->direct)
		rc = enc ? prov_seal(c, nonce, buf, len, tag) :
		    prov_open(c, nonce, buf, len, tag);
	else
		rc = enc ? evp_seal(c, nonce, buf, len, tag) :
		    evp_open(c, nonce, buf, len, tag);
	if (rc == -EIO) {
		/*
		 * OpenSSL failed (not a bad tag): the context goes, cleansed,
		 * so that no state of it outlives the message; the next makes
		 * another.
		 */
		if (!atomic_exchange(&ossl_failed, true))
			log_warnx("OpenSSL ChaCha20-Poly1305 failed to seal; "
			    "the message is dropped, its context remade");
		tstate_drop(t, k->direct, enc);
	} else if (rc != 0 || !t->hold)
		/* A failed open sets the key anew for the next message. */
		tstate_wipe_one(t, k->direct, enc);
	return rc;
}

int
aead_seal(struct aead_key *k, const uint8_t key[AEAD_KEY_LEN],
    const uint8_t nonce[AEAD_NONCE_LEN], uint8_t *buf, size_t len,
    uint8_t tag[AEAD_TAG_LEN])
{
	int rc;

	if (len >= AEAD_EVP_MIN_LEN && k->openssl &&
	    (rc = ossl_do(k, true, key, nonce, buf, len, tag)) != -ENOMEM)
		return rc;
	sodium_seal(key, nonce, buf, len, tag);
	return 0;
}

int
aead_open(struct aead_key *k, const uint8_t key[AEAD_KEY_LEN],
    const uint8_t nonce[AEAD_NONCE_LEN], uint8_t *buf, size_t len,
    const uint8_t tag[AEAD_TAG_LEN])
{
	int rc;

	/* The length first: a short message reads nothing but the key. */
	if (len >= AEAD_EVP_MIN_LEN && k->openssl &&
	    (rc = ossl_do(k, false, key, nonce, buf, len, (uint8_t *)tag)) !=
	    -ENOMEM)
		return rc;
	return sodium_open(key, nonce, buf, len, tag);
}

void
aead_key_init_with(struct aead_key *k, enum aead_backend b)
{
	k->openssl = false;
	k->direct = false;
	if (b != AEAD_OPENSSL)
		return;
	pthread_once(&evp_once, evp_fetch);
	if (evp_cipher == NULL)
		return;
	k->openssl = true;
	k->direct = prov_ok && !evp_api_only;
}

void
aead_key_init(struct aead_key *k)
{
	aead_key_init_with(k, aead_backend());
}

void
aead_key_fini(struct aead_key *k)
{
	if (k == NULL)
		return;
	k->openssl = false;
	k->direct = false;
}

/* --- choosing --- */

const char *
aead_backend_name(enum aead_backend b)
{
	return b == AEAD_SODIUM || b == AEAD_OPENSSL ? backend_names[b] :
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
	aead_key_init_with(&k[0], AEAD_SODIUM);
	aead_key_init_with(&k[1], AEAD_OPENSSL);
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
	if (!k[1].openssl)
		best[1] = UINT64_MAX;	/* no OpenSSL: not a choice */
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
	    "openssl %.1f, sodium %.1f Gbit/s)", backend_names[b], PROBE_LEN,
	    gbps(t[1]), gbps(t[0]));
	return b;
}

enum aead_backend
aead_select(enum aead_backend b)
{
	if (b != AEAD_SODIUM && b != AEAD_OPENSSL)
		b = measure();
	else
		log_info("transport data AEAD: %s (forced)", backend_names[b]);
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
		    backend_names[b]);
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
