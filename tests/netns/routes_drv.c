/* SPDX-License-Identifier: ISC */
/*
 * Drives tunneld/net/routes for tests/netns/routes.sh: one command per
 * stdin line, one answer line ("ok" or "err <reason>") per command.
 *   start | res CIDR | clear | internet on|off | lan on|off | apply |
 *   stop | quit
 * argv[1] is the tunnel interface.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "routes.h"

#define MAXRES	256

int
main(int argc, char **argv)
{
	struct fz_cidr res[MAXRES];
	struct route_set want;
	struct routes *r;
	char line[256];
	unsigned nres = 0;
	bool inet = false, lan = false;
	int tun, rc;

	if (argc != 2 || (tun = (int)if_nametoindex(argv[1])) == 0) {
		fprintf(stderr, "usage: routes_drv TUN-IFNAME\n");
		return 2;
	}
	if (log_init("routes_drv", LOG_FORMAT_TEXT, "info") != 0 ||
	    routes_new(&r) != 0)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	route_set_init(&want);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *arg;

		line[strcspn(line, "\n")] = '\0';
		if ((arg = strchr(line, ' ')) != NULL)
			*arg++ = '\0';
		rc = 0;
		if (strcmp(line, "start") == 0)
			rc = routes_start(r);
		else if (strcmp(line, "res") == 0 && arg != NULL) {
			if (nres == MAXRES)
				rc = -E2BIG;
			else if ((rc = cidr_parse(arg, false, &res[nres])) == 0)
				nres++;
		} else if (strcmp(line, "clear") == 0)
			nres = 0;
		else if (strcmp(line, "internet") == 0 && arg != NULL)
			inet = strcmp(arg, "on") == 0;
		else if (strcmp(line, "lan") == 0 && arg != NULL)
			lan = strcmp(arg, "on") == 0;
		else if (strcmp(line, "apply") == 0) {
			rc = routes_build(&want, tun, res, nres, inet, true,
			    true);
			if (rc == 0 && lan)
				rc = routes_lan_copy(r, tun, &want);
			if (rc == 0)
				rc = routes_apply(r, &want);
		} else if (strcmp(line, "stop") == 0)
			routes_stop(r);
		else if (strcmp(line, "quit") == 0)
			break;
		else
			rc = -EINVAL;
		if (rc == 0)
			printf("ok\n");
		else
			printf("err %s\n", strerror(-rc));
	}
	route_set_clear(&want);
	routes_free(r);
	return 0;
}
