/* SPDX-License-Identifier: ISC */
/*
 * The client's routes and DNS control (client_net.h).  Started before the
 * capability drop (tunneld keeps CAP_NET_ADMIN for what follows): the
 * policy rules of §4.2 go in at once, with the proxy and sentinel ranges
 * as soon as the portal gave the tunnel an address; every RESOURCES,
 * INTERFACE or Internet Resource toggle recomputes the route set and
 * applies the difference.  DNS control points the system at the
 * sentinels fz-controld reports (DNS_SENTINELS) and gives it back on
 * sign-out and stop; etc-resolv-conf restores a crashed run's backup at
 * start (dnsctl_new).  One service per process: the state is static.
 */
#define LOG_MODULE "tunneld"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_net.h"
#include "dataplane.h"
#include "dnsctl.h"
#include "routes.h"
#include "svc.h"

#define CN_MAX_CIDRS	4096

static struct {
	struct routes	*r;
	struct dnsctl	*dns;
	bool		 dns_set;
	char		 dns_list[1025];	/* what dns_set set */
	char		 dns_search[257];
	bool		 internet;	/* activated (setting, fzctl) */
	bool		 inet_routed;	/* ... and routed: LAN copy polled */
	struct event	*lan_ev;	/* the LAN copy again, every 5 s */
	struct log_ratelimit tcp_rl;	/* TCP_SOCKET handed out */
	struct fz_cidr	 cidrs[CN_MAX_CIDRS];
} cn = { .tcp_rl = LOG_RATELIMIT_INIT(10000, 32) };

int
cn_mark(int fd)
{
	return routes_mark_socket(fd);
}

static void	lan_cb(evutil_socket_t, short, void *);

int
cn_tcp_socket(struct svc *s, struct ipc_conn *conn, int family)
{
	struct ipc_msg m;
	int fd, rc;

	(void)s;
	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	if (!log_ratelimit(&cn.tcp_rl))
		return -EAGAIN;
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if ((rc = routes_mark_socket(fd)) == 0) {
		ipc_msg_init(&m, IPC_TCP_SOCKET);
		m.u.tcp_socket.family = (uint32_t)family;
		m.fd = fd;
		rc = ipc_send(conn, &m);	/* sends a duplicate */
	}
	close(fd);
	return rc;
}

int
cn_start(struct svc *s)
{
	const struct timeval lan_tv = { 5, 0 };
	struct dnsctl_config dc;
	enum dnsctl_mode mode;
	int rc;

	if (s->st.gateway)
		return 0;
	cn.internet = s->st.internet_resource;
	if ((rc = dp_set_fwmark(s->dp, ROUTES_FWMARK)) != 0)
		log_warnc(-rc, "fwmark on the data plane's sockets");
	if ((rc = routes_new(&cn.r)) != 0) {
		log_warnc(-rc, "policy routing");
		return rc;
	}
	/* A rule that cannot go in is logged; the rest still work. */
	if ((rc = routes_start(cn.r)) != 0)
		log_warnc(-rc, "policy routing rules (some are missing)");
	if ((cn.lan_ev = event_new(s->base, -1, EV_PERSIST, lan_cb, s)) ==
	    NULL || event_add(cn.lan_ev, &lan_tv) != 0)
		return -ENOMEM;
	if ((rc = dnsctl_mode_parse(s->st.dns_control, &mode)) != 0)
		return rc;
	memset(&dc, 0, sizeof(dc));
	dc.mode = mode;
	/* Containers and tests keep the backup off the host's /etc. */
	dc.backup = getenv("FZ_RESOLV_CONF_BACKUP");
	if ((rc = dnsctl_new(&cn.dns, &dc)) != 0) {
		log_warnc(-rc, "DNS control %s", s->st.dns_control);
		return rc;
	}
	log_info("client: policy routing on (fwmark 0x%x), DNS control %s, "
	    "Internet Resource %s", ROUTES_FWMARK, s->st.dns_control,
	    cn.internet ? "active" : "inactive");
	return 0;
}

static void
dns_revert(void)
{
	int rc;

	if (cn.dns == NULL || !cn.dns_set)
		return;
	if ((rc = dnsctl_revert(cn.dns)) != 0)
		log_warnc(-rc, "DNS control: reverting: %s",
		    dnsctl_error(cn.dns));
	cn.dns_set = false;
}

void
cn_stop(struct svc *s)
{
	(void)s;
	if (cn.lan_ev != NULL)
		event_free(cn.lan_ev);
	cn.lan_ev = NULL;
	dns_revert();
	dnsctl_free(cn.dns);
	cn.dns = NULL;
	routes_free(cn.r);
	cn.r = NULL;
}

static void	sync_routes(struct svc *, bool quiet);

/*
 * The LAN copy follows the main table's on-link routes (Firezone re-syncs
 * on every netlink change; here a 5 s poll while the Internet Resource is
 * routed, which applies only a difference).
 */
static void
lan_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (cn.inet_routed)
		sync_routes(arg, true);
}

void
cn_sync(struct svc *s)
{
	sync_routes(s, false);
}

static void
sync_routes(struct svc *s, bool quiet)
{
	struct route_set want, add, del;
	bool has_inet = false, inet;
	size_t n = 0;
	int rc;

	if (cn.r == NULL || s->tun == NULL)
		return;
	route_set_init(&want);
	if (s->resources->m.type == IPC_RESOURCES)
		n = cn_resource_cidrs(&s->resources->m.u.resources.list,
		    cn.cidrs, CN_MAX_CIDRS, &has_inet);
	inet = has_inet && cn.internet;
	if (s->iface.has4 || s->iface.has6) {
		rc = routes_build(&want, s->tun->ifindex, cn.cidrs,
		    (unsigned)n, inet, s->iface.has4, s->iface.has6);
		/* With the default routes in ours, the LAN stays direct. */
		if (rc == 0 && inet)
			rc = routes_lan_copy(cn.r, s->tun->ifindex, &want);
		if (rc != 0) {
			log_warnc(-rc, "building the routes");
			route_set_clear(&want);
			return;
		}
	}
	cn.inet_routed = inet;
	if (quiet) {
		route_set_init(&add);
		route_set_init(&del);
		rc = routes_diff(routes_installed(cn.r), &want, &add, &del);
		quiet = rc == 0 && add.n == 0 && del.n == 0;
		route_set_clear(&add);
		route_set_clear(&del);
		if (quiet) {
			route_set_clear(&want);
			return;
		}
	}
	if ((rc = routes_apply(cn.r, &want)) != 0)
		log_warnc(-rc, "applying the routes");
	log_info("routes: %u in our tables (%zu CIDR resource(s), Internet "
	    "Resource %s)", routes_installed(cn.r)->n, n, inet ? "routed" :
	    has_inet ? "inactive" : "absent");
	route_set_clear(&want);
}

void
cn_session_clear(struct svc *s)
{
	dns_revert();
	cn_sync(s);
}

int
cn_dns_sentinels(struct svc *s, const char *list)
{
	union fz_sockaddr a[DNSCTL_MAX_SERVERS];
	struct dnsctl_servers sv;
	size_t i, n;
	int rc;

	if (addr_list_parse(list, ADDR_PORT_NONE, a, DNSCTL_MAX_SERVERS, &n) != 0)
		return -EINVAL;
	memset(&sv, 0, sizeof(sv));
	for (i = 0; i < n; i++) {
		if (!dnsctl_is_sentinel(&a[i].sa))
			return -EINVAL;
		sv.v[i] = a[i];
	}
	sv.n = (unsigned)n;
	if (cn.dns == NULL || s->tun == NULL)
		return 0;
	if (n == 0) {
		dns_revert();
		return 0;
	}
	if (cn.dns_set && strcmp(cn.dns_list, list) == 0 &&
	    strcmp(cn.dns_search, s->iface.search_domain) == 0)
		return 0;		/* unchanged: resolv.conf stays */
	if ((rc = dnsctl_set(cn.dns, s->tun->ifindex, &sv,
	    s->iface.search_domain)) != 0) {
		log_warnx("DNS control %s: %s", s->st.dns_control,
		    dnsctl_error(cn.dns));
		return 0;
	}
	cn.dns_set = true;
	snprintf(cn.dns_list, sizeof(cn.dns_list), "%s", list);
	snprintf(cn.dns_search, sizeof(cn.dns_search), "%s",
	    s->iface.search_domain);
	log_info("DNS control %s: the system resolves through %s",
	    s->st.dns_control, list);
	return 0;
}

void
cn_dns_system(struct svc *s, char *out, size_t len)
{
	struct dnsctl_servers sv;
	int rc;

	(void)s;
	out[0] = '\0';
	if (cn.dns == NULL)
		return;
	if ((rc = dnsctl_system_servers(cn.dns, &sv)) != 0) {
		log_warnc(-rc, "the system's DNS servers");
		return;
	}
	if (cn_addr_list_fmt(sv.v, sv.n, out, len) != 0)
		out[0] = '\0';
}

void
cn_internet(struct svc *s, bool on)
{
	if (cn.internet == on)
		return;
	cn.internet = on;
	log_info("Internet Resource %s", on ? "activated" : "deactivated");
	cn_sync(s);
}

bool
cn_internet_active(const struct svc *s)
{
	(void)s;
	return cn.internet;
}
