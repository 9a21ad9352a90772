/* SPDX-License-Identifier: ISC */
/*
 * fz-portald: a small self-hosted portal speaking Firezone's protocol
 * (fz-portald(8)).  This file is the socket glue: WebSocket listener
 * (portal/ws.h), timers and signals; the portal itself is portal.c, the
 * config config.c, the device state store.c.
 */
#define LOG_MODULE "portald"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "fztime.h"
#include "log.h"
#include "portal.h"
#include "sandbox.h"
#include "store.h"
#include "ws.h"

#define DEFAULT_LISTEN	"127.0.0.1:8443"
#define DEFAULT_STATE	"/var/lib/fz-portald/state.db"
#define DEFAULT_USER	"fz-portal"

struct portald {
	struct event_base	*base;
	struct ws_listener	*listener;
	struct pd_portal	*portal;
	struct pd_store		*store;
	SSL_CTX			*ssl;
	struct event		*timer, *sighup, *sigterm, *sigint;
	const char		*config_path;
	unsigned		 conns;
	/* The refusal body: ws.c copies it after on_request returns. */
	struct pd_http_error	 refusal;
	struct log_ratelimit	 refused_rl;
};

/* One accepted WebSocket: the portal sees this as its conn. */
struct pconn {
	struct portald		*d;
	struct ws_conn		*ws;
	struct pd_session	*s;
};

struct opts {
	const char	*config, *listen, *state, *cert, *key, *user;
	bool		 check, help, user_given, seccomp;
	enum seccomp_default seccomp_default;
};

static uint64_t
now_ms(void)
{
	return time_mono_ns() / 1000000u;
}

static int64_t
wall(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL);
}

static void
arm_timer(struct portald *d)
{
	uint64_t dl = pd_portal_deadline(d->portal), now = now_ms();
	struct timeval tv;

	if (dl == UINT64_MAX) {
		evtimer_del(d->timer);
		return;
	}
	dl = dl > now ? dl - now : 0;
	tv.tv_sec = (time_t)(dl / 1000);
	tv.tv_usec = (suseconds_t)(dl % 1000) * 1000;
	evtimer_add(d->timer, &tv);
}

/* ---- portal ops ---- */

static int
op_send(void *conn, const char *text, size_t len)
{
	struct pconn *c = conn;

	return ws_send_text(c->ws, text, len);
}

static void
op_close(void *conn, int code)
{
	struct pconn *c = conn;

	ws_close(c->ws, code);
}

static const struct pd_portal_ops portal_ops = {
	.send = op_send,
	.close = op_close,
	.unix_now = wall,
	.arg = NULL,
};

/* ---- WebSocket callbacks ---- */

static void
peer_text(const struct ws_http_req *req, char *out, size_t cap)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (req->peer == NULL || getnameinfo(req->peer, req->peer_len, host,
	    sizeof(host), serv, sizeof(serv), NI_NUMERICHOST |
	    NI_NUMERICSERV) != 0) {
		snprintf(out, cap, "?");
		return;
	}
	if (strchr(host, ':') != NULL)
		snprintf(out, cap, "[%s]:%s", host, serv);
	else
		snprintf(out, cap, "%s:%s", host, serv);
}

static int
on_request(const struct ws_http_req *req, struct ws_conn *ws, void *arg,
    struct ws_reply *reply)
{
	struct portald *d = arg;
	struct pd_http_error *err = &d->refusal;
	struct pd_request pr;
	struct pconn *c;
	char peer[NI_MAXHOST + NI_MAXSERV + 4];
	int r;

	peer_text(req, peer, sizeof(peer));
	pr.path = req->path;
	pr.query = req->query;
	pr.authorization = ws_http_req_header(req, "X-Authorization");
	pr.user_agent = ws_http_req_header(req, "User-Agent");
	pr.peer = peer;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		reply->status = 503;
		reply->retry_after_s = 1;
		return 1;
	}
	c->d = d;
	c->ws = ws;
	r = pd_portal_connect(d->portal, &pr, c, now_ms(), &c->s, err);
	if (r != 0) {
		if (log_ratelimit(&d->refused_rl))
			log_info("refused %s %.64s from %s: %d %s",
			    req->method, req->path, peer, err->status,
			    err->code);
		free(c);
		reply->status = err->status;
		reply->content_type = "application/problem+json";
		reply->body = err->body;
		reply->body_len = strlen(err->body);
		return 1;
	}
	ws_conn_set_arg(ws, c);
	d->conns++;
	return 0;
}

static void
on_open(struct ws_conn *ws, void *arg)
{
	(void)ws;
	(void)arg;
}

static void
on_text(struct ws_conn *ws, const char *text, size_t len, void *arg)
{
	struct pconn *c = arg;

	(void)ws;
	pd_portal_text(c->d->portal, c->s, text, len, now_ms());
	arm_timer(c->d);
}

static void
on_closed(struct ws_conn *ws, int code, void *arg)
{
	struct pconn *c = arg;
	struct portald *d = c->d;

	(void)ws;
	(void)code;
	pd_portal_closed(d->portal, c->s, now_ms());
	d->conns--;
	free(c);
	arm_timer(d);
}

static const struct ws_cbs ws_callbacks = {
	.open = on_open,
	.text = on_text,
	.closed = on_closed,
	.http_error = NULL,
};

/* ---- timers and signals ---- */

static void
on_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct portald *d = arg;

	(void)fd;
	(void)ev;
	pd_portal_tick(d->portal, now_ms());
	arm_timer(d);
}

static void
on_sighup(evutil_socket_t fd, short ev, void *arg)
{
	struct portald *d = arg;
	struct pd_config *cfg;
	char err[512];
	int r;

	(void)fd;
	(void)ev;
	if ((r = pd_config_load(d->config_path, &cfg, err, sizeof(err)))) {
		log_errorx("SIGHUP: %s; keeping the old configuration", err);
		return;
	}
	log_info("SIGHUP: %s reloaded (%zu resources, %zu clients, %zu "
	    "sites)", d->config_path, cfg->nresources, cfg->nclients,
	    cfg->nsites);
	pd_portal_reload(d->portal, cfg, now_ms());
	arm_timer(d);
}

static void
on_sigterm(evutil_socket_t fd, short ev, void *arg)
{
	struct portald *d = arg;

	(void)ev;
	log_info("signal %d: shutting down", (int)fd);
	event_base_loopbreak(d->base);
}

/* The bound address (port 0 picks one: tests read it from this line). */
static void
log_listening(const struct portald *d, const char *listen, const char *state,
    const char *config)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (ws_listener_addr(d->listener, &ss, &len) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv,
	    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(serv, sizeof(serv), "?");
	log_info("listening on %s port %s (%s), state %s, config %s", listen,
	    serv, d->ssl ? "wss" : "ws", state, config);
}

/* ---- flags ---- */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fz-portald --config FILE [--listen ADDR:PORT] "
	    "[--state PATH]\n"
	    "                  [--tls-cert PEM --tls-key PEM] [--user USER]\n"
	    "                  [--seccomp kill|trap|off]\n"
	    "       fz-portald --config FILE --check\n"
	    "  --config FILE      JSON configuration (fz-portald(8))\n"
	    "  --listen ADDR:PORT listen address (default " DEFAULT_LISTEN ")\n"
	    "  --state PATH       SQLite device state (default "
	    DEFAULT_STATE ")\n"
	    "  --tls-cert PEM     certificate chain; with --tls-key serves "
	    "wss://\n"
	    "  --tls-key PEM      private key\n"
	    "  --user USER        started as root: the user to run as "
	    "(default " DEFAULT_USER ")\n"
	    "  --seccomp MODE     kill (default), trap or off\n"
	    "  --check            validate the configuration and exit\n"
	    "  -h, --help         this text\n");
}

static int
opts_parse(int argc, char *argv[], struct opts *o)
{
	enum { O_CONFIG = 256, O_LISTEN, O_STATE, O_CERT, O_KEY, O_CHECK,
	    O_USER, O_SECCOMP };
	static const struct option lo[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "state", required_argument, NULL, O_STATE },
		{ "tls-cert", required_argument, NULL, O_CERT },
		{ "tls-key", required_argument, NULL, O_KEY },
		{ "check", no_argument, NULL, O_CHECK },
		{ "user", required_argument, NULL, O_USER },
		{ "seccomp", required_argument, NULL, O_SECCOMP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->listen = DEFAULT_LISTEN;
	o->state = DEFAULT_STATE;
	o->user = DEFAULT_USER;
	o->seccomp = true;
	o->seccomp_default = SECCOMP_DEFAULT_KILL;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case O_CONFIG: o->config = optarg; break;
		case O_LISTEN: o->listen = optarg; break;
		case O_STATE: o->state = optarg; break;
		case O_CERT: o->cert = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_CHECK: o->check = true; break;
		case O_USER: o->user = optarg; o->user_given = true; break;
		case O_SECCOMP:
			if (strcmp(optarg, "kill") == 0)
				o->seccomp_default = SECCOMP_DEFAULT_KILL;
			else if (strcmp(optarg, "trap") == 0)
				o->seccomp_default = SECCOMP_DEFAULT_TRAP;
			else if (strcmp(optarg, "off") == 0)
				o->seccomp = false;
			else
				return -EINVAL;
			break;
		case 'h': o->help = true; return 0;
		default: return -EINVAL;
		}
	}
	if (optind != argc || o->config == NULL ||
	    (o->cert == NULL) != (o->key == NULL))
		return -EINVAL;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct portald d = { .refused_rl = LOG_RATELIMIT_INIT(1000, 10) };
	struct pd_config *cfg;
	struct opts o = { 0 };
	char err[512];
	uint64_t bnd = ~0ULL;
	bool dropped;
	int r;

	if (opts_parse(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	if (o.help) {
		usage(stdout);
		return 0;
	}
	if (log_init("fz-portald", LOG_FORMAT_AUTO, getenv("RUST_LOG")) != 0) {
		fprintf(stderr, "fz-portald: bad RUST_LOG filter\n");
		return 2;
	}
	if (pd_config_load(o.config, &cfg, err, sizeof(err)) != 0) {
		if (o.check) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		fatalx("%s", err);
	}
	if (o.check) {
		printf("%s: ok (%zu sites, %zu resources, %zu clients, %zu "
		    "policies)\n", o.config, cfg->nsites, cfg->nresources,
		    cfg->nclients, cfg->npolicies);
		pd_config_free(cfg);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	d.config_path = o.config;
	if ((r = pd_store_open_sqlite(o.state, &d.store)) != 0)
		fatalx("%s: cannot open the state database: %s", o.state,
		    strerror(-r));
	if ((r = pd_portal_new(cfg, d.store, &portal_ops, &d.portal)) != 0)
		fatalx("cannot start the portal: %s", strerror(-r));
	if (o.cert != NULL && (d.ssl = ws_server_ssl_ctx(o.cert, o.key)) ==
	    NULL)
		fatalx("cannot load %s / %s", o.cert, o.key);
	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((r = ws_listen(d.base, o.listen, d.ssl, on_request, &ws_callbacks,
	    &d, &d.listener)) != 0)
		fatalx("cannot listen on %s: %s", o.listen, strerror(-r));
	d.timer = evtimer_new(d.base, on_timer, &d);
	d.sighup = evsignal_new(d.base, SIGHUP, on_sighup, &d);
	d.sigterm = evsignal_new(d.base, SIGTERM, on_sigterm, &d);
	d.sigint = evsignal_new(d.base, SIGINT, on_sigterm, &d);
	if (d.timer == NULL || d.sighup == NULL || d.sigterm == NULL ||
	    d.sigint == NULL || evsignal_add(d.sighup, NULL) ||
	    evsignal_add(d.sigterm, NULL) || evsignal_add(d.sigint, NULL))
		fatalx("cannot set up events");
	/*
	 * Bound, the database and TLS key open: drop to the user, then the
	 * allow-list (glibc reads /etc/localtime on the first log line).
	 */
	tzset();
	if (pd_sandbox_drop(o.user, o.user_given, &dropped) != 0)
		return 1;
	if (o.seccomp && (r = pd_sandbox_seccomp(o.seccomp_default)) != 0) {
		log_errorc(-r, "seccomp");
		return 1;
	}
	log_info("running as uid %u gid %u%s: CapEff, CapPrm and CapAmb "
	    "empty, CapBnd %s, no_new_privs, not dumpable, seccomp %s",
	    (unsigned)getuid(), (unsigned)getgid(),
	    dropped ? "" : " (uid not changed)",
	    privsep_status_hex("CapBnd", &bnd) == 0 && bnd == 0 ? "empty" :
	    "unreachable", o.seccomp ? "on" : "OFF");
	log_listening(&d, o.listen, o.state, o.config);

	event_base_dispatch(d.base);

	ws_listener_free(d.listener);
	event_free(d.timer);
	event_free(d.sighup);
	event_free(d.sigterm);
	event_free(d.sigint);
	pd_portal_free(d.portal);
	pd_store_free(d.store);
	if (d.ssl != NULL)
		SSL_CTX_free(d.ssl);
	log_info("stopped");
	return 0;
}
