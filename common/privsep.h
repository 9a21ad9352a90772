/* SPDX-License-Identifier: ISC */
/*
 * Dropping privileges, in the order a daemon's main does it (STYLE.md):
 * privsep_caps_limit while still root, privsep_drop_user (which proves the
 * drop), privsep_no_new_privs, then a seccomp allow-list built with
 * struct seccomp_list and installed with seccomp_list_install.
 *
 * No libcap/libseccomp: the few syscalls are used directly.
 */
#ifndef FZ_PRIVSEP_H
#define FZ_PRIVSEP_H

#include <stdint.h>
#include <sys/types.h>

#define PRIVSEP_CAP(c)	(1ULL << (c))

/*
 * Drops every capability not in keep from the bounding set and clears the
 * ambient set; the effective set is untouched so the uid drop still works.
 * Dropping needs CAP_SETPCAP; a bounding set that holds nothing outside
 * keep succeeds without it.
 */
int	privsep_caps_limit(uint64_t keep) __attribute__((warn_unused_result));
/* Sets effective and permitted to keep, inheritable to none. */
int	privsep_caps_set(uint64_t keep) __attribute__((warn_unused_result));
/* Effective eff and permitted perm (eff a subset), inheritable none. */
int	privsep_caps_set_ep(uint64_t eff, uint64_t perm)
	    __attribute__((warn_unused_result));
/*
 * setgroups/setresgid/setresuid to user's ids, keeping the capabilities in
 * keep (0 for none), then proves it: regaining uid/gid 0 must fail.
 */
int	privsep_drop_user(const char *user, uint64_t keep)
	    __attribute__((warn_unused_result));
int	privsep_drop_ids(uid_t, gid_t, uint64_t keep)
	    __attribute__((warn_unused_result));
int	privsep_no_new_privs(void) __attribute__((warn_unused_result));
/* Reads CapEff from /proc/self/status (for tests and self-checks). */
int	privsep_cap_eff(uint64_t *) __attribute__((warn_unused_result));
/* Reads any "Name:\t<hex>" line of /proc/self/status (CapBnd, CapAmb). */
int	privsep_status_hex(const char *name, uint64_t *)
	    __attribute__((warn_unused_result));

/*
 * One line an unprivileged child wrote on its stdout/stderr, made safe to
 * log: the level comes from a human-format "TIME LEVEL target: " prefix
 * when there is one (else info); a "controld: " target is dropped; control,
 * DEL and non-ASCII bytes become \xNN; at most in_max input bytes are
 * used.  out always ends in NUL.  Returns the level (enum log_level).
 */
int	privsep_child_line(const char *in, size_t len, char *out, size_t cap);

enum seccomp_default {
	SECCOMP_DEFAULT_KILL,		/* SECCOMP_RET_KILL_PROCESS */
	SECCOMP_DEFAULT_ERRNO,		/* fail with EPERM (tests, soft mode) */
	SECCOMP_DEFAULT_TRAP,		/* SIGSYS, for debugging a list */
	SECCOMP_DEFAULT_LOG,		/* allow but log (dmesg): building a list */
};

#define SECCOMP_LIST_MAX	200	/* jump offsets are 8 bits */
#define SECCOMP_ARG_RULES	8	/* syscalls allowed for some args only */
#define SECCOMP_ARG_VALUES	16

/* nr is allowed when the low 32 bits of args[arg] equal one of val. */
struct seccomp_arg_rule {
	int		nr;
	unsigned	arg;
	unsigned	n;
	uint32_t	val[SECCOMP_ARG_VALUES];
};

struct seccomp_list {
	int		nr[SECCOMP_LIST_MAX];
	unsigned	n;
	struct seccomp_arg_rule rule[SECCOMP_ARG_RULES];
	unsigned	nrules;
	int		err;		/* sticky: -ENOSPC, -EINVAL */
};

void	seccomp_list_init(struct seccomp_list *);
void	seccomp_list_allow(struct seccomp_list *, int nr);
/*
 * Allows nr only when the low 32 bits of argument arg (0-5) are one of
 * vals (as OpenSSH's sandbox does for ioctl requests: the kernel reads
 * them as unsigned int).  Calls for the same nr add values.  A plain
 * seccomp_list_allow of the same nr wins.
 */
void	seccomp_list_allow_arg(struct seccomp_list *, int nr, unsigned arg,
	    const uint32_t *vals, size_t nvals);
/*
 * Allows the syscalls every libc/libevent program needs (I/O, memory,
 * time).  Not ioctl: allow the requests a program needs with
 * seccomp_list_allow_arg(l, SYS_ioctl, 1, ...).
 */
void	seccomp_list_allow_base(struct seccomp_list *);
/* Requires no_new_privs (or CAP_SYS_ADMIN).  Applies to the calling thread's
 * process (SECCOMP_FILTER_FLAG_TSYNC). */
int	seccomp_list_install(const struct seccomp_list *, enum seccomp_default)
	    __attribute__((warn_unused_result));

#endif
