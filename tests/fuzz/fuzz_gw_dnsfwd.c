/* SPDX-License-Identifier: ISC */
/*
 * The gateway's DNS forwarder core on arbitrary bytes: the first byte picks
 * the path (a client's query; a server's answer to a query forwarded just
 * before, with its id put in; a probe's answer; a resolv.conf text), the
 * rest is the input.  No crash, no leak, every REPLY parses with ldns.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "gw_dnsfwd.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct gw_dnsfwd *fwd;
static union fz_sockaddr server;
static uint16_t ctr;

static void
rng(void *arg, void *buf, size_t len)
{
	uint8_t *b = buf;
	size_t i;

	(void)arg;
	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(ctr++ * 131u + 7u);
}

static void
init(void)
{
	fwd = gw_dnsfwd_new(rng, NULL);
	if (fwd == NULL ||
	    addr_parse("10.0.0.53:53", ADDR_PORT_REQUIRED, &server) != 0 ||
	    gw_dnsfwd_set_servers(fwd, &server, 1) != 0)
		__builtin_trap();
}

static void
check_reply(const uint8_t *out, const struct gw_dnsfwd_out *r)
{
	ldns_pkt *p = NULL;

	if (r->verdict != GW_DNSFWD_REPLY)
		return;
	if (ldns_wire2pkt(&p, out, r->len) != LDNS_STATUS_OK)
		__builtin_trap();
	ldns_pkt_free(p);
}

/* The forwarded id of a fixed query, or -1. */
static int
forward_one(uint64_t now, uint8_t *out, size_t outlen)
{
	struct gw_dnsfwd_client c;
	struct gw_dnsfwd_out r;
	ldns_pkt *pk = NULL;
	uint8_t *wire = NULL;
	size_t qlen = 0;
	int id = -1;

	memset(&c, 0, sizeof(c));
	if (addr_parse("100.64.0.7:4000", ADDR_PORT_REQUIRED, &c.addr) != 0 ||
	    ldns_pkt_query_new_frm_str(&pk, "app.corp.test",
	    LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
		return -1;
	if (ldns_pkt2wire(&wire, pk, &qlen) == LDNS_STATUS_OK &&
	    gw_dnsfwd_query(fwd, wire, qlen, &c, now, out, outlen, &r) == 0 &&
	    r.verdict == GW_DNSFWD_FORWARD)
		id = out[0] << 8 | out[1];
	free(wire);
	ldns_pkt_free(pk);
	return id;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65536], msg[65535];
	static uint64_t now = 1000000000000ULL;
	struct gw_dnsfwd_client c;
	struct gw_dnsfwd_out r;
	uint8_t sel;
	int id;

	if (fwd == NULL)
		init();
	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	now += 100000000ULL;
	memset(&c, 0, sizeof(c));
	c.addr = server;
	switch (sel & 3) {
	case 0:
		if (gw_dnsfwd_query(fwd, data, size, &c, now, out, sizeof(out),
		    &r) == 0)
			check_reply(out, &r);
		break;
	case 1:
	case 2:
		if (size < 2 || size > sizeof(msg))
			break;
		memcpy(msg, data, size);
		if ((sel & 3) == 1) {
			if ((id = forward_one(now, out, sizeof(out))) < 0)
				break;
		} else {
			if (gw_dnsfwd_probe(fwd, 0, now, out, sizeof(out),
			    &r) != 0)
				break;
			id = out[0] << 8 | out[1];
		}
		msg[0] = (uint8_t)(id >> 8);
		msg[1] = (uint8_t)id;
		if (gw_dnsfwd_answer(fwd, msg, size, &server.sa, now, out,
		    sizeof(out), &r) == 0)
			check_reply(out, &r);
		break;
	case 3: {
		union fz_sockaddr a[GW_DNSFWD_MAX_SERVERS];
		size_t n;

		if (gw_dnsfwd_resolv_parse((const char *)data, size, a,
		    GW_DNSFWD_MAX_SERVERS, &n) != 0 || n > GW_DNSFWD_MAX_SERVERS)
			__builtin_trap();
		break;
	}
	}
	gw_dnsfwd_expire(fwd, now);
	return 0;
}
