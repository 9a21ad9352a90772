/* SPDX-License-Identifier: ISC */
/*
 * Service mode's pure decisions, without I/O (unit-tested in
 * tests/unit/check_svc.c): the tunnel state and its wire names, which
 * front end may take a slot, and how long fz-controld's restart waits.
 */
#include <errno.h>
#include <stdio.h>
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
	[SVC_RECONNECTING]	= { "reconnecting",	true },
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

void
svc_fe_census(const struct frontend *fe, size_t n, uid_t uid,
    struct svc_fe_census *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->free_slot = -1;
	for (i = 0; i < n; i++) {
		if (!fe[i].used) {
			if (c->free_slot < 0)
				c->free_slot = (int)i;
			continue;
		}
		if (fe[i].refused)	/* answered, on its way out */
			continue;
		c->same_uid += fe[i].uid == uid;
		c->nonroot += fe[i].uid != 0;
	}
}

/* The admin must never be locked out by the group's members. */
int
svc_fe_admit(uid_t uid, bool member, const struct svc_fe_census *c,
    char *msg, size_t msglen)
{
	if (!member) {
		snprintf(msg, msglen, "permission denied: uid %u is not "
		    "root or a member of group %s", (unsigned)uid,
		    CLIENT_GROUP);
		return -EACCES;
	}
	if (uid == 0)
		return 0;
	if (c->same_uid >= FE_MAX_PER_UID) {
		snprintf(msg, msglen, "too many connections: uid %u has "
		    "%u open (at most %d)", (unsigned)uid, c->same_uid,
		    FE_MAX_PER_UID);
		return -EUSERS;
	}
	if (c->nonroot >= MAX_FRONTENDS - FE_ROOT_RESERVED) {
		snprintf(msg, msglen, "too many front-end connections "
		    "(%d; the rest are kept for root)",
		    MAX_FRONTENDS - FE_ROOT_RESERVED);
		return -EUSERS;
	}
	return 0;
}

unsigned
svc_backoff_next(unsigned *backoff_ms, uint64_t up_ms)
{
	unsigned delay;

	if (up_ms >= STABLE_MS)
		*backoff_ms = BACKOFF_MIN_MS;
	delay = *backoff_ms;
	*backoff_ms = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
	return delay;
}
