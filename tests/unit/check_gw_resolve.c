/* SPDX-License-Identifier: ISC */
/*
 * The gateway's A/AAAA resolution for DNS resources (controld/gw_resolve.c)
 * on an evdns base without the network: names from a hosts file (both
 * families, distinct, IPv4 first), a silent nameserver (-EAGAIN after the
 * timeout), bad names refused.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_util.h"
#include "gw_resolve.h"

static struct {
	int	calls, err;
	char	list[GW_RESOLVE_LIST];
} got;

static void
cb(void *arg, int err, const char *list)
{
	(void)arg;
	got.calls++;
	got.err = err;
	snprintf(got.list, sizeof(got.list), "%s", list);
}

static void
run(struct event_base *b)
{
	int i;

	for (i = 0; i < 500 && got.calls == 0; i++) {
		event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (got.calls == 0)
			usleep(10000);
	}
}

START_TEST(test_hosts)
{
	char path[] = "/tmp/check_gw_resolve.XXXXXX";
	struct event_base *b;
	struct evdns_base *d;
	FILE *f;
	int fd;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	fprintf(f, "2001:db8::10 app.corp.test\n"
	    "192.0.2.10 app.corp.test\n"
	    "192.0.2.11 app.corp.test other.corp.test\n"
	    "192.0.2.10 app.corp.test\n"
	    "192.0.2.99 v4only.corp.test\n");
	fclose(f);
	ck_assert_ptr_nonnull(b = event_base_new());
	ck_assert_ptr_nonnull(d = evdns_base_new(b, 0));
	ck_assert_int_eq(evdns_base_load_hosts(d, path), 0);
	unlink(path);

	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(gw_resolve(d, "app.corp.test", cb, NULL), 0);
	run(b);
	ck_assert_int_eq(got.calls, 1);
	ck_assert_int_eq(got.err, 0);
	ck_assert_str_eq(got.list, "192.0.2.10, 192.0.2.11, 2001:db8::10");

	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(gw_resolve(d, "v4only.corp.test", cb, NULL), 0);
	run(b);
	ck_assert_int_eq(got.calls, 1);
	ck_assert_int_eq(got.err, 0);
	ck_assert_str_eq(got.list, "192.0.2.99");

	/* refused names: cb never called */
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(gw_resolve(d, "", cb, NULL), -EINVAL);
	ck_assert_int_eq(gw_resolve(d, "bad name", cb, NULL), -EINVAL);
	ck_assert_int_eq(gw_resolve(d, "a\"b", cb, NULL), -EINVAL);
	{
		char longn[300];

		memset(longn, 'a', 254);
		longn[254] = '\0';
		ck_assert_int_eq(gw_resolve(d, longn, cb, NULL), -EINVAL);
	}
	ck_assert_int_eq(gw_resolve(NULL, "app.corp.test", cb, NULL),
	    -EINVAL);
	ck_assert_int_eq(got.calls, 0);
	evdns_base_free(d, 0);
	event_base_free(b);
}
END_TEST

/* A nameserver that never answers: -EAGAIN once evdns gives up. */
START_TEST(test_silent_server)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct event_base *b;
	struct evdns_base *d;
	char ns[64];
	int s;

	ck_assert_int_ge(s = socket(AF_INET, SOCK_DGRAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
	snprintf(ns, sizeof(ns), "127.0.0.1:%u", ntohs(sin.sin_port));
	ck_assert_ptr_nonnull(b = event_base_new());
	ck_assert_ptr_nonnull(d = evdns_base_new(b, 0));
	ck_assert_int_eq(evdns_base_nameserver_ip_add(d, ns), 0);
	ck_assert_int_eq(evdns_base_set_option(d, "timeout:", "0.2"), 0);
	ck_assert_int_eq(evdns_base_set_option(d, "attempts:", "1"), 0);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(gw_resolve(d, "nothere.corp.test", cb, NULL), 0);
	run(b);
	ck_assert_int_eq(got.calls, 1);
	ck_assert_int_eq(got.err, -EAGAIN);
	ck_assert_str_eq(got.list, "");
	evdns_base_free(d, 0);
	event_base_free(b);
	close(s);
}
END_TEST

static Suite *
gw_resolve_suite(void)
{
	Suite *s = suite_create("gw_resolve");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_hosts);
	tcase_add_test(tc, test_silent_server);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(gw_resolve_suite)
