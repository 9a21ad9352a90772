/* SPDX-License-Identifier: ISC */
/*
 * The TURN core on arbitrary datagrams from a few clients and peers (fake
 * sockets): no crash, no leak, tables stay bounded.  The first byte picks
 * the source; the rest is the datagram.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* One relay for the whole run, as a daemon keeps it. */
static struct relay *relay;
static union fz_sockaddr from[4];
static uint16_t next_port = 50000;

static int
f_open(void *arg, struct relay_alloc *a, bool w4, bool w6)
{
	(void)arg;
	if (a->port == 0)
		a->port = next_port++;
	a->fd4 = w4 ? 1 : -1;
	a->fd6 = w6 ? 2 : -1;
	return 0;
}
static void f_close(void *x, struct relay_alloc *a) { (void)x; (void)a; }
static void
f_ctl(void *x, int fd, const struct sockaddr *to, const uint8_t *p, size_t n)
{
	(void)x; (void)fd; (void)to; (void)p; (void)n;
}
static void
f_peer(void *x, struct relay_alloc *a, const struct sockaddr *to,
    const uint8_t *p, size_t n)
{
	(void)x; (void)a; (void)to; (void)p; (void)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t ch;

	if (relay == NULL) {
		struct relay_config cfg;
		struct relay_ops ops = { f_open, f_close, f_ctl, f_peer, NULL,
		    NULL, NULL, NULL };

		(void)log_init("fuzz", LOG_FORMAT_TEXT, "off");
		memset(&cfg, 0, sizeof(cfg));
		cfg.have4 = cfg.have6 = true;
		(void)addr_parse("203.0.113.1", ADDR_PORT_NONE, &cfg.public4);
		(void)addr_parse("2001:db8::1", ADDR_PORT_NONE, &cfg.public6);
		cfg.static_secret = "secret";
		cfg.max_allocations = 64;
		cfg.challenge_rate = 1000000000;	/* every 401 answered */
		if (relay_new(&cfg, &ops, &relay) != 0)
			abort();
		(void)addr_parse("198.51.100.1:1000", ADDR_PORT_REQUIRED, &from[0]);
		(void)addr_parse("198.51.100.2:2000", ADDR_PORT_REQUIRED, &from[1]);
		(void)addr_parse("[2001:db8::5]:3000", ADDR_PORT_REQUIRED,
		    &from[2]);
		(void)addr_parse("192.0.2.9:0", ADDR_PORT_REQUIRED, &from[3]);
	}
	if (size < 1)
		return 0;
	relay_stun_in(relay, 3, &from[data[0] & 3].sa, data + 1, size - 1);
	if (size >= 3) {
		ch = (uint16_t)(data[1] << 8 | data[2]);
		(void)relay_channel_lookup(relay, &from[data[0] & 3].sa, ch);
	}
	if ((data[0] & 0x80) != 0)
		relay_tick(relay);
	return 0;
}
