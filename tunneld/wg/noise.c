/* SPDX-License-Identifier: ISC */
/*
 * WireGuard: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake, cookie
 * replies, keypairs, replay window and transport data (the WireGuard paper,
 * §5), and the timer rules (§6).  See wg.h for the threading model.
 */
#define LOG_MODULE "wg"

#include <blake2.h>
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "wg_rcu.h"		/* before any other urcu header */
#include <urcu/rculfhash.h>
#include <urcu/rculist.h>

#include "buf.h"
#include "fztime.h"
#include "log.h"
#include "ratelimiter.h"
#include "wg.h"

/* Protocol constants (paper §6.1). */
#define REKEY_AFTER_MESSAGES	(1ULL << 60)
#define REJECT_AFTER_MESSAGES	(UINT64_MAX - (1ULL << 13))
#define REKEY_AFTER_TIME	(120 * NSEC_PER_SEC)
#define REJECT_AFTER_TIME	(180 * NSEC_PER_SEC)
#define REKEY_ATTEMPT_TIME	(90 * NSEC_PER_SEC)
#define REKEY_TIMEOUT		(5 * NSEC_PER_SEC)
#define KEEPALIVE_TIMEOUT	(10 * NSEC_PER_SEC)
#define COOKIE_SECRET_LIFE	(120 * NSEC_PER_SEC)
#define INITIATIONS_PER_SEC	50

static const char CONSTRUCTION[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char IDENTIFIER[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
static const char LABEL_MAC1[] = "mac1----";
static const char LABEL_COOKIE[] = "cookie--";

/* Replay window: RFC 6479 style, 2048 bits in 64-bit words. */
#define REPLAY_BITS		2048
#define REPLAY_WORDS		(REPLAY_BITS / 64)
#define REPLAY_WINDOW		(REPLAY_BITS - 64)

static _Atomic unsigned timer_scale = 1;

void
wg_set_timer_scale(unsigned s)
{
	atomic_store(&timer_scale, s > 0 ? s : 1);
}

static uint64_t
T(uint64_t ns)
{
	return ns / atomic_load(&timer_scale);
}

/*
 * An entry of the device's index table: our receiver index of a handshake
 * in flight (one per peer, allocated at commit) or of a keypair.
 */
struct idx_entry {
	struct cds_lfht_node	 node;
	uint32_t		 index;
	bool			 is_kp;
	struct wg_peer		*peer;
	struct rcu_head		 rcu;
};

/*
 * Allocated on a cache line (keypair_new), with what a received packet
 * reads before its tag is checked in the first two lines.
 */
struct wg_keypair {
	struct idx_entry	 ie;		/* ie.rcu frees it */
	_Atomic int		 refs;
	bool			 initiator;
	uint64_t		 created;
	uint8_t			 recv_key[32];
	struct wg_peer		*peer;
	uint32_t		 local_index;
	uint32_t		 remote_index;
	_Atomic uint64_t	 send_counter;
	uint8_t			 send_key[32];
	pthread_spinlock_t	 replay_lock;
	uint64_t		 replay_top;	/* highest counter seen + 1 */
	uint64_t		 replay[REPLAY_WORDS];
};

enum hs_state {
	HS_NONE,
	HS_INIT_SENT,		/* initiator: waiting for the response */
	HS_INIT_CONSUMED,	/* responder: response sent */
};

/*
 * What the data path touches for every packet (the lock, the sessions,
 * the endpoint, the timer stamps, the counters) comes first, together in
 * two or three cache lines; then what handshakes use.
 */
struct wg_peer {
	pthread_mutex_t		 lock;
	/* sessions */
	struct wg_keypair	*kp_cur, *kp_prev, *kp_next;
	/* endpoint: 28 bytes, not a sockaddr_storage (memory per peer) */
	union {
		struct sockaddr		sa;
		struct sockaddr_in	in4;
		struct sockaddr_in6	in6;
	}			 endpoint;
	bool			 has_endpoint;
	bool			 want_hs;
	bool			 keepalive_due;
	_Atomic bool		 dead;
	enum hs_state		 hs;
	/* timers (monotonic ns; 0 = never) */
	uint64_t		 t_recv;	/* authenticated packet */
	uint64_t		 t_data_sent;	/* non-keepalive data */
	uint64_t		 t_any_sent;
	_Atomic uint64_t	 rx_bytes, tx_bytes;
	void			*cookie_slot;
	struct wg_device	*dev;
	uint64_t		 t_hs_start;	/* attempt's first initiation */
	uint64_t		 t_init_sent;
	uint64_t		 t_init_jitter;
	uint64_t		 t_session;	/* last session established */
	unsigned		 keepalive;	/* persistent, seconds */

	struct cds_list_head	 link;		/* device list (RCU) */
	struct cds_lfht_node	 pub_node;	/* device's key table */
	struct rcu_head		 rcu;
	uint8_t			 pub[32];
	uint8_t			 psk[32];
	/* ss and ss_ok: under the device's identity_lock, not lock. */
	uint8_t			 ss[32];	/* DH(S_i, S_r), precomputed */
	bool			 ss_ok;
	uint8_t			 mac1_key[32];	/* HASH(LABEL_MAC1 || pub) */
	uint8_t			 cookie_key[32];/* HASH(LABEL_COOKIE || pub) */
	char			 name[12];

	/* handshake */
	uint32_t		 hs_index;	/* ours (hs_ie->index) */
	struct idx_entry	*hs_ie;		/* in the index table */
	uint32_t		 hs_remote;	/* their sender index */
	uint8_t			 hs_eph_priv[32];
	uint8_t			 hs_hash[32];
	uint8_t			 hs_ck[32];
	uint8_t			 last_tai[12];
	uint64_t		 last_init_consumed;
	uint8_t			 last_mac1[16];	/* of our last handshake msg */
	bool			 last_mac1_ok;
	uint8_t			 cookie[16];
	uint64_t		 cookie_time;	/* 0: none */

	_Atomic uint64_t	 last_hs_real;
	void			(*cookie_dtor)(void *);
};

/*
 * Locking, in the shape of Linux noise.c (no lock is shared by all
 * handshakes exclusively, so workers consume handshakes in parallel):
 *
 *  RCU (urcu-bp)  the peer list, the key table (public key -> peer) and the
 *                 index table (our receiver index -> handshake or keypair)
 *                 are read without locks, inside rcu_read_lock sections;
 *                 removed peers, keypairs and index entries are freed with
 *                 call_rcu once no reader can hold them.  urcu-bp needs no
 *                 thread registration: any thread may call in.
 *  identity_lock  rwlock: the static key pair and what derives from it
 *                 (priv, pub, mac1_key, cookie_key, each peer's ss).  A
 *                 handshake holds it shared from start to end; only
 *                 wg_device_set_private_key takes it exclusively.
 *  lock           writers of the peer list and the key table (adding and
 *                 removing peers).
 *  peer->lock     a peer's handshake state, sessions, endpoint and timers.
 *                 Held to copy state out or to commit, never across a DH.
 *                 Index entries of a peer change under it.
 *  cookie_lock    the cookie secret and its rotation.
 *  (the rate limiter has its own mutex)
 *
 * Order: identity_lock, lock, peer->lock, cookie_lock.  The hash tables
 * (urcu's lock-free cds_lfht, resized automatically) take no lock of ours;
 * both are keyed by a hash the network cannot predict: SipHash-2-4 of the
 * public key under a random per-device key, and our random indices.
 *
 * Consuming a handshake message: verify into locals (every DH and AEAD,
 * with identity_lock shared only), build the answer on locals too, then
 * take the peer's lock once to re-check what may have changed meanwhile
 * (replay, flood, handshake state) and commit.
 */
struct wg_device {
	pthread_rwlock_t	 identity_lock;
	pthread_mutex_t		 lock;		/* peer list changes */
	pthread_mutex_t		 cookie_lock;
	uint8_t			*priv;		/* sodium_malloc'd */
	uint8_t			 pub[32];
	uint8_t			 mac1_key[32];
	uint8_t			 cookie_key[32];
	uint8_t			 cookie_secret[32];
	uint64_t		 cookie_secret_time;
	_Atomic bool		 under_load;
	struct ratelimiter	*rl;		/* handshakes under load */
	struct cds_list_head	 peers;
	size_t			 npeers;	/* under lock */
	uint8_t			 hash_key[crypto_shorthash_KEYBYTES];
	struct cds_lfht		*by_pub;	/* pub -> peer */
	struct cds_lfht		*by_index;	/* index -> struct idx_entry */
};

void
wg_read_lock(void)
{
	rcu_read_lock();
}

void
wg_read_unlock(void)
{
	rcu_read_unlock();
}

static unsigned long
pub_hash(const struct wg_device *d, const uint8_t pub[32])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, pub, 32, d->hash_key);
	memcpy(&v, h, sizeof(v));
	return (unsigned long)v;
}

static int
pub_match(struct cds_lfht_node *n, const void *key)
{
	struct wg_peer *p = caa_container_of(n, struct wg_peer, pub_node);

	return memcmp(p->pub, key, 32) == 0;
}

/* Our indices are random: a multiplicative mix spreads them over buckets. */
static unsigned long
index_hash(uint32_t idx)
{
	return (unsigned long)((uint64_t)idx * 0x9e3779b97f4a7c15ULL);
}

static int
index_match(struct cds_lfht_node *n, const void *key)
{
	struct idx_entry *e = caa_container_of(n, struct idx_entry, node);

	return e->index == *(const uint32_t *)key;
}

static struct idx_entry *
index_lookup(struct wg_device *d, uint32_t idx)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(d->by_index, index_hash(idx), index_match, &idx, &it);
	n = cds_lfht_iter_get_node(&it);
	return n != NULL ? caa_container_of(n, struct idx_entry, node) : NULL;
}

static void
free_idx_entry_rcu(struct rcu_head *h)
{
	free(caa_container_of(h, struct idx_entry, rcu));
}

/* --- primitives (paper §5.4) --- */

static void
hash2(uint8_t out[32], const void *a, size_t al, const void *b, size_t bl)
{
	blake2s_state s;

	blake2s_init(&s, 32);
	blake2s_update(&s, a, al);
	if (bl > 0)
		blake2s_update(&s, b, bl);
	blake2s_final(&s, out, 32);
}

/* MAC(key, input): keyed BLAKE2s-128. */
static void
mac16(uint8_t out[16], const uint8_t *key, size_t klen, const void *in,
    size_t inlen)
{
	blake2s(out, in, key, 16, inlen, klen);
}

/* HMAC-BLAKE2s-256 (RFC 2104 over BLAKE2s, 64-byte blocks). */
static void
hmac(uint8_t out[32], const uint8_t key[32], const void *in, size_t inlen)
{
	uint8_t k[64], ihash[32];
	blake2s_state s;
	int i;

	memset(k, 0, sizeof(k));
	memcpy(k, key, 32);
	for (i = 0; i < 64; i++)
		k[i] ^= 0x36;
	blake2s_init(&s, 32);
	blake2s_update(&s, k, 64);
	blake2s_update(&s, in, inlen);
	blake2s_final(&s, ihash, 32);
	for (i = 0; i < 64; i++)
		k[i] ^= 0x36 ^ 0x5c;
	blake2s_init(&s, 32);
	blake2s_update(&s, k, 64);
	blake2s_update(&s, ihash, 32);
	blake2s_final(&s, out, 32);
	sodium_memzero(k, sizeof(k));
	sodium_memzero(ihash, sizeof(ihash));
}

/* KDF_n: HKDF with HMAC-BLAKE2s; writes n (1..3) 32-byte outputs. */
static void
kdf(uint8_t *o1, uint8_t *o2, uint8_t *o3, const uint8_t ck[32],
    const void *in, size_t inlen)
{
	uint8_t prk[32], t[33];

	hmac(prk, ck, in, inlen);
	t[0] = 1;
	hmac(t, prk, t, 1);
	memcpy(o1, t, 32);
	if (o2 != NULL) {
		t[32] = 2;
		hmac(t, prk, t, 33);
		memcpy(o2, t, 32);
	}
	if (o3 != NULL) {
		t[32] = 3;
		hmac(t, prk, t, 33);
		memcpy(o3, t, 32);
	}
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(t, sizeof(t));
}

static int
dh(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32])
{
	/* libsodium rejects all-zero results (small-order points). */
	return crypto_scalarmult_curve25519(out, priv, pub) == 0 ? 0 : -EINVAL;
}

static void
mix_hash(uint8_t h[32], const void *in, size_t len)
{
	hash2(h, h, 32, in, len);
}

static void
aead_nonce(uint8_t n[12], uint64_t counter)
{
	memset(n, 0, 4);
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* AEAD(k, 0, plain, h) appended to w; then h = HASH(h || ciphertext). */
static void
seal_hash(struct wbuf *w, const uint8_t k[32], const void *plain, size_t len,
    uint8_t h[32])
{
	uint8_t nonce[12], out[64];

	aead_nonce(nonce, 0);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain, len, h,
	    32, NULL, nonce, k);
	wbuf_put(w, out, len + 16);
	mix_hash(h, out, len + 16);
}

static int
open_hash(uint8_t *plain, const uint8_t k[32], const uint8_t *ct, size_t ctlen,
    uint8_t h[32])
{
	uint8_t nonce[12];

	aead_nonce(nonce, 0);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL, ct,
	    ctlen, h, 32, nonce, k) != 0)
		return -EBADMSG;
	mix_hash(h, ct, ctlen);
	return 0;
}

static void
tai64n(uint8_t out[12])
{
	uint64_t now = time_real_ns();
	uint64_t secs = 0x400000000000000aULL + now / NSEC_PER_SEC;
	/* Coarsen to 2^24 ns so the timestamp does not leak a fine clock. */
	uint32_t ns = (uint32_t)(now % NSEC_PER_SEC) & ~0xffffffU;
	struct wbuf w;

	wbuf_init(&w, out, 12);
	wbuf_put_u64(&w, secs);
	wbuf_put_u32(&w, ns);
}

/* --- keys and base64 --- */

int
wg_key_from_base64(const char *s, uint8_t out[WG_KEY_LEN])
{
	uint8_t k[WG_KEY_LEN];
	size_t n;

	if (strlen(s) != 44 || s[43] != '=' ||
	    sodium_base642bin(k, sizeof(k), s, 44, NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || n != WG_KEY_LEN)
		return -EINVAL;
	memcpy(out, k, WG_KEY_LEN);
	sodium_memzero(k, sizeof(k));
	return 0;
}

void
wg_key_to_base64(const uint8_t k[WG_KEY_LEN], char out[45])
{
	sodium_bin2base64(out, 45, k, WG_KEY_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
}

int
wg_key_from_hex(const char *s, uint8_t out[WG_KEY_LEN])
{
	uint8_t k[WG_KEY_LEN];
	size_t n;

	if (strlen(s) != 64 || sodium_hex2bin(k, sizeof(k), s, 64, NULL, &n,
	    NULL) != 0 || n != WG_KEY_LEN)
		return -EINVAL;
	memcpy(out, k, WG_KEY_LEN);
	sodium_memzero(k, sizeof(k));
	return 0;
}

void
wg_key_to_hex(const uint8_t k[WG_KEY_LEN], char out[65])
{
	sodium_bin2hex(out, 65, k, WG_KEY_LEN);
}

void
wg_key_public(const uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN])
{
	crypto_scalarmult_curve25519_base(pub, priv);
}

void
wg_key_generate(uint8_t priv[WG_KEY_LEN])
{
	randombytes_buf(priv, WG_KEY_LEN);
	priv[0] &= 248;
	priv[31] = (priv[31] & 127) | 64;
}

/* --- messages --- */

int
wg_mtu_check(int mtu)
{
	return mtu >= WG_MTU_MIN && mtu <= WG_MTU_MAX ? 0 : -EINVAL;
}

int
wg_msg_type(const uint8_t *p, size_t len)
{
	if (len < 4 || p[1] != 0 || p[2] != 0 || p[3] != 0)
		return 0;
	switch (p[0]) {
	case WG_MSG_INITIATION:
		return len == WG_INITIATION_LEN ? WG_MSG_INITIATION : 0;
	case WG_MSG_RESPONSE:
		return len == WG_RESPONSE_LEN ? WG_MSG_RESPONSE : 0;
	case WG_MSG_COOKIE:
		return len == WG_COOKIE_LEN ? WG_MSG_COOKIE : 0;
	case WG_MSG_DATA:
		return len >= WG_DATA_MIN_LEN ? WG_MSG_DATA : 0;
	default:
		return 0;
	}
}

/* --- device --- */

static void
device_derive(struct wg_device *d)
{
	wg_key_public(d->priv, d->pub);
	hash2(d->mac1_key, LABEL_MAC1, 8, d->pub, 32);
	hash2(d->cookie_key, LABEL_COOKIE, 8, d->pub, 32);
}

int
wg_device_new(const uint8_t priv[WG_KEY_LEN], struct wg_device **out)
{
	struct wg_device *d;
	const char *scale;

	if (sodium_init() < 0)
		return -ENOSYS;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	if ((d->priv = sodium_malloc(32)) == NULL) {
		free(d);
		return -ENOMEM;
	}
	/* Both tables grow (and shrink) with the number of entries. */
	d->by_pub = cds_lfht_new(8, 8, 0, CDS_LFHT_AUTO_RESIZE |
	    CDS_LFHT_ACCOUNTING, NULL);
	d->by_index = cds_lfht_new(8, 8, 0, CDS_LFHT_AUTO_RESIZE |
	    CDS_LFHT_ACCOUNTING, NULL);
	if (d->by_pub == NULL || d->by_index == NULL ||
	    ratelimiter_new(0, &d->rl) != 0) {
		if (d->by_pub != NULL)
			(void)cds_lfht_destroy(d->by_pub, NULL);
		if (d->by_index != NULL)
			(void)cds_lfht_destroy(d->by_index, NULL);
		sodium_free(d->priv);
		free(d);
		return -ENOMEM;
	}
	/* Started now, not later under a sandbox: call_rcu's thread. */
	(void)get_default_call_rcu_data();
	randombytes_buf(d->hash_key, sizeof(d->hash_key));
	CDS_INIT_LIST_HEAD(&d->peers);
	memcpy(d->priv, priv, 32);
	{
		pthread_rwlockattr_t a;

		/* A key change must not wait behind a stream of handshakes. */
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(&a,
		    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&d->identity_lock, &a);
		pthread_rwlockattr_destroy(&a);
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->cookie_lock, NULL);
	device_derive(d);
	if ((scale = getenv("FZ_WG_TIMER_SCALE")) != NULL && atoi(scale) > 0)
		wg_set_timer_scale((unsigned)atoi(scale));
	*out = d;
	return 0;
}

static void keypair_put_locked_unlink(struct wg_device *, struct wg_keypair *);
static void peer_unlink(struct wg_device *, struct wg_peer *);

static void
peer_clear_sessions(struct wg_peer *p)
{
	keypair_put_locked_unlink(p->dev, p->kp_prev);
	keypair_put_locked_unlink(p->dev, p->kp_cur);
	keypair_put_locked_unlink(p->dev, p->kp_next);
	p->kp_prev = p->kp_cur = p->kp_next = NULL;
}

void
wg_device_free(struct wg_device *d)
{
	struct wg_peer *p, *n;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	cds_list_for_each_entry_safe(p, n, &d->peers, link)
		peer_unlink(d, p);
	pthread_mutex_unlock(&d->lock);
	/* Every peer, keypair and index entry was handed to call_rcu. */
	rcu_barrier();
	(void)cds_lfht_destroy(d->by_pub, NULL);
	(void)cds_lfht_destroy(d->by_index, NULL);
	sodium_free(d->priv);
	sodium_memzero(d->cookie_secret, sizeof(d->cookie_secret));
	ratelimiter_free(d->rl);
	pthread_mutex_destroy(&d->cookie_lock);
	pthread_mutex_destroy(&d->lock);
	pthread_rwlock_destroy(&d->identity_lock);
	free(d);
}

void
wg_device_public_key(const struct wg_device *cd, uint8_t out[WG_KEY_LEN])
{
	struct wg_device *d = (struct wg_device *)cd;

	pthread_rwlock_rdlock(&d->identity_lock);
	memcpy(out, d->pub, 32);
	pthread_rwlock_unlock(&d->identity_lock);
}

void
wg_device_private_key(struct wg_device *d, uint8_t out[WG_KEY_LEN])
{
	pthread_rwlock_rdlock(&d->identity_lock);
	memcpy(out, d->priv, 32);
	pthread_rwlock_unlock(&d->identity_lock);
}

static void
peer_derive(struct wg_peer *p)
{
	p->ss_ok = dh(p->ss, p->dev->priv, p->pub) == 0;
}

int
wg_device_set_private_key(struct wg_device *d, const uint8_t priv[WG_KEY_LEN])
{
	struct wg_peer *p;

	pthread_rwlock_wrlock(&d->identity_lock);
	pthread_mutex_lock(&d->lock);
	memcpy(d->priv, priv, 32);
	device_derive(d);
	rcu_read_lock();
	cds_list_for_each_entry(p, &d->peers, link) {
		pthread_mutex_lock(&p->lock);
		peer_derive(p);
		peer_clear_sessions(p);
		p->hs = HS_NONE;
		pthread_mutex_unlock(&p->lock);
	}
	rcu_read_unlock();
	pthread_mutex_unlock(&d->lock);
	pthread_rwlock_unlock(&d->identity_lock);
	return 0;
}

void
wg_device_set_under_load(struct wg_device *d, bool on)
{
	atomic_store(&d->under_load, on);
}

size_t
wg_device_peer_count(struct wg_device *d)
{
	size_t n;

	pthread_mutex_lock(&d->lock);
	n = d->npeers;
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* --- index table --- */

/*
 * Publishes e under a random local index not in use (inside a read-side
 * section).  The sender index is not part of the Noise transcript, so a
 * handshake message is built first and its index picked when committed.
 */
static void
index_add(struct wg_device *d, struct idx_entry *e)
{
	cds_lfht_node_init(&e->node);
	for (;;) {
		e->index = randombytes_random();
		if (e->index != 0 && cds_lfht_add_unique(d->by_index,
		    index_hash(e->index), index_match, &e->index,
		    &e->node) == &e->node)
			return;
	}
}

/* Removes e from the table and frees it after a grace period. */
static void
index_del(struct wg_device *d, struct idx_entry *e)
{
	if (e == NULL)
		return;
	rcu_read_lock();
	(void)cds_lfht_del(d->by_index, &e->node);
	rcu_read_unlock();
	call_rcu(&e->rcu, free_idx_entry_rcu);
}

static void
keypair_free_rcu(struct rcu_head *h)
{
	struct wg_keypair *k = caa_container_of(h, struct wg_keypair, ie.rcu);

	pthread_spin_destroy(&k->replay_lock);
	sodium_memzero(k, sizeof(*k));
	free(k);
}

void
wg_keypair_put(struct wg_keypair *k)
{
	/* A reader may still be walking the index table through it. */
	if (k != NULL && atomic_fetch_sub(&k->refs, 1) == 1)
		call_rcu(&k->ie.rcu, keypair_free_rcu);
}

/* A reference from the index table, unless the keypair is being freed. */
static bool
keypair_get_unless_zero(struct wg_keypair *k)
{
	int r = atomic_load(&k->refs);

	while (r > 0)
		if (atomic_compare_exchange_weak(&k->refs, &r, r + 1))
			return true;
	return false;
}

static void
keypair_put_locked_unlink(struct wg_device *d, struct wg_keypair *k)
{
	if (k == NULL)
		return;
	rcu_read_lock();
	(void)cds_lfht_del(d->by_index, &k->ie.node);
	rcu_read_unlock();
	wg_keypair_put(k);
}

/* --- peers --- */

static void
peer_free_rcu(struct rcu_head *h)
{
	struct wg_peer *p = caa_container_of(h, struct wg_peer, rcu);

	if (p->cookie_dtor != NULL && p->cookie_slot != NULL)
		p->cookie_dtor(p->cookie_slot);
	pthread_mutex_destroy(&p->lock);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

static struct wg_peer *
peer_by_pub(struct wg_device *d, const uint8_t pub[32])
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(d->by_pub, pub_hash(d, pub), pub_match, pub, &it);
	n = cds_lfht_iter_get_node(&it);
	return n != NULL ? caa_container_of(n, struct wg_peer, pub_node) :
	    NULL;
}

int
wg_peer_add(struct wg_device *d, const uint8_t pub[WG_KEY_LEN],
    struct wg_peer **out)
{
	struct wg_peer *p;
	char b64[45];
	size_t grow = 0;
	int rc = 0;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->dev = d;
	pthread_mutex_init(&p->lock, NULL);
	memcpy(p->pub, pub, 32);
	hash2(p->mac1_key, LABEL_MAC1, 8, pub, 32);
	hash2(p->cookie_key, LABEL_COOKIE, 8, pub, 32);
	wg_key_to_base64(pub, b64);
	memcpy(p->name, b64, 8);	/* as wg-quick logs it: "AbCdEfGh" */
	p->name[8] = '\0';
	cds_lfht_node_init(&p->pub_node);

	pthread_rwlock_rdlock(&d->identity_lock);
	if (sodium_memcmp(pub, d->pub, 32) == 0) {
		rc = -EINVAL;		/* a peer cannot be ourselves */
		goto out;
	}
	peer_derive(p);
	pthread_mutex_lock(&d->lock);
	rcu_read_lock();
	if (peer_by_pub(d, pub) != NULL)
		rc = -EEXIST;		/* writers hold d->lock: no race */
	else {
		/*
		 * Published whole, in the list first: a reader that finds it
		 * by key may walk on from it (wg_peer_next).
		 */
		cds_list_add_tail_rcu(&p->link, &d->peers);
		(void)cds_lfht_add_unique(d->by_pub, pub_hash(d, pub),
		    pub_match, pub, &p->pub_node);
		d->npeers++;
	}
	if (rc == 0 && d->npeers >= 64 && (d->npeers & (d->npeers - 1)) == 0)
		grow = d->npeers;
	rcu_read_unlock();
	pthread_mutex_unlock(&d->lock);
out:
	pthread_rwlock_unlock(&d->identity_lock);
	/*
	 * Both tables grow now, to a bucket (16 bytes) a peer, rather than
	 * from urcu's lazy resize worker, which can trail a burst of adds (a
	 * gateway's wg-quick file) by seconds of long chains.  A resize waits
	 * for a grace period: no lock of ours is held (a reader could wait
	 * for it), and the caller is outside any read-side section.
	 */
	if (grow > 0) {
		cds_lfht_resize(d->by_pub, grow);
		cds_lfht_resize(d->by_index, grow);
	}
	if (rc != 0) {
		pthread_mutex_destroy(&p->lock);
		sodium_memzero(p, sizeof(*p));
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

struct wg_peer *
wg_peer_find(struct wg_device *d, const uint8_t pub[WG_KEY_LEN])
{
	struct wg_peer *p;

	rcu_read_lock();
	p = peer_by_pub(d, pub);
	rcu_read_unlock();
	return p;
}

struct wg_peer *
wg_peer_next(struct wg_device *d, struct wg_peer *prev)
{
	struct cds_list_head *pos;
	struct wg_peer *p;

	rcu_read_lock();
	if (prev == NULL)
		pos = rcu_dereference(d->peers.next);
	else
		pos = rcu_dereference(prev->link.next);
	for (;;) {
		if (pos == &d->peers) {
			p = NULL;
			break;
		}
		p = caa_container_of(pos, struct wg_peer, link);
		if (!atomic_load(&p->dead))
			break;
		pos = rcu_dereference(pos->next);
	}
	rcu_read_unlock();
	return p;
}

/* Takes p out of every table and frees it after a grace period; d->lock. */
static void
peer_unlink(struct wg_device *d, struct wg_peer *p)
{
	rcu_read_lock();
	(void)cds_lfht_del(d->by_pub, &p->pub_node);
	rcu_read_unlock();
	cds_list_del_rcu(&p->link);
	d->npeers--;
	pthread_mutex_lock(&p->lock);
	p->dead = true;
	peer_clear_sessions(p);
	index_del(d, p->hs_ie);
	p->hs_ie = NULL;
	p->hs = HS_NONE;
	sodium_memzero(p->hs_eph_priv, sizeof(p->hs_eph_priv));
	sodium_memzero(p->psk, sizeof(p->psk));
	pthread_mutex_unlock(&p->lock);
	call_rcu(&p->rcu, peer_free_rcu);
}

void
wg_peer_remove(struct wg_device *d, struct wg_peer *p)
{
	pthread_mutex_lock(&d->lock);
	peer_unlink(d, p);
	pthread_mutex_unlock(&d->lock);
}

void
wg_peer_set_psk(struct wg_peer *p, const uint8_t psk[WG_KEY_LEN])
{
	pthread_mutex_lock(&p->lock);
	if (psk != NULL)
		memcpy(p->psk, psk, 32);
	else
		memset(p->psk, 0, 32);
	pthread_mutex_unlock(&p->lock);
}

void
wg_peer_set_keepalive(struct wg_peer *p, unsigned secs)
{
	pthread_mutex_lock(&p->lock);
	p->keepalive = secs;
	pthread_mutex_unlock(&p->lock);
}

/* An IPv4 or IPv6 endpoint (anything else is ignored); p->lock held. */
static void
endpoint_set(struct wg_peer *p, const union fz_sockaddr *sa)
{
	size_t n = sa->sa.sa_family == AF_INET ? sizeof(sa->in4) :
	    sa->sa.sa_family == AF_INET6 ? sizeof(sa->in6) : 0;

	if (n == 0)
		return;
	memset(&p->endpoint, 0, sizeof(p->endpoint));
	memcpy(&p->endpoint, sa, n);
	p->has_endpoint = true;
}

void
wg_peer_set_endpoint(struct wg_peer *p, const union fz_sockaddr *sa)
{
	pthread_mutex_lock(&p->lock);
	endpoint_set(p, sa);
	pthread_mutex_unlock(&p->lock);
}

bool
wg_peer_endpoint(struct wg_peer *p, union fz_sockaddr *out)
{
	bool ok;

	pthread_mutex_lock(&p->lock);
	ok = p->has_endpoint;
	if (ok) {
		memset(out, 0, sizeof(*out));
		memcpy(out, &p->endpoint, sizeof(p->endpoint));
	}
	pthread_mutex_unlock(&p->lock);
	return ok;
}

void
wg_peer_public_key(const struct wg_peer *p, uint8_t out[WG_KEY_LEN])
{
	memcpy(out, p->pub, 32);
}

const char *
wg_peer_name(const struct wg_peer *p)
{
	return p->name;
}

void *
wg_peer_cookie(const struct wg_peer *p)
{
	return __atomic_load_n(&p->cookie_slot, __ATOMIC_ACQUIRE);
}

void
wg_peer_set_cookie(struct wg_peer *p, void *c, void (*dtor)(void *))
{
	p->cookie_dtor = dtor;
	__atomic_store_n(&p->cookie_slot, c, __ATOMIC_RELEASE);
}

void
wg_peer_stats(struct wg_peer *p, struct wg_peer_stats *st)
{
	st->rx_bytes = atomic_load(&p->rx_bytes);
	st->tx_bytes = atomic_load(&p->tx_bytes);
	st->last_handshake_real_ns = atomic_load(&p->last_hs_real);
	pthread_mutex_lock(&p->lock);
	st->keepalive = p->keepalive;
	pthread_mutex_unlock(&p->lock);
}

/* --- MAC1 / MAC2 / cookies (paper §5.4.4, §5.4.7) --- */

/* Appends mac1 and mac2 to a handshake message of body length n. */
static void
add_macs(struct wg_peer *p, uint8_t *msg, size_t n)
{
	uint64_t now = time_mono_ns();

	mac16(msg + n, p->mac1_key, 32, msg, n);
	memcpy(p->last_mac1, msg + n, 16);
	p->last_mac1_ok = true;
	if (p->cookie_time != 0 && now - p->cookie_time < T(COOKIE_SECRET_LIFE))
		mac16(msg + n + 16, p->cookie, 16, msg, n + 16);
	else
		memset(msg + n + 16, 0, 16);
}

/* The cookie for a source address: MAC(secret, ip || port). */
static void
make_cookie(struct wg_device *d, const union fz_sockaddr *src, uint8_t out[16])
{
	uint8_t buf[18], secret[32];
	size_t n;
	uint64_t now = time_mono_ns();

	pthread_mutex_lock(&d->cookie_lock);
	if (d->cookie_secret_time == 0 ||
	    now - d->cookie_secret_time >= T(COOKIE_SECRET_LIFE)) {
		randombytes_buf(d->cookie_secret, 32);
		d->cookie_secret_time = now != 0 ? now : 1;
	}
	memcpy(secret, d->cookie_secret, 32);
	pthread_mutex_unlock(&d->cookie_lock);
	if (src->sa.sa_family == AF_INET) {
		memcpy(buf, &src->in4.sin_addr, 4);
		memcpy(buf + 4, &src->in4.sin_port, 2);
		n = 6;
	} else {
		memcpy(buf, &src->in6.sin6_addr, 16);
		memcpy(buf + 16, &src->in6.sin6_port, 2);
		n = 18;
	}
	mac16(out, secret, 32, buf, n);
	sodium_memzero(secret, sizeof(secret));
}

enum macs {
	MACS_OK,		/* not under load: mac1 is enough */
	MACS_COOKIE_OK,		/* under load, with a valid mac2 */
	MACS_NEED_COOKIE,	/* under load, no valid mac2: answer a cookie */
};

/* Checks mac1 (always) and mac2 (under load); -EBADMSG or an enum macs. */
static int
check_macs(struct wg_device *d, const uint8_t *msg, size_t len,
    const union fz_sockaddr *src)
{
	uint8_t mac[16], cookie[16];
	size_t n = len - 32;
	int rc;

	mac16(mac, d->mac1_key, 32, msg, n);
	if (sodium_memcmp(mac, msg + n, 16) != 0)
		return -EBADMSG;
	if (!atomic_load(&d->under_load))
		return MACS_OK;
	make_cookie(d, src, cookie);
	mac16(mac, cookie, 16, msg, n + 16);
	rc = sodium_memcmp(mac, msg + n + 16, 16) == 0 ? MACS_COOKIE_OK :
	    MACS_NEED_COOKIE;
	sodium_memzero(cookie, sizeof(cookie));
	sodium_memzero(mac, sizeof(mac));
	return rc;
}

static size_t
make_cookie_reply(struct wg_device *d, const uint8_t *msg, size_t len,
    const union fz_sockaddr *src, uint8_t *out)
{
	uint8_t cookie[16], nonce[24];
	struct wbuf w;

	make_cookie(d, src, cookie);
	randombytes_buf(nonce, sizeof(nonce));
	wbuf_init(&w, out, WG_COOKIE_LEN);
	wbuf_put_u32(&w, (uint32_t)WG_MSG_COOKIE << 24);
	wbuf_put(&w, msg + 4, 4);	/* receiver = their sender index */
	wbuf_put(&w, nonce, 24);
	/* AAD is the mac1 of the message we answer. */
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 32, NULL, cookie, 16,
	    msg + len - 32, 16, NULL, nonce, d->cookie_key);
	sodium_memzero(cookie, sizeof(cookie));
	return WG_COOKIE_LEN;
}

/* --- handshake (paper §5.4.2, §5.4.3) --- */

static void
noise_init(uint8_t ck[32], uint8_t h[32], const uint8_t rpub[32])
{
	hash2(ck, CONSTRUCTION, sizeof(CONSTRUCTION) - 1, NULL, 0);
	hash2(h, ck, 32, IDENTIFIER, sizeof(IDENTIFIER) - 1);
	mix_hash(h, rpub, 32);
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t
get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/*
 * Gives the peer a fresh sender index for msg (at offset 4), in the index
 * table in place of its previous one, and appends the MACs; the peer's
 * lock is held.  e is a new entry, which this takes.
 */
static void
commit_index_and_macs(struct wg_peer *p, struct idx_entry *e, uint8_t *msg,
    size_t len)
{
	struct wg_device *d = p->dev;

	e->is_kp = false;
	e->peer = p;
	index_del(d, p->hs_ie);
	rcu_read_lock();
	index_add(d, e);
	rcu_read_unlock();
	p->hs_ie = e;
	p->hs_index = e->index;
	put_le32(msg + 4, p->hs_index);
	add_macs(p, msg, len - 32);
}

int
wg_create_initiation(struct wg_peer *p, uint8_t out[WG_INITIATION_LEN])
{
	struct wg_device *d = p->dev;
	uint8_t ck[32], h[32], epriv[32], epub[32], k[32], tmp[32], tai[12];
	struct idx_entry *e;
	struct wbuf w;
	int rc = -EINVAL;

	pthread_rwlock_rdlock(&d->identity_lock);
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (p->dead || !p->ss_ok)
		goto out;
	/* initiator.chaining_key = HASH(CONSTRUCTION), ... */
	noise_init(ck, h, p->pub);
	wbuf_init(&w, out, WG_INITIATION_LEN);
	wbuf_put_u32(&w, (uint32_t)WG_MSG_INITIATION << 24);
	wbuf_put_u32_le(&w, 0);		/* sender index: at commit */
	/* e: E_priv_i = DH_GENERATE; C = KDF1(C, E_pub_i); H = HASH(H || E_pub_i) */
	crypto_box_keypair(epub, epriv);
	kdf(ck, NULL, NULL, ck, epub, 32);
	wbuf_put(&w, epub, 32);
	mix_hash(h, epub, 32);
	/* es: (C, k) = KDF2(C, DH(E_priv_i, S_pub_r)) */
	if (dh(tmp, epriv, p->pub) != 0)
		goto out;
	kdf(ck, k, NULL, ck, tmp, 32);
	/* s: static = AEAD(k, 0, S_pub_i, H) */
	seal_hash(&w, k, d->pub, 32, h);
	/* ss: (C, k) = KDF2(C, DH(S_priv_i, S_pub_r)) */
	kdf(ck, k, NULL, ck, p->ss, 32);
	/* timestamp = AEAD(k, 0, TAI64N(), H) */
	tai64n(tai);
	seal_hash(&w, k, tai, 12, h);
	wbuf_zero(&w, 32);
	if (wbuf_error(&w) != 0)
		goto out;

	/* Commit: this is now the peer's handshake in flight. */
	pthread_mutex_lock(&p->lock);
	if (p->dead) {
		pthread_mutex_unlock(&p->lock);
		goto out;
	}
	memcpy(p->hs_ck, ck, 32);
	memcpy(p->hs_hash, h, 32);
	memcpy(p->hs_eph_priv, epriv, 32);
	commit_index_and_macs(p, e, out, WG_INITIATION_LEN);
	e = NULL;
	p->hs = HS_INIT_SENT;
	{
		uint64_t now = time_mono_ns();

		if (p->t_hs_start == 0)
			p->t_hs_start = now;
		p->t_init_sent = now;
		p->t_init_jitter = randombytes_uniform(334) * NSEC_PER_MSEC;
		p->t_any_sent = now;
		p->want_hs = false;
	}
	pthread_mutex_unlock(&p->lock);
	rc = 0;
out:
	pthread_rwlock_unlock(&d->identity_lock);
	free(e);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(epriv, sizeof(epriv));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(tmp, sizeof(tmp));
	sodium_memzero(tai, sizeof(tai));
	return rc;
}

/*
 * Derives the transport keys from the final chaining key (§5.4.5); the
 * indices are filled in at commit.
 */
static struct wg_keypair *
keypair_new(struct wg_peer *p, bool initiator, const uint8_t ck[32])
{
	struct wg_keypair *k;
	uint8_t a[32], b[32];

	if ((k = aligned_alloc(64, (sizeof(*k) + 63) & ~(size_t)63)) == NULL)
		return NULL;
	memset(k, 0, sizeof(*k));
	kdf(a, b, NULL, ck, NULL, 0);
	memcpy(initiator ? k->send_key : k->recv_key, a, 32);
	memcpy(initiator ? k->recv_key : k->send_key, b, 32);
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
	atomic_init(&k->refs, 1);
	pthread_spin_init(&k->replay_lock, PTHREAD_PROCESS_PRIVATE);
	k->peer = p;
	k->initiator = initiator;
	k->created = time_mono_ns();
	return k;
}

/* Publishes a keypair in the index table and the peer (locks held). */
static void
install_keypair(struct wg_peer *p, struct wg_keypair *k)
{
	struct wg_device *d = p->dev;
	struct cds_lfht_iter it;
	uint32_t idx = k->local_index;

	/* The keypair takes over the handshake's index (Linux: replace). */
	k->ie.index = idx;
	k->ie.is_kp = true;
	k->ie.peer = p;
	cds_lfht_node_init(&k->ie.node);
	rcu_read_lock();
	cds_lfht_lookup(d->by_index, index_hash(idx), index_match, &idx, &it);
	if (p->hs_ie == NULL || cds_lfht_iter_get_node(&it) !=
	    &p->hs_ie->node || cds_lfht_replace(d->by_index, &it,
	    index_hash(idx), index_match, &idx, &k->ie.node) != 0)
		(void)cds_lfht_add_unique(d->by_index, index_hash(idx),
		    index_match, &idx, &k->ie.node);
	rcu_read_unlock();
	if (p->hs_ie != NULL && p->hs_ie->index == idx) {
		call_rcu(&p->hs_ie->rcu, free_idx_entry_rcu);
		p->hs_ie = NULL;
	}

	if (k->initiator) {
		/* The initiator may send at once: rotate now (§5.4.5). */
		if (p->kp_next != NULL) {
			keypair_put_locked_unlink(d, p->kp_next);
			p->kp_next = NULL;
		}
		keypair_put_locked_unlink(d, p->kp_prev);
		p->kp_prev = p->kp_cur;
		p->kp_cur = k;
	} else {
		/* The responder waits for the first data packet. */
		keypair_put_locked_unlink(d, p->kp_next);
		p->kp_next = k;
	}
	p->hs = HS_NONE;
	sodium_memzero(p->hs_eph_priv, sizeof(p->hs_eph_priv));
	p->t_hs_start = 0;
	p->t_session = time_mono_ns();
	atomic_store(&p->last_hs_real, time_real_ns());
}

/*
 * The peer whose handshake uses our index idx (check its state after);
 * inside a read-side section.
 */
static struct wg_peer *
peer_by_hs_index(struct wg_device *d, uint32_t idx)
{
	struct idx_entry *e = index_lookup(d, idx);

	return e != NULL && !e->is_kp ? e->peer : NULL;
}

/* Replayed or too-frequent initiations are ignored (§5.1). */
static int
initiation_fresh(const uint8_t tai[12], const uint8_t last_tai[12],
    uint64_t last_consumed, uint64_t now)
{
	if (memcmp(tai, last_tai, 12) <= 0)
		return -EALREADY;
	/* A consumption after now (another worker, meanwhile) counts too. */
	if (last_consumed != 0 && (now < last_consumed ||
	    now - last_consumed < NSEC_PER_SEC / INITIATIONS_PER_SEC))
		return -EBUSY;
	return 0;
}

/*
 * An initiation (§5.4.2) and our response (§5.4.3).  Every DH and AEAD
 * runs on locals with identity_lock shared (the caller holds it); the
 * peer's lock is taken once to read its replay state and once to commit.
 */
static int
consume_initiation(struct wg_device *d, const uint8_t *msg,
    const union fz_sockaddr *src, uint8_t *reply, struct wg_hs_result *res)
{
	uint8_t ck[32], h[32], k[32], tmp[32], spub[32], tai[12], last_tai[12];
	uint8_t psk[32], epriv[32], epub[32];
	const uint8_t *eph = msg + 8, *sstatic = msg + 40, *ts = msg + 88;
	uint32_t remote = get_le32(msg + 4);
	struct wg_keypair *kp = NULL;
	struct idx_entry *e = NULL;
	struct wg_peer *p;
	struct wbuf w;
	uint64_t now = time_mono_ns(), last_consumed;
	int rc = -EBADMSG;

	noise_init(ck, h, d->pub);
	/* e: C = KDF1(C, E_pub_i); H = HASH(H || E_pub_i) */
	kdf(ck, NULL, NULL, ck, eph, 32);
	mix_hash(h, eph, 32);
	/* es: (C, k) = KDF2(C, DH(S_priv_r, E_pub_i)) */
	if (dh(tmp, d->priv, eph) != 0)
		goto out;
	kdf(ck, k, NULL, ck, tmp, 32);
	/* s: S_pub_i = AEAD-open(k, 0, static, H) */
	if (open_hash(spub, k, sstatic, 48, h) != 0)
		goto out;
	if ((p = peer_by_pub(d, spub)) == NULL) {
		rc = -ENOENT;
		goto out;
	}
	if (!p->ss_ok)
		goto out;
	/* ss: (C, k) = KDF2(C, DH(S_priv_r, S_pub_i)), precomputed */
	kdf(ck, k, NULL, ck, p->ss, 32);
	/* timestamp: TAI64N = AEAD-open(k, 0, timestamp, H) */
	if (open_hash(tai, k, ts, 28, h) != 0)
		goto out;
	pthread_mutex_lock(&p->lock);
	memcpy(last_tai, p->last_tai, 12);
	last_consumed = p->last_init_consumed;
	memcpy(psk, p->psk, 32);
	pthread_mutex_unlock(&p->lock);
	/* Spare the response's two DHs for a replay or a flood. */
	if ((rc = initiation_fresh(tai, last_tai, last_consumed, now)) != 0)
		goto out;

	/* The response, on locals too. */
	rc = -EBADMSG;
	wbuf_init(&w, reply, WG_RESPONSE_LEN);
	wbuf_put_u32(&w, (uint32_t)WG_MSG_RESPONSE << 24);
	wbuf_put_u32_le(&w, 0);		/* sender index: at commit */
	wbuf_put_u32_le(&w, remote);
	/* e: E_priv_r = DH_GENERATE; C = KDF1(C, E_pub_r); H = HASH(H || E_pub_r) */
	crypto_box_keypair(epub, epriv);
	kdf(ck, NULL, NULL, ck, epub, 32);
	wbuf_put(&w, epub, 32);
	mix_hash(h, epub, 32);
	/* ee: C = KDF1(C, DH(E_priv_r, E_pub_i)) */
	if (dh(tmp, epriv, eph) != 0)
		goto out;
	kdf(ck, NULL, NULL, ck, tmp, 32);
	/* se: C = KDF1(C, DH(E_priv_r, S_pub_i)) */
	if (dh(tmp, epriv, spub) != 0)
		goto out;
	kdf(ck, NULL, NULL, ck, tmp, 32);
	/* psk: (C, τ, k) = KDF3(C, Q); H = HASH(H || τ) */
	kdf(ck, tmp, k, ck, psk, 32);
	mix_hash(h, tmp, 32);
	/* empty = AEAD(k, 0, ε, H) */
	seal_hash(&w, k, NULL, 0, h);
	wbuf_zero(&w, 32);
	if (wbuf_error(&w) != 0)
		goto out;
	if ((kp = keypair_new(p, false, ck)) == NULL ||
	    (e = calloc(1, sizeof(*e))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}

	/* Commit, if no newer initiation was consumed meanwhile. */
	pthread_mutex_lock(&p->lock);
	if (p->dead)
		rc = -ENOENT;
	else
		rc = initiation_fresh(tai, p->last_tai, p->last_init_consumed,
		    now);
	if (rc != 0) {
		pthread_mutex_unlock(&p->lock);
		goto out;
	}
	memcpy(p->last_tai, tai, 12);
	p->last_init_consumed = now;
	p->hs_remote = remote;
	commit_index_and_macs(p, e, reply, WG_RESPONSE_LEN);
	e = NULL;
	kp->local_index = p->hs_index;
	kp->remote_index = remote;
	install_keypair(p, kp);
	kp = NULL;
	p->t_any_sent = now;
	if (!p->has_endpoint || !addr_eq(&p->endpoint.sa, &src->sa))
		endpoint_set(p, src);
	pthread_mutex_unlock(&p->lock);
	res->peer = p;
	res->reply_len = WG_RESPONSE_LEN;
	res->established = true;
out:
	wg_keypair_put(kp);
	free(e);
	sodium_memzero(spub, sizeof(spub));
	sodium_memzero(tai, sizeof(tai));
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(tmp, sizeof(tmp));
	sodium_memzero(psk, sizeof(psk));
	sodium_memzero(epriv, sizeof(epriv));
	return rc;
}

/* A response to our initiation (§5.4.3); the same shape as above. */
static int
consume_response(struct wg_device *d, const uint8_t *msg,
    const union fz_sockaddr *src, struct wg_hs_result *res)
{
	uint8_t ck[32], h[32], k[32], tmp[32], tau[32], epriv[32], psk[32];
	uint8_t empty[1];
	const uint8_t *eph = msg + 12;
	uint32_t sender = get_le32(msg + 4), receiver = get_le32(msg + 8);
	struct wg_keypair *kp = NULL;
	struct wg_peer *p;
	int rc = -ENOENT;

	if ((p = peer_by_hs_index(d, receiver)) == NULL)
		goto out;
	pthread_mutex_lock(&p->lock);
	if (p->dead || p->hs != HS_INIT_SENT || p->hs_index != receiver) {
		pthread_mutex_unlock(&p->lock);
		goto out;
	}
	memcpy(ck, p->hs_ck, 32);
	memcpy(h, p->hs_hash, 32);
	memcpy(epriv, p->hs_eph_priv, 32);
	memcpy(psk, p->psk, 32);
	pthread_mutex_unlock(&p->lock);

	rc = -EBADMSG;
	/* e: C = KDF1(C, E_pub_r); H = HASH(H || E_pub_r) */
	kdf(ck, NULL, NULL, ck, eph, 32);
	mix_hash(h, eph, 32);
	/* ee: C = KDF1(C, DH(E_priv_i, E_pub_r)) */
	if (dh(tmp, epriv, eph) != 0)
		goto out;
	kdf(ck, NULL, NULL, ck, tmp, 32);
	/* se: C = KDF1(C, DH(S_priv_i, E_pub_r)) */
	if (dh(tmp, d->priv, eph) != 0)
		goto out;
	kdf(ck, NULL, NULL, ck, tmp, 32);
	/* psk: (C, τ, k) = KDF3(C, Q); H = HASH(H || τ) */
	kdf(ck, tau, k, ck, psk, 32);
	mix_hash(h, tau, 32);
	/* empty = AEAD-open(k, 0, empty, H) */
	if (open_hash(empty, k, msg + 44, 16, h) != 0)
		goto out;
	if ((kp = keypair_new(p, true, ck)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}

	/* Commit, if our initiation is still the one in flight. */
	pthread_mutex_lock(&p->lock);
	if (p->dead || p->hs != HS_INIT_SENT || p->hs_index != receiver ||
	    sodium_memcmp(p->hs_eph_priv, epriv, 32) != 0) {
		pthread_mutex_unlock(&p->lock);
		rc = -ESTALE;
		goto out;
	}
	p->hs_remote = sender;
	kp->local_index = receiver;
	kp->remote_index = sender;
	install_keypair(p, kp);
	kp = NULL;
	p->t_recv = time_mono_ns();
	if (!p->has_endpoint || !addr_eq(&p->endpoint.sa, &src->sa))
		endpoint_set(p, src);
	pthread_mutex_unlock(&p->lock);
	res->peer = p;
	res->established = true;
	rc = 0;
out:
	wg_keypair_put(kp);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(h, sizeof(h));
	sodium_memzero(k, sizeof(k));
	sodium_memzero(tmp, sizeof(tmp));
	sodium_memzero(tau, sizeof(tau));
	sodium_memzero(epriv, sizeof(epriv));
	sodium_memzero(psk, sizeof(psk));
	return rc;
}

static int
consume_cookie(struct wg_device *d, const uint8_t *msg, struct wg_hs_result *res)
{
	uint32_t receiver = get_le32(msg + 4);
	struct wg_peer *p;
	uint8_t cookie[16];
	int rc = -ENOENT;

	if ((p = peer_by_hs_index(d, receiver)) == NULL)
		goto out;
	pthread_mutex_lock(&p->lock);
	if (!p->dead && p->hs != HS_NONE && p->hs_index == receiver) {
		rc = -EBADMSG;
		if (p->last_mac1_ok &&
		    crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, NULL,
		    NULL, msg + 32, 32, p->last_mac1, 16, msg + 8,
		    p->cookie_key) == 0) {
			memcpy(p->cookie, cookie, 16);
			p->cookie_time = time_mono_ns();
			p->last_mac1_ok = false;	/* one cookie per mac1 */
			res->peer = p;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&p->lock);
out:
	sodium_memzero(cookie, sizeof(cookie));
	return rc;
}

int
wg_handle_handshake(struct wg_device *d, const uint8_t *msg, size_t len,
    const union fz_sockaddr *src, uint8_t *reply, struct wg_hs_result *res)
{
	int type = wg_msg_type(msg, len), rc;

	memset(res, 0, sizeof(*res));
	if (type != WG_MSG_INITIATION && type != WG_MSG_RESPONSE &&
	    type != WG_MSG_COOKIE)
		return -EBADMSG;
	/* Shared: handshakes on every worker run in parallel. */
	pthread_rwlock_rdlock(&d->identity_lock);
	rcu_read_lock();
	if (type == WG_MSG_COOKIE) {
		rc = consume_cookie(d, msg, res);
		goto out;
	}
	switch ((rc = check_macs(d, msg, len, src))) {
	case MACS_NEED_COOKIE:
		res->reply_len = make_cookie_reply(d, msg, len, src, reply);
		rc = 0;
		goto out;
	case MACS_COOKIE_OK:
		/*
		 * A valid cookie proves the source address, not good faith:
		 * one source still gets only 20 handshakes a second (burst
		 * 5) while we are under load (Linux: ratelimiter.c).
		 */
		if (!ratelimiter_allow(d->rl, &src->sa, time_mono_ns())) {
			rc = -EAGAIN;
			goto out;
		}
		break;
	case MACS_OK:
		break;
	default:
		goto out;
	}
	rc = type == WG_MSG_INITIATION ?
	    consume_initiation(d, msg, src, reply, res) :
	    consume_response(d, msg, src, res);
out:
	rcu_read_unlock();
	pthread_rwlock_unlock(&d->identity_lock);
	return rc;
}

/* --- transport (§5.4.6) --- */

struct wg_keypair *
wg_peer_send_keypair(struct wg_peer *p)
{
	struct wg_keypair *k;
	uint64_t now = time_mono_ns();

	pthread_mutex_lock(&p->lock);
	k = p->kp_cur;
	if (k != NULL && (now - k->created >= T(REJECT_AFTER_TIME) ||
	    atomic_load(&k->send_counter) >= REJECT_AFTER_MESSAGES))
		k = NULL;
	if (k != NULL) {
		atomic_fetch_add(&k->refs, 1);
		/* Initiators rekey on age or message count (§6.2). */
		if (k->initiator && p->hs == HS_NONE &&
		    (now - k->created >= T(REKEY_AFTER_TIME) ||
		    atomic_load(&k->send_counter) >= REKEY_AFTER_MESSAGES))
			p->want_hs = true;
	} else if (p->hs != HS_INIT_SENT)
		p->want_hs = true;
	pthread_mutex_unlock(&p->lock);
	return k;
}

int
wg_encrypt(struct wg_keypair *k, uint8_t *buf, size_t plen, size_t cap,
    size_t *outlen)
{
	size_t padded = WG_PADDED(plen);
	uint8_t nonce[12];
	uint64_t ctr;
	struct wbuf w;

	if (cap < WG_DATA_HDR_LEN + padded + WG_TAG_LEN)
		return -ENOBUFS;
	ctr = atomic_fetch_add(&k->send_counter, 1);
	if (ctr >= REJECT_AFTER_MESSAGES)
		return -EKEYEXPIRED;
	memset(buf + WG_DATA_HDR_LEN + plen, 0, padded - plen);
	wbuf_init(&w, buf, WG_DATA_HDR_LEN);
	wbuf_put_u32(&w, (uint32_t)WG_MSG_DATA << 24);
	wbuf_put_u32_le(&w, k->remote_index);
	wbuf_put_u64_le(&w, ctr);
	aead_nonce(nonce, ctr);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(
	    buf + WG_DATA_HDR_LEN, buf + WG_DATA_HDR_LEN + padded, NULL,
	    buf + WG_DATA_HDR_LEN, padded, NULL, 0, NULL, nonce, k->send_key);
	*outlen = WG_DATA_HDR_LEN + padded + WG_TAG_LEN;
	return 0;
}

/* RFC 6479 sliding window; true if the counter is fresh (and records it). */
static bool
replay_check(struct wg_keypair *k, uint64_t their)
{
	uint64_t idx, cur, top, i;
	bool fresh;

	if (their >= REJECT_AFTER_MESSAGES)
		return false;
	pthread_spin_lock(&k->replay_lock);
	their++;			/* so that counter 0 is representable */
	if (their + REPLAY_WINDOW < k->replay_top) {
		pthread_spin_unlock(&k->replay_lock);
		return false;
	}
	idx = their >> 6;
	if (their > k->replay_top) {
		cur = k->replay_top >> 6;
		top = idx - cur < REPLAY_WORDS ? idx - cur : REPLAY_WORDS;
		for (i = 1; i <= top; i++)
			k->replay[(i + cur) % REPLAY_WORDS] = 0;
		k->replay_top = their;
	}
	idx %= REPLAY_WORDS;
	fresh = !(k->replay[idx] & (1ULL << (their & 63)));
	k->replay[idx] |= 1ULL << (their & 63);
	pthread_spin_unlock(&k->replay_lock);
	return fresh;
}

static struct wg_keypair *
lookup_keypair(struct wg_device *d, uint32_t idx)
{
	struct wg_keypair *k = NULL;
	struct idx_entry *e;

	rcu_read_lock();
	if ((e = index_lookup(d, idx)) != NULL && e->is_kp) {
		k = caa_container_of(e, struct wg_keypair, ie);
		if (!keypair_get_unless_zero(k))
			k = NULL;
	}
	rcu_read_unlock();
	return k;
}

int
wg_decrypt(struct wg_device *d, uint8_t *buf, size_t len,
    const union fz_sockaddr *src, uint8_t **plain, size_t *plen,
    struct wg_peer **peerp)
{
	struct wg_keypair *k;
	struct wg_peer *p;
	struct rbuf r;
	uint32_t idx;
	uint64_t ctr, now;
	uint8_t nonce[12];
	size_t clen;
	int rc = -EBADMSG;

	if (wg_msg_type(buf, len) != WG_MSG_DATA)
		return -EBADMSG;
	rbuf_init(&r, buf + 4, 12);
	if (rbuf_get_u32_le(&r, &idx) != 0 || rbuf_get_u64_le(&r, &ctr) != 0)
		return -EBADMSG;
	if ((k = lookup_keypair(d, idx)) == NULL)
		return -ENOKEY;
	p = k->peer;
	now = time_mono_ns();
	if (now - k->created >= T(REJECT_AFTER_TIME)) {
		rc = -EKEYEXPIRED;
		goto out;
	}
	clen = len - WG_DATA_HDR_LEN - WG_TAG_LEN;
	aead_nonce(nonce, ctr);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
	    buf + WG_DATA_HDR_LEN, NULL, buf + WG_DATA_HDR_LEN, clen,
	    buf + len - WG_TAG_LEN, NULL, 0, nonce, k->recv_key) != 0)
		goto out;
	if (!replay_check(k, ctr)) {
		rc = -EALREADY;
		goto out;
	}
	atomic_fetch_add(&p->rx_bytes, len);

	pthread_mutex_lock(&p->lock);
	/* The first packet on the next keypair confirms it (§5.4.5). */
	if (k == p->kp_next) {
		keypair_put_locked_unlink(d, p->kp_prev);
		p->kp_prev = p->kp_cur;
		p->kp_cur = p->kp_next;
		p->kp_next = NULL;
	}
	p->t_recv = now;
	if (clen > 0)
		p->keepalive_due = true;	/* answer data within 10 s */
	/* Initiators rekey before the session nears its end (§6.2). */
	if (k->initiator && k == p->kp_cur && p->hs == HS_NONE &&
	    now - k->created >= T(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT -
	    REKEY_TIMEOUT))
		p->want_hs = true;
	if (!p->has_endpoint || !addr_eq(&p->endpoint.sa, &src->sa))
		endpoint_set(p, src);	/* roaming (§2.1) */
	pthread_mutex_unlock(&p->lock);
	*plain = buf + WG_DATA_HDR_LEN;
	*plen = clen;
	*peerp = p;
	rc = 0;
out:
	wg_keypair_put(k);
	return rc;
}

void
wg_peer_data_sent(struct wg_peer *p, size_t bytes, bool keepalive)
{
	uint64_t now = time_mono_ns();

	atomic_fetch_add(&p->tx_bytes, bytes);
	pthread_mutex_lock(&p->lock);
	p->t_any_sent = now;
	p->keepalive_due = false;
	if (!keepalive && (p->t_data_sent <= p->t_recv || p->t_data_sent == 0))
		p->t_data_sent = now;	/* start of unanswered sending */
	pthread_mutex_unlock(&p->lock);
}

/* --- timers (§6) --- */

void
wg_peer_want_handshake(struct wg_peer *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->hs != HS_INIT_SENT)
		p->want_hs = true;
	pthread_mutex_unlock(&p->lock);
}

bool
wg_peer_has_session(struct wg_peer *p)
{
	bool ok;

	pthread_mutex_lock(&p->lock);
	ok = p->kp_cur != NULL &&
	    time_mono_ns() - p->kp_cur->created < T(REJECT_AFTER_TIME);
	pthread_mutex_unlock(&p->lock);
	return ok;
}

unsigned
wg_peer_tick(struct wg_peer *p)
{
	uint64_t now = time_mono_ns();
	unsigned act = 0;

	pthread_mutex_lock(&p->lock);
	if (p->dead || !p->has_endpoint)
		goto out;
	if (p->hs == HS_INIT_SENT) {
		/* Retransmit every REKEY_TIMEOUT (+jitter) for 90 s. */
		if (now - p->t_hs_start >= T(REKEY_ATTEMPT_TIME)) {
			p->hs = HS_NONE;
			p->t_hs_start = 0;
			p->want_hs = false;
			sodium_memzero(p->hs_eph_priv, sizeof(p->hs_eph_priv));
			act |= WG_TICK_GAVE_UP;
		} else if (now - p->t_init_sent >=
		    T(REKEY_TIMEOUT) + p->t_init_jitter / atomic_load(&timer_scale))
			act |= WG_TICK_SEND_INITIATION;
	} else if (p->want_hs) {
		if (p->t_init_sent == 0 ||
		    now - p->t_init_sent >= T(REKEY_TIMEOUT))
			act |= WG_TICK_SEND_INITIATION;
	}
	/* Data sent and nothing heard for 15 s: the session may be dead. */
	if (p->t_data_sent > p->t_recv && p->hs != HS_INIT_SENT &&
	    now - p->t_data_sent >= T(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT)) {
		act |= WG_TICK_SEND_INITIATION;
		p->t_data_sent = 0;
	}
	if (p->kp_cur != NULL) {
		/* Received data and sent nothing back for 10 s. */
		if (p->keepalive_due && now - p->t_recv >= T(KEEPALIVE_TIMEOUT))
			act |= WG_TICK_SEND_KEEPALIVE;
		/* After 3 × REJECT_AFTER_TIME without a new session, forget. */
		if (now - p->t_session >= 3 * T(REJECT_AFTER_TIME)) {
			peer_clear_sessions(p);
			act &= ~WG_TICK_SEND_KEEPALIVE;
		}
	}
	if (p->keepalive > 0 && (p->t_any_sent == 0 ||
	    now - p->t_any_sent >= T(p->keepalive * NSEC_PER_SEC)))
		act |= WG_TICK_SEND_KEEPALIVE;
out:
	pthread_mutex_unlock(&p->lock);
	return act;
}
