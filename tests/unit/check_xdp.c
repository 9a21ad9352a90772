/* SPDX-License-Identifier: ISC */
/*
 * The XDP TURN router under BPF_PROG_TEST_RUN, no network: every case is
 * a hand-built frame in and the frame expected out, built independently
 * here (headers from the RFCs, checksums summed in full), compared byte
 * for byte, and the output's checksums verified again on their own.
 * The maps are filled through fz-relayd's own relay_xdp_channel_up.
 * Needs root (BPF); skipped otherwise.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fztime.h"
#include "log.h"
#include "relay.h"
#include "xdp.h"

static struct relay_xdp *X;
static int prog_fd;

struct ep {
	int		fam;
	uint8_t		ip[16];
	uint16_t	port;
};

static struct ep
E(const char *ip, uint16_t port)
{
	struct ep e;

	memset(&e, 0, sizeof(e));
	if (inet_pton(AF_INET, ip, e.ip) == 1)
		e.fam = 4;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, e.ip), 1);
		e.fam = 6;
	}
	e.port = port;
	return e;
}

static const uint8_t MAC_A[6] = { 2, 0, 0, 0, 0, 0xa };
static const uint8_t MAC_R[6] = { 2, 0, 0, 0, 0, 0xb };

/* Big-endian 16-bit word sum, the plain definition. */
static uint32_t
wsum(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t
fin(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

enum { CS_FULL, CS_ZERO, CS_PARTIAL };

struct hdr {
	uint8_t		ttl, tos;
	uint16_t	id, frag;
	uint32_t	flow;		/* IPv6 flow label */
	int		csum;		/* CS_* */
	uint8_t		proto;		/* 0: UDP */
	bool		options;	/* an IPv4 NOP option word */
};

/* Builds Ethernet + IPv4/IPv6 + UDP + payload; returns the length. */
static size_t
frame(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, const struct ep *s,
    const struct ep *d, const struct hdr *h, const uint8_t *pl, size_t plen)
{
	size_t ipl = s->fam == 4 ? (h->options ? 24 : 20) : 40, off = 14;
	size_t ulen = 8 + plen;
	uint8_t *ip = b + 14, *u;
	uint32_t ps;

	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	b[12] = s->fam == 4 ? 0x08 : 0x86;
	b[13] = s->fam == 4 ? 0x00 : 0xdd;
	memset(ip, 0, ipl);
	if (s->fam == 4) {
		ip[0] = (uint8_t)(0x40 | (ipl / 4));
		ip[1] = h->tos;
		ip[2] = (uint8_t)((ipl + ulen) >> 8);
		ip[3] = (uint8_t)(ipl + ulen);
		ip[4] = (uint8_t)(h->id >> 8);
		ip[5] = (uint8_t)h->id;
		ip[6] = (uint8_t)(h->frag >> 8);
		ip[7] = (uint8_t)h->frag;
		ip[8] = h->ttl;
		ip[9] = h->proto ? h->proto : 17;
		memcpy(ip + 12, s->ip, 4);
		memcpy(ip + 16, d->ip, 4);
		if (h->options)
			memset(ip + 20, 1, 4);
		{
			uint16_t c = fin(wsum(ip, ipl, 0));

			ip[10] = (uint8_t)(c >> 8);
			ip[11] = (uint8_t)c;
		}
	} else {
		uint32_t v = 0x60000000u | (uint32_t)h->tos << 20 | h->flow;

		ip[0] = (uint8_t)(v >> 24);
		ip[1] = (uint8_t)(v >> 16);
		ip[2] = (uint8_t)(v >> 8);
		ip[3] = (uint8_t)v;
		ip[4] = (uint8_t)(ulen >> 8);
		ip[5] = (uint8_t)ulen;
		ip[6] = h->proto ? h->proto : 17;
		ip[7] = h->ttl;
		memcpy(ip + 8, s->ip, 16);
		memcpy(ip + 24, d->ip, 16);
	}
	off += ipl;
	u = b + off;
	u[0] = (uint8_t)(s->port >> 8);
	u[1] = (uint8_t)s->port;
	u[2] = (uint8_t)(d->port >> 8);
	u[3] = (uint8_t)d->port;
	u[4] = (uint8_t)(ulen >> 8);
	u[5] = (uint8_t)ulen;
	u[6] = u[7] = 0;
	memcpy(u + 8, pl, plen);
	/* pseudo-header */
	ps = wsum(s->ip, s->fam == 4 ? 4 : 16, 0);
	ps = wsum(d->ip, s->fam == 4 ? 4 : 16, ps);
	ps += 17 + (uint32_t)ulen;
	if (h->csum == CS_FULL) {
		uint16_t c = fin(wsum(u, ulen, ps));

		if (c == 0)
			c = 0xffff;
		u[6] = (uint8_t)(c >> 8);
		u[7] = (uint8_t)c;
	} else if (h->csum == CS_PARTIAL) {
		uint16_t c = (uint16_t)~fin(ps);	/* the folded pseudo sum */

		u[6] = (uint8_t)(c >> 8);
		u[7] = (uint8_t)c;
	}
	return off + ulen;
}

/* Independent check of an output frame's IPv4 and UDP checksums. */
static void
verify(const uint8_t *b, size_t n)
{
	int v4 = b[12] == 0x08;
	size_t ipl = v4 ? 20 : 40;
	const uint8_t *ip = b + 14, *u = b + 14 + ipl;
	size_t ulen = (size_t)(u[4] << 8 | u[5]);
	uint32_t ps;

	ck_assert_uint_eq(14 + ipl + ulen, n);
	if (v4)
		ck_assert_uint_eq(fin(wsum(ip, 20, 0)), 0);
	if (v4 && u[6] == 0 && u[7] == 0)
		return;
	ps = wsum(ip + (v4 ? 12 : 8), v4 ? 8 : 32, 0) + 17 + (uint32_t)ulen;
	ck_assert_uint_eq(fin(wsum(u, ulen, ps)), 0);
}

static int
run(const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in =
	    (__u32)inlen, .data_out = out, .data_size_out = 2048,
	    .repeat = 1);

	ck_assert_int_eq(bpf_prog_test_run_opts(prog_fd, &o), 0);
	*outlen = o.data_size_out;
	return (int)o.retval;
}

/*
 * Binds a channel the way fz-relayd does (relay_xdp_channel_up), usable
 * until perm_expires on the relay's clock (UINT64_MAX: always).
 */
static struct relay_channel *
bind_channel_until(const struct ep *client, uint16_t chan,
    const struct ep *peer, uint16_t alloc_port, uint64_t perm_expires)
{
	static struct relay_alloc a[16];
	static struct relay_channel c[16];
	static int n;
	struct relay_alloc *al = &a[n];
	struct relay_channel *ch = &c[n++];

	memset(al, 0, sizeof(*al));
	memset(ch, 0, sizeof(*ch));
	al->client.fam = (uint8_t)client->fam;
	al->client.port = htons(client->port);
	memcpy(al->client.ip, client->ip, 16);
	al->port = alloc_port;
	ch->alloc = al;
	ch->number = chan;
	ch->peer.fam = (uint8_t)peer->fam;
	ch->peer.port = htons(peer->port);
	memcpy(ch->peer.ip, peer->ip, 16);
	ch->expires = UINT64_MAX;
	ch->perm_expires = perm_expires;
	ck_assert_int_eq(relay_xdp_channel_up(X, ch), 0);
	return ch;
}

static void
bind_channel(const struct ep *client, uint16_t chan, const struct ep *peer,
    uint16_t alloc_port)
{
	(void)bind_channel_until(client, chan, peer, alloc_port, UINT64_MAX);
}

static uint8_t PAY[1200];

static size_t
chdata(uint8_t *b, uint16_t chan, size_t n)
{
	b[0] = (uint8_t)(chan >> 8);
	b[1] = (uint8_t)chan;
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	memcpy(b + 4, PAY, n);
	return n + 4;
}

static struct ep RELAY4, RELAY6, CA, CB, CC, CD, CE, CF, CG, CH, PA, PB, PC,
    PD;

static void
setup(void)
{
	struct relay_xdp_config c;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(PAY); i++)
		PAY[i] = (uint8_t)(i * 7 + 3);
	ck_assert_int_eq(log_init("check_xdp", LOG_FORMAT_TEXT, "error"), 0);
	RELAY4 = E("203.0.113.1", 3478);
	RELAY6 = E("2001:db8::1", 3478);
	memset(&c, 0, sizeof(c));
	c.relay_port = 3478;
	c.port_lo = 49152;
	c.port_hi = 65535;
	c.have_int4 = c.have_int6 = c.have_pub4 = c.have_pub6 = true;
	ck_assert_int_eq(addr_parse("203.0.113.1", ADDR_PORT_NONE, &c.int4), 0);
	ck_assert_int_eq(addr_parse("2001:db8::1", ADDR_PORT_NONE, &c.int6), 0);
	c.pub4 = c.int4;
	c.pub6 = c.int6;
	ck_assert_int_eq(relay_xdp_open(&c, &X, err, sizeof(err)), 0);
	prog_fd = relay_xdp_prog_fd(X);
	ck_assert_int_ge(prog_fd, 0);

	CA = E("192.0.2.10", 40000);  PA = E("198.51.100.20", 5000);
	CB = E("2001:db8:c::10", 40001); PB = E("198.51.100.21", 5001);
	CC = E("192.0.2.11", 40002);  PC = E("2001:db8:f::20", 5002);
	CD = E("2001:db8:c::11", 40003); PD = E("2001:db8:f::21", 5003);
	CE = E("192.0.2.12", 40004);  CF = E("192.0.2.13", 40005);
	bind_channel(&CA, 0x4001, &PA, 50000);		/* 4 -> 4 */
	bind_channel(&CB, 0x4002, &PB, 50001);		/* 6 -> 4 */
	bind_channel(&CC, 0x4003, &PC, 50002);		/* 4 -> 6 */
	bind_channel(&CD, 0x7ffe, &PD, 50003);		/* 6 -> 6 */
	{	/* relay-to-self: E and F reach each other's relayed address */
		struct ep rf = E("203.0.113.1", 50005), re = E("203.0.113.1",
		    50004);

		bind_channel(&CE, 0x4005, &rf, 50004);
		bind_channel(&CF, 0x4006, &re, 50005);
	}
	{	/* relay-to-self across families: G (IPv6) to H (IPv4) */
		struct ep rh = E("203.0.113.1", 50007), rg = E("203.0.113.1",
		    50006);

		CG = E("2001:db8:c::12", 40006);
		CH = E("192.0.2.14", 40007);
		bind_channel(&CG, 0x4007, &rh, 50006);
		bind_channel(&CH, 0x4008, &rg, 50007);
	}
}

static void
teardown(void)
{
	relay_xdp_close(X);
}

struct xcase {
	const char	*name;
	struct ep	*client, *peer;
	uint16_t	 chan, alloc;
	struct ep	*relay_in, *relay_out;	/* relay addr each side */
};

/* client -> peer and peer -> client for one channel. */
static void
both_directions(struct ep *client, struct ep *peer, uint16_t chan,
    uint16_t alloc, int csum)
{
	uint8_t in[2048], want[2048], out[2048], pl[1300];
	struct hdr h = { .ttl = 64, .tos = 0x28, .id = 0x1234, .frag = 0x4000,
	    .flow = 0xabcde, .csum = csum };
	struct hdr ho = h;
	struct ep rin = client->fam == 4 ? RELAY4 : RELAY6;
	struct ep rout = peer->fam == 4 ? RELAY4 : RELAY6;
	size_t n, wn, on;
	int size;

	for (size = 1; size <= 1200; size = size * 3 + 1) {
		/* client -> relay:3478, ChannelData */
		n = frame(in, MAC_R, MAC_A, client, &rin, &h, pl,
		    chdata(pl, chan, (size_t)size));
		rout.port = alloc;
		ho = h;
		ho.ttl = 63;
		ho.csum = (client->fam == 4 && csum == CS_ZERO &&
		    peer->fam == 4) ? CS_ZERO : CS_FULL;
		if (client->fam != peer->fam) {
			ho.id = 0;
			ho.frag = 0x4000;
			ho.flow = 0;
		}
		if (client->fam == 6 && peer->fam == 4)
			ho.id = 0;
		wn = frame(want, MAC_A, MAC_R, &rout, peer, &ho, PAY,
		    (size_t)size);
		ck_assert_int_eq(run(in, n, out, &on), XDP_TX);
		ck_assert_uint_eq(on, wn);
		ck_assert_msg(memcmp(out, want, wn) == 0, "c2p %d->%d size %d",
		    client->fam, peer->fam, size);
		verify(out, on);

		/* peer -> relay:alloc, plain UDP */
		if (csum == CS_ZERO && peer->fam == 6)
			continue;
		n = frame(in, MAC_R, MAC_A, peer, &rout, &h, PAY, (size_t)size);
		ho = h;
		ho.ttl = 63;
		ho.csum = (peer->fam == 4 && csum == CS_ZERO &&
		    client->fam == 4) ? CS_ZERO : CS_FULL;
		if (client->fam != peer->fam) {
			ho.id = 0;
			ho.frag = 0x4000;
			ho.flow = 0;
		}
		wn = frame(want, MAC_A, MAC_R, &rin, client, &ho, pl,
		    chdata(pl, chan, (size_t)size));
		ck_assert_int_eq(run(in, n, out, &on), XDP_TX);
		ck_assert_uint_eq(on, wn);
		ck_assert_msg(memcmp(out, want, wn) == 0, "p2c %d->%d size %d",
		    peer->fam, client->fam, size);
		verify(out, on);
	}
}

START_TEST(test_v4_v4)
{
	both_directions(&CA, &PA, 0x4001, 50000, CS_FULL);
}
END_TEST

START_TEST(test_v6_v6)
{
	both_directions(&CD, &PD, 0x7ffe, 50003, CS_FULL);
}
END_TEST

START_TEST(test_v6_to_v4)
{
	both_directions(&CB, &PB, 0x4002, 50001, CS_FULL);
}
END_TEST

START_TEST(test_v4_to_v6)
{
	both_directions(&CC, &PC, 0x4003, 50002, CS_FULL);
}
END_TEST

START_TEST(test_partial_checksums)
{
	both_directions(&CA, &PA, 0x4001, 50000, CS_PARTIAL);
	both_directions(&CD, &PD, 0x7ffe, 50003, CS_PARTIAL);
	both_directions(&CC, &PC, 0x4003, 50002, CS_PARTIAL);
}
END_TEST

START_TEST(test_zero_checksum)
{
	uint8_t in[2048], out[2048], pl[200];
	struct hdr h = { .ttl = 64, .csum = CS_ZERO };
	size_t n, on;

	/* IPv4 without a checksum stays without one to an IPv4 peer */
	both_directions(&CA, &PA, 0x4001, 50000, CS_ZERO);
	/* but cannot become IPv6 (which requires one): userspace */
	n = frame(in, MAC_R, MAC_A, &CC, &RELAY4, &h, pl, chdata(pl, 0x4003,
	    100));
	ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
}
END_TEST

START_TEST(test_relay_to_self)
{
	uint8_t in[2048], want[2048], out[2048], pl[300], pw[300];
	struct hdr h = { .ttl = 64, .id = 7, .frag = 0x4000, .csum = CS_FULL };
	struct hdr ho = h;
	size_t n, wn, on;

	n = frame(in, MAC_R, MAC_A, &CE, &RELAY4, &h, pl, chdata(pl, 0x4005,
	    200));
	ho.ttl = 63;
	wn = frame(want, MAC_A, MAC_R, &RELAY4, &CF, &ho, pw, chdata(pw, 0x4006,
	    200));
	ck_assert_int_eq(run(in, n, out, &on), XDP_TX);
	ck_assert_uint_eq(on, wn);
	ck_assert(memcmp(out, want, wn) == 0);
	verify(out, on);
}
END_TEST

START_TEST(test_relay_to_self_cross)
{
	uint8_t in[2048], want[2048], out[2048], pl[400], pw[400];
	struct hdr h = { .ttl = 9, .tos = 0x10, .flow = 0x12345,
	    .csum = CS_FULL };
	struct hdr ho = { .ttl = 8, .tos = 0x10, .id = 0, .frag = 0x4000,
	    .csum = CS_FULL };
	size_t n, wn, on;

	n = frame(in, MAC_R, MAC_A, &CG, &RELAY6, &h, pl, chdata(pl, 0x4007,
	    333));
	wn = frame(want, MAC_A, MAC_R, &RELAY4, &CH, &ho, pw, chdata(pw,
	    0x4008, 333));
	ck_assert_int_eq(run(in, n, out, &on), XDP_TX);
	ck_assert_uint_eq(on, wn);
	ck_assert(memcmp(out, want, wn) == 0);
	verify(out, on);
}
END_TEST

START_TEST(test_passes)
{
	uint8_t in[2048], out[2048], pl[300];
	struct hdr h = { .ttl = 64, .csum = CS_FULL };
	struct fz_xdp_stat_val st[FZ_XS_COUNT];
	struct ep other = E("192.0.2.99", 40000), rp = RELAY4;
	size_t n, on;

	/* an unbound channel */
	n = frame(in, MAC_R, MAC_A, &other, &RELAY4, &h, pl, chdata(pl,
	    0x4001, 50));
	ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
	/* STUN to the relay port */
	memset(pl, 0, 20);
	pl[4] = 0x21; pl[5] = 0x12; pl[6] = 0xa4; pl[7] = 0x42;
	n = frame(in, MAC_R, MAC_A, &CA, &RELAY4, &h, pl, 20);
	ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
	/* ChannelData length does not match (padded) */
	n = chdata(pl, 0x4001, 50);
	pl[3] = 49;
	n = frame(in, MAC_R, MAC_A, &CA, &RELAY4, &h, pl, n);
	ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
	/* IPv4 options, fragments, not UDP */
	h.options = true;
	n = frame(in, MAC_R, MAC_A, &CA, &RELAY4, &h, pl, chdata(pl, 0x4001,
	    50));
	ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
	h.options = false;
	h.frag = 0x2000;	/* more fragments */
	n = frame(in, MAC_R, MAC_A, &CA, &RELAY4, &h, pl, chdata(pl, 0x4001,
	    50));
	ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
	h.frag = 0;
	h.proto = 6;
	n = frame(in, MAC_R, MAC_A, &CA, &RELAY4, &h, pl, chdata(pl, 0x4001,
	    50));
	ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
	h.proto = 0;
	/* too short: Ethernet + half an IP header; a truncated UDP length */
	ck_assert_int_eq(run(in, 24, out, &on), XDP_PASS);
	n = frame(in, MAC_R, MAC_A, &CA, &RELAY4, &h, pl, chdata(pl, 0x4001,
	    50));
	ck_assert_int_eq(run(in, n - 10, out, &on), XDP_PASS);
	/* TTL 1: the kernel answers with ICMP */
	h.ttl = 1;
	n = frame(in, MAC_R, MAC_A, &CA, &RELAY4, &h, pl, chdata(pl, 0x4001,
	    50));
	ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
	h.ttl = 64;
	/* other ports, and a peer without a channel */
	rp.port = 80;
	n = frame(in, MAC_R, MAC_A, &PA, &rp, &h, PAY, 50);
	ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
	rp.port = 50000;
	n = frame(in, MAC_R, MAC_A, &other, &rp, &h, PAY, 50);
	ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
	/* not IP at all */
	in[12] = 0x08;
	in[13] = 0x06;
	ck_assert_int_eq(run(in, 60, out, &on), XDP_PASS);
	ck_assert_int_eq(relay_xdp_stats(X, st), 0);
	ck_assert_uint_ge(st[FZ_XS_PASS_NO_CHANNEL].packets, 2);
	ck_assert_uint_ge(st[FZ_XS_PASS_STUN].packets, 1);
	ck_assert_uint_ge(st[FZ_XS_PASS_BAD_LENGTH].packets, 1);
	ck_assert_uint_ge(st[FZ_XS_PASS_IP_OPTIONS].packets, 1);
	ck_assert_uint_ge(st[FZ_XS_PASS_FRAGMENT].packets, 1);
	ck_assert_uint_ge(st[FZ_XS_PASS_NOT_UDP].packets, 1);
	ck_assert_uint_ge(st[FZ_XS_PASS_SHORT].packets, 2);
	ck_assert_uint_ge(st[FZ_XS_PASS_TTL].packets, 1);
	ck_assert_uint_ge(st[FZ_XS_PASS_OTHER_PORT].packets, 1);
	ck_assert_uint_ge(st[FZ_XS_PASS_NOT_IP].packets, 1);
}
END_TEST

START_TEST(test_loop_dropped)
{
	uint8_t in[2048], out[2048], pl[300];
	struct hdr h = { .ttl = 64, .csum = CS_FULL };
	struct ep me = E("203.0.113.1", 5555), c = E("192.0.2.50", 1000);
	struct fz_xdp_stat_val st[FZ_XS_COUNT];
	size_t n, on;

	/* a channel whose peer is the relay itself on a non-relay port */
	bind_channel(&c, 0x4100, &me, 50100);
	n = frame(in, MAC_R, MAC_A, &c, &RELAY4, &h, pl, chdata(pl, 0x4100, 40));
	ck_assert_int_eq(run(in, n, out, &on), XDP_DROP);
	ck_assert_int_eq(relay_xdp_stats(X, st), 0);
	ck_assert_uint_eq(st[FZ_XS_DROP_LOOP].packets, 1);
}
END_TEST

START_TEST(test_unbind)
{
	uint8_t in[2048], out[2048], pl[300];
	struct hdr h = { .ttl = 64, .csum = CS_FULL };
	struct relay_alloc a;
	struct relay_channel ch;
	size_t n, on;

	memset(&a, 0, sizeof(a));
	memset(&ch, 0, sizeof(ch));
	a.client.fam = 4;
	a.client.port = htons(CA.port);
	memcpy(a.client.ip, CA.ip, 16);
	a.port = 50000;
	ch.alloc = &a;
	ch.number = 0x4001;
	ch.peer.fam = 4;
	ch.peer.port = htons(PA.port);
	memcpy(ch.peer.ip, PA.ip, 16);
	ck_assert_int_eq(relay_xdp_channel_down(X, &ch), 0);
	/* both directions gone together */
	n = frame(in, MAC_R, MAC_A, &CA, &RELAY4, &h, pl, chdata(pl, 0x4001, 40));
	ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
	{
		struct ep rp = RELAY4;

		rp.port = 50000;
		n = frame(in, MAC_R, MAC_A, &PA, &rp, &h, PAY, 40);
		ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
	}
}
END_TEST

/*
 * A channel whose permission expired relays nothing in either direction
 * (RFC 8656 section 12), even before fz-relayd's tick deletes it: the
 * program compares the map value's expiry with bpf_ktime_get_ns().
 */
START_TEST(test_expiry)
{
	uint8_t in[2048], out[2048], pl[300];
	struct hdr h = { .ttl = 64, .csum = CS_FULL };
	struct fz_xdp_stat_val st[FZ_XS_COUNT];
	struct ep cx = E("192.0.2.30", 40030), px = E("198.51.100.30", 5030);
	struct ep rp = RELAY4;
	struct relay_channel *ch;
	size_t n, c2p_n, p2c_n, on;
	uint8_t c2p[2048], p2c[2048];

	rp.port = 50030;
	c2p_n = frame(c2p, MAC_R, MAC_A, &cx, &RELAY4, &h, pl,
	    chdata(pl, 0x4030, 40));
	p2c_n = frame(p2c, MAC_R, MAC_A, &px, &rp, &h, PAY, 40);
	/* expired at the relay's now */
	ch = bind_channel_until(&cx, 0x4030, &px, 50030, time_mono_ns());
	memcpy(in, c2p, c2p_n);
	ck_assert_int_eq(run(in, c2p_n, out, &on), XDP_PASS);
	memcpy(in, p2c, p2c_n);
	ck_assert_int_eq(run(in, p2c_n, out, &on), XDP_PASS);
	ck_assert_int_eq(relay_xdp_stats(X, st), 0);
	ck_assert_uint_eq(st[FZ_XS_PASS_EXPIRED].packets, 2);
	/* renewed for 300 ms: relayed both ways */
	ch->perm_expires = time_mono_ns() + 300 * 1000000ULL;
	ck_assert_int_eq(relay_xdp_channel_up(X, ch), 0);
	memcpy(in, c2p, c2p_n);
	ck_assert_int_eq(run(in, c2p_n, out, &on), XDP_TX);
	memcpy(in, p2c, p2c_n);
	ck_assert_int_eq(run(in, p2c_n, out, &on), XDP_TX);
	/* the channel's own expiry counts as well: the earlier one */
	ch->expires = time_mono_ns();
	ck_assert_int_eq(relay_xdp_channel_up(X, ch), 0);
	memcpy(in, c2p, c2p_n);
	ck_assert_int_eq(run(in, c2p_n, out, &on), XDP_PASS);
	ch->expires = UINT64_MAX;
	ck_assert_int_eq(relay_xdp_channel_up(X, ch), 0);
	memcpy(in, c2p, c2p_n);
	ck_assert_int_eq(run(in, c2p_n, out, &on), XDP_TX);
	/* ... and then the time runs out on the kernel's clock */
	usleep(400 * 1000);
	memcpy(in, c2p, c2p_n);
	ck_assert_int_eq(run(in, c2p_n, out, &on), XDP_PASS);
	memcpy(in, p2c, p2c_n);
	ck_assert_int_eq(run(in, p2c_n, out, &on), XDP_PASS);
	ck_assert_int_eq(relay_xdp_stats(X, st), 0);
	ck_assert_uint_eq(st[FZ_XS_PASS_EXPIRED].packets, 5);
	/* relay-to-self: the other client's side expired */
	{
		struct ep cy = E("192.0.2.31", 40031), cz = E("192.0.2.32",
		    40032), rz = E("203.0.113.1", 50032), ry = E("203.0.113.1",
		    50031);

		bind_channel(&cy, 0x4031, &rz, 50031);
		bind_channel_until(&cz, 0x4032, &ry, 50032, time_mono_ns());
		n = frame(in, MAC_R, MAC_A, &cy, &RELAY4, &h, pl,
		    chdata(pl, 0x4031, 40));
		ck_assert_int_eq(run(in, n, out, &on), XDP_PASS);
		ck_assert_int_eq(relay_xdp_stats(X, st), 0);
		ck_assert_uint_eq(st[FZ_XS_PASS_EXPIRED].packets, 6);
		ck_assert_uint_eq(st[FZ_XS_SELF].packets, 0);
	}
}
END_TEST

/*
 * Every outcome has a metric label; the exported ones keep theirs; what
 * the program drops is labelled drop_*, what it passes pass_*.
 */
START_TEST(test_outcome_names)
{
	static const char *const names[FZ_XS_COUNT] = {
		"client_to_peer", "peer_to_client", "relay_to_self",
		"pass_not_ip", "pass_not_udp", "pass_ip_options",
		"pass_fragment", "pass_short", "pass_other_port", "pass_stun",
		"pass_bad_length", "pass_no_channel",
		"pass_no_interface_address", "pass_zero_checksum", "pass_ttl",
		"pass_adjust_failed", "drop_loop", "pass_expired", "drop_short",
	};
	int i;

	for (i = 0; i < FZ_XS_COUNT; i++) {
		ck_assert_ptr_nonnull(names[i]);
		ck_assert_str_eq(relay_xdp_stat_name(i), names[i]);
	}
	ck_assert_str_eq(relay_xdp_stat_name(FZ_XS_DROP_LOOP), "drop_loop");
	ck_assert_str_eq(relay_xdp_stat_name(FZ_XS_DROP_SHORT), "drop_short");
	ck_assert_str_eq(relay_xdp_stat_name(FZ_XS_COUNT), "?");
}
END_TEST

static Suite *
xdp_suite(void)
{
	Suite *s = suite_create("xdp");
	TCase *tc = tcase_create("xdp");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_v4_v4);
	tcase_add_test(tc, test_v6_v6);
	tcase_add_test(tc, test_v6_to_v4);
	tcase_add_test(tc, test_v4_to_v6);
	tcase_add_test(tc, test_partial_checksums);
	tcase_add_test(tc, test_zero_checksum);
	tcase_add_test(tc, test_relay_to_self);
	tcase_add_test(tc, test_relay_to_self_cross);
	tcase_add_test(tc, test_passes);
	tcase_add_test(tc, test_loop_dropped);
	tcase_add_test(tc, test_unbind);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_outcome_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "check_xdp: needs root (BPF); skipped\n");
		return 77;
	}
	sr = srunner_create(xdp_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
