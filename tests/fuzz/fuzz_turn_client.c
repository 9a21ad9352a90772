/* SPDX-License-Identifier: ISC */
/*
 * The TURN client fed arbitrary server datagrams, time steps and API
 * calls.  The input is a list of records: one op byte, then for the
 * datagram ops a 2-byte length and the bytes.  Transaction ids come from
 * a counter, and two ops patch the datagram with the id of the latest
 * request (and recompute MESSAGE-INTEGRITY with the right key) so the
 * fuzzer gets past the matching into the response handlers.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fztime.h"
#include "stun.h"
#include "turn_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint32_t counter;

static void
rng(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	memset(buf, 0, len);
	memcpy(buf, &counter, len < 4 ? len : 4);
	counter++;
}

/* Rewrites MESSAGE-INTEGRITY (if any) with key over the patched bytes. */
static void
resign(uint8_t *p, size_t len, const uint8_t key[16])
{
	struct stun_msg m;
	struct stun_builder b;
	size_t at, n;

	if (stun_parse(p, len, &m) != 0 || m.mi < 0)
		return;
	/* Rebuild up to the MI attribute, then sign. */
	at = m.attrs[m.mi].off;
	b.w.p = p;
	b.w.cap = len;
	b.w.len = at;
	b.w.err = 0;
	memcpy(b.tid, m.tid, 12);
	stun_put_integrity(&b, key, 16);
	(void)stun_finish(&b, &n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct turn_client_config cfg;
	struct turn_client *tc;
	struct turn_transmit t;
	struct turn_event ev;
	struct turn_data d;
	uint8_t last_tid[12] = { 0 }, key[16];
	union fz_sockaddr peers[3];
	uint64_t now = 1000 * NSEC_PER_SEC, dl;
	size_t off = 0;
	uint16_t ch;
	bool verbose = getenv("FZ_FUZZ_VERBOSE") != NULL;

	memset(&cfg, 0, sizeof(cfg));
	counter = 0;
	(void)addr_parse("192.0.2.1:3478", ADDR_PORT_REQUIRED, &cfg.server);
	(void)addr_parse("198.51.100.7:5000", ADDR_PORT_REQUIRED, &peers[0]);
	(void)addr_parse("[2001:db8::7]:5000", ADDR_PORT_REQUIRED, &peers[1]);
	(void)addr_parse("198.51.100.8:1", ADDR_PORT_REQUIRED, &peers[2]);
	cfg.username = "1:u";
	cfg.password = "p";
	cfg.realm = (size & 1) ? "firezone" : NULL;
	cfg.keepalive_ms = 25000;
	cfg.max_channels = 4;
	cfg.max_permissions = 2;
	cfg.rng = rng;
	stun_long_term_key("1:u", "firezone", "p", key);
	if (turn_client_new(&cfg, &tc) != 0)
		return 0;
	(void)turn_client_allocate(tc, now);
	while (off < size) {
		uint8_t op = data[off++];
		uint8_t *copy;
		size_t len;

		switch (op & 7) {
		case 0:
		case 1:
		case 2:	/* a datagram: as is, with the latest tid, re-signed */
			if (size - off < 2)
				goto out;
			len = (size_t)data[off] << 8 | data[off + 1];
			off += 2;
			if (len > size - off)
				len = size - off;
			/* An exact-size copy, so ASan sees any over-read. */
			if ((copy = malloc(len ? len : 1)) == NULL)
				goto out;
			memcpy(copy, data + off, len);
			off += len;
			if ((op & 7) >= 1 && len >= 20)
				memcpy(copy + 8, last_tid, 12);
			if ((op & 7) == 2)
				resign(copy, len, key);
			if (turn_client_input(tc, now, &cfg.server.sa, copy,
			    len, &d) == TURN_INPUT_DATA && d.len > 0) {
				volatile uint8_t x = d.payload[d.len - 1];
				(void)x;
			}
			free(copy);
			break;
		case 3:	/* time passes to the next deadline (or a bit) */
			if (turn_client_poll_timeout(tc, &dl) == 0 && dl > now)
				now = dl;
			else
				now += (uint64_t)(op >> 3) * NSEC_PER_SEC;
			turn_client_handle_timeout(tc, now);
			break;
		case 4:
			(void)turn_client_bind_channel(tc, now,
			    &peers[(op >> 3) % 3].sa, &ch);
			break;
		case 5:
			if (op & 0x80)
				turn_client_release_channel(tc, now,
				    &peers[(op >> 3) % 3].sa);
			else
				(void)turn_client_create_permission(tc, now,
				    &peers[(op >> 3) % 3].sa);
			break;
		case 6:
			if (op & 0x80)
				(void)turn_client_deallocate(tc, now);
			else if (op & 0x40)
				(void)turn_client_binding(tc, now);
			else
				(void)turn_client_allocate(tc, now);
			break;
		case 7:
			now += (uint64_t)(op >> 3) * NSEC_PER_MSEC * 100;
			turn_client_handle_timeout(tc, now);
			break;
		}
		while (turn_client_poll_transmit(tc, &t) == 0) {
			if (t.len < 20)
				__builtin_trap();
			memcpy(last_tid, t.data + 8, 12);
		}
		while (turn_client_poll_event(tc, &ev) == 0)
			if (verbose)	/* to check what a seed reaches */
				fprintf(stderr, "%s (%s %d)\n",
				    turn_event_str(ev.type),
				    turn_reason_str(ev.reason), ev.code);
	}
out:
	turn_client_free(tc);
	return 0;
}
