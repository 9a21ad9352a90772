/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dns_pattern.h"
#include "gw_dnsres.h"

#define ID_MAX	64

struct ent {
	char		 client[ID_MAX + 1];
	char		 resource[ID_MAX + 1];
	char		 pattern[DNS_PATTERN_MAX + 1];	/* normalized */
	uint64_t	 expires_at;
};

struct gw_dnsres {
	struct ent	*e;
	size_t		 n, cap;
};

struct gw_dnsres *
gw_dnsres_new(void)
{
	return calloc(1, sizeof(struct gw_dnsres));
}

void
gw_dnsres_free(struct gw_dnsres *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t);
}

static bool
id_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n <= ID_MAX;
}

static struct ent *
find(const struct gw_dnsres *t, const char *cid, const char *rid)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->e[i].client, cid) == 0 &&
		    strcmp(t->e[i].resource, rid) == 0)
			return &t->e[i];
	return NULL;
}

int
gw_dnsres_set(struct gw_dnsres *t, const char *cid, const char *rid,
    const char *pattern, uint64_t expires_at)
{
	char norm[DNS_PATTERN_MAX + 1];
	struct ent *e;

	if (!id_ok(cid) || !id_ok(rid) || pattern == NULL ||
	    dns_pattern_normalize(pattern, norm, sizeof(norm)) != 0)
		return -EINVAL;
	if ((e = find(t, cid, rid)) == NULL) {
		if (t->n >= GW_DNSRES_MAX)
			return -ENOSPC;
		if (t->n == t->cap) {
			size_t nc = t->cap == 0 ? 16 : 2 * t->cap;
			struct ent *ne;

			if ((ne = realloc(t->e, nc * sizeof(*ne))) == NULL)
				return -ENOMEM;
			t->e = ne;
			t->cap = nc;
		}
		e = &t->e[t->n++];
		memset(e, 0, sizeof(*e));
		memcpy(e->client, cid, strlen(cid) + 1);
		memcpy(e->resource, rid, strlen(rid) + 1);
	}
	memcpy(e->pattern, norm, sizeof(e->pattern));
	e->expires_at = expires_at;
	return 0;
}

int
gw_dnsres_del(struct gw_dnsres *t, const char *cid, const char *rid)
{
	struct ent *e;

	if (!id_ok(cid) || !id_ok(rid) || (e = find(t, cid, rid)) == NULL)
		return -ENOENT;
	*e = t->e[--t->n];
	return 0;
}

size_t
gw_dnsres_update(struct gw_dnsres *t, const char *rid, const char *pattern)
{
	char norm[DNS_PATTERN_MAX + 1];
	bool ok = pattern != NULL &&
	    dns_pattern_normalize(pattern, norm, sizeof(norm)) == 0;
	size_t i = 0, n = 0;

	if (!id_ok(rid))
		return 0;
	while (i < t->n) {
		if (strcmp(t->e[i].resource, rid) != 0) {
			i++;
			continue;
		}
		n++;
		if (!ok) {
			t->e[i] = t->e[--t->n];	/* fails closed */
			continue;
		}
		memcpy(t->e[i].pattern, norm, sizeof(norm));
		i++;
	}
	return n;
}

void
gw_dnsres_clear(struct gw_dnsres *t)
{
	t->n = 0;
}

int
gw_dnsres_check(const struct gw_dnsres *t, const char *cid, const char *rid,
    const char *domain, uint64_t now)
{
	const struct ent *e;

	if (!id_ok(cid) || !id_ok(rid) || (e = find(t, cid, rid)) == NULL)
		return -ENOENT;
	if (e->expires_at != 0 && now >= e->expires_at)
		return -ETIMEDOUT;
	if (domain == NULL || !dns_pattern_match(e->pattern, domain))
		return -EPERM;
	return 0;
}

size_t
gw_dnsres_count(const struct gw_dnsres *t)
{
	return t->n;
}
