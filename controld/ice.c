/* SPDX-License-Identifier: ISC */
/*
 * The ICE agent.  Hand-written rather than libnice or libjuice because
 * those own their sockets, while fz's UDP sockets belong to the
 * privileged fz-tunneld (the data path never goes through the
 * unprivileged fz-controld): so this is a state machine fed with
 * datagrams over IPC (see ice.h).  Checks themselves are in ice_check.c.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ice_int.h"

/* Section 2.3's profiles. */
static const struct ice_timing client_active = { 12, 250 * NSEC_PER_MSEC_,
	1500 * NSEC_PER_MSEC_ };
static const struct ice_timing client_idle = { 4, 25 * NSEC_PER_SEC_,
	25 * NSEC_PER_SEC_ };
static const struct ice_timing gateway_active = { 45, 250 * NSEC_PER_MSEC_,
	15 * NSEC_PER_SEC_ };
static const struct ice_timing gateway_idle = { 40, 25 * NSEC_PER_SEC_,
	25 * NSEC_PER_SEC_ };


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

uint64_t
ice_rto(const struct ice_timing *t, unsigned k)
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
		sum += ice_rto(t, k);
	return sum;
}

const struct ice_timing *
ice_profile(const struct ice_agent *a, uint64_t now)
{
	return now >= a->last_traffic + IDLE_AFTER_NS ? &a->idle : &a->active;
}

uint64_t
ice_profile_timeout(const struct ice_agent *a, const struct ice_timing *pr)
{
	return pr == &a->idle ? a->idle_timeout : a->active_timeout;
}

/* ---- outputs ---- */

void
ice_emit(struct ice_agent *a, const struct ice_event *ev)
{
	if (a->ev_n == ICE_MAX_EVENTS) {
		a->stats.ev_dropped++;
		return;
	}
	a->evq[(a->ev_head + a->ev_n++) % ICE_MAX_EVENTS] = *ev;
}

struct ice_transmit *
ice_tx_slot(struct ice_agent *a)
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

void
ice_set_state(struct ice_agent *a, enum ice_state s, uint64_t now)
{
	struct ice_event ev = { .type = ICE_EV_STATE, .state = s };

	if (a->state == s || a->state == ICE_STATE_FAILED)
		return;
	a->state = s;
	if (s == ICE_STATE_DISCONNECTED)
		a->disconnected_at = now;
	ice_emit(a, &ev);
}

void
ice_pair_info(const struct ice_agent *a, int i, struct ice_pair_info *pi)
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

void
ice_random(void *p, size_t n)
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
		ice_random(&a->tie, sizeof(a->tie));
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
	a->active_timeout = ice_timing_timeout(&a->active);
	a->idle_timeout = ice_timing_timeout(&a->idle);
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
	ice_pair_info(a, a->selected, pi);
	return 0;
}

/*
 * Controlled, before any selection: the pair the controlling agent
 * nominated (USE-CANDIDATE seen) while our own check on it is still
 * pending; the highest-priority one if several.  -ENOENT otherwise.
 */
int
ice_agent_peer_nominated(const struct ice_agent *a, struct ice_pair_info *pi)
{
	int i, best = -1;

	if (a->role != ICE_CONTROLLED || a->selected >= 0 ||
	    a->state == ICE_STATE_FAILED)
		return -ENOENT;
	for (i = 0; i < (int)a->npairs; i++)
		if (a->pairs[i].used && a->pairs[i].use_cand_rx &&
		    a->pairs[i].state != ICE_PAIR_FAILED &&
		    (best < 0 || a->pairs[i].prio > a->pairs[best].prio))
			best = i;
	if (best < 0)
		return -ENOENT;
	ice_pair_info(a, best, pi);
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
		for (i = 0; i < (int)a->npairs; i++)
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
uint64_t
ice_pair_prio(const struct ice_agent *a, uint32_t lp, uint32_t rp)
{
	uint64_t g = a->role == ICE_CONTROLLING ? lp : rp;
	uint64_t d = a->role == ICE_CONTROLLING ? rp : lp;
	uint64_t mn = g < d ? g : d, mx = g < d ? d : g;

	return (mn << 32) + 2 * mx + (g > d ? 1 : 0);
}

bool
ice_same_foundation(const struct ice_agent *a, const struct pair *p,
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

	ice_pair_info(a, i, &ev.pair);
	ice_emit(a, &ev);
}

void
ice_set_pair_state(struct ice_agent *a, int i, enum ice_pair_state s)
{
	enum ice_pair_state old = a->pairs[i].state;

	if (old == s)
		return;
	a->pairs[i].state = s;
	pair_event(a, i, old);
}

void
ice_unqueue(struct ice_agent *a, int i)
{
	unsigned k, j = 0;

	for (k = 0; k < a->ntrig; k++)
		if (a->trig[k] != i)
			a->trig[j++] = a->trig[k];
	a->ntrig = j;
	a->pairs[i].queued = false;
}

void
ice_enqueue_triggered(struct ice_agent *a, int i)
{
	if (a->pairs[i].queued || a->ntrig == ICE_MAX_PAIRS)
		return;
	a->pairs[i].queued = true;
	a->trig[a->ntrig++] = (uint8_t)i;
}

/* A pairable local candidate: host or relay (srflx pairs are redundant). */
bool
ice_pairable(const struct ice_candidate *c)
{
	return c->type == ICE_HOST || c->type == ICE_RELAY;
}

static int
find_pair(const struct ice_agent *a, int l, int r)
{
	int i;

	for (i = 0; i < (int)a->npairs; i++)
		if (a->pairs[i].used && a->pairs[i].l == l &&
		    a->pairs[i].r == r)
			return i;
	return -1;
}

/* Trickle (RFC 8838 §10): Waiting unless its foundation is being checked. */
int
ice_make_pair(struct ice_agent *a, int l, int r)
{
	const struct ice_candidate *lc = &a->local[l].c, *rc = &a->remote[r].c;
	struct pair *p;
	int i, k;
	bool busy = false;

	if (!ice_pairable(lc) || lc->addr.sa.sa_family != rc->addr.sa.sa_family)
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
	if ((unsigned)i >= a->npairs)
		a->npairs = (unsigned)i + 1;
	p->l = (uint8_t)l;
	p->r = (uint8_t)r;
	p->prio = ice_pair_prio(a, lc->priority, rc->priority);
	for (k = 0; k < (int)a->npairs; k++) {
		const struct pair *q = &a->pairs[k];

		if (k != i && q->used && (q->state == ICE_PAIR_WAITING ||
		    q->state == ICE_PAIR_IN_PROGRESS) &&
		    ice_same_foundation(a, p, q))
			busy = true;
	}
	p->state = ICE_PAIR_FROZEN;
	pair_event(a, i, ICE_PAIR_FROZEN);
	if (!busy)
		ice_set_pair_state(a, i, ICE_PAIR_WAITING);
	return i;
}

static void
drop_pair(struct ice_agent *a, int i, uint64_t now)
{
	ice_unqueue(a, i);
	a->pairs[i].used = false;
	if (a->selected == i) {
		a->selected = -1;
		ice_update_selection(a, now);
	}
}

static bool
cand_same(const struct ice_candidate *x, enum ice_cand_type t,
    const struct sockaddr *sa)
{
	return x->type == t && addr_eq(&x->addr.sa, sa);
}

void
ice_fill_foundation(struct ice_candidate *c)
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
		ice_fill_foundation(&c);
	a->local[i].used = true;
	a->local[i].optimistic = false;
	a->local[i].c = c;
	wake(a, now);
	for (r = 0; r < ICE_MAX_REMOTE; r++)
		if (a->remote[r].used)
			(void)ice_make_pair(a, i, r);
	return 0;
}

int
ice_add_remote(struct ice_agent *a, const struct ice_candidate *c,
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
			(void)ice_make_pair(a, l, i);
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
			o.priority = sc->priority > 1 ? sc->priority - 1 : 1;
			/*
			 * A foundation of its own, so the frozen algorithm
			 * checks it beside the srflx it came from.
			 */
			snprintf(o.foundation, sizeof(o.foundation), "%.24s+%u",
			    sc->foundation, addr_port(&o.addr.sa));
			if (ice_add_remote(a, &o, true) >= 0)
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
		ice_fill_foundation(&c);
	wake(a, now);
	if ((i = ice_add_remote(a, &c, false)) < 0)
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
	for (k = 0; k < (int)a->npairs; k++)
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
	for (k = 0; k < (int)a->npairs; k++)
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

bool
ice_pair_valid(const struct pair *p)
{
	return p->used && p->state == ICE_PAIR_SUCCEEDED;
}

void
ice_select_pair(struct ice_agent *a, int i, uint64_t now)
{
	struct ice_event ev = { .type = ICE_EV_SELECTED };

	if (i < 0) {
		a->selected = -1;
		if (a->state == ICE_STATE_CONNECTED)
			ice_set_state(a, ICE_STATE_DISCONNECTED, now);
		return;
	}
	if (i != a->selected) {
		a->selected = i;
		ice_pair_info(a, i, &ev.pair);
		ice_emit(a, &ev);
	}
	ice_set_state(a, ICE_STATE_CONNECTED, now);
}

/*
 * Controlling: nominate the best valid pair if it is not the selected
 * one.  Controlled: select the most recently nominated valid pair.
 */
void
ice_update_selection(struct ice_agent *a, uint64_t now)
{
	int i, best = -1;

	if (a->state == ICE_STATE_FAILED)
		return;
	if (a->selected >= 0 && !ice_pair_valid(&a->pairs[a->selected]))
		a->selected = -1;
	if (a->role == ICE_CONTROLLING) {
		for (i = 0; i < (int)a->npairs; i++)
			if (ice_pair_valid(&a->pairs[i]) && (best < 0 ||
			    a->pairs[i].prio > a->pairs[best].prio))
				best = i;
		for (i = 0; i < (int)a->npairs; i++)
			if (i != best)
				a->pairs[i].nominating = false;
		if (best >= 0 && best != a->selected &&
		    !a->pairs[best].nominating) {
			a->pairs[best].nominating = true;
			ice_enqueue_triggered(a, best);
		}
		if (a->selected < 0 && a->state == ICE_STATE_CONNECTED)
			ice_select_pair(a, -1, now);
		return;
	}
	for (i = 0; i < (int)a->npairs; i++)
		if (ice_pair_valid(&a->pairs[i]) && a->pairs[i].nominated &&
		    (best < 0 || a->pairs[i].nominated_at >
		    a->pairs[best].nominated_at ||
		    (a->pairs[i].nominated_at == a->pairs[best].nominated_at &&
		    a->pairs[i].prio > a->pairs[best].prio)))
			best = i;
	if (best >= 0 || a->state == ICE_STATE_CONNECTED)
		ice_select_pair(a, best, now);
}

void
ice_fail_pair(struct ice_agent *a, int i, uint64_t now)
{
	struct pair *p = &a->pairs[i];

	p->tx = false;
	p->nominated = p->nominating = p->use_cand_rx = false;
	ice_unqueue(a, i);
	ice_set_pair_state(a, i, ICE_PAIR_FAILED);
	/* 2, 4, 8, 16, then 30 s */
	p->retry_at = now + (p->retries < 4 ? RETRY_MIN_NS << p->retries :
	    RETRY_MAX_NS);
	if (p->retries < 4)
		p->retries++;
	ice_update_selection(a, now);
}

