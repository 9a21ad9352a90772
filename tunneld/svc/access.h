/* SPDX-License-Identifier: ISC */
/*
 * fz-controld's ACCESS_* messages (ipc_msg.def) into the data plane's
 * resource enforcement (dp_filter.h): a gateway's per-client accesses, a
 * client's own resources.
 */
#ifndef FZ_SVC_ACCESS_H
#define FZ_SVC_ACCESS_H

struct svc;
struct ipc_msg;

/* 0, or -EINVAL for a message that does not parse (a violation). */
int	svc_access_msg(struct svc *, const struct ipc_msg *)
	    __attribute__((warn_unused_result));
/* Every access gone: at the end of a session. */
void	svc_access_clear(struct svc *);

#endif
