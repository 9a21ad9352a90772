/* SPDX-License-Identifier: ISC */
/* DNS packets to and from the sentinels (dnspkt.h). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "dnspkt.h"
#include "offload.h"

#define IPPROTO_UDP_	17

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

int
dnspkt_build(const union fz_sockaddr *from, const union fz_sockaddr *to,
    const uint8_t *payload, size_t plen, uint8_t *out, size_t cap,
    size_t *len)
{
	int fam = from->sa.sa_family;
	size_t hl, total;
	uint8_t *udp;

	if (fam != to->sa.sa_family || (fam != AF_INET && fam != AF_INET6))
		return -EAFNOSUPPORT;
	hl = fam == AF_INET ? 20 : 40;
	if (plen > DNSPKT_MAX - hl - 8)
		return -EMSGSIZE;
	total = hl + 8 + plen;
	if (cap < total)
		return -ENOBUFS;
	memset(out, 0, hl + 8);
	if (fam == AF_INET) {
		out[0] = 0x45;
		off_put16(out + 2, (uint16_t)total);
		off_put16(out + 6, 0x4000);		/* DF */
		out[8] = 64;
		out[9] = IPPROTO_UDP_;
		memcpy(out + 12, &from->in4.sin_addr, 4);
		memcpy(out + 16, &to->in4.sin_addr, 4);
		off_ipv4_checksum(out);
	} else {
		out[0] = 0x60;
		off_put16(out + 4, (uint16_t)(8 + plen));
		out[6] = IPPROTO_UDP_;
		out[7] = 64;
		memcpy(out + 8, &from->in6.sin6_addr, 16);
		memcpy(out + 24, &to->in6.sin6_addr, 16);
	}
	udp = out + hl;
	off_put16(udp, addr_port(&from->sa));
	off_put16(udp + 2, addr_port(&to->sa));
	off_put16(udp + 4, (uint16_t)(8 + plen));
	if (plen > 0)
		memcpy(udp + 8, payload, plen);
	off_l4_checksum(out, total, hl, IPPROTO_UDP_);
	*len = total;
	return 0;
}
