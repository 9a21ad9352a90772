/* SPDX-License-Identifier: ISC */
/*
 * fz-relayd's portal connection (firezone-protocols.md §1.9, §3.1): the
 * WebSocket to /relay/websocket, the `relay` channel joined with the
 * stamp_secret, heartbeats and the reconnect policy of §1.4 (the sans-I/O
 * phx_client does the protocol; this file is its socket glue on a thread
 * of its own, so the packet loop never waits for it).  What it tells the
 * rest of the relay: the state in metrics_gauges (for /readyz and
 * /metrics), and its done fd, readable once the connection has failed for
 * good (401, a refused join, or the 24 h budget spent): the daemon then
 * exits with failure, as Firezone's relay does.
 */
#ifndef FZ_RELAY_PORTAL_H
#define FZ_RELAY_PORTAL_H

#include <stdint.h>

#include "metrics.h"

#define RELAY_PORTAL_BUDGET_MS	(24ULL * 3600 * 1000)	/* §1.4, relay */

struct relay_portal_config {
	const char	*api_url;	/* FIREZONE_API_URL */
	const char	*token;		/* copied; the caller wipes its own */
	const char	*name;		/* FIREZONE_NAME, or NULL */
	const char	*ipv4, *ipv6;	/* public addresses, NULL if none */
	uint16_t	 port;		/* the TURN listening port */
	const char	*stamp_secret;	/* 64 hex, borrowed for the call */
	struct metrics_gauges *g;	/* borrowed; state written here */
};

struct relay_portal;

/*
 * Everything that needs files or privileges, before the sandbox: the
 * URL and User-Agent, the TLS context with its CA file read, a resolver
 * that has read /etc/resolv.conf and /etc/hosts, the event base.  Nothing
 * is connected yet.  0, -EINVAL (bad URL), -ENOMEM, -errno.
 */
int	relay_portal_new(const struct relay_portal_config *,
	    struct relay_portal **) FZ_WUR;
/* Starts the thread (after the privilege drop, before seccomp). */
int	relay_portal_run(struct relay_portal *) FZ_WUR;
/* Readable (eventfd) once the portal connection has failed for good. */
int	relay_portal_done_fd(const struct relay_portal *);
/* Leaves gracefully (close 1000, bounded), joins the thread, frees.
 * NULL-safe. */
void	relay_portal_free(struct relay_portal *);

#endif
