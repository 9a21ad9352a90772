/* SPDX-License-Identifier: ISC */
/*
 * Service mode's pure decisions, without I/O (unit-tested in
 * tests/unit/check_svc.c): the tunnel state and its wire names.
 */
#include <errno.h>
#include <string.h>

#include "svc.h"

/*
 * The one table between enum svc_state and the strings on the wire
 * (TUNNEL_STATUS.state, "status" events, STATUS= for systemd, STATUS from
 * fz-controld): fzctl and the tests read these, so they never change.
 */
static const struct {
	const char	*name;
	bool		 from_controld;	/* fz-controld may report it */
} states[SVC_STATE_COUNT] = {
	[SVC_STARTING]		= { "starting",		false },
	[SVC_SIGNED_OUT]	= { "signed_out",	true },
	[SVC_CONNECTING]	= { "connecting",	true },
	[SVC_ONLINE]		= { "online",		true },
	[SVC_RESTARTING]	= { "restarting",	false },
};

const char *
svc_state_name(enum svc_state st)
{
	if ((unsigned)st >= SVC_STATE_COUNT)
		return "unknown";
	return states[st].name;
}

int
svc_state_parse(const char *name, enum svc_state *out)
{
	unsigned i;

	for (i = 0; i < SVC_STATE_COUNT; i++)
		if (strcmp(name, states[i].name) == 0) {
			*out = (enum svc_state)i;
			return 0;
		}
	return -EINVAL;
}

int
svc_state_from_controld(const char *name, enum svc_state *out)
{
	enum svc_state st;

	if (svc_state_parse(name, &st) != 0)
		return -EINVAL;
	if (!states[st].from_controld)
		return -EPERM;
	*out = st;
	return 0;
}
