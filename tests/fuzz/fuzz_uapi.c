/* SPDX-License-Identifier: ISC */
/*
 * The static mode's UAPI socket (uapi.h) without the socket: the first
 * byte chooses.  Even: the rest is a request to uapi_handle on a data
 * plane (dp_new'd, not started: no threads), whose reply always ends in
 * "errno=N\n\n"; with bit 1 set, a get=1 follows and `--show`'s parser
 * must accept that reply as it is.  Odd: the rest is a reply for
 * uapi_show_reply, which either prints it or fails with -EPROTO, -ENOMEM
 * or the reply's errno.  After each input every peer is removed and the
 * private key put back, so no input depends on the ones before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../unit/dp_fixture.h"
#include "dataplane.h"
#include "tun.h"
#include "uapi.h"
#include "wg.h"
#include "wg_rcu.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * call_rcu, run at once (as fuzz_wg_allowedips.c): one thread, and no
 * peer or trie node is unlinked inside a read-side section, so the grace
 * period is over.  With liburcu's deferred frees each input that removes
 * a peer ends with more mallocs than frees, and libFuzzer then scans for
 * leaks after it.
 */
void
urcu_bp_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *))
{
	func(head);
}

static struct dp_fixture F;
static struct dp *G;
static struct wg_device *Gdev;
static uint8_t *Gkey;			/* the device's private key */
static FILE *Gnull;

static void
init(void)
{
	if (dp_fixture_new(&F, 1280, false) != 0 ||
	    (Gnull = fopen("/dev/null", "w")) == NULL)
		abort();
	G = F.dp;
	Gdev = F.dev;
	Gkey = F.key;
}

/* "errno=<digits>\n\n" at the end, after a line's start. */
static bool
ends_in_errno(const char *p, size_t len)
{
	size_t i = len;

	if (len < 9 || p[len - 1] != '\n' || p[len - 2] != '\n')
		return false;
	i = len - 2;
	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
		i--;
	if (i == len - 2 || i < 6 || memcmp(p + i - 6, "errno=", 6) != 0)
		return false;
	return i == 6 || p[i - 7] == '\n';
}

static void
reset(void)
{
	struct wg_device *d = dp_device(G);
	struct wg_peer *p;
	uint8_t k[32];

	while ((p = wg_peer_next(d, NULL)) != NULL)
		dp_peer_remove(G, p);
	wg_device_private_key(d, k);
	if (memcmp(k, Gkey, sizeof(k)) != 0 &&
	    wg_device_set_private_key(d, Gkey) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uapi_buf o;
	char *req;
	size_t n;
	int rc;

	if (size < 1 || size > 65536)
		return 0;
	if (G == NULL)
		init();
	n = size - 1;
	/* The parsers see exactly the bytes: no NUL after them. */
	if ((req = malloc(n > 0 ? n : 1)) == NULL)
		return 0;
	memcpy(req, data + 1, n);
	if (data[0] & 1) {
		rc = uapi_show_reply("fuzz", req, n, 1700000000, Gnull, Gnull);
		if (rc > 0 || rc < -4095)
			__builtin_trap();
		free(req);
		return 0;
	}
	if (uapi_handle(G, data[0] & 4 ? 51820 : 0, req, n, &o) == 0) {
		if (!ends_in_errno(o.p, o.len))
			__builtin_trap();
		uapi_buf_free(&o);
	}
	free(req);
	if (data[0] & 2) {
		char get[] = "get=1\n\n";

		if (uapi_handle(G, 0, get, sizeof(get) - 1, &o) == 0) {
			if (!ends_in_errno(o.p, o.len) ||
			    memcmp(o.p + o.len - 9, "errno=0\n\n", 9) != 0 ||
			    uapi_show_reply("fuzz", o.p, o.len, 1700000000,
			    Gnull, Gnull) != 0)
				__builtin_trap();
			uapi_buf_free(&o);
		}
	}
	reset();
	return 0;
}
