/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fztime.h"
#include "rx.h"

#define STUN_MAGIC	0x2112a442u
#define STUN_HDR_LEN	20

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* --- classification --- */

enum dp_pkt
dp_classify(const uint8_t *p, size_t n)
{
	size_t len;

	if (n < 4)
		return DP_PKT_UNKNOWN;
	/*
	 * WireGuard only at its exact sizes: STUN types 0x01xx..0x04xx
	 * (responses, say) start with the same byte.
	 */
	if (p[0] >= 1 && p[0] <= 4 && p[1] == 0 && p[2] == 0 && p[3] == 0) {
		if (p[0] == 1 && n == 148)
			return DP_PKT_WG_INITIATION;
		if (p[0] == 2 && n == 92)
			return DP_PKT_WG_RESPONSE;
		if (p[0] == 3 && n == 64)
			return DP_PKT_WG_COOKIE;
		if (p[0] == 4 && n >= 32)
			return DP_PKT_WG_DATA;
	}
	if (p[0] >= 0x40 && p[0] <= 0x4f) {
		len = get16(p + 2);
		if (4 + len > n || n > 4 + ((len + 3) & ~(size_t)3))
			return DP_PKT_UNKNOWN;
		return DP_PKT_CHANNEL_DATA;
	}
	if ((p[0] & 0xc0) == 0 && n >= STUN_HDR_LEN &&
	    get32(p + 4) == STUN_MAGIC) {
		len = get16(p + 2);
		if (len % 4 != 0 || STUN_HDR_LEN + len != n)
			return DP_PKT_UNKNOWN;
		return DP_PKT_STUN;
	}
	return DP_PKT_UNKNOWN;
}

const char *
dp_pkt_name(enum dp_pkt t)
{
	static const char *const names[] = {
		"unknown", "wg-initiation", "wg-response", "wg-cookie",
		"wg-data", "channel-data", "stun",
	};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] :
	    "?";
}

void
dp_channeldata(const uint8_t *p, size_t n, uint16_t *channel,
    const uint8_t **inner, size_t *inner_len)
{
	(void)n;
	*channel = get16(p);
	*inner = p + 4;
	*inner_len = get16(p + 2);
}

/* --- relay channels --- */

struct dp_chan {
	struct dp_chan		*next;
	union fz_sockaddr	 relay;
	uint16_t		 channel;
	void			*peer;
	uint64_t		 retire_at;	/* 0, or time_mono_ns's end */
};

#define CHAN_BUCKETS_MIN 64

void
dp_chans_init(struct dp_chans *t)
{
	memset(t, 0, sizeof(*t));
	pthread_rwlock_init(&t->lock, NULL);
}

void
dp_chans_destroy(struct dp_chans *t)
{
	size_t i;
	struct dp_chan *c, *next;

	for (i = 0; i < t->nbuckets; i++)
		for (c = t->bucket[i]; c != NULL; c = next) {
			next = c->next;
			free(c);
		}
	free(t->bucket);
	pthread_rwlock_destroy(&t->lock);
}

/* FNV-1a over the address, port and channel. */
static size_t
chan_hash(const union fz_sockaddr *a, uint16_t channel)
{
	const uint8_t *b;
	size_t n, i;
	uint32_t h = 2166136261u;
	uint16_t port = addr_port(&a->sa);

	if (a->sa.sa_family == AF_INET) {
		b = (const uint8_t *)&a->in4.sin_addr;
		n = 4;
	} else {
		b = (const uint8_t *)&a->in6.sin6_addr;
		n = 16;
	}
	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	h = (h ^ (port >> 8)) * 16777619u;
	h = (h ^ (port & 0xff)) * 16777619u;
	h = (h ^ (channel >> 8)) * 16777619u;
	h = (h ^ (channel & 0xff)) * 16777619u;
	return h;
}

static struct dp_chan **
chan_find(struct dp_chans *t, const union fz_sockaddr *relay, uint16_t ch)
{
	struct dp_chan **pp;

	if (t->nbuckets == 0)
		return NULL;
	for (pp = &t->bucket[chan_hash(relay, ch) & (t->nbuckets - 1)];
	    *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->channel == ch && addr_eq(&(*pp)->relay.sa,
		    &relay->sa))
			return pp;
	return NULL;
}

/* Doubles the table (lock held for writing); the old one stays on -ENOMEM. */
static int
chan_grow(struct dp_chans *t)
{
	size_t nb = t->nbuckets == 0 ? CHAN_BUCKETS_MIN : t->nbuckets * 2, i;
	struct dp_chan **b, *c, *next;

	if ((b = calloc(nb, sizeof(*b))) == NULL)
		return -ENOMEM;
	for (i = 0; i < t->nbuckets; i++)
		for (c = t->bucket[i]; c != NULL; c = next) {
			size_t h = chan_hash(&c->relay, c->channel) & (nb - 1);

			next = c->next;
			c->next = b[h];
			b[h] = c;
		}
	free(t->bucket);
	t->bucket = b;
	t->nbuckets = nb;
	return 0;
}

/* Frees the retiring bindings whose time is up (lock held for writing). */
static void
chan_purge(struct dp_chans *t, uint64_t now)
{
	struct dp_chan **pp, *c;
	size_t i;

	if (t->nretiring == 0 || now < t->purge_at)
		return;
	t->purge_at = UINT64_MAX;
	for (i = 0; i < t->nbuckets; i++)
		for (pp = &t->bucket[i]; *pp != NULL;) {
			c = *pp;
			if (c->retire_at == 0 || c->retire_at > now) {
				if (c->retire_at != 0 && c->retire_at <
				    t->purge_at)
					t->purge_at = c->retire_at;
				pp = &c->next;
				continue;
			}
			*pp = c->next;
			t->n--;
			t->nretiring--;
			free(c);
		}
}

int
dp_chans_add(struct dp_chans *t, const union fz_sockaddr *relay,
    uint16_t channel, void *peer)
{
	struct dp_chan **pp, *c;
	size_t h;
	int rc = 0;

	if (channel < DP_CHANNEL_MIN || channel > DP_CHANNEL_MAX ||
	    peer == NULL || (relay->sa.sa_family != AF_INET &&
	    relay->sa.sa_family != AF_INET6))
		return -EINVAL;
	pthread_rwlock_wrlock(&t->lock);
	chan_purge(t, time_mono_ns());
	if ((pp = chan_find(t, relay, channel)) != NULL) {
		/* A retiring binding is taken over, by its peer or another. */
		if ((*pp)->peer == peer || (*pp)->retire_at != 0) {
			if ((*pp)->retire_at != 0)
				t->nretiring--;
			(*pp)->peer = peer;
			(*pp)->retire_at = 0;
		} else
			rc = -EEXIST;
		goto out;
	}
	if (t->n >= t->nbuckets && chan_grow(t) != 0 && t->nbuckets == 0) {
		rc = -ENOMEM;
		goto out;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(&c->relay, relay, addr_len(&relay->sa));
	c->channel = channel;
	c->peer = peer;
	h = chan_hash(relay, channel) & (t->nbuckets - 1);
	c->next = t->bucket[h];
	t->bucket[h] = c;
	t->n++;
out:
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

int
dp_chans_remove(struct dp_chans *t, const union fz_sockaddr *relay,
    uint16_t channel)
{
	struct dp_chan **pp, *c = NULL;

	pthread_rwlock_wrlock(&t->lock);
	if ((pp = chan_find(t, relay, channel)) != NULL) {
		c = *pp;
		*pp = c->next;
		t->n--;
		if (c->retire_at != 0)
			t->nretiring--;
	}
	chan_purge(t, time_mono_ns());
	pthread_rwlock_unlock(&t->lock);
	free(c);
	return c != NULL ? 0 : -ENOENT;
}

void
dp_chans_remove_peer(struct dp_chans *t, const void *peer)
{
	struct dp_chan **pp, *c, *gone = NULL;
	size_t i;

	pthread_rwlock_wrlock(&t->lock);
	for (i = 0; i < t->nbuckets; i++)
		for (pp = &t->bucket[i]; *pp != NULL;) {
			c = *pp;
			if (c->peer != peer) {
				pp = &c->next;
				continue;
			}
			*pp = c->next;
			c->next = gone;
			gone = c;
			t->n--;
			if (c->retire_at != 0)
				t->nretiring--;
		}
	pthread_rwlock_unlock(&t->lock);
	for (; gone != NULL; gone = c) {
		c = gone->next;
		free(gone);
	}
}

void
dp_chans_retire_peer(struct dp_chans *t, const void *peer, uint64_t until)
{
	struct dp_chan *c;
	size_t i;

	pthread_rwlock_wrlock(&t->lock);
	chan_purge(t, time_mono_ns());
	for (i = 0; i < t->nbuckets; i++)
		for (c = t->bucket[i]; c != NULL; c = c->next)
			if (c->peer == peer && c->retire_at == 0) {
				c->retire_at = until != 0 ? until : 1;
				if (t->nretiring++ == 0 ||
				    c->retire_at < t->purge_at)
					t->purge_at = c->retire_at;
			}
	pthread_rwlock_unlock(&t->lock);
}

void *
dp_chans_lookup(struct dp_chans *t, const union fz_sockaddr *relay,
    uint16_t channel)
{
	struct dp_chan **pp;
	void *peer = NULL;

	pthread_rwlock_rdlock(&t->lock);
	if ((pp = chan_find(t, relay, channel)) != NULL && ((*pp)->retire_at ==
	    0 || (*pp)->retire_at > time_mono_ns()))
		peer = (*pp)->peer;
	pthread_rwlock_unlock(&t->lock);
	return peer;
}

size_t
dp_chans_count(struct dp_chans *t)
{
	size_t n;

	pthread_rwlock_rdlock(&t->lock);
	n = t->n;
	pthread_rwlock_unlock(&t->lock);
	return n;
}

/* --- the STUN queue --- */

int
dp_stunq_init(struct dp_stunq *q, unsigned cap)
{
	memset(q, 0, sizeof(*q));
	if (cap == 0 || (q->ring = calloc(cap, sizeof(*q->ring))) == NULL)
		return -ENOMEM;
	q->cap = cap;
	pthread_mutex_init(&q->lock, NULL);
	return 0;
}

void
dp_stunq_destroy(struct dp_stunq *q)
{
	if (q->ring == NULL)
		return;
	free(q->ring);
	q->ring = NULL;
	pthread_mutex_destroy(&q->lock);
}

bool
dp_stunq_push(struct dp_stunq *q, uint32_t sock,
    const union fz_sockaddr *from, const union fz_sockaddr *local,
    const uint8_t *p, size_t len)
{
	struct dp_stun *s;

	if (len > DP_STUN_MAX)
		return false;
	pthread_mutex_lock(&q->lock);
	if (q->n == q->cap) {
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	s = &q->ring[(q->head + q->n) % q->cap];
	s->sock = sock;
	s->from = *from;
	s->local = *local;
	s->len = len;
	memcpy(s->data, p, len);
	q->n++;
	pthread_mutex_unlock(&q->lock);
	return true;
}

bool
dp_stunq_pop(struct dp_stunq *q, struct dp_stun *out)
{
	bool ok = false;

	pthread_mutex_lock(&q->lock);
	if (q->n > 0) {
		*out = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->n--;
		ok = true;
	}
	pthread_mutex_unlock(&q->lock);
	return ok;
}

/* --- CONN_WANTED: destinations without a peer ---------------------- */

struct dp_held {
	struct dp_held	*next;
	size_t		 len;
	uint8_t		 pkt[];
};

void
dp_wanted_init(struct dp_wanted *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->lock, NULL);
}

/* Frees what s holds (under the lock); returns how many there were. */
static unsigned
held_free(struct dp_wanted *w, struct dp_wanted_dst *s)
{
	struct dp_held *h, *next;
	unsigned n = s->nheld;

	for (h = s->held; h != NULL; h = next) {
		next = h->next;
		w->held_bytes -= h->len;
		free(h);
	}
	s->held = s->held_tail = NULL;
	s->nheld = 0;
	return n;
}

void
dp_wanted_destroy(struct dp_wanted *w)
{
	for (size_t i = 0; i < DP_WANTED_SLOTS; i++)
		(void)held_free(w, &w->slot[i]);
	pthread_mutex_destroy(&w->lock);
}

static unsigned
wanted_hash(int family, const uint8_t *a, size_t n)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;	/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ a[i]) * 16777619u;
	return h % DP_WANTED_SLOTS;
}

/* Keeps a copy of pkt with s (under the lock), within the limits. */
static void
hold(struct dp_wanted *w, struct dp_wanted_dst *s, const uint8_t *pkt,
    size_t len, uint64_t now_ns)
{
	struct dp_held *h;

	if (s->nheld > 0 && now_ns - s->held_ns >= DP_WANTED_HOLD_NS)
		w->hold_dropped += held_free(w, s);	/* nobody came */
	if (s->nheld == DP_WANTED_HOLD ||
	    w->held_bytes + len > DP_WANTED_HOLD_BYTES ||
	    (h = malloc(sizeof(*h) + len)) == NULL) {
		w->hold_dropped++;
		return;
	}
	h->next = NULL;
	h->len = len;
	memcpy(h->pkt, pkt, len);
	if (s->held == NULL) {
		s->held = h;
		s->held_ns = now_ns;
	} else {
		s->held_tail->next = h;
	}
	s->held_tail = h;
	s->nheld++;
	w->held_bytes += len;
}

bool
dp_wanted_hit(struct dp_wanted *w, int family, const uint8_t *dst,
    uint64_t now_ns, const uint8_t *pkt, size_t len)
{
	size_t n = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
	struct dp_wanted_dst *s;
	bool ok = false, mine;

	if (n == 0)
		return false;
	/* Multicast, broadcast, link-local: never a resource. */
	if (family == AF_INET ? (dst[0] >> 4 == 0xe || (dst[0] == 255 &&
	    dst[1] == 255 && dst[2] == 255 && dst[3] == 255) ||
	    (dst[0] == 169 && dst[1] == 254)) : (dst[0] == 0xff ||
	    (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80)))
		return false;
	s = &w->slot[wanted_hash(family, dst, n)];
	pthread_mutex_lock(&w->lock);
	mine = s->family == family && memcmp(s->addr, dst, n) == 0;
	if (mine && now_ns - s->last_ns < DP_WANTED_INTERVAL_NS) {
		w->limited++;
	} else if (w->n == DP_WANTED_QUEUE) {
		w->dropped++;			/* the slot is not taken */
	} else {
		if (!mine) {			/* another destination's */
			w->hold_dropped += held_free(w, s);
			memset(s, 0, sizeof(*s));
			s->family = family;
			memcpy(s->addr, dst, n);
			mine = true;
		}
		s->last_ns = now_ns;
		w->ring[(w->head + w->n) % DP_WANTED_QUEUE].family = family;
		memcpy(w->ring[(w->head + w->n) % DP_WANTED_QUEUE].addr,
		    s->addr, 16);
		w->n++;
		ok = true;
	}
	if (pkt != NULL) {
		if (mine)
			hold(w, s, pkt, len, now_ns);
		else
			w->hold_dropped++;
	}
	pthread_mutex_unlock(&w->lock);
	return ok;
}

bool
dp_wanted_pop(struct dp_wanted *w, int *family, uint8_t addr[16])
{
	bool ok = false;

	pthread_mutex_lock(&w->lock);
	if (w->n > 0) {
		*family = w->ring[w->head].family;
		memcpy(addr, w->ring[w->head].addr, 16);
		w->head = (w->head + 1) % DP_WANTED_QUEUE;
		w->n--;
		ok = true;
	}
	pthread_mutex_unlock(&w->lock);
	return ok;
}

size_t
dp_wanted_release(struct dp_wanted *w, bool (*take)(void *, int,
    const uint8_t *, const uint8_t *, size_t), void *arg)
{
	size_t i, n = 0;

	pthread_mutex_lock(&w->lock);
	for (i = 0; i < DP_WANTED_SLOTS; i++) {
		struct dp_wanted_dst *s = &w->slot[i];
		struct dp_held *h;

		if (s->held == NULL ||
		    !take(arg, s->family, s->addr, s->held->pkt,
		    s->held->len))
			continue;
		n++;
		for (h = s->held->next; h != NULL; h = h->next)
			if (take(arg, s->family, s->addr, h->pkt, h->len))
				n++;
		(void)held_free(w, s);
		/* connected: the next packet without a peer asks again */
		s->last_ns = 0;
		s->family = 0;
	}
	pthread_mutex_unlock(&w->lock);
	return n;
}
