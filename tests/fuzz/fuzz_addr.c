/* SPDX-License-Identifier: ISC */
/*
 * addr_parse / cidr_parse / addr_list_parse on arbitrary text: no crash,
 * and whatever parses formats and parses again to the same value.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128], out[ADDR_STRLEN + 8];
	union fz_sockaddr a, b;
	struct fz_cidr c, d;
	union fz_sockaddr l[4];
	size_t n = 99;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (addr_parse(s, ADDR_PORT_OPTIONAL, &a) == 0) {
		if (addr_fmt(&a.sa, true, out, sizeof(out)) != 0 ||
		    addr_parse(out, ADDR_PORT_REQUIRED, &b) != 0 ||
		    !addr_eq(&a.sa, &b.sa))
			__builtin_trap();
	}
	if (cidr_parse(s, false, &c) == 0) {
		if (cidr_fmt(&c, out, sizeof(out)) != 0 ||
		    cidr_parse(out, true, &d) != 0 ||
		    c.family != d.family || c.prefix != d.prefix ||
		    memcmp(c.addr, d.addr, sizeof(c.addr)) != 0 ||
		    !cidr_contains(&c, c.family, c.addr))
			__builtin_trap();
	}
	if (addr_list_parse(s, ADDR_PORT_OPTIONAL, l, 4, &n) == 0 && n > 4)
		__builtin_trap();
	return 0;
}
