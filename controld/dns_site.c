/* SPDX-License-Identifier: ISC */
/* SRV/TXT queries to a DNS resource's gateway (dns_site.h). */
#define LOG_MODULE "dns"

#include <errno.h>
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

void
dns_site_send(struct dns_site *s, const struct sockaddr *to,
    const uint8_t *msg, size_t len)
{
	char a[ADDR_STRLEN];
	int fd;

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
