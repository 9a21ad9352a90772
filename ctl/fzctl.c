/* SPDX-License-Identifier: ISC */
/*
 * fzctl: the command-line front end of fz-tunneld's socket, the same API a
 * GUI uses.  Exit status: 0 done, 1 the daemon reported an error, 2 usage,
 * 69 the daemon is not running, 77 permission denied.
 */
#define LOG_MODULE "fzctl"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fzclient.h"
#include "ipc.h"
#include "log.h"

#define EX_UNAVAILABLE	FZC_EX_UNAVAILABLE
#define EX_NOPERM	FZC_EX_NOPERM
#define DEFAULT_SOCKET	FZC_DEFAULT_SOCKET

enum cmd { CMD_STATUS, CMD_RESOURCES, CMD_SIGN_IN, CMD_SIGN_OUT,
	CMD_LOG_LEVEL, CMD_EVENTS, CMD_INTERNET };

struct ctl {
	struct event_base	*base;
	struct ipc_conn		*conn;
	enum cmd		 cmd;
	bool			 json;
	int			 status;
	bool			 done;
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: fzctl [--socket PATH] [--json] COMMAND\n"
"\n"
"  status                   state of the tunnel service\n"
"  resources                resources the portal gave this device\n"
"  sign-in [--token-file FILE] [--api-url URL] [--account SLUG]\n"
"                           sign in with a token (read from FILE, or from\n"
"                           standard input; never from the command line)\n"
"  sign-out\n"
"  log-level FILTER         set the log filter, e.g. debug or info,wg=trace\n"
"  events                   print status changes, resource updates and\n"
"                           errors as they happen (until interrupted)\n"
"  internet-resource on|off route everything through the Internet\n"
"                           Resource, or stop doing so\n"
"\n"
"Socket: " DEFAULT_SOCKET " (or $FZ_SOCKET).  Exit status: 0 ok, 1 error,\n"
"2 usage, 69 fz-tunneld not running, 77 permission denied.\n");
}

static void
finish(struct ctl *c, int status)
{
	c->status = status;
	c->done = true;
	event_base_loopbreak(c->base);
}

static void
print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (s != NULL) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

/*
 * Every string printed as text came from another process: escape control
 * characters (log_escape) so that none can drive the terminal or forge a
 * line.  A few buffers in turn, so one printf can take several fields.
 */
#define ESC_BUFS	8
#define ESC_LEN		(4 * 512 + 1)	/* the longest field, escaped */
static char esc_buf[ESC_BUFS][ESC_LEN];
static unsigned esc_next;

static const char *
esc(const char *s)
{
	char *b = esc_buf[esc_next++ % ESC_BUFS];

	(void)log_escape(b, ESC_LEN, s);
	return b;
}

static void
list_add(const char *s, size_t n, void *arg)
{
	json_array_append_new((json_t *)arg, json_stringn(s, n));
}

/* A list as fz-tunneld sends it ("hq, branch") as a JSON array. */
static json_t *
list_json(const char *list)
{
	json_t *a = json_array();

	if (a != NULL)
		fzc_list_each(list, ", ", list_add, a);
	return a;
}

static void
conn_json(const struct fzc_conn_entry *e, void *arg)
{
	json_array_append_new((json_t *)arg, json_pack("{s:s, s:s, s:s, s:I, "
	    "s:I, s:I, s:I, s:I}", "peer", e->peer, "path", e->kind,
	    strcmp(e->kind, "direct") == 0 ? "remote" : "relay", e->addr,
	    "channel", (json_int_t)e->channel, "rtt_us", (json_int_t)e->rtt_us,
	    "since", (json_int_t)e->since, "rx_bytes", (json_int_t)e->rx,
	    "tx_bytes", (json_int_t)e->tx));
}

static void
conn_text(const struct fzc_conn_entry *e, void *arg)
{
	char since[32] = "?";
	time_t t = (time_t)e->since;
	struct tm tm;

	(void)arg;
	if (gmtime_r(&t, &tm) != NULL)
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (strcmp(e->kind, "direct") == 0)
		printf("connection:   %s direct to %s", esc(e->peer),
		    esc(e->addr));
	else if (e->channel != 0)
		printf("connection:   %s relayed via %s channel 0x%04x",
		    esc(e->peer), esc(e->addr), e->channel);
	else	/* to the peer's allocation on that relay */
		printf("connection:   %s relayed via %s (the peer's "
		    "allocation)", esc(e->peer), esc(e->addr));
	printf(", rtt %llu.%03llu ms, rx %llu B, tx %llu B, since %s\n",
	    e->rtt_us / 1000, e->rtt_us % 1000, e->rx, e->tx, since);
}

static void
show_status(struct ctl *c, const struct ipc_tunnel_status *t)
{
	if (c->json) {
		json_t *conns = json_array();

		if (conns != NULL)
			fzc_conns_each(t->connections, conn_json, conns);
		print_json(json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, "
		    "s:s, s:i, s:i, s:I, s:s, s:s, s:s, s:i, s:o, s:o, s:b}",
		    "state", t->state, "detail", t->detail, "mode", t->mode,
		    "signed_in", t->signed_in, "api_url", t->api_url,
		    "account", t->account, "firezone_id", t->firezone_id,
		    "interface", t->interface, "log_filter", t->log_filter,
		    "controld_pid", t->controld_pid,
		    "controld_restarts", (int)t->controld_restarts,
		    "uptime_s", (json_int_t)t->uptime_s, "version", t->version,
		    "ipv4", t->ipv4, "ipv6", t->ipv6,
		    "relays", (int)t->relays, "relay_ids",
		    list_json(t->relay_ids), "connections", conns,
		    "internet_resource", t->internet_resource));
		return;
	}
	if (*t->detail)
		printf("state:        %s (%s)\n", esc(t->state),
		    esc(t->detail));
	else
		printf("state:        %s\n", esc(t->state));
	printf("mode:         %s\n", esc(t->mode));
	printf("signed in:    %s\n", t->signed_in ? "yes" : "no");
	printf("portal:       %s\n", esc(t->api_url));
	if (*t->account)
		printf("account:      %s\n", esc(t->account));
	printf("device id:    %s\n", esc(t->firezone_id));
	printf("interface:    %s\n", esc(t->interface));
	if (*t->ipv4 || *t->ipv6)
		printf("addresses:    %s%s%s\n", esc(t->ipv4),
		    *t->ipv4 && *t->ipv6 ? " " : "", esc(t->ipv6));
	if (*t->relay_ids)
		printf("relays:       %u (%s)\n", t->relays, esc(t->relay_ids));
	else
		printf("relays:       %u\n", t->relays);
	fzc_conns_each(t->connections, conn_text, NULL);
	if (strcmp(t->mode, "client") == 0)
		printf("internet:     %s\n", t->internet_resource ?
		    "on (the Internet Resource's routes, when it has one)" :
		    "off");
	printf("log filter:   %s\n", esc(t->log_filter));
	if (t->controld_pid > 0)
		printf("fz-controld:  pid %d, restarted %u time(s)\n",
		    t->controld_pid, t->controld_restarts);
	else
		printf("fz-controld:  not running (restarted %u time(s))\n",
		    t->controld_restarts);
	printf("uptime:       %llu s\n", (unsigned long long)t->uptime_s);
	printf("version:      %s\n", esc(t->version));
}

static void
show_resources(struct ctl *c, const struct ipc_resource_list *l)
{
	uint32_t i;

	if (c->json) {
		json_t *a = json_array();

		for (i = 0; i < l->n; i++)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, "
			    "s:s, s:o, s:s}", "id", l->r[i].id, "name",
			    l->r[i].name, "type", l->r[i].type, "address",
			    l->r[i].address, "sites", list_json(l->r[i].sites),
			    "status", l->r[i].status));
		print_json(a);
		return;
	}
	if (l->n == 0) {
		printf("no resources\n");
		return;
	}
	printf("%-36s %-20s %-8s %-28s %-16s %s\n", "ID", "NAME", "TYPE",
	    "ADDRESS", "SITES", "STATUS");
	for (i = 0; i < l->n; i++)
		printf("%-36s %-20s %-8s %-28s %-16s %s\n", esc(l->r[i].id),
		    esc(l->r[i].name), esc(l->r[i].type),
		    esc(l->r[i].address), esc(l->r[i].sites),
		    esc(l->r[i].status));
}

/* Answers and events from fz-tunneld: the FRONT section's T rows. */
static void
t_tunnel_status(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	(void)conn;
	show_status(arg, &m->u.tunnel_status);
	finish(arg, 0);
}

static void
t_resources(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct ctl *c = arg;

	(void)conn;
	show_resources(c, &m->u.resources.list);
	if (c->cmd == CMD_EVENTS) {
		fflush(stdout);		/* subscribed: the list as it changes */
		return;
	}
	finish(c, 0);
}

static void
t_event(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct ctl *c = arg;

	(void)conn;
	if (c->json)
		print_json(json_pack("{s:s, s:s}", "event", m->u.event.kind,
		    "detail", m->u.event.detail));
	else
		printf("%s: %s\n", esc(m->u.event.kind),
		    esc(m->u.event.detail));
	fflush(stdout);
}

static void
t_result(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct ctl *c = arg;

	(void)conn;
	if (m->u.result.error != 0) {
		fprintf(stderr, "fzctl: %s\n", esc(m->u.result.message));
		finish(c, m->u.result.error == -EACCES ||
		    m->u.result.error == -EPERM ? EX_NOPERM : 1);
		return;
	}
	if (c->cmd == CMD_EVENTS)
		return;		/* subscribed: keep printing */
	if (c->json)
		print_json(json_pack("{s:b, s:s}", "ok", 1, "message",
		    m->u.result.message));
	else
		printf("%s\n", esc(m->u.result.message));
	finish(c, 0);
}

static const struct ipc_handler on_msg[] = {
	{ IPC_TUNNEL_STATUS,	t_tunnel_status },
	{ IPC_RESOURCES,	t_resources },
	{ IPC_EVENT,		t_event },
	{ IPC_RESULT,		t_result },
	IPC_HANDLERS_END
};

static void
on_close(struct ipc_conn *conn, int err, void *arg)
{
	struct ctl *c = arg;

	ipc_conn_free(conn);
	c->conn = NULL;
	if (c->done)
		return;
	if (c->cmd == CMD_EVENTS && err == 0) {
		finish(c, 0);
		return;
	}
	fprintf(stderr, "fzctl: fz-tunneld closed the connection%s%s\n",
	    err ? ": " : "", err ? strerror(-err) : "");
	finish(c, 1);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fprintf(stderr, "fzctl: no answer from fz-tunneld\n");
	finish(arg, 1);
}

static void
on_signal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish(arg, 0);
}

static int
read_token(const char *file, char *out, size_t cap)
{
	FILE *f = stdin;
	int rc;

	if (file != NULL && strcmp(file, "-") != 0 &&
	    (f = fopen(file, "re")) == NULL) {
		int err = errno;

		fprintf(stderr, "fzctl: %s: %s\n", file, strerror(err));
		return -err;
	}
	if (f == stdin && isatty(0))
		fprintf(stderr, "token: ");
	rc = fzc_token_read(f, out, cap);
	if (f != stdin)
		fclose(f);
	if (rc != 0) {
		fprintf(stderr, "fzctl: no token given\n");
		return -ENODATA;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option top[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option signin[] = {
		{ "token-file",	required_argument,	NULL, 't' },
		{ "api-url",	required_argument,	NULL, 'a' },
		{ "account",	required_argument,	NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ctl c;
	static struct ipc_msg m;
	static char token[4097];	/* SIGN_IN's limit, and the newline */
	struct event *tev = NULL, *sev = NULL;
	const char *path = NULL, *cmd;
	const char *token_file = NULL, *api = NULL, *account = NULL;
	int ch, fd, rc;

	while ((ch = getopt_long(argc, argv, "+s:jh", top, NULL)) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'j': c.json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	path = fzc_socket_path(path);
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	if (strcmp(cmd, "status") == 0) {
		c.cmd = CMD_STATUS;
		ipc_msg_init(&m, IPC_STATUS_GET);
	} else if (strcmp(cmd, "resources") == 0) {
		c.cmd = CMD_RESOURCES;
		ipc_msg_init(&m, IPC_RESOURCES_GET);
	} else if (strcmp(cmd, "sign-in") == 0) {
		c.cmd = CMD_SIGN_IN;
		{
			int sub_argc = argc - optind + 1;
			char **sub_argv = argv + optind - 1;

			optind = 0;	/* glibc: rescan from sub_argv[1] */
			while ((ch = getopt_long(sub_argc, sub_argv, "+",
			    signin, NULL)) != -1) {
				switch (ch) {
				case 't': token_file = optarg; break;
				case 'a': api = optarg; break;
				case 'c': account = optarg; break;
				default: usage(stderr); return 2;
				}
			}
			if (optind != sub_argc) {
				fprintf(stderr, "fzctl: unexpected argument "
				    "'%s'\n", sub_argv[optind]);
				return 2;
			}
		}
		ipc_msg_init(&m, IPC_SIGN_IN);
		if (read_token(token_file, token, sizeof(token)) != 0)
			return 2;
		m.u.sign_in.token = token;
		m.u.sign_in.api_url = api;
		m.u.sign_in.account = account;
		optind = argc;
	} else if (strcmp(cmd, "sign-out") == 0) {
		c.cmd = CMD_SIGN_OUT;
		ipc_msg_init(&m, IPC_SIGN_OUT);
	} else if (strcmp(cmd, "log-level") == 0 ||
	    strcmp(cmd, "set-log-filter") == 0) {
		c.cmd = CMD_LOG_LEVEL;
		if (optind >= argc) {
			usage(stderr);
			return 2;
		}
		ipc_msg_init(&m, IPC_SET_LOG_FILTER);
		m.u.set_log_filter.filter = argv[optind++];
	} else if (strcmp(cmd, "events") == 0) {
		c.cmd = CMD_EVENTS;
		ipc_msg_init(&m, IPC_SUBSCRIBE);
	} else if (strcmp(cmd, "internet-resource") == 0) {
		c.cmd = CMD_INTERNET;
		if (optind >= argc || (strcmp(argv[optind], "on") != 0 &&
		    strcmp(argv[optind], "off") != 0)) {
			usage(stderr);
			return 2;
		}
		ipc_msg_init(&m, IPC_INTERNET_RESOURCE);
		m.u.internet_resource.on = strcmp(argv[optind++], "on") == 0;
	} else {
		fprintf(stderr, "fzctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if (optind != argc) {
		fprintf(stderr, "fzctl: unexpected argument '%s'\n",
		    argv[optind]);
		return 2;
	}
	if (log_init("fzctl", LOG_FORMAT_TEXT, "error") != 0)
		return 2;
	if (fzc_request_ok(&m) != 0) {
		sodium_memzero(token, sizeof(token));
		fprintf(stderr, "fzctl: an argument is too long or contains "
		    "control characters\n");
		return 2;
	}

	if ((fd = fzc_connect(path)) < 0) {
		sodium_memzero(token, sizeof(token));
		if (fd == -ENAMETOOLONG) {
			fprintf(stderr, "fzctl: socket path too long\n");
			return 2;
		}
		if (fd == -EACCES || fd == -EPERM) {
			fprintf(stderr, "fzctl: %s: permission denied (root or "
			    "group fz-client only)\n", path);
			return EX_NOPERM;
		}
		fprintf(stderr, "fzctl: cannot reach fz-tunneld at %s: %s\n",
		    path, strerror(-fd));
		return EX_UNAVAILABLE;
	}
	signal(SIGPIPE, SIG_IGN);
	c.base = event_base_new();
	rc = fzc_conn_new(c.base, fd, "fzctl", on_msg, on_close, &c, &c.conn);
	if (rc != 0 || (rc = ipc_send(c.conn, &m)) != 0) {
		sodium_memzero(token, sizeof(token));
		fprintf(stderr, "fzctl: %s\n", strerror(-rc));
		return 1;
	}
	sodium_memzero(token, sizeof(token));	/* queued: encoded, wiped */
	if (c.cmd != CMD_EVENTS) {
		struct timeval tv = { 10, 0 };

		tev = evtimer_new(c.base, on_timeout, &c);
		evtimer_add(tev, &tv);
	} else {
		sev = evsignal_new(c.base, SIGINT, on_signal, &c);
		event_add(sev, NULL);
	}
	c.status = 1;
	event_base_dispatch(c.base);
	if (c.conn != NULL)
		ipc_conn_free(c.conn);
	if (tev != NULL)
		event_free(tev);
	if (sev != NULL)
		event_free(sev);
	event_base_free(c.base);
	return c.status;
}
