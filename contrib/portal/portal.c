/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's portal logic (see portal.h): connect checks per role
 * (§1.2), frames, join and dispatch (§1.3, §1.6-§1.9), timers and config
 * reloads.  Views and init are in views.c, authorizations and candidates
 * in authz.c.
 */
#define LOG_MODULE "portal"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/random.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"
#include "portal_int.h"

#define MAX_QUERY_VAL	512

const char *const pd_role_topic[] = { "client", "gateway", "relay" };

/* Anything a remote peer can trigger is logged at a bounded rate. */
static struct log_ratelimit bad_frame_rl = LOG_RATELIMIT_INIT(10000, 5);

/* ---- small helpers ---- */

int64_t
pd_unix_now(const struct pd_portal *p)
{
	return p->ops->unix_now(p->ops->arg);
}

/* A short, non-secret tag for a public key in logs. */
static void
key_tag(const char *pk, char out[9])
{
	snprintf(out, 9, "%.8s", pk);
}

static void
problem(struct pd_http_error *err, int status, const char *code,
    const char *detail)
{
	const char *title = status == 401 ? "Unauthorized" :
	    status == 404 ? "Not Found" : status == 409 ? "Conflict" :
	    status == 500 ? "Internal Server Error" : "Bad Request";
	json_t *j;
	char *s;

	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	j = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", "about:blank",
	    "title", title, "status", status, "detail", detail, "code", code);
	s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	snprintf(err->body, sizeof(err->body), "%s", s ? s : "{}");
	free(s);
	json_decref(j);
}

static int
query_get(const char *query, const char *name, char *buf, size_t len)
{
	/* Raw query: name=value pairs; %XX and '+' decoded. */
	size_t nl = strlen(name);
	const char *p = query;

	while (p != NULL && *p != '\0') {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);

		if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 &&
		    p[nl] == '=') {
			const char *v = p + nl + 1;
			size_t o = 0;

			for (; v < end; v++) {
				int c = *v;

				if (c == '+')
					c = ' ';
				else if (c == '%') {
					unsigned int x;
					char hex[3];

					if (end - v < 3 ||
					    !isxdigit((unsigned char)v[1]) ||
					    !isxdigit((unsigned char)v[2]))
						return -EINVAL;
					hex[0] = v[1];
					hex[1] = v[2];
					hex[2] = '\0';
					x = (unsigned int)strtoul(hex, NULL,
					    16);
					if (x == 0)
						return -EINVAL;
					c = (int)x;
					v += 2;
				}
				if (o + 1 >= len)
					return -ENOSPC;
				buf[o++] = (char)c;
			}
			buf[o] = '\0';
			return (int)o;
		}
		p = amp ? amp + 1 : NULL;
	}
	return -ENOENT;
}

static bool
printable_utf8ish(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* base64, padded, 44 chars, 32 bytes */
static bool
valid_pubkey(const char *s)
{
	unsigned char out[48];

	if (strlen(s) != PD_PUBKEY_LEN || s[43] != '=' || s[42] == '=')
		return false;
	for (int i = 0; i < 43; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
			return false;
	return EVP_DecodeBlock(out, (const unsigned char *)s, 44) == 33;
}

/*
 * A recognised component token followed by a version (§1.2); the version
 * is copied to ver.
 */
static bool
valid_user_agent(const char *ua, char *ver, size_t cap)
{
	static const char *const comps[] = { "headless-client/", "gui-client/",
	    "connlib/", "apple-client/", "android-client/", "gateway/",
	    "relay/", NULL };

	if (ua == NULL)
		return false;
	for (size_t i = 0; comps[i] != NULL; i++) {
		const char *p = ua;

		while ((p = strstr(p, comps[i])) != NULL) {
			bool start = p == ua || p[-1] == ' ';

			p += strlen(comps[i]);
			if (start && isdigit((unsigned char)*p)) {
				size_t n = strspn(p, "0123456789.");

				snprintf(ver, cap, "%.*s", (int)n, p);
				return true;
			}
		}
	}
	return false;
}

static void
strip_ws(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	for (; *in && o + 1 < cap; in++)
		if (!isspace((unsigned char)*in))
			out[o++] = *in;
	out[o] = '\0';
}

static bool
token_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

/* ---- sending ---- */

void
pd_session_drop(struct pd_portal *p, struct pd_session *s, int code)
{
	if (s->closing)
		return;
	s->closing = true;
	p->ops->close(s->conn, code);
}

static void
send_frame(struct pd_portal *p, struct pd_session *s, const char *topic,
    const char *event, const json_t *payload, const json_t *ref,
    const json_t *join_ref)
{
	char *text;

	if (s->closing)
		return;
	text = phx_frame_encode(s->vsn, topic, event, payload, ref, join_ref);
	if (text == NULL || p->ops->send(s->conn, text, strlen(text)) < 0) {
		log_warnx("%s %s: cannot send %s; dropping the connection",
		    pd_role_topic[s->role],
		    s->dev.id[0] ? s->dev.id : s->relay_id, event);
		pd_session_drop(p, s, 1011);
	}
	free(text);
}

/* A push on the session's topic; steals payload. */
void
pd_push(struct pd_portal *p, struct pd_session *s, const char *event,
    json_t *payload)
{
	if (payload == NULL) {
		log_warnx("out of memory building %s", event);
		pd_session_drop(p, s, 1011);
		return;
	}
	send_frame(p, s, pd_role_topic[s->role], event, payload, NULL,
	    s->join_ref);
	json_decref(payload);
}

/* A phx_reply to frame f; steals response. */
static void
reply(struct pd_portal *p, struct pd_session *s, const struct phx_frame *f,
    bool ok, json_t *response)
{
	json_t *pl = phx_reply_payload(ok, response);

	if (pl == NULL) {
		pd_session_drop(p, s, 1011);
		return;
	}
	send_frame(p, s, f->topic, "phx_reply", pl, f->ref, f->join_ref);
	json_decref(pl);
}

void
pd_reply_error(struct pd_portal *p, struct pd_session *s,
    const struct phx_frame *f, const char *reason)
{
	reply(p, s, f, false, json_pack("{s:s}", "reason", reason));
}

/* ---- connect (§1.2) ---- */

static int
connect_device(struct pd_portal *p, struct pd_session *s,
    const char *query, struct pd_http_error *err)
{
	char ext[MAX_QUERY_VAL], name[MAX_QUERY_VAL], pk[MAX_QUERY_VAL];
	char key[PD_EXTID_MAX + 1];
	enum pd_role role = s->role == SR_CLIENT ? PD_ROLE_CLIENT :
	    PD_ROLE_GATEWAY;
	struct pd_session *o;
	int r;

	if (query_get(query, "external_id", ext, sizeof(ext)) <= 0 &&
	    query_get(query, "firezone_id", ext, sizeof(ext)) <= 0) {
		problem(err, 400, "invalid_connect_params",
		    "external_id is required");
		return -EINVAL;
	}
	if (strlen(ext) > PD_EXTID_IN_MAX || !printable_utf8ish(ext)) {
		problem(err, 400, "invalid_connect_params",
		    "external_id is invalid");
		return -EINVAL;
	}
	if (query_get(query, "public_key", pk, sizeof(pk)) <= 0 ||
	    !valid_pubkey(pk)) {
		problem(err, 400, "invalid_connect_params",
		    "public_key must be a base64 key of 44 characters");
		return -EINVAL;
	}
	r = query_get(query, "name", name, sizeof(name));
	if (r == -ENOENT || r == 0)
		snprintf(name, sizeof(name), "%.32s", ext);
	else if (r < 0 || strlen(name) > PD_NAME_MAX ||
	    !printable_utf8ish(name)) {
		problem(err, 400, "invalid_connect_params", "name is invalid");
		return -EINVAL;
	}
	/* Gateways are identified by external_id within their site. */
	if (s->role == SR_GATEWAY)
		snprintf(key, sizeof(key), "%s/%s", s->owner, ext);
	else
		snprintf(key, sizeof(key), "%s", ext);
	r = pd_store_device_upsert(p->store, role, key, name, pk,
	    pd_unix_now(p), &s->dev);
	if (r) {
		log_warnc(-r, "%s store: cannot record device",
		    pd_role_topic[s->role]);
		problem(err, 500, "unhandled_connect_error",
		    "the device could not be recorded");
		return r;
	}
	if (s->role == SR_GATEWAY)
		TAILQ_FOREACH(o, &p->sessions, entry)
			if (o->role == SR_GATEWAY && !o->closing &&
			    strcmp(o->dev.id, s->dev.id) == 0) {
				problem(err, 409, "gateway_already_connected",
				    "this gateway is already connected");
				return -EEXIST;
			}
	return 0;
}

static int
connect_relay(struct pd_session *s, const char *query,
    struct pd_http_error *err)
{
	char v[MAX_QUERY_VAL];
	unsigned char b[16];
	int r;

	if (query_get(query, "ipv4", v, sizeof(v)) > 0) {
		if (inet_pton(AF_INET, v, b) != 1)
			goto bad;
		inet_ntop(AF_INET, b, s->ipv4, sizeof(s->ipv4));
	}
	if (query_get(query, "ipv6", v, sizeof(v)) > 0) {
		if (inet_pton(AF_INET6, v, b) != 1)
			goto bad;
		inet_ntop(AF_INET6, b, s->ipv6, sizeof(s->ipv6));
	}
	if (!s->ipv4[0] && !s->ipv6[0])
		goto bad;
	s->port = 3478;
	if ((r = query_get(query, "port", v, sizeof(v))) > 0) {
		char *end;
		unsigned long port = strtoul(v, &end, 10);

		if (*end != '\0' || !isdigit((unsigned char)v[0]) ||
		    port == 0 || port > 65535)
			goto bad;
		s->port = (uint16_t)port;
	}
	if (query_get(query, "name", v, sizeof(v)) > 0 &&
	    strlen(v) <= PD_NAME_MAX && printable_utf8ish(v))
		snprintf(s->name, sizeof(s->name), "%s", v);
	return 0;
bad:
	problem(err, 400, "invalid_connect_params",
	    "a relay needs ipv4 and/or ipv6 and a valid port");
	return -EINVAL;
}

int
pd_portal_connect(struct pd_portal *p, const struct pd_request *req,
    void *conn, uint64_t now_ms, struct pd_session **out,
    struct pd_http_error *err)
{
	const char *query = req->query ? req->query : "";
	struct pd_session *s;
	char tok[1024], vsn[32];
	enum srole role;
	bool ok = false;
	int r;

	if (req->path && strcmp(req->path, "/client/v2/websocket") == 0)
		role = SR_CLIENT;
	else if (req->path && strcmp(req->path, "/gateway/v2/websocket") == 0)
		role = SR_GATEWAY;
	else if (req->path && strcmp(req->path, "/relay/websocket") == 0)
		role = SR_RELAY;
	else {
		problem(err, 404, "not_found", "no such endpoint");
		return -ENOENT;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		problem(err, 500, "unhandled_connect_error", "out of memory");
		return -ENOMEM;
	}
	s->role = role;
	s->conn = conn;
	s->last_rx = now_ms;
	/* Phoenix picks the serializer by vsn: absent/1.x V1, 2.0.0 V2. */
	r = query_get(query, "vsn", vsn, sizeof(vsn));
	if (r == -ENOENT || (r > 0 && strncmp(vsn, "1.", 2) == 0))
		s->vsn = PHX_V1;
	else if (r > 0 && strcmp(vsn, "2.0.0") == 0)
		s->vsn = PHX_V2;
	else {
		problem(err, 400, "invalid_connect_params", "unknown vsn");
		r = -EINVAL;
		goto fail;
	}
	/* X-Authorization: Bearer <token>, else the token query parameter. */
	tok[0] = '\0';
	if (req->authorization != NULL &&
	    strncasecmp(req->authorization, "Bearer", 6) == 0)
		strip_ws(req->authorization + 6, tok, sizeof(tok));
	if (tok[0] == '\0') {
		char q[1024];

		if (query_get(query, "token", q, sizeof(q)) > 0)
			strip_ws(q, tok, sizeof(tok));
	}
	if (tok[0] == '\0') {
		problem(err, 401, "missing_token", "a token is required");
		r = -EACCES;
		goto fail;
	}
	switch (role) {
	case SR_CLIENT:
		for (size_t i = 0; i < p->cfg->nclients; i++)
			if (token_eq(tok, p->cfg->clients[i].token)) {
				snprintf(s->owner, sizeof(s->owner), "%s",
				    p->cfg->clients[i].id);
				ok = true;
			}
		break;
	case SR_GATEWAY:
		for (size_t i = 0; i < p->cfg->nsites; i++)
			if (token_eq(tok, p->cfg->sites[i].gateway_token)) {
				snprintf(s->owner, sizeof(s->owner), "%s",
				    p->cfg->sites[i].id);
				ok = true;
			}
		break;
	case SR_RELAY:
		ok = p->cfg->relay_token != NULL &&
		    token_eq(tok, p->cfg->relay_token);
		break;
	}
	explicit_bzero(tok, sizeof(tok));
	if (!ok) {
		problem(err, 401, "invalid_token", "the token is not valid");
		r = -EACCES;
		goto fail;
	}
	if (!valid_user_agent(req->user_agent, s->version,
	    sizeof(s->version))) {
		problem(err, 400, "invalid_connect_params",
		    "the User-Agent needs a known component and version");
		r = -EINVAL;
		goto fail;
	}
	r = role == SR_RELAY ? connect_relay(s, query, err) :
	    connect_device(p, s, query, err);
	if (r)
		goto fail;
	TAILQ_INSERT_TAIL(&p->sessions, s, entry);
	if (role == SR_RELAY)
		log_info("relay %s connected from %s (%s%s%s port %u)",
		    s->name[0] ? s->name : "-", req->peer ? req->peer : "?",
		    s->ipv4, s->ipv4[0] && s->ipv6[0] ? " " : "", s->ipv6,
		    s->port);
	else {
		char tag[9];

		key_tag(s->dev.public_key, tag);
		log_info("%s %s (%s, key %s...) connected from %s as %s/%s",
		    pd_role_topic[role], s->dev.id, s->dev.name, tag,
		    req->peer ? req->peer : "?", s->dev.ipv4, s->dev.ipv6);
	}
	*out = s;
	return 0;
fail:
	free(s);
	return r;
}

/* ---- inbound frames ---- */

static void
join(struct pd_portal *p, struct pd_session *s, const struct phx_frame *f,
    uint64_t now)
{
	if (s->role == SR_RELAY) {
		const char *sec = json_string_value(json_object_get(f->payload,
		    "stamp_secret"));

		if (sec == NULL || strlen(sec) == 0 ||
		    strlen(sec) > PORTAL_STAMP_SECRET_LEN ||
		    !printable_utf8ish(sec) ||
		    portal_relay_id(sec, s->relay_id)) {
			pd_reply_error(p, s, f, "invalid_stamp_secret");
			return;
		}
		snprintf(s->stamp_secret, sizeof(s->stamp_secret), "%s", sec);
	}
	json_decref(s->join_ref);
	s->join_ref = f->join_ref ? json_incref(f->join_ref) : NULL;
	s->joined = true;
	reply(p, s, f, true, NULL);
	switch (s->role) {
	case SR_CLIENT:
		pd_init_client(p, s);
		break;
	case SR_GATEWAY:
		pd_init_gateway(p, s);
		break;
	case SR_RELAY:
		pd_push(p, s, "init", json_object());
		log_info("relay %s joined", s->relay_id);
		pd_presence_schedule(p, now);
		break;
	}
}

static void
client_event(struct pd_portal *p, struct pd_session *s,
    const struct phx_frame *f, uint64_t now)
{
	const char *ev = f->event;

	if (strcmp(ev, "request_authorization") == 0)
		pd_request_authorization(p, s, f->payload, now);
	else if (strcmp(ev, "new_gateway_ice_candidates") == 0)
		pd_client_candidates(p, s, f->payload, "ice_candidates");
	else if (strcmp(ev, "invalidate_gateway_ice_candidates") == 0)
		pd_client_candidates(p, s, f->payload,
		    "invalidate_ice_candidates");
	else if (strcmp(ev, "set_snownet_capabilities") == 0)
		;	/* ICE only: use_iceless is always false */
	else if (strcmp(ev, "no_relays") == 0)
		pd_presence_to(p, s, true);
	else
		pd_reply_error(p, s, f, "unknown_message");
}

static void
gateway_event(struct pd_portal *p, struct pd_session *s,
    const struct phx_frame *f)
{
	const char *ev = f->event;

	if (strcmp(ev, "authorization_created") == 0)
		pd_gateway_authorized(p, s, f);
	else if (strcmp(ev, "broadcast_ice_candidates") == 0)
		pd_gateway_candidates(p, s, f->payload, "ice_candidates");
	else if (strcmp(ev, "broadcast_invalidated_ice_candidates") == 0)
		pd_gateway_candidates(p, s, f->payload,
		    "invalidate_ice_candidates");
	else if (strcmp(ev, "set_snownet_capabilities") == 0)
		;
	else if (strcmp(ev, "no_relays") == 0)
		pd_presence_to(p, s, true);
	else
		pd_reply_error(p, s, f, "unknown_message");
}

void
pd_portal_text(struct pd_portal *p, struct pd_session *s, const char *text,
    size_t len, uint64_t now)
{
	struct phx_frame f = { 0 };

	if (s->closing)
		return;
	s->last_rx = now;
	if (phx_frame_decode(s->vsn, text, len, &f) != 0) {
		if (log_ratelimit(&bad_frame_rl))
			log_warnx("%s: malformed frame ignored",
			    pd_role_topic[s->role]);
		return;
	}
	if (strcmp(f.topic, "phoenix") == 0) {
		if (strcmp(f.event, "heartbeat") == 0)
			reply(p, s, &f, true, NULL);
		goto out;
	}
	if (strcmp(f.topic, pd_role_topic[s->role]) != 0) {
		/* Phoenix: a topic this socket has no channel for. */
		pd_reply_error(p, s, &f, "unmatched topic");
		goto out;
	}
	if (strcmp(f.event, "phx_join") == 0) {
		join(p, s, &f, now);
		goto out;
	}
	if (!s->joined) {
		pd_reply_error(p, s, &f, "unmatched topic");
		goto out;
	}
	if (strcmp(f.event, "phx_leave") == 0) {
		json_t *empty = json_object();

		reply(p, s, &f, true, NULL);
		send_frame(p, s, f.topic, "phx_close", empty, NULL,
		    s->join_ref);
		json_decref(empty);
		s->joined = false;
		if (s->role == SR_RELAY)
			pd_presence_schedule(p, now);
		goto out;
	}
	switch (s->role) {
	case SR_CLIENT:
		client_event(p, s, &f, now);
		break;
	case SR_GATEWAY:
		gateway_event(p, s, &f);
		break;
	case SR_RELAY:
		pd_reply_error(p, s, &f, "unknown_message");
		break;
	}
out:
	phx_frame_clear(&f);
}

void
pd_portal_closed(struct pd_portal *p, struct pd_session *s, uint64_t now)
{
	struct pending *pe, *tmp;

	TAILQ_FOREACH_SAFE(pe, &p->pending, entry, tmp) {
		if (pe->client == s)
			pd_pending_free(p, pe);
		else if (pe->gateway == s) {
			pd_auth_failed(p, pe->client, pe->resource_id,
			    "offline");
			pd_pending_free(p, pe);
		}
	}
	if (s->role == SR_RELAY) {
		if (s->joined) {
			log_info("relay %s left", s->relay_id);
			pd_presence_schedule(p, now);
		}
	} else {
		if (pd_store_device_seen(p->store, s->dev.id, pd_unix_now(p)))
			log_warnx("%s %s: cannot record last_seen",
			    pd_role_topic[s->role], s->dev.id);
		log_info("%s %s disconnected", pd_role_topic[s->role],
		    s->dev.id);
	}
	TAILQ_REMOVE(&p->sessions, s, entry);
	json_decref(s->join_ref);
	json_decref(s->resources);
	json_decref(s->relays_sent);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

static unsigned
idle_ms(const struct pd_session *s)
{
	return s->role == SR_RELAY ? PD_IDLE_MS_RELAY : PD_IDLE_MS;
}

void
pd_portal_tick(struct pd_portal *p, uint64_t now)
{
	struct pending *pe, *tmp;
	struct pd_session *s;
	struct authz *a, *atmp;
	int64_t wall = pd_unix_now(p);

	/* Expired authorizations are forgotten (the gateway expires them). */
	TAILQ_FOREACH_SAFE(a, &p->authz, entry, atmp)
		if (a->expires_at <= wall) {
			pd_authz_forget(p, a);
			TAILQ_REMOVE(&p->authz, a, entry);
			free(a);
		}
	TAILQ_FOREACH_SAFE(pe, &p->pending, entry, tmp)
		if (pe->deadline <= now) {
			pd_auth_failed(p, pe->client, pe->resource_id,
			    "offline");
			pd_pending_free(p, pe);
		}
	/* A peer gone without a close (a 409 would lock its successor out). */
	TAILQ_FOREACH(s, &p->sessions, entry)
		if (!s->closing && now >= s->last_rx + idle_ms(s)) {
			log_info("%s %s: idle for %u s, closing",
			    pd_role_topic[s->role], s->dev.id[0] ? s->dev.id :
			    s->relay_id, idle_ms(s) / 1000);
			pd_session_drop(p, s, 1001);
		}
	if (p->presence_at <= now) {
		p->presence_at = UINT64_MAX;
		TAILQ_FOREACH(s, &p->sessions, entry)
			if (s->role != SR_RELAY && s->joined && !s->closing)
				pd_presence_to(p, s, false);
	}
}

uint64_t
pd_portal_deadline(const struct pd_portal *p)
{
	uint64_t d = p->presence_at;
	struct pending *pe;

	struct pd_session *s;

	TAILQ_FOREACH(pe, &p->pending, entry)
		if (pe->deadline < d)
			d = pe->deadline;
	TAILQ_FOREACH(s, &p->sessions, entry)
		if (!s->closing && s->last_rx + idle_ms(s) < d)
			d = s->last_rx + idle_ms(s);
	return d;
}

/* ---- reload ---- */

static bool
resource_same_target(const struct pd_resource *a, const struct pd_resource *b)
{
	return a->type == b->type && a->site == b->site &&
	    ((a->address == NULL && b->address == NULL) ||
	    (a->address && b->address && strcmp(a->address, b->address) == 0));
}

static void
reload_client(struct pd_portal *p, struct pd_session *s, const json_t *old_if)
{
	json_t *now_res = pd_visible_resources(p, s), *v, *ifc;
	const char *k;

	if (now_res == NULL)
		return;
	/* Deletions, and site moves as delete then create (§1.6). */
	json_object_foreach(s->resources, k, v) {
		json_t *n = json_object_get(now_res, k);

		if (n == NULL || !json_equal(json_object_get(n, "sites"),
		    json_object_get(v, "sites")))
			pd_push(p, s, "resource_deleted", json_string(k));
	}
	json_object_foreach(now_res, k, v) {
		json_t *o = json_object_get(s->resources, k);

		if (o == NULL || !json_equal(o, v))
			pd_push(p, s, "resource_created_or_updated",
			    json_incref(v));
	}
	json_decref(s->resources);
	s->resources = now_res;
	ifc = pd_client_interface(p, s);
	if (ifc != NULL && !json_equal(ifc, old_if))
		pd_push(p, s, "config_changed", json_pack("{s:O}", "interface",
		    ifc));
	json_decref(ifc);
}

void
pd_portal_reload(struct pd_portal *p, struct pd_config *cfg, uint64_t now)
{
	struct pd_config *old = (struct pd_config *)p->cfg;
	struct pd_session *s;
	struct authz *a, *tmp;
	struct pending *pe, *ptmp;
	json_t **old_if;
	size_t n = 0, i = 0;

	TAILQ_FOREACH(s, &p->sessions, entry)
		n++;
	old_if = calloc(n + 1, sizeof(*old_if));
	TAILQ_FOREACH(s, &p->sessions, entry) {
		if (old_if && s->role == SR_CLIENT && s->joined)
			old_if[i] = pd_client_interface(p, s);
		i++;
	}
	p->cfg = cfg;

	/* Devices whose token (client entry or site) is gone. */
	TAILQ_FOREACH(s, &p->sessions, entry) {
		bool gone = false;

		if (s->role == SR_CLIENT) {
			const struct pd_client *nc = pd_session_client(p, s);
			const struct pd_client *oc = NULL;

			for (size_t k = 0; k < old->nclients; k++)
				if (strcmp(old->clients[k].id, s->owner) == 0)
					oc = &old->clients[k];
			gone = nc == NULL || oc == NULL ||
			    !token_eq(nc->token, oc->token);
		} else if (s->role == SR_GATEWAY) {
			const struct pd_site *ns, *os;

			ns = pd_config_site(cfg, s->owner);
			os = pd_config_site(old, s->owner);

			gone = ns == NULL || os == NULL ||
			    !token_eq(ns->gateway_token, os->gateway_token);
		} else
			gone = cfg->relay_token == NULL || old->relay_token ==
			    NULL || !token_eq(cfg->relay_token,
			    old->relay_token);
		if (!gone)
			continue;
		log_info("%s %s: no longer in the config, disconnecting",
		    pd_role_topic[s->role], s->dev.id[0] ? s->dev.id :
		    s->relay_id);
		if (s->joined)
			pd_push(p, s, "disconnect", json_pack("{s:s}", "reason",
			    "token_expired"));
		pd_session_drop(p, s, 1000);
		if (s->role == SR_RELAY)
			pd_presence_schedule(p, now);
	}
	/* Revoked authorizations: reject_access to the gateway. */
	TAILQ_FOREACH_SAFE(a, &p->authz, entry, tmp) {
		const struct pd_resource *nr = pd_config_resource(cfg,
		    a->resource_id);
		const struct pd_resource *orr = pd_config_resource(old,
		    a->resource_id);
		const struct pd_client *ncl = NULL, *ocl = NULL;
		struct pd_session *gw;

		for (size_t k = 0; k < cfg->nclients; k++)
			if (strcmp(cfg->clients[k].id, a->client_owner) == 0)
				ncl = &cfg->clients[k];
		for (size_t k = 0; k < old->nclients; k++)
			if (strcmp(old->clients[k].id, a->client_owner) == 0)
				ocl = &old->clients[k];
		if (nr != NULL && orr != NULL &&
		    resource_same_target(nr, orr) &&
		    ncl != NULL && ocl != NULL &&
		    token_eq(ncl->token, ocl->token) &&
		    pd_config_allowed(cfg, ncl, nr))
			continue;
		if ((gw = pd_find_device(p, SR_GATEWAY, a->gateway_id)) != NULL)
			pd_push(p, gw, "reject_access", json_pack("{s:s, s:s}",
			    "client_id", a->client_id, "resource_id",
			    a->resource_id));
		log_info("authorization of client %s for %s revoked",
		    a->client_id, a->resource_id);
		pd_authz_forget(p, a);
		TAILQ_REMOVE(&p->authz, a, entry);
		free(a);
	}
	/* Filter changes: resource_updated to gateways holding access. */
	TAILQ_FOREACH(a, &p->authz, entry) {
		const struct pd_resource *nr = pd_config_resource(cfg,
		    a->resource_id);
		const struct pd_resource *orr = pd_config_resource(old,
		    a->resource_id);
		json_t *nv = pd_gateway_view(nr), *ov = pd_gateway_view(orr);
		struct pd_session *gw = pd_find_device(p, SR_GATEWAY,
		    a->gateway_id);

		if (gw != NULL && nv && ov && !json_equal(nv, ov))
			pd_push(p, gw, "resource_updated", json_incref(nv));
		json_decref(nv);
		json_decref(ov);
	}
	/* Pending requests for resources no longer allowed. */
	TAILQ_FOREACH_SAFE(pe, &p->pending, entry, ptmp) {
		const struct pd_resource *nr = pd_config_resource(cfg,
		    pe->resource_id);
		const struct pd_client *cl = pd_session_client(p, pe->client);

		if (nr == NULL || cl == NULL ||
		    !pd_config_allowed(cfg, cl, nr)) {
			pd_auth_failed(p, pe->client, pe->resource_id,
			    nr ? "forbidden" : "not_found");
			pd_pending_free(p, pe);
		}
	}
	/* Resource lists and interfaces of the clients still here. */
	i = 0;
	TAILQ_FOREACH(s, &p->sessions, entry) {
		if (s->role == SR_CLIENT && s->joined && !s->closing)
			reload_client(p, s, old_if ? old_if[i] : NULL);
		if (old_if)
			json_decref(old_if[i]);
		i++;
	}
	free(old_if);
	/* turn_servers may have changed. */
	pd_presence_schedule(p, now);
	pd_config_free(old);
}

/* ---- lifecycle ---- */

int
pd_portal_new(struct pd_config *cfg, struct pd_store *store,
    const struct pd_portal_ops *ops, struct pd_portal **out)
{
	struct pd_portal *p;
	int r;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		pd_config_free(cfg);
		return -ENOMEM;
	}
	if (getrandom(p->ref_key, sizeof(p->ref_key), 0) !=
	    sizeof(p->ref_key)) {
		pd_config_free(cfg);
		free(p);
		return -EIO;
	}
	p->cfg = cfg;
	p->store = store;
	p->ops = ops;
	p->presence_at = UINT64_MAX;
	TAILQ_INIT(&p->sessions);
	TAILQ_INIT(&p->pending);
	TAILQ_INIT(&p->authz);
	if ((r = pd_authz_load(p)) != 0)
		log_warnc(-r, "stored authorizations not loaded");
	*out = p;
	return 0;
}

void
pd_portal_free(struct pd_portal *p)
{
	struct pd_session *s;
	struct pending *pe;
	struct authz *a;

	if (p == NULL)
		return;
	while ((pe = TAILQ_FIRST(&p->pending)) != NULL)
		pd_pending_free(p, pe);
	while ((a = TAILQ_FIRST(&p->authz)) != NULL) {
		TAILQ_REMOVE(&p->authz, a, entry);
		free(a);
	}
	while ((s = TAILQ_FIRST(&p->sessions)) != NULL) {
		TAILQ_REMOVE(&p->sessions, s, entry);
		json_decref(s->join_ref);
		json_decref(s->resources);
		json_decref(s->relays_sent);
		explicit_bzero(s, sizeof(*s));
		free(s);
	}
	pd_config_free((struct pd_config *)p->cfg);
	explicit_bzero(p->ref_key, sizeof(p->ref_key));
	free(p);
}

const struct pd_config *
pd_portal_config(const struct pd_portal *p)
{
	return p->cfg;
}

void
pd_portal_stats(const struct pd_portal *p, struct pd_portal_stats *st)
{
	struct pd_session *s;
	struct pending *pe;
	struct authz *a;

	memset(st, 0, sizeof(*st));
	TAILQ_FOREACH(s, &p->sessions, entry) {
		if (s->role == SR_CLIENT)
			st->clients++;
		else if (s->role == SR_GATEWAY)
			st->gateways++;
		else
			st->relays++;
	}
	TAILQ_FOREACH(pe, &p->pending, entry)
		st->pending++;
	TAILQ_FOREACH(a, &p->authz, entry)
		st->authorizations++;
}
