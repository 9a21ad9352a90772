/* SPDX-License-Identifier: ISC */
/*
 * A whole data plane for the tests that drive one (check_dataplane,
 * check_dp_p2p, check_uapi, fuzz_uapi): a device with the private key
 * 0x55... (clamped), a socketpair as its one-queue TUN (non-blocking, as a
 * TUN's descriptors are; the test keeps sp[1]), dp_new'd and, if asked,
 * started on 127.0.0.1 with an ephemeral port.  No Check calls: the fuzz
 * target uses it too.
 */
#ifndef FZ_DP_FIXTURE_H
#define FZ_DP_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "dataplane.h"
#include "tun.h"
#include "wg.h"

struct dp_fixture {
	struct dp		*dp;
	struct wg_device	*dev;
	struct tun		 tun;
	int			 sp[2];		/* [0] the TUN, [1] ours */
	uint8_t			 key[32];	/* the device's private key */
	union fz_sockaddr	 addr;		/* started: 127.0.0.1:port */
};

static inline void
dp_fixture_free(struct dp_fixture *f)
{
	dp_free(f->dp);
	wg_device_free(f->dev);
	if (f->sp[0] >= 0)
		close(f->sp[0]);
	if (f->sp[1] >= 0)
		close(f->sp[1]);
	memset(f, 0, sizeof(*f));
	f->sp[0] = f->sp[1] = -1;
}

/* 0, or -errno with nothing left behind. */
static inline int
dp_fixture_new(struct dp_fixture *f, unsigned mtu, bool start)
{
	struct dp_config c = { .mtu = mtu, .port = 0 };
	int rc;

	memset(f, 0, sizeof(*f));
	f->sp[0] = f->sp[1] = -1;
	memset(f->key, 0x55, sizeof(f->key));
	f->key[0] &= 248;
	f->key[31] = (f->key[31] & 127) | 64;
	if ((rc = wg_device_new(f->key, &f->dev)) != 0)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, f->sp) != 0 ||
	    fcntl(f->sp[0], F_SETFL, O_NONBLOCK) != 0) {
		rc = -errno;
		goto fail;
	}
	f->tun.nqueues = 1;
	f->tun.fds[0] = f->sp[0];
	if ((rc = dp_new(f->dev, &f->tun, &c, &f->dp)) != 0)
		goto fail;
	if (start) {
		if ((rc = dp_start(f->dp)) != 0 ||
		    (rc = addr_parse("127.0.0.1:0", ADDR_PORT_OPTIONAL,
		    &f->addr)) != 0)
			goto fail;
		addr_set_port(&f->addr.sa, dp_port(f->dp));
	}
	return 0;
fail:
	dp_fixture_free(f);
	return rc;
}

#endif
