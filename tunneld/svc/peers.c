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
#include <stdlib.h>
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

/* One token of a CONNECTIONS entry: up to sep or the end, at most max. */
static const char *
conn_tok(const char *s, const char *end, char *out, size_t max)
{
	size_t n = 0;

	while (s < end && *s != ' ') {
		if (n + 1 >= max)
			return NULL;
		out[n++] = *s++;
	}
	out[n] = '\0';
	if (n == 0)
		return NULL;
	return s < end ? s + 1 : s;
}

static bool
conn_num(const char *s, uint64_t max, uint64_t *v)
{
	char *e;
	unsigned long long x;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	x = strtoull(s, &e, 10);
	if (errno != 0 || *e != '\0' || x > max)
		return false;
	*v = x;
	return true;
}

int
svc_connections_merge(const char *list, svc_peer_bytes_fn bytes, void *arg,
    char *out, size_t len)
{
	const char *p = list, *end;
	char id[65], key[65], kind[16], addr[ADDR_STRLEN], ch[16], rtt[24],
	    since[24];
	uint8_t pub[WG_KEY_LEN];
	union fz_sockaddr sa;
	uint64_t vch, vrtt, vsince, rx, tx;
	size_t off = 0;
	int w;

	if (len == 0)
		return -ENOSPC;
	out[0] = '\0';
	while (*p != '\0') {
		const char *q;

		if ((end = strstr(p, "; ")) == NULL)
			end = p + strlen(p);
		q = p;
		if ((q = conn_tok(q, end, id, sizeof(id))) == NULL ||
		    (q = conn_tok(q, end, key, sizeof(key))) == NULL ||
		    (q = conn_tok(q, end, kind, sizeof(kind))) == NULL ||
		    (q = conn_tok(q, end, addr, sizeof(addr))) == NULL ||
		    (q = conn_tok(q, end, ch, sizeof(ch))) == NULL ||
		    (q = conn_tok(q, end, rtt, sizeof(rtt))) == NULL ||
		    (q = conn_tok(q, end, since, sizeof(since))) == NULL ||
		    q != end)
			goto bad;
		if (wg_key_from_base64(key, pub) != 0 ||
		    parse_remote(addr, &sa) != 0 ||
		    !conn_num(ch, 0x4fff, &vch) ||
		    !conn_num(rtt, UINT32_MAX, &vrtt) ||
		    !conn_num(since, UINT64_MAX / 2, &vsince))
			goto bad;
		/* relayed: our relay's channel, or 0 (the peer's relay) */
		if (strcmp(kind, "direct") == 0 ? vch != 0 :
		    strcmp(kind, "relayed") != 0 ||
		    (vch != 0 && vch < 0x4000))
			goto bad;
		rx = tx = 0;
		bytes(arg, pub, &rx, &tx);
		w = snprintf(out + off, len - off, "%s%s %s %s %s %s %s %llu %llu",
		    off > 0 ? "; " : "", id, kind, addr, ch, rtt, since,
		    (unsigned long long)rx, (unsigned long long)tx);
		if (w < 0 || (size_t)w >= len - off) {
			out[off] = '\0';
			sodium_memzero(pub, sizeof(pub));
			return -ENOSPC;
		}
		off += (size_t)w;
		p = *end != '\0' ? end + 2 : end;
		if (*end != '\0' && *p == '\0')
			goto bad;	/* a trailing separator */
	}
	return 0;
bad:
	out[0] = '\0';
	return -EINVAL;
}

int
svc_peer_stats_fmt(const struct svc_peer_count *c, size_t n, char *out,
    size_t cap)
{
	char key[45];
	size_t i, len = 0;
	int w;

	if (cap == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		wg_key_to_base64(c[i].key, key);
		w = snprintf(out + len, cap - len, "%s%s %llu %llu",
		    len > 0 ? "; " : "", key,
		    (unsigned long long)c[i].rx_bytes,
		    (unsigned long long)c[i].tx_bytes);
		if (w < 0 || (size_t)w >= cap - len) {
			out[len] = '\0';	/* whole entries only */
			return -ENOSPC;
		}
		len += (size_t)w;
	}
	return 0;
}
