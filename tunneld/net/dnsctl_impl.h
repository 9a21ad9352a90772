/* SPDX-License-Identifier: ISC */
/* Shared between dnsctl.c and its backends; nothing else includes it. */
#ifndef FZ_DNSCTL_IMPL_H
#define FZ_DNSCTL_IMPL_H

#include <limits.h>

#include "dnsctl.h"

struct dnsctl;

/* One per FIREZONE_DNS_CONTROL value. */
struct dnsctl_ops {
	const char	*name;
	int		(*set)(struct dnsctl *, int ifindex,
			    const struct dnsctl_servers *, const char *search);
	int		(*revert)(struct dnsctl *);
	int		(*servers)(struct dnsctl *, struct dnsctl_servers *);
	void		(*close)(struct dnsctl *);
};

struct dnsctl {
	const struct dnsctl_ops	*ops;
	enum dnsctl_mode	 mode;
	char			 resolv_conf[PATH_MAX];
	char			 backup[PATH_MAX];
	char			 bus_address[512];	/* "" = system bus */
	int			 ifindex;	/* set on; -1 when not */
	bool			 active;
	void			*bus;		/* sd_bus *, resolved only */
	char			 err[256];
};

extern const struct dnsctl_ops dnsctl_resolved_ops;
extern const struct dnsctl_ops dnsctl_resolvconf_ops;

/* Records err (printf-style) for dnsctl_error and logs it; returns rc. */
int	dnsctl_fail(struct dnsctl *, int rc, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* The resolv.conf-based servers: the backup when present, else the file. */
int	dnsctl_resolvconf_servers(struct dnsctl *, struct dnsctl_servers *);
/* Restores a crashed run's backup if there is one. */
int	dnsctl_resolvconf_recover(struct dnsctl *);
/* Drops sentinels and duplicates, in place. */
void	dnsctl_filter(struct dnsctl_servers *);

#endif
