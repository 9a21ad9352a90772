/* SPDX-License-Identifier: ISC */
/*
 * The gateway's side of the in-tunnel p2p control protocol and of its
 * clients' access lifetimes (firezone-protocols.md §4.6, §5.3, §5.4), in
 * fz-controld, sans I/O (the caller's ops send and resolve):
 *
 *  - the portal's create_authorization, reject_access, resource_updated
 *    and init keep a table of clients (id, public key, tunnel addresses)
 *    and their accesses (resource, expiry, a DNS resource's pattern,
 *    which also feeds gw_dnsres.h);
 *  - assigned_ips (P2P_UP) from a client's key: authorized and the domain
 *    matching the resource's pattern (gw_dnsres_check) → resolve (A and
 *    AAAA, ops->resolve: gw_resolve.h; at most GW_P2P_RESOLVING at once,
 *    one per (client, resource, domain)) → ops->nat_set (DNSNAT_SET) with
 *    the domain_status Active packet fz-tunneld sends once the NAT is in;
 *    anything else (unknown key, not authorized, no match, resolution
 *    failed, an address list that does not fit) → ops->down (P2P_DOWN)
 *    with domain_status Inactive;
 *  - a client whose last access goes (reject_access, expiry at
 *    gw_p2p_expire, dropped by init) gets ops->client_gone (goodbye)
 *    before ops->expired/the caller's conn_reject drop its connection.
 * Remote packets are rate-limited in logs; keys are never logged.
 */
#ifndef FZ_GW_P2P_H
#define FZ_GW_P2P_H

#include <stddef.h>
#include <stdint.h>

#include "gw_resolve.h"
#include "portal_msg.h"

#define GW_P2P_CLIENTS		4096
#define GW_P2P_ACCESSES		256	/* per client */
#define GW_P2P_RESOLVING	1000	/* §4.6: concurrent resolutions */

/* DNSNAT_SET's content; every pointer borrowed for the call. */
struct gw_p2p_nat {
	const char	*client_id, *public_key, *ipv4, *ipv6;
	const char	*resource_id, *domain;
	const char	*proxies;	/* "100.96.0.1, ..." (assigned_ips) */
	const char	*resolved;	/* "192.0.2.1, 2001:db8::1" */
	const uint8_t	*status;	/* domain_status Active, to send */
	size_t		 status_len;
};

struct gw_p2p_ops {
	/* gw_resolve's contract: cb exactly once unless it returns < 0. */
	int	(*resolve)(void *arg, const char *domain, gw_resolve_cb cb,
		    void *cbarg);
	void	(*nat_set)(void *arg, const struct gw_p2p_nat *);
	void	(*down)(void *arg, const char *public_key, const uint8_t *,
		    size_t);
	/* The client's last access went: say goodbye (its peer goes next). */
	void	(*client_gone)(void *arg, const char *client_id,
		    const char *public_key);
	/* An access expired or was dropped by init (conn_reject). */
	void	(*expired)(void *arg, const char *client_id,
		    const char *resource_id);
};

struct gw_p2p_stats {
	uint64_t	assigned, active, inactive, malformed, unknown_key,
			refused, resolve_failed, busy, goodbyes_in;
};

struct gw_p2p;

struct gw_p2p *gw_p2p_new(const struct gw_p2p_ops *, void *arg);
void	gw_p2p_free(struct gw_p2p *);		/* NULL-safe */
/* The portal messages above, at now (Unix seconds); others ignored. */
void	gw_p2p_portal_msg(struct gw_p2p *, const struct portal_msg *,
	    uint64_t now);
/* P2P_UP from public_key (base64) at now: 0, or -EINVAL (malformed). */
int	gw_p2p_up(struct gw_p2p *, const char *public_key, const uint8_t *pkt,
	    size_t len, uint64_t now);
/* Drops the accesses expired at now; the next expiry, 0 none. */
uint64_t gw_p2p_expire(struct gw_p2p *, uint64_t now);
size_t	gw_p2p_nclients(const struct gw_p2p *);
void	gw_p2p_get_stats(const struct gw_p2p *, struct gw_p2p_stats *);

#endif
