/* SPDX-License-Identifier: ISC */
/*
 * The client's DNS resources in the data plane (dp_dnsres.h): the proxy
 * IP map and the DNS-NAT state machine wired to the send paths.
 */
#define LOG_MODULE "dataplane"

#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_dnsres.h"
#include "dp_impl.h"
#include "fztime.h"
#include "proxymap.h"

struct dp_dnsres {
	pthread_mutex_t		 lock;
	struct proxymap		*map;
	struct p2p_nat		*nat;
	struct log_ratelimit	 rl;
};

static struct dp_dnsres *
of(struct dp *dp)
{
	return atomic_load_explicit(&dp->dnsres, memory_order_acquire);
}

static uint64_t
gw_id(const struct wg_peer *p)
{
	return (uint64_t)(uintptr_t)p;
}

static uint64_t
now_ms(void)
{
	return time_mono_ns() / 1000000u;
}

/* Created by the main loop only (the first DNS_PROXY). */
static struct dp_dnsres *
get_or_create(struct dp *dp)
{
	struct dp_dnsres *r = of(dp);

	if (r != NULL)
		return r;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->map = proxymap_new()) == NULL ||
	    (r->nat = p2p_nat_new()) == NULL) {
		proxymap_free(r->map);
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 5);
	atomic_store_explicit(&dp->dnsres, r, memory_order_release);
	return r;
}

void
dpr_free(struct dp *dp)
{
	struct dp_dnsres *r = of(dp);

	if (r == NULL)
		return;
	atomic_store(&dp->dnsres, NULL);
	p2p_nat_free(r->nat);
	proxymap_free(r->map);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static void
ip_of(struct fz_ip *ip, int v6, const uint8_t *dst)
{
	memset(ip, 0, sizeof(*ip));
	ip->af = v6 ? AF_INET6 : AF_INET;
	memcpy(ip->a, dst, v6 ? 16 : 4);
}

int
dp_dnsres_proxy(struct dp *dp, const struct p2p_msg *m, bool fresh)
{
	uint8_t ctl[P2P_MAX_PKT];
	struct dp_dnsres *r;
	struct wg_peer *p = NULL;
	size_t ctllen = 0, i;
	int rc;

	if ((r = get_or_create(dp)) == NULL)
		return -ENOMEM;
	wg_read_lock();
	pthread_mutex_lock(&r->lock);
	if ((rc = proxymap_set(r->map, m)) == 0 && fresh) {
		/* The gateway of this name: whoever routes its proxy IPs. */
		for (i = 0; i < m->nproxy && p == NULL; i++)
			p = allowedips_lookup(dp->aip, m->proxy[i].af,
			    m->proxy[i].a);
		if (p != NULL && (rc = p2p_nat_dns_query(r->nat, gw_id(p), m,
		    now_ms(), ctl, sizeof(ctl), &ctllen)) != 0)
			ctllen = 0;
	}
	pthread_mutex_unlock(&r->lock);
	if (ctllen > 0) {
		log_debug("peer %s: assigned_ips for %s (resource %s), a new "
		    "query", wg_peer_name(p), m->domain, m->resource);
		tx_stage(dp, p, ctl, ctllen);
	}
	wg_read_unlock();
	return rc;
}

void
dp_dnsres_keep(struct dp *dp, const char *const *ids, size_t n)
{
	struct dp_dnsres *r = of(dp);

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	(void)proxymap_keep(r->map, ids, n);
	pthread_mutex_unlock(&r->lock);
}

void
dp_dnsres_clear(struct dp *dp)
{
	struct dp_dnsres *r = of(dp);
	struct p2p_nat *fresh;

	if (r == NULL)
		return;
	fresh = p2p_nat_new();
	pthread_mutex_lock(&r->lock);
	proxymap_clear(r->map);
	if (fresh != NULL) {
		p2p_nat_free(r->nat);
		r->nat = fresh;
	}
	pthread_mutex_unlock(&r->lock);
}

void
dp_dnsres_get_stats(struct dp *dp, struct dp_dnsres_stats *st)
{
	struct dp_dnsres *r = of(dp);

	memset(st, 0, sizeof(*st));
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	st->names = proxymap_count(r->map);
	p2p_nat_get_stats(r->nat, &st->nat);
	pthread_mutex_unlock(&r->lock);
}

enum p2p_nat_state
dp_dnsres_state(struct dp *dp, const struct wg_peer *p, const char *resource,
    const char *domain)
{
	struct dp_dnsres *r = of(dp);
	enum p2p_nat_state s;

	if (r == NULL)
		return P2P_NAT_NONE;
	pthread_mutex_lock(&r->lock);
	s = p2p_nat_state(r->nat, gw_id(p), resource, domain);
	pthread_mutex_unlock(&r->lock);
	return s;
}

/*
 * The verdict for one packet (under r->lock): -1 send it on, else taken.
 * An assigned_ips due is left in ctl.
 */
static int
verdict(struct dp_dnsres *r, struct wg_peer *p, bool gso, int v6,
    const uint8_t *dst, const uint8_t *pkt, size_t len, uint8_t *ctl,
    size_t *ctllen)
{
	struct p2p_msg m;
	struct fz_ip ip;
	int rc;

	*ctllen = 0;
	ip_of(&ip, v6, dst);
	if (proxymap_lookup(r->map, &ip, &m) != 0)
		return -1;		/* not a name we answered: as before */
	if (gso) {
		/* A super-packet cannot be buffered (P2P_MAX_PKT); a flow
		 * only sends them once its SYN went through, i.e. after
		 * the gateway confirmed, so outside that it is dropped. */
		switch (p2p_nat_state(r->nat, gw_id(p), m.resource,
		    m.domain)) {
		case P2P_NAT_CONFIRMED:
		case P2P_NAT_FAILED:
		case P2P_NAT_RECREATING:
			return -1;
		default:
			return 1;
		}
	}
	rc = p2p_nat_packet(r->nat, gw_id(p), &m, pkt, len, now_ms(), ctl,
	    P2P_MAX_PKT, ctllen);
	if (*ctllen > 0)	/* at most every 2 s per name */
		log_debug("peer %s: assigned_ips for %s (resource %s)",
		    wg_peer_name(p), m.domain, m.resource);
	if (rc < 0) {
		if (log_ratelimit(&r->rl))
			log_warnc(-rc, "DNS resource %s: %s", m.resource,
			    m.domain);
		return rc == -ENOSPC ? -1 : 1;	/* table full: unconfirmed */
	}
	return rc == P2P_NAT_FORWARD ? -1 : 1;
}

/* A control packet (assigned_ips) for p from a worker: now, or staged. */
static void
send_ctl(struct worker *w, struct wg_peer *p, const uint8_t *ctl,
    size_t len)
{
	struct wg_keypair *k;
	struct tx_path path;

	if (!wg_peer_path(p, &path.to, &path.chan) ||
	    (k = wg_peer_send_keypair(p)) == NULL) {
		tx_stage(w->dp, p, ctl, len);
		return;
	}
	tx_send_packet(w, p, k, &path, ctl, len);
	wg_keypair_put(k);
}

bool
dpr_from_tun(struct worker *w, struct wg_peer *p,
    const struct virtio_net_hdr *vh, int v6, const uint8_t *dst,
    const uint8_t *pkt, size_t len)
{
	struct dp_dnsres *r = of(w->dp);
	uint8_t ctl[P2P_MAX_PKT];
	size_t ctllen;
	int v;

	if (r == NULL)
		return false;
	pthread_mutex_lock(&r->lock);
	v = verdict(r, p, vh->gso_type != VIRTIO_NET_HDR_GSO_NONE, v6, dst,
	    pkt, len, ctl, &ctllen);
	pthread_mutex_unlock(&r->lock);
	if (ctllen > 0)
		send_ctl(w, p, ctl, ctllen);
	return v >= 0;
}

bool
dpr_held(struct dp *dp, struct wg_peer *p, int v6, const uint8_t *dst,
    const uint8_t *pkt, size_t len)
{
	struct dp_dnsres *r = of(dp);
	uint8_t ctl[P2P_MAX_PKT];
	size_t ctllen;
	int v;

	if (r == NULL)
		return false;
	pthread_mutex_lock(&r->lock);
	v = verdict(r, p, false, v6, dst, pkt, len, ctl, &ctllen);
	pthread_mutex_unlock(&r->lock);
	if (ctllen > 0)
		tx_stage(dp, p, ctl, ctllen);
	return v >= 0;
}

struct flush {
	struct worker		*w;
	struct wg_peer		*p;
	struct wg_keypair	*k;
	struct tx_path		 path;
};

static void
emit(void *arg, uint64_t gw, const uint8_t *pkt, size_t len)
{
	struct flush *f = arg;

	(void)gw;
	if (f->k != NULL)
		tx_send_packet(f->w, f->p, f->k, &f->path, pkt, len);
	else
		tx_stage(f->w->dp, f->p, pkt, len);
}

void
dpr_status(struct worker *w, struct wg_peer *p, const struct p2p_msg *m)
{
	struct dp_dnsres *r = of(w->dp);
	struct flush f = { .w = w, .p = p, .k = NULL };
	int n;

	if (r == NULL || m->type != P2P_DOMAIN_STATUS)
		return;
	if (wg_peer_path(p, &f.path.to, &f.path.chan))
		f.k = wg_peer_send_keypair(p);
	pthread_mutex_lock(&r->lock);
	n = p2p_nat_status(r->nat, gw_id(p), m, emit, &f);
	pthread_mutex_unlock(&r->lock);
	if (f.k != NULL)
		wg_keypair_put(f.k);
	if (n < 0) {
		if (log_ratelimit(&r->rl))
			log_debug("peer %s: domain_status for %s we did not "
			    "ask for", wg_peer_name(p), m->domain);
		return;
	}
	log_debug("peer %s: %s (resource %s) %s, %d packet(s) flushed",
	    wg_peer_name(p), m->domain, m->resource,
	    m->active ? "active" : "inactive", n);
}

void
dpr_p2p_hook(void *arg, struct worker *w, struct wg_peer *p,
    const uint8_t *pkt, size_t len)
{
	struct p2p_msg m;

	(void)arg;
	if (p2p_parse(pkt, len, &m) != 0 || m.type != P2P_DOMAIN_STATUS) {
		struct dp_dnsres *r = of(w->dp);

		if (r != NULL && log_ratelimit(&r->rl))
			log_debug("peer %s: a control packet that does not "
			    "parse", wg_peer_name(p));
		return;
	}
	dpr_status(w, p, &m);
}

void
dpr_forget(struct dp *dp, struct wg_peer *p)
{
	struct dp_dnsres *r = of(dp);

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	p2p_nat_forget_gateway(r->nat, gw_id(p));
	pthread_mutex_unlock(&r->lock);
}
