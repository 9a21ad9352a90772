/* SPDX-License-Identifier: ISC */
/* The data plane's handshake queue (hsq.h). */
#include "hsq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
hsq_init(struct hsq *q, unsigned cap)
{
	memset(q, 0, sizeof(*q));
	q->cap = cap != 0 ? cap : HSQ_CAP;
	/* Pages are touched only as the ring fills (a flood's RSS). */
	if ((q->ring = calloc(q->cap, sizeof(*q->ring))) == NULL)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	return 0;
}

void
hsq_destroy(struct hsq *q)
{
	if (q->ring == NULL)
		return;
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	q->ring = NULL;
}

bool
hsq_push(struct hsq *q, int fd, const union fz_sockaddr *src,
    uint16_t channel, const uint8_t *msg, size_t len, uint64_t now)
{
	struct hsq_item *it;
	unsigned n;

	if (len == 0 || len > sizeof(it->msg))
		return false;
	pthread_mutex_lock(&q->lock);
	if (q->stop || q->n == q->cap) {
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	it = &q->ring[(q->head + q->n) % q->cap];
	it->fd = fd;
	it->channel = channel;
	it->len = (uint16_t)len;
	it->src = *src;
	memcpy(it->msg, msg, len);
	n = ++q->n;
	atomic_store_explicit(&q->len, n, memory_order_relaxed);
	pthread_mutex_unlock(&q->lock);
	if (n >= q->cap / 8)
		atomic_store_explicit(&q->loaded_until, now + HSQ_LOAD_NS,
		    memory_order_relaxed);
	return true;
}

void
hsq_kick(struct hsq *q)
{
	pthread_mutex_lock(&q->lock);
	if (q->waiting && q->n > 0)
		pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

bool
hsq_pop_wait(struct hsq *q, struct hsq_item *out)
{
	pthread_mutex_lock(&q->lock);
	while (!q->stop && q->n == 0) {
		q->waiting = true;
		pthread_cond_wait(&q->cond, &q->lock);
		q->waiting = false;
	}
	if (q->stop) {
		pthread_mutex_unlock(&q->lock);
		return false;
	}
	*out = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	atomic_store_explicit(&q->len, q->n, memory_order_relaxed);
	pthread_mutex_unlock(&q->lock);
	return true;
}

void
hsq_stop(struct hsq *q)
{
	if (q->ring == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

unsigned
hsq_len(const struct hsq *q)
{
	return atomic_load_explicit(&q->len, memory_order_relaxed);
}

bool
hsq_under_load(const struct hsq *q, uint64_t now)
{
	return now < atomic_load_explicit(&q->loaded_until,
	    memory_order_relaxed);
}

void
hsq_set_loaded(struct hsq *q, uint64_t until_ns)
{
	atomic_store_explicit(&q->loaded_until, until_ns,
	    memory_order_relaxed);
}
