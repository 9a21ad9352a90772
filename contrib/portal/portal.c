/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's portal logic (see portal.h): connect checks per role
 * (§1.2), join and init (§1.3, §1.6-§1.9), request_authorization ->
 * create_authorization -> authorization_created with a signed ref,
 * candidate forwarding, relay presence, config reloads.
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
#include <openssl/hmac.h>

#include "creds.h"
#include "log.h"
#include "phx.h"
#include "portal.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	    (var) = (tvar))
#endif

#define REF_KEY_LEN	32
#define MAX_QUERY_VAL	512

enum srole { SR_CLIENT, SR_GATEWAY, SR_RELAY };

static const char *const role_topic[] = { "client", "gateway", "relay" };

struct pd_session {
	TAILQ_ENTRY(pd_session) entry;
	void		*conn;
	enum srole	 role;
	enum phx_vsn	 vsn;
	bool		 joined;
	bool		 closing;
	json_t		*join_ref;	/* echoed on pushes (V2) */
	/* client and gateway */
	struct pd_device dev;
	char		 owner[PD_UUID_LEN + 1];	/* client cfg id / site id */
	char		 version[32];	/* from the User-Agent */
	json_t		*resources;	/* client: id -> view last sent */
	json_t		*relays_sent;	/* relay ids last sent (array) */
	/* relay */
	char		 stamp_secret[PORTAL_STAMP_SECRET_LEN + 1];
	char		 relay_id[PD_UUID_LEN + 1];
	char		 ipv4[INET_ADDRSTRLEN], ipv6[INET6_ADDRSTRLEN];
	uint16_t	 port;
	char		 name[PD_NAME_MAX + 1];
};
TAILQ_HEAD(session_list, pd_session);

struct pending {
	TAILQ_ENTRY(pending) entry;
	uint64_t	 nonce;
	struct pd_session *client, *gateway;
	char		 resource_id[PD_UUID_LEN + 1];
	uint64_t	 deadline;
};
TAILQ_HEAD(pending_list, pending);

struct authz {
	TAILQ_ENTRY(authz) entry;
	char		 client_owner[PD_UUID_LEN + 1];	/* config client id */
	char		 client_id[PD_UUID_LEN + 1];
	char		 gateway_id[PD_UUID_LEN + 1];
	char		 resource_id[PD_UUID_LEN + 1];
	int64_t		 expires_at;
};
TAILQ_HEAD(authz_list, authz);

struct pd_portal {
	struct pd_config	*cfg;
	struct pd_store		*store;
	const struct pd_portal_ops *ops;
	struct session_list	 sessions;
	struct pending_list	 pending;
	struct authz_list	 authz;
	uint64_t		 next_nonce;
	uint64_t		 presence_at;	/* UINT64_MAX: none due */
	unsigned char		 ref_key[REF_KEY_LEN];
};

/* Anything a remote peer can trigger is logged at a bounded rate. */
static struct log_ratelimit bad_frame_rl = LOG_RATELIMIT_INIT(10000, 5);
static struct log_ratelimit bad_ref_rl = LOG_RATELIMIT_INIT(10000, 5);
static struct log_ratelimit auth_rl = LOG_RATELIMIT_INIT(1000, 20);

/* ---- small helpers ---- */

static int64_t
unix_now(const struct pd_portal *p)
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

					if (end - v < 3 || !isxdigit((unsigned char)v[1]) ||
					    !isxdigit((unsigned char)v[2]))
						return -EINVAL;
					hex[0] = v[1];
					hex[1] = v[2];
					hex[2] = '\0';
					x = (unsigned int)strtoul(hex, NULL, 16);
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

static void
session_drop(struct pd_portal *p, struct pd_session *s, int code)
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
		    role_topic[s->role], s->dev.id[0] ? s->dev.id : s->relay_id,
		    event);
		session_drop(p, s, 1011);
	}
	free(text);
}

/* A push on the session's topic; steals payload. */
static void
push(struct pd_portal *p, struct pd_session *s, const char *event,
    json_t *payload)
{
	if (payload == NULL) {
		log_warnx("out of memory building %s", event);
		session_drop(p, s, 1011);
		return;
	}
	send_frame(p, s, role_topic[s->role], event, payload, NULL,
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
		session_drop(p, s, 1011);
		return;
	}
	send_frame(p, s, f->topic, "phx_reply", pl, f->ref, f->join_ref);
	json_decref(pl);
}

static void
reply_error(struct pd_portal *p, struct pd_session *s,
    const struct phx_frame *f, const char *reason)
{
	reply(p, s, f, false, json_pack("{s:s}", "reason", reason));
}

/* ---- views (§1.8) ---- */

static json_t *
filters_json(const struct pd_resource *r)
{
	static const char *const proto[] = { "tcp", "udp", "icmp" };
	json_t *a = json_array();

	for (size_t i = 0; a && i < r->nfilters; i++) {
		const struct pd_filter *f = &r->filters[i];
		json_t *o;

		if (f->protocol == PD_PROTO_ICMP)
			o = json_pack("{s:s}", "protocol", "icmp");
		else
			o = json_pack("{s:s, s:i, s:i}", "protocol",
			    proto[f->protocol], "port_range_start",
			    (int)f->port_start, "port_range_end",
			    (int)f->port_end);
		if (json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
client_view(const struct pd_config *cfg, const struct pd_resource *r)
{
	const struct pd_site *site = &cfg->sites[r->site];
	json_t *sites = json_pack("[{s:s, s:s}]", "id", site->id, "name",
	    site->name);

	if (sites == NULL)
		return NULL;
	switch (r->type) {
	case PD_RES_CIDR:
		return json_pack("{s:s, s:s, s:s, s:n, s:s, s:o, s:o}",
		    "id", r->id, "type", "cidr", "address", r->address,
		    "address_description", "name", r->name,
		    "filters", filters_json(r), "sites", sites);
	case PD_RES_DNS:
		return json_pack("{s:s, s:s, s:s, s:n, s:s, s:o, s:o, s:s}",
		    "id", r->id, "type", "dns", "address", r->address,
		    "address_description", "name", r->name,
		    "filters", filters_json(r), "sites", sites,
		    "ip_stack", "dual");
	case PD_RES_INTERNET:
		return json_pack("{s:s, s:s, s:s, s:b, s:o}", "id", r->id,
		    "type", "internet", "name", r->name, "can_be_disabled", 1,
		    "sites", sites);
	}
	json_decref(sites);
	return NULL;
}

static json_t *
gateway_view(const struct pd_resource *r)
{
	if (r->type == PD_RES_INTERNET)
		return json_pack("{s:s, s:s}", "id", r->id, "type", "internet");
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", r->id,
	    "type", r->type == PD_RES_CIDR ? "cidr" : "dns",
	    "address", r->address, "name", r->name,
	    "filters", filters_json(r));
}

static const struct pd_client *
session_client(const struct pd_portal *p, const struct pd_session *s)
{
	for (size_t i = 0; i < p->cfg->nclients; i++)
		if (strcmp(p->cfg->clients[i].id, s->owner) == 0)
			return &p->cfg->clients[i];
	return NULL;
}

/* id -> client view of every resource the client's policies allow. */
static json_t *
visible_resources(const struct pd_portal *p, const struct pd_session *s)
{
	const struct pd_client *cl = session_client(p, s);
	json_t *o = json_object();

	for (size_t i = 0; o && cl && i < p->cfg->nresources; i++) {
		const struct pd_resource *r = &p->cfg->resources[i];

		if (!pd_config_allowed(p->cfg, cl, r))
			continue;
		if (json_object_set_new(o, r->id, client_view(p->cfg, r)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *
client_interface(const struct pd_portal *p, const struct pd_session *s)
{
	json_t *do53 = json_array(), *dns = json_array(), *i;

	for (size_t k = 0; do53 && dns && k < p->cfg->nupstream; k++) {
		const char *ip = p->cfg->upstream_do53[k];
		char addr[INET6_ADDRSTRLEN + 8];

		if (strchr(ip, ':'))
			snprintf(addr, sizeof(addr), "[%s]:53", ip);
		else
			snprintf(addr, sizeof(addr), "%s:53", ip);
		json_array_append_new(do53, json_pack("{s:s}", "ip", ip));
		json_array_append_new(dns, json_pack("{s:s, s:s}", "protocol",
		    "ip_port", "address", addr));
	}
	i = json_pack("{s:s, s:s, s:s?, s:o, s:[], s:o}", "ipv4", s->dev.ipv4,
	    "ipv6", s->dev.ipv6, "search_domain", p->cfg->search_domain,
	    "upstream_do53", do53, "upstream_doh", "upstream_dns", dns);
	return i;
}

/* ---- relays (§1.8, §1.9, §3.3) ---- */

static int
relay_entry(json_t *a, const char *id, const char *addr, const char *user,
    const char *pass, int64_t expires)
{
	return json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s, "
	    "s:I}", "id", id, "type", "turn", "addr", addr, "username", user,
	    "password", pass, "expires_at", (json_int_t)expires));
}

/* The relays a device gets: the first Firezone relays, then turn_servers. */
static json_t *
relay_views(struct pd_portal *p, const struct pd_session *dev)
{
	const uint64_t exp = PORTAL_GATEWAY_RELAY_EXPIRY;
	struct pd_session *r;
	json_t *a = json_array();
	char user[128], pass[128], addr[INET6_ADDRSTRLEN + 10];
	unsigned n = 0;

	TAILQ_FOREACH(r, &p->sessions, entry) {
		char salt[PORTAL_B64_SHA256_LEN + 1];

		if (a == NULL || r->role != SR_RELAY || !r->joined ||
		    r->closing || n >= PD_MAX_RELAYS_PER_DEVICE)
			continue;
		/* Credentials minted from the relay's own stamp_secret. */
		if (portal_relay_username(exp, dev->dev.public_key, user,
		    sizeof(user)) || portal_relay_salt(dev->dev.public_key,
		    salt) || portal_relay_password(r->stamp_secret, exp, salt,
		    pass))
			continue;
		n++;
		/* One entry per address family, same id. */
		if (r->ipv4[0]) {
			snprintf(addr, sizeof(addr), "%s:%u", r->ipv4, r->port);
			relay_entry(a, r->relay_id, addr, user, pass,
			    (int64_t)exp);
		}
		if (r->ipv6[0]) {
			snprintf(addr, sizeof(addr), "[%s]:%u", r->ipv6,
			    r->port);
			relay_entry(a, r->relay_id, addr, user, pass,
			    (int64_t)exp);
		}
	}
	for (size_t i = 0; a && i < p->cfg->nturn; i++) {
		const struct pd_turn *t = &p->cfg->turn[i];

		/* TURN REST (coturn use-auth-secret): expiry:name. */
		if (portal_turn_rest_creds(t->secret, exp, dev->dev.id, user,
		    sizeof(user), pass, sizeof(pass)) == 0)
			relay_entry(a, t->id, t->addr, user, pass,
			    (int64_t)exp);
	}
	return a;
}

static json_t *
relay_ids(const json_t *views)
{
	json_t *ids = json_array(), *v;
	size_t i;

	json_array_foreach(views, i, v) {
		json_t *id = json_object_get(v, "id");
		bool seen = false;
		size_t k;
		json_t *w;

		json_array_foreach(ids, k, w)
			seen |= json_equal(w, id);
		if (!seen)
			json_array_append(ids, id);
	}
	return ids;
}

static bool
id_in(const json_t *ids, const json_t *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(ids, i, v)
		if (json_equal(v, id))
			return true;
	return false;
}

/*
 * relays_presence to one device: ids it had that are gone, views of the
 * relays it lacks.  force: send even when nothing changed (no_relays).
 */
static void
presence_to(struct pd_portal *p, struct pd_session *s, bool force)
{
	json_t *views = relay_views(p, s), *ids, *gone, *conn, *v;
	size_t i;

	if (views == NULL || (ids = relay_ids(views)) == NULL) {
		json_decref(views);
		return;
	}
	gone = json_array();
	conn = json_array();
	json_array_foreach(s->relays_sent, i, v)
		if (!id_in(ids, v))
			json_array_append(gone, v);
	json_array_foreach(views, i, v)
		if (force || !id_in(s->relays_sent, json_object_get(v, "id")))
			json_array_append(conn, v);
	if (force || json_array_size(gone) || json_array_size(conn)) {
		push(p, s, "relays_presence", json_pack("{s:o, s:o}",
		    "disconnected_ids", gone, "connected", conn));
		gone = conn = NULL;
	}
	json_decref(gone);
	json_decref(conn);
	json_decref(s->relays_sent);
	s->relays_sent = ids;
	json_decref(views);
}

static void
presence_schedule(struct pd_portal *p, uint64_t now)
{
	if (p->presence_at == UINT64_MAX)
		p->presence_at = now + PD_PRESENCE_DEBOUNCE_MS;
}

/* ---- init per role ---- */

static json_t *
flow_logs(void)
{
	return json_pack("{s:s, s:i, s:i}", "api_url", "",
	    "upload_interval_secs", 0, "upload_batch_size", 0);
}

static void
init_client(struct pd_portal *p, struct pd_session *s)
{
	json_t *res = visible_resources(p, s), *list = json_array(), *v,
	    *relays = relay_views(p, s);
	const char *k;

	if (res == NULL || list == NULL || relays == NULL) {
		json_decref(res);
		json_decref(list);
		json_decref(relays);
		session_drop(p, s, 1011);
		return;
	}
	json_object_foreach(res, k, v)
		json_array_append(list, v);
	json_decref(s->resources);
	s->resources = res;
	json_decref(s->relays_sent);
	s->relays_sent = relay_ids(relays);
	push(p, s, "init", json_pack("{s:o, s:o, s:o, s:[], s:o}",
	    "interface", client_interface(p, s), "resources", list,
	    "relays", relays, "authorizations", "flow_logs", flow_logs()));
}

static void
init_gateway(struct pd_portal *p, struct pd_session *s)
{
	json_t *auths = json_array(), *relays = relay_views(p, s);
	struct authz *a;

	TAILQ_FOREACH(a, &p->authz, entry)
		if (auths && strcmp(a->gateway_id, s->dev.id) == 0 &&
		    a->expires_at > unix_now(p))
			json_array_append_new(auths, json_pack("{s:s, s:s, "
			    "s:I}", "client_id", a->client_id, "resource_id",
			    a->resource_id, "expires_at",
			    (json_int_t)a->expires_at));
	if (relays != NULL) {
		json_decref(s->relays_sent);
		s->relays_sent = relay_ids(relays);
	}
	push(p, s, "init", json_pack("{s:{s:s, s:s}, s:{s:b, s:b}, s:o, s:s, "
	    "s:o, s:o}", "interface", "ipv4", s->dev.ipv4, "ipv6", s->dev.ipv6,
	    "config", "ipv4_masquerade_enabled", 1, "ipv6_masquerade_enabled",
	    1, "relays", relays, "account_slug", p->cfg->slug,
	    "authorizations", auths, "flow_logs", flow_logs()));
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
	r = pd_store_device_upsert(p->store, role, key, name, pk, unix_now(p),
	    &s->dev);
	if (r) {
		log_warnc(-r, "%s store: cannot record device", role_topic[s->role]);
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

	(void)now_ms;
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
		    role_topic[role], s->dev.id, s->dev.name, tag,
		    req->peer ? req->peer : "?", s->dev.ipv4, s->dev.ipv6);
	}
	*out = s;
	return 0;
fail:
	free(s);
	return r;
}

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

static void
auth_failed(struct pd_portal *p, struct pd_session *client,
    const char *resource_id, const char *reason)
{
	if (log_ratelimit(&auth_rl))
		log_info("client %s: authorization for %s failed: %s",
		    client->dev.id, resource_id, reason);
	push(p, client, "authorization_creation_failed", json_pack("{s:s, "
	    "s:s}", "resource_id", resource_id, "reason", reason));
}

static void
pending_free(struct pd_portal *p, struct pending *pe)
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

static struct pd_session *
find_device(struct pd_portal *p, enum srole role, const char *id)
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

static void
request_authorization(struct pd_portal *p, struct pd_session *s,
    const json_t *pl, uint64_t now)
{
	const char *rid = json_string_value(json_object_get(pl, "resource_id"));
	const struct pd_resource *res;
	const struct pd_client *cl = session_client(p, s);
	struct portal_ice_creds ci, gi;
	struct pd_session *gw;
	struct pending *pe, *o, *tmp;
	char ref[160], psk[PORTAL_B64_KEY_LEN + 1], *tok;
	int64_t exp = unix_now(p) + PD_ACCESS_SECS;

	if (rid == NULL || !pd_uuid_valid(rid))
		return;
	if ((res = pd_config_resource(p->cfg, rid)) == NULL) {
		auth_failed(p, s, rid, "not_found");
		return;
	}
	if (cl == NULL || !pd_config_allowed(p->cfg, cl, res)) {
		auth_failed(p, s, res->id, "forbidden");
		return;
	}
	gw = pick_gateway(p, &p->cfg->sites[res->site],
	    json_object_get(pl, "connected_gateway_ids"));
	if (gw == NULL) {
		auth_failed(p, s, res->id, "offline");
		return;
	}
	/* A newer request for the same resource replaces the pending one. */
	TAILQ_FOREACH_SAFE(o, &p->pending, entry, tmp)
		if (o->client == s && strcmp(o->resource_id, res->id) == 0)
			pending_free(p, o);
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
	push(p, gw, "create_authorization", json_pack("{s:s, s:o, "
	    "s:{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:n, s:n, s:n}, "
	    "s:{s:s, s:s}, s:{s:s, s:s}, s:I, s:{s:s, s:s, s:s, s:s}, s:b, "
	    "s:s}",
	    "ref", ref, "resource", gateway_view(res),
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

static void
gateway_authorized(struct pd_portal *p, struct pd_session *gw,
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
	int64_t exp = unix_now(p) + PD_ACCESS_SECS;

	if (ref == NULL || ref_check(p, ref, gw->dev.id, &nonce)) {
		if (log_ratelimit(&bad_ref_rl))
			log_warnx("gateway %s: authorization_created with an invalid "
		    "ref", gw->dev.id);
		reply_error(p, gw, f, "invalid_ref");
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
		auth_failed(p, c, pe->resource_id, "not_found");
		pending_free(p, pe);
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
	if (a != NULL)
		a->expires_at = exp;
	pending_free(p, pe);
	if (portal_ice_credentials(c->dev.id, c->dev.public_key, gw->dev.id,
	    gw->dev.public_key, &ci, &gi) ||
	    portal_psk(c->dev.psk_base, gw->dev.psk_base, c->dev.id,
	    gw->dev.id, c->dev.public_key, gw->dev.public_key, psk) ||
	    (tok = ingest_token(p, c->dev.id, gw->dev.id, res->id, exp)) ==
	    NULL) {
		explicit_bzero(psk, sizeof(psk));
		return;
	}
	push(p, c, "authorization_created", json_pack("{s:s, s:s, s:s, s:s, "
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
static void
client_candidates(struct pd_portal *p, struct pd_session *s,
    const json_t *pl, const char *out_event)
{
	const char *gid = json_string_value(json_object_get(pl, "gateway_id"));
	json_t *cands = json_object_get(pl, "candidates");
	struct pd_session *gw;

	if (gid == NULL || !valid_candidates(cands) ||
	    (gw = find_device(p, SR_GATEWAY, gid)) == NULL ||
	    !authz_pair(p, s->dev.id, gw->dev.id))
		return;
	push(p, gw, out_event, json_pack("{s:s, s:O}", "client_id",
	    s->dev.id, "candidates", cands));
}

/* gateway -> clients: {client_ids, candidates} -> {gateway_id, candidates} */
static void
gateway_candidates(struct pd_portal *p, struct pd_session *gw,
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

		if (!json_is_string(v) || (c = find_device(p, SR_CLIENT,
		    json_string_value(v))) == NULL ||
		    !authz_pair(p, c->dev.id, gw->dev.id))
			continue;
		push(p, c, out_event, json_pack("{s:s, s:O}", "gateway_id",
		    gw->dev.id, "candidates", cands));
	}
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
			reply_error(p, s, f, "invalid_stamp_secret");
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
		init_client(p, s);
		break;
	case SR_GATEWAY:
		init_gateway(p, s);
		break;
	case SR_RELAY:
		push(p, s, "init", json_object());
		log_info("relay %s joined", s->relay_id);
		presence_schedule(p, now);
		break;
	}
}

static void
client_event(struct pd_portal *p, struct pd_session *s,
    const struct phx_frame *f, uint64_t now)
{
	const char *ev = f->event;

	if (strcmp(ev, "request_authorization") == 0)
		request_authorization(p, s, f->payload, now);
	else if (strcmp(ev, "new_gateway_ice_candidates") == 0)
		client_candidates(p, s, f->payload, "ice_candidates");
	else if (strcmp(ev, "invalidate_gateway_ice_candidates") == 0)
		client_candidates(p, s, f->payload,
		    "invalidate_ice_candidates");
	else if (strcmp(ev, "set_snownet_capabilities") == 0)
		;	/* ICE only: use_iceless is always false */
	else if (strcmp(ev, "no_relays") == 0)
		presence_to(p, s, true);
	else
		reply_error(p, s, f, "unknown_message");
}

static void
gateway_event(struct pd_portal *p, struct pd_session *s,
    const struct phx_frame *f)
{
	const char *ev = f->event;

	if (strcmp(ev, "authorization_created") == 0)
		gateway_authorized(p, s, f);
	else if (strcmp(ev, "broadcast_ice_candidates") == 0)
		gateway_candidates(p, s, f->payload, "ice_candidates");
	else if (strcmp(ev, "broadcast_invalidated_ice_candidates") == 0)
		gateway_candidates(p, s, f->payload,
		    "invalidate_ice_candidates");
	else if (strcmp(ev, "set_snownet_capabilities") == 0)
		;
	else if (strcmp(ev, "no_relays") == 0)
		presence_to(p, s, true);
	else
		reply_error(p, s, f, "unknown_message");
}

void
pd_portal_text(struct pd_portal *p, struct pd_session *s, const char *text,
    size_t len, uint64_t now)
{
	struct phx_frame f = { 0 };

	if (s->closing)
		return;
	if (phx_frame_decode(s->vsn, text, len, &f) != 0) {
		if (log_ratelimit(&bad_frame_rl))
			log_warnx("%s: malformed frame ignored",
			    role_topic[s->role]);
		return;
	}
	if (strcmp(f.topic, "phoenix") == 0) {
		if (strcmp(f.event, "heartbeat") == 0)
			reply(p, s, &f, true, NULL);
		goto out;
	}
	if (strcmp(f.topic, role_topic[s->role]) != 0) {
		/* Phoenix: a topic this socket has no channel for. */
		reply_error(p, s, &f, "unmatched topic");
		goto out;
	}
	if (strcmp(f.event, "phx_join") == 0) {
		join(p, s, &f, now);
		goto out;
	}
	if (!s->joined) {
		reply_error(p, s, &f, "unmatched topic");
		goto out;
	}
	if (strcmp(f.event, "phx_leave") == 0) {
		reply(p, s, &f, true, NULL);
		send_frame(p, s, f.topic, "phx_close", json_object(), NULL,
		    s->join_ref);
		s->joined = false;
		if (s->role == SR_RELAY)
			presence_schedule(p, now);
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
		reply_error(p, s, &f, "unknown_message");
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
			pending_free(p, pe);
		else if (pe->gateway == s) {
			auth_failed(p, pe->client, pe->resource_id, "offline");
			pending_free(p, pe);
		}
	}
	if (s->role == SR_RELAY) {
		if (s->joined) {
			log_info("relay %s left", s->relay_id);
			presence_schedule(p, now);
		}
	} else {
		if (pd_store_device_seen(p->store, s->dev.id, unix_now(p)))
			log_warnx("%s %s: cannot record last_seen",
			    role_topic[s->role], s->dev.id);
		log_info("%s %s disconnected", role_topic[s->role], s->dev.id);
	}
	TAILQ_REMOVE(&p->sessions, s, entry);
	json_decref(s->join_ref);
	json_decref(s->resources);
	json_decref(s->relays_sent);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

void
pd_portal_tick(struct pd_portal *p, uint64_t now)
{
	struct pending *pe, *tmp;
	struct pd_session *s;
	struct authz *a, *atmp;
	int64_t wall = unix_now(p);

	/* Expired authorizations are forgotten (the gateway expires them). */
	TAILQ_FOREACH_SAFE(a, &p->authz, entry, atmp)
		if (a->expires_at <= wall) {
			TAILQ_REMOVE(&p->authz, a, entry);
			free(a);
		}
	TAILQ_FOREACH_SAFE(pe, &p->pending, entry, tmp)
		if (pe->deadline <= now) {
			auth_failed(p, pe->client, pe->resource_id, "offline");
			pending_free(p, pe);
		}
	if (p->presence_at <= now) {
		p->presence_at = UINT64_MAX;
		TAILQ_FOREACH(s, &p->sessions, entry)
			if (s->role != SR_RELAY && s->joined && !s->closing)
				presence_to(p, s, false);
	}
}

uint64_t
pd_portal_deadline(const struct pd_portal *p)
{
	uint64_t d = p->presence_at;
	struct pending *pe;

	TAILQ_FOREACH(pe, &p->pending, entry)
		if (pe->deadline < d)
			d = pe->deadline;
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
	json_t *now_res = visible_resources(p, s), *v, *ifc;
	const char *k;

	if (now_res == NULL)
		return;
	/* Deletions, and site moves as delete then create (§1.6). */
	json_object_foreach(s->resources, k, v) {
		json_t *n = json_object_get(now_res, k);

		if (n == NULL || !json_equal(json_object_get(n, "sites"),
		    json_object_get(v, "sites")))
			push(p, s, "resource_deleted", json_string(k));
	}
	json_object_foreach(now_res, k, v) {
		json_t *o = json_object_get(s->resources, k);

		if (o == NULL || !json_equal(o, v))
			push(p, s, "resource_created_or_updated",
			    json_incref(v));
	}
	json_decref(s->resources);
	s->resources = now_res;
	ifc = client_interface(p, s);
	if (ifc != NULL && !json_equal(ifc, old_if))
		push(p, s, "config_changed", json_pack("{s:O}", "interface",
		    ifc));
	json_decref(ifc);
}

void
pd_portal_reload(struct pd_portal *p, struct pd_config *cfg, uint64_t now)
{
	struct pd_config *old = p->cfg;
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
			old_if[i] = client_interface(p, s);
		i++;
	}
	p->cfg = cfg;

	/* Devices whose token (client entry or site) is gone. */
	TAILQ_FOREACH(s, &p->sessions, entry) {
		bool gone = false;

		if (s->role == SR_CLIENT) {
			const struct pd_client *nc = session_client(p, s);
			const struct pd_client *oc = NULL;

			for (size_t k = 0; k < old->nclients; k++)
				if (strcmp(old->clients[k].id, s->owner) == 0)
					oc = &old->clients[k];
			gone = nc == NULL || oc == NULL ||
			    !token_eq(nc->token, oc->token);
		} else if (s->role == SR_GATEWAY) {
			const struct pd_site *ns = pd_config_site(cfg, s->owner);
			const struct pd_site *os = pd_config_site(old, s->owner);

			gone = ns == NULL || os == NULL ||
			    !token_eq(ns->gateway_token, os->gateway_token);
		} else
			gone = cfg->relay_token == NULL || old->relay_token ==
			    NULL || !token_eq(cfg->relay_token,
			    old->relay_token);
		if (!gone)
			continue;
		log_info("%s %s: no longer in the config, disconnecting",
		    role_topic[s->role], s->dev.id[0] ? s->dev.id :
		    s->relay_id);
		if (s->joined)
			push(p, s, "disconnect", json_pack("{s:s}", "reason",
			    "token_expired"));
		session_drop(p, s, 1000);
		if (s->role == SR_RELAY)
			presence_schedule(p, now);
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
		if (nr != NULL && orr != NULL && resource_same_target(nr, orr) &&
		    ncl != NULL && ocl != NULL &&
		    token_eq(ncl->token, ocl->token) &&
		    pd_config_allowed(cfg, ncl, nr))
			continue;
		if ((gw = find_device(p, SR_GATEWAY, a->gateway_id)) != NULL)
			push(p, gw, "reject_access", json_pack("{s:s, s:s}",
			    "client_id", a->client_id, "resource_id",
			    a->resource_id));
		log_info("authorization of client %s for %s revoked",
		    a->client_id, a->resource_id);
		TAILQ_REMOVE(&p->authz, a, entry);
		free(a);
	}
	/* Filter changes: resource_updated to gateways holding access. */
	TAILQ_FOREACH(a, &p->authz, entry) {
		const struct pd_resource *nr = pd_config_resource(cfg,
		    a->resource_id);
		const struct pd_resource *orr = pd_config_resource(old,
		    a->resource_id);
		json_t *nv = gateway_view(nr), *ov = gateway_view(orr);
		struct pd_session *gw = find_device(p, SR_GATEWAY,
		    a->gateway_id);

		if (gw != NULL && nv && ov && !json_equal(nv, ov))
			push(p, gw, "resource_updated", json_incref(nv));
		json_decref(nv);
		json_decref(ov);
	}
	/* Pending requests for resources no longer allowed. */
	TAILQ_FOREACH_SAFE(pe, &p->pending, entry, ptmp) {
		const struct pd_resource *nr = pd_config_resource(cfg,
		    pe->resource_id);
		const struct pd_client *cl = session_client(p, pe->client);

		if (nr == NULL || cl == NULL || !pd_config_allowed(cfg, cl, nr)) {
			auth_failed(p, pe->client, pe->resource_id,
			    nr ? "forbidden" : "not_found");
			pending_free(p, pe);
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
	presence_schedule(p, now);
	pd_config_free(old);
}

/* ---- lifecycle ---- */

int
pd_portal_new(struct pd_config *cfg, struct pd_store *store,
    const struct pd_portal_ops *ops, struct pd_portal **out)
{
	struct pd_portal *p;

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
		pending_free(p, pe);
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
	pd_config_free(p->cfg);
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
