/* SPDX-License-Identifier: ISC */
/*
 * Interop: fz's ICE agent against libnice (RFC 5245/8445 mode) on loopback
 * UDP.  usage: ice_nice controlling|controlled|controlled-aggressive
 * (fz's role; libnice takes the other one, with regular nomination, or
 * with aggressive nomination for the last).
 *
 * The process forks: the child runs libnice on a GMainLoop, the parent
 * runs controld/ice through a small libevent driver on its own UDP socket.
 * They swap credentials and candidate strings over two pipes ("ufrag X",
 * "pwd Y", "cand <sdp>", "end").  Both must reach connected with the same
 * pair, then the parent sends "ping" on its selected pair and libnice
 * answers "pong" on its own.  Exit 0 on success, 1 on failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <nice/agent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ice.h"

#define FZ_UFRAG	"fzuf"
#define FZ_PWD		"fzpasswordfzpassword12"

/* ---- the libnice side (child) ---- */

struct nice_side {
	GMainLoop	*loop;
	NiceAgent	*agent;
	guint		 stream;
	FILE		*in, *out;
	bool		 ready, got_ping;
	NiceAddress	 fz_addr;	/* fz's candidate */
	int		 rc;
};

/*
 * The controlling side may select (and send) before the controlled one
 * is ready: answer once both have happened.
 */
static void
answer(struct nice_side *ns)
{
	if (!ns->ready || !ns->got_ping)
		return;
	if (nice_agent_send(ns->agent, ns->stream, 1, 4, "pong") != 4)
		ns->rc = 1;
	g_main_loop_quit(ns->loop);
}

static void
nice_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf,
    gpointer data)
{
	struct nice_side *ns = data;

	(void)agent;
	(void)stream;
	(void)comp;
	if (len == 4 && memcmp(buf, "ping", 4) == 0) {
		ns->got_ping = true;
		answer(ns);
	}
}

static void
nice_state(NiceAgent *agent, guint stream, guint comp, guint state,
    gpointer data)
{
	struct nice_side *ns = data;

	(void)agent;
	(void)stream;
	(void)comp;
	fprintf(stderr, "libnice: component state %s\n",
	    nice_component_state_to_string(state));
	if (state == NICE_COMPONENT_STATE_READY) {
		ns->ready = true;
		answer(ns);
	}
	if (state == NICE_COMPONENT_STATE_FAILED) {
		ns->rc = 1;
		g_main_loop_quit(ns->loop);
	}
}

static void
nice_gathered(NiceAgent *agent, guint stream, gpointer data)
{
	struct nice_side *ns = data;
	gchar *ufrag, *pwd, line[512];
	GSList *cands, *l, *remote = NULL;

	if (!nice_agent_get_local_credentials(agent, stream, &ufrag, &pwd))
		goto fail;
	fprintf(ns->out, "ufrag %s\npwd %s\n", ufrag, pwd);
	g_free(ufrag);
	g_free(pwd);
	cands = nice_agent_get_local_candidates(agent, stream, 1);
	for (l = cands; l != NULL; l = l->next) {
		gchar *sdp = nice_agent_generate_local_candidate_sdp(agent,
		    l->data);

		fprintf(ns->out, "cand %s\n", sdp);
		g_free(sdp);
	}
	g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
	fprintf(ns->out, "end\n");
	fflush(ns->out);

	ufrag = pwd = NULL;
	while (fgets(line, sizeof(line), ns->in) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "ufrag ", 6) == 0)
			ufrag = g_strdup(line + 6);
		else if (strncmp(line, "pwd ", 4) == 0)
			pwd = g_strdup(line + 4);
		else if (strncmp(line, "cand ", 5) == 0) {
			/* libnice wants the SDP attribute line form. */
			gchar *sdp = g_strdup_printf("a=%s", line + 5);
			NiceCandidate *c;

			c = nice_agent_parse_remote_candidate_sdp(agent,
			    stream, sdp);

			g_free(sdp);

			if (c != NULL)
				ns->fz_addr = c->addr;
			if (c == NULL) {
				fprintf(stderr, "libnice: cannot parse %s\n",
				    line + 5);
				goto fail;
			}
			remote = g_slist_append(remote, c);
		} else if (strcmp(line, "end") == 0)
			break;
	}
	if (ufrag == NULL || pwd == NULL || remote == NULL ||
	    !nice_agent_set_remote_credentials(agent, stream, ufrag, pwd) ||
	    nice_agent_set_remote_candidates(agent, stream, 1, remote) < 1)
		goto fail;
	g_free(ufrag);
	g_free(pwd);
	g_slist_free_full(remote, (GDestroyNotify)nice_candidate_free);
	return;
fail:
	ns->rc = 1;
	g_main_loop_quit(ns->loop);
}

static gboolean
nice_timeout(gpointer data)
{
	struct nice_side *ns = data;

	fprintf(stderr, "libnice: timeout\n");
	ns->rc = 1;
	g_main_loop_quit(ns->loop);
	return G_SOURCE_REMOVE;
}

static int
run_nice(int in_fd, int out_fd, bool controlling, bool aggressive)
{
	struct nice_side ns = { 0 };
	NiceAddress addr;
	NiceCandidate *lc = NULL, *rc = NULL;

	ns.in = fdopen(in_fd, "r");
	ns.out = fdopen(out_fd, "w");
	ns.loop = g_main_loop_new(NULL, FALSE);
	ns.agent = nice_agent_new_full(NULL, NICE_COMPATIBILITY_RFC5245,
	    aggressive ? 0 : NICE_AGENT_OPTION_REGULAR_NOMINATION);
	g_object_set(ns.agent, "controlling-mode", controlling,
	    "ice-tcp", FALSE, "upnp", FALSE, NULL);
	nice_address_init(&addr);
	if (!nice_address_set_from_string(&addr, "127.0.0.1") ||
	    !nice_agent_add_local_address(ns.agent, &addr))
		return 1;
	g_signal_connect(ns.agent, "candidate-gathering-done",
	    G_CALLBACK(nice_gathered), &ns);
	g_signal_connect(ns.agent, "component-state-changed",
	    G_CALLBACK(nice_state), &ns);
	ns.stream = nice_agent_add_stream(ns.agent, 1);
	nice_agent_attach_recv(ns.agent, ns.stream, 1,
	    g_main_loop_get_context(ns.loop), nice_recv, &ns);
	if (!nice_agent_gather_candidates(ns.agent, ns.stream))
		return 1;
	g_timeout_add_seconds(15, nice_timeout, &ns);
	g_main_loop_run(ns.loop);
	if (ns.rc == 0 && !(ns.ready && ns.got_ping))
		ns.rc = 1;
	if (ns.rc == 0 && nice_agent_get_selected_pair(ns.agent, ns.stream, 1,
	    &lc, &rc)) {
		gchar a[NICE_ADDRESS_STRING_LEN];

		nice_address_to_string(&rc->addr, a);
		fprintf(stderr, "libnice: selected pair to %s:%u\n", a,
		    nice_address_get_port(&rc->addr));
		/* Nomination agrees: libnice sends to fz's candidate. */
		if (!nice_address_equal(&rc->addr, &ns.fz_addr))
			ns.rc = 1;
	} else if (ns.rc == 0)
		ns.rc = 1;
	/* Let the pong and any last check answers leave. */
	g_usleep(300000);
	g_object_unref(ns.agent);
	g_main_loop_unref(ns.loop);
	return ns.rc;
}

/* ---- the fz side (parent) ---- */

struct fz_side {
	struct event_base	*base;
	struct event		*rd, *timer;
	struct ice_agent	*ag;
	int			 fd;
	bool			 connected, got_pong;
	uint64_t		 last_ping;
	union fz_sockaddr	 nice_addr;	/* libnice's candidate */
	int			 rc;
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
fz_flush(struct fz_side *fs)
{
	struct ice_transmit t;
	struct ice_event ev;
	struct ice_pair_info pi;
	uint64_t now = mono_ns(), d;
	struct timeval tv;

	while (ice_agent_poll_transmit(fs->ag, &t))
		if (sendto(fs->fd, t.buf, t.len, 0, &t.dst.sa,
		    addr_len(&t.dst.sa)) < 0)
			perror("sendto");
	while (ice_agent_poll_event(fs->ag, &ev)) {
		char s[ADDR_STRLEN];

		if (ev.type == ICE_EV_STATE) {
			fprintf(stderr, "fz: state %s\n",
			    ice_state_name(ev.state));
			fs->connected = ev.state == ICE_STATE_CONNECTED;
			if (ev.state == ICE_STATE_FAILED) {
				fs->rc = 1;
				event_base_loopexit(fs->base, NULL);
			}
		} else if (ev.type == ICE_EV_SELECTED &&
		    addr_fmt(&ev.pair.remote.sa, true, s, sizeof(s)) == 0) {
			fprintf(stderr, "fz: selected pair to %s\n", s);
			if (!addr_eq(&ev.pair.remote.sa, &fs->nice_addr.sa))
				fs->rc = 1;
		}
	}
	/* Ping on the selected pair every 200 ms until the answer. */
	if (fs->connected && !fs->got_pong &&
	    now >= fs->last_ping + 200000000ULL &&
	    ice_agent_selected(fs->ag, &pi) == 0) {
		if (sendto(fs->fd, "ping", 4, 0, &pi.remote.sa,
		    addr_len(&pi.remote.sa)) == 4)
			fs->last_ping = now;
	}
	d = ice_agent_deadline(fs->ag);
	if (fs->connected && !fs->got_pong && d > fs->last_ping + 200000000ULL)
		d = fs->last_ping + 200000000ULL;
	if (d != UINT64_MAX) {
		d = d > now ? d - now : 0;
		tv.tv_sec = (time_t)(d / 1000000000ULL);
		tv.tv_usec = (suseconds_t)(d % 1000000000ULL / 1000);
		evtimer_add(fs->timer, &tv);
	}
}

static void
fz_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct fz_side *fs = arg;

	(void)fd;
	(void)what;
	ice_agent_tick(fs->ag, mono_ns());
	fz_flush(fs);
}

static void
fz_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct fz_side *fs = arg;
	union fz_sockaddr from;
	socklen_t fl = sizeof(from);
	uint8_t buf[1500];
	ssize_t n;

	(void)what;
	while ((n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, &from.sa,
	    &fl)) >= 0) {
		if (!ice_agent_recv(fs->ag, 1, NULL, &from.sa, buf, (size_t)n,
		    mono_ns())) {
			if (n == 4 && memcmp(buf, "pong", 4) == 0) {
				fs->got_pong = true;
				event_base_loopexit(fs->base, NULL);
			}
		}
		fl = sizeof(from);
	}
	fz_flush(fs);
}

static void
fz_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct fz_side *fs = arg;

	(void)fd;
	(void)what;
	fprintf(stderr, "fz: timeout\n");
	fs->rc = 1;
	event_base_loopexit(fs->base, NULL);
}

static int
run_fz(int in_fd, int out_fd, bool controlling)
{
	struct fz_side fs = { .rc = 0 };
	struct ice_config cfg = {
		.role = controlling ? ICE_CONTROLLING : ICE_CONTROLLED,
		.local_ufrag = FZ_UFRAG, .local_pwd = FZ_PWD,
	};
	struct ice_candidate c;
	union fz_sockaddr sa;
	socklen_t sl = sizeof(sa);
	char line[512], ufrag[ICE_MAX_UFRAG + 1] = "";
	char pwd[ICE_MAX_PWD + 1] = "";
	char str[ICE_CAND_MAXLEN];
	FILE *in = fdopen(in_fd, "r"), *out = fdopen(out_fd, "w");
	struct timeval limit = { 15, 0 };
	struct event *dl;
	char cands[8][512];
	unsigned ncand = 0, k, nremote = 0;
	uint64_t now;

	if ((fs.fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.in4.sin_family = AF_INET;
	sa.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fs.fd, &sa.sa, sizeof(sa.in4)) != 0 ||
	    getsockname(fs.fd, &sa.sa, &sl) != 0)
		return 1;

	/* Read libnice's credentials and candidates first. */
	while (fgets(line, sizeof(line), in) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "ufrag ", 6) == 0 &&
		    strlen(line + 6) < sizeof(ufrag))
			memcpy(ufrag, line + 6, strlen(line + 6) + 1);
		else if (strncmp(line, "pwd ", 4) == 0 &&
		    strlen(line + 4) < sizeof(pwd))
			memcpy(pwd, line + 4, strlen(line + 4) + 1);
		else if (strncmp(line, "cand ", 5) == 0 && ncand < 8)
			snprintf(cands[ncand++], sizeof(cands[0]), "%s",
			    line + 5);
		else if (strcmp(line, "end") == 0)
			break;
	}
	cfg.remote_ufrag = ufrag;
	cfg.remote_pwd = pwd;
	now = mono_ns();
	if (ice_agent_new(&cfg, now, &fs.ag) != 0)
		return 1;
	memset(&c, 0, sizeof(c));
	c.type = ICE_HOST;
	c.addr = sa;
	c.sock = 1;
	if (ice_agent_add_local_candidate(fs.ag, &c, now) != 0 ||
	    ice_agent_local_candidates(fs.ag, &c, 1) != 1 ||
	    ice_cand_fmt(&c, str, sizeof(str)) != 0)
		return 1;
	fprintf(out, "ufrag %s\npwd %s\ncand %s\nend\n", FZ_UFRAG, FZ_PWD,
	    str);
	fflush(out);
	fprintf(stderr, "fz: local %s\n", str);

	/* libnice's candidates ("a=candidate:..."), parsed by us. */
	for (k = 0; k < ncand; k++) {
		fprintf(stderr, "fz: remote %s\n", cands[k]);
		if (ice_cand_parse(cands[k], strlen(cands[k]), &c) != 0) {
			fprintf(stderr, "fz: cannot parse it\n");
			continue;
		}
		if (ice_agent_add_remote_candidate(fs.ag, &c, now) == 0) {
			fs.nice_addr = c.addr;
			nremote++;
		}
	}
	if (nremote == 0)
		return 1;

	fs.base = event_base_new();
	fs.rd = event_new(fs.base, fs.fd, EV_READ | EV_PERSIST, fz_on_read,
	    &fs);
	fs.timer = evtimer_new(fs.base, fz_on_timer, &fs);
	dl = evtimer_new(fs.base, fz_on_deadline, &fs);
	event_add(fs.rd, NULL);
	evtimer_add(dl, &limit);
	ice_agent_tick(fs.ag, mono_ns());
	fz_flush(&fs);
	event_base_dispatch(fs.base);
	if (fs.rc == 0 && !(fs.connected && fs.got_pong))
		fs.rc = 1;
	event_free(dl);
	event_free(fs.timer);
	event_free(fs.rd);
	event_base_free(fs.base);
	ice_agent_free(fs.ag);
	close(fs.fd);
	fclose(in);
	fclose(out);
	return fs.rc;
}

int
main(int argc, char **argv)
{
	int p2c[2], c2p[2], status, rc;
	bool fz_controlling, aggressive;
	pid_t pid;

	if (argc != 2 || (strcmp(argv[1], "controlling") != 0 &&
	    strcmp(argv[1], "controlled") != 0 &&
	    strcmp(argv[1], "controlled-aggressive") != 0)) {
		fprintf(stderr, "usage: ice_nice controlling|controlled|"
		    "controlled-aggressive\n");
		return 2;
	}
	fz_controlling = strcmp(argv[1], "controlling") == 0;
	aggressive = strcmp(argv[1], "controlled-aggressive") == 0;
	if (pipe(p2c) != 0 || pipe(c2p) != 0)
		return 1;
	if ((pid = fork()) < 0)
		return 1;
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		_exit(run_nice(p2c[0], c2p[1], !fz_controlling, aggressive));
	}
	close(p2c[0]);
	close(c2p[1]);
	rc = run_fz(c2p[0], p2c[1], fz_controlling);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "libnice side failed\n");
		rc = 1;
	}
	printf("%s: fz %s vs libnice\n", rc == 0 ? "PASS" : "FAIL", argv[1]);
	return rc;
}
