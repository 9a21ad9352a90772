/* SPDX-License-Identifier: ISC */
/*
 * Handshake consumption rate of the WireGuard core (not part of the test
 * suite; `make tests/bench/handshakes && tests/bench/handshakes [SECONDS]`):
 *
 *  flood     under load, one source with a valid cookie replays
 *            initiations as fast as one thread can: how many a second
 *            reach the Diffie-Hellman work, and how many are refused first.
 *  parallel  not under load, 1 then 2 threads, each replaying initiations
 *            of its own peer from its own address: initiations consumed a
 *            second in all (each costs a DH and three AEAD opens before it
 *            is found to be a replay).  With a device-wide lock held across
 *            the DH, 2 threads do no better than 1.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fztime.h"
#include "wg.h"

#define NMSG	64		/* distinct initiations per sender */

struct sender {
	struct wg_device	*dev;
	struct wg_peer		*peer;	/* the responder, in dev */
	uint8_t			 pub[32];
	union fz_sockaddr	 addr;
	uint8_t			 msg[NMSG][WG_INITIATION_LEN];
};

static struct wg_device *R;		/* the responder */
static uint8_t Rpub[32];
static atomic_bool stop;

struct job {
	struct sender	*s;
	uint64_t	 reached, limited;
	pthread_t	 th;
};

static void
die(const char *what)
{
	fprintf(stderr, "handshakes: %s\n", what);
	exit(1);
}

static void
sender_init(struct sender *s, int n)
{
	uint8_t priv[32];
	struct wg_peer *rp;
	char a[32];

	wg_key_generate(priv);
	wg_key_public(priv, s->pub);
	if (wg_device_new(priv, &s->dev) != 0 ||
	    wg_peer_add(s->dev, Rpub, &s->peer) != 0 ||
	    wg_peer_add(R, s->pub, &rp) != 0)
		die("setup");
	snprintf(a, sizeof(a), "192.0.2.%d:51820", n + 1);
	if (addr_parse(a, ADDR_PORT_REQUIRED, &s->addr) != 0)
		die("addr");
}

static void
make_messages(struct sender *s)
{
	for (int i = 0; i < NMSG; i++)
		if (wg_create_initiation(s->peer, s->msg[i]) != 0)
			die("initiation");
}

static void *
run(void *arg)
{
	struct job *j = arg;
	uint8_t reply[WG_INITIATION_LEN];
	struct wg_hs_result r;
	unsigned i = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int rc = wg_handle_handshake(R, j->s->msg[i++ % NMSG],
		    WG_INITIATION_LEN, &j->s->addr, reply, &r);

		if (rc == -EAGAIN)
			j->limited++;
		else
			j->reached++;
	}
	return NULL;
}

static double
measure(struct job *jobs, int n, double secs)
{
	struct timespec ts = { (time_t)secs,
	    (long)((secs - (time_t)secs) * 1e9) };
	uint64_t t0, t1, sum = 0;

	atomic_store(&stop, false);
	t0 = time_mono_ns();
	for (int i = 0; i < n; i++) {
		jobs[i].reached = jobs[i].limited = 0;
		if (pthread_create(&jobs[i].th, NULL, run, &jobs[i]) != 0)
			die("thread");
	}
	nanosleep(&ts, NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < n; i++) {
		pthread_join(jobs[i].th, NULL);
		sum += jobs[i].reached;
	}
	t1 = time_mono_ns();
	return (double)sum * 1e9 / (double)(t1 - t0);
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2, one, two;
	static struct sender S[2];
	struct job jobs[2];
	uint8_t priv[32], init[WG_INITIATION_LEN], reply[WG_INITIATION_LEN];
	struct wg_hs_result r;
	uint64_t limited;

	if (secs <= 0)
		secs = 2;
	wg_key_generate(priv);
	wg_key_public(priv, Rpub);
	if (wg_device_new(priv, &R) != 0)
		die("device");
	for (int i = 0; i < 2; i++) {
		sender_init(&S[i], i);
		jobs[i].s = &S[i];
	}

	/* parallel: not under load. */
	for (int i = 0; i < 2; i++)
		make_messages(&S[i]);
	one = measure(jobs, 1, secs);
	two = measure(jobs, 2, secs);
	printf("parallel: 1 thread %.0f/s, 2 threads %.0f/s (x%.2f)\n",
	    one, two, two / one);

	/* flood: under load, one source holding a valid cookie. */
	wg_device_set_under_load(R, true);
	if (wg_create_initiation(S[0].peer, init) != 0 ||
	    wg_handle_handshake(R, init, sizeof(init), &S[0].addr, reply,
	    &r) != 0 || r.reply_len != WG_COOKIE_LEN ||
	    wg_handle_handshake(S[0].dev, reply, WG_COOKIE_LEN, &S[0].addr,
	    init, &r) != 0)
		die("cookie round trip");
	make_messages(&S[0]);		/* now with a valid mac2 */
	one = measure(jobs, 1, secs);
	limited = jobs[0].limited;
	printf("flood: one source with a cookie: %.0f/s reach the DH, "
	    "%.0f/s refused before it\n", one, (double)limited / secs);
	return 0;
}
