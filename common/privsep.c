/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privsep.h"

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#else
#error "seccomp: unsupported architecture"
#endif

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static int
capset_ep(uint64_t eff, uint64_t perm)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].effective = (uint32_t)eff;
	d[1].effective = (uint32_t)(eff >> 32);
	d[0].permitted = (uint32_t)perm;
	d[1].permitted = (uint32_t)(perm >> 32);
	if (syscall(SYS_capset, &h, d) != 0)
		return -errno;
	return 0;
}

static int
capset_mask(uint64_t keep)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = (uint32_t)keep;
	d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &h, d) != 0)
		return -errno;
	return 0;
}

int
privsep_caps_limit(uint64_t keep)
{
	int c;

	for (c = 0; c <= 63; c++) {
		if (keep & PRIVSEP_CAP(c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
			return -errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
	    errno != EINVAL)
		return -errno;
	return 0;
}

int
privsep_caps_set(uint64_t keep)
{
	return capset_mask(keep);
}

int
privsep_caps_set_ep(uint64_t eff, uint64_t perm)
{
	if ((eff & ~perm) != 0)
		return -EINVAL;
	return capset_ep(eff, perm);
}

int
privsep_drop_ids(uid_t uid, gid_t gid, uint64_t keep)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int rc;

	if (uid == 0)
		return -EINVAL;
	if (keep != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
		return -errno;
	if (setgroups(1, &gid) != 0)
		return -errno;
	if (setresgid(gid, gid, gid) != 0)
		return -errno;
	if (setresuid(uid, uid, uid) != 0)
		return -errno;
	if (keep != 0) {
		(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
		if ((rc = capset_mask(keep)) != 0)
			return rc;
	}
	/* Prove it: every id changed, and none of them can come back. */
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return -errno;
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid)
		return -EPERM;
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1 ||
	    setegid(0) != -1)
		return -EPERM;
	return 0;
}

int
privsep_drop_user(const char *user, uint64_t keep)
{
	struct passwd pw, *res = NULL;
	char buf[2048];
	int rc;

	rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (rc != 0)
		return -rc;
	if (res == NULL)
		return -ENOENT;
	return privsep_drop_ids(pw.pw_uid, pw.pw_gid, keep);
}

int
privsep_no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	return 0;
}

int
privsep_cap_eff(uint64_t *out)
{
	char line[256];
	unsigned long long v;
	FILE *f;
	int rc = -ENOENT;

	if ((f = fopen("/proc/self/status", "re")) == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "CapEff: %llx", &v) == 1) {
			*out = v;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

void
seccomp_list_init(struct seccomp_list *l)
{
	memset(l, 0, sizeof(*l));
}

void
seccomp_list_allow(struct seccomp_list *l, int nr)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		if (l->nr[i] == nr)
			return;
	if (l->n == SECCOMP_LIST_MAX) {
		l->err = -ENOSPC;
		return;
	}
	l->nr[l->n++] = nr;
}

void
seccomp_list_allow_base(struct seccomp_list *l)
{
	static const int base[] = {
		/* stream and datagram I/O on fds we already hold */
		SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_close,
		SYS_recvfrom, SYS_sendto, SYS_recvmsg, SYS_sendmsg,
		SYS_recvmmsg, SYS_sendmmsg, SYS_shutdown, SYS_lseek,
		SYS_pread64, SYS_pwrite64,
		/* the event loop */
		SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_wait,
		SYS_epoll_pwait, SYS_poll, SYS_ppoll, SYS_eventfd2, SYS_pipe2,
		SYS_fcntl, SYS_dup, SYS_dup3, SYS_ioctl,
		/* memory */
		SYS_brk, SYS_mmap, SYS_munmap, SYS_mremap, SYS_mprotect,
		SYS_madvise,
		/* time and identity */
		SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep,
		SYS_gettimeofday, SYS_getpid, SYS_gettid, SYS_getuid,
		SYS_geteuid, SYS_getgid, SYS_getegid, SYS_getrandom,
		SYS_timerfd_create, SYS_timerfd_settime,
		/* signals, threads, exit */
		SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn,
		SYS_sigaltstack, SYS_futex, SYS_exit, SYS_exit_group,
		SYS_restart_syscall, SYS_sched_yield, SYS_tgkill,
		/* files we may still read (e.g. /etc/resolv.conf) */
		SYS_openat, SYS_newfstatat, SYS_fstat, SYS_statx,
		SYS_uname,
#ifdef SYS_open
		SYS_open, SYS_stat, SYS_access,
#endif
#ifdef SYS_rseq
		SYS_rseq,
#endif
	};
	unsigned i;

	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		seccomp_list_allow(l, base[i]);
}

int
seccomp_list_install(const struct seccomp_list *l, enum seccomp_default dflt)
{
	struct sock_filter prog[SECCOMP_LIST_MAX + 8];
	struct sock_fprog fp;
	unsigned i, n = 0;
	uint32_t deny;

	if (l->err != 0)
		return l->err;
	switch (dflt) {
	case SECCOMP_DEFAULT_KILL:
		deny = SECCOMP_RET_KILL_PROCESS;
		break;
	case SECCOMP_DEFAULT_ERRNO:
		deny = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
		break;
	case SECCOMP_DEFAULT_TRAP:
		deny = SECCOMP_RET_TRAP;
		break;
	default:
		return -EINVAL;
	}
	/* A foreign architecture is always killed: its numbers differ. */
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch));
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SECCOMP_ARCH, 1, 0);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_KILL_PROCESS);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
	/* x32 syscalls carry bit 30; refuse them outright. */
	prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
	    0x40000000, 0, 1);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_KILL_PROCESS);
#endif
	for (i = 0; i < l->n; i++) {
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, (uint32_t)l->nr[i], (uint8_t)(l->n - i), 0);
	}
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, deny);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	fp.len = (unsigned short)n;
	fp.filter = prog;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_TSYNC, &fp) != 0)
		return -errno;
	return 0;
}
