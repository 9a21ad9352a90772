/* SPDX-License-Identifier: ISC */
/*
 * Service mode: the tunnel service.  Owns the TUN device and the data
 * plane, serves front ends (fzctl, a GUI) on a Unix socket (frontend.c),
 * and spawns and supervises the unprivileged fz-controld, which talks to
 * the portal (supervise.c).  This file brings it up and tears it down.
 *
 * Order (STYLE.md): settings and token, the front-end socket, the TUN
 * device and data plane, then the capability drop, then the event loop.
 * tunneld keeps CAP_NET_ADMIN (the TUN, routes, DNS) and CAP_KILL (to stop
 * a misbehaving fz-controld running under another uid) effective, and
 * CAP_SETUID/CAP_SETGID only in its permitted set: a forked child raises
 * them just long enough to become the controld user before exec.  Its
 * bounding set is empty and, once set up, it runs under a seccomp
 * allow-list (sandbox.c).
 */
#define LOG_MODULE "tunneld"

#include <errno.h>
#include <event2/event.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "access.h"
#include "client_net.h"
#include "dataplane.h"
#include "dp_filter.h"
#include "fztime.h"
#include "netlink.h"
#include "privsep.h"
#include "svc.h"
#include "svc_dnsres.h"
#include "tun.h"

#define DEFAULT_USER		"fz"
#define DEFAULT_IFNAME		"tun-firezone"

/* --- the state front ends and systemd see ------------------------------ */

/*
 * STATUS= for systemd.  sd_notify(3) takes newline-separated assignments
 * from the root main PID, so a newline in text that came from
 * fz-controld would add MAINPID=, WATCHDOG=trigger or STOPPING=1.  The
 * IPC decoder already rejects control characters; escaping here keeps
 * this line safe whatever the text's source.
 */
static void
notify_status(const char *prefix, const char *state, const char *detail)
{
	static char st[4 * 32 + 1], d[4 * 512 + 1];	/* off the stack */

	(void)log_escape(st, sizeof(st), state);
	(void)log_escape(d, sizeof(d), detail);
	sd_notifyf(0, "%sSTATUS=%s%s%s", prefix, st, *d ? ": " : "", d);
}

/* The tunnel's state changed: log it, tell front ends and systemd. */
void
svc_set_state(struct svc *s, enum svc_state st, const char *detail)
{
	const char *state = svc_state_name(st);
	char d[600];

	if (s->state == st && strcmp(s->detail, detail) == 0)
		return;
	s->state = st;
	snprintf(s->detail, sizeof(s->detail), "%s", detail);
	log_info("state %s%s%s", state, *detail ? ": " : "", detail);
	snprintf(d, sizeof(d), "%s%s%s", state, *detail ? ": " : "", detail);
	frontend_broadcast(s, "status", d);
	notify_status("", state, detail);
}

/* --- the portal's interface --------------------------------------------- */

/* A host address ("100.64.0.3") as a /32 or /128 of the family; "" none. */
static int
host_addr(const char *s, int family, struct fz_cidr *out, bool *has)
{
	struct fz_cidr c;

	if (*s == '\0') {
		*has = false;
		return 0;
	}
	if (strchr(s, '/') != NULL || cidr_parse(s, true, &c) != 0 ||
	    c.family != family)
		return -EINVAL;
	*out = c;
	*has = true;
	return 0;
}

/* Replaces one configured address by another (either may be absent). */
static int
swap_addr(struct svc *s, bool *had, struct fz_cidr *cur, bool has,
    const struct fz_cidr *want)
{
	int rc;

	if (*had && has && memcmp(cur, want, sizeof(*cur)) == 0)
		return 0;
	if (*had) {
		if ((rc = nl_addr_del(s->nl, s->tun->ifindex, cur)) != 0 &&
		    rc != -ENOENT)
			log_warnc(-rc, "%s: removing the old address",
			    s->tun->name);
		*had = false;
	}
	if (!has)
		return 0;
	rc = nl_addr_add(s->nl, s->tun->ifindex, want);
	if (rc != 0 && rc != -EEXIST)
		return rc;
	*cur = *want;
	*had = true;
	return 0;
}

int
svc_interface_apply(struct svc *s, const struct ipc_interface *in)
{
	struct svc_iface *f = &s->iface;
	struct fz_cidr v4, v6;
	bool has4, has6;
	int rc;

	if (host_addr(in->ipv4, AF_INET, &v4, &has4) != 0 ||
	    host_addr(in->ipv6, AF_INET6, &v6, &has6) != 0)
		return -EINVAL;
	if (s->tun == NULL || s->nl == NULL)
		return -ENODEV;
	if ((rc = swap_addr(s, &f->has4, &f->v4, has4, &v4)) != 0) {
		log_warnc(-rc, "%s: address %s", s->tun->name, in->ipv4);
		return rc;
	}
	if ((rc = swap_addr(s, &f->has6, &f->v6, has6, &v6)) != 0) {
		log_warnc(-rc, "%s: address %s", s->tun->name, in->ipv6);
		return rc;
	}
	snprintf(f->ipv4, sizeof(f->ipv4), "%s", has4 ? in->ipv4 : "");
	snprintf(f->ipv6, sizeof(f->ipv6), "%s", has6 ? in->ipv6 : "");
	snprintf(f->search_domain, sizeof(f->search_domain), "%s",
	    in->search_domain);
	snprintf(f->upstream_do53, sizeof(f->upstream_do53), "%s",
	    in->upstream_do53);
	log_info("%s: addresses %s%s%s, search domain '%s', upstream DNS "
	    "'%s'", s->tun->name, f->ipv4, *f->ipv4 && *f->ipv6 ? ", " : "",
	    f->ipv6, f->search_domain, f->upstream_do53);
	return 0;
}

void
svc_session_clear(struct svc *s)
{
	struct svc_iface *f = &s->iface;

	if (s->tun != NULL && s->nl != NULL) {
		(void)swap_addr(s, &f->has4, &f->v4, false, NULL);
		(void)swap_addr(s, &f->has6, &f->v6, false, NULL);
	}
	memset(f, 0, sizeof(*f));
	supervise_peers_clear(s);
	svc_access_clear(s);
	svc_dnsres_clear(s);
	s->local_sockets[0] = '\0';
	s->relays = 0;
	s->relay_ids[0] = '\0';
	s->connections[0] = '\0';
	if (s->resources != NULL) {
		ipc_msg_init(&s->resources->m, IPC_RESOURCES);
		ipc_arena_reset(&s->resources->a);
	}
	cn_session_clear(s);
}

/* --- bring-up ---------------------------------------------------------- */

static int
open_dataplane(struct svc *s)
{
	struct dp_config dc;
	uint8_t priv[WG_KEY_LEN];
	const char *ifname = s->o->ifname != NULL ? s->o->ifname :
	    DEFAULT_IFNAME;
	int rc, mtu = s->o->mtu > 0 ? s->o->mtu : TUNNELD_DEFAULT_MTU;

	if ((rc = tun_open(ifname, s->o->tun_queues, &s->tun)) != 0) {
		log_warnc(-rc, "%s: cannot create the TUN device", ifname);
		return rc;
	}
	/* The device key; its public half goes to the portal on sign-in. */
	randombytes_buf(priv, sizeof(priv));
	rc = wg_device_new(priv, &s->dev);
	sodium_memzero(priv, sizeof(priv));
	if (rc != 0)
		return rc;
	memset(&dc, 0, sizeof(dc));
	dc.mtu = mtu;
	dc.port = 0;
	if ((rc = dp_new(s->dev, s->tun, &dc, &s->dp)) != 0) {
		log_warnc(-rc, "data plane");
		return rc;
	}
	if ((rc = nl_new(&s->nl)) != 0 ||
	    (rc = nl_link_up(s->nl, s->tun->ifindex, mtu)) != 0) {
		log_warnc(-rc, "%s: link up", s->tun->name);
		return rc;
	}
	/* A gateway forwards only what an access allows (dp_filter.h). */
	if (s->st.gateway &&
	    (rc = dp_filter_enable(s->dp, DP_FILTER_GATEWAY)) != 0)
		return rc;
	log_info("%s: %d queue(s), MTU %d, UDP port %u", s->tun->name,
	    s->tun->nqueues, mtu, dp_port(s->dp));
	return 0;
}

static int
drop_privileges(void)
{
	uint64_t eff = PRIVSEP_CAP(CAP_NET_ADMIN) | PRIVSEP_CAP(CAP_KILL);
	uint64_t perm = eff | PRIVSEP_CAP(CAP_SETUID) | PRIVSEP_CAP(CAP_SETGID);
	int rc;

	if (getuid() != 0)
		return 0;
	/*
	 * The bounding set only limits what an exec can gain, and the only
	 * thing tunneld execs is fz-controld: empty it (while CAP_SETPCAP is
	 * still here) so the child starts with nothing to regain.
	 */
	if ((rc = privsep_caps_limit(0)) != 0 ||
	    (rc = privsep_caps_set_ep(eff, perm)) != 0 ||
	    (rc = privsep_no_new_privs()) != 0)
		return rc;
	return 0;
}

static void
reload_filter(struct svc *s)
{
	char buf[600];
	const char *f = s->configured_filter;
	FILE *fp;

	if (s->o->log_filter_file != NULL &&
	    (fp = fopen(s->o->log_filter_file, "re")) != NULL) {
		if (fgets(buf, sizeof(buf), fp) != NULL) {
			buf[strcspn(buf, "\r\n")] = '\0';
			f = buf;
		}
		fclose(fp);
	}
	if (log_set_filter(f) != 0) {
		log_warnx("SIGHUP: bad log filter '%s'; unchanged", f);
		return;
	}
	supervise_set_log_filter(s, f);
	log_info("SIGHUP: log filter '%s'", f);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct svc *s = arg;

	(void)what;
	switch (sig) {
	case SIGHUP:
		reload_filter(s);
		break;
	case SIGCHLD:
		supervise_reap(s);
		break;
	default:
		log_info("signal %d: shutting down", (int)sig);
		s->status = 0;
		event_base_loopbreak(s->base);
		break;
	}
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

/* Settings, users and paths: everything checked before anything starts. */
static int
svc_init(struct svc *s, const struct tunneld_opts *o)
{
	struct passwd *pw;
	struct group *gr;
	char err[512] = "";
	int rc;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->listen_fd = -1;
	gwnat_init(&s->gw);
	s->controld_fd = -1;
	s->logfd = -1;
	s->log_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000,
	    CHILD_LINES_PER_S);
	s->cpid = -1;
	s->status = 1;
	s->start_s = time_mono_ns() / 1000000000ULL;
	s->state = SVC_STARTING;
	s->sup = SUP_DOWN;
	log_get_filter(s->configured_filter, sizeof(s->configured_filter));
	if (sodium_init() < 0)
		return -EIO;
	if ((s->resources = calloc(1, sizeof(*s->resources))) == NULL)
		return -ENOMEM;

	if ((rc = settings_load(&s->st, o, err, sizeof(err))) != 0) {
		log_errorx("%s", err);
		return rc;
	}
	s->fe_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 20);
	snprintf(s->user_name, sizeof(s->user_name), "%s",
	    o->user != NULL ? o->user : DEFAULT_USER);
	if ((pw = getpwnam(s->user_name)) == NULL || pw->pw_uid == 0) {
		log_errorx("user %s %s (create it with systemd-sysusers, or "
		    "pass --user)", s->user_name, pw == NULL ?
		    "does not exist" : "is root");
		return -ENOENT;
	}
	s->user = *pw;
	if ((gr = getgrnam(CLIENT_GROUP)) != NULL) {
		s->client_gid = gr->gr_gid;
		s->have_client_group = true;
	}
	return supervise_find(s);
}

/*
 * Root-only things first (the socket, the TUN device and UDP sockets),
 * then the capability drop, the workers, the seccomp allow-list, and only
 * then the events: front ends, signals, the watchdog, fz-controld.
 */
/*
 * The gateway's routes to the clients' tunnel addresses (§5.1): replies
 * of resources (after the masquerade is undone) and of the gateway's own
 * DNS server on <tunnel ip>:53535 go back into the TUN.  Removed at stop
 * with everything else nl_* added (nl_undo).
 */
static int
gateway_routes(struct svc *s)
{
	static const char *const nets[] = {
		"100.64.0.0/11", "fd00:2021:1111::/107",
	};
	struct fz_cidr c;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(nets) / sizeof(nets[0]); i++) {
		if ((rc = cidr_parse(nets[i], true, &c)) != 0)
			return rc;
		if ((rc = nl_route_add(s->nl, s->tun->ifindex, &c)) != 0 &&
		    rc != -EEXIST) {
			log_warnc(-rc, "%s: route to %s", s->tun->name,
			    nets[i]);
			return rc;
		}
	}
	return 0;
}

static int
svc_bring_up(struct svc *s)
{
	static const int sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	uint64_t wd_usec = 0;
	int i, rc;

	signal(SIGPIPE, SIG_IGN);
	if ((s->base = event_base_new()) == NULL)
		return -ENOMEM;
	if ((rc = frontend_listen(s)) != 0)
		return rc;
	if ((rc = open_dataplane(s)) != 0)
		return rc;
	if (s->st.gateway &&
	    (rc = gwnat_start(&s->gw, s->tun->name, !s->o->no_masquerade)) != 0)
		return rc;
	if (s->st.gateway && (rc = gateway_routes(s)) != 0)
		return rc;
	if (!s->st.gateway && (rc = cn_start(s)) != 0)
		return rc;
	if ((rc = drop_privileges()) != 0) {
		log_errorc(-rc, "dropping privileges");
		return rc;
	}
	if ((rc = dp_start(s->dp)) != 0) {
		log_warnc(-rc, "starting workers");
		return rc;
	}
	if (!s->o->no_seccomp &&
	    (rc = tunneld_sandbox(true, s->o->seccomp)) != 0) {
		log_errorc(-rc, "seccomp");
		return rc;
	}
	if ((rc = frontend_start(s)) != 0 || (rc = cdns_start(s)) != 0)
		return rc;
	for (i = 0; i < 4; i++) {
		s->sig_ev[i] = evsignal_new(s->base, sigs[i], signal_cb, s);
		event_add(s->sig_ev[i], NULL);
	}
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		struct timeval tv = { (time_t)(wd_usec / 2000000),
		    (suseconds_t)(wd_usec / 2 % 1000000) };

		s->wd_ev = event_new(s->base, -1, EV_PERSIST, watchdog_cb, s);
		event_add(s->wd_ev, &tv);
	}
	return supervise_start(s);
}

/* In reverse: fz-controld, front ends, the data plane, the events. */
static void
svc_teardown(struct svc *s)
{
	int i;

	supervise_stop(s);
	frontend_stop(s);
	cdns_stop(s);
	cn_stop(s);
	if (s->dp != NULL) {
		dp_log_drops(s->dp);
		dp_free(s->dp);
	}
	gwnat_stop(&s->gw);
	if (s->nl != NULL)
		nl_free(s->nl);
	wg_device_free(s->dev);
	tun_close(s->tun);
	for (i = 0; i < 4; i++)
		if (s->sig_ev[i] != NULL)
			event_free(s->sig_ev[i]);
	if (s->wd_ev != NULL)
		event_free(s->wd_ev);
	if (s->base != NULL)
		event_base_free(s->base);
	sodium_memzero(s->st.token, sizeof(s->st.token));
	if (s->resources != NULL)
		ipc_arena_free(&s->resources->a);
	free(s->resources);
}

int
service_run(const struct tunneld_opts *o)
{
	static struct svc sv;		/* large: off the stack */
	struct svc *s = &sv;

	if (svc_init(s, o) != 0)
		goto out;
	if (o->check) {
		printf("mode %s, api %s, id %s, name %s, dns %s, token %s, "
		    "controld %s as %s\n", s->st.gateway ? "gateway" : "client",
		    s->st.api_url, s->st.firezone_id, s->st.name,
		    s->st.dns_control, s->st.has_token ? "present" : "absent",
		    s->controld_path, s->user_name);
		s->status = 0;
		goto out;
	}
	if (getuid() != 0) {
		log_errorx("service mode needs root (the TUN device, routes "
		    "and DNS)");
		goto out;
	}
	if (svc_bring_up(s) != 0)
		goto out;
	log_info("fz-tunneld %s ready (%s mode, device id %s)",
	    PACKAGE_VERSION, s->st.gateway ? "gateway" : "client",
	    s->st.firezone_id);
	notify_status("READY=1\n", svc_state_name(s->state), s->detail);
	event_base_dispatch(s->base);
	sd_notify(0, "STOPPING=1");
out:
	svc_teardown(s);
	return s->status;
}
