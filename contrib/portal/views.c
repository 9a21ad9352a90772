/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's JSON views (firezone-protocols.md §1.8): resources for
 * clients and gateways, interfaces, relays with their credentials (§1.9,
 * §3.3), relays_presence, and the init of each role.
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

#include "log.h"
#include "portal_int.h"

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

json_t *
pd_gateway_view(const struct pd_resource *r)
{
	if (r->type == PD_RES_INTERNET)
		return json_pack("{s:s, s:s}", "id", r->id, "type", "internet");
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", r->id,
	    "type", r->type == PD_RES_CIDR ? "cidr" : "dns",
	    "address", r->address, "name", r->name,
	    "filters", filters_json(r));
}

const struct pd_client *
pd_session_client(const struct pd_portal *p, const struct pd_session *s)
{
	for (size_t i = 0; i < p->cfg->nclients; i++)
		if (strcmp(p->cfg->clients[i].id, s->owner) == 0)
			return &p->cfg->clients[i];
	return NULL;
}

/* id -> client view of every resource the client's policies allow. */
json_t *
pd_visible_resources(const struct pd_portal *p, const struct pd_session *s)
{
	const struct pd_client *cl = pd_session_client(p, s);
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

json_t *
pd_client_interface(const struct pd_portal *p, const struct pd_session *s)
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
void
pd_presence_to(struct pd_portal *p, struct pd_session *s, bool force)
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
		pd_push(p, s, "relays_presence", json_pack("{s:o, s:o}",
		    "disconnected_ids", gone, "connected", conn));
		gone = conn = NULL;
	}
	json_decref(gone);
	json_decref(conn);
	json_decref(s->relays_sent);
	s->relays_sent = ids;
	json_decref(views);
}

void
pd_presence_schedule(struct pd_portal *p, uint64_t now)
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

void
pd_init_client(struct pd_portal *p, struct pd_session *s)
{
	json_t *res = pd_visible_resources(p, s), *list = json_array(), *v,
	    *relays = relay_views(p, s);
	const char *k;

	if (res == NULL || list == NULL || relays == NULL) {
		json_decref(res);
		json_decref(list);
		json_decref(relays);
		pd_session_drop(p, s, 1011);
		return;
	}
	json_object_foreach(res, k, v)
		json_array_append(list, v);
	json_decref(s->resources);
	s->resources = res;
	json_decref(s->relays_sent);
	s->relays_sent = relay_ids(relays);
	pd_push(p, s, "init", json_pack("{s:o, s:o, s:o, s:[], s:o}",
	    "interface", pd_client_interface(p, s), "resources", list,
	    "relays", relays, "authorizations", "flow_logs", flow_logs()));
}

void
pd_init_gateway(struct pd_portal *p, struct pd_session *s)
{
	json_t *auths = json_array(), *relays = relay_views(p, s);
	struct authz *a;

	TAILQ_FOREACH(a, &p->authz, entry)
		if (auths && strcmp(a->gateway_id, s->dev.id) == 0 &&
		    a->expires_at > pd_unix_now(p))
			json_array_append_new(auths, json_pack("{s:s, s:s, "
			    "s:I}", "client_id", a->client_id, "resource_id",
			    a->resource_id, "expires_at",
			    (json_int_t)a->expires_at));
	if (relays != NULL) {
		json_decref(s->relays_sent);
		s->relays_sent = relay_ids(relays);
	}
	pd_push(p, s, "init", json_pack("{s:{s:s, s:s}, s:{s:b, s:b}, s:o, "
	    "s:s, s:o, s:o}",
	    "interface", "ipv4", s->dev.ipv4, "ipv6", s->dev.ipv6,
	    "config", "ipv4_masquerade_enabled", 1, "ipv6_masquerade_enabled",
	    1, "relays", relays, "account_slug", p->cfg->slug,
	    "authorizations", auths, "flow_logs", flow_logs()));
}
