/* SPDX-License-Identifier: ISC */
#define LOG_MODULE "tunneld"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "settings.h"

int
settings_parse_bool(const char *s, bool *v)
{
	static const char *const t[] = { "true", "1", "yes", "on" };
	static const char *const f[] = { "false", "0", "no", "off", "" };
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(s, t[i]) == 0) {
			*v = true;
			return 0;
		}
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strcasecmp(s, f[i]) == 0) {
			*v = false;
			return 0;
		}
	return -EINVAL;
}

int
settings_parse_duration(const char *s, unsigned long *out)
{
	unsigned long total = 0, n, unit;
	const char *p = s;
	char *end;

	if (*p == '\0')
		return -EINVAL;
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		n = strtoul(p, &end, 10);
		if (errno != 0 || n > 1000000000UL)
			return -EINVAL;
		p = end;
		switch (*p) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 604800; break;
		default: return -EINVAL;
		}
		p++;
		if (n > (ULONG_MAX - total) / unit)
			return -EINVAL;
		total += n * unit;
	}
	*out = total;
	return 0;
}

int
settings_api_url(const char *in, char *out, size_t cap)
{
	static const struct { const char *from, *to; } map[] = {
		{ "wss://", "wss://" }, { "ws://", "ws://" },
		{ "https://", "wss://" }, { "http://", "ws://" },
	};
	size_t i, n;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		n = strlen(map[i].from);
		if (strncasecmp(in, map[i].from, n) != 0)
			continue;
		if (in[n] == '\0' || in[n] == '/' ||
		    strpbrk(in, " \t\r\n\"'") != NULL)
			return -EINVAL;
		/* printable ASCII only: it travels in IPC and log lines */
		for (const char *c = in; *c != '\0'; c++)
			if (*c < 0x21 || *c > 0x7e)
				return -EINVAL;
		if ((size_t)snprintf(out, cap, "%s%s", map[i].to, in + n) >= cap)
			return -ENAMETOOLONG;
		return 0;
	}
	return -EINVAL;
}

int
settings_token_check(const char *in, size_t len, char *out, size_t cap)
{
	size_t i;

	while (len > 0 && isspace((unsigned char)in[0])) {
		in++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)in[len - 1]))
		len--;
	if (len == 0)
		return -EINVAL;
	if (len >= cap)
		return -E2BIG;
	for (i = 0; i < len; i++)
		if (in[i] < 0x21 || in[i] > 0x7e)
			return -EINVAL;
	memcpy(out, in, len);
	out[len] = '\0';
	return 0;
}

int
settings_read_token(const char *path, uid_t owner, char *out, size_t cap,
    char *err, size_t errlen)
{
	char buf[SETTINGS_TOKEN_MAX + 64];
	struct stat st;
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "token file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "token file %s is not a regular file",
		    path);
		close(fd);
		return -EPERM;
	}
	if (st.st_uid != owner || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "refusing token file %s: it must be "
		    "owned by uid %u and not accessible by group or others "
		    "(it is uid %u, mode %04o; fix: chown %u %s && chmod 600 %s)",
		    path, (unsigned)owner, (unsigned)st.st_uid,
		    (unsigned)(st.st_mode & 07777), (unsigned)owner, path, path);
		close(fd);
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		rc = -errno;
		goto fail;
	}
	close(fd);
	rc = settings_token_check(buf, (size_t)n, out, cap);
	sodium_memzero(buf, sizeof(buf));
	if (rc == -E2BIG || (size_t)n == sizeof(buf))
		snprintf(err, errlen, "token file %s: token too long", path);
	else if (rc != 0)
		snprintf(err, errlen, "token file %s: empty or not a token",
		    path);
	return (size_t)n == sizeof(buf) ? -E2BIG : rc;
fail:
	snprintf(err, errlen, "token file %s: %s", path, strerror(-rc));
	close(fd);
	return rc;
}

static bool
id_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 128)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("-_.:", s[i]) == NULL)
			return false;
	return true;
}

static int
mkdirs(const char *path, mode_t mode)
{
	char tmp[4096], *p;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int
settings_firezone_id(const char *id, const char *state_dir, char *out,
    size_t cap)
{
	char dir[4096], path[4200], tmp[4300], buf[256];
	uint8_t u[16];
	ssize_t n;
	int fd, rc;

	if (id != NULL && *id != '\0') {
		if (!id_valid(id) || strlen(id) >= cap)
			return -EINVAL;
		snprintf(out, cap, "%s", id);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/config", state_dir);
	snprintf(path, sizeof(path), "%s/firezone-id", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			buf[strcspn(buf, " \t\r\n")] = '\0';
			if (id_valid(buf) && strlen(buf) < cap) {
				snprintf(out, cap, "%s", buf);
				return 0;
			}
		}
		log_warnx("%s: not a device id; generating a new one", path);
	}
	/* A random UUIDv4 (RFC 9562 section 5.4). */
	randombytes_buf(u, sizeof(u));
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(buf, sizeof(buf),
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	if ((rc = mkdirs(dir, 0755)) != 0)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -errno;
	if (fchmod(fd, 0644) != 0 || dprintf(fd, "%s\n", buf) < 0 ||
	    fsync(fd) != 0) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	if (strlen(buf) >= cap)
		return -ENAMETOOLONG;
	snprintf(out, cap, "%s", buf);
	log_info("generated device id %s (%s)", buf, path);
	return 0;
}

/* C0, DEL or C1 (U+0080-U+009F in UTF-8): never valid IPC text. */
static bool
has_control(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	for (; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f ||
		    (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return true;
	return false;
}

/* A flag wins, then each environment name in turn, then the default. */
static const char *
pick(const char *flag, const char *env1, const char *env2, const char *dflt)
{
	const char *v;

	if (flag != NULL)
		return flag;
	if (env1 != NULL && (v = getenv(env1)) != NULL)
		return v;
	if (env2 != NULL && (v = getenv(env2)) != NULL)
		return v;
	return dflt;
}

static int
env_bool(const char *name, bool dflt, bool *out, char *err, size_t errlen)
{
	const char *v = getenv(name);

	*out = dflt;
	if (v == NULL)
		return 0;
	if (settings_parse_bool(v, out) != 0) {
		snprintf(err, errlen, "%s=%s: expected true or false", name, v);
		return -EINVAL;
	}
	return 0;
}

static int
token_from_env_or_credential(struct settings *s, char *err, size_t errlen)
{
	const char *v = getenv("FIREZONE_TOKEN"), *cred;
	char path[4096];
	int rc;

	if (v != NULL) {
		rc = settings_token_check(v, strlen(v), s->token,
		    sizeof(s->token));
		/* Not inherited by anything we start. */
		unsetenv("FIREZONE_TOKEN");
		if (rc != 0) {
			snprintf(err, errlen, "FIREZONE_TOKEN: %s",
			    rc == -E2BIG ? "too long" : "empty or not a token");
			return rc;
		}
		s->has_token = true;
		return 0;
	}
	if (s->gateway && (cred = getenv("CREDENTIALS_DIRECTORY")) != NULL) {
		snprintf(path, sizeof(path), "%s/FIREZONE_TOKEN", cred);
		/* systemd makes credentials owned by the service's user. */
		rc = settings_read_token(path, geteuid(), s->token,
		    sizeof(s->token), err, errlen);
		if (rc == 0)
			s->has_token = true;
		if (rc != -ENOENT)
			return rc;
	}
	return -ENOENT;
}

int
settings_load(struct settings *s, const struct tunneld_opts *o, char *err,
    size_t errlen)
{
	const char *v;
	char host[256];
	int rc;

	memset(s, 0, sizeof(*s));
	if (o->mode == NULL || strcmp(o->mode, "client") == 0)
		s->gateway = false;
	else if (strcmp(o->mode, "gateway") == 0)
		s->gateway = true;
	else {
		snprintf(err, errlen, "--mode %s: expected client or gateway",
		    o->mode);
		return -EINVAL;
	}
	v = pick(o->api_url, "FIREZONE_API_URL", NULL,
	    s->gateway ? "wss://api.firezone.dev" : SETTINGS_DEFAULT_API);
	if (settings_api_url(v, s->api_url, sizeof(s->api_url)) != 0) {
		snprintf(err, errlen, "FIREZONE_API_URL %s: expected a ws://, "
		    "wss://, http:// or https:// URL", v);
		return -EINVAL;
	}
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "fz");
	host[sizeof(host) - 1] = '\0';
	v = pick(o->firezone_name, "FIREZONE_NAME", NULL, host);
	if (strlen(v) >= sizeof(s->name) || !*v || has_control(v)) {
		snprintf(err, errlen, "FIREZONE_NAME: empty, too long or with "
		    "control characters");
		return -EINVAL;
	}
	snprintf(s->name, sizeof(s->name), "%s", v);
	v = pick(o->dns_control, "FIREZONE_DNS_CONTROL", NULL,
	    s->gateway ? "disabled" : "systemd-resolved");
	if (strcmp(v, "systemd-resolved") != 0 &&
	    strcmp(v, "etc-resolv-conf") != 0 && strcmp(v, "disabled") != 0) {
		snprintf(err, errlen, "FIREZONE_DNS_CONTROL=%s: expected "
		    "systemd-resolved, etc-resolv-conf or disabled", v);
		return -EINVAL;
	}
	snprintf(s->dns_control, sizeof(s->dns_control), "%s", v);
	if ((rc = env_bool("FIREZONE_NO_TELEMETRY", false, &s->no_telemetry,
	    err, errlen)) != 0 ||
	    (rc = env_bool("FIREZONE_ACTIVATE_INTERNET_RESOURCE", false,
	    &s->internet_resource, err, errlen)) != 0 ||
	    (rc = env_bool("FIREZONE_FLOW_LOGS", false, &s->flow_logs, err,
	    errlen)) != 0 ||
	    (rc = env_bool("FZ_FRONTEND_ALLOW_PORTAL_URL", false,
	    &s->fe_allow_portal_url, err, errlen)) != 0 ||
	    (rc = env_bool("FZ_FRONTEND_ALLOW_LOG_OFF", false,
	    &s->fe_allow_log_off, err, errlen)) != 0)
		return rc;
	if (o->fe_allow_portal_url)
		s->fe_allow_portal_url = true;
	if (o->fe_allow_log_off)
		s->fe_allow_log_off = true;
	if (o->no_telemetry)
		s->no_telemetry = true;
	if (o->internet_resource)
		s->internet_resource = true;
	v = pick(NULL, s->gateway ? "FIREZONE_MAX_PARTITION_TIME" :
	    "MAX_PARTITION_TIME", s->gateway ? NULL :
	    "FIREZONE_MAX_PARTITION_TIME", s->gateway ? "24h" : NULL);
	if (v != NULL && settings_parse_duration(v, &s->max_partition_s) != 0) {
		snprintf(err, errlen, "MAX_PARTITION_TIME %s: expected a "
		    "duration such as 30d, 24h or 1h30m", v);
		return -EINVAL;
	}
	s->state_dir = pick(o->state_dir, NULL, NULL, SETTINGS_DEFAULT_STATE);
	s->token_path = pick(o->token_path, "FIREZONE_TOKEN_PATH", NULL,
	    SETTINGS_DEFAULT_TOKEN);

	rc = token_from_env_or_credential(s, err, errlen);
	if (rc != 0 && rc != -ENOENT)
		return rc;
	if (rc == -ENOENT && s->gateway) {
		snprintf(err, errlen, "a gateway needs FIREZONE_TOKEN (in the "
		    "environment or as a systemd credential)");
		return -ENOENT;
	}
	if (rc == -ENOENT) {
		rc = settings_read_token(s->token_path, 0, s->token,
		    sizeof(s->token), err, errlen);
		if (rc == 0)
			s->has_token = true;
		else if (rc != -ENOENT)
			return rc;
		else
			err[0] = '\0';	/* no token yet: sign in later */
	}
	v = pick(o->firezone_id, "FIREZONE_ID", NULL, NULL);
	if ((rc = settings_firezone_id(v, s->state_dir, s->firezone_id,
	    sizeof(s->firezone_id))) != 0) {
		if (v != NULL)
			snprintf(err, errlen, "FIREZONE_ID %s: expected 1..128 "
			    "letters, digits, '-', '_', '.' or ':'", v);
		else
			snprintf(err, errlen, "device id in %s/config/"
			    "firezone-id: %s", s->state_dir, strerror(-rc));
		return rc;
	}
	return 0;
}
