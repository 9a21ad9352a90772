/* SPDX-License-Identifier: ISC */
/*
 * The front-end server, in fz-tunneld (root, CAP_NET_ADMIN and CAP_KILL;
 * under the seccomp allow-list once the service is set up): the Unix
 * socket (its own, or one systemd passes), SO_PEERCRED admission (root,
 * or a member of fz-client: 16 connections per non-root uid, 8 of the 64
 * slots kept for root, HELLO within 5 s), the FRONT dispatch table, and
 * the events subscribed front ends receive.
 */
#define LOG_MODULE "tunneld"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "fztime.h"
#include "client_net.h"
#include "svc.h"
#include "tun.h"

static void	fe_free(struct frontend *);

/* --- events to subscribed front ends ---------------------------------- */

void
frontend_broadcast(struct svc *s, const char *kind, const char *detail)
{
	struct ipc_msg m;
	char d[513];
	int i;

	ipc_msg_init(&m, IPC_EVENT);
	m.u.event.kind = kind;
	(void)ipc_text_trunc(d, sizeof(d), detail);
	m.u.event.detail = d;
	for (i = 0; i < MAX_FRONTENDS; i++) {
		struct frontend *f = &s->fe[i];

		if (!f->used || !f->subscribed)
			continue;
		if (ipc_send(f->conn, &m) == -ENOBUFS) {
			log_warnx("front end pid %d does not read its events; "
			    "disconnecting it", (int)f->pid);
			fe_free(f);
		}
	}
}

void
frontend_push_resources(struct svc *s)
{
	struct ipc_msg m;
	char d[32];
	int i;

	ipc_msg_init(&m, IPC_RESOURCES);
	if (s->resources->m.type == IPC_RESOURCES)
		m.u.resources.list = s->resources->m.u.resources.list;
	for (i = 0; i < MAX_FRONTENDS; i++) {
		struct frontend *f = &s->fe[i];

		if (!f->used || !f->subscribed)
			continue;
		if (ipc_send(f->conn, &m) == -ENOBUFS) {
			log_warnx("front end pid %d does not read its events; "
			    "disconnecting it", (int)f->pid);
			fe_free(f);
		}
	}
	snprintf(d, sizeof(d), "%u", m.u.resources.list.n);
	frontend_broadcast(s, "resources", d);
}

/* --- front ends -------------------------------------------------------- */

static void
fe_send(struct frontend *f, const struct ipc_msg *m)
{
	int rc;

	if ((rc = ipc_send(f->conn, m)) != 0)
		log_debug("reply %s to pid %d: %s", ipc_type_name(m->type),
		    (int)f->pid, strerror(-rc));
}

static void
fe_result(struct frontend *f, int err, const char *msg)
{
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_RESULT);
	m.u.result.error = err;
	m.u.result.message = msg;
	fe_send(f, &m);
}

/* The data plane's counters for a peer, by key (0 0 if gone). */
static void
peer_bytes(void *arg, const uint8_t key[WG_KEY_LEN], uint64_t *rx,
    uint64_t *tx)
{
	struct svc *s = arg;
	struct wg_peer_stats st;
	struct wg_peer *p;

	*rx = *tx = 0;
	if (s->dev == NULL || (p = wg_peer_find(s->dev, key)) == NULL)
		return;
	wg_peer_stats(p, &st);
	*rx = st.rx_bytes;
	*tx = st.tx_bytes;
}

static void
fe_status(struct svc *s, struct frontend *f)
{
	static char conns[sizeof(s->connections)];
	struct ipc_msg m;
	struct tunnel_status_fields;
	char filter[513];

	ipc_msg_init(&m, IPC_TUNNEL_STATUS);
	m.u.tunnel_status.state = svc_state_name(s->state);
	m.u.tunnel_status.detail = s->detail;
	m.u.tunnel_status.mode = s->st.gateway ? "gateway" : "client";
	m.u.tunnel_status.signed_in = s->st.has_token;
	m.u.tunnel_status.api_url = s->st.api_url;
	m.u.tunnel_status.account = s->account;
	m.u.tunnel_status.firezone_id = s->st.firezone_id;
	if (s->tun != NULL)
		m.u.tunnel_status.interface = s->tun->name;
	log_get_filter(filter, sizeof(filter));
	m.u.tunnel_status.log_filter = filter;
	m.u.tunnel_status.controld_pid = s->cpid;
	m.u.tunnel_status.controld_restarts = s->restarts > 0 ?
	    s->restarts - 1 : 0;
	m.u.tunnel_status.uptime_s = time_mono_ns() / 1000000000ULL -
	    s->start_s;
	m.u.tunnel_status.version = PACKAGE_VERSION;
	m.u.tunnel_status.ipv4 = s->iface.ipv4;
	m.u.tunnel_status.ipv6 = s->iface.ipv6;
	m.u.tunnel_status.relays = s->relays;
	m.u.tunnel_status.relay_ids = s->relay_ids;
	m.u.tunnel_status.internet_resource = !s->st.gateway &&
	    cn_internet_active(s);
	/* checked on arrival; -ENOSPC leaves the entries that fit */
	if (svc_connections_merge(s->connections, peer_bytes, s, conns,
	    sizeof(conns)) == -ENOSPC)
		log_debug("status: connections cut to what fits");
	m.u.tunnel_status.connections = conns;
	fe_send(f, &m);
}

/*
 * Sign-in: everything is checked into locals before the service changes.
 * A non-root member of fz-client may not point the service at another
 * portal than the one in use (configured, or set by root) unless
 * --frontend-allow-portal-url: the portal decides which routes and DNS
 * servers this machine gets.
 */
static void
fe_sign_in(struct svc *s, struct frontend *f, const struct ipc_sign_in *in)
{
	char *token, url[sizeof(s->st.api_url)];
	int rc;

	if ((token = malloc(sizeof(s->st.token))) == NULL) {
		fe_result(f, -ENOMEM, "out of memory");
		return;
	}
	if (s->st.gateway) {
		fe_result(f, -EOPNOTSUPP, "a gateway takes its token from "
		    "FIREZONE_TOKEN");
		goto out;
	}
	rc = settings_token_check(in->token, strlen(in->token), token,
	    sizeof(s->st.token));
	if (rc != 0) {
		fe_result(f, -EINVAL, "not a token");
		goto out;
	}
	snprintf(url, sizeof(url), "%s", s->st.api_url);
	if (in->api_url[0] != '\0' &&
	    settings_api_url(in->api_url, url, sizeof(url)) != 0) {
		fe_result(f, -EINVAL, "the portal URL must be ws://, wss://, "
		    "http:// or https://");
		goto out;
	}
	if (strcmp(url, s->st.api_url) != 0 && f->uid != 0 &&
	    !s->st.fe_allow_portal_url) {
		if (log_ratelimit(&s->fe_rl))
			log_warnx("refused sign-in by uid %u to portal %s: "
			    "only root may change the portal URL "
			    "(--frontend-allow-portal-url)", (unsigned)f->uid,
			    url);
		fe_result(f, -EPERM, "permission denied: only root may sign "
		    "in to another portal than the one in use (fz-tunneld "
		    "--frontend-allow-portal-url)");
		goto out;
	}
	memcpy(s->st.token, token, sizeof(s->st.token));
	memcpy(s->st.api_url, url, sizeof(s->st.api_url));
	snprintf(s->account, sizeof(s->account), "%s", in->account);
	s->st.has_token = true;
	log_info("sign-in requested by uid %u (portal %s, account '%s')",
	    (unsigned)f->uid, s->st.api_url, s->account);
	supervise_sign_in(s);
	svc_set_state(s, SVC_CONNECTING, s->st.api_url);
	fe_result(f, 0, "signing in");
out:
	sodium_memzero(token, sizeof(s->st.token));
	free(token);
}

/*
 * A non-root member of fz-client may make logging quieter down to warn,
 * not below (error or off, for any module), unless
 * --frontend-allow-log-off: warnings are where refusals and protocol
 * violations are recorded.  The change itself is logged before it
 * applies.
 */
static void
fe_set_log_filter(struct svc *s, struct frontend *f, const char *filter)
{
	enum log_level min;

	if (log_filter_min_level(filter, &min) != 0) {
		fe_result(f, -EINVAL, "bad log filter");
		return;
	}
	if (min < LOG_LVL_WARN && f->uid != 0 && !s->st.fe_allow_log_off) {
		if (log_ratelimit(&s->fe_rl))
			log_warnx("refused log filter '%s' from uid %u: below "
			    "warn (--frontend-allow-log-off)", filter,
			    (unsigned)f->uid);
		fe_result(f, -EPERM, "permission denied: only root may set a "
		    "log filter below warn (fz-tunneld "
		    "--frontend-allow-log-off)");
		return;
	}
	log_info("log filter set to '%s' by uid %u", filter,
	    (unsigned)f->uid);
	if (log_set_filter(filter) != 0) {
		fe_result(f, -EINVAL, "bad log filter");
		return;
	}
	supervise_set_log_filter(s, filter);
	fe_result(f, 0, "log filter set");
}

/*
 * Requests from front ends: one handler per type the FRONT section of
 * ipc_msg.def lets them send.  A refused connection reads nothing more
 * (ipc_conn_close_after_flush).
 */
static void
f_hello(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	if (f->hello_ev != NULL)
		evtimer_del(f->hello_ev);
	log_debug("front end %s (pid %d, uid %u) connected",
	    m->u.hello.program, (int)f->pid, (unsigned)f->uid);
}

static void
f_sign_in(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	fe_sign_in(f->svc, f, &m->u.sign_in);
}

static void
f_sign_out(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;
	struct svc *s = f->svc;

	(void)c;
	(void)m;
	if (s->st.gateway) {
		fe_result(f, -EOPNOTSUPP, "a gateway cannot sign out");
		return;
	}
	sodium_memzero(s->st.token, sizeof(s->st.token));
	s->st.has_token = false;
	supervise_sign_out(s);
	svc_session_clear(s);
	frontend_push_resources(s);
	log_info("signed out by uid %u", (unsigned)f->uid);
	svc_set_state(s, SVC_SIGNED_OUT, "");
	fe_result(f, 0, "signed out");
}

/* fzctl internet-resource on|off: its default routes (client_net.c). */
static void
f_internet_resource(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;
	bool on = m->u.internet_resource.on;

	(void)c;
	if (f->svc->st.gateway) {
		fe_result(f, -EOPNOTSUPP, "a gateway has no Internet Resource");
		return;
	}
	cn_internet(f->svc, on);
	log_info("Internet Resource %s by uid %u", on ? "activated" :
	    "deactivated", (unsigned)f->uid);
	frontend_broadcast(f->svc, "internet_resource", on ? "on" : "off");
	fe_result(f, 0, on ? "Internet Resource activated" :
	    "Internet Resource deactivated");
}

static void
f_set_log_filter(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	fe_set_log_filter(f->svc, f, m->u.set_log_filter.filter);
}

static void
f_status_get(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	(void)m;
	fe_status(f->svc, f);
}

static void
f_resources_get(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;
	struct svc *s = f->svc;
	struct ipc_msg r;

	(void)c;
	(void)m;
	ipc_msg_init(&r, IPC_RESOURCES);
	if (s->resources->m.type == IPC_RESOURCES)
		r.u.resources.list = s->resources->m.u.resources.list;
	fe_send(f, &r);
}

static void
f_subscribe(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	(void)m;
	f->subscribed = true;
	fe_result(f, 0, "subscribed");
}

static const struct ipc_handler fe_msg[] = {
	{ IPC_HELLO,		f_hello },
	{ IPC_SIGN_IN,		f_sign_in },
	{ IPC_SIGN_OUT,		f_sign_out },
	{ IPC_SET_LOG_FILTER,	f_set_log_filter },
	{ IPC_STATUS_GET,	f_status_get },
	{ IPC_RESOURCES_GET,	f_resources_get },
	{ IPC_INTERNET_RESOURCE, f_internet_resource },
	{ IPC_SUBSCRIBE,	f_subscribe },
	IPC_HANDLERS_END
};

static void
fe_close(struct ipc_conn *c, int err, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	if (err != 0 && err != -ECONNRESET && err != -EPIPE &&
	    log_ratelimit(&f->svc->fe_rl))
		log_warnx("front end pid %d (uid %u): %s; disconnected",
		    (int)f->pid, (unsigned)f->uid, strerror(-err));
	fe_free(f);
}

/* Safe inside the connection's own callbacks. */
static void
fe_free(struct frontend *f)
{
	if (f->hello_ev != NULL)
		event_free(f->hello_ev);
	f->hello_ev = NULL;
	ipc_conn_free(f->conn);
	f->conn = NULL;
	f->used = false;
}

/* A connection that has not said HELLO in time holds a slot for nothing. */
static void
fe_hello_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct frontend *f = arg;

	(void)fd;
	(void)what;
	if (ipc_conn_ready(f->conn))
		return;
	if (log_ratelimit(&f->svc->fe_rl))
		log_warnx("front end pid %d (uid %u) sent no HELLO within "
		    "%d s; disconnected", (int)f->pid, (unsigned)f->uid,
		    FE_HELLO_TIMEOUT_S);
	fe_free(f);
}

/* Root, or a member of fz-client (primary or supplementary group). */
static bool
peer_allowed(struct svc *s, const struct ucred *cr)
{
	struct passwd *pw;
	static gid_t groups[256];	/* off the stack; one thread */
	int n = 256, i;

	if (cr->uid == 0)
		return true;
	if (!s->have_client_group)
		return false;
	if (cr->gid == s->client_gid)
		return true;
	if ((pw = getpwuid(cr->uid)) == NULL)
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (groups[i] == s->client_gid)
			return true;
	return false;
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct svc *s = arg;
	struct ipc_conn_config cc = {
		.self = IPC_T, .peer = IPC_F, .program = "fz-tunneld",
		.on_msg = fe_msg, .on_close = fe_close,
	};
	struct timeval hello_tv = { FE_HELLO_TIMEOUT_S, 0 };
	struct svc_fe_census census;
	struct frontend *f;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	char msg[200];
	int fd, err;

	(void)what;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		close(fd);
		return;
	}
	svc_fe_census(s->fe, MAX_FRONTENDS, cr.uid, &census);
	if (census.free_slot < 0) {
		if (log_ratelimit(&s->fe_rl))
			log_warnx("%d front-end connections; refusing pid %d "
			    "(uid %u)", MAX_FRONTENDS, (int)cr.pid,
			    (unsigned)cr.uid);
		close(fd);
		return;
	}
	f = &s->fe[census.free_slot];
	memset(f, 0, sizeof(*f));
	f->svc = s;
	f->uid = cr.uid;
	f->pid = cr.pid;
	cc.arg = f;
	if (ipc_conn_new(s->base, fd, &cc, &f->conn) != 0) {
		close(fd);
		return;
	}
	f->used = true;
	if ((f->hello_ev = evtimer_new(s->base, fe_hello_timeout, f)) == NULL ||
	    evtimer_add(f->hello_ev, &hello_tv) != 0) {
		fe_free(f);
		return;
	}
	err = svc_fe_admit(cr.uid, peer_allowed(s, &cr), &census, msg,
	    sizeof(msg));
	if (err == 0)
		return;
	if (log_ratelimit(&s->fe_rl))
		log_warnx("refused front end pid %d: %s", (int)cr.pid, msg);
	f->refused = true;
	fe_result(f, err, msg);
	ipc_conn_close_after_flush(f->conn);
}

/*
 * The front-end socket, while still root: systemd's (socket activation)
 * or our own, 0660 and group fz-client.
 */
int
frontend_listen(struct svc *s)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)];
	int n, fd;

	n = sd_listen_fds(1);
	if (n > 1) {
		log_errorx("systemd passed %d sockets; expected one", n);
		return -EINVAL;
	}
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_errorx("the socket systemd passed is not a "
			    "listening Unix stream socket");
			return -EINVAL;
		}
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (ipc_refuse_fds(fd) < 0)	/* front ends pass none */
			log_warn("SO_PASSRIGHTS on the systemd socket");
		s->listen_fd = fd;
		log_info("front-end socket from systemd (socket activation)");
		return 0;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(s->o->socket_path) >= sizeof(sun.sun_path)) {
		log_errorx("--socket %s: path too long", s->o->socket_path);
		return -ENAMETOOLONG;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->o->socket_path);
	snprintf(dir, sizeof(dir), "%s", s->o->socket_path);
	if (mkdir(dirname(dir), 0755) != 0 && errno != EEXIST)
		log_warn("mkdir %s", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(sun.sun_path);	/* a stale socket from a crash */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, 16) != 0) {
		n = -errno;
		log_warn("%s", sun.sun_path);
		close(fd);
		return n;
	}
	/* 0660, group fz-client when it exists (else root only). */
	if (chown(sun.sun_path, 0, s->have_client_group ? s->client_gid : 0)
	    != 0 || chmod(sun.sun_path, 0660) != 0)
		log_warn("%s: ownership", sun.sun_path);
	/*
	 * Front ends pass no descriptors: refuse them from connect() on, not
	 * only once accept() has set up the IPC connection.
	 */
	if (ipc_refuse_fds(fd) < 0)
		log_warn("%s: SO_PASSRIGHTS", sun.sun_path);
	s->listen_fd = fd;
	s->socket_created = true;
	log_info("listening on %s", sun.sun_path);
	return 0;
}

/* Once the service is set up: accept front ends. */
int
frontend_start(struct svc *s)
{
	s->accept_ev = event_new(s->base, s->listen_fd, EV_READ | EV_PERSIST,
	    accept_cb, s);
	if (s->accept_ev == NULL || event_add(s->accept_ev, NULL) != 0)
		return -ENOMEM;
	return 0;
}

/* Teardown: every front end, then the socket (unlinked if ours). */
void
frontend_stop(struct svc *s)
{
	int i;

	for (i = 0; i < MAX_FRONTENDS; i++)
		if (s->fe[i].used)
			fe_free(&s->fe[i]);
	if (s->accept_ev != NULL)
		event_free(s->accept_ev);
	s->accept_ev = NULL;
	if (s->socket_created)
		(void)unlink(s->o->socket_path);
	s->socket_created = false;
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
}
