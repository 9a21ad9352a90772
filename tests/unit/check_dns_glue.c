/* SPDX-License-Identifier: ISC */
/*
 * fz-controld's DNS glue (controld/dns_glue.c) between IPC and the stub:
 * the sentinels it reports, and what a query, a forwarded query's answer
 * and a query to an unmapped sentinel turn into, through recording ops.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <string.h>

#include "addr.h"
#include "check_util.h"
#include "dns_glue.h"
#include "log.h"

static struct rec {
	int		 sentinels, replies, downs, proxies;
	int		 replies_at_proxy;	/* replies before the last proxy */
	char		 pres[64], pdom[256], pips[512];
	bool		 pfresh;
	char		 list[1100], from[64], to[64];
	uint32_t	 sock;
	uint8_t		 msg[4096];
	size_t		 len;
} r;

static void
o_sentinels(void *arg, const char *list)
{
	(void)arg;
	r.sentinels++;
	snprintf(r.list, sizeof(r.list), "%s", list);
}

static void
o_reply(void *arg, const char *from, const char *to, const uint8_t *p,
    size_t len)
{
	(void)arg;
	r.replies++;
	snprintf(r.from, sizeof(r.from), "%s", from);
	snprintf(r.to, sizeof(r.to), "%s", to);
	ck_assert_uint_le(len, sizeof(r.msg));
	memcpy(r.msg, p, len);
	r.len = len;
}

static void
o_down(void *arg, uint32_t sock, const char *to, const uint8_t *p, size_t len)
{
	(void)arg;
	r.downs++;
	r.sock = sock;
	snprintf(r.to, sizeof(r.to), "%s", to);
	ck_assert_uint_le(len, sizeof(r.msg));
	memcpy(r.msg, p, len);
	r.len = len;
}

static void
o_proxy(void *arg, const char *res, const char *dom, const char *ips,
    bool fresh)
{
	(void)arg;
	r.proxies++;
	r.replies_at_proxy = r.replies;
	snprintf(r.pres, sizeof(r.pres), "%s", res);
	snprintf(r.pdom, sizeof(r.pdom), "%s", dom);
	snprintf(r.pips, sizeof(r.pips), "%s", ips);
	r.pfresh = fresh;
}

static const struct dns_glue_ops ops = {
	.sentinels = o_sentinels, .reply = o_reply, .down = o_down,
	.proxy = o_proxy,
};

/* SRV/TXT to a gateway: its answer (site_rc), what was sent. */
static struct site_rec {
	int		 rc, asked, sent, family;
	bool		 tcp;
	char		 rid[64], to[64];
	uint8_t		 msg[512];
	size_t		 len;
} site_r;

static int
o_site_gateway(void *arg, const char *rid, int family, union fz_sockaddr *gw)
{
	(void)arg;
	site_r.asked++;
	site_r.family = family;
	snprintf(site_r.rid, sizeof(site_r.rid), "%s", rid);
	if (site_r.rc != 0)
		return site_r.rc;
	ck_assert_int_eq(addr_parse(family == AF_INET ? "100.64.0.1" :
	    "fd00:2021:1111::1", ADDR_PORT_NONE, gw), 0);
	return 0;
}

static void
o_site_send(void *arg, const struct sockaddr *to, bool tcp, const uint8_t *p,
    size_t len)
{
	(void)arg;
	site_r.sent++;
	site_r.tcp = tcp;
	ck_assert_int_eq(addr_fmt(to, true, site_r.to, sizeof(site_r.to)), 0);
	ck_assert_uint_le(len, sizeof(site_r.msg));
	memcpy(site_r.msg, p, len);
	site_r.len = len;
}

static const struct dns_glue_ops site_ops = {
	.sentinels = o_sentinels, .reply = o_reply, .down = o_down,
	.proxy = o_proxy, .site_gateway = o_site_gateway,
	.site_send = o_site_send,
};
static const struct dns_glue_ops *cur_ops = &ops;

/* A query for name (dotted, no trailing dot) of qtype, id. */
static size_t
query(uint8_t *b, uint16_t id, const char *name, uint16_t qtype)
{
	size_t n = 12;
	const char *l = name, *dot;

	memset(b, 0, 12);
	b[0] = (uint8_t)(id >> 8);
	b[1] = (uint8_t)id;
	b[2] = 0x01;		/* RD */
	b[5] = 1;		/* QDCOUNT */
	for (;;) {
		size_t ll;

		dot = strchr(l, '.');
		ll = dot != NULL ? (size_t)(dot - l) : strlen(l);
		b[n++] = (uint8_t)ll;
		memcpy(b + n, l, ll);
		n += ll;
		if (dot == NULL)
			break;
		l = dot + 1;
	}
	b[n++] = 0;
	b[n++] = (uint8_t)(qtype >> 8);
	b[n++] = (uint8_t)qtype;
	b[n++] = 0;
	b[n++] = 1;
	return n;
}

static void
up(struct dns_glue *g, uint32_t sock, const char *from, const char *local,
    const uint8_t *p, size_t len)
{
	struct ipc_dgram_up d = { .sock = sock, .from = from, .local = local,
	    .payload = p, .payload_len = (uint32_t)len };

	ck_assert(dns_glue_up(g, &d));
}

static struct dns_glue *
glue(struct event_base **b)
{
	struct ipc_interface in = { "100.64.0.3", "fd00:2021:1111::3", "",
	    "" };
	struct ipc_resource res[2] = {
		{ "r-app", "dns", "app.corp.test", "app", "", "online" },
		{ "r-lan", "cidr", "10.50.0.0/24", "lan", "", "online" },
	};
	struct ipc_resource_list l = { 2, res };
	struct dns_glue *g;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(log_init("check_dns_glue", LOG_FORMAT_TEXT, "off"),
	    0);
	ck_assert_ptr_nonnull(*b = event_base_new());
	ck_assert_int_eq(dns_glue_new(*b, cur_ops, NULL, &g), 0);
	dns_glue_system(g, "10.99.5.2, 2001:db8::53");
	ck_assert_int_eq(r.sentinels, 0);	/* not signed in yet */
	dns_glue_interface(g, &in);
	ck_assert_int_eq(r.sentinels, 1);
	ck_assert_str_eq(r.list,
	    "100.100.111.1, fd00:2021:1111:8000:100:100:111:0");
	dns_glue_resources(g, &l);
	return g;
}

START_TEST(test_local_and_forwarded)
{
	struct event_base *b;
	struct dns_glue *g = glue(&b);
	uint8_t q[512], a[512];
	size_t n;
	uint16_t fid;

	/* a DNS resource: answered locally, from the sentinel */
	n = query(q, 0x1234, "app.corp.test", 1);
	up(g, IPC_SOCK_DNS, "100.64.0.3:40000", "100.100.111.1:53", q, n);
	ck_assert_int_eq(r.replies, 1);
	ck_assert_str_eq(r.from, "100.100.111.1:53");
	ck_assert_str_eq(r.to, "100.64.0.3:40000");
	ck_assert_uint_eq(r.msg[0], 0x12);
	ck_assert_uint_eq(r.msg[1], 0x34);
	ck_assert_uint_eq(r.msg[7], 4);		/* ANCOUNT: 4 proxy IPs */
	/* DNS_PROXY went down first, with the name's 8 proxy IPs */
	ck_assert_int_eq(r.proxies, 1);
	ck_assert_int_eq(r.replies_at_proxy, 0);
	ck_assert_str_eq(r.pres, "r-app");
	ck_assert_str_eq(r.pdom, "app.corp.test");
	ck_assert(r.pfresh);
	{
		union fz_sockaddr ips[8];
		size_t k;

		ck_assert_int_eq(addr_list_parse(r.pips, ADDR_PORT_NONE, ips,
		    8, &k), 0);
		ck_assert_uint_eq(k, 8);
		ck_assert_int_eq(ips[0].sa.sa_family, AF_INET);
		ck_assert_int_eq(ips[7].sa.sa_family, AF_INET6);
	}
	/* AAAA for it: the same name, the same proxy IPs again */
	{
		char first[512];

		snprintf(first, sizeof(first), "%s", r.pips);
		n = query(q, 0x1235, "app.corp.test", 28);
		up(g, IPC_SOCK_DNS, "100.64.0.3:40000", "100.100.111.1:53", q,
		    n);
		ck_assert_int_eq(r.proxies, 2);
		ck_assert_int_eq(r.replies_at_proxy, 1);
		ck_assert_int_eq(r.replies, 2);
		ck_assert_str_eq(r.pips, first);
		r.replies = 1;
	}
	n = query(q, 0x1234, "app.corp.test", 1);
	up(g, IPC_SOCK_DNS, "100.64.0.3:40000", "100.100.111.1:53", q, n);
	r.replies = 1;
	/* the first answer's address is app's proxy IP: which resource */
	{
		union fz_sockaddr p;
		char id[64];
		size_t off = 12;

		while (r.msg[off] != 0)			/* the question */
			off += 1 + r.msg[off];
		off += 5 + 12;				/* to the rdata */
		memset(&p, 0, sizeof(p));
		p.in4.sin_family = AF_INET;
		memcpy(&p.in4.sin_addr, r.msg + off, 4);
		ck_assert_uint_eq(r.msg[off], 100);
		ck_assert_int_eq(dns_glue_proxy_resource(g, &p.sa, id,
		    sizeof(id)), 0);
		ck_assert_str_eq(id, "r-app");
		p.in4.sin_addr.s_addr = htonl(0x64600063);	/* none */
		ck_assert_int_eq(dns_glue_proxy_resource(g, &p.sa, id,
		    sizeof(id)), -ENOENT);
	}
	/* anything else: forwarded to the sentinel's upstream, port 53 */
	n = query(q, 0x4321, "www.example.test", 1);
	up(g, IPC_SOCK_DNS, "100.64.0.3:40001", "100.100.111.1:53", q, n);
	ck_assert_int_eq(r.downs, 1);
	ck_assert_uint_eq(r.sock, IPC_SOCK_DNS_FWD4);
	ck_assert_str_eq(r.to, "10.99.5.2:53");
	fid = (uint16_t)(r.msg[0] << 8 | r.msg[1]);
	/* ... over IPv6 to the IPv6 one */
	up(g, IPC_SOCK_DNS, "[fd00:2021:1111::3]:40002",
	    "[fd00:2021:1111:8000:100:100:111:0]:53", q, n);
	ck_assert_int_eq(r.downs, 2);
	ck_assert_uint_eq(r.sock, IPC_SOCK_DNS_FWD6);
	ck_assert_str_eq(r.to, "[2001:db8::53]:53");
	/* the upstream's answer to the first: back to the client */
	n = query(a, fid, "www.example.test", 1);
	a[2] = 0x81;
	a[3] = 0x80;				/* QR RD RA, NOERROR */
	up(g, IPC_SOCK_DNS_FWD4, "10.99.5.2:53", "0.0.0.0:5555", a, n);
	ck_assert_int_eq(r.replies, 2);
	ck_assert_str_eq(r.from, "100.100.111.1:53");
	ck_assert_str_eq(r.to, "100.64.0.3:40001");
	ck_assert_uint_eq(r.msg[0], 0x43);
	ck_assert_uint_eq(r.msg[1], 0x21);
	/* an answer from elsewhere, a sentinel nobody maps: nothing */
	up(g, IPC_SOCK_DNS_FWD4, "10.99.5.3:53", "0.0.0.0:5555", a, n);
	up(g, IPC_SOCK_DNS, "100.64.0.3:40003", "100.100.111.9:53", q, n);
	ck_assert_int_eq(r.replies, 2);
	ck_assert_int_eq(r.downs, 2);
	ck_assert_int_eq(r.proxies, 3);		/* none for forwarded names */
	/* garbage and bad addresses: taken, nothing sent */
	up(g, IPC_SOCK_DNS, "100.64.0.3:40003", "100.100.111.1:53", q, 5);
	up(g, IPC_SOCK_DNS, "nope", "100.100.111.1:53", q, n);
	ck_assert_int_eq(r.replies + r.downs, 4);
	/* not DNS's socket */
	{
		struct ipc_dgram_up d = { .sock = 4, .from = "1.2.3.4:5",
		    .local = "1.2.3.4:5", .payload = q, .payload_len = 1 };

		ck_assert(!dns_glue_up(g, &d));
	}
	/* signed out: the resource is gone, the name is forwarded */
	dns_glue_signed_out(g);
	n = query(q, 0x5555, "app.corp.test", 1);
	up(g, IPC_SOCK_DNS, "100.64.0.3:40004", "100.100.111.1:53", q, n);
	ck_assert_int_eq(r.downs, 3);
	dns_glue_free(g);
	event_base_free(b);
}
END_TEST

START_TEST(test_portal_upstreams_win)
{
	struct event_base *b;
	struct dns_glue *g = glue(&b);
	struct ipc_interface in = { "100.64.0.3", "", "corp.test",
	    "1.1.1.1, 9.9.9.9" };
	uint8_t q[512];
	size_t n;

	dns_glue_interface(g, &in);
	ck_assert_int_eq(r.sentinels, 2);
	/* a new mapping skips the previous one's sentinels */
	ck_assert_str_eq(r.list, "100.100.111.2, 100.100.111.3");
	n = query(q, 1, "www.example.test", 1);
	up(g, IPC_SOCK_DNS, "100.64.0.3:40000", "100.100.111.3:53", q, n);
	ck_assert_str_eq(r.to, "9.9.9.9:53");
	dns_glue_system(g, "bogus list");		/* ignored */
	ck_assert_int_eq(r.sentinels, 2);
	dns_glue_free(g);
	event_base_free(b);
}
END_TEST

/*
 * SRV/TXT for a DNS resource (§4.4): to its gateway's <tunnel ip>:53535,
 * kept while the gateway connects, the answer back to the client; SERVFAIL
 * when there is no gateway to ask or no site ops.
 */
START_TEST(test_site)
{
	struct event_base *b;
	struct dns_glue *g;
	union fz_sockaddr gw;
	uint8_t q[512], a[512];
	size_t n;

	memset(&site_r, 0, sizeof(site_r));
	cur_ops = &site_ops;
	g = glue(&b);
	cur_ops = &ops;
	/* no gateway yet: asked for, nothing sent, no reply */
	site_r.rc = -EAGAIN;
	n = query(q, 0x2222, "app.corp.test", 16);
	up(g, IPC_SOCK_DNS, "100.64.0.3:40000", "100.100.111.1:53", q, n);
	ck_assert_int_eq(site_r.asked, 1);
	ck_assert_str_eq(site_r.rid, "r-app");
	ck_assert_int_eq(site_r.family, AF_INET);
	ck_assert_int_eq(site_r.sent + r.replies + r.downs, 0);
	/* another resource's gateway comes up: still waiting */
	site_r.rc = 0;
	dns_glue_site_ready(g, "r-lan");
	ck_assert_int_eq(site_r.sent, 0);
	/* its gateway is up: the query goes to <tunnel ip>:53535 */
	dns_glue_site_ready(g, "r-app");
	ck_assert_int_eq(site_r.sent, 1);
	ck_assert_str_eq(site_r.to, "100.64.0.1:53535");
	ck_assert_uint_eq(site_r.len, n);
	ck_assert_mem_eq(site_r.msg + 2, q + 2, n - 2);	/* a fresh id only */
	dns_glue_site_ready(g, "r-app");		/* sent once */
	ck_assert_int_eq(site_r.sent, 1);
	/* the gateway's answer: to the client, with its id */
	memcpy(a, site_r.msg, site_r.len);
	a[2] = 0x81;
	a[3] = 0x80;
	ck_assert_int_eq(addr_parse("100.64.0.1:53535", ADDR_PORT_REQUIRED,
	    &gw), 0);
	dns_glue_site_answer(g, &gw.sa, a, site_r.len);
	ck_assert_int_eq(r.replies, 1);
	ck_assert_str_eq(r.from, "100.100.111.1:53");
	ck_assert_str_eq(r.to, "100.64.0.3:40000");
	ck_assert_uint_eq(r.msg[0], 0x22);
	ck_assert_uint_eq(r.msg[1], 0x22);
	dns_glue_site_answer(g, &gw.sa, a, site_r.len);	/* answered once */
	ck_assert_int_eq(r.replies, 1);
	/* connected: sent at once; over the IPv6 sentinel to its IPv6 */
	n = query(q, 0x3333, "app.corp.test", 33);
	up(g, IPC_SOCK_DNS, "[fd00:2021:1111::3]:40001",
	    "[fd00:2021:1111:8000:100:100:111:0]:53", q, n);
	ck_assert_int_eq(site_r.sent, 2);
	ck_assert_int_eq(site_r.family, AF_INET6);
	ck_assert_str_eq(site_r.to, "[fd00:2021:1111::1]:53535");
	ck_assert(!site_r.tcp);
	/* asked over TCP: over TCP to the gateway too (§4.4) */
	n = query(q, 0x3334, "app.corp.test", 16);
	up(g, IPC_SOCK_DNS_TCP, "100.64.0.3:40009", "100.100.111.1:53", q, n);
	ck_assert_int_eq(site_r.sent, 3);
	ck_assert(site_r.tcp);
	/* no gateway can be had: SERVFAIL at once */
	site_r.rc = -ENOENT;
	n = query(q, 0x4444, "app.corp.test", 16);
	up(g, IPC_SOCK_DNS, "100.64.0.3:40002", "100.100.111.1:53", q, n);
	ck_assert_int_eq(r.replies, 2);
	ck_assert_uint_eq(r.msg[3] & 0xf, 2);		/* SERVFAIL */
	ck_assert_int_eq(site_r.sent, 3);
	dns_glue_free(g);
	event_base_free(b);

	/* no site ops at all: SERVFAIL */
	g = glue(&b);
	n = query(q, 0x5555, "app.corp.test", 16);
	up(g, IPC_SOCK_DNS, "100.64.0.3:40003", "100.100.111.1:53", q, n);
	ck_assert_int_eq(r.replies, 1);
	ck_assert_uint_eq(r.msg[3] & 0xf, 2);
	dns_glue_free(g);
	event_base_free(b);
}
END_TEST

static Suite *
dns_glue_suite(void)
{
	Suite *s = suite_create("dns_glue");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_local_and_forwarded);
	tcase_add_test(tc, test_portal_upstreams_win);
	tcase_add_test(tc, test_site);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dns_glue_suite)
