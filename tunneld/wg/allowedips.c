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
 *
 * Host routes (/32, /128) are not in the trie but in a hash table beside
 * it: an exact match of the whole address is always the longest prefix,
 * so a lookup that finds one is done in a slot and a node (on a gateway,
 * where every peer is a client with a /32 and a /128, that is every
 * lookup), and only one that finds none walks the trie, which then holds
 * the shorter prefixes alone.  The table is open addressing with linear
 * probing, a slot an RCU pointer to a node: the writer fills a slot only
 * with a complete node, empties one by leaving a tombstone (never moving
 * entries, so a reader's probe sequence stays whole), and when live
 * entries and tombstones reach half the slots builds a new table and
 * swaps it in (the old one is freed after a grace period).
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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
	struct allowedips_set	*set;		/* writer only */
	struct rcu_head		 rcu;
};

/* Host routes: a power of two of slots, each NULL, HOST_TOMB or a node. */
struct host_table {
	size_t			 mask;		/* slots - 1 */
	size_t			 used;		/* nodes + tombstones */
	size_t			 live;		/* nodes */
	struct rcu_head		 rcu;
	struct aip_node		*slot[];	/* RCU */
};

static struct aip_node host_tomb_node;
#define HOST_TOMB	(&host_tomb_node)
#define HOST_MIN_SLOTS	16

struct allowedips {
	pthread_mutex_t		 lock;		/* writers */
	struct aip_node		*root4, *root6;	/* RCU */
	struct host_table	*hosts;		/* RCU; NULL: none yet */
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

static bool
is_host(int family, unsigned plen)
{
	return plen == (family == AF_INET ? 32u : 128u);
}

/*
 * The contents are configuration (and each probe ends at an empty slot
 * with at most half the slots used), so a fast mix suffices: the
 * 64-bit finaliser of MurmurHash3 over the address's words.
 */
static inline uint64_t
fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static inline uint64_t
host_hash(int family, const uint8_t *a)
{
	uint64_t w[2];
	uint32_t v4;

	if (family == AF_INET) {
		memcpy(&v4, a, 4);
		return fmix64(v4);
	}
	memcpy(w, a, 16);
	return fmix64(w[0] ^ fmix64(w[1] ^ 0x6a09e667f3bcc909ULL));
}

static inline bool
host_equal(const struct aip_node *n, int family, const uint8_t *a)
{
	return n->family == family &&
	    memcmp(n->bits, a, family == AF_INET ? 4 : 16) == 0;
}

static struct host_table *
host_table_new(size_t slots)
{
	struct host_table *h;

	h = calloc(1, sizeof(*h) + slots * sizeof(h->slot[0]));

	if (h != NULL)
		h->mask = slots - 1;
	return h;
}

static void
host_table_free_rcu(struct rcu_head *r)
{
	free(caa_container_of(r, struct host_table, rcu));
}

/* Writer: the node for an address, or NULL. */
static struct aip_node *
host_find(struct host_table *h, int family, const uint8_t *a)
{
	size_t i;
	struct aip_node *n;

	if (h == NULL)
		return NULL;
	for (i = host_hash(family, a) & h->mask; (n = h->slot[i]) != NULL;
	    i = (i + 1) & h->mask)
		if (n != HOST_TOMB && host_equal(n, family, a))
			return n;
	return NULL;
}

/* Writer: puts n (not in h) into the first free slot of its sequence. */
static void
host_place(struct host_table *h, struct aip_node *n)
{
	size_t i;

	for (i = host_hash(n->family, n->bits) & h->mask;
	    h->slot[i] != NULL && h->slot[i] != HOST_TOMB;
	    i = (i + 1) & h->mask)
		;
	if (h->slot[i] == NULL)
		h->used++;
	h->live++;
	rcu_assign_pointer(h->slot[i], n);
}

/*
 * Writer: makes room for one more node.  When nodes and tombstones would
 * fill over half the slots, a new table sized for the live nodes (at
 * most a quarter full: it grows, or shrinks after many removals) with no
 * tombstones replaces the old one.
 */
static int
host_reserve(struct allowedips *t)
{
	struct host_table *h = t->hosts, *nh;
	size_t slots = HOST_MIN_SLOTS, i, live = h != NULL ? h->live : 0;

	if (h != NULL && (h->used + 1) * 2 <= h->mask + 1)
		return 0;
	while (slots < (live + 1) * 4)
		slots *= 2;
	if ((nh = host_table_new(slots)) == NULL)
		return -ENOMEM;
	if (h != NULL)
		for (i = 0; i <= h->mask; i++)
			if (h->slot[i] != NULL && h->slot[i] != HOST_TOMB)
				host_place(nh, h->slot[i]);
	rcu_assign_pointer(t->hosts, nh);
	if (h != NULL)
		call_rcu(&h->rcu, host_table_free_rcu);
	return 0;
}

/* Writer: empties n's slot (a tombstone; readers may be probing past). */
static void
host_remove(struct allowedips *t, struct aip_node *n)
{
	struct host_table *h = t->hosts;
	size_t i;

	for (i = host_hash(n->family, n->bits) & h->mask; h->slot[i] != n;
	    i = (i + 1) & h->mask)
		;
	rcu_assign_pointer(h->slot[i], HOST_TOMB);
	h->live--;
	if (h->live == 0) {
		/* Nothing left to find: every slot may be empty again. */
		rcu_assign_pointer(t->hosts, NULL);
		call_rcu(&h->rcu, host_table_free_rcu);
	}
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
	if (t->hosts != NULL) {
		size_t i;

		for (i = 0; i <= t->hosts->mask; i++)
			if (t->hosts->slot[i] != NULL &&
			    t->hosts->slot[i] != HOST_TOMB)
				free(t->hosts->slot[i]);
		free(t->hosts);
	}
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

/*
 * The set's forward links are RCU (readers may walk them); set_pprev and
 * set are the writer's.
 */
/*
 * The set's copy of the host routes among its first two prefixes, after
 * each change to its list (under the trie's lock): a seqcount, odd while
 * the copy changes.
 */
static void
set_hosts_update(struct allowedips_set *s, void *value)
{
	struct aip_node *n = s->first;
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
	uint8_t fam[2] = { 0, 0 }, h[2][16];

	memset(h, 0, sizeof(h));
	for (int i = 0; i < 2 && n != NULL; i++, n = n->set_next)
		if (is_host(n->family, n->plen)) {
			fam[i] = n->family;
			memcpy(h[i], n->bits, 16);
		}
	atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	CMM_STORE_SHARED(s->value, value);
	for (int i = 0; i < 2; i++) {
		CMM_STORE_SHARED(s->family[i], fam[i]);
		for (int j = 0; j < 16; j++)
			CMM_STORE_SHARED(s->host[i][j], h[i][j]);
	}
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

static void
set_link(struct allowedips_set *s, struct aip_node *n, void *value)
{
	n->set_next = s->first;
	if (s->first != NULL)
		s->first->set_pprev = &n->set_next;
	rcu_assign_pointer(s->first, n);
	n->set_pprev = &s->first;
	n->set = s;
	set_hosts_update(s, value);
}

static void
set_unlink(struct aip_node *n)
{
	struct allowedips_set *s = n->set;

	CMM_STORE_SHARED(*n->set_pprev, n->set_next);
	if (n->set_next != NULL)
		n->set_next->set_pprev = n->set_pprev;
	CMM_STORE_SHARED(n->set_next, NULL);
	n->set_pprev = NULL;
	n->set = NULL;
	set_hosts_update(s, s->first != NULL ? s->first->value : NULL);
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
	set_link(set, n, value);
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
	if (is_host(c->family, c->prefix)) {
		if ((n = host_find(t->hosts, c->family, c->addr)) != NULL)
			node_set_value(t, n, value, set);
		else if ((rc = host_reserve(t)) == 0) {
			if ((n = node_new(c->addr, c->prefix, c->family)) ==
			    NULL)
				rc = -ENOMEM;
			else {
				node_set_value(t, n, value, set);
				host_place(t->hosts, n);
			}
		}
		pthread_mutex_unlock(&t->lock);
		return rc;
	}
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
		if (is_host(n->family, n->plen)) {
			host_remove(t, n);
			call_rcu(&n->rcu, node_free_rcu);
		} else
			prune(t, n);
	}
	pthread_mutex_unlock(&t->lock);
}

void *
allowedips_lookup(struct allowedips *t, int family, const void *addr)
{
	const uint8_t *a = addr;
	unsigned max = family == AF_INET ? 32 : 128;
	struct host_table *h;
	struct aip_node *n;
	void *best = NULL, *v;

	if (family != AF_INET && family != AF_INET6)
		return NULL;
	rcu_read_lock();
	if ((h = rcu_dereference(t->hosts)) != NULL) {
		size_t i = host_hash(family, a) & h->mask;

		while ((n = rcu_dereference(h->slot[i])) != NULL) {
			if (n != HOST_TOMB && host_equal(n, family, a)) {
				/* NULL: being removed; the trie decides. */
				if ((best = rcu_dereference(n->value)) != NULL)
					goto out;
				break;
			}
			i = (i + 1) & h->mask;
		}
	}
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
out:
	rcu_read_unlock();
	return best;
}

/* The first node of addr's probe sequence (nearly always its own). */
static struct aip_node *
host_first(struct host_table *h, size_t i)
{
	struct aip_node *n;

	while ((n = rcu_dereference(h->slot[i])) == HOST_TOMB)
		i = (i + 1) & h->mask;
	return n;
}

void
allowedips_prefetch(struct allowedips *t, const int family[],
    const uint8_t *const addr[], int n, void *value[])
{
	struct host_table *h = rcu_dereference(t->hosts);
	size_t slot[16];
	struct aip_node *node;
	int i, m, c;

	for (i = 0; i < n; i++)
		value[i] = NULL;
	if (h == NULL)
		return;
	for (c = 0; c < n; c += m) {
		m = n - c < 16 ? n - c : 16;
		for (i = 0; i < m; i++) {
			if (family[c + i] != AF_INET &&
			    family[c + i] != AF_INET6)
				continue;
			slot[i] = host_hash(family[c + i], addr[c + i]) &
			    h->mask;
			__builtin_prefetch(&h->slot[slot[i]]);
		}
		for (i = 0; i < m; i++)
			if ((family[c + i] == AF_INET ||
			    family[c + i] == AF_INET6) &&
			    (node = host_first(h, slot[i])) != NULL)
				__builtin_prefetch(node);
		for (i = 0; i < m; i++) {
			const char *v;

			if ((family[c + i] != AF_INET &&
			    family[c + i] != AF_INET6) ||
			    (node = host_first(h, slot[i])) == NULL ||
			    !host_equal(node, family[c + i], addr[c + i]) ||
			    (v = rcu_dereference(node->value)) == NULL)
				continue;
			__builtin_prefetch(v);
			__builtin_prefetch(v + 64);
			value[c + i] = (void *)v;
		}
	}
}

bool
allowedips_set_has_host(const struct allowedips_set *set, int family,
    const void *addr, const void *value)
{
	struct allowedips_set *s = (struct allowedips_set *)set;
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	size_t alen = family == AF_INET ? 4 : 16;
	bool hit = false;

	if (seq & 1 || (family != AF_INET && family != AF_INET6) ||
	    CMM_LOAD_SHARED(s->value) != value)
		return false;
	for (int i = 0; i < 2 && !hit; i++)
		hit = CMM_LOAD_SHARED(s->family[i]) == family &&
		    memcmp(s->host[i], addr, alen) == 0;
	atomic_thread_fence(memory_order_acquire);
	return hit && atomic_load_explicit(&s->seq, memory_order_relaxed) ==
	    seq;
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
