/* SPDX-License-Identifier: ISC */
/*
 * The device's two lookup tables: peers by public key (urcu's lock-free
 * cds_lfht; handshakes only) and handshakes and keypairs by our receiver
 * index (every received packet).  Readers take no lock; writers hold the
 * locks wg_int.h names.  Neither key is predictable from the network: the
 * public key is hashed with SipHash-2-4 under a random per-device key,
 * and our indices are random.
 *
 * The index table is open addressing with linear probing, each slot the
 * index and an RCU pointer to its entry: a lookup reads one slot (one
 * cache line, which a data plane can prefetch, wg_rx_prefetch) and then
 * the entry, where a chained table (cds_lfht) reads a bucket and then
 * walks nodes.  A slot also names the entry's peer and that peer's
 * wg_peer_cookie, as hints: with the slot in cache, a batch of received
 * messages prefetches keypair, peer and data-plane peer at once, not one
 * after the other (wg_index_peek_keypair).  As allowedips.c's host routes: the writer fills a slot
 * only with a complete entry, empties one by leaving a tombstone (never
 * moving entries, so a reader's probe sequence stays whole), and when
 * entries and tombstones reach half the slots builds a new table and
 * swaps it in (the old one is freed after a grace period).  A slot may be
 * reused for another index while a reader looks at it, so a reader
 * believes the entry's own index, not the slot's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wg_int.h"

struct idx_slot {
	uint32_t		 index;		/* hints (CMM_*_SHARED): e's */
	uint32_t		 is_kp;		/* index and is_kp, */
	struct wg_peer		*peer;		/* e's peer and its cookie */
	void			*cookie;	/* when e was placed */
	struct idx_entry	*e;		/* RCU: NULL, IDX_TOMB or one */
};

struct idx_table {
	size_t			 mask;		/* slots - 1 */
	size_t			 used;		/* entries + tombstones */
	size_t			 live;		/* entries */
	struct rcu_head		 rcu;
	struct idx_slot		 slot[];
};

static struct idx_entry idx_tomb_entry;
#define IDX_TOMB	(&idx_tomb_entry)
#define IDX_MIN_SLOTS	16

static struct idx_table *
idx_table_new(size_t slots)
{
	struct idx_table *t;

	if ((t = calloc(1, sizeof(*t) + slots * sizeof(t->slot[0]))) != NULL)
		t->mask = slots - 1;
	return t;
}

static void
idx_table_free_rcu(struct rcu_head *r)
{
	free(caa_container_of(r, struct idx_table, rcu));
}

void
wg_read_lock(void)
{
	rcu_read_lock();
}

void
wg_read_unlock(void)
{
	rcu_read_unlock();
}

int
wg_lookup_tables_new(struct wg_device *d)
{
	/* The key table grows (and shrinks) with the number of peers. */
	d->by_pub = cds_lfht_new(8, 8, 0, CDS_LFHT_AUTO_RESIZE |
	    CDS_LFHT_ACCOUNTING, NULL);
	d->by_index = idx_table_new(IDX_MIN_SLOTS);
	if (d->by_pub == NULL || d->by_index == NULL) {
		wg_lookup_tables_free(d);
		return -ENOMEM;
	}
	pthread_mutex_init(&d->index_lock, NULL);
	randombytes_buf(d->hash_key, sizeof(d->hash_key));
	return 0;
}

/* Every entry was removed and handed to call_rcu, and rcu_barrier ran. */
void
wg_lookup_tables_free(struct wg_device *d)
{
	if (d->by_pub != NULL)
		(void)cds_lfht_destroy(d->by_pub, NULL);
	if (d->by_index != NULL) {
		free(d->by_index);
		pthread_mutex_destroy(&d->index_lock);
	}
	d->by_pub = NULL;
	d->by_index = NULL;
	sodium_memzero(d->hash_key, sizeof(d->hash_key));
}

static void index_rebuild(struct wg_device *, size_t entries);

/*
 * Both tables grow now, for n peers, rather than from urcu's lazy resize
 * worker, which can trail a burst of adds (a gateway's wg-quick file) by
 * seconds of long chains.  A resize of the key table waits for a grace
 * period: no lock of ours may be held (a reader could wait for it), and
 * the caller is outside any read-side section.
 */
void
wg_lookup_tables_grow(struct wg_device *d, size_t n)
{
	cds_lfht_resize(d->by_pub, n);
	pthread_mutex_lock(&d->index_lock);
	if ((d->by_index->mask + 1) / 2 < n)
		index_rebuild(d, n);
	pthread_mutex_unlock(&d->index_lock);
}

/* --- peers by public key --- */

static unsigned long
pubkey_hash(const struct wg_device *d, const uint8_t pub[32])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, pub, 32, d->hash_key);
	memcpy(&v, h, sizeof(v));
	return (unsigned long)v;
}

static int
pubkey_match(struct cds_lfht_node *n, const void *key)
{
	struct wg_peer *p = caa_container_of(n, struct wg_peer, pub_node);

	return memcmp(p->pub, key, 32) == 0;
}

struct wg_peer *
wg_pubkey_lookup(struct wg_device *d, const uint8_t pub[32])
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(d->by_pub, pubkey_hash(d, pub), pubkey_match, pub,
	    &it);
	n = cds_lfht_iter_get_node(&it);
	return n != NULL ? caa_container_of(n, struct wg_peer, pub_node) :
	    NULL;
}

void
wg_pubkey_insert(struct wg_device *d, struct wg_peer *p)
{
	cds_lfht_node_init(&p->pub_node);
	(void)cds_lfht_add_unique(d->by_pub, pubkey_hash(d, p->pub),
	    pubkey_match, p->pub, &p->pub_node);
}

void
wg_pubkey_remove(struct wg_device *d, struct wg_peer *p)
{
	rcu_read_lock();
	(void)cds_lfht_del(d->by_pub, &p->pub_node);
	rcu_read_unlock();
}

/* --- handshakes and keypairs by index --- */

/* Our indices are random: a multiplicative mix spreads them over slots. */
static inline size_t
index_hash(uint32_t idx)
{
	return (size_t)(((uint64_t)idx * 0x9e3779b97f4a7c15ULL) >> 32);
}

struct idx_entry *
wg_index_lookup(struct wg_device *d, uint32_t idx)
{
	struct idx_table *t = rcu_dereference(d->by_index);
	struct idx_entry *e;
	size_t i;

	for (i = index_hash(idx) & t->mask;
	    (e = rcu_dereference(t->slot[i].e)) != NULL;
	    i = (i + 1) & t->mask)
		if (e != IDX_TOMB && CMM_LOAD_SHARED(t->slot[i].index) == idx &&
		    e->index == idx)
			return e;
	return NULL;
}

void
wg_index_prefetch(struct wg_device *d, uint32_t idx)
{
	struct idx_table *t = rcu_dereference(d->by_index);

	__builtin_prefetch(&t->slot[index_hash(idx) & t->mask]);
}

bool
wg_index_peek_keypair(struct wg_device *d, uint32_t idx,
    struct idx_hint *h)
{
	struct idx_table *t = rcu_dereference(d->by_index);
	struct idx_slot *s;
	struct idx_entry *e;
	size_t i;

	for (i = index_hash(idx) & t->mask;
	    (e = rcu_dereference((s = &t->slot[i])->e)) != NULL;
	    i = (i + 1) & t->mask)
		if (e != IDX_TOMB && CMM_LOAD_SHARED(s->index) == idx) {
			if (!CMM_LOAD_SHARED(s->is_kp))
				return false;
			h->e = e;
			h->peer = CMM_LOAD_SHARED(s->peer);
			h->cookie = CMM_LOAD_SHARED(s->cookie);
			return true;
		}
	return false;
}

struct wg_peer *
wg_index_lookup_handshake(struct wg_device *d, uint32_t idx)
{
	struct idx_entry *e = wg_index_lookup(d, idx);

	return e != NULL && !e->is_kp ? e->peer : NULL;
}

/* Writer: the slot holding e, or NULL. */
static struct idx_slot *
index_find(struct idx_table *t, const struct idx_entry *e)
{
	size_t i;

	for (i = index_hash(e->index) & t->mask; t->slot[i].e != NULL;
	    i = (i + 1) & t->mask)
		if (t->slot[i].e == e)
			return &t->slot[i];
	return NULL;
}

/* Writer: whether an entry has index idx. */
static bool
index_taken(struct idx_table *t, uint32_t idx)
{
	struct idx_entry *e;
	size_t i;

	for (i = index_hash(idx) & t->mask; (e = t->slot[i].e) != NULL;
	    i = (i + 1) & t->mask)
		if (e != IDX_TOMB && t->slot[i].index == idx)
			return true;
	return false;
}

/* The hints of an entry placed now (its peer is alive: no grace period). */
static void *
index_cookie(const struct idx_entry *e)
{
	return e->peer != NULL ? wg_peer_cookie(e->peer) : NULL;
}

/*
 * Writer: puts e (whose index is free) into the first free slot, with the
 * hints of its peer.
 */
static void
index_place(struct idx_table *t, struct idx_entry *e, void *cookie)
{
	size_t i;

	for (i = index_hash(e->index) & t->mask;
	    t->slot[i].e != NULL && t->slot[i].e != IDX_TOMB;
	    i = (i + 1) & t->mask)
		;
	if (t->slot[i].e == NULL)
		t->used++;
	t->live++;
	/* The hints first: a reader that sees e may compare the slot's. */
	CMM_STORE_SHARED(t->slot[i].index, e->index);
	CMM_STORE_SHARED(t->slot[i].is_kp, e->is_kp);
	CMM_STORE_SHARED(t->slot[i].peer, e->peer);
	CMM_STORE_SHARED(t->slot[i].cookie, cookie);
	rcu_assign_pointer(t->slot[i].e, e);
}

/*
 * Writer: a new table without tombstones, for at least `entries` entries
 * at most half full (a third full with the live ones), swapped in.  On
 * out of memory the old one stays (it still has room: see index_reserve).
 */
static void
index_rebuild(struct wg_device *d, size_t entries)
{
	struct idx_table *t = d->by_index, *nt;
	size_t slots = IDX_MIN_SLOTS, i;

	if (entries < t->live + 1)
		entries = t->live + 1;
	while (slots < entries * 3)
		slots *= 2;
	if ((nt = idx_table_new(slots)) == NULL)
		return;
	for (i = 0; i <= t->mask; i++)
		if (t->slot[i].e != NULL && t->slot[i].e != IDX_TOMB)
			index_place(nt, t->slot[i].e, t->slot[i].cookie);
	rcu_assign_pointer(d->by_index, nt);
	call_rcu(&t->rcu, idx_table_free_rcu);
}

/*
 * Writer: room for one more entry.  The table is rebuilt when entries and
 * tombstones would fill half of it; if that fails (out of memory) the
 * insert goes on while it leaves an empty slot (a probe must always end
 * at one), and is refused after.
 */
static bool
index_reserve(struct wg_device *d)
{
	struct idx_table *t = d->by_index;

	if ((t->used + 1) * 2 > t->mask + 1)
		index_rebuild(d, t->live + 1);
	t = d->by_index;
	return t->used + 2 <= t->mask + 1;
}

/*
 * The sender index is not part of the Noise transcript, so a handshake
 * message is built first and its index picked when committed.  Out of
 * memory with a full table (see index_reserve) leaves e out: the
 * handshake then fails as if its message were lost.
 */
void
wg_index_insert(struct wg_device *d, struct idx_entry *e)
{
	pthread_mutex_lock(&d->index_lock);
	do
		e->index = randombytes_random();
	while (e->index == 0 || index_taken(d->by_index, e->index));
	if (index_reserve(d))
		index_place(d->by_index, e, index_cookie(e));
	pthread_mutex_unlock(&d->index_lock);
}

void
wg_index_unlink(struct wg_device *d, struct idx_entry *e)
{
	struct idx_table *t;
	struct idx_slot *s;

	pthread_mutex_lock(&d->index_lock);
	t = d->by_index;
	if ((s = index_find(t, e)) != NULL) {
		rcu_assign_pointer(s->e, IDX_TOMB);
		t->live--;
	}
	pthread_mutex_unlock(&d->index_lock);
}

static void
free_idx_entry_rcu(struct rcu_head *h)
{
	free(caa_container_of(h, struct idx_entry, rcu));
}

void
wg_index_drop(struct wg_device *d, struct idx_entry *e)
{
	if (e == NULL)
		return;
	wg_index_unlink(d, e);
	call_rcu(&e->rcu, free_idx_entry_rcu);
}

/*
 * A keypair takes over its handshake's index (Linux: replace), so a
 * reader never sees the index unbound; old is freed after a grace period.
 */
void
wg_index_replace(struct wg_device *d, struct idx_entry *old,
    struct idx_entry *new)
{
	struct idx_slot *s = NULL;

	pthread_mutex_lock(&d->index_lock);
	if (old != NULL && old->index == new->index)
		s = index_find(d->by_index, old);
	if (s != NULL) {
		/* Same index; a reader peeking in between fetches old. */
		CMM_STORE_SHARED(s->is_kp, new->is_kp);
		CMM_STORE_SHARED(s->peer, new->peer);
		CMM_STORE_SHARED(s->cookie, index_cookie(new));
		rcu_assign_pointer(s->e, new);
	}
	else if (!index_taken(d->by_index, new->index) && index_reserve(d))
		index_place(d->by_index, new, index_cookie(new));
	pthread_mutex_unlock(&d->index_lock);
	if (old != NULL && old->index == new->index)
		call_rcu(&old->rcu, free_idx_entry_rcu);
}
