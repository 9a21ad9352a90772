/* SPDX-License-Identifier: ISC */
/* The gateway's DNS-resource NAT table for one client (§5.3). */
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dnsnat.h"

#define P_ICMP	1
#define P_TCP	6
#define P_UDP	17
#define P_ICMP6	58

#define NBUCKET		1024	/* session hash buckets (power of 2) */
#define PXBUCKET	256	/* proxy hash buckets (power of 2) */

#define TCP_FIN	0x01
#define TCP_RST	0x04

struct proxy {
	struct fz_ip	proxy;
	int		has_target;
	struct fz_ip	real;
	char		*domain;
	int32_t		next;		/* hash chain */
};

struct sess {
	uint8_t		af, proto;
	uint16_t	in_port, out_port;
	uint8_t		proxy[16], real[16];
	uint64_t	last_ms;
	uint8_t		answered, fin_out, fin_in, rst;
	int32_t		next_in, next_out;	/* hash chains */
};

struct okey {
	uint8_t		af, proto;
	uint16_t	port;
	uint8_t		real[16];
};

struct dnsnat {
	struct proxy	*px;
	size_t		npx, pxcap;
	struct sess	*s;
	size_t		ns, scap;
	struct okey	gone[DNSNAT_EXPIRED_MEMORY];
	size_t		ngone, gonepos;
	struct dnsnat_stats st;
	int32_t		in_head[NBUCKET], out_head[NBUCKET];
	int32_t		px_head[PXBUCKET];
};

/* A parsed IP packet (or the quoted start of one inside an ICMP error). */
struct pkt {
	uint8_t		af, proto;
	size_t		alen;		/* 4 or 16 */
	uint8_t		*ip, *src, *dst, *l4;
	size_t		l4len;
};

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), over n (even) bytes. */
static void
csum_replace(uint8_t *csum, const uint8_t *old, const uint8_t *new, size_t n)
{
	uint32_t s = (uint16_t)~get16(csum);

	for (size_t i = 0; i + 1 < n; i += 2) {
		s += (uint16_t)~get16(old + i);
		s += get16(new + i);
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	put16(csum, (uint16_t)~s);
}

static void
csum_replace16(uint8_t *csum, uint16_t old, uint16_t new)
{
	uint8_t o[2], n[2];

	put16(o, old);
	put16(n, new);
	csum_replace(csum, o, n, 2);
}

static int
icmp_proto(uint8_t proto)
{
	return proto == P_ICMP || proto == P_ICMP6;
}

static int
is_echo_req(const struct pkt *k)
{
	return (k->proto == P_ICMP && k->l4[0] == 8) ||
	    (k->proto == P_ICMP6 && k->l4[0] == 128);
}

static int
is_echo_reply(const struct pkt *k)
{
	return (k->proto == P_ICMP && k->l4[0] == 0) ||
	    (k->proto == P_ICMP6 && k->l4[0] == 129);
}

static int
is_icmp_error(const struct pkt *k)
{
	uint8_t t = k->l4[0];

	if (k->proto == P_ICMP)
		return t == 3 || t == 11 || t == 12;
	return k->proto == P_ICMP6 && t >= 1 && t <= 4;
}

/*
 * Parses an IP packet. quoted: the start of a packet inside an ICMP error,
 * whose length fields may exceed what is there. At least 8 bytes of
 * TCP/UDP/ICMP(v6) must be present (20 of TCP when not quoted); IPv4
 * fragments past the first and IPv6 extension headers are refused.
 */
static int
parse(uint8_t *p, size_t len, int quoted, struct pkt *k)
{
	size_t hl, tot;

	memset(k, 0, sizeof(*k));
	if (len < 20)
		return -EINVAL;
	k->ip = p;
	if ((p[0] >> 4) == 4) {
		hl = (size_t)(p[0] & 0x0f) * 4;
		tot = get16(p + 2);
		if (hl < 20 || hl > len || tot < hl)
			return -EINVAL;
		if (!quoted) {
			if (tot > len)
				return -EINVAL;
			len = tot;
			if (get16(p + 6) & 0x3fff)	/* MF or offset */
				return -EPROTONOSUPPORT;
		} else if (get16(p + 6) & 0x1fff)
			return -EPROTONOSUPPORT;
		k->af = AF_INET;
		k->alen = 4;
		k->proto = p[9];
		k->src = p + 12;
		k->dst = p + 16;
	} else if ((p[0] >> 4) == 6) {
		hl = 40;
		if (len < hl)
			return -EINVAL;
		tot = hl + get16(p + 4);
		if (!quoted) {
			if (tot > len)
				return -EINVAL;
			len = tot;
		}
		k->af = AF_INET6;
		k->alen = 16;
		k->proto = p[6];
		k->src = p + 8;
		k->dst = p + 24;
	} else
		return -EINVAL;
	if (k->proto == P_ICMP6 && k->af == AF_INET)
		return -EPROTONOSUPPORT;
	if (k->proto == P_ICMP && k->af == AF_INET6)
		return -EPROTONOSUPPORT;
	if (k->proto != P_TCP && k->proto != P_UDP && !icmp_proto(k->proto))
		return -EPROTONOSUPPORT;
	k->l4 = p + hl;
	k->l4len = len - hl;
	if (k->l4len < 8 || (!quoted && k->proto == P_TCP && k->l4len < 20))
		return -EINVAL;
	return 0;
}

/* The port (TCP/UDP source or destination) or ICMP echo id. */
static uint8_t *
port_field(const struct pkt *k, int dst)
{
	if (icmp_proto(k->proto))
		return k->l4 + 4;
	return k->l4 + (dst ? 2 : 0);
}

/* Where the L4 checksum is, if present (and in use for UDPv4). */
static uint8_t *
l4_csum(const struct pkt *k)
{
	size_t off = k->proto == P_TCP ? 16 : k->proto == P_UDP ? 6 : 2;

	if (k->l4len < off + 2)
		return NULL;
	if (k->proto == P_UDP && k->af == AF_INET && get16(k->l4 + 6) == 0)
		return NULL;
	return k->l4 + off;
}

static int
pseudo(uint8_t proto)
{
	return proto != P_ICMP;		/* TCP, UDP, ICMPv6 */
}

static void
fix_udp_zero(const struct pkt *k, uint8_t *c)
{
	if (c != NULL && k->proto == P_UDP && get16(c) == 0)
		put16(c, 0xffff);
}

/* Rewrites an address of k (src or dst) with its checksums. */
static void
set_addr(const struct pkt *k, uint8_t *field, const uint8_t *addr)
{
	uint8_t *c = l4_csum(k);

	if (k->af == AF_INET)
		csum_replace(k->ip + 10, field, addr, 4);
	if (c != NULL && pseudo(k->proto)) {
		csum_replace(c, field, addr, k->alen);
		fix_udp_zero(k, c);
	}
	memcpy(field, addr, k->alen);
}

static void
set_port(const struct pkt *k, uint8_t *field, uint16_t port)
{
	uint8_t *c = l4_csum(k);

	if (c != NULL) {
		csum_replace16(c, get16(field), port);
		fix_udp_zero(k, c);
	}
	put16(field, port);
}

/* --- table --- */

static size_t
alen(uint8_t af)
{
	return af == AF_INET ? 4 : 16;
}

/* FNV-1a over a key; addresses by their family's length. */
static uint32_t
hkey(uint8_t af, uint8_t proto, uint16_t port, const uint8_t *a)
{
	uint8_t k[4] = { af, proto, (uint8_t)(port >> 8), (uint8_t)port };
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < 4; i++)
		h = (h ^ k[i]) * 16777619u;
	for (size_t i = 0; i < alen(af); i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

static int32_t *
in_bucket(struct dnsnat *nat, uint8_t af, uint8_t proto, uint16_t port,
    const uint8_t *a)
{
	return &nat->in_head[hkey(af, proto, port, a) & (NBUCKET - 1)];
}

static int32_t *
out_bucket(struct dnsnat *nat, uint8_t af, uint8_t proto, uint16_t port,
    const uint8_t *a)
{
	return &nat->out_head[hkey(af, proto, port, a) & (NBUCKET - 1)];
}

static void
link_sess(struct dnsnat *nat, int32_t i)
{
	struct sess *s = &nat->s[i];
	int32_t *h;

	h = in_bucket(nat, s->af, s->proto, s->in_port, s->proxy);
	s->next_in = *h;
	*h = i;
	h = out_bucket(nat, s->af, s->proto, s->out_port, s->real);
	s->next_out = *h;
	*h = i;
}

static void
unlink_sess(struct dnsnat *nat, int32_t i)
{
	struct sess *s = &nat->s[i];
	int32_t *pp;

	pp = in_bucket(nat, s->af, s->proto, s->in_port, s->proxy);
	while (*pp != i)
		pp = &nat->s[*pp].next_in;
	*pp = s->next_in;
	pp = out_bucket(nat, s->af, s->proto, s->out_port, s->real);
	while (*pp != i)
		pp = &nat->s[*pp].next_out;
	*pp = s->next_out;
}

static void
clear_heads(struct dnsnat *nat)
{
	for (size_t i = 0; i < NBUCKET; i++)
		nat->in_head[i] = nat->out_head[i] = -1;
	for (size_t i = 0; i < PXBUCKET; i++)
		nat->px_head[i] = -1;
}

struct dnsnat *
dnsnat_new(void)
{
	struct dnsnat *nat = calloc(1, sizeof(struct dnsnat));

	if (nat != NULL)
		clear_heads(nat);
	return nat;
}

static void
reset(struct dnsnat *nat)
{
	for (size_t i = 0; i < nat->npx; i++)
		free(nat->px[i].domain);
	nat->npx = 0;
	nat->ns = 0;
	nat->ngone = nat->gonepos = 0;
	clear_heads(nat);
}

void
dnsnat_free(struct dnsnat *nat)
{
	if (nat == NULL)
		return;
	reset(nat);
	free(nat->px);
	free(nat->s);
	free(nat);
}

static struct proxy *
find_proxy(const struct dnsnat *nat, uint8_t af, const uint8_t *a)
{
	int32_t i = nat->px_head[hkey(af, 0, 0, a) & (PXBUCKET - 1)];

	for (; i >= 0; i = nat->px[i].next)
		if (nat->px[i].proxy.af == af &&
		    memcmp(nat->px[i].proxy.a, a, alen(af)) == 0)
			return &nat->px[i];
	return NULL;
}

static int
valid_ip(const struct fz_ip *ip)
{
	return ip->af == AF_INET || ip->af == AF_INET6;
}

int
dnsnat_assign(struct dnsnat *nat, const char *domain,
    const struct fz_ip *proxies, size_t np, const struct fz_ip *res,
    size_t nres)
{
	const struct fz_ip *v4[DNSNAT_MAX_RESOLVED], *v6[DNSNAT_MAX_RESOLVED];
	size_t n4 = 0, n6 = 0, i4 = 0, i6 = 0, fresh = 0, dlen;
	struct proxy *p;

	dlen = domain == NULL ? 0 : strnlen(domain, P2P_DOMAIN_MAX + 1);
	if (dlen == 0 || dlen > P2P_DOMAIN_MAX || np == 0 ||
	    np > P2P_PROXY_MAX)
		return -EINVAL;
	for (size_t i = 0; i < nres; i++) {
		if (res[i].af == AF_INET && n4 < DNSNAT_MAX_RESOLVED)
			v4[n4++] = &res[i];
		else if (res[i].af == AF_INET6 && n6 < DNSNAT_MAX_RESOLVED)
			v6[n6++] = &res[i];
		else if (!valid_ip(&res[i]))
			return -EINVAL;
	}
	for (size_t i = 0; i < np; i++) {
		if (!valid_ip(&proxies[i]))
			return -EINVAL;
		p = find_proxy(nat, proxies[i].af, proxies[i].a);
		if (p != NULL && strcmp(p->domain, domain) != 0) {
			/* The client re-used a proxy IP for another domain. */
			reset(nat);
			nat->st.resets++;
			break;
		}
	}
	for (size_t i = 0; i < np; i++)
		if (find_proxy(nat, proxies[i].af, proxies[i].a) == NULL)
			fresh++;
	if (nat->npx + fresh > DNSNAT_MAX_PROXIES)
		return -ENOSPC;
	if (nat->npx + fresh > nat->pxcap) {
		size_t cap = nat->pxcap ? nat->pxcap * 2 : 16;
		struct proxy *np2;

		while (cap < nat->npx + fresh)
			cap *= 2;
		if ((np2 = realloc(nat->px, cap * sizeof(*np2))) == NULL)
			return -ENOMEM;
		nat->px = np2;
		nat->pxcap = cap;
	}
	for (size_t i = 0; i < np; i++) {
		const struct fz_ip *t = NULL;

		if (proxies[i].af == AF_INET && n4 > 0)
			t = v4[i4++ % n4];
		else if (proxies[i].af == AF_INET6 && n6 > 0)
			t = v6[i6++ % n6];
		if ((p = find_proxy(nat, proxies[i].af, proxies[i].a)) ==
		    NULL) {
			char *d = strdup(domain);

			if (d == NULL)
				return -ENOMEM;
			int32_t *h = &nat->px_head[hkey(proxies[i].af, 0, 0,
			    proxies[i].a) & (PXBUCKET - 1)];

			p = &nat->px[nat->npx];
			memset(p, 0, sizeof(*p));
			p->proxy = proxies[i];
			p->domain = d;
			p->next = *h;
			*h = (int32_t)nat->npx++;
		}
		p->has_target = t != NULL;
		if (t != NULL)
			p->real = *t;
	}
	return 0;
}

int
dnsnat_target(const struct dnsnat *nat, const struct fz_ip *proxy,
    struct fz_ip *real)
{
	const struct proxy *p;

	if (!valid_ip(proxy) ||
	    (p = find_proxy(nat, proxy->af, proxy->a)) == NULL)
		return -ENOENT;
	if (!p->has_target)
		return -ENXIO;
	*real = p->real;
	return 0;
}

static uint64_t
deadline(const struct sess *s)
{
	if (s->rst)
		return s->last_ms;
	if (s->fin_out && s->fin_in)
		return s->last_ms + DNSNAT_TTL_FIN_MS;
	if (!s->answered)
		return s->last_ms + DNSNAT_TTL_UNANSWERED_MS;
	if (s->proto == P_TCP)
		return s->last_ms + DNSNAT_TTL_TCP_MS;
	if (s->proto == P_UDP)
		return s->last_ms + DNSNAT_TTL_UDP_MS;
	return s->last_ms + DNSNAT_TTL_ICMP_MS;
}

static void
remove_sess(struct dnsnat *nat, size_t i)
{
	struct sess *s = &nat->s[i];
	struct okey *g = &nat->gone[nat->gonepos];

	memset(g, 0, sizeof(*g));
	g->af = s->af;
	g->proto = s->proto;
	g->port = s->out_port;
	memcpy(g->real, s->real, 16);
	nat->gonepos = (nat->gonepos + 1) % DNSNAT_EXPIRED_MEMORY;
	if (nat->ngone < DNSNAT_EXPIRED_MEMORY)
		nat->ngone++;
	nat->st.sessions_expired++;
	unlink_sess(nat, (int32_t)i);
	if (i != nat->ns - 1) {
		unlink_sess(nat, (int32_t)(nat->ns - 1));
		nat->s[i] = nat->s[nat->ns - 1];
		link_sess(nat, (int32_t)i);
	}
	nat->ns--;
}

uint64_t
dnsnat_expire(struct dnsnat *nat, uint64_t now)
{
	uint64_t next = UINT64_MAX, d;
	size_t i = 0;

	while (i < nat->ns) {
		d = deadline(&nat->s[i]);
		if (now >= d) {
			remove_sess(nat, i);
			continue;
		}
		if (d < next)
			next = d;
		i++;
	}
	return next;
}

/* The live session by inside or outside key; expired ones removed. */
static struct sess *
lookup(struct dnsnat *nat, int outside, uint8_t af, uint8_t proto,
    uint16_t port, const uint8_t *addr, uint64_t now, int *expired)
{
	int32_t i = outside ? *out_bucket(nat, af, proto, port, addr) :
	    *in_bucket(nat, af, proto, port, addr);

	for (; i >= 0; i = outside ? nat->s[i].next_out : nat->s[i].next_in) {
		struct sess *s = &nat->s[i];

		if (s->af != af || s->proto != proto ||
		    (outside ? s->out_port : s->in_port) != port ||
		    memcmp(outside ? s->real : s->proxy, addr, alen(af)) != 0)
			continue;
		if (now >= deadline(s)) {
			remove_sess(nat, (size_t)i);
			if (expired != NULL)
				*expired = 1;
			return NULL;
		}
		return s;
	}
	return NULL;
}

static int
out_port_used(struct dnsnat *nat, uint8_t af, uint8_t proto,
    uint16_t port, const uint8_t *real)
{
	int32_t i = *out_bucket(nat, af, proto, port, real);

	for (; i >= 0; i = nat->s[i].next_out) {
		const struct sess *s = &nat->s[i];

		if (s->af == af && s->proto == proto && s->out_port == port &&
		    memcmp(s->real, real, alen(af)) == 0)
			return 1;
	}
	return 0;
}

static int
remembered(const struct dnsnat *nat, uint8_t af, uint8_t proto,
    uint16_t port, const uint8_t *real)
{
	for (size_t i = 0; i < nat->ngone; i++) {
		const struct okey *g = &nat->gone[i];

		if (g->af == af && g->proto == proto && g->port == port &&
		    memcmp(g->real, real, alen(af)) == 0)
			return 1;
	}
	return 0;
}

static struct sess *
create(struct dnsnat *nat, const struct pkt *k, uint16_t port,
    const struct proxy *p)
{
	struct sess *s;
	uint32_t q = port;
	int found = 0;

	if (nat->ns >= DNSNAT_MAX_SESSIONS)
		return NULL;
	/* From the inside port up to 65535, then from 1 (as connlib). */
	for (uint32_t n = 0; n < 65536; n++, q = q == 65535 ? 1 : q + 1) {
		if (!out_port_used(nat, k->af, k->proto, (uint16_t)q,
		    p->real.a)) {
			found = 1;
			break;
		}
	}
	if (!found)
		return NULL;
	if (nat->ns == nat->scap) {
		size_t cap = nat->scap ? nat->scap * 2 : 16;

		if ((s = realloc(nat->s, cap * sizeof(*s))) == NULL)
			return NULL;
		nat->s = s;
		nat->scap = cap;
	}
	s = &nat->s[nat->ns++];
	memset(s, 0, sizeof(*s));
	s->af = k->af;
	s->proto = k->proto;
	s->in_port = port;
	s->out_port = (uint16_t)q;
	memcpy(s->proxy, p->proxy.a, 16);
	memcpy(s->real, p->real.a, 16);
	link_sess(nat, (int32_t)(nat->ns - 1));
	return s;
}

static void
tcp_flags(struct sess *s, const struct pkt *k, int in)
{
	uint8_t f;

	if (k->proto != P_TCP)
		return;
	f = k->l4[13];
	if (f & TCP_RST)
		s->rst = 1;
	if (f & TCP_FIN) {
		if (in)
			s->fin_in = 1;
		else
			s->fin_out = 1;
	}
}

enum dnsnat_verdict
dnsnat_out(struct dnsnat *nat, uint8_t *pkt, size_t len, uint64_t now)
{
	struct proxy *p;
	struct sess *s;
	struct pkt k;
	uint16_t port;
	int rc;

	if ((rc = parse(pkt, len, 0, &k)) < 0) {
		if (rc == -EPROTONOSUPPORT)
			nat->st.dropped_unsupported++;
		else
			nat->st.dropped_malformed++;
		return DNSNAT_DROP;
	}
	if ((p = find_proxy(nat, k.af, k.dst)) == NULL)
		return DNSNAT_PASS;
	if (!p->has_target) {
		nat->st.unreachable++;
		return DNSNAT_UNREACHABLE;
	}
	if (icmp_proto(k.proto) && !is_echo_req(&k)) {
		nat->st.dropped_unsupported++;
		return DNSNAT_DROP;
	}
	port = get16(port_field(&k, 0));
	s = lookup(nat, 0, k.af, k.proto, port, k.dst, now, NULL);
	if (s == NULL && (s = create(nat, &k, port, p)) == NULL) {
		nat->st.dropped_full++;
		return DNSNAT_DROP;
	}
	s->last_ms = now;
	tcp_flags(s, &k, 0);
	set_addr(&k, k.dst, s->real);
	if (s->out_port != port)
		set_port(&k, port_field(&k, 0), s->out_port);
	nat->st.translated_out++;
	return DNSNAT_TRANSLATED;
}

/*
 * An ICMP error from the resource side quoting a packet we translated
 * (client:outside port → real): the quoted destination and port go back
 * to proxy and inside port with the quoted checksums, the error's source
 * too if it is the real address, then the ICMP checksum by the
 * difference of its first bytes (all changes lie there).
 */
static enum dnsnat_verdict
icmp_error_in(struct dnsnat *nat, const struct pkt *k, uint64_t now)
{
	uint8_t before[8 + 60 + 20], *csum = k->l4 + 2;
	struct pkt in;
	struct sess *s;
	size_t span;
	uint16_t port;
	int expired = 0;

	if (parse(k->l4 + 8, k->l4len - 8, 1, &in) < 0 || in.af != k->af)
		return DNSNAT_PASS;
	if (icmp_proto(in.proto) && !is_echo_req(&in))
		return DNSNAT_PASS;
	port = get16(port_field(&in, 0));
	s = lookup(nat, 1, in.af, in.proto, port, in.dst, now, &expired);
	if (s == NULL) {
		if (expired || remembered(nat, in.af, in.proto, port, in.dst)) {
			nat->st.expired++;
			return DNSNAT_EXPIRED;
		}
		return DNSNAT_PASS;
	}
	span = (size_t)(in.l4 - k->l4) + 20;
	if (span > k->l4len)
		span = k->l4len;
	memcpy(before, k->l4, span);
	set_addr(&in, in.dst, s->proxy);
	if (s->in_port != port)
		set_port(&in, port_field(&in, 0), s->in_port);
	/* The error comes from the proxy IP, as connlib's (whichever
	 * router sent it: nothing past the gateway shows). */
	if (k->af == AF_INET6)
		csum_replace(csum, k->src, s->proxy, 16);
	else
		csum_replace(k->ip + 10, k->src, s->proxy, 4);
	memcpy(k->src, s->proxy, k->alen);
	/* The ICMP checksum field itself is not in the difference. */
	memcpy(before + 2, k->l4 + 2, 2);
	csum_replace(csum, before, k->l4, span & ~(size_t)1);
	if (span & 1) {
		uint8_t o[2] = { before[span - 1], 0 };
		uint8_t n[2] = { k->l4[span - 1], 0 };

		csum_replace(csum, o, n, 2);
	}
	nat->st.translated_in++;
	return DNSNAT_TRANSLATED;
}

enum dnsnat_verdict
dnsnat_in(struct dnsnat *nat, uint8_t *pkt, size_t len, uint64_t now)
{
	struct sess *s;
	struct pkt k;
	uint16_t port;
	int rc, expired = 0;

	if ((rc = parse(pkt, len, 0, &k)) < 0) {
		/* Other protocols and later fragments are not NAT traffic;
		 * a malformed packet might be, so it goes no further. */
		if (rc == -EPROTONOSUPPORT)
			return DNSNAT_PASS;
		nat->st.dropped_malformed++;
		return DNSNAT_DROP;
	}
	if (icmp_proto(k.proto)) {
		if (is_icmp_error(&k))
			return icmp_error_in(nat, &k, now);
		if (!is_echo_reply(&k))
			return DNSNAT_PASS;
	}
	port = get16(port_field(&k, 1));
	s = lookup(nat, 1, k.af, k.proto, port, k.src, now, &expired);
	if (s == NULL) {
		if (expired || remembered(nat, k.af, k.proto, port, k.src)) {
			nat->st.expired++;
			return DNSNAT_EXPIRED;
		}
		return DNSNAT_PASS;
	}
	s->last_ms = now;
	s->answered = 1;
	tcp_flags(s, &k, 1);
	set_addr(&k, k.src, s->proxy);
	if (s->in_port != port)
		set_port(&k, port_field(&k, 1), s->in_port);
	nat->st.translated_in++;
	return DNSNAT_TRANSLATED;
}

size_t
dnsnat_sessions(const struct dnsnat *nat)
{
	return nat->ns;
}

void
dnsnat_get_stats(const struct dnsnat *nat, struct dnsnat_stats *st)
{
	*st = nat->st;
}
