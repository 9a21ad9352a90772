/* SPDX-License-Identifier: ISC */
/*
 * Service mode's pure parts (tunneld/svc/policy.c) and fz-tunneld's
 * command line (tunneld/args.c): the state names on the wire, front-end
 * admission, restart backoff, and argv vectors good and bad.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ifaddrs.h>
#include <net/if.h>

#include "check_util.h"
#include "gwnat.h"
#include "svc.h"
#include "wg.h"

/* after glibc's netinet/in.h, which linux/in.h then leaves alone */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

/* --- gateway: the nft script and the nfnetlink delete ------------------- */

START_TEST(gwnat_script_is_fixed)
{
	char buf[1024];
	int n = gwnat_script(buf, sizeof(buf), "tun-firezone");

	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(strlen(buf), (size_t)n);
	/* a stale table replaced: declared, deleted, made again */
	ck_assert_str_eq(buf,
	    "table inet fz-gateway\n"
	    "delete table inet fz-gateway\n"
	    "table inet fz-gateway {\n"
	    "\tchain postrouting {\n"
	    "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
	    "\t\tip saddr 100.64.0.0/11 oifname != \"tun-firezone\" "
	    "masquerade\n"
	    "\t\tip6 saddr fd00:2021:1111::/107 oifname != \"tun-firezone\" "
	    "masquerade\n"
	    "\t}\n"
	    "}\n");
	/* too small: no partial script */
	ck_assert_int_eq(gwnat_script(buf, 40, "tun-firezone"), -ENOSPC);
}
END_TEST

START_TEST(gwnat_script_bad_names)
{
	static const char *const bad[] = {
		"", "a\"b", "a b", "x;flush ruleset", "a\nb", "0123456789abcdef",
		"tun$", "a{b}",
	};
	char buf[1024];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(gwnat_script(buf, sizeof(buf), bad[i]),
		    -EINVAL);
	ck_assert_int_gt(gwnat_script(buf, sizeof(buf), "wg_0.x-1"), 0);
}
END_TEST

START_TEST(gwnat_deltable_layout)
{
	uint8_t buf[256];
	size_t n = gwnat_deltable_msg(buf, sizeof(buf), 7);
	struct nlmsghdr h[3];
	struct nfgenmsg g;
	struct nlattr a;
	size_t off = 0;
	int i;

	ck_assert_uint_gt(n, 0);
	for (i = 0; i < 3; i++) {
		ck_assert_uint_le(off + sizeof(h[i]), n);
		memcpy(&h[i], buf + off, sizeof(h[i]));
		ck_assert_uint_eq(h[i].nlmsg_seq, 7 + (uint32_t)i);
		off += NLMSG_ALIGN(h[i].nlmsg_len);
	}
	ck_assert_uint_eq(off, n);
	ck_assert_uint_eq(h[0].nlmsg_type, NFNL_MSG_BATCH_BEGIN);
	ck_assert_uint_eq(h[2].nlmsg_type, NFNL_MSG_BATCH_END);
	ck_assert_uint_eq(h[1].nlmsg_type,
	    (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE);
	ck_assert(h[1].nlmsg_flags & NLM_F_ACK);
	off = NLMSG_ALIGN(h[0].nlmsg_len);
	memcpy(&g, buf + off + NLMSG_HDRLEN, sizeof(g));
	ck_assert_uint_eq(g.nfgen_family, NFPROTO_INET);
	memcpy(&a, buf + off + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(g)), sizeof(a));
	ck_assert_uint_eq(a.nla_type, NFTA_TABLE_NAME);
	ck_assert_uint_eq(a.nla_len, NLA_HDRLEN + sizeof("fz-gateway"));
	ck_assert_str_eq((char *)buf + off + NLMSG_HDRLEN +
	    NLMSG_ALIGN(sizeof(g)) + NLA_HDRLEN, "fz-gateway");
	/* a buffer too small gets nothing */
	ck_assert_uint_eq(gwnat_deltable_msg(buf, n - 1, 7), 0);
}
END_TEST

/* --- CONNECTIONS merged with the data plane's counters ------------------ */

static void
fake_bytes(void *arg, const uint8_t key[WG_KEY_LEN], uint64_t *rx,
    uint64_t *tx)
{
	(*(int *)arg)++;
	*rx = key[0] == 0x1c ? 1000 : 0;	/* "HIgo..." decodes to 1c 88 */
	*tx = key[0] == 0x1c ? 2000 : 0;
}

#define K1 "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
#define K2 "kgNlY5Gjs6fQ4H5m/OtRBO4cWkmbmY1mCdQJCFvtZo8="

START_TEST(connections_merge_good)
{
	char out[1024];
	int calls = 0;

	ck_assert_int_eq(svc_connections_merge("", fake_bytes, &calls, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(svc_connections_merge(
	    "gw-1 " K1 " direct 10.99.2.2:51820 0 1234 1700000000; "
	    "gw-2 " K2 " relayed [2001:db8::1]:3478 16385 0 1700000001",
	    fake_bytes, &calls, out, sizeof(out)), 0);
	ck_assert_int_eq(calls, 2);
	/* no keys out; the counters in */
	ck_assert_str_eq(out,
	    "gw-1 direct 10.99.2.2:51820 0 1234 1700000000 1000 2000; "
	    "gw-2 relayed [2001:db8::1]:3478 16385 0 1700000001 0 0");
	/* too small: whole entries only */
	ck_assert_int_eq(svc_connections_merge(
	    "gw-1 " K1 " direct 10.99.2.2:51820 0 1234 1700000000; "
	    "gw-2 " K2 " relayed [2001:db8::1]:3478 16385 0 1700000001",
	    fake_bytes, &calls, out, 70), -ENOSPC);
	ck_assert_str_eq(out,
	    "gw-1 direct 10.99.2.2:51820 0 1234 1700000000 1000 2000");
	/* relayed through the peer's allocation: channel 0 */
	ck_assert_int_eq(svc_connections_merge(
	    "gw-1 " K1 " relayed 10.99.4.2:3478 0 1234 1700000000",
	    fake_bytes, &calls, out, sizeof(out)), 0);
	ck_assert_str_eq(out,
	    "gw-1 relayed 10.99.4.2:3478 0 1234 1700000000 1000 2000");
}
END_TEST

/* PEER_STATS' list: base64 keys and both counters, whole entries. */
START_TEST(peer_stats_fmt)
{
	struct svc_peer_count c[2];
	char out[256];

	memset(c, 0, sizeof(c));
	ck_assert_int_eq(wg_key_from_base64(K1, c[0].key), 0);
	ck_assert_int_eq(wg_key_from_base64(K2, c[1].key), 0);
	c[0].rx_bytes = 1000;
	c[0].tx_bytes = 2000;
	c[1].rx_bytes = UINT64_MAX;
	ck_assert_int_eq(svc_peer_stats_fmt(c, 0, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(svc_peer_stats_fmt(c, 2, out, sizeof(out)), 0);
	ck_assert_str_eq(out, K1 " 1000 2000; " K2
	    " 18446744073709551615 0");
	ck_assert_int_eq(svc_peer_stats_fmt(c, 2, out, 80), -ENOSPC);
	ck_assert_str_eq(out, K1 " 1000 2000");
}
END_TEST

START_TEST(connections_merge_bad)
{
	static const char *const bad[] = {
		"gw-1",
		"gw-1 " K1 " direct 10.99.2.2:51820 0 1234",
		"gw-1 " K1 " direct 10.99.2.2:51820 0 1234 1 extra",
		"gw-1 notakey direct 10.99.2.2:51820 0 1234 1",
		"gw-1 " K1 " sideways 10.99.2.2:51820 0 1234 1",
		"gw-1 " K1 " direct 10.99.2.2:51820 16385 1234 1",
		"gw-1 " K1 " relayed 10.99.2.2:3478 1 1234 1",
		"gw-1 " K1 " relayed 10.99.2.2:3478 16383 1234 1",
		"gw-1 " K1 " relayed 10.99.2.2:3478 20480 1234 1",
		"gw-1 " K1 " direct 10.99.2.2 0 1234 1",
		"gw-1 " K1 " direct 0.0.0.0:1 0 1234 1",
		"gw-1 " K1 " direct 10.99.2.2:51820 0 -1 1",
		"gw-1 " K1 " direct 10.99.2.2:51820 0 1x 1",
		"gw-1 " K1 " direct 10.99.2.2:51820 0 99999999999 1",
		"gw-1  " K1 " direct 10.99.2.2:51820 0 1 1",
		"gw-1 " K1 " direct 10.99.2.2:51820 0 1 1; ",
		"; gw-1 " K1 " direct 10.99.2.2:51820 0 1 1",
		"gw-1 " K1 " direct 10.99.2.2:51820 0 1 1;gw-2",
	};
	char out[1024];
	int calls = 0;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(svc_connections_merge(bad[i], fake_bytes, &calls,
		    out, sizeof(out)) == -EINVAL, "%s", bad[i]);
		ck_assert_str_eq(out, "");
	}
}
END_TEST

/* --- the tunnel state at the wire boundary ------------------------------ */

START_TEST(state_names_are_the_wire_strings)
{
	/* fzctl, the tests and the man page read exactly these. */
	ck_assert_str_eq(svc_state_name(SVC_STARTING), "starting");
	ck_assert_str_eq(svc_state_name(SVC_SIGNED_OUT), "signed_out");
	ck_assert_str_eq(svc_state_name(SVC_CONNECTING), "connecting");
	ck_assert_str_eq(svc_state_name(SVC_ONLINE), "online");
	ck_assert_str_eq(svc_state_name(SVC_RESTARTING), "restarting");
	ck_assert_str_eq(svc_state_name(SVC_STATE_COUNT), "unknown");
	ck_assert_str_eq(svc_state_name((enum svc_state)-1), "unknown");
}
END_TEST

START_TEST(state_round_trip)
{
	enum svc_state st, back;

	for (st = 0; st < SVC_STATE_COUNT; st++) {
		back = SVC_STATE_COUNT;
		ck_assert_int_eq(svc_state_parse(svc_state_name(st), &back),
		    0);
		ck_assert_int_eq(back, st);
	}
}
END_TEST

START_TEST(state_parse_rejects)
{
	static const char *bad[] = { "", "unknown", "Online", "signed-out",
	    "signed_out ", " connecting", "connectingx", "restart" };
	enum svc_state st = SVC_ONLINE;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(svc_state_parse(bad[i], &st), -EINVAL);
		ck_assert_int_eq(st, SVC_ONLINE);	/* not written */
	}
}
END_TEST

START_TEST(state_from_controld)
{
	enum svc_state st = SVC_STATE_COUNT;

	ck_assert_int_eq(svc_state_from_controld("signed_out", &st), 0);
	ck_assert_int_eq(st, SVC_SIGNED_OUT);
	ck_assert_int_eq(svc_state_from_controld("connecting", &st), 0);
	ck_assert_int_eq(st, SVC_CONNECTING);
	ck_assert_int_eq(svc_state_from_controld("online", &st), 0);
	ck_assert_int_eq(st, SVC_ONLINE);
	/* tunneld's own states: fz-controld reporting one is a violation */
	ck_assert_int_eq(svc_state_from_controld("starting", &st), -EPERM);
	ck_assert_int_eq(svc_state_from_controld("restarting", &st), -EPERM);
	ck_assert_int_eq(svc_state_from_controld("urgent", &st), -EINVAL);
	ck_assert_int_eq(st, SVC_ONLINE);
}
END_TEST

/* --- front-end admission ------------------------------------------------ */

static struct frontend fe[MAX_FRONTENDS];

static void
take(int i, uid_t uid, bool refused)
{
	fe[i].used = true;
	fe[i].uid = uid;
	fe[i].refused = refused;
}

START_TEST(census_counts)
{
	struct svc_fe_census c;

	memset(fe, 0, sizeof(fe));
	svc_fe_census(fe, MAX_FRONTENDS, 1000, &c);
	ck_assert_int_eq(c.free_slot, 0);
	ck_assert_uint_eq(c.same_uid, 0);
	ck_assert_uint_eq(c.nonroot, 0);

	take(0, 1000, false);
	take(1, 0, false);
	take(2, 1000, true);		/* refused: not counted */
	take(4, 1001, false);
	svc_fe_census(fe, MAX_FRONTENDS, 1000, &c);
	ck_assert_int_eq(c.free_slot, 3);
	ck_assert_uint_eq(c.same_uid, 1);
	ck_assert_uint_eq(c.nonroot, 2);
	svc_fe_census(fe, MAX_FRONTENDS, 0, &c);
	ck_assert_uint_eq(c.same_uid, 1);

	for (int i = 0; i < MAX_FRONTENDS; i++)
		take(i, 0, false);
	svc_fe_census(fe, MAX_FRONTENDS, 0, &c);
	ck_assert_int_eq(c.free_slot, -1);
	ck_assert_uint_eq(c.same_uid, MAX_FRONTENDS);
}
END_TEST

START_TEST(admit_per_uid_cap)
{
	struct svc_fe_census c;
	char msg[200] = "";
	int i;

	memset(fe, 0, sizeof(fe));
	for (i = 0; i < FE_MAX_PER_UID - 1; i++)
		take(i, 1000, false);
	svc_fe_census(fe, MAX_FRONTENDS, 1000, &c);
	ck_assert_int_eq(svc_fe_admit(1000, true, &c, msg, sizeof(msg)), 0);
	take(i, 1000, false);
	svc_fe_census(fe, MAX_FRONTENDS, 1000, &c);
	ck_assert_int_eq(svc_fe_admit(1000, true, &c, msg, sizeof(msg)),
	    -EUSERS);
	ck_assert_str_eq(msg, "too many connections: uid 1000 has 16 open "
	    "(at most 16)");
	/* another uid, and root, are not held back by uid 1000's */
	svc_fe_census(fe, MAX_FRONTENDS, 1001, &c);
	ck_assert_int_eq(svc_fe_admit(1001, true, &c, msg, sizeof(msg)), 0);
	svc_fe_census(fe, MAX_FRONTENDS, 0, &c);
	ck_assert_int_eq(svc_fe_admit(0, true, &c, msg, sizeof(msg)), 0);
	/* a refused one frees its count: it is only being answered */
	fe[0].refused = true;
	svc_fe_census(fe, MAX_FRONTENDS, 1000, &c);
	ck_assert_int_eq(svc_fe_admit(1000, true, &c, msg, sizeof(msg)), 0);
}
END_TEST

START_TEST(admit_root_reserve)
{
	struct svc_fe_census c;
	char msg[200] = "";
	int i;

	/* non-root uids, 8 each, up to the slots not kept for root */
	memset(fe, 0, sizeof(fe));
	for (i = 0; i < MAX_FRONTENDS - FE_ROOT_RESERVED; i++)
		take(i, 2000 + (uid_t)i / 8, false);
	svc_fe_census(fe, MAX_FRONTENDS, 3000, &c);
	ck_assert_int_ge(c.free_slot, 0);
	ck_assert_int_eq(svc_fe_admit(3000, true, &c, msg, sizeof(msg)),
	    -EUSERS);
	ck_assert_str_eq(msg, "too many front-end connections (56; the rest "
	    "are kept for root)");
	svc_fe_census(fe, MAX_FRONTENDS, 0, &c);
	ck_assert_int_eq(svc_fe_admit(0, true, &c, msg, sizeof(msg)), 0);
	/* root fills its reserve: still admitted until no slot is free */
	for (; i < MAX_FRONTENDS - 1; i++)
		take(i, 0, false);
	svc_fe_census(fe, MAX_FRONTENDS, 0, &c);
	ck_assert_int_eq(c.free_slot, MAX_FRONTENDS - 1);
	ck_assert_int_eq(svc_fe_admit(0, true, &c, msg, sizeof(msg)), 0);
}
END_TEST

START_TEST(admit_not_member)
{
	struct svc_fe_census c = { 0, 0, 0 };
	char msg[200] = "";

	ck_assert_int_eq(svc_fe_admit(65534, false, &c, msg, sizeof(msg)),
	    -EACCES);
	ck_assert_str_eq(msg, "permission denied: uid 65534 is not root or a "
	    "member of group fz-client");
	/* membership is checked before any cap */
	c.same_uid = FE_MAX_PER_UID;
	ck_assert_int_eq(svc_fe_admit(65534, false, &c, msg, sizeof(msg)),
	    -EACCES);
}
END_TEST

/* --- fz-controld's restart backoff -------------------------------------- */

START_TEST(backoff_doubles_and_resets)
{
	static const unsigned want[] = { 500, 1000, 2000, 4000, 8000, 16000,
	    30000, 30000 };
	unsigned b = BACKOFF_MIN_MS;
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_uint_eq(svc_backoff_next(&b, 100), want[i]);
	ck_assert_uint_eq(b, BACKOFF_MAX_MS);
	/* up for STABLE_MS: the next start is quick again */
	ck_assert_uint_eq(svc_backoff_next(&b, STABLE_MS - 1), 30000);
	ck_assert_uint_eq(svc_backoff_next(&b, STABLE_MS), 500);
	ck_assert_uint_eq(b, 1000);
}
END_TEST

/* --- tunneld_config_from_args ------------------------------------------- */

#define ARGS(...)	((char *[]){ "fz-tunneld", __VA_ARGS__, NULL })

static enum tunneld_args
parse(int argc, char **argv, struct tunneld_opts *o)
{
	unsetenv("RUST_LOG");
	unsetenv("LOG_DIR");
	unsetenv("LOG_FORMAT");
	unsetenv("FIREZONE_LOG_FORMAT");
	memset(o, 0x5a, sizeof(*o));	/* to see what is written */
	return tunneld_config_from_args(argc, argv, o);
}

static bool
untouched(const struct tunneld_opts *o)
{
	const unsigned char *p = (const unsigned char *)o;

	for (size_t i = 0; i < sizeof(*o); i++)
		if (p[i] != 0x5a)
			return false;
	return true;
}

START_TEST(args_defaults)
{
	char *v[] = { "fz-tunneld", NULL };
	struct tunneld_opts o;

	ck_assert_int_eq(parse(1, v, &o), TUNNELD_ARGS_RUN);
	ck_assert_int_eq(o.tun_queues, TUNNELD_DEFAULT_QUEUES);
	ck_assert_int_eq(o.mtu, 0);
	ck_assert_str_eq(o.socket_path, TUNNELD_DEFAULT_SOCKET);
	ck_assert_ptr_null(o.config);
	ck_assert_ptr_null(o.show);
	ck_assert_ptr_null(o.log_filter);
	ck_assert(!o.no_seccomp);
	ck_assert_int_eq(o.seccomp, SECCOMP_DEFAULT_KILL);
}
END_TEST

START_TEST(args_good)
{
	char **v = ARGS("--mode", "gateway", "--mtu", "1400", "-q", "4",
	    "--seccomp", "trap", "-s", "/run/x.sock", "--user", "nobody",
	    "--no-telemetry", "--frontend-allow-log-off", "--check",
	    "--log-filter", "info,tunneld=debug", "--log-format", "json",
	    "--token-path=/t", "--show", "wg0", "--no-masquerade");
	int argc = 0;
	struct tunneld_opts o;

	while (v[argc] != NULL)
		argc++;
	ck_assert_int_eq(parse(argc, v, &o), TUNNELD_ARGS_RUN);
	ck_assert_str_eq(o.mode, "gateway");
	ck_assert_int_eq(o.mtu, 1400);
	ck_assert_int_eq(o.tun_queues, 4);
	ck_assert(!o.no_seccomp);
	ck_assert_int_eq(o.seccomp, SECCOMP_DEFAULT_TRAP);
	ck_assert_str_eq(o.socket_path, "/run/x.sock");
	ck_assert_str_eq(o.user, "nobody");
	ck_assert(o.no_telemetry && o.fe_allow_log_off && o.check);
	ck_assert(!o.fe_allow_portal_url);
	ck_assert_str_eq(o.log_filter, "info,tunneld=debug");
	ck_assert_int_eq(o.log_format, LOG_FORMAT_JSON);
	ck_assert_str_eq(o.token_path, "/t");
	ck_assert_str_eq(o.show, "wg0");	/* "--show IFACE" */
	ck_assert(o.no_masquerade);
}
END_TEST

START_TEST(args_mtu_bounds)
{
	char lo[16], hi[16], below[16], above[16];
	char *ok1[] = { "fz-tunneld", "--mtu", lo, NULL };
	char *ok2[] = { "fz-tunneld", "--mtu", hi, NULL };
	char *bad[][4] = {
		{ "fz-tunneld", "--mtu", below, NULL },
		{ "fz-tunneld", "--mtu", above, NULL },
		{ "fz-tunneld", "--mtu", "1400x", NULL },
		{ "fz-tunneld", "--mtu", "", NULL },
		{ "fz-tunneld", "--mtu", "-1280", NULL },
		{ "fz-tunneld", "--mtu", "99999999999999999999", NULL },
	};
	struct tunneld_opts o;
	size_t i;

	snprintf(lo, sizeof(lo), "%d", WG_MTU_MIN);
	snprintf(hi, sizeof(hi), "%d", (int)WG_MTU_MAX);
	snprintf(below, sizeof(below), "%d", WG_MTU_MIN - 1);
	snprintf(above, sizeof(above), "%d", (int)WG_MTU_MAX + 1);
	ck_assert_int_eq(parse(3, ok1, &o), TUNNELD_ARGS_RUN);
	ck_assert_int_eq(o.mtu, WG_MTU_MIN);
	ck_assert_int_eq(parse(3, ok2, &o), TUNNELD_ARGS_RUN);
	ck_assert_int_eq(o.mtu, (int)WG_MTU_MAX);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(parse(3, bad[i], &o), TUNNELD_ARGS_USAGE);
		ck_assert(untouched(&o));
	}
}
END_TEST

START_TEST(args_bad)
{
	char *unknown[] = { "fz-tunneld", "--bogus", NULL };
	char *queues[] = { "fz-tunneld", "-q", "65", NULL };
	char *seccomp[] = { "fz-tunneld", "--seccomp", "allow", NULL };
	char *format[] = { "fz-tunneld", "--log-format", "xml", NULL };
	char *extra[] = { "fz-tunneld", "-c", "wg0.conf", "extra", NULL };
	char *noarg[] = { "fz-tunneld", "--mtu", NULL };
	struct tunneld_opts o;

	ck_assert_int_eq(parse(2, unknown, &o), TUNNELD_ARGS_USAGE);
	ck_assert(untouched(&o));
	ck_assert_int_eq(parse(3, queues, &o), TUNNELD_ARGS_USAGE);
	ck_assert_int_eq(parse(3, seccomp, &o), TUNNELD_ARGS_USAGE);
	ck_assert_int_eq(parse(3, format, &o), TUNNELD_ARGS_USAGE);
	ck_assert_int_eq(parse(4, extra, &o), TUNNELD_ARGS_USAGE);
	ck_assert_int_eq(parse(2, noarg, &o), TUNNELD_ARGS_USAGE);
	ck_assert(untouched(&o));
}
END_TEST

START_TEST(args_env_and_exit)
{
	char *none[] = { "fz-tunneld", NULL };
	char *flag[] = { "fz-tunneld", "--log-filter", "warn", NULL };
	char *off[] = { "fz-tunneld", "--seccomp", "off", NULL };
	char *version[] = { "fz-tunneld", "--version", NULL };
	struct tunneld_opts o;

	unsetenv("LOG_FORMAT");
	unsetenv("FIREZONE_LOG_FORMAT");
	setenv("RUST_LOG", "debug", 1);
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(tunneld_config_from_args(1, none, &o),
	    TUNNELD_ARGS_RUN);
	ck_assert_str_eq(o.log_filter, "debug");
	ck_assert_int_eq(tunneld_config_from_args(3, flag, &o),
	    TUNNELD_ARGS_RUN);
	ck_assert_str_eq(o.log_filter, "warn");	/* flags win */
	setenv("LOG_FORMAT", "yaml", 1);
	ck_assert_int_eq(tunneld_config_from_args(1, none, &o),
	    TUNNELD_ARGS_USAGE);
	unsetenv("LOG_FORMAT");
	unsetenv("RUST_LOG");
	ck_assert_int_eq(parse(3, off, &o), TUNNELD_ARGS_RUN);
	ck_assert(o.no_seccomp);
	ck_assert_int_eq(parse(2, version, &o), TUNNELD_ARGS_DONE);
	ck_assert(untouched(&o));
}
END_TEST

/* --- peers.c: PEER_SET checked before it reaches the data plane --- */

static const char PUB[] = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";

static void
peer_msg(struct ipc_peer_set *m)
{
	memset(m, 0, sizeof(*m));
	m->peer_id = "gw";
	m->public_key = PUB;
	m->psk = "";
	m->allowed_ips = "100.64.0.2/32, fd00:2021:1111::2/128, 10.50.0.0/24";
	m->sock = 4;
	m->remote = "192.0.2.7:51820";
	m->relay = "";
	m->channel = 0;
	m->initiate = true;
}

START_TEST(peer_parse_good)
{
	static struct svc_peer_spec sp;
	struct ipc_peer_set m;
	char a[ADDR_STRLEN];

	peer_msg(&m);
	ck_assert_int_eq(svc_peer_parse(&m, &sp), 0);
	ck_assert_uint_eq(sp.nallowed, 3);
	ck_assert_int_eq(sp.allowed[1].family, AF_INET6);
	ck_assert_uint_eq(sp.allowed[1].prefix, 128);
	ck_assert_uint_eq(sp.allowed[2].prefix, 24);
	ck_assert_uint_eq(sp.channel, 0);
	ck_assert(!sp.has_psk);
	ck_assert(sp.initiate);
	ck_assert_int_eq(addr_fmt(&sp.to.sa, true, a, sizeof(a)), 0);
	ck_assert_str_eq(a, "192.0.2.7:51820");
	/* relayed, IPv6, a PSK, no allowed IPs */
	m.remote = "";
	m.relay = "[2001:db8::9]:3478";
	m.channel = 0x4fff;
	m.sock = 6;
	m.psk = PUB;
	m.allowed_ips = "";
	ck_assert_int_eq(svc_peer_parse(&m, &sp), 0);
	ck_assert_uint_eq(sp.channel, 0x4fff);
	ck_assert(sp.has_psk);
	ck_assert_uint_eq(sp.nallowed, 0);
	ck_assert_int_eq(addr_fmt(&sp.to.sa, true, a, sizeof(a)), 0);
	ck_assert_str_eq(a, "[2001:db8::9]:3478");
	m.channel = 0x4000;
	ck_assert_int_eq(svc_peer_parse(&m, &sp), 0);
}
END_TEST

/* Each of these is a violation by fz-controld. */
START_TEST(peer_parse_bad)
{
	static struct svc_peer_spec sp;
	struct ipc_peer_set m;
	static const char *const bad_allowed[] = {
		"10.0.0.1/24", "10.0.0.0/33", "10.0.0.0/8,", ",10.0.0.0/8",
		"10.0.0.0/8,,10.1.0.0/16", "x", "10.0.0.0/8 10.1.0.0/16",
		"fd00::/129", " , ",
	};
	static const char *const bad_addr[] = {
		"192.0.2.7", "192.0.2.7:0", "0.0.0.0:1", "224.0.0.1:1",
		"255.255.255.255:1", "[::]:1", "[ff02::1]:1", "host:1",
		"192.0.2.7:65536",
	};
	size_t i;

	peer_msg(&m);
	m.public_key = "AAAA";
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	peer_msg(&m);
	m.psk = "not base64 at all, not 44 bytes";
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	for (i = 0; i < sizeof(bad_allowed) / sizeof(*bad_allowed); i++) {
		peer_msg(&m);
		m.allowed_ips = bad_allowed[i];
		ck_assert_msg(svc_peer_parse(&m, &sp) == -EINVAL, "%s",
		    bad_allowed[i]);
	}
	for (i = 0; i < sizeof(bad_addr) / sizeof(*bad_addr); i++) {
		peer_msg(&m);
		m.remote = bad_addr[i];
		ck_assert_msg(svc_peer_parse(&m, &sp) == -EINVAL, "%s",
		    bad_addr[i]);
	}
	/* paths: neither, both, channel out of range, socket mismatch */
	peer_msg(&m);
	m.remote = "";
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	peer_msg(&m);
	m.relay = "192.0.2.1:3478";
	m.channel = 0x4001;
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	peer_msg(&m);
	m.channel = 0x4001;			/* direct with a channel */
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	peer_msg(&m);
	m.remote = "";
	m.relay = "192.0.2.1:3478";
	m.channel = 0x3fff;
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	m.channel = 0x5000;
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	m.channel = 0;
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	peer_msg(&m);
	m.sock = 6;				/* IPv4 address */
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	m.sock = 0;
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	m.sock = 5;
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	/* the spec is wiped on failure */
	peer_msg(&m);
	m.psk = PUB;
	m.sock = 6;
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
	ck_assert(!sp.has_psk);
	for (i = 0; i < WG_KEY_LEN; i++)
		ck_assert_uint_eq(sp.psk[i], 0);
}
END_TEST

/* More prefixes than SVC_PEER_ALLOWED_MAX: refused, not truncated. */
START_TEST(peer_parse_many_allowed)
{
	static struct svc_peer_spec sp;
	static char list[SVC_PEER_ALLOWED_MAX * 20];
	struct ipc_peer_set m;
	size_t len = 0, i;

	for (i = 0; i < SVC_PEER_ALLOWED_MAX; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len,
		    "%s10.%zu.%zu.0/24", i ? ", " : "", i / 256, i % 256);
	peer_msg(&m);
	m.allowed_ips = list;
	ck_assert_int_eq(svc_peer_parse(&m, &sp), 0);
	ck_assert_uint_eq(sp.nallowed, SVC_PEER_ALLOWED_MAX);
	snprintf(list + len, sizeof(list) - len, ", 10.255.0.0/24");
	ck_assert_int_eq(svc_peer_parse(&m, &sp), -EINVAL);
}
END_TEST

/* LOCAL_SOCKETS: every address of each socket's family; loopback last. */
START_TEST(sockets_fmt)
{
	struct sockaddr_in a4, lo4;
	struct sockaddr_in6 a6, ll6;
	struct ifaddrs i[4];
	char out[256];

	memset(i, 0, sizeof(i));
	memset(&a4, 0, sizeof(a4));
	a4.sin_family = AF_INET;
	a4.sin_addr.s_addr = htonl(0x0a000002);
	lo4 = a4;
	lo4.sin_addr.s_addr = htonl(0x7f000001);
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	a6.sin6_addr.s6_addr[0] = 0xfd;
	a6.sin6_addr.s6_addr[15] = 2;
	ll6 = a6;
	ll6.sin6_addr.s6_addr[0] = 0xfe;
	ll6.sin6_addr.s6_addr[1] = 0x80;
	i[0].ifa_addr = (struct sockaddr *)&lo4;
	i[0].ifa_flags = IFF_UP | IFF_LOOPBACK;
	i[0].ifa_next = &i[1];
	i[1].ifa_addr = (struct sockaddr *)&a4;
	i[1].ifa_flags = IFF_UP;
	i[1].ifa_next = &i[2];
	i[2].ifa_addr = (struct sockaddr *)&ll6;
	i[2].ifa_flags = IFF_UP;
	i[2].ifa_next = &i[3];
	i[3].ifa_addr = (struct sockaddr *)&a6;
	i[3].ifa_flags = IFF_UP;
	ck_assert_int_eq(svc_sockets_fmt(i, NULL, true, true, 52625, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "4=10.0.0.2:52625, 6=[fd00::2]:52625");
	ck_assert_int_eq(svc_sockets_fmt(i, NULL, true, false, 52625, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "4=10.0.0.2:52625");
	/* loopback only when it is all there is */
	i[1].ifa_flags = 0;
	ck_assert_int_eq(svc_sockets_fmt(i, NULL, true, false, 1, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "4=127.0.0.1:1");
	ck_assert_int_eq(svc_sockets_fmt(NULL, NULL, true, true, 1, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	i[1].ifa_flags = IFF_UP;
	/* the tunnel's own addresses are no host candidates */
	i[0].ifa_name = "lo";
	i[1].ifa_name = "eth0";
	i[2].ifa_name = i[3].ifa_name = "tun-firezone";
	ck_assert_int_eq(svc_sockets_fmt(i, "tun-firezone", true, true, 52625,
	    out, sizeof(out)), 0);
	ck_assert_str_eq(out, "4=10.0.0.2:52625");
	ck_assert_int_eq(svc_sockets_fmt(i, NULL, true, true, 52625, out, 20),
	    -ENOSPC);
	ck_assert_uint_lt(strlen(out), 20);
}
END_TEST

static Suite *
svc_suite(void)
{
	Suite *s = suite_create("svc");
	TCase *tc;

	tc = tcase_create("state");
	tcase_add_test(tc, state_names_are_the_wire_strings);
	tcase_add_test(tc, state_round_trip);
	tcase_add_test(tc, state_parse_rejects);
	tcase_add_test(tc, state_from_controld);
	suite_add_tcase(s, tc);

	tc = tcase_create("frontend");
	tcase_add_test(tc, census_counts);
	tcase_add_test(tc, admit_per_uid_cap);
	tcase_add_test(tc, admit_root_reserve);
	tcase_add_test(tc, admit_not_member);
	suite_add_tcase(s, tc);

	tc = tcase_create("supervise");
	tcase_add_test(tc, backoff_doubles_and_resets);
	suite_add_tcase(s, tc);

	tc = tcase_create("peers");
	tcase_add_test(tc, peer_parse_good);
	tcase_add_test(tc, peer_parse_bad);
	tcase_add_test(tc, peer_parse_many_allowed);
	tcase_add_test(tc, sockets_fmt);
	suite_add_tcase(s, tc);

	tc = tcase_create("connections");
	tcase_add_test(tc, connections_merge_good);
	tcase_add_test(tc, connections_merge_bad);
	tcase_add_test(tc, peer_stats_fmt);
	suite_add_tcase(s, tc);

	tc = tcase_create("gwnat");
	tcase_add_test(tc, gwnat_script_is_fixed);
	tcase_add_test(tc, gwnat_script_bad_names);
	tcase_add_test(tc, gwnat_deltable_layout);
	suite_add_tcase(s, tc);

	tc = tcase_create("args");
	tcase_add_test(tc, args_defaults);
	tcase_add_test(tc, args_good);
	tcase_add_test(tc, args_mtu_bounds);
	tcase_add_test(tc, args_bad);
	tcase_add_test(tc, args_env_and_exit);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(svc_suite)
