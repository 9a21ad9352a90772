/* SPDX-License-Identifier: ISC */
/*
 * ipc: codec round trips for every message in ipc_msg.def, strict decoding
 * (truncation, trailing bytes, wrong types, unknown types, oversized and
 * hostile counts), and connection rules over a socketpair (HELLO first,
 * permissions, once-only, descriptor passing, frame limits, backpressure).
 */
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_util.h"
#include "ipc.h"
#include "log.h"

/* Storage for the strings fill() points a message at. */
static char pool[64][64];
static unsigned pool_next;
static struct ipc_resource fill_res[3] = {
	{ "id0", "dns", "*.corp0", "name 0", "hq", "online" },
	{ "id1", "cidr", "10.0.0.0/8", "name 1", "hq, branch", "offline" },
	{ "id2", "internet", "", "name 2", "", "unknown" },
};

static const char *
pool_str(const char *field, int seed, size_t max)
{
	char *p = pool[pool_next++ % 64], tmp[64];

	snprintf(tmp, sizeof(tmp), "%s-%d-é", field, seed);
	(void)ipc_text_trunc(p, max + 1 < 64 ? max + 1 : 64, tmp);
	return p;
}

/* Fills every field of a message with a distinctive value. */
static void
fill(struct ipc_msg *m, enum ipc_type t, int seed)
{
	ipc_msg_init(m, t);
	switch (t) {
#define IPC_U32(n)	p->n = 0x12345678u + (uint32_t)seed;
#define IPC_I32(n)	p->n = -1234567 - seed;
#define IPC_U64(n)	p->n = 0x123456789abcdefULL + (uint64_t)seed;
#define IPC_BOOL(n)	p->n = (seed & 1) != 0;
#define IPC_STR(n, max)	p->n = pool_str(#n, seed, (max));
#define IPC_BIN(n, max)	p->n = (const uint8_t *)"\0\n\x1b\xff\xc2\x85"; \
			p->n##_len = 6;
#define IPC_RESOURCES(f, max)						\
	p->f.n = 3;							\
	p->f.r = fill_res;
#define IPC_NONE
#define IPC_MSG(N, n, f, fields)					\
	case IPC_##N: {							\
		struct ipc_##n *p = &m->u.n;				\
		(void)p; (void)seed;					\
		_Pragma("GCC diagnostic push")				\
		_Pragma("GCC diagnostic ignored \"-Wformat-truncation\"") \
		fields							\
		_Pragma("GCC diagnostic pop")				\
		break;							\
	}
#include "ipc_msg.def"
#undef IPC_MSG
	default:
		break;
	}
}

static const struct ipc_handler *table_for(unsigned, unsigned);

/* The decoders' arenas; limits are set per decode. */
static struct ipc_arena ar, ar2;

static int
dec(const uint8_t *p, size_t len, struct ipc_msg *m)
{
	return ipc_msg_decode(p, len, m, &ar);
}

static size_t
enc(const struct ipc_msg *m, uint8_t *buf, size_t cap)
{
	struct wbuf w;

	wbuf_init(&w, buf, cap);
	ck_assert_int_eq(ipc_msg_encode(m, &w), 0);
	return w.len;
}

START_TEST(test_roundtrip_every_type)
{
	static uint8_t a[IPC_MAX_FRAME], b[IPC_MAX_FRAME];
	static struct ipc_msg m, d;
	unsigned t;

	for (t = 1; t < IPC_TYPE_COUNT; t++) {
		size_t la, lb;

		fill(&m, (enum ipc_type)t, (int)t);
		la = enc(&m, a, sizeof(a));
		ck_assert_int_eq(dec(a, la, &d), 0);
		ck_assert_int_eq(d.type, (int)t);
		lb = enc(&d, b, sizeof(b));
		ck_assert_uint_eq(la, lb);
		ck_assert_msg(memcmp(a, b, la) == 0, "%s differs",
		    ipc_type_name(t));
	}
}
END_TEST

START_TEST(test_truncation_and_trailing)
{
	static uint8_t a[IPC_MAX_FRAME + 1];
	static struct ipc_msg m, d;
	unsigned t;

	for (t = 1; t < IPC_TYPE_COUNT; t++) {
		size_t len, cut;

		fill(&m, (enum ipc_type)t, 7);
		len = enc(&m, a, sizeof(a) - 1);
		for (cut = 0; cut < len; cut++)
			ck_assert_int_ne(dec(a, cut, &d), 0);
		a[len] = 0xc0;	/* nil */
		ck_assert_int_eq(dec(a, len + 1, &d), -EBADMSG);
	}
}
END_TEST

static size_t
pack(uint8_t *buf, size_t cap, void (*fn)(msgpack_packer *))
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	fn(&pk);
	n = sb.size < cap ? sb.size : cap;
	memcpy(buf, sb.data, n);
	msgpack_sbuffer_destroy(&sb);
	return n;
}

static void
p_wrong_type(msgpack_packer *pk)		/* SET_LOG_FILTER with an int */
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint32(pk, IPC_SET_LOG_FILTER);
	msgpack_pack_array(pk, 1);
	msgpack_pack_int(pk, 5);
}
static void
p_wrong_arity(msgpack_packer *pk)		/* SET_LOG_FILTER with 2 fields */
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint32(pk, IPC_SET_LOG_FILTER);
	msgpack_pack_array(pk, 2);
	msgpack_pack_str(pk, 4);
	msgpack_pack_str_body(pk, "info", 4);
	msgpack_pack_str(pk, 4);
	msgpack_pack_str_body(pk, "info", 4);
}
static void
p_unknown(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint32(pk, 999);
	msgpack_pack_array(pk, 0);
}
static void
p_type_zero(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint32(pk, 0);
	msgpack_pack_array(pk, 0);
}
static void
p_not_array(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	msgpack_pack_uint32(pk, 1);
	msgpack_pack_uint32(pk, 1);
}
static void
p_long_string(msgpack_packer *pk)	/* filter over its 512-byte limit */
{
	char s[600];

	memset(s, 'a', sizeof(s));
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint32(pk, IPC_SET_LOG_FILTER);
	msgpack_pack_array(pk, 1);
	msgpack_pack_str(pk, sizeof(s));
	msgpack_pack_str_body(pk, s, sizeof(s));
}
static void
p_nul_string(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint32(pk, IPC_SET_LOG_FILTER);
	msgpack_pack_array(pk, 1);
	msgpack_pack_str(pk, 3);
	msgpack_pack_str_body(pk, "a\0b", 3);
}
static void
p_bad_utf8(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint32(pk, IPC_SET_LOG_FILTER);
	msgpack_pack_array(pk, 1);
	msgpack_pack_str(pk, 3);
	msgpack_pack_str_body(pk, "\xc0\xaf!", 3);	/* overlong '/' */
}
static void
p_u32_overflow(msgpack_packer *pk)	/* HELLO version > UINT32_MAX */
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint32(pk, IPC_HELLO);
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint64(pk, 1ULL << 40);
	msgpack_pack_str(pk, 1);
	msgpack_pack_str_body(pk, "x", 1);
	msgpack_pack_uint32(pk, 1);
}
static void
p_too_many_resources(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint32(pk, IPC_RESOURCES);
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 10001);
	for (int i = 0; i <= 10000; i++) {
		msgpack_pack_array(pk, 6);
		for (int k = 0; k < 6; k++) {
			msgpack_pack_str(pk, 1);
			msgpack_pack_str_body(pk, "x", 1);
		}
	}
}

START_TEST(test_strict_decoding)
{
	static uint8_t b[8192];
	static struct ipc_msg d;
	static const uint8_t huge_array[] = {	/* [4294967295 elements... */
		0x92, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01
	};
	static const uint8_t huge_str[] = {	/* str32 of 4 GB */
		0x92, IPC_SET_LOG_FILTER, 0x91, 0xdb, 0xff, 0xff, 0xff, 0xff,
		'a'
	};
	size_t n;

	n = pack(b, sizeof(b), p_wrong_type);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	n = pack(b, sizeof(b), p_wrong_arity);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	n = pack(b, sizeof(b), p_unknown);
	ck_assert_int_eq(dec(b, n, &d), -ENOMSG);
	n = pack(b, sizeof(b), p_type_zero);
	ck_assert_int_eq(dec(b, n, &d), -ENOMSG);
	n = pack(b, sizeof(b), p_not_array);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	n = pack(b, sizeof(b), p_long_string);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	n = pack(b, sizeof(b), p_nul_string);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	n = pack(b, sizeof(b), p_bad_utf8);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	n = pack(b, sizeof(b), p_u32_overflow);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	ck_assert_int_eq(dec(huge_array, sizeof(huge_array), &d),
	    -EBADMSG);
	ck_assert_int_eq(dec(huge_str, sizeof(huge_str), &d),
	    -EBADMSG);
	ck_assert_int_ne(dec(NULL, 0, &d), 0);
	{
		uint8_t *big = malloc(IPC_MAX_FRAME);

		msgpack_sbuffer sb;
		msgpack_packer pk;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		p_too_many_resources(&pk);
		ck_assert_int_eq(dec((uint8_t *)sb.data, sb.size, &d),
		    -EBADMSG);
		msgpack_sbuffer_destroy(&sb);
		free(big);
	}
}
END_TEST

/* A STATUS with detail s (the field a forged sd_notify line came from). */
static size_t
status_with(uint8_t *buf, size_t cap, const char *s, size_t n)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t len;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, IPC_STATUS);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str(&pk, 9);
	msgpack_pack_str_body(&pk, "connected", 9);
	msgpack_pack_str(&pk, n);
	msgpack_pack_str_body(&pk, s, n);
	len = sb.size < cap ? sb.size : cap;
	memcpy(buf, sb.data, len);
	msgpack_sbuffer_destroy(&sb);
	return len;
}

/* A RESOURCES list whose one resource has name s. */
static size_t
resource_named(uint8_t *buf, size_t cap, const char *s, size_t n)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t len;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, IPC_RESOURCES);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 6);
	for (int k = 0; k < 6; k++) {
		msgpack_pack_str(&pk, k == 3 ? n : 1);
		msgpack_pack_str_body(&pk, k == 3 ? s : "x", k == 3 ? n : 1);
	}
	len = sb.size < cap ? sb.size : cap;
	memcpy(buf, sb.data, len);
	msgpack_sbuffer_destroy(&sb);
	return len;
}

START_TEST(test_control_chars_rejected)
{
	static const struct { const char *s; size_t n; } bad[] = {
		{ "a\nMAINPID=1", 11 },	/* C0: newline, sd_notify injection */
		{ "\n<3>forged", 10 },	/* C0: journald priority forgery */
		{ "a\x00b", 3 },		/* C0: NUL */
		{ "a\x01b", 3 },		/* C0: first */
		{ "a\tb", 3 },		/* C0: tab */
		{ "a\rb", 3 },		/* C0: carriage return */
		{ "\x1b[2J", 4 },		/* C0: ESC, a terminal sequence */
		{ "a\x1f", 2 },		/* C0: last */
		{ "a\x7f", 2 },		/* DEL */
		{ "a\xc2\x80", 3 },	/* C1: U+0080 */
		{ "\xc2\x85x", 3 },	/* C1: NEL, a line break to some */
		{ "\xc2\x9b" "2J", 4 },	/* C1: CSI */
		{ "a\xc2\x9f", 3 },	/* C1: U+009F */
		{ "\xc2", 1 },		/* not UTF-8: truncated */
		{ "\xc0\x8a", 2 },	/* not UTF-8: overlong newline */
	};
	static const char *good[] = {
		"plain ASCII ~!", "\xc2\xa0nbsp", "é € 𝄞", "",
	};
	static uint8_t b[8192];
	static struct ipc_msg d, m;
	struct wbuf w;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(!ipc_text_valid(bad[i].s, bad[i].n), "%zu", i);
		n = status_with(b, sizeof(b), bad[i].s, bad[i].n);
		ck_assert_msg(dec(b, n, &d) == -EBADMSG,
		    "STATUS bad[%zu] decoded", i);
		n = resource_named(b, sizeof(b), bad[i].s, bad[i].n);
		ck_assert_msg(dec(b, n, &d) == -EBADMSG,
		    "RESOURCES bad[%zu] decoded", i);
		/* and the encoder refuses to send what would not decode */
		if (memchr(bad[i].s, 0, bad[i].n) != NULL)
			continue;
		ipc_msg_init(&m, IPC_STATUS);
		m.u.status.detail = bad[i].s;	/* NUL-terminated: no NUL */
		wbuf_init(&w, b, sizeof(b));
		ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = status_with(b, sizeof(b), good[i], strlen(good[i]));
		ck_assert_int_eq(dec(b, n, &d), 0);
		ck_assert_str_eq(d.u.status.detail, good[i]);
		n = resource_named(b, sizeof(b), good[i], strlen(good[i]));
		ck_assert_int_eq(dec(b, n, &d), 0);
		ck_assert_str_eq(d.u.resources.list.r[0].name, good[i]);
	}
}
END_TEST

START_TEST(test_encode_refuses_bad_strings)
{
	static uint8_t b[4096];
	static struct ipc_msg m;
	struct wbuf w;

	static char long_filter[514];
	static struct ipc_resource res = { "id", "dns", "a", "n", "hq",
	    "online" };

	ipc_msg_init(&m, IPC_SET_LOG_FILTER);
	m.u.set_log_filter.filter = "\xff\xfe";
	wbuf_init(&w, b, sizeof(b));
	ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	/* One byte over the catalogue's 512. */
	memset(long_filter, 'a', 513);
	m.u.set_log_filter.filter = long_filter;
	wbuf_init(&w, b, sizeof(b));
	ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	long_filter[512] = '\0';	/* exactly 512: fine */
	wbuf_init(&w, b, sizeof(b));
	ck_assert_int_eq(ipc_msg_encode(&m, &w), 0);
	/* NULL is the empty string. */
	m.u.set_log_filter.filter = NULL;
	wbuf_init(&w, b, sizeof(b));
	ck_assert_int_eq(ipc_msg_encode(&m, &w), 0);
	/* A list over its limit, and a count without entries. */
	ipc_msg_init(&m, IPC_RESOURCES);
	m.u.resources.list.n = 10001;
	m.u.resources.list.r = &res;
	wbuf_init(&w, b, sizeof(b));
	ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	m.u.resources.list.n = 1;
	m.u.resources.list.r = NULL;
	wbuf_init(&w, b, sizeof(b));
	ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	res.name = "a\nb";
	m.u.resources.list.r = &res;
	wbuf_init(&w, b, sizeof(b));
	ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	ipc_msg_init(&m, (enum ipc_type)IPC_TYPE_COUNT);
	wbuf_init(&w, b, sizeof(b));
	ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	/* Too small a buffer: the sticky error. */
	ipc_msg_init(&m, IPC_SET_LOG_FILTER);
	m.u.set_log_filter.filter = "info";
	wbuf_init(&w, b, 3);
	ck_assert_int_eq(ipc_msg_encode(&m, &w), -ENOBUFS);
	ipc_msg_init(&m, IPC_HELLO);
	m.u.hello.program =
	    "this program name is much longer than sixty-four bytes, so it fails";
	wbuf_init(&w, b, sizeof(b));
	ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
}
END_TEST

/*
 * Frames as the fixed-size codec before the arena wrote them: the wire
 * format did not change.
 */
START_TEST(test_wire_vectors)
{
	static const uint8_t status[] = {	/* [7, ["connected", "ok"]] */
		0x92, 0x07, 0x92, 0xa9, 'c', 'o', 'n', 'n', 'e', 'c', 't',
		'e', 'd', 0xa2, 'o', 'k',
	};
	static const uint8_t hello[] = {	/* [1, [1, "fzctl", 1234]] */
		0x92, 0x01, 0x93, 0x01, 0xa5, 'f', 'z', 'c', 't', 'l', 0xcd,
		0x04, 0xd2,
	};
	/* [9, [[["i","dns","a","n","h","s"]]]]: sites came before status */
	static const uint8_t res[] = {
		0x92, 0x09, 0x91, 0x91, 0x96, 0xa1, 'i', 0xa3, 'd', 'n', 's',
		0xa1, 'a', 0xa1, 'n', 0xa1, 'h', 0xa1, 's',
	};
	/*
	 * TUNNEL_STATUS, NULLs as ""; ipv4 and ipv6 came after version,
	 * relays and relay_ids last (17 fields: array 16)
	 */
	static const uint8_t tstat[] = {
		0x92, 0x0b, 0xdc, 0x00, 0x13, 0xa2, 'u', 'p', 0xa0, 0xa0, 0xc3,
		0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xff, 0x03, 0xcf, 0x00, 0x00,
		0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xa0, 0xa0, 0xa0, 0x02,
		0xa0, 0xa0, 0xc2,
	};
	static uint8_t b[256];
	static struct ipc_msg m, d;
	static const struct ipc_resource r = { "i", "dns", "a", "n", "h",
	    "s" };
	size_t n;

	ipc_msg_init(&m, IPC_STATUS);
	m.u.status.state = "connected";
	m.u.status.detail = "ok";
	n = enc(&m, b, sizeof(b));
	ck_assert_uint_eq(n, sizeof(status));
	ck_assert(memcmp(b, status, n) == 0);
	ck_assert_int_eq(dec(status, sizeof(status), &d), 0);
	ck_assert_str_eq(d.u.status.state, "connected");
	ck_assert_str_eq(d.u.status.detail, "ok");

	ipc_msg_init(&m, IPC_HELLO);
	m.u.hello.version = 1;
	m.u.hello.program = "fzctl";
	m.u.hello.pid = 1234;
	n = enc(&m, b, sizeof(b));
	ck_assert_uint_eq(n, sizeof(hello));
	ck_assert(memcmp(b, hello, n) == 0);

	ipc_msg_init(&m, IPC_RESOURCES);
	m.u.resources.list.n = 1;
	m.u.resources.list.r = &r;
	n = enc(&m, b, sizeof(b));
	ck_assert_uint_eq(n, sizeof(res));
	ck_assert(memcmp(b, res, n) == 0);
	ck_assert_int_eq(dec(res, sizeof(res), &d), 0);
	ck_assert_uint_eq(d.u.resources.list.n, 1);
	ck_assert_str_eq(d.u.resources.list.r[0].type, "dns");

	ipc_msg_init(&m, IPC_TUNNEL_STATUS);
	m.u.tunnel_status.state = "up";
	m.u.tunnel_status.signed_in = true;
	m.u.tunnel_status.controld_pid = -1;
	m.u.tunnel_status.controld_restarts = 3;
	m.u.tunnel_status.uptime_s = 1ULL << 32;
	m.u.tunnel_status.relays = 2;
	n = enc(&m, b, sizeof(b));
	ck_assert_uint_eq(n, sizeof(tstat));
	ck_assert(memcmp(b, tstat, n) == 0);
	ck_assert_int_eq(dec(tstat, sizeof(tstat), &d), 0);
	ck_assert_uint_eq(d.u.tunnel_status.relays, 2);
	ck_assert_str_eq(d.u.tunnel_status.relay_ids, "");
}
END_TEST

/*
 * RELAYS: fz-controld to fz-tunneld only, signed in only; the count and
 * the ids round-trip; ids longer than 4096 bytes are malformed both ways.
 */
START_TEST(test_relays)
{
	static uint8_t b[8192];
	static char ids[4098];
	static struct ipc_msg m, d;
	size_t n;

	ipc_msg_init(&m, IPC_RELAYS);
	m.u.relays.count = 2;
	m.u.relays.ids = "0b3c1e4e-5d2c-5a1f-9c1e-2f0a6e0d4b11, "
	    "7f0e1a2b-3c4d-5e6f-8a9b-0c1d2e3f4a5b";
	n = enc(&m, b, sizeof(b));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_int_eq(d.type, IPC_RELAYS);
	ck_assert_uint_eq(d.u.relays.count, 2);
	ck_assert_str_eq(d.u.relays.ids, m.u.relays.ids);

	memset(ids, 'a', 4096);
	ids[4096] = '\0';
	m.u.relays.ids = ids;
	n = enc(&m, b, sizeof(b));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_uint_eq(strlen(d.u.relays.ids), 4096);
	ids[4096] = 'a';
	ids[4097] = '\0';
	{
		struct wbuf w;

		wbuf_init(&w, b, sizeof(b));
		ck_assert_int_ne(ipc_msg_encode(&m, &w), 0);
	}

	ck_assert(ipc_permitted(IPC_CH_CONTROL, IPC_RELAYS, IPC_C));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_RELAYS, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_FRONT, IPC_RELAYS, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_DGRAM, IPC_RELAYS, IPC_C));
	ck_assert_uint_eq(ipc_phases(IPC_CH_CONTROL, IPC_RELAYS),
	    IPC_SIGNED_IN);
}
END_TEST

/* A portal with 10 000 resources and 253-byte DNS names round-trips. */
START_TEST(test_many_resources)
{
	const struct ipc_msg_info *mi = ipc_msg_info(IPC_RESOURCES);
	struct ipc_resource *r = calloc(10000, sizeof(*r));
	char (*names)[254] = malloc(10000 * sizeof(*names));
	char (*ids)[16] = malloc(10000 * sizeof(*ids));
	uint8_t *a = malloc(mi->wire_max), *b = malloc(mi->wire_max);
	static struct ipc_msg m, d, d2;
	struct wbuf w;
	size_t la, lb;
	uint32_t i;

	ck_assert(r != NULL && names != NULL && ids != NULL && a != NULL &&
	    b != NULL);
	ck_assert_uint_le(mi->wire_max, IPC_MAX_FRAME);
	for (i = 0; i < 10000; i++) {
		snprintf(ids[i], sizeof(ids[i]), "r%u", i);
		memset(names[i], 'a' + i % 26, 253);
		names[i][253] = '\0';
		memcpy(names[i], ids[i], strlen(ids[i]));
		r[i] = (struct ipc_resource){ ids[i], "dns", names[i],
		    names[i], names[i] + 3, "online" };
	}
	ipc_msg_init(&m, IPC_RESOURCES);
	m.u.resources.list.n = 10000;
	m.u.resources.list.r = r;
	la = enc(&m, a, mi->wire_max);
	ck_assert_int_eq(ipc_msg_decode(a, la, &d, &ar), 0);
	ck_assert_uint_eq(d.u.resources.list.n, 10000);
	ck_assert_uint_le(ar.total, mi->arena_max);
	for (i = 0; i < 10000; i += 997) {
		ck_assert_str_eq(d.u.resources.list.r[i].id, ids[i]);
		ck_assert_str_eq(d.u.resources.list.r[i].name, names[i]);
		ck_assert_str_eq(d.u.resources.list.r[i].address, names[i]);
	}
	lb = enc(&d, b, mi->wire_max);
	ck_assert_uint_eq(la, lb);
	ck_assert(memcmp(a, b, la) == 0);
	/* a clone is independent of the arena it came from */
	ck_assert_int_eq(ipc_msg_clone(&d, &d2, &ar2), 0);
	ipc_arena_free(&ar);
	lb = enc(&d2, b, mi->wire_max);
	ck_assert(memcmp(a, b, la) == 0);
	/* one more than the catalogue allows */
	m.u.resources.list.n = 10001;
	wbuf_init(&w, b, mi->wire_max);
	ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	ipc_arena_free(&ar2);
	free(r);
	free(names);
	free(ids);
	free(a);
	free(b);
}
END_TEST

/* IPC_BIN: bin formats only, up to max, any byte. */
static size_t
dgram_down_with(uint8_t *buf, size_t cap, bool as_str, size_t n)
{
	static char payload[70000];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t len;

	memset(payload, 0, sizeof(payload));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, IPC_DGRAM_DOWN);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_str(&pk, 9);
	msgpack_pack_str_body(&pk, "[::1]:123", 9);
	if (as_str) {
		msgpack_pack_str(&pk, n);
		msgpack_pack_str_body(&pk, "abcdef", n);
	} else {
		msgpack_pack_bin(&pk, n);
		msgpack_pack_bin_body(&pk, payload, n);
	}
	len = sb.size < cap ? sb.size : cap;
	memcpy(buf, sb.data, len);
	msgpack_sbuffer_destroy(&sb);
	return len;
}

START_TEST(test_bin_rules)
{
	static uint8_t b[80000];
	static struct ipc_msg m, d;
	struct wbuf w;
	size_t n;
	int i;

	n = dgram_down_with(b, sizeof(b), false, 0);
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_uint_eq(d.u.dgram_down.payload_len, 0);
	n = dgram_down_with(b, sizeof(b), false, 65535);	/* bin16, max */
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_uint_eq(d.u.dgram_down.payload_len, 65535);
	n = dgram_down_with(b, sizeof(b), false, 65536);	/* bin32, over */
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	n = dgram_down_with(b, sizeof(b), true, 3);	/* str is not bin */
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	n = dgram_down_with(b, sizeof(b), false, 100);
	for (size_t cut = 0; cut < n; cut++)
		ck_assert_int_ne(dec(b, cut, &d), 0);
	/* nor bin where text goes */
	n = status_with(b, sizeof(b), "ok", 2);
	for (i = 0; i < (int)n; i++)
		if (b[i] == 0xa2)	/* fixstr "ok" -> bin8 */
			break;
	{
		uint8_t x[64];

		memcpy(x, b, i);
		x[i] = 0xc4;
		x[i + 1] = 2;
		memcpy(x + i + 2, "ok", 2);
		ck_assert_int_eq(dec(x, i + 4, &d), -EBADMSG);
	}
	/* the encoder: over max, or a length without bytes */
	ipc_msg_init(&m, IPC_DGRAM_UP);
	m.u.dgram_up.payload = b;
	m.u.dgram_up.payload_len = 65536;
	wbuf_init(&w, b + 70000, 10000);
	ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	m.u.dgram_up.payload = NULL;
	m.u.dgram_up.payload_len = 1;
	ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
}
END_TEST

START_TEST(test_arena)
{
	struct ipc_arena a;
	char *p, *q, *big;
	size_t i;

	ipc_arena_init(&a, 100);
	ck_assert_ptr_nonnull(p = ipc_arena_alloc(&a, 10, 1));
	ck_assert_ptr_nonnull(q = ipc_arena_alloc(&a, 8, 0));
	ck_assert_uint_eq((uintptr_t)q % alignof(max_align_t), 0);
	ck_assert_uint_le(a.total, 100);
	ck_assert_ptr_null(ipc_arena_alloc(&a, 100, 1));	/* the limit */
	memset(p, 'x', 10);
	/* reset keeps the first chunk; wiping zeroes what was used */
	a.wipe = true;
	ipc_arena_reset(&a);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(p[i], 0);
	ck_assert_uint_eq(a.total, 0);
	ck_assert_ptr_eq(ipc_arena_alloc(&a, 10, 1), p);
	/* chunks beyond the first, and one larger than a chunk */
	a.limit = 8 * 1024 * 1024;
	for (i = 0; i < 1000; i++)
		ck_assert_ptr_nonnull(ipc_arena_alloc(&a, 100, 0));
	ck_assert_ptr_nonnull(big = ipc_arena_alloc(&a, 3 * 1024 * 1024, 1));
	memset(big, 1, 3 * 1024 * 1024);
	ipc_arena_reset(&a);
	ipc_arena_free(&a);
	ipc_arena_free(&a);	/* twice is fine */
}
END_TEST

/* An INTERFACE frame: [type, [ipv4, ipv6, search_domain, do53]]. */
static size_t
interface_with(uint8_t *buf, size_t cap, const char *const f[4],
    const size_t len[4], int nfields)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, IPC_INTERFACE);
	msgpack_pack_array(&pk, (size_t)nfields);
	for (int k = 0; k < nfields; k++) {
		if (f[k % 4] == NULL) {
			msgpack_pack_uint32(&pk, 7);
			continue;
		}
		msgpack_pack_str(&pk, len[k % 4]);
		msgpack_pack_str_body(&pk, f[k % 4], len[k % 4]);
	}
	n = sb.size < cap ? sb.size : cap;
	memcpy(buf, sb.data, n);
	msgpack_sbuffer_destroy(&sb);
	return n;
}

/*
 * INTERFACE (the portal's tunnel addresses, search domain and Do53
 * servers) and the sites of a resource: exact fields, limits, text
 * rules; only fz-controld sends INTERFACE, and only signed in.
 */
START_TEST(test_interface_and_sites)
{
	static uint8_t b[4096];
	static struct ipc_msg m, d;
	static char longname[300];
	const char *f[4] = { "100.64.0.3", "fd00:2021:1111::3", "corp.test",
	    "10.0.0.53, 10.0.0.54" };
	size_t len[4], n, cut;

	for (int k = 0; k < 4; k++)
		len[k] = strlen(f[k]);
	n = interface_with(b, sizeof(b), f, len, 4);
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_int_eq(d.type, IPC_INTERFACE);
	ck_assert_str_eq(d.u.interface.ipv4, "100.64.0.3");
	ck_assert_str_eq(d.u.interface.ipv6, "fd00:2021:1111::3");
	ck_assert_str_eq(d.u.interface.search_domain, "corp.test");
	ck_assert_str_eq(d.u.interface.upstream_do53, "10.0.0.53, 10.0.0.54");
	for (cut = 0; cut < n; cut++)		/* every truncation */
		ck_assert_int_ne(dec(b, cut, &d), 0);
	/* arity 3 and 5, a number for a string, a newline, over 64 bytes */
	n = interface_with(b, sizeof(b), f, len, 3);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	n = interface_with(b, sizeof(b), f, len, 5);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	f[1] = NULL;
	n = interface_with(b, sizeof(b), f, len, 4);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	f[1] = "fd00::1";
	len[1] = 7;
	f[2] = "corp.test\nMAINPID=1";
	len[2] = strlen(f[2]);
	n = interface_with(b, sizeof(b), f, len, 4);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	memset(longname, '1', 65);
	f[2] = "";
	len[2] = 0;
	f[0] = longname;
	len[0] = 65;
	n = interface_with(b, sizeof(b), f, len, 4);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);

	/* the catalogue: from fz-controld only, signed in only */
	ck_assert(ipc_permitted(IPC_CH_CONTROL, IPC_INTERFACE, IPC_C));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_INTERFACE, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_FRONT, IPC_INTERFACE, IPC_T));
	ck_assert_uint_eq(ipc_phases(IPC_CH_CONTROL, IPC_INTERFACE),
	    IPC_SIGNED_IN);

	/* sites: text up to 256 bytes, round trip; 257 refused both ways */
	{
		struct ipc_resource r = { "i", "cidr", "10.0.0.0/8", "lan",
		    longname, "online" };

		memset(longname, 's', 256);
		longname[256] = '\0';
		ipc_msg_init(&m, IPC_RESOURCES);
		m.u.resources.list.n = 1;
		m.u.resources.list.r = &r;
		n = enc(&m, b, sizeof(b));
		ck_assert_int_eq(dec(b, n, &d), 0);
		ck_assert_str_eq(d.u.resources.list.r[0].sites, longname);
		ck_assert_str_eq(d.u.resources.list.r[0].status, "online");
		/* make the encoded sites one byte longer by hand */
		longname[256] = 's';
		longname[257] = '\0';
		{
			struct wbuf w;

			wbuf_init(&w, b, sizeof(b));
			ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
		}
	}
}
END_TEST

/*
 * A PEER_SET frame: [type, [peer_id, public_key, psk, allowed_ips, sock,
 * remote, relay, channel, initiate]] with nfields of them; bad_k >= 0
 * puts a value of the wrong type at that position.
 */
static size_t
peer_set_with(uint8_t *buf, size_t cap, int nfields, int bad_k)
{
	static const char *const str[9] = { "gw-1",
	    "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=", "", "100.64.0.2/32",
	    NULL, "192.0.2.1:51820", "", NULL, NULL };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, IPC_PEER_SET);
	msgpack_pack_array(&pk, (size_t)nfields);
	for (int k = 0; k < nfields; k++) {
		int kk = k % 9;

		if (k == bad_k) {		/* a type the field is not */
			if (str[kk] != NULL)
				msgpack_pack_uint32(&pk, 7);
			else
				msgpack_pack_str_with_body(&pk, "7", 1);
		} else if (kk == 4 || kk == 7) {
			msgpack_pack_uint32(&pk, 0);
		} else if (kk == 8) {
			msgpack_pack_true(&pk);
		} else {
			msgpack_pack_str_with_body(&pk, str[kk],
			    strlen(str[kk]));
		}
	}
	n = sb.size < cap ? sb.size : cap;
	memcpy(buf, sb.data, n);
	msgpack_sbuffer_destroy(&sb);
	return n;
}

/*
 * Connections (issue 13): PEER_SET, PEER_DEL from fz-controld, signed
 * in; LOCAL_SOCKETS (also configured) and CONN_WANTED from fz-tunneld.
 * Exact fields, limits, wrong types and arity; PEER_SET is secret.
 */
START_TEST(test_peer_messages)
{
	static uint8_t b[8192];
	static struct ipc_msg m, d;
	static char big[4098];
	size_t n, cut;

	ipc_msg_init(&m, IPC_PEER_SET);
	m.u.peer_set.peer_id = "3b4c1e4e-gw";
	m.u.peer_set.public_key = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
	m.u.peer_set.psk = "kgNlY5Gjs6fQ4H5m/OtRBO4cWkmbmY1mCdQJCFvtZo8=";
	m.u.peer_set.allowed_ips = "100.64.0.2/32, fd00:2021:1111::2/128, "
	    "10.50.0.0/24";
	m.u.peer_set.sock = 1;
	m.u.peer_set.remote = "";
	m.u.peer_set.relay = "[2001:db8::1]:3478";
	m.u.peer_set.channel = 0x4001;
	m.u.peer_set.initiate = true;
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_int_eq(d.type, IPC_PEER_SET);
	ck_assert_str_eq(d.u.peer_set.peer_id, "3b4c1e4e-gw");
	ck_assert_str_eq(d.u.peer_set.psk, m.u.peer_set.psk);
	ck_assert_str_eq(d.u.peer_set.allowed_ips, m.u.peer_set.allowed_ips);
	ck_assert_uint_eq(d.u.peer_set.sock, 1);
	ck_assert_str_eq(d.u.peer_set.remote, "");
	ck_assert_str_eq(d.u.peer_set.relay, "[2001:db8::1]:3478");
	ck_assert_uint_eq(d.u.peer_set.channel, 0x4001);
	ck_assert(d.u.peer_set.initiate);
	for (cut = 0; cut < n; cut++)
		ck_assert_int_ne(dec(b, cut, &d), 0);
	/* allowed_ips: 4096 bytes fine, 4097 refused both ways */
	memset(big, '1', 4096);
	big[4096] = '\0';
	m.u.peer_set.allowed_ips = big;
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_uint_eq(strlen(d.u.peer_set.allowed_ips), 4096);
	big[4096] = '1';
	{
		struct wbuf w;

		wbuf_init(&w, b, sizeof(b));
		ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	}
	/* a public key over 64 bytes, a control character in the PSK */
	m.u.peer_set.allowed_ips = "";
	m.u.peer_set.public_key = big + 4096 - 65;
	big[4097] = '\0';
	{
		struct wbuf w;

		wbuf_init(&w, b, sizeof(b));
		ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
		m.u.peer_set.public_key = "k";
		m.u.peer_set.psk = "a\nb";
		wbuf_init(&w, b, sizeof(b));
		ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	}

	/* raw frames: exact arity, every field's type */
	n = peer_set_with(b, sizeof(b), 9, -1);
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_str_eq(d.u.peer_set.remote, "192.0.2.1:51820");
	ck_assert(d.u.peer_set.initiate);
	n = peer_set_with(b, sizeof(b), 8, -1);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	n = peer_set_with(b, sizeof(b), 10, -1);
	ck_assert_int_eq(dec(b, n, &d), -EBADMSG);
	for (int k = 0; k < 9; k++) {
		n = peer_set_with(b, sizeof(b), 9, k);
		ck_assert_msg(dec(b, n, &d) == -EBADMSG, "field %d", k);
	}

	/* the small ones round-trip */
	ipc_msg_init(&m, IPC_PEER_DEL);
	m.u.peer_del.public_key = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_str_eq(d.u.peer_del.public_key, m.u.peer_del.public_key);
	ipc_msg_init(&m, IPC_CONN_WANTED);
	m.u.conn_wanted.dst = "fd00:2021:1111::2";
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_str_eq(d.u.conn_wanted.dst, "fd00:2021:1111::2");
	ipc_msg_init(&m, IPC_LOCAL_SOCKETS);
	m.u.local_sockets.sockets = "0=10.0.0.2:52625, 1=[fd00::2]:52625";
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_str_eq(d.u.local_sockets.sockets, m.u.local_sockets.sockets);

	/* the catalogue */
	ck_assert(ipc_msg_info(IPC_PEER_SET)->flags & IPC_SECRET);
	ck_assert(!(ipc_msg_info(IPC_PEER_DEL)->flags & IPC_SECRET));
	ck_assert(ipc_permitted(IPC_CH_CONTROL, IPC_PEER_SET, IPC_C));
	ck_assert(ipc_permitted(IPC_CH_CONTROL, IPC_PEER_DEL, IPC_C));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_PEER_SET, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_PEER_DEL, IPC_T));
	ck_assert(ipc_permitted(IPC_CH_CONTROL, IPC_LOCAL_SOCKETS, IPC_T));
	ck_assert(ipc_permitted(IPC_CH_CONTROL, IPC_CONN_WANTED, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_LOCAL_SOCKETS, IPC_C));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_CONN_WANTED, IPC_C));
	for (unsigned t = IPC_LOCAL_SOCKETS; t <= IPC_CONN_WANTED; t++) {
		ck_assert(!ipc_permitted(IPC_CH_DGRAM, t, IPC_C));
		ck_assert(!ipc_permitted(IPC_CH_DGRAM, t, IPC_T));
		ck_assert(!ipc_permitted(IPC_CH_FRONT, t, IPC_T));
		ck_assert(!ipc_permitted(IPC_CH_FRONT, t, IPC_F));
	}
	ck_assert_uint_eq(ipc_phases(IPC_CH_CONTROL, IPC_PEER_SET),
	    IPC_SIGNED_IN);
	ck_assert_uint_eq(ipc_phases(IPC_CH_CONTROL, IPC_PEER_DEL),
	    IPC_SIGNED_IN);
	ck_assert_uint_eq(ipc_phases(IPC_CH_CONTROL, IPC_CONN_WANTED),
	    IPC_SIGNED_IN);
	ck_assert_uint_eq(ipc_phases(IPC_CH_CONTROL, IPC_LOCAL_SOCKETS),
	    IPC_CONFIGURED | IPC_SIGNED_IN);
	/* PEER_STATS: fz-tunneld's counters, signed in only */
	ck_assert(ipc_permitted(IPC_CH_CONTROL, IPC_PEER_STATS, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_PEER_STATS, IPC_C));
	ck_assert(!ipc_permitted(IPC_CH_DGRAM, IPC_PEER_STATS, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_FRONT, IPC_PEER_STATS, IPC_T));
	ck_assert_uint_eq(ipc_phases(IPC_CH_CONTROL, IPC_PEER_STATS),
	    IPC_SIGNED_IN);
	ipc_msg_init(&m, IPC_PEER_STATS);
	m.u.peer_stats.list =
	    "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw= 1 2";
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_str_eq(d.u.peer_stats.list, m.u.peer_stats.list);
}
END_TEST

/*
 * CONNECTIONS: fz-controld to fz-tunneld only, signed in; 16384 bytes of
 * text at most; every truncation and garbage refused.  TUNNEL_STATUS
 * carries the merged list to front ends.
 */
START_TEST(test_connections_message)
{
	static uint8_t b[20000];
	static struct ipc_msg m, d;
	static char big[16386];
	static const uint8_t garbage[] = { 0x91, 0xc4, 0x01, 'x' };
	size_t n, cut;

	ipc_msg_init(&m, IPC_CONNECTIONS);
	m.u.connections.list = "gw-1 HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw= "
	    "direct 10.99.2.2:51820 0 1234 1700000000; gw-2 "
	    "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw= relayed "
	    "[2001:db8::1]:3478 16385 0 1700000001";
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_int_eq(d.type, IPC_CONNECTIONS);
	ck_assert_str_eq(d.u.connections.list, m.u.connections.list);
	for (cut = 0; cut < n; cut++)
		ck_assert_int_ne(dec(b, cut, &d), 0);
	/* a bin where text belongs */
	ck_assert_int_eq(dec(garbage, sizeof(garbage), &d), -EBADMSG);
	/* 16384 bytes fine, 16385 refused */
	memset(big, 'a', 16384);
	big[16384] = '\0';
	m.u.connections.list = big;
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	big[16384] = 'a';
	big[16385] = '\0';
	{
		struct wbuf w;

		wbuf_init(&w, b, sizeof(b));
		ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	}
	m.u.connections.list = "a\nb";
	{
		struct wbuf w;

		wbuf_init(&w, b, sizeof(b));
		ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	}
	ck_assert(ipc_permitted(IPC_CH_CONTROL, IPC_CONNECTIONS, IPC_C));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_CONNECTIONS, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_DGRAM, IPC_CONNECTIONS, IPC_C));
	ck_assert(!ipc_permitted(IPC_CH_FRONT, IPC_CONNECTIONS, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_FRONT, IPC_CONNECTIONS, IPC_F));
	ck_assert_uint_eq(ipc_phases(IPC_CH_CONTROL, IPC_CONNECTIONS),
	    IPC_SIGNED_IN);
	ck_assert(!(ipc_msg_info(IPC_CONNECTIONS)->flags & IPC_SECRET));

	/* TUNNEL_STATUS's connections, for front ends */
	ipc_msg_init(&m, IPC_TUNNEL_STATUS);
	m.u.tunnel_status.connections =
	    "gw-1 direct 10.99.2.2:51820 0 1234 1700000000 10 20";
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_str_eq(d.u.tunnel_status.connections,
	    m.u.tunnel_status.connections);
	for (cut = 0; cut < n; cut++)
		ck_assert_int_ne(dec(b, cut, &d), 0);
}
END_TEST

/* DNS (issue 14): DNS_SYSTEM, DNS_SENTINELS, DNS_REPLY, INTERNET_RESOURCE. */
START_TEST(test_dns_messages)
{
	static uint8_t b[70000];
	static struct ipc_msg m, d;
	static uint8_t payload[65536];
	static const uint8_t str_for_bin[] = {	/* [str, str, str] */
		0x93, 0xa1, 'a', 0xa1, 'b', 0xa1, 'c',
	};
	size_t n, cut;

	ipc_msg_init(&m, IPC_DNS_REPLY);
	m.u.dns_reply.from = "100.100.111.1:53";
	m.u.dns_reply.to = "100.64.0.3:40000";
	memset(payload, 0xab, sizeof(payload));
	m.u.dns_reply.payload = payload;
	m.u.dns_reply.payload_len = 33;
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_int_eq(d.type, IPC_DNS_REPLY);
	ck_assert_str_eq(d.u.dns_reply.to, "100.64.0.3:40000");
	ck_assert_uint_eq(d.u.dns_reply.payload_len, 33);
	ck_assert_mem_eq(d.u.dns_reply.payload, payload, 33);
	for (cut = 0; cut < n; cut++)
		ck_assert_int_ne(dec(b, cut, &d), 0);
	/* the largest payload, and one byte more */
	m.u.dns_reply.payload_len = 65535;
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	m.u.dns_reply.payload_len = 65536;
	{
		struct wbuf w;

		wbuf_init(&w, b, sizeof(b));
		ck_assert_int_ne(ipc_msg_encode(&m, &w), 0);
	}
	ck_assert_int_ne(dec(str_for_bin, sizeof(str_for_bin), &d), 0);
	ck_assert(ipc_permitted(IPC_CH_DGRAM, IPC_DNS_REPLY, IPC_C));
	ck_assert(!ipc_permitted(IPC_CH_DGRAM, IPC_DNS_REPLY, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_DNS_REPLY, IPC_C));

	ipc_msg_init(&m, IPC_DNS_SENTINELS);
	m.u.dns_sentinels.sentinels = "100.100.111.1, fd00:2021:1111:8000:100:100:111:0";
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert_str_eq(d.u.dns_sentinels.sentinels, m.u.dns_sentinels.sentinels);
	ck_assert(ipc_permitted(IPC_CH_CONTROL, IPC_DNS_SENTINELS, IPC_C));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_DNS_SENTINELS, IPC_T));
	ck_assert_uint_eq(ipc_phases(IPC_CH_CONTROL, IPC_DNS_SENTINELS),
	    IPC_SIGNED_IN);
	ipc_msg_init(&m, IPC_DNS_SYSTEM);
	m.u.dns_system.servers = "10.0.0.53\n";		/* a control char */
	{
		struct wbuf w;

		wbuf_init(&w, b, sizeof(b));
		ck_assert_int_eq(ipc_msg_encode(&m, &w), -EINVAL);
	}
	ck_assert(ipc_permitted(IPC_CH_CONTROL, IPC_DNS_SYSTEM, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_DNS_SYSTEM, IPC_C));

	ipc_msg_init(&m, IPC_INTERNET_RESOURCE);
	m.u.internet_resource.on = true;
	n = enc(&m, b, sizeof(b));
	ck_assert_int_eq(dec(b, n, &d), 0);
	ck_assert(d.u.internet_resource.on);
	b[n - 1] = 0x01;		/* an integer where a bool belongs */
	ck_assert_int_ne(dec(b, n, &d), 0);
	ck_assert(ipc_permitted(IPC_CH_FRONT, IPC_INTERNET_RESOURCE, IPC_F));
	ck_assert(!ipc_permitted(IPC_CH_FRONT, IPC_INTERNET_RESOURCE, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_INTERNET_RESOURCE,
	    IPC_T));
}
END_TEST

/* The message struct no longer carries its strings. */
START_TEST(test_msg_is_small)
{
	ck_assert_uint_le(sizeof(struct ipc_msg), 256);
}
END_TEST

START_TEST(test_permissions)
{
	const unsigned C = IPC_CH_CONTROL, F = IPC_CH_FRONT;

	ck_assert_uint_eq(ipc_channel_of(IPC_T, IPC_C), C);
	ck_assert_uint_eq(ipc_channel_of(IPC_C, IPC_T), C);
	ck_assert_uint_eq(ipc_channel_of(IPC_F, IPC_T), F);
	ck_assert_uint_eq(ipc_channel_of(IPC_F, IPC_C), 0);
	ck_assert_uint_eq(ipc_channel_of(IPC_T, IPC_T), 0);
	ck_assert(ipc_permitted(F, IPC_SIGN_IN, IPC_F));
	ck_assert(ipc_permitted(C, IPC_SIGN_IN, IPC_T));
	ck_assert(!ipc_permitted(C, IPC_SIGN_IN, IPC_C));
	ck_assert(!ipc_permitted(F, IPC_SIGN_IN, IPC_T));
	ck_assert(ipc_permitted(C, IPC_STATUS, IPC_C));
	ck_assert(!ipc_permitted(F, IPC_STATUS, IPC_F));
	ck_assert(!ipc_permitted(F, IPC_CONFIG, IPC_T));
	ck_assert(ipc_permitted(C, IPC_CONFIG, IPC_T));
	ck_assert(!ipc_permitted(C, IPC_TUNNEL_STATUS, IPC_T));
	ck_assert(ipc_permitted(F, IPC_RESOURCES, IPC_T));
	ck_assert(ipc_permitted(C, IPC_RESOURCES, IPC_C));
	ck_assert(!ipc_permitted(C, IPC_RESOURCES, IPC_T));
	ck_assert(ipc_permitted(C, IPC_HELLO, IPC_C));
	ck_assert(ipc_permitted(F, IPC_HELLO, IPC_F));
	/* a role not on the channel sends nothing on it */
	ck_assert(!ipc_permitted(C, IPC_HELLO, IPC_F));
	ck_assert(!ipc_permitted(F, IPC_HELLO, IPC_C));
	ck_assert(!ipc_permitted(C, 0, IPC_T));
	ck_assert(!ipc_permitted(C, IPC_TYPE_COUNT, IPC_T));
	ck_assert(!ipc_permitted(0, IPC_HELLO, IPC_T));
	ck_assert(!ipc_permitted(IPC_CH_COUNT, IPC_HELLO, IPC_T));
	ck_assert(ipc_msg_info(IPC_LOG_FILE)->flags & IPC_FD);
	ck_assert_str_eq(ipc_type_name(IPC_SIGN_IN), "SIGN_IN");
	ck_assert_str_eq(ipc_type_name(12345), "UNKNOWN");
}
END_TEST

static void
h_dummy(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)c;
	(void)m;
	(void)arg;
}

/* Dispatch tables are checked against the catalogue's sections. */
START_TEST(test_handler_tables)
{
	static const struct ipc_handler ok[] = {	/* tunneld from controld */
		{ IPC_STATUS, h_dummy }, { IPC_ERROR, h_dummy },
		{ IPC_RESOURCES, h_dummy }, { IPC_SIGNED_OUT, h_dummy },
		{ IPC_INTERFACE, h_dummy }, { IPC_RELAYS, h_dummy },
		{ IPC_PEER_SET, h_dummy }, { IPC_PEER_DEL, h_dummy },
		{ IPC_CONNECTIONS, h_dummy }, { IPC_DNS_SENTINELS, h_dummy },
		{ IPC_TCP_SOCKET_REQ, h_dummy },
		{ IPC_ACCESS_SET, h_dummy }, { IPC_ACCESS_DEL, h_dummy },
		{ IPC_ACCESS_FILTERS, h_dummy }, { IPC_ACCESS_SYNC, h_dummy },
		{ IPC_DNSNAT_SET, h_dummy }, { IPC_PEER_GOODBYE, h_dummy },
		IPC_HANDLERS_END
	};
	static const struct ipc_handler missing[] = {	/* no RESOURCES */
		{ IPC_STATUS, h_dummy }, { IPC_ERROR, h_dummy },
		IPC_HANDLERS_END
	};
	static const struct ipc_handler extra[] = {	/* SIGN_IN: not C's */
		{ IPC_STATUS, h_dummy }, { IPC_ERROR, h_dummy },
		{ IPC_RESOURCES, h_dummy }, { IPC_SIGN_IN, h_dummy },
		IPC_HANDLERS_END
	};
	static const struct ipc_handler twice[] = {
		{ IPC_STATUS, h_dummy }, { IPC_ERROR, h_dummy },
		{ IPC_RESOURCES, h_dummy }, { IPC_STATUS, h_dummy },
		IPC_HANDLERS_END
	};
	static const struct ipc_handler null_fn[] = {
		{ IPC_STATUS, NULL }, { IPC_ERROR, h_dummy },
		{ IPC_RESOURCES, h_dummy }, IPC_HANDLERS_END
	};
	static const struct ipc_handler unknown[] = {
		{ IPC_STATUS, h_dummy }, { IPC_ERROR, h_dummy },
		{ IPC_RESOURCES, h_dummy }, { IPC_TYPE_COUNT, h_dummy },
		IPC_HANDLERS_END
	};
	struct ipc_conn_config cfg = { .self = IPC_T, .peer = IPC_C,
	    .program = "t", .on_msg = missing, .on_close = NULL };
	struct event_base *b = event_base_new();
	struct ipc_conn *c;
	int sv[2];

	ck_assert_int_eq(log_init("check_ipc", LOG_FORMAT_TEXT, "off"), 0);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_CONTROL, IPC_T, ok), 0);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_CONTROL, IPC_T, missing),
	    -EINVAL);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_CONTROL, IPC_T, extra),
	    -EINVAL);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_CONTROL, IPC_T, twice),
	    -EINVAL);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_CONTROL, IPC_T, null_fn),
	    -EINVAL);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_CONTROL, IPC_T, unknown),
	    -EINVAL);
	/* the table for the other end, or on another channel */
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_CONTROL, IPC_C, ok),
	    -EINVAL);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_FRONT, IPC_T, ok), -EINVAL);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_CONTROL, IPC_F, ok),
	    -EINVAL);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_CONTROL, IPC_T, NULL),
	    -EINVAL);
	/* every generated table passes */
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_CONTROL, IPC_T,
	    table_for(IPC_T, IPC_C)), 0);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_CONTROL, IPC_C,
	    table_for(IPC_C, IPC_T)), 0);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_FRONT, IPC_T,
	    table_for(IPC_T, IPC_F)), 0);
	ck_assert_int_eq(ipc_handlers_check(IPC_CH_FRONT, IPC_F,
	    table_for(IPC_F, IPC_T)), 0);
	/* ipc_conn_new refuses a bad table, and the caller keeps its fd */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(ipc_conn_new(b, sv[0], &cfg, &c), -EINVAL);
	cfg.on_msg = ok;
	cfg.peer = IPC_F;			/* not the table's channel */
	ck_assert_int_eq(ipc_conn_new(b, sv[0], &cfg, &c), -EINVAL);
	cfg.peer = IPC_C;
	ck_assert_int_eq(ipc_conn_new(b, sv[0], &cfg, &c), 0);
	ipc_conn_free(c);
	close(sv[1]);
	event_base_free(b);
}
END_TEST

START_TEST(test_utf8)
{
	ck_assert(utf8_valid("héllo €𝄞", strlen("héllo €𝄞")));
	ck_assert(!utf8_valid("\xed\xa0\x80", 3));	/* surrogate */
	ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	ck_assert(!utf8_valid("\xe2\x82", 2));		/* truncated */
	ck_assert(!utf8_valid("\x80", 1));
	ck_assert(!utf8_valid("a\0", 2));
}
END_TEST

/* --- connections over a socketpair ------------------------------------ */

struct side {
	struct ipc_conn	*c;
	int		 closed;	/* 1 + err when closed */
	int		 err;
	unsigned	 got[IPC_TYPE_COUNT];
	int		 fd;
	char		 filter[513];
	uint32_t	 nres;
	char		 last_name[257];
	uint64_t	 dgram_bytes;
	enum ipc_conn_state state;	/* in on_close */
	const char	*token;		/* where SIGN_IN's token was */
	char		 token_copy[64];
	const char	*psk;		/* where PEER_SET's psk was */
	char		 psk_copy[65];
};

static struct event_base *base;

static void
on_msg(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct side *s = arg;

	s->got[m->type]++;
	/* the phase steps fz-tunneld's and fz-controld's handlers take */
	if (m->type == IPC_CONFIG || m->type == IPC_SIGN_OUT ||
	    m->type == IPC_ERROR)
		ipc_conn_set_phase(c, IPC_CONFIGURED);
	if (m->type == IPC_SIGN_IN)
		ipc_conn_set_phase(c, IPC_SIGNED_IN);
	if (m->type == IPC_SIGNED_OUT && ipc_conn_phase(c) == IPC_CONFIGURED)
		ipc_conn_set_phase(c, IPC_CONFIGURED);
	if (m->type == IPC_LOG_FILE)
		s->fd = m->fd;
	if (m->type == IPC_DGRAM_DOWN)
		s->dgram_bytes += m->u.dgram_down.payload_len;
	if (m->type == IPC_SIGN_IN) {
		s->token = m->u.sign_in.token;
		snprintf(s->token_copy, sizeof(s->token_copy), "%s", s->token);
	}
	if (m->type == IPC_PEER_SET) {
		s->psk = m->u.peer_set.psk;
		snprintf(s->psk_copy, sizeof(s->psk_copy), "%s", s->psk);
	}
	if (m->type == IPC_SET_LOG_FILTER)
		strcpy(s->filter, m->u.set_log_filter.filter);
	if (m->type == IPC_RESOURCES && m->u.resources.list.n > 0) {
		s->nres = m->u.resources.list.n;
		strcpy(s->last_name,
		    m->u.resources.list.r[s->nres - 1].name);
	}
}

/* A dispatch table of on_msg for every type peer may send to self. */
static const struct ipc_handler *
table_chan(unsigned chan, unsigned self)
{
	static struct ipc_handler t[IPC_CH_COUNT][8][IPC_TYPE_COUNT];
	unsigned peer = ipc_channel_roles(chan) & ~self, i, n = 0;
	struct ipc_handler *h = t[chan][self];

	for (i = 1; i < IPC_TYPE_COUNT; i++)
		if (ipc_permitted(chan, i, peer))
			h[n++] = (struct ipc_handler){ (enum ipc_type)i, on_msg };
	h[n] = (struct ipc_handler)IPC_HANDLERS_END;
	return h;
}

static const struct ipc_handler *
table_for(unsigned self, unsigned peer)
{
	return table_chan(ipc_channel_of(self, peer), self);
}

static void
on_close(struct ipc_conn *c, int err, void *arg)
{
	struct side *s = arg;

	s->closed = 1;
	s->err = err;
	s->state = ipc_conn_state(c);
	ipc_conn_free(c);
	s->c = NULL;
}

static void
run(void)
{
	for (int i = 0; i < 50; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
pair(struct side *a, unsigned ra, struct side *b, unsigned rb, int *raw)
{
	int sv[2];
	struct ipc_conn_config ca = { .self = ra, .peer = rb, .program = "a",
	    .on_msg = table_for(ra, rb), .on_close = on_close, .arg = a };
	struct ipc_conn_config cb = { .self = rb, .peer = ra, .program = "b",
	    .on_msg = table_for(rb, ra), .on_close = on_close, .arg = b };

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->fd = b->fd = -1;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(ipc_conn_new(base, sv[0], &ca, &a->c), 0);
	if (raw != NULL) {
		*raw = sv[1];		/* the test plays the other side */
		return;
	}
	ck_assert_int_eq(ipc_conn_new(base, sv[1], &cb, &b->c), 0);
}

static void
setup(void)
{
	base = event_base_new();
	ck_assert_int_eq(log_init("check_ipc", LOG_FORMAT_TEXT, "error"), 0);
}

static void
teardown(void)
{
	event_base_free(base);
}

START_TEST(test_conn_hello_and_messages)
{
	struct side t, c;
	struct ipc_msg m;

	pair(&t, IPC_T, &c, IPC_C, NULL);
	run();
	ck_assert(ipc_conn_ready(t.c));
	ck_assert(ipc_conn_ready(c.c));
	ck_assert_str_eq(ipc_conn_peer_program(t.c), "b");
	ck_assert_int_eq(ipc_conn_peer_pid(t.c), getpid());
	ipc_conn_set_phase(t.c, IPC_CONFIGURED);
	ipc_conn_set_phase(c.c, IPC_CONFIGURED);
	ipc_msg_init(&m, IPC_SET_LOG_FILTER);
	m.u.set_log_filter.filter = "debug,ipc=trace";
	ck_assert_int_eq(ipc_send(t.c, &m), 0);
	run();
	ck_assert_uint_eq(c.got[IPC_SET_LOG_FILTER], 1);
	ck_assert_str_eq(c.filter, "debug,ipc=trace");
	/* controld may not send SIGN_IN: refused locally. */
	ipc_msg_init(&m, IPC_SIGN_IN);
	ck_assert_int_eq(ipc_send(c.c, &m), -EPERM);
	/* LOG_FILE needs a descriptor, and passes one. */
	ipc_msg_init(&m, IPC_LOG_FILE);
	ck_assert_int_eq(ipc_send(t.c, &m), -EBADF);
	m.fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ck_assert_int_eq(ipc_send(t.c, &m), 0);
	close(m.fd);
	run();
	ck_assert_uint_eq(c.got[IPC_LOG_FILE], 1);
	ck_assert_int_ge(c.fd, 0);
	{
		struct stat st;

		ck_assert_int_eq(fstat(c.fd, &st), 0);
		ck_assert(S_ISCHR(st.st_mode));
		close(c.fd);
	}
	ck_assert_int_eq(t.closed, 0);
	ck_assert_int_eq(c.closed, 0);
	ipc_conn_free(t.c);
	run();
	ck_assert_int_eq(c.closed, 1);
	ck_assert_int_eq(c.err, 0);
}
END_TEST

/* A 5 MB RESOURCES crosses a connection: the input buffer grows. */
START_TEST(test_conn_large_frame)
{
	struct side t, c;
	struct ipc_msg m;
	struct ipc_resource *r = calloc(10000, sizeof(*r));
	static char name[254];
	int i;

	memset(name, 'n', 253);
	for (i = 0; i < 10000; i++)
		r[i] = (struct ipc_resource){ "id", "dns", name, name, "hq",
		    "online" };
	r[9999].name = "the last";
	pair(&t, IPC_T, &c, IPC_C, NULL);
	run();
	ipc_conn_set_phase(t.c, IPC_SIGNED_IN);
	ipc_conn_set_phase(c.c, IPC_SIGNED_IN);
	ipc_msg_init(&m, IPC_RESOURCES);
	m.u.resources.list.n = 10000;
	m.u.resources.list.r = r;
	ck_assert_int_eq(ipc_send(c.c, &m), 0);
	free(r);			/* encoded: the caller's storage is free */
	for (i = 0; i < 2000 && t.nres == 0; i++)
		event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
	ck_assert_uint_eq(t.nres, 10000);
	ck_assert_str_eq(t.last_name, "the last");
	ck_assert_int_eq(t.closed, 0);
	/* and a small one after it still works */
	ipc_msg_init(&m, IPC_STATUS);
	m.u.status.state = "ok";
	ck_assert_int_eq(ipc_send(c.c, &m), 0);
	run();
	ck_assert_uint_eq(t.got[IPC_STATUS], 1);
	ipc_conn_free(t.c);
	ipc_conn_free(c.c);
}
END_TEST

/* Writes a raw frame (length prefix added) to fd. */
static void
raw_frame(int fd, const void *p, uint32_t len)
{
	uint8_t h[4] = { len >> 24, len >> 16, len >> 8, len };

	ck_assert_int_eq(write(fd, h, 4), 4);
	if (len > 0)
		ck_assert_int_eq(write(fd, p, len), (ssize_t)len);
}

static void
raw_msg(int fd, const struct ipc_msg *m)
{
	static uint8_t b[IPC_MAX_FRAME];
	size_t n = enc(m, b, sizeof(b));

	raw_frame(fd, b, (uint32_t)n);
}

static void
raw_hello(int fd, uint32_t version)
{
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_HELLO);
	m.u.hello.version = version;
	m.u.hello.program = "raw";
	raw_msg(fd, &m);
}

/* One message of type t with no fields or empty ones, raw on fd. */
static void
raw_type(int fd, enum ipc_type t)
{
	struct ipc_msg m;

	ipc_msg_init(&m, t);
	raw_msg(fd, &m);
}

/* fz-tunneld's end of CONTROL, the test playing fz-controld raw. */
static void
tunneld_raw(struct side *t, int *raw, unsigned phase)
{
	struct side dummy;

	pair(t, IPC_T, &dummy, IPC_C, raw);
	raw_hello(*raw, IPC_VERSION);
	run();
	ck_assert(ipc_conn_ready(t->c));
	ck_assert_uint_eq(ipc_conn_phase(t->c), IPC_BOOT);
	ipc_conn_set_phase(t->c, phase);
}

START_TEST(test_conn_phases)
{
	struct side t, c;
	struct ipc_msg m;
	int raw;

	/* Catalogue: RESOURCES only signed in; CONFIG only at boot. */
	ck_assert_uint_eq(ipc_phases(IPC_CH_CONTROL, IPC_RESOURCES),
	    IPC_SIGNED_IN);
	ck_assert_uint_eq(ipc_phases(IPC_CH_CONTROL, IPC_CONFIG), IPC_BOOT);
	ck_assert_uint_eq(ipc_phases(IPC_CH_FRONT, IPC_SIGN_IN), IPC_ANY);
	ck_assert_uint_eq(ipc_phases(IPC_CH_FRONT, IPC_STATUS), 0);

	/* Both ends, in step. */
	pair(&t, IPC_T, &c, IPC_C, NULL);
	run();
	ipc_msg_init(&m, IPC_SET_LOG_FILTER);
	ck_assert_int_eq(ipc_send(t.c, &m), -EPERM);	/* not at boot */
	ipc_msg_init(&m, IPC_SIGN_IN);
	ck_assert_int_eq(ipc_send(t.c, &m), -EPERM);
	ipc_msg_init(&m, IPC_CONFIG);
	ck_assert_int_eq(ipc_send(t.c, &m), 0);
	ipc_conn_set_phase(t.c, IPC_CONFIGURED);
	ck_assert_int_eq(ipc_send(t.c, &m), -EPERM);	/* boot only */
	run();
	ck_assert_uint_eq(ipc_conn_phase(c.c), IPC_CONFIGURED);
	ipc_msg_init(&m, IPC_RESOURCES);
	ck_assert_int_eq(ipc_send(c.c, &m), -EPERM);	/* not signed in */
	ipc_msg_init(&m, IPC_SIGN_IN);
	m.u.sign_in.token = "tok";
	ck_assert_int_eq(ipc_send(t.c, &m), 0);
	ipc_conn_set_phase(t.c, IPC_SIGNED_IN);
	run();
	ck_assert_uint_eq(ipc_conn_phase(c.c), IPC_SIGNED_IN);
	ipc_msg_init(&m, IPC_RESOURCES);
	ck_assert_int_eq(ipc_send(c.c, &m), 0);
	run();
	ck_assert_uint_eq(t.got[IPC_RESOURCES], 1);
	/*
	 * Sign-out: RESOURCES sent before fz-controld read SIGN_OUT still
	 * arrives after fz-tunneld left SIGNED_IN, then SIGNED_OUT closes
	 * the door.
	 */
	ck_assert_int_eq(ipc_send(c.c, &m), 0);		/* in flight */
	ipc_msg_init(&m, IPC_SIGN_OUT);
	ck_assert_int_eq(ipc_send(t.c, &m), 0);
	ipc_conn_leave_phase(t.c, IPC_CONFIGURED);
	ipc_msg_init(&m, IPC_SIGN_IN);
	run();
	ck_assert_int_eq(t.closed, 0);
	ck_assert_uint_eq(t.got[IPC_RESOURCES], 2);
	ck_assert_uint_eq(ipc_conn_phase(c.c), IPC_CONFIGURED);
	ipc_msg_init(&m, IPC_SIGNED_OUT);
	ck_assert_int_eq(ipc_send(c.c, &m), 0);
	run();
	ck_assert_uint_eq(t.got[IPC_SIGNED_OUT], 1);
	ck_assert_uint_eq(ipc_conn_phase(t.c), IPC_CONFIGURED);
	ipc_msg_init(&m, IPC_RESOURCES);
	ck_assert_int_eq(ipc_send(c.c, &m), -EPERM);
	ipc_conn_free(t.c);
	ipc_conn_free(c.c);

	/* Out of phase from fz-controld: a violation, like unpermitted. */
	tunneld_raw(&t, &raw, IPC_BOOT);
	raw_type(raw, IPC_STATUS);
	run();
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);
	tunneld_raw(&t, &raw, IPC_CONFIGURED);
	raw_type(raw, IPC_STATUS);			/* fine */
	raw_type(raw, IPC_RESOURCES);			/* not signed in */
	run();
	ck_assert_uint_eq(t.got[IPC_STATUS], 1);
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);
	tunneld_raw(&t, &raw, IPC_SIGNED_IN);
	raw_type(raw, IPC_RESOURCES);
	run();
	ck_assert_int_eq(t.closed, 0);
	ck_assert_uint_eq(t.got[IPC_RESOURCES], 1);
	ipc_conn_leave_phase(t.c, IPC_CONFIGURED);
	raw_type(raw, IPC_RESOURCES);			/* still in flight */
	raw_type(raw, IPC_SIGNED_OUT);
	raw_type(raw, IPC_RESOURCES);			/* after the ack */
	run();
	ck_assert_uint_eq(t.got[IPC_RESOURCES], 2);
	ck_assert_uint_eq(t.got[IPC_SIGNED_OUT], 1);
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);
	/* ERROR requires_sign_in ends the session at once */
	tunneld_raw(&t, &raw, IPC_SIGNED_IN);
	ipc_msg_init(&m, IPC_ERROR);
	m.u.error.requires_sign_in = true;
	raw_msg(raw, &m);
	raw_type(raw, IPC_RESOURCES);
	run();
	ck_assert_uint_eq(t.got[IPC_ERROR], 1);
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);

	/* fz-controld's end: SIGN_IN or LOG_FILE before CONFIG. */
	pair(&c, IPC_C, &t, IPC_T, &raw);
	raw_hello(raw, IPC_VERSION);
	raw_type(raw, IPC_SIGN_IN);
	run();
	ck_assert_int_eq(c.err, -EPROTO);
	close(raw);
	pair(&c, IPC_C, &t, IPC_T, &raw);
	raw_hello(raw, IPC_VERSION);
	raw_type(raw, IPC_CONFIG);
	raw_type(raw, IPC_SIGN_IN);
	raw_type(raw, IPC_SIGN_OUT);
	run();
	ck_assert_int_eq(c.closed, 0);
	ck_assert_uint_eq(ipc_conn_phase(c.c), IPC_CONFIGURED);
	raw_type(raw, IPC_CONFIG);			/* boot only (and once) */
	run();
	ck_assert_int_eq(c.err, -EPROTO);
	close(raw);
}
END_TEST

START_TEST(test_conn_states)
{
	struct side t, f, dummy;
	struct ipc_msg m;
	int raw;

	pair(&t, IPC_T, &f, IPC_F, NULL);
	ck_assert_int_eq(ipc_conn_state(t.c), IPC_CONN_HELLO_WAIT);
	ck_assert(!ipc_conn_ready(t.c));
	run();
	ck_assert_int_eq(ipc_conn_state(t.c), IPC_CONN_OPEN);
	ck_assert_int_eq(ipc_conn_state(f.c), IPC_CONN_OPEN);
	/* a refusal: the reply goes out, nothing more is read or sent */
	ipc_msg_init(&m, IPC_RESULT);
	m.u.result.error = -EACCES;
	ck_assert_int_eq(ipc_send(t.c, &m), 0);
	ipc_conn_close_after_flush(t.c);
	ck_assert_int_eq(ipc_conn_state(t.c), IPC_CONN_CLOSING);
	ck_assert_int_eq(ipc_send(t.c, &m), -EPIPE);
	ipc_msg_init(&m, IPC_STATUS_GET);
	ck_assert_int_eq(ipc_send(f.c, &m), 0);
	run();
	ck_assert_int_eq(t.closed, 1);
	ck_assert_int_eq(t.err, 0);
	ck_assert_int_eq(t.state, IPC_CONN_CLOSED);
	ck_assert_uint_eq(t.got[IPC_STATUS_GET], 0);
	ck_assert_uint_eq(f.got[IPC_RESULT], 1);
	ck_assert_int_eq(f.closed, 1);
	ck_assert_int_eq(f.state, IPC_CONN_CLOSED);

	/* a violation */
	pair(&t, IPC_T, &dummy, IPC_F, &raw);
	raw_hello(raw, IPC_VERSION);
	raw_type(raw, IPC_CONFIG);
	run();
	ck_assert_int_eq(t.err, -EPROTO);
	ck_assert_int_eq(t.state, IPC_CONN_VIOLATED);
	close(raw);
	ck_assert_str_eq(ipc_conn_state_name(IPC_CONN_WRITE_SHUT),
	    "WRITE_SHUT");
}
END_TEST

/*
 * PEER_SET / PEER_DEL from fz-controld: a violation unless signed in; the
 * PSK is wiped once the handler returns.  fz-tunneld may send
 * LOCAL_SOCKETS configured, CONN_WANTED only signed in.
 */
START_TEST(test_conn_peers)
{
	struct side t, c;
	struct ipc_msg m;
	static const char psk[] = "kgNlY5Gjs6fQ4H5m/OtRBO4cWkmbmY1mCdQJCFvtZo8=";
	int raw;
	size_t i;

	tunneld_raw(&t, &raw, IPC_CONFIGURED);
	raw_type(raw, IPC_PEER_SET);
	run();
	ck_assert_uint_eq(t.got[IPC_PEER_SET], 0);
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);
	tunneld_raw(&t, &raw, IPC_CONFIGURED);
	raw_type(raw, IPC_PEER_DEL);
	run();
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);
	tunneld_raw(&t, &raw, IPC_SIGNED_IN);
	raw_type(raw, IPC_PEER_SET);
	raw_type(raw, IPC_PEER_DEL);
	run();
	ck_assert_int_eq(t.closed, 0);
	ck_assert_uint_eq(t.got[IPC_PEER_SET], 1);
	ck_assert_uint_eq(t.got[IPC_PEER_DEL], 1);
	raw_type(raw, IPC_CONN_WANTED);		/* fz-tunneld's, not its */
	run();
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);

	pair(&t, IPC_T, &c, IPC_C, NULL);
	run();
	ipc_conn_set_phase(t.c, IPC_CONFIGURED);
	ipc_conn_set_phase(c.c, IPC_CONFIGURED);
	ipc_msg_init(&m, IPC_PEER_SET);
	ck_assert_int_eq(ipc_send(c.c, &m), -EPERM);	/* not signed in */
	ipc_msg_init(&m, IPC_CONN_WANTED);
	ck_assert_int_eq(ipc_send(t.c, &m), -EPERM);
	ipc_msg_init(&m, IPC_LOCAL_SOCKETS);
	m.u.local_sockets.sockets = "0=10.0.0.2:51820";
	ck_assert_int_eq(ipc_send(t.c, &m), 0);
	ipc_conn_set_phase(t.c, IPC_SIGNED_IN);
	ipc_conn_set_phase(c.c, IPC_SIGNED_IN);
	ipc_msg_init(&m, IPC_CONN_WANTED);
	m.u.conn_wanted.dst = "10.50.0.7";
	ck_assert_int_eq(ipc_send(t.c, &m), 0);
	ipc_msg_init(&m, IPC_PEER_SET);
	m.u.peer_set.public_key = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
	m.u.peer_set.psk = psk;
	ck_assert_int_eq(ipc_send(c.c, &m), 0);
	run();
	ck_assert_uint_eq(c.got[IPC_LOCAL_SOCKETS], 1);
	ck_assert_uint_eq(c.got[IPC_CONN_WANTED], 1);
	ck_assert_uint_eq(t.got[IPC_PEER_SET], 1);
	ck_assert_str_eq(t.psk_copy, psk);
	ck_assert_ptr_nonnull(t.psk);
	for (i = 0; i < sizeof(psk); i++)
		ck_assert_int_eq(t.psk[i], 0);
	ck_assert_int_eq(t.closed, 0);
	ck_assert_int_eq(c.closed, 0);
	ipc_conn_free(t.c);
	ipc_conn_free(c.c);
}
END_TEST

/*
 * IPC_SECRET: SIGN_IN's token is gone from the arena once the handler
 * returns (the first chunk stays allocated, so this reads live memory).
 */
START_TEST(test_conn_secret_wiped)
{
	struct side t, c;
	struct ipc_msg m;
	static const char tok[] = "secret-token-1234567890";
	size_t i;

	ck_assert(ipc_msg_info(IPC_SIGN_IN)->flags & IPC_SECRET);
	pair(&t, IPC_T, &c, IPC_C, NULL);
	run();
	ipc_conn_set_phase(t.c, IPC_CONFIGURED);
	ipc_conn_set_phase(c.c, IPC_CONFIGURED);
	ipc_msg_init(&m, IPC_SIGN_IN);
	m.u.sign_in.token = tok;
	m.u.sign_in.account = "acme";
	ck_assert_int_eq(ipc_send(t.c, &m), 0);
	run();
	ck_assert_uint_eq(c.got[IPC_SIGN_IN], 1);
	ck_assert_str_eq(c.token_copy, tok);
	ck_assert_ptr_nonnull(c.token);
	for (i = 0; i < sizeof(tok); i++)
		ck_assert_int_eq(c.token[i], 0);
	/* not so for other types: STATUS is not wiped */
	ck_assert(!(ipc_msg_info(IPC_STATUS)->flags & IPC_SECRET));
	ipc_conn_free(t.c);
	ipc_conn_free(c.c);
}
END_TEST

/*
 * The DGRAM channel: a flood of datagrams from fz-controld fills its
 * bounded queue (the excess is dropped and counted), and a control
 * message sent meanwhile on CONTROL arrives at once; the datagrams that
 * were queued all arrive after.
 */
START_TEST(test_dgram_flood)
{
	struct side t, c, dt, dc;
	struct ipc_conn_config ct = { .self = IPC_T, .peer = IPC_C,
	    .channel = IPC_CH_DGRAM, .program = "t",
	    .on_msg = table_chan(IPC_CH_DGRAM, IPC_T), .on_close = on_close,
	    .arg = &dt };
	struct ipc_conn_config cc = { .self = IPC_C, .peer = IPC_T,
	    .channel = IPC_CH_DGRAM, .program = "c",
	    .on_msg = table_chan(IPC_CH_DGRAM, IPC_C), .on_close = on_close,
	    .arg = &dc };
	static uint8_t payload[1200];
	struct ipc_msg m;
	uint64_t sent = 0;
	int sv[2], i, rc, iters;

	ck_assert_uint_eq(ipc_channel_of(IPC_T, IPC_C), IPC_CH_CONTROL);
	ck_assert(ipc_permitted(IPC_CH_DGRAM, IPC_DGRAM_DOWN, IPC_C));
	ck_assert(!ipc_permitted(IPC_CH_CONTROL, IPC_DGRAM_DOWN, IPC_C));
	ck_assert(!ipc_permitted(IPC_CH_DGRAM, IPC_STATUS, IPC_C));
	pair(&t, IPC_T, &c, IPC_C, NULL);
	memset(&dt, 0, sizeof(dt));
	memset(&dc, 0, sizeof(dc));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(ipc_conn_new(base, sv[0], &ct, &dt.c), 0);
	ck_assert_int_eq(ipc_conn_new(base, sv[1], &cc, &dc.c), 0);
	run();
	ck_assert(ipc_conn_ready(dt.c) && ipc_conn_ready(dc.c));
	ipc_conn_set_phase(t.c, IPC_CONFIGURED);
	ipc_conn_set_phase(c.c, IPC_CONFIGURED);
	ipc_msg_init(&m, IPC_DGRAM_DOWN);
	ck_assert_int_eq(ipc_send(dc.c, &m), -EPERM);	/* at boot */
	ipc_conn_set_phase(dt.c, IPC_CONFIGURED);
	ipc_conn_set_phase(dc.c, IPC_CONFIGURED);
	/* DGRAM types stay off CONTROL, control types off DGRAM */
	m.u.dgram_down.to = "192.0.2.1:3478";
	m.u.dgram_down.payload = payload;
	m.u.dgram_down.payload_len = sizeof(payload);
	ck_assert_int_eq(ipc_send(c.c, &m), -EPERM);

	for (i = 0; i < 5000; i++) {
		rc = ipc_send(dc.c, &m);
		ck_assert(rc == 0 || rc == -ENOBUFS);
		sent += rc == 0;
		if (i % 500 == 0)	/* some reach the socket, then it fills */
			event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
	}
	ck_assert_uint_gt(ipc_conn_dropped(dc.c), 0);
	ck_assert_uint_eq(ipc_conn_dropped(dc.c) + sent, 5000);
	ck_assert_uint_le(ipc_conn_queued(dc.c), IPC_DGRAM_QUEUE + 2000);
	ipc_msg_init(&m, IPC_STATUS);
	m.u.status.state = "urgent";
	ck_assert_int_eq(ipc_send(c.c, &m), 0);
	for (iters = 0; iters < 3 && t.got[IPC_STATUS] == 0; iters++)
		event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
	ck_assert_uint_eq(t.got[IPC_STATUS], 1);
	ck_assert_uint_lt(dt.got[IPC_DGRAM_DOWN], sent);	/* still coming */
	for (i = 0; i < 100000 && dt.got[IPC_DGRAM_DOWN] < sent; i++)
		event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
	ck_assert_uint_eq(dt.got[IPC_DGRAM_DOWN], sent);
	ck_assert_uint_eq(dt.dgram_bytes, sent * sizeof(payload));
	ck_assert_int_eq(t.closed + c.closed + dt.closed + dc.closed, 0);
	/* the control channel is not lossy: a full queue is an error */
	ck_assert_uint_eq(ipc_conn_dropped(c.c), 0);
	ipc_conn_free(t.c);
	ipc_conn_free(c.c);
	ipc_conn_free(dt.c);
	ipc_conn_free(dc.c);
}
END_TEST

START_TEST(test_conn_violations)
{
	struct side t, dummy;
	struct ipc_msg m;
	int raw;
	static const uint8_t garbage[] = { 0x92, 0x01, 0xc1, 0xc1 };

	/* A message before HELLO. */
	pair(&t, IPC_T, &dummy, IPC_C, &raw);
	ipc_msg_init(&m, IPC_STATUS);
	raw_msg(raw, &m);
	run();
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);

	/* Wrong version. */
	pair(&t, IPC_T, &dummy, IPC_C, &raw);
	raw_hello(raw, 99);
	run();
	ck_assert_int_eq(t.err, -EPROTONOSUPPORT);
	close(raw);

	/* Unpermitted: a front end sending STATUS (a controld message). */
	pair(&t, IPC_T, &dummy, IPC_F, &raw);
	raw_hello(raw, IPC_VERSION);
	ipc_msg_init(&m, IPC_STATUS);
	raw_msg(raw, &m);
	run();
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);

	/* Once-only twice. */
	pair(&t, IPC_T, &dummy, IPC_F, &raw);
	raw_hello(raw, IPC_VERSION);
	raw_hello(raw, IPC_VERSION);
	run();
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);

	/* Garbage, an unknown type, zero and oversized lengths. */
	pair(&t, IPC_T, &dummy, IPC_C, &raw);
	raw_hello(raw, IPC_VERSION);
	raw_frame(raw, garbage, sizeof(garbage));
	run();
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);
	pair(&t, IPC_T, &dummy, IPC_C, &raw);
	raw_frame(raw, NULL, 0);
	run();
	ck_assert_int_eq(t.err, -EPROTO);
	close(raw);
	pair(&t, IPC_T, &dummy, IPC_C, &raw);
	raw_frame(raw, garbage, 0);	/* header only ... */
	{
		uint8_t h[4] = { 0x7f, 0xff, 0xff, 0xff };

		ck_assert_int_eq(write(raw, h, 4), 4);
	}
	run();
	ck_assert_int_lt(t.err, 0);
	close(raw);
	/*
	 * Over the largest frame the peer may send: RESOURCES from
	 * fz-controld; from a front end, whose largest is SIGN_IN, 64 KiB.
	 */
	pair(&t, IPC_T, &dummy, IPC_C, &raw);
	{
		uint32_t l = (uint32_t)ipc_msg_info(IPC_RESOURCES)->wire_max + 1;
		uint8_t h[4] = { l >> 24, l >> 16, l >> 8, l };

		ck_assert_int_eq(write(raw, h, 4), 4);
	}
	run();
	ck_assert_int_eq(t.err, -EMSGSIZE);
	close(raw);
	pair(&t, IPC_T, &dummy, IPC_F, &raw);
	{
		uint8_t h[4] = { 0x00, 0x01, 0x00, 0x00 };	/* 64 KiB */

		ck_assert_int_eq(write(raw, h, 4), 4);
	}
	run();
	ck_assert_int_eq(t.err, -EMSGSIZE);
	close(raw);

	/* EOF in the middle of a frame. */
	pair(&t, IPC_T, &dummy, IPC_C, &raw);
	{
		uint8_t h[6] = { 0, 0, 0, 9, 0x92, 0x01 };

		ck_assert_int_eq(write(raw, h, 6), 6);
	}
	run();		/* our HELLO goes out first; read it, or close resets */
	{
		uint8_t sink[256];

		ck_assert_int_gt(read(raw, sink, sizeof(sink)), 0);
	}
	close(raw);
	run();
	ck_assert_int_eq(t.err, -EPROTO);
}
END_TEST

static void
send_with_fd(int sock, const void *p, size_t len, int fd)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr mh;
	struct iovec iov = { (void *)p, len };
	struct cmsghdr *ch;

	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	ch = CMSG_FIRSTHDR(&mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &fd, sizeof(int));
	ck_assert_int_eq(sendmsg(sock, &mh, 0), (ssize_t)len);
}

START_TEST(test_conn_fd_rules)
{
	struct side c, dummy;
	struct ipc_msg m;
	static uint8_t b[4096];
	uint8_t frame[4 + 64];
	size_t n;
	int raw, devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* A descriptor on a message not flagged for one. */
	pair(&c, IPC_C, &dummy, IPC_T, &raw);
	ipc_conn_set_phase(c.c, IPC_CONFIGURED);	/* SIGN_OUT, LOG_FILE */
	raw_hello(raw, IPC_VERSION);
	ipc_msg_init(&m, IPC_SIGN_OUT);
	n = enc(&m, b, sizeof(b));
	frame[0] = frame[1] = frame[2] = 0;
	frame[3] = (uint8_t)n;
	memcpy(frame + 4, b, n);
	send_with_fd(raw, frame, 4 + n, devnull);
	run();
	ck_assert_int_eq(c.err, -EPROTO);
	close(raw);

	/* LOG_FILE without a descriptor. */
	pair(&c, IPC_C, &dummy, IPC_T, &raw);
	ipc_conn_set_phase(c.c, IPC_CONFIGURED);	/* SIGN_OUT, LOG_FILE */
	raw_hello(raw, IPC_VERSION);
	ipc_msg_init(&m, IPC_LOG_FILE);
	raw_msg(raw, &m);
	run();
	ck_assert_int_eq(c.err, -EPROTO);
	close(raw);
	close(devnull);
}
END_TEST

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS	83	/* asm-generic/socket.h, Linux 6.16 */
#endif

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A connected TCP socket whose last close() would block for 10 s: a full
 * send queue the peer never reads, and SO_LINGER {1, 10}.  *peer is the
 * accepted end, kept open (unread) until the caller closes it.
 */
static int
lingering_tcp(int *peer)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	struct linger lg = { 1, 10 };
	static char junk[65536];
	int l, c, small = 4096;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	ck_assert_int_eq(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small)), 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	ck_assert_int_ge(c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	ck_assert_int_eq(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small,
	    sizeof(small)), 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_ge(*peer = accept4(l, NULL, NULL, SOCK_CLOEXEC), 0);
	close(l);
	ck_assert_int_eq(fcntl(c, F_SETFL, O_NONBLOCK), 0);
	while (write(c, junk, sizeof(junk)) > 0)
		;
	ck_assert_int_eq(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	return c;
}

/* Our own copy of a lingering socket, closed without waiting. */
static void
close_now(int fd)
{
	struct linger off = { 0, 0 };

	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &off,
	    sizeof(off)), 0);
	close(fd);
}

/*
 * Sends a SIGN_OUT frame (front end -> tunneld, tunneld -> controld; never
 * flagged IPC_FD) with a lingering TCP socket attached, then drops this
 * process's copy so that the receiver's close would be the last one.
 * Returns sendmsg's errno, or 0 when the descriptor went out.
 */
static int
send_lingering(int raw, int *tcp_peer)
{
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	static uint8_t b[4096];
	uint8_t frame[4 + 64];
	struct ipc_msg m;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *ch;
	size_t n;
	int tcp = lingering_tcp(tcp_peer), err = 0;

	ipc_msg_init(&m, IPC_SIGN_OUT);
	n = enc(&m, b, sizeof(b));
	frame[0] = frame[1] = frame[2] = 0;
	frame[3] = (uint8_t)n;
	memcpy(frame + 4, b, n);
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = frame;
	iov.iov_len = 4 + n;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	ch = CMSG_FIRSTHDR(&mh);
	ch->cmsg_level = SOL_SOCKET;
	ch->cmsg_type = SCM_RIGHTS;
	ch->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(ch), &tcp, sizeof(int));
	if (sendmsg(raw, &mh, 0) < 0) {
		err = errno;
		close_now(tcp);
	} else
		close(tcp);	/* in flight: not the last reference */
	return err;
}

/* Runs the loop until the connection ends (or 15 s); returns seconds. */
static double
run_until_closed(struct side *s)
{
	double t0 = now_s();

	while (!s->closed && now_s() - t0 < 15)
		event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
	return now_s() - t0;
}

START_TEST(test_conn_stray_fd_does_not_block)
{
	struct side t, c, dummy;
	int raw, peer, err, v, one = 1;
	socklen_t vl = sizeof(v);
	double dt;

	ck_assert(!ipc_fds_permitted(IPC_CH_FRONT, IPC_F));
	ck_assert(!ipc_fds_permitted(IPC_CH_CONTROL, IPC_C));
	ck_assert(ipc_fds_permitted(IPC_CH_CONTROL, IPC_T));

	/*
	 * A front end: the kernel refuses the descriptor (SO_PASSRIGHTS), or
	 * the connection ends as a violation; either way at once.
	 */
	pair(&t, IPC_T, &dummy, IPC_F, &raw);
	raw_hello(raw, IPC_VERSION);
	run();
	if (getsockopt(ipc_conn_fd(t.c), SOL_SOCKET, SO_PASSRIGHTS, &v,
	    &vl) == 0)
		ck_assert_int_eq(v, 0);
	err = send_lingering(raw, &peer);
	if (err != 0) {
		ck_assert_int_eq(err, EPERM);
		run();
		ck_assert_int_eq(t.closed, 0);
		ipc_conn_free(t.c);
	} else {
		dt = run_until_closed(&t);
		ck_assert_int_eq(t.err, -EPROTO);
		ck_assert_msg(dt < 1.0, "front end: %.2f s", dt);
	}
	close(raw);
	close(peer);

	/*
	 * The same without SO_PASSRIGHTS (a kernel before 6.16): the
	 * descriptor arrives, the connection ends, and the close is quick.
	 */
	pair(&t, IPC_T, &dummy, IPC_C, &raw);
	raw_hello(raw, IPC_VERSION);
	run();
	(void)setsockopt(ipc_conn_fd(t.c), SOL_SOCKET, SO_PASSRIGHTS, &one,
	    sizeof(one));
	ck_assert_int_eq(send_lingering(raw, &peer), 0);
	dt = run_until_closed(&t);
	ck_assert_int_eq(t.err, -EPROTO);
	ck_assert_msg(dt < 1.0, "tunneld from controld: %.2f s", dt);
	close(raw);
	close(peer);

	/*
	 * fz-controld's end may receive descriptors (LOG_FILE), but not on
	 * SIGN_OUT: a stray, closed without lingering.
	 */
	pair(&c, IPC_C, &dummy, IPC_T, &raw);
	ipc_conn_set_phase(c.c, IPC_CONFIGURED);	/* SIGN_OUT, LOG_FILE */
	raw_hello(raw, IPC_VERSION);
	run();
	ck_assert_int_eq(send_lingering(raw, &peer), 0);
	dt = run_until_closed(&c);
	ck_assert_int_eq(c.err, -EPROTO);
	ck_assert_msg(dt < 1.0, "controld from tunneld: %.2f s", dt);
	close(raw);
	close(peer);
}
END_TEST

START_TEST(test_conn_backpressure)
{
	struct side t, dummy;
	struct ipc_msg m;
	int raw, i, rc = 0;

	pair(&t, IPC_T, &dummy, IPC_F, &raw);
	raw_hello(raw, IPC_VERSION);
	run();
	ipc_msg_init(&m, IPC_EVENT);
	{
		static char detail[501];

		memset(detail, 'x', 500);
		m.u.event.detail = detail;
	}
	for (i = 0; i < 100000 && rc == 0; i++) {
		rc = ipc_send(t.c, &m);
		if ((i & 63) == 0)
			run();
	}
	ck_assert_int_eq(rc, -ENOBUFS);
	ck_assert_uint_ge(ipc_conn_queued(t.c), IPC_MAX_QUEUE);
	ipc_conn_free(t.c);
	close(raw);
}
END_TEST

static Suite *
ipc_suite(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("codec");
	TCase *tn = tcase_create("conn");

	tcase_add_test(tc, test_roundtrip_every_type);
	tcase_add_test(tc, test_truncation_and_trailing);
	tcase_add_test(tc, test_strict_decoding);
	tcase_add_test(tc, test_control_chars_rejected);
	tcase_add_test(tc, test_encode_refuses_bad_strings);
	tcase_add_test(tc, test_wire_vectors);
	tcase_add_test(tc, test_many_resources);
	tcase_add_test(tc, test_arena);
	tcase_add_test(tc, test_bin_rules);
	tcase_add_test(tc, test_msg_is_small);
	tcase_add_test(tc, test_permissions);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_handler_tables);
	tcase_add_test(tc, test_interface_and_sites);
	tcase_add_test(tc, test_relays);
	tcase_add_test(tc, test_peer_messages);
	tcase_add_test(tc, test_connections_message);
	tcase_add_test(tc, test_dns_messages);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tn, setup, teardown);
	tcase_add_test(tn, test_conn_hello_and_messages);
	tcase_add_test(tn, test_conn_large_frame);
	tcase_add_test(tn, test_conn_violations);
	tcase_add_test(tn, test_conn_phases);
	tcase_add_test(tn, test_conn_states);
	tcase_add_test(tn, test_conn_secret_wiped);
	tcase_add_test(tn, test_conn_peers);
	tcase_add_test(tn, test_dgram_flood);
	tcase_add_test(tn, test_conn_fd_rules);
	tcase_add_test(tn, test_conn_stray_fd_does_not_block);
	tcase_add_test(tn, test_conn_backpressure);
	suite_add_tcase(s, tn);
	return s;
}

CHECK_MAIN(ipc_suite)
