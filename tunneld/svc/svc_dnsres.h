/* SPDX-License-Identifier: ISC */
/*
 * fz-tunneld's end of DNS_PROXY (client; tunneld/dp/dp_dnsres.h): the
 * stub resolver's proxy IPs into the data plane, forgotten with their
 * resource (RESOURCES) and at sign-out.
 */
#ifndef FZ_SVC_DNSRES_H
#define FZ_SVC_DNSRES_H

struct svc;
struct ipc_msg;

/* DNS_PROXY: 0, or -EINVAL for one that does not parse or comes from a
 * gateway's fz-controld (a violation). */
int	svc_dnsres_msg(struct svc *, const struct ipc_msg *)
	    __attribute__((warn_unused_result));
/* After RESOURCES: names of DNS resources no longer listed go. */
void	svc_dnsres_resources(struct svc *);
void	svc_dnsres_clear(struct svc *);
/* After svc_p2p_start (client): domain_status from gateways to the
 * DNS-NAT states. */
void	svc_dnsres_start(struct svc *);

#endif
