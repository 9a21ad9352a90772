/* SPDX-License-Identifier: ISC */
/*
 * controld/access.c: the portal's authorizations and resources into
 * ACCESS_* messages, captured, and their filters read back by the data
 * plane's parser (tunneld/dp/filter.c), so that both ends agree.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "check_util.h"
#include "filter.h"
#include "log.h"

#define MAXMSG	8

static struct sent {
	enum ipc_type	type;
	char			a[8][256];
	uint64_t		exp;
} sent[MAXMSG];
static int nsent;

static int
capture(void *arg, const struct ipc_msg *m)
{
	struct sent *s = &sent[nsent++];

	(void)arg;
	ck_assert_int_lt(nsent, MAXMSG + 1);
	memset(s, 0, sizeof(*s));
	s->type = m->type;
	switch (m->type) {
	case IPC_ACCESS_SET:
		snprintf(s->a[0], 256, "%s", m->u.access_set.client_id);
		snprintf(s->a[1], 256, "%s", m->u.access_set.ipv4);
		snprintf(s->a[2], 256, "%s", m->u.access_set.ipv6);
		snprintf(s->a[3], 256, "%s", m->u.access_set.resource_id);
		snprintf(s->a[4], 256, "%s", m->u.access_set.type);
		snprintf(s->a[5], 256, "%s", m->u.access_set.address);
		snprintf(s->a[6], 256, "%s", m->u.access_set.filters);
		s->exp = m->u.access_set.expires_at;
		break;
	case IPC_ACCESS_DEL:
		snprintf(s->a[0], 256, "%s", m->u.access_del.client_id);
		snprintf(s->a[1], 256, "%s", m->u.access_del.resource_id);
		break;
	case IPC_ACCESS_FILTERS:
		snprintf(s->a[0], 256, "%s", m->u.access_filters.resource_id);
		snprintf(s->a[1], 256, "%s", m->u.access_filters.filters);
		break;
	case IPC_ACCESS_SYNC:
		snprintf(s->a[0], 256, "%s", m->u.access_sync.list);
		break;
	default:
		ck_abort_msg("unexpected %d", m->type);
	}
	return 0;
}

static struct portal_filter web[] = {
	{ PORTAL_PROTO_TCP, 80, 80 }, { PORTAL_PROTO_UDP, 1000, 2000 },
	{ PORTAL_PROTO_ICMP, 0, 0 },
};

START_TEST(gateway)
{
	static struct portal_authorization auths[2] = {
		{ "c1", "r1", 1700000000 }, { "c2", "r2", 1800000000 } };
	struct portal_msg m;
	struct flt_rule r[4];

	nsent = 0;
	memset(&m, 0, sizeof(m));
	m.type = PM_CREATE_AUTHORIZATION;
	snprintf(m.u.create_authorization.client.id, sizeof(portal_id), "c1");
	snprintf(m.u.create_authorization.client.ipv4, 64, "100.64.0.2");
	snprintf(m.u.create_authorization.client.ipv6, 64,
	    "fd00:2021:1111::2");
	m.u.create_authorization.resource.type = PORTAL_RES_CIDR;
	snprintf(m.u.create_authorization.resource.id, sizeof(portal_id),
	    "r1");
	snprintf(m.u.create_authorization.resource.address,
	    sizeof(m.u.create_authorization.resource.address), "10.0.0.0/8");
	m.u.create_authorization.resource.filters = web;
	m.u.create_authorization.resource.n_filters = 3;
	m.u.create_authorization.has_expires_at = true;
	m.u.create_authorization.expires_at = 1700000000;
	access_portal_msg(&m, capture, NULL);
	ck_assert_int_eq(nsent, 1);
	ck_assert_int_eq(sent[0].type, IPC_ACCESS_SET);
	ck_assert_str_eq(sent[0].a[0], "c1");
	ck_assert_str_eq(sent[0].a[1], "100.64.0.2");
	ck_assert_str_eq(sent[0].a[2], "fd00:2021:1111::2");
	ck_assert_str_eq(sent[0].a[3], "r1");
	ck_assert_str_eq(sent[0].a[4], "cidr");
	ck_assert_str_eq(sent[0].a[5], "10.0.0.0/8");
	ck_assert_str_eq(sent[0].a[6], "tcp 80-80, udp 1000-2000, icmp");
	ck_assert_uint_eq(sent[0].exp, 1700000000);
	/* the data plane reads the same filters back */
	ck_assert_int_eq(flt_rules_parse(sent[0].a[6], r, 4), 3);
	ck_assert_int_eq(r[1].proto, FLT_UDP);
	ck_assert_uint_eq(r[1].lo, 1000);
	ck_assert_uint_eq(r[1].hi, 2000);
	ck_assert_int_eq(r[2].proto, FLT_ICMP);

	/* DNS and Internet resources carry no address */
	m.u.create_authorization.resource.type = PORTAL_RES_INTERNET;
	m.u.create_authorization.resource.n_filters = 0;
	m.u.create_authorization.has_expires_at = false;
	access_portal_msg(&m, capture, NULL);
	ck_assert_str_eq(sent[1].a[4], "internet");
	ck_assert_str_eq(sent[1].a[5], "");
	ck_assert_str_eq(sent[1].a[6], "");
	ck_assert_uint_eq(sent[1].exp, 0);

	memset(&m, 0, sizeof(m));
	m.type = PM_GATEWAY_REJECT_ACCESS;
	snprintf(m.u.reject_access.client_id, sizeof(portal_id), "c1");
	snprintf(m.u.reject_access.resource_id, sizeof(portal_id), "r1");
	access_portal_msg(&m, capture, NULL);
	ck_assert_int_eq(sent[2].type, IPC_ACCESS_DEL);
	ck_assert_str_eq(sent[2].a[0], "c1");
	ck_assert_str_eq(sent[2].a[1], "r1");

	memset(&m, 0, sizeof(m));
	m.type = PM_RESOURCE_UPDATED;
	snprintf(m.u.resource.id, sizeof(portal_id), "r1");
	m.u.resource.filters = web;
	m.u.resource.n_filters = 1;
	access_portal_msg(&m, capture, NULL);
	ck_assert_int_eq(sent[3].type, IPC_ACCESS_FILTERS);
	ck_assert_str_eq(sent[3].a[0], "r1");
	ck_assert_str_eq(sent[3].a[1], "tcp 80-80");

	memset(&m, 0, sizeof(m));
	m.type = PM_GATEWAY_INIT;
	m.u.gateway_init.authorizations = auths;
	m.u.gateway_init.n_authorizations = 2;
	access_portal_msg(&m, capture, NULL);
	ck_assert_int_eq(sent[4].type, IPC_ACCESS_SYNC);
	ck_assert_str_eq(sent[4].a[0],
	    "c1 r1 1700000000; c2 r2 1800000000");
	/* messages that mean nothing for enforcement */
	m.type = PM_ICE_CANDIDATES;
	access_portal_msg(&m, capture, NULL);
	ck_assert_int_eq(nsent, 5);
	/* without a client id: never sent (tunneld would read "" as its own) */
	memset(&m, 0, sizeof(m));
	m.type = PM_CREATE_AUTHORIZATION;
	snprintf(m.u.create_authorization.resource.id, sizeof(portal_id),
	    "r1");
	access_portal_msg(&m, capture, NULL);
	memset(&m, 0, sizeof(m));
	m.type = PM_GATEWAY_REJECT_ACCESS;
	snprintf(m.u.reject_access.resource_id, sizeof(portal_id), "r1");
	access_portal_msg(&m, capture, NULL);
	ck_assert_int_eq(nsent, 5);
}
END_TEST

START_TEST(client)
{
	static struct portal_resource res[3];
	struct portal_msg m;

	nsent = 0;
	memset(res, 0, sizeof(res));
	res[0].type = PORTAL_RES_CIDR;
	snprintf(res[0].id, sizeof(portal_id), "cidr1");
	snprintf(res[0].address, sizeof(res[0].address), "10.50.0.2/32");
	res[0].filters = web;
	res[0].n_filters = 1;
	res[1].type = PORTAL_RES_DNS;
	snprintf(res[1].id, sizeof(portal_id), "dns1");
	res[2].type = PORTAL_RES_INTERNET;
	snprintf(res[2].id, sizeof(portal_id), "inet");
	memset(&m, 0, sizeof(m));
	m.type = PM_CLIENT_INIT;
	m.u.client_init.resources = res;
	m.u.client_init.n_resources = 3;
	access_portal_msg(&m, capture, NULL);
	/* a re-sync to nothing, then its CIDR resources only */
	ck_assert_int_eq(nsent, 2);
	ck_assert_int_eq(sent[0].type, IPC_ACCESS_SYNC);
	ck_assert_str_eq(sent[0].a[0], "");
	ck_assert_int_eq(sent[1].type, IPC_ACCESS_SET);
	ck_assert_str_eq(sent[1].a[0], "");
	ck_assert_str_eq(sent[1].a[3], "cidr1");
	ck_assert_str_eq(sent[1].a[5], "10.50.0.2/32");
	ck_assert_str_eq(sent[1].a[6], "tcp 80-80");

	m.type = PM_RESOURCE_CREATED_OR_UPDATED;
	m.u.resource = res[1];		/* became a DNS resource: gone */
	access_portal_msg(&m, capture, NULL);
	ck_assert_int_eq(sent[2].type, IPC_ACCESS_DEL);
	ck_assert_str_eq(sent[2].a[1], "dns1");
	m.type = PM_RESOURCE_DELETED;
	snprintf(m.u.resource_deleted, sizeof(portal_id), "cidr1");
	access_portal_msg(&m, capture, NULL);
	ck_assert_int_eq(sent[3].type, IPC_ACCESS_DEL);
	ck_assert_str_eq(sent[3].a[0], "");
	ck_assert_str_eq(sent[3].a[1], "cidr1");
}
END_TEST

START_TEST(filters_fmt)
{
	char s[16];

	ck_assert_int_eq(access_filters_fmt(web, 0, s, sizeof(s)), 0);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(access_filters_fmt(web, 3, s, sizeof(s)), -ENOSPC);
	ck_assert_int_eq(access_filters_fmt(web, 1, s, 0), -ENOSPC);
}
END_TEST

static Suite *
access_suite(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("core");

	if (log_init("check_access", LOG_FORMAT_TEXT, "off") != 0)
		return NULL;
	tcase_add_test(tc, gateway);
	tcase_add_test(tc, client);
	tcase_add_test(tc, filters_fmt);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(access_suite)
