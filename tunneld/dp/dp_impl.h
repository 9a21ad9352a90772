/* SPDX-License-Identifier: ISC */
/*
 * The data plane's private header (tunneld/dp only): its structures and
 * the send side (tx.c) that dataplane.c's receive path, workers and timer
 * thread call.
 */
#ifndef FZ_DP_IMPL_H
#define FZ_DP_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "dataplane.h"
#include "hsq.h"
#include "log.h"
#include "offload.h"
#include "ratelimiter.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif

#define GROUPS		16		/* send groups per flush */
#define GROUP_SIZE	65536		/* one sendmsg, possibly GSO */
#define GSO_MAX_BYTES	65000		/* UDP payload limit per GSO send */
#define GSO_MAX_SEGS	64
#define RECV_MSGS	16		/* a recvmmsg, a prefetch batch */
#define RECV_ROUNDS	4		/* ... per wakeup: 64 messages */
#define RECV_SIZE	65536
#define TUN_READS	64		/* TUN reads per wakeup */
#define TUN_BATCH	8		/* ... read before they are handled */
#define STAGE_MAX	128		/* packets waiting for a handshake */
#define TUN_BUF		(TUN_VNET_HDR_LEN + 65536)

/* A packet waiting for a session (allocated only when one waits). */
struct staged {
	struct staged	*next;
	size_t		 len;
	uint8_t		 pkt[];
};

/*
 * The data plane's part of a peer: small, so that an idle peer costs
 * little (no preallocated queue).  Freed with its wg_peer, after an RCU
 * grace period (dp_peer_free).
 */
/*
 * Two cache lines, 64-byte aligned (dp_peer_add): the first holds what a
 * received packet's inner-source check reads (the allowed IPs' host-route
 * copy), the second the staging queue.
 */
struct dp_peer {
	struct allowedips_set	 aips;		/* under the trie's lock */
	struct wg_peer		*wg;
	pthread_mutex_t		 qlock;
	struct staged		*qhead, *qtail;
	unsigned		 qn;
};
#define DP_PEER_SIZE		128
_Static_assert(sizeof(struct dp_peer) <= DP_PEER_SIZE, "dp_peer: two lines");
_Static_assert(offsetof(struct dp_peer, aips.host) +
    sizeof(((struct dp_peer *)0)->aips.host) <= 64,
    "dp_peer: the source check's copy in the first line");

struct group {
	struct wg_peer		*peer;
	union fz_sockaddr	 to;
	size_t			 len;		/* bytes used */
	size_t			 seg;		/* segment size (GSO) or 0 */
	uint16_t		 chan;		/* >0: each segment is ChannelData */
	unsigned		 nseg;
	bool			 closed;	/* last segment was short */
};

struct worker {
	struct dp	*dp;
	struct off_co	 co;			/* TCP flows for the TUN */
	int		 idx;
	int		 tunfd;
	int		 udp4, udp6;
	int		 ep;
	pthread_t	 th;
	bool		 started;
	uint8_t		*tunbuf;		/* TUN_BATCH reads */
	uint8_t		*out;			/* GROUPS * GROUP_SIZE */
	struct group	 g[GROUPS];
	unsigned	 ng;
	uint8_t		*rx;			/* RECV_MSGS * RECV_SIZE */
	bool		 hs_pushed;		/* kick the handshake thread */
	uint64_t	 rx_packets, rx_bytes;	/* this batch's, for ctr[] */
	uint8_t		 seg[2048];		/* one segment being built */
};

/*
 * Handshake initiations that came before fz-controld's PEER_SET for their
 * sender (its key unknown, or on a relay channel not registered yet): both
 * sides set the peer when their own ICE agent concludes, and the initiator
 * often does it a fraction of a millisecond first.  Kept DP_HELD_INIT_MS
 * and answered by dp_held_init_retry once a peer was set, instead of the
 * initiator's retry REKEY_TIMEOUT (5 s) later.
 */
#define DP_HELD_INIT		8
#define DP_HELD_INIT_MS		2000
/* How long a peer's replaced relay channels keep receiving (dp_peer_set_path). */
#define DP_CHAN_RETIRE_MS	5000
struct dp_held_init {
	pthread_mutex_t		 lock;
	/*
	 * Bumped by each dp_held_init_retry before it looks: a thread that
	 * found no peer for an initiation and held it checks whether a
	 * retry began since it looked (the peer may have come in between)
	 * and then answers it itself (held_gen_check).
	 */
	atomic_uint		 gen;
	struct {
		uint64_t	 at;		/* ns, time_mono_ns; 0: free */
		int		 fd;		/* the socket it came in on */
		union fz_sockaddr src;		/* the sender, or the relay */
		uint16_t	 channel;	/* relayed: its channel; else 0 */
		uint8_t		 msg[WG_INITIATION_LEN];
	} e[DP_HELD_INIT];
};

struct dp {
	struct wg_device	*dev;
	struct allowedips	*aip;
	struct tun		*tun;
	int			 mtu;
	uint16_t		 port;
	int			 nworkers;
	struct worker		*w;
	int			 stopfd;	/* eventfd: stop everything */
	int			 wakefd;	/* eventfd: timer work now */
	pthread_t		 timer;
	bool			 timer_started;
	_Atomic uint64_t	 ctr[DP_COUNTERS];
	struct hsq		 hsq;		/* handshakes for hs_main */
	struct ratelimiter	*hs_rl;		/* per source, hsq half full */
	pthread_t		 hs_th;
	bool			 hs_started;
	_Atomic bool		 hs_ready;	/* its priority is set */
	pthread_mutex_t		 peers_lock;	/* dp_peer_add/remove; no reader
						   takes it (adding may wait for
						   an RCU grace period) */
	struct log_ratelimit	 rl;
	bool			 gro;		/* TUN takes TSO writes */
	struct dp_chans		 chans;		/* relay channels -> peers */
	struct dp_stunq		 stunq;		/* STUN for the main loop */
	_Atomic bool		 stun_on;	/* stunq is in use */
	int			 stunfd;	/* eventfd: STUN waits */
	struct dp_wanted	 wanted;	/* CONN_WANTED for the main loop */
	_Atomic bool		 wanted_on;
	int			 wantedfd;	/* eventfd: destinations wait */
	struct dp_stunq		 dnsq;		/* DNS to sentinels (dnspkt.h) */
	_Atomic bool		 dns_on;
	int			 dnsfd;		/* eventfd: queries wait */
	struct dp_held_init	 held;		/* initiations before their peer */
	_Atomic(struct dp_flt *) flt;		/* dp_filter.h; NULL: off */
	_Atomic(struct dp_dnsres *) dnsres;	/* dp_dnsres.h; NULL: none */
	_Atomic(struct dp_p2p *) p2p;		/* dp_p2p.h; NULL: off */
	_Atomic(struct dp_dnsnat *) dnsnat;	/* dp_dnsnat.h; NULL: none */
};

/* dataplane.c: a TUN packet to a sentinel, taken (queued or dropped). */
bool	dp_dns_intercept(struct dp *, int family, const uint8_t *dst,
	    const uint8_t *pkt, size_t len);

static inline void
count(struct dp *dp, enum dp_counter c, uint64_t n)
{
	atomic_fetch_add_explicit(&dp->ctr[c], n, memory_order_relaxed);
}

static inline struct dp_peer *
dpp(struct wg_peer *p)
{
	return wg_peer_cookie(p);
}

/* tx.c: staging (packets waiting for a session) */
void	tx_stage(struct dp *, struct wg_peer *, const uint8_t *, size_t);
void	tx_stage_drop(struct dp *, struct wg_peer *);
void	dp_peer_free(void *);		/* the wg_peer's destructor */

/* tx.c: a TUN packet with no peer: CONN_WANTED, rate-limited; held */
void	tx_no_route(struct dp *, int family, const uint8_t *dst,
	    const uint8_t *pkt, size_t len);
void	tx_channel_header(uint8_t *, uint16_t chan, size_t len);

/* tx.c: sending, each worker (and the timer thread) with its own groups */
void	tx_flush(struct worker *);
/*
 * A peer's path (wg_peer_path): where its datagrams go, and the relay
 * channel (0: direct) they are wrapped in, each with a 4-byte ChannelData
 * header counted in its GSO segment size.
 */
struct tx_path {
	union fz_sockaddr	 to;
	uint16_t		 chan;
};
#define TX_HDR(path)	((path)->chan != 0 ? (size_t)4 : (size_t)0)
void	tx_send_packet(struct worker *, struct wg_peer *, struct wg_keypair *,
	    const struct tx_path *, const uint8_t *, size_t);
int	tx_segment_and_send(struct worker *, struct wg_peer *,
	    struct wg_keypair *, const struct tx_path *,
	    const struct virtio_net_hdr *, uint8_t *, size_t);
void	tx_tun_readable(struct worker *);
/*
 * Prefetching over a batch of TUN reads (header and packet each): every
 * destination's host-route slot, then every node, every peer, every
 * keypair (allowedips.h, wg.h), so that with thousands of peers the batch
 * waits for memory about four times, not four times a packet.  Inside
 * wg_read_lock.
 */
void	tx_prefetch_batch(struct dp *, uint8_t *const buf[],
	    const size_t len[], int n);
unsigned tx_flush_staged(struct worker *, struct wg_peer *);
void	tx_keepalive(struct worker *, struct wg_peer *);
void	tx_initiation(struct worker *, struct wg_peer *);

/*
 * dp_filter.c: resource enforcement (dp_filter.h).  A packet decrypted
 * from peer p (gateway) / read from the TUN (client; gateway: the return
 * direction): true when it goes on; false when it was refused (and
 * answered, if an ICMP error is due).
 */
bool	dpf_from_peer(struct worker *, struct wg_peer *, const uint8_t *,
	    size_t);
bool	dpf_from_tun(struct worker *, const uint8_t *, size_t);

#endif
