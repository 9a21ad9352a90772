/* SPDX-License-Identifier: ISC */
/*
 * fz-controld's connection manager (firezone-protocols.md §2.1-§2.7,
 * §3.3-§3.5, §4.3 steps 5-6, §5.2 step 7): one dual-stack TURN client
 * per relay (turn_client.h), one ICE agent per peer (ice.h: a Gateway on the
 * Client, a Client on the Gateway), glued to fz-tunneld's sockets and to
 * the portal through the caller's ops.  Sans-I/O like its parts: every
 * call takes `now` (monotonic ns); the caller arms one timer at
 * conn_deadline and calls conn_tick.
 *
 * Socket numbers: fz-tunneld's UDP sockets keep their ids (LOCAL_SOCKETS);
 * a TURN allocation is CONN_RELAY_SOCK(slot) inside the ICE agents, and
 * its datagrams go out of the tunneld socket the TURN client uses.
 *
 * Bounded: CONN_MAX_PEERS agents, CONN_MAX_RELAYS TURN clients,
 * CONN_MAX_SOCKETS local addresses, CONN_MAX_RESOURCES CIDR resources,
 * CONN_MAX_PENDING remote candidates held for a peer not yet known.
 * Keys, PSKs and passwords are never logged.
 */
#ifndef FZ_CONTROLD_CONN_H
#define FZ_CONTROLD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "ice.h"
#include "portal_msg.h"

#define CONN_MAX_PEERS		64
#define CONN_MAX_RELAYS		8
#define CONN_MAX_SOCKETS	8
#define CONN_MAX_RESOURCES	PORTAL_MAX_RESOURCES
#define CONN_MAX_PENDING	32
#define CONN_DEBOUNCE_NS	(2ULL * 1000000000ULL)	/* §9 */
#define CONN_RELAY_RETRY_NS	(1ULL * 1000000000ULL)	/* lost allocation */
/* a kept peer (conn_peers_kept) that received nothing for this long:
 * WireGuard's REJECT_AFTER_TIME, no session can be left */
#define CONN_KEPT_IDLE_NS	(180ULL * 1000000000ULL)
/* client: a failed connection that carried traffic this recently has its
 * resources asked for again at once (conn.c, peer_failed) */
#define CONN_REQUEST_AGAIN_NS	(60ULL * 1000000000ULL)
/* client: a failed connection whose rx counter moved this recently is
 * kept (the data plane still works), and asked for again this often */
#define CONN_ALIVE_NS		(10ULL * 1000000000ULL)
#define CONN_KEPT_ASK_NS	(30ULL * 1000000000ULL)
#define CONN_ALLOWED_MAX	4096
#define CONN_RELAY_SOCK(i)	(0x80000000u | (uint32_t)(i))

/* What PEER_SET carries (ipc_msg.def); strings borrowed for the call. */
struct conn_peer_path {
	const char	*peer_id;
	const char	*public_key;
	const char	*psk;
	const char	*allowed_ips;
	uint32_t	 sock;
	char		 remote[ADDR_STRLEN];	/* direct; "" relayed */
	char		 relay[ADDR_STRLEN];	/* relayed; "" direct */
	uint16_t	 channel;		/* relayed */
	bool		 initiate;		/* the Client */
};

/* The caller's side: every pointer borrowed for the call. */
struct conn_ops {
	/* DGRAM_DOWN */
	void	(*dgram)(void *arg, uint32_t sock, const struct sockaddr *to,
		    const uint8_t *, size_t);
	void	(*peer_set)(void *arg, const struct conn_peer_path *);
	void	(*peer_del)(void *arg, const char *peer_id,
		    const char *public_key);
	/* Client: request_authorization */
	void	(*request_authorization)(void *arg, const char *resource_id,
		    const portal_id *gateway_ids, size_t n);
	/*
	 * Our candidates for one peer: Client new_gateway_ice_candidates,
	 * Gateway broadcast_ice_candidates.
	 */
	void	(*candidates)(void *arg, const char *peer_id,
		    char (*cands)[ICE_CAND_MAXLEN + 1], size_t n);
	/*
	 * Our candidates that went away (a local address, a relay): Client
	 * invalidate_gateway_ice_candidates, Gateway
	 * broadcast_invalidated_ice_candidates.  May be NULL.
	 */
	void	(*invalidated)(void *arg, const char *peer_id,
		    char (*cands)[ICE_CAND_MAXLEN + 1], size_t n);
	/* A resource's connection came up (true) or went (false). */
	void	(*resource_status)(void *arg, const char *resource_id,
		    bool online);
	void	(*rng)(void *arg, void *buf, size_t len);	/* required */
};

struct conn_mgr;

int	conn_new(bool gateway, const struct conn_ops *, void *arg,
	    struct conn_mgr **) FZ_WUR;
/* Forgets everything, PEER_DEL for every peer set.  NULL-safe. */
void	conn_free(struct conn_mgr *);

/*
 * LOCAL_SOCKETS: "id=addr, id=addr"; -EINVAL (nothing changed) if bad.
 * An address no longer listed loses its host candidates (and their pairs)
 * in every agent, and the peers are told (ops->invalidated).
 */
int	conn_set_sockets(struct conn_mgr *, const char *, uint64_t now) FZ_WUR;
/*
 * The relay list as the portal session keeps it (init, relays_presence).
 * Entries are grouped by id (the portal lists a dual-stack relay once per
 * family): one dual-stack TURN allocation per relay (ADDITIONAL-ADDRESS-
 * FAMILY IPv6, §3.4) on its IPv4 address when there is a local IPv4
 * socket, else on its IPv6 one; relay candidates of both families.
 */
void	conn_set_relays(struct conn_mgr *, const struct portal_relay *,
	    size_t n, uint64_t now);

/* Client: resources (CIDR ones by prefix, DNS ones by id; others
 * ignored). */
void	conn_resource_upsert(struct conn_mgr *, const struct portal_resource *);
void	conn_resource_delete(struct conn_mgr *, const char *id);
void	conn_resources_clear(struct conn_mgr *);
/*
 * Client: CONN_WANTED(dst).  The longest-prefix CIDR resource holding
 * dst; request_authorization unless one went out for it in the last
 * CONN_DEBOUNCE_NS or a gateway's connection (up or being set up) serves
 * it.  -ENOENT: no
 * resource; -EALREADY: debounced or connected; -EINVAL: bad address.
 */
int	conn_wanted(struct conn_mgr *, const char *dst, uint64_t now) FZ_WUR;
/*
 * Client: CONN_WANTED(dst) for a proxy IP the stub resolver handed out for
 * DNS resource rid (dns_glue_proxy_resource).  dst is remembered for the
 * resource: its gateway's allowed IPs get every such proxy IP (host
 * prefix), now if a connection already serves rid (then -EALREADY), else
 * on authorization_created.  Otherwise as conn_wanted: request_authorization
 * with the same debounce.  -ENOENT: no such DNS resource; -EINVAL: bad
 * address or a gateway.
 */
int	conn_wanted_dns(struct conn_mgr *, const char *rid, const char *dst,
	    uint64_t now) FZ_WUR;
/*
 * Client, SRV/TXT for DNS resource rid (§4.4): the tunnel address (port 0)
 * of family of a connected gateway serving rid: 0; -EAGAIN while the one
 * serving it is still connecting; -ENOENT: none (conn_wanted_site);
 * -EAFNOSUPPORT: the gateway has no address of that family.
 */
int	conn_site_gateway(const struct conn_mgr *, const char *rid, int family,
	    union fz_sockaddr *gw) FZ_WUR;
/*
 * Client: request_authorization for DNS resource rid (an SRV/TXT query
 * for it and no gateway), with conn_wanted's debounce.  0; -EALREADY
 * (debounced, or a gateway serves it); -ENOENT: no such DNS resource.
 */
int	conn_wanted_site(struct conn_mgr *, const char *rid, uint64_t now)
	    FZ_WUR;
/* The resource id dst maps to (longest prefix), for tests and logs. */
const char *conn_resource_for(const struct conn_mgr *, const char *dst);

/* Client: authorization_created.  Gateway: create_authorization. */
int	conn_authorization_created(struct conn_mgr *,
	    const struct portal_authorization_created *, uint64_t now) FZ_WUR;
int	conn_create_authorization(struct conn_mgr *,
	    const struct portal_create_authorization *, uint64_t now) FZ_WUR;
/* Remote candidates for peer_id (ice_candidates / invalidate_...). */
void	conn_remote_candidates(struct conn_mgr *, const char *peer_id,
	    char (*cands)[PORTAL_CAND_MAX + 1], size_t n, bool invalidate,
	    uint64_t now);
/* Access to a resource revoked (reject_access): peer dropped when empty. */
void	conn_reject(struct conn_mgr *, const char *peer_id,
	    const char *resource_id, uint64_t now);
/*
 * A goodbye from the peer with public key key (§4.6: it is closing the
 * connection): the connection is dropped (PEER_DEL); the next packet for
 * one of its resources asks for authorization again.  0, or -ENOENT.
 */
int	conn_goodbye(struct conn_mgr *, const char *key, uint64_t now);

/*
 * PEER_STATS (ipc_msg.def): "public_key rx_bytes tx_bytes; ...".  A peer
 * whose counters moved since the last report carried IP traffic: its
 * agent stays on (or goes back to) the §2.3 active profile; one without
 * traffic for 20 s goes idle.  -EINVAL (nothing applied) if it does not
 * parse; keys of unknown peers are skipped.
 */
int	conn_peer_stats(struct conn_mgr *, const char *list, uint64_t now)
	    FZ_WUR;

/*
 * PEERS_KEPT (ipc_msg.def, PEER_STATS's format): the peers fz-tunneld
 * kept from an earlier fz-controld (killed or died; docs/RELIABILITY.md).
 * Each unknown key becomes a kept peer: no ICE agent, traffic goes on in
 * the data plane.  A new connection for the same key (the Gateway:
 * create_authorization for a client whose agent failed against the new
 * fz-controld and asked again; the Client: authorization_created) takes
 * it over without PEER_DEL: the WireGuard session stays until the new
 * agent's PEER_SET.  A kept peer whose rx counter (PEERS_KEPT, PEER_STATS)
 * does not move for CONN_KEPT_IDLE_NS is removed (PEER_DEL).  A Client
 * removes its kept peers at conn_portal_init (and any that come after
 * it): their next packet is a CONN_WANTED, a new authorization and a new
 * supervised connection.  -EINVAL (nothing applied) if it does not parse;
 * no room: PEER_DEL.
 */
int	conn_peers_kept(struct conn_mgr *, const char *list, uint64_t now)
	    FZ_WUR;
/* The portal session's init applied (Client: its resources known). */
void	conn_portal_init(struct conn_mgr *, uint64_t now);

/* DGRAM_UP; false when nobody took it. */
bool	conn_dgram_up(struct conn_mgr *, uint32_t sock,
	    const struct sockaddr *from, const uint8_t *, size_t, uint64_t now);

void	conn_tick(struct conn_mgr *, uint64_t now);
/* UINT64_MAX when nothing is scheduled. */
uint64_t conn_deadline(const struct conn_mgr *);

/* For tests and status. */
unsigned conn_npeers(const struct conn_mgr *);
unsigned conn_nrelays(const struct conn_mgr *);
/*
 * CONNECTIONS' list (ipc_msg.def): one entry per peer with a path set,
 * "relayed" whenever the path goes through a relay: ours (its address and
 * channel) or the peer's (the selected remote candidate is a relay one, or
 * a peer-reflexive one at a known relay's IP: that relay's address, or the
 * remote address when the relay is not ours, and channel 0).
 * now is the monotonic clock, now_real_s the Unix time; -ENOSPC (the
 * entries that fit) when len is too small.
 */
int	conn_connections_fmt(const struct conn_mgr *, uint64_t now,
	    uint64_t now_real_s, char *buf, size_t len);
/* The peer's ICE state; -ENOENT. */
int	conn_peer_state(const struct conn_mgr *, const char *peer_id,
	    enum ice_state *) FZ_WUR;

#endif
