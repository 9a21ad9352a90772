/* SPDX-License-Identifier: ISC */
/*
 * A control packet from a client, as a gateway's fz-controld takes it
 * (gw_p2p_up) with that client authorized for a DNS resource: every
 * answer it sends (DNSNAT_SET's status, P2P_DOWN) must parse as a
 * domain_status for the domain asked about; the resolution completes at
 * once, alternately with addresses and with a failure.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gw_p2p.h"
#include "p2p.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define KEY	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define CID	"11111111-1111-4111-8111-111111111111"
#define RID	"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"

static unsigned calls;

static void
check(const uint8_t *pkt, size_t len)
{
	struct p2p_msg m;

	if (p2p_parse(pkt, len, &m) != 0 || m.type != P2P_DOMAIN_STATUS)
		abort();
}

static int
f_resolve(void *arg, const char *domain, gw_resolve_cb cb, void *cbarg)
{
	(void)arg;
	(void)domain;
	if (++calls % 2)
		cb(cbarg, 0, "192.0.2.1, 2001:db8::1");
	else
		cb(cbarg, -EAGAIN, "");
	return 0;
}

static void
f_nat_set(void *arg, const struct gw_p2p_nat *n)
{
	(void)arg;
	check(n->status, n->status_len);
}

static void
f_down(void *arg, const char *key, const uint8_t *pkt, size_t len)
{
	(void)arg;
	(void)key;
	check(pkt, len);
}

static const struct gw_p2p_ops ops = {
	.resolve = f_resolve, .nat_set = f_nat_set, .down = f_down,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gw_p2p *g;
	struct portal_msg m;
	uint8_t *copy;

	if (g == NULL) {
		if ((g = gw_p2p_new(&ops, NULL)) == NULL)
			abort();
		memset(&m, 0, sizeof(m));
		m.type = PM_CREATE_AUTHORIZATION;
		strcpy(m.u.create_authorization.client.id, CID);
		strcpy(m.u.create_authorization.client.public_key, KEY);
		strcpy(m.u.create_authorization.client.ipv4, "100.64.0.7");
		strcpy(m.u.create_authorization.resource.id, RID);
		strcpy(m.u.create_authorization.resource.address,
		    "*.corp.test");
		m.u.create_authorization.resource.type = PORTAL_RES_DNS;
		gw_p2p_portal_msg(g, &m, 1);
	}
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	(void)gw_p2p_up(g, KEY, copy, size, 2);
	free(copy);
	return 0;
}
