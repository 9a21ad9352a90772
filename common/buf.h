/* SPDX-License-Identifier: ISC */
/*
 * Bounded readers and writers over caller-owned byte buffers.
 *
 * struct rbuf borrows its bytes; every getter checks the bytes left first
 * and never advances on failure (-EBADMSG).  struct wbuf writes into caller
 * storage; an overflow sets a sticky error that is checked once before the
 * buffer is used (wbuf_error), so encoders need not check every put.
 * Multi-byte integers are network (big-endian) order unless the name says
 * _le.
 */
#ifndef FZ_BUF_H
#define FZ_BUF_H

#include <stddef.h>
#include <stdint.h>

struct rbuf {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
};

struct wbuf {
	uint8_t		*p;
	size_t		 cap;
	size_t		 len;
	int		 err;		/* sticky: 0 or -ENOBUFS */
};

#define FZ_WUR __attribute__((warn_unused_result))

void	rbuf_init(struct rbuf *, const void *, size_t);
size_t	rbuf_left(const struct rbuf *);
const uint8_t *rbuf_cur(const struct rbuf *);
int	rbuf_get_u8(struct rbuf *, uint8_t *) FZ_WUR;
int	rbuf_get_u16(struct rbuf *, uint16_t *) FZ_WUR;
int	rbuf_get_u32(struct rbuf *, uint32_t *) FZ_WUR;
int	rbuf_get_u64(struct rbuf *, uint64_t *) FZ_WUR;
int	rbuf_get_u32_le(struct rbuf *, uint32_t *) FZ_WUR;
int	rbuf_get_u64_le(struct rbuf *, uint64_t *) FZ_WUR;
/* Copies n bytes out. */
int	rbuf_bytes(struct rbuf *, void *, size_t) FZ_WUR;
/* Borrows n bytes in place (valid while the underlying buffer is). */
int	rbuf_ptr(struct rbuf *, size_t, const uint8_t **) FZ_WUR;
int	rbuf_skip(struct rbuf *, size_t) FZ_WUR;
/* Carves the next n bytes out as a nested reader (for TLVs). */
int	rbuf_sub(struct rbuf *, size_t, struct rbuf *) FZ_WUR;
/* 0 when every byte was consumed, -EBADMSG on trailing bytes. */
int	rbuf_done(const struct rbuf *) FZ_WUR;

void	wbuf_init(struct wbuf *, void *, size_t);
void	wbuf_put_u8(struct wbuf *, uint8_t);
void	wbuf_put_u16(struct wbuf *, uint16_t);
void	wbuf_put_u32(struct wbuf *, uint32_t);
void	wbuf_put_u64(struct wbuf *, uint64_t);
void	wbuf_put_u32_le(struct wbuf *, uint32_t);
void	wbuf_put_u64_le(struct wbuf *, uint64_t);
void	wbuf_put(struct wbuf *, const void *, size_t);
void	wbuf_zero(struct wbuf *, size_t);
/* Pads with zero bytes up to a multiple of align (a power of two). */
void	wbuf_pad(struct wbuf *, size_t);
/*
 * Reserves n bytes to be filled in later; returns their offset, or
 * SIZE_MAX with the sticky error set.
 */
size_t	wbuf_reserve(struct wbuf *, size_t);
/* Writes into an already written or reserved range. */
void	wbuf_set_u16(struct wbuf *, size_t, uint16_t);
void	wbuf_set_u32(struct wbuf *, size_t, uint32_t);
size_t	wbuf_len(const struct wbuf *);
uint8_t	*wbuf_data(const struct wbuf *);
int	wbuf_error(const struct wbuf *) FZ_WUR;

#endif
