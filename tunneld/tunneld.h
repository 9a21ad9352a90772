/* SPDX-License-Identifier: ISC */
/*
 * fz-tunneld's command line, shared by its two ways of running:
 *   static mode  (--config FILE): a wg-quick style tunnel, tunneld/static/static_mode.c
 *   service mode (default):       the tunnel service with fz-controld,
 *                                 tunneld/svc/ (svc.h)
 */
#ifndef FZ_TUNNELD_H
#define FZ_TUNNELD_H

#include <stdbool.h>

#include "log.h"
#include "privsep.h"

#define TUNNELD_DEFAULT_SOCKET	"/run/fz/tunneld.sock"
#define TUNNELD_DEFAULT_QUEUES	2
#define TUNNELD_DEFAULT_MTU	1280

struct tunneld_opts {
	/* static mode */
	const char	*config;	/* --config FILE */
	const char	*show;		/* --show [IFACE]: "" = all */
	/* both */
	const char	*ifname;	/* --interface NAME */
	int		 tun_queues;	/* --tun-queues N */
	int		 mtu;		/* --mtu N (0: config or default) */
	/* service mode */
	const char	*mode;		/* --mode client|gateway */
	const char	*socket_path;	/* --socket PATH */
	const char	*token_path;	/* --token-path PATH */
	const char	*user;		/* --user USER (for fz-controld) */
	const char	*controld;	/* --controld PATH */
	const char	*api_url;	/* --api-url URL */
	const char	*firezone_id;
	const char	*firezone_name;
	const char	*dns_control;
	bool		 no_telemetry;
	bool		 internet_resource;
	bool		 no_masquerade;	/* gateway: --no-masquerade */
	const char	*state_dir;
	const char	*log_filter_file;
	bool		 check;		/* --check: validate and exit */
	bool		 fe_allow_portal_url;	/* --frontend-allow-portal-url */
	bool		 fe_allow_log_off;	/* --frontend-allow-log-off */
	/* once set up: a seccomp allow-list (--seccomp kill|trap|log|off) */
	bool		 no_seccomp;
	enum seccomp_default seccomp;
	/* logging */
	enum log_format	 log_format;
	const char	*log_filter;
	const char	*log_dir;
};

/* What main does after tunneld_config_from_args (args.c). */
enum tunneld_args {
	TUNNELD_ARGS_RUN,	/* the options are filled in: run a mode */
	TUNNELD_ARGS_DONE,	/* --help or --version printed: exit 0 */
	TUNNELD_ARGS_USAGE,	/* what was wrong is on stderr: exit 2 */
};

/*
 * Flags over the environment (RUST_LOG, LOG_DIR, LOG_FORMAT); *o is
 * written for TUNNELD_ARGS_RUN only and borrows argv's strings.
 */
enum tunneld_args tunneld_config_from_args(int argc, char *argv[],
	    struct tunneld_opts *o) __attribute__((warn_unused_result));

/* Each returns the process exit status. */
int	static_mode_run(const struct tunneld_opts *);
int	static_mode_show(const struct tunneld_opts *);
int	service_run(const struct tunneld_opts *);
/* tunneld/svc/sandbox.c: the allow-list for either mode (service adds what
 * spawning fz-controld needs). */
int	tunneld_sandbox(bool service, enum seccomp_default)
	    __attribute__((warn_unused_result));

#endif
