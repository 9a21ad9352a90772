/* SPDX-License-Identifier: ISC */
/*
 * Allowed IPs: longest-prefix match from an address to a peer, for IPv4
 * and IPv6 (the cryptokey routing table of the WireGuard paper, §2).
 * Lookups take a read lock and may run concurrently on every worker;
 * changes take the write lock.  Values are opaque pointers.
 */
#ifndef FZ_ALLOWEDIPS_H
#define FZ_ALLOWEDIPS_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct allowedips;

int	allowedips_new(struct allowedips **) __attribute__((warn_unused_result));
void	allowedips_free(struct allowedips *);
/* Maps a prefix to value, replacing what it mapped to before. */
int	allowedips_insert(struct allowedips *, const struct fz_cidr *, void *)
	    __attribute__((warn_unused_result));
/* Removes every prefix that maps to value. */
void	allowedips_remove_value(struct allowedips *, void *);
/* Longest-prefix match; NULL when nothing matches. */
void	*allowedips_lookup(struct allowedips *, int family, const void *addr);
/* Calls fn for each prefix mapped to value (for `wg show'). */
void	allowedips_walk(struct allowedips *, void *value,
	    void (*fn)(const struct fz_cidr *, void *), void *arg);
size_t	allowedips_count(struct allowedips *);

#endif
