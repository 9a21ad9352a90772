/* SPDX-License-Identifier: ISC */
/*
 * TURN client (RFC 8656 over RFC 8489 long-term credentials), sans-I/O:
 * one allocation on one server address.  No sockets, no clock of its own:
 * the caller feeds datagrams from the server (turn_client_input) and the
 * time (every call takes a monotonic `now` in nanoseconds), and drains
 * what comes out: datagrams to send (turn_client_poll_transmit), the next
 * deadline (turn_client_poll_timeout) and events (turn_client_poll_event).
 *
 * What it does, after ../shared/firezone-protocols.md sections 3.3-3.5:
 *  - Allocate first without credentials, learn REALM and NONCE from the
 *    401/438, retry with USERNAME/REALM/NONCE/MESSAGE-INTEGRITY; a 438
 *    retries with the new nonce (a few times per request); a 401 for a
 *    request that already carried a nonce means bad credentials.  A realm
 *    other than the configured one (if any) is refused.
 *  - REQUESTED-TRANSPORT UDP; dual stack with ADDITIONAL-ADDRESS-FAMILY
 *    IPv6, falling back to REQUESTED-ADDRESS-FAMILY IPv6 on 440 and to a
 *    plain (IPv4) request on 400; a 437 is answered once by deleting the
 *    stale allocation (Refresh LIFETIME 0) and allocating again.
 *  - Refresh at half the granted lifetime, retried until it expires;
 *    turn_client_deallocate sends LIFETIME 0.
 *  - CreatePermission (refreshed every 240 s) and ChannelBind (numbers
 *    0x4000-0x4fff round robin, rebound every 240 s so the permission a
 *    bind refreshes never lapses, a number never reused for another peer
 *    until 300 s after its last possible expiry).
 *  - STUN Binding for the server-reflexive address, on demand and as a
 *    keepalive while allocated.
 *  - RFC 8489 section 6.2.1 retransmissions (RTO doubling, Rc sends, Rm
 *    times the RTO after the last); the RTO follows the measured RTT
 *    (RFC 6298, Karn) but never drops below the configured one.
 * Responses are matched by transaction id and method; a response to an
 * authenticated request must carry a valid MESSAGE-INTEGRITY unless it is
 * a 401 or 438.  Anything else is ignored.
 *
 * Memory is bounded: permissions and channels up to their configured caps,
 * one request in flight per allocation, Binding, permission and channel,
 * and an event queue sized from those caps.  The password and the key
 * derived from it are wiped on free and never logged.
 */
#ifndef FZ_TURN_CLIENT_H
#define FZ_TURN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "buf.h"

#define TURN_TEXT_MAX		256	/* username, password, realm, nonce */
#define TURN_LIFETIME_DEFAULT	600	/* s, when the server names none */
#define TURN_PERM_LIFETIME	300	/* s (RFC 8656 section 9) */
#define TURN_PERM_REFRESH	240	/* s after the request */
#define TURN_CHANNEL_LIFETIME	600	/* s (RFC 8656 section 12) */
#define TURN_CHANNEL_REBIND	240	/* s: a bind also refreshes the permission */
#define TURN_CHANNEL_COOLDOWN	300	/* s after expiry before a number is reused */
#define TURN_CHANNEL_FIRST	0x4000
#define TURN_CHANNEL_LAST	0x4fff	/* RFC 8656 narrowed the client's range */
#define TURN_STALE_RETRIES	3	/* 438s answered per request */

enum turn_family {
	TURN_FAMILY_DUAL,	/* IPv4 + ADDITIONAL-ADDRESS-FAMILY IPv6 */
	TURN_FAMILY_V4,		/* no family attribute */
	TURN_FAMILY_V6,		/* REQUESTED-ADDRESS-FAMILY IPv6 */
};

/* Fills buf with len unpredictable bytes (transaction ids). */
typedef void (*turn_rng_fn)(void *ctx, void *buf, size_t len);

struct turn_client_config {
	union fz_sockaddr server;
	const char	*username;	/* copied; at most TURN_TEXT_MAX */
	const char	*password;	/* copied, wiped on free */
	const char	*realm;		/* expected realm; NULL: the server's */
	const char	*software;	/* SOFTWARE on requests; NULL: none */
	enum turn_family family;
	uint32_t	 lifetime_s;	/* LIFETIME asked for; 0: none sent */
	uint32_t	 keepalive_ms;	/* Binding period while allocated; 0: off */
	uint32_t	 rto_ms;	/* initial RTO; 0: 500 */
	unsigned	 max_tx;	/* Rc, sends per request; 0: 7 */
	unsigned	 rm;		/* Rm; 0: 16 */
	unsigned	 max_channels;	/* 0: 64; at most 4096 */
	unsigned	 max_permissions; /* 0: 64; at most 1024 */
	turn_rng_fn	 rng;		/* required */
	void		*rng_ctx;
};

enum turn_state {
	TURN_IDLE,		/* nothing asked, or freed */
	TURN_ALLOCATING,
	TURN_READY,
	TURN_DEALLOCATING,	/* Refresh LIFETIME 0 in flight */
	TURN_FAILED,		/* failed or lost; turn_client_allocate restarts */
};

enum turn_reason {
	TURN_R_NONE,
	TURN_R_TIMEOUT,		/* no answer after every retransmission */
	TURN_R_BAD_CREDENTIALS,	/* 401 to a request that carried a nonce */
	TURN_R_REALM,		/* the server's realm is not the expected one */
	TURN_R_STALE_NONCE,	/* 438 more than TURN_STALE_RETRIES times */
	TURN_R_FAMILY,		/* 440/443, or no relayed address of the peer's family */
	TURN_R_MISMATCH,	/* 437 */
	TURN_R_ERROR,		/* another error response (see code) */
	TURN_R_BAD_RESPONSE,	/* a response without what it must carry */
	TURN_R_EXPIRED,		/* not refreshed in time */
	TURN_R_NO_MEMORY,
};

enum turn_event_type {
	TURN_EV_ALLOCATED = 1,	/* relayed[0..nrelayed), mapped (if any), lifetime_s */
	TURN_EV_REFRESHED,	/* lifetime_s */
	TURN_EV_ALLOCATION_FAILED, /* reason, code: it never became ready */
	TURN_EV_ALLOCATION_LOST, /* reason, code: it was ready; channels and permissions gone */
	TURN_EV_REFRESH_FAILED,	/* reason, code: retried until it expires */
	TURN_EV_FREED,		/* turn_client_deallocate finished */
	TURN_EV_MAPPED,		/* mapped: a Binding's XOR-MAPPED-ADDRESS, first or changed */
	TURN_EV_BINDING_FAILED,	/* reason, code */
	TURN_EV_PERMISSION_CREATED, /* peer */
	TURN_EV_PERMISSION_FAILED, /* peer, reason, code: permission forgotten */
	TURN_EV_CHANNEL_BOUND,	/* peer, channel: the first successful bind */
	TURN_EV_CHANNEL_FAILED,	/* peer, channel, reason, code: channel unusable */
};

struct turn_event {
	enum turn_event_type type;
	enum turn_reason reason;
	int		 code;		/* STUN error code, or 0 */
	union fz_sockaddr relayed[2];
	unsigned	 nrelayed;
	union fz_sockaddr mapped;	/* AF_UNSPEC when the server named none */
	union fz_sockaddr peer;
	uint16_t	 channel;
	uint32_t	 lifetime_s;
};

/* A datagram to send: data borrowed until the next call on the client. */
struct turn_transmit {
	const struct sockaddr *dst;
	const uint8_t	*data;
	size_t		 len;
};

/* Relayed data: payload borrows the input datagram. */
struct turn_data {
	union fz_sockaddr peer;
	uint16_t	 channel;	/* 0 for a Data indication */
	const uint8_t	*payload;
	size_t		 len;
};

struct turn_client;

/* -EINVAL for a missing rng or server, over-long text, or bad caps. */
int	turn_client_new(const struct turn_client_config *,
	    struct turn_client **) FZ_WUR;
void	turn_client_free(struct turn_client *);

/* From IDLE or FAILED; -EALREADY otherwise. */
int	turn_client_allocate(struct turn_client *, uint64_t now) FZ_WUR;
/*
 * From READY, or ALLOCATING (abandoned at once while no authenticated
 * Allocate went out, deleted otherwise); -ENOTCONN otherwise.  Ends with
 * TURN_EV_FREED.
 */
int	turn_client_deallocate(struct turn_client *, uint64_t now) FZ_WUR;
/* A Binding request now; -EALREADY while one is in flight. */
int	turn_client_binding(struct turn_client *, uint64_t now) FZ_WUR;
/* New credentials (the portal renewed them) for the requests to come. */
int	turn_client_set_credentials(struct turn_client *, const char *user,
	    const char *pass) FZ_WUR;

/*
 * Permissions are per IP address; channels per address and port.  Both
 * may be asked for before the allocation is ready (they wait for it);
 * -ENOTCONN when FAILED or DEALLOCATING, -ENOSPC at the cap,
 * -EAFNOSUPPORT when the allocation has no relayed address of that
 * family.  bind_channel returns the existing number for a known peer.
 */
int	turn_client_create_permission(struct turn_client *, uint64_t now,
	    const struct sockaddr *peer) FZ_WUR;
void	turn_client_remove_permission(struct turn_client *,
	    const struct sockaddr *peer);
int	turn_client_bind_channel(struct turn_client *, uint64_t now,
	    const struct sockaddr *peer, uint16_t *channel) FZ_WUR;
/* Stops rebinding; the number stays reserved for the cooldown. */
void	turn_client_release_channel(struct turn_client *, uint64_t now,
	    const struct sockaddr *peer);
/*
 * The channel to send to peer on: one being bound counts (the server
 * drops ChannelData until it is), as Firezone does; -ENOENT otherwise.
 */
int	turn_client_channel(const struct turn_client *,
	    const struct sockaddr *peer, uint16_t *channel) FZ_WUR;
/* ChannelData for peer into out: the 4-byte header, then the payload. */
int	turn_client_wrap(const struct turn_client *,
	    const struct sockaddr *peer, const void *payload, size_t len,
	    uint8_t *out, size_t cap, size_t *outlen) FZ_WUR;

#define TURN_INPUT_HANDLED	0	/* a response, taken */
#define TURN_INPUT_DATA		1	/* *out filled */
/*
 * A datagram that arrived from `from`.  -ENOENT when it is not from the
 * server or answers no request in flight, -EBADMSG when it is malformed
 * or fails its checks; either way the caller drops it.
 */
int	turn_client_input(struct turn_client *, uint64_t now,
	    const struct sockaddr *from, const uint8_t *, size_t,
	    struct turn_data *out) FZ_WUR;
void	turn_client_handle_timeout(struct turn_client *, uint64_t now);
/* 0 and the next deadline, or -ENOENT when nothing is scheduled. */
int	turn_client_poll_timeout(const struct turn_client *,
	    uint64_t *deadline) FZ_WUR;
/* 0 and the next datagram, or -EAGAIN. */
int	turn_client_poll_transmit(struct turn_client *,
	    struct turn_transmit *) FZ_WUR;
/* 0 and the next event, or -EAGAIN. */
int	turn_client_poll_event(struct turn_client *, struct turn_event *) FZ_WUR;

enum turn_state turn_client_state(const struct turn_client *);
/* The relayed address of that family, when allocated; -ENOENT otherwise. */
int	turn_client_relayed(const struct turn_client *, int family,
	    union fz_sockaddr *) FZ_WUR;
/* Smoothed RTT to the server in ns; 0 before the first sample. */
uint64_t turn_client_rtt(const struct turn_client *);
/* Events dropped because the queue was full (a caller not draining it). */
unsigned turn_client_events_dropped(const struct turn_client *);
const char *turn_reason_str(enum turn_reason);
const char *turn_event_str(enum turn_event_type);

#endif
