/* SPDX-License-Identifier: ISC */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* Parses a decimal port with no sign, no spaces and no leading zeros run. */
static int
parse_port(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	size_t i;

	if (*s == '\0' || strlen(s) > 5)
		return -EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int
parse_v6(const char *s, union fz_sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *pct = strchr(s, '%');
	size_t hl = pct != NULL ? (size_t)(pct - s) : strlen(s);
	uint32_t scope = 0;

	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (pct != NULL) {
		if (pct[1] == '\0' || strlen(pct + 1) >= IF_NAMESIZE)
			return -EINVAL;
		scope = if_nametoindex(pct + 1);
		if (scope == 0) {
			uint16_t n;

			/* Numeric scope ids are accepted as well. */
			if (parse_port(pct + 1, &n) != 0 || n == 0)
				return -EINVAL;
			scope = n;
		}
	}
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET6, host, &sa->in6.sin6_addr) != 1)
		return -EINVAL;
	sa->in6.sin6_family = AF_INET6;
	sa->in6.sin6_scope_id = scope;
	return 0;
}

int
addr_parse(const char *s, enum addr_port pm, union fz_sockaddr *out)
{
	union fz_sockaddr sa;
	char tmp[ADDR_STRLEN];
	const char *port = NULL;
	uint16_t pn = 0;
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n + 1);

	if (tmp[0] == '[') {
		char *close = strchr(tmp, ']');

		if (close == NULL)
			return -EINVAL;
		*close = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -EINVAL;
		if (parse_v6(tmp + 1, &sa) != 0)
			return -EINVAL;
	} else if (strchr(tmp, ':') != NULL &&
	    strchr(tmp, ':') != strrchr(tmp, ':')) {
		/* Two or more colons without brackets: a bare IPv6 address. */
		if (parse_v6(tmp, &sa) != 0)
			return -EINVAL;
	} else {
		char *colon = strchr(tmp, ':');

		if (colon != NULL) {
			*colon = '\0';
			port = colon + 1;
		}
		memset(&sa, 0, sizeof(sa));
		if (inet_pton(AF_INET, tmp, &sa.in4.sin_addr) != 1)
			return -EINVAL;
		sa.in4.sin_family = AF_INET;
	}

	if (port != NULL) {
		if (pm == ADDR_PORT_NONE || parse_port(port, &pn) != 0)
			return -EINVAL;
	} else if (pm == ADDR_PORT_REQUIRED)
		return -EINVAL;
	addr_set_port(&sa.sa, pn);
	*out = sa;
	return 0;
}

int
addr_fmt(const struct sockaddr *sa, bool with_port, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN], scope[IF_NAMESIZE + 2] = "";
	int n;

	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in4 = (const void *)sa;

		if (inet_ntop(AF_INET, &in4->sin_addr, host,
		    sizeof(host)) == NULL)
			return -EINVAL;
		n = with_port ? snprintf(buf, len, "%s:%u", host,
		    ntohs(in4->sin_port)) : snprintf(buf, len, "%s", host);
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		if (inet_ntop(AF_INET6, &in6->sin6_addr, host,
		    sizeof(host)) == NULL)
			return -EINVAL;
		if (in6->sin6_scope_id != 0)
			snprintf(scope, sizeof(scope), "%%%u",
			    in6->sin6_scope_id);
		n = with_port ? snprintf(buf, len, "[%s%s]:%u", host, scope,
		    ntohs(in6->sin6_port)) :
		    snprintf(buf, len, "%s%s", host, scope);
		break;
	}
	default:
		return -EAFNOSUPPORT;
	}
	if (n < 0 || (size_t)n >= len)
		return -ENOBUFS;
	return 0;
}

socklen_t
addr_len(const struct sockaddr *sa)
{
	switch (sa->sa_family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	default:
		return 0;
	}
}

uint16_t
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

void
addr_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)(void *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(port);
}

bool
addr_eq(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
		    *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		    x->sin6_scope_id == y->sin6_scope_id &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

int
addr_list_parse(const char *s, enum addr_port port, union fz_sockaddr *out,
    size_t max, size_t *n)
{
	char tok[ADDR_STRLEN];
	size_t k = 0, l;

	while (*s != '\0') {
		s += strspn(s, ", ");
		if (*s == '\0')
			break;
		l = strcspn(s, ", ");
		if (l >= sizeof(tok))
			return -EINVAL;
		memcpy(tok, s, l);
		tok[l] = '\0';
		s += l;
		if (k == max)
			return -E2BIG;
		if (addr_parse(tok, port, &out[k]) != 0)
			return -EINVAL;
		addr_unmap_v4(&out[k]);
		k++;
	}
	*n = k;
	return 0;
}

void
addr_unmap_v4(union fz_sockaddr *sa)
{
	struct sockaddr_in in4;

	if (sa->sa.sa_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&sa->in6.sin6_addr))
		return;
	memset(&in4, 0, sizeof(in4));
	in4.sin_family = AF_INET;
	in4.sin_port = sa->in6.sin6_port;
	memcpy(&in4.sin_addr, &sa->in6.sin6_addr.s6_addr[12], 4);
	memset(sa, 0, sizeof(*sa));
	sa->in4 = in4;
}

static void
mask_host_bits(uint8_t *a, size_t alen, unsigned prefix)
{
	size_t i;

	for (i = 0; i < alen; i++) {
		unsigned bits = i * 8 >= prefix ? 0 :
		    prefix - i * 8 >= 8 ? 8 : prefix - i * 8;

		a[i] &= (uint8_t)(0xff00 >> bits);
	}
}

int
cidr_parse(const char *s, bool strict, struct fz_cidr *out)
{
	struct fz_cidr c;
	char tmp[INET6_ADDRSTRLEN + 5];
	const char *slash;
	size_t hl;
	unsigned maxp, p;
	uint8_t orig[16];

	if (s == NULL)
		return -EINVAL;
	slash = strchr(s, '/');
	hl = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (hl == 0 || hl >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, hl);
	tmp[hl] = '\0';

	memset(&c, 0, sizeof(c));
	if (inet_pton(AF_INET, tmp, c.addr) == 1) {
		c.family = AF_INET;
		maxp = 32;
	} else if (inet_pton(AF_INET6, tmp, c.addr) == 1) {
		c.family = AF_INET6;
		maxp = 128;
	} else
		return -EINVAL;

	p = maxp;
	if (slash != NULL) {
		const char *d = slash + 1;
		size_t i, dl = strlen(d);

		if (dl == 0 || dl > 3)
			return -EINVAL;
		for (p = 0, i = 0; i < dl; i++) {
			if (d[i] < '0' || d[i] > '9')
				return -EINVAL;
			p = p * 10 + (unsigned)(d[i] - '0');
		}
		if (p > maxp)
			return -EINVAL;
	}
	c.prefix = (uint8_t)p;
	memcpy(orig, c.addr, sizeof(orig));
	mask_host_bits(c.addr, maxp / 8, p);
	if (strict && memcmp(orig, c.addr, maxp / 8) != 0)
		return -EINVAL;
	*out = c;
	return 0;
}

int
cidr_fmt(const struct fz_cidr *c, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	int n;

	if ((c->family != AF_INET && c->family != AF_INET6) ||
	    inet_ntop(c->family, c->addr, host, sizeof(host)) == NULL)
		return -EINVAL;
	n = snprintf(buf, len, "%s/%u", host, c->prefix);
	if (n < 0 || (size_t)n >= len)
		return -ENOBUFS;
	return 0;
}

bool
cidr_contains(const struct fz_cidr *c, int family, const void *addr)
{
	const uint8_t *a = addr;
	unsigned full, rem;

	if (family != c->family)
		return false;
	full = c->prefix / 8;
	rem = c->prefix % 8;
	if (memcmp(a, c->addr, full) != 0)
		return false;
	if (rem != 0 && ((a[full] ^ c->addr[full]) & (0xff00 >> rem) & 0xff))
		return false;
	return true;
}

bool
cidr_contains_sa(const struct fz_cidr *c, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return cidr_contains(c, AF_INET,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return cidr_contains(c, AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}
