/* SPDX-License-Identifier: ISC */
/*
 * What a portal connection needs besides the channel (phx_client.h): the
 * WebSocket URL (§1.1, §1.2), the X-Authorization header, the
 * User-Agent, Retry-After values and problem+json bodies.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <time.h>

#include <sodium.h>

#include "creds.h"
#include "phx_client.h"

/* URLs (§1.1, §1.2). */

static const char *const paths[] = {
	[PHX_CLIENT] = "client/v2/websocket",
	[PHX_GATEWAY] = "gateway/v2/websocket",
	[PHX_RELAY] = "relay/websocket",
};

const char *
portal_component_token(enum phx_component comp)
{
	switch (comp) {
	case PHX_CLIENT:
		return "headless-client";
	case PHX_GATEWAY:
		return "gateway";
	case PHX_RELAY:
		return "relay";
	}
	return NULL;
}

static const char *
component_version(enum phx_component comp)
{
	switch (comp) {
	case PHX_CLIENT:
		return FZ_FIREZONE_CLIENT_VERSION;
	case PHX_GATEWAY:
		return FZ_FIREZONE_GATEWAY_VERSION;
	case PHX_RELAY:
		return FZ_FIREZONE_RELAY_VERSION;
	}
	return NULL;
}

/* A growable string with a sticky error. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
	int	 err;
};

static void
sb_putn(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t cap;

	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 128;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

/* application/x-www-form-urlencoded, as Rust's url::form_urlencoded. */
static void
sb_form(struct sbuf *b, const char *s)
{
	static const char hx[] = "0123456789ABCDEF";
	char pct[3];
	unsigned char ch;

	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if (isalnum(ch) || ch == '*' || ch == '-' || ch == '.' ||
		    ch == '_')
			sb_putn(b, s, 1);
		else if (ch == ' ')
			sb_puts(b, "+");
		else {
			pct[0] = '%';
			pct[1] = hx[ch >> 4];
			pct[2] = hx[ch & 15];
			sb_putn(b, pct, 3);
		}
	}
}

static void
sb_param(struct sbuf *b, bool *first, const char *key, const char *val)
{
	if (val == NULL)
		return;
	sb_puts(b, *first ? "?" : "&");
	*first = false;
	sb_form(b, key);
	sb_puts(b, "=");
	sb_form(b, val);
}

struct url_parts {
	bool		tls;
	const char	*host;
	size_t		hostlen;
	long		port;		/* -1: none */
	const char	*path;		/* up to '?' or '#' */
	size_t		pathlen;
	const char	*rest;		/* '?'... or '#'... or "" */
};

/* scheme://host[:port][/path][?query][#frag], without user info. */
static int
url_parse(const char *url, bool ws_only, struct url_parts *u)
{
	static const struct { const char *s; bool tls, ws; } schemes[] = {
		{ "ws://", false, true }, { "wss://", true, true },
		{ "http://", false, false }, { "https://", true, false },
	};
	const char *p = NULL, *h, *end;
	size_t i;
	char *e;

	if (url == NULL)
		return -EINVAL;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (ws_only && !schemes[i].ws)
			continue;
		if (strncasecmp(url, schemes[i].s, strlen(schemes[i].s)) == 0) {
			p = url + strlen(schemes[i].s);
			u->tls = schemes[i].tls;
			break;
		}
	}
	if (p == NULL)
		return -EINVAL;
	end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return -EINVAL;
	h = p;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));

		if (rb == NULL)
			return -EINVAL;
		u->host = h + 1;
		u->hostlen = (size_t)(rb - h - 1);
		p = rb + 1;
	} else {
		p = memchr(h, ':', (size_t)(end - h));
		if (p == NULL)
			p = end;
		u->host = h;
		u->hostlen = (size_t)(p - h);
	}
	if (u->hostlen == 0 || u->hostlen > 253)
		return -EINVAL;
	for (i = 0; i < u->hostlen; i++) {
		unsigned char ch = (unsigned char)u->host[i];

		if (ch <= 0x20 || ch >= 0x7f || strchr("\"<>\\^`{|}%", ch))
			return -EINVAL;
	}
	u->port = -1;
	if (p < end) {
		if (*p != ':' || p + 1 == end || !isdigit((unsigned char)p[1]))
			return -EINVAL;
		errno = 0;
		u->port = strtol(p + 1, &e, 10);
		if (errno != 0 || e != end || u->port < 1 || u->port > 65535)
			return -EINVAL;
	}
	u->path = end;
	u->pathlen = strcspn(end, "?#");
	u->rest = end + u->pathlen;
	for (i = 0; i < u->pathlen; i++)
		if ((unsigned char)u->path[i] <= 0x20 ||
		    (unsigned char)u->path[i] >= 0x7f)
			return -EINVAL;
	return 0;
}

int
portal_url_build(const char *api_url, enum phx_component comp,
    const struct portal_params *pp, char **out_url)
{
	struct sbuf b = { 0 };
	struct url_parts u;
	char *ext = NULL, port[8], hostl[256];
	size_t i, plen;
	bool first = true;
	int r;

	if (pp == NULL || (unsigned)comp > PHX_RELAY)
		return -EINVAL;
	if ((r = url_parse(api_url, false, &u)) < 0)
		return r;
	if (comp == PHX_RELAY) {
		if (pp->ipv4 == NULL && pp->ipv6 == NULL)
			return -EINVAL;
	} else if (pp->external_id == NULL || pp->public_key == NULL)
		return -EINVAL;
	for (i = 0; i < u.hostlen; i++)
		hostl[i] = (char)tolower((unsigned char)u.host[i]);
	hostl[u.hostlen] = '\0';

	sb_puts(&b, u.tls ? "wss://" : "ws://");
	if (memchr(hostl, ':', u.hostlen) != NULL) {
		sb_puts(&b, "[");
		sb_puts(&b, hostl);
		sb_puts(&b, "]");
	} else
		sb_puts(&b, hostl);
	/* The scheme's default port is implied (url crate). */
	if (u.port != -1 && u.port != (u.tls ? 443 : 80)) {
		snprintf(port, sizeof(port), ":%ld", u.port);
		sb_puts(&b, port);
	}
	/* The path kept, its trailing empty segment popped (§1.1). */
	plen = u.pathlen;
	if (plen > 0 && u.path[plen - 1] == '/')
		plen--;
	if (plen > 0 && u.path[0] != '/')
		sb_puts(&b, "/");
	sb_putn(&b, u.path, plen);
	sb_puts(&b, "/");
	sb_puts(&b, paths[comp]);

	if (comp != PHX_RELAY) {
		if ((r = portal_external_id(pp->external_id, &ext)) < 0) {
			free(b.p);
			return r;
		}
		sb_param(&b, &first, "external_id", ext);
		free(ext);
		sb_param(&b, &first, "name", pp->name);
	} else {
		sb_param(&b, &first, "name", pp->name);
		sb_param(&b, &first, "ipv4", pp->ipv4);
		sb_param(&b, &first, "ipv6", pp->ipv6);
		snprintf(port, sizeof(port), "%u",
		    pp->port != 0 ? pp->port : 3478);
		sb_param(&b, &first, "port", port);
	}
	sb_param(&b, &first, "device_serial", pp->device_serial);
	sb_param(&b, &first, "device_uuid", pp->device_uuid);
	sb_param(&b, &first, "identifier_for_vendor",
	    pp->identifier_for_vendor);
	sb_param(&b, &first, "firebase_installation_id",
	    pp->firebase_installation_id);
	if (comp != PHX_RELAY)
		sb_param(&b, &first, "public_key", pp->public_key);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out_url = b.p;
	return 0;
}

int
portal_url_split(const char *url, bool *tls, char **host, uint16_t *port,
    char **path_query)
{
	struct url_parts u;
	char *h, *pq;
	size_t n;
	int r;

	if ((r = url_parse(url, true, &u)) < 0)
		return r;
	if ((h = strndup(u.host, u.hostlen)) == NULL)
		return -ENOMEM;
	/* Path and query, without a fragment; "/" at least. */
	n = u.pathlen + strcspn(u.rest, "#");
	if (u.pathlen == 0) {
		if (asprintf(&pq, "/%.*s", (int)(n - u.pathlen), u.rest) < 0)
			pq = NULL;
	} else
		pq = strndup(u.path, n);
	if (pq == NULL) {
		free(h);
		return -ENOMEM;
	}
	*tls = u.tls;
	*host = h;
	*port = (uint16_t)(u.port != -1 ? u.port : (u.tls ? 443 : 80));
	*path_query = pq;
	return 0;
}

int
portal_auth_header(const char *token, char **out)
{
	static const char prefix[] = "X-Authorization: Bearer ";
	size_t i, n = 0, len, size;
	char *h;

	if (token == NULL)
		return -EINVAL;
	len = strlen(token);
	size = sizeof(prefix) + len;
	if ((h = malloc(size)) == NULL)
		return -ENOMEM;
	memcpy(h, prefix, sizeof(prefix) - 1);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)token[i];

		if (isspace(ch))
			continue;
		if (ch < 0x20 || ch == 0x7f)
			goto bad;
		h[sizeof(prefix) - 1 + n++] = (char)ch;
	}
	if (n == 0)
		goto bad;
	h[sizeof(prefix) - 1 + n] = '\0';
	*out = h;
	return 0;
bad:
	sodium_memzero(h, size);
	free(h);
	return -EINVAL;
}

void
portal_auth_header_free(char *h)
{
	if (h == NULL)
		return;
	sodium_memzero(h, strlen(h));
	free(h);
}

long
portal_retry_after_parse(const char *v, long long now)
{
	struct tm tm;
	const char *end;
	char *e;
	long long t;
	long s;

	if (v == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		errno = 0;
		s = strtol(v, &e, 10);
		while (*e == ' ' || *e == '\t')
			e++;
		if (errno != 0 || *e != '\0')
			return -1;
		return s;
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	t = (long long)timegm(&tm);
	if (t <= now)
		return 0;
	return t - now > LONG_MAX ? LONG_MAX : (long)(t - now);
}

char *
portal_problem_json(int status, const char *title, const char *detail,
    const char *code)
{
	json_t *o;
	char *s = NULL;
	int bad = 0;

	if (title == NULL || (o = json_object()) == NULL)
		return NULL;
	bad |= json_object_set_new(o, "type", json_string("about:blank"));
	bad |= json_object_set_new(o, "title", json_string(title));
	bad |= json_object_set_new(o, "status", json_integer(status));
	if (detail != NULL)
		bad |= json_object_set_new(o, "detail", json_string(detail));
	if (code != NULL)
		bad |= json_object_set_new(o, "code", json_string(code));
	if (!bad)
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

/* Keeps a UA token free of spaces, slashes and controls. */
static void
sb_token(struct sbuf *b, const char *s, const char *dflt)
{
	char ch;

	if (s == NULL || *s == '\0')
		s = dflt;
	for (; *s != '\0'; s++) {
		ch = *s;
		if ((unsigned char)ch <= 0x20 || (unsigned char)ch >= 0x7f ||
		    ch == '/' || ch == '(' || ch == ')' || ch == ';')
			ch = '_';
		sb_putn(b, &ch, 1);
	}
}

char *
portal_user_agent_fmt(enum phx_component comp, const char *os,
    const char *os_version, const char *arch, const char *kernel)
{
	struct sbuf b = { 0 };

	if (portal_component_token(comp) == NULL)
		return NULL;
	sb_token(&b, os, "Linux");
	sb_puts(&b, "/");
	sb_token(&b, os_version, "unknown");
	sb_puts(&b, " ");
	sb_puts(&b, portal_component_token(comp));
	sb_puts(&b, "/");
	sb_puts(&b, component_version(comp));
	sb_puts(&b, " (");
	sb_token(&b, arch, "unknown");
	sb_puts(&b, "; ");
	sb_token(&b, kernel, "unknown");
	sb_puts(&b, ")");
	if (b.err) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* The value of KEY= in os-release, unquoted, into out. */
static void
os_release_get(const char *text, const char *key, char *out, size_t outlen)
{
	const char *p = text, *v;
	size_t kl = strlen(key), n;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			v = p + kl + 1;
			if (*v == '"' || *v == '\'')
				v++;
			n = strcspn(v, "\"'\n");
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
}

char *
portal_user_agent(enum phx_component comp)
{
	struct utsname un;
	char text[4096], name[64], ver[64];
	size_t n = 0;
	FILE *f;

	text[0] = '\0';
	if ((f = fopen("/etc/os-release", "re")) != NULL ||
	    (f = fopen("/usr/lib/os-release", "re")) != NULL) {
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	os_release_get(text, "NAME", name, sizeof(name));
	name[strcspn(name, " ")] = '\0';	/* "Debian GNU/Linux" */
	os_release_get(text, "VERSION_ID", ver, sizeof(ver));
	if (uname(&un) < 0)
		memset(&un, 0, sizeof(un));
	return portal_user_agent_fmt(comp, name, ver, un.machine, un.release);
}
