/* SPDX-License-Identifier: ISC */
#define LOG_MODULE "routes"

#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "netlink.h"
#include "routes.h"

struct routes {
	struct nl_sock		*sk;
	struct route_set	 installed;
};

static const struct {
	uint32_t	prio, table;
} rules[] = {
	{ ROUTES_PRIO_USER, ROUTES_TABLE_USER },
	{ ROUTES_PRIO_LAN, ROUTES_TABLE_LAN },
	{ ROUTES_PRIO_INET, ROUTES_TABLE_INET },
};

/* Firezone's ranges (§4.1): devices, DNS proxy IPs, DNS sentinels. */
static const char *const ranges4[] = {
	"100.64.0.0/11", "100.96.0.0/11", "100.100.111.0/24",
};
static const char *const ranges6[] = {
	"fd00:2021:1111::/107", "fd00:2021:1111:8000::/107",
	"fd00:2021:1111:8000:100:100:111:0/120",
};

/* ---- route sets (pure) ---- */

void
route_set_init(struct route_set *s)
{
	memset(s, 0, sizeof(*s));
}

void
route_set_clear(struct route_set *s)
{
	free(s->v);
	route_set_init(s);
}

int
route_set_add(struct route_set *s, uint32_t table, int ifindex,
    uint32_t metric, const struct fz_cidr *dst)
{
	struct route_ent *nv;
	unsigned ncap;

	if (dst->family != AF_INET && dst->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (dst->prefix > (dst->family == AF_INET ? 32 : 128))
		return -EINVAL;
	if (s->n == s->cap) {
		if (s->cap >= ROUTES_MAX)
			return -E2BIG;
		ncap = s->cap == 0 ? 16 : s->cap * 2;
		if (ncap > ROUTES_MAX)
			ncap = ROUTES_MAX;
		if ((nv = realloc(s->v, ncap * sizeof(*nv))) == NULL)
			return -ENOMEM;
		s->v = nv;
		s->cap = ncap;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
	s->v[s->n].table = table;
	s->v[s->n].ifindex = ifindex;
	s->v[s->n].metric = metric;
	s->v[s->n].dst.family = dst->family;
	s->v[s->n].dst.prefix = dst->prefix;
	memcpy(s->v[s->n].dst.addr, dst->addr, sizeof(dst->addr));
	s->n++;
	return 0;
}

static int
ent_cmp(const void *pa, const void *pb)
{
	const struct route_ent *a = pa, *b = pb;
	int c;

	if (a->table != b->table)
		return a->table < b->table ? -1 : 1;
	if (a->dst.family != b->dst.family)
		return a->dst.family < b->dst.family ? -1 : 1;
	if ((c = memcmp(a->dst.addr, b->dst.addr, sizeof(a->dst.addr))) != 0)
		return c;
	if (a->dst.prefix != b->dst.prefix)
		return a->dst.prefix < b->dst.prefix ? -1 : 1;
	if (a->ifindex != b->ifindex)
		return a->ifindex < b->ifindex ? -1 : 1;
	if (a->metric != b->metric)
		return a->metric < b->metric ? -1 : 1;
	return 0;
}

void
route_set_sort(struct route_set *s)
{
	unsigned i, j;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), ent_cmp);
	for (i = 1, j = 1; i < s->n; i++)
		if (ent_cmp(&s->v[i], &s->v[j - 1]) != 0)
			s->v[j++] = s->v[i];
	s->n = j;
}

bool
route_set_has(const struct route_set *s, const struct route_ent *e)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		if (ent_cmp(&s->v[i], e) == 0)
			return true;
	return false;
}

static int
add_str(struct route_set *s, uint32_t table, int ifindex, const char *cidr)
{
	struct fz_cidr c;
	int rc;

	if ((rc = cidr_parse(cidr, true, &c)) != 0)
		return rc;
	return route_set_add(s, table, ifindex, 0, &c);
}

int
routes_build(struct route_set *out, int tun_ifindex,
    const struct fz_cidr *res, unsigned nres, bool internet, bool v4, bool v6)
{
	struct route_set s;
	unsigned i;
	int rc = 0;

	route_set_init(&s);
	for (i = 0; rc == 0 && v4 && i < sizeof(ranges4) / sizeof(*ranges4);
	    i++)
		rc = add_str(&s, ROUTES_TABLE_USER, tun_ifindex, ranges4[i]);
	for (i = 0; rc == 0 && v6 && i < sizeof(ranges6) / sizeof(*ranges6);
	    i++)
		rc = add_str(&s, ROUTES_TABLE_USER, tun_ifindex, ranges6[i]);
	for (i = 0; rc == 0 && i < nres; i++) {
		if ((res[i].family == AF_INET && !v4) ||
		    (res[i].family == AF_INET6 && !v6))
			continue;
		rc = route_set_add(&s, ROUTES_TABLE_USER, tun_ifindex, 0,
		    &res[i]);
	}
	if (rc == 0 && internet && v4)
		rc = add_str(&s, ROUTES_TABLE_INET, tun_ifindex, "0.0.0.0/0");
	if (rc == 0 && internet && v6)
		rc = add_str(&s, ROUTES_TABLE_INET, tun_ifindex, "::/0");
	if (rc != 0) {
		route_set_clear(&s);
		return rc;
	}
	route_set_sort(&s);
	route_set_clear(out);
	*out = s;
	return 0;
}

int
routes_diff(const struct route_set *have, const struct route_set *want,
    struct route_set *add, struct route_set *del)
{
	struct route_set h, w;
	unsigned i = 0, j = 0;
	int rc = 0, c;

	route_set_clear(add);
	route_set_clear(del);
	route_set_init(&h);
	route_set_init(&w);
	/* Sorted copies, then one merge pass. */
	for (i = 0; rc == 0 && i < have->n; i++)
		rc = route_set_add(&h, have->v[i].table, have->v[i].ifindex,
		    have->v[i].metric, &have->v[i].dst);
	for (i = 0; rc == 0 && i < want->n; i++)
		rc = route_set_add(&w, want->v[i].table, want->v[i].ifindex,
		    want->v[i].metric, &want->v[i].dst);
	route_set_sort(&h);
	route_set_sort(&w);
	i = 0;
	while (rc == 0 && (i < h.n || j < w.n)) {
		if (i == h.n)
			c = 1;
		else if (j == w.n)
			c = -1;
		else
			c = ent_cmp(&h.v[i], &w.v[j]);
		if (c < 0) {
			rc = route_set_add(del, h.v[i].table, h.v[i].ifindex,
			    h.v[i].metric, &h.v[i].dst);
			i++;
		} else if (c > 0) {
			rc = route_set_add(add, w.v[j].table, w.v[j].ifindex,
			    w.v[j].metric, &w.v[j].dst);
			j++;
		} else {
			i++;
			j++;
		}
	}
	route_set_clear(&h);
	route_set_clear(&w);
	if (rc != 0) {
		route_set_clear(add);
		route_set_clear(del);
	}
	return rc;
}

int
routes_mark_socket(int fd)
{
	unsigned mark = ROUTES_FWMARK;

	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0)
		return -errno;
	return 0;
}

/* ---- netlink ---- */

int
routes_new(struct routes **out)
{
	struct routes *r;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	if ((rc = nl_route_socket(&r->sk)) != 0) {
		free(r);
		return rc;
	}
	route_set_init(&r->installed);
	*out = r;
	return 0;
}

/*
 * libnl's rule object has no way to say "not" (FIB_RULE_INVERT), so the
 * rule messages are built here.  A delete names family, priority and
 * table only: the kernel removes the first rule matching those.
 */
static int
rule_msg(struct routes *r, int cmd, int family, uint32_t prio,
    uint32_t table)
{
	struct fib_rule_hdr frh;
	struct nl_msg *m;
	int rc;

	memset(&frh, 0, sizeof(frh));
	frh.family = (uint8_t)family;
	frh.action = FR_ACT_TO_TBL;
	frh.table = RT_TABLE_UNSPEC;	/* FRA_TABLE carries the u32 */
	if (cmd == RTM_NEWRULE)
		frh.flags = FIB_RULE_INVERT;
	m = nlmsg_alloc_simple(cmd, cmd == RTM_NEWRULE ?
	    NLM_F_CREATE | NLM_F_EXCL : 0);
	if (m == NULL)
		return -ENOMEM;
	if (nlmsg_append(m, &frh, sizeof(frh), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(m, FRA_PRIORITY, prio) < 0 ||
	    nla_put_u32(m, FRA_TABLE, table) < 0 ||
	    (cmd == RTM_NEWRULE &&
	    (nla_put_u32(m, FRA_FWMARK, ROUTES_FWMARK) < 0 ||
	    nla_put_u32(m, FRA_FWMASK, 0xffffffffu) < 0 ||
	    nla_put_u8(m, FRA_PROTOCOL, RTPROT_KERNEL) < 0))) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	rc = nl_send_sync(r->sk, m);	/* frees m */
	return rc < 0 ? nl_errno(rc) : 0;
}

static int
route_op(struct routes *r, const struct route_ent *e, bool add)
{
	struct rtnl_route *rt;
	struct rtnl_nexthop *nh;
	struct nl_addr *dst;
	int rc;

	if ((rt = rtnl_route_alloc()) == NULL)
		return -ENOMEM;
	if ((dst = nl_addr_build(e->dst.family, e->dst.addr,
	    e->dst.family == AF_INET ? 4 : 16)) == NULL) {
		rtnl_route_put(rt);
		return -ENOMEM;
	}
	nl_addr_set_prefixlen(dst, e->dst.prefix);
	if ((nh = rtnl_route_nh_alloc()) == NULL) {
		nl_addr_put(dst);
		rtnl_route_put(rt);
		return -ENOMEM;
	}
	rtnl_route_set_family(rt, (uint8_t)e->dst.family);
	rtnl_route_set_dst(rt, dst);
	rtnl_route_set_table(rt, e->table);
	rtnl_route_set_scope(rt, RT_SCOPE_LINK);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	if (e->metric != 0)
		rtnl_route_set_priority(rt, e->metric);
	rtnl_route_nh_set_ifindex(nh, e->ifindex);
	rtnl_route_add_nexthop(rt, nh);		/* rt owns nh now */
	rc = add ? rtnl_route_add(r->sk, rt, NLM_F_CREATE | NLM_F_EXCL) :
	    rtnl_route_delete(r->sk, rt, 0);
	nl_addr_put(dst);
	rtnl_route_put(rt);
	return rc < 0 ? nl_errno(rc) : 0;
}

static bool
our_table(uint32_t t)
{
	return t == ROUTES_TABLE_USER || t == ROUTES_TABLE_LAN ||
	    t == ROUTES_TABLE_INET;
}

/* Deletes every route in our tables, whoever added it. */
static void
flush_tables(struct routes *r)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	struct nl_cache *cache;
	struct nl_object *o;
	unsigned f;
	int rc;

	for (f = 0; f < 2; f++) {
		if ((rc = rtnl_route_alloc_cache(r->sk, fams[f], 0,
		    &cache)) < 0) {
			log_warnx("route dump: %s", nl_geterror(rc));
			continue;
		}
		for (o = nl_cache_get_first(cache); o != NULL;
		    o = nl_cache_get_next(o)) {
			struct rtnl_route *rt = (struct rtnl_route *)o;

			if (!our_table(rtnl_route_get_table(rt)))
				continue;
			if ((rc = rtnl_route_delete(r->sk, rt, 0)) < 0 &&
			    nl_errno(rc) != -ENOENT && nl_errno(rc) != -ESRCH)
				log_debug("route flush: %s", nl_geterror(rc));
		}
		nl_cache_free(cache);
	}
}

/* Deletes our rules: each (family, priority, table) until none is left. */
static void
del_rules(struct routes *r)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	unsigned f, i, k;

	for (f = 0; f < 2; f++)
		for (i = 0; i < sizeof(rules) / sizeof(*rules); i++)
			/* Bounded: duplicates only come from odd crashes. */
			for (k = 0; k < 16; k++)
				if (rule_msg(r, RTM_DELRULE, fams[f],
				    rules[i].prio, rules[i].table) != 0)
					break;
}

int
routes_start(struct routes *r)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	unsigned f, i;
	int rc, first = 0;

	del_rules(r);
	flush_tables(r);
	route_set_clear(&r->installed);
	for (f = 0; f < 2; f++) {
		for (i = 0; i < sizeof(rules) / sizeof(*rules); i++) {
			rc = rule_msg(r, RTM_NEWRULE, fams[f], rules[i].prio,
			    rules[i].table);
			if (rc == 0)
				continue;
			log_warnx("rule %u (%s) not added: %s; routing may "
			    "bypass the tunnel", rules[i].prio,
			    fams[f] == AF_INET ? "IPv4" : "IPv6",
			    strerror(-rc));
			if (first == 0)
				first = rc;
		}
	}
	return first;
}

int
routes_apply(struct routes *r, const struct route_set *desired)
{
	struct route_set add, del;
	char buf[64];
	unsigned i;
	int rc, first = 0;

	route_set_init(&add);
	route_set_init(&del);
	if ((rc = routes_diff(&r->installed, desired, &add, &del)) != 0)
		return rc;
	/* Removals first: a changed route keeps its key but not its way. */
	for (i = 0; i < del.n; i++) {
		rc = route_op(r, &del.v[i], false);
		if (rc != 0 && rc != -ENOENT && rc != -ESRCH && rc != -ENODEV) {
			if (cidr_fmt(&del.v[i].dst, buf, sizeof(buf)) != 0)
				snprintf(buf, sizeof(buf), "?");
			log_warnx("route del %s table %#x: %s", buf,
			    del.v[i].table, strerror(-rc));
			if (first == 0)
				first = rc;
			continue;
		}
		/* Gone (or already gone): forget it. */
		for (unsigned k = 0; k < r->installed.n; k++) {
			if (ent_cmp(&r->installed.v[k], &del.v[i]) == 0) {
				r->installed.v[k] =
				    r->installed.v[--r->installed.n];
				break;
			}
		}
	}
	for (i = 0; i < add.n; i++) {
		rc = route_op(r, &add.v[i], true);
		/* Someone's identical route in our table: ours now. */
		if (rc == -EEXIST)
			rc = 0;
		if (rc == 0)
			rc = route_set_add(&r->installed, add.v[i].table,
			    add.v[i].ifindex, add.v[i].metric, &add.v[i].dst);
		if (rc != 0) {
			if (cidr_fmt(&add.v[i].dst, buf, sizeof(buf)) != 0)
				snprintf(buf, sizeof(buf), "?");
			log_warnx("route add %s table %#x: %s", buf,
			    add.v[i].table, strerror(-rc));
			if (first == 0)
				first = rc;
		}
	}
	route_set_sort(&r->installed);
	route_set_clear(&add);
	route_set_clear(&del);
	return first;
}

int
routes_lan_copy(struct routes *r, int tun_ifindex, struct route_set *out)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	struct nl_cache *links = NULL, *cache;
	struct nl_object *o;
	struct fz_cidr c;
	unsigned f;
	int rc;

	if ((rc = rtnl_link_alloc_cache(r->sk, AF_UNSPEC, &links)) < 0)
		return nl_errno(rc);
	for (f = 0; f < 2; f++) {
		if ((rc = rtnl_route_alloc_cache(r->sk, fams[f], 0,
		    &cache)) < 0) {
			nl_cache_free(links);
			return nl_errno(rc);
		}
		for (o = nl_cache_get_first(cache); o != NULL;
		    o = nl_cache_get_next(o)) {
			struct rtnl_route *rt = (struct rtnl_route *)o;
			struct rtnl_nexthop *nh;
			struct rtnl_link *l;
			struct nl_addr *d;
			unsigned up;
			int ifi;

			if (rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
			    rtnl_route_get_type(rt) != RTN_UNICAST ||
			    rtnl_route_get_nnexthops(rt) != 1 ||
			    (fams[f] == AF_INET &&
			    rtnl_route_get_scope(rt) != RT_SCOPE_LINK))
				continue;
			nh = rtnl_route_nexthop_n(rt, 0);
			if (nh == NULL || rtnl_route_nh_get_gateway(nh) != NULL)
				continue;
			ifi = rtnl_route_nh_get_ifindex(nh);
			if (ifi <= 0 || ifi == tun_ifindex)
				continue;
			if ((l = rtnl_link_get(links, ifi)) == NULL)
				continue;
			up = rtnl_link_get_flags(l) & IFF_UP;
			rtnl_link_put(l);
			d = rtnl_route_get_dst(rt);
			if (!up || d == NULL || nl_addr_get_prefixlen(d) == 0 ||
			    nl_addr_get_len(d) != (fams[f] == AF_INET ? 4u :
			    16u))
				continue;
			memset(&c, 0, sizeof(c));
			c.family = fams[f];
			c.prefix = (uint8_t)nl_addr_get_prefixlen(d);
			memcpy(c.addr, nl_addr_get_binary_addr(d),
			    nl_addr_get_len(d));
			if ((rc = route_set_add(out, ROUTES_TABLE_LAN, ifi,
			    rtnl_route_get_priority(rt), &c)) != 0) {
				nl_cache_free(cache);
				nl_cache_free(links);
				return rc;
			}
		}
		nl_cache_free(cache);
	}
	nl_cache_free(links);
	return 0;
}

const struct route_set *
routes_installed(const struct routes *r)
{
	return &r->installed;
}

void
routes_stop(struct routes *r)
{
	del_rules(r);
	flush_tables(r);
	route_set_clear(&r->installed);
}

void
routes_free(struct routes *r)
{
	if (r == NULL)
		return;
	routes_stop(r);
	nl_socket_free(r->sk);
	free(r);
}

/* ---- wg-quick's policy routing (static mode) ---- */

struct routes_static {
	struct routes	 r;		/* the socket; installed = our routes */
	uint32_t	 fwmark, table;
	bool		 rules[2];	/* IPv4, IPv6 rules added */
};

int
routes_static_new(struct routes_static **out, uint32_t fwmark, uint32_t table)
{
	struct routes_static *s;
	int rc;

	if (fwmark == 0 || table == 0)
		return -EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	if ((rc = nl_route_socket(&s->r.sk)) != 0) {
		free(s);
		return rc;
	}
	route_set_init(&s->r.installed);
	s->fwmark = fwmark;
	s->table = table;
	*out = s;
	return 0;
}

/* The same message adds and deletes (the kernel matches every field). */
static int
static_rule_msg(struct routes_static *s, int cmd, int family, bool mark)
{
	struct fib_rule_hdr frh;
	struct nl_msg *m;
	int rc;

	memset(&frh, 0, sizeof(frh));
	frh.family = (uint8_t)family;
	frh.action = FR_ACT_TO_TBL;
	frh.table = RT_TABLE_UNSPEC;
	if (mark)
		frh.flags = FIB_RULE_INVERT;
	m = nlmsg_alloc_simple(cmd, cmd == RTM_NEWRULE ?
	    NLM_F_CREATE | NLM_F_EXCL : 0);
	if (m == NULL)
		return -ENOMEM;
	if (nlmsg_append(m, &frh, sizeof(frh), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(m, FRA_PRIORITY, mark ? ROUTES_STATIC_PRIO_MARK :
	    ROUTES_STATIC_PRIO_SUPPRESS) < 0 ||
	    nla_put_u32(m, FRA_TABLE, mark ? s->table : RT_TABLE_MAIN) < 0 ||
	    (mark && (nla_put_u32(m, FRA_FWMARK, s->fwmark) < 0 ||
	    nla_put_u32(m, FRA_FWMASK, 0xffffffffu) < 0)) ||
	    (!mark && nla_put_u32(m, FRA_SUPPRESS_PREFIXLEN, 0) < 0)) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	rc = nl_send_sync(s->r.sk, m);	/* frees m */
	return rc < 0 ? nl_errno(rc) : 0;
}

static void
static_rules_del(struct routes_static *s, int family)
{
	int rc;

	if ((rc = static_rule_msg(s, RTM_DELRULE, family, true)) != 0)
		log_warnx("rule not fwmark %#x lookup %u: %s", s->fwmark,
		    s->table, strerror(-rc));
	if ((rc = static_rule_msg(s, RTM_DELRULE, family, false)) != 0)
		log_warnx("rule suppress_prefixlength 0: %s", strerror(-rc));
}

int
routes_static_add(struct routes_static *s, uint32_t table, int ifindex,
    const struct fz_cidr *dst)
{
	struct route_ent e;
	int rc;

	memset(&e, 0, sizeof(e));
	e.table = table;
	e.ifindex = ifindex;
	e.dst = *dst;
	if ((rc = route_op(&s->r, &e, true)) != 0)
		return rc;
	if ((rc = route_set_add(&s->r.installed, table, ifindex, 0,
	    dst)) != 0) {
		(void)route_op(&s->r, &e, false);
		return rc;
	}
	return 0;
}

int
routes_static_default(struct routes_static *s, int ifindex,
    const struct fz_cidr *dst)
{
	int f = dst->family == AF_INET6 ? 1 : 0, rc, fd;

	if (dst->prefix != 0)
		return -EINVAL;
	if (!s->rules[f]) {
		if ((rc = static_rule_msg(s, RTM_NEWRULE, dst->family,
		    true)) != 0)
			return rc;
		if ((rc = static_rule_msg(s, RTM_NEWRULE, dst->family,
		    false)) != 0) {
			(void)static_rule_msg(s, RTM_DELRULE, dst->family,
			    true);
			return rc;
		}
		s->rules[f] = true;
	}
	/* Replies to marked packets pass rp_filter (wg-quick does this). */
	if (dst->family == AF_INET && (fd = open(
	    "/proc/sys/net/ipv4/conf/all/src_valid_mark",
	    O_WRONLY | O_CLOEXEC)) >= 0) {
		if (write(fd, "1", 1) != 1)
			log_warnx("src_valid_mark: %s", strerror(errno));
		close(fd);
	}
	rc = routes_static_add(s, s->table, ifindex, dst);
	return rc == -EEXIST ? 0 : rc;
}

/* Sets *used when any route of either family is in table t. */
static int
table_used(struct routes_static *s, uint32_t t, bool *used)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	struct nl_cache *cache;
	struct nl_object *o;
	unsigned f;
	int rc;

	*used = false;
	for (f = 0; f < 2 && !*used; f++) {
		if ((rc = rtnl_route_alloc_cache(s->r.sk, fams[f], 0,
		    &cache)) < 0)
			return nl_errno(rc);
		for (o = nl_cache_get_first(cache); o != NULL && !*used;
		    o = nl_cache_get_next(o))
			if (rtnl_route_get_table((struct rtnl_route *)o) == t)
				*used = true;
		nl_cache_free(cache);
	}
	return 0;
}

int
routes_static_pick_table(struct routes_static *s, uint32_t *out)
{
	uint32_t t;
	bool used;
	int rc;

	if (s->r.installed.n > 0 || s->rules[0] || s->rules[1])
		return -EBUSY;
	/* Bounded: a thousand busy tables means something else is wrong. */
	for (t = s->table; t < s->table + 1024; t++) {
		if ((rc = table_used(s, t, &used)) != 0)
			return rc;
		if (!used) {
			s->table = s->fwmark = t;
			*out = t;
			return 0;
		}
	}
	return -ENOSPC;
}

void
routes_static_free(struct routes_static *s)
{
	unsigned i;
	int rc;

	if (s == NULL)
		return;
	for (i = 0; i < s->r.installed.n; i++)
		if ((rc = route_op(&s->r, &s->r.installed.v[i], false)) != 0 &&
		    rc != -ENOENT && rc != -ESRCH && rc != -ENODEV)
			log_warnx("route del table %u: %s",
			    s->r.installed.v[i].table, strerror(-rc));
	if (s->rules[0])
		static_rules_del(s, AF_INET);
	if (s->rules[1])
		static_rules_del(s, AF_INET6);
	route_set_clear(&s->r.installed);
	nl_socket_free(s->r.sk);
	free(s);
}
