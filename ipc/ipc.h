/* SPDX-License-Identifier: ISC */
/*
 * IPC between fz-tunneld, fz-controld and front ends (fzctl, a GUI).
 *
 * Frames on a Unix stream socket: u32 length (big-endian, at most the
 * largest wire_max of a type the peer may send) | msgpack [type,
 * [fields...]].  The messages, who may send them on which channel in
 * which phase, and their fields are in ipc_msg.def.  Decoding is strict:
 * exact arity, one type per field, length limits, no trailing bytes; it
 * allocates only from a per-message arena.  The first message each way
 * is HELLO with IPC_VERSION.
 */
#ifndef FZ_IPC_H
#define FZ_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define IPC_VERSION		1
#define IPC_MAX_FRAME		(12 * 1024 * 1024)	/* any type's wire_max */
#define IPC_MAX_QUEUE		(2 * 1024 * 1024)	/* unsent bytes */
#define IPC_DGRAM_QUEUE		(256 * 1024)	/* unsent, DGRAM channel */
/* DGRAM sock numbers of the DNS path (ipc_msg.def, DNS_REPLY). */
#define IPC_SOCK_DNS		53	/* queries to sentinels, up */
#define IPC_SOCK_DNS_FWD4	0x3504	/* forwarded to upstreams: IPv4 */
#define IPC_SOCK_DNS_FWD6	0x3506	/* ... IPv6 */
#define IPC_SOCK_DNS_TCP	0x3553	/* queries over TCP to sentinels, up */

/* Roles, as masks for the permission table. */
#define IPC_T	0x1		/* fz-tunneld */
#define IPC_C	0x2		/* fz-controld */
#define IPC_F	0x4		/* a front end */

/* Connection phases, as masks for the catalogue's phases column. */
#define IPC_BOOT	0x1
#define IPC_CONFIGURED	0x2
#define IPC_SIGNED_IN	0x4
#define IPC_ANY		(IPC_BOOT | IPC_CONFIGURED | IPC_SIGNED_IN)

/* Channels: the sections of ipc_msg.def. */
enum ipc_channel {
	IPC_CH_DEFAULT = 0,	/* in a config: from self and peer */
	IPC_CH_CONTROL,		/* fz-tunneld <-> fz-controld */
	IPC_CH_FRONT,		/* fz-tunneld <-> a front end */
	IPC_CH_DGRAM,		/* fz-tunneld <-> fz-controld, datagrams */
	IPC_CH_COUNT
};

#define IPC_ONCE	0x1
#define IPC_FD		0x2
#define IPC_SECRET	0x4

/*
 * A per-message bump allocator: decoded strings and arrays live here
 * until ipc_arena_reset, which frees everything at once (wiping it first
 * when wipe is set) and keeps the first chunk for the next message.
 * Allocation fails past limit bytes handed out (padding included).  A
 * plain struct: put it anywhere.
 */
struct ipc_arena_chunk;
struct ipc_arena {
	struct ipc_arena_chunk	*head;		/* newest first */
	size_t			 total;		/* bytes handed out */
	size_t			 limit;
	bool			 wipe;		/* sodium_memzero on reset */
};

void	ipc_arena_init(struct ipc_arena *, size_t limit);
/* n bytes aligned for any type (align 0) or to align; NULL past the
 * limit or out of memory. */
void	*ipc_arena_alloc(struct ipc_arena *, size_t n, size_t align);
void	ipc_arena_reset(struct ipc_arena *);
/* Frees every chunk (wiping as reset does); the arena can be reused. */
void	ipc_arena_free(struct ipc_arena *);

/*
 * The strings of one resource and their limits in bytes.  sites: the
 * names of the resource's sites, joined by ", " ("" none).
 */
#define IPC_RESOURCE_FIELDS(X)						\
	X(id, 64) X(type, 16) X(address, 256) X(name, 256) X(sites, 256) \
	X(status, 16)

struct ipc_resource {
#define IPC_RES_FIELD(n, max)	const char *n;
	IPC_RESOURCE_FIELDS(IPC_RES_FIELD)
#undef IPC_RES_FIELD
};

struct ipc_resource_list {
	uint32_t			 n;
	const struct ipc_resource	*r;
};

enum ipc_type {
	IPC_TYPE_INVALID = 0,
#define IPC_MSG(N, n, f, fields)	IPC_##N,
#include "ipc_msg.def"
#undef IPC_MSG
	IPC_TYPE_COUNT
};

/*
 * The message structs: text is a NUL-terminated const char * (NULL sends
 * as ""), arrays a pointer and a count.  Decoded, they point into the
 * arena; to send, into whatever the caller keeps alive until ipc_send
 * returns.
 */
#define IPC_U32(n)		uint32_t n;
#define IPC_I32(n)		int32_t n;
#define IPC_U64(n)		uint64_t n;
#define IPC_BOOL(n)		bool n;
#define IPC_STR(n, max)		const char *n;
#define IPC_BIN(n, max)		const uint8_t *n; uint32_t n##_len;
#define IPC_RESOURCES(n, max)	struct ipc_resource_list n;
#define IPC_NONE
#define IPC_MSG(N, n, f, fields)	struct ipc_##n { fields };
#include "ipc_msg.def"
#undef IPC_MSG
#undef IPC_U32
#undef IPC_I32
#undef IPC_U64
#undef IPC_BOOL
#undef IPC_STR
#undef IPC_BIN
#undef IPC_RESOURCES
#undef IPC_NONE

struct ipc_msg {
	enum ipc_type	type;
	int		fd;		/* IPC_FD types: the descriptor, else -1 */
	union {
#define IPC_MSG(N, n, f, fields)	struct ipc_##n n;
#include "ipc_msg.def"
#undef IPC_MSG
	} u;
};

struct ipc_msg_info {
	const char	*name;		/* for logs: "SIGN_IN" */
	unsigned	 flags;		/* IPC_ONCE | IPC_FD | IPC_SECRET */
	unsigned	 arity;
	size_t		 wire_max;	/* the largest payload */
	size_t		 arena_max;	/* the most its decoding allocates */
};

/* The table generated from ipc_msg.def; NULL for an unknown type. */
const struct ipc_msg_info *ipc_msg_info(unsigned type);
const char *ipc_type_name(unsigned type);
const char *ipc_role_name(unsigned role);

/* Zeroes msg and sets its type (fd -1). */
void	ipc_msg_init(struct ipc_msg *, enum ipc_type);

/*
 * Encodes the payload (without the length prefix) into w.  -EINVAL for an
 * unknown type, a string that is too long or not ipc_text_valid, or an
 * array over its limit (the decoder's rules, so what is sent always
 * decodes); w's sticky error on overflow.
 */
int	ipc_msg_encode(const struct ipc_msg *, struct wbuf *)
	    __attribute__((warn_unused_result));
/*
 * Decodes one payload strictly into msg, with its strings and arrays in
 * a (reset first, then limited to the type's arena_max).  -EBADMSG for
 * anything malformed, -ENOMSG for an unknown type, -ENOMEM.  msg->fd is
 * left -1.
 */
int	ipc_msg_decode(const uint8_t *, size_t, struct ipc_msg *,
	    struct ipc_arena *) __attribute__((warn_unused_result));
/* A deep copy of src into dst, its strings and arrays in a (reset). */
int	ipc_msg_clone(const struct ipc_msg *src, struct ipc_msg *dst,
	    struct ipc_arena *) __attribute__((warn_unused_result));

/* Generated per message: the field codecs, used by the two above. */
struct msgpack_packer;
#define IPC_MSG(N, n, f, fields)					\
int ipc_encode_##n(struct msgpack_packer *, const struct ipc_##n *);	\
int ipc_decode_##n(struct rbuf *, struct ipc_##n *, struct ipc_arena *);
#include "ipc_msg.def"
#undef IPC_MSG

/* The roles at the two ends of a channel (IPC_T | IPC_C...), 0 if none. */
unsigned ipc_channel_roles(unsigned chan);
const char *ipc_channel_name(unsigned chan);
/* Unsent bytes a connection on the channel may queue. */
size_t	ipc_channel_queue(unsigned chan);
/* The channel between two roles, for IPC_CH_DEFAULT; 0 if none (DGRAM
 * is never a default). */
unsigned ipc_channel_of(unsigned self, unsigned peer);
/* May role from send this type on the channel (ipc_msg.def's rows)? */
bool	ipc_permitted(unsigned chan, unsigned type, unsigned from);
/* The phases in which the type is permitted on the channel (0: none). */
unsigned ipc_phases(unsigned chan, unsigned type);
const char *ipc_phase_name(unsigned phase);
/* May role from send any IPC_FD type on the channel at all? */
bool	ipc_fds_permitted(unsigned chan, unsigned from);

/*
 * A connection: framing, HELLO, permissions, once-only types, descriptor
 * passing, dispatch through a handler table and a bounded write queue,
 * on a libevent base.
 */
struct event_base;
struct ipc_conn;

/* The message is valid only during the call (its arena is reset after);
 * a received fd is the callee's to keep or close. */
typedef void	ipc_msg_cb(struct ipc_conn *, struct ipc_msg *, void *);

/*
 * One row of a dispatch table: what to call for a received type.  A
 * table ends with a zero row (IPC_HANDLERS_END).
 */
struct ipc_handler {
	enum ipc_type	 type;
	ipc_msg_cb	*fn;
};
#define IPC_HANDLERS_END	{ IPC_TYPE_INVALID, NULL }

/*
 * Checks a dispatch table against the catalogue: exactly one handler for
 * each type that the channel lets the peer of role self send, none for
 * any other (HELLO's is optional).  -EINVAL, with the first mismatch
 * logged.
 */
int	ipc_handlers_check(unsigned chan, unsigned self,
	    const struct ipc_handler *) __attribute__((warn_unused_result));
/*
 * The connection ended: 0 at EOF, -EPROTO for a protocol violation by the
 * peer (malformed, unknown, unpermitted, out of phase), -EMSGSIZE for an
 * oversized frame, -ENOBUFS when the peer does not read, or the errno of a
 * failed read/write.  The callee frees the connection.
 */
typedef void	ipc_close_cb(struct ipc_conn *, int, void *);

struct ipc_conn_config {
	unsigned		 self, peer;	/* IPC_T, IPC_C or IPC_F */
	unsigned		 channel;	/* IPC_CH_DEFAULT: from those */
	const char		*program;	/* for HELLO */
	/* The dispatch table (borrowed for the connection's life). */
	const struct ipc_handler *on_msg;
	ipc_close_cb		*on_close;
	void			*arg;
};

/*
 * Takes ownership of fd (made non-blocking) and sends HELLO.  -EINVAL if
 * the handler table does not match the catalogue (ipc_handlers_check).
 * When the peer may pass no descriptor (ipc_fds_permitted), fd gets
 * SO_PASSRIGHTS 0 where the kernel has it, and a descriptor is a
 * protocol violation.
 */
int	ipc_conn_new(struct event_base *, int fd, const struct ipc_conn_config *,
	    struct ipc_conn **) __attribute__((warn_unused_result));
/*
 * SO_PASSRIGHTS 0 on a Unix socket (inherited by the connections a
 * listener accepts): the kernel refuses descriptors sent to it.  1 when
 * set, 0 when the kernel lacks the option, else -errno.
 */
int	ipc_refuse_fds(int fd) __attribute__((warn_unused_result));
/* Safe to call from inside the connection's own callbacks. */
void	ipc_conn_free(struct ipc_conn *);
/*
 * Queues msg.  For IPC_FD types msg->fd is duplicated (the caller keeps
 * its own).  -EPERM when this end may not send the type, or not in the
 * connection's phase, -ENOBUFS when the queue is full (on DGRAM: the
 * message is dropped and counted), -EPIPE after the connection ended.
 */
int	ipc_send(struct ipc_conn *, const struct ipc_msg *)
	    __attribute__((warn_unused_result));
/*
 * The connection's phase (IPC_BOOT at first): what it may send, and
 * receive.  ipc_conn_leave_phase moves the sending side at once but
 * keeps accepting what the old phase allowed until the next
 * ipc_conn_set_phase: for a change that the peer acknowledges, with
 * messages it sent before it knew still in flight.
 */
void	ipc_conn_set_phase(struct ipc_conn *, unsigned phase);
void	ipc_conn_leave_phase(struct ipc_conn *, unsigned phase);
unsigned ipc_conn_phase(const struct ipc_conn *);
/*
 * A connection's life, one state (in this order: the last three are
 * ended).  HELLO_WAIT -> OPEN when the peer's HELLO arrives; WRITE_SHUT
 * when the peer stops reading (sends fail with -EPIPE, what it sent is
 * still read up to EOF); CLOSING after ipc_conn_close_after_flush
 * (nothing more is read or delivered; the queue drains, then CLOSED);
 * CLOSED or VIOLATED (the peer broke the protocol) once on_close ran;
 * FREED when ipc_conn_free ran inside a callback (destroyed on return).
 */
enum ipc_conn_state {
	IPC_CONN_HELLO_WAIT,
	IPC_CONN_OPEN,
	IPC_CONN_WRITE_SHUT,
	IPC_CONN_CLOSING,
	IPC_CONN_CLOSED,
	IPC_CONN_VIOLATED,
	IPC_CONN_FREED,
};
enum ipc_conn_state ipc_conn_state(const struct ipc_conn *);
const char *ipc_conn_state_name(enum ipc_conn_state);

/* Whether the peer's HELLO has arrived, and what it said. */
bool	ipc_conn_ready(const struct ipc_conn *);
const char *ipc_conn_peer_program(const struct ipc_conn *);
pid_t	ipc_conn_peer_pid(const struct ipc_conn *);
size_t	ipc_conn_queued(const struct ipc_conn *);
/* Messages dropped because the queue was full (the DGRAM channel). */
uint64_t ipc_conn_dropped(const struct ipc_conn *);
int	ipc_conn_fd(const struct ipc_conn *);

/* Ends the connection after the queue drains (for one-shot replies). */
void	ipc_conn_close_after_flush(struct ipc_conn *);

/*
 * Minimal strict msgpack reader (mp.c): every count is checked against the
 * bytes left before anything is read, so a hostile header can never make
 * the decoder allocate or loop.  -EBADMSG on any mismatch.
 */
int	mp_get_array(struct rbuf *, uint32_t *) __attribute__((warn_unused_result));
int	mp_get_uint(struct rbuf *, uint64_t *) __attribute__((warn_unused_result));
int	mp_get_int(struct rbuf *, int64_t *) __attribute__((warn_unused_result));
int	mp_get_bool(struct rbuf *, bool *) __attribute__((warn_unused_result));
int	mp_get_str(struct rbuf *, const char **, uint32_t *)
	    __attribute__((warn_unused_result));
int	mp_get_bin(struct rbuf *, const uint8_t **, uint32_t *)
	    __attribute__((warn_unused_result));
/* A string of at most max bytes, ipc_text_valid, copied NUL-terminated
 * into a. */
int	mp_get_text(struct rbuf *, size_t max, struct ipc_arena *,
	    const char **) __attribute__((warn_unused_result));
bool	utf8_valid(const char *, size_t);
/* Valid UTF-8 without C0 controls, DEL or C1 controls (U+0080-U+009F). */
bool	ipc_text_valid(const char *, size_t);
/* Copies src into dst (cap bytes with the NUL), cut at a UTF-8 boundary
 * if it is longer: for a field's max + 1.  Returns the length. */
size_t	ipc_text_trunc(char *dst, size_t cap, const char *src);

#endif
