/* SPDX-License-Identifier: ISC */
/*
 * fz-relayd's side of the XDP fast path: loads bpf/turn_router.bpf.c with
 * the relay's ports and addresses as read-only data, attaches it through a
 * BPF link (CAP_BPF and CAP_NET_ADMIN, before the privilege drop), mirrors
 * every channel into the two maps (both directions together), and reads
 * the per-CPU statistics.
 */
#ifndef FZ_RELAY_XDP_H
#define FZ_RELAY_XDP_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "turn_shared.h"

struct relay_channel;
struct relay_xdp;

struct relay_xdp_config {
	const char		*ifname;
	bool			 generic;	/* else driver (native) mode */
	uint16_t		 relay_port, port_lo, port_hi;
	bool			 have_int4, have_int6, have_pub4, have_pub6;
	union fz_sockaddr	 int4, int6, pub4, pub6;
};

int	relay_xdp_open(const struct relay_xdp_config *, struct relay_xdp **,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * Whether the maps can be used with the current credentials (some kernels
 * want CAP_BPF for every bpf() call): 0, or -EPERM.
 */
int	relay_xdp_probe_maps(struct relay_xdp *) __attribute__((warn_unused_result));
/* Detaches (closes the BPF link: no capability needed) and frees. */
void	relay_xdp_close(struct relay_xdp *);
/*
 * Inserts (or rewrites) both directions of a channel, usable until the
 * earlier of ch->expires and ch->perm_expires (UINT64_MAX: no limit).
 */
int	relay_xdp_channel_up(struct relay_xdp *, const struct relay_channel *);
int	relay_xdp_channel_down(struct relay_xdp *, const struct relay_channel *);
/* Sums the per-CPU statistics. */
int	relay_xdp_stats(struct relay_xdp *, struct fz_xdp_stat_val[FZ_XS_COUNT]);
const char *relay_xdp_stat_name(int);
/* The router program's descriptor (for BPF_PROG_TEST_RUN in tests). */
int	relay_xdp_prog_fd(const struct relay_xdp *);

#endif
