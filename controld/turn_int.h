/* SPDX-License-Identifier: ISC */
/*
 * What turn_client.c (transactions, credentials, the allocation, Binding)
 * and turn_peers.c (permissions and channels) share; nothing else includes
 * it.
 */
#ifndef FZ_TURN_INT_H
#define FZ_TURN_INT_H

#include "fztime.h"
#include "stun.h"
#include "turn_client.h"

#define MS(x)		((uint64_t)(x) * NSEC_PER_MSEC)
#define SEC(x)		((uint64_t)(x) * NSEC_PER_SEC)
#define MSG_MAX		1024	/* fits every request with TURN_TEXT_MAX texts */
#define SOFTWARE_MAX	64
#define RTO_CAP		MS(3000)
#define LIFETIME_MAX	86400u	/* more is taken as this */
#define CHANNELS_MAX	(TURN_CHANNEL_LAST - TURN_CHANNEL_FIRST + 1)
#define PERMISSIONS_MAX	1024
#define UDP_PROTO	17

enum txn_kind {
	TX_NONE,
	TX_ALLOCATE,
	TX_REFRESH,
	TX_DELETE,		/* Refresh LIFETIME 0 */
	TX_BINDING,
	TX_PERMISSION,
	TX_CHANNEL,
};

struct txn {
	uint8_t		 kind;		/* enum txn_kind; TX_NONE when idle */
	bool		 authed;	/* carried MESSAGE-INTEGRITY */
	bool		 want_tx;	/* a send is due (poll_transmit) */
	uint8_t		 ntx;		/* sends so far */
	uint8_t		 nstale;	/* 438s answered */
	uint8_t		 tid[12];
	uint8_t		*msg;
	size_t		 len;
	uint64_t	 first_at;	/* first send of this transaction */
	uint64_t	 last_at;	/* latest send */
	uint64_t	 next_at;	/* next retransmission, or giving up */
	uint64_t	 rto0, rto;	/* initial and current interval */
};

enum entry_state {
	E_FREE,
	E_WAIT,			/* for the allocation */
	E_PENDING,		/* first request in flight */
	E_ACTIVE,		/* confirmed (a refresh may be in flight) */
	E_COOLDOWN,		/* channels: number reserved, unusable */
};

struct perm {
	uint8_t		 st;
	union fz_sockaddr peer;
	uint64_t	 refresh_at, expires_at;
	struct txn	 tx;
};

struct chan {
	uint8_t		 st;
	uint16_t	 number;
	union fz_sockaddr peer;
	uint64_t	 rebind_at, expires_at, free_at;
	uint64_t	 last_sent;	/* latest ChannelBind of any transaction */
	struct txn	 tx;
};

struct turn_client {
	union fz_sockaddr server;
	char		 username[TURN_TEXT_MAX + 1];
	char		 password[TURN_TEXT_MAX + 1];
	char		 expect_realm[TURN_TEXT_MAX + 1];	/* "" for any */
	char		 software[SOFTWARE_MAX + 1];
	enum turn_family family;
	uint32_t	 lifetime_s;
	uint64_t	 keepalive, rto_min;
	unsigned	 max_tx, rm;
	turn_rng_fn	 rng;
	void		*rng_ctx;

	/* long-term credential state (RFC 8489 section 9.2) */
	bool		 have_auth;	/* realm and nonce learnt */
	char		 realm[TURN_TEXT_MAX + 1];
	char		 nonce[TURN_TEXT_MAX + 1];
	uint8_t		 key[16];

	enum turn_state	 state;
	enum turn_family try_family;	/* the variant being asked for */
	bool		 tried_plain;	/* 400 to the dual request seen */
	bool		 tried_delete;	/* 437 answered once */
	struct txn	 atx;		/* Allocate, Refresh, delete */
	union fz_sockaddr relayed[2];
	unsigned	 nrelayed;
	uint64_t	 refresh_at, expires_at;

	struct txn	 btx;		/* Binding */
	union fz_sockaddr mapped;	/* from the latest Binding */
	uint64_t	 keepalive_at;

	bool		 have_rtt;
	uint64_t	 srtt, rttvar, rto;

	struct perm	*perms;
	unsigned	 nperms;
	struct chan	*chans;
	unsigned	 nchans;
	uint16_t	 next_channel;

	struct turn_event *evq;
	unsigned	 evcap, evhead, evlen, evdropped;

	uint8_t		 scratch[MSG_MAX];
};

/* turn_client.c */
uint64_t turn_min_deadline(uint64_t, uint64_t);
bool	turn_same_ip(const struct sockaddr *, const struct sockaddr *);
void	turn_copy_addr(union fz_sockaddr *, const struct sockaddr *);
bool	turn_has_family(const struct turn_client *, int);
void	turn_emit_peer(struct turn_client *, enum turn_event_type,
	    const union fz_sockaddr *, uint16_t, enum turn_reason, int);
void	turn_txn_clear(struct txn *);
int	turn_txn_send(struct turn_client *, struct txn *, uint8_t kind,
	    uint64_t now, const struct sockaddr *peer, uint16_t channel) FZ_WUR;
bool	turn_txn_tick(struct turn_client *, struct txn *, uint64_t);
bool	turn_txn_due(const struct txn *, uint64_t *);
enum turn_reason turn_challenge(struct turn_client *, struct txn *,
	    const struct stun_msg *, int code);

/* turn_peers.c */
void	turn_entries_clear(struct turn_client *);
void	turn_entries_start(struct turn_client *, uint64_t);
void	turn_perm_response(struct turn_client *, struct perm *,
	    const struct stun_msg *, int code, uint64_t);
void	turn_chan_response(struct turn_client *, struct chan *,
	    const struct stun_msg *, int code, uint64_t);
int	turn_input_channeldata(struct turn_client *, const uint8_t *, size_t,
	    struct turn_data *);
int	turn_input_data_indication(struct turn_client *,
	    const struct stun_msg *, struct turn_data *);
void	turn_peers_timeout(struct turn_client *, uint64_t);
void	turn_peers_deadline(const struct turn_client *, uint64_t *);

#endif
