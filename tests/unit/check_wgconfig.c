/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wgconfig.h"
#include "check_util.h"

static const char good[] =
    "# a comment\n"
    "[Interface]\n"
    "PrivateKey = YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"
    "ListenPort = 51820\n"
    "Address = 10.100.0.1/24, fd00:100::1/64\n"
    "Address = 10.101.0.1/32\n"
    "MTU = 1280\n"
    "DNS = 1.1.1.1\n"
    "\n"
    "[Peer]\n"
    "PublicKey = Y2FD6uTgrq+/bbBAXCNOtE+PGk8Papoh7qaWBpQUXn0=\n"
    "PresharedKey = QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=\n"
    "Endpoint = 192.0.2.2:51820\n"
    "AllowedIPs = 10.100.0.2/32, fd00:100::2/128 # tail comment\n"
    "PersistentKeepalive = 25\n"
    "[peer]\n"
    "publickey = HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=\n"
    "endpoint = [2001:db8::2]:4500\n";

START_TEST(test_good)
{
	struct wgconf c;
	char err[256], s[64];

	ck_assert_int_eq(wgconf_parse(good, strlen(good), "t.conf", &c, err,
	    sizeof(err)), 0);
	ck_assert(c.has_priv);
	ck_assert_uint_eq(c.listen_port, 51820);
	ck_assert_uint_eq(c.naddrs, 3);
	ck_assert_int_eq(cidr_fmt(&c.addrs[0], s, sizeof(s)), 0);
	ck_assert_str_eq(s, "10.100.0.1/24");	/* host bits kept */
	ck_assert_int_eq(c.mtu, 1280);
	ck_assert_uint_eq(c.ndns, 1);
	ck_assert_int_eq(c.table, WGCONF_TABLE_AUTO);
	ck_assert(!c.save_config);
	ck_assert_uint_eq(c.npeers, 2);
	ck_assert(c.peers[0].has_psk);
	ck_assert(c.peers[0].has_endpoint);
	ck_assert_uint_eq(addr_port(&c.peers[0].endpoint.sa), 51820);
	ck_assert_uint_eq(c.peers[0].nallowed, 2);
	ck_assert_uint_eq(c.peers[0].keepalive, 25);
	ck_assert_int_eq(c.peers[1].endpoint.sa.sa_family, AF_INET6);
	wgconf_free(&c);
}
END_TEST

struct bad { const char *text, *msg; };

START_TEST(test_bad)
{
	static const struct bad bad[] = {
		{ "", "no [Interface]" },
		{ "[Interface]\n", "no PrivateKey" },
		{ "PrivateKey = x\n", "t.conf:1: 'PrivateKey' outside" },
		{ "[Interface]\nPrivateKey = short\n", "t.conf:2: PrivateKey" },
		{ "[Interface]\nListenPort = 70000\n", "t.conf:2: ListenPort" },
		{ "[Interface]\nMTU = 100\n", "t.conf:2: MTU" },
		/* 65473 pads to 65488: 65520 bytes, over a UDP datagram. */
		{ "[Interface]\nMTU = 65473\n",
		  "t.conf:2: MTU must be 576..65472" },
		{ "[Interface]\nMTU = 65535\n", "t.conf:2: MTU must be" },
		{ "[Interface]\nAddress = 10.0.0.1/33\n", "t.conf:2: bad Address" },
		{ "[Interface]\nAddress = 10.0.0.1,,\n", "t.conf:2:" },
		{ "[Interface]\nBogus = 1\n", "t.conf:2: unknown key 'Bogus'" },
		{ "[Interface]\nnoequals\n", "t.conf:2: expected" },
		{ "[Interface]\nMTU =\n", "t.conf:2: expected" },
		{ "[Wat]\n", "t.conf:1: unknown section" },
		{ "[Interface]\n[Interface]\n", "t.conf:2: second" },
		{ "[Peer]\nEndpoint = 1.2.3.4:5\n", "[Peer] without PublicKey" },
		{ "[Peer]\nPublicKey = Y2FD6uTgrq+/bbBAXCNOtE+PGk8Papoh7qaWBpQUXn0=\n"
		  "Endpoint = 1.2.3.4\n", "t.conf:3: bad Endpoint" },
		{ "[Peer]\nPublicKey = Y2FD6uTgrq+/bbBAXCNOtE+PGk8Papoh7qaWBpQUXn0=\n"
		  "AllowedIPs = nope\n", "t.conf:3: bad AllowedIPs" },
		{ "[Peer]\nPublicKey = Y2FD6uTgrq+/bbBAXCNOtE+PGk8Papoh7qaWBpQUXn0=\n"
		  "PersistentKeepalive = -1\n", "t.conf:3: PersistentKeepalive" },
		{ "[Peer]\nPublicKey = Y2FD6uTgrq+/bbBAXCNOtE+PGk8Papoh7qaWBpQUXn0=\n"
		  "[Peer]\nPublicKey = Y2FD6uTgrq+/bbBAXCNOtE+PGk8Papoh7qaWBpQUXn0=\n",
		  "duplicate" },
		{ "[Interface]\nTable = main\n", "t.conf:2: Table must be" },
		{ "[Interface]\nTable = 0\n", "t.conf:2: Table must be" },
		{ "[Interface]\nTable = 4294967296\n", "t.conf:2: Table" },
		{ "[Interface]\nFwMark = 0x1g\n", "t.conf:2: FwMark must" },
		{ "[Interface]\nFwMark = -1\n", "t.conf:2: FwMark must" },
		{ "[Interface]\nSaveConfig = maybe\n", "t.conf:2: SaveConfig" },
		{ "[Interface]\nDNS = 1.1.1.1, bad domain\n",
		  "t.conf:2: bad DNS entry 'bad domain'" },
		{ "[Interface]\nDNS = a..b\n", "t.conf:2: bad DNS entry" },
		{ "[Interface]\nDNS = 1.1.1.1:53\n", "t.conf:2: bad DNS" },
		{ "[Interface]\nDNS = ,\n", "t.conf:2: empty list item" },
		{ "[Peer]\nPublicKey = Y2FD6uTgrq+/bbBAXCNOtE+PGk8Papoh7qaWBpQUXn0="
		  "\nPostUp = true\n", "t.conf:3: unknown key 'PostUp' in "
		  "[Peer]" },
	};
	struct wgconf c;
	char err[256];
	unsigned i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0x5a, sizeof(c));
		ck_assert_int_eq(wgconf_parse(bad[i].text, strlen(bad[i].text),
		    "t.conf", &c, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, bad[i].msg) != NULL,
		    "case %u: '%s' lacks '%s'", i, err, bad[i].msg);
		ck_assert_uint_eq(((unsigned char *)&c)[0], 0x5a);
	}
	ck_assert_int_eq(wgconf_parse("[Interface]\0x", 13, "t.conf", &c, err,
	    sizeof(err)), -EINVAL);
}
END_TEST

/* The largest MTU whose packets fit one UDP datagram is accepted. */
START_TEST(test_mtu_max)
{
	static const char text[] = "[Interface]\n"
	    "PrivateKey = YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"
	    "MTU = 65472\n";
	struct wgconf c;
	char err[256];

	ck_assert_int_eq(wgconf_parse(text, strlen(text), "t.conf", &c, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(c.mtu, WG_MTU_MAX);
	ck_assert_int_eq(c.mtu, 65472);
	wgconf_free(&c);
}
END_TEST

/* Every truncation of a good file parses or fails cleanly. */
START_TEST(test_truncations)
{
	struct wgconf c;
	char err[256];
	size_t i;
	int ok = 0;

	for (i = 0; i <= strlen(good); i++) {
		if (wgconf_parse(good, i, "t.conf", &c, err, sizeof(err)) == 0) {
			ok++;
			wgconf_free(&c);
		}
	}
	ck_assert_int_gt(ok, 0);
}
END_TEST

/* wg-quick's own keys: DNS, Table, FwMark, hooks (in order), SaveConfig. */
START_TEST(test_quick_keys)
{
	static const char text[] =
	    "[Interface]\n"
	    "PrivateKey = YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"
	    "DNS = 10.0.0.53, fd00::53,corp.example ,lan\n"
	    "Table = 1234\n"
	    "FwMark = 0xCa6c\n"
	    "SaveConfig = true\n"
	    "PreUp = echo pre %i > /tmp/x=1\n"
	    "PostUp = echo %i %i; ip link show dev %i\n"
	    "PostUp = logger up\n"
	    "PreDown = true\n"
	    "PostDown = echo %% %i%\n";
	static const char off[] = "[Interface]\nPrivateKey = "
	    "YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nTable = off\n"
	    "FwMark = off\nSaveConfig = false\n";
	struct wgconf c;
	char err[256], s[64], *e;

	ck_assert_int_eq(wgconf_parse(text, strlen(text), "t.conf", &c, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(c.ndns, 2);
	ck_assert_int_eq(addr_fmt(&c.dns[1].sa, false, s, sizeof(s)), 0);
	ck_assert_str_eq(s, "fd00::53");
	ck_assert_uint_eq(c.nsearch, 2);
	ck_assert_str_eq(c.search[0], "corp.example");
	ck_assert_str_eq(c.search[1], "lan");
	ck_assert_int_eq(c.table, WGCONF_TABLE_NUM);
	ck_assert_uint_eq(c.table_id, 1234);
	ck_assert_uint_eq(c.fwmark, 0xca6c);
	ck_assert(c.save_config);
	ck_assert(!c.from_file);
	ck_assert_uint_eq(c.nhooks[WGCONF_PRE_UP], 1);
	ck_assert_uint_eq(c.nhooks[WGCONF_POST_UP], 2);
	ck_assert_uint_eq(c.nhooks[WGCONF_PRE_DOWN], 1);
	ck_assert_uint_eq(c.nhooks[WGCONF_POST_DOWN], 1);
	/* The value after the first '=' is kept verbatim. */
	ck_assert_str_eq(c.hooks[WGCONF_PRE_UP][0], "echo pre %i > /tmp/x=1");
	ck_assert_str_eq(c.hooks[WGCONF_POST_UP][1], "logger up");
	ck_assert_str_eq(wgconf_hook_name(WGCONF_PRE_DOWN), "PreDown");
	/* %i: every occurrence, nothing else. */
	e = wgconf_hook_expand(c.hooks[WGCONF_POST_UP][0], "wg0");
	ck_assert_str_eq(e, "echo wg0 wg0; ip link show dev wg0");
	free(e);
	e = wgconf_hook_expand(c.hooks[WGCONF_POST_DOWN][0], "fz-1");
	ck_assert_str_eq(e, "echo %% fz-1%");
	free(e);
	e = wgconf_hook_expand("%i", "");
	ck_assert_str_eq(e, "");
	free(e);
	/* A parsed text comes from no file: not trusted for hooks. */
	ck_assert(!wgconf_trusted(&c, "t.conf", err, sizeof(err)));
	wgconf_free(&c);

	ck_assert_int_eq(wgconf_parse(off, strlen(off), "t.conf", &c, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(c.table, WGCONF_TABLE_OFF);
	ck_assert_uint_eq(c.fwmark, 0);
	ck_assert(!c.save_config);
	wgconf_free(&c);
}
END_TEST

/* Hooks only from a root-owned file that group and others cannot write. */
START_TEST(test_trusted)
{
	static const char text[] = "[Interface]\nPrivateKey = "
	    "YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nPostUp = true\n";
	char path[] = "/tmp/check_wgconfig.XXXXXX", err[512];
	struct wgconf c;
	int fd;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(chmod(path, 0620), 0);
	ck_assert_int_eq(wgconf_load(path, &c, err, sizeof(err)), 0);
	ck_assert(c.from_file);
	ck_assert(!wgconf_trusted(&c, path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "0620"));
	wgconf_free(&c);
	ck_assert_int_eq(chmod(path, 0600), 0);
	ck_assert_int_eq(wgconf_load(path, &c, err, sizeof(err)), 0);
	ck_assert(wgconf_trusted(&c, path, err, sizeof(err)) ==
	    (geteuid() == 0));
	wgconf_free(&c);
	unlink(path);
}
END_TEST

START_TEST(test_load_missing)
{
	struct wgconf c;
	char err[256];

	ck_assert_int_eq(wgconf_load("/nonexistent/fz.conf", &c, err,
	    sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/fz.conf"));
	ck_assert_int_eq(wgconf_load("/", &c, err, sizeof(err)), -EINVAL);
}
END_TEST

/*
 * No peer cap: a gateway's 10 000 peers (the old parser stopped at 256
 * with "too many peers"), each with an endpoint and two AllowedIPs, plus
 * one peer with 1 000 AllowedIPs; then a duplicate key is still refused.
 */
START_TEST(test_many_peers)
{
	enum { N = 10000 };
	size_t cap = (size_t)N * 200 + 100000, len = 0;
	char *text = malloc(cap), err[256], b64[45];
	struct wgconf c;
	uint8_t k[32];
	unsigned i;

	ck_assert_ptr_nonnull(text);
	len += (size_t)snprintf(text + len, cap - len, "[Interface]\n"
	    "PrivateKey = YAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n");
	for (i = 0; i < N; i++) {
		memset(k, 0, sizeof(k));
		memcpy(k, &i, sizeof(i));
		k[31] = 0x42;
		wg_key_to_base64(k, b64);
		len += (size_t)snprintf(text + len, cap - len, "[Peer]\n"
		    "PublicKey = %s\nEndpoint = 192.0.2.%u:%u\n"
		    "AllowedIPs = 10.%u.%u.%u/32, fd00::%x/128\n", b64,
		    i % 250 + 1, 1024 + i, i >> 16, (i >> 8) & 255, i & 255,
		    i);
	}
	len += (size_t)snprintf(text + len, cap - len, "[Peer]\n"
	    "PublicKey = %s\nAllowedIPs = ",
	    "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=");
	for (i = 0; i < 1000; i++)
		len += (size_t)snprintf(text + len, cap - len,
		    "%s172.16.%u.%u/32", i == 0 ? "" : ", ", i / 256, i % 256);
	len += (size_t)snprintf(text + len, cap - len, "\n");
	ck_assert_uint_lt(len, cap);
	ck_assert_int_eq(wgconf_parse(text, len, "t.conf", &c, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(c.npeers, N + 1);
	ck_assert_uint_eq(c.peers[N - 1].nallowed, 2);
	ck_assert_uint_eq(c.peers[N].nallowed, 1000);
	ck_assert_uint_eq(c.peers[N].allowed[999].addr[3], 999 % 256);
	ck_assert(c.peers[1234].has_endpoint);
	wgconf_free(&c);

	/* The same key twice, far apart, names the second one's line. */
	len += (size_t)snprintf(text + len, cap - len, "[Peer]\n"
	    "PublicKey = %s\n", b64);	/* peer N - 1's key */
	ck_assert_int_eq(wgconf_parse(text, len, "t.conf", &c, err,
	    sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "duplicate [Peer] PublicKey"));
	free(text);
}
END_TEST

static Suite *
wgconfig_suite(void)
{
	Suite *s = suite_create("wgconfig");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_good);
	tcase_add_test(tc, test_bad);
	tcase_add_test(tc, test_mtu_max);
	tcase_add_test(tc, test_truncations);
	tcase_add_test(tc, test_load_missing);
	tcase_add_test(tc, test_quick_keys);
	tcase_add_test(tc, test_trusted);
	tcase_add_test(tc, test_many_peers);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(wgconfig_suite)
