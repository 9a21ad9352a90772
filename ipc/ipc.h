/* SPDX-License-Identifier: ISC */
/*
 * IPC between fz-tunneld, fz-controld and front ends (fzctl, a GUI).
 *
 * Frames on a Unix stream socket: u32 length (big-endian, at most
 * IPC_MAX_FRAME) | msgpack [type, [fields...]].  The messages, who may send
 * them to whom, and their fields are in ipc_msg.def.  Decoding is strict:
 * exact arity, one type per field, length limits, no trailing bytes.  The
 * first message each way is HELLO with IPC_VERSION.
 */
#ifndef FZ_IPC_H
#define FZ_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define IPC_VERSION		1
#define IPC_MAX_FRAME		(256 * 1024)
#define IPC_MAX_QUEUE		(2 * 1024 * 1024)	/* unsent bytes */
#define IPC_MAX_RESOURCES	128

/* Roles, as masks for the permission table. */
#define IPC_T	0x1		/* fz-tunneld */
#define IPC_C	0x2		/* fz-controld */
#define IPC_F	0x4		/* a front end */

#define IPC_ONCE	0x1
#define IPC_FD		0x2
#define IPC_SECRET	0x4

struct ipc_resource {
	char	id[65];
	char	type[17];		/* dns | cidr | internet */
	char	address[257];
	char	name[257];
	char	status[17];		/* unknown | online | offline */
};

struct ipc_resource_list {
	uint32_t		n;
	struct ipc_resource	r[IPC_MAX_RESOURCES];
};

enum ipc_type {
	IPC_TYPE_INVALID = 0,
#define IPC_MSG(N, n, s, r, f, fields)	IPC_##N,
#include "ipc_msg.def"
#undef IPC_MSG
	IPC_TYPE_COUNT
};

#define IPC_U32(n)		uint32_t n;
#define IPC_I32(n)		int32_t n;
#define IPC_U64(n)		uint64_t n;
#define IPC_BOOL(n)		bool n;
#define IPC_STR(n, max)		char n[(max) + 1];
#define IPC_RESOURCES(n)	struct ipc_resource_list n;
#define IPC_NONE
#define IPC_MSG(N, n, s, r, f, fields)	struct ipc_##n { fields };
#include "ipc_msg.def"
#undef IPC_MSG
#undef IPC_U32
#undef IPC_I32
#undef IPC_U64
#undef IPC_BOOL
#undef IPC_STR
#undef IPC_RESOURCES
#undef IPC_NONE

struct ipc_msg {
	enum ipc_type	type;
	int		fd;		/* IPC_FD types: the descriptor, else -1 */
	union {
#define IPC_MSG(N, n, s, r, f, fields)	struct ipc_##n n;
#include "ipc_msg.def"
#undef IPC_MSG
	} u;
};

struct ipc_msg_info {
	const char	*name;		/* for logs: "SIGN_IN" */
	unsigned	 senders;	/* IPC_T | IPC_C | IPC_F */
	unsigned	 receivers;
	unsigned	 flags;		/* IPC_ONCE | IPC_FD | IPC_SECRET */
	unsigned	 arity;
};

/* The table generated from ipc_msg.def; NULL for an unknown type. */
const struct ipc_msg_info *ipc_msg_info(unsigned type);
const char *ipc_type_name(unsigned type);
const char *ipc_role_name(unsigned role);

/* Zeroes msg and sets its type (fd -1). */
void	ipc_msg_init(struct ipc_msg *, enum ipc_type);
/* Copies s into a message string field, failing if it does not fit. */
#define ipc_strset(field, s)	ipc_strlcpy((field), (s), sizeof(field))
int	ipc_strlcpy(char *, const char *, size_t);

/*
 * Encodes the payload (without the length prefix) into w.  -EINVAL for an
 * unknown type or a string that is too long or not ipc_text_valid (the
 * decoder's rule, so what is sent always decodes); w's sticky error on
 * overflow.
 */
int	ipc_msg_encode(const struct ipc_msg *, struct wbuf *)
	    __attribute__((warn_unused_result));
/*
 * Decodes one payload strictly.  -EBADMSG for anything malformed,
 * -ENOMSG for an unknown type.  msg->fd is left -1.
 */
int	ipc_msg_decode(const uint8_t *, size_t, struct ipc_msg *)
	    __attribute__((warn_unused_result));

/* Generated per message: the field codecs, used by the two above. */
struct msgpack_packer;
#define IPC_MSG(N, n, s, r, f, fields)					\
int ipc_encode_##n(struct msgpack_packer *, const struct ipc_##n *);	\
int ipc_decode_##n(struct rbuf *, struct ipc_##n *);
#include "ipc_msg.def"
#undef IPC_MSG

/*
 * May a connection whose local end is role self and remote end is role
 * peer receive (dir 0) or send (dir 1) this type?
 */
bool	ipc_permitted(unsigned type, unsigned self, unsigned peer, int send);
/* May that end receive any IPC_FD type from that peer at all? */
bool	ipc_fds_permitted(unsigned self, unsigned peer);

/*
 * A connection: framing, HELLO, permissions, once-only types, descriptor
 * passing and a bounded write queue, on a libevent base.
 */
struct event_base;
struct ipc_conn;

/* The message is valid only during the call; a received fd is the
 * callee's to keep or close. */
typedef void	ipc_msg_cb(struct ipc_conn *, struct ipc_msg *, void *);
/*
 * The connection ended: 0 at EOF, -EPROTO for a protocol violation by the
 * peer (malformed, unknown, unpermitted, wrong phase), -EMSGSIZE for an
 * oversized frame, -ENOBUFS when the peer does not read, or the errno of a
 * failed read/write.  The callee frees the connection.
 */
typedef void	ipc_close_cb(struct ipc_conn *, int, void *);

struct ipc_conn_config {
	unsigned	 self, peer;	/* IPC_T, IPC_C or IPC_F */
	const char	*program;	/* for HELLO */
	ipc_msg_cb	*on_msg;
	ipc_close_cb	*on_close;
	void		*arg;
};

/*
 * Takes ownership of fd (made non-blocking) and sends HELLO.  When the
 * peer may pass no descriptor (ipc_fds_permitted), fd gets SO_PASSRIGHTS
 * 0 where the kernel has it, and a descriptor is a protocol violation.
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
 * its own).  -EPERM when this end may not send the type, -ENOBUFS when
 * the queue is full, -EPIPE after the connection ended.
 */
int	ipc_send(struct ipc_conn *, const struct ipc_msg *)
	    __attribute__((warn_unused_result));
/* Whether the peer's HELLO has arrived, and what it said. */
bool	ipc_conn_ready(const struct ipc_conn *);
const char *ipc_conn_peer_program(const struct ipc_conn *);
pid_t	ipc_conn_peer_pid(const struct ipc_conn *);
size_t	ipc_conn_queued(const struct ipc_conn *);
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
/* A string into a NUL-terminated buffer of size cap: ipc_text_valid. */
int	mp_get_cstr(struct rbuf *, char *, size_t cap)
	    __attribute__((warn_unused_result));
bool	utf8_valid(const char *, size_t);
/* Valid UTF-8 without C0 controls, DEL or C1 controls (U+0080-U+009F). */
bool	ipc_text_valid(const char *, size_t);

#endif
