/* SPDX-License-Identifier: ISC */
/*
 * fz-gui: a GTK 4 window over fz-tunneld's front-end socket, the same API
 * and the same client code (libfzctl.a, fzclient.h) as fzctl.
 *
 * Why GTK 4 and not GTK 3 with a tray icon: GTK 4 exposes its widgets to
 * AT-SPI natively (accessible names and roles without ATK), so the window
 * can be read and driven by screen readers and by the tests; and it needs
 * no libayatana-appindicator, whose StatusNotifier protocol is not in
 * every desktop.  The price is that there is no tray icon: fz-gui is an
 * ordinary window, opened from the application menu (fz-gui.desktop).
 *
 * The IPC runs on libevent (libfzipc); the socket is watched by the GLib
 * main loop (g_unix_fd_add), which runs the libevent base without
 * blocking whenever the socket is readable (or writable while output is
 * queued).  fz-tunneld pushes status changes and resource lists to a
 * subscribed front end, so nothing here polls.  The socket's directory
 * is watched (GFileMonitor, inotify) so that the window reconnects when
 * fz-tunneld comes back.
 *
 * Text from the service is shown as plain text, never as markup.
 */
#define LOG_MODULE "fz-gui"

#include <errno.h>
#include <event2/event.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gtk/gtk.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fzclient.h"
#include "ipc.h"
#include "log.h"

#define APP_ID		"dev.fz.Gui"
#define PENDING_MAX	32

static const char *const levels[] = {
	"error", "warn", "info", "debug", "trace", NULL
};

struct gui {
	GtkApplication	*app;
	GtkWidget	*win;
	GtkWidget	*error_box, *error_label;
	GtkWidget	*state_label, *message_label;
	GtkWidget	*signin_frame, *signin_box, *token_entry;
	GtkWidget	*url_entry, *account_entry;
	GtkWidget	*signout_btn;
	GtkWidget	*list, *empty_label;
	GtkWidget	*inet_switch, *log_drop, *export_btn;
	GtkWidget	*settings_box;
	GFileMonitor	*monitor;

	const char		*path;
	struct event_base	*base;
	struct ipc_conn		*conn;
	guint			 in_watch, out_watch;
	guint			 retry_src, retries;
	bool			 in_pump;
	bool			 refused;	/* fz-tunneld said no */
	bool			 setting_level;	/* not a user's choice */
	bool			 setting_inet;	/* the same, for the switch */
	bool			 inet_on;	/* as fz-tunneld last said */
	/* what each RESULT answers, in order */
	enum ipc_type		 pending[PENDING_MAX];
	unsigned		 phead, ptail;

	char			 status_text[2048];
	GString			*events;	/* for "Export logs" */
};

static struct gui G;
static char *opt_socket;

static int	service_connect(struct gui *);
static void	pump(struct gui *);

/* --- messages to the user ------------------------------------------------- */

static void
show_error(struct gui *g, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
show_error(struct gui *g, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	gtk_label_set_text(GTK_LABEL(g->error_label), s);
	gtk_widget_set_visible(g->error_box, TRUE);
	g_string_append_printf(g->events, "error: %s\n", s);
	g_free(s);
}

static void
clear_error(struct gui *g)
{
	gtk_widget_set_visible(g->error_box, FALSE);
	gtk_label_set_text(GTK_LABEL(g->error_label), "");
}

static void
show_message(struct gui *g, const char *s)
{
	gtk_label_set_text(GTK_LABEL(g->message_label), s);
}

static const char *
state_title(const char *state)
{
	static const struct { const char *name, *title; } t[] = {
		{ "starting",		"Starting" },
		{ "signed_out",		"Signed out" },
		{ "connecting",		"Connecting" },
		{ "online",		"Online" },
		{ "restarting",		"Restarting" },
		{ "reconnecting",	"Reconnecting" },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(t); i++)
		if (strcmp(state, t[i].name) == 0)
			return t[i].title;
	return state;
}

static void
set_state_text(struct gui *g, const char *title, const char *detail)
{
	char *s;

	if (detail != NULL && *detail)
		s = g_strdup_printf("State: %s (%s)", title, detail);
	else
		s = g_strdup_printf("State: %s", title);
	gtk_label_set_text(GTK_LABEL(g->state_label), s);
	g_free(s);
}

/* Whether the controls that need the service can be used. */
static void
set_connected(struct gui *g, bool up)
{
	gtk_widget_set_sensitive(g->signin_box, up);
	gtk_widget_set_sensitive(g->signout_btn, up);
	gtk_widget_set_sensitive(g->log_drop, up);
#ifdef HAVE_IPC_INTERNET_RESOURCE
	gtk_widget_set_sensitive(g->inet_switch, up);
#endif
}

/* --- the resource list ---------------------------------------------------- */

static void
list_clear(struct gui *g)
{
	GtkWidget *c;

	while ((c = gtk_widget_get_first_child(g->list)) != NULL)
		gtk_list_box_remove(GTK_LIST_BOX(g->list), c);
	gtk_widget_set_visible(g->empty_label, TRUE);
}

static void
copy_clicked(GtkButton *b, gpointer data)
{
	const char *addr = g_object_get_data(G_OBJECT(b), "fz-address");

	(void)data;
	gdk_clipboard_set_text(gtk_widget_get_clipboard(GTK_WIDGET(b)), addr);
	show_message(&G, "Address copied");
}

static void
open_clicked(GtkButton *b, gpointer data)
{
	const char *uri = g_object_get_data(G_OBJECT(b), "fz-uri");

	(void)data;
	gtk_show_uri(GTK_WINDOW(G.win), uri, GDK_CURRENT_TIME);
}

/* What to open for a resource: its address when it is an http(s) URL. */
static bool
is_web(const char *addr)
{
	return g_ascii_strncasecmp(addr, "http://", 7) == 0 ||
	    g_ascii_strncasecmp(addr, "https://", 8) == 0;
}

static GtkWidget *
label_new(const char *text, bool bold, int chars)
{
	GtkWidget *l = gtk_label_new(text);

	gtk_label_set_xalign(GTK_LABEL(l), 0);
	gtk_label_set_ellipsize(GTK_LABEL(l), PANGO_ELLIPSIZE_END);
	if (chars > 0)
		gtk_label_set_width_chars(GTK_LABEL(l), chars);
	if (bold)
		gtk_widget_add_css_class(l, "heading");
	return l;
}

static void
list_add(struct gui *g, const struct ipc_resource *r)
{
	GtkWidget *row = gtk_list_box_row_new();
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
	GtkWidget *b;
	char *name, *status, *desc;

	gtk_widget_set_margin_start(box, 6);
	gtk_widget_set_margin_end(box, 6);
	gtk_widget_set_margin_top(box, 3);
	gtk_widget_set_margin_bottom(box, 3);
	gtk_box_append(GTK_BOX(box), label_new(r->name, true, 14));
	b = label_new(r->address, false, 24);
	gtk_label_set_selectable(GTK_LABEL(b), TRUE);
	gtk_widget_set_hexpand(b, TRUE);
	gtk_box_append(GTK_BOX(box), b);
	status = *r->sites ? g_strdup_printf("%s: %s", r->sites, r->status) :
	    g_strdup(r->status);
	gtk_box_append(GTK_BOX(box), label_new(status, false, 16));

	b = gtk_button_new_from_icon_name("edit-copy-symbolic");
	gtk_widget_set_tooltip_text(b, "Copy address");
	desc = g_strdup_printf("Copy address of %s", r->name);
	gtk_accessible_update_property(GTK_ACCESSIBLE(b),
	    GTK_ACCESSIBLE_PROPERTY_LABEL, desc, -1);
	g_free(desc);
	g_object_set_data_full(G_OBJECT(b), "fz-address", g_strdup(r->address),
	    g_free);
	g_signal_connect(b, "clicked", G_CALLBACK(copy_clicked), NULL);
	gtk_box_append(GTK_BOX(box), b);

	if (is_web(r->address)) {
		b = gtk_button_new_from_icon_name("web-browser-symbolic");
		gtk_widget_set_tooltip_text(b, "Open in a browser");
		desc = g_strdup_printf("Open %s", r->name);
		gtk_accessible_update_property(GTK_ACCESSIBLE(b),
		    GTK_ACCESSIBLE_PROPERTY_LABEL, desc, -1);
		g_free(desc);
		g_object_set_data_full(G_OBJECT(b), "fz-uri",
		    g_strdup(r->address), g_free);
		g_signal_connect(b, "clicked", G_CALLBACK(open_clicked), NULL);
		gtk_box_append(GTK_BOX(box), b);
	}

	gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), box);
	/* what a screen reader says for the row: name, address, sites */
	name = g_strdup_printf("%s, %s, %s", r->name, r->address, status);
	gtk_accessible_update_property(GTK_ACCESSIBLE(row),
	    GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
	g_free(name);
	g_free(status);
	gtk_list_box_append(GTK_LIST_BOX(g->list), row);
	gtk_widget_set_visible(g->empty_label, FALSE);
}

/* --- requests -------------------------------------------------------------- */

static bool
answered_by_result(enum ipc_type t)
{
#ifdef HAVE_IPC_INTERNET_RESOURCE
	if (t == IPC_INTERNET_RESOURCE)
		return true;
#endif
	return t == IPC_SUBSCRIBE || t == IPC_SIGN_IN || t == IPC_SIGN_OUT ||
	    t == IPC_SET_LOG_FILTER;
}

static const char *
request_title(enum ipc_type t)
{
	switch (t) {
	case IPC_SIGN_IN:		return "Sign in";
	case IPC_SIGN_OUT:		return "Sign out";
	case IPC_SET_LOG_FILTER:	return "Log level";
	case IPC_SUBSCRIBE:		return "Subscribe";
#ifdef HAVE_IPC_INTERNET_RESOURCE
	case IPC_INTERNET_RESOURCE:	return "Internet Resource";
#endif
	default:			return "Request";
	}
}

/* Queues m; send_msg also sends what is queued. */
static int
queue_msg(struct gui *g, const struct ipc_msg *m)
{
	int rc;

	if (g->conn == NULL) {
		show_error(g, "Not connected to fz-tunneld");
		return -ENOTCONN;
	}
	if (answered_by_result(m->type) &&
	    g->ptail - g->phead >= PENDING_MAX) {
		show_error(g, "Too many requests in flight; try again");
		return -EBUSY;
	}
	if ((rc = ipc_send(g->conn, m)) != 0) {
		show_error(g, "%s: %s", request_title(m->type), strerror(-rc));
		return rc;
	}
	if (answered_by_result(m->type))
		g->pending[g->ptail++ % PENDING_MAX] = m->type;
	return 0;
}

static int
send_msg(struct gui *g, const struct ipc_msg *m)
{
	int rc;

	if ((rc = queue_msg(g, m)) == 0)
		pump(g);
	return rc;
}

static void
queue_simple(struct gui *g, enum ipc_type t)
{
	struct ipc_msg m;

	ipc_msg_init(&m, t);
	(void)queue_msg(g, &m);
}

static void
send_simple(struct gui *g, enum ipc_type t)
{
	queue_simple(g, t);
	pump(g);
}

/* Sign-in with a token; the token is wiped by the caller. */
static void
sign_in(struct gui *g, const char *token)
{
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_SIGN_IN);
	m.u.sign_in.token = token;
	m.u.sign_in.api_url = gtk_editable_get_text(GTK_EDITABLE(g->url_entry));
	m.u.sign_in.account =
	    gtk_editable_get_text(GTK_EDITABLE(g->account_entry));
	if (fzc_request_ok(&m) != 0) {
		show_error(g, "Sign in: the token, portal URL or account is "
		    "too long or contains control characters");
		return;
	}
	clear_error(g);
	if (send_msg(g, &m) == 0)
		show_message(g, "Signing in…");
}

static void
signin_clicked(GtkButton *b, gpointer data)
{
	struct gui *g = data;
	char *token;

	(void)b;
	token = g_strdup(gtk_editable_get_text(GTK_EDITABLE(g->token_entry)));
	g_strstrip(token);
	if (*token == '\0')
		show_error(g, "Sign in: paste a token, or read one from a file");
	else
		sign_in(g, token);
	sodium_memzero(token, strlen(token));
	g_free(token);
	gtk_editable_set_text(GTK_EDITABLE(g->token_entry), "");
}

static void
token_file_chosen(GtkNativeDialog *d, int response, gpointer data)
{
	struct gui *g = data;
	static char token[4097];	/* SIGN_IN's limit, and the newline */
	GFile *f;
	char *path;
	FILE *fp;
	int rc;

	if (response == GTK_RESPONSE_ACCEPT &&
	    (f = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(d))) != NULL) {
		path = g_file_get_path(f);
		g_object_unref(f);
		if (path == NULL || (fp = fopen(path, "re")) == NULL) {
			show_error(g, "Sign in: %s: %s", path ? path : "?",
			    strerror(errno));
		} else {
			rc = fzc_token_read(fp, token, sizeof(token));
			fclose(fp);
			if (rc != 0)
				show_error(g, "Sign in: %s holds no token",
				    path);
			else
				sign_in(g, token);
			sodium_memzero(token, sizeof(token));
		}
		g_free(path);
	}
	g_object_unref(d);
}

static void
token_file_clicked(GtkButton *b, gpointer data)
{
	struct gui *g = data;
	GtkFileChooserNative *d;

	(void)b;
	d = gtk_file_chooser_native_new("Token file", GTK_WINDOW(g->win),
	    GTK_FILE_CHOOSER_ACTION_OPEN, "_Sign in", "_Cancel");
	g_signal_connect(d, "response", G_CALLBACK(token_file_chosen), g);
	gtk_native_dialog_show(GTK_NATIVE_DIALOG(d));
}

static void
signout_clicked(GtkButton *b, gpointer data)
{
	(void)b;
	clear_error(data);
	send_simple(data, IPC_SIGN_OUT);
}

static void
level_changed(GObject *o, GParamSpec *ps, gpointer data)
{
	struct gui *g = data;
	guint i = gtk_drop_down_get_selected(GTK_DROP_DOWN(o));
	struct ipc_msg m;

	(void)ps;
	if (g->setting_level || i >= G_N_ELEMENTS(levels) - 1)
		return;
	ipc_msg_init(&m, IPC_SET_LOG_FILTER);
	m.u.set_log_filter.filter = levels[i];
	(void)send_msg(g, &m);
}

static void
inet_set(struct gui *g, bool on)
{
	g->setting_inet = true;
	gtk_switch_set_active(GTK_SWITCH(g->inet_switch), on);
	g->setting_inet = false;
}

#ifdef HAVE_IPC_INTERNET_RESOURCE
static void
inet_toggled(GObject *o, GParamSpec *ps, gpointer data)
{
	struct gui *g = data;
	struct ipc_msg m;

	(void)ps;
	if (g->setting_inet)
		return;
	ipc_msg_init(&m, IPC_INTERNET_RESOURCE);
	m.u.internet_resource.on = gtk_switch_get_active(GTK_SWITCH(o));
	if (send_msg(g, &m) != 0)
		inet_set(g, g->inet_on);
}
#endif

static void
retry_clicked(GtkButton *b, gpointer data)
{
	(void)b;
	(void)service_connect(data);
}

/* "Export logs": what this window knows, as text, to a file. */
static void
export_chosen(GtkNativeDialog *d, int response, gpointer data)
{
	struct gui *g = data;
	GError *err = NULL;
	GString *s;
	GFile *f;
	char when[64];
	time_t now = time(NULL);
	struct tm tm;

	if (response != GTK_RESPONSE_ACCEPT ||
	    (f = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(d))) == NULL) {
		g_object_unref(d);
		return;
	}
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	s = g_string_new(NULL);
	g_string_append_printf(s, "fz-gui %s, exported %s\nsocket: %s\n\n"
	    "%s\n--- events seen by this window\n%s", PACKAGE_VERSION, when,
	    g->path, g->status_text, g->events->str);
	g_string_append(s, "\nfz-tunneld's own log: journalctl -u "
	    "fz-tunneld.service\n");
	if (!g_file_replace_contents(f, s->str, s->len, NULL, FALSE,
	    G_FILE_CREATE_PRIVATE, NULL, NULL, &err)) {
		show_error(g, "Export logs: %s", err->message);
		g_error_free(err);
	} else
		show_message(g, "Logs exported");
	g_string_free(s, TRUE);
	g_object_unref(f);
	g_object_unref(d);
}

static void
export_clicked(GtkButton *b, gpointer data)
{
	struct gui *g = data;
	GtkFileChooserNative *d;

	(void)b;
	d = gtk_file_chooser_native_new("Export logs", GTK_WINDOW(g->win),
	    GTK_FILE_CHOOSER_ACTION_SAVE, "_Save", "_Cancel");
	gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(d), "fz-logs.txt");
	g_signal_connect(d, "response", G_CALLBACK(export_chosen), g);
	gtk_native_dialog_show(GTK_NATIVE_DIALOG(d));
}

/* --- answers and events from fz-tunneld ------------------------------------ */

static void
t_tunnel_status(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct gui *g = arg;
	const struct ipc_tunnel_status *t = &m->u.tunnel_status;
	guint i;

	(void)c;
	set_state_text(g, state_title(t->state), t->detail);
	gtk_widget_set_visible(g->signin_frame, !t->signed_in);
	gtk_widget_set_visible(g->signout_btn, t->signed_in);
	if (*t->api_url &&
	    *gtk_editable_get_text(GTK_EDITABLE(g->url_entry)) == '\0')
		gtk_editable_set_text(GTK_EDITABLE(g->url_entry), t->api_url);
	for (i = 0; levels[i] != NULL; i++)
		if (strcmp(t->log_filter, levels[i]) == 0) {
			g->setting_level = true;
			gtk_drop_down_set_selected(GTK_DROP_DOWN(g->log_drop),
			    i);
			g->setting_level = false;
		}
	snprintf(g->status_text, sizeof(g->status_text),
	    "state: %s%s%s%s\nsigned in: %s\nportal: %s\naccount: %s\n"
	    "device id: %s\ninterface: %s\naddresses: %s %s\nrelays: %u\n"
	    "log filter: %s\nversion: %s\n", t->state, *t->detail ? " (" : "",
	    t->detail, *t->detail ? ")" : "", t->signed_in ? "yes" : "no",
	    t->api_url, t->account, t->firezone_id, t->interface, t->ipv4,
	    t->ipv6, t->relays, t->log_filter, t->version);
	g->inet_on = t->internet_resource;	/* the service's state */
	inet_set(g, g->inet_on);
}

static void
t_resources(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct gui *g = arg;
	const struct ipc_resource_list *l = &m->u.resources.list;
	uint32_t i;

	(void)c;
	list_clear(g);
	for (i = 0; i < l->n; i++)
		list_add(g, &l->r[i]);
}

/* Pushed: a status change asks for the full status (one answer). */
static void
t_event(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct gui *g = arg;
	const char *kind = m->u.event.kind, *detail = m->u.event.detail;

	(void)c;
	g_string_append_printf(g->events, "%s: %s\n", kind, detail);
	if (strcmp(kind, "status") == 0)
		send_simple(g, IPC_STATUS_GET);
	else if (strcmp(kind, "error") == 0)
		show_error(g, "fz-tunneld: %s", detail);
	else if (strcmp(kind, "internet_resource") == 0) {
		g->inet_on = strcmp(detail, "on") == 0;
		inet_set(g, g->inet_on);
	}
}

static void
t_result(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	struct gui *g = arg;
	const struct ipc_result *r = &m->u.result;
	enum ipc_type t = IPC_TYPE_INVALID;

	(void)c;
	if (g->phead != g->ptail)
		t = g->pending[g->phead++ % PENDING_MAX];
	if (r->error == -EACCES && t == IPC_SUBSCRIBE) {
		/* refused at admission (the first answer): not root nor in
		 * group fz-client */
		g->refused = true;
		show_error(g, "fz-tunneld refused this user: %s. Only root "
		    "and members of group fz-client may use it (an "
		    "administrator can run: usermod -aG fz-client %s; then "
		    "log in again)", r->message, g_get_user_name());
		return;
	}
	if (r->error != 0) {
		show_error(g, "%s: %s", request_title(t), r->message);
#ifdef HAVE_IPC_INTERNET_RESOURCE
		if (t == IPC_INTERNET_RESOURCE)
			inet_set(g, g->inet_on);	/* as it was */
#endif
		return;
	}
	if (t != IPC_SUBSCRIBE)
		show_message(g, r->message);
}

static const struct ipc_handler on_msg[] = {
	{ IPC_TUNNEL_STATUS,	t_tunnel_status },
	{ IPC_RESOURCES,	t_resources },
	{ IPC_EVENT,		t_event },
	{ IPC_RESULT,		t_result },
	IPC_HANDLERS_END
};

/* --- the connection in the GLib main loop ----------------------------------- */

static void
watches_remove(struct gui *g)
{
	if (g->in_watch != 0)
		g_source_remove(g->in_watch);
	if (g->out_watch != 0)
		g_source_remove(g->out_watch);
	g->in_watch = g->out_watch = 0;
}

static void
on_close(struct ipc_conn *c, int err, void *arg)
{
	struct gui *g = arg;

	ipc_conn_free(c);
	g->conn = NULL;
	g->phead = g->ptail = 0;
	watches_remove(g);
	set_connected(g, false);
	list_clear(g);
	set_state_text(g, "Not connected", NULL);
	show_message(g, "");
	g_string_append_printf(g->events, "disconnected: %s\n",
	    err ? strerror(-err) : "closed by fz-tunneld");
	if (g->refused)
		return;		/* the refusal says why */
	show_error(g, "fz-tunneld closed the connection%s%s. The window "
	    "reconnects when the service is back, or use Retry.",
	    err ? ": " : "", err ? strerror(-err) : "");
}

static gboolean
on_out(gint fd, GIOCondition cond, gpointer data)
{
	struct gui *g = data;

	(void)fd;
	(void)cond;
	pump(g);
	if (g->conn == NULL || ipc_conn_queued(g->conn) == 0) {
		g->out_watch = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/*
 * Runs what libevent has ready (reads, queued writes) without blocking;
 * never from inside its own dispatch (libevent's loop is not reentrant:
 * what a handler queues goes out in the same run).
 */
static void
pump(struct gui *g)
{
	if (g->in_pump || g->base == NULL)
		return;
	g->in_pump = true;
	(void)event_base_loop(g->base, EVLOOP_NONBLOCK);
	g->in_pump = false;
	if (g->conn != NULL && ipc_conn_queued(g->conn) > 0 &&
	    g->out_watch == 0)
		g->out_watch = g_unix_fd_add(ipc_conn_fd(g->conn), G_IO_OUT,
		    on_out, g);
}

static gboolean
on_in(gint fd, GIOCondition cond, gpointer data)
{
	(void)fd;
	(void)cond;
	pump(data);
	return G_SOURCE_CONTINUE;	/* on_close removed it if it ended */
}

static int
service_connect(struct gui *g)
{
	int fd, rc;

	if (g->conn != NULL)
		return 0;
	g->refused = false;
	if ((fd = fzc_connect(g->path)) < 0) {
		set_connected(g, false);
		set_state_text(g, "Not connected", NULL);
		if (fd == -EACCES || fd == -EPERM)
			show_error(g, "Permission denied on %s: only root and "
			    "members of group fz-client may use fz-tunneld "
			    "(an administrator can run: usermod -aG fz-client "
			    "%s; then log in again)", g->path,
			    g_get_user_name());
		else if (fd == -ENOENT || fd == -ECONNREFUSED)
			show_error(g, "fz-tunneld is not running (nothing "
			    "listens on %s). Start it with: systemctl start "
			    "fz-tunneld.socket fz-tunneld.service. This "
			    "window connects as soon as it is up.", g->path);
		else
			show_error(g, "Cannot reach fz-tunneld at %s: %s",
			    g->path, strerror(-fd));
		return fd;
	}
	if ((rc = fzc_conn_new(g->base, fd, "fz-gui", on_msg, on_close, g,
	    &g->conn)) != 0) {
		show_error(g, "fz-gui: %s", strerror(-rc));
		return rc;
	}
	clear_error(g);
	set_connected(g, true);
	set_state_text(g, "Connected", NULL);
	g->in_watch = g_unix_fd_add(ipc_conn_fd(g->conn),
	    G_IO_IN | G_IO_HUP | G_IO_ERR, on_in, g);
	g_string_append_printf(g->events, "connected to %s\n", g->path);
	/*
	 * Answers come in order: RESULT, TUNNEL_STATUS, RESOURCES.  All
	 * three queued before anything is read: a refusal closes the
	 * connection at once.
	 */
	queue_simple(g, IPC_SUBSCRIBE);
	queue_simple(g, IPC_STATUS_GET);
	queue_simple(g, IPC_RESOURCES_GET);
	pump(g);
	return 0;
}

/*
 * The socket appeared: fz-tunneld binds it before it listens, so the
 * first attempts may be refused; a few more, 200 ms apart, then it is
 * for Retry (or the next event) to say.
 */
static gboolean
reconnect_try(gpointer data)
{
	struct gui *g = data;

	if (service_connect(g) == -ECONNREFUSED && ++g->retries < 25)
		return G_SOURCE_CONTINUE;
	g->retry_src = 0;
	return G_SOURCE_REMOVE;
}

/* The socket (re)appeared: fz-tunneld started. */
static void
dir_changed(GFileMonitor *mon, GFile *f, GFile *other, GFileMonitorEvent ev,
    gpointer data)
{
	struct gui *g = data;
	char *base, *want;

	(void)mon;
	(void)other;
	if (g->conn != NULL || g->retry_src != 0 ||
	    (ev != G_FILE_MONITOR_EVENT_CREATED &&
	    ev != G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED))
		return;
	base = g_file_get_basename(f);
	want = g_path_get_basename(g->path);
	if (strcmp(base, want) == 0) {
		g->retries = 0;
		if (reconnect_try(g) == G_SOURCE_CONTINUE)
			g->retry_src = g_timeout_add(200, reconnect_try, g);
	}
	g_free(base);
	g_free(want);
}

/* --- the screenshot the tests take (SIGUSR1, $FZ_GUI_SCREENSHOT) ----------- */

static gboolean
on_usr1(gpointer data)
{
	struct gui *g = data;
	const char *path = g_getenv("FZ_GUI_SCREENSHOT");
	GdkPaintable *p;
	GtkSnapshot *s;
	GskRenderNode *node;
	GdkTexture *t;
	char *tmp;
	int w, h;

	if (path == NULL || g->win == NULL)
		return G_SOURCE_CONTINUE;
	w = gtk_widget_get_width(g->win);
	h = gtk_widget_get_height(g->win);
	p = gtk_widget_paintable_new(g->win);
	s = gtk_snapshot_new();
	gtk_snapshot_append_color(s, &(GdkRGBA){ 1, 1, 1, 1 },
	    &GRAPHENE_RECT_INIT(0, 0, w, h));
	gdk_paintable_snapshot(p, s, w, h);
	node = gtk_snapshot_free_to_node(s);
	if (node != NULL) {
		t = gsk_renderer_render_texture(gtk_native_get_renderer(
		    GTK_NATIVE(g->win)), node, &GRAPHENE_RECT_INIT(0, 0, w, h));
		/* complete or absent: written aside, then renamed */
		tmp = g_strconcat(path, ".tmp", NULL);
		if (t == NULL || !gdk_texture_save_to_png(t, tmp) ||
		    g_rename(tmp, path) != 0)
			g_printerr("fz-gui: cannot write %s\n", path);
		g_free(tmp);
		if (t != NULL)
			g_object_unref(t);
		gsk_render_node_unref(node);
	}
	g_object_unref(p);
	return G_SOURCE_CONTINUE;
}

/* --- the window -------------------------------------------------------------- */

static GtkWidget *
frame_new(const char *title, GtkWidget *child)
{
	GtkWidget *f = gtk_frame_new(title);

	gtk_frame_set_child(GTK_FRAME(f), child);
	return f;
}

static GtkWidget *
vbox_new(int spacing, int margin)
{
	GtkWidget *b = gtk_box_new(GTK_ORIENTATION_VERTICAL, spacing);

	gtk_widget_set_margin_start(b, margin);
	gtk_widget_set_margin_end(b, margin);
	gtk_widget_set_margin_top(b, margin);
	gtk_widget_set_margin_bottom(b, margin);
	return b;
}

static void
labelled(GtkWidget *w, const char *name)
{
	gtk_accessible_update_property(GTK_ACCESSIBLE(w),
	    GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
}

/*
 * Buttons without mnemonics: on AT-SPI, GTK 4.8 names a mnemonic button
 * "_Retry Retry", and one given an accessible label "Retry Retry" (the
 * label, then the child's text).
 */
static GtkWidget *
button_new(const char *text)
{
	return gtk_button_new_with_label(text);
}

static void
build_window(struct gui *g)
{
	GtkWidget *top, *box, *row, *w, *exp, *sc;

	g->win = gtk_application_window_new(g->app);
	gtk_window_set_title(GTK_WINDOW(g->win), "Firezone (fz)");
	gtk_window_set_default_size(GTK_WINDOW(g->win), 760, 560);
	gtk_window_set_icon_name(GTK_WINDOW(g->win), "fz-gui");
	top = vbox_new(8, 12);

	/* errors: plain words, with a retry */
	g->error_box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
	g->error_label = gtk_label_new("");
	gtk_label_set_wrap(GTK_LABEL(g->error_label), TRUE);
	gtk_label_set_xalign(GTK_LABEL(g->error_label), 0);
	gtk_widget_set_hexpand(g->error_label, TRUE);
	gtk_widget_add_css_class(g->error_label, "error");
	gtk_accessible_update_property(GTK_ACCESSIBLE(g->error_label),
	    GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, "Error", -1);
	gtk_box_append(GTK_BOX(g->error_box), g->error_label);
	w = button_new("Retry");
	g_signal_connect(w, "clicked", G_CALLBACK(retry_clicked), g);
	gtk_box_append(GTK_BOX(g->error_box), w);
	gtk_widget_set_visible(g->error_box, FALSE);
	gtk_box_append(GTK_BOX(top), g->error_box);

	/* state, sign in / out */
	row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 12);
	g->state_label = label_new("State: Not connected", true, 0);
	gtk_widget_set_hexpand(g->state_label, TRUE);
	gtk_box_append(GTK_BOX(row), g->state_label);
	g->signout_btn = button_new("Sign out");
	g_signal_connect(g->signout_btn, "clicked",
	    G_CALLBACK(signout_clicked), g);
	gtk_widget_set_visible(g->signout_btn, FALSE);
	gtk_box_append(GTK_BOX(row), g->signout_btn);
	gtk_box_append(GTK_BOX(top), row);

	g->signin_box = vbox_new(6, 6);
	row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
	g->token_entry = gtk_password_entry_new();
	gtk_password_entry_set_show_peek_icon(
	    GTK_PASSWORD_ENTRY(g->token_entry), TRUE);
	gtk_widget_set_hexpand(g->token_entry, TRUE);
	labelled(g->token_entry, "Token");
	gtk_widget_set_tooltip_text(g->token_entry, "Paste a sign-in token");
	gtk_box_append(GTK_BOX(row), g->token_entry);
	w = button_new("Sign in");
	g_signal_connect(w, "clicked", G_CALLBACK(signin_clicked), g);
	gtk_box_append(GTK_BOX(row), w);
	w = button_new("Token from file…");
	g_signal_connect(w, "clicked", G_CALLBACK(token_file_clicked), g);
	gtk_box_append(GTK_BOX(row), w);
	gtk_box_append(GTK_BOX(g->signin_box), row);
	exp = gtk_expander_new_with_mnemonic("_Advanced settings");
	labelled(exp, "Advanced settings");
	box = vbox_new(6, 6);
	g->url_entry = gtk_entry_new();
	gtk_entry_set_placeholder_text(GTK_ENTRY(g->url_entry),
	    "wss://api.firezone.dev (the service's when empty)");
	labelled(g->url_entry, "Portal URL");
	gtk_box_append(GTK_BOX(box), gtk_label_new("Portal URL"));
	gtk_box_append(GTK_BOX(box), g->url_entry);
	g->account_entry = gtk_entry_new();
	labelled(g->account_entry, "Account");
	gtk_box_append(GTK_BOX(box), gtk_label_new("Account"));
	gtk_box_append(GTK_BOX(box), g->account_entry);
	gtk_expander_set_child(GTK_EXPANDER(exp), box);
	gtk_box_append(GTK_BOX(g->signin_box), exp);
	g->signin_frame = frame_new("Sign in", g->signin_box);
	gtk_box_append(GTK_BOX(top), g->signin_frame);

	/* resources */
	box = vbox_new(4, 6);
	g->empty_label = gtk_label_new("No resources");
	gtk_box_append(GTK_BOX(box), g->empty_label);
	g->list = gtk_list_box_new();
	gtk_list_box_set_selection_mode(GTK_LIST_BOX(g->list),
	    GTK_SELECTION_NONE);
	labelled(g->list, "Resources");
	sc = gtk_scrolled_window_new();
	gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(sc), g->list);
	gtk_widget_set_vexpand(sc, TRUE);
	gtk_box_append(GTK_BOX(box), sc);
	w = frame_new("Resources", box);
	gtk_widget_set_vexpand(w, TRUE);
	gtk_box_append(GTK_BOX(top), w);

	/* settings */
	g->settings_box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 10);
	w = gtk_label_new("Internet Resource");
	gtk_box_append(GTK_BOX(g->settings_box), w);
	g->inet_switch = gtk_switch_new();
	labelled(g->inet_switch, "Internet Resource");
#ifdef HAVE_IPC_INTERNET_RESOURCE
	gtk_widget_set_tooltip_text(g->inet_switch, "Route all traffic "
	    "through the Internet Resource");
	g_signal_connect(g->inet_switch, "notify::active",
	    G_CALLBACK(inet_toggled), g);
#else
	/*
	 * The FRONT section of ipc_msg.def has no message to turn the
	 * Internet Resource on or off: a switch that did nothing would lie.
	 */
	gtk_widget_set_sensitive(g->inet_switch, FALSE);
	gtk_widget_set_tooltip_text(g->inet_switch, "Not available: "
	    "fz-tunneld's front-end API has no Internet Resource message yet");
	gtk_accessible_update_property(GTK_ACCESSIBLE(g->inet_switch),
	    GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, "Not available: fz-tunneld's "
	    "front-end API has no Internet Resource message yet", -1);
#endif
	gtk_box_append(GTK_BOX(g->settings_box), g->inet_switch);
	gtk_box_append(GTK_BOX(g->settings_box), gtk_label_new("Log level"));
	g->log_drop = gtk_drop_down_new_from_strings(levels);
	labelled(g->log_drop, "Log level");
	gtk_drop_down_set_selected(GTK_DROP_DOWN(g->log_drop), 2);
	g_signal_connect(g->log_drop, "notify::selected",
	    G_CALLBACK(level_changed), g);
	gtk_box_append(GTK_BOX(g->settings_box), g->log_drop);
	g->export_btn = button_new("Export logs…");
	g_signal_connect(g->export_btn, "clicked", G_CALLBACK(export_clicked),
	    g);
	gtk_box_append(GTK_BOX(g->settings_box), g->export_btn);
	gtk_box_append(GTK_BOX(top), g->settings_box);

	g->message_label = label_new("", false, 0);
	labelled(g->message_label, "Last result");
	gtk_box_append(GTK_BOX(top), g->message_label);

	gtk_window_set_child(GTK_WINDOW(g->win), top);
	set_connected(g, false);
}

static void
activate(GtkApplication *app, gpointer data)
{
	struct gui *g = data;
	GFile *sock, *dir;

	if (g->win != NULL) {
		gtk_window_present(GTK_WINDOW(g->win));
		return;
	}
	g->path = fzc_socket_path(opt_socket);
	build_window(g);
	sock = g_file_new_for_path(g->path);
	if ((dir = g_file_get_parent(sock)) != NULL) {
		g->monitor = g_file_monitor_directory(dir, G_FILE_MONITOR_NONE,
		    NULL, NULL);
		if (g->monitor != NULL)
			g_signal_connect(g->monitor, "changed",
			    G_CALLBACK(dir_changed), g);
		g_object_unref(dir);
	}
	g_object_unref(sock);
	(void)app;
	gtk_window_present(GTK_WINDOW(g->win));
	(void)service_connect(g);
}

int
main(int argc, char *argv[])
{
	static const GOptionEntry opts[] = {
		{ "socket", 's', 0, G_OPTION_ARG_FILENAME, &opt_socket,
		  "fz-tunneld's socket (default $FZ_SOCKET, else "
		  FZC_DEFAULT_SOCKET ")", "PATH" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	struct gui *g = &G;
	int rc;

	if (log_init("fz-gui", LOG_FORMAT_TEXT, "error") != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if ((g->base = event_base_new()) == NULL)
		return 1;
	g->events = g_string_new(NULL);
	g->app = gtk_application_new(APP_ID, G_APPLICATION_NON_UNIQUE);
	g_application_add_main_option_entries(G_APPLICATION(g->app), opts);
	g_signal_connect(g->app, "activate", G_CALLBACK(activate), g);
	g_unix_signal_add(SIGUSR1, on_usr1, g);
	rc = g_application_run(G_APPLICATION(g->app), argc, argv);
	if (g->conn != NULL)
		ipc_conn_free(g->conn);
	if (g->monitor != NULL)
		g_object_unref(g->monitor);
	g_object_unref(g->app);
	event_base_free(g->base);
	g_string_free(g->events, TRUE);
	return rc;
}
