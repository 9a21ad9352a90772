/* SPDX-License-Identifier: ISC */
/*
 * A fast upstream DNS server for tests/bench/dns (not a resolver): every
 * query with one question is answered at once, A with 192.0.2.77, AAAA with
 * 2001:db8::77, TXT with "fz", anything else NOERROR and empty, TTL 60;
 * batches of 64 with recvmmsg/sendmmsg so it outruns what it is compared
 * with.  dnsresp ADDR [PORT]; runs until killed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH	64
#define MAXQ	512
#define MAXA	(MAXQ + 64)

/* The answer to q (qlen bytes) in a; 0 when q is no query to answer. */
static size_t
answer(const uint8_t *q, size_t qlen, uint8_t *a)
{
	static const uint8_t ttl[4] = { 0, 0, 0, 60 };
	size_t i = 12, n;
	uint16_t type;

	if (qlen < 12 || (q[2] & 0x80) || q[4] != 0 || q[5] != 1)
		return 0;
	while (i < qlen && q[i] != 0) {		/* the name, labels only */
		if ((q[i] & 0xc0) != 0)
			return 0;
		i += 1 + (size_t)q[i];
	}
	if (i + 5 > qlen)
		return 0;
	type = (uint16_t)(q[i + 1] << 8 | q[i + 2]);
	n = i + 5;				/* header + question */
	memcpy(a, q, n);
	a[2] = (uint8_t)(0x84 | (q[2] & 0x01));	/* QR AA, RD copied */
	a[3] = 0x80;				/* RA, NOERROR */
	a[6] = a[7] = a[8] = a[9] = a[10] = a[11] = 0;
	if (type != 1 && type != 28 && type != 16)
		return n;
	a[7] = 1;				/* ANCOUNT */
	a[n++] = 0xc0;				/* the question's name */
	a[n++] = 0x0c;
	a[n++] = 0;
	a[n++] = (uint8_t)type;
	a[n++] = 0;
	a[n++] = 1;				/* IN */
	memcpy(a + n, ttl, 4);
	n += 4;
	if (type == 1) {
		static const uint8_t ip[4] = { 192, 0, 2, 77 };

		a[n++] = 0;
		a[n++] = 4;
		memcpy(a + n, ip, 4);
		n += 4;
	} else if (type == 28) {
		static const uint8_t ip[16] = { 0x20, 0x01, 0x0d, 0xb8,
		    [15] = 0x77 };

		a[n++] = 0;
		a[n++] = 16;
		memcpy(a + n, ip, 16);
		n += 16;
	} else {
		a[n++] = 0;
		a[n++] = 3;
		a[n++] = 2;
		a[n++] = 'f';
		a[n++] = 'z';
	}
	return n;
}

int
main(int argc, char *argv[])
{
	static uint8_t qb[BATCH][MAXQ], ab[BATCH][MAXA];
	struct sockaddr_storage from[BATCH];
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec qiov[BATCH], aiov[BATCH];
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, i, n, k;

	memset(&ss, 0, sizeof(ss));
	if (argc < 2) {
		fprintf(stderr, "usage: dnsresp ADDR [PORT]\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[1],
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port =
		    htons(argc > 2 ? (uint16_t)atoi(argv[2]) : 53);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[1],
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port =
		    htons(argc > 2 ? (uint16_t)atoi(argv[2]) : 53);
		sl = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "dnsresp: bad address %s\n", argv[1]);
		return 2;
	}
	if ((fd = socket(ss.ss_family, SOCK_DGRAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		perror("dnsresp");
		return 1;
	}
	for (;;) {
		memset(in, 0, sizeof(in));
		for (i = 0; i < BATCH; i++) {
			qiov[i].iov_base = qb[i];
			qiov[i].iov_len = MAXQ;
			in[i].msg_hdr.msg_iov = &qiov[i];
			in[i].msg_hdr.msg_iovlen = 1;
			in[i].msg_hdr.msg_name = &from[i];
			in[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		if ((n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL)) <= 0)
			continue;
		memset(out, 0, sizeof(out));
		for (i = k = 0; i < n; i++) {
			size_t len = answer(qb[i], in[i].msg_len, ab[k]);

			if (len == 0)
				continue;
			aiov[k].iov_base = ab[k];
			aiov[k].iov_len = len;
			out[k].msg_hdr.msg_iov = &aiov[k];
			out[k].msg_hdr.msg_iovlen = 1;
			out[k].msg_hdr.msg_name = &from[i];
			out[k].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
			k++;
		}
		if (k > 0)
			(void)sendmmsg(fd, out, (unsigned)k, 0);
	}
}
