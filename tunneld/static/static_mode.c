/* SPDX-License-Identifier: ISC */
/*
 * Static mode: a wg-quick style tunnel in the foreground.  The interface is
 * named after the file's base name (wg-quick's rule) unless --interface is
 * given; wg(8) talks to it over the UAPI socket.  As wg-quick up/down:
 * PreUp, interface, addresses, MTU, DNS (dnsctl), routes for AllowedIPs
 * (Table/FwMark, default routes by policy routing, routes.h), PostUp; on
 * SIGTERM/SIGINT PreDown, SaveConfig, teardown, DNS back, PostDown.
 * Hooks and SaveConfig run in a helper process forked before anything is
 * set up, so they work under the data plane's seccomp allow-list; they are
 * honoured only from a root-owned file that group and others cannot write.
 */
#define LOG_MODULE "tunneld"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dataplane.h"
#include "dnsctl.h"
#include "netlink.h"
#include "routes.h"
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

/* ---- hooks and SaveConfig: the helper process ---- */

/* Commands to the helper; each is answered with one byte (0 or errno). */
enum { H_PRE_UP = 'U', H_POST_UP = 'u', H_PRE_DOWN = 'D', H_SAVE = 'S',
	H_POST_DOWN = 'P' };

struct helper {
	pid_t	pid;
	int	fd;
};

/* One hook through bash -c (sh -c without bash), as wg-quick's eval. */
static void
run_hook(const char *tmpl, const char *ifname, enum wgconf_hook kind,
    unsigned n)
{
	char *cmd;
	pid_t pid;
	int st;

	if ((cmd = wgconf_hook_expand(tmpl, ifname)) == NULL) {
		log_warnx("%s hook %u: out of memory", wgconf_hook_name(kind),
		    n + 1);
		return;
	}
	/* Named, not echoed: a hook line may carry a secret. */
	log_info("%s: running %s hook %u", ifname, wgconf_hook_name(kind),
	    n + 1);
	if ((pid = fork()) < 0) {
		log_warn("%s hook %u: fork", wgconf_hook_name(kind), n + 1);
		free(cmd);
		return;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/bash", "bash", "-c", cmd, (char *)NULL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	free(cmd);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		log_warnx("%s: %s hook %u failed (status %d)", ifname,
		    wgconf_hook_name(kind), n + 1,
		    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static int
read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if ((n = read(fd, (char *)buf + got, len - got)) < 0 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -EPIPE : -errno;
		got += (size_t)n;
	}
	return 0;
}

static int
write_full(int fd, const void *buf, size_t len)
{
	size_t put = 0;
	ssize_t n;

	while (put < len) {
		if ((n = write(fd, (const char *)buf + put, len - put)) < 0 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -EPIPE : -errno;
		put += (size_t)n;
	}
	return 0;
}

/* wg-quick's save_config: FILE.tmp (0600), synced, renamed over FILE. */
static int
save_file(const char *path, const char *text, size_t len)
{
	char tmp[4200];
	int fd, rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) < 0)
		return -errno;
	if ((rc = write_full(fd, text, len)) == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static void __attribute__((noreturn))
helper_main(int fd, const struct wgconf *c, const char *ifname,
    const char *path)
{
	static const struct { char cmd; enum wgconf_hook kind; } map[] = {
		{ H_PRE_UP, WGCONF_PRE_UP }, { H_POST_UP, WGCONF_POST_UP },
		{ H_PRE_DOWN, WGCONF_PRE_DOWN },
		{ H_POST_DOWN, WGCONF_POST_DOWN },
	};
	unsigned i, j;
	uint8_t cmd, ack;
	uint32_t len;
	char *text;

	while (read_full(fd, &cmd, 1) == 0) {
		ack = 0;
		if (cmd == H_SAVE) {
			if (read_full(fd, &len, sizeof(len)) != 0 ||
			    len > WGCONF_MAX_SIZE ||
			    (text = malloc((size_t)len + 1)) == NULL)
				_exit(1);
			if (read_full(fd, text, len) != 0)
				_exit(1);
			int rc = save_file(path, text, len);
			if (rc != 0) {
				log_warnc(-rc, "SaveConfig: %s", path);
				ack = (uint8_t)-rc;
			} else
				log_info("SaveConfig: %s written", path);
			sodium_memzero(text, len);
			free(text);
		}
		for (i = 0; i < sizeof(map) / sizeof(*map); i++)
			if (map[i].cmd == cmd)
				for (j = 0; j < c->nhooks[map[i].kind]; j++)
					run_hook(c->hooks[map[i].kind][j],
					    ifname, map[i].kind, j);
		if (write_full(fd, &ack, 1) != 0 || cmd == H_POST_DOWN)
			break;
	}
	_exit(0);
}

/* Before anything is set up (the helper holds no TUN or socket). */
static int
helper_start(struct helper *h, const struct wgconf *c, const char *ifname,
    const char *path)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (pid == 0) {
		close(sv[0]);
		helper_main(sv[1], c, ifname, path);
	}
	close(sv[1]);
	h->pid = pid;
	h->fd = sv[0];
	return 0;
}

/* Sends cmd (and for H_SAVE the text) and waits for the helper. */
static int
helper_do(struct helper *h, uint8_t cmd, const char *text, size_t len)
{
	uint32_t l = (uint32_t)len;
	uint8_t ack;
	int rc;

	if (h->fd < 0)
		return 0;
	if ((rc = write_full(h->fd, &cmd, 1)) != 0 ||
	    (cmd == H_SAVE && ((rc = write_full(h->fd, &l, sizeof(l))) != 0 ||
	    (rc = write_full(h->fd, text, len)) != 0)) ||
	    (rc = read_full(h->fd, &ack, 1)) != 0) {
		log_warnc(-rc, "hook helper");
		return rc;
	}
	return ack == 0 ? 0 : -(int)ack;
}

static void
helper_end(struct helper *h)
{
	if (h->fd >= 0)
		close(h->fd);	/* the helper exits on EOF */
	h->fd = -1;
}

/* ---- SaveConfig: the running configuration in wg-quick's format ---- */

struct sbuf {
	char	*p;
	size_t	 len, cap;
	bool	 err;
};

static void sbuf_printf(struct sbuf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (b->err)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p == NULL ? NULL : b->p + b->len,
		    b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap + (size_t)n + 1) * 2;
		char *np = malloc(ncap);

		if (np == NULL || ncap > WGCONF_MAX_SIZE) {
			free(np);
			b->err = true;
			return;
		}
		if (b->p != NULL) {
			memcpy(np, b->p, b->len);
			sodium_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = ncap;
	}
}

struct allowed_out {
	struct sbuf	*b;
	unsigned	 n;
};

static void
allowed_out_cb(const struct fz_cidr *a, void *arg)
{
	struct allowed_out *ao = arg;
	char s[64];

	if (cidr_fmt(a, s, sizeof(s)) != 0)
		return;
	sbuf_printf(ao->b, "%s%s", ao->n++ == 0 ? "AllowedIPs = " : ", ", s);
}

static const struct wgconf_peer *
conf_peer(const struct wgconf *c, const uint8_t *pub)
{
	unsigned i;

	for (i = 0; i < c->npeers; i++)
		if (sodium_memcmp(c->peers[i].pub, pub, WG_KEY_LEN) == 0)
			return &c->peers[i];
	return NULL;
}

static int
running_config(struct dp *dp, const struct wgconf *c, struct sbuf *b)
{
	struct wg_device *d = dp_device(dp);
	struct wg_peer *p = NULL;
	uint8_t key[WG_KEY_LEN];
	char s[ADDR_STRLEN + 64], b64[45];
	unsigned i, j;

	sbuf_printf(b, "[Interface]\n");
	for (i = 0; i < c->naddrs; i++)
		sbuf_printf(b, "Address = %s\n",
		    cidr_str(&c->addrs[i], s, sizeof(s)));
	for (i = 0; i < c->ndns; i++)
		if (addr_fmt(&c->dns[i].sa, false, s, sizeof(s)) == 0)
			sbuf_printf(b, "DNS = %s\n", s);
	for (i = 0; i < c->nsearch; i++)
		sbuf_printf(b, "DNS = %s\n", c->search[i]);
	if (c->mtu > 0)
		sbuf_printf(b, "MTU = %d\n", c->mtu);
	if (c->table == WGCONF_TABLE_OFF)
		sbuf_printf(b, "Table = off\n");
	else if (c->table == WGCONF_TABLE_NUM)
		sbuf_printf(b, "Table = %u\n", c->table_id);
	sbuf_printf(b, "SaveConfig = true\n");
	for (i = 0; i < WGCONF_HOOKS; i++)
		for (j = 0; j < c->nhooks[i]; j++)
			sbuf_printf(b, "%s = %s\n", wgconf_hook_name(i),
			    c->hooks[i][j]);
	sbuf_printf(b, "ListenPort = %u\n", dp_port(dp));
	if (c->fwmark != 0)
		sbuf_printf(b, "FwMark = %#x\n", c->fwmark);
	wg_device_private_key(d, key);
	wg_key_to_base64(key, b64);
	sbuf_printf(b, "PrivateKey = %s\n", b64);
	wg_read_lock();
	while ((p = wg_peer_next(d, p)) != NULL) {
		const struct wgconf_peer *cp;
		struct wg_peer_stats st;
		struct allowed_out ao = { b, 0 };
		union fz_sockaddr sa;

		wg_peer_public_key(p, key);
		wg_key_to_base64(key, b64);
		sbuf_printf(b, "\n[Peer]\nPublicKey = %s\n", b64);
		/* The UAPI cannot read a preshared key back: the file's. */
		if ((cp = conf_peer(c, key)) != NULL && cp->has_psk) {
			wg_key_to_base64(cp->psk, b64);
			sbuf_printf(b, "PresharedKey = %s\n", b64);
		}
		dp_peer_walk_allowed(dp, p, allowed_out_cb, &ao);
		if (ao.n > 0)
			sbuf_printf(b, "\n");
		if (wg_peer_endpoint(p, &sa) &&
		    addr_fmt(&sa.sa, true, s, sizeof(s)) == 0)
			sbuf_printf(b, "Endpoint = %s\n", s);
		wg_peer_stats(p, &st);
		if (st.keepalive > 0)
			sbuf_printf(b, "PersistentKeepalive = %u\n",
			    st.keepalive);
	}
	wg_read_unlock();
	sodium_memzero(key, sizeof(key));
	sodium_memzero(b64, sizeof(b64));
	return b->err ? -ENOMEM : 0;
}

/* ---- addresses, routes, DNS ---- */

static int
configure_link(struct nlconf *nl, const struct tun *t, const struct wgconf *c,
    int mtu)
{
	unsigned i;
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
	return 0;
}

static bool
has_default(const struct wgconf *c)
{
	unsigned i, j;

	for (i = 0; i < c->npeers; i++)
		for (j = 0; j < c->peers[i].nallowed; j++)
			if (c->peers[i].allowed[j].prefix == 0)
				return true;
	return false;
}

/* wg-quick's add_route for every AllowedIPs entry, longest first. */
static int
add_routes(struct routes_static *rs, const struct tun *t,
    const struct wgconf *c)
{
	unsigned i, j, len;
	int rc;
	char s[64];

	if (c->table == WGCONF_TABLE_OFF)
		return 0;
	for (len = 129; len-- > 0;) {
		for (i = 0; i < c->npeers; i++) {
			for (j = 0; j < c->peers[i].nallowed; j++) {
				const struct fz_cidr *a =
				    &c->peers[i].allowed[j];

				if (a->prefix != len)
					continue;
				cidr_str(a, s, sizeof(s));
				if (c->table == WGCONF_TABLE_NUM)
					rc = routes_static_add(rs, c->table_id,
					    t->ifindex, a);
				else if (a->prefix == 0)
					rc = routes_static_default(rs,
					    t->ifindex, a);
				else
					rc = routes_static_add(rs,
					    RT_TABLE_MAIN, t->ifindex, a);
				if (rc == -EEXIST)
					continue;  /* e.g. an address's */
				if (rc != 0) {
					log_warnc(-rc, "route %s", s);
					return rc;
				}
			}
		}
	}
	return 0;
}

/* DNS = servers, search domains: through the client's DNS control. */
static int
set_dns(struct dnsctl **out, const struct tunneld_opts *o,
    const struct tun *t, const struct wgconf *c)
{
	struct dnsctl_config dc;
	struct dnsctl_servers sv;
	enum dnsctl_mode mode;
	struct stat st;
	unsigned i;
	int rc;

	if (c->ndns == 0)
		return 0;	/* wg-quick: search domains alone do nothing */
	if (o->dns_control != NULL) {
		if ((rc = dnsctl_mode_parse(o->dns_control, &mode)) != 0) {
			log_errorx("--dns-control %s: want systemd-resolved, "
			    "etc-resolv-conf or disabled", o->dns_control);
			return rc;
		}
	} else
		mode = stat("/run/systemd/resolve", &st) == 0 ?
		    DNSCTL_SYSTEMD_RESOLVED : DNSCTL_ETC_RESOLV_CONF;
	memset(&dc, 0, sizeof(dc));
	dc.mode = mode;
	/* Containers and tests keep the backup off the host's /etc. */
	dc.backup = getenv("FZ_RESOLV_CONF_BACKUP");
	if ((rc = dnsctl_new(out, &dc)) != 0) {
		log_warnc(-rc, "DNS control %s", dnsctl_mode_name(mode));
		return rc;
	}
	memset(&sv, 0, sizeof(sv));
	for (i = 0; i < c->ndns && i < DNSCTL_MAX_SERVERS; i++)
		sv.v[sv.n++] = c->dns[i];
	if (c->nsearch > 1)
		log_warnx("DNS: only the first search domain (%s) is set",
		    c->search[0]);
	if ((rc = dnsctl_set(*out, t->ifindex, &sv,
	    c->nsearch > 0 ? c->search[0] : NULL)) != 0) {
		log_warnc(-rc, "DNS (%s): %s", dnsctl_mode_name(mode),
		    dnsctl_error(*out));
		return rc;
	}
	log_info("%s: DNS %u server(s) via %s", t->name, sv.n,
	    dnsctl_mode_name(mode));
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
	struct routes_static *rs = NULL;
	struct dnsctl *dns = NULL;
	struct uapi *u = NULL;
	struct helper h = { -1, -1 };
	struct dp_config dc;
	struct sbuf sb = { NULL, 0, 0, false };
	char ifname[IFNAMSIZ], err[512];
	sigset_t set;
	int rc, sig = 0, status = 1, mtu;
	uint32_t fwmark, table;
	bool hooks = false, up = false;
	unsigned i;

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
	for (i = 0; i < WGCONF_HOOKS; i++)
		hooks |= c.nhooks[i] > 0;
	if ((hooks || c.save_config) &&
	    !wgconf_trusted(&c, o->config, err, sizeof(err))) {
		log_errorx("refusing to start: %s", err);
		goto out;
	}
	/* wg-quick: FwMark doubles as the table; else 51820 for both. */
	fwmark = c.fwmark;
	table = fwmark != 0 ? fwmark : ROUTES_STATIC_TABLE;
	if (fwmark == 0 && c.table == WGCONF_TABLE_AUTO && has_default(&c))
		fwmark = table;

	/* Signals go to sigwait in this thread only; workers inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((hooks || c.save_config) &&
	    (rc = helper_start(&h, &c, ifname, o->config)) != 0) {
		log_errorc(-rc, "hook helper");
		goto out;
	}
	(void)helper_do(&h, H_PRE_UP, NULL, 0);
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
	if ((rc = set_dns(&dns, o, tun, &c)) != 0)
		goto out;
	if ((rc = routes_static_new(&rs, fwmark != 0 ? fwmark : table,
	    table)) != 0) {
		log_warnc(-rc, "%s: routes", ifname);
		goto out;
	}
	/* wg-quick: no FwMark, a default route: the first free table. */
	if (c.fwmark == 0 && fwmark != 0 &&
	    (rc = routes_static_pick_table(rs, &table)) == 0)
		fwmark = table;
	if (rc != 0) {
		log_warnc(-rc, "%s: no free routing table from %u", ifname,
		    table);
		goto out;
	}
	if (fwmark != 0 && (rc = dp_set_fwmark(dp, fwmark)) != 0) {
		log_warnc(-rc, "FwMark %#x", fwmark);
		goto out;
	}
	if ((rc = add_routes(rs, tun, &c)) != 0) {
		log_warnc(-rc, "%s: routes", ifname);
		goto out;
	}
	if ((rc = uapi_start(dp, tun->name, &u)) != 0)
		log_warnc(-rc, "UAPI socket (wg show will not work)");
	uapi_set_fwmark(u, fwmark);
	if ((rc = dp_start(dp)) != 0) {
		log_warnc(-rc, "starting workers");
		goto out;
	}
	(void)helper_do(&h, H_POST_UP, NULL, 0);
	up = true;
	/* Set up: from here on only what running and cleaning up need. */
	if (!o->no_seccomp && (rc = privsep_no_new_privs()) == 0)
		rc = tunneld_sandbox(false, o->seccomp);
	if (!o->no_seccomp && rc != 0) {
		log_errorc(-rc, "seccomp");
		goto out;
	}
	log_info("%s: up, %d queue(s), offloads 0x%x, MTU %d, port %u, "
	    "%u peer(s), fwmark %#x, seccomp %s", tun->name, tun->nqueues,
	    tun->offloads, mtu, dp_port(dp), c.npeers, fwmark,
	    o->no_seccomp ? "OFF" : "on");

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
	if (up) {
		(void)helper_do(&h, H_PRE_DOWN, NULL, 0);
		if (c.save_config) {
			if (running_config(dp, &c, &sb) == 0)
				(void)helper_do(&h, H_SAVE, sb.p, sb.len);
			else
				log_warnx("SaveConfig: out of memory");
			if (sb.p != NULL)
				sodium_memzero(sb.p, sb.cap);
			free(sb.p);
		}
	}
	uapi_stop(u);
	if (dp != NULL) {
		dp_log_drops(dp);
		dp_free(dp);	/* joins the workers first */
	}
	routes_static_free(rs);	/* routes and rules */
	if (nl != NULL)
		nl_free(nl);	/* removes addresses */
	wg_device_free(dev);
	tun_close(tun);		/* removes the interface */
	dnsctl_free(dns);	/* wg-quick: DNS after the interface */
	if (up)
		(void)helper_do(&h, H_POST_DOWN, NULL, 0);
	helper_end(&h);
	wgconf_free(&c);
	return status;
}

int
static_mode_show(const struct tunneld_opts *o)
{
	return uapi_show(o->show);
}
