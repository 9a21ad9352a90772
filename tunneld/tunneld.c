/* SPDX-License-Identifier: ISC */
/*
 * fz-tunneld: the privileged tunnel service.  main only reads the command
 * line (args.c), sets up logging and picks a mode; see tunneld.h.
 */
#define LOG_MODULE "tunneld"

#include <stdio.h>
#include <sys/prctl.h>

#include "tunneld.h"

int
main(int argc, char *argv[])
{
	struct tunneld_opts o;

	/* No core dump or ptrace read of the token and keys it holds. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	switch (tunneld_config_from_args(argc, argv, &o)) {
	case TUNNELD_ARGS_RUN:
		break;
	case TUNNELD_ARGS_DONE:
		return 0;
	case TUNNELD_ARGS_USAGE:
	default:
		return 2;
	}
	if (log_init("fz-tunneld", o.log_format, o.log_filter) != 0) {
		fprintf(stderr, "fz-tunneld: bad log filter '%s'\n",
		    o.log_filter);
		return 2;
	}
	if (o.log_dir != NULL && o.log_dir[0] != '\0' &&
	    log_set_dir(o.log_dir, 0, 0) != 0)
		log_warn("log directory %s", o.log_dir);

	if (o.show != NULL)
		return static_mode_show(&o);
	if (o.config != NULL)
		return static_mode_run(&o);
	return service_run(&o);
}
