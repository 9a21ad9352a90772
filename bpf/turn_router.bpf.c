/* SPDX-License-Identifier: GPL-2.0 OR ISC */
/*
 * XDP fast path for TURN ChannelData (RFC 8656 section 12):
 *
 *   client -> relay_port, ChannelData on a bound channel
 *     => UDP from allocation_port to the peer (header stripped)
 *   peer -> allocation_port, with a bound channel
 *     => ChannelData from relay_port to the client (header prepended)
 *   a channel whose peer is the relay's own relayed address
 *     => ChannelData straight to the other client (relay-to-self)
 *
 * IPv4 and IPv6 on either side.  Headers are rebuilt, the UDP checksum is
 * updated incrementally (RFC 1624) or computed in full when the sender
 * left it partial, TTL/hop limit decremented, MACs swapped and the frame
 * sent back out (XDP_TX).  Anything else goes to userspace (XDP_PASS),
 * always counted; a frame that cannot be rebuilt once its headroom has
 * changed is dropped (XDP_DROP) and counted as a drop.
 *
 * Shape: a parsing cursor with one helper per header (xdp-tutorial's
 * parsing_helpers.h), one function per direction deciding where a packet
 * goes (route_from_client, route_from_peer), one rewrite (relay_out).
 * The relay port, allocation port range and interface addresses are
 * read-only data fz-relayd sets before loading.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "turn_shared.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u16 cfg_relay_port = 3478;	/* host order */
const volatile __u16 cfg_port_lo = 49152;
const volatile __u16 cfg_port_hi = 65535;
const volatile __u8 cfg_has_int4 = 0, cfg_has_int6 = 0;
const volatile __u8 cfg_int4[4] = { 0 };
const volatile __u8 cfg_int6[16] = { 0 };
const volatile __u8 cfg_has_pub4 = 0, cfg_has_pub6 = 0;
const volatile __u8 cfg_pub4[4] = { 0 };
const volatile __u8 cfg_pub6[16] = { 0 };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FZ_XDP_MAX_CHANNELS);
	__type(key, struct fz_xdp_client);
	__type(value, struct fz_xdp_peer_val);
} fz_chan_to_peer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FZ_XDP_MAX_CHANNELS);
	__type(key, struct fz_xdp_peer);
	__type(value, struct fz_xdp_client_val);
} fz_peer_to_chan SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FZ_XS_COUNT);
	__type(key, __u32);
	__type(value, struct fz_xdp_stat_val);
} fz_stats SEC(".maps");

/*
 * Header sizes as the program reads and writes them: IPv4 without
 * options, IPv6 without extension headers (anything else is passed).
 * ETH_HLEN (14) comes from linux/if_ether.h.
 */
#define IPV4_HLEN		20
#define IPV6_HLEN		40
#define UDP_HLEN		8
#define CHANNELDATA_HLEN	4	/* channel number, length */

#define IPV4_FRAG_BITS		0x3fff	/* MF and the fragment offset */
#define IPV4_DONT_FRAGMENT	0x4000
#define IPV6_NEXTHDR_FRAGMENT	44
#define IPV6_VERSION_WORD	0x60000000u	/* version 6, class 0, flow 0 */
#define CHANNEL_MIN		0x4000	/* RFC 5766's range, as stun.h's */
#define CHANNEL_MAX		0x7fff
#define FULL_CSUM_MAX		1500	/* bytes summed when recomputing */

/* Not an outcome yet: the caller goes on. */
#define CONTINUE	(-1)

/* The xdp-tutorial parsing cursor: each helper checks, then advances. */
struct hdr_cursor {
	void	*pos;
};

static __always_inline int
parse_ethhdr(struct hdr_cursor *nh, void *end, struct ethhdr **out)
{
	struct ethhdr *eth = nh->pos;

	if ((void *)(eth + 1) > end)
		return -1;
	nh->pos = eth + 1;
	*out = eth;
	return 0;
}

static __always_inline int
parse_iphdr(struct hdr_cursor *nh, void *end, struct iphdr **out)
{
	struct iphdr *ip = nh->pos;

	if ((void *)(ip + 1) > end)
		return -1;
	nh->pos = ip + 1;	/* IPV4_HLEN: options are passed */
	*out = ip;
	return 0;
}

static __always_inline int
parse_ip6hdr(struct hdr_cursor *nh, void *end, struct ipv6hdr **out)
{
	struct ipv6hdr *ip6 = nh->pos;

	if ((void *)(ip6 + 1) > end)
		return -1;
	nh->pos = ip6 + 1;
	*out = ip6;
	return 0;
}

static __always_inline int
parse_udphdr(struct hdr_cursor *nh, void *end, struct udphdr **out)
{
	struct udphdr *udp = nh->pos;

	if ((void *)(udp + 1) > end)
		return -1;
	nh->pos = udp + 1;
	*out = udp;
	return 0;
}

static __always_inline int
parse_channeldata(struct hdr_cursor *nh, void *end, __u8 **out)
{
	__u8 *cd = nh->pos;

	if ((void *)(cd + CHANNELDATA_HLEN) > end)
		return -1;
	nh->pos = cd + CHANNELDATA_HLEN;
	*out = cd;
	return 0;
}

/* The received packet's headers, as far as the relay cares. */
struct pkt {
	__u8	src[16] __attribute__((aligned(8)));
	__u8	dst[16] __attribute__((aligned(8)));
	int	fam;
	__be16	sport, dport;
	__u16	udp_len;	/* host order, header included */
	__u16	csum;		/* raw */
	__u8	ttl, tos;
	__be32	flow;		/* IPv6 version/class/flow word */
	__be16	ip_id, frag;	/* IPv4 */
	__u32	l4;		/* offset of the UDP header */
};

/* Where a relayed packet goes, as a direction function decided. */
struct route {
	int	dir;		/* FZ_XS_C2P, FZ_XS_P2C or FZ_XS_SELF */
	int	nfam;
	__be16	nsport, ndport;
	__be16	chan_old;	/* ChannelData header in (C2P, SELF) */
	__be16	cdlen_old;
	__be16	chan_new;	/* ChannelData header out (P2C, SELF) */
};

/* Per-packet working state: off the 512-byte BPF stack. */
struct scratch {
	struct pkt		in;
	struct route		rt;
	struct fz_xdp_client	ckey;
	struct fz_xdp_peer	pkey;
	__u8			nsrc[16] __attribute__((aligned(8)));
	__u8			ndst[16] __attribute__((aligned(8)));
	__u8			pub[16] __attribute__((aligned(8)));
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} fz_scratch SEC(".maps");

static __always_inline int
count(int what, __u64 bytes, int verdict)
{
	__u32 k = (__u32)what;
	struct fz_xdp_stat_val *v = bpf_map_lookup_elem(&fz_stats, &k);

	if (v != 0) {
		v->packets++;
		v->bytes += bytes;
	}
	return verdict;
}

/* Ones' complement arithmetic on raw (network-order) 16-bit words. */
static __always_inline __u32
sum16(__u32 s, __u16 w)
{
	return s + w;
}

static __always_inline __u32
sub16(__u32 s, __u16 w)
{
	return s + (__u16)~w;
}

/* Adds (or, with neg, subtracts) an address: 2 words for IPv4, 8 for v6. */
static __always_inline __u32
sum_addr(__u32 s, const __u8 *ip, int fam, int neg)
{
	const __u16 *w = (const __u16 *)ip;	/* 8-byte aligned */

	if (neg) {
		s = sub16(s, w[0]);
		s = sub16(s, w[1]);
		if (fam == 6) {
			s = sub16(s, w[2]); s = sub16(s, w[3]);
			s = sub16(s, w[4]); s = sub16(s, w[5]);
			s = sub16(s, w[6]); s = sub16(s, w[7]);
		}
	} else {
		s = sum16(s, w[0]);
		s = sum16(s, w[1]);
		if (fam == 6) {
			s = sum16(s, w[2]); s = sum16(s, w[3]);
			s = sum16(s, w[4]); s = sum16(s, w[5]);
			s = sum16(s, w[6]); s = sum16(s, w[7]);
		}
	}
	return s;
}

static __always_inline __u16
fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/*
 * Copies read-only configuration bytes.  Element by element through the
 * volatile qualifier: a cast to a plain pointer would let the compiler fold
 * the initial zeros in, and the values fz-relayd sets would never be read.
 */
static __always_inline void
cfg_copy(__u8 *dst, const volatile __u8 *src, int n)
{
	int i;

#pragma unroll
	for (i = 0; i < 16; i++)
		if (i < n)
			dst[i] = src[i];
}

/* 16-byte addresses (IPv4 zero-padded) compare whole. */
static __always_inline int
ip_eq(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

static __always_inline int
is_public(const __u8 *ip, int fam, __u8 *p)
{
	__builtin_memset(p, 0, 16);
	if (fam == 4) {
		if (!cfg_has_pub4)
			return 0;
		cfg_copy(p, cfg_pub4, 4);
	} else {
		if (!cfg_has_pub6)
			return 0;
		cfg_copy(p, cfg_pub6, 16);
	}
	return ip_eq(ip, p);
}

/* The source address for a packet leaving in family fam. */
static __always_inline int
source_for(const struct pkt *in, int fam, __u8 *out)
{
	if (fam == in->fam) {
		__builtin_memcpy(out, in->dst, 16);
		return 0;
	}
	__builtin_memset(out, 0, 16);
	if (fam == 4) {
		if (!cfg_has_int4)
			return -1;
		cfg_copy(out, cfg_int4, 4);
	} else {
		if (!cfg_has_int6)
			return -1;
		cfg_copy(out, cfg_int6, 16);
	}
	return 0;
}

/* Full UDP checksum over the rebuilt packet (the sender left it partial). */
static __always_inline __u16
full_csum(struct xdp_md *ctx, __u32 l4, __u32 udp_len, __u32 s)
{
	int i;

	for (i = 0; i < FULL_CSUM_MAX / 2; i++) {
		void *data = (void *)(long)ctx->data;
		void *end = (void *)(long)ctx->data_end;
		__u32 off = (__u32)i * 2;
		__u8 *p;

		if (off >= udp_len)
			break;
		p = data + (l4 & 0xff) + off;
		if ((void *)(p + 2) > end) {
			if ((void *)(p + 1) <= end && off + 1 == udp_len) {
				__u16 w = 0;

				__builtin_memcpy(&w, p, 1);
				s = sum16(s, w);
			}
			break;
		}
		if (off + 1 == udp_len) {
			__u16 w = 0;

			__builtin_memcpy(&w, p, 1);
			s = sum16(s, w);
			break;
		}
		s = sum16(s, *(__u16 *)p);
	}
	return fold(s);
}

/* --- parsing ------------------------------------------------------------- */

/*
 * Ethernet, IPv4 or IPv6, UDP into in, the cursor left after the UDP
 * header: CONTINUE, or the outcome of a packet that is not ours.
 */
static __always_inline int
parse_packet(struct hdr_cursor *nh, void *end, struct pkt *in)
{
	struct ethhdr *eth;
	struct udphdr *udp;
	void *l4;
	__u16 udp_len;

	__builtin_memset(in, 0, sizeof(*in));
	if (parse_ethhdr(nh, end, &eth) != 0)
		return FZ_XS_PASS_SHORT;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip;

		if (parse_iphdr(nh, end, &ip) != 0)
			return FZ_XS_PASS_SHORT;
		if (ip->ihl != IPV4_HLEN / 4)
			return FZ_XS_PASS_IP_OPTIONS;
		if (ip->frag_off & bpf_htons(IPV4_FRAG_BITS))
			return FZ_XS_PASS_FRAGMENT;
		if (ip->protocol != IPPROTO_UDP)
			return FZ_XS_PASS_NOT_UDP;
		in->fam = 4;
		__builtin_memcpy(in->src, &ip->saddr, 4);
		__builtin_memcpy(in->dst, &ip->daddr, 4);
		in->ttl = ip->ttl;
		in->tos = ip->tos;
		in->ip_id = ip->id;
		in->frag = ip->frag_off;
		in->l4 = ETH_HLEN + IPV4_HLEN;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6;

		if (parse_ip6hdr(nh, end, &ip6) != 0)
			return FZ_XS_PASS_SHORT;
		if (ip6->nexthdr != IPPROTO_UDP)
			return ip6->nexthdr == IPV6_NEXTHDR_FRAGMENT ?
			    FZ_XS_PASS_FRAGMENT : FZ_XS_PASS_IP_OPTIONS;
		in->fam = 6;
		__builtin_memcpy(in->src, &ip6->saddr, 16);
		__builtin_memcpy(in->dst, &ip6->daddr, 16);
		in->ttl = ip6->hop_limit;
		__builtin_memcpy(&in->flow, ip6, 4);
		in->l4 = ETH_HLEN + IPV6_HLEN;
	} else
		return FZ_XS_PASS_NOT_IP;
	l4 = nh->pos;
	if (parse_udphdr(nh, end, &udp) != 0)
		return FZ_XS_PASS_SHORT;
	udp_len = bpf_ntohs(udp->len);
	in->sport = udp->source;
	in->dport = udp->dest;
	in->udp_len = udp_len;
	in->csum = udp->check;
	if (udp_len < UDP_HLEN || l4 + udp_len > end)
		return FZ_XS_PASS_SHORT;
	return CONTINUE;
}

/* --- the two directions: where a packet goes, from the maps -------------- */

/* Towards a client: ChannelData from the relay port. */
static __always_inline void
route_to_client(struct scratch *sc, const struct fz_xdp_client *c, int dir)
{
	sc->rt.dir = dir;
	sc->rt.nfam = c->fam;
	__builtin_memcpy(sc->ndst, c->ip, 16);
	sc->rt.nsport = bpf_htons(cfg_relay_port);
	sc->rt.ndport = c->port;
	sc->rt.chan_new = c->chan;
}

/*
 * ChannelData from a client on a bound channel, cursor at the ChannelData
 * header: to its peer, or straight to the other client when the peer is
 * an allocation here (relay-to-self).  CONTINUE or a pass outcome.
 */
static __always_inline int
route_from_client(struct scratch *sc, struct hdr_cursor *nh, void *end)
{
	struct fz_xdp_client_val *cv;
	struct fz_xdp_peer_val *pv;
	struct fz_xdp_peer *peer;
	__u16 payload = sc->in.udp_len - UDP_HLEN;
	__u16 chan, len;
	__u8 *cd;

	if (parse_channeldata(nh, end, &cd) != 0 || payload < CHANNELDATA_HLEN)
		return FZ_XS_PASS_STUN;
	chan = (__u16)(cd[0] << 8 | cd[1]);
	len = (__u16)(cd[2] << 8 | cd[3]);
	if (chan < CHANNEL_MIN || chan > CHANNEL_MAX)
		return FZ_XS_PASS_STUN;
	if (len != payload - CHANNELDATA_HLEN)
		return FZ_XS_PASS_BAD_LENGTH;
	__builtin_memset(&sc->ckey, 0, sizeof(sc->ckey));
	__builtin_memcpy(sc->ckey.ip, sc->in.src, 16);
	sc->ckey.port = sc->in.sport;
	sc->ckey.chan = bpf_htons(chan);
	sc->ckey.fam = (__u8)sc->in.fam;
	if ((pv = bpf_map_lookup_elem(&fz_chan_to_peer, &sc->ckey)) == 0)
		return FZ_XS_PASS_NO_CHANNEL;
	/* RFC 8656 section 12: nothing without a live permission */
	if (pv->expires <= bpf_ktime_get_ns())
		return FZ_XS_PASS_EXPIRED;
	peer = &pv->peer;
	__builtin_memcpy(&sc->rt.chan_old, cd, 2);
	__builtin_memcpy(&sc->rt.cdlen_old, cd + 2, 2);
	if (is_public(peer->ip, peer->fam, sc->pub) &&
	    bpf_ntohs(peer->peer_port) >= cfg_port_lo &&
	    bpf_ntohs(peer->peer_port) <= cfg_port_hi) {
		/* Relay-to-self: the peer is another allocation here. */
		__builtin_memset(&sc->pkey, 0, sizeof(sc->pkey));
		__builtin_memcpy(sc->pkey.ip, peer->ip, 16);
		sc->pkey.alloc_port = peer->peer_port;
		sc->pkey.peer_port = peer->alloc_port;
		sc->pkey.fam = peer->fam;
		cv = bpf_map_lookup_elem(&fz_peer_to_chan, &sc->pkey);
		if (cv == 0)
			return FZ_XS_PASS_NO_CHANNEL;
		if (cv->expires <= bpf_ktime_get_ns())
			return FZ_XS_PASS_EXPIRED;
		route_to_client(sc, &cv->client, FZ_XS_SELF);
		return CONTINUE;
	}
	sc->rt.dir = FZ_XS_C2P;
	sc->rt.nfam = peer->fam;
	__builtin_memcpy(sc->ndst, peer->ip, 16);
	sc->rt.nsport = peer->alloc_port;
	sc->rt.ndport = peer->peer_port;
	return CONTINUE;
}

/* A datagram from a peer to an allocation port with a bound channel. */
static __always_inline int
route_from_peer(struct scratch *sc)
{
	struct fz_xdp_client_val *cv;

	__builtin_memset(&sc->pkey, 0, sizeof(sc->pkey));
	__builtin_memcpy(sc->pkey.ip, sc->in.src, 16);
	sc->pkey.alloc_port = sc->in.dport;
	sc->pkey.peer_port = sc->in.sport;
	sc->pkey.fam = (__u8)sc->in.fam;
	if ((cv = bpf_map_lookup_elem(&fz_peer_to_chan, &sc->pkey)) == 0)
		return FZ_XS_PASS_NO_CHANNEL;
	if (cv->expires <= bpf_ktime_get_ns())
		return FZ_XS_PASS_EXPIRED;
	route_to_client(sc, &cv->client, FZ_XS_P2C);
	return CONTINUE;
}

/* --- the rewrite, shared by both directions ------------------------------ */

/* The pseudo-header sum of the packet as received. */
static __always_inline __u32
pseudo_sum(const struct pkt *in)
{
	__u32 s = 0;

	s = sum_addr(s, in->src, in->fam, 0);
	s = sum_addr(s, in->dst, in->fam, 0);
	s = sum16(s, bpf_htons(IPPROTO_UDP));
	return sum16(s, bpf_htons(in->udp_len));
}

/*
 * The UDP checksum, incrementally (RFC 1624): out with the old
 * pseudo-header, ports, length and ChannelData words, in with the new.
 */
static __always_inline __u32
csum_update(const struct scratch *sc, __u16 new_udp_len, __u16 payload)
{
	const struct pkt *in = &sc->in;
	const struct route *rt = &sc->rt;
	__u32 s = (__u16)~in->csum;

	s = sum_addr(s, in->src, in->fam, 1);
	s = sum_addr(s, in->dst, in->fam, 1);
	s = sub16(s, bpf_htons(in->udp_len));	/* pseudo-header */
	s = sub16(s, bpf_htons(in->udp_len));	/* UDP header */
	s = sub16(s, in->sport);
	s = sub16(s, in->dport);
	s = sum_addr(s, sc->nsrc, rt->nfam, 0);
	s = sum_addr(s, sc->ndst, rt->nfam, 0);
	s = sum16(s, bpf_htons(new_udp_len));
	s = sum16(s, bpf_htons(new_udp_len));
	s = sum16(s, rt->nsport);
	s = sum16(s, rt->ndport);
	if (rt->dir == FZ_XS_C2P) {
		s = sub16(s, rt->chan_old);
		s = sub16(s, rt->cdlen_old);
	} else if (rt->dir == FZ_XS_P2C) {
		s = sum16(s, rt->chan_new);
		s = sum16(s, bpf_htons(payload));
	} else {
		s = sub16(s, rt->chan_old);
		s = sum16(s, rt->chan_new);
	}
	return s;
}

static __always_inline void
write_ipv4(struct iphdr *ip, const struct scratch *sc, __u16 udp_len)
{
	const struct pkt *in = &sc->in;
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;
	int i;

	ip->version = 4;
	ip->ihl = IPV4_HLEN / 4;
	ip->tos = in->fam == 4 ? in->tos : (__u8)(bpf_ntohl(in->flow) >> 20);
	ip->tot_len = bpf_htons(IPV4_HLEN + udp_len);
	ip->id = in->fam == 4 ? in->ip_id : 0;
	ip->frag_off = in->fam == 4 ? in->frag :
	    bpf_htons(IPV4_DONT_FRAGMENT);
	ip->ttl = in->ttl - 1;
	ip->protocol = IPPROTO_UDP;
	ip->check = 0;
	__builtin_memcpy(&ip->saddr, sc->nsrc, 4);
	__builtin_memcpy(&ip->daddr, sc->ndst, 4);
#pragma unroll
	for (i = 0; i < IPV4_HLEN / 2; i++)
		sum += w[i];
	ip->check = (__u16)~fold(sum);
}

static __always_inline void
write_ipv6(struct ipv6hdr *ip6, const struct scratch *sc, __u16 udp_len)
{
	const struct pkt *in = &sc->in;
	__be32 vcf;

	vcf = in->fam == 6 ? in->flow :
	    bpf_htonl(IPV6_VERSION_WORD | ((__u32)in->tos << 20));
	__builtin_memcpy(ip6, &vcf, 4);
	ip6->payload_len = bpf_htons(udp_len);
	ip6->nexthdr = IPPROTO_UDP;
	ip6->hop_limit = in->ttl - 1;
	__builtin_memcpy(&ip6->saddr, sc->nsrc, 16);
	__builtin_memcpy(&ip6->daddr, sc->ndst, 16);
}

/*
 * Rebuilds the headers in front of the relayed data for sc->rt and sends
 * the frame back out.  Past bpf_xdp_adjust_head the frame is no longer
 * what arrived, so failures from there on are drops, counted as such.
 */
static __always_inline int
relay_out(struct xdp_md *ctx, struct scratch *sc, __u64 bytes)
{
	const struct pkt *in = &sc->in;
	const struct route *rt = &sc->rt;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = data };
	__u8 smac[ETH_ALEN], dmac[ETH_ALEN];
	__u32 old_prefix, new_prefix, s, l4;
	__u16 payload = in->udp_len - UDP_HLEN, new_udp_len;
	int nfam = rt->nfam, dir = rt->dir, partial;
	struct ethhdr *eth;
	struct udphdr *udp;

	if (source_for(in, nfam, sc->nsrc) != 0)
		return count(FZ_XS_PASS_NO_INT_ADDR, bytes, XDP_PASS);
	if (ip_eq(sc->nsrc, sc->ndst))
		return count(FZ_XS_DROP_LOOP, bytes, XDP_DROP);
	if (in->ttl <= 1)
		return count(FZ_XS_PASS_TTL, bytes, XDP_PASS);
	if (in->fam == 4 && in->csum == 0 && nfam == 6)
		return count(FZ_XS_PASS_ZERO_CSUM, bytes, XDP_PASS);

	/* Sizes: what is rebuilt is everything before the relayed data. */
	old_prefix = in->l4 + UDP_HLEN +
	    (dir == FZ_XS_P2C ? 0 : CHANNELDATA_HLEN);
	l4 = ETH_HLEN + (nfam == 4 ? IPV4_HLEN : IPV6_HLEN);
	new_prefix = l4 + UDP_HLEN + (dir == FZ_XS_C2P ? 0 : CHANNELDATA_HLEN);
	new_udp_len = (__u16)(in->udp_len + (dir == FZ_XS_C2P ?
	    -CHANNELDATA_HLEN : dir == FZ_XS_P2C ? CHANNELDATA_HLEN : 0));

	/*
	 * A partial checksum (the pseudo-header sum alone, as a local sender
	 * with offload leaves it) is recomputed in full instead.
	 */
	partial = in->csum != 0 && fold(pseudo_sum(in)) == in->csum;
	s = csum_update(sc, new_udp_len, payload);

	if (parse_ethhdr(&nh, end, &eth) != 0)
		return count(FZ_XS_PASS_SHORT, bytes, XDP_PASS);
	__builtin_memcpy(smac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(dmac, eth->h_dest, ETH_ALEN);
	if (bpf_xdp_adjust_head(ctx, (int)old_prefix - (int)new_prefix) != 0)
		return count(FZ_XS_PASS_ADJUST, bytes, XDP_PASS);
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	nh.pos = data;
	if (data + new_prefix > end || parse_ethhdr(&nh, end, &eth) != 0)
		return count(FZ_XS_DROP_SHORT, bytes, XDP_DROP);
	__builtin_memcpy(eth->h_dest, smac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, dmac, ETH_ALEN);
	if (nfam == 4) {
		struct iphdr *ip;

		if (parse_iphdr(&nh, end, &ip) != 0)
			return count(FZ_XS_DROP_SHORT, bytes, XDP_DROP);
		eth->h_proto = bpf_htons(ETH_P_IP);
		write_ipv4(ip, sc, new_udp_len);
	} else {
		struct ipv6hdr *ip6;

		if (parse_ip6hdr(&nh, end, &ip6) != 0)
			return count(FZ_XS_DROP_SHORT, bytes, XDP_DROP);
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		write_ipv6(ip6, sc, new_udp_len);
	}
	if (parse_udphdr(&nh, end, &udp) != 0)
		return count(FZ_XS_DROP_SHORT, bytes, XDP_DROP);
	udp->source = rt->nsport;
	udp->dest = rt->ndport;
	udp->len = bpf_htons(new_udp_len);
	if (dir != FZ_XS_C2P) {
		__u16 len = new_udp_len - UDP_HLEN - CHANNELDATA_HLEN;
		__u8 *cd;

		if (parse_channeldata(&nh, end, &cd) != 0)
			return count(FZ_XS_DROP_SHORT, bytes, XDP_DROP);
		__builtin_memcpy(cd, &rt->chan_new, 2);
		cd[2] = (__u8)(len >> 8);
		cd[3] = (__u8)len;
	}
	if (in->fam == 4 && in->csum == 0 && nfam == 4) {
		udp->check = 0;		/* none before, none now */
	} else if (partial) {
		__u32 ps = 0;

		udp->check = 0;
		ps = sum_addr(ps, sc->nsrc, nfam, 0);
		ps = sum_addr(ps, sc->ndst, nfam, 0);
		ps = sum16(ps, bpf_htons(IPPROTO_UDP));
		ps = sum16(ps, bpf_htons(new_udp_len));
		udp->check = (__u16)~full_csum(ctx, l4, new_udp_len, ps);
		data = (void *)(long)ctx->data;
		end = (void *)(long)ctx->data_end;
		udp = data + l4;
		if ((void *)(udp + 1) > end)
			return count(FZ_XS_DROP_SHORT, bytes, XDP_DROP);
		if (udp->check == 0)
			udp->check = 0xffff;
	} else {
		__u16 c = (__u16)~fold(s);

		udp->check = c == 0 ? 0xffff : c;
	}
	return count(dir, new_udp_len - UDP_HLEN -
	    (dir == FZ_XS_C2P ? 0 : CHANNELDATA_HLEN), XDP_TX);
}

SEC("xdp")
int
fz_turn_router(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct hdr_cursor nh = { .pos = data };
	__u64 bytes = end - data;
	struct scratch *sc;
	__u32 zero = 0;
	__u16 dport;
	int stat;

	if ((sc = bpf_map_lookup_elem(&fz_scratch, &zero)) == 0)
		return XDP_PASS;
	if ((stat = parse_packet(&nh, end, &sc->in)) != CONTINUE)
		return count(stat, bytes, XDP_PASS);
	dport = bpf_ntohs(sc->in.dport);
	if (dport == cfg_relay_port)
		stat = route_from_client(sc, &nh, end);
	else if (dport >= cfg_port_lo && dport <= cfg_port_hi)
		stat = route_from_peer(sc);
	else
		stat = FZ_XS_PASS_OTHER_PORT;
	if (stat != CONTINUE)
		return count(stat, bytes, XDP_PASS);
	return relay_out(ctx, sc, bytes);
}

/* For the router-side veth peers in tests: native XDP_TX needs a program
 * on the receiving end. */
SEC("xdp")
int
fz_xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}
