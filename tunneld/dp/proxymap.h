/* SPDX-License-Identifier: ISC */
/*
 * The client's map proxy IP → (DNS resource, domain, the name's proxy
 * IPs), as fz-controld's stub resolver handed them out (DNS_PROXY), for
 * the DNS-NAT state machine (p2p.h): a packet to a proxy IP needs the
 * assigned_ips message of its name.  Pure, no locking (the caller's).
 *
 * Bounded: PROXYMAP_MAX names, each with 4 or 8 proxy IPs (at most
 * PROXYMAP_MAX * 8 addresses).  Setting a (resource, domain) again
 * replaces its IPs; a name that shares a proxy IP with the new one is
 * removed first (a proxy IP belongs to one name); a full map evicts the
 * name set longest ago.  The map owns copies of everything.
 */
#ifndef FZ_PROXYMAP_H
#define FZ_PROXYMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2p.h"

#define PROXYMAP_MAX	1024

/* 100.96.0.0/11 or fd00:2021:1111:8000::/107 (firezone-protocols §4.1),
 * sentinels included: a cheap first test for every TUN packet. */
static inline bool
proxymap_in_range(int v6, const uint8_t *dst)
{
	static const uint8_t p6[13] = { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11,
	    0x80, 0x00, 0, 0, 0, 0, 0 };

	if (!v6)
		return dst[0] == 100 && (dst[1] & 0xe0) == 96;
	for (int i = 0; i < 13; i++)
		if (dst[i] != p6[i])
			return false;
	return (dst[13] & 0xe0) == 0;
}

struct proxymap;

struct proxymap *proxymap_new(void);
void	proxymap_free(struct proxymap *);		/* NULL-safe */
/*
 * Sets m (type P2P_ASSIGNED_IPS, 4 or 8 proxy IPs, each in the proxy range
 * and not a sentinel, no duplicates): 0, or -EINVAL.
 */
int	proxymap_set(struct proxymap *, const struct p2p_msg *m)
	    __attribute__((warn_unused_result));
/* The name ip belongs to, copied to *out: 0, or -ENOENT. */
int	proxymap_lookup(const struct proxymap *, const struct fz_ip *ip,
	    struct p2p_msg *out) __attribute__((warn_unused_result));
/* Removes every name whose resource is not one of ids[0..n-1]; returns
 * the number removed. */
size_t	proxymap_keep(struct proxymap *, const char *const *ids, size_t n);
void	proxymap_clear(struct proxymap *);
size_t	proxymap_count(const struct proxymap *);	/* names */

/*
 * DNS_PROXY's fields into an assigned_ips message: resource (1..64
 * bytes, printable, no quote or backslash), domain (1..253, letters,
 * digits, '-', '_', '.'), ips "ip, ip" (4 or 8, each a proxy IP, not a
 * sentinel, no duplicates).  *out written only on success; -EINVAL.
 */
int	proxymap_parse(const char *resource, const char *domain,
	    const char *ips, struct p2p_msg *out)
	    __attribute__((warn_unused_result));

#endif
