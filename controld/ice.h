/* SPDX-License-Identifier: ISC */
/*
 * A sans-I/O ICE agent: RFC 8445 full ICE with trickle (RFC 8838), one
 * component, UDP, as Firezone's str0m-derived agent behaves
 * (firezone-protocols.md section 2.3).
 *
 * Why hand-written: libnice and libjuice own their sockets, but fz's UDP
 * sockets belong to the privileged fz-tunneld and the data path never goes
 * through the unprivileged fz-controld.  So controld's ICE is a state
 * machine fed with datagrams over IPC: datagrams and time in; datagrams to
 * send, a deadline and events out.  Nothing here does I/O or reads a clock.
 *
 * The agent owns its candidates, pairs and queues (bounded: ICE_MAX_*); the
 * caller owns every buffer it passes in, which is borrowed for the call.
 * Passwords are kept in the agent and never logged or put in events.
 */
#ifndef FZ_ICE_H
#define FZ_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "buf.h"

#define ICE_MAX_LOCAL		8	/* local candidates */
#define ICE_MAX_REMOTE		16	/* remote candidates, prflx included */
#define ICE_MAX_PAIRS		(ICE_MAX_LOCAL * ICE_MAX_REMOTE)
#define ICE_MAX_UFRAG		64	/* RFC 8839: 4..256 chars; we cap */
#define ICE_MAX_PWD		128	/* RFC 8839: 22..256 chars; we cap */
#define ICE_MAX_FOUNDATION	32	/* RFC 8839 */
#define ICE_CAND_MAXLEN		256	/* a candidate string we accept */
#define ICE_MAX_STUN		512	/* the largest check we build */
#define ICE_MAX_TX		32	/* queued transmits */
#define ICE_MAX_EVENTS		32	/* queued events */

enum ice_role {
	ICE_CONTROLLING,	/* the Client */
	ICE_CONTROLLED,		/* the Gateway */
};

enum ice_cand_type {
	ICE_HOST,
	ICE_SRFLX,
	ICE_PRFLX,
	ICE_RELAY,
};

/*
 * A candidate.  For a local candidate, sock names the socket (host,
 * srflx) or the TURN allocation (relay) it sends and receives through;
 * the caller picks the numbers.  raddr is the SDP related address
 * (a srflx candidate's base; optional on the wire).
 */
struct ice_candidate {
	enum ice_cand_type	 type;
	union fz_sockaddr	 addr;
	union fz_sockaddr	 raddr;
	bool			 has_raddr;
	uint32_t		 priority;	/* 0: computed by the agent */
	char			 foundation[ICE_MAX_FOUNDATION + 1]; /* "" ok */
	uint32_t		 sock;		/* local only */
};

/*
 * Parses Firezone's SDP candidate form (with or without a leading "a="):
 * "candidate:<foundation> 1 udp <prio> <ip> <port> typ host|srflx|prflx|
 * relay [raddr <ip> rport <port>] [<ext-name> <ext-value>]...".  Strict:
 * component 1, UDP, IP literals only, single spaces, at most
 * ICE_CAND_MAXLEN bytes.  -EINVAL on anything else; out written only on
 * success.
 */
int	ice_cand_parse(const char *, size_t len, struct ice_candidate *) FZ_WUR;
/* Formats the same form; -ENOBUFS if cap is too small. */
int	ice_cand_fmt(const struct ice_candidate *, char *, size_t cap) FZ_WUR;
/* RFC 8445 section 5.1.2.1, component 1. */
uint32_t ice_cand_priority(enum ice_cand_type, uint16_t local_pref);
const char *ice_cand_type_name(enum ice_cand_type);

/* Retransmission profile (str0m's "max retransmits, initial/max RTO"). */
struct ice_timing {
	unsigned	 max_retransmits;
	uint64_t	 rto_initial_ns;
	uint64_t	 rto_max_ns;
};
/*
 * The time a check or a consent stays unanswered before its pair fails:
 * sum over k = 1..max_retransmits of min(rto_initial * 2^k, rto_max).  This
 * gives section 2.3's figures: 16.5 s (client), 615.5 s (gateway), 100 s
 * and 1000 s idle.
 */
uint64_t ice_timing_timeout(const struct ice_timing *);

struct ice_config {
	enum ice_role	 role;
	uint64_t	 tie_breaker;	/* 0: random */
	const char	*local_ufrag, *local_pwd;
	const char	*remote_ufrag, *remote_pwd;
	uint64_t	 ta_ns;		/* pacing; Firezone uses 0 */
	/* Zeroed: section 2.3's profiles for the role. */
	struct ice_timing active, idle;
	bool		 no_optimistic;	/* no §2.3 optimistic srflx */
};

enum ice_state {
	ICE_STATE_CHECKING,
	ICE_STATE_CONNECTED,
	ICE_STATE_DISCONNECTED,	/* no valid pair; fails after 2 s */
	ICE_STATE_FAILED,	/* terminal */
};

enum ice_pair_state {
	ICE_PAIR_FROZEN,
	ICE_PAIR_WAITING,
	ICE_PAIR_IN_PROGRESS,
	ICE_PAIR_SUCCEEDED,
	ICE_PAIR_FAILED,
};

struct ice_pair_info {
	enum ice_cand_type	 local_type, remote_type;
	uint32_t		 sock;		/* socket or allocation */
	union fz_sockaddr	 local;		/* host or relayed address */
	union fz_sockaddr	 remote;
	uint64_t		 priority;
	enum ice_pair_state	 state;
	bool			 nominated;
	uint64_t		 rtt_ns;	/* 0 until measured */
};

enum ice_event_type {
	ICE_EV_STATE,		/* state */
	ICE_EV_SELECTED,	/* pair: the path to send on now */
	ICE_EV_PAIR,		/* pair, old_pair_state: for logs */
	ICE_EV_ROLE,		/* role: after a role conflict */
};

struct ice_event {
	enum ice_event_type	 type;
	enum ice_state		 state;
	enum ice_role		 role;
	struct ice_pair_info	 pair;
	enum ice_pair_state	 old_pair_state;
};

/*
 * A datagram to send.  via_relay: sock is a TURN allocation and dst the
 * peer (the caller wraps it in ChannelData or a Send indication); else
 * sock is a UDP socket and src the local address to send from.
 */
struct ice_transmit {
	uint32_t		 sock;
	bool			 via_relay;
	union fz_sockaddr	 src;
	union fz_sockaddr	 dst;
	size_t			 len;
	uint8_t			 buf[ICE_MAX_STUN];
};

struct ice_agent;

/* -EINVAL for missing or oversized credentials; -ENOMEM. */
int	ice_agent_new(const struct ice_config *, uint64_t now,
	    struct ice_agent **) FZ_WUR;
void	ice_agent_free(struct ice_agent *);

/*
 * Candidates.  Local srflx candidates are kept for signalling but not
 * paired (their base, the host candidate, is: RFC 8445 section 6.1.2.4).
 * Adding a known candidate again is a no-op (0).  -ENOSPC when full,
 * -EINVAL for a bad one.  Removal drops the candidate and its pairs
 * (-ENOENT if unknown), re-selecting if the selected pair went away.
 */
int	ice_agent_add_local_candidate(struct ice_agent *,
	    const struct ice_candidate *, uint64_t now) FZ_WUR;
int	ice_agent_add_remote_candidate(struct ice_agent *,
	    const struct ice_candidate *, uint64_t now) FZ_WUR;
int	ice_agent_remove_local_candidate(struct ice_agent *,
	    enum ice_cand_type, const struct sockaddr *, uint64_t now) FZ_WUR;
int	ice_agent_remove_remote_candidate(struct ice_agent *,
	    enum ice_cand_type, const struct sockaddr *, uint64_t now) FZ_WUR;
/* The local candidates to signal, highest priority first; returns count. */
unsigned ice_agent_local_candidates(const struct ice_agent *,
	    struct ice_candidate *, unsigned cap);

/*
 * A datagram that arrived on sock (a socket, or an allocation for data
 * relayed to our relayed address) from `from`; local is the address it
 * arrived at (IP_PKTINFO) or NULL.  Returns true if it was ICE STUN for
 * this agent (a Binding request for our ufrag, or a response to one of our
 * transactions), consumed even if it was then dropped (bad integrity);
 * false if the caller should try elsewhere.
 */
bool	ice_agent_recv(struct ice_agent *, uint32_t sock,
	    const struct sockaddr *local, const struct sockaddr *from,
	    const uint8_t *, size_t, uint64_t now);
/* IP traffic seen on the connection: keeps the active profile (§2.3). */
void	ice_agent_traffic(struct ice_agent *, uint64_t now);
void	ice_agent_tick(struct ice_agent *, uint64_t now);
/* When tick must next run; UINT64_MAX if never. */
uint64_t ice_agent_deadline(const struct ice_agent *);
/* Pop one queued output; false when empty. */
bool	ice_agent_poll_transmit(struct ice_agent *, struct ice_transmit *);
bool	ice_agent_poll_event(struct ice_agent *, struct ice_event *);

enum ice_state ice_agent_state(const struct ice_agent *);
enum ice_role ice_agent_role(const struct ice_agent *);
/* The selected pair; -ENOENT if none. */
int	ice_agent_selected(const struct ice_agent *,
	    struct ice_pair_info *) FZ_WUR;
/*
 * Controlled, nothing selected yet: the pair the peer nominated while our
 * own check on it is in flight (it is selected once that check succeeds);
 * -ENOENT if none.  Its answer lets the peer use the pair at once.
 */
int	ice_agent_peer_nominated(const struct ice_agent *,
	    struct ice_pair_info *) FZ_WUR;
/* Counters for tests and status. */
struct ice_stats {
	uint64_t	 checks_sent, checks_recv, responses_recv;
	uint64_t	 bad_integrity, role_conflicts, tx_dropped, ev_dropped;
};
void	ice_agent_stats(const struct ice_agent *, struct ice_stats *);

/*
 * The local ufrag a Binding request is addressed to (USERNAME
 * "<local>:<remote>"), for demultiplexing to an agent (section 2.3);
 * -EINVAL if bytes are not a Binding request with a USERNAME.
 */
int	ice_stun_request_ufrag(const uint8_t *, size_t, char *,
	    size_t cap) FZ_WUR;

const char *ice_state_name(enum ice_state);
const char *ice_pair_state_name(enum ice_pair_state);

#endif
