/* SPDX-License-Identifier: ISC */
/*
 * Packets both ways through a client's NAT table: the input is a list of
 * records (1 byte op, 1 byte time step, 2 bytes length, packet); ops
 * pick out/in/expire/assign. A fixed map of 4+4 proxy IPs is installed
 * first, so random packets to 100.96.0.1..4 / fd00:2021:1111:8000::0..3
 * create sessions.
 */
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "dnsnat.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint32_t
sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/*
 * 1 if the IPv4 header and L4 checksums are right, 0 if not, -1 when
 * this cannot judge (truncated, UDPv4 without a checksum, other protocols).
 * The oracle: a translation keeps right checksums right.
 */
static int
csums_ok(const uint8_t *b, size_t len)
{
	size_t hl, tot;
	uint8_t proto;
	uint32_t s = 0;

	if (len < 20)
		return -1;
	if ((b[0] >> 4) == 4) {
		hl = (size_t)(b[0] & 15) * 4;
		tot = (size_t)b[2] << 8 | b[3];
		if (hl < 20 || tot < hl + 8 || tot > len)
			return -1;
		if (sum(b, hl, 0) != 0xffff)
			return 0;
		proto = b[9];
		if (proto != 1)
			s = sum(b + 12, 8, 0);
	} else if ((b[0] >> 4) == 6 && len >= 48) {
		hl = 40;
		tot = 40 + ((size_t)b[4] << 8 | b[5]);
		if (tot > len || tot < 48)
			return -1;
		proto = b[6];
		s = sum(b + 8, 32, 0);
	} else
		return -1;
	if (proto != 1 && proto != 6 && proto != 17 && proto != 58)
		return -1;
	if (proto == 17 && (b[0] >> 4) == 4 && b[hl + 6] == 0 &&
	    b[hl + 7] == 0)
		return -1;
	if (proto != 1)
		s += proto + (uint32_t)(tot - hl);
	return sum(b + hl, tot - hl, s) == 0xffff;
}

static void
ip4(struct fz_ip *ip, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	memset(ip, 0, sizeof(*ip));
	ip->af = AF_INET;
	ip->a[0] = a, ip->a[1] = b, ip->a[2] = c, ip->a[3] = d;
}

static void
ip6(struct fz_ip *ip, uint8_t last)
{
	static const uint8_t p[16] = { 0xfd, 0, 0x20, 0x21, 0x11, 0x11,
	    0x80, 0 };

	memset(ip, 0, sizeof(*ip));
	ip->af = AF_INET6;
	memcpy(ip->a, p, 16);
	ip->a[15] = last;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_ip px[8], res[3];
	struct dnsnat *nat;
	uint64_t now = 1000;
	uint8_t *pkt;
	int ok;

	if ((nat = dnsnat_new()) == NULL)
		return 0;
	for (int i = 0; i < 4; i++) {
		ip4(&px[i], 100, 96, 0, (uint8_t)(i + 1));
		ip6(&px[4 + i], (uint8_t)i);
	}
	ip4(&res[0], 10, 0, 0, 1);
	ip4(&res[1], 10, 0, 0, 2);
	ip6(&res[2], 0x99);		/* 2001:db8::99 */
	memset(res[2].a, 0, 15);
	res[2].a[0] = 0x20, res[2].a[1] = 0x01;
	res[2].a[2] = 0x0d, res[2].a[3] = 0xb8;
	if (dnsnat_assign(nat, "a.test", px, 8, res, 3) != 0)
		abort();
	while (size >= 4) {
		uint8_t op = data[0];
		size_t n = (size_t)data[2] << 8 | data[3];

		now += (uint64_t)data[1] * 997;
		data += 4, size -= 4;
		if (n > size)
			n = size;
		if ((pkt = malloc(n + 1)) == NULL)
			break;
		memcpy(pkt, data, n);
		switch (op & 3) {
		case 0:
			ok = csums_ok(pkt, n);
			if (dnsnat_out(nat, pkt, n, now) == DNSNAT_TRANSLATED &&
			    ok == 1 && csums_ok(pkt, n) != 1)
				abort();
			break;
		case 1:
			ok = csums_ok(pkt, n);
			if (dnsnat_in(nat, pkt, n, now) == DNSNAT_TRANSLATED &&
			    ok == 1 && csums_ok(pkt, n) != 1)
				abort();
			break;
		case 2:
			(void)dnsnat_expire(nat, now);
			break;
		default:
			(void)dnsnat_assign(nat, (op & 4) ? "b.test" : "a.test",
			    px, (op & 8) ? 4 : 8, res, (op >> 4) % 4);
			break;
		}
		free(pkt);
		data += n, size -= n;
	}
	dnsnat_free(nat);
	return 0;
}
