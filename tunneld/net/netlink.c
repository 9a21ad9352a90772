/* SPDX-License-Identifier: ISC */
#define LOG_MODULE "netlink"

#include <errno.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "netlink.h"

struct item {
	int		 ifindex;
	bool		 is_route;
	struct fz_cidr	 c;
};

struct nlconf {
	struct nl_sock	*sk;
	struct item	*items;		/* what to undo; grows (no cap) */
	unsigned	 n, cap;
};

/* libnl returns its own negative codes; map them to -errno. */
int
nl_errno(int e)
{
	switch (-e) {
	case NLE_EXIST:		return -EEXIST;
	case NLE_NOMEM:		return -ENOMEM;
	case NLE_PERM:		return -EPERM;
	case NLE_NOADDR:
	case NLE_OBJ_NOTFOUND:	return -ENOENT;
	case NLE_INVAL:		return -EINVAL;
	case NLE_NODEV:		return -ENODEV;
	case NLE_AF_NOSUPPORT:	return -EAFNOSUPPORT;
	case NLE_OPNOTSUPP:	return -EOPNOTSUPP;
	case NLE_BUSY:		return -EBUSY;
	default:		return -EIO;
	}
}

int
nl_route_socket(struct nl_sock **out)
{
	struct nl_sock *sk;
	int rc;

	if ((sk = nl_socket_alloc()) == NULL)
		return -ENOMEM;
	if ((rc = nl_connect(sk, NETLINK_ROUTE)) < 0) {
		nl_socket_free(sk);
		return nl_errno(rc);
	}
	*out = sk;
	return 0;
}

int
nl_new(struct nlconf **out)
{
	struct nlconf *n;
	int rc;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	if ((rc = nl_route_socket(&n->sk)) != 0) {
		free(n);
		return rc;
	}
	*out = n;
	return 0;
}

int
nl_link_up(struct nlconf *n, int ifindex, int mtu)
{
	struct rtnl_link *link = NULL, *change;
	int rc;

	if ((rc = rtnl_link_get_kernel(n->sk, ifindex, NULL, &link)) < 0)
		return nl_errno(rc);
	if ((change = rtnl_link_alloc()) == NULL) {
		rtnl_link_put(link);
		return -ENOMEM;
	}
	if (mtu > 0)
		rtnl_link_set_mtu(change, (unsigned)mtu);
	rtnl_link_set_flags(change, IFF_UP);
	/* A long queue, as Firezone found helps bursts through TUN. */
	rtnl_link_set_txqlen(change, 10000);
	rc = rtnl_link_change(n->sk, link, change, 0);
	rtnl_link_put(change);
	rtnl_link_put(link);
	return rc < 0 ? nl_errno(rc) : 0;
}

static struct nl_addr *
build(const struct fz_cidr *c)
{
	struct nl_addr *a = nl_addr_build(c->family, c->addr,
	    c->family == AF_INET ? 4 : 16);

	if (a != NULL)
		nl_addr_set_prefixlen(a, c->prefix);
	return a;
}

static int
addr_op(struct nlconf *n, int ifindex, const struct fz_cidr *c, bool add)
{
	struct rtnl_addr *ra;
	struct nl_addr *local;
	int rc;

	if ((ra = rtnl_addr_alloc()) == NULL)
		return -ENOMEM;
	if ((local = build(c)) == NULL) {
		rtnl_addr_put(ra);
		return -ENOMEM;
	}
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_family(ra, c->family);
	rtnl_addr_set_local(ra, local);
	rtnl_addr_set_prefixlen(ra, c->prefix);
	if (c->family == AF_INET6)
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
	rc = add ? rtnl_addr_add(n->sk, ra, 0) : rtnl_addr_delete(n->sk, ra, 0);
	nl_addr_put(local);
	rtnl_addr_put(ra);
	return rc < 0 ? nl_errno(rc) : 0;
}

static int
route_op(struct nlconf *n, int ifindex, const struct fz_cidr *c, bool add)
{
	struct rtnl_route *r;
	struct rtnl_nexthop *nh;
	struct nl_addr *dst;
	int rc;

	if ((r = rtnl_route_alloc()) == NULL)
		return -ENOMEM;
	if ((dst = build(c)) == NULL || (nh = rtnl_route_nh_alloc()) == NULL) {
		if (dst != NULL)
			nl_addr_put(dst);
		rtnl_route_put(r);
		return -ENOMEM;
	}
	rtnl_route_set_family(r, (uint8_t)c->family);
	rtnl_route_set_dst(r, dst);
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_scope(r, RT_SCOPE_LINK);
	rtnl_route_set_protocol(r, RTPROT_STATIC);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(r, nh);
	rc = add ? rtnl_route_add(n->sk, r, NLM_F_CREATE | NLM_F_EXCL) :
	    rtnl_route_delete(n->sk, r, 0);
	nl_addr_put(dst);
	rtnl_route_put(r);
	return rc < 0 ? nl_errno(rc) : 0;
}

/* Room for one more item, made before the change it will undo. */
static int
reserve(struct nlconf *n)
{
	struct item *ni;
	unsigned ncap;

	if (n->n < n->cap)
		return 0;
	ncap = n->cap == 0 ? 64 : n->cap * 2;
	if ((ni = realloc(n->items, ncap * sizeof(*ni))) == NULL)
		return -ENOMEM;
	n->items = ni;
	n->cap = ncap;
	return 0;
}

static int
remember(struct nlconf *n, int ifindex, const struct fz_cidr *c, bool route)
{
	if (reserve(n) != 0)
		return -ENOMEM;
	n->items[n->n].ifindex = ifindex;
	n->items[n->n].is_route = route;
	n->items[n->n].c = *c;
	n->n++;
	return 0;
}

int
nl_addr_add(struct nlconf *n, int ifindex, const struct fz_cidr *c)
{
	int rc;

	if ((rc = reserve(n)) != 0)
		return rc;
	if ((rc = addr_op(n, ifindex, c, true)) != 0)
		return rc;
	return remember(n, ifindex, c, false);
}

int
nl_addr_del(struct nlconf *n, int ifindex, const struct fz_cidr *c)
{
	unsigned i;
	int rc = addr_op(n, ifindex, c, false);

	for (i = 0; i < n->n; i++) {
		if (!n->items[i].is_route && n->items[i].ifindex == ifindex &&
		    memcmp(&n->items[i].c, c, sizeof(*c)) == 0) {
			n->items[i] = n->items[--n->n];
			break;
		}
	}
	return rc;
}

int
nl_route_add(struct nlconf *n, int ifindex, const struct fz_cidr *c)
{
	int rc;

	if ((rc = reserve(n)) != 0)
		return rc;
	if ((rc = route_op(n, ifindex, c, true)) != 0)
		return rc;
	return remember(n, ifindex, c, true);
}

int
nl_route_del(struct nlconf *n, int ifindex, const struct fz_cidr *c)
{
	unsigned i;
	int rc = route_op(n, ifindex, c, false);

	for (i = 0; i < n->n; i++) {
		if (n->items[i].is_route && n->items[i].ifindex == ifindex &&
		    memcmp(&n->items[i].c, c, sizeof(*c)) == 0) {
			n->items[i] = n->items[--n->n];
			break;
		}
	}
	return rc;
}

void
nl_undo(struct nlconf *n)
{
	while (n->n > 0) {
		struct item *it = &n->items[--n->n];
		int rc = it->is_route ?
		    route_op(n, it->ifindex, &it->c, false) :
		    addr_op(n, it->ifindex, &it->c, false);

		/* The device may already be gone, taking these with it. */
		if (rc != 0 && rc != -ENOENT && rc != -ENODEV)
			log_debug("undo: %s", strerror(-rc));
	}
}

void
nl_free(struct nlconf *n)
{
	if (n == NULL)
		return;
	nl_undo(n);
	nl_socket_free(n->sk);
	free(n->items);
	free(n);
}
