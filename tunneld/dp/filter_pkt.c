/* SPDX-License-Identifier: ISC */
/*
 * Resource enforcement (filter.h), the packet side: the header walk,
 * filters and their text, address classes, ICMP errors.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

#define IPPROTO_ICMP_	1
#define IPPROTO_TCP_	6
#define IPPROTO_UDP_	17
#define IPPROTO_ICMPV6_	58
#define EXT_MAX		8		/* IPv6 extension headers walked */

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

/* --- parsing -------------------------------------------------------- */

/* The upper layer at off (not a later fragment): ports, ICMP type. */
static int
parse_l4(const uint8_t *pkt, struct flt_pkt *o, size_t off)
{
	size_t left = o->len - off;

	switch (o->proto) {
	case IPPROTO_TCP_:
	case IPPROTO_UDP_:
		if (left < 8)		/* the 8 bytes an ICMP error quotes */
			return -EINVAL;
		o->has_ports = true;
		o->sport = get16(pkt + off);
		o->dport = get16(pkt + off + 2);
		break;
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_:
		if ((o->proto == IPPROTO_ICMP_) != (o->family == AF_INET))
			break;		/* the other family's ICMP: opaque */
		if (left < 4)
			return -EINVAL;
		o->has_icmp = true;
		o->icmp_type = pkt[off];
		o->icmp_code = pkt[off + 1];
		break;
	default:
		break;
	}
	return 0;
}

static int
parse4(const uint8_t *pkt, size_t len, struct flt_pkt *o)
{
	size_t ihl, tot;
	uint16_t frag;

	if (len < 20)
		return -EINVAL;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	tot = get16(pkt + 2);
	if (ihl < 20 || tot < ihl || tot > len)
		return -EINVAL;
	o->family = AF_INET;
	o->len = tot;
	o->hlen = ihl;
	o->proto = pkt[9];
	o->src = pkt + 12;
	o->dst = pkt + 16;
	frag = get16(pkt + 6);
	o->frag = (frag & 0x3fff) != 0;		/* MF or an offset */
	o->later_frag = (frag & 0x1fff) != 0;
	if (o->later_frag) {
		/* RFC 1858: offset 1 can only rewrite a TCP header. */
		if ((frag & 0x1fff) == 1 && o->proto == IPPROTO_TCP_)
			return -EINVAL;
		return 0;
	}
	return parse_l4(pkt, o, ihl);
}

static int
parse6(const uint8_t *pkt, size_t len, struct flt_pkt *o)
{
	size_t off = 40, elen;
	uint8_t nh;
	int i;

	if (len < 40)
		return -EINVAL;
	o->family = AF_INET6;
	o->len = 40 + (size_t)get16(pkt + 4);
	if (o->len > len)
		return -EINVAL;
	o->src = pkt + 8;
	o->dst = pkt + 24;
	nh = pkt[6];
	for (i = 0; ; i++) {
		switch (nh) {
		case 0:			/* hop-by-hop (only first, RFC 8200) */
			if (off != 40)
				return -EINVAL;
			/* FALLTHROUGH */
		case 43:		/* routing */
		case 60:		/* destination options */
		case 51:		/* AH: length in 4-byte units */
			if (i >= EXT_MAX || o->len - off < 8)
				return -EINVAL;
			elen = nh == 51 ? ((size_t)pkt[off + 1] + 2) * 4 :
			    ((size_t)pkt[off + 1] + 1) * 8;
			if (o->len - off < elen)
				return -EINVAL;
			nh = pkt[off];
			off += elen;
			continue;
		case 44:		/* fragment */
			if (i >= EXT_MAX || o->len - off < 8 || o->frag)
				return -EINVAL;
			o->frag = true;
			o->later_frag = (get16(pkt + off + 2) & 0xfff8) != 0;
			nh = pkt[off];
			off += 8;
			if (o->later_frag) {
				o->proto = nh;
				o->hlen = off;
				return 0;
			}
			continue;
		default:
			break;
		}
		break;
	}
	o->proto = nh;
	o->hlen = off;
	/* RFC 8200/7112: a first fragment carries the whole header chain. */
	return parse_l4(pkt, o, off);
}

int
flt_parse(const uint8_t *pkt, size_t len, struct flt_pkt *out)
{
	struct flt_pkt o;
	int rc;

	memset(&o, 0, sizeof(o));
	if (len < 1)
		return -EINVAL;
	switch (pkt[0] >> 4) {
	case 4:
		rc = parse4(pkt, len, &o);
		break;
	case 6:
		rc = parse6(pkt, len, &o);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc == 0)
		*out = o;
	return rc;
}

/* --- filters -------------------------------------------------------- */

bool
flt_rules_allow(const struct flt_rule *r, size_t n, const struct flt_pkt *p)
{
	size_t i;
	bool icmp = p->proto == (p->family == AF_INET ? IPPROTO_ICMP_ :
	    IPPROTO_ICMPV6_);

	if (n == 0)
		return true;
	if (p->later_frag)
		return false;
	for (i = 0; i < n; i++) {
		switch (r[i].proto) {
		case FLT_TCP:
		case FLT_UDP:
			if (p->has_ports && p->proto == (r[i].proto ==
			    FLT_TCP ? IPPROTO_TCP_ : IPPROTO_UDP_) &&
			    p->dport >= r[i].lo && p->dport <= r[i].hi)
				return true;
			break;
		case FLT_ICMP:
			if (icmp)
				return true;
			break;
		}
	}
	return false;
}

static int
parse_port(const char **sp, uint16_t *out)
{
	const char *s = *sp;
	unsigned long v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned long)(*s++ - '0');
		if (v > 65535)
			return -EINVAL;
	}
	*out = (uint16_t)v;
	*sp = s;
	return 0;
}

int
flt_rules_parse(const char *s, struct flt_rule *out, size_t max)
{
	struct flt_rule r;
	size_t n = 0;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	for (;;) {
		memset(&r, 0, sizeof(r));
		if (strncmp(s, "icmp", 4) == 0) {
			r.proto = FLT_ICMP;
			s += 4;
		} else if (strncmp(s, "tcp ", 4) == 0 ||
		    strncmp(s, "udp ", 4) == 0) {
			r.proto = s[0] == 't' ? FLT_TCP : FLT_UDP;
			s += 4;
			if (parse_port(&s, &r.lo) != 0 || *s++ != '-' ||
			    parse_port(&s, &r.hi) != 0 || r.hi < r.lo)
				return -EINVAL;
		} else
			return -EINVAL;
		if (n == max)
			return -ENOSPC;
		out[n++] = r;
		if (*s == '\0')
			return (int)n;
		if (s[0] != ',' || s[1] != ' ')
			return -EINVAL;
		s += 2;
	}
}

int
flt_rules_fmt(const struct flt_rule *r, size_t n, char *buf, size_t len)
{
	size_t i, off = 0;
	int w;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (r[i].proto == FLT_ICMP)
			w = snprintf(buf + off, len - off, "%sicmp",
			    i ? ", " : "");
		else
			w = snprintf(buf + off, len - off, "%s%s %u-%u",
			    i ? ", " : "", r[i].proto == FLT_TCP ? "tcp" :
			    "udp", r[i].lo, r[i].hi);
		if (w < 0 || (size_t)w >= len - off)
			return -ENOSPC;
		off += (size_t)w;
	}
	return 0;
}

/* --- address classes ------------------------------------------------ */

static bool
in_prefix(const uint8_t *a, const uint8_t *net, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, net, full) != 0)
		return false;
	return rest == 0 ||
	    ((a[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static const uint8_t tun6[16] = { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11 };
static const uint8_t proxy6[16] = { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11,
    0x80, 0x00 };

bool
flt_is_tunnel_ip(int family, const uint8_t *a)
{
	static const uint8_t tun4[4] = { 100, 64 };

	return family == AF_INET ? in_prefix(a, tun4, 11) :
	    in_prefix(a, tun6, 107);
}

bool
flt_is_proxy_ip(int family, const uint8_t *a)
{
	static const uint8_t proxy4[4] = { 100, 96 };

	return family == AF_INET ? in_prefix(a, proxy4, 11) :
	    in_prefix(a, proxy6, 107);
}

bool
flt_is_multicast(int family, const uint8_t *a)
{
	return family == AF_INET ? (a[0] & 0xf0) == 0xe0 : a[0] == 0xff;
}

bool
flt_is_special(int family, const uint8_t *a)
{
	static const struct { uint8_t net[4]; unsigned bits; } v4[] = {
		{ { 0 }, 8 }, { { 10 }, 8 }, { { 100, 64 }, 10 },
		{ { 127 }, 8 }, { { 169, 254 }, 16 }, { { 172, 16 }, 12 },
		{ { 192, 168 }, 16 }, { { 224 }, 4 }, { { 240 }, 4 },
	};
	static const struct { uint8_t net[16]; unsigned bits; } v6[] = {
		{ { 0 }, 127 },					/* ::, ::1 */
		{ { [10] = 0xff, [11] = 0xff }, 96 },		/* v4-mapped */
		{ { 0xfc }, 7 }, { { 0xfe, 0x80 }, 10 }, { { 0xff }, 8 },
	};
	size_t i;

	if (family == AF_INET) {
		for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
			if (in_prefix(a, v4[i].net, v4[i].bits))
				return true;
		return false;
	}
	for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
		if (in_prefix(a, v6[i].net, v6[i].bits))
			return true;
	return false;
}

bool
flt_is_icmp_error(const struct flt_pkt *p)
{
	if (!p->has_icmp)
		return false;
	if (p->family == AF_INET6)
		return p->icmp_type < 128;
	switch (p->icmp_type) {
	case 3: case 4: case 5: case 11: case 12:
		return true;
	default:
		return false;
	}
}

/* --- ICMP errors ---------------------------------------------------- */

static uint32_t
sum16(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static bool
may_answer(const struct flt_pkt *p)
{
	static const uint8_t zero[16];
	static const uint8_t bcast[4] = { 255, 255, 255, 255 };
	size_t al = p->family == AF_INET ? 4 : 16;

	if (p->later_frag || flt_is_icmp_error(p) ||
	    flt_is_multicast(p->family, p->dst) ||
	    flt_is_multicast(p->family, p->src) ||
	    memcmp(p->src, zero, al) == 0)
		return false;
	if (p->family == AF_INET && (memcmp(p->dst, bcast, 4) == 0 ||
	    memcmp(p->src, bcast, 4) == 0))
		return false;
	/* An ICMP error for a packet that is itself malformed ICMP: no. */
	if (p->proto == (p->family == AF_INET ? IPPROTO_ICMP_ :
	    IPPROTO_ICMPV6_) && !p->has_icmp)
		return false;
	return true;
}

size_t
flt_icmp_build(const struct flt_pkt *p, const uint8_t *pkt,
    enum flt_verdict v, uint8_t *out, size_t outlen)
{
	size_t q, tot;
	uint32_t s;

	if ((v != FLT_PROHIBITED && v != FLT_UNREACHABLE) || !may_answer(p))
		return 0;
	if (p->family == AF_INET) {
		q = p->hlen + 8 < p->len ? p->hlen + 8 : p->len;
		tot = 20 + 8 + q;
		if (tot > outlen)
			return 0;
		memset(out, 0, 28);
		out[0] = 0x45;
		put16(out + 2, (uint16_t)tot);
		out[8] = 20;				/* TTL */
		out[9] = IPPROTO_ICMP_;
		memcpy(out + 12, p->dst, 4);
		memcpy(out + 16, p->src, 4);
		put16(out + 10, fold(sum16(0, out, 20)));
		out[20] = 3;				/* dest unreachable */
		out[21] = v == FLT_PROHIBITED ? 13 : 0;
		memcpy(out + 28, pkt, q);
		put16(out + 22, fold(sum16(0, out + 20, 8 + q)));
		return tot;
	}
	q = p->len < FLT_ICMP_MAX - 48 ? p->len : FLT_ICMP_MAX - 48;
	tot = 40 + 8 + q;
	if (tot > outlen)
		return 0;
	memset(out, 0, 48);
	out[0] = 0x60;
	put16(out + 4, (uint16_t)(8 + q));
	out[6] = IPPROTO_ICMPV6_;
	out[7] = 20;					/* hop limit */
	memcpy(out + 8, p->dst, 16);
	memcpy(out + 24, p->src, 16);
	out[40] = 1;					/* dest unreachable */
	out[41] = v == FLT_PROHIBITED ? 1 : 3;
	memcpy(out + 48, pkt, q);
	s = sum16(0, out + 8, 32);			/* pseudo-header */
	s += (uint32_t)(8 + q);
	s += IPPROTO_ICMPV6_;
	s = sum16(s, out + 40, 8 + q);
	put16(out + 42, fold(s));
	return tot;
}
