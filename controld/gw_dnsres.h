/* SPDX-License-Identifier: ISC */
/*
 * The gateway's DNS-resource authorizations as assigned_ips needs them
 * (§5.3, issue 14): per (client, DNS resource) the resource's pattern and
 * the authorization's expiry, from create_authorization, reject_access,
 * resource_updated and init.  gw_dnsres_check answers "may this client
 * have this domain NATed for this resource": an unexpired authorization
 * whose pattern (dns_pattern.h) matches the domain.  Not wired yet: the
 * caller-to-be is controld's assigned_ips handler (p2p.h, dnsnat.h).
 */
#ifndef FZ_GW_DNSRES_H
#define FZ_GW_DNSRES_H

#include <stddef.h>
#include <stdint.h>

#define GW_DNSRES_MAX	4096	/* (client, resource) entries */

struct gw_dnsres;

struct gw_dnsres *gw_dnsres_new(void);
void	gw_dnsres_free(struct gw_dnsres *);		/* NULL-safe */
/*
 * (client_id, resource_id) authorized for pattern until expires_at (Unix
 * seconds, 0 never); replaces an entry.  0, -EINVAL (empty or long id, bad
 * pattern: nothing changed), -ENOSPC, -ENOMEM.
 */
int	gw_dnsres_set(struct gw_dnsres *, const char *client_id,
	    const char *resource_id, const char *pattern, uint64_t expires_at)
	    __attribute__((warn_unused_result));
/* reject_access: 0 or -ENOENT. */
int	gw_dnsres_del(struct gw_dnsres *, const char *client_id,
	    const char *resource_id);
/* resource_updated: the new pattern for every entry of it; how many (a
 * bad pattern removes them: fails closed). */
size_t	gw_dnsres_update(struct gw_dnsres *, const char *resource_id,
	    const char *pattern);
/* init re-sync: everything forgotten before the new list is set. */
void	gw_dnsres_clear(struct gw_dnsres *);
/*
 * assigned_ips from client_id for (resource_id, domain) at now (Unix
 * seconds): 0 when allowed; -ENOENT no such authorization, -ETIMEDOUT
 * expired, -EPERM the domain does not match the resource's pattern.
 */
int	gw_dnsres_check(const struct gw_dnsres *, const char *client_id,
	    const char *resource_id, const char *domain, uint64_t now)
	    __attribute__((warn_unused_result));
size_t	gw_dnsres_count(const struct gw_dnsres *);

#endif
