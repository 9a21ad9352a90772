/* SPDX-License-Identifier: ISC */
/*
 * The client's SRV/TXT queries for DNS resources to their gateway's
 * <tunnel ip>:53535 (firezone-protocols.md §4.4), over UDP or TCP as the
 * client asked: plain sockets of fz-controld, without fz's fwmark, so the policy rules route them into
 * tun-firezone (100.64.0.0/11, fd00:2021:1111::/107) and the data plane
 * encrypts them to that gateway (its tunnel address is in the gateway's
 * allowed IPs).  Answers go to the callback.  Owns its sockets.
 */
#ifndef FZ_DNS_SITE_H
#define FZ_DNS_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sockaddr;
struct dns_site;

/* An answer from `from`; the bytes are borrowed for the call. */
typedef void (*dns_site_answer_fn)(void *arg, const struct sockaddr *from,
    const uint8_t *, size_t);

int	dns_site_new(struct event_base *, dns_site_answer_fn, void *arg,
	    struct dns_site **) __attribute__((warn_unused_result));
void	dns_site_free(struct dns_site *);		/* NULL-safe */
/*
 * Sends msg to `to`: over UDP (a socket per family, opened on first use),
 * or over a TCP connection of its own (RFC 1035 4.2.2 framing; closed
 * after the answer or DNS_SITE_TCP_TIMEOUT_S; at most DNS_SITE_MAX_TCP).
 */
#define DNS_SITE_MAX_TCP	16
#define DNS_SITE_TCP_TIMEOUT_S	5
void	dns_site_send(struct dns_site *, const struct sockaddr *to, bool tcp,
	    const uint8_t *msg, size_t len);

#endif
