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

/*
 * The integer formats: positive and negative fixint, then 1, 2, 4 or 8
 * big-endian bytes after 0xcc..0xcf (unsigned) or 0xd0..0xd3 (signed).
 * The value comes back as raw bits and whether it is signed; the reader
 * does not advance on failure.
 */
static int
mp_get_integer(struct rbuf *rb, uint64_t *bits, bool *is_signed)
{
	struct rbuf save = *rb;
	uint8_t t, b[8];
	size_t n, i;

	if (rbuf_get_u8(rb, &t) != 0)
		return -EBADMSG;
	if (t <= 0x7f || t >= 0xe0) {
		*bits = t <= 0x7f ? t : (uint64_t)(int64_t)(int8_t)t;
		*is_signed = t >= 0xe0;
		return 0;
	}
	if (t < 0xcc || t > 0xd3) {
		*rb = save;
		return -EBADMSG;
	}
	n = (size_t)1 << ((t - 0xcc) & 3);
	if (rbuf_bytes(rb, b, n) != 0) {
		*rb = save;
		return -EBADMSG;
	}
	*bits = 0;
	for (i = 0; i < n; i++)
		*bits = *bits << 8 | b[i];
	*is_signed = t >= 0xd0;
	if (*is_signed && n < 8 && (b[0] & 0x80))	/* sign-extend */
		*bits |= ~(uint64_t)0 << (8 * n);
	return 0;
}

int
mp_get_uint(struct rbuf *rb, uint64_t *v)
{
	struct rbuf save = *rb;
	bool sgn;

	if (mp_get_integer(rb, v, &sgn) != 0)
		return -EBADMSG;
	if (sgn) {		/* strict: unsigned fields use unsigned formats */
		*rb = save;
		return -EBADMSG;
	}
	return 0;
}

int
mp_get_int(struct rbuf *rb, int64_t *v)
{
	struct rbuf save = *rb;
	uint64_t bits;
	bool sgn;

	if (mp_get_integer(rb, &bits, &sgn) != 0)
		return -EBADMSG;
	if (!sgn && bits > INT64_MAX) {
		*rb = save;
		return -EBADMSG;
	}
	*v = (int64_t)bits;
	return 0;
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

/* bin 8/16/32 (0xc4-0xc6) only: a str is not bytes, nor the reverse. */
int
mp_get_bin(struct rbuf *rb, const uint8_t **p, uint32_t *len)
{
	struct rbuf save = *rb;
	uint8_t t, n8;
	uint16_t n16;
	uint32_t n;

	if (rbuf_get_u8(rb, &t) != 0)
		return -EBADMSG;
	if (t == 0xc4) {
		if (rbuf_get_u8(rb, &n8) != 0)
			goto bad;
		n = n8;
	} else if (t == 0xc5) {
		if (rbuf_get_u16(rb, &n16) != 0)
			goto bad;
		n = n16;
	} else if (t == 0xc6) {
		if (rbuf_get_u32(rb, &n) != 0)
			goto bad;
	} else
		goto bad;
	if (rbuf_ptr(rb, n, p) != 0)
		goto bad;
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

/*
 * IPC text: valid UTF-8 (utf8_valid) with no C0 control (U+0000-U+001F),
 * no DEL (U+007F) and no C1 control (U+0080-U+009F, the two bytes 0xC2
 * 0x80-0x9F).  Strings cross a privilege boundary and end up in log
 * lines, sd_notify(3) datagrams and terminals, where a newline or an
 * escape sequence would forge a line, a field or a screen.  No field
 * carries binary: tokens are printable text too.
 */
bool
ipc_text_valid(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i;

	if (!utf8_valid(s, n))
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		/* valid UTF-8, so a 0xC2 lead always has a next byte */
		if (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return false;
	}
	return true;
}

int
mp_get_text(struct rbuf *rb, size_t max, struct ipc_arena *a,
    const char **out)
{
	struct rbuf save = *rb;
	const char *p;
	uint32_t n;
	char *s;

	if (mp_get_str(rb, &p, &n) != 0)
		return -EBADMSG;
	if ((size_t)n > max || !ipc_text_valid(p, n)) {
		*rb = save;
		return -EBADMSG;
	}
	if ((s = ipc_arena_alloc(a, (size_t)n + 1, 1)) == NULL) {
		*rb = save;
		return -ENOMEM;
	}
	memcpy(s, p, n);
	s[n] = '\0';
	*out = s;
	return 0;
}

size_t
ipc_text_trunc(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (cap == 0)
		return 0;
	if (n >= cap) {
		n = cap - 1;
		/* back off to a UTF-8 sequence boundary */
		while (n > 0 && ((uint8_t)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}
