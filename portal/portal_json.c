/* SPDX-License-Identifier: ISC */
/*
 * Bounded JSON field readers and encoders shared by the portal views and
 * messages (portal_json.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "creds.h"
#include "portal_json.h"
#include "portal_msg.h"

/* Field readers: 0 or -EBADMSG; absent optional fields leave "" / 0. */

int
pj_str_opt(const json_t *o, const char *k, char *buf, size_t cap, bool *present)
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

int
pj_str_req(const json_t *o, const char *k, char *buf, size_t cap)
{
	bool present;
	int r;

	if ((r = pj_str_opt(o, k, buf, cap, &present)) < 0)
		return r;
	return present ? 0 : -EBADMSG;
}

/* A required string of any length up to max, malloc'd. */
int
pj_str_dup_req(const json_t *o, const char *k, size_t max, char **out)
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

int
pj_id_value(const json_t *v, portal_id out)
{
	uint8_t u[16];

	if (!json_is_string(v) || json_string_length(v) > 45 ||
	    portal_uuid_parse(json_string_value(v), u) < 0)
		return -EBADMSG;
	portal_uuid_format(u, out);
	return 0;
}

int
pj_id_req(const json_t *o, const char *k, portal_id out)
{
	return pj_id_value(json_object_get(o, k), out);
}

bool
pj_is_ip(const char *s, int af)
{
	uint8_t b[16];

	return inet_pton(af, s, b) == 1;
}

int
pj_ip_req(const json_t *o, const char *k, int af, char out[PORTAL_IP_MAX + 1])
{
	int r;

	if ((r = pj_str_req(o, k, out, PORTAL_IP_MAX + 1)) < 0)
		return r;
	return pj_is_ip(out, af) ? 0 : -EBADMSG;
}

int
pj_ip_opt(const json_t *o, const char *k, int af, char out[PORTAL_IP_MAX + 1])
{
	bool present;
	int r;

	if ((r = pj_str_opt(o, k, out, PORTAL_IP_MAX + 1, &present)) < 0)
		return r;
	return !present || pj_is_ip(out, af) ? 0 : -EBADMSG;
}

/* "a.b.c.d/n" or "x::y/n" (a bare address is a host prefix, as ip_network
   parses it). */
bool
pj_is_cidr(const char *s, int *af_out)
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
	if (pj_is_ip(ip, AF_INET))
		af = AF_INET;
	else if (pj_is_ip(ip, AF_INET6))
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
bool
pj_is_sockaddr(const char *s)
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
		if (!pj_is_ip(ip, AF_INET6))
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
		if (!pj_is_ip(ip, AF_INET))
			return false;
	}
	if (colon[1] < '0' || colon[1] > '9')
		return false;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port >= 0 && port <= 65535;
}

/* base64 (padded) of exactly 32 bytes. */
int
pj_key_req(const json_t *o, const char *k, char out[PORTAL_KEY_MAX + 1])
{
	uint8_t b[32];
	size_t bl = 0;
	int r;

	if ((r = pj_str_req(o, k, out, PORTAL_KEY_MAX + 1)) < 0)
		return r;
	if (strlen(out) != 44 || sodium_base642bin(b, sizeof(b), out, 44,
	    NULL, &bl, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || bl != 32)
		return -EBADMSG;
	return 0;
}

int
pj_u64_req(const json_t *o, const char *k, uint64_t *out)
{
	const json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EBADMSG;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int
pj_bool_opt(const json_t *o, const char *k, bool dflt, bool *out)
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

int
pj_bool_req(const json_t *o, const char *k, bool *out)
{
	if (!json_is_boolean(json_object_get(o, k)))
		return -EBADMSG;
	return pj_bool_opt(o, k, false, out);
}

/*
 * A list: each element decoded by fn into an array of size-byte elements.
 * Absent or null is empty unless required.  fn returning -EBADMSG or
 * -ENOENT skips the element when skip is set, else fails the list.
 */
int
pj_list_decode(const json_t *o, const char *k, bool required, size_t max,
    size_t size, pj_elem_fn fn, const void *arg, bool skip, void **out,
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

void
pj_enc_init(struct pj_enc *e)
{
	e->o = json_object();
	e->err = e->o == NULL ? -ENOMEM : 0;
}

void
pj_put(struct pj_enc *e, const char *k, json_t *v)
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

void
pj_put_str(struct pj_enc *e, const char *k, const char *s)
{
	pj_put(e, k, json_string(s));
}

void
pj_put_str_or_null(struct pj_enc *e, const char *k, bool present, const char *s)
{
	pj_put(e, k, present ? json_string(s) : json_null());
}

void
pj_put_u64(struct pj_enc *e, const char *k, uint64_t v)
{
	if (v > (uint64_t)INT64_MAX) {
		e->err = -EINVAL;
		return;
	}
	pj_put(e, k, json_integer((json_int_t)v));
}

json_t *
pj_enc_done(struct pj_enc *e)
{
	if (e->err != 0) {
		json_decref(e->o);
		return NULL;
	}
	return e->o;
}

json_t *
pj_list_encode(const void *a, size_t n, size_t size, pj_elem_enc_fn fn,
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

json_t *
pj_str_obj_enc(const char *k, const char *v)
{
	struct pj_enc e;

	pj_enc_init(&e);
	pj_put_str(&e, k, v);
	return pj_enc_done(&e);
}
