/* SPDX-License-Identifier: ISC */
/*
 * A packet decrypted from a peer, as the control path takes it:
 * p2p_is_control, p2p_parse; a parsed message must build again and parse
 * back to the same message.
 */
#include <stdlib.h>
#include <string.h>

#include "p2p.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p2p_msg m, m2;
	uint8_t out[P2P_MAX_PKT], *copy;
	size_t n;

	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	(void)p2p_is_control(copy, size);
	if (p2p_parse(copy, size, &m) == 0) {
		if (p2p_build(&m, out, sizeof(out), &n) == 0) {
			if (p2p_parse(out, n, &m2) != 0 || m2.type != m.type ||
			    strcmp(m2.domain, m.domain) != 0 ||
			    strcmp(m2.resource, m.resource) != 0 ||
			    m2.nproxy != m.nproxy || m2.active != m.active ||
			    memcmp(m2.proxy, m.proxy,
			    m.nproxy * sizeof(m.proxy[0])) != 0)
				abort();
		}
	}
	free(copy);
	return 0;
}
