/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's JSON configuration.  jansson checks the syntax (and gives
 * the line of a syntax error); the semantic checks below track the key
 * path they are at ("resources[1].filters[0].ports") and find its line by
 * walking the already validated text again, since jansson keeps no
 * positions for values.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "creds.h"

#define MAX_CONFIG_BYTES	(4u << 20)
#define MAX_DEPTH		8

struct comp {
	const char	*key;	/* NULL: array index */
	size_t		 idx;
};

struct ctx {
	const char	*path;
	const char	*text;
	size_t		 len;
	char		*err;
	size_t		 errlen;
	struct comp	 comps[MAX_DEPTH];
	int		 n;
};

/* ---- locating a key path in the validated text ---- */

static size_t
skip_ws(const char *t, size_t len, size_t i)
{
	while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' ||
	    t[i] == '\r'))
		i++;
	return i;
}

/* i at '"': returns the index after the closing quote. */
static size_t
skip_string(const char *t, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (t[i] == '\\')
			i++;
		else if (t[i] == '"')
			return i + 1;
	}
	return len;
}

static size_t
skip_value(const char *t, size_t len, size_t i)
{
	size_t depth = 0;

	i = skip_ws(t, len, i);
	while (i < len) {
		char c = t[i];

		if (c == '"') {
			i = skip_string(t, len, i);
			if (depth == 0)
				return i;
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']') {
			if (depth == 0)
				return i;	/* end of the enclosing value */
			if (--depth == 0)
				return i + 1;
		} else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' ||
		    c == '\t' || c == '\r'))
			return i;
		i++;
	}
	return len;
}

/* Offset of the value at comps[0..n) below the value at i, or len. */
static size_t
locate(const char *t, size_t len, size_t i, const struct comp *c, int n)
{
	for (int k = 0; k < n; k++) {
		i = skip_ws(t, len, i);
		if (i >= len)
			return len;
		if (c[k].key != NULL) {
			size_t klen = strlen(c[k].key);
			bool found = false;

			if (t[i] != '{')
				return len;
			i++;
			while (!found) {
				size_t ks;

				i = skip_ws(t, len, i);
				if (i >= len || t[i] != '"')
					return len;
				ks = i + 1;
				i = skip_string(t, len, i);
				found = i - 1 - ks == klen &&
				    memcmp(t + ks, c[k].key, klen) == 0;
				i = skip_ws(t, len, i);
				if (i >= len || t[i] != ':')
					return len;
				i = skip_ws(t, len, i + 1);
				if (found)
					break;
				i = skip_ws(t, len, skip_value(t, len, i));
				if (i >= len || t[i] != ',')
					return len;
				i++;
			}
		} else {
			if (t[i] != '[')
				return len;
			i++;
			for (size_t j = 0; j < c[k].idx; j++) {
				i = skip_ws(t, len, skip_value(t, len, i));
				if (i >= len || t[i] != ',')
					return len;
				i++;
			}
			i = skip_ws(t, len, i);
		}
	}
	return i;
}

static unsigned
line_of(const char *t, size_t len, size_t off)
{
	unsigned line = 1;

	if (off >= len)
		return 0;
	for (size_t i = 0; i < off; i++)
		if (t[i] == '\n')
			line++;
	return line;
}

static void
key_path(const struct ctx *c, int n, char *buf, size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int k = 0; k < n && o < cap; k++) {
		int w;

		if (c->comps[k].key != NULL)
			w = snprintf(buf + o, cap - o, "%s%s", o ? "." : "",
			    c->comps[k].key);
		else
			w = snprintf(buf + o, cap - o, "[%zu]",
			    c->comps[k].idx);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	if (o == 0)
		snprintf(buf, cap, "(top level)");
}

static int __attribute__((format(printf, 2, 3)))
fail(struct ctx *c, const char *fmt, ...)
{
	char key[256], msg[256];
	unsigned line = 0;
	va_list ap;

	/* The deepest prefix of the path present in the text gives the line. */
	for (int n = c->n; n >= 0 && line == 0; n--)
		line = line_of(c->text, c->len,
		    locate(c->text, c->len, 0, c->comps, n));
	key_path(c, c->n, key, sizeof(key));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s:%u: %s: %s", c->path, line, key, msg);
	return -EINVAL;
}

static void
push_key(struct ctx *c, const char *key)
{
	if (c->n < MAX_DEPTH)
		c->comps[c->n] = (struct comp){ key, 0 };
	c->n++;
}

static void
push_idx(struct ctx *c, size_t idx)
{
	if (c->n < MAX_DEPTH)
		c->comps[c->n] = (struct comp){ NULL, idx };
	c->n++;
}

static void
pop(struct ctx *c)
{
	c->n--;
}

/* ---- UUIDs ---- */

/* "kind:name" in fz-portald's namespace (creds.h, UUID version 5). */
int
pd_uuid_from_name(const char *kind, const char *name,
    char out[PD_UUID_LEN + 1])
{
	size_t n = strlen(kind) + 1 + strlen(name) + 1;
	char *s = malloc(n);
	int r;

	if (s == NULL)
		return -ENOMEM;
	snprintf(s, n, "%s:%s", kind, name);
	r = portal_uuid_from_name(portal_uuid_ns_fz, s, out);
	free(s);
	return r;
}

int
pd_uuid_valid(const char *s)
{
	if (strlen(s) != PD_UUID_LEN)
		return 0;
	for (int i = 0; i < PD_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* ---- typed getters ---- */

static int
check_keys(struct ctx *c, json_t *obj, const char *const *allowed)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return fail(c, "must be an object");
	json_object_foreach(obj, k, v) {
		bool ok = false;

		(void)v;
		for (size_t i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				ok = true;
		if (!ok) {
			int r;

			push_key(c, k);
			r = fail(c, "unknown key");
			pop(c);
			return r;
		}
	}
	return 0;
}

static bool
printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* A string member: NULL result when absent (or null) and not required. */
static int
get_str(struct ctx *c, json_t *obj, const char *key, bool required,
    char **out)
{
	json_t *v = json_object_get(obj, key);
	int r = 0;

	*out = NULL;
	push_key(c, key);
	if (v == NULL || json_is_null(v)) {
		if (required)
			r = fail(c, "missing");
	} else if (!json_is_string(v))
		r = fail(c, "must be a string");
	else if (json_string_length(v) == 0)
		r = fail(c, "must not be empty");
	else if (strlen(json_string_value(v)) != json_string_length(v) ||
	    !printable(json_string_value(v)))
		r = fail(c, "must not contain control characters");
	else if ((*out = strdup(json_string_value(v))) == NULL)
		r = -ENOMEM;
	pop(c);
	return r;
}

static int
get_token(struct ctx *c, json_t *obj, const char *key, bool required,
    char **out)
{
	int r = get_str(c, obj, key, required, out);

	if (r == 0 && *out != NULL)
		for (const char *p = *out; *p; p++)
			if (isspace((unsigned char)*p)) {
				push_key(c, key);
				r = fail(c, "a token cannot contain spaces");
				pop(c);
				free(*out);
				*out = NULL;
				break;
			}
	return r;
}

static int
get_id(struct ctx *c, json_t *obj, const char *kind, const char *name,
    char id[PD_UUID_LEN + 1])
{
	char *s;
	int r = get_str(c, obj, "id", false, &s);

	if (r)
		return r;
	if (s == NULL)
		return pd_uuid_from_name(kind, name, id);
	if (!pd_uuid_valid(s)) {
		free(s);
		push_key(c, "id");
		r = fail(c, "not a UUID");
		pop(c);
		return r;
	}
	for (int i = 0; i < PD_UUID_LEN; i++)
		id[i] = (char)tolower((unsigned char)s[i]);
	id[PD_UUID_LEN] = '\0';
	free(s);
	return 0;
}

/* An array member; *arr is NULL (size 0) when absent and not required. */
static int
get_array(struct ctx *c, json_t *obj, const char *key, bool required,
    json_t **arr)
{
	json_t *v = json_object_get(obj, key);
	int r = 0;

	*arr = NULL;
	push_key(c, key);
	if (v == NULL || json_is_null(v)) {
		if (required)
			r = fail(c, "missing");
	} else if (!json_is_array(v))
		r = fail(c, "must be an array");
	else
		*arr = v;
	pop(c);
	return r;
}

static bool
valid_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* "a.b.c.d/n", "v6/n" or a single address (/32, /128); host bits zero. */
static int
parse_cidr(const char *s, char **norm)
{
	char ip[INET6_ADDRSTRLEN + 1], out[INET6_ADDRSTRLEN + 16];
	const char *slash = strchr(s, '/');
	unsigned char b[16];
	int fam, bits, maxbits;
	size_t iplen = slash ? (size_t)(slash - s) : strlen(s);

	if (iplen == 0 || iplen >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, iplen);
	ip[iplen] = '\0';
	if (inet_pton(AF_INET, ip, b) == 1)
		fam = AF_INET, maxbits = 32;
	else if (inet_pton(AF_INET6, ip, b) == 1)
		fam = AF_INET6, maxbits = 128;
	else
		return -EINVAL;
	bits = maxbits;
	if (slash != NULL) {
		const char *p = slash + 1;

		if (*p == '\0' || strlen(p) > 3)
			return -EINVAL;
		bits = 0;
		for (; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			bits = bits * 10 + (*p - '0');
		}
		if (bits > maxbits)
			return -EINVAL;
	}
	for (int i = bits; i < maxbits; i++)
		if (b[i / 8] & (0x80 >> (i % 8)))
			return -ERANGE;	/* host bits set */
	inet_ntop(fam, b, ip, sizeof(ip));
	snprintf(out, sizeof(out), "%s/%d", ip, bits);
	return (*norm = strdup(out)) ? 0 : -ENOMEM;
}

/*
 * A DNS resource pattern as the Firezone portal accepts it: labels of
 * letters, digits, '-' and '_', with '*' / '**' wildcard labels and '?'
 * single-character wildcards; at most 253 characters.
 */
static bool
valid_pattern(const char *s)
{
	size_t len = strlen(s), lab = 0;
	bool any_plain = false;

	if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i <= len; i++) {
		char ch = s[i];

		if (ch == '.' || ch == '\0') {
			if (lab == 0 || lab > 63)
				return false;
			lab = 0;
			continue;
		}
		if (ch == '*') {
			/* '*' and '**' only as a whole label */
			size_t st = i;

			while (s[i + 1] == '*')
				i++;
			if (i - st > 1 || (st > 0 && s[st - 1] != '.') ||
			    (s[i + 1] != '.' && s[i + 1] != '\0'))
				return false;
			lab = i - st + 1;
			continue;
		}
		if (!isalnum((unsigned char)ch) && ch != '-' && ch != '_' &&
		    ch != '?')
			return false;
		if (isalpha((unsigned char)ch))
			any_plain = true;
		lab++;
	}
	return any_plain;
}

static int
parse_u16(const char *s, const char *end, uint16_t *out)
{
	unsigned long v = 0;

	if (s == end || end - s > 5)
		return -EINVAL;
	for (; s < end; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > 65535)
		return -ERANGE;
	*out = (uint16_t)v;
	return 0;
}

/* "80" or "1000-2000" */
static int
parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	const char *dash = strchr(s, '-');
	const char *end = s + strlen(s);

	if (dash == NULL) {
		if (parse_u16(s, end, lo))
			return -EINVAL;
		*hi = *lo;
		return 0;
	}
	if (parse_u16(s, dash, lo) || parse_u16(dash + 1, end, hi) ||
	    *lo > *hi)
		return -EINVAL;
	return 0;
}

/* "1.2.3.4:3478" or "[2001:db8::1]:3478" */
static int
parse_hostport(const char *s, int *family)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *colon, *start = s;
	unsigned char b[16];
	uint16_t port;
	size_t n;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return -EINVAL;
		start = s + 1;
		n = (size_t)(rb - start);
		colon = rb + 1;
		*family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -EINVAL;
		n = (size_t)(colon - s);
		*family = AF_INET;
	}
	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, start, n);
	ip[n] = '\0';
	if (inet_pton(*family, ip, b) != 1)
		return -EINVAL;
	if (parse_u16(colon + 1, colon + 1 + strlen(colon + 1), &port) ||
	    port == 0)
		return -EINVAL;
	return 0;
}

/* ---- sections ---- */

static int
parse_account(struct ctx *c, json_t *root, struct pd_config *cfg)
{
	static const char *const keys[] =
	    { "slug", "search_domain", "upstream_do53", NULL };
	json_t *acc = json_object_get(root, "account"), *arr, *v;
	size_t i;
	int r;

	push_key(c, "account");
	if (acc == NULL) {
		r = fail(c, "missing");
		goto out;
	}
	if ((r = check_keys(c, acc, keys)) ||
	    (r = get_str(c, acc, "slug", true, &cfg->slug)) ||
	    (r = get_str(c, acc, "search_domain", false, &cfg->search_domain)))
		goto out;
	if (cfg->search_domain != NULL && !valid_pattern(cfg->search_domain)) {
		push_key(c, "search_domain");
		r = fail(c, "not a domain name");
		pop(c);
		goto out;
	}
	if (cfg->search_domain != NULL && strpbrk(cfg->search_domain, "*?")) {
		push_key(c, "search_domain");
		r = fail(c, "not a domain name");
		pop(c);
		goto out;
	}
	if ((r = get_array(c, acc, "upstream_do53", false, &arr)) || !arr)
		goto out;
	cfg->upstream_do53 = calloc(json_array_size(arr) + 1, sizeof(char *));
	if (cfg->upstream_do53 == NULL) {
		r = -ENOMEM;
		goto out;
	}
	push_key(c, "upstream_do53");
	json_array_foreach(arr, i, v) {
		push_idx(c, i);
		if (!json_is_string(v) || !valid_ip(json_string_value(v)))
			r = fail(c, "must be an IP address string");
		else if (!(cfg->upstream_do53[i] =
		    strdup(json_string_value(v))))
			r = -ENOMEM;
		pop(c);
		if (r)
			break;
		cfg->nupstream++;
	}
	pop(c);
out:
	pop(c);
	return r;
}

static int
parse_turn(struct ctx *c, json_t *root, struct pd_config *cfg)
{
	static const char *const keys[] = { "addr", "secret", NULL };
	json_t *arr, *v;
	size_t i;
	int r;

	if ((r = get_array(c, root, "turn_servers", false, &arr)) || !arr)
		return r;
	if (!(cfg->turn = calloc(json_array_size(arr) + 1, sizeof(*cfg->turn))))
		return -ENOMEM;
	push_key(c, "turn_servers");
	json_array_foreach(arr, i, v) {
		struct pd_turn *t = &cfg->turn[i];

		push_idx(c, i);
		cfg->nturn++;
		if ((r = check_keys(c, v, keys)) ||
		    (r = get_str(c, v, "addr", true, &t->addr)) ||
		    (r = get_str(c, v, "secret", true, &t->secret)))
			break;
		if (parse_hostport(t->addr, &t->family)) {
			push_key(c, "addr");
			r = fail(c, "must be IP:PORT or [IPv6]:PORT");
			pop(c);
			break;
		}
		if ((r = pd_uuid_from_name("turn", t->addr, t->id)))
			break;
		pop(c);
	}
	if (r)
		pop(c);
	pop(c);
	return r;
}

static int
dup_name(struct ctx *c, const char *what, bool dup)
{
	int r = 0;

	if (dup) {
		push_key(c, what);
		r = fail(c, "duplicate");
		pop(c);
	}
	return r;
}

static int
parse_sites(struct ctx *c, json_t *root, struct pd_config *cfg)
{
	static const char *const keys[] =
	    { "name", "gateway_token", "id", NULL };
	json_t *arr, *v;
	size_t i;
	int r;

	if ((r = get_array(c, root, "sites", false, &arr)) || !arr)
		return r;
	if (!(cfg->sites = calloc(json_array_size(arr) + 1,
	    sizeof(*cfg->sites))))
		return -ENOMEM;
	push_key(c, "sites");
	json_array_foreach(arr, i, v) {
		struct pd_site *s = &cfg->sites[i];
		bool dn = false, di = false;

		push_idx(c, i);
		cfg->nsites++;
		if ((r = check_keys(c, v, keys)) ||
		    (r = get_str(c, v, "name", true, &s->name)) ||
		    (r = get_token(c, v, "gateway_token", true,
		    &s->gateway_token)) ||
		    (r = get_id(c, v, "site", s->name, s->id)))
			break;
		for (size_t j = 0; j < i; j++) {
			dn |= strcmp(cfg->sites[j].name, s->name) == 0;
			di |= strcmp(cfg->sites[j].id, s->id) == 0;
		}
		if ((r = dup_name(c, "name", dn)) ||
		    (r = dup_name(c, "id", di)))
			break;
		pop(c);
	}
	if (r)
		pop(c);
	pop(c);
	return r;
}

static int
parse_filter(struct ctx *c, json_t *v, struct pd_filter *f)
{
	static const char *const keys[] = { "protocol", "ports", NULL };
	char *proto = NULL, *ports = NULL;
	int r;

	if ((r = check_keys(c, v, keys)) ||
	    (r = get_str(c, v, "protocol", true, &proto)) ||
	    (r = get_str(c, v, "ports", false, &ports)))
		goto out;
	f->port_start = 0;
	f->port_end = 65535;
	if (strcmp(proto, "tcp") == 0)
		f->protocol = PD_PROTO_TCP;
	else if (strcmp(proto, "udp") == 0)
		f->protocol = PD_PROTO_UDP;
	else if (strcmp(proto, "icmp") == 0)
		f->protocol = PD_PROTO_ICMP;
	else {
		push_key(c, "protocol");
		r = fail(c, "must be \"tcp\", \"udp\" or \"icmp\"");
		pop(c);
		goto out;
	}
	if (ports == NULL)
		goto out;
	push_key(c, "ports");
	if (f->protocol == PD_PROTO_ICMP)
		r = fail(c, "icmp has no ports");
	else if (parse_ports(ports, &f->port_start, &f->port_end))
		r = fail(c, "must be \"N\" or \"N-M\" with N <= M <= 65535");
	pop(c);
out:
	free(proto);
	free(ports);
	return r;
}

static int
parse_resources(struct ctx *c, json_t *root, struct pd_config *cfg)
{
	static const char *const keys[] =
	    { "name", "type", "address", "site", "filters", "id", NULL };
	json_t *arr, *v, *farr, *fv;
	size_t i, k;
	int r;

	if ((r = get_array(c, root, "resources", false, &arr)) || !arr)
		return r;
	if (!(cfg->resources = calloc(json_array_size(arr) + 1,
	    sizeof(*cfg->resources))))
		return -ENOMEM;
	push_key(c, "resources");
	json_array_foreach(arr, i, v) {
		struct pd_resource *res = &cfg->resources[i];
		char *type = NULL, *addr = NULL, *site = NULL;
		bool dn = false, di = false, found = false;

		push_idx(c, i);
		cfg->nresources++;
		if ((r = check_keys(c, v, keys)) ||
		    (r = get_str(c, v, "name", true, &res->name)) ||
		    (r = get_str(c, v, "type", true, &type)) ||
		    (r = get_str(c, v, "address", false, &addr)) ||
		    (r = get_str(c, v, "site", true, &site)) ||
		    (r = get_id(c, v, "resource", res->name, res->id)))
			goto next;
		for (size_t j = 0; j < i; j++) {
			dn |= strcmp(cfg->resources[j].name, res->name) == 0;
			di |= strcmp(cfg->resources[j].id, res->id) == 0;
		}
		if ((r = dup_name(c, "name", dn)) ||
		    (r = dup_name(c, "id", di)))
			goto next;
		for (size_t j = 0; j < cfg->nsites && !found; j++)
			if (strcmp(cfg->sites[j].name, site) == 0) {
				res->site = j;
				found = true;
			}
		if (!found) {
			push_key(c, "site");
			r = fail(c, "unknown site \"%.64s\"", site);
			pop(c);
			goto next;
		}
		push_key(c, "type");
		if (strcmp(type, "cidr") == 0)
			res->type = PD_RES_CIDR;
		else if (strcmp(type, "dns") == 0)
			res->type = PD_RES_DNS;
		else if (strcmp(type, "internet") == 0)
			res->type = PD_RES_INTERNET;
		else
			r = fail(c,
			    "must be \"cidr\", \"dns\" or \"internet\"");
		pop(c);
		if (r)
			goto next;
		push_key(c, "address");
		if (res->type == PD_RES_INTERNET) {
			if (addr != NULL)
				r = fail(c, "an internet resource has none");
		} else if (addr == NULL)
			r = fail(c, "missing");
		else if (res->type == PD_RES_CIDR) {
			r = parse_cidr(addr, &res->address);
			if (r == -EINVAL)
				r = fail(c, "not a CIDR");
			else if (r == -ERANGE)
				r = fail(c, "host bits set in the CIDR");
		} else if (!valid_pattern(addr))
			r = fail(c, "not a DNS name or pattern");
		else if (!(res->address = strdup(addr)))
			r = -ENOMEM;
		pop(c);
		if (r || (r = get_array(c, v, "filters", false, &farr)) ||
		    !farr)
			goto next;
		if (res->type == PD_RES_INTERNET) {
			push_key(c, "filters");
			r = fail(c, "an internet resource has none");
			pop(c);
			goto next;
		}
		res->filters = calloc(json_array_size(farr) + 1,
		    sizeof(*res->filters));
		if (res->filters == NULL) {
			r = -ENOMEM;
			goto next;
		}
		push_key(c, "filters");
		json_array_foreach(farr, k, fv) {
			push_idx(c, k);
			r = parse_filter(c, fv, &res->filters[k]);
			pop(c);
			if (r)
				break;
			res->nfilters++;
		}
		pop(c);
next:
		free(type);
		free(addr);
		free(site);
		if (r)
			break;
		pop(c);
	}
	if (r)
		pop(c);
	pop(c);
	return r;
}

static int
parse_clients(struct ctx *c, json_t *root, struct pd_config *cfg)
{
	static const char *const keys[] =
	    { "name", "token", "groups", "id", NULL };
	json_t *arr, *v, *garr, *g;
	size_t i, k;
	int r;

	if ((r = get_array(c, root, "clients", false, &arr)) || !arr)
		return r;
	if (!(cfg->clients = calloc(json_array_size(arr) + 1,
	    sizeof(*cfg->clients))))
		return -ENOMEM;
	push_key(c, "clients");
	json_array_foreach(arr, i, v) {
		struct pd_client *cl = &cfg->clients[i];
		bool dn = false, di = false;

		push_idx(c, i);
		cfg->nclients++;
		if ((r = check_keys(c, v, keys)) ||
		    (r = get_str(c, v, "name", true, &cl->name)) ||
		    (r = get_token(c, v, "token", true, &cl->token)) ||
		    (r = get_id(c, v, "client", cl->name, cl->id)))
			break;
		for (size_t j = 0; j < i; j++) {
			dn |= strcmp(cfg->clients[j].name, cl->name) == 0;
			di |= strcmp(cfg->clients[j].id, cl->id) == 0;
		}
		if ((r = dup_name(c, "name", dn)) ||
		    (r = dup_name(c, "id", di)) ||
		    (r = get_array(c, v, "groups", false, &garr)))
			break;
		cl->groups = calloc((garr ? json_array_size(garr) : 0) + 1,
		    sizeof(char *));
		if (cl->groups == NULL) {
			r = -ENOMEM;
			break;
		}
		if (garr != NULL) {
			push_key(c, "groups");
			json_array_foreach(garr, k, g) {
				push_idx(c, k);
				if (!json_is_string(g) ||
				    json_string_length(g) == 0 ||
				    !printable(json_string_value(g)))
					r = fail(c, "must be a group name");
				else if (!(cl->groups[k] =
				    strdup(json_string_value(g))))
					r = -ENOMEM;
				pop(c);
				if (r)
					break;
				cl->ngroups++;
			}
			pop(c);
			if (r)
				break;
		}
		pop(c);
	}
	if (r)
		pop(c);
	pop(c);
	return r;
}

static bool
group_exists(const struct pd_config *cfg, const char *g)
{
	for (size_t i = 0; i < cfg->nclients; i++)
		for (size_t k = 0; k < cfg->clients[i].ngroups; k++)
			if (strcmp(cfg->clients[i].groups[k], g) == 0)
				return true;
	return false;
}

static int
parse_policies(struct ctx *c, json_t *root, struct pd_config *cfg)
{
	static const char *const keys[] = { "group", "resource", NULL };
	json_t *arr, *v;
	size_t i;
	int r;

	if ((r = get_array(c, root, "policies", false, &arr)) || !arr)
		return r;
	if (!(cfg->policies = calloc(json_array_size(arr) + 1,
	    sizeof(*cfg->policies))))
		return -ENOMEM;
	push_key(c, "policies");
	json_array_foreach(arr, i, v) {
		struct pd_policy *p = &cfg->policies[i];
		char *res = NULL;
		bool found = false;

		push_idx(c, i);
		cfg->npolicies++;
		if ((r = check_keys(c, v, keys)) ||
		    (r = get_str(c, v, "group", true, &p->group)) ||
		    (r = get_str(c, v, "resource", true, &res)))
			goto next;
		if (!group_exists(cfg, p->group)) {
			push_key(c, "group");
			r = fail(c, "no client is in group \"%.64s\"",
			    p->group);
			pop(c);
			goto next;
		}
		for (size_t j = 0; j < cfg->nresources && !found; j++)
			if (strcmp(cfg->resources[j].name, res) == 0) {
				p->resource = j;
				found = true;
			}
		if (!found) {
			push_key(c, "resource");
			r = fail(c, "unknown resource \"%.64s\"", res);
			pop(c);
		}
next:
		free(res);
		if (r)
			break;
		pop(c);
	}
	if (r)
		pop(c);
	pop(c);
	return r;
}

/* Every token names exactly one principal. */
static int
check_tokens(struct ctx *c, struct pd_config *cfg)
{
	const char *tok[1 + cfg->nsites + cfg->nclients];
	size_t n = 0;

	if (cfg->relay_token)
		tok[n++] = cfg->relay_token;
	for (size_t i = 0; i < cfg->nsites; i++)
		tok[n++] = cfg->sites[i].gateway_token;
	for (size_t i = 0; i < cfg->nclients; i++)
		tok[n++] = cfg->clients[i].token;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(tok[i], tok[j]) == 0) {
				/* i is the later one: find its key path */
				size_t k = i;

				if (cfg->relay_token && k-- == 0)
					return 0;
				if (k < cfg->nsites) {
					push_key(c, "sites");
					push_idx(c, k);
					push_key(c, "gateway_token");
				} else {
					push_key(c, "clients");
					push_idx(c, k - cfg->nsites);
					push_key(c, "token");
				}
				return fail(c, "token already used above");
			}
	return 0;
}

int
pd_config_parse(const char *path, const char *text, size_t len,
    struct pd_config **out, char *err, size_t errlen)
{
	static const char *const keys[] = { "account", "relay_token",
	    "turn_servers", "sites", "resources", "clients", "policies", NULL };
	struct ctx c = { path, text, len, err, errlen, { { 0 } }, 0 };
	struct pd_config *cfg;
	json_error_t je;
	json_t *root;
	int r;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
		return -EINVAL;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) != NULL)
		cfg->refs = 1;
	if (cfg == NULL || (cfg->path = strdup(path)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = check_keys(&c, root, keys)) ||
	    (r = parse_account(&c, root, cfg)) ||
	    (r = get_token(&c, root, "relay_token", false,
	    &cfg->relay_token)) ||
	    (r = parse_turn(&c, root, cfg)) ||
	    (r = parse_sites(&c, root, cfg)) ||
	    (r = parse_resources(&c, root, cfg)) ||
	    (r = parse_clients(&c, root, cfg)) ||
	    (r = parse_policies(&c, root, cfg)) ||
	    (r = check_tokens(&c, cfg)))
		goto out;
	*out = cfg;
	cfg = NULL;
out:
	if (r == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
	pd_config_free(cfg);
	json_decref(root);
	return r;
}

int
pd_config_load(const char *path, struct pd_config **out, char *err,
    size_t errlen)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st)) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_CONFIG_BYTES) {
		snprintf(err, errlen, "%s: not a regular file of at most %u "
		    "bytes", path, MAX_CONFIG_BYTES);
		close(fd);
		return -EINVAL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
			free(buf);
			close(fd);
			return r;
		}
		off += (size_t)n;
	}
	close(fd);
	r = pd_config_parse(path, buf, off, out, err, errlen);
	free(buf);
	return r;
}

static void
free_strv(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct pd_config *
pd_config_ref(struct pd_config *cfg)
{
	cfg->refs++;
	return cfg;
}

void
pd_config_free(struct pd_config *cfg)
{
	if (cfg == NULL || --cfg->refs > 0)
		return;
	free(cfg->path);
	free(cfg->slug);
	free(cfg->search_domain);
	free_strv(cfg->upstream_do53, cfg->nupstream + 1);
	free(cfg->relay_token);
	for (size_t i = 0; cfg->turn && i < cfg->nturn; i++) {
		free(cfg->turn[i].addr);
		free(cfg->turn[i].secret);
	}
	free(cfg->turn);
	for (size_t i = 0; cfg->sites && i < cfg->nsites; i++) {
		free(cfg->sites[i].name);
		free(cfg->sites[i].gateway_token);
	}
	free(cfg->sites);
	for (size_t i = 0; cfg->resources && i < cfg->nresources; i++) {
		free(cfg->resources[i].name);
		free(cfg->resources[i].address);
		free(cfg->resources[i].filters);
	}
	free(cfg->resources);
	for (size_t i = 0; cfg->clients && i < cfg->nclients; i++) {
		free(cfg->clients[i].name);
		free(cfg->clients[i].token);
		free_strv(cfg->clients[i].groups, cfg->clients[i].ngroups + 1);
	}
	free(cfg->clients);
	for (size_t i = 0; cfg->policies && i < cfg->npolicies; i++)
		free(cfg->policies[i].group);
	free(cfg->policies);
	free(cfg);
}

const struct pd_resource *
pd_config_resource(const struct pd_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->nresources; i++)
		if (strcasecmp(cfg->resources[i].id, id) == 0)
			return &cfg->resources[i];
	return NULL;
}

const struct pd_site *
pd_config_site(const struct pd_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->nsites; i++)
		if (strcasecmp(cfg->sites[i].id, id) == 0)
			return &cfg->sites[i];
	return NULL;
}

int
pd_config_allowed(const struct pd_config *cfg, const struct pd_client *cl,
    const struct pd_resource *res)
{
	size_t ri = (size_t)(res - cfg->resources);

	for (size_t i = 0; i < cfg->npolicies; i++) {
		if (cfg->policies[i].resource != ri)
			continue;
		for (size_t k = 0; k < cl->ngroups; k++)
			if (strcmp(cl->groups[k], cfg->policies[i].group) == 0)
				return 1;
	}
	return 0;
}
