/* SPDX-License-Identifier: ISC */
/*
 * Static mode: a wg-quick style tunnel in the foreground.  The interface is
 * named after the file's base name (wg-quick's rule) unless --interface is
 * given; addresses and routes for AllowedIPs are added with rtnetlink and
 * removed again on SIGTERM/SIGINT; wg(8) talks to it over the UAPI socket.
 */
#define LOG_MODULE "tunneld"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane.h"
#include "netlink.h"
#include "tun.h"
#include "tunneld.h"
#include "uapi.h"
#include "wgconfig.h"

/* wg-quick: the interface is the file name without directory and ".conf". */
static int
ifname_from_path(const char *path, char *out, size_t len)
{
	char tmp[4096], *b, *dot;
	size_t i;

	snprintf(tmp, sizeof(tmp), "%s", path);
	b = basename(tmp);
	if ((dot = strrchr(b, '.')) != NULL && strcmp(dot, ".conf") == 0)
		*dot = '\0';
	if (*b == '\0' || strlen(b) >= IFNAMSIZ || strlen(b) >= len)
		return -EINVAL;
	for (i = 0; b[i] != '\0'; i++)
		if (!(b[i] == '_' || b[i] == '=' || b[i] == '+' ||
		    b[i] == '.' || b[i] == '-' ||
		    (b[i] >= 'a' && b[i] <= 'z') ||
		    (b[i] >= 'A' && b[i] <= 'Z') ||
		    (b[i] >= '0' && b[i] <= '9')))
			return -EINVAL;
	snprintf(out, len, "%s", b);
	return 0;
}

static int
add_peers(struct dp *dp, const struct wgconf *c)
{
	unsigned i, j;
	int rc;

	for (i = 0; i < c->npeers; i++) {
		const struct wgconf_peer *cp = &c->peers[i];
		struct wg_peer *p;

		if ((rc = dp_peer_add(dp, cp->pub, &p)) != 0)
			return rc;
		if (cp->has_psk)
			wg_peer_set_psk(p, cp->psk);
		if (cp->has_endpoint)
			wg_peer_set_endpoint(p, &cp->endpoint);
		wg_peer_set_keepalive(p, cp->keepalive);
		for (j = 0; j < cp->nallowed; j++)
			if ((rc = dp_peer_allow(dp, p, &cp->allowed[j])) != 0)
				return rc;
	}
	return 0;
}

static const char *
cidr_str(const struct fz_cidr *c, char *s, size_t len)
{
	if (cidr_fmt(c, s, len) != 0)
		snprintf(s, len, "?");
	return s;
}

static int
configure_link(struct nlconf *nl, const struct tun *t, const struct wgconf *c,
    int mtu)
{
	unsigned i, j;
	int rc;
	char s[64];

	for (i = 0; i < c->naddrs; i++) {
		if ((rc = nl_addr_add(nl, t->ifindex, &c->addrs[i])) != 0) {
			log_warnc(-rc, "address %s",
			    cidr_str(&c->addrs[i], s, sizeof(s)));
			return rc;
		}
	}
	if ((rc = nl_link_up(nl, t->ifindex, mtu)) != 0) {
		log_warnc(-rc, "%s: link up", t->name);
		return rc;
	}
	for (i = 0; i < c->npeers; i++) {
		for (j = 0; j < c->peers[i].nallowed; j++) {
			const struct fz_cidr *a = &c->peers[i].allowed[j];

			cidr_str(a, s, sizeof(s));
			if (a->prefix == 0) {
				/* wg-quick needs policy routing for these. */
				log_warnx("not routing %s: default routes "
				    "through the tunnel need policy routing", s);
				continue;
			}
			rc = nl_route_add(nl, t->ifindex, a);
			if (rc == -EEXIST)
				continue;	/* covered, e.g. by an address */
			if (rc != 0) {
				log_warnc(-rc, "route %s", s);
				return rc;
			}
		}
	}
	return 0;
}

int
static_mode_run(const struct tunneld_opts *o)
{
	struct wgconf c;
	struct wg_device *dev = NULL;
	struct tun *tun = NULL;
	struct dp *dp = NULL;
	struct nlconf *nl = NULL;
	struct uapi *u = NULL;
	struct dp_config dc;
	char ifname[IFNAMSIZ], err[512];
	sigset_t set;
	int rc, sig = 0, status = 1, mtu;

	if (wgconf_load(o->config, &c, err, sizeof(err)) != 0) {
		log_errorx("%s", err);
		return 1;
	}
	if (o->ifname != NULL)
		snprintf(ifname, sizeof(ifname), "%s", o->ifname);
	else if (ifname_from_path(o->config, ifname, sizeof(ifname)) != 0) {
		log_errorx("%s: cannot name an interface after this file; "
		    "use --interface NAME", o->config);
		goto out;
	}
	mtu = o->mtu > 0 ? o->mtu : c.mtu > 0 ? c.mtu : TUNNELD_DEFAULT_MTU;
	if (c.ignored > 0)
		log_info("%s: %u wg-quick setting(s) (DNS, Table, Pre/Post "
		    "hooks, SaveConfig, FwMark) are not acted on", o->config,
		    c.ignored);

	/* Signals go to sigwait in this thread only; workers inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = tun_open(ifname, o->tun_queues, &tun)) != 0) {
		log_warnc(-rc, "%s: cannot create TUN device", ifname);
		goto out;
	}
	if ((rc = wg_device_new(c.priv, &dev)) != 0) {
		log_warnc(-rc, "WireGuard device");
		goto out;
	}
	memset(&dc, 0, sizeof(dc));
	dc.mtu = mtu;
	dc.port = c.listen_port;
	if ((rc = dp_new(dev, tun, &dc, &dp)) != 0) {
		log_warnc(-rc, "data plane (UDP port %u)", c.listen_port);
		goto out;
	}
	if ((rc = add_peers(dp, &c)) != 0) {
		log_warnc(-rc, "peers");
		goto out;
	}
	if ((rc = nl_new(&nl)) != 0 ||
	    (rc = configure_link(nl, tun, &c, mtu)) != 0) {
		log_warnc(-rc, "%s: configuring the link", ifname);
		goto out;
	}
	if ((rc = uapi_start(dp, tun->name, &u)) != 0)
		log_warnc(-rc, "UAPI socket (wg show will not work)");
	if ((rc = dp_start(dp)) != 0) {
		log_warnc(-rc, "starting workers");
		goto out;
	}
	/* Set up: from here on only what running and cleaning up need. */
	if (!o->no_seccomp && (rc = privsep_no_new_privs()) == 0)
		rc = tunneld_sandbox(false, o->seccomp);
	if (!o->no_seccomp && rc != 0) {
		log_errorc(-rc, "seccomp");
		goto out;
	}
	log_info("%s: up, %d queue(s), offloads 0x%x, MTU %d, port %u, "
	    "%u peer(s), seccomp %s", tun->name, tun->nqueues, tun->offloads,
	    mtu, dp_port(dp), c.npeers, o->no_seccomp ? "OFF" : "on");

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: log filter unchanged (static mode)");
			continue;
		}
		break;
	}
	log_info("%s: signal %d, shutting down", tun->name, sig);
	status = 0;
out:
	uapi_stop(u);
	if (dp != NULL) {
		enum dp_counter i;

		for (i = DP_DROP_NO_ROUTE; i < DP_COUNTERS; i++)
			if (dp_counter(dp, i) > 0)
				log_info("%s: %llu", dp_counter_name(i),
				    (unsigned long long)dp_counter(dp, i));
		dp_free(dp);	/* joins the workers first */
	}
	if (nl != NULL)
		nl_free(nl);	/* removes routes and addresses */
	wg_device_free(dev);
	tun_close(tun);		/* removes the interface */
	wgconf_free(&c);
	return status;
}

int
static_mode_show(const struct tunneld_opts *o)
{
	return uapi_show(o->show);
}
