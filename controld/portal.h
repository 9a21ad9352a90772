/* SPDX-License-Identifier: ISC */
/*
 * fz-controld's portal session: the glue between the sans-I/O Phoenix
 * channel client (phx_client.h), the WebSocket transport (ws.h) and a
 * libevent timer, and the translation of the portal's messages
 * (portal_msg.h) into what fz-tunneld is told over IPC (STATUS, ERROR,
 * INTERFACE, RESOURCES, RELAYS) through the caller's sink.
 *
 * Everything read from disk (the CA store, resolv.conf, hosts,
 * os-release) is read by cportal_prepare, before the sandbox; a session
 * (cportal_new .. cportal_free) only uses sockets and the clock.
 */
#ifndef FZ_CONTROLD_PORTAL_H
#define FZ_CONTROLD_PORTAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ipc.h"
#include "portal_msg.h"

struct event_base;
struct cportal;

/* What a session reports; each call borrows its arguments. */
struct cportal_sink {
	void	(*status)(void *arg, const char *state, const char *detail);
	void	(*error)(void *arg, const char *message,
		    bool requires_sign_in);
	void	(*interface)(void *arg, const struct ipc_interface *);
	void	(*resources)(void *arg, const struct ipc_resource_list *);
	/* the distinct relay ids known ("id, id", as many as fit) */
	void	(*relays)(void *arg, uint32_t count, const char *ids);
	/* every relay address known, after each change; NULL: not wanted */
	void	(*relay_list)(void *arg, const struct portal_relay *, size_t);
	/*
	 * Every decoded portal message, for the connection manager (client:
	 * before the session's own handling; gateway: after it, so after the
	 * answer to create_authorization); NULL: not wanted.
	 */
	void	(*msg)(void *arg, const struct portal_msg *);
};

/* One sign-in; the strings are copied (the token wiped on free). */
struct cportal_conf {
	bool		 gateway;
	const char	*api_url;
	const char	*token;
	const char	*firezone_id;
	const char	*name;
	const char	*public_key;	/* base64, the device's WireGuard key */
	uint64_t	 max_partition_s;	/* reconnect budget; 0 none */
	/* the connection's TCP sockets (ws.h socket_fn); NULL: its own */
	int		(*socket_fn)(void *arg, int family);
	void		*socket_arg;
};

/*
 * Before the sandbox: the bootstrap resolver (resolv.conf, hosts), the TLS
 * context (system store or $SSL_CERT_FILE) and both User-Agents.  Kept
 * for the process's life.  -ENOMEM / -EIO.
 */
int	cportal_prepare(struct event_base *)
	    __attribute__((warn_unused_result));
void	cportal_unprepare(void);
/* The resolver cportal_prepare set up (a gateway's DNS resources), or NULL. */
struct evdns_base *cportal_dns(void);

/*
 * Starts connecting (STATUS connecting through the sink).  -EINVAL for a
 * portal URL or device parameter the portal cannot take.
 */
int	cportal_new(struct event_base *, const struct cportal_conf *,
	    const struct cportal_sink *, void *arg, struct cportal **out)
	    __attribute__((warn_unused_result));
/* Encodes and queues a message to the portal; -errno. */
int	cportal_send(struct cportal *, const struct portal_msg *)
	    __attribute__((warn_unused_result));
/* A resource's connection came up or went: RESOURCES' status field. */
void	cportal_resource_status(struct cportal *, const char *id,
	    bool online);
/* Closes the connection (1000) and forgets the session.  NULL-safe. */
void	cportal_free(struct cportal *);

#endif
