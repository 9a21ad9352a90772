/* SPDX-License-Identifier: ISC */
/* p2p_svc.h: P2P_UP from the data plane's queue, P2P_DOWN into it. */
#define LOG_MODULE "tunneld"

#include <errno.h>
#include <inttypes.h>
#include <event2/event.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataplane.h"
#include "dp_dnsnat.h"
#include "dp_filter.h"
#include "dp_p2p.h"
#include "p2p.h"
#include "p2p_svc.h"
#include "fztime.h"
#include "svc.h"

static struct event	*p2p_ev;	/* one service per process */
static int	svc_dnsnat_start(struct svc *);
static void	svc_dnsnat_stop(void);
static uint64_t		 p2p_dropped, p2p_unsent;

static void
p2p_up_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc *s = arg;
	struct dp_p2p_up u;
	struct ipc_msg m;
	char pub64[45];
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* a wake-up for packets an earlier call took */
	}
	while (dp_p2p_take(s->dp, &u)) {
		if (s->dconn == NULL || s->state == SVC_SIGNED_OUT) {
			p2p_dropped++;
			continue;
		}
		wg_key_to_base64(u.pub, pub64);
		ipc_msg_init(&m, IPC_P2P_UP);
		m.u.p2p_up.public_key = pub64;
		m.u.p2p_up.packet = u.pkt;
		m.u.p2p_up.packet_len = (uint32_t)u.len;
		if (ipc_send(s->dconn, &m) != 0)
			p2p_dropped++;
	}
}

int
svc_p2p_start(struct svc *s)
{
	int fd, rc;

	if ((rc = dp_p2p_enable(s->dp, s->st.gateway ? DP_P2P_GATEWAY :
	    DP_P2P_CLIENT, &fd)) != 0)
		return rc;
	if ((p2p_ev = event_new(s->base, fd, EV_READ | EV_PERSIST,
	    p2p_up_cb, s)) == NULL || event_add(p2p_ev, NULL) != 0)
		return -ENOMEM;
	return svc_dnsnat_start(s);
}

void
svc_p2p_stop(void)
{
	svc_dnsnat_stop();
	if (p2p_ev != NULL)
		event_free(p2p_ev);
	p2p_ev = NULL;
	if (p2p_dropped + p2p_unsent > 0)
		log_info("p2p control packets: %" PRIu64 " not passed to "
		    "fz-controld, %" PRIu64 " not sent to a peer", p2p_dropped,
		    p2p_unsent);
}

int
svc_p2p_down(struct svc *s, const struct ipc_msg *m)
{
	const struct ipc_p2p_down *d = &m->u.p2p_down;
	uint8_t pub[WG_KEY_LEN];
	struct p2p_msg pm;
	int rc;

	if (wg_key_from_base64(d->public_key, pub) != 0 ||
	    p2p_parse(d->packet, d->packet_len, &pm) != 0)
		return -EINVAL;
	if (s->dp == NULL || (rc = dp_p2p_send(s->dp, pub, d->packet,
	    d->packet_len)) != 0) {
		p2p_unsent++;
		return 0;	/* the peer went meanwhile */
	}
	return 0;
}

uint64_t
svc_p2p_dropped(void)
{
	return p2p_dropped + p2p_unsent;
}

/* --- a gateway's DNS-resource NAT (DNSNAT_SET, PEER_GOODBYE) ----------- */

#define NAT_RESOLVED_MAX	(2 * DNSNAT_MAX_RESOLVED)

/* "ip, ip" into fz_ip (no ports); -EINVAL, -ENOSPC past max. */
static int
ip_list(const char *s, struct fz_ip *out, size_t max, size_t *n)
{
	union fz_sockaddr *sa;
	size_t i, k;
	int rc;

	if ((sa = calloc(max, sizeof(*sa))) == NULL)
		return -ENOMEM;
	if ((rc = addr_list_parse(s, ADDR_PORT_NONE, sa, max, &k)) != 0) {
		free(sa);
		return rc;
	}
	for (i = 0; i < k; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].af = (uint8_t)sa[i].sa.sa_family;
		if (out[i].af == AF_INET)
			memcpy(out[i].a, &sa[i].in4.sin_addr, 4);
		else
			memcpy(out[i].a, &sa[i].in6.sin6_addr, 16);
	}
	free(sa);
	*n = k;
	return 0;
}

static void
host_cidr(const struct fz_ip *ip, struct fz_cidr *c)
{
	memset(c, 0, sizeof(*c));
	c->family = ip->af;
	c->prefix = ip->af == AF_INET ? 32 : 128;
	memcpy(c->addr, ip->a, ip->af == AF_INET ? 4 : 16);
}

int
svc_dnsnat_set(struct svc *s, const struct ipc_msg *m)
{
	const struct ipc_dnsnat_set *d = &m->u.dnsnat_set;
	struct fz_ip px[P2P_PROXY_MAX], *re = NULL, real;
	struct flt_table *t;
	struct fz_cidr c;
	struct p2p_msg st;
	uint8_t pub[WG_KEY_LEN];
	size_t np = 0, nr = 0, i;
	int rc;

	if (!s->st.gateway || *d->client_id == '\0' ||
	    wg_key_from_base64(d->public_key, pub) != 0 ||
	    p2p_parse(d->status, d->status_len, &st) != 0 ||
	    st.type != P2P_DOMAIN_STATUS ||
	    ip_list(d->proxies, px, P2P_PROXY_MAX, &np) != 0 || np == 0)
		return -EINVAL;
	for (i = 0; i < np; i++)
		if (!flt_is_proxy_ip(px[i].af, px[i].a))
			return -EINVAL;
	if ((re = calloc(NAT_RESOLVED_MAX, sizeof(*re))) == NULL)
		return 0;
	if (*d->resolved != '\0' && (rc = ip_list(d->resolved, re,
	    NAT_RESOLVED_MAX, &nr)) != 0) {
		free(re);
		return rc == -ENOMEM ? 0 : -EINVAL;
	}
	if (s->dp == NULL)
		goto out;
	if ((rc = dp_dnsnat_set(s->dp, d->client_id, d->ipv4, d->ipv6,
	    d->domain, px, np, re, nr)) != 0) {
		log_warnc(-rc, "client %s: DNS NAT for %s", d->client_id,
		    d->domain);
		goto out;		/* no Active: the client asks again */
	}
	/* The proxy IPs (reachable when they have a target) and the real
	 * ones become the access's: the filters then see them. */
	if ((t = dp_filter_wlock(s->dp)) != NULL) {
		rc = 0;
		for (i = 0; i < np && rc == 0; i++) {
			host_cidr(&px[i], &c);
			rc = flt_access_add_prefix(t, d->client_id,
			    d->resource_id, &c, dp_dnsnat_target(s->dp,
			    d->client_id, &px[i], &real) == 0);
		}
		for (i = 0; i < nr && rc == 0; i++) {
			host_cidr(&re[i], &c);
			rc = flt_access_add_prefix(t, d->client_id,
			    d->resource_id, &c, true);
		}
		dp_filter_wunlock(s->dp);
		if (rc != 0) {
			log_warnc(-rc, "client %s: resource %s's addresses",
			    d->client_id, d->resource_id);
			goto out;
		}
	}
	log_info("client %s: %s (resource %s): %zu proxy IP(s) -> %zu "
	    "address(es)", d->client_id, d->domain, d->resource_id, np, nr);
	if ((rc = dp_p2p_send(s->dp, pub, d->status, d->status_len)) != 0) {
		p2p_unsent++;
		log_debug("domain_status for %s not sent: %s", d->domain,
		    strerror(-rc));
	}
out:
	free(re);
	return 0;
}

int
svc_peer_goodbye(struct svc *s, const struct ipc_msg *m)
{
	uint8_t pub[WG_KEY_LEN], pkt[P2P_MAX_PKT];
	struct p2p_msg g;
	size_t n;

	if (wg_key_from_base64(m->u.peer_goodbye.public_key, pub) != 0)
		return -EINVAL;
	memset(&g, 0, sizeof(g));
	g.type = P2P_GOODBYE;
	if (s->dp == NULL || p2p_build(&g, pkt, sizeof(pkt), &n) != 0 ||
	    dp_p2p_send(s->dp, pub, pkt, n) != 0)
		p2p_unsent++;
	return 0;
}

/* The sweep: expired NAT sessions, NAT state of clients without access. */
static struct event *nat_ev;

static bool
has_access(const char *cid, void *arg)
{
	return flt_has_client(arg, cid);
}

static void
nat_tick(evutil_socket_t fd, short what, void *arg)
{
	struct svc *s = arg;
	struct flt_table *t;
	size_t n;

	(void)fd;
	(void)what;
	if (s->dp == NULL || dp_dnsnat_clients(s->dp) == 0)
		return;
	dp_dnsnat_expire(s->dp, time_mono_ns() / 1000000);
	/* A clone of the table, only read: published unchanged. */
	if ((t = dp_filter_wlock(s->dp)) == NULL)
		return;
	n = dp_dnsnat_prune(s->dp, has_access, t);
	dp_filter_wunlock(s->dp);
	if (n > 0)
		log_info("DNS NAT: %zu client(s) without access forgotten", n);
}

static int
svc_dnsnat_start(struct svc *s)
{
	struct timeval tv = { 1, 0 };

	if (!s->st.gateway || nat_ev != NULL)
		return 0;
	if ((nat_ev = event_new(s->base, -1, EV_PERSIST, nat_tick, s)) ==
	    NULL || event_add(nat_ev, &tv) != 0)
		return -ENOMEM;
	return 0;
}

static void
svc_dnsnat_stop(void)
{
	if (nat_ev != NULL)
		event_free(nat_ev);
	nat_ev = NULL;
}
