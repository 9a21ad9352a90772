/* SPDX-License-Identifier: ISC */
/*
 * The fz-controld supervisor, in fz-tunneld (root, CAP_NET_ADMIN and
 * CAP_KILL effective, CAP_SETUID/CAP_SETGID permitted only; under the
 * seccomp allow-list once the service is set up).
 *
 * Spawn: fork; the child gets its own session, /dev/null in, a log pipe
 * out, the CONTROL socket on fd 3 and the DGRAM one on fd 4, raises
 * CAP_SETUID/CAP_SETGID just long enough to become the controld user and
 * execs fz-controld by the descriptor opened as root; a close-on-exec
 * status pipe says why it could not.  Its output is logged line by line
 * as its own.  An exit brings a restart with backoff; a protocol violation
 * on either channel gets it killed (and so restarted) while the data
 * plane keeps running.  The CONTROL and DGRAM dispatch tables are here,
 * and the hook that sends the data plane's STUN datagrams up as DGRAM_UP.
 */
#define LOG_MODULE "tunneld"

#include <errno.h>
#include <inttypes.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <linux/capability.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "access.h"
#include "dataplane.h"
#include "fztime.h"
#include "privsep.h"
#include "client_net.h"
#include "p2p_svc.h"
#include "svc.h"
#include "svc_dnsres.h"

static void	spawn_controld(struct svc *);
static void	controld_violation(struct svc *, const char *, const char *);
static int	send_to_controld(struct svc *, struct ipc_msg *);
static void	supervise_peers_kept(struct svc *);
/* PEER_STATS, the last sent: "" at the start of a session. */
static char peer_stats_sent[8193];

static uint64_t
now_ms(void)
{
	return time_mono_ns() / 1000000;
}

static int
send_to_controld(struct svc *s, struct ipc_msg *m)
{
	int rc;

	if (s->cconn == NULL)
		return -ENOTCONN;
	if ((rc = ipc_send(s->cconn, m)) != 0)
		log_warnc(-rc, "sending %s to fz-controld",
		    ipc_type_name(m->type));
	return rc;
}

void
supervise_sign_in(struct svc *s)
{
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_SIGN_IN);
	m.u.sign_in.token = s->st.token;
	m.u.sign_in.api_url = s->st.api_url;
	m.u.sign_in.account = s->account;
	if (send_to_controld(s, &m) == 0) {
		ipc_conn_set_phase(s->cconn, IPC_SIGNED_IN);
		supervise_local_sockets(s, true);
		supervise_peers_kept(s);
	}
}

/*
 * SIGNED_IN -> CONFIGURED: what fz-controld sent before it read SIGN_OUT
 * is still accepted until its SIGNED_OUT (c_signed_out).
 */
void
supervise_sign_out(struct svc *s)
{
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_SIGN_OUT);
	if (send_to_controld(s, &m) == 0)
		ipc_conn_leave_phase(s->cconn, IPC_CONFIGURED);
}

static void
controld_greet(struct svc *s)
{
	struct ipc_msg m;
	char filter[513];

	uint8_t pub[WG_KEY_LEN];
	char pub64[45];

	/* The device's public key: the portal's public_key parameter. */
	wg_device_public_key(s->dev, pub);
	wg_key_to_base64(pub, pub64);
	ipc_msg_init(&m, IPC_CONFIG);
	m.u.config.public_key = pub64;
	m.u.config.max_partition_s = s->st.max_partition_s;
	m.u.config.mode = s->st.gateway ? "gateway" : "client";
	m.u.config.api_url = s->st.api_url;
	m.u.config.firezone_id = s->st.firezone_id;
	m.u.config.name = s->st.name;
	log_get_filter(filter, sizeof(filter));
	m.u.config.log_filter = filter;
	m.u.config.dns_control = s->st.dns_control;
	m.u.config.no_telemetry = s->st.no_telemetry;
	m.u.config.internet_resource = s->st.internet_resource;
	if (send_to_controld(s, &m) != 0)
		return;
	ipc_conn_set_phase(s->cconn, IPC_CONFIGURED);
	/* From CONFIG on, never narrowed (ipc_msg.def, section DGRAM). */
	if (s->dconn != NULL)
		ipc_conn_set_phase(s->dconn, IPC_CONFIGURED);
	if (!s->st.gateway) {	/* the stub's upstreams without the portal's */
		char sv[1025];

		cn_dns_system(s, sv, sizeof(sv));
		ipc_msg_init(&m, IPC_DNS_SYSTEM);
		m.u.dns_system.servers = sv;
		(void)send_to_controld(s, &m);
		/* the portal connection's fwmarked sockets: two each */
		for (int i = 0; i < 4; i++)
			if (cn_tcp_socket(s, s->cconn, i < 2 ? AF_INET :
			    AF_INET6) != 0)
				log_warnx("no fwmarked socket for fz-controld");
	}

	/*
	 * No log file of its own: its lines come through the pipe on its
	 * stdout/stderr and land in our --log-dir files, rotated and capped
	 * (controld_log_cb), so a compromised child cannot fill the disk.
	 */
	if (s->st.has_token)
		supervise_sign_in(s);
}

/*
 * Messages from fz-controld, one handler per type the CONTROL section of
 * ipc_msg.def lets it send (ipc_conn_new checks the table against it);
 * anything else never reaches here: it is a violation.
 */
static void
c_hello(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)c;
	(void)arg;
	log_info("fz-controld pid %d connected (%s)", (int)m->u.hello.pid,
	    m->u.hello.program);
}

/*
 * A state tunneld sets itself ("starting", "restarting") or none at all
 * is a violation like a malformed message: the wire string becomes an
 * enum svc_state here, at the boundary, or not at all.
 */
static void
c_status(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;
	enum svc_state st;
	char why[80];

	(void)c;
	if (svc_state_from_controld(m->u.status.state, &st) != 0) {
		snprintf(why, sizeof(why), "STATUS with state '%s'",
		    m->u.status.state);
		controld_violation(s, "control", why);
		return;
	}
	svc_set_state(s, st, m->u.status.detail);
}

static void
c_error(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;

	log_warnx("fz-controld: %s", m->u.error.message);
	frontend_broadcast(s, "error", m->u.error.message);
	/* the session ended on both sides: fz-controld is CONFIGURED too */
	if (m->u.error.requires_sign_in)
		ipc_conn_set_phase(c, IPC_CONFIGURED);
	/*
	 * Sign-in required (the portal refused the token): forget it, so that
	 * not even a restarted fz-controld tries it again.  A client waits
	 * for a new one (fzctl sign-in); a gateway, which takes its token
	 * only at start, until it is restarted with another.
	 */
	if (m->u.error.requires_sign_in) {
		sodium_memzero(s->st.token, sizeof(s->st.token));
		s->st.has_token = false;
		svc_session_clear(s);
		frontend_push_resources(s);
		svc_set_state(s, SVC_SIGNED_OUT, m->u.error.message);
	}
}

/* The portal's tunnel addresses and DNS settings: configure the TUN. */
static void
c_interface(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;
	const struct ipc_interface *in = &m->u.interface;
	char d[200];
	int rc;

	(void)c;
	if ((rc = svc_interface_apply(s, in)) == -EINVAL) {
		controld_violation(s, "control", "INTERFACE with an address "
		    "that is not one");
		return;
	}
	if (rc != 0) {
		snprintf(d, sizeof(d), "cannot configure the tunnel "
		    "addresses: %s", strerror(-rc));
		frontend_broadcast(s, "error", d);
		return;
	}
	snprintf(d, sizeof(d), "%s%s%s", s->iface.ipv4,
	    *s->iface.ipv4 && *s->iface.ipv6 ? " " : "", s->iface.ipv6);
	frontend_broadcast(s, "interface", d);
	cn_sync(s);
}

static void
c_resources(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;
	int rc;

	(void)c;
	if ((rc = ipc_msg_clone(m, &s->resources->m, &s->resources->a)) != 0) {
		log_warnc(-rc, "keeping %u resources", m->u.resources.list.n);
		ipc_msg_init(&s->resources->m, IPC_RESOURCES);
	}
	frontend_push_resources(s);
	cn_sync(s);
	svc_dnsres_resources(s);
}

/* Another fwmarked TCP socket for the portal connection (client_net.c). */
static void
c_tcp_socket_req(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;
	int rc;

	if (s->st.gateway ||
	    (rc = cn_tcp_socket(s, c, (int)m->u.tcp_socket_req.family)) ==
	    -EINVAL) {
		controld_violation(s, "control", "TCP_SOCKET_REQ for no "
		    "Internet family, or from a gateway's");
		return;
	}
	if (rc != 0)
		log_warnc(-rc, "a fwmarked socket for fz-controld");
}

/* The stub's sentinels: the system's DNS goes to them (client_net.c). */
static void
c_dns_sentinels(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;

	(void)c;
	if (cn_dns_sentinels(s, m->u.dns_sentinels.sentinels) == -EINVAL)
		controld_violation(s, "control", "DNS_SENTINELS that are not "
		    "sentinel addresses");
}

/* The relays the portal gave: in status; an event when the count changes. */
static void
c_relays(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;
	char d[16];
	bool changed = s->relays != m->u.relays.count;

	(void)c;
	s->relays = m->u.relays.count;
	snprintf(s->relay_ids, sizeof(s->relay_ids), "%s", m->u.relays.ids);
	if (changed) {
		snprintf(d, sizeof(d), "%u", s->relays);
		frontend_broadcast(s, "relays", d);
	}
}

static void
no_bytes(void *arg, const uint8_t key[WG_KEY_LEN], uint64_t *rx,
    uint64_t *tx)
{
	(void)arg;
	(void)key;
	*rx = *tx = 0;
}

/*
 * The connections fz-controld has set, for status (merged there with the
 * data plane's counters); one that does not parse is a violation.
 */
static void
c_connections(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	static char scratch[sizeof(((struct svc *)0)->connections)];
	struct svc *s = arg;

	(void)c;
	if (svc_connections_merge(m->u.connections.list, no_bytes, NULL,
	    scratch, sizeof(scratch)) == -EINVAL) {
		controld_violation(s, "control",
		    "CONNECTIONS that does not parse");
		return;
	}
	snprintf(s->connections, sizeof(s->connections), "%s",
	    m->u.connections.list);
}

/* fz-controld has read SIGN_OUT: nothing of the session can follow. */
static void
c_signed_out(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)m;
	(void)arg;
	if (ipc_conn_phase(c) == IPC_CONFIGURED)	/* not signed in again */
		ipc_conn_set_phase(c, IPC_CONFIGURED);
}

/*
 * Peers and paths (issue 13).  PEER_SET adds a peer or updates it: a new
 * path keeps its sessions and keys (roaming); allowed IPs are replaced.
 * Anything that does not parse (svc_peer_parse), a socket we do not have,
 * our own key, or a relay channel another peer holds is a violation.
 */
static void
c_peer_set(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;
	struct svc_peer_spec *sp;
	uint8_t self[WG_KEY_LEN];
	struct wg_peer *p;
	const char *why = NULL;
	char to[ADDR_STRLEN];
	bool added = false;
	size_t i;
	int rc;

	(void)c;
	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		log_warnx("PEER_SET: out of memory");
		return;
	}
	wg_device_public_key(s->dev, self);
	if (svc_peer_parse(&m->u.peer_set, sp) != 0)
		why = "PEER_SET that does not parse";
	else if (!dp_has_sock(s->dp, sp->sock))
		why = "PEER_SET on a socket that does not exist";
	else if (sodium_memcmp(sp->pub, self, WG_KEY_LEN) == 0)
		why = "PEER_SET with our own key";
	if (why != NULL)
		goto violation;
	if ((p = wg_peer_find(s->dev, sp->pub)) == NULL) {
		if ((rc = dp_peer_add(s->dp, sp->pub, &p)) != 0) {
			log_warnc(-rc, "adding peer %s", m->u.peer_set.peer_id);
			goto out;
		}
		added = true;
	}
	/* The key material first: no handshake may start without it. */
	{
		static const uint8_t none[WG_KEY_LEN];

		wg_peer_set_psk(p, sp->has_psk ? sp->psk : none);
	}
	if ((rc = dp_peer_set_path(s->dp, p, &sp->to, sp->channel)) != 0) {
		if (added)
			dp_peer_remove(s->dp, p);
		if (rc == -EEXIST) {
			why = "PEER_SET with another peer's relay channel";
			goto violation;
		}
		log_warnc(-rc, "peer %s: path", m->u.peer_set.peer_id);
		goto out;
	}
	dp_peer_clear_allowed(s->dp, p);
	for (i = 0; i < sp->nallowed; i++)
		if ((rc = dp_peer_allow(s->dp, p, &sp->allowed[i])) != 0) {
			log_warnc(-rc, "peer %s: allowed IPs",
			    m->u.peer_set.peer_id);
			break;
		}
	if (addr_fmt(&sp->to.sa, true, to, sizeof(to)) != 0)
		snprintf(to, sizeof(to), "?");
	if (sp->channel != 0)
		log_info("peer %s (%s) %s: relayed via %s channel 0x%04x, %zu "
		    "allowed IP(s)", m->u.peer_set.peer_id, wg_peer_name(p),
		    added ? "added" : "updated", to, sp->channel,
		    sp->nallowed);
	else
		log_info("peer %s (%s) %s: direct to %s, %zu allowed IP(s)",
		    m->u.peer_set.peer_id, wg_peer_name(p),
		    added ? "added" : "updated", to, sp->nallowed);
	if (sp->initiate)
		wg_peer_want_handshake(p);
	/* What waited for a connection to this peer goes out with it. */
	if ((i = dp_wanted_release_all(s->dp)) > 0)
		log_debug("peer %s: %zu held packet(s) released",
		    m->u.peer_set.peer_id, i);
	/* And an initiation that came before this PEER_SET is answered. */
	if ((i = dp_held_init_retry(s->dp)) > 0)
		log_debug("peer %s: %zu held initiation(s) answered",
		    m->u.peer_set.peer_id, i);
	goto out;
violation:
	controld_violation(s, "control", why);
out:
	sodium_memzero(sp, sizeof(*sp));
	free(sp);
}

static void
c_peer_del(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;
	uint8_t pub[WG_KEY_LEN];
	struct wg_peer *p;

	(void)c;
	if (wg_key_from_base64(m->u.peer_del.public_key, pub) != 0) {
		controld_violation(s, "control", "PEER_DEL with a key that is "
		    "not one");
		return;
	}
	if ((p = wg_peer_find(s->dev, pub)) == NULL) {
		log_debug("PEER_DEL for a peer we do not have");
		return;
	}
	log_info("peer %s removed", wg_peer_name(p));
	dp_peer_remove(s->dp, p);
}

/* Every peer fz-controld added: at the end of a session. */
void
supervise_peers_clear(struct svc *s)
{
	struct wg_peer *p;
	unsigned n = 0;

	peer_stats_sent[0] = '\0';
	if (s->dp == NULL || s->dev == NULL)
		return;
	while ((p = wg_peer_next(s->dev, NULL)) != NULL) {
		dp_peer_remove(s->dp, p);
		n++;
	}
	if (n > 0)
		log_info("%u peer(s) removed", n);
}

/*
 * LOCAL_SOCKETS: the data plane's sockets at the host's addresses, when
 * signed in or configured and it changed (or force: on sign-in).
 */
void
supervise_local_sockets(struct svc *s, bool force)
{
	struct ifaddrs *ifa = NULL;
	struct ipc_msg m;
	char list[sizeof(s->local_sockets)];
	int rc;

	if (s->cconn == NULL || s->dp == NULL ||
	    ipc_conn_phase(s->cconn) == IPC_BOOT)
		return;
	if (getifaddrs(&ifa) != 0) {
		log_warn("getifaddrs");
		return;
	}
	rc = svc_sockets_fmt(ifa, s->tun != NULL ? s->tun->name : NULL,
	    dp_has_sock(s->dp, DP_SOCK_UDP4),
	    dp_has_sock(s->dp, DP_SOCK_UDP6), dp_port(s->dp), list,
	    sizeof(list));
	freeifaddrs(ifa);
	if (rc != 0)
		log_warnx("LOCAL_SOCKETS: the host's addresses do not all "
		    "fit; sending those that do");
	if (!force && strcmp(list, s->local_sockets) == 0)
		return;
	ipc_msg_init(&m, IPC_LOCAL_SOCKETS);
	m.u.local_sockets.sockets = list;
	if (send_to_controld(s, &m) == 0) {
		snprintf(s->local_sockets, sizeof(s->local_sockets), "%s",
		    list);
		log_debug("local sockets: %s", list);
	}
}

/* A gateway's DNS-resource NAT, a goodbye (p2p_svc.c). */
static void
c_dnsnat_set(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)c;
	if (svc_dnsnat_set(arg, m) == -EINVAL)
		controld_violation(arg, "control", "DNSNAT_SET that does not "
		    "parse, or not to a gateway");
}

static void
c_peer_goodbye(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)c;
	if (svc_peer_goodbye(arg, m) == -EINVAL)
		controld_violation(arg, "control", "PEER_GOODBYE with a key "
		    "that is not one");
}

/* ACCESS_*: resource enforcement (access.c). */
static void
c_access(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)c;
	if (svc_access_msg(arg, m) == -EINVAL)
		controld_violation(arg, "control", "ACCESS_* that does not "
		    "parse");
}

static const struct ipc_handler controld_msg[] = {
	{ IPC_HELLO,		c_hello },
	{ IPC_STATUS,		c_status },
	{ IPC_ERROR,		c_error },
	{ IPC_RESOURCES,	c_resources },
	{ IPC_SIGNED_OUT,	c_signed_out },
	{ IPC_INTERFACE,	c_interface },
	{ IPC_RELAYS,		c_relays },
	{ IPC_PEER_SET,		c_peer_set },
	{ IPC_PEER_DEL,		c_peer_del },
	{ IPC_CONNECTIONS,	c_connections },
	{ IPC_DNS_SENTINELS,	c_dns_sentinels },
	{ IPC_TCP_SOCKET_REQ,	c_tcp_socket_req },
	{ IPC_ACCESS_SET,	c_access },
	{ IPC_ACCESS_DEL,	c_access },
	{ IPC_ACCESS_FILTERS,	c_access },
	{ IPC_ACCESS_SYNC,	c_access },
	{ IPC_DNSNAT_SET,	c_dnsnat_set },
	{ IPC_PEER_GOODBYE,	c_peer_goodbye },
	IPC_HANDLERS_END
};

/*
 * Either of fz-controld's connections ended.  A child that exits with our
 * messages unread resets the socket: that is an exit (SIGCHLD reports
 * it), not a protocol violation.  Anything else is treated as compromise.
 */
static void
controld_conn_ended(struct svc *s, const char *chan, int err)
{
	if (err == 0 || err == -ECONNRESET || err == -EPIPE)
		return;
	controld_violation(s, chan, strerror(-err));
}

/* Compromise: kill it (once); SIGCHLD brings the restart. */
static void
controld_violation(struct svc *s, const char *chan, const char *why)
{
	if (s->sup != SUP_RUNNING)
		return;
	log_errorx("fz-controld (pid %d) violated the IPC protocol on its %s "
	    "channel (%s): killing it", (int)s->cpid, chan, why);
	s->sup = SUP_KILLED;
	if (kill(s->cpid, SIGKILL) != 0)
		log_warn("kill fz-controld");
	frontend_broadcast(s, "error", "fz-controld violated the IPC "
	    "protocol and was restarted");
}

static void
controld_close(struct ipc_conn *c, int err, void *arg)
{
	struct svc *s = arg;

	ipc_conn_free(c);
	s->cconn = NULL;
	controld_conn_ended(s, "control", err);
}

static void
controld_dgram_close(struct ipc_conn *c, int err, void *arg)
{
	struct svc *s = arg;

	ipc_conn_free(c);
	s->dconn = NULL;
	controld_conn_ended(s, "datagram", err);
}

/*
 * Datagrams fz-controld asks us to send (STUN, TURN): out of the named
 * socket of the data plane.  A socket we do not have or an address that
 * is not one is a violation; send errors are counted and logged, at a
 * limited rate.
 */
static void
d_dgram_down(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;
	const struct ipc_dgram_down *d = &m->u.dgram_down;
	union fz_sockaddr to;
	int rc;

	(void)c;
	if (cdns_owns(d->sock)) {	/* DNS forwarded by the stub */
		if (!cdns_down(s, d))
			controld_violation(s, "datagram", "DGRAM_DOWN for DNS "
			    "to an address that is not a DNS server's");
		return;
	}
	if (s->dp == NULL || !dp_has_sock(s->dp, d->sock)) {
		s->dgram_unrouted++;
		controld_violation(s, "datagram", "DGRAM_DOWN on a socket "
		    "that does not exist");
		return;
	}
	if (addr_parse(d->to, ADDR_PORT_REQUIRED, &to) != 0 ||
	    addr_port(&to.sa) == 0) {
		controld_violation(s, "datagram", "DGRAM_DOWN to an address "
		    "that is not one");
		return;
	}
	addr_unmap_v4(&to);
	if ((rc = dp_send_dgram(s->dp, d->sock, &to, d->payload,
	    d->payload_len)) != 0) {
		s->dgram_errors++;
		if (log_ratelimit(&s->dgram_rl))
			log_warnc(-rc, "datagram of %u bytes to %s on socket "
			    "%u (%" PRIu64 " failed so far)", d->payload_len,
			    d->to, d->sock, s->dgram_errors);
		return;
	}
	s->dgram_sent++;
}

/* The stub's answer for the client: into the TUN (client_dns.c). */
static void
d_dns_reply(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;

	(void)c;
	if (!cdns_reply(s, &m->u.dns_reply))
		controld_violation(s, "datagram", "DNS_REPLY not from a "
		    "sentinel's port 53");
}

/* DNS_PROXY: a DNS resource name's proxy IPs (svc_dnsres.c). */
static void
d_dns_proxy(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)c;
	if (svc_dnsres_msg(arg, m) == -EINVAL)
		controld_violation(arg, "datagram", "DNS_PROXY that does not "
		    "parse, or from a gateway's");
}

/* A control packet for a peer (p2p_svc.c): one that does not parse is a
 * violation. */
static void
d_p2p_down(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)c;
	if (svc_p2p_down(arg, m) == -EINVAL)
		controld_violation(arg, "datagram", "P2P_DOWN that is not a "
		    "control packet to a key");
}

/* The DGRAM section of ipc_msg.def: what fz-controld may send there. */
static const struct ipc_handler controld_dgram_msg[] = {
	{ IPC_DGRAM_DOWN,	d_dgram_down },
	{ IPC_DNS_REPLY,	d_dns_reply },
	{ IPC_DNS_PROXY,	d_dns_proxy },
	{ IPC_P2P_DOWN,		d_p2p_down },
	IPC_HANDLERS_END
};

/*
 * STUN datagrams from the data plane's queue (dataplane.h, dp_stun_take)
 * go up as DGRAM_UP; dropped and counted without a DGRAM channel, while
 * signed out (ipc_msg.def, section DGRAM) or when its queue is full.
 */
static struct event	*stun_ev;	/* one service per process */
static uint64_t		 stun_dropped;

static void
stun_up_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc *s = arg;
	struct dp_stun d;
	struct ipc_msg m;
	char from[64], local[64];
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* a wake-up for datagrams an earlier call took */
	}
	while (dp_stun_take(s->dp, &d)) {
		if (s->dconn == NULL || s->state == SVC_SIGNED_OUT ||
		    addr_fmt(&d.from.sa, true, from, sizeof(from)) != 0 ||
		    addr_fmt(&d.local.sa, true, local, sizeof(local)) != 0) {
			stun_dropped++;
			continue;
		}
		ipc_msg_init(&m, IPC_DGRAM_UP);
		m.u.dgram_up.sock = d.sock;
		m.u.dgram_up.from = from;
		m.u.dgram_up.local = local;
		m.u.dgram_up.payload = d.data;
		m.u.dgram_up.payload_len = (uint32_t)d.len;
		if (ipc_send(s->dconn, &m) != 0) {
			stun_dropped++;
			continue;
		}
		log_debug("STUN datagram of %zu bytes from %s to %s (socket "
		    "%u) passed to fz-controld", d.len, from, local, d.sock);
	}
}

static int
stun_up_start(struct svc *s)
{
	int fd, rc;

	if ((rc = dp_stun_enable(s->dp, &fd)) != 0)
		return rc;
	if ((stun_ev = event_new(s->base, fd, EV_READ | EV_PERSIST,
	    stun_up_cb, s)) == NULL || event_add(stun_ev, NULL) != 0)
		return -ENOMEM;
	return 0;
}

static void
stun_up_stop(void)
{
	if (stun_ev != NULL)
		event_free(stun_ev);
	stun_ev = NULL;
	if (stun_dropped > 0)
		log_info("%" PRIu64 " STUN datagram(s) not passed to "
		    "fz-controld", stun_dropped);
}

/*
 * CONN_WANTED (client mode): destinations of TUN packets that no peer
 * covers, from the data plane's rate-limited queue (rx.h, dp_wanted), to
 * fz-controld while signed in; otherwise dropped.
 */
static struct event	*wanted_ev, *sockets_ev;

static void
wanted_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc *s = arg;
	struct ipc_msg m;
	union fz_sockaddr sa;
	uint8_t a[16];
	char dst[ADDR_STRLEN];
	uint64_t v;
	int fam;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* a wake-up for destinations an earlier call took */
	}
	while (dp_wanted_take(s->dp, &fam, a)) {
		if (s->cconn == NULL ||
		    ipc_conn_phase(s->cconn) != IPC_SIGNED_IN)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa.sa_family = (sa_family_t)fam;
		if (fam == AF_INET)
			memcpy(&sa.in4.sin_addr, a, 4);
		else
			memcpy(&sa.in6.sin6_addr, a, 16);
		if (addr_fmt(&sa.sa, false, dst, sizeof(dst)) != 0)
			continue;
		ipc_msg_init(&m, IPC_CONN_WANTED);
		m.u.conn_wanted.dst = dst;
		if (send_to_controld(s, &m) == 0) {
			s->conn_wanted++;
			log_debug("no peer for %s: connection wanted", dst);
		}
	}
}

/*
 * The data plane's peers with their byte counters as PEER_STATS's list
 * (svc_peer_stats_fmt), at most 128; *np (if given) the number walked.
 * Peers are removed on this thread only, so the walk is safe.
 */
static int
peer_counts_fmt(struct svc *s, char *list, size_t cap, size_t *np)
{
	static struct svc_peer_count c[128];
	struct wg_peer_stats st;
	struct wg_peer *p = NULL;
	size_t n = 0;

	while (n < sizeof(c) / sizeof(c[0]) &&
	    (p = wg_peer_next(s->dev, p)) != NULL) {
		wg_peer_public_key(p, c[n].key);
		wg_peer_stats(p, &st);
		c[n].rx_bytes = st.rx_bytes;
		c[n].tx_bytes = st.tx_bytes;
		n++;
	}
	if (np != NULL)
		*np = n;
	return svc_peer_stats_fmt(c, n, list, cap);
}

/*
 * PEER_STATS: every peer's byte counters when signed in and some moved,
 * for fz-controld's ICE active/idle profiles (§2.3).  Peers are added and
 * removed on this thread only, so the walk is safe.
 */
static void
supervise_peer_stats(struct svc *s)
{
	static char list[sizeof(peer_stats_sent)];
	struct ipc_msg m;

	if (s->cconn == NULL || s->dev == NULL ||
	    ipc_conn_phase(s->cconn) != IPC_SIGNED_IN)
		return;
	if (peer_counts_fmt(s, list, sizeof(list), NULL) != 0)
		log_debug("PEER_STATS: the peers that fit");
	if (strcmp(list, peer_stats_sent) == 0)
		return;		/* nothing moved (or no peers) */
	ipc_msg_init(&m, IPC_PEER_STATS);
	m.u.peer_stats.list = list;
	if (send_to_controld(s, &m) == 0)
		memcpy(peer_stats_sent, list, sizeof(list));
}

/*
 * PEERS_KEPT: the peers a new fz-controld finds in the data plane (the
 * last one was killed or died while signed in), so that it supervises
 * them again: it keeps them until a new connection with the same key
 * takes them over, or removes them (controld/conn.h, conn_peers_kept;
 * docs/RELIABILITY.md).  Same format as PEER_STATS.
 */
static void
supervise_peers_kept(struct svc *s)
{
	static char list[sizeof(peer_stats_sent)];
	struct ipc_msg m;
	size_t n;
	int rc;

	if (s->cconn == NULL || s->dev == NULL)
		return;
	rc = peer_counts_fmt(s, list, sizeof(list), &n);
	if (n == 0)
		return;
	if (rc != 0)
		log_warnx("PEERS_KEPT: only the peers that fit");
	ipc_msg_init(&m, IPC_PEERS_KEPT);
	m.u.peers_kept.list = list;
	if (send_to_controld(s, &m) == 0)
		log_info("%zu peer(s) kept for the new fz-controld", n);
}

/* The host's addresses change: LOCAL_SOCKETS again, checked every 5 s. */
static void
sockets_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	supervise_local_sockets(arg, false);
	supervise_peer_stats(arg);
}

static int
wanted_start(struct svc *s)
{
	struct timeval tv = { 5, 0 };
	int fd, rc;

	/* A gateway never asks for connections: clients come to it. */
	if (!s->st.gateway) {
		if ((rc = dp_wanted_enable(s->dp, &fd)) != 0)
			return rc;
		if ((wanted_ev = event_new(s->base, fd, EV_READ | EV_PERSIST,
		    wanted_cb, s)) == NULL || event_add(wanted_ev, NULL) != 0)
			return -ENOMEM;
	}
	if ((sockets_ev = event_new(s->base, -1, EV_PERSIST, sockets_cb,
	    s)) == NULL || event_add(sockets_ev, &tv) != 0)
		return -ENOMEM;
	return 0;
}

static void
wanted_stop(void)
{
	if (wanted_ev != NULL)
		event_free(wanted_ev);
	wanted_ev = NULL;
	if (sockets_ev != NULL)
		event_free(sockets_ev);
	sockets_ev = NULL;
}

static void
restart_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	spawn_controld(arg);
}

static void
controld_exited(struct svc *s, int wstatus)
{
	struct timeval tv;
	uint64_t up = now_ms() - s->started_ms;
	bool failed = s->sup == SUP_FAILED;
	unsigned delay;

	if (failed)
		;	/* spawn_controld said why */
	else if (WIFSIGNALED(wstatus))
		log_warnx("fz-controld (pid %d) killed by signal %d",
		    (int)s->cpid, WTERMSIG(wstatus));
	else
		log_warnx("fz-controld (pid %d) exited with status %d",
		    (int)s->cpid, WEXITSTATUS(wstatus));
	s->cpid = -1;
	if (s->cconn != NULL) {
		ipc_conn_free(s->cconn);
		s->cconn = NULL;
	}
	if (s->dconn != NULL) {
		ipc_conn_free(s->dconn);
		s->dconn = NULL;
	}
	if (s->sup == SUP_STOPPED)
		return;
	s->sup = SUP_DOWN;
	delay = svc_backoff_next(&s->backoff_ms, up);
	if (!failed)
		svc_set_state(s, SVC_RESTARTING, "fz-controld exited");
	log_info("restarting fz-controld in %u ms", delay);
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(s->restart_ev, &tv);
}

/*
 * What a child that never became fz-controld tells its parent on the status
 * pipe (close-on-exec: end of file means the exec happened).
 */
enum spawn_stage { SPAWN_FDS = 1, SPAWN_USER, SPAWN_EXEC };
struct spawn_report {
	int	stage;
	int	err;		/* positive errno */
};

#define CHILD_IPC_FD	3	/* CONTROL channel */
#define CHILD_DGRAM_FD	4	/* DGRAM channel */
#define CHILD_EXEC_FD	5	/* close-on-exec: gone once exec succeeded */
#define CHILD_STATUS_FD	6	/* close-on-exec too */

static void __attribute__((noreturn))
child_fail(enum spawn_stage stage, int err)
{
	struct spawn_report r = { stage, err };

	if (write(CHILD_STATUS_FD, &r, sizeof(r)) < 0) {
		/* the parent is gone; nothing else to tell */
	}
	_exit(127);
}

/* Moves fd to target (close-on-exec or not); fd may already be target. */
static int
place_fd(int fd, int target, bool cloexec)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0);
	return dup3(fd, target, cloexec ? O_CLOEXEC : 0) < 0 ? -1 : 0;
}

/*
 * In the child: lay out the fds, become the controld user, then exec
 * fz-controld through the descriptor opened while root (the path may sit
 * under a directory the controld user cannot search, e.g. /root/fz).
 */
static void __attribute__((noreturn))
child_exec(struct svc *s, int ipcfd, int dgramfd, int statusfd, int logfd)
{
	const char *argv[14];
	sigset_t none;
	int rc, i = 0, hi[5], null;
	extern char **environ;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	/* Above every target first, so no placement clobbers another. */
	if ((hi[0] = fcntl(statusfd, F_DUPFD_CLOEXEC, 10)) < 0)
		_exit(126);
	if ((hi[1] = fcntl(ipcfd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (hi[2] = fcntl(s->controld_fd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (hi[3] = fcntl(logfd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (hi[4] = fcntl(dgramfd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    place_fd(hi[0], CHILD_STATUS_FD, true) != 0)
		_exit(126);
	/*
	 * No terminal: its own session (so no controlling tty to push
	 * keystrokes into with TIOCSTI), /dev/null in, our log pipe out.
	 */
	if (setsid() < 0)
		child_fail(SPAWN_FDS, errno);
	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
	    place_fd(null, 0, false) != 0 || place_fd(hi[3], 1, false) != 0 ||
	    place_fd(hi[3], 2, false) != 0)
		child_fail(SPAWN_FDS, errno);
	if (place_fd(hi[1], CHILD_IPC_FD, false) != 0 ||
	    place_fd(hi[4], CHILD_DGRAM_FD, false) != 0 ||
	    place_fd(hi[2], CHILD_EXEC_FD, true) != 0)
		child_fail(SPAWN_FDS, errno);
	/* Everything else is left behind (they are all O_CLOEXEC too). */
	for (int fd = CHILD_STATUS_FD + 1; fd < 1024; fd++)
		(void)close(fd);
	if (getuid() == 0) {
		if ((rc = privsep_caps_set_ep(PRIVSEP_CAP(CAP_SETUID) |
		    PRIVSEP_CAP(CAP_SETGID), PRIVSEP_CAP(CAP_SETUID) |
		    PRIVSEP_CAP(CAP_SETGID))) != 0 ||
		    (rc = privsep_drop_ids(s->user.pw_uid, s->user.pw_gid, 0))
		    != 0)
			child_fail(SPAWN_USER, -rc);
	}
	argv[i++] = "fz-controld";
	argv[i++] = "--ipc-fd";
	argv[i++] = "3";
	argv[i++] = "--dgram-fd";
	argv[i++] = "4";
	argv[i++] = "--user";
	argv[i++] = s->user_name;
	/* The one format controld_log_line reads; we re-emit in ours. */
	argv[i++] = "--log-format";
	argv[i++] = "human";
	argv[i++] = NULL;
	syscall(SYS_execveat, CHILD_EXEC_FD, "", (char *const *)argv, environ,
	    AT_EMPTY_PATH);
	/*
	 * fz-controld is ELF, for which a close-on-exec descriptor is fine.
	 * A wrapper script (--controld) fails with ENOENT instead: its
	 * interpreter opens /dev/fd/5, so that one has to stay open.
	 */
	if (errno == ENOENT && fcntl(CHILD_EXEC_FD, F_SETFD, 0) == 0)
		syscall(SYS_execveat, CHILD_EXEC_FD, "", (char *const *)argv,
		    environ, AT_EMPTY_PATH);
	child_fail(SPAWN_EXEC, errno);
}

/* --- fz-controld's output --------------------------------------------- */

static void
controld_log_line(struct svc *s, const char *line, size_t len, bool cut)
{
	char out[CHILD_LINE_MAX * 4 + 16];
	int level;

	if (len == 0 && !cut)
		return;
	if (!log_ratelimit(&s->log_rl))
		return;
	level = privsep_child_line(line, len, out, sizeof(out));
	log_emit("controld", (enum log_level)level, 0, "%s%s", out,
	    cut ? " [cut]" : "");
}

static void
controld_log_close(struct svc *s)
{
	if (s->loglen > 0 && !s->logskip)
		controld_log_line(s, s->logbuf, s->loglen, false);
	s->loglen = 0;
	s->logskip = false;
	/* Each child starts with a fresh allowance; say what this one lost. */
	if (s->log_rl.suppressed > 0)
		log_warnx("fz-controld: %u similar messages suppressed",
		    s->log_rl.suppressed);
	s->log_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000,
	    CHILD_LINES_PER_S);
	if (s->log_ev != NULL) {
		event_free(s->log_ev);
		s->log_ev = NULL;
	}
	if (s->logfd >= 0) {
		close(s->logfd);
		s->logfd = -1;
	}
}

/*
 * Whatever fz-controld writes on stdout and stderr, logged line by line as
 * coming from it: escaped, cut at CHILD_LINE_MAX, CHILD_LINES_PER_S at
 * most.  It holds no file of its own, so our rotation caps its output.
 */
static void
controld_log_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc *s = arg;
	ssize_t n;
	size_t start = 0, i;

	(void)what;
	n = read(fd, s->logbuf + s->loglen, sizeof(s->logbuf) - s->loglen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		controld_log_close(s);
		return;
	}
	s->loglen += (size_t)n;
	for (i = 0; i < s->loglen; i++) {
		if (s->logbuf[i] != '\n')
			continue;
		if (!s->logskip)
			controld_log_line(s, s->logbuf + start, i - start,
			    false);
		s->logskip = false;
		start = i + 1;
	}
	memmove(s->logbuf, s->logbuf + start, s->loglen - start);
	s->loglen -= start;
	if (s->loglen == sizeof(s->logbuf)) {
		if (!s->logskip)
			controld_log_line(s, s->logbuf, s->loglen, true);
		s->logskip = true;	/* until the next newline */
		s->loglen = 0;
	}
}

/*
 * Waits for the child to exec (end of file on the status pipe) or to say
 * why it could not.  Returns 0 once fz-controld runs.
 */
static int
spawn_wait(struct svc *s, int rfd)
{
	struct spawn_report r;
	ssize_t n;

	do
		n = read(rfd, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(r)) {
		log_errorx("fz-controld child (pid %d) died before exec",
		    (int)s->cpid);
		return -EIO;
	}
	switch (r.stage) {
	case SPAWN_USER:
		log_errorc(r.err, "cannot become user %s for fz-controld",
		    s->user_name);
		break;
	case SPAWN_EXEC:
		log_errorc(r.err, "cannot exec fz-controld (%s)",
		    s->controld_path);
		break;
	default:
		log_errorc(r.err, "cannot set up fz-controld's session or "
		    "descriptors");
		break;
	}
	return -(r.err != 0 ? r.err : EIO);
}

static void
spawn_controld(struct svc *s)
{
	struct ipc_conn_config cc = {
		.self = IPC_T, .peer = IPC_C, .program = "fz-tunneld",
		.on_msg = controld_msg, .on_close = controld_close, .arg = s,
	};
	struct ipc_conn_config dc = {
		.self = IPC_T, .peer = IPC_C, .channel = IPC_CH_DGRAM,
		.program = "fz-tunneld", .on_msg = controld_dgram_msg,
		.on_close = controld_dgram_close, .arg = s,
	};
	/* sv: CONTROL, dv: DGRAM, st: exec status, lp: its output */
	int sv[2] = { -1, -1 }, dv[2] = { -1, -1 }, st[2] = { -1, -1 };
	int lp[2] = { -1, -1 }, rc;
	pid_t pid;

	if (s->sup != SUP_DOWN)
		return;
	controld_log_close(s);		/* the last one's, if still open */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dv) != 0 ||
	    pipe2(st, O_CLOEXEC) != 0 ||
	    pipe2(lp, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_warn("socketpairs and pipes for fz-controld");
		goto fail;
	}
	if ((pid = fork()) < 0) {
		log_warn("fork fz-controld");
		goto fail;
	}
	if (pid == 0) {
		close(sv[0]);
		close(dv[0]);
		close(st[0]);
		close(lp[0]);
		/* The child's end blocks: a full pipe slows it, not us. */
		(void)fcntl(lp[1], F_SETFL, 0);
		child_exec(s, sv[1], dv[1], st[1], lp[1]);
	}
	close(sv[1]);
	close(dv[1]);
	close(st[1]);
	close(lp[1]);
	s->logfd = lp[0];
	if ((s->log_ev = event_new(s->base, s->logfd, EV_READ | EV_PERSIST,
	    controld_log_cb, s)) == NULL || event_add(s->log_ev, NULL) != 0)
		log_warnx("cannot read fz-controld's output");
	s->cpid = pid;
	s->started_ms = now_ms();
	rc = spawn_wait(s, st[0]);
	close(st[0]);
	if (rc != 0) {
		s->sup = SUP_FAILED;
		char d[300];

		close(sv[0]);
		close(dv[0]);
		snprintf(d, sizeof(d), "cannot start fz-controld: %s",
		    strerror(-rc));
		svc_set_state(s, SVC_RESTARTING, d);
		return;		/* SIGCHLD reaps it and brings the retry */
	}
	if (s->restarts++ > 0)
		log_info("fz-controld restarted (pid %d, restart %u)", (int)pid,
		    s->restarts - 1);
	else
		log_info("fz-controld started (pid %d, user %s)", (int)pid,
		    s->user_name);
	if ((rc = ipc_conn_new(s->base, sv[0], &cc, &s->cconn)) != 0) {
		log_warnc(-rc, "IPC to fz-controld");
		close(sv[0]);
		close(dv[0]);
		s->sup = SUP_KILLED;
		kill(pid, SIGKILL);
		return;		/* SIGCHLD brings the retry */
	}
	if ((rc = ipc_conn_new(s->base, dv[0], &dc, &s->dconn)) != 0) {
		log_warnc(-rc, "datagram IPC to fz-controld");
		close(dv[0]);
		s->sup = SUP_KILLED;
		kill(pid, SIGKILL);
		return;		/* SIGCHLD brings the retry */
	}
	s->sup = SUP_RUNNING;
	controld_greet(s);
	svc_set_state(s, s->st.has_token ? SVC_CONNECTING : SVC_SIGNED_OUT,
	    "");
	return;
fail:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (dv[i] >= 0)
			close(dv[i]);
		if (st[i] >= 0)
			close(st[i]);
		if (lp[i] >= 0)
			close(lp[i]);
	}
	{
		struct timeval tv = { 1, 0 };

		evtimer_add(s->restart_ev, &tv);
	}
}

int
supervise_find(struct svc *s)
{
	char self[4096];
	ssize_t n;

	if (s->o->controld != NULL) {
		snprintf(s->controld_path, sizeof(s->controld_path), "%s",
		    s->o->controld);
	} else {
		/* Next to this binary: the build tree and an install alike. */
		if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
			return -errno;
		self[n] = '\0';
		snprintf(s->controld_path, sizeof(s->controld_path),
		    "%s/fz-controld", dirname(self));
	}
	/*
	 * Opened now, as root: the child execs this descriptor after it
	 * became the controld user, who may not be able to reach the path.
	 */
	s->controld_fd = open(s->controld_path, O_PATH | O_CLOEXEC);
	if (s->controld_fd < 0 || access(s->controld_path, X_OK) != 0) {
		log_errorx("fz-controld not found at %s (use --controld PATH)",
		    s->controld_path);
		return -ENOENT;
	}
	return 0;
}

static void
stop_controld(struct svc *s)
{
	int i, wstatus;

	if (s->cconn != NULL) {
		ipc_conn_free(s->cconn);
		s->cconn = NULL;
	}
	if (s->dconn != NULL) {
		ipc_conn_free(s->dconn);
		s->dconn = NULL;
	}
	if (s->cpid <= 0)
		return;
	kill(s->cpid, SIGTERM);
	for (i = 0; i < 100; i++) {
		if (waitpid(s->cpid, &wstatus, WNOHANG) == s->cpid) {
			s->cpid = -1;
			return;
		}
		usleep(10000);
	}
	kill(s->cpid, SIGKILL);
	waitpid(s->cpid, &wstatus, 0);
	s->cpid = -1;
}

/* After stop_controld: its last words, then the pipe goes. */
static void
drain_controld_log(struct svc *s)
{
	int i;

	for (i = 0; i < 64 && s->logfd >= 0; i++)
		controld_log_cb(s->logfd, EV_READ, s);
	controld_log_close(s);
}

/* SET_LOG_FILTER to fz-controld, if it runs: our filter is already set. */
void
supervise_set_log_filter(struct svc *s, const char *filter)
{
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_SET_LOG_FILTER);
	m.u.set_log_filter.filter = filter;
	(void)send_to_controld(s, &m);
}

/* The first fz-controld; later ones come from restart_ev. */
int
supervise_start(struct svc *s)
{
	int rc;

	if ((s->restart_ev = evtimer_new(s->base, restart_cb, s)) == NULL)
		return -ENOMEM;
	if ((rc = stun_up_start(s)) != 0 || (rc = wanted_start(s)) != 0)
		return rc;
	if ((rc = svc_p2p_start(s)) != 0)
		return rc;
	svc_dnsres_start(s);
	s->dgram_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 5);
	s->backoff_ms = BACKOFF_MIN_MS;
	spawn_controld(s);
	return 0;
}

/* SIGCHLD: reap every child; ours brings a restart (controld_exited). */
void
supervise_reap(struct svc *s)
{
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
		if (pid == s->cpid)
			controld_exited(s, wstatus);
}

/* Teardown: stop fz-controld for good and log what it still had to say. */
void
supervise_stop(struct svc *s)
{
	s->sup = SUP_STOPPED;
	stun_up_stop();
	wanted_stop();
	svc_p2p_stop();
	stop_controld(s);
	drain_controld_log(s);
	if (s->restart_ev != NULL)
		event_free(s->restart_ev);
	s->restart_ev = NULL;
	if (s->controld_fd >= 0)
		close(s->controld_fd);
	s->controld_fd = -1;
}
