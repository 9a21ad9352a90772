/* SPDX-License-Identifier: ISC */
/*
 * The TURN server's state: allocations, permissions, channels, nonces and
 * credentials, with the request handling of RFC 8656 on top.  Sockets are
 * reached through struct relay_ops so tests can drive the core without a
 * network and with the fake clock.
 *
 * The channel tables are keyed exactly as the XDP maps will be: (client
 * address, channel) -> (allocation port, peer) and (allocation port, peer)
 * -> (client address, channel), both directions inserted and removed
 * together (relay_ops.channel_up / channel_down).
 */
#ifndef FZ_RELAY_H
#define FZ_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "stun.h"

#define RELAY_REALM_DEFAULT	"firezone"
#define RELAY_LIFETIME_DEFAULT	600
#define RELAY_CHALLENGE_RATE	5000	/* 401 challenges per second */
#define RELAY_LIFETIME_MAX	3600
#define RELAY_PERMISSION_LIFETIME 300
#define RELAY_CHANNEL_LIFETIME	600
#define RELAY_CHANNEL_QUARANTINE 300
#define RELAY_NONCE_LIFETIME	3600	/* s; stateless, no use limit */
#define RELAY_NONCE_LEN		16	/* base64url of 12 bytes */
#define RELAY_MAX_PERMISSIONS	64	/* per allocation */
#define RELAY_MAX_CHANNELS	256	/* per allocation */
#define RELAY_MAX_OWN		4	/* extra own addresses */
#define RELAY_STAMP_SECRET_MAX	128	/* Firezone's is 64 hex digits */

/* A transport address as a fixed-size key (network byte order). */
struct taddr {
	uint8_t		fam;		/* 4 or 6 */
	uint8_t		pad;
	uint16_t	port;		/* network order */
	uint8_t		ip[16];		/* IPv4 in the first 4 bytes */
};

void	taddr_from_sa(struct taddr *, const struct sockaddr *);
void	taddr_to_sa(const struct taddr *, union fz_sockaddr *);

struct relay_alloc;

struct relay_channel {
	struct relay_channel	*next_client;	/* hash chain: client+number */
	struct relay_channel	*next_peer;	/* hash chain: port+peer */
	struct relay_alloc	*alloc;
	uint16_t		 number;
	struct taddr		 peer;
	uint64_t		 expires;	/* ns; unusable after */
	uint64_t		 perm_expires;	/* ns; its peer's permission */
	uint64_t		 deleted_at;	/* ns; number reusable after */
	bool			 bound;		/* in the hash tables */
	bool			 up;		/* announced by channel_up */
};

struct relay_perm {
	uint8_t		fam;
	uint8_t		ip[16];
	uint64_t	expires;
};

struct relay_alloc {
	struct relay_alloc	*next;		/* hash chain by client */
	/* all allocations, and those of one username (its hash chain):
	 * doubly linked, so freeing one is O(1) with thousands held */
	struct relay_alloc	*next_all, **pprev_all;
	struct relay_alloc	*next_user, **pprev_user;
	struct taddr		 client;
	int			 ctl_fd;	/* the socket it arrived on */
	uint16_t		 port;		/* host order; preset: exact */
	bool			 even;		/* EVEN-PORT: an even port */
	bool			 reserve;	/* ... and port + 1 kept free */
	int			 fd4, fd6;	/* relayed sockets, -1 if none */
	uint64_t		 expires;
	char			 username[514];
	uint8_t			 key[16];
	bool			 sha256;	/* answer with MI-SHA256 */
	uint8_t			 tid[12];	/* of the Allocate, for retransmits */
	struct relay_perm	 perms[RELAY_MAX_PERMISSIONS];
	unsigned		 nperms;
	struct relay_channel	*chans[RELAY_MAX_CHANNELS];
	unsigned		 nchans;
	void			*io;		/* the I/O layer's state */
};

struct relay_ops {
	/*
	 * Opens the relayed socket(s) for an allocation on port (0 for
	 * any in range; the chosen port is written back): want4/want6.
	 */
	int	(*alloc_open)(void *, struct relay_alloc *, bool want4,
		    bool want6);
	void	(*alloc_close)(void *, struct relay_alloc *);
	/* Sends a STUN message from the control socket fd to a client. */
	void	(*send_ctl)(void *, int fd, const struct sockaddr *,
		    const uint8_t *, size_t);
	/* Sends a datagram from an allocation's relayed socket. */
	void	(*send_peer)(void *, struct relay_alloc *,
		    const struct sockaddr *, const uint8_t *, size_t);
	/*
	 * A channel became usable (bound, with a permission for its peer)
	 * or stopped being usable (expired, unbound, or its permission
	 * lapsed: RFC 8656 section 12 relays nothing without one); called
	 * in pairs, up again when the permission is renewed.
	 */
	void	(*channel_up)(void *, struct relay_channel *);
	void	(*channel_down)(void *, struct relay_channel *);
	void	*arg;
	/* An up channel's expires or perm_expires moved (optional). */
	void	(*channel_renew)(void *, struct relay_channel *);
};

struct relay_config {
	bool		 have4, have6;
	union fz_sockaddr public4, public6;	/* relayed addresses (port 0) */
	const char	*realm;
	const char	*static_secret;		/* TURN REST and Firezone */
	/*
	 * Firezone only: the secret the relay joined the portal with
	 * (section 3.3); copied by relay_new, wiped by relay_free.
	 */
	const char	*stamp_secret;
	bool		 allow_private_peers;
	/*
	 * The relay's own addresses (the public ones above are always
	 * included): as peers they are allowed only on ports in
	 * port_lo..port_hi, another allocation here (relay-to-self).
	 */
	union fz_sockaddr own[RELAY_MAX_OWN];
	unsigned	 nown;
	uint16_t	 port_lo, port_hi;	/* 0, 0: 49152..65535 */
	unsigned	 max_allocations;
	unsigned	 user_quota;		/* allocations per username */
	/* 401 challenges (requests with no MESSAGE-INTEGRITY) answered per
	 * second, a bucket of as many; the rest get no answer.  0: the
	 * default, RELAY_CHALLENGE_RATE */
	unsigned	 challenge_rate;
	const char	*software;
};

/* Counters, read by the metrics thread (relaxed atomics). */
enum relay_counter {
	RC_PKTS_C2P, RC_BYTES_C2P, RC_PKTS_P2C, RC_BYTES_P2C,
	RC_AUTH_MISSING, RC_AUTH_BAD, RC_AUTH_EXPIRED, RC_AUTH_STALE_NONCE,
	RC_AUTH_BAD_USERNAME,
	RC_DROP_NO_CHANNEL, RC_DROP_NO_PERMISSION, RC_DROP_NO_ALLOCATION,
	RC_DROP_MALFORMED, RC_DROP_FORBIDDEN_PEER, RC_DROP_TRUNCATED,
	RC_DROP_SEND_FAILED, RC_DROP_FAMILY, RC_DROP_NOT_STUN,
	RC_REQ_BINDING, RC_REQ_ALLOCATE, RC_REQ_REFRESH, RC_REQ_PERMISSION,
	RC_REQ_CHANNEL_BIND, RC_REQ_OTHER, RC_IND_SEND,
	RC_RESP_SUCCESS, RC_RESP_ERROR, RC_QUOTA, RC_CAPACITY,
	RC_DROP_CHALLENGE_RATE,
	RC_COUNT
};

struct relay;

int	relay_new(const struct relay_config *, const struct relay_ops *,
	    struct relay **) FZ_WUR;
void	relay_free(struct relay *);
const char *relay_counter_name(enum relay_counter);
uint64_t relay_counter(const struct relay *, enum relay_counter);
void	relay_count(struct relay *, enum relay_counter, uint64_t);
unsigned relay_allocations(const struct relay *);
unsigned relay_channels(const struct relay *);
unsigned relay_permissions(const struct relay *);

/*
 * A STUN message arrived on a control socket from a client.  Requests are
 * answered through ops.send_ctl; Send indications are relayed.
 */
void	relay_stun_in(struct relay *, int ctl_fd, const struct sockaddr *from,
	    const uint8_t *, size_t);
/*
 * A datagram arrived on an allocation's socket from a peer: with a bound
 * channel it returns the channel (the caller frames and sends it from
 * ctl_fd); with only a permission it is sent as a Data indication here;
 * otherwise it is dropped and counted.
 */
const struct relay_channel *relay_peer_in(struct relay *, struct relay_alloc *,
	    const struct sockaddr *from, const uint8_t *, size_t);
/*
 * ChannelData from a client: the channel to relay to, or NULL (counted)
 * when the channel or its peer's permission has expired.
 */
const struct relay_channel *relay_channel_lookup(struct relay *,
	    const struct sockaddr *client, uint16_t number);
/*
 * Expires allocations, permissions, channels and reservations; call once
 * a second (a channel whose permission lapsed goes down within it).
 */
void	relay_tick(struct relay *);
/* Whether a port is held by a RESERVATION-TOKEN (for port selection). */
bool	relay_port_reserved(const struct relay *, uint16_t);
/*
 * Whether a peer transport address may be relayed to (the safe-by-default
 * rule): no private, loopback, link-local or special-purpose addresses,
 * IPv6 forms embedding them, and the relay's own addresses only on
 * allocation ports.  CreatePermission (no port) passes port 0 as "any
 * allocation port" only for the address check: see relay_peer_ip_allowed.
 */
bool	relay_peer_allowed(const struct relay *, const struct sockaddr *);

/* Credentials (exposed for tests and fz-turnbench). */
void	relay_rest_password(const char *secret, const char *user, char *out,
	    size_t cap);
void	relay_firezone_password(const char *secret, const char *user,
	    char *out, size_t cap);

#endif
