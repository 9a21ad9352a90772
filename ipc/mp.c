/* SPDX-License-Identifier: ISC */
/*
 * A strict msgpack reader over struct rbuf.  Encoding uses msgpack-c's
 * packer; decoding does not use msgpack-c's unpacker because that one
 * allocates arrays sized by the declared count before the bytes exist,
 * which a hostile peer can turn into gigabytes.  Here nothing is
 * allocated and every count is checked against the bytes left.
 */
#include <errno.h>
#include <string.h>

#include "ipc.h"

int
mp_get_array(struct rbuf *rb, uint32_t *n)
{
	struct rbuf save = *rb;
	uint8_t t;
	uint16_t n16;
	uint32_t n32;

	if (rbuf_get_u8(rb, &t) != 0)
		return -EBADMSG;
	if ((t & 0xf0) == 0x90)
		n32 = t & 0x0f;
	else if (t == 0xdc) {
		if (rbuf_get_u16(rb, &n16) != 0)
			goto bad;
		n32 = n16;
	} else if (t == 0xdd) {
		if (rbuf_get_u32(rb, &n32) != 0)
			goto bad;
	} else
		goto bad;
	/* Every element takes at least one byte. */
	if (n32 > rbuf_left(rb))
		goto bad;
	*n = n32;
	return 0;
bad:
	*rb = save;
	return -EBADMSG;
}

int
mp_get_uint(struct rbuf *rb, uint64_t *v)
{
	struct rbuf save = *rb;
	uint8_t t, u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	if (rbuf_get_u8(rb, &t) != 0)
		return -EBADMSG;
	if (t <= 0x7f) {
		*v = t;
		return 0;
	}
	switch (t) {
	case 0xcc:
		if (rbuf_get_u8(rb, &u8) != 0)
			goto bad;
		*v = u8;
		return 0;
	case 0xcd:
		if (rbuf_get_u16(rb, &u16) != 0)
			goto bad;
		*v = u16;
		return 0;
	case 0xce:
		if (rbuf_get_u32(rb, &u32) != 0)
			goto bad;
		*v = u32;
		return 0;
	case 0xcf:
		if (rbuf_get_u64(rb, &u64) != 0)
			goto bad;
		*v = u64;
		return 0;
	}
bad:
	*rb = save;
	return -EBADMSG;
}

int
mp_get_int(struct rbuf *rb, int64_t *v)
{
	struct rbuf save = *rb;
	uint8_t t, u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	if (rbuf_cur(rb) != NULL && rbuf_left(rb) > 0) {
		t = rbuf_cur(rb)[0];
		if (t <= 0x7f || (t >= 0xcc && t <= 0xcf)) {
			if (mp_get_uint(rb, &u64) != 0)
				return -EBADMSG;
			if (u64 > INT64_MAX) {
				*rb = save;
				return -EBADMSG;
			}
			*v = (int64_t)u64;
			return 0;
		}
	}
	if (rbuf_get_u8(rb, &t) != 0)
		return -EBADMSG;
	if (t >= 0xe0) {
		*v = (int8_t)t;
		return 0;
	}
	switch (t) {
	case 0xd0:
		if (rbuf_get_u8(rb, &u8) != 0)
			goto bad;
		*v = (int8_t)u8;
		return 0;
	case 0xd1:
		if (rbuf_get_u16(rb, &u16) != 0)
			goto bad;
		*v = (int16_t)u16;
		return 0;
	case 0xd2:
		if (rbuf_get_u32(rb, &u32) != 0)
			goto bad;
		*v = (int32_t)u32;
		return 0;
	case 0xd3:
		if (rbuf_get_u64(rb, &u64) != 0)
			goto bad;
		*v = (int64_t)u64;
		return 0;
	}
bad:
	*rb = save;
	return -EBADMSG;
}

int
mp_get_bool(struct rbuf *rb, bool *v)
{
	uint8_t t;

	if (rbuf_left(rb) < 1)
		return -EBADMSG;
	t = rbuf_cur(rb)[0];
	if (t != 0xc2 && t != 0xc3)
		return -EBADMSG;
	if (rbuf_skip(rb, 1) != 0)
		return -EBADMSG;
	*v = t == 0xc3;
	return 0;
}

int
mp_get_str(struct rbuf *rb, const char **p, uint32_t *len)
{
	struct rbuf save = *rb;
	const uint8_t *q;
	uint8_t t, n8;
	uint16_t n16;
	uint32_t n;

	if (rbuf_get_u8(rb, &t) != 0)
		return -EBADMSG;
	if ((t & 0xe0) == 0xa0)
		n = t & 0x1f;
	else if (t == 0xd9) {
		if (rbuf_get_u8(rb, &n8) != 0)
			goto bad;
		n = n8;
	} else if (t == 0xda) {
		if (rbuf_get_u16(rb, &n16) != 0)
			goto bad;
		n = n16;
	} else if (t == 0xdb) {
		if (rbuf_get_u32(rb, &n) != 0)
			goto bad;
	} else
		goto bad;
	if (rbuf_ptr(rb, n, &q) != 0)
		goto bad;
	*p = (const char *)q;
	*len = n;
	return 0;
bad:
	*rb = save;
	return -EBADMSG;
}

bool
utf8_valid(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, k, need;
	uint32_t cp, min;

	while (i < n) {
		uint8_t c = p[i];

		if (c < 0x80) {
			if (c == 0)
				return false;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			need = 1; cp = c & 0x1f; min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2; cp = c & 0x0f; min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3; cp = c & 0x07; min = 0x10000;
		} else
			return false;
		if (n - i - 1 < need)
			return false;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* no overlongs, surrogates or code points past U+10FFFF */
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

int
mp_get_cstr(struct rbuf *rb, char *out, size_t cap)
{
	struct rbuf save = *rb;
	const char *p;
	uint32_t n;

	if (mp_get_str(rb, &p, &n) != 0)
		return -EBADMSG;
	if ((size_t)n >= cap || !utf8_valid(p, n)) {
		*rb = save;
		return -EBADMSG;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}
