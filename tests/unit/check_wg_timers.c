/* SPDX-License-Identifier: ISC */
/*
 * The timer rules of tunneld/wg/timers.c (the WireGuard paper, §6) on the
 * fake clock, each at the nanosecond it starts to hold: rekey after 120 s,
 * reject after 180 s, rekey on receive at 165 s, keepalive after 10 s,
 * handshake retries every 5 s plus a jitter under 334 ms for 90 s, none
 * of a responder's own within 5 s of its response, and
 * sessions forgotten after 3 × 180 s.
 */
#include <errno.h>
#include <string.h>

#include "fztime.h"
#include "wg_int.h"
#include "check_util.h"
#include "wg_pair.h"

#define S	NSEC_PER_SEC

static struct side A, B;

static void
setup(void)
{
	time_fake_enable(1000 * S, 1700000000ULL * S);
	wg_set_timer_scale(1);
	wg_pair_new(&A, &B, 0x21);
}

static void
teardown(void)
{
	wg_pair_free(&A, &B);
	wg_set_timer_scale(1);
	time_fake_disable();
}

/* A initiates, B answers (its session waits for A's first message). */
static void
initiate_and_answer(uint8_t init[WG_INITIATION_LEN],
    uint8_t resp[WG_INITIATION_LEN])
{
	struct wg_hs_result r;

	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, WG_INITIATION_LEN,
	    &A.addr, resp, &r), 0);
	ck_assert(r.established && r.reply_len == WG_RESPONSE_LEN);
}

/* A consumes B's answer. */
static void
consume_answer(uint8_t init[WG_INITIATION_LEN],
    uint8_t resp[WG_INITIATION_LEN])
{
	struct wg_hs_result r;

	ck_assert_int_eq(wg_handle_handshake(A.dev, resp, WG_RESPONSE_LEN,
	    &B.addr, init, &r), 0);
	ck_assert(r.established);
}

/* A initiates, B answers, A consumes the answer. */
static void
handshake(void)
{
	uint8_t init[WG_INITIATION_LEN], resp[WG_INITIATION_LEN];

	initiate_and_answer(init, resp);
	consume_answer(init, resp);
}

/* Seals n bytes from x into pkt (for delivery later); 0 or -errno. */
static int
seal(struct side *x, size_t n, uint8_t pkt[128], size_t *len)
{
	struct wg_keypair *k = wg_peer_send_keypair(x->peer);
	int rc;

	if (k == NULL)
		return -ENOKEY;
	memset(pkt + WG_DATA_HDR_LEN, 0x45, n);
	rc = wg_encrypt(k, pkt, n, 128, len);
	wg_keypair_put(k);
	if (rc == 0)
		wg_peer_data_sent(x->peer, *len, n == 0);
	return rc;
}

static int
deliver(struct side *y, uint8_t pkt[128], size_t len, const
    union fz_sockaddr *from)
{
	uint8_t *plain;
	size_t plen;
	struct wg_peer *p;

	return wg_decrypt(y->dev, pkt, len, from, &plain, &plen, &p);
}

/* Sends n bytes x -> y now. */
static int
transfer(struct side *x, struct side *y, size_t n)
{
	uint8_t pkt[128];
	size_t len;
	int rc;

	if ((rc = seal(x, n, pkt, &len)) != 0)
		return rc;
	return deliver(y, pkt, len, &x->addr);
}

START_TEST(test_rekey_after_time)
{
	handshake();
	ck_assert_int_eq(transfer(&A, &B, 8), 0);
	ck_assert_int_eq(transfer(&B, &A, 8), 0);
	time_fake_advance(120 * S - 1);
	ck_assert_int_eq(transfer(&A, &B, 8), 0);
	ck_assert_uint_eq(wg_peer_tick(A.peer) & WG_TICK_SEND_INITIATION, 0);
	time_fake_advance(1);
	/* The initiator's send asks for a handshake; the responder's not. */
	ck_assert_int_eq(transfer(&B, &A, 8), 0);
	wg_peer_set_endpoint(B.peer, &A.addr);
	ck_assert_uint_eq(wg_peer_tick(B.peer) & WG_TICK_SEND_INITIATION, 0);
	ck_assert_int_eq(transfer(&A, &B, 8), 0);
	ck_assert(wg_peer_tick(A.peer) & WG_TICK_SEND_INITIATION);
}
END_TEST

START_TEST(test_rekey_on_receive)
{
	handshake();
	ck_assert_int_eq(transfer(&A, &B, 8), 0);
	/* 180 - 10 - 5 s: receiving makes the initiator rekey. */
	time_fake_advance(165 * S - 1);
	ck_assert_int_eq(transfer(&B, &A, 8), 0);
	/* (sending would already ask: that is test_rekey_after_time) */
	ck_assert(A.peer->want_hs == false);
	time_fake_advance(1);
	ck_assert_int_eq(transfer(&B, &A, 8), 0);
	ck_assert(A.peer->want_hs == true);
}
END_TEST

START_TEST(test_reject_after_time)
{
	uint8_t pkt[128];
	size_t len;

	handshake();
	ck_assert_int_eq(transfer(&A, &B, 8), 0);
	ck_assert_int_eq(seal(&A, 8, pkt, &len), 0);
	time_fake_advance(180 * S - 1);
	ck_assert(wg_peer_has_session(A.peer));
	ck_assert_int_eq(transfer(&A, &B, 8), 0);
	time_fake_advance(1);
	ck_assert(!wg_peer_has_session(A.peer));
	ck_assert(!wg_peer_has_session(B.peer));
	ck_assert_int_eq(transfer(&A, &B, 8), -ENOKEY);
	/* Sealed in time, delivered too late. */
	ck_assert_int_eq(deliver(&B, pkt, len, &A.addr), -EKEYEXPIRED);
}
END_TEST

START_TEST(test_keepalive_after_receive)
{
	handshake();
	ck_assert_int_eq(transfer(&A, &B, 8), 0);
	wg_peer_set_endpoint(B.peer, &A.addr);
	time_fake_advance(10 * S - 1);
	ck_assert_uint_eq(wg_peer_tick(B.peer) & WG_TICK_SEND_KEEPALIVE, 0);
	time_fake_advance(1);
	ck_assert(wg_peer_tick(B.peer) & WG_TICK_SEND_KEEPALIVE);
	/* Anything sent back answers it; a keepalive received does not ask. */
	ck_assert_int_eq(transfer(&B, &A, 0), 0);
	ck_assert_uint_eq(wg_peer_tick(B.peer) & WG_TICK_SEND_KEEPALIVE, 0);
	time_fake_advance(10 * S);
	ck_assert_uint_eq(wg_peer_tick(A.peer) & WG_TICK_SEND_KEEPALIVE, 0);
}
END_TEST

/* Unanswered data: a new handshake after 10 + 5 s. */
START_TEST(test_handshake_after_unanswered_data)
{
	handshake();
	time_fake_advance(S);	/* after the response A consumed */
	ck_assert_int_eq(transfer(&A, &B, 8), 0);
	time_fake_advance(15 * S - 1);
	ck_assert_uint_eq(wg_peer_tick(A.peer) & WG_TICK_SEND_INITIATION, 0);
	time_fake_advance(1);
	ck_assert(wg_peer_tick(A.peer) & WG_TICK_SEND_INITIATION);
	/* Asked once, not on every tick after. */
	ck_assert_uint_eq(wg_peer_tick(A.peer) & WG_TICK_SEND_INITIATION, 0);
}
END_TEST

/*
 * A responder with packets waiting (its session unconfirmed) starts no
 * handshake of its own within REKEY_TIMEOUT of its response (Linux's
 * last_sent_handshake): the initiator confirms at once, and a second
 * handshake could cross that confirmation.  The confirmation gives the
 * responder its session.
 */
START_TEST(test_responder_waits)
{
	uint8_t init[WG_INITIATION_LEN], resp[WG_INITIATION_LEN];

	initiate_and_answer(init, resp);
	ck_assert(!wg_peer_has_session(B.peer));
	wg_peer_want_handshake(B.peer);		/* a packet staged */
	ck_assert_uint_eq(wg_peer_tick(B.peer) & WG_TICK_SEND_INITIATION, 0);
	time_fake_advance(5 * S - 1);
	ck_assert_uint_eq(wg_peer_tick(B.peer) & WG_TICK_SEND_INITIATION, 0);
	time_fake_advance(1);
	ck_assert(wg_peer_tick(B.peer) & WG_TICK_SEND_INITIATION);

	/* Confirmed by the initiator's first message: a session. */
	consume_answer(init, resp);
	ck_assert_int_eq(transfer(&A, &B, 0), 0);
	ck_assert(wg_peer_has_session(B.peer));
	ck_assert_uint_eq(wg_peer_tick(B.peer) & WG_TICK_SEND_INITIATION, 0);
}
END_TEST

/*
 * The packets that asked for a handshake while the responder waited have
 * their session once the initiator confirms it: no second handshake
 * REKEY_TIMEOUT after the response.
 */
START_TEST(test_confirmed_no_second_handshake)
{
	uint8_t init[WG_INITIATION_LEN], resp[WG_INITIATION_LEN];

	initiate_and_answer(init, resp);
	wg_peer_want_handshake(B.peer);		/* a packet staged */
	time_fake_advance(S / 10);
	consume_answer(init, resp);
	ck_assert_int_eq(transfer(&A, &B, 0), 0);
	time_fake_advance(5 * S);
	ck_assert_uint_eq(wg_peer_tick(B.peer) & WG_TICK_SEND_INITIATION, 0);
	ck_assert_uint_eq(wg_peer_tick(A.peer) & WG_TICK_SEND_INITIATION, 0);
}
END_TEST

/*
 * Each retry comes REKEY_TIMEOUT plus its own jitter (0..333 ms) after the
 * last initiation, to the nanosecond; after 90 s of retries, give up.
 */
START_TEST(test_retry_jitter_and_give_up)
{
	uint8_t init[WG_INITIATION_LEN];
	uint64_t start = time_mono_ns(), jitter, first = 0;
	unsigned act, sent = 0;
	bool varied = false;

	for (;;) {
		ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
		sent++;
		jitter = A.peer->t_init_jitter;
		ck_assert_uint_lt(jitter, 334 * NSEC_PER_MSEC);
		ck_assert_uint_eq(jitter % NSEC_PER_MSEC, 0);
		if (sent == 1)
			first = jitter;
		varied |= jitter != first;
		if (time_mono_ns() - start + 5 * S + jitter >= 90 * S)
			break;
		time_fake_advance(5 * S + jitter - 1);
		ck_assert_uint_eq(wg_peer_tick(A.peer), 0);
		time_fake_advance(1);
		act = wg_peer_tick(A.peer);
		ck_assert_uint_eq(act, WG_TICK_SEND_INITIATION);
	}
	/* 90 s after the first initiation, not before. */
	time_fake_advance(start + 90 * S - 1 - time_mono_ns());
	ck_assert_uint_eq(wg_peer_tick(A.peer) & WG_TICK_GAVE_UP, 0);
	time_fake_advance(1);
	ck_assert(wg_peer_tick(A.peer) & WG_TICK_GAVE_UP);
	ck_assert_uint_eq(wg_peer_tick(A.peer), 0);
	ck_assert_uint_ge(sent, 16);
	ck_assert_uint_le(sent, 18);
	ck_assert(varied);
}
END_TEST

/* The jitter spans 0..333 ms in whole milliseconds, and no more. */
START_TEST(test_retry_jitter_range)
{
	uint8_t init[WG_INITIATION_LEN];
	uint64_t j, lo = UINT64_MAX, hi = 0;
	int i;

	for (i = 0; i < 2000; i++) {
		ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
		j = A.peer->t_init_jitter;
		ck_assert_uint_eq(j % NSEC_PER_MSEC, 0);
		lo = j < lo ? j : lo;
		hi = j > hi ? j : hi;
	}
	ck_assert_uint_le(lo, 13 * NSEC_PER_MSEC);
	ck_assert_uint_ge(hi, 320 * NSEC_PER_MSEC);
	ck_assert_uint_le(hi, 333 * NSEC_PER_MSEC);
}
END_TEST

/* 3 × REJECT_AFTER_TIME after the last session, its keys are gone. */
START_TEST(test_sessions_zeroed)
{
	uint8_t pkt[128];
	size_t len;

	handshake();
	ck_assert_int_eq(transfer(&A, &B, 8), 0);
	ck_assert_int_eq(seal(&A, 8, pkt, &len), 0);
	wg_peer_set_endpoint(B.peer, &A.addr);
	time_fake_advance(540 * S - 1);
	(void)wg_peer_tick(B.peer);
	ck_assert_ptr_nonnull(B.peer->kp_cur);
	/* Still known by index, only expired. */
	ck_assert_int_eq(deliver(&B, pkt, len, &A.addr), -EKEYEXPIRED);
	time_fake_advance(1);
	ck_assert_uint_eq(wg_peer_tick(B.peer) & WG_TICK_SEND_KEEPALIVE, 0);
	ck_assert_ptr_null(B.peer->kp_cur);
	ck_assert_ptr_null(B.peer->kp_prev);
	ck_assert_ptr_null(B.peer->kp_next);
	ck_assert_int_eq(deliver(&B, pkt, len, &A.addr), -ENOKEY);
	/* A new handshake works as before. */
	handshake();
	ck_assert_int_eq(transfer(&A, &B, 8), 0);
}
END_TEST

/* FZ_WG_TIMER_SCALE's knob divides every rule. */
START_TEST(test_timer_scale)
{
	wg_set_timer_scale(10);
	handshake();
	ck_assert_int_eq(transfer(&A, &B, 8), 0);
	time_fake_advance(18 * S - 1);
	ck_assert(wg_peer_has_session(A.peer));
	time_fake_advance(1);
	ck_assert(!wg_peer_has_session(A.peer));
	wg_set_timer_scale(0);		/* taken as 1 */
	ck_assert(wg_peer_has_session(A.peer));
}
END_TEST

static Suite *
timers_suite(void)
{
	Suite *s = suite_create("wg_timers");
	TCase *tc = tcase_create("rules");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_rekey_after_time);
	tcase_add_test(tc, test_rekey_on_receive);
	tcase_add_test(tc, test_reject_after_time);
	tcase_add_test(tc, test_keepalive_after_receive);
	tcase_add_test(tc, test_handshake_after_unanswered_data);
	tcase_add_test(tc, test_responder_waits);
	tcase_add_test(tc, test_confirmed_no_second_handshake);
	tcase_add_test(tc, test_retry_jitter_and_give_up);
	tcase_add_test(tc, test_retry_jitter_range);
	tcase_add_test(tc, test_sessions_zeroed);
	tcase_add_test(tc, test_timer_scale);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(timers_suite)
