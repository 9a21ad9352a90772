/* SPDX-License-Identifier: ISC */
/*
 * tunneld/dp/filter.c: the header walk, every filter case, the gateway's
 * §5.2 checks and access lifetime (on a fake clock: the table takes now
 * as an argument), the client's §4.3 step 4, and ICMP errors byte-exact.
 * The expected ICMP bytes were built by an independent script and
 * checked with tshark (-o ip.check_checksum:TRUE: IPv4 header checksum
 * "correct", ICMP 3/13 "Communication administratively filtered"
 * checksum "Good", ICMPv6 1/1 "Administratively prohibited" checksum
 * "Good").
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "filter.h"
#include "flowlog.h"

static const uint8_t pkt4[40] = {
	0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0xba, 0x55,
	0x64, 0x40, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x05, 0x9c, 0x40, 0x00, 0x16,
	0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xfa, 0xf0,
	0xab, 0xcd, 0x00, 0x00,
};
static const uint8_t icmp4[56] = {
	0x45, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, 0x14, 0x01, 0x38, 0x7f,
	0x0a, 0x00, 0x00, 0x05, 0x64, 0x40, 0x00, 0x02, 0x03, 0x0d, 0x5c, 0x96,
	0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00,
	0x40, 0x06, 0xba, 0x55, 0x64, 0x40, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x05,
	0x9c, 0x40, 0x00, 0x16, 0x01, 0x02, 0x03, 0x04,
};
static const uint8_t pkt6[52] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x11, 0x40, 0xfd, 0x00, 0x20, 0x21,
	0x11, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x05, 0x14, 0xe9, 0x00, 0x7b, 0x00, 0x0c, 0x00, 0x00,
	0x61, 0x62, 0x63, 0x64,
};
static const uint8_t icmp6[100] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x3c, 0x3a, 0x14, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
	0xfd, 0x00, 0x20, 0x21, 0x11, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0xfb, 0x1e, 0x00, 0x00, 0x00, 0x00,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x11, 0x40, 0xfd, 0x00, 0x20, 0x21,
	0x11, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x05, 0x14, 0xe9, 0x00, 0x7b, 0x00, 0x0c, 0x00, 0x00,
	0x61, 0x62, 0x63, 0x64,
};


/* A packet to dst (v4 or v6 text) from src: proto with ports/ICMP type. */
static size_t
mk(uint8_t *b, const char *src, const char *dst, uint8_t proto,
    uint16_t sport, uint16_t dport)
{
	size_t h;

	memset(b, 0, 80);
	if (strchr(src, ':') == NULL) {
		b[0] = 0x45;
		b[3] = 48;
		b[8] = 64;
		b[9] = proto;
		ck_assert_int_eq(inet_pton(AF_INET, src, b + 12), 1);
		ck_assert_int_eq(inet_pton(AF_INET, dst, b + 16), 1);
		h = 20;
	} else {
		b[0] = 0x60;
		b[5] = 28;
		b[6] = proto;
		b[7] = 64;
		ck_assert_int_eq(inet_pton(AF_INET6, src, b + 8), 1);
		ck_assert_int_eq(inet_pton(AF_INET6, dst, b + 24), 1);
		h = 40;
	}
	b[h] = (uint8_t)(sport >> 8);
	b[h + 1] = (uint8_t)sport;
	b[h + 2] = (uint8_t)(dport >> 8);
	b[h + 3] = (uint8_t)dport;
	return h + 28;
}

static struct flt_pkt
P(const char *src, const char *dst, uint8_t proto, uint16_t sp, uint16_t dp)
{
	static uint8_t b[80];
	struct flt_pkt p;
	size_t n = mk(b, src, dst, proto, sp, dp);

	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	return p;
}

START_TEST(parse_basic)
{
	struct flt_pkt p;
	uint8_t b[80];

	ck_assert_int_eq(flt_parse(pkt4, sizeof(pkt4), &p), 0);
	ck_assert_int_eq(p.family, AF_INET);
	ck_assert_uint_eq(p.len, 40);
	ck_assert_uint_eq(p.hlen, 20);
	ck_assert_uint_eq(p.proto, 6);
	ck_assert(p.has_ports && !p.frag);
	ck_assert_uint_eq(p.sport, 40000);
	ck_assert_uint_eq(p.dport, 22);
	ck_assert_int_eq(flt_parse(pkt6, sizeof(pkt6), &p), 0);
	ck_assert_int_eq(p.family, AF_INET6);
	ck_assert_uint_eq(p.proto, 17);
	ck_assert_uint_eq(p.dport, 123);
	ck_assert_uint_eq(p.len, 52);
	/* trailing bytes past the IP length are not the packet's */
	memcpy(b, pkt4, sizeof(pkt4));
	ck_assert_int_eq(flt_parse(b, sizeof(b), &p), 0);
	ck_assert_uint_eq(p.len, 40);
}
END_TEST

START_TEST(parse_malformed)
{
	struct flt_pkt p;
	uint8_t b[80];
	size_t n;

	memset(&p, 0xab, sizeof(p));
	ck_assert_int_eq(flt_parse(pkt4, 0, &p), -EINVAL);
	ck_assert_int_eq(flt_parse(pkt4, 19, &p), -EINVAL);
	ck_assert_int_eq(flt_parse(pkt4, 39, &p), -EINVAL); /* tot > len */
	ck_assert_int_eq(flt_parse(pkt6, 39, &p), -EINVAL);
	ck_assert_int_eq(flt_parse(pkt6, 51, &p), -EINVAL);
	memcpy(b, pkt4, 40);
	b[0] = 0x44;					/* IHL 16 */
	ck_assert_int_eq(flt_parse(b, 40, &p), -EINVAL);
	b[0] = 0x4f;					/* IHL 60 > 40 */
	ck_assert_int_eq(flt_parse(b, 40, &p), -EINVAL);
	b[0] = 0x55;
	ck_assert_int_eq(flt_parse(b, 40, &p), -EINVAL);
	/* a TCP header cut before its ports' 8 bytes */
	memcpy(b, pkt4, 40);
	b[3] = 27;
	ck_assert_int_eq(flt_parse(b, 40, &p), -EINVAL);
	b[3] = 28;
	ck_assert_int_eq(flt_parse(b, 40, &p), 0);
	/* ICMP shorter than type+code+checksum */
	n = mk(b, "100.64.0.2", "10.0.0.1", 1, 0x0800, 0);
	b[3] = 23;
	ck_assert_int_eq(flt_parse(b, n, &p), -EINVAL);
	/* nothing written on failure */
	ck_assert_uint_eq(p.len, 28);
}
END_TEST

START_TEST(parse_fragments)
{
	struct flt_pkt p;
	uint8_t b[80];
	size_t n;

	/* IPv4 first fragment (MF): ports present */
	n = mk(b, "100.64.0.2", "10.0.0.1", 17, 1, 53);
	b[6] = 0x20;
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert(p.frag && !p.later_frag && p.has_ports);
	/* later fragment: no L4 */
	b[6] = 0x00;
	b[7] = 0x10;
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert(p.frag && p.later_frag && !p.has_ports);
	/* RFC 1858: TCP at offset 1 */
	n = mk(b, "100.64.0.2", "10.0.0.1", 6, 1, 80);
	b[7] = 0x01;
	ck_assert_int_eq(flt_parse(b, n, &p), -EINVAL);
	/* a tiny first fragment */
	n = mk(b, "100.64.0.2", "10.0.0.1", 6, 1, 80);
	b[6] = 0x20;
	b[3] = 24;
	ck_assert_int_eq(flt_parse(b, n, &p), -EINVAL);

	/* IPv6: hop-by-hop, destination options, fragment (first), UDP */
	memset(b, 0, sizeof(b));
	b[0] = 0x60;
	b[5] = 8 + 8 + 8 + 8;
	b[6] = 0;					/* hop-by-hop */
	inet_pton(AF_INET6, "fd00:2021:1111::2", b + 8);
	inet_pton(AF_INET6, "2001:db8::1", b + 24);
	b[40] = 60;					/* -> dest opts */
	b[48] = 44;					/* -> fragment */
	b[56] = 17;					/* -> UDP */
	b[59] = 0x01;					/* M, offset 0 */
	b[66] = 0x01;					/* dport 443 */
	b[67] = 0xbb;
	ck_assert_int_eq(flt_parse(b, 72, &p), 0);
	ck_assert(p.frag && !p.later_frag && p.has_ports);
	ck_assert_uint_eq(p.proto, 17);
	ck_assert_uint_eq(p.hlen, 64);
	ck_assert_uint_eq(p.dport, 443);
	/* later fragment */
	b[58] = 0x00;
	b[59] = 0x08;
	ck_assert_int_eq(flt_parse(b, 72, &p), 0);
	ck_assert(p.later_frag && !p.has_ports);
	ck_assert_uint_eq(p.proto, 17);
	/* hop-by-hop anywhere but first */
	b[40] = 0;
	ck_assert_int_eq(flt_parse(b, 72, &p), -EINVAL);
	/* an extension header running past the payload */
	b[40] = 60;
	b[49] = 9;
	ck_assert_int_eq(flt_parse(b, 72, &p), -EINVAL);
	/* two fragment headers */
	b[49] = 0;
	b[48] = 44;
	b[56] = 44;
	b[58] = 0;
	b[59] = 0;
	ck_assert_int_eq(flt_parse(b, 72, &p), -EINVAL);
}
END_TEST

START_TEST(rules)
{
	static const struct flt_rule tcp80[] = { { FLT_TCP, 80, 80 } };
	static const struct flt_rule mix[] = { { FLT_TCP, 1000, 2000 },
	    { FLT_UDP, 53, 53 }, { FLT_ICMP, 0, 0 } };
	struct flt_pkt p;
	uint8_t b[80];
	size_t n;

	p = P("100.64.0.2", "10.0.0.1", 6, 1, 80);
	ck_assert(flt_rules_allow(NULL, 0, &p));	/* empty = all */
	ck_assert(flt_rules_allow(tcp80, 1, &p));
	p = P("100.64.0.2", "10.0.0.1", 6, 1, 81);
	ck_assert(!flt_rules_allow(tcp80, 1, &p));
	p = P("100.64.0.2", "10.0.0.1", 17, 1, 80);	/* udp, not tcp */
	ck_assert(!flt_rules_allow(tcp80, 1, &p));
	p = P("100.64.0.2", "10.0.0.1", 1, 0x0800, 0);	/* echo */
	ck_assert(!flt_rules_allow(tcp80, 1, &p));
	ck_assert(flt_rules_allow(mix, 3, &p));
	p = P("100.64.0.2", "10.0.0.1", 6, 1, 999);
	ck_assert(!flt_rules_allow(mix, 3, &p));
	p = P("100.64.0.2", "10.0.0.1", 6, 1, 1000);
	ck_assert(flt_rules_allow(mix, 3, &p));
	p = P("100.64.0.2", "10.0.0.1", 6, 1, 2000);
	ck_assert(flt_rules_allow(mix, 3, &p));
	p = P("100.64.0.2", "10.0.0.1", 6, 1, 2001);
	ck_assert(!flt_rules_allow(mix, 3, &p));
	p = P("100.64.0.2", "10.0.0.1", 17, 1, 53);
	ck_assert(flt_rules_allow(mix, 3, &p));
	p = P("100.64.0.2", "10.0.0.1", 17, 1, 54);
	ck_assert(!flt_rules_allow(mix, 3, &p));
	/* ICMPv6 is icmp in v6; ICMPv4 inside IPv6 is not */
	p = P("fd00:2021:1111::2", "2001:db8::1", 58, 0x8000, 0);
	ck_assert(flt_rules_allow(mix, 3, &p));
	p = P("fd00:2021:1111::2", "2001:db8::1", 1, 0x0800, 0);
	ck_assert(!flt_rules_allow(mix, 3, &p));
	/* other protocols pass only an empty list */
	p = P("100.64.0.2", "10.0.0.1", 47, 0, 0);
	ck_assert(!flt_rules_allow(mix, 3, &p));
	ck_assert(flt_rules_allow(mix, 0, &p));
	/* a later fragment cannot be checked: only an empty list */
	n = mk(b, "100.64.0.2", "10.0.0.1", 6, 1, 80);
	b[7] = 0x10;
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert(!flt_rules_allow(tcp80, 1, &p));
	ck_assert(flt_rules_allow(tcp80, 0, &p));
}
END_TEST

START_TEST(rules_text)
{
	struct flt_rule r[4];
	char s[64];

	ck_assert_int_eq(flt_rules_parse("", r, 4), 0);
	ck_assert_int_eq(flt_rules_parse("tcp 80-80, udp 53-60, icmp", r,
	    4), 3);
	ck_assert_int_eq(r[0].proto, FLT_TCP);
	ck_assert_uint_eq(r[1].lo, 53);
	ck_assert_uint_eq(r[1].hi, 60);
	ck_assert_int_eq(r[2].proto, FLT_ICMP);
	ck_assert_int_eq(flt_rules_fmt(r, 3, s, sizeof(s)), 0);
	ck_assert_str_eq(s, "tcp 80-80, udp 53-60, icmp");
	ck_assert_int_eq(flt_rules_fmt(r, 3, s, 10), -ENOSPC);
	ck_assert_int_eq(flt_rules_parse("tcp 0-65535", r, 4), 1);
	ck_assert_uint_eq(r[0].hi, 65535);
	ck_assert_int_eq(flt_rules_parse("tcp 0-65536", r, 4), -EINVAL);
	ck_assert_int_eq(flt_rules_parse("tcp 90-80", r, 4), -EINVAL);
	ck_assert_int_eq(flt_rules_parse("tcp 80", r, 4), -EINVAL);
	ck_assert_int_eq(flt_rules_parse("sctp 1-2", r, 4), -EINVAL);
	ck_assert_int_eq(flt_rules_parse("icmp,icmp", r, 4), -EINVAL);
	ck_assert_int_eq(flt_rules_parse("icmp, ", r, 4), -EINVAL);
	ck_assert_int_eq(flt_rules_parse("icmp, icmp", r, 1), -ENOSPC);
}
END_TEST

static bool
cls(bool (*f)(int, const uint8_t *), const char *s)
{
	uint8_t a[16];
	int fam = strchr(s, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(fam, s, a), 1);
	return f(fam, a);
}

START_TEST(classes)
{
	ck_assert(cls(flt_is_tunnel_ip, "100.64.0.1"));
	ck_assert(cls(flt_is_tunnel_ip, "100.95.255.255"));
	ck_assert(!cls(flt_is_tunnel_ip, "100.96.0.1"));
	ck_assert(cls(flt_is_tunnel_ip, "fd00:2021:1111::1f:ffff"));
	ck_assert(!cls(flt_is_tunnel_ip, "fd00:2021:1111::20:0"));
	ck_assert(cls(flt_is_proxy_ip, "100.96.0.1"));
	ck_assert(cls(flt_is_proxy_ip, "100.127.255.255"));
	ck_assert(!cls(flt_is_proxy_ip, "100.128.0.0"));
	ck_assert(cls(flt_is_proxy_ip, "fd00:2021:1111:8000::5"));
	ck_assert(cls(flt_is_multicast, "224.0.0.1"));
	ck_assert(cls(flt_is_multicast, "ff02::1"));
	ck_assert(!cls(flt_is_multicast, "8.8.8.8"));
	static const char *special[] = { "10.1.2.3", "172.16.0.1",
	    "172.31.255.255", "192.168.1.1", "127.0.0.1", "169.254.1.1",
	    "100.64.0.1", "100.127.0.1", "224.0.0.5", "240.0.0.1",
	    "255.255.255.255", "0.0.0.0", "::1", "::", "::ffff:8.8.8.8",
	    "fc00::1", "fd12::1", "fe80::1", "ff05::2" };
	static const char *public[] = { "8.8.8.8", "172.32.0.1",
	    "100.128.0.1", "192.169.0.1", "2001:4860::8888", "fec0::1" };
	for (size_t i = 0; i < sizeof(special) / sizeof(*special); i++)
		ck_assert_msg(cls(flt_is_special, special[i]), "%s",
		    special[i]);
	for (size_t i = 0; i < sizeof(public) / sizeof(*public); i++)
		ck_assert_msg(!cls(flt_is_special, public[i]), "%s",
		    public[i]);
}
END_TEST

#define C4	"100.64.0.2"
#define C6	"fd00:2021:1111::2"
static const struct flt_rule ssh[] = { { FLT_TCP, 22, 22 } };
static const struct flt_rule web[] = { { FLT_TCP, 80, 80 },
    { FLT_TCP, 443, 443 } };

static struct flt_table *
gw(void)
{
	struct flt_table *t = flt_table_new();

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(flt_table_set_self(t, "100.64.0.1",
	    "fd00:2021:1111::1"), 0);
	ck_assert_int_eq(flt_access_set(t, "c1", C4, C6, "ssh",
	    FLT_RES_CIDR, "10.0.0.0/8", ssh, 1, 1000), 0);
	ck_assert_int_eq(flt_access_set(t, "c1", C4, C6, "web",
	    FLT_RES_CIDR, "10.1.0.0/16", web, 2, 2000), 0);
	ck_assert_int_eq(flt_access_set(t, "c1", C4, C6, "v6",
	    FLT_RES_CIDR, "2001:db8::/32", NULL, 0, 0), 0);
	ck_assert_int_eq(flt_access_set(t, "c2", "100.64.0.3", "", "web",
	    FLT_RES_CIDR, "10.1.0.0/16", web, 2, 0), 0);
	return t;
}

static enum flt_verdict
chk(const struct flt_table *t, uint64_t now, const char *s, const char *d,
    uint8_t proto, uint16_t dport, char *rid)
{
	/* for ICMP, dport is type << 8 | code */
	struct flt_pkt p = proto == 1 || proto == 58 ?
	    P(s, d, proto, dport, 0) : P(s, d, proto, 40000, dport);

	return flt_check(t, &p, now, rid);
}

START_TEST(gateway_checks)
{
	struct flt_table *t = gw();
	char rid[FLT_ID_MAX + 1];

	/* allowed by the filter */
	ck_assert_int_eq(chk(t, 10, C4, "10.2.3.4", 6, 22, rid), FLT_PASS);
	ck_assert_str_eq(rid, "ssh");
	/* a port outside it */
	ck_assert_int_eq(chk(t, 10, C4, "10.2.3.4", 6, 23, rid),
	    FLT_PROHIBITED);
	ck_assert_str_eq(rid, "ssh");
	ck_assert_int_eq(chk(t, 10, C4, "10.2.3.4", 17, 22, NULL),
	    FLT_PROHIBITED);
	/* nested prefixes: the one whose filter admits wins, then longest */
	ck_assert_int_eq(chk(t, 10, C4, "10.1.0.9", 6, 22, rid), FLT_PASS);
	ck_assert_str_eq(rid, "ssh");
	ck_assert_int_eq(chk(t, 10, C4, "10.1.0.9", 6, 443, rid), FLT_PASS);
	ck_assert_str_eq(rid, "web");
	ck_assert_int_eq(chk(t, 10, C4, "10.1.0.9", 6, 25, rid),
	    FLT_PROHIBITED);
	ck_assert_str_eq(rid, "web");		/* the longest refused */
	/* no filters: all, ICMP included */
	ck_assert_int_eq(chk(t, 10, C6, "2001:db8::7", 17, 9, NULL),
	    FLT_PASS);
	ck_assert_int_eq(chk(t, 10, C6, "2001:db8::7", 58, 0, NULL),
	    FLT_DROP);	/* type 0 < 128: an ICMPv6 error from the client */
	ck_assert_int_eq(chk(t, 10, C6, "2001:db8::7", 58, 0x8000, NULL),
	    FLT_PASS);
	/* no resource: prohibited (v4 and v6) */
	ck_assert_int_eq(chk(t, 10, C4, "192.0.2.1", 6, 22, rid),
	    FLT_PROHIBITED);
	ck_assert_str_eq(rid, "");
	ck_assert_int_eq(chk(t, 10, C6, "2001:db9::1", 6, 22, NULL),
	    FLT_PROHIBITED);
	/* the other client's resource set is its own */
	ck_assert_int_eq(chk(t, 10, "100.64.0.3", "10.2.3.4", 6, 22, NULL),
	    FLT_PROHIBITED);
	ck_assert_int_eq(chk(t, 10, "100.64.0.3", "10.1.2.3", 6, 80, NULL),
	    FLT_PASS);
	/* anti-spoofing: a source that is no client's tunnel address */
	ck_assert_int_eq(chk(t, 10, "100.64.0.9", "10.2.3.4", 6, 22, NULL),
	    FLT_DROP);
	ck_assert_int_eq(chk(t, 10, "10.9.9.9", "10.2.3.4", 6, 22, NULL),
	    FLT_DROP);
	ck_assert_int_eq(chk(t, 10, "fd00:2021:1111::3", "2001:db8::1", 17,
	    1, NULL), FLT_DROP);		/* c2 has no IPv6 */
	/* no hairpin; the gateway itself always */
	ck_assert_int_eq(chk(t, 10, C4, "100.64.0.3", 6, 22, NULL),
	    FLT_DROP);
	ck_assert_int_eq(chk(t, 10, C6, "fd00:2021:1111::3", 6, 22, NULL),
	    FLT_DROP);
	ck_assert_int_eq(chk(t, 10, C4, "100.64.0.1", 17, 53535, NULL),
	    FLT_PASS);
	ck_assert_int_eq(chk(t, 10, C6, "fd00:2021:1111::1", 17, 53535,
	    NULL), FLT_PASS);
	/* multicast, ICMP errors from the client */
	ck_assert_int_eq(chk(t, 10, C4, "224.0.0.251", 17, 5353, NULL),
	    FLT_DROP);
	ck_assert_int_eq(chk(t, 10, C4, "10.2.3.4", 1, 0x030d, NULL),
	    FLT_DROP);
	ck_assert_int_eq(chk(t, 10, C4, "10.2.3.4", 1, 0x0800, NULL),
	    FLT_PROHIBITED);			/* echo, ssh has no icmp */
	/* the p2p control protocol goes on to its handler */
	ck_assert_int_eq(chk(t, 10, "::", "::", 255, 0, NULL), FLT_PASS);
	ck_assert_int_eq(chk(t, 10, "::", "::1", 255, 0, NULL), FLT_DROP);
	/* proxy IPs that no DNS access holds */
	ck_assert_int_eq(chk(t, 10, C4, "100.96.0.1", 6, 22, NULL),
	    FLT_PROHIBITED);
	flt_table_free(t);
}
END_TEST

START_TEST(gateway_internet_dns)
{
	struct flt_table *t = gw();
	struct fz_cidr c;
	char rid[FLT_ID_MAX + 1];

	ck_assert_int_eq(flt_access_set(t, "c1", C4, C6, "inet",
	    FLT_RES_INTERNET, NULL, NULL, 0, 0), 0);
	ck_assert_int_eq(chk(t, 10, C4, "8.8.8.8", 17, 53, rid), FLT_PASS);
	ck_assert_str_eq(rid, "inet");
	ck_assert_int_eq(chk(t, 10, C6, "2001:4860::8888", 6, 443, NULL),
	    FLT_PASS);
	/* CIDR resources still win with their filters */
	ck_assert_int_eq(chk(t, 10, C4, "10.2.3.4", 6, 23, rid),
	    FLT_PROHIBITED);
	ck_assert_str_eq(rid, "ssh");
	/* private/special ranges refused: unreachable */
	ck_assert_int_eq(chk(t, 10, C4, "192.168.1.1", 6, 80, NULL),
	    FLT_UNREACHABLE);
	ck_assert_int_eq(chk(t, 10, C4, "127.0.0.1", 6, 80, NULL),
	    FLT_UNREACHABLE);
	ck_assert_int_eq(chk(t, 10, C6, "fe80::1", 6, 80, NULL),
	    FLT_UNREACHABLE);
	ck_assert_int_eq(chk(t, 10, C6, "::ffff:8.8.8.8", 6, 80, NULL),
	    FLT_UNREACHABLE);
	/* proxy IPs never go to the Internet Resource */
	ck_assert_int_eq(chk(t, 10, C4, "100.96.0.7", 6, 80, NULL),
	    FLT_PROHIBITED);
	/* a DNS resource's proxy IPs, one without a target of its family */
	ck_assert_int_eq(flt_access_set(t, "c1", C4, C6, "dns",
	    FLT_RES_DNS, NULL, web, 2, 0), 0);
	/* before its proxy IPs are known: the proxy ranges, its filters */
	ck_assert_int_eq(chk(t, 10, C4, "100.96.3.3", 6, 443, rid), FLT_PASS);
	ck_assert_str_eq(rid, "dns");
	ck_assert_int_eq(chk(t, 10, C6, "fd00:2021:1111:8000::9", 6, 22,
	    NULL), FLT_PROHIBITED);
	ck_assert_int_eq(chk(t, 10, C4, "100.95.0.1", 6, 443, NULL),
	    FLT_DROP);			/* a tunnel address: no hairpin */
	ck_assert_int_eq(cidr_parse("100.96.0.7", false, &c), 0);
	ck_assert_int_eq(flt_access_add_prefix(t, "c1", "dns", &c, true), 0);
	ck_assert_int_eq(cidr_parse("fd00:2021:1111:8000::7", false, &c), 0);
	ck_assert_int_eq(flt_access_add_prefix(t, "c1", "dns", &c, false),
	    0);
	ck_assert_int_eq(flt_access_add_prefix(t, "c9", "dns", &c, false),
	    -ENOENT);
	ck_assert_int_eq(chk(t, 10, C4, "100.96.0.7", 6, 80, rid), FLT_PASS);
	ck_assert_str_eq(rid, "dns");
	ck_assert_int_eq(chk(t, 10, C4, "100.96.3.3", 6, 443, NULL),
	    FLT_PROHIBITED);		/* the provisional ranges went */
	ck_assert_int_eq(chk(t, 10, C4, "100.96.0.7", 6, 22, NULL),
	    FLT_PROHIBITED);
	ck_assert_int_eq(chk(t, 10, C6, "fd00:2021:1111:8000::7", 6, 80,
	    NULL), FLT_UNREACHABLE);
	/* re-granting a DNS access keeps its prefixes */
	ck_assert_int_eq(flt_access_set(t, "c1", C4, C6, "dns",
	    FLT_RES_DNS, NULL, ssh, 1, 0), 0);
	ck_assert_int_eq(chk(t, 10, C4, "100.96.0.7", 6, 22, NULL),
	    FLT_PASS);
	flt_table_free(t);
}
END_TEST

static enum flt_verdict
ret(const struct flt_table *t, uint64_t now, const char *s, const char *d,
    uint8_t proto, uint16_t sport)
{
	struct flt_pkt p = P(s, d, proto, sport, 40000);

	return flt_check_return(t, &p, now);
}

START_TEST(gateway_return)
{
	struct flt_table *t = gw();
	struct fz_cidr c;

	/* from an authorized resource to its client */
	ck_assert_int_eq(ret(t, 10, "10.2.3.4", C4, 6, 22), FLT_PASS);
	ck_assert_int_eq(ret(t, 10, "2001:db8::9", C6, 17, 53), FLT_PASS);
	/* filters are for the client's side: any source port returns */
	ck_assert_int_eq(ret(t, 10, "10.2.3.4", C4, 6, 9999), FLT_PASS);
	/* not the client's resource, another client's, a tunnel address */
	ck_assert_int_eq(ret(t, 10, "192.0.2.1", C4, 6, 80), FLT_DROP);
	ck_assert_int_eq(ret(t, 10, "10.2.3.4", "100.64.0.3", 6, 22),
	    FLT_DROP);			/* c2 has only 10.1/16 */
	ck_assert_int_eq(ret(t, 10, "10.1.3.4", "100.64.0.3", 6, 80),
	    FLT_PASS);
	ck_assert_int_eq(ret(t, 10, "100.64.0.3", C4, 6, 80), FLT_DROP);
	/* an unknown destination */
	ck_assert_int_eq(ret(t, 10, "10.2.3.4", "100.64.0.9", 6, 22),
	    FLT_DROP);
	/* the gateway itself; ICMP errors from outside the tunnel ranges */
	ck_assert_int_eq(ret(t, 10, "100.64.0.1", C4, 17, 53535), FLT_PASS);
	ck_assert_int_eq(ret(t, 10, "198.51.100.1", C4, 1, 0x0b00),
	    FLT_PASS);
	ck_assert_int_eq(ret(t, 10, "198.51.100.1", C4, 1, 0x0000),
	    FLT_DROP);			/* an echo reply is no error */
	/* expired: nothing returns */
	ck_assert_int_eq(ret(t, 1000, "10.2.3.4", C4, 6, 22), FLT_DROP);
	/* the Internet Resource: public sources; a DNS access's prefixes */
	ck_assert_int_eq(flt_access_set(t, "c1", C4, C6, "inet",
	    FLT_RES_INTERNET, NULL, NULL, 0, 0), 0);
	ck_assert_int_eq(ret(t, 10, "8.8.8.8", C4, 17, 53), FLT_PASS);
	ck_assert_int_eq(ret(t, 10, "192.168.0.1", C4, 17, 53), FLT_DROP);
	ck_assert_int_eq(flt_access_set(t, "c1", C4, C6, "dns",
	    FLT_RES_DNS, NULL, NULL, 0, 0), 0);
	ck_assert_int_eq(cidr_parse("172.16.5.5", false, &c), 0);
	ck_assert_int_eq(flt_access_add_prefix(t, "c1", "dns", &c, true), 0);
	ck_assert_int_eq(ret(t, 10, "172.16.5.5", C4, 6, 443), FLT_PASS);
	/* the p2p control protocol */
	ck_assert_int_eq(ret(t, 10, "::", "::", 255, 0), FLT_PASS);
	flt_table_free(t);
}
END_TEST

/* Many clients: the index by source address follows every change. */
START_TEST(many_clients)
{
	struct flt_table *t = flt_table_new();
	char id[16], v4[32], v6[48], dst[32];
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		snprintf(v4, sizeof(v4), "100.64.%d.%d", i / 250, i % 250 + 2);
		snprintf(v6, sizeof(v6), "fd00:2021:1111::%x", i + 2);
		snprintf(dst, sizeof(dst), "10.%d.%d.0/24", i / 250, i % 250);
		ck_assert_int_eq(flt_access_set(t, id, v4, i % 3 ? v6 : "",
		    "r", FLT_RES_CIDR, dst, NULL, 0, 0), 0);
	}
	ck_assert_uint_eq(flt_nclients(t), 1000);
	for (i = 0; i < 1000; i += 7) {
		snprintf(v4, sizeof(v4), "100.64.%d.%d", i / 250, i % 250 + 2);
		snprintf(dst, sizeof(dst), "10.%d.%d.9", i / 250, i % 250);
		ck_assert_int_eq(chk(t, 1, v4, dst, 6, 80, NULL), FLT_PASS);
		snprintf(dst, sizeof(dst), "10.%d.%d.9", i / 250,
		    (i + 1) % 250);
		ck_assert_int_eq(chk(t, 1, v4, dst, 6, 80, NULL),
		    FLT_PROHIBITED);
		snprintf(v6, sizeof(v6), "fd00:2021:1111::%x", i + 2);
		ck_assert_int_eq(chk(t, 1, v6, "2001:db8::1", 6, 80, NULL),
		    i % 3 ? FLT_PROHIBITED : FLT_DROP);
	}
	/* every other one goes: the rest are still found */
	for (i = 0; i < 1000; i += 2) {
		snprintf(id, sizeof(id), "c%d", i);
		ck_assert_int_eq(flt_access_del(t, id, "r"), 0);
	}
	for (i = 0; i < 1000; i += 5) {
		snprintf(v4, sizeof(v4), "100.64.%d.%d", i / 250, i % 250 + 2);
		snprintf(dst, sizeof(dst), "10.%d.%d.9", i / 250, i % 250);
		ck_assert_int_eq(chk(t, 1, v4, dst, 6, 80, NULL),
		    i % 2 ? FLT_PASS : FLT_DROP);
	}
	/* a client's new addresses replace its old ones */
	ck_assert_int_eq(flt_access_set(t, "c1", "100.64.99.1", "", "r",
	    FLT_RES_CIDR, "10.0.1.0/24", NULL, 0, 0), 0);
	ck_assert_int_eq(chk(t, 1, "100.64.0.3", "10.0.1.1", 6, 80, NULL),
	    FLT_DROP);
	ck_assert_int_eq(chk(t, 1, "100.64.99.1", "10.0.1.1", 6, 80, NULL),
	    FLT_PASS);
	flt_table_free(t);
}
END_TEST

/* RCU updates change a clone: the original stays as it was. */
START_TEST(clone)
{
	struct flt_table *t = gw(), *c;
	struct fz_cidr x;

	ck_assert_int_eq(cidr_parse("100.96.0.1", false, &x), 0);
	ck_assert_int_eq(flt_access_set(t, "c1", C4, C6, "dns", FLT_RES_DNS,
	    NULL, web, 2, 0), 0);
	ck_assert_int_eq(flt_access_add_prefix(t, "c1", "dns", &x, true), 0);
	c = flt_table_clone(t);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(flt_nclients(c), 2);
	ck_assert_uint_eq(flt_naccesses(c), 5);
	ck_assert_int_eq(chk(c, 10, C4, "10.2.3.4", 6, 22, NULL), FLT_PASS);
	ck_assert_int_eq(chk(c, 10, C4, "100.96.0.1", 6, 443, NULL),
	    FLT_PASS);
	ck_assert_int_eq(chk(c, 10, "100.64.0.3", "10.1.0.1", 6, 80, NULL),
	    FLT_PASS);
	ck_assert_int_eq(flt_access_del(c, "c1", "ssh"), 0);
	ck_assert_uint_eq(flt_resource_update(c, "web", ssh, 1), 2);
	ck_assert_int_eq(chk(c, 10, C4, "10.2.3.4", 6, 22, NULL),
	    FLT_PROHIBITED);
	ck_assert_int_eq(chk(t, 10, C4, "10.2.3.4", 6, 22, NULL), FLT_PASS);
	ck_assert_int_eq(chk(t, 10, "100.64.0.3", "10.1.0.1", 6, 80, NULL),
	    FLT_PASS);
	ck_assert_int_eq(chk(c, 10, "100.64.0.3", "10.1.0.1", 6, 80, NULL),
	    FLT_PROHIBITED);
	flt_table_free(t);
	ck_assert_int_eq(chk(c, 10, C4, "100.96.0.1", 6, 443, NULL),
	    FLT_PASS);
	flt_table_free(c);
	t = flt_table_new();
	c = flt_table_clone(t);
	ck_assert_uint_eq(flt_nclients(c), 0);
	flt_table_free(t);
	flt_table_free(c);
}
END_TEST

static int ngone;
static char gone_id[FLT_ID_MAX + 1];

static void
gone(const char *id, void *arg)
{
	(void)arg;
	ngone++;
	snprintf(gone_id, sizeof(gone_id), "%s", id);
}

START_TEST(lifetime)
{
	struct flt_table *t = gw();
	static const struct flt_rule icmp[] = { { FLT_ICMP, 0, 0 } };

	ck_assert_uint_eq(flt_nclients(t), 2);
	ck_assert_uint_eq(flt_naccesses(t), 4);
	ck_assert_uint_eq(flt_next_expiry(t), 1000);
	/* expired accesses refuse at once, before flt_expire runs */
	ck_assert_int_eq(chk(t, 999, C4, "10.2.3.4", 6, 22, NULL), FLT_PASS);
	ck_assert_int_eq(chk(t, 1000, C4, "10.2.3.4", 6, 22, NULL),
	    FLT_PROHIBITED);
	ngone = 0;
	ck_assert_uint_eq(flt_expire(t, 999, gone, NULL), 0);
	ck_assert_uint_eq(flt_expire(t, 1000, gone, NULL), 1);
	ck_assert_int_eq(ngone, 0);
	ck_assert_uint_eq(flt_next_expiry(t), 2000);
	/* resource_updated: filters replaced in place for every client */
	ck_assert_uint_eq(flt_resource_update(t, "web", icmp, 1), 2);
	ck_assert_int_eq(chk(t, 10, "100.64.0.3", "10.1.2.3", 6, 80, NULL),
	    FLT_PROHIBITED);
	ck_assert_int_eq(chk(t, 10, "100.64.0.3", "10.1.2.3", 1, 0x0800,
	    NULL), FLT_PASS);
	/* reject_access: gone now; the last one takes the client along */
	ck_assert_int_eq(flt_access_del(t, "c2", "nope"), -ENOENT);
	ck_assert_int_eq(flt_access_del(t, "c2", "web"), 0);
	ck_assert_uint_eq(flt_nclients(t), 1);
	ck_assert_int_eq(chk(t, 10, "100.64.0.3", "10.1.2.3", 1, 0x0800,
	    NULL), FLT_DROP);
	/* init's authorizations: keep web (new expiry), drop v6 */
	flt_sync_begin(t);
	ck_assert_int_eq(flt_sync_keep(t, "c1", "web", 5000), 0);
	ck_assert_int_eq(flt_sync_keep(t, "c1", "gone", 5000), -ENOENT);
	ck_assert_uint_eq(flt_sync_end(t), 1);
	ck_assert_uint_eq(flt_naccesses(t), 1);
	ck_assert_uint_eq(flt_next_expiry(t), 5000);
	ck_assert_int_eq(chk(t, 10, C6, "2001:db8::7", 17, 9, NULL),
	    FLT_PROHIBITED);
	/* the client's last access expires: goodbye */
	ck_assert_uint_eq(flt_expire(t, 5000, gone, NULL), 1);
	ck_assert_int_eq(ngone, 1);
	ck_assert_str_eq(gone_id, "c1");
	ck_assert_uint_eq(flt_nclients(t), 0);
	ck_assert_uint_eq(flt_next_expiry(t), 0);
	/* sync to nothing drops every client */
	t = (flt_table_free(t), gw());
	flt_sync_begin(t);
	ck_assert_uint_eq(flt_sync_end(t), 4);
	ck_assert_uint_eq(flt_nclients(t), 0);
	flt_table_free(t);
}
END_TEST

START_TEST(access_args)
{
	struct flt_table *t = flt_table_new();
	static const struct flt_rule bad[] = { { FLT_TCP, 9, 8 } };

	ck_assert_int_eq(flt_access_set(t, "c", "fd00::1", "", "r",
	    FLT_RES_CIDR, "10.0.0.0/8", NULL, 0, 0), -EINVAL);
	ck_assert_int_eq(flt_access_set(t, "c", "100.64.0.0/10", "", "r",
	    FLT_RES_CIDR, "10.0.0.0/8", NULL, 0, 0), -EINVAL);
	ck_assert_int_eq(flt_access_set(t, "", C4, "", "r", FLT_RES_CIDR,
	    "10.0.0.0/8", NULL, 0, 0), -EINVAL);
	ck_assert_int_eq(flt_access_set(t, "c", C4, "", "r", FLT_RES_CIDR,
	    "ten", NULL, 0, 0), -EINVAL);
	ck_assert_int_eq(flt_access_set(t, "c", C4, "", "r", FLT_RES_CIDR,
	    "10.0.0.0/8", bad, 1, 0), -EINVAL);
	ck_assert_uint_eq(flt_nclients(t), 0);
	/* no address: no packet is its (the client's own pseudo-client) */
	ck_assert_int_eq(flt_access_set(t, "c", "", "", "r", FLT_RES_CIDR,
	    "10.0.0.0/8", NULL, 0, 0), 0);
	ck_assert_int_eq(chk(t, 1, C4, "10.0.0.1", 6, 1, NULL), FLT_DROP);
	ck_assert_int_eq(flt_table_set_self(t, "x", ""), -EINVAL);
	flt_table_free(t);
	flt_table_free(NULL);
}
END_TEST

START_TEST(client_side)
{
	struct flt_table *t = flt_table_new();
	struct flt_pkt p;

	/* the client's own resources, as one pseudo-client */
	ck_assert_int_eq(flt_access_set(t, "self", C4, C6, "ssh",
	    FLT_RES_CIDR, "10.0.0.0/8", ssh, 1, 0), 0);
	ck_assert_int_eq(flt_access_set(t, "self", C4, C6, "all",
	    FLT_RES_CIDR, "2001:db8::/32", NULL, 0, 0), 0);
	p = P(C4, "10.1.1.1", 6, 5000, 22);
	ck_assert_int_eq(flt_client_check(t, "self", &p), FLT_PASS);
	p = P(C4, "10.1.1.1", 6, 5000, 80);
	ck_assert_int_eq(flt_client_check(t, "self", &p), FLT_PROHIBITED);
	p = P(C4, "10.1.1.1", 1, 0x0800, 0);
	ck_assert_int_eq(flt_client_check(t, "self", &p), FLT_PROHIBITED);
	p = P(C6, "2001:db8::1", 6, 5000, 80);
	ck_assert_int_eq(flt_client_check(t, "self", &p), FLT_PASS);
	/* no resource: routing decides (dropped as Firezone does) */
	p = P(C4, "192.0.2.1", 6, 5000, 80);
	ck_assert_int_eq(flt_client_check(t, "self", &p), FLT_PASS);
	ck_assert_int_eq(flt_client_check(t, "other", &p), FLT_PASS);
	flt_table_free(t);
}
END_TEST

/* Whether an ICMP/ICMPv6 reply's checksums hold (sums fold to 0xffff). */
static uint32_t
sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)(p[i] << 8 | (i + 1 < n ? p[i + 1] : 0));
	return s;
}

static bool
csum_ok(const uint8_t *b, size_t n)
{
	uint32_t s;

	if (b[0] >> 4 == 4) {
		s = sum(0, b, 20);
		while (s >> 16)
			s = (s & 0xffff) + (s >> 16);
		if (s != 0xffff)
			return false;
		s = sum(0, b + 20, n - 20);
	} else {
		s = sum(0, b + 8, 32) + (uint32_t)(n - 40) + 58;
		s = sum(s, b + 40, n - 40);
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

START_TEST(icmp_exact)
{
	uint8_t out[FLT_ICMP_MAX];
	struct flt_pkt p, q;
	size_t n;

	ck_assert_int_eq(flt_parse(pkt4, sizeof(pkt4), &p), 0);
	n = flt_icmp_build(&p, pkt4, FLT_PROHIBITED, out, sizeof(out));
	ck_assert_uint_eq(n, sizeof(icmp4));
	ck_assert_mem_eq(out, icmp4, n);
	ck_assert_uint_eq(flt_icmp_build(&p, pkt4, FLT_PROHIBITED, out,
	    n - 1), 0);
	ck_assert_uint_eq(flt_icmp_build(&p, pkt4, FLT_PASS, out, n), 0);
	/* unreachable: code 0 net; only type/code and checksum differ */
	n = flt_icmp_build(&p, pkt4, FLT_UNREACHABLE, out, sizeof(out));
	ck_assert_uint_eq(out[21], 0);
	ck_assert(csum_ok(out, n));
	ck_assert_int_eq(flt_parse(out, n, &q), 0);
	ck_assert(q.has_icmp && q.icmp_type == 3);

	ck_assert_int_eq(flt_parse(pkt6, sizeof(pkt6), &p), 0);
	n = flt_icmp_build(&p, pkt6, FLT_PROHIBITED, out, sizeof(out));
	ck_assert_uint_eq(n, sizeof(icmp6));
	ck_assert_mem_eq(out, icmp6, n);
	n = flt_icmp_build(&p, pkt6, FLT_UNREACHABLE, out, sizeof(out));
	ck_assert_uint_eq(out[40], 1);
	ck_assert_uint_eq(out[41], 3);
	ck_assert(csum_ok(out, n));
}
END_TEST

START_TEST(icmp_quote)
{
	static uint8_t big[1500], out[FLT_ICMP_MAX];
	struct flt_pkt p;
	size_t n;

	/* IPv4 with options: the whole header + 8 bytes */
	memset(big, 0, sizeof(big));
	big[0] = 0x46;
	big[3] = 100;
	big[8] = 64;
	big[9] = 17;
	inet_pton(AF_INET, C4, big + 12);
	inet_pton(AF_INET, "10.0.0.1", big + 16);
	big[27] = 53;
	ck_assert_int_eq(flt_parse(big, 100, &p), 0);
	n = flt_icmp_build(&p, big, FLT_PROHIBITED, out, sizeof(out));
	ck_assert_uint_eq(n, 20 + 8 + 24 + 8);
	ck_assert(csum_ok(out, n));
	ck_assert_mem_eq(out + 28, big, 32);
	/* IPv6: as much as fits in 1280 */
	memset(big, 0, sizeof(big));
	big[0] = 0x60;
	big[4] = (1400 - 40) >> 8;
	big[5] = (1400 - 40) & 0xff;
	big[6] = 17;
	inet_pton(AF_INET6, C6, big + 8);
	inet_pton(AF_INET6, "2001:db8::1", big + 24);
	for (n = 48; n < 1400; n++)
		big[n] = (uint8_t)n;
	ck_assert_int_eq(flt_parse(big, 1400, &p), 0);
	n = flt_icmp_build(&p, big, FLT_PROHIBITED, out, sizeof(out));
	ck_assert_uint_eq(n, 1280);
	ck_assert(csum_ok(out, n));
	ck_assert_uint_eq(out[4] << 8 | out[5], 1240);
	ck_assert_mem_eq(out + 48, big, 1232);
}
END_TEST

START_TEST(icmp_never)
{
	uint8_t b[80], out[FLT_ICMP_MAX];
	struct flt_pkt p;
	size_t n;

	/* an ICMP error */
	n = mk(b, C4, "10.0.0.1", 1, 0x030d, 0);
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_uint_eq(flt_icmp_build(&p, b, FLT_PROHIBITED, out,
	    sizeof(out)), 0);
	n = mk(b, C6, "2001:db8::1", 58, 0x0101, 0);
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_uint_eq(flt_icmp_build(&p, b, FLT_PROHIBITED, out,
	    sizeof(out)), 0);
	/* an echo request is answered */
	n = mk(b, C6, "2001:db8::1", 58, 0x8000, 0);
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_uint_gt(flt_icmp_build(&p, b, FLT_PROHIBITED, out,
	    sizeof(out)), 0);
	/* a later fragment */
	n = mk(b, C4, "10.0.0.1", 17, 1, 53);
	b[7] = 0x10;
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_uint_eq(flt_icmp_build(&p, b, FLT_PROHIBITED, out,
	    sizeof(out)), 0);
	/* multicast/broadcast destination, unspecified source */
	n = mk(b, C4, "239.1.1.1", 17, 1, 53);
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_uint_eq(flt_icmp_build(&p, b, FLT_PROHIBITED, out,
	    sizeof(out)), 0);
	n = mk(b, C4, "255.255.255.255", 17, 1, 53);
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_uint_eq(flt_icmp_build(&p, b, FLT_PROHIBITED, out,
	    sizeof(out)), 0);
	n = mk(b, "::", "2001:db8::1", 17, 1, 53);
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_uint_eq(flt_icmp_build(&p, b, FLT_PROHIBITED, out,
	    sizeof(out)), 0);
}
END_TEST

static struct flow_rec got;
static int ngot;

static void
take(const struct flow_rec *r, void *arg)
{
	(void)arg;
	got = *r;
	ngot++;
}

/* Flow logs: a TCP flow both ways, its end, the JSON line. */
START_TEST(flows)
{
	struct flowlog *fl = flowlog_new(2);
	struct flt_pkt p;
	uint8_t b[80];
	char line[768];
	size_t n;

	ck_assert_ptr_nonnull(fl);
	/* client 100.64.0.2:40000 -> 10.0.0.5:80, SYN; the answer; FIN */
	n = mk(b, C4, "10.0.0.5", 6, 40000, 80);
	b[20 + 13] = 0x02;
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_int_eq(flowlog_add(fl, b, &p, true, "c1", "r\"1", 1000),
	    0);
	n = mk(b, "10.0.0.5", C4, 6, 80, 40000);
	b[20 + 13] = 0x12;
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_int_eq(flowlog_add(fl, b, &p, false, "c1", "r1", 1100), 0);
	ck_assert_uint_eq(flowlog_count(fl), 1);
	ck_assert_uint_eq(flowlog_expire(fl, 200000, false, take, NULL), 0);
	n = mk(b, C4, "10.0.0.5", 6, 40000, 80);
	b[20 + 13] = 0x11;				/* FIN ACK */
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_int_eq(flowlog_add(fl, b, &p, true, "c1", "r1", 2000), 0);
	/* a second flow (UDP), a third does not fit */
	n = mk(b, C4, "10.0.0.5", 17, 5353, 53);
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_int_eq(flowlog_add(fl, b, &p, true, "c1", "r1", 2000), 0);
	n = mk(b, C4, "10.0.0.6", 17, 5353, 53);
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_int_eq(flowlog_add(fl, b, &p, true, "c1", "r1", 2000),
	    -ENOSPC);
	ck_assert_uint_eq(flowlog_overflow(fl), 1);
	/* FIN: ended 5 s after its last packet; UDP idles 60 s */
	ngot = 0;
	ck_assert_uint_eq(flowlog_expire(fl, 6999, false, take, NULL), 0);
	ck_assert_uint_eq(flowlog_expire(fl, 7000, false, take, NULL), 1);
	ck_assert_int_eq(ngot, 1);
	ck_assert_uint_eq(got.pkts_out, 2);
	ck_assert_uint_eq(got.pkts_in, 1);
	ck_assert_uint_eq(got.bytes_out, 96);
	ck_assert_uint_eq(got.bytes_in, 48);
	ck_assert_int_gt(flowlog_fmt(&got, line, sizeof(line)), 0);
	ck_assert_str_eq(line, "{\"client_id\":\"c1\",\"resource_id\":"
	    "\"r1\",\"protocol\":\"tcp\",\"src\":\"100.64.0.2\","
	    "\"src_port\":40000,\"dst\":\"10.0.0.5\",\"dst_port\":80,"
	    "\"tx_bytes\":96,\"tx_packets\":2,\"rx_bytes\":48,"
	    "\"rx_packets\":1,\"start\":\"1970-01-01T00:00:01.000Z\","
	    "\"end\":\"1970-01-01T00:00:02.000Z\"}");
	ck_assert_int_eq(flowlog_fmt(&got, line, 40), -ENOSPC);
	ck_assert_uint_eq(flowlog_expire(fl, 61999, false, take, NULL), 0);
	ck_assert_uint_eq(flowlog_expire(fl, 62000, false, take, NULL), 1);
	ck_assert_str_eq(got.resource_id, "r1");
	ck_assert_uint_eq(got.rport, 53);
	/* a quote in an id never reaches the line */
	n = mk(b, C4, "10.0.0.5", 1, 0x0800, 0);
	ck_assert_int_eq(flt_parse(b, n, &p), 0);
	ck_assert_int_eq(flowlog_add(fl, b, &p, true, "c\"1", "r1", 5), 0);
	ck_assert_uint_eq(flowlog_expire(fl, 0, true, take, NULL), 1);
	ck_assert_str_eq(got.client_id, "c_1");
	ck_assert_int_gt(flowlog_fmt(&got, line, sizeof(line)), 0);
	ck_assert_ptr_nonnull(strstr(line, "\"protocol\":\"icmp\""));
	ck_assert_uint_eq(flowlog_count(fl), 0);
	flowlog_free(fl);
	flowlog_free(NULL);
}
END_TEST

static Suite *
filter_suite(void)
{
	Suite *s = suite_create("filter");
	TCase *tc = tcase_create("core");

	/*
	 * A guard against hangs, not a measure: many_clients (1 000 RCU
	 * updates) passed Check's 4 s under ASan on a machine busy with two
	 * CI runs only sometimes.
	 */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, parse_basic);
	tcase_add_test(tc, parse_malformed);
	tcase_add_test(tc, parse_fragments);
	tcase_add_test(tc, rules);
	tcase_add_test(tc, rules_text);
	tcase_add_test(tc, classes);
	tcase_add_test(tc, gateway_checks);
	tcase_add_test(tc, gateway_internet_dns);
	tcase_add_test(tc, gateway_return);
	tcase_add_test(tc, many_clients);
	tcase_add_test(tc, clone);
	tcase_add_test(tc, lifetime);
	tcase_add_test(tc, access_args);
	tcase_add_test(tc, client_side);
	tcase_add_test(tc, icmp_exact);
	tcase_add_test(tc, icmp_quote);
	tcase_add_test(tc, icmp_never);
	tcase_add_test(tc, flows);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(filter_suite)
