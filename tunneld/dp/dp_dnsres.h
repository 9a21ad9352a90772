/* SPDX-License-Identifier: ISC */
/*
 * The client's DNS resources in the data plane (firezone-protocols.md
 * §4.3 step 7, §4.6): the proxy IP map (proxymap.h) fed by DNS_PROXY and
 * the DNS-NAT state machine (p2p.h), one of each per data plane behind
 * one mutex, created on the first DNS_PROXY (published with a release
 * store; workers test the proxy range first, so other traffic never
 * takes the lock).  The gateway of a proxy IP is the peer whose allowed
 * IPs cover it; its p2p_nat id is the wg_peer's address, forgotten when
 * the peer is removed (dp_peer_remove) or says goodbye (PEER_DEL).
 */
#ifndef FZ_DP_DNSRES_H
#define FZ_DP_DNSRES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p.h"

struct dp;
struct worker;
struct wg_peer;
struct virtio_net_hdr;

/* --- fz-tunneld's main loop --- */
/*
 * DNS_PROXY (proxymap_parse'd): the name's proxy IPs mapped; fresh: a new
 * local query, so a gateway already set up for it is sent assigned_ips
 * again (p2p_nat_dns_query; staged to it like a held packet).  0 or
 * -errno (-EINVAL from proxymap_set, -ENOMEM).
 */
int	dp_dnsres_proxy(struct dp *, const struct p2p_msg *, bool fresh)
	    __attribute__((warn_unused_result));
/* RESOURCES: names of resources not in ids[0..n-1] are forgotten. */
void	dp_dnsres_keep(struct dp *, const char *const *ids, size_t n);
/* Signed out: every name and every DNS-NAT state forgotten. */
void	dp_dnsres_clear(struct dp *);
struct dp_dnsres_stats {
	size_t			names;
	struct p2p_nat_stats	nat;
};
void	dp_dnsres_get_stats(struct dp *, struct dp_dnsres_stats *);
/* The DNS-NAT state of (gateway p, resource, domain); p is only an id
 * here (it may be gone). */
enum p2p_nat_state dp_dnsres_state(struct dp *, const struct wg_peer *p,
	    const char *resource, const char *domain);

/* --- the data plane (dp_impl.h's threads) --- */
/*
 * A TUN packet to dst (a proxy IP: proxymap_in_range) routed to gateway
 * p, checksums complete: true when it was taken (buffered until the
 * gateway's domain_status, or dropped); false when the caller sends it
 * on as usual.  An assigned_ips due goes to p first.  Any worker.
 */
bool	dpr_from_tun(struct worker *, struct wg_peer *p,
	    const struct virtio_net_hdr *, int v6, const uint8_t *dst,
	    const uint8_t *pkt, size_t len);
/* The same for a held packet released to p (dp_wanted_release, main
 * loop): what goes out is staged for p (tx_stage). */
bool	dpr_held(struct dp *, struct wg_peer *p, int v6, const uint8_t *dst,
	    const uint8_t *pkt, size_t len);
/* A domain_status decrypted from gateway p (parsed): its buffered
 * packets go out to p through w. */
void	dpr_status(struct worker *, struct wg_peer *p, const struct p2p_msg *);
/* dp_p2p.h's client hook (arg: the struct dp): a domain_status packet,
 * untrusted, from gateway p; parsed, then dpr_status. */
void	dpr_p2p_hook(void *arg, struct worker *, struct wg_peer *p,
	    const uint8_t *pkt, size_t len);
/* Peer p is going: its DNS-NAT states too. */
void	dpr_forget(struct dp *, struct wg_peer *p);
void	dpr_free(struct dp *);		/* dp_free, threads stopped */

#endif
