/* SPDX-License-Identifier: ISC */
/*
 * The portal channel state machine on a fake clock (§1.3, §1.4): join,
 * refs, queueing, heartbeats, timeouts, both backoff schedules, Retry-After,
 * the fatal cases; the WebSocket URL and the User-Agent.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "phx_client.h"

static uint32_t fixed_rand = 0x80000000u;	/* 0.5: no jitter */

static uint32_t
test_rand(void *arg)
{
	(void)arg;
	return fixed_rand;
}

static struct phx_client *
mk(const char *topic, json_t *join_payload, unsigned long long budget)
{
	struct phx_client_cfg cfg = {
		.component = PHX_CLIENT, .topic = topic,
		.join_payload = join_payload, .max_partition_ms = budget,
		.rand32 = test_rand,
	};
	struct phx_client *c = phx_client_new(&cfg);

	ck_assert_ptr_nonnull(c);
	return c;
}

static void
expect_frame(struct phx_client *c, const char *want)
{
	char *f = phx_client_pop_frame(c);

	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f, want);
	free(f);
}

static void
expect_no_frame(struct phx_client *c)
{
	char *f = phx_client_pop_frame(c);

	ck_assert_msg(f == NULL, "unexpected frame %s", f);
}

static void
expect_event(struct phx_client *c, enum phx_event_kind kind, int fatal)
{
	struct phx_event ev;

	ck_assert(phx_client_pop_event(c, &ev));
	ck_assert_int_eq(ev.kind, kind);
	if (kind == PHX_EV_FATAL)
		ck_assert_int_eq(ev.fatal, fatal);
	phx_event_clear(&ev);
}

static void
expect_no_event(struct phx_client *c)
{
	struct phx_event ev;

	if (phx_client_pop_event(c, &ev)) {
		ck_abort_msg("unexpected event %d (%s)", ev.kind,
		    ev.reason ? ev.reason : "");
		phx_event_clear(&ev);
	}
}

static void
text(struct phx_client *c, const char *s, uint64_t now)
{
	ck_assert_int_eq(phx_client_ws_text(c, s, strlen(s), now), 0);
}

/* start at now, open, answer the join: a joined client. */
static void
join_at(struct phx_client *c, uint64_t now)
{
	/* The caller may have taken the CONNECT already. */
	ck_assert_int_ne(phx_client_pop_action(c), PHX_ACT_CLOSE);
	phx_client_ws_open(c, now);
	expect_frame(c, "{\"topic\":\"client\",\"event\":\"phx_join\","
	    "\"payload\":null,\"ref\":0}");
	text(c, "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":0,"
	    "\"payload\":{\"status\":\"ok\",\"response\":{}}}", now);
	expect_event(c, PHX_EV_JOINED, 0);
	ck_assert(phx_client_joined(c));
}

START_TEST(join_then_queued_messages)
{
	struct phx_client *c = mk("client", NULL, 0);
	struct phx_event ev;

	ck_assert_uint_eq(phx_client_deadline(c), UINT64_MAX);
	phx_client_start(c, 100);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CONNECT);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_NONE);
	/* Sent before the join reply: held (§1.3). */
	ck_assert_int_eq(phx_client_send(c, "set_snownet_capabilities",
	    json_pack("{s:b}", "iceless", 0)), 0);
	phx_client_ws_open(c, 200);
	expect_frame(c, "{\"topic\":\"client\",\"event\":\"phx_join\","
	    "\"payload\":null,\"ref\":0}");
	expect_no_frame(c);
	ck_assert_uint_eq(phx_client_deadline(c), 200 + PHX_JOIN_TIMEOUT_MS);
	text(c, "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":0,"
	    "\"payload\":{\"status\":\"ok\",\"response\":{}}}", 300);
	expect_event(c, PHX_EV_JOINED, 0);
	ck_assert_uint_eq(phx_client_join_count(c), 1);
	expect_frame(c, "{\"topic\":\"client\",\"event\":"
	    "\"set_snownet_capabilities\",\"payload\":{\"iceless\":false},"
	    "\"ref\":1}");
	ck_assert_int_eq(phx_client_send(c, "request_authorization",
	    json_pack("{s:s,s:[]}", "resource_id",
	    "733e8d14-c18d-4931-af30-3639fa09c0c0", "connected_gateway_ids")),
	    0);
	expect_frame(c, "{\"topic\":\"client\",\"event\":"
	    "\"request_authorization\",\"payload\":{\"resource_id\":"
	    "\"733e8d14-c18d-4931-af30-3639fa09c0c0\","
	    "\"connected_gateway_ids\":[]},\"ref\":2}");
	/* A push on our topic is a MESSAGE; other topics are not. */
	text(c, "{\"topic\":\"client\",\"event\":\"resource_deleted\","
	    "\"ref\":null,\"payload\":\"73037362-715d-4a83-a749-f18eadd970e6\"}",
	    400);
	text(c, "{\"topic\":\"other\",\"event\":\"init\",\"ref\":null,"
	    "\"payload\":{}}", 400);
	ck_assert(phx_client_pop_event(c, &ev));
	ck_assert_int_eq(ev.kind, PHX_EV_MESSAGE);
	ck_assert_str_eq(ev.event, "resource_deleted");
	ck_assert_str_eq(json_string_value(ev.payload),
	    "73037362-715d-4a83-a749-f18eadd970e6");
	phx_event_clear(&ev);
	expect_no_event(c);
	/* Replies to our messages and phx_error are ignored. */
	text(c, "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":2,"
	    "\"payload\":{\"status\":\"error\",\"response\":{\"reason\":"
	    "\"unknown_message\"}}}", 500);
	text(c, "{\"topic\":\"client\",\"event\":\"phx_error\",\"ref\":null,"
	    "\"payload\":{}}", 500);
	expect_no_event(c);
	ck_assert(phx_client_joined(c));
	/* Garbage is reported, and changes nothing. */
	ck_assert_int_eq(phx_client_ws_text(c, "{", 1, 500), -EBADMSG);
	ck_assert(phx_client_joined(c));
	phx_client_free(c);
}
END_TEST

START_TEST(relay_join_payload)
{
	json_t *p = json_pack("{s:s}", "stamp_secret",
	    "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab");
	struct phx_client *c = mk("relay", p, 0);

	json_decref(p);		/* the client holds its own reference */
	phx_client_start(c, 0);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CONNECT);
	phx_client_ws_open(c, 0);
	expect_frame(c, "{\"topic\":\"relay\",\"event\":\"phx_join\","
	    "\"payload\":{\"stamp_secret\":\"4c98bf59c99b3e467ecd7cf9d6b3e5279"
	    "645fca59be67bc5bb4af3cf653761ab\"},\"ref\":0}");
	phx_client_free(c);
}
END_TEST

START_TEST(heartbeat_schedule_and_timeout)
{
	struct phx_client *c = mk("client", NULL, 0);

	phx_client_start(c, 0);
	join_at(c, 1000);
	/* First heartbeat 10 s after the connection opened. */
	ck_assert_uint_eq(phx_client_deadline(c), 11000);
	phx_client_tick(c, 10999);
	expect_no_frame(c);
	phx_client_tick(c, 11000);
	expect_frame(c, "{\"topic\":\"phoenix\",\"event\":\"heartbeat\","
	    "\"payload\":{},\"ref\":1}");
	text(c, "{\"topic\":\"phoenix\",\"event\":\"phx_reply\",\"ref\":1,"
	    "\"payload\":{\"status\":\"ok\",\"response\":{}}}", 11050);
	ck_assert_uint_eq(phx_client_deadline(c), 21000);
	/* Unanswered: 21, 31, 41 s are 3 outstanding; the 4th reconnects. */
	phx_client_tick(c, 21000);
	phx_client_tick(c, 31000);
	phx_client_tick(c, 41000);
	expect_frame(c, "{\"topic\":\"phoenix\",\"event\":\"heartbeat\","
	    "\"payload\":{},\"ref\":2}");
	expect_frame(c, "{\"topic\":\"phoenix\",\"event\":\"heartbeat\","
	    "\"payload\":{},\"ref\":3}");
	expect_frame(c, "{\"topic\":\"phoenix\",\"event\":\"heartbeat\","
	    "\"payload\":{},\"ref\":4}");
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_NONE);
	expect_no_event(c);
	phx_client_tick(c, 51000);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CLOSE);
	expect_event(c, PHX_EV_DISCONNECTED, 0);
	expect_no_frame(c);
	ck_assert(!phx_client_joined(c));
	/* After a join: the reconnect backoff, 500 ms first. */
	ck_assert_uint_eq(phx_client_deadline(c), 51500);
	phx_client_tick(c, 51500);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CONNECT);
	/* Refs restart at 0 on the new connection. */
	join_at(c, 52000);
	phx_client_free(c);
}
END_TEST

START_TEST(join_timeout)
{
	struct phx_client *c = mk("gateway", NULL, 0);

	phx_client_start(c, 0);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CONNECT);
	phx_client_ws_open(c, 0);
	free(phx_client_pop_frame(c));
	phx_client_tick(c, PHX_JOIN_TIMEOUT_MS - 1);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_NONE);
	phx_client_tick(c, PHX_JOIN_TIMEOUT_MS);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CLOSE);
	expect_event(c, PHX_EV_DISCONNECTED, 0);
	/* Never joined: the initial 1 s schedule. */
	ck_assert_uint_eq(phx_client_deadline(c), PHX_JOIN_TIMEOUT_MS + 1000);
	phx_client_free(c);
}
END_TEST

START_TEST(connect_timeout_and_lost_connection)
{
	struct phx_client *c = mk("client", NULL, 0);

	phx_client_start(c, 0);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CONNECT);
	/* The whole TCP+TLS+WebSocket attempt is bounded by 15 s. */
	ck_assert_uint_eq(phx_client_deadline(c), 15000);
	phx_client_tick(c, 14999);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_NONE);
	phx_client_tick(c, 15000);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CLOSE);
	expect_event(c, PHX_EV_DISCONNECTED, 0);
	ck_assert_uint_eq(phx_client_deadline(c), 16000);
	phx_client_tick(c, 16000);
	join_at(c, 16000);
	/* The transport goes away: nothing to close, reconnect in 500 ms. */
	phx_client_ws_closed(c, 20000);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_NONE);
	expect_event(c, PHX_EV_DISCONNECTED, 0);
	ck_assert(!phx_client_joined(c));
	ck_assert_uint_eq(phx_client_deadline(c), 20500);
	/* Frames are not handed out without a connection. */
	ck_assert_int_eq(phx_client_send(c, "no_relays", NULL), 0);
	expect_no_frame(c);
	phx_client_free(c);
}
END_TEST

START_TEST(initial_backoff_gives_up_after_15s)
{
	struct phx_client *c = mk("client", NULL, 0);
	uint64_t now = 0;
	unsigned tries = 0;

	fixed_rand = 0xffffffffu;	/* no jitter before the first join */
	phx_client_start(c, now);
	for (;;) {
		ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CONNECT);
		tries++;
		phx_client_ws_closed(c, now);
		if (phx_client_deadline(c) == UINT64_MAX)
			break;
		expect_event(c, PHX_EV_DISCONNECTED, 0);
		ck_assert_uint_eq(phx_client_deadline(c), now + 1000);
		now += 1000;
		phx_client_tick(c, now);
	}
	/* Failures at 0..14 s are retried; the one at 15 s is fatal. */
	ck_assert_uint_eq(tries, 16);
	ck_assert_uint_eq(now, 15000);
	expect_event(c, PHX_EV_FATAL, PHX_FATAL_MAX_RETRIES);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_NONE);
	ck_assert_int_eq(phx_client_send(c, "x", NULL), -ESHUTDOWN);
	fixed_rand = 0x80000000u;
	phx_client_free(c);
}
END_TEST

/* Fails every attempt right away; returns the delays handed out. */
static unsigned
fail_loop(struct phx_client *c, uint64_t *now, uint64_t *delays, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		phx_client_ws_closed(c, *now);
		if (phx_client_deadline(c) == UINT64_MAX)
			break;
		expect_event(c, PHX_EV_DISCONNECTED, 0);
		delays[i] = phx_client_deadline(c) - *now;
		*now = phx_client_deadline(c);
		phx_client_tick(c, *now);
		ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CONNECT);
	}
	return i;
}

START_TEST(reconnect_backoff_schedule)
{
	static const uint64_t want[] = { 500, 750, 1125, 1687, 2531, 3796,
	    5695, 8542, 12814, 19221, 28832, 43248, 60000, 60000 };
	static const uint64_t want_low[] = { 250, 375, 562, 843, 1265, 1898 };
	uint64_t d[14], now = 0;
	struct phx_client *c = mk("client", NULL, 0);
	size_t i;

	phx_client_start(c, now);
	join_at(c, now);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_NONE);
	ck_assert_uint_eq(fail_loop(c, &now, d, 14), 14);
	for (i = 0; i < 14; i++)
		ck_assert_uint_eq(d[i], want[i]);
	/* A join resets it. */
	join_at(c, now);
	fixed_rand = 0;		/* the low end of the +-50 % jitter */
	ck_assert_uint_eq(fail_loop(c, &now, d, 6), 6);
	for (i = 0; i < 6; i++)
		ck_assert_uint_eq(d[i], want_low[i]);
	fixed_rand = 0x80000000u;
	phx_client_free(c);
}
END_TEST

START_TEST(reconnect_budget)
{
	uint64_t d[64], now = 0;
	struct phx_client *c = mk("client", NULL, 10000);
	unsigned n;

	phx_client_start(c, now);
	join_at(c, now);
	phx_client_pop_action(c);
	/* 500+750+1125+1687+2531 = 6593; +3796 would pass 10 s. */
	n = fail_loop(c, &now, d, 64);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(now, 6593);
	expect_event(c, PHX_EV_FATAL, PHX_FATAL_MAX_RETRIES);
	phx_client_free(c);
}
END_TEST

START_TEST(retry_after_overrides)
{
	static const char body[] = "{\"type\":\"about:blank\",\"title\":\"x\","
	    "\"status\":503,\"detail\":\"slow down\",\"code\":\"rate_limit\"}";
	struct phx_client *c = mk("client", NULL, 0);
	uint64_t now = 0;

	phx_client_start(c, now);
	phx_client_pop_action(c);
	phx_client_http_error(c, 503, body, strlen(body), 7, now);
	expect_event(c, PHX_EV_DISCONNECTED, 0);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_NONE);
	ck_assert_uint_eq(phx_client_deadline(c), 7000);
	/* 403 and 409 are transient (only 401 is special). */
	now = 7000;
	phx_client_tick(c, now);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CONNECT);
	phx_client_http_error(c, 403, NULL, 0, -1, now);
	expect_event(c, PHX_EV_DISCONNECTED, 0);
	ck_assert_uint_eq(phx_client_deadline(c), now + 1000);
	/* Retry-After 0: right away. */
	phx_client_tick(c, now + 1000);
	phx_client_pop_action(c);
	phx_client_http_error(c, 409, NULL, 0, 0, now + 1000);
	ck_assert_uint_eq(phx_client_deadline(c), now + 1000);
	/* An absurd Retry-After is cut to a day. */
	phx_client_tick(c, now + 1000);
	phx_client_pop_action(c);
	phx_client_http_error(c, 503, NULL, 0, LONG_MAX, now + 1000);
	ck_assert_uint_eq(phx_client_deadline(c),
	    now + 1000 + PHX_RETRY_AFTER_MAX_S * 1000ULL);
	phx_client_free(c);
}
END_TEST

static int
fatal_of_401(const char *body)
{
	struct phx_client *c = mk("client", NULL, 0);
	struct phx_event ev;
	int f;

	phx_client_start(c, 0);
	phx_client_pop_action(c);
	phx_client_http_error(c, 401, body, body ? strlen(body) : 0, -1, 0);
	ck_assert(phx_client_pop_event(c, &ev));
	ck_assert_int_eq(ev.kind, PHX_EV_FATAL);
	ck_assert_ptr_nonnull(ev.reason);
	f = ev.fatal;
	phx_event_clear(&ev);
	ck_assert_uint_eq(phx_client_deadline(c), UINT64_MAX);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_NONE);
	phx_client_free(c);
	return f;
}

START_TEST(unauthorized_is_fatal)
{
	ck_assert_int_eq(fatal_of_401("{\"type\":\"about:blank\",\"status\":"
	    "401,\"code\":\"invalid_token\"}"), PHX_FATAL_INVALID_TOKEN);
	ck_assert_int_eq(fatal_of_401("{\"status\":401,\"code\":"
	    "\"missing_token\"}"), PHX_FATAL_INVALID_TOKEN);
	ck_assert_int_eq(fatal_of_401("{\"status\":401,\"code\":\"other\"}"),
	    PHX_FATAL_AUTH);
	ck_assert_int_eq(fatal_of_401(NULL), PHX_FATAL_AUTH);
	ck_assert_int_eq(fatal_of_401("not json"), PHX_FATAL_AUTH);
}
END_TEST

START_TEST(join_error_is_login_failed)
{
	struct phx_client *c = mk("client", NULL, 0);
	struct phx_event ev;

	phx_client_start(c, 0);
	phx_client_pop_action(c);
	phx_client_ws_open(c, 0);
	free(phx_client_pop_frame(c));
	text(c, "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":0,"
	    "\"payload\":{\"status\":\"error\",\"response\":{\"reason\":"
	    "\"unauthorized\"}}}", 10);
	ck_assert(phx_client_pop_event(c, &ev));
	ck_assert_int_eq(ev.kind, PHX_EV_FATAL);
	ck_assert_int_eq(ev.fatal, PHX_FATAL_LOGIN_FAILED);
	ck_assert_str_eq(ev.reason, "unauthorized");
	phx_event_clear(&ev);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CLOSE);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_NONE);
	phx_client_free(c);
}
END_TEST

START_TEST(disconnect_token_expired)
{
	struct phx_client *c = mk("client", NULL, 0);

	phx_client_start(c, 0);
	join_at(c, 0);
	text(c, "{\"topic\":\"client\",\"event\":\"disconnect\",\"ref\":null,"
	    "\"payload\":{\"reason\":\"token_expired\"}}", 10);
	expect_event(c, PHX_EV_FATAL, PHX_FATAL_INVALID_TOKEN);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CLOSE);
	ck_assert_int_eq(phx_client_send(c, "x", NULL), -ESHUTDOWN);
	phx_client_free(c);
}
END_TEST

START_TEST(phx_close_reconnects)
{
	struct phx_client *c = mk("client", NULL, 0);

	phx_client_start(c, 0);
	join_at(c, 0);
	text(c, "{\"topic\":\"client\",\"event\":\"phx_close\",\"ref\":null,"
	    "\"payload\":{}}", 10);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CLOSE);
	expect_event(c, PHX_EV_DISCONNECTED, 0);
	ck_assert_uint_eq(phx_client_deadline(c), 510);
	phx_client_free(c);
}
END_TEST

START_TEST(unmatched_topic_rejoins)
{
	struct phx_client *c = mk("client", NULL, 0);

	phx_client_start(c, 0);
	join_at(c, 0);
	ck_assert_int_eq(phx_client_send(c, "no_relays", NULL), 0);
	expect_frame(c, "{\"topic\":\"client\",\"event\":\"no_relays\","
	    "\"payload\":{},\"ref\":1}");
	text(c, "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":1,"
	    "\"payload\":{\"status\":\"error\",\"response\":{\"reason\":"
	    "\"unmatched topic\"}}}", 100);
	expect_frame(c, "{\"topic\":\"client\",\"event\":\"phx_join\","
	    "\"payload\":null,\"ref\":2}");
	/* Messages wait for the new join. */
	ck_assert_int_eq(phx_client_send(c, "no_relays", NULL), 0);
	expect_no_frame(c);
	ck_assert_uint_eq(phx_client_deadline(c), 100 + PHX_JOIN_TIMEOUT_MS);
	text(c, "{\"topic\":\"client\",\"event\":\"phx_reply\",\"ref\":2,"
	    "\"payload\":{\"status\":\"ok\",\"response\":{}}}", 200);
	expect_event(c, PHX_EV_JOINED, 0);
	expect_frame(c, "{\"topic\":\"client\",\"event\":\"no_relays\","
	    "\"payload\":{},\"ref\":3}");
	ck_assert_uint_eq(phx_client_join_count(c), 2);
	phx_client_free(c);
}
END_TEST

START_TEST(queue_limit_and_duplicates)
{
	struct phx_client *c = mk("client", NULL, 0);
	unsigned i, n = 0;
	char *f;

	for (i = 0; i < PHX_QUEUE_MAX; i++)
		ck_assert_int_eq(phx_client_send(c, "ice",
		    json_pack("{s:i}", "n", (int)i)), 0);
	/* An exact duplicate of a queued message: dropped, not an error. */
	ck_assert_int_eq(phx_client_send(c, "ice", json_pack("{s:i}", "n", 3)),
	    0);
	ck_assert_int_eq(phx_client_send(c, "ice",
	    json_pack("{s:i}", "n", 99)), -ENOBUFS);
	ck_assert_int_eq(phx_client_send(c, "", NULL), -EINVAL);
	phx_client_start(c, 0);
	join_at(c, 0);
	while ((f = phx_client_pop_frame(c)) != NULL) {
		n++;
		free(f);
	}
	ck_assert_uint_eq(n, PHX_QUEUE_MAX);
	/* Once sent it is no longer a duplicate. */
	ck_assert_int_eq(phx_client_send(c, "ice", json_pack("{s:i}", "n", 3)),
	    0);
	expect_frame(c, "{\"topic\":\"client\",\"event\":\"ice\","
	    "\"payload\":{\"n\":3},\"ref\":33}");
	phx_client_free(c);
}
END_TEST

START_TEST(stop_closes)
{
	struct phx_client *c = mk("client", NULL, 0);

	phx_client_start(c, 0);
	join_at(c, 0);
	phx_client_stop(c);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_CLOSE);
	ck_assert_int_eq(phx_client_pop_action(c), PHX_ACT_NONE);
	ck_assert_uint_eq(phx_client_deadline(c), UINT64_MAX);
	expect_no_frame(c);
	/* Late transport callbacks are ignored. */
	phx_client_ws_closed(c, 5);
	expect_no_event(c);
	phx_client_free(c);
}
END_TEST

START_TEST(url_client_gateway_relay)
{
	static const struct { const char *api; const char *want; } base[] = {
		{ "wss://api.firezone.dev", "wss://api.firezone.dev/client/v2/websocket" },
		{ "wss://api.firezone.dev/", "wss://api.firezone.dev/client/v2/websocket" },
		{ "https://API.example.com:443/", "wss://api.example.com/client/v2/websocket" },
		{ "http://localhost:8081", "ws://localhost:8081/client/v2/websocket" },
		{ "ws://127.0.0.1:80", "ws://127.0.0.1/client/v2/websocket" },
		{ "http://h:443/portal/", "ws://h:443/portal/client/v2/websocket" },
		{ "https://[::1]:8443", "wss://[::1]:8443/client/v2/websocket" },
	};
	struct portal_params pp = {
		.external_id = "9e2c7c1f-4d4b-4f5e-9c53-0f6a3b1f2e11",
		.name = "my laptop/ü",
		.device_serial = "SN1",
		.public_key = "fiAjSBWDgQfD1CFJkTwOf4zg+1QhH0eTT+oLaVIMpH8=",
	};
	const char *q = "?external_id=0603e7e10da494a740c09d11943855faac2d4325"
	    "25934500bac8298a47caef73&name=my+laptop%2F%C3%BC&device_serial=SN1"
	    "&public_key=fiAjSBWDgQfD1CFJkTwOf4zg%2B1QhH0eTT%2BoLaVIMpH8%3D";
	char *url, want[512];
	size_t i;

	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		ck_assert_int_eq(portal_url_build(base[i].api, PHX_CLIENT, &pp,
		    &url), 0);
		snprintf(want, sizeof(want), "%s%s", base[i].want, q);
		ck_assert_str_eq(url, want);
		free(url);
	}
	pp.external_id = "gw-1";
	pp.device_serial = NULL;
	pp.name = "gw";
	ck_assert_int_eq(portal_url_build("wss://x", PHX_GATEWAY, &pp, &url),
	    0);
	ck_assert_str_eq(url, "wss://x/gateway/v2/websocket?external_id=gw-1"
	    "&name=gw&public_key=fiAjSBWDgQfD1CFJkTwOf4zg%2B1QhH0eTT%2BoLaVIMp"
	    "H8%3D");
	free(url);
	pp = (struct portal_params){ .name = "relay-1", .ipv4 = "203.0.113.10",
	    .ipv6 = "2001:db8::1", .port = 3478 };
	ck_assert_int_eq(portal_url_build("wss://x", PHX_RELAY, &pp, &url), 0);
	ck_assert_str_eq(url, "wss://x/relay/websocket?name=relay-1&ipv4="
	    "203.0.113.10&ipv6=2001%3Adb8%3A%3A1&port=3478");
	free(url);
	/* Errors: scheme, missing ids, no relay address. */
	ck_assert_int_eq(portal_url_build("ftp://x", PHX_RELAY, &pp, &url),
	    -EINVAL);
	ck_assert_int_eq(portal_url_build("wss://u@x", PHX_RELAY, &pp, &url),
	    -EINVAL);
	ck_assert_int_eq(portal_url_build("wss://x:0", PHX_RELAY, &pp, &url),
	    -EINVAL);
	ck_assert_int_eq(portal_url_build("wss://x", PHX_CLIENT, &pp, &url),
	    -EINVAL);
	pp.ipv4 = pp.ipv6 = NULL;
	ck_assert_int_eq(portal_url_build("wss://x", PHX_RELAY, &pp, &url),
	    -EINVAL);
}
END_TEST

START_TEST(url_split)
{
	char *host, *pq;
	uint16_t port;
	bool tls;

	ck_assert_int_eq(portal_url_split("wss://api.firezone.dev/client/v2/"
	    "websocket?a=b#f", &tls, &host, &port, &pq), 0);
	ck_assert(tls);
	ck_assert_str_eq(host, "api.firezone.dev");
	ck_assert_uint_eq(port, 443);
	ck_assert_str_eq(pq, "/client/v2/websocket?a=b");
	free(host);
	free(pq);
	ck_assert_int_eq(portal_url_split("ws://[::1]:8443?x", &tls, &host,
	    &port, &pq), 0);
	ck_assert(!tls);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port, 8443);
	ck_assert_str_eq(pq, "/?x");
	free(host);
	free(pq);
	ck_assert_int_eq(portal_url_split("https://x/", &tls, &host, &port,
	    &pq), -EINVAL);
}
END_TEST

START_TEST(user_agent)
{
	char *ua;

	ua = portal_user_agent_fmt(PHX_CLIENT, "Debian", "12", "x86_64",
	    "6.1.0-18-amd64");
	ck_assert_str_eq(ua, "Debian/12 headless-client/"
	    FZ_FIREZONE_CLIENT_VERSION " (x86_64; 6.1.0-18-amd64)");
	free(ua);
	ua = portal_user_agent_fmt(PHX_GATEWAY, NULL, "", "aarch64", "6.8");
	ck_assert_str_eq(ua, "Linux/unknown gateway/"
	    FZ_FIREZONE_GATEWAY_VERSION " (aarch64; 6.8)");
	free(ua);
	ua = portal_user_agent_fmt(PHX_RELAY, "Arch Linux", "rolling", "x",
	    "k;1");
	ck_assert_str_eq(ua, "Arch_Linux/rolling relay/"
	    FZ_FIREZONE_RELAY_VERSION " (x; k_1)");
	free(ua);
	ua = portal_user_agent(PHX_CLIENT);
	ck_assert_ptr_nonnull(ua);
	ck_assert_ptr_nonnull(strstr(ua, " headless-client/1.5.12 ("));
	free(ua);
}
END_TEST

START_TEST(auth_header_and_problem)
{
	char *h, *p;

	ck_assert_int_eq(portal_auth_header(" abc.def\n ghi\t", &h), 0);
	ck_assert_str_eq(h, "X-Authorization: Bearer abc.defghi");
	portal_auth_header_free(h);
	ck_assert_int_eq(portal_auth_header(" \n", &h), -EINVAL);
	ck_assert_int_eq(portal_auth_header("a\x01b", &h), -EINVAL);
	p = portal_problem_json(401, "Unauthorized", "Invalid token",
	    "invalid_token");
	ck_assert_str_eq(p, "{\"type\":\"about:blank\",\"title\":"
	    "\"Unauthorized\",\"status\":401,\"detail\":\"Invalid token\","
	    "\"code\":\"invalid_token\"}");
	free(p);
	p = portal_problem_json(503, "Service Unavailable", NULL, NULL);
	ck_assert_str_eq(p, "{\"type\":\"about:blank\",\"title\":"
	    "\"Service Unavailable\",\"status\":503}");
	free(p);
}
END_TEST

START_TEST(retry_after_values)
{
	/* 784111777 = Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110) */
	ck_assert_int_eq(portal_retry_after_parse("1", 0), 1);
	ck_assert_int_eq(portal_retry_after_parse(" 120 ", 0), 120);
	ck_assert_int_eq(portal_retry_after_parse(
	    "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), 30);
	ck_assert_int_eq(portal_retry_after_parse(
	    "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 5), 0);
	ck_assert_int_eq(portal_retry_after_parse("soon", 0), -1);
	ck_assert_int_eq(portal_retry_after_parse("12x", 0), -1);
	ck_assert_int_eq(portal_retry_after_parse("-1", 0), -1);
	ck_assert_int_eq(portal_retry_after_parse(NULL, 0), -1);
}
END_TEST

static Suite *
phx_client_suite(void)
{
	Suite *s = suite_create("phx_client");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, join_then_queued_messages);
	tcase_add_test(tc, relay_join_payload);
	tcase_add_test(tc, heartbeat_schedule_and_timeout);
	tcase_add_test(tc, join_timeout);
	tcase_add_test(tc, connect_timeout_and_lost_connection);
	tcase_add_test(tc, initial_backoff_gives_up_after_15s);
	tcase_add_test(tc, reconnect_backoff_schedule);
	tcase_add_test(tc, reconnect_budget);
	tcase_add_test(tc, retry_after_overrides);
	tcase_add_test(tc, unauthorized_is_fatal);
	tcase_add_test(tc, join_error_is_login_failed);
	tcase_add_test(tc, disconnect_token_expired);
	tcase_add_test(tc, phx_close_reconnects);
	tcase_add_test(tc, unmatched_topic_rejoins);
	tcase_add_test(tc, queue_limit_and_duplicates);
	tcase_add_test(tc, stop_closes);
	tcase_add_test(tc, url_client_gateway_relay);
	tcase_add_test(tc, url_split);
	tcase_add_test(tc, user_agent);
	tcase_add_test(tc, auth_header_and_problem);
	tcase_add_test(tc, retry_after_values);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(phx_client_suite)
