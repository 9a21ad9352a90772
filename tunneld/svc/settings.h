/* SPDX-License-Identifier: ISC */
/*
 * Service-mode settings: the names Firezone's headless client and gateway
 * accept (flags win over the environment), the token file rules and the
 * device id.  Everything here is validated before anything is started.
 */
#ifndef FZ_SETTINGS_H
#define FZ_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tunneld.h"

#define SETTINGS_TOKEN_MAX	4096
#define SETTINGS_DEFAULT_TOKEN	"/etc/dev.firezone.client/token"
#define SETTINGS_DEFAULT_STATE	"/var/lib/dev.firezone.client"
#define SETTINGS_DEFAULT_API	"wss://api.firezone.dev/"

struct settings {
	bool		 gateway;
	char		 api_url[513];
	char		 name[257];
	char		 firezone_id[129];
	char		 dns_control[32];	/* systemd-resolved | ... */
	bool		 no_telemetry;
	bool		 internet_resource;
	bool		 flow_logs;
	/* What a non-root member of fz-client may change (fz-tunneld(8)). */
	bool		 fe_allow_portal_url;	/* sign in to another portal */
	bool		 fe_allow_log_off;	/* a log filter below warn */
	unsigned long	 max_partition_s;	/* 0: unbounded */
	const char	*token_path;
	const char	*state_dir;
	char		 token[SETTINGS_TOKEN_MAX + 1];	/* never logged */
	bool		 has_token;
};

/*
 * Fills s from o and the environment; err names the setting at fault.
 * Reads the token (client: FIREZONE_TOKEN, else the token file if it
 * exists; gateway: FIREZONE_TOKEN or $CREDENTIALS_DIRECTORY/FIREZONE_TOKEN,
 * required) and removes FIREZONE_TOKEN from the environment.
 */
int	settings_load(struct settings *, const struct tunneld_opts *,
	    char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * Reads a token file that must be a regular file owned by owner with no
 * group or other permission bits.  -ENOENT when absent, -EPERM for bad
 * ownership or mode, -EINVAL for an empty or non-printable token, -E2BIG
 * when too long.
 */
int	settings_read_token(const char *path, uid_t owner, char *out, size_t cap,
	    char *err, size_t errlen) __attribute__((warn_unused_result));

/* A trimmed token from a string (env, credential file contents). */
int	settings_token_check(const char *in, size_t len, char *out, size_t cap)
	    __attribute__((warn_unused_result));

/*
 * The device id: id when set (validated), else DIR/config/firezone-id,
 * else a new UUIDv4 stored there (directories 0755, file 0644).
 */
int	settings_firezone_id(const char *id, const char *state_dir, char *out,
	    size_t cap) __attribute__((warn_unused_result));

/* "30d", "24h", "1h30m", "90s", "15m": seconds.  -EINVAL otherwise. */
int	settings_parse_duration(const char *, unsigned long *)
	    __attribute__((warn_unused_result));
/* true/false/1/0/yes/no/on/off. */
int	settings_parse_bool(const char *, bool *) __attribute__((warn_unused_result));
/* ws/wss/http/https URL, http(s) turned into ws(s). */
int	settings_api_url(const char *in, char *out, size_t cap)
	    __attribute__((warn_unused_result));

#endif
