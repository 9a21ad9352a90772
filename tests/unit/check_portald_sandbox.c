/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's seccomp allow-list (contrib/portal/sandbox.c): what a running
 * portal does (SQLite writes on its open database, re-reading the
 * configuration, accepting) still works; socket creation, exec, fork and
 * ptrace are refused, and in kill mode end the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_util.h"
#include "contrib/portal/sandbox.h"
#include "contrib/portal/store.h"

#define PK1	"oTkVmfKvOuSdzRLwVpvZSzvVTRH+ztXzaFjJIb+fHnE="

static char dir[] = "/tmp/fz-pdsandbox.XXXXXX";
static char dbpath[256], cfgpath[256];

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
allowed_child(void)
{
	struct pd_store *s;
	struct pd_device d;
	char buf[16];
	int fd, sv[2];
	char *argv[] = { "/bin/true", NULL };

	if (pd_store_open_sqlite(dbpath, &s) != 0)
		return 1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 2;
	if (privsep_no_new_privs() != 0 ||
	    pd_sandbox_seccomp(SECCOMP_DEFAULT_ERRNO) != 0)
		return 3;
	/* what the running portal does */
	if (pd_store_device_upsert(s, PD_ROLE_CLIENT, "ext-a", "laptop", PK1,
	    100, &d) != 0 || pd_store_device_seen(s, d.id, 200) != 0)
		return 4;
	if ((fd = open(cfgpath, O_RDONLY | O_CLOEXEC)) < 0 ||
	    read(fd, buf, sizeof(buf)) != 2 || close(fd) != 0)
		return 5;
	if (write(sv[0], "x", 1) != 1 || read(sv[1], buf, 1) != 1)
		return 6;
	/* what it never does */
	errno = 0;
	if (socket(AF_INET, SOCK_STREAM, 0) != -1 || errno != EPERM)
		return 7;
	errno = 0;
	if (socket(AF_NETLINK, SOCK_RAW, 0) != -1 || errno != EPERM)
		return 8;
	errno = 0;
	if (execve(argv[0], argv, NULL) != -1 || errno != EPERM)
		return 9;
	errno = 0;
	if (syscall(SYS_ptrace, 0, 0, 0, 0) != -1 || errno != EPERM)
		return 10;
	errno = 0;
	if (syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) != -1 || errno != EPERM)
		return 11;
	errno = 0;
	if (syscall(SYS_setuid, 0) != -1 || errno != EPERM)
		return 12;
	errno = 0;
	if (syscall(SYS_connect, sv[0], NULL, 0) != -1 || errno != EPERM)
		return 13;
	pd_store_free(s);
	return 0;
}

START_TEST(test_allowed_and_refused)
{
	ck_assert_int_eq(in_child(allowed_child), 0);
}
END_TEST

static int
kill_child(void)
{
	char *argv[] = { "/bin/true", NULL };

	if (privsep_no_new_privs() != 0 ||
	    pd_sandbox_seccomp(SECCOMP_DEFAULT_KILL) != 0)
		return 1;
	execve(argv[0], argv, NULL);
	return 0;				/* not reached */
}

START_TEST(test_forbidden_kills)
{
	ck_assert_int_eq(in_child(kill_child), 100 + SIGSYS);
}
END_TEST

/* Not root: no uid change, capabilities empty, no_new_privs, not dumpable. */
static int
drop_child(void)
{
	bool dropped = true;

	if (geteuid() == 0)
		return pd_sandbox_drop("nobody", true, &dropped) != 0 ||
		    !dropped || getuid() != 65534 || setuid(0) == 0 ||
		    prctl(PR_GET_DUMPABLE) != 0 ||
		    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 ? 1 : 0;
	return pd_sandbox_drop("fz-portal", false, &dropped) != 0 ||
	    dropped || prctl(PR_GET_DUMPABLE) != 0 ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 ? 1 : 0;
}

START_TEST(test_drop)
{
	ck_assert_int_eq(in_child(drop_child), 0);
}
END_TEST

static void
setup(void)
{
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/state.db", dir);
	snprintf(cfgpath, sizeof(cfgpath), "%s/portald.json", dir);
	ck_assert_ptr_nonnull(f = fopen(cfgpath, "w"));
	fputs("{}", f);
	fclose(f);
}

static void
teardown(void)
{
	char p[300];

	unlink(cfgpath);
	unlink(dbpath);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
	rmdir(dir);
}

static Suite *
sandbox_suite(void)
{
	Suite *s = suite_create("portald_sandbox");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_allowed_and_refused);
	tcase_add_test(tc, test_forbidden_kills);
	tcase_add_test(tc, test_drop);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sandbox_suite)
