/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "offload.h"

#define TCP_FIN	0x01
#define TCP_PSH	0x08
#define TCP_ACK	0x10
#define TCP_CWR	0x80

/* --- checksums --- */

/*
 * The Internet checksum of p, added to sum (big-endian 16-bit words, not
 * folded).  A ones' complement sum does not depend on byte order (RFC
 * 1071): the words are summed as native 32-bit loads into a 64-bit
 * accumulator (no carry lost below 2^32 words), folded to 16 bits and
 * swapped into network order once.  This was a byte-pair loop that cost
 * an eighth of fz-tunneld's CPU under single-stream TCP (each segment's
 * TCP checksum, tests/bench/cpu_split); the result is the same after
 * off_csum_fold (check_offload's csum_ref test).
 */
uint32_t
off_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
	uint32_t w[4];
	uint16_t h;

	while (len >= 16) {
		memcpy(w, p, 16);
		a0 += w[0];
		a1 += w[1];
		a2 += w[2];
		a3 += w[3];
		p += 16;
		len -= 16;
	}
	a0 += a1 + a2 + a3;
	while (len >= 4) {
		memcpy(w, p, 4);
		a0 += w[0];
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		a0 += h;
		p += 2;
		len -= 2;
	}
	if (len == 1) {
		/* A last odd byte is the high byte of a word padded with 0. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		a0 += p[0];
#else
		a0 += (uint32_t)p[0] << 8;
#endif
	}
	a0 = (a0 & 0xffffffffu) + (a0 >> 32);
	a0 = (a0 & 0xffffffffu) + (a0 >> 32);
	a0 = (a0 & 0xffff) + (a0 >> 16);
	a0 = (a0 & 0xffff) + (a0 >> 16);
	a0 = (a0 & 0xffff) + (a0 >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	a0 = (uint16_t)((a0 >> 8) | (a0 << 8));
#endif
	sum = (sum & 0xffff) + (sum >> 16);
	return sum + (uint32_t)a0;
}

uint16_t
off_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t
off_pseudo(const uint8_t *ip, uint8_t proto, size_t len)
{
	uint32_t s = proto + (uint32_t)len;

	if ((ip[0] >> 4) == 4)
		return off_csum_add(s, ip + 12, 8);
	return off_csum_add(s, ip + 8, 32);
}

void
off_l4_checksum(uint8_t *ip, size_t iplen, size_t l4off, uint8_t proto)
{
	size_t off = proto == IPPROTO_TCP ? 16 : 6;
	uint16_t c;

	off_put16(ip + l4off + off, 0);
	c = off_csum_fold(off_csum_add(off_pseudo(ip, proto, iplen - l4off),
	    ip + l4off, iplen - l4off));
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	off_put16(ip + l4off + off, c);
}

void
off_ipv4_checksum(uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 15) * 4;

	off_put16(ip + 10, 0);
	off_put16(ip + 10, off_csum_fold(off_csum_add(0, ip, ihl)));
}

/* --- IP headers --- */

int
off_ip_l4(const uint8_t *ip, size_t len, size_t *l4off, uint8_t *proto)
{
	if (len < 20)
		return -EINVAL;
	if ((ip[0] >> 4) == 4) {
		size_t ihl = (size_t)(ip[0] & 15) * 4;

		if (ihl < 20 || ihl > len || off_get16(ip + 2) > len ||
		    off_get16(ip + 2) < ihl)
			return -EINVAL;
		*l4off = ihl;
		*proto = ip[9];
		return 4;
	}
	if ((ip[0] >> 4) == 6 && len >= 40 &&
	    (size_t)off_get16(ip + 4) + 40 <= len) {
		*l4off = 40;
		*proto = ip[6];
		return 6;
	}
	return -EINVAL;
}

size_t
off_ip_len(const uint8_t *ip, size_t len)
{
	size_t n;

	if (len < 20)
		return 0;
	if ((ip[0] >> 4) == 4)
		n = off_get16(ip + 2);
	else if ((ip[0] >> 4) == 6 && len >= 40)
		n = (size_t)off_get16(ip + 4) + 40;
	else
		return 0;
	return n <= len && n >= 20 ? n : 0;
}

/* --- virtio-net header --- */

int
off_vnet_parse(const uint8_t *buf, size_t n, struct virtio_net_hdr *vh)
{
	size_t len;

	if (n < OFF_VNET_HDR_LEN)
		return -EINVAL;
	memcpy(vh, buf, sizeof(*vh));
	len = n - OFF_VNET_HDR_LEN;
	switch (vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (vh->gso_type & VIRTIO_NET_HDR_GSO_ECN)
			return -EINVAL;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (vh->gso_size == 0)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (size_t)vh->csum_start + vh->csum_offset + 2 > len)
		return -EINVAL;
	return 0;
}

int
off_csum_complete(const struct virtio_net_hdr *vh, uint8_t *pkt, size_t len)
{
	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
	    vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return 0;
	if ((size_t)vh->csum_start + vh->csum_offset + 2 > len)
		return -EINVAL;
	off_put16(pkt + vh->csum_start + vh->csum_offset,
	    off_csum_fold(off_csum_add(0, pkt + vh->csum_start,
	    len - vh->csum_start)));
	return 0;
}

/* --- TSO/USO segmentation --- */

int
off_seg_plan(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len,
    size_t max_seg, struct off_seg *s)
{
	int ver;

	memset(s, 0, sizeof(*s));
	if ((ver = off_ip_l4(pkt, len, &s->l4off, &s->proto)) < 0)
		return -EINVAL;
	s->ver = ver;
	s->mss = vh->gso_size;
	switch (vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (ver != 4 || s->proto != IPPROTO_TCP)
			return -EINVAL;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (ver != 6 || s->proto != IPPROTO_TCP)
			return -EINVAL;
		break;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		if (s->proto != IPPROTO_UDP)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (s->mss == 0)
		return -EINVAL;
	if (s->proto == IPPROTO_TCP) {
		size_t thl;

		if (len < s->l4off + 20)
			return -EINVAL;
		thl = (size_t)(pkt[s->l4off + 12] >> 4) * 4;
		if (thl < 20)
			return -EINVAL;
		s->hlen = s->l4off + thl;
		s->seq = off_get32(pkt + s->l4off + 4);
	} else
		s->hlen = s->l4off + 8;
	if (s->hlen > len || s->hlen + s->mss > max_seg ||
	    s->hlen + s->mss > 65535)
		return -EINVAL;
	if (ver == 4)
		s->id = off_get16(pkt + 4);
	s->payload = len - s->hlen;
	s->nseg = (unsigned)((s->payload + s->mss - 1) / s->mss);
	if (s->nseg == 0)
		return -EINVAL;			/* nothing to carry */
	return 0;
}

size_t
off_seg_len(const struct off_seg *s, unsigned i)
{
	size_t off = (size_t)i * s->mss;

	return s->hlen + (s->payload - off < s->mss ? s->payload - off :
	    s->mss);
}

size_t
off_seg_build(const struct off_seg *s, const uint8_t *pkt, unsigned i,
    uint8_t *dst)
{
	size_t off = (size_t)i * s->mss, tot = off_seg_len(s, i);

	memcpy(dst, pkt, s->hlen);
	memcpy(dst + s->hlen, pkt + s->hlen + off, tot - s->hlen);
	if (s->ver == 4) {
		off_put16(dst + 2, (uint16_t)tot);
		off_put16(dst + 4, (uint16_t)(s->id + i));
		off_ipv4_checksum(dst);
	} else
		off_put16(dst + 4, (uint16_t)(tot - 40));
	if (s->proto == IPPROTO_TCP) {
		uint8_t *th = dst + s->l4off;

		off_put32(th + 4, s->seq + (uint32_t)off);
		if (i + 1 < s->nseg)
			th[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i > 0)
			th[13] &= (uint8_t)~TCP_CWR;
	} else
		off_put16(dst + s->l4off + 4, (uint16_t)(tot - s->l4off));
	off_l4_checksum(dst, tot, s->l4off, s->proto);
	return tot;
}

/* --- TCP coalescing --- */

void
off_co_flush(struct off_co *co, struct off_coslot *s)
{
	if (!s->used)
		return;
	co->flush(s, co->arg);
	s->used = false;
}

void
off_co_flush_all(struct off_co *co)
{
	unsigned i;

	for (i = 0; i < OFF_CO_SLOTS; i++)
		off_co_flush(co, &co->slot[i]);
}

bool
off_co_finish(struct off_coslot *s, struct virtio_net_hdr *vh)
{
	uint8_t *ip = s->buf;

	memset(vh, 0, sizeof(*vh));
	if (s->nseg == 1)
		return false;
	if (s->ver == 4) {
		off_put16(ip + 2, (uint16_t)s->len);
		off_ipv4_checksum(ip);
	} else
		off_put16(ip + 4, (uint16_t)(s->len - 40));
	if (s->proto == IPPROTO_UDP) {
		off_put16(ip + s->l4off + 4, (uint16_t)(s->len - s->l4off));
		vh->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
		vh->csum_offset = 6;
	} else {
		vh->gso_type = s->ver == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 :
		    VIRTIO_NET_HDR_GSO_TCPV6;
		vh->csum_offset = 16;
	}
	/* CHECKSUM_PARTIAL: the field holds the pseudo-header sum. */
	off_put16(ip + s->l4off + vh->csum_offset, (uint16_t)~off_csum_fold(
	    off_pseudo(ip, s->proto, s->len - s->l4off)));
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->hdr_len = (uint16_t)s->hlen;
	vh->gso_size = (uint16_t)s->mss;
	vh->csum_start = (uint16_t)s->l4off;
	return true;
}

/*
 * The IP header fields every segment of a USO packet gets from the first
 * (the kernel copies them): TOS, DF and TTL; traffic class, flow label
 * and hop limit.
 */
static bool
udp_same_ip(const uint8_t *a, const uint8_t *b, int ver)
{
	if (ver == 4)
		return a[1] == b[1] && a[6] == b[6] && a[8] == b[8];
	return memcmp(a, b, 4) == 0 && a[7] == b[7];
}

/* The slot of a flow (and a free one, and the oldest), by key. */
static struct off_coslot *
co_find(struct off_co *co, int ver, uint8_t proto, const uint8_t *key,
    size_t keylen, struct off_coslot **free_s, struct off_coslot **oldest)
{
	struct off_coslot *s = NULL;
	unsigned i;

	*free_s = *oldest = NULL;
	for (i = 0; i < OFF_CO_SLOTS; i++) {
		struct off_coslot *c = &co->slot[i];

		if (!c->used) {
			if (*free_s == NULL)
				*free_s = c;
			continue;
		}
		if (c->ver == ver && c->proto == proto &&
		    c->keylen == keylen && memcmp(c->key, key, keylen) == 0)
			s = c;
		if (*oldest == NULL || c->age < (*oldest)->age)
			*oldest = c;
	}
	return s;
}

/* A new flow in a free slot (or the oldest's, written first). */
static struct off_coslot *
co_start(struct off_co *co, struct off_coslot *free_s,
    struct off_coslot *oldest, const uint8_t *pkt, size_t len, int ver,
    uint8_t proto, const uint8_t *key, size_t keylen)
{
	struct off_coslot *s = free_s;

	if (s == NULL) {
		off_co_flush(co, oldest);
		s = oldest;
	}
	memcpy(s->buf, pkt, len);
	s->used = true;
	s->ver = ver;
	s->proto = proto;
	memcpy(s->key, key, keylen);
	s->keylen = keylen;
	s->len = len;
	s->nseg = 1;
	s->age = co->clock++;
	return s;
}

static bool
co_add_udp(struct off_co *co, const uint8_t *pkt, size_t len, int ver,
    size_t l4off, const uint8_t *key, size_t keylen)
{
	struct off_coslot *s, *free_s, *oldest;
	size_t payload;

	s = co_find(co, ver, IPPROTO_UDP, key, keylen, &free_s, &oldest);
	if (len < l4off + 8 || off_get16(pkt + l4off + 4) != len - l4off ||
	    (payload = len - l4off - 8) == 0) {
		if (s != NULL)
			off_co_flush(co, s);
		return false;
	}
	if (s != NULL) {
		if (!s->closed && payload <= s->mss &&
		    s->len + payload <= OFF_CO_MAX &&
		    s->nseg < OFF_CO_MAX_SEGS &&
		    udp_same_ip(s->buf, pkt, ver)) {
			memcpy(s->buf + s->len, pkt + l4off + 8, payload);
			s->len += payload;
			s->nseg++;
			if (payload < s->mss)
				s->closed = true;
			return true;
		}
		off_co_flush(co, s);
		free_s = s;
	}
	s = co_start(co, free_s, oldest, pkt, len, ver, IPPROTO_UDP, key,
	    keylen);
	s->mss = payload;
	s->l4off = l4off;
	s->hlen = l4off + 8;
	s->closed = false;
	return true;
}

bool
off_co_add(struct off_co *co, const uint8_t *pkt, size_t len)
{
	struct off_coslot *s = NULL, *free_s = NULL, *oldest = NULL;
	uint8_t key[36];
	size_t keylen, thl, payload, l4off;
	const uint8_t *th;
	uint8_t flags, proto;
	uint32_t seq;
	int ver;

	if ((ver = off_ip_l4(pkt, len, &l4off, &proto)) < 0 ||
	    (proto != IPPROTO_TCP && (proto != IPPROTO_UDP || !co->uso)) ||
	    len < l4off + 8 || len > OFF_CO_MAX ||
	    off_ip_len(pkt, len) != len)
		return false;
	if (ver == 4 && (pkt[0] != 0x45 ||
	    (off_get16(pkt + 6) & 0x3fff) != 0)) {
		/* Options or a fragment: after every flow, whichever it is. */
		off_co_flush_all(co);
		return false;
	}
	th = pkt + l4off;
	if (proto == IPPROTO_UDP) {
		if (ver == 4) {
			memcpy(key, pkt + 12, 8);
			memcpy(key + 8, th, 4);
			keylen = 12;
		} else {
			memcpy(key, pkt + 8, 32);
			memcpy(key + 32, th, 4);
			keylen = 36;
		}
		return co_add_udp(co, pkt, len, ver, l4off, key, keylen);
	}
	if (len < l4off + 20)
		return false;
	thl = (size_t)(th[12] >> 4) * 4;
	if (thl < 20 || l4off + thl > len)
		return false;
	if (ver == 4) {
		memcpy(key, pkt + 12, 8);
		memcpy(key + 8, th, 4);
		keylen = 12;
	} else {
		memcpy(key, pkt + 8, 32);
		memcpy(key + 32, th, 4);
		keylen = 36;
	}
	s = co_find(co, ver, IPPROTO_TCP, key, keylen, &free_s, &oldest);
	flags = th[13];
	payload = len - l4off - thl;
	seq = off_get32(th + 4);
	/* Only plain in-sequence data segments (ACK, maybe PSH) merge. */
	if (payload == 0 || (flags & ~(TCP_ACK | TCP_PSH)) != 0 ||
	    !(flags & TCP_ACK)) {
		if (s != NULL)
			off_co_flush(co, s);
		return false;
	}
	if (s != NULL) {
		const uint8_t *sth = s->buf + s->l4off;

		if (!s->closed && seq == s->next_seq &&
		    s->hlen == l4off + thl && payload <= s->mss &&
		    s->len + payload <= OFF_CO_MAX &&
		    s->nseg < OFF_CO_MAX_SEGS &&
		    memcmp(sth + 8, th + 8, 4) == 0 &&		/* ack */
		    memcmp(sth + 20, th + 20, thl - 20) == 0) {	/* options */
			memcpy(s->buf + s->len, pkt + l4off + thl, payload);
			s->len += payload;
			s->nseg++;
			s->next_seq = seq + (uint32_t)payload;
			memcpy(s->buf + s->l4off + 14, th + 14, 2); /* window */
			if (flags & TCP_PSH) {
				s->buf[s->l4off + 13] |= TCP_PSH;
				s->closed = true;
			}
			if (payload < s->mss)
				s->closed = true;
			return true;
		}
		off_co_flush(co, s);
		free_s = s;
	}
	s = co_start(co, free_s, oldest, pkt, len, ver, IPPROTO_TCP, key,
	    keylen);
	s->next_seq = seq + (uint32_t)payload;
	s->mss = payload;
	s->l4off = l4off;
	s->hlen = l4off + thl;
	s->closed = (flags & TCP_PSH) != 0;
	return true;
}
