/* SPDX-License-Identifier: ISC */
/*
 * portal/ws: the HTTP/URL parsers directly, then client and server over
 * loopback in one process and one event_base (plain and TLS with a
 * throw-away self-signed certificate), and a raw socket for what our own
 * client never sends (binary, ping, an oversized frame, a partial request).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "check_util.h"
#include "ws.h"

/* ---- parsers ------------------------------------------------------------ */

static const char good_req[] =
    "GET /client/v2/websocket?external_id=abc&name=al%20ice+x HTTP/1.1\r\n"
    "Host: portal.test:8443\r\n"
    "Upgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "x-authorization:   Bearer tok  \r\n"
    "\r\n";

static struct ws_http_req req;	/* 17 KiB: not on the stack */
static struct ws_http_resp resp;

START_TEST(t_parse_request)
{
	size_t n = strlen(good_req);
	char buf[64];

	ck_assert_int_eq(ws_http_parse_request(good_req, n, &req), (int)n);
	ck_assert_str_eq(req.method, "GET");
	ck_assert_str_eq(req.path, "/client/v2/websocket");
	ck_assert_str_eq(req.query, "external_id=abc&name=al%20ice+x");
	ck_assert(req.upgrade);
	ck_assert_str_eq(ws_http_req_header(&req, "X-Authorization"),
	    "Bearer tok");
	ck_assert_str_eq(ws_http_req_header(&req, "HOST"), "portal.test:8443");
	ck_assert_ptr_null(ws_http_req_header(&req, "cookie"));
	ck_assert_int_eq(ws_query_get(req.query, "name", buf, sizeof(buf)), 8);
	ck_assert_str_eq(buf, "al ice x");
	ck_assert_int_eq(ws_query_get(req.query, "external_id", buf,
	    sizeof(buf)), 3);
	ck_assert_int_eq(ws_query_get(req.query, "nam", buf, sizeof(buf)),
	    -ENOENT);
	ck_assert_int_eq(ws_query_get(req.query, "name", buf, 4), -ENOSPC);
	ck_assert_int_eq(ws_query_get("a=%4", "a", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(ws_query_get("a=%00", "a", buf, sizeof(buf)),
	    -EINVAL);
	ck_assert_int_eq(ws_query_get("a=%zz", "a", buf, sizeof(buf)),
	    -EINVAL);
	ck_assert_int_eq(ws_query_get("b&a=1", "b", buf, sizeof(buf)), 0);
	ck_assert_int_eq(ws_query_get("", "a", buf, sizeof(buf)), -ENOENT);

	/* Trailing bytes (early frames) are left for the caller. */
	char more[sizeof(good_req) + 4];
	memcpy(more, good_req, n);
	memcpy(more + n, "\x81\x00zz", 4);
	ck_assert_int_eq(ws_http_parse_request(more, n + 4, &req), (int)n);

	/* Every truncation is "incomplete", never an error or a success. */
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(ws_http_parse_request(good_req, i, &req),
		    -EAGAIN);
}
END_TEST

static int
parse_req_str(const char *s)
{
	return ws_http_parse_request(s, strlen(s), &req);
}

START_TEST(t_parse_request_bad)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\nHost: a\r\n\r\n",		/* bare LF */
		"GET / HTTP/1.1\r\nHost: a\r\n x\r\n\r\n",	/* folding */
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",		/* space */
		"GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",			/* no Host */
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Authorization: 1\r\n"
		    "x-authorization: 2\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
		"G\xc3T / HTTP/1.1\r\nHost: a\r\n\r\n",
		"\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
	};
	char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse_req_str(bad[i]) == -EBADMSG, "case %zu", i);
	ck_assert_int_eq(ws_http_parse_request(nul, sizeof(nul) - 1, &req),
	    -EBADMSG);

	/* Not an upgrade: still a valid request (health page). */
	ck_assert_int_gt(parse_req_str("GET /healthz HTTP/1.0\r\n\r\n"), 0);
	ck_assert(!req.upgrade);
	ck_assert_str_eq(req.query, "");
	ck_assert_int_gt(parse_req_str("GET / HTTP/1.1\r\nHost: a\r\n"
	    "Upgrade: websocket\r\nConnection: upgrade\r\n"
	    "Sec-WebSocket-Version: 8\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"), 0);
	ck_assert(!req.upgrade);
	ck_assert_int_gt(parse_req_str("GET / HTTP/1.1\r\nHost: a\r\n"
	    "Upgrade: websocket\r\nConnection: upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n\r\n"), 0);
	ck_assert(!req.upgrade);
}
END_TEST

START_TEST(t_parse_oversized)
{
	size_t cap = WS_MAX_HTTP_HEADER + 100;
	char *big = malloc(cap);
	size_t n;

	/* A head that never ends within the limit. */
	n = (size_t)snprintf(big, cap, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(big + n, 'a', cap - n);
	ck_assert_int_eq(ws_http_parse_request(big, cap, &req), -EMSGSIZE);
	ck_assert_int_eq(ws_http_parse_request(big, WS_MAX_HTTP_HEADER - 1,
	    &req), -EAGAIN);
	ck_assert_int_eq(ws_http_parse_response(big, cap, &resp), -EMSGSIZE);

	/* Too many header lines. */
	n = (size_t)snprintf(big, cap, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < WS_MAX_HTTP_HEADERS; i++)
		n += (size_t)snprintf(big + n, cap - n, "X%d: y\r\n", i);
	n += (size_t)snprintf(big + n, cap - n, "\r\n");
	ck_assert_int_eq(ws_http_parse_request(big, n, &req), -EMSGSIZE);
	free(big);
}
END_TEST

static int
parse_resp_str(const char *s)
{
	return ws_http_parse_response(s, strlen(s), &resp);
}

START_TEST(t_parse_response)
{
	const char *r = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: application/problem+json\r\nRetry-After: 1\r\n"
	    "Content-Length: 2\r\n\r\n{}";
	char key[29];

	ck_assert_int_eq(parse_resp_str(r), (int)strlen(r) - 2);
	ck_assert_int_eq(resp.status, 503);
	ck_assert_str_eq(ws_http_resp_header(&resp, "retry-after"), "1");
	ck_assert_int_gt(parse_resp_str("HTTP/1.1 101\r\n\r\n"), 0);
	ck_assert_int_eq(resp.status, 101);
	ck_assert_int_eq(parse_resp_str("HTTP/1.1 10 x\r\n\r\n"), -EBADMSG);
	ck_assert_int_eq(parse_resp_str("HTTP/1.1 099 x\r\n\r\n"), -EBADMSG);
	ck_assert_int_eq(parse_resp_str("HTTP/1.1 2000 x\r\n\r\n"), -EBADMSG);
	ck_assert_int_eq(parse_resp_str("HTTP/1.1 200 x\r\nA: b\r\n"), -EAGAIN);
	ck_assert_int_eq(parse_resp_str("ICY 200 OK\r\n\r\n"), -EBADMSG);
	ck_assert_int_eq(parse_resp_str("HTTP/1.1 200 OK\r\nContent-Length: 1"
	    "\r\nContent-Length: 1\r\n\r\n"), -EBADMSG);

	/* RFC 6455 §1.3 example */
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", key);
	ck_assert_str_eq(key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

	ck_assert(ws_http_has_token("keep-alive, Upgrade", "upgrade"));
	ck_assert(ws_http_has_token(" upgrade ", "upgrade"));
	ck_assert(!ws_http_has_token("upgrades", "upgrade"));
	ck_assert(!ws_http_has_token("", "upgrade"));
}
END_TEST

START_TEST(t_retry_after)
{
	time_t now = 784111777;		/* Sun, 06 Nov 1994 08:49:37 GMT */

	ck_assert_int_eq(ws_http_retry_after("120", now), 120);
	ck_assert_int_eq(ws_http_retry_after("0", now), 0);
	ck_assert_int_eq(ws_http_retry_after(
	    "Sun, 06 Nov 1994 08:50:07 GMT", now), 30);
	ck_assert_int_eq(ws_http_retry_after(
	    "Sun, 06 Nov 1994 08:00:00 GMT", now), 0);	/* past */
	ck_assert_int_eq(ws_http_retry_after(NULL, now), -1);
	ck_assert_int_eq(ws_http_retry_after("", now), -1);
	ck_assert_int_eq(ws_http_retry_after("-1", now), -1);
	ck_assert_int_eq(ws_http_retry_after("1.5", now), -1);
	ck_assert_int_eq(ws_http_retry_after("99999999999999999999", now), -1);
	ck_assert_int_eq(ws_http_retry_after(
	    "Sun, 06 Foo 1994 08:50:07 GMT", now), -1);
	ck_assert_int_eq(ws_http_retry_after(
	    "Sunday, 06-Nov-94 08:49:37 GMT", now), -1);
}
END_TEST

START_TEST(t_url)
{
	struct ws_url u;

	ck_assert_int_eq(ws_url_parse("wss://api.firezone.dev/", &u), 0);
	ck_assert(u.tls);
	ck_assert_str_eq(u.host, "api.firezone.dev");
	ck_assert_int_eq(u.port, 443);
	ck_assert_str_eq(u.target, "/");
	ck_assert_int_eq(ws_url_parse("ws://[::1]:8443/relay/websocket?a=b",
	    &u), 0);
	ck_assert(!u.tls);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_int_eq(u.port, 8443);
	ck_assert_str_eq(u.target, "/relay/websocket?a=b");
	ck_assert_int_eq(ws_url_parse("ws://h?x=1", &u), 0);
	ck_assert_str_eq(u.target, "/?x=1");
	ck_assert_int_eq(ws_url_parse("ws://h", &u), 0);
	ck_assert_int_eq(u.port, 80);

	static const char *const bad[] = {
		"http://h/", "ws://", "ws://:80/", "ws://h:0/", "ws://h:65536/",
		"ws://h:/", "ws://u@h/", "ws://h/#f", "ws://h/a b",
		"ws://[::1/", "ws://h:80x/", "ws://h\r\n/", "ws://[g::1]/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ws_url_parse(bad[i], &u) == -EINVAL, "%s", bad[i]);
}
END_TEST

/* ---- loopback ----------------------------------------------------------- */

struct env;

struct side {
	struct env	*env;
	struct ws_conn	*conn;
	int		 opens, texts, closed, code, err, http_errors;
	int		 status;
	long		 retry;
	char		 last[256];
	char		 body[512];
	size_t		 body_len;
	bool		 echo, close_on_text, free_on_text;
	int		 close_code;
};

struct env {
	struct event_base	*base;
	struct evdns_base	*dns;
	struct ws_listener	*lst;
	int			 port;
	struct side		 srv, cli;
	int			 requests;
	char			 path[64], query[128], auth[64], ua[64];
	struct ws_reply		 refuse;	/* status 0: accept */
	const char		*hello;		/* client sends on open */
	const char		*welcome;	/* server sends on open */
};

static void
on_open(struct ws_conn *c, void *arg)
{
	struct side *s = arg;
	struct env *e = s->env;
	const char *msg = s == &e->cli ? e->hello : e->welcome;

	s->opens++;
	s->conn = c;
	if (msg != NULL)
		ck_assert_int_eq(ws_send_text(c, msg, strlen(msg)), 0);
}

static void
on_text(struct ws_conn *c, const char *t, size_t n, void *arg)
{
	struct side *s = arg;

	s->texts++;
	snprintf(s->last, sizeof(s->last), "%.*s", (int)n, t);
	if (s->echo)
		ck_assert_int_eq(ws_send_text(c, t, n), 0);
	if (s->close_on_text)
		ws_close(c, s->close_code);
	if (s->free_on_text) {
		ws_close(c, 1000);
		ws_free(c);
		/* Allowed again: the free is deferred, not repeated. */
		ck_assert_int_eq(ws_send_text(c, "x", 1), -ENOTCONN);
		ws_free(c);
		s->conn = NULL;
		s->closed++;
		s->code = -1;
	}
}

static void
on_closed(struct ws_conn *c, int code, void *arg)
{
	struct side *s = arg;

	s->closed++;
	s->code = code;
	s->err = ws_conn_error(c);
	s->conn = NULL;
	ws_free(c);	/* allowed, a no-op here */
}

static void
on_http_error(struct ws_conn *c, int status, const char *body, size_t n,
    long retry, void *arg)
{
	struct side *s = arg;

	s->http_errors++;
	s->status = status;
	s->retry = retry;
	ck_assert_uint_lt(n, sizeof(s->body));
	ck_assert_int_eq(body[n], '\0');
	memcpy(s->body, body, n);
	s->body_len = n;
	s->conn = NULL;
}

static const struct ws_cbs cbs = { on_open, on_text, on_closed, on_http_error };

static int
on_request(const struct ws_http_req *r, struct ws_conn *c, void *arg,
    struct ws_reply *reply)
{
	struct env *e = arg;
	const char *v;

	e->requests++;
	snprintf(e->path, sizeof(e->path), "%s", r->path);
	snprintf(e->query, sizeof(e->query), "%s", r->query);
	if ((v = ws_http_req_header(r, "x-authorization")) != NULL)
		snprintf(e->auth, sizeof(e->auth), "%s", v);
	if ((v = ws_http_req_header(r, "user-agent")) != NULL)
		snprintf(e->ua, sizeof(e->ua), "%s", v);
	ck_assert_ptr_nonnull(r->peer);
	ck_assert(r->peer->sa_family == AF_INET ||
	    r->peer->sa_family == AF_INET6);
	if (strcmp(r->path, "/healthz") == 0) {
		reply->status = 200;
		reply->content_type = "text/plain";
		reply->body = "ok\n";
		reply->body_len = 3;
		return 1;
	}
	if (e->refuse.status != 0) {
		*reply = e->refuse;
		return 1;
	}
	ws_conn_set_arg(c, &e->srv);
	return 0;
}

static void
env_init(struct env *e, SSL_CTX *sctx)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	memset(e, 0, sizeof(*e));
	e->srv.env = e->cli.env = e;
	e->base = event_base_new();
	ck_assert_ptr_nonnull(e->base);
	ck_assert_int_eq(ws_listen(e->base, "127.0.0.1:0", sctx, on_request,
	    &cbs, e, &e->lst), 0);
	ck_assert_int_eq(ws_listener_addr(e->lst, &ss, &sl), 0);
	e->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
env_free(struct env *e)
{
	ws_free(e->cli.conn);
	ws_free(e->srv.conn);
	ws_listener_free(e->lst);
	if (e->dns != NULL)
		evdns_base_free(e->dns, 0);
	event_base_free(e->base);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs the loop until *flag >= want or ms pass; returns *flag. */
static int
run_until(struct env *e, const int *flag, int want, int ms)
{
	struct timespec t0, t;
	struct event *tick = event_new(e->base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = { 0, 10000 };

	event_add(tick, &tv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (*flag >= want)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			break;
		event_base_loop(e->base, EVLOOP_ONCE);
	}
	event_free(tick);
	return *flag;
}

static struct ws_conn *
connect_url(struct env *e, const char *url, SSL_CTX *ctx,
    const char *const *headers)
{
	struct ws_client_opts o = {
		.url = url, .headers = headers, .user_agent = "test/1.0",
		.ssl_ctx = ctx, .dns = e->dns,
	};
	struct ws_conn *c = NULL;

	ck_assert_int_eq(ws_client_connect(e->base, &o, &cbs, &e->cli, &c), 0);
	e->cli.conn = c;
	return c;
}

static struct ws_conn *
connect_plain(struct env *e, const char *target)
{
	static const char *const hdrs[] = { "X-Authorization: Bearer t0k",
	    NULL };
	char url[128];

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d%s", e->port, target);
	return connect_url(e, url, NULL, hdrs);
}

START_TEST(t_echo_and_close)
{
	struct env e;
	char buf[32];

	env_init(&e, NULL);
	e.hello = "hello";
	e.welcome = "welcome";
	e.srv.echo = true;
	connect_plain(&e, "/client/v2/websocket?external_id=x&name=a%20b");
	ck_assert_int_eq(e.cli.opens, 0);	/* never from inside connect */
	ck_assert_int_eq(run_until(&e, &e.cli.texts, 2, 3000), 2);
	ck_assert_int_eq(e.srv.opens, 1);
	ck_assert_int_eq(e.srv.texts, 1);
	ck_assert_str_eq(e.srv.last, "hello");
	ck_assert_str_eq(e.cli.last, "hello");	/* after "welcome" */
	ck_assert_str_eq(e.path, "/client/v2/websocket");
	ck_assert_int_eq(ws_query_get(e.query, "name", buf, sizeof(buf)), 3);
	ck_assert_str_eq(buf, "a b");
	ck_assert_str_eq(e.auth, "Bearer t0k");
	ck_assert_str_eq(e.ua, "test/1.0");

	/* Client-initiated close handshake. */
	ws_close(e.cli.conn, 1000);
	ck_assert_int_eq(e.cli.closed, 0);	/* never from inside close */
	run_until(&e, &e.cli.closed, 1, 3000);
	run_until(&e, &e.srv.closed, 1, 3000);
	ck_assert_int_eq(e.cli.closed, 1);
	ck_assert_int_eq(e.cli.code, 1000);
	ck_assert_int_eq(e.cli.err, 0);
	ck_assert_int_eq(e.srv.closed, 1);
	ck_assert_int_eq(e.srv.code, 1000);
	ck_assert_int_eq(e.srv.err, 0);
	env_free(&e);
}
END_TEST

START_TEST(t_server_close)
{
	struct env e;

	env_init(&e, NULL);
	e.hello = "bye";
	e.srv.close_on_text = true;
	e.srv.close_code = 4001;
	connect_plain(&e, "/");
	run_until(&e, &e.cli.closed, 1, 3000);
	run_until(&e, &e.srv.closed, 1, 3000);
	ck_assert_int_eq(e.cli.closed, 1);
	ck_assert_int_eq(e.cli.code, 4001);
	ck_assert_int_eq(e.srv.closed, 1);
	ck_assert_int_eq(e.srv.code, 4001);
	env_free(&e);
}
END_TEST

START_TEST(t_refused)
{
	struct env e;
	static const char body[] = "{\"type\":\"about:blank\",\"status\":503,"
	    "\"code\":\"rate_limit\"}";

	env_init(&e, NULL);
	e.refuse = (struct ws_reply){ 503, "application/problem+json", body,
	    sizeof(body) - 1, 7 };
	connect_plain(&e, "/client/v2/websocket");
	ck_assert_int_eq(run_until(&e, &e.cli.http_errors, 1, 3000), 1);
	ck_assert_int_eq(e.cli.status, 503);
	ck_assert_int_eq(e.cli.retry, 7);
	ck_assert_uint_eq(e.cli.body_len, sizeof(body) - 1);
	ck_assert_str_eq(e.cli.body, body);
	ck_assert_int_eq(e.cli.closed, 0);	/* one terminal callback */
	ck_assert_int_eq(e.srv.opens, 0);

	/* 401 without Retry-After and without a body. */
	e.refuse = (struct ws_reply){ 401, NULL, NULL, 0, -1 };
	memset(e.cli.body, 0, sizeof(e.cli.body));
	connect_plain(&e, "/x");
	ck_assert_int_eq(run_until(&e, &e.cli.http_errors, 2, 3000), 2);
	ck_assert_int_eq(e.cli.status, 401);
	ck_assert_int_eq(e.cli.retry, -1);
	ck_assert_uint_eq(e.cli.body_len, 0);

	/* A plain page on the same listener. */
	connect_plain(&e, "/healthz");
	ck_assert_int_eq(run_until(&e, &e.cli.http_errors, 3, 3000), 3);
	ck_assert_int_eq(e.cli.status, 200);
	ck_assert_str_eq(e.cli.body, "ok\n");
	env_free(&e);
}
END_TEST

START_TEST(t_connect_refused)
{
	struct env e;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	char url[64];

	/* A port that was just free: bind, read it back, close. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	env_init(&e, NULL);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", ntohs(sin.sin_port));
	connect_url(&e, url, NULL, NULL);
	ck_assert_int_eq(run_until(&e, &e.cli.closed, 1, 3000), 1);
	ck_assert_int_eq(e.cli.code, WS_CLOSE_ABNORMAL);
	ck_assert_int_eq(e.cli.err, -ECONNREFUSED);

	/* Bad options fail synchronously. */
	struct ws_client_opts o = { .url = "ws://name.test/" };
	struct ws_conn *c = NULL;
	ck_assert_int_eq(ws_client_connect(e.base, &o, &cbs, &e.cli, &c),
	    -EINVAL);			/* a name without a resolver */
	o.url = "wss://127.0.0.1/";
	ck_assert_int_eq(ws_client_connect(e.base, &o, &cbs, &e.cli, &c),
	    -EINVAL);			/* wss without a TLS context */
	static const char *const crlf[] = { "X-A: b\r\nX-Evil: 1", NULL };
	o.url = "ws://127.0.0.1/";
	o.headers = crlf;
	ck_assert_int_eq(ws_client_connect(e.base, &o, &cbs, &e.cli, &c),
	    -EINVAL);
	ck_assert_ptr_null(c);
	env_free(&e);
}
END_TEST

START_TEST(t_cancel_and_fwmark)
{
	struct env e;
	char url[64];
	struct ws_client_opts o = { .url = url, .fwmark = 0x42 };

	env_init(&e, NULL);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", e.port);
	/* ws_close before open ends the attempt asynchronously. */
	ck_assert_int_eq(ws_client_connect(e.base, &o, &cbs, &e.cli,
	    &e.cli.conn), 0);
	ws_close(e.cli.conn, 1000);
	ck_assert_int_eq(e.cli.closed, 0);
	ck_assert_int_eq(run_until(&e, &e.cli.closed, 1, 3000), 1);
	ck_assert_int_eq(e.cli.code, WS_CLOSE_ABNORMAL);
	ck_assert_int_eq(e.cli.err, -ECANCELED);

	/* With SO_MARK: applied as root, flagged (not fatal) otherwise. */
	ck_assert_int_eq(ws_client_connect(e.base, &o, &cbs, &e.cli,
	    &e.cli.conn), 0);
	ck_assert_int_eq(run_until(&e, &e.cli.opens, 1, 3000), 1);
	ck_assert(ws_conn_fwmark_failed(e.cli.conn) == (geteuid() != 0));
	/* ws_free without callbacks; the server sees the TCP close. */
	ws_free(e.cli.conn);
	e.cli.conn = NULL;
	ck_assert_int_eq(run_until(&e, &e.srv.closed, 1, 3000), 1);
	ck_assert_int_eq(e.srv.code, WS_CLOSE_ABNORMAL);
	ck_assert_int_eq(e.cli.closed, 1);
	env_free(&e);
}
END_TEST

START_TEST(t_free_in_callback)
{
	struct env e;

	env_init(&e, NULL);
	e.hello = "one";
	e.srv.free_on_text = true;
	connect_plain(&e, "/");
	ck_assert_int_eq(run_until(&e, &e.srv.closed, 1, 3000), 1);
	ck_assert_int_eq(e.srv.code, -1);	/* freed by us, no callback */
	ck_assert_int_eq(run_until(&e, &e.cli.closed, 1, 3000), 1);
	ck_assert_int_eq(e.cli.code, WS_CLOSE_ABNORMAL);

	/* The client frees itself from its text callback. */
	e.srv.free_on_text = false;
	e.srv.echo = true;
	e.cli.free_on_text = true;
	e.srv.closed = e.cli.closed = 0;
	connect_plain(&e, "/");
	ck_assert_int_eq(run_until(&e, &e.cli.closed, 1, 3000), 1);
	ck_assert_int_eq(e.cli.code, -1);
	ck_assert_int_eq(run_until(&e, &e.srv.closed, 1, 3000), 1);
	env_free(&e);
}
END_TEST

/* ---- raw socket peer ------------------------------------------------------ */

static int
raw_connect(struct env *e)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)e->port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static void
raw_send(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until n bytes, EOF (returns what it has, *eof set) or ms. */
static size_t
raw_read(struct env *e, int fd, unsigned char *buf, size_t n, int ms,
    bool *eof)
{
	size_t got = 0;
	int spin = 0;

	*eof = false;
	for (int i = 0; i < ms / 10 && got < n; i++) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r == 0) {
			*eof = true;
			break;
		}
		if (r > 0)
			got += (size_t)r;
		else
			run_until(e, &spin, 1, 10);
	}
	return got;
}

static void
raw_frame(int fd, int op, const char *p, size_t n)
{
	unsigned char f[140], mask[4] = { 1, 2, 3, 4 };

	ck_assert_uint_lt(n, 126);
	f[0] = (unsigned char)(0x80 | op);
	f[1] = (unsigned char)(0x80 | n);
	memcpy(f + 2, mask, 4);
	for (size_t i = 0; i < n; i++)
		f[6 + i] = (unsigned char)p[i] ^ mask[i % 4];
	raw_send(fd, f, 6 + n);
}

static int
raw_upgrade(struct env *e)
{
	static const char up[] = "GET /raw HTTP/1.1\r\nHost: x\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
	unsigned char buf[512];
	int fd = raw_connect(e);
	size_t got = 0;
	bool eof;

	raw_send(fd, up, sizeof(up) - 1);
	while (got < sizeof(buf) - 1) {
		size_t r = raw_read(e, fd, buf + got, 1, 1000, &eof);

		ck_assert_uint_eq(r, 1);
		got++;
		buf[got] = '\0';
		if (got >= 4 && memcmp(buf + got - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	ck_assert_ptr_nonnull(strstr((char *)buf, "HTTP/1.1 101 "));
	ck_assert_ptr_nonnull(strstr((char *)buf,
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	return fd;
}

START_TEST(t_raw_frames)
{
	struct env e;
	unsigned char buf[64];
	bool eof;
	int fd;

	env_init(&e, NULL);
	e.srv.echo = true;
	fd = raw_upgrade(&e);
	raw_frame(fd, 0x2, "bin", 3);		/* binary: ignored */
	raw_frame(fd, 0x9, "pp", 2);		/* ping */
	raw_frame(fd, 0x1, "hi", 2);		/* text: echoed */
	ck_assert_uint_eq(raw_read(&e, fd, buf, 8, 2000, &eof), 8);
	ck_assert_mem_eq(buf, "\x8a\x02pp\x81\x02hi", 8);
	ck_assert_int_eq(e.srv.texts, 1);

	raw_frame(fd, 0x1, "\xc0\xaf", 2);	/* overlong '/': not UTF-8 */
	ck_assert_uint_eq(raw_read(&e, fd, buf, 4, 2000, &eof), 4);
	ck_assert_mem_eq(buf, "\x88\x02\x03\xef", 4);	/* 1007 */
	close(fd);
	ck_assert_int_eq(run_until(&e, &e.srv.closed, 1, 3000), 1);
	ck_assert_int_eq(e.srv.code, WS_CLOSE_BAD_DATA);
	ck_assert_int_eq(e.srv.texts, 1);

	/* Peer-initiated close: echoed, then the server closes TCP. */
	e.srv.closed = 0;
	fd = raw_upgrade(&e);
	raw_frame(fd, 0x8, "\x03\xe8", 2);
	ck_assert_uint_eq(raw_read(&e, fd, buf, 4, 2000, &eof), 4);
	ck_assert_mem_eq(buf, "\x88\x02\x03\xe8", 4);
	ck_assert_uint_eq(raw_read(&e, fd, buf, 1, 2000, &eof), 0);
	ck_assert(eof);
	close(fd);
	ck_assert_int_eq(e.srv.closed, 1);
	ck_assert_int_eq(e.srv.code, 1000);
	env_free(&e);
}
END_TEST

START_TEST(t_too_big)
{
	struct env e;
	unsigned char hdr[14 + 16], buf[8];
	uint64_t len = WS_MAX_MESSAGE + 1;
	char *big;
	bool eof;
	int fd;

	env_init(&e, NULL);
	fd = raw_upgrade(&e);
	hdr[0] = 0x81;
	hdr[1] = 0x80 | 127;
	for (int i = 0; i < 8; i++)
		hdr[2 + i] = (unsigned char)(len >> (56 - 8 * i));
	memset(hdr + 10, 0, 4 + 16);		/* zero mask, some payload */
	raw_send(fd, hdr, sizeof(hdr));
	ck_assert_uint_eq(raw_read(&e, fd, buf, 4, 2000, &eof), 4);
	ck_assert_mem_eq(buf, "\x88\x02\x03\xf1", 4);	/* 1009 */
	close(fd);
	ck_assert_int_eq(run_until(&e, &e.srv.closed, 1, 3000), 1);
	ck_assert_int_eq(e.srv.code, WS_CLOSE_TOO_BIG);

	/* Our own side refuses to send one. */
	e.hello = "x";
	connect_plain(&e, "/");
	ck_assert_int_eq(run_until(&e, &e.srv.texts, 1, 3000), 1);
	big = calloc(1, WS_MAX_MESSAGE + 1);
	ck_assert_int_eq(ws_send_text(e.cli.conn, big, WS_MAX_MESSAGE + 1),
	    -EMSGSIZE);
	/* Exactly the maximum passes, through a real round trip. */
	memset(big, 'a', WS_MAX_MESSAGE);
	e.srv.echo = true;
	ck_assert_int_eq(ws_send_text(e.cli.conn, big, WS_MAX_MESSAGE), 0);
	ck_assert_int_eq(run_until(&e, &e.cli.texts, 1, 5000), 1);
	ck_assert_int_eq(e.srv.texts, 2);
	ck_assert_uint_eq(strspn(e.cli.last, "a"), sizeof(e.cli.last) - 1);
	free(big);
	env_free(&e);
}
END_TEST

START_TEST(t_slowloris)
{
	struct env e;
	unsigned char buf[256];
	bool eof;
	int fd;

	env_init(&e, NULL);
	ws_listener_set_request_timeout(e.lst, 200);
	fd = raw_connect(&e);
	raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n", 25);
	ck_assert_uint_eq(raw_read(&e, fd, buf, sizeof(buf), 2000, &eof), 0);
	ck_assert(eof);
	close(fd);
	ck_assert_int_eq(e.requests, 0);

	/* An endless head is answered 431, not buffered. */
	fd = raw_connect(&e);
	raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n", 25);
	char *junk = malloc(WS_MAX_HTTP_HEADER);
	memset(junk, 'a', WS_MAX_HTTP_HEADER);
	raw_send(fd, junk, WS_MAX_HTTP_HEADER);
	free(junk);
	size_t n = raw_read(&e, fd, buf, 12, 2000, &eof);
	ck_assert_uint_eq(n, 12);
	ck_assert_mem_eq(buf, "HTTP/1.1 431", 12);
	close(fd);

	/* Garbage: 400. */
	fd = raw_connect(&e);
	raw_send(fd, "\x16\x03\x01\x00\x10garbage\r\n\r\n", 17);
	ck_assert_uint_eq(raw_read(&e, fd, buf, 12, 2000, &eof), 12);
	ck_assert_mem_eq(buf, "HTTP/1.1 400", 12);
	close(fd);
	ck_assert_int_eq(e.requests, 0);
	env_free(&e);
}
END_TEST

/* ---- TLS ------------------------------------------------------------------ */

static char cert_path[64], key_path[64], hosts_path[64];

static void
write_tmp(char *path, const char *tmpl, void (*fn)(FILE *, void *),
    void *arg)
{
	int fd;
	FILE *f;

	strcpy(path, tmpl);
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	fn(f, arg);
	fclose(f);
}

static void
w_cert(FILE *f, void *x)
{
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
}

static void
w_key(FILE *f, void *k)
{
	ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL,
	    NULL), 1);
}

static void
w_hosts(FILE *f, void *arg)
{
	fputs("127.0.0.1 localhost wrong.test\n", f);
}

/* A throw-away self-signed P-256 certificate for DNS:localhost. */
static void
make_cert(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	X509_EXTENSION *ext;
	X509V3_CTX v3;

	ck_assert_ptr_nonnull(k);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    "DNS:localhost");
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
	write_tmp(cert_path, "/tmp/check_ws_cert.XXXXXX", w_cert, x);
	write_tmp(key_path, "/tmp/check_ws_key.XXXXXX", w_key, k);
	write_tmp(hosts_path, "/tmp/check_ws_hosts.XXXXXX", w_hosts, NULL);
	X509_free(x);
	EVP_PKEY_free(k);
}

START_TEST(t_tls)
{
	struct env e;
	SSL_CTX *sctx, *cctx;
	char url[96];

	make_cert();
	ck_assert_ptr_null(ws_server_ssl_ctx(cert_path, "/nonexistent"));
	ck_assert_ptr_nonnull(sctx = ws_server_ssl_ctx(cert_path, key_path));
	setenv("SSL_CERT_FILE", cert_path, 1);
	ck_assert_ptr_nonnull(cctx = ws_client_ssl_ctx());
	setenv("SSL_CERT_FILE", "/nonexistent", 1);
	ck_assert_ptr_null(ws_client_ssl_ctx());
	unsetenv("SSL_CERT_FILE");

	env_init(&e, sctx);
	/* A resolver with no servers, only a hosts file. */
	ck_assert_ptr_nonnull(e.dns = evdns_base_new(e.base, 0));
	ck_assert_int_eq(evdns_base_load_hosts(e.dns, hosts_path), 0);
	e.hello = "over tls";
	e.srv.echo = true;
	snprintf(url, sizeof(url), "wss://localhost:%d/gateway/v2/websocket",
	    e.port);
	connect_url(&e, url, cctx, NULL);
	ck_assert_int_eq(run_until(&e, &e.cli.texts, 1, 3000), 1);
	ck_assert_str_eq(e.cli.last, "over tls");
	ws_close(e.cli.conn, 1000);
	ck_assert_int_eq(run_until(&e, &e.cli.closed, 1, 3000), 1);
	ck_assert_int_eq(e.cli.code, 1000);
	ck_assert_int_eq(run_until(&e, &e.srv.closed, 1, 3000), 1);
	ck_assert_int_eq(e.srv.code, 1000);

	/* Same server, a name the certificate does not carry. */
	e.cli.closed = 0;
	snprintf(url, sizeof(url), "wss://wrong.test:%d/", e.port);
	connect_url(&e, url, cctx, NULL);
	ck_assert_int_eq(run_until(&e, &e.cli.closed, 1, 3000), 1);
	ck_assert_int_eq(e.cli.code, WS_CLOSE_ABNORMAL);
	ck_assert_int_eq(e.cli.err, -EPROTO);
	ck_assert_int_eq(e.cli.opens, 1);
	ck_assert_int_eq(e.requests, 1);
	/* And a numeric host: no IP SAN, so it must fail too. */
	e.cli.closed = 0;
	snprintf(url, sizeof(url), "wss://127.0.0.1:%d/", e.port);
	connect_url(&e, url, cctx, NULL);
	ck_assert_int_eq(run_until(&e, &e.cli.closed, 1, 3000), 1);
	ck_assert_int_eq(e.cli.err, -EPROTO);
	ck_assert_int_eq(e.requests, 1);

	env_free(&e);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	unlink(cert_path);
	unlink(key_path);
	unlink(hosts_path);
}
END_TEST

START_TEST(t_bootstrap_dns)
{
	struct event_base *b = event_base_new();
	struct evdns_base *d = ws_bootstrap_dns(b);

	ck_assert_ptr_nonnull(d);
	evdns_base_free(d, 0);
	event_base_free(b);
}
END_TEST

START_TEST(t_listen)
{
	struct event_base *b = event_base_new();
	struct ws_listener *l = NULL, *l2 = NULL;
	struct sockaddr_storage ss;
	socklen_t sl;
	char addr[64];
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "::1:80",
		"[::1]80", "[::1]", "localhost:80", "127.0.0.1:80x", ":80",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ws_listen(b, bad[i], NULL, on_request, &cbs, NULL,
		    &l) == -EINVAL, "%s", bad[i]);
	ck_assert_int_eq(ws_listen(b, "127.0.0.1:0", NULL, on_request, &cbs,
	    NULL, &l), 0);
	ck_assert_int_eq(ws_listener_addr(l, &ss, &sl), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d",
	    ntohs(((struct sockaddr_in *)&ss)->sin_port));
	ck_assert_int_eq(ws_listen(b, addr, NULL, on_request, &cbs, NULL,
	    &l2), -EADDRINUSE);
	ws_listener_free(l);
	ws_listener_free(NULL);
	event_base_free(b);
}
END_TEST

START_TEST(t_ipv6)
{
	struct env e;
	struct sockaddr_storage ss;
	socklen_t sl;
	char url[64];

	env_init(&e, NULL);
	ws_listener_free(e.lst);
	if (ws_listen(e.base, "[::1]:0", NULL, on_request, &cbs, &e,
	    &e.lst) != 0) {
		e.lst = NULL;	/* no IPv6 loopback here */
		env_free(&e);
		return;
	}
	ck_assert_int_eq(ws_listener_addr(e.lst, &ss, &sl), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	e.hello = "v6";
	e.srv.echo = true;
	snprintf(url, sizeof(url), "ws://[::1]:%d/v6",
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	connect_url(&e, url, NULL, NULL);
	ck_assert_int_eq(run_until(&e, &e.cli.texts, 1, 3000), 1);
	ck_assert_str_eq(e.cli.last, "v6");
	ck_assert_str_eq(e.path, "/v6");
	ck_assert_ptr_nonnull(ws_conn_peer(e.cli.conn, &sl));
	ck_assert_uint_eq(sl, sizeof(struct sockaddr_in6));
	env_free(&e);
}
END_TEST

/* A hand-written server: answers each client's request with `answer`. */
static void
fake_server(struct env *e, int lfd, const char *answer, bool close_after,
    struct ws_client_opts *o, char *reqbuf, size_t reqcap)
{
	int fd = -1, spin = 0;
	size_t got = 0;

	e->cli.closed = e->cli.http_errors = 0;
	ck_assert_int_eq(ws_client_connect(e->base, o, &cbs, &e->cli,
	    &e->cli.conn), 0);
	for (int i = 0; i < 200 && fd < 0; i++) {
		run_until(e, &spin, 1, 10);
		fd = accept(lfd, NULL, NULL);
	}
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	for (int i = 0; i < 100; i++) {
		ssize_t r = recv(fd, reqbuf + got, reqcap - 1 - got, 0);

		if (r > 0)
			got += (size_t)r;
		reqbuf[got] = '\0';
		if (strstr(reqbuf, "\r\n\r\n") != NULL)
			break;
		run_until(e, &spin, 1, 5);
	}
	ck_assert_ptr_nonnull(strstr(reqbuf, "\r\n\r\n"));
	if (answer != NULL)
		raw_send(fd, answer, strlen(answer));
	if (close_after)
		close(fd);
	run_until(e, &e->cli.closed, 1, 3000);
	if (e->cli.closed == 0)
		run_until(e, &e->cli.http_errors, 1, 3000);
	if (!close_after)
		close(fd);
}

START_TEST(t_bad_server)
{
	struct env e;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	static const char *const hdrs[] = { "X-Authorization: Bearer t0k",
	    NULL };
	char url[64], reqbuf[2048], want[64];
	struct ws_client_opts o = {
		.url = url, .headers = hdrs, .user_agent = "test/1.0",
		.attempt_timeout_ms = 1500,
	};

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/p?q=1",
	    ntohs(sin.sin_port));
	env_init(&e, NULL);

	/* The request as RFC 6455 §4.1 wants it; a wrong accept fails. */
	fake_server(&e, lfd, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
	    false, &o, reqbuf, sizeof(reqbuf));
	ck_assert_int_eq(e.cli.closed, 1);
	ck_assert_int_eq(e.cli.err, -EPROTO);
	ck_assert_int_eq(e.cli.opens, 0);
	ck_assert_mem_eq(reqbuf, "GET /p?q=1 HTTP/1.1\r\n", 21);
	snprintf(want, sizeof(want), "\r\nHost: 127.0.0.1:%d\r\n",
	    ntohs(sin.sin_port));
	ck_assert_ptr_nonnull(strstr(reqbuf, want));
	ck_assert_ptr_nonnull(strstr(reqbuf, "\r\nUpgrade: websocket\r\n"));
	ck_assert_ptr_nonnull(strstr(reqbuf, "\r\nConnection: Upgrade\r\n"));
	ck_assert_ptr_nonnull(strstr(reqbuf,
	    "\r\nSec-WebSocket-Version: 13\r\n"));
	ck_assert_ptr_nonnull(strstr(reqbuf, "\r\nSec-WebSocket-Key: "));
	ck_assert_ptr_nonnull(strstr(reqbuf, "\r\nUser-Agent: test/1.0\r\n"));
	ck_assert_ptr_nonnull(strstr(reqbuf,
	    "\r\nX-Authorization: Bearer t0k\r\n"));

	/* A refusal without Content-Length: the body ends at the close;
	 * Retry-After as an HTTP-date in the past is 0. */
	fake_server(&e, lfd, "HTTP/1.1 503 Busy\r\n"
	    "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nno length",
	    true, &o, reqbuf, sizeof(reqbuf));
	ck_assert_int_eq(e.cli.http_errors, 1);
	ck_assert_int_eq(e.cli.status, 503);
	ck_assert_int_eq(e.cli.retry, 0);
	ck_assert_str_eq(e.cli.body, "no length");

	/* Not HTTP at all. */
	fake_server(&e, lfd, "SSH-2.0-OpenSSH_9.2\r\n\r\n", false, &o,
	    reqbuf, sizeof(reqbuf));
	ck_assert_int_eq(e.cli.closed, 1);
	ck_assert_int_eq(e.cli.err, -EPROTO);

	/* Silence: the whole attempt is bounded. */
	fake_server(&e, lfd, NULL, false, &o, reqbuf, sizeof(reqbuf));
	ck_assert_int_eq(e.cli.closed, 1);
	ck_assert_int_eq(e.cli.err, -ETIMEDOUT);

	/* EOF in the middle of the head. */
	fake_server(&e, lfd, "HTTP/1.1 101 Swi", true, &o, reqbuf,
	    sizeof(reqbuf));
	ck_assert_int_eq(e.cli.closed, 1);
	ck_assert_int_eq(e.cli.err, -ECONNRESET);
	close(lfd);
	env_free(&e);
}
END_TEST

static Suite *
ws_suite(void)
{
	Suite *s = suite_create("ws");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, t_parse_request);
	tcase_add_test(tc, t_parse_request_bad);
	tcase_add_test(tc, t_parse_oversized);
	tcase_add_test(tc, t_parse_response);
	tcase_add_test(tc, t_retry_after);
	tcase_add_test(tc, t_url);
	suite_add_tcase(s, tc);

	tc = tcase_create("loopback");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, t_echo_and_close);
	tcase_add_test(tc, t_server_close);
	tcase_add_test(tc, t_refused);
	tcase_add_test(tc, t_connect_refused);
	tcase_add_test(tc, t_cancel_and_fwmark);
	tcase_add_test(tc, t_free_in_callback);
	tcase_add_test(tc, t_raw_frames);
	tcase_add_test(tc, t_too_big);
	tcase_add_test(tc, t_slowloris);
	tcase_add_test(tc, t_tls);
	tcase_add_test(tc, t_bootstrap_dns);
	tcase_add_test(tc, t_listen);
	tcase_add_test(tc, t_ipv6);
	tcase_add_test(tc, t_bad_server);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ws_suite)
