/* SPDX-License-Identifier: ISC */
/*
 * The WireGuard cross-platform userspace API (wireguard.com/xplatform) on
 * /var/run/wireguard/<ifname>.sock, as wireguard-go serves it, so that
 * wg(8) shows and configures fz: `wg show`, `wg showconf`, `wg set`.
 * uapi_show implements `fz-tunneld --show`.
 */
#ifndef FZ_UAPI_H
#define FZ_UAPI_H

#include "dataplane.h"

#define UAPI_DIR	"/var/run/wireguard"

struct uapi;

int	uapi_start(struct dp *, const char *ifname, struct uapi **)
	    __attribute__((warn_unused_result));
void	uapi_stop(struct uapi *);
/* The mark get reports ("fwmark=", wg showconf's FwMark); 0: none. */
void	uapi_set_fwmark(struct uapi *, uint32_t);
/* Prints IFACE ("" = every socket in UAPI_DIR) like `wg show'; exit code. */
int	uapi_show(const char *ifname);

#endif
