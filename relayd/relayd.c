/* SPDX-License-Identifier: ISC */
/*
 * fz-relayd: a STUN/TURN relay (RFC 8489, RFC 8656), compatible with
 * Firezone's relay and usable as a general TURN server with a shared
 * secret.  One thread moves packets: level-triggered epoll over the
 * control sockets and every allocation socket, each ready socket read
 * with one recvmmsg batch per round, least-read sockets first, outputs
 * gathered per socket and sent with sendmmsg straight from the receive
 * buffers (no per-packet allocation).  The HTTP endpoint (metrics, log
 * filter, readiness) runs on its own thread, and so does the portal
 * connection when FIREZONE_TOKEN is given.
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
#include <sys/prctl.h>
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
#include "relay_token.h"
#include "creds.h"
#include "privsep.h"
#include "relay.h"
#include "relay_portal.h"
#include "xdp.h"

#define BATCH		32
#define BUFSZ		2048		/* datagrams larger are counted, dropped */
#define NQUEUES		8
#define MAX_EVENTS	256
#define SOCKBUF		(4 * 1024 * 1024)

enum { REF_CTL, REF_ALLOC, REF_PORTAL };

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
	struct sockref		 portal;	/* its done fd */
	bool			 stop;
	bool			 portal_failed;	/* exit with failure */
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

			if (ref != NULL && ref->kind == REF_PORTAL) {
				/* relay_portal logged why */
				s->portal_failed = true;
				s->stop = true;
				continue;
			}
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
 * sockets for allocations, accepting metrics connections, connecting to
 * the portal (TCP, and UDP to the name servers; the CA file and
 * resolv.conf were read before), and bpf() on the XDP maps already open.  No exec, fork, clone (the metrics thread
 * exists before the filter), ptrace, mount, setuid, module or BPF program
 * loads are possible anyway without capabilities; the list makes sure.
 */
static const int relayd_syscalls[] = {
	/* allocation sockets */
	SYS_socket, SYS_bind, SYS_setsockopt, SYS_getsockopt,
	SYS_getsockname, SYS_getpeername,
	/* the metrics endpoint (libevent's evhttp) */
	SYS_accept, SYS_accept4,
	/* the portal's TCP connection and its resolver's UDP sockets */
	SYS_connect,
	/* libevent reads with ioctl(FIONREAD); listed here since the
	 * base list is losing it */
	SYS_ioctl,
	/* XDP map updates, deletes and statistics on open maps */
	SYS_bpf,
	/* what a just-started thread (metrics) may still be doing */
	SYS_set_robust_list,
};

static int
install_seccomp(enum seccomp_default dflt)
{
	struct seccomp_list l;
	size_t i;

	seccomp_list_init(&l);
	seccomp_list_allow_base(&l);
	for (i = 0; i < sizeof(relayd_syscalls) / sizeof(relayd_syscalls[0]);
	    i++)
		seccomp_list_allow(&l, relayd_syscalls[i]);
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
	/* the stamp secret: no core dump, no ptrace read by user fz-relay */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	log_info("running as uid %u gid %u, capabilities %llx", (unsigned)getuid(),
	    (unsigned)getgid(), (unsigned long long)keep);
	return 0;
}

/* --- configuration ------------------------------------------------------------- */

/*
 * What the command line and the environment ask for, checked.  Strings
 * are borrowed from argv and the environment.
 */
struct relayd_config {
	struct relay_config	 relay;		/* software points at below */
	char			 software[64];
	union fz_sockaddr	 bind4, bind6;
	uint16_t		 listen_port;
	uint16_t		 lowest, highest;	/* allocation ports */
	const char		*public4, *public6;	/* as given, for logs */
	const char		*metrics_at;		/* ADDR:PORT or NULL */
	const char		*ebpf_if;		/* NULL: no XDP */
	bool			 ebpf_generic;
	bool			 have_int4, have_int6;
	union fz_sockaddr	 int4, int6;
	const char		*user;
	bool			 seccomp;
	enum seccomp_default	 seccomp_default;
	bool			 help;		/* --help: usage, nothing else */
	/* the portal: on when a token is given */
	const char		*api_url;	/* FIREZONE_API_URL */
	const char		*name;		/* FIREZONE_NAME or NULL */
	char			*token;		/* malloc'd copy; wiped */
	char			 stamp[PORTAL_STAMP_SECRET_LEN + 1];
};

#define RELAYD_API_URL_DEFAULT	"wss://api.firezone.dev"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: fz-relayd [options] [TOKEN]\n"
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
"  --challenge-rate N       401 challenges answered per second (5000)\n"
"  --metrics ADDR:PORT      /metrics, /healthz, /readyz, POST /log_filter\n"
"                           (HEALTH_CHECK_ADDR)\n"
"  --log-format FMT         human, json or auto (LOG_FORMAT)\n"
"  --log-filter SPEC        e.g. info,relay=debug (RUST_LOG)\n"
"  --ebpf-offloading IFACE  relay ChannelData in XDP on IFACE (EBPF_OFFLOADING)\n"
"  --ebpf-attach-mode MODE  driver (default) or generic (EBPF_ATTACH_MODE)\n"
"  --ebpf-int4-addr IP      IPv4 address of IFACE, the source when relaying\n"
"  --ebpf-int6-addr IP      from IPv6 to IPv4 and back (EBPF_INT4_ADDR/INT6)\n"
"  --user USER              started as root, run as USER after binding and\n"
"                           loading XDP (default fz-relay; FZ_RELAY_USER)\n"
"  --seccomp MODE           kill (default), trap or off\n"
"  --api-url URL            the portal (FIREZONE_API_URL; default\n"
"                           " RELAYD_API_URL_DEFAULT ")\n"
"  --name NAME              the relay's name there (FIREZONE_NAME)\n"
"  TOKEN                    the relay token (or FIREZONE_TOKEN, or the file\n"
"                           $CREDENTIALS_DIRECTORY/FIREZONE_TOKEN): join the\n"
"                           portal and accept the credentials it hands out\n");
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

enum {
	O_P4 = 256, O_P6, O_B4, O_B6, O_LP, O_LO, O_HI, O_SECRET, O_REALM,
	O_PRIV, O_QUOTA, O_MAXA, O_METRICS, O_LFMT, O_LFIL, O_EBPF,
	O_EBPF_MODE, O_EBPF4, O_EBPF6, O_USER, O_SECCOMP, O_API_URL, O_NAME,
	O_CHRATE
};

static const struct option relayd_options[] = {
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
	{ "challenge-rate", required_argument, NULL, O_CHRATE },
	{ "metrics", required_argument, NULL, O_METRICS },
	{ "log-format", required_argument, NULL, O_LFMT },
	{ "log-filter", required_argument, NULL, O_LFIL },
	{ "ebpf-offloading", required_argument, NULL, O_EBPF },
	{ "ebpf-attach-mode", required_argument, NULL, O_EBPF_MODE },
	{ "ebpf-int4-addr", required_argument, NULL, O_EBPF4 },
	{ "ebpf-int6-addr", required_argument, NULL, O_EBPF6 },
	{ "user", required_argument, NULL, O_USER },
	{ "seccomp", required_argument, NULL, O_SECCOMP },
	{ "api-url", required_argument, NULL, O_API_URL },
	{ "name", required_argument, NULL, O_NAME },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The flags as given, before the environment fills in what is missing. */
struct relayd_flags {
	const char	*p4, *p6, *b4, *b6, *lp, *lw, *hi, *secret;
	const char	*ebpf_if, *ebpf_mode, *ebpf4, *ebpf6, *user;
	const char	*seccomp_mode, *log_format, *log_filter;
	const char	*api_url, *name;
	char		*token_arg;	/* argv's: wiped once copied */
};

/* getopt into f and c: 0, or -EINVAL (usage already printed). */
static int
relayd_flags_parse(int argc, char *argv[], struct relayd_flags *f,
    struct relayd_config *c)
{
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", relayd_options,
	    NULL)) != -1) {
		switch (ch) {
		case O_P4: f->p4 = optarg; break;
		case O_P6: f->p6 = optarg; break;
		case O_B4: f->b4 = optarg; break;
		case O_B6: f->b6 = optarg; break;
		case O_LP: f->lp = optarg; break;
		case O_LO: f->lw = optarg; break;
		case O_HI: f->hi = optarg; break;
		case O_SECRET: f->secret = optarg; break;
		case O_REALM: c->relay.realm = optarg; break;
		case O_PRIV: c->relay.allow_private_peers = true; break;
		case O_QUOTA: c->relay.user_quota = (unsigned)atoi(optarg); break;
		case O_MAXA:
			c->relay.max_allocations = (unsigned)atoi(optarg);
			break;
		case O_CHRATE:
			c->relay.challenge_rate = (unsigned)atoi(optarg);
			break;
		case O_METRICS: c->metrics_at = optarg; break;
		case O_LFMT: f->log_format = optarg; break;
		case O_LFIL: f->log_filter = optarg; break;
		case O_EBPF: f->ebpf_if = optarg; break;
		case O_EBPF_MODE: f->ebpf_mode = optarg; break;
		case O_EBPF4: f->ebpf4 = optarg; break;
		case O_EBPF6: f->ebpf6 = optarg; break;
		case O_USER: f->user = optarg; break;
		case O_SECCOMP: f->seccomp_mode = optarg; break;
		case O_API_URL: f->api_url = optarg; break;
		case O_NAME: f->name = optarg; break;
		case 'h': c->help = true; return 0;
		default: usage(stderr); return -EINVAL;
		}
	}
	/* the token, as Firezone's relay takes it: one positional */
	if (optind + 1 == argc)
		f->token_arg = argv[optind];
	else if (optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/*
 * Without a token in argv or the environment: a systemd credential,
 * $CREDENTIALS_DIRECTORY/FIREZONE_TOKEN (LoadCredential=), trimmed.
 * None there is no token; a file it refuses is an error.
 */
static int
relayd_credential_token(struct relayd_config *c)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[4096], tok[RELAY_TOKEN_MAX + 1];
	int rc;

	if (dir == NULL || *dir == '\0')
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/FIREZONE_TOKEN", dir) >=
	    sizeof(path))
		return 0;
	rc = relay_token_read(path, geteuid(), tok, sizeof(tok));
	if (rc == 0 && (c->token = strdup(tok)) == NULL)
		rc = -ENOMEM;
	sodium_memzero(tok, sizeof(tok));
	if (rc == -ENOENT)
		return 0;
	if (rc != 0)
		fprintf(stderr, "fz-relayd: %s: %s%s\n", path, strerror(-rc),
		    rc == -EPERM ? " (it must be a regular file of this "
		    "user's, mode 0600 or stricter)" : "");
	return rc;
}

/*
 * The relay token from argv or FIREZONE_TOKEN into a copy of our own, the
 * original wiped where it lies (/proc/PID/cmdline and /proc/PID/environ
 * show the initial memory, which unsetenv does not touch) and the
 * variable removed, so that nothing started later inherits it; else from
 * a systemd credential.
 */
static int
relayd_take_token(struct relayd_flags *f, struct relayd_config *c)
{
	char *env = getenv("FIREZONE_TOKEN");
	const char *src = f->token_arg != NULL ? f->token_arg : env;

	if (src != NULL && *src != '\0' && (c->token = strdup(src)) == NULL)
		return -ENOMEM;
	if (f->token_arg != NULL)
		sodium_memzero(f->token_arg, strlen(f->token_arg));
	if (env != NULL) {
		/* the whole "FIREZONE_TOKEN=..." entry, name and all */
		char *entry = env - strlen("FIREZONE_TOKEN=");

		unsetenv("FIREZONE_TOKEN");
		sodium_memzero(entry, strlen(entry));
	}
	if (c->token == NULL)
		return relayd_credential_token(c);
	return 0;
}

/* The portal connection (a token given): URL, name, a fresh stamp_secret. */
static int
relayd_config_portal(const struct relayd_flags *f, struct relayd_config *c)
{
	int rc;

	c->api_url = env_or(f->api_url, "FIREZONE_API_URL");
	if (c->api_url == NULL || *c->api_url == '\0')
		c->api_url = RELAYD_API_URL_DEFAULT;
	c->name = env_or(f->name, "FIREZONE_NAME");
	if (c->name != NULL && *c->name == '\0')
		c->name = NULL;
	if (c->token == NULL)
		return 0;
	/* §1.9: 32 random bytes, hex, new at every start */
	if ((rc = portal_stamp_secret(c->stamp)) != 0) {
		log_errorc(-rc, "stamp secret");
		return rc;
	}
	c->relay.stamp_secret = c->stamp;
	return 0;
}

/* An address of one family, or NULL for none: -EINVAL if it is not. */
static int
family_addr(const char *s, int family, union fz_sockaddr *out)
{
	if (s == NULL)
		return 0;
	if (addr_parse(s, ADDR_PORT_NONE, out) != 0 ||
	    out->sa.sa_family != family)
		return -EINVAL;
	return 0;
}

/* The relayed and bound addresses, the listen port and the port range. */
static int
relayd_config_addresses(const struct relayd_flags *f, struct relayd_config *c)
{
	struct relay_config *rc = &c->relay;

	if (f->p4 == NULL && f->p6 == NULL) {
		log_errorx("give --public-ip4-addr and/or --public-ip6-addr");
		return -EINVAL;
	}
	if (family_addr(f->p4, AF_INET, &rc->public4) != 0) {
		log_errorx("--public-ip4-addr %s: not an IPv4 address", f->p4);
		return -EINVAL;
	}
	if (family_addr(f->p6, AF_INET6, &rc->public6) != 0) {
		log_errorx("--public-ip6-addr %s: not an IPv6 address", f->p6);
		return -EINVAL;
	}
	c->public4 = f->p4;
	c->public6 = f->p6;
	rc->have4 = f->p4 != NULL;
	rc->have6 = f->p6 != NULL;
	if (family_addr(f->b4 != NULL ? f->b4 : "0.0.0.0", AF_INET,
	    &c->bind4) != 0 || family_addr(f->b6 != NULL ? f->b6 : "::",
	    AF_INET6, &c->bind6) != 0) {
		log_errorx("bad --bind-ip4-addr or --bind-ip6-addr");
		return -EINVAL;
	}
	if ((f->lp != NULL && port_arg(f->lp, &c->listen_port) != 0) ||
	    (f->lw != NULL && port_arg(f->lw, &c->lowest) != 0) ||
	    (f->hi != NULL && port_arg(f->hi, &c->highest) != 0) ||
	    c->lowest > c->highest) {
		log_errorx("bad ports: listen %s, range %s..%s",
		    f->lp ? f->lp : "-", f->lw ? f->lw : "-",
		    f->hi ? f->hi : "-");
		return -EINVAL;
	}
	return 0;
}

/*
 * The XDP interface addresses, and every address of the relay's own that
 * peers may reach on allocation ports only.
 */
static int
relayd_config_interfaces(const struct relayd_flags *f, struct relayd_config *c)
{
	struct relay_config *rc = &c->relay;

	if (family_addr(f->ebpf4, AF_INET, &c->int4) != 0) {
		log_errorx("--ebpf-int4-addr %s: not an IPv4 address",
		    f->ebpf4);
		return -EINVAL;
	}
	if (family_addr(f->ebpf6, AF_INET6, &c->int6) != 0) {
		log_errorx("--ebpf-int6-addr %s: not an IPv6 address",
		    f->ebpf6);
		return -EINVAL;
	}
	c->have_int4 = f->ebpf4 != NULL;
	c->have_int6 = f->ebpf6 != NULL;
	/* Own addresses beyond the public ones: reachable as peers only on
	 * allocation ports (relay.h). */
	rc->port_lo = c->lowest;
	rc->port_hi = c->highest;
	if (c->have_int4)
		rc->own[rc->nown++] = c->int4;
	if (c->have_int6)
		rc->own[rc->nown++] = c->int6;
	if (c->bind4.in4.sin_addr.s_addr != htonl(INADDR_ANY))
		rc->own[rc->nown++] = c->bind4;
	if (!IN6_IS_ADDR_UNSPECIFIED(&c->bind6.in6.sin6_addr))
		rc->own[rc->nown++] = c->bind6;
	return 0;
}

/*
 * The command line and the environment into c: 0, or -EINVAL once the
 * problem has been reported (usage, or a log line).  Logging is set up
 * here, as the flags ask, so that what follows can be reported.
 */
static int
relayd_config_from_args(int argc, char *argv[], struct relayd_config *c)
{
	struct relayd_flags f;
	enum log_format fmt = LOG_FORMAT_AUTO;
	const char *secret;
	int rc;

	memset(c, 0, sizeof(*c));
	memset(&f, 0, sizeof(f));
	c->listen_port = 3478;
	c->lowest = 49152;
	c->highest = 65535;
	f.seccomp_mode = "kill";
	f.log_filter = getenv("RUST_LOG");
	f.log_format = getenv("LOG_FORMAT");
	if ((rc = relayd_flags_parse(argc, argv, &f, c)) != 0 || c->help)
		return rc;
	if ((rc = relayd_take_token(&f, c)) != 0) {
		if (rc == -ENOMEM)
			fprintf(stderr, "fz-relayd: %s\n", strerror(-rc));
		return rc;
	}
	if (f.log_format != NULL && log_parse_format(f.log_format, &fmt) != 0) {
		fprintf(stderr, "fz-relayd: bad log format '%s'\n",
		    f.log_format);
		return -EINVAL;
	}
	if (log_init("fz-relayd", fmt, f.log_filter) != 0) {
		fprintf(stderr, "fz-relayd: bad log filter\n");
		return -EINVAL;
	}
	f.p4 = env_or(f.p4, "PUBLIC_IP4_ADDR");
	f.p6 = env_or(f.p6, "PUBLIC_IP6_ADDR");
	f.b4 = env_or(f.b4, "BIND_IP4_ADDR");
	f.b6 = env_or(f.b6, "BIND_IP6_ADDR");
	f.lp = env_or(f.lp, "LISTEN_PORT");
	f.lw = env_or(f.lw, "LOWEST_PORT");
	f.hi = env_or(f.hi, "HIGHEST_PORT");
	f.ebpf_if = env_or(f.ebpf_if, "EBPF_OFFLOADING");
	f.ebpf_mode = env_or(f.ebpf_mode, "EBPF_ATTACH_MODE");
	f.ebpf4 = env_or(f.ebpf4, "EBPF_INT4_ADDR");
	f.ebpf6 = env_or(f.ebpf6, "EBPF_INT6_ADDR");
	/* Firezone's relay serves /healthz and /readyz there */
	c->metrics_at = env_or(c->metrics_at, "HEALTH_CHECK_ADDR");
	if (c->metrics_at != NULL && *c->metrics_at == '\0')
		c->metrics_at = NULL;
	secret = env_or(f.secret, "STATIC_AUTH_SECRET");
	if ((rc = relayd_config_addresses(&f, c)) != 0 ||
	    (rc = relayd_config_portal(&f, c)) != 0)
		return rc;
	if ((secret == NULL || *secret == '\0') && c->token == NULL) {
		log_errorx("no credentials: give a portal token "
		    "(FIREZONE_TOKEN) or --static-auth-secret");
		return -EINVAL;
	}
	if (secret != NULL && *secret != '\0')
		c->relay.static_secret = secret;
	if ((rc = relayd_config_interfaces(&f, c)) != 0)
		return rc;
	c->ebpf_if = f.ebpf_if != NULL && *f.ebpf_if != '\0' ? f.ebpf_if :
	    NULL;
	c->user = env_or(f.user, "FZ_RELAY_USER");
	if (c->user == NULL || *c->user == '\0')
		c->user = "fz-relay";
	c->seccomp = strcmp(f.seccomp_mode, "off") != 0;
	c->seccomp_default = strcmp(f.seccomp_mode, "trap") == 0 ?
	    SECCOMP_DEFAULT_TRAP : SECCOMP_DEFAULT_KILL;
	if (strcmp(f.seccomp_mode, "trap") != 0 &&
	    strcmp(f.seccomp_mode, "kill") != 0 &&
	    strcmp(f.seccomp_mode, "off") != 0) {
		log_errorx("--seccomp %s: expected kill, trap or off",
		    f.seccomp_mode);
		return -EINVAL;
	}
	if (f.ebpf_mode != NULL && strcmp(f.ebpf_mode, "driver") != 0 &&
	    strcmp(f.ebpf_mode, "generic") != 0) {
		log_errorx("--ebpf-attach-mode %s: expected driver or generic",
		    f.ebpf_mode);
		return -EINVAL;
	}
	c->ebpf_generic = f.ebpf_mode != NULL &&
	    strcmp(f.ebpf_mode, "generic") == 0;
	snprintf(c->software, sizeof(c->software), "fz-relayd/%s",
	    PACKAGE_VERSION);
	c->relay.software = c->software;
	return 0;
}

/* --- main ---------------------------------------------------------------------- */

/* Signals through a signalfd, an epoll set, and the TURN core. */
static int
srv_init(struct srv *s, const struct relayd_config *c)
{
	struct relay_ops ops = {
		.alloc_open = io_alloc_open, .alloc_close = io_alloc_close,
		.send_ctl = io_send_ctl, .send_peer = io_send_peer,
		.channel_up = io_channel_up, .channel_down = io_channel_down,
		.channel_renew = io_channel_up, .arg = s,
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	sigset_t set;
	int rc;

	s->bind4 = c->bind4;
	s->bind6 = c->bind6;
	s->lowest = c->lowest;
	s->highest = c->highest;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((s->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		rc = -errno;
		log_warn("epoll/signalfd");
		return rc;
	}
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sigfd, &ev);
	return relay_new(&c->relay, &ops, &s->r);
}

/* The control sockets, one per family served, on the listen port. */
static int
srv_listen(struct srv *s, const struct relayd_config *c)
{
	int fam[2] = { AF_INET, AF_INET6 };
	bool want[2] = { c->relay.have4, c->relay.have6 };
	int i, rc;

	for (i = 0; i < 2; i++) {
		if (!want[i])
			continue;
		if ((rc = udp_socket(fam[i], i == 0 ? &s->bind4 : &s->bind6,
		    c->listen_port)) < 0) {
			log_errorc(-rc, "UDP port %u (IPv%d)", c->listen_port,
			    i == 0 ? 4 : 6);
			return rc;
		}
		s->ctl[s->nctl++] = (struct sockref){ rc, REF_CTL, fam[i],
		    NULL, 0 };
	}
	for (i = 0; i < s->nctl; i++)
		if ((rc = ep_add(s, &s->ctl[i])) != 0)
			return rc;
	return 0;
}

/* Loads and attaches the XDP program; asked for and not possible: fail. */
static int
srv_xdp_open(struct srv *s, const struct relayd_config *c)
{
	struct relay_xdp_config xc;
	char err[300];
	int rc;

	memset(&xc, 0, sizeof(xc));
	xc.ifname = c->ebpf_if;
	xc.generic = c->ebpf_generic;
	xc.relay_port = c->listen_port;
	xc.port_lo = c->lowest;
	xc.port_hi = c->highest;
	xc.have_pub4 = c->relay.have4;
	xc.pub4 = c->relay.public4;
	xc.have_pub6 = c->relay.have6;
	xc.pub6 = c->relay.public6;
	xc.int4 = c->int4;
	xc.int6 = c->int6;
	xc.have_int4 = c->have_int4;
	xc.have_int6 = c->have_int6;
	if ((rc = relay_xdp_open(&xc, &s->xdp, err, sizeof(err))) != 0) {
		/* no silent fallback */
		log_errorx("%s", err);
		return rc;
	}
	atomic_store(&s->g.xdp, true);
	return 0;
}

/* Binds the metrics endpoint (its thread starts after the drop). */
static int
srv_metrics_open(struct srv *s, const char *at, struct metrics **out)
{
	union fz_sockaddr ma;
	int rc;

	if (addr_parse(at, ADDR_PORT_REQUIRED, &ma) != 0) {
		log_errorx("--metrics %s: expected ADDR:PORT", at);
		return -EINVAL;
	}
	if ((rc = metrics_start(&ma, s->r, &s->g, out)) != 0) {
		log_errorc(-rc, "metrics on %s", at);
		return rc;
	}
	log_info("metrics on http://%s/metrics", at);
	return 0;
}

/*
 * Everything the portal connection needs from files, before the sandbox;
 * its done fd joins the epoll set.  The token is wiped here, once copied.
 */
static int
srv_portal_open(struct srv *s, struct relayd_config *c,
    struct relay_portal **out)
{
	struct relay_portal_config pc = {
		.api_url = c->api_url, .token = c->token, .name = c->name,
		.ipv4 = c->public4, .ipv6 = c->public6,
		.port = c->listen_port, .stamp_secret = c->stamp, .g = &s->g,
	};
	int rc;

	rc = relay_portal_new(&pc, out);
	sodium_memzero(c->token, strlen(c->token));
	free(c->token);
	c->token = NULL;
	if (rc != 0) {
		log_errorc(-rc, "portal connection");
		return rc;
	}
	s->portal = (struct sockref){ relay_portal_done_fd(*out), REF_PORTAL,
	    0, NULL, 0 };
	return ep_add(s, &s->portal);
}

static void
srv_close(struct srv *s, struct metrics *mt, struct relay_portal *pt)
{
	int i;

	relay_portal_free(pt);		/* says goodbye to the portal */
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
}

int
main(int argc, char *argv[])
{
	struct relayd_config c;
	struct metrics *mt = NULL;
	struct relay_portal *pt = NULL;
	struct srv *s = &S;
	int rc, status = 1;

	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (relayd_config_from_args(argc, argv, &c) != 0)
		return 2;
	if (c.help) {
		usage(stdout);
		return 0;
	}
	evthread_use_pthreads();
	if (srv_init(s, &c) != 0)
		return 1;
	if (srv_listen(s, &c) != 0 ||
	    (c.ebpf_if != NULL && srv_xdp_open(s, &c) != 0) ||
	    (c.metrics_at != NULL && srv_metrics_open(s, c.metrics_at,
	    &mt) != 0) ||
	    (c.token != NULL && srv_portal_open(s, &c, &pt) != 0))
		goto out;
	/* Every root-only step is done: drop, then start the threads, then
	 * the seccomp filter (synchronised to every thread). */
	if (drop_privileges(s, c.user) != 0)
		goto out;
	if (mt != NULL && (rc = metrics_run(mt)) != 0) {
		log_errorc(-rc, "metrics thread");
		goto out;
	}
	if (pt != NULL && (rc = relay_portal_run(pt)) != 0) {
		log_errorc(-rc, "portal thread");
		goto out;
	}
	if (c.seccomp && (rc = install_seccomp(c.seccomp_default)) != 0) {
		log_errorc(-rc, "seccomp");
		goto out;
	}
	log_info("relaying on UDP port %u (%s%s%s), allocation ports %u..%u, "
	    "realm %s%s", c.listen_port, c.public4 ? c.public4 : "",
	    c.public4 && c.public6 ? ", " : "", c.public6 ? c.public6 : "",
	    s->lowest, s->highest,
	    c.relay.realm ? c.relay.realm : RELAY_REALM_DEFAULT,
	    c.relay.allow_private_peers ? ", private peers allowed" : "");
	if (pt != NULL)
		log_info("credentials: Firezone's from the portal's stamp "
		    "secret%s", c.relay.static_secret != NULL ? ", and TURN "
		    "REST and Firezone's from the static secret" : "");
	loop(s);
	status = s->portal_failed ? 1 : 0;
out:
	srv_close(s, mt, pt);
	return status;
}
