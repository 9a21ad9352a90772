/* SPDX-License-Identifier: ISC */
/*
 * The data plane's send path (group buffers, TSO segmentation, sealing) at
 * the largest MTU: full-size packets are encrypted into the group buffers,
 * sent over loopback with sendmmsg and decrypted by a second device.
 * dataplane.c is compiled into this test (tx.c comes from libfzdp.a); run it
 * under ASan (build-asan, make check-unit) to catch any write past a group.
 *
 * The receive demultiplexer on a whole data plane (dp_new, dp_start, its
 * worker threads; a socketpair stands in for the TUN) over loopback: STUN
 * to its UDP port reaches the STUN queue with its sender and local
 * address, or is counted without a consumer; ChannelData from a relay
 * address and channel registered for a peer completes a handshake (the
 * reply, or under load the cookie reply, wrapped on the same channel; the
 * cookie is the relay's address) and carries data without moving the
 * peer's endpoint, or giving one to a peer without (a direct message still
 * roams); from an unregistered relay or channel, or authenticating as
 * another peer than the channel's, it is dropped and counted, and moves
 * nothing of that peer's.
 */
#include "dataplane.c"

#include <check.h>
#include <netinet/ip.h>

#include "check_util.h"
#include "dp_fixture.h"

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
static struct tx_path rx_path;		/* direct to rx_addr */

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
	rx_path.to = rx_addr;
	rx_path.chan = 0;

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
		tx_send_packet(&W, A.peer, k, &rx_path, pkt, WG_MTU_MAX);
	}
	ck_assert_uint_eq(W.ng, GROUPS);
	tx_flush(&W);
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
		tx_send_packet(&W, A.peer, k, &rx_path, pkt, WG_MTU_MAX);
	}
	ipv4_udp(pkt, 65535, 0);
	tx_send_packet(&W, A.peer, k, &rx_path, pkt, 65535);
	ipv4_udp(pkt, WG_MTU_MAX + 1, 0);
	tx_send_packet(&W, A.peer, k, &rx_path, pkt, WG_MTU_MAX + 1);
	ck_assert_uint_eq(dp_counter(&D, DP_DROP_BAD_PACKET), 2);
	ck_assert_uint_eq(W.ng, GROUPS - 1);
	tx_flush(&W);
	ck_assert_uint_eq(dp_counter(&D, DP_TX_PACKETS), GROUPS - 1);
	ck_assert_uint_eq(recv_open(buf, 65536, &plain), WG_MTU_MAX);
	/* Nor is one kept to wait for a handshake. */
	tx_stage(&D, A.peer, pkt, 65535);
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
	ck_assert_int_eq(tx_segment_and_send(&W, A.peer, k, &rx_path, &vh, pkt,
	    len), 0);
	ck_assert_uint_eq(W.ng, 2);
	tx_flush(&W);
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
	ck_assert_int_eq(tx_segment_and_send(&W, A.peer, k, &rx_path, &vh, pkt,
	    len), -EMSGSIZE);
	ck_assert_uint_eq(W.ng, 0);
	wg_keypair_put(k);
	free(pkt);
	free(buf);
}
END_TEST

/*
 * A relayed path: every GSO segment carries its own 4-byte ChannelData
 * header (channel, length of the WireGuard message, no padding), the
 * segment size counts it, and each unwraps to a valid data message.
 */
START_TEST(test_tso_relayed)
{
	uint8_t *pkt = malloc(65536), *buf = malloc(65536), *plain;
	struct wg_keypair *k = wg_peer_send_keypair(A.peer);
	struct tx_path rp = { .to = rx_addr, .chan = 0x4123 };
	struct virtio_net_hdr vh;
	union fz_sockaddr from;
	socklen_t fl;
	struct wg_peer *p;
	size_t len = 40 + 10 * 1200 + 100, mss = 1200, plen, i;
	unsigned got = 0;
	ssize_t n;

	ck_assert_ptr_nonnull(k);
	memset(pkt, 0, 40);
	pkt[0] = 0x45;
	off_put16(pkt + 2, (uint16_t)len);
	pkt[8] = 64;
	pkt[9] = IPPROTO_TCP;
	memcpy(pkt + 12, "\x0a\x64\x00\x01\x0a\x64\x00\x02", 8);
	off_put32(pkt + 24, 1);
	pkt[32] = 5 << 4;
	pkt[33] = 0x18;
	for (i = 40; i < len; i++)
		pkt[i] = (uint8_t)i;
	memset(&vh, 0, sizeof(vh));
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = (uint16_t)mss;
	ck_assert_int_eq(tx_segment_and_send(&W, A.peer, k, &rp, &vh, pkt,
	    len), 0);
	ck_assert_uint_eq(W.ng, 1);		/* one GSO group */
	ck_assert_uint_eq(W.g[0].nseg, 11);
	ck_assert_uint_eq(W.g[0].seg, 4 + WG_SEALED_LEN(40 + mss));
	ck_assert_uint_eq(W.g[0].chan, 0x4123);
	tx_flush(&W);
	for (;;) {
		fl = sizeof(from);
		n = recvfrom(rx, buf, 65536, MSG_DONTWAIT, &from.sa, &fl);
		if (n < 0)
			break;
		ck_assert_int_ge(n, 4 + WG_DATA_MIN_LEN);
		ck_assert_uint_eq(buf[0], 0x41);
		ck_assert_uint_eq(buf[1], 0x23);
		ck_assert_uint_eq(off_get16(buf + 2), (size_t)n - 4);
		ck_assert_uint_eq(dp_classify(buf, (size_t)n),
		    DP_PKT_CHANNEL_DATA);
		ck_assert_int_eq(wg_decrypt(B.dev, buf + 4, (size_t)n - 4,
		    &from, &plain, &plen, &p), 0);
		ck_assert_uint_eq(off_get32(plain + 24), 1 + got * mss);
		got++;
	}
	ck_assert_uint_eq(got, 11);
	/* a direct packet after it is a group of its own */
	ipv4_udp(pkt, 100, 1);
	tx_send_packet(&W, A.peer, k, &rp, pkt, 100);
	tx_send_packet(&W, A.peer, k, &rx_path, pkt, 100);
	ck_assert_uint_eq(W.ng, 2);
	tx_flush(&W);
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

/* --- a whole data plane: the receive demultiplexer --- */

static struct dp_fixture F;
static struct dp *G;			/* the data plane under test */
static struct wg_device *Gdev;
static union fz_sockaddr Gaddr;		/* 127.0.0.1:its port */

static void
dp_setup(void)
{
	ck_assert_int_eq(dp_fixture_new(&F, 1420, true), 0);
	G = F.dp;
	Gdev = F.dev;
	Gaddr = F.addr;
}

static void
dp_teardown(void)
{
	dp_fixture_free(&F);
	G = NULL;
	Gdev = NULL;
}

/* A UDP socket on addr (port 0: any), with its bound address. */
static int
udp_on(const char *addr, union fz_sockaddr *out)
{
	socklen_t sl = sizeof(*out);
	int fd;

	ck_assert_int_eq(addr_parse(addr, ADDR_PORT_OPTIONAL, out), 0);
	fd = socket(out->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	if (bind(fd, &out->sa, addr_len(&out->sa)) != 0) {
		close(fd);
		return -1;
	}
	ck_assert_int_eq(getsockname(fd, &out->sa, &sl), 0);
	return fd;
}

/* Waits up to 2 s for counter c to reach n. */
static bool
counter_reaches(enum dp_counter c, uint64_t n)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (dp_counter(G, c) >= n)
			return true;
		usleep(10000);
	}
	return false;
}

/* A Binding request: header only, a transaction id from seed. */
static void
stun_binding(uint8_t m[20], uint8_t seed)
{
	int i;

	memset(m, 0, 20);
	m[1] = 0x01;
	memcpy(m + 4, "\x21\x12\xa4\x42", 4);
	for (i = 8; i < 20; i++)
		m[i] = (uint8_t)(seed + i);
}

static void
stun_round(const char *client, const char *dpaddr, uint32_t sock)
{
	union fz_sockaddr me, to;
	struct pollfd pfd;
	struct dp_stun st;
	uint8_t m[20];
	uint64_t v;
	int fd, efd;

	ck_assert_int_eq(dp_stun_enable(G, &efd), 0);
	if ((fd = udp_on(client, &me)) < 0)
		return;				/* no IPv6 here */
	ck_assert_int_eq(addr_parse(dpaddr, ADDR_PORT_OPTIONAL, &to), 0);
	addr_set_port(&to.sa, dp_port(G));
	stun_binding(m, (uint8_t)sock);
	ck_assert_int_eq(sendto(fd, m, sizeof(m), 0, &to.sa,
	    addr_len(&to.sa)), (ssize_t)sizeof(m));
	pfd.fd = efd;
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	ck_assert_int_eq(read(efd, &v, sizeof(v)), (ssize_t)sizeof(v));
	ck_assert(dp_stun_take(G, &st));
	ck_assert_uint_eq(st.len, sizeof(m));
	ck_assert_mem_eq(st.data, m, sizeof(m));
	ck_assert_uint_eq(st.sock, sock);
	ck_assert_msg(addr_eq(&st.from.sa, &me.sa), "wrong sender");
	ck_assert_msg(addr_eq(&st.local.sa, &to.sa), "wrong local address");
	ck_assert(!dp_stun_take(G, &st));
	close(fd);
}

START_TEST(test_stun_up)
{
	union fz_sockaddr me;
	uint8_t m[20];
	int fd;

	/* No consumer yet (static mode): counted and dropped. */
	fd = udp_on("127.0.0.1:0", &me);
	stun_binding(m, 1);
	ck_assert_int_eq(sendto(fd, m, sizeof(m), 0, &Gaddr.sa,
	    addr_len(&Gaddr.sa)), (ssize_t)sizeof(m));
	ck_assert(counter_reaches(DP_DROP_STUN_NO_CONSUMER, 1));
	/* Not quite STUN (length field off): an unknown packet. */
	m[3] = 4;
	ck_assert_int_eq(sendto(fd, m, sizeof(m), 0, &Gaddr.sa,
	    addr_len(&Gaddr.sa)), (ssize_t)sizeof(m));
	ck_assert(counter_reaches(DP_DROP_UNKNOWN_PACKET, 1));
	close(fd);

	/* With one: queued with sender, local address and socket. */
	stun_round("127.0.0.1:0", "127.0.0.1", DP_SOCK_UDP4);
	stun_round("127.0.0.2:0", "127.0.0.2", DP_SOCK_UDP4);
	stun_round("[::1]:0", "::1", DP_SOCK_UDP6);
	ck_assert_uint_ge(dp_counter(G, DP_RX_STUN), 2);
	ck_assert_uint_eq(dp_counter(G, DP_DROP_STUN_NO_CONSUMER), 1);
}
END_TEST

START_TEST(test_stun_queue_full)
{
	union fz_sockaddr me;
	uint8_t m[20];
	struct dp_stun st;
	int fd, efd, i;
	unsigned n = 0;

	ck_assert_int_eq(dp_stun_enable(G, &efd), 0);
	fd = udp_on("127.0.0.1:0", &me);
	for (i = 0; i < DP_STUN_QUEUE + 10; i++) {
		stun_binding(m, (uint8_t)i);
		ck_assert_int_eq(sendto(fd, m, sizeof(m), 0, &Gaddr.sa,
		    addr_len(&Gaddr.sa)), (ssize_t)sizeof(m));
	}
	ck_assert(counter_reaches(DP_DROP_STUN_QUEUE_FULL, 10));
	while (dp_stun_take(G, &st))
		n++;
	ck_assert_uint_eq(n, DP_STUN_QUEUE);
	close(fd);
}
END_TEST

/* The client side of a relayed handshake. */
struct client {
	struct wg_device	*dev;
	struct wg_peer		*peer;		/* the gateway */
	struct wg_peer		*gpeer;		/* it, at the gateway */
	uint8_t			 pub[32];
};

static void
client_new(struct client *c, uint8_t fill)
{
	uint8_t k[32], gpub[32];

	memset(k, fill, sizeof(k));
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
	wg_key_public(k, c->pub);
	ck_assert_int_eq(wg_device_new(k, &c->dev), 0);
	wg_device_public_key(Gdev, gpub);
	ck_assert_int_eq(wg_peer_add(c->dev, gpub, &c->peer), 0);
	ck_assert_int_eq(dp_peer_add(G, c->pub, &c->gpeer), 0);
}

/* Sends c's initiation from fd wrapped on channel ch; 0 or the reply. */
static ssize_t
relayed_initiation(struct client *c, int fd, uint16_t ch, uint8_t *reply,
    size_t cap)
{
	uint8_t m[4 + WG_INITIATION_LEN];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	m[0] = (uint8_t)(ch >> 8);
	m[1] = (uint8_t)ch;
	m[2] = 0;
	m[3] = WG_INITIATION_LEN;
	ck_assert_int_eq(wg_create_initiation(c->peer, m + 4), 0);
	ck_assert_int_eq(sendto(fd, m, sizeof(m), 0, &Gaddr.sa,
	    addr_len(&Gaddr.sa)), (ssize_t)sizeof(m));
	/* Only a ChannelData reply counts (the gateway's timers may send
	 * the peer's endpoint something else). */
	while (poll(&pfd, 1, 300) == 1) {
		ssize_t n = recv(fd, reply, cap, 0);

		if (n >= 4 && reply[0] >= 0x40 && reply[0] <= 0x4f)
			return n;
	}
	return 0;
}

START_TEST(test_channeldata_handshake)
{
	struct client c, other;
	union fz_sockaddr relay, stranger, direct, ep;
	uint8_t reply[256], out[WG_INITIATION_LEN];
	struct wg_hs_result r;
	int rfd, sfd;
	ssize_t n;

	client_new(&c, 0x61);
	client_new(&other, 0x62);
	rfd = udp_on("127.0.0.1:0", &relay);
	sfd = udp_on("127.0.0.1:0", &stranger);
	ck_assert_int_eq(addr_parse("192.0.2.9:51820", ADDR_PORT_OPTIONAL,
	    &direct), 0);
	wg_peer_set_endpoint(c.gpeer, &direct);
	ck_assert_int_eq(dp_relay_channel_add(G, &relay, 0x4001, c.gpeer), 0);
	ck_assert_int_eq(dp_relay_channel_add(G, &relay, 0x4002, other.gpeer),
	    0);
	ck_assert_int_eq(dp_relay_channel_add(G, &relay, 0x4001, other.gpeer),
	    -EEXIST);
	ck_assert_int_eq(dp_relay_channel_add(G, &relay, 0x3fff, c.gpeer),
	    -EINVAL);

	/* From an unregistered relay address: dropped, counted. */
	ck_assert_int_eq(relayed_initiation(&c, sfd, 0x4001, reply,
	    sizeof(reply)), 0);
	ck_assert(counter_reaches(DP_DROP_UNKNOWN_CHANNEL, 1));
	/* The right relay, an unbound channel: the same. */
	ck_assert_int_eq(relayed_initiation(&c, rfd, 0x4003, reply,
	    sizeof(reply)), 0);
	ck_assert(counter_reaches(DP_DROP_UNKNOWN_CHANNEL, 2));

	/* The registered relay and channel: the reply comes back wrapped. */
	n = relayed_initiation(&c, rfd, 0x4001, reply, sizeof(reply));
	ck_assert_int_eq(n, 4 + WG_RESPONSE_LEN);
	ck_assert_uint_eq(reply[0], 0x40);
	ck_assert_uint_eq(reply[1], 0x01);
	ck_assert_uint_eq(off_get16(reply + 2), WG_RESPONSE_LEN);
	ck_assert_int_eq(wg_handle_handshake(c.dev, reply + 4,
	    WG_RESPONSE_LEN, &Gaddr, out, &r), 0);
	ck_assert(r.established);
	ck_assert_ptr_eq(r.peer, c.peer);
	ck_assert_uint_eq(dp_counter(G, DP_RX_CHANNEL_DATA), 1);
	ck_assert_uint_eq(dp_counter(G, DP_DROP_UNKNOWN_CHANNEL), 2);
	/* The direct endpoint stays: the relay does not become it. */
	ck_assert(wg_peer_endpoint(c.gpeer, &ep));
	ck_assert(addr_eq(&ep.sa, &direct.sa));
	/* The channel of another peer: no reply (after the 20 ms within
	 * which WireGuard takes one initiation per peer). */
	usleep(50000);
	ck_assert_int_eq(relayed_initiation(&c, rfd, 0x4002, reply,
	    sizeof(reply)), 0);
	ck_assert(counter_reaches(DP_DROP_CHANNEL_PEER, 1));
	ck_assert_uint_eq(dp_counter(G, DP_DROP_HANDSHAKE), 0);
	ck_assert_uint_eq(dp_counter(G, DP_RX_CHANNEL_DATA), 2);

	/* A removed peer's channels go with it. */
	dp_peer_remove(G, other.gpeer);
	ck_assert_int_eq(dp_relay_channel_remove(G, &relay, 0x4002), -ENOENT);
	ck_assert_int_eq(dp_relay_channel_remove(G, &relay, 0x4001), 0);
	ck_assert_int_eq(relayed_initiation(&c, rfd, 0x4001, reply,
	    sizeof(reply)), 0);
	ck_assert(counter_reaches(DP_DROP_UNKNOWN_CHANNEL, 3));
	close(rfd);
	close(sfd);
	wg_device_free(c.dev);
	wg_device_free(other.dev);
}
END_TEST

/*
 * STUN wrapped in ChannelData goes up to fz-controld whole, from the
 * relay: on a channel no peer has (ICE checks through a relay before any
 * path) and inside a peer's channel alike; WireGuard on an unknown channel
 * stays dropped.  And fz-controld's datagrams go out of the data plane's
 * sockets (dp_send_dgram).
 */
START_TEST(test_channeldata_stun_up)
{
	struct client c;
	union fz_sockaddr relay;
	struct dp_stun st;
	uint8_t m[4 + 20], got[64];
	int rfd, efd;
	ssize_t n;

	client_new(&c, 0x71);
	ck_assert_int_eq(dp_stun_enable(G, &efd), 0);
	while (dp_stun_take(G, &st))
		;
	rfd = udp_on("127.0.0.1:0", &relay);
	ck_assert_int_eq(dp_relay_channel_add(G, &relay, 0x4005, c.gpeer), 0);
	m[0] = 0x40;
	m[1] = 0x09;				/* nobody's channel */
	m[2] = 0;
	m[3] = 20;
	stun_binding(m + 4, 3);
	ck_assert_int_eq(sendto(rfd, m, sizeof(m), 0, &Gaddr.sa,
	    addr_len(&Gaddr.sa)), (ssize_t)sizeof(m));
	ck_assert(counter_reaches(DP_RX_STUN, 1));
	ck_assert(dp_stun_take(G, &st));
	ck_assert_uint_eq(st.len, sizeof(m));
	ck_assert_int_eq(memcmp(st.data, m, sizeof(m)), 0);
	ck_assert(addr_eq(&st.from.sa, &relay.sa));
	ck_assert_uint_eq(st.sock, DP_SOCK_UDP4);
	m[1] = 0x05;				/* the peer's channel */
	ck_assert_int_eq(sendto(rfd, m, sizeof(m), 0, &Gaddr.sa,
	    addr_len(&Gaddr.sa)), (ssize_t)sizeof(m));
	ck_assert(counter_reaches(DP_RX_STUN, 2));
	ck_assert(dp_stun_take(G, &st));
	ck_assert_int_eq(memcmp(st.data, m, sizeof(m)), 0);
	ck_assert(!dp_stun_take(G, &st));

	/* down: out of the IPv4 socket, from the data plane's port */
	ck_assert(dp_has_sock(G, DP_SOCK_UDP4));
	ck_assert(!dp_has_sock(G, 5));
	ck_assert_int_eq(dp_send_dgram(G, DP_SOCK_UDP4, &relay, m, 24), 0);
	{
		union fz_sockaddr from;
		socklen_t fl = sizeof(from);
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };

		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
		n = recvfrom(rfd, got, sizeof(got), 0, &from.sa, &fl);
		ck_assert_int_eq(n, 24);
		ck_assert_uint_eq(addr_port(&from.sa), dp_port(G));
	}
	ck_assert_int_eq(dp_send_dgram(G, 5, &relay, m, 24), -EBADF);
	if (dp_has_sock(G, DP_SOCK_UDP6))
		ck_assert_int_eq(dp_send_dgram(G, DP_SOCK_UDP6, &relay, m, 24),
		    -EAFNOSUPPORT);
	/* the path API: a channel out of range, another peer's channel */
	ck_assert_int_eq(dp_peer_set_path(G, c.gpeer, &relay, 0x3fff),
	    -EINVAL);
	ck_assert_int_eq(dp_peer_set_path(G, c.gpeer, &relay, 0x4006), 0);
	{
		union fz_sockaddr ep;
		uint16_t ch;

		ck_assert(wg_peer_path(c.gpeer, &ep, &ch));
		ck_assert_uint_eq(ch, 0x4006);
		ck_assert(addr_eq(&ep.sa, &relay.sa));
		/*
		 * The old channel still receives for a while (a reply the
		 * peer sent before it saw the change), then goes.
		 */
		ck_assert_int_eq(dp_relay_channel_remove(G, &relay, 0x4005),
		    0);
		ck_assert_int_eq(dp_peer_set_path(G, c.gpeer, &Gaddr, 0), 0);
		ck_assert(wg_peer_path(c.gpeer, &ep, &ch));
		ck_assert_uint_eq(ch, 0);
		ck_assert_int_eq(dp_relay_channel_remove(G, &relay, 0x4006),
		    0);
		ck_assert_int_eq(dp_relay_channel_remove(G, &relay, 0x4006),
		    -ENOENT);
	}
	close(rfd);
	dp_peer_remove(G, c.gpeer);
	wg_device_free(c.dev);
}
END_TEST

/* Sends a keepalive from c (it has a session) from fd, wrapped on ch. */
static void
relayed_keepalive(struct client *c, int fd, uint16_t ch)
{
	uint8_t m[4 + WG_DATA_MIN_LEN + 16];
	struct wg_keypair *k = wg_peer_send_keypair(c->peer);
	size_t len;

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(wg_encrypt(k, m + 4, 0, sizeof(m) - 4, &len), 0);
	wg_keypair_put(k);
	ck_assert_uint_eq(len, WG_DATA_MIN_LEN);	/* a multiple of 4 */
	m[0] = (uint8_t)(ch >> 8);
	m[1] = (uint8_t)ch;
	m[2] = 0;
	m[3] = (uint8_t)len;
	ck_assert_int_eq(sendto(fd, m, 4 + len, 0, &Gaddr.sa,
	    addr_len(&Gaddr.sa)), (ssize_t)(4 + len));
}

/* The same, unwrapped (direct). */
static void
direct_keepalive(struct client *c, int fd)
{
	uint8_t m[WG_DATA_MIN_LEN + 16];
	struct wg_keypair *k = wg_peer_send_keypair(c->peer);
	size_t len;

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(wg_encrypt(k, m, 0, sizeof(m), &len), 0);
	wg_keypair_put(k);
	ck_assert_int_eq(sendto(fd, m, len, 0, &Gaddr.sa,
	    addr_len(&Gaddr.sa)), (ssize_t)len);
}

/* Waits up to 2 s for the gateway to have received n bytes from p. */
static bool
rx_bytes_reach(struct wg_peer *p, uint64_t n)
{
	struct wg_peer_stats st;
	int i;

	for (i = 0; i < 200; i++) {
		wg_peer_stats(p, &st);
		if (st.rx_bytes >= n)
			return true;
		usleep(10000);
	}
	return false;
}

/* Completes c's relayed handshake on ch from fd. */
static void
relayed_handshake(struct client *c, int fd, uint16_t ch)
{
	uint8_t reply[256], out[WG_INITIATION_LEN];
	struct wg_hs_result r;

	ck_assert_int_eq(relayed_initiation(c, fd, ch, reply, sizeof(reply)),
	    4 + WG_RESPONSE_LEN);
	ck_assert_uint_eq(off_get16(reply), ch);	/* the same channel */
	ck_assert_int_eq(wg_handle_handshake(c->dev, reply + 4,
	    WG_RESPONSE_LEN, &Gaddr, out, &r), 0);
	ck_assert(r.established);
}

/*
 * Relayed traffic never moves the endpoint to the relay: not for a peer
 * with none yet (it gets none), not for one with a direct endpoint; a
 * direct message still roams.
 */
START_TEST(test_channeldata_keeps_endpoint)
{
	struct client c;
	union fz_sockaddr relay, roamed, direct, ep;
	uint64_t seen;
	int rfd, dfd;

	client_new(&c, 0x63);
	rfd = udp_on("127.0.0.1:0", &relay);
	dfd = udp_on("127.0.0.1:0", &roamed);
	ck_assert_int_eq(dp_relay_channel_add(G, &relay, 0x4010, c.gpeer), 0);

	/* No endpoint: the handshake and data, relayed, give it none. */
	relayed_handshake(&c, rfd, 0x4010);
	ck_assert(!wg_peer_endpoint(c.gpeer, &ep));
	relayed_keepalive(&c, rfd, 0x4010);
	ck_assert(rx_bytes_reach(c.gpeer, WG_DATA_MIN_LEN));
	ck_assert(!wg_peer_endpoint(c.gpeer, &ep));
	ck_assert_uint_eq(dp_counter(G, DP_DROP_DECRYPT), 0);

	/* A direct endpoint stays through relayed data. */
	ck_assert_int_eq(addr_parse("192.0.2.10:51820", ADDR_PORT_OPTIONAL,
	    &direct), 0);
	wg_peer_set_endpoint(c.gpeer, &direct);
	relayed_keepalive(&c, rfd, 0x4010);
	ck_assert(rx_bytes_reach(c.gpeer, 2 * WG_DATA_MIN_LEN));
	ck_assert(wg_peer_endpoint(c.gpeer, &ep));
	ck_assert(addr_eq(&ep.sa, &direct.sa));

	/* A direct keepalive roams; relayed ones after it keep that. */
	direct_keepalive(&c, dfd);
	ck_assert(rx_bytes_reach(c.gpeer, 3 * WG_DATA_MIN_LEN));
	ck_assert(wg_peer_endpoint(c.gpeer, &ep));
	ck_assert(addr_eq(&ep.sa, &roamed.sa));
	relayed_keepalive(&c, rfd, 0x4010);
	ck_assert(rx_bytes_reach(c.gpeer, 4 * WG_DATA_MIN_LEN));
	ck_assert(wg_peer_endpoint(c.gpeer, &ep));
	ck_assert(addr_eq(&ep.sa, &roamed.sa));
	seen = dp_counter(G, DP_RX_CHANNEL_DATA);
	ck_assert_uint_eq(seen, 4);
	ck_assert_uint_eq(dp_counter(G, DP_DROP_CHANNEL_PEER), 0);
	close(rfd);
	close(dfd);
	wg_device_free(c.dev);
}
END_TEST

/*
 * On peer A's channel, a message that authenticates as peer B (an
 * initiation, or data on B's session) is dropped and counted, and moves
 * nothing of B's: no session from the initiation, no endpoint, no bytes.
 */
START_TEST(test_channeldata_other_peer)
{
	struct client a, b;
	union fz_sockaddr relay, bdirect, ep;
	struct wg_peer_stats st;
	uint8_t reply[256];
	int rfd;

	client_new(&a, 0x64);
	client_new(&b, 0x65);
	rfd = udp_on("127.0.0.1:0", &relay);
	ck_assert_int_eq(addr_parse("192.0.2.11:51820", ADDR_PORT_OPTIONAL,
	    &bdirect), 0);
	wg_peer_set_endpoint(b.gpeer, &bdirect);
	ck_assert_int_eq(dp_relay_channel_add(G, &relay, 0x4020, a.gpeer), 0);
	ck_assert_int_eq(dp_relay_channel_add(G, &relay, 0x4021, b.gpeer), 0);

	/* B's initiation on A's channel: no reply, no session for B. */
	ck_assert_int_eq(relayed_initiation(&b, rfd, 0x4020, reply,
	    sizeof(reply)), 0);
	ck_assert(counter_reaches(DP_DROP_CHANNEL_PEER, 1));
	ck_assert(!wg_peer_has_session(b.gpeer));
	ck_assert(wg_peer_endpoint(b.gpeer, &ep));
	ck_assert(addr_eq(&ep.sa, &bdirect.sa));

	/* B's own channel: a session; then B's data on A's channel. */
	usleep(50000);			/* one initiation per 20 ms per peer */
	relayed_handshake(&b, rfd, 0x4021);
	wg_peer_stats(b.gpeer, &st);
	ck_assert_uint_eq(st.rx_bytes, 0);
	relayed_keepalive(&b, rfd, 0x4020);
	ck_assert(counter_reaches(DP_DROP_CHANNEL_PEER, 2));
	wg_peer_stats(b.gpeer, &st);
	ck_assert_uint_eq(st.rx_bytes, 0);
	ck_assert(wg_peer_endpoint(b.gpeer, &ep));
	ck_assert(addr_eq(&ep.sa, &bdirect.sa));
	ck_assert_uint_eq(dp_counter(G, DP_DROP_DECRYPT), 0);
	ck_assert_uint_eq(dp_counter(G, DP_DROP_HANDSHAKE), 0);
	/* Nor did it confirm B's new session (the responder's next). */
	ck_assert(!wg_peer_has_session(b.gpeer));
	/* On its own channel the same kind of message is taken. */
	relayed_keepalive(&b, rfd, 0x4021);
	ck_assert(rx_bytes_reach(b.gpeer, WG_DATA_MIN_LEN));
	ck_assert(wg_peer_has_session(b.gpeer));
	ck_assert(wg_peer_endpoint(b.gpeer, &ep));
	ck_assert(addr_eq(&ep.sa, &bdirect.sa));
	ck_assert_uint_eq(dp_counter(G, DP_DROP_CHANNEL_PEER), 2);
	close(rfd);
	wg_device_free(a.dev);
	wg_device_free(b.dev);
}
END_TEST

/* Keeps the gateway under load for at least the next second. */
static void
gateway_under_load(void)
{
	/* The handshake thread finds the queue loaded for a second. */
	hsq_set_loaded(&G->hsq, time_mono_ns() + NSEC_PER_SEC);
	wg_device_set_under_load(Gdev, true);
}

/*
 * Under load a relayed initiation gets a cookie reply, wrapped on the same
 * channel; the cookie is the relay's address and port, so the client's next
 * initiation, relayed again, passes with it; the endpoint stays.
 */
START_TEST(test_channeldata_cookie_reply)
{
	struct client c;
	union fz_sockaddr relay, direct, ep;
	uint8_t reply[256], out[WG_INITIATION_LEN];
	struct wg_hs_result r;
	int rfd;

	client_new(&c, 0x66);
	rfd = udp_on("127.0.0.1:0", &relay);
	ck_assert_int_eq(addr_parse("192.0.2.12:51820", ADDR_PORT_OPTIONAL,
	    &direct), 0);
	wg_peer_set_endpoint(c.gpeer, &direct);
	ck_assert_int_eq(dp_relay_channel_add(G, &relay, 0x4030, c.gpeer), 0);

	gateway_under_load();
	ck_assert_int_eq(relayed_initiation(&c, rfd, 0x4030, reply,
	    sizeof(reply)), 4 + WG_COOKIE_LEN);
	ck_assert_uint_eq(off_get16(reply), 0x4030);
	ck_assert_uint_eq(off_get16(reply + 2), WG_COOKIE_LEN);
	ck_assert_int_eq(wg_handle_handshake(c.dev, reply + 4, WG_COOKIE_LEN,
	    &Gaddr, out, &r), 0);
	ck_assert_ptr_eq(r.peer, c.peer);

	gateway_under_load();
	ck_assert_int_eq(relayed_initiation(&c, rfd, 0x4030, reply,
	    sizeof(reply)), 4 + WG_RESPONSE_LEN);
	ck_assert_uint_eq(off_get16(reply), 0x4030);
	ck_assert_int_eq(wg_handle_handshake(c.dev, reply + 4,
	    WG_RESPONSE_LEN, &Gaddr, out, &r), 0);
	ck_assert(r.established);
	ck_assert(wg_peer_endpoint(c.gpeer, &ep));
	ck_assert(addr_eq(&ep.sa, &direct.sa));
	ck_assert_uint_eq(dp_counter(G, DP_DROP_HANDSHAKE), 0);
	ck_assert_uint_eq(dp_counter(G, DP_DROP_HS_RATELIMITED), 0);
	close(rfd);
	wg_device_free(c.dev);
}
END_TEST

/* Waits up to ms for a datagram on fd whose first byte is type. */
static ssize_t
recv_type(int fd, uint8_t type, uint8_t *buf, size_t cap, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (poll(&pfd, 1, ms) == 1) {
		ssize_t n = recv(fd, buf, cap, 0);

		if (n > 0 && buf[0] == type)
			return n;
	}
	return 0;
}

/*
 * An initiation that comes before the peer is set (the initiator's ICE
 * agent concluded a moment first): refused, held; once the peer is set
 * (dp_held_init_retry, after PEER_SET) answered at once, direct and on a
 * relay channel, not at the initiator's retry 5 s later.  One for a key
 * nobody has stays held through another peer's PEER_SET.
 */
START_TEST(test_initiation_before_peer)
{
	struct client c, d, e;
	union fz_sockaddr ca, relay;
	uint8_t m[4 + WG_INITIATION_LEN], reply[256], out[WG_INITIATION_LEN];
	struct wg_hs_result r;
	struct wg_peer *gp;
	uint8_t k[32], gpub[32];
	int cfd, rfd;
	ssize_t n;

	/* c: a client the gateway does not know yet. */
	memset(k, 0x67, sizeof(k));
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
	wg_key_public(k, c.pub);
	ck_assert_int_eq(wg_device_new(k, &c.dev), 0);
	wg_device_public_key(Gdev, gpub);
	ck_assert_int_eq(wg_peer_add(c.dev, gpub, &c.peer), 0);
	client_new(&d, 0x68);		/* known: no held initiation */
	cfd = udp_on("127.0.0.1:0", &ca);
	ck_assert_int_ge(cfd, 0);

	ck_assert_int_eq(wg_create_initiation(c.peer, m), 0);
	ck_assert_int_eq(sendto(cfd, m, WG_INITIATION_LEN, 0, &Gaddr.sa,
	    addr_len(&Gaddr.sa)), WG_INITIATION_LEN);
	ck_assert(counter_reaches(DP_DROP_HANDSHAKE, 1));
	ck_assert_int_eq(recv_type(cfd, 2, reply, sizeof(reply), 100), 0);
	/* Another peer's PEER_SET: still nobody's, kept. */
	ck_assert_uint_eq(dp_held_init_retry(G), 0);
	ck_assert_int_eq(recv_type(cfd, 2, reply, sizeof(reply), 50), 0);

	/* Its PEER_SET: the response, at once, to where it came from. */
	ck_assert_int_eq(dp_peer_add(G, c.pub, &gp), 0);
	ck_assert_int_eq(dp_peer_set_path(G, gp, &ca, 0), 0);
	ck_assert_uint_eq(dp_held_init_retry(G), 1);
	n = recv_type(cfd, 2, reply, sizeof(reply), 500);
	ck_assert_int_eq(n, WG_RESPONSE_LEN);
	ck_assert_int_eq(wg_handle_handshake(c.dev, reply, WG_RESPONSE_LEN,
	    &Gaddr, out, &r), 0);
	ck_assert(r.established);
	ck_assert_ptr_eq(r.peer, c.peer);
	ck_assert_uint_eq(dp_held_init_retry(G), 0);	/* answered once */

	/* Relayed, on a channel not registered yet: held, then answered on
	 * it once the path through the relay is set. */
	memset(k, 0x69, sizeof(k));
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
	wg_key_public(k, e.pub);
	ck_assert_int_eq(wg_device_new(k, &e.dev), 0);
	ck_assert_int_eq(wg_peer_add(e.dev, gpub, &e.peer), 0);
	rfd = udp_on("127.0.0.1:0", &relay);
	ck_assert_int_ge(rfd, 0);
	ck_assert_int_eq(relayed_initiation(&e, rfd, 0x4040, reply,
	    sizeof(reply)), 0);
	ck_assert_int_eq(dp_peer_add(G, e.pub, &e.gpeer), 0);
	ck_assert_int_eq(dp_peer_set_path(G, e.gpeer, &relay, 0x4040), 0);
	ck_assert_uint_eq(dp_held_init_retry(G), 1);
	n = recv_type(rfd, 0x40, reply, sizeof(reply), 500);
	ck_assert_int_eq(n, 4 + WG_RESPONSE_LEN);
	ck_assert_uint_eq(off_get16(reply), 0x4040);
	ck_assert_int_eq(wg_handle_handshake(e.dev, reply + 4,
	    WG_RESPONSE_LEN, &Gaddr, out, &r), 0);
	ck_assert(r.established);
	close(cfd);
	close(rfd);
	wg_device_free(c.dev);
	wg_device_free(d.dev);
	wg_device_free(e.dev);
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
	tcase_add_test(tc, test_tso_relayed);
	tcase_add_test(tc, test_dp_new_mtu);
	suite_add_tcase(s, tc);
	tc = tcase_create("receive");
	tcase_add_checked_fixture(tc, dp_setup, dp_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_stun_up);
	tcase_add_test(tc, test_stun_queue_full);
	tcase_add_test(tc, test_channeldata_handshake);
	tcase_add_test(tc, test_channeldata_stun_up);
	tcase_add_test(tc, test_channeldata_keeps_endpoint);
	tcase_add_test(tc, test_channeldata_other_peer);
	tcase_add_test(tc, test_channeldata_cookie_reply);
	tcase_add_test(tc, test_initiation_before_peer);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dataplane_suite)
