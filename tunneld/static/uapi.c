/* SPDX-License-Identifier: ISC */
#define LOG_MODULE "uapi"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdarg.h>
#include <unistd.h>

#include "fztime.h"
#include "log.h"
#include "uapi.h"

/* Big enough for a set=1 of tens of thousands of peers (wg setconf). */
#define UAPI_MAX_REQUEST	(16 * 1024 * 1024)
/* What --show reads of a reply at most (a peer takes ~300 bytes). */
#define UAPI_MAX_REPLY		(256 * 1024 * 1024)
/* The longest value of a reply line --show looks at (a key: 64). */
#define SHOW_MAX_VALUE		127

struct uapi {
	struct dp	*dp;
	int		 fd;
	int		 stop[2];
	char		 path[108];
	pthread_t	 th;
	_Atomic uint32_t fwmark;
};

static void
oprintf(struct uapi_buf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends; out of memory, the buffer keeps what it had and err is set. */
static void
oprintf(struct uapi_buf *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		if (o->err)
			return;
		va_start(ap, fmt);
		n = vsnprintf(o->cap > 0 ? o->p + o->len : NULL,
		    o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->err = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		{
			size_t ncap = o->cap * 2 + (size_t)n + 64;
			char *np = malloc(ncap);

			/* Not realloc: the old copy may hold the key. */
			if (np == NULL) {
				o->err = true;
				return;
			}
			if (o->p != NULL) {
				memcpy(np, o->p, o->len);
				sodium_memzero(o->p, o->cap);
				free(o->p);
			}
			o->p = np;
			o->cap = ncap;
		}
	}
}

void
uapi_buf_free(struct uapi_buf *o)
{
	if (o->p != NULL)
		sodium_memzero(o->p, o->cap);	/* the private key */
	free(o->p);
	o->p = NULL;
	o->len = o->cap = 0;
	o->err = false;
}

/*
 * A number as wg(8) prints them: decimal digits only, at most max.
 * wireguard-go's strconv.ParseUint(v, 10, bits) without the sign.
 */
static int
parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s != '\0'; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = (unsigned)(*s - '0');
		if (d > max || v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* "true" or "false" (what wg(8) sends); -EINVAL otherwise. */
static int
parse_bool(const char *s, bool *out)
{
	if (strcmp(s, "true") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static void
allowed_cb(const struct fz_cidr *c, void *arg)
{
	char s[64];

	if (cidr_fmt(c, s, sizeof(s)) == 0)
		oprintf(arg, "allowed_ip=%s\n", s);
}

static void
do_get(struct dp *dp, uint32_t fwmark, struct uapi_buf *o)
{
	struct wg_device *d = dp_device(dp);
	struct wg_peer *p = NULL;
	uint8_t key[32];
	char hex[65], ep[ADDR_STRLEN];

	/* The private key goes only to this root-only socket, as with wg. */
	wg_device_private_key(d, key);
	wg_key_to_hex(key, hex);
	oprintf(o, "private_key=%s\n", hex);
	sodium_memzero(hex, sizeof(hex));
	oprintf(o, "listen_port=%u\n", dp_port(dp));
	if (fwmark != 0)
		oprintf(o, "fwmark=%u\n", (unsigned)fwmark);
	/* Any number of peers; those removed meanwhile stay valid. */
	wg_read_lock();
	while ((p = wg_peer_next(d, p)) != NULL) {
		struct wg_peer_stats st;
		union fz_sockaddr sa;

		wg_peer_public_key(p, key);
		wg_key_to_hex(key, hex);
		oprintf(o, "public_key=%s\n", hex);
		if (wg_peer_endpoint(p, &sa) &&
		    addr_fmt(&sa.sa, true, ep, sizeof(ep)) == 0)
			oprintf(o, "endpoint=%s\n", ep);
		wg_peer_stats(p, &st);
		oprintf(o, "last_handshake_time_sec=%llu\n",
		    (unsigned long long)(st.last_handshake_real_ns /
		    NSEC_PER_SEC));
		oprintf(o, "last_handshake_time_nsec=%llu\n",
		    (unsigned long long)(st.last_handshake_real_ns %
		    NSEC_PER_SEC));
		oprintf(o, "tx_bytes=%llu\nrx_bytes=%llu\n",
		    (unsigned long long)st.tx_bytes,
		    (unsigned long long)st.rx_bytes);
		oprintf(o, "persistent_keepalive_interval=%u\n", st.keepalive);
		dp_peer_walk_allowed(dp, p, allowed_cb, o);
		oprintf(o, "protocol_version=1\n");
	}
	wg_read_unlock();
	sodium_memzero(key, sizeof(key));
}

/* One device line (before the first public_key): 0 or a positive errno. */
static int
set_device(struct dp *dp, const char *k, const char *v)
{
	struct wg_device *d = dp_device(dp);
	unsigned long long n;
	uint8_t key[32];
	bool b;
	int err = 0;

	if (strcmp(k, "private_key") == 0) {
		if (wg_key_from_hex(v, key) != 0 ||
		    wg_device_set_private_key(d, key) != 0)
			err = EINVAL;
	} else if (strcmp(k, "listen_port") == 0) {
		if (parse_uint(v, 65535, &n) != 0)
			err = EINVAL;
		else if (n != dp_port(dp))
			err = EOPNOTSUPP;	/* fixed at start */
	} else if (strcmp(k, "fwmark") == 0) {
		/* accepted, not applied: the file's FwMark, at start */
		if (parse_uint(v, UINT32_MAX, &n) != 0)
			err = EINVAL;
	} else if (strcmp(k, "replace_peers") == 0) {
		struct wg_peer *q;

		if (parse_bool(v, &b) != 0)
			err = EINVAL;
		else if (b) {
			while ((q = wg_peer_next(d, NULL)) != NULL)
				dp_peer_remove(dp, q);
		}
	} else
		err = EPROTO;
	sodium_memzero(key, sizeof(key));
	return err;
}

/* One line of peer p: 0 or a positive errno; *gone once p was removed. */
static int
set_peer(struct dp *dp, struct wg_peer *p, bool created, const char *k,
    const char *v, bool *gone)
{
	unsigned long long n;
	uint8_t key[32];
	bool b;
	int err = 0;

	if (strcmp(k, "update_only") == 0) {
		/* Only change the peer if it was there already. */
		if (parse_bool(v, &b) != 0)
			err = EINVAL;
		else if (b && created) {
			dp_peer_remove(dp, p);
			*gone = true;
		}
	} else if (strcmp(k, "remove") == 0) {
		if (parse_bool(v, &b) != 0)
			err = EINVAL;
		else if (b) {
			dp_peer_remove(dp, p);
			*gone = true;
		}
	} else if (strcmp(k, "preshared_key") == 0) {
		if (wg_key_from_hex(v, key) != 0)
			err = EINVAL;
		else
			wg_peer_set_psk(p, key);
	} else if (strcmp(k, "endpoint") == 0) {
		union fz_sockaddr sa;

		if (addr_parse(v, ADDR_PORT_REQUIRED, &sa) != 0)
			err = EINVAL;
		else
			wg_peer_set_endpoint(p, &sa);
	} else if (strcmp(k, "persistent_keepalive_interval") == 0) {
		if (parse_uint(v, 65535, &n) != 0)
			err = EINVAL;
		else
			wg_peer_set_keepalive(p, (unsigned)n);
	} else if (strcmp(k, "replace_allowed_ips") == 0) {
		if (parse_bool(v, &b) != 0)
			err = EINVAL;
		else if (b)
			dp_peer_clear_allowed(dp, p);
	} else if (strcmp(k, "allowed_ip") == 0) {
		struct fz_cidr c;

		if (cidr_parse(v, false, &c) != 0 ||
		    dp_peer_allow(dp, p, &c) != 0)
			err = EINVAL;
	} else if (strcmp(k, "protocol_version") == 0) {
		if (strcmp(v, "1") != 0)
			err = EPROTONOSUPPORT;
	} else
		err = EPROTO;
	sodium_memzero(key, sizeof(key));
	return err;
}

/*
 * Applies the lines of a set=1 request (each ends in '\n'; changed in
 * place), in order, as wireguard-go: device keys, then for each peer its
 * public_key and its keys.  Stops at the first bad line; returns 0 or a
 * positive errno for the reply.
 */
static int
do_set(struct dp *dp, char *req, size_t len)
{
	struct wg_device *d = dp_device(dp);
	struct wg_peer *p = NULL;
	char *line = req, *end = req + len;
	bool in_peers = false, created = false, gone = false;

	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		char *v;
		int err;

		if (nl == NULL)
			return EPROTO;
		*nl = '\0';
		/* '=' in the line, and no NUL in it. */
		if ((v = strchr(line, '=')) == NULL ||
		    strlen(line) != (size_t)(nl - line))
			return EPROTO;
		*v++ = '\0';
		if (strcmp(line, "public_key") == 0) {
			uint8_t key[32];

			if (wg_key_from_hex(v, key) != 0)
				return EINVAL;
			in_peers = true;
			created = gone = false;
			if ((p = wg_peer_find(d, key)) == NULL) {
				if (dp_peer_add(dp, key, &p) != 0)
					return EINVAL;
				created = true;
			}
		} else if (!in_peers) {
			if ((err = set_device(dp, line, v)) != 0)
				return err;
		} else if (!gone) {
			/* A removed peer's other lines are not looked at. */
			if ((err = set_peer(dp, p, created, line, v, &gone))
			    != 0)
				return err;
		}
		line = nl + 1;
	}
	return 0;
}

int
uapi_handle(struct dp *dp, uint32_t fwmark, char *req, size_t len,
    struct uapi_buf *out)
{
	struct uapi_buf o = { NULL, 0, 0, false };
	int err = 0;

	if (len >= 7 && memcmp(req, "get=1\n\n", 7) == 0) {
		do_get(dp, fwmark, &o);
	} else if (len >= 6 && memcmp(req, "set=1\n", 6) == 0) {
		/* Up to the blank line; a request without one is cut short
		 * (a timeout, the size bound): none of it is applied. */
		char *end = memmem(req + 5, len - 5, "\n\n", 2);

		if (end == NULL)
			err = EPROTO;
		else
			err = do_set(dp, req + 6,
			    (size_t)(end + 1 - (req + 6)));
	} else
		err = EPROTO;
	oprintf(&o, "errno=%d\n\n", err);
	if (o.err) {
		uapi_buf_free(&o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

static void
serve(struct uapi *u, int c)
{
	static const char enomem[] = "errno=12\n\n";	/* ENOMEM */
	struct uapi_buf o = { NULL, 0, 0, false };
	const char *rp;
	size_t rlen;
	char *req;
	size_t len = 0;
	ssize_t n;

	if ((req = malloc(UAPI_MAX_REQUEST + 1)) == NULL)
		return;
	/* Read until the blank line that ends a request. */
	while (len < UAPI_MAX_REQUEST) {
		struct pollfd pfd = { c, POLLIN, 0 };
		size_t from;

		if (poll(&pfd, 1, 2000) <= 0)
			break;
		if ((n = read(c, req + len, UAPI_MAX_REQUEST - len)) <= 0)
			break;
		/* Only the new bytes (and the one before) can end it. */
		from = len > 0 ? len - 1 : 0;
		len += (size_t)n;
		if (memmem(req + from, len - from, "\n\n", 2) != NULL)
			break;
	}
	if (uapi_handle(u->dp, atomic_load(&u->fwmark), req, len, &o) == 0) {
		rp = o.p;
		rlen = o.len;
	} else {
		rp = enomem;
		rlen = sizeof(enomem) - 1;
	}
	/* A get with thousands of peers is megabytes: write it all. */
	for (size_t off = 0; off < rlen; off += (size_t)n) {
		if ((n = write(c, rp + off, rlen - off)) <= 0) {
			if (n < 0 && errno == EINTR) {
				n = 0;
				continue;
			}
			log_trace("uapi reply: %s", strerror(errno));
			break;
		}
	}
	sodium_memzero(req, len);
	free(req);
	uapi_buf_free(&o);
}

static void *
uapi_main(void *arg)
{
	struct uapi *u = arg;
	struct pollfd pfd[2] = { { u->fd, POLLIN, 0 }, { u->stop[0], POLLIN, 0 } };

	for (;;) {
		int c;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		if ((c = accept4(u->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		serve(u, c);
		close(c);
	}
	return NULL;
}

int
uapi_start(struct dp *dp, const char *ifname, struct uapi **out)
{
	struct sockaddr_un sun;
	struct uapi *u;
	int rc;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return -ENOMEM;
	u->dp = dp;
	u->fd = u->stop[0] = u->stop[1] = -1;
	mkdir("/var/run", 0755);
	if (mkdir(UAPI_DIR, 0755) != 0 && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	snprintf(u->path, sizeof(u->path), "%s/%s.sock", UAPI_DIR, ifname);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", u->path);
	if ((u->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    pipe2(u->stop, O_CLOEXEC) != 0) {
		rc = -errno;
		goto fail;
	}
	unlink(u->path);
	{
		mode_t old = umask(0077);	/* the socket is root's only */

		rc = bind(u->fd, (struct sockaddr *)&sun, sizeof(sun));
		umask(old);
	}
	if (rc != 0 || listen(u->fd, 8) != 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = pthread_create(&u->th, NULL, uapi_main, u)) != 0) {
		rc = -rc;
		unlink(u->path);
		goto fail;
	}
	*out = u;
	return 0;
fail:
	if (u->fd >= 0)
		close(u->fd);
	if (u->stop[0] >= 0) {
		close(u->stop[0]);
		close(u->stop[1]);
	}
	free(u);
	return rc;
}

void
uapi_stop(struct uapi *u)
{
	if (u == NULL)
		return;
	if (write(u->stop[1], "x", 1) < 0)
		log_warn("uapi stop");
	pthread_join(u->th, NULL);
	close(u->fd);
	close(u->stop[0]);
	close(u->stop[1]);
	unlink(u->path);
	free(u);
}

/* --- `fz-tunneld --show`: a wg(8)-style printer over get=1 --- */

static void
ago(uint64_t secs_ago, char *buf, size_t len)
{
	unsigned long long s = secs_ago, d = s / 86400, h = s / 3600 % 24,
	    m = s / 60 % 60;
	size_t o = 0;

	/* Each part fits: 20 digits and a word in a 128-byte buffer. */
	buf[0] = '\0';
	if (d)
		o += (size_t)snprintf(buf + o, len - o, "%llu day%s, ", d,
		    d == 1 ? "" : "s");
	if (h)
		o += (size_t)snprintf(buf + o, len - o, "%llu hour%s, ", h,
		    h == 1 ? "" : "s");
	if (m)
		o += (size_t)snprintf(buf + o, len - o, "%llu minute%s, ", m,
		    m == 1 ? "" : "s");
	snprintf(buf + o, len - o, "%llu second%s ago", s % 60,
	    s % 60 == 1 ? "" : "s");
}

static void
bytes_h(unsigned long long b, char *buf, size_t len)
{
	if (b < 1024)
		snprintf(buf, len, "%llu B", b);
	else if (b < 1024ULL * 1024)
		snprintf(buf, len, "%.2f KiB", b / 1024.0);
	else if (b < 1024ULL * 1024 * 1024)
		snprintf(buf, len, "%.2f MiB", b / (1024.0 * 1024));
	else
		snprintf(buf, len, "%.2f GiB", b / (1024.0 * 1024 * 1024));
}

/* A peer of the reply, printed once its last line was read. */
struct show {
	FILE			*out;	/* NULL: only checks the reply */
	uint64_t		 now;
	bool			 in_peer;
	char			 pub[45], ep[ADDR_STRLEN], ka[8];
	struct uapi_buf		 allowed;
	unsigned long long	 tx, rx, hsec;
};

static void
show_flush(struct show *s)
{
	char t1[32], t2[32], hs[128];

	if (s->in_peer && s->out != NULL) {
		fprintf(s->out, "\npeer: %s\n", s->pub);
		if (s->ep[0])
			fprintf(s->out, "  endpoint: %s\n", s->ep);
		fprintf(s->out, "  allowed ips: %s\n",
		    s->allowed.len > 0 ? s->allowed.p : "(none)");
		if (s->hsec) {
			ago(s->now > s->hsec ? s->now - s->hsec : 0, hs,
			    sizeof(hs));
			fprintf(s->out, "  latest handshake: %s\n", hs);
		}
		if (s->tx || s->rx) {
			bytes_h(s->rx, t1, sizeof(t1));
			bytes_h(s->tx, t2, sizeof(t2));
			fprintf(s->out, "  transfer: %s received, %s sent\n",
			    t1, t2);
		}
		if (s->ka[0] && strcmp(s->ka, "0") != 0)
			fprintf(s->out, "  persistent keepalive: every %s "
			    "seconds\n", s->ka);
	}
	s->ep[0] = s->ka[0] = '\0';
	s->allowed.len = 0;
	if (s->allowed.p != NULL)
		s->allowed.p[0] = '\0';
	s->tx = s->rx = s->hsec = 0;
}

/* One line of a reply but errno: 0 or -EPROTO (what it holds is wrong). */
static int
show_line(struct show *s, const char *k, const char *v)
{
	unsigned long long n;
	uint8_t key[32];
	int rc = 0;

	if (strcmp(k, "private_key") == 0) {
		uint8_t pk[32];

		if (wg_key_from_hex(v, key) != 0)
			return -EPROTO;
		/* The public key (an X25519) only when it is printed. */
		if (s->out != NULL) {
			wg_key_public(key, pk);
			wg_key_to_base64(pk, s->pub);
			fprintf(s->out, "  public key: %s\n  private key: "
			    "(hidden)\n", s->pub);
			s->pub[0] = '\0';
		}
		sodium_memzero(key, sizeof(key));
	} else if (strcmp(k, "listen_port") == 0) {
		if (parse_uint(v, 65535, &n) != 0)
			return -EPROTO;
		if (s->out != NULL)
			fprintf(s->out, "  listening port: %llu\n", n);
	} else if (strcmp(k, "public_key") == 0) {
		if (wg_key_from_hex(v, key) != 0)
			return -EPROTO;
		show_flush(s);
		s->in_peer = true;
		wg_key_to_base64(key, s->pub);
	} else if (strcmp(k, "endpoint") == 0) {
		if (strlen(v) >= sizeof(s->ep))
			return -EPROTO;
		snprintf(s->ep, sizeof(s->ep), "%s", v);
	} else if (strcmp(k, "allowed_ip") == 0) {
		/* All of them, however many (the reply is bounded). */
		oprintf(&s->allowed, "%s%s", s->allowed.len ? ", " : "", v);
		if (s->allowed.err)
			rc = -ENOMEM;
	} else if (strcmp(k, "last_handshake_time_sec") == 0) {
		if (parse_uint(v, UINT64_MAX, &s->hsec) != 0)
			return -EPROTO;
	} else if (strcmp(k, "tx_bytes") == 0) {
		if (parse_uint(v, UINT64_MAX, &s->tx) != 0)
			return -EPROTO;
	} else if (strcmp(k, "rx_bytes") == 0) {
		if (parse_uint(v, UINT64_MAX, &s->rx) != 0)
			return -EPROTO;
	} else if (strcmp(k, "persistent_keepalive_interval") == 0) {
		if (parse_uint(v, 65535, &n) != 0)
			return -EPROTO;
		snprintf(s->ka, sizeof(s->ka), "%llu", n);
	}
	/* Anything else (fwmark, protocol_version, ...) is not shown. */
	return rc;
}

/*
 * Goes over the reply's lines up to the blank line, which must follow an
 * errno line: 0 (*errnum: its value), -EPROTO for a reply cut short or
 * malformed (a line without '=', bytes other than printable ASCII, a bad
 * key or number), -ENOMEM.  Prints only with s->out set.
 */
static int
show_parse(struct show *s, const char *reply, size_t len, unsigned *errnum)
{
	const char *line = reply, *end = reply + len;
	char k[32], v[SHOW_MAX_VALUE + 1];
	bool have_errno = false;
	int rc = 0;

	for (;;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eq;

		if (nl == NULL) {
			rc = -EPROTO;		/* no blank line: cut short */
			break;
		}
		if (nl == line) {
			if (!have_errno)
				rc = -EPROTO;
			break;
		}
		if (have_errno) {
			rc = -EPROTO;		/* errno is the last line */
			break;
		}
		for (const char *c = line; c < nl; c++)
			if (*c < 0x20 || *c > 0x7e) {
				rc = -EPROTO;
				goto out;
			}
		if ((eq = memchr(line, '=', (size_t)(nl - line))) == NULL ||
		    eq == line || (size_t)(eq - line) >= sizeof(k) ||
		    (size_t)(nl - eq - 1) >= sizeof(v)) {
			rc = -EPROTO;
			break;
		}
		memcpy(k, line, (size_t)(eq - line));
		k[eq - line] = '\0';
		memcpy(v, eq + 1, (size_t)(nl - eq - 1));
		v[nl - eq - 1] = '\0';
		if (strcmp(k, "errno") == 0) {
			unsigned long long n;

			/* wireguard-go sends -errno, fz errno. */
			if (parse_uint(v[0] == '-' ? v + 1 : v, 4095,
			    &n) != 0) {
				rc = -EPROTO;
				break;
			}
			*errnum = (unsigned)n;
			have_errno = true;
		} else if ((rc = show_line(s, k, v)) != 0)
			break;
		line = nl + 1;
	}
out:
	if (rc == 0)
		show_flush(s);
	sodium_memzero(v, sizeof(v));	/* the private key */
	return rc;
}

int
uapi_show_reply(const char *ifname, const char *reply, size_t len,
    uint64_t now, FILE *out, FILE *err)
{
	struct show s;
	unsigned errnum = 0;
	int rc;

	/* Checked whole first: nothing is printed of a bad reply. */
	memset(&s, 0, sizeof(s));
	s.now = now;
	rc = show_parse(&s, reply, len, &errnum);
	if (rc == 0 && errnum != 0) {
		fprintf(err, "fz-tunneld: %s: errno=%u\n", ifname, errnum);
		rc = -(int)errnum;
	} else if (rc == -EPROTO) {
		fprintf(err, "fz-tunneld: %s: malformed reply\n", ifname);
	} else if (rc < 0) {
		fprintf(err, "fz-tunneld: %s: %s\n", ifname, strerror(-rc));
	} else {
		fprintf(out, "interface: %s\n", ifname);
		uapi_buf_free(&s.allowed);
		memset(&s, 0, sizeof(s));
		s.out = out;
		s.now = now;
		rc = show_parse(&s, reply, len, &errnum);
	}
	uapi_buf_free(&s.allowed);
	return rc;
}

static int
show_one(const char *ifname)
{
	struct sockaddr_un sun;
	char *resp = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", UAPI_DIR,
	    ifname);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		fprintf(stderr, "fz-tunneld: %s: no such interface (%s)\n",
		    ifname, strerror(errno));
		close(fd);
		return 1;
	}
	if (write(fd, "get=1\n\n", 7) != 7) {
		close(fd);
		return 1;
	}
	/* As much as the reply is (thousands of peers: megabytes). */
	for (;;) {
		if (len + 1 >= cap) {
			size_t ncap = cap == 0 ? 65536 : cap * 2;
			char *nr;

			if (ncap > UAPI_MAX_REPLY ||
			    (nr = malloc(ncap)) == NULL)
				break;
			/* Not realloc: the old copy holds the key. */
			if (resp != NULL) {
				memcpy(nr, resp, len);
				sodium_memzero(resp, cap);
				free(resp);
			}
			resp = nr;
			cap = ncap;
		}
		if ((n = read(fd, resp + len, cap - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (resp == NULL)
		return 1;
	rc = uapi_show_reply(ifname, resp, len, time_real_ns() / NSEC_PER_SEC,
	    stdout, stderr);
	sodium_memzero(resp, cap);	/* the private key */
	free(resp);
	return rc == 0 ? 0 : 1;
}

int
uapi_show(const char *ifname)
{
	struct dirent *de;
	DIR *dir;
	int rc = 0, n = 0;

	if (ifname != NULL && ifname[0] != '\0')
		return show_one(ifname);
	if ((dir = opendir(UAPI_DIR)) == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		char name[IFNAMSIZ + 8];
		size_t l = strlen(de->d_name);

		if (l < 6 || l - 5 >= IFNAMSIZ ||
		    strcmp(de->d_name + l - 5, ".sock") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(l - 5), de->d_name);
		if (n++ > 0)
			printf("\n");
		rc |= show_one(name);
	}
	closedir(dir);
	return rc;
}

void
uapi_set_fwmark(struct uapi *u, uint32_t mark)
{
	if (u != NULL)
		atomic_store(&u->fwmark, mark);
}
