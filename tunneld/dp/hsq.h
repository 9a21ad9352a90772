/* SPDX-License-Identifier: ISC */
/*
 * The data plane's queue of received handshake messages, as Linux
 * WireGuard's handshake queue (receive.c): workers copy each initiation,
 * response or cookie reply into it and go on with data, and one thread of
 * lower priority takes them out, so a flood costs the workers a copy per
 * message and no crypto.  The queue is bounded (a full queue drops), and
 * its length is the load signal: at an eighth of its capacity or more the
 * device is under load (cookie replies, MAC2 required) for the next
 * second.  Pure but for its lock and condition; the caller passes the
 * monotonic time.  Thread-safe: any number of producers, one consumer.
 */
#ifndef FZ_HSQ_H
#define FZ_HSQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "wg.h"

#define HSQ_CAP			1024	/* Linux: 4096, for a whole host */
#define HSQ_LOAD_NS		1000000000ull	/* under load this long */

struct hsq_item {
	int			 fd;		/* the socket it came in on */
	uint16_t		 channel;	/* relayed: its channel; else 0 */
	uint16_t		 len;
	union fz_sockaddr	 src;		/* the sender, or the relay */
	uint8_t			 msg[WG_INITIATION_LEN];
};

struct hsq {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct hsq_item		*ring;		/* cap items */
	unsigned		 cap, head, n;
	bool			 waiting;	/* the consumer sleeps on cond */
	bool			 stop;
	_Atomic unsigned	 len;		/* n, for lock-free readers */
	_Atomic uint64_t	 loaded_until;	/* ns; 0: never loaded */
};

/* cap 0 means HSQ_CAP. */
int	hsq_init(struct hsq *, unsigned cap)
	    __attribute__((warn_unused_result));
void	hsq_destroy(struct hsq *);	/* after the consumer has stopped */
/*
 * Copies a message of at most WG_INITIATION_LEN bytes in; false when the
 * queue is full or stopped, or len is out of range.  Reaching an eighth
 * of the capacity puts the queue under load until now + HSQ_LOAD_NS.
 */
bool	hsq_push(struct hsq *, int fd, const union fz_sockaddr *src,
	    uint16_t channel, const uint8_t *msg, size_t len, uint64_t now);
/* Wakes the consumer if it sleeps (once per batch of pushes). */
void	hsq_kick(struct hsq *);
/*
 * Takes the oldest message, waiting for one; false once hsq_stop was
 * called (what is left is dropped).
 */
bool	hsq_pop_wait(struct hsq *, struct hsq_item *);
void	hsq_stop(struct hsq *);
/* Messages waiting (a hint: others may push or pop meanwhile). */
unsigned hsq_len(const struct hsq *);
/* Whether the queue was at an eighth of its capacity in the last second. */
bool	hsq_under_load(const struct hsq *, uint64_t now);
/* Keeps the queue under load until until_ns (tests). */
void	hsq_set_loaded(struct hsq *, uint64_t until_ns);

#endif
