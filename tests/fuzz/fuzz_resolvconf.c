/* SPDX-License-Identifier: ISC */
/*
 * The resolv.conf parser on arbitrary bytes: no crash, at most
 * DNSCTL_MAX_SERVERS servers, and the file tunneld would write from them
 * parses back to the same servers.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dnsctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsctl_servers s, back;
	char buf[4096], dom[300];
	size_t len, i;

	dnsctl_parse_resolv_conf((const char *)data, size, &s);
	if (s.n > DNSCTL_MAX_SERVERS)
		__builtin_trap();
	if (size < sizeof(dom)) {
		memcpy(dom, data, size);
		dom[size] = '\0';
		if (!dnsctl_domain_ok(dom))
			dom[0] = '\0';
	} else
		dom[0] = '\0';
	if (dnsctl_format_resolv_conf(&s, dom, buf, sizeof(buf), &len) != 0)
		__builtin_trap();	/* 16 servers and a domain always fit */
	dnsctl_parse_resolv_conf(buf, len, &back);
	if (back.n != s.n)
		__builtin_trap();
	for (i = 0; i < s.n; i++)
		if (!addr_eq(&s.v[i].sa, &back.v[i].sa))
			__builtin_trap();
	return 0;
}
