/* SPDX-License-Identifier: ISC */
/*
 * libfzctl (ctl/fzclient.c), the client fzctl and fz-gui share: the
 * socket path's precedence, connect errors, a request checked against
 * the catalogue, the token line, and the list fields of TUNNEL_STATUS.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "fzclient.h"

START_TEST(test_socket_path)
{
	unsetenv("FZ_SOCKET");
	ck_assert_str_eq(fzc_socket_path(NULL), "/run/fz/tunneld.sock");
	setenv("FZ_SOCKET", "/tmp/x.sock", 1);
	ck_assert_str_eq(fzc_socket_path(NULL), "/tmp/x.sock");
	ck_assert_str_eq(fzc_socket_path("/a.sock"), "/a.sock");
	unsetenv("FZ_SOCKET");
}
END_TEST

START_TEST(test_connect_errors)
{
	char longp[200];

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(fzc_connect(longp), -ENAMETOOLONG);
	ck_assert_int_eq(fzc_connect("/nonexistent/fz/tunneld.sock"),
	    -ENOENT);
}
END_TEST

START_TEST(test_request_ok)
{
	struct ipc_msg m;
	char *big = malloc(5000);

	ck_assert_ptr_nonnull(big);
	ipc_msg_init(&m, IPC_SIGN_IN);
	m.u.sign_in.token = "tok";
	ck_assert_int_eq(fzc_request_ok(&m), 0);
	memset(big, 't', 4097);
	big[4097] = '\0';		/* SIGN_IN's token: 4096 at most */
	m.u.sign_in.token = big;
	ck_assert_int_eq(fzc_request_ok(&m), -EINVAL);
	big[4096] = '\0';
	ck_assert_int_eq(fzc_request_ok(&m), 0);
	m.u.sign_in.token = "a\x1b[2Jb";	/* controls are refused */
	ck_assert_int_eq(fzc_request_ok(&m), -EINVAL);
	free(big);
}
END_TEST

START_TEST(test_token_read)
{
	char out[16];
	FILE *f = tmpfile();

	ck_assert_ptr_nonnull(f);
	fputs("secret-1\r\nsecond\n", f);
	rewind(f);
	ck_assert_int_eq(fzc_token_read(f, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "secret-1");
	fclose(f);
	f = tmpfile();
	fputs("\nlater\n", f);
	rewind(f);
	ck_assert_int_eq(fzc_token_read(f, out, sizeof(out)), -ENODATA);
	fclose(f);
	f = tmpfile();
	ck_assert_int_eq(fzc_token_read(f, out, sizeof(out)), -ENODATA);
	fclose(f);
}
END_TEST

static void
collect(const char *s, size_t n, void *arg)
{
	char *acc = arg;

	strcat(acc, "[");
	strncat(acc, s, n);
	strcat(acc, "]");
}

START_TEST(test_list_each)
{
	char acc[128];

	acc[0] = '\0';
	fzc_list_each("hq, branch, x", ", ", collect, acc);
	ck_assert_str_eq(acc, "[hq][branch][x]");
	acc[0] = '\0';
	fzc_list_each("", ", ", collect, acc);
	ck_assert_str_eq(acc, "");
	acc[0] = '\0';
	fzc_list_each("a; b c;d", "; ", collect, acc);
	ck_assert_str_eq(acc, "[a][b c;d]");
}
END_TEST

static void
count(const struct fzc_conn_entry *e, void *arg)
{
	int *n = arg;

	if (*n == 0) {
		ck_assert_str_eq(e->peer, "AbCd");
		ck_assert_str_eq(e->kind, "direct");
		ck_assert_str_eq(e->addr, "10.0.0.1:51820");
		ck_assert_uint_eq(e->rtt_us, 1234);
		ck_assert_uint_eq(e->tx, 7);
	} else {
		ck_assert_str_eq(e->kind, "relayed");
		ck_assert_uint_eq(e->channel, 0x4000);
	}
	(*n)++;
}

START_TEST(test_conns)
{
	struct fzc_conn_entry e;
	int n = 0;

	ck_assert(fzc_conn_entry_parse("p direct 1.2.3.4:5 0 1 2 3 4", 28,
	    &e));
	/* trailing bytes, an unknown kind, a missing field: skipped */
	ck_assert(!fzc_conn_entry_parse("p direct 1.2.3.4:5 0 1 2 3 4 x", 30,
	    &e));
	ck_assert(!fzc_conn_entry_parse("p sideways 1.2.3.4:5 0 1 2 3 4", 30,
	    &e));
	ck_assert(!fzc_conn_entry_parse("p direct 1.2.3.4:5 0 1 2 3", 26,
	    &e));
	fzc_conns_each("AbCd direct 10.0.0.1:51820 0 1234 1700000000 5 7; "
	    "junk; Ef relayed 10.0.0.9:3478 16384 10 1700000001 0 0", count,
	    &n);
	ck_assert_int_eq(n, 2);
}
END_TEST

static Suite *
fzclient_suite(void)
{
	Suite *s = suite_create("fzclient");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_socket_path);
	tcase_add_test(tc, test_connect_errors);
	tcase_add_test(tc, test_request_ok);
	tcase_add_test(tc, test_token_read);
	tcase_add_test(tc, test_list_each);
	tcase_add_test(tc, test_conns);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(fzclient_suite)
