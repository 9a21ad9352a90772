/* SPDX-License-Identifier: ISC */
/*
 * tunneld settings: token file rules (owner, mode, type, content), the
 * device id (given, stored, generated 0644), durations, booleans, portal
 * URLs, and settings_load's precedence of flags over the environment.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_util.h"
#include "log.h"
#include "settings.h"

static char dir[] = "/tmp/fz-settings.XXXXXX";

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(log_init("check_settings", LOG_FORMAT_TEXT, "error"),
	    0);
}

static void
teardown(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/fz-settings.XXXXXX");
}

static void
write_file(const char *path, const char *s, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

START_TEST(test_token_file)
{
	char path[256], tok[SETTINGS_TOKEN_MAX + 1], err[512], big[6000];

	snprintf(path, sizeof(path), "%s/token", dir);
	ck_assert_int_eq(settings_read_token(path, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), -ENOENT);
	write_file(path, "  abc.DEF-123_xyz\n", 0600);
	ck_assert_int_eq(settings_read_token(path, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), 0);
	ck_assert_str_eq(tok, "abc.DEF-123_xyz");
	write_file(path, "abc", 0400);
	ck_assert_int_eq(settings_read_token(path, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), 0);
	/* readable by group or others, or any group/other bit: refused */
	write_file(path, "abc", 0640);
	ck_assert_int_eq(settings_read_token(path, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "mode 0640"));
	write_file(path, "abc", 0604);
	ck_assert_int_eq(settings_read_token(path, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), -EPERM);
	write_file(path, "abc", 0620);
	ck_assert_int_eq(settings_read_token(path, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), -EPERM);
	/* wrong owner */
	write_file(path, "abc", 0600);
	ck_assert_int_eq(settings_read_token(path, getuid() + 1, tok,
	    sizeof(tok), err, sizeof(err)), -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "owned by uid"));
	/* empty, whitespace, control characters, too long */
	write_file(path, "", 0600);
	ck_assert_int_eq(settings_read_token(path, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), -EINVAL);
	write_file(path, " \n\t ", 0600);
	ck_assert_int_eq(settings_read_token(path, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), -EINVAL);
	write_file(path, "ab\x01" "cd", 0600);
	ck_assert_int_eq(settings_read_token(path, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), -EINVAL);
	write_file(path, "two words", 0600);
	ck_assert_int_eq(settings_read_token(path, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(path, big, 0600);
	ck_assert_int_eq(settings_read_token(path, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), -E2BIG);
	/* a directory and a symlink are not token files */
	ck_assert_int_eq(settings_read_token(dir, getuid(), tok, sizeof(tok),
	    err, sizeof(err)), -EPERM);
	{
		char link[300];

		write_file(path, "abc", 0600);
		snprintf(link, sizeof(link), "%s/link", dir);
		ck_assert_int_eq(symlink(path, link), 0);
		ck_assert_int_eq(settings_read_token(link, getuid(), tok,
		    sizeof(tok), err, sizeof(err)), -ELOOP);
	}
}
END_TEST

START_TEST(test_firezone_id)
{
	char id[129], id2[129], path[300];
	struct stat st;

	ck_assert_int_eq(settings_firezone_id("my-device_1", dir, id,
	    sizeof(id)), 0);
	ck_assert_str_eq(id, "my-device_1");
	ck_assert_int_eq(settings_firezone_id("bad id", dir, id, sizeof(id)),
	    -EINVAL);
	ck_assert_int_eq(settings_firezone_id("a/b", dir, id, sizeof(id)),
	    -EINVAL);
	/* generated once, stored 0644, read back the same */
	ck_assert_int_eq(settings_firezone_id(NULL, dir, id, sizeof(id)), 0);
	ck_assert_uint_eq(strlen(id), 36);
	ck_assert_int_eq(id[14], '4');
	snprintf(path, sizeof(path), "%s/config/firezone-id", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(settings_firezone_id("", dir, id2, sizeof(id2)), 0);
	ck_assert_str_eq(id, id2);
	/* garbage in the file: replaced */
	write_file(path, "not an id!\n", 0644);
	ck_assert_int_eq(settings_firezone_id(NULL, dir, id2, sizeof(id2)), 0);
	ck_assert_str_ne(id, id2);
}
END_TEST

START_TEST(test_parsers)
{
	unsigned long d;
	bool b;
	char u[600];

	ck_assert_int_eq(settings_parse_duration("30d", &d), 0);
	ck_assert_uint_eq(d, 30 * 86400UL);
	ck_assert_int_eq(settings_parse_duration("1h30m", &d), 0);
	ck_assert_uint_eq(d, 5400);
	ck_assert_int_eq(settings_parse_duration("90s", &d), 0);
	ck_assert_uint_eq(d, 90);
	ck_assert_int_eq(settings_parse_duration("", &d), -EINVAL);
	ck_assert_int_eq(settings_parse_duration("10", &d), -EINVAL);
	ck_assert_int_eq(settings_parse_duration("h", &d), -EINVAL);
	ck_assert_int_eq(settings_parse_duration("-1h", &d), -EINVAL);
	ck_assert_int_eq(settings_parse_duration("99999999999999999999d", &d),
	    -EINVAL);
	ck_assert_int_eq(settings_parse_bool("TRUE", &b), 0);
	ck_assert(b);
	ck_assert_int_eq(settings_parse_bool("0", &b), 0);
	ck_assert(!b);
	ck_assert_int_eq(settings_parse_bool("maybe", &b), -EINVAL);
	ck_assert_int_eq(settings_api_url("https://portal.example", u,
	    sizeof(u)), 0);
	ck_assert_str_eq(u, "wss://portal.example");
	ck_assert_int_eq(settings_api_url("ws://127.0.0.1:8081/", u,
	    sizeof(u)), 0);
	ck_assert_str_eq(u, "ws://127.0.0.1:8081/");
	ck_assert_int_eq(settings_api_url("ftp://x", u, sizeof(u)), -EINVAL);
	ck_assert_int_eq(settings_api_url("wss://", u, sizeof(u)), -EINVAL);
	ck_assert_int_eq(settings_api_url("wss://a b", u, sizeof(u)), -EINVAL);
	ck_assert_int_eq(settings_api_url("wss://a\x1b[2Jb", u, sizeof(u)), -EINVAL);
	ck_assert_int_eq(settings_api_url("wss://a\x7f", u, sizeof(u)), -EINVAL);
}
END_TEST

START_TEST(test_load)
{
	struct tunneld_opts o;
	static struct settings s;
	char err[512], tok[300];

	memset(&o, 0, sizeof(o));
	o.state_dir = dir;
	snprintf(tok, sizeof(tok), "%s/none", dir);
	o.token_path = tok;
	unsetenv("FIREZONE_TOKEN");
	setenv("FIREZONE_ID", "dev-1", 1);
	setenv("FIREZONE_API_URL", "http://127.0.0.1:9", 1);
	setenv("FIREZONE_DNS_CONTROL", "disabled", 1);
	setenv("FIREZONE_NO_TELEMETRY", "true", 1);
	ck_assert_int_eq(settings_load(&s, &o, err, sizeof(err)), 0);
	ck_assert(!s.has_token);
	ck_assert_str_eq(s.firezone_id, "dev-1");
	ck_assert_str_eq(s.api_url, "ws://127.0.0.1:9");
	ck_assert_str_eq(s.dns_control, "disabled");
	ck_assert(s.no_telemetry);
	/* front-end permissions: off by default, env or flag */
	ck_assert(!s.fe_allow_portal_url);
	ck_assert(!s.fe_allow_log_off);
	setenv("FZ_FRONTEND_ALLOW_PORTAL_URL", "yes", 1);
	o.fe_allow_log_off = true;
	ck_assert_int_eq(settings_load(&s, &o, err, sizeof(err)), 0);
	ck_assert(s.fe_allow_portal_url);
	ck_assert(s.fe_allow_log_off);
	setenv("FZ_FRONTEND_ALLOW_PORTAL_URL", "maybe", 1);
	ck_assert_int_eq(settings_load(&s, &o, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "FZ_FRONTEND_ALLOW_PORTAL_URL"));
	unsetenv("FZ_FRONTEND_ALLOW_PORTAL_URL");
	o.fe_allow_log_off = false;
	/* control characters in the device name */
	setenv("FIREZONE_NAME", "host\n<3>x", 1);
	ck_assert_int_eq(settings_load(&s, &o, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "FIREZONE_NAME"));
	unsetenv("FIREZONE_NAME");
	/* a flag wins over the environment */
	o.api_url = "wss://flag.example";
	ck_assert_int_eq(settings_load(&s, &o, err, sizeof(err)), 0);
	ck_assert_str_eq(s.api_url, "wss://flag.example");
	/* the token from the environment, removed from it afterwards */
	setenv("FIREZONE_TOKEN", " tok123 ", 1);
	ck_assert_int_eq(settings_load(&s, &o, err, sizeof(err)), 0);
	ck_assert(s.has_token);
	ck_assert_str_eq(s.token, "tok123");
	ck_assert_ptr_null(getenv("FIREZONE_TOKEN"));
	/* bad values name the variable */
	setenv("FIREZONE_DNS_CONTROL", "nope", 1);
	ck_assert_int_eq(settings_load(&s, &o, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "FIREZONE_DNS_CONTROL"));
	setenv("FIREZONE_DNS_CONTROL", "etc-resolv-conf", 1);
	setenv("FIREZONE_NO_TELEMETRY", "perhaps", 1);
	ck_assert_int_eq(settings_load(&s, &o, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "FIREZONE_NO_TELEMETRY"));
	unsetenv("FIREZONE_NO_TELEMETRY");
	/* a gateway needs a token */
	o.mode = "gateway";
	unsetenv("CREDENTIALS_DIRECTORY");
	ck_assert_int_eq(settings_load(&s, &o, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "FIREZONE_TOKEN"));
	o.mode = "relay";
	ck_assert_int_eq(settings_load(&s, &o, err, sizeof(err)), -EINVAL);
	/* a token file with a bad mode stops a client */
	o.mode = "client";
	write_file(tok, "abc", 0644);
	ck_assert_int_eq(settings_load(&s, &o, err, sizeof(err)), getuid() ==
	    0 ? -EPERM : -EPERM);
	ck_assert_ptr_nonnull(strstr(err, "refusing token file"));
}
END_TEST

static Suite *
settings_suite(void)
{
	Suite *s = suite_create("settings");
	TCase *tc = tcase_create("settings");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_token_file);
	tcase_add_test(tc, test_firezone_id);
	tcase_add_test(tc, test_parsers);
	tcase_add_test(tc, test_load);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(settings_suite)
