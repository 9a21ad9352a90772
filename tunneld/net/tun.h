/* SPDX-License-Identifier: ISC */
/*
 * A multi-queue TUN device with virtio-net headers and offloads
 * (IFF_MULTI_QUEUE | IFF_VNET_HDR, TSO4/6 and, where the kernel has them,
 * USO4/6).  Each queue is its own fd, read and written by one worker.
 * Closing every queue removes the (non-persistent) device.
 */
#ifndef FZ_TUN_H
#define FZ_TUN_H

#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#ifndef TUN_F_USO4
#define TUN_F_USO4	0x20	/* missing from Debian 12 uapi headers */
#define TUN_F_USO6	0x40
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define TUN_MAX_QUEUES	64
#define TUN_VNET_HDR_LEN sizeof(struct virtio_net_hdr)

struct tun {
	char		 name[IFNAMSIZ];
	int		 fds[TUN_MAX_QUEUES];
	int		 nqueues;
	unsigned	 offloads;	/* TUN_F_* granted */
	int		 ifindex;
};

/* Creates (or attaches to) name with n queues; name may be a pattern. */
int	tun_open(const char *name, int n, struct tun **)
	    __attribute__((warn_unused_result));
void	tun_close(struct tun *);

#endif
