/* SPDX-License-Identifier: ISC */
/*
 * The data plane's resource enforcement (filter.h) switched on: on a
 * gateway every packet decrypted from a client passes flt_check before
 * the TUN (refused ones never reach it; prohibited/unreachable are
 * answered with the ICMP error, encrypted back to the client), and every
 * packet from the TUN to a client passes flt_check_return; on a
 * client every packet read from the TUN passes flt_client_check before
 * routing (refused ones are answered by the ICMP error written into the
 * TUN, and no authorization is asked for).  Off until dp_filter_enable.
 *
 * The table is the data plane's; the main loop changes it between
 * dp_filter_wlock (a clone of the published table, NULL when off or out
 * of memory) and dp_filter_wunlock (publishes it, waits for an RCU grace
 * period: never inside wg_read_lock).  Workers read the published table
 * under RCU, without a shared lock.
 */
#ifndef FZ_DP_FILTER_H
#define FZ_DP_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter.h"

struct dp;

/* On a client, its own resources are the table's client DPF_SELF. */
#define DPF_SELF	"self"

enum dp_filter_mode { DP_FILTER_OFF, DP_FILTER_GATEWAY, DP_FILTER_CLIENT };

/* 0, -EEXIST (on in another mode), -ENOMEM.  Once on, on until dp_free. */
int	dp_filter_enable(struct dp *, enum dp_filter_mode)
	    __attribute__((warn_unused_result));
enum dp_filter_mode dp_filter_mode(const struct dp *);
/* The table, write-locked; NULL (and nothing locked) when off. */
struct flt_table *dp_filter_wlock(struct dp *);
void	dp_filter_wunlock(struct dp *);
/* Client -> resource packets by verdict (client: refused ones only). */
uint64_t dp_filter_counter(const struct dp *, enum flt_verdict);
/* Gateway: TUN -> client packets dropped by flt_check_return. */
uint64_t dp_filter_return_drops(const struct dp *);
/*
 * Gateway flow logs (flowlog.h) from here on, at most max flows at once:
 * 0, -EINVAL (not a gateway's), -ENOMEM.  dp_filter_flows_take hands out
 * the flows ended at now_ms (all: every one), under the flows' lock.
 */
struct flow_rec;
int	dp_filter_flowlog_enable(struct dp *, size_t max)
	    __attribute__((warn_unused_result));
size_t	dp_filter_flows_take(struct dp *, uint64_t now_ms, bool all,
	    void (*fn)(const struct flow_rec *, void *), void *arg);
void	dp_filter_free(struct dp *);		/* dp_free's */

#endif
