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

struct uapi {
	struct dp	*dp;
	int		 fd;
	int		 stop[2];
	char		 path[108];
	pthread_t	 th;
	_Atomic uint32_t fwmark;
};

struct obuf {
	char	*p;
	size_t	 len, cap;
};

static void
oprintf(struct obuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
oprintf(struct obuf *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		{
			size_t ncap = o->cap * 2 + (size_t)n + 64;
			char *np = realloc(o->p, ncap);

			if (np == NULL)
				return;
			o->p = np;
			o->cap = ncap;
		}
	}
}

static void
allowed_cb(const struct fz_cidr *c, void *arg)
{
	char s[64];

	if (cidr_fmt(c, s, sizeof(s)) == 0)
		oprintf(arg, "allowed_ip=%s\n", s);
}

static void
do_get(struct uapi *u, struct obuf *o)
{
	struct wg_device *d = dp_device(u->dp);
	struct wg_peer *p = NULL;
	uint8_t key[32];
	char hex[65], ep[ADDR_STRLEN];

	/* The private key goes only to this root-only socket, as with wg. */
	wg_device_private_key(d, key);
	wg_key_to_hex(key, hex);
	oprintf(o, "private_key=%s\n", hex);
	sodium_memzero(hex, sizeof(hex));
	oprintf(o, "listen_port=%u\n", dp_port(u->dp));
	if (atomic_load(&u->fwmark) != 0)
		oprintf(o, "fwmark=%u\n", (unsigned)atomic_load(&u->fwmark));
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
		dp_peer_walk_allowed(u->dp, p, allowed_cb, o);
		oprintf(o, "protocol_version=1\n");
	}
	wg_read_unlock();
	sodium_memzero(key, sizeof(key));
}

/* Applies a set=1 request; returns 0 or a positive errno for the reply. */
static int
do_set(struct uapi *u, char *req)
{
	struct wg_device *d = dp_device(u->dp);
	struct wg_peer *p = NULL;
	char *line, *save = NULL;
	bool peer_skip = false;

	for (line = strtok_r(req, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');
		uint8_t key[32];

		if (v == NULL)
			return EPROTO;
		*v++ = '\0';
		if (strcmp(line, "private_key") == 0) {
			if (wg_key_from_hex(v, key) != 0)
				return EINVAL;
			if (wg_device_set_private_key(d, key) != 0)
				return EINVAL;
			sodium_memzero(key, sizeof(key));
		} else if (strcmp(line, "listen_port") == 0) {
			if ((unsigned)atoi(v) != dp_port(u->dp))
				return EOPNOTSUPP;	/* fixed at start */
		} else if (strcmp(line, "fwmark") == 0) {
			/* accepted, not applied: the file's FwMark, at start */
		} else if (strcmp(line, "replace_peers") == 0) {
			struct wg_peer *q;

			if (strcmp(v, "true") != 0)
				continue;
			while ((q = wg_peer_next(d, NULL)) != NULL)
				dp_peer_remove(u->dp, q);
		} else if (strcmp(line, "public_key") == 0) {
			if (wg_key_from_hex(v, key) != 0)
				return EINVAL;
			peer_skip = false;
			if ((p = wg_peer_find(d, key)) == NULL &&
			    dp_peer_add(u->dp, key, &p) != 0)
				return EINVAL;
		} else if (p == NULL) {
			return EPROTO;
		} else if (strcmp(line, "update_only") == 0) {
			/* the peer exists by now; nothing to do */
		} else if (peer_skip) {
			continue;
		} else if (strcmp(line, "remove") == 0) {
			if (strcmp(v, "true") == 0) {
				dp_peer_remove(u->dp, p);
				peer_skip = true;
			}
		} else if (strcmp(line, "preshared_key") == 0) {
			if (wg_key_from_hex(v, key) != 0)
				return EINVAL;
			wg_peer_set_psk(p, key);
			sodium_memzero(key, sizeof(key));
		} else if (strcmp(line, "endpoint") == 0) {
			union fz_sockaddr sa;

			if (addr_parse(v, ADDR_PORT_REQUIRED, &sa) != 0)
				return EINVAL;
			wg_peer_set_endpoint(p, &sa);
		} else if (strcmp(line, "persistent_keepalive_interval") == 0) {
			int n = atoi(v);

			if (n < 0 || n > 65535)
				return EINVAL;
			wg_peer_set_keepalive(p, (unsigned)n);
		} else if (strcmp(line, "replace_allowed_ips") == 0) {
			if (strcmp(v, "true") == 0)
				dp_peer_clear_allowed(u->dp, p);
		} else if (strcmp(line, "allowed_ip") == 0) {
			struct fz_cidr c;

			if (cidr_parse(v, false, &c) != 0 ||
			    dp_peer_allow(u->dp, p, &c) != 0)
				return EINVAL;
		} else if (strcmp(line, "protocol_version") == 0) {
			if (strcmp(v, "1") != 0)
				return EPROTONOSUPPORT;
		} else
			return EPROTO;
	}
	return 0;
}

static void
serve(struct uapi *u, int c)
{
	char *req;
	size_t len = 0;
	ssize_t n;
	struct obuf o = { NULL, 0, 0 };
	int err = 0;

	if ((req = malloc(UAPI_MAX_REQUEST + 1)) == NULL)
		return;
	/* Read until the blank line that ends a request. */
	while (len < UAPI_MAX_REQUEST) {
		struct pollfd pfd = { c, POLLIN, 0 };

		if (poll(&pfd, 1, 2000) <= 0)
			break;
		if ((n = read(c, req + len, UAPI_MAX_REQUEST - len)) <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		/* Only the new bytes (and the one before) can end it. */
		if (len >= 2 && strstr(req + len - (size_t)n -
		    (len > (size_t)n ? 1 : 0), "\n\n") != NULL)
			break;
	}
	req[len] = '\0';
	if ((o.p = malloc(4096)) != NULL)
		o.cap = 4096;
	if (strncmp(req, "get=1\n", 6) == 0) {
		do_get(u, &o);
	} else if (strncmp(req, "set=1\n", 6) == 0) {
		char *end = strstr(req, "\n\n");

		if (end != NULL)
			end[1] = '\0';
		err = do_set(u, req + 6);
	} else
		err = EPROTO;
	oprintf(&o, "errno=%d\n\n", err);
	/* A get with thousands of peers is megabytes: write it all. */
	for (size_t off = 0; o.p != NULL && off < o.len; off += (size_t)n) {
		if ((n = write(c, o.p + off, o.len - off)) <= 0) {
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
	if (o.p != NULL)
		sodium_memzero(o.p, o.cap);	/* the private key */
	free(o.p);
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

static int
show_one(const char *ifname)
{
	struct sockaddr_un sun;
	char *resp = NULL, *line, *save = NULL, allowed[4096] = "";
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, peers = 0, rc = 0;
	bool in_peer = false;
	char pub[45] = "", ep[ADDR_STRLEN] = "", hs[128] = "", ka[32] = "";
	unsigned long long tx = 0, rx = 0, hsec = 0;

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
			    (nr = realloc(resp, ncap)) == NULL)
				break;
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
	resp[len] = '\0';

	printf("interface: %s\n", ifname);
#define FLUSH_PEER() do {						\
	if (in_peer) {							\
		char t1[32], t2[32];					\
		printf("\npeer: %s\n", pub);				\
		if (ep[0])						\
			printf("  endpoint: %s\n", ep);			\
		printf("  allowed ips: %s\n",				\
		    allowed[0] ? allowed : "(none)");			\
		if (hsec) {						\
			ago(time_real_ns() / NSEC_PER_SEC - hsec, hs,	\
			    sizeof(hs));				\
			printf("  latest handshake: %s\n", hs);		\
		}							\
		if (tx || rx) {						\
			bytes_h(rx, t1, sizeof(t1));			\
			bytes_h(tx, t2, sizeof(t2));			\
			printf("  transfer: %s received, %s sent\n",	\
			    t1, t2);					\
		}							\
		if (ka[0] && strcmp(ka, "0") != 0)			\
			printf("  persistent keepalive: every %s "	\
			    "seconds\n", ka);				\
	}								\
	ep[0] = allowed[0] = ka[0] = '\0';				\
	tx = rx = hsec = 0;						\
} while (0)
	for (line = strtok_r(resp, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, '=');
		uint8_t key[32];

		if (v == NULL)
			continue;
		*v++ = '\0';
		if (strcmp(line, "private_key") == 0) {
			if (wg_key_from_hex(v, key) == 0) {
				uint8_t pk[32];

				wg_key_public(key, pk);
				wg_key_to_base64(pk, pub);
				printf("  public key: %s\n  private key: "
				    "(hidden)\n", pub);
				sodium_memzero(key, sizeof(key));
			}
			sodium_memzero(v, strlen(v));
		} else if (strcmp(line, "listen_port") == 0)
			printf("  listening port: %s\n", v);
		else if (strcmp(line, "public_key") == 0) {
			FLUSH_PEER();
			in_peer = true;
			peers++;
			if (wg_key_from_hex(v, key) == 0)
				wg_key_to_base64(key, pub);
		} else if (strcmp(line, "endpoint") == 0)
			snprintf(ep, sizeof(ep), "%s", v);
		else if (strcmp(line, "allowed_ip") == 0) {
			size_t al = strlen(allowed);

			snprintf(allowed + al, sizeof(allowed) - al, "%s%s",
			    al ? ", " : "", v);
		} else if (strcmp(line, "last_handshake_time_sec") == 0)
			hsec = strtoull(v, NULL, 10);
		else if (strcmp(line, "tx_bytes") == 0)
			tx = strtoull(v, NULL, 10);
		else if (strcmp(line, "rx_bytes") == 0)
			rx = strtoull(v, NULL, 10);
		else if (strcmp(line, "persistent_keepalive_interval") == 0)
			snprintf(ka, sizeof(ka), "%s", v);
		else if (strcmp(line, "errno") == 0 && strcmp(v, "0") != 0) {
			fprintf(stderr, "fz-tunneld: %s: errno=%s\n", ifname,
			    v);
			rc = 1;
			break;
		}
	}
	if (rc == 0)
		FLUSH_PEER();
#undef FLUSH_PEER
	(void)peers;
	sodium_memzero(resp, cap);	/* the private key */
	free(resp);
	return rc;
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
