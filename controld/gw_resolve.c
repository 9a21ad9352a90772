/* SPDX-License-Identifier: ISC */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gw_resolve.h"

struct req {
	gw_resolve_cb	 cb;
	void		*arg;
};

static bool
name_ok(const char *d)
{
	size_t n = strlen(d), i;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_'))
			return false;
	}
	return true;
}

/* Appends the ai_family addresses of res to list, distinct, capped. */
static void
collect(const struct evutil_addrinfo *res, int family, char *list,
    size_t cap)
{
	const struct evutil_addrinfo *a;
	char s[INET6_ADDRSTRLEN], item[INET6_ADDRSTRLEN + 3];
	char probe[GW_RESOLVE_LIST + 3];
	unsigned n = 0;
	size_t len;

	for (a = res; a != NULL && n < GW_RESOLVE_MAX; a = a->ai_next) {
		const void *p;

		if (a->ai_family != family || a->ai_addr == NULL)
			continue;
		if (family == AF_INET)
			p = &((const struct sockaddr_in *)(const void *)
			    a->ai_addr)->sin_addr;
		else
			p = &((const struct sockaddr_in6 *)(const void *)
			    a->ai_addr)->sin6_addr;
		if (inet_ntop(family, p, s, sizeof(s)) == NULL)
			continue;
		/* distinct: compare whole items of the ", " list */
		snprintf(probe, sizeof(probe), " %s,", list);
		snprintf(item, sizeof(item), " %s,", s);
		if (strstr(probe, item) != NULL)
			continue;
		len = strlen(list);
		if (len + strlen(s) + 3 > cap)
			break;
		snprintf(list + len, cap - len, "%s%s", len > 0 ? ", " : "", s);
		n++;
	}
}

static void
done(int result, struct evutil_addrinfo *res, void *arg)
{
	struct req *r = arg;
	char list[GW_RESOLVE_LIST] = "";
	int err = 0;

	if (result == 0) {
		collect(res, AF_INET, list, sizeof(list));
		collect(res, AF_INET6, list, sizeof(list));
		if (list[0] == '\0')
			err = -ENOENT;
	} else if (result == EVUTIL_EAI_NONAME || result == EVUTIL_EAI_NODATA)
		err = -ENOENT;
	else if (result == EVUTIL_EAI_CANCEL)
		err = -ECANCELED;
	else
		err = -EAGAIN;
	if (res != NULL)
		evutil_freeaddrinfo(res);
	r->cb(r->arg, err, list);
	free(r);
}

int
gw_resolve(struct evdns_base *dns, const char *domain, gw_resolve_cb cb,
    void *arg)
{
	struct evutil_addrinfo hints;
	struct req *r;

	if (dns == NULL || domain == NULL || cb == NULL || !name_ok(domain))
		return -EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->cb = cb;
	r->arg = arg;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;	/* A and AAAA */
	hints.ai_socktype = SOCK_STREAM;	/* one entry per address */
	/* r belongs to done() from here on, which may run before this
	 * returns (hosts file, an immediate error). */
	(void)evdns_getaddrinfo(dns, domain, NULL, &hints, done, r);
	return 0;
}
