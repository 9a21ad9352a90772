/* SPDX-License-Identifier: ISC */
/* DNS control: the front end, the "disabled" backend and shared helpers. */
#define LOG_MODULE "dnsctl"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsctl_impl.h"
#include "log.h"

static int
disabled_set(struct dnsctl *d, int ifindex, const struct dnsctl_servers *s,
    const char *search)
{
	return 0;
}

static int
disabled_revert(struct dnsctl *d)
{
	return 0;
}

static const struct dnsctl_ops disabled_ops = {
	.name = "disabled",
	.set = disabled_set,
	.revert = disabled_revert,
	.servers = dnsctl_resolvconf_servers,
};

static const struct {
	enum dnsctl_mode		 mode;
	const struct dnsctl_ops		*ops;
} backends[] = {
	{ DNSCTL_SYSTEMD_RESOLVED, &dnsctl_resolved_ops },
	{ DNSCTL_ETC_RESOLV_CONF, &dnsctl_resolvconf_ops },
	{ DNSCTL_DISABLED, &disabled_ops },
};

static const struct dnsctl_ops *
ops_of(enum dnsctl_mode m)
{
	size_t i;

	for (i = 0; i < sizeof(backends) / sizeof(*backends); i++)
		if (backends[i].mode == m)
			return backends[i].ops;
	return NULL;
}

int
dnsctl_mode_parse(const char *s, enum dnsctl_mode *out)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(backends) / sizeof(*backends); i++)
		if (strcmp(s, backends[i].ops->name) == 0) {
			*out = backends[i].mode;
			return 0;
		}
	return -EINVAL;
}

const char *
dnsctl_mode_name(enum dnsctl_mode m)
{
	const struct dnsctl_ops *o = ops_of(m);

	return o != NULL ? o->name : "?";
}

int
dnsctl_fail(struct dnsctl *d, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	log_warnx("%s", d->err);
	return rc;
}

static int
copy_path(char *dst, size_t cap, const char *src, const char *def)
{
	if (src == NULL)
		src = def;
	if (*src == '\0' || strlen(src) >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int
dnsctl_new(struct dnsctl **out, const struct dnsctl_config *cfg)
{
	const struct dnsctl_ops *ops = ops_of(cfg->mode);
	struct dnsctl *d;
	int rc;

	if (ops == NULL)
		return -EINVAL;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	d->ops = ops;
	d->mode = cfg->mode;
	d->ifindex = -1;
	if ((rc = copy_path(d->resolv_conf, sizeof(d->resolv_conf),
	    cfg->resolv_conf, DNSCTL_RESOLV_CONF)) != 0 ||
	    (rc = copy_path(d->backup, sizeof(d->backup), cfg->backup,
	    DNSCTL_BACKUP)) != 0)
		goto fail;
	if (cfg->bus_address != NULL && (rc = copy_path(d->bus_address,
	    sizeof(d->bus_address), cfg->bus_address, "")) != 0)
		goto fail;
	/* A crashed etc-resolv-conf run left its backup: put it back. */
	if (d->mode == DNSCTL_ETC_RESOLV_CONF &&
	    (rc = dnsctl_resolvconf_recover(d)) != 0)
		goto fail;
	*out = d;
	return 0;
fail:
	free(d);
	return rc;
}

int
dnsctl_set(struct dnsctl *d, int ifindex, const struct dnsctl_servers *s,
    const char *search)
{
	int rc;

	d->err[0] = '\0';
	if (search != NULL && *search == '\0')
		search = NULL;
	if (search != NULL && !dnsctl_domain_ok(search))
		return dnsctl_fail(d, -EINVAL, "search domain: not a domain");
	if (s->n == 0 || s->n > DNSCTL_MAX_SERVERS || ifindex <= 0)
		return dnsctl_fail(d, -EINVAL, "%s: no servers or no link",
		    d->ops->name);
	if ((rc = d->ops->set(d, ifindex, s, search)) != 0)
		return rc;
	d->ifindex = ifindex;
	d->active = true;
	return 0;
}

int
dnsctl_revert(struct dnsctl *d)
{
	int rc;

	d->err[0] = '\0';
	if (!d->active)
		return 0;
	if ((rc = d->ops->revert(d)) != 0)
		return rc;
	d->active = false;
	return 0;
}

int
dnsctl_system_servers(struct dnsctl *d, struct dnsctl_servers *out)
{
	struct dnsctl_servers s;
	int rc;

	d->err[0] = '\0';
	memset(&s, 0, sizeof(s));
	if ((rc = d->ops->servers(d, &s)) != 0)
		return rc;
	dnsctl_filter(&s);
	*out = s;
	return 0;
}

const char *
dnsctl_error(const struct dnsctl *d)
{
	return d->err;
}

void
dnsctl_free(struct dnsctl *d)
{
	if (d == NULL)
		return;
	if (dnsctl_revert(d) != 0)
		log_warnx("%s: not reverted: %s", d->ops->name, d->err);
	if (d->ops->close != NULL)
		d->ops->close(d);
	free(d);
}

bool
dnsctl_domain_ok(const char *s)
{
	size_t n = strlen(s), i, label = 0;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			/* Empty labels only as a lone trailing dot. */
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

bool
dnsctl_is_sentinel(const struct sockaddr *sa)
{
	static const uint8_t s6[15] = { 0xfd, 0x00, 0x20, 0x21, 0x11, 0x11,
	    0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x11, 0x00 };
	const uint8_t *a;

	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
		return a[0] == 100 && a[1] == 100 && a[2] == 111;
	}
	if (sa->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr.s6_addr;
		return memcmp(a, s6, sizeof(s6)) == 0;	/* /120 */
	}
	return false;
}

void
dnsctl_filter(struct dnsctl_servers *s)
{
	unsigned i, j, k;

	for (i = 0, j = 0; i < s->n && i < DNSCTL_MAX_SERVERS; i++) {
		bool dup = false;

		if (dnsctl_is_sentinel(&s->v[i].sa))
			continue;
		for (k = 0; k < j && !dup; k++)
			dup = addr_eq(&s->v[k].sa, &s->v[i].sa);
		if (!dup)
			s->v[j++] = s->v[i];
	}
	s->n = j;
}
