/* SPDX-License-Identifier: ISC */
/*
 * DNS over TCP to the sentinels (§4.4), pure: just enough TCP for the
 * system resolver's connections to 100.100.111.x:53 over the TUN.  A SYN
 * opens a connection (at most DNSTCP_MAX; their 2-byte-length-prefixed
 * queries at most 65535 bytes each), every in-order segment is
 * acknowledged, each complete query goes out through ops->query, its
 * answer (dnstcp_answer) goes back as segments of at most DNSTCP_MSS,
 * and a FIN is answered with ours once every query has its answer.  The TUN does not lose packets, so
 * nothing is retransmitted; out-of-order data is dropped with a duplicate
 * ACK; a connection idle for DNSTCP_IDLE_NS is forgotten.  Anything for no
 * connection gets a RST.  Segments to send go through ops->send.
 */
#ifndef FZ_DNSTCP_H
#define FZ_DNSTCP_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define DNSTCP_MAX	64
#define DNSTCP_MSS	1200
#define DNSTCP_IDLE_NS	(10ULL * 1000000000ULL)

struct dnstcp_ops {
	/* a complete IP packet for the TUN (borrowed for the call) */
	void	(*send)(void *arg, const uint8_t *pkt, size_t len);
	/* a complete query from client to sentinel (borrowed) */
	void	(*query)(void *arg, const union fz_sockaddr *client,
		    const union fz_sockaddr *sentinel, const uint8_t *msg,
		    size_t len);
};

struct dnstcp;

struct dnstcp *dnstcp_new(const struct dnstcp_ops *, void *arg);
void	dnstcp_free(struct dnstcp *);		/* NULL-safe */
/* A TCP packet from the TUN to a sentinel; -EBADMSG if it is none. */
int	dnstcp_input(struct dnstcp *, const uint8_t *pkt, size_t len,
	    uint64_t now_ns) __attribute__((warn_unused_result));
/*
 * The answer for the connection of client to sentinel: 0 (sent, or
 * dropped when no query waits), -ENOENT when there is no connection
 * (then it is not TCP's), -EMSGSIZE above 65535 bytes.
 */
int	dnstcp_answer(struct dnstcp *, const union fz_sockaddr *sentinel,
	    const union fz_sockaddr *client, const uint8_t *msg, size_t len)
	    __attribute__((warn_unused_result));
void	dnstcp_expire(struct dnstcp *, uint64_t now_ns);
unsigned dnstcp_count(const struct dnstcp *);

#endif
