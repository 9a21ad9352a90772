/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's portal logic, sans I/O: connect checks, init per role,
 * the authorization round trip with a signed ref, candidates, relay
 * presence, reloads; both Phoenix serializers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "check_util.h"
#include "creds.h"
#include "phx.h"
#include "contrib/portal/config.h"
#include "contrib/portal/portal.h"
#include "contrib/portal/store.h"

#define PK_C "fiAjSBWDgQfD1CFJkTwOf4zg+1QhH0eTT+oLaVIMpH8="
#define PK_G "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY="
#define UA_C "Debian/12 headless-client/1.5.12 (x86_64; 6.1.0)"
#define UA_G "Debian/12 gateway/1.4.19 (x86_64; 6.1.0)"
#define UA_R "Debian/12 relay/1.0.0"
#define SECRET "4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab"
#define NOW 1700000000

static const char cfg_text[] =
"{ \"account\": {\"slug\": \"acme\", \"search_domain\": \"corp.test\","
"    \"upstream_do53\": [\"10.0.0.53\"]},"
"  \"relay_token\": \"relay-token\","
"  \"turn_servers\": [{\"addr\": \"10.0.0.5:3478\", \"secret\": \"s3\"}],"
"  \"sites\": [{\"name\": \"hq\", \"gateway_token\": \"gw-token\"},"
"             {\"name\": \"branch\", \"gateway_token\": \"gw2-token\"}],"
"  \"resources\": ["
"    {\"name\": \"lan\",  \"type\": \"cidr\", \"address\": \"10.50.0.0/24\","
"     \"site\": \"hq\", \"filters\": [{\"protocol\": \"tcp\", \"ports\": \"80-443\"}]},"
"    {\"name\": \"wiki\", \"type\": \"dns\",  \"address\": \"*.corp.test\", \"site\": \"hq\"},"
"    {\"name\": \"far\", \"type\": \"cidr\", \"address\": \"10.9.0.0/16\", \"site\": \"branch\"}],"
"  \"clients\": [{\"name\": \"alice\", \"token\": \"alice-token\", \"groups\": [\"eng\"]}],"
"  \"policies\": [{\"group\": \"eng\", \"resource\": \"lan\"},"
"                {\"group\": \"eng\", \"resource\": \"far\"}] }";

struct fconn {
	char	*frames[64];
	int	 n;
	int	 closed;
};

static int
f_send(void *c, const char *t, size_t n)
{
	struct fconn *fc = c;

	ck_assert_int_lt(fc->n, 64);
	fc->frames[fc->n++] = strndup(t, n);
	return 0;
}

static void
f_close(void *c, int code)
{
	((struct fconn *)c)->closed = code;
}

static int64_t
f_now(void *arg)
{
	return NOW;
}

static const struct pd_portal_ops ops = { f_send, f_close, f_now, NULL };
static char dbpath[64];
static struct pd_store *store;
static struct pd_portal *portal;

static struct pd_config *
config(const char *text)
{
	struct pd_config *cfg;
	char err[256];

	ck_assert_msg(pd_config_parse("t.json", text, strlen(text), &cfg, err,
	    sizeof(err)) == 0, "%s", err);
	return cfg;
}

static void
setup(void)
{
	int fd;

	snprintf(dbpath, sizeof(dbpath), "/tmp/check_portald_portal.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(dbpath), 0);
	close(fd);
	ck_assert_int_eq(pd_store_open_sqlite(dbpath, &store), 0);
	ck_assert_int_eq(pd_portal_new(config(cfg_text), store, &ops, &portal),
	    0);
}

static void
teardown(void)
{
	char p[80];

	pd_portal_free(portal);
	pd_store_free(store);
	unlink(dbpath);
	snprintf(p, sizeof(p), "%s-wal", dbpath);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", dbpath);
	unlink(p);
}

static void
fconn_clear(struct fconn *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->frames[i]);
	c->n = 0;
}

static int
conn(const char *path, const char *query, const char *auth, const char *ua,
    struct fconn *c, struct pd_session **s, struct pd_http_error *err)
{
	struct pd_request req = { path, query, auth, ua, "127.0.0.1:1" };

	return pd_portal_connect(portal, &req, c, 0, s, err);
}

static void
sendf(struct pd_session *s, enum phx_vsn v, const char *topic,
    const char *event, const char *payload, int ref, uint64_t now)
{
	json_t *pl = json_loads(payload, JSON_DECODE_ANY, NULL);
	json_t *r = json_integer(ref), *jr = v == PHX_V2 ? json_string("3") :
	    NULL;
	char *t;

	ck_assert_ptr_nonnull(pl);
	t = phx_frame_encode(v, topic, event, pl, r, jr);
	pd_portal_text(portal, s, t, strlen(t), now);
	free(t);
	json_decref(pl);
	json_decref(r);
	json_decref(jr);
}

/* The payload of the last frame with event (new reference), or NULL. */
static json_t *
got(struct fconn *c, enum phx_vsn v, const char *event)
{
	for (int i = c->n - 1; i >= 0; i--) {
		struct phx_frame f = { 0 };
		json_t *pl = NULL;

		ck_assert_int_eq(phx_frame_decode(v, c->frames[i],
		    strlen(c->frames[i]), &f), 0);
		if (strcmp(f.event, event) == 0)
			pl = json_incref(f.payload);
		phx_frame_clear(&f);
		if (pl)
			return pl;
	}
	return NULL;
}

static const char *
sget(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	ck_assert_msg(v != NULL, "no string %s", k);
	return v;
}

static struct pd_session *
join_client(struct fconn *c, enum phx_vsn v)
{
	struct pd_session *s;
	struct pd_http_error err;
	char q[256];

	snprintf(q, sizeof(q), "external_id=c1&name=alice-laptop%s"
	    "&public_key=%s", v == PHX_V2 ? "&vsn=2.0.0" : "",
	    "fiAjSBWDgQfD1CFJkTwOf4zg%2B1QhH0eTT%2BoLaVIMpH8%3D");
	ck_assert_int_eq(conn("/client/v2/websocket", q, "Bearer alice-token",
	    UA_C, c, &s, &err), 0);
	sendf(s, v, "client", "phx_join", "null", 0, 0);
	return s;
}

static struct pd_session *
join_gateway(struct fconn *c, const char *ext, const char *token)
{
	struct pd_session *s;
	struct pd_http_error err;
	char q[256], auth[64];

	snprintf(q, sizeof(q), "external_id=%s&name=gw&public_key=%s", ext,
	    "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY%3D");
	snprintf(auth, sizeof(auth), "Bearer %s", token);
	ck_assert_int_eq(conn("/gateway/v2/websocket", q, auth, UA_G, c, &s,
	    &err), 0);
	sendf(s, PHX_V1, "gateway", "phx_join", "null", 0, 0);
	return s;
}

START_TEST(test_connect_errors)
{
	struct fconn c = { 0 };
	struct pd_session *s;
	struct pd_http_error e;
	const char *q = "external_id=x&public_key=" PK_G;

	ck_assert_int_eq(conn("/client/v2/websocket", q, NULL, UA_C, &c, &s,
	    &e), -EACCES);
	ck_assert_int_eq(e.status, 401);
	ck_assert_str_eq(e.code, "missing_token");
	ck_assert_ptr_nonnull(strstr(e.body, "\"code\":\"missing_token\""));
	ck_assert_int_eq(conn("/client/v2/websocket", q, "Bearer nope", UA_C,
	    &c, &s, &e), -EACCES);
	ck_assert_str_eq(e.code, "invalid_token");
	ck_assert_ptr_null(strstr(e.body, "nope"));
	/* a gateway token is no client token */
	ck_assert_int_eq(conn("/client/v2/websocket", q, "Bearer gw-token",
	    UA_C, &c, &s, &e), -EACCES);
	ck_assert_int_eq(conn("/client/v2/websocket", "public_key=" PK_G,
	    "Bearer alice-token", UA_C, &c, &s, &e), -EINVAL);
	ck_assert_int_eq(e.status, 400);
	ck_assert_str_eq(e.code, "invalid_connect_params");
	ck_assert_int_eq(conn("/client/v2/websocket", "external_id=x&"
	    "public_key=abc", "Bearer alice-token", UA_C, &c, &s, &e), -EINVAL);
	ck_assert_str_eq(e.code, "invalid_connect_params");
	ck_assert_int_eq(conn("/client/v2/websocket", q, "Bearer alice-token",
	    "curl/8.0", &c, &s, &e), -EINVAL);
	ck_assert_str_eq(e.code, "invalid_connect_params");
	ck_assert_int_eq(conn("/client/v2/websocket", q, "Bearer alice-token",
	    NULL, &c, &s, &e), -EINVAL);
	ck_assert_int_eq(conn("/nope", q, "Bearer alice-token", UA_C, &c, &s,
	    &e), -ENOENT);
	ck_assert_int_eq(e.status, 404);
	ck_assert_int_eq(conn("/relay/websocket", "port=3478",
	    "Bearer relay-token", UA_R, &c, &s, &e), -EINVAL);
	ck_assert_int_eq(conn("/relay/websocket", "ipv4=1.2.3.4&port=0",
	    "Bearer relay-token", UA_R, &c, &s, &e), -EINVAL);
	ck_assert_int_eq(conn("/client/v2/websocket", "vsn=3.0.0&external_id=x"
	    "&public_key=" PK_G, "Bearer alice-token", UA_C, &c, &s, &e),
	    -EINVAL);
	/* the token query parameter is the fallback (padding unescaped ok) */
	ck_assert_int_eq(conn("/client/v2/websocket", "token=alice-token&"
	    "external_id=x&public_key=" PK_G, NULL, UA_C, &c, &s, &e), 0);
	pd_portal_closed(portal, s, 0);
}
END_TEST

START_TEST(test_gateway_already_connected)
{
	struct fconn g1 = { 0 }, g2 = { 0 };
	struct pd_session *s;
	struct pd_http_error e;
	const char *q = "external_id=gwx&public_key=" PK_G;

	ck_assert_int_eq(conn("/gateway/v2/websocket", q, "Bearer gw-token",
	    UA_G, &g1, &s, &e), 0);
	ck_assert_int_eq(conn("/gateway/v2/websocket", q, "Bearer gw-token",
	    UA_G, &g2, &s, &e), -EEXIST);
	ck_assert_int_eq(e.status, 409);
	ck_assert_str_eq(e.code, "gateway_already_connected");
	/* the same external_id in another site is another gateway */
	ck_assert_int_eq(conn("/gateway/v2/websocket", q, "Bearer gw2-token",
	    UA_G, &g2, &s, &e), 0);
}
END_TEST

START_TEST(test_client_init_v1)
{
	struct fconn c = { 0 };
	struct pd_session *s;
	json_t *init, *ifc, *res, *r;

	s = join_client(&c, PHX_V1);
	ck_assert_int_eq(c.n, 2);
	ck_assert_str_eq(c.frames[0], "{\"topic\":\"client\",\"event\":"
	    "\"phx_reply\",\"payload\":{\"status\":\"ok\",\"response\":{}},"
	    "\"ref\":0}");
	init = got(&c, PHX_V1, "init");
	ck_assert_ptr_nonnull(init);
	ifc = json_object_get(init, "interface");
	ck_assert_str_eq(sget(ifc, "ipv4"), "100.64.0.1");
	ck_assert_str_eq(sget(ifc, "ipv6"), "fd00:2021:1111::1");
	ck_assert_str_eq(sget(ifc, "search_domain"), "corp.test");
	ck_assert_str_eq(sget(json_array_get(json_object_get(ifc,
	    "upstream_do53"), 0), "ip"), "10.0.0.53");
	res = json_object_get(init, "resources");
	ck_assert_uint_eq(json_array_size(res), 2);	/* lan, far; not wiki */
	ck_assert_str_eq(sget(json_array_get(res, 0), "name"), "lan");
	ck_assert_str_eq(sget(json_array_get(res, 0), "address"),
	    "10.50.0.0/24");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(
	    json_object_get(json_array_get(res, 0), "filters"), 0),
	    "port_range_end")), 443);
	ck_assert_str_eq(sget(json_array_get(json_object_get(json_array_get(
	    res, 0), "sites"), 0), "name"), "hq");
	ck_assert_uint_eq(json_array_size(json_object_get(init,
	    "authorizations")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    init, "flow_logs"), "upload_interval_secs")), 0);
	/* the TURN server with REST credentials */
	ck_assert_uint_eq(json_array_size(json_object_get(init, "relays")), 1);
	r = json_array_get(json_object_get(init, "relays"), 0);
	ck_assert_str_eq(sget(r, "addr"), "10.0.0.5:3478");
	/* TURN REST: "expiry:device id", base64 HMAC-SHA1 of the secret */
	{
		char u[128], pw[128];

		ck_assert_int_eq(strncmp(sget(r, "username"), "2145916800:",
		    11), 0);
		ck_assert_int_eq(portal_turn_rest_creds("s3", 2145916800,
		    sget(r, "username") + 11, u, sizeof(u), pw, sizeof(pw)),
		    0);
		ck_assert_str_eq(sget(r, "username"), u);
		ck_assert_str_eq(sget(r, "password"), pw);
	}
	json_decref(init);
	/* heartbeat, unknown event, wrong topic */
	fconn_clear(&c);
	sendf(s, PHX_V1, "phoenix", "heartbeat", "{}", 1, 0);
	ck_assert_int_eq(c.n, 1);
	ck_assert_str_eq(c.frames[0], "{\"topic\":\"phoenix\",\"event\":"
	    "\"phx_reply\",\"payload\":{\"status\":\"ok\",\"response\":{}},"
	    "\"ref\":1}");
	sendf(s, PHX_V1, "client", "what_is_this", "{}", 2, 0);
	r = got(&c, PHX_V1, "phx_reply");
	ck_assert_str_eq(sget(r, "status"), "error");
	ck_assert_str_eq(sget(json_object_get(r, "response"), "reason"),
	    "unknown_message");
	json_decref(r);
	sendf(s, PHX_V1, "gateway", "phx_join", "null", 3, 0);
	r = got(&c, PHX_V1, "phx_reply");
	ck_assert_str_eq(sget(r, "status"), "error");
	json_decref(r);
	/* garbage is ignored */
	pd_portal_text(portal, s, "[1,2", 4, 0);
	ck_assert_int_eq(c.n, 3);
	fconn_clear(&c);
	/* phx_leave: ok, phx_close, then the topic is no longer joined */
	sendf(s, PHX_V1, "client", "phx_leave", "{}", 4, 0);
	ck_assert_int_eq(c.n, 2);
	ck_assert_ptr_nonnull(r = got(&c, PHX_V1, "phx_close"));
	json_decref(r);
	sendf(s, PHX_V1, "client", "no_relays", "{}", 5, 0);
	r = got(&c, PHX_V1, "phx_reply");
	ck_assert_str_eq(sget(json_object_get(r, "response"), "reason"),
	    "unmatched topic");
	json_decref(r);
	fconn_clear(&c);
}
END_TEST

START_TEST(test_v2_frames)
{
	struct fconn c = { 0 };
	json_t *arr;

	join_client(&c, PHX_V2);
	ck_assert_int_eq(c.n, 2);
	/* [join_ref, ref, topic, "phx_reply", {...}] */
	ck_assert_str_eq(c.frames[0], "[\"3\",0,\"client\",\"phx_reply\","
	    "{\"status\":\"ok\",\"response\":{}}]");
	arr = json_loads(c.frames[1], 0, NULL);
	ck_assert(json_is_array(arr));
	ck_assert_str_eq(json_string_value(json_array_get(arr, 0)), "3");
	ck_assert(json_is_null(json_array_get(arr, 1)));
	ck_assert_str_eq(json_string_value(json_array_get(arr, 3)), "init");
	json_decref(arr);
	fconn_clear(&c);
}
END_TEST

START_TEST(test_relay_presence)
{
	struct fconn r = { 0 }, c = { 0 }, g = { 0 };
	struct pd_session *rs, *gs;
	struct pd_http_error e;
	json_t *pl, *conn_, *v;
	char id[PORTAL_UUID_STRLEN + 1], user[128], pass[64], salt[64];
	size_t i;

	join_client(&c, PHX_V1);
	gs = join_gateway(&g, "g1", "gw-token");
	fconn_clear(&c);
	fconn_clear(&g);
	ck_assert_int_eq(conn("/relay/websocket", "name=r1&ipv4=203.0.113.10&"
	    "ipv6=2001:db8::1&port=3478", "Bearer relay-token", UA_R, &r, &rs,
	    &e), 0);
	sendf(rs, PHX_V1, "relay", "phx_join", "{\"stamp_secret\":\"" SECRET
	    "\"}", 0, 1000);
	pl = got(&r, PHX_V1, "init");
	ck_assert_ptr_nonnull(pl);
	ck_assert_uint_eq(json_object_size(pl), 0);
	json_decref(pl);
	/* debounced 1 s */
	ck_assert_uint_eq(pd_portal_deadline(portal), 2000);
	pd_portal_tick(portal, 1999);
	ck_assert_int_eq(c.n, 0);
	pd_portal_tick(portal, 2000);
	pl = got(&c, PHX_V1, "relays_presence");
	ck_assert_ptr_nonnull(pl);
	ck_assert_uint_eq(json_array_size(json_object_get(pl,
	    "disconnected_ids")), 0);
	conn_ = json_object_get(pl, "connected");
	ck_assert_uint_eq(json_array_size(conn_), 2);	/* one per family */
	ck_assert_int_eq(portal_relay_id(SECRET, id), 0);
	ck_assert_str_eq(id, "aa93cc3a-23e1-4e3b-93b9-0b7bb3c0a369");
	ck_assert_int_eq(portal_relay_username(2145916800, PK_C, user,
	    sizeof(user)), 0);
	ck_assert_int_eq(portal_relay_salt(PK_C, salt), 0);
	ck_assert_int_eq(portal_relay_password(SECRET, 2145916800, salt, pass),
	    0);
	json_array_foreach(conn_, i, v) {
		ck_assert_str_eq(sget(v, "id"), id);
		ck_assert_str_eq(sget(v, "type"), "turn");
		ck_assert_str_eq(sget(v, "username"), user);
		ck_assert_str_eq(sget(v, "password"), pass);
	}
	ck_assert_str_eq(sget(json_array_get(conn_, 0), "addr"),
	    "203.0.113.10:3478");
	ck_assert_str_eq(sget(json_array_get(conn_, 1), "addr"),
	    "[2001:db8::1]:3478");
	json_decref(pl);
	/* the gateway's credentials use its own key: §9 vector */
	pl = got(&g, PHX_V1, "relays_presence");
	ck_assert_str_eq(sget(json_array_get(json_object_get(pl, "connected"),
	    0), "password"), "uTgM6kXvA9fIDYm00KZyun05zr4mYPF3xVLvUA/qkz8");
	json_decref(pl);
	/* no_relays is answered at once with everything */
	fconn_clear(&g);
	sendf(gs, PHX_V1, "gateway", "no_relays", "{}", 5, 2100);
	pl = got(&g, PHX_V1, "relays_presence");
	ck_assert_uint_eq(json_array_size(json_object_get(pl, "connected")),
	    3);
	json_decref(pl);
	/* the relay leaves */
	fconn_clear(&c);
	pd_portal_closed(portal, rs, 3000);
	pd_portal_tick(portal, 4000);
	pl = got(&c, PHX_V1, "relays_presence");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(pl,
	    "disconnected_ids"), 0)), id);
	ck_assert_uint_eq(json_array_size(json_object_get(pl, "connected")),
	    0);
	json_decref(pl);
	/* relays send nothing but heartbeats */
	fconn_clear(&r);
	fconn_clear(&c);
	fconn_clear(&g);
}
END_TEST

/* Client requests lan; the gateway is told and acks; the client learns. */
START_TEST(test_authorization_round_trip)
{
	struct fconn c = { 0 }, g = { 0 };
	struct pd_session *cs, *gs;
	json_t *ca, *ac, *cl, *r;
	const char *lan;
	char ref[512], bad[512], psk[64], pl[1024];
	struct portal_ice_creds ci, gi;
	struct pd_device cd;
	char gid[64];
	json_t *ic;
	struct pd_portal_stats st;

	cs = join_client(&c, PHX_V1);
	gs = join_gateway(&g, "g1", "gw-token");
	lan = pd_portal_config(portal)->resources[0].id;
	fconn_clear(&c);
	fconn_clear(&g);
	snprintf(pl, sizeof(pl), "{\"resource_id\":\"%s\","
	    "\"connected_gateway_ids\":[]}", lan);
	sendf(cs, PHX_V1, "client", "request_authorization", pl, 2, 100);
	ca = got(&g, PHX_V1, "create_authorization");
	ck_assert_ptr_nonnull(ca);
	snprintf(ref, sizeof(ref), "%s", sget(ca, "ref"));
	ck_assert_str_eq(sget(json_object_get(ca, "resource"), "id"), lan);
	ck_assert_str_eq(sget(json_object_get(ca, "resource"), "type"), "cidr");
	cl = json_object_get(ca, "client");
	ck_assert_str_eq(sget(cl, "public_key"), PK_C);
	ck_assert_str_eq(sget(cl, "ipv4"), "100.64.0.1");
	ck_assert_str_eq(sget(cl, "version"), "1.5.12");
	/* PSK and ICE credentials as §2.1, from the stored psk_base */
	ck_assert_int_eq(pd_store_device_upsert(store, PD_ROLE_CLIENT, "c1",
	    "alice-laptop", PK_C, NOW, &cd), 0);
	ck_assert_str_eq(sget(cl, "id"), cd.id);
	ck_assert_str_eq(sget(cl, "ipv6"), cd.ipv6);
	ck_assert_uint_eq(strlen(sget(cl, "preshared_key")), 44);
	ck_assert_int_eq(json_object_get(ca, "use_iceless") == json_false(), 1);
	ck_assert_ptr_nonnull(json_object_get(ca, "expires_at"));
	json_decref(ca);
	ck_assert_int_eq(c.n, 0);	/* nothing to the client yet */

	/* a modified ref is refused */
	snprintf(bad, sizeof(bad), "%s", ref);
	bad[3] = bad[3] == '0' ? '1' : '0';
	snprintf(pl, sizeof(pl), "{\"ref\":\"%s\"}", bad);
	sendf(gs, PHX_V1, "gateway", "authorization_created", pl, 3, 200);
	r = got(&g, PHX_V1, "phx_reply");
	ck_assert_str_eq(sget(json_object_get(r, "response"), "reason"),
	    "invalid_ref");
	json_decref(r);
	ck_assert_int_eq(c.n, 0);

	/* the ref echoed byte for byte */
	snprintf(pl, sizeof(pl), "{\"ref\":\"%s\"}", ref);
	sendf(gs, PHX_V1, "gateway", "authorization_created", pl, 4, 300);
	ac = got(&c, PHX_V1, "authorization_created");
	ck_assert_ptr_nonnull(ac);
	ck_assert_str_eq(sget(ac, "resource_id"), lan);
	ck_assert_str_eq(sget(ac, "gateway_public_key"), PK_G);
	ck_assert_str_eq(sget(ac, "gateway_ipv4"), "100.64.0.2");
	ck_assert_str_eq(sget(ac, "site_id"),
	    pd_portal_config(portal)->sites[0].id);
	ck_assert_int_eq(portal_ice_credentials(cd.id, PK_C,
	    sget(ac, "gateway_id"), PK_G, &ci, &gi), 0);
	ck_assert_str_eq(sget(json_object_get(ac, "client_ice_credentials"),
	    "username"), ci.username);
	ck_assert_str_eq(sget(json_object_get(ac, "gateway_ice_credentials"),
	    "password"), gi.password);
	ck_assert_uint_eq(strlen(sget(ac, "preshared_key")), 44);
	snprintf(psk, sizeof(psk), "%s", sget(ac, "preshared_key"));
	snprintf(gid, sizeof(gid), "%s", sget(ac, "gateway_id"));
	ck_assert_ptr_nonnull(json_object_get(ac, "flow_logs_ingest_token"));
	json_decref(ac);
	pd_portal_stats(portal, &st);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.authorizations, 1);
	/* a replay of the ref does nothing more */
	fconn_clear(&c);
	sendf(gs, PHX_V1, "gateway", "authorization_created", pl, 5, 400);
	ck_assert_int_eq(c.n, 0);

	/* candidates both ways */
	fconn_clear(&g);
	snprintf(pl, sizeof(pl), "{\"gateway_id\":\"%s\",\"candidates\":"
	    "[\"candidate:1 1 udp 1 198.51.100.7 52625 typ srflx\"]}", gid);
	sendf(cs, PHX_V1, "client", "new_gateway_ice_candidates", pl, 6, 500);
	ic = got(&g, PHX_V1, "ice_candidates");
	ck_assert_ptr_nonnull(ic);
	ck_assert_str_eq(sget(ic, "client_id"), cd.id);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(ic,
	    "candidates"), 0)), "candidate:1 1 udp 1 198.51.100.7 52625 typ "
	    "srflx");
	json_decref(ic);
	sendf(cs, PHX_V1, "client", "invalidate_gateway_ice_candidates", pl,
	    7, 500);
	ic = got(&g, PHX_V1, "invalidate_ice_candidates");
	ck_assert_ptr_nonnull(ic);
	json_decref(ic);
	snprintf(pl, sizeof(pl), "{\"client_ids\":[\"%s\"],\"candidates\":"
	    "[\"candidate:2 1 udp 2 192.0.2.1 1 typ host\"]}", cd.id);
	sendf(gs, PHX_V1, "gateway", "broadcast_ice_candidates", pl, 8, 500);
	ic = got(&c, PHX_V1, "ice_candidates");
	ck_assert_ptr_nonnull(ic);
	ck_assert_str_eq(sget(ic, "gateway_id"), gid);
	json_decref(ic);
	sendf(gs, PHX_V1, "gateway", "broadcast_invalidated_ice_candidates",
	    pl, 9, 500);
	ic = got(&c, PHX_V1, "invalidate_ice_candidates");
	ck_assert_ptr_nonnull(ic);
	json_decref(ic);

	/* the gateway reconnects: init lists the authorization */
	fconn_clear(&g);
	pd_portal_closed(portal, gs, 600);
	gs = join_gateway(&g, "g1", "gw-token");
	ic = got(&g, PHX_V1, "init");
	ck_assert_str_eq(sget(json_array_get(json_object_get(ic,
	    "authorizations"), 0), "client_id"), cd.id);
	ck_assert_str_eq(sget(ic, "account_slug"), "acme");
	ck_assert_str_eq(sget(json_object_get(ic, "interface"), "ipv4"),
	    "100.64.0.2");
	ck_assert(json_is_true(json_object_get(json_object_get(ic, "config"),
	    "ipv4_masquerade_enabled")));
	json_decref(ic);
	/* the PSK is stable for the same keys */
	fconn_clear(&c);
	snprintf(pl, sizeof(pl), "{\"resource_id\":\"%s\","
	    "\"connected_gateway_ids\":[]}", lan);
	sendf(cs, PHX_V1, "client", "request_authorization", pl, 10, 700);
	ca = got(&g, PHX_V1, "create_authorization");
	ck_assert_str_eq(sget(json_object_get(ca, "client"), "preshared_key"),
	    psk);
	json_decref(ca);
	fconn_clear(&c);
	fconn_clear(&g);
}
END_TEST

START_TEST(test_authorization_failures)
{
	struct fconn c = { 0 }, g = { 0 };
	struct pd_session *cs;
	const struct pd_config *cfg = pd_portal_config(portal);
	json_t *f;
	char pl[256];

	cs = join_client(&c, PHX_V1);
	fconn_clear(&c);
	/* unknown resource */
	sendf(cs, PHX_V1, "client", "request_authorization", "{\"resource_id\":"
	    "\"733e8d14-c18d-4931-af30-3639fa09c0c0\"}", 1, 0);
	f = got(&c, PHX_V1, "authorization_creation_failed");
	ck_assert_str_eq(sget(f, "reason"), "not_found");
	json_decref(f);
	/* wiki: no policy */
	snprintf(pl, sizeof(pl), "{\"resource_id\":\"%s\"}",
	    cfg->resources[1].id);
	sendf(cs, PHX_V1, "client", "request_authorization", pl, 2, 0);
	f = got(&c, PHX_V1, "authorization_creation_failed");
	ck_assert_str_eq(sget(f, "reason"), "forbidden");
	json_decref(f);
	/* lan: no gateway online */
	fconn_clear(&c);
	snprintf(pl, sizeof(pl), "{\"resource_id\":\"%s\"}",
	    cfg->resources[0].id);
	sendf(cs, PHX_V1, "client", "request_authorization", pl, 3, 0);
	f = got(&c, PHX_V1, "authorization_creation_failed");
	ck_assert_str_eq(sget(f, "reason"), "offline");
	json_decref(f);
	/* a gateway that never acks: offline after 15 s */
	join_gateway(&g, "g1", "gw-token");
	fconn_clear(&c);
	sendf(cs, PHX_V1, "client", "request_authorization", pl, 4, 1000);
	ck_assert_uint_eq(pd_portal_deadline(portal), 16000);
	pd_portal_tick(portal, 15999);
	ck_assert_int_eq(c.n, 0);
	pd_portal_tick(portal, 16000);
	f = got(&c, PHX_V1, "authorization_creation_failed");
	ck_assert_str_eq(sget(f, "reason"), "offline");
	json_decref(f);
	ck_assert_uint_eq(pd_portal_deadline(portal), 37000);	/* idle */
	fconn_clear(&c);
	fconn_clear(&g);
}
END_TEST

/* SIGHUP: a policy goes, a resource appears; pushed as diffs. */
START_TEST(test_reload_pushes_differences)
{
	struct fconn c = { 0 }, g = { 0 };
	struct pd_session *cs, *gs;
	char pl[256], ref[512], lan[40], wiki[40];
	const struct pd_config *cfg = pd_portal_config(portal);
	json_t *ca, *m;
	char *text = strdup(cfg_text), *p;

	snprintf(lan, sizeof(lan), "%s", cfg->resources[0].id);
	snprintf(wiki, sizeof(wiki), "%s", cfg->resources[1].id);
	cs = join_client(&c, PHX_V1);
	gs = join_gateway(&g, "g1", "gw-token");
	snprintf(pl, sizeof(pl), "{\"resource_id\":\"%s\"}", lan);
	sendf(cs, PHX_V1, "client", "request_authorization", pl, 1, 0);
	ca = got(&g, PHX_V1, "create_authorization");
	snprintf(pl, sizeof(pl), "{\"ref\":\"%s\"}", sget(ca, "ref"));
	(void)ref;
	json_decref(ca);
	sendf(gs, PHX_V1, "gateway", "authorization_created", pl, 2, 0);
	fconn_clear(&c);
	fconn_clear(&g);

	/* policy eng->lan becomes eng->wiki */
	p = strstr(text, "\"resource\": \"lan\"");
	ck_assert_ptr_nonnull(p);
	memcpy(p, "\"resource\":\"wiki\"", 17);
	pd_portal_reload(portal, config(text), 100);
	m = got(&c, PHX_V1, "resource_deleted");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(json_string_value(m), lan);
	json_decref(m);
	m = got(&c, PHX_V1, "resource_created_or_updated");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(sget(m, "id"), wiki);
	ck_assert_str_eq(sget(m, "type"), "dns");
	json_decref(m);
	m = got(&g, PHX_V1, "reject_access");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(sget(m, "resource_id"), lan);
	json_decref(m);
	ck_assert_ptr_null(got(&c, PHX_V1, "config_changed"));
	/* a reload without changes pushes nothing */
	fconn_clear(&c);
	fconn_clear(&g);
	pd_portal_reload(portal, config(text), 200);
	free(text);
	ck_assert_int_eq(c.n, 0);
	ck_assert_int_eq(g.n, 0);
	/* the client's token is gone: disconnect */
	pd_portal_reload(portal, config("{\"account\":{\"slug\":\"acme\"},"
	    "\"sites\":[{\"name\":\"hq\",\"gateway_token\":\"gw-token\"}]}"),
	    300);
	m = got(&c, PHX_V1, "disconnect");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(sget(m, "reason"), "token_expired");
	json_decref(m);
	ck_assert_int_eq(c.closed, 1000);
	ck_assert_int_eq(g.closed, 0);
	fconn_clear(&c);
	fconn_clear(&g);
}
END_TEST

/* A connection gone without a close is dropped after 37 s (41 s relay). */
START_TEST(test_idle_timeout)
{
	struct fconn c = { 0 }, r = { 0 };
	struct pd_session *cs, *rs;
	struct pd_http_error e;

	cs = join_client(&c, PHX_V1);
	ck_assert_int_eq(conn("/relay/websocket", "ipv4=203.0.113.10",
	    "Bearer relay-token", UA_R, &r, &rs, &e), 0);
	sendf(cs, PHX_V1, "phoenix", "heartbeat", "{}", 1, 30000);
	ck_assert_uint_eq(pd_portal_deadline(portal), 41000);
	pd_portal_tick(portal, 40999);
	ck_assert_int_eq(r.closed, 0);
	pd_portal_tick(portal, 41000);
	ck_assert_int_eq(r.closed, 1001);
	pd_portal_closed(portal, rs, 41000);
	ck_assert_uint_eq(pd_portal_deadline(portal), 67000);
	pd_portal_tick(portal, 66999);
	ck_assert_int_eq(c.closed, 0);
	pd_portal_tick(portal, 67000);
	ck_assert_int_eq(c.closed, 1001);
	fconn_clear(&c);
	fconn_clear(&r);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("portald_portal");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_connect_errors);
	tcase_add_test(tc, test_gateway_already_connected);
	tcase_add_test(tc, test_client_init_v1);
	tcase_add_test(tc, test_v2_frames);
	tcase_add_test(tc, test_relay_presence);
	tcase_add_test(tc, test_authorization_round_trip);
	tcase_add_test(tc, test_authorization_failures);
	tcase_add_test(tc, test_reload_pushes_differences);
	tcase_add_test(tc, test_idle_timeout);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(suite)
