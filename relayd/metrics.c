/* SPDX-License-Identifier: ISC */
#define LOG_MODULE "relayd"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "xdp.h"

struct metrics {
	struct event_base	*base;
	struct evhttp		*http;
	struct evhttp_bound_socket *sock;
	struct event		*stop_ev;	/* activated by metrics_stop */
	struct relay		*r;
	struct metrics_gauges	*g;
	pthread_t		 thr;
	bool			 running;	/* thr started */
	uint16_t		 port;
};

static void
counter(struct evbuffer *b, const char *name, const char *help,
    const char *labels, uint64_t v, bool header)
{
	if (header)
		evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s counter\n",
		    name, help, name);
	evbuffer_add_printf(b, "%s%s%s%s %llu\n", name, *labels ? "{" : "",
	    labels, *labels ? "}" : "", (unsigned long long)v);
}

static void
gauge(struct evbuffer *b, const char *name, const char *help, uint64_t v)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n",
	    name, help, name, name, (unsigned long long)v);
}

/* The relay's counters by metric family. */
static const enum relay_counter auth_counters[] = { RC_AUTH_MISSING,
    RC_AUTH_BAD, RC_AUTH_EXPIRED, RC_AUTH_STALE_NONCE, RC_AUTH_BAD_USERNAME };
static const enum relay_counter drop_counters[] = { RC_DROP_NO_CHANNEL,
    RC_DROP_NO_PERMISSION, RC_DROP_NO_ALLOCATION, RC_DROP_MALFORMED,
    RC_DROP_FORBIDDEN_PEER, RC_DROP_TRUNCATED, RC_DROP_SEND_FAILED,
    RC_DROP_FAMILY, RC_DROP_NOT_STUN, RC_QUOTA, RC_CAPACITY,
    RC_DROP_CHALLENGE_RATE };
static const enum relay_counter request_counters[] = { RC_REQ_BINDING,
    RC_REQ_ALLOCATE, RC_REQ_REFRESH, RC_REQ_PERMISSION, RC_REQ_CHANNEL_BIND,
    RC_REQ_OTHER, RC_IND_SEND };
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const portal_names[MP_COUNT] = {
	[MP_NONE] = "none", [MP_CONNECTING] = "connecting",
	[MP_JOINED] = "joined", [MP_RECONNECTING] = "reconnecting",
};

const char *
metrics_portal_name(enum metrics_portal p)
{
	return (unsigned)p < MP_COUNT ? portal_names[p] : "unknown";
}

/* The portal state as a Prometheus state set, and the joins so far. */
static void
portal_metrics(struct evbuffer *b, const struct metrics_gauges *g)
{
	int now = atomic_load(&g->portal), i;

	evbuffer_add_printf(b, "# HELP fz_relay_portal_state The portal "
	    "connection (none: no portal configured).\n"
	    "# TYPE fz_relay_portal_state gauge\n");
	for (i = 0; i < MP_COUNT; i++)
		evbuffer_add_printf(b, "fz_relay_portal_state{state=\"%s\"} "
		    "%d\n", portal_names[i], i == now);
	counter(b, "fz_relay_portal_joins_total", "Times the relay joined "
	    "the portal's relay channel.", "", atomic_load(&g->portal_joins),
	    true);
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evbuffer *b = evbuffer_new();
	struct relay *r = m->r;
	char l[128];
	size_t i;

	gauge(b, "fz_relay_allocations", "Active allocations.",
	    atomic_load(&m->g->allocations));
	gauge(b, "fz_relay_channels", "Channels bound.",
	    atomic_load(&m->g->channels));
	gauge(b, "fz_relay_permissions", "Permissions installed.",
	    atomic_load(&m->g->permissions));
	counter(b, "fz_relay_packets_total", "Packets relayed.",
	    "datapath=\"userspace\",direction=\"client_to_peer\"",
	    relay_counter(r, RC_PKTS_C2P), true);
	counter(b, "fz_relay_packets_total", NULL,
	    "datapath=\"userspace\",direction=\"peer_to_client\"",
	    relay_counter(r, RC_PKTS_P2C), false);
	counter(b, "fz_relay_packets_total", NULL, "datapath=\"xdp\"",
	    atomic_load(&m->g->xdp_packets), false);
	counter(b, "fz_relay_bytes_total", "Payload bytes relayed.",
	    "datapath=\"userspace\",direction=\"client_to_peer\"",
	    relay_counter(r, RC_BYTES_C2P), true);
	counter(b, "fz_relay_bytes_total", NULL,
	    "datapath=\"userspace\",direction=\"peer_to_client\"",
	    relay_counter(r, RC_BYTES_P2C), false);
	counter(b, "fz_relay_bytes_total", NULL, "datapath=\"xdp\"",
	    atomic_load(&m->g->xdp_bytes), false);
	for (i = 0; i < NELEM(auth_counters); i++) {
		snprintf(l, sizeof(l), "reason=\"%s\"",
		    relay_counter_name(auth_counters[i]) + 5);
		counter(b, "fz_relay_auth_failures_total",
		    "Requests refused for their credentials.", l,
		    relay_counter(r, auth_counters[i]), i == 0);
	}
	for (i = 0; i < NELEM(drop_counters); i++) {
		snprintf(l, sizeof(l), "reason=\"%s\"",
		    relay_counter_name(drop_counters[i]));
		counter(b, "fz_relay_drops_total", "Packets or requests "
		    "dropped or refused, by reason.", l,
		    relay_counter(r, drop_counters[i]), i == 0);
	}
	for (i = 0; i < NELEM(request_counters); i++) {
		snprintf(l, sizeof(l), "method=\"%s\"",
		    relay_counter_name(request_counters[i]));
		counter(b, "fz_relay_requests_total", "STUN/TURN requests "
		    "and indications received.", l,
		    relay_counter(r, request_counters[i]), i == 0);
	}
	if (atomic_load(&m->g->xdp))
		for (i = 0; i < FZ_XS_COUNT; i++) {
			snprintf(l, sizeof(l), "outcome=\"%s\"",
			    relay_xdp_stat_name((int)i));
			counter(b, "fz_relay_xdp_packets_total", "Packets seen "
			    "by the XDP program, by outcome (pass_* went to "
			    "userspace).", l, atomic_load(&m->g->xdp_outcome[i]),
			    i == 0);
		}
	portal_metrics(b, m->g);
	counter(b, "fz_relay_responses_total", "Responses sent.",
	    "class=\"success\"", relay_counter(r, RC_RESP_SUCCESS), true);
	counter(b, "fz_relay_responses_total", NULL, "class=\"error\"",
	    relay_counter(r, RC_RESP_ERROR), false);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
health_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_reply(req, 200, "OK", NULL);
}

/*
 * Ready once joined to the portal (Firezone answers its git revision;
 * we, the version); a relay without a portal is ready as soon as it
 * serves, as its /healthz has always said.
 */
static void
ready_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	int p = atomic_load(&m->g->portal);
	struct evbuffer *b;

	if (p != MP_NONE && p != MP_JOINED) {
		evhttp_send_error(req, 503, metrics_portal_name(p));
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add_printf(b, "%s\n", PACKAGE_VERSION);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
filter_cb(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq q;
	const char *d;

	(void)arg;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_send_error(req, 405, "POST only");
		return;
	}
	memset(&q, 0, sizeof(q));
	if (evhttp_parse_query(evhttp_request_get_uri(req), &q) != 0 ||
	    (d = evhttp_find_header(&q, "directives")) == NULL ||
	    log_set_filter(d) != 0) {
		evhttp_clear_headers(&q);
		evhttp_send_error(req, 400, "bad directives");
		return;
	}
	log_info("log filter set to '%s'", d);
	evhttp_clear_headers(&q);
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void *
run(void *arg)
{
	struct metrics *m = arg;

	event_base_dispatch(m->base);
	return NULL;
}

/*
 * metrics_stop's way into the loop: an activated event stays pending until
 * the loop runs it, whereas an event_base_loopbreak() that lands before the
 * thread enters event_base_dispatch() is cleared by it, and the join would
 * wait for ever (seen when fz-relayd exits right after starting).
 */
static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct metrics *m = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(m->base);
}

int
metrics_start(const union fz_sockaddr *sa, struct relay *r,
    struct metrics_gauges *g, struct metrics **out)
{
	struct metrics *m;
	char host[ADDR_STRLEN];
	union fz_sockaddr bound;
	socklen_t blen = sizeof(bound);

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -ENOMEM;
	m->r = r;
	m->g = g;
	if ((m->base = event_base_new()) == NULL ||
	    (m->stop_ev = event_new(m->base, -1, 0, stop_cb, m)) == NULL ||
	    (m->http = evhttp_new(m->base)) == NULL)
		goto fail;
	if (addr_fmt(&sa->sa, false, host, sizeof(host)) != 0)
		goto fail;
	if (host[0] == '[') {		/* evhttp wants v6 without brackets */
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if ((m->sock = evhttp_bind_socket_with_handle(m->http, host,
	    addr_port(&sa->sa))) == NULL)
		goto fail;
	if (getsockname(evhttp_bound_socket_get_fd(m->sock), &bound.sa,
	    &blen) == 0)
		m->port = addr_port(&bound.sa);
	evhttp_set_cb(m->http, "/metrics", metrics_cb, m);
	evhttp_set_cb(m->http, "/healthz", health_cb, m);
	evhttp_set_cb(m->http, "/readyz", ready_cb, m);
	evhttp_set_cb(m->http, "/log_filter", filter_cb, m);
	*out = m;
	return 0;
fail:
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->stop_ev != NULL)
		event_free(m->stop_ev);
	if (m->base != NULL)
		event_base_free(m->base);
	free(m);
	return -EADDRNOTAVAIL;
}

int
metrics_run(struct metrics *m)
{
	int rc;

	if ((rc = pthread_create(&m->thr, NULL, run, m)) != 0)
		return -rc;
	m->running = true;
	return 0;
}

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m->running) {
		event_active(m->stop_ev, 0, 0);
		pthread_join(m->thr, NULL);
	}
	evhttp_free(m->http);
	event_free(m->stop_ev);
	event_base_free(m->base);
	free(m);
}

uint16_t
metrics_port(const struct metrics *m)
{
	return m->port;
}
