/* SPDX-License-Identifier: ISC */
/*
 * Service mode's private header: the one struct svc that its parts share.
 * All of it runs in fz-tunneld, one thread (the data-plane workers aside):
 *   service.c    bring-up (settings, TUN + data plane, capability drop,
 *                seccomp, sd_notify, signals) and teardown; svc_*
 *   frontend.c   the front-end socket and its FRONT dispatch table;
 *                frontend_*
 *   supervise.c  fz-controld: spawn, output, restarts, violations, the
 *                CONTROL and DGRAM dispatch tables; supervise_*
 *   policy.c     the pure decisions: state names, front-end admission,
 *                restart backoff; svc_*
 * struct svc is owned by service_run; the others borrow it.
 */
#ifndef FZ_SVC_H
#define FZ_SVC_H

#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "gwnat.h"
#include "ipc.h"
#include "log.h"
#include "settings.h"
#include "tunneld.h"
#include "wg.h"

#define CLIENT_GROUP		"fz-client"
#define MAX_FRONTENDS		64
#define FE_ROOT_RESERVED	8	/* of those, only root may take */
#define FE_MAX_PER_UID		16	/* per non-root uid */
#define FE_HELLO_TIMEOUT_S	5
#define CHILD_LINE_MAX		1024	/* longer lines are cut */
#define CHILD_LINES_PER_S	200
#define BACKOFF_MIN_MS		500	/* between fz-controld starts */
#define BACKOFF_MAX_MS		30000
#define STABLE_MS		30000	/* up this long: backoff resets */

struct event;
struct event_base;

/*
 * The tunnel's state as front ends and systemd see it.  Strings exist only
 * at the wire boundary, through svc_state_name / svc_state_parse.
 */
enum svc_state {
	SVC_STARTING,		/* until the first fz-controld runs */
	SVC_SIGNED_OUT,		/* no token: waiting for a sign-in */
	SVC_CONNECTING,		/* signing in to the portal */
	SVC_ONLINE,		/* signed in (reported by fz-controld) */
	SVC_RESTARTING,		/* fz-controld exited or could not start */
	SVC_RECONNECTING,	/* was online; the portal connection is down */
	SVC_STATE_COUNT
};

/*
 * fz-controld's lifetime, as its supervisor sees it.  cpid is the child's
 * pid whenever one exists (RUNNING, FAILED, KILLED; STOPPED until reaped).
 */
enum sup_state {
	SUP_DOWN,		/* none: not started yet, or restart_ev pending */
	SUP_RUNNING,		/* exec'd; its IPC connections are up */
	SUP_FAILED,		/* never became fz-controld; SIGCHLD reaps it */
	SUP_KILLED,		/* SIGKILLed (violation, IPC setup); ditto */
	SUP_STOPPED,		/* the service is stopping: no more starts */
};

struct frontend {
	struct svc		*svc;
	struct ipc_conn		*conn;
	struct event		*hello_ev;	/* the HELLO deadline */
	uid_t			 uid;
	pid_t			 pid;
	bool			 subscribed;
	bool			 used;
	bool			 refused;	/* answered, never served */
};

/* A copy of the last RESOURCES from fz-controld, lists in its arena. */
struct resources {
	struct ipc_msg		 m;		/* type 0 until the first */
	struct ipc_arena	 a;
};

/*
 * The tunnel interface as the portal assigned it (INTERFACE from
 * fz-controld): the addresses configured on the TUN device, and what the
 * DNS control will use.
 */
struct svc_iface {
	bool			 has4, has6;	/* an address is configured */
	struct fz_cidr		 v4, v6;	/* /32 and /128 */
	char			 ipv4[65], ipv6[65];	/* as text, or "" */
	char			 search_domain[257];
	char			 upstream_do53[513];
};

struct svc {
	const struct tunneld_opts *o;
	struct settings		 st;
	struct event_base	*base;
	struct event		*sig_ev[4], *wd_ev;

	/* front ends (frontend.c) */
	int			 listen_fd;
	bool			 socket_created;	/* we unlink it */
	struct event		*accept_ev;
	struct log_ratelimit	 fe_rl;		/* front-end refusals */
	gid_t			 client_gid;
	bool			 have_client_group;
	struct frontend		 fe[MAX_FRONTENDS];

	/* fz-controld (supervise.c) */
	struct passwd		 user;			/* controld's user */
	char			 user_name[64];
	char			 controld_path[4096];
	int			 controld_fd;	/* O_PATH, opened as root */
	struct event		*restart_ev;
	pid_t			 cpid;
	struct ipc_conn		*cconn;
	struct ipc_conn		*dconn;		/* DGRAM channel, fd 4 */
	uint64_t		 dgram_unrouted; /* DGRAM_DOWN with no socket */
	uint64_t		 dgram_sent, dgram_errors;	/* DGRAM_DOWN */
	struct log_ratelimit	 dgram_rl;	/* their errors, logged */
	char			 local_sockets[2049];	/* the last sent */
	uint64_t		 conn_wanted;	/* CONN_WANTED sent */
	unsigned		 restarts;
	unsigned		 backoff_ms;
	uint64_t		 started_ms;
	enum sup_state		 sup;
	/* its stdout and stderr: a pipe whose lines we log for it */
	int			 logfd;
	struct event		*log_ev;
	char			 logbuf[CHILD_LINE_MAX];
	size_t			 loglen;
	bool			 logskip;	/* dropping an overlong line */
	struct log_ratelimit	 log_rl;

	/* state */
	enum svc_state		 state;
	char			 detail[513];
	char			 account[129];
	struct resources	*resources;	/* the last RESOURCES */
	uint32_t		 relays;	/* the last RELAYS: count, */
	char			 relay_ids[4097];	/* "id, id" */
	char			 connections[16385];	/* the last CONNECTIONS */
	struct svc_iface	 iface;
	char			 configured_filter[513];
	uint64_t		 start_s;

	/* data plane */
	struct tun		*tun;
	struct wg_device	*dev;
	struct dp		*dp;
	struct nlconf		*nl;
	struct gwnat		 gw;	/* gateway: forwarding, masquerade */

	int			 status;	/* service_run's exit status */
};

/*
 * peers.c: pure.  A PEER_SET, checked: keys, allowed IPs (at most
 * SVC_PEER_ALLOWED_MAX, strict prefixes), the socket (DP_SOCK_UDP4/6, of
 * the address's family) and the path: direct (remote, no relay, channel
 * 0) or relayed (relay, channel 0x4000..0x4fff, no remote), never both.
 * -EINVAL otherwise (and sp wiped).
 */
#define SVC_PEER_ALLOWED_MAX	512
struct svc_peer_spec {
	uint8_t			 pub[WG_KEY_LEN];
	uint8_t			 psk[WG_KEY_LEN];
	bool			 has_psk;
	struct fz_cidr		 allowed[SVC_PEER_ALLOWED_MAX];
	size_t			 nallowed;
	uint32_t		 sock;
	union fz_sockaddr	 to;		/* the peer, or the relay */
	uint16_t		 channel;	/* 0: direct */
	bool			 initiate;
};
int	svc_peer_parse(const struct ipc_peer_set *, struct svc_peer_spec *)
	    __attribute__((warn_unused_result));
/*
 * CONNECTIONS' list (ipc_msg.def) checked and turned into TUNNEL_STATUS's
 * connections: the keys replaced by the byte counters bytes() reports
 * for them (0 0 for a key it does not know).  -EINVAL for a list that
 * does not parse (a violation), -ENOSPC if out is too small.
 */
typedef void (*svc_peer_bytes_fn)(void *arg, const uint8_t key[WG_KEY_LEN],
    uint64_t *rx, uint64_t *tx);
int	svc_connections_merge(const char *list, svc_peer_bytes_fn bytes,
	    void *arg, char *out, size_t len)
	    __attribute__((warn_unused_result));
/*
 * PEER_STATS' list (ipc_msg.def) for n peers' counters: whole entries as
 * many as fit, -ENOSPC when some did not.
 */
struct svc_peer_count {
	uint8_t		 key[WG_KEY_LEN];
	uint64_t	 rx_bytes, tx_bytes;
};
int	svc_peer_stats_fmt(const struct svc_peer_count *, size_t n, char *,
	    size_t cap) __attribute__((warn_unused_result));
struct ifaddrs;
/* LOCAL_SOCKETS' text for the sockets on port at the host's addresses. */
int	svc_sockets_fmt(const struct ifaddrs *, const char *skip_ifname,
	    bool have4, bool have6, uint16_t port, char *, size_t)
	    __attribute__((warn_unused_result));

/* policy.c: pure */
const char *svc_state_name(enum svc_state);
/* 0, or -EINVAL: not a state name; *out written on success only. */
int	svc_state_parse(const char *, enum svc_state *)
	    __attribute__((warn_unused_result));
/* As svc_state_parse, and -EPERM for a state only tunneld sets. */
int	svc_state_from_controld(const char *, enum svc_state *)
	    __attribute__((warn_unused_result));

/* Who holds the front-end slots, as a new connection from a uid sees it. */
struct svc_fe_census {
	int		 free_slot;	/* the first unused; -1: none */
	unsigned	 same_uid;	/* served (not refused) of that uid */
	unsigned	 nonroot;	/* served of any non-root uid */
};
void	svc_fe_census(const struct frontend *, size_t n, uid_t,
	    struct svc_fe_census *);
/*
 * 0: serve the connection; -EACCES (not root, not in fz-client) or
 * -EUSERS (a cap), with why in msg.  Root is never capped per uid and has
 * FE_ROOT_RESERVED slots to itself.
 */
int	svc_fe_admit(uid_t, bool member, const struct svc_fe_census *,
	    char *msg, size_t msglen) __attribute__((warn_unused_result));
/*
 * fz-controld ran up_ms before it exited: the delay before the next start,
 * BACKOFF_MIN_MS again after a stable run; *backoff_ms doubles (capped at
 * BACKOFF_MAX_MS) for the one after.
 */
unsigned svc_backoff_next(unsigned *backoff_ms, uint64_t up_ms);

/* service.c */
void	svc_set_state(struct svc *, enum svc_state, const char *detail);
/*
 * Configures the TUN device with the portal's addresses (ipv4/32,
 * ipv6/128; the old ones removed) and keeps the DNS settings.  -EINVAL
 * for an address that does not parse (nothing changed).
 */
int	svc_interface_apply(struct svc *, const struct ipc_interface *)
	    __attribute__((warn_unused_result));
/* Signed out: the addresses removed, resources forgotten. */
void	svc_session_clear(struct svc *);

/* frontend.c */
int	frontend_listen(struct svc *) __attribute__((warn_unused_result));
int	frontend_start(struct svc *) __attribute__((warn_unused_result));
void	frontend_broadcast(struct svc *, const char *kind,
	    const char *detail);
void	frontend_stop(struct svc *);
/* The resource list to subscribed front ends, then a "resources" event. */
void	frontend_push_resources(struct svc *);

/* supervise.c */
int	supervise_find(struct svc *) __attribute__((warn_unused_result));
int	supervise_start(struct svc *) __attribute__((warn_unused_result));
void	supervise_reap(struct svc *);
void	supervise_stop(struct svc *);
void	supervise_sign_in(struct svc *);
void	supervise_sign_out(struct svc *);
void	supervise_set_log_filter(struct svc *, const char *);
void	supervise_peers_clear(struct svc *);
void	supervise_local_sockets(struct svc *, bool force);

#endif
