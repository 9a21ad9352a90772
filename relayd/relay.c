/* SPDX-License-Identifier: ISC */
/*
 * TURN request handling (RFC 8656) and the relay's tables.  Everything is
 * bounded: allocations (max_allocations, user_quota), permissions and
 * channels per allocation.  Nonces are stateless (see nonce_mint), so
 * unauthenticated requests create no state at all.
 */
#define LOG_MODULE "relay"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fztime.h"
#include "log.h"
#include "relay.h"

#define ALLOC_BUCKETS	4096
#define CHAN_BUCKETS	16384
#define USER_BUCKETS	4096
#define NS		1000000000ULL
#define MAX_RESERVATIONS 1024
#define RESERVATION_LIFETIME 30
#define STUN_CLASS_BITS	0x0110	/* C1 and C0 of the message type */

struct reservation {
	uint8_t		token[8];
	uint16_t	port;
	bool		v4, v6;		/* the families of the first half */
	uint64_t	expires;
};

struct relay {
	struct relay_config	 cfg;
	struct relay_ops	 ops;
	uint8_t			 hkey[crypto_shorthash_KEYBYTES];
	struct relay_alloc	*allocs[ALLOC_BUCKETS];
	struct relay_alloc	*all;
	struct relay_alloc	*by_user[USER_BUCKETS];
	/* the challenge bucket: tokens in ns of rate (1 s full) */
	uint64_t		 ch_tokens_ns, ch_last_ns;
	unsigned		 nallocs, nchans, nperms;
	struct relay_channel	*by_client[CHAN_BUCKETS];
	struct relay_channel	*by_peer[CHAN_BUCKETS];
	/* nonce MAC keys: [0] for nonce_epoch, [1] for the one before */
	uint8_t			 nonce_key[2][crypto_generichash_KEYBYTES];
	uint64_t		 nonce_epoch;
	struct reservation	 res[MAX_RESERVATIONS];
	unsigned		 nres;
	_Atomic uint64_t	 ctr[RC_COUNT];
	struct log_ratelimit	 rl;
	/* the portal's secret, copied: cfg.stamp_secret points here */
	char			 stamp[RELAY_STAMP_SECRET_MAX + 1];
	uint8_t			 indication[65536 + 200];	/* Data */
};

static const char *const ctr_names[RC_COUNT] = {
	[RC_PKTS_C2P] = "packets_client_to_peer",
	[RC_BYTES_C2P] = "bytes_client_to_peer",
	[RC_PKTS_P2C] = "packets_peer_to_client",
	[RC_BYTES_P2C] = "bytes_peer_to_client",
	[RC_AUTH_MISSING] = "auth_missing",
	[RC_AUTH_BAD] = "auth_bad_integrity",
	[RC_AUTH_EXPIRED] = "auth_expired",
	[RC_AUTH_STALE_NONCE] = "auth_stale_nonce",
	[RC_AUTH_BAD_USERNAME] = "auth_bad_username",
	[RC_DROP_NO_CHANNEL] = "no_channel",
	[RC_DROP_NO_PERMISSION] = "no_permission",
	[RC_DROP_NO_ALLOCATION] = "no_allocation",
	[RC_DROP_MALFORMED] = "malformed",
	[RC_DROP_FORBIDDEN_PEER] = "forbidden_peer",
	[RC_DROP_TRUNCATED] = "truncated",
	[RC_DROP_SEND_FAILED] = "send_failed",
	[RC_DROP_FAMILY] = "family_mismatch",
	[RC_DROP_NOT_STUN] = "not_stun",
	[RC_REQ_BINDING] = "binding",
	[RC_REQ_ALLOCATE] = "allocate",
	[RC_REQ_REFRESH] = "refresh",
	[RC_REQ_PERMISSION] = "createpermission",
	[RC_REQ_CHANNEL_BIND] = "channelbind",
	[RC_REQ_OTHER] = "other",
	[RC_IND_SEND] = "send_indication",
	[RC_RESP_SUCCESS] = "success",
	[RC_RESP_ERROR] = "error",
	[RC_QUOTA] = "quota",
	[RC_CAPACITY] = "capacity",
	[RC_DROP_CHALLENGE_RATE] = "challenge_rate",
};

const char *
relay_counter_name(enum relay_counter c)
{
	return c < RC_COUNT ? ctr_names[c] : "?";
}

uint64_t
relay_counter(const struct relay *r, enum relay_counter c)
{
	return atomic_load_explicit(&((struct relay *)r)->ctr[c],
	    memory_order_relaxed);
}

void
relay_count(struct relay *r, enum relay_counter c, uint64_t n)
{
	atomic_fetch_add_explicit(&r->ctr[c], n, memory_order_relaxed);
}

unsigned
relay_allocations(const struct relay *r)
{
	return r->nallocs;
}

unsigned
relay_channels(const struct relay *r)
{
	return r->nchans;
}

unsigned
relay_permissions(const struct relay *r)
{
	return r->nperms;
}

void
taddr_from_sa(struct taddr *t, const struct sockaddr *sa)
{
	memset(t, 0, sizeof(*t));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		t->fam = 4;
		t->port = s->sin_port;
		memcpy(t->ip, &s->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)sa;

		t->fam = 6;
		t->port = s->sin6_port;
		memcpy(t->ip, &s->sin6_addr, 16);
	}
}

void
taddr_to_sa(const struct taddr *t, union fz_sockaddr *u)
{
	memset(u, 0, sizeof(*u));
	if (t->fam == 4) {
		u->in4.sin_family = AF_INET;
		u->in4.sin_port = t->port;
		memcpy(&u->in4.sin_addr, t->ip, 4);
	} else {
		u->in6.sin6_family = AF_INET6;
		u->in6.sin6_port = t->port;
		memcpy(&u->in6.sin6_addr, t->ip, 16);
	}
}

static unsigned
hash(const struct relay *r, const void *p, size_t n, unsigned buckets)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, p, n, r->hkey);
	memcpy(&v, h, sizeof(v));
	return (unsigned)(v & (buckets - 1));
}

/* --- credentials ----------------------------------------------------------- */

void
relay_rest_password(const char *secret, const char *user, char *out, size_t cap)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	HMAC(EVP_sha1(), secret, (int)strlen(secret), (const uint8_t *)user,
	    strlen(user), mac, &n);
	sodium_bin2base64(out, cap, mac, n, sodium_base64_VARIANT_ORIGINAL);
}

/* "expiry:salt" -> base64_nopad(SHA-256("expiry:secret:salt")). */
void
relay_firezone_password(const char *secret, const char *user, char *out,
    size_t cap)
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	const char *colon = strchr(user, ':');
	size_t elen = colon != NULL ? (size_t)(colon - user) : strlen(user);

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)user, elen);
	crypto_hash_sha256_update(&st, (const uint8_t *)":", 1);
	crypto_hash_sha256_update(&st, (const uint8_t *)secret, strlen(secret));
	crypto_hash_sha256_update(&st, (const uint8_t *)":", 1);
	if (colon != NULL)
		crypto_hash_sha256_update(&st, (const uint8_t *)colon + 1,
		    strlen(colon + 1));
	crypto_hash_sha256_final(&st, h);
	sodium_bin2base64(out, cap, h, sizeof(h),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

/*
 * Whether a username has the Firezone shape "<expiry>:<salt>": exactly one
 * ':' (section 3.3; the salt itself is never parsed).
 */
static bool
firezone_username(const char *u)
{
	const char *colon = strchr(u, ':');

	return colon != NULL && strchr(colon + 1, ':') == NULL;
}

/* The expiry before the first ':' (or the whole name): -EINVAL if none. */
static int
username_expiry(const char *u, uint64_t *expiry)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; u[i] != '\0' && u[i] != ':'; i++) {
		if (u[i] < '0' || u[i] > '9' || i >= 19)
			return -EINVAL;
		v = v * 10 + (uint64_t)(u[i] - '0');
	}
	if (i == 0)
		return -EINVAL;
	*expiry = v;
	return 0;
}

/* --- peers ----------------------------------------------------------------- */

/* Special-purpose IPv4 networks (RFC 6890) no peer may be in. */
static const struct {
	uint32_t net, mask;
} v4_special[] = {
	{ 0x00000000, 0xff000000 },	/* 0/8 "this network" */
	{ 0x0a000000, 0xff000000 },	/* 10/8 */
	{ 0x64400000, 0xffc00000 },	/* 100.64/10 CGNAT */
	{ 0x7f000000, 0xff000000 },	/* 127/8 loopback */
	{ 0xa9fe0000, 0xffff0000 },	/* 169.254/16 incl. metadata */
	{ 0xac100000, 0xfff00000 },	/* 172.16/12 */
	{ 0xc0000000, 0xffffff00 },	/* 192.0.0/24 */
	{ 0xc0a80000, 0xffff0000 },	/* 192.168/16 */
	{ 0xc6120000, 0xfffe0000 },	/* 198.18/15 benchmarking */
	{ 0xe0000000, 0xf0000000 },	/* 224/4 multicast */
	{ 0xf0000000, 0xf0000000 },	/* 240/4 incl. broadcast */
};

static bool
v4_forbidden(const uint8_t *a)
{
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
	    (uint32_t)a[2] << 8 | a[3];
	size_t i;

	for (i = 0; i < sizeof(v4_special) / sizeof(v4_special[0]); i++)
		if ((v & v4_special[i].mask) == v4_special[i].net)
			return true;
	return false;
}

/* Whether ip (4 or 16 bytes of family fam) is one of the relay's own. */
static bool
is_own(const struct relay *r, int fam, const uint8_t *ip)
{
	unsigned i;

	if (fam == AF_INET && r->cfg.have4 && memcmp(ip,
	    &r->cfg.public4.in4.sin_addr, 4) == 0)
		return true;
	if (fam == AF_INET6 && r->cfg.have6 && memcmp(ip,
	    &r->cfg.public6.in6.sin6_addr, 16) == 0)
		return true;
	for (i = 0; i < r->cfg.nown && i < RELAY_MAX_OWN; i++) {
		const union fz_sockaddr *o = &r->cfg.own[i];

		if (o->sa.sa_family != fam)
			continue;
		if (fam == AF_INET ? memcmp(ip, &o->in4.sin_addr, 4) == 0 :
		    memcmp(ip, &o->in6.sin6_addr, 16) == 0)
			return true;
	}
	return false;
}

/* IPv6 prefixes that embed an IPv4 address (or none worth reaching). */
static const uint8_t v6_zero[16];
static const uint8_t v6_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
    0xff };
static const uint8_t v6_translated[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
    0, 0 };
static const uint8_t v6_nat64[12] = { 0, 0x64, 0xff, 0x9b };
static const uint8_t v6_nat64_local[6] = { 0, 0x64, 0xff, 0x9b, 0, 0x01 };

/*
 * The address part of the rule: false for a forbidden address; *own is set
 * when it is (or embeds) one of the relay's own, which only allocation
 * ports may be reached on.
 */
static bool
peer_ip_allowed(const struct relay *r, const struct sockaddr *sa, bool *own)
{
	*own = false;
	if (sa->sa_family == AF_INET) {
		const uint8_t *a = (const uint8_t *)
		    &((const struct sockaddr_in *)sa)->sin_addr;

		*own = is_own(r, AF_INET, a);
		return !v4_forbidden(a);
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = (const uint8_t *)
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;

		*own = is_own(r, AF_INET6, a);
		/* ::/96: ::, ::1 and IPv4-compatible ::a.b.c.d (RFC 4291) */
		if (memcmp(a, v6_zero, 12) == 0)
			return false;
		/* ::ffff:0:a.b.c.d, IPv4-translated (RFC 2765) */
		if (memcmp(a, v6_translated, 12) == 0)
			return false;
		/* IPv4-mapped and the NAT64 well-known prefix (RFC 6052)
		 * reach the embedded IPv4 address: its rules apply. */
		if (memcmp(a, v6_mapped, 12) == 0 ||
		    memcmp(a, v6_nat64, 12) == 0) {
			*own = *own || is_own(r, AF_INET, a + 12);
			return !v4_forbidden(a + 12);
		}
		/* 64:ff9b:1::/48, local-use NAT64 (RFC 8215): any v4 */
		if (memcmp(a, v6_nat64_local, 6) == 0)
			return false;
		/* 2002::/16, 6to4 (RFC 3056): embeds any IPv4 address */
		if (a[0] == 0x20 && a[1] == 0x02)
			return false;
		if ((a[0] & 0xfe) == 0xfc)	/* fc00::/7 ULA (fd00:ec2::254) */
			return false;
		if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)	/* fe80::/10 */
			return false;
		if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)	/* fec0::/10 */
			return false;
		if (a[0] == 0xff)				/* multicast */
			return false;
		if (a[0] == 0x01 && a[1] == 0 && memcmp(a + 2, v6_zero, 6) == 0)
			return false;			/* 100::/64 discard */
		return true;
	}
	return false;
}

/* The relay's own addresses: only allocation ports (relay-to-self). */
static bool
own_port_allowed(const struct relay *r, uint16_t port)
{
	return port >= r->cfg.port_lo && port <= r->cfg.port_hi;
}

bool
relay_peer_allowed(const struct relay *r, const struct sockaddr *sa)
{
	bool own;

	if (r->cfg.allow_private_peers)
		return true;
	if (!peer_ip_allowed(r, sa, &own))
		return false;
	return !own || own_port_allowed(r, addr_port(sa));
}

/* --- nonces ---------------------------------------------------------------- */

/*
 * Stateless nonces, as Firezone's relay mints them: the NONCE is
 * base64url(ts || MAC), ts the monotonic second it was minted (u32, big
 * endian) and MAC the first 8 bytes of keyed BLAKE2b over the client's
 * transport address and ts.  It is valid from that client only, for
 * RELAY_NONCE_LIFETIME seconds, with no use limit (there is nothing to
 * count in); an unauthenticated request therefore costs no memory and can
 * evict nothing.  The key changes every RELAY_NONCE_LIFETIME seconds and
 * the previous one is kept, which is all a nonce can outlive.
 */
#define NONCE_RAW	12
#define NONCE_MAC	8

static void
nonce_keys(struct relay *r, uint64_t now_s)
{
	uint64_t e = now_s / RELAY_NONCE_LIFETIME;

	if (e == r->nonce_epoch)
		return;
	if (e == r->nonce_epoch + 1)
		memcpy(r->nonce_key[1], r->nonce_key[0],
		    sizeof(r->nonce_key[1]));
	else
		randombytes_buf(r->nonce_key[1], sizeof(r->nonce_key[1]));
	randombytes_buf(r->nonce_key[0], sizeof(r->nonce_key[0]));
	r->nonce_epoch = e;
}

static void
nonce_mac(const uint8_t *key, const struct taddr *c, const uint8_t ts[4],
    uint8_t mac[NONCE_MAC])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, crypto_generichash_KEYBYTES,
	    NONCE_MAC);
	crypto_generichash_update(&st, (const uint8_t *)c, sizeof(*c));
	crypto_generichash_update(&st, ts, 4);
	crypto_generichash_final(&st, mac, NONCE_MAC);
}

/* A nonce for client c, now (RELAY_NONCE_LEN characters). */
static void
nonce_mint(struct relay *r, const struct taddr *c,
    char out[RELAY_NONCE_LEN + 1])
{
	uint64_t now_s = time_mono_ns() / NS;
	uint8_t raw[NONCE_RAW];
	uint32_t ts = (uint32_t)now_s;

	nonce_keys(r, now_s);
	raw[0] = (uint8_t)(ts >> 24);
	raw[1] = (uint8_t)(ts >> 16);
	raw[2] = (uint8_t)(ts >> 8);
	raw[3] = (uint8_t)ts;
	nonce_mac(r->nonce_key[0], c, raw, raw + 4);
	sodium_bin2base64(out, RELAY_NONCE_LEN + 1, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Whether s is a nonce minted for c and not yet expired. */
static bool
nonce_valid(struct relay *r, const struct taddr *c, const char *s)
{
	uint64_t now_s = time_mono_ns() / NS, ts;
	uint8_t raw[NONCE_RAW], mac[NONCE_MAC];
	size_t n = 0;
	int k;

	if (strlen(s) != RELAY_NONCE_LEN || sodium_base642bin(raw, sizeof(raw),
	    s, RELAY_NONCE_LEN, NULL, &n, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || n != sizeof(raw))
		return false;
	ts = (uint64_t)raw[0] << 24 | (uint64_t)raw[1] << 16 |
	    (uint64_t)raw[2] << 8 | raw[3];
	if (ts > (uint32_t)now_s || (uint32_t)now_s - ts >= RELAY_NONCE_LIFETIME)
		return false;
	nonce_keys(r, now_s);
	if (ts / RELAY_NONCE_LIFETIME == r->nonce_epoch)
		k = 0;
	else if (ts / RELAY_NONCE_LIFETIME + 1 == r->nonce_epoch)
		k = 1;
	else
		return false;
	nonce_mac(r->nonce_key[k], c, raw, mac);
	return sodium_memcmp(mac, raw + 4, sizeof(mac)) == 0;
}

/* --- allocations, permissions, channels ------------------------------------ */

static struct relay_alloc *
alloc_find(struct relay *r, const struct taddr *c)
{
	struct relay_alloc *a;

	for (a = r->allocs[hash(r, c, sizeof(*c), ALLOC_BUCKETS)]; a != NULL;
	    a = a->next)
		if (memcmp(&a->client, c, sizeof(*c)) == 0)
			return a;
	return NULL;
}

struct ckey {
	struct taddr	client;
	uint16_t	number;
};

struct pkey {
	uint16_t	port;
	uint16_t	pad;
	struct taddr	peer;
};

static unsigned
chash_client(struct relay *r, const struct taddr *c, uint16_t number)
{
	struct ckey k;

	memset(&k, 0, sizeof(k));
	k.client = *c;
	k.number = number;
	return hash(r, &k, sizeof(k), CHAN_BUCKETS);
}

static unsigned
chash_peer(struct relay *r, uint16_t port, const struct taddr *p)
{
	struct pkey k;

	memset(&k, 0, sizeof(k));
	k.port = port;
	k.peer = *p;
	return hash(r, &k, sizeof(k), CHAN_BUCKETS);
}

/* The channel_up/channel_down pair, each once per change. */
static void
chan_up(struct relay *r, struct relay_channel *ch)
{
	if (ch->up)
		return;
	ch->up = true;
	if (r->ops.channel_up != NULL)
		r->ops.channel_up(r->ops.arg, ch);
}

static void
chan_down(struct relay *r, struct relay_channel *ch)
{
	if (!ch->up)
		return;
	ch->up = false;
	if (r->ops.channel_down != NULL)
		r->ops.channel_down(r->ops.arg, ch);
}

static void
chan_unlink(struct relay *r, struct relay_channel *ch)
{
	struct relay_channel **pp;

	if (!ch->bound)
		return;
	for (pp = &r->by_client[chash_client(r, &ch->alloc->client,
	    ch->number)]; *pp != NULL; pp = &(*pp)->next_client)
		if (*pp == ch) {
			*pp = ch->next_client;
			break;
		}
	for (pp = &r->by_peer[chash_peer(r, ch->alloc->port, &ch->peer)];
	    *pp != NULL; pp = &(*pp)->next_peer)
		if (*pp == ch) {
			*pp = ch->next_peer;
			break;
		}
	ch->bound = false;
	chan_down(r, ch);
}

static void
chan_link(struct relay *r, struct relay_channel *ch)
{
	unsigned hc = chash_client(r, &ch->alloc->client, ch->number);
	unsigned hp = chash_peer(r, ch->alloc->port, &ch->peer);

	ch->next_client = r->by_client[hc];
	r->by_client[hc] = ch;
	ch->next_peer = r->by_peer[hp];
	r->by_peer[hp] = ch;
	ch->bound = true;
	chan_up(r, ch);
}

static void
alloc_free(struct relay *r, struct relay_alloc *a)
{
	struct relay_alloc **pp;
	unsigned i;

	for (i = 0; i < a->nchans; i++) {
		chan_unlink(r, a->chans[i]);
		free(a->chans[i]);
	}
	r->nchans -= a->nchans;
	r->nperms -= a->nperms;
	for (pp = &r->allocs[hash(r, &a->client, sizeof(a->client),
	    ALLOC_BUCKETS)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	if ((*a->pprev_all = a->next_all) != NULL)
		a->next_all->pprev_all = a->pprev_all;
	if ((*a->pprev_user = a->next_user) != NULL)
		a->next_user->pprev_user = a->pprev_user;
	r->ops.alloc_close(r->ops.arg, a);
	r->nallocs--;
	sodium_memzero(a->key, sizeof(a->key));
	free(a);
}

static bool
alloc_has_family(const struct relay_alloc *a, uint8_t fam)
{
	return fam == 4 ? a->fd4 >= 0 : a->fd6 >= 0;
}

static struct relay_perm *
perm_find(struct relay_alloc *a, const struct taddr *p)
{
	unsigned i;

	for (i = 0; i < a->nperms; i++)
		if (a->perms[i].fam == p->fam &&
		    memcmp(a->perms[i].ip, p->ip, 16) == 0)
			return &a->perms[i];
	return NULL;
}

static int
perm_install(struct relay *r, struct relay_alloc *a, const struct taddr *p)
{
	struct relay_perm *pm = perm_find(a, p);
	unsigned i;

	if (pm == NULL) {
		if (a->nperms >= RELAY_MAX_PERMISSIONS)
			return -ENOSPC;
		pm = &a->perms[a->nperms++];
		pm->fam = p->fam;
		memcpy(pm->ip, p->ip, 16);
		r->nperms++;
	}
	pm->expires = time_mono_ns() + RELAY_PERMISSION_LIFETIME * NS;
	/* Channels to this peer are usable again, and for as long. */
	for (i = 0; i < a->nchans; i++) {
		struct relay_channel *ch = a->chans[i];

		if (ch->bound && ch->peer.fam == p->fam &&
		    memcmp(ch->peer.ip, p->ip, 16) == 0) {
			ch->perm_expires = pm->expires;
			if (ch->up && r->ops.channel_renew != NULL)
				r->ops.channel_renew(r->ops.arg, ch);
			chan_up(r, ch);
		}
	}
	return 0;
}

/* --- EVEN-PORT reservations (RFC 8656 sections 7.2, 14.6, 14.9) ------------ */

bool
relay_port_reserved(const struct relay *r, uint16_t port)
{
	unsigned i;

	for (i = 0; i < r->nres; i++)
		if (r->res[i].port == port)
			return true;
	return false;
}

static int
reservation_take(struct relay *r, const uint8_t token[8], uint16_t *port,
    bool *v4, bool *v6)
{
	unsigned i;

	for (i = 0; i < r->nres; i++)
		if (memcmp(r->res[i].token, token, 8) == 0 &&
		    r->res[i].expires > time_mono_ns()) {
			*port = r->res[i].port;
			*v4 = r->res[i].v4;
			*v6 = r->res[i].v6;
			r->res[i] = r->res[--r->nres];
			return 0;
		}
	return -ENOENT;
}

static const uint8_t *
reservation_add(struct relay *r, uint16_t port, bool v4, bool v6)
{
	struct reservation *rv;

	if (r->nres >= MAX_RESERVATIONS)
		return NULL;
	rv = &r->res[r->nres++];
	randombytes_buf(rv->token, sizeof(rv->token));
	rv->port = port;
	rv->v4 = v4;
	rv->v6 = v6;
	rv->expires = time_mono_ns() + RESERVATION_LIFETIME * NS;
	return rv->token;
}

/* --- requests: decoded first, then acted on -------------------------------- */

/* An attribute after decoding: not there, usable, or there but malformed. */
enum attr_state { ATTR_ABSENT, ATTR_OK, ATTR_BAD };

struct peer_addr {
	enum attr_state		 state;
	union fz_sockaddr	 sa;
};

/*
 * A STUN message as the relay reads it: the attributes it acts on, decoded
 * once by turn_request_decode (the first of each type, as stun_find reads
 * them; XOR-PEER-ADDRESS every one, in order).  Which of them a method
 * needs, and in which order their errors are answered, is the handlers'
 * business.  msg borrows the datagram: integrity is checked over it.
 */
struct turn_request {
	uint16_t		 type, method, cls;
	uint8_t			 tid[12];
	bool			 fingerprint;	/* answered with one too */
	int			 mi, mi256;	/* index into msg.attrs (.off) or -1 */
	enum attr_state		 username_st, realm_st, nonce_st;
	char			 username[514];
	char			 realm[764];
	char			 nonce[764];
	enum attr_state		 transport_st;
	uint8_t			 transport;	/* protocol number */
	enum attr_state		 family_st;	/* REQUESTED-ADDRESS-FAMILY */
	uint8_t			 family;
	enum attr_state		 add_family_st;	/* ADDITIONAL-ADDRESS-FAMILY */
	uint8_t			 add_family;
	enum attr_state		 lifetime_st;
	uint32_t		 lifetime;	/* s, as asked */
	enum attr_state		 even_port_st;
	bool			 reserve_next;	/* EVEN-PORT's R bit */
	enum attr_state		 token_st;
	uint8_t			 token[8];
	enum attr_state		 channel_st;	/* bad outside the range */
	uint16_t		 channel;
	bool			 have_data;
	const uint8_t		*data;
	size_t			 data_len;
	struct peer_addr	 peers[STUN_MAX_ATTRS];
	unsigned		 npeers;
	uint16_t		 unknown[8];	/* comprehension-required */
	unsigned		 nunknown;
	struct stun_msg		 msg;
};

static enum attr_state
text_attr(const struct stun_attr *a, size_t max, char *out, size_t cap)
{
	out[0] = '\0';
	if (a == NULL)
		return ATTR_ABSENT;
	return stun_get_text(a, max, out, cap) == 0 ? ATTR_OK : ATTR_BAD;
}

static enum attr_state
family_attr(const struct stun_attr *a, uint8_t *fam)
{
	if (a == NULL)
		return ATTR_ABSENT;
	return stun_get_family(a, fam) == 0 ? ATTR_OK : ATTR_BAD;
}

/*
 * Parses a datagram into t: 0, or -EBADMSG when it is not a well-formed
 * STUN message or its FINGERPRINT is wrong.  Attribute errors are not
 * errors here; they are recorded for the handler to answer.
 */
static int
turn_request_decode(struct turn_request *t, const uint8_t *p, size_t len)
{
	const struct stun_msg *m = &t->msg;
	const struct stun_attr *a;
	unsigned i;

	if (stun_parse(p, len, &t->msg) != 0)
		return -EBADMSG;
	t->fingerprint = m->fp >= 0;
	if (t->fingerprint && stun_check_fingerprint(m) != 0)
		return -EBADMSG;
	t->type = m->type;
	t->method = m->method;
	t->cls = m->cls;
	memcpy(t->tid, m->tid, sizeof(t->tid));
	t->mi = m->mi;
	t->mi256 = m->mi256;
	t->username_st = text_attr(stun_find(m, STUN_A_USERNAME), 513,
	    t->username, sizeof(t->username));
	t->realm_st = text_attr(stun_find(m, STUN_A_REALM), 763, t->realm,
	    sizeof(t->realm));
	t->nonce_st = text_attr(stun_find(m, STUN_A_NONCE), 763, t->nonce,
	    sizeof(t->nonce));
	t->transport_st = ATTR_ABSENT;
	if ((a = stun_find(m, TURN_A_REQUESTED_TRANSPORT)) != NULL)
		t->transport_st = stun_get_transport(a, &t->transport) == 0 ?
		    ATTR_OK : ATTR_BAD;
	t->family_st = family_attr(stun_find(m,
	    TURN_A_REQUESTED_ADDRESS_FAMILY), &t->family);
	t->add_family_st = family_attr(stun_find(m,
	    TURN_A_ADDITIONAL_ADDRESS_FAMILY), &t->add_family);
	t->lifetime_st = ATTR_ABSENT;
	if ((a = stun_find(m, TURN_A_LIFETIME)) != NULL)
		t->lifetime_st = stun_get_u32(a, &t->lifetime) == 0 ? ATTR_OK :
		    ATTR_BAD;
	t->even_port_st = ATTR_ABSENT;
	t->reserve_next = false;
	if ((a = stun_find(m, TURN_A_EVEN_PORT)) != NULL) {
		t->even_port_st = a->len >= 1 ? ATTR_OK : ATTR_BAD;
		t->reserve_next = a->len >= 1 && (a->val[0] & 0x80) != 0;
	}
	t->token_st = ATTR_ABSENT;
	if ((a = stun_find(m, TURN_A_RESERVATION_TOKEN)) != NULL) {
		t->token_st = a->len == sizeof(t->token) ? ATTR_OK : ATTR_BAD;
		if (t->token_st == ATTR_OK)
			memcpy(t->token, a->val, sizeof(t->token));
	}
	t->channel_st = ATTR_ABSENT;
	if ((a = stun_find(m, TURN_A_CHANNEL_NUMBER)) != NULL)
		t->channel_st = stun_get_channel(a, &t->channel) == 0 &&
		    t->channel >= TURN_CHANNEL_MIN &&
		    t->channel <= TURN_CHANNEL_MAX ? ATTR_OK : ATTR_BAD;
	t->have_data = false;
	if ((a = stun_find(m, TURN_A_DATA)) != NULL) {
		t->have_data = true;
		t->data = a->val;
		t->data_len = a->len;
	}
	t->npeers = 0;
	for (i = 0; i < m->nattrs && i < STUN_MAX_ATTRS; i++) {
		struct peer_addr *pa = &t->peers[t->npeers];

		if (m->attrs[i].type != TURN_A_XOR_PEER_ADDRESS)
			continue;
		pa->state = stun_get_xaddr(m, &m->attrs[i], &pa->sa) == 0 ?
		    ATTR_OK : ATTR_BAD;
		t->npeers++;
	}
	t->nunknown = m->nunknown < 8 ? m->nunknown : 8;
	memcpy(t->unknown, m->unknown, t->nunknown * sizeof(t->unknown[0]));
	return 0;
}

/* One request being answered: what was decoded and who to answer. */
struct txn {
	struct turn_request	 req;
	int			 fd;
	const struct sockaddr	*from;
	struct taddr		 client;
	bool			 authenticated;	/* key is valid */
	uint8_t			 key[16];	/* long-term key, wiped after */
	bool			 sha256;	/* it came with MI-SHA256 */
	bool			 firezone;	/* the Firezone scheme matched */
};

/* --- responses ------------------------------------------------------------- */

/*
 * Every error a request is answered with.  TURN_ERR_CHALLENGE is the 401
 * every client gets first: no reason phrase, so that what a spoofed flood
 * gets back stays small (60 bytes with realm "firezone" for 20).
 */
enum turn_error {
	TURN_OK = 0,
	TURN_ERR_BAD_REQUEST,
	TURN_ERR_CHALLENGE,
	TURN_ERR_UNAUTHORIZED,
	TURN_ERR_FORBIDDEN,
	TURN_ERR_UNKNOWN_ATTRIBUTE,
	TURN_ERR_ALLOCATION_MISMATCH,
	TURN_ERR_STALE_NONCE,
	TURN_ERR_FAMILY_UNSUPPORTED,
	TURN_ERR_WRONG_CREDENTIALS,
	TURN_ERR_UNSUPPORTED_TRANSPORT,
	TURN_ERR_PEER_FAMILY_MISMATCH,
	TURN_ERR_QUOTA,
	TURN_ERR_SERVER,
	TURN_ERR_CAPACITY,
	TURN_ERR_NO_ANSWER,		/* dropped: no response at all */
	TURN_ERR_COUNT
};

static const struct {
	int		 code;
	const char	*reason;
} turn_errors[TURN_ERR_COUNT] = {
	[TURN_ERR_BAD_REQUEST] = { 400, "Bad Request" },
	[TURN_ERR_CHALLENGE] = { 401, "" },
	[TURN_ERR_UNAUTHORIZED] = { 401, "Unauthorized" },
	[TURN_ERR_FORBIDDEN] = { 403, "Forbidden" },
	[TURN_ERR_UNKNOWN_ATTRIBUTE] = { 420, "Unknown Attribute" },
	[TURN_ERR_ALLOCATION_MISMATCH] = { 437, "Allocation Mismatch" },
	[TURN_ERR_STALE_NONCE] = { 438, "Stale Nonce" },
	[TURN_ERR_FAMILY_UNSUPPORTED] = { 440, "Address Family not Supported" },
	[TURN_ERR_WRONG_CREDENTIALS] = { 441, "Wrong Credentials" },
	[TURN_ERR_UNSUPPORTED_TRANSPORT] = { 442,
	    "Unsupported Transport Protocol" },
	[TURN_ERR_PEER_FAMILY_MISMATCH] = { 443, "Peer Address Family Mismatch" },
	[TURN_ERR_QUOTA] = { 486, "Allocation Quota Reached" },
	[TURN_ERR_SERVER] = { 500, "Server Error" },
	[TURN_ERR_CAPACITY] = { 508, "Insufficient Capacity" },
};

/* SOFTWARE, integrity and fingerprint as the request earned; then sent. */
static void
respond(struct relay *r, struct txn *x, struct stun_builder *b)
{
	size_t n;

	/* SOFTWARE only to authenticated clients: what an unauthenticated
	 * (possibly spoofed) request gets back stays small. */
	if (r->cfg.software != NULL && x->authenticated)
		stun_put_str(b, STUN_A_SOFTWARE, r->cfg.software);
	if (x->authenticated) {
		if (x->sha256)
			stun_put_integrity_sha256(b, x->key, sizeof(x->key));
		else
			stun_put_integrity(b, x->key, sizeof(x->key));
	}
	if (x->req.fingerprint)
		stun_put_fingerprint(b);
	if (stun_finish(b, &n) != 0) {
		log_warnx("response did not fit");
		return;
	}
	r->ops.send_ctl(r->ops.arg, x->fd, x->from, b->w.p, n);
}

/* The request's method in a response class (RFC 8489 section 5). */
static uint16_t
response_type(const struct txn *x, uint16_t cls)
{
	return (uint16_t)((x->req.type & ~STUN_CLASS_BITS) | cls);
}

/* The one place error responses are built (RFC 8489 section 14.8). */
static void
error_resp(struct relay *r, struct txn *x, enum turn_error e)
{
	struct stun_builder b;
	uint8_t buf[600];
	int code = turn_errors[e].code;

	relay_count(r, RC_RESP_ERROR, 1);
	stun_build(&b, buf, sizeof(buf), response_type(x, STUN_ERROR),
	    x->req.tid);
	stun_put_error(&b, code, turn_errors[e].reason);
	if (code == 401 || code == 438) {
		char nonce[RELAY_NONCE_LEN + 1];

		nonce_mint(r, &x->client, nonce);
		stun_put_str(&b, STUN_A_REALM, r->cfg.realm);
		stun_put_str(&b, STUN_A_NONCE, nonce);
		x->authenticated = false;
	}
	if (e == TURN_ERR_UNKNOWN_ATTRIBUTE)
		stun_put_unknown(&b, x->req.unknown, x->req.nunknown);
	respond(r, x, &b);
}

static void
success_build(struct relay *r, struct txn *x, struct stun_builder *b,
    uint8_t *buf, size_t cap)
{
	relay_count(r, RC_RESP_SUCCESS, 1);
	stun_build(b, buf, cap, response_type(x, STUN_SUCCESS), x->req.tid);
}

/* --- authentication -------------------------------------------------------- */

/*
 * Whether one of the configured schemes gives the key the request's
 * integrity was computed with: REST and Firezone passwords from the static
 * secret, Firezone from the portal's.  On success x->key holds it.
 */
static bool
credentials_match(struct relay *r, struct txn *x)
{
	const struct turn_request *t = &x->req;
	const char *secrets[2] = { r->cfg.static_secret, r->cfg.stamp_secret };
	char pass[128];
	bool ok = false;
	int i, scheme;

	for (i = 0; i < 2 && !ok; i++) {
		if (secrets[i] == NULL)
			continue;
		for (scheme = 0; scheme < 2 && !ok; scheme++) {
			if (scheme == 0 && i == 1)
				continue;	/* REST only with static */
			if (scheme == 1 && !firezone_username(t->username))
				continue;
			if (scheme == 0)
				relay_rest_password(secrets[i], t->username,
				    pass, sizeof(pass));
			else
				relay_firezone_password(secrets[i],
				    t->username, pass, sizeof(pass));
			stun_long_term_key(t->username, t->realm, pass, x->key);
			if (t->mi256 >= 0 && stun_check_integrity_sha256(
			    &t->msg, x->key, sizeof(x->key)) == 0) {
				x->sha256 = true;
				ok = true;
			} else if (t->mi >= 0 && stun_check_integrity(&t->msg,
			    x->key, sizeof(x->key)) == 0)
				ok = true;
			if (ok)
				x->firezone = scheme == 1;
		}
	}
	sodium_memzero(pass, sizeof(pass));
	if (!ok)
		sodium_memzero(x->key, sizeof(x->key));
	return ok;
}

/*
 * Whether a 401 challenge may be sent now.  A challenge costs a nonce MAC
 * and a response and anyone can ask for one from any address, so a flood
 * of unauthenticated requests (50 000/s) took the CPU the relayed
 * traffic needed and filled the listening socket's buffer, where
 * ChannelData waits with the flood: past challenge_rate per second the
 * rest are dropped unanswered (STUN clients retransmit).
 */
static bool
challenge_allowed(struct relay *r)
{
	uint64_t now = time_mono_ns();

	r->ch_tokens_ns += now - r->ch_last_ns;
	r->ch_last_ns = now;
	if (r->ch_tokens_ns > NS)
		r->ch_tokens_ns = NS;
	if (r->ch_tokens_ns < NS / r->cfg.challenge_rate) {
		relay_count(r, RC_DROP_CHALLENGE_RATE, 1);
		return false;
	}
	r->ch_tokens_ns -= NS / r->cfg.challenge_rate;
	return true;
}

/* Long-term credential check (RFC 8489 section 9.2.4), before dispatch. */
static enum turn_error
authenticate(struct relay *r, struct txn *x)
{
	const struct turn_request *t = &x->req;
	uint64_t expiry;

	if (t->mi < 0 && t->mi256 < 0) {
		relay_count(r, RC_AUTH_MISSING, 1);
		return challenge_allowed(r) ? TURN_ERR_CHALLENGE :
		    TURN_ERR_NO_ANSWER;
	}
	if (t->username_st == ATTR_ABSENT || t->realm_st == ATTR_ABSENT ||
	    t->nonce_st == ATTR_ABSENT) {
		relay_count(r, RC_AUTH_MISSING, 1);
		return TURN_ERR_BAD_REQUEST;
	}
	if (t->username_st == ATTR_BAD || t->realm_st == ATTR_BAD ||
	    t->nonce_st == ATTR_BAD) {
		relay_count(r, RC_DROP_MALFORMED, 1);
		return TURN_ERR_BAD_REQUEST;
	}
	if (!nonce_valid(r, &x->client, t->nonce)) {
		relay_count(r, RC_AUTH_STALE_NONCE, 1);
		return TURN_ERR_STALE_NONCE;
	}
	if (strcmp(t->realm, r->cfg.realm) != 0 ||
	    username_expiry(t->username, &expiry) != 0) {
		relay_count(r, RC_AUTH_BAD_USERNAME, 1);
		return TURN_ERR_UNAUTHORIZED;
	}
	if (expiry <= time_real_ns() / NS) {
		relay_count(r, RC_AUTH_EXPIRED, 1);
		return TURN_ERR_UNAUTHORIZED;
	}
	if (!credentials_match(r, x)) {
		relay_count(r, RC_AUTH_BAD, 1);
		if (log_ratelimit(&r->rl))
			log_info("bad credentials for %s", t->username);
		return TURN_ERR_UNAUTHORIZED;
	}
	x->authenticated = true;
	return TURN_OK;
}

/* --- handlers -------------------------------------------------------------- */

static unsigned
user_allocations(struct relay *r, const char *user, struct relay_alloc **first)
{
	struct relay_alloc *a;
	unsigned n = 0;

	*first = NULL;
	for (a = r->by_user[hash(r, user, strlen(user), USER_BUCKETS)];
	    a != NULL; a = a->next_user)
		if (strcmp(a->username, user) == 0) {
			if (*first == NULL)
				*first = a;
			n++;
		}
	return n;
}

static void
allocate_success(struct relay *r, struct txn *x, struct relay_alloc *a,
    bool family_error, const uint8_t *token)
{
	struct stun_builder b;
	union fz_sockaddr ra;
	uint8_t buf[400];

	success_build(r, x, &b, buf, sizeof(buf));
	if (a->fd4 >= 0) {
		ra = r->cfg.public4;
		addr_set_port(&ra.sa, a->port);
		stun_put_xaddr(&b, TURN_A_XOR_RELAYED_ADDRESS, &ra.sa);
	}
	if (a->fd6 >= 0) {
		ra = r->cfg.public6;
		addr_set_port(&ra.sa, a->port);
		stun_put_xaddr(&b, TURN_A_XOR_RELAYED_ADDRESS, &ra.sa);
	}
	if (family_error) {
		/* ADDRESS-ERROR-CODE (RFC 8656 section 18.12): IPv6, 440 */
		const char *reason =
		    turn_errors[TURN_ERR_FAMILY_UNSUPPORTED].reason;
		uint8_t v[4 + 32] = { STUN_FAMILY_IPV6, 0, 4, 40 };
		size_t n = strlen(reason);

		memcpy(v + 4, reason, n);
		stun_put(&b, TURN_A_ADDRESS_ERROR_CODE, v, 4 + n);
	}
	stun_put_u32(&b, TURN_A_LIFETIME, (uint32_t)((a->expires -
	    time_mono_ns() + NS / 2) / NS));
	stun_put_xaddr(&b, STUN_A_XOR_MAPPED_ADDRESS, x->from);
	if (token != NULL)
		stun_put(&b, TURN_A_RESERVATION_TOKEN, token, 8);
	respond(r, x, &b);
}

/* LIFETIME as asked, capped; the default when absent or malformed. */
static uint32_t
req_lifetime(const struct turn_request *t)
{
	if (t->lifetime_st != ATTR_OK)
		return RELAY_LIFETIME_DEFAULT;
	return t->lifetime > RELAY_LIFETIME_MAX ? RELAY_LIFETIME_MAX :
	    t->lifetime;
}

static enum turn_error
handle_binding(struct relay *r, struct txn *x)
{
	struct stun_builder b;
	uint8_t buf[200];

	success_build(r, x, &b, buf, sizeof(buf));
	stun_put_xaddr(&b, STUN_A_XOR_MAPPED_ADDRESS, x->from);
	respond(r, x, &b);
	return TURN_OK;
}

/* What an Allocate asks for (RFC 8656 section 7.2), checked in its order. */
struct alloc_wish {
	bool		 want4, want6;
	bool		 family_error;	/* IPv6 asked for, not served */
	bool		 even, reserve;
	uint16_t	 port;		/* from a reservation, else 0 */
};

static enum turn_error
allocate_wish(struct relay *r, const struct turn_request *t,
    struct alloc_wish *w)
{
	memset(w, 0, sizeof(*w));
	if (t->transport_st != ATTR_OK)
		return TURN_ERR_BAD_REQUEST;
	if (t->transport != 17)
		return TURN_ERR_UNSUPPORTED_TRANSPORT;
	if (t->family_st != ATTR_ABSENT && t->add_family_st != ATTR_ABSENT)
		return TURN_ERR_BAD_REQUEST;
	if (t->family_st != ATTR_ABSENT) {
		if (t->family_st == ATTR_BAD)
			return TURN_ERR_FAMILY_UNSUPPORTED;
		w->want4 = t->family == STUN_FAMILY_IPV4;
		w->want6 = t->family == STUN_FAMILY_IPV6;
	} else if (t->add_family_st != ATTR_ABSENT) {
		if (t->add_family_st == ATTR_BAD ||
		    t->add_family != STUN_FAMILY_IPV6)
			return TURN_ERR_BAD_REQUEST;
		w->want4 = true;
		w->want6 = r->cfg.have6;
		w->family_error = !r->cfg.have6;
	} else
		w->want4 = true;
	if ((w->want4 && !r->cfg.have4) || (w->want6 && !r->cfg.have6))
		return TURN_ERR_FAMILY_UNSUPPORTED;
	if ((t->even_port_st != ATTR_ABSENT && t->token_st != ATTR_ABSENT) ||
	    t->even_port_st == ATTR_BAD || (t->token_st != ATTR_ABSENT &&
	    (t->token_st == ATTR_BAD || t->family_st != ATTR_ABSENT ||
	    t->add_family_st != ATTR_ABSENT)))
		return TURN_ERR_BAD_REQUEST;
	if (t->even_port_st == ATTR_OK) {
		w->even = true;
		w->reserve = t->reserve_next;
	}
	if (t->token_st == ATTR_OK && reservation_take(r, t->token, &w->port,
	    &w->want4, &w->want6) != 0)
		return TURN_ERR_CAPACITY;
	return TURN_OK;
}

static enum turn_error
handle_allocate(struct relay *r, struct txn *x)
{
	const struct turn_request *t = &x->req;
	struct relay_alloc *a, *old;
	const uint8_t *token = NULL;
	struct alloc_wish w;
	enum turn_error e;
	uint32_t life;
	unsigned h;

	if ((a = alloc_find(r, &x->client)) != NULL) {
		/* A retransmitted Allocate gets its answer again. */
		if (memcmp(a->tid, t->tid, 12) == 0) {
			allocate_success(r, x, a, false, NULL);
			return TURN_OK;
		}
		return TURN_ERR_ALLOCATION_MISMATCH;
	}
	if ((e = allocate_wish(r, t, &w)) != TURN_OK)
		return e;
	if (user_allocations(r, t->username, &old) > 0 && x->firezone) {
		/* Firezone: one allocation per username (roaming). */
		alloc_free(r, old);
	} else if (user_allocations(r, t->username, &old) >=
	    r->cfg.user_quota) {
		relay_count(r, RC_QUOTA, 1);
		return TURN_ERR_QUOTA;
	}
	if (r->nallocs >= r->cfg.max_allocations) {
		relay_count(r, RC_CAPACITY, 1);
		return TURN_ERR_CAPACITY;
	}
	life = req_lifetime(t);
	if (life == 0)
		life = RELAY_LIFETIME_DEFAULT;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return TURN_ERR_SERVER;
	a->client = x->client;
	a->ctl_fd = x->fd;
	a->fd4 = a->fd6 = -1;
	memcpy(a->tid, t->tid, 12);
	snprintf(a->username, sizeof(a->username), "%s", t->username);
	memcpy(a->key, x->key, sizeof(a->key));
	a->sha256 = x->sha256;
	a->port = w.port;
	a->even = w.even;
	a->reserve = w.reserve;
	if (r->ops.alloc_open(r->ops.arg, a, w.want4, w.want6) != 0) {
		sodium_memzero(a->key, sizeof(a->key));
		free(a);
		relay_count(r, RC_CAPACITY, 1);
		return TURN_ERR_CAPACITY;
	}
	a->expires = time_mono_ns() + (uint64_t)life * NS;
	h = hash(r, &a->client, sizeof(a->client), ALLOC_BUCKETS);
	a->next = r->allocs[h];
	r->allocs[h] = a;
	if ((a->next_all = r->all) != NULL)
		a->next_all->pprev_all = &a->next_all;
	a->pprev_all = &r->all;
	r->all = a;
	h = hash(r, a->username, strlen(a->username), USER_BUCKETS);
	if ((a->next_user = r->by_user[h]) != NULL)
		a->next_user->pprev_user = &a->next_user;
	a->pprev_user = &r->by_user[h];
	r->by_user[h] = a;
	r->nallocs++;
	log_debug("allocation port %u for %s (%s%s)", a->port, a->username,
	    a->fd4 >= 0 ? "4" : "", a->fd6 >= 0 ? "6" : "");
	if (w.reserve)
		token = reservation_add(r, (uint16_t)(a->port + 1),
		    a->fd4 >= 0, a->fd6 >= 0);
	allocate_success(r, x, a, w.family_error, token);
	return TURN_OK;
}

/*
 * The requester's allocation in *out, or the error: 437 without one, 441
 * when the credentials differ from the ones that made it (RFC 8656
 * section 5).
 */
static enum turn_error
own_alloc(struct relay *r, struct txn *x, struct relay_alloc **out)
{
	struct relay_alloc *a = alloc_find(r, &x->client);

	if (a == NULL) {
		relay_count(r, RC_DROP_NO_ALLOCATION, 1);
		return TURN_ERR_ALLOCATION_MISMATCH;
	}
	if (strcmp(a->username, x->req.username) != 0)
		return TURN_ERR_WRONG_CREDENTIALS;
	*out = a;
	return TURN_OK;
}

static enum turn_error
handle_refresh(struct relay *r, struct txn *x)
{
	struct relay_alloc *a;
	struct stun_builder b;
	uint8_t buf[200];
	enum turn_error e;
	uint32_t life;

	if ((e = own_alloc(r, x, &a)) != TURN_OK)
		return e;
	life = req_lifetime(&x->req);
	success_build(r, x, &b, buf, sizeof(buf));
	stun_put_u32(&b, TURN_A_LIFETIME, life);
	if (life == 0)
		alloc_free(r, a);
	else
		a->expires = time_mono_ns() + (uint64_t)life * NS;
	respond(r, x, &b);
	return TURN_OK;
}

/*
 * An XOR-PEER-ADDRESS, checked: with_port for ChannelBind (its port is
 * the one every ChannelData goes to); CreatePermission is per address, so
 * the relay's own address passes there and its ports are checked on each
 * Send indication and ChannelBind instead.
 */
static enum turn_error
peer_check(struct relay *r, const struct relay_alloc *a,
    const struct peer_addr *pa, bool with_port, struct taddr *out)
{
	bool own;

	if (pa->state != ATTR_OK)
		return TURN_ERR_BAD_REQUEST;
	taddr_from_sa(out, &pa->sa.sa);
	if (!alloc_has_family(a, out->fam)) {
		relay_count(r, RC_DROP_FAMILY, 1);
		return TURN_ERR_PEER_FAMILY_MISMATCH;
	}
	if (with_port ? !relay_peer_allowed(r, &pa->sa.sa) :
	    !r->cfg.allow_private_peers && !peer_ip_allowed(r, &pa->sa.sa,
	    &own)) {
		relay_count(r, RC_DROP_FORBIDDEN_PEER, 1);
		return TURN_ERR_FORBIDDEN;
	}
	return TURN_OK;
}

static enum turn_error
handle_permission(struct relay *r, struct txn *x)
{
	const struct turn_request *t = &x->req;
	struct taddr peers[STUN_MAX_ATTRS];
	struct relay_alloc *a;
	struct stun_builder b;
	uint8_t buf[200];
	enum turn_error e;
	unsigned i;

	if ((e = own_alloc(r, x, &a)) != TURN_OK)
		return e;
	for (i = 0; i < t->npeers; i++)
		if ((e = peer_check(r, a, &t->peers[i], false,
		    &peers[i])) != TURN_OK)
			return e;
	if (t->npeers == 0)
		return TURN_ERR_BAD_REQUEST;
	for (i = 0; i < t->npeers; i++)
		if (perm_install(r, a, &peers[i]) != 0) {
			relay_count(r, RC_CAPACITY, 1);
			return TURN_ERR_CAPACITY;
		}
	success_build(r, x, &b, buf, sizeof(buf));
	respond(r, x, &b);
	return TURN_OK;
}

/*
 * The channel a ChannelBind names, existing or new (RFC 8656 section 11.2:
 * one peer per channel and vice versa, a number reusable only after its
 * quarantine).
 */
static enum turn_error
channel_for_bind(struct relay *r, struct relay_alloc *a, uint16_t number,
    const struct taddr *peer, struct relay_channel **out)
{
	struct relay_channel *ch = NULL;
	uint64_t now = time_mono_ns();
	unsigned i;

	for (i = 0; i < a->nchans; i++) {
		struct relay_channel *c = a->chans[i];
		bool same_peer = memcmp(&c->peer, peer, sizeof(*peer)) == 0;

		if (c->number == number) {
			if (!same_peer && (c->bound || now < c->deleted_at))
				return TURN_ERR_BAD_REQUEST;
			ch = c;
		} else if (same_peer && c->bound)
			return TURN_ERR_BAD_REQUEST;
	}
	if (ch == NULL) {
		if (a->nchans >= RELAY_MAX_CHANNELS) {
			relay_count(r, RC_CAPACITY, 1);
			return TURN_ERR_CAPACITY;
		}
		if ((ch = calloc(1, sizeof(*ch))) == NULL)
			return TURN_ERR_SERVER;
		ch->alloc = a;
		ch->number = number;
		a->chans[a->nchans++] = ch;
		r->nchans++;
	}
	*out = ch;
	return TURN_OK;
}

static enum turn_error
handle_channel_bind(struct relay *r, struct txn *x)
{
	const struct turn_request *t = &x->req;
	struct relay_channel *ch;
	struct relay_alloc *a;
	struct stun_builder b;
	struct taddr peer;
	uint8_t buf[200];
	enum turn_error e;

	if ((e = own_alloc(r, x, &a)) != TURN_OK)
		return e;
	if (t->channel_st != ATTR_OK || t->npeers == 0)
		return TURN_ERR_BAD_REQUEST;
	if ((e = peer_check(r, a, &t->peers[0], true, &peer)) != TURN_OK)
		return e;
	if ((e = channel_for_bind(r, a, t->channel, &peer, &ch)) != TURN_OK)
		return e;
	/* Before the permission: renewing it announces both lifetimes. */
	ch->expires = time_mono_ns() + RELAY_CHANNEL_LIFETIME * NS;
	if (perm_install(r, a, &peer) != 0) {
		relay_count(r, RC_CAPACITY, 1);
		return TURN_ERR_CAPACITY;
	}
	if (!ch->bound) {
		ch->peer = peer;
		ch->perm_expires = perm_find(a, &peer)->expires;
		chan_link(r, ch);
	}
	success_build(r, x, &b, buf, sizeof(buf));
	respond(r, x, &b);
	return TURN_OK;
}

/* An indication: never answered, so every drop is only counted. */
static enum turn_error
handle_send(struct relay *r, struct txn *x)
{
	const struct turn_request *t = &x->req;
	struct relay_alloc *a = alloc_find(r, &x->client);
	const struct peer_addr *pa = &t->peers[0];
	struct relay_perm *pm;
	struct taddr peer;

	if (a == NULL) {
		relay_count(r, RC_DROP_NO_ALLOCATION, 1);
		return TURN_OK;
	}
	if (t->npeers == 0 || !t->have_data || pa->state != ATTR_OK) {
		relay_count(r, RC_DROP_MALFORMED, 1);
		return TURN_OK;
	}
	taddr_from_sa(&peer, &pa->sa.sa);
	if (!alloc_has_family(a, peer.fam)) {
		relay_count(r, RC_DROP_FAMILY, 1);
		return TURN_OK;
	}
	pm = perm_find(a, &peer);
	if (pm == NULL || pm->expires <= time_mono_ns()) {
		relay_count(r, RC_DROP_NO_PERMISSION, 1);
		return TURN_OK;
	}
	if (!relay_peer_allowed(r, &pa->sa.sa)) {	/* own address, other port */
		relay_count(r, RC_DROP_FORBIDDEN_PEER, 1);
		return TURN_OK;
	}
	relay_count(r, RC_PKTS_C2P, 1);
	relay_count(r, RC_BYTES_C2P, t->data_len);
	r->ops.send_peer(r->ops.arg, a, &pa->sa.sa, t->data, t->data_len);
	return TURN_OK;
}

/* --- dispatch -------------------------------------------------------------- */

/* What the relay answers, by class and method (cf. OpenSSH's monitor). */
static const struct turn_method {
	uint16_t		 cls;
	uint16_t		 method;
	enum relay_counter	 counter;
	bool			 requires_auth;
	enum turn_error		(*handler)(struct relay *, struct txn *);
} turn_methods[] = {
	{ STUN_REQUEST, STUN_BINDING, RC_REQ_BINDING, false, handle_binding },
	{ STUN_REQUEST, TURN_ALLOCATE, RC_REQ_ALLOCATE, true,
	    handle_allocate },
	{ STUN_REQUEST, TURN_REFRESH, RC_REQ_REFRESH, true, handle_refresh },
	{ STUN_REQUEST, TURN_CREATE_PERMISSION, RC_REQ_PERMISSION, true,
	    handle_permission },
	{ STUN_REQUEST, TURN_CHANNEL_BIND, RC_REQ_CHANNEL_BIND, true,
	    handle_channel_bind },
	{ STUN_INDICATION, TURN_SEND, RC_IND_SEND, false, handle_send },
};

static const struct turn_method *
turn_method_find(uint16_t cls, uint16_t method)
{
	size_t i;

	for (i = 0; i < sizeof(turn_methods) / sizeof(turn_methods[0]); i++)
		if (turn_methods[i].cls == cls &&
		    turn_methods[i].method == method)
			return &turn_methods[i];
	return NULL;
}

/*
 * Indications get their handler or nothing; responses from clients are
 * ignored; requests: 420 for unknown comprehension-required attributes,
 * 400 for unknown methods, authentication, then the handler.
 */
static enum turn_error
dispatch(struct relay *r, struct txn *x)
{
	const struct turn_method *tm = turn_method_find(x->req.cls,
	    x->req.method);
	enum turn_error e;

	if (x->req.cls == STUN_INDICATION) {
		if (tm != NULL) {
			relay_count(r, tm->counter, 1);
			(void)tm->handler(r, x);
		}
		return TURN_OK;
	}
	if (x->req.cls != STUN_REQUEST)
		return TURN_OK;
	if (x->req.nunknown > 0)
		return TURN_ERR_UNKNOWN_ATTRIBUTE;
	if (tm == NULL) {
		relay_count(r, RC_REQ_OTHER, 1);
		return TURN_ERR_BAD_REQUEST;
	}
	relay_count(r, tm->counter, 1);
	if (tm->requires_auth && (e = authenticate(r, x)) != TURN_OK)
		return e;
	return tm->handler(r, x);
}

void
relay_stun_in(struct relay *r, int fd, const struct sockaddr *from,
    const uint8_t *p, size_t len)
{
	struct txn txn, *x = &txn;
	enum turn_error e;

	x->fd = fd;
	x->from = from;
	x->authenticated = false;
	x->sha256 = false;
	x->firezone = false;
	taddr_from_sa(&x->client, from);
	if (addr_port(from) == 0 || turn_request_decode(&x->req, p, len) != 0) {
		relay_count(r, RC_DROP_MALFORMED, 1);
		return;
	}
	if ((e = dispatch(r, x)) != TURN_OK && e != TURN_ERR_NO_ANSWER)
		error_resp(r, x, e);
	sodium_memzero(x->key, sizeof(x->key));
}

const struct relay_channel *
relay_channel_lookup(struct relay *r, const struct sockaddr *client,
    uint16_t number)
{
	struct relay_channel *ch;
	struct taddr c;

	taddr_from_sa(&c, client);
	for (ch = r->by_client[chash_client(r, &c, number)]; ch != NULL;
	    ch = ch->next_client)
		if (ch->number == number &&
		    memcmp(&ch->alloc->client, &c, sizeof(c)) == 0) {
			uint64_t now = time_mono_ns();

			if (ch->expires <= now)
				break;
			if (ch->perm_expires <= now) {
				relay_count(r, RC_DROP_NO_PERMISSION, 1);
				return NULL;
			}
			return ch;
		}
	relay_count(r, RC_DROP_NO_CHANNEL, 1);
	return NULL;
}

static void
data_indication(struct relay *r, struct relay_alloc *a,
    const struct sockaddr *from, const uint8_t *p, size_t len)
{
	union fz_sockaddr client;
	struct stun_builder b;
	uint8_t tid[12];
	size_t n;

	randombytes_buf(tid, sizeof(tid));
	stun_build(&b, r->indication, sizeof(r->indication),
	    TURN_DATA | STUN_INDICATION, tid);
	stun_put_xaddr(&b, TURN_A_XOR_PEER_ADDRESS, from);
	stun_put(&b, TURN_A_DATA, p, len);
	if (stun_finish(&b, &n) != 0) {
		relay_count(r, RC_DROP_TRUNCATED, 1);
		return;
	}
	taddr_to_sa(&a->client, &client);
	relay_count(r, RC_PKTS_P2C, 1);
	relay_count(r, RC_BYTES_P2C, len);
	r->ops.send_ctl(r->ops.arg, a->ctl_fd, &client.sa, r->indication, n);
}

const struct relay_channel *
relay_peer_in(struct relay *r, struct relay_alloc *a,
    const struct sockaddr *from, const uint8_t *p, size_t len)
{
	struct relay_channel *ch;
	struct relay_perm *pm;
	struct taddr peer;
	uint64_t now = time_mono_ns();

	taddr_from_sa(&peer, from);
	for (ch = r->by_peer[chash_peer(r, a->port, &peer)]; ch != NULL;
	    ch = ch->next_peer)
		if (ch->alloc == a && memcmp(&ch->peer, &peer,
		    sizeof(peer)) == 0)
			break;
	pm = perm_find(a, &peer);
	if (pm == NULL || pm->expires <= now) {
		relay_count(r, RC_DROP_NO_PERMISSION, 1);
		return NULL;
	}
	if (ch != NULL && ch->expires > now)
		return ch;
	/* No channel: a Data indication (RFC 8656 section 11.6). */
	data_indication(r, a, from, p, len);
	return NULL;
}

void
relay_tick(struct relay *r)
{
	struct relay_alloc *a, *next;
	uint64_t now = time_mono_ns();
	unsigned i;

	for (a = r->all; a != NULL; a = next) {
		next = a->next_all;
		if (a->expires <= now) {
			log_debug("allocation port %u expired", a->port);
			alloc_free(r, a);
			continue;
		}
		for (i = 0; i < a->nperms;) {
			if (a->perms[i].expires <= now) {
				a->perms[i] = a->perms[--a->nperms];
				r->nperms--;
			} else
				i++;
		}
		for (i = 0; i < a->nchans;) {
			struct relay_channel *ch = a->chans[i];

			if (ch->bound && ch->expires <= now) {
				/* Unusable now; the number waits 5 minutes. */
				chan_unlink(r, ch);
				ch->deleted_at = now +
				    RELAY_CHANNEL_QUARANTINE * NS;
			} else if (ch->bound && ch->perm_expires <= now)
				chan_down(r, ch);	/* out of XDP too */
			if (!ch->bound && ch->deleted_at <= now) {
				free(ch);
				a->chans[i] = a->chans[--a->nchans];
				r->nchans--;
				continue;
			}
			i++;
		}
	}
	for (i = 0; i < r->nres;) {
		if (r->res[i].expires <= now)
			r->res[i] = r->res[--r->nres];
		else
			i++;
	}
}

int
relay_new(const struct relay_config *cfg, const struct relay_ops *ops,
    struct relay **out)
{
	struct relay *r;

	if (sodium_init() < 0)
		return -ENOSYS;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->cfg = *cfg;
	if (r->cfg.realm == NULL)
		r->cfg.realm = RELAY_REALM_DEFAULT;
	if (r->cfg.max_allocations == 0)
		r->cfg.max_allocations = 10000;
	if (r->cfg.user_quota == 0)
		r->cfg.user_quota = 1000;
	if (r->cfg.challenge_rate == 0)
		r->cfg.challenge_rate = RELAY_CHALLENGE_RATE;
	if (r->cfg.challenge_rate > NS)
		r->cfg.challenge_rate = NS;
	r->ch_tokens_ns = NS;
	r->ch_last_ns = time_mono_ns();
	if (r->cfg.port_lo == 0 && r->cfg.port_hi == 0) {
		r->cfg.port_lo = 49152;
		r->cfg.port_hi = 65535;
	}
	if (cfg->stamp_secret != NULL) {
		size_t n = strlen(cfg->stamp_secret);

		if (n == 0 || n > RELAY_STAMP_SECRET_MAX) {
			free(r);
			return -EINVAL;
		}
		memcpy(r->stamp, cfg->stamp_secret, n + 1);
		r->cfg.stamp_secret = r->stamp;
	}
	r->ops = *ops;
	r->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 5);
	randombytes_buf(r->hkey, sizeof(r->hkey));
	r->nonce_epoch = time_mono_ns() / NS / RELAY_NONCE_LIFETIME;
	randombytes_buf(r->nonce_key, sizeof(r->nonce_key));
	*out = r;
	return 0;
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	while (r->all != NULL)
		alloc_free(r, r->all);
	sodium_memzero(r->nonce_key, sizeof(r->nonce_key));
	sodium_memzero(r->stamp, sizeof(r->stamp));
	free(r);
}
