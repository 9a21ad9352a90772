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

#include "log.h"
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
		/* Already gone (or unknown): nothing to do, no privilege. */
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0)
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
privsep_status_hex(const char *name, uint64_t *out)
{
	char line[256];
	unsigned long long v;
	size_t nl = strlen(name);
	FILE *f;
	int rc = -ENOENT;

	if ((f = fopen("/proc/self/status", "re")) == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, name, nl) != 0 || line[nl] != ':')
			continue;
		if (sscanf(line + nl + 1, " %llx", &v) == 1) {
			*out = v;
			rc = 0;
		}
		break;
	}
	fclose(f);
	return rc;
}

int
privsep_cap_eff(uint64_t *out)
{
	return privsep_status_hex("CapEff", out);
}

int
privsep_child_line(const char *in, size_t len, char *out, size_t cap)
{
	static const char *const lv[] = {
		"OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE",
	};
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, j, o = 0;
	int level = LOG_LVL_INFO, l;

	if (cap == 0)
		return level;
	/* "2026-11-23T05:47:02.123456Z INFO  controld: message" */
	while (i < len && in[i] != ' ')
		i++;
	j = i;
	while (j < len && in[j] == ' ')
		j++;
	for (l = LOG_LVL_ERROR; l <= LOG_LVL_TRACE && i > 0; l++) {
		size_t n = strlen(lv[l]);

		if (len - j > n && memcmp(in + j, lv[l], n) == 0 &&
		    in[j + n] == ' ') {
			level = l;
			for (i = j + n; i < len && in[i] == ' '; i++)
				;
			if (len - i >= 10 && memcmp(in + i, "controld: ", 10)
			    == 0)
				i += 10;
			break;
		}
	}
	if (l > LOG_LVL_TRACE || i == 0)
		i = 0;		/* not our format: log the line whole */
	for (; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= cap)
				break;
			out[o++] = (char)c;
			continue;
		}
		if (o + 4 >= cap)
			break;
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	out[o] = '\0';
	return level;
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
seccomp_list_allow_arg(struct seccomp_list *l, int nr, unsigned arg,
    const uint32_t *vals, size_t nvals)
{
	struct seccomp_arg_rule *r = NULL;
	unsigned i, k;

	if (arg > 5) {
		l->err = -EINVAL;
		return;
	}
	for (i = 0; i < l->nrules; i++)
		if (l->rule[i].nr == nr && l->rule[i].arg == arg)
			r = &l->rule[i];
	if (r == NULL) {
		if (l->nrules == SECCOMP_ARG_RULES) {
			l->err = -ENOSPC;
			return;
		}
		r = &l->rule[l->nrules++];
		r->nr = nr;
		r->arg = arg;
		r->n = 0;
	}
	for (i = 0; i < nvals; i++) {
		for (k = 0; k < r->n; k++)
			if (r->val[k] == vals[i])
				break;
		if (k < r->n)
			continue;
		if (r->n == SECCOMP_ARG_VALUES) {
			l->err = -ENOSPC;
			return;
		}
		r->val[r->n++] = vals[i];
	}
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
		SYS_fcntl, SYS_dup, SYS_dup3,	/* ioctl: by request only */
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

/*
 * The program:
 *	arch check; load nr
 *	one JEQ per plainly allowed nr       -> ALLOW
 *	one JEQ per argument-filtered nr     -> its block
 *	DENY; ALLOW
 *	per block: load the low half of the argument, one JEQ per value
 *	-> its own ALLOW, else DENY (BPF jumps only forward)
 */
int
seccomp_list_install(const struct seccomp_list *l, enum seccomp_default dflt)
{
	struct sock_filter prog[SECCOMP_LIST_MAX + 16 + SECCOMP_ARG_RULES *
	    (SECCOMP_ARG_VALUES + 3)];
	struct sock_fprog fp;
	unsigned i, k, n = 0, first, njeq, block;
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
	case SECCOMP_DEFAULT_LOG:
		deny = SECCOMP_RET_LOG;
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
	first = n;
	njeq = l->n + l->nrules;
	/* pc + 1 + jt: ALLOW sits at first + njeq + 1 */
	for (i = 0; i < l->n; i++) {
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, (uint32_t)l->nr[i], (uint8_t)(njeq - i), 0);
	}
	block = first + njeq + 2;
	for (i = 0; i < l->nrules; i++) {
		unsigned jt = block - n - 1;

		if (jt > 255)
			return -E2BIG;
		prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, (uint32_t)l->rule[i].nr, (uint8_t)jt, 0);
		block += l->rule[i].n + 3;
	}
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, deny);
	prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	for (i = 0; i < l->nrules; i++) {
		const struct seccomp_arg_rule *r = &l->rule[i];

		/* The low 32 bits (both architectures are little-endian). */
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W |
		    BPF_ABS, offsetof(struct seccomp_data, args) +
		    r->arg * sizeof(uint64_t));
		for (k = 0; k < r->n; k++)
			prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP |
			    BPF_JEQ | BPF_K, r->val[k], (uint8_t)(r->n - k), 0);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, deny);
		prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		    SECCOMP_RET_ALLOW);
	}
	fp.len = (unsigned short)n;
	fp.filter = prog;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_TSYNC, &fp) != 0)
		return -errno;
	return 0;
}
