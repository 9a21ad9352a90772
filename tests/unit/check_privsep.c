/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privsep.h"
#include "check_util.h"

/* Runs fn in a child; returns its exit status (0 = all checks held). */
static int
in_child(int (*fn)(void))
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn());
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int
seccomp_child(void)
{
	struct seccomp_list l;

	seccomp_list_init(&l);
	seccomp_list_allow_base(&l);
	if (privsep_no_new_privs() != 0)
		return 1;
	if (seccomp_list_install(&l, SECCOMP_DEFAULT_ERRNO) != 0)
		return 2;
	if (getpid() <= 0)			/* allowed */
		return 3;
	errno = 0;
	if (syscall(SYS_getppid) != -1 || errno != EPERM)	/* not listed */
		return 4;
	if (syscall(SYS_socket, AF_INET, 1, 0) != -1 || errno != EPERM)
		return 5;
	return 0;
}

START_TEST(test_seccomp_allowlist)
{
	ck_assert_int_eq(in_child(seccomp_child), 0);
}
END_TEST

static int
seccomp_kill_child(void)
{
	struct seccomp_list l;

	seccomp_list_init(&l);
	seccomp_list_allow_base(&l);
	if (privsep_no_new_privs() != 0 ||
	    seccomp_list_install(&l, SECCOMP_DEFAULT_KILL) != 0)
		return 1;
	syscall(SYS_getppid);
	return 0;				/* not reached */
}

START_TEST(test_seccomp_kill)
{
	ck_assert_int_eq(in_child(seccomp_kill_child), 100 + SIGSYS);
}
END_TEST

START_TEST(test_seccomp_list_limits)
{
	struct seccomp_list l;
	int i;

	seccomp_list_init(&l);
	for (i = 0; i < SECCOMP_LIST_MAX + 10; i++)
		seccomp_list_allow(&l, i);
	ck_assert_int_eq(l.err, -ENOSPC);
	ck_assert_int_eq(seccomp_list_install(&l, SECCOMP_DEFAULT_ERRNO),
	    -ENOSPC);
	seccomp_list_init(&l);
	seccomp_list_allow(&l, 1);
	seccomp_list_allow(&l, 1);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(seccomp_list_install(&l, 99), -EINVAL);
}
END_TEST

static int
drop_child(void)
{
	uint64_t eff;

	if (privsep_caps_limit(PRIVSEP_CAP(CAP_NET_ADMIN)) != 0)
		return 1;
	if (privsep_drop_ids(65534, 65534, PRIVSEP_CAP(CAP_NET_ADMIN)) != 0)
		return 2;
	if (getuid() != 65534 || getgid() != 65534)
		return 3;
	if (privsep_cap_eff(&eff) != 0 ||
	    eff != PRIVSEP_CAP(CAP_NET_ADMIN))
		return 4;
	if (setuid(0) == 0)
		return 5;
	if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0)
		return 6;
	return 0;
}

static int
drop_all_child(void)
{
	uint64_t eff;

	if (privsep_caps_limit(0) != 0)
		return 1;
	if (privsep_drop_ids(65534, 65534, 0) != 0)
		return 2;
	if (privsep_cap_eff(&eff) != 0 || eff != 0)
		return 3;
	if (privsep_drop_ids(0, 0, 0) != -EINVAL)
		return 4;
	return 0;
}

/* tunneld's shape: stays uid 0 but keeps only CAP_NET_ADMIN. */
static int
root_keep_child(void)
{
	uint64_t eff;

	if (privsep_caps_limit(PRIVSEP_CAP(CAP_NET_ADMIN)) != 0 ||
	    privsep_caps_set(PRIVSEP_CAP(CAP_NET_ADMIN)) != 0)
		return 1;
	if (privsep_cap_eff(&eff) != 0 || eff != PRIVSEP_CAP(CAP_NET_ADMIN))
		return 2;
	if (setuid(65534) == 0)		/* CAP_SETUID is gone */
		return 3;
	if (privsep_caps_set(PRIVSEP_CAP(CAP_SYS_ADMIN)) == 0)
		return 4;		/* cannot be regained */
	return 0;
}

START_TEST(test_drop_privileges)
{
	if (geteuid() != 0)
		return;		/* needs root; covered in CI */
	ck_assert_int_eq(in_child(drop_child), 0);
	ck_assert_int_eq(in_child(drop_all_child), 0);
	ck_assert_int_eq(in_child(root_keep_child), 0);
}
END_TEST

START_TEST(test_drop_unknown_user)
{
	ck_assert_int_eq(privsep_drop_user("no-such-user-fz", 0), -ENOENT);
}
END_TEST

static Suite *
privsep_suite(void)
{
	Suite *s = suite_create("privsep");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_seccomp_allowlist);
	tcase_add_test(tc, test_seccomp_kill);
	tcase_add_test(tc, test_seccomp_list_limits);
	tcase_add_test(tc, test_drop_privileges);
	tcase_add_test(tc, test_drop_unknown_user);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(privsep_suite)
