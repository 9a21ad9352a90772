/* SPDX-License-Identifier: ISC */
/*
 * STUN/TURN codec: the RFC 5769 test vectors, build/parse round trips,
 * every truncation, bad padding and lengths, FINGERPRINT placement,
 * unknown comprehension-required attributes, and ChannelData framing.
 */
#include <arpa/inet.h>
#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "stun.h"

static size_t
unhex(const char *h, uint8_t *out)
{
	size_t n = 0;

	while (h[0] && h[1]) {
		unsigned v;

		sscanf(h, "%2x", &v);
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

/* RFC 5769 section 2: the four sample messages. */
static const struct {
	const char	*name, *hex;
	int		 method, cls;
} vectors[] = {
	{ "2.1 request", "000100582112a442b7e7a701bc34d686fa87dfae802200105354"
	  "554e207465737420636c69656e74002400046e0001ff80290008932ff9b151263b"
	  "36000600096576746a3a68367659202020000800149aeaa70cbfd8cb56781ef2b5"
	  "b2d3f249c1b571a280280004e57a3bcf", STUN_BINDING, STUN_REQUEST },
	{ "2.2 IPv4 response", "0101003c2112a442b7e7a701bc34d686fa87dfae802200"
	  "0b7465737420766563746f7220002000080001a147e112a643000800142b91f599"
	  "fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96", STUN_BINDING,
	  STUN_SUCCESS },
	{ "2.3 IPv6 response", "010100482112a442b7e7a701bc34d686fa87dfae802200"
	  "0b7465737420766563746f7220002000140002a1470113a9faa5d3f179bc25f4b5"
	  "bed2b9d900080014a382954e4be67bf11784c97c8292c275bfe3ed418028000"
	  "4c8fb0b4c", STUN_BINDING, STUN_SUCCESS },
	{ "2.4 long-term", "000100602112a44278ad3433c6ad72c029da412e0006001"
	  "2e3839ee38388e383aae38383e382afe382b900000015001c662f2f3439396b39"
	  "353464364f4c33346f4c394653547679363473410014000b6578616d706c652e6f"
	  "72670000080014f67024656dd64a3e02b8e0712e85c9a28ca89666",
	  STUN_BINDING, STUN_REQUEST },
};

static const uint8_t pw[] = "VOkJxbRl1RmTxUk/WvJxBt";

START_TEST(test_rfc5769)
{
	uint8_t b[256], key[16];
	struct stun_msg m;
	union fz_sockaddr a;
	char s[128];
	size_t n;

	n = unhex(vectors[_i].hex, b);
	ck_assert_int_eq(stun_parse(b, n, &m), 0);
	ck_assert_uint_eq(m.len, n);
	ck_assert_int_eq(m.method, vectors[_i].method);
	ck_assert_int_eq(m.cls, vectors[_i].cls);
	switch (_i) {
	case 0:
		ck_assert_int_eq(stun_check_integrity(&m, pw, sizeof(pw) - 1), 0);
		ck_assert_int_eq(stun_check_fingerprint(&m), 0);
		ck_assert_int_eq(stun_get_text(stun_find(&m, STUN_A_USERNAME),
		    513, s, sizeof(s)), 0);
		ck_assert_str_eq(s, "evtj:h6vY");
		ck_assert_int_eq(stun_get_text(stun_find(&m, STUN_A_SOFTWARE),
		    763, s, sizeof(s)), 0);
		ck_assert_str_eq(s, "STUN test client");
		/* a wrong password fails */
		ck_assert_int_ne(stun_check_integrity(&m, pw, sizeof(pw) - 2), 0);
		break;
	case 1:
	case 2:
		ck_assert_int_eq(stun_check_integrity(&m, pw, sizeof(pw) - 1), 0);
		ck_assert_int_eq(stun_check_fingerprint(&m), 0);
		ck_assert_int_eq(stun_get_xaddr(&m,
		    stun_find(&m, STUN_A_XOR_MAPPED_ADDRESS), &a), 0);
		ck_assert_int_eq(addr_fmt(&a.sa, true, s, sizeof(s)), 0);
		ck_assert_str_eq(s, _i == 1 ? "192.0.2.1:32853" :
		    "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
		break;
	case 3:
		stun_long_term_key("\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83"
		    "\x83\xe3\x82\xaf\xe3\x82\xb9", "example.org", "TheMatrIX",
		    key);
		ck_assert_int_eq(stun_check_integrity(&m, key, 16), 0);
		ck_assert_int_eq(stun_get_text(stun_find(&m, STUN_A_NONCE), 763,
		    s, sizeof(s)), 0);
		ck_assert_str_eq(s, "f//499k954d6OL34oL9FSTvy64sA");
		ck_assert_int_eq(stun_get_text(stun_find(&m, STUN_A_REALM), 763,
		    s, sizeof(s)), 0);
		ck_assert_str_eq(s, "example.org");
		break;
	}
	/* Every truncation fails, and so does a flipped MAC byte. */
	for (size_t cut = 0; cut < n; cut++)
		ck_assert_int_ne(stun_parse(b, cut, &m), 0);
	ck_assert_int_eq(stun_parse(b, n, &m), 0);
	if (m.mi >= 0) {
		b[m.attrs[m.mi].off + 4] ^= 1;
		ck_assert_int_eq(stun_parse(b, n, &m), 0);
		ck_assert_int_ne(stun_check_integrity(&m, pw, sizeof(pw) - 1), 0);
	}
}
END_TEST

START_TEST(test_build_roundtrip)
{
	static const uint8_t tid[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	uint8_t buf[512], key[16];
	struct stun_builder b;
	struct stun_msg m;
	union fz_sockaddr a4, a6, out;
	uint32_t v;
	int code;
	const char *reason;
	size_t n, rl;
	uint16_t ch;

	ck_assert_int_eq(addr_parse("198.51.100.7:4242", ADDR_PORT_REQUIRED,
	    &a4), 0);
	ck_assert_int_eq(addr_parse("[2001:db8::9]:5353", ADDR_PORT_REQUIRED,
	    &a6), 0);
	stun_long_term_key("1700000000:alice", "firezone", "secret", key);
	stun_build(&b, buf, sizeof(buf), TURN_ALLOCATE | STUN_ERROR, tid);
	stun_put_error(&b, 438, "Stale Nonce");
	stun_put_xaddr(&b, TURN_A_XOR_RELAYED_ADDRESS, &a4.sa);
	stun_put_xaddr(&b, TURN_A_XOR_PEER_ADDRESS, &a6.sa);
	stun_put_u32(&b, TURN_A_LIFETIME, 600);
	stun_put_u32(&b, TURN_A_CHANNEL_NUMBER, 0x40010000);
	stun_put_str(&b, STUN_A_SOFTWARE, "fz");	/* padded */
	stun_put_integrity(&b, key, 16);
	stun_put_integrity_sha256(&b, key, 16);
	stun_put_fingerprint(&b);
	ck_assert_int_eq(stun_finish(&b, &n), 0);
	ck_assert_uint_eq(n % 4, 0);
	ck_assert_int_eq(stun_parse(buf, n, &m), 0);
	ck_assert_int_eq(m.method, TURN_ALLOCATE);
	ck_assert_int_eq(m.cls, STUN_ERROR);
	ck_assert_int_eq(stun_check_integrity(&m, key, 16), 0);
	ck_assert_int_eq(stun_check_integrity_sha256(&m, key, 16), 0);
	ck_assert_int_eq(stun_check_fingerprint(&m), 0);
	ck_assert_int_eq(stun_get_error(stun_find(&m, STUN_A_ERROR_CODE), &code,
	    &reason, &rl), 0);
	ck_assert_int_eq(code, 438);
	ck_assert_int_eq(strncmp(reason, "Stale Nonce", rl), 0);
	ck_assert_int_eq(stun_get_xaddr(&m, stun_find(&m,
	    TURN_A_XOR_RELAYED_ADDRESS), &out), 0);
	ck_assert(addr_eq(&out.sa, &a4.sa));
	ck_assert_int_eq(stun_get_xaddr(&m, stun_find(&m,
	    TURN_A_XOR_PEER_ADDRESS), &out), 0);
	ck_assert(addr_eq(&out.sa, &a6.sa));
	ck_assert_int_eq(stun_get_u32(stun_find(&m, TURN_A_LIFETIME), &v), 0);
	ck_assert_uint_eq(v, 600);
	ck_assert_int_eq(stun_get_channel(stun_find(&m, TURN_A_CHANNEL_NUMBER),
	    &ch), 0);
	ck_assert_uint_eq(ch, 0x4001);
	/* One bit anywhere before the MAC breaks it. */
	buf[30] ^= 0x80;
	ck_assert_int_eq(stun_parse(buf, n, &m), 0);
	ck_assert_int_ne(stun_check_integrity(&m, key, 16), 0);
	ck_assert_int_ne(stun_check_fingerprint(&m), 0);
	/* Too small a buffer: the sticky error. */
	stun_build(&b, buf, 30, STUN_BINDING, tid);
	stun_put_str(&b, STUN_A_SOFTWARE, "a long software name here");
	ck_assert_int_ne(stun_finish(&b, &n), 0);
}
END_TEST

START_TEST(test_garbage)
{
	static const uint8_t tid[12];
	uint8_t buf[256];
	struct stun_builder b;
	struct stun_msg m;
	size_t n;

	stun_build(&b, buf, sizeof(buf), STUN_BINDING, tid);
	stun_put_str(&b, STUN_A_USERNAME, "abc");
	ck_assert_int_eq(stun_finish(&b, &n), 0);
	ck_assert_int_eq(stun_parse(buf, n, &m), 0);
	/* length not a multiple of 4 */
	buf[3] = (uint8_t)(n - 20 - 1);
	ck_assert_int_eq(stun_parse(buf, n, &m), -EBADMSG);
	/* length past the datagram */
	buf[3] = (uint8_t)(n - 20 + 4);
	ck_assert_int_eq(stun_parse(buf, n, &m), -EBADMSG);
	buf[3] = (uint8_t)(n - 20);
	/* attribute length past the message */
	buf[23] = 200;
	ck_assert_int_eq(stun_parse(buf, n, &m), -EBADMSG);
	buf[23] = 3;
	/* top bits set, bad cookie */
	buf[0] = 0x80;
	ck_assert_int_eq(stun_parse(buf, n, &m), -EBADMSG);
	buf[0] = 0;
	buf[4] = 0;
	ck_assert_int_eq(stun_parse(buf, n, &m), -EBADMSG);
	ck_assert(!stun_is_stun(buf, n));
	buf[4] = 0x21;
	ck_assert(stun_is_stun(buf, n));
	/* an attribute after FINGERPRINT */
	stun_build(&b, buf, sizeof(buf), STUN_BINDING, tid);
	stun_put_fingerprint(&b);
	stun_put_str(&b, STUN_A_USERNAME, "x");
	ck_assert_int_eq(stun_finish(&b, &n), 0);
	ck_assert_int_eq(stun_parse(buf, n, &m), -EBADMSG);
	/* unknown comprehension-required attributes are listed */
	stun_build(&b, buf, sizeof(buf), TURN_ALLOCATE, tid);
	stun_put_u32(&b, 0x7777, 1);
	stun_put_u32(&b, 0x8777, 1);		/* optional: ignored */
	stun_put_u32(&b, 0x0031, 0);
	ck_assert_int_eq(stun_finish(&b, &n), 0);
	ck_assert_int_eq(stun_parse(buf, n, &m), 0);
	ck_assert_uint_eq(m.nunknown, 2);
	ck_assert_uint_eq(m.unknown[0], 0x7777);
	/* attribute decoders refuse wrong sizes and families */
	{
		struct stun_attr a = { TURN_A_XOR_PEER_ADDRESS, 8, buf, 0 };
		union fz_sockaddr out;
		uint8_t fam;

		memset(buf, 0, 8);
		buf[1] = 3;
		ck_assert_int_eq(stun_get_xaddr(&m, &a, &out), -EBADMSG);
		buf[1] = 2;		/* IPv6 with 8 bytes */
		ck_assert_int_eq(stun_get_xaddr(&m, &a, &out), -EBADMSG);
		a.len = 3;
		ck_assert_int_eq(stun_get_family(&a, &fam), -EBADMSG);
		ck_assert_int_eq(stun_get_xaddr(&m, NULL, &out), -EBADMSG);
	}
}
END_TEST

START_TEST(test_channeldata)
{
	uint8_t b[16] = { 0x40, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o', 0, 0, 0 };
	const uint8_t *p;
	uint16_t ch;
	size_t n;

	ck_assert_int_eq(turn_channeldata_parse(b, 9, &ch, &p, &n), 0);
	ck_assert_uint_eq(ch, 0x4001);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(turn_channeldata_parse(b, 12, &ch, &p, &n), 0);
	ck_assert_int_eq(turn_channeldata_parse(b, 13, &ch, &p, &n), -EBADMSG);
	ck_assert_int_eq(turn_channeldata_parse(b, 8, &ch, &p, &n), -EBADMSG);
	ck_assert_int_eq(turn_channeldata_parse(b, 3, &ch, &p, &n), -EBADMSG);
	b[0] = 0x7f;		/* RFC 5766 range */
	ck_assert_int_eq(turn_channeldata_parse(b, 9, &ch, &p, &n), 0);
	b[0] = 0x80;
	ck_assert_int_eq(turn_channeldata_parse(b, 9, &ch, &p, &n), -EBADMSG);
	b[0] = 0x3f;
	ck_assert_int_eq(turn_channeldata_parse(b, 9, &ch, &p, &n), -EBADMSG);
	ck_assert_uint_eq(stun_crc32((const uint8_t *)"123456789", 9),
	    0xcbf43926u);
}
END_TEST

/* MESSAGE-INTEGRITY(-SHA256) equals OpenSSL's HMAC() over the same bytes,
 * for keys shorter than, as long as and longer than the hash block (the
 * last ones are hashed first, RFC 2104), and the empty one. */
START_TEST(test_integrity_hmac_ref)
{
	static const uint8_t tid[12] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2 };
	static const size_t lens[] = { 0, 1, 16, 63, 64, 65, 200 };
	uint8_t buf[512], key[200], ref[EVP_MAX_MD_SIZE];
	struct stun_builder b;
	struct stun_msg m;
	unsigned rn;
	size_t n, k, i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 3);
	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		for (i = 0; i < 2; i++) {
			size_t mac = i ? 32 : 20;

			stun_build(&b, buf, sizeof(buf), STUN_BINDING |
			    STUN_REQUEST, tid);
			stun_put_str(&b, STUN_A_USERNAME, "abc:defg");
			if (i)
				stun_put_integrity_sha256(&b, key, lens[k]);
			else
				stun_put_integrity(&b, key, lens[k]);
			ck_assert_int_eq(stun_finish(&b, &n), 0);
			ck_assert_ptr_nonnull(HMAC(i ? EVP_sha256() :
			    EVP_sha1(), key, (int)lens[k], buf, n - 4 - mac,
			    ref, &rn));
			ck_assert_uint_eq(rn, mac);
			ck_assert_mem_eq(buf + n - mac, ref, mac);
			ck_assert_int_eq(stun_parse(buf, n, &m), 0);
			ck_assert_int_eq(i ? stun_check_integrity_sha256(&m,
			    key, lens[k]) : stun_check_integrity(&m, key,
			    lens[k]), 0);
		}
	}
}
END_TEST

static Suite *
stun_suite(void)
{
	Suite *s = suite_create("stun");
	TCase *tc = tcase_create("stun");

	tcase_add_loop_test(tc, test_rfc5769, 0,
	    sizeof(vectors) / sizeof(vectors[0]));
	tcase_add_test(tc, test_build_roundtrip);
	tcase_add_test(tc, test_integrity_hmac_ref);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_channeldata);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stun_suite)
