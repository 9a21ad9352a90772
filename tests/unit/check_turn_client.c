/* SPDX-License-Identifier: ISC */
/*
 * The TURN client on a fake clock against a scripted server: the nonce
 * dance, stale nonces, bad credentials and realms, the 440/400/437
 * fallbacks, refresh and expiry timing, permissions, channel binding,
 * rebinding, expiry and number cooldown, the RFC 8489 retransmission
 * schedule, ChannelData and Data indications, and every kind of response
 * that must be ignored (wrong transaction id or method, bad integrity,
 * truncated, trailing bytes, wrong sender).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "fztime.h"
#include "stun.h"
#include "turn_client.h"

#define T0	(1000 * NSEC_PER_SEC)
#define SEC(x)	((uint64_t)(x) * NSEC_PER_SEC)
#define MSEC(x)	((uint64_t)(x) * NSEC_PER_MSEC)
#define USER	"2145916800:IHF707vzp8S20otOb0X8DnipWwBnjqx3vXEV53OMrpE"
#define PASS	"uTgM6kXvA9fIDYm00KZyun05zr4mYPF3xVLvUA/qkz8"
#define REALM	"firezone"
#define NONCE1	"6f1c1a4e-3f5e-4b8e-9d3a-0a1b2c3d4e5f"
#define NONCE2	"0b9e3a44-5d1f-4f3b-8f64-29b2a0c1d2e3"

static uint32_t rng_counter;

static void
test_rng(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t i;

	(void)ctx;
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i == 0 ? rng_counter >> 8 : i == 1 ?
		    rng_counter : 0x5a ^ i);
	rng_counter++;
}

static union fz_sockaddr server, peer4, peer6, relayed4, relayed6, mapped4;
static uint8_t key[16];

static void
addr(const char *s, union fz_sockaddr *a)
{
	ck_assert_int_eq(addr_parse(s, ADDR_PORT_REQUIRED, a), 0);
}

static void
setup(void)
{
	addr("192.0.2.1:3478", &server);
	addr("198.51.100.7:52625", &peer4);
	addr("[2001:db8::7]:52625", &peer6);
	addr("192.0.2.1:50001", &relayed4);
	addr("[2001:db8::1]:50001", &relayed6);
	addr("203.0.113.9:40000", &mapped4);
	stun_long_term_key(USER, REALM, PASS, key);
	rng_counter = 1;
}

static struct turn_client_config
config(void)
{
	struct turn_client_config c;

	memset(&c, 0, sizeof(c));
	c.server = server;
	c.username = USER;
	c.password = PASS;
	c.realm = REALM;
	c.software = "fz-test";
	c.rng = test_rng;
	return c;
}

static struct turn_client *
mk(const struct turn_client_config *c)
{
	struct turn_client *tc = NULL;

	ck_assert_int_eq(turn_client_new(c, &tc), 0);
	return tc;
}

/* The last request sent, kept so responses can answer it. */
struct req {
	uint8_t		 buf[2048];
	size_t		 len;
	struct stun_msg	 m;
};

static int
pop(struct turn_client *tc, struct req *r)
{
	struct turn_transmit t;

	if (turn_client_poll_transmit(tc, &t) != 0)
		return -EAGAIN;
	ck_assert(addr_eq(t.dst, &server.sa));
	ck_assert_uint_le(t.len, sizeof(r->buf));
	memcpy(r->buf, t.data, t.len);
	r->len = t.len;
	ck_assert_int_eq(stun_parse(r->buf, r->len, &r->m), 0);
	ck_assert_uint_eq(r->m.len, r->len);
	ck_assert_uint_eq(r->m.cls, STUN_REQUEST);
	return 0;
}

static void
pop_one(struct turn_client *tc, struct req *r, uint16_t method)
{
	struct req extra;

	ck_assert_int_eq(pop(tc, r), 0);
	ck_assert_uint_eq(r->m.method, method);
	ck_assert_int_eq(pop(tc, &extra), -EAGAIN);
}

static void
no_tx(struct turn_client *tc)
{
	struct req r;

	ck_assert_int_eq(pop(tc, &r), -EAGAIN);
}

static int
next_event(struct turn_client *tc, struct turn_event *ev)
{
	return turn_client_poll_event(tc, ev);
}

static void
expect_event(struct turn_client *tc, enum turn_event_type type,
    struct turn_event *out)
{
	struct turn_event ev;

	ck_assert_msg(next_event(tc, &ev) == 0, "no event, wanted %s",
	    turn_event_str(type));
	ck_assert_msg(ev.type == type, "event %s, wanted %s",
	    turn_event_str(ev.type), turn_event_str(type));
	if (out != NULL)
		*out = ev;
}

static void
no_event(struct turn_client *tc)
{
	struct turn_event ev;

	if (next_event(tc, &ev) == 0)
		ck_abort_msg("unexpected event %s (%s)", turn_event_str(ev.type),
		    turn_reason_str(ev.reason));
}

/*
 * Moves the clock from deadline to deadline, sending nothing back, until
 * an event comes out; returns the time it did.
 */
static uint64_t
run_until_event(struct turn_client *tc, struct turn_event *ev)
{
	struct req r;
	uint64_t dl;

	for (;;) {
		ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
		turn_client_handle_timeout(tc, dl);
		while (pop(tc, &r) == 0)
			;
		if (next_event(tc, ev) == 0)
			return dl;
	}
}

/* --- the scripted server --------------------------------------------------- */

struct resp {
	struct stun_builder b;
	uint8_t		 buf[2048];
	size_t		 len;
};

static void
resp_begin(struct resp *s, const struct req *r, uint16_t cls)
{
	stun_build(&s->b, s->buf, sizeof(s->buf), r->m.method | cls, r->m.tid);
}

static size_t
resp_end(struct resp *s, const uint8_t *k)
{
	stun_put_str(&s->b, STUN_A_SOFTWARE, "scripted");
	if (k != NULL)
		stun_put_integrity(&s->b, k, 16);
	ck_assert_int_eq(stun_finish(&s->b, &s->len), 0);
	return s->len;
}

static int
feed(struct turn_client *tc, uint64_t now, const struct resp *s)
{
	struct turn_data d;

	return turn_client_input(tc, now, &server.sa, s->buf, s->len, &d);
}

static void
error_resp(struct resp *s, const struct req *r, int code, const char *realm,
    const char *nonce, const uint8_t *k)
{
	resp_begin(s, r, STUN_ERROR);
	stun_put_error(&s->b, code, "err");
	if (realm != NULL)
		stun_put_str(&s->b, STUN_A_REALM, realm);
	if (nonce != NULL)
		stun_put_str(&s->b, STUN_A_NONCE, nonce);
	resp_end(s, k);
}

static void
alloc_ok_resp(struct resp *s, const struct req *r, bool v4, bool v6,
    uint32_t lifetime)
{
	resp_begin(s, r, STUN_SUCCESS);
	if (v4)
		stun_put_xaddr(&s->b, TURN_A_XOR_RELAYED_ADDRESS, &relayed4.sa);
	if (v6)
		stun_put_xaddr(&s->b, TURN_A_XOR_RELAYED_ADDRESS, &relayed6.sa);
	stun_put_xaddr(&s->b, STUN_A_XOR_MAPPED_ADDRESS, &mapped4.sa);
	if (lifetime != 0)
		stun_put_u32(&s->b, TURN_A_LIFETIME, lifetime);
	resp_end(s, key);
}

static void
ok_resp(struct resp *s, const struct req *r, const uint8_t *k)
{
	resp_begin(s, r, STUN_SUCCESS);
	resp_end(s, k);
}

static void
text_is(const struct stun_msg *m, uint16_t type, const char *want)
{
	const struct stun_attr *a = stun_find(m, type);
	char got[512];

	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(stun_get_text(a, 511, got, sizeof(got)), 0);
	ck_assert_str_eq(got, want);
}

static uint8_t
family_attr(const struct stun_msg *m, uint16_t type)
{
	uint8_t f;

	if (stun_find(m, type) == NULL)
		return 0;
	ck_assert_int_eq(stun_get_family(stun_find(m, type), &f), 0);
	return f;
}

/* The request carries our credentials and valid integrity. */
static void
assert_authed(const struct req *r, const char *nonce)
{
	text_is(&r->m, STUN_A_USERNAME, USER);
	text_is(&r->m, STUN_A_REALM, REALM);
	text_is(&r->m, STUN_A_NONCE, nonce);
	ck_assert_int_eq(stun_check_integrity(&r->m, key, 16), 0);
}

static void
assert_unauthed(const struct req *r)
{
	ck_assert_ptr_null(stun_find(&r->m, STUN_A_USERNAME));
	ck_assert_ptr_null(stun_find(&r->m, STUN_A_NONCE));
	ck_assert_int_lt(r->m.mi, 0);
}

/* First Allocate, its 401, and the authenticated retry (not answered). */
static void
dance(struct turn_client *tc, uint64_t now, struct req *r)
{
	struct resp s;
	uint8_t proto;

	ck_assert_int_eq(turn_client_allocate(tc, now), 0);
	ck_assert_int_eq(turn_client_state(tc), TURN_ALLOCATING);
	pop_one(tc, r, TURN_ALLOCATE);
	assert_unauthed(r);
	ck_assert_int_eq(stun_get_transport(stun_find(&r->m,
	    TURN_A_REQUESTED_TRANSPORT), &proto), 0);
	ck_assert_uint_eq(proto, 17);
	error_resp(&s, r, 401, REALM, NONCE1, NULL);
	ck_assert_int_eq(feed(tc, now, &s), TURN_INPUT_HANDLED);
	pop_one(tc, r, TURN_ALLOCATE);
	assert_authed(r, NONCE1);
	no_event(tc);
}

/* A ready dual-stack allocation at now. */
static struct turn_client *
ready_lt(const struct turn_client_config *c, uint64_t now, uint32_t lifetime)
{
	struct turn_client *tc = mk(c);
	struct turn_event ev;
	struct req r;
	struct resp s;

	dance(tc, now, &r);
	alloc_ok_resp(&s, &r, true, true, lifetime);
	ck_assert_int_eq(feed(tc, now, &s), TURN_INPUT_HANDLED);
	expect_event(tc, TURN_EV_ALLOCATED, &ev);
	ck_assert_uint_eq(ev.nrelayed, 2);
	ck_assert_int_eq(turn_client_state(tc), TURN_READY);
	return tc;
}

static struct turn_client *
ready(const struct turn_client_config *c, uint64_t now)
{
	return ready_lt(c, now, 600);
}

/* --- allocation ------------------------------------------------------------ */

START_TEST(test_nonce_dance)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	struct turn_event ev;
	union fz_sockaddr a;
	struct req r;
	struct resp s;

	dance(tc, T0, &r);
	/* Dual stack by default: ADDITIONAL-ADDRESS-FAMILY IPv6 only. */
	ck_assert_uint_eq(family_attr(&r.m, TURN_A_ADDITIONAL_ADDRESS_FAMILY),
	    STUN_FAMILY_IPV6);
	ck_assert_uint_eq(family_attr(&r.m, TURN_A_REQUESTED_ADDRESS_FAMILY), 0);
	ck_assert_ptr_null(stun_find(&r.m, TURN_A_LIFETIME));
	text_is(&r.m, STUN_A_SOFTWARE, "fz-test");
	alloc_ok_resp(&s, &r, true, true, 600);
	ck_assert_int_eq(feed(tc, T0 + MSEC(20), &s), TURN_INPUT_HANDLED);
	expect_event(tc, TURN_EV_ALLOCATED, &ev);
	ck_assert_uint_eq(ev.nrelayed, 2);
	ck_assert(addr_eq(&ev.relayed[0].sa, &relayed4.sa));
	ck_assert(addr_eq(&ev.relayed[1].sa, &relayed6.sa));
	ck_assert(addr_eq(&ev.mapped.sa, &mapped4.sa));
	ck_assert_uint_eq(ev.lifetime_s, 600);
	ck_assert_int_eq(turn_client_relayed(tc, AF_INET6, &a), 0);
	ck_assert(addr_eq(&a.sa, &relayed6.sa));
	/* A duplicate of the answer no longer matches anything. */
	ck_assert_int_eq(feed(tc, T0 + MSEC(21), &s), -ENOENT);
	no_event(tc);
	no_tx(tc);
	ck_assert_int_eq(turn_client_allocate(tc, T0), -EALREADY);
	turn_client_free(tc);
}
END_TEST

/* TURN REST credentials and coturn's realm: accepted when none is set. */
START_TEST(test_rest_credentials_any_realm)
{
	struct turn_client_config c = config();
	const char *user = "1735689600:fz-turnclient";
	struct turn_client *tc;
	struct turn_event ev;
	uint8_t k[16];
	struct req r;
	struct resp s;

	c.username = user;
	c.password = "K2pNQ9n4Yk0nYQ8Y5s0kZ2Y6f8Q=";
	c.realm = NULL;
	tc = mk(&c);
	ck_assert_int_eq(turn_client_allocate(tc, T0), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	error_resp(&s, &r, 401, "coturn.example", "abcdef0123456789", NULL);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	text_is(&r.m, STUN_A_USERNAME, user);
	text_is(&r.m, STUN_A_REALM, "coturn.example");
	stun_long_term_key(user, "coturn.example", c.password, k);
	ck_assert_int_eq(stun_check_integrity(&r.m, k, 16), 0);
	resp_begin(&s, &r, STUN_SUCCESS);
	stun_put_xaddr(&s.b, TURN_A_XOR_RELAYED_ADDRESS, &relayed4.sa);
	/* coturn: no IPv6 relay, says so, still succeeds (RFC 8656 7.2) */
	stun_put_u32(&s.b, TURN_A_ADDRESS_ERROR_CODE, 0x02000400 | 40);
	resp_end(&s, k);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATED, &ev);
	ck_assert_uint_eq(ev.nrelayed, 1);
	ck_assert_uint_eq(ev.lifetime_s, 600);		/* default */
	ck_assert_int_eq(ev.mapped.sa.sa_family, AF_UNSPEC);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_realm_mismatch)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	struct turn_event ev;
	struct req r;
	struct resp s;

	ck_assert_int_eq(turn_client_allocate(tc, T0), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	error_resp(&s, &r, 401, "evil", NONCE1, NULL);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_REALM);
	ck_assert_int_eq(ev.code, 401);
	ck_assert_int_eq(turn_client_state(tc), TURN_FAILED);
	no_tx(tc);
	ck_assert_int_eq(turn_client_poll_timeout(tc, &(uint64_t){ 0 }),
	    -ENOENT);
	/* A 401 without a nonce is no challenge either. */
	ck_assert_int_eq(turn_client_allocate(tc, T0), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	assert_unauthed(&r);	/* a restart begins without credentials */
	error_resp(&s, &r, 401, REALM, NULL, NULL);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_BAD_RESPONSE);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_stale_nonce)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	struct turn_event ev;
	uint8_t tid[12];
	struct req r;
	struct resp s;
	int i;

	dance(tc, T0, &r);
	memcpy(tid, r.m.tid, 12);
	/* 438 (unauthenticated, as coturn sends it) with a new nonce. */
	error_resp(&s, &r, 438, REALM, NONCE2, NULL);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	assert_authed(&r, NONCE2);
	ck_assert_mem_ne(r.m.tid, tid, 12);	/* a new transaction */
	no_event(tc);
	alloc_ok_resp(&s, &r, true, false, 600);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATED, NULL);
	turn_client_free(tc);

	/* A server that answers 438 forever is given up on. */
	tc = mk(&c);
	dance(tc, T0, &r);
	for (i = 0; i < TURN_STALE_RETRIES; i++) {
		error_resp(&s, &r, 438, REALM, i & 1 ? NONCE1 : NONCE2, NULL);
		ck_assert_int_eq(feed(tc, T0, &s), 0);
		pop_one(tc, &r, TURN_ALLOCATE);
	}
	error_resp(&s, &r, 438, REALM, NONCE2, NULL);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_STALE_NONCE);
	no_tx(tc);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_bad_credentials)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	struct turn_event ev;
	struct req r;
	struct resp s;

	dance(tc, T0, &r);
	error_resp(&s, &r, 401, REALM, NONCE2, NULL);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_BAD_CREDENTIALS);
	ck_assert_int_eq(ev.code, 401);
	no_tx(tc);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_family_fallback)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	struct turn_event ev;
	struct req r;
	struct resp s;

	/* A v6-only relay: 440 to the dual request, then IPv6 alone. */
	dance(tc, T0, &r);
	error_resp(&s, &r, 440, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	assert_authed(&r, NONCE1);
	ck_assert_uint_eq(family_attr(&r.m, TURN_A_REQUESTED_ADDRESS_FAMILY),
	    STUN_FAMILY_IPV6);
	ck_assert_ptr_null(stun_find(&r.m, TURN_A_ADDITIONAL_ADDRESS_FAMILY));
	/* An IPv4 relayed address is not what we asked for now. */
	alloc_ok_resp(&s, &r, true, false, 600);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_BAD_RESPONSE);
	turn_client_free(tc);

	tc = mk(&c);
	dance(tc, T0, &r);
	error_resp(&s, &r, 440, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	alloc_ok_resp(&s, &r, false, true, 600);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATED, &ev);
	ck_assert_uint_eq(ev.nrelayed, 1);
	ck_assert_int_eq(ev.relayed[0].sa.sa_family, AF_INET6);
	turn_client_free(tc);

	/* 440 to the IPv6 request too: nothing left to try. */
	tc = mk(&c);
	dance(tc, T0, &r);
	error_resp(&s, &r, 440, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	error_resp(&s, &r, 440, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_FAMILY);
	ck_assert_int_eq(ev.code, 440);
	turn_client_free(tc);

	/* A server refusing the family attribute (400): a plain request. */
	tc = mk(&c);
	dance(tc, T0, &r);
	error_resp(&s, &r, 400, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	ck_assert_ptr_null(stun_find(&r.m, TURN_A_ADDITIONAL_ADDRESS_FAMILY));
	ck_assert_ptr_null(stun_find(&r.m, TURN_A_REQUESTED_ADDRESS_FAMILY));
	error_resp(&s, &r, 400, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_ERROR);
	ck_assert_int_eq(ev.code, 400);
	turn_client_free(tc);

	/* Configured IPv4 only: no family attribute, a 440 is final. */
	c.family = TURN_FAMILY_V4;
	c.lifetime_s = 1200;
	tc = mk(&c);
	dance(tc, T0, &r);
	ck_assert_ptr_null(stun_find(&r.m, TURN_A_ADDITIONAL_ADDRESS_FAMILY));
	ck_assert_ptr_null(stun_find(&r.m, TURN_A_REQUESTED_ADDRESS_FAMILY));
	{
		uint32_t lt;

		ck_assert_int_eq(stun_get_u32(stun_find(&r.m, TURN_A_LIFETIME),
		    &lt), 0);
		ck_assert_uint_eq(lt, 1200);
	}
	error_resp(&s, &r, 440, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_FAMILY);
	turn_client_free(tc);
}
END_TEST

/* 437 on Allocate: delete the old allocation, then allocate again, once. */
START_TEST(test_mismatch_delete_realloc)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	struct turn_event ev;
	uint32_t lt = 1;
	struct req r;
	struct resp s;

	dance(tc, T0, &r);
	error_resp(&s, &r, 437, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	pop_one(tc, &r, TURN_REFRESH);
	assert_authed(&r, NONCE1);
	ck_assert_int_eq(stun_get_u32(stun_find(&r.m, TURN_A_LIFETIME), &lt), 0);
	ck_assert_uint_eq(lt, 0);
	ok_resp(&s, &r, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	assert_authed(&r, NONCE1);
	no_event(tc);
	error_resp(&s, &r, 437, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_MISMATCH);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_other_errors)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	struct turn_event ev;
	struct req r;
	struct resp s;

	dance(tc, T0, &r);
	error_resp(&s, &r, 508, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_ERROR);
	ck_assert_int_eq(ev.code, 508);
	turn_client_free(tc);

	/* A success without a relayed address, or with lifetime 0. */
	tc = mk(&c);
	dance(tc, T0, &r);
	alloc_ok_resp(&s, &r, false, false, 600);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_BAD_RESPONSE);
	turn_client_free(tc);
}
END_TEST

/* --- what must be ignored -------------------------------------------------- */

START_TEST(test_ignored_responses)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	union fz_sockaddr other;
	struct turn_data d;
	uint8_t bad[2048], k2[16];
	struct req r;
	struct resp s;
	size_t n;

	dance(tc, T0, &r);
	alloc_ok_resp(&s, &r, true, true, 600);

	/* From another address. */
	addr("192.0.2.2:3478", &other);
	ck_assert_int_eq(turn_client_input(tc, T0, &other.sa, s.buf, s.len,
	    &d), -ENOENT);
	addr("192.0.2.1:3479", &other);
	ck_assert_int_eq(turn_client_input(tc, T0, &other.sa, s.buf, s.len,
	    &d), -ENOENT);
	/* Every truncation, and a trailing byte. */
	for (n = 0; n < s.len; n++)
		ck_assert_int_lt(turn_client_input(tc, T0, &server.sa, s.buf, n,
		    &d), 0);
	memcpy(bad, s.buf, s.len);
	bad[s.len] = 0;
	ck_assert_int_eq(turn_client_input(tc, T0, &server.sa, bad, s.len + 1,
	    &d), -EBADMSG);
	/* A wrong transaction id. */
	memcpy(bad, s.buf, s.len);
	bad[19] ^= 1;
	ck_assert_int_eq(turn_client_input(tc, T0, &server.sa, bad, s.len, &d),
	    -ENOENT);
	/* A flipped bit inside: integrity fails. */
	memcpy(bad, s.buf, s.len);
	bad[s.len - 30] ^= 0x10;
	ck_assert_int_eq(turn_client_input(tc, T0, &server.sa, bad, s.len, &d),
	    -EBADMSG);
	/* The right id, the wrong method. */
	{
		struct req r2 = r;
		struct resp s2;

		r2.m.method = TURN_REFRESH;
		resp_begin(&s2, &r2, STUN_SUCCESS);
		resp_end(&s2, key);
		ck_assert_int_eq(feed(tc, T0, &s2), -ENOENT);
		/* A request or an indication with our id. */
		resp_begin(&s2, &r, STUN_REQUEST);
		resp_end(&s2, key);
		ck_assert_int_eq(feed(tc, T0, &s2), -EBADMSG);
		/* No integrity, or integrity with another key. */
		resp_begin(&s2, &r, STUN_SUCCESS);
		stun_put_xaddr(&s2.b, TURN_A_XOR_RELAYED_ADDRESS, &relayed4.sa);
		resp_end(&s2, NULL);
		ck_assert_int_eq(feed(tc, T0, &s2), -EBADMSG);
		stun_long_term_key(USER, REALM, "wrong", k2);
		resp_begin(&s2, &r, STUN_SUCCESS);
		stun_put_xaddr(&s2.b, TURN_A_XOR_RELAYED_ADDRESS, &relayed4.sa);
		resp_end(&s2, k2);
		ck_assert_int_eq(feed(tc, T0, &s2), -EBADMSG);
		/* An error response without ERROR-CODE. */
		resp_begin(&s2, &r, STUN_ERROR);
		resp_end(&s2, key);
		ck_assert_int_eq(feed(tc, T0, &s2), -EBADMSG);
		/* A 440 without integrity to an authenticated request. */
		error_resp(&s2, &r, 440, NULL, NULL, NULL);
		ck_assert_int_eq(feed(tc, T0, &s2), -EBADMSG);
	}
	/* Garbage of every first byte. */
	for (n = 0; n < 256; n++) {
		memset(bad, (int)n, 64);
		ck_assert_int_lt(turn_client_input(tc, T0, &server.sa, bad, 64,
		    &d), 0);
	}
	no_event(tc);
	no_tx(tc);
	ck_assert_int_eq(turn_client_state(tc), TURN_ALLOCATING);
	/* Still waiting for the real answer, which works. */
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATED, NULL);
	turn_client_free(tc);
}
END_TEST

/* --- timing ---------------------------------------------------------------- */

/* RFC 8489 6.2.1: RTO 500 ms, Rc 7, Rm 16 -> 0, .5, 1.5, ... 31.5, 39.5 s. */
START_TEST(test_retransmissions)
{
	static const uint64_t at_ms[] = { 0, 500, 1500, 3500, 7500, 15500,
	    31500 };
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	struct turn_event ev;
	uint8_t first[2048];
	size_t first_len = 0;
	uint64_t dl;
	struct req r;
	unsigned i;

	ck_assert_int_eq(turn_client_allocate(tc, T0), 0);
	for (i = 0; i < 7; i++) {
		if (i > 0) {
			ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
			ck_assert_uint_eq(dl, T0 + MSEC(at_ms[i]));
			turn_client_handle_timeout(tc, dl - 1);
			no_tx(tc);
			turn_client_handle_timeout(tc, dl);
		}
		pop_one(tc, &r, TURN_ALLOCATE);
		if (i == 0) {
			memcpy(first, r.buf, r.len);
			first_len = r.len;
		}
		/* A retransmission is the same message. */
		ck_assert_uint_eq(r.len, first_len);
		ck_assert_mem_eq(r.buf, first, first_len);
	}
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, T0 + MSEC(39500));
	turn_client_handle_timeout(tc, dl - 1);
	no_event(tc);
	turn_client_handle_timeout(tc, dl);
	no_tx(tc);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_TIMEOUT);
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), -ENOENT);
	turn_client_free(tc);

	/* Firezone's profile: 1 s, three sends, gone 4 s after the last. */
	c.rto_ms = 1000;
	c.max_tx = 3;
	c.rm = 4;
	tc = mk(&c);
	ck_assert_int_eq(turn_client_allocate(tc, T0), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, T0 + SEC(1));
	turn_client_handle_timeout(tc, dl);
	pop_one(tc, &r, TURN_ALLOCATE);
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, T0 + SEC(3));
	turn_client_handle_timeout(tc, dl);
	pop_one(tc, &r, TURN_ALLOCATE);
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, T0 + SEC(7));
	turn_client_handle_timeout(tc, dl);
	expect_event(tc, TURN_EV_ALLOCATION_FAILED, NULL);
	turn_client_free(tc);
}
END_TEST

/* A slow server: the RTO follows the measured RTT. */
START_TEST(test_rto_follows_rtt)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	uint64_t dl;
	struct req r;
	struct resp s;

	ck_assert_int_eq(turn_client_allocate(tc, T0), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	error_resp(&s, &r, 401, REALM, NONCE1, NULL);
	ck_assert_int_eq(feed(tc, T0 + MSEC(400), &s), 0);
	/* srtt 400, rttvar 200: RTO 1200 ms */
	ck_assert_uint_eq(turn_client_rtt(tc), MSEC(400));
	pop_one(tc, &r, TURN_ALLOCATE);
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, T0 + MSEC(400) + MSEC(1200));
	turn_client_free(tc);
}
END_TEST

START_TEST(test_refresh)
{
	struct turn_client_config c = config();
	struct turn_client *tc = ready(&c, T0);
	struct turn_event ev;
	uint64_t dl, t;
	struct req r;
	struct resp s;

	no_tx(tc);
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, T0 + SEC(300));
	turn_client_handle_timeout(tc, dl - 1);
	no_tx(tc);
	turn_client_handle_timeout(tc, dl);
	pop_one(tc, &r, TURN_REFRESH);
	assert_authed(&r, NONCE1);
	/* Firezone's clients send no LIFETIME (and neither do we, unasked). */
	ck_assert_ptr_null(stun_find(&r.m, TURN_A_LIFETIME));
	/* The nonce went stale meanwhile. */
	error_resp(&s, &r, 438, REALM, NONCE2, NULL);
	ck_assert_int_eq(feed(tc, dl, &s), 0);
	pop_one(tc, &r, TURN_REFRESH);
	assert_authed(&r, NONCE2);
	resp_begin(&s, &r, STUN_SUCCESS);
	stun_put_u32(&s.b, TURN_A_LIFETIME, 600);
	resp_end(&s, key);
	ck_assert_int_eq(feed(tc, dl, &s), 0);
	expect_event(tc, TURN_EV_REFRESHED, &ev);
	ck_assert_uint_eq(ev.lifetime_s, 600);
	t = dl;
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, t + SEC(300));

	/* The next refresh goes unanswered: retried until the expiry. */
	turn_client_handle_timeout(tc, dl);
	pop_one(tc, &r, TURN_REFRESH);
	t = dl;
	for (;;) {
		ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
		turn_client_handle_timeout(tc, dl);
		while (pop(tc, &r) == 0)
			ck_assert_uint_eq(r.m.method, TURN_REFRESH);
		if (next_event(tc, &ev) == 0) {
			if (ev.type == TURN_EV_ALLOCATION_LOST)
				break;
			ck_assert_int_eq(ev.type, TURN_EV_REFRESH_FAILED);
			ck_assert_int_eq(ev.reason, TURN_R_TIMEOUT);
		}
	}
	ck_assert_int_eq(ev.reason, TURN_R_EXPIRED);
	/* It expires 600 s after the last successful refresh was sent. */
	ck_assert_uint_eq(dl, t - SEC(300) + SEC(600));
	ck_assert_int_eq(turn_client_state(tc), TURN_FAILED);
	no_tx(tc);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_refresh_mismatch_and_creds)
{
	struct turn_client_config c = config();
	struct turn_client *tc = ready(&c, T0);
	struct turn_event ev;
	struct req r;
	struct resp s;

	turn_client_handle_timeout(tc, T0 + SEC(300));
	pop_one(tc, &r, TURN_REFRESH);
	error_resp(&s, &r, 437, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0 + SEC(300), &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_LOST, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_MISMATCH);
	turn_client_free(tc);

	/* Credentials that expired: 401 to the authenticated refresh. */
	tc = ready(&c, T0);
	turn_client_handle_timeout(tc, T0 + SEC(300));
	pop_one(tc, &r, TURN_REFRESH);
	error_resp(&s, &r, 401, REALM, NONCE1, NULL);
	ck_assert_int_eq(feed(tc, T0 + SEC(300), &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_LOST, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_BAD_CREDENTIALS);
	turn_client_free(tc);

	/* A 500 is one failed refresh: retried halfway to the expiry. */
	tc = ready(&c, T0);
	turn_client_handle_timeout(tc, T0 + SEC(300));
	pop_one(tc, &r, TURN_REFRESH);
	error_resp(&s, &r, 500, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0 + SEC(300), &s), 0);
	expect_event(tc, TURN_EV_REFRESH_FAILED, &ev);
	ck_assert_int_eq(ev.code, 500);
	{
		uint64_t dl;

		ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
		ck_assert_uint_eq(dl, T0 + SEC(450));
	}
	/* New credentials from the portal are used from now on. */
	ck_assert_int_eq(turn_client_set_credentials(tc, "u2", "p2"), 0);
	turn_client_handle_timeout(tc, T0 + SEC(450));
	pop_one(tc, &r, TURN_REFRESH);
	text_is(&r.m, STUN_A_USERNAME, "u2");
	{
		uint8_t k2[16];

		stun_long_term_key("u2", REALM, "p2", k2);
		ck_assert_int_eq(stun_check_integrity(&r.m, k2, 16), 0);
	}
	turn_client_free(tc);
}
END_TEST

START_TEST(test_deallocate)
{
	struct turn_client_config c = config();
	struct turn_client *tc = ready(&c, T0);
	struct turn_event ev;
	uint32_t lt = 1;
	uint16_t ch;
	struct req r;
	struct resp s;

	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &ch), 0);
	pop_one(tc, &r, TURN_CHANNEL_BIND);
	ck_assert_int_eq(turn_client_deallocate(tc, T0 + SEC(1)), 0);
	ck_assert_int_eq(turn_client_state(tc), TURN_DEALLOCATING);
	pop_one(tc, &r, TURN_REFRESH);
	assert_authed(&r, NONCE1);
	ck_assert_int_eq(stun_get_u32(stun_find(&r.m, TURN_A_LIFETIME), &lt), 0);
	ck_assert_uint_eq(lt, 0);
	ck_assert_int_eq(turn_client_channel(tc, &peer4.sa, &ch), -ENOENT);
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &ch),
	    -ENOTCONN);
	resp_begin(&s, &r, STUN_SUCCESS);
	stun_put_u32(&s.b, TURN_A_LIFETIME, 0);
	resp_end(&s, key);
	ck_assert_int_eq(feed(tc, T0 + SEC(1), &s), 0);
	expect_event(tc, TURN_EV_FREED, NULL);
	ck_assert_int_eq(turn_client_state(tc), TURN_IDLE);
	ck_assert_int_eq(turn_client_deallocate(tc, T0), -ENOTCONN);
	no_tx(tc);
	turn_client_free(tc);

	/* Unanswered, the delete still ends. */
	tc = ready(&c, T0);
	ck_assert_int_eq(turn_client_deallocate(tc, T0), 0);
	pop_one(tc, &r, TURN_REFRESH);
	ck_assert_uint_eq(run_until_event(tc, &ev), T0 + MSEC(39500));
	ck_assert_int_eq(ev.type, TURN_EV_FREED);
	turn_client_free(tc);
}
END_TEST

/* --- Binding --------------------------------------------------------------- */

START_TEST(test_binding)
{
	struct turn_client_config c = config();
	struct turn_client *tc;
	struct turn_event ev;
	union fz_sockaddr m2;
	uint64_t dl;
	struct req r;
	struct resp s;

	c.keepalive_ms = 25000;
	tc = mk(&c);
	ck_assert_int_eq(turn_client_binding(tc, T0), 0);
	ck_assert_int_eq(turn_client_binding(tc, T0), -EALREADY);
	pop_one(tc, &r, STUN_BINDING);
	assert_unauthed(&r);
	resp_begin(&s, &r, STUN_SUCCESS);
	stun_put_xaddr(&s.b, STUN_A_XOR_MAPPED_ADDRESS, &mapped4.sa);
	resp_end(&s, NULL);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_MAPPED, &ev);
	ck_assert(addr_eq(&ev.mapped.sa, &mapped4.sa));
	/* The same address again: no event. */
	ck_assert_int_eq(turn_client_binding(tc, T0), 0);
	pop_one(tc, &r, STUN_BINDING);
	resp_begin(&s, &r, STUN_SUCCESS);
	stun_put_xaddr(&s.b, STUN_A_XOR_MAPPED_ADDRESS, &mapped4.sa);
	resp_end(&s, NULL);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	no_event(tc);
	/* Not allocated: no keepalive. */
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), -ENOENT);
	turn_client_free(tc);

	/* Allocated: a Binding every 25 s, and a new mapping is reported. */
	tc = ready(&c, T0);
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, T0 + SEC(25));
	turn_client_handle_timeout(tc, dl);
	pop_one(tc, &r, STUN_BINDING);
	addr("203.0.113.9:40001", &m2);
	resp_begin(&s, &r, STUN_SUCCESS);
	stun_put_xaddr(&s.b, STUN_A_XOR_MAPPED_ADDRESS, &m2.sa);
	resp_end(&s, NULL);
	ck_assert_int_eq(feed(tc, dl + MSEC(5), &s), 0);
	expect_event(tc, TURN_EV_MAPPED, &ev);
	ck_assert(addr_eq(&ev.mapped.sa, &m2.sa));
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, T0 + SEC(50) + MSEC(5));
	/* An error and a response without an address. */
	turn_client_handle_timeout(tc, dl);
	pop_one(tc, &r, STUN_BINDING);
	error_resp(&s, &r, 400, NULL, NULL, NULL);
	ck_assert_int_eq(feed(tc, dl, &s), 0);
	expect_event(tc, TURN_EV_BINDING_FAILED, &ev);
	ck_assert_int_eq(ev.code, 400);
	ck_assert_int_eq(turn_client_binding(tc, dl), 0);
	pop_one(tc, &r, STUN_BINDING);
	ok_resp(&s, &r, NULL);
	ck_assert_int_eq(feed(tc, dl, &s), 0);
	expect_event(tc, TURN_EV_BINDING_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_BAD_RESPONSE);
	turn_client_free(tc);
}
END_TEST

/* --- permissions ----------------------------------------------------------- */

START_TEST(test_permission)
{
	struct turn_client_config c = config();
	struct turn_client *tc = ready(&c, T0);
	union fz_sockaddr got, other;
	struct turn_event ev;
	struct turn_data d;
	uint64_t dl;
	struct req r;
	struct resp s;

	ck_assert_int_eq(turn_client_create_permission(tc, T0, &peer4.sa), 0);
	pop_one(tc, &r, TURN_CREATE_PERMISSION);
	assert_authed(&r, NONCE1);
	ck_assert_int_eq(stun_get_xaddr(&r.m, stun_find(&r.m,
	    TURN_A_XOR_PEER_ADDRESS), &got), 0);
	ck_assert(memcmp(&got.in4.sin_addr, &peer4.in4.sin_addr, 4) == 0);
	/* The same address (another port): the same permission. */
	addr("198.51.100.7:1", &other);
	ck_assert_int_eq(turn_client_create_permission(tc, T0, &other.sa), 0);
	no_tx(tc);
	ok_resp(&s, &r, key);
	ck_assert_int_eq(feed(tc, T0 + MSEC(10), &s), 0);
	expect_event(tc, TURN_EV_PERMISSION_CREATED, &ev);
	ck_assert(memcmp(&ev.peer.in4.sin_addr, &peer4.in4.sin_addr, 4) == 0);
	/* Refreshed 240 s after it was asked for. */
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, T0 + SEC(240));
	turn_client_handle_timeout(tc, dl);
	pop_one(tc, &r, TURN_CREATE_PERMISSION);
	ok_resp(&s, &r, key);
	ck_assert_int_eq(feed(tc, dl, &s), 0);
	no_event(tc);

	/* Data indications from a permitted peer only. */
	stun_build(&s.b, s.buf, sizeof(s.buf), TURN_DATA | STUN_INDICATION,
	    r.m.tid);
	stun_put_xaddr(&s.b, TURN_A_XOR_PEER_ADDRESS, &peer4.sa);
	stun_put(&s.b, TURN_A_DATA, "hello", 5);
	ck_assert_int_eq(stun_finish(&s.b, &s.len), 0);
	ck_assert_int_eq(turn_client_input(tc, dl, &server.sa, s.buf, s.len,
	    &d), TURN_INPUT_DATA);
	ck_assert_uint_eq(d.len, 5);
	ck_assert_mem_eq(d.payload, "hello", 5);
	ck_assert_uint_eq(d.channel, 0);
	ck_assert(addr_eq(&d.peer.sa, &peer4.sa));
	turn_client_remove_permission(tc, &peer4.sa);
	ck_assert_int_eq(turn_client_input(tc, dl, &server.sa, s.buf, s.len,
	    &d), -ENOENT);
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, T0 + SEC(300));	/* only the refresh left */

	/* Refused: forgotten, with the code. */
	ck_assert_int_eq(turn_client_create_permission(tc, dl, &peer6.sa), 0);
	pop_one(tc, &r, TURN_CREATE_PERMISSION);
	error_resp(&s, &r, 403, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, dl, &s), 0);
	expect_event(tc, TURN_EV_PERMISSION_FAILED, &ev);
	ck_assert_int_eq(ev.code, 403);
	ck_assert_int_eq(ev.peer.sa.sa_family, AF_INET6);
	ck_assert(memcmp(&ev.peer.in6.sin6_addr, &peer6.in6.sin6_addr, 16) == 0);
	ck_assert_uint_eq(ev.peer.in6.sin6_port, 0);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_permission_cap_and_expiry)
{
	struct turn_client_config c = config();
	struct turn_client *tc;
	struct turn_event ev;
	union fz_sockaddr p;
	char s[64];
	struct req r;
	struct resp rs;
	unsigned i;

	c.max_permissions = 2;
	tc = ready(&c, T0);
	for (i = 0; i < 3; i++) {
		snprintf(s, sizeof(s), "198.51.100.%u:1", i + 1);
		addr(s, &p);
		ck_assert_int_eq(turn_client_create_permission(tc, T0, &p.sa),
		    i < 2 ? 0 : -ENOSPC);
	}
	ck_assert_int_eq(pop(tc, &r), 0);
	ok_resp(&rs, &r, key);
	ck_assert_int_eq(feed(tc, T0, &rs), 0);
	expect_event(tc, TURN_EV_PERMISSION_CREATED, NULL);
	/* The second is never answered. */
	ck_assert_int_eq(pop(tc, &r), 0);
	ck_assert_uint_eq(run_until_event(tc, &ev), T0 + MSEC(39500));
	ck_assert_int_eq(ev.type, TURN_EV_PERMISSION_FAILED);
	ck_assert_int_eq(ev.reason, TURN_R_TIMEOUT);
	/* The slot is free again. */
	ck_assert_int_eq(turn_client_create_permission(tc, T0, &p.sa), 0);
	turn_client_free(tc);
}
END_TEST

/* --- channels -------------------------------------------------------------- */

START_TEST(test_channel_bind)
{
	struct turn_client_config c = config();
	struct turn_client *tc = ready(&c, T0);
	union fz_sockaddr got;
	struct turn_event ev;
	uint16_t ch = 0, ch2 = 0, v;
	uint64_t dl;
	struct req r;
	struct resp s;

	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &ch), 0);
	ck_assert_uint_eq(ch, 0x4000);
	pop_one(tc, &r, TURN_CHANNEL_BIND);
	assert_authed(&r, NONCE1);
	ck_assert_int_eq(stun_get_channel(stun_find(&r.m,
	    TURN_A_CHANNEL_NUMBER), &v), 0);
	ck_assert_uint_eq(v, 0x4000);
	ck_assert_int_eq(stun_get_xaddr(&r.m, stun_find(&r.m,
	    TURN_A_XOR_PEER_ADDRESS), &got), 0);
	ck_assert(addr_eq(&got.sa, &peer4.sa));
	/* Usable at once (optimistic), the same number when asked again. */
	ck_assert_int_eq(turn_client_channel(tc, &peer4.sa, &v), 0);
	ck_assert_uint_eq(v, 0x4000);
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &v), 0);
	ck_assert_uint_eq(v, 0x4000);
	no_tx(tc);
	ok_resp(&s, &r, key);
	ck_assert_int_eq(feed(tc, T0 + MSEC(1), &s), 0);
	expect_event(tc, TURN_EV_CHANNEL_BOUND, &ev);
	ck_assert_uint_eq(ev.channel, 0x4000);
	ck_assert(addr_eq(&ev.peer.sa, &peer4.sa));
	/* The next peer gets the next number; IPv6 peers too. */
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer6.sa, &ch2), 0);
	ck_assert_uint_eq(ch2, 0x4001);
	pop_one(tc, &r, TURN_CHANNEL_BIND);
	ok_resp(&s, &r, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_CHANNEL_BOUND, NULL);

	/* Rebound 240 s after the bind was sent, silently. */
	ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
	ck_assert_uint_eq(dl, T0 + SEC(240));
	turn_client_handle_timeout(tc, dl);
	pop(tc, &r);
	ck_assert_uint_eq(r.m.method, TURN_CHANNEL_BIND);
	ok_resp(&s, &r, key);
	ck_assert_int_eq(feed(tc, dl, &s), 0);
	pop(tc, &r);
	ck_assert_uint_eq(r.m.method, TURN_CHANNEL_BIND);
	ck_assert_int_eq(stun_get_channel(stun_find(&r.m,
	    TURN_A_CHANNEL_NUMBER), &v), 0);
	ck_assert_uint_eq(v, 0x4001);
	/* This rebind is refused: the channel fails, its number is held. */
	error_resp(&s, &r, 400, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, dl, &s), 0);
	expect_event(tc, TURN_EV_CHANNEL_FAILED, &ev);
	ck_assert_uint_eq(ev.channel, 0x4001);
	ck_assert_int_eq(ev.code, 400);
	ck_assert_int_eq(turn_client_channel(tc, &peer6.sa, &v), -ENOENT);
	no_event(tc);
	no_tx(tc);

	/*
	 * 0x4000's rebinds go unanswered (the allocation's refreshes are):
	 * the channel expires 600 s after its last successful bind was sent.
	 */
	for (;;) {
		ck_assert_int_eq(turn_client_poll_timeout(tc, &dl), 0);
		turn_client_handle_timeout(tc, dl);
		while (pop(tc, &r) == 0) {
			if (r.m.method != TURN_REFRESH)
				continue;
			ok_resp(&s, &r, key);
			ck_assert_int_eq(feed(tc, dl, &s), 0);
		}
		if (next_event(tc, &ev) == 0 && ev.type != TURN_EV_REFRESHED)
			break;
	}
	ck_assert_int_eq(ev.type, TURN_EV_CHANNEL_FAILED);
	ck_assert_int_eq(ev.reason, TURN_R_EXPIRED);
	ck_assert_uint_eq(ev.channel, 0x4000);
	ck_assert_uint_eq(dl, T0 + SEC(240) + SEC(600));
	turn_client_free(tc);
}
END_TEST

/* Numbers never go to another peer while the server may still hold them. */
START_TEST(test_channel_cooldown)
{
	struct turn_client_config c = config();
	struct turn_client *tc;
	union fz_sockaddr p;
	uint16_t ch;
	struct req r;
	unsigned i;

	c.max_channels = 4096;
	tc = ready(&c, T0);
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &ch), 0);
	ck_assert_uint_eq(ch, 0x4000);
	ck_assert_int_eq(pop(tc, &r), 0);	/* unanswered */
	turn_client_release_channel(tc, T0 + SEC(1), &peer4.sa);
	ck_assert_int_eq(turn_client_channel(tc, &peer4.sa, &ch), -ENOENT);
	/* Every other number goes to other peers, in order... */
	p = peer4;
	for (i = 1; i < 4096; i++) {
		p.in4.sin_port = htons((uint16_t)(1000 + i));
		ck_assert_int_eq(turn_client_bind_channel(tc, T0, &p.sa, &ch),
		    0);
		ck_assert_uint_eq(ch, 0x4000 + i);
		ck_assert_int_eq(pop(tc, &r), 0);
	}
	/* ...and then there is none, 0x4000 being in its cooldown. */
	p.in4.sin_port = htons(999);
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &p.sa, &ch), -ENOSPC);
	/* The same peer may have its own number back. */
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &ch), 0);
	ck_assert_uint_eq(ch, 0x4000);
	ck_assert_int_eq(pop(tc, &r), 0);
	turn_client_free(tc);

	/* The cooldown ends 600 + 300 s after the last bind was sent. */
	c.max_channels = 1;
	tc = ready_lt(&c, T0, 3600);	/* no refresh in the way */
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &ch), 0);
	ck_assert_int_eq(pop(tc, &r), 0);
	turn_client_handle_timeout(tc, T0 + MSEC(500));	/* a retransmit */
	ck_assert_int_eq(pop(tc, &r), 0);
	turn_client_release_channel(tc, T0 + SEC(1), &peer4.sa);
	p = peer4;
	p.in4.sin_port = htons(7);
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &p.sa, &ch), -ENOSPC);
	turn_client_handle_timeout(tc, T0 + MSEC(500) + SEC(900) - 1);
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &p.sa, &ch), -ENOSPC);
	turn_client_handle_timeout(tc, T0 + MSEC(500) + SEC(900));
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &p.sa, &ch), 0);
	ck_assert_uint_eq(ch, 0x4001);
	turn_client_free(tc);
}
END_TEST

/* Asked for before the allocation is ready: sent once it is. */
START_TEST(test_channel_before_ready)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	struct turn_event ev;
	uint16_t ch4, ch6;
	struct req r;
	struct resp s;

	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &ch4), 0);
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer6.sa, &ch6), 0);
	ck_assert_int_eq(turn_client_create_permission(tc, T0, &peer6.sa), 0);
	no_tx(tc);
	ck_assert_int_eq(turn_client_channel(tc, &peer4.sa, &ch4), -ENOENT);
	dance(tc, T0, &r);
	alloc_ok_resp(&s, &r, true, false, 600);	/* IPv4 only */
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_ALLOCATED, NULL);
	expect_event(tc, TURN_EV_PERMISSION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_FAMILY);
	expect_event(tc, TURN_EV_CHANNEL_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_FAMILY);
	ck_assert_uint_eq(ev.channel, ch6);
	pop_one(tc, &r, TURN_CHANNEL_BIND);
	ck_assert_int_eq(turn_client_channel(tc, &peer4.sa, &ch4), 0);
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer6.sa, &ch6),
	    -EAFNOSUPPORT);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_channeldata)
{
	struct turn_client_config c = config();
	struct turn_client *tc = ready(&c, T0);
	uint8_t buf[64], out[64];
	struct turn_data d;
	uint16_t ch;
	size_t n, pad;
	struct req r;

	ck_assert_int_eq(turn_client_wrap(tc, &peer4.sa, "abc", 3, out,
	    sizeof(out), &n), -ENOENT);
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &ch), 0);
	pop_one(tc, &r, TURN_CHANNEL_BIND);
	ck_assert_int_eq(turn_client_wrap(tc, &peer4.sa, "abcde", 5, out,
	    sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 9);
	ck_assert_mem_eq(out, "\x40\x00\x00\x05" "abcde", 9);
	ck_assert_int_eq(turn_client_wrap(tc, &peer4.sa, "abcde", 5, out, 8,
	    &n), -ENOBUFS);

	/* Received: exact, or padded to 4 (at most 3 bytes more). */
	memcpy(buf, "\x40\x00\x00\x05" "abcde\0\0\0\0", 13);
	for (pad = 0; pad <= 4; pad++) {
		int rc = turn_client_input(tc, T0, &server.sa, buf, 9 + pad,
		    &d);

		if (pad <= 3) {
			ck_assert_int_eq(rc, TURN_INPUT_DATA);
			ck_assert_uint_eq(d.len, 5);
			ck_assert_ptr_eq(d.payload, buf + 4);
			ck_assert_uint_eq(d.channel, 0x4000);
			ck_assert(addr_eq(&d.peer.sa, &peer4.sa));
		} else
			ck_assert_int_eq(rc, -EBADMSG);
	}
	/* Longer than the datagram, an unknown channel, a wrong sender. */
	ck_assert_int_eq(turn_client_input(tc, T0, &server.sa, buf, 8, &d),
	    -EBADMSG);
	buf[1] = 1;
	ck_assert_int_eq(turn_client_input(tc, T0, &server.sa, buf, 9, &d),
	    -ENOENT);
	buf[1] = 0;
	ck_assert_int_eq(turn_client_input(tc, T0, &peer4.sa, buf, 9, &d),
	    -ENOENT);
	/* Empty payload. */
	ck_assert_int_eq(turn_client_input(tc, T0, &server.sa,
	    (const uint8_t *)"\x40\x00\x00\x00", 4, &d), TURN_INPUT_DATA);
	ck_assert_uint_eq(d.len, 0);
	/* Released: no longer ours. */
	turn_client_release_channel(tc, T0, &peer4.sa);
	ck_assert_int_eq(turn_client_input(tc, T0, &server.sa, buf, 9, &d),
	    -ENOENT);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_lost_clears_everything)
{
	struct turn_client_config c = config();
	struct turn_client *tc = ready(&c, T0);
	struct turn_event ev;
	uint16_t ch;
	struct req r;
	struct resp s;

	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &ch), 0);
	ck_assert_int_eq(turn_client_create_permission(tc, T0, &peer6.sa), 0);
	while (pop(tc, &r) == 0)
		;
	turn_client_handle_timeout(tc, T0 + SEC(300));
	ck_assert_int_eq(pop(tc, &r), 0);	/* the Refresh comes first */
	ck_assert_uint_eq(r.m.method, TURN_REFRESH);
	error_resp(&s, &r, 437, NULL, NULL, key);
	ck_assert_int_eq(feed(tc, T0 + SEC(300), &s), 0);
	expect_event(tc, TURN_EV_ALLOCATION_LOST, &ev);
	no_event(tc);
	no_tx(tc);	/* the retransmissions went with them */
	ck_assert_int_eq(turn_client_channel(tc, &peer4.sa, &ch), -ENOENT);
	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &ch),
	    -ENOTCONN);
	ck_assert_int_eq(turn_client_poll_timeout(tc, &(uint64_t){ 0 }),
	    -ENOENT);
	/* Allocating again starts over, with numbers from 0x4000. */
	ck_assert_int_eq(turn_client_allocate(tc, T0 + SEC(301)), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	assert_unauthed(&r);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_deallocate_while_allocating)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	struct turn_event ev;
	uint32_t lt = 1;
	struct req r, first;
	struct resp s;

	/* Nothing on the server yet: forgotten at once. */
	ck_assert_int_eq(turn_client_allocate(tc, T0), 0);
	pop_one(tc, &r, TURN_ALLOCATE);
	ck_assert_int_eq(turn_client_deallocate(tc, T0), 0);
	expect_event(tc, TURN_EV_FREED, NULL);
	ck_assert_int_eq(turn_client_state(tc), TURN_IDLE);
	no_tx(tc);
	turn_client_free(tc);

	/* An authenticated Allocate went out: it may exist, delete it. */
	tc = mk(&c);
	dance(tc, T0, &first);
	ck_assert_int_eq(turn_client_deallocate(tc, T0), 0);
	pop_one(tc, &r, TURN_REFRESH);
	ck_assert_int_eq(stun_get_u32(stun_find(&r.m, TURN_A_LIFETIME), &lt), 0);
	ck_assert_uint_eq(lt, 0);
	alloc_ok_resp(&s, &first, true, true, 600);	/* too late */
	ck_assert_int_eq(feed(tc, T0, &s), -ENOENT);
	ok_resp(&s, &r, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_FREED, &ev);
	no_event(tc);
	ck_assert_int_eq(turn_client_state(tc), TURN_IDLE);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_channel_stale_nonce)
{
	struct turn_client_config c = config();
	struct turn_client *tc = ready(&c, T0);
	struct turn_event ev;
	uint16_t ch, v;
	struct req r;
	struct resp s;

	ck_assert_int_eq(turn_client_bind_channel(tc, T0, &peer4.sa, &ch), 0);
	pop_one(tc, &r, TURN_CHANNEL_BIND);
	error_resp(&s, &r, 438, REALM, NONCE2, NULL);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	pop_one(tc, &r, TURN_CHANNEL_BIND);
	assert_authed(&r, NONCE2);
	ck_assert_int_eq(stun_get_channel(stun_find(&r.m,
	    TURN_A_CHANNEL_NUMBER), &v), 0);
	ck_assert_uint_eq(v, ch);
	no_event(tc);
	ok_resp(&s, &r, key);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_CHANNEL_BOUND, &ev);
	ck_assert_uint_eq(ev.channel, ch);
	/* Later requests carry the new nonce too; a 401 now is fatal. */
	ck_assert_int_eq(turn_client_create_permission(tc, T0, &peer6.sa), 0);
	pop_one(tc, &r, TURN_CREATE_PERMISSION);
	assert_authed(&r, NONCE2);
	error_resp(&s, &r, 401, REALM, NONCE2, NULL);
	ck_assert_int_eq(feed(tc, T0, &s), 0);
	expect_event(tc, TURN_EV_PERMISSION_FAILED, &ev);
	ck_assert_int_eq(ev.reason, TURN_R_BAD_CREDENTIALS);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_binding_timeout)
{
	struct turn_client_config c = config();
	struct turn_client *tc = mk(&c);
	struct turn_event ev;

	ck_assert_int_eq(turn_client_binding(tc, T0), 0);
	ck_assert_uint_eq(run_until_event(tc, &ev), T0 + MSEC(39500));
	ck_assert_int_eq(ev.type, TURN_EV_BINDING_FAILED);
	ck_assert_int_eq(ev.reason, TURN_R_TIMEOUT);
	ck_assert_int_eq(turn_client_binding(tc, T0), 0);
	turn_client_free(tc);
}
END_TEST

START_TEST(test_config)
{
	struct turn_client_config c = config();
	struct turn_client *tc = NULL;
	char longname[TURN_TEXT_MAX + 2];

	c.rng = NULL;
	ck_assert_int_eq(turn_client_new(&c, &tc), -EINVAL);
	c = config();
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	c.username = longname;
	ck_assert_int_eq(turn_client_new(&c, &tc), -EINVAL);
	c = config();
	c.max_channels = 4097;
	ck_assert_int_eq(turn_client_new(&c, &tc), -EINVAL);
	c = config();
	c.server.sa.sa_family = AF_UNIX;
	ck_assert_int_eq(turn_client_new(&c, &tc), -EINVAL);
	ck_assert_ptr_null(tc);
	turn_client_free(NULL);
	ck_assert_str_eq(turn_reason_str(TURN_R_BAD_CREDENTIALS),
	    "bad credentials");
	ck_assert_str_eq(turn_reason_str((enum turn_reason)99), "?");
}
END_TEST

static Suite *
turn_client_suite(void)
{
	Suite *s = suite_create("turn_client");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_nonce_dance);
	tcase_add_test(tc, test_rest_credentials_any_realm);
	tcase_add_test(tc, test_realm_mismatch);
	tcase_add_test(tc, test_stale_nonce);
	tcase_add_test(tc, test_bad_credentials);
	tcase_add_test(tc, test_family_fallback);
	tcase_add_test(tc, test_mismatch_delete_realloc);
	tcase_add_test(tc, test_other_errors);
	tcase_add_test(tc, test_ignored_responses);
	tcase_add_test(tc, test_retransmissions);
	tcase_add_test(tc, test_rto_follows_rtt);
	tcase_add_test(tc, test_refresh);
	tcase_add_test(tc, test_refresh_mismatch_and_creds);
	tcase_add_test(tc, test_deallocate);
	tcase_add_test(tc, test_binding);
	tcase_add_test(tc, test_permission);
	tcase_add_test(tc, test_permission_cap_and_expiry);
	tcase_add_test(tc, test_channel_bind);
	tcase_add_test(tc, test_channel_cooldown);
	tcase_add_test(tc, test_channel_before_ready);
	tcase_add_test(tc, test_channeldata);
	tcase_add_test(tc, test_lost_clears_everything);
	tcase_add_test(tc, test_deallocate_while_allocating);
	tcase_add_test(tc, test_channel_stale_nonce);
	tcase_add_test(tc, test_binding_timeout);
	tcase_add_test(tc, test_config);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_client_suite)
