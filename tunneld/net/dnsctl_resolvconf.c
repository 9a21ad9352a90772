/* SPDX-License-Identifier: ISC */
/*
 * DNS control by /etc/resolv.conf, and the resolv.conf parser the other
 * backends use to find the system's servers.
 *
 * Order of changes, so that a crash at any point leaves a state the next
 * start repairs: (1) the backup appears atomically (a temporary name, then
 * rename), (2) resolv.conf is replaced atomically, (3) on stop the backup
 * is renamed back over resolv.conf, which removes it in the same step.  A
 * backup present at start therefore always holds the original.  Where
 * resolv.conf is a mount point (ip netns exec, containers) rename fails
 * with EBUSY and the file is rewritten in place instead.
 */
#define LOG_MODULE "dnsctl"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dnsctl_impl.h"
#include "log.h"

/* ---- parsing (untrusted bytes) ---- */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' ||
	    c == '\f' || c == '\0';
}

/* Copies the next token of [p, end) into tok (NUL-terminated); a token
 * too long for tok is skipped whole and reported as empty with *toolong. */
static const char *
next_token(const char *p, const char *end, char *tok, size_t cap,
    bool *toolong)
{
	size_t n = 0;

	*toolong = false;
	while (p < end && is_space(*p))
		p++;
	while (p < end && !is_space(*p)) {
		if (n + 1 < cap)
			tok[n] = *p;
		else
			*toolong = true;
		n++;
		p++;
	}
	if (*toolong)
		n = 0;
	tok[n < cap ? n : 0] = '\0';
	return p;
}

static void
parse_line(const char *p, const char *end, struct dnsctl_servers *out)
{
	char key[16], val[ADDR_STRLEN];
	union fz_sockaddr sa;
	bool longkey, longval;

	/* A comment starts a line with '#' or ';' (resolv.conf(5)); glibc
	 * also ends the address at either, so "1.2.3.4#x" is no address. */
	p = next_token(p, end, key, sizeof(key), &longkey);
	if (longkey || strcmp(key, "nameserver") != 0)
		return;
	next_token(p, end, val, sizeof(val), &longval);
	if (longval || val[0] == '\0')
		return;
	if (addr_parse(val, ADDR_PORT_NONE, &sa) != 0)
		return;
	if (out->n < DNSCTL_MAX_SERVERS)
		out->v[out->n++] = sa;
}

void
dnsctl_parse_resolv_conf(const char *buf, size_t len,
    struct dnsctl_servers *out)
{
	const char *p = buf, *end = buf + len, *nl;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		parse_line(p, nl, out);
		p = nl + 1;
	}
}

int
dnsctl_format_resolv_conf(const struct dnsctl_servers *s, const char *search,
    char *buf, size_t cap, size_t *len)
{
	char host[ADDR_STRLEN];
	size_t n;
	unsigned i;
	int w;

	if (search != NULL && *search != '\0' && !dnsctl_domain_ok(search))
		return -EINVAL;
	w = snprintf(buf, cap, "# Written by fz-tunneld (Firezone DNS "
	    "control); the original comes back when it stops.\n");
	if (w < 0 || (size_t)w >= cap)
		return -ENOSPC;
	n = (size_t)w;
	for (i = 0; i < s->n && i < DNSCTL_MAX_SERVERS; i++) {
		if (addr_fmt(&s->v[i].sa, false, host, sizeof(host)) != 0)
			return -EINVAL;
		w = snprintf(buf + n, cap - n, "nameserver %s\n", host);
		if (w < 0 || (size_t)w >= cap - n)
			return -ENOSPC;
		n += (size_t)w;
	}
	if (search != NULL && *search != '\0') {
		w = snprintf(buf + n, cap - n, "search %s\n", search);
		if (w < 0 || (size_t)w >= cap - n)
			return -ENOSPC;
		n += (size_t)w;
	}
	*len = n;
	return 0;
}

/* ---- files ---- */

/* Reads a whole file of at most DNSCTL_FILE_MAX bytes (following
 * symlinks); *buf is malloc'd and NUL-terminated. */
static int
read_file(const char *path, char **buf, size_t *len)
{
	char *b;
	size_t n = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -errno;
	if ((b = malloc(DNSCTL_FILE_MAX + 1)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		r = read(fd, b + n, DNSCTL_FILE_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			close(fd);
			free(b);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > DNSCTL_FILE_MAX) {
			close(fd);
			free(b);
			return -EFBIG;
		}
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, buf, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* path.fz-tmp with contents, fsync'd, then renamed to dst. */
static int
write_atomic(const char *dst, const char *buf, size_t len, mode_t mode)
{
	char tmp[PATH_MAX + 8];
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.fz-tmp", dst) >=
	    sizeof(tmp))
		return -ENAMETOOLONG;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) != 0)	/* umask-independent */
		rc = -errno;
	else if ((rc = write_all(fd, buf, len)) == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, dst) != 0)
		rc = -errno;
	if (rc != 0)
		(void)unlink(tmp);
	return rc;
}

/* Writes into an existing file (a mount point cannot be replaced). */
static int
write_in_place(const char *dst, const char *buf, size_t len)
{
	int fd, rc;

	if ((fd = open(dst, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY)) < 0)
		return -errno;
	if ((rc = write_all(fd, buf, len)) == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

static int
replace(const char *dst, const char *buf, size_t len)
{
	int rc = write_atomic(dst, buf, len, 0644);

	if (rc == -EBUSY || rc == -EXDEV)
		rc = write_in_place(dst, buf, len);
	return rc;
}

/* The backup: a symlink stays a symlink, a file is copied, a missing
 * file is backed up as an empty one. */
static int
make_backup(struct dnsctl *d)
{
	char target[PATH_MAX], tmp[PATH_MAX + 8];
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int rc;

	if (lstat(d->resolv_conf, &st) != 0) {
		if (errno != ENOENT)
			return dnsctl_fail(d, -errno, "%s: %s", d->resolv_conf,
			    strerror(errno));
		return write_atomic(d->backup, "", 0, 0644);
	}
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlink(d->resolv_conf, target, sizeof(target))) < 0)
			return dnsctl_fail(d, -errno, "readlink %s: %s",
			    d->resolv_conf, strerror(errno));
		if ((size_t)n >= sizeof(target))
			return dnsctl_fail(d, -ENAMETOOLONG, "readlink %s: too "
			    "long", d->resolv_conf);
		target[n] = '\0';
		snprintf(tmp, sizeof(tmp), "%s.fz-tmp", d->backup);
		(void)unlink(tmp);
		if (symlink(target, tmp) != 0 || rename(tmp, d->backup) != 0) {
			rc = -errno;
			(void)unlink(tmp);
			return dnsctl_fail(d, rc, "backup %s: %s", d->backup,
			    strerror(-rc));
		}
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return dnsctl_fail(d, -EINVAL, "%s: not a file or symlink",
		    d->resolv_conf);
	if ((rc = read_file(d->resolv_conf, &buf, &len)) != 0)
		return dnsctl_fail(d, rc, "%s: %s", d->resolv_conf,
		    strerror(-rc));
	rc = write_atomic(d->backup, buf, len, st.st_mode & 0777);
	free(buf);
	if (rc != 0)
		return dnsctl_fail(d, rc, "backup %s: %s", d->backup,
		    strerror(-rc));
	return 0;
}

/* Puts the backup back over resolv.conf and removes it. */
static int
restore(struct dnsctl *d)
{
	char *buf;
	size_t len;
	int rc;

	if (rename(d->backup, d->resolv_conf) == 0)
		return 0;
	rc = -errno;
	if (rc != -EBUSY && rc != -EXDEV)
		return dnsctl_fail(d, rc, "restore %s: %s", d->resolv_conf,
		    strerror(-rc));
	/* A mount point: copy the contents in, then drop the backup. */
	if ((rc = read_file(d->backup, &buf, &len)) != 0)
		return dnsctl_fail(d, rc, "restore from %s: %s", d->backup,
		    strerror(-rc));
	rc = write_in_place(d->resolv_conf, buf, len);
	free(buf);
	if (rc != 0)
		return dnsctl_fail(d, rc, "restore %s: %s", d->resolv_conf,
		    strerror(-rc));
	if (unlink(d->backup) != 0)
		return dnsctl_fail(d, -errno, "remove %s: %s", d->backup,
		    strerror(errno));
	return 0;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int
dnsctl_resolvconf_recover(struct dnsctl *d)
{
	int rc;

	if (!exists(d->backup))
		return 0;
	log_warnx("%s found: a previous run did not stop cleanly; restoring "
	    "%s from it", d->backup, d->resolv_conf);
	if ((rc = restore(d)) != 0)
		return rc;
	return 0;
}

static int
rc_set(struct dnsctl *d, int ifindex, const struct dnsctl_servers *s,
    const char *search)
{
	char buf[4096];
	size_t len;
	int rc;

	if ((rc = dnsctl_format_resolv_conf(s, search, buf, sizeof(buf),
	    &len)) != 0)
		return dnsctl_fail(d, rc, "resolv.conf: cannot format: %s",
		    strerror(-rc));
	/* The first set makes the backup; later sets keep it. */
	if (!exists(d->backup) && (rc = make_backup(d)) != 0)
		return rc;
	if ((rc = replace(d->resolv_conf, buf, len)) != 0)
		return dnsctl_fail(d, rc, "write %s: %s", d->resolv_conf,
		    strerror(-rc));
	return 0;
}

static int
rc_revert(struct dnsctl *d)
{
	if (!exists(d->backup))
		return 0;
	return restore(d);
}

int
dnsctl_resolvconf_servers(struct dnsctl *d, struct dnsctl_servers *out)
{
	const char *path = exists(d->backup) ? d->backup : d->resolv_conf;
	char *buf;
	size_t len;
	int rc;

	if ((rc = read_file(path, &buf, &len)) != 0) {
		if (rc == -ENOENT) {	/* no file: no servers */
			memset(out, 0, sizeof(*out));
			return 0;
		}
		return dnsctl_fail(d, rc, "%s: %s", path, strerror(-rc));
	}
	dnsctl_parse_resolv_conf(buf, len, out);
	free(buf);
	return 0;
}

const struct dnsctl_ops dnsctl_resolvconf_ops = {
	.name = "etc-resolv-conf",
	.set = rc_set,
	.revert = rc_revert,
	.servers = dnsctl_resolvconf_servers,
};
