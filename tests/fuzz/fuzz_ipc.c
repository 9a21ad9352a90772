/* SPDX-License-Identifier: ISC */
/*
 * ipc_msg_decode on arbitrary bytes, through the per-message arena: no
 * crash, no allocation driven by declared counts (the arena stays within
 * the type's arena_max), and whatever decodes re-encodes and decodes
 * again to the same bytes.  Also log_escape, which the text logs, fzctl and
 * sd_notify put such bytes through: it stays in bounds and leaves no
 * control character.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ipc_msg m, m2;
	static struct ipc_arena ar, ar2;
	static uint8_t a[IPC_MAX_FRAME], b[IPC_MAX_FRAME];
	struct wbuf w;
	size_t la;

	if (size > IPC_MAX_FRAME)
		return 0;
	{
		static char in[4097], out[4 * 4096 + 1];
		size_t n = size < 4096 ? size : 4096, cap, k, i;

		memcpy(in, data, n);
		in[n] = '\0';
		cap = size > 0 ? 1 + data[0] % 80 : 1;	/* truncations too */
		for (k = 0; k < 2; k++, cap = sizeof(out)) {
			n = log_escape(out, cap, in);
			if (n >= cap || out[n] != '\0')
				__builtin_trap();
			for (i = 0; i < n; i++) {
				uint8_t c = (uint8_t)out[i];

				if (c < 0x20 || c == 0x7f || (c == 0xc2 &&
				    (uint8_t)out[i + 1] >= 0x80 &&
				    (uint8_t)out[i + 1] <= 0x9f))
					__builtin_trap();
			}
		}
	}
	if (ipc_msg_decode(data, size, &m, &ar) != 0)
		return 0;
	if (ar.total > ipc_msg_info(m.type)->arena_max)
		__builtin_trap();
	wbuf_init(&w, a, sizeof(a));
	if (ipc_msg_encode(&m, &w) != 0)
		__builtin_trap();
	la = w.len;
	if (ipc_msg_decode(a, la, &m2, &ar2) != 0)
		__builtin_trap();
	wbuf_init(&w, b, sizeof(b));
	if (ipc_msg_encode(&m2, &w) != 0 || w.len != la ||
	    memcmp(a, b, la) != 0)
		__builtin_trap();
	return 0;
}
