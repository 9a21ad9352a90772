/* SPDX-License-Identifier: ISC */
/* gw_p2p.h: a gateway's clients, their accesses and assigned_ips. */
#define LOG_MODULE "gateway"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_dnsres.h"
#include "gw_p2p.h"
#include "log.h"
#include "p2p.h"

struct access {
	portal_id	 rid;
	uint64_t	 expires_at;		/* 0 never */
	bool		 dns;
	char		 pattern[PORTAL_ADDR_MAX + 1];
	bool		 mark;			/* init: listed */
};

struct client {
	portal_id	 id;
	char		 key[PORTAL_KEY_MAX + 1];
	char		 ipv4[PORTAL_IP_MAX + 1], ipv6[PORTAL_IP_MAX + 1];
	struct access	*acc;
	size_t		 nacc, cap;
};

/* A resolution in flight; orphaned (g NULL) when gw_p2p_free came first. */
struct pending {
	struct pending	*next;
	struct gw_p2p	*g;
	struct p2p_msg	 m;			/* the assigned_ips */
	portal_id	 cid;
	char		 key[PORTAL_KEY_MAX + 1];
};

struct gw_p2p {
	const struct gw_p2p_ops	*ops;
	void			*arg;
	struct gw_dnsres	*dr;
	struct client		*c;
	size_t			 nc, cap;
	struct pending		*pend;
	size_t			 npend;
	uint64_t		 now;		/* of the last call */
	struct gw_p2p_stats	 st;
	struct log_ratelimit	 rl;
};

struct gw_p2p *
gw_p2p_new(const struct gw_p2p_ops *ops, void *arg)
{
	struct gw_p2p *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	if ((g->dr = gw_dnsres_new()) == NULL) {
		free(g);
		return NULL;
	}
	g->ops = ops;
	g->arg = arg;
	g->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 10);
	return g;
}

void
gw_p2p_free(struct gw_p2p *g)
{
	struct pending *p;
	size_t i;

	if (g == NULL)
		return;
	for (p = g->pend; p != NULL; p = p->next)
		p->g = NULL;		/* freed by their callbacks */
	for (i = 0; i < g->nc; i++)
		free(g->c[i].acc);
	free(g->c);
	gw_dnsres_free(g->dr);
	free(g);
}

static struct client *
client_by_id(struct gw_p2p *g, const char *id)
{
	for (size_t i = 0; i < g->nc; i++)
		if (strcmp(g->c[i].id, id) == 0)
			return &g->c[i];
	return NULL;
}

static struct client *
client_by_key(struct gw_p2p *g, const char *key)
{
	for (size_t i = 0; i < g->nc; i++)
		if (strcmp(g->c[i].key, key) == 0)
			return &g->c[i];
	return NULL;
}

static void
client_remove(struct gw_p2p *g, struct client *c)
{
	free(c->acc);
	*c = g->c[--g->nc];
}

static struct access *
access_find(struct client *c, const char *rid)
{
	for (size_t i = 0; i < c->nacc; i++)
		if (strcmp(c->acc[i].rid, rid) == 0)
			return &c->acc[i];
	return NULL;
}

/* Removes access a of c; the client goes with its last (goodbye first). */
static void
access_remove(struct gw_p2p *g, struct client *c, struct access *a,
    bool tell_expired)
{
	portal_id cid, rid;

	snprintf(cid, sizeof(cid), "%s", c->id);
	snprintf(rid, sizeof(rid), "%s", a->rid);
	(void)gw_dnsres_del(g->dr, cid, rid);
	*a = c->acc[--c->nacc];
	if (c->nacc == 0) {
		log_info("client %s: no access left, goodbye", cid);
		if (g->ops->client_gone != NULL)
			g->ops->client_gone(g->arg, cid, c->key);
		client_remove(g, c);
	}
	if (tell_expired && g->ops->expired != NULL)
		g->ops->expired(g->arg, cid, rid);
}

static void
create_authorization(struct gw_p2p *g,
    const struct portal_create_authorization *ca)
{
	const struct portal_gateway_client *cl = &ca->client;
	const struct portal_resource *r = &ca->resource;
	struct client *c;
	struct access *a, *na;
	int rc;

	if (cl->id[0] == '\0' || r->id[0] == '\0')
		return;
	if ((c = client_by_id(g, cl->id)) == NULL) {
		if (g->nc == GW_P2P_CLIENTS) {
			log_warnx("client %s: too many clients for DNS "
			    "resources", cl->id);
			return;
		}
		if (g->nc == g->cap) {
			size_t n = g->cap ? g->cap * 2 : 16;
			struct client *nc = realloc(g->c, n * sizeof(*nc));

			if (nc == NULL)
				return;
			g->c = nc;
			g->cap = n;
		}
		c = &g->c[g->nc++];
		memset(c, 0, sizeof(*c));
		snprintf(c->id, sizeof(c->id), "%s", cl->id);
	}
	/* A restarted client comes with a new key and addresses. */
	snprintf(c->key, sizeof(c->key), "%s", cl->public_key);
	snprintf(c->ipv4, sizeof(c->ipv4), "%s", cl->ipv4);
	snprintf(c->ipv6, sizeof(c->ipv6), "%s", cl->ipv6);
	if ((a = access_find(c, r->id)) == NULL) {
		if (c->nacc == GW_P2P_ACCESSES)
			return;
		if (c->nacc == c->cap) {
			size_t n = c->cap ? c->cap * 2 : 4;

			if ((na = realloc(c->acc, n * sizeof(*na))) == NULL)
				return;
			c->acc = na;
			c->cap = n;
		}
		a = &c->acc[c->nacc++];
		memset(a, 0, sizeof(*a));
		snprintf(a->rid, sizeof(a->rid), "%s", r->id);
	}
	a->expires_at = ca->has_expires_at ? ca->expires_at : 0;
	a->dns = r->type == PORTAL_RES_DNS;
	snprintf(a->pattern, sizeof(a->pattern), "%s", a->dns ? r->address :
	    "");
	if (a->dns && (rc = gw_dnsres_set(g->dr, c->id, r->id, r->address,
	    a->expires_at)) != 0)
		log_warnc(-rc, "client %s: DNS resource %s ('%s')", c->id,
		    r->id, r->address);
}

static void
reject_access(struct gw_p2p *g, const struct portal_reject_access *ra)
{
	struct client *c = client_by_id(g, ra->client_id);
	struct access *a;

	if (c == NULL || (a = access_find(c, ra->resource_id)) == NULL)
		return;
	access_remove(g, c, a, false);	/* the caller's conn_reject drops */
}

static void
resource_updated(struct gw_p2p *g, const struct portal_resource *r)
{
	struct access *a;

	if (r->type != PORTAL_RES_DNS)
		return;
	for (size_t i = 0; i < g->nc; i++)
		if ((a = access_find(&g->c[i], r->id)) != NULL && a->dns)
			snprintf(a->pattern, sizeof(a->pattern), "%s",
			    r->address);
	(void)gw_dnsres_update(g->dr, r->id, r->address);
}

/* init's authorizations: those not listed go, the listed get its expiry. */
static void
init_sync(struct gw_p2p *g, const struct portal_gateway_init *in)
{
	struct client *c;
	struct access *a;
	size_t i, j;

	for (i = 0; i < g->nc; i++)
		for (j = 0; j < g->c[i].nacc; j++)
			g->c[i].acc[j].mark = false;
	for (i = 0; i < in->n_authorizations; i++) {
		const struct portal_authorization *pa = &in->authorizations[i];

		if ((c = client_by_id(g, pa->client_id)) != NULL &&
		    (a = access_find(c, pa->resource_id)) != NULL) {
			a->mark = true;
			a->expires_at = pa->expires_at;
		}
	}
	for (i = 0; i < g->nc;) {
		size_t before = g->nc;

		c = &g->c[i];
		for (j = 0; j < c->nacc && g->nc == before;) {
			if (!c->acc[j].mark)
				access_remove(g, c, &c->acc[j], true);
			else
				j++;
		}
		if (g->nc == before)
			i++;
	}
	/* gw_dnsres again from the table: the refreshed expiries. */
	gw_dnsres_clear(g->dr);
	for (i = 0; i < g->nc; i++)
		for (j = 0; j < g->c[i].nacc; j++)
			if (g->c[i].acc[j].dns &&
			    gw_dnsres_set(g->dr, g->c[i].id, g->c[i].acc[j].rid,
			    g->c[i].acc[j].pattern,
			    g->c[i].acc[j].expires_at) != 0)
				log_warnx("client %s: DNS resource %s lost",
				    g->c[i].id, g->c[i].acc[j].rid);
}

void
gw_p2p_portal_msg(struct gw_p2p *g, const struct portal_msg *m, uint64_t now)
{
	g->now = now;
	switch (m->type) {
	case PM_CREATE_AUTHORIZATION:
		create_authorization(g, &m->u.create_authorization);
		break;
	case PM_GATEWAY_REJECT_ACCESS:
		reject_access(g, &m->u.reject_access);
		break;
	case PM_RESOURCE_UPDATED:
		resource_updated(g, &m->u.resource);
		break;
	case PM_GATEWAY_INIT:
		init_sync(g, &m->u.gateway_init);
		break;
	default:
		break;
	}
}

uint64_t
gw_p2p_expire(struct gw_p2p *g, uint64_t now)
{
	uint64_t next = 0;
	size_t i, j;

	g->now = now;
	for (i = 0; i < g->nc;) {
		struct client *c = &g->c[i];
		size_t before = g->nc;

		for (j = 0; j < c->nacc && g->nc == before;) {
			if (c->acc[j].expires_at != 0 &&
			    c->acc[j].expires_at <= now) {
				log_info("client %s: access to %s expired",
				    c->id, c->acc[j].rid);
				access_remove(g, c, &c->acc[j], true);
			} else
				j++;
		}
		if (g->nc == before)
			i++;
	}
	for (i = 0; i < g->nc; i++)
		for (j = 0; j < g->c[i].nacc; j++) {
			uint64_t e = g->c[i].acc[j].expires_at;

			if (e != 0 && (next == 0 || e < next))
				next = e;
		}
	return next;
}

/* domain_status for m's resource and domain, to key. */
static void
status(struct gw_p2p *g, const char *key, const struct p2p_msg *am,
    bool active)
{
	struct p2p_msg m;
	uint8_t pkt[P2P_MAX_PKT];
	size_t n;

	memset(&m, 0, sizeof(m));
	m.type = P2P_DOMAIN_STATUS;
	memcpy(m.resource, am->resource, sizeof(m.resource));
	memcpy(m.domain, am->domain, sizeof(m.domain));
	m.active = active;
	if (p2p_build(&m, pkt, sizeof(pkt), &n) != 0)
		return;
	if (active)
		g->st.active++;
	else {
		g->st.inactive++;
		g->ops->down(g->arg, key, pkt, n);
	}
}

static int
ip_list(const struct p2p_msg *m, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	size_t off = 0;
	int w;

	out[0] = '\0';
	for (size_t i = 0; i < m->nproxy; i++) {
		if (inet_ntop(m->proxy[i].af, m->proxy[i].a, a,
		    sizeof(a)) == NULL)
			return -EINVAL;
		w = snprintf(out + off, cap - off, "%s%s", i ? ", " : "", a);
		if (w < 0 || (size_t)w >= cap - off)
			return -ENOSPC;
		off += (size_t)w;
	}
	return 0;
}

static void
pending_unlink(struct gw_p2p *g, struct pending *p)
{
	struct pending **pp;

	for (pp = &g->pend; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			g->npend--;
			return;
		}
}

static void
resolved(void *arg, int err, const char *list)
{
	struct pending *p = arg;
	struct gw_p2p *g = p->g;
	struct client *c;
	struct gw_p2p_nat n;
	struct p2p_msg sm;
	uint8_t pkt[P2P_MAX_PKT];
	char proxies[P2P_PROXY_MAX * (INET6_ADDRSTRLEN + 2)];
	size_t plen;

	if (g == NULL) {
		free(p);
		return;
	}
	pending_unlink(g, p);
	/* The client may have gone, changed keys or lost the access. */
	c = client_by_id(g, p->cid);
	if (c == NULL || strcmp(c->key, p->key) != 0 ||
	    gw_dnsres_check(g->dr, p->cid, p->m.resource, p->m.domain,
	    g->now) != 0) {
		g->st.refused++;
		status(g, p->key, &p->m, false);
		goto out;
	}
	if (err != 0) {
		log_info("client %s: %s (resource %s) does not resolve: %s",
		    p->cid, p->m.domain, p->m.resource, strerror(-err));
		g->st.resolve_failed++;
		status(g, p->key, &p->m, false);
		goto out;
	}
	memset(&sm, 0, sizeof(sm));
	sm.type = P2P_DOMAIN_STATUS;
	memcpy(sm.resource, p->m.resource, sizeof(sm.resource));
	memcpy(sm.domain, p->m.domain, sizeof(sm.domain));
	sm.active = 1;
	if (ip_list(&p->m, proxies, sizeof(proxies)) != 0 ||
	    p2p_build(&sm, pkt, sizeof(pkt), &plen) != 0) {
		status(g, p->key, &p->m, false);
		goto out;
	}
	memset(&n, 0, sizeof(n));
	n.client_id = c->id;
	n.public_key = c->key;
	n.ipv4 = c->ipv4;
	n.ipv6 = c->ipv6;
	n.resource_id = p->m.resource;
	n.domain = p->m.domain;
	n.proxies = proxies;
	n.resolved = list;
	n.status = pkt;
	n.status_len = plen;
	log_info("client %s: %s (resource %s) -> %s", p->cid, p->m.domain,
	    p->m.resource, list);
	g->ops->nat_set(g->arg, &n);
	status(g, p->key, &p->m, true);
out:
	free(p);
}

/*
 * A proxy IP of the ranges (§4.1: 100.96.0.0/11, fd00:2021:1111:8000::/107);
 * fz-tunneld refuses DNSNAT_SET with any other as a violation, so a
 * client naming others is answered Inactive here.
 */
static bool
is_proxy(const struct fz_ip *ip)
{
	static const uint8_t p6[13] = { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11,
	    0x80, 0x00 };

	if (ip->af == AF_INET)
		return ip->a[0] == 100 && (ip->a[1] & 0xe0) == 96;
	return ip->af == AF_INET6 && memcmp(ip->a, p6, sizeof(p6)) == 0 &&
	    (ip->a[13] & 0xe0) == 0;
}

static bool
in_flight(struct gw_p2p *g, const char *cid, const struct p2p_msg *m)
{
	for (struct pending *p = g->pend; p != NULL; p = p->next)
		if (strcmp(p->cid, cid) == 0 &&
		    strcmp(p->m.resource, m->resource) == 0 &&
		    strcmp(p->m.domain, m->domain) == 0)
			return true;
	return false;
}

static void
assigned_ips(struct gw_p2p *g, const char *key, const struct p2p_msg *m)
{
	struct client *c = client_by_key(g, key);
	struct pending *p;
	int rc;

	g->st.assigned++;
	for (size_t i = 0; i < m->nproxy; i++)
		if (!is_proxy(&m->proxy[i])) {
			g->st.malformed++;
			status(g, key, m, false);
			return;
		}
	if (c == NULL) {
		g->st.unknown_key++;
		status(g, key, m, false);
		return;
	}
	if ((rc = gw_dnsres_check(g->dr, c->id, m->resource, m->domain,
	    g->now)) != 0) {
		if (log_ratelimit(&g->rl))
			log_info("client %s: assigned_ips for %s (resource %s) "
			    "refused: %s", c->id, m->domain, m->resource,
			    rc == -EPERM ? "not the resource's domain" :
			    rc == -ETIMEDOUT ? "access expired" :
			    "no such DNS resource access");
		g->st.refused++;
		status(g, key, m, false);
		return;
	}
	if (in_flight(g, c->id, m))
		return;			/* the answer comes with the first */
	if (g->npend >= GW_P2P_RESOLVING || (p = calloc(1, sizeof(*p))) ==
	    NULL) {
		g->st.busy++;
		return;			/* the client asks again in 2 s */
	}
	p->g = g;
	p->m = *m;
	snprintf(p->cid, sizeof(p->cid), "%s", c->id);
	snprintf(p->key, sizeof(p->key), "%s", key);
	p->next = g->pend;
	g->pend = p;
	g->npend++;
	if ((rc = g->ops->resolve(g->arg, m->domain, resolved, p)) < 0) {
		pending_unlink(g, p);
		free(p);
		g->st.resolve_failed++;
		status(g, key, m, false);
	}
}

int
gw_p2p_up(struct gw_p2p *g, const char *key, const uint8_t *pkt, size_t len,
    uint64_t now)
{
	struct p2p_msg m;

	g->now = now;
	if (p2p_parse(pkt, len, &m) != 0) {
		g->st.malformed++;
		if (log_ratelimit(&g->rl))
			log_info("a malformed control packet of %zu bytes "
			    "from a peer", len);
		return -EINVAL;
	}
	switch (m.type) {
	case P2P_ASSIGNED_IPS:
		assigned_ips(g, key, &m);
		break;
	case P2P_GOODBYE:
		/* The client re-authorizes when it comes back (§5.4). */
		g->st.goodbyes_in++;
		break;
	default:
		g->st.malformed++;	/* domain_status is for clients */
		break;
	}
	return 0;
}

size_t
gw_p2p_nclients(const struct gw_p2p *g)
{
	return g->nc;
}

void
gw_p2p_get_stats(const struct gw_p2p *g, struct gw_p2p_stats *out)
{
	*out = g->st;
}
