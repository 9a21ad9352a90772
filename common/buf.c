/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <string.h>

#include "buf.h"

void
rbuf_init(struct rbuf *r, const void *p, size_t len)
{
	r->p = p;
	r->len = p != NULL ? len : 0;
	r->off = 0;
}

size_t
rbuf_left(const struct rbuf *r)
{
	return r->len - r->off;
}

const uint8_t *
rbuf_cur(const struct rbuf *r)
{
	return r->p + r->off;
}

static int
need(const struct rbuf *r, size_t n)
{
	return rbuf_left(r) < n ? -EBADMSG : 0;
}

int
rbuf_get_u8(struct rbuf *r, uint8_t *v)
{
	if (need(r, 1))
		return -EBADMSG;
	*v = r->p[r->off++];
	return 0;
}

int
rbuf_get_u16(struct rbuf *r, uint16_t *v)
{
	const uint8_t *b;

	if (need(r, 2))
		return -EBADMSG;
	b = r->p + r->off;
	*v = (uint16_t)(b[0] << 8 | b[1]);
	r->off += 2;
	return 0;
}

int
rbuf_get_u32(struct rbuf *r, uint32_t *v)
{
	const uint8_t *b;

	if (need(r, 4))
		return -EBADMSG;
	b = r->p + r->off;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	r->off += 4;
	return 0;
}

int
rbuf_get_u64(struct rbuf *r, uint64_t *v)
{
	uint32_t hi, lo;

	if (need(r, 8))
		return -EBADMSG;
	if (rbuf_get_u32(r, &hi) != 0 || rbuf_get_u32(r, &lo) != 0)
		return -EBADMSG;	/* not reached: checked above */
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

int
rbuf_get_u32_le(struct rbuf *r, uint32_t *v)
{
	const uint8_t *b;

	if (need(r, 4))
		return -EBADMSG;
	b = r->p + r->off;
	*v = (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[1] << 8 | b[0];
	r->off += 4;
	return 0;
}

int
rbuf_get_u64_le(struct rbuf *r, uint64_t *v)
{
	uint32_t lo, hi;

	if (need(r, 8))
		return -EBADMSG;
	if (rbuf_get_u32_le(r, &lo) != 0 || rbuf_get_u32_le(r, &hi) != 0)
		return -EBADMSG;	/* not reached: checked above */
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

int
rbuf_bytes(struct rbuf *r, void *out, size_t n)
{
	if (need(r, n))
		return -EBADMSG;
	if (n > 0)
		memcpy(out, r->p + r->off, n);
	r->off += n;
	return 0;
}

int
rbuf_ptr(struct rbuf *r, size_t n, const uint8_t **out)
{
	if (need(r, n))
		return -EBADMSG;
	*out = r->p + r->off;
	r->off += n;
	return 0;
}

int
rbuf_skip(struct rbuf *r, size_t n)
{
	if (need(r, n))
		return -EBADMSG;
	r->off += n;
	return 0;
}

int
rbuf_sub(struct rbuf *r, size_t n, struct rbuf *sub)
{
	if (need(r, n))
		return -EBADMSG;
	rbuf_init(sub, r->p + r->off, n);
	r->off += n;
	return 0;
}

int
rbuf_done(const struct rbuf *r)
{
	return rbuf_left(r) == 0 ? 0 : -EBADMSG;
}

void
wbuf_init(struct wbuf *w, void *p, size_t cap)
{
	w->p = p;
	w->cap = p != NULL ? cap : 0;
	w->len = 0;
	w->err = 0;
}

/* Returns where n bytes may be written, or NULL with the sticky error set. */
static uint8_t *
room(struct wbuf *w, size_t n)
{
	uint8_t *at;

	if (w->err != 0)
		return NULL;
	if (w->cap - w->len < n) {
		w->err = -ENOBUFS;
		return NULL;
	}
	at = w->p + w->len;
	w->len += n;
	return at;
}

void
wbuf_put_u8(struct wbuf *w, uint8_t v)
{
	uint8_t *b;

	if ((b = room(w, 1)) != NULL)
		b[0] = v;
}

void
wbuf_put_u16(struct wbuf *w, uint16_t v)
{
	uint8_t *b;

	if ((b = room(w, 2)) != NULL) {
		b[0] = v >> 8;
		b[1] = v & 0xff;
	}
}

void
wbuf_put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t *b;

	if ((b = room(w, 4)) != NULL) {
		b[0] = v >> 24;
		b[1] = (v >> 16) & 0xff;
		b[2] = (v >> 8) & 0xff;
		b[3] = v & 0xff;
	}
}

void
wbuf_put_u64(struct wbuf *w, uint64_t v)
{
	if (w->err == 0 && w->cap - w->len < 8) {
		w->err = -ENOBUFS;
		return;
	}
	wbuf_put_u32(w, (uint32_t)(v >> 32));
	wbuf_put_u32(w, (uint32_t)v);
}

void
wbuf_put_u32_le(struct wbuf *w, uint32_t v)
{
	uint8_t *b;

	if ((b = room(w, 4)) != NULL) {
		b[3] = v >> 24;
		b[2] = (v >> 16) & 0xff;
		b[1] = (v >> 8) & 0xff;
		b[0] = v & 0xff;
	}
}

void
wbuf_put_u64_le(struct wbuf *w, uint64_t v)
{
	if (w->err == 0 && w->cap - w->len < 8) {
		w->err = -ENOBUFS;
		return;
	}
	wbuf_put_u32_le(w, (uint32_t)v);
	wbuf_put_u32_le(w, (uint32_t)(v >> 32));
}

void
wbuf_put(struct wbuf *w, const void *p, size_t n)
{
	uint8_t *b;

	if ((b = room(w, n)) != NULL && n > 0)
		memcpy(b, p, n);
}

void
wbuf_zero(struct wbuf *w, size_t n)
{
	uint8_t *b;

	if ((b = room(w, n)) != NULL && n > 0)
		memset(b, 0, n);
}

void
wbuf_pad(struct wbuf *w, size_t align)
{
	if (align == 0 || (align & (align - 1)) != 0) {
		if (w->err == 0)
			w->err = -EINVAL;
		return;
	}
	wbuf_zero(w, (align - (w->len & (align - 1))) & (align - 1));
}

size_t
wbuf_reserve(struct wbuf *w, size_t n)
{
	uint8_t *b;

	if ((b = room(w, n)) == NULL)
		return SIZE_MAX;
	memset(b, 0, n);
	return (size_t)(b - w->p);
}

void
wbuf_set_u16(struct wbuf *w, size_t off, uint16_t v)
{
	if (w->err != 0)
		return;
	if (off > w->len || w->len - off < 2) {
		w->err = -ERANGE;
		return;
	}
	w->p[off] = v >> 8;
	w->p[off + 1] = v & 0xff;
}

void
wbuf_set_u32(struct wbuf *w, size_t off, uint32_t v)
{
	if (w->err != 0)
		return;
	if (off > w->len || w->len - off < 4) {
		w->err = -ERANGE;
		return;
	}
	w->p[off] = v >> 24;
	w->p[off + 1] = (v >> 16) & 0xff;
	w->p[off + 2] = (v >> 8) & 0xff;
	w->p[off + 3] = v & 0xff;
}

size_t
wbuf_len(const struct wbuf *w)
{
	return w->len;
}

uint8_t *
wbuf_data(const struct wbuf *w)
{
	return w->p;
}

int
wbuf_error(const struct wbuf *w)
{
	return w->err;
}
