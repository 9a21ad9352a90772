/* SPDX-License-Identifier: ISC */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fztime.h"
#include "log.h"

#define FILTER_MAX	32
#define MODNAME_MAX	48
#define LINE_MAX_LEN	4096

struct directive {
	char		name[MODNAME_MAX];	/* "" = default */
	enum log_level	level;
};

struct filter {
	struct directive d[FILTER_MAX];
	unsigned	 n;
	enum log_level	 deflt;
	char		 text[FILTER_MAX * (MODNAME_MAX + 8)];
};

static pthread_mutex_t	 mtx = PTHREAD_MUTEX_INITIALIZER;
static struct filter	 cur = { .deflt = LOG_LVL_INFO, .text = "info" };
static atomic_int	 maxlevel = LOG_LVL_INFO;
static char		 progname[32] = "fz";
static int		 json;
static int		 journal;
static int		 outfd = 2;

static char		*dir_path;
static size_t		 dir_max = 16 << 20;
static unsigned		 dir_keep = 10;
static int		 dir_fd = -1;
static bool		 dir_fixed;	/* an fd handed over: no rotation */
static size_t		 dir_written;

static const char *const names[] = {
	"off", "error", "warn", "info", "debug", "trace",
};

const char *
log_level_name(enum log_level l)
{
	return (unsigned)l < sizeof(names) / sizeof(names[0]) ? names[l] : "?";
}

static int
parse_level(const char *s, size_t n, enum log_level *out)
{
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) == n && strncasecmp(s, names[i], n) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (n == 7 && strncasecmp(s, "warning", 7) == 0) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	return -EINVAL;
}

static int
valid_modname(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= MODNAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.' || c == ':'))
			return 0;
	}
	return 1;
}

static int
parse_filter(const char *spec, struct filter *f)
{
	const char *p = spec, *end, *eq;
	size_t len;

	memset(f, 0, sizeof(*f));
	f->deflt = LOG_LVL_INFO;
	if (spec == NULL || *spec == '\0')
		spec = "info";
	if (strlen(spec) >= sizeof(f->text))
		return -EINVAL;
	for (p = spec; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		/* Tolerate spaces around items ("info, wg=debug"). */
		while (len > 0 && *p == ' ') {
			p++;
			len--;
		}
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == 0) {
			if (*end == '\0')
				break;
			continue;
		}
		eq = memchr(p, '=', len);
		if (eq == NULL) {
			if (parse_level(p, len, &f->deflt) != 0)
				return -EINVAL;
			continue;
		}
		if (f->n == FILTER_MAX ||
		    !valid_modname(p, (size_t)(eq - p)) ||
		    parse_level(eq + 1, len - (size_t)(eq - p) - 1,
		    &f->d[f->n].level) != 0)
			return -EINVAL;
		memcpy(f->d[f->n].name, p, (size_t)(eq - p));
		f->n++;
	}
	snprintf(f->text, sizeof(f->text), "%s", spec);
	return 0;
}

static enum log_level
filter_max(const struct filter *f)
{
	enum log_level m = f->deflt;
	unsigned i;

	for (i = 0; i < f->n; i++)
		if (f->d[i].level > m)
			m = f->d[i].level;
	return m;
}

int
log_check_filter(const char *spec)
{
	struct filter f;

	return parse_filter(spec, &f);
}

int
log_filter_min_level(const char *spec, enum log_level *out)
{
	struct filter f;
	enum log_level m;
	unsigned i;
	int rc;

	if ((rc = parse_filter(spec, &f)) != 0)
		return rc;
	m = f.deflt;
	for (i = 0; i < f.n; i++)
		if (f.d[i].level < m)
			m = f.d[i].level;
	*out = m;
	return 0;
}

int
log_set_filter(const char *spec)
{
	struct filter f;
	int rc;

	if ((rc = parse_filter(spec, &f)) != 0)
		return rc;
	pthread_mutex_lock(&mtx);
	cur = f;
	atomic_store(&maxlevel, filter_max(&f));
	pthread_mutex_unlock(&mtx);
	return 0;
}

void
log_get_filter(char *buf, size_t len)
{
	pthread_mutex_lock(&mtx);
	snprintf(buf, len, "%s", cur.text);
	pthread_mutex_unlock(&mtx);
}

int
log_parse_format(const char *s, enum log_format *out)
{
	if (strcasecmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else if (strcasecmp(s, "human") == 0 || strcasecmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (strcasecmp(s, "auto") == 0)
		*out = LOG_FORMAT_AUTO;
	else
		return -EINVAL;
	return 0;
}

/* systemd sets JOURNAL_STREAM to "dev:ino" of the stream it connected. */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(2, &st) != 0)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

int
log_init(const char *prog, enum log_format fmt, const char *filter)
{
	int rc;

	if (prog != NULL) {
		const char *slash = strrchr(prog, '/');

		snprintf(progname, sizeof(progname), "%s",
		    slash != NULL ? slash + 1 : prog);
	}
	journal = stderr_is_journal();
	if (fmt == LOG_FORMAT_AUTO)
		json = !isatty(2) && !journal;
	else
		json = fmt == LOG_FORMAT_JSON;
	if ((rc = log_set_filter(filter)) != 0)
		return rc;
	return 0;
}

void
log_set_fd(int fd)
{
	pthread_mutex_lock(&mtx);
	outfd = fd >= 0 ? fd : 2;
	pthread_mutex_unlock(&mtx);
}

static enum log_level
level_for(const char *module)
{
	size_t best = 0, nl;
	enum log_level l = cur.deflt;
	unsigned i;

	if (module == NULL)
		module = progname;
	for (i = 0; i < cur.n; i++) {
		const char *n = cur.d[i].name;

		nl = strlen(n);
		if (strncmp(module, n, nl) != 0)
			continue;
		if (module[nl] != '\0' && module[nl] != '.' &&
		    module[nl] != ':')
			continue;
		if (nl > best) {
			best = nl;
			l = cur.d[i].level;
		}
	}
	return l;
}

bool
log_enabled(const char *module, enum log_level level)
{
	bool on;

	if (level == LOG_LVL_OFF || (int)level > atomic_load(&maxlevel))
		return false;
	pthread_mutex_lock(&mtx);
	on = level <= level_for(module);
	pthread_mutex_unlock(&mtx);
	return on;
}

/* Bytes in a well-formed UTF-8 sequence at p (at most 4), else 0. */
static size_t
utf8_seq(const unsigned char *p)
{
	size_t n = 0, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* no overlongs, surrogates or code points past U+10FFFF */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/* U+0080-U+009F, the C1 controls: 0xC2 0x80-0x9F in UTF-8. */
static bool
is_c1(const unsigned char *p)
{
	return p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
}

size_t
log_escape(char *out, size_t cap, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t off = 0, n;

	if (cap == 0)
		return 0;
	while (*p != '\0') {
		unsigned char c = *p;

		n = c < 0x80 ? 1 : utf8_seq(p);
		if (c == '\\') {
			if (off + 2 >= cap)
				break;
			out[off++] = '\\';
			out[off++] = '\\';
			p++;
		} else if (c < 0x20 || c == 0x7f || n == 0 || is_c1(p)) {
			/* one byte at a time: a C1 pair becomes \xc2\x85 */
			if (off + 4 >= cap)
				break;
			snprintf(out + off, cap - off, "\\x%02x", c);
			off += 4;
			p++;
		} else {
			if (off + n >= cap)
				break;
			memcpy(out + off, p, n);
			off += n;
			p += n;
		}
	}
	out[off] = '\0';
	return off;
}

/*
 * Appends s to the JSON string being built, escaping and fixing UTF-8.
 * DEL and the C1 controls, legal raw in JSON, are escaped too, so a log
 * file shown on a terminal cannot carry escape sequences.
 */
static size_t
json_escape(char *out, size_t off, size_t cap, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0' && off + 8 < cap) {
		unsigned char c = *p;
		size_t n;

		if (c == '"' || c == '\\') {
			out[off++] = '\\';
			out[off++] = (char)c;
			p++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			off += (size_t)snprintf(out + off, cap - off,
			    c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\u%04x",
			    c);
			p++;
			continue;
		}
		if (c < 0x80) {
			out[off++] = (char)c;
			p++;
			continue;
		}
		if (is_c1(p)) {
			off += (size_t)snprintf(out + off, cap - off, "\\u%04x",
			    p[1]);
			p += 2;
			continue;
		}
		/* Copy a well-formed UTF-8 sequence, else U+FFFD. */
		n = utf8_seq(p);
		if (n == 0) {
			off += (size_t)snprintf(out + off, cap - off,
			    "\\ufffd");
			p++;
			continue;
		}
		memcpy(out + off, p, n);
		off += n;
		p += n;
	}
	return off;
}

static void
dir_close(void)
{
	if (dir_fd >= 0)
		close(dir_fd);
	dir_fd = -1;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Deletes the oldest log files past dir_keep (names sort by time). */
static void
dir_prune(void)
{
	char *list[256], prefix[64];
	unsigned n = 0, i;
	struct dirent *de;
	DIR *d;

	snprintf(prefix, sizeof(prefix), "%s.", progname);
	if ((d = opendir(dir_path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && n < 256) {
		size_t l = strlen(de->d_name);

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    l < 6 || strcmp(de->d_name + l - 6, ".jsonl") != 0)
			continue;
		if ((list[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(list, n, sizeof(list[0]), cmp_names);
	for (i = 0; i < n; i++) {
		if (i + dir_keep < n) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", dir_path,
			    list[i]);
			unlink(path);
		}
		free(list[i]);
	}
}

static int
dir_open(void)
{
	char path[4096], ts[40], link[4096];
	uint64_t now = time_real_ns();
	int fd;

	if (time_fmt_rfc3339(now, ts, sizeof(ts)) != 0)
		return -EINVAL;
	/* 2026-11-23T05:47:02.123456Z -> 2026-11-23-05-47-02-123456 */
	for (char *c = ts; *c != '\0'; c++)
		if (*c == 'T' || *c == ':' || *c == '.')
			*c = '-';
	ts[strlen(ts) - 1] = '\0';
	snprintf(path, sizeof(path), "%s/%s.%s.jsonl", dir_path, progname, ts);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	dir_close();
	dir_fd = fd;
	dir_written = 0;
	snprintf(link, sizeof(link), "%s/latest", dir_path);
	unlink(link);
	if (symlink(strrchr(path, '/') + 1, link) != 0) {
		/* best effort: the files themselves are what matters */
	}
	dir_prune();
	return 0;
}

int
log_set_dir(const char *dir, size_t max_bytes, unsigned keep)
{
	int rc = 0;

	pthread_mutex_lock(&mtx);
	dir_close();
	free(dir_path);
	dir_path = NULL;
	if (dir != NULL) {
		if (mkdir(dir, 0750) != 0 && errno != EEXIST)
			rc = -errno;
		else if ((dir_path = strdup(dir)) == NULL)
			rc = -ENOMEM;
		else {
			dir_max = max_bytes > 0 ? max_bytes : 16 << 20;
			dir_keep = keep > 0 ? keep : 10;
			if ((rc = dir_open()) != 0) {
				free(dir_path);
				dir_path = NULL;
			}
		}
	}
	pthread_mutex_unlock(&mtx);
	return rc;
}

static const int journal_prio[] = { 7, 3, 4, 6, 7, 7 };
static const char *const upper[] = {
	"OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE",
};

static size_t
fmt_json(char *out, size_t cap, const char *ts, enum log_level level,
    const char *module, const char *msg, int errnum)
{
	size_t off;

	off = (size_t)snprintf(out, cap,
	    "{\"timestamp\":\"%s\",\"level\":\"%s\",\"target\":\"", ts,
	    upper[level]);
	off = json_escape(out, off, cap, module);
	off += (size_t)snprintf(out + off, cap - off, "\",\"message\":\"");
	off = json_escape(out, off, cap - 64, msg);
	if (errnum != 0) {
		off += (size_t)snprintf(out + off, cap - off,
		    "\",\"error\":\"");
		off = json_escape(out, off, cap - 32, strerror(errnum));
	}
	off += (size_t)snprintf(out + off, cap - off, "\",\"pid\":%d}\n",
	    (int)getpid());
	return off < cap ? off : cap - 1;
}

void
log_emit(const char *module, enum log_level level, int errnum,
    const char *fmt, ...)
{
	char msg[LINE_MAX_LEN], esc[LINE_MAX_LEN], line[LINE_MAX_LEN * 2];
	char ts[40];
	size_t n;
	va_list ap;
	int saved = errno;

	if (level == LOG_LVL_OFF || level > LOG_LVL_TRACE)
		return;
	if (module == NULL)
		module = progname;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (time_fmt_rfc3339(time_real_ns(), ts, sizeof(ts)) != 0)
		ts[0] = '\0';

	pthread_mutex_lock(&mtx);
	if (level <= level_for(module)) {
		/*
		 * Text and journald lines end at a newline and journald reads
		 * a "<N>" prefix on each: the message (which may quote what a
		 * peer sent) is escaped so that it can forge neither.
		 */
		if (!json)
			(void)log_escape(esc, sizeof(esc), msg);
		if (json)
			n = fmt_json(line, sizeof(line), ts, level, module,
			    msg, errnum);
		else if (journal)
			n = (size_t)snprintf(line, sizeof(line), "<%d>%s: %s%s%s\n",
			    journal_prio[level], module, esc,
			    errnum ? ": " : "", errnum ? strerror(errnum) : "");
		else
			n = (size_t)snprintf(line, sizeof(line),
			    "%s %-5s %s: %s%s%s\n", ts, upper[level], module,
			    esc, errnum ? ": " : "",
			    errnum ? strerror(errnum) : "");
		if (n >= sizeof(line)) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		if (write(outfd, line, n) < 0) {
			/* nowhere left to report this */
		}
	}
	/* The log directory gets everything at the filter's level, as JSON. */
	if (dir_fd >= 0 && level <= level_for(module)) {
		n = fmt_json(line, sizeof(line), ts, level, module, msg,
		    errnum);
		if (write(dir_fd, line, n) > 0)
			dir_written += n;
		if (!dir_fixed && dir_written >= dir_max)
			(void)dir_open();
	}
	pthread_mutex_unlock(&mtx);
	errno = saved;
}

void
log_set_dir_fd(int fd)
{
	pthread_mutex_lock(&mtx);
	dir_close();
	dir_fd = fd;
	dir_fixed = fd >= 0;
	dir_written = 0;
	pthread_mutex_unlock(&mtx);
}

bool
log_ratelimit(struct log_ratelimit *rl)
{
	uint64_t now = time_mono_ns();

	if (rl->window_start == 0 || now - rl->window_start >= rl->interval_ns) {
		if (rl->suppressed > 0)
			log_emit(NULL, LOG_LVL_WARN, 0,
			    "%u similar messages suppressed", rl->suppressed);
		rl->window_start = now != 0 ? now : 1;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count < rl->burst) {
		rl->count++;
		return true;
	}
	rl->suppressed++;
	return false;
}
