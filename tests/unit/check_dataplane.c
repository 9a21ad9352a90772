/* SPDX-License-Identifier: ISC */
/*
 * The data plane's send path (group buffers, TSO segmentation, sealing) at
 * the largest MTU: full-size packets are encrypted into the group buffers,
 * sent over loopback with sendmmsg and decrypted by a second device.
 * The send path is static, so the module is compiled into this test; run it
 * under ASan (build-asan, make check-unit) to catch any write past a group.
 */
#include "dataplane.c"

#include <check.h>
#include <netinet/ip.h>

#include "check_util.h"

struct side {
	struct wg_device	*dev;
	struct wg_peer		*peer;
	uint8_t			 priv[32], pub[32];
};

static struct side A, B;
static struct dp D;
static struct worker W;
static int rx = -1;			/* B's socket on 127.0.0.1 */
static union fz_sockaddr rx_addr, tx_addr;

static void
keys(struct side *s, uint8_t fill)
{
	memset(s->priv, fill, 32);
	s->priv[0] &= 248;
	s->priv[31] = (s->priv[31] & 127) | 64;
	wg_key_public(s->priv, s->pub);
	ck_assert_int_eq(wg_device_new(s->priv, &s->dev), 0);
}

static void
setup(void)
{
	uint8_t init[WG_INITIATION_LEN], resp[WG_INITIATION_LEN];
	struct wg_hs_result r;
	socklen_t sl = sizeof(rx_addr);
	int big = 8 << 20;

	keys(&A, 0x11);
	keys(&B, 0x22);
	ck_assert_int_eq(wg_peer_add(A.dev, B.pub, &A.peer), 0);
	ck_assert_int_eq(wg_peer_add(B.dev, A.pub, &B.peer), 0);

	rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(rx, 0);
	if (setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) != 0)
		(void)setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	ck_assert_int_eq(addr_parse("127.0.0.1:0", ADDR_PORT_OPTIONAL,
	    &rx_addr), 0);
	ck_assert_int_eq(bind(rx, &rx_addr.sa, addr_len(&rx_addr.sa)), 0);
	ck_assert_int_eq(getsockname(rx, &rx_addr.sa, &sl), 0);
	wg_peer_set_endpoint(A.peer, &rx_addr);

	/* A's worker, as dp_new builds it, without TUN or threads. */
	memset(&D, 0, sizeof(D));
	memset(&W, 0, sizeof(W));
	D.dev = A.dev;
	D.rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5000, 5);
	W.dp = &D;
	W.udp6 = -1;
	W.udp4 = udp_socket(AF_INET, 0, 0);
	ck_assert_int_ge(W.udp4, 0);
	sl = sizeof(tx_addr);
	ck_assert_int_eq(getsockname(W.udp4, &tx_addr.sa, &sl), 0);
	W.out = malloc((size_t)GROUPS * GROUP_SIZE);
	ck_assert_ptr_nonnull(W.out);

	/* A session from A to B (A initiates, so A may send at once). */
	ck_assert_int_eq(wg_create_initiation(A.peer, init), 0);
	ck_assert_int_eq(wg_handle_handshake(B.dev, init, sizeof(init),
	    &tx_addr, resp, &r), 0);
	ck_assert_uint_eq(r.reply_len, WG_RESPONSE_LEN);
	ck_assert_int_eq(wg_handle_handshake(A.dev, resp, WG_RESPONSE_LEN,
	    &rx_addr, init, &r), 0);
	ck_assert(r.established);
}

static void
teardown(void)
{
	free(W.out);
	close(W.udp4);
	close(rx);
	wg_device_free(A.dev);
	wg_device_free(B.dev);
}

/* An IPv4/UDP packet of len bytes, with a recognisable payload. */
static void
ipv4_udp(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	memset(p, 0, 28);
	p[0] = 0x45;
	off_put16(p + 2, (uint16_t)len);
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	memcpy(p + 12, "\x0a\x64\x00\x01\x0a\x64\x00\x02", 8);
	off_ipv4_checksum(p);
	off_put16(p + 20, 1000);
	off_put16(p + 22, 2000);
	off_put16(p + 24, (uint16_t)(len - 20));
	for (i = 28; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* Receives one datagram at B and decrypts it; returns the IP length. */
static size_t
recv_open(uint8_t *buf, size_t cap, uint8_t **plain)
{
	union fz_sockaddr from;
	socklen_t fl = sizeof(from);
	struct wg_peer *p;
	size_t plen;
	ssize_t n;

	n = recvfrom(rx, buf, cap, MSG_DONTWAIT, &from.sa, &fl);
	if (n < 0)
		return 0;
	ck_assert_int_eq(wg_decrypt(B.dev, buf, (size_t)n, &from, plain,
	    &plen, &p), 0);
	ck_assert_ptr_eq(p, B.peer);
	ck_assert_uint_eq((size_t)n, WG_SEALED_LEN(off_ip_len(*plain, plen)));
	return off_ip_len(*plain, plen);
}

START_TEST(test_mtu_limit)
{
	/* 16 + 65472 + 16 fits a UDP/IPv4 datagram; 65473 pads past it. */
	ck_assert_int_eq(WG_MTU_MAX, 65472);
	ck_assert_uint_le(WG_SEALED_LEN(WG_MTU_MAX), WG_UDP_PAYLOAD_MAX);
	ck_assert_uint_gt(WG_SEALED_LEN(WG_MTU_MAX + 1), WG_UDP_PAYLOAD_MAX);
	ck_assert_int_eq(wg_mtu_check(WG_MTU_MAX), 0);
	ck_assert_int_eq(wg_mtu_check(WG_MTU_MAX + 1), -EINVAL);
	ck_assert_int_eq(wg_mtu_check(65535), -EINVAL);
	ck_assert_int_eq(wg_mtu_check(576), 0);
	ck_assert_int_eq(wg_mtu_check(575), -EINVAL);
}
END_TEST

/*
 * GROUPS full-size packets at the largest MTU fill every group buffer (the
 * last one to its end); each arrives whole and decrypts.
 */
START_TEST(test_full_size_packets)
{
	uint8_t *pkt = malloc(65536), *buf = malloc(65536), *plain;
	struct wg_keypair *k = wg_peer_send_keypair(A.peer);
	unsigned i, got = 0;

	ck_assert_ptr_nonnull(k);
	for (i = 0; i < GROUPS; i++) {
		ipv4_udp(pkt, WG_MTU_MAX, (uint8_t)i);
		send_packet(&W, A.peer, k, &rx_addr, pkt, WG_MTU_MAX);
	}
	ck_assert_uint_eq(W.ng, GROUPS);
	flush_groups(&W);
	ck_assert_uint_eq(dp_counter(&D, DP_TX_PACKETS), GROUPS);
	ck_assert_uint_eq(dp_counter(&D, DP_DROP_SEND), 0);
	while (recv_open(buf, 65536, &plain) == WG_MTU_MAX) {
		ipv4_udp(pkt, WG_MTU_MAX, (uint8_t)got);
		ck_assert_int_eq(memcmp(plain, pkt, WG_MTU_MAX), 0);
		got++;
	}
	/* Without root the receive buffer may hold only a few of them. */
	ck_assert_uint_ge(got, 1);
	wg_keypair_put(k);
	free(pkt);
	free(buf);
}
END_TEST

/*
 * A packet larger than the MTU allows (65535 bytes, which used to be
 * written past its group buffer) is dropped and counted, even in the last
 * group; the groups before it are sent.
 */
START_TEST(test_oversize_dropped)
{
	uint8_t *pkt = malloc(65536), *buf = malloc(65536), *plain;
	struct wg_keypair *k = wg_peer_send_keypair(A.peer);
	unsigned i;

	ck_assert_ptr_nonnull(k);
	for (i = 0; i + 1 < GROUPS; i++) {
		ipv4_udp(pkt, WG_MTU_MAX, (uint8_t)i);
		send_packet(&W, A.peer, k, &rx_addr, pkt, WG_MTU_MAX);
	}
	ipv4_udp(pkt, 65535, 0);
	send_packet(&W, A.peer, k, &rx_addr, pkt, 65535);
	ipv4_udp(pkt, WG_MTU_MAX + 1, 0);
	send_packet(&W, A.peer, k, &rx_addr, pkt, WG_MTU_MAX + 1);
	ck_assert_uint_eq(dp_counter(&D, DP_DROP_BAD_PACKET), 2);
	ck_assert_uint_eq(W.ng, GROUPS - 1);
	flush_groups(&W);
	ck_assert_uint_eq(dp_counter(&D, DP_TX_PACKETS), GROUPS - 1);
	ck_assert_uint_eq(recv_open(buf, 65536, &plain), WG_MTU_MAX);
	/* Nor is one kept to wait for a handshake. */
	stage(&D, A.peer, pkt, 65535);
	ck_assert_uint_eq(dp_counter(&D, DP_DROP_BAD_PACKET), 3);
	wg_keypair_put(k);
	free(pkt);
	free(buf);
}
END_TEST

/*
 * A TSO super-packet segmented at the largest MTU: one full segment and a
 * short one, each in its own group, each a valid TCP/IPv4 packet.
 */
START_TEST(test_tso_at_max_mtu)
{
	uint8_t *pkt = malloc(65536), *buf = malloc(65536), *plain;
	struct wg_keypair *k = wg_peer_send_keypair(A.peer);
	struct virtio_net_hdr vh;
	size_t len = 65535, mss = WG_MTU_MAX - 40, n, i;

	ck_assert_ptr_nonnull(k);
	memset(pkt, 0, 40);
	pkt[0] = 0x45;
	off_put16(pkt + 2, (uint16_t)len);
	pkt[8] = 64;
	pkt[9] = IPPROTO_TCP;
	memcpy(pkt + 12, "\x0a\x64\x00\x01\x0a\x64\x00\x02", 8);
	off_put16(pkt + 20, 1000);
	off_put16(pkt + 22, 2000);
	off_put32(pkt + 24, 1);
	pkt[32] = 5 << 4;
	pkt[33] = 0x18;			/* ACK, PSH */
	for (i = 40; i < len; i++)
		pkt[i] = (uint8_t)i;
	memset(&vh, 0, sizeof(vh));
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = (uint16_t)mss;
	ck_assert_int_eq(segment_and_send(&W, A.peer, k, &rx_addr, &vh, pkt,
	    len), 0);
	ck_assert_uint_eq(W.ng, 2);
	flush_groups(&W);
	ck_assert_uint_eq(dp_counter(&D, DP_TX_PACKETS), 2);
	n = recv_open(buf, 65536, &plain);
	ck_assert_uint_eq(n, WG_MTU_MAX);
	ck_assert_int_eq(memcmp(plain + 40, pkt + 40, mss), 0);
	n = recv_open(buf, 65536, &plain);
	ck_assert_uint_eq(n, 40 + (len - 40 - mss));
	ck_assert_uint_eq(off_get32(plain + 24), 1 + mss);
	ck_assert_int_eq(memcmp(plain + 40, pkt + 40 + mss, n - 40), 0);
	/* gso_size beyond the limit is refused, not written. */
	vh.gso_size = (uint16_t)(mss + 16);
	ck_assert_int_eq(segment_and_send(&W, A.peer, k, &rx_addr, &vh, pkt,
	    len), -1);
	ck_assert_uint_eq(W.ng, 0);
	wg_keypair_put(k);
	free(pkt);
	free(buf);
}
END_TEST

/* dp_new refuses an MTU whose packets would not fit a UDP datagram. */
START_TEST(test_dp_new_mtu)
{
	struct dp_config c = { .mtu = WG_MTU_MAX + 1, .port = 0 };
	struct tun t;
	struct dp *dp = NULL;

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(dp_new(A.dev, &t, &c, &dp), -EINVAL);
	ck_assert_ptr_null(dp);
}
END_TEST

static Suite *
dataplane_suite(void)
{
	Suite *s = suite_create("dataplane");
	TCase *tc = tcase_create("send");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mtu_limit);
	tcase_add_test(tc, test_full_size_packets);
	tcase_add_test(tc, test_oversize_dropped);
	tcase_add_test(tc, test_tso_at_max_mtu);
	tcase_add_test(tc, test_dp_new_mtu);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dataplane_suite)
