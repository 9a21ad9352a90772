/* SPDX-License-Identifier: ISC */
/* The p2p control protocol (§4.6) and the client's DNS-NAT states. */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "check_util.h"
#include "p2p.h"

static const char *example_body =
    "{\"resource\":\"00000000-0000-0000-0000-000000000065\","
    "\"domain\":\"example.com\",\"proxy_ips\":[\"100.96.0.1\","
    "\"100.96.0.2\",\"100.96.0.3\",\"100.96.0.4\",\"fd00:2021:1111:8000::\","
    "\"fd00:2021:1111:8000::1\",\"fd00:2021:1111:8000::2\","
    "\"fd00:2021:1111:8000::3\"]}";

static void
example_msg(struct p2p_msg *m)
{
	const char *ips[] = { "100.96.0.1", "100.96.0.2", "100.96.0.3",
	    "100.96.0.4", "fd00:2021:1111:8000::", "fd00:2021:1111:8000::1",
	    "fd00:2021:1111:8000::2", "fd00:2021:1111:8000::3" };

	memset(m, 0, sizeof(*m));
	m->type = P2P_ASSIGNED_IPS;
	strcpy(m->resource, "00000000-0000-0000-0000-000000000065");
	strcpy(m->domain, "example.com");
	m->nproxy = 8;
	for (int i = 0; i < 8; i++) {
		m->proxy[i].af = i < 4 ? AF_INET : AF_INET6;
		ck_assert_int_eq(inet_pton(m->proxy[i].af, ips[i],
		    m->proxy[i].a), 1);
	}
}

/* A control packet around body (type t). */
static size_t
wrap(uint8_t *b, uint8_t t, const char *body, size_t blen)
{
	size_t plen = 8 + blen;

	memset(b, 0, 48);
	b[0] = 0x60;
	b[4] = (uint8_t)(plen >> 8);
	b[5] = (uint8_t)plen;
	b[6] = 0xff;
	b[40] = t;
	memcpy(b + 48, body, blen);
	return 48 + blen;
}

START_TEST(test_build_example)
{
	struct p2p_msg m, m2;
	uint8_t b[P2P_MAX_PKT], want[P2P_MAX_PKT];
	size_t n, wn;

	example_msg(&m);
	ck_assert_int_eq(p2p_build(&m, b, sizeof(b), &n), 0);
	wn = wrap(want, 0, example_body, strlen(example_body));
	ck_assert_uint_eq(n, wn);
	ck_assert_mem_eq(b, want, n);
	ck_assert_int_eq(b[7], 0);	/* hop limit */
	ck_assert(p2p_is_control(b, n));
	ck_assert_int_eq(p2p_parse(b, n, &m2), 0);
	ck_assert_int_eq(m2.type, P2P_ASSIGNED_IPS);
	ck_assert_str_eq(m2.domain, "example.com");
	ck_assert_uint_eq(m2.nproxy, 8);
	ck_assert_mem_eq(m2.proxy, m.proxy, sizeof(m.proxy));
	/* Every truncation is refused. */
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(p2p_parse(b, i, &m2), -EINVAL);
}
END_TEST

START_TEST(test_status_goodbye)
{
	struct p2p_msg m;
	uint8_t b[P2P_MAX_PKT];
	size_t n;
	const char *act = "{\"resource\":\"r\",\"domain\":\"d.test\","
	    "\"status\":\"Active\"}";
	const char *inact = "{\"resource\":\"r\",\"domain\":\"d.test\","
	    "\"status\":\"Inactive\"}";
	const char *odd = "{\"resource\":\"r\",\"domain\":\"d.test\","
	    "\"status\":\"Sleeping\",\"extra\":1}";

	n = wrap(b, 1, act, strlen(act));
	ck_assert_int_eq(p2p_parse(b, n, &m), 0);
	ck_assert_int_eq(m.type, P2P_DOMAIN_STATUS);
	ck_assert_int_eq(m.active, 1);
	n = wrap(b, 1, inact, strlen(inact));
	ck_assert_int_eq(p2p_parse(b, n, &m), 0);
	ck_assert_int_eq(m.active, 0);
	n = wrap(b, 1, odd, strlen(odd));
	ck_assert_int_eq(p2p_parse(b, n, &m), 0);	/* unknown = Inactive */
	ck_assert_int_eq(m.active, 0);
	/* Built status round-trips byte for byte. */
	m.active = 1;
	ck_assert_int_eq(p2p_build(&m, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(n, 48 + strlen(act));
	ck_assert_mem_eq(b + 48, act, strlen(act));

	memset(&m, 0, sizeof(m));
	m.type = P2P_GOODBYE;
	ck_assert_int_eq(p2p_build(&m, b, sizeof(b), &n), 0);
	ck_assert_uint_eq(n, 48);
	ck_assert_int_eq(b[40], 2);
	ck_assert_int_eq(p2p_parse(b, n, &m), 0);
	ck_assert_int_eq(m.type, P2P_GOODBYE);
	n = wrap(b, 2, "{}", 2);		/* goodbye has no body */
	ck_assert_int_eq(p2p_parse(b, n, &m), -EINVAL);
}
END_TEST

START_TEST(test_reject)
{
	struct p2p_msg m;
	uint8_t b[2048];
	char big[1300];
	size_t n;
	const char *bad[] = {
	    "{\"resource\":\"r\",\"domain\":\"d\",\"proxy_ips\":[\"1.2.3.4\","
	    "\"1.2.3.5\",\"1.2.3.6\"]}",			/* 3 */
	    "{\"resource\":\"r\",\"domain\":\"d\",\"proxy_ips\":[\"1.2.3.4\","
	    "\"1.2.3.5\",\"1.2.3.6\",\"x\"]}",		/* not an IP */
	    "{\"resource\":\"r\",\"domain\":\"d\",\"proxy_ips\":[1,2,3,4]}",
	    "{\"resource\":\"r\",\"proxy_ips\":[\"1.2.3.4\",\"1.2.3.5\","
	    "\"1.2.3.6\",\"1.2.3.7\"]}",			/* no domain */
	    "{\"resource\":\"r\",\"domain\":\"d\",\"domain\":\"e\","
	    "\"proxy_ips\":[\"1.2.3.4\",\"1.2.3.5\",\"1.2.3.6\",\"1.2.3.7\"]}",
	    "[]", "{", "",
	};
	const char *good = "{\"resource\":\"r\",\"domain\":\"d\",\"proxy_ips\":"
	    "[\"1.2.3.4\",\"1.2.3.5\",\"1.2.3.6\",\"::1\"]}";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = wrap(b, 0, bad[i], strlen(bad[i]));
		ck_assert_int_eq(p2p_parse(b, n, &m), -EINVAL);
	}
	n = wrap(b, 0, good, strlen(good));
	ck_assert_int_eq(p2p_parse(b, n, &m), 0);
	ck_assert_uint_eq(m.nproxy, 4);
	b[41] = 1;				/* reserved byte */
	ck_assert_int_eq(p2p_parse(b, n, &m), -EINVAL);
	b[41] = 0;
	b[40] = 3;				/* unknown type */
	ck_assert_int_eq(p2p_parse(b, n, &m), -EINVAL);
	b[40] = 0;
	b[23] = 1;				/* source not :: */
	ck_assert_int_eq(p2p_parse(b, n, &m), -EINVAL);
	ck_assert(!p2p_is_control(b, n));
	b[23] = 0;
	b[6] = 17;
	ck_assert(!p2p_is_control(b, n));
	b[6] = 0xff;
	ck_assert_int_eq(p2p_parse(b, n + 1, &m), -EINVAL); /* trailing */
	b[5]++;
	ck_assert_int_eq(p2p_parse(b, n, &m), -EINVAL);	/* length */
	/* Over 1280 bytes. */
	memset(big, ' ', sizeof(big));
	memcpy(big + sizeof(big) - strlen(good), good, strlen(good));
	n = wrap(b, 0, big, sizeof(big));
	ck_assert_int_eq(p2p_parse(b, n, &m), -EINVAL);
	/* Building: 4 or 8 proxies only, output bounded. */
	example_msg(&m);
	m.nproxy = 5;
	ck_assert_int_eq(p2p_build(&m, b, sizeof(b), &n), -EINVAL);
	m.nproxy = 8;
	ck_assert_int_eq(p2p_build(&m, b, 100, &n), -EMSGSIZE);
}
END_TEST

/* --- the state machine, on a fake clock --- */

struct sink {
	int	n;
	uint8_t	first[8];
	uint8_t	last[8];
};

static void
emit(void *arg, uint64_t gw, const uint8_t *pkt, size_t len)
{
	struct sink *s = arg;

	ck_assert_uint_eq(gw, 7);
	ck_assert_uint_eq(len, 8);
	if (s->n == 0)
		memcpy(s->first, pkt, 8);
	memcpy(s->last, pkt, 8);
	s->n++;
}

static struct p2p_msg
status(int active)
{
	struct p2p_msg s;

	example_msg(&s);
	s.type = P2P_DOMAIN_STATUS;
	s.active = active;
	return s;
}

START_TEST(test_nat_pending_confirm)
{
	struct p2p_nat *nat = p2p_nat_new();
	struct p2p_nat_stats st;
	struct p2p_msg m, s;
	struct sink sink = { 0 };
	uint8_t ctl[P2P_MAX_PKT], pkt[8] = { 0 }, want[P2P_MAX_PKT];
	size_t cl, wn;
	uint64_t t = 5000;

	example_msg(&m);
	wn = wrap(want, 0, example_body, strlen(example_body));
	ck_assert_int_eq(p2p_nat_packet(nat, 7, &m, pkt, 8, t, ctl,
	    sizeof(ctl), &cl), P2P_NAT_BUFFERED);
	ck_assert_uint_eq(cl, wn);
	ck_assert_mem_eq(ctl, want, wn);
	ck_assert_int_eq(p2p_nat_state(nat, 7, m.resource, m.domain),
	    P2P_NAT_PENDING);
	/* Packets keep coming: resent at most every 2 s. */
	for (int i = 1; i < 40; i++) {
		int v;

		pkt[0] = (uint8_t)i;
		v = p2p_nat_packet(nat, 7, &m, pkt, 8, t + (uint64_t)i * 100,
		    ctl, sizeof(ctl), &cl);
		ck_assert_int_eq(v, i < P2P_NAT_BUF ? P2P_NAT_BUFFERED :
		    P2P_NAT_DROP);
		ck_assert_uint_eq(cl, i % 20 == 0 ? wn : 0);
	}
	ck_assert_uint_eq(p2p_nat_buffered(nat, 7, m.resource, m.domain), 32);
	p2p_nat_get_stats(nat, &st);
	ck_assert_uint_eq(st.dropped_full, 8);
	ck_assert_uint_eq(st.sent_assigned, 2);
	/* Another gateway has its own state. */
	ck_assert_int_eq(p2p_nat_state(nat, 8, m.resource, m.domain),
	    P2P_NAT_NONE);
	s = status(1);
	ck_assert_int_eq(p2p_nat_status(nat, 8, &s, emit, &sink), -ENOENT);
	ck_assert_int_eq(p2p_nat_status(nat, 7, &s, emit, &sink), 32);
	ck_assert_int_eq(sink.first[0], 0);
	ck_assert_int_eq(sink.last[0], 31);
	ck_assert_int_eq(p2p_nat_state(nat, 7, m.resource, m.domain),
	    P2P_NAT_CONFIRMED);
	ck_assert_int_eq(p2p_nat_packet(nat, 7, &m, pkt, 8, t + 9000, ctl,
	    sizeof(ctl), &cl), P2P_NAT_FORWARD);
	ck_assert_uint_eq(cl, 0);
	/* A new DNS query: Recreating, resent, still forwarding. */
	ck_assert_int_eq(p2p_nat_dns_query(nat, 7, &m, t + 9100, ctl,
	    sizeof(ctl), &cl), 0);
	ck_assert_uint_eq(cl, wn);
	ck_assert_int_eq(p2p_nat_state(nat, 7, m.resource, m.domain),
	    P2P_NAT_RECREATING);
	ck_assert_int_eq(p2p_nat_packet(nat, 7, &m, pkt, 8, t + 9200, ctl,
	    sizeof(ctl), &cl), P2P_NAT_FORWARD);
	ck_assert_uint_eq(cl, 0);
	ck_assert_int_eq(p2p_nat_packet(nat, 7, &m, pkt, 8, t + 11100, ctl,
	    sizeof(ctl), &cl), P2P_NAT_FORWARD);
	ck_assert_uint_eq(cl, wn);
	ck_assert_int_eq(p2p_nat_status(nat, 7, &s, emit, &sink), 0);
	ck_assert_int_eq(p2p_nat_state(nat, 7, m.resource, m.domain),
	    P2P_NAT_CONFIRMED);
	p2p_nat_forget_gateway(nat, 7);
	ck_assert_int_eq(p2p_nat_state(nat, 7, m.resource, m.domain),
	    P2P_NAT_NONE);
	p2p_nat_free(nat);
}
END_TEST

START_TEST(test_nat_failed)
{
	struct p2p_nat *nat = p2p_nat_new();
	struct p2p_nat_stats st;
	struct p2p_msg m, s;
	struct sink sink = { 0 };
	uint8_t ctl[P2P_MAX_PKT], pkt[8] = { 0 };
	size_t cl;

	example_msg(&m);
	/* A DNS query without an entry sends nothing. */
	ck_assert_int_eq(p2p_nat_dns_query(nat, 7, &m, 0, ctl, sizeof(ctl),
	    &cl), 0);
	ck_assert_uint_eq(cl, 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(p2p_nat_packet(nat, 7, &m, pkt, 8, 10, ctl,
		    sizeof(ctl), &cl), P2P_NAT_BUFFERED);
	s = status(0);
	ck_assert_int_eq(p2p_nat_status(nat, 7, &s, emit, &sink), 0);
	ck_assert_int_eq(sink.n, 0);
	ck_assert_int_eq(p2p_nat_state(nat, 7, m.resource, m.domain),
	    P2P_NAT_FAILED);
	/* Failed: packets still go (the gateway answers them). */
	ck_assert_int_eq(p2p_nat_packet(nat, 7, &m, pkt, 8, 5000, ctl,
	    sizeof(ctl), &cl), P2P_NAT_FORWARD);
	ck_assert_uint_eq(cl, 0);
	p2p_nat_get_stats(nat, &st);
	ck_assert_uint_eq(st.dropped_failed, 3);
	ck_assert_uint_eq(st.sent_failed, 1);
	/* A new query: Recreating, never confirmed, so buffering again. */
	ck_assert_int_eq(p2p_nat_dns_query(nat, 7, &m, 6000, ctl, sizeof(ctl),
	    &cl), 0);
	ck_assert_uint_gt(cl, 0);
	ck_assert_int_eq(p2p_nat_packet(nat, 7, &m, pkt, 8, 6001, ctl,
	    sizeof(ctl), &cl), P2P_NAT_BUFFERED);
	ck_assert_uint_eq(cl, 0);
	/* Another query within 2 s sends nothing more; after 2 s it does. */
	ck_assert_int_eq(p2p_nat_dns_query(nat, 7, &m, 7999, ctl, sizeof(ctl),
	    &cl), 0);
	ck_assert_uint_eq(cl, 0);
	ck_assert_int_eq(p2p_nat_dns_query(nat, 7, &m, 8000, ctl, sizeof(ctl),
	    &cl), 0);
	ck_assert_uint_gt(cl, 0);
	ck_assert_int_eq(p2p_nat_state(nat, 7, m.resource, m.domain),
	    P2P_NAT_RECREATING);
	s = status(1);
	ck_assert_int_eq(p2p_nat_status(nat, 7, &s, emit, &sink), 1);
	p2p_nat_free(nat);
	p2p_nat_free(NULL);
}
END_TEST

/* Entries are bounded; forgetting a gateway drops only its own. */
START_TEST(test_nat_bounds)
{
	struct p2p_nat *nat = p2p_nat_new();
	struct p2p_msg m;
	uint8_t ctl[P2P_MAX_PKT], pkt[8] = { 0 };
	size_t cl;

	example_msg(&m);
	for (uint64_t gw = 0; gw < P2P_NAT_MAX; gw++)
		ck_assert_int_eq(p2p_nat_packet(nat, gw, &m, pkt, 8, 0, ctl,
		    sizeof(ctl), &cl), P2P_NAT_BUFFERED);
	ck_assert_int_eq(p2p_nat_packet(nat, P2P_NAT_MAX, &m, pkt, 8, 0, ctl,
	    sizeof(ctl), &cl), -ENOSPC);
	ck_assert_uint_eq(cl, 0);
	p2p_nat_forget_gateway(nat, 3);
	ck_assert_int_eq(p2p_nat_state(nat, 3, m.resource, m.domain),
	    P2P_NAT_NONE);
	ck_assert_int_eq(p2p_nat_state(nat, 4, m.resource, m.domain),
	    P2P_NAT_PENDING);
	ck_assert_int_eq(p2p_nat_packet(nat, P2P_NAT_MAX, &m, pkt, 8, 0, ctl,
	    sizeof(ctl), &cl), P2P_NAT_BUFFERED);
	/* Oversized or empty packets are refused. */
	ck_assert_int_eq(p2p_nat_packet(nat, 4, &m, pkt, 0, 0, ctl,
	    sizeof(ctl), &cl), -EINVAL);
	m.type = P2P_GOODBYE;
	ck_assert_int_eq(p2p_nat_packet(nat, 4, &m, pkt, 8, 0, ctl,
	    sizeof(ctl), &cl), -EINVAL);
	p2p_nat_free(nat);
}
END_TEST

static Suite *
p2p_suite(void)
{
	Suite *s = suite_create("p2p");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_build_example);
	tcase_add_test(tc, test_status_goodbye);
	tcase_add_test(tc, test_reject);
	tcase_add_test(tc, test_nat_pending_confirm);
	tcase_add_test(tc, test_nat_failed);
	tcase_add_test(tc, test_nat_bounds);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(p2p_suite)
