/* SPDX-License-Identifier: ISC */
/*
 * DNS_PROXY's fields as fz-tunneld takes them (proxymap_parse), split at
 * NUL bytes: resource, domain, ips.  A parsed message must go into the
 * map and every one of its proxy IPs find it again.
 */
#include <stdlib.h>
#include <string.h>

#include "proxymap.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct proxymap *pm;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *f[3] = { "", "", "" };
	struct p2p_msg m, out;
	char *copy;
	size_t i, k = 0;

	if (pm == NULL && (pm = proxymap_new()) == NULL)
		return 0;
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	f[0] = copy;
	for (i = 0; i < size && k < 2; i++)
		if (copy[i] == '\0')
			f[++k] = copy + i + 1;
	if (proxymap_parse(f[0], f[1], f[2], &m) == 0) {
		if (proxymap_set(pm, &m) != 0)
			abort();
		for (i = 0; i < m.nproxy; i++)
			if (proxymap_lookup(pm, &m.proxy[i], &out) != 0 ||
			    strcmp(out.domain, m.domain) != 0 ||
			    strcmp(out.resource, m.resource) != 0)
				abort();
		if (size > 0 && data[0] == 'x')
			proxymap_clear(pm);
	}
	free(copy);
	return 0;
}
