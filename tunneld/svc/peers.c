/* SPDX-License-Identifier: ISC */
/*
 * Peers and paths from fz-controld, the pure part (tests/unit/check_svc):
 * PEER_SET's text fields checked and turned into keys, prefixes and a
 * socket address, before anything reaches the data plane.  fz-controld is
 * not trusted: anything that does not parse, or a path that is neither
 * exactly direct nor exactly relayed, is -EINVAL, which the caller treats
 * as a protocol violation (compromise), as for INTERFACE.  The socket list
 * for LOCAL_SOCKETS is formatted here too.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "dataplane.h"
#include "svc.h"

/* A peer's address or relay: "a.b.c.d:port" / "[v6]:port", port > 0. */
static int
parse_remote(const char *s, union fz_sockaddr *out)
{
	union fz_sockaddr sa;

	if (addr_parse(s, ADDR_PORT_REQUIRED, &sa) != 0 ||
	    addr_port(&sa.sa) == 0)
		return -EINVAL;
	addr_unmap_v4(&sa);
	if (sa.sa.sa_family == AF_INET) {
		uint32_t a = ntohl(sa.in4.sin_addr.s_addr);

		/* unspecified, multicast or broadcast: not a peer */
		if (a == 0 || (a >> 28) == 0xe || a == 0xffffffffu)
			return -EINVAL;
	} else {
		if (IN6_IS_ADDR_UNSPECIFIED(&sa.in6.sin6_addr) ||
		    IN6_IS_ADDR_MULTICAST(&sa.in6.sin6_addr))
			return -EINVAL;
	}
	*out = sa;
	return 0;
}

/* "cidr, cidr": each strict (no host bits past the prefix). */
static int
parse_allowed(const char *s, struct svc_peer_spec *sp)
{
	char item[80];
	const char *p = s, *end;
	size_t n;

	sp->nallowed = 0;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == 0 || n >= sizeof(item) ||
		    sp->nallowed == SVC_PEER_ALLOWED_MAX)
			return -EINVAL;
		memcpy(item, p, n);
		item[n] = '\0';
		if (cidr_parse(item, true, &sp->allowed[sp->nallowed]) != 0)
			return -EINVAL;
		sp->nallowed++;
		if (end == NULL)
			break;
		p = end + 1;
		if (*p == '\0')
			return -EINVAL;		/* a trailing comma */
	}
	return 0;
}

int
svc_peer_parse(const struct ipc_peer_set *m, struct svc_peer_spec *sp)
{
	bool direct, relayed;
	int want;

	memset(sp, 0, sizeof(*sp));
	if (wg_key_from_base64(m->public_key, sp->pub) != 0)
		goto bad;
	if (*m->psk != '\0') {
		if (wg_key_from_base64(m->psk, sp->psk) != 0)
			goto bad;
		sp->has_psk = true;
	}
	if (parse_allowed(m->allowed_ips, sp) != 0)
		goto bad;
	direct = *m->remote != '\0' && *m->relay == '\0' && m->channel == 0;
	relayed = *m->remote == '\0' && *m->relay != '\0' &&
	    m->channel >= DP_CHANNEL_MIN && m->channel <= DP_CHANNEL_MAX;
	if (!direct && !relayed)
		goto bad;
	if (parse_remote(direct ? m->remote : m->relay, &sp->to) != 0)
		goto bad;
	sp->channel = relayed ? (uint16_t)m->channel : 0;
	/* The socket must be the one of the address's family. */
	if (m->sock != DP_SOCK_UDP4 && m->sock != DP_SOCK_UDP6)
		goto bad;
	want = m->sock == DP_SOCK_UDP4 ? AF_INET : AF_INET6;
	if (sp->to.sa.sa_family != want)
		goto bad;
	sp->sock = m->sock;
	sp->initiate = m->initiate;
	return 0;
bad:
	sodium_memzero(sp, sizeof(*sp));
	return -EINVAL;
}

/*
 * "4=10.0.0.2:52625, 6=[fd00::2]:52625": each of the sockets that exists
 * (have4, have6) at every address of its family on the host, loopback
 * only when nothing else is; link-local IPv6 left out (no scope on the
 * wire), and the tunnel's own addresses (interface skip, may be NULL).
 * ifa may be NULL (none).  -ENOSPC when it does not all fit.
 */
int
svc_sockets_fmt(const struct ifaddrs *ifa, const char *skip, bool have4,
    bool have6, uint16_t port, char *out, size_t cap)
{
	const struct ifaddrs *i;
	size_t len = 0;
	int pass, w;
	char a[ADDR_STRLEN];

	if (cap == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (pass = 0; pass < 2 && len == 0; pass++) {
		for (i = ifa; i != NULL; i = i->ifa_next) {
			union fz_sockaddr sa;
			int fam;
			bool lo;

			if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP) ||
			    (skip != NULL && i->ifa_name != NULL &&
			    strcmp(i->ifa_name, skip) == 0))
				continue;
			fam = i->ifa_addr->sa_family;
			if ((fam != AF_INET || !have4) &&
			    (fam != AF_INET6 || !have6))
				continue;
			lo = (i->ifa_flags & IFF_LOOPBACK) != 0;
			if (lo != (pass == 1))
				continue;	/* loopback: the second pass */
			memset(&sa, 0, sizeof(sa));
			memcpy(&sa, i->ifa_addr, fam == AF_INET ?
			    sizeof(sa.in4) : sizeof(sa.in6));
			if (fam == AF_INET6 &&
			    IN6_IS_ADDR_LINKLOCAL(&sa.in6.sin6_addr))
				continue;
			addr_set_port(&sa.sa, port);
			if (addr_fmt(&sa.sa, true, a, sizeof(a)) != 0)
				continue;
			w = snprintf(out + len, cap - len, "%s%d=%s",
			    len > 0 ? ", " : "", fam == AF_INET ?
			    DP_SOCK_UDP4 : DP_SOCK_UDP6, a);
			if (w < 0 || (size_t)w >= cap - len) {
				out[len] = '\0';
				return -ENOSPC;
			}
			len += (size_t)w;
		}
	}
	return 0;
}
