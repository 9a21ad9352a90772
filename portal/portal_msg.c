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
#include "portal_msg.h"

/* Field readers: 0 or -EBADMSG; absent optional fields leave "" / 0. */

static int
str_opt(const json_t *o, const char *k, char *buf, size_t cap, bool *present)
{
	const json_t *v = json_object_get(o, k);
	size_t n;

	buf[0] = '\0';
	if (present != NULL)
		*present = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -EBADMSG;
	n = json_string_length(v);
	if (n >= cap || memchr(json_string_value(v), '\0', n) != NULL)
		return -EBADMSG;
	memcpy(buf, json_string_value(v), n + 1);
	if (present != NULL)
		*present = true;
	return 0;
}

static int
str_req(const json_t *o, const char *k, char *buf, size_t cap)
{
	bool present;
	int r;

	if ((r = str_opt(o, k, buf, cap, &present)) < 0)
		return r;
	return present ? 0 : -EBADMSG;
}

/* A required string of any length up to max, malloc'd. */
static int
str_dup_req(const json_t *o, const char *k, size_t max, char **out)
{
	const json_t *v = json_object_get(o, k);
	size_t n;

	if (!json_is_string(v))
		return -EBADMSG;
	n = json_string_length(v);
	if (n > max || memchr(json_string_value(v), '\0', n) != NULL)
		return -EBADMSG;
	if ((*out = strndup(json_string_value(v), n)) == NULL)
		return -ENOMEM;
	return 0;
}

static int
id_value(const json_t *v, portal_id out)
{
	uint8_t u[16];

	if (!json_is_string(v) || json_string_length(v) > 45 ||
	    portal_uuid_parse(json_string_value(v), u) < 0)
		return -EBADMSG;
	portal_uuid_format(u, out);
	return 0;
}

static int
id_req(const json_t *o, const char *k, portal_id out)
{
	return id_value(json_object_get(o, k), out);
}

static bool
is_ip(const char *s, int af)
{
	uint8_t b[16];

	return inet_pton(af, s, b) == 1;
}

static int
ip_req(const json_t *o, const char *k, int af, char out[PORTAL_IP_MAX + 1])
{
	int r;

	if ((r = str_req(o, k, out, PORTAL_IP_MAX + 1)) < 0)
		return r;
	return is_ip(out, af) ? 0 : -EBADMSG;
}

static int
ip_opt(const json_t *o, const char *k, int af, char out[PORTAL_IP_MAX + 1])
{
	bool present;
	int r;

	if ((r = str_opt(o, k, out, PORTAL_IP_MAX + 1, &present)) < 0)
		return r;
	return !present || is_ip(out, af) ? 0 : -EBADMSG;
}

/* "a.b.c.d/n" or "x::y/n" (a bare address is a host prefix, as ip_network
   parses it). */
static bool
is_cidr(const char *s, int *af_out)
{
	char ip[PORTAL_IP_MAX + 1], *end;
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	long len;
	int af;

	if (n == 0 || n > PORTAL_IP_MAX)
		return false;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (is_ip(ip, AF_INET))
		af = AF_INET;
	else if (is_ip(ip, AF_INET6))
		af = AF_INET6;
	else
		return false;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9')
			return false;
		len = strtol(slash + 1, &end, 10);
		if (*end != '\0' || len > (af == AF_INET ? 32 : 128))
			return false;
	}
	if (af_out != NULL)
		*af_out = af;
	return true;
}

/* "ip:port" or "[ip6]:port", as Rust's SocketAddr. */
static bool
is_sockaddr(const char *s)
{
	char ip[PORTAL_IP_MAX + 1], *end;
	const char *colon;
	size_t n;
	long port;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return false;
		n = (size_t)(rb - s - 1);
		if (n == 0 || n > PORTAL_IP_MAX)
			return false;
		memcpy(ip, s + 1, n);
		ip[n] = '\0';
		if (!is_ip(ip, AF_INET6))
			return false;
		colon = rb + 1;
	} else {
		if ((colon = strchr(s, ':')) == NULL)
			return false;
		n = (size_t)(colon - s);
		if (n == 0 || n > PORTAL_IP_MAX)
			return false;
		memcpy(ip, s, n);
		ip[n] = '\0';
		if (!is_ip(ip, AF_INET))
			return false;
	}
	if (colon[1] < '0' || colon[1] > '9')
		return false;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port >= 0 && port <= 65535;
}

/* base64 (padded) of exactly 32 bytes. */
static int
key_req(const json_t *o, const char *k, char out[PORTAL_KEY_MAX + 1])
{
	uint8_t b[32];
	size_t bl = 0;
	int r;

	if ((r = str_req(o, k, out, PORTAL_KEY_MAX + 1)) < 0)
		return r;
	if (strlen(out) != 44 || sodium_base642bin(b, sizeof(b), out, 44,
	    NULL, &bl, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || bl != 32)
		return -EBADMSG;
	return 0;
}

static int
u64_req(const json_t *o, const char *k, uint64_t *out)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EBADMSG;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int
bool_opt(const json_t *o, const char *k, bool dflt, bool *out)
{
	const json_t *v = json_object_get(o, k);

	if (v == NULL || json_is_null(v)) {
		*out = dflt;
		return 0;
	}
	if (!json_is_boolean(v))
		return -EBADMSG;
	*out = json_is_true(v);
	return 0;
}

static int
bool_req(const json_t *o, const char *k, bool *out)
{
	if (!json_is_boolean(json_object_get(o, k)))
		return -EBADMSG;
	return bool_opt(o, k, false, out);
}

/*
 * A list: each element decoded by fn into an array of size-byte elements.
 * Absent or null is empty unless required.  fn returning -EBADMSG or
 * -ENOENT skips the element when skip is set, else fails the list.
 */
typedef int (*elem_fn)(const json_t *, void *, const void *arg);

static int
list_decode(const json_t *o, const char *k, bool required, size_t max,
    size_t size, elem_fn fn, const void *arg, bool skip, void **out,
    size_t *n_out)
{
	const json_t *arr = json_object_get(o, k);
	uint8_t *a = NULL;
	size_t i, n = 0;
	int r;

	*out = NULL;
	*n_out = 0;
	if (arr == NULL || json_is_null(arr))
		return required ? -EBADMSG : 0;
	if (!json_is_array(arr) || json_array_size(arr) > max)
		return -EBADMSG;
	if (json_array_size(arr) == 0)
		return 0;
	if ((a = calloc(json_array_size(arr), size)) == NULL)
		return -ENOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		r = fn(json_array_get(arr, i), a + n * size, arg);
		if (r == 0)
			n++;
		else if (r == -ENOMEM || !skip) {
			/* Elements own nothing on failure; earlier ones may. */
			*out = a;
			*n_out = n;
			return r == -ENOENT ? -EBADMSG : r;
		} else
			memset(a + n * size, 0, size);
	}
	*out = a;
	*n_out = n;
	return 0;
}

/* Encoders: build into an object with a sticky error. */
struct enc {
	json_t	*o;
	int	 err;
};

static void
enc_init(struct enc *e)
{
	e->o = json_object();
	e->err = e->o == NULL ? -ENOMEM : 0;
}

static void
put(struct enc *e, const char *k, json_t *v)
{
	if (v == NULL) {
		if (e->err == 0)
			e->err = -ENOMEM;
		return;
	}
	if (e->err != 0) {
		json_decref(v);
		return;
	}
	/* json_object_set_new releases v itself when it fails. */
	if (json_object_set_new(e->o, k, v) < 0)
		e->err = -ENOMEM;
}

static void
put_str(struct enc *e, const char *k, const char *s)
{
	put(e, k, json_string(s));
}

static void
put_str_or_null(struct enc *e, const char *k, bool present, const char *s)
{
	put(e, k, present ? json_string(s) : json_null());
}

static void
put_u64(struct enc *e, const char *k, uint64_t v)
{
	if (v > (uint64_t)INT64_MAX) {
		e->err = -EINVAL;
		return;
	}
	put(e, k, json_integer((json_int_t)v));
}

static json_t *
enc_done(struct enc *e)
{
	if (e->err != 0) {
		json_decref(e->o);
		return NULL;
	}
	return e->o;
}

typedef json_t *(*elem_enc_fn)(const void *, const void *arg);

static json_t *
list_encode(const void *a, size_t n, size_t size, elem_enc_fn fn,
    const void *arg)
{
	json_t *arr = json_array(), *v;
	size_t i;

	if (arr == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((v = fn((const uint8_t *)a + i * size, arg)) == NULL ||
		    json_array_append_new(arr, v) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

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
	struct enc e;

	if ((unsigned)f->protocol > PORTAL_PROTO_ICMP)
		return NULL;
	enc_init(&e);
	put_str(&e, "protocol", proto_names[f->protocol]);
	if (f->protocol != PORTAL_PROTO_ICMP) {
		put_u64(&e, "port_range_start", f->port_start);
		put_u64(&e, "port_range_end", f->port_end);
	}
	return enc_done(&e);
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
	if ((r = id_req(v, "id", s->id)) < 0 ||
	    (r = str_req(v, "name", s->name, sizeof(s->name))) < 0)
		return r;
	return 0;
}

static json_t *
site_elem_enc(const void *p, const void *arg)
{
	const struct portal_site *s = p;
	struct enc e;

	(void)arg;
	enc_init(&e);
	put_str(&e, "id", s->id);
	put_str(&e, "name", s->name);
	return enc_done(&e);
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
	if (id_req(v, "client_id", d->client_id) < 0 &&
	    (r = id_req(v, "id", d->client_id)) < 0)
		return r;
	if ((r = str_req(v, "ipv4", d->ipv4, sizeof(d->ipv4))) < 0 ||
	    (r = str_req(v, "ipv6", d->ipv6, sizeof(d->ipv6))) < 0)
		return r;
	if (!is_cidr(d->ipv4, &af) || af != AF_INET ||
	    !is_cidr(d->ipv6, &af) || af != AF_INET6)
		return -EBADMSG;
	return 0;
}

static json_t *
device_elem_enc(const void *p, const void *arg)
{
	const struct portal_pool_device *d = p;
	struct enc e;

	(void)arg;
	enc_init(&e);
	put_str(&e, "client_id", d->client_id);
	put_str(&e, "ipv4", d->ipv4);
	put_str(&e, "ipv6", d->ipv6);
	return enc_done(&e);
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
	return list_decode(v, key, true, PORTAL_MAX_LIST,
	    sizeof(struct portal_site), site_elem, NULL, false,
	    (void **)&t->sites, &t->n_sites);
}

static int
filters_decode(const json_t *v, bool required, struct portal_filter **f,
    size_t *n)
{
	return list_decode(v, "filters", required, PORTAL_MAX_LIST,
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
	if ((r = id_req(v, "id", t->id)) < 0)
		return r;
	if (view == PORTAL_VIEW_GATEWAY) {
		if (t->type == PORTAL_RES_INTERNET)
			return 0;
		if ((r = str_req(v, "address", t->address,
		    sizeof(t->address))) < 0 ||
		    (r = str_req(v, "name", t->name, sizeof(t->name))) < 0)
			return r;
		if (t->type == PORTAL_RES_CIDR && !is_cidr(t->address, NULL))
			return -EBADMSG;
		return filters_decode(v, true, &t->filters, &t->n_filters);
	}
	switch (t->type) {
	case PORTAL_RES_DNS:
	case PORTAL_RES_CIDR:
		if ((r = str_req(v, "address", t->address,
		    sizeof(t->address))) < 0 ||
		    (r = str_req(v, "name", t->name, sizeof(t->name))) < 0 ||
		    (r = str_opt(v, "address_description",
		    t->address_description, sizeof(t->address_description),
		    &t->has_address_description)) < 0)
			return r;
		if (t->type == PORTAL_RES_CIDR && !is_cidr(t->address, &af))
			return -EBADMSG;
		if (t->type == PORTAL_RES_DNS) {
			char st[16];

			if ((r = str_opt(v, "ip_stack", st, sizeof(st),
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
		return filters_decode(v, false, &t->filters, &t->n_filters);
	case PORTAL_RES_INTERNET:
		if ((r = str_opt(v, "name", t->name, sizeof(t->name),
		    &present)) < 0 ||
		    (r = bool_opt(v, "can_be_disabled", false,
		    &t->can_be_disabled)) < 0)
			return r;
		if (!present)
			strcpy(t->name, "Internet Resource");
		return sites_decode(v, t);
	case PORTAL_RES_STATIC_DEVICE_POOL:
		if ((r = str_req(v, "name", t->name, sizeof(t->name))) < 0 ||
		    (r = list_decode(v, "devices", false, PORTAL_MAX_LIST,
		    sizeof(struct portal_pool_device), device_elem, NULL, false,
		    (void **)&t->devices, &t->n_devices)) < 0)
			return r;
		return filters_decode(v, false, &t->filters, &t->n_filters);
	case PORTAL_RES_DYNAMIC_DEVICE_POOL:
		if ((r = str_req(v, "name", t->name, sizeof(t->name))) < 0 ||
		    (r = str_req(v, "address", t->address,
		    sizeof(t->address))) < 0)
			return r;
		return filters_decode(v, false, &t->filters, &t->n_filters);
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

static json_t *
filters_enc(const struct portal_filter *f, size_t n)
{
	return list_encode(f, n, sizeof(*f), filter_elem_enc, NULL);
}

json_t *
portal_resource_encode(enum portal_view view, const struct portal_resource *t)
{
	struct enc e;

	if ((unsigned)t->type > PORTAL_RES_DYNAMIC_DEVICE_POOL ||
	    (view == PORTAL_VIEW_GATEWAY && t->type > PORTAL_RES_INTERNET))
		return NULL;
	enc_init(&e);
	put_str(&e, "id", t->id);
	put_str(&e, "type", res_names[t->type]);
	if (view == PORTAL_VIEW_GATEWAY) {
		if (t->type != PORTAL_RES_INTERNET) {
			put_str(&e, "address", t->address);
			put_str(&e, "name", t->name);
			put(&e, "filters", filters_enc(t->filters,
			    t->n_filters));
		}
		return enc_done(&e);
	}
	switch (t->type) {
	case PORTAL_RES_DNS:
	case PORTAL_RES_CIDR:
		put_str(&e, "address", t->address);
		put_str_or_null(&e, "address_description",
		    t->has_address_description, t->address_description);
		put_str(&e, "name", t->name);
		put(&e, "filters", filters_enc(t->filters, t->n_filters));
		put(&e, t->gateway_groups ? "gateway_groups" : "sites",
		    list_encode(t->sites, t->n_sites, sizeof(*t->sites),
		    site_elem_enc, NULL));
		if (t->type == PORTAL_RES_DNS && t->ip_stack !=
		    PORTAL_IP_STACK_NONE && (unsigned)t->ip_stack <= 3)
			put_str(&e, "ip_stack", ip_stack_names[t->ip_stack]);
		break;
	case PORTAL_RES_INTERNET:
		put_str(&e, "name", t->name);
		put(&e, "can_be_disabled", json_boolean(t->can_be_disabled));
		put(&e, t->gateway_groups ? "gateway_groups" : "sites",
		    list_encode(t->sites, t->n_sites, sizeof(*t->sites),
		    site_elem_enc, NULL));
		break;
	case PORTAL_RES_STATIC_DEVICE_POOL:
		put_str(&e, "name", t->name);
		put(&e, "devices", list_encode(t->devices, t->n_devices,
		    sizeof(*t->devices), device_elem_enc, NULL));
		put(&e, "filters", filters_enc(t->filters, t->n_filters));
		break;
	case PORTAL_RES_DYNAMIC_DEVICE_POOL:
		put_str(&e, "name", t->name);
		put_str(&e, "address", t->address);
		put(&e, "filters", filters_enc(t->filters, t->n_filters));
		break;
	}
	return enc_done(&e);
}

static int
resource_elem(const json_t *v, void *out, const void *arg)
{
	return portal_resource_decode(*(const enum portal_view *)arg, v, out);
}

static json_t *
resource_elem_enc(const void *p, const void *arg)
{
	return portal_resource_encode(*(const enum portal_view *)arg, p);
}

static void
resources_free(struct portal_resource *a, size_t n)
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
	if ((r = id_req(v, "id", t.id)) < 0 ||
	    (r = str_req(v, "addr", t.addr, sizeof(t.addr))) < 0)
		return r;
	if (!is_sockaddr(t.addr))
		return -EBADMSG;
	if (t.type == PORTAL_RELAY_TURN &&
	    ((r = str_req(v, "username", t.username,
	    sizeof(t.username))) < 0 ||
	    (r = str_req(v, "password", t.password,
	    sizeof(t.password))) < 0 ||
	    (r = u64_req(v, "expires_at", &t.expires_at)) < 0))
		return r;
	*out = t;
	return 0;
}

json_t *
portal_relay_encode(const struct portal_relay *t)
{
	struct enc e;

	enc_init(&e);
	put_str(&e, "id", t->id);
	put_str(&e, "type", t->type == PORTAL_RELAY_TURN ? "turn" : "stun");
	put_str(&e, "addr", t->addr);
	if (t->type == PORTAL_RELAY_TURN) {
		put_str(&e, "username", t->username);
		put_str(&e, "password", t->password);
		put_u64(&e, "expires_at", t->expires_at);
	}
	return enc_done(&e);
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

static int
relays_decode(const json_t *o, const char *k, bool required,
    struct portal_relay **a, size_t *n)
{
	return list_decode(o, k, required, PORTAL_MAX_LIST,
	    sizeof(struct portal_relay), relay_elem, NULL, true, (void **)a, n);
}

static json_t *
relays_enc(const struct portal_relay *a, size_t n)
{
	return list_encode(a, n, sizeof(*a), relay_elem_enc, NULL);
}

/* Interface (§1.8). */

static int
do53_elem(const json_t *v, void *out, const void *arg)
{
	(void)arg;
	if (!json_is_object(v))
		return -EBADMSG;
	if (ip_req(v, "ip", AF_INET, out) == 0)
		return 0;
	return ip_req(v, "ip", AF_INET6, out);
}

static int
doh_elem(const json_t *v, void *out, const void *arg)
{
	(void)arg;
	if (!json_is_object(v))
		return -EBADMSG;
	return str_req(v, "url", out, PORTAL_URL_MAX + 1);
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
	if ((r = str_req(v, "address", out, PORTAL_IP_MAX + 1)) < 0)
		return r;
	return is_sockaddr(out) ? 0 : -EBADMSG;
}

static json_t *
str_obj_enc(const char *k, const char *v)
{
	struct enc e;

	enc_init(&e);
	put_str(&e, k, v);
	return enc_done(&e);
}

static json_t *
do53_elem_enc(const void *p, const void *arg)
{
	(void)arg;
	return str_obj_enc("ip", p);
}

static json_t *
doh_elem_enc(const void *p, const void *arg)
{
	(void)arg;
	return str_obj_enc("url", p);
}

static json_t *
dns_elem_enc(const void *p, const void *arg)
{
	struct enc e;

	(void)arg;
	enc_init(&e);
	put_str(&e, "protocol", "ip_port");
	put_str(&e, "address", p);
	return enc_done(&e);
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
	if ((r = ip_req(v, "ipv4", AF_INET, t.ipv4)) < 0 ||
	    (r = ip_req(v, "ipv6", AF_INET6, t.ipv6)) < 0)
		return r;
	if (view == PORTAL_VIEW_CLIENT &&
	    ((r = str_opt(v, "search_domain", t.search_domain,
	    sizeof(t.search_domain), &t.has_search_domain)) < 0 ||
	    (r = list_decode(v, "upstream_do53", false, PORTAL_MAX_LIST,
	    sizeof(*t.do53), do53_elem, NULL, false, (void **)&t.do53,
	    &t.n_do53)) < 0 ||
	    (r = list_decode(v, "upstream_doh", false, PORTAL_MAX_LIST,
	    sizeof(*t.doh), doh_elem, NULL, false, (void **)&t.doh,
	    &t.n_doh)) < 0 ||
	    (r = list_decode(v, "upstream_dns", false, PORTAL_MAX_LIST,
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
	struct enc e;

	enc_init(&e);
	put_str(&e, "ipv4", t->ipv4);
	put_str(&e, "ipv6", t->ipv6);
	if (view == PORTAL_VIEW_CLIENT) {
		put_str_or_null(&e, "search_domain", t->has_search_domain,
		    t->search_domain);
		put(&e, "upstream_do53", list_encode(t->do53, t->n_do53,
		    sizeof(*t->do53), do53_elem_enc, NULL));
		put(&e, "upstream_doh", list_encode(t->doh, t->n_doh,
		    sizeof(*t->doh), doh_elem_enc, NULL));
		put(&e, "upstream_dns", list_encode(t->dns, t->n_dns,
		    sizeof(*t->dns), dns_elem_enc, NULL));
	}
	return enc_done(&e);
}

/* Smaller pieces. */

static int
flow_logs_decode(const json_t *o, struct portal_flow_logs *f)
{
	const json_t *v = json_object_get(o, "flow_logs");
	int r;

	if (!json_is_object(v))
		return -EBADMSG;	/* required by connlib */
	if ((r = str_req(v, "api_url", f->api_url, sizeof(f->api_url))) < 0 ||
	    (r = u64_req(v, "upload_interval_secs",
	    &f->upload_interval_secs)) < 0 ||
	    (r = u64_req(v, "upload_batch_size", &f->upload_batch_size)) < 0)
		return r;
	return 0;
}

static json_t *
flow_logs_enc(const struct portal_flow_logs *f)
{
	struct enc e;

	enc_init(&e);
	put_str(&e, "api_url", f->api_url);
	put_u64(&e, "upload_interval_secs", f->upload_interval_secs);
	put_u64(&e, "upload_batch_size", f->upload_batch_size);
	return enc_done(&e);
}

static int
authz_elem(const json_t *v, void *out, const void *arg)
{
	struct portal_authorization *a = out;
	int r;

	(void)arg;
	if (!json_is_object(v))
		return -EBADMSG;
	if ((r = id_req(v, "client_id", a->client_id)) < 0 ||
	    (r = id_req(v, "resource_id", a->resource_id)) < 0 ||
	    (r = u64_req(v, "expires_at", &a->expires_at)) < 0)
		return r;
	return 0;
}

static json_t *
authz_elem_enc(const void *p, const void *arg)
{
	const struct portal_authorization *a = p;
	struct enc e;

	(void)arg;
	enc_init(&e);
	put_str(&e, "client_id", a->client_id);
	put_str(&e, "resource_id", a->resource_id);
	put_u64(&e, "expires_at", a->expires_at);
	return enc_done(&e);
}

static int
id_elem(const json_t *v, void *out, const void *arg)
{
	(void)arg;
	return id_value(v, out);
}

static json_t *
id_elem_enc(const void *p, const void *arg)
{
	(void)arg;
	return json_string(p);
}

static int
cand_elem(const json_t *v, void *out, const void *arg)
{
	size_t n;

	(void)arg;
	if (!json_is_string(v) || (n = json_string_length(v)) > PORTAL_CAND_MAX
	    || n == 0 || memchr(json_string_value(v), '\0', n) != NULL)
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
	if ((r = str_req(v, "username", p->username,
	    sizeof(p->username))) < 0 ||
	    (r = str_req(v, "password", p->password,
	    sizeof(p->password))) < 0)
		return r;
	return 0;
}

static json_t *
ice_enc(const struct portal_ice_pair *p)
{
	struct enc e;

	enc_init(&e);
	put_str(&e, "username", p->username);
	put_str(&e, "password", p->password);
	return enc_done(&e);
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
	if ((r = list_decode(p, "resources", false, PORTAL_MAX_RESOURCES,
	    sizeof(struct portal_resource), resource_elem, &view, true,
	    (void **)&t->resources, &t->n_resources)) < 0 ||
	    (r = relays_decode(p, "relays", false, &t->relays,
	    &t->n_relays)) < 0 ||
	    (r = list_decode(p, "authorizations", false, PORTAL_MAX_LIST,
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
	struct enc e;

	enc_init(&e);
	put(&e, "interface", portal_interface_encode(PORTAL_VIEW_CLIENT,
	    &t->interface));
	put(&e, "resources", list_encode(t->resources, t->n_resources,
	    sizeof(*t->resources), resource_elem_enc, &view));
	put(&e, "relays", relays_enc(t->relays, t->n_relays));
	put(&e, "authorizations", list_encode(t->authorizations,
	    t->n_authorizations, sizeof(*t->authorizations), authz_elem_enc,
	    NULL));
	put(&e, "flow_logs", flow_logs_enc(&t->flow_logs));
	return enc_done(&e);
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
	struct enc e;

	enc_init(&e);
	put(&e, "interface", portal_interface_encode(PORTAL_VIEW_CLIENT,
	    &m->u.config_changed));
	return enc_done(&e);
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
	return id_value(p, m->u.resource_deleted);	/* a bare string */
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

	if ((r = list_decode(p, "disconnected_ids", true, PORTAL_MAX_LIST,
	    sizeof(portal_id), id_elem, NULL, true,
	    (void **)&t->disconnected_ids, &t->n_disconnected)) < 0)
		return r;
	return relays_decode(p, "connected", true, &t->connected,
	    &t->n_connected);
}

static json_t *
enc_relays_presence(const struct portal_msg *m)
{
	const struct portal_relays_presence *t = &m->u.relays_presence;
	struct enc e;

	enc_init(&e);
	put(&e, "disconnected_ids", list_encode(t->disconnected_ids,
	    t->n_disconnected, sizeof(portal_id), id_elem_enc, NULL));
	put(&e, "connected", relays_enc(t->connected, t->n_connected));
	return enc_done(&e);
}

static int
dec_authorization_created(const json_t *p, struct portal_msg *m)
{
	struct portal_authorization_created *t = &m->u.authorization_created;
	int r;

	if ((r = id_req(p, "resource_id", t->resource_id)) < 0 ||
	    (r = id_req(p, "gateway_id", t->gateway_id)) < 0 ||
	    (r = key_req(p, "gateway_public_key", t->gateway_public_key)) < 0 ||
	    (r = ip_req(p, "gateway_ipv4", AF_INET, t->gateway_ipv4)) < 0 ||
	    (r = ip_req(p, "gateway_ipv6", AF_INET6, t->gateway_ipv6)) < 0 ||
	    (r = key_req(p, "preshared_key", t->preshared_key)) < 0 ||
	    (r = ice_decode(p, "client_ice_credentials", &t->client_ice)) < 0 ||
	    (r = ice_decode(p, "gateway_ice_credentials",
	    &t->gateway_ice)) < 0 ||
	    (r = bool_opt(p, "use_iceless", false, &t->use_iceless)) < 0)
		return r;
	/* "gateway_group_id", alias "site_id". */
	t->gateway_group_id = json_object_get(p, "gateway_group_id") != NULL;
	if ((r = id_req(p, t->gateway_group_id ? "gateway_group_id" :
	    "site_id", t->site_id)) < 0)
		return r;
	return str_dup_req(p, "flow_logs_ingest_token", PORTAL_TOKEN_MAX,
	    &t->flow_logs_ingest_token);
}

static json_t *
enc_authorization_created(const struct portal_msg *m)
{
	const struct portal_authorization_created *t =
	    &m->u.authorization_created;
	struct enc e;

	if (t->flow_logs_ingest_token == NULL)
		return NULL;
	enc_init(&e);
	put_str(&e, "resource_id", t->resource_id);
	put_str(&e, "gateway_id", t->gateway_id);
	put_str(&e, t->gateway_group_id ? "gateway_group_id" : "site_id",
	    t->site_id);
	put_str(&e, "gateway_public_key", t->gateway_public_key);
	put_str(&e, "gateway_ipv4", t->gateway_ipv4);
	put_str(&e, "gateway_ipv6", t->gateway_ipv6);
	put_str(&e, "preshared_key", t->preshared_key);
	put(&e, "client_ice_credentials", ice_enc(&t->client_ice));
	put(&e, "gateway_ice_credentials", ice_enc(&t->gateway_ice));
	put(&e, "use_iceless", json_boolean(t->use_iceless));
	put_str(&e, "flow_logs_ingest_token", t->flow_logs_ingest_token);
	return enc_done(&e);
}

static int
dec_authorization_creation_failed(const json_t *p, struct portal_msg *m)
{
	struct portal_authorization_creation_failed *t =
	    &m->u.authorization_creation_failed;
	int r;

	if ((r = id_req(p, "resource_id", t->resource_id)) < 0 ||
	    (r = str_req(p, "reason", t->reason, sizeof(t->reason))) < 0)
		return r;
	return list_decode(p, "violated_properties", false, PORTAL_MAX_LIST,
	    sizeof(*t->violated), short_elem, NULL, true,
	    (void **)&t->violated, &t->n_violated);
}

static json_t *
enc_authorization_creation_failed(const struct portal_msg *m)
{
	const struct portal_authorization_creation_failed *t =
	    &m->u.authorization_creation_failed;
	struct enc e;

	enc_init(&e);
	put_str(&e, "resource_id", t->resource_id);
	put_str(&e, "reason", t->reason);
	if (t->n_violated > 0)
		put(&e, "violated_properties", list_encode(t->violated,
		    t->n_violated, sizeof(*t->violated), cand_elem_enc, NULL));
	return enc_done(&e);
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
		if ((r = list_decode(p, s->key, true, PORTAL_MAX_LIST,
		    sizeof(portal_id), id_elem, NULL, true, (void **)&t->ids,
		    &t->n_ids)) < 0)
			return r;
	} else {
		if ((t->ids = calloc(1, sizeof(portal_id))) == NULL)
			return -ENOMEM;
		if ((r = id_req(p, s->key, t->ids[0])) < 0)
			return r;
		t->n_ids = 1;
	}
	return list_decode(p, "candidates", true, PORTAL_MAX_LIST,
	    sizeof(*t->candidates), cand_elem, NULL, true,
	    (void **)&t->candidates, &t->n_candidates);
}

static json_t *
enc_candidates(const struct portal_msg *m, const struct cand_shape *s)
{
	const struct portal_candidates *t = &m->u.candidates;
	struct enc e;

	if (!s->many && t->n_ids != 1)
		return NULL;
	enc_init(&e);
	if (s->many)
		put(&e, s->key, list_encode(t->ids, t->n_ids,
		    sizeof(portal_id), id_elem_enc, NULL));
	else
		put_str(&e, s->key, t->ids[0]);
	put(&e, "candidates", list_encode(t->candidates, t->n_candidates,
	    sizeof(*t->candidates), cand_elem_enc, NULL));
	return enc_done(&e);
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

	if ((r = id_req(p, "id", t->id)) < 0)
		return r;
	return filters_decode(p, true, &t->filters, &t->n_filters);
}

static json_t *
enc_filters_updated(const struct portal_msg *m)
{
	const struct portal_filters_updated *t = &m->u.filters_updated;
	struct enc e;

	enc_init(&e);
	put_str(&e, "id", t->id);
	put(&e, "filters", filters_enc(t->filters, t->n_filters));
	return enc_done(&e);
}

static int
dec_reject_access(const json_t *p, struct portal_msg *m)
{
	int r;

	if ((r = id_req(p, "client_id", m->u.reject_access.client_id)) < 0)
		return r;
	return id_req(p, "resource_id", m->u.reject_access.resource_id);
}

static json_t *
enc_reject_access(const struct portal_msg *m)
{
	struct enc e;

	enc_init(&e);
	put_str(&e, "client_id", m->u.reject_access.client_id);
	put_str(&e, "resource_id", m->u.reject_access.resource_id);
	return enc_done(&e);
}

static int
dec_disconnect(const json_t *p, struct portal_msg *m)
{
	return str_req(p, "reason", m->u.disconnect_reason,
	    sizeof(m->u.disconnect_reason));
}

static json_t *
enc_disconnect(const struct portal_msg *m)
{
	return str_obj_enc("reason", m->u.disconnect_reason);
}

static int
dec_request_authorization(const json_t *p, struct portal_msg *m)
{
	struct portal_request_authorization *t = &m->u.request_authorization;
	int r;

	if ((r = id_req(p, "resource_id", t->resource_id)) < 0 ||
	    (r = list_decode(p, "connected_gateway_ids", false,
	    PORTAL_MAX_LIST, sizeof(portal_id), id_elem, NULL, true,
	    (void **)&t->connected_gateway_ids,
	    &t->n_connected_gateway_ids)) < 0 ||
	    (r = ip_opt(p, "ipv4", AF_INET, t->ipv4)) < 0 ||
	    (r = ip_opt(p, "ipv6", AF_INET6, t->ipv6)) < 0)
		return r;
	return 0;
}

static json_t *
enc_request_authorization(const struct portal_msg *m)
{
	const struct portal_request_authorization *t =
	    &m->u.request_authorization;
	struct enc e;

	enc_init(&e);
	put_str(&e, "resource_id", t->resource_id);
	put(&e, "connected_gateway_ids", list_encode(t->connected_gateway_ids,
	    t->n_connected_gateway_ids, sizeof(portal_id), id_elem_enc, NULL));
	if (t->ipv4[0] != '\0')
		put_str(&e, "ipv4", t->ipv4);
	if (t->ipv6[0] != '\0')
		put_str(&e, "ipv6", t->ipv6);
	return enc_done(&e);
}

static int
dec_capabilities(const json_t *p, struct portal_msg *m)
{
	return bool_opt(p, "iceless", false, &m->u.iceless);
}

static json_t *
enc_capabilities(const struct portal_msg *m)
{
	struct enc e;

	enc_init(&e);
	put(&e, "iceless", json_boolean(m->u.iceless));
	return enc_done(&e);
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
	    (r = bool_req(cfg, "ipv4_masquerade_enabled",
	    &t->ipv4_masquerade)) < 0 ||
	    (r = bool_req(cfg, "ipv6_masquerade_enabled",
	    &t->ipv6_masquerade)) < 0)
		return -EBADMSG;
	if ((r = relays_decode(p, "relays", false, &t->relays,
	    &t->n_relays)) < 0 ||
	    (r = str_opt(p, "account_slug", t->account_slug,
	    sizeof(t->account_slug), &t->has_account_slug)) < 0 ||
	    (r = list_decode(p, "authorizations", false, PORTAL_MAX_LIST,
	    sizeof(struct portal_authorization), authz_elem, NULL, true,
	    (void **)&t->authorizations, &t->n_authorizations)) < 0)
		return r;
	return flow_logs_decode(p, &t->flow_logs);
}

static json_t *
enc_gateway_init(const struct portal_msg *m)
{
	const struct portal_gateway_init *t = &m->u.gateway_init;
	struct enc e, c;

	enc_init(&c);
	put(&c, "ipv4_masquerade_enabled", json_boolean(t->ipv4_masquerade));
	put(&c, "ipv6_masquerade_enabled", json_boolean(t->ipv6_masquerade));
	enc_init(&e);
	put(&e, "interface", portal_interface_encode(PORTAL_VIEW_GATEWAY,
	    &t->interface));
	put(&e, "config", enc_done(&c));
	put(&e, "relays", relays_enc(t->relays, t->n_relays));
	put_str_or_null(&e, "account_slug", t->has_account_slug,
	    t->account_slug);
	put(&e, "authorizations", list_encode(t->authorizations,
	    t->n_authorizations, sizeof(*t->authorizations), authz_elem_enc,
	    NULL));
	put(&e, "flow_logs", flow_logs_enc(&t->flow_logs));
	return enc_done(&e);
}

static int
dec_create_authorization(const json_t *p, struct portal_msg *m)
{
	struct portal_create_authorization *t = &m->u.create_authorization;
	const json_t *cl = json_object_get(p, "client");
	const json_t *ex = json_object_get(p, "expires_at");
	int r;

	if ((r = str_dup_req(p, "ref", PORTAL_TOKEN_MAX, &t->ref)) < 0)
		return r;
	r = portal_resource_decode(PORTAL_VIEW_GATEWAY,
	    json_object_get(p, "resource"), &t->resource);
	if (r < 0)
		return r == -ENOMEM ? r : -EBADMSG;
	if (!json_is_object(cl) ||
	    (r = id_req(cl, "id", t->client.id)) < 0 ||
	    (r = key_req(cl, "public_key", t->client.public_key)) < 0 ||
	    (r = key_req(cl, "preshared_key", t->client.preshared_key)) < 0 ||
	    (r = ip_req(cl, "ipv4", AF_INET, t->client.ipv4)) < 0 ||
	    (r = ip_req(cl, "ipv6", AF_INET6, t->client.ipv6)) < 0 ||
	    (r = str_opt(cl, "version", t->client.version,
	    sizeof(t->client.version), NULL)) < 0)
		return -EBADMSG;
	if ((r = ice_decode(p, "gateway_ice_credentials",
	    &t->gateway_ice)) < 0 ||
	    (r = ice_decode(p, "client_ice_credentials", &t->client_ice)) < 0 ||
	    (r = bool_opt(p, "use_iceless", false, &t->use_iceless)) < 0)
		return r;
	if (ex != NULL && !json_is_null(ex)) {
		if ((r = u64_req(p, "expires_at", &t->expires_at)) < 0)
			return r;
		t->has_expires_at = true;
	}
	return str_dup_req(p, "flow_logs_ingest_token", PORTAL_TOKEN_MAX,
	    &t->flow_logs_ingest_token);
}

static json_t *
enc_create_authorization(const struct portal_msg *m)
{
	const struct portal_create_authorization *t =
	    &m->u.create_authorization;
	struct enc e, c;

	if (t->ref == NULL || t->flow_logs_ingest_token == NULL)
		return NULL;
	enc_init(&c);
	put_str(&c, "id", t->client.id);
	put_str(&c, "public_key", t->client.public_key);
	put_str(&c, "preshared_key", t->client.preshared_key);
	put_str(&c, "ipv4", t->client.ipv4);
	put_str(&c, "ipv6", t->client.ipv6);
	if (t->client.version[0] != '\0')
		put_str(&c, "version", t->client.version);
	enc_init(&e);
	put_str(&e, "ref", t->ref);
	put(&e, "resource", portal_resource_encode(PORTAL_VIEW_GATEWAY,
	    &t->resource));
	put(&e, "client", enc_done(&c));
	put(&e, "gateway_ice_credentials", ice_enc(&t->gateway_ice));
	put(&e, "client_ice_credentials", ice_enc(&t->client_ice));
	if (t->has_expires_at)
		put_u64(&e, "expires_at", t->expires_at);
	else
		put(&e, "expires_at", json_null());
	put(&e, "use_iceless", json_boolean(t->use_iceless));
	put_str(&e, "flow_logs_ingest_token", t->flow_logs_ingest_token);
	return enc_done(&e);
}

static int
dec_gateway_authorization_created(const json_t *p, struct portal_msg *m)
{
	return str_dup_req(p, "ref", PORTAL_TOKEN_MAX, &m->u.ref);
}

static json_t *
enc_gateway_authorization_created(const struct portal_msg *m)
{
	if (m->u.ref == NULL)
		return NULL;
	return str_obj_enc("ref", m->u.ref);
}

static int
dec_relay_join(const json_t *p, struct portal_msg *m)
{
	return str_req(p, "stamp_secret", m->u.stamp_secret,
	    sizeof(m->u.stamp_secret));
}

static json_t *
enc_relay_join(const struct portal_msg *m)
{
	return str_obj_enc("stamp_secret", m->u.stamp_secret);
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
		resources_free(m->u.client_init.resources,
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
		if (defs[i].chan == chan && (strcmp(defs[i].event, event) == 0 ||
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
