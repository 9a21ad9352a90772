/* SPDX-License-Identifier: ISC */
/*
 * tunneld/dp/rx.c: the receive classifier as a table of datagrams (every
 * kind at, just below and just above its sizes), ChannelData unwrapping,
 * the relay-channel table and the bounded STUN queue.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "check_util.h"
#include "fztime.h"
#include "rx.h"

static uint8_t buf[70000];

/* A datagram: first bytes given, the rest zero, n bytes in all. */
static const uint8_t *
dgram(size_t n, const uint8_t *head, size_t hn)
{
	memset(buf, 0, n + 16);
	memcpy(buf, head, hn);
	return buf;
}

struct row {
	const char	*what;
	uint8_t		 head[8];
	size_t		 hn, n;
	enum dp_pkt	 want;
};

#define H(...)	{ __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ })

static const struct row rows[] = {
	{ "empty", H(0), 0, DP_PKT_UNKNOWN },
	{ "3 bytes", H(1, 0, 0), 3, DP_PKT_UNKNOWN },
	{ "initiation", H(1, 0, 0, 0), 148, DP_PKT_WG_INITIATION },
	{ "initiation short", H(1, 0, 0, 0), 147, DP_PKT_UNKNOWN },
	{ "initiation long", H(1, 0, 0, 0), 149, DP_PKT_UNKNOWN },
	{ "initiation reserved", H(1, 0, 1, 0), 148, DP_PKT_UNKNOWN },
	{ "response", H(2, 0, 0, 0), 92, DP_PKT_WG_RESPONSE },
	{ "response short", H(2, 0, 0, 0), 91, DP_PKT_UNKNOWN },
	{ "response long", H(2, 0, 0, 0), 148, DP_PKT_UNKNOWN },
	{ "cookie", H(3, 0, 0, 0), 64, DP_PKT_WG_COOKIE },
	{ "cookie long", H(3, 0, 0, 0), 65, DP_PKT_UNKNOWN },
	{ "cookie short", H(3, 0, 0, 0), 63, DP_PKT_UNKNOWN },
	{ "keepalive", H(4, 0, 0, 0), 32, DP_PKT_WG_DATA },
	{ "data", H(4, 0, 0, 0), 1452, DP_PKT_WG_DATA },
	{ "data short", H(4, 0, 0, 0), 31, DP_PKT_UNKNOWN },
	{ "data reserved", H(4, 1, 0, 0), 64, DP_PKT_UNKNOWN },
	{ "type 5", H(5, 0, 0, 0), 64, DP_PKT_UNKNOWN },
	{ "type 0", H(0, 0, 0, 0), 64, DP_PKT_UNKNOWN },
	{ "channel exact", H(0x40, 0x00, 0x00, 0x20), 36,
	    DP_PKT_CHANNEL_DATA },
	{ "channel 0x4fff", H(0x4f, 0xff, 0x00, 0x05), 9,
	    DP_PKT_CHANNEL_DATA },
	{ "channel padded", H(0x40, 0x01, 0x00, 0x05), 12,
	    DP_PKT_CHANNEL_DATA },
	{ "channel over-padded", H(0x40, 0x01, 0x00, 0x05), 13,
	    DP_PKT_UNKNOWN },
	{ "channel padding on aligned", H(0x40, 0x01, 0x00, 0x08), 16,
	    DP_PKT_UNKNOWN },
	{ "channel truncated", H(0x40, 0x01, 0x00, 0x20), 35,
	    DP_PKT_UNKNOWN },
	{ "channel empty", H(0x40, 0x01, 0x00, 0x00), 4,
	    DP_PKT_CHANNEL_DATA },
	{ "channel header only", H(0x40, 0x01, 0x00), 3, DP_PKT_UNKNOWN },
	{ "channel 0x5000", H(0x50, 0x00, 0x00, 0x04), 8, DP_PKT_UNKNOWN },
	{ "channel 0x7fff", H(0x7f, 0xff, 0x00, 0x04), 8, DP_PKT_UNKNOWN },
	{ "stun binding", H(0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42),
	    20, DP_PKT_STUN },
	{ "stun with attributes", H(0x01, 0x01, 0x00, 0x0c, 0x21, 0x12,
	    0xa4, 0x42), 32, DP_PKT_STUN },
	{ "stun binding success", H(0x01, 0x01, 0x00, 0x0c, 0x21, 0x12,
	    0xa4, 0x42), 32, DP_PKT_STUN },
	{ "stun allocate error", H(0x01, 0x13, 0x00, 0x10, 0x21, 0x12,
	    0xa4, 0x42), 36, DP_PKT_STUN },
	{ "stun length 0x3ffc", H(0x01, 0x01, 0x3f, 0xfc, 0x21, 0x12,
	    0xa4, 0x42), 20 + 0x3ffc, DP_PKT_STUN },
	{ "stun length too long", H(0x01, 0x01, 0x00, 0x0c, 0x21, 0x12,
	    0xa4, 0x42), 31, DP_PKT_UNKNOWN },
	{ "stun length too short", H(0x01, 0x01, 0x00, 0x0c, 0x21, 0x12,
	    0xa4, 0x42), 36, DP_PKT_UNKNOWN },
	{ "stun length not x4", H(0x00, 0x01, 0x00, 0x02, 0x21, 0x12,
	    0xa4, 0x42), 22, DP_PKT_UNKNOWN },
	{ "stun bad cookie", H(0x00, 0x01, 0x00, 0x00, 0x21, 0x12,
	    0xa4, 0x43), 20, DP_PKT_UNKNOWN },
	{ "stun top bits 01", H(0x40 | 0x10, 0x01, 0x00, 0x00, 0x21, 0x12,
	    0xa4, 0x42), 20, DP_PKT_UNKNOWN },
	{ "stun top bits 10", H(0x80, 0x01, 0x00, 0x00, 0x21, 0x12,
	    0xa4, 0x42), 20, DP_PKT_UNKNOWN },
	{ "stun header short", H(0x00, 0x01, 0x00, 0x00, 0x21, 0x12,
	    0xa4, 0x42), 19, DP_PKT_UNKNOWN },
	/* Type 1 with a cookie where its sender index is: still WireGuard. */
	{ "initiation with cookie", H(0x01, 0x00, 0x00, 0x00, 0x21, 0x12,
	    0xa4, 0x42), 148, DP_PKT_WG_INITIATION },
	{ "garbage", H(0xff, 0xff, 0xff, 0xff), 100, DP_PKT_UNKNOWN },
	{ "dns-like", H(0x12, 0x34, 0x01, 0x00), 40, DP_PKT_UNKNOWN },
};

START_TEST(test_classify_table)
{
	const struct row *r = &rows[_i];
	const uint8_t *p = dgram(r->n, r->head, r->hn);

	ck_assert_msg(dp_classify(p, r->n) == r->want,
	    "%s (%zu bytes): %s, want %s", r->what, r->n,
	    dp_pkt_name(dp_classify(p, r->n)), dp_pkt_name(r->want));
}
END_TEST

START_TEST(test_channeldata)
{
	static const uint8_t m[] = { 0x40, 0x07, 0x00, 0x05,
	    'h', 'e', 'l', 'l', 'o', 0, 0, 0 };
	const uint8_t *inner;
	uint16_t ch;
	size_t n;

	ck_assert_int_eq(dp_classify(m, sizeof(m)), DP_PKT_CHANNEL_DATA);
	dp_channeldata(m, sizeof(m), &ch, &inner, &n);
	ck_assert_uint_eq(ch, 0x4007);
	ck_assert_uint_eq(n, 5);
	ck_assert_ptr_eq(inner, m + 4);
	ck_assert_mem_eq(inner, "hello", 5);
}
END_TEST

static union fz_sockaddr
sa(const char *s)
{
	union fz_sockaddr a;

	ck_assert_int_eq(addr_parse(s, ADDR_PORT_REQUIRED, &a), 0);
	return a;
}

START_TEST(test_chans)
{
	struct dp_chans t;
	union fz_sockaddr r1 = sa("192.0.2.1:3478"), r2 = sa("[2001:db8::1]:3478");
	union fz_sockaddr r1p = sa("192.0.2.1:3479");
	int p1, p2;
	unsigned i;

	dp_chans_init(&t);
	ck_assert_ptr_null(dp_chans_lookup(&t, &r1, 0x4000));
	ck_assert_int_eq(dp_chans_add(&t, &r1, 0x4000, &p1), 0);
	ck_assert_int_eq(dp_chans_add(&t, &r1, 0x4000, &p1), 0);
	ck_assert_int_eq(dp_chans_add(&t, &r1, 0x4000, &p2), -EEXIST);
	ck_assert_int_eq(dp_chans_add(&t, &r1, 0x3fff, &p1), -EINVAL);
	ck_assert_int_eq(dp_chans_add(&t, &r1, 0x5000, &p1), -EINVAL);
	ck_assert_int_eq(dp_chans_add(&t, &r2, 0x4000, &p2), 0);
	ck_assert_int_eq(dp_chans_add(&t, &r1, 0x4fff, &p2), 0);
	ck_assert_ptr_eq(dp_chans_lookup(&t, &r1, 0x4000), &p1);
	ck_assert_ptr_eq(dp_chans_lookup(&t, &r2, 0x4000), &p2);
	ck_assert_ptr_eq(dp_chans_lookup(&t, &r1, 0x4fff), &p2);
	/* Another port of the same host is another relay socket. */
	ck_assert_ptr_null(dp_chans_lookup(&t, &r1p, 0x4000));
	ck_assert_ptr_null(dp_chans_lookup(&t, &r1, 0x4001));
	ck_assert_uint_eq(dp_chans_count(&t), 3);
	ck_assert_int_eq(dp_chans_remove(&t, &r1, 0x4000), 0);
	ck_assert_int_eq(dp_chans_remove(&t, &r1, 0x4000), -ENOENT);
	ck_assert_ptr_null(dp_chans_lookup(&t, &r1, 0x4000));
	dp_chans_remove_peer(&t, &p2);
	ck_assert_uint_eq(dp_chans_count(&t), 0);
	ck_assert_ptr_null(dp_chans_lookup(&t, &r2, 0x4000));
	/* Many: the table grows and keeps every binding. */
	for (i = 0; i < 4096; i++)
		ck_assert_int_eq(dp_chans_add(&t, i & 1 ? &r1 : &r2,
		    (uint16_t)(0x4000 + i), i & 2 ? &p1 : &p2), 0);
	for (i = 0; i < 4096; i++)
		ck_assert_ptr_eq(dp_chans_lookup(&t, i & 1 ? &r1 : &r2,
		    (uint16_t)(0x4000 + i)), i & 2 ? (void *)&p1 : (void *)&p2);
	dp_chans_remove_peer(&t, &p1);
	ck_assert_uint_eq(dp_chans_count(&t), 2048);
	dp_chans_destroy(&t);
}
END_TEST

/* A path change retires the peer's old channels: they receive until then. */
START_TEST(test_chans_retire)
{
	struct dp_chans t;
	union fz_sockaddr r1 = sa("192.0.2.1:3478"), r2 = sa("[2001:db8::1]:3478");
	int p1, p2;

	dp_chans_init(&t);
	ck_assert_int_eq(dp_chans_add(&t, &r1, 0x4000, &p1), 0);
	ck_assert_int_eq(dp_chans_add(&t, &r2, 0x4001, &p1), 0);
	ck_assert_int_eq(dp_chans_add(&t, &r1, 0x4002, &p2), 0);
	dp_chans_retire_peer(&t, &p1, time_mono_ns() + 60000000000ull);
	ck_assert_ptr_eq(dp_chans_lookup(&t, &r1, 0x4000), &p1);
	ck_assert_ptr_eq(dp_chans_lookup(&t, &r2, 0x4001), &p1);
	ck_assert_ptr_eq(dp_chans_lookup(&t, &r1, 0x4002), &p2);
	/* The new path's channel, one of the old ones: permanent again. */
	ck_assert_int_eq(dp_chans_add(&t, &r2, 0x4001, &p1), 0);
	/* A retiring binding is another peer's to take. */
	ck_assert_int_eq(dp_chans_add(&t, &r1, 0x4000, &p2), 0);
	ck_assert_ptr_eq(dp_chans_lookup(&t, &r1, 0x4000), &p2);
	ck_assert_int_eq(dp_chans_add(&t, &r1, 0x4000, &p1), -EEXIST);
	ck_assert_uint_eq(dp_chans_count(&t), 3);
	/* Time up: no longer received, and freed by the next change. */
	dp_chans_retire_peer(&t, &p2, 1);
	ck_assert_ptr_null(dp_chans_lookup(&t, &r1, 0x4000));
	ck_assert_ptr_null(dp_chans_lookup(&t, &r1, 0x4002));
	ck_assert_ptr_eq(dp_chans_lookup(&t, &r2, 0x4001), &p1);
	ck_assert_int_eq(dp_chans_add(&t, &r1, 0x4003, &p1), 0);
	ck_assert_uint_eq(dp_chans_count(&t), 2);
	ck_assert_int_eq(dp_chans_remove(&t, &r1, 0x4000), -ENOENT);
	/* Removing a peer removes its retiring bindings at once. */
	dp_chans_retire_peer(&t, &p1, time_mono_ns() + 60000000000ull);
	dp_chans_remove_peer(&t, &p1);
	ck_assert_uint_eq(dp_chans_count(&t), 0);
	ck_assert_ptr_null(dp_chans_lookup(&t, &r2, 0x4001));
	ck_assert_int_eq(dp_chans_add(&t, &r2, 0x4001, &p2), 0);
	dp_chans_destroy(&t);
}
END_TEST

START_TEST(test_stunq)
{
	struct dp_stunq q;
	struct dp_stun s;
	union fz_sockaddr from = sa("198.51.100.7:3478"), local =
	    sa("10.0.0.1:51820");
	uint8_t d[DP_STUN_MAX + 1];
	unsigned i;

	memset(d, 0xab, sizeof(d));
	ck_assert_int_eq(dp_stunq_init(&q, 4), 0);
	ck_assert(!dp_stunq_pop(&q, &s));
	for (i = 0; i < 4; i++) {
		d[0] = (uint8_t)i;
		ck_assert(dp_stunq_push(&q, DP_SOCK_UDP4, &from, &local, d,
		    20 + i * 4));
	}
	ck_assert(!dp_stunq_push(&q, DP_SOCK_UDP4, &from, &local, d, 20));
	for (i = 0; i < 4; i++) {
		ck_assert(dp_stunq_pop(&q, &s));
		ck_assert_uint_eq(s.data[0], i);
		ck_assert_uint_eq(s.len, 20 + i * 4);
		ck_assert_uint_eq(s.sock, DP_SOCK_UDP4);
		ck_assert(addr_eq(&s.from.sa, &from.sa));
		ck_assert(addr_eq(&s.local.sa, &local.sa));
		/* the ring wraps */
		ck_assert(dp_stunq_push(&q, DP_SOCK_UDP6, &from, &local, d,
		    DP_STUN_MAX));
	}
	ck_assert(!dp_stunq_push(&q, DP_SOCK_UDP6, &from, &local, d,
	    DP_STUN_MAX));
	for (i = 0; i < 4; i++) {
		ck_assert(dp_stunq_pop(&q, &s));
		ck_assert_uint_eq(s.len, DP_STUN_MAX);
	}
	ck_assert(!dp_stunq_pop(&q, &s));
	ck_assert(!dp_stunq_push(&q, DP_SOCK_UDP4, &from, &local, d,
	    DP_STUN_MAX + 1));
	dp_stunq_destroy(&q);
}
END_TEST

/*
 * CONN_WANTED's rate limiter: a destination once per 2 s, each one apart,
 * the queue bounded (full: not remembered, so it is retried), the table
 * fixed (a flood of destinations takes no more memory).
 */
START_TEST(test_wanted)
{
	static struct dp_wanted w;
	uint8_t a[16] = { 10, 50, 0, 7 }, b[16] = { 10, 50, 0, 8 }, got[16];
	uint8_t v6[16] = { 0xfd, 0, 0x20, 0x21, 0x11, 0x11, [15] = 7 };
	uint64_t t = 1000000000ull;
	unsigned i, n;
	int fam;

	dp_wanted_init(&w);
	ck_assert(dp_wanted_hit(&w, AF_INET, a, t, NULL, 0));
	ck_assert(!dp_wanted_hit(&w, AF_INET, a, t + 1, NULL, 0));
	ck_assert(!dp_wanted_hit(&w, AF_INET, a,
	    t + DP_WANTED_INTERVAL_NS - 1, NULL, 0));
	ck_assert(dp_wanted_hit(&w, AF_INET, b, t + 1, NULL, 0));
	ck_assert(dp_wanted_hit(&w, AF_INET6, v6, t + 1, NULL, 0));
	/* the same 4 bytes in IPv6 are another destination */
	ck_assert(dp_wanted_hit(&w, AF_INET6, a, t + 1, NULL, 0));
	ck_assert(!dp_wanted_hit(&w, AF_UNIX, a, t + 1, NULL, 0));
	ck_assert_uint_eq(w.limited, 2);
	{	/* never a resource: no report, nothing queued */
		static const uint8_t mc4[16] = { 224, 0, 0, 251 },
		    bc4[16] = { 255, 255, 255, 255 }, ll4[16] = { 169, 254 },
		    mc6[16] = { 0xff, 0x02, [15] = 2 }, ll6[16] = { 0xfe, 0x80 };

		ck_assert(!dp_wanted_hit(&w, AF_INET, mc4, t + 1, NULL, 0));
		ck_assert(!dp_wanted_hit(&w, AF_INET, bc4, t + 1, NULL, 0));
		ck_assert(!dp_wanted_hit(&w, AF_INET, ll4, t + 1, NULL, 0));
		ck_assert(!dp_wanted_hit(&w, AF_INET6, mc6, t + 1, NULL, 0));
		ck_assert(!dp_wanted_hit(&w, AF_INET6, ll6, t + 1, NULL, 0));
		ck_assert_uint_eq(w.n, 4);
	}
	ck_assert(dp_wanted_pop(&w, &fam, got));
	ck_assert_int_eq(fam, AF_INET);
	ck_assert_int_eq(memcmp(got, a, 4), 0);
	ck_assert(dp_wanted_pop(&w, &fam, got));
	ck_assert_int_eq(memcmp(got, b, 4), 0);
	ck_assert(dp_wanted_pop(&w, &fam, got));
	ck_assert_int_eq(fam, AF_INET6);
	ck_assert_int_eq(memcmp(got, v6, 16), 0);
	ck_assert(dp_wanted_pop(&w, &fam, got));
	ck_assert(!dp_wanted_pop(&w, &fam, got));
	/* after the interval, again */
	ck_assert(dp_wanted_hit(&w, AF_INET, a, t + DP_WANTED_INTERVAL_NS,
	    NULL, 0));
	ck_assert(dp_wanted_pop(&w, &fam, got));

	/* a flood: the queue holds DP_WANTED_QUEUE, the rest are dropped */
	for (i = 0, n = 0; i < 1000; i++) {
		uint8_t d[16] = { 10, (uint8_t)(i >> 8), (uint8_t)i, 1 };

		n += dp_wanted_hit(&w, AF_INET, d, t, NULL, 0);
	}
	ck_assert_uint_eq(n, DP_WANTED_QUEUE);
	ck_assert_uint_eq(w.dropped, 1000 - DP_WANTED_QUEUE);
	for (i = 0; dp_wanted_pop(&w, &fam, got); i++)
		;
	ck_assert_uint_eq(i, DP_WANTED_QUEUE);
	/* a dropped one was not remembered: reported once there is room */
	{
		uint8_t d[16] = { 10, 0, 200, 1 };

		ck_assert(dp_wanted_hit(&w, AF_INET, d, t + 1, NULL, 0));
	}
	ck_assert_uint_eq(sizeof(w.slot) / sizeof(w.slot[0]),
	    DP_WANTED_SLOTS);
	dp_wanted_destroy(&w);
}
END_TEST

/* take() for test_wanted_hold: destinations 10.50.0.x are routable. */
static unsigned taken;
static uint8_t taken_first[4];

static bool
take_10_50(void *arg, int family, const uint8_t *dst, const uint8_t *pkt,
    size_t len)
{
	(void)arg;
	if (family != AF_INET || dst[0] != 10 || dst[1] != 50)
		return false;
	if (taken++ == 0)
		memcpy(taken_first, pkt, len < 4 ? len : 4);
	return true;
}

/*
 * Packets to a destination without a peer are held with it (at most
 * DP_WANTED_HOLD, DP_WANTED_HOLD_BYTES in all, DP_WANTED_HOLD_NS), and
 * released, oldest first, once take() says a peer covers it; a slot taken
 * over by another destination frees them.
 */
START_TEST(test_wanted_hold)
{
	static struct dp_wanted w;
	static uint8_t big[1400];
	uint8_t a[16] = { 10, 50, 0, 7 }, b[16] = { 10, 60, 0, 7 };
	uint8_t pkt[64];
	uint64_t t = 5000000000ull;
	unsigned i;

	dp_wanted_init(&w);
	for (i = 0; i < DP_WANTED_HOLD + 10; i++) {
		memset(pkt, (int)i, sizeof(pkt));
		(void)dp_wanted_hit(&w, AF_INET, a, t + i, pkt, sizeof(pkt));
	}
	(void)dp_wanted_hit(&w, AF_INET, b, t, pkt, sizeof(pkt));
	ck_assert_uint_eq(w.hold_dropped, 10);
	ck_assert_uint_eq(w.held_bytes, (DP_WANTED_HOLD + 1) * sizeof(pkt));
	taken = 0;
	ck_assert_uint_eq(dp_wanted_release(&w, take_10_50, NULL),
	    DP_WANTED_HOLD);
	ck_assert_uint_eq(taken, DP_WANTED_HOLD);
	ck_assert_uint_eq(taken_first[0], 0);		/* oldest first */
	ck_assert_uint_eq(w.held_bytes, sizeof(pkt));	/* b's stays */
	ck_assert_uint_eq(dp_wanted_release(&w, take_10_50, NULL), 0);
	/* released: the next packet to a asks again at once */
	ck_assert(dp_wanted_hit(&w, AF_INET, a, t + 1, pkt, sizeof(pkt)));
	/* expired: what nobody came for is dropped with the next one */
	(void)dp_wanted_hit(&w, AF_INET, b, t + DP_WANTED_HOLD_NS / 2, pkt,
	    sizeof(pkt));
	ck_assert_uint_eq(w.held_bytes, 3 * sizeof(pkt));	/* a 1, b 2 */
	(void)dp_wanted_hit(&w, AF_INET, b, t + DP_WANTED_HOLD_NS + 1, pkt,
	    sizeof(pkt));
	ck_assert_uint_eq(w.held_bytes, 2 * sizeof(pkt));	/* a 1, b 1 */
	/* the byte cap: 16 destinations of 128 packets (2.8 MB) */
	{
		uint8_t d[16] = { 10, 70 }, got[16];
		int fam;

		for (i = 0; i < 16 * DP_WANTED_HOLD; i++) {
			d[3] = (uint8_t)(i / DP_WANTED_HOLD);
			(void)dp_wanted_hit(&w, AF_INET, d, t, big,
			    sizeof(big));
			while (dp_wanted_pop(&w, &fam, got))
				;
			ck_assert_uint_le(w.held_bytes, DP_WANTED_HOLD_BYTES);
		}
		ck_assert_uint_gt(w.held_bytes, DP_WANTED_HOLD_BYTES -
		    2 * sizeof(big));
	}
	dp_wanted_destroy(&w);		/* frees the rest (ASan: no leak) */
}
END_TEST

static Suite *
rx_suite(void)
{
	Suite *s = suite_create("rx");
	TCase *tc = tcase_create("rx");

	tcase_add_loop_test(tc, test_classify_table, 0,
	    (int)(sizeof(rows) / sizeof(rows[0])));
	tcase_add_test(tc, test_channeldata);
	tcase_add_test(tc, test_chans);
	tcase_add_test(tc, test_chans_retire);
	tcase_add_test(tc, test_stunq);
	tcase_add_test(tc, test_wanted);
	tcase_add_test(tc, test_wanted_hold);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(rx_suite)
