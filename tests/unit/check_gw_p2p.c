/* SPDX-License-Identifier: ISC */
/*
 * The gateway's p2p control side (controld/gw_p2p.c) with fake ops:
 * assigned_ips from an authorized client for a matching domain resolves
 * once (a second one in flight waits for it) and installs the NAT with
 * the Active status; every refusal (unknown key, no match, another
 * client's resource, resolution failure, an access lost meanwhile)
 * answers Inactive without touching the NAT; malformed packets are
 * refused; the last access going (reject_access, expiry, init) says
 * goodbye before the connection is dropped; resource_updated changes
 * the pattern; a resolution outliving the module is harmless.
 */
#include <sys/socket.h>

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "gw_p2p.h"
#include "p2p.h"

#define CL1	"11111111-1111-4111-8111-111111111111"
#define CL2	"22222222-2222-4222-8222-222222222222"
#define RA	"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define RB	"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
#define K1	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define K2	"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="

static struct {
	int		 resolves, nat_sets, downs, gones, expireds;
	char		 domain[256];
	gw_resolve_cb	 cb;
	void		*cbarg;
	int		 fail_resolve;
	char		 nat[1024];		/* "cid key rid domain | p | r" */
	struct p2p_msg	 status, down;
	char		 down_key[64], gone[128], expired[128];
} F;

static int
f_resolve(void *arg, const char *domain, gw_resolve_cb cb, void *cbarg)
{
	(void)arg;
	if (F.fail_resolve)
		return -ENOMEM;
	F.resolves++;
	snprintf(F.domain, sizeof(F.domain), "%s", domain);
	F.cb = cb;
	F.cbarg = cbarg;
	return 0;
}

static void
f_nat_set(void *arg, const struct gw_p2p_nat *n)
{
	(void)arg;
	F.nat_sets++;
	snprintf(F.nat, sizeof(F.nat), "%s %s %s %s %s %s | %s | %s",
	    n->client_id, n->public_key, n->ipv4, n->ipv6, n->resource_id,
	    n->domain, n->proxies, n->resolved);
	ck_assert_int_eq(p2p_parse(n->status, n->status_len, &F.status), 0);
}

static void
f_down(void *arg, const char *key, const uint8_t *pkt, size_t len)
{
	(void)arg;
	F.downs++;
	snprintf(F.down_key, sizeof(F.down_key), "%s", key);
	ck_assert_int_eq(p2p_parse(pkt, len, &F.down), 0);
}

static void
f_gone(void *arg, const char *cid, const char *key)
{
	(void)arg;
	F.gones++;
	snprintf(F.gone, sizeof(F.gone), "%s %s", cid, key);
}

static void
f_expired(void *arg, const char *cid, const char *rid)
{
	(void)arg;
	F.expireds++;
	snprintf(F.expired, sizeof(F.expired), "%s %s", cid, rid);
	/* goodbye, when due, came first */
}

static const struct gw_p2p_ops ops = {
	.resolve = f_resolve, .nat_set = f_nat_set, .down = f_down,
	.client_gone = f_gone, .expired = f_expired,
};

static void
authorize(struct gw_p2p *g, const char *cid, const char *key,
    const char *rid, enum portal_res_type type, const char *addr,
    uint64_t exp)
{
	struct portal_msg m;
	struct portal_create_authorization *ca = &m.u.create_authorization;

	memset(&m, 0, sizeof(m));
	m.type = PM_CREATE_AUTHORIZATION;
	snprintf(ca->client.id, sizeof(ca->client.id), "%s", cid);
	snprintf(ca->client.public_key, sizeof(ca->client.public_key), "%s",
	    key);
	snprintf(ca->client.ipv4, sizeof(ca->client.ipv4), "100.64.0.7");
	snprintf(ca->client.ipv6, sizeof(ca->client.ipv6),
	    "fd00:2021:1111::7");
	snprintf(ca->resource.id, sizeof(ca->resource.id), "%s", rid);
	snprintf(ca->resource.address, sizeof(ca->resource.address), "%s",
	    addr);
	ca->resource.type = type;
	ca->has_expires_at = exp != 0;
	ca->expires_at = exp;
	gw_p2p_portal_msg(g, &m, 10);
}

static void
reject(struct gw_p2p *g, const char *cid, const char *rid)
{
	struct portal_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PM_GATEWAY_REJECT_ACCESS;
	snprintf(m.u.reject_access.client_id,
	    sizeof(m.u.reject_access.client_id), "%s", cid);
	snprintf(m.u.reject_access.resource_id,
	    sizeof(m.u.reject_access.resource_id), "%s", rid);
	gw_p2p_portal_msg(g, &m, 10);
}

/* assigned_ips for rid/domain from key: gw_p2p_up's result. */
static int
assigned(struct gw_p2p *g, const char *key, const char *rid,
    const char *domain, size_t nproxy)
{
	struct p2p_msg m;
	uint8_t pkt[P2P_MAX_PKT];
	size_t n;

	memset(&m, 0, sizeof(m));
	m.type = P2P_ASSIGNED_IPS;
	snprintf(m.resource, sizeof(m.resource), "%s", rid);
	snprintf(m.domain, sizeof(m.domain), "%s", domain);
	m.nproxy = nproxy;
	for (size_t i = 0; i < nproxy; i++) {
		if (i < 4) {
			m.proxy[i].af = AF_INET;
			memcpy(m.proxy[i].a, "\x64\x60\x00\x00", 4);
			m.proxy[i].a[3] = (uint8_t)(i + 1);
		} else {
			m.proxy[i].af = AF_INET6;
			memcpy(m.proxy[i].a, "\xfd\x00\x20\x21\x11\x11\x80",
			    7);
			m.proxy[i].a[15] = (uint8_t)(i + 1);
		}
	}
	ck_assert_int_eq(p2p_build(&m, pkt, sizeof(pkt), &n), 0);
	return gw_p2p_up(g, key, pkt, n, 20);
}

static void
setup(void)
{
	memset(&F, 0, sizeof(F));
}

START_TEST(test_active)
{
	struct gw_p2p *g = gw_p2p_new(&ops, NULL);

	ck_assert_ptr_nonnull(g);
	authorize(g, CL1, K1, RA, PORTAL_RES_DNS, "*.corp.test", 0);
	authorize(g, CL1, K1, RB, PORTAL_RES_CIDR, "10.0.0.0/8", 0);
	ck_assert_uint_eq(gw_p2p_nclients(g), 1);
	ck_assert_int_eq(assigned(g, K1, RA, "app.corp.test", 8), 0);
	ck_assert_int_eq(F.resolves, 1);
	ck_assert_str_eq(F.domain, "app.corp.test");
	/* the client's resend while it resolves: no second lookup */
	ck_assert_int_eq(assigned(g, K1, RA, "app.corp.test", 8), 0);
	ck_assert_int_eq(F.resolves, 1);
	ck_assert_int_eq(F.nat_sets + F.downs, 0);
	F.cb(F.cbarg, 0, "192.0.2.10, 2001:db8::10");
	ck_assert_int_eq(F.nat_sets, 1);
	ck_assert_int_eq(F.downs, 0);
	ck_assert_str_eq(F.nat, CL1 " " K1 " 100.64.0.7 fd00:2021:1111::7 "
	    RA " app.corp.test | 100.96.0.1, 100.96.0.2, 100.96.0.3, "
	    "100.96.0.4, fd00:2021:1111:8000::5, fd00:2021:1111:8000::6, "
	    "fd00:2021:1111:8000::7, fd00:2021:1111:8000::8 | 192.0.2.10, "
	    "2001:db8::10");
	ck_assert_int_eq(F.status.type, P2P_DOMAIN_STATUS);
	ck_assert_int_eq(F.status.active, 1);
	ck_assert_str_eq(F.status.resource, RA);
	ck_assert_str_eq(F.status.domain, "app.corp.test");
	/* once answered, a new one resolves again */
	ck_assert_int_eq(assigned(g, K1, RA, "app.corp.test", 4), 0);
	ck_assert_int_eq(F.resolves, 2);
	F.cb(F.cbarg, -ENOENT, "");
	ck_assert_int_eq(F.nat_sets, 1);
	ck_assert_int_eq(F.downs, 1);
	ck_assert_int_eq(F.down.active, 0);
	ck_assert_str_eq(F.down_key, K1);
	gw_p2p_free(g);
}
END_TEST

START_TEST(test_refused)
{
	struct gw_p2p *g = gw_p2p_new(&ops, NULL);
	struct gw_p2p_stats st;
	uint8_t junk[60];

	authorize(g, CL1, K1, RA, PORTAL_RES_DNS, "*.corp.test", 0);
	authorize(g, CL2, K2, RB, PORTAL_RES_DNS, "db.corp.test", 0);
	/* unknown key */
	ck_assert_int_eq(assigned(g, "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC=",
	    RA, "app.corp.test", 4), 0);
	ck_assert_int_eq(F.downs, 1);
	ck_assert_int_eq(F.down.active, 0);
	ck_assert_str_eq(F.down.domain, "app.corp.test");
	/* not the resource's pattern; another client's resource */
	ck_assert_int_eq(assigned(g, K1, RA, "app.evil.test", 4), 0);
	ck_assert_int_eq(assigned(g, K1, RB, "db.corp.test", 4), 0);
	ck_assert_int_eq(F.downs, 3);
	ck_assert_int_eq(F.resolves, 0);
	/* the resolver refuses at once */
	F.fail_resolve = 1;
	ck_assert_int_eq(assigned(g, K2, RB, "db.corp.test", 4), 0);
	ck_assert_int_eq(F.downs, 4);
	F.fail_resolve = 0;
	/* lost while resolving: Inactive, no NAT */
	ck_assert_int_eq(assigned(g, K2, RB, "db.corp.test", 4), 0);
	ck_assert_int_eq(F.resolves, 1);
	reject(g, CL2, RB);
	ck_assert_int_eq(F.gones, 1);
	ck_assert_str_eq(F.gone, CL2 " " K2);
	F.cb(F.cbarg, 0, "192.0.2.20");
	ck_assert_int_eq(F.nat_sets, 0);
	ck_assert_int_eq(F.downs, 5);
	/* proxy IPs outside the proxy ranges: Inactive, nothing resolved */
	{
		struct p2p_msg m;
		uint8_t pkt[P2P_MAX_PKT];
		size_t n;
		int downs = F.downs, res = F.resolves;

		memset(&m, 0, sizeof(m));
		m.type = P2P_ASSIGNED_IPS;
		snprintf(m.resource, sizeof(m.resource), RA);
		snprintf(m.domain, sizeof(m.domain), "app.corp.test");
		m.nproxy = 4;
		for (int i = 0; i < 4; i++) {
			m.proxy[i].af = AF_INET;
			memcpy(m.proxy[i].a, "\x64\x80\x00\x01", 4);
		}
		ck_assert_int_eq(p2p_build(&m, pkt, sizeof(pkt), &n), 0);
		ck_assert_int_eq(gw_p2p_up(g, K1, pkt, n, 20), 0);
		ck_assert_int_eq(F.downs, downs + 1);
		ck_assert_int_eq(F.resolves, res);
		m.proxy[0].a[1] = 0x7f;		/* 100.127: the top */
		m.proxy[1].af = m.proxy[2].af = m.proxy[3].af = AF_INET;
		m.proxy[1].a[1] = m.proxy[2].a[1] = m.proxy[3].a[1] = 0x60;
		m.proxy[0].a[1] = 0x7f;
		ck_assert_int_eq(p2p_build(&m, pkt, sizeof(pkt), &n), 0);
		ck_assert_int_eq(gw_p2p_up(g, K1, pkt, n, 20), 0);
		ck_assert_int_eq(F.resolves, res + 1);
		F.cb(F.cbarg, -EAGAIN, "");
		/* an IPv6 one just past the /107 */
		m.nproxy = 8;
		for (int i = 4; i < 8; i++) {
			m.proxy[i].af = AF_INET6;
			memcpy(m.proxy[i].a, "\xfd\x00\x20\x21\x11\x11\x80",
			    7);
		}
		m.proxy[7].a[13] = 0x20;
		ck_assert_int_eq(p2p_build(&m, pkt, sizeof(pkt), &n), 0);
		ck_assert_int_eq(gw_p2p_up(g, K1, pkt, n, 20), 0);
		ck_assert_int_eq(F.resolves, res + 1);
	}
	/* malformed, and a domain_status (not a gateway's) */
	memset(junk, 0, sizeof(junk));
	ck_assert_int_eq(gw_p2p_up(g, K1, junk, sizeof(junk), 20), -EINVAL);
	gw_p2p_get_stats(g, &st);
	ck_assert_uint_eq(st.malformed, 3);
	ck_assert_uint_eq(st.inactive, 8);
	ck_assert_uint_eq(st.unknown_key, 1);
	gw_p2p_free(g);
}
END_TEST

START_TEST(test_lifetime)
{
	struct gw_p2p *g = gw_p2p_new(&ops, NULL);
	struct portal_msg m;
	struct portal_authorization pa[1];

	/* reject_access: the last one says goodbye */
	authorize(g, CL1, K1, RA, PORTAL_RES_DNS, "*.corp.test", 0);
	authorize(g, CL1, K1, RB, PORTAL_RES_CIDR, "10.0.0.0/8", 0);
	reject(g, CL1, RA);
	ck_assert_int_eq(F.gones, 0);
	reject(g, CL1, RA);			/* twice: nothing */
	reject(g, CL1, RB);
	ck_assert_int_eq(F.gones, 1);
	ck_assert_int_eq(F.expireds, 0);	/* the caller's conn_reject */
	ck_assert_uint_eq(gw_p2p_nclients(g), 0);

	/* expiry, at expires_at */
	authorize(g, CL1, K1, RA, PORTAL_RES_DNS, "*.corp.test", 100);
	authorize(g, CL1, K1, RB, PORTAL_RES_CIDR, "10.0.0.0/8", 200);
	ck_assert_uint_eq(gw_p2p_expire(g, 99), 100);
	ck_assert_uint_eq(gw_p2p_expire(g, 100), 200);
	ck_assert_int_eq(F.expireds, 1);
	ck_assert_str_eq(F.expired, CL1 " " RA);
	ck_assert_int_eq(F.gones, 1);
	ck_assert_int_eq(assigned(g, K1, RA, "app.corp.test", 4), 0);
	ck_assert_int_eq(F.resolves, 0);	/* gone with the access */
	ck_assert_uint_eq(gw_p2p_expire(g, 300), 0);
	ck_assert_int_eq(F.gones, 2);
	ck_assert_int_eq(F.expireds, 2);

	/* init: the unlisted go, the listed get the new expiry */
	authorize(g, CL1, K1, RA, PORTAL_RES_DNS, "*.corp.test", 0);
	authorize(g, CL2, K2, RB, PORTAL_RES_DNS, "db.corp.test", 0);
	memset(&m, 0, sizeof(m));
	m.type = PM_GATEWAY_INIT;
	memset(pa, 0, sizeof(pa));
	snprintf(pa[0].client_id, sizeof(pa[0].client_id), CL1);
	snprintf(pa[0].resource_id, sizeof(pa[0].resource_id), RA);
	pa[0].expires_at = 500;
	m.u.gateway_init.authorizations = pa;
	m.u.gateway_init.n_authorizations = 1;
	gw_p2p_portal_msg(g, &m, 10);
	ck_assert_int_eq(F.gones, 3);
	ck_assert_str_eq(F.gone, CL2 " " K2);
	ck_assert_str_eq(F.expired, CL2 " " RB);
	ck_assert_uint_eq(gw_p2p_nclients(g), 1);
	ck_assert_uint_eq(gw_p2p_expire(g, 20), 500);
	/* the listed DNS access still works */
	ck_assert_int_eq(assigned(g, K1, RA, "x.corp.test", 4), 0);
	ck_assert_int_eq(F.resolves, 1);
	/* resource_updated: the new pattern; the pending one answers */
	memset(&m, 0, sizeof(m));
	m.type = PM_RESOURCE_UPDATED;
	m.u.resource.type = PORTAL_RES_DNS;
	snprintf(m.u.resource.id, sizeof(m.u.resource.id), RA);
	snprintf(m.u.resource.address, sizeof(m.u.resource.address),
	    "only.corp.test");
	gw_p2p_portal_msg(g, &m, 10);
	F.cb(F.cbarg, 0, "192.0.2.1");
	ck_assert_int_eq(F.nat_sets, 0);	/* no longer its domain */
	ck_assert_int_eq(assigned(g, K1, RA, "only.corp.test", 4), 0);
	ck_assert_int_eq(F.resolves, 2);
	/* freed with a resolution in flight: its callback is harmless */
	gw_p2p_free(g);
	F.cb(F.cbarg, 0, "192.0.2.1");
	ck_assert_int_eq(F.nat_sets, 0);
}
END_TEST

static Suite *
gw_p2p_suite(void)
{
	Suite *s = suite_create("gw_p2p");
	TCase *tc = tcase_create("gw_p2p");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_active);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_lifetime);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(gw_p2p_suite)
