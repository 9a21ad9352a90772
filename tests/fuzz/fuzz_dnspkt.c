/* SPDX-License-Identifier: ISC */
/*
 * What the TUN sends to a sentinel (dnspkt_parse, and TCP through one
 * dnstcp stack kept across inputs): no read past the
 * packet, the payload inside it; whatever parses is rebuilt as the answer
 * (dnspkt_build) and parses again to the same ends and payload.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnspkt.h"
#include "dnstcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* DNS over TCP: one stack across inputs; each query answered with itself. */
static struct dnstcp *tcp;
static union fz_sockaddr qc, qs;
static uint8_t qmsg[65535];
static size_t qlen;

static void
f_send(void *arg, const uint8_t *pkt, size_t len)
{
	struct dnspkt_tcp t;

	(void)arg;
	/* what the stack sends is TCP from a sentinel: parses as to one */
	if (len < 40 || dnspkt_parse_tcp(pkt, len, &t) != -EBADMSG)
		__builtin_trap();
}

static void
f_query(void *arg, const union fz_sockaddr *c, const union fz_sockaddr *s,
    const uint8_t *m, size_t len)
{
	(void)arg;
	if (len == 0 || len > sizeof(qmsg))
		__builtin_trap();
	qc = *c;
	qs = *s;
	memcpy(qmsg, m, len);
	qlen = len;
}

static const struct dnstcp_ops fops = { .send = f_send, .query = f_query };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t in[DNSPKT_MAX], out[DNSPKT_MAX];
	union fz_sockaddr from, to, f2, t2;
	const uint8_t *p, *p2;
	size_t plen, plen2, len;

	if (size > sizeof(in))
		return 0;
	memcpy(in, data, size);		/* exact size: ASan sees overreads */
	if (tcp == NULL && (tcp = dnstcp_new(&fops, NULL)) == NULL)
		return 0;
	{
		static uint64_t now;
		uint8_t *exact = malloc(size ? size : 1);

		if (exact == NULL)
			return 0;
		memcpy(exact, data, size);
		qlen = 0;
		now += 1000000000ULL;
		if (dnstcp_input(tcp, exact, size, now) == 0 && qlen > 0 &&
		    dnstcp_answer(tcp, &qs, &qc, qmsg, qlen) != 0)
			__builtin_trap();
		free(exact);
		if (dnstcp_count(tcp) > DNSTCP_MAX)
			__builtin_trap();
		dnstcp_expire(tcp, now);
	}
	{
		uint8_t *exact = malloc(size ? size : 1);

		if (exact == NULL)
			return 0;
		memcpy(exact, data, size);
		if (dnspkt_parse(exact, size, &from, &to, &p, &plen) != 0) {
			free(exact);
			return 0;
		}
		if (p < exact || p + plen > exact + size)
			__builtin_trap();
		free(exact);
	}
	if (dnspkt_parse(in, size, &from, &to, &p, &plen) != 0)
		__builtin_trap();
	/* rebuilt, it parses back to the same ends and payload */
	if (dnspkt_build(&from, &to, p, plen, out, sizeof(out), &len) != 0 ||
	    dnspkt_parse(out, len, &f2, &t2, &p2, &plen2) != 0 ||
	    plen2 != plen || memcmp(p2, p, plen) != 0 ||
	    !addr_eq(&f2.sa, &from.sa) || !addr_eq(&t2.sa, &to.sa))
		__builtin_trap();
	return 0;
}
