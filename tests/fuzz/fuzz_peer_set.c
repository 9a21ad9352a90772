/* SPDX-License-Identifier: ISC */
/*
 * PEER_SET's fields from fz-controld (svc_peer_parse) and LOCAL_SOCKETS'
 * formatting: arbitrary text in every field (split at NUL bytes, as the
 * IPC decoder hands out NUL-terminated strings), no crash, no read past
 * a field; what parses is a valid path (exactly direct or relayed, the
 * socket of the address's family) with at most SVC_PEER_ALLOWED_MAX
 * prefixes, and a refusal leaves the spec wiped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane.h"
#include "svc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct svc_peer_spec sp;
	static const struct svc_peer_spec zero;
	struct ipc_peer_set m;
	const char *f[5] = { "", "", "", "", "" };
	char *copy;
	size_t i, k = 0;

	if (size < 6 || size > 8192)
		return 0;
	/* sock, channel, initiate from the first bytes; then 5 strings */
	memset(&m, 0, sizeof(m));
	m.sock = data[0] & 7;
	m.channel = (uint32_t)data[1] << 8 | data[2];
	m.initiate = data[3] & 1;
	if ((copy = malloc(size - 4 + 1)) == NULL)
		return 0;
	memcpy(copy, data + 4, size - 4);
	copy[size - 4] = '\0';
	f[k++] = copy;
	for (i = 0; i < size - 4 && k < 5; i++)
		if (copy[i] == '\0')
			f[k++] = copy + i + 1;
	m.peer_id = "fuzz";
	m.public_key = f[0];
	m.psk = f[1];
	m.allowed_ips = f[2];
	m.remote = f[3];
	m.relay = f[4];
	if (svc_peer_parse(&m, &sp) == 0) {
		if (sp.nallowed > SVC_PEER_ALLOWED_MAX ||
		    (sp.channel != 0 && (sp.channel < DP_CHANNEL_MIN ||
		    sp.channel > DP_CHANNEL_MAX)) ||
		    (sp.sock != DP_SOCK_UDP4 && sp.sock != DP_SOCK_UDP6) ||
		    sp.to.sa.sa_family != (sp.sock == DP_SOCK_UDP4 ? AF_INET :
		    AF_INET6))
			__builtin_trap();
	} else if (memcmp(&sp, &zero, sizeof(sp)) != 0) {
		__builtin_trap();
	}
	free(copy);
	return 0;
}
