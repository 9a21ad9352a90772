/* SPDX-License-Identifier: ISC */
/*
 * stun_parse, every attribute decoder, the integrity and fingerprint
 * checks, and ChannelData parsing on arbitrary bytes: no crash, no read
 * past the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[16] = "0123456789abcdef";
	struct stun_msg m;
	union fz_sockaddr a;
	const uint8_t *p;
	char text[800];
	const char *r;
	size_t n;
	uint32_t v;
	uint16_t ch;
	uint8_t u8;
	int code;
	unsigned i;
	uint8_t *copy = malloc(size ? size : 1);

	/* An exact-size copy, so ASan sees any over-read. */
	memcpy(copy, data, size);
	(void)turn_channeldata_parse(copy, size, &ch, &p, &n);
	if (stun_parse(copy, size, &m) == 0) {
		if (m.len > size)
			__builtin_trap();
		for (i = 0; i < m.nattrs; i++) {
			const struct stun_attr *at = &m.attrs[i];

			(void)stun_get_xaddr(&m, at, &a);
			(void)stun_get_addr(at, &a);
			(void)stun_get_u32(at, &v);
			(void)stun_get_error(at, &code, &r, &n);
			(void)stun_get_channel(at, &ch);
			(void)stun_get_transport(at, &u8);
			(void)stun_get_family(at, &u8);
			(void)stun_get_text(at, 763, text, sizeof(text));
		}
		(void)stun_check_integrity(&m, key, sizeof(key));
		(void)stun_check_integrity_sha256(&m, key, sizeof(key));
		(void)stun_check_fingerprint(&m);
	}
	free(copy);
	return 0;
}
