/* SPDX-License-Identifier: ISC */
/* Service mode.  Placeholder until the IPC and privilege split land. */
#define LOG_MODULE "tunneld"

#include "tunneld.h"

int
service_run(const struct tunneld_opts *o)
{
	(void)o;
	log_errorx("service mode is not built yet");
	return 1;
}
