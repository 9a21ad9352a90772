/* SPDX-License-Identifier: ISC */
/*
 * ipc_msg_decode on arbitrary bytes: no crash, no allocation driven by
 * declared counts, and whatever decodes re-encodes and decodes again to
 * the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ipc_msg m, m2;
	static uint8_t a[IPC_MAX_FRAME], b[IPC_MAX_FRAME];
	struct wbuf w;
	size_t la;

	if (size > IPC_MAX_FRAME)
		return 0;
	if (ipc_msg_decode(data, size, &m) != 0)
		return 0;
	wbuf_init(&w, a, sizeof(a));
	if (ipc_msg_encode(&m, &w) != 0)
		__builtin_trap();
	la = w.len;
	if (ipc_msg_decode(a, la, &m2) != 0)
		__builtin_trap();
	wbuf_init(&w, b, sizeof(b));
	if (ipc_msg_encode(&m2, &w) != 0 || w.len != la ||
	    memcmp(a, b, la) != 0)
		__builtin_trap();
	return 0;
}
