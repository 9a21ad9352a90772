/* SPDX-License-Identifier: ISC */
/*
 * The in-tunnel p2p control protocol (firezone-protocols.md §4.6) and the
 * client's DNS-NAT state machine, sans I/O.
 *
 * Control packets are IPv6 packets inside WireGuard with source =
 * destination = ::, next header 0xFF, hop limit 0, at most 1280 bytes; the
 * payload is an 8-byte header (byte 0 the type, 7 zero bytes) and a body:
 * JSON for assigned_ips and domain_status (jansson), nothing for goodbye.
 * p2p_parse takes untrusted bytes and checks every length; p2p_build
 * writes into caller storage.
 *
 * The client state per (gateway, resource, domain): Pending (up to
 * P2P_NAT_BUF packets buffered, assigned_ips resent at most every 2 s
 * while packets keep arriving), Confirmed (domain_status Active: buffered
 * packets flushed, later ones forwarded), Failed (Inactive: buffer
 * dropped, later packets still forwarded, as connlib does: the gateway
 * answers them), Recreating (a new DNS query for the domain: assigned_ips
 * sent again, then every 2 s while packets arrive; packets forwarded if
 * it was Confirmed, buffered if it was Failed). A full buffer drops the
 * newest packet.
 * Time is a caller-supplied monotonic millisecond clock.
 *
 * Wiring (not done here):
 *  - client data plane, TUN → peer: a packet to a proxy IP (100.96.0.0/11,
 *    fd00:2021:1111:8000::/107) of a DNS resource goes through
 *    p2p_nat_packet with the resource, domain and the name's proxy IPs (from
 *    controld's stub resolver, passed down over IPC); P2P_NAT_FORWARD →
 *    encrypt to the gateway; P2P_NAT_BUFFERED/DROP → nothing more; when
 *    *ctllen > 0, encrypt ctl to the gateway first.
 *  - client, a packet decrypted from a gateway: p2p_is_control first; if
 *    so p2p_parse; P2P_DOMAIN_STATUS → p2p_nat_status (the emit callback
 *    encrypts each flushed packet to that gateway); P2P_GOODBYE → drop the
 *    gateway's connection and p2p_nat_forget_gateway. Never to the TUN.
 *  - client, every stub-resolver answer with proxy IPs → p2p_nat_dns_query.
 *  - gateway: p2p_is_control/p2p_parse on decrypted packets before the
 *    §5.2 checks; P2P_ASSIGNED_IPS → resolve (controld) → dnsnat_assign
 *    (dnsnat.h) → p2p_build a P2P_DOMAIN_STATUS back; goodbye by p2p_build
 *    on shutdown / last access removed.
 */
#ifndef FZ_P2P_H
#define FZ_P2P_H

#include <stddef.h>
#include <stdint.h>

#define P2P_MAX_PKT	1280
#define P2P_IP6_HLEN	40
#define P2P_HDR_LEN	8
#define P2P_NEXTHDR	0xff
#define P2P_RESOURCE_MAX 64	/* a UUID is 36 */
#define P2P_DOMAIN_MAX	253
#define P2P_PROXY_MAX	8
#define P2P_NAT_BUF	32	/* packets buffered per Pending entry */
#define P2P_NAT_RESEND_MS 2000
#define P2P_NAT_MAX	1024	/* entries per state machine */

enum p2p_type {
	P2P_ASSIGNED_IPS = 0,
	P2P_DOMAIN_STATUS = 1,
	P2P_GOODBYE = 2,
};

/* An address: af is AF_INET (a[0..3]) or AF_INET6. */
struct fz_ip {
	uint8_t	af;
	uint8_t	a[16];
};

struct p2p_msg {
	enum p2p_type	type;
	char		resource[P2P_RESOURCE_MAX + 1];	/* NUL-terminated */
	char		domain[P2P_DOMAIN_MAX + 1];
	size_t		nproxy;		/* assigned_ips: 4 or 8 */
	struct fz_ip	proxy[P2P_PROXY_MAX];
	int		active;		/* domain_status: 1 Active, else 0 */
};

/* 1 if pkt has the shape of a control packet (IPv6 :: → ::, next header
 * 0xFF), whatever its body; 0 otherwise. */
int	p2p_is_control(const uint8_t *pkt, size_t len);
/* Parses a whole control packet into *out (written only on success).
 * -EINVAL for anything malformed: wrong header, lengths, JSON, field
 * types, proxy IP count (4 or 8), a body on goodbye. */
int	p2p_parse(const uint8_t *pkt, size_t len, struct p2p_msg *out)
	    __attribute__((warn_unused_result));
/* Builds the control packet for m into out (cap bytes); *outlen on
 * success. -EINVAL for a bad message, -EMSGSIZE over 1280 or cap. */
int	p2p_build(const struct p2p_msg *m, uint8_t *out, size_t cap,
	    size_t *outlen) __attribute__((warn_unused_result));

/* --- the client's DNS-NAT states --- */
enum p2p_nat_state {
	P2P_NAT_NONE = 0,
	P2P_NAT_PENDING,
	P2P_NAT_CONFIRMED,
	P2P_NAT_FAILED,
	P2P_NAT_RECREATING,
};

enum p2p_nat_verdict {
	P2P_NAT_FORWARD = 0,	/* send pkt to the gateway now */
	P2P_NAT_BUFFERED,	/* copied; flushed on Active */
	P2P_NAT_DROP,		/* buffer full or no memory */
};

struct p2p_nat_stats {
	uint64_t	buffered, flushed, dropped_full,
			dropped_failed,	/* buffered, then Inactive */
			dropped_nomem, sent_assigned,
			sent_failed;	/* forwarded while Failed */
};

struct p2p_nat;
/* Called once per flushed packet; borrows pkt until it returns. */
typedef void (*p2p_emit_fn)(void *arg, uint64_t gw, const uint8_t *pkt,
    size_t len);

struct p2p_nat *p2p_nat_new(void);
void	p2p_nat_free(struct p2p_nat *);	/* NULL-safe */
/*
 * A packet for one of a (gateway gw, assigned->resource, ->domain) proxy
 * IPs. assigned is the assigned_ips message to send (type
 * P2P_ASSIGNED_IPS). When an assigned_ips packet is due, it is written into
 * ctl (ctlcap ≥ P2P_MAX_PKT) and *ctllen set, else *ctllen = 0.
 * Returns a p2p_nat_verdict, or -errno (-EINVAL bad message, -ENOSPC
 * table full, -ENOMEM).
 */
int	p2p_nat_packet(struct p2p_nat *, uint64_t gw,
	    const struct p2p_msg *assigned, const uint8_t *pkt, size_t len,
	    uint64_t now_ms, uint8_t *ctl, size_t ctlcap, size_t *ctllen)
	    __attribute__((warn_unused_result));
/* A new local DNS query answered for the domain: a Confirmed or Failed
 * entry goes to Recreating and assigned_ips is written into ctl; Pending
 * or Recreating: resent if 2 s have passed; no entry → nothing
 * (*ctllen = 0). 0 or -errno. */
int	p2p_nat_dns_query(struct p2p_nat *, uint64_t gw,
	    const struct p2p_msg *assigned, uint64_t now_ms, uint8_t *ctl,
	    size_t ctlcap, size_t *ctllen) __attribute__((warn_unused_result));
/* domain_status from gateway gw: Active → Confirmed, buffered packets
 * passed to emit in order; Inactive → Failed, buffer dropped. Returns the
 * number flushed, or -ENOENT for no such entry. */
int	p2p_nat_status(struct p2p_nat *, uint64_t gw,
	    const struct p2p_msg *status, p2p_emit_fn emit, void *arg);
/* Gateway gone (goodbye, connection closed): its entries are removed. */
void	p2p_nat_forget_gateway(struct p2p_nat *, uint64_t gw);
enum p2p_nat_state p2p_nat_state(const struct p2p_nat *, uint64_t gw,
	    const char *resource, const char *domain);
size_t	p2p_nat_buffered(const struct p2p_nat *, uint64_t gw,
	    const char *resource, const char *domain);
void	p2p_nat_get_stats(const struct p2p_nat *, struct p2p_nat_stats *);

#endif
