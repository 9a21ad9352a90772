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

	if ((nat = dnsnat_new()) == NULL)
		return 0;
	for (int i = 0; i < 4; i++) {
		ip4(&px[i], 100, 96, 0, (uint8_t)(i + 1));
		ip6(&px[4 + i], (uint8_t)i);
	}
	ip4(&res[0], 10, 0, 0, 1);
	ip4(&res[1], 10, 0, 0, 2);
	ip6(&res[2], 0x99);
	res[2].a[0] = 0x20;
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
			(void)dnsnat_out(nat, pkt, n, now);
			break;
		case 1:
			(void)dnsnat_in(nat, pkt, n, now);
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
