/* SPDX-License-Identifier: ISC */
/*
 * Handshake rate limiter (see ratelimiter.h); the numbers and the bucket
 * arithmetic are those of Linux drivers/net/wireguard/ratelimiter.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "fztime.h"
#include "ratelimiter.h"

/* Time is the token: a message costs 1/20 s, a bucket holds 5 of them. */
#define PACKET_COST	(NSEC_PER_SEC / RATELIMITER_PER_SEC)
#define TOKEN_MAX	(PACKET_COST * RATELIMITER_BURST)
#define KEY_LEN		9	/* family, then 4 (IPv4) or 8 (IPv6 /64) bytes */

struct entry {
	struct entry	*next;
	uint64_t	 last_ns;
	uint64_t	 tokens;
	uint8_t		 key[KEY_LEN];
};

struct ratelimiter {
	pthread_mutex_t	 lock;
	struct entry	**bucket;
	size_t		 nbuckets;	/* a power of two */
	size_t		 n, max;
	uint64_t	 last_gc;
	uint8_t		 hkey[crypto_shorthash_KEYBYTES];
};

int
ratelimiter_new(size_t max, struct ratelimiter **out)
{
	struct ratelimiter *r;

	if (sodium_init() < 0)
		return -ENOSYS;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->max = max > 0 ? max : RATELIMITER_MAX_ENTRIES;
	/* About 8 entries a bucket when full, as Linux sizes its table. */
	for (r->nbuckets = 16; r->nbuckets * 8 < r->max; r->nbuckets *= 2)
		;
	if ((r->bucket = calloc(r->nbuckets, sizeof(*r->bucket))) == NULL) {
		free(r);
		return -ENOMEM;
	}
	/* A keyed hash: sources cannot be chosen to share one chain. */
	randombytes_buf(r->hkey, sizeof(r->hkey));
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;
}

void
ratelimiter_free(struct ratelimiter *r)
{
	struct entry *e, *n;
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nbuckets; i++)
		for (e = r->bucket[i]; e != NULL; e = n) {
			n = e->next;
			free(e);
		}
	free(r->bucket);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Removes entries idle for a second (their buckets are full again). */
static void
gc(struct ratelimiter *r, uint64_t now)
{
	struct entry **pp, *e;
	size_t i;

	for (i = 0; i < r->nbuckets && r->n > 0; i++) {
		for (pp = &r->bucket[i]; (e = *pp) != NULL;) {
			if (now > e->last_ns &&
			    now - e->last_ns >= NSEC_PER_SEC) {
				*pp = e->next;
				free(e);
				r->n--;
			} else
				pp = &e->next;
		}
	}
	r->last_gc = now;
}

static int
make_key(const struct sockaddr *sa, uint8_t key[KEY_LEN])
{
	memset(key, 0, KEY_LEN);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)
		    (const void *)sa;

		key[0] = 4;
		memcpy(key + 1, &s->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)
		    (const void *)sa;

		key[0] = 6;
		memcpy(key + 1, &s->sin6_addr, 8);	/* the /64 */
		return 0;
	}
	return -EAFNOSUPPORT;
}

bool
ratelimiter_allow(struct ratelimiter *r, const struct sockaddr *sa,
    uint64_t now)
{
	uint8_t key[KEY_LEN], h[crypto_shorthash_BYTES];
	struct entry *e, **head;
	uint64_t tokens, hv;
	bool ok;

	if (make_key(sa, key) != 0)
		return false;
	crypto_shorthash(h, key, KEY_LEN, r->hkey);
	memcpy(&hv, h, sizeof(hv));
	pthread_mutex_lock(&r->lock);
	if (now > r->last_gc && now - r->last_gc >= NSEC_PER_SEC)
		gc(r, now);
	head = &r->bucket[hv & (r->nbuckets - 1)];
	for (e = *head; e != NULL; e = e->next)
		if (memcmp(e->key, key, KEY_LEN) == 0)
			break;
	if (e != NULL) {
		/*
		 * Refill by the time elapsed, up to the burst; then pay.
		 * Threads read the clock before taking the lock, so now
		 * may be a little behind last_ns: that refills nothing.
		 */
		tokens = e->tokens;
		if (now > e->last_ns) {
			tokens += now - e->last_ns;
			e->last_ns = now;
		}
		if (tokens > TOKEN_MAX)
			tokens = TOKEN_MAX;
		ok = tokens >= PACKET_COST;
		e->tokens = ok ? tokens - PACKET_COST : tokens;
	} else if (r->n >= r->max ||
	    (e = malloc(sizeof(*e))) == NULL) {
		ok = false;		/* full: new sources wait for the GC */
	} else {
		/* A new source starts with a full bucket, less this one. */
		memcpy(e->key, key, KEY_LEN);
		e->last_ns = now;
		e->tokens = TOKEN_MAX - PACKET_COST;
		e->next = *head;
		*head = e;
		r->n++;
		ok = true;
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

size_t
ratelimiter_entries(struct ratelimiter *r)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}
