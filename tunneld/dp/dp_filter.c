/* SPDX-License-Identifier: ISC */
/*
 * dp_filter.h: the per-packet hooks (dpf_from_peer on the receive path,
 * dpf_from_tun on the send path, dp_impl.h) and the table under RCU:
 * workers read the published table inside wg_read_lock, with no lock
 * shared by all of them; the main loop changes a clone, publishes it and
 * frees the old one after a grace period.
 */
#define LOG_MODULE "filter"
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dp_filter.h"
#include "flowlog.h"
#include "dp_impl.h"
#include "wg_rcu.h"

struct dp_flt {
	enum dp_filter_mode	 mode;
	_Atomic(struct flt_table *) t;		/* published (RCU) */
	pthread_mutex_t		 wlock;		/* writers */
	struct flt_table	*w;		/* the writer's clone */
	_Atomic uint64_t	 ctr[4];	/* by enum flt_verdict */
	_Atomic uint64_t	 ret_drop;	/* gateway: TUN -> client */
	pthread_mutex_t		 rl_lock;
	/* Refusals logged (debug), each direction on its own budget. */
	struct log_ratelimit	 rl;		/* toward resources */
	struct log_ratelimit	 rl_ret;	/* gateway: toward clients */
	pthread_mutex_t		 flow_lock;
	_Atomic(struct flowlog *) fl;		/* flow logs; NULL: off */
};

static struct dp_flt *
flt_of(const struct dp *dp)
{
	return atomic_load_explicit(&((struct dp *)dp)->flt,
	    memory_order_acquire);
}

int
dp_filter_enable(struct dp *dp, enum dp_filter_mode mode)
{
	struct dp_flt *f = flt_of(dp), *expect = NULL;
	struct flt_table *t;

	if (f != NULL)
		return f->mode == mode ? 0 : -EEXIST;
	if (mode == DP_FILTER_OFF)
		return 0;
	if ((t = flt_table_new()) == NULL)
		return -ENOMEM;
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		flt_table_free(t);
		return -ENOMEM;
	}
	atomic_init(&f->t, t);
	f->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 10);
	f->rl_ret = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 10);
	pthread_mutex_init(&f->rl_lock, NULL);
	pthread_mutex_init(&f->flow_lock, NULL);
	pthread_mutex_init(&f->wlock, NULL);
	f->mode = mode;
	if (!atomic_compare_exchange_strong(&dp->flt, &expect, f)) {
		pthread_mutex_destroy(&f->wlock);
		pthread_mutex_destroy(&f->rl_lock);
		pthread_mutex_destroy(&f->flow_lock);
		flt_table_free(t);
		free(f);
		return expect->mode == mode ? 0 : -EEXIST;
	}
	return 0;
}

enum dp_filter_mode
dp_filter_mode(const struct dp *dp)
{
	struct dp_flt *f = flt_of(dp);

	return f != NULL ? f->mode : DP_FILTER_OFF;
}

struct flt_table *
dp_filter_wlock(struct dp *dp)
{
	struct dp_flt *f = flt_of(dp);

	if (f == NULL)
		return NULL;
	pthread_mutex_lock(&f->wlock);
	if ((f->w = flt_table_clone(atomic_load(&f->t))) == NULL) {
		pthread_mutex_unlock(&f->wlock);
		log_warnx("resource enforcement: out of memory, access "
		    "table unchanged");
	}
	return f->w;
}

void
dp_filter_wunlock(struct dp *dp)
{
	struct dp_flt *f = flt_of(dp);
	struct flt_table *old;

	if (f == NULL || f->w == NULL)
		return;
	old = atomic_exchange_explicit(&f->t, f->w, memory_order_acq_rel);
	f->w = NULL;
	pthread_mutex_unlock(&f->wlock);
	synchronize_rcu();	/* no worker reads the old table any more */
	flt_table_free(old);
}

/* The published table: inside wg_read_lock. */
static const struct flt_table *
table_of(struct dp_flt *f)
{
	return atomic_load_explicit(&f->t, memory_order_acquire);
}

uint64_t
dp_filter_counter(const struct dp *dp, enum flt_verdict v)
{
	struct dp_flt *f = flt_of(dp);

	if (f == NULL || (unsigned)v >= 4)
		return 0;
	return atomic_load_explicit(&f->ctr[v], memory_order_relaxed);
}

uint64_t
dp_filter_return_drops(const struct dp *dp)
{
	struct dp_flt *f = flt_of(dp);

	return f == NULL ? 0 :
	    atomic_load_explicit(&f->ret_drop, memory_order_relaxed);
}

void
dp_filter_free(struct dp *dp)
{
	struct dp_flt *f = flt_of(dp);

	if (f == NULL)
		return;
	atomic_store(&dp->flt, NULL);
	pthread_mutex_destroy(&f->wlock);
	pthread_mutex_destroy(&f->rl_lock);
	pthread_mutex_destroy(&f->flow_lock);
	flowlog_free(atomic_load(&f->fl));
	flt_table_free(atomic_load(&f->t));
	free(f);
}

int
dp_filter_flowlog_enable(struct dp *dp, size_t max)
{
	struct dp_flt *f = flt_of(dp);
	struct flowlog *fl, *expect = NULL;

	if (f == NULL || f->mode != DP_FILTER_GATEWAY)
		return -EINVAL;
	if (atomic_load(&f->fl) != NULL)
		return 0;
	if ((fl = flowlog_new(max)) == NULL)
		return -ENOMEM;
	if (!atomic_compare_exchange_strong(&f->fl, &expect, fl))
		flowlog_free(fl);
	return 0;
}

size_t
dp_filter_flows_take(struct dp *dp, uint64_t now_ms, bool all,
    void (*fn)(const struct flow_rec *, void *), void *arg)
{
	struct dp_flt *f = flt_of(dp);
	struct flowlog *fl;
	size_t n;

	if (f == NULL || (fl = atomic_load(&f->fl)) == NULL)
		return 0;
	pthread_mutex_lock(&f->flow_lock);
	n = flowlog_expire(fl, now_ms, all, fn, arg);
	pthread_mutex_unlock(&f->flow_lock);
	return n;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
flow(struct dp_flt *f, struct flowlog *fl, const uint8_t *pkt,
    const struct flt_pkt *p, bool out, const char *cid, const char *rid)
{
	int rc;

	pthread_mutex_lock(&f->flow_lock);
	rc = flowlog_add(fl, pkt, p, out, cid, rid, now_ms());
	pthread_mutex_unlock(&f->flow_lock);
	(void)rc;		/* a full table is counted (flowlog_overflow) */
}

static uint64_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

/* A refusal, at debug level and rate-limited (remote packets cause it). */
static void
refused(struct dp_flt *f, struct log_ratelimit *rl, const char *what,
    const struct flt_pkt *p, enum flt_verdict v)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	bool ok;

	if (!log_enabled(LOG_MODULE, LOG_LVL_DEBUG))
		return;
	pthread_mutex_lock(&f->rl_lock);
	ok = log_ratelimit(rl);
	pthread_mutex_unlock(&f->rl_lock);
	if (!ok || inet_ntop(p->family, p->src, s, sizeof(s)) == NULL ||
	    inet_ntop(p->family, p->dst, d, sizeof(d)) == NULL)
		return;
	log_debug("%s: %s -> %s proto %u port %u: %s", what, s, d, p->proto,
	    p->has_ports ? p->dport : 0, flt_verdict_name(v));
}

static void
bump(struct dp_flt *f, enum flt_verdict v)
{
	atomic_fetch_add_explicit(&f->ctr[v], 1, memory_order_relaxed);
}

bool
dpf_from_peer(struct worker *w, struct wg_peer *p, const uint8_t *pkt,
    size_t len)
{
	struct dp_flt *f = flt_of(w->dp);
	uint8_t icmp[FLT_ICMP_MAX];
	struct wg_keypair *k;
	struct tx_path path;
	struct flt_pkt fp;
	enum flt_verdict v;
	struct flowlog *fl;
	char rid[FLT_ID_MAX + 1], cid[FLT_ID_MAX + 1];
	size_t n;

	if (f == NULL || f->mode != DP_FILTER_GATEWAY)
		return true;
	if (flt_parse(pkt, len, &fp) != 0) {
		bump(f, FLT_DROP);
		return false;
	}
	fl = atomic_load_explicit(&f->fl, memory_order_acquire);
	wg_read_lock();
	v = fl == NULL ? flt_check(table_of(f), &fp, now_s(), NULL) :
	    flt_check_ids(table_of(f), &fp, now_s(), rid, cid);
	wg_read_unlock();
	bump(f, v);
	if (v == FLT_PASS) {
		if (fl != NULL && *cid != '\0')
			flow(f, fl, pkt, &fp, true, cid, rid);
		return true;
	}
	refused(f, &f->rl, "from a client", &fp, v);
	if (v == FLT_DROP ||
	    (n = flt_icmp_build(&fp, pkt, v, icmp, sizeof(icmp))) == 0)
		return false;
	/* The refusal goes back the way the packet came. */
	if (!wg_peer_path(p, &path.to, &path.chan) ||
	    (k = wg_peer_send_keypair(p)) == NULL)
		return false;
	tx_send_packet(w, p, k, &path, icmp, n);
	wg_keypair_put(k);
	return false;
}

bool
dpf_from_tun(struct worker *w, const uint8_t *pkt, size_t len)
{
	struct dp_flt *f = flt_of(w->dp);
	uint8_t icmp[FLT_ICMP_MAX];
	struct virtio_net_hdr vh;
	struct iovec iov[2];
	struct flt_pkt fp;
	enum flt_verdict v;
	struct flowlog *fl;
	char rid[FLT_ID_MAX + 1], cid[FLT_ID_MAX + 1];
	size_t n;

	if (f == NULL)
		return true;
	if (f->mode == DP_FILTER_GATEWAY) {
		/* The return direction: only from what the client may reach. */
		if (flt_parse(pkt, len, &fp) != 0)
			return true;	/* routing and the kernel's */
		fl = atomic_load_explicit(&f->fl, memory_order_acquire);
		wg_read_lock();
		v = fl == NULL ? flt_check_return(table_of(f), &fp, now_s()) :
		    flt_check_return_ids(table_of(f), &fp, now_s(), rid, cid);
		wg_read_unlock();
		if (v == FLT_PASS) {
			if (fl != NULL && *cid != '\0')
				flow(f, fl, pkt, &fp, false, cid, rid);
			return true;
		}
		atomic_fetch_add_explicit(&f->ret_drop, 1,
		    memory_order_relaxed);
		/*
		 * Logged only toward a tunnel address: the rest (the
		 * gateway's own router solicitations and MLD reports on
		 * its TUN) is for no client.
		 */
		if (flt_is_tunnel_ip(fp.family, fp.dst))
			refused(f, &f->rl_ret, "to a client", &fp, v);
		return false;
	}
	/* What does not parse is routing's to judge (and the gateway's). */
	if (flt_parse(pkt, len, &fp) != 0)
		return true;
	wg_read_lock();
	v = flt_client_check(table_of(f), DPF_SELF, &fp);
	wg_read_unlock();
	if (v == FLT_PASS)
		return true;
	bump(f, v);
	refused(f, &f->rl, "to a resource", &fp, v);
	if ((n = flt_icmp_build(&fp, pkt, v, icmp, sizeof(icmp))) == 0)
		return false;
	memset(&vh, 0, sizeof(vh));
	iov[0].iov_base = &vh;
	iov[0].iov_len = sizeof(vh);
	iov[1].iov_base = icmp;
	iov[1].iov_len = n;
	if (writev(w->tunfd, iov, 2) < 0)
		count(w->dp, DP_DROP_TUN_WRITE, 1);
	return false;
}
