/* SPDX-License-Identifier: ISC */
/*
 * Packet enforcement of Firezone's resources (firezone-protocols.md §4.3,
 * §5.2, §5.4), pure: no threads, no clock, no I/O.
 *
 *  - flt_parse: the bounds-checked IPv4/IPv6 header walk (options,
 *    extension headers, fragments) down to ports / ICMP type.
 *  - flt_rules_allow: a resource's filters (tcp/udp port ranges, icmp;
 *    none = all).
 *  - struct flt_table: per-client accesses (client tunnel IPs, resources,
 *    their prefixes and filters, expiry in Unix seconds), the gateway's
 *    §5.2 checks (flt_check) and, with one pseudo-client, the client's
 *    §4.3 step 4 (flt_client_check).
 *  - flt_icmp_build: ICMP/ICMPv6 Destination Unreachable replies quoting
 *    the offending packet (RFC 792 / RFC 4443), checksums included.
 *
 * The table is not locked: its user (the data plane's glue) changes a
 * clone and publishes it under RCU.  Strings are copied; nothing is borrowed past
 * a call.
 */
#ifndef FZ_FILTER_H
#define FZ_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define FLT_ID_MAX	63		/* portal UUIDs are 36 */

/* A parsed packet: pointers into the caller's buffer. */
struct flt_pkt {
	int		 family;	/* AF_INET or AF_INET6 */
	const uint8_t	*src, *dst;	/* 4 or 16 bytes */
	size_t		 len;		/* the IP datagram's length */
	size_t		 hlen;		/* IP header (+ extension headers) */
	uint8_t		 proto;		/* upper-layer protocol */
	bool		 frag;		/* a fragment (first or not) */
	bool		 later_frag;	/* a fragment but the first: no L4 */
	bool		 has_ports;	/* tcp/udp with its ports present */
	uint16_t	 sport, dport;
	bool		 has_icmp;	/* icmp/icmpv6 with its type present */
	uint8_t		 icmp_type, icmp_code;
};

/*
 * 0 and *out for a well-formed IPv4/IPv6 packet of at most len bytes
 * (trailing bytes past the IP length are ignored); -EINVAL otherwise
 * (truncated headers, bad version/IHL, lengths past len, too many or
 * malformed extension headers).  A first fragment too short to hold the
 * ports is refused (RFC 1858's tiny-fragment attack).
 */
int	flt_parse(const uint8_t *pkt, size_t len, struct flt_pkt *out)
	    __attribute__((warn_unused_result));

/* One filter: tcp/udp with an inclusive port range, or icmp. */
enum flt_proto { FLT_TCP, FLT_UDP, FLT_ICMP };
struct flt_rule {
	enum flt_proto	proto;
	uint16_t	lo, hi;		/* tcp/udp */
};

/*
 * Whether rules admit the packet: none = all; tcp/udp by destination
 * port; icmp any ICMP (v4) / ICMPv6 (v6) message.  A later fragment has
 * no ports to check: admitted only by an empty list.
 */
bool	flt_rules_allow(const struct flt_rule *, size_t n,
	    const struct flt_pkt *);
/*
 * "tcp 80-80, udp 53-53, icmp" (the IPC form, "" none) into at most max
 * rules: their count, or -EINVAL / -ENOSPC.
 */
int	flt_rules_parse(const char *, struct flt_rule *, size_t max)
	    __attribute__((warn_unused_result));
/* The IPC form of rules; -ENOSPC when it does not fit. */
int	flt_rules_fmt(const struct flt_rule *, size_t n, char *, size_t)
	    __attribute__((warn_unused_result));

/* Address classes (§4.1, §5.2). */
bool	flt_is_tunnel_ip(int family, const uint8_t *);	/* device range */
bool	flt_is_proxy_ip(int family, const uint8_t *);	/* DNS proxy range */
bool	flt_is_multicast(int family, const uint8_t *);
/* Refused under the Internet Resource: private and special ranges. */
bool	flt_is_special(int family, const uint8_t *);
/* An ICMP/ICMPv6 error message (v4 types 3, 4, 5, 11, 12; v6 below 128). */
bool	flt_is_icmp_error(const struct flt_pkt *);

enum flt_res_type { FLT_RES_CIDR, FLT_RES_DNS, FLT_RES_INTERNET };

enum flt_verdict {
	FLT_PASS,		/* on to the TUN / the tunnel */
	FLT_DROP,		/* silently */
	FLT_PROHIBITED,		/* ICMP 3/13, ICMPv6 1/1 */
	FLT_UNREACHABLE,	/* ICMP 3/0 net, ICMPv6 1/3 address */
};
const char *flt_verdict_name(enum flt_verdict);

struct flt_table;

struct flt_table *flt_table_new(void);
void	flt_table_free(struct flt_table *);
/* A deep copy (RCU updates: change the copy, publish it); NULL: ENOMEM. */
struct flt_table *flt_table_clone(const struct flt_table *);
/* The gateway's own tunnel addresses (always reachable); "" none. */
int	flt_table_set_self(struct flt_table *, const char *ipv4,
	    const char *ipv6) __attribute__((warn_unused_result));

/*
 * Grant client (with tunnel addresses ipv4/ipv6, "" none: then no packet
 * is its, as the client's pseudo-client of flt_client_check) access to a
 * resource until expires_at (Unix seconds, 0 never): address is the CIDR
 * resource's network (a bare address is a host prefix); DNS resources get
 * their prefixes with flt_access_add_prefix (until the first, the whole
 * proxy ranges: the client's DNS resources' filters as one union); the
 * Internet Resource none.
 * Replaces the filters and expiry of an existing access.  0, -EINVAL,
 * -ENOMEM.
 */
int	flt_access_set(struct flt_table *, const char *client_id,
	    const char *ipv4, const char *ipv6, const char *resource_id,
	    enum flt_res_type, const char *address,
	    const struct flt_rule *, size_t nrules, uint64_t expires_at)
	    __attribute__((warn_unused_result));
/*
 * One more prefix for an access (a DNS resource's proxy or real IPs);
 * reachable false: a proxy IP without a target of its family (answered
 * unreachable).  0, -ENOENT, -ENOMEM.
 */
int	flt_access_add_prefix(struct flt_table *, const char *client_id,
	    const char *resource_id, const struct fz_cidr *, bool reachable)
	    __attribute__((warn_unused_result));
/* reject_access: 0 or -ENOENT.  A client left without access goes. */
int	flt_access_del(struct flt_table *, const char *client_id,
	    const char *resource_id);
/*
 * resource_updated: new filters for every access to it; how many.  Out of
 * memory an access is expired instead (fails closed).
 */
size_t	flt_resource_update(struct flt_table *, const char *resource_id,
	    const struct flt_rule *, size_t nrules);
/*
 * init's authorizations: marks all accesses, then flt_sync_keep for each
 * listed (refreshing its expiry), then flt_sync_end drops the unmarked
 * (returns how many went).
 */
void	flt_sync_begin(struct flt_table *);
int	flt_sync_keep(struct flt_table *, const char *client_id,
	    const char *resource_id, uint64_t expires_at);
size_t	flt_sync_end(struct flt_table *);
/*
 * Drops the accesses expired at now (Unix seconds); calls gone(client_id,
 * arg) for each client left with none (the caller says goodbye).
 * Returns how many accesses went.  flt_next_expiry: the earliest expiry,
 * 0 none.
 */
size_t	flt_expire(struct flt_table *, uint64_t now,
	    void (*gone)(const char *client_id, void *), void *arg);
uint64_t flt_next_expiry(const struct flt_table *);
size_t	flt_nclients(const struct flt_table *);
/* Whether client_id has any access left (a DNS NAT's owner). */
bool	flt_has_client(const struct flt_table *, const char *client_id);
size_t	flt_naccesses(const struct flt_table *);

/*
 * The gateway's decision for a packet decrypted from a client (§5.2):
 * the p2p control protocol (:: -> ::, 0xff) passes, for its handler; the
 * source must be a known client's tunnel address (anti-spoofing), no
 * multicast, no ICMP errors, no other tunnel address (the gateway's own
 * pass), then the client's unexpired accesses: longest matching prefix
 * among those whose filters admit the packet, else prohibited; the
 * Internet Resource takes the rest but private/special ranges
 * (unreachable) and proxy IPs without a DNS access (unreachable).
 * now in Unix seconds: an expired access counts as absent.  resource_id,
 * when not NULL, gets the matching resource's id ("" none).
 */
enum flt_verdict flt_check(const struct flt_table *, const struct flt_pkt *,
	    uint64_t now, char resource_id[FLT_ID_MAX + 1]);
/* flt_check, and the client's id ("" none) into client_id. */
enum flt_verdict flt_check_ids(const struct flt_table *,
	    const struct flt_pkt *, uint64_t now,
	    char resource_id[FLT_ID_MAX + 1], char client_id[FLT_ID_MAX + 1]);
/*
 * The gateway's return direction (TUN -> client, §5.2): PASS when the
 * destination is a known client and the source its unexpired access's
 * (or the gateway's own, or any ICMP error from outside the tunnel
 * ranges); DROP otherwise.  Before the DNS NAT's reverse translation the
 * source is a real IP: a DNS access's real IPs are its prefixes too.
 */
enum flt_verdict flt_check_return(const struct flt_table *,
	    const struct flt_pkt *, uint64_t now);
enum flt_verdict flt_check_return_ids(const struct flt_table *,
	    const struct flt_pkt *, uint64_t now,
	    char resource_id[FLT_ID_MAX + 1], char client_id[FLT_ID_MAX + 1]);
/*
 * The client's §4.3 step 4 for a packet read from its TUN, over the
 * accesses of client_id (the client's own resources as one pseudo-client):
 * PASS when no resource matches (routing decides) or one admits it,
 * PROHIBITED when the matching resources' filters all refuse it.
 */
enum flt_verdict flt_client_check(const struct flt_table *,
	    const char *client_id, const struct flt_pkt *);

/*
 * The ICMP error for a packet (verdict PROHIBITED or UNREACHABLE) into
 * out: source = its destination, destination = its source, TTL/hop limit
 * 20; IPv4 quotes the IP header + 8 bytes, IPv6 as much as fits in 1280
 * bytes.  Returns the length, 0 when no error may be sent (RFC 1122 /
 * 4443 §2.4: the packet is an ICMP error, a later fragment, multicast
 * or from an unspecified/multicast source) or out is too small.
 */
#define FLT_ICMP_MAX	1280
size_t	flt_icmp_build(const struct flt_pkt *, const uint8_t *pkt,
	    enum flt_verdict, uint8_t *out, size_t outlen);

#endif
