/* SPDX-License-Identifier: ISC */
/*
 * Connectivity checks (RFC 8445 §7) for the agent in ice.c: Binding
 * requests with USERNAME, PRIORITY, ICE-CONTROLLING/-CONTROLLED,
 * USE-CANDIDATE, MESSAGE-INTEGRITY (short-term, keyed by the password of
 * the side that answers) and FINGERPRINT; answering incoming checks
 * (peer-reflexive candidates, role conflicts, triggered checks,
 * nomination on the controlled side); matching responses by transaction
 * id; pacing, retransmission, consent, and the deadline.
 */
#include <errno.h>
#include <string.h>

#include "ice_int.h"
#include "stun.h"

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
	p->next_send = now + ice_rto(ice_profile(a, now), p->sends);
	if ((t = ice_tx_slot(a)) == NULL)
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
	ice_random(p->tid, sizeof(p->tid));
	p->tx = true;
	p->sends = 0;
	p->first_sent = now;
	/* Controlling: USE-CANDIDATE on a nomination and on the selected. */
	p->tx_use_cand = a->role == ICE_CONTROLLING &&
	    (p->nominating || p->nominated);
	p->tx_role = a->role;
	if (p->state != ICE_PAIR_SUCCEEDED)
		ice_set_pair_state(a, i, ICE_PAIR_IN_PROGRESS);
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

	if ((t = ice_tx_slot(a)) == NULL)
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

static void
nominate(struct ice_agent *a, int i, uint64_t now)
{
	struct pair *p = &a->pairs[i];

	p->nominated = true;
	p->nominating = false;
	p->nominated_at = now;
	if (a->role == ICE_CONTROLLING) {
		int k;

		/*
		 * Only one nominated pair on the controlling side, and no
		 * more retransmissions carrying USE-CANDIDATE elsewhere: they
		 * would move the controlled side back (a late answer to one
		 * still counts, through old_tid).
		 */
		for (k = 0; k < (int)a->npairs; k++) {
			struct pair *q = &a->pairs[k];

			if (k == i)
				continue;
			q->nominated = false;
			if (q->tx && q->tx_use_cand) {
				memcpy(q->old_tid, q->tid, sizeof(q->tid));
				q->has_old_tid = true;
				q->tx = false;
			}
		}
		ice_select_pair(a, i, now);
		return;
	}
	ice_update_selection(a, now);
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
	for (i = 0; i < (int)a->npairs; i++) {
		struct pair *p = &a->pairs[i];

		if (!p->used)
			continue;
		p->prio = ice_pair_prio(a, a->local[p->l].c.priority,
		    a->remote[p->r].c.priority);
		p->nominating = p->nominated = p->use_cand_rx = false;
	}
	a->selected = -1;
	ice_emit(a, &ev);
	ice_update_selection(a, now);
}

/* ---- receiving ---- */

static int
find_local(const struct ice_agent *a, uint32_t sock,
    const struct sockaddr *local, int family)
{
	int i, any = -1;

	for (i = 0; i < ICE_MAX_LOCAL; i++) {
		const struct ice_candidate *c = &a->local[i].c;

		if (!a->local[i].used || !ice_pairable(c) || c->sock != sock ||
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
		ice_fill_foundation(&prflx);
		if ((r = ice_add_remote(a, &prflx, false)) < 0)
			return;
	}
	if ((i = ice_make_pair(a, l, r)) < 0)
		return;

	/* §7.3.1.4 triggered checks. */
	switch (a->pairs[i].state) {
	case ICE_PAIR_SUCCEEDED:
		break;
	case ICE_PAIR_IN_PROGRESS:
		/* Restart a check that has been waiting a while. */
		if (now >= a->pairs[i].last_sent + a->active.rto_initial_ns)
			ice_enqueue_triggered(a, i);
		break;
	case ICE_PAIR_FAILED:
	case ICE_PAIR_FROZEN:
		ice_set_pair_state(a, i, ICE_PAIR_WAITING);
		/* FALLTHROUGH */
	case ICE_PAIR_WAITING:
		ice_enqueue_triggered(a, i);
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

	for (i = 0; i < (int)a->npairs; i++) {
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
		ice_fail_pair(a, i, now);
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
			ice_set_pair_state(a, i, ICE_PAIR_WAITING);
			ice_enqueue_triggered(a, i);
			return;
		}
		ice_fail_pair(a, i, now);
		return;
	}
	if ((at = stun_find(m, STUN_A_XOR_MAPPED_ADDRESS)) == NULL ||
	    stun_get_xaddr(m, at, &mapped) != 0) {
		ice_fail_pair(a, i, now);
		return;
	}
	if (p->last_resp == 0 || !old)
		p->rtt = now - p->last_sent;
	p->last_resp = p->consent_base = now;
	p->next_keepalive = now + ice_profile(a, now)->rto_max_ns;
	if (p->state != ICE_PAIR_SUCCEEDED) {
		int k;

		ice_set_pair_state(a, i, ICE_PAIR_SUCCEEDED);
		p->retries = 0;
		/* §7.2.5.3.3: unfreeze pairs of the same foundation. */
		for (k = 0; k < (int)a->npairs; k++)
			if (a->pairs[k].used &&
			    a->pairs[k].state == ICE_PAIR_FROZEN &&
			    ice_same_foundation(a, &a->pairs[k], p))
				ice_set_pair_state(a, k, ICE_PAIR_WAITING);
	}
	if (a->role == ICE_CONTROLLING) {
		if (use_cand && p->nominating)
			nominate(a, i, now);
		else
			ice_update_selection(a, now);
	} else if (p->use_cand_rx) {
		p->use_cand_rx = false;
		nominate(a, i, now);
	} else
		ice_update_selection(a, now);
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
	for (i = 0; i < (int)a->npairs; i++)
		if (a->pairs[i].used && a->pairs[i].state == ICE_PAIR_WAITING &&
		    (best < 0 || a->pairs[i].prio > a->pairs[best].prio))
			best = i;
	if (best >= 0)
		return best;
	for (i = 0; i < (int)a->npairs; i++) {
		bool busy = false;

		if (!a->pairs[i].used || a->pairs[i].state != ICE_PAIR_FROZEN)
			continue;
		for (k = 0; k < (int)a->npairs; k++)
			if (a->pairs[k].used && (a->pairs[k].state ==
			    ICE_PAIR_WAITING || a->pairs[k].state ==
			    ICE_PAIR_IN_PROGRESS) &&
			    ice_same_foundation(a, &a->pairs[k], &a->pairs[i]))
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
		ice_unqueue(a, a->trig[0]);
	if (i >= 0 && a->pairs[i].queued)
		ice_unqueue(a, i);
	return i;
}

static bool
has_check(const struct ice_agent *a)
{
	return peek_check(a) >= 0;
}

static bool
pair_relayed(const struct ice_agent *a, const struct pair *p)
{
	return a->local[p->l].c.type == ICE_RELAY ||
	    a->remote[p->r].c.type == ICE_RELAY;
}

/*
 * A failed direct pair while the selected one is relayed and traffic
 * flows (the active profile): checked again at its retry_at.
 */
static bool
retry_due(const struct ice_agent *a, const struct ice_timing *pr,
    const struct pair *p)
{
	return p->used && p->state == ICE_PAIR_FAILED && a->selected >= 0 &&
	    pr == &a->active && !pair_relayed(a, p) &&
	    pair_relayed(a, &a->pairs[a->selected]);
}

static bool
any_live_pair(const struct ice_agent *a)
{
	int i;

	for (i = 0; i < (int)a->npairs; i++)
		if (a->pairs[i].used && a->pairs[i].state != ICE_PAIR_FAILED)
			return true;
	return false;
}

void
ice_agent_tick(struct ice_agent *a, uint64_t now)
{
	const struct ice_timing *pr = ice_profile(a, now);
	uint64_t timeout = ice_profile_timeout(a, pr);
	unsigned budget;
	int i;

	if (now > a->now)
		a->now = now;
	if (a->state == ICE_STATE_FAILED)
		return;
	if (!a->had_remote && now >= a->created + NO_CANDIDATE_NS) {
		ice_set_state(a, ICE_STATE_FAILED, now);
		return;
	}
	/* Retransmissions, check timeouts, consent and keepalives. */
	for (i = 0; i < (int)a->npairs; i++) {
		struct pair *p = &a->pairs[i];

		if (!p->used)
			continue;
		if (p->state == ICE_PAIR_SUCCEEDED &&
		    now >= p->consent_base + timeout) {
			ice_fail_pair(a, i, now);	/* consent lost */
			continue;
		}
		if (p->tx && now >= p->next_send) {
			if (p->state != ICE_PAIR_SUCCEEDED &&
			    p->sends >= pr->max_retransmits)
				ice_fail_pair(a, i, now);
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
		if (retry_due(a, pr, p) && now >= p->retry_at)
			ice_set_pair_state(a, i, ICE_PAIR_WAITING);
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
		ice_set_state(a, ICE_STATE_DISCONNECTED, now);
	if (a->state == ICE_STATE_DISCONNECTED) {
		if (a->selected >= 0)
			ice_set_state(a, ICE_STATE_CONNECTED, now);
		else if (now >= a->disconnected_at + DISCONNECTED_FAIL_NS)
			ice_set_state(a, ICE_STATE_FAILED, now);
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
	pr = ice_profile(a, a->now);
	if (pr == &a->active)
		dmin(&d, a->last_traffic + IDLE_AFTER_NS);
	timeout = ice_profile_timeout(a, pr);
	if (!a->had_remote)
		dmin(&d, a->created + NO_CANDIDATE_NS);
	if (a->state == ICE_STATE_DISCONNECTED)
		dmin(&d, a->disconnected_at + DISCONNECTED_FAIL_NS);
	if (has_check(a))
		dmin(&d, a->next_ta);
	for (i = 0; i < (int)a->npairs; i++) {
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
		if (retry_due(a, pr, p))
			dmin(&d, p->retry_at);
	}
	/* Work queued by an input since the last tick is due now. */
	return d < a->now ? a->now : d;
}
