/* SPDX-License-Identifier: ISC */
/* Static (wg-quick style) mode.  Placeholder until the data plane lands. */
#define LOG_MODULE "tunneld"

#include "tunneld.h"

int
static_mode_run(const struct tunneld_opts *o)
{
	log_errorx("%s: static mode is not built yet", o->config);
	return 1;
}

int
static_mode_show(const struct tunneld_opts *o)
{
	(void)o;
	log_errorx("--show is not built yet");
	return 1;
}
