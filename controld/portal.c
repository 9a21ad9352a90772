/* SPDX-License-Identifier: ISC */
/*
 * fz-controld's portal session (portal.h): phx_client driven by ws
 * callbacks and one libevent timer; the portal's messages decoded by
 * portal_msg and turned into IPC for fz-tunneld.
 *
 * Client (firezone-protocols.md §1.6): init and config_changed give the
 * interface (INTERFACE) and init the resources, kept here by id and sent
 * whole (RESOURCES) after every change; resource_created_or_updated,
 * resource_deleted and relays_presence update them.  Both report the
 * relays they know (RELAYS: distinct ids) after init and every
 * relays_presence.  Gateway (§1.7):
 * init gives the interface; create_authorization is answered with
 * authorization_created carrying the portal's ref as the very JSON value
 * received; reject_access, resource_updated and ice_candidates are logged
 * and kept for the connections issue.  Both send
 * set_snownet_capabilities {"iceless": false} after every join, and
 * no_relays when the portal left them without a relay.
 *
 * States reported (STATUS): connecting until the first join, online once
 * joined, reconnecting (with the reason) while the channel is down after
 * that.  A rejected token (invalid_token, token_expired) is an ERROR with
 * requires_sign_in and ends the session: no more connection attempts.
 */
#define LOG_MODULE "portal"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fztime.h"
#include "log.h"
#include "phx_client.h"
#include "portal.h"
#include "portal_msg.h"
#include "ws.h"

#define RESTART_AFTER_FATAL_MS	30000	/* a new session after a non-token
					   fatal error (retries exhausted) */

/* Prepared before the sandbox, for every session of this process. */
static struct {
	struct evdns_base	*dns;
	SSL_CTX			*ssl;
	char			*ua[2];		/* client, gateway */
} prep;

/* A resource's connection status, as the connection manager reports it. */
struct res_status {
	portal_id	id;
	bool		online;
};

struct cportal {
	struct event_base	*base;
	const struct cportal_sink *sink;
	void			*arg;
	bool			 gateway;
	uint64_t		 max_partition_s;
	int			(*socket_fn)(void *, int);
	void			*socket_arg;
	char			*url;		/* never logged with a token: */
	char			 host[256];	/* the token is a header */
	char			*auth_header;	/* "X-Authorization: Bearer " */
	struct phx_client	*phx;
	struct ws_conn		*ws;
	bool			 ws_open;
	struct event		*timer;
	bool			 fatal;		/* stopped for good */
	bool			 sent_no_relays;	/* this join */

	struct portal_resource	*res;		/* client: by arrival */
	size_t			 nres;
	struct portal_relay	*relays;
	size_t			 nrelays;
	bool			 in_pump;
	struct res_status	*rstat;		/* client: known statuses */
	size_t			 nrstat;
	unsigned		 authorizations;
};

static void	pump(struct cportal *);

static uint64_t
now_ms(void)
{
	return time_mono_ns() / 1000000;
}

static uint32_t
rand32(void *arg)
{
	(void)arg;
	return randombytes_random();
}

/* --- before the sandbox ------------------------------------------------ */

int
cportal_prepare(struct event_base *base)
{
	if ((prep.dns = ws_bootstrap_dns(base)) == NULL) {
		log_warnx("cannot set up the bootstrap resolver "
		    "(/etc/resolv.conf, /etc/hosts)");
		return -EIO;
	}
	if ((prep.ssl = ws_client_ssl_ctx()) == NULL) {
		log_warnx("cannot load the TLS trust store%s",
		    getenv("SSL_CERT_FILE") != NULL ? " ($SSL_CERT_FILE)" : "");
		return -EIO;
	}
	/* jansson seeds its hash tables from /dev/urandom on first use */
	json_object_seed(0);
	prep.ua[0] = portal_user_agent(PHX_CLIENT);
	prep.ua[1] = portal_user_agent(PHX_GATEWAY);
	if (prep.ua[0] == NULL || prep.ua[1] == NULL)
		return -ENOMEM;
	return 0;
}

struct evdns_base *
cportal_dns(void)
{
	return prep.dns;
}

void
cportal_unprepare(void)
{
	if (prep.dns != NULL)
		evdns_base_free(prep.dns, 0);
	if (prep.ssl != NULL)
		SSL_CTX_free(prep.ssl);
	free(prep.ua[0]);
	free(prep.ua[1]);
	memset(&prep, 0, sizeof(prep));
}

/* --- what fz-tunneld is told ------------------------------------------- */

static void
status(struct cportal *p, const char *state, const char *detail)
{
	p->sink->status(p->arg, state, detail);
}

static const char *
res_type_name(enum portal_res_type t)
{
	switch (t) {
	case PORTAL_RES_DNS:			return "dns";
	case PORTAL_RES_CIDR:			return "cidr";
	case PORTAL_RES_INTERNET:		return "internet";
	case PORTAL_RES_STATIC_DEVICE_POOL:
	case PORTAL_RES_DYNAMIC_DEVICE_POOL:	return "device_pool";
	}
	return "unknown";
}

/* Appends s to buf (cap bytes) after sep, cut at a UTF-8 boundary. */
static void
join(char *buf, size_t cap, const char *sep, const char *s)
{
	size_t n = strlen(buf);

	if (n + 1 >= cap)
		return;
	if (n > 0) {
		(void)ipc_text_trunc(buf + n, cap - n, sep);
		n = strlen(buf);
	}
	(void)ipc_text_trunc(buf + n, cap - n, s);
}

static const char *
res_status_name(const struct cportal *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->nrstat; i++)
		if (strcmp(p->rstat[i].id, id) == 0)
			return p->rstat[i].online ? "online" : "offline";
	return "unknown";	/* no connection tried yet */
}

/*
 * The whole list, every time: a portal's messages are diffs, fz-tunneld
 * keeps only the last list.  The strings live in one block for the call.
 */
static void
send_resources(struct cportal *p)
{
	struct ipc_resource_list l = { 0, NULL };
	struct ipc_resource *r = NULL;
	char (*sites)[257] = NULL, (*name)[257] = NULL;
	size_t i, k, n = p->nres;

	if (n > PORTAL_MAX_RESOURCES)
		n = PORTAL_MAX_RESOURCES;
	if (n > 0 && ((r = calloc(n, sizeof(*r))) == NULL ||
	    (sites = calloc(n, sizeof(*sites))) == NULL ||
	    (name = calloc(n, sizeof(*name))) == NULL)) {
		log_warnx("out of memory for %zu resources", n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct portal_resource *pr = &p->res[i];

		for (k = 0; k < pr->n_sites; k++)
			join(sites[i], sizeof(sites[i]), ", ",
			    pr->sites[k].name);
		(void)ipc_text_trunc(name[i], sizeof(name[i]),
		    pr->name[0] != '\0' || pr->type != PORTAL_RES_INTERNET ?
		    pr->name : "Internet Resource");
		r[i].id = pr->id;
		r[i].type = res_type_name(pr->type);
		r[i].address = pr->address;
		r[i].name = name[i];
		r[i].sites = sites[i];
		r[i].status = res_status_name(p, pr->id);
	}
	l.n = (uint32_t)n;
	l.r = r;
	p->sink->resources(p->arg, &l);
out:
	free(r);
	free(sites);
	free(name);
}

/*
 * An address of the family as fz-tunneld takes it (bare, no prefix), or
 * "": fz-tunneld treats anything else as a violation by fz-controld, so
 * what the portal gets wrong stops here.
 */
static const char *
host_or_empty(int af, const char *s, const char *what)
{
	unsigned char b[16];

	if (*s == '\0' || inet_pton(af, s, b) == 1)
		return s;
	log_warnx("interface: %s '%s' is not an address; ignored", what, s);
	return "";
}

static void
send_interface(struct cportal *p, const struct portal_interface *pi)
{
	struct ipc_interface in;
	char do53[513] = "";
	unsigned char b[16];
	size_t i;

	for (i = 0; i < pi->n_do53; i++)
		if (inet_pton(AF_INET, pi->do53[i], b) == 1 ||
		    inet_pton(AF_INET6, pi->do53[i], b) == 1)
			join(do53, sizeof(do53), ", ", pi->do53[i]);
	memset(&in, 0, sizeof(in));
	in.ipv4 = host_or_empty(AF_INET, pi->ipv4, "ipv4");
	in.ipv6 = host_or_empty(AF_INET6, pi->ipv6, "ipv6");
	in.search_domain = pi->has_search_domain ? pi->search_domain : "";
	in.upstream_do53 = do53;
	p->sink->interface(p->arg, &in);
}

/* --- the portal's state, as this device keeps it ------------------------ */

static void
res_clear_all(struct cportal *p)
{
	size_t i;

	for (i = 0; i < p->nres; i++)
		portal_resource_clear(&p->res[i]);
	free(p->res);
	p->res = NULL;
	p->nres = 0;
}

static ssize_t
res_find(const struct cportal *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->nres; i++)
		if (strcmp(p->res[i].id, id) == 0)
			return (ssize_t)i;
	return -1;
}

/* Takes *r (zeroed after): a new resource, or a new version of one. */
static int
res_upsert(struct cportal *p, struct portal_resource *r)
{
	ssize_t i = res_find(p, r->id);
	struct portal_resource *nr;

	if (i >= 0) {
		portal_resource_clear(&p->res[i]);
		p->res[i] = *r;
	} else {
		if (p->nres >= PORTAL_MAX_RESOURCES)
			return -ENOSPC;
		if ((nr = realloc(p->res, (p->nres + 1) * sizeof(*nr))) ==
		    NULL)
			return -ENOMEM;
		p->res = nr;
		p->res[p->nres++] = *r;
	}
	memset(r, 0, sizeof(*r));
	return 0;
}

static bool
res_delete(struct cportal *p, const char *id)
{
	ssize_t i = res_find(p, id);

	if (i < 0)
		return false;
	portal_resource_clear(&p->res[i]);
	p->res[i] = p->res[--p->nres];
	return true;
}

/* Relays: one entry per id and address family, as on the wire. */
static void
relays_replace(struct cportal *p, struct portal_relay *r, size_t n)
{
	free(p->relays);
	p->relays = NULL;
	p->nrelays = 0;
	if (n == 0)
		return;
	if ((p->relays = calloc(n, sizeof(*r))) == NULL) {
		log_warnx("out of memory for %zu relays", n);
		return;
	}
	memcpy(p->relays, r, n * sizeof(*r));
	p->nrelays = n;
}

static void
relays_presence(struct cportal *p, const struct portal_relays_presence *rp)
{
	struct portal_relay *nr;
	size_t i, k;

	for (k = 0; k < rp->n_disconnected; k++)
		for (i = 0; i < p->nrelays;)
			if (strcmp(p->relays[i].id, rp->disconnected_ids[k])
			    == 0)
				p->relays[i] = p->relays[--p->nrelays];
			else
				i++;
	for (k = 0; k < rp->n_connected; k++) {
		const struct portal_relay *c = &rp->connected[k];

		for (i = 0; i < p->nrelays; i++)
			if (strcmp(p->relays[i].id, c->id) == 0 &&
			    strcmp(p->relays[i].addr, c->addr) == 0)
				break;
		if (i == p->nrelays) {
			if (p->nrelays >= PORTAL_MAX_LIST)
				break;
			nr = realloc(p->relays, (p->nrelays + 1) *
			    sizeof(*nr));
			if (nr == NULL)
				break;
			p->relays = nr;
			p->nrelays++;
		}
		p->relays[i] = *c;
	}
	log_info("relays: %zu gone, %zu (re)announced; %zu address(es) "
	    "known", rp->n_disconnected, rp->n_connected, p->nrelays);
}

/*
 * The distinct relay ids (an id comes once per address family) and how
 * many: fz-tunneld shows them in status.
 */
static void
send_relays(struct cportal *p)
{
	char ids[4097] = "";
	uint32_t n = 0;
	size_t i, k;

	for (i = 0; i < p->nrelays; i++) {
		for (k = 0; k < i; k++)
			if (strcmp(p->relays[k].id, p->relays[i].id) == 0)
				break;
		if (k < i)
			continue;
		n++;
		if (strlen(ids) + strlen(p->relays[i].id) + 2 < sizeof(ids))
			join(ids, sizeof(ids), ", ", p->relays[i].id);
	}
	if (p->sink->relays != NULL)
		p->sink->relays(p->arg, n, ids);
	if (p->sink->relay_list != NULL)
		p->sink->relay_list(p->arg, p->relays, p->nrelays);
}

static void
send_event(struct cportal *p, const char *event, json_t *payload)
{
	int rc;

	if ((rc = phx_client_send(p->phx, event, payload)) != 0)
		log_warnc(-rc, "queueing %s", event);
}

/* Without a relay no connection can be set up: ask once per join. */
static void
check_relays(struct cportal *p)
{
	if (p->nrelays > 0 || p->sent_no_relays)
		return;
	p->sent_no_relays = true;
	log_info("the portal gave no relay: asking for some (no_relays)");
	send_event(p, "no_relays", json_object());
}

/* --- inbound messages --------------------------------------------------- */

static void
client_msg(struct cportal *p, struct portal_msg *m)
{
	struct portal_client_init *ci;
	size_t i;
	int rc;

	switch (m->type) {
	case PM_CLIENT_INIT:
		ci = &m->u.client_init;
		log_info("init: interface %s %s, %zu resource(s), %zu relay "
		    "address(es)", ci->interface.ipv4, ci->interface.ipv6,
		    ci->n_resources, ci->n_relays);
		send_interface(p, &ci->interface);
		res_clear_all(p);
		for (i = 0; i < ci->n_resources; i++)
			if ((rc = res_upsert(p, &ci->resources[i])) != 0)
				log_warnc(-rc, "keeping resource %s",
				    ci->resources[i].id);
		relays_replace(p, ci->relays, ci->n_relays);
		send_resources(p);
		send_relays(p);
		check_relays(p);
		break;
	case PM_CONFIG_CHANGED:
		log_info("config_changed: interface %s %s",
		    m->u.config_changed.ipv4, m->u.config_changed.ipv6);
		send_interface(p, &m->u.config_changed);
		break;
	case PM_RESOURCE_CREATED_OR_UPDATED:
		log_info("resource %s (%s) created or updated",
		    m->u.resource.id, m->u.resource.name);
		if ((rc = res_upsert(p, &m->u.resource)) != 0) {
			log_warnc(-rc, "keeping resource %s", m->u.resource.id);
			break;
		}
		send_resources(p);
		break;
	case PM_RESOURCE_DELETED:
		log_info("resource %s deleted", m->u.resource_deleted);
		if (res_delete(p, m->u.resource_deleted))
			send_resources(p);
		break;
	case PM_CLIENT_RELAYS_PRESENCE:
		relays_presence(p, &m->u.relays_presence);
		send_relays(p);
		check_relays(p);
		break;
	case PM_CLIENT_DISCONNECT:
		log_warnx("the portal disconnects this client: %s",
		    m->u.disconnect_reason);
		break;
	default:
		log_debug("%s: not handled yet", portal_msg_event(m->type));
		break;
	}
}

/*
 * create_authorization -> authorization_created {ref}: the ref is the
 * portal's signed, opaque value, echoed as the very JSON value received
 * (not re-built from a decoded copy) so the portal's check sees its own
 * bytes.
 */
static void
gateway_authorize(struct cportal *p, const struct portal_msg *m,
    const json_t *payload)
{
	const struct portal_create_authorization *ca =
	    &m->u.create_authorization;
	json_t *ref = json_object_get(payload, "ref"), *ans;

	if (ref == NULL || !json_is_string(ref)) {
		log_warnx("create_authorization without a ref");
		return;
	}
	p->authorizations++;
	log_info("authorization: client %s (%s, %s) to resource %s (%s) "
	    "until %llu", ca->client.id, ca->client.ipv4, ca->client.ipv6,
	    ca->resource.id, ca->resource.address,
	    (unsigned long long)ca->expires_at);
	if ((ans = json_object()) == NULL ||
	    json_object_set(ans, "ref", ref) != 0) {
		json_decref(ans);
		log_warnx("out of memory answering create_authorization");
		return;
	}
	send_event(p, "authorization_created", ans);
}

static void
gateway_msg(struct cportal *p, struct portal_msg *m, const json_t *payload)
{
	struct portal_gateway_init *gi;

	switch (m->type) {
	case PM_GATEWAY_INIT:
		gi = &m->u.gateway_init;
		log_info("init: interface %s %s, account %s, %zu relay "
		    "address(es), %zu authorization(s)", gi->interface.ipv4,
		    gi->interface.ipv6, gi->has_account_slug ?
		    gi->account_slug : "-", gi->n_relays,
		    gi->n_authorizations);
		send_interface(p, &gi->interface);
		relays_replace(p, gi->relays, gi->n_relays);
		send_relays(p);
		check_relays(p);
		break;
	case PM_CREATE_AUTHORIZATION:
		gateway_authorize(p, m, payload);
		break;
	case PM_GATEWAY_REJECT_ACCESS:
		log_info("access of client %s to resource %s revoked",
		    m->u.reject_access.client_id,
		    m->u.reject_access.resource_id);
		break;
	case PM_RESOURCE_UPDATED:
		log_info("resource %s (%s) updated: %zu filter(s)",
		    m->u.resource.id, m->u.resource.address,
		    m->u.resource.n_filters);
		break;
	case PM_GATEWAY_RELAYS_PRESENCE:
		relays_presence(p, &m->u.relays_presence);
		send_relays(p);
		check_relays(p);
		break;
	case PM_ICE_CANDIDATES:
		log_debug("%zu ICE candidate(s) from client %s",
		    m->u.candidates.n_candidates, m->u.candidates.n_ids > 0 ?
		    m->u.candidates.ids[0] : "?");
		break;
	case PM_GATEWAY_DISCONNECT:
		log_warnx("the portal disconnects this gateway: %s",
		    m->u.disconnect_reason);
		break;
	default:
		log_debug("%s: not handled yet", portal_msg_event(m->type));
		break;
	}
}

static void
on_message(struct cportal *p, const char *event, const json_t *payload)
{
	struct portal_msg m;
	int rc;

	rc = portal_msg_decode(p->gateway ? PORTAL_TO_GATEWAY :
	    PORTAL_TO_CLIENT, event, payload, &m);
	if (rc == -ENOENT) {
		log_debug("event %s skipped", event);
		return;
	}
	if (rc != 0) {
		log_warnx("event %s: malformed payload, skipped", event);
		return;
	}
	/*
	 * The connection manager sees the message before client_msg takes
	 * the resources out of it; on the gateway after the answer to
	 * create_authorization, so that our candidates follow it.
	 */
	if (p->gateway) {
		gateway_msg(p, &m, payload);
		if (p->sink->msg != NULL)
			p->sink->msg(p->arg, &m);
	} else {
		if (p->sink->msg != NULL)
			p->sink->msg(p->arg, &m);
		client_msg(p, &m);
	}
	portal_msg_clear(&m);
}

/* --- transport ---------------------------------------------------------- */

static void
ws_on_open(struct ws_conn *c, void *arg)
{
	struct cportal *p = arg;

	(void)c;
	if (p == NULL)
		return;
	p->ws_open = true;
	phx_client_ws_open(p->phx, now_ms());
	pump(p);
}

static void
ws_on_text(struct ws_conn *c, const char *t, size_t n, void *arg)
{
	struct cportal *p = arg;

	(void)c;
	if (p == NULL)
		return;
	if (phx_client_ws_text(p->phx, t, n, now_ms()) != 0)
		log_debug("a frame of %zu bytes not understood; skipped", n);
	pump(p);
}

static void
ws_on_closed(struct ws_conn *c, int code, void *arg)
{
	struct cportal *p = arg;

	if (p == NULL)
		return;
	log_info("portal connection closed (code %d%s%s)", code,
	    ws_conn_error(c) != 0 ? ": " : "",
	    ws_conn_error(c) != 0 ? ws_conn_error_detail(c) : "");
	p->ws = NULL;
	p->ws_open = false;
	phx_client_ws_closed(p->phx, now_ms());
	pump(p);
}

static void
ws_on_http_error(struct ws_conn *c, int st, const char *body, size_t n,
    long retry_after_s, void *arg)
{
	struct cportal *p = arg;

	(void)c;
	if (p == NULL)
		return;
	log_info("the portal refused the connection: HTTP %d", st);
	p->ws = NULL;
	p->ws_open = false;
	phx_client_http_error(p->phx, st, body, n, retry_after_s, now_ms());
	pump(p);
}

static const struct ws_cbs ws_cbs = {
	.open = ws_on_open,
	.text = ws_on_text,
	.closed = ws_on_closed,
	.http_error = ws_on_http_error,
};

/* Ends the current connection: gracefully, without calling us back. */
static void
drop_ws(struct cportal *p, bool graceful)
{
	if (p->ws == NULL)
		return;
	ws_conn_set_arg(p->ws, NULL);
	if (graceful && p->ws_open)
		ws_close(p->ws, WS_CLOSE_NORMAL);
	else
		ws_free(p->ws);
	p->ws = NULL;
	p->ws_open = false;
}

static void
connect_ws(struct cportal *p)
{
	const char *headers[] = { p->auth_header, NULL };
	struct ws_client_opts o;
	int rc;

	drop_ws(p, false);
	memset(&o, 0, sizeof(o));
	o.url = p->url;
	o.headers = headers;
	o.user_agent = prep.ua[p->gateway ? 1 : 0];
	o.ssl_ctx = prep.ssl;
	o.dns = prep.dns;
	o.socket_fn = p->socket_fn;
	o.socket_arg = p->socket_arg;
	log_debug("connecting to %s", p->host);
	if ((rc = ws_client_connect(p->base, &o, &ws_cbs, p, &p->ws)) != 0) {
		log_warnc(-rc, "connecting to the portal");
		p->ws = NULL;
		/* as a failed attempt: the client's backoff applies */
		phx_client_ws_closed(p->phx, now_ms());
	}
}

static void
on_fatal(struct cportal *p, const struct phx_event *ev)
{
	const char *why = ev->reason != NULL ? ev->reason : "";
	char msg[400];

	drop_ws(p, true);
	if (ev->fatal == PHX_FATAL_INVALID_TOKEN) {
		p->fatal = true;
		snprintf(msg, sizeof(msg), "sign-in required: the portal "
		    "rejected the token (%s)", *why ? why : "invalid_token");
		log_warnx("%s; not retrying", msg);
		p->sink->error(p->arg, msg, true);
		return;
	}
	/*
	 * Anything else (retries exhausted, join refused, another 401): the
	 * service keeps trying, with a new session after a pause.
	 */
	snprintf(msg, sizeof(msg), "%s; trying again in %d s", *why ? why :
	    "the portal connection failed", RESTART_AFTER_FATAL_MS / 1000);
	log_warnx("%s", msg);
	p->sink->error(p->arg, msg, false);
	status(p, "reconnecting", msg);
	phx_client_free(p->phx);
	p->phx = NULL;
}

static int	new_phx(struct cportal *);

static void
on_event(struct cportal *p, struct phx_event *ev)
{
	char d[300];

	switch (ev->kind) {
	case PHX_EV_JOINED:
		log_info("joined the %s channel at %s (join %u)", p->gateway ?
		    "gateway" : "client", p->host,
		    phx_client_join_count(p->phx));
		snprintf(d, sizeof(d), "connected to %s", p->host);
		status(p, "online", d);
		p->sent_no_relays = false;
		send_event(p, "set_snownet_capabilities",
		    json_pack("{s:b}", "iceless", 0));
		break;
	case PHX_EV_MESSAGE:
		on_message(p, ev->event, ev->payload);
		break;
	case PHX_EV_DISCONNECTED:
		snprintf(d, sizeof(d), "%s", ev->reason != NULL ? ev->reason :
		    "connection lost");
		log_info("portal channel down: %s", d);
		if (phx_client_join_count(p->phx) > 0)
			status(p, "reconnecting", d);
		else
			status(p, "connecting", d);
		break;
	case PHX_EV_FATAL:
		on_fatal(p, ev);
		break;
	}
}

static void
arm_timer(struct cportal *p)
{
	uint64_t dl, now = now_ms(), ms;
	struct timeval tv;

	evtimer_del(p->timer);
	if (p->fatal)
		return;
	if (p->phx == NULL)
		ms = RESTART_AFTER_FATAL_MS;
	else if ((dl = phx_client_deadline(p->phx)) == UINT64_MAX)
		return;
	else
		ms = dl > now ? dl - now : 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(p->timer, &tv);
}

/* Runs the client's outputs until it has nothing more to say. */
static void
pump(struct cportal *p)
{
	struct phx_event ev;
	enum phx_action a;
	char *f;
	bool more = true;
	int rc;

	if (p->in_pump)		/* cportal_send from inside: the loop goes on */
		return;
	p->in_pump = true;
	while (more && p->phx != NULL) {
		more = false;
		while (p->phx != NULL &&
		    (a = phx_client_pop_action(p->phx)) != PHX_ACT_NONE) {
			more = true;
			if (a == PHX_ACT_CONNECT)
				connect_ws(p);
			else
				drop_ws(p, true);
		}
		while (p->phx != NULL &&
		    (f = phx_client_pop_frame(p->phx)) != NULL) {
			more = true;
			if (p->ws_open &&
			    (rc = ws_send_text(p->ws, f, strlen(f))) != 0)
				log_warnc(-rc, "sending a frame");
			free(f);
		}
		while (p->phx != NULL && phx_client_pop_event(p->phx, &ev)) {
			more = true;
			on_event(p, &ev);
			phx_event_clear(&ev);
		}
	}
	p->in_pump = false;
	arm_timer(p);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cportal *p = arg;

	(void)fd;
	(void)what;
	if (p->phx == NULL) {
		if (new_phx(p) != 0)
			return;
	} else
		phx_client_tick(p->phx, now_ms());
	pump(p);
}

static int
new_phx(struct cportal *p)
{
	struct phx_client_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.component = p->gateway ? PHX_GATEWAY : PHX_CLIENT;
	cfg.topic = p->gateway ? "gateway" : "client";
	/* MAX_PARTITION_TIME / FIREZONE_MAX_PARTITION_TIME (24 h gateway) */
	cfg.max_partition_ms = p->max_partition_s * 1000ULL;
	cfg.rand32 = rand32;
	if ((p->phx = phx_client_new(&cfg)) == NULL)
		return -ENOMEM;
	status(p, "connecting", p->host);
	phx_client_start(p->phx, now_ms());
	return 0;
}

int
cportal_new(struct event_base *base, const struct cportal_conf *c,
    const struct cportal_sink *sink, void *arg, struct cportal **out)
{
	struct portal_params pp;
	struct cportal *p;
	char *host = NULL, *pq = NULL;
	uint16_t port;
	bool tls;
	int rc;

	if (prep.ua[0] == NULL)
		return -EINVAL;		/* cportal_prepare first */
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->base = base;
	p->sink = sink;
	p->arg = arg;
	p->gateway = c->gateway;
	p->max_partition_s = c->max_partition_s;
	p->socket_fn = c->socket_fn;
	p->socket_arg = c->socket_arg;
	memset(&pp, 0, sizeof(pp));
	pp.external_id = c->firezone_id;
	pp.name = c->name;
	pp.public_key = c->public_key;
	rc = portal_url_build(c->api_url, p->gateway ? PHX_GATEWAY :
	    PHX_CLIENT, &pp, &p->url);
	if (rc != 0)
		goto fail;
	if ((rc = portal_url_split(p->url, &tls, &host, &port, &pq)) != 0)
		goto fail;
	snprintf(p->host, sizeof(p->host), "%s%s%s:%u", strchr(host, ':') ?
	    "[" : "", host, strchr(host, ':') ? "]" : "", (unsigned)port);
	free(host);
	free(pq);
	/* whitespace stripped from the token (§1.2); wiped on free */
	if ((rc = portal_auth_header(c->token, &p->auth_header)) != 0)
		goto fail;
	if ((p->timer = evtimer_new(base, timer_cb, p)) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	log_info("fz %s: signing in to %s as %s", PACKAGE_VERSION, p->host,
	    prep.ua[p->gateway ? 1 : 0]);
	if ((rc = new_phx(p)) != 0)
		goto fail;
	*out = p;
	pump(p);
	return 0;
fail:
	cportal_free(p);
	return rc;
}

void
cportal_free(struct cportal *p)
{
	if (p == NULL)
		return;
	if (p->phx != NULL)
		phx_client_stop(p->phx);
	drop_ws(p, true);
	if (p->timer != NULL)
		event_free(p->timer);
	phx_client_free(p->phx);
	res_clear_all(p);
	free(p->relays);
	free(p->rstat);
	free(p->url);
	portal_auth_header_free(p->auth_header);
	free(p);
}

int
cportal_send(struct cportal *p, const struct portal_msg *m)
{
	const char *event;
	json_t *payload;
	int rc;

	if (p->phx == NULL)
		return -ESHUTDOWN;
	if ((rc = portal_msg_encode(m, &event, &payload)) != 0)
		return rc;
	if ((rc = phx_client_send(p->phx, event, payload)) != 0)
		log_warnc(-rc, "queueing %s", event);
	pump(p);
	return rc;
}

void
cportal_resource_status(struct cportal *p, const char *id, bool online)
{
	struct res_status *n;
	size_t i;

	for (i = 0; i < p->nrstat; i++)
		if (strcmp(p->rstat[i].id, id) == 0)
			break;
	if (i == p->nrstat) {
		if (p->nrstat >= PORTAL_MAX_RESOURCES ||
		    (n = realloc(p->rstat, (p->nrstat + 1) * sizeof(*n))) ==
		    NULL)
			return;
		p->rstat = n;
		snprintf(n[i].id, sizeof(n[i].id), "%s", id);
		n[i].online = !online;
		p->nrstat++;
	}
	if (p->rstat[i].online == online)
		return;
	p->rstat[i].online = online;
	if (!p->gateway)
		send_resources(p);
}
