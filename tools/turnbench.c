/* SPDX-License-Identifier: ISC */
/*
 * fz-turnbench: a TURN load generator.  Makes N allocations on any TURN
 * server with shared-secret (TURN REST) credentials, binds a channel on
 * each to its own UDP peer socket, then sends ChannelData at a fixed
 * offered rate (or flat out) with sendmmsg and measures what the peers
 * receive: delivered packets per second, loss, and latency percentiles.
 *
 *   fz-turnbench --server 127.0.0.1:3478 --secret S [--allocations 8]
 *       [--rate PPS] [--size BYTES] [--duration SECONDS] [--peer-addr IP]
 *       [--json]
 */
#define LOG_MODULE "turnbench"

#include <errno.h>
#include <getopt.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "fztime.h"
#include "log.h"
#include "relay.h"
#include "stun.h"

#define BATCH		32
#define MAX_SAMPLES	(1 << 20)

struct alloc {
	int			 cfd, pfd;	/* client (connected), peer */
	char			 user[64], nonce[256];
	uint8_t			 key[16];
	union fz_sockaddr	 relayed, peer;
	uint64_t		 sent;
};

static struct {
	union fz_sockaddr	 server;
	const char		*secret;
	char			 realm[256];
	int			 n;
	uint64_t		 rate;		/* total packets/s, 0 flat out */
	size_t			 size;
	double			 duration;
	const char		*peer_ip;
	bool			 json;
	bool			 gso;		/* UDP GSO out, GRO in */
	bool			 start_signal;	/* send on SIGUSR1 */
	struct alloc		*a;
	_Atomic bool		 sending, receiving;
	_Atomic uint64_t	 received, recv_bytes;
	uint32_t		*lat_us;	/* samples */
	_Atomic uint64_t	 nlat;
} B;

static uint64_t
now_ns(void)
{
	return time_mono_ns();
}

/* One request/response exchange on a's client socket (3 tries). */
static int
transact(struct alloc *a, const uint8_t *req, size_t n, struct stun_msg *m,
    uint8_t *resp, size_t cap)
{
	struct pollfd pfd = { a->cfd, POLLIN, 0 };
	int tries;
	ssize_t r;

	for (tries = 0; tries < 3; tries++) {
		if (send(a->cfd, req, n, 0) < 0)
			return -errno;
		while (poll(&pfd, 1, 1000) == 1) {
			if ((r = recv(a->cfd, resp, cap, 0)) < 0)
				return -errno;
			if (stun_parse(resp, (size_t)r, m) == 0 &&
			    memcmp(m->tid, req + 8, 12) == 0)
				return 0;
		}
	}
	return -ETIMEDOUT;
}

static int
error_code(const struct stun_msg *m)
{
	const char *reason;
	size_t rl;
	int code;

	if (m->cls != STUN_ERROR)
		return 0;
	if (stun_get_error(stun_find(m, STUN_A_ERROR_CODE), &code, &reason,
	    &rl) != 0)
		return 500;
	return code;
}

/* The long-term credential attributes and integrity of a's session. */
static void
put_auth(struct stun_builder *b, const struct alloc *a)
{
	stun_put_str(b, STUN_A_USERNAME, a->user);
	stun_put_str(b, STUN_A_REALM, B.realm);
	stun_put_str(b, STUN_A_NONCE, a->nonce);
	stun_put_integrity(b, a->key, 16);
}

static int
setup_alloc(int i)
{
	struct alloc *a = &B.a[i];
	uint8_t req[512], resp[1024], key[16], tid[12], t[4] = { 17 };
	char user[64], pass[64], nonce[256];
	struct stun_builder b;
	struct stun_msg m;
	union fz_sockaddr any;
	socklen_t sl = sizeof(a->peer);
	size_t n;
	int rc = 0, sz = 8 << 20;

	snprintf(user, sizeof(user), "%llu:turnbench-%d",
	    (unsigned long long)(time(NULL) + 3600), i);
	relay_rest_password(B.secret, user, pass, sizeof(pass));
	a->cfd = socket(B.server.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (a->cfd < 0 || connect(a->cfd, &B.server.sa,
	    addr_len(&B.server.sa)) != 0)
		return -errno;
	setsockopt(a->cfd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(a->cfd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));

	/* Allocate: the 401 brings realm and nonce. */
	randombytes_buf(tid, 12);
	stun_build(&b, req, sizeof(req), TURN_ALLOCATE, tid);
	stun_put(&b, TURN_A_REQUESTED_TRANSPORT, t, 4);
	if (stun_finish(&b, &n) != 0 || (rc = transact(a, req, n, &m, resp,
	    sizeof(resp))) != 0)
		return rc != 0 ? rc : -EINVAL;
	if (error_code(&m) != 401 ||
	    stun_get_text(stun_find(&m, STUN_A_NONCE), 255, nonce,
	    sizeof(nonce)) != 0 ||
	    stun_get_text(stun_find(&m, STUN_A_REALM), 255, B.realm,
	    sizeof(B.realm)) != 0) {
		fprintf(stderr, "turnbench: expected 401 with realm and nonce, "
		    "got %d\n", error_code(&m));
		return -EPROTO;
	}
	stun_long_term_key(user, B.realm, pass, key);
	snprintf(a->user, sizeof(a->user), "%s", user);
	snprintf(a->nonce, sizeof(a->nonce), "%s", nonce);
	memcpy(a->key, key, 16);
	randombytes_buf(tid, 12);
	stun_build(&b, req, sizeof(req), TURN_ALLOCATE, tid);
	stun_put(&b, TURN_A_REQUESTED_TRANSPORT, t, 4);
	put_auth(&b, a);
	if (stun_finish(&b, &n) != 0 || (rc = transact(a, req, n, &m, resp,
	    sizeof(resp))) != 0)
		return rc != 0 ? rc : -EINVAL;
	if ((rc = error_code(&m)) != 0 || stun_get_xaddr(&m, stun_find(&m,
	    TURN_A_XOR_RELAYED_ADDRESS), &a->relayed) != 0) {
		fprintf(stderr, "turnbench: allocate failed: %d\n", rc);
		return -EPROTO;
	}

	/* The peer socket, and a channel to it. */
	if (addr_parse(B.peer_ip, ADDR_PORT_NONE, &any) != 0)
		return -EINVAL;
	a->pfd = socket(any.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (a->pfd < 0 || bind(a->pfd, &any.sa, addr_len(&any.sa)) != 0 ||
	    getsockname(a->pfd, &a->peer.sa, &sl) != 0)
		return -errno;
	setsockopt(a->pfd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(a->pfd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	randombytes_buf(tid, 12);
	stun_build(&b, req, sizeof(req), TURN_CHANNEL_BIND, tid);
	stun_put_u32(&b, TURN_A_CHANNEL_NUMBER, 0x40000000u);
	stun_put_xaddr(&b, TURN_A_XOR_PEER_ADDRESS, &a->peer.sa);
	put_auth(&b, a);
	if (stun_finish(&b, &n) != 0 || (rc = transact(a, req, n, &m, resp,
	    sizeof(resp))) != 0)
		return rc != 0 ? rc : -EINVAL;
	if ((rc = error_code(&m)) != 0) {
		fprintf(stderr, "turnbench: channel bind failed: %d\n", rc);
		return -EPROTO;
	}
	return 0;
}

/* A Refresh with lifetime 0 on a's client socket, tid written to tid. */
static void
send_release(struct alloc *a, uint8_t tid[12])
{
	uint8_t req[512];
	struct stun_builder b;
	size_t n;

	randombytes_buf(tid, 12);
	stun_build(&b, req, sizeof(req), TURN_REFRESH, tid);
	stun_put_u32(&b, TURN_A_LIFETIME, 0);
	put_auth(&b, a);
	if (stun_finish(&b, &n) == 0)
		(void)send(a->cfd, req, n, 0);
}

#define RELEASE_WINDOW	64
#define RELEASE_TRIES	5

/*
 * Refresh with lifetime 0: the server frees the allocations now, so a
 * later run reusing the ports is not refused with 437.  RELEASE_WINDOW
 * requests are outstanding at a time, each sent again until answered
 * (a 438 is signed again with its new nonce; any other answer, 437 for
 * one already freed included, ends it): thousands of fire-and-forget
 * requests at once overflowed the server's socket buffer and left
 * allocations behind.  A window without a single answer ends it (the
 * server is gone).  Returns how many of a[0..n) got no answer.
 */
static int
release_all(int n)
{
	struct pollfd pfd[RELEASE_WINDOW];
	uint8_t tid[RELEASE_WINDOW][12], resp[1024];
	bool done[RELEASE_WINDOW];
	int base, k, cnt, pending, tries, lost = 0;
	struct stun_msg m;
	ssize_t r;

	for (base = 0; base < n; base += RELEASE_WINDOW) {
		cnt = n - base < RELEASE_WINDOW ? n - base : RELEASE_WINDOW;
		pending = 0;
		for (k = 0; k < cnt; k++) {
			struct alloc *a = &B.a[base + k];

			done[k] = a->cfd < 0 || a->user[0] == '\0';
			pending += !done[k];
		}
		for (tries = 0; tries < RELEASE_TRIES && pending > 0; tries++) {
			uint64_t until = now_ns() + 300000000ULL * (tries + 1);

			for (k = 0; k < cnt; k++)
				if (!done[k])
					send_release(&B.a[base + k], tid[k]);
			while (pending > 0 && now_ns() < until) {
				for (k = 0; k < cnt; k++) {
					pfd[k].fd = done[k] ? -1 :
					    B.a[base + k].cfd;
					pfd[k].events = POLLIN;
					pfd[k].revents = 0;
				}
				if (poll(pfd, (nfds_t)cnt, 50) <= 0)
					continue;
				for (k = 0; k < cnt; k++) {
					struct alloc *a = &B.a[base + k];

					if (done[k] || !(pfd[k].revents & POLLIN))
						continue;
					r = recv(a->cfd, resp, sizeof(resp),
					    MSG_DONTWAIT);
					if (r <= 0 || stun_parse(resp, (size_t)r,
					    &m) != 0 || memcmp(m.tid, tid[k],
					    12) != 0)
						continue;
					if (error_code(&m) == 438 &&
					    stun_get_text(stun_find(&m,
					    STUN_A_NONCE), 255, a->nonce,
					    sizeof(a->nonce)) == 0) {
						send_release(a, tid[k]);
						continue;
					}
					done[k] = true;
					pending--;
				}
			}
		}
		lost += pending;
		if (pending == cnt && cnt > 0) {
			/* not one answer: the server is gone, stop waiting */
			lost += n - base - cnt;
			break;
		}
	}
	return lost;
}

#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define RBUF	65536

static void *
receiver(void *arg)
{
	static struct mmsghdr mh[BATCH];
	static struct iovec iov[BATCH];
	static uint8_t buf[BATCH][RBUF];
	static union {
		struct cmsghdr	align;
		char		b[CMSG_SPACE(sizeof(int))];
	} cm[BATCH];
	struct epoll_event ev[64];
	int ep = epoll_create1(0), i, j, k, n;

	(void)arg;
	for (i = 0; i < B.n; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 =
		    (uint32_t)i };

		epoll_ctl(ep, EPOLL_CTL_ADD, B.a[i].pfd, &e);
	}
	while (atomic_load(&B.receiving)) {
		n = epoll_wait(ep, ev, 64, 50);
		for (i = 0; i < n; i++) {
			int fd = B.a[ev[i].data.u32].pfd;
			int got;

			for (j = 0; j < BATCH; j++) {
				iov[j].iov_base = buf[j];
				iov[j].iov_len = RBUF;
				memset(&mh[j].msg_hdr, 0, sizeof(mh[j].msg_hdr));
				mh[j].msg_hdr.msg_iov = &iov[j];
				mh[j].msg_hdr.msg_iovlen = 1;
				mh[j].msg_hdr.msg_control = cm[j].b;
				mh[j].msg_hdr.msg_controllen = sizeof(cm[j].b);
			}
			got = recvmmsg(fd, mh, BATCH, MSG_DONTWAIT, NULL);
			if (got <= 0)
				continue;
			uint64_t t = now_ns(), pk = 0, by = 0, idx;

			idx = atomic_load_explicit(&B.nlat, memory_order_relaxed);
			for (k = 0; k < got; k++) {
				size_t len = mh[k].msg_len, seg = len, off;
				struct cmsghdr *c;

				/* GRO: one buffer of equal-size segments */
				for (c = CMSG_FIRSTHDR(&mh[k].msg_hdr); c != NULL;
				    c = CMSG_NXTHDR(&mh[k].msg_hdr, c))
					if (c->cmsg_level == SOL_UDP &&
					    c->cmsg_type == UDP_GRO) {
						int g;

						memcpy(&g, CMSG_DATA(c), sizeof(g));
						if (g > 0)
							seg = (size_t)g;
					}
				for (off = 0; off < len; off += seg) {
					uint64_t sent_at;

					if (len - off < 16)
						break;
					memcpy(&sent_at, buf[k] + off + 8, 8);
					pk++;
					by += len - off < seg ? len - off : seg;
					if (idx < MAX_SAMPLES && t > sent_at)
						B.lat_us[idx] = (uint32_t)((t -
						    sent_at) / 1000);
					idx++;
				}
			}
			/* one writer: counts are published once per batch */
			atomic_fetch_add(&B.received, pk);
			atomic_fetch_add(&B.recv_bytes, by);
			atomic_store(&B.nlat, idx);
		}
	}
	close(ep);
	return NULL;
}

static int
cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: fz-turnbench --server IP:PORT --secret SECRET [options]\n"
"  --allocations N   allocations, each with a channel to its own peer (8)\n"
"  --rate PPS        total offered ChannelData packets/s (0: flat out)\n"
"  --size BYTES      payload bytes per packet (100; at least 16)\n"
"  --duration SECS   sending time (5)\n"
"  --peer-addr IP    address of the peer sockets (127.0.0.1)\n"
"  --json            one JSON object instead of text\n"
"  --no-gso          one sendmmsg datagram at a time instead of UDP GSO\n"
"                    batches (and no GRO on the peer sockets)\n"
"  --start-signal    once the allocations are made, print \"ready\" on\n"
"                    stderr and wait for SIGUSR1 before sending (to start\n"
"                    several turnbench together)\n");
}

int
main(int argc, char *argv[])
{
	static const struct option lo[] = {
		{ "server", required_argument, NULL, 's' },
		{ "secret", required_argument, NULL, 'k' },
		{ "allocations", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 'l' },
		{ "duration", required_argument, NULL, 'd' },
		{ "peer-addr", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-gso", no_argument, NULL, 'G' },
		{ "start-signal", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct mmsghdr mh[BATCH];
	static struct iovec iov[BATCH];
	static uint8_t pkt[BATCH][2048];
	static uint8_t gbuf[65536];
	const char *server = NULL;
	size_t seg;
	int nseg;
	pthread_t thr;
	uint64_t start, end, sent = 0, t, due;
	double secs, p50 = 0, p90 = 0, p99 = 0, pmax = 0;
	int ch, i, rc, cur = 0, unreleased;
	sigset_t usr1;

	B.n = 8;
	B.size = 100;
	B.duration = 5;
	B.peer_ip = "127.0.0.1";
	B.gso = true;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 's': server = optarg; break;
		case 'k': B.secret = optarg; break;
		case 'n': B.n = atoi(optarg); break;
		case 'r': B.rate = strtoull(optarg, NULL, 10); break;
		case 'l': B.size = (size_t)atoi(optarg); break;
		case 'd': B.duration = atof(optarg); break;
		case 'p': B.peer_ip = optarg; break;
		case 'j': B.json = true; break;
		case 'G': B.gso = false; break;
		case 'S': B.start_signal = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (server == NULL || B.secret == NULL || B.n < 1 || B.n > 10000 ||
	    B.size < 16 || B.size > 1400 || B.duration <= 0 ||
	    addr_parse(server, ADDR_PORT_REQUIRED, &B.server) != 0) {
		usage(stderr);
		return 2;
	}
	if (sodium_init() < 0 || log_init("fz-turnbench", LOG_FORMAT_TEXT,
	    "warn") != 0)
		return 1;
	/* blocked before any thread: only sigwait below takes it */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	B.a = calloc((size_t)B.n, sizeof(*B.a));
	B.lat_us = calloc(MAX_SAMPLES, sizeof(uint32_t));
	if (B.a == NULL || B.lat_us == NULL)
		return 1;
	for (i = 0; i < B.n; i++)
		if ((rc = setup_alloc(i)) != 0) {
			fprintf(stderr, "turnbench: allocation %d: %s\n", i,
			    strerror(-rc));
			(void)release_all(i);
			return 1;
		}
	atomic_store(&B.receiving, true);
	pthread_create(&thr, NULL, receiver, NULL);

	for (i = 0; i < BATCH; i++) {
		turn_channeldata_header(pkt[i], 0x4000, (uint16_t)B.size);
		memset(pkt[i] + 4, 0xab, B.size);
		iov[i].iov_base = pkt[i];
		iov[i].iov_len = 4 + B.size;	/* unpadded over UDP */
		memset(&mh[i], 0, sizeof(mh[i]));
		mh[i].msg_hdr.msg_iov = &iov[i];
		mh[i].msg_hdr.msg_iovlen = 1;
	}
	seg = 4 + B.size;
	nseg = (int)(65000 / seg);
	if (nseg > 64)
		nseg = 64;
	for (i = 0; i < nseg; i++)
		memcpy(gbuf + (size_t)i * seg, pkt[0], seg);
	if (B.gso) {
		int g = (int)seg, one = 1;

		for (i = 0; i < B.n && B.gso; i++)
			if (setsockopt(B.a[i].cfd, SOL_UDP, UDP_SEGMENT, &g,
			    sizeof(g)) != 0)
				B.gso = false;
		for (i = 0; i < B.n && B.gso; i++)
			(void)setsockopt(B.a[i].pfd, SOL_UDP, UDP_GRO, &one,
			    sizeof(one));
	}
	if (B.start_signal) {
		int sig;

		fprintf(stderr, "turnbench: ready\n");
		fflush(stderr);
		if (sigwait(&usr1, &sig) != 0)
			return 1;
	}
	start = now_ns();
	end = start + (uint64_t)(B.duration * 1e9);
	while ((t = now_ns()) < end) {
		int burst = B.gso ? nseg : BATCH;

		if (B.rate > 0) {
			due = (uint64_t)((double)(t - start) * (double)B.rate
			    / 1e9);
			if (due <= sent) {
				struct timespec ts = { 0, 50000 };

				nanosleep(&ts, NULL);
				continue;
			}
			if (due - sent < (uint64_t)burst)
				burst = (int)(due - sent);
		}
		if (B.gso) {
			for (i = 0; i < burst; i++) {
				uint64_t seq = B.a[cur].sent + (uint64_t)i;

				memcpy(gbuf + (size_t)i * seg + 4, &seq, 8);
				memcpy(gbuf + (size_t)i * seg + 12, &t, 8);
			}
			rc = send(B.a[cur].cfd, gbuf, (size_t)burst * seg, 0) < 0 ?
			    -1 : burst;
		} else {
			for (i = 0; i < burst; i++) {
				uint64_t seq = B.a[cur].sent + (uint64_t)i;

				memcpy(pkt[i] + 4, &seq, 8);
				memcpy(pkt[i] + 12, &t, 8);
			}
			rc = sendmmsg(B.a[cur].cfd, mh, (unsigned)burst, 0);
		}
		if (rc > 0) {
			B.a[cur].sent += (uint64_t)rc;
			sent += (uint64_t)rc;
		}
		cur = (cur + 1) % B.n;
	}
	secs = (double)(now_ns() - start) / 1e9;
	usleep(500000);		/* let the relay drain */
	atomic_store(&B.receiving, false);
	pthread_join(thr, NULL);
	/*
	 * UDP_SEGMENT as a socket option cuts every larger send into
	 * gso_size pieces: the Refresh would reach the relay as a truncated
	 * STUN message and a fragment, both dropped, and the allocations
	 * would stay until their lifetime ends.
	 */
	for (i = 0; i < B.n && B.gso; i++) {
		int zero = 0;

		(void)setsockopt(B.a[i].cfd, SOL_UDP, UDP_SEGMENT, &zero,
		    sizeof(zero));
	}
	unreleased = release_all(B.n);
	if (unreleased > 0)
		fprintf(stderr, "turnbench: %d allocations not released (no "
		    "answer to the Refresh)\n", unreleased);

	{
		uint64_t nl = atomic_load(&B.nlat);

		if (nl > MAX_SAMPLES)
			nl = MAX_SAMPLES;
		if (nl > 0) {
			qsort(B.lat_us, nl, sizeof(uint32_t), cmp_u32);
			p50 = B.lat_us[nl / 2];
			p90 = B.lat_us[nl * 9 / 10];
			p99 = B.lat_us[nl * 99 / 100];
			pmax = B.lat_us[nl - 1];
		}
	}
	{
		uint64_t got = atomic_load(&B.received);
		double loss = sent > 0 ? 100.0 * (double)(sent - (got < sent ?
		    got : sent)) / (double)sent : 0;

		if (B.json)
			printf("{\"allocations\":%d,\"size\":%zu,\"offered_pps\":"
			    "%.0f,\"sent\":%llu,\"received\":%llu,"
			    "\"delivered_pps\":%.0f,\"loss_pct\":%.3f,"
			    "\"latency_us\":{\"p50\":%.0f,\"p90\":%.0f,"
			    "\"p99\":%.0f,\"max\":%.0f},\"unreleased\":%d}\n",
			    B.n, B.size, (double)sent / secs,
			    (unsigned long long)sent, (unsigned long long)got,
			    (double)got / secs, loss, p50, p90, p99, pmax,
			    unreleased);
		else
			printf("%d allocations, %zu-byte payloads, %.1f s: sent "
			    "%llu (%.0f pps), delivered %llu (%.0f pps), loss "
			    "%.3f%%, latency p50 %.0f us, p90 %.0f us, p99 "
			    "%.0f us, max %.0f us\n", B.n, B.size, secs,
			    (unsigned long long)sent, (double)sent / secs,
			    (unsigned long long)got, (double)got / secs, loss,
			    p50, p90, p99, pmax);
	}
	return 0;
}
