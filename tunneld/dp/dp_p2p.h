/* SPDX-License-Identifier: ISC */
/*
 * The data plane's side of the in-tunnel p2p control protocol
 * (firezone-protocols.md §4.6; p2p.h): a packet decrypted from a peer
 * that p2p_is_control calls a control packet never reaches the TUN.
 *
 *  - gateway (DP_P2P_GATEWAY): every one is queued (DP_P2P_QUEUE at most,
 *    with the sender's public key) for one consumer in the main loop, as
 *    dp_stun_enable/dp_stun_take: fz-tunneld sends them up as P2P_UP.
 *  - client (DP_P2P_CLIENT): domain_status goes to the client hook
 *    (dp_p2p_set_client_hook: the client's DNS-NAT states, p2p_nat_status,
 *    on the worker thread); without a hook it is dropped and counted
 *    (DP_P2P_DROP_NO_HOOK).  Everything else is queued as on a gateway.
 *  - off (no dp_p2p_enable): dropped and counted.
 * A full queue drops and counts.  dp_p2p_send (main loop) encrypts a
 * control packet to a peer and sends it at once when a session exists;
 * otherwise it waits with the peer's staged packets (tx_stage) for the
 * handshake.
 */
#ifndef FZ_DP_P2P_H
#define FZ_DP_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p.h"
#include "wg.h"

struct dp;
struct worker;
struct wg_peer;

#define DP_P2P_QUEUE	64

enum dp_p2p_mode { DP_P2P_GATEWAY = 1, DP_P2P_CLIENT };

enum dp_p2p_counter {
	DP_P2P_UP,		/* queued for the main loop */
	DP_P2P_DROP_FULL,	/* ... its queue was full */
	DP_P2P_DROP_OFF,	/* no dp_p2p_enable: dropped */
	DP_P2P_DROP_NO_HOOK,	/* client: domain_status without a hook */
	DP_P2P_HOOKED,		/* client: domain_status to the hook */
	DP_P2P_DOWN,		/* dp_p2p_send: staged for a peer */
	DP_P2P_COUNTERS
};

/* A queued control packet and its sender. */
struct dp_p2p_up {
	uint8_t		pub[WG_KEY_LEN];
	size_t		len;
	uint8_t		pkt[P2P_MAX_PKT];
};

/*
 * The client's domain_status hook: on a worker thread, inside
 * wg_read_lock, for a control packet of type P2P_DOMAIN_STATUS (not yet
 * parsed: untrusted) from peer p; w is the worker (tx_send_packet for the
 * flushed packets, dp_impl.h).  It borrows pkt until it returns.
 */
typedef void (*dp_p2p_client_hook)(void *arg, struct worker *w,
    struct wg_peer *p, const uint8_t *pkt, size_t len);

/* 0, -EEXIST (on in the other mode), -ENOMEM, -errno (eventfd). */
int	dp_p2p_enable(struct dp *, enum dp_p2p_mode, int *fd)
	    __attribute__((warn_unused_result));
bool	dp_p2p_take(struct dp *, struct dp_p2p_up *);
/* Before the workers start, or with a hook that stays valid: set once. */
void	dp_p2p_set_client_hook(struct dp *, dp_p2p_client_hook, void *arg);
/* 0, -ENOENT (no such peer), -EMSGSIZE, -ENOTCONN (not enabled). */
int	dp_p2p_send(struct dp *, const uint8_t pub[WG_KEY_LEN],
	    const uint8_t *pkt, size_t len) __attribute__((warn_unused_result));
uint64_t dp_p2p_counter(const struct dp *, enum dp_p2p_counter);
const char *dp_p2p_counter_name(enum dp_p2p_counter);

/* dataplane.c's receive path: a control packet of peer p, taken. */
void	dp_p2p_in(struct worker *, struct wg_peer *, const uint8_t *, size_t);
void	dp_p2p_free(struct dp *);		/* dp_free's */

#endif
