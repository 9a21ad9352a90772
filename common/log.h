/* SPDX-License-Identifier: ISC */
/*
 * Logging: levels, a per-module filter ("info,tunneld=debug,wg=trace")
 * changeable at runtime, human text on a terminal, JSON lines otherwise
 * (or when asked), journald priority prefixes under systemd, and an
 * optional directory of rotated JSONL files (Firezone's LOG_DIR).
 *
 * A source file names its module by defining LOG_MODULE before including
 * this header; without it the program name given to log_init is used.
 * Thread-safe.  Never pass keys or tokens to these functions.
 */
#ifndef FZ_LOG_H
#define FZ_LOG_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

enum log_level {
	LOG_LVL_OFF = 0,
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
	LOG_LVL_TRACE,
};

enum log_format {
	LOG_FORMAT_AUTO = 0,	/* text on a terminal, JSON otherwise */
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

#ifndef LOG_MODULE
#define LOG_MODULE NULL
#endif

/* filter may be NULL ("info").  Returns -EINVAL for a bad filter. */
int	log_init(const char *prog, enum log_format, const char *filter)
	    __attribute__((warn_unused_result));
int	log_parse_format(const char *, enum log_format *)
	    __attribute__((warn_unused_result));
/* Replaces the filter atomically; on error the old one stays. */
int	log_set_filter(const char *) __attribute__((warn_unused_result));
/* Copies the current filter text. */
void	log_get_filter(char *, size_t);
/* Validates a filter without applying it. */
int	log_check_filter(const char *) __attribute__((warn_unused_result));
/*
 * The quietest level a valid filter sets, default or any module ("warn,
 * wg=off": LOG_LVL_OFF), to tell whether it silences warnings somewhere.
 */
int	log_filter_min_level(const char *, enum log_level *)
	    __attribute__((warn_unused_result));
/*
 * Also writes JSON lines to DIR/<prog>.<timestamp>.jsonl, starting a new
 * file past max_bytes and keeping the newest `keep` files; NULL stops.
 */
int	log_set_dir(const char *dir, size_t max_bytes, unsigned keep)
	    __attribute__((warn_unused_result));
/*
 * Like log_set_dir, but into an already open file (an unprivileged process
 * handed one over IPC): JSON lines, no rotation; -1 stops.
 */
void	log_set_dir_fd(int);
/* Redirects terminal/stderr output to an fd (tests); -1 restores 2. */
void	log_set_fd(int);

bool	log_enabled(const char *module, enum log_level);
void	log_emit(const char *module, enum log_level, int errnum,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *log_level_name(enum log_level);
/*
 * Copies s into out (cap bytes, always NUL-terminated) for a text log
 * line, a terminal or an sd_notify(3) field: C0 controls, DEL, the C1
 * controls (U+0080-U+009F) and bytes that are not UTF-8 become \xNN, a
 * backslash becomes \\; other UTF-8 is kept.  Stops before an escape
 * that would not fit.  Returns the length written.
 */
size_t	log_escape(char *out, size_t cap, const char *s);

#define log_errorx(...)	log_emit(LOG_MODULE, LOG_LVL_ERROR, 0, __VA_ARGS__)
#define log_warn(...)	log_emit(LOG_MODULE, LOG_LVL_WARN, errno, __VA_ARGS__)
#define log_warnx(...)	log_emit(LOG_MODULE, LOG_LVL_WARN, 0, __VA_ARGS__)
#define log_info(...)	log_emit(LOG_MODULE, LOG_LVL_INFO, 0, __VA_ARGS__)
#define log_debug(...)	log_emit(LOG_MODULE, LOG_LVL_DEBUG, 0, __VA_ARGS__)
#define log_trace(...)	log_emit(LOG_MODULE, LOG_LVL_TRACE, 0, __VA_ARGS__)
/* log_warn with an explicit error number (e.g. a -errno return, negated). */
#define log_warnc(e, ...) log_emit(LOG_MODULE, LOG_LVL_WARN, (e), __VA_ARGS__)
#define log_errorc(e, ...) log_emit(LOG_MODULE, LOG_LVL_ERROR, (e), __VA_ARGS__)

/* For a daemon's main file only: modules return -errno instead. */
#define fatal(...) do {							\
	log_emit(LOG_MODULE, LOG_LVL_ERROR, errno, __VA_ARGS__);	\
	exit(1);							\
} while (0)
#define fatalx(...) do {						\
	log_emit(LOG_MODULE, LOG_LVL_ERROR, 0, __VA_ARGS__);		\
	exit(1);							\
} while (0)

/*
 * Rate limiting for anything a remote packet can trigger: at most `burst`
 * messages per interval; returns true when this one may be logged.
 */
struct log_ratelimit {
	uint64_t	interval_ns;
	unsigned	burst;
	uint64_t	window_start;
	unsigned	count;
	unsigned	suppressed;
};
#define LOG_RATELIMIT_INIT(ms, b) { (uint64_t)(ms) * 1000000ULL, (b), 0, 0, 0 }
bool	log_ratelimit(struct log_ratelimit *);

#endif
