/* SPDX-License-Identifier: ISC */
/*
 * What a gateway needs from the OS: IP forwarding (net.ipv4.ip_forward,
 * net.ipv6.conf.all.forwarding; the old values restored on stop) and a
 * masquerade of the tunnel addresses (100.64.0.0/11, fd00:2021:1111::/107)
 * in an nftables table of its own, "inet fz-gateway", replaced on start
 * (a stale one from a killed run included) and deleted on stop.
 *
 * The table is made by the nft binary with a fixed script on stdin (no
 * libnftables dependency, and nft's own parser checks it); it is deleted
 * by one hand-built nfnetlink batch on a socket opened at start, since by
 * then fz-tunneld has dropped to CAP_NET_ADMIN under seccomp and an exec
 * would have nothing left.  The sysctl files are opened at start and
 * written again (at offset 0) on stop, for the same reason.
 */
#ifndef FZ_GWNAT_H
#define FZ_GWNAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GWNAT_TABLE	"fz-gateway"

struct gwnat {
	int	 fwd_fd[2];		/* ipv4, ipv6 sysctl files, or -1 */
	char	 old[2][16];		/* their values before start */
	bool	 changed[2];
	int	 nfnl_fd;		/* NETLINK_NETFILTER, or -1 */
	bool	 table;			/* ours exists */
};

/*
 * The nft script: replace table inet fz-gateway with a postrouting NAT
 * chain masquerading both tunnel ranges out of any interface but ifname.
 * Returns its length, or -EINVAL for a name nft would not take quoted,
 * -ENOSPC when it does not fit.
 */
int	gwnat_script(char *buf, size_t len, const char *ifname);
/* The nfnetlink batch that deletes table inet fz-gateway: its length or 0. */
size_t	gwnat_deltable_msg(uint8_t *buf, size_t len, uint32_t seq);

void	gwnat_init(struct gwnat *);
/* Forwarding on, and with masquerade the table; root, before the drop. */
int	gwnat_start(struct gwnat *, const char *ifname, bool masquerade)
	    __attribute__((warn_unused_result));
/* Table deleted, sysctls restored; needs only CAP_NET_ADMIN and uid 0. */
void	gwnat_stop(struct gwnat *);

#endif
