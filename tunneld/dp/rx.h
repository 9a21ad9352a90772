/* SPDX-License-Identifier: ISC */
/*
 * The receive side's pure parts (no I/O; tests/unit/check_rx):
 *  - dp_classify: what a datagram on the data plane's UDP port is, by its
 *    first byte and exact sizes (WireGuard, TURN ChannelData, STUN);
 *  - the relay-channel table: (relay address, channel number) -> peer, so
 *    ChannelData from a known relay is unwrapped and attributed;
 *  - the STUN queue: datagrams for fz-controld, from the workers to the
 *    main loop, bounded.
 */
#ifndef FZ_DP_RX_H
#define FZ_DP_RX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum dp_pkt {
	DP_PKT_UNKNOWN,
	DP_PKT_WG_INITIATION,	/* type 1, 148 bytes */
	DP_PKT_WG_RESPONSE,	/* type 2, 92 bytes */
	DP_PKT_WG_COOKIE,	/* type 3, 64 bytes */
	DP_PKT_WG_DATA,		/* type 4, 32 bytes or more */
	DP_PKT_CHANNEL_DATA,	/* RFC 8656 §12.4, channel 0x4000..0x4fff */
	DP_PKT_STUN,		/* RFC 8489 §6 header, length matching */
};

/*
 * WireGuard: first byte 1..4, three zero bytes, the type's exact length
 * (data: at least header and tag).  ChannelData: first byte 0x40..0x4f,
 * the length field not past the datagram, with at most the padding to a
 * multiple of 4 after it.  STUN: the top two bits 00, the magic cookie
 * 0x2112A442 at offset 4, a length that is a multiple of 4 and is the
 * datagram's after the 20-byte header.  The three never overlap.
 */
enum dp_pkt dp_classify(const uint8_t *, size_t);
const char *dp_pkt_name(enum dp_pkt);

/* The channel and inner datagram of a DP_PKT_CHANNEL_DATA message. */
void	dp_channeldata(const uint8_t *, size_t, uint16_t *channel,
	    const uint8_t **inner, size_t *inner_len);

#define DP_CHANNEL_MIN	0x4000
#define DP_CHANNEL_MAX	0x4fff

/*
 * (relay address and port, channel) -> peer.  Readers (the workers) and
 * writers take a read-write lock; the peer pointer stays valid for a
 * worker inside its RCU read section (peers are freed after a grace
 * period, and dp_peer_remove drops the peer's channels first).
 */
struct dp_chan;
struct dp_chans {
	pthread_rwlock_t  lock;
	struct dp_chan	**bucket;	/* nbuckets, allocated on first add */
	size_t		  nbuckets, n;
	size_t		  nretiring;	/* of n, bindings being retired */
	uint64_t	  purge_at;	/* the earliest one's retire time */
};

void	dp_chans_init(struct dp_chans *);
void	dp_chans_destroy(struct dp_chans *);
/*
 * 0, or -EINVAL (channel outside DP_CHANNEL_MIN..MAX, address neither
 * IPv4 nor IPv6), -EEXIST (bound to another peer), -ENOMEM.  Adding an
 * existing binding again is a no-op.
 */
int	dp_chans_add(struct dp_chans *, const union fz_sockaddr *relay,
	    uint16_t channel, void *peer) __attribute__((warn_unused_result));
int	dp_chans_remove(struct dp_chans *, const union fz_sockaddr *relay,
	    uint16_t channel);			/* 0 or -ENOENT */
void	dp_chans_remove_peer(struct dp_chans *, const void *peer);
/*
 * The peer's bindings keep receiving until the time_mono_ns() instant
 * until (0: not at all), then go: a path change keeps what the peer sent
 * on its old channel just before.  Adding a retiring binding again, for
 * any peer, makes it permanent.
 */
void	dp_chans_retire_peer(struct dp_chans *, const void *peer,
	    uint64_t until);
void	*dp_chans_lookup(struct dp_chans *, const union fz_sockaddr *relay,
	    uint16_t channel);
size_t	dp_chans_count(struct dp_chans *);

/* A STUN datagram for fz-controld. */
#define DP_STUN_MAX	1500		/* larger ones are dropped */
#define DP_SOCK_UDP4	4		/* sock: the IPv4 socket ... */
#define DP_SOCK_UDP6	6		/* ... or the IPv6 one */
struct dp_stun {
	uint32_t		 sock;
	union fz_sockaddr	 from, local;
	size_t			 len;
	uint8_t			 data[DP_STUN_MAX];
};

/* A bounded ring of them, filled by the workers, emptied by one reader. */
struct dp_stunq {
	pthread_mutex_t	 lock;
	struct dp_stun	*ring;
	unsigned	 cap, head, n;
};

int	dp_stunq_init(struct dp_stunq *, unsigned cap)
	    __attribute__((warn_unused_result));
void	dp_stunq_destroy(struct dp_stunq *);
/* false when the queue is full (or len > DP_STUN_MAX). */
bool	dp_stunq_push(struct dp_stunq *, uint32_t sock,
	    const union fz_sockaddr *from, const union fz_sockaddr *local,
	    const uint8_t *, size_t len);
bool	dp_stunq_pop(struct dp_stunq *, struct dp_stun *);

/*
 * Destinations the TUN sent packets to that no peer's allowed IPs cover
 * (CONN_WANTED, fz-controld): each reported at most once per
 * DP_WANTED_INTERVAL_NS, remembered in a fixed table of DP_WANTED_SLOTS
 * (hashed; a colliding destination takes the slot over, so memory stays
 * bounded whatever the TUN sends), and queued for the main loop in a ring
 * of DP_WANTED_QUEUE (full: dropped; the next packet after the interval
 * retries).  Multicast, broadcast and link-local destinations are never
 * reported.  The packets are held with their destination's slot until a
 * peer covers it (dp_wanted_release): at most DP_WANTED_HOLD per
 * destination and DP_WANTED_HOLD_BYTES in all, for DP_WANTED_HOLD_NS at
 * most; beyond that they are dropped (counted: hold_dropped).
 */
#define DP_WANTED_SLOTS		256
#define DP_WANTED_QUEUE		32
#define DP_WANTED_INTERVAL_NS	2000000000ull
#define DP_WANTED_HOLD		128
#define DP_WANTED_HOLD_BYTES	(1u << 20)
#define DP_WANTED_HOLD_NS	10000000000ull
struct dp_held;
struct dp_wanted_dst {
	int		 family;		/* AF_INET, AF_INET6; 0 free */
	uint8_t		 addr[16];
	uint64_t	 last_ns;
	struct dp_held	*held, *held_tail;	/* oldest first */
	unsigned	 nheld;
	uint64_t	 held_ns;		/* when the first was held */
};
struct dp_wanted {
	pthread_mutex_t		 lock;
	struct dp_wanted_dst	 slot[DP_WANTED_SLOTS];
	struct {
		int	 family;
		uint8_t	 addr[16];
	}			 ring[DP_WANTED_QUEUE];
	unsigned		 head, n;
	size_t			 held_bytes;
	uint64_t		 limited, dropped, hold_dropped;
};

void	dp_wanted_init(struct dp_wanted *);
void	dp_wanted_destroy(struct dp_wanted *);		/* frees what is held */
/*
 * A packet (pkt, len; pkt may be NULL: nothing to hold) to dst (4 or 16
 * bytes) that no peer covers.  true: dst was queued now for the main loop;
 * false: rate-limited, not a resource, or the queue is full.
 */
bool	dp_wanted_hit(struct dp_wanted *, int family, const uint8_t *dst,
	    uint64_t now_ns, const uint8_t *pkt, size_t len);
bool	dp_wanted_pop(struct dp_wanted *, int *family, uint8_t addr[16]);
/*
 * For every destination with held packets: take(arg, family, addr, pkt,
 * len) for each, oldest first, as long as it returns true (the packet was
 * taken: a peer covers it now); they are freed either way once taken.
 * A destination whose first take returns false keeps its packets.
 * Returns the number of packets taken.
 */
size_t	dp_wanted_release(struct dp_wanted *, bool (*take)(void *, int,
	    const uint8_t *, const uint8_t *, size_t), void *arg);

#endif
