/* SPDX-License-Identifier: ISC */
/*
 * The data plane's p2p control path (dp_p2p.h) on a whole data plane
 * (dp_new, dp_start, its threads; a socketpair stands in for the TUN)
 * over loopback, with a client device that completes a direct handshake:
 * a control packet it sends never reaches the TUN; on a gateway every
 * one is queued with its sender's key (and a full queue drops and
 * counts); on a client domain_status goes to the client hook (dropped
 * and counted without one) and goodbye to the queue; off, dropped; an
 * ordinary packet still reaches the TUN.  dp_p2p_send encrypts a control
 * packet to the peer, which decrypts it unchanged.
 */
#include "dataplane.c"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>

#include "check_util.h"
#include "dp_fixture.h"
#include "dp_dnsnat.h"
#include "dp_filter.h"
#include "dp_p2p.h"

static struct dp_fixture F;
static struct dp *G;
static struct wg_device *Gdev;
static union fz_sockaddr Gaddr;

struct client {
	struct wg_device	*dev;
	struct wg_peer		*peer;		/* the gateway */
	struct wg_peer		*gpeer;		/* it, at the gateway */
	uint8_t			 pub[32];
	int			 fd;
	union fz_sockaddr	 addr;
};

static void
setup(void)
{
	ck_assert_int_eq(dp_fixture_new(&F, 1280, true), 0);
	G = F.dp;
	Gdev = F.dev;
	Gaddr = F.addr;
}

static void
teardown(void)
{
	dp_fixture_free(&F);
	G = NULL;
	Gdev = NULL;
}

/* Receives a datagram of WireGuard type t on fd within ms; its length. */
static ssize_t
recv_type(int fd, uint8_t t, uint8_t *buf, size_t cap, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	while (poll(&pfd, 1, ms) == 1) {
		if ((n = recv(fd, buf, cap, 0)) > 0 && buf[0] == t)
			return n;
	}
	return 0;
}

/* A client known to the gateway (tunnel address 100.64.0.7), with a
 * session it initiated over loopback. */
static void
client_new(struct client *c, uint8_t fill)
{
	uint8_t k[32], gpub[32], m[WG_INITIATION_LEN], reply[256];
	uint8_t out[WG_INITIATION_LEN];
	struct wg_hs_result r;
	struct fz_cidr cidr;
	socklen_t sl = sizeof(c->addr);

	memset(k, fill, sizeof(k));
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
	wg_key_public(k, c->pub);
	ck_assert_int_eq(wg_device_new(k, &c->dev), 0);
	wg_device_public_key(Gdev, gpub);
	ck_assert_int_eq(wg_peer_add(c->dev, gpub, &c->peer), 0);
	ck_assert_int_eq(dp_peer_add(G, c->pub, &c->gpeer), 0);
	ck_assert_int_eq(cidr_parse("100.64.0.7/32", true, &cidr), 0);
	ck_assert_int_eq(dp_peer_allow(G, c->gpeer, &cidr), 0);
	ck_assert_int_eq(cidr_parse("fd00:2021:1111::7/128", true, &cidr), 0);
	ck_assert_int_eq(dp_peer_allow(G, c->gpeer, &cidr), 0);
	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(addr_parse("127.0.0.1:0", ADDR_PORT_OPTIONAL,
	    &c->addr), 0);
	ck_assert_int_eq(bind(c->fd, &c->addr.sa, addr_len(&c->addr.sa)), 0);
	ck_assert_int_eq(getsockname(c->fd, &c->addr.sa, &sl), 0);
	ck_assert_int_eq(dp_peer_set_path(G, c->gpeer, &c->addr, 0), 0);
	ck_assert_int_eq(wg_create_initiation(c->peer, m), 0);
	ck_assert_int_eq(sendto(c->fd, m, sizeof(m), 0, &Gaddr.sa,
	    addr_len(&Gaddr.sa)), (ssize_t)sizeof(m));
	ck_assert_int_eq(recv_type(c->fd, 2, reply, sizeof(reply), 2000),
	    WG_RESPONSE_LEN);
	ck_assert_int_eq(wg_handle_handshake(c->dev, reply, WG_RESPONSE_LEN,
	    &Gaddr, out, &r), 0);
	ck_assert(r.established);
}

static void
client_free(struct client *c)
{
	close(c->fd);
	wg_device_free(c->dev);
}

/* Sends pkt from c to the gateway, encrypted. */
static void
client_send(struct client *c, const uint8_t *pkt, size_t len)
{
	uint8_t m[2048];
	struct wg_keypair *k = wg_peer_send_keypair(c->peer);
	size_t n;

	ck_assert_ptr_nonnull(k);
	memcpy(m + WG_DATA_HDR_LEN, pkt, len);
	ck_assert_int_eq(wg_encrypt(k, m, len, sizeof(m), &n), 0);
	wg_keypair_put(k);
	ck_assert_int_eq(sendto(c->fd, m, n, 0, &Gaddr.sa,
	    addr_len(&Gaddr.sa)), (ssize_t)n);
}

static size_t
ctl(enum p2p_type t, uint8_t *out)
{
	struct p2p_msg m;
	size_t n;

	memset(&m, 0, sizeof(m));
	m.type = t;
	snprintf(m.resource, sizeof(m.resource), "%s",
	    "73037362-715d-4a83-a749-f18eadd970e6");
	snprintf(m.domain, sizeof(m.domain), "app.corp.test");
	if (t == P2P_ASSIGNED_IPS) {
		m.nproxy = 4;
		for (int i = 0; i < 4; i++) {
			m.proxy[i].af = AF_INET;
			memcpy(m.proxy[i].a, "\x64\x60\x00\x01", 4);
			m.proxy[i].a[3] = (uint8_t)(i + 1);
		}
	}
	m.active = 1;
	ck_assert_int_eq(p2p_build(&m, out, P2P_MAX_PKT, &n), 0);
	return n;
}

static bool
p2p_counter_reaches(enum dp_p2p_counter c, uint64_t n)
{
	for (int i = 0; i < 200; i++) {
		if (dp_p2p_counter(G, c) >= n)
			return true;
		usleep(10000);
	}
	return false;
}

/* Nothing was written into the TUN. */
static void
tun_empty(void)
{
	uint8_t b[2048];

	usleep(20000);
	ck_assert_int_lt(recv(F.sp[1], b, sizeof(b), MSG_DONTWAIT), 0);
}

/* An IPv4/UDP packet from the client's tunnel address. */
static size_t
udp4(uint8_t *p)
{
	memset(p, 0, 32);
	p[0] = 0x45;
	off_put16(p + 2, 32);
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	memcpy(p + 12, "\x64\x40\x00\x07\x0a\x00\x00\x01", 8);
	off_ipv4_checksum(p);
	off_put16(p + 20, 1000);
	off_put16(p + 22, 2000);
	off_put16(p + 24, 12);
	return 32;
}

START_TEST(test_gateway_up)
{
	struct client c;
	struct dp_p2p_up u;
	uint8_t pkt[P2P_MAX_PKT], b[2048];
	size_t n;
	int efd;

	client_new(&c, 0x61);
	/* Off: dropped, never to the TUN. */
	n = ctl(P2P_ASSIGNED_IPS, pkt);
	client_send(&c, pkt, n);
	for (int i = 0; i < 200 && dp_counter(G, DP_DROP_BAD_PACKET) < 1; i++)
		usleep(10000);
	ck_assert_uint_eq(dp_counter(G, DP_DROP_BAD_PACKET), 1);
	tun_empty();

	ck_assert_int_eq(dp_p2p_enable(G, DP_P2P_GATEWAY, &efd), 0);
	ck_assert_int_eq(dp_p2p_enable(G, DP_P2P_CLIENT, &efd), -EEXIST);
	client_send(&c, pkt, n);
	ck_assert(p2p_counter_reaches(DP_P2P_UP, 1));
	ck_assert(dp_p2p_take(G, &u));
	ck_assert_uint_eq(u.len, n);
	ck_assert_mem_eq(u.pkt, pkt, n);
	ck_assert_mem_eq(u.pub, c.pub, 32);
	ck_assert(!dp_p2p_take(G, &u));
	/* domain_status and goodbye too, on a gateway */
	n = ctl(P2P_DOMAIN_STATUS, pkt);
	client_send(&c, pkt, n);
	n = ctl(P2P_GOODBYE, pkt);
	client_send(&c, pkt, n);
	ck_assert(p2p_counter_reaches(DP_P2P_UP, 3));
	ck_assert(dp_p2p_take(G, &u));
	ck_assert_uint_eq(u.pkt[P2P_IP6_HLEN], P2P_DOMAIN_STATUS);
	ck_assert(dp_p2p_take(G, &u));
	ck_assert_uint_eq(u.pkt[P2P_IP6_HLEN], P2P_GOODBYE);
	ck_assert_uint_eq(u.len, P2P_IP6_HLEN + P2P_HDR_LEN);
	tun_empty();

	/* An ordinary packet still reaches the TUN. */
	client_send(&c, b, udp4(b));
	{
		struct pollfd pfd = { .fd = F.sp[1], .events = POLLIN };

		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
		ck_assert_int_eq(recv(F.sp[1], b, sizeof(b), 0),
		    (ssize_t)(TUN_VNET_HDR_LEN + 32));
	}

	/* A full queue drops and counts. */
	n = ctl(P2P_GOODBYE, pkt);
	for (int i = 0; i < DP_P2P_QUEUE + 5; i++)
		client_send(&c, pkt, n);
	ck_assert(p2p_counter_reaches(DP_P2P_DROP_FULL, 5));
	for (int i = 0; i < DP_P2P_QUEUE; i++)
		ck_assert(dp_p2p_take(G, &u));
	ck_assert(!dp_p2p_take(G, &u));
	client_free(&c);
}
END_TEST

static int hooked;
static uint8_t hooked_pub[32];

static void
hook(void *arg, struct worker *w, struct wg_peer *p, const uint8_t *pkt,
    size_t len)
{
	struct p2p_msg m;

	(void)w;
	ck_assert_ptr_eq(arg, &hooked);
	if (p2p_parse(pkt, len, &m) == 0 && m.type == P2P_DOMAIN_STATUS)
		__atomic_add_fetch(&hooked, 1, __ATOMIC_SEQ_CST);
	wg_peer_public_key(p, hooked_pub);
}

START_TEST(test_client_hook)
{
	struct client c;
	struct dp_p2p_up u;
	uint8_t pkt[P2P_MAX_PKT];
	size_t n;
	int efd;

	client_new(&c, 0x62);
	ck_assert_int_eq(dp_p2p_enable(G, DP_P2P_CLIENT, &efd), 0);
	n = ctl(P2P_DOMAIN_STATUS, pkt);
	client_send(&c, pkt, n);		/* no hook yet */
	ck_assert(p2p_counter_reaches(DP_P2P_DROP_NO_HOOK, 1));
	dp_p2p_set_client_hook(G, hook, &hooked);
	client_send(&c, pkt, n);
	ck_assert(p2p_counter_reaches(DP_P2P_HOOKED, 1));
	ck_assert_int_eq(__atomic_load_n(&hooked, __ATOMIC_SEQ_CST), 1);
	ck_assert_mem_eq(hooked_pub, c.pub, 32);
	ck_assert(!dp_p2p_take(G, &u));
	/* goodbye goes up, for fz-controld */
	n = ctl(P2P_GOODBYE, pkt);
	client_send(&c, pkt, n);
	ck_assert(p2p_counter_reaches(DP_P2P_UP, 1));
	ck_assert(dp_p2p_take(G, &u));
	ck_assert_uint_eq(u.pkt[P2P_IP6_HLEN], P2P_GOODBYE);
	tun_empty();
	client_free(&c);
}
END_TEST

START_TEST(test_send_down)
{
	struct client c;
	struct dp_p2p_up u;
	uint8_t pkt[P2P_MAX_PKT], buf[2048], *plain;
	uint8_t nobody[32];
	union fz_sockaddr from;
	socklen_t fl = sizeof(from);
	struct wg_peer *p;
	size_t n, plen;
	ssize_t got = 0;
	int efd;

	client_new(&c, 0x63);
	n = ctl(P2P_DOMAIN_STATUS, pkt);
	ck_assert_int_eq(dp_p2p_send(G, c.pub, pkt, n), -ENOTCONN);
	ck_assert_int_eq(dp_p2p_enable(G, DP_P2P_GATEWAY, &efd), 0);
	/* The responder sends once the initiator's first data came. */
	plen = ctl(P2P_GOODBYE, buf);
	client_send(&c, buf, plen);
	ck_assert(p2p_counter_reaches(DP_P2P_UP, 1));
	ck_assert(dp_p2p_take(G, &u));
	memset(nobody, 0x99, sizeof(nobody));
	ck_assert_int_eq(dp_p2p_send(G, nobody, pkt, n), -ENOENT);
	ck_assert_int_eq(dp_p2p_send(G, c.pub, pkt, P2P_MAX_PKT + 1),
	    -EMSGSIZE);
	ck_assert_int_eq(dp_p2p_send(G, c.pub, pkt, n), 0);
	for (int i = 0; i < 20; i++) {
		got = recv_type(c.fd, 4, buf, sizeof(buf), 200);
		if (got > WG_DATA_MIN_LEN)
			break;
	}
	ck_assert_int_gt(got, WG_DATA_MIN_LEN);
	ck_assert_int_eq(wg_decrypt(c.dev, buf, (size_t)got, &Gaddr, &plain,
	    &plen, &p), 0);
	ck_assert_ptr_eq(p, c.peer);
	ck_assert_uint_ge(plen, n);
	ck_assert_mem_eq(plain, pkt, n);
	ck_assert_uint_eq(dp_p2p_counter(G, DP_P2P_DOWN), 1);
	(void)fl;
	client_free(&c);
}
END_TEST


/* Receives one data message at c within 2 s and decrypts it: its IP. */
static size_t
client_recv(struct client *c, uint8_t *buf, size_t cap, uint8_t **plain)
{
	struct wg_peer *p;
	size_t plen;
	ssize_t got = 0;

	for (int i = 0; i < 20; i++) {
		got = recv_type(c->fd, 4, buf, cap, 100);
		if (got > WG_DATA_MIN_LEN)
			break;
	}
	ck_assert_int_gt(got, WG_DATA_MIN_LEN);
	ck_assert_int_eq(wg_decrypt(c->dev, buf, (size_t)got, &Gaddr, plain,
	    &plen, &p), 0);
	return off_ip_len(*plain, plen);
}

/* The next packet written into the TUN within 2 s (without its header). */
static ssize_t
tun_recv(uint8_t *buf, size_t cap)
{
	struct pollfd pfd = { .fd = F.sp[1], .events = POLLIN };
	uint8_t b[4096];
	ssize_t n;

	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	n = recv(F.sp[1], b, sizeof(b), 0);
	ck_assert_int_gt(n, TUN_VNET_HDR_LEN);
	n -= TUN_VNET_HDR_LEN;
	ck_assert_int_le(n, (ssize_t)cap);
	memcpy(buf, b + TUN_VNET_HDR_LEN, (size_t)n);
	return n;
}

/* An IPv4/UDP packet src:sport -> dst:dport with an 8-byte payload. */
static size_t
udp4_to(uint8_t *p, const char *src, uint16_t sport, const char *dst,
    uint16_t dport)
{
	memset(p, 0, 36);
	p[0] = 0x45;
	off_put16(p + 2, 36);
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	ck_assert_int_eq(inet_pton(AF_INET, src, p + 12), 1);
	ck_assert_int_eq(inet_pton(AF_INET, dst, p + 16), 1);
	off_ipv4_checksum(p);
	off_put16(p + 20, sport);
	off_put16(p + 22, dport);
	off_put16(p + 24, 16);
	memcpy(p + 28, "fz-dnsgw", 8);
	off_l4_checksum(p, 36, 20, IPPROTO_UDP);
	return 36;
}

/* The checksums of an IPv4/UDP packet verify. */
static void
udp4_verify(const uint8_t *p, size_t len)
{
	uint8_t c[64];

	ck_assert_uint_le(len, sizeof(c));
	memcpy(c, p, len);
	off_ipv4_checksum(c);
	off_l4_checksum(c, len, 20, IPPROTO_UDP);
	ck_assert_mem_eq(c, p, len);
}

static void
fip(struct fz_ip *ip, const char *s)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, s, ip->a) == 1)
		ip->af = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, s, ip->a), 1);
		ip->af = AF_INET6;
	}
}

/*
 * The gateway's DNS-resource NAT end to end in the data plane: the
 * client's packet to a proxy IP reaches the TUN for the real address
 * (checksums right), the resource's reply goes back from the proxy IP; a
 * proxy IP of a family nothing resolved to, and one never assigned, are
 * answered unreachable and never reach the TUN; a client whose NAT state
 * went gets unreachable too.
 */
START_TEST(test_gateway_nat)
{
	struct client c;
	struct flt_table *t;
	struct fz_ip px[8], real[1];
	struct fz_cidr cidr;
	uint8_t pkt[256], buf[2048], *plain, tunb[2048];
	struct dnsnat_stats st;
	size_t n;
	ssize_t tn;
	int i;

	client_new(&c, 0x64);
	ck_assert_int_eq(dp_filter_enable(G, DP_FILTER_GATEWAY), 0);
	ck_assert_ptr_nonnull(t = dp_filter_wlock(G));
	ck_assert_int_eq(flt_table_set_self(t, "100.64.0.1",
	    "fd00:2021:1111::1"), 0);
	ck_assert_int_eq(flt_access_set(t, "C1", "100.64.0.7",
	    "fd00:2021:1111::7", "R1", FLT_RES_DNS, "", NULL, 0, 0), 0);
	dp_filter_wunlock(G);
	/* assigned_ips: 4 + 4 proxies; only an IPv4 address resolved */
	for (i = 0; i < 4; i++) {
		char a[64];

		snprintf(a, sizeof(a), "100.96.0.%d", i + 1);
		fip(&px[i], a);
		snprintf(a, sizeof(a), "fd00:2021:1111:8000::%d", i + 1);
		fip(&px[4 + i], a);
	}
	fip(&real[0], "10.0.0.5");
	/* other clients first: C1 is found among them by its address */
	for (i = 0; i < 1500; i++) {
		char id[16], a4[32], a6[64];

		snprintf(id, sizeof(id), "X%d", i);
		snprintf(a4, sizeof(a4), "100.65.%d.%d", i / 256, i % 256);
		snprintf(a6, sizeof(a6), "fd00:2021:1111::1:%x", i);
		ck_assert_int_eq(dp_dnsnat_set(G, id, a4, i % 2 ? a6 : "",
		    "other.test", px, 4, real, 1), 0);
	}
	ck_assert_int_eq(dp_dnsnat_set(G, "C1", "100.64.0.7",
	    "fd00:2021:1111::7", "app.corp.test", px, 8, real, 1), 0);
	ck_assert_uint_eq(dp_dnsnat_clients(G), 1501);
	ck_assert_ptr_nonnull(t = dp_filter_wlock(G));
	for (i = 0; i < 8; i++) {
		struct fz_ip r;

		memset(&cidr, 0, sizeof(cidr));
		cidr.family = px[i].af;
		cidr.prefix = px[i].af == AF_INET ? 32 : 128;
		memcpy(cidr.addr, px[i].a, 16);
		ck_assert_int_eq(flt_access_add_prefix(t, "C1", "R1", &cidr,
		    dp_dnsnat_target(G, "C1", &px[i], &r) == 0), 0);
	}
	ck_assert_int_eq(cidr_parse("10.0.0.5/32", true, &cidr), 0);
	ck_assert_int_eq(flt_access_add_prefix(t, "C1", "R1", &cidr, true),
	    0);
	dp_filter_wunlock(G);

	/* out: proxy -> real, into the TUN */
	n = udp4_to(pkt, "100.64.0.7", 40000, "100.96.0.2", 80);
	client_send(&c, pkt, n);
	tn = tun_recv(tunb, sizeof(tunb));
	ck_assert_int_eq(tn, (ssize_t)n);
	ck_assert_mem_eq(tunb + 16, "\x0a\x00\x00\x05", 4);
	ck_assert_mem_eq(tunb + 12, "\x64\x40\x00\x07", 4);
	udp4_verify(tunb, (size_t)tn);
	/* back: real -> proxy, to the client */
	n = udp4_to(pkt, "10.0.0.5", 80, "100.64.0.7", 40000);
	memset(buf, 0, TUN_VNET_HDR_LEN);
	memcpy(buf + TUN_VNET_HDR_LEN, pkt, n);
	ck_assert_int_eq(send(F.sp[1], buf, TUN_VNET_HDR_LEN + n, 0),
	    (ssize_t)(TUN_VNET_HDR_LEN + n));
	ck_assert_uint_eq(client_recv(&c, buf, sizeof(buf), &plain), n);
	ck_assert_mem_eq(plain + 12, "\x64\x60\x00\x02", 4);
	ck_assert_mem_eq(plain + 16, "\x64\x40\x00\x07", 4);
	udp4_verify(plain, n);

	/* a proxy never assigned to it: not its resource's (the filter's
	 * ICMP 3/13), not to the TUN */
	n = udp4_to(pkt, "100.64.0.7", 40001, "100.96.9.9", 80);
	client_send(&c, pkt, n);
	n = client_recv(&c, buf, sizeof(buf), &plain);
	ck_assert_uint_ge(n, 28);
	ck_assert_uint_eq(plain[9], IPPROTO_ICMP);
	ck_assert_uint_eq(plain[20], 3);
	ck_assert_uint_eq(plain[21], 13);
	tun_empty();

	/* the IPv6 proxies: nothing resolved for them, unreachable */
	memset(pkt, 0, 48);
	pkt[0] = 0x60;
	off_put16(pkt + 4, 8);
	pkt[6] = IPPROTO_UDP;
	pkt[7] = 64;
	ck_assert_int_eq(inet_pton(AF_INET6, "fd00:2021:1111::7", pkt + 8),
	    1);
	memcpy(pkt + 24, px[4].a, 16);
	off_put16(pkt + 40, 40002);
	off_put16(pkt + 42, 80);
	off_put16(pkt + 44, 8);
	off_l4_checksum(pkt, 48, 40, IPPROTO_UDP);
	client_send(&c, pkt, 48);
	n = client_recv(&c, buf, sizeof(buf), &plain);
	ck_assert_uint_ge(n, 48);
	ck_assert_uint_eq(plain[6], IPPROTO_ICMPV6);
	ck_assert_uint_eq(plain[40], 1);
	ck_assert_uint_eq(plain[41], 3);
	tun_empty();

	dp_dnsnat_stats(G, &st);
	ck_assert_uint_eq(st.translated_out, 1);
	ck_assert_uint_eq(st.translated_in, 1);
	/* the client's NAT state gone: net unreachable (ICMP 3/0) */
	ck_assert_int_eq(dp_dnsnat_del(G, "C1"), 0);
	ck_assert_int_eq(dp_dnsnat_del(G, "C1"), -ENOENT);
	dp_dnsnat_stats(G, &st);	/* a removed client's still count */
	ck_assert_uint_eq(st.translated_out, 1);
	ck_assert_uint_eq(st.translated_in, 1);
	n = udp4_to(pkt, "100.64.0.7", 40000, "100.96.0.2", 80);
	client_send(&c, pkt, n);
	n = client_recv(&c, buf, sizeof(buf), &plain);
	ck_assert_uint_eq(plain[20], 3);
	ck_assert_uint_eq(plain[21], 0);
	tun_empty();
	/* Set again under another address: found there, not at the old. */
	ck_assert_int_eq(dp_dnsnat_set(G, "C1", "100.64.0.9",
	    "fd00:2021:1111::9", "app.corp.test", px, 8, real, 1), 0);
	ck_assert_int_eq(dp_dnsnat_set(G, "C1", "100.64.0.7",
	    "fd00:2021:1111::7", "app.corp.test", px, 8, real, 1), 0);
	n = udp4_to(pkt, "100.64.0.7", 40003, "100.96.0.2", 80);
	client_send(&c, pkt, n);
	tn = tun_recv(tunb, sizeof(tunb));
	ck_assert_int_eq(tn, (ssize_t)n);
	ck_assert_mem_eq(tunb + 16, "\x0a\x00\x00\x05", 4);
	ck_assert_int_eq(dp_dnsnat_set(G, "C1", "100.64.0.9",
	    "fd00:2021:1111::9", "app.corp.test", px, 8, real, 1), 0);
	client_send(&c, pkt, n);
	n = client_recv(&c, buf, sizeof(buf), &plain);
	ck_assert_uint_eq(plain[20], 3);
	ck_assert_uint_eq(plain[21], 0);
	tun_empty();
	client_free(&c);
}
END_TEST

static bool
keep_none(const char *id, void *arg)
{
	(void)id;
	(void)arg;
	return false;
}

START_TEST(test_nat_table)
{
	struct fz_ip px[4], real[2], r;
	int i;

	for (i = 0; i < 4; i++) {
		char a[32];

		snprintf(a, sizeof(a), "100.96.0.%d", i + 1);
		fip(&px[i], a);
	}
	fip(&real[0], "192.0.2.1");
	fip(&real[1], "192.0.2.2");
	ck_assert_int_eq(dp_dnsnat_target(G, "C1", &px[0], &r), -ENOENT);
	ck_assert_int_eq(dp_dnsnat_set(G, "", "100.64.0.7", "", "a.test", px,
	    4, real, 2), -EINVAL);
	ck_assert_int_eq(dp_dnsnat_set(G, "C1", "not an ip", "", "a.test",
	    px, 4, real, 2), -EINVAL);
	ck_assert_int_eq(dp_dnsnat_set(G, "C1", "", "", "a.test", px, 4,
	    real, 2), -EINVAL);
	ck_assert_int_eq(dp_dnsnat_set(G, "C1", "100.64.0.7", "", "a.test",
	    px, 4, real, 2), 0);
	ck_assert_int_eq(dp_dnsnat_set(G, "C2", "100.64.0.8", "", "b.test",
	    px, 4, real, 1), 0);
	ck_assert_int_eq(dp_dnsnat_target(G, "C1", &px[1], &r), 0);
	ck_assert_mem_eq(r.a, real[1].a, 4);	/* round-robin */
	ck_assert_int_eq(dp_dnsnat_target(G, "C2", &px[1], &r), 0);
	ck_assert_mem_eq(r.a, real[0].a, 4);	/* cycling */
	ck_assert_uint_eq(dp_dnsnat_clients(G), 2);
	dp_dnsnat_expire(G, 1);
	ck_assert_uint_eq(dp_dnsnat_prune(G, keep_none, NULL), 2);
	ck_assert_uint_eq(dp_dnsnat_clients(G), 0);
}
END_TEST

static Suite *
dp_p2p_suite(void)
{
	Suite *s = suite_create("dp_p2p");
	TCase *tc = tcase_create("dp_p2p");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_gateway_up);
	tcase_add_test(tc, test_client_hook);
	tcase_add_test(tc, test_send_down);
	tcase_add_test(tc, test_gateway_nat);
	tcase_add_test(tc, test_nat_table);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dp_p2p_suite)
