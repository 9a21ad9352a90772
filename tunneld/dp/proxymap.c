/* SPDX-License-Identifier: ISC */
/*
 * The client's proxy IP map (proxymap.h): PROXYMAP_MAX name slots, each
 * with its P2P_PROXY_MAX address slots; address slot i of name n is
 * n * P2P_PROXY_MAX + i, chained from a hash bucket of its address.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "proxymap.h"

#define BUCKETS		4096			/* power of two */
#define SLOTS		(PROXYMAP_MAX * P2P_PROXY_MAX)
#define NIL		(-1)

struct name {
	struct p2p_msg	m;
	uint64_t	stamp;			/* 0: free */
};

struct slot {
	int32_t		next;
};

struct proxymap {
	uint64_t	clock;
	size_t		n;
	struct name	name[PROXYMAP_MAX];
	struct slot	slot[SLOTS];
	int32_t		bucket[BUCKETS];
};

static uint32_t
hash_ip(const struct fz_ip *ip)
{
	uint32_t h = 2166136261u;
	size_t len = ip->af == AF_INET ? 4 : 16;

	for (size_t i = 0; i < len; i++)
		h = (h ^ ip->a[i]) * 16777619u;
	return h & (BUCKETS - 1);
}

static bool
ip_eq(const struct fz_ip *a, const struct fz_ip *b)
{
	return a->af == b->af &&
	    memcmp(a->a, b->a, a->af == AF_INET ? 4 : 16) == 0;
}

static const struct fz_ip *
slot_ip(const struct proxymap *pm, int32_t s)
{
	return &pm->name[s / P2P_PROXY_MAX].m.proxy[s % P2P_PROXY_MAX];
}

static int32_t
find_slot(const struct proxymap *pm, const struct fz_ip *ip)
{
	int32_t s;

	for (s = pm->bucket[hash_ip(ip)]; s != NIL; s = pm->slot[s].next)
		if (ip_eq(slot_ip(pm, s), ip))
			return s;
	return NIL;
}

struct proxymap *
proxymap_new(void)
{
	struct proxymap *pm = calloc(1, sizeof(*pm));

	if (pm == NULL)
		return NULL;
	for (size_t i = 0; i < BUCKETS; i++)
		pm->bucket[i] = NIL;
	return pm;
}

void
proxymap_free(struct proxymap *pm)
{
	free(pm);
}

static void
remove_name(struct proxymap *pm, size_t n)
{
	struct name *e = &pm->name[n];

	if (e->stamp == 0)
		return;
	for (size_t i = 0; i < e->m.nproxy; i++) {
		int32_t s = (int32_t)(n * P2P_PROXY_MAX + i), *pp;

		for (pp = &pm->bucket[hash_ip(&e->m.proxy[i])]; *pp != NIL;
		    pp = &pm->slot[*pp].next)
			if (*pp == s) {
				*pp = pm->slot[s].next;
				break;
			}
	}
	memset(e, 0, sizeof(*e));
	pm->n--;
}

static bool
is_sentinel(const struct fz_ip *ip)
{
	/* 100.100.111.0/24 lies inside 100.96.0.0/11; the IPv6 sentinels
	 * lie outside fd00:2021:1111:8000::/107. */
	return ip->af == AF_INET && ip->a[0] == 100 && ip->a[1] == 100 &&
	    ip->a[2] == 111;
}

static bool
valid_ips(const struct p2p_msg *m)
{
	if (m->nproxy != 4 && m->nproxy != 8)
		return false;
	for (size_t i = 0; i < m->nproxy; i++) {
		const struct fz_ip *ip = &m->proxy[i];

		if ((ip->af != AF_INET && ip->af != AF_INET6) ||
		    !proxymap_in_range(ip->af == AF_INET6, ip->a) ||
		    is_sentinel(ip))
			return false;
		for (size_t j = 0; j < i; j++)
			if (ip_eq(ip, &m->proxy[j]))
				return false;
	}
	return true;
}

static bool
valid_resource(const char *s)
{
	size_t len = strnlen(s, P2P_RESOURCE_MAX + 1);

	if (len == 0 || len > P2P_RESOURCE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

static bool
valid_domain(const char *s)
{
	size_t len = strnlen(s, P2P_DOMAIN_MAX + 1);

	if (len == 0 || len > P2P_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.'))
			return false;
	}
	return true;
}

int
proxymap_set(struct proxymap *pm, const struct p2p_msg *m)
{
	size_t i, n = PROXYMAP_MAX, oldest = 0;
	uint64_t ostamp = UINT64_MAX;

	if (m->type != P2P_ASSIGNED_IPS || !valid_resource(m->resource) ||
	    !valid_domain(m->domain) || !valid_ips(m))
		return -EINVAL;
	/* The same name: replaced; a name holding one of its IPs: gone. */
	for (i = 0; i < PROXYMAP_MAX; i++)
		if (pm->name[i].stamp != 0 &&
		    strcmp(pm->name[i].m.resource, m->resource) == 0 &&
		    strcmp(pm->name[i].m.domain, m->domain) == 0)
			remove_name(pm, i);
	for (i = 0; i < m->nproxy; i++) {
		int32_t s = find_slot(pm, &m->proxy[i]);

		if (s != NIL)
			remove_name(pm, (size_t)s / P2P_PROXY_MAX);
	}
	for (i = 0; i < PROXYMAP_MAX; i++) {
		if (pm->name[i].stamp == 0) {
			n = i;
			break;
		}
		if (pm->name[i].stamp < ostamp) {
			ostamp = pm->name[i].stamp;
			oldest = i;
		}
	}
	if (n == PROXYMAP_MAX) {
		remove_name(pm, oldest);
		n = oldest;
	}
	pm->name[n].m = *m;
	pm->name[n].stamp = ++pm->clock;
	pm->n++;
	for (i = 0; i < m->nproxy; i++) {
		int32_t s = (int32_t)(n * P2P_PROXY_MAX + i);
		uint32_t h = hash_ip(&m->proxy[i]);

		pm->slot[s].next = pm->bucket[h];
		pm->bucket[h] = s;
	}
	return 0;
}

int
proxymap_lookup(const struct proxymap *pm, const struct fz_ip *ip,
    struct p2p_msg *out)
{
	int32_t s;

	if ((ip->af != AF_INET && ip->af != AF_INET6) ||
	    (s = find_slot(pm, ip)) == NIL)
		return -ENOENT;
	*out = pm->name[s / P2P_PROXY_MAX].m;
	return 0;
}

size_t
proxymap_keep(struct proxymap *pm, const char *const *ids, size_t nids)
{
	size_t i, j, removed = 0;

	for (i = 0; i < PROXYMAP_MAX; i++) {
		if (pm->name[i].stamp == 0)
			continue;
		for (j = 0; j < nids; j++)
			if (strcmp(pm->name[i].m.resource, ids[j]) == 0)
				break;
		if (j == nids) {
			remove_name(pm, i);
			removed++;
		}
	}
	return removed;
}

void
proxymap_clear(struct proxymap *pm)
{
	for (size_t i = 0; i < PROXYMAP_MAX; i++)
		remove_name(pm, i);
}

size_t
proxymap_count(const struct proxymap *pm)
{
	return pm->n;
}

int
proxymap_parse(const char *resource, const char *domain, const char *ips,
    struct p2p_msg *out)
{
	union fz_sockaddr sa[P2P_PROXY_MAX];
	struct p2p_msg m;
	size_t n, i;

	if (resource == NULL || domain == NULL || ips == NULL ||
	    !valid_resource(resource) || !valid_domain(domain))
		return -EINVAL;
	if (addr_list_parse(ips, ADDR_PORT_NONE, sa, P2P_PROXY_MAX, &n) != 0)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.type = P2P_ASSIGNED_IPS;
	memcpy(m.resource, resource, strlen(resource) + 1);
	memcpy(m.domain, domain, strlen(domain) + 1);
	m.nproxy = n;
	for (i = 0; i < n; i++) {
		if (sa[i].sa.sa_family == AF_INET) {
			m.proxy[i].af = AF_INET;
			memcpy(m.proxy[i].a, &sa[i].in4.sin_addr, 4);
		} else {
			m.proxy[i].af = AF_INET6;
			memcpy(m.proxy[i].a, &sa[i].in6.sin6_addr, 16);
		}
	}
	if (!valid_ips(&m))
		return -EINVAL;
	*out = m;
	return 0;
}
