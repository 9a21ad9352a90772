/* SPDX-License-Identifier: ISC */
/*
 * The gateway's DNS forwarder core (firezone-protocols.md §5.1), sans I/O:
 * clients' SRV/TXT queries arrive at <tunnel ip>:53535 and go to the
 * fastest nameserver of the gateway's resolv.conf (up to
 * GW_DNSFWD_MAX_SERVERS; each is probed every 60 s with a query for
 * firezone.dev, 2 s timeout; any answer, even NXDOMAIN, counts as up), or
 * are answered SERVFAIL when there is none.  Forwarded queries go out
 * under a fresh random id, remembered (at most GW_DNSFWD_MAX_PENDING, 5 s
 * each); an answer is taken only from the server asked, with the id and
 * question sent (RFC 5452 §9.1), and goes back to the client with the
 * client's id, otherwise byte for byte.
 *
 * Messages are parsed with ldns; every input is untrusted: a malformed
 * message is -EBADMSG and nothing else happens.  gw_dnssrv.h does the I/O.
 */
#ifndef FZ_GW_DNSFWD_H
#define FZ_GW_DNSFWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define GW_DNSFWD_PORT			53535
#define GW_DNSFWD_MAX_SERVERS		20
#define GW_DNSFWD_MAX_PENDING		1024
#define GW_DNSFWD_PROBE_NAME		"firezone.dev"
#define GW_DNSFWD_PROBE_INTERVAL_NS	(60ULL * 1000000000ULL)
#define GW_DNSFWD_PROBE_TIMEOUT_NS	(2ULL * 1000000000ULL)
#define GW_DNSFWD_QUERY_TIMEOUT_NS	(5ULL * 1000000000ULL)

/*
 * The nameservers of a resolv.conf text (len bytes, no NUL needed): the
 * "nameserver ADDR" lines in order, port 53, duplicates and scoped IPv6
 * addresses skipped, at most max.  Writes *n; always 0 (a file without
 * servers yields 0 of them).
 */
int	gw_dnsfwd_resolv_parse(const char *text, size_t len,
	    union fz_sockaddr *out, size_t max, size_t *n)
	    __attribute__((warn_unused_result));

/*
 * A SERVFAIL answer to query q (its id, opcode, RD and question; EDNS
 * when the query had it): -EBADMSG if q is not a query with one question,
 * -ENOBUFS if out is too small.
 */
int	gw_dnsfwd_servfail(const uint8_t *q, size_t qlen, uint8_t *out,
	    size_t outlen, size_t *len) __attribute__((warn_unused_result));

struct gw_dnsfwd;

/* rng fills ids (required); returns NULL on allocation failure. */
struct gw_dnsfwd *gw_dnsfwd_new(void (*rng)(void *arg, void *, size_t),
	    void *rng_arg);
void	gw_dnsfwd_free(struct gw_dnsfwd *);	/* NULL-safe */

/*
 * The nameservers (the set replaces the previous one; every server is
 * unprobed again and pending queries are dropped).  -E2BIG beyond
 * GW_DNSFWD_MAX_SERVERS.
 */
int	gw_dnsfwd_set_servers(struct gw_dnsfwd *, const union fz_sockaddr *,
	    size_t n) __attribute__((warn_unused_result));

/*
 * The server to forward to: the answering server with the lowest probe
 * round trip; before any probe answered, the first server not known to be
 * down.  -ENOENT when there is none (SERVFAIL).
 */
int	gw_dnsfwd_best(const struct gw_dnsfwd *, union fz_sockaddr *)
	    __attribute__((warn_unused_result));

/* Who asked: the I/O layer's own tag (a socket, a TCP connection). */
struct gw_dnsfwd_client {
	union fz_sockaddr	addr;
	uint32_t		tag;
};

enum gw_dnsfwd_verdict {
	GW_DNSFWD_REPLY,	/* send out[0..len) to client */
	GW_DNSFWD_FORWARD,	/* send out[0..len) to server */
	GW_DNSFWD_PROBED,	/* a probe's answer: nothing to send */
};

struct gw_dnsfwd_out {
	enum gw_dnsfwd_verdict	 verdict;
	size_t			 len;
	struct gw_dnsfwd_client	 client;	/* REPLY */
	union fz_sockaddr	 server;	/* FORWARD */
};

/*
 * A client's query: FORWARD under a fresh id, or REPLY SERVFAIL (no
 * server, no room for one more pending query).  -EBADMSG: not a query with
 * one question (nothing to send); -ENOBUFS: out too small.
 */
int	gw_dnsfwd_query(struct gw_dnsfwd *, const uint8_t *msg, size_t len,
	    const struct gw_dnsfwd_client *, uint64_t now_ns, uint8_t *out,
	    size_t outlen, struct gw_dnsfwd_out *res)
	    __attribute__((warn_unused_result));

/*
 * An answer from server `from`: REPLY to the client that asked, or PROBED
 * (the server's round trip recorded).  -ENOENT: no query waits for it;
 * -EBADMSG: malformed; -ENOBUFS: out too small (the query stays pending).
 */
int	gw_dnsfwd_answer(struct gw_dnsfwd *, const uint8_t *msg, size_t len,
	    const struct sockaddr *from, uint64_t now_ns, uint8_t *out,
	    size_t outlen, struct gw_dnsfwd_out *res)
	    __attribute__((warn_unused_result));

/*
 * The probe query for server i (0 <= i < n servers): FORWARD with the
 * server's address.  -ENOENT past the last server, -EBUSY when its last
 * probe is still out.
 */
int	gw_dnsfwd_probe(struct gw_dnsfwd *, size_t i, uint64_t now_ns,
	    uint8_t *out, size_t outlen, struct gw_dnsfwd_out *res)
	    __attribute__((warn_unused_result));

/*
 * Drops queries past their 5 s (no answer: the client retries) and marks
 * servers whose probe went unanswered for 2 s down.
 */
void	gw_dnsfwd_expire(struct gw_dnsfwd *, uint64_t now_ns);
/* When gw_dnsfwd_expire has work next; UINT64_MAX if never. */
uint64_t gw_dnsfwd_next_deadline(const struct gw_dnsfwd *);

struct gw_dnsfwd_stats {
	uint64_t	queries, forwarded, servfail, answers, bad;
	uint64_t	unmatched, timeouts, probes, probe_answers;
	size_t		pending, servers, up;
};
void	gw_dnsfwd_get_stats(const struct gw_dnsfwd *, struct gw_dnsfwd_stats *);

#endif
