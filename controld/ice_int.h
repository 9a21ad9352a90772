/* SPDX-License-Identifier: ISC */
/*
 * controld/ice internals shared by ice.c (the agent: candidates, pairs,
 * selection, outputs) and ice_check.c (connectivity checks: building,
 * answering and timing them).  Not for other modules.
 */
#ifndef FZ_ICE_INT_H
#define FZ_ICE_INT_H

#include "ice.h"

#define IDLE_AFTER_NS		(20 * NSEC_PER_SEC_)
#define NO_CANDIDATE_NS		(10 * NSEC_PER_SEC_)
#define DISCONNECTED_FAIL_NS	(2 * NSEC_PER_SEC_)
#define NSEC_PER_SEC_		1000000000ULL
#define NSEC_PER_MSEC_		1000000ULL
#define MAX_OPTIMISTIC		2
/*
 * While the selected pair is relayed and traffic flows, a failed direct
 * pair is checked again RETRY_MIN_NS after it failed, doubling to
 * RETRY_MAX_NS: a NAT that changed its mapping (or a path that came back)
 * filters the peer's checks until we send one, and RFC 8445 would leave
 * such a pair failed for the session.
 */
#define RETRY_MIN_NS		(2 * NSEC_PER_SEC_)
#define RETRY_MAX_NS		(30 * NSEC_PER_SEC_)

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
	uint64_t		 retry_at;	/* failed: checked again then */
	uint8_t			 retries;	/* since it last succeeded */
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
	uint64_t		 active_timeout, idle_timeout; /* of each */
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
	unsigned		 npairs;	/* slots past it were never
						   used: loops stop there */
	uint8_t			 trig[ICE_MAX_PAIRS];
	unsigned		 ntrig;

	struct ice_transmit	 txq[ICE_MAX_TX];
	unsigned		 tx_head, tx_n;
	struct ice_event	 evq[ICE_MAX_EVENTS];
	unsigned		 ev_head, ev_n;
	struct ice_stats	 stats;
};

/* ice.c */
uint64_t ice_rto(const struct ice_timing *, unsigned k);
const struct ice_timing *ice_profile(const struct ice_agent *, uint64_t now);
/* ice_timing_timeout of a profile of the agent's, computed once. */
uint64_t ice_profile_timeout(const struct ice_agent *,
	    const struct ice_timing *);
void	ice_emit(struct ice_agent *, const struct ice_event *);
/* A queue slot to fill and commit with tx_n++, or NULL (counted). */
struct ice_transmit *ice_tx_slot(struct ice_agent *);
void	ice_set_state(struct ice_agent *, enum ice_state, uint64_t now);
void	ice_pair_info(const struct ice_agent *, int, struct ice_pair_info *);
void	ice_random(void *, size_t);
uint64_t ice_pair_prio(const struct ice_agent *, uint32_t local_prio,
	    uint32_t remote_prio);
bool	ice_same_foundation(const struct ice_agent *, const struct pair *,
	    const struct pair *);
void	ice_set_pair_state(struct ice_agent *, int, enum ice_pair_state);
void	ice_unqueue(struct ice_agent *, int);
void	ice_enqueue_triggered(struct ice_agent *, int);
bool	ice_pairable(const struct ice_candidate *);
/* The pair of local l and remote r, made if new; -1 if they cannot pair. */
int	ice_make_pair(struct ice_agent *, int l, int r);
void	ice_fill_foundation(struct ice_candidate *);
/* The remote candidate's index (added or known), or -ENOSPC. */
int	ice_add_remote(struct ice_agent *, const struct ice_candidate *,
	    bool optimistic);
bool	ice_pair_valid(const struct pair *);
void	ice_select_pair(struct ice_agent *, int, uint64_t now);
void	ice_update_selection(struct ice_agent *, uint64_t now);
void	ice_fail_pair(struct ice_agent *, int, uint64_t now);

#endif
