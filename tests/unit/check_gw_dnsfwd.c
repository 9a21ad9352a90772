/* SPDX-License-Identifier: ISC */
/*
 * The gateway's DNS forwarder core (§5.1): resolv.conf, the choice of the
 * fastest server, SERVFAIL, the pending table's checks; messages are built
 * and parsed back with ldns.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "check_util.h"
#include "gw_dnsfwd.h"

#define S	1000000000ULL
#define T0	(1000 * S)

static uint16_t next_id = 0x1000;

/* A predictable "random" source: ids count up. */
static void
rng(void *arg, void *buf, size_t len)
{
	uint16_t id = next_id++;

	(void)arg;
	ck_assert_uint_eq(len, 2);
	memcpy(buf, &id, 2);
}

static union fz_sockaddr
sa(const char *s)
{
	union fz_sockaddr a;

	ck_assert_int_eq(addr_parse(s, ADDR_PORT_OPTIONAL, &a), 0);
	return a;
}

/* A query's wire bytes (id, name, type, with EDNS or not). */
static size_t
mkquery(uint16_t id, const char *name, ldns_rr_type t, bool edns,
    uint8_t *out)
{
	ldns_pkt *q = NULL;
	uint8_t *w = NULL;
	size_t n = 0;

	ck_assert_int_eq(ldns_pkt_query_new_frm_str(&q, name, t,
	    LDNS_RR_CLASS_IN, LDNS_RD), LDNS_STATUS_OK);
	ldns_pkt_set_id(q, id);
	if (edns)
		ldns_pkt_set_edns_udp_size(q, 1232);
	ck_assert_int_eq(ldns_pkt2wire(&w, q, &n), LDNS_STATUS_OK);
	memcpy(out, w, n);
	free(w);
	ldns_pkt_free(q);
	return n;
}

/* An answer to a query: QR, the question, one record. */
static size_t
mkanswer(const uint8_t *q, size_t qlen, const char *rr, uint8_t *out)
{
	ldns_pkt *p = NULL;
	ldns_rr *r = NULL;
	uint8_t *w = NULL;
	size_t n = 0;

	ck_assert_int_eq(ldns_wire2pkt(&p, q, qlen), LDNS_STATUS_OK);
	ldns_pkt_set_qr(p, true);
	ck_assert_int_eq(ldns_rr_new_frm_str(&r, rr, 0, NULL, NULL),
	    LDNS_STATUS_OK);
	ck_assert(ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, r));
	ck_assert_int_eq(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	memcpy(out, w, n);
	free(w);
	ldns_pkt_free(p);
	return n;
}

static uint16_t
wire_id(const uint8_t *m)
{
	return (uint16_t)(m[0] << 8 | m[1]);
}

static struct gw_dnsfwd *
setup(const char *const *servers, size_t n)
{
	union fz_sockaddr a[GW_DNSFWD_MAX_SERVERS];
	struct gw_dnsfwd *f = gw_dnsfwd_new(rng, NULL);
	size_t i;

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < n; i++)
		a[i] = sa(servers[i]);
	ck_assert_int_eq(gw_dnsfwd_set_servers(f, a, n), 0);
	return f;
}

/* Probes server i at now and answers it rtt later. */
static void
probe(struct gw_dnsfwd *f, size_t i, uint64_t now, uint64_t rtt,
    bool answer)
{
	struct gw_dnsfwd_out o;
	uint8_t out[512], ans[512];
	size_t n;

	ck_assert_int_eq(gw_dnsfwd_probe(f, i, now, out, sizeof(out), &o), 0);
	ck_assert_int_eq(o.verdict, GW_DNSFWD_FORWARD);
	if (!answer)
		return;
	n = mkanswer(out, o.len, "firezone.dev. 60 IN A 192.0.2.1", ans);
	ck_assert_int_eq(gw_dnsfwd_answer(f, ans, n, &o.server.sa, now + rtt,
	    out, sizeof(out), &o), 0);
	ck_assert_int_eq(o.verdict, GW_DNSFWD_PROBED);
}

START_TEST(test_resolv_parse)
{
	static const char text[] =
	    "# comment\n"
	    "search corp.test\n"
	    "nameserver 10.0.0.53\n"
	    "  nameserver\t2001:db8::53   # trailing\n"
	    "nameserver 10.0.0.53\n"		/* duplicate */
	    "nameserver fe80::1%eth0\n"		/* scoped: skipped */
	    "nameserver not-an-address\n"
	    "nameserver\n"
	    "options edns0\n"
	    "nameserver 192.0.2.7";		/* no final newline */
	union fz_sockaddr a[GW_DNSFWD_MAX_SERVERS], x;
	char big[40 * 30];
	size_t n = 99, i, used = 0;

	ck_assert_int_eq(gw_dnsfwd_resolv_parse(text, strlen(text), a, 20,
	    &n), 0);
	ck_assert_uint_eq(n, 3);
	x = sa("10.0.0.53:53");
	ck_assert(addr_eq(&a[0].sa, &x.sa));
	x = sa("[2001:db8::53]:53");
	ck_assert(addr_eq(&a[1].sa, &x.sa));
	x = sa("192.0.2.7:53");
	ck_assert(addr_eq(&a[2].sa, &x.sa));
	/* at most max */
	ck_assert_int_eq(gw_dnsfwd_resolv_parse(text, strlen(text), a, 2,
	    &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(gw_dnsfwd_resolv_parse("", 0, a, 20, &n), 0);
	ck_assert_uint_eq(n, 0);
	/* 30 servers: the first 20 */
	for (i = 0; i < 30; i++)
		used += (size_t)snprintf(big + used, sizeof(big) - used,
		    "nameserver 10.1.0.%zu\n", i + 1);
	ck_assert_int_eq(gw_dnsfwd_resolv_parse(big, used, a,
	    GW_DNSFWD_MAX_SERVERS, &n), 0);
	ck_assert_uint_eq(n, GW_DNSFWD_MAX_SERVERS);
	x = sa("10.1.0.20:53");
	ck_assert(addr_eq(&a[19].sa, &x.sa));
}
END_TEST

START_TEST(test_servfail)
{
	uint8_t q[512], out[512];
	ldns_pkt *p = NULL;
	size_t n, len = 0, i;

	n = mkquery(0x4242, "_http._tcp.app.corp.test", LDNS_RR_TYPE_SRV,
	    true, q);
	ck_assert_int_eq(gw_dnsfwd_servfail(q, n, out, sizeof(out), &len), 0);
	ck_assert_int_eq(ldns_wire2pkt(&p, out, len), LDNS_STATUS_OK);
	ck_assert_uint_eq(ldns_pkt_id(p), 0x4242);
	ck_assert(ldns_pkt_qr(p));
	ck_assert(ldns_pkt_rd(p));
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ck_assert_uint_eq(ldns_pkt_qdcount(p), 1);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 0);
	ck_assert_int_eq(ldns_rr_get_type(ldns_rr_list_rr(
	    ldns_pkt_question(p), 0)), LDNS_RR_TYPE_SRV);
	ck_assert(ldns_pkt_edns(p));
	ldns_pkt_free(p);
	/* too small an output */
	ck_assert_int_eq(gw_dnsfwd_servfail(q, n, out, 12, &len), -ENOBUFS);
	/* every truncation is refused */
	for (i = 0; i < n; i++)
		ck_assert_int_eq(gw_dnsfwd_servfail(q, i, out, sizeof(out),
		    &len), -EBADMSG);
	/* an answer is no query */
	n = mkanswer(q, n, "app.corp.test. 60 IN TXT \"x\"", out);
	ck_assert_int_eq(gw_dnsfwd_servfail(out, n, q, sizeof(q), &len),
	    -EBADMSG);
}
END_TEST

START_TEST(test_best)
{
	static const char *const three[] = {
		"10.0.0.1:53", "10.0.0.2:53", "[2001:db8::3]:53",
	};
	struct gw_dnsfwd *f = setup(NULL, 0);
	union fz_sockaddr b, x;
	struct gw_dnsfwd_stats st;

	ck_assert_int_eq(gw_dnsfwd_best(f, &b), -ENOENT);
	gw_dnsfwd_free(f);

	f = setup(three, 3);
	/* unprobed: the first */
	ck_assert_int_eq(gw_dnsfwd_best(f, &b), 0);
	x = sa(three[0]);
	ck_assert(addr_eq(&b.sa, &x.sa));
	/* probes: 1 slow, 2 unanswered, 3 fastest */
	probe(f, 0, T0, 30000000, true);
	probe(f, 1, T0, 0, false);
	probe(f, 2, T0, 2000000, true);
	ck_assert_int_eq(gw_dnsfwd_probe(f, 1, T0, (uint8_t[512]){0}, 512,
	    &(struct gw_dnsfwd_out){0}), -EBUSY);
	ck_assert_int_eq(gw_dnsfwd_probe(f, 3, T0, (uint8_t[512]){0}, 512,
	    &(struct gw_dnsfwd_out){0}), -ENOENT);
	ck_assert_int_eq(gw_dnsfwd_best(f, &b), 0);
	x = sa(three[2]);
	ck_assert(addr_eq(&b.sa, &x.sa));
	ck_assert_uint_eq(gw_dnsfwd_next_deadline(f),
	    T0 + GW_DNSFWD_PROBE_TIMEOUT_NS);
	gw_dnsfwd_expire(f, T0 + GW_DNSFWD_PROBE_TIMEOUT_NS);
	gw_dnsfwd_get_stats(f, &st);
	ck_assert_uint_eq(st.up, 2);
	ck_assert_uint_eq(st.probes, 3);
	ck_assert_uint_eq(st.probe_answers, 2);
	/* next round: the fast one times out, the slow one is left */
	probe(f, 2, T0 + 60 * S, 0, false);
	probe(f, 0, T0 + 60 * S, 50000000, true);
	gw_dnsfwd_expire(f, T0 + 63 * S);
	ck_assert_int_eq(gw_dnsfwd_best(f, &b), 0);
	x = sa(three[0]);
	ck_assert(addr_eq(&b.sa, &x.sa));
	/* all down: none */
	probe(f, 0, T0 + 120 * S, 0, false);
	gw_dnsfwd_expire(f, T0 + 123 * S);
	ck_assert_int_eq(gw_dnsfwd_best(f, &b), -ENOENT);
	ck_assert_uint_eq(gw_dnsfwd_next_deadline(f), UINT64_MAX);
	gw_dnsfwd_free(f);
}
END_TEST

START_TEST(test_forward)
{
	static const char *const two[] = { "10.0.0.1:53", "10.0.0.2:53" };
	struct gw_dnsfwd *f = setup(two, 2);
	struct gw_dnsfwd_client c = { .tag = 7 };
	struct gw_dnsfwd_out o;
	struct gw_dnsfwd_stats st;
	uint8_t q[512], fwd[512], ans[512], out[512], bad[512];
	union fz_sockaddr other = sa("10.0.0.2:53"), s1 = sa("10.0.0.1:53");
	ldns_pkt *p = NULL;
	size_t n, an;
	uint16_t id;

	c.addr = sa("100.64.0.7:40000");
	n = mkquery(0x4242, "app.corp.test", LDNS_RR_TYPE_TXT, false, q);
	ck_assert_int_eq(gw_dnsfwd_query(f, q, n, &c, T0, fwd, sizeof(fwd),
	    &o), 0);
	ck_assert_int_eq(o.verdict, GW_DNSFWD_FORWARD);
	ck_assert_uint_eq(o.len, n);
	ck_assert(addr_eq(&o.server.sa, &s1.sa));
	id = wire_id(fwd);
	ck_assert_uint_ne(id, 0x4242);
	ck_assert_mem_eq(fwd + 2, q + 2, n - 2);	/* only the id */
	an = mkanswer(fwd, n, "app.corp.test. 60 IN TXT \"v=fz\"", ans);
	/* from another server, another id, another question: refused */
	ck_assert_int_eq(gw_dnsfwd_answer(f, ans, an, &other.sa, T0, out,
	    sizeof(out), &o), -ENOENT);
	memcpy(bad, ans, an);
	bad[1] ^= 1;
	ck_assert_int_eq(gw_dnsfwd_answer(f, bad, an, &o.server.sa, T0, out,
	    sizeof(out), &o), -ENOENT);
	{
		uint8_t q2[512], a2[512];
		size_t n2 = mkquery(id, "other.corp.test", LDNS_RR_TYPE_TXT,
		    false, q2);
		size_t a2n = mkanswer(q2, n2, "other.corp.test. 60 IN TXT "
		    "\"x\"", a2);

		ck_assert_int_eq(gw_dnsfwd_answer(f, a2, a2n,
		    &s1.sa, T0, out, sizeof(out), &o),
		    -ENOENT);
	}
	/* malformed and truncated answers */
	ck_assert_int_eq(gw_dnsfwd_answer(f, ans, an - 1,
	    &s1.sa, T0, out, sizeof(out), &o), -EBADMSG);
	/* a query is no answer */
	ck_assert_int_eq(gw_dnsfwd_answer(f, fwd, n, &s1.sa,
	    T0, out, sizeof(out), &o), -EBADMSG);
	/* too small an output keeps it pending */
	ck_assert_int_eq(gw_dnsfwd_answer(f, ans, an, &s1.sa,
	    T0, out, 12, &o), -ENOBUFS);
	/* the right one: the client's id, the rest byte for byte */
	ck_assert_int_eq(gw_dnsfwd_answer(f, ans, an, &s1.sa,
	    T0 + S, out, sizeof(out), &o), 0);
	ck_assert_int_eq(o.verdict, GW_DNSFWD_REPLY);
	ck_assert_uint_eq(o.len, an);
	ck_assert_uint_eq(o.client.tag, 7);
	ck_assert(addr_eq(&o.client.addr.sa, &c.addr.sa));
	ck_assert_uint_eq(wire_id(out), 0x4242);
	ck_assert_mem_eq(out + 2, ans + 2, an - 2);
	ck_assert_int_eq(ldns_wire2pkt(&p, out, o.len), LDNS_STATUS_OK);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
	/* answered once only */
	ck_assert_int_eq(gw_dnsfwd_answer(f, ans, an, &s1.sa,
	    T0 + S, out, sizeof(out), &o), -ENOENT);
	/* a query left unanswered is gone after 5 s */
	ck_assert_int_eq(gw_dnsfwd_query(f, q, n, &c, T0, fwd, sizeof(fwd),
	    &o), 0);
	ck_assert_uint_eq(gw_dnsfwd_next_deadline(f),
	    T0 + GW_DNSFWD_QUERY_TIMEOUT_NS);
	an = mkanswer(fwd, n, "app.corp.test. 60 IN TXT \"late\"", ans);
	gw_dnsfwd_expire(f, T0 + GW_DNSFWD_QUERY_TIMEOUT_NS);
	ck_assert_int_eq(gw_dnsfwd_answer(f, ans, an, &s1.sa,
	    T0 + 6 * S, out, sizeof(out), &o), -ENOENT);
	gw_dnsfwd_get_stats(f, &st);
	ck_assert_uint_eq(st.forwarded, 2);
	ck_assert_uint_eq(st.answers, 1);
	ck_assert_uint_eq(st.timeouts, 1);
	ck_assert_uint_eq(st.pending, 0);
	/* not a query: nothing */
	ck_assert_int_eq(gw_dnsfwd_query(f, q, 5, &c, T0, fwd, sizeof(fwd),
	    &o), -EBADMSG);
	gw_dnsfwd_free(f);
}
END_TEST

/* No server, every server down, the pending table full: SERVFAIL. */
START_TEST(test_servfail_when_none)
{
	static const char *const one[] = { "10.0.0.1:53" };
	struct gw_dnsfwd *f = setup(NULL, 0);
	struct gw_dnsfwd_client c = { .tag = 1 };
	struct gw_dnsfwd_out o;
	uint8_t q[512], out[512];
	ldns_pkt *p = NULL;
	size_t n, i;

	c.addr = sa("[fd00:2021:1111::7]:40000");
	n = mkquery(0x0102, "_sip._udp.app.corp.test", LDNS_RR_TYPE_SRV,
	    false, q);
	ck_assert_int_eq(gw_dnsfwd_query(f, q, n, &c, T0, out, sizeof(out),
	    &o), 0);
	ck_assert_int_eq(o.verdict, GW_DNSFWD_REPLY);
	ck_assert_uint_eq(o.client.tag, 1);
	ck_assert_int_eq(ldns_wire2pkt(&p, out, o.len), LDNS_STATUS_OK);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ck_assert_uint_eq(ldns_pkt_id(p), 0x0102);
	ldns_pkt_free(p);
	gw_dnsfwd_free(f);

	f = setup(one, 1);
	probe(f, 0, T0, 0, false);
	gw_dnsfwd_expire(f, T0 + 2 * S);
	ck_assert_int_eq(gw_dnsfwd_query(f, q, n, &c, T0, out, sizeof(out),
	    &o), 0);
	ck_assert_int_eq(o.verdict, GW_DNSFWD_REPLY);
	gw_dnsfwd_free(f);

	f = setup(one, 1);
	for (i = 0; i < GW_DNSFWD_MAX_PENDING; i++) {
		ck_assert_int_eq(gw_dnsfwd_query(f, q, n, &c, T0, out,
		    sizeof(out), &o), 0);
		ck_assert_int_eq(o.verdict, GW_DNSFWD_FORWARD);
	}
	ck_assert_int_eq(gw_dnsfwd_query(f, q, n, &c, T0, out, sizeof(out),
	    &o), 0);
	ck_assert_int_eq(o.verdict, GW_DNSFWD_REPLY);
	gw_dnsfwd_free(f);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("gw_dnsfwd");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_resolv_parse);
	tcase_add_test(tc, test_servfail);
	tcase_add_test(tc, test_best);
	tcase_add_test(tc, test_forward);
	tcase_add_test(tc, test_servfail_when_none);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
