/* SPDX-License-Identifier: ISC */
/*
 * Interface configuration over rtnetlink (libnl-route-3): link MTU and
 * state, addresses and routes.  Everything added is remembered and removed
 * again by nl_undo (and nl_free).
 */
#ifndef FZ_NETLINK_H
#define FZ_NETLINK_H

#include "addr.h"

struct nlconf;

struct nl_sock;
/* A connected NETLINK_ROUTE socket (libnl); 0 or -errno. */
int	nl_route_socket(struct nl_sock **) __attribute__((warn_unused_result));
/* libnl's negative NLE_* code as -errno. */
int	nl_errno(int);
int	nl_new(struct nlconf **) __attribute__((warn_unused_result));
/* Sets the MTU and brings the link up. */
int	nl_link_up(struct nlconf *, int ifindex, int mtu)
	    __attribute__((warn_unused_result));
/* An address with its prefix length (host bits kept), e.g. 10.0.0.1/24. */
int	nl_addr_add(struct nlconf *, int ifindex, const struct fz_cidr *)
	    __attribute__((warn_unused_result));
/* Removes an address nl_addr_add added (and forgets it). */
int	nl_addr_del(struct nlconf *, int ifindex, const struct fz_cidr *)
	    __attribute__((warn_unused_result));
int	nl_route_add(struct nlconf *, int ifindex, const struct fz_cidr *)
	    __attribute__((warn_unused_result));
int	nl_route_del(struct nlconf *, int ifindex, const struct fz_cidr *)
	    __attribute__((warn_unused_result));
/* Removes every route and address this handle added. */
void	nl_undo(struct nlconf *);
void	nl_free(struct nlconf *);

#endif
