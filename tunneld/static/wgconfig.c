/* SPDX-License-Identifier: ISC */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wgconfig.h"

enum section { SEC_NONE, SEC_INTERFACE, SEC_PEER };

struct pstate {
	const char	*file;
	unsigned	 line;
	char		*err;
	size_t		 errlen;
};

static int
fail(struct pstate *ps, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%u: %s", ps->file, ps->line, msg);
	return -EINVAL;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 10)
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Endpoint: an address with port, or host:port resolved now. */
static int
parse_endpoint(const char *s, union fz_sockaddr *out)
{
	struct addrinfo hints, *res;
	char host[256];
	const char *colon;
	union fz_sockaddr sa;

	if (addr_parse(s, ADDR_PORT_REQUIRED, &sa) == 0) {
		*out = sa;
		return 0;
	}
	colon = strrchr(s, ':');
	if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(host) ||
	    strchr(s, '[') != NULL)
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	for (const char *c = host; *c != '\0'; c++)
		if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-')
			return -EINVAL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -EHOSTUNREACH;
	memset(&sa, 0, sizeof(sa));
	memcpy(&sa, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	*out = sa;
	return 0;
}

/* Calls fn for each comma-separated item. */
static int
each_item(char *v, struct pstate *ps, int (*fn)(const char *, void *,
    struct pstate *), void *arg)
{
	char *tok, *comma;
	int rc;

	for (tok = v; tok != NULL; tok = comma) {
		if ((comma = strchr(tok, ',')) != NULL)
			*comma++ = '\0';
		tok = trim(tok);
		if (*tok == '\0')
			return fail(ps, "empty list item");
		if ((rc = fn(tok, arg, ps)) != 0)
			return rc;
	}
	return 0;
}

static int
add_address(const char *s, void *arg, struct pstate *ps)
{
	struct wgconf *c = arg;

	if (c->naddrs == WGCONF_MAX_ADDRS)
		return fail(ps, "too many addresses (max %d)", WGCONF_MAX_ADDRS);
	/* Address keeps its host bits: 10.0.0.1/24 means 10.0.0.1. */
	if (cidr_parse(s, false, &c->addrs[c->naddrs]) != 0)
		return fail(ps, "bad Address '%s'", s);
	{
		char tmp[64], *slash;
		struct fz_cidr host;

		snprintf(tmp, sizeof(tmp), "%s", s);
		if ((slash = strchr(tmp, '/')) != NULL)
			*slash = '\0';
		if (cidr_parse(tmp, true, &host) != 0)
			return fail(ps, "bad Address '%s'", s);
		memcpy(c->addrs[c->naddrs].addr, host.addr, 16);
	}
	c->naddrs++;
	return 0;
}

static int
add_allowed(const char *s, void *arg, struct pstate *ps)
{
	struct wgconf_peer *p = arg;
	struct fz_cidr c;

	if (cidr_parse(s, false, &c) != 0)
		return fail(ps, "bad AllowedIPs entry '%s'", s);
	/* Doubling: most peers have one or two. */
	if ((p->nallowed & (p->nallowed - 1)) == 0) {
		size_t cap = p->nallowed == 0 ? 1 : 2 * (size_t)p->nallowed;
		struct fz_cidr *na = realloc(p->allowed, cap * sizeof(*na));

		if (na == NULL)
			return -ENOMEM;
		p->allowed = na;
	}
	p->allowed[p->nallowed++] = c;
	return 0;
}

static int
parse_key(const char *v, uint8_t out[WG_KEY_LEN], struct pstate *ps,
    const char *what)
{
	if (wg_key_from_base64(v, out) != 0)
		return fail(ps, "%s is not a base64 key of 32 bytes", what);
	return 0;
}

static const char *const hook_names[WGCONF_HOOKS] = {
	"PreUp", "PostUp", "PreDown", "PostDown",
};

const char *
wgconf_hook_name(enum wgconf_hook h)
{
	return (unsigned)h < WGCONF_HOOKS ? hook_names[h] : "?";
}

/* DNS: an address is a server, anything else a search domain (wg-quick). */
static int
add_dns(const char *s, void *arg, struct pstate *ps)
{
	struct wgconf *c = arg;
	union fz_sockaddr sa;
	size_t i, len = strlen(s);

	if (addr_parse(s, ADDR_PORT_NONE, &sa) == 0) {
		if (c->ndns == WGCONF_MAX_DNS)
			return fail(ps, "too many DNS servers (max %d)",
			    WGCONF_MAX_DNS);
		c->dns[c->ndns++] = sa;
		return 0;
	}
	/* A domain: what dnsctl accepts (letters, digits, . - _). */
	if (len == 0 || len > 253 || s[0] == '.')
		return fail(ps, "bad DNS entry '%s'", s);
	for (i = 0; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '.' ||
		    s[i] == '-' || s[i] == '_') ||
		    (s[i] == '.' && s[i + 1] == '.'))
			return fail(ps, "bad DNS entry '%s' (neither an "
			    "address nor a domain)", s);
	if (c->nsearch == WGCONF_MAX_SEARCH)
		return fail(ps, "too many DNS search domains (max %d)",
		    WGCONF_MAX_SEARCH);
	memcpy(c->search[c->nsearch++], s, len + 1);
	return 0;
}

/* A 32-bit number, decimal or 0x hex (as wg(8) takes FwMark). */
static int
parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v = 0;
	int base = 10;
	const char *p = s;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (*p == '\0' || strlen(p) > 10)
		return -EINVAL;
	for (; *p != '\0'; p++) {
		int d;

		if (isdigit((unsigned char)*p))
			d = *p - '0';
		else if (base == 16 && isxdigit((unsigned char)*p))
			d = tolower((unsigned char)*p) - 'a' + 10;
		else
			return -EINVAL;
		v = v * (unsigned)base + (unsigned)d;
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_bool(const char *v, bool *out)
{
	if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	    strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0)
		*out = true;
	else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
	    strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* wg-quick's own keys; 1 when k is none of them. */
static int
quick_key(struct wgconf *c, const char *k, char *v, struct pstate *ps)
{
	unsigned i;

	if (strcasecmp(k, "DNS") == 0)
		return each_item(v, ps, add_dns, c);
	if (strcasecmp(k, "Table") == 0) {
		if (strcasecmp(v, "auto") == 0)
			c->table = WGCONF_TABLE_AUTO;
		else if (strcasecmp(v, "off") == 0)
			c->table = WGCONF_TABLE_OFF;
		else if (parse_u32(v, &c->table_id) == 0 &&
		    c->table_id != 0 && c->table_id != 253 &&
		    c->table_id != 255)	/* unspec, default, local */
			c->table = WGCONF_TABLE_NUM;
		else
			return fail(ps, "Table must be auto, off or a "
			    "routing table number");
		return 0;
	}
	if (strcasecmp(k, "FwMark") == 0) {
		if (strcasecmp(v, "off") == 0)
			c->fwmark = 0;
		else if (parse_u32(v, &c->fwmark) != 0)
			return fail(ps, "FwMark must be a 32-bit number or off");
		return 0;
	}
	if (strcasecmp(k, "SaveConfig") == 0) {
		if (parse_bool(v, &c->save_config) != 0)
			return fail(ps, "SaveConfig must be true or false");
		return 0;
	}
	for (i = 0; i < WGCONF_HOOKS; i++) {
		if (strcasecmp(k, hook_names[i]) != 0)
			continue;
		if (c->nhooks[i] == WGCONF_MAX_HOOKS)
			return fail(ps, "too many %s lines (max %d)",
			    hook_names[i], WGCONF_MAX_HOOKS);
		if ((c->hooks[i][c->nhooks[i]] = strdup(v)) == NULL)
			return -ENOMEM;
		c->nhooks[i]++;
		return 0;
	}
	return 1;
}

char *
wgconf_hook_expand(const char *hook, const char *ifname)
{
	size_t n = 0, il = strlen(ifname), hl = strlen(hook), i, o = 0;
	char *out;

	for (i = 0; i + 1 < hl; i++)
		if (hook[i] == '%' && hook[i + 1] == 'i')
			n++;
	if ((out = malloc(hl + n * il + 1)) == NULL)
		return NULL;
	for (i = 0; i < hl; i++) {
		if (hook[i] == '%' && hook[i + 1] == 'i') {
			memcpy(out + o, ifname, il);
			o += il;
			i++;
		} else
			out[o++] = hook[i];
	}
	out[o] = '\0';
	return out;
}

bool
wgconf_trusted(const struct wgconf *c, const char *file, char *err,
    size_t errlen)
{
	if (!c->from_file) {
		snprintf(err, errlen, "%s: not read from a file", file);
		return false;
	}
	if (c->file_uid != 0 || (c->file_mode & 022) != 0) {
		snprintf(err, errlen, "%s: owned by uid %u with mode %04o; "
		    "hooks (PreUp/PostUp/PreDown/PostDown) and SaveConfig "
		    "need a file owned by root that group and others cannot "
		    "write (chown root %s; chmod go-w %s)", file, c->file_uid,
		    c->file_mode & 07777, file, file);
		return false;
	}
	return true;
}

static int
iface_key(struct wgconf *c, const char *k, char *v, struct pstate *ps)
{
	unsigned long n;
	int rc;

	if (strcasecmp(k, "PrivateKey") == 0) {
		if (parse_key(v, c->priv, ps, "PrivateKey") != 0)
			return -EINVAL;
		c->has_priv = true;
		return 0;
	}
	if (strcasecmp(k, "ListenPort") == 0) {
		if (parse_uint(v, 65535, &n) != 0)
			return fail(ps, "ListenPort must be 0..65535");
		c->listen_port = (uint16_t)n;
		return 0;
	}
	if (strcasecmp(k, "MTU") == 0) {
		/* Larger packets would not fit one UDP datagram (wg.h). */
		if (parse_uint(v, WG_MTU_MAX, &n) != 0 ||
		    wg_mtu_check((int)n) != 0)
			return fail(ps, "MTU must be %d..%d (the encapsulated "
			    "packet must fit one UDP datagram)", WG_MTU_MIN,
			    WG_MTU_MAX);
		c->mtu = (int)n;
		return 0;
	}
	if (strcasecmp(k, "Address") == 0)
		return each_item(v, ps, add_address, c);
	if ((rc = quick_key(c, k, v, ps)) <= 0)
		return rc;
	return fail(ps, "unknown key '%s' in [Interface]", k);
}

static int
peer_key(struct wgconf_peer *p, bool *has_pub, const char *k, char *v,
    struct pstate *ps)
{
	unsigned long n;
	int rc;

	if (strcasecmp(k, "PublicKey") == 0) {
		if (parse_key(v, p->pub, ps, "PublicKey") != 0)
			return -EINVAL;
		*has_pub = true;
		return 0;
	}
	if (strcasecmp(k, "PresharedKey") == 0) {
		if (parse_key(v, p->psk, ps, "PresharedKey") != 0)
			return -EINVAL;
		p->has_psk = true;
		return 0;
	}
	if (strcasecmp(k, "Endpoint") == 0) {
		if ((rc = parse_endpoint(v, &p->endpoint)) != 0)
			return fail(ps, rc == -EHOSTUNREACH ?
			    "cannot resolve Endpoint '%s'" :
			    "bad Endpoint '%s' (want host:port)", v);
		p->has_endpoint = true;
		return 0;
	}
	if (strcasecmp(k, "AllowedIPs") == 0)
		return each_item(v, ps, add_allowed, p);
	if (strcasecmp(k, "PersistentKeepalive") == 0) {
		if (strcasecmp(v, "off") == 0)
			n = 0;
		else if (parse_uint(v, 65535, &n) != 0)
			return fail(ps, "PersistentKeepalive must be 0..65535 "
			    "or off");
		p->keepalive = (unsigned)n;
		return 0;
	}
	return fail(ps, "unknown key '%s' in [Peer]", k);
}

void
wgconf_free(struct wgconf *c)
{
	unsigned i;

	if (c == NULL)
		return;
	for (i = 0; i < WGCONF_HOOKS; i++)
		for (unsigned j = 0; j < c->nhooks[i]; j++)
			free(c->hooks[i][j]);
	if (c->peers != NULL) {
		for (i = 0; i < c->npeers; i++)
			free(c->peers[i].allowed);
		sodium_memzero(c->peers, c->npeers * sizeof(*c->peers));
		free(c->peers);
	}
	sodium_memzero(c, sizeof(*c));
}

/*
 * The public keys seen so far, to refuse a duplicate in O(1): open
 * addressing over peer numbers + 1, hashed with SipHash under a random key.
 */
struct keyset {
	uint32_t	*slot;
	size_t		 cap;		/* a power of two, or 0 */
	uint8_t		 k[crypto_shorthash_KEYBYTES];
};

static size_t
keyset_pos(const struct keyset *ks, const uint8_t *pub)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, pub, WG_KEY_LEN, ks->k);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (ks->cap - 1);
}

/* Adds peer i (of c); 1 if its key was there already, or -ENOMEM. */
static int
keyset_add(struct keyset *ks, const struct wgconf *c, unsigned i)
{
	size_t pos, j;

	if ((size_t)(i + 1) * 2 > ks->cap) {
		/* Grow to keep the load under a half; reinsert 0..i-1. */
		size_t ncap = ks->cap == 0 ? 64 : ks->cap * 2;
		uint32_t *ns = calloc(ncap, sizeof(*ns));

		if (ns == NULL)
			return -ENOMEM;
		if (ks->cap == 0) {
			if (sodium_init() < 0)
				return -ENOSYS;
			randombytes_buf(ks->k, sizeof(ks->k));
		}
		free(ks->slot);
		ks->slot = ns;
		ks->cap = ncap;
		for (j = 0; j < i; j++) {
			for (pos = keyset_pos(ks, c->peers[j].pub);
			    ks->slot[pos] != 0; pos = (pos + 1) & (ncap - 1))
				;
			ks->slot[pos] = (uint32_t)j + 1;
		}
	}
	for (pos = keyset_pos(ks, c->peers[i].pub); ks->slot[pos] != 0;
	    pos = (pos + 1) & (ks->cap - 1))
		if (memcmp(c->peers[ks->slot[pos] - 1].pub, c->peers[i].pub,
		    WG_KEY_LEN) == 0)
			return 1;
	ks->slot[pos] = i + 1;
	return 0;
}

static int
finish_peer(struct wgconf *c, bool has_pub, struct keyset *ks,
    struct pstate *ps)
{
	int rc;

	if (!has_pub)
		return fail(ps, "[Peer] without PublicKey");
	if ((rc = keyset_add(ks, c, c->npeers - 1)) < 0)
		return rc;
	if (rc > 0)
		return fail(ps, "duplicate [Peer] PublicKey");
	return 0;
}

int
wgconf_parse(const char *text, size_t len, const char *file,
    struct wgconf *out, char *err, size_t errlen)
{
	struct pstate ps = { file != NULL ? file : "<config>", 0, err, errlen };
	struct wgconf c;
	struct keyset ks = { NULL, 0, { 0 } };
	enum section sec = SEC_NONE;
	bool has_pub = false, seen_iface = false;
	char *copy, *line, *next;
	int rc = 0;

	if (len > WGCONF_MAX_SIZE)
		return fail(&ps, "file too large");
	if (memchr(text, '\0', len) != NULL)
		return fail(&ps, "file contains a NUL byte");
	if ((copy = malloc(len + 1)) == NULL)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	memset(&c, 0, sizeof(c));

	for (line = copy; line != NULL && rc == 0; line = next) {
		char *eq, *k, *v, *hash;

		ps.line++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		line = trim(line);
		if (*line == '\0')
			continue;
		if (*line == '[') {
			if (sec == SEC_PEER)
				rc = finish_peer(&c, has_pub, &ks, &ps);
			if (rc != 0)
				break;
			if (strcasecmp(line, "[Interface]") == 0) {
				if (seen_iface) {
					rc = fail(&ps, "second [Interface]");
					break;
				}
				seen_iface = true;
				sec = SEC_INTERFACE;
			} else if (strcasecmp(line, "[Peer]") == 0) {
				struct wgconf_peer *np;

				if (c.npeers == UINT32_MAX - 1) {
					rc = fail(&ps, "too many peers");
					break;
				}
				/* Doubling: n peers cost O(n) copying. */
				if ((c.npeers & (c.npeers - 1)) == 0) {
					size_t cap = c.npeers == 0 ? 1 :
					    2 * (size_t)c.npeers;

					np = realloc(c.peers, cap *
					    sizeof(*c.peers));
					if (np == NULL) {
						rc = -ENOMEM;
						break;
					}
					c.peers = np;
				}
				memset(&c.peers[c.npeers], 0, sizeof(*np));
				c.npeers++;
				has_pub = false;
				sec = SEC_PEER;
			} else
				rc = fail(&ps, "unknown section %s", line);
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL) {
			rc = fail(&ps, "expected 'Key = Value'");
			break;
		}
		*eq = '\0';
		k = trim(line);
		v = trim(eq + 1);
		if (*k == '\0' || *v == '\0') {
			rc = fail(&ps, "expected 'Key = Value'");
			break;
		}
		switch (sec) {
		case SEC_INTERFACE:
			rc = iface_key(&c, k, v, &ps);
			break;
		case SEC_PEER:
			rc = peer_key(&c.peers[c.npeers - 1], &has_pub, k, v,
			    &ps);
			break;
		default:
			rc = fail(&ps, "'%s' outside a section", k);
			break;
		}
	}
	if (rc == 0 && sec == SEC_PEER)
		rc = finish_peer(&c, has_pub, &ks, &ps);
	free(ks.slot);
	if (rc == 0 && !seen_iface) {
		ps.line = 0;
		rc = fail(&ps, "no [Interface] section");
	}
	if (rc == 0 && !c.has_priv) {
		ps.line = 0;
		rc = fail(&ps, "[Interface] has no PrivateKey");
	}
	sodium_memzero(copy, len + 1);
	free(copy);
	if (rc != 0) {
		wgconf_free(&c);
		return rc;
	}
	*out = c;
	return 0;
}

int
wgconf_load(const char *path, struct wgconf *out, char *err, size_t errlen)
{
	char *buf;
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > WGCONF_MAX_SIZE) {
		snprintf(err, errlen, "%s: not a regular file of at most %d MiB",
		    path, WGCONF_MAX_SIZE >> 20);
		close(fd);
		return -EINVAL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size &&
	    (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	rc = wgconf_parse(buf, got, path, out, err, errlen);
	if (rc == 0) {
		out->from_file = true;
		out->file_uid = (unsigned)st.st_uid;
		out->file_mode = (unsigned)st.st_mode;
	}
	sodium_memzero(buf, got);
	free(buf);
	return rc;
}
