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

enum seccomp_default {
	SECCOMP_DEFAULT_KILL,		/* SECCOMP_RET_KILL_PROCESS */
	SECCOMP_DEFAULT_ERRNO,		/* fail with EPERM (tests, soft mode) */
	SECCOMP_DEFAULT_TRAP,		/* SIGSYS, for debugging a list */
};

#define SECCOMP_LIST_MAX	200	/* jump offsets are 8 bits */

struct seccomp_list {
	int		nr[SECCOMP_LIST_MAX];
	unsigned	n;
	int		err;		/* sticky: -ENOSPC */
};

void	seccomp_list_init(struct seccomp_list *);
void	seccomp_list_allow(struct seccomp_list *, int nr);
/* Allows the syscalls every libc/libevent program needs (I/O, memory, time). */
void	seccomp_list_allow_base(struct seccomp_list *);
/* Requires no_new_privs (or CAP_SYS_ADMIN).  Applies to the calling thread's
 * process (SECCOMP_FILTER_FLAG_TSYNC). */
int	seccomp_list_install(const struct seccomp_list *, enum seccomp_default)
	    __attribute__((warn_unused_result));

#endif
