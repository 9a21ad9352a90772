/* SPDX-License-Identifier: ISC */
/*
 * fz-portald configuration: strict JSON (fz-portald(8), CONFIGURATION).
 * Unknown keys, wrong types, bad CIDRs, patterns or ports and references
 * to unknown sites, resources or groups are errors naming the file, the
 * line and the key.  Ids are name-based UUIDs unless "id" is given.
 *
 * pd_config_load() returns a new config owned by the caller
 * (pd_config_free); the strings inside live as long as the config.
 */
#ifndef PD_CONFIG_H
#define PD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PD_UUID_LEN	36	/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */

enum pd_proto { PD_PROTO_TCP, PD_PROTO_UDP, PD_PROTO_ICMP };

struct pd_filter {
	enum pd_proto	 protocol;
	uint16_t	 port_start, port_end;	/* 0-65535 when not given */
};

enum pd_rtype { PD_RES_CIDR, PD_RES_DNS, PD_RES_INTERNET };

struct pd_site {
	char		 id[PD_UUID_LEN + 1];
	char		*name;
	char		*gateway_token;
};

struct pd_resource {
	char		 id[PD_UUID_LEN + 1];
	char		*name;
	enum pd_rtype	 type;
	char		*address;	/* NULL for internet; CIDR normalized */
	size_t		 site;		/* index into sites */
	struct pd_filter *filters;
	size_t		 nfilters;
};

struct pd_client {
	char		 id[PD_UUID_LEN + 1];
	char		*name;
	char		*token;
	char		**groups;
	size_t		 ngroups;
};

struct pd_policy {
	char		*group;
	size_t		 resource;	/* index into resources */
};

struct pd_turn {
	char		*addr;		/* "1.2.3.4:3478" or "[v6]:3478" */
	char		*secret;
	char		 id[PD_UUID_LEN + 1];
	int		 family;	/* AF_INET or AF_INET6 */
};

struct pd_config {
	char		*path;
	char		*slug;
	char		*search_domain;	/* NULL when not given */
	char		**upstream_do53;
	size_t		 nupstream;
	char		*relay_token;	/* NULL: no Firezone relays */
	struct pd_turn	*turn;
	size_t		 nturn;
	struct pd_site	*sites;
	size_t		 nsites;
	struct pd_resource *resources;
	size_t		 nresources;
	struct pd_client *clients;
	size_t		 nclients;
	struct pd_policy *policies;
	size_t		 npolicies;
	unsigned	 refs;		/* pd_config_ref; one per owner */
};

/*
 * Parses text (len bytes) read from path (used in messages).  On error
 * writes "path:line: key: what" to err (errlen bytes) and returns
 * -EINVAL (or -ENOMEM).
 */
int	pd_config_parse(const char *path, const char *text, size_t len,
	    struct pd_config **out, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
/* Reads and parses a file; -errno from open/read is reported in err. */
int	pd_config_load(const char *path, struct pd_config **out, char *err,
	    size_t errlen) __attribute__((warn_unused_result));
/* Another owner of cfg (not thread-safe): each owner calls
 * pd_config_free once, the last one frees it.  Returns cfg. */
struct pd_config *pd_config_ref(struct pd_config *cfg);
void	pd_config_free(struct pd_config *);

/* Lookups (NULL when absent). */
const struct pd_resource *pd_config_resource(const struct pd_config *,
	    const char *id);
const struct pd_site *pd_config_site(const struct pd_config *,
	    const char *id);
/* Whether a policy grants one of the client's groups the resource. */
int	pd_config_allowed(const struct pd_config *, const struct pd_client *,
	    const struct pd_resource *);

/* Name-based UUID (SHA-1, version 5) in fz-portald's namespace, kind:name. */
int	pd_uuid_from_name(const char *kind, const char *name,
	    char out[PD_UUID_LEN + 1]) __attribute__((warn_unused_result));
/* Whether s is a canonical lowercase-or-uppercase hyphenated UUID. */
int	pd_uuid_valid(const char *s);

#endif
