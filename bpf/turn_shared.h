/* SPDX-License-Identifier: ISC */
/*
 * Shared between bpf/turn_router.bpf.c and fz-relayd: the map layouts of
 * the XDP TURN fast path.  Fixed-width, explicitly padded, addresses and
 * ports in network byte order; IPv4 addresses use the first 4 bytes of ip
 * with the rest zero.
 */
#ifndef FZ_TURN_SHARED_H
#define FZ_TURN_SHARED_H

#include <linux/types.h>

#define FZ_XDP_MAX_CHANNELS	65536

/* A client's side of a channel: ChannelData from (ip, port) on chan. */
struct fz_xdp_client {
	__u8	ip[16] __attribute__((aligned(8)));
	__be16	port;
	__be16	chan;
	__u8	fam;		/* 4 or 6 */
	__u8	pad[3];
};

/* A peer's side: datagrams from (ip, peer_port) to alloc_port. */
struct fz_xdp_peer {
	__u8	ip[16] __attribute__((aligned(8)));
	__be16	alloc_port;
	__be16	peer_port;
	__u8	fam;		/* 4 or 6 */
	__u8	pad[3];
};

/*
 * The map values: the other side, and until when the channel may be used
 * (the earlier of the channel's and its peer's permission's expiry, in
 * CLOCK_MONOTONIC nanoseconds as bpf_ktime_get_ns() reads it; unusable
 * at and after it).  fz-relayd rewrites them when either is refreshed and
 * deletes them once it notices the expiry; the program checks the time
 * itself so nothing is relayed in between.
 */
struct fz_xdp_peer_val {
	struct fz_xdp_peer	peer;
	__u64			expires;
};

struct fz_xdp_client_val {
	struct fz_xdp_client	client;
	__u64			expires;
};

/*
 * Maps: fz_chan_to_peer (struct fz_xdp_client -> struct fz_xdp_peer_val)
 * and fz_peer_to_chan (struct fz_xdp_peer -> struct fz_xdp_client_val),
 * written by fz-relayd together on every bind and removed together.
 */

/* Outcomes, the index of the per-CPU statistics array. */
enum fz_xdp_stat {
	FZ_XS_C2P,		/* ChannelData -> peer, relayed */
	FZ_XS_P2C,		/* peer -> ChannelData, relayed */
	FZ_XS_SELF,		/* relay-to-self, straight to the other client */
	FZ_XS_PASS_NOT_IP,
	FZ_XS_PASS_NOT_UDP,
	FZ_XS_PASS_IP_OPTIONS,	/* IPv4 options, IPv6 extension headers */
	FZ_XS_PASS_FRAGMENT,
	FZ_XS_PASS_SHORT,
	FZ_XS_PASS_OTHER_PORT,	/* not for the relay or allocation ports */
	FZ_XS_PASS_STUN,	/* to the relay port, not ChannelData */
	FZ_XS_PASS_BAD_LENGTH,	/* ChannelData length vs. UDP length */
	FZ_XS_PASS_NO_CHANNEL,	/* no binding in the maps */
	FZ_XS_PASS_NO_INT_ADDR,	/* across families without an address */
	FZ_XS_PASS_ZERO_CSUM,	/* IPv4 without checksum to IPv6 */
	FZ_XS_PASS_TTL,		/* TTL or hop limit would reach zero */
	FZ_XS_PASS_ADJUST,	/* bpf_xdp_adjust_head failed */
	FZ_XS_DROP_LOOP,	/* source equals destination */
	FZ_XS_PASS_EXPIRED,	/* channel or permission expired */
	FZ_XS_DROP_SHORT,	/* too short to rebuild after adjust_head */
	FZ_XS_COUNT
};

struct fz_xdp_stat_val {
	__u64	packets;
	__u64	bytes;
};

#endif
