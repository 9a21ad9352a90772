/* SPDX-License-Identifier: ISC */
/*
 * Permissions and channels of a TURN allocation (see turn_client.h):
 * each holds its own request in flight, waits for the allocation when
 * asked for early, refreshes itself, and a channel's number stays with its
 * peer through the server's cooldown.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "turn_int.h"

/* --- permissions --------------------------------------------------------- */

static void
perm_drop(struct turn_client *tc, struct perm *p, enum turn_reason reason,
    int code)
{
	union fz_sockaddr peer = p->peer;

	turn_txn_clear(&p->tx);
	memset(p, 0, sizeof(*p));
	turn_emit_peer(tc, TURN_EV_PERMISSION_FAILED, &peer, 0, reason, code);
}

static void
perm_send(struct turn_client *tc, struct perm *p, uint64_t now)
{
	if (!turn_has_family(tc, p->peer.sa.sa_family)) {
		perm_drop(tc, p, TURN_R_FAMILY, 0);
		return;
	}
	if (turn_txn_send(tc, &p->tx, TX_PERMISSION, now, &p->peer.sa, 0) != 0) {
		perm_drop(tc, p, TURN_R_NO_MEMORY, 0);
		return;
	}
	if (p->st == E_WAIT)
		p->st = E_PENDING;
}

void
turn_perm_response(struct turn_client *tc, struct perm *p,
    const struct stun_msg *m, int code, uint64_t now)
{
	enum turn_reason r;
	bool first = p->st == E_PENDING;

	if (code == 0) {
		p->expires_at = p->tx.first_at + SEC(TURN_PERM_LIFETIME);
		p->refresh_at = p->tx.first_at + SEC(TURN_PERM_REFRESH);
		p->st = E_ACTIVE;
		turn_txn_clear(&p->tx);
		if (first)
			turn_emit_peer(tc, TURN_EV_PERMISSION_CREATED, &p->peer, 0,
			    TURN_R_NONE, 0);
		return;
	}
	if (code == 401 || code == 438) {
		if ((r = turn_challenge(tc, &p->tx, m, code)) == TURN_R_NONE)
			perm_send(tc, p, now);
		else
			perm_drop(tc, p, r, code);
		return;
	}
	perm_drop(tc, p, code == 443 ? TURN_R_FAMILY : TURN_R_ERROR, code);
}

static struct perm *
perm_find(struct turn_client *tc, const struct sockaddr *peer)
{
	unsigned i;

	for (i = 0; i < tc->nperms; i++)
		if (tc->perms[i].st != E_FREE &&
		    turn_same_ip(&tc->perms[i].peer.sa, peer))
			return &tc->perms[i];
	return NULL;
}

/* --- channels ------------------------------------------------------------ */

static void
chan_txn_done(struct chan *c)
{
	if (c->tx.kind != TX_NONE && c->tx.last_at > c->last_sent)
		c->last_sent = c->tx.last_at;
	turn_txn_clear(&c->tx);
}

/*
 * Unusable from now; the number stays with this peer until the server
 * has surely let the binding expire and its cooldown pass (section 3.5).
 */
static void
chan_cooldown(struct chan *c)
{
	chan_txn_done(c);
	c->st = E_COOLDOWN;
	c->free_at = c->last_sent + SEC(TURN_CHANNEL_LIFETIME) +
	    SEC(TURN_CHANNEL_COOLDOWN);
}

static void
chan_drop(struct turn_client *tc, struct chan *c, enum turn_reason reason,
    int code)
{
	chan_cooldown(c);
	turn_emit_peer(tc, TURN_EV_CHANNEL_FAILED, &c->peer, c->number, reason,
	    code);
}

static void
chan_send(struct turn_client *tc, struct chan *c, uint64_t now)
{
	if (!turn_has_family(tc, c->peer.sa.sa_family)) {
		chan_drop(tc, c, TURN_R_FAMILY, 0);
		return;
	}
	chan_txn_done(c);
	if (turn_txn_send(tc, &c->tx, TX_CHANNEL, now, &c->peer.sa,
	    c->number) != 0) {
		chan_drop(tc, c, TURN_R_NO_MEMORY, 0);
		return;
	}
	c->last_sent = now;
	if (c->st == E_WAIT)
		c->st = E_PENDING;
}

void
turn_chan_response(struct turn_client *tc, struct chan *c,
    const struct stun_msg *m, int code, uint64_t now)
{
	enum turn_reason r;
	uint8_t nstale;
	bool first = c->st == E_PENDING;

	if (code == 0) {
		c->expires_at = c->tx.first_at + SEC(TURN_CHANNEL_LIFETIME);
		c->rebind_at = c->tx.first_at + SEC(TURN_CHANNEL_REBIND);
		c->st = E_ACTIVE;
		chan_txn_done(c);
		if (first)
			turn_emit_peer(tc, TURN_EV_CHANNEL_BOUND, &c->peer,
			    c->number, TURN_R_NONE, 0);
		return;
	}
	if (code == 401 || code == 438) {
		if ((r = turn_challenge(tc, &c->tx, m, code)) == TURN_R_NONE) {
			nstale = c->tx.nstale;
			chan_send(tc, c, now);
			c->tx.nstale = nstale;
		} else
			chan_drop(tc, c, r, code);
		return;
	}
	chan_drop(tc, c, code == 443 ? TURN_R_FAMILY : TURN_R_ERROR, code);
}

static struct chan *
chan_find(const struct turn_client *tc, const struct sockaddr *peer)
{
	unsigned i;

	for (i = 0; i < tc->nchans; i++)
		if (tc->chans[i].st != E_FREE &&
		    addr_eq(&tc->chans[i].peer.sa, peer))
			return &tc->chans[i];
	return NULL;
}

static struct chan *
chan_by_number(const struct turn_client *tc, uint16_t number)
{
	unsigned i;

	for (i = 0; i < tc->nchans; i++)
		if (tc->chans[i].st != E_FREE && tc->chans[i].number == number)
			return &tc->chans[i];
	return NULL;
}

static bool
chan_usable(const struct chan *c)
{
	return c->st == E_PENDING || c->st == E_ACTIVE;
}

/* The next number round robin that no entry holds (0 when none). */
static uint16_t
chan_pick_number(struct turn_client *tc)
{
	unsigned i;
	uint16_t n;

	for (i = 0; i < CHANNELS_MAX; i++) {
		n = tc->next_channel;
		tc->next_channel = n == TURN_CHANNEL_LAST ? TURN_CHANNEL_FIRST :
		    (uint16_t)(n + 1);
		if (chan_by_number(tc, n) == NULL)
			return n;
	}
	return 0;
}

/* Sends what waited for the allocation. */
void
turn_entries_start(struct turn_client *tc, uint64_t now)
{
	unsigned i;

	for (i = 0; i < tc->nperms; i++)
		if (tc->perms[i].st == E_WAIT)
			perm_send(tc, &tc->perms[i], now);
	for (i = 0; i < tc->nchans; i++)
		if (tc->chans[i].st == E_WAIT)
			chan_send(tc, &tc->chans[i], now);
}

void
turn_entries_clear(struct turn_client *tc)
{
	unsigned i;

	for (i = 0; i < tc->nperms; i++) {
		turn_txn_clear(&tc->perms[i].tx);
		memset(&tc->perms[i], 0, sizeof(tc->perms[i]));
	}
	for (i = 0; i < tc->nchans; i++) {
		turn_txn_clear(&tc->chans[i].tx);
		memset(&tc->chans[i], 0, sizeof(tc->chans[i]));
	}
	tc->next_channel = TURN_CHANNEL_FIRST;
}

static int
entry_precheck(const struct turn_client *tc, const struct sockaddr *peer)
{
	if (peer->sa_family != AF_INET && peer->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (tc->state == TURN_FAILED || tc->state == TURN_DEALLOCATING)
		return -ENOTCONN;
	if (tc->state == TURN_READY && !turn_has_family(tc, peer->sa_family))
		return -EAFNOSUPPORT;
	return 0;
}

int
turn_client_create_permission(struct turn_client *tc, uint64_t now,
    const struct sockaddr *peer)
{
	struct perm *p = NULL;
	unsigned i;
	int rc;

	if ((rc = entry_precheck(tc, peer)) != 0)
		return rc;
	if (perm_find(tc, peer) != NULL)
		return 0;
	for (i = 0; i < tc->nperms && p == NULL; i++)
		if (tc->perms[i].st == E_FREE)
			p = &tc->perms[i];
	if (p == NULL)
		return -ENOSPC;
	turn_copy_addr(&p->peer, peer);
	addr_set_port(&p->peer.sa, 0);
	p->st = E_WAIT;
	if (tc->state != TURN_READY)
		return 0;
	if ((rc = turn_txn_send(tc, &p->tx, TX_PERMISSION, now, &p->peer.sa,
	    0)) != 0) {
		memset(p, 0, sizeof(*p));
		return rc;
	}
	p->st = E_PENDING;
	return 0;
}

void
turn_client_remove_permission(struct turn_client *tc,
    const struct sockaddr *peer)
{
	struct perm *p = perm_find(tc, peer);

	if (p != NULL) {
		turn_txn_clear(&p->tx);
		memset(p, 0, sizeof(*p));
	}
}

int
turn_client_bind_channel(struct turn_client *tc, uint64_t now,
    const struct sockaddr *peer, uint16_t *channel)
{
	struct chan *c;
	unsigned i;
	uint16_t n;
	int rc;

	if ((rc = entry_precheck(tc, peer)) != 0)
		return rc;
	if ((c = chan_find(tc, peer)) != NULL) {
		if (c->st == E_COOLDOWN) {
			/* Same peer, same number: binding again is allowed. */
			c->st = tc->state == TURN_READY ? E_PENDING : E_WAIT;
			if (c->st == E_PENDING)
				chan_send(tc, c, now);
			if (c->st == E_COOLDOWN)
				return -ENOMEM;
		}
		*channel = c->number;
		return 0;
	}
	for (i = 0, c = NULL; i < tc->nchans && c == NULL; i++)
		if (tc->chans[i].st == E_FREE)
			c = &tc->chans[i];
	if (c == NULL || (n = chan_pick_number(tc)) == 0)
		return -ENOSPC;
	memset(c, 0, sizeof(*c));
	turn_copy_addr(&c->peer, peer);
	c->number = n;
	c->st = E_WAIT;
	if (tc->state == TURN_READY) {
		c->st = E_PENDING;
		if ((rc = turn_txn_send(tc, &c->tx, TX_CHANNEL, now, &c->peer.sa,
		    n)) != 0) {
			memset(c, 0, sizeof(*c));
			return rc;
		}
		c->last_sent = now;
	}
	*channel = n;
	return 0;
}

void
turn_client_release_channel(struct turn_client *tc, uint64_t now,
    const struct sockaddr *peer)
{
	struct chan *c = chan_find(tc, peer);

	(void)now;
	if (c == NULL || c->st == E_COOLDOWN)
		return;
	if (c->st == E_WAIT) {	/* never sent: nothing to wait for */
		memset(c, 0, sizeof(*c));
		return;
	}
	chan_cooldown(c);
}

int
turn_client_channel(const struct turn_client *tc, const struct sockaddr *peer,
    uint16_t *channel)
{
	const struct chan *c = chan_find(tc, peer);

	if (c == NULL || !chan_usable(c))
		return -ENOENT;
	*channel = c->number;
	return 0;
}

int
turn_client_wrap(const struct turn_client *tc, const struct sockaddr *peer,
    const void *payload, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	uint16_t ch;
	int rc;

	if (len > 0xffff || cap < len + 4)
		return -ENOBUFS;
	if ((rc = turn_client_channel(tc, peer, &ch)) != 0)
		return rc;
	turn_channeldata_header(out, ch, (uint16_t)len);
	memmove(out + 4, payload, len);
	*outlen = len + 4;
	return 0;
}

int
turn_input_channeldata(struct turn_client *tc, const uint8_t *p, size_t len,
    struct turn_data *out)
{
	const uint8_t *payload;
	struct chan *c;
	uint16_t ch;
	size_t plen;

	if (turn_channeldata_parse(p, len, &ch, &payload, &plen) != 0)
		return -EBADMSG;
	if ((c = chan_by_number(tc, ch)) == NULL || !chan_usable(c))
		return -ENOENT;
	out->peer = c->peer;
	out->channel = ch;
	out->payload = payload;
	out->len = plen;
	return TURN_INPUT_DATA;
}

/* RFC 8656 section 11.6: only from a peer we gave a permission to. */
int
turn_input_data_indication(struct turn_client *tc, const struct stun_msg *m,
    struct turn_data *out)
{
	const struct stun_attr *d = stun_find(m, TURN_A_DATA);
	union fz_sockaddr peer;
	unsigned i;
	bool ok = false;

	if (d == NULL || stun_get_xaddr(m, stun_find(m,
	    TURN_A_XOR_PEER_ADDRESS), &peer) != 0)
		return -EBADMSG;
	if (tc->state != TURN_READY)
		return -ENOENT;
	for (i = 0; i < tc->nperms && !ok; i++)
		ok = (tc->perms[i].st == E_PENDING ||
		    tc->perms[i].st == E_ACTIVE) &&
		    turn_same_ip(&tc->perms[i].peer.sa, &peer.sa);
	for (i = 0; i < tc->nchans && !ok; i++)
		ok = chan_usable(&tc->chans[i]) &&
		    turn_same_ip(&tc->chans[i].peer.sa, &peer.sa);
	if (!ok)
		return -ENOENT;
	out->peer = peer;
	out->channel = 0;
	out->payload = d->val;
	out->len = d->len;
	return TURN_INPUT_DATA;
}

/* The transaction a response answers, by id and method. */
static void
timeout_perm(struct turn_client *tc, struct perm *p, uint64_t now)
{
	if (turn_txn_tick(tc, &p->tx, now)) {
		if (p->st != E_ACTIVE) {
			perm_drop(tc, p, TURN_R_TIMEOUT, 0);
			return;
		}
		turn_txn_clear(&p->tx);	/* retried below until it expires */
	}
	if (p->st != E_ACTIVE)
		return;
	if (now >= p->expires_at)
		perm_drop(tc, p, TURN_R_EXPIRED, 0);
	else if (p->tx.kind == TX_NONE && now >= p->refresh_at) {
		p->tx.nstale = 0;
		perm_send(tc, p, now);
	}
}

static void
timeout_chan(struct turn_client *tc, struct chan *c, uint64_t now)
{
	if (c->st == E_COOLDOWN) {
		if (now >= c->free_at)
			memset(c, 0, sizeof(*c));
		return;
	}
	if (turn_txn_tick(tc, &c->tx, now)) {
		if (c->st != E_ACTIVE) {
			chan_drop(tc, c, TURN_R_TIMEOUT, 0);
			return;
		}
		chan_txn_done(c);	/* retried below until it expires */
	}
	if (c->st != E_ACTIVE)
		return;
	if (now >= c->expires_at)
		chan_drop(tc, c, TURN_R_EXPIRED, 0);
	else if (c->tx.kind == TX_NONE && now >= c->rebind_at) {
		c->tx.nstale = 0;
		chan_send(tc, c, now);
	}
}

void
turn_peers_timeout(struct turn_client *tc, uint64_t now)
{
	unsigned i;

	for (i = 0; i < tc->nperms; i++)
		if (tc->perms[i].st != E_FREE)
			timeout_perm(tc, &tc->perms[i], now);
	for (i = 0; i < tc->nchans; i++)
		if (tc->chans[i].st != E_FREE)
			timeout_chan(tc, &tc->chans[i], now);
}

void
turn_peers_deadline(const struct turn_client *tc, uint64_t *deadline)
{
	uint64_t d = *deadline;
	unsigned i;

	for (i = 0; i < tc->nperms; i++) {
		const struct perm *p = &tc->perms[i];

		if (!turn_txn_due(&p->tx, &d) && p->st == E_ACTIVE)
			d = turn_min_deadline(d, p->refresh_at);
		if (p->st == E_ACTIVE)
			d = turn_min_deadline(d, p->expires_at);
	}
	for (i = 0; i < tc->nchans; i++) {
		const struct chan *c = &tc->chans[i];

		if (c->st == E_COOLDOWN)
			d = turn_min_deadline(d, c->free_at);
		if (!turn_txn_due(&c->tx, &d) && c->st == E_ACTIVE)
			d = turn_min_deadline(d, c->rebind_at);
		if (c->st == E_ACTIVE)
			d = turn_min_deadline(d, c->expires_at);
	}
	*deadline = d;
}
