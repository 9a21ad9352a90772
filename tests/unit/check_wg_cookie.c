/* SPDX-License-Identifier: ISC */
/*
 * MAC1, MAC2 and cookie replies of tunneld/wg/cookie.c (the WireGuard
 * paper, §5.4.4 and §5.4.7), called directly on the fake clock: mac1 over
 * every byte, mac2 only under load, a cookie bound to address and port,
 * one cookie per mac1, and the responder's secret rotated after 120 s.
 */
#include <errno.h>
#include <string.h>

#include "fztime.h"
#include "messages.h"
#include "wg_int.h"
#include "check_util.h"
#include "wg_pair.h"

#define S	NSEC_PER_SEC

static struct side A, B;		/* A initiates, B answers */

static void
setup(void)
{
	time_fake_enable(1000 * S, 1700000000ULL * S);
	wg_pair_new(&A, &B, 0x31);
	wg_device_set_under_load(B.dev, true);
}

static void
teardown(void)
{
	wg_pair_free(&A, &B);
	time_fake_disable();
}

static void
initiation(uint8_t msg[WG_INITIATION_LEN])
{
	ck_assert_int_eq(wg_create_initiation(A.peer, msg), 0);
}

/* B answers msg from src with a cookie reply; A takes it: 0 or -errno. */
static int
cookie_round(const uint8_t msg[WG_INITIATION_LEN],
    const union fz_sockaddr *src)
{
	uint8_t reply[WG_COOKIE_LEN];
	struct wg_hs_result r;
	int rc;

	memset(&r, 0, sizeof(r));
	ck_assert_uint_eq(wg_cookie_reply_create(B.dev, msg,
	    WG_INITIATION_LEN, src, reply), WG_COOKIE_LEN);
	ck_assert_int_eq(wg_msg_type(reply, sizeof(reply)), WG_MSG_COOKIE);
	wg_read_lock();
	rc = wg_cookie_reply_consume(A.dev, reply, &r);
	wg_read_unlock();
	ck_assert(rc != 0 || r.peer == A.peer);
	return rc;
}

static int
check(const uint8_t *msg, const union fz_sockaddr *src)
{
	return wg_cookie_check_macs(B.dev, msg, WG_INITIATION_LEN, src);
}

/* mac1 covers every byte before it; mac2 is not looked at unless loaded. */
START_TEST(test_mac1_covers_the_message)
{
	uint8_t msg[WG_INITIATION_LEN];
	size_t i;

	wg_device_set_under_load(B.dev, false);
	initiation(msg);
	ck_assert_int_eq(check(msg, &A.addr), WG_MACS_OK);
	for (i = 0; i < WG_INIT_MAC2; i++) {
		msg[i] ^= 0x01;
		ck_assert_int_eq(check(msg, &A.addr), -EBADMSG);
		msg[i] ^= 0x01;
	}
	msg[WG_INIT_MAC2] ^= 0xff;
	ck_assert_int_eq(check(msg, &A.addr), WG_MACS_OK);
}
END_TEST

START_TEST(test_cookie_round_trip)
{
	uint8_t msg[WG_INITIATION_LEN];
	static const uint8_t zero[WG_MAC_LEN];

	initiation(msg);
	ck_assert_int_eq(memcmp(msg + WG_INIT_MAC2, zero, WG_MAC_LEN), 0);
	ck_assert_int_eq(check(msg, &A.addr), WG_MACS_NEED_COOKIE);
	ck_assert_int_eq(cookie_round(msg, &A.addr), 0);
	initiation(msg);
	ck_assert_int_ne(memcmp(msg + WG_INIT_MAC2, zero, WG_MAC_LEN), 0);
	ck_assert_int_eq(check(msg, &A.addr), WG_MACS_COOKIE_OK);
	/* mac2 covers mac1 and everything before it. */
	msg[WG_INIT_MAC2 - 1] ^= 1;
	ck_assert_int_eq(check(msg, &A.addr), -EBADMSG);
	msg[WG_INIT_MAC2 - 1] ^= 1;
	msg[WG_INIT_MAC2] ^= 1;
	ck_assert_int_eq(check(msg, &A.addr), WG_MACS_NEED_COOKIE);
}
END_TEST

/* The cookie is MAC(secret, ip || port): another port, another cookie. */
START_TEST(test_cookie_bound_to_address)
{
	uint8_t msg[WG_INITIATION_LEN];
	union fz_sockaddr port, v6;

	ck_assert_int_eq(addr_parse("192.0.2.1:51821", ADDR_PORT_REQUIRED,
	    &port), 0);
	ck_assert_int_eq(addr_parse("[2001:db8::1]:51820", ADDR_PORT_REQUIRED,
	    &v6), 0);
	initiation(msg);
	ck_assert_int_eq(cookie_round(msg, &A.addr), 0);
	initiation(msg);
	ck_assert_int_eq(check(msg, &A.addr), WG_MACS_COOKIE_OK);
	ck_assert_int_eq(check(msg, &port), WG_MACS_NEED_COOKIE);
	ck_assert_int_eq(check(msg, &v6), WG_MACS_NEED_COOKIE);
	/* An IPv6 source gets a cookie of its own. */
	ck_assert_int_eq(cookie_round(msg, &v6), 0);
	initiation(msg);
	ck_assert_int_eq(check(msg, &v6), WG_MACS_COOKIE_OK);
	ck_assert_int_eq(check(msg, &A.addr), WG_MACS_NEED_COOKIE);
}
END_TEST

/*
 * A cookie reply is sealed to the mac1 it answers: one reply per mac1,
 * none for an older message, and none for an index we never gave.
 */
START_TEST(test_cookie_reply_refused)
{
	uint8_t old[WG_INITIATION_LEN], msg[WG_INITIATION_LEN];
	uint8_t reply[WG_COOKIE_LEN];
	struct wg_hs_result r;
	int rc;

	initiation(old);
	initiation(msg);
	/* The reply to old names old's sender index: gone with msg. */
	ck_assert_int_eq(cookie_round(old, &A.addr), -ENOENT);
	/* The same index with another mac1: the seal does not open. */
	memcpy(old + WG_INIT_SENDER, msg + WG_INIT_SENDER, 4);
	ck_assert_int_eq(cookie_round(old, &A.addr), -EBADMSG);
	ck_assert_int_eq(cookie_round(msg, &A.addr), 0);
	ck_assert_int_eq(cookie_round(msg, &A.addr), -EBADMSG);
	/* A tampered reply. */
	initiation(msg);
	ck_assert_uint_eq(wg_cookie_reply_create(B.dev, msg,
	    WG_INITIATION_LEN, &A.addr, reply), WG_COOKIE_LEN);
	reply[WG_COOKIE_SEALED] ^= 1;
	wg_read_lock();
	rc = wg_cookie_reply_consume(A.dev, reply, &r);
	wg_read_unlock();
	ck_assert_int_eq(rc, -EBADMSG);
}
END_TEST

/*
 * The responder's secret lives 120 s from its first use; the initiator
 * uses a cookie for 120 s from its receipt.
 */
START_TEST(test_cookie_secret_rotation)
{
	uint8_t msg[WG_INITIATION_LEN];
	static const uint8_t zero[WG_MAC_LEN];

	initiation(msg);
	ck_assert_int_eq(cookie_round(msg, &A.addr), 0);
	time_fake_advance(120 * S - 1);
	initiation(msg);
	ck_assert_int_eq(check(msg, &A.addr), WG_MACS_COOKIE_OK);
	time_fake_advance(1);
	/* The initiator's cookie is too old to use: mac2 is zero. */
	initiation(msg);
	ck_assert_int_eq(memcmp(msg + WG_INIT_MAC2, zero, WG_MAC_LEN), 0);
	/* Used anyway, it no longer matches: the secret changed. */
	pthread_mutex_lock(&A.peer->lock);
	A.peer->cookie_time = time_mono_ns();
	pthread_mutex_unlock(&A.peer->lock);
	initiation(msg);
	ck_assert_int_ne(memcmp(msg + WG_INIT_MAC2, zero, WG_MAC_LEN), 0);
	ck_assert_int_eq(check(msg, &A.addr), WG_MACS_NEED_COOKIE);
	/* A fresh cookie from the new secret works. */
	ck_assert_int_eq(cookie_round(msg, &A.addr), 0);
	initiation(msg);
	ck_assert_int_eq(check(msg, &A.addr), WG_MACS_COOKIE_OK);
}
END_TEST

static Suite *
cookie_suite(void)
{
	Suite *s = suite_create("wg_cookie");
	TCase *tc = tcase_create("macs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mac1_covers_the_message);
	tcase_add_test(tc, test_cookie_round_trip);
	tcase_add_test(tc, test_cookie_bound_to_address);
	tcase_add_test(tc, test_cookie_reply_refused);
	tcase_add_test(tc, test_cookie_secret_rotation);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cookie_suite)
