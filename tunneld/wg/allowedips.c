/* SPDX-License-Identifier: ISC */
/*
 * A path-compressed binary trie per address family.  Each node holds a
 * prefix (bits + length) and at most two children that extend it; lookups
 * descend while the node's prefix matches and remember the last node that
 * carries a value, which is the longest match.
 *
 * RCU, as Linux allowedips.c: readers follow child pointers and read
 * values with rcu_dereference and no lock; the writer (t->lock) publishes
 * a node only once it is complete, never changes a published node's
 * prefix, and frees an unlinked node with call_rcu, so a reader standing
 * on it can still step to its children.  Nodes with a value sit on their
 * set's list (doubly linked, with a back pointer to the link that points
 * at them); parent pointers, used by the writer only, let a removal prune
 * the nodes it leaves without purpose.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"
#include "wg_rcu.h"

/* What a lookup reads comes first: 48 bytes, in one or two cache lines. */
struct aip_node {
	uint8_t			 bits[16];
	uint8_t			 plen;
	uint8_t			 family;
	struct aip_node		*child[2];	/* RCU */
	void			*value;		/* RCU; NULL: inner node */
	struct aip_node		*parent;	/* writer only */
	struct aip_node		*set_next;	/* writer only */
	struct aip_node		**set_pprev;
	struct rcu_head		 rcu;
};

struct allowedips {
	pthread_mutex_t		 lock;		/* writers */
	struct aip_node		*root4, *root6;	/* RCU */
	size_t			 count;		/* prefixes with a value */
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
prefix_match(const struct aip_node *n, const uint8_t *a)
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
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

static void
free_tree(struct aip_node *n)
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
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct aip_node *
node_new(const uint8_t *bits, unsigned plen, int family)
{
	struct aip_node *n = calloc(1, sizeof(*n));

	if (n != NULL) {
		mask(n->bits, bits, plen, family == AF_INET ? 4 : 16);
		n->plen = (uint8_t)plen;
		n->family = (uint8_t)family;
	}
	return n;
}

static void
node_free_rcu(struct rcu_head *h)
{
	free(caa_container_of(h, struct aip_node, rcu));
}

static void
set_link(struct allowedips_set *s, struct aip_node *n)
{
	n->set_next = s->first;
	if (s->first != NULL)
		s->first->set_pprev = &n->set_next;
	s->first = n;
	n->set_pprev = &s->first;
}

static void
set_unlink(struct aip_node *n)
{
	*n->set_pprev = n->set_next;
	if (n->set_next != NULL)
		n->set_next->set_pprev = n->set_pprev;
	n->set_next = NULL;
	n->set_pprev = NULL;
}

/* The link that points at n (its parent's child slot or the root). */
static struct aip_node **
slot_of(struct allowedips *t, struct aip_node *n)
{
	if (n->parent == NULL)
		return n->family == AF_INET ? &t->root4 : &t->root6;
	return &n->parent->child[bit_at(n->bits, n->parent->plen)];
}

/* Gives node n the value (it had none or another one). */
static void
node_set_value(struct allowedips *t, struct aip_node *n, void *value,
    struct allowedips_set *set)
{
	if (n->value == NULL)
		t->count++;
	else
		set_unlink(n);
	set_link(set, n);
	rcu_assign_pointer(n->value, value);
}

int
allowedips_insert(struct allowedips *t, const struct fz_cidr *c, void *value,
    struct allowedips_set *set)
{
	struct aip_node **pp, *n, *mid, *leaf, *parent = NULL;
	unsigned cb;
	int rc = 0;

	if (value == NULL || set == NULL ||
	    (c->family != AF_INET && c->family != AF_INET6) ||
	    c->prefix > (c->family == AF_INET ? 32 : 128))
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	pp = c->family == AF_INET ? &t->root4 : &t->root6;
	for (;;) {
		n = *pp;
		if (n == NULL) {
			if ((leaf = node_new(c->addr, c->prefix, c->family)) ==
			    NULL) {
				rc = -ENOMEM;
				break;
			}
			leaf->parent = parent;
			node_set_value(t, leaf, value, set);
			rcu_assign_pointer(*pp, leaf);
			break;
		}
		cb = common_bits(n->bits, c->addr,
		    n->plen < c->prefix ? n->plen : c->prefix);
		if (cb == n->plen && n->plen == c->prefix) {
			node_set_value(t, n, value, set); /* same prefix */
			break;
		}
		if (cb == n->plen) {
			/* n is a proper prefix of c: descend. */
			parent = n;
			pp = &n->child[bit_at(c->addr, n->plen)];
			continue;
		}
		/* Split: a node for the shared part takes n's place. */
		if (cb == c->prefix) {
			/* c is a proper prefix of n. */
			if ((mid = node_new(c->addr, c->prefix, c->family)) ==
			    NULL) {
				rc = -ENOMEM;
				break;
			}
			mid->parent = parent;
			mid->child[bit_at(n->bits, cb)] = n;
			node_set_value(t, mid, value, set);
			n->parent = mid;
			rcu_assign_pointer(*pp, mid);
			break;
		}
		if ((mid = node_new(c->addr, cb, c->family)) == NULL ||
		    (leaf = node_new(c->addr, c->prefix, c->family)) == NULL) {
			free(mid);
			rc = -ENOMEM;
			break;
		}
		mid->parent = parent;
		leaf->parent = mid;
		node_set_value(t, leaf, value, set);
		mid->child[bit_at(n->bits, cb)] = n;
		mid->child[bit_at(c->addr, cb)] = leaf;
		n->parent = mid;
		rcu_assign_pointer(*pp, mid);
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/*
 * Removes nodes left without purpose, from n upwards: a node without a
 * value and with one child gives its place to the child; one with no
 * child goes, and its parent may then be left with one.
 */
static void
prune(struct allowedips *t, struct aip_node *n)
{
	while (n != NULL && n->value == NULL) {
		struct aip_node *only, *parent = n->parent;

		if (n->child[0] != NULL && n->child[1] != NULL)
			break;
		only = n->child[0] != NULL ? n->child[0] : n->child[1];
		if (only != NULL)
			only->parent = parent;
		rcu_assign_pointer(*slot_of(t, n), only);
		call_rcu(&n->rcu, node_free_rcu);
		if (only != NULL)
			break;		/* the parent keeps its child count */
		n = parent;
	}
}

void
allowedips_remove_set(struct allowedips *t, struct allowedips_set *set)
{
	struct aip_node *n;

	pthread_mutex_lock(&t->lock);
	while ((n = set->first) != NULL) {
		set_unlink(n);
		rcu_assign_pointer(n->value, NULL);
		t->count--;
		prune(t, n);
	}
	pthread_mutex_unlock(&t->lock);
}

void *
allowedips_lookup(struct allowedips *t, int family, const void *addr)
{
	const uint8_t *a = addr;
	unsigned max = family == AF_INET ? 32 : 128;
	struct aip_node *n;
	void *best = NULL, *v;

	if (family != AF_INET && family != AF_INET6)
		return NULL;
	rcu_read_lock();
	if (family == AF_INET)
		n = rcu_dereference(t->root4);
	else
		n = rcu_dereference(t->root6);
	while (n != NULL && prefix_match(n, a)) {
		if ((v = rcu_dereference(n->value)) != NULL)
			best = v;
		if (n->plen >= max)
			break;
		n = rcu_dereference(n->child[bit_at(a, n->plen)]);
	}
	rcu_read_unlock();
	return best;
}

void
allowedips_walk(struct allowedips *t, struct allowedips_set *set,
    void (*fn)(const struct fz_cidr *, void *), void *arg)
{
	struct aip_node *n;
	struct fz_cidr c;

	pthread_mutex_lock(&t->lock);
	/* The list is newest first: walk it backwards, in insertion order. */
	for (n = set->first; n != NULL && n->set_next != NULL; n = n->set_next)
		;
	for (; n != NULL; n = n->set_pprev == &set->first ? NULL :
	    caa_container_of(n->set_pprev, struct aip_node, set_next)) {
		memset(&c, 0, sizeof(c));
		c.family = n->family;
		c.prefix = n->plen;
		memcpy(c.addr, n->bits, 16);
		fn(&c, arg);
	}
	pthread_mutex_unlock(&t->lock);
}

size_t
allowedips_count(struct allowedips *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
