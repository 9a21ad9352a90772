/* SPDX-License-Identifier: ISC */
/* The data plane's handshake queue (tunneld/dp/hsq.h). */
#include <pthread.h>
#include <string.h>

#include "check_util.h"
#include "hsq.h"

static union fz_sockaddr src;

static void
setup(void)
{
	ck_assert_int_eq(addr_parse("192.0.2.7:51820", ADDR_PORT_REQUIRED,
	    &src), 0);
}

/* In order, copied, bounded; full drops; lengths outside 1..148 refused. */
START_TEST(test_fifo_bounded)
{
	struct hsq q;
	struct hsq_item it;
	uint8_t msg[WG_INITIATION_LEN];
	unsigned i;

	ck_assert_int_eq(hsq_init(&q, 16), 0);
	ck_assert(!hsq_push(&q, 3, &src, 0, msg, 0, 1));
	ck_assert(!hsq_push(&q, 3, &src, 0, msg, sizeof(msg) + 1, 1));
	for (i = 0; i < 16; i++) {
		memset(msg, (int)i, sizeof(msg));
		ck_assert(hsq_push(&q, (int)i, &src, (uint16_t)i, msg,
		    i == 5 ? WG_COOKIE_LEN : sizeof(msg), 1));
	}
	ck_assert_uint_eq(hsq_len(&q), 16);
	ck_assert(!hsq_push(&q, 99, &src, 0, msg, sizeof(msg), 1));
	memset(msg, 0xee, sizeof(msg));		/* the queue has copies */
	for (i = 0; i < 16; i++) {
		ck_assert(hsq_pop_wait(&q, &it));
		ck_assert_int_eq(it.fd, (int)i);
		ck_assert_uint_eq(it.channel, i);
		ck_assert_uint_eq(it.len, i == 5 ? WG_COOKIE_LEN :
		    WG_INITIATION_LEN);
		ck_assert_uint_eq(it.msg[0], i);
		ck_assert_uint_eq(it.msg[it.len - 1], i);
		ck_assert(addr_eq(&it.src.sa, &src.sa));
		/* room again: the ring wraps */
		ck_assert(hsq_push(&q, 100 + (int)i, &src, 0, msg, 32, 1));
	}
	for (i = 0; i < 16; i++) {
		ck_assert(hsq_pop_wait(&q, &it));
		ck_assert_int_eq(it.fd, 100 + (int)i);
	}
	ck_assert_uint_eq(hsq_len(&q), 0);
	hsq_destroy(&q);
}
END_TEST

/* Under load from an eighth of the capacity, for a second after. */
START_TEST(test_load)
{
	struct hsq q;
	struct hsq_item it;
	uint8_t msg[WG_INITIATION_LEN] = { 1 };
	const uint64_t t0 = 5000000000ull;
	unsigned i;

	ck_assert_int_eq(hsq_init(&q, 64), 0);
	ck_assert(!hsq_under_load(&q, t0));
	for (i = 0; i < 7; i++)
		ck_assert(hsq_push(&q, 3, &src, 0, msg, sizeof(msg), t0));
	ck_assert(!hsq_under_load(&q, t0));
	ck_assert(hsq_push(&q, 3, &src, 0, msg, sizeof(msg), t0));
	ck_assert(hsq_under_load(&q, t0));
	while (hsq_len(&q) > 0)
		ck_assert(hsq_pop_wait(&q, &it));
	ck_assert(hsq_under_load(&q, t0 + HSQ_LOAD_NS - 1));
	ck_assert(!hsq_under_load(&q, t0 + HSQ_LOAD_NS));
	hsq_set_loaded(&q, t0 + 10 * HSQ_LOAD_NS);
	ck_assert(hsq_under_load(&q, t0 + 9 * HSQ_LOAD_NS));
	hsq_destroy(&q);
}
END_TEST

struct consumer {
	struct hsq	*q;
	unsigned	 got;
	int		 last;
	bool		 ordered;
};

static void *
consume(void *arg)
{
	struct consumer *c = arg;
	struct hsq_item it;

	while (hsq_pop_wait(c->q, &it)) {
		if (it.fd != c->last + 1)
			c->ordered = false;
		c->last = it.fd;
		c->got++;
	}
	return NULL;
}

/* A sleeping consumer wakes on a kick, and hsq_stop ends it. */
START_TEST(test_consumer_thread)
{
	struct hsq q;
	struct consumer c = { &q, 0, -1, true };
	uint8_t msg[WG_COOKIE_LEN] = { 3 };
	pthread_t th;
	int i, tries;

	ck_assert_int_eq(hsq_init(&q, 0), 0);
	ck_assert_uint_eq(q.cap, HSQ_CAP);
	ck_assert_int_eq(pthread_create(&th, NULL, consume, &c), 0);
	for (i = 0; i < 10000; i++) {
		while (!hsq_push(&q, i, &src, 0, msg, sizeof(msg), 1))
			hsq_kick(&q);
		if (i % 64 == 63)
			hsq_kick(&q);
	}
	hsq_kick(&q);
	for (tries = 0; tries < 5000 && hsq_len(&q) > 0; tries++) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	ck_assert_uint_eq(hsq_len(&q), 0);
	hsq_stop(&q);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert(c.ordered);
	ck_assert_uint_eq(c.got, 10000);
	ck_assert(!hsq_push(&q, 0, &src, 0, msg, sizeof(msg), 1));
	hsq_destroy(&q);
	hsq_destroy(&q);		/* twice is harmless */
}
END_TEST

static Suite *
hsq_suite(void)
{
	Suite *s = suite_create("hsq");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_fifo_bounded);
	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_consumer_thread);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(hsq_suite)
