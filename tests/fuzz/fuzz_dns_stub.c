/* SPDX-License-Identifier: ISC */
/*
 * The DNS stub on arbitrary bytes: the first byte picks the path (query to
 * an IPv4 or IPv6 sentinel, over UDP or TCP; or an upstream answer to a
 * query forwarded just before), the rest is the message.  No crash, no
 * leak, and every REPLY parses back with ldns.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns_stub.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct dns_stub *stub;
static union fz_sockaddr client, sentinel4, sentinel6, upstream;

static void
init(void)
{
	union fz_sockaddr ups[2];

	stub = dns_stub_new();
	if (stub == NULL)
		__builtin_trap();
	if (addr_parse("100.64.0.7:40000", ADDR_PORT_REQUIRED, &client) ||
	    addr_parse("100.100.111.1:53", ADDR_PORT_REQUIRED, &sentinel4) ||
	    addr_parse("[fd00:2021:1111:8000:100:100:111:0]:53",
	    ADDR_PORT_REQUIRED, &sentinel6) ||
	    addr_parse("192.0.2.53:53", ADDR_PORT_REQUIRED, &ups[0]) ||
	    addr_parse("[2001:db8::53]:53", ADDR_PORT_REQUIRED, &ups[1]))
		__builtin_trap();
	upstream = ups[0];
	if (dns_stub_set_upstreams(stub, ups, 2, NULL, 0, NULL) != 0 ||
	    dns_stub_add_resource(stub, "a", "**.corp.test",
	    DNS_STACK_DUAL) != 0 ||
	    dns_stub_add_resource(stub, "b", "app.*.test",
	    DNS_STACK_IPV4_ONLY) != 0 ||
	    dns_stub_add_resource(stub, "c", "f?o.corp.test",
	    DNS_STACK_IPV6_ONLY) != 0)
		__builtin_trap();
}

static void
check_reply(const uint8_t *out, const struct dns_stub_out *r)
{
	ldns_pkt *p = NULL;

	if (r->verdict != DNS_STUB_REPLY)
		return;
	if (ldns_wire2pkt(&p, out, r->len) != LDNS_STATUS_OK)
		__builtin_trap();
	ldns_pkt_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65536];
	static uint64_t now = 1000000000000ULL;
	struct dns_stub_out r;
	struct dns_stub_event ev;
	uint8_t sel;

	if (stub == NULL)
		init();
	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	now += 1000000000ULL;

	if ((sel & 3) == 3 && size >= 2) {
		/* An answer: forward a query first, then feed the bytes back
		 * with the forwarded id put in. */
		uint8_t q[512], msg[65535];
		size_t qlen = 0;
		ldns_pkt *pk = ldns_pkt_query_new(
		    ldns_dname_new_frm_str("www.test"), LDNS_RR_TYPE_A,
		    LDNS_RR_CLASS_IN, LDNS_RD);
		uint8_t *wire = NULL;

		if (pk == NULL)
			return 0;
		if (ldns_pkt2wire(&wire, pk, &qlen) == LDNS_STATUS_OK &&
		    qlen <= sizeof(q)) {
			memcpy(q, wire, qlen);
			if (dns_stub_query(stub, q, qlen, &client.sa,
			    &sentinel4.sa, 0, now, out, sizeof(out), &r) == 0 &&
			    r.verdict == DNS_STUB_FORWARD &&
			    size <= sizeof(msg)) {
				memcpy(msg, data, size);
				LDNS_ID_SET(msg, r.fwd_id);
				if (dns_stub_upstream_answer(stub, msg, size,
				    &upstream.sa, now, out, sizeof(out),
				    &r) == 0)
					check_reply(out, &r);
			}
		}
		free(wire);
		ldns_pkt_free(pk);
	} else {
		const union fz_sockaddr *to = sel & 1 ? &sentinel6 : &sentinel4;

		if (dns_stub_query(stub, data, size, &client.sa, &to->sa,
		    sel & 2 ? DNS_STUB_TCP : 0, now, out, sizeof(out),
		    &r) == 0)
			check_reply(out, &r);
	}
	while (dns_stub_next_event(stub, &ev) == 0)
		;
	/* Every pending query and cache entry dropped (the timeout path):
	 * an input that leaves them behind ends with more mallocs than
	 * frees, and libFuzzer then runs a full leak scan after it (about
	 * 500 exec/s).  The name table stays, as in controld. */
	dns_stub_expire(stub, UINT64_MAX);
	return 0;
}
