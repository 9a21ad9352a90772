/* SPDX-License-Identifier: ISC */
/*
 * fz-relayd's HTTP endpoint over a real loopback socket: /readyz follows
 * the portal connection (200 with the version when joined or when no
 * portal is configured, 503 while connecting or reconnecting), /healthz
 * stays 200, and /metrics reports the portal state as a state set.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <event2/thread.h>

#include "check_util.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "xdp.h"

/* metrics.c names the XDP outcomes; no XDP here. */
const char *
relay_xdp_stat_name(int i)
{
	(void)i;
	return "none";
}

static struct relay *R;
static struct metrics *M;
static struct metrics_gauges G;

static int
f_open(void *arg, struct relay_alloc *a, bool w4, bool w6)
{
	(void)arg; (void)a; (void)w4; (void)w6;
	return -ENOSYS;
}

static void
f_close(void *arg, struct relay_alloc *a)
{
	(void)arg; (void)a;
}

static void
f_send_ctl(void *arg, int fd, const struct sockaddr *to, const uint8_t *p,
    size_t n)
{
	(void)arg; (void)fd; (void)to; (void)p; (void)n;
}

static void
setup(void)
{
	struct relay_config cfg;
	struct relay_ops ops = { .alloc_open = f_open, .alloc_close = f_close,
	    .send_ctl = f_send_ctl };
	union fz_sockaddr at;

	ck_assert_int_eq(log_init("check_relay_metrics", LOG_FORMAT_TEXT,
	    "error"), 0);
	evthread_use_pthreads();
	memset(&cfg, 0, sizeof(cfg));
	cfg.have4 = true;
	cfg.static_secret = "s";
	ck_assert_int_eq(relay_new(&cfg, &ops, &R), 0);
	memset(&G, 0, sizeof(G));
	ck_assert_int_eq(addr_parse("127.0.0.1:0", ADDR_PORT_REQUIRED, &at), 0);
	ck_assert_int_eq(metrics_start(&at, R, &G, &M), 0);
	ck_assert_uint_ne(metrics_port(M), 0);
	ck_assert_int_eq(metrics_run(M), 0);
}

static void
teardown(void)
{
	metrics_stop(M);
	relay_free(R);
}

/* GET path: the status code, the body in body (NUL-terminated). */
static int
get(const char *path, char *body, size_t cap)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	static char buf[65536];
	size_t n = 0;
	ssize_t k;
	char *p;
	int fd, code = -1;

	sin.sin_port = htons(metrics_port(M));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	n = (size_t)snprintf(buf, sizeof(buf), "GET %s HTTP/1.0\r\n\r\n", path);
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	n = 0;
	while (n < sizeof(buf) - 1 && (k = read(fd, buf + n,
	    sizeof(buf) - 1 - n)) > 0)
		n += (size_t)k;
	close(fd);
	buf[n] = '\0';
	ck_assert_int_eq(sscanf(buf, "HTTP/1.%*d %d", &code), 1);
	if (body != NULL) {
		p = strstr(buf, "\r\n\r\n");
		snprintf(body, cap, "%s", p != NULL ? p + 4 : "");
	}
	return code;
}

START_TEST(test_readyz_follows_portal)
{
	char body[65536];

	/* no portal configured: ready as soon as it serves */
	ck_assert_int_eq(get("/readyz", body, sizeof(body)), 200);
	ck_assert_str_eq(body, PACKAGE_VERSION "\n");
	/* a portal: not ready until joined */
	atomic_store(&G.portal, MP_CONNECTING);
	ck_assert_int_eq(get("/readyz", NULL, 0), 503);
	ck_assert_int_eq(get("/healthz", NULL, 0), 200);
	atomic_store(&G.portal, MP_JOINED);
	atomic_store(&G.portal_joins, 1);
	ck_assert_int_eq(get("/readyz", body, sizeof(body)), 200);
	ck_assert_str_eq(body, PACKAGE_VERSION "\n");
	/* lost: 503 again, health unchanged */
	atomic_store(&G.portal, MP_RECONNECTING);
	ck_assert_int_eq(get("/readyz", NULL, 0), 503);
	ck_assert_int_eq(get("/healthz", NULL, 0), 200);
	atomic_store(&G.portal, MP_JOINED);
	atomic_store(&G.portal_joins, 2);
	ck_assert_int_eq(get("/readyz", NULL, 0), 200);
}
END_TEST

START_TEST(test_metrics_portal_state)
{
	char body[65536];

	ck_assert_int_eq(get("/metrics", body, sizeof(body)), 200);
	ck_assert_ptr_nonnull(strstr(body,
	    "fz_relay_portal_state{state=\"none\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(body,
	    "fz_relay_portal_state{state=\"joined\"} 0\n"));
	atomic_store(&G.portal, MP_RECONNECTING);
	atomic_store(&G.portal_joins, 3);
	ck_assert_int_eq(get("/metrics", body, sizeof(body)), 200);
	ck_assert_ptr_nonnull(strstr(body,
	    "fz_relay_portal_state{state=\"none\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(body,
	    "fz_relay_portal_state{state=\"reconnecting\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(body,
	    "\nfz_relay_portal_joins_total 3\n"));
	/* the other families are still there */
	ck_assert_ptr_nonnull(strstr(body, "fz_relay_allocations 0\n"));
}
END_TEST

/*
 * Stopped right after it started: metrics_stop must not depend on the
 * thread having entered its loop (an event_base_loopbreak() issued before
 * event_base_dispatch() is forgotten by it, and the join never returned).
 */
START_TEST(test_stop_right_after_start)
{
	union fz_sockaddr at;
	struct metrics *m;
	int i;

	ck_assert_int_eq(addr_parse("127.0.0.1:0", ADDR_PORT_REQUIRED, &at), 0);
	for (i = 0; i < 300; i++) {
		ck_assert_int_eq(metrics_start(&at, R, &G, &m), 0);
		ck_assert_int_eq(metrics_run(m), 0);
		metrics_stop(m);
	}
}
END_TEST

static Suite *
relay_metrics_suite(void)
{
	Suite *s = suite_create("relay_metrics");
	TCase *tc = tcase_create("http");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_readyz_follows_portal);
	tcase_add_test(tc, test_metrics_portal_state);
	tcase_add_test(tc, test_stop_right_after_start);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(relay_metrics_suite)
