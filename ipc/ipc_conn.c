/* SPDX-License-Identifier: ISC */
/*
 * An IPC connection on a libevent base: reads frames (with any descriptors
 * passed alongside), enforces HELLO-first, permissions, once-only types and
 * descriptor flags, and writes from a bounded queue.
 *
 * Descriptors: the sender passes an IPC_FD message's descriptor with the
 * sendmsg that carries the start of its frame, and Linux never merges a
 * read across such a boundary, so a received descriptor belongs to the
 * next IPC_FD frame in the buffer.  A descriptor left over once the
 * buffer is empty, or an IPC_FD frame without one, is a violation.
 *
 * A connection on which the catalogue lets the peer send no IPC_FD type
 * (every front end, and fz-controld towards fz-tunneld) refuses
 * descriptors in the kernel with SO_PASSRIGHTS=0 (Linux 6.16: the
 * sender's sendmsg fails with EPERM), and where the kernel lacks that,
 * treats any descriptor as a violation.  Whatever arrives unwanted is
 * closed without lingering (close_stray): a passed TCP socket with
 * SO_LINGER set and unsent data would otherwise hold the event loop in
 * close() for the whole linger time, whatever O_NONBLOCK says.
 */
#define LOG_MODULE "ipc"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"

#define MAX_FDS		4	/* queued for IPC_FD frames */
#define IN_MIN		(64 * 1024)	/* the input buffer, grown per frame */
#define SCM_MAX_FD	253	/* the kernel's limit per sendmsg */

#ifndef SO_PASSRIGHTS
#if !defined(__alpha__) && !defined(__mips__) && !defined(__hppa__) && \
    !defined(__sparc__)
#define SO_PASSRIGHTS	83	/* asm-generic/socket.h, Linux 6.16 */
#endif
#endif

struct outframe {
	struct outframe	*next;
	size_t		 len, off;
	int		 fd;		/* to pass with the first byte, or -1 */
	bool		 secret;	/* IPC_SECRET: wiped before free */
	uint8_t		 data[];
};

static void
frame_free(struct outframe *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->secret)
		sodium_memzero(f->data, f->len);
	free(f);
}

struct ipc_conn {
	struct ipc_conn_config	 cfg;		/* channel filled in */
	ipc_msg_cb		*fn[IPC_TYPE_COUNT];	/* from cfg.handlers */
	int			 fd;
	struct event		*rev, *wev;
	uint8_t			*in;		/* incap bytes */
	size_t			 inlen, incap;
	size_t			 max_frame;	/* the peer's largest type */
	int			 fds[MAX_FDS];
	unsigned		 nfds;
	bool			 fds_ok;	/* may the peer pass any? */
	struct outframe		*head, **tail;
	size_t			 queued, max_queue;
	uint64_t		 dropped;	/* lossy channel, queue full */
	struct log_ratelimit	 drop_rl;
	char			 peer_program[65];
	pid_t			 peer_pid;
	uint32_t		 seen[(IPC_TYPE_COUNT + 31) / 32];
	unsigned		 phase;		/* IPC_BOOT... */
	unsigned		 phase_in;	/* also accepted from the peer */
	struct ipc_msg		 msg;		/* decode target */
	struct ipc_arena	 arena;		/* its strings and arrays */
	int			 busy;		/* inside a callback */
	enum ipc_conn_state	 state;
};

/* on_close has run (or the owner freed it): nothing more happens. */
static bool
ended(const struct ipc_conn *c)
{
	return c->state >= IPC_CONN_CLOSED;
}

static bool
seen(const struct ipc_conn *c, unsigned type)
{
	return (c->seen[type / 32] & (1u << (type % 32))) != 0;
}

static void	conn_read(evutil_socket_t, short, void *);

/*
 * Closes a descriptor the peer should not have sent.  Turning SO_LINGER
 * off first makes close() of a socket return at once (the kernel still
 * sends what is queued, in the background, as after any close);
 * ENOTSOCK for anything else is fine.
 */
static void
close_stray(int fd)
{
	struct linger off = { 0, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof(off));
	close(fd);
}

int
ipc_refuse_fds(int fd)
{
#ifdef SO_PASSRIGHTS
	int zero = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &zero,
	    sizeof(zero)) == 0)
		return 1;
	if (errno != ENOPROTOOPT && errno != EINVAL)
		return -errno;
#else
	(void)fd;
#endif
	return 0;	/* an older kernel: take_fds refuses them */
}

static void
drop_queue(struct ipc_conn *c)
{
	struct outframe *f, *next;

	for (f = c->head; f != NULL; f = next) {
		next = f->next;
		frame_free(f);
	}
	c->head = NULL;
	c->tail = &c->head;
	c->queued = 0;
}
static void	conn_write(evutil_socket_t, short, void *);

static void
conn_destroy(struct ipc_conn *c)
{
	unsigned i;

	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	drop_queue(c);
	for (i = 0; i < c->nfds; i++)
		close_stray(c->fds[i]);
	if (c->fd >= 0)
		close(c->fd);
	if (c->in != NULL)	/* a secret frame may be part read */
		sodium_memzero(c->in, c->incap);
	free(c->in);
	c->arena.wipe = true;
	ipc_arena_free(&c->arena);
	free(c);
}

void
ipc_conn_free(struct ipc_conn *c)
{
	if (c == NULL)
		return;
	if (c->busy > 0) {
		c->state = IPC_CONN_FREED;
		if (c->rev != NULL)
			event_del(c->rev);
		if (c->wev != NULL)
			event_del(c->wev);
		return;
	}
	conn_destroy(c);
}

/* Reports the end once; the callee frees.  Returns true if c is gone. */
static bool
conn_fail(struct ipc_conn *c, int err)
{
	bool gone;

	if (ended(c))
		return c->state == IPC_CONN_FREED;
	c->state = err == -EPROTO || err == -EMSGSIZE ||
	    err == -EPROTONOSUPPORT ? IPC_CONN_VIOLATED : IPC_CONN_CLOSED;
	event_del(c->rev);
	event_del(c->wev);
	c->busy++;
	c->cfg.on_close(c, err, c->cfg.arg);
	c->busy--;
	gone = c->state == IPC_CONN_FREED;
	if (gone && c->busy == 0)
		conn_destroy(c);
	return gone;
}

int
ipc_handlers_check(unsigned chan, unsigned self, const struct ipc_handler *h)
{
	unsigned peer = ipc_channel_roles(chan) & ~self, t;
	bool have[IPC_TYPE_COUNT] = { false };
	size_t i;

	if (ipc_channel_roles(chan) == 0 || (ipc_channel_roles(chan) & self) ==
	    0 || h == NULL)
		return -EINVAL;
	for (i = 0; h[i].type != IPC_TYPE_INVALID; i++) {
		t = h[i].type;
		if (ipc_msg_info(t) == NULL || h[i].fn == NULL) {
			log_errorx("%s: handler %zu for type %u",
			    ipc_channel_name(chan), i, t);
			return -EINVAL;
		}
		if (!ipc_permitted(chan, t, peer)) {
			log_errorx("%s: a handler for %s, which %s may not send",
			    ipc_channel_name(chan), ipc_type_name(t),
			    ipc_role_name(peer));
			return -EINVAL;
		}
		if (have[t]) {
			log_errorx("%s: two handlers for %s",
			    ipc_channel_name(chan), ipc_type_name(t));
			return -EINVAL;
		}
		have[t] = true;
	}
	for (t = 1; t < IPC_TYPE_COUNT; t++)
		if (t != IPC_HELLO && !have[t] && ipc_permitted(chan, t, peer)) {
			log_errorx("%s: no handler for %s from %s",
			    ipc_channel_name(chan), ipc_type_name(t),
			    ipc_role_name(peer));
			return -EINVAL;
		}
	return 0;
}

int
ipc_conn_new(struct event_base *base, int fd, const struct ipc_conn_config *cfg,
    struct ipc_conn **out)
{
	struct ipc_conn *c;
	struct ipc_msg hello;
	unsigned t;
	int fl, rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->cfg = *cfg;
	c->fd = fd;
	c->tail = &c->head;
	c->state = IPC_CONN_HELLO_WAIT;
	c->drop_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 1);
	c->phase = c->phase_in = IPC_BOOT;
	ipc_arena_init(&c->arena, 0);
	if (c->cfg.channel == IPC_CH_DEFAULT)
		c->cfg.channel = ipc_channel_of(cfg->self, cfg->peer);
	if (ipc_channel_roles(c->cfg.channel) != (cfg->self | cfg->peer) ||
	    cfg->self == cfg->peer ||
	    ipc_handlers_check(c->cfg.channel, cfg->self, cfg->on_msg) != 0) {
		rc = -EINVAL;
		goto fail;
	}
	c->max_queue = ipc_channel_queue(c->cfg.channel);
	for (t = 0; cfg->on_msg[t].type != IPC_TYPE_INVALID; t++)
		c->fn[cfg->on_msg[t].type] = cfg->on_msg[t].fn;
	for (t = 1; t < IPC_TYPE_COUNT; t++)
		if (ipc_permitted(c->cfg.channel, t, cfg->peer) &&
		    ipc_msg_info(t)->wire_max > c->max_frame)
			c->max_frame = ipc_msg_info(t)->wire_max;
	c->incap = c->max_frame + 4 < IN_MIN ? c->max_frame + 4 : IN_MIN;
	if ((c->in = malloc(c->incap)) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		rc = -errno;
		goto fail;
	}
	c->fds_ok = ipc_fds_permitted(c->cfg.channel, cfg->peer);
	if (!c->fds_ok && (rc = ipc_refuse_fds(fd)) < 0)
		goto fail;
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_read, c);
	c->wev = event_new(base, fd, EV_WRITE, conn_write, c);
	if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL) != 0) {
		rc = -ENOMEM;
		goto fail;
	}
	ipc_msg_init(&hello, IPC_HELLO);
	hello.u.hello.version = IPC_VERSION;
	hello.u.hello.pid = (uint32_t)getpid();
	hello.u.hello.program = cfg->program;
	if ((rc = ipc_send(c, &hello)) != 0) {
		rc = -EINVAL;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	c->fd = -1;		/* the caller still owns fd on failure */
	conn_destroy(c);
	return rc;
}

int
ipc_send(struct ipc_conn *c, const struct ipc_msg *m)
{
	const struct ipc_msg_info *mi = ipc_msg_info(m->type);
	struct outframe *f;
	struct wbuf w;
	void *tmp;
	int rc;

	if (c->state >= IPC_CONN_WRITE_SHUT)
		return -EPIPE;
	if (mi == NULL || !ipc_permitted(c->cfg.channel, m->type, c->cfg.self))
		return -EPERM;
	if (!(ipc_phases(c->cfg.channel, m->type) & c->phase)) {
		log_warnx("not sending %s in phase %s", mi->name,
		    ipc_phase_name(c->phase));
		return -EPERM;
	}
	if ((mi->flags & IPC_FD) && m->fd < 0)
		return -EBADF;
	if (c->queued >= c->max_queue) {
		if (c->cfg.channel != IPC_CH_DGRAM)
			return -ENOBUFS;
		/* lossy: drop, count, and say so now and then */
		if (c->dropped++ == 0 || log_ratelimit(&c->drop_rl))
			log_warnx("%s channel to %s: queue full (%zu bytes), "
			    "%llu message(s) dropped so far",
			    ipc_channel_name(c->cfg.channel),
			    ipc_role_name(c->cfg.peer), c->queued,
			    (unsigned long long)c->dropped);
		return -ENOBUFS;
	}
	/* Room for the largest such message, then trimmed to what it took. */
	if ((f = malloc(sizeof(*f) + 4 + mi->wire_max)) == NULL)
		return -ENOMEM;
	wbuf_init(&w, f->data + 4, mi->wire_max);
	if ((rc = ipc_msg_encode(m, &w)) != 0) {
		if (mi->flags & IPC_SECRET)
			sodium_memzero(f->data, 4 + mi->wire_max);
		free(f);
		return rc == -ENOBUFS ? -EMSGSIZE : rc;
	}
	if (w.len < mi->wire_max && (tmp = realloc(f, sizeof(*f) + 4 +
	    w.len)) != NULL)
		f = (struct outframe *)tmp;
	f->next = NULL;
	f->len = 4 + w.len;
	f->off = 0;
	f->fd = -1;
	f->secret = (mi->flags & IPC_SECRET) != 0;
	f->data[0] = (uint8_t)(w.len >> 24);
	f->data[1] = (uint8_t)(w.len >> 16);
	f->data[2] = (uint8_t)(w.len >> 8);
	f->data[3] = (uint8_t)w.len;
	if ((mi->flags & IPC_FD) &&
	    (f->fd = fcntl(m->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		rc = -errno;
		frame_free(f);
		return rc;
	}
	*c->tail = f;
	c->tail = &f->next;
	c->queued += f->len;
	log_trace("send %s to %s", mi->name, ipc_role_name(c->cfg.peer));
	event_add(c->wev, NULL);
	return 0;
}

static void
conn_write(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_conn *c = arg;
	struct outframe *f;
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr mh;
	struct iovec iov;
	ssize_t n;

	(void)what;
	while ((f = c->head) != NULL) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = f->data + f->off;
		iov.iov_len = f->len - f->off;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (f->fd >= 0 && f->off == 0) {
			struct cmsghdr *ch;

			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.buf;
			mh.msg_controllen = sizeof(cm.buf);
			ch = CMSG_FIRSTHDR(&mh);
			ch->cmsg_level = SOL_SOCKET;
			ch->cmsg_type = SCM_RIGHTS;
			ch->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(ch), &f->fd, sizeof(int));
		}
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				event_add(c->wev, NULL);
				return;
			}
			if ((errno == EPIPE || errno == ECONNRESET) &&
			    c->state != IPC_CONN_CLOSING) {
				/*
				 * The peer closed; what it sent before (a
				 * refusal, say) may still be unread, so the
				 * read side reports the end.
				 */
				drop_queue(c);
				c->state = IPC_CONN_WRITE_SHUT;
				return;
			}
			conn_fail(c, -errno);
			return;
		}
		if (f->fd >= 0) {
			close(f->fd);
			f->fd = -1;
		}
		f->off += (size_t)n;
		c->queued -= (size_t)n;
		if (f->off < f->len)
			continue;
		c->head = f->next;
		if (c->head == NULL)
			c->tail = &c->head;
		frame_free(f);
	}
	if (c->state == IPC_CONN_CLOSING)
		conn_fail(c, 0);
}

void
ipc_conn_close_after_flush(struct ipc_conn *c)
{
	if (ended(c))
		return;
	c->state = IPC_CONN_CLOSING;
	event_del(c->rev);	/* nothing more is read from this peer */
	if (c->head == NULL)
		conn_fail(c, 0);
}

static int
take_fds(struct ipc_conn *c, struct msghdr *mh)
{
	struct cmsghdr *ch;
	int rc = 0;

	for (ch = CMSG_FIRSTHDR(mh); ch != NULL; ch = CMSG_NXTHDR(mh, ch)) {
		size_t i, n;
		int fd;

		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS) {
			rc = -EPROTO;
			continue;
		}
		n = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(ch) + i * sizeof(int), sizeof(int));
			if (c->fds_ok && c->nfds < MAX_FDS)
				c->fds[c->nfds++] = fd;
			else {
				close_stray(fd);
				rc = -EPROTO;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		rc = -EPROTO;
	return rc;
}

/*
 * Makes room for a frame of need bytes that starts at off: moves it to
 * the front and grows the buffer (up to max_frame + 4) when needed.
 */
static int
grow_in(struct ipc_conn *c, size_t off, size_t need)
{
	uint8_t *p;

	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	if (need <= c->incap)
		return 0;
	if ((p = realloc(c->in, need)) == NULL)
		return -ENOMEM;
	c->in = p;
	c->incap = need;
	return 0;
}

/* After a large frame: back to the usual size once it is consumed. */
static void
shrink_in(struct ipc_conn *c)
{
	uint8_t *p;

	if (c->incap <= IN_MIN || c->inlen > IN_MIN)
		return;
	if ((p = realloc(c->in, IN_MIN)) != NULL) {
		c->in = p;
		c->incap = IN_MIN;
	}
}

/* Checks and delivers one decoded frame; nonzero ends the connection. */
static int
deliver(struct ipc_conn *c, uint8_t *p, size_t len)
{
	struct ipc_msg *m = &c->msg;
	const struct ipc_msg_info *mi;
	int rc;

	if ((rc = ipc_msg_decode(p, len, m, &c->arena)) == -ENOMEM) {
		log_warnx("out of memory for a message from %s",
		    ipc_role_name(c->cfg.peer));
		return rc;
	}
	if (rc != 0) {
		c->arena.wipe = true;	/* it may have been a SIGN_IN */
		ipc_arena_reset(&c->arena);
		c->arena.wipe = false;
		log_warnx("malformed %s from %s (%s)",
		    rc == -ENOMSG ? "message type" : "message",
		    ipc_role_name(c->cfg.peer), strerror(-rc));
		return -EPROTO;
	}
	mi = ipc_msg_info(m->type);
	if (!seen(c, IPC_HELLO) && m->type != IPC_HELLO) {
		log_warnx("%s from %s before HELLO", mi->name,
		    ipc_role_name(c->cfg.peer));
		return -EPROTO;
	}
	if (!ipc_permitted(c->cfg.channel, m->type, c->cfg.peer)) {
		log_warnx("%s is not permitted from %s", mi->name,
		    ipc_role_name(c->cfg.peer));
		return -EPROTO;
	}
	if (!(ipc_phases(c->cfg.channel, m->type) & c->phase_in)) {
		log_warnx("%s from %s in phase %s", mi->name,
		    ipc_role_name(c->cfg.peer), ipc_phase_name(c->phase));
		return -EPROTO;
	}
	if ((mi->flags & IPC_ONCE) &&
	    (c->seen[m->type / 32] & (1u << (m->type % 32)))) {
		log_warnx("second %s from %s", mi->name,
		    ipc_role_name(c->cfg.peer));
		return -EPROTO;
	}
	c->seen[m->type / 32] |= 1u << (m->type % 32);
	if (mi->flags & IPC_FD) {
		if (c->nfds == 0) {
			log_warnx("%s from %s without a descriptor", mi->name,
			    ipc_role_name(c->cfg.peer));
			return -EPROTO;
		}
		m->fd = c->fds[0];
		memmove(c->fds, c->fds + 1, --c->nfds * sizeof(int));
	}
	if (m->type == IPC_HELLO) {
		if (m->u.hello.version != IPC_VERSION) {
			log_warnx("%s speaks IPC version %u, not %u",
			    ipc_role_name(c->cfg.peer), m->u.hello.version,
			    IPC_VERSION);
			return -EPROTONOSUPPORT;
		}
		if (c->state == IPC_CONN_HELLO_WAIT)
			c->state = IPC_CONN_OPEN;
		snprintf(c->peer_program, sizeof(c->peer_program), "%s",
		    m->u.hello.program);
		c->peer_pid = (pid_t)m->u.hello.pid;
	}
	log_trace("recv %s from %s", mi->name, ipc_role_name(c->cfg.peer));
	c->busy++;
	if (c->fn[m->type] != NULL)	/* only HELLO's may be absent */
		c->fn[m->type](c, m, c->cfg.arg);
	c->busy--;
	/* IPC_SECRET: nothing of it outlives the handler, here or in c->in */
	c->arena.wipe = (mi->flags & IPC_SECRET) != 0;
	ipc_arena_reset(&c->arena);
	c->arena.wipe = false;
	if (mi->flags & IPC_SECRET)
		sodium_memzero(p, len);
	return 0;
}

static void
conn_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_conn *c = arg;
	/*
	 * Room for all the descriptors one sendmsg can carry: any the
	 * buffer could not hold, the kernel would drop itself, and its
	 * final close (with any linger) would run in this thread.
	 */
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(SCM_MAX_FD * sizeof(int))];
	} cm;
	struct msghdr mh;
	struct iovec iov;
	size_t off;
	ssize_t n;
	int rc;

	(void)what;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = c->in + c->inlen;
	iov.iov_len = c->incap - c->inlen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_fail(c, -errno);
		return;
	}
	if ((rc = take_fds(c, &mh)) != 0) {
		log_warnx("%s from %s", c->fds_ok ? "bad descriptor passing" :
		    "a descriptor, which it may not pass,",
		    ipc_role_name(c->cfg.peer));
		conn_fail(c, rc);
		return;
	}
	if (n == 0) {
		conn_fail(c, c->inlen != 0 ? -EPROTO : 0);
		return;
	}
	c->inlen += (size_t)n;
	off = 0;
	while (c->inlen - off >= 4) {
		uint8_t *h = c->in + off;
		uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
		    (uint32_t)h[2] << 8 | h[3];

		if (len > c->max_frame || len == 0) {
			log_warnx("frame of %u bytes from %s", len,
			    ipc_role_name(c->cfg.peer));
			conn_fail(c, len == 0 ? -EPROTO : -EMSGSIZE);
			return;
		}
		if (c->inlen - off - 4 < len) {
			if (grow_in(c, off, 4 + (size_t)len) != 0) {
				conn_fail(c, -ENOMEM);
				return;
			}
			return;		/* the rest on the next read */
		}
		rc = deliver(c, h + 4, len);
		if (c->state == IPC_CONN_FREED) {
			if (c->busy == 0)
				conn_destroy(c);
			return;
		}
		if (rc != 0) {
			conn_fail(c, rc);
			return;
		}
		off += 4 + len;
		if (ended(c))
			return;
		if (c->state == IPC_CONN_CLOSING)
			break;		/* nothing more is delivered */
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	shrink_in(c);
	if (c->inlen == 0 && c->nfds > 0) {
		log_warnx("stray descriptor from %s", ipc_role_name(c->cfg.peer));
		conn_fail(c, -EPROTO);
	}
}

void
ipc_conn_set_phase(struct ipc_conn *c, unsigned phase)
{
	if (phase != c->phase)
		log_debug("%s channel: phase %s",
		    ipc_channel_name(c->cfg.channel), ipc_phase_name(phase));
	c->phase = c->phase_in = phase;
}

void
ipc_conn_leave_phase(struct ipc_conn *c, unsigned phase)
{
	c->phase_in |= phase;
	c->phase = phase;
}

unsigned
ipc_conn_phase(const struct ipc_conn *c)
{
	return c->phase;
}

enum ipc_conn_state
ipc_conn_state(const struct ipc_conn *c)
{
	return c->state;
}

const char *
ipc_conn_state_name(enum ipc_conn_state st)
{
	static const char *const names[] = {
		[IPC_CONN_HELLO_WAIT] = "HELLO_WAIT",
		[IPC_CONN_OPEN] = "OPEN",
		[IPC_CONN_WRITE_SHUT] = "WRITE_SHUT",
		[IPC_CONN_CLOSING] = "CLOSING",
		[IPC_CONN_CLOSED] = "CLOSED",
		[IPC_CONN_VIOLATED] = "VIOLATED",
		[IPC_CONN_FREED] = "FREED",
	};

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ?
	    names[st] : "?";
}

bool
ipc_conn_ready(const struct ipc_conn *c)
{
	return seen(c, IPC_HELLO);
}

const char *
ipc_conn_peer_program(const struct ipc_conn *c)
{
	return c->peer_program;
}

pid_t
ipc_conn_peer_pid(const struct ipc_conn *c)
{
	return c->peer_pid;
}

size_t
ipc_conn_queued(const struct ipc_conn *c)
{
	return c->queued;
}

uint64_t
ipc_conn_dropped(const struct ipc_conn *c)
{
	return c->dropped;
}

int
ipc_conn_fd(const struct ipc_conn *c)
{
	return c->fd;
}
