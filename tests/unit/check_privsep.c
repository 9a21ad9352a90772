/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "privsep.h"
#include "tunneld.h"
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

/*
 * ioctl allowed by request: FIONREAD works, TIOCSTI (pushing keystrokes
 * into a terminal) and TIOCSCTTY are refused, also with the request in a
 * 64-bit argument whose high half is set (the kernel reads 32 bits).
 */
static int
seccomp_ioctl_child(void)
{
	static const uint32_t ok[] = { FIONREAD };
	struct seccomp_list l;
	int p[2], n = -1, amaster, aslave;
	char c = 'x';

	if (pipe(p) != 0 || write(p[1], "ab", 2) != 2)
		return 1;
	if (openpty(&amaster, &aslave, NULL, NULL, NULL) != 0)
		aslave = p[0];		/* no pty: still an ioctl to refuse */
	seccomp_list_init(&l);
	seccomp_list_allow_base(&l);
	seccomp_list_allow_arg(&l, SYS_ioctl, 1, ok, 1);
	if (privsep_no_new_privs() != 0 ||
	    seccomp_list_install(&l, SECCOMP_DEFAULT_ERRNO) != 0)
		return 2;
	if (ioctl(p[0], FIONREAD, &n) != 0 || n != 2)
		return 3;
	errno = 0;
	if (ioctl(aslave, TIOCSTI, &c) != -1 || errno != EPERM)
		return 4;
	errno = 0;
	if (syscall(SYS_ioctl, aslave, (unsigned long)TIOCSTI |
	    0x100000000UL, &c) != -1 || errno != EPERM)
		return 5;
	errno = 0;
	if (syscall(SYS_ioctl, p[0], (unsigned long)FIONREAD |
	    0x100000000UL, &n) != 0)
		return 6;		/* the kernel's view: still FIONREAD */
	return 0;
}

START_TEST(test_seccomp_ioctl_arg)
{
	ck_assert_int_eq(in_child(seccomp_ioctl_child), 0);
}
END_TEST

/* Default kill: TIOCSTI ends the process, as in fz-controld. */
static int
seccomp_tiocsti_kill_child(void)
{
	static const uint32_t ok[] = { FIONREAD };
	struct seccomp_list l;
	int p[2], n;
	char c = 'x';

	if (pipe(p) != 0)
		return 1;
	seccomp_list_init(&l);
	seccomp_list_allow_base(&l);
	seccomp_list_allow_arg(&l, SYS_ioctl, 1, ok, 1);
	if (privsep_no_new_privs() != 0 ||
	    seccomp_list_install(&l, SECCOMP_DEFAULT_KILL) != 0)
		return 2;
	if (ioctl(p[0], FIONREAD, &n) != 0)
		return 3;
	(void)ioctl(0, TIOCSTI, &c);
	return 0;				/* not reached */
}

START_TEST(test_seccomp_tiocsti_kill)
{
	ck_assert_int_eq(in_child(seccomp_tiocsti_kill_child), 100 + SIGSYS);
}
END_TEST

/* Several argument rules and many values keep their jumps straight. */
static int
seccomp_many_rules_child(void)
{
	uint32_t vals[SECCOMP_ARG_VALUES];
	struct seccomp_list l;
	unsigned i;
	int fd;

	for (i = 0; i < SECCOMP_ARG_VALUES; i++)
		vals[i] = 1000 + i;
	vals[7] = F_GETFD;
	seccomp_list_init(&l);
	seccomp_list_allow_base(&l);
	seccomp_list_allow_arg(&l, SYS_getpriority, 0, vals, 3);
	seccomp_list_allow_arg(&l, SYS_fcntl, 1, vals, SECCOMP_ARG_VALUES);
	/* fcntl is in the base list too: the plain allow wins */
	seccomp_list_allow_arg(&l, SYS_kill, 1, vals + 8, 1);   /* sig 1008 */
	seccomp_list_allow_arg(&l, SYS_kill, 1, vals + 9, 1);   /* adds 1009 */
	if (l.nrules != 3 || l.rule[2].n != 2)
		return 1;
	if (privsep_no_new_privs() != 0 ||
	    seccomp_list_install(&l, SECCOMP_DEFAULT_ERRNO) != 0)
		return 2;
	errno = 0;
	if (syscall(SYS_kill, getpid(), 0) != -1 || errno != EPERM)
		return 3;		/* signal 0 is not listed */
	errno = 0;
	if (syscall(SYS_kill, getpid(), 1009) != -1 || errno != EINVAL)
		return 4;		/* listed: reaches the kernel */
	errno = 0;
	if (syscall(SYS_getpriority, 1000, 0) != -1 || errno != EINVAL)
		return 5;
	errno = 0;
	if (syscall(SYS_getpriority, PRIO_PROCESS, 0) != -1 || errno != EPERM)
		return 6;
	if ((fd = fcntl(0, F_GETFL)) < 0 && errno == EPERM)
		return 7;
	return 0;
}

START_TEST(test_seccomp_arg_rules)
{
	struct seccomp_list l;
	uint32_t v[SECCOMP_ARG_VALUES + 1];
	unsigned i;

	ck_assert_int_eq(in_child(seccomp_many_rules_child), 0);
	memset(v, 0, sizeof(v));
	for (i = 0; i <= SECCOMP_ARG_VALUES; i++)
		v[i] = i;
	seccomp_list_init(&l);
	seccomp_list_allow_arg(&l, SYS_ioctl, 1, v, SECCOMP_ARG_VALUES + 1);
	ck_assert_int_eq(l.err, -ENOSPC);
	seccomp_list_init(&l);
	seccomp_list_allow_arg(&l, SYS_ioctl, 6, v, 1);
	ck_assert_int_eq(l.err, -EINVAL);
	seccomp_list_init(&l);
	for (i = 0; i <= SECCOMP_ARG_RULES; i++)
		seccomp_list_allow_arg(&l, (int)i, 0, v, 1);
	ck_assert_int_eq(seccomp_list_install(&l, SECCOMP_DEFAULT_ERRNO),
	    -ENOSPC);
}
END_TEST

/*
 * fz-tunneld's allow-list (tunneld/sandbox.c), with EPERM for what it
 * refuses: what an attacker in the packet path would want first is
 * refused, what running and spawning fz-controld needs is not.
 */
static int
tunneld_sandbox_child(bool service)
{
	int p[2], n;
	char c = 'x';

	if (pipe(p) != 0 || privsep_no_new_privs() != 0)
		return 1;
	if (tunneld_sandbox(service, SECCOMP_DEFAULT_ERRNO) != 0)
		return 2;
	if (ioctl(p[0], FIONREAD, &n) != 0)
		return 3;
	errno = 0;
	if (ioctl(p[0], TIOCSTI, &c) != -1 || errno != EPERM)
		return 4;
	errno = 0;
	if (syscall(SYS_mount, "none", "/", "tmpfs", 0, NULL) != -1 ||
	    errno != EPERM)
		return 5;
	errno = 0;
	if (syscall(SYS_ptrace, 0, 0, 0, 0) != -1 || errno != EPERM)
		return 6;
	errno = 0;
	if (syscall(SYS_execve, "/bin/true", NULL, NULL) != -1 ||
	    errno != EPERM)
		return 7;			/* only execveat, by fd */
	errno = 0;
	/* (PR_SET_DUMPABLE is fz-controld's, after its drop) */
	if (prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0) != -1 ||
	    errno != EPERM)
		return 8;
	errno = 0;
	if (syscall(SYS_bpf, 0, NULL, 0) != -1 || errno != EPERM)
		return 9;
	errno = 0;
	n = syscall(SYS_socket, AF_UNIX, SOCK_DGRAM, 0);
	if (service ? n < 0 : (n != -1 || errno != EPERM))
		return 10;		/* sd_notify, netlink: service only */
	errno = 0;
	if (service) {
		if (prctl(PR_CAPBSET_READ, 0, 0, 0, 0) < 0)
			return 11;
		errno = 0;
		if (syscall(SYS_socket, AF_ALG, SOCK_SEQPACKET, 0) != -1 ||
		    errno != EPERM)
			return 14;	/* a family it has no use for */
		if ((n = syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0)) < 0)
			return 15;	/* rtnetlink */
		close(n);
		if (syscall(SYS_execveat, -1, "", NULL, NULL, 0x1000) != -1 ||
		    errno != EBADF)
			return 12;	/* reaches the kernel */
	} else if (prctl(PR_CAPBSET_READ, 0, 0, 0, 0) != -1 ||
	    errno != EPERM)
		return 13;
	return 0;
}

static int
tunneld_sandbox_service(void)
{
	return tunneld_sandbox_child(true);
}

static int
tunneld_sandbox_static(void)
{
	return tunneld_sandbox_child(false);
}

START_TEST(test_tunneld_sandbox)
{
	ck_assert_int_eq(in_child(tunneld_sandbox_service), 0);
	ck_assert_int_eq(in_child(tunneld_sandbox_static), 0);
}
END_TEST

START_TEST(test_child_line)
{
	char out[64];
	int lvl;
	const char *l1 = "2026-11-23T05:47:02.1Z WARN  controld: portal down";

	lvl = privsep_child_line(l1, strlen(l1), out, sizeof(out));
	ck_assert_int_eq(lvl, LOG_LVL_WARN);
	ck_assert_str_eq(out, "portal down");
	lvl = privsep_child_line("T ERROR ipc: bad", 16, out, sizeof(out));
	ck_assert_int_eq(lvl, LOG_LVL_ERROR);
	ck_assert_str_eq(out, "ipc: bad");
	/* not our format: whole, at info; escapes control and high bytes */
	lvl = privsep_child_line("a\033[2J\\b\xff", 8, out, sizeof(out));
	ck_assert_int_eq(lvl, LOG_LVL_INFO);
	ck_assert_str_eq(out, "a\\x1b[2J\\x5cb\\xff");
	lvl = privsep_child_line("T NOTALEVEL x", 13, out, sizeof(out));
	ck_assert_int_eq(lvl, LOG_LVL_INFO);
	ck_assert_str_eq(out, "T NOTALEVEL x");
	/* a level word without anything after it */
	lvl = privsep_child_line("T INFO", 6, out, sizeof(out));
	ck_assert_int_eq(lvl, LOG_LVL_INFO);
	ck_assert_str_eq(out, "T INFO");
	/* an embedded NUL is escaped, not a terminator */
	privsep_child_line("x\0y", 3, out, sizeof(out));
	ck_assert_str_eq(out, "x\\x00y");
	/* cut to fit, never a partial escape */
	privsep_child_line("abcdef\x01", 7, out, 9);
	ck_assert_str_eq(out, "abcdef");
	privsep_child_line("", 0, out, sizeof(out));
	ck_assert_str_eq(out, "");
	privsep_child_line("abc", 3, out, 1);
	ck_assert_str_eq(out, "");
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

/*
 * The bounding set: emptied while root it reads 0 and an unprivileged
 * privsep_caps_limit(0) then succeeds; left non-empty, that call fails
 * with EPERM (fz-controld refuses to run).
 */
static int
bounding_child(void)
{
	uint64_t v;

	if (privsep_caps_limit(PRIVSEP_CAP(CAP_NET_ADMIN)) != 0)
		return 1;
	if (privsep_status_hex("CapBnd", &v) != 0 ||
	    v != PRIVSEP_CAP(CAP_NET_ADMIN))
		return 2;
	if (privsep_drop_ids(65534, 65534, 0) != 0)
		return 3;
	if (privsep_caps_limit(0) != -EPERM)
		return 4;
	return 0;
}

static int
bounding_empty_child(void)
{
	uint64_t v;

	if (privsep_caps_limit(0) != 0 ||
	    privsep_drop_ids(65534, 65534, 0) != 0)
		return 1;
	if (privsep_caps_limit(0) != 0)
		return 2;
	if (privsep_status_hex("CapBnd", &v) != 0 || v != 0)
		return 3;
	if (privsep_status_hex("CapAmb", &v) != 0 || v != 0)
		return 4;
	if (privsep_status_hex("NoSuchField", &v) != -ENOENT)
		return 5;
	return 0;
}

START_TEST(test_drop_privileges)
{
	if (geteuid() != 0)
		return;		/* needs root; covered in CI */
	ck_assert_int_eq(in_child(drop_child), 0);
	ck_assert_int_eq(in_child(drop_all_child), 0);
	ck_assert_int_eq(in_child(root_keep_child), 0);
	ck_assert_int_eq(in_child(bounding_child), 0);
	ck_assert_int_eq(in_child(bounding_empty_child), 0);
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
	tcase_add_test(tc, test_seccomp_ioctl_arg);
	tcase_add_test(tc, test_seccomp_tiocsti_kill);
	tcase_add_test(tc, test_seccomp_arg_rules);
	tcase_add_test(tc, test_child_line);
	tcase_add_test(tc, test_tunneld_sandbox);
	tcase_add_test(tc, test_drop_privileges);
	tcase_add_test(tc, test_drop_unknown_user);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(privsep_suite)
