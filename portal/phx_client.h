/* SPDX-License-Identifier: ISC */
/*
 * The client side of one Phoenix channel to the portal, sans I/O
 * (firezone-protocols.md §1.3, §1.4): the caller feeds transport events,
 * received text frames and the time (uint64_t ms, monotonic) in, and takes
 * frames to write, transport actions and channel events out.  No sockets,
 * no event loop, no logging (events carry a reason to log instead; never
 * the token).
 *
 * Life cycle: start -> action CONNECT -> (ws_open -> join sent -> JOINED
 * event ... MESSAGE events ...) -> on any failure action CONNECT again
 * after the backoff deadline, or a FATAL event and no more actions.
 */
#ifndef FZ_PHX_CLIENT_H
#define FZ_PHX_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "phx.h"

/*
 * The Firezone versions whose protocol fz implements, sent in the
 * User-Agent: the portal gates features and Client/Gateway compatibility
 * by them (§1.5).  fz's own version belongs in logs, not here.
 */
#define FZ_FIREZONE_CLIENT_VERSION	"1.5.12"	/* headless-client */
#define FZ_FIREZONE_GATEWAY_VERSION	"1.4.19"	/* gateway */
#define FZ_FIREZONE_RELAY_VERSION	"1.0.0"		/* relay */
#define FZ_FIREZONE_PROTO_VERSION	FZ_FIREZONE_CLIENT_VERSION

/* Timers (§1.3, §1.4), ms. */
#define PHX_JOIN_TIMEOUT_MS		5000
#define PHX_HEARTBEAT_MS		10000
#define PHX_MAX_OUTSTANDING_HB		3
#define PHX_QUEUE_MAX			32
#define PHX_INITIAL_RETRY_MS		1000	/* before the first join */
#define PHX_INITIAL_BUDGET_MS		15000
#define PHX_BACKOFF_INITIAL_MS		500
#define PHX_BACKOFF_MAX_MS		60000
#define PHX_BACKOFF_MULTIPLIER		1.5
#define PHX_BACKOFF_JITTER		0.5	/* randomization factor */
#define PHX_RETRY_AFTER_MAX_S		86400	/* a longer Retry-After is cut */
/* max_partition_ms defaults (§1.4); the headless client has none. */
#define PHX_GATEWAY_MAX_PARTITION_MS	(24ULL * 3600 * 1000)
#define PHX_RELAY_MAX_PARTITION_MS	(24ULL * 3600 * 1000)

enum phx_component { PHX_CLIENT, PHX_GATEWAY, PHX_RELAY };

enum phx_fatal {
	PHX_FATAL_NONE = 0,
	PHX_FATAL_INVALID_TOKEN,	/* token rejected/expired: sign in again */
	PHX_FATAL_AUTH,			/* other 401: keep the token */
	PHX_FATAL_LOGIN_FAILED,		/* the join was answered with an error */
	PHX_FATAL_MAX_RETRIES,		/* backoff budget exhausted */
};

struct phx_client_cfg {
	enum phx_component	 component;
	const char		*topic;		/* "client" | "gateway" | "relay" */
	json_t			*join_payload;	/* borrowed (incref'd); NULL: null */
	unsigned long long	 max_partition_ms; /* after a join; 0 unbounded */
	uint32_t		(*rand32)(void *); /* jitter; NULL: libsodium */
	void			*rand_arg;
};

struct phx_client;

/* NULL on ENOMEM or a bad cfg. */
struct phx_client *phx_client_new(const struct phx_client_cfg *);
void	phx_client_free(struct phx_client *);

/* Transport inputs. */
void	phx_client_start(struct phx_client *, uint64_t now);	/* -> CONNECT */
/* The upgrade succeeded: queues phx_join with ref 0. */
void	phx_client_ws_open(struct phx_client *, uint64_t now);
/* One text frame received; -EBADMSG for a frame not understood (skipped). */
int	phx_client_ws_text(struct phx_client *, const char *, size_t,
	    uint64_t now) FZ_WUR;
/* TCP/TLS/WebSocket failure or close: reconnect after the backoff. */
void	phx_client_ws_closed(struct phx_client *, uint64_t now);
/*
 * The upgrade was refused with an HTTP status and a body (problem+json,
 * may be empty); retry_after_s < 0 when there was no Retry-After.
 */
void	phx_client_http_error(struct phx_client *, int status,
	    const char *body, size_t n, long retry_after_s, uint64_t now);
void	phx_client_tick(struct phx_client *, uint64_t now);
/*
 * Sends event with payload (stolen; NULL: {}) on our topic, queued until
 * joined (-ENOBUFS beyond PHX_QUEUE_MAX; an exact duplicate of a queued
 * message is dropped and counts as sent).  -ESHUTDOWN after a fatal error
 * or stop.
 */
int	phx_client_send(struct phx_client *, const char *event,
	    json_t *payload) FZ_WUR;
/* Graceful end: action CLOSE (code 1000), then nothing more. */
void	phx_client_stop(struct phx_client *);

/* Outputs. */
/* When phx_client_tick wants to run next; UINT64_MAX: no timer. */
uint64_t phx_client_deadline(const struct phx_client *);
/* The next text frame to write (malloc'd, caller frees), or NULL. */
char	*phx_client_pop_frame(struct phx_client *);

enum phx_action { PHX_ACT_NONE, PHX_ACT_CONNECT, PHX_ACT_CLOSE };
/*
 * In order: CONNECT: open a new connection (to the URL of the moment; drop
 * any old one first); CLOSE: close the current connection or attempt (WS
 * close 1000) and report nothing more about it; a CONNECT may follow later
 * (reconnect after the backoff) or not (stop, fatal).
 */
enum phx_action phx_client_pop_action(struct phx_client *);

enum phx_event_kind {
	PHX_EV_JOINED,		/* join answered ok: (re)send capabilities */
	PHX_EV_MESSAGE,		/* event + payload on our topic */
	PHX_EV_DISCONNECTED,	/* lost the channel; reconnect scheduled */
	PHX_EV_FATAL,		/* fatal + reason; the client stops */
};

struct phx_event {
	enum phx_event_kind	 kind;
	char			*event;		/* MESSAGE: malloc'd */
	json_t			*payload;	/* MESSAGE: owned, never NULL */
	int			 fatal;		/* FATAL: enum phx_fatal */
	char			*reason;	/* DISCONNECTED/FATAL: text, or NULL */
};

/* Moves the next event into *out (phx_event_clear it); false when none. */
bool	phx_client_pop_event(struct phx_client *, struct phx_event *out);
void	phx_event_clear(struct phx_event *);

bool	phx_client_joined(const struct phx_client *);
/* Successful joins so far (0: still in the initial 1 s retry phase). */
unsigned phx_client_join_count(const struct phx_client *);

/*
 * Query parameters of the WebSocket URL (§1.2).  NULL/0 fields are left
 * out.  external_id is given raw: a UUID is hashed here.  connlib always
 * sends a name (FIREZONE_NAME, else the host name): pass one.
 */
struct portal_params {
	const char	*external_id;	/* client, gateway (required) */
	const char	*name;
	const char	*device_serial;
	const char	*device_uuid;
	const char	*identifier_for_vendor;
	const char	*firebase_installation_id;
	const char	*public_key;	/* base64, last (client, gateway) */
	const char	*ipv4;		/* relay */
	const char	*ipv6;		/* relay */
	uint16_t	 port;		/* relay; 0: left out */
};

/*
 * The WebSocket URL for a component from FIREZONE_API_URL (http|ws -> ws,
 * https|wss -> wss; the port kept when not the scheme's default; a path
 * prefix kept).  *out_url malloc'd.  -EINVAL for a bad URL or missing
 * required parameter, -ENOMEM.
 */
int	portal_url_build(const char *api_url, enum phx_component,
	    const struct portal_params *, char **out_url) FZ_WUR;
/*
 * Splits a ws:// or wss:// URL: *tls, host (malloc'd, IPv6 without
 * brackets), port (given or 443 for wss, 80 for ws), path+query
 * (malloc'd, "/" at least).  -EINVAL.
 */
int	portal_url_split(const char *url, bool *tls, char **host,
	    uint16_t *port, char **path_query) FZ_WUR;

/*
 * "X-Authorization: Bearer <token>" with every whitespace character of the
 * token removed (§1.2).  -EINVAL for an empty token or one with control
 * bytes.  *out holds the token: release it with portal_auth_header_free,
 * which wipes it.
 */
int	portal_auth_header(const char *token, char **out) FZ_WUR;
void	portal_auth_header_free(char *);
/*
 * A Retry-After value (RFC 9110 §10.2.3): delay-seconds or an IMF-fixdate,
 * relative to now (wall clock, s).  Seconds to wait (0 for a past date),
 * or -1 when the value is neither.
 */
long	portal_retry_after_parse(const char *value, long long now);
/*
 * An RFC 9457 problem+json body as the portal sends it:
 * {"type":"about:blank","title":T,"status":S,"detail":D,"code":C}
 * (detail and code left out when NULL).  malloc'd or NULL.
 */
char	*portal_problem_json(int status, const char *title,
	    const char *detail, const char *code);

/* "headless-client" | "gateway" | "relay". */
const char *portal_component_token(enum phx_component);
/*
 * "<os>/<os_version> <component>/<version> (<arch>; <kernel>)"; pure:
 * NULL parts are replaced by "Linux", "unknown".  malloc'd or NULL.
 */
char	*portal_user_agent_fmt(enum phx_component, const char *os,
	    const char *os_version, const char *arch, const char *kernel);
/*
 * The same from /etc/os-release (ID, VERSION_ID) and uname(2): call it
 * before the sandbox.  malloc'd or NULL.
 */
char	*portal_user_agent(enum phx_component);

#endif
