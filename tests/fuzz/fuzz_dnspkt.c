/* SPDX-License-Identifier: ISC */
/*
 * What the TUN sends to a sentinel (dnspkt_parse): no read past the
 * packet, the payload inside it; whatever parses is rebuilt as the answer
 * (dnspkt_build) and parses again to the same ends and payload.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnspkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

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
