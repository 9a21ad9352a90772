/* SPDX-License-Identifier: ISC */
/*
 * The receiver-index table of tunneld/wg/peerlookup.c (open addressing,
 * tombstones, rebuilt when half full): a random sequence of inserts,
 * drops and replaces checked against a plain array after every step,
 * the replace rules a keypair's install relies on, and prefetching of
 * messages the table does not know (wg_rx_prefetch) and of peers with
 * and without sessions (wg_tx_prefetch).
 */
#include <errno.h>
#include <string.h>

#include "aead.h"
#include "wg_int.h"
#include "messages.h"
#include "check_util.h"

#define NREF	512

static struct wg_device *
device(void)
{
	uint8_t priv[WG_KEY_LEN];
	struct wg_device *d;

	wg_key_generate(priv);
	ck_assert_int_eq(wg_device_new(priv, &d), 0);
	return d;
}

static struct idx_entry *
entry(bool is_kp)
{
	struct idx_entry *e = calloc(1, sizeof(*e));

	ck_assert_ptr_nonnull(e);
	e->is_kp = is_kp;
	return e;
}

static struct idx_entry *
lookup(struct wg_device *d, uint32_t idx)
{
	struct idx_entry *e;

	wg_read_lock();
	e = wg_index_lookup(d, idx);
	wg_read_unlock();
	return e;
}

/* Every entry of ref is found by its index, and nothing by a stale one. */
static void
check_ref(struct wg_device *d, struct idx_entry **ref, uint32_t *gone,
    size_t ngone)
{
	for (size_t i = 0; i < NREF; i++)
		if (ref[i] != NULL)
			ck_assert_ptr_eq(lookup(d, ref[i]->index), ref[i]);
	for (size_t i = 0; i < ngone; i++) {
		struct idx_entry *e = lookup(d, gone[i]);

		/* A new entry may have drawn the index again. */
		if (e != NULL) {
			bool live = false;

			for (size_t j = 0; j < NREF; j++)
				live |= ref[j] == e;
			ck_assert_msg(live, "index %u: a dropped entry",
			    gone[i]);
		}
	}
}

START_TEST(test_index_random)
{
	struct wg_device *d = device();
	static struct idx_entry *ref[NREF];
	static uint32_t gone[20000];
	size_t ngone = 0, step;

	memset(ref, 0, sizeof(ref));
	for (step = 0; step < 20000; step++) {
		size_t i = randombytes_uniform(NREF);

		if (ref[i] == NULL) {
			ref[i] = entry(false);
			wg_index_insert(d, ref[i]);
			ck_assert_uint_ne(ref[i]->index, 0);
		} else if (randombytes_uniform(2) == 0) {
			gone[ngone++] = ref[i]->index;
			wg_index_drop(d, ref[i]);
			ref[i] = NULL;
		} else {
			/* A keypair takes the handshake's index over. */
			struct idx_entry *k = entry(true);

			k->index = ref[i]->index;
			wg_index_replace(d, ref[i], k);
			ref[i] = k;
		}
		if (step % 97 == 0 || step > 19900)
			check_ref(d, ref, gone, ngone);
	}
	check_ref(d, ref, gone, ngone);
	for (size_t i = 0; i < NREF; i++)
		wg_index_drop(d, ref[i]);
	wg_device_free(d);
}
END_TEST

START_TEST(test_index_replace)
{
	struct wg_device *d = device();
	struct idx_entry *hs = entry(false), *k = entry(true),
	    *other = entry(false), *k2 = entry(true), *k3 = entry(true);

	wg_index_insert(d, hs);
	k->index = hs->index;
	wg_index_replace(d, hs, k);	/* frees hs after a grace period */
	ck_assert_ptr_eq(lookup(d, k->index), k);

	/* No old entry: added under its own index. */
	do
		k2->index = randombytes_random();
	while (k2->index == 0 || k2->index == k->index);
	wg_index_replace(d, NULL, k2);
	ck_assert_ptr_eq(lookup(d, k2->index), k2);

	/* The index taken by another entry: left out. */
	wg_index_insert(d, other);
	k3->index = other->index;
	wg_index_replace(d, NULL, k3);
	ck_assert_ptr_eq(lookup(d, other->index), other);

	/* Unlinking what is not there is a no-op. */
	wg_index_unlink(d, k3);
	ck_assert_ptr_eq(lookup(d, other->index), other);
	free(k3);

	wg_index_drop(d, k);
	wg_index_drop(d, k2);
	wg_index_drop(d, other);
	ck_assert_ptr_null(lookup(d, other->index));
	wg_device_free(d);
}
END_TEST

/*
 * The slots' hints for prefetching: a keypair's entry, its peer and the
 * peer's cookie, through a replace and a rebuild; nothing for a
 * handshake's entry or an index that is gone.
 */
START_TEST(test_index_peek_hints)
{
	struct wg_device *d = device();
	struct idx_entry *hs = entry(false), *k = entry(true), *more[64];
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	struct idx_hint h;
	struct wg_peer *p;
	static int cookie;
	uint32_t idx;
	bool ok;

	wg_key_generate(priv);
	wg_key_public(priv, pub);
	ck_assert_int_eq(wg_peer_add(d, pub, &p), 0);
	wg_peer_set_cookie(p, &cookie, NULL);
	hs->peer = k->peer = p;
	wg_read_lock();
	wg_index_insert(d, hs);
	wg_read_unlock();
	idx = hs->index;
	wg_read_lock();
	ok = wg_index_peek_keypair(d, idx, &h);
	wg_read_unlock();
	ck_assert(!ok);

	k->index = idx;
	wg_index_replace(d, hs, k);
	for (int pass = 0; pass < 2; pass++) {
		memset(&h, 0, sizeof(h));
		wg_read_lock();
		ok = wg_index_peek_keypair(d, idx, &h);
		wg_read_unlock();
		ck_assert(ok);
		ck_assert_ptr_eq(h.e, k);
		ck_assert_ptr_eq(h.peer, p);
		ck_assert_ptr_eq(h.cookie, &cookie);
		/* Rebuilt tables (16 slots at first): hints copied. */
		for (int i = 0; i < 64 && pass == 0; i++) {
			more[i] = entry(false);
			wg_read_lock();
			wg_index_insert(d, more[i]);
			wg_read_unlock();
		}
	}
	for (int i = 0; i < 64; i++)
		wg_index_drop(d, more[i]);
	wg_index_drop(d, k);
	wg_read_lock();
	ok = wg_index_peek_keypair(d, idx, &h);
	wg_read_unlock();
	ck_assert(!ok);
	wg_device_free(d);
}
END_TEST

/* Growing for many peers, then as many entries: all found, then none. */
START_TEST(test_index_grow)
{
	struct wg_device *d = device();
	struct idx_entry **e = calloc(10000, sizeof(*e));

	ck_assert_ptr_nonnull(e);
	wg_lookup_tables_grow(d, 4096);
	for (size_t i = 0; i < 10000; i++) {
		e[i] = entry(true);
		wg_index_insert(d, e[i]);
		if (i == 5000)
			wg_lookup_tables_grow(d, 8192);
	}
	for (size_t i = 0; i < 10000; i++)
		ck_assert_ptr_eq(lookup(d, e[i]->index), e[i]);
	for (size_t i = 0; i < 10000; i++) {
		uint32_t idx = e[i]->index;

		wg_index_drop(d, e[i]);
		ck_assert_ptr_null(lookup(d, idx));
	}
	free(e);
	wg_device_free(d);
}
END_TEST

/* Any bytes, any length: prefetching reads only a data header's fields. */
START_TEST(test_rx_prefetch_any)
{
	struct wg_device *d = device();
	struct idx_entry *hs = entry(false);
	uint8_t buf[20][WG_DATA_MIN_LEN], *msg[20];
	struct wg_peer *peer[20];
	size_t len[20];

	wg_index_insert(d, hs);
	wg_read_lock();
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 20; i++) {
			msg[i] = buf[i];
			len[i] = randombytes_uniform(sizeof(buf[i]) + 1);
			randombytes_buf(buf[i], sizeof(buf[i]));
			if (i % 2 == 0)
				buf[i][0] = WG_MSG_DATA;
			if (i % 4 == 0)	/* a handshake's index: no keypair */
				memcpy(buf[i] + 4, &hs->index, 4);
		}
		wg_rx_prefetch(d, msg, len, round % 21, peer);
		for (int i = 0; i < round % 21; i++)
			ck_assert_ptr_null(peer[i]);	/* no keypair */
	}
	wg_read_unlock();
	wg_index_drop(d, hs);
	wg_device_free(d);
}
END_TEST

/*
 * Batches of peers with a session (OpenSSL keys: their contexts are
 * prefetched whole), without one and NULL, longer than a chunk: nothing
 * is changed, and sending still finds each session.
 */
START_TEST(test_tx_prefetch_any)
{
	struct wg_device *d = device();
	struct wg_peer *p[8], *batch[40];
	struct wg_keypair *k[8];

	(void)aead_select(AEAD_OPENSSL);
	for (int i = 0; i < 8; i++) {
		uint8_t pub[WG_KEY_LEN], key[32];

		wg_key_generate(key);
		wg_key_public(key, pub);
		ck_assert_int_eq(wg_peer_add(d, pub, &p[i]), 0);
		k[i] = NULL;
		if (i % 2 != 0)
			continue;		/* no session */
		ck_assert_ptr_nonnull(k[i] = wg_keypair_new(p[i], true, key,
		    key));
		k[i]->local_index = 0x1000u + (uint32_t)i;
		pthread_mutex_lock(&p[i]->lock);
		wg_keypair_install(p[i], k[i]);
		pthread_mutex_unlock(&p[i]->lock);
	}
	wg_read_lock();
	for (int round = 0; round < 200; round++) {
		int n = (int)randombytes_uniform(41);

		for (int i = 0; i < n; i++)
			batch[i] = i % 5 == 4 ? NULL :
			    p[randombytes_uniform(8)];
		wg_tx_prefetch(batch, n);
	}
	wg_read_unlock();
	for (int i = 0; i < 8; i++) {
		struct wg_keypair *s = wg_peer_send_keypair(p[i]);

		ck_assert_ptr_eq(s, k[i]);
		if (s != NULL) {
			ck_assert_int_eq(atomic_load(&s->refs), 2);
			ck_assert_uint_eq(atomic_load(&s->send_counter), 0);
		}
		wg_keypair_put(s);
	}
	(void)aead_select(AEAD_SODIUM);
	wg_device_free(d);
}
END_TEST

static Suite *
index_suite(void)
{
	Suite *s = suite_create("wg_index");
	TCase *tc = tcase_create("table");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_index_random);
	tcase_add_test(tc, test_index_replace);
	tcase_add_test(tc, test_index_peek_hints);
	tcase_add_test(tc, test_index_grow);
	tcase_add_test(tc, test_rx_prefetch_any);
	tcase_add_test(tc, test_tx_prefetch_any);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(index_suite)
