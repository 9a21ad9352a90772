/* SPDX-License-Identifier: ISC */
/*
 * The timer rules of the WireGuard paper (§6): when to rekey, when a
 * session is too old to use, when to retry a handshake and when to give
 * up, when to send a keepalive.  Nothing here has a timer of its own: the
 * data plane calls wg_peer_tick every ~100 ms and acts on what it returns,
 * and every rule reads time_mono_ns(), so tests drive it with the fake
 * clock.
 */
#include <stdlib.h>

#include "fztime.h"
#include "wg_int.h"

/* Paper §6.1. */
#define REKEY_AFTER_TIME	(120 * NSEC_PER_SEC)
#define REJECT_AFTER_TIME	(180 * NSEC_PER_SEC)
#define REKEY_ATTEMPT_TIME	(90 * NSEC_PER_SEC)
#define REKEY_TIMEOUT		(5 * NSEC_PER_SEC)
#define KEEPALIVE_TIMEOUT	(10 * NSEC_PER_SEC)
/* A retry waits REKEY_TIMEOUT plus up to this much (§6.1's jitter). */
#define REKEY_TIMEOUT_JITTER_MS	333

static _Atomic unsigned timer_scale = 1;

void
wg_set_timer_scale(unsigned s)
{
	atomic_store(&timer_scale, s > 0 ? s : 1);
}

uint64_t
wg_timer_ns(uint64_t ns)
{
	return ns / atomic_load(&timer_scale);
}

bool
wg_timers_keypair_expired(const struct wg_keypair *k, uint64_t now)
{
	return now - k->created >= wg_timer_ns(REJECT_AFTER_TIME);
}

bool
wg_timers_rekey_on_send(const struct wg_keypair *k, uint64_t now)
{
	return now - k->created >= wg_timer_ns(REKEY_AFTER_TIME);
}

/* Early enough that a handshake fits before the keypair expires. */
bool
wg_timers_rekey_on_receive(const struct wg_keypair *k, uint64_t now)
{
	return now - k->created >= wg_timer_ns(REJECT_AFTER_TIME -
	    KEEPALIVE_TIMEOUT - REKEY_TIMEOUT);
}

/*
 * As Linux WireGuard's last_sent_handshake: no initiation of ours within
 * REKEY_TIMEOUT of a response.  The initiator confirms the session at
 * once (its staged packets or a keepalive); an initiation of ours meant
 * for packets staged meanwhile (the timer's next tick) would only start a
 * second handshake, which can cross the first one's confirmation.
 */
void
wg_timers_response_sent(struct wg_peer *p, uint64_t now)
{
	p->t_init_sent = now;
	p->t_any_sent = now;
}

void
wg_timers_initiation_sent(struct wg_peer *p, uint64_t now)
{
	if (p->t_hs_start == 0)
		p->t_hs_start = now;
	p->t_init_sent = now;
	p->t_init_jitter = randombytes_uniform(REKEY_TIMEOUT_JITTER_MS + 1) *
	    NSEC_PER_MSEC;
	p->t_any_sent = now;
	p->want_hs = false;
}

void
wg_timers_session_started(struct wg_peer *p, uint64_t now)
{
	p->t_hs_start = 0;
	p->t_session = now;
	p->want_hs = false;	/* what asked for it has a session now */
	atomic_store(&p->last_hs_real, time_real_ns());
}

void
wg_peer_data_sent(struct wg_peer *p, size_t bytes, bool keepalive)
{
	uint64_t now = time_mono_ns();

	atomic_fetch_add(&p->tx_bytes, bytes);
	pthread_mutex_lock(&p->lock);
	p->t_any_sent = now;
	p->keepalive_due = false;
	if (!keepalive && (p->t_data_sent <= p->t_recv || p->t_data_sent == 0))
		p->t_data_sent = now;	/* start of unanswered sending */
	pthread_mutex_unlock(&p->lock);
}

void
wg_peer_want_handshake(struct wg_peer *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->hs != HS_INIT_SENT)
		p->want_hs = true;
	pthread_mutex_unlock(&p->lock);
}

unsigned
wg_peer_tick(struct wg_peer *p)
{
	uint64_t now = time_mono_ns();
	unsigned act = 0;

	pthread_mutex_lock(&p->lock);
	if (p->dead || !p->has_endpoint)
		goto out;
	if (p->hs == HS_INIT_SENT) {
		/* Retransmit every REKEY_TIMEOUT (+jitter) for 90 s. */
		if (now - p->t_hs_start >= wg_timer_ns(REKEY_ATTEMPT_TIME)) {
			p->hs = HS_NONE;
			p->t_hs_start = 0;
			p->want_hs = false;
			sodium_memzero(p->hs_eph_priv, sizeof(p->hs_eph_priv));
			act |= WG_TICK_GAVE_UP;
		} else if (now - p->t_init_sent >= wg_timer_ns(REKEY_TIMEOUT) +
		    wg_timer_ns(p->t_init_jitter))
			act |= WG_TICK_SEND_INITIATION;
	} else if (p->want_hs) {
		if (p->t_init_sent == 0 ||
		    now - p->t_init_sent >= wg_timer_ns(REKEY_TIMEOUT))
			act |= WG_TICK_SEND_INITIATION;
	}
	/* Data sent and nothing heard for 15 s: the session may be dead. */
	if (p->t_data_sent > p->t_recv && p->hs != HS_INIT_SENT &&
	    now - p->t_data_sent >=
	    wg_timer_ns(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT)) {
		act |= WG_TICK_SEND_INITIATION;
		p->t_data_sent = 0;
	}
	if (p->kp_cur != NULL) {
		/* Received data and sent nothing back for 10 s. */
		if (p->keepalive_due &&
		    now - p->t_recv >= wg_timer_ns(KEEPALIVE_TIMEOUT))
			act |= WG_TICK_SEND_KEEPALIVE;
		/* After 3 × REJECT_AFTER_TIME without a new session, forget. */
		if (now - p->t_session >= 3 * wg_timer_ns(REJECT_AFTER_TIME)) {
			wg_peer_clear_sessions(p);
			act &= ~WG_TICK_SEND_KEEPALIVE;
		}
	}
	if (p->keepalive > 0 && (p->t_any_sent == 0 ||
	    now - p->t_any_sent >= wg_timer_ns(p->keepalive * NSEC_PER_SEC)))
		act |= WG_TICK_SEND_KEEPALIVE;
out:
	pthread_mutex_unlock(&p->lock);
	return act;
}
