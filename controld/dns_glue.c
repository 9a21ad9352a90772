/* SPDX-License-Identifier: ISC */
/* The stub resolver on IPC (dns_glue.h). */
#define LOG_MODULE "dns"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_glue.h"
#include "dns_stub.h"
#include "fztime.h"
#include "log.h"

#define GLUE_MAX_SERVERS	DNS_STUB_MAX_UPSTREAMS

/* A site query (SRV/TXT of a DNS resource) waiting for its gateway. */
struct site_wait {
	bool		 used;
	char		 rid[DNS_STUB_RESOURCE_ID_MAX];
	int		 family;
	bool		 tcp;
	uint16_t	 fwd_id;
	uint64_t	 since;
	size_t		 len;
	uint8_t		*msg;
};

struct dns_glue {
	const struct dns_glue_ops *ops;
	void			*arg;
	struct dns_stub		*stub;
	struct event		*timer;
	bool			 signed_in;
	union fz_sockaddr	 system[GLUE_MAX_SERVERS], do53[GLUE_MAX_SERVERS];
	size_t			 n_system, n_do53;
	char			 (*ids)[DNS_STUB_RESOURCE_ID_MAX];
	size_t			 n_ids;
	struct log_ratelimit	 rl;
	struct site_wait	*wait;		/* DNS_GLUE_SITE_WAIT */
	bool			 in_tcp;	/* the query being handled */
	uint8_t			 out[65535];
};

static void
arm(struct dns_glue *g)
{
	uint64_t d = dns_stub_next_deadline(g->stub), now = time_mono_ns();
	struct timeval tv;

	if (d == UINT64_MAX) {
		evtimer_del(g->timer);
		return;
	}
	d = d > now ? d - now : 0;
	tv.tv_sec = (time_t)(d / 1000000000ULL);
	tv.tv_usec = (suseconds_t)(d % 1000000000ULL / 1000) + 1;
	evtimer_add(g->timer, &tv);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_glue *g = arg;

	(void)fd;
	(void)what;
	dns_stub_expire(g->stub, time_mono_ns());
	arm(g);
}

int
dns_glue_new(struct event_base *base, const struct dns_glue_ops *ops,
    void *arg, struct dns_glue **out)
{
	struct dns_glue *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return -ENOMEM;
	g->ops = ops;
	g->arg = arg;
	g->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 5);
	if ((g->stub = dns_stub_new()) == NULL ||
	    (g->timer = evtimer_new(base, timer_cb, g)) == NULL ||
	    (g->ids = calloc(DNS_STUB_MAX_RESOURCES, sizeof(*g->ids))) ==
	    NULL || (g->wait = calloc(DNS_GLUE_SITE_WAIT,
	    sizeof(*g->wait))) == NULL) {
		dns_glue_free(g);
		return -ENOMEM;
	}
	*out = g;
	return 0;
}

void
dns_glue_free(struct dns_glue *g)
{
	size_t i;

	if (g == NULL)
		return;
	if (g->timer != NULL)
		event_free(g->timer);
	dns_stub_free(g->stub);
	free(g->ids);
	for (i = 0; g->wait != NULL && i < DNS_GLUE_SITE_WAIT; i++)
		free(g->wait[i].msg);
	free(g->wait);
	free(g);
}

/* The upstreams again; the sentinels to fz-tunneld while signed in. */
static void
upstreams(struct dns_glue *g)
{
	union fz_sockaddr sent[DNS_STUB_MAX_UPSTREAMS], up[DNS_STUB_MAX_UPSTREAMS];
	char list[1025], a[ADDR_STRLEN];
	size_t i, n, used = 0;
	bool changed = false;
	int rc;

	if ((rc = dns_stub_set_upstreams(g->stub, g->do53, g->n_do53,
	    g->system, g->n_system, &changed)) != 0) {
		log_warnc(-rc, "DNS upstreams");
		return;
	}
	if (!g->signed_in)
		return;
	n = dns_stub_sentinels(g->stub, sent, up, DNS_STUB_MAX_UPSTREAMS);
	if (n > DNS_STUB_MAX_UPSTREAMS)
		n = DNS_STUB_MAX_UPSTREAMS;
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		int w;

		if (addr_fmt(&sent[i].sa, false, a, sizeof(a)) != 0)
			continue;
		w = snprintf(list + used, sizeof(list) - used, "%s%s",
		    used ? ", " : "", a);
		if (w < 0 || (size_t)w >= sizeof(list) - used)
			break;
		used += (size_t)w;
		if (addr_fmt(&up[i].sa, true, a, sizeof(a)) == 0)
			log_debug("sentinel %zu forwards to %s", i, a);
	}
	log_info("DNS: %zu upstream(s), sentinels %s%s", n, list,
	    changed ? "" : " (unchanged)");
	g->ops->sentinels(g->arg, list);
}

void
dns_glue_system(struct dns_glue *g, const char *s)
{
	size_t n;

	if (addr_list_parse(s, ADDR_PORT_OPTIONAL, g->system, GLUE_MAX_SERVERS,
	    &n) != 0) {
		log_warnx("system DNS servers '%s': ignored", s);
		return;
	}
	g->n_system = n;
	upstreams(g);
}

void
dns_glue_interface(struct dns_glue *g, const struct ipc_interface *in)
{
	size_t n;
	int rc;

	g->signed_in = true;
	if (addr_list_parse(in->upstream_do53, ADDR_PORT_OPTIONAL, g->do53,
	    GLUE_MAX_SERVERS, &n) != 0) {
		log_warnx("upstream_do53 '%s': ignored", in->upstream_do53);
		n = 0;
	}
	g->n_do53 = n;
	if ((rc = dns_stub_set_search_domain(g->stub, *in->search_domain ?
	    in->search_domain : NULL)) != 0)
		log_warnc(-rc, "search domain '%s'", in->search_domain);
	upstreams(g);
}

void
dns_glue_resources(struct dns_glue *g, const struct ipc_resource_list *l)
{
	size_t i, added = 0;
	int rc;

	for (i = 0; i < g->n_ids; i++)
		if (dns_stub_remove_resource(g->stub, g->ids[i]) != 0)
			log_debug("DNS resource %s was not there", g->ids[i]);
	g->n_ids = 0;
	for (i = 0; i < l->n; i++) {
		const struct ipc_resource *r = &l->r[i];

		if (strcmp(r->type, "dns") != 0 ||
		    g->n_ids == DNS_STUB_MAX_RESOURCES ||
		    strlen(r->id) >= DNS_STUB_RESOURCE_ID_MAX)
			continue;
		if ((rc = dns_stub_add_resource(g->stub, r->id, r->address,
		    DNS_STACK_DUAL)) != 0) {
			log_warnc(-rc, "DNS resource %s '%s'", r->id,
			    r->address);
			continue;
		}
		snprintf(g->ids[g->n_ids++], DNS_STUB_RESOURCE_ID_MAX, "%s",
		    r->id);
		added++;
	}
	log_debug("DNS: %zu DNS resource(s)", added);
}

void
dns_glue_signed_out(struct dns_glue *g)
{
	struct ipc_resource_list none = { 0, NULL };

	g->signed_in = false;
	g->n_do53 = 0;
	dns_glue_resources(g, &none);
	upstreams(g);
}

static void	act(struct dns_glue *, struct dns_stub_out *);

/*
 * A site query (SRV/TXT, §4.4) to the gateway serving rid, at its tunnel
 * address of the sentinel's family, port 53535, or kept until that
 * gateway is connected.  0 (sent or kept), or -errno: SERVFAIL.
 */
static int
site_forward(struct dns_glue *g, const char *rid, int family, bool tcp,
    uint16_t id, const uint8_t *msg, size_t len)
{
	union fz_sockaddr gw;
	struct site_wait *w = NULL;
	size_t i;
	int rc;

	if (g->ops->site_gateway == NULL || g->ops->site_send == NULL)
		return -ENOTSUP;
	memset(&gw, 0, sizeof(gw));
	if ((rc = g->ops->site_gateway(g->arg, rid, family, &gw)) == 0) {
		if (gw.sa.sa_family == AF_INET)
			gw.in4.sin_port = htons(DNS_STUB_GATEWAY_PORT);
		else if (gw.sa.sa_family == AF_INET6)
			gw.in6.sin6_port = htons(DNS_STUB_GATEWAY_PORT);
		else
			return -EAFNOSUPPORT;
		g->ops->site_send(g->arg, &gw.sa, tcp, msg, len);
		return 0;
	}
	if (rc != -EAGAIN)
		return rc;
	/* the oldest waiting query makes room (the stub drops it in 5 s) */
	for (i = 0; i < DNS_GLUE_SITE_WAIT; i++)
		if (!g->wait[i].used) {
			w = &g->wait[i];
			break;
		} else if (w == NULL || g->wait[i].since < w->since)
			w = &g->wait[i];
	free(w->msg);
	memset(w, 0, sizeof(*w));
	if ((w->msg = malloc(len)) == NULL)
		return -ENOMEM;
	memcpy(w->msg, msg, len);
	w->len = len;
	w->used = true;
	w->family = family;
	w->tcp = tcp;
	w->fwd_id = id;
	w->since = time_mono_ns();
	snprintf(w->rid, sizeof(w->rid), "%s", rid);
	log_debug("SRV/TXT for resource %s waits for its gateway", rid);
	return 0;
}

void
dns_glue_site_ready(struct dns_glue *g, const char *rid)
{
	uint64_t now = time_mono_ns();
	size_t i;

	for (i = 0; i < DNS_GLUE_SITE_WAIT; i++) {
		struct site_wait w = g->wait[i];
		struct dns_stub_out o;

		if (!w.used || strcmp(w.rid, rid) != 0)
			continue;
		/* taken out first: site_forward may queue it again */
		memset(&g->wait[i], 0, sizeof(g->wait[i]));
		/* past the stub's 5 s, the stub has forgotten it */
		if (now - w.since < DNS_STUB_UPSTREAM_TIMEOUT_NS &&
		    site_forward(g, w.rid, w.family, w.tcp, w.fwd_id, w.msg,
		    w.len) != 0 && dns_stub_upstream_failed(g->stub,
		    w.fwd_id, g->out, sizeof(g->out), &o) == 0)
			act(g, &o);
		free(w.msg);
	}
}

void
dns_glue_site_answer(struct dns_glue *g, const struct sockaddr *from,
    const uint8_t *p, size_t len)
{
	struct dns_stub_out o;
	int rc;

	memset(&o, 0, sizeof(o));
	if ((rc = dns_stub_upstream_answer(g->stub, p, len, from,
	    time_mono_ns(), g->out, sizeof(g->out), &o)) == 0)
		act(g, &o);
	else if (log_ratelimit(&g->rl))
		log_debug("answer from a gateway: %s", strerror(-rc));
	arm(g);
}

/* A verdict of the stub: send what it says. */
static void
act(struct dns_glue *g, struct dns_stub_out *o)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	uint16_t rid;
	int rc;

	switch (o->verdict) {
	case DNS_STUB_REPLY:
		if (addr_fmt(&o->src.sa, true, a, sizeof(a)) == 0 &&
		    addr_fmt(&o->dst.sa, true, b, sizeof(b)) == 0)
			g->ops->reply(g->arg, a, b, g->out, o->len);
		return;
	case DNS_STUB_FORWARD:
		if (addr_fmt(&o->dst.sa, true, a, sizeof(a)) == 0)
			g->ops->down(g->arg, o->dst.sa.sa_family == AF_INET ?
			    IPC_SOCK_DNS_FWD4 : IPC_SOCK_DNS_FWD6, a, g->out,
			    o->len);
		return;
	case DNS_STUB_FORWARD_SITE:
		if ((rc = site_forward(g, o->resource_id, o->site_family,
		    g->in_tcp, o->fwd_id, g->out, o->len)) == 0)
			return;
		/* no gateway to ask: SERVFAIL (§4.4) */
		rid = o->fwd_id;
		if (dns_stub_upstream_failed(g->stub, rid, g->out,
		    sizeof(g->out), o) == 0 && o->verdict == DNS_STUB_REPLY)
			act(g, o);
		return;
	}
}

/*
 * "ip, ip" of an event's proxy IPs: 0, or -ENOSPC / -EINVAL (then
 * nothing is sent for it).
 */
int
dns_glue_fmt_ips(const struct dns_stub_event *ev, char *out, size_t cap)
{
	char ip[ADDR_STRLEN];
	size_t used = 0, i;
	int n;

	if (cap == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (i = 0; i < ev->n_ips; i++) {
		union fz_sockaddr sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa.sa_family = (sa_family_t)ev->ips[i].family;
		if (ev->ips[i].family == AF_INET)
			memcpy(&sa.in4.sin_addr, ev->ips[i].addr, 4);
		else if (ev->ips[i].family == AF_INET6)
			memcpy(&sa.in6.sin6_addr, ev->ips[i].addr, 16);
		else
			return -EINVAL;
		if (addr_fmt(&sa.sa, false, ip, sizeof(ip)) != 0)
			return -EINVAL;
		n = snprintf(out + used, cap - used, "%s%s",
		    i > 0 ? ", " : "", ip);
		if (n < 0 || (size_t)n >= cap - used)
			return -ENOSPC;
		used += (size_t)n;
	}
	return 0;
}

/* Resolved names (before their answer goes out): DNS_PROXY each. */
static void
drain_events(struct dns_glue *g)
{
	struct dns_stub_event ev;
	char ips[DNS_GLUE_IPS_MAX];

	while (dns_stub_next_event(g->stub, &ev) == 0) {
		if (dns_glue_fmt_ips(&ev, ips, sizeof(ips)) != 0)
			continue;
		log_debug("resource %s: %s resolved to %s", ev.resource_id,
		    ev.name, ips);
		if (g->ops->proxy != NULL)
			g->ops->proxy(g->arg, ev.resource_id, ev.name, ips,
			    true);
	}
}

int
dns_glue_proxy_resource(const struct dns_glue *g, const struct sockaddr *sa,
    char *id, size_t idlen)
{
	char name[DNS_PATTERN_MAX + 1], rid[DNS_STUB_RESOURCE_ID_MAX];
	struct dns_ip ip;
	int rc;

	memset(&ip, 0, sizeof(ip));
	ip.family = sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(ip.addr, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(ip.addr, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, 16);
	else
		return -ENOENT;
	if ((rc = dns_stub_proxy_ip_name(g->stub, &ip, name,
	    sizeof(name))) != 0 ||
	    (rc = dns_stub_match(g->stub, name, rid)) != 0)
		return rc;
	if (strlen(rid) >= idlen)
		return -ENOSPC;
	snprintf(id, idlen, "%s", rid);
	return 0;
}

bool
dns_glue_up(struct dns_glue *g, const struct ipc_dgram_up *d)
{
	struct dns_stub_out o;
	union fz_sockaddr from, local;
	uint64_t now = time_mono_ns();
	int rc;

	if (d->sock != IPC_SOCK_DNS && d->sock != IPC_SOCK_DNS_TCP &&
	    d->sock != IPC_SOCK_DNS_FWD4 && d->sock != IPC_SOCK_DNS_FWD6)
		return false;
	if (addr_parse(d->from, ADDR_PORT_REQUIRED, &from) != 0 ||
	    addr_parse(d->local, ADDR_PORT_OPTIONAL, &local) != 0)
		return true;
	addr_unmap_v4(&from);
	addr_unmap_v4(&local);
	memset(&o, 0, sizeof(o));
	if (d->sock == IPC_SOCK_DNS || d->sock == IPC_SOCK_DNS_TCP)
		rc = dns_stub_query(g->stub, d->payload, d->payload_len,
		    &from.sa, &local.sa, d->sock == IPC_SOCK_DNS_TCP ?
		    DNS_STUB_TCP : 0, now, g->out, sizeof(g->out), &o);
	else
		rc = dns_stub_upstream_answer(g->stub, d->payload,
		    d->payload_len, &from.sa, now, g->out, sizeof(g->out), &o);
	/* The proxy IPs go down before the answer that hands them out. */
	drain_events(g);
	if (rc != 0) {
		if (log_ratelimit(&g->rl))
			log_debug("DNS datagram from %s: %s", d->from,
			    strerror(-rc));
	} else {
		g->in_tcp = d->sock == IPC_SOCK_DNS_TCP;
		act(g, &o);
		g->in_tcp = false;
	}
	arm(g);
	return true;
}
