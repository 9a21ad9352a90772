/* SPDX-License-Identifier: ISC */
/*
 * The TURN client state machine (see turn_client.h).  Every request lives
 * in a struct txn inside the object it is for (the allocation, the Binding,
 * a permission, a channel), so there is never more than one request per
 * object and no table of transactions to bound.  A response is first
 * screened (method, error code, integrity) and only then acted on; a
 * success is decoded into locals and committed in one place.  This file
 * has the transactions, the credentials, the allocation and Binding;
 * permissions and channels are in turn_peers.c.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "turn_int.h"

static void	alloc_start(struct turn_client *, uint64_t);

/* --- small helpers ------------------------------------------------------- */

static int
copy_text(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (src == NULL) {
		dst[0] = '\0';
		return 0;
	}
	n = strlen(src);
	if (n >= cap)
		return -EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

uint64_t
turn_min_deadline(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

bool
turn_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}

void
turn_copy_addr(union fz_sockaddr *dst, const struct sockaddr *src)
{
	memset(dst, 0, sizeof(*dst));
	memcpy(dst, src, addr_len(src));
}

bool
turn_has_family(const struct turn_client *tc, int family)
{
	unsigned i;

	for (i = 0; i < tc->nrelayed; i++)
		if (tc->relayed[i].sa.sa_family == family)
			return true;
	return false;
}

static void
emit(struct turn_client *tc, const struct turn_event *ev)
{
	if (tc->evlen == tc->evcap) {
		tc->evdropped++;
		return;
	}
	tc->evq[(tc->evhead + tc->evlen) % tc->evcap] = *ev;
	tc->evlen++;
}

static void
emit_simple(struct turn_client *tc, enum turn_event_type type,
    enum turn_reason reason, int code)
{
	struct turn_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.reason = reason;
	ev.code = code;
	emit(tc, &ev);
}

void
turn_emit_peer(struct turn_client *tc, enum turn_event_type type,
    const union fz_sockaddr *peer, uint16_t channel, enum turn_reason reason,
    int code)
{
	struct turn_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.peer = *peer;
	ev.channel = channel;
	ev.reason = reason;
	ev.code = code;
	emit(tc, &ev);
}

/* RFC 6298 estimator on first-send samples only (Karn). */
static void
rtt_sample(struct turn_client *tc, uint64_t r)
{
	uint64_t d;

	if (!tc->have_rtt) {
		tc->have_rtt = true;
		tc->srtt = r;
		tc->rttvar = r / 2;
	} else {
		d = tc->srtt > r ? tc->srtt - r : r - tc->srtt;
		tc->rttvar = (3 * tc->rttvar + d) / 4;
		tc->srtt = (7 * tc->srtt + r) / 8;
	}
	tc->rto = tc->srtt + 4 * tc->rttvar;
	if (tc->rto > RTO_CAP)
		tc->rto = RTO_CAP;
	if (tc->rto < tc->rto_min)
		tc->rto = tc->rto_min;
}

/* --- transactions -------------------------------------------------------- */

void
turn_txn_clear(struct txn *t)
{
	free(t->msg);
	memset(t, 0, sizeof(*t));
}

static uint16_t
kind_method(uint8_t kind)
{
	switch (kind) {
	case TX_ALLOCATE:	return TURN_ALLOCATE;
	case TX_REFRESH:
	case TX_DELETE:		return TURN_REFRESH;
	case TX_BINDING:	return STUN_BINDING;
	case TX_PERMISSION:	return TURN_CREATE_PERMISSION;
	case TX_CHANNEL:	return TURN_CHANNEL_BIND;
	}
	return 0;
}

static void
put_family(struct stun_builder *b, uint16_t type, uint8_t family)
{
	uint8_t v[4] = { family, 0, 0, 0 };

	stun_put(b, type, v, sizeof(v));
}

/*
 * Encodes the request of kind into t with a fresh transaction id.  peer
 * and channel only for permissions and channels.
 */
static int
txn_build(struct turn_client *tc, struct txn *t, uint8_t kind,
    const struct sockaddr *peer, uint16_t channel)
{
	struct stun_builder b;
	uint8_t tid[12];
	uint8_t *msg;
	bool authed = false;
	size_t len;
	int rc;

	tc->rng(tc->rng_ctx, tid, sizeof(tid));
	stun_build(&b, tc->scratch, sizeof(tc->scratch),
	    kind_method(kind) | STUN_REQUEST, tid);
	switch (kind) {
	case TX_ALLOCATE:
		stun_put_u32(&b, TURN_A_REQUESTED_TRANSPORT,
		    (uint32_t)UDP_PROTO << 24);
		if (tc->try_family == TURN_FAMILY_DUAL)
			put_family(&b, TURN_A_ADDITIONAL_ADDRESS_FAMILY,
			    STUN_FAMILY_IPV6);
		else if (tc->try_family == TURN_FAMILY_V6)
			put_family(&b, TURN_A_REQUESTED_ADDRESS_FAMILY,
			    STUN_FAMILY_IPV6);
		/* FALLTHROUGH */
	case TX_REFRESH:
		if (tc->lifetime_s != 0)
			stun_put_u32(&b, TURN_A_LIFETIME, tc->lifetime_s);
		break;
	case TX_DELETE:
		stun_put_u32(&b, TURN_A_LIFETIME, 0);
		break;
	case TX_CHANNEL:
		stun_put_u32(&b, TURN_A_CHANNEL_NUMBER, (uint32_t)channel << 16);
		/* FALLTHROUGH */
	case TX_PERMISSION:
		stun_put_xaddr(&b, TURN_A_XOR_PEER_ADDRESS, peer);
		break;
	}
	if (tc->software[0] != '\0')
		stun_put_str(&b, STUN_A_SOFTWARE, tc->software);
	/* Binding is never authenticated (section 2.4: srflx from any relay). */
	if (kind != TX_BINDING && tc->have_auth) {
		stun_put_str(&b, STUN_A_USERNAME, tc->username);
		stun_put_str(&b, STUN_A_REALM, tc->realm);
		stun_put_str(&b, STUN_A_NONCE, tc->nonce);
		stun_put_integrity(&b, tc->key, sizeof(tc->key));
		authed = true;
	}
	if ((rc = stun_finish(&b, &len)) != 0)
		return rc;
	if ((msg = malloc(len)) == NULL)
		return -ENOMEM;
	memcpy(msg, tc->scratch, len);
	free(t->msg);
	t->msg = msg;
	t->len = len;
	t->kind = kind;
	t->authed = authed;
	memcpy(t->tid, tid, sizeof(tid));
	return 0;
}

/*
 * Starts a new transaction (a first request, or a retry after 438 which
 * RFC 8489 makes a new transaction: nstale is kept by the caller).
 */
int
turn_txn_send(struct turn_client *tc, struct txn *t, uint8_t kind, uint64_t now,
    const struct sockaddr *peer, uint16_t channel)
{
	uint8_t nstale = t->nstale;
	int rc;

	if ((rc = txn_build(tc, t, kind, peer, channel)) != 0) {
		turn_txn_clear(t);
		return rc;
	}
	t->nstale = nstale;
	t->ntx = 1;
	t->want_tx = true;
	t->first_at = t->last_at = now;
	t->rto0 = t->rto = tc->rto;
	t->next_at = now + (tc->max_tx > 1 ? t->rto : tc->rm * t->rto0);
	return 0;
}

/*
 * RFC 8489 section 6.2.1: sends at 0, RTO, 3 RTO, 7 RTO, ...; after the
 * Rc-th send, Rm times the initial RTO more.  Returns true once the
 * transaction has timed out.
 */
bool
turn_txn_tick(struct turn_client *tc, struct txn *t, uint64_t now)
{
	if (t->kind == TX_NONE || now < t->next_at)
		return false;
	if (t->ntx >= tc->max_tx)
		return true;
	t->ntx++;
	t->want_tx = true;
	t->last_at = now;
	t->rto *= 2;
	if (t->ntx >= tc->max_tx)
		t->next_at = now + tc->rm * t->rto0;
	else
		t->next_at = now + t->rto;
	return false;
}

bool
turn_txn_due(const struct txn *t, uint64_t *deadline)
{
	if (t->kind == TX_NONE)
		return false;
	*deadline = turn_min_deadline(*deadline, t->next_at);
	return true;
}

static void
alloc_reset(struct turn_client *tc, enum turn_state st)
{
	turn_txn_clear(&tc->atx);
	turn_entries_clear(tc);
	tc->nrelayed = 0;
	memset(tc->relayed, 0, sizeof(tc->relayed));
	tc->refresh_at = tc->expires_at = tc->keepalive_at = 0;
	tc->state = st;
}

static void
alloc_fail(struct turn_client *tc, enum turn_reason reason, int code)
{
	bool was_ready = tc->state == TURN_READY;

	alloc_reset(tc, TURN_FAILED);
	emit_simple(tc, was_ready ? TURN_EV_ALLOCATION_LOST :
	    TURN_EV_ALLOCATION_FAILED, reason, code);
}

/* --- screening responses ------------------------------------------------- */

/*
 * The error code of a response (0 for a success), or -EBADMSG for one to
 * ignore: an error without a valid ERROR-CODE, or a response to an
 * authenticated request without valid integrity (a 401 or 438 need not
 * have it: the server may not know our key, RFC 8489 section 9.2.5).
 */
static int
screen(const struct turn_client *tc, const struct txn *t,
    const struct stun_msg *m)
{
	const char *reason;
	size_t rlen;
	int code = 0;

	if (m->cls == STUN_ERROR && stun_get_error(stun_find(m,
	    STUN_A_ERROR_CODE), &code, &reason, &rlen) != 0)
		return -EBADMSG;
	if (t->authed && code != 401 && code != 438 &&
	    stun_check_integrity(m, tc->key, sizeof(tc->key)) != 0)
		return -EBADMSG;
	return code;
}

/*
 * A 401 or 438: learn REALM and NONCE (section 3.3).  TURN_R_NONE means
 * retry the request with them.
 */
enum turn_reason
turn_challenge(struct turn_client *tc, struct txn *t, const struct stun_msg *m,
    int code)
{
	char realm[TURN_TEXT_MAX + 1], nonce[TURN_TEXT_MAX + 1];
	const struct stun_attr *ra;

	if (code == 401 && t->authed)
		return TURN_R_BAD_CREDENTIALS;
	if (code == 438 && t->nstale++ >= TURN_STALE_RETRIES)
		return TURN_R_STALE_NONCE;
	if (stun_get_text(stun_find(m, STUN_A_NONCE), TURN_TEXT_MAX, nonce,
	    sizeof(nonce)) != 0 || nonce[0] == '\0')
		return TURN_R_BAD_RESPONSE;
	if ((ra = stun_find(m, STUN_A_REALM)) != NULL) {
		if (stun_get_text(ra, TURN_TEXT_MAX, realm,
		    sizeof(realm)) != 0 || realm[0] == '\0')
			return TURN_R_BAD_RESPONSE;
	} else if (tc->have_auth)
		memcpy(realm, tc->realm, sizeof(realm));
	else
		return TURN_R_BAD_RESPONSE;
	if (tc->expect_realm[0] != '\0' &&
	    strcmp(realm, tc->expect_realm) != 0)
		return TURN_R_REALM;
	if (!tc->have_auth || strcmp(realm, tc->realm) != 0) {
		memcpy(tc->realm, realm, sizeof(tc->realm));
		stun_long_term_key(tc->username, tc->realm, tc->password,
		    tc->key);
	}
	memcpy(tc->nonce, nonce, sizeof(tc->nonce));
	tc->have_auth = true;
	return TURN_R_NONE;
}

/* --- the allocation ------------------------------------------------------ */

static void
alloc_start(struct turn_client *tc, uint64_t now)
{
	if (turn_txn_send(tc, &tc->atx, TX_ALLOCATE, now, NULL, 0) != 0)
		alloc_fail(tc, TURN_R_NO_MEMORY, 0);
}

static bool
family_wanted(const struct turn_client *tc, int family)
{
	switch (tc->try_family) {
	case TURN_FAMILY_DUAL:
		return family == AF_INET || family == AF_INET6;
	case TURN_FAMILY_V4:
		return family == AF_INET;
	case TURN_FAMILY_V6:
		return family == AF_INET6;
	}
	return false;
}

static void
alloc_success(struct turn_client *tc, const struct stun_msg *m, uint64_t now)
{
	union fz_sockaddr rel[2], mapped;
	struct turn_event ev;
	uint32_t lifetime = TURN_LIFETIME_DEFAULT;
	const struct stun_attr *a;
	unsigned i, n = 0;

	for (i = 0; i < m->nattrs; i++) {
		if (m->attrs[i].type != TURN_A_XOR_RELAYED_ADDRESS)
			continue;
		if (n == 2 || stun_get_xaddr(m, &m->attrs[i], &rel[n]) != 0 ||
		    !family_wanted(tc, rel[n].sa.sa_family) ||
		    (n == 1 && rel[0].sa.sa_family == rel[1].sa.sa_family)) {
			alloc_fail(tc, TURN_R_BAD_RESPONSE, 0);
			return;
		}
		n++;
	}
	if ((a = stun_find(m, TURN_A_LIFETIME)) != NULL &&
	    stun_get_u32(a, &lifetime) != 0)
		lifetime = 0;
	if (n == 0 || lifetime == 0) {
		alloc_fail(tc, TURN_R_BAD_RESPONSE, 0);
		return;
	}
	if (lifetime > LIFETIME_MAX)
		lifetime = LIFETIME_MAX;
	memset(&mapped, 0, sizeof(mapped));
	if ((a = stun_find(m, STUN_A_XOR_MAPPED_ADDRESS)) != NULL &&
	    stun_get_xaddr(m, a, &mapped) != 0)
		memset(&mapped, 0, sizeof(mapped));

	/* Commit. */
	memcpy(tc->relayed, rel, n * sizeof(rel[0]));
	tc->nrelayed = n;
	/* The server started the clock when it got one of our sends. */
	tc->expires_at = tc->atx.first_at + SEC(lifetime);
	tc->refresh_at = now + SEC(lifetime) / 2;
	tc->keepalive_at = tc->keepalive != 0 ? now + tc->keepalive : 0;
	tc->state = TURN_READY;
	turn_txn_clear(&tc->atx);
	memset(&ev, 0, sizeof(ev));
	ev.type = TURN_EV_ALLOCATED;
	memcpy(ev.relayed, rel, n * sizeof(rel[0]));
	ev.nrelayed = n;
	ev.mapped = mapped;
	ev.lifetime_s = lifetime;
	emit(tc, &ev);
	turn_entries_start(tc, now);
}

static void
allocate_response(struct turn_client *tc, const struct stun_msg *m, int code,
    uint64_t now)
{
	enum turn_reason r;

	switch (code) {
	case 0:
		alloc_success(tc, m, now);
		return;
	case 401:
	case 438:
		if ((r = turn_challenge(tc, &tc->atx, m, code)) != TURN_R_NONE)
			alloc_fail(tc, r, code);
		else
			alloc_start(tc, now);
		return;
	case 440:
		/* RFC 8656 section 7.2: the relay lacks IPv4; ask for IPv6. */
		if (tc->try_family == TURN_FAMILY_DUAL) {
			tc->try_family = TURN_FAMILY_V6;
			tc->atx.nstale = 0;
			alloc_start(tc, now);
			return;
		}
		alloc_fail(tc, TURN_R_FAMILY, code);
		return;
	case 400:
		/* A server refusing ADDITIONAL-ADDRESS-FAMILY: plain IPv4. */
		if (tc->try_family == TURN_FAMILY_DUAL && !tc->tried_plain) {
			tc->tried_plain = true;
			tc->try_family = TURN_FAMILY_V4;
			tc->atx.nstale = 0;
			alloc_start(tc, now);
			return;
		}
		break;
	case 437:
		/*
		 * An allocation from this 5-tuple survives (we restarted):
		 * delete it and allocate again (section 2.7), once.
		 */
		if (!tc->tried_delete) {
			tc->tried_delete = true;
			tc->atx.nstale = 0;
			if (turn_txn_send(tc, &tc->atx, TX_DELETE, now, NULL, 0) != 0)
				alloc_fail(tc, TURN_R_NO_MEMORY, 0);
			return;
		}
		alloc_fail(tc, TURN_R_MISMATCH, code);
		return;
	}
	alloc_fail(tc, TURN_R_ERROR, code);
}

/* After a failed refresh: try again halfway to expiry. */
static void
refresh_retry(struct turn_client *tc, enum turn_reason reason, int code,
    uint64_t now)
{
	turn_txn_clear(&tc->atx);
	if (tc->expires_at > now)
		tc->refresh_at = now + (tc->expires_at - now) / 2;
	emit_simple(tc, TURN_EV_REFRESH_FAILED, reason, code);
}

static void
refresh_response(struct turn_client *tc, const struct stun_msg *m, int code,
    uint64_t now)
{
	const struct stun_attr *a;
	struct turn_event ev;
	uint32_t lifetime = tc->lifetime_s != 0 ? tc->lifetime_s :
	    TURN_LIFETIME_DEFAULT;
	enum turn_reason r;

	switch (code) {
	case 0:
		if ((a = stun_find(m, TURN_A_LIFETIME)) != NULL &&
		    stun_get_u32(a, &lifetime) != 0) {
			refresh_retry(tc, TURN_R_BAD_RESPONSE, 0, now);
			return;
		}
		if (lifetime == 0) {
			alloc_fail(tc, TURN_R_EXPIRED, 0);
			return;
		}
		if (lifetime > LIFETIME_MAX)
			lifetime = LIFETIME_MAX;
		tc->expires_at = tc->atx.first_at + SEC(lifetime);
		tc->refresh_at = now + SEC(lifetime) / 2;
		turn_txn_clear(&tc->atx);
		memset(&ev, 0, sizeof(ev));
		ev.type = TURN_EV_REFRESHED;
		ev.lifetime_s = lifetime;
		emit(tc, &ev);
		return;
	case 401:
	case 438:
		r = turn_challenge(tc, &tc->atx, m, code);
		if (r == TURN_R_NONE) {
			if (turn_txn_send(tc, &tc->atx, TX_REFRESH, now, NULL, 0) != 0)
				refresh_retry(tc, TURN_R_NO_MEMORY, 0, now);
		} else if (r == TURN_R_BAD_CREDENTIALS || r == TURN_R_REALM)
			alloc_fail(tc, r, code);
		else
			refresh_retry(tc, r, code, now);
		return;
	case 437:
		alloc_fail(tc, TURN_R_MISMATCH, code);
		return;
	}
	refresh_retry(tc, TURN_R_ERROR, code, now);
}

/* The delete finished, one way or another. */
static void
delete_done(struct turn_client *tc, uint64_t now)
{
	turn_txn_clear(&tc->atx);
	if (tc->state == TURN_ALLOCATING) {
		alloc_start(tc, now);
		return;
	}
	alloc_reset(tc, TURN_IDLE);
	emit_simple(tc, TURN_EV_FREED, TURN_R_NONE, 0);
}

static void
delete_response(struct turn_client *tc, const struct stun_msg *m, int code,
    uint64_t now)
{
	if ((code == 401 || code == 438) &&
	    turn_challenge(tc, &tc->atx, m, code) == TURN_R_NONE) {
		if (turn_txn_send(tc, &tc->atx, TX_DELETE, now, NULL, 0) == 0)
			return;
	}
	delete_done(tc, now);
}

/* --- Binding ------------------------------------------------------------- */

static void
binding_response(struct turn_client *tc, const struct stun_msg *m, int code,
    uint64_t now)
{
	union fz_sockaddr mapped;
	const struct stun_attr *a;
	struct turn_event ev;
	int rc;

	turn_txn_clear(&tc->btx);
	if (tc->state == TURN_READY && tc->keepalive != 0)
		tc->keepalive_at = now + tc->keepalive;
	if (code != 0) {
		emit_simple(tc, TURN_EV_BINDING_FAILED, TURN_R_ERROR, code);
		return;
	}
	if ((a = stun_find(m, STUN_A_XOR_MAPPED_ADDRESS)) != NULL)
		rc = stun_get_xaddr(m, a, &mapped);
	else	/* RFC 3489 servers */
		rc = stun_get_addr(stun_find(m, STUN_A_MAPPED_ADDRESS),
		    &mapped);
	if (rc != 0) {
		emit_simple(tc, TURN_EV_BINDING_FAILED, TURN_R_BAD_RESPONSE, 0);
		return;
	}
	if (tc->mapped.sa.sa_family != AF_UNSPEC &&
	    addr_eq(&tc->mapped.sa, &mapped.sa))
		return;
	tc->mapped = mapped;
	memset(&ev, 0, sizeof(ev));
	ev.type = TURN_EV_MAPPED;
	ev.mapped = mapped;
	emit(tc, &ev);
}

/* --- public API ---------------------------------------------------------- */

int
turn_client_new(const struct turn_client_config *cfg, struct turn_client **out)
{
	struct turn_client *tc;
	unsigned maxch, maxp;

	if (cfg->rng == NULL || (cfg->server.sa.sa_family != AF_INET &&
	    cfg->server.sa.sa_family != AF_INET6) || cfg->username == NULL ||
	    cfg->password == NULL || cfg->family > TURN_FAMILY_V6 ||
	    cfg->max_channels > CHANNELS_MAX ||
	    cfg->max_permissions > PERMISSIONS_MAX || cfg->max_tx > 32 ||
	    cfg->rm > 64 || cfg->rto_ms > 60000 ||
	    cfg->lifetime_s > LIFETIME_MAX)
		return -EINVAL;
	maxch = cfg->max_channels != 0 ? cfg->max_channels : 64;
	maxp = cfg->max_permissions != 0 ? cfg->max_permissions : 64;
	if ((tc = calloc(1, sizeof(*tc))) == NULL)
		return -ENOMEM;
	if (copy_text(tc->username, sizeof(tc->username), cfg->username) != 0 ||
	    copy_text(tc->password, sizeof(tc->password), cfg->password) != 0 ||
	    copy_text(tc->expect_realm, sizeof(tc->expect_realm),
	    cfg->realm) != 0 ||
	    copy_text(tc->software, sizeof(tc->software), cfg->software) != 0) {
		turn_client_free(tc);
		return -EINVAL;
	}
	turn_copy_addr(&tc->server, &cfg->server.sa);
	tc->family = cfg->family;
	tc->lifetime_s = cfg->lifetime_s;
	tc->keepalive = MS(cfg->keepalive_ms);
	tc->rto_min = tc->rto = MS(cfg->rto_ms != 0 ? cfg->rto_ms : 500);
	tc->max_tx = cfg->max_tx != 0 ? cfg->max_tx : 7;
	tc->rm = cfg->rm != 0 ? cfg->rm : 16;
	tc->rng = cfg->rng;
	tc->rng_ctx = cfg->rng_ctx;
	tc->next_channel = TURN_CHANNEL_FIRST;
	tc->evcap = maxch + maxp + 16;
	tc->perms = calloc(maxp, sizeof(*tc->perms));
	tc->chans = calloc(maxch, sizeof(*tc->chans));
	tc->evq = calloc(tc->evcap, sizeof(*tc->evq));
	if (tc->perms == NULL || tc->chans == NULL || tc->evq == NULL) {
		turn_client_free(tc);
		return -ENOMEM;
	}
	tc->nperms = maxp;
	tc->nchans = maxch;
	*out = tc;
	return 0;
}

void
turn_client_free(struct turn_client *tc)
{
	if (tc == NULL)
		return;
	turn_txn_clear(&tc->atx);
	turn_txn_clear(&tc->btx);
	if (tc->perms != NULL || tc->chans != NULL)
		turn_entries_clear(tc);
	free(tc->perms);
	free(tc->chans);
	free(tc->evq);
	OPENSSL_cleanse(tc, sizeof(*tc));
	free(tc);
}

int
turn_client_allocate(struct turn_client *tc, uint64_t now)
{
	if (tc->state != TURN_IDLE && tc->state != TURN_FAILED)
		return -EALREADY;
	/* A fresh start asks without credentials first (section 3.3). */
	tc->have_auth = false;
	tc->nonce[0] = '\0';
	tc->try_family = tc->family;
	tc->tried_plain = tc->tried_delete = false;
	turn_txn_clear(&tc->atx);
	tc->state = TURN_ALLOCATING;
	if (turn_txn_send(tc, &tc->atx, TX_ALLOCATE, now, NULL, 0) != 0) {
		tc->state = TURN_FAILED;
		return -ENOMEM;
	}
	return 0;
}

int
turn_client_deallocate(struct turn_client *tc, uint64_t now)
{
	/*
	 * Nothing exists on the server until an authenticated Allocate
	 * went out (or the 437 delete is running): then delete it.
	 */
	if (tc->state == TURN_ALLOCATING && !tc->atx.authed) {
		alloc_reset(tc, TURN_IDLE);
		emit_simple(tc, TURN_EV_FREED, TURN_R_NONE, 0);
		return 0;
	}
	if (tc->state != TURN_READY && tc->state != TURN_ALLOCATING)
		return -ENOTCONN;
	turn_entries_clear(tc);
	turn_txn_clear(&tc->atx);
	tc->state = TURN_DEALLOCATING;
	if (turn_txn_send(tc, &tc->atx, TX_DELETE, now, NULL, 0) != 0) {
		alloc_reset(tc, TURN_IDLE);
		emit_simple(tc, TURN_EV_FREED, TURN_R_NO_MEMORY, 0);
	}
	return 0;
}

int
turn_client_binding(struct turn_client *tc, uint64_t now)
{
	if (tc->btx.kind != TX_NONE)
		return -EALREADY;
	return turn_txn_send(tc, &tc->btx, TX_BINDING, now, NULL, 0);
}

int
turn_client_set_credentials(struct turn_client *tc, const char *user,
    const char *pass)
{
	if (user == NULL || pass == NULL || strlen(user) > TURN_TEXT_MAX ||
	    strlen(pass) > TURN_TEXT_MAX)
		return -EINVAL;
	OPENSSL_cleanse(tc->password, sizeof(tc->password));
	memcpy(tc->username, user, strlen(user) + 1);
	memcpy(tc->password, pass, strlen(pass) + 1);
	if (tc->have_auth)
		stun_long_term_key(tc->username, tc->realm, tc->password,
		    tc->key);
	return 0;
}

static struct txn *
txn_find(struct turn_client *tc, const struct stun_msg *m, struct perm **pp,
    struct chan **cp)
{
	struct txn *ts[2] = { &tc->atx, &tc->btx };
	unsigned i;

	*pp = NULL;
	*cp = NULL;
	for (i = 0; i < 2; i++)
		if (ts[i]->kind != TX_NONE &&
		    memcmp(ts[i]->tid, m->tid, 12) == 0)
			goto found;
	for (i = 0; i < tc->nperms; i++)
		if (tc->perms[i].tx.kind != TX_NONE &&
		    memcmp(tc->perms[i].tx.tid, m->tid, 12) == 0) {
			*pp = &tc->perms[i];
			return kind_method(tc->perms[i].tx.kind) == m->method ?
			    &tc->perms[i].tx : NULL;
		}
	for (i = 0; i < tc->nchans; i++)
		if (tc->chans[i].tx.kind != TX_NONE &&
		    memcmp(tc->chans[i].tx.tid, m->tid, 12) == 0) {
			*cp = &tc->chans[i];
			return kind_method(tc->chans[i].tx.kind) == m->method ?
			    &tc->chans[i].tx : NULL;
		}
	return NULL;
found:
	return kind_method(ts[i]->kind) == m->method ? ts[i] : NULL;
}

int
turn_client_input(struct turn_client *tc, uint64_t now,
    const struct sockaddr *from, const uint8_t *p, size_t len,
    struct turn_data *out)
{
	struct stun_msg m;
	struct perm *perm;
	struct chan *chan;
	struct txn *t;
	int code;

	if (from == NULL || !addr_eq(from, &tc->server.sa))
		return -ENOENT;
	if (len >= 4 && (p[0] & 0xc0) == 0x40)
		return turn_input_channeldata(tc, p, len, out);
	/* One message per datagram: trailing bytes are an error. */
	if (!stun_is_stun(p, len) || stun_parse(p, len, &m) != 0 ||
	    m.len != len)
		return -EBADMSG;
	if (m.cls == STUN_INDICATION && m.method == TURN_DATA)
		return turn_input_data_indication(tc, &m, out);
	if (m.cls != STUN_SUCCESS && m.cls != STUN_ERROR)
		return -EBADMSG;
	if ((t = txn_find(tc, &m, &perm, &chan)) == NULL)
		return -ENOENT;
	if ((code = screen(tc, t, &m)) < 0)
		return code;
	if (t->ntx == 1)
		rtt_sample(tc, now - t->first_at);
	switch (t->kind) {
	case TX_ALLOCATE:
		allocate_response(tc, &m, code, now);
		break;
	case TX_REFRESH:
		refresh_response(tc, &m, code, now);
		break;
	case TX_DELETE:
		delete_response(tc, &m, code, now);
		break;
	case TX_BINDING:
		binding_response(tc, &m, code, now);
		break;
	case TX_PERMISSION:
		turn_perm_response(tc, perm, &m, code, now);
		break;
	case TX_CHANNEL:
		turn_chan_response(tc, chan, &m, code, now);
		break;
	}
	return TURN_INPUT_HANDLED;
}

static void
timeout_alloc(struct turn_client *tc, uint64_t now)
{
	if (turn_txn_tick(tc, &tc->atx, now)) {
		switch (tc->atx.kind) {
		case TX_ALLOCATE:
			alloc_fail(tc, TURN_R_TIMEOUT, 0);
			return;
		case TX_REFRESH:
			refresh_retry(tc, TURN_R_TIMEOUT, 0, now);
			break;
		case TX_DELETE:
			delete_done(tc, now);
			return;
		}
	}
	if (tc->state != TURN_READY)
		return;
	if (now >= tc->expires_at) {
		alloc_fail(tc, TURN_R_EXPIRED, 0);
		return;
	}
	if (tc->atx.kind == TX_NONE && now >= tc->refresh_at &&
	    turn_txn_send(tc, &tc->atx, TX_REFRESH, now, NULL, 0) != 0)
		refresh_retry(tc, TURN_R_NO_MEMORY, 0, now);
}

static void
timeout_binding(struct turn_client *tc, uint64_t now)
{
	if (turn_txn_tick(tc, &tc->btx, now)) {
		turn_txn_clear(&tc->btx);
		if (tc->state == TURN_READY && tc->keepalive != 0)
			tc->keepalive_at = now + tc->keepalive;
		emit_simple(tc, TURN_EV_BINDING_FAILED, TURN_R_TIMEOUT, 0);
	}
	if (tc->state == TURN_READY && tc->keepalive != 0 &&
	    tc->btx.kind == TX_NONE && now >= tc->keepalive_at) {
		tc->keepalive_at = now + tc->keepalive;
		if (turn_txn_send(tc, &tc->btx, TX_BINDING, now, NULL, 0) != 0)
			emit_simple(tc, TURN_EV_BINDING_FAILED,
			    TURN_R_NO_MEMORY, 0);
	}
}

void
turn_client_handle_timeout(struct turn_client *tc, uint64_t now)
{
	timeout_alloc(tc, now);
	timeout_binding(tc, now);
	turn_peers_timeout(tc, now);
}

int
turn_client_poll_timeout(const struct turn_client *tc, uint64_t *deadline)
{
	uint64_t d = UINT64_MAX;

	if (!turn_txn_due(&tc->atx, &d) && tc->state == TURN_READY)
		d = turn_min_deadline(d, tc->refresh_at);
	if (tc->state == TURN_READY)
		d = turn_min_deadline(d, tc->expires_at);
	if (!turn_txn_due(&tc->btx, &d) && tc->state == TURN_READY &&
	    tc->keepalive != 0)
		d = turn_min_deadline(d, tc->keepalive_at);
	turn_peers_deadline(tc, &d);
	if (d == UINT64_MAX)
		return -ENOENT;
	*deadline = d;
	return 0;
}

static bool
take(struct txn *t, const struct turn_client *tc, struct turn_transmit *out)
{
	if (t->kind == TX_NONE || !t->want_tx)
		return false;
	t->want_tx = false;
	out->dst = &tc->server.sa;
	out->data = t->msg;
	out->len = t->len;
	return true;
}

int
turn_client_poll_transmit(struct turn_client *tc, struct turn_transmit *out)
{
	unsigned i;

	if (take(&tc->atx, tc, out) || take(&tc->btx, tc, out))
		return 0;
	for (i = 0; i < tc->nperms; i++)
		if (take(&tc->perms[i].tx, tc, out))
			return 0;
	for (i = 0; i < tc->nchans; i++)
		if (take(&tc->chans[i].tx, tc, out))
			return 0;
	return -EAGAIN;
}

int
turn_client_poll_event(struct turn_client *tc, struct turn_event *ev)
{
	if (tc->evlen == 0)
		return -EAGAIN;
	*ev = tc->evq[tc->evhead];
	tc->evhead = (tc->evhead + 1) % tc->evcap;
	tc->evlen--;
	return 0;
}

enum turn_state
turn_client_state(const struct turn_client *tc)
{
	return tc->state;
}

int
turn_client_relayed(const struct turn_client *tc, int family,
    union fz_sockaddr *out)
{
	unsigned i;

	if (tc->state != TURN_READY)
		return -ENOENT;
	for (i = 0; i < tc->nrelayed; i++)
		if (tc->relayed[i].sa.sa_family == family) {
			*out = tc->relayed[i];
			return 0;
		}
	return -ENOENT;
}

uint64_t
turn_client_rtt(const struct turn_client *tc)
{
	return tc->srtt;
}

unsigned
turn_client_events_dropped(const struct turn_client *tc)
{
	return tc->evdropped;
}

const char *
turn_reason_str(enum turn_reason r)
{
	static const char *const names[] = {
		[TURN_R_NONE] = "none",
		[TURN_R_TIMEOUT] = "timeout",
		[TURN_R_BAD_CREDENTIALS] = "bad credentials",
		[TURN_R_REALM] = "unexpected realm",
		[TURN_R_STALE_NONCE] = "stale nonce again and again",
		[TURN_R_FAMILY] = "address family not supported",
		[TURN_R_MISMATCH] = "allocation mismatch",
		[TURN_R_ERROR] = "error response",
		[TURN_R_BAD_RESPONSE] = "malformed response",
		[TURN_R_EXPIRED] = "expired",
		[TURN_R_NO_MEMORY] = "out of memory",
	};

	if ((unsigned)r >= sizeof(names) / sizeof(names[0]) || names[r] == NULL)
		return "?";
	return names[r];
}

const char *
turn_event_str(enum turn_event_type t)
{
	static const char *const names[] = {
		[TURN_EV_ALLOCATED] = "allocated",
		[TURN_EV_REFRESHED] = "refreshed",
		[TURN_EV_ALLOCATION_FAILED] = "allocation failed",
		[TURN_EV_ALLOCATION_LOST] = "allocation lost",
		[TURN_EV_REFRESH_FAILED] = "refresh failed",
		[TURN_EV_FREED] = "freed",
		[TURN_EV_MAPPED] = "mapped",
		[TURN_EV_BINDING_FAILED] = "binding failed",
		[TURN_EV_PERMISSION_CREATED] = "permission created",
		[TURN_EV_PERMISSION_FAILED] = "permission failed",
		[TURN_EV_CHANNEL_BOUND] = "channel bound",
		[TURN_EV_CHANNEL_FAILED] = "channel failed",
	};

	if ((unsigned)t >= sizeof(names) / sizeof(names[0]) || names[t] == NULL)
		return "?";
	return names[t];
}

