/* SPDX-License-Identifier: ISC */
/*
 * access.h: ACCESS_SET/DEL/FILTERS/SYNC applied to the data plane's
 * table under its write lock.  Enforcement starts with the first message
 * (a gateway enables it at bring-up, so it never forwards unchecked).
 * Expired accesses refuse packets at once (flt_check takes the time);
 * a gateway sweeps them once a second (and its flow logs).
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "access.h"
#include "dataplane.h"
#include "dp_filter.h"
#include "flowlog.h"
#include "ipc.h"
#include "log.h"
#include "svc.h"

#define RULES_MAX	1400		/* "icmp, " in 8192 bytes */
#define FLOWS_MAX	65536		/* flows tracked at once */

/*
 * A gateway's sweep, once a second: expired accesses go (they already
 * refuse packets), ended flows become log lines (FIREZONE_FLOW_LOGS).
 * One service per process: a static.
 */
static struct event *tick_ev;

static void
flow_line(const struct flow_rec *r, void *arg)
{
	char line[768];

	(void)arg;
	if (flowlog_fmt(r, line, sizeof(line)) > 0)
		log_emit("flow_logs", LOG_LVL_INFO, 0, "%s", line);
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
expire(struct svc *s)
{
	struct flt_table *t;
	size_t n;

	if ((t = dp_filter_wlock(s->dp)) == NULL)
		return;
	n = flt_expire(t, wall_ms() / 1000, NULL, NULL);
	dp_filter_wunlock(s->dp);
	if (n > 0)
		log_info("%zu access(es) expired", n);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct svc *s = arg;

	(void)fd;
	(void)what;
	if (s->dp == NULL)
		return;
	expire(s);
	(void)dp_filter_flows_take(s->dp, wall_ms(), false, flow_line, NULL);
}

static void
tick_start(struct svc *s)
{
	struct timeval tv = { 1, 0 };
	int rc;

	if (tick_ev != NULL || !s->st.gateway || s->base == NULL)
		return;
	if (s->st.flow_logs) {
		if ((rc = dp_filter_flowlog_enable(s->dp, FLOWS_MAX)) != 0)
			log_warnc(-rc, "flow logs");
		else
			log_info("flow logs on: one line per flow (target "
			    "flow_logs)");
	}
	if ((tick_ev = event_new(s->base, -1, EV_PERSIST, tick, s)) == NULL ||
	    event_add(tick_ev, &tv) != 0)
		log_warnx("resource enforcement: no timer (expired accesses "
		    "still refuse)");
}

static int
type_of(const char *s, enum flt_res_type *out)
{
	if (strcmp(s, "cidr") == 0)
		*out = FLT_RES_CIDR;
	else if (strcmp(s, "dns") == 0)
		*out = FLT_RES_DNS;
	else if (strcmp(s, "internet") == 0)
		*out = FLT_RES_INTERNET;
	else
		return -EINVAL;
	return 0;
}

static const char *
client_of(const struct svc *s, const char *id)
{
	/* A client's own resources; a gateway's come with a client id. */
	if (!s->st.gateway)
		return *id == '\0' ? DPF_SELF : NULL;
	return *id != '\0' ? id : NULL;
}

static int
access_set(struct svc *s, struct flt_table *t, const struct ipc_access_set *a)
{
	struct flt_rule *r;
	enum flt_res_type type;
	const char *cid = client_of(s, a->client_id);
	int n, rc;

	if (cid == NULL || type_of(a->type, &type) != 0)
		return -EINVAL;
	if ((r = calloc(RULES_MAX, sizeof(*r))) == NULL)
		return -ENOMEM;
	if ((n = flt_rules_parse(a->filters, r, RULES_MAX)) < 0) {
		free(r);
		return -EINVAL;
	}
	rc = flt_access_set(t, cid, a->ipv4, a->ipv6, a->resource_id, type,
	    a->address, r, (size_t)n, a->expires_at);
	free(r);
	if (rc == 0)
		log_info("access: %s %s to resource %s (%s %s) filters '%s' "
		    "until %llu", s->st.gateway ? "client" : "own", cid,
		    a->resource_id, a->type, a->address, a->filters,
		    (unsigned long long)a->expires_at);
	return rc;
}

static int
access_filters(struct flt_table *t, const struct ipc_access_filters *a)
{
	struct flt_rule *r;
	size_t k;
	int n;

	if ((r = calloc(RULES_MAX, sizeof(*r))) == NULL)
		return -ENOMEM;
	if ((n = flt_rules_parse(a->filters, r, RULES_MAX)) < 0) {
		free(r);
		return -EINVAL;
	}
	k = flt_resource_update(t, a->resource_id, r, (size_t)n);
	free(r);
	log_info("resource %s: filters '%s' (%zu access(es))",
	    a->resource_id, a->filters, k);
	return 0;
}

/* "client resource expires; ..." */
static int
access_sync(struct flt_table *t, const char *list)
{
	char *copy, *e, *next, cid[FLT_ID_MAX + 1], rid[FLT_ID_MAX + 1];
	unsigned long long exp;
	size_t gone, kept = 0;
	int rc = 0;

	if ((copy = strdup(list)) == NULL)
		return -ENOMEM;
	flt_sync_begin(t);
	for (e = *copy != '\0' ? copy : NULL; e != NULL; e = next) {
		if ((next = strstr(e, "; ")) != NULL) {
			*next = '\0';
			next += 2;
		}
		if (sscanf(e, "%63s %63s %llu", cid, rid, &exp) != 3) {
			rc = -EINVAL;
			break;
		}
		if (flt_sync_keep(t, cid, rid, exp) == 0)
			kept++;
	}
	free(copy);
	if (rc != 0)
		return rc;	/* nothing dropped (marks go with the next) */
	gone = flt_sync_end(t);
	log_info("accesses re-synced: %zu kept, %zu dropped", kept, gone);
	return 0;
}

int
svc_access_msg(struct svc *s, const struct ipc_msg *m)
{
	struct flt_table *t;
	const char *e;
	int rc = 0;

	if (s->dp == NULL)
		return 0;
	/*
	 * FZ_CLIENT_FILTERS=off: a client that leaves every refusal to the
	 * gateway (tests of the gateway's enforcement; Firezone's clients
	 * before the local check).  The gateway ignores it.
	 */
	if (!s->st.gateway && (e = getenv("FZ_CLIENT_FILTERS")) != NULL &&
	    strcmp(e, "off") == 0)
		return 0;
	if ((rc = dp_filter_enable(s->dp, s->st.gateway ? DP_FILTER_GATEWAY :
	    DP_FILTER_CLIENT)) != 0) {
		log_warnc(-rc, "resource enforcement");
		return 0;
	}
	tick_start(s);
	if ((t = dp_filter_wlock(s->dp)) == NULL)
		return 0;
	if (flt_table_set_self(t, s->iface.ipv4, s->iface.ipv6) != 0)
		log_warnx("resource enforcement: own addresses '%s' '%s'",
		    s->iface.ipv4, s->iface.ipv6);
	switch (m->type) {
	case IPC_ACCESS_SET:
		rc = access_set(s, t, &m->u.access_set);
		break;
	case IPC_ACCESS_DEL:
		if (client_of(s, m->u.access_del.client_id) == NULL) {
			rc = -EINVAL;
			break;
		}
		if (flt_access_del(t, client_of(s, m->u.access_del.client_id),
		    m->u.access_del.resource_id) == 0)
			log_info("access: %s to resource %s removed",
			    m->u.access_del.client_id,
			    m->u.access_del.resource_id);
		break;
	case IPC_ACCESS_FILTERS:
		rc = access_filters(t, &m->u.access_filters);
		break;
	case IPC_ACCESS_SYNC:
		rc = access_sync(t, m->u.access_sync.list);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	dp_filter_wunlock(s->dp);
	if (rc == -ENOMEM) {
		log_warnx("resource enforcement: out of memory");
		rc = 0;
	}
	return rc;
}

void
svc_access_clear(struct svc *s)
{
	struct flt_table *t;

	if (s->dp == NULL || (t = dp_filter_wlock(s->dp)) == NULL)
		return;
	flt_sync_begin(t);
	(void)flt_sync_end(t);
	dp_filter_wunlock(s->dp);
	(void)dp_filter_flows_take(s->dp, wall_ms(), true, flow_line, NULL);
}
