/* SPDX-License-Identifier: ISC */
/* The client wiring's pure parts: lists, resources, sentinel packets. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_util.h"
#include "client_net.h"
#include "dnspkt.h"
#include "dnstcp.h"
#include "offload.h"

START_TEST(test_list_parse)
{
	union fz_sockaddr a[4];
	char out[256];
	size_t n = 99;

	ck_assert_int_eq(addr_list_parse("", ADDR_PORT_NONE, a, 4, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(addr_list_parse("1.1.1.1, 2606:4700::1111,9.9.9.9",
	    ADDR_PORT_NONE, a, 4, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(a[1].sa.sa_family, AF_INET6);
	ck_assert_int_eq(cn_addr_list_fmt(a, n, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "1.1.1.1, 2606:4700::1111, 9.9.9.9");
	ck_assert_int_eq(cn_addr_list_fmt(a, n, out, 10), -ENOSPC);
	n = 77;
	ck_assert_int_eq(addr_list_parse("1.1.1.1, nope", ADDR_PORT_NONE, a, 4,
	    &n), -EINVAL);
	ck_assert_int_eq(addr_list_parse("1.1.1.1:53", ADDR_PORT_NONE, a, 4,
	    &n), -EINVAL);
	ck_assert_int_eq(addr_list_parse("1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 "
	    "5.5.5.5", ADDR_PORT_NONE, a, 4, &n), -E2BIG);
	ck_assert_uint_eq(n, 77);		/* untouched on failure */
}
END_TEST

START_TEST(test_resource_cidrs)
{
	struct ipc_resource r[5] = {
		{ "a", "cidr", "10.50.0.7/24", "n", "", "online" },
		{ "b", "dns", "app.corp.test", "n", "", "online" },
		{ "c", "cidr", "2001:db8::1", "n", "", "online" },
		{ "d", "cidr", "bogus", "n", "", "online" },
		{ "e", "internet", "", "n", "", "online" },
	};
	struct ipc_resource_list l = { 5, r };
	struct fz_cidr c[4];
	char s[64];
	bool inet;

	ck_assert_uint_eq(cn_resource_cidrs(&l, c, 4, &inet), 2);
	ck_assert(inet);
	ck_assert_int_eq(cidr_fmt(&c[0], s, sizeof(s)), 0);
	ck_assert_str_eq(s, "10.50.0.0/24");
	ck_assert_int_eq(cidr_fmt(&c[1], s, sizeof(s)), 0);
	ck_assert_str_eq(s, "2001:db8::1/128");
	ck_assert_uint_eq(cn_resource_cidrs(&l, c, 1, &inet), 1);
	l.n = 2;
	ck_assert_uint_eq(cn_resource_cidrs(&l, c, 4, &inet), 1);
	ck_assert(!inet);
}
END_TEST

static void
sa(const char *s, union fz_sockaddr *out)
{
	ck_assert_int_eq(addr_parse(s, ADDR_PORT_OPTIONAL, out), 0);
}

/* The one's-complement sum of the UDP segment with its pseudo-header. */
static uint16_t
udp_verify(const uint8_t *ip, size_t len, size_t hl)
{
	return off_csum_fold(off_csum_add(off_pseudo(ip, 17, len - hl),
	    ip + hl, len - hl));
}

START_TEST(test_build_parse_v4)
{
	static const uint8_t q[] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
	    0 };
	union fz_sockaddr from, to, f2, t2;
	uint8_t pkt[128];
	const uint8_t *p;
	size_t len, plen;

	sa("100.64.0.3:40000", &from);
	sa("100.100.111.1:53", &to);
	ck_assert_int_eq(dnspkt_build(&from, &to, q, sizeof(q), pkt,
	    sizeof(pkt), &len), 0);
	ck_assert_uint_eq(len, 20 + 8 + sizeof(q));
	/* header checksum verifies to 0, so does the UDP one */
	ck_assert_uint_eq(off_csum_fold(off_csum_add(0, pkt, 20)), 0);
	ck_assert_uint_eq(udp_verify(pkt, len, 20), 0);
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen), 0);
	ck_assert(addr_eq(&f2.sa, &from.sa));
	ck_assert(addr_eq(&t2.sa, &to.sa));
	ck_assert_uint_eq(plen, sizeof(q));
	ck_assert_mem_eq(p, q, sizeof(q));
	/* padding after the packet is ignored */
	ck_assert_int_eq(dnspkt_parse(pkt, len + 3, &f2, &t2, &p, &plen), 0);
	ck_assert_uint_eq(plen, sizeof(q));
	/* not port 53: to a sentinel, but dropped */
	pkt[20 + 3] = 54;
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen),
	    -ENOENT);
	pkt[20 + 3] = 53;
	/* a UDP length past the packet */
	off_put16(pkt + 24, (uint16_t)(len));
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen),
	    -ENOENT);
	off_put16(pkt + 24, (uint16_t)(8 + sizeof(q)));
	/* a fragment */
	off_put16(pkt + 6, 0x2000);
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen),
	    -ENOENT);
	off_put16(pkt + 6, 0x4000);
	/* not a sentinel */
	pkt[18] = 110;
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen),
	    -EBADMSG);
	/* truncated */
	ck_assert_int_eq(dnspkt_parse(pkt, 10, &f2, &t2, &p, &plen),
	    -EBADMSG);
	ck_assert_int_eq(dnspkt_build(&from, &to, q, sizeof(q), pkt, 30,
	    &len), -ENOBUFS);
}
END_TEST

START_TEST(test_build_parse_v6)
{
	static const uint8_t q[] = { 0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
	    0, 0, 1, 0, 1 };
	union fz_sockaddr from, to, f2, t2;
	uint8_t pkt[128];
	const uint8_t *p;
	size_t len, plen;

	sa("[fd00:2021:1111::3]:5353", &from);
	sa("[fd00:2021:1111:8000:100:100:111:2]:53", &to);
	ck_assert_int_eq(dnspkt_build(&from, &to, q, sizeof(q), pkt,
	    sizeof(pkt), &len), 0);
	ck_assert_uint_eq(len, 40 + 8 + sizeof(q));
	ck_assert_uint_eq(pkt[0] >> 4, 6);
	ck_assert_uint_eq(udp_verify(pkt, len, 40), 0);
	ck_assert_int_eq(dnspkt_parse(pkt, len, &f2, &t2, &p, &plen), 0);
	ck_assert(addr_eq(&f2.sa, &from.sa));
	ck_assert(addr_eq(&t2.sa, &to.sa));
	ck_assert_mem_eq(p, q, sizeof(q));
	ck_assert(dnspkt_is_sentinel(AF_INET6, pkt + 24));
	pkt[39] = 0xff;		/* still in the /120 */
	ck_assert(dnspkt_is_sentinel(AF_INET6, pkt + 24));
	pkt[38] = 0x12;		/* outside */
	ck_assert(!dnspkt_is_sentinel(AF_INET6, pkt + 24));
	/* mixed families */
	sa("100.100.111.1:53", &to);
	ck_assert_int_eq(dnspkt_build(&from, &to, q, sizeof(q), pkt,
	    sizeof(pkt), &len), -EAFNOSUPPORT);
}
END_TEST

/* --- DNS over TCP (dnstcp.h) --- */
static struct {
	unsigned	nsent, nq;
	struct dnspkt_tcp last;
	uint8_t		pkts[16][1400];
	size_t		lens[16];
	uint8_t		q[600];
	size_t		qlen;
} tr;

static void
t_send(void *arg, const uint8_t *pkt, size_t len)
{
	size_t hl = (pkt[0] >> 4) == 4 ? 20 : 40;

	(void)arg;
	ck_assert_uint_lt(tr.nsent, 16);
	ck_assert_uint_le(len, sizeof(tr.pkts[0]));
	/* every segment's checksum verifies */
	ck_assert_uint_eq(off_csum_fold(off_csum_add(off_pseudo(pkt, 6,
	    len - hl), pkt + hl, len - hl)), 0);
	memcpy(tr.pkts[tr.nsent], pkt, len);
	tr.lens[tr.nsent++] = len;
}

static void
t_query(void *arg, const union fz_sockaddr *client,
    const union fz_sockaddr *sentinel, const uint8_t *msg, size_t len)
{
	(void)arg;
	(void)client;
	ck_assert_uint_eq(addr_port(&sentinel->sa), 53);
	ck_assert_uint_le(len, sizeof(tr.q));
	memcpy(tr.q, msg, len);
	tr.qlen = len;
	tr.nq++;
}

static const struct dnstcp_ops tops = { .send = t_send, .query = t_query };

/* The segments the stack sent back: parsed with the ends swapped. */
static void
sent(unsigned i, struct dnspkt_tcp *out)
{
	size_t hl = (tr.pkts[i][0] >> 4) == 4 ? 20 : 40;
	const uint8_t *tcp = tr.pkts[i] + hl;

	out->seq = off_get32(tcp + 4);
	out->ack = off_get32(tcp + 8);
	out->flags = tcp[13];
	out->payload = tcp + 20;
	out->plen = tr.lens[i] - hl - 20;
}

static void
in(struct dnstcp *t, uint32_t seq, uint32_t ack, uint8_t flags,
    const uint8_t *p, size_t len)
{
	union fz_sockaddr c, s;
	uint8_t pkt[1400];
	size_t n;

	sa("100.64.0.3:41000", &c);
	sa("100.100.111.1:53", &s);
	ck_assert_int_eq(dnspkt_build_tcp(&c, &s, seq, ack, flags, p, len,
	    pkt, sizeof(pkt), &n), 0);
	ck_assert_int_eq(dnstcp_input(t, pkt, n, 1000), 0);
}

START_TEST(test_dnstcp_query_answer_close)
{
	static uint8_t ans[3000];
	struct dnstcp *t;
	struct dnspkt_tcp r;
	union fz_sockaddr c, s;
	uint8_t q[2 + 30];
	uint32_t iss, want;
	unsigned i;

	memset(&tr, 0, sizeof(tr));
	ck_assert_ptr_nonnull(t = dnstcp_new(&tops, NULL));
	in(t, 1000, 0, DNSPKT_SYN, NULL, 0);
	ck_assert_uint_eq(tr.nsent, 1);
	sent(0, &r);
	ck_assert_uint_eq(r.flags, DNSPKT_SYN | DNSPKT_ACK);
	ck_assert_uint_eq(r.ack, 1001);
	iss = r.seq;
	/* a retransmitted SYN: the same SYN-ACK */
	in(t, 1000, 0, DNSPKT_SYN, NULL, 0);
	sent(1, &r);
	ck_assert_uint_eq(r.seq, iss);
	ck_assert_uint_eq(dnstcp_count(t), 1);
	/* the query in two pieces: length prefix split */
	q[0] = 0;
	q[1] = 30;
	memset(q + 2, 'q', 30);
	in(t, 1001, iss + 1, DNSPKT_ACK, q, 1);
	ck_assert_uint_eq(tr.nq, 0);
	sent(2, &r);
	ck_assert_uint_eq(r.ack, 1002);
	in(t, 1002, iss + 1, DNSPKT_ACK | DNSPKT_PSH, q + 1, 31);
	ck_assert_uint_eq(tr.nq, 1);
	ck_assert_uint_eq(tr.qlen, 30);
	sent(3, &r);
	ck_assert_uint_eq(r.ack, 1033);
	/* a duplicate: ACKed again, no second query */
	in(t, 1002, iss + 1, DNSPKT_ACK, q + 1, 31);
	ck_assert_uint_eq(tr.nq, 1);
	ck_assert_uint_eq(tr.nsent, 5);
	/* the answer: 3002 bytes in 1200-byte segments, in sequence */
	sa("100.64.0.3:41000", &c);
	sa("100.100.111.1:53", &s);
	memset(ans, 'a', sizeof(ans));
	ck_assert_int_eq(dnstcp_answer(t, &s, &c, ans, sizeof(ans)), 0);
	ck_assert_uint_eq(tr.nsent, 8);
	want = iss + 1;
	for (i = 5; i < 8; i++) {
		sent(i, &r);
		ck_assert_uint_eq(r.seq, want);
		ck_assert_uint_eq(r.plen, i < 7 ? 1200 : 602);
		want += (uint32_t)r.plen;
	}
	sent(5, &r);
	ck_assert_uint_eq(r.payload[0] << 8 | r.payload[1], 3000);
	/* no second answer without a query */
	ck_assert_int_eq(dnstcp_answer(t, &s, &c, ans, 10), 0);
	ck_assert_uint_eq(tr.nsent, 8);
	/* the client closes: our FIN, then its ACK ends it */
	in(t, 1033, want, DNSPKT_ACK | DNSPKT_FIN, NULL, 0);
	sent(8, &r);
	ck_assert_uint_eq(r.flags, DNSPKT_FIN | DNSPKT_ACK);
	ck_assert_uint_eq(r.ack, 1034);
	in(t, 1034, want + 1, DNSPKT_ACK, NULL, 0);
	ck_assert_uint_eq(dnstcp_count(t), 0);
	/* anything now: a RST */
	in(t, 1034, want + 1, DNSPKT_ACK, q, 2);
	sent(9, &r);
	ck_assert_uint_eq(r.flags, DNSPKT_RST);
	ck_assert_uint_eq(r.seq, want + 1);
	ck_assert_int_eq(dnstcp_answer(t, &s, &c, ans, 10), -ENOENT);
	dnstcp_free(t);
}
END_TEST

START_TEST(test_dnstcp_half_close_and_limits)
{
	struct dnstcp *t;
	struct dnspkt_tcp r;
	union fz_sockaddr c, s;
	uint8_t q[4] = { 0, 2, 'x', 'y' };
	uint32_t iss;

	memset(&tr, 0, sizeof(tr));
	ck_assert_ptr_nonnull(t = dnstcp_new(&tops, NULL));
	in(t, 5, 0, DNSPKT_SYN, NULL, 0);
	sent(0, &r);
	iss = r.seq;
	/* query and FIN together: ACK, the answer, then our FIN */
	in(t, 6, iss + 1, DNSPKT_ACK | DNSPKT_FIN, q, 4);
	ck_assert_uint_eq(tr.nq, 1);
	sent(1, &r);
	ck_assert_uint_eq(r.flags, DNSPKT_ACK);
	ck_assert_uint_eq(r.ack, 11);
	sa("100.64.0.3:41000", &c);
	sa("100.100.111.1:53", &s);
	ck_assert_int_eq(dnstcp_answer(t, &s, &c, q, 4), 0);
	sent(2, &r);
	ck_assert_uint_eq(r.plen, 6);
	sent(3, &r);
	ck_assert_uint_eq(r.flags, DNSPKT_FIN | DNSPKT_ACK);
	ck_assert_uint_eq(r.seq, iss + 1 + 6);
	/* a gap: a duplicate ACK, nothing taken */
	memset(&tr, 0, sizeof(tr));
	in(t, 100, 0, DNSPKT_SYN, NULL, 0);		/* a new connection */
	sent(0, &r);
	iss = r.seq;
	in(t, 105, iss + 1, DNSPKT_ACK, q, 4);
	ck_assert_uint_eq(tr.nq, 0);
	sent(1, &r);
	ck_assert_uint_eq(r.ack, 101);
	/* a RST ends it */
	in(t, 101, 0, DNSPKT_RST, NULL, 0);
	ck_assert_uint_eq(dnstcp_count(t), 0);
	/* idle connections expire */
	in(t, 200, 0, DNSPKT_SYN, NULL, 0);
	ck_assert_uint_eq(dnstcp_count(t), 1);
	dnstcp_expire(t, 1000 + DNSTCP_IDLE_NS + 1);
	ck_assert_uint_eq(dnstcp_count(t), 0);
	/* not TCP to a sentinel's 53 */
	{
		uint8_t pkt[100];
		size_t n;

		sa("100.100.111.1:54", &s);
		ck_assert_int_eq(dnspkt_build_tcp(&c, &s, 1, 0, DNSPKT_SYN,
		    NULL, 0, pkt, sizeof(pkt), &n), 0);
		ck_assert_int_eq(dnstcp_input(t, pkt, n, 0), -EBADMSG);
		ck_assert_int_eq(dnstcp_input(t, pkt, 30, 0), -EBADMSG);
	}
	dnstcp_free(t);
}
END_TEST

static Suite *
client_net_suite(void)
{
	Suite *s = suite_create("client_net");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_list_parse);
	tcase_add_test(tc, test_resource_cidrs);
	tcase_add_test(tc, test_build_parse_v4);
	tcase_add_test(tc, test_build_parse_v6);
	tcase_add_test(tc, test_dnstcp_query_answer_close);
	tcase_add_test(tc, test_dnstcp_half_close_and_limits);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(client_net_suite)
