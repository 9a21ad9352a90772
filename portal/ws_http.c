/* SPDX-License-Identifier: ISC */
/*
 * The pure parts of portal/ws: HTTP/1.1 heads (RFC 9112 §2-§5, strict),
 * ws:// URLs, query decoding, Retry-After (RFC 9110 §10.2.3) and the
 * Sec-WebSocket-Accept derivation (RFC 6455 §4.2.2).  No I/O.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* RFC 9110 §5.6.2 tchar */
static bool
is_tchar(unsigned char c)
{
	if (isalnum(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB / obs-text */
static bool
is_field_char(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static const char *
find_header(const struct ws_http_hdr *hdr, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcasecmp(hdr[i].name, name) == 0)
			return hdr[i].value;
	return NULL;
}

const char *
ws_http_req_header(const struct ws_http_req *req, const char *name)
{
	return find_header(req->hdr, req->nhdr, name);
}

const char *
ws_http_resp_header(const struct ws_http_resp *resp, const char *name)
{
	return find_header(resp->hdr, resp->nhdr, name);
}

/* Headers whose repetition would make the message ambiguous. */
static const char *const singletons[] = {
	"host", "content-length", "transfer-encoding", "upgrade",
	"sec-websocket-key", "sec-websocket-accept", "sec-websocket-version",
	"x-authorization", "authorization", "retry-after", NULL,
};

static bool
is_singleton(const char *name)
{
	for (size_t i = 0; singletons[i] != NULL; i++)
		if (strcasecmp(name, singletons[i]) == 0)
			return true;
	return false;
}

/* Length of the head (through CRLFCRLF) or -EAGAIN / -EMSGSIZE. */
static int
head_length(const char *data, size_t len)
{
	size_t lim = len < WS_MAX_HTTP_HEADER ? len : WS_MAX_HTTP_HEADER;

	for (size_t i = 3; i < lim; i++)
		if (data[i] == '\n' && data[i - 1] == '\r' &&
		    data[i - 2] == '\n' && data[i - 3] == '\r')
			return (int)(i + 1);
	return len < WS_MAX_HTTP_HEADER ? -EAGAIN : -EMSGSIZE;
}

/*
 * Splits the copy of a head into NUL-terminated lines: returns the start of
 * the header lines after the start line, checking that every line ends in
 * CRLF, with no bare CR/LF and no NUL inside.  buf has n bytes (the head).
 */
static int
split_head(char *buf, size_t n, char **first_line, char **headers)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\0')
			return -EBADMSG;
		if (buf[i] == '\r') {
			if (i + 1 >= n || buf[i + 1] != '\n')
				return -EBADMSG;
			buf[i] = '\0';
			buf[++i] = '\0';
		} else if (buf[i] == '\n')
			return -EBADMSG;
	}
	buf[n] = '\0';
	*first_line = buf;
	*headers = buf + strlen(buf) + 2;
	return 0;
}

/* Parses header lines from p (each NUL-terminated, empty line ends). */
static int
parse_headers(char *p, const char *end, struct ws_http_hdr *hdr,
    unsigned *nhdr)
{
	unsigned n = 0;

	while (p < end && *p != '\0') {
		char *line = p, *colon, *v, *e;

		p += strlen(line) + 2;
		colon = line;
		while (is_tchar((unsigned char)*colon))
			colon++;
		if (colon == line || *colon != ':')
			return -EBADMSG;	/* also rejects obs-fold */
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		for (e = v; *e != '\0'; e++)
			if (!is_field_char((unsigned char)*e))
				return -EBADMSG;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (is_singleton(line) && find_header(hdr, n, line) != NULL)
			return -EBADMSG;
		if (n == WS_MAX_HTTP_HEADERS)
			return -EMSGSIZE;
		hdr[n].name = line;
		hdr[n].value = v;
		n++;
	}
	*nhdr = n;
	return 0;
}

static int
parse_version(const char *s, int *minor)
{
	if (strncmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1'))
		return -EBADMSG;
	*minor = s[7] - '0';
	return 0;
}

bool
ws_http_has_token(const char *value, const char *token)
{
	size_t tl = strlen(token);
	const char *p = value;

	while (p != NULL && *p != '\0') {
		const char *e;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		e = p;
		while (*e != '\0' && *e != ',')
			e++;
		size_t l = (size_t)(e - p);
		while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
			l--;
		if (l == tl && strncasecmp(p, token, tl) == 0)
			return true;
		p = e;
	}
	return false;
}

static bool
valid_ws_key(const char *key)
{
	unsigned char raw[32];
	int n;

	if (key == NULL || strlen(key) != 24)
		return false;
	n = EVP_DecodeBlock(raw, (const unsigned char *)key, 24);
	/* 24 base64 chars with "==" decode to 16 bytes (+2 padding). */
	return n == 18 && key[22] == '=' && key[23] == '=';
}

int
ws_http_parse_request(const char *data, size_t len, struct ws_http_req *out)
{
	/* Parsed into a private copy so *out is written only on success. */
	static __thread struct ws_http_req tmp;
	struct ws_http_req *r = &tmp;
	char *line, *hdrs, *sp1, *sp2, *q;
	const char *v;
	int hl, rc;

	if ((hl = head_length(data, len)) < 0)
		return hl;
	memset(r, 0, offsetof(struct ws_http_req, buf));
	memcpy(r->buf, data, (size_t)hl);
	if ((rc = split_head(r->buf, (size_t)hl, &line, &hdrs)) < 0)
		return rc;

	/* request-line = method SP request-target SP HTTP-version */
	if ((sp1 = strchr(line, ' ')) == NULL || sp1 == line)
		return -EBADMSG;
	*sp1 = '\0';
	for (char *c = line; *c != '\0'; c++)
		if (!is_tchar((unsigned char)*c))
			return -EBADMSG;
	if ((sp2 = strchr(sp1 + 1, ' ')) == NULL)
		return -EBADMSG;
	*sp2 = '\0';
	if (sp1[1] != '/')
		return -EBADMSG;	/* origin-form only */
	for (char *c = sp1 + 1; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f ||
		    *c == '#')
			return -EBADMSG;
	if (parse_version(sp2 + 1, &r->http_minor) < 0 || sp2[9] != '\0')
		return -EBADMSG;
	r->method = line;
	r->path = sp1 + 1;
	if ((q = strchr(sp1 + 1, '?')) != NULL) {
		*q = '\0';
		r->query = q + 1;
	} else
		r->query = sp2 + 9;	/* the "" after the version */

	if ((rc = parse_headers(hdrs, r->buf + hl, r->hdr, &r->nhdr)) < 0)
		return rc;
	if (r->http_minor == 1 && ws_http_req_header(r, "host") == NULL)
		return -EBADMSG;	/* RFC 9112 §3.2 */

	/* RFC 6455 §4.2.1 */
	r->upgrade = strcmp(r->method, "GET") == 0 && r->http_minor == 1 &&
	    (v = ws_http_req_header(r, "upgrade")) != NULL &&
	    ws_http_has_token(v, "websocket") &&
	    (v = ws_http_req_header(r, "connection")) != NULL &&
	    ws_http_has_token(v, "upgrade") &&
	    (v = ws_http_req_header(r, "sec-websocket-version")) != NULL &&
	    strcmp(v, "13") == 0 &&
	    valid_ws_key(ws_http_req_header(r, "sec-websocket-key"));

	/* Copy out and rebase the pointers into out->buf. */
	memcpy(out, r, offsetof(struct ws_http_req, buf));
	memcpy(out->buf, r->buf, (size_t)hl + 1);
#define REBASE(p) ((p) = out->buf + ((p) - r->buf))
	REBASE(out->method);
	REBASE(out->path);
	REBASE(out->query);
	for (unsigned i = 0; i < out->nhdr; i++) {
		REBASE(out->hdr[i].name);
		REBASE(out->hdr[i].value);
	}
	out->peer = NULL;
	out->peer_len = 0;
	return hl;
}

int
ws_http_parse_response(const char *data, size_t len,
    struct ws_http_resp *out)
{
	static __thread struct ws_http_resp tmp;
	struct ws_http_resp *r = &tmp;
	char *line, *hdrs;
	int hl, rc;

	if ((hl = head_length(data, len)) < 0)
		return hl;
	memset(r, 0, offsetof(struct ws_http_resp, buf));
	memcpy(r->buf, data, (size_t)hl);
	if ((rc = split_head(r->buf, (size_t)hl, &line, &hdrs)) < 0)
		return rc;
	/* status-line = HTTP-version SP 3DIGIT SP [reason-phrase] */
	if (parse_version(line, &r->http_minor) < 0 || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) || line[9] == '0' ||
	    (line[12] != ' ' && line[12] != '\0'))
		return -EBADMSG;
	r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
	    (line[11] - '0');
	if (line[12] == ' ')
		for (const char *c = line + 13; *c != '\0'; c++)
			if (!is_field_char((unsigned char)*c))
				return -EBADMSG;
	if ((rc = parse_headers(hdrs, r->buf + hl, r->hdr, &r->nhdr)) < 0)
		return rc;

	memcpy(out, r, offsetof(struct ws_http_resp, buf));
	memcpy(out->buf, r->buf, (size_t)hl + 1);
	for (unsigned i = 0; i < out->nhdr; i++) {
		REBASE(out->hdr[i].name);
		REBASE(out->hdr[i].value);
	}
#undef REBASE
	return hl;
}

static int
month_index(const char *m)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (strncmp(m, months + 3 * i, 3) == 0)
			return i;
	return -1;
}

static bool
digits(const char *s, size_t n, int *val)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*val = v;
	return true;
}

long
ws_http_retry_after(const char *value, time_t now)
{
	struct tm tm;
	int day, mon, year, hh, mm, ss;
	time_t t;

	if (value == NULL || *value == '\0')
		return -1;
	if (isdigit((unsigned char)value[0])) {
		long v = 0;

		for (const char *c = value; *c != '\0'; c++) {
			if (!isdigit((unsigned char)*c) || v > 100000000)
				return -1;
			v = v * 10 + (*c - '0');
		}
		return v;
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 chars) */
	if (strlen(value) != 29 || value[3] != ',' || value[4] != ' ' ||
	    value[7] != ' ' || value[11] != ' ' || value[16] != ' ' ||
	    value[19] != ':' || value[22] != ':' ||
	    strcmp(value + 25, " GMT") != 0 ||
	    !digits(value + 5, 2, &day) || (mon = month_index(value + 8)) < 0 ||
	    !digits(value + 12, 4, &year) || !digits(value + 17, 2, &hh) ||
	    !digits(value + 20, 2, &mm) || !digits(value + 23, 2, &ss) ||
	    day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = mon;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	return t > now ? (long)(t - now) : 0;
}

void
ws_accept_key(const char *key, char out[29])
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char in[128 + sizeof(WS_GUID)];
	size_t kl = strnlen(key, 128);

	memcpy(in, key, kl);
	memcpy(in + kl, WS_GUID, sizeof(WS_GUID) - 1);
	SHA1((const unsigned char *)in, kl + sizeof(WS_GUID) - 1, md);
	EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
ws_url_decode(const char *in, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c == '+')
			c = ' ';
		else if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -EINVAL;
			if ((hi = hexval(in[i + 1])) < 0 ||
			    (lo = hexval(in[i + 2])) < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return -EINVAL;
		if (o + 1 >= len)
			return -ENOSPC;
		buf[o++] = c;
	}
	if (len == 0)
		return -ENOSPC;
	buf[o] = '\0';
	return o > INT_MAX ? -ENOSPC : (int)o;
}

int
ws_query_get(const char *query, const char *name, char *buf, size_t len)
{
	size_t nl = strlen(name);
	const char *p = query;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, '&'), *eq;
		size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

		eq = memchr(p, '=', l);
		if (eq != NULL && (size_t)(eq - p) == nl &&
		    memcmp(p, name, nl) == 0)
			return ws_url_decode(eq + 1, l - nl - 1, buf, len);
		if (eq == NULL && l == nl && memcmp(p, name, nl) == 0)
			return ws_url_decode("", 0, buf, len);
		p = e != NULL ? e + 1 : NULL;
	}
	return -ENOENT;
}

int
ws_url_parse(const char *url, struct ws_url *out)
{
	struct ws_url u;
	const char *p, *hs, *he, *t;
	size_t hl;

	memset(&u, 0, sizeof(u));
	if (strncasecmp(url, "ws://", 5) == 0) {
		p = url + 5;
		u.port = 80;
	} else if (strncasecmp(url, "wss://", 6) == 0) {
		p = url + 6;
		u.tls = true;
		u.port = 443;
	} else
		return -EINVAL;

	t = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(t - p)) != NULL)
		return -EINVAL;		/* no userinfo */
	if (*p == '[') {
		hs = p + 1;
		if ((he = memchr(hs, ']', (size_t)(t - hs))) == NULL)
			return -EINVAL;
		p = he + 1;
		for (const char *c = hs; c < he; c++)
			if (!isxdigit((unsigned char)*c) && *c != ':' &&
			    *c != '.')
				return -EINVAL;
	} else {
		hs = p;
		he = p + strcspn(p, ":/?#");
		p = he;
		for (const char *c = hs; c < he; c++)
			if (!isalnum((unsigned char)*c) && *c != '-' &&
			    *c != '.' && *c != '_')
				return -EINVAL;
	}
	hl = (size_t)(he - hs);
	if (hl == 0 || hl >= sizeof(u.host))
		return -EINVAL;
	memcpy(u.host, hs, hl);
	if (*p == ':') {
		unsigned long port = 0;

		p++;
		if (p == t)
			return -EINVAL;
		for (; p < t; p++) {
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			port = port * 10 + (unsigned long)(*p - '0');
			if (port > 65535)
				return -EINVAL;
		}
		if (port == 0)
			return -EINVAL;
		u.port = (uint16_t)port;
	}
	if (p != t)
		return -EINVAL;
	if (*t == '#')
		return -EINVAL;
	if (*t == '\0')
		strcpy(u.target, "/");
	else {
		size_t l = strcspn(t, "#");

		if (t[l] != '\0')
			return -EINVAL;	/* no fragment in a WS URL */
		if (*t == '?') {
			if (l + 2 > sizeof(u.target))
				return -EINVAL;
			u.target[0] = '/';
			memcpy(u.target + 1, t, l + 1);
		} else {
			if (l + 1 > sizeof(u.target))
				return -EINVAL;
			memcpy(u.target, t, l + 1);
		}
		for (const char *c = u.target; *c != '\0'; c++)
			if ((unsigned char)*c <= 0x20 ||
			    (unsigned char)*c >= 0x7f)
				return -EINVAL;
	}
	*out = u;
	return 0;
}
