/* SPDX-License-Identifier: ISC */
/*
 * The portal connection's socket glue: phx_client (sans I/O) driven by
 * ws_conn callbacks and one timer on an event base of its own thread.
 * Every input ends in pump(), which carries out what the client asks
 * for: transport actions, frames to write, events, the next deadline.
 */
#define LOG_MODULE "portal"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <jansson.h>

#include "fztime.h"
#include "log.h"
#include "phx_client.h"
#include "relay_portal.h"
#include "ws.h"

#define STOP_GRACE_S	2	/* for the close handshake at exit */

struct relay_portal {
	struct event_base	*base;
	struct evdns_base	*dns;
	SSL_CTX			*ssl;		/* NULL for ws:// */
	struct event		*timer, *stop_ev;
	struct phx_client	*pc;
	struct ws_conn		*ws;		/* NULL between attempts */
	bool			 ws_open;
	char			*url, *ua;
	char			*auth;		/* the header; wiped at free */
	const char		*headers[2];
	struct metrics_gauges	*g;
	int			 done_fd;
	pthread_t		 thr;
	bool			 running;
	bool			 stopping;	/* on_stop ran: leave at close */
};

static uint64_t
now_ms(void)
{
	return time_mono_ns() / 1000000ULL;
}

static void pump(struct relay_portal *);

/* --- the transport -------------------------------------------------------- */

static void
on_open(struct ws_conn *c, void *arg)
{
	struct relay_portal *p = arg;

	(void)c;
	p->ws_open = true;
	log_debug("connected, joining the relay channel");
	phx_client_ws_open(p->pc, now_ms());
	pump(p);
}

static void
on_text(struct ws_conn *c, const char *t, size_t n, void *arg)
{
	struct relay_portal *p = arg;

	(void)c;
	if (phx_client_ws_text(p->pc, t, n, now_ms()) != 0)
		log_debug("a frame not understood, skipped");
	pump(p);
}

static void
on_closed(struct ws_conn *c, int code, void *arg)
{
	struct relay_portal *p = arg;
	const char *why = ws_conn_error_detail(c);

	log_info("portal connection closed (%d%s%s)", code,
	    why != NULL && *why != '\0' ? ": " : "", why != NULL ? why : "");
	p->ws = NULL;		/* freed by ws.c once we return */
	p->ws_open = false;
	if (p->stopping) {	/* our close 1000 was answered */
		event_base_loopbreak(p->base);
		return;
	}
	phx_client_ws_closed(p->pc, now_ms());
	pump(p);
}

static void
on_http_error(struct ws_conn *c, int status, const char *body, size_t n,
    long retry_after_s, void *arg)
{
	struct relay_portal *p = arg;

	(void)c;
	log_warnx("portal refused the connection: HTTP %d", status);
	p->ws = NULL;
	p->ws_open = false;
	phx_client_http_error(p->pc, status, body, n, retry_after_s, now_ms());
	pump(p);
}

static const struct ws_cbs portal_cbs = {
	.open = on_open, .text = on_text, .closed = on_closed,
	.http_error = on_http_error,
};

static void
connect_portal(struct relay_portal *p)
{
	struct ws_client_opts o;
	int rc;

	ws_free(p->ws);		/* a CONNECT replaces any old connection */
	p->ws = NULL;
	p->ws_open = false;
	memset(&o, 0, sizeof(o));
	o.url = p->url;
	o.headers = p->headers;
	o.user_agent = p->ua;
	o.ssl_ctx = p->ssl;
	o.dns = p->dns;
	if ((rc = ws_client_connect(p->base, &o, &portal_cbs, p,
	    &p->ws)) != 0) {
		/* as a failed attempt: the client schedules the next */
		log_warnc(-rc, "connecting to the portal");
		p->ws = NULL;
		phx_client_ws_closed(p->pc, now_ms());
	} else
		log_debug("connecting to %s", p->url);
}

/* --- what the client asks for ---------------------------------------------- */

static void
set_state(struct relay_portal *p, enum metrics_portal s)
{
	atomic_store(&p->g->portal, (int)s);
}

static void
handle_event(struct relay_portal *p, struct phx_event *ev)
{
	uint64_t one = 1;

	switch (ev->kind) {
	case PHX_EV_JOINED:
		atomic_fetch_add(&p->g->portal_joins, 1);
		set_state(p, MP_JOINED);
		log_info("joined the portal's relay channel");
		break;
	case PHX_EV_MESSAGE:
		/* init is {} and carries nothing for a relay (§1.9) */
		log_debug("portal event %s ignored", ev->event);
		break;
	case PHX_EV_DISCONNECTED:
		set_state(p, phx_client_join_count(p->pc) > 0 ?
		    MP_RECONNECTING : MP_CONNECTING);
		log_warnx("portal channel lost (%s): reconnecting",
		    ev->reason != NULL ? ev->reason : "closed");
		break;
	case PHX_EV_FATAL:
		set_state(p, phx_client_join_count(p->pc) > 0 ?
		    MP_RECONNECTING : MP_CONNECTING);
		log_errorx("portal connection failed for good (%s): exiting",
		    ev->reason != NULL ? ev->reason : "fatal");
		if (write(p->done_fd, &one, sizeof(one)) != sizeof(one))
			log_warn("done eventfd");
		break;
	}
}

static void
pump(struct relay_portal *p)
{
	struct phx_event ev;
	struct timeval tv;
	enum phx_action a;
	uint64_t dl, now;
	char *f;

	while ((a = phx_client_pop_action(p->pc)) != PHX_ACT_NONE) {
		if (a == PHX_ACT_CONNECT)
			connect_portal(p);
		else if (p->ws != NULL) {
			/* on_closed follows (ws.c bounds the handshake) */
			ws_close(p->ws, WS_CLOSE_NORMAL);
			p->ws_open = false;
		}
	}
	while ((f = phx_client_pop_frame(p->pc)) != NULL) {
		if (p->ws == NULL || !p->ws_open ||
		    ws_send_text(p->ws, f, strlen(f)) != 0)
			log_debug("a frame for a closed connection dropped");
		free(f);
	}
	while (phx_client_pop_event(p->pc, &ev)) {
		handle_event(p, &ev);
		phx_event_clear(&ev);
	}
	evtimer_del(p->timer);
	if ((dl = phx_client_deadline(p->pc)) == UINT64_MAX)
		return;
	now = now_ms();
	dl = dl > now ? dl - now : 0;
	tv.tv_sec = (time_t)(dl / 1000);
	tv.tv_usec = (suseconds_t)(dl % 1000) * 1000;
	evtimer_add(p->timer, &tv);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct relay_portal *p = arg;

	(void)fd;
	(void)what;
	phx_client_tick(p->pc, now_ms());
	pump(p);
}

/* Posted by relay_portal_free from the main thread. */
static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct relay_portal *p = arg;
	struct timeval grace = { STOP_GRACE_S, 0 };

	(void)fd;
	(void)what;
	p->stopping = true;
	phx_client_stop(p->pc);
	pump(p);
	evtimer_del(p->timer);
	/* with a connection, on_closed ends the loop; the grace bounds it */
	if (p->ws == NULL)
		event_base_loopbreak(p->base);
	else
		event_base_loopexit(p->base, &grace);
}

static void *
run(void *arg)
{
	struct relay_portal *p = arg;

	phx_client_start(p->pc, now_ms());
	pump(p);
	event_base_dispatch(p->base);
	return NULL;
}

/* --- setup ------------------------------------------------------------------- */

int
relay_portal_new(const struct relay_portal_config *c, struct relay_portal **out)
{
	struct portal_params pp;
	struct phx_client_cfg pc;
	struct relay_portal *p;
	json_t *join = NULL;
	int rc = -ENOMEM;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->done_fd = -1;
	p->g = c->g;
	set_state(p, MP_CONNECTING);	/* /readyz: 503 from the start */
	memset(&pp, 0, sizeof(pp));
	pp.name = c->name;
	pp.ipv4 = c->ipv4;
	pp.ipv6 = c->ipv6;
	pp.port = c->port;
	if ((rc = portal_url_build(c->api_url, PHX_RELAY, &pp,
	    &p->url)) != 0) {
		log_errorx("FIREZONE_API_URL %s: not a portal URL", c->api_url);
		goto fail;
	}
	rc = -ENOMEM;
	if ((p->ua = portal_user_agent(PHX_RELAY)) == NULL)
		goto fail;
	/* whitespace stripped (§1.2) */
	if ((rc = portal_auth_header(c->token, &p->auth)) != 0) {
		if (rc == -EINVAL)
			log_errorx("the relay token is empty or has control "
			    "characters");
		goto fail;
	}
	p->headers[0] = p->auth;
	p->headers[1] = NULL;
	rc = -ENOMEM;
	/* the CA file is read here, and OpenSSL initialised: both open
	 * files the sandbox would otherwise have to allow later */
	if (strncmp(p->url, "wss:", 4) == 0 &&
	    (p->ssl = ws_client_ssl_ctx()) == NULL) {
		log_errorx("TLS client context (CA file)");
		rc = -EIO;
		goto fail;
	}
	if ((p->base = event_base_new()) == NULL ||
	    (p->timer = evtimer_new(p->base, on_timer, p)) == NULL ||
	    (p->stop_ev = event_new(p->base, -1, 0, on_stop, p)) == NULL)
		goto fail;
	/* Firezone's relay asks the system resolver; ours would want NSS
	 * modules and files under seccomp, so the resolver reads what it
	 * needs now and then asks the name servers itself. */
	if ((p->dns = ws_bootstrap_dns(p->base)) == NULL) {
		log_errorx("reading /etc/resolv.conf for the portal's name");
		rc = -EIO;
		goto fail;
	}
	if ((p->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((join = json_pack("{s:s}", "stamp_secret",
	    c->stamp_secret)) == NULL)
		goto fail;
	memset(&pc, 0, sizeof(pc));
	pc.component = PHX_RELAY;
	pc.topic = "relay";
	pc.join_payload = join;
	pc.max_partition_ms = RELAY_PORTAL_BUDGET_MS;
	p->pc = phx_client_new(&pc);
	json_decref(join);	/* the client holds its own reference */
	if (p->pc == NULL)
		goto fail;
	log_info("portal %s (User-Agent %s)", p->url, p->ua);
	*out = p;
	return 0;
fail:
	relay_portal_free(p);
	return rc;
}

int
relay_portal_run(struct relay_portal *p)
{
	int rc;

	if ((rc = pthread_create(&p->thr, NULL, run, p)) != 0)
		return -rc;
	p->running = true;
	return 0;
}

int
relay_portal_done_fd(const struct relay_portal *p)
{
	return p->done_fd;
}

void
relay_portal_free(struct relay_portal *p)
{
	if (p == NULL)
		return;
	if (p->running) {
		event_active(p->stop_ev, 0, 0);
		pthread_join(p->thr, NULL);
	}
	ws_free(p->ws);
	phx_client_free(p->pc);
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->stop_ev != NULL)
		event_free(p->stop_ev);
	if (p->dns != NULL)
		evdns_base_free(p->dns, 0);
	if (p->base != NULL)
		event_base_free(p->base);
	if (p->ssl != NULL)
		SSL_CTX_free(p->ssl);
	portal_auth_header_free(p->auth);
	if (p->done_fd >= 0)
		close(p->done_fd);
	free(p->url);
	free(p->ua);
	free(p);
}
