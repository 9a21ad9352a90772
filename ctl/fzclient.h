/* SPDX-License-Identifier: ISC */
/*
 * The front-end client of fz-tunneld's socket, shared by fzctl and fz-gui
 * (libfzctl.a): where the socket is, connecting as a front end, checking
 * a request against the catalogue before it is sent, and the list fields
 * TUNNEL_STATUS and RESOURCES carry as text.  The protocol itself is
 * libfzipc's (ipc.h); nothing here speaks it a second way.
 */
#ifndef FZ_FZCLIENT_H
#define FZ_FZCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ipc.h"

#define FZC_DEFAULT_SOCKET	"/run/fz/tunneld.sock"
#define FZC_EX_UNAVAILABLE	69	/* fz-tunneld is not running */
#define FZC_EX_NOPERM		77	/* not root nor in group fz-client */

/* The socket: opt (--socket) if set, else $FZ_SOCKET, else the default.
 * Borrowed from opt or the environment. */
const char *fzc_socket_path(const char *opt);

/*
 * A connected SOCK_STREAM socket to fz-tunneld at path (close-on-exec):
 * the descriptor, or -errno: -ENAMETOOLONG for a path that does not fit,
 * -EACCES / -EPERM when the socket's permissions refuse this user, the
 * connect's errno otherwise (-ENOENT, -ECONNREFUSED: not running).
 */
int	fzc_connect(const char *path) __attribute__((warn_unused_result));

/*
 * An ipc_conn on base as a front end (IPC_F to IPC_T, HELLO queued) over
 * fd from fzc_connect, dispatching through on_msg (borrowed).  Takes fd,
 * on failure too (closed); *out only on success.
 */
int	fzc_conn_new(struct event_base *, int fd, const char *program,
	    const struct ipc_handler *on_msg, ipc_close_cb *on_close,
	    void *arg, struct ipc_conn **out) __attribute__((warn_unused_result));

/*
 * Whether the encoder accepts m (its limits and text rules): 0 or
 * -EINVAL.  The scratch copy is wiped (a SIGN_IN carries a token).
 */
int	fzc_request_ok(const struct ipc_msg *) __attribute__((warn_unused_result));

/*
 * The first line of f into out (cap bytes with the NUL), without its line
 * end: 0, or -ENODATA when it is empty.  For tokens: the caller wipes out.
 */
int	fzc_token_read(FILE *f, char *out, size_t cap)
	    __attribute__((warn_unused_result));

/* Calls fn for each element of a list as fz-tunneld sends it, elements
 * joined by sep ("hq, branch" with ", "); s borrowed during the call. */
void	fzc_list_each(const char *list, const char *sep,
	    void (*fn)(const char *s, size_t n, void *arg), void *arg);

/*
 * One of TUNNEL_STATUS's connections ("peer direct|relayed addr channel
 * rtt_us since rx tx", joined by "; "); fzc_conn_entry_parse is false for
 * anything else.
 */
struct fzc_conn_entry {
	char			 peer[65], kind[16], addr[65];
	unsigned		 channel;
	unsigned long long	 rtt_us, since, rx, tx;
};

bool	fzc_conn_entry_parse(const char *s, size_t n, struct fzc_conn_entry *);
/* Calls fn for each entry of the list that parses. */
void	fzc_conns_each(const char *list,
	    void (*fn)(const struct fzc_conn_entry *, void *), void *arg);

#endif
