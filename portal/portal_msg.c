/* SPDX-License-Identifier: ISC */
/*
 * Portal channel messages <-> typed structs (see portal_msg.h).
 *
 * Field rules follow connlib's serde types (tunnel-proto/src/messages):
 * required fields must be present and of their type, Option fields may be
 * absent or null, #[serde(default)] lists may be absent.  connlib skips a
 * resource it cannot parse and a candidate that is not a string; fz also
 * skips a malformed relay, authorization or id in a list.  Filters, sites
 * and upstream DNS entries are strict: dropping one filter would widen a
 * resource (an empty filter list permits everything).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "creds.h"
#include "portal_json.h"
#include "portal_msg.h"

/* Smaller pieces. */

static int
flow_logs_decode(const json_t *o, struct portal_flow_logs *f)
{
	const json_t *v = json_object_get(o, "flow_logs");
	int r;

	if (!json_is_object(v))
		return -EBADMSG;	/* required by connlib */
	if ((r = pj_str_req(v, "api_url", f->api_url, sizeof(f->api_url))) < 0 ||
	    (r = pj_u64_req(v, "upload_interval_secs",
	    &f->upload_interval_secs)) < 0 ||
	    (r = pj_u64_req(v, "upload_batch_size", &f->upload_batch_size)) < 0)
		return r;
	return 0;
}

static json_t *
flow_logs_enc(const struct portal_flow_logs *f)
{
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put_str(&e, "api_url", f->api_url);
	pj_put_u64(&e, "upload_interval_secs", f->upload_interval_secs);
	pj_put_u64(&e, "upload_batch_size", f->upload_batch_size);
	return pj_enc_done(&e);
}

static int
authz_elem(const json_t *v, void *out, const void *arg)
{
	struct portal_authorization *a = out;
	int r;

	(void)arg;
	if (!json_is_object(v))
		return -EBADMSG;
	if ((r = pj_id_req(v, "client_id", a->client_id)) < 0 ||
	    (r = pj_id_req(v, "resource_id", a->resource_id)) < 0 ||
	    (r = pj_u64_req(v, "expires_at", &a->expires_at)) < 0)
		return r;
	return 0;
}

static json_t *
authz_elem_enc(const void *p, const void *arg)
{
	const struct portal_authorization *a = p;
	struct pj_enc e;

	(void)arg;
	pj_enc_init(&e);
	pj_put_str(&e, "client_id", a->client_id);
	pj_put_str(&e, "resource_id", a->resource_id);
	pj_put_u64(&e, "expires_at", a->expires_at);
	return pj_enc_done(&e);
}

static int
id_elem(const json_t *v, void *out, const void *arg)
{
	(void)arg;
	return pj_id_value(v, out);
}

static json_t *
id_elem_enc(const void *p, const void *arg)
{
	(void)arg;
	return json_string(p);
}

/*
 * An SDP candidate line (RFC 8839 §5.1) as connlib's IceCandidate takes
 * it: "candidate:<foundation> <component> <transport> <priority> <address>
 * <port> typ <type> ...".  Anything else is skipped.
 */
static bool
is_candidate(const char *s)
{
	const char *p = s;
	unsigned tok = 0;

	if (strncmp(s, "candidate:", 10) != 0)
		return false;
	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n == 0)
			return false;	/* empty token */
		if (tok == 6 && (n != 3 || strncmp(p, "typ", 3) != 0))
			return false;
		tok++;
		p += n;
		if (*p == ' ')
			p++;
	}
	return tok >= 8;
}

static int
cand_elem(const json_t *v, void *out, const void *arg)
{
	size_t n;

	(void)arg;
	if (!json_is_string(v) || (n = json_string_length(v)) > PORTAL_CAND_MAX
	    || n == 0 || memchr(json_string_value(v), '\0', n) != NULL ||
	    !is_candidate(json_string_value(v)))
		return -EBADMSG;
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

static json_t *
cand_elem_enc(const void *p, const void *arg)
{
	(void)arg;
	return json_string(p);
}

static int
short_elem(const json_t *v, void *out, const void *arg)
{
	size_t n;

	(void)arg;
	if (!json_is_string(v) ||
	    (n = json_string_length(v)) > PORTAL_REASON_MAX ||
	    memchr(json_string_value(v), '\0', n) != NULL)
		return -EBADMSG;
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

static int
ice_decode(const json_t *o, const char *k, struct portal_ice_pair *p)
{
	const json_t *v = json_object_get(o, k);
	int r;

	if (!json_is_object(v))
		return -EBADMSG;
	if ((r = pj_str_req(v, "username", p->username,
	    sizeof(p->username))) < 0 ||
	    (r = pj_str_req(v, "password", p->password,
	    sizeof(p->password))) < 0)
		return r;
	return 0;
}

static json_t *
ice_enc(const struct portal_ice_pair *p)
{
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put_str(&e, "username", p->username);
	pj_put_str(&e, "password", p->password);
	return pj_enc_done(&e);
}

/* Messages: decoders fill a zeroed union member; encoders return e.o. */

typedef int (*msg_dec_fn)(const json_t *, struct portal_msg *);
typedef json_t *(*msg_enc_fn)(const struct portal_msg *);

static int
dec_client_init(const json_t *p, struct portal_msg *m)
{
	struct portal_client_init *t = &m->u.client_init;
	enum portal_view view = PORTAL_VIEW_CLIENT;
	int r;

	if ((r = portal_interface_decode(PORTAL_VIEW_CLIENT,
	    json_object_get(p, "interface"), &t->interface)) < 0)
		return r;
	if ((r = pj_list_decode(p, "resources", false, PORTAL_MAX_RESOURCES,
	    sizeof(struct portal_resource), pv_resource_elem, &view, true,
	    (void **)&t->resources, &t->n_resources)) < 0 ||
	    (r = pv_relays_decode(p, "relays", false, &t->relays,
	    &t->n_relays)) < 0 ||
	    (r = pj_list_decode(p, "authorizations", false, PORTAL_MAX_LIST,
	    sizeof(struct portal_authorization), authz_elem, NULL, true,
	    (void **)&t->authorizations, &t->n_authorizations)) < 0)
		return r;
	return flow_logs_decode(p, &t->flow_logs);
}

static json_t *
enc_client_init(const struct portal_msg *m)
{
	const struct portal_client_init *t = &m->u.client_init;
	enum portal_view view = PORTAL_VIEW_CLIENT;
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put(&e, "interface", portal_interface_encode(PORTAL_VIEW_CLIENT,
	    &t->interface));
	pj_put(&e, "resources", pj_list_encode(t->resources, t->n_resources,
	    sizeof(*t->resources), pv_resource_elem_enc, &view));
	pj_put(&e, "relays", pv_relays_enc(t->relays, t->n_relays));
	pj_put(&e, "authorizations", pj_list_encode(t->authorizations,
	    t->n_authorizations, sizeof(*t->authorizations), authz_elem_enc,
	    NULL));
	pj_put(&e, "flow_logs", flow_logs_enc(&t->flow_logs));
	return pj_enc_done(&e);
}

static int
dec_config_changed(const json_t *p, struct portal_msg *m)
{
	return portal_interface_decode(PORTAL_VIEW_CLIENT,
	    json_object_get(p, "interface"), &m->u.config_changed);
}

static json_t *
enc_config_changed(const struct portal_msg *m)
{
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put(&e, "interface", portal_interface_encode(PORTAL_VIEW_CLIENT,
	    &m->u.config_changed));
	return pj_enc_done(&e);
}

static int
dec_client_resource(const json_t *p, struct portal_msg *m)
{
	return portal_resource_decode(PORTAL_VIEW_CLIENT, p, &m->u.resource);
}

static json_t *
enc_client_resource(const struct portal_msg *m)
{
	return portal_resource_encode(PORTAL_VIEW_CLIENT, &m->u.resource);
}

static int
dec_gateway_resource(const json_t *p, struct portal_msg *m)
{
	return portal_resource_decode(PORTAL_VIEW_GATEWAY, p, &m->u.resource);
}

static json_t *
enc_gateway_resource(const struct portal_msg *m)
{
	return portal_resource_encode(PORTAL_VIEW_GATEWAY, &m->u.resource);
}

static int
dec_resource_deleted(const json_t *p, struct portal_msg *m)
{
	return pj_id_value(p, m->u.resource_deleted);	/* a bare string */
}

static json_t *
enc_resource_deleted(const struct portal_msg *m)
{
	return json_string(m->u.resource_deleted);
}

static int
dec_relays_presence(const json_t *p, struct portal_msg *m)
{
	struct portal_relays_presence *t = &m->u.relays_presence;
	int r;

	if ((r = pj_list_decode(p, "disconnected_ids", true, PORTAL_MAX_LIST,
	    sizeof(portal_id), id_elem, NULL, true,
	    (void **)&t->disconnected_ids, &t->n_disconnected)) < 0)
		return r;
	return pv_relays_decode(p, "connected", true, &t->connected,
	    &t->n_connected);
}

static json_t *
enc_relays_presence(const struct portal_msg *m)
{
	const struct portal_relays_presence *t = &m->u.relays_presence;
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put(&e, "disconnected_ids", pj_list_encode(t->disconnected_ids,
	    t->n_disconnected, sizeof(portal_id), id_elem_enc, NULL));
	pj_put(&e, "connected", pv_relays_enc(t->connected, t->n_connected));
	return pj_enc_done(&e);
}

static int
dec_authorization_created(const json_t *p, struct portal_msg *m)
{
	struct portal_authorization_created *t = &m->u.authorization_created;
	int r;

	if ((r = pj_id_req(p, "resource_id", t->resource_id)) < 0 ||
	    (r = pj_id_req(p, "gateway_id", t->gateway_id)) < 0 ||
	    (r = pj_key_req(p, "gateway_public_key", t->gateway_public_key)) < 0 ||
	    (r = pj_ip_req(p, "gateway_ipv4", AF_INET, t->gateway_ipv4)) < 0 ||
	    (r = pj_ip_req(p, "gateway_ipv6", AF_INET6, t->gateway_ipv6)) < 0 ||
	    (r = pj_key_req(p, "preshared_key", t->preshared_key)) < 0 ||
	    (r = ice_decode(p, "client_ice_credentials", &t->client_ice)) < 0 ||
	    (r = ice_decode(p, "gateway_ice_credentials",
	    &t->gateway_ice)) < 0 ||
	    (r = pj_bool_opt(p, "use_iceless", false, &t->use_iceless)) < 0)
		return r;
	/* "gateway_group_id", alias "site_id". */
	t->gateway_group_id = json_object_get(p, "gateway_group_id") != NULL;
	if ((r = pj_id_req(p, t->gateway_group_id ? "gateway_group_id" :
	    "site_id", t->site_id)) < 0)
		return r;
	return pj_str_dup_req(p, "flow_logs_ingest_token", PORTAL_TOKEN_MAX,
	    &t->flow_logs_ingest_token);
}

static json_t *
enc_authorization_created(const struct portal_msg *m)
{
	const struct portal_authorization_created *t =
	    &m->u.authorization_created;
	struct pj_enc e;

	if (t->flow_logs_ingest_token == NULL)
		return NULL;
	pj_enc_init(&e);
	pj_put_str(&e, "resource_id", t->resource_id);
	pj_put_str(&e, "gateway_id", t->gateway_id);
	pj_put_str(&e, t->gateway_group_id ? "gateway_group_id" : "site_id",
	    t->site_id);
	pj_put_str(&e, "gateway_public_key", t->gateway_public_key);
	pj_put_str(&e, "gateway_ipv4", t->gateway_ipv4);
	pj_put_str(&e, "gateway_ipv6", t->gateway_ipv6);
	pj_put_str(&e, "preshared_key", t->preshared_key);
	pj_put(&e, "client_ice_credentials", ice_enc(&t->client_ice));
	pj_put(&e, "gateway_ice_credentials", ice_enc(&t->gateway_ice));
	pj_put(&e, "use_iceless", json_boolean(t->use_iceless));
	pj_put_str(&e, "flow_logs_ingest_token", t->flow_logs_ingest_token);
	return pj_enc_done(&e);
}

static int
dec_authorization_creation_failed(const json_t *p, struct portal_msg *m)
{
	struct portal_authorization_creation_failed *t =
	    &m->u.authorization_creation_failed;
	int r;

	if ((r = pj_id_req(p, "resource_id", t->resource_id)) < 0 ||
	    (r = pj_str_req(p, "reason", t->reason, sizeof(t->reason))) < 0)
		return r;
	return pj_list_decode(p, "violated_properties", false, PORTAL_MAX_LIST,
	    sizeof(*t->violated), short_elem, NULL, true,
	    (void **)&t->violated, &t->n_violated);
}

static json_t *
enc_authorization_creation_failed(const struct portal_msg *m)
{
	const struct portal_authorization_creation_failed *t =
	    &m->u.authorization_creation_failed;
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put_str(&e, "resource_id", t->resource_id);
	pj_put_str(&e, "reason", t->reason);
	if (t->n_violated > 0)
		pj_put(&e, "violated_properties", pj_list_encode(t->violated,
		    t->n_violated, sizeof(*t->violated), cand_elem_enc, NULL));
	return pj_enc_done(&e);
}

/* Candidates: the id key and whether it is a list. */
struct cand_shape {
	const char	*key;
	bool		 many;
};

static int
dec_candidates(const json_t *p, struct portal_msg *m,
    const struct cand_shape *s)
{
	struct portal_candidates *t = &m->u.candidates;
	int r;

	if (s->many) {
		if ((r = pj_list_decode(p, s->key, true, PORTAL_MAX_LIST,
		    sizeof(portal_id), id_elem, NULL, true, (void **)&t->ids,
		    &t->n_ids)) < 0)
			return r;
	} else {
		if ((t->ids = calloc(1, sizeof(portal_id))) == NULL)
			return -ENOMEM;
		if ((r = pj_id_req(p, s->key, t->ids[0])) < 0)
			return r;
		t->n_ids = 1;
	}
	return pj_list_decode(p, "candidates", true, PORTAL_MAX_LIST,
	    sizeof(*t->candidates), cand_elem, NULL, true,
	    (void **)&t->candidates, &t->n_candidates);
}

static json_t *
enc_candidates(const struct portal_msg *m, const struct cand_shape *s)
{
	const struct portal_candidates *t = &m->u.candidates;
	struct pj_enc e;

	if (!s->many && t->n_ids != 1)
		return NULL;
	pj_enc_init(&e);
	if (s->many)
		pj_put(&e, s->key, pj_list_encode(t->ids, t->n_ids,
		    sizeof(portal_id), id_elem_enc, NULL));
	else
		pj_put_str(&e, s->key, t->ids[0]);
	pj_put(&e, "candidates", pj_list_encode(t->candidates, t->n_candidates,
	    sizeof(*t->candidates), cand_elem_enc, NULL));
	return pj_enc_done(&e);
}

static const struct cand_shape by_gateway = { "gateway_id", false };
static const struct cand_shape by_client = { "client_id", false };
static const struct cand_shape by_clients = { "client_ids", true };

#define CAND_FNS(name, shape)						\
static int								\
dec_##name(const json_t *p, struct portal_msg *m)			\
{									\
	return dec_candidates(p, m, &shape);				\
}									\
static json_t *								\
enc_##name(const struct portal_msg *m)					\
{									\
	return enc_candidates(m, &shape);				\
}
CAND_FNS(cand_gateway, by_gateway)
CAND_FNS(cand_client, by_client)
CAND_FNS(cand_clients, by_clients)

static int
dec_filters_updated(const json_t *p, struct portal_msg *m)
{
	struct portal_filters_updated *t = &m->u.filters_updated;
	int r;

	if ((r = pj_id_req(p, "id", t->id)) < 0)
		return r;
	return pv_filters_decode(p, true, &t->filters, &t->n_filters);
}

static json_t *
enc_filters_updated(const struct portal_msg *m)
{
	const struct portal_filters_updated *t = &m->u.filters_updated;
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put_str(&e, "id", t->id);
	pj_put(&e, "filters", pv_filters_enc(t->filters, t->n_filters));
	return pj_enc_done(&e);
}

static int
dec_reject_access(const json_t *p, struct portal_msg *m)
{
	int r;

	if ((r = pj_id_req(p, "client_id", m->u.reject_access.client_id)) < 0)
		return r;
	return pj_id_req(p, "resource_id", m->u.reject_access.resource_id);
}

static json_t *
enc_reject_access(const struct portal_msg *m)
{
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put_str(&e, "client_id", m->u.reject_access.client_id);
	pj_put_str(&e, "resource_id", m->u.reject_access.resource_id);
	return pj_enc_done(&e);
}

static int
dec_disconnect(const json_t *p, struct portal_msg *m)
{
	return pj_str_req(p, "reason", m->u.disconnect_reason,
	    sizeof(m->u.disconnect_reason));
}

static json_t *
enc_disconnect(const struct portal_msg *m)
{
	return pj_str_obj_enc("reason", m->u.disconnect_reason);
}

static int
dec_request_authorization(const json_t *p, struct portal_msg *m)
{
	struct portal_request_authorization *t = &m->u.request_authorization;
	int r;

	if ((r = pj_id_req(p, "resource_id", t->resource_id)) < 0 ||
	    (r = pj_list_decode(p, "connected_gateway_ids", false,
	    PORTAL_MAX_LIST, sizeof(portal_id), id_elem, NULL, true,
	    (void **)&t->connected_gateway_ids,
	    &t->n_connected_gateway_ids)) < 0 ||
	    (r = pj_ip_opt(p, "ipv4", AF_INET, t->ipv4)) < 0 ||
	    (r = pj_ip_opt(p, "ipv6", AF_INET6, t->ipv6)) < 0)
		return r;
	return 0;
}

static json_t *
enc_request_authorization(const struct portal_msg *m)
{
	const struct portal_request_authorization *t =
	    &m->u.request_authorization;
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put_str(&e, "resource_id", t->resource_id);
	pj_put(&e, "connected_gateway_ids", pj_list_encode(t->connected_gateway_ids,
	    t->n_connected_gateway_ids, sizeof(portal_id), id_elem_enc, NULL));
	if (t->ipv4[0] != '\0')
		pj_put_str(&e, "ipv4", t->ipv4);
	if (t->ipv6[0] != '\0')
		pj_put_str(&e, "ipv6", t->ipv6);
	return pj_enc_done(&e);
}

static int
dec_capabilities(const json_t *p, struct portal_msg *m)
{
	return pj_bool_opt(p, "iceless", false, &m->u.iceless);
}

static json_t *
enc_capabilities(const struct portal_msg *m)
{
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put(&e, "iceless", json_boolean(m->u.iceless));
	return pj_enc_done(&e);
}

static int
dec_empty(const json_t *p, struct portal_msg *m)
{
	(void)p;
	(void)m;
	return 0;
}

static json_t *
enc_empty(const struct portal_msg *m)
{
	(void)m;
	return json_object();
}

static int
dec_gateway_init(const json_t *p, struct portal_msg *m)
{
	struct portal_gateway_init *t = &m->u.gateway_init;
	const json_t *cfg = json_object_get(p, "config");
	int r;

	if ((r = portal_interface_decode(PORTAL_VIEW_GATEWAY,
	    json_object_get(p, "interface"), &t->interface)) < 0)
		return r;
	if (!json_is_object(cfg) ||
	    (r = pj_bool_req(cfg, "ipv4_masquerade_enabled",
	    &t->ipv4_masquerade)) < 0 ||
	    (r = pj_bool_req(cfg, "ipv6_masquerade_enabled",
	    &t->ipv6_masquerade)) < 0)
		return -EBADMSG;
	if ((r = pv_relays_decode(p, "relays", false, &t->relays,
	    &t->n_relays)) < 0 ||
	    (r = pj_str_opt(p, "account_slug", t->account_slug,
	    sizeof(t->account_slug), &t->has_account_slug)) < 0 ||
	    (r = pj_list_decode(p, "authorizations", false, PORTAL_MAX_LIST,
	    sizeof(struct portal_authorization), authz_elem, NULL, true,
	    (void **)&t->authorizations, &t->n_authorizations)) < 0)
		return r;
	return flow_logs_decode(p, &t->flow_logs);
}

static json_t *
enc_gateway_init(const struct portal_msg *m)
{
	const struct portal_gateway_init *t = &m->u.gateway_init;
	struct pj_enc e, c;

	pj_enc_init(&c);
	pj_put(&c, "ipv4_masquerade_enabled", json_boolean(t->ipv4_masquerade));
	pj_put(&c, "ipv6_masquerade_enabled", json_boolean(t->ipv6_masquerade));
	pj_enc_init(&e);
	pj_put(&e, "interface", portal_interface_encode(PORTAL_VIEW_GATEWAY,
	    &t->interface));
	pj_put(&e, "config", pj_enc_done(&c));
	pj_put(&e, "relays", pv_relays_enc(t->relays, t->n_relays));
	pj_put_str_or_null(&e, "account_slug", t->has_account_slug,
	    t->account_slug);
	pj_put(&e, "authorizations", pj_list_encode(t->authorizations,
	    t->n_authorizations, sizeof(*t->authorizations), authz_elem_enc,
	    NULL));
	pj_put(&e, "flow_logs", flow_logs_enc(&t->flow_logs));
	return pj_enc_done(&e);
}

static int
dec_create_authorization(const json_t *p, struct portal_msg *m)
{
	struct portal_create_authorization *t = &m->u.create_authorization;
	const json_t *cl = json_object_get(p, "client");
	const json_t *ex = json_object_get(p, "expires_at");
	int r;

	if ((r = pj_str_dup_req(p, "ref", PORTAL_TOKEN_MAX, &t->ref)) < 0)
		return r;
	r = portal_resource_decode(PORTAL_VIEW_GATEWAY,
	    json_object_get(p, "resource"), &t->resource);
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	if (!json_is_object(cl) ||
	    (r = pj_id_req(cl, "id", t->client.id)) < 0 ||
	    (r = pj_key_req(cl, "public_key", t->client.public_key)) < 0 ||
	    (r = pj_key_req(cl, "preshared_key", t->client.preshared_key)) < 0 ||
	    (r = pj_ip_req(cl, "ipv4", AF_INET, t->client.ipv4)) < 0 ||
	    (r = pj_ip_req(cl, "ipv6", AF_INET6, t->client.ipv6)) < 0 ||
	    (r = pj_str_opt(cl, "version", t->client.version,
	    sizeof(t->client.version), NULL)) < 0)
		return -EBADMSG;
	if ((r = ice_decode(p, "gateway_ice_credentials",
	    &t->gateway_ice)) < 0 ||
	    (r = ice_decode(p, "client_ice_credentials", &t->client_ice)) < 0 ||
	    (r = pj_bool_opt(p, "use_iceless", false, &t->use_iceless)) < 0)
		return r;
	if (ex != NULL && !json_is_null(ex)) {
		if ((r = pj_u64_req(p, "expires_at", &t->expires_at)) < 0)
			return r;
		t->has_expires_at = true;
	}
	return pj_str_dup_req(p, "flow_logs_ingest_token", PORTAL_TOKEN_MAX,
	    &t->flow_logs_ingest_token);
}

static json_t *
enc_create_authorization(const struct portal_msg *m)
{
	const struct portal_create_authorization *t =
	    &m->u.create_authorization;
	struct pj_enc e, c;

	if (t->ref == NULL || t->flow_logs_ingest_token == NULL)
		return NULL;
	pj_enc_init(&c);
	pj_put_str(&c, "id", t->client.id);
	pj_put_str(&c, "public_key", t->client.public_key);
	pj_put_str(&c, "preshared_key", t->client.preshared_key);
	pj_put_str(&c, "ipv4", t->client.ipv4);
	pj_put_str(&c, "ipv6", t->client.ipv6);
	if (t->client.version[0] != '\0')
		pj_put_str(&c, "version", t->client.version);
	pj_enc_init(&e);
	pj_put_str(&e, "ref", t->ref);
	pj_put(&e, "resource", portal_resource_encode(PORTAL_VIEW_GATEWAY,
	    &t->resource));
	pj_put(&e, "client", pj_enc_done(&c));
	pj_put(&e, "gateway_ice_credentials", ice_enc(&t->gateway_ice));
	pj_put(&e, "client_ice_credentials", ice_enc(&t->client_ice));
	if (t->has_expires_at)
		pj_put_u64(&e, "expires_at", t->expires_at);
	else
		pj_put(&e, "expires_at", json_null());
	pj_put(&e, "use_iceless", json_boolean(t->use_iceless));
	pj_put_str(&e, "flow_logs_ingest_token", t->flow_logs_ingest_token);
	return pj_enc_done(&e);
}

static int
dec_gateway_authorization_created(const json_t *p, struct portal_msg *m)
{
	return pj_str_dup_req(p, "ref", PORTAL_TOKEN_MAX, &m->u.ref);
}

static json_t *
enc_gateway_authorization_created(const struct portal_msg *m)
{
	if (m->u.ref == NULL)
		return NULL;
	return pj_str_obj_enc("ref", m->u.ref);
}

static int
dec_relay_join(const json_t *p, struct portal_msg *m)
{
	return pj_str_req(p, "stamp_secret", m->u.stamp_secret,
	    sizeof(m->u.stamp_secret));
}

static json_t *
enc_relay_join(const struct portal_msg *m)
{
	return pj_str_obj_enc("stamp_secret", m->u.stamp_secret);
}

static int
dec_device_access(const json_t *p, struct portal_msg *m)
{
	struct portal_device_access *t = &m->u.device_access;
	const json_t *res = json_object_get(p, "resource");
	const json_t *ex = json_object_get(p, "expires_at");
	const char *role;
	int r;

	if ((r = pj_id_req(p, "client_id", t->client_id)) < 0 ||
	    (r = pj_str_req(p, "client_name", t->client_name,
	    sizeof(t->client_name))) < 0 ||
	    (r = pj_key_req(p, "client_public_key", t->client_public_key)) < 0 ||
	    (r = pj_ip_req(p, "client_ipv4", AF_INET, t->client_ipv4)) < 0 ||
	    (r = pj_ip_req(p, "client_ipv6", AF_INET6, t->client_ipv6)) < 0 ||
	    (r = pj_key_req(p, "preshared_key", t->preshared_key)) < 0 ||
	    (r = ice_decode(p, "local_ice_credentials", &t->local_ice)) < 0 ||
	    (r = ice_decode(p, "remote_ice_credentials", &t->remote_ice)) < 0 ||
	    (r = pj_bool_opt(p, "use_iceless", false, &t->use_iceless)) < 0)
		return r;
	role = json_string_value(json_object_get(p, "ice_role"));
	if (role == NULL || (strcmp(role, "controlling") != 0 &&
	    strcmp(role, "controlled") != 0))
		return -EBADMSG;
	t->ice_controlling = strcmp(role, "controlling") == 0;
	if (res != NULL && !json_is_null(res)) {
		if (!json_is_object(res) ||
		    (r = pj_id_req(res, "id", t->resource_id)) < 0 ||
		    (r = pv_filters_decode(res, false, &t->filters,
		    &t->n_filters)) < 0)
			return r < 0 ? r : -EBADMSG;
		t->has_resource = true;
	}
	if (ex != NULL && !json_is_null(ex)) {
		if ((r = pj_u64_req(p, "expires_at", &t->expires_at)) < 0)
			return r;
		t->has_expires_at = true;
	}
	return pj_str_dup_req(p, "flow_logs_ingest_token", PORTAL_TOKEN_MAX,
	    &t->flow_logs_ingest_token);
}

static json_t *
enc_device_access(const struct portal_msg *m)
{
	const struct portal_device_access *t = &m->u.device_access;
	struct pj_enc e, res;

	if (t->flow_logs_ingest_token == NULL)
		return NULL;
	pj_enc_init(&e);
	pj_put_str(&e, "client_id", t->client_id);
	pj_put_str(&e, "client_name", t->client_name);
	pj_put_str(&e, "client_public_key", t->client_public_key);
	pj_put_str(&e, "client_ipv4", t->client_ipv4);
	pj_put_str(&e, "client_ipv6", t->client_ipv6);
	pj_put_str(&e, "preshared_key", t->preshared_key);
	pj_put(&e, "local_ice_credentials", ice_enc(&t->local_ice));
	pj_put(&e, "remote_ice_credentials", ice_enc(&t->remote_ice));
	pj_put_str(&e, "ice_role", t->ice_controlling ? "controlling" :
	    "controlled");
	pj_put(&e, "use_iceless", json_boolean(t->use_iceless));
	if (t->has_resource) {
		pj_enc_init(&res);
		pj_put_str(&res, "id", t->resource_id);
		pj_put(&res, "filters", pv_filters_enc(t->filters, t->n_filters));
		pj_put(&e, "resource", pj_enc_done(&res));
	}
	if (t->has_expires_at)
		pj_put_u64(&e, "expires_at", t->expires_at);
	pj_put_str(&e, "flow_logs_ingest_token", t->flow_logs_ingest_token);
	return pj_enc_done(&e);
}

static int
dec_device_denied(const json_t *p, struct portal_msg *m)
{
	struct portal_device_denied *t = &m->u.device_denied;
	const json_t *cid = json_object_get(p, "client_id");
	int r;

	if ((r = pj_ip_opt(p, "ipv4", AF_INET, t->ipv4)) < 0 ||
	    (r = pj_ip_opt(p, "ipv6", AF_INET6, t->ipv6)) < 0 ||
	    (r = pj_str_req(p, "reason", t->reason, sizeof(t->reason))) < 0)
		return r;
	if (cid != NULL && !json_is_null(cid)) {
		if ((r = pj_id_value(cid, t->client_id)) < 0)
			return r;
		t->has_client_id = true;
	}
	return 0;
}

static json_t *
enc_device_denied(const struct portal_msg *m)
{
	const struct portal_device_denied *t = &m->u.device_denied;
	struct pj_enc e;

	pj_enc_init(&e);
	if (t->ipv4[0] != '\0')
		pj_put_str(&e, "ipv4", t->ipv4);
	if (t->ipv6[0] != '\0')
		pj_put_str(&e, "ipv6", t->ipv6);
	pj_put_str(&e, "reason", t->reason);
	if (t->has_client_id)
		pj_put_str(&e, "client_id", t->client_id);
	return pj_enc_done(&e);
}

static int
dec_candidate_error(const json_t *p, struct portal_msg *m)
{
	struct portal_device_denied *t = &m->u.device_denied;
	int r;

	if ((r = pj_id_req(p, "client_id", t->client_id)) < 0)
		return r;
	t->has_client_id = true;
	return pj_str_req(p, "reason", t->reason, sizeof(t->reason));
}

static json_t *
enc_candidate_error(const struct portal_msg *m)
{
	struct pj_enc e;

	if (!m->u.device_denied.has_client_id)
		return NULL;
	pj_enc_init(&e);
	pj_put_str(&e, "client_id", m->u.device_denied.client_id);
	pj_put_str(&e, "reason", m->u.device_denied.reason);
	return pj_enc_done(&e);
}

/* The three device-pool domain messages differ in their last fields. */
enum pool_kind { POOL_RESOLVE, POOL_RESOLVED, POOL_FAILED };

static int
dec_pool(const json_t *p, struct portal_msg *m, enum pool_kind k)
{
	struct portal_pool_domain *t = &m->u.pool_domain;
	int r, af;

	if ((r = pj_id_req(p, "resource_id", t->resource_id)) < 0 ||
	    (r = pj_str_req(p, "domain", t->domain, sizeof(t->domain))) < 0)
		return r;
	switch (k) {
	case POOL_RESOLVE:
		return 0;
	case POOL_RESOLVED:
		if ((r = pj_str_req(p, "ipv4", t->ipv4, sizeof(t->ipv4))) < 0 ||
		    (r = pj_str_req(p, "ipv6", t->ipv6, sizeof(t->ipv6))) < 0)
			return r;
		if (!pj_is_cidr(t->ipv4, &af) || af != AF_INET ||
		    !pj_is_cidr(t->ipv6, &af) || af != AF_INET6)
			return -EBADMSG;
		return 0;
	case POOL_FAILED:
		return pj_str_req(p, "reason", t->reason, sizeof(t->reason));
	}
	return -EBADMSG;
}

static json_t *
enc_pool(const struct portal_msg *m, enum pool_kind k)
{
	const struct portal_pool_domain *t = &m->u.pool_domain;
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put_str(&e, "resource_id", t->resource_id);
	pj_put_str(&e, "domain", t->domain);
	if (k == POOL_RESOLVED) {
		pj_put_str(&e, "ipv4", t->ipv4);
		pj_put_str(&e, "ipv6", t->ipv6);
	} else if (k == POOL_FAILED)
		pj_put_str(&e, "reason", t->reason);
	return pj_enc_done(&e);
}

#define POOL_FNS(name, kind)						\
static int								\
dec_##name(const json_t *p, struct portal_msg *m)			\
{									\
	return dec_pool(p, m, kind);					\
}									\
static json_t *								\
enc_##name(const struct portal_msg *m)					\
{									\
	return enc_pool(m, kind);					\
}
POOL_FNS(pool_resolve, POOL_RESOLVE)
POOL_FNS(pool_resolved, POOL_RESOLVED)
POOL_FNS(pool_failed, POOL_FAILED)

static int
dec_expiry_updated(const json_t *p, struct portal_msg *m)
{
	return authz_elem(p, &m->u.expiry_updated, NULL);
}

static json_t *
enc_expiry_updated(const struct portal_msg *m)
{
	return authz_elem_enc(&m->u.expiry_updated, NULL);
}

/* The catalogue: one line per (channel, event). */
static const struct msg_def {
	enum portal_msg_type	 type;
	enum portal_chan	 chan;
	const char		*event;
	const char		*alias;
	bool			 object;	/* payload must be an object */
	msg_dec_fn		 dec;
	msg_enc_fn		 enc;
} defs[PM__COUNT] = {
#define D(t, c, e, a, o, f) [t] = { t, c, e, a, o, dec_##f, enc_##f }
	D(PM_CLIENT_INIT, PORTAL_TO_CLIENT, "init", NULL, true, client_init),
	D(PM_CONFIG_CHANGED, PORTAL_TO_CLIENT, "config_changed", NULL, true,
	    config_changed),
	D(PM_RESOURCE_CREATED_OR_UPDATED, PORTAL_TO_CLIENT,
	    "resource_created_or_updated", NULL, true, client_resource),
	D(PM_RESOURCE_DELETED, PORTAL_TO_CLIENT, "resource_deleted", NULL,
	    false, resource_deleted),
	D(PM_CLIENT_RELAYS_PRESENCE, PORTAL_TO_CLIENT, "relays_presence", NULL,
	    true, relays_presence),
	D(PM_AUTHORIZATION_CREATED, PORTAL_TO_CLIENT, "authorization_created",
	    NULL, true, authorization_created),
	D(PM_AUTHORIZATION_CREATION_FAILED, PORTAL_TO_CLIENT,
	    "authorization_creation_failed", NULL, true,
	    authorization_creation_failed),
	D(PM_GATEWAY_ICE_CANDIDATES, PORTAL_TO_CLIENT, "ice_candidates",
	    "gateway_ice_candidates", true, cand_gateway),
	D(PM_GATEWAY_INVALIDATE_ICE_CANDIDATES, PORTAL_TO_CLIENT,
	    "invalidate_ice_candidates", "invalidate_gateway_ice_candidates",
	    true, cand_gateway),
	D(PM_CLIENT_ICE_CANDIDATES, PORTAL_TO_CLIENT, "client_ice_candidates",
	    NULL, true, cand_client),
	D(PM_CLIENT_INVALIDATE_ICE_CANDIDATES, PORTAL_TO_CLIENT,
	    "invalidate_client_ice_candidates", NULL, true, cand_client),
	D(PM_RESOURCE_FILTERS_UPDATED, PORTAL_TO_CLIENT,
	    "resource_filters_updated", NULL, true, filters_updated),
	D(PM_CLIENT_REJECT_ACCESS, PORTAL_TO_CLIENT, "reject_access", NULL,
	    true, reject_access),
	D(PM_CLIENT_DISCONNECT, PORTAL_TO_CLIENT, "disconnect", NULL, true,
	    disconnect),
	D(PM_CLIENT_DEVICE_ACCESS_AUTHORIZED, PORTAL_TO_CLIENT,
	    "client_device_access_authorized", NULL, true, device_access),
	D(PM_CLIENT_DEVICE_ACCESS_DENIED, PORTAL_TO_CLIENT,
	    "client_device_access_denied", NULL, true, device_denied),
	D(PM_CLIENT_ICE_CANDIDATE_ERROR, PORTAL_TO_CLIENT,
	    "client_ice_candidate_error", NULL, true, candidate_error),
	D(PM_DEVICE_POOL_DOMAIN_RESOLVED, PORTAL_TO_CLIENT,
	    "device_pool_domain_resolved", NULL, true, pool_resolved),
	D(PM_DEVICE_POOL_DOMAIN_RESOLUTION_FAILED, PORTAL_TO_CLIENT,
	    "device_pool_domain_resolution_failed", NULL, true, pool_failed),
	D(PM_CLIENT_ACCESS_AUTHORIZATION_EXPIRY_UPDATED, PORTAL_TO_CLIENT,
	    "access_authorization_expiry_updated", NULL, true, expiry_updated),
	D(PM_REQUEST_AUTHORIZATION, PORTAL_FROM_CLIENT,
	    "request_authorization", NULL, true, request_authorization),
	D(PM_NEW_GATEWAY_ICE_CANDIDATES, PORTAL_FROM_CLIENT,
	    "new_gateway_ice_candidates", NULL, true, cand_gateway),
	D(PM_INVALIDATE_GATEWAY_ICE_CANDIDATES, PORTAL_FROM_CLIENT,
	    "invalidate_gateway_ice_candidates", NULL, true, cand_gateway),
	D(PM_NEW_CLIENT_ICE_CANDIDATES, PORTAL_FROM_CLIENT,
	    "new_client_ice_candidates", NULL, true, cand_client),
	D(PM_INVALIDATE_CLIENT_ICE_CANDIDATES, PORTAL_FROM_CLIENT,
	    "invalidate_client_ice_candidates", NULL, true, cand_client),
	D(PM_CLIENT_SET_SNOWNET_CAPABILITIES, PORTAL_FROM_CLIENT,
	    "set_snownet_capabilities", NULL, true, capabilities),
	D(PM_CLIENT_NO_RELAYS, PORTAL_FROM_CLIENT, "no_relays", NULL, true,
	    empty),
	D(PM_RESOLVE_DEVICE_POOL_DOMAIN, PORTAL_FROM_CLIENT,
	    "resolve_device_pool_domain", NULL, true, pool_resolve),
	D(PM_GATEWAY_INIT, PORTAL_TO_GATEWAY, "init", NULL, true,
	    gateway_init),
	D(PM_CREATE_AUTHORIZATION, PORTAL_TO_GATEWAY, "create_authorization",
	    NULL, true, create_authorization),
	D(PM_ICE_CANDIDATES, PORTAL_TO_GATEWAY, "ice_candidates", NULL, true,
	    cand_client),
	D(PM_INVALIDATE_ICE_CANDIDATES, PORTAL_TO_GATEWAY,
	    "invalidate_ice_candidates", NULL, true, cand_client),
	D(PM_GATEWAY_RELAYS_PRESENCE, PORTAL_TO_GATEWAY, "relays_presence",
	    NULL, true, relays_presence),
	D(PM_GATEWAY_REJECT_ACCESS, PORTAL_TO_GATEWAY, "reject_access", NULL,
	    true, reject_access),
	D(PM_RESOURCE_UPDATED, PORTAL_TO_GATEWAY, "resource_updated", NULL,
	    true, gateway_resource),
	D(PM_GATEWAY_DISCONNECT, PORTAL_TO_GATEWAY, "disconnect", NULL, true,
	    disconnect),
	D(PM_GATEWAY_ACCESS_AUTHORIZATION_EXPIRY_UPDATED, PORTAL_TO_GATEWAY,
	    "access_authorization_expiry_updated", NULL, true, expiry_updated),
	D(PM_GATEWAY_AUTHORIZATION_CREATED, PORTAL_FROM_GATEWAY,
	    "authorization_created", NULL, true,
	    gateway_authorization_created),
	D(PM_BROADCAST_ICE_CANDIDATES, PORTAL_FROM_GATEWAY,
	    "broadcast_ice_candidates", NULL, true, cand_clients),
	D(PM_BROADCAST_INVALIDATED_ICE_CANDIDATES, PORTAL_FROM_GATEWAY,
	    "broadcast_invalidated_ice_candidates", NULL, true, cand_clients),
	D(PM_GATEWAY_SET_SNOWNET_CAPABILITIES, PORTAL_FROM_GATEWAY,
	    "set_snownet_capabilities", NULL, true, capabilities),
	D(PM_GATEWAY_NO_RELAYS, PORTAL_FROM_GATEWAY, "no_relays", NULL, true,
	    empty),
	D(PM_RELAY_JOIN, PORTAL_FROM_RELAY, "phx_join", NULL, true,
	    relay_join),
	D(PM_RELAY_INIT, PORTAL_TO_RELAY, "init", NULL, true, empty),
#undef D
};

enum portal_chan
portal_msg_chan(enum portal_msg_type t)
{
	return (unsigned)t < PM__COUNT ? defs[t].chan : PORTAL_TO_CLIENT;
}

const char *
portal_msg_event(enum portal_msg_type t)
{
	return (unsigned)t < PM__COUNT ? defs[t].event : NULL;
}

void
portal_msg_clear(struct portal_msg *m)
{
	if (m == NULL)
		return;
	switch (m->type) {
	case PM_CLIENT_INIT:
		portal_interface_clear(&m->u.client_init.interface);
		pv_resources_free(m->u.client_init.resources,
		    m->u.client_init.n_resources);
		free(m->u.client_init.relays);
		free(m->u.client_init.authorizations);
		break;
	case PM_CONFIG_CHANGED:
		portal_interface_clear(&m->u.config_changed);
		break;
	case PM_RESOURCE_CREATED_OR_UPDATED:
	case PM_RESOURCE_UPDATED:
		portal_resource_clear(&m->u.resource);
		break;
	case PM_CLIENT_RELAYS_PRESENCE:
	case PM_GATEWAY_RELAYS_PRESENCE:
		free(m->u.relays_presence.disconnected_ids);
		free(m->u.relays_presence.connected);
		break;
	case PM_AUTHORIZATION_CREATED:
		free(m->u.authorization_created.flow_logs_ingest_token);
		break;
	case PM_AUTHORIZATION_CREATION_FAILED:
		free(m->u.authorization_creation_failed.violated);
		break;
	case PM_GATEWAY_ICE_CANDIDATES:
	case PM_GATEWAY_INVALIDATE_ICE_CANDIDATES:
	case PM_CLIENT_ICE_CANDIDATES:
	case PM_CLIENT_INVALIDATE_ICE_CANDIDATES:
	case PM_NEW_GATEWAY_ICE_CANDIDATES:
	case PM_INVALIDATE_GATEWAY_ICE_CANDIDATES:
	case PM_NEW_CLIENT_ICE_CANDIDATES:
	case PM_INVALIDATE_CLIENT_ICE_CANDIDATES:
	case PM_ICE_CANDIDATES:
	case PM_INVALIDATE_ICE_CANDIDATES:
	case PM_BROADCAST_ICE_CANDIDATES:
	case PM_BROADCAST_INVALIDATED_ICE_CANDIDATES:
		free(m->u.candidates.ids);
		free(m->u.candidates.candidates);
		break;
	case PM_RESOURCE_FILTERS_UPDATED:
		free(m->u.filters_updated.filters);
		break;
	case PM_REQUEST_AUTHORIZATION:
		free(m->u.request_authorization.connected_gateway_ids);
		break;
	case PM_GATEWAY_INIT:
		portal_interface_clear(&m->u.gateway_init.interface);
		free(m->u.gateway_init.relays);
		free(m->u.gateway_init.authorizations);
		break;
	case PM_CREATE_AUTHORIZATION:
		free(m->u.create_authorization.ref);
		portal_resource_clear(&m->u.create_authorization.resource);
		free(m->u.create_authorization.flow_logs_ingest_token);
		break;
	case PM_GATEWAY_AUTHORIZATION_CREATED:
		free(m->u.ref);
		break;
	case PM_CLIENT_DEVICE_ACCESS_AUTHORIZED:
		free(m->u.device_access.filters);
		free(m->u.device_access.flow_logs_ingest_token);
		break;
	default:
		break;
	}
	memset(&m->u, 0, sizeof(m->u));
}

int
portal_msg_decode(enum portal_chan chan, const char *event,
    const json_t *payload, struct portal_msg *out)
{
	const struct msg_def *d = NULL;
	size_t i;
	int r;

	if (event == NULL || payload == NULL)
		return -EINVAL;
	for (i = 0; i < PM__COUNT; i++)
		if (defs[i].event != NULL && defs[i].chan == chan &&
		    (strcmp(defs[i].event, event) == 0 ||
		    (defs[i].alias != NULL &&
		    strcmp(defs[i].alias, event) == 0))) {
			d = &defs[i];
			break;
		}
	if (d == NULL)
		return -ENOENT;
	if (d->object && !json_is_object(payload))
		return -EBADMSG;
	memset(out, 0, sizeof(*out));
	out->type = d->type;
	if ((r = d->dec(payload, out)) < 0) {
		portal_msg_clear(out);
		return r == -ENOMEM ? r : -EBADMSG;
	}
	return 0;
}

int
portal_msg_encode(const struct portal_msg *m, const char **event,
    json_t **payload)
{
	struct portal_msg back;
	json_t *p;
	int r;

	if (m == NULL || (unsigned)m->type >= PM__COUNT)
		return -EINVAL;
	if ((p = defs[m->type].enc(m)) == NULL)
		return -EINVAL;
	/* What we send must decode: bounds, ids and addresses checked once. */
	r = portal_msg_decode(defs[m->type].chan, defs[m->type].event, p,
	    &back);
	if (r < 0) {
		json_decref(p);
		return r == -ENOMEM ? r : -EINVAL;
	}
	portal_msg_clear(&back);
	*event = defs[m->type].event;
	*payload = p;
	return 0;
}
