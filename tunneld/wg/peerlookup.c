/* SPDX-License-Identifier: ISC */
/*
 * The device's two RCU hash tables (urcu's lock-free cds_lfht): peers by
 * public key, and handshakes and keypairs by our receiver index.  Readers
 * take no lock; writers hold the locks wg_int.h names.  Neither key is
 * predictable from the network: the public key is hashed with SipHash-2-4
 * under a random per-device key, and our indices are random.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wg_int.h"

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
	/* Both tables grow (and shrink) with the number of entries. */
	d->by_pub = cds_lfht_new(8, 8, 0, CDS_LFHT_AUTO_RESIZE |
	    CDS_LFHT_ACCOUNTING, NULL);
	d->by_index = cds_lfht_new(8, 8, 0, CDS_LFHT_AUTO_RESIZE |
	    CDS_LFHT_ACCOUNTING, NULL);
	if (d->by_pub == NULL || d->by_index == NULL) {
		wg_lookup_tables_free(d);
		return -ENOMEM;
	}
	randombytes_buf(d->hash_key, sizeof(d->hash_key));
	return 0;
}

/* Every entry was removed and handed to call_rcu, and rcu_barrier ran. */
void
wg_lookup_tables_free(struct wg_device *d)
{
	if (d->by_pub != NULL)
		(void)cds_lfht_destroy(d->by_pub, NULL);
	if (d->by_index != NULL)
		(void)cds_lfht_destroy(d->by_index, NULL);
	d->by_pub = d->by_index = NULL;
	sodium_memzero(d->hash_key, sizeof(d->hash_key));
}

/*
 * Both tables grow now, to a bucket (16 bytes) a peer, rather than from
 * urcu's lazy resize worker, which can trail a burst of adds (a gateway's
 * wg-quick file) by seconds of long chains.  A resize waits for a grace
 * period: no lock of ours may be held (a reader could wait for it), and
 * the caller is outside any read-side section.
 */
void
wg_lookup_tables_grow(struct wg_device *d, size_t n)
{
	cds_lfht_resize(d->by_pub, n);
	cds_lfht_resize(d->by_index, n);
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

/* Our indices are random: a multiplicative mix spreads them over buckets. */
static unsigned long
index_hash(uint32_t idx)
{
	return (unsigned long)((uint64_t)idx * 0x9e3779b97f4a7c15ULL);
}

static int
index_match(struct cds_lfht_node *n, const void *key)
{
	struct idx_entry *e = caa_container_of(n, struct idx_entry, node);

	return e->index == *(const uint32_t *)key;
}

struct idx_entry *
wg_index_lookup(struct wg_device *d, uint32_t idx)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *n;

	cds_lfht_lookup(d->by_index, index_hash(idx), index_match, &idx, &it);
	n = cds_lfht_iter_get_node(&it);
	return n != NULL ? caa_container_of(n, struct idx_entry, node) : NULL;
}

struct wg_peer *
wg_index_lookup_handshake(struct wg_device *d, uint32_t idx)
{
	struct idx_entry *e = wg_index_lookup(d, idx);

	return e != NULL && !e->is_kp ? e->peer : NULL;
}

/*
 * The sender index is not part of the Noise transcript, so a handshake
 * message is built first and its index picked when committed.
 */
void
wg_index_insert(struct wg_device *d, struct idx_entry *e)
{
	cds_lfht_node_init(&e->node);
	for (;;) {
		e->index = randombytes_random();
		if (e->index != 0 && cds_lfht_add_unique(d->by_index,
		    index_hash(e->index), index_match, &e->index,
		    &e->node) == &e->node)
			return;
	}
}

void
wg_index_unlink(struct wg_device *d, struct idx_entry *e)
{
	rcu_read_lock();
	(void)cds_lfht_del(d->by_index, &e->node);
	rcu_read_unlock();
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
	struct cds_lfht_iter it;
	uint32_t idx = new->index;

	cds_lfht_node_init(&new->node);
	rcu_read_lock();
	cds_lfht_lookup(d->by_index, index_hash(idx), index_match, &idx, &it);
	if (old == NULL || cds_lfht_iter_get_node(&it) != &old->node ||
	    cds_lfht_replace(d->by_index, &it, index_hash(idx), index_match,
	    &idx, &new->node) != 0)
		(void)cds_lfht_add_unique(d->by_index, index_hash(idx),
		    index_match, &idx, &new->node);
	rcu_read_unlock();
	if (old != NULL && old->index == idx)
		call_rcu(&old->rcu, free_idx_entry_rcu);
}
