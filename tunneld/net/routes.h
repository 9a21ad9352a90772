/* SPDX-License-Identifier: ISC */
/*
 * Policy routing for the client's tunnel (protocols notes §4.2): three
 * tables selected by rules that skip fz's own fwmarked sockets,
 *   prio 100  not fwmark 0xfd002021 lookup 0x2021fd00   resources, ranges
 *   prio 200  not fwmark 0xfd002021 lookup 0x2021fd01   copy of LAN routes
 *   prio 300  not fwmark 0xfd002021 lookup 0x2021fd02   Internet Resource
 * for IPv4 and IPv6.  Ours are recognised by table and priority, so what a
 * crashed run left behind is removed by the next routes_start.
 *
 * The pure part (building and diffing route sets) needs no netlink; the
 * struct routes handle owns an rtnetlink socket and the set it installed.
 */
#ifndef FZ_ROUTES_H
#define FZ_ROUTES_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define ROUTES_FWMARK		0xfd002021u
#define ROUTES_TABLE_USER	0x2021fd00u	/* rule prio 100 */
#define ROUTES_TABLE_LAN	0x2021fd01u	/* rule prio 200 */
#define ROUTES_TABLE_INET	0x2021fd02u	/* rule prio 300 */
#define ROUTES_PRIO_USER	100u
#define ROUTES_PRIO_LAN		200u
#define ROUTES_PRIO_INET	300u
/* A route set never holds more (resources + LAN copies); adds past it fail. */
#define ROUTES_MAX		65536u

struct route_ent {
	uint32_t	table;		/* one of ROUTES_TABLE_* */
	int		ifindex;
	uint32_t	metric;		/* 0 but for LAN copies */
	struct fz_cidr	dst;
};

/* A growable array, kept sorted and unique by route_set_sort. */
struct route_set {
	struct route_ent *v;
	unsigned	 n, cap;
};

void	route_set_init(struct route_set *);
void	route_set_clear(struct route_set *);	/* frees v; set is empty */
int	route_set_add(struct route_set *, uint32_t table, int ifindex,
	    uint32_t metric, const struct fz_cidr *)
	    __attribute__((warn_unused_result));
/* Sorts and removes duplicates. */
void	route_set_sort(struct route_set *);
bool	route_set_has(const struct route_set *, const struct route_ent *);

/*
 * The tunnel's routes for table USER (and INET when internet is set): each
 * CIDR resource, the device, proxy and sentinel ranges, and 0.0.0.0/0 +
 * ::/0 in table INET.  Families not enabled (v4/v6 false) are skipped, as
 * Firezone does when one family cannot be configured.
 */
int	routes_build(struct route_set *out, int tun_ifindex,
	    const struct fz_cidr *resources, unsigned nresources,
	    bool internet, bool v4, bool v6)
	    __attribute__((warn_unused_result));

/*
 * have -> want: fills del with entries of have not in want and add with
 * entries of want not in have (both sorted; inputs need not be).  add and
 * del must be initialised and are cleared first.
 */
int	routes_diff(const struct route_set *have, const struct route_set *want,
	    struct route_set *add, struct route_set *del)
	    __attribute__((warn_unused_result));

/* Sets SO_MARK = ROUTES_FWMARK (needs CAP_NET_ADMIN). */
int	routes_mark_socket(int fd) __attribute__((warn_unused_result));

struct routes;

int	routes_new(struct routes **) __attribute__((warn_unused_result));
/*
 * Removes stale rules and routes of ours (a previous run's), then adds the
 * six rules.  A rule that cannot be added is logged and skipped (as
 * Firezone does on WSL): the return is then -errno of the first failure
 * but the handle stays usable.
 */
int	routes_start(struct routes *) __attribute__((warn_unused_result));
/*
 * Makes the installed routes equal desired: removals first, then adds.
 * Every change is attempted; the installed set records what succeeded and
 * the first error is returned.
 */
int	routes_apply(struct routes *, const struct route_set *desired)
	    __attribute__((warn_unused_result));
/*
 * Appends to out a copy into table LAN of the main table's on-link routes
 * (no gateway; IPv4 scope link) of interfaces that are up, skipping
 * tun_ifindex and default routes.  Re-run it after route/link/address
 * changes (Firezone re-syncs 500 ms after any).
 */
int	routes_lan_copy(struct routes *, int tun_ifindex, struct route_set *out)
	    __attribute__((warn_unused_result));
/* What routes_apply has installed (borrowed until the next call). */
const struct route_set *routes_installed(const struct routes *);
/* Removes all our rules and every route in our tables. */
void	routes_stop(struct routes *);
/* routes_stop, then frees; NULL-safe. */
void	routes_free(struct routes *);

/*
 * wg-quick's policy routing, for static mode (fz-tunneld --config).  A
 * default route through the tunnel goes into table `table`, selected per
 * family by
 *   prio 32764  from all lookup main suppress_prefixlength 0
 *   prio 32765  not from all fwmark `fwmark` lookup `table`
 * (what wg-quick's "ip rule add" gets on a stock system), and IPv4 sets
 * net.ipv4.conf.all.src_valid_mark=1 as wg-quick does.  Other routes go
 * into any table (main for Table=auto).  The handle removes exactly what
 * it added, never the client's rules or tables.
 */
#define ROUTES_STATIC_TABLE		51820u	/* wg-quick's first choice */
#define ROUTES_STATIC_PRIO_SUPPRESS	32764u
#define ROUTES_STATIC_PRIO_MARK		32765u

struct routes_static;

int	routes_static_new(struct routes_static **, uint32_t fwmark,
	    uint32_t table) __attribute__((warn_unused_result));
/* dst is 0.0.0.0/0 or ::/0: the family's two rules (once), the route. */
int	routes_static_default(struct routes_static *, int ifindex,
	    const struct fz_cidr *dst) __attribute__((warn_unused_result));
/* A route on ifindex in table; -EEXIST when one is there already. */
int	routes_static_add(struct routes_static *, uint32_t table, int ifindex,
	    const struct fz_cidr *dst) __attribute__((warn_unused_result));
/*
 * wg-quick without FwMark: from the handle's table up, the first table
 * with no IPv4 or IPv6 route becomes both table and fwmark (*out).  Call
 * before anything is added.
 */
int	routes_static_pick_table(struct routes_static *, uint32_t *out)
	    __attribute__((warn_unused_result));
/* Removes the routes and rules it added, then frees; NULL-safe. */
void	routes_static_free(struct routes_static *);

#endif
