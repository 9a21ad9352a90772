/* SPDX-License-Identifier: ISC */
/*
 * DNS control (FIREZONE_DNS_CONTROL, protocols notes §6.3): points the
 * system's resolver at the sentinel IPs and gives them back on stop.
 *   systemd-resolved  over sd-bus: SetLinkDNS, SetLinkDomains (the search
 *                     domain, else "~." so the tunnel gets every query),
 *                     SetLinkDefaultRoute, SetLinkLLMNR, FlushCaches;
 *                     RevertLink on stop.
 *   etc-resolv-conf   backs up /etc/resolv.conf (a symlink stays a
 *                     symlink), rewrites it, restores it on stop; a backup
 *                     found at start is a crashed run's and is restored.
 *   disabled          changes nothing.
 * Every mode reports the system's own servers (for controld's forwarding).
 * Only tunneld changes system DNS.  Backends sit behind an ops table.
 */
#ifndef FZ_DNSCTL_H
#define FZ_DNSCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

#define DNSCTL_MAX_SERVERS	16
#define DNSCTL_RESOLV_CONF	"/etc/resolv.conf"
#define DNSCTL_BACKUP		"/etc/resolv.conf.before-firezone"
/* resolv.conf files larger than this are refused, not truncated. */
#define DNSCTL_FILE_MAX		(64 * 1024)

enum dnsctl_mode {
	DNSCTL_SYSTEMD_RESOLVED,
	DNSCTL_ETC_RESOLV_CONF,
	DNSCTL_DISABLED,
};

/* Addresses (port 0; IPv6 keeps its scope id), in file / bus order. */
struct dnsctl_servers {
	union fz_sockaddr	v[DNSCTL_MAX_SERVERS];
	unsigned		n;
};

struct dnsctl_config {
	enum dnsctl_mode	 mode;
	const char		*resolv_conf;	/* NULL: DNSCTL_RESOLV_CONF */
	const char		*backup;	/* NULL: DNSCTL_BACKUP */
	const char		*bus_address;	/* NULL: the system bus */
};

struct dnsctl;

/* "systemd-resolved" | "etc-resolv-conf" | "disabled"; -EINVAL else. */
int	dnsctl_mode_parse(const char *, enum dnsctl_mode *)
	    __attribute__((warn_unused_result));
const char *dnsctl_mode_name(enum dnsctl_mode);

/*
 * Copies the paths.  etc-resolv-conf: restores a backup left by a crashed
 * run before returning.  Nothing connects to the bus before dnsctl_set.
 */
int	dnsctl_new(struct dnsctl **, const struct dnsctl_config *)
	    __attribute__((warn_unused_result));
/*
 * Points the system at servers (the sentinels), with search_domain (NULL
 * or "" for none) on link ifindex (the TUN).  May be called again with a
 * new set.  On failure dnsctl_error says why in one line.
 */
int	dnsctl_set(struct dnsctl *, int ifindex,
	    const struct dnsctl_servers *servers, const char *search_domain)
	    __attribute__((warn_unused_result));
/* Undoes dnsctl_set (a no-op when nothing is set). */
int	dnsctl_revert(struct dnsctl *) __attribute__((warn_unused_result));
/*
 * The system's own servers, without our link's and without Firezone's
 * sentinel ranges: resolved's Manager.DNS (falling back to resolv.conf
 * when resolved cannot be asked), else the original resolv.conf.
 */
int	dnsctl_system_servers(struct dnsctl *, struct dnsctl_servers *out)
	    __attribute__((warn_unused_result));
/* The last failure in words ("" when none); borrowed. */
const char *dnsctl_error(const struct dnsctl *);
/* Reverts (errors logged), then frees; NULL-safe. */
void	dnsctl_free(struct dnsctl *);

/*
 * resolv.conf parser (untrusted bytes, any length): the nameserver lines,
 * in order, at most DNSCTL_MAX_SERVERS; anything unparsable is skipped.
 */
void	dnsctl_parse_resolv_conf(const char *buf, size_t len,
	    struct dnsctl_servers *out);
/* The file tunneld writes; -ENOSPC when cap is too small, -EINVAL for a
 * bad search domain.  *len excludes the terminating NUL. */
int	dnsctl_format_resolv_conf(const struct dnsctl_servers *,
	    const char *search_domain, char *buf, size_t cap, size_t *len)
	    __attribute__((warn_unused_result));
/* A domain fit for "search" or SetLinkDomains: 1..253 bytes of
 * [A-Za-z0-9.-_], no empty label but a trailing dot. */
bool	dnsctl_domain_ok(const char *);
/* In Firezone's sentinel ranges (§4.1). */
bool	dnsctl_is_sentinel(const struct sockaddr *);

#endif
