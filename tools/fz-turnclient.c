/* SPDX-License-Identifier: ISC */
/*
 * fz-turnclient: drives controld's sans-I/O TURN client over a real UDP
 * socket on libevent, for interop tests.  It sends a Binding, allocates,
 * binds a channel to each --peer (optionally after a CreatePermission),
 * sends --count numbered messages to each through the relay, expects each
 * back (the peers echo), and frees the allocation; with --hold it keeps
 * the allocation that long (refreshing it) and sends one more
 * CreatePermission first, which meets a nonce gone stale meanwhile.  Exit 0 when every
 * message came back, 1 on any failure (the reason printed), 2 for usage.
 *
 * Credentials: --user/--password as given, --secret (TURN REST:
 * "<expiry>:fz-turnclient", base64 HMAC-SHA1) or --firezone-secret
 * (Firezone's "<expiry>:<salt>", base64 SHA-256 without padding).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fztime.h"
#include "turn_client.h"

#define MAX_PEERS	4
#define MAX_COUNT	10000

struct peer {
	union fz_sockaddr addr;
	char		 name[ADDR_STRLEN];
	bool		 bound;
	unsigned	 received;
	uint8_t		*got;		/* per message */
};

struct app {
	struct event_base *base;
	struct event	*rd, *timer, *deadline, *resend;
	struct turn_client *tc;
	int		 fd;
	union fz_sockaddr server;
	struct peer	 peers[MAX_PEERS];
	unsigned	 npeers, count, size;
	bool		 permission, done, freed, late;
	unsigned	 hold;		/* s to keep the allocation after the data */
	struct event	*holdev;
	int		 status;
};

static void
rng(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	randombytes_buf(buf, len);
}

static void
finish(struct app *a, int status, const char *why)
{
	if (why != NULL)
		printf("%s\n", why);
	a->status = status;
	event_base_loopexit(a->base, NULL);
}

static void
send_dgram(struct app *a, const struct sockaddr *dst, const void *p,
    size_t len)
{
	if (sendto(a->fd, p, len, 0, dst, addr_len(dst)) < 0)
		fprintf(stderr, "sendto: %s\n", strerror(errno));
}

static void
send_data(struct app *a, unsigned i, bool missing_only)
{
	struct peer *p = &a->peers[i];
	uint8_t msg[1500], out[1504];
	unsigned seq;
	size_t n, len;

	for (seq = 0; seq < a->count; seq++) {
		if (missing_only && p->got[seq])
			continue;
		len = (size_t)snprintf((char *)msg, sizeof(msg),
		    "fz-turnclient %u %u ", i, seq);
		while (len < a->size)
			msg[len++] = (uint8_t)('a' + seq % 26);
		if (turn_client_wrap(a->tc, &p->addr.sa, msg, len, out,
		    sizeof(out), &n) != 0)
			return;
		send_dgram(a, &a->server.sa, out, n);
	}
}

static void flush(struct app *);
static void on_hold(evutil_socket_t, short, void *);

static void
fmt(const struct sockaddr *sa, bool port, char *out, size_t cap)
{
	if (addr_fmt(sa, port, out, cap) != 0)
		snprintf(out, cap, "?");
}

static void
check_done(struct app *a)
{
	unsigned i, total = 0;

	for (i = 0; i < a->npeers; i++)
		if (a->peers[i].received < a->count)
			return;
	if (a->done)
		return;
	a->done = true;
	for (i = 0; i < a->npeers; i++)
		total += a->peers[i].received;
	printf("data ok: %u messages echoed through the relay\n", total);
	if (a->hold > 0 && a->npeers > 0) {
		struct timeval tv = { .tv_sec = a->hold };

		evtimer_add(a->holdev, &tv);
		return;
	}
	if (turn_client_deallocate(a->tc, time_mono_ns()) != 0)
		finish(a, 1, "deallocate refused");
}

/*
 * After --hold: one more authenticated request (a CreatePermission with
 * whatever nonce is current by now), then free.
 */
static void
on_hold(evutil_socket_t fd, short what, void *arg)
{
	struct app *a = arg;

	(void)fd;
	(void)what;
	a->late = true;
	turn_client_remove_permission(a->tc, &a->peers[0].addr.sa);
	if (turn_client_create_permission(a->tc, time_mono_ns(),
	    &a->peers[0].addr.sa) != 0)
		finish(a, 1, "late create_permission refused");
	flush(a);
}

static void
on_event(struct app *a, const struct turn_event *ev)
{
	char s1[ADDR_STRLEN], s2[ADDR_STRLEN], s3[ADDR_STRLEN];
	uint16_t ch;
	unsigned i;

	switch (ev->type) {
	case TURN_EV_ALLOCATED:
		s2[0] = s3[0] = '\0';
		fmt(&ev->relayed[0].sa, true, s1, sizeof(s1));
		if (ev->nrelayed > 1)
			fmt(&ev->relayed[1].sa, true, s2, sizeof(s2));
		if (ev->mapped.sa.sa_family != AF_UNSPEC)
			fmt(&ev->mapped.sa, true, s3, sizeof(s3));
		printf("allocated relayed=%s%s%s mapped=%s lifetime=%u\n", s1,
		    ev->nrelayed > 1 ? " relayed=" : "", s2, s3,
		    ev->lifetime_s);
		for (i = 0; i < a->npeers; i++) {
			struct peer *p = &a->peers[i];

			if (a->permission && turn_client_create_permission(
			    a->tc, time_mono_ns(), &p->addr.sa) != 0) {
				finish(a, 1, "create_permission refused");
				return;
			}
			if (turn_client_bind_channel(a->tc, time_mono_ns(),
			    &p->addr.sa, &ch) != 0) {
				finish(a, 1, "bind_channel refused");
				return;
			}
		}
		if (a->npeers == 0)
			check_done(a);
		break;
	case TURN_EV_PERMISSION_CREATED:
		fmt(&ev->peer.sa, false, s1, sizeof(s1));
		printf("%spermission for %s\n", a->late ? "late " : "", s1);
		if (a->late && turn_client_deallocate(a->tc,
		    time_mono_ns()) != 0)
			finish(a, 1, "deallocate refused");
		break;
	case TURN_EV_CHANNEL_BOUND:
		fmt(&ev->peer.sa, true, s1, sizeof(s1));
		printf("channel 0x%04x bound to %s\n", ev->channel, s1);
		for (i = 0; i < a->npeers; i++)
			if (addr_eq(&a->peers[i].addr.sa, &ev->peer.sa)) {
				a->peers[i].bound = true;
				send_data(a, i, false);
			}
		break;
	case TURN_EV_MAPPED:
		fmt(&ev->mapped.sa, true, s1, sizeof(s1));
		printf("mapped %s\n", s1);
		break;
	case TURN_EV_REFRESHED:
		printf("refreshed lifetime=%u\n", ev->lifetime_s);
		break;
	case TURN_EV_FREED:
		printf("freed\n");
		a->freed = true;
		finish(a, 0, NULL);
		break;
	case TURN_EV_BINDING_FAILED:
	case TURN_EV_REFRESH_FAILED:
		printf("%s: %s (%d)\n", turn_event_str(ev->type),
		    turn_reason_str(ev->reason), ev->code);
		break;
	default:
		printf("%s: %s (%d)\n", turn_event_str(ev->type),
		    turn_reason_str(ev->reason), ev->code);
		finish(a, 1, NULL);
		break;
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct app *a = arg;

	(void)fd;
	(void)what;
	turn_client_handle_timeout(a->tc, time_mono_ns());
	flush(a);
}

static void
flush(struct app *a)
{
	struct turn_transmit t;
	struct turn_event ev;
	uint64_t dl, now;
	struct timeval tv;

	for (;;) {
		while (turn_client_poll_transmit(a->tc, &t) == 0)
			send_dgram(a, t.dst, t.data, t.len);
		if (turn_client_poll_event(a->tc, &ev) != 0)
			break;
		on_event(a, &ev);
	}
	if (turn_client_poll_timeout(a->tc, &dl) == 0) {
		now = time_mono_ns();
		dl = dl > now ? dl - now : 0;
		tv.tv_sec = (time_t)(dl / NSEC_PER_SEC);
		tv.tv_usec = (suseconds_t)(dl % NSEC_PER_SEC / 1000);
		evtimer_add(a->timer, &tv);
	}
}

static void
on_data(struct app *a, const struct turn_data *d)
{
	unsigned i, idx, seq;
	char hdr[64];

	for (i = 0; i < a->npeers; i++) {
		struct peer *p = &a->peers[i];

		if (!addr_eq(&p->addr.sa, &d->peer.sa))
			continue;
		if (d->len >= sizeof(hdr))
			memcpy(hdr, d->payload, sizeof(hdr) - 1), hdr[63] = 0;
		else
			memcpy(hdr, d->payload, d->len), hdr[d->len] = 0;
		if (sscanf(hdr, "fz-turnclient %u %u ", &idx, &seq) != 2 ||
		    idx != i || seq >= a->count || d->len != a->size) {
			printf("unexpected data from %s (%zu bytes)\n", p->name,
			    d->len);
			return;
		}
		if (!p->got[seq]) {
			p->got[seq] = 1;
			p->received++;
		}
		check_done(a);
		return;
	}
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct app *a = arg;
	union fz_sockaddr from;
	socklen_t fl;
	uint8_t buf[2048];
	struct turn_data d;
	ssize_t n;

	(void)what;
	for (;;) {
		fl = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), 0, &from.sa, &fl);
		if (n < 0)
			break;
		if (turn_client_input(a->tc, time_mono_ns(), &from.sa, buf,
		    (size_t)n, &d) == TURN_INPUT_DATA)
			on_data(a, &d);
	}
	flush(a);
}

static void
on_resend(evutil_socket_t fd, short what, void *arg)
{
	struct app *a = arg;
	unsigned i;

	(void)fd;
	(void)what;
	for (i = 0; i < a->npeers; i++)
		if (a->peers[i].bound && a->peers[i].received < a->count)
			send_data(a, i, true);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct app *a = arg;
	unsigned i;

	(void)fd;
	(void)what;
	for (i = 0; i < a->npeers; i++)
		printf("peer %s: %u/%u echoed\n", a->peers[i].name,
		    a->peers[i].received, a->count);
	finish(a, 1, "timed out");
}

static void
usage(void)
{
	fprintf(stderr, "usage: fz-turnclient --server ADDR:PORT "
	    "(--user U --password P | --secret S | --firezone-secret S)\n"
	    "    [--realm R] [--family dual|v4|v6] [--peer ADDR:PORT]... "
	    "[--count N]\n    [--size BYTES] [--permission] [--lifetime S] "
	    "[--timeout S]\n    [--hold S]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'P' },
		{ "secret", required_argument, NULL, 'S' },
		{ "firezone-secret", required_argument, NULL, 'F' },
		{ "realm", required_argument, NULL, 'r' },
		{ "family", required_argument, NULL, 'f' },
		{ "peer", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 'z' },
		{ "permission", no_argument, NULL, 'm' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "hold", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct turn_client_config cfg;
	struct app a;
	const char *rest = NULL, *fz = NULL;
	char user[128], pass[128];
	unsigned timeout = 20, i;
	struct timeval tv;
	int c;

	memset(&cfg, 0, sizeof(cfg));
	memset(&a, 0, sizeof(a));
	a.count = 10;
	a.size = 100;
	a.status = 1;
	cfg.family = TURN_FAMILY_DUAL;
	cfg.software = "fz-turnclient";
	cfg.keepalive_ms = 25000;	/* as Firezone keeps NAT bindings */
	cfg.rng = rng;
	user[0] = pass[0] = '\0';
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (addr_parse(optarg, ADDR_PORT_REQUIRED,
			    &cfg.server) != 0)
				usage();
			break;
		case 'u': snprintf(user, sizeof(user), "%s", optarg); break;
		case 'P': snprintf(pass, sizeof(pass), "%s", optarg); break;
		case 'S': rest = optarg; break;
		case 'F': fz = optarg; break;
		case 'r': cfg.realm = optarg; break;
		case 'f':
			if (strcmp(optarg, "dual") == 0)
				cfg.family = TURN_FAMILY_DUAL;
			else if (strcmp(optarg, "v4") == 0)
				cfg.family = TURN_FAMILY_V4;
			else if (strcmp(optarg, "v6") == 0)
				cfg.family = TURN_FAMILY_V6;
			else
				usage();
			break;
		case 'p':
			if (a.npeers == MAX_PEERS || addr_parse(optarg,
			    ADDR_PORT_REQUIRED, &a.peers[a.npeers].addr) != 0)
				usage();
			snprintf(a.peers[a.npeers].name,
			    sizeof(a.peers[0].name), "%s", optarg);
			a.npeers++;
			break;
		case 'c': a.count = (unsigned)atoi(optarg); break;
		case 'z': a.size = (unsigned)atoi(optarg); break;
		case 'm': a.permission = true; break;
		case 'l': cfg.lifetime_s = (uint32_t)atoi(optarg); break;
		case 't': timeout = (unsigned)atoi(optarg); break;
		case 'H': a.hold = (unsigned)atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || cfg.server.sa.sa_family == AF_UNSPEC ||
	    a.count == 0 || a.count > MAX_COUNT || a.size < 32 ||
	    a.size > 1400 || sodium_init() < 0)
		usage();
	if (rest != NULL || fz != NULL) {
		long expiry = (long)time(NULL) + 3600;
		const char *salt = "fzturnclientsalt";

		if (rest != NULL) {
			uint8_t mac[EVP_MAX_MD_SIZE];
			unsigned ml = 0;

			snprintf(user, sizeof(user), "%ld:fz-turnclient", expiry);
			HMAC(EVP_sha1(), rest, (int)strlen(rest),
			    (const uint8_t *)user, strlen(user), mac, &ml);
			sodium_bin2base64(pass, sizeof(pass), mac, ml,
			    sodium_base64_VARIANT_ORIGINAL);
		} else {
			uint8_t h[crypto_hash_sha256_BYTES];
			char in[512];

			snprintf(user, sizeof(user), "%ld:%s", expiry, salt);
			snprintf(in, sizeof(in), "%ld:%s:%s", expiry, fz, salt);
			crypto_hash_sha256(h, (const uint8_t *)in, strlen(in));
			sodium_bin2base64(pass, sizeof(pass), h, sizeof(h),
			    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
			sodium_memzero(in, sizeof(in));
		}
	} else if (user[0] == '\0')
		usage();
	cfg.username = user;
	cfg.password = pass;
	a.server = cfg.server;
	for (i = 0; i < a.npeers; i++)
		if ((a.peers[i].got = calloc(a.count, 1)) == NULL)
			return 1;
	if (turn_client_new(&cfg, &a.tc) != 0) {
		fprintf(stderr, "bad configuration\n");
		return 2;
	}
	sodium_memzero(pass, sizeof(pass));
	if ((a.fd = socket(cfg.server.sa.sa_family, SOCK_DGRAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		perror("socket");
		return 1;
	}
	a.base = event_base_new();
	a.rd = event_new(a.base, a.fd, EV_READ | EV_PERSIST, on_read, &a);
	a.timer = evtimer_new(a.base, on_timer, &a);
	a.deadline = evtimer_new(a.base, on_deadline, &a);
	a.resend = event_new(a.base, -1, EV_PERSIST, on_resend, &a);
	a.holdev = evtimer_new(a.base, on_hold, &a);
	if (a.base == NULL || a.rd == NULL || a.timer == NULL ||
	    a.deadline == NULL || a.resend == NULL || a.holdev == NULL)
		return 1;
	event_add(a.rd, NULL);
	tv.tv_sec = timeout;
	tv.tv_usec = 0;
	evtimer_add(a.deadline, &tv);
	tv.tv_sec = 1;
	event_add(a.resend, &tv);
	if (turn_client_binding(a.tc, time_mono_ns()) != 0 ||
	    turn_client_allocate(a.tc, time_mono_ns()) != 0)
		return 1;
	flush(&a);
	event_base_dispatch(a.base);
	if (a.status == 0 && !a.freed)
		a.status = 1;
	event_free(a.rd);
	event_free(a.timer);
	event_free(a.deadline);
	event_free(a.resend);
	event_free(a.holdev);
	event_base_free(a.base);
	close(a.fd);
	turn_client_free(a.tc);
	for (i = 0; i < a.npeers; i++)
		free(a.peers[i].got);
	return a.status;
}
