/* SPDX-License-Identifier: ISC */
/*
 * fz-controld: the unprivileged half.  Everything that talks to the
 * untrusted world in complex formats (the portal's TLS, WebSocket and
 * JSON, ICE, TURN, DNS) runs here, with no capabilities, no_new_privs and
 * a seccomp allow-list, and reaches fz-tunneld only through the IPC
 * socket on fd 3 (ipc_msg.def says what it may send).
 *
 * fz-tunneld normally starts it already as the unprivileged user; started
 * as root by hand, it drops to --user itself.  Either way it proves the
 * drop before reading a byte of IPC.
 */
#define LOG_MODULE "controld"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "access.h"
#include "addr.h"
#include "conn.h"
#include "fztime.h"
#include "ipc.h"
#include "log.h"
#include "dns_glue.h"
#include "gw_p2p.h"
#include "p2p.h"
#include "portal.h"
#include "gw_dnssrv.h"
#include "gw_dnsfwd.h"
#include "dns_site.h"
#include "privsep.h"

#define TCP_POOL	4	/* fwmarked TCP sockets kept per family */

struct controld {
	struct event_base	*base;
	struct ipc_conn		*conn;
	struct ipc_conn		*dconn;		/* DGRAM channel, or NULL */
	uint64_t		 dgram_unclaimed; /* DGRAM_UP nobody wanted */
	struct ipc_msg		 cfg;		/* CONFIG, in cfg_arena */
	struct ipc_arena	 cfg_arena;
	bool			 have_cfg;
	char			 token[4097];	/* never logged */
	char			 api_url[513];
	bool			 signed_in;
	struct cportal		*portal;	/* the session, signed in */
	struct conn_mgr		*conns;		/* with the session */
	struct event		*conn_timer;
	char			 sockets[2049];	/* LOCAL_SOCKETS, last */
	char			 conns_sent[16385];	/* CONNECTIONS, last */
	uint64_t		 conns_sent_ns;
	struct dns_glue		*dns;		/* client: the stub resolver */
	struct gw_dnssrv	*gwdns;		/* gateway: <tunnel ip>:53535 */
	struct dns_site		*site;		/* client: SRV/TXT to it */
	union fz_sockaddr	 resolv[GW_DNSFWD_MAX_SERVERS];
	size_t			 nresolv;	/* resolv.conf, read at start */
	struct gw_p2p		*gwp2p;		/* gateway: p2p, access lives */
	struct event		*gwp2p_ev;	/* ... its expiry sweep */
	int			 tcp[2][TCP_POOL];	/* marked, from tunneld */
	unsigned		 ntcp[2];		/* [0] IPv4, [1] IPv6 */
	bool			 tcp_unmarked_logged;
	int			 status;
};

static void	conn_arm(struct controld *);

static void
usage(FILE *f)
{
	fprintf(f,
"usage: fz-controld [--ipc-fd N] [--dgram-fd N] [--user USER]\n"
"                   [--seccomp kill|trap|off]\n"
"                   [--log-format human|json|auto] [--log-filter SPEC]\n"
"Started by fz-tunneld with the IPC sockets on fds 3 and 4; see\n"
"fz-controld(8).\n");
}

static void
send_status(struct controld *c, const char *state, const char *detail)
{
	struct ipc_msg m;
	int rc;

	ipc_msg_init(&m, IPC_STATUS);
	m.u.status.state = state;
	m.u.status.detail = detail;
	if ((rc = ipc_send(c->conn, &m)) != 0)
		log_warnc(-rc, "sending STATUS");
}

/* --- what the portal session reports, to fz-tunneld --------------------- */

static void
sink_status(void *arg, const char *state, const char *detail)
{
	struct controld *c = arg;
	char d[513];

	(void)ipc_text_trunc(d, sizeof(d), detail);
	send_status(c, state, d);
}

/* requires_sign_in ends the session on both sides (ipc_msg.def). */
static void
sink_error(void *arg, const char *message, bool requires_sign_in)
{
	struct controld *c = arg;
	struct ipc_msg m;
	char d[513];
	int rc;

	(void)ipc_text_trunc(d, sizeof(d), message);
	ipc_msg_init(&m, IPC_ERROR);
	m.u.error.message = d;
	m.u.error.requires_sign_in = requires_sign_in;
	if ((rc = ipc_send(c->conn, &m)) != 0)
		log_warnc(-rc, "sending ERROR");
	if (requires_sign_in) {
		ipc_conn_set_phase(c->conn, IPC_CONFIGURED);
		c->signed_in = false;
		if (c->dns != NULL)
			dns_glue_signed_out(c->dns);
		sodium_memzero(c->token, sizeof(c->token));
	}
}

static void
sink_interface(void *arg, const struct ipc_interface *in)
{
	struct controld *c = arg;
	struct ipc_msg m;
	int rc;

	ipc_msg_init(&m, IPC_INTERFACE);
	m.u.interface = *in;
	if ((rc = ipc_send(c->conn, &m)) != 0)
		log_warnc(-rc, "sending INTERFACE");
	if (c->dns != NULL)
		dns_glue_interface(c->dns, in);
	if (c->gwdns != NULL)
		gw_dnssrv_listen(c->gwdns, in->ipv4, in->ipv6);
}

static void
sink_resources(void *arg, const struct ipc_resource_list *l)
{
	struct controld *c = arg;
	struct ipc_msg m;
	int rc;

	ipc_msg_init(&m, IPC_RESOURCES);
	m.u.resources.list = *l;
	if ((rc = ipc_send(c->conn, &m)) != 0)
		log_warnc(-rc, "sending %u resources", l->n);
	if (c->dns != NULL)
		dns_glue_resources(c->dns, l);
}

/* The DNS stub's sends (dns_glue.h). */
static void
dns_sentinels(void *arg, const char *list)
{
	struct controld *c = arg;
	struct ipc_msg m;
	int rc;

	if (c->conn == NULL || ipc_conn_phase(c->conn) != IPC_SIGNED_IN)
		return;
	ipc_msg_init(&m, IPC_DNS_SENTINELS);
	m.u.dns_sentinels.sentinels = list;
	if ((rc = ipc_send(c->conn, &m)) != 0)
		log_warnc(-rc, "sending DNS_SENTINELS");
}

static void
dns_reply(void *arg, const char *from, const char *to, const uint8_t *p,
    size_t len)
{
	struct controld *c = arg;
	struct ipc_msg m;

	if (c->dconn == NULL)
		return;
	ipc_msg_init(&m, IPC_DNS_REPLY);
	m.u.dns_reply.from = from;
	m.u.dns_reply.to = to;
	m.u.dns_reply.payload = p;
	m.u.dns_reply.payload_len = (uint32_t)len;
	if (ipc_send(c->dconn, &m) != 0) {
		/* lossy: a full queue drops (ipc_conn_dropped counts) */
	}
}

static void
dns_down(void *arg, uint32_t sock, const char *to, const uint8_t *p,
    size_t len)
{
	struct controld *c = arg;
	struct ipc_msg m;

	if (c->dconn == NULL)
		return;
	ipc_msg_init(&m, IPC_DGRAM_DOWN);
	m.u.dgram_down.sock = sock;
	m.u.dgram_down.to = to;
	m.u.dgram_down.payload = p;
	m.u.dgram_down.payload_len = (uint32_t)len;
	if (ipc_send(c->dconn, &m) != 0) {
		/* as dns_reply */
	}
}

/* DNS_PROXY: on the DGRAM channel, ahead of the answer (dns_glue.h). */
static void
dns_proxy(void *arg, const char *resource_id, const char *domain,
    const char *ips, bool fresh)
{
	struct controld *c = arg;
	struct ipc_msg m;

	if (c->dconn == NULL)
		return;
	ipc_msg_init(&m, IPC_DNS_PROXY);
	m.u.dns_proxy.resource_id = resource_id;
	m.u.dns_proxy.domain = domain;
	m.u.dns_proxy.ips = ips;
	m.u.dns_proxy.fresh = fresh;
	if (ipc_send(c->dconn, &m) != 0) {
		/* as dns_reply: the next query sends it again */
	}
}

/* SRV/TXT for a DNS resource: its gateway, or ask for one (-EAGAIN). */
static int
dns_site_gateway(void *arg, const char *rid, int family,
    union fz_sockaddr *gw)
{
	struct controld *c = arg;
	int rc;

	if (c->conns == NULL)
		return -ENOENT;
	if ((rc = conn_site_gateway(c->conns, rid, family, gw)) != -ENOENT)
		return rc;
	rc = conn_wanted_site(c->conns, rid, time_mono_ns());
	conn_arm(c);
	return rc == 0 || rc == -EALREADY ? -EAGAIN : rc;
}

static void
dns_site_to(void *arg, const struct sockaddr *to, bool tcp,
    const uint8_t *p, size_t len)
{
	struct controld *c = arg;

	if (c->site != NULL)
		dns_site_send(c->site, to, tcp, p, len);
}

static void
dns_site_answer(void *arg, const struct sockaddr *from, const uint8_t *p,
    size_t len)
{
	struct controld *c = arg;

	if (c->dns != NULL)
		dns_glue_site_answer(c->dns, from, p, len);
}

static const struct dns_glue_ops dns_ops = {
	.sentinels = dns_sentinels, .reply = dns_reply, .down = dns_down,
	.site_gateway = dns_site_gateway, .site_send = dns_site_to,
	.proxy = dns_proxy,
};

/* DNS_SYSTEM: the system's servers, the stub's upstreams without DNS. */
static void
t_dns_system(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct controld *c = arg;

	(void)conn;
	if (c->dns != NULL)
		dns_glue_system(c->dns, m->u.dns_system.servers);
}

static void
sink_relays(void *arg, uint32_t count, const char *ids)
{
	struct controld *c = arg;
	struct ipc_msg m;
	int rc;

	ipc_msg_init(&m, IPC_RELAYS);
	m.u.relays.count = count;
	m.u.relays.ids = ids;
	if ((rc = ipc_send(c->conn, &m)) != 0)
		log_warnc(-rc, "sending RELAYS");
}

static void
sink_relay_list(void *arg, const struct portal_relay *r, size_t n)
{
	struct controld *c = arg;

	if (c->conns == NULL)
		return;
	conn_set_relays(c->conns, r, n, time_mono_ns());
	conn_arm(c);
}

/* The portal messages the connection manager acts on. */
static void
sink_msg(void *arg, const struct portal_msg *m)
{
	struct controld *c = arg;
	const struct portal_candidates *pc = &m->u.candidates;
	uint64_t now = time_mono_ns();
	size_t i;
	int rc = 0;

	/* A gateway's clients (gw_p2p.c): a goodbye before conn_reject. */
	if (c->gwp2p != NULL)
		gw_p2p_portal_msg(c->gwp2p, m, (uint64_t)time(NULL));
	/* Resource enforcement in fz-tunneld's data plane (access.c). */
	if (c->conn != NULL && c->signed_in)
		access_portal_msg(m, access_ipc_send, c->conn);
	if (c->conns == NULL)
		return;
	switch (m->type) {
	case PM_CLIENT_INIT:
		conn_resources_clear(c->conns);
		for (i = 0; i < m->u.client_init.n_resources; i++)
			conn_resource_upsert(c->conns,
			    &m->u.client_init.resources[i]);
		conn_portal_init(c->conns, now);
		break;
	case PM_RESOURCE_CREATED_OR_UPDATED:
		conn_resource_upsert(c->conns, &m->u.resource);
		break;
	case PM_RESOURCE_DELETED:
		conn_resource_delete(c->conns, m->u.resource_deleted);
		break;
	case PM_AUTHORIZATION_CREATED:
		rc = conn_authorization_created(c->conns,
		    &m->u.authorization_created, now);
		break;
	case PM_AUTHORIZATION_CREATION_FAILED:
		log_warnx("authorization for resource %s refused: %s",
		    m->u.authorization_creation_failed.resource_id,
		    m->u.authorization_creation_failed.reason);
		break;
	case PM_CREATE_AUTHORIZATION:
		rc = conn_create_authorization(c->conns,
		    &m->u.create_authorization, now);
		break;
	case PM_GATEWAY_ICE_CANDIDATES:
	case PM_ICE_CANDIDATES:
	case PM_GATEWAY_INVALIDATE_ICE_CANDIDATES:
	case PM_INVALIDATE_ICE_CANDIDATES:
		if (pc->n_ids > 0)
			conn_remote_candidates(c->conns, pc->ids[0],
			    pc->candidates, pc->n_candidates,
			    m->type == PM_GATEWAY_INVALIDATE_ICE_CANDIDATES ||
			    m->type == PM_INVALIDATE_ICE_CANDIDATES, now);
		break;
	case PM_GATEWAY_REJECT_ACCESS:
		conn_reject(c->conns, m->u.reject_access.client_id,
		    m->u.reject_access.resource_id, now);
		break;
	default:
		break;
	}
	if (rc != 0)
		log_warnc(-rc, "%s", portal_msg_event(m->type));
	conn_arm(c);
}

static const struct cportal_sink sink = {
	.status = sink_status,
	.error = sink_error,
	.interface = sink_interface,
	.resources = sink_resources,
	.relays = sink_relays,
	.relay_list = sink_relay_list,
	.msg = sink_msg,
};

/* --- the connection manager's side: IPC and portal ---------------------- */

static void
c_dgram(void *arg, uint32_t sock, const struct sockaddr *to,
    const uint8_t *b, size_t len)
{
	struct controld *c = arg;
	char a[ADDR_STRLEN];
	struct ipc_msg m;
	int rc;

	if (c->dconn == NULL || addr_fmt(to, true, a, sizeof(a)) != 0)
		return;
	ipc_msg_init(&m, IPC_DGRAM_DOWN);
	m.u.dgram_down.sock = sock;
	m.u.dgram_down.to = a;
	m.u.dgram_down.payload = b;
	m.u.dgram_down.payload_len = (uint32_t)len;
	if ((rc = ipc_send(c->dconn, &m)) != 0)
		log_debug("DGRAM_DOWN dropped: %s", strerror(-rc));
}

static void
c_peer_set(void *arg, const struct conn_peer_path *p)
{
	struct controld *c = arg;
	struct ipc_msg m;
	int rc;

	if (c->conn == NULL)
		return;
	ipc_msg_init(&m, IPC_PEER_SET);
	m.u.peer_set.peer_id = p->peer_id;
	m.u.peer_set.public_key = p->public_key;
	m.u.peer_set.psk = p->psk;
	m.u.peer_set.allowed_ips = p->allowed_ips;
	m.u.peer_set.sock = p->sock;
	m.u.peer_set.remote = p->remote;
	m.u.peer_set.relay = p->relay;
	m.u.peer_set.channel = p->channel;
	m.u.peer_set.initiate = p->initiate;
	if ((rc = ipc_send(c->conn, &m)) != 0)
		log_warnc(-rc, "sending PEER_SET");
}

static void
c_peer_del(void *arg, const char *peer_id, const char *public_key)
{
	struct controld *c = arg;
	struct ipc_msg m;
	int rc;

	(void)peer_id;
	if (c->conn == NULL || !c->signed_in)
		return;
	ipc_msg_init(&m, IPC_PEER_DEL);
	m.u.peer_del.public_key = public_key;
	if ((rc = ipc_send(c->conn, &m)) != 0)
		log_warnc(-rc, "sending PEER_DEL");
}

static void
c_request_authorization(void *arg, const char *rid, const portal_id *gw,
    size_t n)
{
	struct controld *c = arg;
	struct portal_msg m;
	int rc;

	if (c->portal == NULL)
		return;
	memset(&m, 0, sizeof(m));
	m.type = PM_REQUEST_AUTHORIZATION;
	snprintf(m.u.request_authorization.resource_id,
	    sizeof(m.u.request_authorization.resource_id), "%s", rid);
	m.u.request_authorization.connected_gateway_ids = (portal_id *)gw;
	m.u.request_authorization.n_connected_gateway_ids = n;
	if ((rc = cportal_send(c->portal, &m)) != 0)
		log_warnc(-rc, "request_authorization");
}

static void
send_candidates(struct controld *c, const char *peer_id,
    char (*cands)[ICE_CAND_MAXLEN + 1], size_t n, bool invalidate)
{
	char (*pc)[PORTAL_CAND_MAX + 1];
	portal_id id;
	struct portal_msg m;
	size_t i;
	int rc;

	if (c->portal == NULL || n == 0 ||
	    (pc = calloc(n, sizeof(*pc))) == NULL)
		return;
	for (i = 0; i < n; i++)
		snprintf(pc[i], sizeof(pc[i]), "%s", cands[i]);
	snprintf(id, sizeof(id), "%s", peer_id);
	memset(&m, 0, sizeof(m));
	if (strcmp(c->cfg.u.config.mode, "gateway") == 0)
		m.type = invalidate ? PM_BROADCAST_INVALIDATED_ICE_CANDIDATES :
		    PM_BROADCAST_ICE_CANDIDATES;
	else
		m.type = invalidate ? PM_INVALIDATE_GATEWAY_ICE_CANDIDATES :
		    PM_NEW_GATEWAY_ICE_CANDIDATES;
	m.u.candidates.ids = &id;
	m.u.candidates.n_ids = 1;
	m.u.candidates.candidates = pc;
	m.u.candidates.n_candidates = n;
	if ((rc = cportal_send(c->portal, &m)) != 0)
		log_warnc(-rc, "%s", portal_msg_event(m.type));
	free(pc);
}

static void
c_candidates(void *arg, const char *peer_id,
    char (*cands)[ICE_CAND_MAXLEN + 1], size_t n)
{
	send_candidates(arg, peer_id, cands, n, false);
}

static void
c_invalidated(void *arg, const char *peer_id,
    char (*cands)[ICE_CAND_MAXLEN + 1], size_t n)
{
	send_candidates(arg, peer_id, cands, n, true);
}

static void
c_resource_status(void *arg, const char *rid, bool online)
{
	struct controld *c = arg;

	if (c->portal != NULL)
		cportal_resource_status(c->portal, rid, online);
	if (online && c->dns != NULL)
		dns_glue_site_ready(c->dns, rid);
}

static void
c_rng(void *arg, void *buf, size_t len)
{
	(void)arg;
	randombytes_buf(buf, len);
}

static const struct conn_ops conn_ops = {
	.dgram = c_dgram,
	.peer_set = c_peer_set,
	.peer_del = c_peer_del,
	.request_authorization = c_request_authorization,
	.candidates = c_candidates,
	.invalidated = c_invalidated,
	.resource_status = c_resource_status,
	.rng = c_rng,
};

/*
 * CONNECTIONS to fz-tunneld when the list changed (a path, an RTT), at
 * most once a second: the connection manager's timer runs at least every
 * consent interval while any peer exists.
 */
static void
report_connections(struct controld *c, uint64_t now)
{
	static char list[16385];
	struct ipc_msg m;
	int rc;

	if (c->conns == NULL || now - c->conns_sent_ns < 1000000000ULL)
		return;
	(void)conn_connections_fmt(c->conns, now, (uint64_t)time(NULL), list,
	    sizeof(list));
	if (strcmp(list, c->conns_sent) == 0)
		return;
	ipc_msg_init(&m, IPC_CONNECTIONS);
	m.u.connections.list = list;
	if ((rc = ipc_send(c->conn, &m)) != 0) {
		log_warnc(-rc, "sending CONNECTIONS");
		return;
	}
	memcpy(c->conns_sent, list, sizeof(list));
	c->conns_sent_ns = now;
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct controld *c = arg;
	uint64_t now = time_mono_ns();

	(void)fd;
	(void)what;
	if (c->conns != NULL) {
		conn_tick(c->conns, now);
		report_connections(c, now);
	}
	conn_arm(c);
}

/* One timer for every agent and TURN client: the earliest deadline. */
static void
conn_arm(struct controld *c)
{
	uint64_t d, now;
	struct timeval tv;

	if (c->conn_timer == NULL)
		return;
	if (c->conns == NULL || (d = conn_deadline(c->conns)) == UINT64_MAX) {
		evtimer_del(c->conn_timer);
		return;
	}
	now = time_mono_ns();
	d = d > now ? d - now : 0;
	tv.tv_sec = (time_t)(d / 1000000000ULL);
	tv.tv_usec = (suseconds_t)(d % 1000000000ULL / 1000);
	evtimer_add(c->conn_timer, &tv);
}

/* --- a gateway's p2p control protocol and access lives (gw_p2p.h) ------- */

static int
gw_resolve_op(void *arg, const char *domain, gw_resolve_cb cb, void *cbarg)
{
	struct evdns_base *dns = cportal_dns();

	(void)arg;
	return dns == NULL ? -ENOTCONN : gw_resolve(dns, domain, cb, cbarg);
}

static void
gw_nat_set_op(void *arg, const struct gw_p2p_nat *n)
{
	struct controld *c = arg;
	struct ipc_msg m;
	int rc;

	ipc_msg_init(&m, IPC_DNSNAT_SET);
	m.u.dnsnat_set.client_id = n->client_id;
	m.u.dnsnat_set.ipv4 = n->ipv4;
	m.u.dnsnat_set.ipv6 = n->ipv6;
	m.u.dnsnat_set.public_key = n->public_key;
	m.u.dnsnat_set.resource_id = n->resource_id;
	m.u.dnsnat_set.domain = n->domain;
	m.u.dnsnat_set.proxies = n->proxies;
	m.u.dnsnat_set.resolved = n->resolved;
	m.u.dnsnat_set.status = n->status;
	m.u.dnsnat_set.status_len = (uint32_t)n->status_len;
	if (c->conn != NULL && (rc = ipc_send(c->conn, &m)) != 0)
		log_warnc(-rc, "sending DNSNAT_SET");
}

static void
gw_down_op(void *arg, const char *key, const uint8_t *pkt, size_t len)
{
	struct controld *c = arg;
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_P2P_DOWN);
	m.u.p2p_down.public_key = key;
	m.u.p2p_down.packet = pkt;
	m.u.p2p_down.packet_len = (uint32_t)len;
	if (c->dconn != NULL && ipc_send(c->dconn, &m) != 0)
		c->dgram_unclaimed++;
}

static void
gw_gone_op(void *arg, const char *cid, const char *key)
{
	struct controld *c = arg;
	struct ipc_msg m;

	(void)cid;
	ipc_msg_init(&m, IPC_PEER_GOODBYE);
	m.u.peer_goodbye.public_key = key;
	if (c->conn != NULL && ipc_send(c->conn, &m) != 0)
		log_warnx("sending PEER_GOODBYE");
}

static void
gw_expired_op(void *arg, const char *cid, const char *rid)
{
	struct controld *c = arg;

	if (c->conns != NULL) {
		conn_reject(c->conns, cid, rid, time_mono_ns());
		conn_arm(c);
	}
}

static const struct gw_p2p_ops gw_p2p_ops = {
	.resolve = gw_resolve_op, .nat_set = gw_nat_set_op,
	.down = gw_down_op, .client_gone = gw_gone_op,
	.expired = gw_expired_op,
};

static void
gw_p2p_tick(evutil_socket_t fd, short what, void *arg)
{
	struct controld *c = arg;

	(void)fd;
	(void)what;
	if (c->gwp2p != NULL)
		(void)gw_p2p_expire(c->gwp2p, (uint64_t)time(NULL));
}

static void
gw_p2p_stop(struct controld *c)
{
	if (c->gwp2p_ev != NULL)
		event_free(c->gwp2p_ev);
	c->gwp2p_ev = NULL;
	gw_p2p_free(c->gwp2p);
	c->gwp2p = NULL;
}

static void
gw_p2p_start(struct controld *c)
{
	struct timeval tv = { 1, 0 };

	gw_p2p_stop(c);
	if ((c->gwp2p = gw_p2p_new(&gw_p2p_ops, c)) == NULL ||
	    (c->gwp2p_ev = event_new(c->base, -1, EV_PERSIST, gw_p2p_tick,
	    c)) == NULL || event_add(c->gwp2p_ev, &tv) != 0)
		log_warnx("gateway: no DNS resources (out of memory)");
}

static void
conns_stop(struct controld *c)
{
	gw_p2p_stop(c);
	conn_free(c->conns);
	c->conns = NULL;
	c->conns_sent[0] = '\0';	/* fz-tunneld forgets them on sign-out */
	conn_arm(c);
}

static void
conns_start(struct controld *c, bool gateway)
{
	int rc;

	conns_stop(c);
	if ((rc = conn_new(gateway, &conn_ops, c, &c->conns)) != 0) {
		log_warnc(-rc, "connection manager");
		return;
	}
	if (gateway)
		gw_p2p_start(c);
	if (c->sockets[0] != '\0' &&
	    (rc = conn_set_sockets(c->conns, c->sockets, time_mono_ns())) != 0)
		log_warnc(-rc, "LOCAL_SOCKETS");
	conn_arm(c);
}


/*
 * The portal connection's TCP sockets, fwmarked by fz-tunneld (TCP_SOCKET):
 * one taken per connection attempt, another asked for at once.  Without
 * one (a gateway, or none arrived yet) the connection makes its own,
 * unmarked: under the Internet Resource it would then go through the
 * tunnel.
 */
static int
tcp_socket_take(void *arg, int family)
{
	struct controld *c = arg;
	unsigned i = family == AF_INET6 ? 1 : 0;
	struct ipc_msg m;

	if (c->ntcp[i] == 0) {
		if (!c->tcp_unmarked_logged && strcmp(c->cfg.u.config.mode,
		    "client") == 0)
			log_warnx("no fwmarked socket from fz-tunneld: the "
			    "portal connection uses an unmarked one");
		c->tcp_unmarked_logged = true;
		return -1;
	}
	ipc_msg_init(&m, IPC_TCP_SOCKET_REQ);
	m.u.tcp_socket_req.family = (uint32_t)family;
	if (c->conn != NULL && ipc_send(c->conn, &m) != 0)
		log_warnx("asking fz-tunneld for a socket");
	return c->tcp[i][--c->ntcp[i]];
}

static void
t_tcp_socket(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct controld *c = arg;
	int type = 0, dom = 0, fam = (int)m->u.tcp_socket.family;
	socklen_t l1 = sizeof(type), l2 = sizeof(dom);
	unsigned i = fam == AF_INET6 ? 1 : 0;

	(void)conn;
	if ((fam != AF_INET && fam != AF_INET6) ||
	    getsockopt(m->fd, SOL_SOCKET, SO_TYPE, &type, &l1) != 0 ||
	    getsockopt(m->fd, SOL_SOCKET, SO_DOMAIN, &dom, &l2) != 0 ||
	    type != SOCK_STREAM || dom != fam || c->ntcp[i] == TCP_POOL) {
		close(m->fd);
		return;
	}
	c->tcp[i][c->ntcp[i]++] = m->fd;
}

static void
tcp_pool_free(struct controld *c)
{
	for (unsigned i = 0; i < 2; i++)
		while (c->ntcp[i] > 0)
			close(c->tcp[i][--c->ntcp[i]]);
}

/*
 * Messages from fz-tunneld: one handler per type the CONTROL section of
 * ipc_msg.def lets it send; ipc_conn_new checks the table against it.
 */
static void
t_hello(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	(void)conn;
	(void)arg;
	log_debug("connected to %s (pid %u)", m->u.hello.program,
	    m->u.hello.pid);
}

static void
t_config(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct controld *c = arg;
	const struct ipc_config *cf;
	int rc;

	(void)conn;
	if ((rc = ipc_msg_clone(m, &c->cfg, &c->cfg_arena)) != 0) {
		log_errorc(-rc, "keeping CONFIG");
		return;
	}
	cf = &c->cfg.u.config;
	c->have_cfg = true;
	/* From CONFIG on, never narrowed (ipc_msg.def, section DGRAM). */
	if (c->dconn != NULL)
		ipc_conn_set_phase(c->dconn, IPC_CONFIGURED);
	ipc_conn_set_phase(conn, IPC_CONFIGURED);
	snprintf(c->api_url, sizeof(c->api_url), "%s", cf->api_url);
	if (cf->log_filter[0] != '\0' && log_set_filter(cf->log_filter) != 0)
		log_warnx("bad log filter from fz-tunneld");
	log_info("fz-controld %s: %s mode, portal %s, device id %s, name %s",
	    PACKAGE_VERSION, cf->mode, cf->api_url, cf->firezone_id, cf->name);
	if (strcmp(cf->mode, "client") == 0 && c->dns == NULL &&
	    (rc = dns_glue_new(c->base, &dns_ops, c, &c->dns)) != 0)
		log_warnc(-rc, "DNS stub resolver");
	if (c->dns != NULL && c->site == NULL &&
	    (rc = dns_site_new(c->base, dns_site_answer, c, &c->site)) != 0)
		log_warnc(-rc, "SRV/TXT to gateways");
	if (strcmp(cf->mode, "gateway") == 0 && c->gwdns == NULL &&
	    (rc = gw_dnssrv_new(c->base, c->resolv, c->nresolv,
	    &c->gwdns)) != 0)
		log_warnc(-rc, "DNS server for SRV/TXT queries");
}

static void
t_log_file(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	(void)conn;
	(void)arg;
	log_set_dir_fd(m->fd);
	log_info("logging to the file fz-tunneld opened");
}

static void
t_sign_in(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct controld *c = arg;
	const struct ipc_config *cf = &c->cfg.u.config;
	struct cportal_conf pc;
	char msg[700];
	int rc;

	ipc_conn_set_phase(conn, IPC_SIGNED_IN);
	/* the arena holding the original is wiped (IPC_SECRET) */
	snprintf(c->token, sizeof(c->token), "%s", m->u.sign_in.token);
	if (m->u.sign_in.api_url[0] != '\0')
		snprintf(c->api_url, sizeof(c->api_url), "%s",
		    m->u.sign_in.api_url);
	c->signed_in = true;
	log_info("token received (%zu bytes); portal %s", strlen(c->token),
	    c->api_url);
	cportal_free(c->portal);	/* a new sign-in replaces a session */
	c->portal = NULL;
	conns_stop(c);
	if (!c->have_cfg) {		/* CONFIG could not be kept */
		sodium_memzero(c->token, sizeof(c->token));
		sink_error(c, "cannot connect to the portal: no configuration",
		    false);
		return;
	}
	memset(&pc, 0, sizeof(pc));
	pc.gateway = strcmp(cf->mode, "gateway") == 0;
	pc.api_url = c->api_url;
	pc.token = c->token;
	pc.firezone_id = cf->firezone_id;
	pc.name = cf->name;
	pc.public_key = cf->public_key;
	pc.max_partition_s = cf->max_partition_s;
	pc.socket_fn = tcp_socket_take;
	pc.socket_arg = c;
	conns_start(c, pc.gateway);
	rc = cportal_new(c->base, &pc, &sink, c, &c->portal);
	/* the session keeps its own copy (its X-Authorization header) */
	sodium_memzero(c->token, sizeof(c->token));
	if (rc != 0) {
		snprintf(msg, sizeof(msg), "cannot connect to the portal %s: "
		    "%s", c->api_url, rc == -EINVAL ? "bad portal URL, "
		    "token or device parameters" : strerror(-rc));
		log_warnx("%s", msg);
		sink_error(c, msg, false);
	}
}

static void
t_sign_out(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct controld *c = arg;
	struct ipc_msg r;
	int rc;

	(void)m;
	conns_stop(c);
	cportal_free(c->portal);
	c->portal = NULL;
	sodium_memzero(c->token, sizeof(c->token));
	c->signed_in = false;
	if (c->dns != NULL)
		dns_glue_signed_out(c->dns);
	ipc_conn_set_phase(conn, IPC_CONFIGURED);
	ipc_msg_init(&r, IPC_SIGNED_OUT);
	if ((rc = ipc_send(conn, &r)) != 0)
		log_warnc(-rc, "sending SIGNED_OUT");
	send_status(c, "signed_out", "");
}

static void
t_set_log_filter(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	(void)conn;
	(void)arg;
	if (log_set_filter(m->u.set_log_filter.filter) != 0)
		log_warnx("bad log filter from fz-tunneld");
}

static void
t_local_sockets(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct controld *c = arg;
	int rc;

	(void)conn;
	snprintf(c->sockets, sizeof(c->sockets), "%s",
	    m->u.local_sockets.sockets);
	if (c->conns != NULL && (rc = conn_set_sockets(c->conns, c->sockets,
	    time_mono_ns())) != 0)
		log_warnc(-rc, "LOCAL_SOCKETS");
	conn_arm(c);
}

/* CONN_WANTED to a proxy IP the stub handed out: its DNS resource. */
static int
conn_wanted_proxy(struct controld *c, const char *dst)
{
	portal_id id;
	union fz_sockaddr a;

	if (c->dns == NULL || addr_parse(dst, ADDR_PORT_OPTIONAL, &a) != 0 ||
	    dns_glue_proxy_resource(c->dns, &a.sa, id, sizeof(id)) != 0)
		return -ENOENT;
	return conn_wanted_dns(c->conns, id, dst, time_mono_ns());
}

static void
t_conn_wanted(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct controld *c = arg;
	int rc;

	(void)conn;
	if (c->conns == NULL)
		return;
	rc = conn_wanted(c->conns, m->u.conn_wanted.dst, time_mono_ns());
	if (rc == -ENOENT)
		rc = conn_wanted_proxy(c, m->u.conn_wanted.dst);
	if (rc == -ENOENT)
		log_debug("%s: no resource", m->u.conn_wanted.dst);
	conn_arm(c);
}

/* fz-tunneld's per-peer counters: which connections carry traffic. */
static void
t_peer_stats(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct controld *c = arg;
	int rc;

	(void)conn;
	if (c->conns == NULL)
		return;
	if ((rc = conn_peer_stats(c->conns, m->u.peer_stats.list,
	    time_mono_ns())) != 0)
		log_warnc(-rc, "PEER_STATS that does not parse");
	conn_arm(c);
}

/* PEERS_KEPT: peers an earlier fz-controld set (conn.h). */
static void
t_peers_kept(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct controld *c = arg;
	int rc;

	(void)conn;
	if (c->conns == NULL)
		return;
	if ((rc = conn_peers_kept(c->conns, m->u.peers_kept.list,
	    time_mono_ns())) != 0)
		log_warnc(-rc, "PEERS_KEPT that does not parse");
	conn_arm(c);
}

static const struct ipc_handler on_msg[] = {
	{ IPC_HELLO,		t_hello },
	{ IPC_CONFIG,		t_config },
	{ IPC_LOG_FILE,		t_log_file },
	{ IPC_SIGN_IN,		t_sign_in },
	{ IPC_SIGN_OUT,		t_sign_out },
	{ IPC_SET_LOG_FILTER,	t_set_log_filter },
	{ IPC_LOCAL_SOCKETS,	t_local_sockets },
	{ IPC_CONN_WANTED,	t_conn_wanted },
	{ IPC_PEER_STATS,	t_peer_stats },
	{ IPC_DNS_SYSTEM,	t_dns_system },
	{ IPC_TCP_SOCKET,	t_tcp_socket },
	{ IPC_PEERS_KEPT,	t_peers_kept },
	IPC_HANDLERS_END
};

static void
on_close(struct ipc_conn *conn, int err, void *arg)
{
	struct controld *c = arg;

	ipc_conn_free(conn);
	c->conn = NULL;
	if (err == 0)
		log_info("fz-tunneld closed the connection; exiting");
	else
		log_errorc(-err, "IPC with fz-tunneld failed; exiting");
	c->status = err == 0 ? 0 : 1;
	event_base_loopbreak(c->base);
}

/*
 * Datagrams fz-tunneld hands up: STUN and TURN for the connection
 * manager; what it does not take is counted and dropped.
 */
static void
d_dgram_up(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct controld *c = arg;
	union fz_sockaddr from;

	(void)conn;
	if (c->dns != NULL && dns_glue_up(c->dns, &m->u.dgram_up))
		return;
	if (c->conns != NULL &&
	    addr_parse(m->u.dgram_up.from, ADDR_PORT_REQUIRED, &from) == 0) {
		addr_unmap_v4(&from);
		if (conn_dgram_up(c->conns, m->u.dgram_up.sock, &from.sa,
		    m->u.dgram_up.payload, m->u.dgram_up.payload_len,
		    time_mono_ns())) {
			conn_arm(c);
			return;
		}
		conn_arm(c);
	}
	c->dgram_unclaimed++;
	log_debug("datagram of %u bytes from %s on socket %u dropped: no "
	    "consumer", m->u.dgram_up.payload_len, m->u.dgram_up.from,
	    m->u.dgram_up.sock);
}

/*
 * A client's goodbye from a gateway (§4.6): its connection goes (PEER_DEL;
 * fz-tunneld forgets its DNS-NAT states with the peer).  True if pkt was
 * one.
 */
static bool
client_goodbye(struct controld *c, const char *key, const uint8_t *pkt,
    size_t len)
{
	struct p2p_msg pm;

	if (c->conns == NULL || p2p_parse(pkt, len, &pm) != 0 ||
	    pm.type != P2P_GOODBYE)
		return false;
	if (conn_goodbye(c->conns, key, time_mono_ns()) == 0)
		log_info("gateway %.8s... said goodbye: connection dropped",
		    key);
	return true;
}

/*
 * A control packet from a peer (§4.6): a gateway's assigned_ips and
 * goodbye (gw_p2p.c); a client's goodbye (client_goodbye); the rest is
 * counted.
 */
static void
d_p2p_up(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct controld *c = arg;

	(void)conn;
	if (c->gwp2p != NULL) {
		(void)gw_p2p_up(c->gwp2p, m->u.p2p_up.public_key,
		    m->u.p2p_up.packet, m->u.p2p_up.packet_len,
		    (uint64_t)time(NULL));
		return;
	}
	if (client_goodbye(c, m->u.p2p_up.public_key, m->u.p2p_up.packet,
	    m->u.p2p_up.packet_len))
		return;
	c->dgram_unclaimed++;
	log_debug("control packet of %u bytes from a peer dropped: no "
	    "consumer", m->u.p2p_up.packet_len);
}

static const struct ipc_handler on_dgram_msg[] = {
	{ IPC_DGRAM_UP,		d_dgram_up },
	{ IPC_P2P_UP,		d_p2p_up },
	IPC_HANDLERS_END
};

/* The datagram channel ends with the control channel's rules. */
static void
on_dgram_close(struct ipc_conn *conn, int err, void *arg)
{
	struct controld *c = arg;

	ipc_conn_free(conn);
	c->dconn = NULL;
	if (err == 0)
		log_info("fz-tunneld closed the datagram channel; exiting");
	else
		log_errorc(-err, "datagram IPC with fz-tunneld failed; exiting");
	c->status = err == 0 ? 0 : 1;
	event_base_loopbreak(c->base);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct controld *c = arg;

	(void)what;
	log_info("signal %d: exiting", (int)sig);
	c->status = 0;
	event_base_loopbreak(c->base);
}

/* Takes nr out of the list again (a base entry this process must not use). */
static void
seccomp_list_remove(struct seccomp_list *l, int nr)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		if (l->nr[i] == nr) {
			l->nr[i] = l->nr[--l->n];
			return;
		}
}

/*
 * The syscalls fz-controld may make once running: the base set (I/O on
 * fds it holds, the event loop, memory, time, signals, exit) without
 * opening or looking up files (everything it reads from disk, the TLS
 * trust store, resolv.conf and hosts, was read before: cportal_prepare),
 * plus outbound sockets for the portal (TCP), the bootstrap resolver (UDP
 * and TCP DNS), ICE and TURN, of the Internet families only, and the
 * gateway's DNS server (UDP, and TCP: listen, accept) on <tunnel ip>:53535.  No exec,
 * fork, clone, ptrace, mount, setuid, module or BPF calls.
 */
static int
install_seccomp(enum seccomp_default dflt)
{
	/* connect, options (TCP_NODELAY, SO_MARK, SO_ERROR), addresses */
	static const int net[] = {
		SYS_connect, SYS_bind, SYS_getsockname,
		SYS_getpeername, SYS_setsockopt, SYS_getsockopt,
		SYS_listen, SYS_accept4,	/* gateway: TCP on :53535 */
	};
	static const uint32_t families[] = { AF_INET, AF_INET6 };
	/* the base set's file calls: nothing is opened after start-up */
	static const int files[] = {
		SYS_openat, SYS_newfstatat, SYS_statx,
#ifdef SYS_open
		SYS_open, SYS_stat, SYS_access,
#endif
	};
	/*
	 * ioctl by request only, never TIOCSTI and friends.  libevent's
	 * evbuffer_read sizes reads with FIONREAD (the portal connection).
	 */
	static const uint32_t ioctls[] = { FIONREAD };
	struct seccomp_list l;
	size_t i;

	seccomp_list_init(&l);
	seccomp_list_allow_base(&l);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		seccomp_list_remove(&l, files[i]);
	seccomp_list_allow_arg(&l, SYS_ioctl, 1, ioctls,
	    sizeof(ioctls) / sizeof(ioctls[0]));
	seccomp_list_allow_arg(&l, SYS_socket, 0, families,
	    sizeof(families) / sizeof(families[0]));
	for (i = 0; i < sizeof(net) / sizeof(net[0]); i++)
		seccomp_list_allow(&l, net[i]);
	/* glibc's qsort sizes its buffer by the memory installed */
	seccomp_list_allow(&l, SYS_sysinfo);
	return seccomp_list_install(&l, dflt);
}

/*
 * Becomes user (when root), then proves nothing privileged is left: uid not
 * 0 and not regainable, no effective or permitted capabilities, and empty
 * bounding and ambient sets (nothing to regain through an exec either).
 */
static int
drop(const char *user)
{
	struct rlimit nocore = { 0, 0 };
	uint64_t eff = ~0ULL, prm = ~0ULL, bnd = ~0ULL, amb = ~0ULL;
	int rc;

	/*
	 * fz-tunneld hands over an empty bounding set; anyone else starting
	 * us unprivileged must too (setpriv --bounding-set -all), because
	 * without CAP_SETPCAP we cannot empty it ourselves.
	 */
	if ((rc = privsep_caps_limit(0)) != 0) {
		log_errorc(-rc, "cannot empty the capability bounding set "
		    "(start fz-controld from fz-tunneld, as root, or with an "
		    "empty bounding set); refusing to run");
		return rc;
	}
	if ((getuid() == 0 || geteuid() == 0) &&
	    (rc = privsep_drop_user(user, 0)) != 0) {
		log_errorc(-rc, "dropping to user %s", user);
		return rc;
	}
	if ((rc = privsep_caps_set(0)) != 0) {
		log_errorc(-rc, "clearing capabilities");
		return rc;
	}
	if (privsep_status_hex("CapEff", &eff) != 0 ||
	    privsep_status_hex("CapPrm", &prm) != 0 ||
	    privsep_status_hex("CapBnd", &bnd) != 0 ||
	    privsep_status_hex("CapAmb", &amb) != 0 ||
	    eff != 0 || prm != 0 || bnd != 0 || amb != 0 ||
	    getuid() == 0 || geteuid() == 0 || setuid(0) == 0) {
		log_errorx("privilege drop not proven (uid %u, CapEff %llx, "
		    "CapPrm %llx, CapBnd %llx, CapAmb %llx); refusing to run",
		    (unsigned)getuid(), (unsigned long long)eff,
		    (unsigned long long)prm, (unsigned long long)bnd,
		    (unsigned long long)amb);
		return -EPERM;
	}
	if ((rc = privsep_no_new_privs()) != 0)
		return rc;
	(void)setrlimit(RLIMIT_CORE, &nocore);
	/* the token and keys: no core dump, no ptrace read by user fz */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "ipc-fd",	required_argument,	NULL, 'f' },
		{ "dgram-fd",	required_argument,	NULL, 'd' },
		{ "user",	required_argument,	NULL, 'u' },
		{ "seccomp",	required_argument,	NULL, 's' },
		{ "log-format",	required_argument,	NULL, 'F' },
		{ "log-filter",	required_argument,	NULL, 'L' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct controld c;
	struct ipc_conn_config cc = {
		.self = IPC_C, .peer = IPC_T, .program = "fz-controld",
		.on_msg = on_msg, .on_close = on_close, .arg = &c,
	};
	struct ipc_conn_config dc = {
		.self = IPC_C, .peer = IPC_T, .channel = IPC_CH_DGRAM,
		.program = "fz-controld", .on_msg = on_dgram_msg,
		.on_close = on_dgram_close, .arg = &c,
	};
	enum seccomp_default sc = SECCOMP_DEFAULT_KILL;
	enum log_format fmt = LOG_FORMAT_AUTO;
	const char *user = "fz", *filter = getenv("RUST_LOG");
	struct event *sigs[2];
	bool use_seccomp = true;
	int ch, fd = 3, dfd = -1, rc;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			fd = atoi(optarg);
			break;
		case 'd':
			dfd = atoi(optarg);
			break;
		case 'u':
			user = optarg;
			break;
		case 's':
			if (strcmp(optarg, "kill") == 0)
				sc = SECCOMP_DEFAULT_KILL;
			else if (strcmp(optarg, "trap") == 0)
				sc = SECCOMP_DEFAULT_TRAP;
			else if (strcmp(optarg, "off") == 0)
				use_seccomp = false;
			else {
				usage(stderr);
				return 2;
			}
			break;
		case 'F':
			if (log_parse_format(optarg, &fmt) != 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'L':
			filter = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (log_init("fz-controld", fmt, filter) != 0) {
		fprintf(stderr, "fz-controld: bad log filter\n");
		return 2;
	}
	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		log_errorx("no IPC socket on fd %d: fz-controld is started by "
		    "fz-tunneld", fd);
		return 2;
	}
	if (dfd >= 0 && (dfd == fd || fcntl(dfd, F_GETFD) < 0)) {
		log_errorx("no datagram IPC socket on fd %d", dfd);
		return 2;
	}
	if (sodium_init() < 0 || drop(user) != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if ((c.base = event_base_new()) == NULL)
		return 1;
	sigs[0] = evsignal_new(c.base, SIGTERM, on_signal, &c);
	sigs[1] = evsignal_new(c.base, SIGINT, on_signal, &c);
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	/* What the portal connection reads from disk, before the sandbox. */
	if ((rc = cportal_prepare(c.base)) != 0) {
		log_errorc(-rc, "preparing the portal connection");
		return 1;
	}
	/* The gateway's DNS forwarder asks resolv.conf's servers (§5.1). */
	if ((rc = gw_dnssrv_read_servers("/etc/resolv.conf", c.resolv,
	    GW_DNSFWD_MAX_SERVERS, &c.nresolv)) != 0)
		log_debug("/etc/resolv.conf: %s", strerror(-rc));
	/* glibc reads /etc/localtime once, on a log line's gmtime_r: now */
	tzset();
	if (use_seccomp && (rc = install_seccomp(sc)) != 0) {
		log_errorc(-rc, "seccomp");
		return 1;
	}
	log_info("running as uid %u gid %u: CapEff, CapPrm, CapBnd and CapAmb "
	    "empty, no_new_privs, seccomp %s", (unsigned)getuid(),
	    (unsigned)getgid(), use_seccomp ? "on" : "OFF");
	if ((rc = ipc_conn_new(c.base, fd, &cc, &c.conn)) != 0) {
		log_errorc(-rc, "IPC");
		return 1;
	}
	if (dfd >= 0 && (rc = ipc_conn_new(c.base, dfd, &dc, &c.dconn)) != 0) {
		log_errorc(-rc, "datagram IPC");
		return 1;
	}
	if ((c.conn_timer = evtimer_new(c.base, conn_timer_cb, &c)) == NULL)
		return 1;
	c.status = 1;
	event_base_dispatch(c.base);
	conns_stop(&c);
	dns_glue_free(c.dns);
	gw_dnssrv_free(c.gwdns);
	dns_site_free(c.site);
	tcp_pool_free(&c);
	event_free(c.conn_timer);
	c.conn_timer = NULL;
	cportal_free(c.portal);
	cportal_unprepare();
	if (c.conn != NULL)
		ipc_conn_free(c.conn);
	if (c.dconn != NULL)
		ipc_conn_free(c.dconn);
	event_free(sigs[0]);
	event_free(sigs[1]);
	event_base_free(c.base);
	sodium_memzero(c.token, sizeof(c.token));
	return c.status;
}
