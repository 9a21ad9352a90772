/* SPDX-License-Identifier: ISC */
/*
 * WireGuard protocol core (sans-IO): Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s
 * handshake, cookies, keypairs with a replay window, transport data, and
 * the timer rules of the WireGuard paper (§6).
 *
 * Threads: every function may be called from any thread.  Transport
 * encryption and decryption run concurrently in the data-plane workers;
 * so do handshakes (each holds its peer's lock only briefly, to commit);
 * timer work is serialised per peer.  A device owns its peers.  Lookups
 * (peer by public key, keypair or handshake by index) are RCU reads, with
 * no lock; a removed peer is unlinked at once and freed after an RCU grace
 * period, so a peer pointer stays valid while its holder is inside
 * wg_read_lock/wg_read_unlock (the data plane holds it around each batch),
 * or until the holder itself removes the peer (the thread that adds and
 * removes peers may keep the pointers wg_peer_add and wg_peer_find give).
 */
#ifndef FZ_WG_H
#define FZ_WG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define WG_KEY_LEN		32
#define WG_MSG_INITIATION	1
#define WG_MSG_RESPONSE		2
#define WG_MSG_COOKIE		3
#define WG_MSG_DATA		4
#define WG_INITIATION_LEN	148
#define WG_RESPONSE_LEN		92
#define WG_COOKIE_LEN		64
#define WG_DATA_HDR_LEN		16	/* type, receiver, counter */
#define WG_TAG_LEN		16
#define WG_DATA_MIN_LEN		(WG_DATA_HDR_LEN + WG_TAG_LEN)
/* Bytes a packet grows by: header, tag, and up to 15 of padding. */
#define WG_OVERHEAD_MAX		(WG_DATA_HDR_LEN + WG_TAG_LEN + 15)
/* Padding: the plaintext is padded to a multiple of 16 (paper §5.4.6). */
#define WG_PADDED(len)		(((size_t)(len) + 15) & ~(size_t)15)
/* A data message carrying an IP packet of len bytes. */
#define WG_SEALED_LEN(len)	(WG_DATA_HDR_LEN + WG_PADDED(len) + WG_TAG_LEN)
/*
 * The largest UDP payload: over IPv4 65535 - 20 (IP header) - 8 (UDP
 * header) = 65507; over IPv6 the payload length counts only the UDP header,
 * 65535 - 8 = 65527.  An endpoint may be (or roam to) either family, so
 * IPv4 bounds the tunnel.
 */
#define WG_UDP_PAYLOAD_MAX	65507
/*
 * The largest tunnel MTU whose full-size packet, padded, still fits one
 * UDP datagram: 16 + pad16(mtu) + 16 <= 65507, so pad16(mtu) <= 65475 and
 * mtu <= 65472 (65473 pads to 65488: 65520 bytes on the wire).
 */
#define WG_MTU_MAX \
	((WG_UDP_PAYLOAD_MAX - WG_DATA_HDR_LEN - WG_TAG_LEN) & ~15)
#define WG_MTU_MIN		576
/* 0 if mtu is in WG_MTU_MIN..WG_MTU_MAX, else -EINVAL. */
int	wg_mtu_check(int mtu) __attribute__((warn_unused_result));

struct wg_device;
struct wg_peer;
struct wg_keypair;

/*
 * An RCU read-side section (urcu-bp: no thread registration needed).
 * Nests; never call wg_peer_remove or wg_device_free inside one.
 */
void	wg_read_lock(void);
void	wg_read_unlock(void);

/* Classifies a datagram by type and exact size; 0 if it is not WireGuard. */
int	wg_msg_type(const uint8_t *, size_t);

int	wg_device_new(const uint8_t priv[WG_KEY_LEN], struct wg_device **)
	    __attribute__((warn_unused_result));
void	wg_device_free(struct wg_device *);
void	wg_device_public_key(const struct wg_device *, uint8_t[WG_KEY_LEN]);
/* For the root-only UAPI socket only (wg(8) derives the public key). */
void	wg_device_private_key(struct wg_device *, uint8_t[WG_KEY_LEN]);
int	wg_device_set_private_key(struct wg_device *,
	    const uint8_t[WG_KEY_LEN]) __attribute__((warn_unused_result));
/* When set, handshake messages need a valid MAC2 or get a cookie reply. */
void	wg_device_set_under_load(struct wg_device *, bool);

/*
 * Any number of peers; -EEXIST for a key already there.  Adding and
 * removing peers may wait for an RCU grace period: never inside
 * wg_read_lock.
 */
int	wg_peer_add(struct wg_device *, const uint8_t pub[WG_KEY_LEN],
	    struct wg_peer **) __attribute__((warn_unused_result));
size_t	wg_device_peer_count(struct wg_device *);
struct wg_peer *wg_peer_find(struct wg_device *, const uint8_t[WG_KEY_LEN]);
void	wg_peer_remove(struct wg_device *, struct wg_peer *);
/*
 * Iterates live peers in insertion order; NULL starts, NULL ends.  prev
 * must still be valid (see above).
 */
struct wg_peer *wg_peer_next(struct wg_device *, struct wg_peer *);
void	wg_peer_set_psk(struct wg_peer *, const uint8_t[WG_KEY_LEN]);
void	wg_peer_set_keepalive(struct wg_peer *, unsigned secs);
void	wg_peer_set_endpoint(struct wg_peer *, const union fz_sockaddr *);
/* Returns false when the peer has no endpoint yet. */
bool	wg_peer_endpoint(struct wg_peer *, union fz_sockaddr *);
/*
 * The path fz-controld chose: channel 0 is direct to sa (as
 * wg_peer_set_endpoint: it roams), channel 0x4000..0x4fff relayed through
 * the relay at sa, wrapped in ChannelData (no roaming while relayed).
 * Sessions and keys stay.  wg_peer_path reads both at once.
 */
void	wg_peer_set_path(struct wg_peer *, const union fz_sockaddr *,
	    uint16_t channel);
bool	wg_peer_path(struct wg_peer *, union fz_sockaddr *, uint16_t *channel);
void	wg_peer_public_key(const struct wg_peer *, uint8_t[WG_KEY_LEN]);
/* A short printable fingerprint of the public key, for logs. */
const char *wg_peer_name(const struct wg_peer *);
/*
 * A data-plane slot; dtor (may be NULL) is called with it when the peer
 * is freed, after a grace period (wg_peer_remove, wg_device_free).
 */
void	*wg_peer_cookie(const struct wg_peer *);
void	wg_peer_set_cookie(struct wg_peer *, void *, void (*dtor)(void *));

struct wg_peer_stats {
	uint64_t	rx_bytes;
	uint64_t	tx_bytes;
	uint64_t	last_handshake_real_ns;	/* 0: never */
	unsigned	keepalive;
};
void	wg_peer_stats(struct wg_peer *, struct wg_peer_stats *);

/* Handshake messages.  out must hold the message's full length. */
int	wg_create_initiation(struct wg_peer *, uint8_t out[WG_INITIATION_LEN])
	    __attribute__((warn_unused_result));

/* What the data plane must do after wg_handle_handshake. */
struct wg_hs_result {
	struct wg_peer	*peer;		/* the peer concerned, if known */
	size_t		 reply_len;	/* >0: send reply[0..len) to src */
	bool		 established;	/* a new session is usable */
};
/*
 * How a received message arrived.  src is the UDP sender: the peer itself,
 * or the relay that forwarded the message in ChannelData.  Only a direct
 * message moves its peer's endpoint (roaming, paper §2.1); a relayed one
 * never does, whether the peer has an endpoint or not (the relayed path is
 * chosen by ICE in fz-controld).  peer, when set, is the only peer the
 * message may authenticate as (a relay channel's): one that authenticates
 * as another is refused with -EPERM before it changes any state.
 */
struct wg_path {
	const union fz_sockaddr	*src;
	bool			 relayed;
	const struct wg_peer	*peer;		/* NULL: any peer */
};

/*
 * Consumes an initiation, response or cookie reply that came by path.
 * May write a response or cookie reply into reply (which must hold 148
 * bytes), for path->src.  Under load, a handshake message needs a mac2
 * made with a cookie for path->src, so a relayed one's cookie is bound to
 * the relay's address and port, the only source we see (and the one the
 * reply goes back through); a message with a valid cookie is still
 * refused with -EAGAIN when its source (IPv4 address or IPv6 /64: for
 * relayed ones, the relay's) is over 20 a second, burst 5.  Handshakes
 * from different threads run in parallel: no lock shared by all of them
 * is held across the Diffie-Hellman work (wg/wg_int.h).
 */
int	wg_handle_handshake_via(struct wg_device *, const uint8_t *, size_t,
	    const struct wg_path *, uint8_t *reply, struct wg_hs_result *)
	    __attribute__((warn_unused_result));
/* The same, for a message that came directly from src (it roams). */
int	wg_handle_handshake(struct wg_device *, const uint8_t *, size_t,
	    const union fz_sockaddr *src, uint8_t *reply, struct wg_hs_result *)
	    __attribute__((warn_unused_result));

/*
 * Transport data.  wg_peer_send_keypair returns a referenced keypair usable
 * for sending, or NULL (-ENOKEY) when a handshake is needed (it is then
 * requested).  Release it with wg_keypair_put.
 */
struct wg_keypair *wg_peer_send_keypair(struct wg_peer *);
void	wg_keypair_put(struct wg_keypair *);
/*
 * Starts loading what sending to each peer[i] (NULL: none) will read of
 * its current keypair, for a data plane that knows its next packets'
 * peers (their own lines having been prefetched before).  Inside
 * wg_read_lock; nothing is changed.
 */
void	wg_tx_prefetch(struct wg_peer *const peer[], int n);
/*
 * Encrypts in place.  buf holds WG_DATA_HDR_LEN bytes of headroom followed by
 * plen bytes of plaintext, and room for padding and the tag after it
 * (cap >= WG_DATA_HDR_LEN + plen + 15 + WG_TAG_LEN).  Writes the whole
 * message and its length.  -EKEYEXPIRED when the counter is exhausted.
 */
int	wg_encrypt(struct wg_keypair *, uint8_t *buf, size_t plen, size_t cap,
	    size_t *outlen) __attribute__((warn_unused_result));
/*
 * Decrypts a data message that came by path, in place.  On success *plain
 * points into buf at the plaintext (padded; the IP header says the real
 * length), *plen is its length (0 = keepalive) and *peer is the sender; a
 * direct path->src updates the peer's endpoint (roaming), a relayed one
 * does not.  -EPERM, before the tag is checked, for a keypair of another
 * peer than path->peer.
 */
int	wg_decrypt_via(struct wg_device *, uint8_t *buf, size_t len,
	    const struct wg_path *, uint8_t **plain, size_t *plen,
	    struct wg_peer **peer) __attribute__((warn_unused_result));
/* The same, for a message that came directly from src (it roams). */
int	wg_decrypt(struct wg_device *, uint8_t *buf, size_t len,
	    const union fz_sockaddr *src, uint8_t **plain, size_t *plen,
	    struct wg_peer **peer) __attribute__((warn_unused_result));
/*
 * Prefetching for a batch of received messages, before they are handled:
 * the index table's slots of every data message, then, named by the
 * slots, every keypair, its peer and the first line of the peer's
 * wg_peer_cookie (as the slot has it), so that each step's misses overlap
 * across the batch and the decryptions after find their lines in cache.
 * peer[i] gets message i's peer (NULL if none; it may be stale: only for
 * prefetching more).  Only data messages are looked at; nothing is
 * changed.  Inside wg_read_lock.
 */
void	wg_rx_prefetch(struct wg_device *, uint8_t *const msg[],
	    const size_t len[], int n, struct wg_peer *peer[]);
/* Accounting hooks for the timer rules. */
void	wg_peer_data_sent(struct wg_peer *, size_t bytes, bool keepalive);

/* Timer work, from one thread every ~100 ms. */
#define WG_TICK_SEND_INITIATION	0x1
#define WG_TICK_SEND_KEEPALIVE	0x2
#define WG_TICK_GAVE_UP		0x4	/* drop what waits for a handshake */
unsigned wg_peer_tick(struct wg_peer *);
/* Asks for a handshake soon (e.g. a packet is waiting for a session). */
void	wg_peer_want_handshake(struct wg_peer *);
bool	wg_peer_has_session(struct wg_peer *);

/*
 * Divides every protocol timer by this factor (tests force rekeys with it);
 * read once from FZ_WG_TIMER_SCALE by wg_device_new, default 1.
 */
void	wg_set_timer_scale(unsigned);

/* Base64 keys as wg(8) prints them (44 characters + NUL). */
int	wg_key_from_base64(const char *, uint8_t[WG_KEY_LEN])
	    __attribute__((warn_unused_result));
void	wg_key_to_base64(const uint8_t[WG_KEY_LEN], char[45]);
int	wg_key_from_hex(const char *, uint8_t[WG_KEY_LEN])
	    __attribute__((warn_unused_result));
void	wg_key_to_hex(const uint8_t[WG_KEY_LEN], char[65]);
void	wg_key_public(const uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN]);
void	wg_key_generate(uint8_t priv[WG_KEY_LEN]);

#endif
