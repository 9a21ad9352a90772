/* SPDX-License-Identifier: ISC */
/*
 * Phoenix channel frames (firezone-protocols.md §1.1, §1.3).
 *
 * V1 is the JSON object serializer the Rust side and fz use:
 *   {"topic":T,"event":E,"payload":P,"ref":R[,"join_ref":J]}
 * V2 is the array form phoenix.js uses with vsn=2.0.0:
 *   [J,R,T,E,P]
 * Decoding is strict: one JSON value of at most PHX_MAX_FRAME bytes, no
 * duplicate keys, topic and event non-empty strings without NUL, ref and
 * join_ref null, an integer or a string (absent: null; an absent payload
 * is null too).  Pure: no I/O, no logging.
 */
#ifndef FZ_PHX_H
#define FZ_PHX_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#ifndef FZ_WUR
#define FZ_WUR __attribute__((warn_unused_result))
#endif

#define PHX_MAX_FRAME		(1024 * 1024)
#define PHX_MAX_TOPIC		256	/* bytes, topic and event */
#define PHX_MAX_REF		256	/* bytes of a string ref */

enum phx_vsn { PHX_V1 = 1, PHX_V2 = 2 };

struct phx_frame {
	char	*topic;		/* malloc'd, NUL-free UTF-8 */
	char	*event;		/* malloc'd */
	json_t	*payload;	/* owned reference, never NULL (json_null) */
	json_t	*ref;		/* owned; NULL when absent or null */
	json_t	*join_ref;	/* owned; NULL when absent or null */
};

/* Fills *out (owned by the caller, phx_frame_clear) on success; -EBADMSG. */
int	phx_frame_decode(enum phx_vsn, const char *text, size_t len,
	    struct phx_frame *out) FZ_WUR;
/* Releases what a successful decode filled in; NULL-safe, idempotent. */
void	phx_frame_clear(struct phx_frame *);
/*
 * A compact frame (V1 keys in the order topic, event, payload, ref,
 * join_ref; join_ref only when given).  Borrows every argument; NULL
 * payload is null, NULL ref is null.  Returns malloc'd text or NULL
 * (ENOMEM or an invalid argument).
 */
char	*phx_frame_encode(enum phx_vsn, const char *topic, const char *event,
	    const json_t *payload, const json_t *ref, const json_t *join_ref);

/*
 * The payload of a phx_reply: {"status":"ok"|"error","response":R}.
 * Steals response (NULL: {}); returns a new reference or NULL.
 */
json_t	*phx_reply_payload(bool ok, json_t *response);
/*
 * Parses a phx_reply payload: *ok from status, *response borrowed from
 * payload (json null when absent).  -EBADMSG when it is not a reply.
 */
int	phx_reply_parse(const json_t *payload, bool *ok,
	    const json_t **response) FZ_WUR;

/* A ref as the integer it is, -EBADMSG when it is absent or not one. */
int	phx_ref_int(const json_t *ref, long long *out) FZ_WUR;

#endif
