/* SPDX-License-Identifier: ISC */
/*
 * The resource, relay, interface and filter views of firezone-protocols.md
 * §1.8, both ways (portal_msg.h).  Filters, sites, devices and DNS
 * servers are strict: a bad one makes its parent malformed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "creds.h"
#include "portal_json.h"
#include "portal_msg.h"

/* Filters, sites, devices (§1.8). */

static const char *const proto_names[] = {
	[PORTAL_PROTO_TCP] = "tcp", [PORTAL_PROTO_UDP] = "udp",
	[PORTAL_PROTO_ICMP] = "icmp",
};

static int
port_opt(const json_t *o, const char *k, uint16_t dflt, uint16_t *out)
{
	const json_t *v = json_object_get(o, k);

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 65535)
		return -EBADMSG;
	*out = (uint16_t)json_integer_value(v);
	return 0;
}

int
portal_filter_decode(const json_t *v, struct portal_filter *f)
{
	struct portal_filter t = { 0 };
	const char *p;
	int r;

	if (!json_is_object(v) ||
	    (p = json_string_value(json_object_get(v, "protocol"))) == NULL)
		return -EBADMSG;
	if (strcmp(p, "tcp") == 0)
		t.protocol = PORTAL_PROTO_TCP;
	else if (strcmp(p, "udp") == 0)
		t.protocol = PORTAL_PROTO_UDP;
	else if (strcmp(p, "icmp") == 0)
		t.protocol = PORTAL_PROTO_ICMP;
	else
		return -EBADMSG;
	if (t.protocol != PORTAL_PROTO_ICMP &&
	    ((r = port_opt(v, "port_range_start", 0, &t.port_start)) < 0 ||
	    (r = port_opt(v, "port_range_end", 65535, &t.port_end)) < 0))
		return r;
	*f = t;
	return 0;
}

json_t *
portal_filter_encode(const struct portal_filter *f)
{
	struct pj_enc e;

	if ((unsigned)f->protocol > PORTAL_PROTO_ICMP)
		return NULL;
	pj_enc_init(&e);
	pj_put_str(&e, "protocol", proto_names[f->protocol]);
	if (f->protocol != PORTAL_PROTO_ICMP) {
		pj_put_u64(&e, "port_range_start", f->port_start);
		pj_put_u64(&e, "port_range_end", f->port_end);
	}
	return pj_enc_done(&e);
}

static int
filter_elem(const json_t *v, void *out, const void *arg)
{
	(void)arg;
	return portal_filter_decode(v, out);
}

static json_t *
filter_elem_enc(const void *f, const void *arg)
{
	(void)arg;
	return portal_filter_encode(f);
}

static int
site_elem(const json_t *v, void *out, const void *arg)
{
	struct portal_site *s = out;
	int r;

	(void)arg;
	if (!json_is_object(v))
		return -EBADMSG;
	if ((r = pj_id_req(v, "id", s->id)) < 0 ||
	    (r = pj_str_req(v, "name", s->name, sizeof(s->name))) < 0)
		return r;
	return 0;
}

static json_t *
site_elem_enc(const void *p, const void *arg)
{
	const struct portal_site *s = p;
	struct pj_enc e;

	(void)arg;
	pj_enc_init(&e);
	pj_put_str(&e, "id", s->id);
	pj_put_str(&e, "name", s->name);
	return pj_enc_done(&e);
}

static int
device_elem(const json_t *v, void *out, const void *arg)
{
	struct portal_pool_device *d = out;
	int r, af;

	(void)arg;
	if (!json_is_object(v))
		return -EBADMSG;
	/* connlib: "client_id", alias "id". */
	if (pj_id_req(v, "client_id", d->client_id) < 0 &&
	    (r = pj_id_req(v, "id", d->client_id)) < 0)
		return r;
	if ((r = pj_str_req(v, "ipv4", d->ipv4, sizeof(d->ipv4))) < 0 ||
	    (r = pj_str_req(v, "ipv6", d->ipv6, sizeof(d->ipv6))) < 0)
		return r;
	if (!pj_is_cidr(d->ipv4, &af) || af != AF_INET ||
	    !pj_is_cidr(d->ipv6, &af) || af != AF_INET6)
		return -EBADMSG;
	return 0;
}

static json_t *
device_elem_enc(const void *p, const void *arg)
{
	const struct portal_pool_device *d = p;
	struct pj_enc e;

	(void)arg;
	pj_enc_init(&e);
	pj_put_str(&e, "client_id", d->client_id);
	pj_put_str(&e, "ipv4", d->ipv4);
	pj_put_str(&e, "ipv6", d->ipv6);
	return pj_enc_done(&e);
}

/* Resources (§1.8). */

static const char *const res_names[] = {
	[PORTAL_RES_DNS] = "dns", [PORTAL_RES_CIDR] = "cidr",
	[PORTAL_RES_INTERNET] = "internet",
	[PORTAL_RES_STATIC_DEVICE_POOL] = "static_device_pool",
	[PORTAL_RES_DYNAMIC_DEVICE_POOL] = "dynamic_device_pool",
};

static const char *const ip_stack_names[] = {
	[PORTAL_IP_STACK_NONE] = NULL, [PORTAL_IP_STACK_DUAL] = "dual",
	[PORTAL_IP_STACK_IPV4_ONLY] = "ipv4_only",
	[PORTAL_IP_STACK_IPV6_ONLY] = "ipv6_only",
};

void
portal_resource_clear(struct portal_resource *r)
{
	if (r == NULL)
		return;
	free(r->sites);
	free(r->filters);
	free(r->devices);
	r->sites = NULL;
	r->filters = NULL;
	r->devices = NULL;
	r->n_sites = r->n_filters = r->n_devices = 0;
}

static int
sites_decode(const json_t *v, struct portal_resource *t)
{
	const char *key = "gateway_groups";

	t->gateway_groups = json_object_get(v, key) != NULL;
	if (!t->gateway_groups)
		key = "sites";
	return pj_list_decode(v, key, true, PORTAL_MAX_LIST,
	    sizeof(struct portal_site), site_elem, NULL, false,
	    (void **)&t->sites, &t->n_sites);
}

int
pv_filters_decode(const json_t *v, bool required, struct portal_filter **f,
    size_t *n)
{
	return pj_list_decode(v, "filters", required, PORTAL_MAX_LIST,
	    sizeof(struct portal_filter), filter_elem, NULL, false,
	    (void **)f, n);
}

static int
resource_decode(enum portal_view view, const json_t *v,
    struct portal_resource *t)
{
	const char *type;
	bool present;
	size_t i;
	int r, af;

	if (!json_is_object(v) ||
	    (type = json_string_value(json_object_get(v, "type"))) == NULL)
		return -EBADMSG;
	for (i = 0; i < sizeof(res_names) / sizeof(res_names[0]); i++)
		if (strcmp(type, res_names[i]) == 0)
			break;
	if (i == sizeof(res_names) / sizeof(res_names[0]) ||
	    (view == PORTAL_VIEW_GATEWAY && i > PORTAL_RES_INTERNET))
		return -ENOENT;		/* forward compatibility */
	t->type = (enum portal_res_type)i;
	if ((r = pj_id_req(v, "id", t->id)) < 0)
		return r;
	if (view == PORTAL_VIEW_GATEWAY) {
		if (t->type == PORTAL_RES_INTERNET)
			return 0;
		if ((r = pj_str_req(v, "address", t->address,
		    sizeof(t->address))) < 0 ||
		    (r = pj_str_req(v, "name", t->name, sizeof(t->name))) < 0)
			return r;
		if (t->type == PORTAL_RES_CIDR && !pj_is_cidr(t->address, NULL))
			return -EBADMSG;
		return pv_filters_decode(v, true, &t->filters, &t->n_filters);
	}
	switch (t->type) {
	case PORTAL_RES_DNS:
	case PORTAL_RES_CIDR:
		if ((r = pj_str_req(v, "address", t->address,
		    sizeof(t->address))) < 0 ||
		    (r = pj_str_req(v, "name", t->name, sizeof(t->name))) < 0 ||
		    (r = pj_str_opt(v, "address_description",
		    t->address_description, sizeof(t->address_description),
		    &t->has_address_description)) < 0)
			return r;
		if (t->type == PORTAL_RES_CIDR && !pj_is_cidr(t->address, &af))
			return -EBADMSG;
		if (t->type == PORTAL_RES_DNS) {
			char st[16];

			if ((r = pj_str_opt(v, "ip_stack", st, sizeof(st),
			    &present)) < 0)
				return r;
			if (present) {
				for (i = 1; i < 4; i++)
					if (strcmp(st, ip_stack_names[i]) == 0)
						break;
				if (i == 4)
					return -EBADMSG;
				t->ip_stack = (enum portal_ip_stack)i;
			}
		}
		if ((r = sites_decode(v, t)) < 0)
			return r;
		return pv_filters_decode(v, false, &t->filters, &t->n_filters);
	case PORTAL_RES_INTERNET:
		if ((r = pj_str_opt(v, "name", t->name, sizeof(t->name),
		    &present)) < 0 ||
		    (r = pj_bool_opt(v, "can_be_disabled", false,
		    &t->can_be_disabled)) < 0)
			return r;
		if (!present)
			strcpy(t->name, "Internet Resource");
		return sites_decode(v, t);
	case PORTAL_RES_STATIC_DEVICE_POOL:
		if ((r = pj_str_req(v, "name", t->name, sizeof(t->name))) < 0 ||
		    (r = pj_list_decode(v, "devices", false, PORTAL_MAX_LIST,
		    sizeof(struct portal_pool_device), device_elem, NULL, false,
		    (void **)&t->devices, &t->n_devices)) < 0)
			return r;
		return pv_filters_decode(v, false, &t->filters, &t->n_filters);
	case PORTAL_RES_DYNAMIC_DEVICE_POOL:
		if ((r = pj_str_req(v, "name", t->name, sizeof(t->name))) < 0 ||
		    (r = pj_str_req(v, "address", t->address,
		    sizeof(t->address))) < 0)
			return r;
		return pv_filters_decode(v, false, &t->filters, &t->n_filters);
	}
	return -EBADMSG;
}

int
portal_resource_decode(enum portal_view view, const json_t *v,
    struct portal_resource *out)
{
	struct portal_resource t;
	int r;

	memset(&t, 0, sizeof(t));
	if ((r = resource_decode(view, v, &t)) < 0) {
		portal_resource_clear(&t);
		return r;
	}
	*out = t;
	return 0;
}

json_t *
pv_filters_enc(const struct portal_filter *f, size_t n)
{
	return pj_list_encode(f, n, sizeof(*f), filter_elem_enc, NULL);
}

json_t *
portal_resource_encode(enum portal_view view, const struct portal_resource *t)
{
	struct pj_enc e;

	if ((unsigned)t->type > PORTAL_RES_DYNAMIC_DEVICE_POOL ||
	    (view == PORTAL_VIEW_GATEWAY && t->type > PORTAL_RES_INTERNET))
		return NULL;
	pj_enc_init(&e);
	pj_put_str(&e, "id", t->id);
	pj_put_str(&e, "type", res_names[t->type]);
	if (view == PORTAL_VIEW_GATEWAY) {
		if (t->type != PORTAL_RES_INTERNET) {
			pj_put_str(&e, "address", t->address);
			pj_put_str(&e, "name", t->name);
			pj_put(&e, "filters", pv_filters_enc(t->filters,
			    t->n_filters));
		}
		return pj_enc_done(&e);
	}
	switch (t->type) {
	case PORTAL_RES_DNS:
	case PORTAL_RES_CIDR:
		pj_put_str(&e, "address", t->address);
		pj_put_str_or_null(&e, "address_description",
		    t->has_address_description, t->address_description);
		pj_put_str(&e, "name", t->name);
		pj_put(&e, "filters", pv_filters_enc(t->filters, t->n_filters));
		pj_put(&e, t->gateway_groups ? "gateway_groups" : "sites",
		    pj_list_encode(t->sites, t->n_sites, sizeof(*t->sites),
		    site_elem_enc, NULL));
		if (t->type == PORTAL_RES_DNS && t->ip_stack !=
		    PORTAL_IP_STACK_NONE && (unsigned)t->ip_stack <= 3)
			pj_put_str(&e, "ip_stack", ip_stack_names[t->ip_stack]);
		break;
	case PORTAL_RES_INTERNET:
		pj_put_str(&e, "name", t->name);
		pj_put(&e, "can_be_disabled", json_boolean(t->can_be_disabled));
		pj_put(&e, t->gateway_groups ? "gateway_groups" : "sites",
		    pj_list_encode(t->sites, t->n_sites, sizeof(*t->sites),
		    site_elem_enc, NULL));
		break;
	case PORTAL_RES_STATIC_DEVICE_POOL:
		pj_put_str(&e, "name", t->name);
		pj_put(&e, "devices", pj_list_encode(t->devices, t->n_devices,
		    sizeof(*t->devices), device_elem_enc, NULL));
		pj_put(&e, "filters", pv_filters_enc(t->filters, t->n_filters));
		break;
	case PORTAL_RES_DYNAMIC_DEVICE_POOL:
		pj_put_str(&e, "name", t->name);
		pj_put_str(&e, "address", t->address);
		pj_put(&e, "filters", pv_filters_enc(t->filters, t->n_filters));
		break;
	}
	return pj_enc_done(&e);
}

int
pv_resource_elem(const json_t *v, void *out, const void *arg)
{
	return portal_resource_decode(*(const enum portal_view *)arg, v, out);
}

json_t *
pv_resource_elem_enc(const void *p, const void *arg)
{
	return portal_resource_encode(*(const enum portal_view *)arg, p);
}

void
pv_resources_free(struct portal_resource *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		portal_resource_clear(&a[i]);
	free(a);
}

/* Relays (§1.8). */

int
portal_relay_decode(const json_t *v, struct portal_relay *out)
{
	struct portal_relay t;
	const char *type;
	int r;

	memset(&t, 0, sizeof(t));
	if (!json_is_object(v) ||
	    (type = json_string_value(json_object_get(v, "type"))) == NULL)
		return -EBADMSG;
	if (strcmp(type, "turn") == 0)
		t.type = PORTAL_RELAY_TURN;
	else if (strcmp(type, "stun") == 0)
		t.type = PORTAL_RELAY_STUN;
	else
		return -ENOENT;
	if ((r = pj_id_req(v, "id", t.id)) < 0 ||
	    (r = pj_str_req(v, "addr", t.addr, sizeof(t.addr))) < 0)
		return r;
	if (!pj_is_sockaddr(t.addr))
		return -EBADMSG;
	if (t.type == PORTAL_RELAY_TURN &&
	    ((r = pj_str_req(v, "username", t.username,
	    sizeof(t.username))) < 0 ||
	    (r = pj_str_req(v, "password", t.password,
	    sizeof(t.password))) < 0 ||
	    (r = pj_u64_req(v, "expires_at", &t.expires_at)) < 0))
		return r;
	*out = t;
	return 0;
}

json_t *
portal_relay_encode(const struct portal_relay *t)
{
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put_str(&e, "id", t->id);
	pj_put_str(&e, "type", t->type == PORTAL_RELAY_TURN ? "turn" : "stun");
	pj_put_str(&e, "addr", t->addr);
	if (t->type == PORTAL_RELAY_TURN) {
		pj_put_str(&e, "username", t->username);
		pj_put_str(&e, "password", t->password);
		pj_put_u64(&e, "expires_at", t->expires_at);
	}
	return pj_enc_done(&e);
}

static int
relay_elem(const json_t *v, void *out, const void *arg)
{
	(void)arg;
	return portal_relay_decode(v, out);
}

static json_t *
relay_elem_enc(const void *p, const void *arg)
{
	(void)arg;
	return portal_relay_encode(p);
}

int
pv_relays_decode(const json_t *o, const char *k, bool required,
    struct portal_relay **a, size_t *n)
{
	return pj_list_decode(o, k, required, PORTAL_MAX_LIST,
	    sizeof(struct portal_relay), relay_elem, NULL, true, (void **)a, n);
}

json_t *
pv_relays_enc(const struct portal_relay *a, size_t n)
{
	return pj_list_encode(a, n, sizeof(*a), relay_elem_enc, NULL);
}

/* Interface (§1.8). */

static int
do53_elem(const json_t *v, void *out, const void *arg)
{
	(void)arg;
	if (!json_is_object(v))
		return -EBADMSG;
	if (pj_ip_req(v, "ip", AF_INET, out) == 0)
		return 0;
	return pj_ip_req(v, "ip", AF_INET6, out);
}

static int
doh_elem(const json_t *v, void *out, const void *arg)
{
	(void)arg;
	if (!json_is_object(v))
		return -EBADMSG;
	return pj_str_req(v, "url", out, PORTAL_URL_MAX + 1);
}

static int
dns_elem(const json_t *v, void *out, const void *arg)
{
	const char *p;
	int r;

	(void)arg;
	if (!json_is_object(v) ||
	    (p = json_string_value(json_object_get(v, "protocol"))) == NULL ||
	    strcmp(p, "ip_port") != 0)
		return -EBADMSG;
	if ((r = pj_str_req(v, "address", out, PORTAL_IP_MAX + 1)) < 0)
		return r;
	return pj_is_sockaddr(out) ? 0 : -EBADMSG;
}

static json_t *
do53_elem_enc(const void *p, const void *arg)
{
	(void)arg;
	return pj_str_obj_enc("ip", p);
}

static json_t *
doh_elem_enc(const void *p, const void *arg)
{
	(void)arg;
	return pj_str_obj_enc("url", p);
}

static json_t *
dns_elem_enc(const void *p, const void *arg)
{
	struct pj_enc e;

	(void)arg;
	pj_enc_init(&e);
	pj_put_str(&e, "protocol", "ip_port");
	pj_put_str(&e, "address", p);
	return pj_enc_done(&e);
}

void
portal_interface_clear(struct portal_interface *i)
{
	if (i == NULL)
		return;
	free(i->do53);
	free(i->doh);
	free(i->dns);
	i->do53 = NULL;
	i->doh = NULL;
	i->dns = NULL;
	i->n_do53 = i->n_doh = i->n_dns = 0;
}

int
portal_interface_decode(enum portal_view view, const json_t *v,
    struct portal_interface *out)
{
	struct portal_interface t;
	int r;

	memset(&t, 0, sizeof(t));
	if (!json_is_object(v))
		return -EBADMSG;
	if ((r = pj_ip_req(v, "ipv4", AF_INET, t.ipv4)) < 0 ||
	    (r = pj_ip_req(v, "ipv6", AF_INET6, t.ipv6)) < 0)
		return r;
	if (view == PORTAL_VIEW_CLIENT &&
	    ((r = pj_str_opt(v, "search_domain", t.search_domain,
	    sizeof(t.search_domain), &t.has_search_domain)) < 0 ||
	    (r = pj_list_decode(v, "upstream_do53", false, PORTAL_MAX_LIST,
	    sizeof(*t.do53), do53_elem, NULL, false, (void **)&t.do53,
	    &t.n_do53)) < 0 ||
	    (r = pj_list_decode(v, "upstream_doh", false, PORTAL_MAX_LIST,
	    sizeof(*t.doh), doh_elem, NULL, false, (void **)&t.doh,
	    &t.n_doh)) < 0 ||
	    (r = pj_list_decode(v, "upstream_dns", false, PORTAL_MAX_LIST,
	    sizeof(*t.dns), dns_elem, NULL, false, (void **)&t.dns,
	    &t.n_dns)) < 0)) {
		portal_interface_clear(&t);
		return r;
	}
	*out = t;
	return 0;
}

json_t *
portal_interface_encode(enum portal_view view,
    const struct portal_interface *t)
{
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put_str(&e, "ipv4", t->ipv4);
	pj_put_str(&e, "ipv6", t->ipv6);
	if (view == PORTAL_VIEW_CLIENT) {
		pj_put_str_or_null(&e, "search_domain", t->has_search_domain,
		    t->search_domain);
		pj_put(&e, "upstream_do53", pj_list_encode(t->do53, t->n_do53,
		    sizeof(*t->do53), do53_elem_enc, NULL));
		pj_put(&e, "upstream_doh", pj_list_encode(t->doh, t->n_doh,
		    sizeof(*t->doh), doh_elem_enc, NULL));
		pj_put(&e, "upstream_dns", pj_list_encode(t->dns, t->n_dns,
		    sizeof(*t->dns), dns_elem_enc, NULL));
	}
	return pj_enc_done(&e);
}
