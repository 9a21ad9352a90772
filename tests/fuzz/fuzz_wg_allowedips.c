/* SPDX-License-Identifier: ISC */
/*
 * The allowed-IPs trie driven by arbitrary bytes, against a naive
 * reference: each step inserts a prefix for one of 8 values, removes a
 * value's prefixes (per-peer removal), or looks an address up; any
 * difference from the reference (lookup, count, a value's walk) aborts.
 *
 * Step: op (1 byte), then for an insert: family and value (1 byte), prefix
 * length (1; from 0xc0 on a host route, /32 or /128), address (16, IPv4
 * uses the first 4); for a removal: value (1); for a lookup: family (1),
 * address (16); for a lookup near an inserted prefix: which one (1) and
 * a byte XORed into its address's last byte (1; 0: the address itself),
 * so that host routes, and their neighbours, are looked up too.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"
#include "wg_rcu.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * call_rcu, run at once: this program has one thread and no reader inside
 * a read-side section when the trie unlinks a node, so the grace period is
 * already over.  With liburcu's deferred frees an input that removes
 * prefixes ends with more mallocs than frees, and libFuzzer then runs a
 * full leak scan after it (about 500 exec/s instead of tens of thousands;
 * rcu_barrier() per input is slower still).  This definition takes the
 * place of liburcu-bp's for the code linked into this program.
 */
void
urcu_bp_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *))
{
	func(head);
}

#define NV	8
#define NREF	512

struct ref {
	struct fz_cidr	c;
	int		v;		/* 0: gone */
};

static int
ref_lookup(const struct ref *r, int n, int fam, const uint8_t *a)
{
	int i, best = 0, bestlen = -1;

	for (i = 0; i < n; i++)
		if (r[i].v != 0 && cidr_contains(&r[i].c, fam, a) &&
		    r[i].c.prefix > bestlen) {
			best = r[i].v;
			bestlen = r[i].c.prefix;
		}
	return best;
}

static void
count_cb(const struct fz_cidr *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
}

static void
mask(struct fz_cidr *c)
{
	unsigned alen = c->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < 16; i++) {
		unsigned keep = i >= alen ? 0 : c->prefix >= (i + 1) * 8 ? 8 :
		    c->prefix > i * 8 ? c->prefix - i * 8 : 0;

		c->addr[i] &= (uint8_t)(0xff00 >> keep);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct ref r[NREF];
	struct allowedips_set sets[NV + 1];
	struct allowedips *t;
	size_t off = 0;
	int nr = 0, i, live = 0;

	if (allowedips_new(&t) != 0)
		return 0;
	memset(sets, 0, sizeof(sets));
	while (off < n) {
		uint8_t op = d[off++] % 4;

		if (op == 0 && n - off >= 18 && nr < NREF) {
			struct fz_cidr c;
			int v = 1 + (d[off] & 7);

			memset(&c, 0, sizeof(c));
			c.family = d[off] & 8 ? AF_INET6 : AF_INET;
			c.prefix = (uint8_t)(d[off + 1] >= 0xc0 ?
			    (c.family == AF_INET ? 32 : 128) : d[off + 1] %
			    (c.family == AF_INET ? 33 : 129));
			memcpy(c.addr, d + off + 2, 16);
			mask(&c);
			off += 18;
			if (allowedips_insert(t, &c, (void *)(uintptr_t)v,
			    &sets[v]) != 0)
				abort();
			for (i = 0; i < nr; i++)
				if (r[i].v != 0 && r[i].c.family == c.family &&
				    r[i].c.prefix == c.prefix &&
				    memcmp(r[i].c.addr, c.addr, 16) == 0) {
					r[i].v = 0;
					live--;
				}
			r[nr].c = c;
			r[nr++].v = v;
			live++;
		} else if (op == 1 && n - off >= 1) {
			int v = 1 + (d[off++] & 7);

			allowedips_remove_set(t, &sets[v]);
			if (sets[v].first != NULL)
				abort();
			for (i = 0; i < nr; i++)
				if (r[i].v == v) {
					r[i].v = 0;
					live--;
				}
		} else if (op == 2 && n - off >= 17) {
			int fam = d[off] & 1 ? AF_INET6 : AF_INET;

			if ((int)(uintptr_t)allowedips_lookup(t, fam,
			    d + off + 1) != ref_lookup(r, nr, fam, d + off + 1))
				abort();
			off += 17;
		} else if (op == 3 && n - off >= 2 && nr > 0) {
			const struct ref *e = &r[d[off] % nr];
			uint8_t a[16];

			memcpy(a, e->c.addr, 16);
			a[e->c.family == AF_INET ? 3 : 15] ^= d[off + 1];
			if ((int)(uintptr_t)allowedips_lookup(t, e->c.family,
			    a) != ref_lookup(r, nr, e->c.family, a))
				abort();
			off += 2;
		} else
			break;
	}
	if (allowedips_count(t) != (size_t)live)
		abort();
	for (i = 1; i <= NV; i++) {
		int want = 0, got = 0, j;

		for (j = 0; j < nr; j++)
			want += r[j].v == i;
		allowedips_walk(t, &sets[i], count_cb, &got);
		if (got != want)
			abort();
	}
	allowedips_free(t);
	return 0;
}
