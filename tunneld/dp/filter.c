/* SPDX-License-Identifier: ISC */
/*
 * Resource enforcement (filter.h): the packet walk, filters, the client
 * access table and ICMP errors.  The table is arrays: clients are found
 * by source address in a sorted index (rebuilt after each change), their
 * accesses searched linearly; the per-packet path allocates nothing.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

#define IPPROTO_ICMP_	1
#define IPPROTO_TCP_	6
#define IPPROTO_UDP_	17
#define IPPROTO_ICMPV6_	58
#define EXT_MAX		8		/* IPv6 extension headers walked */

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* --- parsing -------------------------------------------------------- */

/* The upper layer at off (not a later fragment): ports, ICMP type. */
static int
parse_l4(const uint8_t *pkt, struct flt_pkt *o, size_t off)
{
	size_t left = o->len - off;

	switch (o->proto) {
	case IPPROTO_TCP_:
	case IPPROTO_UDP_:
		if (left < 8)		/* the 8 bytes an ICMP error quotes */
			return -EINVAL;
		o->has_ports = true;
		o->sport = get16(pkt + off);
		o->dport = get16(pkt + off + 2);
		break;
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_:
		if ((o->proto == IPPROTO_ICMP_) != (o->family == AF_INET))
			break;		/* the other family's ICMP: opaque */
		if (left < 4)
			return -EINVAL;
		o->has_icmp = true;
		o->icmp_type = pkt[off];
		o->icmp_code = pkt[off + 1];
		break;
	default:
		break;
	}
	return 0;
}

static int
parse4(const uint8_t *pkt, size_t len, struct flt_pkt *o)
{
	size_t ihl, tot;
	uint16_t frag;

	if (len < 20)
		return -EINVAL;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	tot = get16(pkt + 2);
	if (ihl < 20 || tot < ihl || tot > len)
		return -EINVAL;
	o->family = AF_INET;
	o->len = tot;
	o->hlen = ihl;
	o->proto = pkt[9];
	o->src = pkt + 12;
	o->dst = pkt + 16;
	frag = get16(pkt + 6);
	o->frag = (frag & 0x3fff) != 0;		/* MF or an offset */
	o->later_frag = (frag & 0x1fff) != 0;
	if (o->later_frag) {
		/* RFC 1858: offset 1 can only rewrite a TCP header. */
		if ((frag & 0x1fff) == 1 && o->proto == IPPROTO_TCP_)
			return -EINVAL;
		return 0;
	}
	return parse_l4(pkt, o, ihl);
}

static int
parse6(const uint8_t *pkt, size_t len, struct flt_pkt *o)
{
	size_t off = 40, elen;
	uint8_t nh;
	int i;

	if (len < 40)
		return -EINVAL;
	o->family = AF_INET6;
	o->len = 40 + (size_t)get16(pkt + 4);
	if (o->len > len)
		return -EINVAL;
	o->src = pkt + 8;
	o->dst = pkt + 24;
	nh = pkt[6];
	for (i = 0; ; i++) {
		switch (nh) {
		case 0:			/* hop-by-hop (only first, RFC 8200) */
			if (off != 40)
				return -EINVAL;
			/* FALLTHROUGH */
		case 43:		/* routing */
		case 60:		/* destination options */
		case 51:		/* AH: length in 4-byte units */
			if (i >= EXT_MAX || o->len - off < 8)
				return -EINVAL;
			elen = nh == 51 ? ((size_t)pkt[off + 1] + 2) * 4 :
			    ((size_t)pkt[off + 1] + 1) * 8;
			if (o->len - off < elen)
				return -EINVAL;
			nh = pkt[off];
			off += elen;
			continue;
		case 44:		/* fragment */
			if (i >= EXT_MAX || o->len - off < 8 || o->frag)
				return -EINVAL;
			o->frag = true;
			o->later_frag = (get16(pkt + off + 2) & 0xfff8) != 0;
			nh = pkt[off];
			off += 8;
			if (o->later_frag) {
				o->proto = nh;
				o->hlen = off;
				return 0;
			}
			continue;
		default:
			break;
		}
		break;
	}
	o->proto = nh;
	o->hlen = off;
	/* RFC 8200/7112: a first fragment carries the whole header chain. */
	return parse_l4(pkt, o, off);
}

int
flt_parse(const uint8_t *pkt, size_t len, struct flt_pkt *out)
{
	struct flt_pkt o;
	int rc;

	memset(&o, 0, sizeof(o));
	if (len < 1)
		return -EINVAL;
	switch (pkt[0] >> 4) {
	case 4:
		rc = parse4(pkt, len, &o);
		break;
	case 6:
		rc = parse6(pkt, len, &o);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc == 0)
		*out = o;
	return rc;
}

/* --- filters -------------------------------------------------------- */

bool
flt_rules_allow(const struct flt_rule *r, size_t n, const struct flt_pkt *p)
{
	size_t i;
	bool icmp = p->proto == (p->family == AF_INET ? IPPROTO_ICMP_ :
	    IPPROTO_ICMPV6_);

	if (n == 0)
		return true;
	if (p->later_frag)
		return false;
	for (i = 0; i < n; i++) {
		switch (r[i].proto) {
		case FLT_TCP:
		case FLT_UDP:
			if (p->has_ports && p->proto == (r[i].proto ==
			    FLT_TCP ? IPPROTO_TCP_ : IPPROTO_UDP_) &&
			    p->dport >= r[i].lo && p->dport <= r[i].hi)
				return true;
			break;
		case FLT_ICMP:
			if (icmp)
				return true;
			break;
		}
	}
	return false;
}

static int
parse_port(const char **sp, uint16_t *out)
{
	const char *s = *sp;
	unsigned long v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned long)(*s++ - '0');
		if (v > 65535)
			return -EINVAL;
	}
	*out = (uint16_t)v;
	*sp = s;
	return 0;
}

int
flt_rules_parse(const char *s, struct flt_rule *out, size_t max)
{
	struct flt_rule r;
	size_t n = 0;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	for (;;) {
		memset(&r, 0, sizeof(r));
		if (strncmp(s, "icmp", 4) == 0) {
			r.proto = FLT_ICMP;
			s += 4;
		} else if (strncmp(s, "tcp ", 4) == 0 ||
		    strncmp(s, "udp ", 4) == 0) {
			r.proto = s[0] == 't' ? FLT_TCP : FLT_UDP;
			s += 4;
			if (parse_port(&s, &r.lo) != 0 || *s++ != '-' ||
			    parse_port(&s, &r.hi) != 0 || r.hi < r.lo)
				return -EINVAL;
		} else
			return -EINVAL;
		if (n == max)
			return -ENOSPC;
		out[n++] = r;
		if (*s == '\0')
			return (int)n;
		if (s[0] != ',' || s[1] != ' ')
			return -EINVAL;
		s += 2;
	}
}

int
flt_rules_fmt(const struct flt_rule *r, size_t n, char *buf, size_t len)
{
	size_t i, off = 0;
	int w;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (r[i].proto == FLT_ICMP)
			w = snprintf(buf + off, len - off, "%sicmp",
			    i ? ", " : "");
		else
			w = snprintf(buf + off, len - off, "%s%s %u-%u",
			    i ? ", " : "", r[i].proto == FLT_TCP ? "tcp" :
			    "udp", r[i].lo, r[i].hi);
		if (w < 0 || (size_t)w >= len - off)
			return -ENOSPC;
		off += (size_t)w;
	}
	return 0;
}

/* --- address classes ------------------------------------------------ */

static bool
in_prefix(const uint8_t *a, const uint8_t *net, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, net, full) != 0)
		return false;
	return rest == 0 ||
	    ((a[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static const uint8_t tun6[16] = { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11 };
static const uint8_t proxy6[16] = { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11,
    0x80, 0x00 };

bool
flt_is_tunnel_ip(int family, const uint8_t *a)
{
	static const uint8_t tun4[4] = { 100, 64 };

	return family == AF_INET ? in_prefix(a, tun4, 11) :
	    in_prefix(a, tun6, 107);
}

bool
flt_is_proxy_ip(int family, const uint8_t *a)
{
	static const uint8_t proxy4[4] = { 100, 96 };

	return family == AF_INET ? in_prefix(a, proxy4, 11) :
	    in_prefix(a, proxy6, 107);
}

bool
flt_is_multicast(int family, const uint8_t *a)
{
	return family == AF_INET ? (a[0] & 0xf0) == 0xe0 : a[0] == 0xff;
}

bool
flt_is_special(int family, const uint8_t *a)
{
	static const struct { uint8_t net[4]; unsigned bits; } v4[] = {
		{ { 0 }, 8 }, { { 10 }, 8 }, { { 100, 64 }, 10 },
		{ { 127 }, 8 }, { { 169, 254 }, 16 }, { { 172, 16 }, 12 },
		{ { 192, 168 }, 16 }, { { 224 }, 4 }, { { 240 }, 4 },
	};
	static const struct { uint8_t net[16]; unsigned bits; } v6[] = {
		{ { 0 }, 127 },					/* ::, ::1 */
		{ { [10] = 0xff, [11] = 0xff }, 96 },		/* v4-mapped */
		{ { 0xfc }, 7 }, { { 0xfe, 0x80 }, 10 }, { { 0xff }, 8 },
	};
	size_t i;

	if (family == AF_INET) {
		for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
			if (in_prefix(a, v4[i].net, v4[i].bits))
				return true;
		return false;
	}
	for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
		if (in_prefix(a, v6[i].net, v6[i].bits))
			return true;
	return false;
}

/* --- the access table ----------------------------------------------- */

struct prefix {
	struct fz_cidr	 c;
	bool		 reachable;	/* a proxy IP with a target */
	bool		 provisional;	/* a DNS access's whole proxy range */
};

struct access {
	char			 rid[FLT_ID_MAX + 1];
	enum flt_res_type	 type;
	struct prefix		*pfx;
	size_t			 npfx;
	struct flt_rule		*rules;
	size_t			 nrules;
	uint64_t		 expires;	/* 0 never */
	bool			 mark;		/* sync: not yet kept */
};

struct client {
	char		 id[FLT_ID_MAX + 1];
	bool		 has4, has6;
	uint8_t		 ip4[4], ip6[16];
	struct access	*acc;
	size_t		 nacc;
};

/* A client's tunnel address, for the per-packet lookup by source. */
struct ix {
	uint8_t		 a[16];
	size_t		 ci;
};

struct flt_table {
	struct client	*cl;
	size_t		 ncl;
	struct ix	*ix[2];		/* IPv4, IPv6: sorted by address */
	size_t		 nix[2];
	bool		 indexed;	/* else (out of memory) linear */
	bool		 self4, self6;
	uint8_t		 self4a[4], self6a[16];
};

struct flt_table *
flt_table_new(void)
{
	return calloc(1, sizeof(struct flt_table));
}

static int
access_copy(struct access *d, const struct access *a)
{
	*d = *a;
	d->pfx = NULL;
	d->rules = NULL;
	if (a->npfx > 0) {
		if ((d->pfx = calloc(a->npfx, sizeof(*d->pfx))) == NULL)
			return -ENOMEM;
		memcpy(d->pfx, a->pfx, a->npfx * sizeof(*d->pfx));
	}
	if (a->nrules > 0) {
		if ((d->rules = calloc(a->nrules, sizeof(*d->rules))) ==
		    NULL) {
			free(d->pfx);
			return -ENOMEM;
		}
		memcpy(d->rules, a->rules, a->nrules * sizeof(*d->rules));
	}
	return 0;
}

static void
access_clear(struct access *a)
{
	free(a->pfx);
	free(a->rules);
}

static void
client_clear(struct client *c)
{
	size_t i;

	for (i = 0; i < c->nacc; i++)
		access_clear(&c->acc[i]);
	free(c->acc);
}

void
flt_table_free(struct flt_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ncl; i++)
		client_clear(&t->cl[i]);
	free(t->cl);
	free(t->ix[0]);
	free(t->ix[1]);
	free(t);
}

static int
ix_cmp4(const void *a, const void *b)
{
	return memcmp(((const struct ix *)a)->a, ((const struct ix *)b)->a, 4);
}

static int
ix_cmp6(const void *a, const void *b)
{
	return memcmp(((const struct ix *)a)->a, ((const struct ix *)b)->a,
	    16);
}

/* After any change to the clients or their addresses. */
static void
reindex(struct flt_table *t)
{
	struct ix *x[2] = { NULL, NULL };
	size_t n[2] = { 0, 0 }, i;

	t->indexed = false;
	if (t->ncl > 0 && ((x[0] = calloc(t->ncl, sizeof(*x[0]))) == NULL ||
	    (x[1] = calloc(t->ncl, sizeof(*x[1]))) == NULL)) {
		free(x[0]);
		return;			/* linear until the next change */
	}
	for (i = 0; i < t->ncl; i++) {
		if (t->cl[i].has4) {
			memcpy(x[0][n[0]].a, t->cl[i].ip4, 4);
			x[0][n[0]++].ci = i;
		}
		if (t->cl[i].has6) {
			memcpy(x[1][n[1]].a, t->cl[i].ip6, 16);
			x[1][n[1]++].ci = i;
		}
	}
	if (n[0] > 1)
		qsort(x[0], n[0], sizeof(*x[0]), ix_cmp4);
	if (n[1] > 1)
		qsort(x[1], n[1], sizeof(*x[1]), ix_cmp6);
	free(t->ix[0]);
	free(t->ix[1]);
	t->ix[0] = x[0];
	t->ix[1] = x[1];
	t->nix[0] = n[0];
	t->nix[1] = n[1];
	t->indexed = true;
}

struct flt_table *
flt_table_clone(const struct flt_table *t)
{
	struct flt_table *n;
	size_t ci, ai;

	if ((n = flt_table_new()) == NULL)
		return NULL;
	n->self4 = t->self4;
	n->self6 = t->self6;
	memcpy(n->self4a, t->self4a, sizeof(n->self4a));
	memcpy(n->self6a, t->self6a, sizeof(n->self6a));
	if (t->ncl > 0 && (n->cl = calloc(t->ncl, sizeof(*n->cl))) == NULL)
		goto fail;
	for (ci = 0; ci < t->ncl; ci++, n->ncl++) {
		struct client *d = &n->cl[ci];
		const struct client *c = &t->cl[ci];

		*d = *c;
		d->acc = NULL;
		d->nacc = 0;
		if (c->nacc > 0 &&
		    (d->acc = calloc(c->nacc, sizeof(*d->acc))) == NULL)
			goto fail_client;
		for (ai = 0; ai < c->nacc; ai++, d->nacc++)
			if (access_copy(&d->acc[ai], &c->acc[ai]) != 0)
				goto fail_client;
	}
	reindex(n);
	return n;
fail_client:
	n->ncl++;			/* the partial client is freed too */
fail:
	flt_table_free(n);
	return NULL;
}

/* "" -> absent; else one address of the family. */
static int
ip_of(const char *s, int family, bool *has, uint8_t *out)
{
	struct fz_cidr c;

	if (s == NULL || *s == '\0') {
		*has = false;
		return 0;
	}
	if (cidr_parse(s, false, &c) != 0 || c.family != family ||
	    c.prefix != (family == AF_INET ? 32 : 128))
		return -EINVAL;
	memcpy(out, c.addr, family == AF_INET ? 4 : 16);
	*has = true;
	return 0;
}

int
flt_table_set_self(struct flt_table *t, const char *ipv4, const char *ipv6)
{
	bool h4, h6;
	uint8_t a4[4], a6[16];

	if (ip_of(ipv4, AF_INET, &h4, a4) != 0 ||
	    ip_of(ipv6, AF_INET6, &h6, a6) != 0)
		return -EINVAL;
	t->self4 = h4;
	t->self6 = h6;
	memcpy(t->self4a, a4, 4);
	memcpy(t->self6a, a6, 16);
	return 0;
}

static bool
id_ok(const char *s)
{
	return s != NULL && *s != '\0' && strlen(s) <= FLT_ID_MAX;
}

static struct client *
client_find(const struct flt_table *t, const char *id)
{
	size_t i;

	for (i = 0; i < t->ncl; i++)
		if (strcmp(t->cl[i].id, id) == 0)
			return &t->cl[i];
	return NULL;
}

static struct access *
access_find(const struct client *c, const char *rid)
{
	size_t i;

	for (i = 0; i < c->nacc; i++)
		if (strcmp(c->acc[i].rid, rid) == 0)
			return &c->acc[i];
	return NULL;
}

static int
rules_copy(struct flt_rule **out, const struct flt_rule *r, size_t n)
{
	struct flt_rule *m = NULL;

	if (n > 0) {
		if ((m = calloc(n, sizeof(*m))) == NULL)
			return -ENOMEM;
		memcpy(m, r, n * sizeof(*m));
	}
	*out = m;
	return 0;
}

int
flt_access_set(struct flt_table *t, const char *client_id, const char *ipv4,
    const char *ipv6, const char *rid, enum flt_res_type type,
    const char *address, const struct flt_rule *rules, size_t nrules,
    uint64_t expires_at)
{
	struct client *c, *ncl;
	struct access *a, *nacc;
	struct flt_rule *rc;
	struct prefix *pfx = NULL;
	bool h4, h6;
	uint8_t a4[4], a6[16];
	size_t i;

	if (!id_ok(client_id) || !id_ok(rid) ||
	    ip_of(ipv4, AF_INET, &h4, a4) != 0 ||
	    ip_of(ipv6, AF_INET6, &h6, a6) != 0)
		return -EINVAL;
	for (i = 0; i < nrules; i++)
		if (rules[i].proto != FLT_ICMP && rules[i].lo > rules[i].hi)
			return -EINVAL;
	if (type == FLT_RES_DNS && (pfx = calloc(2, sizeof(*pfx))) != NULL) {
		/*
		 * Until its proxy IPs are known (flt_access_add_prefix), a
		 * DNS access holds both proxy ranges: the client's DNS
		 * resources' filters then apply as one union.
		 */
		if (cidr_parse("100.96.0.0/11", false, &pfx[0].c) != 0 ||
		    cidr_parse("fd00:2021:1111:8000::/107", false,
		    &pfx[1].c) != 0) {
			free(pfx);
			return -EINVAL;
		}
		pfx[0].reachable = pfx[1].reachable = true;
		pfx[0].provisional = pfx[1].provisional = true;
	} else if (type == FLT_RES_DNS)
		return -ENOMEM;
	if (type == FLT_RES_CIDR) {
		if ((pfx = calloc(1, sizeof(*pfx))) == NULL)
			return -ENOMEM;
		if (address == NULL || cidr_parse(address, false,
		    &pfx->c) != 0) {
			free(pfx);
			return -EINVAL;
		}
		pfx->reachable = true;
	}
	if (rules_copy(&rc, rules, nrules) != 0) {
		free(pfx);
		return -ENOMEM;
	}
	if ((c = client_find(t, client_id)) == NULL) {
		if ((ncl = realloc(t->cl, (t->ncl + 1) *
		    sizeof(*ncl))) == NULL)
			goto nomem;
		t->cl = ncl;
		c = &t->cl[t->ncl++];
		memset(c, 0, sizeof(*c));
		snprintf(c->id, sizeof(c->id), "%s", client_id);
	}
	/* The portal's latest addresses for the client win. */
	c->has4 = h4;
	c->has6 = h6;
	memcpy(c->ip4, a4, 4);
	memcpy(c->ip6, a6, 16);
	if ((a = access_find(c, rid)) == NULL) {
		if ((nacc = realloc(c->acc, (c->nacc + 1) *
		    sizeof(*nacc))) == NULL)
			goto nomem_client;
		c->acc = nacc;
		a = &c->acc[c->nacc++];
		memset(a, 0, sizeof(*a));
		snprintf(a->rid, sizeof(a->rid), "%s", rid);
	} else if (type != FLT_RES_CIDR && a->type == type) {
		/* DNS/Internet: the prefixes learnt so far stay. */
		free(a->rules);
		free(pfx);
		goto fill;
	} else
		access_clear(a);
	a->pfx = pfx;
	a->npfx = pfx == NULL ? 0 : type == FLT_RES_DNS ? 2 : 1;
fill:
	a->type = type;
	a->rules = rc;
	a->nrules = nrules;
	a->expires = expires_at;
	a->mark = false;
	reindex(t);
	return 0;
nomem_client:
	if (c->nacc == 0)		/* just added: take it back */
		t->ncl--;
nomem:
	free(rc);
	free(pfx);
	return -ENOMEM;
}

int
flt_access_add_prefix(struct flt_table *t, const char *client_id,
    const char *rid, const struct fz_cidr *pc, bool reachable)
{
	struct client *c;
	struct access *a;
	struct prefix *n;
	size_t i;

	if (client_id == NULL || rid == NULL ||
	    (c = client_find(t, client_id)) == NULL ||
	    (a = access_find(c, rid)) == NULL)
		return -ENOENT;
	/* The first real prefix replaces the provisional ranges. */
	if (a->npfx > 0 && a->pfx[0].provisional)
		a->npfx = 0;
	for (i = 0; i < a->npfx; i++)
		if (a->pfx[i].c.family == pc->family &&
		    a->pfx[i].c.prefix == pc->prefix &&
		    memcmp(a->pfx[i].c.addr, pc->addr, 16) == 0) {
			a->pfx[i].reachable = reachable;
			return 0;
		}
	if ((n = realloc(a->pfx, (a->npfx + 1) * sizeof(*n))) == NULL)
		return -ENOMEM;
	a->pfx = n;
	n[a->npfx].c = *pc;
	n[a->npfx].reachable = reachable;
	n[a->npfx].provisional = false;
	a->npfx++;
	return 0;
}

static void
access_remove(struct flt_table *t, size_t ci, size_t ai)
{
	struct client *c = &t->cl[ci];

	access_clear(&c->acc[ai]);
	c->acc[ai] = c->acc[--c->nacc];
	if (c->nacc == 0) {
		client_clear(c);
		t->cl[ci] = t->cl[--t->ncl];
	}
}

int
flt_access_del(struct flt_table *t, const char *client_id, const char *rid)
{
	size_t ci, ai;

	for (ci = 0; ci < t->ncl; ci++) {
		if (strcmp(t->cl[ci].id, client_id) != 0)
			continue;
		for (ai = 0; ai < t->cl[ci].nacc; ai++)
			if (strcmp(t->cl[ci].acc[ai].rid, rid) == 0) {
				access_remove(t, ci, ai);
				reindex(t);
				return 0;
			}
	}
	return -ENOENT;
}

size_t
flt_resource_update(struct flt_table *t, const char *rid,
    const struct flt_rule *rules, size_t nrules)
{
	size_t ci, ai, n = 0;
	struct access *a;
	struct flt_rule *r;

	for (ci = 0; ci < t->ncl; ci++)
		for (ai = 0; ai < t->cl[ci].nacc; ai++) {
			a = &t->cl[ci].acc[ai];
			if (strcmp(a->rid, rid) != 0)
				continue;
			if (rules_copy(&r, rules, nrules) != 0) {
				/* Out of memory: fail closed (expired). */
				free(a->rules);
				a->rules = NULL;
				a->nrules = 0;
				a->expires = 1;	/* expired: refuses */
				continue;
			}
			free(a->rules);
			a->rules = r;
			a->nrules = nrules;
			n++;
		}
	return n;
}

void
flt_sync_begin(struct flt_table *t)
{
	size_t ci, ai;

	for (ci = 0; ci < t->ncl; ci++)
		for (ai = 0; ai < t->cl[ci].nacc; ai++)
			t->cl[ci].acc[ai].mark = true;
}

int
flt_sync_keep(struct flt_table *t, const char *client_id, const char *rid,
    uint64_t expires_at)
{
	struct client *c;
	struct access *a;

	if (client_id == NULL || rid == NULL ||
	    (c = client_find(t, client_id)) == NULL ||
	    (a = access_find(c, rid)) == NULL)
		return -ENOENT;
	a->mark = false;
	a->expires = expires_at;
	return 0;
}

size_t
flt_sync_end(struct flt_table *t)
{
	size_t ci, ai, n = 0;

	for (ci = 0; ci < t->ncl; ) {
		for (ai = 0; ai < t->cl[ci].nacc; ) {
			if (t->cl[ci].acc[ai].mark) {
				n++;
				if (t->cl[ci].nacc == 1) {
					access_remove(t, ci, ai);
					goto next_client;	/* ci refilled */
				}
				access_remove(t, ci, ai);
			} else
				ai++;
		}
		ci++;
next_client:
		;
	}
	if (n > 0)
		reindex(t);
	return n;
}

static bool
expired(const struct access *a, uint64_t now)
{
	return a->expires != 0 && now >= a->expires;
}

size_t
flt_expire(struct flt_table *t, uint64_t now,
    void (*gone)(const char *, void *), void *arg)
{
	char id[FLT_ID_MAX + 1];
	size_t ci, ai, n = 0;

	for (ci = 0; ci < t->ncl; ) {
		for (ai = 0; ai < t->cl[ci].nacc; ) {
			if (!expired(&t->cl[ci].acc[ai], now)) {
				ai++;
				continue;
			}
			n++;
			if (t->cl[ci].nacc == 1) {
				memcpy(id, t->cl[ci].id, sizeof(id));
				access_remove(t, ci, ai);
				if (gone != NULL)
					gone(id, arg);
				goto next_client;
			}
			access_remove(t, ci, ai);
		}
		ci++;
next_client:
		;
	}
	if (n > 0)
		reindex(t);
	return n;
}

uint64_t
flt_next_expiry(const struct flt_table *t)
{
	uint64_t m = 0;
	size_t ci, ai;

	for (ci = 0; ci < t->ncl; ci++)
		for (ai = 0; ai < t->cl[ci].nacc; ai++) {
			uint64_t e = t->cl[ci].acc[ai].expires;

			if (e != 0 && (m == 0 || e < m))
				m = e;
		}
	return m;
}

size_t
flt_nclients(const struct flt_table *t)
{
	return t->ncl;
}

size_t
flt_naccesses(const struct flt_table *t)
{
	size_t ci, n = 0;

	for (ci = 0; ci < t->ncl; ci++)
		n += t->cl[ci].nacc;
	return n;
}

/* --- decisions ------------------------------------------------------ */

const char *
flt_verdict_name(enum flt_verdict v)
{
	static const char *const names[] = { "pass", "drop", "prohibited",
	    "unreachable" };

	return (unsigned)v < 4 ? names[v] : "?";
}

static const struct client *
client_by_src(const struct flt_table *t, const struct flt_pkt *p)
{
	const struct ix *x;
	struct ix key;
	int v6 = p->family == AF_INET6;
	size_t i;

	if (t->indexed) {
		if (t->nix[v6] == 0)
			return NULL;
		memcpy(key.a, p->src, v6 ? 16 : 4);
		x = bsearch(&key, t->ix[v6], t->nix[v6], sizeof(key),
		    v6 ? ix_cmp6 : ix_cmp4);
		return x != NULL ? &t->cl[x->ci] : NULL;
	}
	for (i = 0; i < t->ncl; i++) {
		const struct client *c = &t->cl[i];

		if (p->family == AF_INET ? c->has4 &&
		    memcmp(c->ip4, p->src, 4) == 0 : c->has6 &&
		    memcmp(c->ip6, p->src, 16) == 0)
			return c;
	}
	return NULL;
}

static bool
icmp_error(const struct flt_pkt *p)
{
	if (!p->has_icmp)
		return false;
	if (p->family == AF_INET6)
		return p->icmp_type < 128;
	switch (p->icmp_type) {
	case 3: case 4: case 5: case 11: case 12:
		return true;
	default:
		return false;
	}
}

/*
 * The client's best matching access (§4.3 step 3, §5.2 step 4): among
 * unexpired prefixes containing dst, one whose filters admit the packet,
 * then the longest prefix.  *pf the prefix.
 */
static const struct access *
best_match(const struct client *c, const struct flt_pkt *p, uint64_t now,
    bool use_now, const struct prefix **pf)
{
	const struct access *best = NULL;
	const struct prefix *bp = NULL;
	bool best_ok = false, ok;
	size_t ai, i;

	for (ai = 0; ai < c->nacc; ai++) {
		const struct access *a = &c->acc[ai];

		if (use_now && expired(a, now))
			continue;
		for (i = 0; i < a->npfx; i++) {
			const struct prefix *x = &a->pfx[i];

			if (!cidr_contains(&x->c, p->family, p->dst))
				continue;
			ok = flt_rules_allow(a->rules, a->nrules, p);
			if (best == NULL || (ok && !best_ok) ||
			    (ok == best_ok && x->c.prefix > bp->c.prefix)) {
				best = a;
				bp = x;
				best_ok = ok;
			}
		}
	}
	*pf = bp;
	return best;
}

static const struct access *
internet_access(const struct client *c, uint64_t now)
{
	size_t ai;

	for (ai = 0; ai < c->nacc; ai++)
		if (c->acc[ai].type == FLT_RES_INTERNET &&
		    !expired(&c->acc[ai], now))
			return &c->acc[ai];
	return NULL;
}

static void
set_rid(char *out, const struct access *a)
{
	if (out != NULL)
		snprintf(out, FLT_ID_MAX + 1, "%s", a != NULL ? a->rid : "");
}

static void
set_cid(char *out, const struct client *c)
{
	if (out != NULL)
		snprintf(out, FLT_ID_MAX + 1, "%s", c != NULL ? c->id : "");
}

/* The p2p control protocol (§4.6): :: -> ::, next header 0xff. */
static bool
is_control(const struct flt_pkt *p)
{
	static const uint8_t zero[16];

	return p->family == AF_INET6 && p->proto == 0xff &&
	    memcmp(p->src, zero, 16) == 0 && memcmp(p->dst, zero, 16) == 0;
}

enum flt_verdict
flt_check(const struct flt_table *t, const struct flt_pkt *p, uint64_t now,
    char rid[FLT_ID_MAX + 1])
{
	return flt_check_ids(t, p, now, rid, NULL);
}

enum flt_verdict
flt_check_ids(const struct flt_table *t, const struct flt_pkt *p,
    uint64_t now, char rid[FLT_ID_MAX + 1], char cid[FLT_ID_MAX + 1])
{
	const struct client *c;
	const struct access *a;
	const struct prefix *pf;

	set_rid(rid, NULL);
	set_cid(cid, NULL);
	if (is_control(p))
		return FLT_PASS;		/* §4.6, for its handler */
	if ((c = client_by_src(t, p)) == NULL)
		return FLT_DROP;		/* spoofed or unknown */
	set_cid(cid, c);
	if (flt_is_multicast(p->family, p->dst) || icmp_error(p))
		return FLT_DROP;
	if (p->family == AF_INET ? t->self4 && memcmp(p->dst, t->self4a,
	    4) == 0 : t->self6 && memcmp(p->dst, t->self6a, 16) == 0)
		return FLT_PASS;
	if (flt_is_tunnel_ip(p->family, p->dst))
		return FLT_DROP;		/* no hairpin */
	if ((a = best_match(c, p, now, true, &pf)) != NULL) {
		set_rid(rid, a);
		if (!flt_rules_allow(a->rules, a->nrules, p))
			return FLT_PROHIBITED;
		return pf->reachable ? FLT_PASS : FLT_UNREACHABLE;
	}
	if (flt_is_proxy_ip(p->family, p->dst))
		return FLT_PROHIBITED;		/* no DNS access has it */
	if ((a = internet_access(c, now)) != NULL) {
		set_rid(rid, a);
		if (flt_is_special(p->family, p->dst))
			return FLT_UNREACHABLE;
		return flt_rules_allow(a->rules, a->nrules, p) ? FLT_PASS :
		    FLT_PROHIBITED;
	}
	return FLT_PROHIBITED;
}

static const struct client *
client_by_dst(const struct flt_table *t, const struct flt_pkt *p)
{
	struct flt_pkt q = *p;

	q.src = p->dst;
	return client_by_src(t, &q);
}

enum flt_verdict
flt_check_return(const struct flt_table *t, const struct flt_pkt *p,
    uint64_t now)
{
	return flt_check_return_ids(t, p, now, NULL, NULL);
}

enum flt_verdict
flt_check_return_ids(const struct flt_table *t, const struct flt_pkt *p,
    uint64_t now, char rid[FLT_ID_MAX + 1], char cid[FLT_ID_MAX + 1])
{
	const struct client *c;
	const struct access *a;
	size_t ai, i;

	set_rid(rid, NULL);
	set_cid(cid, NULL);
	if (is_control(p))
		return FLT_PASS;
	if ((c = client_by_dst(t, p)) == NULL)
		return FLT_DROP;
	set_cid(cid, c);
	if (p->family == AF_INET ? t->self4 && memcmp(p->src, t->self4a,
	    4) == 0 : t->self6 && memcmp(p->src, t->self6a, 16) == 0)
		return FLT_PASS;
	if (flt_is_tunnel_ip(p->family, p->src))
		return FLT_DROP;
	if (icmp_error(p))
		return FLT_PASS;
	for (ai = 0; ai < c->nacc; ai++) {
		a = &c->acc[ai];
		if (expired(a, now))
			continue;
		if (a->type == FLT_RES_INTERNET &&
		    !flt_is_special(p->family, p->src) &&
		    !flt_is_proxy_ip(p->family, p->src)) {
			set_rid(rid, a);
			return FLT_PASS;
		}
		for (i = 0; i < a->npfx; i++)
			if (cidr_contains(&a->pfx[i].c, p->family, p->src)) {
				set_rid(rid, a);
				return FLT_PASS;
			}
	}
	return FLT_DROP;
}

enum flt_verdict
flt_client_check(const struct flt_table *t, const char *client_id,
    const struct flt_pkt *p)
{
	const struct client *c;
	const struct access *a;
	const struct prefix *pf;

	if ((c = client_find(t, client_id)) == NULL ||
	    (a = best_match(c, p, 0, false, &pf)) == NULL)
		return FLT_PASS;
	return flt_rules_allow(a->rules, a->nrules, p) ? FLT_PASS :
	    FLT_PROHIBITED;
}

/* --- ICMP errors ---------------------------------------------------- */

static uint32_t
sum16(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static bool
may_answer(const struct flt_pkt *p)
{
	static const uint8_t zero[16];
	static const uint8_t bcast[4] = { 255, 255, 255, 255 };
	size_t al = p->family == AF_INET ? 4 : 16;

	if (p->later_frag || icmp_error(p) ||
	    flt_is_multicast(p->family, p->dst) ||
	    flt_is_multicast(p->family, p->src) ||
	    memcmp(p->src, zero, al) == 0)
		return false;
	if (p->family == AF_INET && (memcmp(p->dst, bcast, 4) == 0 ||
	    memcmp(p->src, bcast, 4) == 0))
		return false;
	/* An ICMP error for a packet that is itself malformed ICMP: no. */
	if (p->proto == (p->family == AF_INET ? IPPROTO_ICMP_ :
	    IPPROTO_ICMPV6_) && !p->has_icmp)
		return false;
	return true;
}

size_t
flt_icmp_build(const struct flt_pkt *p, const uint8_t *pkt,
    enum flt_verdict v, uint8_t *out, size_t outlen)
{
	size_t q, tot;
	uint32_t s;

	if ((v != FLT_PROHIBITED && v != FLT_UNREACHABLE) || !may_answer(p))
		return 0;
	if (p->family == AF_INET) {
		q = p->hlen + 8 < p->len ? p->hlen + 8 : p->len;
		tot = 20 + 8 + q;
		if (tot > outlen)
			return 0;
		memset(out, 0, 28);
		out[0] = 0x45;
		put16(out + 2, (uint16_t)tot);
		out[8] = 20;				/* TTL */
		out[9] = IPPROTO_ICMP_;
		memcpy(out + 12, p->dst, 4);
		memcpy(out + 16, p->src, 4);
		put16(out + 10, fold(sum16(0, out, 20)));
		out[20] = 3;				/* dest unreachable */
		out[21] = v == FLT_PROHIBITED ? 13 : 0;
		memcpy(out + 28, pkt, q);
		put16(out + 22, fold(sum16(0, out + 20, 8 + q)));
		return tot;
	}
	q = p->len < FLT_ICMP_MAX - 48 ? p->len : FLT_ICMP_MAX - 48;
	tot = 40 + 8 + q;
	if (tot > outlen)
		return 0;
	memset(out, 0, 48);
	out[0] = 0x60;
	put16(out + 4, (uint16_t)(8 + q));
	out[6] = IPPROTO_ICMPV6_;
	out[7] = 20;					/* hop limit */
	memcpy(out + 8, p->dst, 16);
	memcpy(out + 24, p->src, 16);
	out[40] = 1;					/* dest unreachable */
	out[41] = v == FLT_PROHIBITED ? 1 : 3;
	memcpy(out + 48, pkt, q);
	s = sum16(0, out + 8, 32);			/* pseudo-header */
	s += (uint32_t)(8 + q);
	s += IPPROTO_ICMPV6_;
	s = sum16(s, out + 40, 8 + q);
	put16(out + 42, fold(s));
	return tot;
}
