/* SPDX-License-Identifier: ISC */
/*
 * A UDP sender and receiver for tests/bench/udp_rate: iperf3 -u sends one
 * datagram per syscall, so on a busy 2-core machine its sender, not the
 * tunnel, sets the rate.  This one sends with sendmmsg (batches of 32),
 * paced to a rate, and counts what arrives with recvmmsg.
 *
 *   udpblast send IP PORT LEN MBIT SECONDS   -> "sent N MBIT_ACHIEVED"
 *   udpblast recv IP PORT SECONDS            -> "received N"
 * The receiver stops a second after the last datagram (or after SECONDS
 * if nothing came).  MBIT 0: as fast as it can.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH	32
#define MAXLEN	9000

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
sock(const char *ip, int port, int bind_it, struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), sz = 4 << 20;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (fd < 0 || inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
		return -1;
	setsockopt(fd, SOL_SOCKET, bind_it ? SO_RCVBUFFORCE : SO_SNDBUFFORCE,
	    &sz, sizeof(sz));
	if (bind_it && bind(fd, (struct sockaddr *)sa, sizeof(*sa)) != 0)
		return -1;
	return fd;
}

static int
blast(int fd, const struct sockaddr_in *to, size_t len, double mbit,
    double secs)
{
	static uint8_t buf[BATCH][MAXLEN];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	uint64_t seq = 0, sent = 0;
	double t0 = now(), t, per = mbit > 0 ? len * 8 / (mbit * 1e6) : 0;
	int i, n;

	memset(m, 0, sizeof(m));
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = len;
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_hdr.msg_name = (void *)to;
		m[i].msg_hdr.msg_namelen = sizeof(*to);
	}
	while ((t = now()) - t0 < secs) {
		/* Paced: no batch before its datagrams are due. */
		if (per > 0 && (double)sent * per > t - t0) {
			struct timespec ts = { 0, 20000 };

			nanosleep(&ts, NULL);
			continue;
		}
		for (i = 0; i < BATCH; i++, seq++)
			memcpy(buf[i], &seq, sizeof(seq));
		n = sendmmsg(fd, m, BATCH, 0);
		if (n < 0 && errno != ENOBUFS && errno != EAGAIN)
			return 1;
		if (n > 0)
			sent += (uint64_t)n;
		seq -= BATCH - (n > 0 ? (uint64_t)n : 0);
	}
	t = now() - t0;
	printf("sent %llu %.1f\n", (unsigned long long)sent,
	    (double)sent * len * 8 / t / 1e6);
	return 0;
}

static int
sink(int fd, double secs)
{
	static uint8_t buf[BATCH][MAXLEN];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	uint64_t got = 0;
	double t0 = now(), last = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int i, n;

	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = MAXLEN;
	}
	for (;;) {
		double t = now();

		if (got > 0 ? t - last > 1.0 : t - t0 > secs)
			break;
		if (poll(&p, 1, 100) <= 0)
			continue;
		memset(m, 0, sizeof(m));
		for (i = 0; i < BATCH; i++) {
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL);
		if (n > 0) {
			got += (uint64_t)n;
			last = now();
		}
	}
	printf("received %llu\n", (unsigned long long)got);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	int fd;

	if (argc == 7 && strcmp(argv[1], "send") == 0) {
		size_t len = strtoul(argv[4], NULL, 10);

		if (len < 8 || len > MAXLEN ||
		    (fd = sock(argv[2], atoi(argv[3]), 0, &sa)) < 0)
			return 2;
		return blast(fd, &sa, len, atof(argv[5]), atof(argv[6]));
	}
	if (argc == 5 && strcmp(argv[1], "recv") == 0) {
		if ((fd = sock(argv[2], atoi(argv[3]), 1, &sa)) < 0)
			return 2;
		setvbuf(stdout, NULL, _IOLBF, 0);
		return sink(fd, atof(argv[4]));
	}
	fprintf(stderr, "usage: udpblast send IP PORT LEN MBIT SECONDS | "
	    "recv IP PORT SECONDS\n");
	return 2;
}
