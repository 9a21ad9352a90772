/* SPDX-License-Identifier: ISC */
/*
 * MAC1, MAC2 and cookie replies (the WireGuard paper, §5.4.4 and §5.4.7).
 * mac1 proves the sender knows our public key; under load, mac2 proves it
 * can receive at its source address, with a cookie we gave that address:
 * MAC(secret, ip || port) under a secret rotated every two minutes.
 */
#include <blake2.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "fztime.h"
#include "messages.h"
#include "wg_int.h"

#define COOKIE_SECRET_LIFE	(120 * NSEC_PER_SEC)

static const char LABEL_MAC1[] = "mac1----";
static const char LABEL_COOKIE[] = "cookie--";

/* MAC(key, input): keyed BLAKE2s-128. */
static void
mac16(uint8_t out[WG_MAC_LEN], const uint8_t *key, size_t klen,
    const void *in, size_t inlen)
{
	blake2s(out, in, key, WG_MAC_LEN, inlen, klen);
}

/* HASH(label || pub). */
static void
label_hash(uint8_t out[32], const char label[8], const uint8_t pub[32])
{
	blake2s_state s;

	blake2s_init(&s, 32);
	blake2s_update(&s, (const uint8_t *)label, 8);
	blake2s_update(&s, pub, 32);
	blake2s_final(&s, out, 32);
}

void
wg_cookie_derive_keys(const uint8_t pub[32], uint8_t mac1_key[32],
    uint8_t cookie_key[32])
{
	label_hash(mac1_key, LABEL_MAC1, pub);
	label_hash(cookie_key, LABEL_COOKIE, pub);
}

void
wg_cookie_checker_init(struct wg_cookie_checker *c)
{
	pthread_mutex_init(&c->lock, NULL);
	c->secret_time = 0;
}

void
wg_cookie_checker_free(struct wg_cookie_checker *c)
{
	sodium_memzero(c->secret, sizeof(c->secret));
	pthread_mutex_destroy(&c->lock);
}

void
wg_device_set_under_load(struct wg_device *d, bool on)
{
	atomic_store(&d->under_load, on);
}

/*
 * mac1 = MAC(HASH(LABEL_MAC1 || S_pub_r), msg_alpha); mac2 = MAC(cookie,
 * msg_beta) with the cookie the responder last gave us, if it is younger
 * than its secret's life, else zeros.
 */
void
wg_cookie_add_macs(struct wg_peer *p, uint8_t *msg, size_t len)
{
	size_t n = len - WG_MACS_LEN;
	uint64_t now = time_mono_ns();

	mac16(msg + n, p->mac1_key, 32, msg, n);
	memcpy(p->last_mac1, msg + n, WG_MAC_LEN);
	p->last_mac1_ok = true;
	if (p->cookie_time != 0 &&
	    now - p->cookie_time < wg_timer_ns(COOKIE_SECRET_LIFE))
		mac16(msg + n + WG_MAC_LEN, p->cookie, WG_MAC_LEN, msg,
		    n + WG_MAC_LEN);
	else
		memset(msg + n + WG_MAC_LEN, 0, WG_MAC_LEN);
}

/* The cookie for a source address: MAC(secret, ip || port). */
static void
make_cookie(struct wg_device *d, const union fz_sockaddr *src,
    uint8_t out[WG_MAC_LEN])
{
	struct wg_cookie_checker *c = &d->cookies;
	uint8_t buf[18], secret[32];
	size_t n;
	uint64_t now = time_mono_ns();

	pthread_mutex_lock(&c->lock);
	if (c->secret_time == 0 ||
	    now - c->secret_time >= wg_timer_ns(COOKIE_SECRET_LIFE)) {
		randombytes_buf(c->secret, sizeof(c->secret));
		c->secret_time = now != 0 ? now : 1;
	}
	memcpy(secret, c->secret, sizeof(secret));
	pthread_mutex_unlock(&c->lock);
	if (src->sa.sa_family == AF_INET) {
		memcpy(buf, &src->in4.sin_addr, 4);
		memcpy(buf + 4, &src->in4.sin_port, 2);
		n = 6;
	} else {
		memcpy(buf, &src->in6.sin6_addr, 16);
		memcpy(buf + 16, &src->in6.sin6_port, 2);
		n = 18;
	}
	mac16(out, secret, sizeof(secret), buf, n);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(buf, sizeof(buf));
}

int
wg_cookie_check_macs(struct wg_device *d, const uint8_t *msg, size_t len,
    const union fz_sockaddr *src)
{
	uint8_t mac[WG_MAC_LEN], cookie[WG_MAC_LEN];
	size_t n = len - WG_MACS_LEN;
	int rc;

	mac16(mac, d->mac1_key, 32, msg, n);
	if (sodium_memcmp(mac, msg + n, WG_MAC_LEN) != 0)
		return -EBADMSG;
	if (!atomic_load(&d->under_load))
		return WG_MACS_OK;
	make_cookie(d, src, cookie);
	mac16(mac, cookie, WG_MAC_LEN, msg, n + WG_MAC_LEN);
	rc = sodium_memcmp(mac, msg + n + WG_MAC_LEN, WG_MAC_LEN) == 0 ?
	    WG_MACS_COOKIE_OK : WG_MACS_NEED_COOKIE;
	sodium_memzero(cookie, sizeof(cookie));
	sodium_memzero(mac, sizeof(mac));
	return rc;
}

/*
 * msg.receiver = their sender index; msg.nonce = random;
 * msg.cookie = XAEAD(HASH(LABEL_COOKIE || S_pub_r), nonce, cookie, mac1).
 * Both handshake messages have their sender index at offset 4.
 */
size_t
wg_cookie_reply_create(struct wg_device *d, const uint8_t *msg, size_t len,
    const union fz_sockaddr *src, uint8_t *out)
{
	uint8_t cookie[WG_MAC_LEN], nonce[WG_COOKIE_NONCE_LEN];
	struct wbuf w;

	_Static_assert((int)WG_INIT_SENDER == (int)WG_RESP_SENDER,
	    "sender offsets");
	make_cookie(d, src, cookie);
	randombytes_buf(nonce, sizeof(nonce));
	wbuf_init(&w, out, WG_COOKIE_LEN);
	wbuf_put_u32(&w, (uint32_t)WG_MSG_COOKIE << 24);
	wbuf_put(&w, msg + WG_INIT_SENDER, 4);
	wbuf_put(&w, nonce, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + WG_COOKIE_SEALED,
	    NULL, cookie, sizeof(cookie), msg + len - WG_MACS_LEN, WG_MAC_LEN,
	    NULL, nonce, d->cookie_key);
	sodium_memzero(cookie, sizeof(cookie));
	return WG_COOKIE_LEN;
}

int
wg_cookie_reply_consume(struct wg_device *d, const uint8_t *msg,
    struct wg_hs_result *res)
{
	uint32_t receiver;
	struct wg_peer *p;
	uint8_t cookie[WG_MAC_LEN];
	int rc = -ENOENT;

	memcpy(&receiver, msg + WG_COOKIE_RECEIVER, 4);
	receiver = le32toh(receiver);
	if ((p = wg_index_lookup_handshake(d, receiver)) == NULL)
		goto out;
	pthread_mutex_lock(&p->lock);
	if (!p->dead && p->hs != HS_NONE && p->hs_index == receiver) {
		rc = -EBADMSG;
		/* The AAD is the mac1 of the message it answers. */
		if (p->last_mac1_ok &&
		    crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, NULL,
		    NULL, msg + WG_COOKIE_SEALED,
		    WG_AEAD_LEN(WG_MAC_LEN), p->last_mac1, WG_MAC_LEN,
		    msg + WG_COOKIE_NONCE, p->cookie_key) == 0) {
			memcpy(p->cookie, cookie, sizeof(cookie));
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
