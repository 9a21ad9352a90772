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
 * always counted.  The relay port, allocation port range and interface
 * addresses are read-only data fz-relayd sets before loading.
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

struct pkt;

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
	__u32	l3, l4;		/* offsets */
};

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

/* Per-packet working state: off the 512-byte BPF stack. */
struct scratch {
	struct pkt		in;
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

	for (i = 0; i < 1500 / 2; i++) {
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

SEC("xdp")
int
fz_turn_router(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct fz_xdp_client_val *cv = 0;
	struct fz_xdp_peer_val *pv = 0;
	struct fz_xdp_client *cval;
	struct fz_xdp_peer *pval;
	__u8 smac[ETH_ALEN], dmac[ETH_ALEN];
	struct scratch *sc;
	__u32 zero = 0;
	__be16 nsport, ndport, chan_old = 0, chan_new = 0;
	__u16 payload, new_udp_len;
	__u32 old_prefix, new_prefix, s;
	__u64 bytes = end - data;
	int nfam, dir, partial = 0, stat;
	__u8 *udp8;

	if ((void *)(eth + 1) > end)
		return count(FZ_XS_PASS_SHORT, bytes, XDP_PASS);
	if ((sc = bpf_map_lookup_elem(&fz_scratch, &zero)) == 0)
		return XDP_PASS;
	__builtin_memset(&sc->in, 0, sizeof(sc->in));
	sc->in.l3 = sizeof(*eth);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + sizeof(*eth);

		if ((void *)(ip + 1) > end)
			return count(FZ_XS_PASS_SHORT, bytes, XDP_PASS);
		if (ip->ihl != 5)
			return count(FZ_XS_PASS_IP_OPTIONS, bytes, XDP_PASS);
		if (ip->frag_off & bpf_htons(0x3fff))
			return count(FZ_XS_PASS_FRAGMENT, bytes, XDP_PASS);
		if (ip->protocol != IPPROTO_UDP)
			return count(FZ_XS_PASS_NOT_UDP, bytes, XDP_PASS);
		sc->in.fam = 4;
		__builtin_memcpy(sc->in.src, &ip->saddr, 4);
		__builtin_memcpy(sc->in.dst, &ip->daddr, 4);
		sc->in.ttl = ip->ttl;
		sc->in.tos = ip->tos;
		sc->in.ip_id = ip->id;
		sc->in.frag = ip->frag_off;
		sc->in.l4 = sc->in.l3 + sizeof(*ip);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + sizeof(*eth);

		if ((void *)(ip6 + 1) > end)
			return count(FZ_XS_PASS_SHORT, bytes, XDP_PASS);
		if (ip6->nexthdr != IPPROTO_UDP)
			return count(ip6->nexthdr == 44 ? FZ_XS_PASS_FRAGMENT :
			    FZ_XS_PASS_IP_OPTIONS, bytes, XDP_PASS);
		sc->in.fam = 6;
		__builtin_memcpy(sc->in.src, &ip6->saddr, 16);
		__builtin_memcpy(sc->in.dst, &ip6->daddr, 16);
		sc->in.ttl = ip6->hop_limit;
		__builtin_memcpy(&sc->in.flow, ip6, 4);
		sc->in.l4 = sc->in.l3 + sizeof(*ip6);
	} else
		return count(FZ_XS_PASS_NOT_IP, bytes, XDP_PASS);

	{
		struct udphdr *udp = data + sc->in.l4;

		if ((void *)(udp + 1) > end)
			return count(FZ_XS_PASS_SHORT, bytes, XDP_PASS);
		sc->in.sport = udp->source;
		sc->in.dport = udp->dest;
		sc->in.udp_len = bpf_ntohs(udp->len);
		sc->in.csum = udp->check;
		if (sc->in.udp_len < sizeof(*udp) ||
		    data + sc->in.l4 + sc->in.udp_len > end)
			return count(FZ_XS_PASS_SHORT, bytes, XDP_PASS);
	}
	payload = sc->in.udp_len - 8;
	udp8 = data + sc->in.l4 + 8;

	if (bpf_ntohs(sc->in.dport) == cfg_relay_port) {
		__u16 ch, len;

		if ((void *)(udp8 + 4) > end || payload < 4)
			return count(FZ_XS_PASS_STUN, bytes, XDP_PASS);
		ch = (__u16)(udp8[0] << 8 | udp8[1]);
		len = (__u16)(udp8[2] << 8 | udp8[3]);
		if (ch < 0x4000 || ch > 0x7fff)
			return count(FZ_XS_PASS_STUN, bytes, XDP_PASS);
		if (len != payload - 4)
			return count(FZ_XS_PASS_BAD_LENGTH, bytes, XDP_PASS);
		__builtin_memset(&sc->ckey, 0, sizeof(sc->ckey));
		__builtin_memcpy(sc->ckey.ip, sc->in.src, 16);
		sc->ckey.port = sc->in.sport;
		sc->ckey.chan = bpf_htons(ch);
		sc->ckey.fam = (__u8)sc->in.fam;
		pv = bpf_map_lookup_elem(&fz_chan_to_peer, &sc->ckey);
		if (pv == 0)
			return count(FZ_XS_PASS_NO_CHANNEL, bytes, XDP_PASS);
		/* RFC 8656 section 12: nothing without a live permission */
		if (pv->expires <= bpf_ktime_get_ns())
			return count(FZ_XS_PASS_EXPIRED, bytes, XDP_PASS);
		pval = &pv->peer;
		__builtin_memcpy(&chan_old, udp8, 2);
		if (is_public(pval->ip, pval->fam, sc->pub) &&
		    bpf_ntohs(pval->peer_port) >= cfg_port_lo &&
		    bpf_ntohs(pval->peer_port) <= cfg_port_hi) {
			/* Relay-to-self: the peer is another allocation here. */
			__builtin_memset(&sc->pkey, 0, sizeof(sc->pkey));
			__builtin_memcpy(sc->pkey.ip, pval->ip, 16);
			sc->pkey.alloc_port = pval->peer_port;
			sc->pkey.peer_port = pval->alloc_port;
			sc->pkey.fam = pval->fam;
			cv = bpf_map_lookup_elem(&fz_peer_to_chan, &sc->pkey);
			if (cv == 0)
				return count(FZ_XS_PASS_NO_CHANNEL, bytes,
				    XDP_PASS);
			if (cv->expires <= bpf_ktime_get_ns())
				return count(FZ_XS_PASS_EXPIRED, bytes,
				    XDP_PASS);
			cval = &cv->client;
			dir = FZ_XS_SELF;
			nfam = cval->fam;
			__builtin_memcpy(sc->ndst, cval->ip, 16);
			nsport = bpf_htons(cfg_relay_port);
			ndport = cval->port;
			chan_new = cval->chan;
		} else {
			dir = FZ_XS_C2P;
			nfam = pval->fam;
			__builtin_memcpy(sc->ndst, pval->ip, 16);
			nsport = pval->alloc_port;
			ndport = pval->peer_port;
		}
	} else if (bpf_ntohs(sc->in.dport) >= cfg_port_lo &&
	    bpf_ntohs(sc->in.dport) <= cfg_port_hi) {
		__builtin_memset(&sc->pkey, 0, sizeof(sc->pkey));
		__builtin_memcpy(sc->pkey.ip, sc->in.src, 16);
		sc->pkey.alloc_port = sc->in.dport;
		sc->pkey.peer_port = sc->in.sport;
		sc->pkey.fam = (__u8)sc->in.fam;
		cv = bpf_map_lookup_elem(&fz_peer_to_chan, &sc->pkey);
		if (cv == 0)
			return count(FZ_XS_PASS_NO_CHANNEL, bytes, XDP_PASS);
		if (cv->expires <= bpf_ktime_get_ns())
			return count(FZ_XS_PASS_EXPIRED, bytes, XDP_PASS);
		cval = &cv->client;
		dir = FZ_XS_P2C;
		nfam = cval->fam;
		__builtin_memcpy(sc->ndst, cval->ip, 16);
		nsport = bpf_htons(cfg_relay_port);
		ndport = cval->port;
		chan_new = cval->chan;
	} else
		return count(FZ_XS_PASS_OTHER_PORT, bytes, XDP_PASS);

	if (source_for(&sc->in, nfam, sc->nsrc) != 0)
		return count(FZ_XS_PASS_NO_INT_ADDR, bytes, XDP_PASS);
	if (ip_eq(sc->nsrc, sc->ndst))
		return count(FZ_XS_DROP_LOOP, bytes, XDP_DROP);
	if (sc->in.ttl <= 1)
		return count(FZ_XS_PASS_TTL, bytes, XDP_PASS);
	if (sc->in.fam == 4 && sc->in.csum == 0 && nfam == 6)
		return count(FZ_XS_PASS_ZERO_CSUM, bytes, XDP_PASS);

	/* Sizes: what is rebuilt is everything before the relayed data. */
	old_prefix = sc->in.l4 + 8 + (dir == FZ_XS_P2C ? 0 : 4);
	new_prefix = sizeof(struct ethhdr) + (nfam == 4 ? 20 : 40) + 8 +
	    (dir == FZ_XS_C2P ? 0 : 4);
	new_udp_len = (__u16)(sc->in.udp_len + (dir == FZ_XS_C2P ? -4 :
	    dir == FZ_XS_P2C ? 4 : 0));

	/*
	 * The UDP checksum, incrementally (RFC 1624): out with the old
	 * pseudo-header, ports, length and ChannelData words, in with the
	 * new.  A partial checksum (the pseudo-header sum alone, as a local
	 * sender with offload leaves it) is recomputed in full instead.
	 */
	s = 0;
	s = sum_addr(s, sc->in.src, sc->in.fam, 0);
	s = sum_addr(s, sc->in.dst, sc->in.fam, 0);
	s = sum16(s, bpf_htons(IPPROTO_UDP));
	s = sum16(s, bpf_htons(sc->in.udp_len));
	if (sc->in.csum != 0 && fold(s) == sc->in.csum)
		partial = 1;
	s = (__u16)~sc->in.csum;
	s = sum_addr(s, sc->in.src, sc->in.fam, 1);
	s = sum_addr(s, sc->in.dst, sc->in.fam, 1);
	s = sub16(s, bpf_htons(sc->in.udp_len));	/* pseudo-header */
	s = sub16(s, bpf_htons(sc->in.udp_len));	/* UDP header */
	s = sub16(s, sc->in.sport);
	s = sub16(s, sc->in.dport);
	s = sum_addr(s, sc->nsrc, nfam, 0);
	s = sum_addr(s, sc->ndst, nfam, 0);
	s = sum16(s, bpf_htons(new_udp_len));
	s = sum16(s, bpf_htons(new_udp_len));
	s = sum16(s, nsport);
	s = sum16(s, ndport);
	if (dir == FZ_XS_C2P) {
		__u16 w0, w1;

		if ((void *)(udp8 + 4) > end)
			return count(FZ_XS_PASS_SHORT, bytes, XDP_PASS);
		__builtin_memcpy(&w0, udp8, 2);
		__builtin_memcpy(&w1, udp8 + 2, 2);
		s = sub16(s, w0);
		s = sub16(s, w1);
	} else if (dir == FZ_XS_P2C) {
		s = sum16(s, chan_new);
		s = sum16(s, bpf_htons(payload));
	} else {
		s = sub16(s, chan_old);
		s = sum16(s, chan_new);
	}

	__builtin_memcpy(smac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(dmac, eth->h_dest, ETH_ALEN);
	if (bpf_xdp_adjust_head(ctx, (int)old_prefix - (int)new_prefix) != 0)
		return count(FZ_XS_PASS_ADJUST, bytes, XDP_PASS);
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + 14 + 40 + 8 + 4 > end && data + new_prefix > end)
		return count(FZ_XS_PASS_SHORT, bytes, XDP_DROP);

	eth = data;
	if ((void *)(eth + 1) > end)
		return count(FZ_XS_PASS_SHORT, bytes, XDP_DROP);
	__builtin_memcpy(eth->h_dest, smac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, dmac, ETH_ALEN);
	{
		struct udphdr *udp;
		__u32 l4;

		if (nfam == 4) {
			struct iphdr *ip = data + sizeof(*eth);
			__u32 ipsum = 0;
			__u16 *w = (__u16 *)ip;
			int i;

			if ((void *)(ip + 1) > end)
				return count(FZ_XS_PASS_SHORT, bytes, XDP_DROP);
			eth->h_proto = bpf_htons(ETH_P_IP);
			ip->version = 4;
			ip->ihl = 5;
			ip->tos = sc->in.fam == 4 ? sc->in.tos :
			    (__u8)(bpf_ntohl(sc->in.flow) >> 20);
			ip->tot_len = bpf_htons(20 + new_udp_len);
			ip->id = sc->in.fam == 4 ? sc->in.ip_id : 0;
			ip->frag_off = sc->in.fam == 4 ? sc->in.frag : bpf_htons(0x4000);
			ip->ttl = sc->in.ttl - 1;
			ip->protocol = IPPROTO_UDP;
			ip->check = 0;
			__builtin_memcpy(&ip->saddr, sc->nsrc, 4);
			__builtin_memcpy(&ip->daddr, sc->ndst, 4);
#pragma unroll
			for (i = 0; i < 10; i++)
				ipsum += w[i];
			ip->check = (__u16)~fold(ipsum);
			l4 = sizeof(*eth) + sizeof(*ip);
		} else {
			struct ipv6hdr *ip6 = data + sizeof(*eth);
			__be32 vcf;

			if ((void *)(ip6 + 1) > end)
				return count(FZ_XS_PASS_SHORT, bytes, XDP_DROP);
			eth->h_proto = bpf_htons(ETH_P_IPV6);
			vcf = sc->in.fam == 6 ? sc->in.flow :
			    bpf_htonl(0x60000000u | ((__u32)sc->in.tos << 20));
			__builtin_memcpy(ip6, &vcf, 4);
			ip6->payload_len = bpf_htons(new_udp_len);
			ip6->nexthdr = IPPROTO_UDP;
			ip6->hop_limit = sc->in.ttl - 1;
			__builtin_memcpy(&ip6->saddr, sc->nsrc, 16);
			__builtin_memcpy(&ip6->daddr, sc->ndst, 16);
			l4 = sizeof(*eth) + sizeof(*ip6);
		}
		udp = data + l4;
		if ((void *)(udp + 1) > end)
			return count(FZ_XS_PASS_SHORT, bytes, XDP_DROP);
		udp->source = nsport;
		udp->dest = ndport;
		udp->len = bpf_htons(new_udp_len);
		if (dir != FZ_XS_C2P) {
			__u8 *c = (__u8 *)(udp + 1);

			if ((void *)(c + 4) > end)
				return count(FZ_XS_PASS_SHORT, bytes, XDP_DROP);
			__builtin_memcpy(c, &chan_new, 2);
			c[2] = (__u8)((new_udp_len - 12) >> 8);
			c[3] = (__u8)(new_udp_len - 12);
		}
		if (sc->in.fam == 4 && sc->in.csum == 0 && nfam == 4) {
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
				return count(FZ_XS_PASS_SHORT, bytes, XDP_DROP);
			if (udp->check == 0)
				udp->check = 0xffff;
		} else {
			__u16 c = (__u16)~fold(s);

			udp->check = c == 0 ? 0xffff : c;
		}
	}
	stat = dir;
	return count(stat, new_udp_len - 8 - (dir == FZ_XS_C2P ? 0 : 4), XDP_TX);
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
