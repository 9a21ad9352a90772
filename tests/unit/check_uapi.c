/* SPDX-License-Identifier: ISC */
/*
 * The static mode's UAPI (uapi.h) without its socket: set=1 requests as
 * wg(8) sends them (peers, PSK, endpoint, keepalive, allowed IPs,
 * replace_allowed_ips, replace_peers, remove, update_only) read back with
 * get=1; requests cut short or malformed answered with the errno wg(8)
 * then reports, and nothing of a request without its blank line applied;
 * `--show`'s printer on a reply, on replies cut short and on garbage.
 * The data plane is dp_new'd with a socketpair for its TUN, not started.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_util.h"
#include "dp_fixture.h"
#include "dataplane.h"
#include "tun.h"
#include "uapi.h"
#include "wg.h"

static struct dp_fixture F;
static struct dp *G;
static struct wg_device *Gdev;

/* Public keys of three peers, and a private key, in hex. */
#define KA "1111111111111111111111111111111111111111111111111111111111111111"
#define KB "2222222222222222222222222222222222222222222222222222222222222222"
#define KC "3333333333333333333333333333333333333333333333333333333333333333"
#define KP "4444444444444444444444444444444444444444444444444444444444444444"
#define PRIV "4855555555555555555555555555555555555555555555555555555555555555"

static void
setup(void)
{
	ck_assert_int_eq(dp_fixture_new(&F, 1280, false), 0);
	G = F.dp;
	Gdev = F.dev;
}

static void
teardown(void)
{
	dp_fixture_free(&F);
	G = NULL;
	Gdev = NULL;
}

/* The reply to the request's LEN bytes, as a new string. */
static char *
ask_n(const char *s, size_t len, uint32_t fwmark)
{
	struct uapi_buf o;
	char *req = malloc(len + 1), *r;

	ck_assert_ptr_nonnull(req);
	memcpy(req, s, len);
	ck_assert_int_eq(uapi_handle(G, fwmark, req, len, &o), 0);
	free(req);
	ck_assert_ptr_nonnull(r = strndup(o.p, o.len));
	ck_assert_uint_eq(strlen(r), o.len);
	uapi_buf_free(&o);
	return r;
}

static char *
ask(const char *s)
{
	return ask_n(s, strlen(s), 0);
}

/* The errno a request's reply ends in, checking the reply's shape. */
static int
set_errno(const char *s)
{
	char *r = ask(s);
	int e = -1;

	ck_assert_msg(sscanf(r, "errno=%d\n", &e) == 1, "reply '%s'", r);
	ck_assert_msg(strlen(r) > 8 && strcmp(r + strlen(r) - 2, "\n\n") ==
	    0 && strchr(r, '\n') == r + strlen(r) - 2, "reply '%s'", r);
	free(r);
	return e;
}

static size_t
npeers(void)
{
	return wg_device_peer_count(dp_device(G));
}

/* --show's printer over a reply (its output), or on stderr why not. */
static int
show(const char *reply, size_t len, char **out, char **err)
{
	size_t ol, el;
	FILE *o = open_memstream(out, &ol), *e = open_memstream(err, &el);
	int rc;

	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_nonnull(e);
	rc = uapi_show_reply("wg0", reply, len, 1000000, o, e);
	fclose(o);
	fclose(e);
	return rc;
}

/* The peer lines get=1 prints for a peer nothing was sent to. */
#define PEER(k, rest)							\
	"public_key=" k "\n" rest					\
	"last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"	\
	"tx_bytes=0\nrx_bytes=0\n"

START_TEST(test_set_get)
{
	char req[2048], want[2048], *r;

	snprintf(req, sizeof(req), "set=1\nprivate_key=" PRIV "\n"
	    "listen_port=%u\nfwmark=0\nreplace_peers=true\n"
	    "public_key=" KA "\npreshared_key=" KP "\n"
	    "endpoint=192.0.2.1:51820\npersistent_keepalive_interval=25\n"
	    "replace_allowed_ips=true\nallowed_ip=10.0.0.0/24\n"
	    "allowed_ip=fd00::/64\nprotocol_version=1\n"
	    "public_key=" KB "\nendpoint=[2001:db8::1]:1234\n"
	    "allowed_ip=10.1.0.1/32\n\n", dp_port(G));
	ck_assert_int_eq(set_errno(req), 0);
	ck_assert_uint_eq(npeers(), 2);
	snprintf(want, sizeof(want), "private_key=" PRIV "\n"
	    "listen_port=%u\nfwmark=7\n"
	    PEER(KA, "endpoint=192.0.2.1:51820\n")
	    "persistent_keepalive_interval=25\n"
	    "allowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n"
	    "protocol_version=1\n"
	    PEER(KB, "endpoint=[2001:db8::1]:1234\n")
	    "persistent_keepalive_interval=0\n"
	    "allowed_ip=10.1.0.1/32\nprotocol_version=1\n"
	    "errno=0\n\n", dp_port(G));
	r = ask_n("get=1\n\n", 7, 7);
	ck_assert_str_eq(r, want);
	/* --show prints what the socket answers. */
	{
		char *out, *err;

		ck_assert_int_eq(show(r, strlen(r), &out, &err), 0);
		ck_assert_ptr_nonnull(strstr(out, "peer: IiIiIiIiIiIiIiIiIiIiIi"
		    "IiIiIiIiIiIiIiIiIiIiI=\n  endpoint: [2001:db8::1]:1234\n"
		    "  allowed ips: 10.1.0.1/32\n"));
		ck_assert_str_eq(err, "");
		free(out);
		free(err);
	}
	free(r);

	/* replace_allowed_ips, then update_only on a peer that exists. */
	ck_assert_int_eq(set_errno("set=1\npublic_key=" KA "\nupdate_only=true"
	    "\nreplace_allowed_ips=true\nallowed_ip=10.9.0.0/16\n"
	    "persistent_keepalive_interval=5\n\n"), 0);
	r = ask("get=1\n\n");
	ck_assert_ptr_nonnull(strstr(r, "persistent_keepalive_interval=5\n"
	    "allowed_ip=10.9.0.0/16\nprotocol_version=1\npublic_key=" KB));
	ck_assert_ptr_null(strstr(r, "10.0.0.0/24"));
	free(r);

	/* update_only on a new peer: nothing made, the rest not looked at. */
	ck_assert_int_eq(set_errno("set=1\npublic_key=" KC "\nupdate_only=true"
	    "\nallowed_ip=10.3.0.0/16\nendpoint=192.0.2.3:1\n\n"), 0);
	ck_assert_uint_eq(npeers(), 2);
	r = ask("get=1\n\n");
	ck_assert_ptr_null(strstr(r, KC));
	ck_assert_ptr_null(strstr(r, "10.3.0.0"));
	free(r);

	/* remove: the peer's other lines ignored, the next peer's not. */
	ck_assert_int_eq(set_errno("set=1\npublic_key=" KA "\nremove=true\n"
	    "allowed_ip=10.8.0.0/16\npublic_key=" KC "\n"
	    "allowed_ip=10.3.0.0/16\n\n"), 0);
	ck_assert_uint_eq(npeers(), 2);
	r = ask("get=1\n\n");
	ck_assert_ptr_null(strstr(r, KA));
	ck_assert_ptr_null(strstr(r, "10.8.0.0"));
	ck_assert_ptr_nonnull(strstr(r, "public_key=" KC "\n"));
	ck_assert_ptr_nonnull(strstr(r, "allowed_ip=10.3.0.0/16\n"));
	free(r);

	/* replace_peers: only the request's peers remain. */
	ck_assert_int_eq(set_errno("set=1\nreplace_peers=true\npublic_key=" KA
	    "\n\n"), 0);
	ck_assert_uint_eq(npeers(), 1);
	snprintf(want, sizeof(want), "private_key=" PRIV "\n"
	    "listen_port=%u\n" PEER(KA, "")
	    "persistent_keepalive_interval=0\nprotocol_version=1\n"
	    "errno=0\n\n", dp_port(G));
	r = ask("get=1\n\n");
	ck_assert_str_eq(r, want);
	free(r);

	/* An empty set changes nothing; false is no change either. */
	ck_assert_int_eq(set_errno("set=1\n\n"), 0);
	ck_assert_int_eq(set_errno("set=1\nreplace_peers=false\npublic_key="
	    KA "\nremove=false\nupdate_only=false\n"
	    "replace_allowed_ips=false\n\n"), 0);
	ck_assert_uint_eq(npeers(), 1);
}
END_TEST

/* A request cut short: EPROTO, and none of it applied. */
START_TEST(test_truncated)
{
	static const char full[] = "set=1\npublic_key=" KA "\n"
	    "allowed_ip=10.0.0.0/16\n\n";
	size_t i;

	for (i = 0; i < sizeof(full) - 1; i++) {
		char *r = ask_n(full, i, 0);

		ck_assert_msg(strcmp(r, "errno=71\n\n") == 0,
		    "cut at %zu: '%s'", i, r);
		free(r);
		ck_assert_uint_eq(npeers(), 0);
	}
	ck_assert_int_eq(set_errno(full), 0);
	ck_assert_uint_eq(npeers(), 1);
	ck_assert_int_eq(set_errno(""), EPROTO);
	ck_assert_int_eq(set_errno("get=1\n"), EPROTO);
	ck_assert_int_eq(set_errno("get=1"), EPROTO);
	ck_assert_int_eq(set_errno("\n\n"), EPROTO);
	ck_assert_int_eq(set_errno("get=2\n\n"), EPROTO);
	ck_assert_int_eq(set_errno("set=1"), EPROTO);
}
END_TEST

START_TEST(test_garbage)
{
	static const struct {
		const char	*req;
		int		 err;
	} t[] = {
		{ "set=1\nfoo\n\n", EPROTO },			/* no '=' */
		{ "set=1\nfoo=bar\n\n", EPROTO },	/* unknown key */
		{ "set=1\npublic_key=" KA "\nfoo=1\n\n", EPROTO },
		{ "set=1\nprivate_key=12\n\n", EINVAL },	/* bad hex */
		{ "set=1\nprivate_key=" KA "0\n\n", EINVAL },
		{ "set=1\npublic_key=zz" KA "\n\n", EINVAL },
		{ "set=1\npublic_key=" KA "\npreshared_key=x\n\n", EINVAL },
		/* a peer's key before any public_key */
		{ "set=1\nendpoint=192.0.2.1:1\n\n", EPROTO },
		{ "set=1\nallowed_ip=10.0.0.0/8\n\n", EPROTO },
		/* a device key after one (replace_peers used to remove
		 * the peer the following lines were applied to) */
		{ "set=1\npublic_key=" KA "\nreplace_peers=true\n"
		  "endpoint=192.0.2.1:1\n\n", EPROTO },
		{ "set=1\npublic_key=" KA "\nprivate_key=" PRIV "\n\n",
		  EPROTO },
		{ "set=1\npublic_key=" KA "\nprotocol_version=2\n\n",
		  EPROTONOSUPPORT },
		{ "set=1\nlisten_port=65536\n\n", EINVAL },
		{ "set=1\nlisten_port=abc\n\n", EINVAL },
		{ "set=1\nlisten_port=-1\n\n", EINVAL },
		{ "set=1\nlisten_port=\n\n", EINVAL },
		{ "set=1\nfwmark=4294967296\n\n", EINVAL },
		{ "set=1\nfwmark=0x10\n\n", EINVAL },
		{ "set=1\nreplace_peers=yes\n\n", EINVAL },
		{ "set=1\npublic_key=" KA "\npersistent_keepalive_interval="
		  "65536\n\n", EINVAL },
		{ "set=1\npublic_key=" KA "\npersistent_keepalive_interval="
		  "25x\n\n", EINVAL },
		{ "set=1\npublic_key=" KA "\npersistent_keepalive_interval="
		  " 25\n\n", EINVAL },
		{ "set=1\npublic_key=" KA "\npersistent_keepalive_interval="
		  "4294967321\n\n", EINVAL },		/* atoi: 25 */
		{ "set=1\npublic_key=" KA "\nendpoint=192.0.2.1\n\n", EINVAL },
		{ "set=1\npublic_key=" KA "\nallowed_ip=10.0.0.0/33\n\n",
		  EINVAL },
		{ "set=1\npublic_key=" KA "\nremove=1\n\n", EINVAL },
		{ "set=1\npublic_key=" KA "\nupdate_only=yes\n\n", EINVAL },
		{ "set=1\npublic_key=" KA "\nreplace_allowed_ips=on\n\n",
		  EINVAL },
		{ "sett=1\n\n", EPROTO },
	};
	char req[128];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(set_errno(t[i].req) == t[i].err, "%s: not %d",
		    t[i].req, t[i].err);
	/* The port is fixed at start: another one is not supported. */
	snprintf(req, sizeof(req), "set=1\nlisten_port=%u\n\n",
	    (unsigned)(dp_port(G) == 1 ? 2 : 1));
	ck_assert_int_eq(set_errno(req), EOPNOTSUPP);
	snprintf(req, sizeof(req), "set=1\nlisten_port=%u\n\n", dp_port(G));
	ck_assert_int_eq(set_errno(req), 0);
	/* A NUL inside a line. */
	{
		static const char nul[] = "set=1\npublic_key=" KA "\0x\n\n";
		char *r = ask_n(nul, sizeof(nul) - 1, 0);

		ck_assert_str_eq(r, "errno=71\n\n");
		free(r);
	}
}
END_TEST

START_TEST(test_show)
{
	static const char reply[] = "private_key=" PRIV "\nlisten_port=51820\n"
	    "fwmark=7\npublic_key=" KA "\nendpoint=192.0.2.1:51820\n"
	    "last_handshake_time_sec=996339\nlast_handshake_time_nsec=5\n"
	    "tx_bytes=3000\nrx_bytes=1048576\n"
	    "persistent_keepalive_interval=25\nallowed_ip=10.0.0.0/24\n"
	    "allowed_ip=fd00::/64\nprotocol_version=1\n"
	    "public_key=" KB "\nlast_handshake_time_sec=0\n"
	    "tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
	    "protocol_version=1\nerrno=0\n\n";
	char *out, *err, pub[45], want[1024];
	uint8_t k[32], pk[32];

	ck_assert_int_eq(wg_key_from_hex(PRIV, k), 0);
	wg_key_public(k, pk);
	wg_key_to_base64(pk, pub);
	snprintf(want, sizeof(want), "interface: wg0\n  public key: %s\n"
	    "  private key: (hidden)\n  listening port: 51820\n\n"
	    "peer: ERERERERERERERERERERERERERERERERERERERERERE=\n"
	    "  endpoint: 192.0.2.1:51820\n"
	    "  allowed ips: 10.0.0.0/24, fd00::/64\n"
	    "  latest handshake: 1 hour, 1 minute, 1 second ago\n"
	    "  transfer: 1.00 MiB received, 2.93 KiB sent\n"
	    "  persistent keepalive: every 25 seconds\n\n"
	    "peer: IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=\n"
	    "  allowed ips: (none)\n", pub);
	ck_assert_int_eq(show(reply, sizeof(reply) - 1, &out, &err), 0);
	ck_assert_str_eq(out, want);
	ck_assert_str_eq(err, "");
	ck_assert_ptr_null(strstr(out, PRIV));
	free(out);
	free(err);
}
END_TEST

/* A reply cut anywhere, or wrong: nothing printed, an error. */
START_TEST(test_show_bad)
{
	static const char good[] = "private_key=" PRIV "\nlisten_port=1\n"
	    "public_key=" KA "\nallowed_ip=10.0.0.0/24\ntx_bytes=1\n"
	    "errno=0\n\n";
	static const struct {
		const char	*reply;
		int		 rc;
	} t[] = {
		{ "", -EPROTO },
		{ "\n", -EPROTO },			/* no errno */
		{ "errno=0\n", -EPROTO },		/* no blank line */
		{ "errno=22\n\n", -EINVAL },
		{ "errno=-22\n\n", -EINVAL },		/* wireguard-go's */
		{ "errno=x\n\n", -EPROTO },
		{ "errno=4096\n\n", -EPROTO },
		{ "errno=0\nlisten_port=1\n\n", -EPROTO },	/* not last */
		{ "listen_port\nerrno=0\n\n", -EPROTO },	/* no '=' */
		{ "=1\nerrno=0\n\n", -EPROTO },
		{ "listen_port=65536\nerrno=0\n\n", -EPROTO },
		{ "tx_bytes=18446744073709551616\nerrno=0\n\n", -EPROTO },
		{ "rx_bytes=-1\nerrno=0\n\n", -EPROTO },
		{ "public_key=" KA "0\nerrno=0\n\n", -EPROTO },
		{ "private_key=xx\nerrno=0\n\n", -EPROTO },
		{ "endpoint=\x1b[2J\nerrno=0\n\n", -EPROTO },	/* escape */
		{ "fwmark=1\nprotocol_version=9\nerrno=0\n\n", 0 },/* unknown */
	};
	char *out, *err;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = show(t[i].reply, strlen(t[i].reply), &out, &err);

		ck_assert_msg(rc == t[i].rc, "'%s': %d", t[i].reply, rc);
		if (rc != 0) {
			ck_assert_str_eq(out, "");
			ck_assert_str_ne(err, "");
		}
		free(out);
		free(err);
	}
	for (i = 0; i < sizeof(good) - 2; i++) {
		ck_assert_int_eq(show(good, i, &out, &err), -EPROTO);
		ck_assert_str_eq(out, "");
		ck_assert_str_eq(err, "fz-tunneld: wg0: malformed reply\n");
		free(out);
		free(err);
	}
	ck_assert_int_eq(show(good, sizeof(good) - 1, &out, &err), 0);
	free(out);
	free(err);
	/* A NUL in a line. */
	ck_assert_int_eq(show("fwmark=1\0\nerrno=0\n\n", 19, &out, &err),
	    -EPROTO);
	free(out);
	free(err);
}
END_TEST

/* However many allowed IPs a peer has, all are shown (was 4 KiB). */
START_TEST(test_show_many_allowed)
{
	struct uapi_buf r = { NULL, 0, 0, false };
	char *out, *err, *p;
	int i, n = 0;

	{
		char *b = malloc(64 * 1024);
		size_t l = 0;

		ck_assert_ptr_nonnull(b);
		l += (size_t)sprintf(b + l, "public_key=" KA "\n");
		for (i = 0; i < 1000; i++)
			l += (size_t)sprintf(b + l,
			    "allowed_ip=10.%d.%d.0/24\n", i / 256, i % 256);
		l += (size_t)sprintf(b + l, "errno=0\n\n");
		r.p = b;
		r.len = l;
		r.cap = 64 * 1024;
	}
	ck_assert_int_eq(show(r.p, r.len, &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(out, "10.3.231.0/24\n"));
	for (p = out; (p = strstr(p, "/24")) != NULL; p++)
		n++;
	ck_assert_int_eq(n, 1000);
	free(out);
	free(err);
	uapi_buf_free(&r);
}
END_TEST

static Suite *
uapi_suite(void)
{
	Suite *s = suite_create("uapi");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_set_get);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_show);
	tcase_add_test(tc, test_show_bad);
	tcase_add_test(tc, test_show_many_allowed);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(uapi_suite)
