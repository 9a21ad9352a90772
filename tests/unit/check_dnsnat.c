/* SPDX-License-Identifier: ISC */
/*
 * The gateway's DNS-resource NAT table (§5.3) on a fake clock. Packets
 * are built here with checksums computed in full by this file's own
 * code, and every translated packet is checked the same way.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "check_util.h"
#include "dnsnat.h"

#define T0	1000000ULL

static struct fz_ip
ip(const char *s)
{
	struct fz_ip a;

	memset(&a, 0, sizeof(a));
	a.af = strchr(s, ':') ? AF_INET6 : AF_INET;
	ck_assert_int_eq(inet_pton(a.af, s, a.a), 1);
	return a;
}

static uint32_t
sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The full L4 checksum of the message at l4 (its field zeroed first). */
static uint16_t
l4sum(const uint8_t *b, int v6, uint8_t proto, const uint8_t *l4, size_t n)
{
	uint32_t s = 0;

	if (proto != 1) {
		s = v6 ? sum(b + 8, 32, 0) : sum(b + 12, 8, 0);
		s += proto + (uint32_t)n;
	}
	return fold(sum(l4, n, s));
}

static size_t
csum_off(uint8_t proto)
{
	return proto == 6 ? 16 : proto == 17 ? 6 : 2;
}

static void
fill(uint8_t *b, size_t len)
{
	int v6 = (b[0] >> 4) == 6;
	size_t hl = v6 ? 40 : 20;
	uint8_t proto = v6 ? b[6] : b[9];
	uint8_t *c = b + hl + csum_off(proto);
	uint16_t v;

	if (!v6) {
		b[10] = b[11] = 0;
		v = fold(sum(b, 20, 0));
		b[10] = (uint8_t)(v >> 8), b[11] = (uint8_t)v;
	}
	c[0] = c[1] = 0;
	v = l4sum(b, v6, proto, b + hl, len - hl);
	if (v == 0 && proto == 17)
		v = 0xffff;
	c[0] = (uint8_t)(v >> 8), c[1] = (uint8_t)v;
}

static int
csums_ok(const uint8_t *b, size_t len)
{
	int v6 = (b[0] >> 4) == 6;
	size_t hl = v6 ? 40 : 20;
	uint8_t proto = v6 ? b[6] : b[9];
	uint32_t s = 0;

	if (!v6 && fold(sum(b, 20, 0)) != 0)
		return 0;
	if (proto != 1) {
		s = v6 ? sum(b + 8, 32, 0) : sum(b + 12, 8, 0);
		s += proto + (uint32_t)(len - hl);
	}
	return fold(sum(b + hl, len - hl, s)) == 0;
}

/* An IPv4/IPv6 packet; for ICMP, sp = id and dp = sequence, flags = type;
 * for TCP, flags the TCP flags. 8 bytes of payload. */
static size_t
mk(uint8_t *b, uint8_t proto, const char *src, const char *dst,
    uint16_t sp, uint16_t dp, uint8_t flags)
{
	struct fz_ip s = ip(src), d = ip(dst);
	int v6 = s.af == AF_INET6;
	size_t hl = v6 ? 40 : 20, l4 = (proto == 6 ? 20 : 8) + 8;
	uint8_t *p = b + hl;

	memset(b, 0, hl + l4);
	if (v6) {
		b[0] = 0x60;
		b[4] = (uint8_t)(l4 >> 8), b[5] = (uint8_t)l4;
		b[6] = proto;
		b[7] = 64;
		memcpy(b + 8, s.a, 16);
		memcpy(b + 24, d.a, 16);
	} else {
		b[0] = 0x45;
		b[2] = (uint8_t)((hl + l4) >> 8), b[3] = (uint8_t)(hl + l4);
		b[4] = 0x12, b[5] = 0x34;
		b[8] = 64;
		b[9] = proto;
		memcpy(b + 12, s.a, 4);
		memcpy(b + 16, d.a, 4);
	}
	if (proto == 1 || proto == 58) {
		p[0] = flags;
		p[4] = (uint8_t)(sp >> 8), p[5] = (uint8_t)sp;
		p[6] = (uint8_t)(dp >> 8), p[7] = (uint8_t)dp;
	} else {
		p[0] = (uint8_t)(sp >> 8), p[1] = (uint8_t)sp;
		p[2] = (uint8_t)(dp >> 8), p[3] = (uint8_t)dp;
		if (proto == 17)
			p[5] = (uint8_t)l4;
		else {
			p[4] = 0xde, p[7] = 0x01;	/* seq */
			p[12] = 0x50;
			p[13] = flags;
			p[14] = 0xff;
		}
	}
	for (size_t i = 0; i < 8; i++)
		p[l4 - 8 + i] = (uint8_t)(0xa0 + i);
	fill(b, hl + l4);
	return hl + l4;
}

static uint16_t
g16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int
addr_is(const uint8_t *p, const char *s)
{
	struct fz_ip a = ip(s);

	return memcmp(p, a.a, a.af == AF_INET ? 4 : 16) == 0;
}

/* 4+4 proxies; resolved: 2 IPv4, 1 IPv6 unless v6 = 0. */
static struct dnsnat *
setup(int v6)
{
	struct dnsnat *nat = dnsnat_new();
	struct fz_ip px[8], res[3];

	px[0] = ip("100.96.0.1");
	px[1] = ip("100.96.0.2");
	px[2] = ip("100.96.0.3");
	px[3] = ip("100.96.0.4");
	px[4] = ip("fd00:2021:1111:8000::");
	px[5] = ip("fd00:2021:1111:8000::1");
	px[6] = ip("fd00:2021:1111:8000::2");
	px[7] = ip("fd00:2021:1111:8000::3");
	res[0] = ip("10.0.0.1");
	res[1] = ip("10.0.0.2");
	res[2] = ip("2001:db8::1");
	ck_assert_ptr_nonnull(nat);
	ck_assert_int_eq(dnsnat_assign(nat, "app.test", px, 8, res,
	    v6 ? 3 : 2), 0);
	return nat;
}

START_TEST(test_round_robin)
{
	struct dnsnat *nat = setup(1), *nat4 = setup(0);
	struct fz_ip r, p;
	const char *want[8] = { "10.0.0.1", "10.0.0.2", "10.0.0.1",
	    "10.0.0.2", "2001:db8::1", "2001:db8::1", "2001:db8::1",
	    "2001:db8::1" };
	const char *px[8] = { "100.96.0.1", "100.96.0.2", "100.96.0.3",
	    "100.96.0.4", "fd00:2021:1111:8000::", "fd00:2021:1111:8000::1",
	    "fd00:2021:1111:8000::2", "fd00:2021:1111:8000::3" };
	uint8_t b[128];
	size_t n;

	for (int i = 0; i < 8; i++) {
		p = ip(px[i]);
		ck_assert_int_eq(dnsnat_target(nat, &p, &r), 0);
		ck_assert(addr_is(r.a, want[i]));
	}
	/* IPv6 proxies without an IPv6 target: unreachable. */
	p = ip("fd00:2021:1111:8000::1");
	ck_assert_int_eq(dnsnat_target(nat4, &p, &r), -ENXIO);
	n = mk(b, 17, "fd00:2021:1111::5", "fd00:2021:1111:8000::1", 5000,
	    53, 0);
	ck_assert_int_eq(dnsnat_out(nat4, b, n, T0), DNSNAT_UNREACHABLE);
	/* Not a proxy IP: left alone. */
	n = mk(b, 17, "100.64.0.5", "10.9.9.9", 5000, 53, 0);
	ck_assert_int_eq(dnsnat_out(nat, b, n, T0), DNSNAT_PASS);
	p = ip("100.96.0.9");
	ck_assert_int_eq(dnsnat_target(nat, &p, &r), -ENOENT);
	dnsnat_free(nat);
	dnsnat_free(nat4);
}
END_TEST

/* out, then a reply in, for each protocol and family. */
static void
roundtrip(struct dnsnat *nat, uint8_t proto, const char *cl,
    const char *proxy, const char *real, uint16_t sp, uint16_t wantport,
    uint64_t now)
{
	uint8_t b[128], orig[128];
	int v6 = strchr(cl, ':') != NULL;
	size_t n, hl = v6 ? 40 : 20;
	uint8_t rtype = proto == 1 ? 0 : proto == 58 ? 129 : 0x10;

	n = mk(b, proto, cl, proxy, sp, 443, proto == 1 ? 8 :
	    proto == 58 ? 128 : 0x02);
	memcpy(orig, b, n);
	ck_assert_int_eq(dnsnat_out(nat, b, n, now), DNSNAT_TRANSLATED);
	ck_assert(csums_ok(b, n));
	ck_assert(addr_is(b + (v6 ? 24 : 16), real));
	ck_assert_uint_eq(g16(b + hl + ((proto == 1 || proto == 58) ? 4 : 0)),
	    wantport);
	/* The reply. */
	if (proto == 1 || proto == 58)
		n = mk(b, proto, real, cl, wantport, 443, rtype);
	else
		n = mk(b, proto, real, cl, 443, wantport, rtype);
	ck_assert_int_eq(dnsnat_in(nat, b, n, now + 1), DNSNAT_TRANSLATED);
	ck_assert(csums_ok(b, n));
	ck_assert(addr_is(b + (v6 ? 8 : 12), proxy));
	ck_assert_uint_eq(g16(b + hl + ((proto == 1 || proto == 58) ? 4 : 2)),
	    sp);
}

START_TEST(test_translate)
{
	struct dnsnat *nat = setup(1);

	roundtrip(nat, 17, "100.64.0.5", "100.96.0.1", "10.0.0.1", 5000,
	    5000, T0);
	roundtrip(nat, 6, "100.64.0.5", "100.96.0.2", "10.0.0.2", 5000,
	    5000, T0);
	roundtrip(nat, 1, "100.64.0.5", "100.96.0.1", "10.0.0.1", 77, 77, T0);
	roundtrip(nat, 17, "fd00:2021:1111::5", "fd00:2021:1111:8000::",
	    "2001:db8::1", 5000, 5000, T0);
	roundtrip(nat, 6, "fd00:2021:1111::5", "fd00:2021:1111:8000::",
	    "2001:db8::1", 5000, 5000, T0);
	roundtrip(nat, 58, "fd00:2021:1111::5", "fd00:2021:1111:8000::",
	    "2001:db8::1", 77, 77, T0);
	ck_assert_uint_eq(dnsnat_sessions(nat), 6);
	dnsnat_free(nat);
}
END_TEST

START_TEST(test_port_collision_wrap)
{
	struct dnsnat *nat = setup(1);

	/* 100.96.0.1 and .3 both lead to 10.0.0.1: same inside port. */
	roundtrip(nat, 17, "100.64.0.5", "100.96.0.1", "10.0.0.1", 5000,
	    5000, T0);
	roundtrip(nat, 17, "100.64.0.5", "100.96.0.3", "10.0.0.1", 5000,
	    5001, T0);
	/* 5001 taken now: a session from 5001 goes to 5002. */
	roundtrip(nat, 17, "100.64.0.5", "100.96.0.1", "10.0.0.1", 5001,
	    5002, T0);
	/* Wrapping past 65535 skips port 0 ... */
	roundtrip(nat, 6, "100.64.0.5", "100.96.0.1", "10.0.0.1", 65535,
	    65535, T0);
	roundtrip(nat, 6, "100.64.0.5", "100.96.0.3", "10.0.0.1", 65535, 1,
	    T0);
	/* ... ICMP ids too (as connlib); 0 only as the inside id. */
	roundtrip(nat, 1, "100.64.0.5", "100.96.0.1", "10.0.0.1", 65535,
	    65535, T0);
	roundtrip(nat, 1, "100.64.0.5", "100.96.0.3", "10.0.0.1", 65535, 1,
	    T0);
	roundtrip(nat, 1, "100.64.0.5", "100.96.0.1", "10.0.0.1", 0, 0, T0);
	roundtrip(nat, 1, "100.64.0.5", "100.96.0.3", "10.0.0.1", 0, 2, T0);
	/* Another real IP: no collision. */
	roundtrip(nat, 17, "100.64.0.5", "100.96.0.2", "10.0.0.2", 5000,
	    5000, T0);
	dnsnat_free(nat);
}
END_TEST

static size_t
count_after(struct dnsnat *nat, uint64_t t)
{
	(void)dnsnat_expire(nat, t);
	return dnsnat_sessions(nat);
}

START_TEST(test_ttls)
{
	struct dnsnat *nat = setup(1);
	uint8_t b[128];
	size_t n;

	/* Never answered: 60 s from the last outbound packet. */
	n = mk(b, 17, "100.64.0.5", "100.96.0.1", 4000, 53, 0);
	ck_assert_int_eq(dnsnat_out(nat, b, n, T0), DNSNAT_TRANSLATED);
	ck_assert_uint_eq(count_after(nat, T0 + 59999), 1);
	ck_assert_uint_eq(count_after(nat, T0 + 60000), 0);
	n = mk(b, 17, "10.0.0.1", "100.64.0.5", 53, 4000, 0);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 60001), DNSNAT_EXPIRED);

	/* UDP: 2 min from the last packet either way. */
	roundtrip(nat, 17, "100.64.0.5", "100.96.0.1", "10.0.0.1", 4001,
	    4001, T0);
	n = mk(b, 17, "10.0.0.1", "100.64.0.5", 443, 4001, 0);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 100000),
	    DNSNAT_TRANSLATED);
	ck_assert_uint_eq(count_after(nat, T0 + 219999), 1);
	ck_assert_uint_eq(count_after(nat, T0 + 220000), 0);
	ck_assert_uint_eq(dnsnat_expire(nat, T0), UINT64_MAX);

	/* ICMP echo: 2 min. */
	roundtrip(nat, 1, "100.64.0.5", "100.96.0.1", "10.0.0.1", 9, 9, T0);
	ck_assert_uint_eq(dnsnat_expire(nat, T0 + 1), T0 + 1 + 120000);
	ck_assert_uint_eq(count_after(nat, T0 + 120001), 0);

	/* TCP: 2 h 4 min. */
	roundtrip(nat, 6, "100.64.0.5", "100.96.0.1", "10.0.0.1", 4002, 4002,
	    T0);
	ck_assert_uint_eq(count_after(nat, T0 + 1 + 7440000 - 1), 1);
	ck_assert_uint_eq(count_after(nat, T0 + 1 + 7440000), 0);

	/* FIN both ways: 5 s after the last packet. */
	roundtrip(nat, 6, "100.64.0.5", "100.96.0.1", "10.0.0.1", 4003, 4003,
	    T0);
	n = mk(b, 6, "100.64.0.5", "100.96.0.1", 4003, 443, 0x11);
	ck_assert_int_eq(dnsnat_out(nat, b, n, T0 + 10), DNSNAT_TRANSLATED);
	ck_assert_uint_eq(count_after(nat, T0 + 100000), 1); /* one FIN */
	n = mk(b, 6, "10.0.0.1", "100.64.0.5", 443, 4003, 0x11);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 20), DNSNAT_TRANSLATED);
	ck_assert_uint_eq(count_after(nat, T0 + 5019), 1);
	ck_assert_uint_eq(count_after(nat, T0 + 5020), 0);

	/* RST either way: gone at once; that RST is still translated. */
	roundtrip(nat, 6, "100.64.0.5", "100.96.0.1", "10.0.0.1", 4004, 4004,
	    T0);
	n = mk(b, 6, "10.0.0.1", "100.64.0.5", 443, 4004, 0x04);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 30), DNSNAT_TRANSLATED);
	ck_assert(csums_ok(b, n));
	n = mk(b, 6, "10.0.0.1", "100.64.0.5", 443, 4004, 0x10);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 30), DNSNAT_EXPIRED);
	roundtrip(nat, 6, "100.64.0.5", "100.96.0.1", "10.0.0.1", 4005, 4005,
	    T0);
	n = mk(b, 6, "100.64.0.5", "100.96.0.1", 4005, 443, 0x04);
	ck_assert_int_eq(dnsnat_out(nat, b, n, T0 + 40), DNSNAT_TRANSLATED);
	ck_assert_uint_eq(count_after(nat, T0 + 40), 0);
	n = mk(b, 6, "10.0.0.1", "100.64.0.5", 443, 4005, 0x10);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 41), DNSNAT_EXPIRED);
	/* Truncated from the TUN: dropped, whatever it was. */
	n = mk(b, 6, "10.0.0.1", "100.64.0.5", 443, 4005, 0x10);
	ck_assert_int_eq(dnsnat_in(nat, b, 30, T0 + 41), DNSNAT_DROP);
	/* A key never seen: not NAT traffic. */
	n = mk(b, 6, "10.0.0.1", "100.64.0.5", 443, 4999, 0x10);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 41), DNSNAT_PASS);
	dnsnat_free(nat);
}
END_TEST

/* An ICMP error from src to dst quoting q (qn bytes), checksums in full. */
static size_t
mk_err(uint8_t *b, const char *src, const char *dst, uint8_t type,
    uint8_t code, const uint8_t *q, size_t qn)
{
	int v6 = strchr(src, ':') != NULL;
	size_t hl = v6 ? 40 : 20, n = hl + 8 + qn;

	n = mk(b, v6 ? 58 : 1, src, dst, 0, 0, type);
	memset(b + hl, 0, 8);
	b[hl] = type;
	b[hl + 1] = code;
	memcpy(b + hl + 8, q, qn);
	n = hl + 8 + qn;
	if (v6) {
		b[4] = (uint8_t)((n - hl) >> 8), b[5] = (uint8_t)(n - hl);
	} else {
		b[2] = (uint8_t)(n >> 8), b[3] = (uint8_t)n;
	}
	fill(b, n);
	return n;
}

START_TEST(test_icmp_error_v4)
{
	struct dnsnat *nat = setup(1);
	uint8_t b[256], orig[128], want[256], tr[128];
	size_t n, on;

	/* Take 6000 so the next session's outside port differs (6001). */
	roundtrip(nat, 17, "100.64.0.5", "100.96.0.1", "10.0.0.1", 6000,
	    6000, T0);
	on = mk(orig, 17, "100.64.0.5", "100.96.0.3", 6000, 53, 0);
	memcpy(tr, orig, on);
	ck_assert_int_eq(dnsnat_out(nat, tr, on, T0), DNSNAT_TRANSLATED);
	ck_assert_uint_eq(g16(tr + 20), 6001);
	/* Port unreachable from the real host, quoting IP header + 8. */
	n = mk_err(b, "10.0.0.1", "100.64.0.5", 3, 3, tr, 28);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 1), DNSNAT_TRANSLATED);
	mk_err(want, "100.96.0.3", "100.64.0.5", 3, 3, orig, 28);
	ck_assert_mem_eq(b, want, n);
	ck_assert(csums_ok(b, n));
	/* From a router on the way: it too comes from the proxy IP. */
	n = mk_err(b, "192.0.2.9", "100.64.0.5", 11, 0, tr, on);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 2), DNSNAT_TRANSLATED);
	mk_err(want, "100.96.0.3", "100.64.0.5", 11, 0, orig, on);
	ck_assert_mem_eq(b, want, n);
	ck_assert(csums_ok(b, n));
	/* Quoting a packet we never translated: unchanged. */
	n = mk_err(b, "10.0.0.1", "100.64.0.5", 3, 3, orig, 28);
	memcpy(want, b, n);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 3), DNSNAT_PASS);
	ck_assert_mem_eq(b, want, n);
	dnsnat_free(nat);
}
END_TEST

START_TEST(test_icmp_error_v6)
{
	struct dnsnat *nat = setup(1);
	uint8_t b[256], orig[128], want[256], tr[128];
	size_t n, on;

	roundtrip(nat, 6, "fd00:2021:1111::5", "fd00:2021:1111:8000::",
	    "2001:db8::1", 7000, 7000, T0);
	on = mk(orig, 6, "fd00:2021:1111::5", "fd00:2021:1111:8000::2", 7000,
	    443, 0x02);
	memcpy(tr, orig, on);
	ck_assert_int_eq(dnsnat_out(nat, tr, on, T0), DNSNAT_TRANSLATED);
	ck_assert_uint_eq(g16(tr + 40), 7001);
	/* Address unreachable from the real host, the whole packet quoted. */
	n = mk_err(b, "2001:db8::1", "fd00:2021:1111::5", 1, 3, tr, on);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 1), DNSNAT_TRANSLATED);
	mk_err(want, "fd00:2021:1111:8000::2", "fd00:2021:1111::5", 1, 3,
	    orig, on);
	ck_assert_mem_eq(b, want, n);
	ck_assert(csums_ok(b, n));
	/* Packet too big from a router, quoting an echo request. */
	on = mk(orig, 58, "fd00:2021:1111::5", "fd00:2021:1111:8000::3", 7000,
	    1, 128);
	memcpy(tr, orig, on);
	ck_assert_int_eq(dnsnat_out(nat, tr, on, T0), DNSNAT_TRANSLATED);
	n = mk_err(b, "2001:db8:ffff::1", "fd00:2021:1111::5", 2, 0, tr, on);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 1), DNSNAT_TRANSLATED);
	mk_err(want, "fd00:2021:1111:8000::3", "fd00:2021:1111::5", 2, 0,
	    orig, on);
	ck_assert_mem_eq(b, want, n);
	ck_assert(csums_ok(b, n));
	/* Quoting an expired session: expired. */
	ck_assert_uint_eq(count_after(nat, T0 + 1 + DNSNAT_TTL_TCP_MS), 0);
	n = mk_err(b, "2001:db8::1", "fd00:2021:1111::5", 1, 3, tr, on);
	ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 2 + DNSNAT_TTL_TCP_MS),
	    DNSNAT_EXPIRED);
	dnsnat_free(nat);
}
END_TEST

START_TEST(test_reset_on_reuse)
{
	struct dnsnat *nat = setup(1);
	struct dnsnat_stats st;
	struct fz_ip px[4], res[1], r;

	roundtrip(nat, 17, "100.64.0.5", "100.96.0.1", "10.0.0.1", 5000,
	    5000, T0);
	/* Same domain again: a refresh, nothing reset. */
	px[0] = ip("100.96.0.1");
	px[1] = ip("100.96.0.2");
	px[2] = ip("100.96.0.3");
	px[3] = ip("100.96.0.4");
	res[0] = ip("10.0.0.7");
	ck_assert_int_eq(dnsnat_assign(nat, "app.test", px, 4, res, 1), 0);
	ck_assert_uint_eq(dnsnat_sessions(nat), 1);
	ck_assert_int_eq(dnsnat_target(nat, &px[1], &r), 0);
	ck_assert(addr_is(r.a, "10.0.0.7"));
	/* 100.96.0.1 re-used for another domain: the client's state goes. */
	px[1] = ip("100.96.0.9");
	ck_assert_int_eq(dnsnat_assign(nat, "other.test", px, 2, res, 1), 0);
	ck_assert_uint_eq(dnsnat_sessions(nat), 0);
	dnsnat_get_stats(nat, &st);
	ck_assert_uint_eq(st.resets, 1);
	px[2] = ip("fd00:2021:1111:8000::1");
	ck_assert_int_eq(dnsnat_target(nat, &px[2], &r), -ENOENT);
	ck_assert_int_eq(dnsnat_target(nat, &px[1], &r), 0);
	dnsnat_free(nat);
}
END_TEST

START_TEST(test_bounds)
{
	struct dnsnat *nat = setup(1);
	struct dnsnat_stats st;
	uint8_t b[128], frag[128];
	size_t n, n0;

	n0 = n = mk(b, 17, "100.64.0.5", "100.96.0.1", 1, 53, 0);
	memcpy(frag, b, n);
	for (size_t i = 0; i < n; i++) {
		memcpy(b, frag, n);
		ck_assert_int_eq(dnsnat_out(nat, b, i, T0), DNSNAT_DROP);
	}
	frag[6] = 0x20;			/* more fragments */
	ck_assert_int_eq(dnsnat_out(nat, frag, n, T0), DNSNAT_DROP);
	n = mk(b, 1, "100.64.0.5", "100.96.0.1", 1, 1, 3); /* error out */
	ck_assert_int_eq(dnsnat_out(nat, b, n, T0), DNSNAT_DROP);
	/* The session cap. */
	for (unsigned i = 0; i < DNSNAT_MAX_SESSIONS + 3; i++) {
		n = mk(b, 17, "100.64.0.5", "100.96.0.1", (uint16_t)(i + 1),
		    53, 0);
		ck_assert_int_eq(dnsnat_out(nat, b, n, T0),
		    i < DNSNAT_MAX_SESSIONS ? DNSNAT_TRANSLATED : DNSNAT_DROP);
	}
	dnsnat_get_stats(nat, &st);
	ck_assert_uint_eq(st.dropped_full, 3);
	ck_assert_uint_eq(st.dropped_malformed + st.dropped_unsupported,
	    n0 + 2);
	ck_assert_uint_eq(dnsnat_sessions(nat), DNSNAT_MAX_SESSIONS);
	dnsnat_free(nat);
	dnsnat_free(NULL);
}
END_TEST

/* Many sessions, half expired by the sweep: the hash chains stay right. */
START_TEST(test_many)
{
	struct dnsnat *nat = setup(1);
	uint8_t b[128];
	size_t n;

	for (unsigned i = 1; i <= 3000; i++) {
		n = mk(b, 17, "100.64.0.5", i % 3 ? "100.96.0.1" : "100.96.0.3",
		    (uint16_t)i, 53, 0);
		ck_assert_int_eq(dnsnat_out(nat, b, n, T0), DNSNAT_TRANSLATED);
	}
	for (unsigned i = 2; i <= 3000; i += 2) {
		n = mk(b, 17, "10.0.0.1", "100.64.0.5", 53, (uint16_t)i, 0);
		ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 1000),
		    DNSNAT_TRANSLATED);
	}
	ck_assert_uint_eq(count_after(nat, T0 + 60000), 1500);
	for (unsigned i = 1; i <= 3000; i++) {
		n = mk(b, 17, "10.0.0.1", "100.64.0.5", 53, (uint16_t)i, 0);
		if (i % 2 == 0) {
			ck_assert_int_eq(dnsnat_in(nat, b, n, T0 + 60001),
			    DNSNAT_TRANSLATED);
			ck_assert(csums_ok(b, n));
			ck_assert_uint_eq(g16(b + 22), i);
			ck_assert(addr_is(b + 12, i % 3 ? "100.96.0.1" :
			    "100.96.0.3"));
		} else
			ck_assert_int_ne(dnsnat_in(nat, b, n, T0 + 60001),
			    DNSNAT_TRANSLATED);
	}
	ck_assert_uint_eq(count_after(nat, T0 + 60001 + 120000), 0);
	dnsnat_free(nat);
}
END_TEST

static Suite *
dnsnat_suite(void)
{
	Suite *s = suite_create("dnsnat");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_round_robin);
	tcase_add_test(tc, test_translate);
	tcase_add_test(tc, test_port_collision_wrap);
	tcase_add_test(tc, test_ttls);
	tcase_add_test(tc, test_icmp_error_v4);
	tcase_add_test(tc, test_icmp_error_v6);
	tcase_add_test(tc, test_reset_on_reuse);
	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_many);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dnsnat_suite)
