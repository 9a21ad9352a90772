/* SPDX-License-Identifier: ISC */
/*
 * controld/portal.c against a fake portal on loopback (ws.h's server):
 * the URL, query and headers of the upgrade; join, then
 * set_snownet_capabilities; a client's init, resource_deleted and
 * resource_created_or_updated reaching the sink as INTERFACE and whole
 * RESOURCES lists (with sites); reconnecting after the portal drops the
 * connection; a gateway answering create_authorization with the ref as
 * received and asking for relays (no_relays); a 401 invalid_token ending
 * the session with requires_sign_in and no second attempt.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "log.h"
#include "portal.h"
#include "ws.h"

#define UUID_ID		"9e2c7c1f-4d4b-4f5e-9c53-0f6a3b1f2e11"
#define UUID_HASH	"0603e7e10da494a740c09d11943855fa" \
			"ac2d432525934500bac8298a47caef73"
#define PUBKEY		"uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY="
/* A signed ref as the portal makes them, with characters JSON escapes. */
#define REF		"SFMyNTY.g2gDbQ/+\\u00e9\\\"x==.sig"

struct fake {
	struct event_base	*base;
	struct ws_listener	*l;
	struct ws_conn		*conn;		/* the current one */
	uint16_t		 port;
	bool			 gateway;
	bool			 refuse;	/* 401 invalid_token */
	unsigned		 requests, joins, caps, no_relays;
	char			 path[256], query[1024], auth[256], ua[256];
	json_t			*auth_ref;	/* authorization_created ref */

	/* what the sink saw */
	unsigned		 nres_msgs, niface;
	uint32_t		 nres;
	char			 res_names[512], res_sites[512];
	char			 ipv4[64], ipv6[64], search[64], do53[128];
	char			 state[32], detail[513];
	unsigned		 reconnecting, online;
	char			 error[513];
	bool			 requires_sign_in;
	unsigned		 nrelay_msgs;
	uint32_t		 relays;
	char			 relay_ids[256];
	/* what the connection manager's sinks saw */
	unsigned		 nmsgs, init_res;	/* init's resources, intact */
	size_t			 relay_list;
};

static struct fake F;

static void
send_frame(const char *event, const char *payload_json, const char *ref)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "{\"topic\":\"%s\",\"event\":\"%s\","
	    "\"payload\":%s,\"ref\":%s}", F.gateway ? "gateway" : "client",
	    event, payload_json, ref);
	ck_assert_int_eq(ws_send_text(F.conn, buf, strlen(buf)), 0);
}

static const char client_init[] =
	"{\"interface\":{\"ipv4\":\"100.72.112.111\","
	"\"ipv6\":\"fd00:2021:1111::13:efb9\",\"search_domain\":\"corp.test\","
	"\"upstream_do53\":[{\"ip\":\"10.0.0.53\"},{\"ip\":\"10.0.0.54\"}],"
	"\"upstream_doh\":[],\"upstream_dns\":[]},"
	"\"resources\":[{\"id\":\"73037362-715d-4a83-a749-f18eadd970e6\","
	"\"type\":\"cidr\",\"address\":\"172.20.0.0/16\","
	"\"address_description\":null,\"name\":\"net\",\"filters\":[],"
	"\"sites\":[{\"id\":\"bf56f32d-7b2c-4f5d-a784-788977d014a4\","
	"\"name\":\"hq\"}]},"
	"{\"id\":\"03000143-e25e-45c7-aafb-144990e57dcd\",\"type\":\"dns\","
	"\"address\":\"**.corp.example\",\"address_description\":null,"
	"\"name\":\"corp\",\"filters\":[{\"protocol\":\"tcp\","
	"\"port_range_start\":443,\"port_range_end\":443}],\"sites\":["
	"{\"id\":\"bf56f32d-7b2c-4f5d-a784-788977d014a4\",\"name\":\"hq\"},"
	"{\"id\":\"cf56f32d-7b2c-4f5d-a784-788977d014a4\","
	"\"name\":\"branch\"}],"
	"\"ip_stack\":\"dual\"},"
	"{\"id\":\"13000143-e25e-45c7-aafb-144990e57dcd\",\"type\":\"future\","
	"\"name\":\"skipped\"}],"
	"\"relays\":[{\"id\":\"0a133356-7a9e-4b9a-b413-0d95a5720fd8\","
	"\"type\":\"turn\",\"addr\":\"203.0.113.10:3478\",\"username\":"
	"\"1719367575:ZQHcVGkdnfgGmcP1\",\"password\":\"p\","
	"\"expires_at\":1719367575}],\"authorizations\":[],"
	"\"flow_logs\":{\"api_url\":\"https://x.test\","
	"\"upload_interval_secs\":0,\"upload_batch_size\":1000}}";

static const char gateway_init[] =
	"{\"interface\":{\"ipv4\":\"100.72.145.83\","
	"\"ipv6\":\"fd00:2021:1111::5:bcfd\"},\"config\":{"
	"\"ipv4_masquerade_enabled\":true,\"ipv6_masquerade_enabled\":true},"
	"\"relays\":[],\"account_slug\":\"acme\",\"authorizations\":[],"
	"\"flow_logs\":{\"api_url\":\"https://x.test\","
	"\"upload_interval_secs\":0,\"upload_batch_size\":1000}}";

static const char create_authorization[] =
	"{\"ref\":\"" REF "\",\"resource\":{\"id\":"
	"\"73037362-715d-4a83-a749-f18eadd970e6\",\"type\":\"cidr\","
	"\"address\":\"172.20.0.0/16\",\"name\":\"net\",\"filters\":[]},"
	"\"client\":{\"id\":\"3abd725a-733b-4801-ac16-72f26cd98a24\","
	"\"public_key\":\"" PUBKEY "\",\"preshared_key\":\"" PUBKEY "\","
	"\"ipv4\":\"100.72.112.111\",\"ipv6\":\"fd00:2021:1111::13:efb9\","
	"\"version\":\"1.5.12\"},"
	"\"gateway_ice_credentials\":{\"username\":\"jbi4\",\"password\":"
	"\"pppppppppppppppppppppp\"},\"client_ice_credentials\":{\"username\":"
	"\"resc\",\"password\":\"qqqqqqqqqqqqqqqqqqqqqq\"},"
	"\"expires_at\":2145916800,\"use_iceless\":false,"
	"\"flow_logs_ingest_token\":\"a.b.c\"}";

static void
srv_text(struct ws_conn *c, const char *t, size_t n, void *arg)
{
	json_t *j = json_loadb(t, n, 0, NULL), *ref;
	const char *topic, *event;
	char r[32];

	(void)c;
	(void)arg;
	ck_assert_ptr_nonnull(j);
	topic = json_string_value(json_object_get(j, "topic"));
	event = json_string_value(json_object_get(j, "event"));
	ck_assert_ptr_nonnull(topic);
	ck_assert_ptr_nonnull(event);
	ref = json_object_get(j, "ref");
	snprintf(r, sizeof(r), "%lld", (long long)json_integer_value(ref));
	if (strcmp(event, "heartbeat") == 0) {
		ck_assert_str_eq(topic, "phoenix");
		send_frame("phx_reply", "{\"status\":\"ok\",\"response\":{}}",
		    r);
	} else if (strcmp(event, "phx_join") == 0) {
		ck_assert_str_eq(topic, F.gateway ? "gateway" : "client");
		ck_assert_int_eq(json_integer_value(ref), 0);
		F.joins++;
		send_frame("phx_reply", "{\"status\":\"ok\",\"response\":{}}",
		    r);
		send_frame("init", F.gateway ? gateway_init : client_init,
		    "null");
	} else if (strcmp(event, "set_snownet_capabilities") == 0) {
		ck_assert(json_is_false(json_object_get(json_object_get(j,
		    "payload"), "iceless")));
		F.caps++;
	} else if (strcmp(event, "no_relays") == 0) {
		F.no_relays++;
	} else if (strcmp(event, "authorization_created") == 0) {
		json_decref(F.auth_ref);
		F.auth_ref = json_incref(json_object_get(json_object_get(j,
		    "payload"), "ref"));
	}
	json_decref(j);
}

static void
srv_closed(struct ws_conn *c, int code, void *arg)
{
	(void)code;
	(void)arg;
	if (F.conn == c)
		F.conn = NULL;
}

static const struct ws_cbs srv_cbs = { .text = srv_text, .closed = srv_closed };

static int
srv_request(const struct ws_http_req *req, struct ws_conn *conn, void *arg,
    struct ws_reply *reply)
{
	static const char problem[] = "{\"type\":\"about:blank\",\"title\":"
	    "\"Unauthorized\",\"status\":401,\"detail\":\"invalid token\","
	    "\"code\":\"invalid_token\"}";
	const char *h;

	(void)arg;
	F.requests++;
	snprintf(F.path, sizeof(F.path), "%s", req->path);
	snprintf(F.query, sizeof(F.query), "%s", req->query);
	h = ws_http_req_header(req, "X-Authorization");
	snprintf(F.auth, sizeof(F.auth), "%s", h != NULL ? h : "");
	h = ws_http_req_header(req, "User-Agent");
	snprintf(F.ua, sizeof(F.ua), "%s", h != NULL ? h : "");
	if (F.refuse) {
		reply->status = 401;
		reply->content_type = "application/problem+json";
		reply->body = problem;
		reply->body_len = strlen(problem);
		return 1;
	}
	F.conn = conn;
	return 0;
}

/* --- the sink ------------------------------------------------------------ */

static void
k_status(void *arg, const char *state, const char *detail)
{
	(void)arg;
	snprintf(F.state, sizeof(F.state), "%s", state);
	snprintf(F.detail, sizeof(F.detail), "%s", detail);
	F.reconnecting += strcmp(state, "reconnecting") == 0;
	F.online += strcmp(state, "online") == 0;
}

static void
k_error(void *arg, const char *message, bool requires_sign_in)
{
	(void)arg;
	snprintf(F.error, sizeof(F.error), "%s", message);
	F.requires_sign_in = requires_sign_in;
}

static void
k_interface(void *arg, const struct ipc_interface *in)
{
	(void)arg;
	F.niface++;
	snprintf(F.ipv4, sizeof(F.ipv4), "%s", in->ipv4);
	snprintf(F.ipv6, sizeof(F.ipv6), "%s", in->ipv6);
	snprintf(F.search, sizeof(F.search), "%s", in->search_domain);
	snprintf(F.do53, sizeof(F.do53), "%s", in->upstream_do53);
}

static void
k_resources(void *arg, const struct ipc_resource_list *l)
{
	uint32_t i;

	(void)arg;
	F.nres_msgs++;
	F.nres = l->n;
	F.res_names[0] = F.res_sites[0] = '\0';
	for (i = 0; i < l->n; i++) {
		ck_assert_str_eq(l->r[i].status, "unknown");
		strncat(F.res_names, l->r[i].name,
		    sizeof(F.res_names) - strlen(F.res_names) - 2);
		strcat(F.res_names, ";");
		strncat(F.res_sites, l->r[i].sites,
		    sizeof(F.res_sites) - strlen(F.res_sites) - 2);
		strcat(F.res_sites, ";");
	}
}

static void
k_relays(void *arg, uint32_t count, const char *ids)
{
	(void)arg;
	F.nrelay_msgs++;
	F.relays = count;
	snprintf(F.relay_ids, sizeof(F.relay_ids), "%s", ids);
}

static void
k_relay_list(void *arg, const struct portal_relay *r, size_t n)
{
	(void)arg;
	(void)r;
	F.relay_list = n;
}

static void
k_msg(void *arg, const struct portal_msg *m)
{
	size_t i;

	(void)arg;
	F.nmsgs++;
	if (m->type != PM_CLIENT_INIT)
		return;
	F.init_res = 0;
	for (i = 0; i < m->u.client_init.n_resources; i++)
		F.init_res += m->u.client_init.resources[i].id[0] != '\0' &&
		    m->u.client_init.resources[i].address[0] != '\0';
}

static const struct cportal_sink sink = {
	k_status, k_error, k_interface, k_resources, k_relays, k_relay_list,
	k_msg,
};

/* --- running the loop until something happened ---------------------------- */

static bool (*want)(void);

static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (want())
		event_base_loopbreak(F.base);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(F.base);
}

/* Runs the loop until cond() or ms pass; returns cond(). */
static bool
run_until(bool (*cond)(void), int ms)
{
	struct timeval tick = { 0, 10000 }, limit = { ms / 1000,
	    (ms % 1000) * 1000 };
	struct event *p = event_new(F.base, -1, EV_PERSIST, poll_cb, NULL);
	/*
	 * Our own deadline, freed on return: event_base_loopexit's would
	 * stay pending after an early loopbreak and end a later run.
	 */
	struct event *d = evtimer_new(F.base, deadline_cb, NULL);

	want = cond;
	event_add(p, &tick);
	evtimer_add(d, &limit);
	if (!cond())
		event_base_dispatch(F.base);
	event_free(d);
	event_free(p);
	return cond();
}

static void
setup(void)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	ck_assert_int_eq(log_init("check_controld_portal", LOG_FORMAT_TEXT,
	    "warn"), 0);
	memset(&F, 0, sizeof(F));
	ck_assert_ptr_nonnull(F.base = event_base_new());
	ck_assert_int_eq(cportal_prepare(F.base), 0);
	ck_assert_int_eq(ws_listen(F.base, "127.0.0.1:0", NULL, srv_request,
	    &srv_cbs, NULL, &F.l), 0);
	ck_assert_int_eq(ws_listener_addr(F.l, &ss, &sl), 0);
	F.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
teardown(void)
{
	ws_listener_free(F.l);
	ws_free(F.conn);
	cportal_unprepare();
	json_decref(F.auth_ref);
	event_base_free(F.base);
}

static struct cportal *
start(bool gateway, const char *token)
{
	struct cportal *p = NULL;
	struct cportal_conf c;
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)F.port);
	memset(&c, 0, sizeof(c));
	c.gateway = gateway;
	c.api_url = url;
	c.token = token;
	c.firezone_id = UUID_ID;
	c.name = "dev 1";
	c.public_key = PUBKEY;
	F.gateway = gateway;
	ck_assert_int_eq(cportal_new(F.base, &c, &sink, NULL, &p), 0);
	ck_assert_str_eq(F.state, "connecting");
	return p;
}

static bool c_server_closed(void) { return F.conn == NULL; }

/* Ends the session; its close handshake (1000) completes on the loop. */
static void
stop(struct cportal *p)
{
	cportal_free(p);
	ck_assert(run_until(c_server_closed, 3000));
}

static bool c_two_resources(void) { return F.nres == 2 && F.caps >= 1; }
static bool c_one_resource(void) { return F.nres == 1; }
static bool c_three_msgs(void) { return F.nres_msgs == 3 && F.nres == 2; }
static bool c_reconnecting(void) { return F.reconnecting >= 1; }
static bool c_online_again(void) { return F.online >= 2 && F.joins >= 2; }
/* set_snownet_capabilities follows the join reply: it may come later. */
static bool c_caps_again(void) { return F.caps >= 2; }
static bool c_authorized(void) { return F.auth_ref != NULL; }
static bool c_error(void) { return F.error[0] != '\0'; }
static bool c_never(void) { return false; }

START_TEST(test_client_session)
{
	struct cportal *p = start(false, "tok-1");

	ck_assert(run_until(c_two_resources, 5000));
	/* the upgrade (§1.1, §1.2) */
	ck_assert_str_eq(F.path, "/client/v2/websocket");
	ck_assert_str_eq(F.query, "external_id=" UUID_HASH "&name=dev+1"
	    "&public_key=uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY%3D");
	ck_assert_str_eq(F.auth, "Bearer tok-1");
	ck_assert_ptr_nonnull(strstr(F.ua, " headless-client/1.5.12"));
	/* joined: online, capabilities, interface, resources (one skipped) */
	ck_assert_str_eq(F.state, "online");
	ck_assert_uint_eq(F.joins, 1);
	ck_assert_uint_eq(F.niface, 1);
	ck_assert_str_eq(F.ipv4, "100.72.112.111");
	ck_assert_str_eq(F.ipv6, "fd00:2021:1111::13:efb9");
	ck_assert_str_eq(F.search, "corp.test");
	ck_assert_str_eq(F.do53, "10.0.0.53, 10.0.0.54");
	ck_assert_str_eq(F.res_names, "net;corp;");
	ck_assert_str_eq(F.res_sites, "hq;hq, branch;");
	ck_assert_uint_eq(F.no_relays, 0);	/* init had a relay */
	/* the connection manager saw init with its resources intact (the
	 * session takes them out of the message after) and the relay */
	ck_assert_uint_ge(F.nmsgs, 1);
	ck_assert_uint_eq(F.init_res, 2);
	ck_assert_uint_eq(F.relay_list, 1);
	ck_assert_uint_eq(F.nrelay_msgs, 1);
	ck_assert_uint_eq(F.relays, 1);
	ck_assert_str_eq(F.relay_ids, "0a133356-7a9e-4b9a-b413-0d95a5720fd8");

	send_frame("resource_deleted",
	    "\"73037362-715d-4a83-a749-f18eadd970e6\"", "null");
	ck_assert(run_until(c_one_resource, 2000));
	ck_assert_str_eq(F.res_names, "corp;");
	send_frame("resource_created_or_updated", "{\"id\":"
	    "\"23000143-e25e-45c7-aafb-144990e57dcd\",\"type\":\"internet\","
	    "\"can_be_disabled\":true,\"sites\":[{\"id\":"
	    "\"bf56f32d-7b2c-4f5d-a784-788977d014a4\",\"name\":\"hq\"}]}",
	    "null");
	ck_assert(run_until(c_three_msgs, 2000));
	ck_assert_str_eq(F.res_names, "corp;Internet Resource;");
	send_frame("config_changed", "{\"interface\":{\"ipv4\":"
	    "\"100.72.112.111\",\"ipv6\":\"fd00:2021:1111::13:efb9\","
	    "\"search_domain\":null,\"upstream_do53\":[],\"upstream_doh\":[]}}",
	    "null");
	ck_assert(run_until(c_never, 300) == false);
	ck_assert_uint_eq(F.niface, 2);
	ck_assert_str_eq(F.search, "");
	ck_assert_str_eq(F.do53, "");
	/* what is not an address never reaches fz-tunneld */
	send_frame("config_changed", "{\"interface\":{\"ipv4\":"
	    "\"100.72.112.111/32\",\"ipv6\":\"not-an-address\"}}", "null");
	ck_assert(run_until(c_never, 300) == false);
	ck_assert_uint_eq(F.niface, 2);
	ck_assert_str_eq(F.ipv4, "100.72.112.111");
	send_frame("config_changed", "{\"interface\":{\"ipv4\":"
	    "\"100.72.112.111\",\"ipv6\":\"fd00:2021:1111::13:efb9\","
	    "\"upstream_do53\":[{\"ip\":\"10.0.0.53\"},{\"ip\":\"x\"}]}}",
	    "null");
	ck_assert(run_until(c_never, 300) == false);
	ck_assert_uint_eq(F.niface, 2);
	ck_assert_str_eq(F.do53, "");
	/*
	 * relays_presence: a second relay with two addresses counts once;
	 * the first leaving leaves one
	 */
	send_frame("relays_presence", "{\"disconnected_ids\":[],"
	    "\"connected\":[{\"id\":\"1b133356-7a9e-4b9a-b413-0d95a5720fd8\","
	    "\"type\":\"turn\",\"addr\":\"203.0.113.11:3478\",\"username\":"
	    "\"1719367575:a\",\"password\":\"p\",\"expires_at\":1719367575},"
	    "{\"id\":\"1b133356-7a9e-4b9a-b413-0d95a5720fd8\",\"type\":\"turn\","
	    "\"addr\":\"[2001:db8::11]:3478\",\"username\":\"1719367575:a\","
	    "\"password\":\"p\",\"expires_at\":1719367575}]}", "null");
	ck_assert(run_until(c_never, 300) == false);
	ck_assert_uint_eq(F.nrelay_msgs, 2);
	ck_assert_uint_eq(F.relays, 2);
	ck_assert_str_eq(F.relay_ids, "0a133356-7a9e-4b9a-b413-0d95a5720fd8, "
	    "1b133356-7a9e-4b9a-b413-0d95a5720fd8");
	send_frame("relays_presence", "{\"disconnected_ids\":"
	    "[\"0a133356-7a9e-4b9a-b413-0d95a5720fd8\"],\"connected\":[]}",
	    "null");
	ck_assert(run_until(c_never, 300) == false);
	ck_assert_uint_eq(F.nrelay_msgs, 3);
	ck_assert_uint_eq(F.relays, 1);
	ck_assert_str_eq(F.relay_ids, "1b133356-7a9e-4b9a-b413-0d95a5720fd8");

	/* the portal drops the connection: reconnecting, then online */
	ws_free(F.conn);
	F.conn = NULL;
	ck_assert(run_until(c_reconnecting, 3000));
	ck_assert_str_eq(F.state, "reconnecting");
	ck_assert(run_until(c_online_again, 5000));
	ck_assert_uint_eq(F.requests, 2);
	ck_assert(run_until(c_caps_again, 3000));	/* after every join */
	ck_assert_uint_eq(F.caps, 2);
	stop(p);
}
END_TEST

START_TEST(test_gateway_session)
{
	struct cportal *p = start(true, "gw-tok");
	json_t *want_ref = json_string("SFMyNTY.g2gDbQ/+\xc3\xa9\"x==.sig");

	ck_assert(run_until(c_two_resources, 1500) == false);	/* none */
	ck_assert_str_eq(F.path, "/gateway/v2/websocket");
	ck_assert_ptr_nonnull(strstr(F.query, "public_key="));
	ck_assert_ptr_nonnull(strstr(F.ua, " gateway/1.4.19"));
	ck_assert_str_eq(F.state, "online");
	ck_assert_str_eq(F.ipv4, "100.72.145.83");
	ck_assert_str_eq(F.search, "");
	ck_assert_uint_eq(F.nres_msgs, 0);
	ck_assert_uint_eq(F.no_relays, 1);	/* init had none: asked once */
	ck_assert_uint_eq(F.nrelay_msgs, 1);
	ck_assert_uint_eq(F.relays, 0);
	send_frame("create_authorization", create_authorization, "null");
	ck_assert(run_until(c_authorized, 2000));
	ck_assert(json_equal(F.auth_ref, want_ref));
	json_decref(want_ref);
	stop(p);
}
END_TEST

START_TEST(test_invalid_token)
{
	struct cportal *p;

	F.refuse = true;
	p = start(false, "wrong");
	ck_assert(run_until(c_error, 3000));
	ck_assert(F.requires_sign_in);
	ck_assert_ptr_nonnull(strstr(F.error, "sign-in required"));
	ck_assert_ptr_null(strstr(F.error, "wrong"));	/* never the token */
	/* no second attempt, even past the backoff */
	ck_assert(run_until(c_never, 2500) == false);
	ck_assert_uint_eq(F.requests, 1);
	cportal_free(p);
}
END_TEST

static Suite *
controld_portal_suite(void)
{
	Suite *s = suite_create("controld_portal");
	TCase *tc = tcase_create("session");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_client_session);
	tcase_add_test(tc, test_gateway_session);
	tcase_add_test(tc, test_invalid_token);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(controld_portal_suite)
