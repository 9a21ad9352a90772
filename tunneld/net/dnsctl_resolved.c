/* SPDX-License-Identifier: ISC */
/*
 * DNS control through systemd-resolved's D-Bus API (org.freedesktop.resolve1
 * Manager, as `resolvectl dns|domain|default-route|llmnr|revert` use it).
 * Every call is synchronous with a 5 s bound.
 */
#define LOG_MODULE "dnsctl"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "dnsctl_impl.h"
#include "log.h"

#define R_DEST		"org.freedesktop.resolve1"
#define R_PATH		"/org/freedesktop/resolve1"
#define R_IFACE		"org.freedesktop.resolve1.Manager"
#define CALL_USEC	(5 * 1000 * 1000ULL)

static int
connect_bus(struct dnsctl *d)
{
	sd_bus *bus = NULL;
	int rc;

	if (d->bus != NULL)
		return 0;
	if (d->bus_address[0] == '\0')
		rc = sd_bus_open_system(&bus);
	else if ((rc = sd_bus_new(&bus)) >= 0 &&
	    (rc = sd_bus_set_address(bus, d->bus_address)) >= 0 &&
	    (rc = sd_bus_set_bus_client(bus, 1)) >= 0)
		rc = sd_bus_start(bus);
	if (rc < 0) {
		sd_bus_unref(bus);
		return dnsctl_fail(d, rc, "systemd-resolved: cannot connect to "
		    "the system D-Bus: %s", strerror(-rc));
	}
	d->bus = bus;
	return 0;
}

/* One line for a failed call; a missing resolved is said plainly. */
static int
call_fail(struct dnsctl *d, const char *method, int rc,
    const sd_bus_error *e)
{
	if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN,
	    SD_BUS_ERROR_NAME_HAS_NO_OWNER))
		return dnsctl_fail(d, rc, "systemd-resolved is not running "
		    "(%s is not on the bus); start it or set "
		    "FIREZONE_DNS_CONTROL=etc-resolv-conf or disabled", R_DEST);
	return dnsctl_fail(d, rc, "systemd-resolved: %s: %s", method,
	    sd_bus_error_is_set(e) && e->message != NULL ? e->message :
	    strerror(-rc));
}

static int
new_call(struct dnsctl *d, const char *method, sd_bus_message **m)
{
	int rc = sd_bus_message_new_method_call(d->bus, m, R_DEST, R_PATH,
	    R_IFACE, method);

	return rc < 0 ? dnsctl_fail(d, rc, "systemd-resolved: %s: %s",
	    method, strerror(-rc)) : 0;
}

/* Sends m (consumed); an error named ok_error counts as success. */
static int
send_call_ok(struct dnsctl *d, const char *method, sd_bus_message *m,
    const char *ok_error)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int rc;

	rc = sd_bus_call(d->bus, m, CALL_USEC, &e, NULL);
	sd_bus_message_unref(m);
	if (rc < 0 && ok_error != NULL && sd_bus_error_has_name(&e, ok_error))
		rc = 0;
	else if (rc < 0)
		rc = call_fail(d, method, rc, &e);
	else
		rc = 0;
	sd_bus_error_free(&e);
	return rc;
}

static int
send_call(struct dnsctl *d, const char *method, sd_bus_message *m)
{
	return send_call_ok(d, method, m, NULL);
}

/* SetLinkDNS(i ifindex, a(iay) addresses) */
static int
set_dns(struct dnsctl *d, int ifindex, const struct dnsctl_servers *s)
{
	sd_bus_message *m;
	unsigned i;
	int rc;

	if ((rc = new_call(d, "SetLinkDNS", &m)) != 0)
		return rc;
	rc = sd_bus_message_append(m, "i", ifindex);
	if (rc >= 0)
		rc = sd_bus_message_open_container(m, 'a', "(iay)");
	for (i = 0; rc >= 0 && i < s->n; i++) {
		const union fz_sockaddr *a = &s->v[i];
		int fam = a->sa.sa_family;

		rc = sd_bus_message_open_container(m, 'r', "iay");
		if (rc >= 0)
			rc = sd_bus_message_append(m, "i", fam);
		if (rc >= 0)
			rc = sd_bus_message_append_array(m, 'y',
			    fam == AF_INET ? (const void *)&a->in4.sin_addr :
			    (const void *)&a->in6.sin6_addr,
			    fam == AF_INET ? 4 : 16);
		if (rc >= 0)
			rc = sd_bus_message_close_container(m);
	}
	if (rc >= 0)
		rc = sd_bus_message_close_container(m);
	if (rc < 0) {
		sd_bus_message_unref(m);
		return dnsctl_fail(d, rc, "systemd-resolved: SetLinkDNS: %s",
		    strerror(-rc));
	}
	return send_call(d, "SetLinkDNS", m);
}

/*
 * SetLinkDomains(i ifindex, a(sb) domains): the search domain, or "~."
 * (routing-only root domain) so every query goes to the sentinels (§6.3).
 */
static int
set_domains(struct dnsctl *d, int ifindex, const char *search)
{
	sd_bus_message *m;
	int rc;

	if ((rc = new_call(d, "SetLinkDomains", &m)) != 0)
		return rc;
	rc = sd_bus_message_append(m, "ia(sb)", ifindex, 1,
	    search != NULL ? search : ".", search != NULL ? 0 : 1);
	if (rc < 0) {
		sd_bus_message_unref(m);
		return dnsctl_fail(d, rc, "systemd-resolved: SetLinkDomains: "
		    "%s", strerror(-rc));
	}
	return send_call(d, "SetLinkDomains", m);
}

static int
call_simple(struct dnsctl *d, const char *method, const char *sig, ...)
{
	sd_bus_message *m;
	va_list ap;
	int rc;

	if ((rc = new_call(d, method, &m)) != 0)
		return rc;
	if (sig != NULL) {
		va_start(ap, sig);
		rc = sd_bus_message_appendv(m, sig, ap);
		va_end(ap);
		if (rc < 0) {
			sd_bus_message_unref(m);
			return dnsctl_fail(d, rc, "systemd-resolved: %s: %s",
			    method, strerror(-rc));
		}
	}
	return send_call(d, method, m);
}

static int	rd_revert(struct dnsctl *);

static int
rd_set(struct dnsctl *d, int ifindex, const struct dnsctl_servers *s,
    const char *search)
{
	int rc;

	if ((rc = connect_bus(d)) != 0)
		return rc;
	/* A new TUN (re-created, new index): give the old link back. */
	if (d->active && d->ifindex != ifindex && rd_revert(d) != 0)
		log_info("old link %d not reverted: %s", d->ifindex, d->err);
	if ((rc = set_dns(d, ifindex, s)) != 0 ||
	    (rc = set_domains(d, ifindex, search)) != 0 ||
	    (rc = call_simple(d, "SetLinkDefaultRoute", "ib", ifindex, 1)) !=
	    0)
		return rc;
	/* resolvectl llmnr tun-firezone true; an old resolved may refuse. */
	if (call_simple(d, "SetLinkLLMNR", "is", ifindex, "yes") != 0)
		log_info("LLMNR not enabled on the tunnel: %s", d->err);
	/* Answers cached from the old servers would outlive the switch. */
	if (call_simple(d, "FlushCaches", NULL) != 0)
		log_info("caches not flushed: %s", d->err);
	d->err[0] = '\0';
	return 0;
}

static int
rd_revert(struct dnsctl *d)
{
	sd_bus_message *m;
	int rc;

	if ((rc = connect_bus(d)) != 0)
		return rc;
	if ((rc = new_call(d, "RevertLink", &m)) != 0)
		return rc;
	if ((rc = sd_bus_message_append(m, "i", d->ifindex)) < 0) {
		sd_bus_message_unref(m);
		return dnsctl_fail(d, rc, "systemd-resolved: RevertLink: %s",
		    strerror(-rc));
	}
	/* The TUN may be gone already, and resolved forgot it with it. */
	if ((rc = send_call_ok(d, "RevertLink", m,
	    "org.freedesktop.resolve1.NoSuchLink")) != 0)
		return rc;
	if (call_simple(d, "FlushCaches", NULL) != 0)
		log_info("caches not flushed: %s", d->err);
	d->err[0] = '\0';
	return 0;
}

/* Manager.DNS: a(iiay) = (ifindex (0: global), family, address). */
static int
rd_servers_bus(struct dnsctl *d, struct dnsctl_servers *out)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	int rc, ifi, fam;
	const void *p;
	size_t n;

	if ((rc = connect_bus(d)) != 0)
		return rc;
	rc = sd_bus_get_property(d->bus, R_DEST, R_PATH, R_IFACE, "DNS", &e,
	    &reply, "a(iiay)");
	if (rc < 0) {
		rc = call_fail(d, "DNS", rc, &e);
		sd_bus_error_free(&e);
		return rc;
	}
	memset(out, 0, sizeof(*out));
	if ((rc = sd_bus_message_enter_container(reply, 'a', "(iiay)")) < 0)
		goto bad;
	while ((rc = sd_bus_message_enter_container(reply, 'r', "iiay")) > 0) {
		if ((rc = sd_bus_message_read(reply, "ii", &ifi, &fam)) < 0 ||
		    (rc = sd_bus_message_read_array(reply, 'y', &p, &n)) < 0 ||
		    (rc = sd_bus_message_exit_container(reply)) < 0)
			goto bad;
		if (d->active && ifi == d->ifindex)
			continue;	/* our own link: the sentinels */
		if (out->n == DNSCTL_MAX_SERVERS)
			continue;
		if (fam == AF_INET && n == 4) {
			struct sockaddr_in *s = &out->v[out->n].in4;

			memset(&out->v[out->n], 0, sizeof(out->v[out->n]));
			s->sin_family = AF_INET;
			memcpy(&s->sin_addr, p, 4);
			out->n++;
		} else if (fam == AF_INET6 && n == 16) {
			struct sockaddr_in6 *s = &out->v[out->n].in6;

			memset(&out->v[out->n], 0, sizeof(out->v[out->n]));
			s->sin6_family = AF_INET6;
			memcpy(&s->sin6_addr, p, 16);
			/* A link-local server is only reachable on its link. */
			if (IN6_IS_ADDR_LINKLOCAL(&s->sin6_addr) && ifi > 0)
				s->sin6_scope_id = (uint32_t)ifi;
			out->n++;
		}
	}
	if (rc < 0 || (rc = sd_bus_message_exit_container(reply)) < 0)
		goto bad;
	sd_bus_message_unref(reply);
	return 0;
bad:
	sd_bus_message_unref(reply);
	return dnsctl_fail(d, rc, "systemd-resolved: DNS property: %s",
	    strerror(-rc));
}

static int
rd_servers(struct dnsctl *d, struct dnsctl_servers *out)
{
	int rc;

	if ((rc = rd_servers_bus(d, out)) == 0)
		return 0;
	/* Without resolved the libc resolver reads resolv.conf: so do we. */
	log_info("system DNS servers from %s instead", d->resolv_conf);
	return dnsctl_resolvconf_servers(d, out);
}

static void
rd_close(struct dnsctl *d)
{
	sd_bus_flush_close_unref(d->bus);
	d->bus = NULL;
}

const struct dnsctl_ops dnsctl_resolved_ops = {
	.name = "systemd-resolved",
	.set = rd_set,
	.revert = rd_revert,
	.servers = rd_servers,
	.close = rd_close,
};
