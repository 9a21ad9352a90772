/* SPDX-License-Identifier: ISC */
/* SRV/TXT queries to a DNS resource's gateway (dns_site.h). */
#define LOG_MODULE "dns"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "dns_site.h"
#include "log.h"

struct dns_site {
	struct event_base	*base;
	dns_site_answer_fn	 fn;
	void			*arg;
	int			 fd[2];		/* IPv4, IPv6; -1 */
	struct event		*ev[2];
	struct dns_site_tcp {
		struct bufferevent	*bev;
		union fz_sockaddr	 peer;
	}			 tcp[DNS_SITE_MAX_TCP];
	struct log_ratelimit	 rl;
	uint8_t			 buf[65535];
};

static void
site_read(evutil_socket_t fd, short what, void *arg)
{
	struct dns_site *s = arg;
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
		s->fn(s->arg, &from.sa, s->buf, (size_t)r);
	}
}

int
dns_site_new(struct event_base *base, dns_site_answer_fn fn, void *arg,
    struct dns_site **out)
{
	struct dns_site *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->base = base;
	s->fn = fn;
	s->arg = arg;
	s->fd[0] = s->fd[1] = -1;
	s->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 5);
	*out = s;
	return 0;
}

void
dns_site_free(struct dns_site *s)
{
	unsigned i;

	if (s == NULL)
		return;
	for (i = 0; i < DNS_SITE_MAX_TCP; i++)
		if (s->tcp[i].bev != NULL)
			bufferevent_free(s->tcp[i].bev);
	for (i = 0; i < 2; i++) {
		if (s->ev[i] != NULL)
			event_free(s->ev[i]);
		if (s->fd[i] >= 0)
			close(s->fd[i]);
	}
	free(s);
}

static int
sock(struct dns_site *s, int family)
{
	int i = family == AF_INET6, fd;

	if (s->fd[i] >= 0)
		return s->fd[i];
	if ((fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	if ((s->ev[i] = event_new(s->base, fd, EV_READ | EV_PERSIST,
	    site_read, s)) == NULL || event_add(s->ev[i], NULL) != 0) {
		if (s->ev[i] != NULL)
			event_free(s->ev[i]);
		s->ev[i] = NULL;
		close(fd);
		return -ENOMEM;
	}
	s->fd[i] = fd;
	return fd;
}

static struct dns_site_tcp *
tcp_of(struct dns_site *s, struct bufferevent *bev)
{
	unsigned i;

	for (i = 0; i < DNS_SITE_MAX_TCP; i++)
		if (s->tcp[i].bev == bev)
			return &s->tcp[i];
	return NULL;
}

static void
tcp_close(struct dns_site_tcp *t)
{
	bufferevent_free(t->bev);
	memset(t, 0, sizeof(*t));
}

/* The answer (one message behind its length), then the connection goes. */
static void
tcp_read(struct bufferevent *bev, void *arg)
{
	struct dns_site *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct dns_site_tcp *t = tcp_of(s, bev);
	union fz_sockaddr peer;
	uint8_t l[2];
	size_t len;

	if (t == NULL || evbuffer_copyout(in, l, 2) != 2)
		return;
	len = (size_t)l[0] << 8 | l[1];
	if (evbuffer_get_length(in) < 2 + len)
		return;
	peer = t->peer;
	if (len > 0 && evbuffer_drain(in, 2) == 0 &&
	    evbuffer_remove(in, s->buf, len) == (int)len) {
		tcp_close(t);
		s->fn(s->arg, &peer.sa, s->buf, len);
		return;
	}
	tcp_close(t);
}

static void
tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct dns_site *s = arg;
	struct dns_site_tcp *t = tcp_of(s, bev);

	if (t == NULL || (what & BEV_EVENT_CONNECTED))
		return;
	tcp_close(t);		/* EOF, error, timeout: no answer */
}

static int
tcp_send(struct dns_site *s, const struct sockaddr *to, const uint8_t *msg,
    size_t len)
{
	struct timeval tmo = { DNS_SITE_TCP_TIMEOUT_S, 0 };
	struct dns_site_tcp *t = NULL;
	uint8_t l[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	unsigned i;

	if (len > 65535)
		return -EMSGSIZE;
	for (i = 0; i < DNS_SITE_MAX_TCP && t == NULL; i++)
		if (s->tcp[i].bev == NULL)
			t = &s->tcp[i];
	if (t == NULL)
		return -EBUSY;
	if ((t->bev = bufferevent_socket_new(s->base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return -ENOMEM;
	memcpy(&t->peer, to, addr_len(to));
	bufferevent_setcb(t->bev, tcp_read, NULL, tcp_event, s);
	bufferevent_set_timeouts(t->bev, &tmo, &tmo);
	bufferevent_setwatermark(t->bev, EV_READ, 0, 2 + 65535);
	if (bufferevent_enable(t->bev, EV_READ | EV_WRITE) != 0 ||
	    bufferevent_write(t->bev, l, 2) != 0 ||
	    bufferevent_write(t->bev, msg, len) != 0 ||
	    bufferevent_socket_connect(t->bev, to, (int)addr_len(to)) != 0) {
		/* a failed connect may have freed nothing: ours to free */
		if (t->bev != NULL)
			tcp_close(t);
		return -ECONNREFUSED;
	}
	return 0;
}

void
dns_site_send(struct dns_site *s, const struct sockaddr *to, bool tcp,
    const uint8_t *msg, size_t len)
{
	char a[ADDR_STRLEN];
	int fd, rc;

	if (tcp) {
		if ((rc = tcp_send(s, to, msg, len)) != 0 &&
		    log_ratelimit(&s->rl) && addr_fmt(to, true, a,
		    sizeof(a)) == 0)
			log_warnc(-rc, "SRV/TXT query over TCP to the gateway "
			    "at %s", a);
		else if (rc == 0)
			log_debug("SRV/TXT query of %zu bytes to the "
			    "gateway's resolver over TCP", len);
		return;
	}
	if ((fd = sock(s, to->sa_family)) < 0 ||
	    sendto(fd, msg, len, 0, to, addr_len(to)) < 0) {
		if (log_ratelimit(&s->rl) && addr_fmt(to, true, a,
		    sizeof(a)) == 0)
			log_warnc(fd < 0 ? -fd : errno, "SRV/TXT query to the "
			    "gateway at %s", a);
		return;
	}
	log_debug("SRV/TXT query of %zu bytes to the gateway's resolver",
	    len);
}
