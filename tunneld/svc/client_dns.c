/* SPDX-License-Identifier: ISC */
/*
 * The client's DNS datagram path (client_net.h), in fz-tunneld's main
 * loop.  Up: the data plane queues the UDP queries the TUN sends to a
 * sentinel (dp_dns_enable; nothing else of the TUN's traffic comes here)
 * and they go to fz-controld's stub as DGRAM_UP on IPC_SOCK_DNS.  Down:
 * DNS_REPLY becomes an IP/UDP packet from the sentinel into the TUN
 * (dnspkt_build); DGRAM_DOWN on IPC_SOCK_DNS_FWD4/6 leaves through our
 * fwmarked forwarding sockets (to port 53 only), whose answers go up on
 * the same sock numbers.  All of it rides the DGRAM channel, lossy and
 * bounded (IPC_DGRAM_QUEUE), so DNS never delays a control message.
 */
#define LOG_MODULE "tunneld"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_net.h"
#include "dataplane.h"
#include "dnspkt.h"
#include "dnstcp.h"
#include "fztime.h"
#include "svc.h"

static struct {
	struct event	*up_ev, *fwd_ev[2], *tcp_ev;
	struct dnstcp	*tcp;		/* DNS over TCP to the sentinels */
	int		 fwd[2];		/* IPv4, IPv6; -1: none */
	uint64_t	 up, up_dropped, replies, reply_errors, fwd_out,
			 fwd_in, fwd_errors;
	struct log_ratelimit rl;
	uint8_t		 buf[DNSPKT_MAX];
} cd = { .fwd = { -1, -1 } };

static bool
session_up(const struct svc *s)
{
	return s->dconn != NULL && s->state != SVC_SIGNED_OUT;
}

static void
send_up(struct svc *s, uint32_t sock, const struct sockaddr *from,
    const struct sockaddr *local, const uint8_t *p, size_t len)
{
	char f[ADDR_STRLEN], l[ADDR_STRLEN];
	struct ipc_msg m;

	if (!session_up(s) || addr_fmt(from, true, f, sizeof(f)) != 0 ||
	    addr_fmt(local, true, l, sizeof(l)) != 0) {
		cd.up_dropped++;
		return;
	}
	ipc_msg_init(&m, IPC_DGRAM_UP);
	m.u.dgram_up.sock = sock;
	m.u.dgram_up.from = f;
	m.u.dgram_up.local = l;
	m.u.dgram_up.payload = p;
	m.u.dgram_up.payload_len = (uint32_t)len;
	if (ipc_send(s->dconn, &m) != 0)
		cd.up_dropped++;
	else
		cd.up++;
}

/* Queries the TUN sent to a sentinel, from the data plane's queue. */
static void
up_cb(evutil_socket_t fd, short what, void *arg)
{
	static struct dp_stun d;	/* 1.5 KB: off the stack */
	struct svc *s = arg;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* a wake-up for queries an earlier call took */
	}
	while (dp_dns_take(s->dp, &d)) {
		if (d.sock != DP_SOCK_DNS_TCP)
			send_up(s, IPC_SOCK_DNS, &d.from.sa, &d.local.sa,
			    d.data, d.len);
		else if (dnstcp_input(cd.tcp, d.data, d.len,
		    time_mono_ns()) != 0)
			cd.up_dropped++;
	}
}

/* dnstcp's segments into the TUN, its queries up. */
static void
tcp_send(void *arg, const uint8_t *pkt, size_t len)
{
	struct svc *s = arg;

	if (dp_tun_inject(s->dp, pkt, len) != 0)
		cd.reply_errors++;
}

static void
tcp_query(void *arg, const union fz_sockaddr *client,
    const union fz_sockaddr *sentinel, const uint8_t *msg, size_t len)
{
	send_up(arg, IPC_SOCK_DNS_TCP, &client->sa, &sentinel->sa, msg, len);
}

static const struct dnstcp_ops tcp_ops = {
	.send = tcp_send, .query = tcp_query,
};

static void
tcp_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	dnstcp_expire(cd.tcp, time_mono_ns());
}

/* Answers from upstreams to forwarded queries. */
static void
fwd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc *s = arg;
	union fz_sockaddr from, local;
	socklen_t sl, ll;
	ssize_t n;
	int i;

	(void)what;
	for (i = 0; i < 64; i++) {
		sl = sizeof(from);
		n = recvfrom(fd, cd.buf, sizeof(cd.buf), 0, &from.sa, &sl);
		if (n < 0)
			break;
		ll = sizeof(local);
		if (getsockname(fd, &local.sa, &ll) != 0)
			break;
		addr_unmap_v4(&from);
		cd.fwd_in++;
		send_up(s, fd == cd.fwd[0] ? IPC_SOCK_DNS_FWD4 :
		    IPC_SOCK_DNS_FWD6, &from.sa, &local.sa, cd.buf, (size_t)n);
	}
}

static int
fwd_socket(struct svc *s, int family, int idx)
{
	int fd, rc;

	if ((fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	/* Queries to upstreams must not come back into the tunnel. */
	if ((rc = cn_mark(fd)) != 0) {
		close(fd);
		return rc;
	}
	cd.fwd[idx] = fd;
	if ((cd.fwd_ev[idx] = event_new(s->base, fd, EV_READ | EV_PERSIST,
	    fwd_cb, s)) == NULL || event_add(cd.fwd_ev[idx], NULL) != 0)
		return -ENOMEM;
	return 0;
}

int
cdns_start(struct svc *s)
{
	const struct timeval tick = { 2, 0 };
	int fd, rc;

	if (s->st.gateway)
		return 0;
	cd.rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 5);
	if ((cd.tcp = dnstcp_new(&tcp_ops, s)) == NULL ||
	    (cd.tcp_ev = event_new(s->base, -1, EV_PERSIST, tcp_tick, s)) ==
	    NULL || event_add(cd.tcp_ev, &tick) != 0)
		return -ENOMEM;
	if ((rc = dp_dns_enable(s->dp, &fd)) != 0)
		return rc;
	if ((cd.up_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, up_cb,
	    s)) == NULL || event_add(cd.up_ev, NULL) != 0)
		return -ENOMEM;
	if ((rc = fwd_socket(s, AF_INET, 0)) != 0)
		return rc;
	if ((rc = fwd_socket(s, AF_INET6, 1)) != 0 && rc != -EAFNOSUPPORT)
		return rc;
	return 0;
}

void
cdns_stop(struct svc *s)
{
	int i;

	(void)s;
	if (cd.up_ev != NULL)
		event_free(cd.up_ev);
	cd.up_ev = NULL;
	if (cd.tcp_ev != NULL)
		event_free(cd.tcp_ev);
	cd.tcp_ev = NULL;
	dnstcp_free(cd.tcp);
	cd.tcp = NULL;
	for (i = 0; i < 2; i++) {
		if (cd.fwd_ev[i] != NULL)
			event_free(cd.fwd_ev[i]);
		cd.fwd_ev[i] = NULL;
		if (cd.fwd[i] >= 0)
			close(cd.fwd[i]);
		cd.fwd[i] = -1;
	}
	if (cd.up + cd.replies + cd.fwd_out > 0 || cd.up_dropped > 0)
		log_info("DNS: %" PRIu64 " queries up (%" PRIu64 " dropped), "
		    "%" PRIu64 " answers into the TUN (%" PRIu64 " failed), "
		    "%" PRIu64 " forwarded (%" PRIu64 " failed), %" PRIu64
		    " upstream answers", cd.up, cd.up_dropped, cd.replies,
		    cd.reply_errors, cd.fwd_out, cd.fwd_errors, cd.fwd_in);
}

bool
cdns_owns(uint32_t sock)
{
	return sock == IPC_SOCK_DNS_FWD4 || sock == IPC_SOCK_DNS_FWD6;
}

/* false: not an address, or not to port 53 (a violation). */
bool
cdns_down(struct svc *s, const struct ipc_dgram_down *d)
{
	union fz_sockaddr to;
	int fd;

	(void)s;
	if (addr_parse(d->to, ADDR_PORT_REQUIRED, &to) != 0 ||
	    addr_port(&to.sa) != 53)
		return false;
	addr_unmap_v4(&to);
	if ((d->sock == IPC_SOCK_DNS_FWD4) != (to.sa.sa_family == AF_INET))
		return false;
	fd = cd.fwd[d->sock == IPC_SOCK_DNS_FWD4 ? 0 : 1];
	if (fd < 0 || sendto(fd, d->payload, d->payload_len, 0, &to.sa,
	    addr_len(&to.sa)) < 0) {
		cd.fwd_errors++;
		if (log_ratelimit(&cd.rl))
			log_warn("DNS query to %s", d->to);
		return true;
	}
	cd.fwd_out++;
	return true;
}

/* An address of the tunnel interface's. */
static bool
ours(const struct svc *s, const union fz_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET)
		return s->iface.has4 && cidr_contains_sa(&s->iface.v4, &a->sa);
	return s->iface.has6 && cidr_contains_sa(&s->iface.v6, &a->sa);
}

bool
cdns_reply(struct svc *s, const struct ipc_dns_reply *r)
{
	union fz_sockaddr from, to;
	size_t len;
	int rc;

	if (addr_parse(r->from, ADDR_PORT_REQUIRED, &from) != 0 ||
	    addr_parse(r->to, ADDR_PORT_REQUIRED, &to) != 0)
		return false;
	addr_unmap_v4(&from);
	addr_unmap_v4(&to);
	if (from.sa.sa_family != to.sa.sa_family ||
	    addr_port(&from.sa) != 53 || addr_port(&to.sa) == 0 ||
	    !dnspkt_is_sentinel(from.sa.sa_family, from.sa.sa_family ==
	    AF_INET ? (const uint8_t *)&from.in4.sin_addr :
	    (const uint8_t *)&from.in6.sin6_addr))
		return false;
	if (!ours(s, &to) || s->dp == NULL) {
		cd.reply_errors++;	/* the address changed meanwhile */
		return true;
	}
	/* over TCP if the client asked over TCP, else over UDP */
	if (cd.tcp != NULL && (rc = dnstcp_answer(cd.tcp, &from, &to,
	    r->payload, r->payload_len)) != -ENOENT) {
		if (rc != 0)
			cd.reply_errors++;
		else
			cd.replies++;
		return true;
	}
	if ((rc = dnspkt_build(&from, &to, r->payload, r->payload_len,
	    cd.buf, sizeof(cd.buf), &len)) != 0 ||
	    (rc = dp_tun_inject(s->dp, cd.buf, len)) != 0) {
		cd.reply_errors++;
		if (log_ratelimit(&cd.rl))
			log_warnc(-rc, "DNS answer to %s", r->to);
		return true;
	}
	cd.replies++;
	return true;
}
