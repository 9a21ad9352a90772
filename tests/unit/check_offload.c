/* SPDX-License-Identifier: ISC */
/*
 * tunneld/dp/offload.c: TSO/USO super-packets cut at several MSS values
 * (every segment's IPv4 header and TCP/UDP checksum checked with a
 * checksum computed here, independently, over an explicit pseudo-header),
 * the coalescing rules, and truncated or garbage virtio-net and IP headers
 * refused.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "offload.h"

#define TCP_FIN	0x01
#define TCP_SYN	0x02
#define TCP_PSH	0x08
#define TCP_ACK	0x10

/* RFC 1071 by 32-bit words in a 64-bit sum: 0 when data is consistent. */
static uint16_t
ref_sum(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	static uint8_t tmp[70000];
	uint64_t s = 0;
	size_t n = 0, i;

	memcpy(tmp, a, alen);
	if (blen > 0)
		memcpy(tmp + alen, b, blen);
	n = alen + blen;
	if (n & 1)
		tmp[n++] = 0;
	for (i = 0; i + 4 <= n; i += 4)
		s += (uint64_t)tmp[i] << 24 | (uint64_t)tmp[i + 1] << 16 |
		    (uint64_t)tmp[i + 2] << 8 | tmp[i + 3];
	if (i < n)
		s += (uint64_t)tmp[i] << 24 | (uint64_t)tmp[i + 1] << 16;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static bool
l4_ok(const uint8_t *ip, size_t len, size_t l4off, uint8_t proto)
{
	uint8_t ph[40];
	size_t phl, l4len = len - l4off;

	memset(ph, 0, sizeof(ph));
	if ((ip[0] >> 4) == 4) {
		memcpy(ph, ip + 12, 8);
		ph[9] = proto;
		ph[10] = (uint8_t)(l4len >> 8);
		ph[11] = (uint8_t)l4len;
		phl = 12;
	} else {
		memcpy(ph, ip + 8, 32);
		ph[34] = (uint8_t)(l4len >> 8);
		ph[35] = (uint8_t)l4len;
		ph[39] = proto;
		phl = 40;
	}
	return ref_sum(ph, phl, ip + l4off, l4len) == 0;
}

static bool
ipv4_hdr_ok(const uint8_t *ip)
{
	return ref_sum(ip, (size_t)(ip[0] & 15) * 4, NULL, 0) == 0;
}

static const uint8_t src4[4] = { 10, 0, 0, 1 }, dst4[4] = { 10, 0, 0, 2 };

/*
 * An IP packet: version 4 or 6, proto, topts bytes of TCP options, pay
 * payload bytes (pattern from seed); returns its length.
 */
static size_t
mkpkt(uint8_t *p, int ver, uint8_t proto, size_t topts, size_t pay,
    uint32_t seq, uint8_t flags, uint8_t seed)
{
	size_t l4off = ver == 4 ? 20 : 40, thl = proto == IPPROTO_TCP ?
	    20 + topts : 8, len = l4off + thl + pay, i;
	uint8_t *th = p + l4off;

	memset(p, 0, l4off + thl);
	if (ver == 4) {
		p[0] = 0x45;
		off_put16(p + 2, (uint16_t)len);
		off_put16(p + 4, 0x1234);
		p[8] = 64;
		p[9] = proto;
		memcpy(p + 12, src4, 4);
		memcpy(p + 16, dst4, 4);
		off_ipv4_checksum(p);
	} else {
		p[0] = 0x60;
		off_put16(p + 4, (uint16_t)(len - 40));
		p[6] = proto;
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = 1;
		p[24] = 0xfd;
		p[39] = 2;
	}
	off_put16(th, 40000);
	off_put16(th + 2, 443);
	if (proto == IPPROTO_TCP) {
		off_put32(th + 4, seq);
		off_put32(th + 8, 777);
		th[12] = (uint8_t)((thl / 4) << 4);
		th[13] = flags;
		off_put16(th + 14, 512);
		for (i = 0; i < topts; i++)
			th[20 + i] = i % 4 == 0 ? 1 : (uint8_t)(0x80 + i);
	} else
		off_put16(th + 4, (uint16_t)(thl + pay));
	for (i = 0; i < pay; i++)
		p[l4off + thl + i] = (uint8_t)(seed + i * 7);
	return len;
}

static uint8_t pkt[70000], seg[70000], out[70000];

static void
check_segmentation(int ver, uint8_t proto, size_t mss, size_t pay)
{
	struct virtio_net_hdr vh;
	struct off_seg plan;
	size_t len = mkpkt(pkt, ver, proto, 12, pay, 0xfffff000u,
	    TCP_ACK | TCP_PSH | TCP_FIN, 3), outlen = 0, hlen;
	unsigned i;

	memset(&vh, 0, sizeof(vh));
	vh.gso_type = proto == IPPROTO_UDP ? VIRTIO_NET_HDR_GSO_UDP_L4 :
	    ver == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	vh.gso_size = (uint16_t)mss;
	ck_assert_int_eq(off_seg_plan(&vh, pkt, len, 65535, &plan), 0);
	hlen = (ver == 4 ? 20 : 40) + (proto == IPPROTO_TCP ? 32 : 8);
	ck_assert_uint_eq(plan.hlen, hlen);
	ck_assert_uint_eq(plan.nseg, (pay + mss - 1) / mss);
	for (i = 0; i < plan.nseg; i++) {
		size_t n = off_seg_build(&plan, pkt, i, seg);
		size_t l4off = ver == 4 ? 20 : 40, want;
		uint8_t *th = seg + l4off;

		want = hlen + (i + 1 < plan.nseg ? mss : pay - i * mss);
		ck_assert_uint_eq(n, want);
		ck_assert_uint_eq(off_seg_len(&plan, i), n);
		ck_assert_uint_eq(off_ip_len(seg, n), n);
		if (ver == 4) {
			ck_assert(ipv4_hdr_ok(seg));
			ck_assert_uint_eq(off_get16(seg + 4), 0x1234 + i);
		}
		ck_assert_msg(l4_ok(seg, n, l4off, proto),
		    "segment %u of mss %zu: bad L4 checksum", i, mss);
		if (proto == IPPROTO_TCP) {
			ck_assert_uint_eq(off_get32(th + 4),
			    (uint32_t)(0xfffff000u + i * mss));
			ck_assert_uint_eq(th[13], i + 1 < plan.nseg ? TCP_ACK :
			    (TCP_ACK | TCP_PSH | TCP_FIN));
			ck_assert_mem_eq(th + 20, pkt + l4off + 20, 12);
		} else
			ck_assert_uint_eq(off_get16(th + 4), n - l4off);
		memcpy(out + outlen, seg + hlen, n - hlen);
		outlen += n - hlen;
	}
	ck_assert_uint_eq(outlen, pay);
	ck_assert_mem_eq(out, pkt + hlen, pay);
}

START_TEST(test_tso4)
{
	static const size_t mss[] = { 536, 1000, 1380, 1448, 8960 };
	unsigned i;

	for (i = 0; i < 5; i++) {
		check_segmentation(4, IPPROTO_TCP, mss[i], 20000);
		check_segmentation(4, IPPROTO_TCP, mss[i], mss[i] * 3);
		check_segmentation(4, IPPROTO_TCP, mss[i], 1);
	}
}
END_TEST

START_TEST(test_tso6)
{
	static const size_t mss[] = { 536, 1220, 1428, 4000 };
	unsigned i;

	for (i = 0; i < 4; i++) {
		check_segmentation(6, IPPROTO_TCP, mss[i], 30001);
		check_segmentation(6, IPPROTO_TCP, mss[i], mss[i] + 1);
	}
}
END_TEST

START_TEST(test_uso)
{
	static const size_t mss[] = { 512, 1200, 1472 };
	unsigned i;

	for (i = 0; i < 3; i++) {
		check_segmentation(4, IPPROTO_UDP, mss[i], 12345);
		check_segmentation(6, IPPROTO_UDP, mss[i], 12345);
	}
}
END_TEST

/* Plans refused: mismatched type, no room, short or odd headers. */
START_TEST(test_seg_plan_refused)
{
	struct virtio_net_hdr vh;
	struct off_seg plan;
	size_t len = mkpkt(pkt, 4, IPPROTO_TCP, 0, 3000, 1, TCP_ACK, 0);

	memset(&vh, 0, sizeof(vh));
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;		/* but IPv4 */
	vh.gso_size = 1000;
	ck_assert_int_eq(off_seg_plan(&vh, pkt, len, 65535, &plan), -EINVAL);
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;	/* but TCP */
	ck_assert_int_eq(off_seg_plan(&vh, pkt, len, 65535, &plan), -EINVAL);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = 0;
	ck_assert_int_eq(off_seg_plan(&vh, pkt, len, 65535, &plan), -EINVAL);
	vh.gso_size = 1000;
	ck_assert_int_eq(off_seg_plan(&vh, pkt, len, 1000, &plan), -EINVAL);
	ck_assert_int_eq(off_seg_plan(&vh, pkt, len, 1040, &plan), 0);
	ck_assert_int_eq(off_seg_plan(&vh, pkt, 39, 65535, &plan), -EINVAL);
	pkt[32] = 0x40;					/* doff 4 */
	ck_assert_int_eq(off_seg_plan(&vh, pkt, len, 65535, &plan), -EINVAL);
	len = mkpkt(pkt, 4, IPPROTO_TCP, 0, 10, 1, TCP_ACK, 0);
	ck_assert_int_eq(off_seg_plan(&vh, pkt, len, 65535, &plan), 0);
	pkt[32] = 0xf0;				/* doff 15: past the end */
	ck_assert_int_eq(off_seg_plan(&vh, pkt, len, 65535, &plan), -EINVAL);
	/* Headers only: nothing to segment. */
	len = mkpkt(pkt, 4, IPPROTO_TCP, 0, 0, 1, TCP_ACK, 0);
	ck_assert_int_eq(off_seg_plan(&vh, pkt, len, 65535, &plan), -EINVAL);
}
END_TEST

START_TEST(test_ip_headers_refused)
{
	size_t l4off;
	uint8_t proto;
	size_t len = mkpkt(pkt, 4, IPPROTO_UDP, 0, 100, 0, 0, 0);

	ck_assert_int_eq(off_ip_l4(pkt, len, &l4off, &proto), 4);
	ck_assert_uint_eq(l4off, 20);
	ck_assert_int_eq(off_ip_l4(pkt, 19, &l4off, &proto), -EINVAL);
	ck_assert_int_eq(off_ip_l4(pkt, len - 1, &l4off, &proto), -EINVAL);
	ck_assert_uint_eq(off_ip_len(pkt, len - 1), 0);
	ck_assert_uint_eq(off_ip_len(pkt, len + 10), len);
	pkt[0] = 0x44;					/* IHL 16 bytes */
	ck_assert_int_eq(off_ip_l4(pkt, len, &l4off, &proto), -EINVAL);
	pkt[0] = 0x4f;					/* IHL 60 */
	ck_assert_int_eq(off_ip_l4(pkt, 40, &l4off, &proto), -EINVAL);
	pkt[0] = 0x55;					/* version 5 */
	ck_assert_int_eq(off_ip_l4(pkt, len, &l4off, &proto), -EINVAL);
	ck_assert_uint_eq(off_ip_len(pkt, len), 0);
	len = mkpkt(pkt, 6, IPPROTO_UDP, 0, 100, 0, 0, 0);
	ck_assert_int_eq(off_ip_l4(pkt, len, &l4off, &proto), 6);
	ck_assert_int_eq(off_ip_l4(pkt, 39, &l4off, &proto), -EINVAL);
	ck_assert_int_eq(off_ip_l4(pkt, len - 1, &l4off, &proto), -EINVAL);
}
END_TEST

START_TEST(test_vnet_refused)
{
	uint8_t buf[200];
	struct virtio_net_hdr vh, in;

	memset(&in, 0, sizeof(in));
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &in, sizeof(in));
	ck_assert_int_eq(off_vnet_parse(buf, sizeof(buf), &vh), 0);
	ck_assert_int_eq(off_vnet_parse(buf, OFF_VNET_HDR_LEN - 1, &vh),
	    -EINVAL);
	ck_assert_int_eq(off_vnet_parse(buf, 0, &vh), -EINVAL);
	in.gso_type = 3;				/* UFO */
	memcpy(buf, &in, sizeof(in));
	ck_assert_int_eq(off_vnet_parse(buf, sizeof(buf), &vh), -EINVAL);
	in.gso_type = VIRTIO_NET_HDR_GSO_ECN;		/* ECN, no GSO */
	memcpy(buf, &in, sizeof(in));
	ck_assert_int_eq(off_vnet_parse(buf, sizeof(buf), &vh), -EINVAL);
	in.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;		/* no size */
	memcpy(buf, &in, sizeof(in));
	ck_assert_int_eq(off_vnet_parse(buf, sizeof(buf), &vh), -EINVAL);
	in.gso_size = 1000;
	memcpy(buf, &in, sizeof(in));
	ck_assert_int_eq(off_vnet_parse(buf, sizeof(buf), &vh), 0);
	in.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	in.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	in.csum_start = 180;
	in.csum_offset = 6;
	memcpy(buf, &in, sizeof(in));
	/* 190 bytes of packet: the field at 186..187 fits, 188 does not. */
	ck_assert_int_eq(off_vnet_parse(buf, sizeof(buf), &vh), 0);
	in.csum_offset = 9;
	memcpy(buf, &in, sizeof(in));
	ck_assert_int_eq(off_vnet_parse(buf, sizeof(buf), &vh), -EINVAL);
	in.csum_start = 0xffff;
	in.csum_offset = 0xffff;
	memcpy(buf, &in, sizeof(in));
	ck_assert_int_eq(off_vnet_parse(buf, sizeof(buf), &vh), -EINVAL);
}
END_TEST

/* CHECKSUM_PARTIAL, as the kernel hands it: pseudo-header sum in place. */
START_TEST(test_csum_complete)
{
	struct virtio_net_hdr vh;
	int ver;

	for (ver = 4; ver <= 6; ver += 2) {
		size_t len = mkpkt(pkt, ver, IPPROTO_TCP, 8, 999, 5, TCP_ACK,
		    9), l4off = ver == 4 ? 20 : 40;

		off_put16(pkt + l4off + 16, (uint16_t)~off_csum_fold(
		    off_pseudo(pkt, IPPROTO_TCP, len - l4off)));
		memset(&vh, 0, sizeof(vh));
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.csum_start = (uint16_t)l4off;
		vh.csum_offset = 16;
		ck_assert(!l4_ok(pkt, len, l4off, IPPROTO_TCP));
		ck_assert_int_eq(off_csum_complete(&vh, pkt, len), 0);
		ck_assert(l4_ok(pkt, len, l4off, IPPROTO_TCP));
		vh.csum_start = (uint16_t)len;
		ck_assert_int_eq(off_csum_complete(&vh, pkt, len), -EINVAL);
	}
}
END_TEST

/* --- coalescing --- */

/* The byte-pair loop off_csum_add was: the reference. */
static uint32_t
csum_ref(uint32_t sum, const uint8_t *p, size_t len)
{
	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
		if (sum & 0x80000000u)
			sum = (sum & 0xffff) + (sum >> 16);
	}
	if (len == 1)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint8_t cbuf[70000 + 16];

START_TEST(test_csum_ref)
{
	static const size_t lens[] = { 0, 1, 2, 3, 4, 15, 16, 17, 31, 33,
	    1240, 1241, 9000, 65535, 70000 };
	uint32_t seed = 0x1234567u, init;
	size_t i, k, off, len;

	for (i = 0; i < sizeof(cbuf); i++) {
		seed = seed * 1103515245u + 12345u;
		cbuf[i] = (uint8_t)(seed >> 16);
	}
	for (k = 0; k < 3000; k++) {
		seed = seed * 1103515245u + 12345u;
		off = (seed >> 8) % 16;
		len = k < 15 * 16 ? lens[k % 15] : (seed >> 12) % 2100;
		if (len > sizeof(cbuf) - off)
			len = sizeof(cbuf) - off;
		init = k % 4 == 0 ? 0 : k % 4 == 1 ? 0x7fff0000u + (uint32_t)k :
		    seed >> 1;
		ck_assert_uint_eq(off_csum_fold(off_csum_add(init, cbuf + off,
		    len)), off_csum_fold(csum_ref(init, cbuf + off, len)));
		/* Chained at even offsets, as the pseudo-header is. */
		ck_assert_uint_eq(off_csum_fold(off_csum_add(off_csum_add(
		    init, cbuf + off, len & ~(size_t)1), cbuf, 7)),
		    off_csum_fold(csum_ref(csum_ref(init, cbuf + off,
		    len & ~(size_t)1), cbuf, 7)));
	}
	/* Zero and negative zero stay apart. */
	memset(cbuf, 0, 64);
	ck_assert_uint_eq(off_csum_fold(off_csum_add(0, cbuf, 64)), 0xffff);
	memset(cbuf, 0xff, 64);
	ck_assert_uint_eq(off_csum_fold(off_csum_add(0, cbuf, 64)),
	    off_csum_fold(csum_ref(0, cbuf, 64)));
	memset(cbuf, 0xff, sizeof(cbuf));
	ck_assert_uint_eq(off_csum_fold(off_csum_add(0xffffffffu, cbuf,
	    sizeof(cbuf))), off_csum_fold(csum_ref(0x1fffeu, cbuf,
	    sizeof(cbuf))));
}
END_TEST

static uint8_t slotbuf[OFF_CO_SLOTS][OFF_CO_MAX];
static struct {
	size_t		len;
	unsigned	nseg;
	bool		gso;
	struct virtio_net_hdr vh;
	uint8_t		buf[OFF_CO_MAX];
} flushed[32];
static unsigned nflushed;

static void
record(struct off_coslot *s, void *arg)
{
	(void)arg;
	ck_assert_uint_lt(nflushed, 32);
	flushed[nflushed].gso = off_co_finish(s, &flushed[nflushed].vh);
	flushed[nflushed].len = s->len;
	flushed[nflushed].nseg = s->nseg;
	memcpy(flushed[nflushed].buf, s->buf, s->len);
	nflushed++;
}

static void
co_init(struct off_co *co)
{
	unsigned i;

	memset(co, 0, sizeof(*co));
	for (i = 0; i < OFF_CO_SLOTS; i++)
		co->slot[i].buf = slotbuf[i];
	co->flush = record;
	nflushed = 0;
}

static size_t
tcp(int ver, uint32_t seq, size_t pay, uint8_t flags)
{
	return mkpkt(pkt, ver, IPPROTO_TCP, 12, pay, seq, flags,
	    (uint8_t)seq);
}

START_TEST(test_co_in_order)
{
	struct off_co co;
	int ver;

	for (ver = 4; ver <= 6; ver += 2) {
		size_t l4off = ver == 4 ? 20 : 40, hlen = l4off + 32;
		uint8_t whole[5000];
		size_t len;
		unsigned i;

		co_init(&co);
		for (i = 0; i < 3; i++) {
			len = tcp(ver, 1000 + (uint32_t)i * 1000, 1000,
			    TCP_ACK | (i == 2 ? TCP_PSH : 0));
			memcpy(whole + i * 1000, pkt + hlen, 1000);
			ck_assert(off_co_add(&co, pkt, len));
		}
		ck_assert_uint_eq(nflushed, 0);
		off_co_flush_all(&co);
		ck_assert_uint_eq(nflushed, 1);
		ck_assert(flushed[0].gso);
		ck_assert_uint_eq(flushed[0].nseg, 3);
		ck_assert_uint_eq(flushed[0].len, hlen + 3000);
		ck_assert_uint_eq(flushed[0].vh.gso_size, 1000);
		ck_assert_uint_eq(flushed[0].vh.hdr_len, hlen);
		ck_assert_uint_eq(flushed[0].vh.gso_type, ver == 4 ?
		    VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
		ck_assert_uint_eq(flushed[0].vh.csum_start, l4off);
		ck_assert_uint_eq(flushed[0].vh.csum_offset, 16);
		ck_assert_uint_eq(off_ip_len(flushed[0].buf, flushed[0].len),
		    hlen + 3000);
		ck_assert_mem_eq(flushed[0].buf + hlen, whole, 3000);
		ck_assert(flushed[0].buf[l4off + 13] & TCP_PSH);
		if (ver == 4)
			ck_assert(ipv4_hdr_ok(flushed[0].buf));
		/* What the kernel completes must be right. */
		{
			struct virtio_net_hdr vh = flushed[0].vh;

			vh.gso_type = VIRTIO_NET_HDR_GSO_NONE;
			ck_assert_int_eq(off_csum_complete(&vh, flushed[0].buf,
			    flushed[0].len), 0);
			ck_assert(l4_ok(flushed[0].buf, flushed[0].len, l4off,
			    IPPROTO_TCP));
		}
	}
}
END_TEST

START_TEST(test_co_rules)
{
	struct off_co co;
	size_t len;

	/* A gap: the flow is written, the new packet starts a new one. */
	co_init(&co);
	ck_assert(off_co_add(&co, pkt, tcp(4, 1000, 1000, TCP_ACK)));
	ck_assert(off_co_add(&co, pkt, tcp(4, 3000, 1000, TCP_ACK)));
	ck_assert_uint_eq(nflushed, 1);
	ck_assert(!flushed[0].gso);
	ck_assert_uint_eq(flushed[0].nseg, 1);

	/* SYN, FIN, no payload: flushed, then written as they are. */
	co_init(&co);
	ck_assert(off_co_add(&co, pkt, tcp(4, 1000, 1000, TCP_ACK)));
	ck_assert(!off_co_add(&co, pkt, tcp(4, 2000, 1000, TCP_ACK | TCP_FIN)));
	ck_assert_uint_eq(nflushed, 1);
	ck_assert(!off_co_add(&co, pkt, tcp(4, 2000, 100, TCP_SYN)));
	ck_assert(!off_co_add(&co, pkt, tcp(4, 2000, 0, TCP_ACK)));
	ck_assert(!off_co_add(&co, pkt, tcp(4, 2000, 10, 0)));	/* no ACK */
	ck_assert_uint_eq(nflushed, 1);

	/* PSH closes the flow: the next segment starts another. */
	co_init(&co);
	ck_assert(off_co_add(&co, pkt, tcp(4, 1000, 1000, TCP_ACK | TCP_PSH)));
	ck_assert(off_co_add(&co, pkt, tcp(4, 2000, 1000, TCP_ACK)));
	ck_assert_uint_eq(nflushed, 1);

	/* A short segment closes it too; a longer one never follows. */
	co_init(&co);
	ck_assert(off_co_add(&co, pkt, tcp(4, 1000, 1000, TCP_ACK)));
	ck_assert(off_co_add(&co, pkt, tcp(4, 2000, 1200, TCP_ACK)));
	ck_assert_uint_eq(nflushed, 1);
	ck_assert(off_co_add(&co, pkt, tcp(4, 3200, 500, TCP_ACK)));
	ck_assert(off_co_add(&co, pkt, tcp(4, 3700, 500, TCP_ACK)));
	ck_assert_uint_eq(nflushed, 2);

	/* Different options, different ACK: not merged. */
	co_init(&co);
	ck_assert(off_co_add(&co, pkt, tcp(4, 1000, 1000, TCP_ACK)));
	len = tcp(4, 2000, 1000, TCP_ACK);
	pkt[20 + 21]++;
	ck_assert(off_co_add(&co, pkt, len));
	ck_assert_uint_eq(nflushed, 1);
	len = tcp(4, 3000, 1000, TCP_ACK);
	pkt[20 + 21]++;
	pkt[20 + 11]++;					/* ack */
	ck_assert(off_co_add(&co, pkt, len));
	ck_assert_uint_eq(nflushed, 2);

	/* IPv4 options, fragments, UDP, IPv6 extension headers: never. */
	co_init(&co);
	len = tcp(4, 1000, 1000, TCP_ACK);
	pkt[6] = 0x20;					/* MF */
	ck_assert(!off_co_add(&co, pkt, len));
	len = mkpkt(pkt, 4, IPPROTO_UDP, 0, 1000, 0, 0, 0);
	ck_assert(!off_co_add(&co, pkt, len));
	len = tcp(6, 1000, 1000, TCP_ACK);
	pkt[6] = 0;					/* hop-by-hop */
	ck_assert(!off_co_add(&co, pkt, len));
	ck_assert(!off_co_add(&co, pkt, 30));
	ck_assert_uint_eq(nflushed, 0);
}
END_TEST

START_TEST(test_co_flows)
{
	struct off_co co;
	unsigned i;
	size_t len;

	/* Two flows interleaved: each merges on its own. */
	co_init(&co);
	for (i = 0; i < 4; i++) {
		len = tcp(4, 1000 + i * 1000, 1000, TCP_ACK);
		pkt[20 + 1] = (uint8_t)(i & 1);		/* source port */
		off_put32(pkt + 20 + 4, 1000 + (i / 2) * 1000);
		pkt[10] = pkt[11] = 0;
		ck_assert(off_co_add(&co, pkt, len));
	}
	ck_assert_uint_eq(nflushed, 0);
	off_co_flush_all(&co);
	ck_assert_uint_eq(nflushed, 2);
	ck_assert_uint_eq(flushed[0].nseg, 2);
	ck_assert_uint_eq(flushed[1].nseg, 2);

	/* One flow per slot and one more: the oldest goes first. */
	co_init(&co);
	for (i = 0; i <= OFF_CO_SLOTS; i++) {
		len = tcp(4, 1000, 1000, TCP_ACK);
		pkt[16 + 3] = (uint8_t)(10 + i);		/* destination */
		ck_assert(off_co_add(&co, pkt, len));
	}
	ck_assert_uint_eq(nflushed, 1);
	ck_assert_uint_eq(flushed[0].buf[19], 10);
}
END_TEST

/* A UDP datagram of the flow 40000 -> 443, with its checksum filled in. */
static size_t
udp(int ver, size_t pay, uint8_t seed)
{
	size_t len = mkpkt(pkt, ver, IPPROTO_UDP, 0, pay, 0, 0, seed);

	off_l4_checksum(pkt, len, ver == 4 ? 20 : 40, IPPROTO_UDP);
	return len;
}

/*
 * Datagrams of one size (and a shorter last) become one USO packet whose
 * checksum seed is right and which, cut again at gso_size as the kernel
 * does, gives back the same UDP headers and payloads.
 */
START_TEST(test_co_udp)
{
	static const size_t pay[] = { 1000, 1000, 1000, 400 };
	static uint8_t orig[4][1100];
	struct off_co co;
	int ver;

	for (ver = 4; ver <= 6; ver += 2) {
		size_t l4off = ver == 4 ? 20 : 40, hlen = l4off + 8, len;
		struct virtio_net_hdr vh;
		struct off_seg plan;
		unsigned i;

		co_init(&co);
		co.uso = true;
		for (i = 0; i < 4; i++) {
			len = udp(ver, pay[i], (uint8_t)(i * 31));
			memcpy(orig[i], pkt, len);
			ck_assert(off_co_add(&co, pkt, len));
		}
		ck_assert_uint_eq(nflushed, 0);
		off_co_flush_all(&co);
		ck_assert_uint_eq(nflushed, 1);
		ck_assert(flushed[0].gso);
		ck_assert_uint_eq(flushed[0].nseg, 4);
		ck_assert_uint_eq(flushed[0].len, hlen + 3400);
		ck_assert_uint_eq(flushed[0].vh.gso_type,
		    VIRTIO_NET_HDR_GSO_UDP_L4);
		ck_assert_uint_eq(flushed[0].vh.gso_size, 1000);
		ck_assert_uint_eq(flushed[0].vh.hdr_len, hlen);
		ck_assert_uint_eq(flushed[0].vh.flags,
		    VIRTIO_NET_HDR_F_NEEDS_CSUM);
		ck_assert_uint_eq(flushed[0].vh.csum_start, l4off);
		ck_assert_uint_eq(flushed[0].vh.csum_offset, 6);
		ck_assert_uint_eq(off_ip_len(flushed[0].buf, flushed[0].len),
		    flushed[0].len);
		ck_assert_uint_eq(off_get16(flushed[0].buf + l4off + 4),
		    flushed[0].len - l4off);
		if (ver == 4)
			ck_assert(ipv4_hdr_ok(flushed[0].buf));
		/* The header as the TUN will check it, packet behind. */
		memcpy(out, &flushed[0].vh, OFF_VNET_HDR_LEN);
		memcpy(out + OFF_VNET_HDR_LEN, flushed[0].buf, flushed[0].len);
		ck_assert_int_eq(off_vnet_parse(out, OFF_VNET_HDR_LEN +
		    flushed[0].len, &vh), 0);

		/* Cut as the kernel cuts it: the same datagrams. */
		memcpy(pkt, flushed[0].buf, flushed[0].len);
		ck_assert_int_eq(off_seg_plan(&flushed[0].vh, pkt,
		    flushed[0].len, 65535, &plan), 0);
		ck_assert_uint_eq(plan.nseg, 4);
		for (i = 0; i < 4; i++) {
			size_t n = off_seg_build(&plan, pkt, i, seg);

			ck_assert_uint_eq(n, hlen + pay[i]);
			ck_assert_mem_eq(seg + l4off, orig[i] + l4off,
			    8 + pay[i]);
		}

		/* The seed: what the kernel completes must be right. */
		vh = flushed[0].vh;
		vh.gso_type = VIRTIO_NET_HDR_GSO_NONE;
		ck_assert_int_eq(off_csum_complete(&vh, flushed[0].buf,
		    flushed[0].len), 0);
		ck_assert(l4_ok(flushed[0].buf, flushed[0].len, l4off,
		    IPPROTO_UDP));
	}
}
END_TEST

START_TEST(test_co_udp_rules)
{
	struct off_co co;
	size_t len;

	/* Without USO on the TUN: never. */
	co_init(&co);
	ck_assert(!off_co_add(&co, pkt, udp(4, 1000, 0)));

	/* After a shorter datagram, or before a longer one: a new packet. */
	co_init(&co);
	co.uso = true;
	ck_assert(off_co_add(&co, pkt, udp(4, 1000, 0)));
	ck_assert(off_co_add(&co, pkt, udp(4, 500, 0)));
	ck_assert(off_co_add(&co, pkt, udp(4, 500, 0)));
	ck_assert_uint_eq(nflushed, 1);
	ck_assert_uint_eq(flushed[0].nseg, 2);
	ck_assert(off_co_add(&co, pkt, udp(4, 1200, 0)));
	ck_assert_uint_eq(nflushed, 2);
	ck_assert(!flushed[1].gso);
	ck_assert_uint_eq(flushed[1].nseg, 1);

	/* Another TTL (or TOS): the flow is written first. */
	co_init(&co);
	co.uso = true;
	ck_assert(off_co_add(&co, pkt, udp(4, 1000, 0)));
	len = udp(4, 1000, 0);
	pkt[8] = 63;
	off_ipv4_checksum(pkt);
	ck_assert(off_co_add(&co, pkt, len));
	ck_assert_uint_eq(nflushed, 1);
	len = udp(6, 1000, 0);
	ck_assert(off_co_add(&co, pkt, len));
	pkt[1] = 0x10;					/* traffic class */
	ck_assert(off_co_add(&co, pkt, len));
	ck_assert_uint_eq(nflushed, 2);

	/* A wrong UDP length, an empty datagram: flushed, then as they are. */
	co_init(&co);
	co.uso = true;
	ck_assert(off_co_add(&co, pkt, udp(4, 1000, 0)));
	len = udp(4, 1000, 0);
	off_put16(pkt + 24, 1007);
	ck_assert(!off_co_add(&co, pkt, len));
	ck_assert_uint_eq(nflushed, 1);
	ck_assert(off_co_add(&co, pkt, udp(4, 1000, 0)));
	ck_assert(!off_co_add(&co, pkt, udp(4, 0, 0)));
	ck_assert_uint_eq(nflushed, 2);

	/* A fragment: every flow is written before it. */
	co_init(&co);
	co.uso = true;
	ck_assert(off_co_add(&co, pkt, udp(4, 1000, 0)));
	ck_assert(off_co_add(&co, pkt, tcp(4, 1000, 1000, TCP_ACK)));
	len = udp(4, 1000, 0);
	pkt[6] = 0x20;					/* MF */
	ck_assert(!off_co_add(&co, pkt, len));
	ck_assert_uint_eq(nflushed, 2);

	/* TCP and UDP with the same addresses and ports: two flows. */
	co_init(&co);
	co.uso = true;
	ck_assert(off_co_add(&co, pkt, udp(4, 1000, 0)));
	ck_assert(off_co_add(&co, pkt, tcp(4, 1000, 1000, TCP_ACK)));
	ck_assert(off_co_add(&co, pkt, udp(4, 1000, 0)));
	ck_assert(off_co_add(&co, pkt, tcp(4, 2000, 1000, TCP_ACK)));
	ck_assert_uint_eq(nflushed, 0);
	off_co_flush_all(&co);
	ck_assert_uint_eq(nflushed, 2);
	ck_assert_uint_eq(flushed[0].nseg, 2);
	ck_assert_uint_eq(flushed[1].nseg, 2);
	ck_assert(flushed[0].gso && flushed[1].gso);
}
END_TEST

static Suite *
offload_suite(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("offload");

	tcase_add_test(tc, test_tso4);
	tcase_add_test(tc, test_tso6);
	tcase_add_test(tc, test_uso);
	tcase_add_test(tc, test_seg_plan_refused);
	tcase_add_test(tc, test_ip_headers_refused);
	tcase_add_test(tc, test_vnet_refused);
	tcase_add_test(tc, test_csum_complete);
	tcase_add_test(tc, test_csum_ref);
	tcase_add_test(tc, test_co_in_order);
	tcase_add_test(tc, test_co_rules);
	tcase_add_test(tc, test_co_flows);
	tcase_add_test(tc, test_co_udp);
	tcase_add_test(tc, test_co_udp_rules);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(offload_suite)
