/* SPDX-License-Identifier: ISC */
/*
 * Drives rbuf with an input-chosen sequence of reads: the first byte of each
 * step picks an operation, the rest is the data.  rbuf must never read out
 * of bounds and must never move on failure.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rbuf ops, r, sub;
	uint8_t op, u8, tmp[64], out[256];
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	const uint8_t *p;
	struct wbuf w;

	if (size < 1)
		return 0;
	rbuf_init(&ops, data, size / 2);
	rbuf_init(&r, data + size / 2, size - size / 2);
	wbuf_init(&w, out, sizeof(out));
	while (rbuf_get_u8(&ops, &op) == 0) {
		size_t before = rbuf_left(&r);
		int rc;

		switch (op % 10) {
		case 0: rc = rbuf_get_u8(&r, &u8); wbuf_put_u8(&w, u8); break;
		case 1: rc = rbuf_get_u16(&r, &u16); wbuf_put_u16(&w, u16); break;
		case 2: rc = rbuf_get_u32(&r, &u32); wbuf_put_u32(&w, u32); break;
		case 3: rc = rbuf_get_u64(&r, &u64); wbuf_put_u64(&w, u64); break;
		case 4: rc = rbuf_bytes(&r, tmp, op % 64); wbuf_put(&w, tmp, op % 64); break;
		case 5: rc = rbuf_ptr(&r, op / 4, &p); break;
		case 6:
			rc = rbuf_sub(&r, op / 8, &sub);
			if (rc == 0)
				while (rbuf_get_u16(&sub, &u16) == 0)
					;
			break;
		case 7: rc = rbuf_get_u32_le(&r, &u32); wbuf_put_u32_le(&w, u32); break;
		case 8: rc = rbuf_skip(&r, op); break;
		default: wbuf_pad(&w, 4); rc = 0; break;
		}
		if (rc != 0 && rbuf_left(&r) != before)
			__builtin_trap();
	}
	(void)rbuf_done(&r);
	(void)wbuf_error(&w);
	return 0;
}
