/* SPDX-License-Identifier: ISC */
/*
 * controld/ice: candidate strings, and two agents (a Client, controlling,
 * and a Gateway, controlled) wired through a simulated network on a fake
 * clock.  Each side sits behind an endpoint-independent NAT with a host
 * address (unreachable from the other side), a srflx address, and a relay
 * address on one TURN server; "direct" traffic (NAT to NAT) can be
 * blocked while the relay keeps working.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "ice.h"
#include "ice_int.h"
#include "stun.h"

#define MS	1000000ULL
#define SEC	1000000000ULL

#define SOCK_HOST	1
#define SOCK_RELAY	100

struct side {
	struct ice_agent	*ag;
	union fz_sockaddr	 host, srflx, relay;
	bool			 symmetric;	/* NAT: a new port per peer */
	union fz_sockaddr	 sym;		/* the port used toward the peer */
	enum ice_state		 state;
	uint64_t		 connected_at, disconnected_at, failed_at;
	unsigned		 selected_events;
	unsigned		 role_events;
};

#define MAXQ 512
struct pkt {
	uint64_t		 at;
	int			 to;		/* side index */
	uint32_t		 sock;
	union fz_sockaddr	 local, from;
	size_t			 len;
	uint8_t			 buf[ICE_MAX_STUN];
};

struct net {
	struct side	 s[2];
	struct pkt	 q[MAXQ];
	unsigned	 nq;
	uint64_t	 now;
	bool		 block_direct;
	bool		 block_all;
	bool		 traffic;	/* IP traffic flows: active profile */
	uint64_t	 latency;
	unsigned	 delivered;
};

static union fz_sockaddr
sa(const char *s)
{
	union fz_sockaddr a;

	ck_assert_int_eq(addr_parse(s, ADDR_PORT_REQUIRED, &a), 0);
	return a;
}

static void
net_init(struct net *n, enum ice_role rb, uint64_t tie_a, uint64_t tie_b,
    const char *a_remote_pwd)
{
	struct ice_config ca = {
		.role = ICE_CONTROLLING, .tie_breaker = tie_a,
		.local_ufrag = "aaaa", .local_pwd = "apasswordapassword1234",
		.remote_ufrag = "bbbb", .remote_pwd = a_remote_pwd,
		.no_optimistic = true,
	};
	struct ice_config cb = {
		.role = rb, .tie_breaker = tie_b,
		.local_ufrag = "bbbb", .local_pwd = "bpasswordbpassword1234",
		.remote_ufrag = "aaaa", .remote_pwd = "apasswordapassword1234",
		.no_optimistic = true,
	};

	memset(n, 0, sizeof(*n));
	n->now = 1000 * SEC;
	n->latency = 10 * MS;
	/* The Gateway times as the Client does: quicker tests. */
	cb.active = (struct ice_timing){ 12, 250 * MS, 1500 * MS };
	ck_assert_int_eq(ice_agent_new(&ca, n->now, &n->s[0].ag), 0);
	ck_assert_int_eq(ice_agent_new(&cb, n->now, &n->s[1].ag), 0);
	n->s[0].host = sa("10.0.0.1:1000");
	n->s[0].srflx = sa("198.51.100.1:40000");
	n->s[0].relay = sa("203.0.113.10:50000");
	n->s[1].host = sa("10.1.0.1:2000");
	n->s[1].srflx = sa("198.51.100.2:41000");
	n->s[1].relay = sa("203.0.113.10:50001");
}

static void
net_free(struct net *n)
{
	ice_agent_free(n->s[0].ag);
	ice_agent_free(n->s[1].ag);
}

static struct ice_candidate
cand(enum ice_cand_type t, const union fz_sockaddr *addr, uint32_t sock)
{
	struct ice_candidate c;

	memset(&c, 0, sizeof(c));
	c.type = t;
	c.addr = *addr;
	c.sock = sock;
	return c;
}

/* Each side's candidates, signalled to the other through strings. */
static void
net_candidates(struct net *n, bool relay)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct side *s = &n->s[i];
		struct ice_candidate c[3], out[ICE_MAX_LOCAL];
		unsigned k, nc;

		c[0] = cand(ICE_HOST, &s->host, SOCK_HOST);
		c[1] = cand(ICE_SRFLX, &s->srflx, SOCK_HOST);
		c[1].raddr = s->host;
		c[1].has_raddr = true;
		c[2] = cand(ICE_RELAY, &s->relay, SOCK_RELAY);
		for (k = 0; k < (relay ? 3u : 2u); k++)
			ck_assert_int_eq(ice_agent_add_local_candidate(s->ag,
			    &c[k], n->now), 0);
		nc = ice_agent_local_candidates(s->ag, out, ICE_MAX_LOCAL);
		ck_assert_uint_eq(nc, relay ? 3 : 2);
		for (k = 0; k < nc; k++) {
			char str[ICE_CAND_MAXLEN];
			struct ice_candidate rc;

			if (k > 0)
				ck_assert_uint_ge(out[k - 1].priority,
				    out[k].priority);
			out[k].has_raddr = false;	/* not signalled */
			ck_assert_int_eq(ice_cand_fmt(&out[k], str,
			    sizeof(str)), 0);
			ck_assert_int_eq(ice_cand_parse(str, strlen(str), &rc),
			    0);
			ck_assert_int_eq(ice_agent_add_remote_candidate(
			    n->s[1 - i].ag, &rc, n->now), 0);
		}
	}
}

static bool
is(const union fz_sockaddr *x, const union fz_sockaddr *y)
{
	return addr_eq(&x->sa, &y->sa);
}

static void
enqueue(struct net *n, int to, uint32_t sock, const union fz_sockaddr *local,
    const union fz_sockaddr *from, const struct ice_transmit *t)
{
	struct pkt *p;

	ck_assert_uint_lt(n->nq, MAXQ);
	p = &n->q[n->nq++];
	p->at = n->now + n->latency;
	p->to = to;
	p->sock = sock;
	p->local = *local;
	p->from = *from;
	p->len = t->len;
	memcpy(p->buf, t->buf, t->len);
}

/*
 * Routes one transmit of side i.  Sources on the public side: the srflx
 * (NAT) address for direct sends, the relayed address for relayed ones.
 */
static void
route(struct net *n, int i, const struct ice_transmit *t)
{
	const struct side *me = &n->s[i], *peer = &n->s[1 - i];
	const union fz_sockaddr *src;
	bool direct_src;

	ck_assert(stun_is_stun(t->buf, t->len));
	if (n->block_all)
		return;
	if (t->via_relay) {
		ck_assert_uint_eq(t->sock, SOCK_RELAY);
		src = &me->relay;
		direct_src = false;
	} else {
		ck_assert_uint_eq(t->sock, SOCK_HOST);
		ck_assert(is(&t->src, &me->host));
		src = me->symmetric ? &me->sym : &me->srflx;
		direct_src = true;
	}
	if (is(&t->dst, &peer->srflx) ||
	    (peer->symmetric && is(&t->dst, &peer->sym))) {
		if (direct_src && n->block_direct)
			return;
		/* A symmetric NAT lets in only what its mapping sent to. */
		if (peer->symmetric && is(&t->dst, &peer->srflx))
			return;
		enqueue(n, 1 - i, SOCK_HOST, &peer->host, src, t);
	} else if (is(&t->dst, &peer->relay)) {
		enqueue(n, 1 - i, SOCK_RELAY, &peer->relay, src, t);
	}
	/* Host addresses are on separate private networks: dropped. */
}

static void
drain(struct net *n, int i)
{
	struct side *s = &n->s[i];
	struct ice_transmit t;
	struct ice_event ev;

	while (ice_agent_poll_transmit(s->ag, &t))
		route(n, i, &t);
	while (ice_agent_poll_event(s->ag, &ev)) {
		if (getenv("ICE_DEBUG") != NULL) {
			char l[ADDR_STRLEN] = "", r[ADDR_STRLEN] = "";

			if (addr_fmt(&ev.pair.local.sa, true, l, sizeof(l)) ||
			    addr_fmt(&ev.pair.remote.sa, true, r, sizeof(r)))
				l[0] = r[0] = '\0';
			fprintf(stderr, "%.3f %c ev%d %s %s %s->%s %s\n",
			    (double)(n->now % (1000 * SEC)) / SEC, 'A' + i,
			    ev.type, ice_state_name(ev.state),
			    ice_pair_state_name(ev.old_pair_state),
			    ice_pair_state_name(ev.pair.state), l, r);
		}
		switch (ev.type) {
		case ICE_EV_STATE:
			s->state = ev.state;
			if (ev.state == ICE_STATE_CONNECTED &&
			    s->connected_at == 0)
				s->connected_at = n->now;
			if (ev.state == ICE_STATE_DISCONNECTED)
				s->disconnected_at = n->now;
			if (ev.state == ICE_STATE_FAILED)
				s->failed_at = n->now;
			break;
		case ICE_EV_SELECTED:
			s->selected_events++;
			break;
		case ICE_EV_ROLE:
			s->role_events++;
			break;
		case ICE_EV_PAIR:
			break;
		}
	}
}

/*
 * ice_agent_deadline as it was before the agent cached its profiles'
 * timeouts and bounded its loops by the pair slots in use: every one of
 * the ICE_MAX_PAIRS slots scanned, the timeout summed afresh.  net_run
 * checks the agent's answer against it at every step of every scenario.
 */
static bool
ref_has_check(const struct ice_agent *a)
{
	unsigned q;
	int i, k;

	for (q = 0; q < a->ntrig; q++) {
		i = a->trig[q];
		if (a->pairs[i].used && a->pairs[i].state != ICE_PAIR_FAILED)
			return true;
	}
	for (i = 0; i < ICE_MAX_PAIRS; i++)
		if (a->pairs[i].used && a->pairs[i].state == ICE_PAIR_WAITING)
			return true;
	for (i = 0; i < ICE_MAX_PAIRS; i++) {
		bool busy = false;

		if (!a->pairs[i].used || a->pairs[i].state != ICE_PAIR_FROZEN)
			continue;
		for (k = 0; k < ICE_MAX_PAIRS; k++)
			if (a->pairs[k].used && (a->pairs[k].state ==
			    ICE_PAIR_WAITING || a->pairs[k].state ==
			    ICE_PAIR_IN_PROGRESS) &&
			    ice_same_foundation(a, &a->pairs[k], &a->pairs[i]))
				busy = true;
		if (!busy)
			return true;
	}
	return false;
}

static void
ref_min(uint64_t *d, uint64_t t)
{
	if (t < *d)
		*d = t;
}

static bool
ref_relayed(const struct ice_agent *a, const struct pair *p)
{
	return a->local[p->l].c.type == ICE_RELAY ||
	    a->remote[p->r].c.type == ICE_RELAY;
}

static uint64_t
ref_deadline(const struct ice_agent *a)
{
	uint64_t d = UINT64_MAX, timeout;
	const struct ice_timing *pr;
	int i;

	if (a->state == ICE_STATE_FAILED)
		return UINT64_MAX;
	pr = a->now >= a->last_traffic + IDLE_AFTER_NS ? &a->idle : &a->active;
	if (pr == &a->active)
		ref_min(&d, a->last_traffic + IDLE_AFTER_NS);
	timeout = ice_timing_timeout(pr);
	if (!a->had_remote)
		ref_min(&d, a->created + NO_CANDIDATE_NS);
	if (a->state == ICE_STATE_DISCONNECTED)
		ref_min(&d, a->disconnected_at + DISCONNECTED_FAIL_NS);
	if (ref_has_check(a))
		ref_min(&d, a->next_ta);
	for (i = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &a->pairs[i];

		if (!p->used)
			continue;
		if (p->tx)
			ref_min(&d, p->next_send);
		if (p->state == ICE_PAIR_SUCCEEDED) {
			ref_min(&d, p->consent_base + timeout);
			if (!p->tx)
				ref_min(&d, p->next_keepalive);
		}
		/* Relayed and active: failed direct pairs are retried. */
		if (p->state == ICE_PAIR_FAILED && a->selected >= 0 &&
		    pr == &a->active && !ref_relayed(a, p) &&
		    ref_relayed(a, &a->pairs[a->selected]))
			ref_min(&d, p->retry_at);
	}
	for (i = (int)a->npairs; i < ICE_MAX_PAIRS; i++)
		ck_assert(!a->pairs[i].used);	/* the bound is safe */
	return d < a->now ? a->now : d;
}

/* Runs the simulation until `until`, jumping from event to event. */
static void
net_run(struct net *n, uint64_t until)
{
	unsigned steps = 0;

	for (;;) {
		uint64_t next = until;
		unsigned k;
		int i;

		for (i = 0; i < 2; i++) {
			uint64_t d = ice_agent_deadline(n->s[i].ag);

			ck_assert_uint_eq(d, ref_deadline(n->s[i].ag));
			ck_assert_uint_ge(d, n->now);	/* never in the past */
			if (d < next)
				next = d;
		}
		for (k = 0; k < n->nq; k++)
			if (n->q[k].at < next)
				next = n->q[k].at;
		if (next >= until && n->now >= until)
			break;
		n->now = next;
		for (k = 0; k < n->nq;) {
			if (n->q[k].at <= n->now) {
				struct pkt p = n->q[k];
				bool ok;

				n->q[k] = n->q[--n->nq];
				ok = ice_agent_recv(n->s[p.to].ag, p.sock,
				    &p.local.sa, &p.from.sa, p.buf, p.len,
				    n->now);
				ck_assert(ok);
				n->delivered++;
			} else
				k++;
		}
		for (i = 0; i < 2; i++) {
			if (n->traffic)
				ice_agent_traffic(n->s[i].ag, n->now);
			ice_agent_tick(n->s[i].ag, n->now);
			drain(n, i);
		}
		ck_assert_uint_lt(++steps, 200000);
		if (n->now >= until)
			break;
	}
}

static void
selected(struct net *n, int i, struct ice_pair_info *pi)
{
	ck_assert_int_eq(ice_agent_selected(n->s[i].ag, pi), 0);
}

static bool
pair_direct(const struct ice_pair_info *pi)
{
	return pi->local_type == ICE_HOST && pi->remote_type != ICE_RELAY;
}

START_TEST(test_timing_figures)
{
	struct ice_timing c = { 12, 250 * MS, 1500 * MS };
	struct ice_timing ci = { 4, 25 * SEC, 25 * SEC };
	struct ice_timing g = { 45, 250 * MS, 15 * SEC };
	struct ice_timing gi = { 40, 25 * SEC, 25 * SEC };

	/* firezone-protocols.md §2.3 */
	ck_assert_uint_eq(ice_timing_timeout(&c), 16500 * MS);
	ck_assert_uint_eq(ice_timing_timeout(&ci), 100 * SEC);
	ck_assert_uint_eq(ice_timing_timeout(&g), 615500 * MS);
	ck_assert_uint_eq(ice_timing_timeout(&gi), 1000 * SEC);
}
END_TEST

START_TEST(test_priorities)
{
	/* str0m's host and srflx priorities for local preference 65535. */
	ck_assert_uint_eq(ice_cand_priority(ICE_HOST, 65535), 2130706431u);
	ck_assert_uint_eq(ice_cand_priority(ICE_SRFLX, 65535), 1694498815u);
	ck_assert_uint_eq(ice_cand_priority(ICE_RELAY, 0), 255u);
}
END_TEST

START_TEST(test_direct)
{
	struct net n;
	struct ice_pair_info a, b;
	uint64_t t0;

	net_init(&n, ICE_CONTROLLED, 0, 0, "bpasswordbpassword1234");
	t0 = n.now;
	net_candidates(&n, true);
	net_run(&n, t0 + 2 * SEC);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);
	ck_assert_int_eq(ice_agent_state(n.s[1].ag), ICE_STATE_CONNECTED);
	ck_assert_uint_le(n.s[0].connected_at - t0, 100 * MS);
	selected(&n, 0, &a);
	selected(&n, 1, &b);
	ck_assert(pair_direct(&a) && pair_direct(&b));
	ck_assert(is(&a.remote, &n.s[1].srflx));
	ck_assert(is(&b.remote, &n.s[0].srflx));
	ck_assert(a.nominated && b.nominated);
	ck_assert_uint_gt(a.rtt_ns, 0);

	/* Keepalives keep it up for a while (consent every 1.5 s). */
	net_run(&n, t0 + 60 * SEC);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);
	ck_assert_int_eq(ice_agent_state(n.s[1].ag), ICE_STATE_CONNECTED);
	net_free(&n);
}
END_TEST

START_TEST(test_relay_then_upgrade)
{
	struct net n;
	struct ice_pair_info a, b;
	uint64_t t0;
	unsigned sel;

	net_init(&n, ICE_CONTROLLED, 0, 0, "bpasswordbpassword1234");
	n.block_direct = true;
	n.traffic = true;
	t0 = n.now;
	net_candidates(&n, true);
	net_run(&n, t0 + 3 * SEC);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);
	ck_assert_int_eq(ice_agent_state(n.s[1].ag), ICE_STATE_CONNECTED);
	selected(&n, 0, &a);
	selected(&n, 1, &b);
	ck_assert(!pair_direct(&a));
	ck_assert(!pair_direct(&b));
	/* Both sides agree on the path (one's remote is the other's local). */
	ck_assert(a.local_type == ICE_RELAY || a.remote_type == ICE_RELAY);

	/* Direct appears: within the checks' retransmissions, upgraded. */
	sel = n.s[0].selected_events;
	n.block_direct = false;
	net_run(&n, n.now + 20 * SEC);
	selected(&n, 0, &a);
	selected(&n, 1, &b);
	ck_assert(pair_direct(&a));
	ck_assert(pair_direct(&b));
	ck_assert_uint_gt(n.s[0].selected_events, sel);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);

	/* Direct goes away again: back to the relay, never failed. */
	n.block_direct = true;
	net_run(&n, n.now + 40 * SEC);
	selected(&n, 0, &a);
	selected(&n, 1, &b);
	ck_assert(!pair_direct(&a));
	ck_assert(!pair_direct(&b));
	ck_assert_int_eq(n.s[0].failed_at, 0);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);
	net_free(&n);
}
END_TEST

START_TEST(test_upgrade_late)
{
	/* The Gateway with its own profile (45 retransmissions up to 15 s):
	 * direct opens a minute later, long after the Client's direct checks
	 * failed (16.5 s); the Gateway's retransmissions trigger the Client's
	 * checks, and the Client upgrades. */
	struct ice_config cb = {
		.role = ICE_CONTROLLED,
		.local_ufrag = "bbbb", .local_pwd = "bpasswordbpassword1234",
		.remote_ufrag = "aaaa", .remote_pwd = "apasswordapassword1234",
		.no_optimistic = true,
	};
	struct net n;
	struct ice_pair_info a, b;
	uint64_t t0;

	net_init(&n, ICE_CONTROLLED, 0, 0, "bpasswordbpassword1234");
	ice_agent_free(n.s[1].ag);
	ck_assert_int_eq(ice_agent_new(&cb, n.now, &n.s[1].ag), 0);
	n.block_direct = true;
	n.traffic = true;
	t0 = n.now;
	net_candidates(&n, true);
	net_run(&n, t0 + 60 * SEC);
	selected(&n, 0, &a);
	ck_assert(!pair_direct(&a));
	n.block_direct = false;
	net_run(&n, n.now + 16 * SEC);	/* the Gateway's RTO is 15 s */
	selected(&n, 0, &a);
	selected(&n, 1, &b);
	ck_assert(pair_direct(&a));
	ck_assert(pair_direct(&b));
	ck_assert_int_eq(n.s[0].failed_at, 0);
	net_free(&n);
}
END_TEST

/*
 * Both sides' direct checks fail (a NAT that changed its mapping filters
 * them) and the path is relayed; when direct works again nothing on the
 * wire triggers a check, so the failed direct pairs are retried on a
 * backoff (2 s doubling to 30 s) while relayed and active, not when
 * idle.
 */
START_TEST(test_retry_failed_direct)
{
	struct net n;
	struct ice_pair_info a, b;
	struct ice_stats s0, s1;
	uint64_t t0;
	unsigned i, nvalid;

	net_init(&n, ICE_CONTROLLED, 0, 0, "bpasswordbpassword1234");
	n.block_direct = true;
	n.traffic = true;
	t0 = n.now;
	net_candidates(&n, true);
	net_run(&n, t0 + 120 * SEC);
	selected(&n, 0, &a);
	ck_assert(!pair_direct(&a));
	n.block_direct = false;
	net_run(&n, n.now + 31 * SEC);
	selected(&n, 0, &a);
	selected(&n, 1, &b);
	ck_assert(pair_direct(&a));
	ck_assert(pair_direct(&b));
	ck_assert_int_eq(n.s[0].failed_at, 0);
	ck_assert_int_eq(n.s[1].failed_at, 0);

	/* Idle and relayed: no retries, only the 25 s keepalives. */
	n.block_direct = true;
	n.traffic = false;
	net_run(&n, n.now + 60 * SEC);
	selected(&n, 0, &a);
	ck_assert(!pair_direct(&a));
	ice_agent_stats(n.s[0].ag, &s0);
	net_run(&n, n.now + 100 * SEC);
	ice_agent_stats(n.s[0].ag, &s1);
	for (i = 0, nvalid = 0; i < ICE_MAX_PAIRS; i++) {
		const struct pair *p = &n.s[0].ag->pairs[i];

		if (p->used && p->state == ICE_PAIR_SUCCEEDED)
			nvalid++;
		else if (p->used)
			ck_assert_int_eq(p->state, ICE_PAIR_FAILED);
	}
	ck_assert_uint_ge(nvalid, 1);
	ck_assert_uint_le(s1.checks_sent - s0.checks_sent, 4 * nvalid + 1);
	net_free(&n);
}
END_TEST

START_TEST(test_remove_candidate)
{
	struct net n;
	struct ice_pair_info a;
	uint64_t t0;

	net_init(&n, ICE_CONTROLLED, 0, 0, "bpasswordbpassword1234");
	t0 = n.now;
	net_candidates(&n, true);
	net_run(&n, t0 + 2 * SEC);
	selected(&n, 0, &a);
	ck_assert(pair_direct(&a));
	/* The peer invalidates its srflx: re-nominated onto the relay. */
	ck_assert_int_eq(ice_agent_remove_remote_candidate(n.s[0].ag,
	    ICE_SRFLX, &n.s[1].srflx.sa, n.now), 0);
	ck_assert_int_eq(ice_agent_remove_remote_candidate(n.s[0].ag,
	    ICE_SRFLX, &n.s[1].srflx.sa, n.now), -ENOENT);
	n.block_direct = true;	/* so no prflx brings it back */
	net_run(&n, n.now + 3 * SEC);
	selected(&n, 0, &a);
	ck_assert(!pair_direct(&a));
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);
	/* Our relay goes away too (relay migration). */
	ck_assert_int_eq(ice_agent_remove_local_candidate(n.s[0].ag,
	    ICE_RELAY, &n.s[0].relay.sa, n.now), 0);
	net_run(&n, n.now + 3 * SEC);
	selected(&n, 0, &a);
	ck_assert_int_eq(a.local_type, ICE_HOST);
	ck_assert(is(&a.remote, &n.s[1].relay));
	net_free(&n);
}
END_TEST

START_TEST(test_role_conflict)
{
	struct net n;
	struct ice_pair_info a, b;
	struct ice_stats st0, st1;
	uint64_t t0;

	/* Both controlling; the Gateway's tie-breaker is larger: it wins. */
	net_init(&n, ICE_CONTROLLING, 5, 9, "bpasswordbpassword1234");
	t0 = n.now;
	net_candidates(&n, true);
	net_run(&n, t0 + 3 * SEC);
	ck_assert_int_eq(ice_agent_role(n.s[0].ag), ICE_CONTROLLED);
	ck_assert_int_eq(ice_agent_role(n.s[1].ag), ICE_CONTROLLING);
	ice_agent_stats(n.s[0].ag, &st0);
	ice_agent_stats(n.s[1].ag, &st1);
	ck_assert_uint_ge(st0.role_conflicts + st1.role_conflicts, 1);
	ck_assert_uint_eq(n.s[0].role_events, 1);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);
	ck_assert_int_eq(ice_agent_state(n.s[1].ag), ICE_STATE_CONNECTED);
	selected(&n, 0, &a);
	selected(&n, 1, &b);
	ck_assert(pair_direct(&a) && pair_direct(&b));
	net_free(&n);
}
END_TEST

START_TEST(test_role_conflict_controlled)
{
	struct net n;
	uint64_t t0;

	/* Both controlled: the larger tie-breaker (the Client) controls. */
	struct ice_config ca = {
		.role = ICE_CONTROLLED, .tie_breaker = 100,
		.local_ufrag = "aaaa", .local_pwd = "apasswordapassword1234",
		.remote_ufrag = "bbbb", .remote_pwd = "bpasswordbpassword1234",
		.no_optimistic = true,
	};

	net_init(&n, ICE_CONTROLLED, 0, 3, "bpasswordbpassword1234");
	ice_agent_free(n.s[0].ag);
	ck_assert_int_eq(ice_agent_new(&ca, n.now, &n.s[0].ag), 0);
	t0 = n.now;
	net_candidates(&n, false);
	net_run(&n, t0 + 3 * SEC);
	ck_assert_int_eq(ice_agent_role(n.s[0].ag), ICE_CONTROLLING);
	ck_assert_int_eq(ice_agent_role(n.s[1].ag), ICE_CONTROLLED);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);
	ck_assert_int_eq(ice_agent_state(n.s[1].ag), ICE_STATE_CONNECTED);
	net_free(&n);
}
END_TEST

START_TEST(test_wrong_password)
{
	struct net n;
	struct ice_stats st;
	uint64_t t0;

	/* The Client has the wrong remote password: its checks are ignored
	 * (never answered), so it never succeeds; the Gateway's checks with
	 * the right password are answered but never nominated. */
	net_init(&n, ICE_CONTROLLED, 0, 0, "wrongwrongwrongwrong12");
	t0 = n.now;
	net_candidates(&n, false);
	net_run(&n, t0 + 5 * SEC);
	ck_assert_int_ne(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);
	ck_assert_int_ne(ice_agent_state(n.s[1].ag), ICE_STATE_CONNECTED);
	ice_agent_stats(n.s[1].ag, &st);
	ck_assert_uint_gt(st.bad_integrity, 0);
	ck_assert_uint_eq(st.checks_recv, 0);
	ice_agent_stats(n.s[0].ag, &st);
	ck_assert_uint_gt(st.checks_recv, 0);
	ck_assert_uint_eq(st.responses_recv, 0);
	net_run(&n, t0 + 30 * SEC);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_FAILED);
	net_free(&n);
}
END_TEST

START_TEST(test_consent_loss)
{
	struct net n;
	uint64_t t0, lost;

	net_init(&n, ICE_CONTROLLED, 0, 0, "bpasswordbpassword1234");
	t0 = n.now;
	net_candidates(&n, true);
	net_run(&n, t0 + 5 * SEC);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);
	n.traffic = true;
	net_run(&n, t0 + 6 * SEC);
	lost = n.now;
	n.block_all = true;
	net_run(&n, lost + 30 * SEC);
	/* Last answer at most one keepalive (1.5 s) before the cut, then
	 * the client timeout of 16.5 s; failed 2 s after that. */
	ck_assert_uint_ne(n.s[0].disconnected_at, 0);
	ck_assert_uint_le(n.s[0].disconnected_at - lost, 16500 * MS);
	ck_assert_uint_ge(n.s[0].disconnected_at - lost, 15000 * MS);
	ck_assert_uint_eq(n.s[0].failed_at - n.s[0].disconnected_at, 2 * SEC);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_FAILED);
	ck_assert_uint_eq(ice_agent_deadline(n.s[0].ag), UINT64_MAX);
	net_free(&n);
}
END_TEST

START_TEST(test_idle_profile)
{
	struct net n;
	struct ice_stats s0, s1;
	uint64_t t0;

	net_init(&n, ICE_CONTROLLED, 0, 0, "bpasswordbpassword1234");
	t0 = n.now;
	net_candidates(&n, false);
	net_run(&n, t0 + 30 * SEC);
	/* Idle since t0 + 20 s: one check per 25 s on the one pair. */
	ice_agent_stats(n.s[0].ag, &s0);
	net_run(&n, n.now + 250 * SEC);
	ice_agent_stats(n.s[0].ag, &s1);
	ck_assert_uint_le(s1.checks_sent - s0.checks_sent, 11);
	ck_assert_uint_ge(s1.checks_sent - s0.checks_sent, 9);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);
	/* Traffic: back to the active profile at once. */
	ice_agent_traffic(n.s[0].ag, n.now);
	ck_assert_uint_eq(ice_agent_deadline(n.s[0].ag), n.now);
	net_run(&n, n.now + 5 * SEC);
	ck_assert_int_eq(ice_agent_state(n.s[0].ag), ICE_STATE_CONNECTED);
	net_free(&n);
}
END_TEST

START_TEST(test_no_candidates)
{
	struct net n;
	uint64_t t0;

	net_init(&n, ICE_CONTROLLED, 0, 0, "bpasswordbpassword1234");
	t0 = n.now;
	ck_assert_uint_eq(ice_agent_deadline(n.s[0].ag), t0 + 10 * SEC);
	net_run(&n, t0 + 11 * SEC);
	ck_assert_uint_eq(n.s[0].failed_at, t0 + 10 * SEC);
	net_free(&n);
}
END_TEST

START_TEST(test_not_ours)
{
	struct net n;
	union fz_sockaddr from = sa("192.0.2.1:3478");
	uint8_t buf[128], tid[12] = { 1 };
	struct stun_builder b;
	size_t len;
	char uf[8];

	net_init(&n, ICE_CONTROLLED, 0, 0, "bpasswordbpassword1234");
	/* Someone else's ufrag: not consumed. */
	stun_build(&b, buf, sizeof(buf), STUN_BINDING | STUN_REQUEST, tid);
	stun_put_str(&b, STUN_A_USERNAME, "cccc:aaaa");
	stun_put_fingerprint(&b);
	ck_assert_int_eq(stun_finish(&b, &len), 0);
	ck_assert(!ice_agent_recv(n.s[1].ag, SOCK_HOST, NULL, &from.sa, buf,
	    len, n.now));
	ck_assert_int_eq(ice_stun_request_ufrag(buf, len, uf, sizeof(uf)), 0);
	ck_assert_str_eq(uf, "cccc");
	/* An unknown response: not consumed; WireGuard bytes neither. */
	stun_build(&b, buf, sizeof(buf), STUN_BINDING | STUN_SUCCESS, tid);
	ck_assert_int_eq(stun_finish(&b, &len), 0);
	ck_assert(!ice_agent_recv(n.s[1].ag, SOCK_HOST, NULL, &from.sa, buf,
	    len, n.now));
	memset(buf, 0, sizeof(buf));
	buf[0] = 1;
	ck_assert(!ice_agent_recv(n.s[1].ag, SOCK_HOST, NULL, &from.sa, buf,
	    148, n.now));
	ck_assert_int_eq(ice_stun_request_ufrag(buf, 148, uf, sizeof(uf)),
	    -EINVAL);
	net_free(&n);
}
END_TEST

START_TEST(test_bad_config)
{
	struct ice_config c = {
		.role = ICE_CONTROLLING,
		.local_ufrag = "aa:a", .local_pwd = "x",
		.remote_ufrag = "bbbb", .remote_pwd = "y",
	};
	struct ice_agent *a = NULL;

	ck_assert_int_eq(ice_agent_new(&c, 0, &a), -EINVAL);
	c.local_ufrag = NULL;
	ck_assert_int_eq(ice_agent_new(&c, 0, &a), -EINVAL);
	ck_assert_ptr_null(a);
	ice_agent_free(NULL);
}
END_TEST

START_TEST(test_limits)
{
	struct net n;
	struct ice_candidate c;
	char ip[32];
	int k, rc = 0;

	net_init(&n, ICE_CONTROLLED, 0, 0, "bpasswordbpassword1234");
	for (k = 0; k < ICE_MAX_REMOTE + 4; k++) {
		union fz_sockaddr a;

		snprintf(ip, sizeof(ip), "192.0.2.%d:%d", k + 1, 1000 + k);
		a = sa(ip);
		c = cand(ICE_HOST, &a, 0);
		c.priority = 1000;
		rc = ice_agent_add_remote_candidate(n.s[0].ag, &c, n.now);
		if (k < ICE_MAX_REMOTE)
			ck_assert_int_eq(rc, 0);
	}
	ck_assert_int_eq(rc, -ENOSPC);
	/* Duplicates are a no-op, even when full. */
	c.addr = sa("192.0.2.1:1000");
	ck_assert_int_eq(ice_agent_add_remote_candidate(n.s[0].ag, &c,
	    n.now), 0);
	c.priority = 0;
	ck_assert_int_eq(ice_agent_add_remote_candidate(n.s[0].ag, &c,
	    n.now), -EINVAL);
	c.type = ICE_PRFLX;
	ck_assert_int_eq(ice_agent_add_local_candidate(n.s[0].ag, &c, n.now),
	    -EINVAL);
	net_free(&n);
}
END_TEST

START_TEST(test_symmetric_nat_prflx)
{
	struct net n;
	struct ice_pair_info a, b;
	uint64_t t0;

	/* The Gateway's NAT maps it to another port toward the Client than
	 * the srflx it learnt from the relay: the Client learns that port
	 * from the Gateway's check (peer-reflexive) and goes direct to it. */
	net_init(&n, ICE_CONTROLLED, 0, 0, "bpasswordbpassword1234");
	n.s[1].symmetric = true;
	n.s[1].sym = sa("198.51.100.2:43210");
	t0 = n.now;
	net_candidates(&n, true);
	net_run(&n, t0 + 3 * SEC);
	selected(&n, 0, &a);
	selected(&n, 1, &b);
	ck_assert_int_eq(a.local_type, ICE_HOST);
	ck_assert_int_eq(a.remote_type, ICE_PRFLX);
	ck_assert(is(&a.remote, &n.s[1].sym));
	ck_assert(pair_direct(&b));
	ck_assert_int_eq(ice_agent_state(n.s[1].ag), ICE_STATE_CONNECTED);
	net_free(&n);
}
END_TEST

static unsigned
sent_to(struct ice_agent *ag, const char *dst, unsigned *total)
{
	union fz_sockaddr d = sa(dst);
	struct ice_transmit t;
	unsigned k = 0;

	*total = 0;
	while (ice_agent_poll_transmit(ag, &t)) {
		(*total)++;
		if (is(&t.dst, &d))
			k++;
	}
	return k;
}

static struct ice_candidate
parsed(const char *str)
{
	struct ice_candidate c;

	ck_assert_int_eq(ice_cand_parse(str, strlen(str), &c), 0);
	return c;
}

START_TEST(test_optimistic)
{
	struct ice_config c = {
		.role = ICE_CONTROLLING,
		.local_ufrag = "aaaa", .local_pwd = "apasswordapassword1234",
		.remote_ufrag = "bbbb", .remote_pwd = "bpasswordbpassword1234",
	};
	struct ice_agent *ag;
	struct ice_candidate lc, rc;
	union fz_sockaddr a;
	unsigned total;

	ck_assert_int_eq(ice_agent_new(&c, 0, &ag), 0);
	a = sa("10.0.0.1:1000");
	lc = cand(ICE_HOST, &a, SOCK_HOST);
	ck_assert_int_eq(ice_agent_add_local_candidate(ag, &lc, 0), 0);
	rc = parsed("candidate:1 1 udp 2130706431 "
	    "10.1.0.1 52625 typ host");
	ck_assert_int_eq(ice_agent_add_remote_candidate(ag, &rc, 0), 0);
	rc = parsed("candidate:2 1 udp 2130706175 "
	    "10.1.0.2 52626 typ host");
	ck_assert_int_eq(ice_agent_add_remote_candidate(ag, &rc, 0), 0);
	rc = parsed("candidate:3 1 udp 2130705919 "
	    "10.1.0.3 52627 typ host");
	ck_assert_int_eq(ice_agent_add_remote_candidate(ag, &rc, 0), 0);
	rc = parsed("candidate:4 1 udp 1694498815 "
	    "198.51.100.2 41000 typ srflx");
	ck_assert_int_eq(ice_agent_add_remote_candidate(ag, &rc, 0), 0);
	ice_agent_tick(ag, 0);
	/* srflx IP with the host ports, at most two of them (§2.3). */
	ck_assert_uint_eq(sent_to(ag, "198.51.100.2:52625", &total), 1);
	ck_assert_uint_eq(total, 4 + 2);
	ice_agent_free(ag);

	c.no_optimistic = true;
	ck_assert_int_eq(ice_agent_new(&c, 0, &ag), 0);
	ck_assert_int_eq(ice_agent_add_local_candidate(ag, &lc, 0), 0);
	ck_assert_int_eq(ice_agent_add_remote_candidate(ag, &rc, 0), 0);
	ice_agent_tick(ag, 0);
	ck_assert_uint_eq(sent_to(ag, "198.51.100.2:41000", &total), 1);
	ck_assert_uint_eq(total, 1);
	ice_agent_free(ag);
}
END_TEST

START_TEST(test_pacing_and_families)
{
	struct ice_config c = {
		.role = ICE_CONTROLLING, .ta_ns = 50 * MS,
		.local_ufrag = "aaaa", .local_pwd = "apasswordapassword1234",
		.remote_ufrag = "bbbb", .remote_pwd = "bpasswordbpassword1234",
		.no_optimistic = true,
	};
	static const char *const remotes[] = {
		"candidate:1 1 udp 2130706431 192.0.2.1 1 typ host",
		"candidate:2 1 udp 2130706430 192.0.2.2 2 typ host",
		"candidate:3 1 udp 2130706429 2001:db8::3 3 typ host",
	};
	struct ice_agent *ag;
	struct ice_candidate lc, rc;
	union fz_sockaddr a = sa("10.0.0.1:1000");
	unsigned k, total;

	ck_assert_int_eq(ice_agent_new(&c, 0, &ag), 0);
	lc = cand(ICE_HOST, &a, SOCK_HOST);
	ck_assert_int_eq(ice_agent_add_local_candidate(ag, &lc, 0), 0);
	for (k = 0; k < 3; k++) {
		ck_assert_int_eq(ice_cand_parse(remotes[k], strlen(remotes[k]),
		    &rc), 0);
		ck_assert_int_eq(ice_agent_add_remote_candidate(ag, &rc, 0),
		    0);
	}
	/* One check per Ta, highest priority first; IPv6 never paired
	 * with an IPv4 local candidate. */
	ice_agent_tick(ag, 0);
	ck_assert_uint_eq(sent_to(ag, "192.0.2.1:1", &total), 1);
	ck_assert_uint_eq(total, 1);
	ck_assert_uint_eq(ice_agent_deadline(ag), 50 * MS);
	ice_agent_tick(ag, 50 * MS);
	ck_assert_uint_eq(sent_to(ag, "192.0.2.2:2", &total), 1);
	ck_assert_uint_eq(total, 1);
	ice_agent_tick(ag, 100 * MS);
	ck_assert_uint_eq(sent_to(ag, "192.0.2.2:2", &total), 0);
	ck_assert_uint_eq(total, 0);
	ice_agent_free(ag);
}
END_TEST

/* ---- candidate strings ---- */

static const char *const good[] = {
	"candidate:7854631899965427361 1 udp 1694498559 172.28.0.100 47717 typ srflx",
	"candidate:7031633958891736544 1 udp 50331391 35.244.108.190 53909 typ relay",
	"candidate:1 1 udp 2130706431 10.0.0.1 52625 typ host",
	"candidate:abc+/ 1 udp 1 2001:db8::1 1 typ prflx",
	"candidate:9 1 udp 1694498815 198.51.100.1 40000 typ srflx raddr 10.0.0.1 rport 52625",
	"candidate:9 1 udp 16777215 2001:db8::7 65535 typ relay raddr 2001:db8::8 rport 9",
};

START_TEST(test_cand_roundtrip)
{
	char out[ICE_CAND_MAXLEN];
	struct ice_candidate c;
	unsigned i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(ice_cand_parse(good[i], strlen(good[i]), &c) == 0,
		    "%s", good[i]);
		ck_assert_int_eq(ice_cand_fmt(&c, out, sizeof(out)), 0);
		ck_assert_str_eq(out, good[i]);
	}
	ck_assert_int_eq(ice_cand_parse(good[0], strlen(good[0]), &c), 0);
	ck_assert_int_eq(c.type, ICE_SRFLX);
	ck_assert_uint_eq(c.priority, 1694498559u);
	ck_assert_str_eq(c.foundation, "7854631899965427361");
	ck_assert_uint_eq(addr_port(&c.addr.sa), 47717);
	ck_assert_int_eq(ice_cand_fmt(&c, out, 20), -ENOBUFS);
}
END_TEST

START_TEST(test_cand_extensions)
{
	static const char s[] = "a=candidate:1 1 UDP 2130706431 10.0.0.1 9 "
	    "typ host generation 0 ufrag abcd network-cost 10";
	char out[ICE_CAND_MAXLEN];
	struct ice_candidate c;

	/* "network-cost" has a '-', not an ice-char: rejected. */
	ck_assert_int_eq(ice_cand_parse(s, strlen(s), &c), -EINVAL);
	ck_assert_int_eq(ice_cand_parse(s, strlen(s) - 16, &c), 0);
	ck_assert_int_eq(ice_cand_fmt(&c, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "candidate:1 1 udp 2130706431 10.0.0.1 9 typ host");
}
END_TEST

static const char *const bad[] = {
	"",
	"candidate:",
	"candidate: 1 udp 1 10.0.0.1 9 typ host",
	"candidate:1 2 udp 1 10.0.0.1 9 typ host",		/* component */
	"candidate:1 1 tcp 1 10.0.0.1 9 typ host",
	"candidate:1 1 udp 0 10.0.0.1 9 typ host",		/* priority 0 */
	"candidate:1 1 udp 4294967296 10.0.0.1 9 typ host",
	"candidate:1 1 udp -1 10.0.0.1 9 typ host",
	"candidate:1 1 udp +1 10.0.0.1 9 typ host",
	"candidate:1 1 udp 01 10.0.0.1 9 typ host",
	"candidate:1 1 udp 1 10.0.0.1 0 typ host",		/* port 0 */
	"candidate:1 1 udp 1 10.0.0.1 65536 typ host",
	"candidate:1 1 udp 1 host.local 9 typ host",		/* mDNS */
	"candidate:1 1 udp 1 [2001:db8::1] 9 typ host",
	"candidate:1 1 udp 1 fe80::1%eth0 9 typ host",
	"candidate:1 1 udp 1 10.0.0.1 9 typ bogus",
	"candidate:1 1 udp 1 10.0.0.1 9 type host",
	"candidate:1 1 udp 1 10.0.0.1 9 typ host raddr 10.0.0.2 rport 9",
	"candidate:1 1 udp 1 10.0.0.1 9 typ srflx raddr 10.0.0.2",
	"candidate:1 1 udp 1 10.0.0.1 9 typ srflx rport 9 raddr 10.0.0.2",
	"candidate:1 1 udp 1 10.0.0.1 9 typ srflx raddr 10.0.0.2 rport 9 raddr 10.0.0.2 rport 9",
	"candidate:1 1 udp 1 10.0.0.1 9 typ host generation",
	"candidate:1 1 udp 1 10.0.0.1 9 typ host ",
	"candidate:1 1 udp 1 10.0.0.1 9  typ host",
	"candidate:1 1 udp 1 10.0.0.1 9 typ host\r\n",
	"candidate:1\t1 udp 1 10.0.0.1 9 typ host",
	"candidate:123456789012345678901234567890123 1 udp 1 10.0.0.1 9 typ host",
	"candidate:1-2 1 udp 1 10.0.0.1 9 typ host",
	"xcandidate:1 1 udp 1 10.0.0.1 9 typ host",
};

START_TEST(test_cand_garbage)
{
	struct ice_candidate c;
	unsigned i;
	char big[600];

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ice_cand_parse(bad[i], strlen(bad[i]), &c) ==
		    -EINVAL, "accepted: %s", bad[i]);
	/* An embedded NUL, and an overlong string. */
	ck_assert_int_eq(ice_cand_parse("candidate:1 1 udp 1 10.0.0.1 9 typ "
	    "host\0x", 41, &c), -EINVAL);
	memset(big, 'a', sizeof(big));
	memcpy(big, "candidate:1 1 udp 1 10.0.0.1 9 typ host x ", 42);
	ck_assert_int_eq(ice_cand_parse(big, sizeof(big), &c), -EINVAL);
}
END_TEST

START_TEST(test_cand_truncation)
{
	char out[ICE_CAND_MAXLEN];
	struct ice_candidate c;
	unsigned i;
	size_t k;

	/* Every prefix either fails or is itself a candidate that formats
	 * back to exactly that prefix (e.g. a shorter port). */
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		for (k = 0; k < strlen(good[i]); k++) {
			if (ice_cand_parse(good[i], k, &c) != 0)
				continue;
			ck_assert_int_eq(ice_cand_fmt(&c, out, sizeof(out)), 0);
			ck_assert_uint_eq(strlen(out), k);
			ck_assert_int_eq(memcmp(out, good[i], k), 0);
		}
}
END_TEST

static Suite *
ice_suite(void)
{
	Suite *s = suite_create("ice");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_timing_figures);
	tcase_add_test(tc, test_priorities);
	tcase_add_test(tc, test_cand_roundtrip);
	tcase_add_test(tc, test_cand_extensions);
	tcase_add_test(tc, test_cand_garbage);
	tcase_add_test(tc, test_cand_truncation);
	tcase_add_test(tc, test_bad_config);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_not_ours);
	tcase_add_test(tc, test_direct);
	tcase_add_test(tc, test_relay_then_upgrade);
	tcase_add_test(tc, test_upgrade_late);
	tcase_add_test(tc, test_retry_failed_direct);
	tcase_add_test(tc, test_remove_candidate);
	tcase_add_test(tc, test_role_conflict);
	tcase_add_test(tc, test_role_conflict_controlled);
	tcase_add_test(tc, test_wrong_password);
	tcase_add_test(tc, test_consent_loss);
	tcase_add_test(tc, test_idle_profile);
	tcase_add_test(tc, test_no_candidates);
	tcase_add_test(tc, test_symmetric_nat_prflx);
	tcase_add_test(tc, test_optimistic);
	tcase_add_test(tc, test_pacing_and_families);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ice_suite)
