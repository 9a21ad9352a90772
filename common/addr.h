/* SPDX-License-Identifier: ISC */
/*
 * Socket addresses and CIDR prefixes <-> text, for IPv4 and IPv6.
 *
 * Accepted address forms: "192.0.2.1", "192.0.2.1:53", "2001:db8::1",
 * "[2001:db8::1]", "[2001:db8::1]:53" and "[fe80::1%eth0]:53".  Parsers are
 * strict (no trailing bytes, ports 0..65535 without sign or leading '+')
 * and write their out-parameter only on success.
 */
#ifndef FZ_ADDR_H
#define FZ_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"

union fz_sockaddr {
	struct sockaddr		sa;
	struct sockaddr_in	in4;
	struct sockaddr_in6	in6;
	struct sockaddr_storage	ss;
};

/* Large enough for "[ffff:...:ffff%ifname]:65535". */
#define ADDR_STRLEN	(INET6_ADDRSTRLEN + 2 + 1 + 16 + 6 + 1)

enum addr_port {
	ADDR_PORT_NONE,		/* a port is an error */
	ADDR_PORT_OPTIONAL,	/* port defaults to 0 */
	ADDR_PORT_REQUIRED,
};

int	addr_parse(const char *, enum addr_port, union fz_sockaddr *) FZ_WUR;
/* Formats "a.b.c.d:port" / "[v6]:port"; port omitted when with_port is 0. */
int	addr_fmt(const struct sockaddr *, bool with_port, char *, size_t) FZ_WUR;
socklen_t addr_len(const struct sockaddr *);
uint16_t addr_port(const struct sockaddr *);
void	addr_set_port(struct sockaddr *, uint16_t);
/* Compares family, address and port (and scope id for IPv6). */
bool	addr_eq(const struct sockaddr *, const struct sockaddr *);
/* Maps ::ffff:a.b.c.d to AF_INET in place; other addresses are unchanged. */
void	addr_unmap_v4(union fz_sockaddr *);
/*
 * "ip, ip" (commas and/or spaces between; ports as addr_parse's mode
 * allows) into at most max addresses, ::ffff:a.b.c.d unmapped; *n set on
 * success.  -EINVAL for a bad address, -E2BIG for more than max.
 */
int	addr_list_parse(const char *, enum addr_port, union fz_sockaddr *,
	    size_t max, size_t *n) FZ_WUR;

struct fz_cidr {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		prefix;		/* 0..32 or 0..128 */
	uint8_t		addr[16];	/* network order; host bits zero */
};

/*
 * Parses "10.0.0.0/8", "2001:db8::/32", or a bare address (a host
 * prefix).  Host bits past the prefix are cleared unless strict, in which
 * case they are an error (-EINVAL).
 */
int	cidr_parse(const char *, bool strict, struct fz_cidr *) FZ_WUR;
int	cidr_fmt(const struct fz_cidr *, char *, size_t) FZ_WUR;
/* addr is 4 or 16 network-order bytes of the given family. */
bool	cidr_contains(const struct fz_cidr *, int family, const void *addr);
bool	cidr_contains_sa(const struct fz_cidr *, const struct sockaddr *);

#endif
