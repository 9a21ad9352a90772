/* SPDX-License-Identifier: ISC */
/*
 * fz-tunneld's command line and environment into struct tunneld_opts.
 * Pure apart from printing --help, --version and what was wrong; unit-
 * tested on argv vectors in tests/unit/check_svc.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tunneld.h"
#include "wg.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: fz-tunneld [options]\n"
"\n"
"Static mode (a wg-quick style tunnel in the foreground):\n"
"  -c, --config FILE        run the tunnel described by FILE\n"
"      --show [IFACE]       print interface and peers, like `wg show'\n"
"  -i, --interface NAME     interface name (default: FILE's base name)\n"
"\n"
"Service mode (the tunnel service, with fz-controld):\n"
"  -m, --mode MODE          client (default) or gateway\n"
"  -s, --socket PATH        front-end socket (default " TUNNELD_DEFAULT_SOCKET ")\n"
"      --token-path PATH    token file (default /etc/dev.firezone.client/token)\n"
"  -u, --user USER          user fz-controld runs as (default fz)\n"
"      --controld PATH      fz-controld binary\n"
"      --api-url URL        portal URL (FIREZONE_API_URL)\n"
"      --firezone-id ID     device id (FIREZONE_ID; else stored in the state dir)\n"
"      --firezone-name NAME device name (FIREZONE_NAME; default: host name)\n"
"      --dns-control HOW    systemd-resolved, etc-resolv-conf or disabled\n"
"                           (FIREZONE_DNS_CONTROL)\n"
"      --no-telemetry       (FIREZONE_NO_TELEMETRY)\n"
"      --no-masquerade      gateway: forward, but leave NAT to the host\n"
"      --activate-internet-resource  (FIREZONE_ACTIVATE_INTERNET_RESOURCE)\n"
"      --state-dir DIR      default /var/lib/dev.firezone.client\n"
"      --log-filter-file F  SIGHUP re-reads the log filter from F\n"
"      --frontend-allow-portal-url  let fz-client members sign in to another\n"
"                           portal (FZ_FRONTEND_ALLOW_PORTAL_URL)\n"
"      --frontend-allow-log-off  let fz-client members set a log filter\n"
"                           below warn (FZ_FRONTEND_ALLOW_LOG_OFF)\n"
"      --check              validate the settings and exit\n"
"\n"
"Both:\n"
"  -q, --tun-queues N       TUN queues and worker threads (default %d)\n"
"      --mtu N              tunnel MTU (default %d)\n"
"      --log-format FMT     human, json or auto (default auto)\n"
"      --log-filter SPEC    e.g. info,tunneld=debug (or RUST_LOG)\n"
"      --log-dir DIR        also write rotated JSONL logs to DIR (or LOG_DIR)\n"
"      --seccomp MODE       once set up, a syscall outside the allow-list:\n"
"                           kill (default), trap (SIGSYS), log (allowed,\n"
"                           logged to the kernel log), or off\n"
"  -V, --version\n"
"  -h, --help\n", TUNNELD_DEFAULT_QUEUES, TUNNELD_DEFAULT_MTU);
}

enum {
	OPT_SHOW = 256, OPT_TOKEN_PATH, OPT_CONTROLD, OPT_API_URL, OPT_MTU,
	OPT_LOG_FORMAT, OPT_LOG_FILTER, OPT_LOG_DIR, OPT_FZ_ID, OPT_FZ_NAME,
	OPT_DNS_CONTROL, OPT_NO_TELEMETRY, OPT_INTERNET, OPT_STATE_DIR,
	OPT_FILTER_FILE, OPT_CHECK, OPT_FE_PORTAL_URL, OPT_FE_LOG_OFF, OPT_SECCOMP,
	OPT_NO_MASQ,
};

static const struct option longopts[] = {
	{ "config",	required_argument,	NULL, 'c' },
	{ "show",	optional_argument,	NULL, OPT_SHOW },
	{ "interface",	required_argument,	NULL, 'i' },
	{ "mode",	required_argument,	NULL, 'm' },
	{ "socket",	required_argument,	NULL, 's' },
	{ "token-path",	required_argument,	NULL, OPT_TOKEN_PATH },
	{ "user",	required_argument,	NULL, 'u' },
	{ "controld",	required_argument,	NULL, OPT_CONTROLD },
	{ "api-url",	required_argument,	NULL, OPT_API_URL },
	{ "firezone-id", required_argument,	NULL, OPT_FZ_ID },
	{ "firezone-name", required_argument,	NULL, OPT_FZ_NAME },
	{ "dns-control", required_argument,	NULL, OPT_DNS_CONTROL },
	{ "no-telemetry", no_argument,		NULL, OPT_NO_TELEMETRY },
	{ "no-masquerade", no_argument,		NULL, OPT_NO_MASQ },
	{ "activate-internet-resource", no_argument, NULL, OPT_INTERNET },
	{ "state-dir",	required_argument,	NULL, OPT_STATE_DIR },
	{ "log-filter-file", required_argument,	NULL, OPT_FILTER_FILE },
	{ "check",	no_argument,		NULL, OPT_CHECK },
	{ "frontend-allow-portal-url", no_argument, NULL, OPT_FE_PORTAL_URL },
	{ "frontend-allow-log-off", no_argument, NULL, OPT_FE_LOG_OFF },
	{ "tun-queues",	required_argument,	NULL, 'q' },
	{ "mtu",	required_argument,	NULL, OPT_MTU },
	{ "log-format",	required_argument,	NULL, OPT_LOG_FORMAT },
	{ "log-filter",	required_argument,	NULL, OPT_LOG_FILTER },
	{ "log-dir",	required_argument,	NULL, OPT_LOG_DIR },
	{ "seccomp",	required_argument,	NULL, OPT_SECCOMP },
	{ "version",	no_argument,		NULL, 'V' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int
parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static int
parse_seccomp(const char *s, struct tunneld_opts *o)
{
	static const struct {
		const char		*name;
		enum seccomp_default	 dflt;
	} modes[] = {
		{ "kill", SECCOMP_DEFAULT_KILL },
		{ "trap", SECCOMP_DEFAULT_TRAP },
		{ "log", SECCOMP_DEFAULT_LOG },
	};
	size_t i;

	o->no_seccomp = strcmp(s, "off") == 0;
	if (o->no_seccomp)
		return 0;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(s, modes[i].name) == 0) {
			o->seccomp = modes[i].dflt;
			return 0;
		}
	return -EINVAL;
}

enum tunneld_args
tunneld_config_from_args(int argc, char *argv[], struct tunneld_opts *out)
{
	struct tunneld_opts o;
	const char *lf;
	int ch;

	memset(&o, 0, sizeof(o));
	o.tun_queues = TUNNELD_DEFAULT_QUEUES;
	o.socket_path = TUNNELD_DEFAULT_SOCKET;
	o.seccomp = SECCOMP_DEFAULT_KILL;
	o.log_filter = getenv("RUST_LOG");
	o.log_dir = getenv("LOG_DIR");
	if ((lf = getenv("FIREZONE_LOG_FORMAT")) == NULL)
		lf = getenv("LOG_FORMAT");
	if (lf != NULL && log_parse_format(lf, &o.log_format) != 0) {
		fprintf(stderr, "fz-tunneld: log format '%s': expected "
		    "human, json or auto\n", lf);
		return TUNNELD_ARGS_USAGE;
	}

	optind = 0;	/* glibc: start over, for callers that parse twice */
	while ((ch = getopt_long(argc, argv, "c:i:m:s:u:q:Vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': o.config = optarg; break;
		case OPT_SHOW:
			/* "--show IFACE" as well as "--show=IFACE" */
			if (optarg == NULL && optind < argc &&
			    argv[optind][0] != '-')
				optarg = argv[optind++];
			o.show = optarg != NULL ? optarg : "";
			break;
		case 'i': o.ifname = optarg; break;
		case 'm': o.mode = optarg; break;
		case 's': o.socket_path = optarg; break;
		case OPT_TOKEN_PATH: o.token_path = optarg; break;
		case 'u': o.user = optarg; break;
		case OPT_CONTROLD: o.controld = optarg; break;
		case OPT_API_URL: o.api_url = optarg; break;
		case OPT_FZ_ID: o.firezone_id = optarg; break;
		case OPT_FZ_NAME: o.firezone_name = optarg; break;
		case OPT_DNS_CONTROL: o.dns_control = optarg; break;
		case OPT_NO_TELEMETRY: o.no_telemetry = true; break;
		case OPT_NO_MASQ: o.no_masquerade = true; break;
		case OPT_FE_PORTAL_URL: o.fe_allow_portal_url = true; break;
		case OPT_FE_LOG_OFF: o.fe_allow_log_off = true; break;
		case OPT_INTERNET: o.internet_resource = true; break;
		case OPT_STATE_DIR: o.state_dir = optarg; break;
		case OPT_FILTER_FILE: o.log_filter_file = optarg; break;
		case OPT_CHECK: o.check = true; break;
		case 'q':
			if (parse_int(optarg, 1, 64, &o.tun_queues) != 0) {
				fprintf(stderr, "fz-tunneld: --tun-queues: "
				    "expected 1..64, got '%s'\n", optarg);
				return TUNNELD_ARGS_USAGE;
			}
			break;
		case OPT_MTU:
			if (parse_int(optarg, WG_MTU_MIN, WG_MTU_MAX, &o.mtu) != 0) {
				fprintf(stderr, "fz-tunneld: --mtu: expected "
				    "%d..%d (the encapsulated packet must fit one "
				    "UDP datagram), got '%s'\n", WG_MTU_MIN,
				    WG_MTU_MAX, optarg);
				return TUNNELD_ARGS_USAGE;
			}
			break;
		case OPT_LOG_FORMAT:
			if (log_parse_format(optarg, &o.log_format) != 0) {
				fprintf(stderr, "fz-tunneld: --log-format: "
				    "expected human, json or auto\n");
				return TUNNELD_ARGS_USAGE;
			}
			break;
		case OPT_LOG_FILTER: o.log_filter = optarg; break;
		case OPT_LOG_DIR: o.log_dir = optarg; break;
		case OPT_SECCOMP:
			if (parse_seccomp(optarg, &o) != 0) {
				fprintf(stderr, "fz-tunneld: --seccomp: expected "
				    "kill, trap, log or off\n");
				return TUNNELD_ARGS_USAGE;
			}
			break;
		case 'V':
			printf("fz-tunneld %s\n", PACKAGE_VERSION);
			return TUNNELD_ARGS_DONE;
		case 'h':
			usage(stdout);
			return TUNNELD_ARGS_DONE;
		default:
			usage(stderr);
			return TUNNELD_ARGS_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "fz-tunneld: unexpected argument '%s'\n",
		    argv[optind]);
		return TUNNELD_ARGS_USAGE;
	}
	*out = o;
	return TUNNELD_ARGS_RUN;
}
