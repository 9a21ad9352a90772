/* SPDX-License-Identifier: ISC */
/*
 * WebSocket connections over libevent bufferevents (plain or OpenSSL),
 * frames by wslay.  See ws.h for the lifetime rules.
 *
 * Re-entrancy: every libevent entry point brackets its work with
 * enter()/leave().  User callbacks run inside; ws_free() there only marks
 * the connection dead, and leave() frees it once the outermost entry
 * returns.  API calls (ws_send_text, ws_close) never call back: they queue
 * and activate the `defer` event, which pumps on the next loop pass.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <wslay/wslay.h>

#include "ws.h"

#define WS_MAX_ADDRS	8		/* raced per attempt */
#define WS_OUT_HIGH	(4 * 1024 * 1024) /* output buffer before WOULDBLOCK */
#define WS_QUEUE_MAX	(8 * 1024 * 1024) /* queued + buffered before ENOBUFS */
#define WS_MAX_PENDING	1024		/* server connections in handshake */
#define WS_ACCEPT_PAUSE_MS 1000		/* after EMFILE and friends */

enum ws_state {
	ST_RESOLVING,	/* client: waiting for the deferred start / evdns */
	ST_CONNECTING,	/* client: TCP race */
	ST_HANDSHAKE,	/* TLS + HTTP head (client: response; server: req.) */
	ST_HTTP_BODY,	/* client: reading a refusal's body */
	ST_REPLYING,	/* server: flushing an HTTP answer, then free */
	ST_OPEN,
	ST_CLOSING,	/* close frame sent or received */
	ST_DONE,	/* terminal callback done (or dropped): free on leave */
};

struct attempt {
	int			 fd;
	struct event		*ev;
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
};

struct ws_conn {
	struct event_base	*base;
	enum ws_state		 state;
	bool			 server, opened, dead, close_req;
	int			 depth;
	struct ws_cbs		 cbs;
	void			*arg;

	struct bufferevent	*bev;
	wslay_event_context_ptr	 ws;
	struct event		*timer;		/* attempt/request/close limit */
	struct event		*defer;		/* start, pump, cancel */

	struct sockaddr_storage	 peer;
	socklen_t		 peer_len;
	int			 err;
	char			 detail[160];

	/* client */
	struct ws_url		 url;
	SSL_CTX			*ssl_ctx;
	struct evdns_base	*dns;
	struct evdns_getaddrinfo_request *dnsreq;
	struct event		*ctimer;	/* TCP connect deadline */
	struct attempt		 att[WS_MAX_ADDRS];
	unsigned		 natt, nlive;
	int			 connect_ms, attempt_ms;
	uint32_t		 fwmark;
	bool			 fwmark_failed;
	int			(*socket_fn)(void *, int);
	void			*socket_arg;
	char			*request;	/* has the token: cleansed */
	size_t			 request_len;
	char			 accept[29];
	struct ws_http_resp	*resp;
	int			 http_status;
	long			 retry_after;
	size_t			 body_want;
	char			*body;
	size_t			 body_len;

	/* server */
	ws_request_fn		 on_request;
	struct ws_http_req	*req;
	struct ws_listener	*lst;		/* set while not yet opened */
	struct ws_conn		*lnext, *lprev;
};

struct ws_listener {
	struct event_base	*base;
	struct evconnlistener	*lev;
	SSL_CTX			*ssl_ctx;
	ws_request_fn		 on_request;
	struct ws_cbs		 cbs;
	void			*arg;
	int			 request_ms;
	struct ws_conn		*pending;	/* accepted, not yet opened */
	unsigned		 npending;
	struct event		*pause;		/* accept errors: retry later */
};

static void	conn_destroy(struct ws_conn *);
static void	ws_pump(struct ws_conn *);
static void	readcb(struct bufferevent *, void *);
static void	writecb(struct bufferevent *, void *);
static void	eventcb(struct bufferevent *, short, void *);

/* ---- lifetime ---------------------------------------------------------- */

static void
enter(struct ws_conn *c)
{
	c->depth++;
}

/* Returns false when c was freed. */
static bool
leave(struct ws_conn *c)
{
	if (--c->depth == 0 && c->dead) {
		conn_destroy(c);
		return false;
	}
	return true;
}

/* True when the caller must stop touching c's I/O (freed on leave). */
static bool
gone(const struct ws_conn *c)
{
	return c->dead || c->state == ST_DONE;
}

static void __attribute__((format(printf, 3, 4)))
set_error(struct ws_conn *c, int err, const char *fmt, ...)
{
	va_list ap;

	c->err = err;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
}

static void
stop_io(struct ws_conn *c)
{
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->timer != NULL)
		evtimer_del(c->timer);
	if (c->ctimer != NULL)
		evtimer_del(c->ctimer);
	for (unsigned i = 0; i < c->natt; i++)
		if (c->att[i].ev != NULL)
			event_del(c->att[i].ev);
}

/*
 * Ends the connection: the terminal callback (closed, unless this is a
 * server connection never opened), then free on leave.  Must run inside
 * enter()/leave().
 */
static void
finish(struct ws_conn *c, int code)
{
	if (gone(c))
		return;
	c->state = ST_DONE;
	stop_io(c);
	if ((!c->server || c->opened) && c->cbs.closed != NULL)
		c->cbs.closed(c, code, c->arg);
	c->dead = true;
}

static void
finish_err(struct ws_conn *c, int err, const char *what)
{
	set_error(c, err, "%s: %s", what, strerror(-err));
	finish(c, WS_CLOSE_ABNORMAL);
}

/* Off the listener's list of connections still in their handshake. */
static void
unlink_pending(struct ws_conn *c)
{
	if (c->lst == NULL)
		return;
	if (c->lprev != NULL)
		c->lprev->lnext = c->lnext;
	else
		c->lst->pending = c->lnext;
	if (c->lnext != NULL)
		c->lnext->lprev = c->lprev;
	c->lst->npending--;
	c->lst = NULL;
	c->lnext = c->lprev = NULL;
}

static void
conn_destroy(struct ws_conn *c)
{
	unlink_pending(c);
	if (c->dnsreq != NULL) {
		struct evdns_getaddrinfo_request *r = c->dnsreq;

		c->dnsreq = NULL;
		evdns_getaddrinfo_cancel(r);
	}
	for (unsigned i = 0; i < c->natt; i++) {
		if (c->att[i].ev != NULL)
			event_free(c->att[i].ev);
		if (c->att[i].fd >= 0)
			close(c->att[i].fd);
	}
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->ctimer != NULL)
		event_free(c->ctimer);
	if (c->defer != NULL)
		event_free(c->defer);
	if (c->ws != NULL)
		wslay_event_context_free(c->ws);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->request != NULL) {
		OPENSSL_cleanse(c->request, c->request_len);
		free(c->request);
	}
	free(c->resp);
	free(c->req);
	free(c->body);
	free(c);
}

void
ws_free(struct ws_conn *c)
{
	if (c == NULL)
		return;
	if (c->depth > 0) {
		if (c->state != ST_DONE) {
			c->state = ST_DONE;
			stop_io(c);
		}
		c->dead = true;
		return;
	}
	conn_destroy(c);
}

static void
arm(struct event *ev, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

static void timer_cb(evutil_socket_t, short, void *);
static void defer_cb(evutil_socket_t, short, void *);

static struct ws_conn *
conn_new(struct event_base *base, const struct ws_cbs *cbs, void *arg)
{
	struct ws_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->base = base;
	if (cbs != NULL)
		c->cbs = *cbs;
	c->arg = arg;
	c->retry_after = -1;
	for (unsigned i = 0; i < WS_MAX_ADDRS; i++)
		c->att[i].fd = -1;
	c->timer = evtimer_new(base, timer_cb, c);
	c->defer = event_new(base, -1, 0, defer_cb, c);
	if (c->timer == NULL || c->defer == NULL) {
		conn_destroy(c);
		return NULL;
	}
	return c;
}

void
ws_conn_set_arg(struct ws_conn *c, void *arg)
{
	c->arg = arg;
}

int
ws_conn_error(const struct ws_conn *c)
{
	return c->err;
}

const char *
ws_conn_error_detail(const struct ws_conn *c)
{
	return c->detail;
}

const struct sockaddr *
ws_conn_peer(const struct ws_conn *c, socklen_t *len)
{
	if (len != NULL)
		*len = c->peer_len;
	return c->peer_len > 0 ? (const struct sockaddr *)&c->peer : NULL;
}

bool
ws_conn_fwmark_failed(const struct ws_conn *c)
{
	return c->fwmark_failed;
}

/* ---- WebSocket frames (wslay) ------------------------------------------ */

/* RFC 3629 UTF-8, no overlongs, no surrogates, <= U+10FFFF. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else
			return false;
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct ws_conn *c = arg;
	int n;

	if (gone(c)) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct ws_conn *c = arg;
	struct evbuffer *out;

	if (gone(c)) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) >= WS_OUT_HIGH) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (evbuffer_add(out, data, len) != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static int
ws_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    void *arg)
{
	if (RAND_bytes(buf, (int)len) != 1) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return 0;
}

static void
ws_msg_cb(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	struct ws_conn *c = arg;

	if (gone(c) || m->opcode != WSLAY_TEXT_FRAME)
		return;		/* binary ignored; ping/pong/close by wslay */
	if (!utf8_valid(m->msg, m->msg_length)) {
		/* RFC 6455 §8.1: fail with 1007 and stop reading. */
		if (!wslay_event_get_close_sent(ctx))
			(void)wslay_event_queue_close(ctx,
			    WS_CLOSE_BAD_DATA, NULL, 0);
		wslay_event_shutdown_read(ctx);
		return;
	}
	if (c->cbs.text != NULL)
		c->cbs.text(c, (const char *)m->msg, m->msg_length, c->arg);
}

static int
ws_start(struct ws_conn *c)
{
	struct wslay_event_callbacks cb = {
		.recv_callback = ws_recv_cb,
		.send_callback = ws_send_cb,
		.genmask_callback = ws_genmask_cb,
		.on_msg_recv_callback = ws_msg_cb,
	};
	int r;

	r = c->server ? wslay_event_context_server_init(&c->ws, &cb, c) :
	    wslay_event_context_client_init(&c->ws, &cb, c);
	if (r != 0)
		return -ENOMEM;
	wslay_event_config_set_max_recv_msg_length(c->ws, WS_MAX_MESSAGE);
	unlink_pending(c);	/* its owner has it now */
	c->state = ST_OPEN;
	c->opened = true;
	evtimer_del(c->timer);
	return 0;
}

static int
close_code(struct ws_conn *c)
{
	if (wslay_event_get_close_received(c->ws)) {
		int code = wslay_event_get_status_code_received(c->ws);

		return code != 0 ? code : 1005;		/* no status */
	}
	if (wslay_event_get_close_sent(c->ws))
		return wslay_event_get_status_code_sent(c->ws);
	return WS_CLOSE_ABNORMAL;
}

/* Ends an open connection with whatever close state wslay has. */
static void
ws_finish(struct ws_conn *c, int err, const char *what)
{
	int code = close_code(c);

	if (wslay_event_get_close_received(c->ws) && err != -ETIMEDOUT)
		set_error(c, 0, "closed (%d)", code);
	else if (wslay_event_get_close_sent(c->ws) && code != WS_CLOSE_NORMAL &&
	    err != -ETIMEDOUT)
		set_error(c, -EPROTO, "closed by us (%d)", code);
	else
		set_error(c, err != 0 ? err : -EPROTO, "%s: %s", what,
		    strerror(err != 0 ? -err : EPROTO));
	finish(c, code);
}

/* Moves bytes through wslay; inside enter()/leave(). */
static void
ws_pump(struct ws_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	int r;

	if (wslay_event_want_read(c->ws) && evbuffer_get_length(in) > 0) {
		r = wslay_event_recv(c->ws);
		if (gone(c))
			return;
		if (r != 0) {
			ws_finish(c, r == WSLAY_ERR_NOMEM ? -ENOMEM : -EPROTO,
			    "websocket receive");
			return;
		}
	}
	if (!wslay_event_want_read(c->ws))
		evbuffer_drain(in, evbuffer_get_length(in));
	if (wslay_event_want_write(c->ws) &&
	    (r = wslay_event_send(c->ws)) != 0) {
		ws_finish(c, r == WSLAY_ERR_NOMEM ? -ENOMEM : -EPROTO,
		    "websocket send");
		return;
	}
	if (c->state == ST_OPEN && (wslay_event_get_close_sent(c->ws) ||
	    wslay_event_get_close_received(c->ws))) {
		c->state = ST_CLOSING;
		arm(c->timer, WS_CLOSE_TIMEOUT_MS);
	}
	/*
	 * Done once both close frames have passed and ours is flushed.  When
	 * wslay stopped reading on an error (1002/1007/1009) it never sees the
	 * peer's echo: linger, draining, for the peer's EOF or the close timer
	 * so that closing early does not reset the peer before it reads ours.
	 */
	if (!wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws) &&
	    wslay_event_get_close_received(c->ws) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		ws_finish(c, 0, "closed");
	/* else writecb (output drained), readcb or eventcb pumps again */
}

int
ws_send_text(struct ws_conn *c, const char *data, size_t len)
{
	struct wslay_event_msg m = {
		WSLAY_TEXT_FRAME, (const uint8_t *)data, len
	};

	if (c == NULL || gone(c) || c->state != ST_OPEN ||
	    wslay_event_get_close_sent(c->ws))
		return -ENOTCONN;
	if (len > WS_MAX_MESSAGE)
		return -EMSGSIZE;
	if (wslay_event_get_queued_msg_length(c->ws) +
	    evbuffer_get_length(bufferevent_get_output(c->bev)) + len >
	    WS_QUEUE_MAX)
		return -ENOBUFS;
	switch (wslay_event_queue_msg(c->ws, &m)) {
	case 0:
		break;
	case WSLAY_ERR_NO_MORE_MSG:	/* a close is queued */
		return -ENOTCONN;
	default:
		return -ENOMEM;
	}
	event_active(c->defer, 0, 0);
	return 0;
}

static bool
valid_close_code(int code)
{
	return (code >= 1000 && code <= 1003) ||
	    (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

void
ws_close(struct ws_conn *c, int code)
{
	if (c == NULL || gone(c))
		return;
	if (c->state < ST_OPEN) {
		c->close_req = true;
	} else if (!wslay_event_get_close_sent(c->ws)) {
		if (!valid_close_code(code))
			code = WS_CLOSE_NORMAL;
		(void)wslay_event_queue_close(c->ws, (uint16_t)code, NULL, 0);
	}
	event_active(c->defer, 0, 0);
}

/* ---- shared callbacks ---------------------------------------------------- */

static void client_start(struct ws_conn *);
static void client_read_head(struct ws_conn *);
static void client_read_body(struct ws_conn *);
static void client_http_error(struct ws_conn *);
static void server_read_head(struct ws_conn *);

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws_conn *c = arg;

	enter(c);
	if (gone(c))
		;
	else if (c->close_req && c->state < ST_OPEN)
		finish_err(c, -ECANCELED, "connection attempt");
	else if (c->state == ST_RESOLVING)
		client_start(c);
	else if (c->state == ST_OPEN || c->state == ST_CLOSING)
		ws_pump(c);
	leave(c);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws_conn *c = arg;

	enter(c);
	switch (c->state) {
	case ST_HTTP_BODY:
		client_http_error(c);	/* what arrived in time */
		break;
	case ST_OPEN:
	case ST_CLOSING:
		ws_finish(c, -ETIMEDOUT, "close handshake");
		break;
	case ST_REPLYING:
		finish(c, WS_CLOSE_ABNORMAL);
		break;
	case ST_DONE:
		break;
	default:
		finish_err(c, -ETIMEDOUT, c->server ? "request" :
		    "connection attempt");
		break;
	}
	leave(c);
}

static void
readcb(struct bufferevent *bev, void *arg)
{
	struct ws_conn *c = arg;

	enter(c);
	switch (c->state) {
	case ST_HANDSHAKE:
		if (c->server)
			server_read_head(c);
		else
			client_read_head(c);
		break;
	case ST_HTTP_BODY:
		client_read_body(c);
		break;
	case ST_OPEN:
	case ST_CLOSING:
		ws_pump(c);
		break;
	default:
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		break;
	}
	leave(c);
}

static void
writecb(struct bufferevent *bev, void *arg)
{
	struct ws_conn *c = arg;

	enter(c);
	if (c->state == ST_REPLYING)
		finish(c, WS_CLOSE_ABNORMAL);	/* answer flushed */
	else if (c->state == ST_OPEN || c->state == ST_CLOSING)
		ws_pump(c);
	leave(c);
}

/* Why a bufferevent failed, TLS verification first. */
static void
io_error(struct ws_conn *c, short what)
{
	unsigned long e;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	char buf[120];

	if (ssl != NULL && !c->server &&
	    SSL_get_verify_result(ssl) != X509_V_OK) {
		set_error(c, -EPROTO, "certificate verify failed: %s",
		    X509_verify_cert_error_string(
		    SSL_get_verify_result(ssl)));
		return;
	}
	if ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		set_error(c, -EPROTO, "tls: %s", buf);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		set_error(c, -ECONNRESET, "connection closed by peer");
		return;
	}
	int err = EVUTIL_SOCKET_ERROR();
	set_error(c, err != 0 ? -err : -EIO, "i/o: %s",
	    strerror(err != 0 ? err : EIO));
}

static void
eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct ws_conn *c = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;		/* CONNECTED: TLS handshake done */
	enter(c);
	if (gone(c)) {
		leave(c);
		return;
	}
	if (c->state == ST_HTTP_BODY && !(what & BEV_EVENT_ERROR)) {
		client_read_body(c);
		if (!gone(c))
			client_http_error(c);	/* body ends at close */
	} else if (c->state == ST_OPEN || c->state == ST_CLOSING) {
		/* Handle what arrived with the FIN (an echoed close). */
		ws_pump(c);
		if (!gone(c)) {
			io_error(c, what);
			ws_finish(c, c->err, "connection");
		}
	} else {
		io_error(c, what);
		finish(c, WS_CLOSE_ABNORMAL);
	}
	leave(c);
}

static int
stream_start(struct ws_conn *c, int fd, SSL *ssl, bool accepting)
{
	if (ssl != NULL) {
		c->bev = bufferevent_openssl_socket_new(c->base, fd, ssl,
		    accepting ? BUFFEREVENT_SSL_ACCEPTING :
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		/* On failure libevent may already have freed ssl and fd
		 * (BEV_OPT_CLOSE_ON_FREE): leak rather than double free. */
		if (c->bev == NULL)
			return -ENOMEM;
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(c->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			close(fd);
			return -ENOMEM;
		}
	}
	bufferevent_setcb(c->bev, readcb, writecb, eventcb, c);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0)
		return -ENOMEM;
	c->state = ST_HANDSHAKE;
	return 0;
}

/* ---- client ---------------------------------------------------------- */

static bool
valid_header_line(const char *h)
{
	const char *p = h;

	while (*p != '\0' && *p != ':' &&
	    (isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p)))
		p++;
	if (p == h || *p != ':')
		return false;
	for (p++; *p != '\0'; p++)
		if (*p != ' ' && *p != '\t' &&
		    ((unsigned char)*p < 0x21 || (unsigned char)*p == 0x7f))
			return false;
	return true;
}

static bool
is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

static int
build_request(struct ws_conn *c, const struct ws_client_opts *o)
{
	unsigned char key[16];
	char key64[25], hostport[300];
	bool v6 = strchr(c->url.host, ':') != NULL;
	bool dflt = c->url.port == (c->url.tls ? 443 : 80);
	struct evbuffer *b;
	int rc = -ENOMEM;

	if (RAND_bytes(key, sizeof(key)) != 1)
		return -EIO;
	EVP_EncodeBlock((unsigned char *)key64, key, sizeof(key));
	ws_accept_key(key64, c->accept);
	snprintf(hostport, sizeof(hostport), "%s%s%s%s%u", v6 ? "[" : "",
	    c->url.host, v6 ? "]" : "", dflt ? "" : ":",
	    dflt ? 0 : c->url.port);
	if (dflt)	/* drop the "0" */
		hostport[strlen(hostport) - 1] = '\0';

	if ((b = evbuffer_new()) == NULL)
		return -ENOMEM;
	if (evbuffer_add_printf(b, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "Connection: Upgrade\r\nUpgrade: websocket\r\n"
	    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n",
	    c->url.target, hostport, key64) < 0)
		goto out;
	if (o->user_agent != NULL && evbuffer_add_printf(b,
	    "User-Agent: %s\r\n", o->user_agent) < 0)
		goto out;
	for (size_t i = 0; o->headers != NULL && o->headers[i] != NULL; i++)
		if (evbuffer_add_printf(b, "%s\r\n", o->headers[i]) < 0)
			goto out;
	if (evbuffer_add(b, "\r\n", 2) != 0)
		goto out;
	c->request_len = evbuffer_get_length(b);
	if (c->request_len > WS_MAX_HTTP_HEADER) {
		rc = -EINVAL;
		goto out;
	}
	if ((c->request = malloc(c->request_len)) == NULL)
		goto out;
	evbuffer_copyout(b, c->request, c->request_len);
	rc = 0;
out:
	/* The evbuffer held the token: wipe its chain before freeing. */
	{
		size_t n = evbuffer_get_length(b);
		unsigned char *p = n > 0 ? evbuffer_pullup(b, -1) : NULL;

		if (p != NULL)
			OPENSSL_cleanse(p, n);
	}
	evbuffer_free(b);
	return rc;
}

int
ws_client_connect(struct event_base *base, const struct ws_client_opts *o,
    const struct ws_cbs *cbs, void *arg, struct ws_conn **out)
{
	struct ws_conn *c;
	struct ws_url url;
	int rc;

	if (base == NULL || o == NULL || o->url == NULL ||
	    ws_url_parse(o->url, &url) != 0)
		return -EINVAL;
	if (url.tls && o->ssl_ctx == NULL)
		return -EINVAL;
	if (!is_ip_literal(url.host) && o->dns == NULL)
		return -EINVAL;
	if (o->user_agent != NULL) {
		for (const char *p = o->user_agent; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return -EINVAL;
	}
	for (size_t i = 0; o->headers != NULL && o->headers[i] != NULL; i++)
		if (!valid_header_line(o->headers[i]))
			return -EINVAL;
	if ((c = conn_new(base, cbs, arg)) == NULL)
		return -ENOMEM;
	c->url = url;
	c->ssl_ctx = url.tls ? o->ssl_ctx : NULL;
	c->dns = o->dns;
	c->fwmark = o->fwmark;
	c->socket_fn = o->socket_fn;
	c->socket_arg = o->socket_arg;
	c->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms :
	    WS_CONNECT_TIMEOUT_MS;
	c->attempt_ms = o->attempt_timeout_ms > 0 ? o->attempt_timeout_ms :
	    WS_ATTEMPT_TIMEOUT_MS;
	if ((c->ctimer = evtimer_new(base, timer_cb, c)) == NULL) {
		conn_destroy(c);
		return -ENOMEM;
	}
	if ((rc = build_request(c, o)) != 0) {
		conn_destroy(c);
		return rc;
	}
	c->state = ST_RESOLVING;
	arm(c->timer, c->attempt_ms);
	event_active(c->defer, 0, 0);	/* never call back from here */
	*out = c;
	return 0;
}

static void start_race(struct ws_conn *, const struct evutil_addrinfo *);

static void
dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct ws_conn *c = arg;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* from conn_destroy: c is going away */
	c->dnsreq = NULL;
	enter(c);
	if (gone(c))
		;
	else if (result != 0) {
		set_error(c, result == EVUTIL_EAI_NONAME ? -ENOENT : -EAGAIN,
		    "resolve %s: %s", c->url.host, evutil_gai_strerror(result));
		finish(c, WS_CLOSE_ABNORMAL);
	} else
		start_race(c, res);
	if (res != NULL)
		evutil_freeaddrinfo(res);
	leave(c);
}

static void
client_start(struct ws_conn *c)
{
	struct evutil_addrinfo hints, *res = NULL;
	struct evdns_getaddrinfo_request *r;
	char port[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	snprintf(port, sizeof(port), "%u", c->url.port);
	if (is_ip_literal(c->url.host)) {
		hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
		if (evutil_getaddrinfo(c->url.host, port, &hints, &res) != 0) {
			finish_err(c, -EINVAL, "address");
			return;
		}
		start_race(c, res);
		evutil_freeaddrinfo(res);
		return;
	}
	/* Marked as waiting first: the callback may run synchronously. */
	c->dnsreq = (struct evdns_getaddrinfo_request *)1;
	r = evdns_getaddrinfo(c->dns, c->url.host, port, &hints, dns_cb, c);
	if (c->dnsreq != NULL)
		c->dnsreq = r;
}

static void race_cb(evutil_socket_t, short, void *);

static void
start_attempt(struct ws_conn *c, const struct sockaddr *sa, socklen_t len)
{
	struct attempt *a = &c->att[c->natt];
	int fd;

	if (len > sizeof(a->sa))
		return;
	for (unsigned i = 0; i < c->natt; i++)
		if (c->att[i].salen == len && memcmp(&c->att[i].sa, sa,
		    len) == 0)
			return;		/* duplicate answer */
	if (c->socket_fn != NULL &&
	    (fd = c->socket_fn(c->socket_arg, sa->sa_family)) >= 0) {
		/* handed over, marked already: made non-blocking here */
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
			set_error(c, -errno, "fcntl: %s", strerror(errno));
			close(fd);
			return;
		}
	} else
		fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		set_error(c, -errno, "socket: %s", strerror(errno));
		return;
	}
	if (c->fwmark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &c->fwmark,
	    sizeof(c->fwmark)) != 0) {
		if (errno != EPERM) {
			set_error(c, -errno, "SO_MARK: %s", strerror(errno));
			close(fd);
			return;
		}
		c->fwmark_failed = true;	/* no CAP_NET_ADMIN */
	}
	if (connect(fd, sa, len) != 0 && errno != EINPROGRESS) {
		set_error(c, -errno, "connect: %s", strerror(errno));
		close(fd);
		return;
	}
	if ((a->ev = event_new(c->base, fd, EV_WRITE, race_cb, c)) == NULL ||
	    event_add(a->ev, NULL) != 0) {
		if (a->ev != NULL)
			event_free(a->ev);
		a->ev = NULL;
		close(fd);
		return;
	}
	a->fd = fd;
	memcpy(&a->sa, sa, len);
	a->salen = len;
	c->natt++;
	c->nlive++;
}

/* RFC 8305-style race without the stagger: all addresses at once. */
static void
start_race(struct ws_conn *c, const struct evutil_addrinfo *res)
{
	for (; res != NULL && c->natt < WS_MAX_ADDRS; res = res->ai_next)
		if (res->ai_family == AF_INET || res->ai_family == AF_INET6)
			start_attempt(c, res->ai_addr, res->ai_addrlen);
	if (c->nlive == 0) {
		if (c->err == 0)
			set_error(c, -EHOSTUNREACH, "no usable address");
		finish(c, WS_CLOSE_ABNORMAL);
		return;
	}
	c->state = ST_CONNECTING;
	arm(c->ctimer, c->connect_ms);
}

static void
drop_attempt(struct attempt *a)
{
	if (a->ev != NULL)
		event_free(a->ev);
	a->ev = NULL;
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
}

static void
won(struct ws_conn *c, struct attempt *w)
{
	SSL *ssl = NULL;
	int fd = w->fd, rc;

	event_free(w->ev);
	w->ev = NULL;
	w->fd = -1;
	for (unsigned i = 0; i < c->natt; i++)
		drop_attempt(&c->att[i]);
	c->nlive = 0;
	evtimer_del(c->ctimer);
	memcpy(&c->peer, &w->sa, w->salen);
	c->peer_len = w->salen;

	if (c->ssl_ctx != NULL) {
		X509_VERIFY_PARAM *vp;

		if ((ssl = SSL_new(c->ssl_ctx)) == NULL) {
			close(fd);
			finish_err(c, -ENOMEM, "tls");
			return;
		}
		/* Verification is not optional, whatever the context says. */
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
		vp = SSL_get0_param(ssl);
		if (is_ip_literal(c->url.host))
			rc = X509_VERIFY_PARAM_set1_ip_asc(vp, c->url.host);
		else
			rc = SSL_set1_host(ssl, c->url.host) == 1 &&
			    SSL_set_tlsext_host_name(ssl, c->url.host) == 1;
		if (rc != 1) {
			SSL_free(ssl);
			close(fd);
			finish_err(c, -ENOMEM, "tls");
			return;
		}
	}
	if ((rc = stream_start(c, fd, ssl, false)) != 0) {
		finish_err(c, rc, "stream");
		return;
	}
	/* Buffered until the TLS handshake is done. */
	if (bufferevent_write(c->bev, c->request, c->request_len) != 0) {
		finish_err(c, -ENOMEM, "request");
		return;
	}
}

static void
race_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws_conn *c = arg;
	struct attempt *a = NULL;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	for (unsigned i = 0; i < c->natt; i++)
		if (c->att[i].fd == fd)
			a = &c->att[i];
	if (a == NULL)
		return;
	enter(c);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		soerr = errno;
	if (soerr == 0) {
		won(c, a);
	} else {
		set_error(c, -soerr, "connect: %s", strerror(soerr));
		drop_attempt(a);
		if (--c->nlive == 0)
			finish(c, WS_CLOSE_ABNORMAL);
	}
	leave(c);
}

static void
client_read_head(struct ws_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);
	const char *v;
	int hl;

	if (n > WS_MAX_HTTP_HEADER)
		n = WS_MAX_HTTP_HEADER;
	if (c->resp == NULL && (c->resp = malloc(sizeof(*c->resp))) == NULL) {
		finish_err(c, -ENOMEM, "response");
		return;
	}
	hl = ws_http_parse_response((const char *)evbuffer_pullup(in,
	    (ssize_t)n), n, c->resp);
	if (hl == -EAGAIN)
		return;
	if (hl < 0) {
		finish_err(c, -EPROTO, "upgrade response");
		return;
	}
	evbuffer_drain(in, (size_t)hl);
	if (c->resp->status != 101) {
		unsigned long long cl = 0;

		c->http_status = c->resp->status;
		c->retry_after = ws_http_retry_after(ws_http_resp_header(
		    c->resp, "retry-after"), time(NULL));
		c->body_want = WS_MAX_HTTP_BODY;
		if ((v = ws_http_resp_header(c->resp, "content-length")) !=
		    NULL && ws_http_resp_header(c->resp,
		    "transfer-encoding") == NULL) {
			char *end;

			errno = 0;
			cl = strtoull(v, &end, 10);
			if (*v < '0' || *v > '9' || *end != '\0' ||
			    errno != 0) {
				finish_err(c, -EPROTO, "content-length");
				return;
			}
			if (cl < c->body_want)
				c->body_want = (size_t)cl;
		}
		if ((c->body = malloc(c->body_want + 1)) == NULL) {
			finish_err(c, -ENOMEM, "body");
			return;
		}
		c->state = ST_HTTP_BODY;
		client_read_body(c);
		return;
	}
	/* RFC 6455 §4.1 items 2-6 */
	if ((v = ws_http_resp_header(c->resp, "upgrade")) == NULL ||
	    !ws_http_has_token(v, "websocket") ||
	    (v = ws_http_resp_header(c->resp, "connection")) == NULL ||
	    !ws_http_has_token(v, "upgrade") ||
	    (v = ws_http_resp_header(c->resp, "sec-websocket-accept")) ==
	    NULL || strcmp(v, c->accept) != 0 ||
	    ws_http_resp_header(c->resp, "sec-websocket-extensions") != NULL ||
	    ws_http_resp_header(c->resp, "sec-websocket-protocol") != NULL) {
		finish_err(c, -EPROTO, "bad 101 response");
		return;
	}
	free(c->resp);
	c->resp = NULL;
	if (ws_start(c) != 0) {
		finish_err(c, -ENOMEM, "websocket");
		return;
	}
	evtimer_del(c->ctimer);
	if (c->cbs.open != NULL)
		c->cbs.open(c, c->arg);
	if (!gone(c))
		ws_pump(c);	/* frames that came with the 101 */
}

static void
client_read_body(struct ws_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t room = c->body_want - c->body_len;
	int n;

	if (room > 0) {
		n = evbuffer_remove(in, c->body + c->body_len, room);
		if (n > 0)
			c->body_len += (size_t)n;
	}
	evbuffer_drain(in, evbuffer_get_length(in));
	if (c->body_len == c->body_want)
		client_http_error(c);
}

static void
client_http_error(struct ws_conn *c)
{
	if (gone(c))
		return;
	c->state = ST_DONE;
	stop_io(c);
	c->body[c->body_len] = '\0';
	set_error(c, -ECONNREFUSED, "upgrade refused: HTTP %d",
	    c->http_status);
	if (c->cbs.http_error != NULL)
		c->cbs.http_error(c, c->http_status, c->body, c->body_len,
		    c->retry_after, c->arg);
	c->dead = true;
}

SSL_CTX *
ws_client_ssl_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	const char *file = getenv("SSL_CERT_FILE");

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (file != NULL && *file != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, file, NULL) != 1)
			goto fail;
	} else if (SSL_CTX_load_verify_locations(ctx,
	    X509_get_default_cert_file(), NULL) != 1 &&
	    SSL_CTX_set_default_verify_paths(ctx) != 1)
		goto fail;
	ERR_clear_error();
	return ctx;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

struct evdns_base *
ws_bootstrap_dns(struct event_base *base)
{
	struct evdns_base *d;
	int r;

	/* DNS transaction ids come from libevent's RNG: seed it now, while
	 * the entropy source is still reachable. */
	if (evutil_secure_rng_init() != 0)
		return NULL;
	if ((d = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE)) ==
	    NULL)
		return NULL;
	/*
	 * 0 ok, 1 no file (libevent falls back to 127.0.0.1), 6 no
	 * nameserver lines (same): /etc/hosts still counts then.
	 * DNS_OPTIONS_ALL includes DNS_OPTION_HOSTSFILE.
	 */
	r = evdns_base_resolv_conf_parse(d, DNS_OPTIONS_ALL,
	    "/etc/resolv.conf");
	if (r != 0 && r != 1 && r != 6) {
		evdns_base_free(d, 0);
		return NULL;
	}
	if (r == 1)
		(void)evdns_base_load_hosts(d, "/etc/hosts");
	return d;
}

/* ---- server ---------------------------------------------------------- */

static const char *
status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

static void
server_reply(struct ws_conn *c, const struct ws_reply *r, const char *extra)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int status = r->status >= 200 && r->status <= 599 ? r->status : 500;
	const char *ct = r->content_type;

	if (ct != NULL)
		for (const char *p = ct; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				ct = NULL;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status,
	    status_text(status));
	if (ct != NULL && r->body_len > 0)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", ct);
	if (r->retry_after_s >= 0)
		evbuffer_add_printf(out, "Retry-After: %ld\r\n",
		    r->retry_after_s);
	if (extra != NULL)
		evbuffer_add_printf(out, "%s\r\n", extra);
	evbuffer_add_printf(out, "Content-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", r->body != NULL ? r->body_len : 0);
	if (r->body != NULL && r->body_len > 0)
		evbuffer_add(out, r->body, r->body_len);
	c->state = ST_REPLYING;
	bufferevent_disable(c->bev, EV_READ);
	arm(c->timer, WS_CLOSE_TIMEOUT_MS);
}

static void
server_simple(struct ws_conn *c, int status, const char *extra)
{
	struct ws_reply r = { status, NULL, NULL, 0, -1 };

	server_reply(c, &r, extra);
}

static void
server_read_head(struct ws_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);
	struct ws_reply reply = { 404, NULL, NULL, 0, -1 };
	char accept[29];
	const char *v;
	int hl, rc;

	if (n > WS_MAX_HTTP_HEADER)
		n = WS_MAX_HTTP_HEADER;
	if (c->req == NULL && (c->req = malloc(sizeof(*c->req))) == NULL) {
		finish(c, WS_CLOSE_ABNORMAL);
		return;
	}
	hl = ws_http_parse_request((const char *)evbuffer_pullup(in,
	    (ssize_t)n), n, c->req);
	if (hl == -EAGAIN)
		return;
	if (hl < 0) {
		server_simple(c, hl == -EMSGSIZE ? 431 : 400, NULL);
		return;
	}
	evbuffer_drain(in, (size_t)hl);
	c->req->peer = (const struct sockaddr *)&c->peer;
	c->req->peer_len = c->peer_len;

	rc = c->on_request != NULL ?
	    c->on_request(c->req, c, c->arg, &reply) : 1;
	if (gone(c))
		return;
	if (rc != 0) {
		server_reply(c, &reply, NULL);
		return;
	}
	if (!c->req->upgrade) {
		v = ws_http_req_header(c->req, "sec-websocket-version");
		if (v != NULL && strcmp(v, "13") != 0)
			server_simple(c, 426, "Sec-WebSocket-Version: 13");
		else
			server_simple(c, 400, NULL);
		return;
	}
	ws_accept_key(ws_http_req_header(c->req, "sec-websocket-key"), accept);
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
	OPENSSL_cleanse(c->req, sizeof(*c->req));	/* held the token */
	free(c->req);
	c->req = NULL;
	if (ws_start(c) != 0) {
		finish(c, WS_CLOSE_ABNORMAL);
		return;
	}
	if (c->cbs.open != NULL)
		c->cbs.open(c, c->arg);
	if (!gone(c))
		ws_pump(c);	/* frames sent right behind the request */
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct ws_listener *l = arg;
	struct ws_conn *c;
	SSL *ssl = NULL;

	if (l->npending >= WS_MAX_PENDING ||
	    (c = conn_new(l->base, &l->cbs, l->arg)) == NULL) {
		close(fd);
		return;
	}
	c->server = true;
	c->on_request = l->on_request;
	if (salen > 0 && (size_t)salen <= sizeof(c->peer)) {
		memcpy(&c->peer, sa, (size_t)salen);
		c->peer_len = (socklen_t)salen;
	}
	if (l->ssl_ctx != NULL && (ssl = SSL_new(l->ssl_ctx)) == NULL) {
		close(fd);
		conn_destroy(c);
		return;
	}
	if (stream_start(c, fd, ssl, true) != 0) {
		conn_destroy(c);
		return;
	}
	c->lst = l;
	c->lnext = l->pending;
	if (l->pending != NULL)
		l->pending->lprev = c;
	l->pending = c;
	l->npending++;
	arm(c->timer, l->request_ms);
}

/* "1.2.3.4:port" or "[v6]:port"; port 0 lets the kernel choose. */
static int
parse_listen_addr(const char *s, struct sockaddr_storage *ss, int *sl)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs = s;
	size_t hl;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return -EINVAL;
		hs = s + 1;
		hl = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host) || !isdigit((unsigned char)colon[1]))
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || errno != 0 || port > 65535)
		return -EINVAL;
	if (*s != '[') {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*sin6);
	}
	return 0;
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ws_listener *l = arg;

	evconnlistener_enable(l->lev);
}

/* EMFILE/ENFILE/ENOBUFS keep the socket readable: pause instead of
 * spinning. */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct ws_listener *l = arg;

	evconnlistener_disable(lev);
	arm(l->pause, WS_ACCEPT_PAUSE_MS);
}

int
ws_listen(struct event_base *base, const char *addr_port, SSL_CTX *ctx,
    ws_request_fn on_request, const struct ws_cbs *cbs, void *arg,
    struct ws_listener **out)
{
	struct sockaddr_storage ss;
	int sl = 0;
	struct ws_listener *l;

	if (base == NULL || addr_port == NULL || on_request == NULL ||
	    parse_listen_addr(addr_port, &ss, &sl) != 0)
		return -EINVAL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -ENOMEM;
	l->base = base;
	l->ssl_ctx = ctx;
	l->on_request = on_request;
	if (cbs != NULL)
		l->cbs = *cbs;
	l->arg = arg;
	l->request_ms = WS_REQUEST_TIMEOUT_MS;
	errno = 0;
	l->lev = evconnlistener_new_bind(base, accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, sl);
	if (l->lev == NULL) {
		int e = errno != 0 ? errno : EADDRNOTAVAIL;

		free(l);
		return -e;
	}
	if ((l->pause = evtimer_new(base, resume_cb, l)) == NULL) {
		evconnlistener_free(l->lev);
		free(l);
		return -ENOMEM;
	}
	evconnlistener_set_error_cb(l->lev, accept_error_cb);
	*out = l;
	return 0;
}

void
ws_listener_free(struct ws_listener *l)
{
	struct ws_conn *c;

	if (l == NULL)
		return;
	while ((c = l->pending) != NULL) {
		unlink_pending(c);
		ws_free(c);	/* deferred if inside its own callback */
	}
	evconnlistener_free(l->lev);
	event_free(l->pause);
	free(l);
}

int
ws_listener_addr(const struct ws_listener *l, struct sockaddr_storage *ss,
    socklen_t *len)
{
	socklen_t sl = sizeof(*ss);

	if (getsockname(evconnlistener_get_fd(l->lev), (struct sockaddr *)ss,
	    &sl) != 0)
		return -errno;
	*len = sl;
	return 0;
}

void
ws_listener_set_request_timeout(struct ws_listener *l, int ms)
{
	l->request_ms = ms > 0 ? ms : WS_REQUEST_TIMEOUT_MS;
}

SSL_CTX *
ws_server_ssl_ctx(const char *cert_pem, const char *key_pem)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_pem) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key_pem, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}
