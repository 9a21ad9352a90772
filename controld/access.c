/* SPDX-License-Identifier: ISC */
/* access.h: portal messages into ACCESS_SET/DEL/FILTERS/SYNC. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "log.h"

#define FILTERS_MAX	8193		/* ACCESS_SET's filters + NUL */
#define SYNC_MAX	65536		/* ACCESS_SYNC's list + NUL */

int
access_filters_fmt(const struct portal_filter *f, size_t n, char *buf,
    size_t len)
{
	size_t i, off = 0;
	int w;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (f[i].protocol == PORTAL_PROTO_ICMP)
			w = snprintf(buf + off, len - off, "%sicmp",
			    i ? ", " : "");
		else
			w = snprintf(buf + off, len - off, "%s%s %u-%u",
			    i ? ", " : "", f[i].protocol == PORTAL_PROTO_TCP ?
			    "tcp" : "udp", f[i].port_start, f[i].port_end);
		if (w < 0 || (size_t)w >= len - off)
			return -ENOSPC;
		off += (size_t)w;
	}
	return 0;
}

int
access_ipc_send(void *conn, const struct ipc_msg *m)
{
	return ipc_send(conn, m);
}

static const char *
type_name(enum portal_res_type t)
{
	switch (t) {
	case PORTAL_RES_CIDR:
		return "cidr";
	case PORTAL_RES_DNS:
		return "dns";
	case PORTAL_RES_INTERNET:
		return "internet";
	default:
		return NULL;
	}
}

static void
send_msg(access_send_fn send, void *arg, const struct ipc_msg *m)
{
	int rc;

	if ((rc = send(arg, m)) != 0)
		log_warnc(-rc, "sending %s", ipc_type_name(m->type));
}

static void
set(const char *cid, const char *ipv4, const char *ipv6,
    const struct portal_resource *r, uint64_t expires_at,
    access_send_fn send, void *arg)
{
	struct ipc_msg m;
	char *filters;
	const char *type = type_name(r->type);

	if (type == NULL)
		return;				/* device pools: not here */
	if ((filters = malloc(FILTERS_MAX)) == NULL) {
		log_warnx("resource %s: out of memory", r->id);
		return;
	}
	if (access_filters_fmt(r->filters, r->n_filters, filters,
	    FILTERS_MAX) != 0) {
		/* Fail closed: one filter nothing matches. */
		log_warnx("resource %s: %zu filters do not fit, refusing all",
		    r->id, r->n_filters);
		snprintf(filters, FILTERS_MAX, "tcp 0-0");
	}
	ipc_msg_init(&m, IPC_ACCESS_SET);
	m.u.access_set.client_id = cid;
	m.u.access_set.ipv4 = ipv4;
	m.u.access_set.ipv6 = ipv6;
	m.u.access_set.resource_id = r->id;
	m.u.access_set.type = type;
	m.u.access_set.address = r->type == PORTAL_RES_CIDR ? r->address : "";
	m.u.access_set.filters = filters;
	m.u.access_set.expires_at = expires_at;
	send_msg(send, arg, &m);
	free(filters);
}

static void
del(const char *cid, const char *rid, access_send_fn send, void *arg)
{
	struct ipc_msg m;

	ipc_msg_init(&m, IPC_ACCESS_DEL);
	m.u.access_del.client_id = cid;
	m.u.access_del.resource_id = rid;
	send_msg(send, arg, &m);
}

static void
sync_list(const struct portal_authorization *a, size_t n,
    access_send_fn send, void *arg)
{
	struct ipc_msg m;
	char *list;
	size_t i, off = 0;
	int w;

	if ((list = malloc(SYNC_MAX)) == NULL) {
		log_warnx("init: out of memory for the authorizations");
		return;
	}
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		w = snprintf(list + off, SYNC_MAX - off, "%s%s %s %llu",
		    i ? "; " : "", a[i].client_id, a[i].resource_id,
		    (unsigned long long)a[i].expires_at);
		if (w < 0 || (size_t)w >= SYNC_MAX - off) {
			/* Not a partial list: that would drop the rest. */
			log_warnx("init: %zu authorizations do not fit; "
			    "accesses not re-synced", n);
			free(list);
			return;
		}
		off += (size_t)w;
	}
	ipc_msg_init(&m, IPC_ACCESS_SYNC);
	m.u.access_sync.list = list;
	send_msg(send, arg, &m);
	free(list);
}

static void
filters(const struct portal_resource *r, access_send_fn send, void *arg)
{
	struct ipc_msg m;
	char *f;

	if ((f = malloc(FILTERS_MAX)) == NULL)
		return;
	if (access_filters_fmt(r->filters, r->n_filters, f, FILTERS_MAX) != 0)
		snprintf(f, FILTERS_MAX, "tcp 0-0");
	ipc_msg_init(&m, IPC_ACCESS_FILTERS);
	m.u.access_filters.resource_id = r->id;
	m.u.access_filters.filters = f;
	send_msg(send, arg, &m);
	free(f);
}

void
access_portal_msg(const struct portal_msg *m, access_send_fn send, void *arg)
{
	const struct portal_create_authorization *ca;
	size_t i;

	switch (m->type) {
	/* gateway */
	case PM_GATEWAY_INIT:
		sync_list(m->u.gateway_init.authorizations,
		    m->u.gateway_init.n_authorizations, send, arg);
		break;
	case PM_CREATE_AUTHORIZATION:
		ca = &m->u.create_authorization;
		if (ca->client.id[0] == '\0' || ca->resource.id[0] == '\0') {
			log_warnx("create_authorization without a client or "
			    "resource id: not applied");
			break;
		}
		set(ca->client.id, ca->client.ipv4, ca->client.ipv6,
		    &ca->resource, ca->has_expires_at ? ca->expires_at : 0,
		    send, arg);
		break;
	case PM_GATEWAY_REJECT_ACCESS:
		if (m->u.reject_access.client_id[0] == '\0')
			break;		/* fz-tunneld would take it as ours */
		del(m->u.reject_access.client_id,
		    m->u.reject_access.resource_id, send, arg);
		break;
	case PM_RESOURCE_UPDATED:
		filters(&m->u.resource, send, arg);
		break;
	/* client: its own CIDR resources, for the local refusals */
	case PM_CLIENT_INIT:
		sync_list(NULL, 0, send, arg);
		for (i = 0; i < m->u.client_init.n_resources; i++)
			if (m->u.client_init.resources[i].type ==
			    PORTAL_RES_CIDR)
				set("", "", "", &m->u.client_init.resources[i],
				    0, send, arg);
		break;
	case PM_RESOURCE_CREATED_OR_UPDATED:
		if (m->u.resource.type == PORTAL_RES_CIDR)
			set("", "", "", &m->u.resource, 0, send, arg);
		else
			del("", m->u.resource.id, send, arg);
		break;
	case PM_RESOURCE_DELETED:
		del("", m->u.resource_deleted, send, arg);
		break;
	default:
		break;
	}
}
