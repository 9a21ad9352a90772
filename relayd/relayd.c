/* SPDX-License-Identifier: ISC */
/*
 * fz-relayd: a STUN/TURN relay (RFC 8489, RFC 8656), compatible with
 * Firezone's relay and usable as a general TURN server with a shared
 * secret.  One thread moves packets: level-triggered epoll over the
 * control sockets and every allocation socket, each ready socket read
 * with one recvmmsg batch per round, least-read sockets first, outputs
 * gathered per socket and sent with sendmmsg straight from the receive
 * buffers (no per-packet allocation).  The HTTP endpoint (metrics, log
 * filter) runs on its own thread.
 */
#define LOG_MODULE "relayd"

#include <errno.h>
#include <event2/thread.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fztime.h"
#include "log.h"
#include "metrics.h"
#include "privsep.h"
#include "relay.h"
#include "xdp.h"

#define BATCH		32
#define BUFSZ		2048		/* datagrams larger are counted, dropped */
#define NQUEUES		8
#define MAX_EVENTS	256
#define SOCKBUF		(4 * 1024 * 1024)

enum { REF_CTL, REF_ALLOC };

struct sockref {
	int			 fd;
	int			 kind;
	int			 family;
	struct relay_alloc	*a;
	uint64_t		 reads;		/* datagrams read so far */
};

struct outq {
	int		 fd;
	unsigned	 n;
	struct mmsghdr	 mh[BATCH];
	struct iovec	 iov[BATCH][2];
	union fz_sockaddr to[BATCH];
	uint8_t		 hdr[BATCH][4];
};

struct srv {
	struct relay		*r;
	int			 ep, sigfd;
	struct sockref		 ctl[2];
	int			 nctl;
	union fz_sockaddr	 bind4, bind6;
	uint16_t		 lowest, highest;
	struct outq		 q[NQUEUES];
	/* receive batch */
	struct mmsghdr		 rmh[BATCH];
	struct iovec		 riov[BATCH];
	union fz_sockaddr	 rfrom[BATCH];
	uint8_t			 rbuf[BATCH][BUFSZ];
	struct metrics_gauges	 g;
	struct alloc_io		*dead;		/* freed after the epoll round */
	struct relay_xdp	*xdp;
	bool			 stop;
};

static struct srv S;

/* --- output queues --------------------------------------------------------- */

static void
q_flush(struct srv *s, struct outq *q)
{
	unsigned off = 0;
	int n;

	while (off < q->n) {
		n = sendmmsg(q->fd, q->mh + off, q->n - off, MSG_DONTWAIT);
		if (n <= 0) {
			/* the rest is lost: count it, never block */
			relay_count(s->r, RC_DROP_SEND_FAILED, q->n - off);
			break;
		}
		off += (unsigned)n;
	}
	q->n = 0;
}

static void
q_flush_all(struct srv *s)
{
	int i;

	for (i = 0; i < NQUEUES; i++)
		if (s->q[i].n > 0)
			q_flush(s, &s->q[i]);
}

static struct outq *
q_get(struct srv *s, int fd)
{
	struct outq *free_q = NULL;
	int i;

	for (i = 0; i < NQUEUES; i++) {
		if (s->q[i].n > 0 && s->q[i].fd == fd) {
			if (s->q[i].n == BATCH)
				q_flush(s, &s->q[i]);
			return &s->q[i];
		}
		if (s->q[i].n == 0 && free_q == NULL)
			free_q = &s->q[i];
	}
	if (free_q == NULL) {
		q_flush_all(s);
		free_q = &s->q[0];
	}
	free_q->fd = fd;
	return free_q;
}

/* Queues hdr (if any) + payload to `to` from fd; payload is borrowed. */
static void
q_add(struct srv *s, int fd, const struct sockaddr *to, const uint8_t *hdr,
    const uint8_t *p, size_t len)
{
	struct outq *q = q_get(s, fd);
	unsigned i = q->n++;
	int k = 0;

	memcpy(&q->to[i], to, addr_len(to));
	if (hdr != NULL) {
		memcpy(q->hdr[i], hdr, 4);
		q->iov[i][k].iov_base = q->hdr[i];
		q->iov[i][k++].iov_len = 4;
	}
	q->iov[i][k].iov_base = (void *)p;
	q->iov[i][k++].iov_len = len;
	memset(&q->mh[i], 0, sizeof(q->mh[i]));
	q->mh[i].msg_hdr.msg_name = &q->to[i];
	q->mh[i].msg_hdr.msg_namelen = addr_len(to);
	q->mh[i].msg_hdr.msg_iov = q->iov[i];
	q->mh[i].msg_hdr.msg_iovlen = (size_t)k;
}

/* --- sockets ----------------------------------------------------------------- */

static int
udp_socket(int family, const union fz_sockaddr *bind_to, uint16_t port)
{
	union fz_sockaddr a = *bind_to;
	int fd, one = 1, sz = SOCKBUF;

	if ((fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	addr_set_port(&a.sa, port);
	if (bind(fd, &a.sa, addr_len(&a.sa)) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static int
ep_add(struct srv *s, struct sockref *ref)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ref };

	return epoll_ctl(s->ep, EPOLL_CTL_ADD, ref->fd, &ev) == 0 ? 0 : -errno;
}

struct alloc_io {
	struct sockref	ref4, ref6;
	struct alloc_io	*next_dead;
};

/* Whether port is free in the wanted families (for EVEN-PORT's R bit). */
static bool
port_free(struct srv *s, unsigned port, bool want4, bool want6)
{
	int fd;

	if (want4) {
		if ((fd = udp_socket(AF_INET, &s->bind4, (uint16_t)port)) < 0)
			return false;
		close(fd);
	}
	if (want6) {
		if ((fd = udp_socket(AF_INET6, &s->bind6, (uint16_t)port)) < 0)
			return false;
		close(fd);
	}
	return true;
}

static void
io_alloc_close(void *arg, struct relay_alloc *a)
{
	struct srv *s = arg;
	struct alloc_io *io = a->io;

	q_flush_all(s);		/* nothing queued may outlive the fds */
	if (a->fd4 >= 0) {
		epoll_ctl(s->ep, EPOLL_CTL_DEL, a->fd4, NULL);
		close(a->fd4);
	}
	if (a->fd6 >= 0) {
		epoll_ctl(s->ep, EPOLL_CTL_DEL, a->fd6, NULL);
		close(a->fd6);
	}
	a->fd4 = a->fd6 = -1;
	/* epoll events of this round may still point at these refs */
	io->ref4.fd = io->ref6.fd = -1;
	io->ref4.a = io->ref6.a = NULL;
	io->next_dead = s->dead;
	s->dead = io;
	a->io = NULL;
}

static int
io_alloc_open(void *arg, struct relay_alloc *a, bool want4, bool want6)
{
	struct srv *s = arg;
	struct alloc_io *io;
	unsigned range = (unsigned)s->highest - s->lowest + 1, tries;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		return -ENOMEM;
	for (tries = 0; tries < 64; tries++) {
		uint16_t port = a->port;

		if (port == 0) {
			port = (uint16_t)(s->lowest + randombytes_uniform(range));
			if (a->even)
				port &= (uint16_t)~1u;
			if (port < s->lowest || relay_port_reserved(s->r, port) ||
			    (a->reserve && (port == s->highest ||
			    !port_free(s, port + 1, want4, want6))))
				continue;
		} else if (tries > 0)
			break;		/* an exact port: one try */
		int fd4 = -1, fd6 = -1;

		if (want4 && (fd4 = udp_socket(AF_INET, &s->bind4, port)) < 0)
			continue;
		if (want6 && (fd6 = udp_socket(AF_INET6, &s->bind6, port)) < 0) {
			if (fd4 >= 0)
				close(fd4);
			continue;
		}
		a->port = port;
		a->fd4 = fd4;
		a->fd6 = fd6;
		a->io = io;
		io->ref4 = (struct sockref){ fd4, REF_ALLOC, AF_INET, a, 0 };
		io->ref6 = (struct sockref){ fd6, REF_ALLOC, AF_INET6, a, 0 };
		if ((fd4 >= 0 && ep_add(s, &io->ref4) != 0) ||
		    (fd6 >= 0 && ep_add(s, &io->ref6) != 0)) {
			io_alloc_close(s, a);
			return -ENOMEM;
		}
		return 0;
	}
	free(io);
	log_warnx("no free relay port in %u..%u after %u tries", s->lowest,
	    s->highest, tries);
	return -EADDRINUSE;
}

static void
io_send_ctl(void *arg, int fd, const struct sockaddr *to, const uint8_t *p,
    size_t len)
{
	struct srv *s = arg;

	if (sendto(fd, p, len, MSG_DONTWAIT, to, addr_len(to)) < 0)
		relay_count(s->r, RC_DROP_SEND_FAILED, 1);
}

static void
io_send_peer(void *arg, struct relay_alloc *a, const struct sockaddr *to,
    const uint8_t *p, size_t len)
{
	struct srv *s = arg;
	int fd = to->sa_family == AF_INET ? a->fd4 : a->fd6;

	if (fd < 0 || sendto(fd, p, len, MSG_DONTWAIT, to, addr_len(to)) < 0)
		relay_count(s->r, RC_DROP_SEND_FAILED, 1);
}

static void
io_channel_up(void *arg, struct relay_channel *ch)
{
	struct srv *s = arg;
	int rc;

	if (s->xdp != NULL && (rc = relay_xdp_channel_up(s->xdp, ch)) != 0)
		log_warnc(-rc, "XDP map insert (channel 0x%04x stays in "
		    "userspace)", ch->number);
}

static void
io_channel_down(void *arg, struct relay_channel *ch)
{
	struct srv *s = arg;

	if (s->xdp != NULL)
		(void)relay_xdp_channel_down(s->xdp, ch);
}

static void
xdp_gauges(struct srv *s)
{
	struct fz_xdp_stat_val v[FZ_XS_COUNT];
	int i;

	if (s->xdp == NULL || relay_xdp_stats(s->xdp, v) != 0)
		return;
	atomic_store(&s->g.xdp_packets, v[FZ_XS_C2P].packets +
	    v[FZ_XS_P2C].packets + v[FZ_XS_SELF].packets);
	atomic_store(&s->g.xdp_bytes, v[FZ_XS_C2P].bytes + v[FZ_XS_P2C].bytes +
	    v[FZ_XS_SELF].bytes);
	for (i = 0; i < FZ_XS_COUNT; i++)
		atomic_store(&s->g.xdp_outcome[i], v[i].packets);
}

/* --- the loop ---------------------------------------------------------------- */

static void
ctl_datagram(struct srv *s, struct sockref *ref, const uint8_t *p, size_t len,
    const struct sockaddr *from)
{
	const struct relay_channel *ch;
	const uint8_t *payload;
	union fz_sockaddr peer;
	uint16_t number;
	size_t plen;
	int fd;

	if (len >= 4 && (p[0] & 0xc0) == 0x40) {
		if (turn_channeldata_parse(p, len, &number, &payload,
		    &plen) != 0) {
			relay_count(s->r, RC_DROP_MALFORMED, 1);
			return;
		}
		if ((ch = relay_channel_lookup(s->r, from, number)) == NULL)
			return;
		taddr_to_sa(&ch->peer, &peer);
		fd = ch->peer.fam == 4 ? ch->alloc->fd4 : ch->alloc->fd6;
		relay_count(s->r, RC_PKTS_C2P, 1);
		relay_count(s->r, RC_BYTES_C2P, plen);
		q_add(s, fd, &peer.sa, NULL, payload, plen);
		return;
	}
	if (len >= 1 && p[0] <= 0x03) {
		q_flush_all(s);		/* requests may free allocations */
		relay_stun_in(s->r, ref->fd, from, p, len);
		return;
	}
	relay_count(s->r, RC_DROP_NOT_STUN, 1);
}

static void
alloc_datagram(struct srv *s, struct sockref *ref, const uint8_t *p,
    size_t len, const struct sockaddr *from)
{
	const struct relay_channel *ch;
	union fz_sockaddr client;
	uint8_t hdr[4];

	if ((ch = relay_peer_in(s->r, ref->a, from, p, len)) == NULL)
		return;
	taddr_to_sa(&ref->a->client, &client);
	turn_channeldata_header(hdr, ch->number, (uint16_t)len);
	relay_count(s->r, RC_PKTS_P2C, 1);
	relay_count(s->r, RC_BYTES_P2C, len);
	q_add(s, ref->a->ctl_fd, &client.sa, hdr, p, len);
}

static void
read_batch(struct srv *s, struct sockref *ref)
{
	int n, i;

	if (ref->fd < 0)
		return;			/* its allocation went this round */
	for (i = 0; i < BATCH; i++) {
		s->riov[i].iov_base = s->rbuf[i];
		s->riov[i].iov_len = BUFSZ;
		memset(&s->rmh[i].msg_hdr, 0, sizeof(s->rmh[i].msg_hdr));
		s->rmh[i].msg_hdr.msg_iov = &s->riov[i];
		s->rmh[i].msg_hdr.msg_iovlen = 1;
		s->rmh[i].msg_hdr.msg_name = &s->rfrom[i];
		s->rmh[i].msg_hdr.msg_namelen = sizeof(s->rfrom[i]);
	}
	n = recvmmsg(ref->fd, s->rmh, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	ref->reads += (uint64_t)n;
	for (i = 0; i < n; i++) {
		const struct sockaddr *from = &s->rfrom[i].sa;
		size_t len = s->rmh[i].msg_len;

		if (s->rmh[i].msg_hdr.msg_flags & MSG_TRUNC) {
			relay_count(s->r, RC_DROP_TRUNCATED, 1);
			continue;
		}
		if (ref->kind == REF_CTL)
			ctl_datagram(s, ref, s->rbuf[i], len, from);
		else if (ref->a != NULL)
			alloc_datagram(s, ref, s->rbuf[i], len, from);
	}
	q_flush_all(s);
}

static int
by_reads(const void *x, const void *y)
{
	const struct sockref *a = ((const struct epoll_event *)x)->data.ptr;
	const struct sockref *b = ((const struct epoll_event *)y)->data.ptr;

	if (a == NULL || b == NULL)
		return a == NULL ? -1 : 1;
	return a->reads < b->reads ? -1 : a->reads > b->reads;
}

static void
gauges(struct srv *s)
{
	atomic_store(&s->g.allocations, relay_allocations(s->r));
	atomic_store(&s->g.channels, relay_channels(s->r));
	atomic_store(&s->g.permissions, relay_permissions(s->r));
}

static void
loop(struct srv *s)
{
	struct epoll_event ev[MAX_EVENTS];
	uint64_t next_tick = time_mono_ns() + 1000000000ULL;
	uint64_t next_log = time_mono_ns() + 10000000000ULL;
	int n, i;

	while (!s->stop) {
		n = epoll_wait(s->ep, ev, MAX_EVENTS, 1000);
		if (n < 0 && errno != EINTR) {
			log_warn("epoll_wait");
			break;
		}
		if (n > 1)
			qsort(ev, (size_t)n, sizeof(ev[0]), by_reads);
		for (i = 0; i < n; i++) {
			struct sockref *ref = ev[i].data.ptr;

			if (ref == NULL) {	/* the signalfd */
				struct signalfd_siginfo si;

				if (read(s->sigfd, &si, sizeof(si)) ==
				    sizeof(si) && si.ssi_signo != SIGHUP) {
					log_info("signal %u: shutting down",
					    si.ssi_signo);
					s->stop = true;
				}
				continue;
			}
			read_batch(s, ref);
		}
		if (time_mono_ns() >= next_tick) {
			relay_tick(s->r);
			xdp_gauges(s);
			next_tick = time_mono_ns() + 1000000000ULL;
		}
		if (time_mono_ns() >= next_log) {
			log_debug("allocations %u, channels %u, relayed "
			    "%llu/%llu packets", relay_allocations(s->r),
			    relay_channels(s->r), (unsigned long long)
			    relay_counter(s->r, RC_PKTS_C2P),
			    (unsigned long long)relay_counter(s->r,
			    RC_PKTS_P2C));
			next_log = time_mono_ns() + 10000000000ULL;
		}
		gauges(s);
		while (s->dead != NULL) {
			struct alloc_io *io = s->dead;

			s->dead = io->next_dead;
			free(io);
		}
	}
}

/* --- privileges ---------------------------------------------------------------- */

/*
 * The syscalls fz-relayd may make once running: the base set plus UDP
 * sockets for allocations, accepting metrics connections, and bpf() on
 * the XDP maps already open.  No exec, fork, clone (the metrics thread
 * exists before the filter), ptrace, mount, setuid, module or BPF program
 * loads are possible anyway without capabilities; the list makes sure.
 */
static int
install_seccomp(enum seccomp_default dflt)
{
	static const int extra[] = {
		/* allocation sockets */
		SYS_socket, SYS_bind, SYS_setsockopt, SYS_getsockopt,
		SYS_getsockname, SYS_getpeername,
		/* the metrics endpoint (libevent's evhttp) */
		SYS_accept, SYS_accept4,
		/* libevent reads with ioctl(FIONREAD); listed here since the
		 * base list is losing it */
		SYS_ioctl,
		/* XDP map updates, deletes and statistics on open maps */
		SYS_bpf,
		/* what a just-started thread (metrics) may still be doing */
		SYS_set_robust_list,
	};
	struct seccomp_list l;
	size_t i;

	seccomp_list_init(&l);
	seccomp_list_allow_base(&l);
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		seccomp_list_allow(&l, extra[i]);
	return seccomp_list_install(&l, dflt);
}

/*
 * The privilege drop, after every root-only step (control sockets bound,
 * XDP loaded and attached through a BPF link, the metrics listener bound)
 * and before any packet is read.  What is kept, found by experiment:
 *  - nothing for the XDP maps: on this project's kernel (6.18) bpf() on
 *    a map descriptor already held needs no capability; older kernels
 *    with unprivileged_bpf_disabled refuse every bpf() call without
 *    CAP_BPF, so it is kept then, and only then (a probe lookup decides);
 *  - nothing for detaching: closing the BPF link detaches;
 *  - CAP_NET_BIND_SERVICE only when allocation ports go below 1024.
 * Started as root it becomes user; started as another user (systemd's
 * User= with AmbientCapabilities) it sheds the capabilities it no longer
 * needs.  Then it proves it: no uid 0, setuid(0) fails, CapEff exactly
 * the kept set; then no_new_privs and no core dumps.
 */
static int
drop_privileges(struct srv *s, const char *user)
{
	struct rlimit nocore = { 0, 0 };
	uint64_t keep = 0, may = 0, eff = ~0ULL;
	bool root = getuid() == 0 || geteuid() == 0;
	int rc;

	if (s->lowest < 1024)
		keep |= PRIVSEP_CAP(CAP_NET_BIND_SERVICE);
	if (s->xdp != NULL)
		may = PRIVSEP_CAP(CAP_BPF);
	if ((rc = privsep_caps_limit(keep | may)) != 0 &&
	    (root || rc != -EPERM)) {
		log_errorc(-rc, "limiting capabilities");
		return rc;
	}
	if (root && (rc = privsep_drop_user(user, keep | may)) != 0) {
		if (rc == -ENOENT)
			log_errorx("user %s does not exist: create it (see "
			    "fz.sysusers) or give --user", user);
		else
			log_errorc(-rc, "dropping to user %s", user);
		return rc;
	}
	if (may != 0) {
		if ((rc = privsep_caps_set_ep(keep, keep | may)) != 0) {
			log_errorc(-rc, "setting capabilities");
			return rc;
		}
		if (relay_xdp_probe_maps(s->xdp) == 0)
			may = 0;
		else
			log_info("this kernel wants CAP_BPF for the XDP maps: "
			    "keeping it");
		keep |= may;
	}
	if ((rc = privsep_caps_set(keep)) != 0) {
		log_errorc(-rc, "setting capabilities");
		return rc;
	}
	if ((rc = privsep_cap_eff(&eff)) != 0 || eff != keep ||
	    getuid() == 0 || geteuid() == 0 || setuid(0) == 0) {
		log_errorx("privilege drop not proven (uid %u, CapEff %llx)",
		    (unsigned)getuid(), (unsigned long long)eff);
		return -EPERM;
	}
	if ((rc = privsep_no_new_privs()) != 0) {
		log_errorc(-rc, "no_new_privs");
		return rc;
	}
	(void)setrlimit(RLIMIT_CORE, &nocore);
	log_info("running as uid %u gid %u, capabilities %llx", (unsigned)getuid(),
	    (unsigned)getgid(), (unsigned long long)keep);
	return 0;
}

/* --- main ---------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: fz-relayd [options]\n"
"  --public-ip4-addr IP     relayed IPv4 address (PUBLIC_IP4_ADDR)\n"
"  --public-ip6-addr IP     relayed IPv6 address (PUBLIC_IP6_ADDR)\n"
"                           (at least one; each family is served only\n"
"                           when its public address is given)\n"
"  --bind-ip4-addr IP       default 0.0.0.0 (BIND_IP4_ADDR)\n"
"  --bind-ip6-addr IP       default :: (BIND_IP6_ADDR)\n"
"  --listen-port PORT       default 3478 (LISTEN_PORT)\n"
"  --lowest-port PORT       default 49152 (LOWEST_PORT)\n"
"  --highest-port PORT      default 65535 (HIGHEST_PORT)\n"
"  --static-auth-secret S   shared secret: TURN REST credentials\n"
"                           (expiry:user / base64 HMAC-SHA1) and Firezone's\n"
"                           (expiry:salt / SHA-256); or STATIC_AUTH_SECRET\n"
"  --realm REALM            default firezone\n"
"  --allow-private-peers    relay to loopback, private and link-local\n"
"                           addresses too (refused by default)\n"
"  --user-quota N           allocations per username (default 1000)\n"
"  --max-allocations N      default 10000\n"
"  --metrics ADDR:PORT      Prometheus /metrics, /healthz, POST /log_filter\n"
"  --log-format FMT         human, json or auto (LOG_FORMAT)\n"
"  --log-filter SPEC        e.g. info,relay=debug (RUST_LOG)\n"
"  --ebpf-offloading IFACE  relay ChannelData in XDP on IFACE (EBPF_OFFLOADING)\n"
"  --ebpf-attach-mode MODE  driver (default) or generic (EBPF_ATTACH_MODE)\n"
"  --ebpf-int4-addr IP      IPv4 address of IFACE, the source when relaying\n"
"  --ebpf-int6-addr IP      from IPv6 to IPv4 and back (EBPF_INT4_ADDR/INT6)\n"
"  --user USER              started as root, run as USER after binding and\n"
"                           loading XDP (default fz-relay; FZ_RELAY_USER)\n"
"  --seccomp MODE           kill (default), trap or off\n"
"  FIREZONE_API_URL and FIREZONE_TOKEN name the portal connection, which\n"
"  this build does not make yet; use --static-auth-secret.\n");
}

static const char *
env_or(const char *flag, const char *env)
{
	return flag != NULL ? flag : getenv(env);
}

static int
port_arg(const char *s, uint16_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < 1 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int
main(int argc, char *argv[])
{
	enum { O_P4 = 256, O_P6, O_B4, O_B6, O_LP, O_LO, O_HI, O_SECRET,
	    O_REALM, O_PRIV, O_QUOTA, O_MAXA, O_METRICS, O_LFMT, O_LFIL,
	    O_EBPF, O_EBPF_MODE, O_EBPF4, O_EBPF6, O_USER, O_SECCOMP };
	static const struct option lo[] = {
		{ "public-ip4-addr", required_argument, NULL, O_P4 },
		{ "public-ip6-addr", required_argument, NULL, O_P6 },
		{ "bind-ip4-addr", required_argument, NULL, O_B4 },
		{ "bind-ip6-addr", required_argument, NULL, O_B6 },
		{ "listen-port", required_argument, NULL, O_LP },
		{ "lowest-port", required_argument, NULL, O_LO },
		{ "highest-port", required_argument, NULL, O_HI },
		{ "static-auth-secret", required_argument, NULL, O_SECRET },
		{ "realm", required_argument, NULL, O_REALM },
		{ "allow-private-peers", no_argument, NULL, O_PRIV },
		{ "user-quota", required_argument, NULL, O_QUOTA },
		{ "max-allocations", required_argument, NULL, O_MAXA },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "log-format", required_argument, NULL, O_LFMT },
		{ "log-filter", required_argument, NULL, O_LFIL },
		{ "ebpf-offloading", required_argument, NULL, O_EBPF },
		{ "ebpf-attach-mode", required_argument, NULL, O_EBPF_MODE },
		{ "ebpf-int4-addr", required_argument, NULL, O_EBPF4 },
		{ "ebpf-int6-addr", required_argument, NULL, O_EBPF6 },
		{ "user", required_argument, NULL, O_USER },
		{ "seccomp", required_argument, NULL, O_SECCOMP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ebpf_if = NULL, *ebpf_mode = NULL, *ebpf4 = NULL,
	    *ebpf6 = NULL, *user = NULL, *seccomp_mode = "kill";
	enum seccomp_default sc = SECCOMP_DEFAULT_KILL;
	const char *p4 = NULL, *p6 = NULL, *b4 = NULL, *b6 = NULL, *lp = NULL,
	    *lw = NULL, *hi = NULL, *secret = NULL, *metrics_at = NULL,
	    *filter = getenv("RUST_LOG"), *lfmt = getenv("LOG_FORMAT");
	struct relay_config cfg;
	union fz_sockaddr int4, int6;
	struct relay_ops ops = {
		.alloc_open = io_alloc_open, .alloc_close = io_alloc_close,
		.send_ctl = io_send_ctl, .send_peer = io_send_peer,
		.channel_up = io_channel_up, .channel_down = io_channel_down,
		.channel_renew = io_channel_up, .arg = &S,
	};
	struct srv *s = &S;
	struct metrics *mt = NULL;
	enum log_format fmt = LOG_FORMAT_AUTO;
	uint16_t listen_port = 3478;
	sigset_t set;
	char software[64];
	int ch, i, rc, status = 1;

	memset(&cfg, 0, sizeof(cfg));
	memset(&int4, 0, sizeof(int4));
	memset(&int6, 0, sizeof(int6));
	s->lowest = 49152;
	s->highest = 65535;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case O_P4: p4 = optarg; break;
		case O_P6: p6 = optarg; break;
		case O_B4: b4 = optarg; break;
		case O_B6: b6 = optarg; break;
		case O_LP: lp = optarg; break;
		case O_LO: lw = optarg; break;
		case O_HI: hi = optarg; break;
		case O_SECRET: secret = optarg; break;
		case O_REALM: cfg.realm = optarg; break;
		case O_PRIV: cfg.allow_private_peers = true; break;
		case O_QUOTA: cfg.user_quota = (unsigned)atoi(optarg); break;
		case O_MAXA: cfg.max_allocations = (unsigned)atoi(optarg); break;
		case O_METRICS: metrics_at = optarg; break;
		case O_LFMT: lfmt = optarg; break;
		case O_LFIL: filter = optarg; break;
		case O_EBPF: ebpf_if = optarg; break;
		case O_EBPF_MODE: ebpf_mode = optarg; break;
		case O_EBPF4: ebpf4 = optarg; break;
		case O_EBPF6: ebpf6 = optarg; break;
		case O_USER: user = optarg; break;
		case O_SECCOMP: seccomp_mode = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (lfmt != NULL && log_parse_format(lfmt, &fmt) != 0) {
		fprintf(stderr, "fz-relayd: bad log format '%s'\n", lfmt);
		return 2;
	}
	if (log_init("fz-relayd", fmt, filter) != 0) {
		fprintf(stderr, "fz-relayd: bad log filter\n");
		return 2;
	}
	p4 = env_or(p4, "PUBLIC_IP4_ADDR");
	p6 = env_or(p6, "PUBLIC_IP6_ADDR");
	b4 = env_or(b4, "BIND_IP4_ADDR");
	b6 = env_or(b6, "BIND_IP6_ADDR");
	lp = env_or(lp, "LISTEN_PORT");
	lw = env_or(lw, "LOWEST_PORT");
	hi = env_or(hi, "HIGHEST_PORT");
	secret = env_or(secret, "STATIC_AUTH_SECRET");
	if (p4 == NULL && p6 == NULL) {
		log_errorx("give --public-ip4-addr and/or --public-ip6-addr");
		return 2;
	}
	if ((p4 != NULL && addr_parse(p4, ADDR_PORT_NONE, &cfg.public4) != 0) ||
	    (p4 != NULL && cfg.public4.sa.sa_family != AF_INET)) {
		log_errorx("--public-ip4-addr %s: not an IPv4 address", p4);
		return 2;
	}
	if ((p6 != NULL && addr_parse(p6, ADDR_PORT_NONE, &cfg.public6) != 0) ||
	    (p6 != NULL && cfg.public6.sa.sa_family != AF_INET6)) {
		log_errorx("--public-ip6-addr %s: not an IPv6 address", p6);
		return 2;
	}
	cfg.have4 = p4 != NULL;
	cfg.have6 = p6 != NULL;
	if (addr_parse(b4 != NULL ? b4 : "0.0.0.0", ADDR_PORT_NONE,
	    &s->bind4) != 0 || s->bind4.sa.sa_family != AF_INET ||
	    addr_parse(b6 != NULL ? b6 : "::", ADDR_PORT_NONE, &s->bind6) != 0 ||
	    s->bind6.sa.sa_family != AF_INET6) {
		log_errorx("bad --bind-ip4-addr or --bind-ip6-addr");
		return 2;
	}
	if ((lp != NULL && port_arg(lp, &listen_port) != 0) ||
	    (lw != NULL && port_arg(lw, &s->lowest) != 0) ||
	    (hi != NULL && port_arg(hi, &s->highest) != 0) ||
	    s->lowest > s->highest) {
		log_errorx("bad ports: listen %s, range %s..%s", lp ? lp : "-",
		    lw ? lw : "-", hi ? hi : "-");
		return 2;
	}
	if (secret == NULL || *secret == '\0') {
		if (getenv("FIREZONE_TOKEN") != NULL)
			log_errorx("the portal connection (FIREZONE_TOKEN) is "
			    "not in this build yet; use --static-auth-secret");
		else
			log_errorx("no credentials: give --static-auth-secret");
		return 2;
	}
	cfg.static_secret = secret;
	ebpf_if = env_or(ebpf_if, "EBPF_OFFLOADING");
	ebpf_mode = env_or(ebpf_mode, "EBPF_ATTACH_MODE");
	ebpf4 = env_or(ebpf4, "EBPF_INT4_ADDR");
	ebpf6 = env_or(ebpf6, "EBPF_INT6_ADDR");
	if (ebpf4 != NULL && (addr_parse(ebpf4, ADDR_PORT_NONE, &int4) != 0 ||
	    int4.sa.sa_family != AF_INET)) {
		log_errorx("--ebpf-int4-addr %s: not an IPv4 address", ebpf4);
		return 2;
	}
	if (ebpf6 != NULL && (addr_parse(ebpf6, ADDR_PORT_NONE, &int6) != 0 ||
	    int6.sa.sa_family != AF_INET6)) {
		log_errorx("--ebpf-int6-addr %s: not an IPv6 address", ebpf6);
		return 2;
	}
	/* Own addresses beyond the public ones: reachable as peers only on
	 * allocation ports (relay.h). */
	cfg.port_lo = s->lowest;
	cfg.port_hi = s->highest;
	if (ebpf4 != NULL)
		cfg.own[cfg.nown++] = int4;
	if (ebpf6 != NULL)
		cfg.own[cfg.nown++] = int6;
	if (s->bind4.in4.sin_addr.s_addr != htonl(INADDR_ANY))
		cfg.own[cfg.nown++] = s->bind4;
	if (!IN6_IS_ADDR_UNSPECIFIED(&s->bind6.in6.sin6_addr))
		cfg.own[cfg.nown++] = s->bind6;
	user = env_or(user, "FZ_RELAY_USER");
	if (user == NULL || *user == '\0')
		user = "fz-relay";
	if (strcmp(seccomp_mode, "trap") == 0)
		sc = SECCOMP_DEFAULT_TRAP;
	else if (strcmp(seccomp_mode, "kill") != 0 &&
	    strcmp(seccomp_mode, "off") != 0) {
		log_errorx("--seccomp %s: expected kill, trap or off",
		    seccomp_mode);
		return 2;
	}
	if (ebpf_mode != NULL && strcmp(ebpf_mode, "driver") != 0 &&
	    strcmp(ebpf_mode, "generic") != 0) {
		log_errorx("--ebpf-attach-mode %s: expected driver or generic",
		    ebpf_mode);
		return 2;
	}
	snprintf(software, sizeof(software), "fz-relayd/%s", PACKAGE_VERSION);
	cfg.software = software;

	evthread_use_pthreads();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((s->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		log_warn("epoll/signalfd");
		return 1;
	}
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sigfd, &ev);
	}
	if ((rc = relay_new(&cfg, &ops, &s->r)) != 0)
		return 1;
	if (cfg.have4) {
		if ((rc = udp_socket(AF_INET, &s->bind4, listen_port)) < 0) {
			log_errorc(-rc, "UDP port %u (IPv4)", listen_port);
			goto out;
		}
		s->ctl[s->nctl++] = (struct sockref){ rc, REF_CTL, AF_INET,
		    NULL, 0 };
	}
	if (cfg.have6) {
		if ((rc = udp_socket(AF_INET6, &s->bind6, listen_port)) < 0) {
			log_errorc(-rc, "UDP port %u (IPv6)", listen_port);
			goto out;
		}
		s->ctl[s->nctl++] = (struct sockref){ rc, REF_CTL, AF_INET6,
		    NULL, 0 };
	}
	for (i = 0; i < s->nctl; i++)
		if (ep_add(s, &s->ctl[i]) != 0)
			goto out;
	if (ebpf_if != NULL && *ebpf_if != '\0') {
		struct relay_xdp_config xc;
		char err[300];

		memset(&xc, 0, sizeof(xc));
		xc.ifname = ebpf_if;
		xc.generic = ebpf_mode != NULL && strcmp(ebpf_mode, "generic") == 0;
		xc.relay_port = listen_port;
		xc.port_lo = s->lowest;
		xc.port_hi = s->highest;
		xc.have_pub4 = cfg.have4;
		xc.pub4 = cfg.public4;
		xc.have_pub6 = cfg.have6;
		xc.pub6 = cfg.public6;
		xc.int4 = int4;
		xc.int6 = int6;
		xc.have_int4 = ebpf4 != NULL;
		xc.have_int6 = ebpf6 != NULL;
		if (relay_xdp_open(&xc, &s->xdp, err, sizeof(err)) != 0) {
			/* asked for and not possible: no silent fallback */
			log_errorx("%s", err);
			goto out;
		}
		atomic_store(&s->g.xdp, true);
	}
	if (metrics_at != NULL) {
		union fz_sockaddr ma;

		if (addr_parse(metrics_at, ADDR_PORT_REQUIRED, &ma) != 0) {
			log_errorx("--metrics %s: expected ADDR:PORT",
			    metrics_at);
			goto out;
		}
		if ((rc = metrics_start(&ma, s->r, &s->g, &mt)) != 0) {
			log_errorc(-rc, "metrics on %s", metrics_at);
			goto out;
		}
		log_info("metrics on http://%s/metrics", metrics_at);
	}
	/* Every root-only step is done: drop, then start the threads, then
	 * the seccomp filter (synchronised to every thread). */
	if (drop_privileges(s, user) != 0)
		goto out;
	if (mt != NULL && (rc = metrics_run(mt)) != 0) {
		log_errorc(-rc, "metrics thread");
		goto out;
	}
	if (strcmp(seccomp_mode, "off") != 0 && (rc = install_seccomp(sc)) != 0) {
		log_errorc(-rc, "seccomp");
		goto out;
	}
	log_info("relaying on UDP port %u (%s%s%s), allocation ports %u..%u, "
	    "realm %s%s", listen_port, p4 ? p4 : "", p4 && p6 ? ", " : "",
	    p6 ? p6 : "", s->lowest, s->highest,
	    cfg.realm ? cfg.realm : RELAY_REALM_DEFAULT,
	    cfg.allow_private_peers ? ", private peers allowed" : "");
	loop(s);
	status = 0;
out:
	metrics_stop(mt);
	relay_free(s->r);	/* closes every allocation socket */
	relay_xdp_close(s->xdp);	/* detaches */
	while (s->dead != NULL) {
		struct alloc_io *io = s->dead;

		s->dead = io->next_dead;
		free(io);
	}
	for (i = 0; i < s->nctl; i++)
		close(s->ctl[i].fd);
	close(s->sigfd);
	close(s->ep);
	return status;
}
