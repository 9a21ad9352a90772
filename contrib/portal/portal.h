/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's portal logic, sans I/O (firezone-protocols.md §1, §2.1,
 * §3.3): the socket layer hands it upgrade requests, text frames, closes
 * and time; it answers with problem+json errors, frames to send (through
 * ops->send) and connections to close (ops->close).  No sockets, no
 * libevent, no logging of tokens or keys.
 *
 * Ownership: the portal owns its config (pd_portal_new / pd_portal_reload
 * take it), borrows the store and the ops.  A session lives from a
 * successful pd_portal_connect until pd_portal_closed, which the socket
 * layer must call exactly once (also after ops->close).
 */
#ifndef PD_PORTAL_H
#define PD_PORTAL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

#define PD_AUTH_TIMEOUT_MS	15000	/* gateway ack of an authorization */
#define PD_PRESENCE_DEBOUNCE_MS	1000	/* relays_presence fan-out */
#define PD_MAX_RELAYS_PER_DEVICE 2	/* Firezone relays sent per device */
/* Idle WebSocket timeouts of Firezone's portal (§1.1); heartbeats are 10 s. */
#define PD_IDLE_MS		37000	/* client and gateway sockets */
#define PD_IDLE_MS_RELAY	41000
#define PD_ACCESS_SECS		(7 * 24 * 3600)	/* authorization lifetime */

struct pd_portal;
struct pd_session;

struct pd_portal_ops {
	/* Queue one text frame on conn; -errno drops the session. */
	int	(*send)(void *conn, const char *text, size_t len);
	/* Ask the socket layer to close conn; pd_portal_closed follows. */
	void	(*close)(void *conn, int code);
	/* Wall clock, unix seconds (expiry times). */
	int64_t	(*unix_now)(void *arg);
	void	*arg;
};

/* What the upgrade request carried (all borrowed, NULL when absent). */
struct pd_request {
	const char	*path;		/* "/client/v2/websocket" */
	const char	*query;		/* raw, not decoded */
	const char	*authorization;	/* X-Authorization header */
	const char	*user_agent;
	const char	*peer;		/* "ip:port" for logs */
};

/* A refused upgrade: status and an RFC 9457 problem+json body. */
struct pd_http_error {
	int		 status;
	char		 code[40];
	char		 body[512];
};

/* Takes cfg (also on failure); borrows store and ops. */
int	pd_portal_new(struct pd_config *cfg, struct pd_store *store,
	    const struct pd_portal_ops *ops, struct pd_portal **out)
	    __attribute__((warn_unused_result));
/* Frees sessions without calling ops (the socket layer frees conns). */
void	pd_portal_free(struct pd_portal *);

/*
 * Checks an upgrade request.  0: accepted, *out the new session bound to
 * conn; -EACCES/-EINVAL/-ENOENT...: refused, *err filled (status 400, 401,
 * 404, 409, 500).
 */
int	pd_portal_connect(struct pd_portal *, const struct pd_request *,
	    void *conn, uint64_t now_ms, struct pd_session **out,
	    struct pd_http_error *err) __attribute__((warn_unused_result));
/* One inbound text frame. */
void	pd_portal_text(struct pd_portal *, struct pd_session *,
	    const char *text, size_t len, uint64_t now_ms);
/* The connection is gone; frees the session. */
void	pd_portal_closed(struct pd_portal *, struct pd_session *,
	    uint64_t now_ms);
/*
 * Timers: authorization timeouts, debounced relay presence, idle
 * connections (closed through ops->close).
 */
void	pd_portal_tick(struct pd_portal *, uint64_t now_ms);
/* Next time pd_portal_tick has work, UINT64_MAX when none. */
uint64_t pd_portal_deadline(const struct pd_portal *);
/*
 * Replaces the config (taken, also on failure) and pushes the
 * differences: resource_created_or_updated / resource_deleted /
 * config_changed to clients, resource_updated / reject_access to gateways,
 * disconnect to devices whose token is gone.
 */
void	pd_portal_reload(struct pd_portal *, struct pd_config *,
	    uint64_t now_ms);
const struct pd_config *pd_portal_config(const struct pd_portal *);

/* Counts for logs and tests. */
struct pd_portal_stats {
	unsigned	clients, gateways, relays, pending, authorizations;
};
void	pd_portal_stats(const struct pd_portal *, struct pd_portal_stats *);

#endif
