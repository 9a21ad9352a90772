/* SPDX-License-Identifier: ISC */
/*
 * fz-relayd's token from a file: a systemd credential
 * ($CREDENTIALS_DIRECTORY/FIREZONE_TOKEN, LoadCredential=), as the
 * gateway takes its own.  The caller owns out and wipes it.
 */
#ifndef FZ_RELAY_TOKEN_H
#define FZ_RELAY_TOKEN_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

#define RELAY_TOKEN_MAX	4096	/* bytes, as a portal token may be */

/*
 * n bytes of a file's contents as a token: surrounding white space
 * (spaces, tabs, CR, LF) trimmed; NUL-terminated into out (cap bytes).
 * -EINVAL if nothing is left or a control character remains inside,
 * -E2BIG if it does not fit (or is longer than RELAY_TOKEN_MAX).
 */
int	relay_token_trim(const char *buf, size_t n, char *out, size_t cap)
	    FZ_WUR;
/*
 * The token in path: a regular file owned by owner, not accessible by
 * group or others (systemd makes a credential so), trimmed as above.
 * -ENOENT when there is none, -EPERM for a file it refuses, -errno.
 * The bytes read are wiped.
 */
int	relay_token_read(const char *path, uid_t owner, char *out, size_t cap)
	    FZ_WUR;

#endif
