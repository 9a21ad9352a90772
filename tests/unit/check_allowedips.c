/* SPDX-License-Identifier: ISC */
/*
 * The allowed-IPs trie against a naive reference with random tables,
 * per-value (per-peer) removal, random insert/remove sequences, and
 * lookups running in other threads while the trie changes.  Host routes
 * (/32, /128: a table of their own beside the trie) get the same checks
 * with gateway-shaped tables, where most prefixes are host routes under
 * a few covering prefixes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"
#include "check_util.h"

#define NSETS	4096
static struct allowedips_set sets[NSETS];	/* per value, as peers keep */

static void *
V(int n)
{
	return (void *)(uintptr_t)n;
}

static struct allowedips_set *
S(int n)
{
	ck_assert_int_lt(n, NSETS);
	return &sets[n];
}

static void
sets_reset(void)
{
	memset(sets, 0, sizeof(sets));
}

static void
ins(struct allowedips *t, const char *s, int v)
{
	struct fz_cidr c;

	ck_assert_int_eq(cidr_parse(s, false, &c), 0);
	ck_assert_int_eq(allowedips_insert(t, &c, V(v), S(v)), 0);
}

static void *
look(struct allowedips *t, const char *s)
{
	uint8_t a[16];
	int fam = strchr(s, ':') != NULL ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(fam, s, a), 1);
	return allowedips_lookup(t, fam, a);
}

START_TEST(test_basic)
{
	struct allowedips *t;

	sets_reset();
	ck_assert_int_eq(allowedips_new(&t), 0);
	ck_assert_ptr_null(look(t, "10.0.0.1"));
	ins(t, "10.0.0.0/8", 1);
	ins(t, "10.1.0.0/16", 2);
	ins(t, "10.1.2.3/32", 3);
	ins(t, "0.0.0.0/0", 4);
	ins(t, "fd00::/8", 5);
	ins(t, "fd00:2021::/32", 6);
	ck_assert_ptr_eq(look(t, "10.0.0.1"), V(1));
	ck_assert_ptr_eq(look(t, "10.1.9.9"), V(2));
	ck_assert_ptr_eq(look(t, "10.1.2.3"), V(3));
	ck_assert_ptr_eq(look(t, "11.0.0.0"), V(4));
	ck_assert_ptr_eq(look(t, "fd00:2021::1"), V(6));
	ck_assert_ptr_eq(look(t, "fd01::1"), V(5));
	ck_assert_ptr_null(look(t, "2001:db8::1"));
	ck_assert_uint_eq(allowedips_count(t), 6);
	ins(t, "10.1.0.0/16", 7);			/* replace */
	ck_assert_ptr_eq(look(t, "10.1.9.9"), V(7));
	ck_assert_uint_eq(allowedips_count(t), 6);
	ck_assert_ptr_null(S(2)->first);		/* moved to 7's set */
	allowedips_remove_set(t, S(7));
	ck_assert_ptr_null(S(7)->first);
	ck_assert_ptr_eq(look(t, "10.1.9.9"), V(1));
	ck_assert_ptr_eq(look(t, "10.1.2.3"), V(3));
	allowedips_remove_set(t, S(2));			/* empty: no-op */
	allowedips_remove_set(t, S(4));
	ck_assert_ptr_null(look(t, "11.0.0.0"));
	ck_assert_uint_eq(allowedips_count(t), 4);
	allowedips_free(t);
}
END_TEST

struct ref {
	struct fz_cidr	c;
	int		v;
};

static int
ref_lookup(struct ref *r, int n, int fam, const uint8_t *a)
{
	int i, best = -1, bestlen = -1;

	for (i = 0; i < n; i++) {
		if (r[i].v != 0 && cidr_contains(&r[i].c, fam, a) &&
		    r[i].c.prefix > bestlen) {
			best = r[i].v;
			bestlen = r[i].c.prefix;
		}
	}
	return best;
}

/* Random prefixes biased to share bits, then random removals. */
static void
random_round(int fam, unsigned seed)
{
	enum { N = 1500, Q = 20000 };
	static struct ref r[N];
	unsigned alen = fam == AF_INET ? 4 : 16, maxp = alen * 8;
	struct allowedips *t;
	uint8_t a[16];
	int i, j, n = 0;

	srandom(seed);
	sets_reset();
	ck_assert_int_eq(allowedips_new(&t), 0);
	for (i = 0; i < N; i++) {
		struct fz_cidr c;
		char s[64];

		memset(a, 0, sizeof(a));
		for (j = 0; j < (int)alen; j++)
			a[j] = (uint8_t)(random() & (j < 2 ? 0x3 : 0xff));
		inet_ntop(fam, a, s, sizeof(s));
		snprintf(s + strlen(s), 8, "/%ld", random() % (maxp + 1));
		ck_assert_int_eq(cidr_parse(s, false, &c), 0);
		/* Later inserts of an equal prefix replace earlier ones. */
		for (j = 0; j < n; j++)
			if (r[j].c.prefix == c.prefix &&
			    memcmp(r[j].c.addr, c.addr, 16) == 0)
				r[j].v = 0;
		r[n].c = c;
		r[n].v = i + 1;
		n++;
		ck_assert_int_eq(allowedips_insert(t, &c, V(i + 1), S(i + 1)),
		    0);
	}
	for (i = 0; i < Q; i++) {
		int want, got;

		if (i == Q / 2) {
			/* Remove a third of the values. */
			for (j = 0; j < n; j += 3) {
				if (r[j].v != 0)
					allowedips_remove_set(t, S(r[j].v));
				r[j].v = 0;
			}
		}
		for (j = 0; j < (int)alen; j++)
			a[j] = (uint8_t)(random() & (j < 2 ? 0x3 : 0xff));
		want = ref_lookup(r, n, fam, a);
		got = (int)(uintptr_t)allowedips_lookup(t, fam, a);
		ck_assert_int_eq(got == 0 ? -1 : got, want);
	}
	allowedips_free(t);
}

START_TEST(test_random_v4)
{
	random_round(AF_INET, 1);
	random_round(AF_INET, 2);
}
END_TEST

START_TEST(test_random_v6)
{
	random_round(AF_INET6, 3);
}
END_TEST

static void
count_cb(const struct fz_cidr *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
}

START_TEST(test_walk_and_bad)
{
	struct allowedips *t;
	struct fz_cidr c;
	int n = 0;

	sets_reset();
	ck_assert_int_eq(allowedips_new(&t), 0);
	ins(t, "10.0.0.0/24", 1);
	ins(t, "fd00::1/128", 1);
	ins(t, "10.0.1.0/24", 2);
	allowedips_walk(t, S(1), count_cb, &n);
	ck_assert_int_eq(n, 2);
	memset(&c, 0, sizeof(c));
	c.family = AF_UNIX;
	ck_assert_int_eq(allowedips_insert(t, &c, V(1), S(1)), -EINVAL);
	ck_assert_int_eq(cidr_parse("1.2.3.4/32", true, &c), 0);
	ck_assert_int_eq(allowedips_insert(t, &c, NULL, S(1)), -EINVAL);
	ck_assert_int_eq(allowedips_insert(t, &c, V(1), NULL), -EINVAL);
	ck_assert_ptr_null(allowedips_lookup(t, AF_UNIX, c.addr));
	allowedips_free(t);
	allowedips_free(NULL);
}
END_TEST

/* A random prefix of either family, biased to share leading bits. */
static void
rand_cidr(struct fz_cidr *c)
{
	int fam = random() % 2 ? AF_INET : AF_INET6;
	unsigned alen = fam == AF_INET ? 4 : 16, j;
	uint8_t a[16];
	char s[64];

	memset(a, 0, sizeof(a));
	for (j = 0; j < alen; j++)
		a[j] = (uint8_t)(random() & (j < 2 ? 0x1 : 0xff));
	inet_ntop(fam, a, s, sizeof(s));
	snprintf(s + strlen(s), 8, "/%ld", random() % (alen * 8 + 1));
	ck_assert_int_eq(cidr_parse(s, false, c), 0);
}

struct walk_ctx {
	struct ref	*r;
	int		 n, v, seen;
};

static void
walk_check(const struct fz_cidr *c, void *arg)
{
	struct walk_ctx *w = arg;
	int i;

	for (i = 0; i < w->n; i++)
		if (w->r[i].v == w->v && w->r[i].c.family == c->family &&
		    w->r[i].c.prefix == c->prefix &&
		    memcmp(w->r[i].c.addr, c->addr, 16) == 0)
			break;
	ck_assert_int_lt(i, w->n);
	w->seen++;
}

/*
 * One step of a random sequence, on the trie and the reference alike:
 * insert a prefix from gen for a random value (replacing an equal prefix),
 * or, one time in remove_one_in, remove every prefix of a random value.
 */
static void
random_step(struct allowedips *t, struct ref *r, int *n, int *live, int nv,
    int remove_one_in, void (*gen)(struct fz_cidr *))
{
	int v = 1 + (int)(random() % nv), j;

	if (random() % remove_one_in != 0) {
		struct fz_cidr c;

		gen(&c);
		for (j = 0; j < *n; j++)
			if (r[j].v != 0 && r[j].c.family == c.family &&
			    r[j].c.prefix == c.prefix &&
			    memcmp(r[j].c.addr, c.addr, 16) == 0) {
				r[j].v = 0;
				(*live)--;
			}
		r[*n].c = c;
		r[(*n)++].v = v;
		(*live)++;
		ck_assert_int_eq(allowedips_insert(t, &c, V(v), S(v)), 0);
	} else {
		allowedips_remove_set(t, S(v));
		ck_assert_ptr_null(S(v)->first);
		for (j = 0; j < *n; j++)
			if (r[j].v == v) {
				r[j].v = 0;
				(*live)--;
			}
	}
}

/*
 * Random sequences of inserts (replacing equal prefixes) and per-value
 * removals, both families in one trie, checked against the reference
 * after every few steps: lookups, the count, and each value's walk.
 */
START_TEST(test_random_sequences)
{
	enum { NV = 64, OPS = 6000, CAP = OPS };
	static struct ref r[CAP];
	struct allowedips *t;
	int i, j, n = 0, live = 0;

	srandom(7 + (unsigned)_i);
	sets_reset();
	ck_assert_int_eq(allowedips_new(&t), 0);
	for (i = 0; i < OPS; i++) {
		random_step(t, r, &n, &live, NV, 8, rand_cidr);
		if (i % 97 != 0)
			continue;
		ck_assert_uint_eq(allowedips_count(t), (size_t)live);
		for (j = 0; j < 64; j++) {
			int fam = j % 2 ? AF_INET : AF_INET6, want, got, k;
			uint8_t a[16];

			for (k = 0; k < 16; k++)
				a[k] = (uint8_t)(random() & (k < 2 ? 0x1 :
				    0xff));
			want = ref_lookup(r, n, fam, a);
			got = (int)(uintptr_t)allowedips_lookup(t, fam, a);
			ck_assert_int_eq(got == 0 ? -1 : got, want);
		}
		for (j = 1; j <= NV; j++) {
			struct walk_ctx w = { r, n, j, 0 };
			int k, want = 0;

			allowedips_walk(t, S(j), walk_check, &w);
			for (k = 0; k < n; k++)
				want += r[k].v == j;
			ck_assert_int_eq(w.seen, want);
		}
	}
	/* Removing every value leaves nothing to match. */
	for (j = 1; j <= NV; j++)
		allowedips_remove_set(t, S(j));
	ck_assert_uint_eq(allowedips_count(t), 0);
	ck_assert_ptr_null(look(t, "0.0.0.0"));
	ck_assert_ptr_null(look(t, "::"));
	allowedips_free(t);
}
END_TEST

/* A host route wins over every shorter prefix; its removal uncovers them. */
/*
 * Prefetching a batch gives each address's host-route value (what a
 * lookup finds when the address has one), NULL otherwise, and skips
 * families it does not know.
 */
START_TEST(test_prefetch_values)
{
	static const char *const q[] = { "10.1.2.3", "10.1.2.9", "fd00::1",
	    "fd00::2", "10.1.2.3", "192.0.2.1", "::a01:203", "10.1.2.2",
	    "fd00::1", "10.1.2.3", "10.1.2.2", "10.1.2.3", "fd00::1",
	    "10.1.2.3", "10.1.2.2", "10.1.2.3", "10.1.2.3", "fd00::1" };
	enum { N = sizeof(q) / sizeof(q[0]) };
	uint8_t a[N][16];
	const uint8_t *addr[N];
	int fam[N], i;
	void *v[N];
	struct allowedips *t;

	sets_reset();
	ck_assert_int_eq(allowedips_new(&t), 0);
	memset(a, 0, sizeof(a));
	for (i = 0; i < N; i++) {
		fam[i] = strchr(q[i], ':') != NULL ? AF_INET6 : AF_INET;
		ck_assert_int_eq(inet_pton(fam[i], q[i], a[i]), 1);
		addr[i] = a[i];
	}
	allowedips_prefetch(t, fam, addr, N, v);	/* no host table */
	for (i = 0; i < N; i++)
		ck_assert_ptr_null(v[i]);
	ins(t, "10.0.0.0/8", 2);
	ins(t, "10.1.2.3/32", 4);
	ins(t, "10.1.2.2/32", 5);
	ins(t, "fd00::1/128", 8);
	fam[5] = AF_UNIX;		/* skipped */
	allowedips_prefetch(t, fam, addr, N, v);
	for (i = 0; i < N; i++) {
		void *want = fam[i] == AF_UNIX ? NULL :
		    allowedips_lookup(t, fam[i], a[i]);

		/* Only host routes: 10.1.2.9 (the /8) gives NULL. */
		if (want == V(2))
			want = NULL;
		ck_assert_ptr_eq(v[i], want);
	}
	allowedips_free(t);
}
END_TEST

/*
 * A set's own host route among its first two prefixes is the longest
 * match; anything else (a third prefix, a shorter one, another value's
 * route, a removed one) answers false, and the lookup decides.
 */
START_TEST(test_set_has_host)
{
	struct allowedips *t;
	uint8_t a4[4], b4[4], c4[4], a6[16];

	sets_reset();
	ck_assert_int_eq(allowedips_new(&t), 0);
	ck_assert_int_eq(inet_pton(AF_INET, "10.0.0.1", a4), 1);
	ck_assert_int_eq(inet_pton(AF_INET, "10.0.0.2", b4), 1);
	ck_assert_int_eq(inet_pton(AF_INET, "10.0.0.3", c4), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "fd00::1", a6), 1);
	ck_assert(!allowedips_set_has_host(S(1), AF_INET, a4, V(1)));
	ins(t, "10.0.0.1/32", 1);	/* set 1: newest first */
	ins(t, "10.9.0.0/16", 1);
	ins(t, "fd00::1/128", 1);
	ck_assert(allowedips_set_has_host(S(1), AF_INET6, a6, V(1)));
	ck_assert(!allowedips_set_has_host(S(1), AF_INET, a4, V(1)));
	ck_assert_ptr_eq(allowedips_lookup(t, AF_INET, a4), V(1));
	ins(t, "10.0.0.2/32", 2);	/* set 2: its own, then another's */
	ins(t, "10.0.0.3/32", 2);
	ck_assert(allowedips_set_has_host(S(2), AF_INET, b4, V(2)));
	ck_assert(allowedips_set_has_host(S(2), AF_INET, c4, V(2)));
	ck_assert(!allowedips_set_has_host(S(2), AF_INET, c4, V(1)));
	ck_assert(!allowedips_set_has_host(S(2), AF_INET6, a6, V(2)));
	ins(t, "10.0.0.3/32", 3);	/* moves to set 3 */
	ck_assert(!allowedips_set_has_host(S(2), AF_INET, c4, V(2)));
	ck_assert(allowedips_set_has_host(S(3), AF_INET, c4, V(3)));
	ck_assert(allowedips_set_has_host(S(2), AF_INET, b4, V(2)));
	/* The set's copy is being written (odd seq): false, look it up. */
	atomic_fetch_add(&S(2)->seq, 1);
	ck_assert(!allowedips_set_has_host(S(2), AF_INET, b4, V(2)));
	atomic_fetch_add(&S(2)->seq, 1);
	ck_assert(allowedips_set_has_host(S(2), AF_INET, b4, V(2)));
	ck_assert(!allowedips_set_has_host(S(4), AF_INET, b4, V(4)));
	/* A third prefix becomes second when the first goes (removal). */
	ins(t, "10.0.0.4/32", 2);
	ins(t, "10.0.0.5/32", 2);
	ck_assert(!allowedips_set_has_host(S(2), AF_INET, b4, V(2)));
	ins(t, "10.0.0.5/32", 3);
	ck_assert(allowedips_set_has_host(S(2), AF_INET, b4, V(2)));
	allowedips_remove_set(t, S(2));
	ck_assert(!allowedips_set_has_host(S(2), AF_INET, b4, V(2)));
	ck_assert_ptr_null(allowedips_lookup(t, AF_INET, b4));
	allowedips_free(t);
}
END_TEST

START_TEST(test_host_routes)
{
	struct allowedips *t;
	int i;

	sets_reset();
	ck_assert_int_eq(allowedips_new(&t), 0);
	ins(t, "0.0.0.0/0", 1);
	ins(t, "10.0.0.0/8", 2);
	ins(t, "10.1.2.0/30", 3);
	ins(t, "10.1.2.3/32", 4);
	ins(t, "10.1.2.2/32", 5);
	ins(t, "::/0", 6);
	ins(t, "fd00::/64", 7);
	ins(t, "fd00::1/128", 8);
	/* ::a01:203 shares its last 32 bits with 10.1.2.3: another key. */
	ck_assert_ptr_eq(look(t, "::a01:203"), V(6));
	ck_assert_ptr_eq(look(t, "10.1.2.3"), V(4));
	ck_assert_ptr_eq(look(t, "10.1.2.2"), V(5));
	ck_assert_ptr_eq(look(t, "10.1.2.1"), V(3));
	ck_assert_ptr_eq(look(t, "fd00::1"), V(8));
	ck_assert_ptr_eq(look(t, "fd00::2"), V(7));
	/* The same host route again replaces its value. */
	ins(t, "10.1.2.3/32", 9);
	ck_assert_ptr_eq(look(t, "10.1.2.3"), V(9));
	ck_assert_ptr_null(S(4)->first);
	ck_assert_uint_eq(allowedips_count(t), 8);
	allowedips_remove_set(t, S(9));
	ck_assert_ptr_eq(look(t, "10.1.2.3"), V(3));
	allowedips_remove_set(t, S(5));
	ck_assert_ptr_eq(look(t, "10.1.2.2"), V(3));
	allowedips_remove_set(t, S(8));
	ck_assert_ptr_eq(look(t, "fd00::1"), V(7));
	/* Many host routes (the table grows), then all gone (it goes). */
	for (i = 0; i < 3000; i++) {
		char s[40];

		snprintf(s, sizeof(s), "10.2.%d.%d/32", i / 256, i % 256);
		ins(t, s, 10 + i % 100);
		snprintf(s, sizeof(s), "fd00::2:%x/128", i);
		ins(t, s, 10 + i % 100);
	}
	ck_assert_ptr_eq(look(t, "10.2.11.183"), V(10 + 2999 % 100));
	ck_assert_ptr_eq(look(t, "fd00::2:bb7"), V(10 + 2999 % 100));
	ck_assert_ptr_eq(look(t, "10.2.11.184"), V(2));
	for (i = 10; i < 110; i++)
		allowedips_remove_set(t, S(i));
	ck_assert_ptr_eq(look(t, "10.2.11.183"), V(2));
	ck_assert_ptr_eq(look(t, "fd00::2:bb7"), V(7));
	ck_assert_uint_eq(allowedips_count(t), 5);
	ck_assert_ptr_eq(look(t, "10.1.2.3"), V(3));
	ins(t, "10.1.2.3/32", 11);
	ck_assert_ptr_eq(look(t, "10.1.2.3"), V(11));
	allowedips_free(t);
}
END_TEST

/* A gateway-shaped prefix: mostly host routes in a small address space. */
static void
rand_gw_cidr(struct fz_cidr *c)
{
	static const uint8_t v4len[] = { 0, 8, 16, 22, 24, 30, 31 };
	static const uint8_t v6len[] = { 0, 48, 64, 112, 120, 126, 127 };
	bool v4 = random() % 2;
	unsigned k = (unsigned)random() % 10;

	memset(c, 0, sizeof(*c));
	c->family = v4 ? AF_INET : AF_INET6;
	if (v4) {
		c->addr[0] = 10;
		c->addr[2] = (uint8_t)(random() & 3);
		c->addr[3] = (uint8_t)random();
	} else {
		c->addr[0] = 0xfd;
		c->addr[14] = (uint8_t)(random() & 3);
		c->addr[15] = (uint8_t)random();
	}
	c->prefix = k < 7 ? (v4 ? 32 : 128) : v4 ? v4len[random() % 7] :
	    v6len[random() % 7];
	for (k = 0; k < 16; k++)
		c->addr[k] &= (uint8_t)(0xff00 >> (c->prefix <= k * 8 ? 0 :
		    c->prefix >= k * 8 + 8 ? 8 : c->prefix - k * 8));
}

/*
 * Random sequences as above over a gateway's table: host routes come and
 * go in a space small enough that lookups hit them, under shorter
 * prefixes that must answer once a host route is gone.
 */
START_TEST(test_random_host_sequences)
{
	enum { NV = 600, OPS = 8000, CAP = OPS };
	static struct ref r[CAP];
	struct allowedips *t;
	int i, j, n = 0, live = 0;

	srandom(11 + (unsigned)_i);
	sets_reset();
	ck_assert_int_eq(allowedips_new(&t), 0);
	for (i = 0; i < OPS; i++) {
		random_step(t, r, &n, &live, NV, 4, rand_gw_cidr);
		if (i % 31 != 0)
			continue;
		ck_assert_uint_eq(allowedips_count(t), (size_t)live);
		for (j = 0; j < 64; j++) {
			struct fz_cidr a;
			int want, got;

			rand_gw_cidr(&a);
			want = ref_lookup(r, n, a.family, a.addr);
			got = (int)(uintptr_t)allowedips_lookup(t, a.family,
			    a.addr);
			ck_assert_int_eq(got == 0 ? -1 : got, want);
		}
	}
	for (j = 1; j <= NV; j++) {
		struct walk_ctx w = { r, n, j, 0 };
		int k, want = 0;

		allowedips_walk(t, S(j), walk_check, &w);
		for (k = 0; k < n; k++)
			want += r[k].v == j;
		ck_assert_int_eq(w.seen, want);
		allowedips_remove_set(t, S(j));
	}
	ck_assert_uint_eq(allowedips_count(t), 0);
	allowedips_free(t);
}
END_TEST

/* Lookups in other threads while prefixes come and go (RCU; run ASan). */
static _Atomic bool stop_readers;
static struct allowedips *shared;

static void *
reader(void *arg)
{
	uint8_t a[4] = { 10, 255, 0, 0 }, b[4] = { 172, 0, 0, 1 };
	unsigned long i = 0;

	(void)arg;
	while (!atomic_load(&stop_readers)) {
		void *v;

		a[2] = (uint8_t)i;
		a[3] = (uint8_t)(i >> 8);
		/* The stable prefix never changes. */
		ck_assert_ptr_eq(allowedips_lookup(shared, AF_INET, a), V(1));
		/* Where the writer works: walks nodes as they go. */
		b[1] = (uint8_t)i;
		b[2] = (uint8_t)(i >> 3);
		v = allowedips_lookup(shared, AF_INET, b);
		ck_assert(v == NULL || ((uintptr_t)v >= 2 &&
		    (uintptr_t)v < NSETS));
		i++;
	}
	return NULL;
}

START_TEST(test_concurrent_lookups)
{
	pthread_t th[2];
	int i, k;

	sets_reset();
	ck_assert_int_eq(allowedips_new(&shared), 0);
	ins(shared, "10.255.0.0/16", 1);
	atomic_store(&stop_readers, false);
	for (k = 0; k < 2; k++)
		ck_assert_int_eq(pthread_create(&th[k], NULL, reader, NULL), 0);
	for (i = 0; i < 60000; i++) {
		int v = 2 + i % 500;
		char s[32];

		snprintf(s, sizeof(s), "172.%d.%d.0/%d", i % 256,
		    (i / 256) % 256, 8 + i % 17);
		if (i % 3 == 2)
			allowedips_remove_set(shared, S(v));
		else
			ins(shared, s, v);
	}
	atomic_store(&stop_readers, true);
	for (k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	for (i = 1; i < 502; i++)
		allowedips_remove_set(shared, S(i));
	ck_assert_uint_eq(allowedips_count(shared), 0);
	allowedips_free(shared);
}
END_TEST

/*
 * Readers of host routes while others come and go (tombstones, tables
 * grown, shrunk and dropped): a stable host route is always found, and
 * a changing one gives its value or the covering prefix's, never none.
 */
static void *
host_reader(void *arg)
{
	uint8_t fixed[4] = { 10, 254, 0, 1 }, a[4] = { 10, 9, 0, 0 };
	unsigned long i = 0;

	(void)arg;
	while (!atomic_load(&stop_readers)) {
		void *v;

		ck_assert_ptr_eq(allowedips_lookup(shared, AF_INET, fixed),
		    V(3));
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		v = allowedips_lookup(shared, AF_INET, a);
		ck_assert(v == V(1) || ((uintptr_t)v >= 4 &&
		    (uintptr_t)v < 4 + 300));
		i++;
	}
	return NULL;
}

START_TEST(test_concurrent_host_lookups)
{
	pthread_t th[2];
	int i, k;

	sets_reset();
	ck_assert_int_eq(allowedips_new(&shared), 0);
	ins(shared, "10.0.0.0/8", 1);
	ins(shared, "10.254.0.1/32", 3);
	atomic_store(&stop_readers, false);
	for (k = 0; k < 2; k++)
		ck_assert_int_eq(pthread_create(&th[k], NULL, host_reader,
		    NULL), 0);
	for (i = 0; i < 60000; i++) {
		int v = 4 + i % 300;
		char s[32];

		snprintf(s, sizeof(s), "10.9.%d.%d/32", (i / 7) % 256,
		    i % 256);
		if (i % 3 == 2)
			allowedips_remove_set(shared, S(v));
		else
			ins(shared, s, v);
		/* Now and then every changing route goes (a table dropped). */
		if (i % 5000 == 4999)
			for (k = 4; k < 4 + 300; k++)
				allowedips_remove_set(shared, S(k));
	}
	atomic_store(&stop_readers, true);
	for (k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	for (i = 1; i < 4 + 300; i++)
		allowedips_remove_set(shared, S(i));
	ck_assert_uint_eq(allowedips_count(shared), 0);
	allowedips_free(shared);
}
END_TEST

static Suite *
aip_suite(void)
{
	Suite *s = suite_create("allowedips");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_random_v4);
	tcase_add_test(tc, test_random_v6);
	tcase_add_test(tc, test_walk_and_bad);
	tcase_add_loop_test(tc, test_random_sequences, 0, 3);
	tcase_add_test(tc, test_concurrent_lookups);
	tcase_add_test(tc, test_host_routes);
	tcase_add_test(tc, test_prefetch_values);
	tcase_add_test(tc, test_set_has_host);
	tcase_add_loop_test(tc, test_random_host_sequences, 0, 3);
	tcase_add_test(tc, test_concurrent_host_lookups);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(aip_suite)
