/* SPDX-License-Identifier: ISC */
/*
 * WebSocket (RFC 6455) client and server over libevent, TLS through
 * bufferevent_openssl, frames by wslay.  Text messages only: binary frames
 * are ignored, pings answered, a close frame echoed, a message over
 * WS_MAX_MESSAGE closes with 1009, invalid UTF-8 with 1007.
 *
 * Lifetime: a struct ws_conn is owned by this module.  It ends with exactly
 * one terminal callback and is freed right after it returns:
 *   - client: http_error (upgrade refused with an HTTP status) or closed
 *     (anything else: DNS, TCP, TLS, bad 101, timeout, close handshake);
 *   - server: closed, only for a connection whose upgrade was accepted.
 * ws_free() drops a connection at any time without calling any callback;
 * it, ws_close() and ws_send_text() may be called from inside any callback
 * (the free is deferred until the callback returns).  No callback is ever
 * called from inside ws_client_connect(), ws_close() or ws_free().
 *
 * Header values (X-Authorization) are never logged.
 */
#ifndef FZ_WS_H
#define FZ_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

struct event_base;
struct evdns_base;

#define WS_MAX_MESSAGE		(1024 * 1024)	/* inbound text message */
#define WS_MAX_HTTP_HEADER	(16 * 1024)	/* request/response head */
#define WS_MAX_HTTP_BODY	(64 * 1024)	/* refusal body a client keeps */
#define WS_MAX_HTTP_HEADERS	64
#define WS_MAX_URL		4096

/* Close codes (RFC 6455 §7.4.1) this module produces. */
#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_ABNORMAL	1006	/* never on the wire: no close frame */
#define WS_CLOSE_BAD_DATA	1007
#define WS_CLOSE_TOO_BIG	1009

/* Default timeouts (ms); 0 in an option picks the default. */
#define WS_CONNECT_TIMEOUT_MS	5000	/* TCP connect, all addresses raced */
#define WS_ATTEMPT_TIMEOUT_MS	15000	/* resolve + TCP + TLS + upgrade */
#define WS_REQUEST_TIMEOUT_MS	10000	/* server: TLS + request head */
#define WS_CLOSE_TIMEOUT_MS	2000	/* close handshake */

struct ws_conn;
struct ws_listener;

struct ws_cbs {
	/* Upgrade done (client: valid 101; server: 101 sent). */
	void	(*open)(struct ws_conn *, void *arg);
	/* One complete text message, valid UTF-8, not NUL-terminated;
	 * borrowed until the callback returns. */
	void	(*text)(struct ws_conn *, const char *, size_t, void *arg);
	/*
	 * Terminal: code is the close code received (1005 for a close frame
	 * without one), else the one we sent (1002/1007/1009 on a peer's
	 * protocol error), else WS_CLOSE_ABNORMAL; ws_conn_error() says why.
	 */
	void	(*closed)(struct ws_conn *, int code, void *arg);
	/*
	 * Client, terminal: upgrade answered with a non-101 status.  body is
	 * at most WS_MAX_HTTP_BODY bytes (Content-Length, else until close),
	 * NUL-terminated; retry_after_s from Retry-After (delta-seconds or an
	 * HTTP-date made relative), -1 when absent or unparsable.
	 */
	void	(*http_error)(struct ws_conn *, int status, const char *body,
		    size_t n, long retry_after_s, void *arg);
};

/* ---- client ----------------------------------------------------------- */

struct ws_client_opts {
	const char	*url;		/* ws[s]://host[:port]/path?query */
	const char *const *headers;	/* "Name: value", NULL-ended; or NULL */
	const char	*user_agent;	/* NULL: no User-Agent */
	SSL_CTX		*ssl_ctx;	/* wss:// needs it: ws_client_ssl_ctx() */
	/*
	 * Resolver for a host name (ws_bootstrap_dns()); NULL allows only
	 * numeric hosts.  All addresses found are raced (TCP), first wins.
	 */
	struct evdns_base *dns;
	int		 connect_timeout_ms;	/* 0: WS_CONNECT_TIMEOUT_MS */
	int		 attempt_timeout_ms;	/* 0: WS_ATTEMPT_TIMEOUT_MS */
	uint32_t	 fwmark;	/* SO_MARK; 0 none; EPERM ignored */
	/*
	 * Where a TCP socket of a family comes from (an fd, non-blocking
	 * or not, already marked; the connection owns it), or -1 to make
	 * one here; NULL: always here.
	 */
	int		(*socket_fn)(void *arg, int family);
	void		*socket_arg;
};

/*
 * Starts a connection; progress and failure come through cbs.  ssl_ctx and
 * dns are borrowed for the life of the connection; url and headers are
 * copied.  Returns 0 and *out, or -EINVAL (bad URL/header, wss:// without
 * ssl_ctx, name without dns), -ENOMEM.
 */
int	ws_client_connect(struct event_base *, const struct ws_client_opts *,
	    const struct ws_cbs *, void *arg, struct ws_conn **out)
	    __attribute__((warn_unused_result));

/*
 * TLS client context: peer verification on, TLS >= 1.2, trust from
 * $SSL_CERT_FILE if set, else OpenSSL's default CA file (both read now, so
 * it works after a sandbox), else the default paths.  Host name checking
 * and SNI are set per connection from the URL host.  NULL on error.
 */
SSL_CTX	*ws_client_ssl_ctx(void);

/*
 * A resolver that reads /etc/resolv.conf and /etc/hosts now (call it
 * before a sandbox) and then queries the listed servers directly, not
 * through the system resolver.  NULL on error.  Free with
 * evdns_base_free(dns, 1).
 */
struct evdns_base *ws_bootstrap_dns(struct event_base *);

/* ---- either side ------------------------------------------------------ */

/* Queues one text message (copied).  -ENOTCONN before open / after close,
 * -EMSGSIZE over WS_MAX_MESSAGE, -ENOBUFS when too much is queued. */
int	ws_send_text(struct ws_conn *, const char *, size_t)
	    __attribute__((warn_unused_result));
/*
 * Starts the close handshake with code (1000 normal); closed() follows once
 * the peer answers, fails or WS_CLOSE_TIMEOUT_MS passes.  Before open it
 * just ends the attempt (closed with WS_CLOSE_ABNORMAL, asynchronously).
 */
void	ws_close(struct ws_conn *, int code);
/* Drops the connection now, no callbacks.  NULL-safe. */
void	ws_free(struct ws_conn *);

/* Replaces the callback argument (server: call it from on_request). */
void	ws_conn_set_arg(struct ws_conn *, void *arg);
/* Why the connection ended (valid in closed()): 0 after a clean close, or
 * -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -ENOENT (name not found),
 * -EPROTO (TLS/HTTP/WebSocket protocol), -ECONNRESET, ...  */
int	ws_conn_error(const struct ws_conn *);
/* Human detail for a log line ("certificate verify failed: ..."); never
 * contains header values. */
const char *ws_conn_error_detail(const struct ws_conn *);
/* Peer address (client: the address that won the race). */
const struct sockaddr *ws_conn_peer(const struct ws_conn *, socklen_t *);
/* True when SO_MARK was asked for and refused (EPERM): mark not applied. */
bool	ws_conn_fwmark_failed(const struct ws_conn *);

/* ---- server ----------------------------------------------------------- */

struct ws_http_hdr {
	const char	*name, *value;	/* value: outer whitespace trimmed */
};

/* A parsed request head (also filled by ws_http_parse_request). */
struct ws_http_req {
	const char	*method;	/* "GET" */
	const char	*path;		/* "/client/v2/websocket", raw */
	const char	*query;		/* raw text after '?', "" if none */
	int		 http_minor;	/* HTTP/1.x */
	bool		 upgrade;	/* a valid WebSocket 13 upgrade */
	const struct sockaddr *peer;	/* NULL from the bare parser */
	socklen_t	 peer_len;
	struct ws_http_hdr hdr[WS_MAX_HTTP_HEADERS];
	unsigned	 nhdr;
	char		 buf[WS_MAX_HTTP_HEADER + 1];	/* private storage */
};

/* First header named name (ASCII case-insensitive), or NULL. */
const char *ws_http_req_header(const struct ws_http_req *, const char *name);

/* What on_request answers instead of accepting the upgrade. */
struct ws_reply {
	int		 status;	/* 200..599 */
	const char	*content_type;	/* NULL: no body type ("text/plain") */
	const char	*body;		/* may be NULL; read (and copied) after
					   on_request returns, so it must
					   outlive the call: not on its stack */
	size_t		 body_len;
	long		 retry_after_s;	/* -1: no Retry-After */
};

/*
 * Called once per request head.  Return 0 to accept the WebSocket upgrade
 * (a request that is not a valid upgrade then gets 426/400), or 1 after
 * filling *reply (preset: 404, no body, no Retry-After) to answer with it
 * and close.  conn is valid during the call; after an accept it lives on
 * until closed().  req is borrowed for the call.
 */
typedef int (*ws_request_fn)(const struct ws_http_req *req,
	    struct ws_conn *conn, void *arg, struct ws_reply *reply);

/*
 * Listens on "127.0.0.1:8443", "[::1]:8443" or "0.0.0.0:0" (port 0: pick
 * one, see ws_listener_addr).  server_ctx NULL: plain WS; else TLS with
 * it (borrowed).  cbs/arg are the defaults for accepted connections.
 */
int	ws_listen(struct event_base *, const char *addr_port,
	    SSL_CTX *server_ctx, ws_request_fn on_request,
	    const struct ws_cbs *, void *arg, struct ws_listener **out)
	    __attribute__((warn_unused_result));
/* Stops listening and drops connections still in their handshake (no
 * callbacks); opened ones go on.  NULL-safe. */
void	ws_listener_free(struct ws_listener *);
int	ws_listener_addr(const struct ws_listener *, struct sockaddr_storage *,
	    socklen_t *) __attribute__((warn_unused_result));
/* TLS handshake + request head deadline (default WS_REQUEST_TIMEOUT_MS). */
void	ws_listener_set_request_timeout(struct ws_listener *, int ms);

/* Server TLS context from PEM files (certificate chain, key).  NULL on
 * error. */
SSL_CTX	*ws_server_ssl_ctx(const char *cert_pem, const char *key_pem);

/*
 * Query helper: decodes the first parameter called name (%XX and '+')
 * from a raw query into buf (NUL-terminated).  Returns the decoded length,
 * -ENOENT when absent, -ENOSPC when it does not fit, -EINVAL for a bad
 * escape or a decoded NUL.
 */
int	ws_query_get(const char *query, const char *name, char *buf,
	    size_t len) __attribute__((warn_unused_result));
/* Same decoding for one component of n bytes. */
int	ws_url_decode(const char *in, size_t n, char *buf, size_t len)
	    __attribute__((warn_unused_result));

/* ---- pure parsers (exposed for tests and fuzzing) ---------------------- */

struct ws_url {
	bool		 tls;
	char		 host[256];	/* without brackets */
	uint16_t	 port;
	char		 target[WS_MAX_URL];	/* path[?query], "/" default */
};
int	ws_url_parse(const char *url, struct ws_url *out)
	    __attribute__((warn_unused_result));

struct ws_http_resp {
	int		 status;
	int		 http_minor;
	struct ws_http_hdr hdr[WS_MAX_HTTP_HEADERS];
	unsigned	 nhdr;
	char		 buf[WS_MAX_HTTP_HEADER + 1];
};
const char *ws_http_resp_header(const struct ws_http_resp *, const char *);

/*
 * Parse one head from data[0..len): returns its length (through the blank
 * line), -EAGAIN when incomplete and still under WS_MAX_HTTP_HEADER,
 * -EMSGSIZE when the head is too big or has too many headers, -EBADMSG
 * when malformed (bare LF, folding, NUL, bad token, duplicate singleton).
 * *out is written only on success.
 */
int	ws_http_parse_request(const char *data, size_t len,
	    struct ws_http_req *out) __attribute__((warn_unused_result));
int	ws_http_parse_response(const char *data, size_t len,
	    struct ws_http_resp *out) __attribute__((warn_unused_result));
/* Retry-After value: seconds (delta or HTTP-date minus now, >= 0), -1. */
long	ws_http_retry_after(const char *value, time_t now);
/* Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2): 28 chars + NUL. */
void	ws_accept_key(const char *key, char out[29]);
/* True when a comma-separated header value lists token (case-insensitive). */
bool	ws_http_has_token(const char *value, const char *token);

#endif
