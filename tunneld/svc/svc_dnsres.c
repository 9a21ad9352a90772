/* SPDX-License-Identifier: ISC */
/* fz-tunneld's end of DNS_PROXY (svc_dnsres.h). */
#define LOG_MODULE "dns"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_dnsres.h"
#include "dp_p2p.h"
#include "proxymap.h"
#include "svc.h"
#include "svc_dnsres.h"

int
svc_dnsres_msg(struct svc *s, const struct ipc_msg *m)
{
	const struct ipc_dns_proxy *d = &m->u.dns_proxy;
	struct p2p_msg pm;
	int rc;

	if (s->st.gateway || proxymap_parse(d->resource_id, d->domain,
	    d->ips, &pm) != 0)
		return -EINVAL;
	if (s->dp == NULL || s->cconn == NULL ||
	    ipc_conn_phase(s->cconn) != IPC_SIGNED_IN)
		return 0;		/* signed out: datagrams are dropped */
	if ((rc = dp_dnsres_proxy(s->dp, &pm, d->fresh)) != 0)
		log_warnc(-rc, "DNS resource %s: %s", pm.resource, pm.domain);
	else
		log_debug("DNS resource %s: %s has %zu proxy IPs%s",
		    pm.resource, pm.domain, pm.nproxy,
		    d->fresh ? " (new query)" : "");
	return 0;
}

void
svc_dnsres_resources(struct svc *s)
{
	const struct ipc_resource_list *l;
	const char **ids;
	size_t n = 0;

	if (s->dp == NULL || s->resources == NULL ||
	    s->resources->m.type != IPC_RESOURCES)
		return;
	l = &s->resources->m.u.resources.list;
	if ((ids = calloc(l->n + 1, sizeof(*ids))) == NULL)
		return;		/* kept until the next RESOURCES */
	for (uint32_t i = 0; i < l->n; i++)
		if (l->r[i].id != NULL && l->r[i].type != NULL &&
		    strcmp(l->r[i].type, "dns") == 0)
			ids[n++] = l->r[i].id;
	dp_dnsres_keep(s->dp, ids, n);
	free(ids);
}

void
svc_dnsres_start(struct svc *s)
{
	if (s->dp != NULL && !s->st.gateway)
		dp_p2p_set_client_hook(s->dp, dpr_p2p_hook, s->dp);
}

void
svc_dnsres_clear(struct svc *s)
{
	if (s->dp != NULL)
		dp_dnsres_clear(s->dp);
}
