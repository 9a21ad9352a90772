/* SPDX-License-Identifier: ISC */
/*
 * The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake of WireGuard (the
 * WireGuard paper, §5.4.2-§5.4.5): its primitives, creating an initiation,
 * consuming an initiation (and answering it) or a response, and deriving
 * the session's keypair.  Each step is commented with its Noise token.
 * Keys in base64 and hex, and message classification, are here too.  See
 * wg_int.h for the locks.
 */
#include <blake2.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fztime.h"
#include "messages.h"
#include "wg_int.h"

static const char CONSTRUCTION[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char IDENTIFIER[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
/* Initiations a second we consume from one peer (§5.1: flood protection). */
#define INITIATIONS_PER_SEC	50

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

/* AEAD(k, 0, plain, h) appended to w; then h = HASH(h || ciphertext). */
static void
seal_hash(struct wbuf *w, const uint8_t k[32], const void *plain, size_t len,
    uint8_t h[32])
{
	uint8_t nonce[12], out[64];

	wg_aead_nonce(nonce, 0);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain, len, h,
	    32, NULL, nonce, k);
	wbuf_put(w, out, WG_AEAD_LEN(len));
	mix_hash(h, out, WG_AEAD_LEN(len));
}

static int
open_hash(uint8_t *plain, const uint8_t k[32], const uint8_t *ct, size_t ctlen,
    uint8_t h[32])
{
	uint8_t nonce[12];

	wg_aead_nonce(nonce, 0);
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

/* --- the static key pair --- */

void
wg_noise_device_derive(struct wg_device *d)
{
	wg_key_public(d->priv, d->pub);
	wg_cookie_derive_keys(d->pub, d->mac1_key, d->cookie_key);
}

void
wg_noise_peer_precompute(struct wg_peer *p)
{
	p->ss_ok = dh(p->ss, p->dev->priv, p->pub) == 0;
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
 * Gives the peer a fresh sender index for msg (both handshake messages
 * have it at offset 4), in the index table in place of its previous one,
 * and appends the MACs; the peer's lock is held.  e is a new entry, which
 * this takes.
 */
static void
commit_index_and_macs(struct wg_peer *p, struct idx_entry *e, uint8_t *msg,
    size_t len)
{
	struct wg_device *d = p->dev;

	e->is_kp = false;
	e->peer = p;
	_Static_assert((int)WG_INIT_SENDER == (int)WG_RESP_SENDER,
	    "sender offsets");
	wg_index_drop(d, p->hs_ie);
	rcu_read_lock();
	wg_index_insert(d, e);
	rcu_read_unlock();
	p->hs_ie = e;
	p->hs_index = e->index;
	put_le32(msg + WG_INIT_SENDER, p->hs_index);
	wg_cookie_add_macs(p, msg, len);
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
	seal_hash(&w, k, tai, WG_TAI64N_LEN, h);
	wbuf_zero(&w, WG_MACS_LEN);	/* at commit */
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
	wg_timers_initiation_sent(p, time_mono_ns());
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
 * The session's keypair from the final chaining key (§5.4.5):
 * (T_send_i, T_recv_i) = KDF2(C, ε), the other way round for the responder.
 * The indices are filled in at commit.
 */
static struct wg_keypair *
derive_keypair(struct wg_peer *p, bool initiator, const uint8_t ck[32])
{
	struct wg_keypair *k;
	uint8_t t1[32], t2[32];

	kdf(t1, t2, NULL, ck, NULL, 0);
	k = initiator ? wg_keypair_new(p, true, t1, t2) :
	    wg_keypair_new(p, false, t2, t1);
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	return k;
}

/*
 * The handshake is over: its keypair replaces it in the index table and
 * among the sessions, and its ephemeral key goes; p->lock held.
 */
static void
handshake_complete(struct wg_peer *p, struct wg_keypair *k)
{
	wg_keypair_install(p, k);
	p->hs = HS_NONE;
	sodium_memzero(p->hs_eph_priv, sizeof(p->hs_eph_priv));
	wg_timers_session_started(p, time_mono_ns());
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
    const struct wg_path *path, uint8_t *reply, struct wg_hs_result *res)
{
	uint8_t ck[32], h[32], k[32], tmp[32], spub[32], tai[12], last_tai[12];
	uint8_t psk[32], epriv[32], epub[32];
	const uint8_t *eph = msg + WG_INIT_EPHEMERAL;
	const uint8_t *sstatic = msg + WG_INIT_STATIC;
	const uint8_t *ts = msg + WG_INIT_TIMESTAMP;
	uint32_t remote = get_le32(msg + WG_INIT_SENDER);
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
	if (open_hash(spub, k, sstatic, WG_AEAD_LEN(WG_KEY_LEN), h) != 0)
		goto out;
	if ((p = wg_pubkey_lookup(d, spub)) == NULL) {
		rc = -ENOENT;
		goto out;
	}
	if (path->peer != NULL && p != path->peer) {
		rc = -EPERM;	/* not the peer this path is for */
		goto out;
	}
	if (!p->ss_ok)
		goto out;
	/* ss: (C, k) = KDF2(C, DH(S_priv_r, S_pub_i)), precomputed */
	kdf(ck, k, NULL, ck, p->ss, 32);
	/* timestamp: TAI64N = AEAD-open(k, 0, timestamp, H) */
	if (open_hash(tai, k, ts, WG_AEAD_LEN(WG_TAI64N_LEN), h) != 0)
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
	wbuf_zero(&w, WG_MACS_LEN);	/* at commit */
	if (wbuf_error(&w) != 0)
		goto out;
	if ((kp = derive_keypair(p, false, ck)) == NULL ||
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
	handshake_complete(p, kp);
	kp = NULL;
	wg_timers_response_sent(p, now);
	wg_peer_endpoint_update(p, path);
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
    const struct wg_path *path, struct wg_hs_result *res)
{
	uint8_t ck[32], h[32], k[32], tmp[32], tau[32], epriv[32], psk[32];
	uint8_t empty[1];
	const uint8_t *eph = msg + WG_RESP_EPHEMERAL;
	uint32_t sender = get_le32(msg + WG_RESP_SENDER);
	uint32_t receiver = get_le32(msg + WG_RESP_RECEIVER);
	struct wg_keypair *kp = NULL;
	struct wg_peer *p;
	int rc = -ENOENT;

	if ((p = wg_index_lookup_handshake(d, receiver)) == NULL)
		goto out;
	if (path->peer != NULL && p != path->peer) {
		rc = -EPERM;	/* not the peer this path is for */
		goto out;
	}
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
	if (open_hash(empty, k, msg + WG_RESP_EMPTY, WG_AEAD_LEN(0), h) != 0)
		goto out;
	if ((kp = derive_keypair(p, true, ck)) == NULL) {
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
	handshake_complete(p, kp);
	kp = NULL;
	p->t_recv = time_mono_ns();
	wg_peer_endpoint_update(p, path);
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

int
wg_handle_handshake_via(struct wg_device *d, const uint8_t *msg, size_t len,
    const struct wg_path *path, uint8_t *reply, struct wg_hs_result *res)
{
	const union fz_sockaddr *src = path->src;
	struct wg_peer *p;
	int type = wg_msg_type(msg, len), rc;

	memset(res, 0, sizeof(*res));
	if (type != WG_MSG_INITIATION && type != WG_MSG_RESPONSE &&
	    type != WG_MSG_COOKIE)
		return -EBADMSG;
	/* Shared: handshakes on every worker run in parallel. */
	pthread_rwlock_rdlock(&d->identity_lock);
	rcu_read_lock();
	if (type == WG_MSG_COOKIE) {
		/* It answers one of the path's peer's messages, or nothing. */
		if (path->peer != NULL && (p = wg_index_lookup_handshake(d,
		    get_le32(msg + WG_COOKIE_RECEIVER))) != NULL &&
		    p != path->peer) {
			rc = -EPERM;
			goto out;
		}
		rc = wg_cookie_reply_consume(d, msg, res);
		goto out;
	}
	/*
	 * Cookies are for the source we see and answer: a relayed message's
	 * is the relay's address and port (wg.h).
	 */
	switch ((rc = wg_cookie_check_macs(d, msg, len, src))) {
	case WG_MACS_NEED_COOKIE:
		res->reply_len = wg_cookie_reply_create(d, msg, len, src, reply);
		rc = 0;
		goto out;
	case WG_MACS_COOKIE_OK:
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
	case WG_MACS_OK:
		break;
	default:
		goto out;
	}
	rc = type == WG_MSG_INITIATION ?
	    consume_initiation(d, msg, path, reply, res) :
	    consume_response(d, msg, path, res);
out:
	rcu_read_unlock();
	pthread_rwlock_unlock(&d->identity_lock);
	return rc;
}


int
wg_handle_handshake(struct wg_device *d, const uint8_t *msg, size_t len,
    const union fz_sockaddr *src, uint8_t *reply, struct wg_hs_result *res)
{
	const struct wg_path direct = { .src = src };

	return wg_handle_handshake_via(d, msg, len, &direct, reply, res);
}
