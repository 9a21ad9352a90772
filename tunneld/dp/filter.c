/* SPDX-License-Identifier: ISC */
/*
 * Resource enforcement (filter.h), the table side: the client access
 * table and the decisions (the packet side is filter_pkt.c).  The table
 * is arrays: clients are found by source address in a sorted index
 * (rebuilt after each change), their accesses searched linearly; the
 * per-packet path allocates nothing.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

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
	if (flt_is_multicast(p->family, p->dst) || flt_is_icmp_error(p))
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
	if (flt_is_icmp_error(p))
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

bool
flt_has_client(const struct flt_table *t, const char *client_id)
{
	return client_find(t, client_id) != NULL;
}
