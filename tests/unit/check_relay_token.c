/* SPDX-License-Identifier: ISC */
/*
 * fz-relayd's token from $CREDENTIALS_DIRECTORY/FIREZONE_TOKEN: trimmed,
 * refused when empty, with controls inside, too long, or a file that
 * others may read or someone else owns.
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
#include "relay_token.h"

START_TEST(test_trim)
{
	char out[64], big[RELAY_TOKEN_MAX + 2];

	ck_assert_int_eq(relay_token_trim("tok\n", 4, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "tok");
	ck_assert_int_eq(relay_token_trim(" \t tok-1.x \r\n\n", 14, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "tok-1.x");
	ck_assert_int_eq(relay_token_trim(" \n", 2, out, sizeof(out)),
	    -EINVAL);
	ck_assert_int_eq(relay_token_trim("", 0, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(relay_token_trim("a\nb", 3, out, sizeof(out)),
	    -EINVAL);
	ck_assert_int_eq(relay_token_trim("a\0b", 3, out, sizeof(out)),
	    -EINVAL);
	ck_assert_int_eq(relay_token_trim("abcd", 4, out, 4), -E2BIG);
	ck_assert_int_eq(relay_token_trim("abcd", 4, out, 5), 0);
	memset(big, 'a', sizeof(big));
	{
		char *o = malloc(sizeof(big) + 1);

		ck_assert_ptr_nonnull(o);
		ck_assert_int_eq(relay_token_trim(big, RELAY_TOKEN_MAX, o,
		    sizeof(big) + 1), 0);
		ck_assert_int_eq(relay_token_trim(big, RELAY_TOKEN_MAX + 1, o,
		    sizeof(big) + 1), -E2BIG);
		free(o);
	}
}
END_TEST

static char dir[64];

static void
put(const char *name, const char *s, mode_t mode)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static int
rd(const char *name, uid_t owner, char *out, size_t cap)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return relay_token_read(p, owner, out, cap);
}

START_TEST(test_read)
{
	char out[128];

	snprintf(dir, sizeof(dir), "/tmp/check_relay_token.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	put("FIREZONE_TOKEN", "relay-token-1\n", 0400);
	ck_assert_int_eq(rd("FIREZONE_TOKEN", geteuid(), out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "relay-token-1");
	/* someone else's, or readable by others: refused */
	ck_assert_int_eq(rd("FIREZONE_TOKEN", geteuid() + 1, out,
	    sizeof(out)), -EPERM);
	put("open", "relay-token-1\n", 0644);
	ck_assert_int_eq(rd("open", geteuid(), out, sizeof(out)), -EPERM);
	put("empty", "\n", 0600);
	ck_assert_int_eq(rd("empty", geteuid(), out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(rd("none", geteuid(), out, sizeof(out)), -ENOENT);
	{
		char p[128], q[128];

		snprintf(p, sizeof(p), "%s/FIREZONE_TOKEN", dir);
		snprintf(q, sizeof(q), "%s/link", dir);
		ck_assert_int_eq(symlink(p, q), 0);
		ck_assert_int_eq(rd("link", geteuid(), out, sizeof(out)),
		    -ELOOP);
		unlink(q);
		unlink(p);
		snprintf(p, sizeof(p), "%s/open", dir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/empty", dir);
		unlink(p);
	}
	rmdir(dir);
}
END_TEST

static Suite *
relay_token_suite(void)
{
	Suite *s = suite_create("relay_token");
	TCase *tc = tcase_create("token");

	tcase_add_test(tc, test_trim);
	tcase_add_test(tc, test_read);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(relay_token_suite)
