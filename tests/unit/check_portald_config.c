/* SPDX-License-Identifier: ISC */
/* fz-portald's config parser: the example, and errors with lines. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "contrib/portal/config.h"

/* The example of issue 12, one key per line where it matters. */
static const char example[] =
"{ \"account\": {\"slug\": \"acme\", \"search_domain\": \"corp.test\",\n"	/* 1 */
"    \"upstream_do53\": [\"10.0.0.53\"]},\n"				/* 2 */
"  \"relay_token\": \"relay-secret-token\",\n"				/* 3 */
"  \"turn_servers\": [{\"addr\": \"10.0.0.5:3478\", \"secret\": \"s\"}],\n"	/* 4 */
"  \"sites\": [{\"name\": \"hq\", \"gateway_token\": \"gw-token\"}],\n"	/* 5 */
"  \"resources\": [\n"							/* 6 */
"    {\"name\": \"lan\",  \"type\": \"cidr\", \"address\": \"10.50.0.0/24\",\n" /* 7 */
"     \"site\": \"hq\", \"filters\": [{\"protocol\": \"tcp\", \"ports\": \"80-443\"},\n" /* 8 */
"       {\"protocol\": \"icmp\"}]},\n"					/* 9 */
"    {\"name\": \"wiki\", \"type\": \"dns\",  \"address\": \"*.corp.test\", \"site\": \"hq\"},\n" /* 10 */
"    {\"name\": \"Internet\", \"type\": \"internet\", \"site\": \"hq\"}],\n"	/* 11 */
"  \"clients\": [{\"name\": \"alice\", \"token\": \"alice-token\", \"groups\": [\"eng\"]}],\n" /* 12 */
"  \"policies\": [{\"group\": \"eng\", \"resource\": \"lan\"}] }\n";	/* 13 */

static int
parse(const char *text, struct pd_config **cfg, char *err, size_t n)
{
	return pd_config_parse("t.json", text, strlen(text), cfg, err, n);
}

/* Replaces the first occurrence of from in example by to and parses. */
static int
parse_edit(const char *from, const char *to, char *err, size_t n)
{
	char buf[4096];
	const char *p = strstr(example, from);
	struct pd_config *cfg = NULL;
	int r;

	ck_assert_ptr_nonnull(p);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - example), example, to,
	    p + strlen(from));
	r = parse(buf, &cfg, err, n);
	pd_config_free(cfg);
	return r;
}

#define EXPECT_ERR(from, to, msg) do {					\
	char e_[512];							\
	ck_assert_int_eq(parse_edit(from, to, e_, sizeof(e_)), -EINVAL);\
	ck_assert_msg(strstr(e_, msg) != NULL, "got \"%s\", want \"%s\"",\
	    e_, msg);							\
} while (0)

START_TEST(test_example)
{
	struct pd_config *cfg = NULL;
	char err[512], id[PD_UUID_LEN + 1];
	const struct pd_resource *lan, *wiki, *inet;

	ck_assert_msg(parse(example, &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(cfg->slug, "acme");
	ck_assert_str_eq(cfg->search_domain, "corp.test");
	ck_assert_uint_eq(cfg->nupstream, 1);
	ck_assert_str_eq(cfg->upstream_do53[0], "10.0.0.53");
	ck_assert_str_eq(cfg->relay_token, "relay-secret-token");
	ck_assert_uint_eq(cfg->nturn, 1);
	ck_assert_int_eq(cfg->turn[0].family, AF_INET);
	ck_assert_uint_eq(cfg->nsites, 1);
	ck_assert_uint_eq(cfg->nresources, 3);
	lan = &cfg->resources[0];
	wiki = &cfg->resources[1];
	inet = &cfg->resources[2];
	ck_assert_int_eq(lan->type, PD_RES_CIDR);
	ck_assert_str_eq(lan->address, "10.50.0.0/24");
	ck_assert_uint_eq(lan->nfilters, 2);
	ck_assert_int_eq(lan->filters[0].protocol, PD_PROTO_TCP);
	ck_assert_uint_eq(lan->filters[0].port_start, 80);
	ck_assert_uint_eq(lan->filters[0].port_end, 443);
	ck_assert_int_eq(lan->filters[1].protocol, PD_PROTO_ICMP);
	ck_assert_int_eq(wiki->type, PD_RES_DNS);
	ck_assert_str_eq(wiki->address, "*.corp.test");
	ck_assert_int_eq(inet->type, PD_RES_INTERNET);
	ck_assert_ptr_null(inet->address);
	/* name-based ids: stable, version 5, distinct per kind */
	ck_assert_int_eq(pd_uuid_from_name("resource", "lan", id), 0);
	ck_assert_str_eq(lan->id, id);
	ck_assert_int_eq(id[14], '5');
	ck_assert_int_eq(pd_uuid_from_name("site", "lan", id), 0);
	ck_assert_str_ne(lan->id, id);
	ck_assert_ptr_eq(pd_config_resource(cfg, wiki->id), wiki);
	ck_assert_ptr_eq(pd_config_site(cfg, cfg->sites[0].id), &cfg->sites[0]);
	/* policies */
	ck_assert_int_eq(pd_config_allowed(cfg, &cfg->clients[0], lan), 1);
	ck_assert_int_eq(pd_config_allowed(cfg, &cfg->clients[0], wiki), 0);
	pd_config_free(cfg);
}
END_TEST

START_TEST(test_explicit_id)
{
	struct pd_config *cfg = NULL;
	char err[512];
	const char *dup = "{\"account\":{\"slug\":\"x\"},\n"
	    "\"sites\":[{\"name\":\"a\",\"gateway_token\":\"t1\"},\n"
	    "{\"name\":\"b\",\"gateway_token\":\"t2\",\n"
	    "\"id\":\"0B5A6E4A-0000-4000-8000-000000000001\"},\n"
	    "{\"name\":\"c\",\"gateway_token\":\"t3\",\n"
	    "\"id\":\"0b5a6e4a-0000-4000-8000-000000000001\"}]}";

	ck_assert_int_eq(parse(dup, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "t.json:6: sites[2].id: duplicate");
	ck_assert_int_eq(parse_edit("{\"name\": \"wiki\",",
	    "{\"id\": \"733E8D14-C18D-4931-AF30-3639FA09C0C0\", \"name\": \"wiki\",",
	    err, sizeof(err)), 0);
	EXPECT_ERR("{\"name\": \"wiki\",", "{\"id\": \"nope\", \"name\": \"wiki\",",
	    "t.json:10: resources[1].id: not a UUID");
}
END_TEST

START_TEST(test_errors_name_line_and_key)
{
	EXPECT_ERR("\"relay_token\"", "\"relay_tokens\"",
	    "t.json:3: relay_tokens: unknown key");
	EXPECT_ERR("\"search_domain\"", "\"search_domains\"",
	    "t.json:1: account.search_domains: unknown key");
	EXPECT_ERR("{\"name\": \"hq\",", "{\"name\": 7,",
	    "t.json:5: sites[0].name: must be a string");
	EXPECT_ERR("10.50.0.0/24", "10.50.0.0/33",
	    "t.json:7: resources[0].address: not a CIDR");
	EXPECT_ERR("10.50.0.0/24", "10.50.0.1/24",
	    "t.json:7: resources[0].address: host bits set");
	EXPECT_ERR("\"80-443\"", "\"443-80\"",
	    "t.json:8: resources[0].filters[0].ports");
	EXPECT_ERR("\"80-443\"", "\"70000\"",
	    "t.json:8: resources[0].filters[0].ports");
	EXPECT_ERR("{\"protocol\": \"icmp\"}", "{\"protocol\": \"sctp\"}",
	    "t.json:9: resources[0].filters[1].protocol: must be");
	EXPECT_ERR("{\"protocol\": \"icmp\"}",
	    "{\"protocol\": \"icmp\", \"ports\": \"1\"}",
	    "t.json:9: resources[0].filters[1].ports: icmp has no ports");
	EXPECT_ERR("*.corp.test", "corp..test",
	    "t.json:10: resources[1].address: not a DNS name or pattern");
	EXPECT_ERR("*.corp.test", "a*.corp.test",
	    "t.json:10: resources[1].address");
	EXPECT_ERR("\"type\": \"internet\", \"site\": \"hq\"",
	    "\"type\": \"internet\", \"site\": \"branch\"",
	    "t.json:11: resources[2].site: unknown site \"branch\"");
	EXPECT_ERR("\"type\": \"internet\"", "\"type\": \"ip\"",
	    "t.json:11: resources[2].type: must be");
	EXPECT_ERR("\"groups\": [\"eng\"]", "\"groups\": [\"ops\"]",
	    "t.json:13: policies[0].group: no client is in group \"eng\"");
	EXPECT_ERR("\"resource\": \"lan\"", "\"resource\": \"lab\"",
	    "t.json:13: policies[0].resource: unknown resource \"lab\"");
	EXPECT_ERR("\"alice-token\"", "\"gw-token\"",
	    "t.json:12: clients[0].token: token already used above");
	EXPECT_ERR("\"alice-token\"", "\"alice token\"",
	    "t.json:12: clients[0].token: a token cannot contain spaces");
	EXPECT_ERR("\"10.0.0.5:3478\"", "\"10.0.0.5\"",
	    "t.json:4: turn_servers[0].addr: must be IP:PORT");
	EXPECT_ERR("[\"10.0.0.53\"]", "[\"dns.google\"]",
	    "t.json:2: account.upstream_do53[0]: must be an IP address");
	EXPECT_ERR("\"slug\": \"acme\", ", "",
	    "t.json:1: account.slug: missing");
	EXPECT_ERR("\"site\": \"hq\", \"filters\"", "\"filters\"",
	    "t.json:7: resources[0].site: missing");	/* line of the object */
	/* syntax errors: jansson's line */
	EXPECT_ERR("\"hq\"}],\n", "\"hq\"}]\n", "t.json:12:");
	EXPECT_ERR("\"sites\"", "\"relay_token\"", "t.json:5:");	/* duplicate */
}
END_TEST

START_TEST(test_load_file)
{
	struct pd_config *cfg = NULL;
	char err[512];

	ck_assert_int_eq(pd_config_load("/nonexistent/x.json", &cfg, err,
	    sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.json"));
	ck_assert_int_eq(pd_config_load("/dev/null", &cfg, err, sizeof(err)),
	    -EINVAL);
}
END_TEST

START_TEST(test_minimal)
{
	struct pd_config *cfg = NULL;
	char err[512];

	ck_assert_int_eq(parse("{\"account\":{\"slug\":\"x\"}}", &cfg, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(cfg->nresources, 0);
	ck_assert_ptr_null(cfg->relay_token);
	pd_config_free(cfg);
	ck_assert_int_eq(parse("[]", &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(parse("{}", &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "t.json:1: account: missing");
}
END_TEST

/* A shared config lives until its last owner lets go. */
START_TEST(test_ref)
{
	struct pd_config *cfg = NULL;
	char err[512];

	ck_assert_int_eq(parse("{\"account\":{\"slug\":\"x\"}}", &cfg, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(cfg->refs, 1);
	ck_assert_ptr_eq(pd_config_ref(cfg), cfg);
	ck_assert_ptr_eq(pd_config_ref(cfg), cfg);
	pd_config_free(cfg);
	pd_config_free(cfg);
	ck_assert_uint_eq(cfg->refs, 1);
	ck_assert_str_eq(cfg->slug, "x");	/* still there (ASan) */
	pd_config_free(cfg);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("portald_config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_example);
	tcase_add_test(tc, test_explicit_id);
	tcase_add_test(tc, test_errors_name_line_and_key);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_minimal);
	tcase_add_test(tc, test_ref);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
