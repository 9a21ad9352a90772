/* SPDX-License-Identifier: ISC */
/*
 * A gateway's DNS-resource NAT in the data plane (firezone-protocols.md
 * §5.2 step 6, §5.3; the table per client is dnsnat.h): one struct dnsnat
 * per client, found by the client's tunnel address (the source of what
 * it sends, the destination of what goes back to it).
 *
 *  - client → resource (dpn_from_peer, after the §5.2 filters): a
 *    destination in the proxy ranges is translated to its real address
 *    (dnsnat_out); no translation, no target of its family, or a client
 *    without NAT state → ICMP net unreachable (ICMPv6 address
 *    unreachable) back to the client, never to the TUN.
 *  - resource → client (dpn_from_tun, before the §5.2 return checks):
 *    replies and ICMP errors quoting a translated packet come back from
 *    the proxy IP (dnsnat_in); an expired session's late reply is
 *    dropped.  Super-packets (TSO/USO, partial checksums) are translated
 *    as well: their partial pseudo-header sum is updated the other way.
 *
 * The main loop (one thread) changes the clients: dp_dnsnat_set (after
 * assigned_ips was accepted: fz-controld's DNSNAT_SET), dp_dnsnat_del,
 * dp_dnsnat_expire on a timer.  Workers find a client by address in a
 * table the main loop publishes whole after each change (RCU: no lock,
 * inside wg_read_lock) and take that client's own mutex around each of
 * its packets (its sessions change with them); with no client (most
 * gateways, every client) a packet costs one atomic load.
 */
#ifndef FZ_DP_DNSNAT_H
#define FZ_DP_DNSNAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dnsnat.h"

struct dp;
struct worker;
struct wg_peer;
struct virtio_net_hdr;

#define DP_DNSNAT_CLIENTS	65536

/*
 * client_id (tunnel addresses ipv4/ipv6, "" none; an existing client's
 * are replaced) gets proxies → resolved for domain (dnsnat_assign).
 * 0, -EINVAL, -ENOSPC, -ENOMEM.
 */
int	dp_dnsnat_set(struct dp *, const char *client_id, const char *ipv4,
	    const char *ipv6, const char *domain, const struct fz_ip *proxies,
	    size_t nproxies, const struct fz_ip *resolved, size_t nresolved)
	    __attribute__((warn_unused_result));
/* A proxy IP's target for client_id: 0, -ENOENT, -ENXIO (dnsnat_target). */
int	dp_dnsnat_target(struct dp *, const char *client_id,
	    const struct fz_ip *proxy, struct fz_ip *real);
/* The client's NAT state goes (its accesses went): 0 or -ENOENT. */
int	dp_dnsnat_del(struct dp *, const char *client_id);
/* Calls keep(client_id) for each client; those it refuses go.  How many. */
size_t	dp_dnsnat_prune(struct dp *, bool (*keep)(const char *, void *),
	    void *arg);
/* dnsnat_expire for every client at now_ms (monotonic). */
void	dp_dnsnat_expire(struct dp *, uint64_t now_ms);
size_t	dp_dnsnat_clients(struct dp *);
/* Sums over the clients (and those gone). */
void	dp_dnsnat_stats(struct dp *, struct dnsnat_stats *);

/* dataplane.c / tx.c: false when the packet was taken (answered/dropped). */
bool	dpn_from_peer(struct worker *, struct wg_peer *, uint8_t *, size_t);
bool	dpn_from_tun(struct worker *, const struct virtio_net_hdr *,
	    uint8_t *, size_t);
void	dp_dnsnat_free(struct dp *);		/* dp_free's */

#endif
