/* SPDX-License-Identifier: ISC */
/*
 * The data plane's offload work, pure (no I/O, no allocation; unit-tested
 * by tests/unit/check_offload, fuzzed by tests/fuzz/fuzz_offload):
 *  - the virtio-net header in front of every TUN packet, checked;
 *  - IPv4/IPv6 headers parsed to their TCP or UDP header, bounds-checked;
 *  - Internet checksums (IPv4 header, TCP/UDP with the pseudo-header) and
 *    the completion of a CHECKSUM_PARTIAL packet;
 *  - TSO/USO super-packets planned and cut into segments of gso_size;
 *  - TCP coalescing (GRO) of decrypted packets into super-packets for the
 *    TUN: which packets merge (same flow, in order, same ACK and options,
 *    only ACK/PSH), and the virtio-net header of the result;
 *  - UDP coalescing (USO) the same way, when the TUN takes it: datagrams
 *    of one flow with the same IP header fields and one size (the last
 *    may be shorter) become one GSO_UDP_L4 packet.
 */
#ifndef FZ_OFFLOAD_H
#define FZ_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define OFF_VNET_HDR_LEN sizeof(struct virtio_net_hdr)

static inline uint16_t
off_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void
off_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline uint32_t
off_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
off_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* --- checksums --- */
uint32_t off_csum_add(uint32_t sum, const uint8_t *, size_t);
uint16_t off_csum_fold(uint32_t sum);		/* folded and inverted */
/* Pseudo-header sum of ip (IPv4 or IPv6) for len L4 bytes of proto. */
uint32_t off_pseudo(const uint8_t *ip, uint8_t proto, size_t len);
/* Fills in the TCP or UDP checksum of a complete IP packet. */
void	off_l4_checksum(uint8_t *ip, size_t iplen, size_t l4off, uint8_t proto);
void	off_ipv4_checksum(uint8_t *ip);

/* --- IP headers --- */
/*
 * IP version (4 or 6) of the packet, with the offset of its L4 header and
 * its protocol; -EINVAL for anything shorter than its header or with
 * lengths that do not fit len.  IPv6 extension headers are not followed
 * (proto is then the extension's number).
 */
int	off_ip_l4(const uint8_t *ip, size_t len, size_t *l4off,
	    uint8_t *proto);
/* The IP packet's own length (reads may be padded); 0 if unusable. */
size_t	off_ip_len(const uint8_t *ip, size_t len);

/* --- virtio-net header --- */
/*
 * Reads and checks the header in front of a TUN packet of n bytes (header
 * included): 0, or -EINVAL when it is truncated, names an unknown GSO type,
 * a GSO type without a segment size, or a checksum outside the packet.
 */
int	off_vnet_parse(const uint8_t *buf, size_t n,
	    struct virtio_net_hdr *vh);
/*
 * Completes a CHECKSUM_PARTIAL (NEEDS_CSUM) non-GSO packet in place
 * (the field holds the pseudo-header sum); nothing to do otherwise.
 */
int	off_csum_complete(const struct virtio_net_hdr *, uint8_t *pkt,
	    size_t len);

/* --- TSO/USO segmentation --- */
struct off_seg {
	int		 ver;		/* 4 or 6 */
	uint8_t		 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	size_t		 l4off;		/* L4 header offset */
	size_t		 hlen;		/* all headers: copied per segment */
	size_t		 mss;		/* payload bytes per segment */
	size_t		 payload;	/* payload bytes in all */
	unsigned	 nseg;
	uint16_t	 id;		/* IPv4 ID of the first segment */
	uint32_t	 seq;		/* TCP sequence of the first segment */
};

/*
 * Plans the segmentation of a GSO super-packet (pkt after the virtio-net
 * header): the GSO type must match the packet's IP version and protocol,
 * and one segment (headers + gso_size) must fit max_seg; -EINVAL else.
 */
int	off_seg_plan(const struct virtio_net_hdr *, const uint8_t *pkt,
	    size_t len, size_t max_seg, struct off_seg *);
/* Length of segment i (headers included). */
size_t	off_seg_len(const struct off_seg *, unsigned i);
/*
 * Writes segment i (off_seg_len bytes) to dst: headers copied with
 * lengths, IPv4 ID and header checksum, TCP sequence and flags (FIN/PSH
 * on the last segment only, CWR on the first only) and the L4 checksum.
 */
size_t	off_seg_build(const struct off_seg *, const uint8_t *pkt, unsigned i,
	    uint8_t *dst);

/* --- TCP coalescing (GRO) --- */
#define OFF_CO_SLOTS	8
#define OFF_CO_MAX	65535		/* bytes in a coalesced packet */
#define OFF_CO_MAX_SEGS	64

struct off_coslot {
	bool		 used;
	bool		 closed;	/* a short or PSH segment ended it */
	int		 ver;
	uint8_t		 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t		 key[36];	/* addresses and ports */
	size_t		 keylen;
	uint32_t	 next_seq;
	size_t		 mss, l4off, hlen, len;
	unsigned	 nseg;
	uint64_t	 age;
	uint8_t		*buf;		/* OFF_CO_MAX bytes: the IP packet */
};

struct off_co {
	struct off_coslot slot[OFF_CO_SLOTS];
	uint64_t	 clock;
	bool		 uso;		/* UDP too (the TUN has USO4/6) */
	/* Takes a finished flow (off_co_finish); the slot is free after. */
	void		(*flush)(struct off_coslot *, void *);
	void		*arg;
};

/*
 * Takes a decrypted IP packet (its own length) into a coalesced flow;
 * false means the caller writes it as it is, after any slot of its flow
 * was flushed (so a flow's order never changes).
 */
bool	off_co_add(struct off_co *, const uint8_t *pkt, size_t len);
void	off_co_flush(struct off_co *, struct off_coslot *);
void	off_co_flush_all(struct off_co *);
/*
 * Finishes a slot's packet for the TUN: one segment is left as it is (vh
 * zeroed, returns false); several get IP lengths (and UDP's), the IPv4
 * header checksum, the pseudo-header sum in the TCP or UDP checksum and a
 * TSO or USO header (returns true).
 */
bool	off_co_finish(struct off_coslot *, struct virtio_net_hdr *vh);

#endif
