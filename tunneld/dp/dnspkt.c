/* SPDX-License-Identifier: ISC */
/* DNS packets to and from the sentinels (dnspkt.h). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "dnspkt.h"
#include "offload.h"

#define IPPROTO_UDP_	17
#define IPPROTO_TCP_	6

/* 100.100.111.0/24 and fd00:2021:1111:8000:100:100:111:0/120 */
static const uint8_t sent4[3] = { 100, 100, 111 };
static const uint8_t sent6[15] = {
	0xfd, 0x00, 0x20, 0x21, 0x11, 0x11, 0x80, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x01, 0x11, 0x00,
};

bool
dnspkt_is_sentinel(int family, const uint8_t *dst)
{
	if (family == AF_INET)
		return memcmp(dst, sent4, sizeof(sent4)) == 0;
	if (family == AF_INET6)
		return memcmp(dst, sent6, sizeof(sent6)) == 0;
	return false;
}

static void
set_addr(union fz_sockaddr *sa, int family, const uint8_t *a, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sa.sa_family = (sa_family_t)family;
	if (family == AF_INET) {
		memcpy(&sa->in4.sin_addr, a, 4);
		sa->in4.sin_port = htons(port);
	} else {
		memcpy(&sa->in6.sin6_addr, a, 16);
		sa->in6.sin6_port = htons(port);
	}
}

int
dnspkt_parse(const uint8_t *pkt, size_t len, union fz_sockaddr *from,
    union fz_sockaddr *to, const uint8_t **payload, size_t *plen)
{
	const uint8_t *src, *dst, *udp;
	size_t l4off, iplen, ulen;
	uint8_t proto;
	int ver, fam;

	if ((ver = off_ip_l4(pkt, len, &l4off, &proto)) < 0 ||
	    (iplen = off_ip_len(pkt, len)) == 0 || iplen > len ||
	    l4off > iplen)
		return -EBADMSG;
	fam = ver == 4 ? AF_INET : AF_INET6;
	src = ver == 4 ? pkt + 12 : pkt + 8;
	dst = ver == 4 ? pkt + 16 : pkt + 24;
	if (!dnspkt_is_sentinel(fam, dst))
		return -EBADMSG;
	/* IPv4: more fragments or an offset; IPv6 fragments show as proto 44 */
	if (ver == 4 && (off_get16(pkt + 6) & 0x3fff) != 0)
		return -ENOENT;
	if (proto != IPPROTO_UDP_ || iplen - l4off < 8)
		return -ENOENT;
	udp = pkt + l4off;
	ulen = off_get16(udp + 4);
	if (off_get16(udp + 2) != 53 || ulen < 8 || ulen > iplen - l4off)
		return -ENOENT;
	set_addr(from, fam, src, off_get16(udp));
	set_addr(to, fam, dst, 53);
	*payload = udp + 8;
	*plen = ulen - 8;
	return 0;
}

/* IP header for l4len bytes of proto; returns its length. */
static size_t
ip_header(const union fz_sockaddr *from, const union fz_sockaddr *to,
    uint8_t proto, size_t l4len, uint8_t *out)
{
	if (from->sa.sa_family == AF_INET) {
		memset(out, 0, 20);
		out[0] = 0x45;
		off_put16(out + 2, (uint16_t)(20 + l4len));
		off_put16(out + 6, 0x4000);		/* DF */
		out[8] = 64;
		out[9] = proto;
		memcpy(out + 12, &from->in4.sin_addr, 4);
		memcpy(out + 16, &to->in4.sin_addr, 4);
		off_ipv4_checksum(out);
		return 20;
	}
	memset(out, 0, 40);
	out[0] = 0x60;
	off_put16(out + 4, (uint16_t)l4len);
	out[6] = proto;
	out[7] = 64;
	memcpy(out + 8, &from->in6.sin6_addr, 16);
	memcpy(out + 24, &to->in6.sin6_addr, 16);
	return 40;
}

static int
check_ends(const union fz_sockaddr *from, const union fz_sockaddr *to,
    size_t l4len, size_t cap)
{
	int fam = from->sa.sa_family;
	size_t hl;

	if (fam != to->sa.sa_family || (fam != AF_INET && fam != AF_INET6))
		return -EAFNOSUPPORT;
	hl = fam == AF_INET ? 20 : 40;
	if (l4len > DNSPKT_MAX - hl)
		return -EMSGSIZE;
	if (cap < hl + l4len)
		return -ENOBUFS;
	return 0;
}

int
dnspkt_build(const union fz_sockaddr *from, const union fz_sockaddr *to,
    const uint8_t *payload, size_t plen, uint8_t *out, size_t cap,
    size_t *len)
{
	size_t hl;
	uint8_t *udp;
	int rc;

	if (plen > DNSPKT_MAX)
		return -EMSGSIZE;
	if ((rc = check_ends(from, to, 8 + plen, cap)) != 0)
		return rc;
	hl = ip_header(from, to, IPPROTO_UDP_, 8 + plen, out);
	udp = out + hl;
	off_put16(udp, addr_port(&from->sa));
	off_put16(udp + 2, addr_port(&to->sa));
	off_put16(udp + 4, (uint16_t)(8 + plen));
	off_put16(udp + 6, 0);
	if (plen > 0)
		memcpy(udp + 8, payload, plen);
	off_l4_checksum(out, hl + 8 + plen, hl, IPPROTO_UDP_);
	*len = hl + 8 + plen;
	return 0;
}

int
dnspkt_build_tcp(const union fz_sockaddr *from, const union fz_sockaddr *to,
    uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *payload,
    size_t plen, uint8_t *out, size_t cap, size_t *len)
{
	size_t hl;
	uint8_t *tcp;
	int rc;

	if (plen > DNSPKT_MAX)
		return -EMSGSIZE;
	if ((rc = check_ends(from, to, 20 + plen, cap)) != 0)
		return rc;
	hl = ip_header(from, to, IPPROTO_TCP_, 20 + plen, out);
	tcp = out + hl;
	memset(tcp, 0, 20);
	off_put16(tcp, addr_port(&from->sa));
	off_put16(tcp + 2, addr_port(&to->sa));
	off_put32(tcp + 4, seq);
	off_put32(tcp + 8, ack);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	off_put16(tcp + 14, 65535);
	if (plen > 0)
		memcpy(tcp + 20, payload, plen);
	off_l4_checksum(out, hl + 20 + plen, hl, IPPROTO_TCP_);
	*len = hl + 20 + plen;
	return 0;
}

int
dnspkt_parse_tcp(const uint8_t *pkt, size_t len, struct dnspkt_tcp *t)
{
	const uint8_t *src, *dst, *tcp;
	size_t l4off, iplen, doff;
	uint8_t proto;
	int ver, fam;

	if ((ver = off_ip_l4(pkt, len, &l4off, &proto)) < 0 ||
	    (iplen = off_ip_len(pkt, len)) == 0 || iplen > len ||
	    l4off > iplen)
		return -EBADMSG;
	fam = ver == 4 ? AF_INET : AF_INET6;
	src = ver == 4 ? pkt + 12 : pkt + 8;
	dst = ver == 4 ? pkt + 16 : pkt + 24;
	/* From a sentinel too: nobody's query (the reply would be one). */
	if (!dnspkt_is_sentinel(fam, dst) || dnspkt_is_sentinel(fam, src) ||
	    (ver == 4 && (off_get16(pkt + 6) & 0x3fff) != 0) ||
	    proto != IPPROTO_TCP_ || iplen - l4off < 20)
		return -EBADMSG;
	tcp = pkt + l4off;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || doff > iplen - l4off || off_get16(tcp + 2) != 53)
		return -EBADMSG;
	set_addr(&t->client, fam, src, off_get16(tcp));
	set_addr(&t->sentinel, fam, dst, 53);
	t->seq = off_get32(tcp + 4);
	t->ack = off_get32(tcp + 8);
	t->flags = tcp[13];
	t->payload = tcp + doff;
	t->plen = iplen - l4off - doff;
	return 0;
}
