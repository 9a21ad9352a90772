/* SPDX-License-Identifier: ISC */
/*
 * The front-end client shared by fzctl and fz-gui (fzclient.h).
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fzclient.h"

const char *
fzc_socket_path(const char *opt)
{
	const char *env;

	if (opt != NULL)
		return opt;
	if ((env = getenv("FZ_SOCKET")) != NULL)
		return env;
	return FZC_DEFAULT_SOCKET;
}

int
fzc_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, err;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int
fzc_conn_new(struct event_base *base, int fd, const char *program,
    const struct ipc_handler *on_msg, ipc_close_cb *on_close, void *arg,
    struct ipc_conn **out)
{
	struct ipc_conn_config cc = {
		.self = IPC_F, .peer = IPC_T, .program = program,
		.on_msg = on_msg, .on_close = on_close, .arg = arg,
	};
	int rc;

	if ((rc = ipc_conn_new(base, fd, &cc, out)) != 0) {
		close(fd);	/* still ours on failure */
		return rc;
	}
	return 0;
}

int
fzc_request_ok(const struct ipc_msg *m)
{
	const struct ipc_msg_info *mi = ipc_msg_info(m->type);
	uint8_t *b;
	struct wbuf w;
	int rc;

	if (mi == NULL)
		return -EINVAL;
	if ((b = malloc(mi->wire_max)) == NULL)
		return -ENOMEM;
	wbuf_init(&w, b, mi->wire_max);
	rc = ipc_msg_encode(m, &w);
	sodium_memzero(b, mi->wire_max);
	free(b);
	return rc;
}

int
fzc_token_read(FILE *f, char *out, size_t cap)
{
	size_t n;

	if (fgets(out, (int)cap, f) == NULL)
		out[0] = '\0';
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return n == 0 ? -ENODATA : 0;
}

void
fzc_list_each(const char *list, const char *sep,
    void (*fn)(const char *, size_t, void *), void *arg)
{
	const char *p = list, *e;
	size_t sl = strlen(sep);

	while (*p != '\0') {
		if ((e = strstr(p, sep)) == NULL)
			e = p + strlen(p);
		fn(p, (size_t)(e - p), arg);
		p = *e != '\0' ? e + sl : e;
	}
}

bool
fzc_conn_entry_parse(const char *s, size_t n, struct fzc_conn_entry *e)
{
	char buf[512];
	int end = -1;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (sscanf(buf, "%64s %15s %64s %u %llu %llu %llu %llu%n", e->peer,
	    e->kind, e->addr, &e->channel, &e->rtt_us, &e->since, &e->rx,
	    &e->tx, &end) != 8 || end != (int)n)
		return false;
	return strcmp(e->kind, "direct") == 0 || strcmp(e->kind, "relayed") == 0;
}

struct conns_arg {
	void	(*fn)(const struct fzc_conn_entry *, void *);
	void	*arg;
};

static void
conn_one(const char *s, size_t n, void *arg)
{
	struct conns_arg *a = arg;
	struct fzc_conn_entry ce;

	if (fzc_conn_entry_parse(s, n, &ce))
		a->fn(&ce, a->arg);
}

void
fzc_conns_each(const char *list,
    void (*fn)(const struct fzc_conn_entry *, void *), void *arg)
{
	struct conns_arg a = { fn, arg };

	fzc_list_each(list, "; ", conn_one, &a);
}
