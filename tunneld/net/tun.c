/* SPDX-License-Identifier: ISC */
#define LOG_MODULE "tun"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "tun.h"

static int
open_queue(struct tun *t, const char *name)
{
	struct ifreq ifr;
	int fd, hs = TUN_VNET_HDR_LEN;

	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK)) < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) != 0 ||
	    ioctl(fd, TUNSETVNETHDRSZ, &hs) != 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	return fd;
}

int
tun_open(const char *name, int n, struct tun **out)
{
	static const unsigned tries[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN |
		    TUN_F_USO4 | TUN_F_USO6,
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
		TUN_F_CSUM,
		0,
	};
	struct tun *t;
	int i, rc;
	unsigned j;

	if (n < 1 || n > TUN_MAX_QUEUES || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	for (i = 0; i < TUN_MAX_QUEUES; i++)
		t->fds[i] = -1;
	for (i = 0; i < n; i++) {
		if ((rc = open_queue(t, i == 0 ? name : t->name)) < 0) {
			tun_close(t);
			return rc;
		}
		t->fds[i] = rc;
		t->nqueues++;
		/* Offloads are per queue; all queues must agree. */
		for (j = 0; j < sizeof(tries) / sizeof(tries[0]); j++) {
			if (i > 0 && tries[j] != t->offloads)
				continue;
			if (ioctl(t->fds[i], TUNSETOFFLOAD, tries[j]) == 0) {
				t->offloads = tries[j];
				break;
			}
		}
	}
	t->ifindex = (int)if_nametoindex(t->name);
	log_debug("%s: %d queues, offloads 0x%x", t->name, t->nqueues,
	    t->offloads);
	*out = t;
	return 0;
}

void
tun_close(struct tun *t)
{
	int i;

	if (t == NULL)
		return;
	for (i = 0; i < TUN_MAX_QUEUES; i++)
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	free(t);
}
