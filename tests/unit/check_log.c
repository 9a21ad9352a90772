/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define LOG_MODULE "tunneld"
#include "fztime.h"
#include "log.h"
#include "check_util.h"

/* Captures what the logger writes through a pipe. */
static int cap[2];

static void
cap_start(void)
{
	ck_assert_int_eq(pipe2(cap, O_NONBLOCK), 0);
	log_set_fd(cap[1]);
}

static char *
cap_end(void)
{
	static char buf[16384];
	ssize_t n;

	log_set_fd(-1);
	close(cap[1]);
	n = read(cap[0], buf, sizeof(buf) - 1);
	close(cap[0]);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

START_TEST(test_filter_parse)
{
	char out[128];

	ck_assert_int_eq(log_init("test", LOG_FORMAT_TEXT, NULL), 0);
	ck_assert_int_eq(log_check_filter("info"), 0);
	ck_assert_int_eq(log_check_filter("info,tunneld=debug"), 0);
	ck_assert_int_eq(log_check_filter("warn, wg=trace ,ipc=off"), 0);
	ck_assert_int_eq(log_check_filter("WARNING"), 0);
	ck_assert_int_eq(log_check_filter("verbose"), -EINVAL);
	ck_assert_int_eq(log_check_filter("tunneld=loud"), -EINVAL);
	ck_assert_int_eq(log_check_filter("=debug"), -EINVAL);
	ck_assert_int_eq(log_check_filter("bad name=debug"), -EINVAL);
	ck_assert_int_eq(log_check_filter("a=debug=x"), -EINVAL);
	ck_assert_int_eq(log_set_filter("debug,x=y"), -EINVAL);
	log_get_filter(out, sizeof(out));
	ck_assert_str_eq(out, "info");
	ck_assert_int_eq(log_set_filter("warn,tunneld=debug"), 0);
	log_get_filter(out, sizeof(out));
	ck_assert_str_eq(out, "warn,tunneld=debug");
	{
		enum log_level l;

		ck_assert_int_eq(log_filter_min_level("info,wg=debug", &l), 0);
		ck_assert_int_eq(l, LOG_LVL_INFO);
		ck_assert_int_eq(log_filter_min_level("debug,wg=off", &l), 0);
		ck_assert_int_eq(l, LOG_LVL_OFF);
		ck_assert_int_eq(log_filter_min_level("error", &l), 0);
		ck_assert_int_eq(l, LOG_LVL_ERROR);
		ck_assert_int_eq(log_filter_min_level("", &l), 0);
		ck_assert_int_eq(l, LOG_LVL_INFO);
		ck_assert_int_eq(log_filter_min_level("x=loud", &l), -EINVAL);
	}
}
END_TEST

START_TEST(test_filter_match)
{
	ck_assert_int_eq(log_init("test", LOG_FORMAT_TEXT,
	    "warn,tunneld=debug,tunneld.wg=trace,relay=off"), 0);
	ck_assert(log_enabled("tunneld", LOG_LVL_DEBUG));
	ck_assert(!log_enabled("tunneld", LOG_LVL_TRACE));
	ck_assert(log_enabled("tunneld.wg", LOG_LVL_TRACE));
	ck_assert(log_enabled("tunneld.tun", LOG_LVL_DEBUG));
	ck_assert(!log_enabled("tunneldx", LOG_LVL_INFO));	/* not a prefix match */
	ck_assert(log_enabled("tunneldx", LOG_LVL_WARN));
	ck_assert(!log_enabled("relay", LOG_LVL_ERROR));
	ck_assert(!log_enabled("other", LOG_LVL_INFO));
	ck_assert(log_enabled("other", LOG_LVL_ERROR));
	ck_assert(!log_enabled("other", LOG_LVL_OFF));
}
END_TEST

START_TEST(test_text_output)
{
	char *out;

	ck_assert_int_eq(log_init("test", LOG_FORMAT_TEXT, "info"), 0);
	cap_start();
	log_info("hello %d", 42);
	log_debug("hidden");
	errno = ENOENT;
	log_warn("opening %s", "x");
	out = cap_end();
	ck_assert_ptr_nonnull(strstr(out, "INFO  tunneld: hello 42\n"));
	ck_assert_ptr_null(strstr(out, "hidden"));
	ck_assert_ptr_nonnull(strstr(out, "opening x: No such file or directory"));
}
END_TEST

START_TEST(test_json_output)
{
	json_error_t err;
	json_t *j;
	char *out, *nl;

	ck_assert_int_eq(log_init("test", LOG_FORMAT_JSON, "debug"), 0);
	cap_start();
	log_emit("wg", LOG_LVL_DEBUG, EPERM,
	    "quote \" backslash \\ tab \t ctl \x01 bad \xff utf8 \xc3\xa9");
	out = cap_end();
	nl = strchr(out, '\n');
	ck_assert_ptr_nonnull(nl);
	ck_assert_ptr_null(strchr(nl + 1, '\n'));	/* exactly one line */
	j = json_loads(out, 0, &err);
	ck_assert_msg(j != NULL, "invalid JSON: %s: %s", err.text, out);
	ck_assert_str_eq(json_string_value(json_object_get(j, "level")),
	    "DEBUG");
	ck_assert_str_eq(json_string_value(json_object_get(j, "target")), "wg");
	ck_assert_str_eq(json_string_value(json_object_get(j, "message")),
	    "quote \" backslash \\ tab \t ctl \x01 bad \xef\xbf\xbd utf8 \xc3\xa9");
	ck_assert_str_eq(json_string_value(json_object_get(j, "error")),
	    "Operation not permitted");
	ck_assert_ptr_nonnull(json_object_get(j, "timestamp"));
	json_decref(j);
}
END_TEST

/*
 * A message quoting a peer's "\n<3>forged" must stay on one line in the
 * text and journald formats: no forged line, no forged priority prefix.
 */
static const char forged[] = "detail x\n<3>forged\r\x1b[2J\x7f\xc2\x85 \\ \xff é";
static const char forged_esc[] =
    "detail x\\x0a<3>forged\\x0d\\x1b[2J\\x7f\\xc2\\x85 \\\\ \\xff é";

static void
assert_one_line(const char *out)
{
	const char *nl = strchr(out, '\n');

	ck_assert_ptr_nonnull(nl);
	ck_assert_ptr_null(strchr(nl + 1, '\n'));
	ck_assert_ptr_null(strchr(out, '\r'));
	ck_assert_ptr_null(strchr(out, '\x1b'));
	ck_assert_ptr_null(strstr(out, "\xc2\x85"));
}

START_TEST(test_text_escapes_controls)
{
	char *out;

	ck_assert_int_eq(log_init("test", LOG_FORMAT_TEXT, "info"), 0);
	cap_start();
	log_warnx("%s", forged);
	out = cap_end();
	assert_one_line(out);
	ck_assert_msg(strstr(out, forged_esc) != NULL, "got: %s", out);
}
END_TEST

START_TEST(test_journal_escapes_controls)
{
	struct stat st;
	char js[64], *out;

	ck_assert_int_eq(fstat(2, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	ck_assert_int_eq(log_init("test", LOG_FORMAT_TEXT, "info"), 0);
	unsetenv("JOURNAL_STREAM");
	cap_start();
	log_warnx("%s", forged);
	out = cap_end();
	ck_assert_msg(strncmp(out, "<4>tunneld: ", 12) == 0, "got: %s", out);
	assert_one_line(out);
	ck_assert_msg(strstr(out, forged_esc) != NULL, "got: %s", out);
	ck_assert_ptr_null(strstr(out, "\n<3>"));
}
END_TEST

START_TEST(test_json_escapes_del_and_c1)
{
	json_t *j;
	char *out;

	ck_assert_int_eq(log_init("test", LOG_FORMAT_JSON, "info"), 0);
	cap_start();
	log_warnx("%s", forged);
	out = cap_end();
	assert_one_line(out);
	ck_assert_ptr_null(strchr(out, '\x7f'));
	ck_assert_ptr_nonnull(strstr(out, "\\u007f\\u0085"));
	j = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	json_decref(j);
}
END_TEST

START_TEST(test_escape_bounds)
{
	char b[8];

	ck_assert_uint_eq(log_escape(b, sizeof(b), "abc"), 3);
	ck_assert_str_eq(b, "abc");
	/* an escape that does not fit is left out whole */
	ck_assert_uint_eq(log_escape(b, sizeof(b), "abcd\n"), 4);
	ck_assert_str_eq(b, "abcd");
	ck_assert_uint_eq(log_escape(b, sizeof(b), "\n\n"), 4);
	ck_assert_str_eq(b, "\\x0a");
	/* overlong and surrogate encodings are not UTF-8 */
	ck_assert_uint_eq(log_escape(b, sizeof(b), "\xc0\x8a"), 4);
	ck_assert_str_eq(b, "\\xc0");
	ck_assert_uint_eq(log_escape(b, 1, "x"), 0);
	ck_assert_str_eq(b, "");
}
END_TEST

START_TEST(test_long_message_truncated)
{
	static char big[20000];
	json_t *j;
	char *out;

	memset(big, 'a', sizeof(big) - 1);
	ck_assert_int_eq(log_init("test", LOG_FORMAT_JSON, "info"), 0);
	cap_start();
	log_info("%s", big);
	out = cap_end();
	j = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
	ck_assert_ptr_nonnull(j);
	json_decref(j);
}
END_TEST

START_TEST(test_runtime_filter_change)
{
	char *out;

	ck_assert_int_eq(log_init("test", LOG_FORMAT_TEXT, "info"), 0);
	cap_start();
	log_debug("first");
	ck_assert_int_eq(log_set_filter("tunneld=debug"), 0);
	log_debug("second");
	out = cap_end();
	ck_assert_ptr_null(strstr(out, "first"));
	ck_assert_ptr_nonnull(strstr(out, "second"));
}
END_TEST

START_TEST(test_log_dir_rotation)
{
	char tmpl[] = "/tmp/fzlogXXXXXX", path[512];
	struct dirent *de;
	unsigned files = 0, i;
	DIR *d;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_int_eq(log_init("rot", LOG_FORMAT_TEXT, "info"), 0);
	log_set_fd(open("/dev/null", O_WRONLY));
	time_fake_enable(1, 1700000000ULL * NSEC_PER_SEC);
	ck_assert_int_eq(log_set_dir(tmpl, 300, 3), 0);
	for (i = 0; i < 20; i++) {
		time_fake_advance(NSEC_PER_SEC);	/* distinct file names */
		log_info("line %u with some padding to fill the file", i);
	}
	ck_assert_int_eq(log_set_dir(NULL, 0, 0), 0);
	time_fake_disable();
	log_set_fd(-1);

	d = opendir(tmpl);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".jsonl") != NULL)
			files++;
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", tmpl, de->d_name);
			unlink(path);
		}
	}
	closedir(d);
	rmdir(tmpl);
	ck_assert_uint_eq(files, 3);
}
END_TEST

START_TEST(test_ratelimit)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(1000, 3);
	unsigned ok = 0, i;

	ck_assert_int_eq(log_init("test", LOG_FORMAT_TEXT, "off"), 0);
	time_fake_enable(NSEC_PER_SEC, 0);
	for (i = 0; i < 10; i++)
		ok += log_ratelimit(&rl);
	ck_assert_uint_eq(ok, 3);
	ck_assert_uint_eq(rl.suppressed, 7);
	time_fake_advance(2 * NSEC_PER_SEC);
	ck_assert(log_ratelimit(&rl));
	ck_assert_uint_eq(rl.suppressed, 0);
	time_fake_disable();
}
END_TEST

START_TEST(test_parse_format)
{
	enum log_format f;

	ck_assert_int_eq(log_parse_format("json", &f), 0);
	ck_assert_int_eq(f, LOG_FORMAT_JSON);
	ck_assert_int_eq(log_parse_format("human", &f), 0);
	ck_assert_int_eq(f, LOG_FORMAT_TEXT);
	ck_assert_int_eq(log_parse_format("xml", &f), -EINVAL);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_filter_parse);
	tcase_add_test(tc, test_filter_match);
	tcase_add_test(tc, test_text_output);
	tcase_add_test(tc, test_json_output);
	tcase_add_test(tc, test_text_escapes_controls);
	tcase_add_test(tc, test_journal_escapes_controls);
	tcase_add_test(tc, test_json_escapes_del_and_c1);
	tcase_add_test(tc, test_escape_bounds);
	tcase_add_test(tc, test_long_message_truncated);
	tcase_add_test(tc, test_runtime_filter_change);
	tcase_add_test(tc, test_log_dir_rotation);
	tcase_add_test(tc, test_ratelimit);
	tcase_add_test(tc, test_parse_format);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(log_suite)
