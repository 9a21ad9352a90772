/* SPDX-License-Identifier: ISC */
/*
 * What the parts of the WireGuard core share, and nothing outside
 * tunneld/wg/ includes (tests of a pure part may): the device, peer and
 * keypair objects, the locking rules, and the functions one part calls in
 * another.
 *
 *   device.c      devices and peers: life cycle, settings, statistics
 *   noise.c       the Noise_IKpsk2 handshake (paper §5.4.2-§5.4.5), its
 *                 primitives, keys, message classification
 *   cookie.c      MAC1/MAC2, cookie replies, the under-load secret (§5.4.7)
 *   keypair.c     keypairs, nonce counters, the replay window, transport
 *                 data (§5.4.6)
 *   timers.c      the timer rules (§6) and their constants
 *   peerlookup.c  RCU hash tables: peer by public key, entry by index
 *
 * wg.h is the public API; messages.h the wire layout.
 */
#ifndef FZ_WG_INT_H
#define FZ_WG_INT_H

#include "wg_rcu.h"		/* before any other urcu header */
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu/rculfhash.h>
#include <urcu/rculist.h>

#include "addr.h"
#include "aead.h"
#include "ratelimiter.h"
#include "wg.h"

/* Nonce counters (paper §6.1); the time limits live in timers.c. */
#define REKEY_AFTER_MESSAGES	(1ULL << 60)
#define REJECT_AFTER_MESSAGES	(UINT64_MAX - (1ULL << 13))

/*
 * Replay window (RFC 6479): 2048 bits in 64-bit words, of which the word
 * being filled is not yet history, so 1984 counters below the highest
 * are accepted once each.
 */
#define WG_REPLAY_BITS		2048
#define WG_REPLAY_WORDS		(WG_REPLAY_BITS / 64)
#define WG_REPLAY_WINDOW	(WG_REPLAY_BITS - 64)

struct wg_replay {
	uint64_t	top;		/* highest counter seen + 1 */
	uint64_t	bits[WG_REPLAY_WORDS];
};

/*
 * An entry of the device's index table: our receiver index of a handshake
 * in flight (one per peer, allocated at commit) or of a keypair.  index
 * does not change while the entry is in the table.
 */
struct idx_entry {
	uint32_t		 index;
	bool			 is_kp;
	struct wg_peer		*peer;
	struct rcu_head		 rcu;
};

/*
 * Allocated on cache lines (wg_keypair_new), by who reads and writes
 * them.  A received packet reads line 0 (key, age, backend, entry) before
 * its tag is checked, then line 2's replay lock, top and first words, and
 * the window's word for its counter; a sent one reads line 0's age, role
 * and backend, and reads and writes line 1 (references, counter, index,
 * key), which no receive touches.
 */
struct wg_keypair {
	uint8_t			 recv_key[32];
	uint64_t		 created;
	bool			 initiator;
	struct aead_key		 aead;		/* which backend (aead.h) */
	struct idx_entry	 ie;		/* ie.peer; ie.rcu in line 1 */
	/* line 1: the sender's */
	_Atomic int		 refs;
	uint32_t		 remote_index;
	_Atomic uint64_t	 send_counter;
	uint8_t			 send_key[32];
	/* line 2: the receiver's */
	pthread_spinlock_t	 replay_lock;
	uint32_t		 local_index;
	struct wg_replay	 replay;
};

enum hs_state {
	HS_NONE,
	HS_INIT_SENT,		/* initiator: waiting for the response */
	HS_INIT_CONSUMED,	/* responder: response sent */
};

/*
 * What the data path touches for every packet comes first, a receive's
 * then a send's (a peer is calloc'd, 16-byte aligned: lines are rounded
 * to 64 only in the keypair): the lock and the sessions, the endpoint,
 * flags, receive stamp and counter and the data plane's slot, then the
 * sender's stamps and counter; then what handshakes use.
 */
struct wg_peer {
	pthread_mutex_t		 lock;
	/* sessions (keypair.c) */
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
	uint16_t		 channel;	/* >0: endpoint is a relay */
	enum hs_state		 hs;
	/* timers (timers.c; monotonic ns, 0 = never) */
	uint64_t		 t_recv;	/* authenticated packet */
	_Atomic uint64_t	 rx_bytes;
	void			*dp_slot;	/* the data plane's (wg_peer_cookie) */
	/* the sender's line */
	uint64_t		 t_data_sent;	/* non-keepalive data */
	uint64_t		 t_any_sent;
	_Atomic uint64_t	 tx_bytes;
	struct wg_device	*dev;
	uint64_t		 t_hs_start;	/* attempt's first initiation */
	uint64_t		 t_init_sent;	/* or our last response */
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

	/* handshake (noise.c) */
	uint32_t		 hs_index;	/* ours (hs_ie->index) */
	struct idx_entry	*hs_ie;		/* in the index table */
	uint32_t		 hs_remote;	/* their sender index */
	uint8_t			 hs_eph_priv[32];
	uint8_t			 hs_hash[32];
	uint8_t			 hs_ck[32];
	uint8_t			 last_tai[12];
	uint64_t		 last_init_consumed;
	/* cookies (cookie.c) */
	uint8_t			 last_mac1[16];	/* of our last handshake msg */
	bool			 last_mac1_ok;
	uint8_t			 cookie[16];
	uint64_t		 cookie_time;	/* 0: none */

	_Atomic uint64_t	 last_hs_real;
	void			(*slot_dtor)(void *);
};

/* The responder's side of cookies (cookie.c): a secret rotated every 2 min. */
struct wg_cookie_checker {
	pthread_mutex_t		 lock;
	uint8_t			 secret[32];
	uint64_t		 secret_time;	/* 0: none yet */
};

/*
 * Locking, in the shape of Linux noise.c (no lock is shared by all
 * handshakes exclusively, so workers consume handshakes in parallel):
 *
 *  RCU (urcu-bp)  the peer list, the key table (public key -> peer) and the
 *                 index table (our receiver index -> handshake or keypair)
 *                 are read without locks, inside rcu_read_lock sections;
 *                 a received packet's keypair is used inside one, without
 *                 a reference;
 *                 removed peers, keypairs and index entries are freed with
 *                 call_rcu once no reader can hold them.  urcu-bp needs no
 *                 thread registration: any thread may call in.
 *  identity_lock  rwlock: the static key pair and what derives from it
 *                 (priv, pub, mac1_key, cookie_key, each peer's ss).  A
 *                 handshake holds it shared from start to end; only
 *                 wg_device_set_private_key takes it exclusively.
 *  lock           writers of the peer list and the key table (adding and
 *                 removing peers).
 *  index_lock     writers of the index table (innermost: taken under
 *                 peer->lock, never across anything else).
 *  peer->lock     a peer's handshake state, sessions, endpoint and timers.
 *                 Held to copy state out or to commit, never across a DH.
 *                 Index entries of a peer change under it.
 *  cookies.lock   the cookie secret and its rotation.
 *  (the rate limiter has its own mutex)
 *
 * Order: identity_lock, lock, peer->lock, cookies.lock or index_lock.
 * The key table (urcu's lock-free cds_lfht) takes no lock of ours; the
 * index table (open addressing, peerlookup.c) is read in one cache line
 * per packet.  Both are keyed by what the network cannot predict:
 * SipHash-2-4 of the public key under a random per-device key, and our
 * random indices.
 *
 * Consuming a handshake message: verify into locals (every DH and AEAD,
 * with identity_lock shared only), build the answer on locals too, then
 * take the peer's lock once to re-check what may have changed meanwhile
 * (replay, flood, handshake state) and commit.
 */
struct idx_table;

struct wg_device {
	pthread_rwlock_t	 identity_lock;
	pthread_mutex_t		 lock;		/* peer list changes */
	uint8_t			*priv;		/* sodium_malloc'd */
	uint8_t			 pub[32];
	uint8_t			 mac1_key[32];
	uint8_t			 cookie_key[32];
	struct wg_cookie_checker cookies;
	_Atomic bool		 under_load;
	struct ratelimiter	*rl;		/* handshakes under load */
	struct cds_list_head	 peers;
	size_t			 npeers;	/* under lock */
	uint8_t			 hash_key[crypto_shorthash_KEYBYTES];
	struct cds_lfht		*by_pub;	/* pub -> peer */
	pthread_mutex_t		 index_lock;	/* index table writers */
	struct idx_table	*by_index;	/* RCU: index -> idx_entry */
};

/* --- device.c --- */
/*
 * Roaming: a direct path's source becomes the endpoint when it is new or
 * changed; a relayed path leaves it alone.  p->lock held.
 */
void	wg_peer_endpoint_update(struct wg_peer *, const struct wg_path *);

/* --- noise.c --- */
/* Precomputes DH(S_priv, S_pub_peer) into p->ss; identity_lock held. */
void	wg_noise_peer_precompute(struct wg_peer *);
/* The device's public key, mac1 and cookie keys from d->priv. */
void	wg_noise_device_derive(struct wg_device *);

/* --- cookie.c --- */
void	wg_cookie_checker_init(struct wg_cookie_checker *);
void	wg_cookie_checker_free(struct wg_cookie_checker *);
/* HASH(LABEL_MAC1 || pub) and HASH(LABEL_COOKIE || pub) (§5.4.4). */
void	wg_cookie_derive_keys(const uint8_t pub[32], uint8_t mac1_key[32],
	    uint8_t cookie_key[32]);
/* Writes mac1 and mac2 at the end of a handshake message; p->lock held. */
void	wg_cookie_add_macs(struct wg_peer *, uint8_t *msg, size_t len);
enum wg_macs {
	WG_MACS_OK,		/* not under load: mac1 is enough */
	WG_MACS_COOKIE_OK,	/* under load, with a valid mac2 */
	WG_MACS_NEED_COOKIE,	/* under load, no valid mac2: answer a cookie */
};
/* Checks mac1 (always) and mac2 (under load): an enum wg_macs or -EBADMSG. */
int	wg_cookie_check_macs(struct wg_device *, const uint8_t *msg,
	    size_t len, const union fz_sockaddr *src)
	    __attribute__((warn_unused_result));
/* Writes the cookie reply to msg from src into out; returns its length. */
size_t	wg_cookie_reply_create(struct wg_device *, const uint8_t *msg,
	    size_t len, const union fz_sockaddr *src, uint8_t *out);
/* Takes the cookie of a reply to our last handshake message. */
int	wg_cookie_reply_consume(struct wg_device *, const uint8_t *msg,
	    struct wg_hs_result *) __attribute__((warn_unused_result));

/* --- keypair.c --- */
/* A keypair (one reference) with the transport keys of a handshake. */
struct wg_keypair *wg_keypair_new(struct wg_peer *, bool initiator,
	    const uint8_t send_key[32], const uint8_t recv_key[32]);
/*
 * Publishes k under k->local_index, in place of the handshake's entry, and
 * rotates the peer's sessions (§5.4.5); p->lock held.
 */
void	wg_keypair_install(struct wg_peer *, struct wg_keypair *);
/* Drops every session of the peer; p->lock held. */
void	wg_peer_clear_sessions(struct wg_peer *);
void	wg_replay_init(struct wg_replay *);
/*
 * Records counter; 0 if it was fresh, -EALREADY for a replay, a counter
 * below the window or one at REJECT_AFTER_MESSAGES or beyond.  The caller
 * serialises calls on one window.
 */
int	wg_replay_check(struct wg_replay *, uint64_t counter)
	    __attribute__((warn_unused_result));

/* --- timers.c --- */
/* A protocol duration divided by the timer scale (wg_set_timer_scale). */
uint64_t wg_timer_ns(uint64_t ns);
/* The keypair is past REJECT_AFTER_TIME: neither send nor receive. */
bool	wg_timers_keypair_expired(const struct wg_keypair *, uint64_t now);
/* An initiator rekeys when it sends on an old keypair (§6.2). */
bool	wg_timers_rekey_on_send(const struct wg_keypair *, uint64_t now);
/* ... and before the session nears its end when it receives. */
bool	wg_timers_rekey_on_receive(const struct wg_keypair *, uint64_t now);
/* An initiation went out (first of an attempt or a retry); p->lock held. */
void	wg_timers_initiation_sent(struct wg_peer *, uint64_t now);
void	wg_timers_response_sent(struct wg_peer *, uint64_t now);
/* A session was established (either role); p->lock held. */
void	wg_timers_session_started(struct wg_peer *, uint64_t now);

/* --- peerlookup.c --- */
int	wg_lookup_tables_new(struct wg_device *)
	    __attribute__((warn_unused_result));
void	wg_lookup_tables_free(struct wg_device *);
/* Grows both tables for n peers; no lock held, outside a read section. */
void	wg_lookup_tables_grow(struct wg_device *, size_t n);
/* Inside a read-side section. */
struct wg_peer *wg_pubkey_lookup(struct wg_device *, const uint8_t pub[32]);
/* d->lock held, inside a read-side section; the key is not there yet. */
void	wg_pubkey_insert(struct wg_device *, struct wg_peer *);
void	wg_pubkey_remove(struct wg_device *, struct wg_peer *);
/* Inside a read-side section. */
struct idx_entry *wg_index_lookup(struct wg_device *, uint32_t);
/* Starts loading the table slot of idx; inside a read-side section. */
void	wg_index_prefetch(struct wg_device *, uint32_t);
/*
 * What the slots say of idx's keypair entry, read from the slots alone (it
 * may be stale, its peer gone: only to prefetch them); false if they name
 * no keypair.  Inside a read-side section.
 */
struct idx_hint {
	struct idx_entry	*e;
	struct wg_peer		*peer;
	void			*cookie;	/* wg_peer_cookie(peer) */
};
bool	wg_index_peek_keypair(struct wg_device *, uint32_t, struct idx_hint *);
/*
 * The peer whose handshake uses our index idx (check its state after);
 * inside a read-side section.
 */
struct wg_peer *wg_index_lookup_handshake(struct wg_device *, uint32_t);
/* Publishes e under a fresh random index; inside a read-side section. */
void	wg_index_insert(struct wg_device *, struct idx_entry *);
/*
 * Takes e out of the table (its owner frees it after a grace period); a
 * no-op if it is not there.
 */
void	wg_index_unlink(struct wg_device *, struct idx_entry *);
/* Takes e out of the table and frees it after a grace period. */
void	wg_index_drop(struct wg_device *, struct idx_entry *);
/*
 * Puts new in place of old under the same index, or adds it when old is
 * not there (unless another entry has new's index: then new is left out).
 */
void	wg_index_replace(struct wg_device *, struct idx_entry *old,
	    struct idx_entry *new);

/* A ChaCha20-Poly1305 nonce: 32 zero bits, the counter little-endian. */
static inline void
wg_aead_nonce(uint8_t n[12], uint64_t counter)
{
	for (int i = 0; i < 4; i++)
		n[i] = 0;
	for (int i = 0; i < 8; i++)
		n[4 + i] = (uint8_t)(counter >> (8 * i));
}

#endif
