/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's authorizations (firezone-protocols.md §1.6, §1.7, §2.1):
 * request_authorization -> create_authorization with a signed ref ->
 * authorization_created, failures and timeouts, and the ICE candidates
 * forwarded between a client and a gateway that share an authorization.
 */
#define LOG_MODULE "portal"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "log.h"
#include "portal_int.h"

/* Anything a remote peer can trigger is logged at a bounded rate. */
static struct log_ratelimit bad_ref_rl = LOG_RATELIMIT_INIT(10000, 5);
static struct log_ratelimit auth_rl = LOG_RATELIMIT_INIT(1000, 20);

/* ---- authorization (§1.6, §1.7) ---- */

static void
b64url(const unsigned char *in, size_t n, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

	for (int i = 0; i < len; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
		else if (out[i] == '=') {
			out[i] = '\0';
			break;
		}
	}
}

static void
ref_mac(const struct pd_portal *p, const char *msg, size_t n,
    unsigned char mac[32])
{
	unsigned int ml = 32;

	if (HMAC(EVP_sha256(), p->ref_key, REF_KEY_LEN,
	    (const unsigned char *)msg, n, mac, &ml) == NULL)
		memset(mac, 0, 32);
}

/* "<nonce hex>.<gateway id>.<base64url HMAC-SHA256 of the part before>" */
static int
ref_make(const struct pd_portal *p, const struct pending *pe, char *out,
    size_t cap)
{
	unsigned char mac[32];
	char m64[48];
	int n;

	n = snprintf(out, cap, "%016llx.%s", (unsigned long long)pe->nonce,
	    pe->gateway->dev.id);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	ref_mac(p, out, (size_t)n, mac);
	b64url(mac, sizeof(mac), m64);
	if ((size_t)n + 1 + strlen(m64) >= cap)
		return -ENOSPC;
	snprintf(out + n, cap - (size_t)n, ".%s", m64);
	return 0;
}

/* Verifies a ref; *nonce on success. */
static int
ref_check(const struct pd_portal *p, const char *ref, const char *gw_id,
    uint64_t *nonce)
{
	const char *dot = strrchr(ref, '.');
	unsigned char mac[32];
	char m64[48], body[64];
	size_t n;

	if (dot == NULL || (n = (size_t)(dot - ref)) >= sizeof(body) ||
	    n != 16 + 1 + PD_UUID_LEN)
		return -EBADMSG;
	ref_mac(p, ref, n, mac);
	b64url(mac, sizeof(mac), m64);
	if (strlen(dot + 1) != strlen(m64) ||
	    CRYPTO_memcmp(dot + 1, m64, strlen(m64)) != 0)
		return -EBADMSG;
	memcpy(body, ref, n);
	body[n] = '\0';
	if (body[16] != '.' || strcmp(body + 17, gw_id) != 0)
		return -EBADMSG;
	body[16] = '\0';
	*nonce = strtoull(body, NULL, 16);
	return 0;
}

void
pd_auth_failed(struct pd_portal *p, struct pd_session *client,
    const char *resource_id, const char *reason)
{
	if (log_ratelimit(&auth_rl))
		log_info("client %s: authorization for %s failed: %s",
		    client->dev.id, resource_id, reason);
	pd_push(p, client, "authorization_creation_failed", json_pack("{s:s, "
	    "s:s}", "resource_id", resource_id, "reason", reason));
}

void
pd_pending_free(struct pd_portal *p, struct pending *pe)
{
	TAILQ_REMOVE(&p->pending, pe, entry);
	free(pe);
}

/* A JWT-shaped HS256 token (connlib parses the claims, does not verify). */
static char *
ingest_token(const struct pd_portal *p, const char *client_id,
    const char *gateway_id, const char *resource_id, int64_t exp)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char h64[64], *claims, *c64 = NULL, *out = NULL;
	unsigned char mac[32];
	char m64[48];
	json_t *j;
	size_t cl, n;

	j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "iss", "fz-portald",
	    "client_id", client_id, "gateway_id", gateway_id, "resource_id",
	    resource_id, "exp", (json_int_t)exp);
	claims = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (claims == NULL)
		return NULL;
	cl = strlen(claims);
	b64url((const unsigned char *)hdr, sizeof(hdr) - 1, h64);
	if ((c64 = malloc(cl * 2 + 8)) == NULL)
		goto out;
	b64url((const unsigned char *)claims, cl, c64);
	n = strlen(h64) + 1 + strlen(c64) + 1 + 44;
	if ((out = malloc(n)) == NULL)
		goto out;
	snprintf(out, n, "%s.%s", h64, c64);
	ref_mac(p, out, strlen(out), mac);
	b64url(mac, sizeof(mac), m64);
	snprintf(out + strlen(out), n - strlen(out), ".%s", m64);
out:
	free(claims);
	free(c64);
	return out;
}

struct pd_session *
pd_find_device(struct pd_portal *p, enum srole role, const char *id)
{
	struct pd_session *s;

	TAILQ_FOREACH(s, &p->sessions, entry)
		if (s->role == role && s->joined && !s->closing &&
		    strcasecmp(s->dev.id, id) == 0)
			return s;
	return NULL;
}

static struct pd_session *
pick_gateway(struct pd_portal *p, const struct pd_site *site,
    const json_t *preferred)
{
	struct pd_session *s, *first = NULL;

	TAILQ_FOREACH(s, &p->sessions, entry) {
		size_t i;
		json_t *v;

		if (s->role != SR_GATEWAY || !s->joined || s->closing ||
		    strcmp(s->owner, site->id) != 0)
			continue;
		if (first == NULL)
			first = s;
		json_array_foreach(preferred, i, v)
			if (json_is_string(v) &&
			    strcasecmp(json_string_value(v), s->dev.id) == 0)
				return s;
	}
	return first;
}

void
pd_request_authorization(struct pd_portal *p, struct pd_session *s,
    const json_t *pl, uint64_t now)
{
	const char *rid = json_string_value(json_object_get(pl, "resource_id"));
	const struct pd_resource *res;
	const struct pd_client *cl = pd_session_client(p, s);
	struct portal_ice_creds ci, gi;
	struct pd_session *gw;
	struct pending *pe, *o, *tmp;
	char ref[160], psk[PORTAL_B64_KEY_LEN + 1], *tok;
	int64_t exp = pd_unix_now(p) + PD_ACCESS_SECS;

	if (rid == NULL || !pd_uuid_valid(rid))
		return;
	if ((res = pd_config_resource(p->cfg, rid)) == NULL) {
		pd_auth_failed(p, s, rid, "not_found");
		return;
	}
	if (cl == NULL || !pd_config_allowed(p->cfg, cl, res)) {
		pd_auth_failed(p, s, res->id, "forbidden");
		return;
	}
	gw = pick_gateway(p, &p->cfg->sites[res->site],
	    json_object_get(pl, "connected_gateway_ids"));
	if (gw == NULL) {
		pd_auth_failed(p, s, res->id, "offline");
		return;
	}
	/* A newer request for the same resource replaces the pending one. */
	TAILQ_FOREACH_SAFE(o, &p->pending, entry, tmp)
		if (o->client == s && strcmp(o->resource_id, res->id) == 0)
			pd_pending_free(p, o);
	if ((pe = calloc(1, sizeof(*pe))) == NULL)
		return;
	pe->nonce = ++p->next_nonce;
	pe->client = s;
	pe->gateway = gw;
	pe->deadline = now + PD_AUTH_TIMEOUT_MS;
	snprintf(pe->resource_id, sizeof(pe->resource_id), "%s", res->id);
	if (ref_make(p, pe, ref, sizeof(ref)) ||
	    portal_ice_credentials(s->dev.id, s->dev.public_key, gw->dev.id,
	    gw->dev.public_key, &ci, &gi) ||
	    portal_psk(s->dev.psk_base, gw->dev.psk_base, s->dev.id,
	    gw->dev.id, s->dev.public_key, gw->dev.public_key, psk) ||
	    (tok = ingest_token(p, s->dev.id, gw->dev.id, res->id, exp)) ==
	    NULL) {
		free(pe);
		explicit_bzero(psk, sizeof(psk));
		return;
	}
	TAILQ_INSERT_TAIL(&p->pending, pe, entry);
	pd_push(p, gw, "create_authorization", json_pack("{s:s, s:o, "
	    "s:{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:n, s:n, s:n}, "
	    "s:{s:s, s:s}, s:{s:s, s:s}, s:I, s:{s:s, s:s, s:s, s:s}, s:b, "
	    "s:s}",
	    "ref", ref, "resource", pd_gateway_view(res),
	    "client", "id", s->dev.id, "public_key", s->dev.public_key,
	    "preshared_key", psk, "ipv4", s->dev.ipv4, "ipv6", s->dev.ipv6,
	    "version", s->version, "device_serial", "device_os_name",
	    "device_os_version",
	    "device_uuid", "firebase_installation_id", "identifier_for_vendor",
	    "gateway_ice_credentials", "username", gi.username, "password",
	    gi.password,
	    "client_ice_credentials", "username", ci.username, "password",
	    ci.password,
	    "expires_at", (json_int_t)exp,
	    "subject", "actor_id", cl->id, "actor_name", cl->name,
	    "identity_id", cl->id, "identity_name", cl->name,
	    "use_iceless", 0, "flow_logs_ingest_token", tok));
	explicit_bzero(psk, sizeof(psk));
	free(tok);
	if (log_ratelimit(&auth_rl))
		log_info("client %s: create_authorization for %s sent to "
		    "gateway %s", s->dev.id, res->id, gw->dev.id);
}

static struct authz *
authz_find(struct pd_portal *p, const char *cid, const char *gid,
    const char *rid)
{
	struct authz *a;

	TAILQ_FOREACH(a, &p->authz, entry)
		if (strcmp(a->client_id, cid) == 0 &&
		    strcmp(a->gateway_id, gid) == 0 &&
		    strcmp(a->resource_id, rid) == 0)
			return a;
	return NULL;
}

static bool
authz_pair(struct pd_portal *p, const char *cid, const char *gid)
{
	struct authz *a;
	struct pending *pe;

	TAILQ_FOREACH(a, &p->authz, entry)
		if (strcmp(a->client_id, cid) == 0 &&
		    strcmp(a->gateway_id, gid) == 0)
			return true;
	TAILQ_FOREACH(pe, &p->pending, entry)
		if (strcmp(pe->client->dev.id, cid) == 0 &&
		    strcmp(pe->gateway->dev.id, gid) == 0)
			return true;
	return false;
}

void
pd_gateway_authorized(struct pd_portal *p, struct pd_session *gw,
    const struct phx_frame *f)
{
	const char *ref = json_string_value(json_object_get(f->payload, "ref"));
	const struct pd_resource *res;
	struct portal_ice_creds ci, gi;
	struct pd_session *c;
	struct pending *pe;
	struct authz *a;
	uint64_t nonce;
	char psk[PORTAL_B64_KEY_LEN + 1], *tok;
	int64_t exp = pd_unix_now(p) + PD_ACCESS_SECS;

	if (ref == NULL || ref_check(p, ref, gw->dev.id, &nonce)) {
		if (log_ratelimit(&bad_ref_rl))
			log_warnx("gateway %s: authorization_created with "
			    "an invalid ref", gw->dev.id);
		pd_reply_error(p, gw, f, "invalid_ref");
		return;
	}
	TAILQ_FOREACH(pe, &p->pending, entry)
		if (pe->nonce == nonce && pe->gateway == gw)
			break;
	if (pe == NULL)		/* timed out, replaced or client gone */
		return;
	c = pe->client;
	res = pd_config_resource(p->cfg, pe->resource_id);
	if (res == NULL) {
		pd_auth_failed(p, c, pe->resource_id, "not_found");
		pd_pending_free(p, pe);
		return;
	}
	if ((a = authz_find(p, c->dev.id, gw->dev.id, res->id)) == NULL &&
	    (a = calloc(1, sizeof(*a))) != NULL) {
		snprintf(a->client_id, sizeof(a->client_id), "%s", c->dev.id);
		snprintf(a->client_owner, sizeof(a->client_owner), "%s",
		    c->owner);
		snprintf(a->gateway_id, sizeof(a->gateway_id), "%s",
		    gw->dev.id);
		snprintf(a->resource_id, sizeof(a->resource_id), "%s",
		    res->id);
		TAILQ_INSERT_TAIL(&p->authz, a, entry);
	}
	if (a != NULL) {
		a->expires_at = exp;
		pd_authz_keep(p, a);
	}
	pd_pending_free(p, pe);
	if (portal_ice_credentials(c->dev.id, c->dev.public_key, gw->dev.id,
	    gw->dev.public_key, &ci, &gi) ||
	    portal_psk(c->dev.psk_base, gw->dev.psk_base, c->dev.id,
	    gw->dev.id, c->dev.public_key, gw->dev.public_key, psk) ||
	    (tok = ingest_token(p, c->dev.id, gw->dev.id, res->id, exp)) ==
	    NULL) {
		explicit_bzero(psk, sizeof(psk));
		return;
	}
	pd_push(p, c, "authorization_created", json_pack("{s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:b, s:s}",
	    "resource_id", res->id, "gateway_id", gw->dev.id,
	    "site_id", p->cfg->sites[res->site].id,
	    "gateway_public_key", gw->dev.public_key,
	    "gateway_ipv4", gw->dev.ipv4, "gateway_ipv6", gw->dev.ipv6,
	    "preshared_key", psk,
	    "client_ice_credentials", "username", ci.username, "password",
	    ci.password,
	    "gateway_ice_credentials", "username", gi.username, "password",
	    gi.password,
	    "use_iceless", 0, "flow_logs_ingest_token", tok));
	explicit_bzero(psk, sizeof(psk));
	free(tok);
	log_info("client %s: authorized for %s through gateway %s",
	    c->dev.id, res->id, gw->dev.id);
}

/* ---- candidates ---- */

static bool
valid_candidates(const json_t *c)
{
	size_t i;
	json_t *v;

	if (!json_is_array(c) || json_array_size(c) > 64)
		return false;
	json_array_foreach(c, i, v)
		if (!json_is_string(v) || json_string_length(v) > 512)
			return false;
	return true;
}

/* client -> gateway: {gateway_id, candidates} -> {client_id, candidates} */
void
pd_client_candidates(struct pd_portal *p, struct pd_session *s,
    const json_t *pl, const char *out_event)
{
	const char *gid = json_string_value(json_object_get(pl, "gateway_id"));
	json_t *cands = json_object_get(pl, "candidates");
	struct pd_session *gw;

	if (gid == NULL || !valid_candidates(cands) ||
	    (gw = pd_find_device(p, SR_GATEWAY, gid)) == NULL ||
	    !authz_pair(p, s->dev.id, gw->dev.id))
		return;
	pd_push(p, gw, out_event, json_pack("{s:s, s:O}", "client_id",
	    s->dev.id, "candidates", cands));
}

/* gateway -> clients: {client_ids, candidates} -> {gateway_id, candidates} */
void
pd_gateway_candidates(struct pd_portal *p, struct pd_session *gw,
    const json_t *pl, const char *out_event)
{
	json_t *ids = json_object_get(pl, "client_ids"), *v;
	json_t *cands = json_object_get(pl, "candidates");
	size_t i;

	if (!json_is_array(ids) || json_array_size(ids) > 1024 ||
	    !valid_candidates(cands))
		return;
	json_array_foreach(ids, i, v) {
		struct pd_session *c;

		if (!json_is_string(v) || (c = pd_find_device(p, SR_CLIENT,
		    json_string_value(v))) == NULL ||
		    !authz_pair(p, c->dev.id, gw->dev.id))
			continue;
		pd_push(p, c, out_event, json_pack("{s:s, s:O}", "gateway_id",
		    gw->dev.id, "candidates", cands));
	}
}

void
pd_authz_keep(struct pd_portal *p, const struct authz *a)
{
	struct pd_store_authz k;
	int r;

	memset(&k, 0, sizeof(k));
	snprintf(k.client_owner, sizeof(k.client_owner), "%s", a->client_owner);
	snprintf(k.client_id, sizeof(k.client_id), "%s", a->client_id);
	snprintf(k.gateway_id, sizeof(k.gateway_id), "%s", a->gateway_id);
	snprintf(k.resource_id, sizeof(k.resource_id), "%s", a->resource_id);
	k.expires_at = a->expires_at;
	if ((r = pd_store_authz_put(p->store, &k)) != 0)
		log_warnc(-r, "authorization of client %s for %s not stored",
		    a->client_id, a->resource_id);
}

void
pd_authz_forget(struct pd_portal *p, const struct authz *a)
{
	int r;

	if ((r = pd_store_authz_del(p->store, a->client_id, a->gateway_id,
	    a->resource_id)) != 0)
		log_warnc(-r, "authorization of client %s for %s not removed "
		    "from the store", a->client_id, a->resource_id);
}

static int
authz_loaded(void *arg, const struct pd_store_authz *k)
{
	struct pd_portal *p = arg;
	struct authz *a;

	if (authz_find(p, k->client_id, k->gateway_id, k->resource_id) != NULL)
		return 0;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	snprintf(a->client_owner, sizeof(a->client_owner), "%s",
	    k->client_owner);
	snprintf(a->client_id, sizeof(a->client_id), "%s", k->client_id);
	snprintf(a->gateway_id, sizeof(a->gateway_id), "%s", k->gateway_id);
	snprintf(a->resource_id, sizeof(a->resource_id), "%s", k->resource_id);
	a->expires_at = k->expires_at;
	TAILQ_INSERT_TAIL(&p->authz, a, entry);
	return 0;
}

/*
 * The authorizations a previous fz-portald gave, unexpired: a gateway that
 * reconnects re-syncs its accesses from init's list, so forgetting them at
 * a restart would cut every established connection off.
 */
int
pd_authz_load(struct pd_portal *p)
{
	return pd_store_authz_each(p->store, pd_unix_now(p), authz_loaded, p);
}
