/* SPDX-License-Identifier: ISC */
/*
 * Portal messages: every fixture of tests/fixtures/portal (Firezone's own
 * test inputs and the §9 frames) decodes as connlib decodes it, and
 * re-encodes stably (encode -> decode -> encode byte-identical); egress
 * payloads match connlib's serialization byte for byte; malformed input
 * is skipped or refused per the rules of portal_msg.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "phx.h"
#include "portal_msg.h"

#ifndef PORTAL_FIXTURES
#error PORTAL_FIXTURES must name tests/fixtures/portal
#endif

static char *
slurp(const char *name, size_t *len)
{
	char path[512], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", PORTAL_FIXTURES, name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static char *
dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	ck_assert_ptr_nonnull(s);
	return s;
}

/* Decodes a fixture frame on chan; returns the decode result. */
static int
decode_fixture(const char *name, enum portal_chan chan, struct portal_msg *m)
{
	struct phx_frame f;
	size_t n;
	char *text = slurp(name, &n);
	int r;

	ck_assert_msg(phx_frame_decode(PHX_V1, text, n, &f) == 0, "%s", name);
	free(text);
	r = portal_msg_decode(chan, f.event, f.payload, m);
	phx_frame_clear(&f);
	return r;
}

/* encode -> decode -> encode is stable, and on the same channel. */
static void
check_reencode(const char *name, const struct portal_msg *m)
{
	struct portal_msg back;
	const char *ev1, *ev2;
	json_t *p1, *p2;
	char *s1, *s2;

	ck_assert_msg(portal_msg_encode(m, &ev1, &p1) == 0, "%s: encode",
	    name);
	ck_assert_int_eq(portal_msg_decode(portal_msg_chan(m->type), ev1, p1,
	    &back), 0);
	ck_assert_int_eq(back.type, m->type);
	ck_assert_int_eq(portal_msg_encode(&back, &ev2, &p2), 0);
	ck_assert_str_eq(ev1, ev2);
	s1 = dump(p1);
	s2 = dump(p2);
	ck_assert_str_eq(s1, s2);
	free(s1);
	free(s2);
	json_decref(p1);
	json_decref(p2);
	portal_msg_clear(&back);
}

static const struct fixture {
	const char		*name;
	enum portal_chan	 chan;
	int			 result;
	enum portal_msg_type	 type;
} fixtures[] = {
	{ "to_client.init.json", PORTAL_TO_CLIENT, 0, PM_CLIENT_INIT },
	{ "to_client.init_bad_resources.json", PORTAL_TO_CLIENT, 0,
	    PM_CLIENT_INIT },
	{ "to_client.init_flow_logs_only.json", PORTAL_TO_CLIENT, 0,
	    PM_CLIENT_INIT },
	{ "to_client.init_no_flow_logs.bad.json", PORTAL_TO_CLIENT, -EBADMSG,
	    0 },
	{ "to_client.init_unknown_resource.json", PORTAL_TO_CLIENT, 0,
	    PM_CLIENT_INIT },
	{ "to_client.init_s9.json", PORTAL_TO_CLIENT, 0, PM_CLIENT_INIT },
	{ "to_client.ice_candidates.json", PORTAL_TO_CLIENT, 0,
	    PM_GATEWAY_ICE_CANDIDATES },
	{ "to_client.invalidate_ice_candidates.json", PORTAL_TO_CLIENT, 0,
	    PM_GATEWAY_INVALIDATE_ICE_CANDIDATES },
	{ "to_client.faulty_candidates.json", PORTAL_TO_CLIENT, 0,
	    PM_GATEWAY_ICE_CANDIDATES },
	{ "to_client.authorization_created.json", PORTAL_TO_CLIENT, 0,
	    PM_AUTHORIZATION_CREATED },
	{ "to_client.authorization_created_iceless.json", PORTAL_TO_CLIENT, 0,
	    PM_AUTHORIZATION_CREATED },
	{ "to_client.authorization_created_no_token.bad.json",
	    PORTAL_TO_CLIENT, -EBADMSG, 0 },
	{ "to_client.client_device_access_authorized.json",
	    PORTAL_TO_CLIENT, 0, PM_CLIENT_DEVICE_ACCESS_AUTHORIZED },
	{ "to_client.device_pool_domain_resolved.json", PORTAL_TO_CLIENT, 0,
	    PM_DEVICE_POOL_DOMAIN_RESOLVED },
	{ "to_client.device_pool_domain_resolution_failed.json",
	    PORTAL_TO_CLIENT, 0, PM_DEVICE_POOL_DOMAIN_RESOLUTION_FAILED },
	{ "to_client.client_ice_candidate_error.json", PORTAL_TO_CLIENT, 0,
	    PM_CLIENT_ICE_CANDIDATE_ERROR },
	{ "from_client.resolve_device_pool_domain.json", PORTAL_FROM_CLIENT,
	    0, PM_RESOLVE_DEVICE_POOL_DOMAIN },
	{ "to_client.config_changed.json", PORTAL_TO_CLIENT, 0,
	    PM_CONFIG_CHANGED },
	{ "to_client.relays_presence.json", PORTAL_TO_CLIENT, 0,
	    PM_CLIENT_RELAYS_PRESENCE },
	{ "to_client.authorization_creation_failed_unknown.json",
	    PORTAL_TO_CLIENT, 0, PM_AUTHORIZATION_CREATION_FAILED },
	{ "to_client.authorization_creation_failed_offline.json",
	    PORTAL_TO_CLIENT, 0, PM_AUTHORIZATION_CREATION_FAILED },
	{ "to_client.static_device_pool.json", PORTAL_TO_CLIENT, 0,
	    PM_RESOURCE_CREATED_OR_UPDATED },
	{ "to_client.dynamic_device_pool.json", PORTAL_TO_CLIENT, 0,
	    PM_RESOURCE_CREATED_OR_UPDATED },
	{ "to_client.resource_deleted.json", PORTAL_TO_CLIENT, 0,
	    PM_RESOURCE_DELETED },
	{ "to_client.disconnect.json", PORTAL_TO_CLIENT, 0,
	    PM_CLIENT_DISCONNECT },
	{ "from_client.set_snownet_capabilities.json", PORTAL_FROM_CLIENT, 0,
	    PM_CLIENT_SET_SNOWNET_CAPABILITIES },
	{ "from_client.request_authorization.json", PORTAL_FROM_CLIENT, 0,
	    PM_REQUEST_AUTHORIZATION },
	{ "from_client.request_authorization_ipv4.json", PORTAL_FROM_CLIENT,
	    0, PM_REQUEST_AUTHORIZATION },
	{ "from_client.new_gateway_ice_candidates.json", PORTAL_FROM_CLIENT,
	    0, PM_NEW_GATEWAY_ICE_CANDIDATES },
	{ "from_client.no_relays.json", PORTAL_FROM_CLIENT, 0,
	    PM_CLIENT_NO_RELAYS },
	{ "to_gateway.init.json", PORTAL_TO_GATEWAY, 0, PM_GATEWAY_INIT },
	{ "to_gateway.invalidate_ice_candidates.json", PORTAL_TO_GATEWAY, 0,
	    PM_INVALIDATE_ICE_CANDIDATES },
	{ "to_gateway.faulty_candidates.json", PORTAL_TO_GATEWAY, 0,
	    PM_ICE_CANDIDATES },
	{ "to_gateway.resource_updated.json", PORTAL_TO_GATEWAY, 0,
	    PM_RESOURCE_UPDATED },
	{ "to_gateway.relays_presence.json", PORTAL_TO_GATEWAY, 0,
	    PM_GATEWAY_RELAYS_PRESENCE },
	{ "to_gateway.create_authorization.json", PORTAL_TO_GATEWAY, 0,
	    PM_CREATE_AUTHORIZATION },
	{ "to_gateway.create_authorization_no_token.bad.json",
	    PORTAL_TO_GATEWAY, -EBADMSG, 0 },
	{ "from_gateway.authorization_created.json", PORTAL_FROM_GATEWAY, 0,
	    PM_GATEWAY_AUTHORIZATION_CREATED },
	{ "from_gateway.broadcast_ice_candidates.json", PORTAL_FROM_GATEWAY,
	    0, PM_BROADCAST_ICE_CANDIDATES },
	{ "from_gateway.set_snownet_capabilities.json", PORTAL_FROM_GATEWAY,
	    0, PM_GATEWAY_SET_SNOWNET_CAPABILITIES },
	{ "from_relay.phx_join.json", PORTAL_FROM_RELAY, 0, PM_RELAY_JOIN },
	{ "to_relay.init.json", PORTAL_TO_RELAY, 0, PM_RELAY_INIT },
};

START_TEST(fixture_decodes)
{
	const struct fixture *fx = &fixtures[_i];
	struct portal_msg m;
	int r = decode_fixture(fx->name, fx->chan, &m);

	ck_assert_msg(r == fx->result, "%s: %d, want %d", fx->name, r,
	    fx->result);
	if (r != 0)
		return;
	ck_assert_int_eq(m.type, fx->type);
	check_reencode(fx->name, &m);
	portal_msg_clear(&m);
}
END_TEST

START_TEST(client_init_contents)
{
	struct portal_msg m;
	const struct portal_client_init *i = &m.u.client_init;

	ck_assert_int_eq(decode_fixture("to_client.init.json",
	    PORTAL_TO_CLIENT, &m), 0);
	ck_assert_str_eq(i->interface.ipv4, "100.72.112.111");
	ck_assert_str_eq(i->interface.ipv6, "fd00:2021:1111::13:efb9");
	ck_assert(!i->interface.has_search_domain);
	ck_assert_uint_eq(i->n_resources, 4);
	ck_assert_int_eq(i->resources[0].type, PORTAL_RES_CIDR);
	ck_assert_str_eq(i->resources[0].address, "172.172.0.0/16");
	ck_assert(i->resources[0].gateway_groups);
	ck_assert_uint_eq(i->resources[0].n_sites, 1);
	ck_assert_str_eq(i->resources[0].sites[0].id,
	    "bf56f32d-7b2c-4f5d-a784-788977d014a4");
	ck_assert(i->resources[0].has_address_description);
	ck_assert(!i->resources[1].has_address_description);
	ck_assert(!i->resources[1].gateway_groups);
	ck_assert_int_eq(i->resources[2].type, PORTAL_RES_DNS);
	ck_assert_str_eq(i->resources[3].name, "github.mycorp.com");
	ck_assert_uint_eq(i->resources[3].n_filters, 0);
	ck_assert_str_eq(i->flow_logs.api_url, "https://flow-api.firezone.dev");
	ck_assert_uint_eq(i->flow_logs.upload_interval_secs, 60);
	ck_assert_uint_eq(i->flow_logs.upload_batch_size, 1000);
	portal_msg_clear(&m);

	/* connlib's can_deserialize_bad_resources: only the last one. */
	ck_assert_int_eq(decode_fixture("to_client.init_bad_resources.json",
	    PORTAL_TO_CLIENT, &m), 0);
	ck_assert_uint_eq(i->n_resources, 1);
	ck_assert_str_eq(i->resources[0].id,
	    "03000143-e25e-45c7-aafb-144990e57dce");
	portal_msg_clear(&m);

	/* An unknown type is skipped, an internet resource kept. */
	ck_assert_int_eq(decode_fixture("to_client.init_unknown_resource.json",
	    PORTAL_TO_CLIENT, &m), 0);
	ck_assert_uint_eq(i->n_resources, 3);
	ck_assert_int_eq(i->resources[2].type, PORTAL_RES_INTERNET);
	ck_assert_str_eq(i->resources[2].name, "Internet Resource");
	ck_assert_str_eq(i->resources[2].sites[0].id,
	    "eb94482a-94f4-47cb-8127-14fb3afa5516");
	portal_msg_clear(&m);

	ck_assert_int_eq(decode_fixture("to_client.init_s9.json",
	    PORTAL_TO_CLIENT, &m), 0);
	ck_assert_uint_eq(i->n_resources, 2);
	ck_assert_uint_eq(i->resources[1].n_filters, 1);
	ck_assert_int_eq(i->resources[1].filters[0].protocol, PORTAL_PROTO_TCP);
	ck_assert_uint_eq(i->resources[1].filters[0].port_start, 443);
	ck_assert_uint_eq(i->resources[1].filters[0].port_end, 443);
	ck_assert_int_eq(i->resources[1].ip_stack, PORTAL_IP_STACK_DUAL);
	ck_assert_uint_eq(i->n_relays, 1);
	ck_assert_int_eq(i->relays[0].type, PORTAL_RELAY_TURN);
	ck_assert_str_eq(i->relays[0].addr, "203.0.113.10:3478");
	ck_assert_uint_eq(i->relays[0].expires_at, 1719367575);
	ck_assert_uint_eq(i->flow_logs.upload_interval_secs, 0);
	portal_msg_clear(&m);
}
END_TEST

START_TEST(other_contents)
{
	struct portal_msg m;

	ck_assert_int_eq(decode_fixture("to_client.faulty_candidates.json",
	    PORTAL_TO_CLIENT, &m), 0);
	ck_assert_uint_eq(m.u.candidates.n_candidates, 1);
	ck_assert_str_eq(m.u.candidates.ids[0],
	    "f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3");
	portal_msg_clear(&m);

	ck_assert_int_eq(decode_fixture(
	    "to_client.authorization_created_iceless.json", PORTAL_TO_CLIENT,
	    &m), 0);
	ck_assert(m.u.authorization_created.use_iceless);
	ck_assert(m.u.authorization_created.gateway_group_id);
	ck_assert_str_eq(m.u.authorization_created.site_id,
	    "ef42a07f-87d0-40da-baa7-e881e619ea1c");
	ck_assert_str_eq(m.u.authorization_created.client_ice.username, "resc");
	ck_assert_str_eq(m.u.authorization_created.gateway_ice.password,
	    "a6oeevhlutevykcifd5r2a");
	portal_msg_clear(&m);

	ck_assert_int_eq(decode_fixture("to_client.config_changed.json",
	    PORTAL_TO_CLIENT, &m), 0);
	ck_assert_uint_eq(m.u.config_changed.n_dns, 1);
	ck_assert_str_eq(m.u.config_changed.dns[0], "1.1.1.1:53");
	portal_msg_clear(&m);

	ck_assert_int_eq(decode_fixture("to_client.relays_presence.json",
	    PORTAL_TO_CLIENT, &m), 0);
	ck_assert_uint_eq(m.u.relays_presence.n_disconnected, 2);
	ck_assert_uint_eq(m.u.relays_presence.n_connected, 1);
	ck_assert_str_eq(m.u.relays_presence.connected[0].username,
	    "1719367575:ZQHcVGkdnfgGmcP1");
	portal_msg_clear(&m);

	ck_assert_int_eq(decode_fixture(
	    "to_client.authorization_creation_failed_unknown.json",
	    PORTAL_TO_CLIENT, &m), 0);
	ck_assert_str_eq(m.u.authorization_creation_failed.reason, "foobar");
	portal_msg_clear(&m);

	ck_assert_int_eq(decode_fixture("to_client.static_device_pool.json",
	    PORTAL_TO_CLIENT, &m), 0);
	ck_assert_int_eq(m.u.resource.type, PORTAL_RES_STATIC_DEVICE_POOL);
	ck_assert_uint_eq(m.u.resource.n_devices, 2);
	ck_assert_str_eq(m.u.resource.devices[1].ipv6,
	    "fd00:2021:1111::1777/128");
	portal_msg_clear(&m);

	ck_assert_int_eq(decode_fixture("to_gateway.resource_updated.json",
	    PORTAL_TO_GATEWAY, &m), 0);
	ck_assert_uint_eq(m.u.resource.n_filters, 2);
	ck_assert_int_eq(m.u.resource.filters[0].protocol, PORTAL_PROTO_ICMP);
	/* tcp without ports: 0-65535 */
	ck_assert_uint_eq(m.u.resource.filters[1].port_start, 0);
	ck_assert_uint_eq(m.u.resource.filters[1].port_end, 65535);
	portal_msg_clear(&m);

	ck_assert_int_eq(decode_fixture("to_gateway.create_authorization.json",
	    PORTAL_TO_GATEWAY, &m), 0);
	ck_assert_uint_eq(strlen(m.u.create_authorization.ref), 866);
	ck_assert_str_eq(m.u.create_authorization.client.public_key,
	    "fiAjSBWDgQfD1CFJkTwOf4zg+1QhH0eTT+oLaVIMpH8=");
	ck_assert_str_eq(m.u.create_authorization.resource.address,
	    "172.20.0.0/16");
	ck_assert(m.u.create_authorization.has_expires_at);
	ck_assert_uint_eq(m.u.create_authorization.expires_at, 1729813989);
	ck_assert(!m.u.create_authorization.use_iceless);
	portal_msg_clear(&m);

	ck_assert_int_eq(decode_fixture(
	    "to_client.client_device_access_authorized.json", PORTAL_TO_CLIENT,
	    &m), 0);
	ck_assert(!m.u.device_access.ice_controlling);
	ck_assert(m.u.device_access.has_resource);
	ck_assert_str_eq(m.u.device_access.resource_id,
	    "733e8d14-c18d-4931-af30-3639fa09c0c0");
	ck_assert(m.u.device_access.has_expires_at);
	ck_assert_uint_eq(m.u.device_access.expires_at, 1729813989);
	portal_msg_clear(&m);

	ck_assert_int_eq(decode_fixture("to_client.device_pool_domain_resolved"
	    ".json", PORTAL_TO_CLIENT, &m), 0);
	ck_assert_str_eq(m.u.pool_domain.ipv4, "100.64.0.42");
	portal_msg_clear(&m);

	ck_assert_int_eq(decode_fixture("to_gateway.init.json",
	    PORTAL_TO_GATEWAY, &m), 0);
	ck_assert(m.u.gateway_init.ipv4_masquerade);
	ck_assert_str_eq(m.u.gateway_init.interface.ipv4, "100.115.164.78");
	ck_assert(!m.u.gateway_init.has_account_slug);
	portal_msg_clear(&m);
}
END_TEST

/* connlib's serialize_* tests: the exact payload text. */
START_TEST(egress_matches_connlib)
{
	struct portal_msg m;
	const char *ev;
	json_t *p;
	char *s;

	memset(&m, 0, sizeof(m));
	m.type = PM_REQUEST_AUTHORIZATION;
	strcpy(m.u.request_authorization.resource_id,
	    "f16ecfa0-a94f-4bfd-a2ef-1cc1f2ef3da3");
	ck_assert_int_eq(portal_msg_encode(&m, &ev, &p), 0);
	ck_assert_str_eq(ev, "request_authorization");
	s = dump(p);
	ck_assert_str_eq(s, "{\"resource_id\":\"f16ecfa0-a94f-4bfd-a2ef-"
	    "1cc1f2ef3da3\",\"connected_gateway_ids\":[]}");
	free(s);
	json_decref(p);
	strcpy(m.u.request_authorization.ipv4, "100.65.0.1");
	ck_assert_int_eq(portal_msg_encode(&m, &ev, &p), 0);
	s = dump(p);
	ck_assert_str_eq(s, "{\"resource_id\":\"f16ecfa0-a94f-4bfd-a2ef-"
	    "1cc1f2ef3da3\",\"connected_gateway_ids\":[],\"ipv4\":"
	    "\"100.65.0.1\"}");
	free(s);
	json_decref(p);
	m.u.request_authorization.ipv4[0] = '\0';
	strcpy(m.u.request_authorization.ipv6, "fd00:2021:1111::1");
	ck_assert_int_eq(portal_msg_encode(&m, &ev, &p), 0);
	s = dump(p);
	ck_assert_str_eq(s, "{\"resource_id\":\"f16ecfa0-a94f-4bfd-a2ef-"
	    "1cc1f2ef3da3\",\"connected_gateway_ids\":[],\"ipv6\":"
	    "\"fd00:2021:1111::1\"}");
	free(s);
	json_decref(p);

	memset(&m, 0, sizeof(m));
	m.type = PM_CLIENT_NO_RELAYS;
	ck_assert_int_eq(portal_msg_encode(&m, &ev, &p), 0);
	ck_assert_str_eq(ev, "no_relays");
	s = dump(p);
	ck_assert_str_eq(s, "{}");
	free(s);
	json_decref(p);

	m.type = PM_GATEWAY_SET_SNOWNET_CAPABILITIES;
	m.u.iceless = true;
	ck_assert_int_eq(portal_msg_encode(&m, &ev, &p), 0);
	ck_assert_str_eq(ev, "set_snownet_capabilities");
	s = dump(p);
	ck_assert_str_eq(s, "{\"iceless\":true}");
	free(s);
	json_decref(p);

	m.type = PM_RESOLVE_DEVICE_POOL_DOMAIN;
	strcpy(m.u.pool_domain.resource_id,
	    "b2c3d4e5-f6a7-8901-bcde-f12345678901");
	strcpy(m.u.pool_domain.domain, "device-42.laptops.example.com");
	ck_assert_int_eq(portal_msg_encode(&m, &ev, &p), 0);
	ck_assert_str_eq(ev, "resolve_device_pool_domain");
	s = dump(p);
	ck_assert_str_eq(s, "{\"resource_id\":\"b2c3d4e5-f6a7-8901-bcde-"
	    "f12345678901\",\"domain\":\"device-42.laptops.example.com\"}");
	free(s);
	json_decref(p);
	memset(&m, 0, sizeof(m));

	m.type = PM_GATEWAY_AUTHORIZATION_CREATED;
	m.u.ref = strdup("signed-reference");
	ck_assert_int_eq(portal_msg_encode(&m, &ev, &p), 0);
	ck_assert_str_eq(ev, "authorization_created");
	s = dump(p);
	ck_assert_str_eq(s, "{\"ref\":\"signed-reference\"}");
	free(s);
	json_decref(p);
	portal_msg_clear(&m);
}
END_TEST

static json_t *
load(const char *s)
{
	json_t *v = json_loads(s, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    NULL);

	ck_assert_msg(v != NULL, "bad test JSON %s", s);
	return v;
}

static int
dec(enum portal_chan chan, const char *event, const char *payload,
    struct portal_msg *m)
{
	json_t *p = load(payload);
	int r = portal_msg_decode(chan, event, p, m);

	json_decref(p);
	return r;
}

#define IFACE "\"interface\":{\"ipv4\":\"100.64.0.1\",\"ipv6\":\"fd00::1\"}"
#define FLOW "\"flow_logs\":{\"api_url\":\"u\",\"upload_interval_secs\":0," \
	"\"upload_batch_size\":1}"
#define SITES "\"sites\":[{\"id\":\"bf56f32d-7b2c-4f5d-a784-788977d014a4\"," \
	"\"name\":\"s\"}]"

START_TEST(malformed_and_skipped)
{
	struct portal_msg m;
	char *big;
	size_t i, off;

	/* Unknown event, wrong channel: -ENOENT. */
	ck_assert_int_eq(dec(PORTAL_TO_CLIENT, "whatever", "{}", &m), -ENOENT);
	ck_assert_int_eq(dec(PORTAL_TO_GATEWAY, "request_authorization",
	    "{}", &m), -ENOENT);
	/* Top level not an object, or missing what is required: -EBADMSG. */
	ck_assert_int_eq(dec(PORTAL_TO_CLIENT, "init", "[]", &m), -EBADMSG);
	ck_assert_int_eq(dec(PORTAL_TO_CLIENT, "init", "{" FLOW "}", &m),
	    -EBADMSG);
	ck_assert_int_eq(dec(PORTAL_TO_CLIENT, "resource_deleted",
	    "\"not-a-uuid\"", &m), -EBADMSG);
	ck_assert_int_eq(dec(PORTAL_TO_CLIENT, "init", "{\"interface\":"
	    "{\"ipv4\":\"100.64.0.999\",\"ipv6\":\"fd00::1\"}," FLOW "}", &m),
	    -EBADMSG);
	/* A bad filter drops its resource (never widens it to permit-all);
	   a bad relay is skipped, the message kept. */
	ck_assert_int_eq(dec(PORTAL_TO_CLIENT, "init", "{" IFACE "," FLOW ","
	    "\"resources\":[{\"id\":\"73037362-715d-4a83-a749-f18eadd970e6\","
	    "\"type\":\"cidr\",\"address\":\"10.0.0.0/8\",\"name\":\"n\","
	    SITES ",\"filters\":[{\"protocol\":\"sctp\"}]},"
	    "{\"id\":\"73037362-715d-4a83-a749-f18eadd970e7\","
	    "\"type\":\"cidr\",\"address\":\"10.0.0.0/33\",\"name\":\"n\","
	    SITES "},"
	    "{\"id\":\"73037362-715d-4a83-a749-f18eadd970e8\","
	    "\"type\":\"cidr\",\"address\":\"10.0.0.0/8\",\"name\":\"n\","
	    SITES ",\"filters\":[{\"protocol\":\"udp\",\"port_range_start\":"
	    "70000}]},"
	    "{\"id\":\"73037362-715d-4a83-a749-f18eadd970e9\","
	    "\"type\":\"cidr\",\"address\":\"10.0.0.0/8\",\"name\":\"n\","
	    SITES ",\"filters\":[{\"protocol\":\"udp\",\"port_range_start\":"
	    "53,\"port_range_end\":53}]}],"
	    "\"relays\":[{\"id\":\"0a133356-7a9e-4b9a-b413-0d95a5720fd8\","
	    "\"type\":\"turn\",\"addr\":\"nowhere\",\"username\":\"u\","
	    "\"password\":\"p\",\"expires_at\":1},{\"type\":\"quic\"}]}", &m),
	    0);
	ck_assert_uint_eq(m.u.client_init.n_resources, 1);
	ck_assert_str_eq(m.u.client_init.resources[0].id,
	    "73037362-715d-4a83-a749-f18eadd970e9");
	ck_assert_uint_eq(m.u.client_init.n_relays, 0);
	portal_msg_clear(&m);
	/* A name past its bound: the resource is skipped. */
	big = malloc(8192);
	off = (size_t)snprintf(big, 8192, "{" IFACE "," FLOW ",\"resources\":"
	    "[{\"id\":\"73037362-715d-4a83-a749-f18eadd970e9\",\"type\":"
	    "\"dns\",\"address\":\"a.b\"," SITES ",\"name\":\"");
	for (i = 0; i < PORTAL_NAME_MAX + 1; i++)
		big[off++] = 'x';
	snprintf(big + off, 8192 - off, "\"}]}");
	ck_assert_int_eq(dec(PORTAL_TO_CLIENT, "init", big, &m), 0);
	ck_assert_uint_eq(m.u.client_init.n_resources, 0);
	portal_msg_clear(&m);
	free(big);
	/* More than PORTAL_MAX_RESOURCES: the message is refused. */
	{
		json_t *p = load("{" IFACE "," FLOW "}"), *arr = json_array();

		for (i = 0; i <= PORTAL_MAX_RESOURCES; i++)
			json_array_append_new(arr, json_object());
		json_object_set_new(p, "resources", arr);
		ck_assert_int_eq(portal_msg_decode(PORTAL_TO_CLIENT, "init", p,
		    &m), -EBADMSG);
		json_decref(p);
	}
	/* create_authorization with an unknown resource type: refused. */
	ck_assert_int_eq(dec(PORTAL_TO_GATEWAY, "create_authorization",
	    "{\"ref\":\"r\",\"resource\":{\"id\":\"73037362-715d-4a83-a749-"
	    "f18eadd970e9\",\"type\":\"static_device_pool\"}}", &m), -EBADMSG);
	/* Keys must be 32 bytes of base64. */
	ck_assert_int_eq(dec(PORTAL_TO_CLIENT, "authorization_created",
	    "{\"resource_id\":\"733e8d14-c18d-4931-af30-3639fa09c0c0\","
	    "\"gateway_id\":\"d263d490-a0bb-452a-8990-01d27a1f1144\","
	    "\"gateway_public_key\":\"AAAA\"}", &m), -EBADMSG);
	/* The legacy alias of ice_candidates. */
	ck_assert_int_eq(dec(PORTAL_TO_CLIENT, "gateway_ice_candidates",
	    "{\"gateway_id\":\"d263d490-a0bb-452a-8990-01d27a1f1144\","
	    "\"candidates\":[]}", &m), 0);
	ck_assert_int_eq(m.type, PM_GATEWAY_ICE_CANDIDATES);
	portal_msg_clear(&m);
	/* Ids in other UUID forms come out canonical. */
	ck_assert_int_eq(dec(PORTAL_TO_CLIENT, "resource_deleted",
	    "\"{73037362-715D-4A83-A749-F18EADD970E6}\"", &m), 0);
	ck_assert_str_eq(m.u.resource_deleted,
	    "73037362-715d-4a83-a749-f18eadd970e6");
	portal_msg_clear(&m);
}
END_TEST

START_TEST(encode_refuses_invalid)
{
	struct portal_msg m;
	const char *ev;
	json_t *p;

	memset(&m, 0, sizeof(m));
	m.type = PM_RESOURCE_DELETED;
	strcpy(m.u.resource_deleted, "nope");
	ck_assert_int_eq(portal_msg_encode(&m, &ev, &p), -EINVAL);
	m.type = PM_GATEWAY_AUTHORIZATION_CREATED;
	m.u.ref = NULL;
	ck_assert_int_eq(portal_msg_encode(&m, &ev, &p), -EINVAL);
	m.type = PM__COUNT;
	ck_assert_int_eq(portal_msg_encode(&m, &ev, &p), -EINVAL);
}
END_TEST

/* fz-portald builds views itself: a resource round trip per view. */
START_TEST(resource_views)
{
	struct portal_site site = { "bf56f32d-7b2c-4f5d-a784-788977d014a4",
	    "hq" };
	struct portal_filter fl[2] = {
		{ PORTAL_PROTO_TCP, 80, 443 }, { PORTAL_PROTO_ICMP, 0, 0 },
	};
	struct portal_resource r, back;
	json_t *v;
	char *s;

	memset(&r, 0, sizeof(r));
	r.type = PORTAL_RES_CIDR;
	strcpy(r.id, "73037362-715d-4a83-a749-f18eadd970e6");
	strcpy(r.name, "lan");
	strcpy(r.address, "10.50.0.0/24");
	r.sites = &site;
	r.n_sites = 1;
	r.filters = fl;
	r.n_filters = 2;
	v = portal_resource_encode(PORTAL_VIEW_CLIENT, &r);
	s = dump(v);
	ck_assert_str_eq(s, "{\"id\":\"73037362-715d-4a83-a749-f18eadd970e6\","
	    "\"type\":\"cidr\",\"address\":\"10.50.0.0/24\","
	    "\"address_description\":null,\"name\":\"lan\",\"filters\":["
	    "{\"protocol\":\"tcp\",\"port_range_start\":80,\"port_range_end\":"
	    "443},{\"protocol\":\"icmp\"}],\"sites\":[{\"id\":\"bf56f32d-7b2c-"
	    "4f5d-a784-788977d014a4\",\"name\":\"hq\"}]}");
	free(s);
	ck_assert_int_eq(portal_resource_decode(PORTAL_VIEW_CLIENT, v, &back),
	    0);
	ck_assert_uint_eq(back.n_filters, 2);
	ck_assert_uint_eq(back.filters[0].port_end, 443);
	portal_resource_clear(&back);
	json_decref(v);
	v = portal_resource_encode(PORTAL_VIEW_GATEWAY, &r);
	s = dump(v);
	ck_assert_str_eq(s, "{\"id\":\"73037362-715d-4a83-a749-f18eadd970e6\","
	    "\"type\":\"cidr\",\"address\":\"10.50.0.0/24\",\"name\":\"lan\","
	    "\"filters\":[{\"protocol\":\"tcp\",\"port_range_start\":80,"
	    "\"port_range_end\":443},{\"protocol\":\"icmp\"}]}");
	free(s);
	json_decref(v);
	/* Device pools have no gateway view. */
	r.type = PORTAL_RES_STATIC_DEVICE_POOL;
	ck_assert_ptr_null(portal_resource_encode(PORTAL_VIEW_GATEWAY, &r));
}
END_TEST

/* The catalogue is complete: every type has an event and a channel. */
START_TEST(catalogue_complete)
{
	int t;

	for (t = 0; t < PM__COUNT; t++) {
		ck_assert_msg(portal_msg_event((enum portal_msg_type)t) != NULL,
		    "type %d has no event", t);
		ck_assert_int_le(portal_msg_chan((enum portal_msg_type)t),
		    PORTAL_FROM_RELAY);
	}
	ck_assert_ptr_null(portal_msg_event(PM__COUNT));
}
END_TEST

static Suite *
portal_msg_suite(void)
{
	Suite *s = suite_create("portal_msg");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, fixture_decodes, 0,
	    sizeof(fixtures) / sizeof(fixtures[0]));
	tcase_add_test(tc, client_init_contents);
	tcase_add_test(tc, other_contents);
	tcase_add_test(tc, egress_matches_connlib);
	tcase_add_test(tc, malformed_and_skipped);
	tcase_add_test(tc, encode_refuses_invalid);
	tcase_add_test(tc, resource_views);
	tcase_add_test(tc, catalogue_complete);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(portal_msg_suite)
