/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "check_util.h"

static const uint8_t sample[] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11,
};

START_TEST(test_rbuf_ints)
{
	struct rbuf r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	rbuf_init(&r, sample, sizeof(sample));
	ck_assert_int_eq(rbuf_get_u8(&r, &u8), 0);
	ck_assert_uint_eq(u8, 0x01);
	ck_assert_int_eq(rbuf_get_u16(&r, &u16), 0);
	ck_assert_uint_eq(u16, 0x0203);
	ck_assert_int_eq(rbuf_get_u32(&r, &u32), 0);
	ck_assert_uint_eq(u32, 0x04050607);
	ck_assert_int_eq(rbuf_get_u64(&r, &u64), 0);
	ck_assert_uint_eq(u64, 0x08090a0b0c0d0e0fULL);
	ck_assert_uint_eq(rbuf_left(&r), 2);
	ck_assert_int_eq(rbuf_done(&r), -EBADMSG);
	ck_assert_int_eq(rbuf_skip(&r, 2), 0);
	ck_assert_int_eq(rbuf_done(&r), 0);
}
END_TEST

START_TEST(test_rbuf_le)
{
	struct rbuf r;
	uint32_t u32;
	uint64_t u64;

	rbuf_init(&r, sample, 12);
	ck_assert_int_eq(rbuf_get_u32_le(&r, &u32), 0);
	ck_assert_uint_eq(u32, 0x04030201);
	ck_assert_int_eq(rbuf_get_u64_le(&r, &u64), 0);
	ck_assert_uint_eq(u64, 0x0c0b0a0908070605ULL);
}
END_TEST

/* Every getter at every truncation fails and leaves the cursor alone. */
START_TEST(test_rbuf_truncation)
{
	size_t len, widths[] = { 1, 2, 4, 8 };
	unsigned i;

	for (len = 0; len < 8; len++) {
		for (i = 0; i < 4; i++) {
			struct rbuf r;
			uint8_t u8 = 0xaa, out[8];
			uint16_t u16 = 0xaaaa;
			uint32_t u32 = 0xaaaaaaaa;
			uint64_t u64 = 42;
			int rc;

			if (widths[i] <= len)
				continue;
			rbuf_init(&r, sample, len);
			switch (widths[i]) {
			case 1: rc = rbuf_get_u8(&r, &u8); break;
			case 2: rc = rbuf_get_u16(&r, &u16); break;
			case 4: rc = rbuf_get_u32(&r, &u32); break;
			default: rc = rbuf_get_u64(&r, &u64); break;
			}
			ck_assert_int_eq(rc, -EBADMSG);
			ck_assert_uint_eq(rbuf_left(&r), len);
			ck_assert_uint_eq(u8, 0xaa);
			ck_assert_uint_eq(u16, 0xaaaa);
			ck_assert_uint_eq(u32, 0xaaaaaaaa);
			ck_assert_uint_eq(u64, 42);
			ck_assert_int_eq(rbuf_bytes(&r, out, len + 1), -EBADMSG);
			ck_assert_uint_eq(rbuf_left(&r), len);
		}
	}
}
END_TEST

START_TEST(test_rbuf_sub_and_ptr)
{
	struct rbuf r, sub;
	const uint8_t *p;
	uint16_t v;

	rbuf_init(&r, sample, sizeof(sample));
	ck_assert_int_eq(rbuf_sub(&r, 4, &sub), 0);
	ck_assert_uint_eq(rbuf_left(&sub), 4);
	ck_assert_int_eq(rbuf_get_u16(&sub, &v), 0);
	ck_assert_uint_eq(v, 0x0102);
	ck_assert_int_eq(rbuf_get_u16(&sub, &v), 0);
	ck_assert_int_eq(rbuf_get_u16(&sub, &v), -EBADMSG);
	ck_assert_int_eq(rbuf_ptr(&r, 2, &p), 0);
	ck_assert_ptr_eq(p, sample + 4);
	ck_assert_int_eq(rbuf_sub(&r, 100, &sub), -EBADMSG);
	ck_assert_uint_eq(rbuf_left(&r), sizeof(sample) - 6);
	/* a huge length cannot wrap the bounds check */
	ck_assert_int_eq(rbuf_skip(&r, SIZE_MAX), -EBADMSG);
}
END_TEST

START_TEST(test_rbuf_null)
{
	struct rbuf r;
	uint8_t v;

	rbuf_init(&r, NULL, 10);
	ck_assert_uint_eq(rbuf_left(&r), 0);
	ck_assert_int_eq(rbuf_get_u8(&r, &v), -EBADMSG);
	ck_assert_int_eq(rbuf_done(&r), 0);
}
END_TEST

START_TEST(test_wbuf_roundtrip)
{
	uint8_t store[64];
	struct wbuf w;
	struct rbuf r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	wbuf_init(&w, store, sizeof(store));
	wbuf_put_u8(&w, 0xfe);
	wbuf_put_u16(&w, 0xbeef);
	wbuf_put_u32(&w, 0xdeadbeef);
	wbuf_put_u64(&w, 0x0123456789abcdefULL);
	wbuf_put_u32_le(&w, 0x11223344);
	wbuf_put_u64_le(&w, 0x5566778899aabbccULL);
	wbuf_put(&w, "xyz", 3);
	ck_assert_int_eq(wbuf_error(&w), 0);
	ck_assert_uint_eq(wbuf_len(&w), 1 + 2 + 4 + 8 + 4 + 8 + 3);

	rbuf_init(&r, wbuf_data(&w), wbuf_len(&w));
	ck_assert_int_eq(rbuf_get_u8(&r, &u8), 0);
	ck_assert_uint_eq(u8, 0xfe);
	ck_assert_int_eq(rbuf_get_u16(&r, &u16), 0);
	ck_assert_uint_eq(u16, 0xbeef);
	ck_assert_int_eq(rbuf_get_u32(&r, &u32), 0);
	ck_assert_uint_eq(u32, 0xdeadbeef);
	ck_assert_int_eq(rbuf_get_u64(&r, &u64), 0);
	ck_assert_uint_eq(u64, 0x0123456789abcdefULL);
	ck_assert_int_eq(rbuf_get_u32_le(&r, &u32), 0);
	ck_assert_uint_eq(u32, 0x11223344);
	ck_assert_int_eq(rbuf_get_u64_le(&r, &u64), 0);
	ck_assert_uint_eq(u64, 0x5566778899aabbccULL);
	ck_assert_int_eq(rbuf_skip(&r, 3), 0);
	ck_assert_int_eq(rbuf_done(&r), 0);
}
END_TEST

START_TEST(test_wbuf_overflow_sticky)
{
	uint8_t store[5];
	struct wbuf w;

	wbuf_init(&w, store, sizeof(store));
	wbuf_put_u32(&w, 1);
	ck_assert_int_eq(wbuf_error(&w), 0);
	wbuf_put_u16(&w, 2);		/* does not fit */
	ck_assert_int_eq(wbuf_error(&w), -ENOBUFS);
	ck_assert_uint_eq(wbuf_len(&w), 4);
	wbuf_put_u8(&w, 3);		/* would fit, but the error sticks */
	ck_assert_uint_eq(wbuf_len(&w), 4);
	ck_assert_int_eq(wbuf_error(&w), -ENOBUFS);

	wbuf_init(&w, store, sizeof(store));
	wbuf_put_u64(&w, 1);		/* a u64 never half-written */
	ck_assert_uint_eq(wbuf_len(&w), 0);
	ck_assert_int_eq(wbuf_error(&w), -ENOBUFS);
}
END_TEST

START_TEST(test_wbuf_reserve_pad)
{
	uint8_t store[32];
	struct wbuf w;
	size_t at;

	wbuf_init(&w, store, sizeof(store));
	wbuf_put_u16(&w, 0x0101);
	at = wbuf_reserve(&w, 2);
	ck_assert_uint_eq(at, 2);
	wbuf_put(&w, "abc", 3);
	wbuf_pad(&w, 4);
	ck_assert_uint_eq(wbuf_len(&w), 8);
	ck_assert_uint_eq(store[7], 0);
	wbuf_set_u16(&w, at, (uint16_t)(wbuf_len(&w) - 4));
	ck_assert_uint_eq(store[2], 0);
	ck_assert_uint_eq(store[3], 4);
	wbuf_set_u32(&w, 4, 0x01020304);
	ck_assert_uint_eq(store[4], 1);
	ck_assert_int_eq(wbuf_error(&w), 0);
	wbuf_set_u32(&w, 6, 0);		/* past what was written */
	ck_assert_int_eq(wbuf_error(&w), -ERANGE);

	wbuf_init(&w, store, 3);
	ck_assert_uint_eq(wbuf_reserve(&w, 4), SIZE_MAX);
	ck_assert_int_eq(wbuf_error(&w), -ENOBUFS);
	wbuf_init(&w, store, sizeof(store));
	wbuf_pad(&w, 3);
	ck_assert_int_eq(wbuf_error(&w), -EINVAL);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rbuf_ints);
	tcase_add_test(tc, test_rbuf_le);
	tcase_add_test(tc, test_rbuf_truncation);
	tcase_add_test(tc, test_rbuf_sub_and_ptr);
	tcase_add_test(tc, test_rbuf_null);
	tcase_add_test(tc, test_wbuf_roundtrip);
	tcase_add_test(tc, test_wbuf_overflow_sticky);
	tcase_add_test(tc, test_wbuf_reserve_pad);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(buf_suite)
