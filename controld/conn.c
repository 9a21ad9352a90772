/* SPDX-License-Identifier: ISC */
/*
 * The connection manager: see conn.h.  Data flow:
 *  - TURN clients' datagrams go out of their tunneld socket to the relay;
 *    what comes back (DGRAM_UP from a relay address on that socket) goes
 *    through turn_client_input, and relayed data (ChannelData, Data
 *    indications) on to the agents as arriving on CONN_RELAY_SOCK(slot).
 *  - An agent's transmit is either direct (DGRAM_DOWN from its socket) or
 *    via a relay: wrapped in ChannelData on a channel bound to the peer.
 *  - A selected pair becomes PEER_SET; a failed agent PEER_DEL.
 */
#define LOG_MODULE "conn"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "turn_client.h"

struct sock_addr {
	uint32_t		 id;
	union fz_sockaddr	 addr;
};

struct relay {
	bool			 used;
	portal_id		 id;
	union fz_sockaddr	 server;
	char			 server_s[ADDR_STRLEN];
	char			 username[PORTAL_NAME_MAX + 1];
	uint32_t		 sock;		/* tunneld socket */
	struct turn_client	*tc;
	bool			 seen;		/* in the latest list */
	/* by family (fam_ix); AF_UNSPEC until allocated */
	union fz_sockaddr	 relayed[2];
	union fz_sockaddr	 mapped;	/* srflx, or AF_UNSPEC */
	/* allocation lost or failed: allocated again at retry_at (0: no) */
	char			 password[PORTAL_NAME_MAX + 1];
	uint64_t		 retry_at;
	unsigned		 retries;	/* since the last success */
};

#define CONN_PROXIES_MAX	1024

struct cres {
	portal_id		 id;
	struct fz_cidr		 cidr;
	char			 cidr_s[PORTAL_ADDR_MAX + 1];
	uint64_t		 last_request;	/* 0: never */
	bool			 requested;
	bool			 dns;	/* a DNS resource: no cidr */
	bool			 internet; /* the Internet Resource: any
					    * address, least specific */
	/* DNS: the proxy IPs packets were seen for, as host prefixes: the
	 * gateway's allowed IPs for this resource (conn_wanted_dns) */
	char			 proxies[CONN_PROXIES_MAX];
};

struct peer {
	bool			 used;
	portal_id		 id;
	char			 public_key[PORTAL_KEY_MAX + 1];
	char			 psk[PORTAL_KEY_MAX + 1];
	char			 allowed[CONN_ALLOWED_MAX];
	portal_id		 resources[16];	/* client: served resources */
	char			 tun[2][PORTAL_IP_MAX + 1]; /* client: the
						 * gateway's tunnel IPv4, IPv6 */
	unsigned		 nresources;
	struct ice_agent	*agent;
	char			 ufrags[2][PORTAL_NAME_MAX + 1]; /* local, remote */
	bool			 set;		/* PEER_SET sent */
	/* fz-tunneld had this key before us (PEERS_KEPT): PEER_DEL when
	 * dropped even if never set.  Kept and no agent: a peer nobody
	 * supervises (conn_peers_kept) */
	bool			 kept;
	/* when PEER_STATS last saw its counters move, and its rx counter
	 * (0 never); a kept client-side peer: when its resources were last
	 * asked for */
	uint64_t		 active, rx_at, asked_at;
	bool			 ahead;		/* set by peer_provisional */
	bool			 dead;		/* failed: freed after the pump */
	struct ice_pair_info	 sel;
	/* the path last set, for CONNECTIONS (conn_connections_fmt) */
	char			 path[ADDR_STRLEN];	/* remote or relay */
	uint16_t		 channel;		/* our relay; else 0 */
	bool			 relayed;		/* ours or the peer's */
	uint64_t		 since;			/* mono ns */
	/* PEER_STATS: the counters last reported */
	uint64_t		 rx_bytes, tx_bytes;
};

struct pending {
	portal_id		 peer;
	char			 cand[PORTAL_CAND_MAX + 1];
	bool			 invalidate;
};

struct conn_mgr {
	bool			 gateway;
	const struct conn_ops	*ops;
	void			*arg;
	struct sock_addr	 socks[CONN_MAX_SOCKETS];
	unsigned		 nsocks;
	struct relay		 relays[CONN_MAX_RELAYS];
	struct cres		*res;
	size_t			 nres;
	/* A slot is allocated when first taken and kept until conn_free
	 * (so a struct peer * stays valid after peer_drop); until then it
	 * points at no_peer, read-only and never used. */
	struct peer		*peers[CONN_MAX_PEERS];
	struct pending		 pend[CONN_MAX_PENDING];
	unsigned		 npend, pend_next;
	struct portal_relay	 rlist[2 * CONN_MAX_RELAYS]; /* the last list */
	size_t			 nrlist;
	bool			 inited;	/* client: conn_portal_init */
};

static void	pump(struct conn_mgr *, uint64_t now);
static void	peer_drop(struct conn_mgr *, struct peer *);
static void	kept_ask(struct conn_mgr *, struct peer *, uint64_t now);
static void	signal_candidates(struct conn_mgr *, struct peer *);

/* --- helpers ------------------------------------------------------------ */

static void
rng_cb(void *ctx, void *buf, size_t len)
{
	struct conn_mgr *m = ctx;

	m->ops->rng(m->arg, buf, len);
}

static const struct peer no_peer;

/* Slot i (unused) made writable: NULL when out of memory. */
static struct peer *
peer_slot(struct conn_mgr *m, unsigned i)
{
	struct peer *p;

	if (m->peers[i] != &no_peer)
		return m->peers[i];
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	return m->peers[i] = p;
}

static struct peer *
peer_find(struct conn_mgr *m, const char *id)
{
	unsigned i;

	for (i = 0; i < CONN_MAX_PEERS; i++)
		if (m->peers[i]->used && m->peers[i]->agent != NULL &&
		    strcmp(m->peers[i]->id, id) == 0)
			return m->peers[i];
	return NULL;
}

/* A relay's relayed[] index for a family. */
static unsigned
fam_ix(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

static int
relay_slot(uint32_t sock)
{
	if ((sock & 0x80000000u) == 0 ||
	    (sock & ~0x80000000u) >= CONN_MAX_RELAYS)
		return -1;
	return (int)(sock & ~0x80000000u);
}

/* "100.64.0.2" -> "100.64.0.2/32"; an address with a length stays. */
static int
host_prefix(const char *s, char *out, size_t cap)
{
	struct fz_cidr c;

	if (s[0] == '\0' || cidr_parse(s, false, &c) != 0)
		return -EINVAL;
	return cidr_fmt(&c, out, cap);
}

/* Whether item is one of the ", " list's items (not a substring). */
static bool
list_has(const char *list, const char *item)
{
	size_t n = strlen(item);
	const char *p = list;

	while ((p = strstr(p, item)) != NULL) {
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ','))
			return true;
		p++;
	}
	return false;
}

static void
allowed_append(char *buf, size_t cap, const char *item)
{
	size_t len = strlen(buf);

	if (item[0] == '\0' || list_has(buf, item))
		return;
	if (len + strlen(item) + 3 > cap)
		return;
	snprintf(buf + len, cap - len, "%s%s", len > 0 ? ", " : "", item);
}

/* Candidate changes that fail (full, unknown) only cost a path. */
static void
add_local(struct ice_agent *a, const struct ice_candidate *c, uint64_t now)
{
	int rc;

	if ((rc = ice_agent_add_local_candidate(a, c, now)) != 0)
		log_emit(LOG_MODULE, LOG_LVL_DEBUG, -rc, "local candidate");
}

static void
remove_local(struct ice_agent *a, enum ice_cand_type t,
    const struct sockaddr *sa, uint64_t now)
{
	int rc;

	if ((rc = ice_agent_remove_local_candidate(a, t, sa, now)) != 0 &&
	    rc != -ENOENT)
		log_emit(LOG_MODULE, LOG_LVL_DEBUG, -rc, "local candidate");
}

/*
 * A local candidate gone (an address, an allocation): out of every agent
 * (its pairs with it, the selected one re-chosen) and invalidated at the
 * peers that had it.
 */
static void
drop_local(struct conn_mgr *m, enum ice_cand_type t,
    const struct sockaddr *sa, uint64_t now)
{
	struct ice_candidate c[ICE_MAX_LOCAL];
	char s[1][ICE_CAND_MAXLEN + 1];
	unsigned i, k, n;
	bool had;

	for (i = 0; i < CONN_MAX_PEERS; i++) {
		struct peer *p = m->peers[i];

		if (!p->used || p->agent == NULL)
			continue;
		n = ice_agent_local_candidates(p->agent, c, ICE_MAX_LOCAL);
		for (k = 0, had = false; k < n && !had; k++)
			had = c[k].type == t && addr_eq(&c[k].addr.sa, sa) &&
			    ice_cand_fmt(&c[k], s[0], sizeof(s[0])) == 0;
		remove_local(p->agent, t, sa, now);
		if (had && m->ops->invalidated != NULL)
			m->ops->invalidated(m->arg, p->id, s, 1);
	}
}

static void
set_creds(struct turn_client *tc, const char *user, const char *pass)
{
	int rc;

	if ((rc = turn_client_set_credentials(tc, user, pass)) != 0)
		log_warnc(-rc, "new relay credentials");
}

/*
 * Firezone's tunnel ranges (100.64.0.0/11, fd00:2021:1111::/107): a host
 * candidate there would route ICE through the tunnel it sets up.
 */
static bool
tunnel_addr(const struct sockaddr *sa)
{
	static const char *const nets[] = {
		"100.64.0.0/11", "fd00:2021:1111::/107",
	};
	struct fz_cidr c;
	size_t i;

	for (i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
		if (cidr_parse(nets[i], true, &c) == 0 &&
		    cidr_contains_sa(&c, sa))
			return true;
	return false;
}

/* --- sockets ------------------------------------------------------------ */

int
conn_set_sockets(struct conn_mgr *m, const char *list, uint64_t now)
{
	struct sock_addr s[CONN_MAX_SOCKETS];
	bool fresh[CONN_MAX_SOCKETS];
	unsigned n = 0, i, nfresh = 0;
	const char *p = list;
	char item[ADDR_STRLEN + 16], *eq, *end;
	unsigned long id;
	size_t len;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		len = strcspn(p, ",");
		if (len >= sizeof(item))
			return -EINVAL;
		memcpy(item, p, len);
		item[len] = '\0';
		while (len > 0 && item[len - 1] == ' ')
			item[--len] = '\0';
		p += strcspn(p, ",");
		if ((eq = strchr(item, '=')) == NULL)
			return -EINVAL;
		*eq = '\0';
		errno = 0;
		id = strtoul(item, &end, 10);
		if (end == item || *end != '\0' || errno != 0 ||
		    id >= 0x80000000UL)
			return -EINVAL;
		if (n == CONN_MAX_SOCKETS)
			continue;	/* the first ones are enough */
		s[n].id = (uint32_t)id;
		if (addr_parse(eq + 1, ADDR_PORT_REQUIRED, &s[n].addr) != 0)
			return -EINVAL;
		if (!tunnel_addr(&s[n].addr.sa))
			n++;
	}
	/* new addresses, to signal */
	for (i = 0; i < n; i++) {
		unsigned k;

		fresh[i] = true;
		for (k = 0; k < m->nsocks && fresh[i]; k++)
			fresh[i] = !(s[i].id == m->socks[k].id &&
			    addr_eq(&s[i].addr.sa, &m->socks[k].addr.sa));
		nfresh += fresh[i];
	}
	/* addresses gone: their host candidates and pairs go with them */
	for (i = 0; i < m->nsocks; i++) {
		unsigned k;
		bool kept = false;

		for (k = 0; k < n && !kept; k++)
			kept = s[k].id == m->socks[i].id &&
			    addr_eq(&s[k].addr.sa, &m->socks[i].addr.sa);
		if (!kept) {
			char a[ADDR_STRLEN];

			if (addr_fmt(&m->socks[i].addr.sa, true, a,
			    sizeof(a)) != 0)
				snprintf(a, sizeof(a), "?");
			log_info("local address %s gone: its host candidates "
			    "invalidated", a);
			drop_local(m, ICE_HOST, &m->socks[i].addr.sa, now);
		}
	}
	memcpy(m->socks, s, n * sizeof(s[0]));
	m->nsocks = n;
	log_info("%u local socket address(es)", n);
	/* host candidates for the agents there are */
	for (i = 0; i < CONN_MAX_PEERS; i++)
		if (m->peers[i]->used && m->peers[i]->agent != NULL) {
			struct peer *pr = m->peers[i];
			unsigned k;

			for (k = 0; k < n; k++) {
				struct ice_candidate c = {
					.type = ICE_HOST, .addr = s[k].addr,
					.sock = s[k].id,
				};
				add_local(pr->agent,
				    &c, now);
			}
			if (nfresh > 0)
				signal_candidates(m, pr);
		}
	/* relays that had no socket of their family may have one now */
	conn_set_relays(m, m->rlist, m->nrlist, now);
	return 0;
}

/* The tunneld socket for traffic to a family; -1 if none. */
static int64_t
sock_for(const struct conn_mgr *m, int family)
{
	unsigned i;

	for (i = 0; i < m->nsocks; i++)
		if (m->socks[i].addr.sa.sa_family == family)
			return m->socks[i].id;
	return -1;
}

/* --- resources (client) ------------------------------------------------- */

void
conn_resources_clear(struct conn_mgr *m)
{
	free(m->res);
	m->res = NULL;
	m->nres = 0;
}

void
conn_resource_delete(struct conn_mgr *m, const char *id)
{
	size_t i;

	for (i = 0; i < m->nres; i++)
		if (strcmp(m->res[i].id, id) == 0) {
			m->res[i] = m->res[--m->nres];
			return;
		}
}

void
conn_resource_upsert(struct conn_mgr *m, const struct portal_resource *r)
{
	struct fz_cidr c;
	struct cres *n;
	size_t i;

	conn_resource_delete(m, r->id);
	if (r->type != PORTAL_RES_CIDR && r->type != PORTAL_RES_DNS &&
	    r->type != PORTAL_RES_INTERNET)
		return;
	memset(&c, 0, sizeof(c));
	if (r->type == PORTAL_RES_CIDR &&
	    cidr_parse(r->address, false, &c) != 0) {
		log_warnx("resource %s: bad CIDR address", r->id);
		return;
	}
	if (m->nres >= CONN_MAX_RESOURCES)
		return;
	if ((n = realloc(m->res, (m->nres + 1) * sizeof(*n))) == NULL)
		return;
	m->res = n;
	i = m->nres++;
	memset(&n[i], 0, sizeof(n[i]));
	memcpy(n[i].id, r->id, sizeof(n[i].id));
	if (r->type == PORTAL_RES_DNS) {
		n[i].dns = true;	/* by id only (conn_wanted_dns) */
		snprintf(n[i].cidr_s, sizeof(n[i].cidr_s), "%s", r->address);
		return;
	}
	if (r->type == PORTAL_RES_INTERNET) {
		n[i].internet = true;
		snprintf(n[i].cidr_s, sizeof(n[i].cidr_s), "0.0.0.0/0, ::/0");
		return;
	}
	n[i].cidr = c;
	if (cidr_fmt(&c, n[i].cidr_s, sizeof(n[i].cidr_s)) != 0)
		snprintf(n[i].cidr_s, sizeof(n[i].cidr_s), "%s", r->address);
}

/* 100.64.0.0/10 and fd00:2021:1111::/48: fz's tunnel, proxy and sentinel
 * addresses (§4.1), never the Internet Resource's. */
static bool
fz_range(const struct sockaddr *sa)
{
	static const char *const r[] = { "100.64.0.0/10",
	    "fd00:2021:1111::/48" };
	struct fz_cidr c;
	size_t i;

	for (i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (cidr_parse(r[i], false, &c) == 0 && cidr_contains_sa(&c, sa))
			return true;
	return false;
}

static struct cres *
res_lookup(const struct conn_mgr *m, const char *dst)
{
	union fz_sockaddr a;
	struct cres *best = NULL;
	size_t i;

	if (addr_parse(dst, ADDR_PORT_OPTIONAL, &a) != 0)
		return NULL;
	for (i = 0; i < m->nres; i++)
		if (!m->res[i].dns && !m->res[i].internet &&
		    cidr_contains_sa(&m->res[i].cidr, &a.sa) &&
		    (best == NULL || m->res[i].cidr.prefix > best->cidr.prefix))
			best = &m->res[i];
	/* The Internet Resource: whatever no other resource covers (its
	 * routes exist only while it is active, client_net.c), but none of
	 * fz's own ranges (tunnel, proxy, sentinel addresses). */
	if (best == NULL && !fz_range(&a.sa))
		for (i = 0; best == NULL && i < m->nres; i++)
			if (m->res[i].internet)
				best = &m->res[i];
	return best;
}

static struct cres *
res_by_id(const struct conn_mgr *m, const char *id)
{
	size_t i;

	for (i = 0; i < m->nres; i++)
		if (strcmp(m->res[i].id, id) == 0)
			return &m->res[i];
	return NULL;
}

const char *
conn_resource_for(const struct conn_mgr *m, const char *dst)
{
	struct cres *r = res_lookup(m, dst);

	return r != NULL ? r->id : NULL;
}

static bool
peer_serves(const struct peer *p, const char *rid)
{
	unsigned i;

	for (i = 0; i < p->nresources; i++)
		if (strcmp(p->resources[i], rid) == 0)
			return true;
	return false;
}

int
conn_wanted(struct conn_mgr *m, const char *dst, uint64_t now)
{
	portal_id gw[CONN_MAX_PEERS];
	union fz_sockaddr a;
	struct cres *r;
	size_t n = 0;
	unsigned i;

	if (addr_parse(dst, ADDR_PORT_OPTIONAL, &a) != 0)
		return -EINVAL;
	if ((r = res_lookup(m, dst)) == NULL)
		return -ENOENT;
	for (i = 0; i < CONN_MAX_PEERS; i++) {
		struct peer *p = m->peers[i];

		if (!p->used || p->dead || p->agent == NULL)
			continue;
		if (peer_serves(p, r->id))	/* connected or connecting */
			return -EALREADY;
		memcpy(gw[n++], p->id, sizeof(gw[0]));
	}
	if (r->requested && now - r->last_request < CONN_DEBOUNCE_NS)
		return -EALREADY;
	r->requested = true;
	r->last_request = now;
	log_info("%s: resource %s (%s): requesting authorization", dst,
	    r->id, r->cidr_s);
	m->ops->request_authorization(m->arg, r->id, gw, n);
	return 0;
}

static void	peer_set(struct conn_mgr *, struct peer *, uint64_t);

/* Appends every item of a ", " list to buf (allowed_append's rules). */
static void
allowed_append_list(char *buf, size_t cap, const char *list)
{
	char item[PORTAL_IP_MAX + 8];
	const char *p = list, *e;
	size_t len;

	while (*p != '\0') {
		e = strchr(p, ',');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len < sizeof(item)) {
			memcpy(item, p, len);
			item[len] = '\0';
			allowed_append(buf, cap, item);
		}
		if (e == NULL)
			break;
		p = e + 1;
		while (*p == ' ')
			p++;
	}
}

int
conn_wanted_dns(struct conn_mgr *m, const char *rid, const char *dst,
    uint64_t now)
{
	portal_id gw[CONN_MAX_PEERS];
	char pfx[PORTAL_IP_MAX + 8];
	struct cres *r;
	size_t n = 0;
	unsigned i;

	if (m->gateway || host_prefix(dst, pfx, sizeof(pfx)) != 0)
		return -EINVAL;
	if ((r = res_by_id(m, rid)) == NULL || !r->dns)
		return -ENOENT;
	allowed_append(r->proxies, sizeof(r->proxies), pfx);
	for (i = 0; i < CONN_MAX_PEERS; i++) {
		struct peer *p = m->peers[i];

		if (!p->used || p->dead || p->agent == NULL)
			continue;
		if (peer_serves(p, r->id)) {
			/* a new proxy IP of a resource it serves: route it */
			if (!list_has(p->allowed, pfx)) {
				allowed_append(p->allowed, sizeof(p->allowed),
				    pfx);
				if (!list_has(p->allowed, pfx))
					log_warnx("gateway %s: allowed IPs "
					    "full, %s not routed", p->id, pfx);
				else if (p->set)
					peer_set(m, p, now);
			}
			return -EALREADY;
		}
		memcpy(gw[n++], p->id, sizeof(gw[0]));
	}
	if (r->requested && now - r->last_request < CONN_DEBOUNCE_NS)
		return -EALREADY;
	r->requested = true;
	r->last_request = now;
	log_info("%s: DNS resource %s (%s): requesting authorization", dst,
	    r->id, r->cidr_s);
	m->ops->request_authorization(m->arg, r->id, gw, n);
	return 0;
}

/* --- candidates --------------------------------------------------------- */

static void
signal_candidates(struct conn_mgr *m, struct peer *p)
{
	struct ice_candidate c[ICE_MAX_LOCAL];
	char s[ICE_MAX_LOCAL][ICE_CAND_MAXLEN + 1];
	unsigned n, i, k = 0;

	n = ice_agent_local_candidates(p->agent, c, ICE_MAX_LOCAL);
	for (i = 0; i < n; i++)
		if (ice_cand_fmt(&c[i], s[k], sizeof(s[k])) == 0)
			k++;
	if (k > 0)
		m->ops->candidates(m->arg, p->id, s, k);
}

/* Adds every local candidate known to p's agent. */
static void
gather(struct conn_mgr *m, struct peer *p, uint64_t now)
{
	unsigned i;

	for (i = 0; i < m->nsocks; i++) {
		struct ice_candidate c = {
			.type = ICE_HOST, .addr = m->socks[i].addr,
			.sock = m->socks[i].id,
		};
		add_local(p->agent, &c, now);
	}
	for (i = 0; i < CONN_MAX_RELAYS; i++) {
		struct relay *r = &m->relays[i];
		unsigned f;

		if (!r->used)
			continue;
		for (f = 0; f < 2; f++) {
			struct ice_candidate c = {
				.type = ICE_RELAY, .addr = r->relayed[f],
				.sock = CONN_RELAY_SOCK(i),
			};

			if (r->relayed[f].sa.sa_family != AF_UNSPEC)
				add_local(p->agent, &c, now);
		}
		if (r->mapped.sa.sa_family != AF_UNSPEC) {
			struct ice_candidate c = {
				.type = ICE_SRFLX, .addr = r->mapped,
				.sock = r->sock,
			};
			add_local(p->agent, &c, now);
		}
	}
}

static void
pend_add(struct conn_mgr *m, const char *peer, const char *cand, bool inval)
{
	struct pending *e = &m->pend[m->pend_next];

	snprintf(e->peer, sizeof(e->peer), "%s", peer);
	snprintf(e->cand, sizeof(e->cand), "%s", cand);
	e->invalidate = inval;
	m->pend_next = (m->pend_next + 1) % CONN_MAX_PENDING;
	if (m->npend < CONN_MAX_PENDING)
		m->npend++;
}

static void
remote_one(struct peer *p, const char *s, bool invalidate, uint64_t now)
{
	struct ice_candidate c;
	int rc;

	if (ice_cand_parse(s, strlen(s), &c) != 0) {
		log_debug("peer %s: bad candidate skipped", p->id);
		return;
	}
	if (invalidate)
		rc = ice_agent_remove_remote_candidate(p->agent, c.type,
		    &c.addr.sa, now);
	else
		rc = ice_agent_add_remote_candidate(p->agent, &c, now);
	if (rc != 0 && rc != -ENOENT)
		log_emit(LOG_MODULE, LOG_LVL_DEBUG, -rc, "peer %s: candidate",
		    p->id);
}

void
conn_remote_candidates(struct conn_mgr *m, const char *peer_id,
    char (*cands)[PORTAL_CAND_MAX + 1], size_t n, bool invalidate,
    uint64_t now)
{
	struct peer *p = peer_find(m, peer_id);
	size_t i;

	for (i = 0; i < n; i++) {
		if (p == NULL || p->agent == NULL)
			pend_add(m, peer_id, cands[i], invalidate);
		else
			remote_one(p, cands[i], invalidate, now);
	}
	pump(m, now);
}

/* Candidates that came before the peer. */
static void
pend_flush(struct conn_mgr *m, struct peer *p, uint64_t now)
{
	unsigned i, start;

	start = (m->pend_next + CONN_MAX_PENDING - m->npend) % CONN_MAX_PENDING;
	for (i = 0; i < m->npend; i++) {
		struct pending *e = &m->pend[(start + i) % CONN_MAX_PENDING];

		if (strcmp(e->peer, p->id) == 0) {
			remote_one(p, e->cand, e->invalidate, now);
			e->peer[0] = '\0';
		}
	}
}

/* --- peers -------------------------------------------------------------- */

static struct peer *
peer_new(struct conn_mgr *m, const char *id, const char *key,
    const char *psk, const struct portal_ice_pair *local,
    const struct portal_ice_pair *remote, uint64_t now, int *err)
{
	struct ice_config ic;
	struct peer *p = NULL;
	bool kept = false;
	unsigned i;

	/* a peer fz-tunneld kept for us with this key: the new connection
	 * takes it over (its WireGuard session stays until PEER_SET) */
	for (i = 0; i < CONN_MAX_PEERS && p == NULL; i++)
		if (m->peers[i]->used && m->peers[i]->agent == NULL &&
		    strcmp(m->peers[i]->public_key, key) == 0) {
			p = m->peers[i];
			kept = true;
			log_info("peer %s: a new connection takes over the peer "
			    "kept from the last fz-controld", id);
		}
	/* one kept for the same peer with another key: stale (a client's
	 * kept gateway restarted) */
	for (i = 0; i < CONN_MAX_PEERS; i++)
		if (m->peers[i]->used && m->peers[i]->agent == NULL &&
		    m->peers[i] != p && strcmp(m->peers[i]->id, id) == 0)
			peer_drop(m, m->peers[i]);
	for (i = 0; i < CONN_MAX_PEERS && p == NULL; i++)
		if (!m->peers[i]->used)
			p = peer_slot(m, i);
	if (p == NULL) {
		*err = -ENOSPC;
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	memset(&ic, 0, sizeof(ic));
	ic.role = m->gateway ? ICE_CONTROLLED : ICE_CONTROLLING;
	ic.local_ufrag = local->username;
	ic.local_pwd = local->password;
	ic.remote_ufrag = remote->username;
	ic.remote_pwd = remote->password;
	if ((*err = ice_agent_new(&ic, now, &p->agent)) != 0) {
		if (kept)	/* nobody supervises it now */
			m->ops->peer_del(m->arg, id, key);
		return NULL;
	}
	p->used = true;
	p->kept = kept;
	snprintf(p->ufrags[0], sizeof(p->ufrags[0]), "%s", local->username);
	snprintf(p->ufrags[1], sizeof(p->ufrags[1]), "%s", remote->username);
	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->public_key, sizeof(p->public_key), "%s", key);
	snprintf(p->psk, sizeof(p->psk), "%s", psk);
	gather(m, p, now);
	pend_flush(m, p, now);
	return p;
}

static void
peer_drop(struct conn_mgr *m, struct peer *p)
{
	unsigned i;

	if (p->set || p->kept)
		m->ops->peer_del(m->arg, p->id, p->public_key);
	if (p->set && m->ops->resource_status != NULL)
		for (i = 0; i < p->nresources; i++)
			m->ops->resource_status(m->arg, p->resources[i], false);
	ice_agent_free(p->agent);
	memset(p, 0, sizeof(*p));
}

/*
 * Whether an authorization for a known peer starts a new connection: a
 * new key or new ICE credentials (the peer restarted) do.
 */
static bool
peer_stale(const struct peer *p, const char *key,
    const struct portal_ice_pair *local, const struct portal_ice_pair *remote)
{
	return strcmp(p->public_key, key) != 0 ||
	    strcmp(p->ufrags[0], local->username) != 0 ||
	    strcmp(p->ufrags[1], remote->username) != 0;
}

/*
 * Whether the selected pair's remote end is a relay's allocation: a relay
 * candidate, or a peer-reflexive one at the IP of a relay we know.  out:
 * that relay's address as the portal gave it when it is one of ours, else
 * the remote address itself (the relay's IP and the allocation's port).
 */
static bool
peer_relay_remote(const struct conn_mgr *m, const struct ice_pair_info *sel,
    char *out, size_t cap)
{
	union fz_sockaddr a, rem = sel->remote;
	bool known = false;
	size_t k;

	if (sel->remote_type != ICE_RELAY && sel->remote_type != ICE_PRFLX)
		return false;
	addr_unmap_v4(&rem);
	for (k = 0; k < m->nrlist && !known; k++) {
		if (m->rlist[k].type != PORTAL_RELAY_TURN ||
		    addr_parse(m->rlist[k].addr, ADDR_PORT_REQUIRED, &a) != 0)
			continue;
		addr_set_port(&a.sa, addr_port(&rem.sa));
		if (addr_eq(&a.sa, &rem.sa)) {
			snprintf(out, cap, "%s", m->rlist[k].addr);
			known = true;
		}
	}
	if (known)
		return true;
	if (sel->remote_type != ICE_RELAY)
		return false;
	if (addr_fmt(&rem.sa, true, out, cap) != 0)
		snprintf(out, cap, "?");
	return true;
}

/*
 * What a relay's TURN client has queued (a ChannelBind just asked for)
 * goes out now, ahead of the ChannelData that will use the channel: the
 * relay drops ChannelData on a channel it has not seen bound.
 */
static void
relay_flush(struct conn_mgr *m, struct relay *r)
{
	struct turn_transmit tt;

	while (turn_client_poll_transmit(r->tc, &tt) == 0)
		m->ops->dgram(m->arg, r->sock, tt.dst, tt.data, tt.len);
}

static void
peer_set(struct conn_mgr *m, struct peer *p, uint64_t now)
{
	struct conn_peer_path pp;
	int slot;

	memset(&pp, 0, sizeof(pp));
	pp.peer_id = p->id;
	pp.public_key = p->public_key;
	pp.psk = p->psk;
	pp.allowed_ips = p->allowed;
	pp.initiate = !m->gateway;
	slot = p->sel.local_type == ICE_RELAY ? relay_slot(p->sel.sock) : -1;
	if (slot >= 0) {
		struct relay *r = &m->relays[slot];
		uint16_t ch = 0;

		if (!r->used || r->tc == NULL)
			return;
		if (turn_client_channel(r->tc, &p->sel.remote.sa, &ch) != 0 &&
		    turn_client_bind_channel(r->tc, now, &p->sel.remote.sa,
		    &ch) != 0)
			return;
		relay_flush(m, r);
		pp.sock = r->sock;
		snprintf(pp.relay, sizeof(pp.relay), "%s", r->server_s);
		pp.channel = ch;
	} else {
		pp.sock = p->sel.sock;
		if (addr_fmt(&p->sel.remote.sa, true, pp.remote,
		    sizeof(pp.remote)) != 0)
			return;
	}
	p->channel = slot >= 0 ? pp.channel : 0;
	p->since = now;
	if (slot >= 0) {
		snprintf(p->path, sizeof(p->path), "%s", pp.relay);
		p->relayed = true;
		log_info("peer %s: path via relay %s channel 0x%04x%s", p->id,
		    pp.relay, pp.channel, p->set ? " (changed)" : "");
	} else if (peer_relay_remote(m, &p->sel, p->path,
	    sizeof(p->path))) {
		/* direct to the peer's allocation: relayed all the same */
		p->relayed = true;
		log_info("peer %s: path via relay %s (the peer's allocation "
		    "%s)%s", p->id, p->path, pp.remote,
		    p->set ? " (changed)" : "");
	} else {
		snprintf(p->path, sizeof(p->path), "%s", pp.remote);
		p->relayed = false;
		log_info("peer %s: path direct to %s%s", p->id, pp.remote,
		    p->set ? " (changed)" : "");
	}
	m->ops->peer_set(m->arg, &pp);
	if (!p->set) {
		unsigned i;

		/* set before the callbacks: they may send to it
		 * (conn_site_gateway) */
		p->set = true;
		for (i = 0; m->ops->resource_status != NULL &&
		    i < p->nresources; i++)
			m->ops->resource_status(m->arg, p->resources[i], true);
	}
}

int
conn_authorization_created(struct conn_mgr *m,
    const struct portal_authorization_created *a, uint64_t now)
{
	struct peer *p;
	struct cres *r;
	char s[PORTAL_IP_MAX + 8];
	int rc = 0;

	if (m->gateway)
		return -EINVAL;
	if ((p = peer_find(m, a->gateway_id)) != NULL &&
	    peer_stale(p, a->gateway_public_key, &a->client_ice,
	    &a->gateway_ice)) {
		peer_drop(m, p);	/* a new connection */
		p = NULL;
	}
	if (p == NULL) {
		p = peer_new(m, a->gateway_id, a->gateway_public_key,
		    a->preshared_key, &a->client_ice, &a->gateway_ice, now,
		    &rc);
		if (p == NULL)
			return rc;
		log_info("gateway %s: connecting", a->gateway_id);
		snprintf(p->tun[0], sizeof(p->tun[0]), "%s", a->gateway_ipv4);
		snprintf(p->tun[1], sizeof(p->tun[1]), "%s", a->gateway_ipv6);
		if (host_prefix(a->gateway_ipv4, s, sizeof(s)) == 0)
			allowed_append(p->allowed, sizeof(p->allowed), s);
		if (host_prefix(a->gateway_ipv6, s, sizeof(s)) == 0)
			allowed_append(p->allowed, sizeof(p->allowed), s);
		signal_candidates(m, p);
	}
	ice_agent_traffic(p->agent, now);	/* an upsert wakes it (§2.3) */
	if (!peer_serves(p, a->resource_id) &&
	    p->nresources < sizeof(p->resources) / sizeof(p->resources[0]))
		memcpy(p->resources[p->nresources++], a->resource_id,
		    sizeof(portal_id));
	if ((r = res_by_id(m, a->resource_id)) != NULL && r->dns)
		allowed_append_list(p->allowed, sizeof(p->allowed),
		    r->proxies);
	else if (r != NULL && r->internet)
		allowed_append_list(p->allowed, sizeof(p->allowed),
		    r->cidr_s);
	else if (r != NULL)
		allowed_append(p->allowed, sizeof(p->allowed), r->cidr_s);
	if (p->set) {
		peer_set(m, p, now);	/* the new allowed IPs */
		if (m->ops->resource_status != NULL)
			m->ops->resource_status(m->arg, a->resource_id, true);
	}
	pump(m, now);
	return 0;
}

int
conn_create_authorization(struct conn_mgr *m,
    const struct portal_create_authorization *a, uint64_t now)
{
	const struct portal_gateway_client *cl = &a->client;
	struct peer *p;
	char s[PORTAL_IP_MAX + 8];
	int rc = 0;

	if (!m->gateway)
		return -EINVAL;
	if ((p = peer_find(m, cl->id)) != NULL &&
	    peer_stale(p, cl->public_key, &a->gateway_ice, &a->client_ice)) {
		peer_drop(m, p);	/* the client restarted */
		p = NULL;
	}
	if (p == NULL) {
		p = peer_new(m, cl->id, cl->public_key, cl->preshared_key,
		    &a->gateway_ice, &a->client_ice, now, &rc);
		if (p == NULL)
			return rc;
		if (host_prefix(cl->ipv4, s, sizeof(s)) == 0)
			allowed_append(p->allowed, sizeof(p->allowed), s);
		if (host_prefix(cl->ipv6, s, sizeof(s)) == 0)
			allowed_append(p->allowed, sizeof(p->allowed), s);
		log_info("client %s: connecting", cl->id);
	}
	ice_agent_traffic(p->agent, now);	/* an upsert wakes it (§2.3) */
	if (!peer_serves(p, a->resource.id) &&
	    p->nresources < sizeof(p->resources) / sizeof(p->resources[0]))
		memcpy(p->resources[p->nresources++], a->resource.id,
		    sizeof(portal_id));
	signal_candidates(m, p);
	pump(m, now);
	return 0;
}

void
conn_reject(struct conn_mgr *m, const char *peer_id, const char *rid,
    uint64_t now)
{
	struct peer *p = peer_find(m, peer_id);
	unsigned i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nresources; i++)
		if (strcmp(p->resources[i], rid) == 0) {
			memcpy(p->resources[i], p->resources[--p->nresources],
			    sizeof(portal_id));
			break;
		}
	if (p->nresources == 0)
		peer_drop(m, p);
	pump(m, now);
}

int
conn_goodbye(struct conn_mgr *m, const char *key, uint64_t now)
{
	unsigned i;

	for (i = 0; i < CONN_MAX_PEERS; i++)
		if (m->peers[i]->used &&
		    strcmp(m->peers[i]->public_key, key) == 0) {
			peer_drop(m, m->peers[i]);
			pump(m, now);
			return 0;
		}
	return -ENOENT;
}

/* --- relays ------------------------------------------------------------- */

static void
relay_free(struct conn_mgr *m, unsigned slot, uint64_t now)
{
	struct relay *r = &m->relays[slot];
	unsigned f;

	for (f = 0; f < 2; f++)
		if (r->relayed[f].sa.sa_family != AF_UNSPEC)
			drop_local(m, ICE_RELAY, &r->relayed[f].sa, now);
	/* the srflx address, unless another relay saw the same one */
	for (f = 0; f < CONN_MAX_RELAYS && r->mapped.sa.sa_family != AF_UNSPEC;
	    f++)
		if (f != slot && m->relays[f].used &&
		    addr_eq(&m->relays[f].mapped.sa, &r->mapped.sa))
			r->mapped.sa.sa_family = AF_UNSPEC;
	if (r->mapped.sa.sa_family != AF_UNSPEC)
		drop_local(m, ICE_SRFLX, &r->mapped.sa, now);
	turn_client_free(r->tc);
	memset(r, 0, sizeof(*r));
}

static int
relay_start(struct conn_mgr *m, struct relay *r, const char *password,
    uint64_t now)
{
	struct turn_client_config tc;
	int64_t s = sock_for(m, r->server.sa.sa_family);

	if (s < 0)
		return -EAFNOSUPPORT;
	memset(&tc, 0, sizeof(tc));
	tc.server = r->server;
	tc.username = r->username;
	tc.password = password;
	/* §3.4: both families; a v6-only relay answers 440, then v6 only */
	tc.family = TURN_FAMILY_DUAL;
	tc.keepalive_ms = 25000;
	tc.rng = rng_cb;
	tc.rng_ctx = m;
	r->sock = (uint32_t)s;
	if (password != r->password)
		snprintf(r->password, sizeof(r->password), "%s", password);
	if (turn_client_new(&tc, &r->tc) != 0)
		return -EINVAL;
	if (turn_client_allocate(r->tc, now) != 0) {
		turn_client_free(r->tc);
		r->tc = NULL;
		return -EINVAL;
	}
	return 0;
}

/*
 * A lost or failed allocation, allocated again with a new TURN client (a
 * new 5-tuple's state: the old one's nonce, permissions and channels are
 * gone with it).  Its new relayed candidates go out on ALLOCATED; the old
 * ones were invalidated when it was lost (relay_events).
 */
static void
relay_retry(struct conn_mgr *m, struct relay *r, uint64_t now)
{
	r->retry_at = 0;
	turn_client_free(r->tc);
	r->tc = NULL;
	if (relay_start(m, r, r->password, now) != 0) {
		r->retry_at = now + (CONN_RELAY_RETRY_NS << 6);
		log_info("relay %s %s: cannot allocate", r->id, r->server_s);
		return;
	}
	log_info("relay %s %s: allocating again (attempt %u)", r->id,
	    r->server_s, r->retries);
}

/* A relay as the portal lists it: one entry per family, grouped by id. */
struct rgroup {
	const struct portal_relay *e[2];	/* by fam_ix */
	union fz_sockaddr	 a[2];
};

void
conn_set_relays(struct conn_mgr *m, const struct portal_relay *rl, size_t n,
    uint64_t now)
{
	struct rgroup g[2 * CONN_MAX_RELAYS];
	union fz_sockaddr a;
	unsigned i, ng = 0, f;
	size_t k;

	if (rl != m->rlist) {
		m->nrlist = n < sizeof(m->rlist) / sizeof(m->rlist[0]) ? n :
		    sizeof(m->rlist) / sizeof(m->rlist[0]);
		if (m->nrlist > 0)
			memcpy(m->rlist, rl, m->nrlist * sizeof(*rl));
	}
	memset(g, 0, sizeof(g));
	for (k = 0; k < n; k++) {
		if (rl[k].type != PORTAL_RELAY_TURN ||
		    addr_parse(rl[k].addr, ADDR_PORT_REQUIRED, &a) != 0)
			continue;
		f = fam_ix(a.sa.sa_family);
		for (i = 0; i < ng; i++)
			if (strcmp((g[i].e[0] != NULL ? g[i].e[0] :
			    g[i].e[1])->id, rl[k].id) == 0)
				break;
		if (i == ng) {
			if (ng == sizeof(g) / sizeof(g[0]))
				continue;
			ng++;
		}
		if (g[i].e[f] == NULL) {	/* the first of a family */
			g[i].e[f] = &rl[k];
			g[i].a[f] = a;
		}
	}
	for (i = 0; i < CONN_MAX_RELAYS; i++)
		m->relays[i].seen = false;
	for (k = 0; k < ng; k++) {
		const struct portal_relay *e;
		struct relay *r = NULL, *fr = NULL;

		/* its IPv4 address if we can reach it, else its IPv6 one */
		if (g[k].e[0] != NULL && sock_for(m, AF_INET) >= 0)
			f = 0;
		else if (g[k].e[1] != NULL && sock_for(m, AF_INET6) >= 0)
			f = 1;
		else {
			e = g[k].e[0] != NULL ? g[k].e[0] : g[k].e[1];
			log_info("relay %s %s: no local socket of its family",
			    e->id, e->addr);
			continue;
		}
		e = g[k].e[f];
		for (i = 0; i < CONN_MAX_RELAYS; i++) {
			struct relay *x = &m->relays[i];

			if (x->used && strcmp(x->id, e->id) == 0 &&
			    addr_eq(&x->server.sa, &g[k].a[f].sa))
				r = x;
			else if (!x->used && fr == NULL)
				fr = x;
		}
		if (r != NULL) {
			r->seen = true;
			if (strcmp(r->username, e->username) != 0) {
				snprintf(r->username, sizeof(r->username),
				    "%s", e->username);
				snprintf(r->password, sizeof(r->password),
				    "%s", e->password);
				if (r->tc != NULL)
					set_creds(r->tc, e->username,
					    e->password);
			}
			/* listed again (or our sockets changed) while
			 * waiting to allocate again: now */
			if (r->retry_at != 0)
				relay_retry(m, r, now);
			continue;
		}
		if (fr == NULL) {
			log_debug("relay %s %s: no slot left", e->id, e->addr);
			continue;
		}
		memset(fr, 0, sizeof(*fr));
		fr->used = fr->seen = true;
		memcpy(fr->id, e->id, sizeof(fr->id));
		fr->server = g[k].a[f];
		snprintf(fr->server_s, sizeof(fr->server_s), "%s", e->addr);
		snprintf(fr->username, sizeof(fr->username), "%s",
		    e->username);
		if (relay_start(m, fr, e->password, now) != 0) {
			log_info("relay %s %s: cannot allocate", fr->id,
			    fr->server_s);
			memset(fr, 0, sizeof(*fr));
			continue;
		}
		log_info("relay %s %s: allocating (dual stack)", fr->id,
		    fr->server_s);
	}
	/* gone, or moved to another address: its candidates invalidated */
	for (i = 0; i < CONN_MAX_RELAYS; i++)
		if (m->relays[i].used && !m->relays[i].seen) {
			log_info("relay %s %s gone: its candidates invalidated",
			    m->relays[i].id, m->relays[i].server_s);
			relay_free(m, i, now);
		}
	pump(m, now);
}

/* Adds a new local candidate from a relay to every agent and signals. */
static void
relay_candidate(struct conn_mgr *m, enum ice_cand_type t,
    const union fz_sockaddr *a, uint32_t sock, uint64_t now)
{
	struct ice_candidate c = { .type = t, .addr = *a, .sock = sock };
	unsigned i;

	for (i = 0; i < CONN_MAX_PEERS; i++) {
		struct peer *p = m->peers[i];

		if (p->used && p->agent != NULL &&
		    ice_agent_add_local_candidate(p->agent, &c, now) == 0)
			signal_candidates(m, p);
	}
}

static void
relay_events(struct conn_mgr *m, unsigned slot, uint64_t now)
{
	struct relay *r = &m->relays[slot];
	struct turn_event ev;
	unsigned i, f;

	while (turn_client_poll_event(r->tc, &ev) == 0) {
		switch (ev.type) {
		case TURN_EV_ALLOCATED:
			r->retries = 0;
			/* one relayed address per family (§3.4) */
			for (f = 0; f < 2; f++) {
				union fz_sockaddr nw;

				memset(&nw, 0, sizeof(nw));
				for (i = 0; i < ev.nrelayed && i < 2; i++)
					if (fam_ix(ev.relayed[i].sa.sa_family)
					    == f)
						nw = ev.relayed[i];
				if (r->relayed[f].sa.sa_family != AF_UNSPEC &&
				    !addr_eq(&r->relayed[f].sa, &nw.sa))
					drop_local(m, ICE_RELAY,
					    &r->relayed[f].sa, now);
				r->relayed[f] = nw;
				if (nw.sa.sa_family != AF_UNSPEC)
					relay_candidate(m, ICE_RELAY, &nw,
					    CONN_RELAY_SOCK(slot), now);
			}
			/* the mapped address too */
			/* FALLTHROUGH */
		case TURN_EV_MAPPED:
			if (ev.mapped.sa.sa_family != AF_UNSPEC &&
			    !addr_eq(&ev.mapped.sa, &r->mapped.sa)) {
				r->mapped = ev.mapped;
				relay_candidate(m, ICE_SRFLX, &r->mapped,
				    r->sock, now);
			}
			log_info("relay %s %s: %s", r->id, r->server_s,
			    turn_event_str(ev.type));
			break;
		case TURN_EV_ALLOCATION_FAILED:
		case TURN_EV_ALLOCATION_LOST:
			for (f = 0; f < 2; f++) {
				if (r->relayed[f].sa.sa_family != AF_UNSPEC)
					drop_local(m, ICE_RELAY,
					    &r->relayed[f].sa, now);
				r->relayed[f].sa.sa_family = AF_UNSPEC;
			}
			/*
			 * RFC 8656 §7.3: a 437 (the 5-tuple's allocation is
			 * gone, e.g. after a NAT port change) or a failed
			 * Allocate is answered by a new Allocate: at
			 * 1, 2, 4 ... 64 s, then every 64 s (conn_tick).
			 */
			r->retry_at = now + (CONN_RELAY_RETRY_NS <<
			    (r->retries < 6 ? r->retries : 6));
			r->retries++;
			log_warnx("relay %s %s: %s (%s); allocating again in "
			    "%llu s", r->id, r->server_s,
			    turn_event_str(ev.type), turn_reason_str(ev.reason),
			    (unsigned long long)((r->retry_at - now) /
			    1000000000ULL));
			break;
		default:
			log_debug("relay %s: %s", r->server_s,
			    turn_event_str(ev.type));
			break;
		}
	}
}

/* --- the pump: everything queued goes out ------------------------------- */

static void
agent_transmit(struct conn_mgr *m, const struct ice_transmit *t,
    uint64_t now)
{
	uint8_t out[ICE_MAX_STUN + 4];
	struct relay *r;
	uint16_t ch;
	size_t len;
	int slot;

	if (!t->via_relay) {
		m->ops->dgram(m->arg, t->sock, &t->dst.sa, t->buf, t->len);
		return;
	}
	if ((slot = relay_slot(t->sock)) < 0 ||
	    !(r = &m->relays[slot])->used || r->tc == NULL)
		return;
	if (turn_client_channel(r->tc, &t->dst.sa, &ch) != 0) {
		if (turn_client_bind_channel(r->tc, now, &t->dst.sa, &ch) != 0)
			return;
		/*
		 * The ChannelBind out before the first ChannelData on its
		 * channel: the relay drops ChannelData on a channel it does
		 * not know yet (that check would count only at its
		 * retransmission, an RTO later).
		 */
		relay_flush(m, r);
	}
	if (turn_client_wrap(r->tc, &t->dst.sa, t->buf, t->len, out,
	    sizeof(out), &len) != 0)
		return;
	m->ops->dgram(m->arg, r->sock, &r->server.sa, out, len);
}

/* Whether two pairs are the same path (what PEER_SET carries). */
static bool
same_path(const struct ice_pair_info *a, const struct ice_pair_info *b)
{
	return a->sock == b->sock && a->local_type == b->local_type &&
	    addr_eq(&a->remote.sa, &b->remote.sa);
}

/*
 * The Gateway's WireGuard peer must exist before the Client's first
 * handshake initiation can arrive, or fz-tunneld refuses it and the
 * Client only retries after REKEY_TIMEOUT (5 s).  The Client (controlling)
 * initiates as soon as the answer to its nominating check arrives; we
 * (controlled) select that pair only once our own check on it succeeds,
 * which may still be in flight (RFC 8445 section 7.3.1.5; through a relay
 * it often is).  So when the agent has answered a nomination on a pair
 * it has not validated yet, the peer is set on that pair now: pump()
 * handles events (and this) before transmits, so PEER_SET is sent ahead
 * of the DGRAM_DOWN with the answer.  The two travel on different IPC
 * channels (control and DGRAM), so fz-tunneld may still send the answer
 * a fraction of a millisecond before it adds the peer; the data plane
 * holds an initiation from an unknown key briefly and answers it on the
 * next PEER_SET (dp_held_init_retry), which covers that window, where
 * without this it would have to span our whole check (an RTO or more
 * when that check or its answer is lost).
 * Firezone gets the same ordering by creating the Gateway's WireGuard
 * tunnel when it accepts the connection (protocols section 2.2, step 5);
 * our PEER_SET needs a path, and this is the one the Client will use.
 * The selection that follows (ICE_EV_SELECTED) confirms or moves it.
 */
static void
peer_provisional(struct conn_mgr *m, struct peer *p, uint64_t now)
{
	struct ice_pair_info pi;

	if (!m->gateway || p->set ||
	    ice_agent_peer_nominated(p->agent, &pi) != 0)
		return;
	log_info("peer %s: nominated by the client before our check on the "
	    "pair succeeded: peer set ahead", p->id);
	p->sel = pi;
	peer_set(m, p, now);
	p->ahead = p->set;
}

static void
agent_events(struct conn_mgr *m, struct peer *p, uint64_t now)
{
	struct ice_event ev;

	while (ice_agent_poll_event(p->agent, &ev)) {
		switch (ev.type) {
		case ICE_EV_SELECTED:
			if (p->ahead && same_path(&p->sel, &ev.pair)) {
				p->ahead = false;
				p->sel = ev.pair;	/* set already */
				break;
			}
			p->ahead = false;
			p->sel = ev.pair;
			peer_set(m, p, now);
			break;
		case ICE_EV_STATE:
			log_info("peer %s: ICE %s", p->id,
			    ice_state_name(ev.state));
			if (ev.state == ICE_STATE_FAILED)
				p->dead = true;
			break;
		default:
			break;
		}
	}
}

/*
 * Client: a connection in use failed (§2.2, as Firezone's clients do: the
 * gateway's side fails silently, the client drives re-establishment).
 * Its resources are asked for again at once, not at the next packet: a
 * gateway whose fz-controld was restarted cannot answer our checks, and
 * takes its kept peer over with the new authorization (conn_peers_kept);
 * a restarted gateway has a new key.  Only for connections that carried
 * traffic in the last CONN_REQUEST_AGAIN_NS: an unused one to a gateway
 * that stays unreachable is not retried for ever.  The usual debounce.
 */
static void
request_again(struct conn_mgr *m, const char *rid, uint64_t now)
{
	portal_id gw[CONN_MAX_PEERS];
	struct cres *r = res_by_id(m, rid);
	size_t n = 0;
	unsigned i;

	if (r == NULL || (r->requested && now - r->last_request <
	    CONN_DEBOUNCE_NS))
		return;
	for (i = 0; i < CONN_MAX_PEERS; i++) {
		struct peer *p = m->peers[i];

		if (!p->used || p->dead || p->agent == NULL)
			continue;
		if (peer_serves(p, rid))
			return;
		memcpy(gw[n++], p->id, sizeof(gw[0]));
	}
	r->requested = true;
	r->last_request = now;
	log_info("resource %s (%s): its connection failed while in use: "
	    "requesting authorization again", r->id, r->dns ? "DNS" :
	    r->cidr_s);
	m->ops->request_authorization(m->arg, r->id, gw, n);
}

/* A kept client-side peer's resources, asked for again. */
static void
kept_ask(struct conn_mgr *m, struct peer *p, uint64_t now)
{
	portal_id res[sizeof(p->resources) / sizeof(p->resources[0])];
	unsigned i, n = p->nresources;

	p->asked_at = now;
	memcpy(res, p->resources, n * sizeof(res[0]));
	for (i = 0; i < n; i++)
		request_again(m, res[i], now);
}

/*
 * A failed connection.  Client: one whose WireGuard session still
 * receives (PEER_STATS rx moved in the last CONN_ALIVE_NS: the gateway's
 * fz-controld was restarted and cannot answer our checks, the data plane
 * is fine) is kept without its agent until the new connection for its
 * resources takes it over (peer_new, by key), so traffic does not wait for
 * the portal (it may be down); asked again every CONN_KEPT_ASK_NS and at
 * the portal's init, removed once it receives nothing for
 * CONN_KEPT_IDLE_NS.  Others are removed.
 */
static void
peer_failed(struct conn_mgr *m, struct peer *p, uint64_t now)
{
	portal_id res[sizeof(p->resources) / sizeof(p->resources[0])];
	unsigned i, n = 0;

	if (!m->gateway && p->set && p->rx_at != 0 &&
	    now - p->rx_at < CONN_ALIVE_NS) {
		log_info("peer %s: connection failed, but WireGuard still "
		    "receives: kept until a new connection takes it over",
		    p->id);
		ice_agent_free(p->agent);
		p->agent = NULL;
		p->set = p->dead = p->ahead = false;
		p->kept = true;
		kept_ask(m, p, now);
		return;
	}
	log_info("peer %s: connection failed", p->id);
	if (!m->gateway && p->set && p->active != 0 &&
	    now - p->active < CONN_REQUEST_AGAIN_NS) {
		n = p->nresources;
		memcpy(res, p->resources, n * sizeof(res[0]));
	}
	peer_drop(m, p);
	for (i = 0; i < n; i++)
		request_again(m, res[i], now);
}

static void
pump(struct conn_mgr *m, uint64_t now)
{
	struct turn_transmit tt;
	struct ice_transmit it;
	unsigned i, round;
	bool moved;

	/* a wrap may queue a ChannelBind: go round until quiet (bounded) */
	for (round = 0, moved = true; moved && round < 4; round++) {
		moved = false;
		for (i = 0; i < CONN_MAX_PEERS; i++) {
			struct peer *p = m->peers[i];

			if (!p->used || p->agent == NULL)
				continue;
			/*
			 * Events first: a selection reaches fz-tunneld (the
			 * peer added) before the check response that lets
			 * the other side send its handshake to it.
			 */
			agent_events(m, p, now);
			peer_provisional(m, p, now);
			while (ice_agent_poll_transmit(p->agent, &it)) {
				agent_transmit(m, &it, now);
				moved = true;
			}
		}
		for (i = 0; i < CONN_MAX_RELAYS; i++) {
			struct relay *r = &m->relays[i];

			if (!r->used || r->tc == NULL)
				continue;
			while (turn_client_poll_transmit(r->tc, &tt) == 0) {
				m->ops->dgram(m->arg, r->sock, tt.dst, tt.data,
				    tt.len);
				moved = true;
			}
			relay_events(m, i, now);
		}
	}
	for (i = 0; i < CONN_MAX_PEERS; i++)
		if (m->peers[i]->used && m->peers[i]->dead)
			peer_failed(m, m->peers[i], now);
}

/* --- traffic (PEER_STATS) ---------------------------------------------- */

/* A decimal counter up to UINT64_MAX, no sign, no leading zero. */
static bool
stats_num(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return true;
}

static void	kept_add(struct conn_mgr *, const char *key, uint64_t rx,
		    uint64_t tx, uint64_t now);

/*
 * One pass over "key rx tx; key rx tx": checks everything, and applies
 * when apply is set (the counters to the known peers; with kept, unknown
 * keys become kept peers: conn_peers_kept).
 */
static int
stats_walk(struct conn_mgr *m, const char *list, bool apply, bool kept,
    uint64_t now)
{
	const char *p = list, *end, *sp1, *sp2;
	char key[PORTAL_KEY_MAX + 1];
	uint64_t rx, tx;
	unsigned i;
	bool found;

	while (*p != '\0') {
		if ((end = strstr(p, "; ")) == NULL)
			end = p + strlen(p);
		if ((sp1 = memchr(p, ' ', (size_t)(end - p))) == NULL ||
		    (sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1))) ==
		    NULL)
			return -EINVAL;
		if (sp1 == p || (size_t)(sp1 - p) >= sizeof(key) ||
		    !stats_num(sp1 + 1, (size_t)(sp2 - sp1 - 1), &rx) ||
		    !stats_num(sp2 + 1, (size_t)(end - sp2 - 1), &tx))
			return -EINVAL;
		memcpy(key, p, (size_t)(sp1 - p));
		key[sp1 - p] = '\0';
		for (i = 0; i < (size_t)(sp1 - p); i++)
			if (!((key[i] >= 'A' && key[i] <= 'Z') ||
			    (key[i] >= 'a' && key[i] <= 'z') ||
			    (key[i] >= '0' && key[i] <= '9') ||
			    key[i] == '+' || key[i] == '/' || key[i] == '='))
				return -EINVAL;		/* not base64 */
		for (i = 0, found = false; apply && i < CONN_MAX_PEERS; i++) {
			struct peer *pr = m->peers[i];

			if (!pr->used || strcmp(pr->public_key, key) != 0)
				continue;
			found = true;
			if (rx != pr->rx_bytes)
				pr->rx_at = now;
			if (pr->agent == NULL) {	/* kept */
				pr->rx_bytes = rx;
				pr->tx_bytes = tx;
				continue;
			}
			if (rx != pr->rx_bytes || tx != pr->tx_bytes) {
				pr->active = now;
				ice_agent_traffic(pr->agent, now);
				log_debug("peer %s: traffic (rx %llu B, tx "
				    "%llu B)", pr->id, (unsigned long long)rx,
				    (unsigned long long)tx);
			}
			pr->rx_bytes = rx;
			pr->tx_bytes = tx;
		}
		if (apply && kept && !found)
			kept_add(m, key, rx, tx, now);
		p = *end != '\0' ? end + 2 : end;
		if (*end != '\0' && *p == '\0')
			return -EINVAL;		/* a trailing separator */
	}
	return 0;
}

int
conn_peer_stats(struct conn_mgr *m, const char *list, uint64_t now)
{
	int rc;

	if ((rc = stats_walk(m, list, false, false, now)) != 0)
		return rc;
	(void)stats_walk(m, list, true, false, now);
	pump(m, now);
	return 0;
}

/* --- peers an earlier fz-controld left (PEERS_KEPT) ------------------- */

static void
kept_add(struct conn_mgr *m, const char *key, uint64_t rx, uint64_t tx,
    uint64_t now)
{
	struct peer *p = NULL;
	unsigned i;

	for (i = 0; i < CONN_MAX_PEERS && p == NULL; i++)
		if (!m->peers[i]->used)
			p = peer_slot(m, i);
	if (p == NULL || (!m->gateway && m->inited)) {
		/* no room, or a client past its init: asked for afresh */
		m->ops->peer_del(m->arg, "", key);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->used = p->kept = true;
	snprintf(p->public_key, sizeof(p->public_key), "%s", key);
	p->rx_bytes = rx;
	p->tx_bytes = tx;
	p->rx_at = now;
}

int
conn_peers_kept(struct conn_mgr *m, const char *list, uint64_t now)
{
	unsigned before = conn_npeers(m);
	int rc;

	if ((rc = stats_walk(m, list, false, false, now)) != 0)
		return rc;
	(void)stats_walk(m, list, true, true, now);
	if (conn_npeers(m) > before)
		log_info("%u peer(s) kept from the last fz-controld (%s)",
		    conn_npeers(m) - before, m->gateway ? "until their "
		    "clients connect again" : "until the portal's init");
	return 0;
}

void
conn_portal_init(struct conn_mgr *m, uint64_t now)
{
	unsigned i, n = 0;

	if (m->gateway)
		return;
	m->inited = true;
	for (i = 0; i < CONN_MAX_PEERS; i++) {
		struct peer *p = m->peers[i];

		if (!p->used || p->agent != NULL)
			continue;
		if (p->nresources > 0)		/* peer_failed's */
			kept_ask(m, p, now);
		else {				/* PEERS_KEPT's */
			peer_drop(m, p);
			n++;
		}
	}
	if (n > 0)
		log_info("%u kept peer(s) removed: their next packets ask "
		    "for new connections", n);
	pump(m, now);
}

/* --- datagrams and time ------------------------------------------------- */

bool
conn_dgram_up(struct conn_mgr *m, uint32_t sock, const struct sockaddr *from,
    const uint8_t *b, size_t len, uint64_t now)
{
	struct turn_data d;
	bool taken = false;
	unsigned i, k;
	int rc;

	for (i = 0; i < CONN_MAX_RELAYS; i++) {
		struct relay *r = &m->relays[i];

		if (!r->used || r->tc == NULL || r->sock != sock ||
		    !addr_eq(&r->server.sa, from))
			continue;
		rc = turn_client_input(r->tc, now, from, b, len, &d);
		if (rc == TURN_INPUT_DATA) {
			/* it came to our relayed address of its family */
			const union fz_sockaddr *to =
			    &r->relayed[fam_ix(d.peer.sa.sa_family)];

			for (k = 0; k < CONN_MAX_PEERS && !taken; k++)
				if (m->peers[k]->used &&
				    m->peers[k]->agent != NULL)
					taken = ice_agent_recv(
					    m->peers[k]->agent,
					    CONN_RELAY_SOCK(i),
					    to->sa.sa_family != AF_UNSPEC ?
					    &to->sa : NULL,
					    &d.peer.sa, d.payload, d.len, now);
		} else
			taken = rc == TURN_INPUT_HANDLED;
		if (taken || rc == TURN_INPUT_DATA)
			break;
	}
	for (k = 0; k < CONN_MAX_PEERS && !taken && i == CONN_MAX_RELAYS; k++)
		if (m->peers[k]->used && m->peers[k]->agent != NULL)
			taken = ice_agent_recv(m->peers[k]->agent, sock, NULL,
			    from, b, len, now);
	pump(m, now);
	return taken;
}

void
conn_tick(struct conn_mgr *m, uint64_t now)
{
	uint64_t d;
	unsigned i;

	for (i = 0; i < CONN_MAX_RELAYS; i++)
		if (m->relays[i].used && m->relays[i].retry_at != 0 &&
		    m->relays[i].retry_at <= now)
			relay_retry(m, &m->relays[i], now);
	for (i = 0; i < CONN_MAX_RELAYS; i++)
		if (m->relays[i].used && m->relays[i].tc != NULL &&
		    turn_client_poll_timeout(m->relays[i].tc, &d) == 0 &&
		    d <= now)
			turn_client_handle_timeout(m->relays[i].tc, now);
	for (i = 0; i < CONN_MAX_PEERS; i++) {
		struct peer *p = m->peers[i];

		if (p->used && p->agent == NULL &&
		    now - p->rx_at >= CONN_KEPT_IDLE_NS) {
			log_info("a kept peer received nothing for %llu s: "
			    "removed", (unsigned long long)(CONN_KEPT_IDLE_NS /
			    1000000000ULL));
			peer_drop(m, p);
			continue;
		}
		if (p->used && p->agent == NULL && p->nresources > 0 &&
		    now - p->asked_at >= CONN_KEPT_ASK_NS)
			kept_ask(m, p, now);
		if (!p->used || p->agent == NULL)
			continue;
		/* traffic: conn_peer_stats (idle after 20 s without) */
		if (ice_agent_deadline(p->agent) <= now)
			ice_agent_tick(p->agent, now);
	}
	pump(m, now);
}

uint64_t
conn_deadline(const struct conn_mgr *m)
{
	uint64_t best = UINT64_MAX, d;
	unsigned i;

	for (i = 0; i < CONN_MAX_RELAYS; i++) {
		if (m->relays[i].used && m->relays[i].retry_at != 0 &&
		    m->relays[i].retry_at < best)
			best = m->relays[i].retry_at;
		if (m->relays[i].used && m->relays[i].tc != NULL &&
		    turn_client_poll_timeout(m->relays[i].tc, &d) == 0 &&
		    d < best)
			best = d;
	}
	for (i = 0; i < CONN_MAX_PEERS; i++) {
		if (m->peers[i]->used && m->peers[i]->agent != NULL &&
		    (d = ice_agent_deadline(m->peers[i]->agent)) < best)
			best = d;
		if (m->peers[i]->used && m->peers[i]->agent == NULL &&
		    m->peers[i]->rx_at + CONN_KEPT_IDLE_NS < best)
			best = m->peers[i]->rx_at + CONN_KEPT_IDLE_NS;
		if (m->peers[i]->used && m->peers[i]->agent == NULL &&
		    m->peers[i]->nresources > 0 &&
		    m->peers[i]->asked_at + CONN_KEPT_ASK_NS < best)
			best = m->peers[i]->asked_at + CONN_KEPT_ASK_NS;
	}
	return best;
}

/* --- life --------------------------------------------------------------- */

int
conn_new(bool gateway, const struct conn_ops *ops, void *arg,
    struct conn_mgr **out)
{
	struct conn_mgr *m;

	if (ops == NULL || ops->rng == NULL || ops->dgram == NULL ||
	    ops->peer_set == NULL || ops->peer_del == NULL ||
	    ops->candidates == NULL || ops->request_authorization == NULL)
		return -EINVAL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -ENOMEM;
	m->gateway = gateway;
	m->ops = ops;
	m->arg = arg;
	for (unsigned i = 0; i < CONN_MAX_PEERS; i++)
		m->peers[i] = (struct peer *)&no_peer;
	*out = m;
	return 0;
}

void
conn_free(struct conn_mgr *m)
{
	unsigned i;

	if (m == NULL)
		return;
	for (i = 0; i < CONN_MAX_PEERS; i++)
		if (m->peers[i]->used)
			peer_drop(m, m->peers[i]);
	for (i = 0; i < CONN_MAX_PEERS; i++)
		if (m->peers[i] != &no_peer)
			free(m->peers[i]);	/* wiped by peer_drop */
	for (i = 0; i < CONN_MAX_RELAYS; i++)
		if (m->relays[i].used)
			turn_client_free(m->relays[i].tc);
	conn_resources_clear(m);
	explicit_bzero(m->rlist, sizeof(m->rlist));	/* passwords */
	explicit_bzero(m->relays, sizeof(m->relays));
	free(m);
}

unsigned
conn_npeers(const struct conn_mgr *m)
{
	unsigned i, n = 0;

	for (i = 0; i < CONN_MAX_PEERS; i++)
		n += m->peers[i]->used;
	return n;
}

unsigned
conn_nrelays(const struct conn_mgr *m)
{
	unsigned i, n = 0;

	for (i = 0; i < CONN_MAX_RELAYS; i++)
		n += m->relays[i].used;
	return n;
}

int
conn_peer_state(const struct conn_mgr *m, const char *id,
    enum ice_state *st)
{
	unsigned i;

	for (i = 0; i < CONN_MAX_PEERS; i++)
		if (m->peers[i]->used && m->peers[i]->agent != NULL &&
		    strcmp(m->peers[i]->id, id) == 0) {
			*st = ice_agent_state(m->peers[i]->agent);
			return 0;
		}
	return -ENOENT;
}

int
conn_connections_fmt(const struct conn_mgr *m, uint64_t now,
    uint64_t now_real_s, char *buf, size_t len)
{
	struct ice_pair_info sel;
	size_t off = 0;
	unsigned i;
	int w;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (i = 0; i < CONN_MAX_PEERS; i++) {
		const struct peer *p = m->peers[i];
		uint64_t age_s, rtt_us = 0;

		if (!p->used || !p->set || p->dead)
			continue;
		if (ice_agent_selected(p->agent, &sel) == 0)
			rtt_us = sel.rtt_ns / 1000;
		age_s = now > p->since ? (now - p->since) / 1000000000ULL : 0;
		w = snprintf(buf + off, len - off,
		    "%s%s %s %s %s %u %llu %llu", off > 0 ? "; " : "", p->id,
		    p->public_key, p->relayed ? "relayed" : "direct",
		    p->path, (unsigned)p->channel, (unsigned long long)rtt_us,
		    (unsigned long long)(now_real_s > age_s ?
		    now_real_s - age_s : 0));
		if (w < 0 || (size_t)w >= len - off) {
			buf[off] = '\0';	/* whole entries only */
			return -ENOSPC;
		}
		off += (size_t)w;
	}
	return 0;
}

/* --- SRV/TXT to a DNS resource's gateway (§4.4) -------------------------- */

int
conn_site_gateway(const struct conn_mgr *m, const char *rid, int family,
    union fz_sockaddr *gw)
{
	union fz_sockaddr a;
	bool serving = false;
	unsigned i;

	if (m->gateway || (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	for (i = 0; i < CONN_MAX_PEERS; i++) {
		const struct peer *p = m->peers[i];

		if (!p->used || p->dead || !peer_serves(p, rid))
			continue;
		serving = true;
		if (!p->set)
			continue;
		if (addr_parse(p->tun[family == AF_INET6], ADDR_PORT_NONE,
		    &a) != 0 || a.sa.sa_family != family)
			return -EAFNOSUPPORT;
		*gw = a;
		return 0;
	}
	return serving ? -EAGAIN : -ENOENT;
}

int
conn_wanted_site(struct conn_mgr *m, const char *rid, uint64_t now)
{
	portal_id gw[CONN_MAX_PEERS];
	struct cres *r;
	size_t n = 0;
	unsigned i;

	if (m->gateway)
		return -EINVAL;
	if ((r = res_by_id(m, rid)) == NULL || !r->dns)
		return -ENOENT;
	for (i = 0; i < CONN_MAX_PEERS; i++) {
		struct peer *p = m->peers[i];

		if (!p->used || p->dead)
			continue;
		if (peer_serves(p, r->id))
			return -EALREADY;
		memcpy(gw[n++], p->id, sizeof(gw[0]));
	}
	if (r->requested && now - r->last_request < CONN_DEBOUNCE_NS)
		return -EALREADY;
	r->requested = true;
	r->last_request = now;
	log_info("SRV/TXT for DNS resource %s (%s): requesting authorization",
	    r->id, r->cidr_s);
	m->ops->request_authorization(m->arg, r->id, gw, n);
	return 0;
}
