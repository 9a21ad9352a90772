/* SPDX-License-Identifier: ISC */
/*
 * Service mode: the tunnel service.  Owns the TUN device and the data
 * plane, serves front ends (fzctl, a GUI) on a Unix socket, and spawns and
 * supervises the unprivileged fz-controld, which talks to the portal.
 *
 * Order (STYLE.md): settings and token, the front-end socket, the TUN
 * device and data plane, then the capability drop, then the event loop.
 * tunneld keeps CAP_NET_ADMIN (the TUN, routes, DNS) and CAP_KILL (to stop
 * a misbehaving fz-controld running under another uid) effective, and
 * CAP_SETUID/CAP_SETGID only in its permitted set: a forked child raises
 * them just long enough to become the controld user before exec.  Its
 * bounding set is empty and, once set up, it runs under a seccomp
 * allow-list (sandbox.c).
 */
#define LOG_MODULE "tunneld"

#include <errno.h>
#include <inttypes.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "dataplane.h"
#include "fztime.h"
#include "ipc.h"
#include "netlink.h"
#include "privsep.h"
#include "settings.h"
#include "tun.h"
#include "tunneld.h"

#define CLIENT_GROUP		"fz-client"
#define DEFAULT_USER		"fz"
#define DEFAULT_IFNAME		"tun-firezone"
#define BACKOFF_MIN_MS		500
#define BACKOFF_MAX_MS		30000
#define STABLE_MS		30000	/* up this long: backoff resets */
#define MAX_FRONTENDS		64
#define FE_ROOT_RESERVED	8	/* of those, only root may take */
#define FE_MAX_PER_UID		16	/* per non-root uid */
#define FE_HELLO_TIMEOUT_S	5
#define CHILD_LINE_MAX		1024	/* longer lines are cut */
#define CHILD_LINES_PER_S	200

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

struct svc {
	const struct tunneld_opts *o;
	struct settings		 st;
	struct event_base	*base;
	int			 listen_fd;
	bool			 socket_created;	/* we unlink it */
	struct event		*accept_ev, *sig_ev[4], *restart_ev, *wd_ev;
	struct log_ratelimit	 fe_rl;		/* front-end refusals */
	gid_t			 client_gid;
	bool			 have_client_group;
	struct passwd		 user;			/* controld's user */
	char			 user_name[64];
	char			 controld_path[4096];
	int			 controld_fd;	/* O_PATH, opened as root */

	/* fz-controld */
	pid_t			 cpid;
	struct ipc_conn		*cconn;
	struct ipc_conn		*dconn;		/* DGRAM channel, fd 4 */
	uint64_t		 dgram_unrouted; /* DGRAM_DOWN with no socket */
	unsigned		 restarts;
	unsigned		 backoff_ms;
	uint64_t		 started_ms;
	bool			 killed_for_violation;
	bool			 spawn_failed;	/* never became fz-controld */
	/* its stdout and stderr: a pipe whose lines we log for it */
	int			 logfd;
	struct event		*log_ev;
	char			 logbuf[CHILD_LINE_MAX];
	size_t			 loglen;
	bool			 logskip;	/* dropping an overlong line */
	struct log_ratelimit	 log_rl;

	/* state */
	char			 state[33], detail[513];
	char			 account[129];
	struct resources	*resources;	/* the last RESOURCES */
	char			 configured_filter[513];
	uint64_t		 start_s;

	/* data plane */
	struct tun		*tun;
	struct wg_device	*dev;
	struct dp		*dp;
	struct nlconf		*nl;

	struct frontend		 fe[MAX_FRONTENDS];
	int			 status;
	bool			 stopping;
};

/* A copy of the last RESOURCES from fz-controld, lists in its arena. */
struct resources {
	struct ipc_msg		 m;		/* type 0 until the first */
	struct ipc_arena	 a;
};

static void	spawn_controld(struct svc *);
static void	fe_free(struct frontend *);

static uint64_t
now_ms(void)
{
	return time_mono_ns() / 1000000;
}

/* --- events to front ends and systemd --------------------------------- */

static void
broadcast(struct svc *s, const char *kind, const char *detail)
{
	struct ipc_msg m;
	char d[513];
	int i;

	ipc_msg_init(&m, IPC_EVENT);
	m.u.event.kind = kind;
	(void)ipc_text_trunc(d, sizeof(d), detail);
	m.u.event.detail = d;
	for (i = 0; i < MAX_FRONTENDS; i++) {
		struct frontend *f = &s->fe[i];

		if (!f->used || !f->subscribed)
			continue;
		if (ipc_send(f->conn, &m) == -ENOBUFS) {
			log_warnx("front end pid %d does not read its events; "
			    "disconnecting it", (int)f->pid);
			fe_free(f);
		}
	}
}

/*
 * STATUS= for systemd.  sd_notify(3) takes newline-separated assignments
 * from the root main PID, so a newline in text that came from
 * fz-controld would add MAINPID=, WATCHDOG=trigger or STOPPING=1.  The
 * IPC decoder already rejects control characters; escaping here keeps
 * this line safe whatever the text's source.
 */
static void
notify_status(const char *prefix, const char *state, const char *detail)
{
	static char st[4 * 32 + 1], d[4 * 512 + 1];	/* off the stack */

	(void)log_escape(st, sizeof(st), state);
	(void)log_escape(d, sizeof(d), detail);
	sd_notifyf(0, "%sSTATUS=%s%s%s", prefix, st, *d ? ": " : "", d);
}

static void
set_state(struct svc *s, const char *state, const char *detail)
{
	char d[600];

	if (strcmp(s->state, state) == 0 && strcmp(s->detail, detail) == 0)
		return;
	snprintf(s->state, sizeof(s->state), "%s", state);
	snprintf(s->detail, sizeof(s->detail), "%s", detail);
	log_info("state %s%s%s", state, *detail ? ": " : "", detail);
	snprintf(d, sizeof(d), "%s%s%s", state, *detail ? ": " : "", detail);
	broadcast(s, "status", d);
	notify_status("", state, detail);
}

/* --- fz-controld ------------------------------------------------------- */

static int
send_to_controld(struct svc *s, struct ipc_msg *m)
{
	int rc;

	if (s->cconn == NULL)
		return -ENOTCONN;
	if ((rc = ipc_send(s->cconn, m)) != 0)
		log_warnc(-rc, "sending %s to fz-controld",
		    ipc_type_name(m->type));
	return rc;
}

static void
send_sign_in(struct svc *s)
{
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_SIGN_IN);
	m.u.sign_in.token = s->st.token;
	m.u.sign_in.api_url = s->st.api_url;
	m.u.sign_in.account = s->account;
	if (send_to_controld(s, &m) == 0)
		ipc_conn_set_phase(s->cconn, IPC_SIGNED_IN);
}

/*
 * SIGNED_IN -> CONFIGURED: what fz-controld sent before it read SIGN_OUT
 * is still accepted until its SIGNED_OUT (c_signed_out).
 */
static void
send_sign_out(struct svc *s)
{
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_SIGN_OUT);
	if (send_to_controld(s, &m) == 0)
		ipc_conn_leave_phase(s->cconn, IPC_CONFIGURED);
}

static void
controld_greet(struct svc *s)
{
	struct ipc_msg m;
	char filter[513];

	ipc_msg_init(&m, IPC_CONFIG);
	m.u.config.mode = s->st.gateway ? "gateway" : "client";
	m.u.config.api_url = s->st.api_url;
	m.u.config.firezone_id = s->st.firezone_id;
	m.u.config.name = s->st.name;
	log_get_filter(filter, sizeof(filter));
	m.u.config.log_filter = filter;
	m.u.config.dns_control = s->st.dns_control;
	m.u.config.no_telemetry = s->st.no_telemetry;
	m.u.config.internet_resource = s->st.internet_resource;
	if (send_to_controld(s, &m) != 0)
		return;
	ipc_conn_set_phase(s->cconn, IPC_CONFIGURED);
	/* From CONFIG on, never narrowed (ipc_msg.def, section DGRAM). */
	if (s->dconn != NULL)
		ipc_conn_set_phase(s->dconn, IPC_CONFIGURED);

	/*
	 * No log file of its own: its lines come through the pipe on its
	 * stdout/stderr and land in our --log-dir files, rotated and capped
	 * (controld_log_cb), so a compromised child cannot fill the disk.
	 */
	if (s->st.has_token)
		send_sign_in(s);
}

/*
 * Messages from fz-controld, one handler per type the CONTROL section of
 * ipc_msg.def lets it send (ipc_conn_new checks the table against it);
 * anything else never reaches here: it is a violation.
 */
static void
c_hello(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)c;
	(void)arg;
	log_info("fz-controld pid %d connected (%s)", (int)m->u.hello.pid,
	    m->u.hello.program);
}

static void
c_status(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)c;
	set_state(arg, m->u.status.state, m->u.status.detail);
}

static void
c_error(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;

	log_warnx("fz-controld: %s", m->u.error.message);
	broadcast(s, "error", m->u.error.message);
	/* the session ended on both sides: fz-controld is CONFIGURED too */
	if (m->u.error.requires_sign_in)
		ipc_conn_set_phase(c, IPC_CONFIGURED);
	if (m->u.error.requires_sign_in && !s->st.gateway) {
		sodium_memzero(s->st.token, sizeof(s->st.token));
		s->st.has_token = false;
		set_state(s, "signed_out", m->u.error.message);
	}
}

static void
c_resources(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;
	char d[32];
	int rc;

	(void)c;
	if ((rc = ipc_msg_clone(m, &s->resources->m, &s->resources->a)) != 0) {
		log_warnc(-rc, "keeping %u resources", m->u.resources.list.n);
		ipc_msg_init(&s->resources->m, IPC_RESOURCES);
	}
	snprintf(d, sizeof(d), "%u", s->resources->m.u.resources.list.n);
	broadcast(s, "resources", d);
}

/* fz-controld has read SIGN_OUT: nothing of the session can follow. */
static void
c_signed_out(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)m;
	(void)arg;
	if (ipc_conn_phase(c) == IPC_CONFIGURED)	/* not signed in again */
		ipc_conn_set_phase(c, IPC_CONFIGURED);
}

static const struct ipc_handler controld_msg[] = {
	{ IPC_HELLO,		c_hello },
	{ IPC_STATUS,		c_status },
	{ IPC_ERROR,		c_error },
	{ IPC_RESOURCES,	c_resources },
	{ IPC_SIGNED_OUT,	c_signed_out },
	IPC_HANDLERS_END
};

/*
 * Either of fz-controld's connections ended.  A child that exits with our
 * messages unread resets the socket: that is an exit (SIGCHLD reports
 * it), not a protocol violation.  Anything else is treated as compromise.
 */
static void
controld_conn_ended(struct svc *s, const char *chan, int err)
{
	if (err == 0 || err == -ECONNRESET || err == -EPIPE || s->cpid <= 0)
		return;
	log_errorx("fz-controld (pid %d) violated the IPC protocol on its %s "
	    "channel (%s): killing it", (int)s->cpid, chan, strerror(-err));
	s->killed_for_violation = true;
	if (kill(s->cpid, SIGKILL) != 0)
		log_warn("kill fz-controld");
	broadcast(s, "error", "fz-controld violated the IPC protocol and "
	    "was restarted");
}

static void
controld_close(struct ipc_conn *c, int err, void *arg)
{
	struct svc *s = arg;

	ipc_conn_free(c);
	s->cconn = NULL;
	controld_conn_ended(s, "control", err);
}

static void
controld_dgram_close(struct ipc_conn *c, int err, void *arg)
{
	struct svc *s = arg;

	ipc_conn_free(c);
	s->dconn = NULL;
	controld_conn_ended(s, "datagram", err);
}

/*
 * Datagrams fz-controld asks us to send.  No socket is registered for
 * them yet (the ICE/TURN client and the DNS stub arrive with the
 * connections issue): count and drop, without trusting sock.
 */
static void
d_dgram_down(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct svc *s = arg;

	(void)c;
	s->dgram_unrouted++;
	log_debug("datagram of %u bytes to %s on socket %u dropped: no such "
	    "socket (%" PRIu64 " so far)", m->u.dgram_down.payload_len,
	    m->u.dgram_down.to, m->u.dgram_down.sock, s->dgram_unrouted);
}

/* The DGRAM section of ipc_msg.def: what fz-controld may send there. */
static const struct ipc_handler controld_dgram_msg[] = {
	{ IPC_DGRAM_DOWN,	d_dgram_down },
	IPC_HANDLERS_END
};

static void
restart_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	spawn_controld(arg);
}

static void
controld_exited(struct svc *s, int wstatus)
{
	struct timeval tv;
	uint64_t up = now_ms() - s->started_ms;

	if (s->spawn_failed)
		;	/* spawn_controld said why */
	else if (WIFSIGNALED(wstatus))
		log_warnx("fz-controld (pid %d) killed by signal %d",
		    (int)s->cpid, WTERMSIG(wstatus));
	else
		log_warnx("fz-controld (pid %d) exited with status %d",
		    (int)s->cpid, WEXITSTATUS(wstatus));
	s->cpid = -1;
	if (s->cconn != NULL) {
		ipc_conn_free(s->cconn);
		s->cconn = NULL;
	}
	if (s->dconn != NULL) {
		ipc_conn_free(s->dconn);
		s->dconn = NULL;
	}
	if (s->stopping)
		return;
	if (up >= STABLE_MS)
		s->backoff_ms = BACKOFF_MIN_MS;
	if (!s->spawn_failed)
		set_state(s, "restarting", "fz-controld exited");
	log_info("restarting fz-controld in %u ms", s->backoff_ms);
	tv.tv_sec = s->backoff_ms / 1000;
	tv.tv_usec = (s->backoff_ms % 1000) * 1000;
	evtimer_add(s->restart_ev, &tv);
	s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    s->backoff_ms * 2;
}

/*
 * What a child that never became fz-controld tells its parent on the status
 * pipe (close-on-exec: end of file means the exec happened).
 */
enum spawn_stage { SPAWN_FDS = 1, SPAWN_USER, SPAWN_EXEC };
struct spawn_report {
	int	stage;
	int	err;		/* positive errno */
};

#define CHILD_IPC_FD	3	/* CONTROL channel */
#define CHILD_DGRAM_FD	4	/* DGRAM channel */
#define CHILD_EXEC_FD	5	/* close-on-exec: gone once exec succeeded */
#define CHILD_STATUS_FD	6	/* close-on-exec too */

static void __attribute__((noreturn))
child_fail(enum spawn_stage stage, int err)
{
	struct spawn_report r = { stage, err };

	if (write(CHILD_STATUS_FD, &r, sizeof(r)) < 0) {
		/* the parent is gone; nothing else to tell */
	}
	_exit(127);
}

/* Moves fd to target (close-on-exec or not); fd may already be target. */
static int
place_fd(int fd, int target, bool cloexec)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0);
	return dup3(fd, target, cloexec ? O_CLOEXEC : 0) < 0 ? -1 : 0;
}

/*
 * In the child: lay out the fds, become the controld user, then exec
 * fz-controld through the descriptor opened while root (the path may sit
 * under a directory the controld user cannot search, e.g. /root/fz).
 */
static void __attribute__((noreturn))
child_exec(struct svc *s, int ipcfd, int dgramfd, int statusfd, int logfd)
{
	const char *argv[14];
	sigset_t none;
	int rc, i = 0, hi[5], null;
	extern char **environ;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	/* Above every target first, so no placement clobbers another. */
	if ((hi[0] = fcntl(statusfd, F_DUPFD_CLOEXEC, 10)) < 0)
		_exit(126);
	if ((hi[1] = fcntl(ipcfd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (hi[2] = fcntl(s->controld_fd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (hi[3] = fcntl(logfd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (hi[4] = fcntl(dgramfd, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    place_fd(hi[0], CHILD_STATUS_FD, true) != 0)
		_exit(126);
	/*
	 * No terminal: its own session (so no controlling tty to push
	 * keystrokes into with TIOCSTI), /dev/null in, our log pipe out.
	 */
	if (setsid() < 0)
		child_fail(SPAWN_FDS, errno);
	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
	    place_fd(null, 0, false) != 0 || place_fd(hi[3], 1, false) != 0 ||
	    place_fd(hi[3], 2, false) != 0)
		child_fail(SPAWN_FDS, errno);
	if (place_fd(hi[1], CHILD_IPC_FD, false) != 0 ||
	    place_fd(hi[4], CHILD_DGRAM_FD, false) != 0 ||
	    place_fd(hi[2], CHILD_EXEC_FD, true) != 0)
		child_fail(SPAWN_FDS, errno);
	/* Everything else is left behind (they are all O_CLOEXEC too). */
	for (int fd = CHILD_STATUS_FD + 1; fd < 1024; fd++)
		(void)close(fd);
	if (getuid() == 0) {
		if ((rc = privsep_caps_set_ep(PRIVSEP_CAP(CAP_SETUID) |
		    PRIVSEP_CAP(CAP_SETGID), PRIVSEP_CAP(CAP_SETUID) |
		    PRIVSEP_CAP(CAP_SETGID))) != 0 ||
		    (rc = privsep_drop_ids(s->user.pw_uid, s->user.pw_gid, 0))
		    != 0)
			child_fail(SPAWN_USER, -rc);
	}
	argv[i++] = "fz-controld";
	argv[i++] = "--ipc-fd";
	argv[i++] = "3";
	argv[i++] = "--dgram-fd";
	argv[i++] = "4";
	argv[i++] = "--user";
	argv[i++] = s->user_name;
	/* The one format controld_log_line reads; we re-emit in ours. */
	argv[i++] = "--log-format";
	argv[i++] = "human";
	argv[i++] = NULL;
	syscall(SYS_execveat, CHILD_EXEC_FD, "", (char *const *)argv, environ,
	    AT_EMPTY_PATH);
	/*
	 * fz-controld is ELF, for which a close-on-exec descriptor is fine.
	 * A wrapper script (--controld) fails with ENOENT instead: its
	 * interpreter opens /dev/fd/5, so that one has to stay open.
	 */
	if (errno == ENOENT && fcntl(CHILD_EXEC_FD, F_SETFD, 0) == 0)
		syscall(SYS_execveat, CHILD_EXEC_FD, "", (char *const *)argv,
		    environ, AT_EMPTY_PATH);
	child_fail(SPAWN_EXEC, errno);
}

/* --- fz-controld's output --------------------------------------------- */

static void
controld_log_line(struct svc *s, const char *line, size_t len, bool cut)
{
	char out[CHILD_LINE_MAX * 4 + 16];
	int level;

	if (len == 0 && !cut)
		return;
	if (!log_ratelimit(&s->log_rl))
		return;
	level = privsep_child_line(line, len, out, sizeof(out));
	log_emit("controld", (enum log_level)level, 0, "%s%s", out,
	    cut ? " [cut]" : "");
}

static void
controld_log_close(struct svc *s)
{
	if (s->loglen > 0 && !s->logskip)
		controld_log_line(s, s->logbuf, s->loglen, false);
	s->loglen = 0;
	s->logskip = false;
	/* Each child starts with a fresh allowance; say what this one lost. */
	if (s->log_rl.suppressed > 0)
		log_warnx("fz-controld: %u similar messages suppressed",
		    s->log_rl.suppressed);
	s->log_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000,
	    CHILD_LINES_PER_S);
	if (s->log_ev != NULL) {
		event_free(s->log_ev);
		s->log_ev = NULL;
	}
	if (s->logfd >= 0) {
		close(s->logfd);
		s->logfd = -1;
	}
}

/*
 * Whatever fz-controld writes on stdout and stderr, logged line by line as
 * coming from it: escaped, cut at CHILD_LINE_MAX, CHILD_LINES_PER_S at
 * most.  It holds no file of its own, so our rotation caps its output.
 */
static void
controld_log_cb(evutil_socket_t fd, short what, void *arg)
{
	struct svc *s = arg;
	ssize_t n;
	size_t start = 0, i;

	(void)what;
	n = read(fd, s->logbuf + s->loglen, sizeof(s->logbuf) - s->loglen);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		controld_log_close(s);
		return;
	}
	s->loglen += (size_t)n;
	for (i = 0; i < s->loglen; i++) {
		if (s->logbuf[i] != '\n')
			continue;
		if (!s->logskip)
			controld_log_line(s, s->logbuf + start, i - start,
			    false);
		s->logskip = false;
		start = i + 1;
	}
	memmove(s->logbuf, s->logbuf + start, s->loglen - start);
	s->loglen -= start;
	if (s->loglen == sizeof(s->logbuf)) {
		if (!s->logskip)
			controld_log_line(s, s->logbuf, s->loglen, true);
		s->logskip = true;	/* until the next newline */
		s->loglen = 0;
	}
}

/*
 * Waits for the child to exec (end of file on the status pipe) or to say
 * why it could not.  Returns 0 once fz-controld runs.
 */
static int
spawn_wait(struct svc *s, int rfd)
{
	struct spawn_report r;
	ssize_t n;

	do
		n = read(rfd, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(r)) {
		log_errorx("fz-controld child (pid %d) died before exec",
		    (int)s->cpid);
		return -EIO;
	}
	switch (r.stage) {
	case SPAWN_USER:
		log_errorc(r.err, "cannot become user %s for fz-controld",
		    s->user_name);
		break;
	case SPAWN_EXEC:
		log_errorc(r.err, "cannot exec fz-controld (%s)",
		    s->controld_path);
		break;
	default:
		log_errorc(r.err, "cannot set up fz-controld's session or "
		    "descriptors");
		break;
	}
	return -(r.err != 0 ? r.err : EIO);
}

static void
spawn_controld(struct svc *s)
{
	struct ipc_conn_config cc = {
		.self = IPC_T, .peer = IPC_C, .program = "fz-tunneld",
		.on_msg = controld_msg, .on_close = controld_close, .arg = s,
	};
	struct ipc_conn_config dc = {
		.self = IPC_T, .peer = IPC_C, .channel = IPC_CH_DGRAM,
		.program = "fz-tunneld", .on_msg = controld_dgram_msg,
		.on_close = controld_dgram_close, .arg = s,
	};
	/* sv: CONTROL, dv: DGRAM, st: exec status, lp: its output */
	int sv[2] = { -1, -1 }, dv[2] = { -1, -1 }, st[2] = { -1, -1 };
	int lp[2] = { -1, -1 }, rc;
	pid_t pid;

	if (s->stopping || s->cpid > 0)
		return;
	controld_log_close(s);		/* the last one's, if still open */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dv) != 0 ||
	    pipe2(st, O_CLOEXEC) != 0 ||
	    pipe2(lp, O_CLOEXEC | O_NONBLOCK) != 0) {
		log_warn("socketpairs and pipes for fz-controld");
		goto fail;
	}
	if ((pid = fork()) < 0) {
		log_warn("fork fz-controld");
		goto fail;
	}
	if (pid == 0) {
		close(sv[0]);
		close(dv[0]);
		close(st[0]);
		close(lp[0]);
		/* The child's end blocks: a full pipe slows it, not us. */
		(void)fcntl(lp[1], F_SETFL, 0);
		child_exec(s, sv[1], dv[1], st[1], lp[1]);
	}
	close(sv[1]);
	close(dv[1]);
	close(st[1]);
	close(lp[1]);
	s->logfd = lp[0];
	if ((s->log_ev = event_new(s->base, s->logfd, EV_READ | EV_PERSIST,
	    controld_log_cb, s)) == NULL || event_add(s->log_ev, NULL) != 0)
		log_warnx("cannot read fz-controld's output");
	s->cpid = pid;
	s->started_ms = now_ms();
	s->killed_for_violation = false;
	rc = spawn_wait(s, st[0]);
	close(st[0]);
	s->spawn_failed = rc != 0;
	if (rc != 0) {
		char d[300];

		close(sv[0]);
		close(dv[0]);
		snprintf(d, sizeof(d), "cannot start fz-controld: %s",
		    strerror(-rc));
		set_state(s, "restarting", d);
		return;		/* SIGCHLD reaps it and brings the retry */
	}
	if (s->restarts++ > 0)
		log_info("fz-controld restarted (pid %d, restart %u)", (int)pid,
		    s->restarts - 1);
	else
		log_info("fz-controld started (pid %d, user %s)", (int)pid,
		    s->user_name);
	if ((rc = ipc_conn_new(s->base, sv[0], &cc, &s->cconn)) != 0) {
		log_warnc(-rc, "IPC to fz-controld");
		close(sv[0]);
		close(dv[0]);
		kill(pid, SIGKILL);
		return;		/* SIGCHLD brings the retry */
	}
	if ((rc = ipc_conn_new(s->base, dv[0], &dc, &s->dconn)) != 0) {
		log_warnc(-rc, "datagram IPC to fz-controld");
		close(dv[0]);
		kill(pid, SIGKILL);
		return;		/* SIGCHLD brings the retry */
	}
	controld_greet(s);
	set_state(s, s->st.has_token ? "connecting" : "signed_out", "");
	return;
fail:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (dv[i] >= 0)
			close(dv[i]);
		if (st[i] >= 0)
			close(st[i]);
		if (lp[i] >= 0)
			close(lp[i]);
	}
	{
		struct timeval tv = { 1, 0 };

		evtimer_add(s->restart_ev, &tv);
	}
}

/* --- front ends -------------------------------------------------------- */

static void
fe_send(struct frontend *f, const struct ipc_msg *m)
{
	int rc;

	if ((rc = ipc_send(f->conn, m)) != 0)
		log_debug("reply %s to pid %d: %s", ipc_type_name(m->type),
		    (int)f->pid, strerror(-rc));
}

static void
fe_result(struct frontend *f, int err, const char *msg)
{
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_RESULT);
	m.u.result.error = err;
	m.u.result.message = msg;
	fe_send(f, &m);
}

static void
fe_status(struct svc *s, struct frontend *f)
{
	struct ipc_msg m;
	struct tunnel_status_fields;
	char filter[513];

	ipc_msg_init(&m, IPC_TUNNEL_STATUS);
	m.u.tunnel_status.state = s->state;
	m.u.tunnel_status.detail = s->detail;
	m.u.tunnel_status.mode = s->st.gateway ? "gateway" : "client";
	m.u.tunnel_status.signed_in = s->st.has_token;
	m.u.tunnel_status.api_url = s->st.api_url;
	m.u.tunnel_status.account = s->account;
	m.u.tunnel_status.firezone_id = s->st.firezone_id;
	if (s->tun != NULL)
		m.u.tunnel_status.interface = s->tun->name;
	log_get_filter(filter, sizeof(filter));
	m.u.tunnel_status.log_filter = filter;
	m.u.tunnel_status.controld_pid = s->cpid;
	m.u.tunnel_status.controld_restarts = s->restarts > 0 ?
	    s->restarts - 1 : 0;
	m.u.tunnel_status.uptime_s = time_mono_ns() / 1000000000ULL -
	    s->start_s;
	m.u.tunnel_status.version = PACKAGE_VERSION;
	fe_send(f, &m);
}

static void
apply_filter(struct svc *s, const char *filter)
{
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_SET_LOG_FILTER);
	m.u.set_log_filter.filter = filter;
	(void)send_to_controld(s, &m);
}

/*
 * Sign-in: everything is checked into locals before the service changes.
 * A non-root member of fz-client may not point the service at another
 * portal than the one in use (configured, or set by root) unless
 * --frontend-allow-portal-url: the portal decides which routes and DNS
 * servers this machine gets.
 */
static void
fe_sign_in(struct svc *s, struct frontend *f, const struct ipc_sign_in *in)
{
	char *token, url[sizeof(s->st.api_url)];
	int rc;

	if ((token = malloc(sizeof(s->st.token))) == NULL) {
		fe_result(f, -ENOMEM, "out of memory");
		return;
	}
	if (s->st.gateway) {
		fe_result(f, -EOPNOTSUPP, "a gateway takes its token from "
		    "FIREZONE_TOKEN");
		goto out;
	}
	rc = settings_token_check(in->token, strlen(in->token), token,
	    sizeof(s->st.token));
	if (rc != 0) {
		fe_result(f, -EINVAL, "not a token");
		goto out;
	}
	snprintf(url, sizeof(url), "%s", s->st.api_url);
	if (in->api_url[0] != '\0' &&
	    settings_api_url(in->api_url, url, sizeof(url)) != 0) {
		fe_result(f, -EINVAL, "the portal URL must be ws://, wss://, "
		    "http:// or https://");
		goto out;
	}
	if (strcmp(url, s->st.api_url) != 0 && f->uid != 0 &&
	    !s->st.fe_allow_portal_url) {
		if (log_ratelimit(&s->fe_rl))
			log_warnx("refused sign-in by uid %u to portal %s: "
			    "only root may change the portal URL "
			    "(--frontend-allow-portal-url)", (unsigned)f->uid,
			    url);
		fe_result(f, -EPERM, "permission denied: only root may sign "
		    "in to another portal than the one in use (fz-tunneld "
		    "--frontend-allow-portal-url)");
		goto out;
	}
	memcpy(s->st.token, token, sizeof(s->st.token));
	memcpy(s->st.api_url, url, sizeof(s->st.api_url));
	snprintf(s->account, sizeof(s->account), "%s", in->account);
	s->st.has_token = true;
	log_info("sign-in requested by uid %u (portal %s, account '%s')",
	    (unsigned)f->uid, s->st.api_url, s->account);
	send_sign_in(s);
	set_state(s, "connecting", s->st.api_url);
	fe_result(f, 0, "signing in");
out:
	sodium_memzero(token, sizeof(s->st.token));
	free(token);
}

/*
 * A non-root member of fz-client may make logging quieter down to warn,
 * not below (error or off, for any module), unless
 * --frontend-allow-log-off: warnings are where refusals and protocol
 * violations are recorded.  The change itself is logged before it
 * applies.
 */
static void
fe_set_log_filter(struct svc *s, struct frontend *f, const char *filter)
{
	enum log_level min;

	if (log_filter_min_level(filter, &min) != 0) {
		fe_result(f, -EINVAL, "bad log filter");
		return;
	}
	if (min < LOG_LVL_WARN && f->uid != 0 && !s->st.fe_allow_log_off) {
		if (log_ratelimit(&s->fe_rl))
			log_warnx("refused log filter '%s' from uid %u: below "
			    "warn (--frontend-allow-log-off)", filter,
			    (unsigned)f->uid);
		fe_result(f, -EPERM, "permission denied: only root may set a "
		    "log filter below warn (fz-tunneld "
		    "--frontend-allow-log-off)");
		return;
	}
	log_info("log filter set to '%s' by uid %u", filter,
	    (unsigned)f->uid);
	if (log_set_filter(filter) != 0) {
		fe_result(f, -EINVAL, "bad log filter");
		return;
	}
	apply_filter(s, filter);
	fe_result(f, 0, "log filter set");
}

/*
 * Requests from front ends: one handler per type the FRONT section of
 * ipc_msg.def lets them send.  A refused connection reads nothing more
 * (ipc_conn_close_after_flush).
 */
static void
f_hello(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	if (f->hello_ev != NULL)
		evtimer_del(f->hello_ev);
	log_debug("front end %s (pid %d, uid %u) connected",
	    m->u.hello.program, (int)f->pid, (unsigned)f->uid);
}

static void
f_sign_in(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	fe_sign_in(f->svc, f, &m->u.sign_in);
}

static void
f_sign_out(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;
	struct svc *s = f->svc;

	(void)c;
	(void)m;
	if (s->st.gateway) {
		fe_result(f, -EOPNOTSUPP, "a gateway cannot sign out");
		return;
	}
	sodium_memzero(s->st.token, sizeof(s->st.token));
	s->st.has_token = false;
	send_sign_out(s);
	log_info("signed out by uid %u", (unsigned)f->uid);
	set_state(s, "signed_out", "");
	fe_result(f, 0, "signed out");
}

static void
f_set_log_filter(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	fe_set_log_filter(f->svc, f, m->u.set_log_filter.filter);
}

static void
f_status_get(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	(void)m;
	fe_status(f->svc, f);
}

static void
f_resources_get(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;
	struct svc *s = f->svc;
	struct ipc_msg r;

	(void)c;
	(void)m;
	ipc_msg_init(&r, IPC_RESOURCES);
	if (s->resources->m.type == IPC_RESOURCES)
		r.u.resources.list = s->resources->m.u.resources.list;
	fe_send(f, &r);
}

static void
f_subscribe(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	(void)m;
	f->subscribed = true;
	fe_result(f, 0, "subscribed");
}

static const struct ipc_handler fe_msg[] = {
	{ IPC_HELLO,		f_hello },
	{ IPC_SIGN_IN,		f_sign_in },
	{ IPC_SIGN_OUT,		f_sign_out },
	{ IPC_SET_LOG_FILTER,	f_set_log_filter },
	{ IPC_STATUS_GET,	f_status_get },
	{ IPC_RESOURCES_GET,	f_resources_get },
	{ IPC_SUBSCRIBE,	f_subscribe },
	IPC_HANDLERS_END
};

static void
fe_close(struct ipc_conn *c, int err, void *arg)
{
	struct frontend *f = arg;

	(void)c;
	if (err != 0 && err != -ECONNRESET && err != -EPIPE &&
	    log_ratelimit(&f->svc->fe_rl))
		log_warnx("front end pid %d (uid %u): %s; disconnected",
		    (int)f->pid, (unsigned)f->uid, strerror(-err));
	fe_free(f);
}

/* Safe inside the connection's own callbacks. */
static void
fe_free(struct frontend *f)
{
	if (f->hello_ev != NULL)
		event_free(f->hello_ev);
	f->hello_ev = NULL;
	ipc_conn_free(f->conn);
	f->conn = NULL;
	f->used = false;
}

/* A connection that has not said HELLO in time holds a slot for nothing. */
static void
fe_hello_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct frontend *f = arg;

	(void)fd;
	(void)what;
	if (ipc_conn_ready(f->conn))
		return;
	if (log_ratelimit(&f->svc->fe_rl))
		log_warnx("front end pid %d (uid %u) sent no HELLO within "
		    "%d s; disconnected", (int)f->pid, (unsigned)f->uid,
		    FE_HELLO_TIMEOUT_S);
	fe_free(f);
}

/* Root, or a member of fz-client (primary or supplementary group). */
static bool
peer_allowed(struct svc *s, const struct ucred *cr)
{
	struct passwd *pw;
	static gid_t groups[256];	/* off the stack; one thread */
	int n = 256, i;

	if (cr->uid == 0)
		return true;
	if (!s->have_client_group)
		return false;
	if (cr->gid == s->client_gid)
		return true;
	if ((pw = getpwuid(cr->uid)) == NULL)
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (groups[i] == s->client_gid)
			return true;
	return false;
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct svc *s = arg;
	struct ipc_conn_config cc = {
		.self = IPC_T, .peer = IPC_F, .program = "fz-tunneld",
		.on_msg = fe_msg, .on_close = fe_close,
	};
	struct timeval hello_tv = { FE_HELLO_TIMEOUT_S, 0 };
	struct frontend *f = NULL;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	unsigned same_uid = 0, nonroot = 0;
	char msg[200];
	int fd, i, err = 0;

	(void)what;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		close(fd);
		return;
	}
	for (i = 0; i < MAX_FRONTENDS; i++) {
		struct frontend *e = &s->fe[i];

		if (!e->used) {
			if (f == NULL)
				f = e;
			continue;
		}
		if (e->refused)
			continue;
		same_uid += e->uid == cr.uid;
		nonroot += e->uid != 0;
	}
	if (f == NULL) {
		if (log_ratelimit(&s->fe_rl))
			log_warnx("%d front-end connections; refusing pid %d "
			    "(uid %u)", MAX_FRONTENDS, (int)cr.pid,
			    (unsigned)cr.uid);
		close(fd);
		return;
	}
	memset(f, 0, sizeof(*f));
	f->svc = s;
	f->uid = cr.uid;
	f->pid = cr.pid;
	cc.arg = f;
	if (ipc_conn_new(s->base, fd, &cc, &f->conn) != 0) {
		close(fd);
		return;
	}
	f->used = true;
	if ((f->hello_ev = evtimer_new(s->base, fe_hello_timeout, f)) == NULL ||
	    evtimer_add(f->hello_ev, &hello_tv) != 0) {
		fe_free(f);
		return;
	}
	/*
	 * Root is never capped per uid and has FE_ROOT_RESERVED slots to
	 * itself, so that the group's members cannot lock the admin out.
	 */
	if (!peer_allowed(s, &cr)) {
		err = -EACCES;
		snprintf(msg, sizeof(msg), "permission denied: uid %u is not "
		    "root or a member of group %s", (unsigned)cr.uid,
		    CLIENT_GROUP);
	} else if (cr.uid != 0 && same_uid >= FE_MAX_PER_UID) {
		err = -EUSERS;
		snprintf(msg, sizeof(msg), "too many connections: uid %u has "
		    "%u open (at most %d)", (unsigned)cr.uid, same_uid,
		    FE_MAX_PER_UID);
	} else if (cr.uid != 0 &&
	    nonroot >= MAX_FRONTENDS - FE_ROOT_RESERVED) {
		err = -EUSERS;
		snprintf(msg, sizeof(msg), "too many front-end connections "
		    "(%d; the rest are kept for root)",
		    MAX_FRONTENDS - FE_ROOT_RESERVED);
	}
	if (err == 0)
		return;
	if (log_ratelimit(&s->fe_rl))
		log_warnx("refused front end pid %d: %s", (int)cr.pid, msg);
	f->refused = true;
	fe_result(f, err, msg);
	ipc_conn_close_after_flush(f->conn);
}

/* --- setup ------------------------------------------------------------- */

static int
open_listener(struct svc *s)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)];
	int n, fd;

	n = sd_listen_fds(1);
	if (n > 1) {
		log_errorx("systemd passed %d sockets; expected one", n);
		return -EINVAL;
	}
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_errorx("the socket systemd passed is not a "
			    "listening Unix stream socket");
			return -EINVAL;
		}
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (ipc_refuse_fds(fd) < 0)	/* front ends pass none */
			log_warn("SO_PASSRIGHTS on the systemd socket");
		s->listen_fd = fd;
		log_info("front-end socket from systemd (socket activation)");
		return 0;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(s->o->socket_path) >= sizeof(sun.sun_path)) {
		log_errorx("--socket %s: path too long", s->o->socket_path);
		return -ENAMETOOLONG;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->o->socket_path);
	snprintf(dir, sizeof(dir), "%s", s->o->socket_path);
	if (mkdir(dirname(dir), 0755) != 0 && errno != EEXIST)
		log_warn("mkdir %s", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(sun.sun_path);	/* a stale socket from a crash */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, 16) != 0) {
		n = -errno;
		log_warn("%s", sun.sun_path);
		close(fd);
		return n;
	}
	/* 0660, group fz-client when it exists (else root only). */
	if (chown(sun.sun_path, 0, s->have_client_group ? s->client_gid : 0)
	    != 0 || chmod(sun.sun_path, 0660) != 0)
		log_warn("%s: ownership", sun.sun_path);
	/*
	 * Front ends pass no descriptors: refuse them from connect() on, not
	 * only once accept() has set up the IPC connection.
	 */
	if (ipc_refuse_fds(fd) < 0)
		log_warn("%s: SO_PASSRIGHTS", sun.sun_path);
	s->listen_fd = fd;
	s->socket_created = true;
	log_info("listening on %s", sun.sun_path);
	return 0;
}

static int
find_controld(struct svc *s)
{
	char self[4096];
	ssize_t n;

	if (s->o->controld != NULL) {
		snprintf(s->controld_path, sizeof(s->controld_path), "%s",
		    s->o->controld);
	} else {
		/* Next to this binary: the build tree and an install alike. */
		if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
			return -errno;
		self[n] = '\0';
		snprintf(s->controld_path, sizeof(s->controld_path),
		    "%s/fz-controld", dirname(self));
	}
	/*
	 * Opened now, as root: the child execs this descriptor after it
	 * became the controld user, who may not be able to reach the path.
	 */
	s->controld_fd = open(s->controld_path, O_PATH | O_CLOEXEC);
	if (s->controld_fd < 0 || access(s->controld_path, X_OK) != 0) {
		log_errorx("fz-controld not found at %s (use --controld PATH)",
		    s->controld_path);
		return -ENOENT;
	}
	return 0;
}

static int
open_dataplane(struct svc *s)
{
	struct dp_config dc;
	uint8_t priv[WG_KEY_LEN];
	const char *ifname = s->o->ifname != NULL ? s->o->ifname :
	    DEFAULT_IFNAME;
	int rc, mtu = s->o->mtu > 0 ? s->o->mtu : TUNNELD_DEFAULT_MTU;

	if ((rc = tun_open(ifname, s->o->tun_queues, &s->tun)) != 0) {
		log_warnc(-rc, "%s: cannot create the TUN device", ifname);
		return rc;
	}
	/* The device key; its public half goes to the portal on sign-in. */
	randombytes_buf(priv, sizeof(priv));
	rc = wg_device_new(priv, &s->dev);
	sodium_memzero(priv, sizeof(priv));
	if (rc != 0)
		return rc;
	memset(&dc, 0, sizeof(dc));
	dc.mtu = mtu;
	dc.port = 0;
	if ((rc = dp_new(s->dev, s->tun, &dc, &s->dp)) != 0) {
		log_warnc(-rc, "data plane");
		return rc;
	}
	if ((rc = nl_new(&s->nl)) != 0 ||
	    (rc = nl_link_up(s->nl, s->tun->ifindex, mtu)) != 0) {
		log_warnc(-rc, "%s: link up", s->tun->name);
		return rc;
	}
	log_info("%s: %d queue(s), MTU %d, UDP port %u", s->tun->name,
	    s->tun->nqueues, mtu, dp_port(s->dp));
	return 0;
}

static int
drop_privileges(void)
{
	uint64_t eff = PRIVSEP_CAP(CAP_NET_ADMIN) | PRIVSEP_CAP(CAP_KILL);
	uint64_t perm = eff | PRIVSEP_CAP(CAP_SETUID) | PRIVSEP_CAP(CAP_SETGID);
	int rc;

	if (getuid() != 0)
		return 0;
	/*
	 * The bounding set only limits what an exec can gain, and the only
	 * thing tunneld execs is fz-controld: empty it (while CAP_SETPCAP is
	 * still here) so the child starts with nothing to regain.
	 */
	if ((rc = privsep_caps_limit(0)) != 0 ||
	    (rc = privsep_caps_set_ep(eff, perm)) != 0 ||
	    (rc = privsep_no_new_privs()) != 0)
		return rc;
	return 0;
}

static void
reload_filter(struct svc *s)
{
	char buf[600];
	const char *f = s->configured_filter;
	FILE *fp;

	if (s->o->log_filter_file != NULL &&
	    (fp = fopen(s->o->log_filter_file, "re")) != NULL) {
		if (fgets(buf, sizeof(buf), fp) != NULL) {
			buf[strcspn(buf, "\r\n")] = '\0';
			f = buf;
		}
		fclose(fp);
	}
	if (log_set_filter(f) != 0) {
		log_warnx("SIGHUP: bad log filter '%s'; unchanged", f);
		return;
	}
	apply_filter(s, f);
	log_info("SIGHUP: log filter '%s'", f);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct svc *s = arg;
	int wstatus;
	pid_t pid;

	(void)what;
	switch (sig) {
	case SIGHUP:
		reload_filter(s);
		break;
	case SIGCHLD:
		while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
			if (pid == s->cpid)
				controld_exited(s, wstatus);
		break;
	default:
		log_info("signal %d: shutting down", (int)sig);
		s->stopping = true;
		s->status = 0;
		event_base_loopbreak(s->base);
		break;
	}
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

static void
stop_controld(struct svc *s)
{
	int i, wstatus;

	if (s->cconn != NULL) {
		ipc_conn_free(s->cconn);
		s->cconn = NULL;
	}
	if (s->dconn != NULL) {
		ipc_conn_free(s->dconn);
		s->dconn = NULL;
	}
	if (s->cpid <= 0)
		return;
	kill(s->cpid, SIGTERM);
	for (i = 0; i < 100; i++) {
		if (waitpid(s->cpid, &wstatus, WNOHANG) == s->cpid) {
			s->cpid = -1;
			return;
		}
		usleep(10000);
	}
	kill(s->cpid, SIGKILL);
	waitpid(s->cpid, &wstatus, 0);
	s->cpid = -1;
}

/* After stop_controld: its last words, then the pipe goes. */
static void
drain_controld_log(struct svc *s)
{
	int i;

	for (i = 0; i < 64 && s->logfd >= 0; i++)
		controld_log_cb(s->logfd, EV_READ, s);
	controld_log_close(s);
}

int
service_run(const struct tunneld_opts *o)
{
	static struct svc sv;
	struct svc *s = &sv;
	static const int sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	struct passwd *pw;
	struct group *gr;
	char err[512] = "";
	uint64_t wd_usec = 0;
	int i, rc;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->listen_fd = -1;
	s->controld_fd = -1;
	s->logfd = -1;
	s->log_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1000,
	    CHILD_LINES_PER_S);
	s->cpid = -1;
	s->status = 1;
	s->backoff_ms = BACKOFF_MIN_MS;
	s->start_s = time_mono_ns() / 1000000000ULL;
	snprintf(s->state, sizeof(s->state), "starting");
	log_get_filter(s->configured_filter, sizeof(s->configured_filter));
	if (sodium_init() < 0)
		return 1;
	if ((s->resources = calloc(1, sizeof(*s->resources))) == NULL)
		return 1;

	if ((rc = settings_load(&s->st, o, err, sizeof(err))) != 0) {
		log_errorx("%s", err);
		goto out;
	}
	s->fe_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000, 20);
	snprintf(s->user_name, sizeof(s->user_name), "%s",
	    o->user != NULL ? o->user : DEFAULT_USER);
	if ((pw = getpwnam(s->user_name)) == NULL || pw->pw_uid == 0) {
		log_errorx("user %s %s (create it with systemd-sysusers, or "
		    "pass --user)", s->user_name, pw == NULL ?
		    "does not exist" : "is root");
		goto out;
	}
	s->user = *pw;
	if ((gr = getgrnam(CLIENT_GROUP)) != NULL) {
		s->client_gid = gr->gr_gid;
		s->have_client_group = true;
	}
	if (find_controld(s) != 0)
		goto out;
	if (o->check) {
		printf("mode %s, api %s, id %s, name %s, dns %s, token %s, "
		    "controld %s as %s\n", s->st.gateway ? "gateway" : "client",
		    s->st.api_url, s->st.firezone_id, s->st.name,
		    s->st.dns_control, s->st.has_token ? "present" : "absent",
		    s->controld_path, s->user_name);
		s->status = 0;
		goto out;
	}
	if (getuid() != 0) {
		log_errorx("service mode needs root (the TUN device, routes "
		    "and DNS)");
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((s->base = event_base_new()) == NULL)
		goto out;
	if (open_listener(s) != 0)
		goto out;
	if (open_dataplane(s) != 0)
		goto out;
	if ((rc = drop_privileges()) != 0) {
		log_errorc(-rc, "dropping privileges");
		goto out;
	}
	if ((rc = dp_start(s->dp)) != 0) {
		log_warnc(-rc, "starting workers");
		goto out;
	}
	if (!o->no_seccomp && (rc = tunneld_sandbox(true, o->seccomp)) != 0) {
		log_errorc(-rc, "seccomp");
		goto out;
	}
	s->accept_ev = event_new(s->base, s->listen_fd, EV_READ | EV_PERSIST,
	    accept_cb, s);
	event_add(s->accept_ev, NULL);
	for (i = 0; i < 4; i++) {
		s->sig_ev[i] = evsignal_new(s->base, sigs[i], signal_cb, s);
		event_add(s->sig_ev[i], NULL);
	}
	s->restart_ev = evtimer_new(s->base, restart_cb, s);
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		struct timeval tv = { (time_t)(wd_usec / 2000000),
		    (suseconds_t)(wd_usec / 2 % 1000000) };

		s->wd_ev = event_new(s->base, -1, EV_PERSIST, watchdog_cb, s);
		event_add(s->wd_ev, &tv);
	}
	spawn_controld(s);
	log_info("fz-tunneld %s ready (%s mode, device id %s)",
	    PACKAGE_VERSION, s->st.gateway ? "gateway" : "client",
	    s->st.firezone_id);
	notify_status("READY=1\n", s->state, s->detail);
	event_base_dispatch(s->base);
	sd_notify(0, "STOPPING=1");
out:
	s->stopping = true;
	stop_controld(s);
	drain_controld_log(s);
	for (i = 0; i < MAX_FRONTENDS; i++)
		if (s->fe[i].used)
			fe_free(&s->fe[i]);
	if (s->dp != NULL)
		dp_free(s->dp);
	if (s->nl != NULL)
		nl_free(s->nl);
	wg_device_free(s->dev);
	tun_close(s->tun);
	if (s->socket_created)
		(void)unlink(o->socket_path);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->controld_fd >= 0)
		close(s->controld_fd);
	for (i = 0; i < 4; i++)
		if (s->sig_ev[i] != NULL)
			event_free(s->sig_ev[i]);
	if (s->accept_ev != NULL)
		event_free(s->accept_ev);
	if (s->restart_ev != NULL)
		event_free(s->restart_ev);
	if (s->wd_ev != NULL)
		event_free(s->wd_ev);
	if (s->base != NULL)
		event_base_free(s->base);
	sodium_memzero(s->st.token, sizeof(s->st.token));
	if (s->resources != NULL)
		ipc_arena_free(&s->resources->a);
	free(s->resources);
	return s->status;
}
