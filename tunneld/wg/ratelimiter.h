/* SPDX-License-Identifier: ISC */
/*
 * Per-source token buckets for handshake messages while the device is
 * under load, as Linux WireGuard's ratelimiter.c: 20 messages a second with
 * a burst of 5, keyed on the IPv4 address or the IPv6 /64 (one host may
 * hold a whole /64), ports ignored.  Entries idle for a second are
 * collected (their bucket would be full again anyway); the number of
 * entries is bounded, and while the table is full new sources are refused.
 * Sans-I/O: the caller passes the monotonic time.  Thread-safe.
 */
#ifndef FZ_RATELIMITER_H
#define FZ_RATELIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RATELIMITER_PER_SEC	20
#define RATELIMITER_BURST	5
/* Default bound: about 3 MB of entries at most. */
#define RATELIMITER_MAX_ENTRIES	65536

struct ratelimiter;

/* max_entries 0 means RATELIMITER_MAX_ENTRIES. */
int	ratelimiter_new(size_t max_entries, struct ratelimiter **)
	    __attribute__((warn_unused_result));
void	ratelimiter_free(struct ratelimiter *);
/*
 * Takes a token from src's bucket at time now_ns; false when it has none,
 * when the table is full and src is new, or for a family other than
 * AF_INET and AF_INET6.
 */
bool	ratelimiter_allow(struct ratelimiter *, const struct sockaddr *src,
	    uint64_t now_ns);
/* Live entries (tests). */
size_t	ratelimiter_entries(struct ratelimiter *);

#endif
