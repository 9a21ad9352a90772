/* SPDX-License-Identifier: ISC */
/*
 * The WireGuard cross-platform userspace API (wireguard.com/xplatform) on
 * /var/run/wireguard/<ifname>.sock, as wireguard-go serves it, so that
 * wg(8) shows and configures fz: `wg show`, `wg showconf`, `wg set`.
 * uapi_show implements `fz-tunneld --show`.  The socket's requests and
 * --show's replies are parsed by uapi_handle and uapi_show_reply, which
 * do no I/O (unit-tested and fuzzed without a socket).
 */
#ifndef FZ_UAPI_H
#define FZ_UAPI_H

#include <stdbool.h>
#include <stdio.h>

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

/* A reply being built: len bytes at p; err once out of memory. */
struct uapi_buf {
	char	*p;
	size_t	 len, cap;
	bool	 err;
};

/*
 * Answers one request (REQ: the LEN bytes read, with the blank line that
 * ends it; changed in place): "get=1" describes the device, "set=1"
 * applies its lines (up to the first bad one), anything else fails.  On
 * 0, *out is a new reply that ends in "errno=N\n\n" (N: 0 or a positive
 * errno), for the caller to release with uapi_buf_free; or -ENOMEM.
 */
int	uapi_handle(struct dp *, uint32_t fwmark, char *req, size_t len,
	    struct uapi_buf *out) __attribute__((warn_unused_result));
/* Wipes (a reply holds the private key) and frees; NULL-safe contents. */
void	uapi_buf_free(struct uapi_buf *);
/*
 * Prints the reply to a get=1 (LEN bytes; NOW: the real time in seconds,
 * for "latest handshake") like `wg show IFNAME` to out, once the whole
 * reply was checked: 0, -errno when the reply's errno line says so,
 * -EPROTO for a reply cut short or malformed, -ENOMEM (a message on err).
 */
int	uapi_show_reply(const char *ifname, const char *reply, size_t len,
	    uint64_t now, FILE *out, FILE *err)
	    __attribute__((warn_unused_result));

#endif
