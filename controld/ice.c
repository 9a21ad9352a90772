/* SPDX-License-Identifier: ISC */
/*
 * The ICE agent (see ice.h for why it is hand-written and sans-I/O).
 *
 * What it does, as Firezone's str0m-based agent does (protocols §2.3):
 * - Full ICE, one component, trickle: candidates may arrive at any time;
 *   each new remote candidate is paired with every local host and relay
 *   candidate of its family (RFC 8445 §6.1.2).
 * - Checks are paced by Ta (Firezone: 0) from the triggered-check queue
 *   first, then the highest-priority Waiting pair, then a Frozen pair
 *   whose foundation has nothing Waiting or In-Progress (§6.1.4.2).
 * - Nomination is *regular* with re-nomination, as str0m does: the
 *   controlling agent nominates the best succeeded pair by checking it
 *   again with USE-CANDIDATE and selects it when that check succeeds; when
 *   a better pair succeeds later (relayed -> direct) or the selected one
 *   loses consent, it nominates again.  The controlled agent selects the
 *   pair it most recently saw USE-CANDIDATE on once that pair is valid
 *   (§7.3.1.5, §8.1.1).
 * - Succeeded pairs are re-checked every rto_max of the current profile
 *   (consent freshness, RFC 7675, and NAT keepalive); a pair unanswered
 *   for the profile's timeout fails.  Idle (20 s without traffic) uses
 *   the idle profile.
 * - The valid pair is the pair that was checked: its local candidate is
 *   the base the check was sent from.  A peer-reflexive local address
 *   learnt from XOR-MAPPED-ADDRESS is not added as a candidate (it would
 *   send from the same base).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ice.h"
#include "stun.h"

#define IDLE_AFTER_NS		(20 * NSEC_PER_SEC_)
#define NO_CANDIDATE_NS		(10 * NSEC_PER_SEC_)
#define DISCONNECTED_FAIL_NS	(2 * NSEC_PER_SEC_)
#define NSEC_PER_SEC_		1000000000ULL
#define NSEC_PER_MSEC_		1000000ULL
#define MAX_OPTIMISTIC		2

struct cand {
	bool			 used;
	bool			 optimistic;
	struct ice_candidate	 c;
};

struct pair {
	bool			 used;
	uint8_t			 l, r;		/* candidate indices */
	uint64_t		 prio;
	enum ice_pair_state	 state;
	bool			 nominated;	/* both sides agree */
	bool			 nominating;	/* controlling: next check has
						   USE-CANDIDATE */
	bool			 use_cand_rx;	/* controlled: seen
						   USE-CANDIDATE */
	uint64_t		 nominated_at;
	bool			 queued;	/* in the triggered queue */
	/* The one transaction in flight. */
	bool			 tx;
	bool			 tx_use_cand;
	enum ice_role		 tx_role;
	uint8_t			 tid[12], old_tid[12];
	bool			 has_old_tid;
	unsigned		 sends;
	uint64_t		 first_sent, last_sent, next_send;
	uint64_t		 last_resp;	/* 0: never */
	uint64_t		 consent_base;	/* consent runs out from here */
	uint64_t		 next_keepalive;
	uint64_t		 rtt;
};

struct tx_slot {
	struct ice_transmit	 t;
};

struct ice_agent {
	enum ice_role		 role;
	uint64_t		 tie;
	char			 lufrag[ICE_MAX_UFRAG + 1];
	char			 rufrag[ICE_MAX_UFRAG + 1];
	uint8_t			 lpwd[ICE_MAX_PWD], rpwd[ICE_MAX_PWD];
	size_t			 lpwd_len, rpwd_len;
	uint64_t		 ta;
	struct ice_timing	 active, idle;
	bool			 optimistic;

	enum ice_state		 state;
	uint64_t		 created, last_traffic, disconnected_at;
	uint64_t		 now;		/* of the last input */
	bool			 had_remote;
	uint64_t		 next_ta;
	int			 selected;	/* pair index or -1 */

	struct cand		 local[ICE_MAX_LOCAL];
	struct cand		 remote[ICE_MAX_REMOTE];
	struct pair		 pairs[ICE_MAX_PAIRS];
	uint8_t			 trig[ICE_MAX_PAIRS];
	unsigned		 ntrig;
	unsigned		 prflx_seq;

	struct ice_transmit	 txq[ICE_MAX_TX];
	unsigned		 tx_head, tx_n;
	struct ice_event	 evq[ICE_MAX_EVENTS];
	unsigned		 ev_head, ev_n;
	struct ice_stats	 stats;
};

/* Section 2.3's profiles. */
static const struct ice_timing client_active = { 12, 250 * NSEC_PER_MSEC_,
	1500 * NSEC_PER_MSEC_ };
static const struct ice_timing client_idle = { 4, 25 * NSEC_PER_SEC_,
	25 * NSEC_PER_SEC_ };
static const struct ice_timing gateway_active = { 45, 250 * NSEC_PER_MSEC_,
	15 * NSEC_PER_SEC_ };
static const struct ice_timing gateway_idle = { 40, 25 * NSEC_PER_SEC_,
	25 * NSEC_PER_SEC_ };

static void	 set_pair_state(struct ice_agent *, int, enum ice_pair_state);
static void	 update_selection(struct ice_agent *, uint64_t);

static const char *const state_names[] = {
	"checking", "connected", "disconnected", "failed",
};
static const char *const pair_state_names[] = {
	"frozen", "waiting", "in-progress", "succeeded", "failed",
};

const char *
ice_state_name(enum ice_state s)
{
	return (unsigned)s < 4 ? state_names[s] : "?";
}

const char *
ice_pair_state_name(enum ice_pair_state s)
{
	return (unsigned)s < 5 ? pair_state_names[s] : "?";
}

static uint64_t
rto(const struct ice_timing *t, unsigned k)
{
	uint64_t d = t->rto_initial_ns;

	while (k-- > 0 && d < t->rto_max_ns)
		d *= 2;
	return d < t->rto_max_ns ? d : t->rto_max_ns;
}

uint64_t
ice_timing_timeout(const struct ice_timing *t)
{
	uint64_t sum = 0;
	unsigned k;

	for (k = 1; k <= t->max_retransmits; k++)
		sum += rto(t, k);
	return sum;
}

static const struct ice_timing *
profile(const struct ice_agent *a, uint64_t now)
{
	return now >= a->last_traffic + IDLE_AFTER_NS ? &a->idle : &a->active;
}

/* ---- outputs ---- */

static void
emit(struct ice_agent *a, const struct ice_event *ev)
{
	if (a->ev_n == ICE_MAX_EVENTS) {
		a->stats.ev_dropped++;
		return;
	}
	a->evq[(a->ev_head + a->ev_n++) % ICE_MAX_EVENTS] = *ev;
}

static struct ice_transmit *
tx_slot(struct ice_agent *a)
{
	struct ice_transmit *t;

	if (a->tx_n == ICE_MAX_TX) {
		a->stats.tx_dropped++;
		return NULL;
	}
	t = &a->txq[(a->tx_head + a->tx_n) % ICE_MAX_TX];
	memset(t, 0, offsetof(struct ice_transmit, buf));
	return t;
}

bool
ice_agent_poll_transmit(struct ice_agent *a, struct ice_transmit *out)
{
	const struct ice_transmit *t;

	if (a->tx_n == 0)
		return false;
	t = &a->txq[a->tx_head];
	memcpy(out, t, offsetof(struct ice_transmit, buf));
	memcpy(out->buf, t->buf, t->len);
	a->tx_head = (a->tx_head + 1) % ICE_MAX_TX;
	a->tx_n--;
	return true;
}

bool
ice_agent_poll_event(struct ice_agent *a, struct ice_event *out)
{
	if (a->ev_n == 0)
		return false;
	*out = a->evq[a->ev_head];
	a->ev_head = (a->ev_head + 1) % ICE_MAX_EVENTS;
	a->ev_n--;
	return true;
}

static void
set_state(struct ice_agent *a, enum ice_state s, uint64_t now)
{
	struct ice_event ev = { .type = ICE_EV_STATE, .state = s };

	if (a->state == s || a->state == ICE_STATE_FAILED)
		return;
	a->state = s;
	if (s == ICE_STATE_DISCONNECTED)
		a->disconnected_at = now;
	emit(a, &ev);
}

static void
pair_info(const struct ice_agent *a, int i, struct ice_pair_info *pi)
{
	const struct pair *p = &a->pairs[i];
	const struct ice_candidate *l = &a->local[p->l].c;
	const struct ice_candidate *r = &a->remote[p->r].c;

	memset(pi, 0, sizeof(*pi));
	pi->local_type = l->type;
	pi->remote_type = r->type;
	pi->sock = l->sock;
	pi->local = l->addr;
	pi->remote = r->addr;
	pi->priority = p->prio;
	pi->state = p->state;
	pi->nominated = p->nominated;
	pi->rtt_ns = p->rtt;
}

/* ---- agent ---- */

static int
copy_cred(const char *s, size_t min, size_t max, char *out, size_t *len)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) < min || n > max ||
	    strchr(s, ':') != NULL)
		return -EINVAL;
	memcpy(out, s, n);
	if (len != NULL)
		*len = n;
	else
		out[n] = '\0';
	return 0;
}

static void
random_bytes(void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = getrandom(b, n, 0);

		if (r <= 0)
			continue;	/* EINTR; the pool is initialised */
		b += r;
		n -= (size_t)r;
	}
}

int
ice_agent_new(const struct ice_config *cfg, uint64_t now,
    struct ice_agent **out)
{
	struct ice_agent *a;

	if (cfg->role != ICE_CONTROLLING && cfg->role != ICE_CONTROLLED)
		return -EINVAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	/* The portal's credentials: 4-char ufrags, 22-char passwords. */
	if (copy_cred(cfg->local_ufrag, 1, ICE_MAX_UFRAG, a->lufrag,
	    NULL) != 0 || copy_cred(cfg->remote_ufrag, 1, ICE_MAX_UFRAG,
	    a->rufrag, NULL) != 0 || copy_cred(cfg->local_pwd, 1,
	    ICE_MAX_PWD, (char *)a->lpwd, &a->lpwd_len) != 0 ||
	    copy_cred(cfg->remote_pwd, 1, ICE_MAX_PWD, (char *)a->rpwd,
	    &a->rpwd_len) != 0) {
		ice_agent_free(a);
		return -EINVAL;
	}
	a->role = cfg->role;
	a->tie = cfg->tie_breaker;
	while (a->tie == 0)
		random_bytes(&a->tie, sizeof(a->tie));
	a->ta = cfg->ta_ns;
	a->active = cfg->active.max_retransmits != 0 ? cfg->active :
	    a->role == ICE_CONTROLLING ? client_active : gateway_active;
	a->idle = cfg->idle.max_retransmits != 0 ? cfg->idle :
	    a->role == ICE_CONTROLLING ? client_idle : gateway_idle;
	if (a->active.rto_initial_ns == 0 || a->idle.rto_initial_ns == 0 ||
	    a->active.rto_max_ns < a->active.rto_initial_ns ||
	    a->idle.rto_max_ns < a->idle.rto_initial_ns) {
		ice_agent_free(a);
		return -EINVAL;
	}
	a->optimistic = !cfg->no_optimistic;
	a->state = ICE_STATE_CHECKING;
	a->created = a->last_traffic = a->next_ta = a->now = now;
	a->selected = -1;
	*out = a;
	return 0;
}

void
ice_agent_free(struct ice_agent *a)
{
	if (a == NULL)
		return;
	explicit_bzero(a->lpwd, sizeof(a->lpwd));
	explicit_bzero(a->rpwd, sizeof(a->rpwd));
	free(a);
}

enum ice_state
ice_agent_state(const struct ice_agent *a)
{
	return a->state;
}

enum ice_role
ice_agent_role(const struct ice_agent *a)
{
	return a->role;
}

int
ice_agent_selected(const struct ice_agent *a, struct ice_pair_info *pi)
{
	if (a->selected < 0)
		return -ENOENT;
	pair_info(a, a->selected, pi);
	return 0;
}

void
ice_agent_stats(const struct ice_agent *a, struct ice_stats *s)
{
	*s = a->stats;
}

/*
 * Back from idle: check the succeeded pairs at once and give them the
 * active timeout from now, rather than failing them for the idle gap.
 */
static void
wake(struct ice_agent *a, uint64_t now)
{
	int i;

	if (now >= a->last_traffic + IDLE_AFTER_NS)
		for (i = 0; i < ICE_MAX_PAIRS; i++)
			if (a->pairs[i].used &&
			    a->pairs[i].state == ICE_PAIR_SUCCEEDED) {
				a->pairs[i].consent_base = now;
				a->pairs[i].next_keepalive = now;
			}
	a->last_traffic = now;
	if (now > a->now)
		a->now = now;
}

void
ice_agent_traffic(struct ice_agent *a, uint64_t now)
{
	wake(a, now);
}

/* ---- candidates and pairs ---- */

/* RFC 8445 §6.1.2.3: G controlling, D controlled. */
static uint64_t
pair_prio(const struct ice_agent *a, uint32_t lp, uint32_t rp)
{
	uint64_t g = a->role == ICE_CONTROLLING ? lp : rp;
	uint64_t d = a->role == ICE_CONTROLLING ? rp : lp;
	uint64_t mn = g < d ? g : d, mx = g < d ? d : g;

	return (mn << 32) + 2 * mx + (g > d ? 1 : 0);
}

static bool
same_foundation(const struct ice_agent *a, const struct pair *p,
    const struct pair *q)
{
	return strcmp(a->local[p->l].c.foundation,
	    a->local[q->l].c.foundation) == 0 &&
	    strcmp(a->remote[p->r].c.foundation,
	    a->remote[q->r].c.foundation) == 0;
}

static void
pair_event(struct ice_agent *a, int i, enum ice_pair_state old)
{
	struct ice_event ev = { .type = ICE_EV_PAIR, .old_pair_state = old };

	pair_info(a, i, &ev.pair);
	emit(a, &ev);
}

static void
set_pair_state(struct ice_agent *a, int i, enum ice_pair_state s)
{
	enum ice_pair_state old = a->pairs[i].state;

	if (old == s)
		return;
	a->pairs[i].state = s;
	pair_event(a, i, old);
}

static void
unqueue(struct ice_agent *a, int i)
{
	unsigned k, j = 0;

	for (k = 0; k < a->ntrig; k++)
		if (a->trig[k] != i)
			a->trig[j++] = a->trig[k];
	a->ntrig = j;
	a->pairs[i].queued = false;
}

static void
enqueue_triggered(struct ice_agent *a, int i)
{
	if (a->pairs[i].queued || a->ntrig == ICE_MAX_PAIRS)
		return;
	a->pairs[i].queued = true;
	a->trig[a->ntrig++] = (uint8_t)i;
}

/* A pairable local candidate: host or relay (srflx pairs are redundant). */
static bool
pairable(const struct ice_candidate *c)
{
	return c->type == ICE_HOST || c->type == ICE_RELAY;
}

static int
find_pair(const struct ice_agent *a, int l, int r)
{
	int i;

	for (i = 0; i < ICE_MAX_PAIRS; i++)
		if (a->pairs[i].used && a->pairs[i].l == l &&
		    a->pairs[i].r == r)
			return i;
	return -1;
}

/* Trickle (RFC 8838 §10): Waiting unless its foundation is being checked. */
static int
make_pair(struct ice_agent *a, int l, int r)
{
	const struct ice_candidate *lc = &a->local[l].c, *rc = &a->remote[r].c;
	struct pair *p;
	int i, k;
	bool busy = false;

	if (!pairable(lc) || lc->addr.sa.sa_family != rc->addr.sa.sa_family)
		return -1;
	if ((i = find_pair(a, l, r)) >= 0)
		return i;
	for (i = 0; i < ICE_MAX_PAIRS && a->pairs[i].used; i++)
		;
	if (i == ICE_MAX_PAIRS)
		return -1;	/* cannot happen: sized for every combination */
	p = &a->pairs[i];
	memset(p, 0, sizeof(*p));
	p->used = true;
	p->l = (uint8_t)l;
	p->r = (uint8_t)r;
	p->prio = pair_prio(a, lc->priority, rc->priority);
	for (k = 0; k < ICE_MAX_PAIRS; k++) {
		const struct pair *q = &a->pairs[k];

		if (k != i && q->used && (q->state == ICE_PAIR_WAITING ||
		    q->state == ICE_PAIR_IN_PROGRESS) &&
		    same_foundation(a, p, q))
			busy = true;
	}
	p->state = ICE_PAIR_FROZEN;
	pair_event(a, i, ICE_PAIR_FROZEN);
	if (!busy)
		set_pair_state(a, i, ICE_PAIR_WAITING);
	return i;
}

static void
drop_pair(struct ice_agent *a, int i, uint64_t now)
{
	unqueue(a, i);
	a->pairs[i].used = false;
	if (a->selected == i) {
		a->selected = -1;
		update_selection(a, now);
	}
}

static bool
cand_same(const struct ice_candidate *x, enum ice_cand_type t,
    const struct sockaddr *sa)
{
	return x->type == t && addr_eq(&x->addr.sa, sa);
}

static void
fill_foundation(struct ice_candidate *c)
{
	/* RFC 8445 §5.1.1.3: same type, base IP and server -> same value. */
	const union fz_sockaddr *base = c->type == ICE_SRFLX && c->has_raddr ?
	    &c->raddr : &c->addr;
	const uint8_t *ip = base->sa.sa_family == AF_INET ?
	    (const uint8_t *)&base->in4.sin_addr :
	    (const uint8_t *)&base->in6.sin6_addr;
	size_t n = base->sa.sa_family == AF_INET ? 4 : 16, k;
	uint32_t h = 2166136261u;	/* FNV-1a */
	char *o = c->foundation;

	h = (h ^ (uint32_t)c->type) * 16777619u;
	for (k = 0; k < n; k++)
		h = (h ^ ip[k]) * 16777619u;
	if (c->type == ICE_RELAY)
		for (k = 0; k < 4; k++)
			h = (h ^ ((c->sock >> (8 * k)) & 0xff)) * 16777619u;
	/* Decimal, as str0m writes them. */
	{
		char tmp[12];
		int t = 0;

		do {
			tmp[t++] = (char)('0' + h % 10);
			h /= 10;
		} while (h != 0);
		while (t > 0)
			*o++ = tmp[--t];
		*o = '\0';
	}
}

static int
check_cand(const struct ice_candidate *c)
{
	if ((unsigned)c->type > ICE_RELAY ||
	    (c->addr.sa.sa_family != AF_INET &&
	    c->addr.sa.sa_family != AF_INET6) ||
	    addr_port(&c->addr.sa) == 0 ||
	    memchr(c->foundation, '\0', sizeof(c->foundation)) == NULL)
		return -EINVAL;
	return 0;
}

int
ice_agent_add_local_candidate(struct ice_agent *a,
    const struct ice_candidate *in, uint64_t now)
{
	struct ice_candidate c = *in;
	int i, r;

	if (check_cand(&c) != 0 || c.type == ICE_PRFLX)
		return -EINVAL;
	if (a->state == ICE_STATE_FAILED)
		return -ESHUTDOWN;
	for (i = 0; i < ICE_MAX_LOCAL; i++)
		if (a->local[i].used && cand_same(&a->local[i].c, c.type,
		    &c.addr.sa))
			return 0;
	for (i = 0; i < ICE_MAX_LOCAL && a->local[i].used; i++)
		;
	if (i == ICE_MAX_LOCAL)
		return -ENOSPC;
	if (c.priority == 0)
		c.priority = ice_cand_priority(c.type, 65535);
	if (c.foundation[0] == '\0')
		fill_foundation(&c);
	a->local[i].used = true;
	a->local[i].optimistic = false;
	a->local[i].c = c;
	wake(a, now);
	for (r = 0; r < ICE_MAX_REMOTE; r++)
		if (a->remote[r].used)
			(void)make_pair(a, i, r);
	return 0;
}

static int
add_remote(struct ice_agent *a, const struct ice_candidate *c,
    bool optimistic)
{
	int i, l;

	for (i = 0; i < ICE_MAX_REMOTE; i++)
		if (a->remote[i].used && addr_eq(&a->remote[i].c.addr.sa,
		    &c->addr.sa)) {
			/*
			 * Known address (perhaps as prflx): a signalled
			 * candidate replaces what a check taught us (RFC 8445
			 * §7.3.1.3).
			 */
			if (a->remote[i].c.type == ICE_PRFLX &&
			    c->type != ICE_PRFLX) {
				a->remote[i].c.type = c->type;
				memcpy(a->remote[i].c.foundation,
				    c->foundation, sizeof(c->foundation));
				a->remote[i].optimistic = optimistic;
			}
			return i;
		}
	for (i = 0; i < ICE_MAX_REMOTE && a->remote[i].used; i++)
		;
	if (i == ICE_MAX_REMOTE)
		return -ENOSPC;
	a->remote[i].used = true;
	a->remote[i].optimistic = optimistic;
	a->remote[i].c = *c;
	a->remote[i].c.sock = 0;
	a->had_remote = true;
	for (l = 0; l < ICE_MAX_LOCAL; l++)
		if (a->local[l].used)
			(void)make_pair(a, l, i);
	return i;
}

/*
 * §2.3 optimistic candidates: each remote srflx IPv4 address with each
 * remote host IPv4 port, for port-preserving or forwarded NATs; at most
 * MAX_OPTIMISTIC.
 */
static void
add_optimistic(struct ice_agent *a)
{
	unsigned n = 0;
	int s, h, i;

	for (i = 0; i < ICE_MAX_REMOTE; i++)
		if (a->remote[i].used && a->remote[i].optimistic)
			n++;
	for (s = 0; s < ICE_MAX_REMOTE; s++) {
		const struct ice_candidate *sc = &a->remote[s].c;

		if (!a->remote[s].used || a->remote[s].optimistic ||
		    sc->type != ICE_SRFLX || sc->addr.sa.sa_family != AF_INET)
			continue;
		for (h = 0; h < ICE_MAX_REMOTE && n < MAX_OPTIMISTIC; h++) {
			const struct ice_candidate *hc = &a->remote[h].c;
			struct ice_candidate o;

			if (!a->remote[h].used || hc->type != ICE_HOST ||
			    hc->addr.sa.sa_family != AF_INET ||
			    addr_port(&hc->addr.sa) == addr_port(&sc->addr.sa))
				continue;
			o = *sc;
			addr_set_port(&o.addr.sa, addr_port(&hc->addr.sa));
			for (i = 0; i < ICE_MAX_REMOTE; i++)
				if (a->remote[i].used && addr_eq(
				    &a->remote[i].c.addr.sa, &o.addr.sa))
					break;
			if (i < ICE_MAX_REMOTE)
				continue;
			o.priority = sc->priority > 0 ? sc->priority - 1 : 0;
			if (add_remote(a, &o, true) >= 0)
				n++;
		}
	}
}

int
ice_agent_add_remote_candidate(struct ice_agent *a,
    const struct ice_candidate *in, uint64_t now)
{
	struct ice_candidate c = *in;
	int i;

	if (check_cand(&c) != 0 || c.priority == 0)
		return -EINVAL;
	if (a->state == ICE_STATE_FAILED)
		return -ESHUTDOWN;
	if (c.foundation[0] == '\0')
		fill_foundation(&c);
	wake(a, now);
	if ((i = add_remote(a, &c, false)) < 0)
		return i;
	if (a->optimistic)
		add_optimistic(a);
	return 0;
}

int
ice_agent_remove_local_candidate(struct ice_agent *a, enum ice_cand_type t,
    const struct sockaddr *sa, uint64_t now)
{
	int i, k;

	for (i = 0; i < ICE_MAX_LOCAL; i++)
		if (a->local[i].used && cand_same(&a->local[i].c, t, sa))
			break;
	if (i == ICE_MAX_LOCAL)
		return -ENOENT;
	for (k = 0; k < ICE_MAX_PAIRS; k++)
		if (a->pairs[k].used && a->pairs[k].l == i)
			drop_pair(a, k, now);
	a->local[i].used = false;
	return 0;
}

int
ice_agent_remove_remote_candidate(struct ice_agent *a, enum ice_cand_type t,
    const struct sockaddr *sa, uint64_t now)
{
	int i, k;

	for (i = 0; i < ICE_MAX_REMOTE; i++)
		if (a->remote[i].used && cand_same(&a->remote[i].c, t, sa))
			break;
	if (i == ICE_MAX_REMOTE)
		return -ENOENT;
	for (k = 0; k < ICE_MAX_PAIRS; k++)
		if (a->pairs[k].used && a->pairs[k].r == i)
			drop_pair(a, k, now);
	a->remote[i].used = false;
	return 0;
}

unsigned
ice_agent_local_candidates(const struct ice_agent *a,
    struct ice_candidate *out, unsigned cap)
{
	unsigned n = 0, k;
	int i;

	for (i = 0; i < ICE_MAX_LOCAL; i++) {
		if (!a->local[i].used || n == cap)
			continue;
		/* Insertion sort, highest priority first. */
		for (k = n; k > 0 && out[k - 1].priority <
		    a->local[i].c.priority; k--)
			out[k] = out[k - 1];
		out[k] = a->local[i].c;
		n++;
	}
	return n;
}

/* ---- sending ---- */

static void
put_role(struct stun_builder *b, const struct ice_agent *a)
{
	uint8_t v[8];
	int k;

	for (k = 0; k < 8; k++)
		v[k] = (uint8_t)(a->tie >> (56 - 8 * k));
	stun_put(b, a->role == ICE_CONTROLLING ? STUN_A_ICE_CONTROLLING :
	    STUN_A_ICE_CONTROLLED, v, sizeof(v));
}

static void
queue_tx(struct ice_agent *a, struct ice_transmit *t,
    const struct ice_candidate *l, const struct sockaddr *dst)
{
	t->sock = l->sock;
	t->via_relay = l->type == ICE_RELAY;
	t->src = l->addr;
	memcpy(&t->dst, dst, addr_len(dst));
	a->tx_n++;
}

/* RFC 8445 §7.2.2: a Binding request on pair i with the pair's tid. */
static void
send_check(struct ice_agent *a, int i, uint64_t now)
{
	struct pair *p = &a->pairs[i];
	const struct ice_candidate *l = &a->local[p->l].c;
	const struct ice_candidate *r = &a->remote[p->r].c;
	struct ice_transmit *t;
	struct stun_builder b;
	char user[2 * ICE_MAX_UFRAG + 2];
	size_t len;

	p->last_sent = now;
	p->sends++;
	p->next_send = now + rto(profile(a, now), p->sends);
	if ((t = tx_slot(a)) == NULL)
		return;
	stun_build(&b, t->buf, sizeof(t->buf), STUN_BINDING | STUN_REQUEST,
	    p->tid);
	memcpy(user, a->rufrag, strlen(a->rufrag));
	user[strlen(a->rufrag)] = ':';
	memcpy(user + strlen(a->rufrag) + 1, a->lufrag,
	    strlen(a->lufrag) + 1);
	stun_put_str(&b, STUN_A_USERNAME, user);
	/* The priority a peer-reflexive candidate of ours would have. */
	stun_put_u32(&b, STUN_A_PRIORITY, (ice_cand_priority(ICE_PRFLX, 0) &
	    0xff000000u) | (l->priority & 0x00ffffffu));
	put_role(&b, a);
	if (p->tx_use_cand)
		stun_put(&b, STUN_A_USE_CANDIDATE, NULL, 0);
	stun_put_integrity(&b, a->rpwd, a->rpwd_len);
	stun_put_fingerprint(&b);
	if (stun_finish(&b, &len) != 0)
		return;
	t->len = len;
	queue_tx(a, t, l, &r->addr.sa);
	a->stats.checks_sent++;
}

static void
start_check(struct ice_agent *a, int i, uint64_t now)
{
	struct pair *p = &a->pairs[i];

	if (p->tx) {
		memcpy(p->old_tid, p->tid, 12);
		p->has_old_tid = true;
	}
	random_bytes(p->tid, sizeof(p->tid));
	p->tx = true;
	p->sends = 0;
	p->first_sent = now;
	/* Controlling: USE-CANDIDATE on a nomination and on the selected. */
	p->tx_use_cand = a->role == ICE_CONTROLLING &&
	    (p->nominating || p->nominated);
	p->tx_role = a->role;
	if (p->state != ICE_PAIR_SUCCEEDED)
		set_pair_state(a, i, ICE_PAIR_IN_PROGRESS);
	send_check(a, i, now);
}

static void
send_response(struct ice_agent *a, const struct stun_msg *req,
    const struct ice_candidate *l, const struct sockaddr *from,
    int error)
{
	struct ice_transmit *t;
	struct stun_builder b;
	size_t len;

	if ((t = tx_slot(a)) == NULL)
		return;
	stun_build(&b, t->buf, sizeof(t->buf), STUN_BINDING |
	    (error ? STUN_ERROR : STUN_SUCCESS), req->tid);
	if (error)
		stun_put_error(&b, error, "Role Conflict");
	else
		stun_put_xaddr(&b, STUN_A_XOR_MAPPED_ADDRESS, from);
	stun_put_integrity(&b, a->lpwd, a->lpwd_len);
	stun_put_fingerprint(&b);
	if (stun_finish(&b, &len) != 0)
		return;
	t->len = len;
	queue_tx(a, t, l, from);
}

/* ---- nomination and selection ---- */

static bool
valid(const struct pair *p)
{
	return p->used && p->state == ICE_PAIR_SUCCEEDED;
}

static void
select_pair(struct ice_agent *a, int i, uint64_t now)
{
	struct ice_event ev = { .type = ICE_EV_SELECTED };

	if (i < 0) {
		a->selected = -1;
		if (a->state == ICE_STATE_CONNECTED)
			set_state(a, ICE_STATE_DISCONNECTED, now);
		return;
	}
	if (i != a->selected) {
		a->selected = i;
		pair_info(a, i, &ev.pair);
		emit(a, &ev);
	}
	set_state(a, ICE_STATE_CONNECTED, now);
}

/*
 * Controlling: nominate the best valid pair if it is not the selected
 * one.  Controlled: select the most recently nominated valid pair.
 */
static void
update_selection(struct ice_agent *a, uint64_t now)
{
	int i, best = -1;

	if (a->state == ICE_STATE_FAILED)
		return;
	if (a->selected >= 0 && !valid(&a->pairs[a->selected]))
		a->selected = -1;
	if (a->role == ICE_CONTROLLING) {
		for (i = 0; i < ICE_MAX_PAIRS; i++)
			if (valid(&a->pairs[i]) && (best < 0 ||
			    a->pairs[i].prio > a->pairs[best].prio))
				best = i;
		for (i = 0; i < ICE_MAX_PAIRS; i++)
			if (i != best)
				a->pairs[i].nominating = false;
		if (best >= 0 && best != a->selected &&
		    !a->pairs[best].nominating) {
			a->pairs[best].nominating = true;
			enqueue_triggered(a, best);
		}
		if (a->selected < 0 && a->state == ICE_STATE_CONNECTED)
			select_pair(a, -1, now);
		return;
	}
	for (i = 0; i < ICE_MAX_PAIRS; i++)
		if (valid(&a->pairs[i]) && a->pairs[i].nominated &&
		    (best < 0 || a->pairs[i].nominated_at >
		    a->pairs[best].nominated_at ||
		    (a->pairs[i].nominated_at == a->pairs[best].nominated_at &&
		    a->pairs[i].prio > a->pairs[best].prio)))
			best = i;
	if (best >= 0 || a->state == ICE_STATE_CONNECTED)
		select_pair(a, best, now);
}

static void
nominate(struct ice_agent *a, int i, uint64_t now)
{
	struct pair *p = &a->pairs[i];

	p->nominated = true;
	p->nominating = false;
	p->nominated_at = now;
	if (a->role == ICE_CONTROLLING) {
		int k;

		/* Only one nominated pair on the controlling side. */
		for (k = 0; k < ICE_MAX_PAIRS; k++)
			if (k != i)
				a->pairs[k].nominated = false;
		select_pair(a, i, now);
		return;
	}
	update_selection(a, now);
}

static void
fail_pair(struct ice_agent *a, int i, uint64_t now)
{
	struct pair *p = &a->pairs[i];

	p->tx = false;
	p->nominated = p->nominating = p->use_cand_rx = false;
	unqueue(a, i);
	set_pair_state(a, i, ICE_PAIR_FAILED);
	update_selection(a, now);
}

static void
switch_role(struct ice_agent *a, enum ice_role r, uint64_t now)
{
	struct ice_event ev = { .type = ICE_EV_ROLE, .role = r };
	int i;

	if (a->role == r)
		return;
	a->role = r;
	a->stats.role_conflicts++;
	for (i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *p = &a->pairs[i];

		if (!p->used)
			continue;
		p->prio = pair_prio(a, a->local[p->l].c.priority,
		    a->remote[p->r].c.priority);
		p->nominating = p->nominated = p->use_cand_rx = false;
	}
	a->selected = -1;
	emit(a, &ev);
	update_selection(a, now);
}

/* ---- receiving ---- */

static int
find_local(const struct ice_agent *a, uint32_t sock,
    const struct sockaddr *local, int family)
{
	int i, any = -1;

	for (i = 0; i < ICE_MAX_LOCAL; i++) {
		const struct ice_candidate *c = &a->local[i].c;

		if (!a->local[i].used || !pairable(c) || c->sock != sock ||
		    c->addr.sa.sa_family != family)
			continue;
		if (local == NULL || addr_eq(&c->addr.sa, local))
			return i;
		if (any < 0)
			any = i;
	}
	/* A relay sock with an unknown local address still identifies it. */
	return any;
}

static int
find_remote(const struct ice_agent *a, const struct sockaddr *sa)
{
	int i;

	for (i = 0; i < ICE_MAX_REMOTE; i++)
		if (a->remote[i].used && addr_eq(&a->remote[i].c.addr.sa, sa))
			return i;
	return -1;
}

static uint64_t
get_u64(const struct stun_attr *at)
{
	uint64_t v = 0;
	int k;

	for (k = 0; k < 8; k++)
		v = (v << 8) | at->val[k];
	return v;
}

/* RFC 8445 §7.3.1: an incoming check, integrity already verified. */
static void
handle_request(struct ice_agent *a, const struct stun_msg *m, uint32_t sock,
    const struct sockaddr *local, const struct sockaddr *from, uint64_t now)
{
	const struct stun_attr *ctl = stun_find(m, STUN_A_ICE_CONTROLLING);
	const struct stun_attr *ced = stun_find(m, STUN_A_ICE_CONTROLLED);
	const struct stun_attr *pa = stun_find(m, STUN_A_PRIORITY);
	bool use_cand = stun_find(m, STUN_A_USE_CANDIDATE) != NULL;
	struct ice_candidate prflx;
	uint32_t prio;
	int l, r, i;

	if (pa == NULL || stun_get_u32(pa, &prio) != 0 || prio == 0 ||
	    (ctl != NULL) == (ced != NULL) ||
	    (ctl != NULL && ctl->len != 8) || (ced != NULL && ced->len != 8))
		return;		/* RFC 8445 §7.3: 400; str0m drops */
	if ((l = find_local(a, sock, local, from->sa_family)) < 0)
		return;
	a->stats.checks_recv++;

	/* §7.3.1.1 role conflict. */
	if (a->role == ICE_CONTROLLING && ctl != NULL) {
		if (a->tie >= get_u64(ctl)) {
			send_response(a, m, &a->local[l].c, from, 487);
			return;
		}
		switch_role(a, ICE_CONTROLLED, now);
	} else if (a->role == ICE_CONTROLLED && ced != NULL) {
		if (a->tie >= get_u64(ced))
			switch_role(a, ICE_CONTROLLING, now);
		else {
			send_response(a, m, &a->local[l].c, from, 487);
			return;
		}
	}
	send_response(a, m, &a->local[l].c, from, 0);
	if (a->state == ICE_STATE_FAILED)
		return;

	/* §7.3.1.3 peer-reflexive remote candidate. */
	if ((r = find_remote(a, from)) < 0) {
		memset(&prflx, 0, sizeof(prflx));
		prflx.type = ICE_PRFLX;
		memcpy(&prflx.addr, from, addr_len(from));
		prflx.priority = prio;
		fill_foundation(&prflx);
		if ((r = add_remote(a, &prflx, false)) < 0)
			return;
	}
	if ((i = make_pair(a, l, r)) < 0)
		return;

	/* §7.3.1.4 triggered checks. */
	switch (a->pairs[i].state) {
	case ICE_PAIR_SUCCEEDED:
		break;
	case ICE_PAIR_IN_PROGRESS:
		/* Restart a check that has been waiting a while. */
		if (now >= a->pairs[i].last_sent + a->active.rto_initial_ns)
			enqueue_triggered(a, i);
		break;
	case ICE_PAIR_FAILED:
	case ICE_PAIR_FROZEN:
		set_pair_state(a, i, ICE_PAIR_WAITING);
		/* FALLTHROUGH */
	case ICE_PAIR_WAITING:
		enqueue_triggered(a, i);
		break;
	}
	/* §7.3.1.5 nomination (controlled). */
	if (use_cand && a->role == ICE_CONTROLLED) {
		if (a->pairs[i].state == ICE_PAIR_SUCCEEDED) {
			if (!a->pairs[i].nominated || a->selected != i)
				nominate(a, i, now);
		} else
			a->pairs[i].use_cand_rx = true;
	}
}

static int
pair_by_tid(const struct ice_agent *a, const uint8_t tid[12], bool *old)
{
	int i;

	for (i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &a->pairs[i];

		if (!p->used)
			continue;
		if (p->tx && memcmp(p->tid, tid, 12) == 0) {
			*old = false;
			return i;
		}
		if (p->has_old_tid && memcmp(p->old_tid, tid, 12) == 0) {
			*old = true;
			return i;
		}
	}
	return -1;
}

/* RFC 8445 §7.2.5: a response to one of our checks, integrity verified. */
static void
handle_response(struct ice_agent *a, const struct stun_msg *m, int i,
    bool old, uint32_t sock, const struct sockaddr *from, uint64_t now)
{
	struct pair *p = &a->pairs[i];
	const struct ice_candidate *l = &a->local[p->l].c;
	const struct ice_candidate *r = &a->remote[p->r].c;
	const struct stun_attr *at;
	bool use_cand = p->tx_use_cand && !old;
	union fz_sockaddr mapped;

	a->stats.responses_recv++;
	if (old)
		p->has_old_tid = false;
	else
		p->tx = false;
	/* §7.2.5.2.1: non-symmetric addresses fail the pair. */
	if (l->sock != sock || !addr_eq(&r->addr.sa, from)) {
		fail_pair(a, i, now);
		return;
	}
	if (m->cls == STUN_ERROR) {
		int code;
		const char *reason;
		size_t rlen;

		if ((at = stun_find(m, STUN_A_ERROR_CODE)) != NULL &&
		    stun_get_error(at, &code, &reason, &rlen) == 0 &&
		    code == 487) {
			/*
			 * §7.2.5.1: take the role opposite to the one the
			 * request claimed (unless already switched), retry.
			 */
			if (!old && p->tx_role == a->role)
				switch_role(a, a->role == ICE_CONTROLLING ?
				    ICE_CONTROLLED : ICE_CONTROLLING, now);
			set_pair_state(a, i, ICE_PAIR_WAITING);
			enqueue_triggered(a, i);
			return;
		}
		fail_pair(a, i, now);
		return;
	}
	if ((at = stun_find(m, STUN_A_XOR_MAPPED_ADDRESS)) == NULL ||
	    stun_get_xaddr(m, at, &mapped) != 0) {
		fail_pair(a, i, now);
		return;
	}
	if (p->last_resp == 0 || !old)
		p->rtt = now - p->last_sent;
	p->last_resp = p->consent_base = now;
	p->next_keepalive = now + profile(a, now)->rto_max_ns;
	if (p->state != ICE_PAIR_SUCCEEDED) {
		int k;

		set_pair_state(a, i, ICE_PAIR_SUCCEEDED);
		/* §7.2.5.3.3: unfreeze pairs of the same foundation. */
		for (k = 0; k < ICE_MAX_PAIRS; k++)
			if (a->pairs[k].used &&
			    a->pairs[k].state == ICE_PAIR_FROZEN &&
			    same_foundation(a, &a->pairs[k], p))
				set_pair_state(a, k, ICE_PAIR_WAITING);
	}
	if (a->role == ICE_CONTROLLING) {
		if (use_cand && p->nominating)
			nominate(a, i, now);
		else
			update_selection(a, now);
	} else if (p->use_cand_rx) {
		p->use_cand_rx = false;
		nominate(a, i, now);
	} else
		update_selection(a, now);
}

bool
ice_agent_recv(struct ice_agent *a, uint32_t sock,
    const struct sockaddr *local, const struct sockaddr *from,
    const uint8_t *buf, size_t len, uint64_t now)
{
	const struct stun_attr *u;
	struct stun_msg m;
	char user[2 * ICE_MAX_UFRAG + 2];
	size_t n = strlen(a->lufrag);
	bool old;
	int i;

	if (!stun_is_stun(buf, len) || stun_parse(buf, len, &m) != 0 ||
	    m.method != STUN_BINDING ||
	    (from->sa_family != AF_INET && from->sa_family != AF_INET6))
		return false;
	if (m.cls == STUN_REQUEST) {
		if ((u = stun_find(&m, STUN_A_USERNAME)) == NULL ||
		    stun_get_text(u, sizeof(user) - 1, user,
		    sizeof(user)) != 0 ||
		    strncmp(user, a->lufrag, n) != 0 || user[n] != ':')
			return false;
		/* Ours from here on: consumed whatever happens. */
		if (m.fp < 0 || stun_check_fingerprint(&m) != 0 ||
		    strcmp(user + n + 1, a->rufrag) != 0 ||
		    stun_check_integrity(&m, a->lpwd, a->lpwd_len) != 0) {
			a->stats.bad_integrity++;
			return true;
		}
		if (a->state != ICE_STATE_FAILED)
			handle_request(a, &m, sock, local, from, now);
		return true;
	}
	if (m.cls != STUN_SUCCESS && m.cls != STUN_ERROR)
		return false;
	if ((i = pair_by_tid(a, m.tid, &old)) < 0)
		return false;
	if ((m.fp >= 0 && stun_check_fingerprint(&m) != 0) ||
	    stun_check_integrity(&m, a->rpwd, a->rpwd_len) != 0) {
		a->stats.bad_integrity++;
		return true;
	}
	if (a->state != ICE_STATE_FAILED)
		handle_response(a, &m, i, old, sock, from, now);
	return true;
}

int
ice_stun_request_ufrag(const uint8_t *buf, size_t len, char *out,
    size_t cap)
{
	const struct stun_attr *u;
	struct stun_msg m;
	char user[2 * ICE_MAX_UFRAG + 2];
	char *colon;

	if (!stun_is_stun(buf, len) || stun_parse(buf, len, &m) != 0 ||
	    m.type != (STUN_BINDING | STUN_REQUEST) ||
	    (u = stun_find(&m, STUN_A_USERNAME)) == NULL ||
	    stun_get_text(u, sizeof(user) - 1, user, sizeof(user)) != 0 ||
	    (colon = strchr(user, ':')) == NULL ||
	    (size_t)(colon - user) >= cap || colon == user)
		return -EINVAL;
	memcpy(out, user, (size_t)(colon - user));
	out[colon - user] = '\0';
	return 0;
}

/* ---- time ---- */

/*
 * §6.1.4.2: the next pair to check, or -1: the triggered queue, then the
 * best Waiting pair, then the best Frozen pair whose foundation has
 * nothing Waiting or In-Progress.
 */
static int
peek_check(const struct ice_agent *a)
{
	int i, best = -1, k;
	unsigned q;

	for (q = 0; q < a->ntrig; q++) {
		i = a->trig[q];
		if (a->pairs[i].used && a->pairs[i].state != ICE_PAIR_FAILED)
			return i;
	}
	for (i = 0; i < ICE_MAX_PAIRS; i++)
		if (a->pairs[i].used && a->pairs[i].state == ICE_PAIR_WAITING &&
		    (best < 0 || a->pairs[i].prio > a->pairs[best].prio))
			best = i;
	if (best >= 0)
		return best;
	for (i = 0; i < ICE_MAX_PAIRS; i++) {
		bool busy = false;

		if (!a->pairs[i].used || a->pairs[i].state != ICE_PAIR_FROZEN)
			continue;
		for (k = 0; k < ICE_MAX_PAIRS; k++)
			if (a->pairs[k].used && (a->pairs[k].state ==
			    ICE_PAIR_WAITING || a->pairs[k].state ==
			    ICE_PAIR_IN_PROGRESS) &&
			    same_foundation(a, &a->pairs[k], &a->pairs[i]))
				busy = true;
		if (!busy && (best < 0 ||
		    a->pairs[i].prio > a->pairs[best].prio))
			best = i;
	}
	return best;
}

static int
next_check(struct ice_agent *a)
{
	int i = peek_check(a);

	/* Drop stale queue entries before it, and it. */
	while (a->ntrig > 0 && a->trig[0] != i)
		unqueue(a, a->trig[0]);
	if (i >= 0 && a->pairs[i].queued)
		unqueue(a, i);
	return i;
}

static bool
has_check(const struct ice_agent *a)
{
	return peek_check(a) >= 0;
}

static bool
any_live_pair(const struct ice_agent *a)
{
	int i;

	for (i = 0; i < ICE_MAX_PAIRS; i++)
		if (a->pairs[i].used && a->pairs[i].state != ICE_PAIR_FAILED)
			return true;
	return false;
}

void
ice_agent_tick(struct ice_agent *a, uint64_t now)
{
	const struct ice_timing *pr = profile(a, now);
	uint64_t timeout = ice_timing_timeout(pr);
	unsigned budget;
	int i;

	if (now > a->now)
		a->now = now;
	if (a->state == ICE_STATE_FAILED)
		return;
	if (!a->had_remote && now >= a->created + NO_CANDIDATE_NS) {
		set_state(a, ICE_STATE_FAILED, now);
		return;
	}
	/* Retransmissions, check timeouts, consent and keepalives. */
	for (i = 0; i < ICE_MAX_PAIRS; i++) {
		struct pair *p = &a->pairs[i];

		if (!p->used)
			continue;
		if (p->state == ICE_PAIR_SUCCEEDED &&
		    now >= p->consent_base + timeout) {
			fail_pair(a, i, now);	/* consent lost */
			continue;
		}
		if (p->tx && now >= p->next_send) {
			if (p->state != ICE_PAIR_SUCCEEDED &&
			    p->sends >= pr->max_retransmits)
				fail_pair(a, i, now);
			else if (p->state == ICE_PAIR_SUCCEEDED &&
			    p->sends >= pr->max_retransmits)
				p->tx = false;	/* next keepalive starts anew */
			else
				send_check(a, i, now);
			continue;
		}
		if (p->state == ICE_PAIR_SUCCEEDED && !p->tx && !p->queued &&
		    now >= p->next_keepalive) {
			p->next_keepalive = now + pr->rto_max_ns;
			start_check(a, i, now);
		}
	}
	/* Paced checks: with Ta 0, everything ready goes now. */
	for (budget = ICE_MAX_PAIRS; budget > 0 && now >= a->next_ta;
	    budget--) {
		if ((i = next_check(a)) < 0)
			break;
		start_check(a, i, now);
		a->next_ta = now + a->ta;
	}
	if (a->state == ICE_STATE_CHECKING && a->had_remote &&
	    !any_live_pair(a) && !has_check(a))
		set_state(a, ICE_STATE_DISCONNECTED, now);
	if (a->state == ICE_STATE_DISCONNECTED) {
		if (a->selected >= 0)
			set_state(a, ICE_STATE_CONNECTED, now);
		else if (now >= a->disconnected_at + DISCONNECTED_FAIL_NS)
			set_state(a, ICE_STATE_FAILED, now);
	}
}

static void
dmin(uint64_t *d, uint64_t t)
{
	if (t < *d)
		*d = t;
}

uint64_t
ice_agent_deadline(const struct ice_agent *a)
{
	uint64_t d = UINT64_MAX, timeout;
	const struct ice_timing *pr;
	int i;

	if (a->state == ICE_STATE_FAILED)
		return UINT64_MAX;
	/* The profile as of the last input; it changes at the idle mark. */
	pr = profile(a, a->now);
	if (pr == &a->active)
		dmin(&d, a->last_traffic + IDLE_AFTER_NS);
	timeout = ice_timing_timeout(pr);
	if (!a->had_remote)
		dmin(&d, a->created + NO_CANDIDATE_NS);
	if (a->state == ICE_STATE_DISCONNECTED)
		dmin(&d, a->disconnected_at + DISCONNECTED_FAIL_NS);
	if (has_check(a))
		dmin(&d, a->next_ta);
	for (i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &a->pairs[i];

		if (!p->used)
			continue;
		if (p->tx)
			dmin(&d, p->next_send);
		if (p->state == ICE_PAIR_SUCCEEDED) {
			dmin(&d, p->consent_base + timeout);
			if (!p->tx)
				dmin(&d, p->next_keepalive);
		}
	}
	/* Work queued by an input since the last tick is due now. */
	return d < a->now ? a->now : d;
}
