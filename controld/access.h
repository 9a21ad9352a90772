/* SPDX-License-Identifier: ISC */
/*
 * The portal's authorizations and resources as fz-tunneld's ACCESS_*
 * messages (ipc_msg.def; enforced by tunneld/dp/filter.h): on a gateway
 * create_authorization, reject_access, resource_updated and init's
 * authorizations; on a client its CIDR resources and their filters.
 */
#ifndef FZ_CONTROLD_ACCESS_H
#define FZ_CONTROLD_ACCESS_H

#include <stddef.h>

#include "ipc.h"
#include "portal_msg.h"

/* send(arg, msg): 0 or -errno; msg and its strings live until it returns. */
typedef int (*access_send_fn)(void *arg, const struct ipc_msg *);

/* Sends what m means for enforcement (nothing for other messages). */
void	access_portal_msg(const struct portal_msg *, access_send_fn,
	    void *arg);
/* An ipc_conn as access_send_fn's arg. */
int	access_ipc_send(void *conn, const struct ipc_msg *);
/* "tcp 80-80, udp 53-53, icmp"; -ENOSPC when it does not fit. */
int	access_filters_fmt(const struct portal_filter *, size_t, char *,
	    size_t) __attribute__((warn_unused_result));

#endif
