/* SPDX-License-Identifier: ISC */
/*
 * dp_dnsnat.h: the gateway's per-client DNS-resource NAT tables in the
 * data plane, and the two per-packet hooks.
 */
#define LOG_MODULE "dnsnat"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/virtio_net.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dp_dnsnat.h"
#include "dp_filter.h"
#include "dp_impl.h"
#include "filter.h"
#include "fztime.h"
#include "wg_rcu.h"

struct nat_client {
	char			 id[FLT_ID_MAX + 1];
	bool			 has4, has6;	/* the writer's copy */
	uint8_t			 v4[4], v6[16];
	pthread_mutex_t		 mu;		/* the table: one packet at once */
	struct dnsnat		*nat;
	struct rcu_head		 rcu;		/* freed after a grace period */
	struct nat_client	*gone;		/* dp_dnsnat_prune's list */
};

/*
 * What the workers read: the clients by tunnel address, built whole by
 * the main loop after each change (rare) and published with one atomic
 * store; the one it replaces, and a removed client, are freed after an
 * RCU grace period (call_rcu), so a worker reads it without a lock inside
 * wg_read_lock, and the main loop never waits for one.
 */
#define BUCKETS		1024
struct nat_ent {
	uint8_t			 a[16];		/* 4 bytes for IPv4 */
	struct nat_client	*c;
	size_t			 next;		/* chain: index + 1; 0 end */
};
struct nat_snap {
	struct rcu_head		 rcu;
	size_t			 head[2][BUCKETS];	/* index + 1; 0 none */
	struct nat_ent		 e[];
};

struct dp_dnsnat {
	pthread_mutex_t		 wlock;		/* the main loop's, for c */
	struct nat_client	**c;
	size_t			 n, cap;
	_Atomic size_t		 count;		/* n, for the lock-free test */
	_Atomic(struct nat_snap *) snap;	/* NULL: none (or no memory) */
	struct dnsnat_stats	 gone;		/* of clients removed */
};

static struct dp_dnsnat *
tab_of(const struct dp *dp)
{
	return atomic_load_explicit(&((struct dp *)dp)->dnsnat,
	    memory_order_acquire);
}

/* The table, created on first use (main loop only). */
static struct dp_dnsnat *
tab_get(struct dp *dp)
{
	struct dp_dnsnat *t = tab_of(dp);

	if (t != NULL)
		return t;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	pthread_mutex_init(&t->wlock, NULL);
	atomic_store_explicit(&dp->dnsnat, t, memory_order_release);
	return t;
}

static void
stats_add(struct dnsnat_stats *a, const struct dnsnat_stats *b)
{
	a->translated_out += b->translated_out;
	a->translated_in += b->translated_in;
	a->unreachable += b->unreachable;
	a->expired += b->expired;
	a->dropped_malformed += b->dropped_malformed;
	a->dropped_unsupported += b->dropped_unsupported;
	a->dropped_full += b->dropped_full;
	a->resets += b->resets;
	a->sessions_expired += b->sessions_expired;
}

static void
client_free(struct nat_client *c)
{
	dnsnat_free(c->nat);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void
client_free_rcu(struct rcu_head *r)
{
	client_free(caa_container_of(r, struct nat_client, rcu));
}

static void
snap_free_rcu(struct rcu_head *r)
{
	free(caa_container_of(r, struct nat_snap, rcu));
}

static struct nat_client *
by_id(struct dp_dnsnat *t, const char *id, size_t *idx)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->c[i]->id, id) == 0) {
			if (idx != NULL)
				*idx = i;
			return t->c[i];
		}
	return NULL;
}

static size_t
bucket(int family, const uint8_t *a)
{
	uint32_t h = 2166136261u;		/* FNV-1a */

	for (int i = 0; i < (family == AF_INET ? 4 : 16); i++)
		h = (h ^ a[i]) * 16777619u;
	return h % BUCKETS;
}

/*
 * After any change, under wlock: the clients by address, published; the
 * old one freed after a grace period.  Out of memory: none published
 * (every client's packets go untranslated until the next change), said.
 */
static void
publish(struct dp_dnsnat *t)
{
	struct nat_snap *ns, *old;
	size_t i, k = 0, b;

	ns = calloc(1, sizeof(*ns) + 2 * t->n * sizeof(ns->e[0]));
	if (ns == NULL)
		log_warnx("DNS resources: out of memory, no client's "
		    "addresses translated");
	for (i = t->n; ns != NULL && i-- > 0;) {
		struct nat_client *c = t->c[i];

		if (c->has4) {
			memcpy(ns->e[k].a, c->v4, 4);
			ns->e[k].c = c;
			b = bucket(AF_INET, c->v4);
			ns->e[k].next = ns->head[0][b];
			ns->head[0][b] = ++k;
		}
		if (c->has6) {
			memcpy(ns->e[k].a, c->v6, 16);
			ns->e[k].c = c;
			b = bucket(AF_INET6, c->v6);
			ns->e[k].next = ns->head[1][b];
			ns->head[1][b] = ++k;
		}
	}
	old = atomic_exchange_explicit(&t->snap, ns, memory_order_acq_rel);
	if (old != NULL)
		call_rcu(&old->rcu, snap_free_rcu);
}

/* Inside wg_read_lock: the client with tunnel address a. */
static struct nat_client *
by_addr(struct dp_dnsnat *t, int family, const uint8_t *a)
{
	const struct nat_snap *ns = atomic_load_explicit(&t->snap,
	    memory_order_acquire);
	int f = family == AF_INET ? 0 : 1;
	size_t i;

	if (ns == NULL)
		return NULL;
	for (i = ns->head[f][bucket(family, a)]; i != 0;
	    i = ns->e[i - 1].next)
		if (memcmp(ns->e[i - 1].a, a, f == 0 ? 4 : 16) == 0)
			return ns->e[i - 1].c;
	return NULL;
}

int
dp_dnsnat_set(struct dp *dp, const char *id, const char *ipv4,
    const char *ipv6, const char *domain, const struct fz_ip *proxies,
    size_t np, const struct fz_ip *resolved, size_t nr)
{
	struct dp_dnsnat *t;
	struct nat_client *c, **nc;
	uint8_t v4[4] = { 0 }, v6[16] = { 0 };
	bool has4 = *ipv4 != '\0', has6 = *ipv6 != '\0', added = false;
	int rc;

	if (*id == '\0' || strlen(id) > FLT_ID_MAX ||
	    (has4 && inet_pton(AF_INET, ipv4, v4) != 1) ||
	    (has6 && inet_pton(AF_INET6, ipv6, v6) != 1) || (!has4 && !has6))
		return -EINVAL;
	if ((t = tab_get(dp)) == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&t->wlock);
	if ((c = by_id(t, id, NULL)) == NULL) {
		rc = -ENOMEM;
		if (t->n == DP_DNSNAT_CLIENTS) {
			rc = -ENOSPC;
			goto out;
		}
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 16;

			if ((nc = realloc(t->c, cap * sizeof(*nc))) == NULL)
				goto out;
			t->c = nc;
			t->cap = cap;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL)
			goto out;
		if ((c->nat = dnsnat_new()) == NULL) {
			free(c);
			goto out;
		}
		pthread_mutex_init(&c->mu, NULL);
		memcpy(c->id, id, strlen(id) + 1);
		t->c[t->n++] = c;
		added = true;
		atomic_store_explicit(&t->count, t->n, memory_order_release);
	}
	/* The writer's copy; workers see it once published. */
	if (added || c->has4 != has4 || c->has6 != has6 ||
	    memcmp(c->v4, v4, sizeof(v4)) != 0 ||
	    memcmp(c->v6, v6, sizeof(v6)) != 0) {
		c->has4 = has4;
		c->has6 = has6;
		memcpy(c->v4, v4, sizeof(v4));
		memcpy(c->v6, v6, sizeof(v6));
		publish(t);
	}
	pthread_mutex_lock(&c->mu);
	rc = dnsnat_assign(c->nat, domain, proxies, np, resolved, nr);
	pthread_mutex_unlock(&c->mu);
out:
	pthread_mutex_unlock(&t->wlock);
	return rc;
}

int
dp_dnsnat_target(struct dp *dp, const char *id, const struct fz_ip *proxy,
    struct fz_ip *real)
{
	struct dp_dnsnat *t = tab_of(dp);
	struct nat_client *c;
	int rc = -ENOENT;

	if (t == NULL)
		return -ENOENT;
	pthread_mutex_lock(&t->wlock);
	if ((c = by_id(t, id, NULL)) != NULL) {
		pthread_mutex_lock(&c->mu);
		rc = dnsnat_target(c->nat, proxy, real);
		pthread_mutex_unlock(&c->mu);
	}
	pthread_mutex_unlock(&t->wlock);
	return rc;
}

/* Under wlock; publish after.  Its counters stay in the totals. */
static void
remove_at(struct dp_dnsnat *t, size_t i)
{
	struct nat_client *c = t->c[i];
	struct dnsnat_stats st;

	pthread_mutex_lock(&c->mu);
	dnsnat_get_stats(c->nat, &st);
	pthread_mutex_unlock(&c->mu);
	stats_add(&t->gone, &st);
	t->c[i] = t->c[--t->n];
	atomic_store_explicit(&t->count, t->n, memory_order_release);
}

int
dp_dnsnat_del(struct dp *dp, const char *id)
{
	struct dp_dnsnat *t = tab_of(dp);
	struct nat_client *c;
	size_t i;
	int rc = -ENOENT;

	if (t == NULL)
		return -ENOENT;
	pthread_mutex_lock(&t->wlock);
	if ((c = by_id(t, id, &i)) != NULL) {
		remove_at(t, i);
		publish(t);
		/* After the new table: a worker may hold it until then. */
		call_rcu(&c->rcu, client_free_rcu);
		rc = 0;
	}
	pthread_mutex_unlock(&t->wlock);
	return rc;
}

size_t
dp_dnsnat_prune(struct dp *dp, bool (*keep)(const char *, void *), void *arg)
{
	struct dp_dnsnat *t = tab_of(dp);
	size_t i, n = 0;

	if (t == NULL || atomic_load(&t->count) == 0)
		return 0;
	struct nat_client *gone = NULL, *c;

	pthread_mutex_lock(&t->wlock);
	for (i = 0; i < t->n;) {
		if (!keep(t->c[i]->id, arg)) {
			c = t->c[i];
			remove_at(t, i);
			c->gone = gone;
			gone = c;
			n++;
		} else
			i++;
	}
	if (n > 0)
		publish(t);
	pthread_mutex_unlock(&t->wlock);
	/* After the new table: a worker may hold them until then. */
	while ((c = gone) != NULL) {
		gone = c->gone;
		call_rcu(&c->rcu, client_free_rcu);
	}
	return n;
}

void
dp_dnsnat_expire(struct dp *dp, uint64_t now_ms)
{
	struct dp_dnsnat *t = tab_of(dp);

	if (t == NULL || atomic_load(&t->count) == 0)
		return;
	pthread_mutex_lock(&t->wlock);
	for (size_t i = 0; i < t->n; i++) {
		pthread_mutex_lock(&t->c[i]->mu);
		(void)dnsnat_expire(t->c[i]->nat, now_ms);
		pthread_mutex_unlock(&t->c[i]->mu);
	}
	pthread_mutex_unlock(&t->wlock);
}

size_t
dp_dnsnat_clients(struct dp *dp)
{
	struct dp_dnsnat *t = tab_of(dp);

	return t == NULL ? 0 : atomic_load(&t->count);
}

void
dp_dnsnat_stats(struct dp *dp, struct dnsnat_stats *out)
{
	struct dp_dnsnat *t = tab_of(dp);
	struct dnsnat_stats st;

	memset(out, 0, sizeof(*out));
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->wlock);
	*out = t->gone;
	for (size_t i = 0; i < t->n; i++) {
		pthread_mutex_lock(&t->c[i]->mu);
		dnsnat_get_stats(t->c[i]->nat, &st);
		pthread_mutex_unlock(&t->c[i]->mu);
		stats_add(out, &st);
	}
	pthread_mutex_unlock(&t->wlock);
}

void
dp_dnsnat_free(struct dp *dp)
{
	struct dp_dnsnat *t = tab_of(dp);

	if (t == NULL)
		return;
	/* The workers are gone: nothing reads the table any more. */
	atomic_store(&dp->dnsnat, NULL);
	free(atomic_load(&t->snap));
	for (size_t i = 0; i < t->n; i++)
		client_free(t->c[i]);
	free(t->c);
	rcu_barrier();		/* removed clients and tables handed over */
	pthread_mutex_destroy(&t->wlock);
	free(t);
}

static uint64_t
mono_ms(void)
{
	return time_mono_ns() / 1000000;
}

/* The ICMP unreachable for pkt, back to the client the way it came. */
static void
unreachable(struct worker *w, struct wg_peer *p, const uint8_t *pkt,
    size_t len)
{
	uint8_t icmp[FLT_ICMP_MAX];
	struct wg_keypair *k;
	struct tx_path path;
	struct flt_pkt fp;
	size_t n;

	if (flt_parse(pkt, len, &fp) != 0 || (n = flt_icmp_build(&fp, pkt,
	    FLT_UNREACHABLE, icmp, sizeof(icmp))) == 0)
		return;
	if (!wg_peer_path(p, &path.to, &path.chan) ||
	    (k = wg_peer_send_keypair(p)) == NULL)
		return;
	tx_send_packet(w, p, k, &path, icmp, n);
	wg_keypair_put(k);
}

bool
dpn_from_peer(struct worker *w, struct wg_peer *p, uint8_t *pkt, size_t len)
{
	struct dp_dnsnat *t = tab_of(w->dp);
	struct nat_client *c;
	enum dnsnat_verdict v = DNSNAT_UNREACHABLE;
	int family;

	if (len < 20)
		return true;
	family = (pkt[0] >> 4) == 4 ? AF_INET : AF_INET6;
	if (family == AF_INET6 && len < 40)
		return true;
	/* Only a gateway's (its filters passed the proxy IP; a client's
	 * proxy IPs never come from a peer). */
	if (dp_filter_mode(w->dp) != DP_FILTER_GATEWAY ||
	    !flt_is_proxy_ip(family, family == AF_INET ? pkt + 16 : pkt + 24))
		return true;
	if (t != NULL && atomic_load_explicit(&t->count,
	    memory_order_acquire) > 0) {
		wg_read_lock();
		if ((c = by_addr(t, family, family == AF_INET ? pkt + 12 :
		    pkt + 8)) != NULL) {
			pthread_mutex_lock(&c->mu);
			v = dnsnat_out(c->nat, pkt, len, mono_ms());
			pthread_mutex_unlock(&c->mu);
		}
		wg_read_unlock();
	}
	switch (v) {
	case DNSNAT_TRANSLATED:
		return true;
	case DNSNAT_PASS:		/* a proxy IP it never assigned */
	case DNSNAT_UNREACHABLE:
		unreachable(w, p, pkt, len);
		return false;
	default:
		return false;
	}
}

/* A partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM) holds the pseudo-header
 * sum uncomplemented: inverted around dnsnat_in's RFC 1624 update, it is
 * updated the right way. */
static void
flip_partial(const struct virtio_net_hdr *vh, uint8_t *pkt, size_t len)
{
	size_t at;

	if (vh == NULL || !(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return;
	at = (size_t)vh->csum_start + vh->csum_offset;
	if (at + 2 <= len)
		off_put16(pkt + at, (uint16_t)~off_get16(pkt + at));
}

bool
dpn_from_tun(struct worker *w, const struct virtio_net_hdr *vh, uint8_t *pkt,
    size_t len)
{
	struct dp_dnsnat *t = tab_of(w->dp);
	struct nat_client *c;
	enum dnsnat_verdict v = DNSNAT_PASS;
	int family;

	if (t == NULL || atomic_load_explicit(&t->count,
	    memory_order_acquire) == 0 || len < 20)
		return true;
	family = (pkt[0] >> 4) == 4 ? AF_INET : AF_INET6;
	if (family == AF_INET6 && len < 40)
		return true;
	wg_read_lock();
	if ((c = by_addr(t, family, family == AF_INET ? pkt + 16 :
	    pkt + 24)) != NULL) {
		pthread_mutex_lock(&c->mu);
		flip_partial(vh, pkt, len);
		v = dnsnat_in(c->nat, pkt, len, mono_ms());
		flip_partial(vh, pkt, len);
		pthread_mutex_unlock(&c->mu);
	}
	wg_read_unlock();
	return v == DNSNAT_PASS || v == DNSNAT_TRANSLATED;
}
