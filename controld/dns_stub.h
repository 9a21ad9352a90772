/* SPDX-License-Identifier: ISC */
/*
 * The client's DNS stub resolver (firezone-protocols.md §4.4), sans I/O.
 *
 * Queries arrive as DNS message bytes with the client's address and the
 * sentinel they were sent to; each one yields a verdict: an answer to send
 * back (from the sentinel to the client), a query to forward to the
 * sentinel's upstream, or a query to forward to the gateway serving a DNS
 * resource (SRV/TXT, at <gateway tunnel IP>:53535).  Forwarded queries go
 * out under a fresh random id and are remembered (at most
 * DNS_STUB_MAX_PENDING, 5 s each); their answers come back through
 * dns_stub_upstream_answer, which checks and rewrites them for the client
 * and caches them (§4.4 cache rules).  Local A/AAAA answers for resources
 * also queue events "resource R resolved name N to these proxy IPs".
 *
 * Messages are parsed and built by ldns.  Every input is untrusted: a
 * malformed message is an error (-EBADMSG) and nothing else happens.
 * All state is bounded (names, cache, pending queries, events, upstreams).
 *
 * The search domain is kept for the caller (the OS applies it, as Firezone
 * does since it stopped expanding single-label names itself); the stub does
 * not rewrite names with it.  DoH upstreams are not handled here.
 */
#ifndef FZ_DNS_STUB_H
#define FZ_DNS_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "buf.h"
#include "dns_pattern.h"

#define DNS_STUB_TTL			1	/* local answers, seconds */
#define DNS_STUB_CACHE_MIN_TTL		5	/* seconds */
#define DNS_STUB_UPSTREAM_TIMEOUT_NS	(5ULL * 1000000000ULL)
#define DNS_STUB_MAX_UPSTREAMS		16
#define DNS_STUB_MAX_RESOURCES		4096
#define DNS_STUB_MAX_NAMES		16384
#define DNS_STUB_MAX_CACHE		1024
#define DNS_STUB_MAX_PENDING		1024
#define DNS_STUB_MAX_EVENTS		256
#define DNS_STUB_GATEWAY_PORT		53535
#define DNS_STUB_RESOURCE_ID_MAX	64	/* incl. NUL */
#define DNS_STUB_IPS_PER_FAMILY		4

enum dns_ip_stack {
	DNS_STACK_DUAL,
	DNS_STACK_IPV4_ONLY,
	DNS_STACK_IPV6_ONLY,
};

struct dns_stub;

struct dns_stub	*dns_stub_new(void);
void		 dns_stub_free(struct dns_stub *);

/*
 * The upstream servers: the portal's upstream_do53 when it has any, else the
 * system's (port 0 means 53).  Sentinel addresses among them are dropped,
 * duplicates too.  When the effective set changes, every upstream gets a
 * sentinel: IPv4 upstreams 100.100.111.1, .2, ..., IPv6 upstreams
 * fd00:2021:1111:8000:100:100:111:0, :1, ..., skipping the previous
 * mapping's sentinels, and the cache is flushed; an unchanged set keeps its
 * mapping.  -E2BIG beyond DNS_STUB_MAX_UPSTREAMS effective upstreams.
 * *changed (may be NULL) says whether the mapping changed.
 */
int	dns_stub_set_upstreams(struct dns_stub *,
	    const union fz_sockaddr *do53, size_t n_do53,
	    const union fz_sockaddr *system, size_t n_system,
	    bool *changed) FZ_WUR;
/* Copies up to max (sentinel, upstream) pairs; returns the number there are. */
size_t	dns_stub_sentinels(const struct dns_stub *, union fz_sockaddr *sentinels,
	    union fz_sockaddr *upstreams, size_t max);
/* The upstream behind a sentinel (port ignored); -ENOENT if none. */
int	dns_stub_sentinel_upstream(const struct dns_stub *,
	    const struct sockaddr *sentinel, union fz_sockaddr *upstream) FZ_WUR;
/* The sentinel of an upstream (address and port); -ENOENT if none. */
int	dns_stub_upstream_sentinel(const struct dns_stub *,
	    const struct sockaddr *upstream, union fz_sockaddr *sentinel) FZ_WUR;
/* Whether an address lies in the sentinel ranges (mapped or not). */
bool	dns_stub_is_sentinel_range(const struct sockaddr *);

/*
 * DNS resources.  Adding an id that exists replaces its pattern and stack.
 * -EINVAL for an invalid pattern or id, -ENOSPC beyond
 * DNS_STUB_MAX_RESOURCES.  Both flush the cache.  remove: -ENOENT if absent.
 */
int	dns_stub_add_resource(struct dns_stub *, const char *id,
	    const char *pattern, enum dns_ip_stack) FZ_WUR;
int	dns_stub_remove_resource(struct dns_stub *, const char *id) FZ_WUR;
/* The portal's search domain (NULL clears); -EINVAL if not a valid name. */
int	dns_stub_set_search_domain(struct dns_stub *, const char *) FZ_WUR;
/* The current search domain or NULL; borrowed until the next set. */
const char *dns_stub_search_domain(const struct dns_stub *);

/* The most specific resource matching a name (ties: the greatest id). */
int	dns_stub_match(const struct dns_stub *, const char *name,
	    char id[DNS_STUB_RESOURCE_ID_MAX]) FZ_WUR;

struct dns_ip {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		addr[16];	/* network order */
};

/*
 * The name a proxy IP was handed out for, in text without the trailing dot;
 * -ENOENT if none.
 */
int	dns_stub_proxy_ip_name(const struct dns_stub *, const struct dns_ip *,
	    char *name, size_t namelen) FZ_WUR;

enum dns_stub_verdict {
	DNS_STUB_REPLY,		/* send out[0..len) from src to dst */
	DNS_STUB_FORWARD,	/* send out[0..len) to dst (the upstream) */
	DNS_STUB_FORWARD_SITE,	/* send out[0..len) to the gateway of
				 * resource_id, at its tunnel IP of
				 * site_family, port DNS_STUB_GATEWAY_PORT */
};

struct dns_stub_out {
	enum dns_stub_verdict	verdict;
	size_t			len;
	union fz_sockaddr	src;	/* REPLY: the sentinel, port 53 */
	union fz_sockaddr	dst;	/* REPLY: client; FORWARD: upstream */
	uint16_t		fwd_id;	/* FORWARD*: the id on the wire */
	int			site_family;
	char			resource_id[DNS_STUB_RESOURCE_ID_MAX];
};

/* Query flags. */
#define DNS_STUB_TCP	0x1	/* arrived over TCP: no UDP size limit */

/*
 * One query from client `from` to sentinel `to`.  Writes the message to
 * send into out (outlen >= 512; 65535 is always enough) and the verdict into
 * *res.  -EBADMSG for bytes that are not a DNS query (nothing to send),
 * -ENOENT when `to` is no mapped sentinel (drop, §4.3), -ENOBUFS when out is
 * too small.  A query the stub cannot take (not one question, opcode not
 * QUERY, no room for a pending query or a new name) is answered (FORMERR,
 * NOTIMP, SERVFAIL).
 */
int	dns_stub_query(struct dns_stub *, const uint8_t *msg, size_t len,
	    const struct sockaddr *from, const struct sockaddr *to,
	    unsigned flags, uint64_t now_ns, uint8_t *out, size_t outlen,
	    struct dns_stub_out *res) FZ_WUR;

/*
 * An answer from `server` (an upstream, or any gateway for a site query) to
 * a forwarded query: checked against the pending query (id, server,
 * question), cached if the cache rules allow, given the client's id and
 * written to out as a REPLY.  -ENOENT for an answer no pending query waits
 * for, -EBADMSG for malformed bytes.
 */
int	dns_stub_upstream_answer(struct dns_stub *, const uint8_t *msg,
	    size_t len, const struct sockaddr *server, uint64_t now_ns,
	    uint8_t *out, size_t outlen, struct dns_stub_out *res) FZ_WUR;

/* The forward of fwd_id failed (not a timeout): SERVFAIL for the client. */
int	dns_stub_upstream_failed(struct dns_stub *, uint16_t fwd_id,
	    uint8_t *out, size_t outlen, struct dns_stub_out *res) FZ_WUR;

/* Drops pending queries past their 5 s and expired cache entries. */
void	dns_stub_expire(struct dns_stub *, uint64_t now_ns);
/* When dns_stub_expire has work next; UINT64_MAX if never. */
uint64_t dns_stub_next_deadline(const struct dns_stub *);

struct dns_stub_event {
	char		resource_id[DNS_STUB_RESOURCE_ID_MAX];
	char		name[DNS_PATTERN_MAX + 1];	/* no trailing dot */
	size_t		n_ips;				/* 4 or 8 */
	struct dns_ip	ips[2 * DNS_STUB_IPS_PER_FAMILY];
};

/*
 * The next "resource resolved" event (one per matching resource and local
 * A/AAAA answer; when DNS_STUB_MAX_EVENTS wait, the oldest is dropped):
 * 0, or -ENOENT when there is none.
 */
int	dns_stub_next_event(struct dns_stub *, struct dns_stub_event *) FZ_WUR;

struct dns_stub_stats {
	uint64_t	queries, local, forwarded, forwarded_site, cache_hits;
	uint64_t	answers, bad, unmatched_answers, timeouts, dropped_events;
	size_t		names, cache, pending;
};
void	dns_stub_get_stats(const struct dns_stub *, struct dns_stub_stats *);

#endif
