/* SPDX-License-Identifier: ISC */
/*
 * Allowed IPs: longest-prefix match from an address to a peer, for IPv4
 * and IPv6 (the cryptokey routing table of the WireGuard paper, §2).
 * Lookups are RCU reads (urcu-bp, no lock) and run concurrently on every
 * worker; changes are serialised by a mutex and free what they unlink
 * after a grace period.  Values are opaque pointers; the value a lookup
 * returns stays valid while the caller is inside wg_read_lock (or keeps
 * it alive otherwise).
 *
 * As in Linux, each value's owner keeps the list of its prefixes (a
 * struct allowedips_set, zero-initialised), so removing a peer's prefixes
 * costs what they number, not a walk of the whole trie.
 */
#ifndef FZ_ALLOWEDIPS_H
#define FZ_ALLOWEDIPS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct allowedips;
struct aip_node;

/* The prefixes mapped to one value; owned by that value's owner. */
struct allowedips_set {
	struct aip_node	*first;
	void		*value;		/* what they map to */
	/*
	 * The host routes among the first two prefixes, copied for the
	 * receive path (allowedips_set_has_host reads no node): written
	 * under the trie's lock whenever the first two change, read with
	 * seq (odd while they change; a reader that sees it move looks up).
	 * With value, bytes 8 to 54 of the 56: one cache line for an owner
	 * that places the set at the start of a line (the data plane's).
	 */
	_Atomic uint32_t seq;
	uint8_t		 family[2];	/* 0: not a host route */
	uint8_t		 host[2][16];
};

int	allowedips_new(struct allowedips **) __attribute__((warn_unused_result));
/* No reader may be left; call after wg_read_unlock everywhere. */
void	allowedips_free(struct allowedips *);
/*
 * Maps a prefix to value, replacing what it mapped to before (the prefix
 * then moves to set).  set must be the same for every insert of a value.
 */
int	allowedips_insert(struct allowedips *, const struct fz_cidr *,
	    void *value, struct allowedips_set *set)
	    __attribute__((warn_unused_result));
/* Removes every prefix of set; set is empty afterwards. */
void	allowedips_remove_set(struct allowedips *, struct allowedips_set *);
/* Longest-prefix match; NULL when nothing matches. */
void	*allowedips_lookup(struct allowedips *, int family, const void *addr);
/*
 * Prefetching for a batch of lookups (the data plane's TUN reads): the
 * host-route slots of every address (family AF_INET or AF_INET6; others
 * are skipped), then every slot's node, then the first two cache lines of
 * every node's value, which value[i] gets (NULL when addr[i] has no host
 * route; it may be stale: only for prefetching more).  Inside
 * wg_read_lock; nothing is changed.
 */
void	allowedips_prefetch(struct allowedips *, const int family[],
	    const uint8_t *const addr[], int n, void *value[]);
/*
 * Whether addr's host route (/32, /128) is one of the first two prefixes
 * of set (whose prefixes all map to value), from the set's own copy of
 * them (no node is read): then allowedips_lookup(addr) is value (an
 * exact host route is always the longest match).  false says nothing
 * (look it up).  A received packet's inner source checked against its
 * peer, on a gateway whose peers each have a /32 and a /128, without the
 * host table.  Inside wg_read_lock.
 */
bool	allowedips_set_has_host(const struct allowedips_set *, int family,
	    const void *addr, const void *value);
/* Calls fn for each prefix of set (for `wg show'); fn may not change t. */
void	allowedips_walk(struct allowedips *, struct allowedips_set *,
	    void (*fn)(const struct fz_cidr *, void *), void *arg);
size_t	allowedips_count(struct allowedips *);

#endif
