/* SPDX-License-Identifier: ISC */
/*
 * The DNS stub resolver core (§4.4).  Query handling order: cache, the
 * Firefox DoH canary, resources (A/AAAA/HTTPS local, SRV/TXT to the site),
 * PTR of proxy IPs, else the sentinel's upstream.  Local answers: TTL 1 s.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <ldns/ldns.h>

#include "dns_stub.h"
#include "fztime.h"

#define DOH_CANARY	"use-application-dns.net"
#define NAME_BUCKETS	8192		/* power of two */
#define NO_INDEX	UINT32_MAX
#define UDP_PLAIN_MAX	512		/* RFC 1035 4.2.1 */
#define EDNS_UDP_SIZE	1232		/* what we advertise back */

struct resource {
	char			id[DNS_STUB_RESOURCE_ID_MAX];
	char			pattern[DNS_PATTERN_MAX + 1];
	enum dns_ip_stack	stack;
};

struct name_entry {
	char		name[DNS_PATTERN_MAX + 1];
	uint32_t	hash;
	uint32_t	next;			/* bucket chain */
	uint8_t		v4[DNS_STUB_IPS_PER_FAMILY][4];
	uint8_t		v6[DNS_STUB_IPS_PER_FAMILY][16];
};

struct cache_entry {
	bool		used;
	uint32_t	hash;
	uint16_t	qtype;
	char		name[DNS_PATTERN_MAX + 1];
	ldns_pkt	*resp;
	uint64_t	inserted_ns, expires_ns;
};

struct pending {
	bool			used;
	bool			site;		/* answer may come from any gateway */
	bool			tcp;
	uint16_t		fwd_id, orig_id;
	union fz_sockaddr	client, sentinel, server;
	ldns_rr			*question;
	uint64_t		deadline_ns;
};

struct mapping {
	union fz_sockaddr	sentinel;	/* port 53 */
	union fz_sockaddr	upstream;
};

struct dns_stub {
	struct mapping		map[DNS_STUB_MAX_UPSTREAMS];
	size_t			n_map;

	struct resource		*res;
	size_t			n_res;

	struct name_entry	*names;
	size_t			n_names, cap_names;
	uint32_t		buckets[NAME_BUCKETS];
	uint32_t		next_v4;	/* host offset in 100.96.0.0/11 */
	uint64_t		next_v6;	/* offset in fd00:2021:1111:8000::/107 */

	struct cache_entry	cache[DNS_STUB_MAX_CACHE];
	struct pending		pending[DNS_STUB_MAX_PENDING];
	size_t			n_pending;

	struct dns_stub_event	*events;	/* ring */
	size_t			ev_head, ev_len;

	char			*search_domain;
	struct dns_stub_stats	st;
};

/* 100.96.0.0/11, 100.100.111.0/24; fd00:2021:1111:8000::/107 and its /120. */
static const uint8_t proxy_v4[4] = { 100, 96, 0, 0 };
static const uint8_t sentinel_v4[4] = { 100, 100, 111, 0 };
static const uint8_t proxy_v6[16] = {
	0xfd, 0x00, 0x20, 0x21, 0x11, 0x11, 0x80, 0x00 };
static const uint8_t sentinel_v6[16] = {
	0xfd, 0x00, 0x20, 0x21, 0x11, 0x11, 0x80, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x01, 0x11, 0x00, 0x00 };

static uint32_t
hash_name(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

struct dns_stub *
dns_stub_new(void)
{
	struct dns_stub *s;
	size_t i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->res = calloc(DNS_STUB_MAX_RESOURCES, sizeof(*s->res));
	s->events = calloc(DNS_STUB_MAX_EVENTS, sizeof(*s->events));
	if (s->res == NULL || s->events == NULL) {
		dns_stub_free(s);
		return NULL;
	}
	for (i = 0; i < NAME_BUCKETS; i++)
		s->buckets[i] = NO_INDEX;
	s->next_v4 = 1;		/* hosts of the /11: not the network address */
	return s;
}

static void
cache_flush(struct dns_stub *s)
{
	size_t i;

	for (i = 0; i < DNS_STUB_MAX_CACHE; i++) {
		if (s->cache[i].used)
			ldns_pkt_free(s->cache[i].resp);
		s->cache[i].used = false;
		s->cache[i].resp = NULL;
	}
}

static void
pending_drop(struct dns_stub *s, struct pending *p)
{
	ldns_rr_free(p->question);
	memset(p, 0, sizeof(*p));
	s->n_pending--;
}

void
dns_stub_free(struct dns_stub *s)
{
	size_t i;

	if (s == NULL)
		return;
	cache_flush(s);
	for (i = 0; i < DNS_STUB_MAX_PENDING; i++)
		if (s->pending[i].used)
			pending_drop(s, &s->pending[i]);
	free(s->res);
	free(s->names);
	free(s->events);
	free(s->search_domain);
	free(s);
}

/* ---- sentinels and upstreams ------------------------------------------ */

static bool
in_prefix(const uint8_t *addr, const uint8_t *net, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(addr, net, full) != 0)
		return false;
	return rest == 0 ||
	    ((addr[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static const uint8_t *
sa_addr(const struct sockaddr *sa, int *family)
{
	if (sa == NULL)
		return NULL;
	*family = sa->sa_family;
	if (sa->sa_family == AF_INET)
		return (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
	if (sa->sa_family == AF_INET6)
		return (const uint8_t *)&((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr;
	return NULL;
}

bool
dns_stub_is_sentinel_range(const struct sockaddr *sa)
{
	const uint8_t *a;
	int fam;

	if ((a = sa_addr(sa, &fam)) == NULL)
		return false;
	return fam == AF_INET ? in_prefix(a, sentinel_v4, 24) :
	    in_prefix(a, sentinel_v6, 120);
}

static bool
same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	const uint8_t *x, *y;
	int fa, fb;

	if ((x = sa_addr(a, &fa)) == NULL || (y = sa_addr(b, &fb)) == NULL ||
	    fa != fb)
		return false;
	return memcmp(x, y, fa == AF_INET ? 4 : 16) == 0;
}

static void
make_sa(union fz_sockaddr *out, int family, const uint8_t *addr,
    uint16_t port)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET) {
		out->in4.sin_family = AF_INET;
		memcpy(&out->in4.sin_addr, addr, 4);
		out->in4.sin_port = htons(port);
	} else {
		out->in6.sin6_family = AF_INET6;
		memcpy(&out->in6.sin6_addr, addr, 16);
		out->in6.sin6_port = htons(port);
	}
}

/* Collects the usable upstreams of one list (sentinels and repeats out). */
static int
collect(const union fz_sockaddr *in, size_t n, union fz_sockaddr *out,
    size_t *nout)
{
	size_t i, j;

	*nout = 0;
	for (i = 0; i < n; i++) {
		union fz_sockaddr u = in[i];

		if (u.sa.sa_family != AF_INET && u.sa.sa_family != AF_INET6)
			return -EINVAL;
		addr_unmap_v4(&u);
		if (dns_stub_is_sentinel_range(&u.sa))
			continue;
		if (addr_port(&u.sa) == 0)
			addr_set_port(&u.sa, 53);
		for (j = 0; j < *nout; j++)
			if (addr_eq(&out[j].sa, &u.sa))
				break;
		if (j < *nout)
			continue;
		if (*nout == DNS_STUB_MAX_UPSTREAMS)
			return -E2BIG;
		out[(*nout)++] = u;
	}
	return 0;
}

static bool
sentinel_used(const struct mapping *map, size_t n, int family,
    const uint8_t *addr)
{
	size_t i;
	int fam;

	for (i = 0; i < n; i++) {
		const uint8_t *a = sa_addr(&map[i].sentinel.sa, &fam);

		if (fam == family &&
		    memcmp(a, addr, family == AF_INET ? 4 : 16) == 0)
			return true;
	}
	return false;
}

int
dns_stub_set_upstreams(struct dns_stub *s, const union fz_sockaddr *do53,
    size_t n_do53, const union fz_sockaddr *system, size_t n_system,
    bool *changed)
{
	union fz_sockaddr eff[DNS_STUB_MAX_UPSTREAMS];
	struct mapping map[DNS_STUB_MAX_UPSTREAMS];
	unsigned next4 = 1, next6 = 0;
	size_t n, i, j;
	int error;

	if ((error = collect(do53, n_do53, eff, &n)) != 0)
		return error;
	if (n == 0 && (error = collect(system, n_system, eff, &n)) != 0)
		return error;

	/* The same set (in any order) keeps its mapping. */
	if (n == s->n_map) {
		for (i = 0; i < n; i++) {
			for (j = 0; j < s->n_map; j++)
				if (addr_eq(&eff[i].sa, &s->map[j].upstream.sa))
					break;
			if (j == s->n_map)
				break;
		}
		if (i == n) {
			if (changed != NULL)
				*changed = false;
			return 0;
		}
	}

	for (i = 0; i < n; i++) {
		uint8_t a[16];

		map[i].upstream = eff[i];
		if (eff[i].sa.sa_family == AF_INET) {
			memcpy(a, sentinel_v4, 4);
			for (;; next4++) {
				if (next4 > 254)
					return -E2BIG;
				a[3] = (uint8_t)next4;
				if (!sentinel_used(s->map, s->n_map, AF_INET, a))
					break;
			}
			next4++;
			make_sa(&map[i].sentinel, AF_INET, a, 53);
		} else {
			memcpy(a, sentinel_v6, 16);
			for (;; next6++) {
				if (next6 > 255)
					return -E2BIG;
				a[15] = (uint8_t)next6;
				if (!sentinel_used(s->map, s->n_map, AF_INET6,
				    a))
					break;
			}
			next6++;
			make_sa(&map[i].sentinel, AF_INET6, a, 53);
		}
	}
	memcpy(s->map, map, n * sizeof(map[0]));
	s->n_map = n;
	cache_flush(s);
	if (changed != NULL)
		*changed = true;
	return 0;
}

size_t
dns_stub_sentinels(const struct dns_stub *s, union fz_sockaddr *sentinels,
    union fz_sockaddr *upstreams, size_t max)
{
	size_t i;

	for (i = 0; i < s->n_map && i < max; i++) {
		if (sentinels != NULL)
			sentinels[i] = s->map[i].sentinel;
		if (upstreams != NULL)
			upstreams[i] = s->map[i].upstream;
	}
	return s->n_map;
}

static const struct mapping *
map_by_sentinel(const struct dns_stub *s, const struct sockaddr *sentinel)
{
	size_t i;

	for (i = 0; i < s->n_map; i++)
		if (same_ip(&s->map[i].sentinel.sa, sentinel))
			return &s->map[i];
	return NULL;
}

int
dns_stub_sentinel_upstream(const struct dns_stub *s,
    const struct sockaddr *sentinel, union fz_sockaddr *upstream)
{
	const struct mapping *m;

	if ((m = map_by_sentinel(s, sentinel)) == NULL)
		return -ENOENT;
	*upstream = m->upstream;
	return 0;
}

int
dns_stub_upstream_sentinel(const struct dns_stub *s,
    const struct sockaddr *upstream, union fz_sockaddr *sentinel)
{
	size_t i;

	for (i = 0; i < s->n_map; i++) {
		if (addr_eq(&s->map[i].upstream.sa, upstream)) {
			*sentinel = s->map[i].sentinel;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- resources ---------------------------------------------------------- */

static bool
id_ok(const char *id)
{
	size_t len;

	if (id == NULL)
		return false;
	len = strnlen(id, DNS_STUB_RESOURCE_ID_MAX);
	return len > 0 && len < DNS_STUB_RESOURCE_ID_MAX;
}

int
dns_stub_add_resource(struct dns_stub *s, const char *id, const char *pattern,
    enum dns_ip_stack stack)
{
	char norm[DNS_PATTERN_MAX + 1];
	struct resource *r = NULL;
	size_t i;
	int error;

	if (!id_ok(id) || (stack != DNS_STACK_DUAL &&
	    stack != DNS_STACK_IPV4_ONLY && stack != DNS_STACK_IPV6_ONLY))
		return -EINVAL;
	if ((error = dns_pattern_normalize(pattern, norm, sizeof(norm))) != 0)
		return error;
	for (i = 0; i < s->n_res; i++)
		if (strcmp(s->res[i].id, id) == 0)
			r = &s->res[i];
	if (r == NULL) {
		if (s->n_res == DNS_STUB_MAX_RESOURCES)
			return -ENOSPC;
		r = &s->res[s->n_res++];
		memcpy(r->id, id, strlen(id) + 1);
	}
	memcpy(r->pattern, norm, strlen(norm) + 1);
	r->stack = stack;
	cache_flush(s);
	return 0;
}

int
dns_stub_remove_resource(struct dns_stub *s, const char *id)
{
	size_t i;

	if (!id_ok(id))
		return -EINVAL;
	for (i = 0; i < s->n_res; i++) {
		if (strcmp(s->res[i].id, id) == 0) {
			s->res[i] = s->res[--s->n_res];
			cache_flush(s);
			return 0;
		}
	}
	return -ENOENT;
}

int
dns_stub_set_search_domain(struct dns_stub *s, const char *domain)
{
	char norm[DNS_PATTERN_MAX + 1], *copy = NULL;

	if (domain != NULL) {
		if (dns_pattern_normalize(domain, norm, sizeof(norm)) != 0 ||
		    strpbrk(norm, "*?") != NULL)
			return -EINVAL;
		if ((copy = strdup(norm)) == NULL)
			return -ENOMEM;
	}
	free(s->search_domain);
	s->search_domain = copy;
	return 0;
}

const char *
dns_stub_search_domain(const struct dns_stub *s)
{
	return s->search_domain;
}

/* Most specific first: pattern order, then (as Firezone's max_by) the
 * greater id. */
static bool
more_specific(const struct resource *a, const struct resource *b)
{
	int c = dns_pattern_cmp(a->pattern, b->pattern);

	return c < 0 || (c == 0 && strcmp(a->id, b->id) > 0);
}

static const struct resource *
best_match(const struct dns_stub *s, const char *name)
{
	const struct resource *best = NULL;
	size_t i;

	for (i = 0; i < s->n_res; i++) {
		const struct resource *r = &s->res[i];

		if (dns_pattern_match(r->pattern, name) &&
		    (best == NULL || more_specific(r, best)))
			best = r;
	}
	return best;
}

int
dns_stub_match(const struct dns_stub *s, const char *name,
    char id[DNS_STUB_RESOURCE_ID_MAX])
{
	const struct resource *r;

	if ((r = best_match(s, name)) == NULL)
		return -ENOENT;
	memcpy(id, r->id, strlen(r->id) + 1);
	return 0;
}

/* ---- proxy IPs -------------------------------------------------------- */

static struct name_entry *
name_find(const struct dns_stub *s, const char *name, uint32_t h)
{
	uint32_t i;

	for (i = s->buckets[h & (NAME_BUCKETS - 1)]; i != NO_INDEX;
	    i = s->names[i].next)
		if (s->names[i].hash == h && strcmp(s->names[i].name, name) == 0)
			return &s->names[i];
	return NULL;
}

/* The next host of 100.96.0.0/11, skipping the sentinel /24. */
static int
next_v4(struct dns_stub *s, uint8_t out[4])
{
	for (;;) {
		uint32_t a;

		/* hosts(): neither the network nor the broadcast address */
		if (s->next_v4 >= (1u << 21) - 1)
			return -ENOSPC;
		a = ((uint32_t)proxy_v4[0] << 24 | (uint32_t)proxy_v4[1] << 16)
		    + s->next_v4++;
		out[0] = (uint8_t)(a >> 24);
		out[1] = (uint8_t)(a >> 16);
		out[2] = (uint8_t)(a >> 8);
		out[3] = (uint8_t)a;
		if (!in_prefix(out, sentinel_v4, 24))
			return 0;
	}
}

/* The next address of fd00:2021:1111:8000::/107 from its network address
 * up (every /128), skipping the sentinel /120.  The cap on names keeps this
 * far below 2^21. */
static int
next_v6(struct dns_stub *s, uint8_t out[16])
{
	for (;;) {
		uint64_t off = s->next_v6++;
		int i;

		if (off >= (1ULL << 21))
			return -ENOSPC;
		memcpy(out, proxy_v6, 16);
		for (i = 0; i < 8; i++)
			out[15 - i] = (uint8_t)(off >> (8 * i));
		if (!in_prefix(out, sentinel_v6, 120))
			return 0;
	}
}

static struct name_entry *
name_get_or_assign(struct dns_stub *s, const char *name)
{
	uint32_t h = hash_name(name);
	struct name_entry *e;
	uint32_t save4 = s->next_v4;
	uint64_t save6 = s->next_v6;
	size_t i;

	if ((e = name_find(s, name, h)) != NULL)
		return e;
	if (s->n_names == DNS_STUB_MAX_NAMES)
		return NULL;
	if (s->n_names == s->cap_names) {
		size_t cap = s->cap_names == 0 ? 64 : s->cap_names * 2;
		struct name_entry *n;

		if (cap > DNS_STUB_MAX_NAMES)
			cap = DNS_STUB_MAX_NAMES;
		if ((n = realloc(s->names, cap * sizeof(*n))) == NULL)
			return NULL;
		s->names = n;
		s->cap_names = cap;
	}
	e = &s->names[s->n_names];
	memset(e, 0, sizeof(*e));
	for (i = 0; i < DNS_STUB_IPS_PER_FAMILY; i++) {
		if (next_v4(s, e->v4[i]) != 0 || next_v6(s, e->v6[i]) != 0) {
			s->next_v4 = save4;
			s->next_v6 = save6;
			return NULL;
		}
	}
	memcpy(e->name, name, strlen(name) + 1);
	e->hash = h;
	e->next = s->buckets[h & (NAME_BUCKETS - 1)];
	s->buckets[h & (NAME_BUCKETS - 1)] = (uint32_t)s->n_names;
	s->n_names++;
	return e;
}

static const struct name_entry *
name_by_ip(const struct dns_stub *s, const struct dns_ip *ip)
{
	size_t i, k;

	if (ip->family == AF_INET ? !in_prefix(ip->addr, proxy_v4, 11) :
	    !in_prefix(ip->addr, proxy_v6, 107))
		return NULL;
	for (i = 0; i < s->n_names; i++)
		for (k = 0; k < DNS_STUB_IPS_PER_FAMILY; k++)
			if (ip->family == AF_INET ?
			    memcmp(s->names[i].v4[k], ip->addr, 4) == 0 :
			    memcmp(s->names[i].v6[k], ip->addr, 16) == 0)
				return &s->names[i];
	return NULL;
}

int
dns_stub_proxy_ip_name(const struct dns_stub *s, const struct dns_ip *ip,
    char *name, size_t namelen)
{
	const struct name_entry *e;
	size_t len;

	if (ip->family != AF_INET && ip->family != AF_INET6)
		return -EINVAL;
	if ((e = name_by_ip(s, ip)) == NULL)
		return -ENOENT;
	if ((len = strlen(e->name)) >= namelen)
		return -ENOBUFS;
	memcpy(name, e->name, len + 1);
	return 0;
}

/* ---- events ----------------------------------------------------------- */

static bool
stack_has(enum dns_ip_stack st, int family)
{
	return st == DNS_STACK_DUAL ||
	    (st == DNS_STACK_IPV4_ONLY) == (family == AF_INET);
}

static void
event_push(struct dns_stub *s, const struct resource *r,
    const struct name_entry *e)
{
	struct dns_stub_event *ev;
	size_t k;

	if (s->ev_len == DNS_STUB_MAX_EVENTS) {
		s->ev_head = (s->ev_head + 1) % DNS_STUB_MAX_EVENTS;
		s->ev_len--;
		s->st.dropped_events++;
	}
	ev = &s->events[(s->ev_head + s->ev_len++) % DNS_STUB_MAX_EVENTS];
	memset(ev, 0, sizeof(*ev));
	memcpy(ev->resource_id, r->id, strlen(r->id) + 1);
	memcpy(ev->name, e->name, strlen(e->name) + 1);
	for (k = 0; k < DNS_STUB_IPS_PER_FAMILY && stack_has(r->stack,
	    AF_INET); k++) {
		ev->ips[ev->n_ips].family = AF_INET;
		memcpy(ev->ips[ev->n_ips++].addr, e->v4[k], 4);
	}
	for (k = 0; k < DNS_STUB_IPS_PER_FAMILY && stack_has(r->stack,
	    AF_INET6); k++) {
		ev->ips[ev->n_ips].family = AF_INET6;
		memcpy(ev->ips[ev->n_ips++].addr, e->v6[k], 16);
	}
}

int
dns_stub_next_event(struct dns_stub *s, struct dns_stub_event *ev)
{
	if (s->ev_len == 0)
		return -ENOENT;
	*ev = s->events[s->ev_head];
	s->ev_head = (s->ev_head + 1) % DNS_STUB_MAX_EVENTS;
	s->ev_len--;
	return 0;
}

/* ---- messages --------------------------------------------------------- */

/* The question's name as lower-case text without the trailing dot; false
 * for names ldns had to escape (they match no pattern and get no IPs). */
static bool
qname_text(const ldns_rdf *owner, char out[DNS_PATTERN_MAX + 1])
{
	char *t;
	size_t len, i;
	bool ok = false;

	if ((t = ldns_rdf2str(owner)) == NULL)
		return false;
	len = strlen(t);
	if (len > 0 && t[len - 1] == '.')
		len--;
	if (len <= DNS_PATTERN_MAX && memchr(t, '\\', len) == NULL) {
		for (i = 0; i < len; i++)
			out[i] = (char)tolower((unsigned char)t[i]);
		out[len] = '\0';
		ok = true;
	}
	free(t);
	return ok;
}

/* A response shell for query q: id, opcode, RD copied, QR and RA set, the
 * question copied, EDNS echoed.  NULL on allocation failure. */
static ldns_pkt *
response_for(const ldns_pkt *q, const ldns_rr *question, uint8_t rcode)
{
	ldns_pkt *r;
	ldns_rr *qc;

	if ((r = ldns_pkt_new()) == NULL)
		return NULL;
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(q));
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_ra(r, true);
	ldns_pkt_set_rcode(r, rcode);
	if (question != NULL) {
		if ((qc = ldns_rr_clone(question)) == NULL ||
		    !ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, qc)) {
			ldns_rr_free(qc);
			ldns_pkt_free(r);
			return NULL;
		}
	}
	if (ldns_pkt_edns(q))
		ldns_pkt_set_edns_udp_size(r, EDNS_UDP_SIZE);
	return r;
}

static size_t
udp_limit(const ldns_pkt *q, unsigned flags)
{
	size_t lim;

	if (flags & DNS_STUB_TCP)
		return 65535;
	lim = ldns_pkt_edns(q) ? ldns_pkt_edns_udp_size(q) : UDP_PLAIN_MAX;
	return lim < UDP_PLAIN_MAX ? UDP_PLAIN_MAX : lim;
}

/* Encodes r into out; beyond limit, the header and question with TC. */
static int
emit(ldns_pkt *r, size_t limit, uint8_t *out, size_t outlen, size_t *len)
{
	uint8_t *wire = NULL;
	size_t n = 0;

	if (ldns_pkt2wire(&wire, r, &n) != LDNS_STATUS_OK)
		return -ENOMEM;
	if (n > limit) {
		ldns_rr_list *an = ldns_pkt_answer(r);
		ldns_rr_list *ns = ldns_pkt_authority(r);
		ldns_rr_list *ad = ldns_pkt_additional(r);

		free(wire);
		wire = NULL;
		ldns_pkt_set_answer(r, ldns_rr_list_new());
		ldns_pkt_set_authority(r, ldns_rr_list_new());
		ldns_pkt_set_additional(r, ldns_rr_list_new());
		ldns_rr_list_deep_free(an);
		ldns_rr_list_deep_free(ns);
		ldns_rr_list_deep_free(ad);
		ldns_pkt_set_ancount(r, 0);
		ldns_pkt_set_nscount(r, 0);
		ldns_pkt_set_arcount(r, 0);
		ldns_pkt_set_tc(r, true);
		if (ldns_pkt_answer(r) == NULL || ldns_pkt_authority(r) ==
		    NULL || ldns_pkt_additional(r) == NULL ||
		    ldns_pkt2wire(&wire, r, &n) != LDNS_STATUS_OK)
			return -ENOMEM;
	}
	if (n > outlen) {
		free(wire);
		return -ENOBUFS;
	}
	memcpy(out, wire, n);
	free(wire);
	*len = n;
	return 0;
}

static ldns_rr *
make_rr(const ldns_rdf *owner, ldns_rr_type type, uint32_t ttl,
    ldns_rdf *rdata)
{
	ldns_rr *rr;
	ldns_rdf *o;

	if (rdata == NULL)
		return NULL;
	if ((rr = ldns_rr_new()) == NULL || (o = ldns_rdf_clone(owner)) ==
	    NULL) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(rdata);
		return NULL;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ttl);
	if (!ldns_rr_push_rdf(rr, rdata)) {
		ldns_rdf_deep_free(rdata);
		ldns_rr_free(rr);
		return NULL;
	}
	return rr;
}

static int
push_answer(ldns_pkt *r, ldns_rr *rr)
{
	if (rr == NULL)
		return -ENOMEM;
	if (!ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr)) {
		ldns_rr_free(rr);
		return -ENOMEM;
	}
	return 0;
}

/* ---- PTR -------------------------------------------------------------- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "4.3.2.1.in-addr.arpa" / 32 nibbles ".ip6.arpa" to an address. */
static bool
reverse_addr(const char *name, struct dns_ip *ip)
{
	static const char v4s[] = ".in-addr.arpa", v6s[] = ".ip6.arpa";
	size_t len = strlen(name);

	memset(ip, 0, sizeof(*ip));
	if (len > sizeof(v4s) - 1 &&
	    strcmp(name + len - (sizeof(v4s) - 1), v4s) == 0) {
		const char *p = name, *end = name + len - (sizeof(v4s) - 1);
		int i;

		for (i = 3; i >= 0; i--) {
			unsigned v = 0, digits = 0;

			while (p < end && *p >= '0' && *p <= '9' &&
			    digits < 3) {
				v = v * 10 + (unsigned)(*p++ - '0');
				digits++;
			}
			if (digits == 0 || v > 255 ||
			    (digits > 1 && p[-(int)digits] == '0'))
				return false;
			ip->addr[i] = (uint8_t)v;
			if (i > 0 && (p >= end || *p++ != '.'))
				return false;
		}
		if (p != end)
			return false;
		ip->family = AF_INET;
		return true;
	}
	/* 32 nibbles and 31 dots, then ".ip6.arpa" */
	if (len == 63 + sizeof(v6s) - 1 && strcmp(name + 63, v6s) == 0) {
		int i;

		for (i = 0; i < 32; i++) {
			int v = hexval(name[2 * i]);

			if (v < 0 || (i < 31 && name[2 * i + 1] != '.'))
				return false;
			if (i % 2 == 0)
				ip->addr[15 - i / 2] |= (uint8_t)v;
			else
				ip->addr[15 - i / 2] |= (uint8_t)(v << 4);
		}
		ip->family = AF_INET6;
		return true;
	}
	return false;
}

/* ---- cache ------------------------------------------------------------ */

static struct cache_entry *
cache_find(struct dns_stub *s, const char *name, uint16_t qtype)
{
	uint32_t h = hash_name(name);
	size_t i;

	for (i = 0; i < DNS_STUB_MAX_CACHE; i++) {
		struct cache_entry *c = &s->cache[i];

		if (c->used && c->hash == h && c->qtype == qtype &&
		    strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

/* §4.4: NOERROR, not truncated, with answers, TTL of the qtype >= 5 s. */
static void
cache_insert(struct dns_stub *s, const char *name, uint16_t qtype,
    const ldns_pkt *resp, uint64_t now)
{
	ldns_rr_list *an = ldns_pkt_answer(resp);
	struct cache_entry *c, *victim = NULL;
	uint32_t ttl = UINT32_MAX;
	bool found = false;
	size_t i;

	if (ldns_pkt_get_rcode(resp) != LDNS_RCODE_NOERROR ||
	    ldns_pkt_tc(resp) || an == NULL || ldns_rr_list_rr_count(an) == 0)
		return;
	for (i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);

		if (ldns_rr_get_type(rr) == qtype) {
			found = true;
			if (ldns_rr_ttl(rr) < ttl)
				ttl = ldns_rr_ttl(rr);
		}
	}
	if (!found || ttl < DNS_STUB_CACHE_MIN_TTL)
		return;
	if ((c = cache_find(s, name, qtype)) == NULL) {
		for (i = 0; i < DNS_STUB_MAX_CACHE; i++) {
			c = &s->cache[i];
			if (!c->used)
				break;
			if (victim == NULL || c->expires_ns < victim->expires_ns)
				victim = c;
		}
		if (i == DNS_STUB_MAX_CACHE)
			c = victim;
	}
	if (c->used)
		ldns_pkt_free(c->resp);
	c->used = false;
	if ((c->resp = ldns_pkt_clone(resp)) == NULL)
		return;
	c->used = true;
	c->hash = hash_name(name);
	c->qtype = qtype;
	memcpy(c->name, name, strlen(name) + 1);
	c->inserted_ns = now;
	c->expires_ns = now + (uint64_t)ttl * NSEC_PER_SEC;
}

/* The cached answer records with their TTLs reduced by the time spent. */
static int
cache_answer(const struct cache_entry *c, ldns_pkt *r, uint64_t now)
{
	ldns_rr_list *an = ldns_pkt_answer(c->resp);
	uint64_t el = (now - c->inserted_ns) / NSEC_PER_SEC;
	size_t i;
	int error;

	for (i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_clone(ldns_rr_list_rr(an, i));

		if (rr != NULL)
			ldns_rr_set_ttl(rr, ldns_rr_ttl(rr) > el ?
			    ldns_rr_ttl(rr) - (uint32_t)el : 0);
		if ((error = push_answer(r, rr)) != 0)
			return error;
	}
	return 0;
}

/* ---- pending forwards ------------------------------------------------- */

static struct pending *
pending_by_id(struct dns_stub *s, uint16_t id)
{
	size_t i;

	for (i = 0; i < DNS_STUB_MAX_PENDING; i++)
		if (s->pending[i].used && s->pending[i].fwd_id == id)
			return &s->pending[i];
	return NULL;
}

static struct pending *
pending_new(struct dns_stub *s)
{
	struct pending *p = NULL;
	uint16_t ids[32];
	size_t i;

	if (s->n_pending == DNS_STUB_MAX_PENDING)
		return NULL;
	for (i = 0; i < DNS_STUB_MAX_PENDING; i++)
		if (!s->pending[i].used) {
			p = &s->pending[i];
			break;
		}
	/* A random id nobody pending uses (at most 1024 of 65536 are). */
	if (p == NULL || getrandom(ids, sizeof(ids), 0) != sizeof(ids))
		return NULL;
	for (i = 0; i < 32; i++) {
		if (pending_by_id(s, ids[i]) == NULL) {
			memset(p, 0, sizeof(*p));
			p->used = true;
			p->fwd_id = ids[i];
			s->n_pending++;
			return p;
		}
	}
	return NULL;
}

/* ---- queries ---------------------------------------------------------- */

struct query {
	const ldns_pkt		*pkt;
	const ldns_rr		*question;
	char			 name[DNS_PATTERN_MAX + 1];
	bool			 name_ok;
	uint16_t		 qtype;
	unsigned		 flags;
	const struct mapping	*map;
};

static int
reply(struct dns_stub *s, const struct query *q, ldns_pkt *r,
    const struct sockaddr *from, uint8_t *out, size_t outlen,
    struct dns_stub_out *res)
{
	struct dns_stub_out o;
	int error;

	memset(&o, 0, sizeof(o));
	error = emit(r, udp_limit(q->pkt, q->flags), out, outlen, &o.len);
	ldns_pkt_free(r);
	if (error != 0)
		return error;
	o.verdict = DNS_STUB_REPLY;
	o.src = q->map->sentinel;
	memcpy(&o.dst, from, addr_len(from));
	*res = o;
	s->st.local++;
	return 0;
}

static int
reply_rcode(struct dns_stub *s, const struct query *q, uint8_t rcode,
    const struct sockaddr *from, uint8_t *out, size_t outlen,
    struct dns_stub_out *res)
{
	ldns_pkt *r;

	if ((r = response_for(q->pkt, q->question, rcode)) == NULL)
		return -ENOMEM;
	return reply(s, q, r, from, out, outlen, res);
}

static int
forward(struct dns_stub *s, const struct query *q, const uint8_t *msg,
    size_t len, const struct sockaddr *from, const struct resource *site,
    uint64_t now, uint8_t *out, size_t outlen, struct dns_stub_out *res)
{
	struct dns_stub_out o;
	struct pending *p;

	if (len > outlen)
		return -ENOBUFS;
	if ((p = pending_new(s)) == NULL)
		return reply_rcode(s, q, LDNS_RCODE_SERVFAIL, from, out,
		    outlen, res);
	if ((p->question = ldns_rr_clone(q->question)) == NULL) {
		pending_drop(s, p);
		return reply_rcode(s, q, LDNS_RCODE_SERVFAIL, from, out,
		    outlen, res);
	}
	p->orig_id = ldns_pkt_id(q->pkt);
	p->tcp = (q->flags & DNS_STUB_TCP) != 0;
	memcpy(&p->client, from, addr_len(from));
	p->sentinel = q->map->sentinel;
	p->deadline_ns = now + DNS_STUB_UPSTREAM_TIMEOUT_NS;

	memset(&o, 0, sizeof(o));
	memcpy(out, msg, len);
	LDNS_ID_SET(out, p->fwd_id);
	o.len = len;
	o.fwd_id = p->fwd_id;
	if (site != NULL) {
		p->site = true;
		o.verdict = DNS_STUB_FORWARD_SITE;
		o.site_family = q->map->sentinel.sa.sa_family;
		memcpy(o.resource_id, site->id, strlen(site->id) + 1);
		s->st.forwarded_site++;
	} else {
		p->server = q->map->upstream;
		o.verdict = DNS_STUB_FORWARD;
		o.dst = q->map->upstream;
		s->st.forwarded++;
	}
	*res = o;
	return 0;
}

/* A/AAAA for resource names: the name's proxy IPs of the family if any
 * matching resource has that family (§4.4). */
static int
answer_address(struct dns_stub *s, const struct query *q,
    const struct sockaddr *from, uint8_t *out, size_t outlen,
    struct dns_stub_out *res)
{
	int family = q->qtype == LDNS_RR_TYPE_A ? AF_INET : AF_INET6;
	const ldns_rdf *owner = ldns_rr_owner(q->question);
	struct name_entry *e;
	bool has_family = false;
	ldns_pkt *r;
	size_t i, k;
	int error;

	if ((e = name_get_or_assign(s, q->name)) == NULL)
		return reply_rcode(s, q, LDNS_RCODE_SERVFAIL, from, out,
		    outlen, res);
	for (i = 0; i < s->n_res; i++) {
		const struct resource *rs = &s->res[i];

		if (!dns_pattern_match(rs->pattern, q->name))
			continue;
		has_family |= stack_has(rs->stack, family);
		event_push(s, rs, e);
	}
	if ((r = response_for(q->pkt, q->question, LDNS_RCODE_NOERROR)) ==
	    NULL)
		return -ENOMEM;
	for (k = 0; has_family && k < DNS_STUB_IPS_PER_FAMILY; k++) {
		ldns_rdf *rd = family == AF_INET ?
		    ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, e->v4[k]) :
		    ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, e->v6[k]);

		if ((error = push_answer(r, make_rr(owner, q->qtype,
		    DNS_STUB_TTL, rd))) != 0) {
			ldns_pkt_free(r);
			return error;
		}
	}
	return reply(s, q, r, from, out, outlen, res);
}

static int
answer_ptr(struct dns_stub *s, const struct query *q,
    const struct name_entry *e, const struct sockaddr *from, uint8_t *out,
    size_t outlen, struct dns_stub_out *res)
{
	ldns_pkt *r;
	int error;

	if ((r = response_for(q->pkt, q->question, LDNS_RCODE_NOERROR)) ==
	    NULL)
		return -ENOMEM;
	if ((error = push_answer(r, make_rr(ldns_rr_owner(q->question),
	    LDNS_RR_TYPE_PTR, DNS_STUB_TTL, ldns_dname_new_frm_str(e->name))))
	    != 0) {
		ldns_pkt_free(r);
		return error;
	}
	return reply(s, q, r, from, out, outlen, res);
}

static int
handle(struct dns_stub *s, struct query *q, const uint8_t *msg, size_t len,
    const struct sockaddr *from, uint64_t now, uint8_t *out, size_t outlen,
    struct dns_stub_out *res)
{
	const struct resource *best = NULL;
	struct cache_entry *c;
	struct dns_ip ip;
	ldns_pkt *r;
	int error;

	if (ldns_pkt_get_opcode(q->pkt) != LDNS_PACKET_QUERY)
		return reply_rcode(s, q, LDNS_RCODE_NOTIMPL, from, out, outlen,
		    res);
	if (q->question == NULL)
		return reply_rcode(s, q, LDNS_RCODE_FORMERR, from, out, outlen,
		    res);
	if (ldns_rr_get_class(q->question) != LDNS_RR_CLASS_IN || !q->name_ok)
		return forward(s, q, msg, len, from, NULL, now, out, outlen,
		    res);

	/* 1. the cache of forwarded answers */
	if ((c = cache_find(s, q->name, q->qtype)) != NULL &&
	    c->expires_ns > now) {
		if ((r = response_for(q->pkt, q->question,
		    LDNS_RCODE_NOERROR)) == NULL)
			return -ENOMEM;
		if ((error = cache_answer(c, r, now)) != 0) {
			ldns_pkt_free(r);
			return error;
		}
		s->st.cache_hits++;
		return reply(s, q, r, from, out, outlen, res);
	}

	/* 3. the resource stub resolver (2., device pools, is not ours) */
	if (strcmp(q->name, DOH_CANARY) == 0)
		return reply_rcode(s, q, LDNS_RCODE_NXDOMAIN, from, out,
		    outlen, res);
	best = best_match(s, q->name);
	switch (q->qtype) {
	case LDNS_RR_TYPE_A:
	case LDNS_RR_TYPE_AAAA:
		if (best != NULL)
			return answer_address(s, q, from, out, outlen, res);
		break;
	case LDNS_RR_TYPE_SRV:
	case LDNS_RR_TYPE_TXT:
		if (best != NULL)
			return forward(s, q, msg, len, from, best, now, out,
			    outlen, res);
		break;
	case LDNS_RR_TYPE_HTTPS:
		/* Empty, so that clients ask A/AAAA and use proxy IPs. */
		if (best != NULL)
			return reply_rcode(s, q, LDNS_RCODE_NOERROR, from,
			    out, outlen, res);
		break;
	case LDNS_RR_TYPE_PTR: {
		const struct name_entry *e;

		if (reverse_addr(q->name, &ip) &&
		    (e = name_by_ip(s, &ip)) != NULL)
			return answer_ptr(s, q, e, from, out, outlen, res);
		break;
	}
	default:
		break;
	}
	return forward(s, q, msg, len, from, NULL, now, out, outlen, res);
}

int
dns_stub_query(struct dns_stub *s, const uint8_t *msg, size_t len,
    const struct sockaddr *from, const struct sockaddr *to, unsigned flags,
    uint64_t now_ns, uint8_t *out, size_t outlen, struct dns_stub_out *res)
{
	ldns_pkt *pkt = NULL;
	struct query q;
	ldns_rr_list *ql;
	int fam, error;

	if (msg == NULL || out == NULL || res == NULL || from == NULL ||
	    sa_addr(from, &fam) == NULL || outlen < UDP_PLAIN_MAX)
		return -EINVAL;
	s->st.queries++;
	memset(&q, 0, sizeof(q));
	if ((q.map = map_by_sentinel(s, to)) == NULL)
		return -ENOENT;
	if (len > 65535 || ldns_wire2pkt(&pkt, msg, len) != LDNS_STATUS_OK) {
		s->st.bad++;
		return -EBADMSG;
	}
	if (ldns_pkt_qr(pkt)) {
		ldns_pkt_free(pkt);
		s->st.bad++;
		return -EBADMSG;
	}
	q.pkt = pkt;
	q.flags = flags;
	ql = ldns_pkt_question(pkt);
	if (ql != NULL && ldns_rr_list_rr_count(ql) == 1 &&
	    ldns_pkt_qdcount(pkt) == 1) {
		q.question = ldns_rr_list_rr(ql, 0);
		q.qtype = (uint16_t)ldns_rr_get_type(q.question);
		q.name_ok = qname_text(ldns_rr_owner(q.question), q.name);
	}
	error = handle(s, &q, msg, len, from, now_ns, out, outlen, res);
	ldns_pkt_free(pkt);
	return error;
}

/* ---- answers from upstream -------------------------------------------- */

static bool
same_question(const ldns_rr *a, const ldns_rr *b)
{
	return ldns_rr_get_type(a) == ldns_rr_get_type(b) &&
	    ldns_rr_get_class(a) == ldns_rr_get_class(b) &&
	    ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b)) == 0;
}

int
dns_stub_upstream_answer(struct dns_stub *s, const uint8_t *msg, size_t len,
    const struct sockaddr *server, uint64_t now_ns, uint8_t *out,
    size_t outlen, struct dns_stub_out *res)
{
	struct dns_stub_out o;
	ldns_pkt *pkt = NULL;
	ldns_rr_list *ql;
	struct pending *p;
	char name[DNS_PATTERN_MAX + 1];
	int error = 0;

	if (msg == NULL || out == NULL || res == NULL || server == NULL)
		return -EINVAL;
	if (len > 65535 || ldns_wire2pkt(&pkt, msg, len) != LDNS_STATUS_OK) {
		s->st.bad++;
		return -EBADMSG;
	}
	ql = ldns_pkt_question(pkt);
	if (!ldns_pkt_qr(pkt) || ql == NULL ||
	    ldns_rr_list_rr_count(ql) != 1) {
		error = -EBADMSG;
		s->st.bad++;
		goto out;
	}
	/* Id, server and question must all be those we sent (RFC 5452 9.1). */
	if ((p = pending_by_id(s, ldns_pkt_id(pkt))) == NULL ||
	    (!p->site && !addr_eq(&p->server.sa, server)) ||
	    !same_question(p->question, ldns_rr_list_rr(ql, 0))) {
		error = -ENOENT;
		s->st.unmatched_answers++;
		goto out;
	}
	if (len > outlen) {
		error = -ENOBUFS;
		goto out;
	}
	if (!p->site && ldns_rr_get_class(p->question) == LDNS_RR_CLASS_IN &&
	    qname_text(ldns_rr_owner(p->question), name))
		cache_insert(s, name, (uint16_t)ldns_rr_get_type(p->question),
		    pkt, now_ns);
	memset(&o, 0, sizeof(o));
	memcpy(out, msg, len);
	LDNS_ID_SET(out, p->orig_id);
	o.verdict = DNS_STUB_REPLY;
	o.len = len;
	o.src = p->sentinel;
	o.dst = p->client;
	*res = o;
	s->st.answers++;
	pending_drop(s, p);
out:
	ldns_pkt_free(pkt);
	return error;
}

int
dns_stub_upstream_failed(struct dns_stub *s, uint16_t fwd_id, uint8_t *out,
    size_t outlen, struct dns_stub_out *res)
{
	struct dns_stub_out o;
	struct pending *p;
	ldns_pkt *q, *r;
	int error;

	if ((p = pending_by_id(s, fwd_id)) == NULL)
		return -ENOENT;
	/* A query shell carrying the client's id and question. */
	if ((q = ldns_pkt_new()) == NULL)
		return -ENOMEM;
	ldns_pkt_set_id(q, p->orig_id);
	ldns_pkt_set_rd(q, true);
	r = response_for(q, p->question, LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(q);
	if (r == NULL)
		return -ENOMEM;
	memset(&o, 0, sizeof(o));
	error = emit(r, p->tcp ? 65535 : UDP_PLAIN_MAX, out, outlen, &o.len);
	ldns_pkt_free(r);
	if (error != 0)
		return error;
	o.verdict = DNS_STUB_REPLY;
	o.src = p->sentinel;
	o.dst = p->client;
	*res = o;
	pending_drop(s, p);
	return 0;
}

void
dns_stub_expire(struct dns_stub *s, uint64_t now_ns)
{
	size_t i;

	/* No answer on timeout: the OS resolver retries (§4.4). */
	for (i = 0; i < DNS_STUB_MAX_PENDING; i++) {
		if (s->pending[i].used && s->pending[i].deadline_ns <= now_ns) {
			pending_drop(s, &s->pending[i]);
			s->st.timeouts++;
		}
	}
	for (i = 0; i < DNS_STUB_MAX_CACHE; i++) {
		if (s->cache[i].used && s->cache[i].expires_ns <= now_ns) {
			ldns_pkt_free(s->cache[i].resp);
			s->cache[i].resp = NULL;
			s->cache[i].used = false;
		}
	}
}

uint64_t
dns_stub_next_deadline(const struct dns_stub *s)
{
	uint64_t t = UINT64_MAX;
	size_t i;

	for (i = 0; i < DNS_STUB_MAX_PENDING; i++)
		if (s->pending[i].used && s->pending[i].deadline_ns < t)
			t = s->pending[i].deadline_ns;
	for (i = 0; i < DNS_STUB_MAX_CACHE; i++)
		if (s->cache[i].used && s->cache[i].expires_ns < t)
			t = s->cache[i].expires_ns;
	return t;
}

void
dns_stub_get_stats(const struct dns_stub *s, struct dns_stub_stats *st)
{
	size_t i;

	*st = s->st;
	st->names = s->n_names;
	st->pending = s->n_pending;
	st->cache = 0;
	for (i = 0; i < DNS_STUB_MAX_CACHE; i++)
		st->cache += s->cache[i].used;
}
