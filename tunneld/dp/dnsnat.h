/* SPDX-License-Identifier: ISC */
/*
 * The gateway's DNS-resource NAT table for one client
 * (firezone-protocols.md §5.3), sans I/O.
 *
 * Proxy map: assigned_ips + the resolved addresses of the domain install
 * proxy IP → real IP, round-robin per family (cycling when fewer real than
 * proxy IPs); a proxy IP of a family with nothing resolved has no target
 * and its packets get DNSNAT_UNREACHABLE (the caller answers ICMP net
 * unreachable / ICMPv6 address unreachable; no NAT64/46). A proxy IP
 * re-used for a different domain resets the whole client's state.
 *
 * Sessions: symmetric NAT, inside key (protocol, source port or ICMP echo
 * id, proxy IP) ↔ outside key (protocol, port, real IP); the outside port
 * is the inside one if free, else the next free one upward, wrapping to 1
 * (as connlib: port/id 0 only when it is the inside one). TTLs from the last
 * packet either way: TCP 2 h 4 min, UDP and ICMP echo 2 min; never
 * answered 60 s from the last outbound packet; FIN both ways 5 s; RST
 * either way: expired at once (that packet is still translated).
 * Expired outside keys are remembered (DNSNAT_EXPIRED_MEMORY) so late
 * replies are DNSNAT_EXPIRED ("expired NAT session", dropped).
 * Checksums (IPv4 header, TCP, UDP, ICMPv6; ICMP echo ids) are updated
 * incrementally (RFC 1624), so a packet damaged on the way stays damaged.
 * ICMP errors from the resource side quoting a translated packet are
 * reverse-translated inside too (quoted IP header, ports, checksums) and
 * come from the proxy IP whoever sent them; one quoting an expired
 * session is DNSNAT_EXPIRED.
 *
 * Memory: at most DNSNAT_MAX_PROXIES proxy IPs and DNSNAT_MAX_SESSIONS
 * sessions per client; beyond, packets are dropped and counted. Lookups
 * go through FNV-1a hash chains (1024 session, 256 proxy buckets).
 *
 * Wiring (not done here), gateway data plane:
 *  - one struct dnsnat per client (beside its authorizations), freed with
 *    the client;
 *  - on assigned_ips (p2p.h) for an authorized DNS resource whose pattern
 *    matches the domain: controld resolves A and AAAA, passes the results
 *    down; dnsnat_assign(proxies, resolved) then domain_status Active
 *    (Inactive on resolution failure / no authorization / mismatch);
 *  - client → resource, after the §5.2 filters, for dst in the proxy
 *    ranges: dnsnat_out; TRANSLATED → write to TUN; UNREACHABLE → ICMP
 *    net/address unreachable back to the client; else drop;
 *  - TUN → client: dnsnat_in before the §5.2 return checks (which then see
 *    the proxy source); TRANSLATED/PASS → go on; EXPIRED/DROP → drop;
 *  - a timer calls dnsnat_expire at the returned deadline (at least every
 *    few seconds).
 */
#ifndef FZ_DNSNAT_H
#define FZ_DNSNAT_H

#include <stddef.h>
#include <stdint.h>

#include "p2p.h"

#define DNSNAT_MAX_PROXIES	2048
#define DNSNAT_MAX_SESSIONS	4096
#define DNSNAT_EXPIRED_MEMORY	256
#define DNSNAT_MAX_RESOLVED	64	/* per family and assign */

#define DNSNAT_TTL_TCP_MS	(124ULL * 60 * 1000)
#define DNSNAT_TTL_UDP_MS	(120ULL * 1000)
#define DNSNAT_TTL_ICMP_MS	(120ULL * 1000)
#define DNSNAT_TTL_UNANSWERED_MS (60ULL * 1000)
#define DNSNAT_TTL_FIN_MS	(5ULL * 1000)

enum dnsnat_verdict {
	DNSNAT_PASS = 0,	/* not NAT traffic: left unchanged */
	DNSNAT_TRANSLATED,	/* rewritten in place */
	DNSNAT_UNREACHABLE,	/* proxy IP without a target of its family */
	DNSNAT_EXPIRED,		/* reply to an expired session: drop */
	DNSNAT_DROP,		/* malformed, unsupported or table full */
};

struct dnsnat_stats {
	uint64_t	translated_out, translated_in, unreachable, expired,
			dropped_malformed, dropped_unsupported, dropped_full,
			resets, sessions_expired;
};

struct dnsnat;

struct dnsnat *dnsnat_new(void);
void	dnsnat_free(struct dnsnat *);		/* NULL-safe */
/*
 * Installs proxy → real for domain: proxies as in assigned_ips (any mix of
 * families), resolved the real addresses (any order; IPv4 and IPv6 are
 * assigned separately). A proxy already mapped for another domain resets
 * all state first. 0, -EINVAL, -ENOSPC (proxy map full).
 */
int	dnsnat_assign(struct dnsnat *, const char *domain,
	    const struct fz_ip *proxies, size_t nproxies,
	    const struct fz_ip *resolved, size_t nresolved)
	    __attribute__((warn_unused_result));
/* Client → resource packet (an IP packet of len bytes), rewritten in place. */
enum dnsnat_verdict dnsnat_out(struct dnsnat *, uint8_t *pkt, size_t len,
	    uint64_t now_ms);
/* Resource → client packet (from the TUN), rewritten in place. */
enum dnsnat_verdict dnsnat_in(struct dnsnat *, uint8_t *pkt, size_t len,
	    uint64_t now_ms);
/* Removes expired sessions (remembering their outside keys); returns the
 * earliest deadline left, or UINT64_MAX when none. */
uint64_t dnsnat_expire(struct dnsnat *, uint64_t now_ms);
/* The target of a proxy IP: 0 and *real, -ENOENT unknown, -ENXIO no
 * target of that family. */
int	dnsnat_target(const struct dnsnat *, const struct fz_ip *proxy,
	    struct fz_ip *real);
size_t	dnsnat_sessions(const struct dnsnat *);
void	dnsnat_get_stats(const struct dnsnat *, struct dnsnat_stats *);

#endif
