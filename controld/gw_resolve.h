/* SPDX-License-Identifier: ISC */
/*
 * The gateway's resolution of a DNS resource's domain (§5.3, issue 14):
 * A and AAAA through fz-controld's evdns base (the gateway's resolv.conf
 * and hosts file, read before the sandbox: ws_bootstrap_dns), for
 * assigned_ips.  Not wired yet: the caller-to-be is controld's handler of
 * assigned_ips (p2p.h), which checks the client's authorization and the
 * resource's pattern first and passes the list down for dnsnat_assign.
 */
#ifndef FZ_GW_RESOLVE_H
#define FZ_GW_RESOLVE_H

#include <stddef.h>

struct evdns_base;

#define GW_RESOLVE_MAX	64	/* addresses per family (DNSNAT_MAX_RESOLVED) */
/* "a, b, ..." of up to 2 * GW_RESOLVE_MAX addresses */
#define GW_RESOLVE_LIST	(2 * GW_RESOLVE_MAX * 48)

/*
 * err 0 and list the distinct addresses ("192.0.2.1, 2001:db8::1", IPv4
 * first, in the resolver's order within a family), or -ENOENT (no address
 * of either family), -EAGAIN (resolver failure or timeout), -ECANCELED
 * (the evdns base went away) and list "".  list lives until it returns.
 */
typedef void (*gw_resolve_cb)(void *arg, int err, const char *list);

/*
 * Resolves domain (a host name, at most 253 characters); cb is called
 * exactly once, possibly before this returns.  0, or -EINVAL (bad name),
 * -ENOMEM, and then cb is not called.
 */
int	gw_resolve(struct evdns_base *, const char *domain, gw_resolve_cb,
	    void *arg) __attribute__((warn_unused_result));

#endif
