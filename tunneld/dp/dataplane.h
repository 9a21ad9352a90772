/* SPDX-License-Identifier: ISC */
/*
 * The WireGuard data plane: one worker thread per TUN queue, each with its
 * own UDP sockets on one shared port (SO_REUSEPORT, IPv4 and IPv6), batched
 * I/O (recvmmsg/sendmmsg), TUN super-packets (TSO/USO) segmented and sent
 * with UDP GSO, UDP GRO on receive, and a timer thread for the protocol's
 * timers.  Peers, their endpoints and allowed IPs change at runtime while
 * traffic flows; workers look them up under RCU (wg_read_lock around each
 * batch), with no lock shared by all of them.  Packets for a peer without
 * a session wait in a small bounded queue, allocated only when used;
 * every drop is counted.  No cap on the number of peers.
 *
 * Receiving, each datagram is classified by its first byte and size
 * (rx.h): WireGuard is handled at once; TURN ChannelData from a relay and
 * channel registered for a peer is unwrapped and handled as that peer's
 * WireGuard datagram (handshake replies go back wrapped the same way);
 * STUN is queued for the main loop (dp_stun_take: in service mode it goes
 * to fz-controld, without a consumer it is dropped), and so is STUN in
 * ChannelData and ChannelData on an unknown channel, whole; the rest is
 * dropped.  A peer's path (dp_peer_set_path) is direct or through a relay
 * channel: then everything sent to it is wrapped in ChannelData.
 * Every kind of drop has its counter.
 */
#ifndef FZ_DATAPLANE_H
#define FZ_DATAPLANE_H

#include <stdint.h>

#include "addr.h"
#include "allowedips.h"
#include "rx.h"
#include "tun.h"
#include "wg.h"

enum dp_counter {
	DP_TX_PACKETS, DP_TX_BYTES, DP_RX_PACKETS, DP_RX_BYTES,
	DP_DROP_NO_ROUTE,	/* no peer for the destination */
	DP_DROP_NO_ENDPOINT,	/* peer without an endpoint */
	DP_DROP_STAGED_FULL,	/* waiting-for-handshake queue full */
	DP_DROP_STAGED_EXPIRED,	/* handshake gave up */
	DP_DROP_BAD_PACKET,	/* malformed packet from the TUN */
	DP_DROP_DECRYPT,	/* failed authentication / replay / no key */
	DP_DROP_SRC_NOT_ALLOWED,/* inner source outside the peer's allowed IPs */
	DP_DROP_UNKNOWN_PACKET,	/* datagram that is none of the below */
	DP_DROP_HANDSHAKE,	/* handshake message refused */
	DP_DROP_HS_RATELIMITED,	/* under load, over a source's handshake rate */
	DP_DROP_SEND,		/* sendmsg failed */
	DP_DROP_TUN_WRITE,	/* TUN write failed */
	DP_RX_CHANNEL_DATA,	/* ChannelData unwrapped (relayed) */
	DP_DROP_UNKNOWN_CHANNEL,/* ChannelData from an unknown relay/channel
				   (STUN inside: still queued for controld) */
	DP_DROP_CHANNEL_PEER,	/* relayed message from another peer than
				   the channel's */
	DP_RX_STUN,		/* STUN queued for fz-controld */
	DP_DROP_STUN_QUEUE_FULL,/* ... its queue was full (or too big) */
	DP_DROP_STUN_NO_CONSUMER,/* STUN with nobody to take it (static) */
	DP_DROP_HS_QUEUE_FULL,	/* handshake queue full (hsq.h) */
	DP_DROP_ENCRYPT,	/* sealing failed (AEAD error, keypair used up) */
	DP_COUNTERS
};

struct dp_config {
	int		 mtu;
	uint16_t	 port;		/* 0: any */
};

struct dp;

int	dp_new(struct wg_device *, struct tun *, const struct dp_config *,
	    struct dp **) __attribute__((warn_unused_result));
int	dp_start(struct dp *) __attribute__((warn_unused_result));
void	dp_free(struct dp *);			/* stops the threads first */
uint16_t dp_port(const struct dp *);
struct allowedips *dp_allowedips(struct dp *);
struct wg_device *dp_device(struct dp *);
uint64_t dp_counter(const struct dp *, enum dp_counter);
const char *dp_counter_name(enum dp_counter);
/* Logs the drop counters that are not zero, on one line (if any). */
void	dp_log_drops(const struct dp *);

int	dp_peer_add(struct dp *, const uint8_t pub[WG_KEY_LEN],
	    struct wg_peer **) __attribute__((warn_unused_result));
void	dp_peer_remove(struct dp *, struct wg_peer *);
int	dp_peer_allow(struct dp *, struct wg_peer *, const struct fz_cidr *)
	    __attribute__((warn_unused_result));
void	dp_peer_clear_allowed(struct dp *, struct wg_peer *);
/* Calls fn for each of the peer's allowed IPs, in the order given. */
void	dp_peer_walk_allowed(struct dp *, struct wg_peer *,
	    void (*fn)(const struct fz_cidr *, void *), void *arg);


/*
 * ChannelData on channel (0x4000..0x4fff) from relay (address and port)
 * is the peer's: 0, -EINVAL, -EEXIST (the channel is another peer's),
 * -ENOMEM.  A removed peer's channels go with it.
 */
int	dp_relay_channel_add(struct dp *, const union fz_sockaddr *relay,
	    uint16_t channel, struct wg_peer *)
	    __attribute__((warn_unused_result));
int	dp_relay_channel_remove(struct dp *, const union fz_sockaddr *relay,
	    uint16_t channel);			/* 0 or -ENOENT */

/*
 * STUN datagrams are queued (DP_STUN_QUEUE of them at most) from here on,
 * for one consumer in the main loop: *fd becomes readable when some wait
 * (read it to rearm), dp_stun_take takes them one by one.  Without it
 * they are dropped (DP_DROP_STUN_NO_CONSUMER).
 */
#define DP_STUN_QUEUE	64
int	dp_stun_enable(struct dp *, int *fd)
	    __attribute__((warn_unused_result));
bool	dp_stun_take(struct dp *, struct dp_stun *);

/*
 * Packets from the TUN for an address no peer covers: from here on their
 * destinations are queued (rate-limited, rx.h dp_wanted) for one consumer
 * in the main loop, as dp_stun_enable/dp_stun_take, and the packets held
 * (bounded) until dp_wanted_release_all.
 */
int	dp_wanted_enable(struct dp *, int *fd)
	    __attribute__((warn_unused_result));
bool	dp_wanted_take(struct dp *, int *family, uint8_t addr[16]);
/*
 * The packets held for destinations without a peer (rx.h, dp_wanted) that
 * a peer covers now go to that peer, as if just read (staged until its
 * session); returns how many.  After a peer was added or changed.
 */
size_t	dp_wanted_release_all(struct dp *);
/*
 * Handshake initiations that came (within 2 s) before a peer with their
 * key, or their relay channel, was set are answered now; returns how
 * many.  After a peer was added or changed.
 */
size_t	dp_held_init_retry(struct dp *);

/*
 * A peer's path, set by fz-controld: direct to `to` (channel 0) or through
 * the relay `to` on channel 0x4000..0x4fff (sends wrapped in ChannelData,
 * that channel registered for receiving; the previous one removed).
 * Sessions and keys stay.  0, -EINVAL, -EEXIST (another peer's channel),
 * -ENOMEM.
 */
int	dp_peer_set_path(struct dp *, struct wg_peer *,
	    const union fz_sockaddr *to, uint16_t channel)
	    __attribute__((warn_unused_result));

/* fz-controld's datagrams out of socket sock (DP_SOCK_UDP4/6). */
bool	dp_has_sock(const struct dp *, uint32_t sock);
int	dp_send_dgram(struct dp *, uint32_t sock, const union fz_sockaddr *to,
	    const uint8_t *, size_t) __attribute__((warn_unused_result));

/*
 * DNS to the sentinels (dnspkt.h): from dp_dns_enable on, UDP queries the
 * TUN sends to a sentinel's port 53 are queued (DP_STUN_QUEUE, whole
 * payloads up to DP_STUN_MAX; sock DP_SOCK_DNS, from the client, local
 * the sentinel) for one consumer in the main loop, as dp_stun_take;
 * TCP to port 53 is queued as whole IP packets (sock DP_SOCK_DNS_TCP,
 * for dnstcp.h); anything else to a sentinel is dropped.  dp_tun_inject writes a
 * complete IP packet (checksums done) into the TUN, from the main loop.
 */
#define DP_SOCK_DNS	53
#define DP_SOCK_DNS_TCP	0x3553	/* TCP to a sentinel's 53: the IP packet */
int	dp_dns_enable(struct dp *, int *fd)
	    __attribute__((warn_unused_result));
bool	dp_dns_take(struct dp *, struct dp_stun *);
int	dp_tun_inject(struct dp *, const uint8_t *pkt, size_t len)
	    __attribute__((warn_unused_result));
/* SO_MARK on every UDP socket of the data plane (CAP_NET_ADMIN). */
int	dp_set_fwmark(struct dp *, uint32_t mark)
	    __attribute__((warn_unused_result));

#endif
