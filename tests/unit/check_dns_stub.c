/* SPDX-License-Identifier: ISC */
/*
 * The DNS stub resolver core: answers are parsed back with ldns; and once on
 * the wire, the stub serves a loopback UDP socket that dig(1) queries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "check_util.h"
#include "dns_stub.h"
#include "fztime.h"

#define T0	(1000 * NSEC_PER_SEC)

static union fz_sockaddr client, sentinel4, sentinel6, upstream4, upstream6;

static union fz_sockaddr
sa(const char *s)
{
	union fz_sockaddr a;

	ck_assert_int_eq(addr_parse(s, ADDR_PORT_OPTIONAL, &a), 0);
	return a;
}

/* The same, as a pointer to one of a few rotating slots. */
static const struct sockaddr *
sap(const char *s)
{
	static union fz_sockaddr slot[8];
	static unsigned n;
	union fz_sockaddr *a = &slot[n++ % 8];

	*a = sa(s);
	return &a->sa;
}

static struct dns_stub *
setup(void)
{
	union fz_sockaddr ups[2];
	struct dns_stub *s = dns_stub_new();
	bool changed;

	ck_assert_ptr_nonnull(s);
	client = sa("100.64.0.7:40000");
	sentinel4 = sa("100.100.111.1:53");
	sentinel6 = sa("[fd00:2021:1111:8000:100:100:111:0]:53");
	upstream4 = sa("192.0.2.53:53");
	upstream6 = sa("[2001:db8::53]:53");
	ups[0] = upstream4;
	ups[1] = upstream6;
	ck_assert_int_eq(dns_stub_set_upstreams(s, ups, 2, NULL, 0, &changed),
	    0);
	ck_assert(changed);
	return s;
}

static size_t
make_query(const char *name, ldns_rr_type type, uint16_t id, uint8_t *buf)
{
	ldns_pkt *q;
	uint8_t *wire;
	size_t len;

	q = ldns_pkt_query_new(ldns_dname_new_frm_str(name), type,
	    LDNS_RR_CLASS_IN, LDNS_RD);
	ck_assert_ptr_nonnull(q);
	ldns_pkt_set_id(q, id);
	ck_assert_int_eq(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
	memcpy(buf, wire, len);
	free(wire);
	ldns_pkt_free(q);
	return len;
}

static ldns_pkt *
parse(const uint8_t *buf, size_t len)
{
	ldns_pkt *p = NULL;

	ck_assert_int_eq(ldns_wire2pkt(&p, buf, len), LDNS_STATUS_OK);
	return p;
}

/* Asks name/type at sentinel; returns the parsed REPLY. */
static ldns_pkt *
ask(struct dns_stub *s, const char *name, ldns_rr_type type,
    const union fz_sockaddr *to, uint64_t now)
{
	uint8_t q[512], out[4096];
	struct dns_stub_out res;
	size_t len = make_query(name, type, 0x1234, q);
	ldns_pkt *p;

	ck_assert_int_eq(dns_stub_query(s, q, len, &client.sa, &to->sa, 0,
	    now, out, sizeof(out), &res), 0);
	ck_assert_int_eq(res.verdict, DNS_STUB_REPLY);
	ck_assert(addr_eq(&res.dst.sa, &client.sa));
	ck_assert(addr_eq(&res.src.sa, &to->sa));
	p = parse(out, res.len);
	ck_assert_int_eq(ldns_pkt_id(p), 0x1234);
	ck_assert(ldns_pkt_qr(p));
	ck_assert_int_eq(ldns_pkt_qdcount(p), 1);
	return p;
}

static void
rdata_text(const ldns_rr *rr, char *out, size_t outlen)
{
	char *t = ldns_rdf2str(ldns_rr_rdf(rr, 0));

	ck_assert_ptr_nonnull(t);
	snprintf(out, outlen, "%s", t);
	free(t);
}

static void
assert_answers(ldns_pkt *p, ldns_rr_type type, const char *const *want,
    size_t n)
{
	ldns_rr_list *an = ldns_pkt_answer(p);
	char text[256];
	size_t i;

	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ck_assert_uint_eq(ldns_rr_list_rr_count(an), n);
	for (i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);

		ck_assert_int_eq(ldns_rr_get_type(rr), type);
		ck_assert_uint_eq(ldns_rr_ttl(rr), DNS_STUB_TTL);
		rdata_text(rr, text, sizeof(text));
		ck_assert_str_eq(text, want[i]);
	}
}

START_TEST(test_sentinels)
{
	union fz_sockaddr ups[4], sys[2], got[8], gotu[8], u;
	struct dns_stub *s = dns_stub_new();
	char text[ADDR_STRLEN];
	bool changed;

	ups[0] = sa("8.8.8.8");
	ups[1] = sa("2001:4860:4860::8888");
	ups[2] = sa("1.1.1.1:5353");
	ups[3] = sa("100.100.111.7");	/* a sentinel: dropped */
	sys[0] = sa("192.168.1.1");
	sys[1] = sa("8.8.8.8");
	ck_assert_int_eq(dns_stub_set_upstreams(s, ups, 4, sys, 2, &changed),
	    0);
	ck_assert(changed);
	ck_assert_uint_eq(dns_stub_sentinels(s, got, gotu, 8), 3);
	ck_assert(addr_eq(&got[0].sa, sap("100.100.111.1:53")));
	ck_assert(addr_eq(&gotu[0].sa, sap("8.8.8.8:53")));
	ck_assert(addr_eq(&got[1].sa,
	    sap("[fd00:2021:1111:8000:100:100:111:0]:53")));
	ck_assert(addr_eq(&got[2].sa, sap("100.100.111.2:53")));
	ck_assert(addr_eq(&gotu[2].sa, sap("1.1.1.1:5353")));
	ck_assert_int_eq(dns_stub_sentinel_upstream(s,
	    sap("100.100.111.2"), &u), 0);
	ck_assert_int_eq(addr_fmt(&u.sa, true, text, sizeof(text)), 0);
	ck_assert_str_eq(text, "1.1.1.1:5353");
	ck_assert_int_eq(dns_stub_sentinel_upstream(s,
	    sap("100.100.111.3"), &u), -ENOENT);
	ck_assert_int_eq(dns_stub_upstream_sentinel(s,
	    sap("[2001:4860:4860::8888]:53"), &u), 0);
	ck_assert(addr_eq(&u.sa,
	    sap("[fd00:2021:1111:8000:100:100:111:0]:53")));

	/* the same set in another order: the same mapping */
	ups[0] = sa("1.1.1.1:5353");
	ups[2] = sa("8.8.8.8");
	ck_assert_int_eq(dns_stub_set_upstreams(s, ups, 3, NULL, 0, &changed),
	    0);
	ck_assert(!changed);
	ck_assert_uint_eq(dns_stub_sentinels(s, got, NULL, 8), 3);
	ck_assert(addr_eq(&got[0].sa, sap("100.100.111.1:53")));

	/* a new set avoids the previous sentinels */
	ups[0] = sa("9.9.9.9");
	ups[1] = sa("2001:db8::9");
	ck_assert_int_eq(dns_stub_set_upstreams(s, ups, 2, NULL, 0, &changed),
	    0);
	ck_assert(changed);
	ck_assert_uint_eq(dns_stub_sentinels(s, got, NULL, 8), 2);
	ck_assert(addr_eq(&got[0].sa, sap("100.100.111.3:53")));
	ck_assert(addr_eq(&got[1].sa,
	    sap("[fd00:2021:1111:8000:100:100:111:1]:53")));

	/* no portal upstreams: the system's */
	ck_assert_int_eq(dns_stub_set_upstreams(s, NULL, 0, sys, 2, &changed),
	    0);
	ck_assert(changed);
	ck_assert_uint_eq(dns_stub_sentinels(s, got, gotu, 8), 2);
	ck_assert(addr_eq(&gotu[0].sa, sap("192.168.1.1:53")));
	ck_assert(addr_eq(&got[0].sa, sap("100.100.111.1:53")));
	ck_assert(dns_stub_is_sentinel_range(sap("100.100.111.200")));
	ck_assert(!dns_stub_is_sentinel_range(sap("100.100.112.1")));
	ck_assert(dns_stub_is_sentinel_range(
	    sap("fd00:2021:1111:8000:100:100:111:ff")));
	ck_assert(!dns_stub_is_sentinel_range(
	    sap("fd00:2021:1111:8000:100:100:112:0")));
	{
		union fz_sockaddr many[DNS_STUB_MAX_UPSTREAMS + 1];
		size_t i;

		for (i = 0; i <= DNS_STUB_MAX_UPSTREAMS; i++) {
			snprintf(text, sizeof(text), "10.0.0.%zu", i + 1);
			many[i] = sa(text);
		}
		ck_assert_int_eq(dns_stub_set_upstreams(s, many,
		    DNS_STUB_MAX_UPSTREAMS + 1, NULL, 0, &changed), -E2BIG);
	}
	dns_stub_free(s);
}
END_TEST

START_TEST(test_resource_addresses)
{
	static const char *v4a[] = { "100.96.0.1", "100.96.0.2", "100.96.0.3",
	    "100.96.0.4" };
	static const char *v6a[] = { "fd00:2021:1111:8000::",
	    "fd00:2021:1111:8000::1", "fd00:2021:1111:8000::2",
	    "fd00:2021:1111:8000::3" };
	static const char *v4b[] = { "100.96.0.5", "100.96.0.6", "100.96.0.7",
	    "100.96.0.8" };
	struct dns_stub *s = setup();
	struct dns_stub_event ev;
	char text[64];
	ldns_pkt *p;

	ck_assert_int_eq(dns_stub_add_resource(s,
	    "03000143-e25e-45c7-aafb-144990e57dcd", "**.corp.example",
	    DNS_STACK_DUAL), 0);
	p = ask(s, "App.Corp.Example.", LDNS_RR_TYPE_A, &sentinel4, T0);
	assert_answers(p, LDNS_RR_TYPE_A, v4a, 4);
	/* the owner is the name as asked (0x20 case kept) */
	{
		char *o = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(
		    ldns_pkt_answer(p), 0)));

		ck_assert_str_eq(o, "App.Corp.Example.");
		free(o);
	}
	ldns_pkt_free(p);
	p = ask(s, "app.corp.example", LDNS_RR_TYPE_AAAA, &sentinel6, T0);
	assert_answers(p, LDNS_RR_TYPE_AAAA, v6a, 4);
	ldns_pkt_free(p);
	p = ask(s, "corp.example", LDNS_RR_TYPE_A, &sentinel4, T0);
	assert_answers(p, LDNS_RR_TYPE_A, v4b, 4);
	ldns_pkt_free(p);
	/* stable per name */
	p = ask(s, "APP.corp.example", LDNS_RR_TYPE_A, &sentinel4, T0);
	assert_answers(p, LDNS_RR_TYPE_A, v4a, 4);
	ldns_pkt_free(p);

	/* one event per answer: resource, name, 4 + 4 proxy IPs */
	ck_assert_int_eq(dns_stub_next_event(s, &ev), 0);
	ck_assert_str_eq(ev.resource_id, "03000143-e25e-45c7-aafb-144990e57dcd");
	ck_assert_str_eq(ev.name, "app.corp.example");
	ck_assert_uint_eq(ev.n_ips, 8);
	ck_assert_int_eq(ev.ips[0].family, AF_INET);
	ck_assert_ptr_nonnull(inet_ntop(AF_INET6, ev.ips[4].addr, text,
	    sizeof(text)));
	ck_assert_str_eq(text, "fd00:2021:1111:8000::");
	ck_assert_int_eq(dns_stub_next_event(s, &ev), 0);
	ck_assert_int_eq(dns_stub_next_event(s, &ev), 0);
	ck_assert_str_eq(ev.name, "corp.example");
	ck_assert_int_eq(dns_stub_next_event(s, &ev), 0);
	ck_assert_int_eq(dns_stub_next_event(s, &ev), -ENOENT);

	/* the proxy IP -> name lookup */
	{
		struct dns_ip ip = { .family = AF_INET };
		char name[DNS_PATTERN_MAX + 1];

		ck_assert_int_eq(inet_pton(AF_INET, "100.96.0.7", ip.addr), 1);
		ck_assert_int_eq(dns_stub_proxy_ip_name(s, &ip, name,
		    sizeof(name)), 0);
		ck_assert_str_eq(name, "corp.example");
		ck_assert_int_eq(inet_pton(AF_INET, "100.96.0.9", ip.addr), 1);
		ck_assert_int_eq(dns_stub_proxy_ip_name(s, &ip, name,
		    sizeof(name)), -ENOENT);
	}
	dns_stub_free(s);
}
END_TEST

/* Firezone: a_query_for_ipv6_only_resource_yields_empty_set and friends. */
START_TEST(test_ip_stack)
{
	struct dns_stub *s = setup();
	struct dns_stub_event ev;
	ldns_pkt *p;

	ck_assert_int_eq(dns_stub_add_resource(s, "1", "example.com",
	    DNS_STACK_IPV6_ONLY), 0);
	p = ask(s, "example.com", LDNS_RR_TYPE_A, &sentinel4, T0);
	assert_answers(p, LDNS_RR_TYPE_A, NULL, 0);
	ldns_pkt_free(p);
	ck_assert_int_eq(dns_stub_next_event(s, &ev), 0);
	ck_assert_uint_eq(ev.n_ips, 4);
	ck_assert_int_eq(ev.ips[0].family, AF_INET6);
	/* restricted after a first query */
	ck_assert_int_eq(dns_stub_add_resource(s, "2", "v4.example.com",
	    DNS_STACK_DUAL), 0);
	p = ask(s, "v4.example.com", LDNS_RR_TYPE_AAAA, &sentinel4, T0);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 4);
	ldns_pkt_free(p);
	ck_assert_int_eq(dns_stub_add_resource(s, "2", "v4.example.com",
	    DNS_STACK_IPV4_ONLY), 0);
	p = ask(s, "v4.example.com", LDNS_RR_TYPE_AAAA, &sentinel4, T0);
	assert_answers(p, LDNS_RR_TYPE_AAAA, NULL, 0);
	ldns_pkt_free(p);
	/* two resources, one of each family: both families answered */
	ck_assert_int_eq(dns_stub_add_resource(s, "3", "*.example.com",
	    DNS_STACK_IPV4_ONLY), 0);
	p = ask(s, "example.com", LDNS_RR_TYPE_A, &sentinel4, T0);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 4);
	ldns_pkt_free(p);
	ck_assert_int_eq(dns_stub_add_resource(s, "4", "x.com",
	    (enum dns_ip_stack)7), -EINVAL);
	ck_assert_int_eq(dns_stub_add_resource(s, "4", "x..com",
	    DNS_STACK_DUAL), -EINVAL);
	ck_assert_int_eq(dns_stub_remove_resource(s, "3"), 0);
	ck_assert_int_eq(dns_stub_remove_resource(s, "3"), -ENOENT);
	dns_stub_free(s);
}
END_TEST

/* Returns the verdict of one query; the forwarded message in fwd. */
static struct dns_stub_out
run(struct dns_stub *s, const char *name, ldns_rr_type type,
    const union fz_sockaddr *to, uint64_t now, uint8_t *out, size_t outlen)
{
	struct dns_stub_out res;
	uint8_t q[512];
	size_t len = make_query(name, type, 0x4242, q);

	ck_assert_int_eq(dns_stub_query(s, q, len, &client.sa, &to->sa, 0,
	    now, out, outlen, &res), 0);
	return res;
}

START_TEST(test_special_types)
{
	struct dns_stub *s = setup();
	struct dns_stub_out r;
	uint8_t out[4096];
	ldns_pkt *p;
	char text[300];

	ck_assert_int_eq(dns_stub_add_resource(s, "00", "**.example.com",
	    DNS_STACK_DUAL), 0);
	ck_assert_int_eq(dns_stub_add_resource(s, "01", "foo.example.com",
	    DNS_STACK_DUAL), 0);

	/* canary */
	p = ask(s, "use-application-dns.net", LDNS_RR_TYPE_A, &sentinel4, T0);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);

	/* HTTPS: empty for resources, forwarded otherwise */
	p = ask(s, "foo.example.com", LDNS_RR_TYPE_HTTPS, &sentinel4, T0);
	assert_answers(p, LDNS_RR_TYPE_HTTPS, NULL, 0);
	ldns_pkt_free(p);
	r = run(s, "www.other.test", LDNS_RR_TYPE_HTTPS, &sentinel4, T0, out,
	    sizeof(out));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);

	/* SRV/TXT: the most specific resource's site (Firezone's
	 * prioritises_non_wildcard_over_wildcard_domain) */
	r = run(s, "foo.example.com", LDNS_RR_TYPE_SRV, &sentinel6, T0, out,
	    sizeof(out));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD_SITE);
	ck_assert_str_eq(r.resource_id, "01");
	ck_assert_int_eq(r.site_family, AF_INET6);
	ck_assert_int_eq(dns_stub_match(s, "foo.example.com", text), 0);
	ck_assert_str_eq(text, "01");
	r = run(s, "bar.example.com", LDNS_RR_TYPE_TXT, &sentinel4, T0, out,
	    sizeof(out));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD_SITE);
	ck_assert_str_eq(r.resource_id, "00");
	ck_assert_int_eq(r.site_family, AF_INET);
	r = run(s, "bar.other.test", LDNS_RR_TYPE_TXT, &sentinel4, T0, out,
	    sizeof(out));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);
	/* MX of a resource name: upstream */
	r = run(s, "foo.example.com", LDNS_RR_TYPE_MX, &sentinel4, T0, out,
	    sizeof(out));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);

	/* PTR of proxy IPs */
	p = ask(s, "foo.example.com", LDNS_RR_TYPE_A, &sentinel4, T0);
	ldns_pkt_free(p);
	p = ask(s, "3.0.96.100.in-addr.arpa", LDNS_RR_TYPE_PTR, &sentinel4,
	    T0);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 1);
	rdata_text(ldns_rr_list_rr(ldns_pkt_answer(p), 0), text,
	    sizeof(text));
	ck_assert_str_eq(text, "foo.example.com.");
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
	    1);
	ldns_pkt_free(p);
	p = ask(s, "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.1.1.1.1.1.2.0.2.0.0.d.f"
	    ".ip6.arpa", LDNS_RR_TYPE_PTR, &sentinel4, T0);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
	r = run(s, "9.0.96.100.in-addr.arpa", LDNS_RR_TYPE_PTR, &sentinel4, T0,
	    out, sizeof(out));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);
	r = run(s, "1.0.0.127.in-addr.arpa", LDNS_RR_TYPE_PTR, &sentinel4, T0,
	    out, sizeof(out));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);
	/* Firezone's reverse_dns_* malformed cases: forwarded */
	r = run(s, "0.3.0.96.100.in-addr.arpa", LDNS_RR_TYPE_PTR, &sentinel4,
	    T0, out, sizeof(out));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);
	r = run(s, "3.0.96.100.ip6.arpa", LDNS_RR_TYPE_PTR, &sentinel4, T0,
	    out, sizeof(out));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);
	r = run(s, "3.0.96.100.in-addr.carpa", LDNS_RR_TYPE_PTR, &sentinel4,
	    T0, out, sizeof(out));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);
	dns_stub_free(s);
}
END_TEST

/* The upstream's answer to a forwarded query, with the given TTL. */
static size_t
upstream_answer(const uint8_t *fwd, size_t fwdlen, uint32_t ttl,
    uint8_t rcode, uint8_t *buf)
{
	ldns_pkt *q = parse(fwd, fwdlen), *r;
	ldns_rr *rr = NULL;
	uint8_t *wire;
	size_t len;

	r = ldns_pkt_clone(q);
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_rcode(r, rcode);
	if (rcode == LDNS_RCODE_NOERROR) {
		ck_assert_int_eq(ldns_rr_new_frm_str(&rr,
		    "www.other.test. 300 IN A 192.0.2.80", 0, NULL, NULL),
		    LDNS_STATUS_OK);
		ldns_rr_set_ttl(rr, ttl);
		ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
	}
	ck_assert_int_eq(ldns_pkt2wire(&wire, r, &len), LDNS_STATUS_OK);
	memcpy(buf, wire, len);
	free(wire);
	ldns_pkt_free(q);
	ldns_pkt_free(r);
	return len;
}

START_TEST(test_forward_and_cache)
{
	struct dns_stub *s = setup();
	struct dns_stub_out r, a;
	struct dns_stub_stats st;
	uint8_t fwd[4096], ans[4096], out[4096];
	size_t alen;
	ldns_pkt *p;

	r = run(s, "www.other.test", LDNS_RR_TYPE_A, &sentinel4, T0, fwd,
	    sizeof(fwd));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);
	ck_assert(addr_eq(&r.dst.sa, &upstream4.sa));
	ck_assert_uint_eq(LDNS_ID_WIRE(fwd), r.fwd_id);
	ck_assert_uint_eq(dns_stub_next_deadline(s),
	    T0 + DNS_STUB_UPSTREAM_TIMEOUT_NS);

	alen = upstream_answer(fwd, r.len, 300, LDNS_RCODE_NOERROR, ans);
	/* from the wrong server, or for another question: not taken */
	ck_assert_int_eq(dns_stub_upstream_answer(s, ans, alen, &upstream6.sa,
	    T0, out, sizeof(out), &a), -ENOENT);
	{
		uint8_t other[512], oans[4096];
		size_t olen = make_query("evil.test", LDNS_RR_TYPE_A,
		    r.fwd_id, other);
		size_t oalen = upstream_answer(other, olen, 300,
		    LDNS_RCODE_NXDOMAIN, oans);

		ck_assert_int_eq(dns_stub_upstream_answer(s, oans, oalen,
		    &upstream4.sa, T0, out, sizeof(out), &a), -ENOENT);
		/* a query is no answer */
		ck_assert_int_eq(dns_stub_upstream_answer(s, other, olen,
		    &upstream4.sa, T0, out, sizeof(out), &a), -EBADMSG);
	}
	ck_assert_int_eq(dns_stub_upstream_answer(s, ans, alen, &upstream4.sa,
	    T0, out, sizeof(out), &a), 0);
	ck_assert_int_eq(a.verdict, DNS_STUB_REPLY);
	ck_assert(addr_eq(&a.dst.sa, &client.sa));
	ck_assert(addr_eq(&a.src.sa, &sentinel4.sa));
	p = parse(out, a.len);
	ck_assert_uint_eq(ldns_pkt_id(p), 0x4242);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
	/* once only */
	ck_assert_int_eq(dns_stub_upstream_answer(s, ans, alen, &upstream4.sa,
	    T0, out, sizeof(out), &a), -ENOENT);

	/* cached: answered locally with the TTL less the time spent */
	p = ask(s, "WWW.other.test", LDNS_RR_TYPE_A, &sentinel4,
	    T0 + 10 * NSEC_PER_SEC);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 1);
	ck_assert_uint_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
	    290);
	ldns_pkt_free(p);
	dns_stub_get_stats(s, &st);
	ck_assert_uint_eq(st.cache_hits, 1);
	ck_assert_uint_eq(st.cache, 1);
	/* expired after its TTL */
	dns_stub_expire(s, T0 + 300 * NSEC_PER_SEC);
	r = run(s, "www.other.test", LDNS_RR_TYPE_A, &sentinel4,
	    T0 + 300 * NSEC_PER_SEC, fwd, sizeof(fwd));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);

	/* TTL below 5 s: passed on, not cached */
	alen = upstream_answer(fwd, r.len, 4, LDNS_RCODE_NOERROR, ans);
	ck_assert_int_eq(dns_stub_upstream_answer(s, ans, alen, &upstream4.sa,
	    T0, out, sizeof(out), &a), 0);
	r = run(s, "www.other.test", LDNS_RR_TYPE_A, &sentinel4, T0, fwd,
	    sizeof(fwd));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);
	/* NXDOMAIN: not cached either */
	alen = upstream_answer(fwd, r.len, 300, LDNS_RCODE_NXDOMAIN, ans);
	ck_assert_int_eq(dns_stub_upstream_answer(s, ans, alen, &upstream4.sa,
	    T0, out, sizeof(out), &a), 0);
	r = run(s, "www.other.test", LDNS_RR_TYPE_A, &sentinel4, T0, fwd,
	    sizeof(fwd));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);

	/* a failure: SERVFAIL to the client */
	ck_assert_int_eq(dns_stub_upstream_failed(s, r.fwd_id, out,
	    sizeof(out), &a), 0);
	p = parse(out, a.len);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ck_assert_uint_eq(ldns_pkt_id(p), 0x4242);
	ck_assert_uint_eq(ldns_pkt_qdcount(p), 1);
	ldns_pkt_free(p);

	/* a timeout: dropped silently after 5 s */
	r = run(s, "www.other.test", LDNS_RR_TYPE_A, &sentinel4, T0, fwd,
	    sizeof(fwd));
	dns_stub_expire(s, T0 + DNS_STUB_UPSTREAM_TIMEOUT_NS - 1);
	dns_stub_get_stats(s, &st);
	ck_assert_uint_eq(st.pending, 1);
	dns_stub_expire(s, T0 + DNS_STUB_UPSTREAM_TIMEOUT_NS);
	dns_stub_get_stats(s, &st);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.timeouts, 1);
	ck_assert_uint_eq(dns_stub_next_deadline(s), UINT64_MAX);

	/* a resource change flushes the cache */
	r = run(s, "www.other.test", LDNS_RR_TYPE_A, &sentinel4, T0, fwd,
	    sizeof(fwd));
	alen = upstream_answer(fwd, r.len, 300, LDNS_RCODE_NOERROR, ans);
	ck_assert_int_eq(dns_stub_upstream_answer(s, ans, alen, &upstream4.sa,
	    T0, out, sizeof(out), &a), 0);
	ck_assert_int_eq(dns_stub_add_resource(s, "1", "www.other.test",
	    DNS_STACK_DUAL), 0);
	p = ask(s, "www.other.test", LDNS_RR_TYPE_A, &sentinel4, T0);
	ck_assert_uint_eq(ldns_pkt_ancount(p), 4);
	ldns_pkt_free(p);
	dns_stub_free(s);
}
END_TEST

/* A cached answer too big for a plain UDP query: header, question, TC. */
START_TEST(test_truncation)
{
	struct dns_stub *s = setup();
	struct dns_stub_out r, a;
	uint8_t fwd[4096], ans[4096], out[4096];
	ldns_pkt *q, *big;
	uint8_t *wire;
	size_t len, i;

	r = run(s, "www.other.test", LDNS_RR_TYPE_A, &sentinel4, T0, fwd,
	    sizeof(fwd));
	q = parse(fwd, r.len);
	big = ldns_pkt_clone(q);
	ldns_pkt_set_qr(big, true);
	for (i = 0; i < 40; i++) {
		ldns_rr *rr = NULL;
		char text[128];

		snprintf(text, sizeof(text), "www.other.test. 300 IN A "
		    "192.0.2.%zu", i + 1);
		ck_assert_int_eq(ldns_rr_new_frm_str(&rr, text, 0, NULL,
		    NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(big, LDNS_SECTION_ANSWER, rr);
	}
	ck_assert_int_eq(ldns_pkt2wire(&wire, big, &len), LDNS_STATUS_OK);
	ck_assert_uint_gt(len, 512);
	memcpy(ans, wire, len);
	free(wire);
	ldns_pkt_free(q);
	ldns_pkt_free(big);
	ck_assert_int_eq(dns_stub_upstream_answer(s, ans, len, &upstream4.sa,
	    T0, out, sizeof(out), &a), 0);
	ck_assert_uint_eq(a.len, len);

	/* from the cache over UDP: truncated; over TCP: whole */
	{
		uint8_t qb[512];
		size_t qlen = make_query("www.other.test", LDNS_RR_TYPE_A, 9,
		    qb);
		ldns_pkt *p;

		ck_assert_int_eq(dns_stub_query(s, qb, qlen, &client.sa,
		    &sentinel4.sa, 0, T0, out, sizeof(out), &r), 0);
		ck_assert_int_eq(r.verdict, DNS_STUB_REPLY);
		ck_assert_uint_le(r.len, 512);
		p = parse(out, r.len);
		ck_assert(ldns_pkt_tc(p));
		ck_assert_uint_eq(ldns_pkt_ancount(p), 0);
		ck_assert_uint_eq(ldns_pkt_qdcount(p), 1);
		ldns_pkt_free(p);
		ck_assert_int_eq(dns_stub_query(s, qb, qlen, &client.sa,
		    &sentinel4.sa, DNS_STUB_TCP, T0, out, sizeof(out), &r), 0);
		p = parse(out, r.len);
		ck_assert(!ldns_pkt_tc(p));
		ck_assert_uint_eq(ldns_pkt_ancount(p), 40);
		ldns_pkt_free(p);
	}
	dns_stub_free(s);
}
END_TEST

START_TEST(test_site_answer)
{
	struct dns_stub *s = setup();
	struct dns_stub_out r, a;
	uint8_t fwd[4096], ans[4096], out[4096];
	size_t alen;

	ck_assert_int_eq(dns_stub_add_resource(s, "r", "www.other.test",
	    DNS_STACK_DUAL), 0);
	r = run(s, "www.other.test", LDNS_RR_TYPE_TXT, &sentinel4, T0, fwd,
	    sizeof(fwd));
	ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD_SITE);
	alen = upstream_answer(fwd, r.len, 300, LDNS_RCODE_NXDOMAIN, ans);
	ck_assert_int_eq(dns_stub_upstream_answer(s, ans, alen,
	    sap("100.72.145.83:53535"), T0, out, sizeof(out), &a), 0);
	ck_assert(addr_eq(&a.dst.sa, &client.sa));
	ck_assert_uint_eq(LDNS_ID_WIRE(out), 0x4242);
	dns_stub_free(s);
}
END_TEST

START_TEST(test_malformed)
{
	struct dns_stub *s = setup();
	struct dns_stub_out r;
	uint8_t q[512], out[4096];
	size_t len, i;
	ldns_pkt *p;

	len = make_query("www.example.com", LDNS_RR_TYPE_A, 1, q);
	/* to an address that is no sentinel: dropped */
	ck_assert_int_eq(dns_stub_query(s, q, len, &client.sa,
	    sap("100.100.111.9:53"), 0, T0, out, sizeof(out), &r),
	    -ENOENT);
	/* every truncation: an error, never a crash */
	for (i = 0; i < len; i++)
		ck_assert_int_eq(dns_stub_query(s, q, i, &client.sa,
		    &sentinel4.sa, 0, T0, out, sizeof(out), &r), -EBADMSG);
	/* a response is no query */
	q[2] |= 0x80;
	ck_assert_int_eq(dns_stub_query(s, q, len, &client.sa, &sentinel4.sa,
	    0, T0, out, sizeof(out), &r), -EBADMSG);
	q[2] &= 0x7f;
	/* opcode STATUS: NOTIMP */
	q[2] |= 2 << 3;
	ck_assert_int_eq(dns_stub_query(s, q, len, &client.sa, &sentinel4.sa,
	    0, T0, out, sizeof(out), &r), 0);
	p = parse(out, r.len);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_NOTIMPL);
	ldns_pkt_free(p);
	q[2] &= (uint8_t)~(0xf << 3);
	/* no question: FORMERR */
	{
		uint8_t hdr[12] = { 0, 7, 1, 0 };

		ck_assert_int_eq(dns_stub_query(s, hdr, sizeof(hdr),
		    &client.sa, &sentinel4.sa, 0, T0, out, sizeof(out), &r),
		    0);
		p = parse(out, r.len);
		ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_FORMERR);
		ldns_pkt_free(p);
	}
	/* output room too small */
	ck_assert_int_eq(dns_stub_query(s, q, len, &client.sa, &sentinel4.sa,
	    0, T0, out, 100, &r), -EINVAL);
	/* garbage answers */
	for (i = 0; i < len; i++)
		ck_assert_int_eq(dns_stub_upstream_answer(s, q, i,
		    &upstream4.sa, T0, out, sizeof(out), &r), -EBADMSG);
	dns_stub_free(s);
}
END_TEST

START_TEST(test_bounds)
{
	struct dns_stub *s = setup();
	struct dns_stub_out r;
	struct dns_stub_stats st;
	struct dns_stub_event ev;
	uint8_t out[4096];
	char name[64];
	size_t i;
	ldns_pkt *p;

	/* pending forwards: at most DNS_STUB_MAX_PENDING, then SERVFAIL */
	for (i = 0; i < DNS_STUB_MAX_PENDING; i++) {
		r = run(s, "www.other.test", LDNS_RR_TYPE_A, &sentinel4, T0,
		    out, sizeof(out));
		ck_assert_int_eq(r.verdict, DNS_STUB_FORWARD);
	}
	r = run(s, "www.other.test", LDNS_RR_TYPE_A, &sentinel4, T0, out,
	    sizeof(out));
	ck_assert_int_eq(r.verdict, DNS_STUB_REPLY);
	p = parse(out, r.len);
	ck_assert_int_eq(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(p);

	/* names: at most DNS_STUB_MAX_NAMES get proxy IPs */
	ck_assert_int_eq(dns_stub_add_resource(s, "r", "**.corp",
	    DNS_STACK_DUAL), 0);
	for (i = 0; i <= DNS_STUB_MAX_NAMES; i++) {
		snprintf(name, sizeof(name), "h%zu.corp", i);
		r = run(s, name, LDNS_RR_TYPE_A, &sentinel4, T0, out,
		    sizeof(out));
		p = parse(out, r.len);
		ck_assert_int_eq(ldns_pkt_get_rcode(p),
		    i < DNS_STUB_MAX_NAMES ? LDNS_RCODE_NOERROR :
		    LDNS_RCODE_SERVFAIL);
		ldns_pkt_free(p);
	}
	dns_stub_get_stats(s, &st);
	ck_assert_uint_eq(st.names, DNS_STUB_MAX_NAMES);
	ck_assert_uint_eq(st.dropped_events,
	    DNS_STUB_MAX_NAMES - DNS_STUB_MAX_EVENTS);
	for (i = 0; dns_stub_next_event(s, &ev) == 0; i++)
		;
	ck_assert_uint_eq(i, DNS_STUB_MAX_EVENTS);
	ck_assert_str_eq(ev.name, "h16383.corp");
	ck_assert_int_eq(inet_ntop(AF_INET, ev.ips[3].addr, name,
	    sizeof(name)) != NULL, 1);
	/* 16384 * 4 = 65536 hosts from 100.96.0.1 on */
	ck_assert_str_eq(name, "100.97.0.0");
	dns_stub_free(s);
}
END_TEST

/* ---- on the wire: dig against the stub on a loopback socket ---------- */

struct server {
	struct dns_stub	*s;
	int		 fd;
	volatile int	 stop;
};

/* Serves queries; anything forwarded is answered by a fake upstream. */
static void *
serve(void *arg)
{
	struct server *sv = arg;
	uint8_t buf[4096], out[4096], ans[4096];
	union fz_sockaddr from;

	while (!sv->stop) {
		struct pollfd pfd = { .fd = sv->fd, .events = POLLIN };
		socklen_t fl = sizeof(from);
		struct dns_stub_out r, a;
		ssize_t n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if ((n = recvfrom(sv->fd, buf, sizeof(buf), 0, &from.sa,
		    &fl)) <= 0)
			continue;
		if (dns_stub_query(sv->s, buf, (size_t)n, &from.sa,
		    &sentinel4.sa, 0, T0, out, sizeof(out), &r) != 0)
			continue;
		if (r.verdict == DNS_STUB_FORWARD) {
			size_t alen = upstream_answer(out, r.len, 300,
			    LDNS_RCODE_NOERROR, ans);

			if (dns_stub_upstream_answer(sv->s, ans, alen,
			    &r.dst.sa, T0, out, sizeof(out), &a) != 0)
				continue;
			r = a;
		}
		if (r.verdict == DNS_STUB_REPLY)
			(void)!sendto(sv->fd, out, r.len, 0, &r.dst.sa,
			    addr_len(&r.dst.sa));
	}
	return NULL;
}

static void
dig(int port, const char *args, char *out, size_t outlen)
{
	char cmd[512];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "dig @127.0.0.1 -p %d +time=2 +tries=1 %s "
	    "2>&1", port, args);
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	pclose(f);
}

START_TEST(test_dig)
{
	struct server sv = { 0 };
	union fz_sockaddr bound;
	socklen_t bl = sizeof(bound);
	pthread_t th;
	char out[4096];
	int port;

	if (system("command -v dig >/dev/null 2>&1") != 0) {
		fprintf(stderr, "dig not installed: on-the-wire test "
		    "skipped\n");
		return;
	}
	sv.s = setup();
	ck_assert_int_eq(dns_stub_add_resource(sv.s, "r", "*.corp.test",
	    DNS_STACK_DUAL), 0);
	bound = sa("127.0.0.1:0");
	ck_assert_int_ge(sv.fd = socket(AF_INET, SOCK_DGRAM, 0), 0);
	ck_assert_int_eq(bind(sv.fd, &bound.sa, sizeof(bound.in4)), 0);
	ck_assert_int_eq(getsockname(sv.fd, &bound.sa, &bl), 0);
	port = addr_port(&bound.sa);
	ck_assert_int_eq(pthread_create(&th, NULL, serve, &sv), 0);

	dig(port, "+short app.corp.test A", out, sizeof(out));
	ck_assert_str_eq(out,
	    "100.96.0.1\n100.96.0.2\n100.96.0.3\n100.96.0.4\n");
	dig(port, "+short app.corp.test AAAA", out, sizeof(out));
	ck_assert_str_eq(out, "fd00:2021:1111:8000::\n"
	    "fd00:2021:1111:8000::1\nfd00:2021:1111:8000::2\n"
	    "fd00:2021:1111:8000::3\n");
	dig(port, "+short -x 100.96.0.2", out, sizeof(out));
	ck_assert_str_eq(out, "app.corp.test.\n");
	dig(port, "+short -x fd00:2021:1111:8000::3", out, sizeof(out));
	ck_assert_str_eq(out, "app.corp.test.\n");
	dig(port, "app.corp.test HTTPS", out, sizeof(out));
	ck_assert_msg(strstr(out, "status: NOERROR") != NULL &&
	    strstr(out, "ANSWER: 0,") != NULL, "%s", out);
	dig(port, "use-application-dns.net A", out, sizeof(out));
	ck_assert_msg(strstr(out, "status: NXDOMAIN") != NULL, "%s", out);
	/* forwarded to the (fake) upstream and back */
	dig(port, "+short www.other.test A", out, sizeof(out));
	ck_assert_str_eq(out, "192.0.2.80\n");

	sv.stop = 1;
	pthread_join(th, NULL);
	close(sv.fd);
	dns_stub_free(sv.s);
}
END_TEST

static Suite *
dns_stub_suite(void)
{
	Suite *s = suite_create("dns_stub");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sentinels);
	tcase_add_test(tc, test_resource_addresses);
	tcase_add_test(tc, test_ip_stack);
	tcase_add_test(tc, test_special_types);
	tcase_add_test(tc, test_forward_and_cache);
	tcase_add_test(tc, test_site_answer);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_dig);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dns_stub_suite)
