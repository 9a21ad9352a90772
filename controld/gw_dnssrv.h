/* SPDX-License-Identifier: ISC */
/*
 * The gateway's DNS server on <tunnel ipv4>:53535 and <tunnel ipv6>:53535,
 * UDP and TCP (firezone-protocols.md §5.1): clients' SRV/TXT queries,
 * forwarded by gw_dnsfwd.h to the fastest nameserver of the gateway's
 * resolv.conf (probed every 60 s), SERVFAIL if none.  Lives in fz-controld
 * (the port is above 1024: no privilege needed); it binds once fz-tunneld
 * has the tunnel address (3 attempts 100 ms apart, then with IP_FREEBIND
 * so an address that comes later still works).  Owns its sockets.
 */
#ifndef FZ_GW_DNSSRV_H
#define FZ_GW_DNSSRV_H

#include <stddef.h>

#include "addr.h"

struct event_base;
struct gw_dnssrv;

#define GW_DNSSRV_MAX_TCP	32	/* TCP clients at once */

/*
 * The nameservers of a resolv.conf file (gw_dnsfwd_resolv_parse); read
 * before the sandbox.  0, or -errno (the file cannot be read).
 */
int	gw_dnssrv_read_servers(const char *path, union fz_sockaddr *,
	    size_t max, size_t *n) __attribute__((warn_unused_result));
/* servers: the nameservers (gw_dnsfwd_resolv_parse), copied. */
int	gw_dnssrv_new(struct event_base *, const union fz_sockaddr *servers,
	    size_t n, struct gw_dnssrv **) __attribute__((warn_unused_result));
void	gw_dnssrv_free(struct gw_dnssrv *);		/* NULL-safe */
/*
 * The tunnel addresses (INTERFACE; "" for none): listens on each at
 * GW_DNSFWD_PORT, closing what listened on other addresses.
 */
void	gw_dnssrv_listen(struct gw_dnssrv *, const char *ipv4,
	    const char *ipv6);

#endif
