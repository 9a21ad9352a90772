/* SPDX-License-Identifier: ISC */
/*
 * A path-compressed binary trie per address family.  Each node holds a
 * prefix (bits + length) and at most two children that extend it; lookups
 * descend while the node's prefix matches and remember the last node that
 * carries a value, which is the longest match.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"

struct node {
	struct node	*child[2];
	uint8_t		 bits[16];
	uint8_t		 plen;
	void		*value;
};

struct allowedips {
	pthread_rwlock_t lock;
	struct node	*root4, *root6;
	size_t		 count;
};

static int
bit_at(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* Number of leading bits a and b share, up to max. */
static unsigned
common_bits(const uint8_t *a, const uint8_t *b, unsigned max)
{
	unsigned i, n = 0;

	for (i = 0; i < (max + 7) / 8; i++) {
		uint8_t x = a[i] ^ b[i];

		if (x == 0) {
			n += 8;
			continue;
		}
		n += (unsigned)__builtin_clz((unsigned)x) - 24;
		break;
	}
	return n < max ? n : max;
}

static bool
prefix_match(const struct node *n, const uint8_t *a)
{
	return common_bits(n->bits, a, n->plen) >= n->plen;
}

static void
mask(uint8_t *dst, const uint8_t *src, unsigned plen, unsigned alen)
{
	unsigned i;

	for (i = 0; i < alen; i++) {
		unsigned b = i * 8 >= plen ? 0 : plen - i * 8 >= 8 ? 8 :
		    plen - i * 8;

		dst[i] = src[i] & (uint8_t)(0xff00 >> b);
	}
	for (; i < 16; i++)
		dst[i] = 0;
}

int
allowedips_new(struct allowedips **out)
{
	struct allowedips *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	pthread_rwlock_init(&t->lock, NULL);
	*out = t;
	return 0;
}

static void
free_tree(struct node *n)
{
	if (n == NULL)
		return;
	free_tree(n->child[0]);
	free_tree(n->child[1]);
	free(n);
}

void
allowedips_free(struct allowedips *t)
{
	if (t == NULL)
		return;
	free_tree(t->root4);
	free_tree(t->root6);
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

static struct node *
node_new(const uint8_t *bits, unsigned plen, unsigned alen)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n != NULL) {
		mask(n->bits, bits, plen, alen);
		n->plen = (uint8_t)plen;
	}
	return n;
}

int
allowedips_insert(struct allowedips *t, const struct fz_cidr *c, void *value)
{
	unsigned alen = c->family == AF_INET ? 4 : 16;
	struct node **pp, *n, *mid, *leaf;
	unsigned cb;
	int rc = 0;

	if (value == NULL || (c->family != AF_INET && c->family != AF_INET6))
		return -EINVAL;
	pthread_rwlock_wrlock(&t->lock);
	pp = c->family == AF_INET ? &t->root4 : &t->root6;
	for (;;) {
		n = *pp;
		if (n == NULL) {
			if ((leaf = node_new(c->addr, c->prefix, alen)) == NULL) {
				rc = -ENOMEM;
				break;
			}
			leaf->value = value;
			*pp = leaf;
			t->count++;
			break;
		}
		cb = common_bits(n->bits, c->addr,
		    n->plen < c->prefix ? n->plen : c->prefix);
		if (cb == n->plen && n->plen == c->prefix) {
			if (n->value == NULL)
				t->count++;
			n->value = value;	/* same prefix: replace */
			break;
		}
		if (cb == n->plen) {
			/* n is a proper prefix of c: descend. */
			pp = &n->child[bit_at(c->addr, n->plen)];
			continue;
		}
		/* Split: a node for the shared part takes n's place. */
		if (cb == c->prefix) {
			/* c is a proper prefix of n. */
			if ((mid = node_new(c->addr, c->prefix, alen)) == NULL) {
				rc = -ENOMEM;
				break;
			}
			mid->value = value;
			mid->child[bit_at(n->bits, cb)] = n;
			*pp = mid;
			t->count++;
			break;
		}
		if ((mid = node_new(c->addr, cb, alen)) == NULL ||
		    (leaf = node_new(c->addr, c->prefix, alen)) == NULL) {
			free(mid);
			rc = -ENOMEM;
			break;
		}
		leaf->value = value;
		mid->child[bit_at(n->bits, cb)] = n;
		mid->child[bit_at(c->addr, cb)] = leaf;
		*pp = mid;
		t->count++;
		break;
	}
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

/* Removes value everywhere and prunes nodes left without purpose. */
static struct node *
remove_rec(struct node *n, void *value, size_t *count)
{
	if (n == NULL)
		return NULL;
	n->child[0] = remove_rec(n->child[0], value, count);
	n->child[1] = remove_rec(n->child[1], value, count);
	if (n->value == value) {
		n->value = NULL;
		(*count)--;
	}
	if (n->value != NULL)
		return n;
	if (n->child[0] == NULL || n->child[1] == NULL) {
		struct node *only = n->child[0] != NULL ? n->child[0] :
		    n->child[1];

		free(n);
		return only;
	}
	return n;
}

void
allowedips_remove_value(struct allowedips *t, void *value)
{
	pthread_rwlock_wrlock(&t->lock);
	t->root4 = remove_rec(t->root4, value, &t->count);
	t->root6 = remove_rec(t->root6, value, &t->count);
	pthread_rwlock_unlock(&t->lock);
}

void *
allowedips_lookup(struct allowedips *t, int family, const void *addr)
{
	const uint8_t *a = addr;
	unsigned max = family == AF_INET ? 32 : 128;
	struct node *n;
	void *best = NULL;

	pthread_rwlock_rdlock(&t->lock);
	n = family == AF_INET ? t->root4 : family == AF_INET6 ? t->root6 : NULL;
	while (n != NULL && prefix_match(n, a)) {
		if (n->value != NULL)
			best = n->value;
		if (n->plen >= max)
			break;
		n = n->child[bit_at(a, n->plen)];
	}
	pthread_rwlock_unlock(&t->lock);
	return best;
}

static void
walk_rec(struct node *n, int family, void *value,
    void (*fn)(const struct fz_cidr *, void *), void *arg)
{
	struct fz_cidr c;

	if (n == NULL)
		return;
	if (n->value == value) {
		memset(&c, 0, sizeof(c));
		c.family = family;
		c.prefix = n->plen;
		memcpy(c.addr, n->bits, 16);
		fn(&c, arg);
	}
	walk_rec(n->child[0], family, value, fn, arg);
	walk_rec(n->child[1], family, value, fn, arg);
}

void
allowedips_walk(struct allowedips *t, void *value,
    void (*fn)(const struct fz_cidr *, void *), void *arg)
{
	pthread_rwlock_rdlock(&t->lock);
	walk_rec(t->root4, AF_INET, value, fn, arg);
	walk_rec(t->root6, AF_INET6, value, fn, arg);
	pthread_rwlock_unlock(&t->lock);
}

size_t
allowedips_count(struct allowedips *t)
{
	size_t n;

	pthread_rwlock_rdlock(&t->lock);
	n = t->count;
	pthread_rwlock_unlock(&t->lock);
	return n;
}
