/* SPDX-License-Identifier: ISC */
/*
 * Gateway flow logs (FIREZONE_FLOW_LOGS): the flows of the packets
 * flt_check let through, keyed by the client's 5-tuple (client address
 * and port, resource address and port, protocol; ICMP: addresses only),
 * with bytes and packets each way, first and last packet; a flow ends
 * idle (TCP 300 s, others 60 s) or 5 s after a TCP FIN or RST, and is
 * then handed out once, as one JSON line.  Pure: the caller locks and
 * gives the time (Unix milliseconds).
 */
#ifndef FZ_FLOWLOG_H
#define FZ_FLOWLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter.h"

struct flow_rec {
	int		 family;
	uint8_t		 client[16], resource[16];
	uint8_t		 proto;
	uint16_t	 cport, rport;
	char		 client_id[FLT_ID_MAX + 1];
	char		 resource_id[FLT_ID_MAX + 1];
	uint64_t	 bytes_out, bytes_in;	/* to / from the resource */
	uint64_t	 pkts_out, pkts_in;
	uint64_t	 start_ms, last_ms;
	bool		 closing;		/* TCP FIN or RST seen */
};

struct flowlog;

/* At most max flows at once (further new ones are counted, not kept). */
struct flowlog *flowlog_new(size_t max);
void	flowlog_free(struct flowlog *);
/*
 * A packet of a flow: pkt/p as flt_parse gave them; to_resource for the
 * client's packets (flt_check), false for the return direction
 * (flt_check_return).  0, -ENOSPC (table full), -ENOMEM.
 */
int	flowlog_add(struct flowlog *, const uint8_t *pkt,
	    const struct flt_pkt *p, bool to_resource, const char *client_id,
	    const char *resource_id, uint64_t now_ms)
	    __attribute__((warn_unused_result));
/*
 * Hands out (and forgets) the flows ended at now_ms, all of them when
 * all; returns how many.
 */
size_t	flowlog_expire(struct flowlog *, uint64_t now_ms, bool all,
	    void (*fn)(const struct flow_rec *, void *), void *arg);
size_t	flowlog_count(const struct flowlog *);
uint64_t flowlog_overflow(const struct flowlog *);
/* The JSON line (no newline): its length, or -ENOSPC. */
int	flowlog_fmt(const struct flow_rec *, char *, size_t)
	    __attribute__((warn_unused_result));

#endif
