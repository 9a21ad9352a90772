/* SPDX-License-Identifier: ISC */
/*
 * fz-controld's side of the client's DNS (issue 14): the stub resolver
 * (dns_stub.h) fed by IPC.  Its upstreams are the portal's upstream_do53
 * (INTERFACE) or else the system's (DNS_SYSTEM from fz-tunneld); its
 * resources the portal's DNS resources.  Queries arrive as DGRAM_UP on
 * IPC_SOCK_DNS, forwarded ones leave as DGRAM_DOWN on IPC_SOCK_DNS_FWD4/6
 * and their answers come back on the same numbers; answers for the
 * client go down as DNS_REPLY.  The glue owns the stub and its timer;
 * it sends through the ops it was given.
 */
#ifndef FZ_DNS_GLUE_H
#define FZ_DNS_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "ipc.h"

struct event_base;
struct dns_glue;

struct dns_glue_ops {
	/* DNS_SENTINELS (only called while signed in) */
	void	(*sentinels)(void *arg, const char *list);
	/* DNS_REPLY */
	void	(*reply)(void *arg, const char *from, const char *to,
		    const uint8_t *, size_t);
	/* DGRAM_DOWN */
	void	(*down)(void *arg, uint32_t sock, const char *to,
		    const uint8_t *, size_t);
	/* DNS_PROXY: a local answer gave DNS resource resource_id's name
	 * domain its proxy IPs ("ip, ip", 4 or 8); before its reply. */
	void	(*proxy)(void *arg, const char *resource_id,
		    const char *domain, const char *ips, bool fresh);
	/*
	 * SRV/TXT for a DNS resource (§4.4): the tunnel address of the
	 * gateway serving resource_id, of family, into *gw: 0; -EAGAIN
	 * while none serves it yet (its authorization asked for: the query
	 * waits for dns_glue_site_ready); another -errno: SERVFAIL.  With
	 * site_send, may be NULL (then SERVFAIL).
	 */
	int	(*site_gateway)(void *arg, const char *resource_id,
		    int family, union fz_sockaddr *gw);
	/*
	 * The query to the gateway's <tunnel ip>:53535 (through the TUN),
	 * over TCP when the client asked over TCP (§4.4: as received).
	 */
	void	(*site_send)(void *arg, const struct sockaddr *to, bool tcp,
		    const uint8_t *, size_t);
};

int	dns_glue_new(struct event_base *, const struct dns_glue_ops *,
	    void *arg, struct dns_glue **) __attribute__((warn_unused_result));
void	dns_glue_free(struct dns_glue *);		/* NULL-safe */
/* DNS_SYSTEM's list ("ip, ip"); a bad list is ignored (logged). */
void	dns_glue_system(struct dns_glue *, const char *);
/* The portal's interface: signed in, its upstreams and search domain. */
void	dns_glue_interface(struct dns_glue *, const struct ipc_interface *);
/* The portal's resources: its DNS ones become the stub's. */
void	dns_glue_resources(struct dns_glue *, const struct ipc_resource_list *);
/* Signed out: no resources, no portal upstreams, nothing sent. */
void	dns_glue_signed_out(struct dns_glue *);
/*
 * The DNS resource a proxy IP was handed out for (CONN_WANTED to a proxy
 * IP: which resource to ask the portal for): 0 and its id, or -ENOENT.
 */
int	dns_glue_proxy_resource(const struct dns_glue *, const struct sockaddr *,
	    char *id, size_t idlen) __attribute__((warn_unused_result));
/* A DGRAM_UP: true if it was DNS's (taken, whatever became of it). */
bool	dns_glue_up(struct dns_glue *, const struct ipc_dgram_up *);
/*
 * SRV/TXT queries waiting for a gateway (at most DNS_GLUE_SITE_WAIT, each
 * until the stub forgets it): resource_id's gateway is connected now.
 */
#define DNS_GLUE_SITE_WAIT	64
void	dns_glue_site_ready(struct dns_glue *, const char *resource_id);
/* An answer from a gateway's <tunnel ip>:53535 (from) to a site query. */
void	dns_glue_site_answer(struct dns_glue *, const struct sockaddr *from,
	    const uint8_t *, size_t);
/* An event's proxy IPs as DNS_PROXY's "ip, ip": 0, -ENOSPC, -EINVAL. */
struct dns_stub_event;
#define DNS_GLUE_IPS_MAX	512
int	dns_glue_fmt_ips(const struct dns_stub_event *, char *, size_t)
	    __attribute__((warn_unused_result));

#endif
