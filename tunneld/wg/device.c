/* SPDX-License-Identifier: ISC */
/*
 * WireGuard devices and their peers: creation, the static key pair,
 * adding, finding, walking and removing peers, and a peer's settings and
 * statistics.  See wg.h for the threading model and wg_int.h for the locks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fztime.h"
#include "wg_int.h"

int
wg_device_new(const uint8_t priv[WG_KEY_LEN], struct wg_device **out)
{
	pthread_rwlockattr_t a;
	struct wg_device *d;
	const char *scale;
	int rc = -ENOMEM;

	if (sodium_init() < 0)
		return -ENOSYS;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	if ((d->priv = sodium_malloc(32)) == NULL)
		goto fail;
	if ((rc = wg_lookup_tables_new(d)) != 0)
		goto fail;
	if ((rc = ratelimiter_new(0, &d->rl)) != 0)
		goto fail;
	/* Started now, not later under a sandbox: call_rcu's thread. */
	(void)get_default_call_rcu_data();
	CDS_INIT_LIST_HEAD(&d->peers);
	memcpy(d->priv, priv, 32);
	/* A key change must not wait behind a stream of handshakes. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&d->identity_lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&d->lock, NULL);
	wg_cookie_checker_init(&d->cookies);
	wg_noise_device_derive(d);
	if ((scale = getenv("FZ_WG_TIMER_SCALE")) != NULL && atoi(scale) > 0)
		wg_set_timer_scale((unsigned)atoi(scale));
	*out = d;
	return 0;
fail:
	wg_lookup_tables_free(d);
	if (d->priv != NULL)
		sodium_free(d->priv);
	free(d);
	return rc;
}

/* Takes p out of every table and frees it after a grace period; d->lock. */
static void peer_unlink(struct wg_device *, struct wg_peer *);

void
wg_device_free(struct wg_device *d)
{
	struct wg_peer *p, *n;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	cds_list_for_each_entry_safe(p, n, &d->peers, link)
		peer_unlink(d, p);
	pthread_mutex_unlock(&d->lock);
	/* Every peer, keypair and index entry was handed to call_rcu. */
	rcu_barrier();
	wg_lookup_tables_free(d);
	sodium_free(d->priv);
	wg_cookie_checker_free(&d->cookies);
	ratelimiter_free(d->rl);
	pthread_mutex_destroy(&d->lock);
	pthread_rwlock_destroy(&d->identity_lock);
	free(d);
}

void
wg_device_public_key(const struct wg_device *cd, uint8_t out[WG_KEY_LEN])
{
	struct wg_device *d = (struct wg_device *)cd;

	pthread_rwlock_rdlock(&d->identity_lock);
	memcpy(out, d->pub, 32);
	pthread_rwlock_unlock(&d->identity_lock);
}

void
wg_device_private_key(struct wg_device *d, uint8_t out[WG_KEY_LEN])
{
	pthread_rwlock_rdlock(&d->identity_lock);
	memcpy(out, d->priv, 32);
	pthread_rwlock_unlock(&d->identity_lock);
}

/* Every session and handshake in flight was made with the old key. */
int
wg_device_set_private_key(struct wg_device *d, const uint8_t priv[WG_KEY_LEN])
{
	struct wg_peer *p;

	pthread_rwlock_wrlock(&d->identity_lock);
	pthread_mutex_lock(&d->lock);
	memcpy(d->priv, priv, 32);
	wg_noise_device_derive(d);
	rcu_read_lock();
	cds_list_for_each_entry(p, &d->peers, link) {
		pthread_mutex_lock(&p->lock);
		wg_noise_peer_precompute(p);
		wg_peer_clear_sessions(p);
		p->hs = HS_NONE;
		pthread_mutex_unlock(&p->lock);
	}
	rcu_read_unlock();
	pthread_mutex_unlock(&d->lock);
	pthread_rwlock_unlock(&d->identity_lock);
	return 0;
}

size_t
wg_device_peer_count(struct wg_device *d)
{
	size_t n;

	pthread_mutex_lock(&d->lock);
	n = d->npeers;
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* --- peers --- */

static void
peer_free_rcu(struct rcu_head *h)
{
	struct wg_peer *p = caa_container_of(h, struct wg_peer, rcu);

	if (p->slot_dtor != NULL && p->dp_slot != NULL)
		p->slot_dtor(p->dp_slot);
	pthread_mutex_destroy(&p->lock);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

int
wg_peer_add(struct wg_device *d, const uint8_t pub[WG_KEY_LEN],
    struct wg_peer **out)
{
	struct wg_peer *p;
	char b64[45];
	size_t grow = 0;
	int rc = 0;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->dev = d;
	pthread_mutex_init(&p->lock, NULL);
	memcpy(p->pub, pub, 32);
	wg_cookie_derive_keys(pub, p->mac1_key, p->cookie_key);
	wg_key_to_base64(pub, b64);
	memcpy(p->name, b64, 8);	/* as wg-quick logs it: "AbCdEfGh" */
	p->name[8] = '\0';

	pthread_rwlock_rdlock(&d->identity_lock);
	if (sodium_memcmp(pub, d->pub, 32) == 0) {
		rc = -EINVAL;		/* a peer cannot be ourselves */
		goto out;
	}
	wg_noise_peer_precompute(p);
	pthread_mutex_lock(&d->lock);
	rcu_read_lock();
	if (wg_pubkey_lookup(d, pub) != NULL)
		rc = -EEXIST;		/* writers hold d->lock: no race */
	else {
		/*
		 * Published whole, in the list first: a reader that finds it
		 * by key may walk on from it (wg_peer_next).
		 */
		cds_list_add_tail_rcu(&p->link, &d->peers);
		wg_pubkey_insert(d, p);
		d->npeers++;
	}
	if (rc == 0 && d->npeers >= 64 && (d->npeers & (d->npeers - 1)) == 0)
		grow = d->npeers;
	rcu_read_unlock();
	pthread_mutex_unlock(&d->lock);
out:
	pthread_rwlock_unlock(&d->identity_lock);
	if (grow > 0)
		wg_lookup_tables_grow(d, grow);	/* no lock held */
	if (rc != 0) {
		pthread_mutex_destroy(&p->lock);
		sodium_memzero(p, sizeof(*p));
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

struct wg_peer *
wg_peer_find(struct wg_device *d, const uint8_t pub[WG_KEY_LEN])
{
	struct wg_peer *p;

	rcu_read_lock();
	p = wg_pubkey_lookup(d, pub);
	rcu_read_unlock();
	return p;
}

struct wg_peer *
wg_peer_next(struct wg_device *d, struct wg_peer *prev)
{
	struct cds_list_head *pos;
	struct wg_peer *p;

	rcu_read_lock();
	if (prev == NULL)
		pos = rcu_dereference(d->peers.next);
	else
		pos = rcu_dereference(prev->link.next);
	for (;;) {
		if (pos == &d->peers) {
			p = NULL;
			break;
		}
		p = caa_container_of(pos, struct wg_peer, link);
		if (!atomic_load(&p->dead))
			break;
		pos = rcu_dereference(pos->next);
	}
	rcu_read_unlock();
	return p;
}

static void
peer_unlink(struct wg_device *d, struct wg_peer *p)
{
	wg_pubkey_remove(d, p);
	cds_list_del_rcu(&p->link);
	d->npeers--;
	pthread_mutex_lock(&p->lock);
	p->dead = true;
	wg_peer_clear_sessions(p);
	wg_index_drop(d, p->hs_ie);
	p->hs_ie = NULL;
	p->hs = HS_NONE;
	sodium_memzero(p->hs_eph_priv, sizeof(p->hs_eph_priv));
	sodium_memzero(p->psk, sizeof(p->psk));
	pthread_mutex_unlock(&p->lock);
	call_rcu(&p->rcu, peer_free_rcu);
}

void
wg_peer_remove(struct wg_device *d, struct wg_peer *p)
{
	pthread_mutex_lock(&d->lock);
	peer_unlink(d, p);
	pthread_mutex_unlock(&d->lock);
}

/* --- a peer's settings and statistics --- */

void
wg_peer_set_psk(struct wg_peer *p, const uint8_t psk[WG_KEY_LEN])
{
	pthread_mutex_lock(&p->lock);
	if (psk != NULL)
		memcpy(p->psk, psk, 32);
	else
		memset(p->psk, 0, 32);
	pthread_mutex_unlock(&p->lock);
}

void
wg_peer_set_keepalive(struct wg_peer *p, unsigned secs)
{
	pthread_mutex_lock(&p->lock);
	p->keepalive = secs;
	pthread_mutex_unlock(&p->lock);
}

/* An IPv4 or IPv6 endpoint (anything else is ignored); p->lock held. */
static void
endpoint_set(struct wg_peer *p, const union fz_sockaddr *sa)
{
	size_t n = sa->sa.sa_family == AF_INET ? sizeof(sa->in4) :
	    sa->sa.sa_family == AF_INET6 ? sizeof(sa->in6) : 0;

	if (n == 0)
		return;
	memset(&p->endpoint, 0, sizeof(p->endpoint));
	memcpy(&p->endpoint, sa, n);
	p->has_endpoint = true;
}

void
wg_peer_endpoint_update(struct wg_peer *p, const struct wg_path *path)
{
	if (path->relayed || p->channel != 0)
		return;		/* the relay is not the peer's address, and a
				   relayed path is fz-controld's choice */
	if (!p->has_endpoint || !addr_eq(&p->endpoint.sa, &path->src->sa))
		endpoint_set(p, path->src);
}

void
wg_peer_set_endpoint(struct wg_peer *p, const union fz_sockaddr *sa)
{
	pthread_mutex_lock(&p->lock);
	endpoint_set(p, sa);
	p->channel = 0;
	pthread_mutex_unlock(&p->lock);
}

void
wg_peer_set_path(struct wg_peer *p, const union fz_sockaddr *sa,
    uint16_t channel)
{
	pthread_mutex_lock(&p->lock);
	endpoint_set(p, sa);
	p->channel = channel;
	pthread_mutex_unlock(&p->lock);
}

bool
wg_peer_path(struct wg_peer *p, union fz_sockaddr *out, uint16_t *channel)
{
	bool ok;

	pthread_mutex_lock(&p->lock);
	ok = p->has_endpoint;
	if (ok) {
		memset(out, 0, sizeof(*out));
		memcpy(out, &p->endpoint, sizeof(p->endpoint));
	}
	*channel = p->channel;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

bool
wg_peer_endpoint(struct wg_peer *p, union fz_sockaddr *out)
{
	bool ok;

	pthread_mutex_lock(&p->lock);
	ok = p->has_endpoint;
	if (ok) {
		memset(out, 0, sizeof(*out));
		memcpy(out, &p->endpoint, sizeof(p->endpoint));
	}
	pthread_mutex_unlock(&p->lock);
	return ok;
}

void
wg_peer_public_key(const struct wg_peer *p, uint8_t out[WG_KEY_LEN])
{
	memcpy(out, p->pub, 32);
}

const char *
wg_peer_name(const struct wg_peer *p)
{
	return p->name;
}

void *
wg_peer_cookie(const struct wg_peer *p)
{
	return __atomic_load_n(&p->dp_slot, __ATOMIC_ACQUIRE);
}

void
wg_peer_set_cookie(struct wg_peer *p, void *c, void (*dtor)(void *))
{
	p->slot_dtor = dtor;
	__atomic_store_n(&p->dp_slot, c, __ATOMIC_RELEASE);
}

void
wg_peer_stats(struct wg_peer *p, struct wg_peer_stats *st)
{
	st->rx_bytes = atomic_load(&p->rx_bytes);
	st->tx_bytes = atomic_load(&p->tx_bytes);
	st->last_handshake_real_ns = atomic_load(&p->last_hs_real);
	pthread_mutex_lock(&p->lock);
	st->keepalive = p->keepalive;
	pthread_mutex_unlock(&p->lock);
}
