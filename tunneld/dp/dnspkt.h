/* SPDX-License-Identifier: ISC */
/*
 * DNS packets between the TUN and fz-controld's stub resolver
 * (protocols notes §4.1, §4.4), pure: recognising a query the system sent
 * to a sentinel (UDP port 53 to 100.100.111.0/24 or
 * fd00:2021:1111:8000:100:100:111:0/120) and building the IP/UDP packet
 * of an answer, checksums complete.  Borrowed buffers only.
 */
#ifndef FZ_DNSPKT_H
#define FZ_DNSPKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Largest answer packet built (IPv6 + UDP + a DNS message of 65535 - 48). */
#define DNSPKT_MAX	65535u

/* dst (4 or 16 bytes, network order) lies in the sentinel ranges. */
bool	dnspkt_is_sentinel(int family, const uint8_t *dst);

/*
 * An IP packet of len bytes (its own length field decides; padding is
 * ignored) from the TUN whose destination is a sentinel: 0 with from
 * (client address and port), to (sentinel, port 53) and the UDP payload
 * (borrowed from pkt) for a UDP datagram to port 53; -ENOENT for anything
 * else to a sentinel (drop it); -EBADMSG for a packet that does not parse
 * or is no sentinel's.  Fragments are -ENOENT.
 */
int	dnspkt_parse(const uint8_t *pkt, size_t len, union fz_sockaddr *from,
	    union fz_sockaddr *to, const uint8_t **payload, size_t *plen)
	    __attribute__((warn_unused_result));

/*
 * The IPv4/UDP or IPv6/UDP packet carrying payload from `from` to `to`
 * (same family, ports set) into out: IPv4 header checksum and the UDP
 * checksum computed, TTL/hop limit 64.  -EAFNOSUPPORT for mixed families,
 * -EMSGSIZE when it cannot fit 65535 bytes, -ENOBUFS when cap is short.
 */
int	dnspkt_build(const union fz_sockaddr *from, const union fz_sockaddr *to,
	    const uint8_t *payload, size_t plen, uint8_t *out, size_t cap,
	    size_t *len) __attribute__((warn_unused_result));

/* TCP to a sentinel's port 53 (DNS over TCP), as dnstcp.h handles it. */
#define DNSPKT_FIN	0x01
#define DNSPKT_SYN	0x02
#define DNSPKT_RST	0x04
#define DNSPKT_PSH	0x08
#define DNSPKT_ACK	0x10

struct dnspkt_tcp {
	union fz_sockaddr	 client, sentinel;	/* with ports */
	uint32_t		 seq, ack;
	uint8_t			 flags;
	const uint8_t		*payload;	/* borrowed from the packet */
	size_t			 plen;
};

/* A TCP segment to a sentinel's port 53: 0, or -EBADMSG (drop). */
int	dnspkt_parse_tcp(const uint8_t *pkt, size_t len, struct dnspkt_tcp *)
	    __attribute__((warn_unused_result));
/* A TCP segment (no options, window 65535), checksums complete. */
int	dnspkt_build_tcp(const union fz_sockaddr *from,
	    const union fz_sockaddr *to, uint32_t seq, uint32_t ack,
	    uint8_t flags, const uint8_t *payload, size_t plen, uint8_t *out,
	    size_t cap, size_t *len) __attribute__((warn_unused_result));

#endif
