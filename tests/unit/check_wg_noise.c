/* SPDX-License-Identifier: ISC */
/*
 * WireGuard core between two in-process devices: handshakes in both
 * directions, transport data, keepalives, replay, cookies, timers with the
 * fake clock, and garbage.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <string.h>

#include "fztime.h"
#include "wg.h"
#include "check_util.h"
#include "wg_pair.h"

static struct side A, B;

static void
setup(void)
{
	uint8_t psk[32];

	time_fake_enable(1000 * NSEC_PER_SEC, 1700000000ULL * NSEC_PER_SEC);
	wg_pair_new(&A, &B, 0x11);
	memset(psk, 0x42, sizeof(psk));
	wg_peer_set_psk(A.peer, psk);
	wg_peer_set_psk(B.peer, psk);
}

static void
teardown(void)
{
	wg_pair_free(&A, &B);
	time_fake_disable();
}

/* Runs a handshake from x to y; returns 0 when both have a session. */
static void
handshake(struct side *x, struct side *y)
{
	uint8_t init[WG_INITIATION_LEN], resp[WG_INITIATION_LEN];
	uint8_t none[WG_INITIATION_LEN];
	struct wg_hs_result r;

	ck_assert_int_eq(wg_create_initiation(x->peer, init), 0);
	ck_assert_int_eq(wg_msg_type(init, sizeof(init)), WG_MSG_INITIATION);
	ck_assert_int_eq(wg_handle_handshake(y->dev, init, sizeof(init),
	    &x->addr, resp, &r), 0);
	ck_assert_ptr_eq(r.peer, y->peer);
	ck_assert_uint_eq(r.reply_len, WG_RESPONSE_LEN);
	ck_assert_int_eq(wg_handle_handshake(x->dev, resp, WG_RESPONSE_LEN,
	    &y->addr, none, &r), 0);
	ck_assert(r.established);
	ck_assert_ptr_eq(r.peer, x->peer);
}

/* Encrypts msg from x and decrypts it at y. */
static int
transfer(struct side *x, struct side *y, const char *msg)
{
	uint8_t buf[256];
	uint8_t *plain;
	size_t len, plen, n = strlen(msg);
	struct wg_keypair *k = wg_peer_send_keypair(x->peer);
	struct wg_peer *from;
	int rc;

	if (k == NULL)
		return -ENOKEY;
	memcpy(buf + WG_DATA_HDR_LEN, msg, n);
	rc = wg_encrypt(k, buf, n, sizeof(buf), &len);
	wg_keypair_put(k);
	if (rc != 0)
		return rc;
	wg_peer_data_sent(x->peer, len, n == 0);
	ck_assert_uint_eq(len % 16, 0);
	rc = wg_decrypt(y->dev, buf, len, &x->addr, &plain, &plen, &from);
	if (rc != 0)
		return rc;
	ck_assert_ptr_eq(from, y->peer);
	ck_assert_uint_ge(plen, n);
	ck_assert_int_eq(memcmp(plain, msg, n), 0);
	return 0;
}

START_TEST(test_handshake_and_data)
{
	ck_assert_int_eq(transfer(&A, &B, "no session"), -ENOKEY);
	handshake(&A, &B);
	/* B (responder) must not send before A's first packet. */
	ck_assert_int_eq(transfer(&B, &A, "early"), -ENOKEY);
	ck_assert_int_eq(transfer(&A, &B, "hello from A"), 0);
	ck_assert_int_eq(transfer(&B, &A, "hello from B"), 0);
	ck_assert_int_eq(transfer(&A, &B, ""), 0);	/* keepalive */
	ck_assert(wg_peer_has_session(A.peer));
	ck_assert(wg_peer_has_session(B.peer));
}
END_TEST

START_TEST(test_handshake_reverse_and_rekey)
{
	handshake(&A, &B);
	ck_assert_int_eq(transfer(&A, &B, "one"), 0);
	/* B initiates a new handshake; the old session keeps working. */
	wg_peer_set_endpoint(B.peer, &A.addr);
	handshake(&B, &A);
	ck_assert_int_eq(transfer(&B, &A, "two"), 0);
	ck_assert_int_eq(transfer(&A, &B, "three"), 0);
}
END_TEST

START_TEST(test_replay_rejected)
{
	uint8_t buf[128], copy[128];
	uint8_t *plain;
	size_t len, plen;
	struct wg_peer *from;
	struct wg_keypair *k;

	handshake(&A, &B);
	k = wg_peer_send_keypair(A.peer);
	ck_assert_ptr_nonnull(k);
	memcpy(buf + WG_DATA_HDR_LEN, "abc", 3);
	ck_assert_int_eq(wg_encrypt(k, buf, 3, sizeof(buf), &len), 0);
	wg_keypair_put(k);
	memcpy(copy, buf, len);
	ck_assert_int_eq(wg_decrypt(B.dev, buf, len, &A.addr, &plain, &plen,
	    &from), 0);
	ck_assert_int_eq(wg_decrypt(B.dev, copy, len, &A.addr, &plain, &plen,
	    &from), -EALREADY);
}
END_TEST

/* Out-of-order delivery inside the window works; too old does not. */
START_TEST(test_replay_window)
{
	enum { N = 2200 };
	static uint8_t pkts[N][64];
	size_t lens[N], plen;
	uint8_t *plain;
	struct wg_peer *from;
	struct wg_keypair *k;
	int i;

	handshake(&A, &B);
	k = wg_peer_send_keypair(A.peer);
	for (i = 0; i < N; i++) {
		memset(pkts[i] + WG_DATA_HDR_LEN, i & 0xff, 8);
		ck_assert_int_eq(wg_encrypt(k, pkts[i], 8, sizeof(pkts[i]),
		    &lens[i]), 0);
	}
	wg_keypair_put(k);
	/* Deliver 2199 first, then 300 (within 2048 - 64), then 100. */
	ck_assert_int_eq(wg_decrypt(B.dev, pkts[2199], lens[2199], &A.addr,
	    &plain, &plen, &from), 0);
	ck_assert_int_eq(wg_decrypt(B.dev, pkts[300], lens[300], &A.addr,
	    &plain, &plen, &from), 0);
	ck_assert_int_eq(wg_decrypt(B.dev, pkts[200], lens[200], &A.addr,
	    &plain, &plen, &from), -EALREADY);
	ck_assert_int_eq(wg_decrypt(B.dev, pkts[100], lens[100], &A.addr,
	    &plain, &plen, &from), -EALREADY);
	ck_assert_int_eq(wg_decrypt(B.dev, pkts[2198], lens[2198], &A.addr,
	    &plain, &plen, &from), 0);
	ck_assert_int_eq(wg_decrypt(B.dev, pkts[2198], lens[2198], &A.addr,
	    &plain, &plen, &from), -EBADMSG);	/* decrypted in place */
}
END_TEST

START_TEST(test_tampered_and_garbage)
{
	uint8_t buf[128], reply[WG_INITIATION_LEN];
	uint8_t init[WG_INITIATION_LEN];
	uint8_t *plain;
	size_t len, plen, i;
	struct wg_peer *from;
	struct wg_keypair *k;
	struct wg_hs_result r;

	handshake(&A, &B);
	k = wg_peer_send_keypair(A.peer);
	memcpy(buf + WG_DATA_HDR_LEN, "secret", 6);
	ck_assert_int_eq(wg_encrypt(k, buf, 6, sizeof(buf), &len), 0);
	wg_keypair_put(k);
	buf[20] ^= 1;
	ck_assert_int_eq(wg_decrypt(B.dev, buf, len, &A.addr, &plain, &plen,
	    &from), -EBADMSG);
	/* Unknown receiver index. */
	buf[4] ^= 0xff;
	ck_assert_int_eq(wg_decrypt(B.dev, buf, len, &A.addr, &plain, &plen,
	    &from), -ENOKEY);
	/* Every truncation of an initiation is refused by type/size. */
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	for (i = 0; i < sizeof(init); i++)
		ck_assert_int_eq(wg_handle_handshake(B.dev, init, i, &A.addr,
		    reply, &r), -EBADMSG);
	/* A flipped bit breaks mac1. */
	init[50] ^= 0x80;
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &A.addr, reply, &r), -EBADMSG);
	ck_assert_int_eq(wg_msg_type((const uint8_t *)"\x04\x00\x00\x01", 4), 0);
	ck_assert_int_eq(wg_msg_type((const uint8_t *)"\x05\x00\x00\x00", 4), 0);
	ck_assert_int_eq(wg_msg_type(buf, WG_DATA_MIN_LEN - 1), 0);
}
END_TEST

START_TEST(test_initiation_replay_and_unknown_peer)
{
	uint8_t init[WG_INITIATION_LEN], reply[WG_INITIATION_LEN];
	struct wg_hs_result r;
	struct wg_device *c;
	uint8_t cpriv[32];

	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &A.addr, reply, &r), 0);
	time_fake_advance(NSEC_PER_SEC);
	/* The same initiation again: its timestamp is not newer. */
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &A.addr, reply, &r), -EALREADY);
	/* A device that does not know A. */
	memset(cpriv, 0x77, 32);
	ck_assert_int_eq(wg_device_new(B.priv, &c), 0);
	ck_assert_int_eq(wg_handle_handshake(c, init, sizeof(init), &A.addr,
	    reply, &r), -ENOENT);
	wg_device_free(c);
}
END_TEST

START_TEST(test_cookie_under_load)
{
	uint8_t init[WG_INITIATION_LEN], reply[WG_INITIATION_LEN];
	uint8_t none[WG_INITIATION_LEN];
	struct wg_hs_result r;

	wg_device_set_under_load(B.dev, true);
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &A.addr, reply, &r), 0);
	ck_assert_uint_eq(r.reply_len, WG_COOKIE_LEN);
	ck_assert_int_eq(wg_msg_type(reply, WG_COOKIE_LEN), WG_MSG_COOKIE);
	ck_assert(!r.established);
	ck_assert_int_eq(wg_handle_handshake(A.dev, reply, WG_COOKIE_LEN,
	    &B.addr, none, &r), 0);
	/* The same cookie reply twice is refused (one per mac1). */
	ck_assert_int_eq(wg_handle_handshake(A.dev, reply, WG_COOKIE_LEN,
	    &B.addr, none, &r), -EBADMSG);
	/* Now the initiation carries a valid mac2 and is processed. */
	time_fake_advance(NSEC_PER_SEC);
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &A.addr, reply, &r), 0);
	ck_assert_uint_eq(r.reply_len, WG_RESPONSE_LEN);
	/* From another address the cookie does not match. */
	time_fake_advance(NSEC_PER_SEC);
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &B.addr, reply, &r), 0);
	ck_assert_uint_eq(r.reply_len, WG_COOKIE_LEN);
}
END_TEST

/*
 * Under load a valid cookie does not let one source flood us: of 100
 * initiations with a valid mac2 from one address within one second, only
 * the burst (5) and 20 a second get as far as a DH; the rest are refused
 * with -EAGAIN first.  Not under load, none is rate limited.
 */
static void
flood(unsigned *processed, unsigned *accepted, unsigned *limited)
{
	uint8_t init[WG_INITIATION_LEN], reply[WG_INITIATION_LEN];
	struct wg_hs_result r;
	unsigned i;
	int rc;

	*processed = *accepted = *limited = 0;
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
		rc = wg_handle_handshake(B.dev, init, sizeof(init), &A.addr,
		    reply, &r);
		if (rc == -EAGAIN)
			(*limited)++;
		else {
			/* Reached the DH: answered, or a flood/replay. */
			ck_assert_msg(rc == 0 || rc == -EBUSY ||
			    rc == -EALREADY, "rc %d", rc);
			ck_assert(rc != 0 || r.reply_len == WG_RESPONSE_LEN);
			(*processed)++;
			*accepted += rc == 0;
		}
		time_fake_advance(10 * NSEC_PER_MSEC);
	}
}

START_TEST(test_handshake_ratelimit)
{
	uint8_t init[WG_INITIATION_LEN], reply[WG_INITIATION_LEN];
	uint8_t none[WG_INITIATION_LEN];
	struct wg_hs_result r;
	unsigned processed, accepted, limited;

	/* Not under load: every initiation is processed. */
	flood(&processed, &accepted, &limited);
	ck_assert_uint_eq(processed, 100);
	ck_assert_uint_eq(limited, 0);

	/* Under load: a cookie round trip, then 100 in one second. */
	wg_device_set_under_load(B.dev, true);
	time_fake_advance(NSEC_PER_SEC);
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &A.addr, reply, &r), 0);
	ck_assert_uint_eq(r.reply_len, WG_COOKIE_LEN);
	ck_assert_int_eq(wg_handle_handshake(A.dev, reply, WG_COOKIE_LEN,
	    &B.addr, none, &r), 0);
	flood(&processed, &accepted, &limited);
	ck_assert_uint_le(processed, 25);
	ck_assert_uint_ge(processed, 20);
	ck_assert_uint_eq(processed + limited, 100);
	/*
	 * After the burst (10 ms apart: the per-peer limit of 50 a second
	 * drops some) what passes is 50 ms apart and answered.
	 */
	ck_assert_uint_ge(accepted, 19);
}
END_TEST

/* Handshakes x -> y in a loop, from its own thread. */
struct hs_loop {
	struct side	*x, *y;
	unsigned	 ok;
	pthread_t	 th;
};

static void *
hs_loop(void *arg)
{
	struct hs_loop *l = arg;
	uint8_t init[WG_INITIATION_LEN], resp[WG_INITIATION_LEN];
	struct wg_hs_result r;
	unsigned i;

	for (i = 0; i < 300; i++) {
		time_fake_advance(30 * NSEC_PER_MSEC);
		if (wg_create_initiation(l->x->peer, init) != 0 ||
		    wg_handle_handshake(l->y->dev, init, sizeof(init),
		    &l->x->addr, resp, &r) != 0 ||
		    r.reply_len != WG_RESPONSE_LEN)
			continue;
		if (wg_handle_handshake(l->x->dev, resp, WG_RESPONSE_LEN,
		    &l->y->addr, init, &r) == 0 && r.established)
			l->ok++;
	}
	return NULL;
}

/*
 * Both sides initiate at once from two threads, each consuming the other's
 * messages: handshakes cross, commits find their state changed and give up
 * (-ESTALE, -EBUSY), nothing deadlocks, and a session works afterwards.
 */
START_TEST(test_concurrent_handshakes)
{
	struct hs_loop l[2] = { { .x = &A, .y = &B }, { .x = &B, .y = &A } };
	int i;

	wg_peer_set_endpoint(B.peer, &A.addr);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&l[i].th, NULL, hs_loop, &l[i]),
		    0);
	for (i = 0; i < 2; i++)
		pthread_join(l[i].th, NULL);
	ck_assert_uint_gt(l[0].ok + l[1].ok, 0);
	time_fake_advance(NSEC_PER_SEC);
	handshake(&A, &B);
	ck_assert_int_eq(transfer(&A, &B, "after the storm"), 0);
	ck_assert_int_eq(transfer(&B, &A, "calm"), 0);
}
END_TEST

/*
 * Both sides initiate at once. B handles A's initiation first, which
 * supersedes its own (its handshake state now answers A's, as in Linux
 * WireGuard), so A's response to B's initiation is refused. If A gets its
 * response before B's initiation, A completes as the initiator and must
 * confirm with a keepalive (dataplane.c sends one after every completed
 * initiation with nothing staged) before B, the responder, may send: one
 * round trip, no second handshake. If A handles B's initiation first, both
 * are responders and neither may send: the initiation's retransmission
 * resolves it (as in Linux WireGuard).
 */
START_TEST(test_crossed_handshakes)
{
	uint8_t ia[WG_INITIATION_LEN], ib[WG_INITIATION_LEN];
	uint8_t ra[WG_INITIATION_LEN], rb[WG_INITIATION_LEN];
	uint8_t none[WG_INITIATION_LEN];
	struct wg_hs_result r;

	wg_peer_set_endpoint(B.peer, &A.addr);
	wg_peer_set_endpoint(A.peer, &B.addr);
	ck_assert_int_eq(wg_create_initiation(A.peer, ia), 0);
	ck_assert_int_eq(wg_create_initiation(B.peer, ib), 0);
	ck_assert_int_eq(wg_handle_handshake(B.dev, ia, sizeof(ia), &A.addr,
	    ra, &r), 0);
	ck_assert_uint_eq(r.reply_len, WG_RESPONSE_LEN);
	if (_i == 0) {
		/* A gets its response before B's initiation */
		ck_assert_int_eq(wg_handle_handshake(A.dev, ra,
		    WG_RESPONSE_LEN, &B.addr, none, &r), 0);
		ck_assert(r.established);
		ck_assert_uint_eq(r.reply_len, 0);
		ck_assert_int_eq(wg_handle_handshake(A.dev, ib, sizeof(ib),
		    &B.addr, rb, &r), 0);
		ck_assert_uint_eq(r.reply_len, WG_RESPONSE_LEN);
		ck_assert_int_eq(wg_handle_handshake(B.dev, rb,
		    WG_RESPONSE_LEN, &A.addr, none, &r), -ENOENT);
		ck_assert_int_eq(transfer(&B, &A, "too early"), -ENOKEY);
		ck_assert_int_eq(transfer(&A, &B, ""), 0);	/* confirms */
	} else {
		ck_assert_int_eq(wg_handle_handshake(A.dev, ib, sizeof(ib),
		    &B.addr, rb, &r), 0);
		ck_assert_uint_eq(r.reply_len, WG_RESPONSE_LEN);
		ck_assert_int_eq(wg_handle_handshake(A.dev, ra,
		    WG_RESPONSE_LEN, &B.addr, none, &r), -ENOENT);
		ck_assert_int_eq(wg_handle_handshake(B.dev, rb,
		    WG_RESPONSE_LEN, &A.addr, none, &r), -ENOENT);
		ck_assert_int_eq(transfer(&A, &B, "responder"), -ENOKEY);
		ck_assert_int_eq(transfer(&B, &A, "responder"), -ENOKEY);
		time_fake_advance(5 * NSEC_PER_SEC);
		handshake(&A, &B);
		ck_assert_int_eq(transfer(&A, &B, ""), 0);
	}
	ck_assert_int_eq(transfer(&B, &A, "from b"), 0);
	ck_assert_int_eq(transfer(&A, &B, "from a"), 0);
	ck_assert_int_eq(transfer(&B, &A, "again b"), 0);
}
END_TEST

START_TEST(test_timers)
{
	unsigned act;

	/* Nothing to do without a session or a wish for one. */
	ck_assert_uint_eq(wg_peer_tick(A.peer), 0);
	wg_peer_want_handshake(A.peer);
	ck_assert(wg_peer_tick(A.peer) & WG_TICK_SEND_INITIATION);
	handshake(&A, &B);
	ck_assert_int_eq(transfer(&A, &B, "x"), 0);
	ck_assert_uint_eq(wg_peer_tick(A.peer), 0);
	/* B received data and sent nothing: keepalive after 10 s. */
	wg_peer_set_endpoint(B.peer, &A.addr);
	ck_assert_uint_eq(wg_peer_tick(B.peer) & WG_TICK_SEND_KEEPALIVE, 0);
	time_fake_advance(10 * NSEC_PER_SEC);
	ck_assert(wg_peer_tick(B.peer) & WG_TICK_SEND_KEEPALIVE);
	ck_assert_int_eq(transfer(&B, &A, ""), 0);
	ck_assert_uint_eq(wg_peer_tick(B.peer) & WG_TICK_SEND_KEEPALIVE, 0);
	/* A sent data 15 s ago and heard nothing since: new handshake. */
	time_fake_advance(NSEC_PER_SEC);
	ck_assert_int_eq(transfer(&A, &B, "y"), 0);
	time_fake_advance(15 * NSEC_PER_SEC);
	act = wg_peer_tick(A.peer);
	ck_assert(act & WG_TICK_SEND_INITIATION);
	/* Rekey after 120 s: the initiator asks for a handshake on send. */
	time_fake_advance(110 * NSEC_PER_SEC);
	wg_keypair_put(wg_peer_send_keypair(A.peer));
	ck_assert(wg_peer_tick(A.peer) & WG_TICK_SEND_INITIATION);
	/* After 180 s the session is unusable. */
	time_fake_advance(60 * NSEC_PER_SEC);
	ck_assert(!wg_peer_has_session(A.peer));
	ck_assert_int_eq(transfer(&A, &B, "late"), -ENOKEY);
}
END_TEST

START_TEST(test_handshake_retry_and_give_up)
{
	uint8_t init[WG_INITIATION_LEN];
	unsigned act, sent = 1;
	int i;

	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	for (i = 0; i < 100; i++) {
		time_fake_advance(NSEC_PER_SEC);
		act = wg_peer_tick(A.peer);
		if (act & WG_TICK_GAVE_UP)
			break;
		if (act & WG_TICK_SEND_INITIATION) {
			ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
			sent++;
		}
	}
	/* Every ~5.x s for 90 s, then give up. */
	ck_assert_int_ge(i, 89);
	ck_assert_int_le(i, 91);
	ck_assert_int_ge(sent, 15);
	ck_assert_int_le(sent, 19);
}
END_TEST

START_TEST(test_persistent_keepalive)
{
	wg_peer_set_keepalive(A.peer, 25);
	ck_assert(wg_peer_tick(A.peer) & WG_TICK_SEND_KEEPALIVE);
	handshake(&A, &B);
	ck_assert_int_eq(transfer(&A, &B, ""), 0);
	time_fake_advance(24 * NSEC_PER_SEC);
	ck_assert_uint_eq(wg_peer_tick(A.peer) & WG_TICK_SEND_KEEPALIVE, 0);
	time_fake_advance(NSEC_PER_SEC);
	ck_assert(wg_peer_tick(A.peer) & WG_TICK_SEND_KEEPALIVE);
}
END_TEST

START_TEST(test_keys_base64)
{
	uint8_t k[32], k2[32];
	char b64[45], hex[65];

	memset(k, 0xa5, 32);
	wg_key_to_base64(k, b64);
	ck_assert_uint_eq(strlen(b64), 44);
	ck_assert_int_eq(wg_key_from_base64(b64, k2), 0);
	ck_assert_int_eq(memcmp(k, k2, 32), 0);
	wg_key_to_hex(k, hex);
	ck_assert_int_eq(wg_key_from_hex(hex, k2), 0);
	ck_assert_int_eq(wg_key_from_base64("short", k2), -EINVAL);
	ck_assert_int_eq(wg_key_from_base64(
	    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=", k2), -EINVAL);
	ck_assert_int_eq(wg_key_from_hex("zz", k2), -EINVAL);
	/* Vector from wg(8): `wg pubkey` of this private key. */
	ck_assert_int_eq(wg_key_from_base64(
	    "YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=", k), 0);
	wg_key_public(k, k2);
	wg_key_to_base64(k2, b64);
	ck_assert_str_eq(b64, "Y2FD6uTgrq+/bbBAXCNOtE+PGk8Papoh7qaWBpQUXn0=");
}
END_TEST

START_TEST(test_peer_management)
{
	struct wg_peer *p;
	uint8_t k[32];

	ck_assert_int_eq(wg_peer_add(A.dev, B.pub, &p), -EEXIST);
	ck_assert_int_eq(wg_peer_add(A.dev, A.pub, &p), -EINVAL);
	ck_assert_ptr_eq(wg_peer_find(A.dev, B.pub), A.peer);
	ck_assert_ptr_eq(wg_peer_next(A.dev, NULL), A.peer);
	ck_assert_ptr_null(wg_peer_next(A.dev, A.peer));
	wg_peer_public_key(A.peer, k);
	ck_assert_int_eq(memcmp(k, B.pub, 32), 0);
	ck_assert_uint_eq(strlen(wg_peer_name(A.peer)), 8);
	handshake(&A, &B);
	wg_peer_remove(A.dev, A.peer);
	ck_assert_ptr_null(wg_peer_find(A.dev, B.pub));
	ck_assert_ptr_null(wg_peer_next(A.dev, NULL));
	ck_assert_int_eq(wg_peer_add(A.dev, B.pub, &p), 0);
}
END_TEST

/*
 * No peer cap, and lookups by key and by index stay right with many peers:
 * 10 000 extra peers on both sides, handshakes and data between A and B,
 * removal of half of them, and a removed peer's indices forgotten.
 */
#define MANY	10000
START_TEST(test_many_peers)
{
	static uint8_t keys[MANY][32];
	static struct wg_peer *pa[MANY];
	struct wg_peer *p, *q;
	uint8_t resp[WG_INITIATION_LEN], init[WG_INITIATION_LEN];
	struct wg_hs_result r;
	size_t n;
	int i;

	for (i = 0; i < MANY; i++) {
		randombytes_buf(keys[i], 32);
		ck_assert_int_eq(wg_peer_add(A.dev, keys[i], &pa[i]), 0);
		ck_assert_int_eq(wg_peer_add(B.dev, keys[i], &p), 0);
	}
	ck_assert_uint_eq(wg_device_peer_count(A.dev), MANY + 1);
	ck_assert_int_eq(wg_peer_add(A.dev, keys[MANY / 2], &p), -EEXIST);
	for (i = 0; i < MANY; i++)
		ck_assert_ptr_eq(wg_peer_find(A.dev, keys[i]), pa[i]);
	for (n = 0, p = NULL; (p = wg_peer_next(A.dev, p)) != NULL; n++)
		;
	ck_assert_uint_eq(n, MANY + 1);

	/* Handshakes find B among the crowd, both ways; data flows. */
	handshake(&A, &B);
	ck_assert_int_eq(transfer(&A, &B, "many"), 0);
	ck_assert_int_eq(transfer(&B, &A, "peers"), 0);
	time_fake_advance(NSEC_PER_SEC);
	handshake(&B, &A);
	ck_assert_int_eq(transfer(&B, &A, "again"), 0);
	ck_assert_int_eq(transfer(&A, &B, "again"), 0);

	/* Half of them go; the rest are still found, the gone are not. */
	for (i = 0; i < MANY; i += 2)
		wg_peer_remove(A.dev, pa[i]);
	ck_assert_uint_eq(wg_device_peer_count(A.dev), MANY / 2 + 1);
	for (i = 0; i < MANY; i++)
		ck_assert_ptr_eq(wg_peer_find(A.dev, keys[i]),
		    i % 2 == 0 ? NULL : pa[i]);
	for (n = 0, p = NULL; (p = wg_peer_next(A.dev, p)) != NULL; n++)
		;
	ck_assert_uint_eq(n, MANY / 2 + 1);

	/* A response to a removed peer's initiation finds nobody. */
	time_fake_advance(NSEC_PER_SEC);
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &A.addr, resp, &r), 0);
	q = A.peer;
	wg_peer_remove(A.dev, q);
	ck_assert_int_eq(wg_handle_handshake(A.dev, resp, WG_RESPONSE_LEN,
	    &B.addr, init, &r), -ENOENT);
	/* Nor does data for its sessions. */
	{
		uint8_t buf[256], *plain;
		size_t len, plen;
		struct wg_keypair *k = wg_peer_send_keypair(B.peer);
		struct wg_peer *from;

		ck_assert_ptr_nonnull(k);
		memcpy(buf + WG_DATA_HDR_LEN, "gone", 4);
		ck_assert_int_eq(wg_encrypt(k, buf, 4, sizeof(buf), &len), 0);
		wg_keypair_put(k);
		ck_assert_int_eq(wg_decrypt(A.dev, buf, len, &B.addr, &plain,
		    &plen, &from), -ENOKEY);
	}
	/* The key may come back as a new peer. */
	ck_assert_int_eq(wg_peer_add(A.dev, B.pub, &A.peer), 0);
	wg_peer_set_endpoint(A.peer, &B.addr);
	memset(init, 0x42, 32);		/* setup's preshared key */
	wg_peer_set_psk(A.peer, init);
	time_fake_advance(NSEC_PER_SEC);
	handshake(&A, &B);
	ck_assert_int_eq(transfer(&A, &B, "back"), 0);
}
END_TEST

/*
 * Peers removed and added while another thread finds and walks them in
 * read-side sections: what it holds stays valid (run under ASan, which
 * sees a peer freed too early).
 */
#define CHURN	64
static uint8_t churn_keys[CHURN][32];
static _Atomic bool churn_stop;

static void *
churn_reader(void *arg)
{
	unsigned long i = 0, found = 0;

	(void)arg;
	while (!atomic_load(&churn_stop)) {
		struct wg_peer *p, *q;
		struct wg_peer_stats st;

		wg_read_lock();
		if ((p = wg_peer_find(A.dev, churn_keys[i++ % CHURN])) !=
		    NULL) {
			found++;
			ck_assert_uint_eq(strlen(wg_peer_name(p)), 8);
			wg_peer_stats(p, &st);
			(void)wg_peer_has_session(p);
			q = p;
			for (int j = 0; j < 4 && (q = wg_peer_next(A.dev, q)) !=
			    NULL; j++)
				wg_peer_stats(q, &st);
		}
		wg_read_unlock();
	}
	return (void *)found;
}

START_TEST(test_remove_while_reading)
{
	struct wg_peer *p[CHURN] = { NULL };
	pthread_t th;
	void *found;
	int i, k;

	for (i = 0; i < CHURN; i++)
		randombytes_buf(churn_keys[i], 32);
	atomic_store(&churn_stop, false);
	ck_assert_int_eq(pthread_create(&th, NULL, churn_reader, NULL), 0);
	for (i = 0; i < 20000; i++) {
		k = (int)randombytes_uniform(CHURN);
		if (p[k] == NULL)
			ck_assert_int_eq(wg_peer_add(A.dev, churn_keys[k],
			    &p[k]), 0);
		else {
			wg_peer_remove(A.dev, p[k]);
			p[k] = NULL;
		}
	}
	atomic_store(&churn_stop, true);
	pthread_join(th, &found);
	ck_assert_ptr_nonnull(found);
	for (i = 0, k = 0; i < CHURN; i++)
		k += p[i] != NULL;
	ck_assert_uint_eq(wg_device_peer_count(A.dev), (size_t)k + 1);
}
END_TEST

/*
 * Relayed arrivals (struct wg_path): the source is the relay, which must
 * never become the peer's endpoint; only direct messages roam (§2.1).
 */
static union fz_sockaddr relay;

static void
relay_setup(void)
{
	ck_assert_int_eq(addr_parse("203.0.113.9:3478", ADDR_PORT_REQUIRED,
	    &relay), 0);
}

/* Seals msg at x; the data message in buf, its length returned. */
static size_t
seal(struct side *x, const char *msg, uint8_t *buf, size_t cap)
{
	struct wg_keypair *k = wg_peer_send_keypair(x->peer);
	size_t n = strlen(msg), len;

	ck_assert_ptr_nonnull(k);
	memcpy(buf + WG_DATA_HDR_LEN, msg, n);
	ck_assert_int_eq(wg_encrypt(k, buf, n, cap, &len), 0);
	wg_keypair_put(k);
	return len;
}

static int
open_via(struct side *y, uint8_t *buf, size_t len, const struct wg_path *path)
{
	struct wg_peer *from;
	uint8_t *plain;
	size_t plen;
	int rc;

	rc = wg_decrypt_via(y->dev, buf, len, path, &plain, &plen, &from);
	if (rc == 0)
		ck_assert_ptr_eq(from, y->peer);
	return rc;
}

/* The peer's endpoint is want (NULL: none). */
static void
endpoint_is(struct wg_peer *p, const union fz_sockaddr *want)
{
	union fz_sockaddr ep;

	if (want == NULL) {
		ck_assert(!wg_peer_endpoint(p, &ep));
		return;
	}
	ck_assert(wg_peer_endpoint(p, &ep));
	ck_assert(addr_eq(&ep.sa, &want->sa));
}

START_TEST(test_relayed_does_not_roam)
{
	uint8_t init[WG_INITIATION_LEN], resp[WG_INITIATION_LEN];
	uint8_t none[WG_INITIATION_LEN], buf[128];
	struct wg_path to_b = { .src = &relay, .relayed = true,
	    .peer = B.peer };
	struct wg_path to_a = { .src = &relay, .relayed = true,
	    .peer = A.peer };
	struct wg_path direct = { .src = &A.addr };
	struct wg_hs_result r;
	union fz_sockaddr moved;
	size_t len;

	relay_setup();
	/* B has no endpoint for A: a relayed initiation gives it none. */
	endpoint_is(B.peer, NULL);
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake_via(B.dev, init, sizeof(init),
	    &to_b, resp, &r), 0);
	ck_assert_ptr_eq(r.peer, B.peer);
	ck_assert_uint_eq(r.reply_len, WG_RESPONSE_LEN);
	ck_assert(r.established);
	endpoint_is(B.peer, NULL);
	/* A has one: a relayed response leaves it. */
	ck_assert_int_eq(wg_handle_handshake_via(A.dev, resp, WG_RESPONSE_LEN,
	    &to_a, none, &r), 0);
	ck_assert(r.established);
	endpoint_is(A.peer, &B.addr);
	/* Relayed data both ways moves neither. */
	len = seal(&A, "relayed a", buf, sizeof(buf));
	ck_assert_int_eq(open_via(&B, buf, len, &to_b), 0);
	endpoint_is(B.peer, NULL);
	len = seal(&B, "relayed b", buf, sizeof(buf));
	ck_assert_int_eq(open_via(&A, buf, len, &to_a), 0);
	endpoint_is(A.peer, &B.addr);
	/* A direct message still roams, and relayed ones do not undo it. */
	len = seal(&A, "direct", buf, sizeof(buf));
	ck_assert_int_eq(open_via(&B, buf, len, &direct), 0);
	endpoint_is(B.peer, &A.addr);
	len = seal(&A, "relayed again", buf, sizeof(buf));
	ck_assert_int_eq(open_via(&B, buf, len, &to_b), 0);
	endpoint_is(B.peer, &A.addr);
	ck_assert_int_eq(addr_parse("198.51.100.7:4000", ADDR_PORT_REQUIRED,
	    &moved), 0);
	direct.src = &moved;
	len = seal(&A, "roamed", buf, sizeof(buf));
	ck_assert_int_eq(open_via(&B, buf, len, &direct), 0);
	endpoint_is(B.peer, &moved);
	/* A direct initiation roams too (the old wrapper is direct). */
	time_fake_advance(NSEC_PER_SEC);
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &A.addr, resp, &r), 0);
	endpoint_is(B.peer, &A.addr);
	/* ... and a relayed initiation, with an endpoint there, keeps it. */
	time_fake_advance(NSEC_PER_SEC);
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake_via(B.dev, init, sizeof(init),
	    &to_b, resp, &r), 0);
	ck_assert(r.established);
	endpoint_is(B.peer, &A.addr);
	/*
	 * A relayed path set by fz-controld (wg_peer_set_path with a
	 * channel) is pinned: a direct message does not roam it away; a
	 * direct path (channel 0) roams again.
	 */
	{
		union fz_sockaddr ep;
		uint16_t ch;

		wg_peer_set_path(B.peer, &relay, 0x4001);
		ck_assert(wg_peer_path(B.peer, &ep, &ch));
		ck_assert_uint_eq(ch, 0x4001);
		direct.src = &moved;
		len = seal(&A, "direct, pinned", buf, sizeof(buf));
		ck_assert_int_eq(open_via(&B, buf, len, &direct), 0);
		endpoint_is(B.peer, &relay);
		ck_assert(wg_peer_path(B.peer, &ep, &ch));
		ck_assert_uint_eq(ch, 0x4001);
		wg_peer_set_path(B.peer, &A.addr, 0);
		len = seal(&A, "direct, free", buf, sizeof(buf));
		ck_assert_int_eq(open_via(&B, buf, len, &direct), 0);
		endpoint_is(B.peer, &moved);
		ck_assert(wg_peer_path(B.peer, &ep, &ch));
		ck_assert_uint_eq(ch, 0);
		/* wg_peer_set_endpoint (static mode, UAPI) is direct */
		wg_peer_set_path(B.peer, &relay, 0x4002);
		wg_peer_set_endpoint(B.peer, &A.addr);
		ck_assert(wg_peer_path(B.peer, &ep, &ch));
		ck_assert_uint_eq(ch, 0);
	}
}
END_TEST

/*
 * A message on A's relay channel that authenticates as another peer (C) is
 * refused with -EPERM before it changes anything of C's: no session, no
 * endpoint, no replay state (the same packet is still good directly).
 */
START_TEST(test_relayed_other_peer_refused)
{
	uint8_t init[WG_INITIATION_LEN], resp[WG_INITIATION_LEN];
	uint8_t none[WG_INITIATION_LEN], buf[128], copy[128];
	struct side C;
	struct wg_peer *c_on_b;
	struct wg_path on_a = { .src = &relay, .relayed = true,
	    .peer = B.peer };
	struct wg_hs_result r;
	size_t len;

	relay_setup();
	memset(&C, 0, sizeof(C));
	memset(C.priv, 0x33, 32);
	C.priv[0] &= 248;
	C.priv[31] = (C.priv[31] & 127) | 64;
	wg_key_public(C.priv, C.pub);
	ck_assert_int_eq(wg_device_new(C.priv, &C.dev), 0);
	ck_assert_int_eq(addr_parse("192.0.2.3:51820", ADDR_PORT_REQUIRED,
	    &C.addr), 0);
	ck_assert_int_eq(wg_peer_add(C.dev, B.pub, &C.peer), 0);
	ck_assert_int_eq(wg_peer_add(B.dev, C.pub, &c_on_b), 0);
	wg_peer_set_endpoint(C.peer, &B.addr);

	/* C's initiation on A's channel: refused, C untouched at B. */
	ck_assert_int_eq(wg_create_initiation(C.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake_via(B.dev, init, sizeof(init),
	    &on_a, resp, &r), -EPERM);
	ck_assert_uint_eq(r.reply_len, 0);
	ck_assert(!wg_peer_has_session(c_on_b));
	endpoint_is(c_on_b, NULL);
	/* The same initiation directly is fresh (its timestamp unused). */
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &C.addr, resp, &r), 0);
	ck_assert_ptr_eq(r.peer, c_on_b);
	endpoint_is(c_on_b, &C.addr);
	/*
	 * B's response, relayed to C on a channel registered for another
	 * peer (c_on_b stands for one: any peer but C.peer).
	 */
	ck_assert_int_eq(wg_handle_handshake_via(C.dev, resp, WG_RESPONSE_LEN,
	    &(struct wg_path){ .src = &relay, .relayed = true,
	    .peer = c_on_b }, none, &r), -EPERM);
	ck_assert(!wg_peer_has_session(C.peer));
	ck_assert_int_eq(wg_handle_handshake(C.dev, resp, WG_RESPONSE_LEN,
	    &B.addr, none, &r), 0);
	ck_assert(r.established);

	/* C's data on A's channel: refused before the tag, kept fresh. */
	len = seal(&C, "not A", buf, sizeof(buf));
	memcpy(copy, buf, len);
	ck_assert_int_eq(wg_decrypt_via(B.dev, buf, len, &on_a,
	    &(uint8_t *){ NULL }, &(size_t){ 0 }, &(struct wg_peer *){ NULL }),
	    -EPERM);
	endpoint_is(c_on_b, &C.addr);
	ck_assert_int_eq(wg_decrypt(B.dev, copy, len, &C.addr,
	    &(uint8_t *){ NULL }, &(size_t){ 0 }, &(struct wg_peer *){ NULL }),
	    0);
	wg_device_free(C.dev);
}
END_TEST

/*
 * Under load, a relayed initiation's cookie is bound to the relay's
 * address and port (the only source B sees, and where the cookie reply
 * goes): the initiation with that cookie's mac2 passes relayed, and the
 * same cookie does not pass from A's own address.
 */
START_TEST(test_relayed_cookie_bound_to_relay)
{
	uint8_t init[WG_INITIATION_LEN], reply[WG_INITIATION_LEN];
	uint8_t none[WG_INITIATION_LEN];
	struct wg_path to_b = { .src = &relay, .relayed = true,
	    .peer = B.peer };
	struct wg_path to_a = { .src = &relay, .relayed = true,
	    .peer = A.peer };
	struct wg_hs_result r;

	relay_setup();
	wg_device_set_under_load(B.dev, true);
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake_via(B.dev, init, sizeof(init),
	    &to_b, reply, &r), 0);
	ck_assert_uint_eq(r.reply_len, WG_COOKIE_LEN);
	ck_assert(!r.established);
	endpoint_is(B.peer, NULL);
	/* The cookie reply comes back relayed, on A's peer's channel. */
	ck_assert_int_eq(wg_handle_handshake_via(A.dev, reply, WG_COOKIE_LEN,
	    &to_a, none, &r), 0);
	ck_assert_ptr_eq(r.peer, A.peer);
	endpoint_is(A.peer, &B.addr);
	/* From A's address the relay's cookie is no good: another cookie. */
	time_fake_advance(NSEC_PER_SEC);
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &A.addr, reply, &r), 0);
	ck_assert_uint_eq(r.reply_len, WG_COOKIE_LEN);
	endpoint_is(B.peer, NULL);
	/* Relayed again, the same initiation's mac2 is valid. */
	ck_assert_int_eq(wg_handle_handshake_via(B.dev, init, sizeof(init),
	    &to_b, reply, &r), 0);
	ck_assert_uint_eq(r.reply_len, WG_RESPONSE_LEN);
	ck_assert(r.established);
	endpoint_is(B.peer, NULL);
}
END_TEST

static Suite *
wg_suite(void)
{
	Suite *s = suite_create("wg_noise");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);	/* test_many_peers under ASan */
	tcase_add_test(tc, test_handshake_and_data);
	tcase_add_test(tc, test_handshake_reverse_and_rekey);
	tcase_add_test(tc, test_replay_rejected);
	tcase_add_test(tc, test_replay_window);
	tcase_add_test(tc, test_tampered_and_garbage);
	tcase_add_test(tc, test_initiation_replay_and_unknown_peer);
	tcase_add_test(tc, test_cookie_under_load);
	tcase_add_test(tc, test_handshake_ratelimit);
	tcase_add_test(tc, test_concurrent_handshakes);
	tcase_add_loop_test(tc, test_crossed_handshakes, 0, 2);
	tcase_add_test(tc, test_timers);
	tcase_add_test(tc, test_handshake_retry_and_give_up);
	tcase_add_test(tc, test_persistent_keepalive);
	tcase_add_test(tc, test_keys_base64);
	tcase_add_test(tc, test_peer_management);
	tcase_add_test(tc, test_many_peers);
	tcase_add_test(tc, test_remove_while_reading);
	tcase_add_test(tc, test_relayed_does_not_roam);
	tcase_add_test(tc, test_relayed_other_peer_refused);
	tcase_add_test(tc, test_relayed_cookie_bound_to_relay);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(wg_suite)
