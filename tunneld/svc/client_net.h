/* SPDX-License-Identifier: ISC */
/*
 * The client's system wiring (issue 14), in fz-tunneld:
 *   client_net.c   policy routing (routes.h: rules, resource, proxy and
 *                  sentinel routes, the Internet Resource and its LAN
 *                  copy), DNS control (dnsctl.h) at the sentinels,
 *                  the fwmark on fz's sockets; cn_*
 *   client_dns.c   the DNS datagram path: queries the TUN sends to a
 *                  sentinel up to fz-controld's stub, its answers back
 *                  into the TUN, its forwarded queries out of our
 *                  fwmarked sockets; cdns_*
 *   client_pure.c  the pure parts (lists, resources); cn_*
 * A gateway uses none of it.  struct svc borrows both handles.
 */
#ifndef FZ_CLIENT_NET_H
#define FZ_CLIENT_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "ipc.h"

struct svc;
struct route_set;

/* client_pure.c (the parse side is common/addr.c's addr_list_parse) */
/* Addresses as "ip, ip" (no ports); -ENOSPC if out is too small. */
int	cn_addr_list_fmt(const union fz_sockaddr *, size_t n, char *out,
	    size_t len) __attribute__((warn_unused_result));
/*
 * The CIDR resources of a RESOURCES list (type "cidr"; a host address is
 * its /32 or /128; host bits cleared) into out (at most max; the rest
 * skipped), and whether an Internet Resource (type "internet") is there.
 * Addresses that do not parse are skipped.  Returns the number written.
 */
size_t	cn_resource_cidrs(const struct ipc_resource_list *, struct fz_cidr *out,
	    size_t max, bool *has_internet);

/* client_net.c */
int	cn_start(struct svc *) __attribute__((warn_unused_result));
void	cn_stop(struct svc *);
/* Resources, interface or the Internet Resource changed: routes again. */
void	cn_sync(struct svc *);
/* Signed out: resource routes and DNS control removed (rules stay). */
void	cn_session_clear(struct svc *);
/* DNS_SENTINELS: the system's DNS at them.  -EINVAL: not a list of them. */
int	cn_dns_sentinels(struct svc *, const char *)
	    __attribute__((warn_unused_result));
/* DNS_SYSTEM's text: the system's servers; "" when unknown. */
void	cn_dns_system(struct svc *, char *out, size_t len);
/* fzctl internet-resource on|off. */
void	cn_internet(struct svc *, bool on);
bool	cn_internet_active(const struct svc *);
/*
 * TCP_SOCKET: a fwmarked TCP socket of family to fz-controld on conn
 * (the portal connection's).  -EINVAL for another family (a violation),
 * -EAGAIN past the rate limit (not sent).
 */
int	cn_tcp_socket(struct svc *, struct ipc_conn *, int family)
	    __attribute__((warn_unused_result));
/* SO_MARK for a socket of ours that must not enter the tunnel. */
int	cn_mark(int fd) __attribute__((warn_unused_result));

/* client_dns.c */
int	cdns_start(struct svc *) __attribute__((warn_unused_result));
void	cdns_stop(struct svc *);
/* DGRAM_DOWN on one of our forwarding sockets: true if it was one. */
bool	cdns_owns(uint32_t sock);
bool	cdns_down(struct svc *, const struct ipc_dgram_down *);
/* DNS_REPLY: false (a violation) when from/to are not a sentinel / ours. */
bool	cdns_reply(struct svc *, const struct ipc_dns_reply *);

#endif
