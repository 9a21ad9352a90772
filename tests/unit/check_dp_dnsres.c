/* SPDX-License-Identifier: ISC */
/*
 * The client's DNS resources in a whole data plane (dp_dnsres.h; dp_new,
 * dp_start, its threads; a socketpair stands in for the TUN), against a
 * gateway device over loopback: after DNS_PROXY, a TUN packet to a proxy
 * IP makes the data plane send assigned_ips to the gateway first and
 * keep the packet; the gateway's domain_status Active flushes what waited,
 * in order, and later packets go at once; other traffic (a proxy IP no
 * name has, the gateway's tunnel address) passes untouched; a fresh query
 * sends assigned_ips again; a removed peer's states go with it.
 */
#include "dataplane.c"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>

#include "check_util.h"
#include "dp_dnsres.h"
#include "dp_p2p.h"
#include "proxymap.h"

#define RES	"73037362-715d-4a83-a749-f18eadd970e6"

static struct dp *D;			/* the client's data plane */
static struct wg_device *Ddev;
static struct tun Dtun;
static int Dsp[2] = { -1, -1 };
static union fz_sockaddr Daddr;

/* The gateway: a device of its own on a loopback socket. */
static struct wg_device *Rdev;
static struct wg_peer *Rpeer;		/* the client, at the gateway */
static struct wg_peer *Dpeer;		/* the gateway, in D */
static int Rfd = -1;
static union fz_sockaddr Raddr;

static void
key(uint8_t k[32], uint8_t fill)
{
	memset(k, fill, 32);
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
}

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

/* Encrypted from the gateway to D (len 0: a keepalive). */
static void
r_send(const uint8_t *pkt, size_t len)
{
	uint8_t m[2048];
	struct wg_keypair *k = wg_peer_send_keypair(Rpeer);
	size_t n;

	ck_assert_ptr_nonnull(k);
	if (len > 0)
		memcpy(m + WG_DATA_HDR_LEN, pkt, len);
	ck_assert_int_eq(wg_encrypt(k, m, len, sizeof(m), &n), 0);
	wg_keypair_put(k);
	ck_assert_int_eq(sendto(Rfd, m, n, 0, &Daddr.sa,
	    addr_len(&Daddr.sa)), (ssize_t)n);
}

/* The next data packet the gateway receives within ms, decrypted (its
 * length), or 0. */
static size_t
r_recv(uint8_t *out, size_t cap, int ms)
{
	uint8_t buf[2048], *plain;
	struct wg_peer *p;
	size_t plen;
	ssize_t got;

	for (int i = 0; i < ms / 50 + 1; i++) {
		got = recv_type(Rfd, 4, buf, sizeof(buf), 50);
		if (got <= WG_DATA_MIN_LEN)
			continue;
		ck_assert_int_eq(wg_decrypt(Rdev, buf, (size_t)got, &Daddr,
		    &plain, &plen, &p), 0);
		if (plen == 0)
			continue;		/* a keepalive */
		plen = off_ip_len(plain, plen);	/* without the padding */
		ck_assert_uint_gt(plen, 0);
		ck_assert_uint_le(plen, cap);
		memcpy(out, plain, plen);
		return plen;
	}
	return 0;
}

static void
setup(void)
{
	struct dp_config c = { .mtu = 1280, .port = 0 };
	uint8_t k[32], dpub[32], rpub[32], m[WG_INITIATION_LEN];
	uint8_t reply[256], out[WG_INITIATION_LEN];
	struct wg_hs_result r;
	struct fz_cidr cidr;
	socklen_t sl = sizeof(Raddr);
	int efd;

	ck_assert_int_eq(log_init("check_dp_dnsres", LOG_FORMAT_TEXT, "off"),
	    0);
	key(k, 0x31);
	ck_assert_int_eq(wg_device_new(k, &Ddev), 0);
	wg_device_public_key(Ddev, dpub);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0,
	    Dsp), 0);
	ck_assert_int_eq(fcntl(Dsp[0], F_SETFL, O_NONBLOCK), 0);
	memset(&Dtun, 0, sizeof(Dtun));
	Dtun.nqueues = 1;
	Dtun.fds[0] = Dsp[0];
	ck_assert_int_eq(dp_new(Ddev, &Dtun, &c, &D), 0);
	ck_assert_int_eq(dp_start(D), 0);
	ck_assert_int_eq(dp_p2p_enable(D, DP_P2P_CLIENT, &efd), 0);
	dp_p2p_set_client_hook(D, dpr_p2p_hook, D);
	ck_assert_int_eq(addr_parse("127.0.0.1:0", ADDR_PORT_OPTIONAL, &Daddr),
	    0);
	addr_set_port(&Daddr.sa, dp_port(D));

	key(k, 0x32);
	wg_key_public(k, rpub);
	ck_assert_int_eq(wg_device_new(k, &Rdev), 0);
	ck_assert_int_eq(wg_peer_add(Rdev, dpub, &Rpeer), 0);
	Rfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(Rfd, 0);
	ck_assert_int_eq(addr_parse("127.0.0.1:0", ADDR_PORT_OPTIONAL, &Raddr),
	    0);
	ck_assert_int_eq(bind(Rfd, &Raddr.sa, addr_len(&Raddr.sa)), 0);
	ck_assert_int_eq(getsockname(Rfd, &Raddr.sa, &sl), 0);
	/* D's peer: the gateway, its tunnel address and the proxy range */
	ck_assert_int_eq(dp_peer_add(D, rpub, &Dpeer), 0);
	ck_assert_int_eq(cidr_parse("100.64.0.2/32", true, &cidr), 0);
	ck_assert_int_eq(dp_peer_allow(D, Dpeer, &cidr), 0);
	ck_assert_int_eq(cidr_parse("100.96.0.0/11", true, &cidr), 0);
	ck_assert_int_eq(dp_peer_allow(D, Dpeer, &cidr), 0);
	ck_assert_int_eq(dp_peer_set_path(D, Dpeer, &Raddr, 0), 0);
	/* a session the gateway initiates, confirmed by a keepalive */
	ck_assert_int_eq(wg_create_initiation(Rpeer, m), 0);
	ck_assert_int_eq(sendto(Rfd, m, sizeof(m), 0, &Daddr.sa,
	    addr_len(&Daddr.sa)), (ssize_t)sizeof(m));
	ck_assert_int_eq(recv_type(Rfd, 2, reply, sizeof(reply), 2000),
	    WG_RESPONSE_LEN);
	ck_assert_int_eq(wg_handle_handshake(Rdev, reply, WG_RESPONSE_LEN,
	    &Daddr, out, &r), 0);
	ck_assert(r.established);
	r_send(NULL, 0);
	usleep(50000);
}

static void
teardown(void)
{
	dp_free(D);
	D = NULL;
	wg_device_free(Ddev);
	wg_device_free(Rdev);
	close(Rfd);
	close(Dsp[0]);
	close(Dsp[1]);
}

/* An IPv4/UDP packet from the client's 100.64.0.7 to dst, payload tag. */
static size_t
udp4(uint8_t *p, const char *dst, uint8_t tag)
{
	memset(p, 0, 36);
	p[0] = 0x45;
	off_put16(p + 2, 36);
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	ck_assert_int_eq(inet_pton(AF_INET, "100.64.0.7", p + 12), 1);
	ck_assert_int_eq(inet_pton(AF_INET, dst, p + 16), 1);
	off_ipv4_checksum(p);
	off_put16(p + 20, 40000);
	off_put16(p + 22, 80);
	off_put16(p + 24, 16);
	memset(p + 28, tag, 8);
	off_l4_checksum(p, 36, 20, IPPROTO_UDP);
	return 36;
}

/* Written into D's TUN (an application's packet). */
static void
app_write(const uint8_t *pkt, size_t n)
{
	uint8_t b[2048];

	memset(b, 0, TUN_VNET_HDR_LEN);
	memcpy(b + TUN_VNET_HDR_LEN, pkt, n);
	ck_assert_int_eq(send(Dsp[1], b, TUN_VNET_HDR_LEN + n, 0),
	    (ssize_t)(TUN_VNET_HDR_LEN + n));
}

static struct p2p_msg
assigned(void)
{
	struct p2p_msg m;

	ck_assert_int_eq(proxymap_parse(RES, "app.corp.test", "100.96.0.1, "
	    "100.96.0.2, 100.96.0.3, 100.96.0.4, fd00:2021:1111:8000::, "
	    "fd00:2021:1111:8000::1, fd00:2021:1111:8000::2, "
	    "fd00:2021:1111:8000::3", &m), 0);
	return m;
}

/* The next packet the gateway gets is assigned_ips for app.corp.test. */
static void
expect_assigned(void)
{
	uint8_t b[2048];
	struct p2p_msg m;
	size_t n = r_recv(b, sizeof(b), 2000);

	ck_assert_uint_gt(n, 0);
	ck_assert(p2p_is_control(b, n));
	ck_assert_int_eq(p2p_parse(b, n, &m), 0);
	ck_assert_int_eq(m.type, P2P_ASSIGNED_IPS);
	ck_assert_str_eq(m.resource, RES);
	ck_assert_str_eq(m.domain, "app.corp.test");
	ck_assert_uint_eq(m.nproxy, 8);
}

/* The next packet the gateway gets is pkt[0..n). */
static void
expect_pkt(const uint8_t *pkt, size_t n)
{
	uint8_t b[2048];

	ck_assert_uint_eq(r_recv(b, sizeof(b), 2000), n);
	ck_assert_mem_eq(b, pkt, n);
}

static void
status(int active)
{
	struct p2p_msg m;
	uint8_t b[P2P_MAX_PKT];
	size_t n;

	memset(&m, 0, sizeof(m));
	m.type = P2P_DOMAIN_STATUS;
	snprintf(m.resource, sizeof(m.resource), RES);
	snprintf(m.domain, sizeof(m.domain), "app.corp.test");
	m.active = active;
	ck_assert_int_eq(p2p_build(&m, b, sizeof(b), &n), 0);
	r_send(b, n);
}

START_TEST(test_pending_confirm_forward)
{
	struct p2p_msg m = assigned();
	struct dp_dnsres_stats st;
	uint8_t p1[64], p2[64], p3[64], px[64], pg[64];
	size_t n;

	/* before any DNS_PROXY: proxy IPs pass as any packet */
	n = udp4(px, "100.96.0.9", 9);
	app_write(px, n);
	expect_pkt(px, n);
	ck_assert_int_eq(dp_dnsres_proxy(D, &m, false), 0);
	dp_dnsres_get_stats(D, &st);
	ck_assert_uint_eq(st.names, 1);
	/* the first packet: assigned_ips first, the packet kept */
	n = udp4(p1, "100.96.0.2", 1);
	app_write(p1, n);
	expect_assigned();
	ck_assert_int_eq(dp_dnsres_state(D, Dpeer, RES, "app.corp.test"),
	    P2P_NAT_PENDING);
	udp4(p2, "100.96.0.3", 2);
	app_write(p2, n);
	ck_assert_uint_eq(r_recv(pg, sizeof(pg), 200), 0);	/* kept */
	/* a proxy IP no name has, and the gateway itself: untouched */
	udp4(px, "100.96.0.9", 9);
	app_write(px, n);
	expect_pkt(px, n);
	udp4(pg, "100.64.0.2", 7);
	app_write(pg, n);
	expect_pkt(pg, n);
	dp_dnsres_get_stats(D, &st);
	ck_assert_uint_eq(st.nat.buffered, 2);
	ck_assert_uint_eq(st.nat.sent_assigned, 1);
	/* Active: both flushed in order, then straight through */
	status(1);
	expect_pkt(p1, n);
	expect_pkt(p2, n);
	udp4(p3, "100.96.0.4", 3);
	app_write(p3, n);
	expect_pkt(p3, n);
	dp_dnsres_get_stats(D, &st);
	ck_assert_uint_eq(st.nat.flushed, 2);
	ck_assert_int_eq(dp_dnsres_state(D, Dpeer, RES, "app.corp.test"),
	    P2P_NAT_CONFIRMED);
	/* a fresh query: assigned_ips again (Recreating), still forwarded */
	ck_assert_int_eq(dp_dnsres_proxy(D, &m, true), 0);
	expect_assigned();
	ck_assert_int_eq(dp_dnsres_state(D, Dpeer, RES, "app.corp.test"),
	    P2P_NAT_RECREATING);
	app_write(p3, n);
	expect_pkt(p3, n);
	/* the resource gone from the portal's list: the name too */
	dp_dnsres_keep(D, NULL, 0);
	dp_dnsres_get_stats(D, &st);
	ck_assert_uint_eq(st.names, 0);
}
END_TEST

/* Inactive: what waited is dropped; later packets still go (connlib). */
START_TEST(test_inactive)
{
	struct p2p_msg m = assigned();
	struct dp_dnsres_stats st;
	uint8_t p1[64], pg[64];
	size_t n;

	ck_assert_int_eq(dp_dnsres_proxy(D, &m, false), 0);
	n = udp4(p1, "100.96.0.1", 1);
	app_write(p1, n);
	expect_assigned();
	status(0);
	ck_assert_uint_eq(r_recv(pg, sizeof(pg), 200), 0);
	app_write(p1, n);
	expect_pkt(p1, n);
	dp_dnsres_get_stats(D, &st);
	ck_assert_uint_eq(st.nat.dropped_failed, 1);
	ck_assert_uint_eq(st.nat.sent_failed, 1);
}
END_TEST

/* A removed gateway's states go: a new peer for the same proxy IPs
 * starts with assigned_ips again. */
START_TEST(test_peer_removed)
{
	struct p2p_msg m = assigned();
	uint8_t p1[64];
	size_t n;

	ck_assert_int_eq(dp_dnsres_proxy(D, &m, false), 0);
	n = udp4(p1, "100.96.0.1", 1);
	app_write(p1, n);
	expect_assigned();
	status(1);
	expect_pkt(p1, n);
	/* a signed-out client forgets names and states */
	dp_dnsres_clear(D);
	ck_assert_int_eq(dp_dnsres_state(D, Dpeer, RES, "app.corp.test"),
	    P2P_NAT_NONE);
	app_write(p1, n);
	expect_pkt(p1, n);			/* no name: as any packet */
	ck_assert_int_eq(dp_dnsres_proxy(D, &m, false), 0);
	app_write(p1, n);
	expect_assigned();
	ck_assert_int_eq(dp_dnsres_state(D, Dpeer, RES, "app.corp.test"),
	    P2P_NAT_PENDING);
	dp_peer_remove(D, Dpeer);
	ck_assert_int_eq(dp_dnsres_state(D, Dpeer, RES, "app.corp.test"),
	    P2P_NAT_NONE);
	{
		struct dp_dnsres_stats st;

		dp_dnsres_get_stats(D, &st);
		ck_assert_uint_eq(st.names, 1);	/* names stay */
	}
}
END_TEST

/* The pure part's parse rejects what DNS_PROXY must not carry. */
START_TEST(test_proxy_rejected)
{
	struct p2p_msg m = assigned();

	m.nproxy = 3;
	ck_assert_int_eq(dp_dnsres_proxy(D, &m, false), -EINVAL);
}
END_TEST

static Suite *
dp_dnsres_suite(void)
{
	Suite *s = suite_create("dp_dnsres");
	TCase *tc = tcase_create("dp_dnsres");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pending_confirm_forward);
	tcase_add_test(tc, test_inactive);
	tcase_add_test(tc, test_peer_removed);
	tcase_add_test(tc, test_proxy_rejected);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dp_dnsres_suite)
