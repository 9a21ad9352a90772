/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's privilege drop and seccomp allow-list (common/privsep.h),
 * apart from main so a unit test can install the same filter.
 */
#ifndef FZ_PORTALD_SANDBOX_H
#define FZ_PORTALD_SANDBOX_H

#include <stdbool.h>

#include "privsep.h"

/*
 * Drops to user when root (required names a --user given explicitly: a
 * missing default user then keeps uid 0, a missing given one fails),
 * empties every capability set, sets no_new_privs and proves the result:
 * CapEff, CapPrm, CapAmb and (started as root) CapBnd all 0 and, when a
 * user was taken, uid 0 not regainable.  *uid_dropped tells whether the uid changed.
 */
int	pd_sandbox_drop(const char *user, bool required, bool *uid_dropped)
	    __attribute__((warn_unused_result));
/* The running portal's syscalls (sandbox.c); needs no_new_privs. */
void	pd_sandbox_list(struct seccomp_list *);
int	pd_sandbox_seccomp(enum seccomp_default)
	    __attribute__((warn_unused_result));

#endif
