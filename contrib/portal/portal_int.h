/* SPDX-License-Identifier: ISC */
/*
 * What portal.c, views.c and authz.c share (fz-portald only): the portal
 * and session structs and the functions each file offers the others.
 */
#ifndef PD_PORTAL_INT_H
#define PD_PORTAL_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

#include "creds.h"
#include "phx.h"
#include "portal.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	    (var) = (tvar))
#endif

#define REF_KEY_LEN	32

enum srole { SR_CLIENT, SR_GATEWAY, SR_RELAY };

extern const char *const pd_role_topic[];

struct pd_session {
	TAILQ_ENTRY(pd_session) entry;
	void		*conn;
	enum srole	 role;
	enum phx_vsn	 vsn;
	bool		 joined;
	bool		 closing;
	uint64_t	 last_rx;	/* ms: connect or last frame */
	json_t		*join_ref;	/* echoed on pushes (V2) */
	/* client and gateway */
	struct pd_device dev;
	char		 owner[PD_UUID_LEN + 1];	/* config client/site */
	char		 version[32];	/* from the User-Agent */
	json_t		*resources;	/* client: id -> view last sent */
	json_t		*relays_sent;	/* relay ids last sent (array) */
	/* relay */
	char		 stamp_secret[PORTAL_STAMP_SECRET_LEN + 1];
	char		 relay_id[PD_UUID_LEN + 1];
	char		 ipv4[INET_ADDRSTRLEN], ipv6[INET6_ADDRSTRLEN];
	uint16_t	 port;
	char		 name[PD_NAME_MAX + 1];
};
TAILQ_HEAD(session_list, pd_session);

struct pending {
	TAILQ_ENTRY(pending) entry;
	uint64_t	 nonce;
	struct pd_session *client, *gateway;
	char		 resource_id[PD_UUID_LEN + 1];
	uint64_t	 deadline;
};
TAILQ_HEAD(pending_list, pending);

struct authz {
	TAILQ_ENTRY(authz) entry;
	char		 client_owner[PD_UUID_LEN + 1];	/* config client id */
	char		 client_id[PD_UUID_LEN + 1];
	char		 gateway_id[PD_UUID_LEN + 1];
	char		 resource_id[PD_UUID_LEN + 1];
	int64_t		 expires_at;
};
TAILQ_HEAD(authz_list, authz);

struct pd_portal {
	/* Owned (freed with pd_config_free), only ever read: const so the
	 * compiler says so, and a config can be shared (pd_config_ref). */
	const struct pd_config	*cfg;
	struct pd_store		*store;
	const struct pd_portal_ops *ops;
	struct session_list	 sessions;
	struct pending_list	 pending;
	struct authz_list	 authz;
	uint64_t		 next_nonce;
	uint64_t		 presence_at;	/* UINT64_MAX: none due */
	unsigned char		 ref_key[REF_KEY_LEN];
};

/* portal.c */
int64_t	pd_unix_now(const struct pd_portal *);
void	pd_session_drop(struct pd_portal *, struct pd_session *, int code);
/* A push on the session's topic; steals payload (NULL: out of memory). */
void	pd_push(struct pd_portal *, struct pd_session *, const char *event,
	    json_t *payload);
void	pd_reply_error(struct pd_portal *, struct pd_session *,
	    const struct phx_frame *, const char *reason);

/* views.c: JSON views (§1.8), relays (§1.9, §3.3), init per role */
json_t	*pd_gateway_view(const struct pd_resource *);
const struct pd_client *pd_session_client(const struct pd_portal *,
	    const struct pd_session *);
json_t	*pd_visible_resources(const struct pd_portal *,
	    const struct pd_session *);
json_t	*pd_client_interface(const struct pd_portal *,
	    const struct pd_session *);
void	pd_presence_to(struct pd_portal *, struct pd_session *, bool force);
void	pd_presence_schedule(struct pd_portal *, uint64_t now);
void	pd_init_client(struct pd_portal *, struct pd_session *);
void	pd_init_gateway(struct pd_portal *, struct pd_session *);

/* authz.c: authorizations (§1.6, §1.7, §2.1) and candidates */
void	pd_auth_failed(struct pd_portal *, struct pd_session *client,
	    const char *resource_id, const char *reason);
void	pd_pending_free(struct pd_portal *, struct pending *);
/* The store's copy of an authorization (kept across restarts). */
void	pd_authz_keep(struct pd_portal *, const struct authz *);
void	pd_authz_forget(struct pd_portal *, const struct authz *);
int	pd_authz_load(struct pd_portal *);
struct pd_session *pd_find_device(struct pd_portal *, enum srole,
	    const char *id);
void	pd_request_authorization(struct pd_portal *, struct pd_session *,
	    const json_t *payload, uint64_t now);
void	pd_gateway_authorized(struct pd_portal *, struct pd_session *,
	    const struct phx_frame *);
void	pd_client_candidates(struct pd_portal *, struct pd_session *,
	    const json_t *payload, const char *out_event);
void	pd_gateway_candidates(struct pd_portal *, struct pd_session *,
	    const json_t *payload, const char *out_event);

#endif
