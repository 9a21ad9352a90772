/* SPDX-License-Identifier: ISC */
/* The gateway's DNS server on its tunnel addresses (gw_dnssrv.h). */
#define LOG_MODULE "gwdns"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "fztime.h"
#include "gw_dnsfwd.h"
#include "gw_dnssrv.h"
#include "log.h"

#define BIND_ATTEMPTS	3
#define BIND_RETRY_US	100000		/* §5.1: 100 ms apart */
#define TICK_S		1
#define TCP_IDLE_S	10
#define TAG_TCP		0x80000000u

struct tcpc {
	struct bufferevent	*bev;
	uint32_t		 gen;
	union fz_sockaddr	 peer;
};

/* One family's listening sockets. */
struct lsn {
	struct gw_dnssrv	*s;
	int			 family;
	union fz_sockaddr	 addr;		/* AF_UNSPEC: none wanted */
	int			 udp, tcp;	/* -1: not bound */
	struct event		*ev_udp, *ev_tcp;
	struct event		*retry;
	unsigned		 attempts;
};

struct gw_dnssrv {
	struct event_base	*base;
	struct gw_dnsfwd	*fwd;
	struct lsn		 l[2];		/* IPv4, IPv6 */
	int			 up[2];		/* upstream sockets, -1 */
	struct event		*ev_up[2];
	struct event		*tick;
	uint64_t		 next_probe;
	struct tcpc		 tcp[GW_DNSSRV_MAX_TCP];
	uint32_t		 gen;
	struct log_ratelimit	 rl;
	uint8_t			 buf[65535], out[65535];
};

static int
fam_ix(int family)
{
	return family == AF_INET6;
}

static void
rng(void *arg, void *buf, size_t len)
{
	(void)arg;
	randombytes_buf(buf, len);
}

/* --- sending ------------------------------------------------------------- */

static void	tcp_close(struct gw_dnssrv *, unsigned);
static void	up_read(evutil_socket_t, short, void *);

static int
upstream_sock(struct gw_dnssrv *s, int family)
{
	int i = fam_ix(family), fd;

	if (s->up[i] >= 0)
		return s->up[i];
	if ((fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	if ((s->ev_up[i] = event_new(s->base, fd, EV_READ | EV_PERSIST,
	    up_read, s)) == NULL || event_add(s->ev_up[i], NULL) != 0) {
		if (s->ev_up[i] != NULL)
			event_free(s->ev_up[i]);
		s->ev_up[i] = NULL;
		close(fd);
		return -ENOMEM;
	}
	s->up[i] = fd;
	return fd;
}

static void
act(struct gw_dnssrv *s, const struct gw_dnsfwd_out *o)
{
	char a[ADDR_STRLEN];
	int fd;

	switch (o->verdict) {
	case GW_DNSFWD_FORWARD:
		if ((fd = upstream_sock(s, o->server.sa.sa_family)) < 0 ||
		    sendto(fd, s->out, o->len, 0, &o->server.sa,
		    addr_len(&o->server.sa)) < 0) {
			if (log_ratelimit(&s->rl) && addr_fmt(&o->server.sa,
			    true, a, sizeof(a)) == 0)
				log_warn("DNS to %s", a);
		}
		return;
	case GW_DNSFWD_REPLY:
		if (o->client.tag & TAG_TCP) {
			unsigned slot = o->client.tag & 0xff;
			uint8_t l[2] = { (uint8_t)(o->len >> 8),
			    (uint8_t)o->len };
			struct tcpc *t;

			if (slot >= GW_DNSSRV_MAX_TCP)
				return;
			t = &s->tcp[slot];
			/* the connection may have gone, its slot reused */
			if (t->bev == NULL || t->gen != (o->client.tag >> 8 &
			    0x7fffff))
				return;
			if (bufferevent_write(t->bev, l, 2) != 0 ||
			    bufferevent_write(t->bev, s->out, o->len) != 0)
				tcp_close(s, slot);
			return;
		}
		fd = s->l[o->client.tag & 1].udp;
		if (fd >= 0 && sendto(fd, s->out, o->len, 0,
		    &o->client.addr.sa, addr_len(&o->client.addr.sa)) < 0 &&
		    log_ratelimit(&s->rl))
			log_warn("DNS answer");
		return;
	case GW_DNSFWD_PROBED:
		return;
	}
}

static void
query(struct gw_dnssrv *s, const uint8_t *msg, size_t len,
    const struct gw_dnsfwd_client *c)
{
	struct gw_dnsfwd_out o;
	int rc;

	if ((rc = gw_dnsfwd_query(s->fwd, msg, len, c, time_mono_ns(),
	    s->out, sizeof(s->out), &o)) != 0) {
		if (log_ratelimit(&s->rl))
			log_debug("query of %zu bytes: %s", len, strerror(-rc));
		return;
	}
	act(s, &o);
}

/* --- reading ------------------------------------------------------------- */

static void
up_read(evutil_socket_t fd, short what, void *arg)
{
	struct gw_dnssrv *s = arg;
	struct gw_dnsfwd_out o;
	union fz_sockaddr from;
	unsigned n;

	(void)what;
	for (n = 0; n < 64; n++) {
		socklen_t fl = sizeof(from);
		ssize_t r = recvfrom(fd, s->buf, sizeof(s->buf), 0, &from.sa,
		    &fl);

		if (r < 0)
			return;
		addr_unmap_v4(&from);
		if (gw_dnsfwd_answer(s->fwd, s->buf, (size_t)r, &from.sa,
		    time_mono_ns(), s->out, sizeof(s->out), &o) == 0)
			act(s, &o);
	}
}

static void
udp_read(evutil_socket_t fd, short what, void *arg)
{
	struct lsn *l = arg;
	struct gw_dnsfwd_client c;
	unsigned n;

	(void)what;
	for (n = 0; n < 64; n++) {
		socklen_t fl = sizeof(c.addr);
		ssize_t r;

		memset(&c, 0, sizeof(c));
		if ((r = recvfrom(fd, l->s->buf, sizeof(l->s->buf), 0,
		    &c.addr.sa, &fl)) < 0)
			return;
		c.tag = (uint32_t)fam_ix(l->family);
		query(l->s, l->s->buf, (size_t)r, &c);
	}
}

static void
tcp_close(struct gw_dnssrv *s, unsigned slot)
{
	if (s->tcp[slot].bev != NULL)
		bufferevent_free(s->tcp[slot].bev);
	memset(&s->tcp[slot], 0, sizeof(s->tcp[slot]));
}

static unsigned
tcp_slot(struct gw_dnssrv *s, struct bufferevent *bev)
{
	unsigned i;

	for (i = 0; i < GW_DNSSRV_MAX_TCP; i++)
		if (s->tcp[i].bev == bev)
			return i;
	return GW_DNSSRV_MAX_TCP;
}

/* RFC 1035 4.2.2: each message behind a two-byte length. */
static void
tcp_read(struct bufferevent *bev, void *arg)
{
	struct gw_dnssrv *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct gw_dnsfwd_client c;
	unsigned slot = tcp_slot(s, bev);
	uint8_t l[2];
	size_t len;

	if (slot == GW_DNSSRV_MAX_TCP)
		return;
	while (evbuffer_copyout(in, l, 2) == 2) {
		len = (size_t)l[0] << 8 | l[1];
		if (len == 0) {
			tcp_close(s, slot);
			return;
		}
		if (evbuffer_get_length(in) < 2 + len)
			return;
		evbuffer_drain(in, 2);
		if (evbuffer_remove(in, s->buf, len) != (int)len) {
			tcp_close(s, slot);
			return;
		}
		memset(&c, 0, sizeof(c));
		c.addr = s->tcp[slot].peer;
		c.tag = TAG_TCP | s->tcp[slot].gen << 8 | slot;
		query(s, s->buf, len, &c);
		if (s->tcp[slot].bev != bev)	/* closed meanwhile */
			return;
	}
}

static void
tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct gw_dnssrv *s = arg;
	unsigned slot = tcp_slot(s, bev);

	(void)what;		/* EOF, error or idle: all close */
	if (slot < GW_DNSSRV_MAX_TCP)
		tcp_close(s, slot);
}

static void
tcp_accept(evutil_socket_t fd, short what, void *arg)
{
	struct lsn *l = arg;
	struct gw_dnssrv *s = l->s;
	struct timeval idle = { TCP_IDLE_S, 0 };
	union fz_sockaddr peer;
	socklen_t pl = sizeof(peer);
	unsigned i;
	int c;

	(void)what;
	if ((c = accept4(fd, &peer.sa, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC)) <
	    0)
		return;
	for (i = 0; i < GW_DNSSRV_MAX_TCP && s->tcp[i].bev != NULL; i++)
		;
	if (i == GW_DNSSRV_MAX_TCP) {
		if (log_ratelimit(&s->rl))
			log_warnx("%u DNS TCP clients: one more refused",
			    GW_DNSSRV_MAX_TCP);
		close(c);
		return;
	}
	if ((s->tcp[i].bev = bufferevent_socket_new(s->base, c,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(c);
		return;
	}
	s->tcp[i].gen = ++s->gen & 0x7fffff;
	s->tcp[i].peer = peer;
	addr_unmap_v4(&s->tcp[i].peer);
	{
		char a[ADDR_STRLEN];

		if (addr_fmt(&s->tcp[i].peer.sa, true, a, sizeof(a)) == 0)
			log_debug("DNS TCP client %s", a);
	}
	bufferevent_setcb(s->tcp[i].bev, tcp_read, NULL, tcp_event, s);
	bufferevent_set_timeouts(s->tcp[i].bev, &idle, &idle);
	bufferevent_setwatermark(s->tcp[i].bev, EV_READ, 0, 2 + 65535);
	if (bufferevent_enable(s->tcp[i].bev, EV_READ | EV_WRITE) != 0)
		tcp_close(s, i);
}

/* --- listening ----------------------------------------------------------- */

static void
lsn_close(struct lsn *l)
{
	if (l->ev_udp != NULL)
		event_free(l->ev_udp);
	if (l->ev_tcp != NULL)
		event_free(l->ev_tcp);
	l->ev_udp = l->ev_tcp = NULL;
	if (l->udp >= 0)
		close(l->udp);
	if (l->tcp >= 0)
		close(l->tcp);
	l->udp = l->tcp = -1;
}

static int
bound(const struct lsn *l, int type, bool freebind)
{
	int fd, one = 1;

	if ((fd = socket(l->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	if (l->family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto fail;
	if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR,
	    &one, sizeof(one)) != 0)
		goto fail;
	if (freebind && (l->family == AF_INET ?
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) :
	    setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one))) !=
	    0)
		goto fail;
	if (bind(fd, &l->addr.sa, addr_len(&l->addr.sa)) != 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) != 0))
		goto fail;
	return fd;
fail:
	one = -errno;
	close(fd);
	return one;
}

static int
lsn_open(struct lsn *l, bool freebind)
{
	int rc;

	if ((rc = bound(l, SOCK_DGRAM, freebind)) < 0)
		return rc;
	l->udp = rc;
	if ((rc = bound(l, SOCK_STREAM, freebind)) < 0) {
		lsn_close(l);
		return rc;
	}
	l->tcp = rc;
	if ((l->ev_udp = event_new(l->s->base, l->udp, EV_READ | EV_PERSIST,
	    udp_read, l)) == NULL || (l->ev_tcp = event_new(l->s->base,
	    l->tcp, EV_READ | EV_PERSIST, tcp_accept, l)) == NULL ||
	    event_add(l->ev_udp, NULL) != 0 || event_add(l->ev_tcp, NULL) !=
	    0) {
		lsn_close(l);
		return -ENOMEM;
	}
	return 0;
}

static void
lsn_try(evutil_socket_t fd, short what, void *arg)
{
	struct lsn *l = arg;
	struct timeval tv = { 0, BIND_RETRY_US };
	char a[ADDR_STRLEN];
	bool freebind = l->attempts >= BIND_ATTEMPTS;
	int rc;

	(void)fd;
	(void)what;
	if (l->addr.sa.sa_family == AF_UNSPEC)
		return;
	if (addr_fmt(&l->addr.sa, true, a, sizeof(a)) != 0)
		a[0] = '\0';
	l->attempts++;
	if ((rc = lsn_open(l, freebind)) == 0) {
		log_info("DNS server on %s (UDP, TCP)%s", a, freebind ?
		    " (bound before the address came up)" : "");
		return;
	}
	if (freebind) {
		log_warnc(-rc, "DNS server on %s: not listening", a);
		return;
	}
	log_debug("DNS server on %s: attempt %u: %s", a, l->attempts,
	    strerror(-rc));
	evtimer_add(l->retry, &tv);
}

static void
lsn_set(struct lsn *l, const char *ip)
{
	union fz_sockaddr a;

	memset(&a, 0, sizeof(a));
	if (ip != NULL && *ip != '\0' &&
	    (addr_parse(ip, ADDR_PORT_OPTIONAL, &a) != 0 ||
	    a.sa.sa_family != l->family)) {
		log_warnx("tunnel address '%s': no DNS server on it", ip);
		memset(&a, 0, sizeof(a));
	}
	if (a.sa.sa_family == l->family) {
		if (a.sa.sa_family == AF_INET)
			a.in4.sin_port = htons(GW_DNSFWD_PORT);
		else
			a.in6.sin6_port = htons(GW_DNSFWD_PORT);
	}
	if (addr_eq(&a.sa, &l->addr.sa) && (l->udp >= 0 ||
	    evtimer_pending(l->retry, NULL)))
		return;
	evtimer_del(l->retry);
	lsn_close(l);
	l->addr = a;
	l->attempts = 0;
	if (a.sa.sa_family != AF_UNSPEC)
		lsn_try(-1, 0, l);
}

void
gw_dnssrv_listen(struct gw_dnssrv *s, const char *ipv4, const char *ipv6)
{
	lsn_set(&s->l[0], ipv4);
	lsn_set(&s->l[1], ipv6);
}

/* --- probes and expiry --------------------------------------------------- */

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct gw_dnssrv *s = arg;
	struct gw_dnsfwd_out o;
	uint64_t now = time_mono_ns();
	size_t i;

	(void)fd;
	(void)what;
	gw_dnsfwd_expire(s->fwd, now);
	if (now < s->next_probe)
		return;
	s->next_probe = now + GW_DNSFWD_PROBE_INTERVAL_NS;
	for (i = 0; i < GW_DNSFWD_MAX_SERVERS; i++)
		if (gw_dnsfwd_probe(s->fwd, i, now, s->out, sizeof(s->out),
		    &o) == 0)
			act(s, &o);
}

int
gw_dnssrv_read_servers(const char *path, union fz_sockaddr *out, size_t max,
    size_t *n)
{
	char text[16384];
	size_t len;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	for (len = 0; len < sizeof(text); len += (size_t)r)
		if ((r = read(fd, text + len, sizeof(text) - len)) <= 0)
			break;
	close(fd);
	return gw_dnsfwd_resolv_parse(text, len, out, max, n);
}

int
gw_dnssrv_new(struct event_base *base, const union fz_sockaddr *servers,
    size_t n, struct gw_dnssrv **out)
{
	struct timeval tv = { TICK_S, 0 };
	struct gw_dnssrv *s;
	unsigned i;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->base = base;
	s->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 5);
	s->up[0] = s->up[1] = -1;
	for (i = 0; i < 2; i++) {
		s->l[i].s = s;
		s->l[i].family = i ? AF_INET6 : AF_INET;
		s->l[i].udp = s->l[i].tcp = -1;
		if ((s->l[i].retry = evtimer_new(base, lsn_try, &s->l[i])) ==
		    NULL) {
			gw_dnssrv_free(s);
			return -ENOMEM;
		}
	}
	if ((s->fwd = gw_dnsfwd_new(rng, NULL)) == NULL ||
	    (s->tick = event_new(base, -1, EV_PERSIST, tick, s)) == NULL ||
	    event_add(s->tick, &tv) != 0) {
		gw_dnssrv_free(s);
		return -ENOMEM;
	}
	if ((rc = gw_dnsfwd_set_servers(s->fwd, servers, n)) != 0) {
		gw_dnssrv_free(s);
		return rc;
	}
	log_info("DNS forwarder: %zu nameserver(s)%s", n, n ? "" :
	    " (every query gets SERVFAIL)");
	tick(-1, 0, s);		/* the first probes now */
	*out = s;
	return 0;
}

void
gw_dnssrv_free(struct gw_dnssrv *s)
{
	unsigned i;

	if (s == NULL)
		return;
	for (i = 0; i < GW_DNSSRV_MAX_TCP; i++)
		tcp_close(s, i);
	for (i = 0; i < 2; i++) {
		lsn_close(&s->l[i]);
		if (s->l[i].retry != NULL)
			event_free(s->l[i].retry);
		if (s->ev_up[i] != NULL)
			event_free(s->ev_up[i]);
		if (s->up[i] >= 0)
			close(s->up[i]);
	}
	if (s->tick != NULL)
		event_free(s->tick);
	gw_dnsfwd_free(s->fwd);
	free(s);
}
