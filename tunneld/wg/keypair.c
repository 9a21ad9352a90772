/* SPDX-License-Identifier: ISC */
/*
 * Keypairs (the WireGuard paper, §5.4.5): a peer's previous, current and
 * next session, their nonce counters and the receive side's replay window
 * (RFC 6479), and transport data (§5.4.6).  A keypair is referenced by the
 * peer (one reference) and by whoever sends on it; the index table reaches
 * it without a reference, so it is freed after a grace period, and a
 * received packet uses it inside a read-side section, without one (no
 * write to a line that the senders share).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "buf.h"
#include "fztime.h"
#include "messages.h"
#include "wg_int.h"

/* The lines wg_int.h describes (LP64 glibc; elsewhere only the order). */
#if defined(__x86_64__) && defined(__GLIBC__)
_Static_assert(offsetof(struct wg_keypair, ie.peer) + 8 <= 64 &&
    offsetof(struct wg_keypair, aead) + sizeof(struct aead_key) <=
    offsetof(struct wg_keypair, ie) &&
    offsetof(struct wg_keypair, refs) >= 64 &&
    offsetof(struct wg_keypair, send_key) + 32 <= 128 &&
    offsetof(struct wg_keypair, replay_lock) == 128 &&
    offsetof(struct wg_keypair, replay.bits) == 128 + 16, "keypair lines");
_Static_assert(offsetof(struct wg_peer, dp_slot) -
    offsetof(struct wg_peer, t_recv) == 16, "peer receive fields");
#endif

struct wg_keypair *
wg_keypair_new(struct wg_peer *p, bool initiator, const uint8_t send_key[32],
    const uint8_t recv_key[32])
{
	struct wg_keypair *k;

	if ((k = aligned_alloc(64, (sizeof(*k) + 63) & ~(size_t)63)) == NULL)
		return NULL;
	memset(k, 0, sizeof(*k));
	memcpy(k->send_key, send_key, 32);
	memcpy(k->recv_key, recv_key, 32);
	aead_key_init(&k->aead);
	atomic_init(&k->refs, 1);
	pthread_spin_init(&k->replay_lock, PTHREAD_PROCESS_PRIVATE);
	wg_replay_init(&k->replay);
	k->ie.peer = p;
	k->initiator = initiator;
	k->created = time_mono_ns();
	return k;
}

static void
keypair_free_rcu(struct rcu_head *h)
{
	struct wg_keypair *k = caa_container_of(h, struct wg_keypair, ie.rcu);

	pthread_spin_destroy(&k->replay_lock);
	aead_key_fini(&k->aead);
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

/* Takes a peer's keypair out of the index table and drops its reference. */
static void
keypair_unlink_put(struct wg_device *d, struct wg_keypair *k)
{
	if (k == NULL)
		return;
	wg_index_unlink(d, &k->ie);
	wg_keypair_put(k);
}

void
wg_peer_clear_sessions(struct wg_peer *p)
{
	keypair_unlink_put(p->dev, p->kp_prev);
	keypair_unlink_put(p->dev, p->kp_cur);
	keypair_unlink_put(p->dev, p->kp_next);
	p->kp_prev = p->kp_cur = p->kp_next = NULL;
}

void
wg_keypair_install(struct wg_peer *p, struct wg_keypair *k)
{
	struct wg_device *d = p->dev;
	bool takes_over = p->hs_ie != NULL &&
	    p->hs_ie->index == k->local_index;

	k->ie.index = k->local_index;
	k->ie.is_kp = true;
	k->ie.peer = p;
	wg_index_replace(d, p->hs_ie, &k->ie);
	if (takes_over)
		p->hs_ie = NULL;	/* freed after a grace period */

	if (k->initiator) {
		/* The initiator may send at once: rotate now. */
		keypair_unlink_put(d, p->kp_next);
		p->kp_next = NULL;
		keypair_unlink_put(d, p->kp_prev);
		p->kp_prev = p->kp_cur;
		p->kp_cur = k;
	} else {
		/* The responder waits for the first data packet. */
		keypair_unlink_put(d, p->kp_next);
		p->kp_next = k;
	}
}

bool
wg_peer_has_session(struct wg_peer *p)
{
	bool ok;

	pthread_mutex_lock(&p->lock);
	ok = p->kp_cur != NULL &&
	    !wg_timers_keypair_expired(p->kp_cur, time_mono_ns());
	pthread_mutex_unlock(&p->lock);
	return ok;
}

/* --- the replay window (RFC 6479) --- */

void
wg_replay_init(struct wg_replay *r)
{
	memset(r, 0, sizeof(*r));
}

/*
 * Bit (c + 1) mod 2048 stands for counter c (the + 1 makes counter 0
 * representable with top = 0 meaning "nothing seen").  Moving the top
 * forward clears the words it passes, at most all of them; a counter more
 * than WG_REPLAY_WINDOW below the top is too old to tell.
 */
int
wg_replay_check(struct wg_replay *r, uint64_t counter)
{
	uint64_t c, word, cur, n, i, bit;

	if (counter >= REJECT_AFTER_MESSAGES)
		return -EALREADY;
	c = counter + 1;
	if (c + WG_REPLAY_WINDOW < r->top)
		return -EALREADY;
	word = c >> 6;
	if (c > r->top) {
		cur = r->top >> 6;
		n = word - cur < WG_REPLAY_WORDS ? word - cur : WG_REPLAY_WORDS;
		for (i = 1; i <= n; i++)
			r->bits[(cur + i) % WG_REPLAY_WORDS] = 0;
		r->top = c;
	}
	word %= WG_REPLAY_WORDS;
	bit = 1ULL << (c & 63);
	if (r->bits[word] & bit)
		return -EALREADY;
	r->bits[word] |= bit;
	return 0;
}

/* --- transport data (§5.4.6) --- */

struct wg_keypair *
wg_peer_send_keypair(struct wg_peer *p)
{
	struct wg_keypair *k;
	uint64_t now = time_mono_ns();

	pthread_mutex_lock(&p->lock);
	k = p->kp_cur;
	if (k != NULL && (wg_timers_keypair_expired(k, now) ||
	    atomic_load(&k->send_counter) >= REJECT_AFTER_MESSAGES))
		k = NULL;
	if (k != NULL) {
		atomic_fetch_add(&k->refs, 1);
		/* Initiators rekey on age or message count (§6.2). */
		if (k->initiator && p->hs == HS_NONE &&
		    (wg_timers_rekey_on_send(k, now) ||
		    atomic_load(&k->send_counter) >= REKEY_AFTER_MESSAGES))
			p->want_hs = true;
	} else if (p->hs != HS_INIT_SENT)
		p->want_hs = true;
	pthread_mutex_unlock(&p->lock);
	return k;
}

void
wg_tx_prefetch(struct wg_peer *const peer[], int n)
{
	/*
	 * Read without p->lock: a stale keypair is harmless (only loaded,
	 * and not freed before the caller's read-side section ends).  The
	 * peers' sessions (their lines loaded before), then each keypair's
	 * two lines a send reads, for the whole batch at once so that the
	 * misses overlap (the AEAD context is the thread's: aead.c).
	 */
	for (int i = 0; i < n; i++) {
		struct wg_peer *p = peer[i];
		struct wg_keypair *k;

		if (p == NULL)
			continue;
		__builtin_prefetch(&p->tx_bytes);
		if ((k = CMM_LOAD_SHARED(p->kp_cur)) == NULL)
			continue;
		__builtin_prefetch(k);
		__builtin_prefetch(&k->refs);
	}
}

/* msg = type || receiver || counter || AEAD(send_key, counter, P || pad, ε) */
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
	memset(buf + WG_DATA_PAYLOAD + plen, 0, padded - plen);
	wbuf_init(&w, buf, WG_DATA_HDR_LEN);
	wbuf_put_u32(&w, (uint32_t)WG_MSG_DATA << 24);
	wbuf_put_u32_le(&w, k->remote_index);
	wbuf_put_u64_le(&w, ctr);
	wg_aead_nonce(nonce, ctr);
	if (aead_seal(&k->aead, k->send_key, nonce, buf + WG_DATA_PAYLOAD,
	    padded, buf + WG_DATA_PAYLOAD + padded) != 0)
		return -EIO;
	*outlen = WG_DATA_HDR_LEN + padded + WG_TAG_LEN;
	return 0;
}

/* A keypair by our index, or NULL; inside a read-side section. */
static struct wg_keypair *
keypair_by_index(struct wg_device *d, uint32_t idx)
{
	struct idx_entry *e = wg_index_lookup(d, idx);

	return e != NULL && e->is_kp ?
	    caa_container_of(e, struct wg_keypair, ie) : NULL;
}

/*
 * For each data message of the batch, its index's slot; then, from the
 * slots alone (no entry read yet), at once: what a receive reads before
 * the tag is checked, and the data plane's checks after: each keypair's
 * first line (key, age, backend, peer), its peer's data-plane slot
 * (beside the receive stamp and counter) and that slot's first line (the
 * data plane keeps what its checks read there).  Two dependent steps,
 * each overlapping across a chunk of 16 messages (the AEAD context is the
 * thread's: aead.c).  What
 * only an authentic message reads (the replay window's lock, top and
 * word, the peer's lock and sessions) wg_decrypt_via prefetches as it
 * starts the AEAD, which hides them: fill buffers are few, and a batch's
 * misses are bound by them (four lines a short message: slot, keypair,
 * peer, data-plane peer).
 */
void
wg_rx_prefetch(struct wg_device *d, uint8_t *const msg[], const size_t len[],
    int n, struct wg_peer *peer[])
{
	uint32_t idx[16];
	bool data[16];
	int i, m, c;

	for (c = 0; c < n; c += m) {
		m = n - c < 16 ? n - c : 16;
		for (i = 0; i < m; i++) {
			const uint8_t *p = msg[c + i];
			struct rbuf r;

			data[i] = false;
			if (len[c + i] < WG_DATA_MIN_LEN || p[0] != WG_MSG_DATA)
				continue;
			rbuf_init(&r, p + WG_DATA_RECEIVER,
			    WG_DATA_HDR_LEN - WG_DATA_RECEIVER);
			if (rbuf_get_u32_le(&r, &idx[i]) != 0)
				continue;
			wg_index_prefetch(d, idx[i]);
			data[i] = true;
		}
		for (i = 0; i < m; i++) {
			struct idx_hint h;
			struct wg_keypair *k;

			peer[c + i] = NULL;
			if (!data[i] || !wg_index_peek_keypair(d, idx[i], &h))
				continue;
			/* Addresses only: nothing behind the hints is read. */
			k = caa_container_of(h.e, struct wg_keypair, ie);
			__builtin_prefetch(k);
			if (h.peer != NULL)
				__builtin_prefetch(&h.peer->dp_slot);
			if (h.cookie != NULL)
				__builtin_prefetch(h.cookie);
			peer[c + i] = h.peer;
		}
	}
}

int
wg_decrypt_via(struct wg_device *d, uint8_t *buf, size_t len,
    const struct wg_path *path, uint8_t **plain, size_t *plen,
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
	rbuf_init(&r, buf + WG_DATA_RECEIVER, WG_DATA_HDR_LEN - WG_DATA_RECEIVER);
	if (rbuf_get_u32_le(&r, &idx) != 0 || rbuf_get_u64_le(&r, &ctr) != 0)
		return -EBADMSG;
	rcu_read_lock();
	if ((k = keypair_by_index(d, idx)) == NULL) {
		rc = -ENOKEY;
		goto out;
	}
	p = k->ie.peer;
	if (path->peer != NULL && p != path->peer) {
		rc = -EPERM;	/* another peer's session on this path */
		goto out;
	}
	now = time_mono_ns();
	if (wg_timers_keypair_expired(k, now)) {
		rc = -EKEYEXPIRED;
		goto out;
	}
	/* What an authentic message reads next, while the AEAD runs. */
	__builtin_prefetch(&k->replay.top);
	__builtin_prefetch(&k->replay.bits[((ctr + 1) >> 6) % WG_REPLAY_WORDS]);
	__builtin_prefetch(p);
	__builtin_prefetch(&p->has_endpoint);
	clen = len - WG_DATA_HDR_LEN - WG_TAG_LEN;
	wg_aead_nonce(nonce, ctr);
	if (aead_open(&k->aead, k->recv_key, nonce, buf + WG_DATA_PAYLOAD,
	    clen, buf + len - WG_TAG_LEN) != 0)
		goto out;
	/* Only after the tag: an unauthenticated counter must not move it. */
	pthread_spin_lock(&k->replay_lock);
	rc = wg_replay_check(&k->replay, ctr);
	pthread_spin_unlock(&k->replay_lock);
	if (rc != 0)
		goto out;

	pthread_mutex_lock(&p->lock);
	/* The first packet on the next keypair confirms it (§5.4.5). */
	if (k == p->kp_next) {
		keypair_unlink_put(d, p->kp_prev);
		p->kp_prev = p->kp_cur;
		p->kp_cur = p->kp_next;
		p->kp_next = NULL;
		/* Packets that waited for it asked for a handshake: done. */
		p->want_hs = false;
	}
	p->t_recv = now;
	if (clen > 0)
		p->keepalive_due = true;	/* answer data within 10 s */
	/* Initiators rekey before the session nears its end (§6.2). */
	if (k->initiator && k == p->kp_cur && p->hs == HS_NONE &&
	    wg_timers_rekey_on_receive(k, now))
		p->want_hs = true;
	wg_peer_endpoint_update(p, path);	/* roaming (§2.1) */
	pthread_mutex_unlock(&p->lock);
	/* Counted once its effects are in (what a reader of stats sees). */
	atomic_fetch_add(&p->rx_bytes, len);
	*plain = buf + WG_DATA_PAYLOAD;
	*plen = clen;
	*peerp = p;
	rc = 0;
out:
	rcu_read_unlock();
	return rc;
}

int
wg_decrypt(struct wg_device *d, uint8_t *buf, size_t len,
    const union fz_sockaddr *src, uint8_t **plain, size_t *plen,
    struct wg_peer **peerp)
{
	const struct wg_path direct = { .src = src };

	return wg_decrypt_via(d, buf, len, &direct, plain, plen, peerp);
}
