/* SPDX-License-Identifier: ISC */
/*
 * controld's connection manager on a fake clock: dst -> resource mapping,
 * the request_authorization debounce, and a Client and a Gateway manager
 * wired back to back (candidates through a fake portal, datagrams through a
 * fake network) until both send PEER_SET for the direct path.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "conn.h"
#include "fztime.h"
#include "log.h"
#include "relay.h"

#define MS	1000000ULL
#define SEC	(1000 * MS)
#define GW_ID	"22222222-2222-4222-8222-222222222222"
#define CL_ID	"11111111-1111-4111-8111-111111111111"
#define RES_A	"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define RES_B	"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"

struct dgram {
	uint32_t		 sock;
	union fz_sockaddr	 to;
	uint8_t			 buf[1500];
	size_t			 len;
	uint64_t		 seq;		/* when it was sent */
};

/*
 * Order across both sides: every datagram sent and every first PEER_SET
 * takes the next number; g_cur is the datagram being delivered.
 */
static uint64_t g_seq, g_cur;

struct side {
	struct conn_mgr		*m;
	struct side		*other;
	struct dgram		 q[256];
	unsigned		 nq;
	unsigned		 nreq, nset, ndel;
	char			 last_res[64];
	size_t			 last_ngw;
	char			 set_peer[64], set_key[64], set_allowed[256];
	char			 set_remote[ADDR_STRLEN], set_relay[ADDR_STRLEN];
	uint32_t		 set_sock, set_channel;
	bool			 set_initiate;
	char			 cands[32][ICE_CAND_MAXLEN + 1];
	char			 cand_peer[64];
	unsigned		 ncands;
	char			 inval[8][ICE_CAND_MAXLEN + 1];
	unsigned		 ninval;
	unsigned		 online;
	uint64_t		 rng;
	uint64_t		 first_set_seq;	/* the first PEER_SET */
	uint64_t		 set_by;	/* the datagram that led to it */
	bool			 drop_requests;	/* its Binding requests lost */
};

static void
o_dgram(void *arg, uint32_t sock, const struct sockaddr *to,
    const uint8_t *b, size_t len)
{
	struct side *s = arg;
	struct dgram *d;

	if (s->nq >= 256 || len > sizeof(d->buf))
		return;
	d = &s->q[s->nq++];
	d->sock = sock;
	d->seq = ++g_seq;
	memcpy(&d->to, to, addr_len(to));
	memcpy(d->buf, b, len);
	d->len = len;
}

static void
o_peer_set(void *arg, const struct conn_peer_path *p)
{
	struct side *s = arg;

	if (s->nset == 0) {
		s->first_set_seq = ++g_seq;
		s->set_by = g_cur;
	}
	s->nset++;
	snprintf(s->set_peer, sizeof(s->set_peer), "%s", p->peer_id);
	snprintf(s->set_key, sizeof(s->set_key), "%s", p->public_key);
	snprintf(s->set_allowed, sizeof(s->set_allowed), "%s", p->allowed_ips);
	snprintf(s->set_remote, sizeof(s->set_remote), "%s", p->remote);
	snprintf(s->set_relay, sizeof(s->set_relay), "%s", p->relay);
	s->set_sock = p->sock;
	s->set_channel = p->channel;
	s->set_initiate = p->initiate;
}

static void
o_peer_del(void *arg, const char *id, const char *key)
{
	struct side *s = arg;

	(void)id;
	(void)key;
	s->ndel++;
}

static void
o_req(void *arg, const char *rid, const portal_id *gw, size_t n)
{
	struct side *s = arg;

	(void)gw;
	s->nreq++;
	snprintf(s->last_res, sizeof(s->last_res), "%s", rid);
	s->last_ngw = n;
}

static void
o_cands(void *arg, const char *peer, char (*c)[ICE_CAND_MAXLEN + 1],
    size_t n)
{
	struct side *s = arg;
	size_t i;

	snprintf(s->cand_peer, sizeof(s->cand_peer), "%s", peer);
	for (i = 0; i < n && s->ncands < 32; i++)
		snprintf(s->cands[s->ncands++], ICE_CAND_MAXLEN + 1, "%s",
		    c[i]);
}

static void
o_inval(void *arg, const char *peer, char (*c)[ICE_CAND_MAXLEN + 1],
    size_t n)
{
	struct side *s = arg;
	size_t i;

	(void)peer;
	for (i = 0; i < n && s->ninval < 8; i++)
		snprintf(s->inval[s->ninval++], ICE_CAND_MAXLEN + 1, "%s",
		    c[i]);
}

static void
o_status(void *arg, const char *rid, bool online)
{
	struct side *s = arg;

	(void)rid;
	s->online += online;
}

static void
o_rng(void *arg, void *buf, size_t len)
{
	struct side *s = arg;
	uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		s->rng = s->rng * 6364136223846793005ULL + 1442695040888963407ULL;
		b[i] = (uint8_t)(s->rng >> 56);
	}
}

static const struct conn_ops ops = {
	.dgram = o_dgram, .peer_set = o_peer_set, .peer_del = o_peer_del,
	.request_authorization = o_req, .candidates = o_cands,
	.invalidated = o_inval, .resource_status = o_status, .rng = o_rng,
};

static void
add_res(struct conn_mgr *m, const char *id, const char *cidr, bool dns)
{
	struct portal_resource r;

	memset(&r, 0, sizeof(r));
	r.type = dns ? PORTAL_RES_DNS : PORTAL_RES_CIDR;
	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.address, sizeof(r.address), "%s", cidr);
	conn_resource_upsert(m, &r);
}

START_TEST(test_mapping)
{
	struct side s = { .rng = 1 };
	struct conn_mgr *m;

	ck_assert_int_eq(conn_new(false, &ops, &s, &m), 0);
	add_res(m, RES_A, "10.50.0.0/16", false);
	add_res(m, RES_B, "10.50.1.0/24", false);
	add_res(m, "cccccccc-cccc-4ccc-8ccc-cccccccccccc", "*.example.com",
	    true);
	ck_assert_str_eq(conn_resource_for(m, "10.50.1.7"), RES_B);
	ck_assert_str_eq(conn_resource_for(m, "10.50.2.7"), RES_A);
	ck_assert_ptr_null(conn_resource_for(m, "10.51.0.1"));
	ck_assert_ptr_null(conn_resource_for(m, "not an address"));
	/* deleting the narrower one falls back to the wider */
	conn_resource_delete(m, RES_B);
	ck_assert_str_eq(conn_resource_for(m, "10.50.1.7"), RES_A);
	ck_assert_int_eq(conn_wanted(m, "10.51.0.1", 0), -ENOENT);
	ck_assert_int_eq(conn_wanted(m, "zzz", 0), -EINVAL);
	conn_free(m);
}
END_TEST

START_TEST(test_debounce)
{
	struct side s = { .rng = 1 };
	struct conn_mgr *m;
	uint64_t t = 100 * SEC;

	ck_assert_int_eq(conn_new(false, &ops, &s, &m), 0);
	add_res(m, RES_A, "10.50.0.0/16", false);
	ck_assert_int_eq(conn_wanted(m, "10.50.0.1", t), 0);
	ck_assert_uint_eq(s.nreq, 1);
	ck_assert_str_eq(s.last_res, RES_A);
	ck_assert_uint_eq(s.last_ngw, 0);
	/* same resource, another address, within 2 s: debounced */
	ck_assert_int_eq(conn_wanted(m, "10.50.9.9", t + 1999 * MS),
	    -EALREADY);
	ck_assert_uint_eq(s.nreq, 1);
	ck_assert_int_eq(conn_wanted(m, "10.50.0.1", t + 2 * SEC), 0);
	ck_assert_uint_eq(s.nreq, 2);
	/* another resource is not held back by the first */
	add_res(m, RES_B, "192.0.2.0/24", false);
	ck_assert_int_eq(conn_wanted(m, "192.0.2.1", t + 2 * SEC), 0);
	ck_assert_uint_eq(s.nreq, 3);
	ck_assert_str_eq(s.last_res, RES_B);
	conn_free(m);
}
END_TEST

START_TEST(test_bad_sockets)
{
	struct side s = { .rng = 1 };
	struct conn_mgr *m;

	ck_assert_int_eq(conn_new(true, &ops, &s, &m), 0);
	ck_assert_int_eq(conn_set_sockets(m, "0=10.0.0.1", 0), -EINVAL);
	ck_assert_int_eq(conn_set_sockets(m, "x=10.0.0.1:1", 0), -EINVAL);
	ck_assert_int_eq(conn_set_sockets(m, "0 10.0.0.1:1", 0), -EINVAL);
	ck_assert_int_eq(conn_set_sockets(m,
	    "0=10.0.0.1:51820, 1=[fd00::1]:51820", 0), 0);
	ck_assert_int_eq(conn_set_sockets(m, "", 0), 0);
	conn_free(m);
}
END_TEST

/* Delivers every queued datagram of `from` to the side owning `to`. */
static unsigned
deliver(struct side *from, const char *from_addr, uint64_t now)
{
	union fz_sockaddr src;
	unsigned i, n = from->nq;

	ck_assert_int_eq(addr_parse(from_addr, ADDR_PORT_REQUIRED, &src), 0);
	from->nq = 0;
	for (i = 0; i < n; i++) {
		if (from->drop_requests && from->q[i].len >= 2 &&
		    from->q[i].buf[0] == 0 && from->q[i].buf[1] == 1)
			continue;		/* a Binding request */
		g_cur = from->q[i].seq;
		(void)conn_dgram_up(from->other->m, 0, &src.sa, from->q[i].buf,
		    from->q[i].len, now);
	}
	return n;
}

static void
signal_cands(struct side *from, const char *as_id, uint64_t now)
{
	char c[32][PORTAL_CAND_MAX + 1];
	unsigned i, n = from->ncands;

	for (i = 0; i < n; i++)
		snprintf(c[i], sizeof(c[i]), "%s", from->cands[i]);
	from->ncands = 0;
	if (n > 0)
		conn_remote_candidates(from->other->m, as_id, c, n, false,
		    now);
}

START_TEST(test_connect_direct)
{
	static struct side cl = { .rng = 1 }, gw = { .rng = 2 };
	struct portal_authorization_created ac;
	struct portal_create_authorization ca;
	enum ice_state st;
	uint64_t t = 1000 * SEC;
	int i;

	cl.other = &gw;
	gw.other = &cl;
	ck_assert_int_eq(conn_new(false, &ops, &cl, &cl.m), 0);
	ck_assert_int_eq(conn_new(true, &ops, &gw, &gw.m), 0);
	ck_assert_int_eq(conn_set_sockets(cl.m, "0=192.0.2.1:40000", t), 0);
	ck_assert_int_eq(conn_set_sockets(gw.m, "0=198.51.100.1:51820", t),
	    0);
	add_res(cl.m, RES_A, "10.50.0.0/24", false);
	ck_assert_int_eq(conn_wanted(cl.m, "10.50.0.9", t), 0);

	/* the portal: create_authorization to the gateway ... */
	memset(&ca, 0, sizeof(ca));
	snprintf(ca.resource.id, sizeof(ca.resource.id), RES_A);
	snprintf(ca.client.id, sizeof(ca.client.id), CL_ID);
	snprintf(ca.client.public_key, sizeof(ca.client.public_key),
	    "CLIENTKEYCLIENTKEYCLIENTKEYCLIENTKEYCLIENT=");
	snprintf(ca.client.ipv4, sizeof(ca.client.ipv4), "100.64.0.1");
	snprintf(ca.client.ipv6, sizeof(ca.client.ipv6), "fd00:2021:1111::1");
	snprintf(ca.gateway_ice.username, 64, "gwufrag");
	snprintf(ca.gateway_ice.password, 64, "gwpasswordgwpasswordgwpw");
	snprintf(ca.client_ice.username, 64, "clufrag");
	snprintf(ca.client_ice.password, 64, "clpasswordclpasswordclpw");
	ck_assert_int_eq(conn_create_authorization(gw.m, &ca, t), 0);
	ck_assert_uint_ge(gw.ncands, 1);
	ck_assert_str_eq(gw.cand_peer, CL_ID);
	ck_assert_ptr_nonnull(strstr(gw.cands[0], "198.51.100.1 51820 typ host"));
	/* ... authorization_created to the client */
	memset(&ac, 0, sizeof(ac));
	snprintf(ac.resource_id, sizeof(ac.resource_id), RES_A);
	snprintf(ac.gateway_id, sizeof(ac.gateway_id), GW_ID);
	snprintf(ac.gateway_public_key, sizeof(ac.gateway_public_key),
	    "GATEWAYKEYGATEWAYKEYGATEWAYKEYGATEWAYKEYGA=");
	snprintf(ac.gateway_ipv4, sizeof(ac.gateway_ipv4), "100.64.0.2");
	snprintf(ac.gateway_ipv6, sizeof(ac.gateway_ipv6),
	    "fd00:2021:1111::2");
	ac.client_ice = ca.client_ice;
	ac.gateway_ice = ca.gateway_ice;
	/* the gateway's candidates reach the client before its agent */
	signal_cands(&gw, GW_ID, t);
	ck_assert_int_eq(conn_authorization_created(cl.m, &ac, t), 0);
	ck_assert_str_eq(cl.cand_peer, GW_ID);
	/* connecting: no second request, even past the debounce */
	ck_assert_int_eq(conn_wanted(cl.m, "10.50.0.9", t + 5 * SEC),
	    -EALREADY);
	ck_assert_uint_eq(cl.nreq, 1);
	signal_cands(&cl, CL_ID, t);

	for (i = 0; i < 200 && (cl.nset == 0 || gw.nset == 0); i++) {
		t += 5 * MS;
		conn_tick(cl.m, t);
		conn_tick(gw.m, t);
		deliver(&cl, "192.0.2.1:40000", t);
		deliver(&gw, "198.51.100.1:51820", t);
	}
	ck_assert_uint_ge(cl.nset, 1);
	ck_assert_uint_ge(gw.nset, 1);
	ck_assert_str_eq(cl.set_peer, GW_ID);
	ck_assert_str_eq(cl.set_key,
	    "GATEWAYKEYGATEWAYKEYGATEWAYKEYGATEWAYKEYGA=");
	ck_assert_str_eq(cl.set_allowed,
	    "100.64.0.2/32, fd00:2021:1111::2/128, 10.50.0.0/24");
	ck_assert_str_eq(cl.set_remote, "198.51.100.1:51820");
	ck_assert_str_eq(cl.set_relay, "");
	ck_assert(cl.set_initiate);
	ck_assert_uint_eq(cl.online, 1);
	ck_assert_str_eq(gw.set_peer, CL_ID);
	ck_assert_str_eq(gw.set_allowed,
	    "100.64.0.1/32, fd00:2021:1111::1/128");
	ck_assert_str_eq(gw.set_remote, "192.0.2.1:40000");
	ck_assert(!gw.set_initiate);
	ck_assert_int_eq(conn_peer_state(cl.m, GW_ID, &st), 0);
	ck_assert_int_eq(st, ICE_STATE_CONNECTED);
	/* connected: no more authorization requests for the resource */
	ck_assert_int_eq(conn_wanted(cl.m, "10.50.0.9", t + 10 * SEC),
	    -EALREADY);
	/* a second resource on the same gateway reuses the agent */
	add_res(cl.m, RES_B, "10.60.0.0/24", false);
	ck_assert_int_eq(conn_wanted(cl.m, "10.60.0.1", t + 10 * SEC), 0);
	ck_assert_uint_eq(cl.last_ngw, 1);
	snprintf(ac.resource_id, sizeof(ac.resource_id), RES_B);
	i = (int)cl.nset;
	ck_assert_int_eq(conn_authorization_created(cl.m, &ac, t), 0);
	ck_assert_uint_eq(conn_npeers(cl.m), 1);
	ck_assert_uint_eq(cl.nset, (unsigned)i + 1);
	ck_assert_str_eq(cl.set_allowed, "100.64.0.2/32, "
	    "fd00:2021:1111::2/128, 10.50.0.0/24, 10.60.0.0/24");
	/* the client restarted (new ICE credentials, same key): the
	 * gateway starts over with a new agent */
	snprintf(ca.client_ice.username, 64, "clufrag2");
	ck_assert_int_eq(conn_create_authorization(gw.m, &ca, t), 0);
	ck_assert_uint_eq(gw.ndel, 1);
	ck_assert_uint_eq(conn_npeers(gw.m), 1);
	ck_assert_int_eq(conn_peer_state(gw.m, CL_ID, &st), 0);
	ck_assert_int_eq(st, ICE_STATE_CHECKING);
	/* the gateway says goodbye (§4.6): the client drops it (PEER_DEL)
	 * and asks for authorization again on the next packet */
	ck_assert_int_eq(conn_goodbye(cl.m, "NOSUCHKEY", t), -ENOENT);
	ck_assert_uint_eq(cl.ndel, 0);
	ck_assert_int_eq(conn_goodbye(cl.m,
	    "GATEWAYKEYGATEWAYKEYGATEWAYKEYGATEWAYKEYGA=", t), 0);
	ck_assert_uint_eq(cl.ndel, 1);
	ck_assert_uint_eq(conn_npeers(cl.m), 0);
	i = (int)cl.nreq;
	ck_assert_int_eq(conn_wanted(cl.m, "10.50.0.9", t + 20 * SEC), 0);
	ck_assert_uint_eq(cl.nreq, (unsigned)i + 1);

	conn_free(cl.m);
	conn_free(gw.m);
	ck_assert_uint_eq(cl.ndel, 1);	/* dropped by the goodbye */
	ck_assert_uint_eq(gw.ndel, 1);	/* the new one was never set */
}
END_TEST

/* A DNS resource: by id from a proxy IP (issue 14); its gateway's allowed
 * IPs are the proxy IPs packets were seen for. */
START_TEST(test_dns_resource)
{
	static struct side cl = { .rng = 3 }, gw = { .rng = 4 };
	struct portal_authorization_created ac;
	struct portal_create_authorization ca;
	uint64_t t = 1000 * SEC;
	unsigned n;
	int i;

	cl.other = &gw;
	gw.other = &cl;
	ck_assert_int_eq(conn_new(false, &ops, &cl, &cl.m), 0);
	ck_assert_int_eq(conn_new(true, &ops, &gw, &gw.m), 0);
	ck_assert_int_eq(conn_set_sockets(cl.m, "0=192.0.2.1:40000", t), 0);
	ck_assert_int_eq(conn_set_sockets(gw.m, "0=198.51.100.1:51820", t),
	    0);
	add_res(cl.m, RES_A, "*.corp.test", true);
	/* not by prefix, and nothing for an unknown id or a bad address */
	ck_assert_ptr_null(conn_resource_for(cl.m, "100.96.0.1"));
	ck_assert_int_eq(conn_wanted(cl.m, "100.96.0.1", t), -ENOENT);
	ck_assert_int_eq(conn_wanted_dns(cl.m, RES_B, "100.96.0.1", t),
	    -ENOENT);
	ck_assert_int_eq(conn_wanted_dns(cl.m, RES_A, "zzz", t), -EINVAL);
	ck_assert_int_eq(conn_wanted_dns(gw.m, RES_A, "100.96.0.1", t),
	    -EINVAL);
	ck_assert_int_eq(conn_wanted_dns(cl.m, RES_A, "100.96.0.1", t), 0);
	ck_assert_uint_eq(cl.nreq, 1);
	ck_assert_str_eq(cl.last_res, RES_A);
	/* another proxy IP of it within 2 s: debounced, but remembered */
	ck_assert_int_eq(conn_wanted_dns(cl.m, RES_A, "fd00:2021:1111:8000::1",
	    t + SEC), -EALREADY);
	ck_assert_uint_eq(cl.nreq, 1);
	/* SRV/TXT (§4.4): no gateway yet; asking is debounced the same */
	{
		union fz_sockaddr sg;

		ck_assert_int_eq(conn_site_gateway(cl.m, RES_A, AF_INET, &sg),
		    -ENOENT);
		ck_assert_int_eq(conn_wanted_site(cl.m, RES_B, t), -ENOENT);
		ck_assert_int_eq(conn_wanted_site(gw.m, RES_A, t), -EINVAL);
		ck_assert_int_eq(conn_wanted_site(cl.m, RES_A, t + SEC),
		    -EALREADY);
		ck_assert_uint_eq(cl.nreq, 1);
	}

	memset(&ca, 0, sizeof(ca));
	snprintf(ca.resource.id, sizeof(ca.resource.id), RES_A);
	snprintf(ca.client.id, sizeof(ca.client.id), CL_ID);
	snprintf(ca.client.public_key, sizeof(ca.client.public_key),
	    "CLIENTKEYCLIENTKEYCLIENTKEYCLIENTKEYCLIENT=");
	snprintf(ca.client.ipv4, sizeof(ca.client.ipv4), "100.64.0.1");
	snprintf(ca.gateway_ice.username, 64, "gwufrag");
	snprintf(ca.gateway_ice.password, 64, "gwpasswordgwpasswordgwpw");
	snprintf(ca.client_ice.username, 64, "clufrag");
	snprintf(ca.client_ice.password, 64, "clpasswordclpasswordclpw");
	ck_assert_int_eq(conn_create_authorization(gw.m, &ca, t), 0);
	memset(&ac, 0, sizeof(ac));
	snprintf(ac.resource_id, sizeof(ac.resource_id), RES_A);
	snprintf(ac.gateway_id, sizeof(ac.gateway_id), GW_ID);
	snprintf(ac.gateway_public_key, sizeof(ac.gateway_public_key),
	    "GATEWAYKEYGATEWAYKEYGATEWAYKEYGATEWAYKEYGA=");
	snprintf(ac.gateway_ipv4, sizeof(ac.gateway_ipv4), "100.64.0.2");
	ac.client_ice = ca.client_ice;
	ac.gateway_ice = ca.gateway_ice;
	signal_cands(&gw, GW_ID, t);
	ck_assert_int_eq(conn_authorization_created(cl.m, &ac, t), 0);
	{
		union fz_sockaddr sg;

		/* connecting: wait */
		ck_assert_int_eq(conn_site_gateway(cl.m, RES_A, AF_INET, &sg),
		    -EAGAIN);
		ck_assert_int_eq(conn_wanted_site(cl.m, RES_A, t + 3 * SEC),
		    -EALREADY);
	}
	signal_cands(&cl, CL_ID, t);
	for (i = 0; i < 200 && (cl.nset == 0 || gw.nset == 0); i++) {
		t += 5 * MS;
		conn_tick(cl.m, t);
		conn_tick(gw.m, t);
		deliver(&cl, "192.0.2.1:40000", t);
		deliver(&gw, "198.51.100.1:51820", t);
	}
	ck_assert_uint_ge(cl.nset, 1);
	ck_assert_str_eq(cl.set_allowed, "100.64.0.2/32, 100.96.0.1/32, "
	    "fd00:2021:1111:8000::1/128");
	/* connected: its tunnel address; none of the family it lacks */
	{
		union fz_sockaddr sg, want;

		ck_assert_int_eq(conn_site_gateway(cl.m, RES_A, AF_INET, &sg),
		    0);
		ck_assert_int_eq(addr_parse("100.64.0.2", ADDR_PORT_NONE,
		    &want), 0);
		ck_assert(addr_eq(&sg.sa, &want.sa));
		ck_assert_int_eq(conn_site_gateway(cl.m, RES_A, AF_INET6,
		    &sg), -EAFNOSUPPORT);
		ck_assert_int_eq(conn_site_gateway(gw.m, RES_A, AF_INET, &sg),
		    -EINVAL);
	}
	/* connected: a new proxy IP of the resource is routed, no request */
	n = cl.nset;
	ck_assert_int_eq(conn_wanted_dns(cl.m, RES_A, "100.96.0.2",
	    t + 10 * SEC), -EALREADY);
	ck_assert_uint_eq(cl.nreq, 1);
	ck_assert_uint_eq(cl.nset, n + 1);
	ck_assert_str_eq(cl.set_allowed, "100.64.0.2/32, 100.96.0.1/32, "
	    "fd00:2021:1111:8000::1/128, 100.96.0.2/32");
	/* an address whose text ends a known one's is still new */
	ck_assert_int_eq(conn_wanted_dns(cl.m, RES_A, "0.96.0.2",
	    t + 10 * SEC), -EALREADY);
	ck_assert_uint_eq(cl.nset, n + 2);
	ck_assert_str_eq(cl.set_allowed, "100.64.0.2/32, 100.96.0.1/32, "
	    "fd00:2021:1111:8000::1/128, 100.96.0.2/32, 0.96.0.2/32");
	n++;
	/* a known one: nothing set again */
	ck_assert_int_eq(conn_wanted_dns(cl.m, RES_A, "100.96.0.2",
	    t + 10 * SEC), -EALREADY);
	ck_assert_uint_eq(cl.nset, n + 1);
	conn_free(cl.m);
	conn_free(gw.m);
}
END_TEST

/* The Internet Resource (issue 14): whatever no other resource covers asks
 * for it, and its gateway's allowed IPs get the default prefixes. */
START_TEST(test_internet_resource)
{
	static struct side cl = { .rng = 5 }, gw = { .rng = 6 };
	struct portal_authorization_created ac;
	struct portal_create_authorization ca;
	struct portal_resource r;
	uint64_t t = 1000 * SEC;
	int i;

	cl.other = &gw;
	gw.other = &cl;
	ck_assert_int_eq(conn_new(false, &ops, &cl, &cl.m), 0);
	ck_assert_int_eq(conn_new(true, &ops, &gw, &gw.m), 0);
	ck_assert_int_eq(conn_set_sockets(cl.m, "0=192.0.2.1:40000", t), 0);
	ck_assert_int_eq(conn_set_sockets(gw.m, "0=198.51.100.1:51820", t),
	    0);
	ck_assert_ptr_null(conn_resource_for(cl.m, "198.51.100.7"));
	memset(&r, 0, sizeof(r));
	r.type = PORTAL_RES_INTERNET;
	snprintf(r.id, sizeof(r.id), RES_B);
	conn_resource_upsert(cl.m, &r);
	add_res(cl.m, RES_A, "10.50.0.0/16", false);
	/* a CIDR resource wins, wherever it sits in the list */
	ck_assert_str_eq(conn_resource_for(cl.m, "10.50.1.7"), RES_A);
	ck_assert_str_eq(conn_resource_for(cl.m, "198.51.100.7"), RES_B);
	ck_assert_str_eq(conn_resource_for(cl.m, "2001:db8::7"), RES_B);
	/* private ones too: the gateway refuses them (flt_is_special) */
	ck_assert_str_eq(conn_resource_for(cl.m, "10.99.5.2"), RES_B);
	/* never fz's own ranges (another client, a proxy IP, a sentinel) */
	ck_assert_ptr_null(conn_resource_for(cl.m, "100.64.0.9"));
	ck_assert_ptr_null(conn_resource_for(cl.m, "100.96.0.1"));
	ck_assert_ptr_null(conn_resource_for(cl.m, "fd00:2021:1111:8000::1"));
	ck_assert_int_eq(conn_wanted(cl.m, "100.64.0.9", t), -ENOENT);
	ck_assert_int_eq(conn_wanted(cl.m, "198.51.100.7", t), 0);
	ck_assert_uint_eq(cl.nreq, 1);
	ck_assert_str_eq(cl.last_res, RES_B);

	memset(&ca, 0, sizeof(ca));
	snprintf(ca.resource.id, sizeof(ca.resource.id), RES_B);
	snprintf(ca.client.id, sizeof(ca.client.id), CL_ID);
	snprintf(ca.client.public_key, sizeof(ca.client.public_key),
	    "CLIENTKEYCLIENTKEYCLIENTKEYCLIENTKEYCLIENT=");
	snprintf(ca.client.ipv4, sizeof(ca.client.ipv4), "100.64.0.1");
	snprintf(ca.gateway_ice.username, 64, "gwufrag");
	snprintf(ca.gateway_ice.password, 64, "gwpasswordgwpasswordgwpw");
	snprintf(ca.client_ice.username, 64, "clufrag");
	snprintf(ca.client_ice.password, 64, "clpasswordclpasswordclpw");
	ck_assert_int_eq(conn_create_authorization(gw.m, &ca, t), 0);
	memset(&ac, 0, sizeof(ac));
	snprintf(ac.resource_id, sizeof(ac.resource_id), RES_B);
	snprintf(ac.gateway_id, sizeof(ac.gateway_id), GW_ID);
	snprintf(ac.gateway_public_key, sizeof(ac.gateway_public_key),
	    "GATEWAYKEYGATEWAYKEYGATEWAYKEYGATEWAYKEYGA=");
	snprintf(ac.gateway_ipv4, sizeof(ac.gateway_ipv4), "100.64.0.2");
	ac.client_ice = ca.client_ice;
	ac.gateway_ice = ca.gateway_ice;
	signal_cands(&gw, GW_ID, t);
	ck_assert_int_eq(conn_authorization_created(cl.m, &ac, t), 0);
	signal_cands(&cl, CL_ID, t);
	for (i = 0; i < 200 && (cl.nset == 0 || gw.nset == 0); i++) {
		t += 5 * MS;
		conn_tick(cl.m, t);
		conn_tick(gw.m, t);
		deliver(&cl, "192.0.2.1:40000", t);
		deliver(&gw, "198.51.100.1:51820", t);
	}
	ck_assert_uint_ge(cl.nset, 1);
	ck_assert_str_eq(cl.set_allowed, "100.64.0.2/32, 0.0.0.0/0, ::/0");
	/* connected: another public address is already routed */
	ck_assert_int_eq(conn_wanted(cl.m, "203.0.114.9", t), -EALREADY);
	ck_assert_uint_eq(cl.nreq, 1);
	conn_free(cl.m);
	conn_free(gw.m);
}
END_TEST

/* Whether a STUN message carries an attribute of that type. */
static bool
has_attr(const uint8_t *b, size_t len, uint16_t type)
{
	size_t i = 20, l;

	while (i + 4 <= len) {
		if ((uint16_t)(b[i] << 8 | b[i + 1]) == type)
			return true;
		l = (size_t)(b[i + 2] << 8 | b[i + 3]);
		i += 4 + ((l + 3) & ~(size_t)3);
	}
	return false;
}

START_TEST(test_relays)
{
	struct side s = { .rng = 3 };
	struct portal_relay r[2];
	struct conn_mgr *m;

	memset(r, 0, sizeof(r));
	r[0].type = r[1].type = PORTAL_RELAY_TURN;
	snprintf(r[0].id, sizeof(r[0].id), RES_A);
	snprintf(r[1].id, sizeof(r[1].id), RES_A);
	snprintf(r[0].addr, sizeof(r[0].addr), "203.0.113.9:3478");
	snprintf(r[1].addr, sizeof(r[1].addr), "[2001:db8::9]:3478");
	snprintf(r[0].username, 64, "1700000000:user");
	snprintf(r[0].password, 64, "secret");
	r[1] = r[0];
	snprintf(r[1].addr, sizeof(r[1].addr), "[2001:db8::9]:3478");
	ck_assert_int_eq(conn_new(false, &ops, &s, &m), 0);
	ck_assert_int_eq(conn_set_sockets(m, "3=192.0.2.1:40000", 0), 0);
	conn_set_relays(m, r, 2, 0);
	/* no IPv6 socket: only the IPv4 address gets a TURN client */
	ck_assert_uint_eq(conn_nrelays(m), 1);
	ck_assert_uint_eq(s.nq, 1);	/* the first Allocate */
	ck_assert_uint_eq(s.q[0].sock, 3);
	ck_assert_int_eq(s.q[0].to.sa.sa_family, AF_INET);
	/* dual stack (§3.4): IPv4 plus ADDITIONAL-ADDRESS-FAMILY IPv6 */
	ck_assert(has_attr(s.q[0].buf, s.q[0].len,
	    TURN_A_ADDITIONAL_ADDRESS_FAMILY));
	/* both families local: still one allocation, on the IPv4 address */
	s.nq = 0;
	ck_assert_int_eq(conn_set_sockets(m, "3=192.0.2.1:40000, "
	    "4=[2001:db8::1]:40000", 0), 0);
	ck_assert_uint_eq(conn_nrelays(m), 1);
	ck_assert_uint_eq(s.nq, 0);
	/* the IPv4 socket goes: the relay moves to its IPv6 address */
	ck_assert_int_eq(conn_set_sockets(m, "4=[2001:db8::1]:40000", 0), 0);
	ck_assert_uint_eq(conn_nrelays(m), 1);
	ck_assert_uint_eq(s.nq, 1);
	ck_assert_uint_eq(s.q[0].sock, 4);
	ck_assert_int_eq(s.q[0].to.sa.sa_family, AF_INET6);
	ck_assert(has_attr(s.q[0].buf, s.q[0].len,
	    TURN_A_ADDITIONAL_ADDRESS_FAMILY));
	s.nq = 0;
	ck_assert_int_eq(conn_set_sockets(m, "3=192.0.2.1:40000", 0), 0);
	ck_assert_uint_eq(conn_nrelays(m), 1);
	s.nq = 0;
	ck_assert_uint_ne(conn_deadline(m), UINT64_MAX);
	/* the relay vanishes */
	conn_set_relays(m, NULL, 0, SEC);
	ck_assert_uint_eq(conn_nrelays(m), 0);
	ck_assert_uint_eq(conn_deadline(m), UINT64_MAX);
	conn_free(m);

	/* relays before sockets: allocated once a socket of the family
	 * comes; no host candidate on a tunnel address */
	memset(&s, 0, sizeof(s));
	s.rng = 4;
	ck_assert_int_eq(conn_new(false, &ops, &s, &m), 0);
	conn_set_relays(m, r, 2, 0);
	ck_assert_uint_eq(conn_nrelays(m), 0);
	ck_assert_int_eq(conn_set_sockets(m, "3=100.64.0.5:40000, "
	    "4=[fd00:2021:1111::5]:40000, 3=192.0.2.1:40000", SEC), 0);
	ck_assert_uint_eq(conn_nrelays(m), 1);
	ck_assert_uint_eq(s.nq, 1);
	ck_assert_uint_eq(s.q[0].sock, 3);
	{
		struct portal_authorization_created ac;

		memset(&ac, 0, sizeof(ac));
		snprintf(ac.resource_id, sizeof(ac.resource_id), RES_A);
		snprintf(ac.gateway_id, sizeof(ac.gateway_id), GW_ID);
		snprintf(ac.gateway_public_key, 8, "GK=");
		snprintf(ac.client_ice.username, 64, "clufrag");
		snprintf(ac.client_ice.password, 64, "clpasswordclpasswordclpw");
		snprintf(ac.gateway_ice.username, 64, "gwufrag");
		snprintf(ac.gateway_ice.password, 64, "gwpasswordgwpasswordgwpw");
		ck_assert_int_eq(conn_authorization_created(m, &ac, SEC), 0);
	}
	ck_assert_uint_eq(s.ncands, 1);
	ck_assert_ptr_nonnull(strstr(s.cands[0], "192.0.2.1 40000 typ host"));
	conn_free(m);
}
END_TEST
/*
 * The same two managers with the direct path blocked and fz-relayd's TURN
 * core (relayd/relay.c, fake sockets, fake clock) in between: both sides
 * allocate, the checks go through the relay, and both end with a path
 * through it (a channel on one side at least).
 */
#define RELAY_SECRET	"s3cret"
#define RELAY_CTL	"203.0.113.9:3478"
#define CL_HOST		"192.0.2.1:40000"
#define GW_HOST		"198.51.100.1:51820"

static struct {
	struct relay		*r;
	struct relay_alloc	*allocs[8];
	unsigned		 nallocs;
	uint16_t		 next_port;
	struct side		*cl, *gw;
	union fz_sockaddr	 ctl, clh, gwh;
	bool			 block_direct;
	unsigned		 relayed;	/* datagrams relayed to peers */
	unsigned		 nochan;	/* ChannelData before its bind */
} N;

static void	route(const struct sockaddr *from, const struct sockaddr *to,
		    const uint8_t *, size_t);

static int
n_open(void *arg, struct relay_alloc *a, bool want4, bool want6)
{
	(void)arg;
	if (N.nallocs >= 8)
		return -ENOSPC;
	if (a->port == 0)
		a->port = N.next_port += 2;
	a->fd4 = want4 ? 100 : -1;
	a->fd6 = want6 ? 101 : -1;
	N.allocs[N.nallocs++] = a;
	return 0;
}

static void
n_close(void *arg, struct relay_alloc *a)
{
	unsigned i;

	(void)arg;
	for (i = 0; i < N.nallocs; i++)
		if (N.allocs[i] == a)
			N.allocs[i] = N.allocs[--N.nallocs];
}

static void
alloc_addr(const struct relay_alloc *a, union fz_sockaddr *out)
{
	*out = N.ctl;
	addr_set_port(&out->sa, a->port);
}

static void
n_send_ctl(void *arg, int fd, const struct sockaddr *to, const uint8_t *p,
    size_t n)
{
	(void)arg;
	(void)fd;
	route(&N.ctl.sa, to, p, n);
}

static void
n_send_peer(void *arg, struct relay_alloc *a, const struct sockaddr *to,
    const uint8_t *p, size_t n)
{
	union fz_sockaddr from;

	(void)arg;
	alloc_addr(a, &from);
	N.relayed++;
	route(&from.sa, to, p, n);
}

static void
n_chan(void *arg, struct relay_channel *c)
{
	(void)arg;
	(void)c;
}

static struct side *
side_at(const struct sockaddr *a)
{
	if (addr_eq(a, &N.clh.sa))
		return N.cl;
	if (addr_eq(a, &N.gwh.sa))
		return N.gw;
	return NULL;
}

/* One datagram through the fake network (and the relay). */
static void
route(const struct sockaddr *from, const struct sockaddr *to,
    const uint8_t *p, size_t n)
{
	const struct relay_channel *ch;
	union fz_sockaddr src, peer;
	struct side *s;
	uint8_t fr[1600];
	unsigned i;

	if ((s = side_at(to)) != NULL) {
		if (N.block_direct && side_at(from) != NULL)
			return;
		(void)conn_dgram_up(s->m, 0, from, p, n, time_mono_ns());
		return;
	}
	if (addr_eq(to, &N.ctl.sa)) {
		if (n >= 4 && (p[0] & 0xc0) == 0x40) {	/* ChannelData */
			ch = relay_channel_lookup(N.r, from,
			    (uint16_t)(p[0] << 8 | p[1]));
			if (ch == NULL) {
				N.nochan++;	/* as fz-relayd: dropped */
				return;
			}
			if ((size_t)(p[2] << 8 | p[3]) + 4 > n)
				return;
			alloc_addr(ch->alloc, &src);
			taddr_to_sa(&ch->peer, &peer);
			N.relayed++;
			route(&src.sa, &peer.sa, p + 4,
			    (size_t)(p[2] << 8 | p[3]));
		} else
			relay_stun_in(N.r, 1, from, p, n);
		return;
	}
	for (i = 0; i < N.nallocs; i++) {
		struct relay_alloc *a = N.allocs[i];

		alloc_addr(a, &src);
		if (!addr_eq(to, &src.sa))
			continue;
		if ((ch = relay_peer_in(N.r, a, from, p, n)) != NULL &&
		    n + 4 <= sizeof(fr)) {
			fr[0] = (uint8_t)(ch->number >> 8);
			fr[1] = (uint8_t)ch->number;
			fr[2] = (uint8_t)(n >> 8);
			fr[3] = (uint8_t)n;
			memcpy(fr + 4, p, n);
			taddr_to_sa(&a->client, &peer);
			route(&N.ctl.sa, &peer.sa, fr, n + 4);
		}
		return;
	}
}

static void
flush(struct side *s, const union fz_sockaddr *from)
{
	struct dgram q[256];
	unsigned i, n = s->nq;

	memcpy(q, s->q, n * sizeof(q[0]));
	s->nq = 0;
	for (i = 0; i < n; i++) {
		g_cur = q[i].seq;
		route(&from->sa, &q[i].to.sa, q[i].buf, q[i].len);
	}
}

START_TEST(test_connect_relayed)
{
	static struct side cl = { .rng = 5 }, gw = { .rng = 6 };
	struct relay_ops rops = { n_open, n_close, n_send_ctl, n_send_peer,
	    n_chan, n_chan, NULL, n_chan };
	struct relay_config rc;
	struct portal_relay pr[2];
	struct portal_authorization_created ac;
	char list[512];
	unsigned k, r4, r6;
	struct portal_create_authorization ca;
	union fz_sockaddr ra;
	bool cl_via, gw_via;
	uint64_t t0, tcl = 0, tgw = 0;
	int i;

	ck_assert_int_eq(log_init("check_conn", LOG_FORMAT_TEXT, "info"), 0);
	time_fake_enable(1000 * SEC, 1700000000ULL * SEC);
	memset(&N, 0, sizeof(N));
	N.next_port = 50000;
	N.cl = &cl;
	N.gw = &gw;
	N.block_direct = true;
	ck_assert_int_eq(addr_parse(RELAY_CTL, ADDR_PORT_REQUIRED, &N.ctl), 0);
	ck_assert_int_eq(addr_parse(CL_HOST, ADDR_PORT_REQUIRED, &N.clh), 0);
	ck_assert_int_eq(addr_parse(GW_HOST, ADDR_PORT_REQUIRED, &N.gwh), 0);
	memset(&rc, 0, sizeof(rc));
	rc.have4 = rc.have6 = true;
	ck_assert_int_eq(addr_parse("203.0.113.9", ADDR_PORT_NONE,
	    &rc.public4), 0);
	ck_assert_int_eq(addr_parse("2001:db8::9", ADDR_PORT_NONE,
	    &rc.public6), 0);
	rc.static_secret = RELAY_SECRET;
	rc.allow_private_peers = true;
	rc.port_lo = 49152;
	rc.port_hi = 65535;
	ck_assert_int_eq(relay_new(&rc, &rops, &N.r), 0);

	cl.other = &gw;
	gw.other = &cl;
	ck_assert_int_eq(conn_new(false, &ops, &cl, &cl.m), 0);
	ck_assert_int_eq(conn_new(true, &ops, &gw, &gw.m), 0);
	ck_assert_int_eq(conn_set_sockets(cl.m, "0=" CL_HOST, time_mono_ns()),
	    0);
	ck_assert_int_eq(conn_set_sockets(gw.m, "0=" GW_HOST, time_mono_ns()),
	    0);
	/* a dual-stack relay, listed once per family (§1 relay view) */
	memset(pr, 0, sizeof(pr));
	pr[0].type = PORTAL_RELAY_TURN;
	snprintf(pr[0].id, sizeof(pr[0].id), RES_B);
	snprintf(pr[0].addr, sizeof(pr[0].addr), RELAY_CTL);
	snprintf(pr[0].username, sizeof(pr[0].username), "1700009999:alice");
	relay_rest_password(RELAY_SECRET, pr[0].username, pr[0].password,
	    sizeof(pr[0].password));
	pr[1] = pr[0];
	snprintf(pr[1].addr, sizeof(pr[1].addr), "[2001:db8::9]:3478");
	conn_set_relays(cl.m, pr, 2, time_mono_ns());
	conn_set_relays(gw.m, pr, 2, time_mono_ns());
	ck_assert_uint_eq(conn_nrelays(cl.m), 1);
	/* allocations first (as after init), then the authorization */
	for (i = 0; i < 20; i++) {
		flush(&cl, &N.clh);
		flush(&gw, &N.gwh);
	}
	ck_assert_uint_eq(N.nallocs, 2);

	memset(&ca, 0, sizeof(ca));
	snprintf(ca.resource.id, sizeof(ca.resource.id), RES_A);
	snprintf(ca.client.id, sizeof(ca.client.id), CL_ID);
	snprintf(ca.client.public_key, sizeof(ca.client.public_key), "CK=");
	snprintf(ca.client.ipv4, sizeof(ca.client.ipv4), "100.64.0.1");
	snprintf(ca.gateway_ice.username, 64, "gwufrag");
	snprintf(ca.gateway_ice.password, 64, "gwpasswordgwpasswordgwpw");
	snprintf(ca.client_ice.username, 64, "clufrag");
	snprintf(ca.client_ice.password, 64, "clpasswordclpasswordclpw");
	ck_assert_int_eq(conn_create_authorization(gw.m, &ca,
	    time_mono_ns()), 0);
	memset(&ac, 0, sizeof(ac));
	snprintf(ac.resource_id, sizeof(ac.resource_id), RES_A);
	snprintf(ac.gateway_id, sizeof(ac.gateway_id), GW_ID);
	snprintf(ac.gateway_public_key, sizeof(ac.gateway_public_key), "GK=");
	snprintf(ac.gateway_ipv4, sizeof(ac.gateway_ipv4), "100.64.0.2");
	ac.client_ice = ca.client_ice;
	ac.gateway_ice = ca.gateway_ice;
	ck_assert_int_eq(conn_authorization_created(cl.m, &ac,
	    time_mono_ns()), 0);
	/* both sent a relay candidate, of each family: one allocation */
	ck_assert_uint_ge(gw.ncands, 3);
	ck_assert_uint_ge(cl.ncands, 3);
	for (k = 0, r4 = r6 = 0; k < cl.ncands; k++) {
		r4 += strstr(cl.cands[k], " 203.0.113.9 ") != NULL &&
		    strstr(cl.cands[k], " typ relay") != NULL;
		r6 += strstr(cl.cands[k], " 2001:db8::9 ") != NULL &&
		    strstr(cl.cands[k], " typ relay") != NULL;
	}
	ck_assert_uint_eq(r4, 1);
	ck_assert_uint_eq(r6, 1);
	ck_assert_uint_eq(N.nallocs, 2);
	signal_cands(&gw, GW_ID, time_mono_ns());
	signal_cands(&cl, CL_ID, time_mono_ns());

	t0 = time_mono_ns();
	for (i = 0; i < 600 && (cl.nset == 0 || gw.nset == 0); i++) {
		time_fake_advance(20 * MS);
		conn_tick(cl.m, time_mono_ns());
		conn_tick(gw.m, time_mono_ns());
		flush(&cl, &N.clh);
		flush(&gw, &N.gwh);
		if (cl.nset > 0 && tcl == 0)
			tcl = time_mono_ns() - t0;
		if (gw.nset > 0 && tgw == 0)
			tgw = time_mono_ns() - t0;
	}
	ck_assert_uint_ge(cl.nset, 1);
	ck_assert_uint_ge(gw.nset, 1);
	ck_assert_uint_gt(N.relayed, 0);
	/* every ChannelBind went out before the first ChannelData on its
	 * channel (the relay drops ChannelData on an unbound channel, and
	 * the check was only retransmitted ~500 ms later) */
	ck_assert_uint_eq(N.nochan, 0);
	/* the gateway's peer was set before the datagram that let the
	 * client select (and send its first handshake) */
	ck_assert_uint_gt(gw.first_set_seq, 0);
	ck_assert_uint_lt(gw.first_set_seq, cl.set_by);
	/*
	 * Both conclude before the first retransmission (RTO 250 ms): a
	 * check's first ChannelData goes after its ChannelBind, not before
	 * it (dropped by the relay: the check would count only when
	 * retransmitted, 540 ms here before the fix).
	 */
	log_info("relayed: client set its path after %llu ms, gateway after "
	    "%llu ms", (unsigned long long)(tcl / MS),
	    (unsigned long long)(tgw / MS));
	ck_assert_uint_le(tcl, 200 * MS);
	ck_assert_uint_le(tgw, 200 * MS);
	/* each side's path uses the relay: via its allocation, or to the
	 * other side's relayed address */
	cl_via = strcmp(cl.set_relay, RELAY_CTL) == 0;
	gw_via = strcmp(gw.set_relay, RELAY_CTL) == 0;
	ck_assert(cl_via || strncmp(cl.set_remote, "203.0.113.9:", 12) == 0);
	ck_assert(gw_via || strncmp(gw.set_remote, "203.0.113.9:", 12) == 0);
	if (cl_via) {
		ck_assert_uint_ge(cl.set_channel, 0x4000);
		ck_assert_uint_le(cl.set_channel, 0x4fff);
		ck_assert_str_eq(cl.set_remote, "");
		ck_assert_uint_eq(cl.set_sock, 0);
	}
	if (gw_via)
		ck_assert_uint_ge(gw.set_channel, 0x4000);
	/* both report the path as relayed via the relay, whichever end's
	 * allocation it goes through (the client's "direct to" the
	 * gateway's allocation is relayed all the same) */
	ck_assert_int_eq(conn_connections_fmt(cl.m, time_mono_ns(),
	    1700000000, list, sizeof(list)), 0);
	ck_assert_msg(strstr(list, " relayed " RELAY_CTL " ") != NULL, "%s",
	    list);
	ck_assert_int_eq(conn_connections_fmt(gw.m, time_mono_ns(),
	    1700000000, list, sizeof(list)), 0);
	ck_assert_msg(strstr(list, " relayed " RELAY_CTL " ") != NULL, "%s",
	    list);
	ck_assert_int_eq(addr_parse(RELAY_CTL, ADDR_PORT_REQUIRED, &ra), 0);

	/*
	 * The client's NAT changes its public port: the next Refresh (from
	 * the new port) meets 437 (allocation mismatch).  The allocation is
	 * made again from the new port, and a new authorization signals its
	 * relayed candidates (before the fix: none, until the relay left
	 * the list and came back).
	 */
	k = N.nallocs;
	addr_set_port(&N.clh.sa, 40001);
	for (i = 0; i < 1800 && N.nallocs == k; i++) {
		time_fake_advance(SEC);
		conn_tick(cl.m, time_mono_ns());
		conn_tick(gw.m, time_mono_ns());
		flush(&cl, &N.clh);
		flush(&gw, &N.gwh);
	}
	ck_assert_uint_eq(N.nallocs, k + 1);
	for (k = 0; k < 5; k++) {
		time_fake_advance(20 * MS);
		conn_tick(cl.m, time_mono_ns());
		flush(&cl, &N.clh);
	}
	log_info("relayed: allocation made again %d s after the NAT change",
	    i);
	cl.ncands = 0;
	snprintf(ac.client_ice.username, 64, "clufra2");
	snprintf(ac.gateway_ice.username, 64, "gwufra2");
	ck_assert_int_eq(conn_authorization_created(cl.m, &ac,
	    time_mono_ns()), 0);
	for (k = 0, r4 = 0; k < cl.ncands; k++)
		r4 += strstr(cl.cands[k], " 203.0.113.9 ") != NULL &&
		    strstr(cl.cands[k], " typ relay") != NULL;
	ck_assert_uint_eq(r4, 1);

	/* the relay vanishes: its candidates and allocations go */
	conn_set_relays(cl.m, NULL, 0, time_mono_ns());
	ck_assert_uint_eq(conn_nrelays(cl.m), 0);
	conn_free(cl.m);
	conn_free(gw.m);
	relay_free(N.r);
	time_fake_disable();
}
END_TEST

/*
 * A Client and a Gateway manager connected directly (cl at CL_DIRECT, gw
 * at GW_DIRECT), on the fake clock *t.
 */
#define CL_DIRECT	"192.0.2.1:40000"
#define GW_DIRECT	"198.51.100.1:51820"
#define CL_KEY		"CLIENTKEYCLIENTKEYCLIENTKEYCLIENTKEYCLIENT="
#define GW_KEY		"GATEWAYKEYGATEWAYKEYGATEWAYKEYGATEWAYKEYGA="

static void
connect_direct(struct side *cl, struct side *gw, const char *cl_socks,
    uint64_t *t)
{
	struct portal_authorization_created ac;
	struct portal_create_authorization ca;
	int i;

	cl->other = gw;
	gw->other = cl;
	ck_assert_int_eq(conn_new(false, &ops, cl, &cl->m), 0);
	ck_assert_int_eq(conn_new(true, &ops, gw, &gw->m), 0);
	ck_assert_int_eq(conn_set_sockets(cl->m, cl_socks, *t), 0);
	ck_assert_int_eq(conn_set_sockets(gw->m, "0=" GW_DIRECT, *t), 0);
	add_res(cl->m, RES_A, "10.50.0.0/24", false);
	ck_assert_int_eq(conn_wanted(cl->m, "10.50.0.9", *t), 0);
	memset(&ca, 0, sizeof(ca));
	snprintf(ca.resource.id, sizeof(ca.resource.id), RES_A);
	snprintf(ca.client.id, sizeof(ca.client.id), CL_ID);
	snprintf(ca.client.public_key, sizeof(ca.client.public_key), CL_KEY);
	snprintf(ca.client.ipv4, sizeof(ca.client.ipv4), "100.64.0.1");
	snprintf(ca.gateway_ice.username, 64, "gwufrag");
	snprintf(ca.gateway_ice.password, 64, "gwpasswordgwpasswordgwpw");
	snprintf(ca.client_ice.username, 64, "clufrag");
	snprintf(ca.client_ice.password, 64, "clpasswordclpasswordclpw");
	ck_assert_int_eq(conn_create_authorization(gw->m, &ca, *t), 0);
	memset(&ac, 0, sizeof(ac));
	snprintf(ac.resource_id, sizeof(ac.resource_id), RES_A);
	snprintf(ac.gateway_id, sizeof(ac.gateway_id), GW_ID);
	snprintf(ac.gateway_public_key, sizeof(ac.gateway_public_key), GW_KEY);
	snprintf(ac.gateway_ipv4, sizeof(ac.gateway_ipv4), "100.64.0.2");
	ac.client_ice = ca.client_ice;
	ac.gateway_ice = ca.gateway_ice;
	signal_cands(gw, GW_ID, *t);
	ck_assert_int_eq(conn_authorization_created(cl->m, &ac, *t), 0);
	signal_cands(cl, CL_ID, *t);
	for (i = 0; i < 200 && (cl->nset == 0 || gw->nset == 0); i++) {
		*t += 5 * MS;
		conn_tick(cl->m, *t);
		conn_tick(gw->m, *t);
		deliver(cl, CL_DIRECT, *t);
		deliver(gw, GW_DIRECT, *t);
	}
	ck_assert_uint_ge(cl->nset, 1);
	ck_assert_uint_ge(gw->nset, 1);
}

/* PEER_STATS as fz-tunneld sends it, with counters at n. */
static void
stats(struct side *s, const char *key, uint64_t n, uint64_t t)
{
	char l[128];

	snprintf(l, sizeof(l), "%s %llu %llu", key, (unsigned long long)n,
	    (unsigned long long)n / 2);
	ck_assert_int_eq(conn_peer_stats(s->m, l, t), 0);
}

/*
 * Runs both sides for secs seconds in 100 ms steps; traffic: PEER_STATS
 * with moving counters every 5 s; dead: nothing gets through.  Returns the
 * datagrams the client sent, and stops early when the client's agent
 * leaves CONNECTED (*left: when).
 */
static unsigned
run(struct side *cl, struct side *gw, uint64_t *t, unsigned secs,
    bool traffic, bool dead, uint64_t *left)
{
	static uint64_t ctr = 1000, rx = 1000;
	enum ice_state st;
	unsigned i, sent = 0;
	char l[128];

	for (i = 0; i < secs * 10; i++) {
		*t += 100 * MS;
		if (traffic && i % 50 == 0) {
			/* a dead path: only what is sent moves */
			ctr += 1000;
			rx += dead ? 0 : 1000;
			snprintf(l, sizeof(l), GW_KEY " %llu %llu",
			    (unsigned long long)rx, (unsigned long long)ctr);
			ck_assert_int_eq(conn_peer_stats(cl->m, l, *t), 0);
			snprintf(l, sizeof(l), CL_KEY " %llu %llu",
			    (unsigned long long)rx, (unsigned long long)ctr);
			ck_assert_int_eq(conn_peer_stats(gw->m, l, *t), 0);
		}
		conn_tick(cl->m, *t);
		conn_tick(gw->m, *t);
		sent += cl->nq;
		if (dead)
			cl->nq = gw->nq = 0;
		else {
			deliver(cl, CL_DIRECT, *t);
			deliver(gw, GW_DIRECT, *t);
		}
		if (left != NULL && (conn_peer_state(cl->m, GW_ID, &st) != 0 ||
		    st != ICE_STATE_CONNECTED)) {
			*left = *t;
			break;
		}
	}
	return sent;
}

/*
 * The gateway's own checks are lost, so the client validates and nominates
 * a pair the gateway has not validated yet: the gateway still sets the
 * peer (on that pair) before it answers the nomination, so the client's
 * first WireGuard handshake, sent when that answer arrives, finds it
 * (else fz-tunneld refuses it and WireGuard retries only after 5 s).
 */
START_TEST(test_gateway_peer_first)
{
	static struct side cl = { .rng = 7 }, gw = { .rng = 8 };
	struct portal_authorization_created ac;
	struct portal_create_authorization ca;
	uint64_t t = 1000 * SEC;
	unsigned gw_sets;
	int i;

	cl.other = &gw;
	gw.other = &cl;
	gw.drop_requests = true;
	ck_assert_int_eq(conn_new(false, &ops, &cl, &cl.m), 0);
	ck_assert_int_eq(conn_new(true, &ops, &gw, &gw.m), 0);
	ck_assert_int_eq(conn_set_sockets(cl.m, "0=" CL_DIRECT, t), 0);
	ck_assert_int_eq(conn_set_sockets(gw.m, "0=" GW_DIRECT, t), 0);
	add_res(cl.m, RES_A, "10.50.0.0/24", false);
	ck_assert_int_eq(conn_wanted(cl.m, "10.50.0.9", t), 0);
	memset(&ca, 0, sizeof(ca));
	snprintf(ca.resource.id, sizeof(ca.resource.id), RES_A);
	snprintf(ca.client.id, sizeof(ca.client.id), CL_ID);
	snprintf(ca.client.public_key, sizeof(ca.client.public_key), CL_KEY);
	snprintf(ca.client.ipv4, sizeof(ca.client.ipv4), "100.64.0.1");
	snprintf(ca.gateway_ice.username, 64, "gwufrag");
	snprintf(ca.gateway_ice.password, 64, "gwpasswordgwpasswordgwpw");
	snprintf(ca.client_ice.username, 64, "clufrag");
	snprintf(ca.client_ice.password, 64, "clpasswordclpasswordclpw");
	ck_assert_int_eq(conn_create_authorization(gw.m, &ca, t), 0);
	memset(&ac, 0, sizeof(ac));
	snprintf(ac.resource_id, sizeof(ac.resource_id), RES_A);
	snprintf(ac.gateway_id, sizeof(ac.gateway_id), GW_ID);
	snprintf(ac.gateway_public_key, sizeof(ac.gateway_public_key), GW_KEY);
	snprintf(ac.gateway_ipv4, sizeof(ac.gateway_ipv4), "100.64.0.2");
	ac.client_ice = ca.client_ice;
	ac.gateway_ice = ca.gateway_ice;
	signal_cands(&gw, GW_ID, t);
	ck_assert_int_eq(conn_authorization_created(cl.m, &ac, t), 0);
	signal_cands(&cl, CL_ID, t);
	for (i = 0; i < 200 && cl.nset == 0; i++) {
		t += 5 * MS;
		conn_tick(cl.m, t);
		conn_tick(gw.m, t);
		deliver(&cl, CL_DIRECT, t);
		deliver(&gw, GW_DIRECT, t);
	}
	ck_assert_uint_ge(cl.nset, 1);
	ck_assert_str_eq(cl.set_remote, GW_DIRECT);
	/* set before the answer that let the client select */
	ck_assert_uint_ge(gw.nset, 1);
	ck_assert_uint_gt(cl.set_by, 0);
	ck_assert_uint_lt(gw.first_set_seq, cl.set_by);
	ck_assert_str_eq(gw.set_peer, CL_ID);
	ck_assert_str_eq(gw.set_remote, CL_DIRECT);
	ck_assert(!gw.set_initiate);
	/* the gateway's checks get through: its selection is the same path,
	 * not sent again */
	gw.drop_requests = false;
	gw_sets = gw.nset;
	for (i = 0; i < 400; i++) {
		t += 5 * MS;
		conn_tick(cl.m, t);
		conn_tick(gw.m, t);
		deliver(&cl, CL_DIRECT, t);
		deliver(&gw, GW_DIRECT, t);
	}
	ck_assert_uint_eq(gw.nset, gw_sets);
	ck_assert_str_eq(gw.set_remote, CL_DIRECT);
	ck_assert_uint_eq(gw.ndel, 0);
	conn_free(cl.m);
	conn_free(gw.m);
}
END_TEST

/*
 * A connection carrying traffic (PEER_STATS counters moving) longer than
 * the 20 s idle threshold still notices a dead path within the client's
 * active timeout (16.5 s, §2.3).
 */
START_TEST(test_dead_path_noticed)
{
	static struct side cl = { .rng = 3 }, gw = { .rng = 4 };
	uint64_t t = 1000 * SEC, t_block, t_left = 0;
	enum ice_state st;

	connect_direct(&cl, &gw, "0=" CL_DIRECT, &t);
	(void)run(&cl, &gw, &t, 30, true, false, NULL);
	ck_assert_int_eq(conn_peer_state(cl.m, GW_ID, &st), 0);
	ck_assert_int_eq(st, ICE_STATE_CONNECTED);
	/* the path dies (the data plane still sends into it) */
	t_block = t;
	(void)run(&cl, &gw, &t, 25, true, true, &t_left);
	ck_assert_uint_ne(t_left, 0);
	ck_assert_msg(t_left - t_block <= 18 * SEC,
	    "a dead path noticed after %llu ms",
	    (unsigned long long)((t_left - t_block) / MS));
	/* failed while in use: its resource is asked for again at once */
	ck_assert_uint_eq(cl.nreq, 1);
	(void)run(&cl, &gw, &t, 5, true, true, NULL);
	ck_assert_uint_eq(conn_npeers(cl.m), 0);
	ck_assert_uint_eq(cl.nreq, 2);
	conn_free(cl.m);
	conn_free(gw.m);
}
END_TEST

/*
 * Without IP traffic (PEER_STATS counters still) a connection goes idle
 * after 20 s, as Firezone's do: binding checks about every 25 s instead
 * of the active rate, and a dead path is given the idle timeout (100 s
 * on the client), not 16.5 s.  Before, every connection with a path
 * counted as active for ever.  Counters that move wake it again.
 */
START_TEST(test_idle_profile)
{
	static struct side cl = { .rng = 7 }, gw = { .rng = 8 };
	uint64_t t = 1000 * SEC, t_left = 0;
	unsigned active, idle;
	enum ice_state st;

	connect_direct(&cl, &gw, "0=" CL_DIRECT, &t);
	/* a first report, then counters that stay put */
	stats(&cl, GW_KEY, 500, t);
	stats(&gw, CL_KEY, 500, t);
	(void)run(&cl, &gw, &t, 30, false, false, NULL);
	stats(&cl, GW_KEY, 500, t);		/* unchanged: no traffic */
	idle = run(&cl, &gw, &t, 100, false, false, NULL);
	active = run(&cl, &gw, &t, 100, true, false, NULL);
	ck_assert_msg(idle <= 10 && active >= 2 * idle,
	    "100 s idle: %u datagrams, active: %u", idle, active);
	/* idle, the path dies: still connected 20 s later */
	(void)run(&cl, &gw, &t, 30, false, false, NULL);
	(void)run(&cl, &gw, &t, 20, false, true, &t_left);
	ck_assert_uint_eq(t_left, 0);
	ck_assert_int_eq(conn_peer_state(cl.m, GW_ID, &st), 0);
	ck_assert_int_eq(st, ICE_STATE_CONNECTED);
	/* PEER_STATS is parsed strictly; unknown keys are skipped */
	ck_assert_int_eq(conn_peer_stats(cl.m, "", t), 0);
	ck_assert_int_eq(conn_peer_stats(cl.m, "OTHER= 1 2", t), 0);
	ck_assert_int_eq(conn_peer_stats(cl.m, GW_KEY " 1", t), -EINVAL);
	ck_assert_int_eq(conn_peer_stats(cl.m, GW_KEY " 1 2 3", t), -EINVAL);
	ck_assert_int_eq(conn_peer_stats(cl.m, GW_KEY " -1 2", t), -EINVAL);
	ck_assert_int_eq(conn_peer_stats(cl.m, GW_KEY " 01 2", t), -EINVAL);
	ck_assert_int_eq(conn_peer_stats(cl.m, GW_KEY " 1 2; ", t), -EINVAL);
	ck_assert_int_eq(conn_peer_stats(cl.m,
	    GW_KEY " 18446744073709551616 2", t), -EINVAL);
	ck_assert_int_eq(conn_peer_stats(cl.m, "a\tb 1 2", t), -EINVAL);
	ck_assert_int_eq(conn_peer_stats(cl.m, " 1 2", t), -EINVAL);
	conn_free(cl.m);
	conn_free(gw.m);
}
END_TEST

/*
 * LOCAL_SOCKETS shrinks: the address that went away loses its host
 * candidate in the agent (pairs and the selected path with it), the peer
 * is told (invalidate), the new address is signalled, and the connection
 * moves to it.
 */
START_TEST(test_sockets_shrink)
{
	static struct side cl = { .rng = 9 }, gw = { .rng = 10 };
	char c[8][PORTAL_CAND_MAX + 1];
	uint64_t t = 1000 * SEC;
	unsigned i, n, nset;

	connect_direct(&cl, &gw, "0=" CL_DIRECT, &t);
	ck_assert_str_eq(gw.set_remote, CL_DIRECT);
	ck_assert_uint_eq(cl.ninval, 0);
	/* unchanged: nothing invalidated, nothing signalled */
	ck_assert_int_eq(conn_set_sockets(cl.m, "0=" CL_DIRECT, t), 0);
	ck_assert_uint_eq(cl.ninval, 0);
	ck_assert_uint_eq(cl.ncands, 0);
	/* the host moved: 192.0.2.1 went, 192.0.2.77 came */
	nset = gw.nset;
	ck_assert_int_eq(conn_set_sockets(cl.m, "0=192.0.2.77:40000", t), 0);
	ck_assert_uint_eq(cl.ninval, 1);
	ck_assert_ptr_nonnull(strstr(cl.inval[0], " 192.0.2.1 40000 typ host"));
	ck_assert_uint_ge(cl.ncands, 1);
	for (i = 0; i < cl.ncands; i++)
		ck_assert_ptr_null(strstr(cl.cands[i], " 192.0.2.1 "));
	/* the gateway drops it too (invalidate_ice_candidates) */
	n = cl.ninval;
	for (i = 0; i < n; i++)
		snprintf(c[i], sizeof(c[i]), "%s", cl.inval[i]);
	conn_remote_candidates(gw.m, CL_ID, c, n, true, t);
	signal_cands(&cl, CL_ID, t);
	for (i = 0; i < 400 && strcmp(gw.set_remote, "192.0.2.77:40000") != 0;
	    i++) {
		t += 5 * MS;
		conn_tick(cl.m, t);
		conn_tick(gw.m, t);
		deliver(&cl, "192.0.2.77:40000", t);
		deliver(&gw, GW_DIRECT, t);
	}
	ck_assert_str_eq(gw.set_remote, "192.0.2.77:40000");
	ck_assert_uint_gt(gw.nset, nset);
	conn_free(cl.m);
	conn_free(gw.m);
}
END_TEST

/*
 * A relay that never answers: each Allocate fails after its
 * retransmissions (TURN_EV_ALLOCATION_FAILED), and a new TURN client
 * allocates again 1, 2, 4 ... 64 s later (docs/RELIABILITY.md, bug 2: a
 * lost or failed allocation was never made again).  Attempts are told
 * apart by their transaction ids; with F the time one attempt takes to
 * fail, attempt k+1 starts F + 2^k s after attempt k.
 */
START_TEST(test_relay_retry_backoff)
{
	struct side s = { .rng = 11 };
	struct portal_relay r;
	struct conn_mgr *m;
	uint8_t tid[12];
	uint64_t t = 1000 * SEC, starts[10];
	unsigned n = 0, i, k;

	memset(&r, 0, sizeof(r));
	r.type = PORTAL_RELAY_TURN;
	snprintf(r.id, sizeof(r.id), RES_A);
	snprintf(r.addr, sizeof(r.addr), "203.0.113.9:3478");
	snprintf(r.username, 64, "1700000000:user");
	snprintf(r.password, 64, "secret");
	ck_assert_int_eq(conn_new(false, &ops, &s, &m), 0);
	ck_assert_int_eq(conn_set_sockets(m, "3=192.0.2.1:40000", t), 0);
	conn_set_relays(m, &r, 1, t);
	memset(tid, 0, sizeof(tid));
	for (i = 0; i < 8000 && n < 10; i++) {
		for (k = 0; k < s.nq; k++) {
			ck_assert_uint_ge(s.q[k].len, 20);
			if (memcmp(s.q[k].buf + 8, tid, 12) == 0)
				continue;	/* a retransmission */
			memcpy(tid, s.q[k].buf + 8, 12);
			starts[n++] = t;
		}
		s.nq = 0;
		t += 100 * MS;
		if (conn_deadline(m) <= t)
			conn_tick(m, t);
	}
	ck_assert_uint_eq(n, 10);
	ck_assert_uint_eq(conn_nrelays(m), 1);
	for (k = 2; k < n; k++) {
		uint64_t d0 = starts[k - 1] - starts[k - 2];
		uint64_t d1 = starts[k] - starts[k - 1];
		uint64_t want = (1ULL << (k - 2 < 6 ? k - 2 : 6)) * SEC;

		if (k - 1 >= 7)	/* capped at 64 s: equal gaps */
			want = 0;
		ck_assert_msg(d1 - d0 + 200 * MS >= want &&
		    d1 - d0 <= want + 200 * MS,
		    "attempt %u: gap %llu ms after %llu ms", k,
		    (unsigned long long)(d1 / MS),
		    (unsigned long long)(d0 / MS));
	}
	conn_free(m);
}
END_TEST

/* The peers fz-tunneld kept, as it sends them (PEERS_KEPT). */
static void
kept(struct side *s, const char *list, uint64_t t)
{
	ck_assert_int_eq(conn_peers_kept(s->m, list, t), 0);
}

/*
 * kill -9 the Gateway's fz-controld (docs/RELIABILITY.md, bug 1): the new
 * one keeps the client's peer fz-tunneld still has (no PEER_DEL: the
 * data flows on) but cannot answer the client's consent checks; the
 * client's agent fails within its active timeout, it asks again, and the
 * new create_authorization takes the kept peer over, still without a
 * PEER_DEL on the gateway, until the new agent's PEER_SET.  A kept peer
 * nobody takes over and that receives nothing goes after 180 s.
 */
START_TEST(test_controld_restart_gateway)
{
	static struct side cl = { .rng = 12 }, gw = { .rng = 13 };
	struct portal_authorization_created ac;
	struct portal_create_authorization ca;
	uint64_t t = 1000 * SEC, t_kill, t_left = 0;
	enum ice_state st;
	unsigned i;

	connect_direct(&cl, &gw, "0=" CL_DIRECT, &t);
	(void)run(&cl, &gw, &t, 10, true, false, NULL);
	/* the old one dies (its PEER_DELs never reach fz-tunneld) */
	conn_free(gw.m);
	gw.ndel = gw.nset = 0;
	ck_assert_int_eq(conn_new(true, &ops, &gw, &gw.m), 0);
	ck_assert_int_eq(conn_set_sockets(gw.m, "0=" GW_DIRECT, t), 0);
	/* malformed: nothing kept */
	ck_assert_int_eq(conn_peers_kept(gw.m, CL_KEY " 1", t), -EINVAL);
	ck_assert_uint_eq(conn_npeers(gw.m), 0);
	kept(&gw, CL_KEY " 5000 2500; OTHERKEY= 10 10", t);
	ck_assert_uint_eq(conn_npeers(gw.m), 2);
	ck_assert_uint_eq(gw.ndel, 0);
	/* not in CONNECTIONS, not found by id */
	ck_assert_int_eq(conn_peer_state(gw.m, CL_ID, &st), -ENOENT);
	t_kill = t;
	(void)run(&cl, &gw, &t, 25, true, false, &t_left);
	ck_assert_uint_ne(t_left, 0);
	ck_assert_uint_le(t_left - t_kill, 18 * SEC);
	for (i = 0; i < 10 && cl.nreq < 2; i++)
		(void)run(&cl, &gw, &t, 1, true, false, NULL);
	/* failed, but WireGuard still receives: kept (no PEER_DEL, the
	 * data flows on), and asked again at once; the portal answers */
	ck_assert_uint_eq(conn_npeers(cl.m), 1);
	ck_assert_int_eq(conn_peer_state(cl.m, GW_ID, &st), -ENOENT);
	ck_assert_uint_eq(cl.ndel, 0);
	ck_assert_uint_eq(gw.ndel, 0);
	ck_assert_uint_eq(cl.nreq, 2);
	ck_assert_str_eq(cl.last_res, RES_A);
	ck_assert_int_eq(conn_wanted(cl.m, "10.50.0.9", t), -EALREADY);
	memset(&ca, 0, sizeof(ca));
	snprintf(ca.resource.id, sizeof(ca.resource.id), RES_A);
	snprintf(ca.client.id, sizeof(ca.client.id), CL_ID);
	snprintf(ca.client.public_key, sizeof(ca.client.public_key), CL_KEY);
	snprintf(ca.client.ipv4, sizeof(ca.client.ipv4), "100.64.0.1");
	snprintf(ca.gateway_ice.username, 64, "gwufrag");
	snprintf(ca.gateway_ice.password, 64, "gwpasswordgwpasswordgwpw");
	snprintf(ca.client_ice.username, 64, "clufrag");
	snprintf(ca.client_ice.password, 64, "clpasswordclpasswordclpw");
	ck_assert_int_eq(conn_create_authorization(gw.m, &ca, t), 0);
	ck_assert_uint_eq(conn_npeers(gw.m), 2);	/* taken over */
	ck_assert_uint_eq(gw.ndel, 0);
	ck_assert_int_eq(conn_peer_state(gw.m, CL_ID, &st), 0);
	memset(&ac, 0, sizeof(ac));
	snprintf(ac.resource_id, sizeof(ac.resource_id), RES_A);
	snprintf(ac.gateway_id, sizeof(ac.gateway_id), GW_ID);
	snprintf(ac.gateway_public_key, sizeof(ac.gateway_public_key), GW_KEY);
	snprintf(ac.gateway_ipv4, sizeof(ac.gateway_ipv4), "100.64.0.2");
	ac.client_ice = ca.client_ice;
	ac.gateway_ice = ca.gateway_ice;
	signal_cands(&gw, GW_ID, t);
	ck_assert_int_eq(conn_authorization_created(cl.m, &ac, t), 0);
	signal_cands(&cl, CL_ID, t);
	cl.nset = 0;
	for (i = 0; i < 400 && (cl.nset == 0 || gw.nset == 0); i++) {
		t += 5 * MS;
		conn_tick(cl.m, t);
		conn_tick(gw.m, t);
		deliver(&cl, CL_DIRECT, t);
		deliver(&gw, GW_DIRECT, t);
	}
	ck_assert_uint_ge(cl.nset, 1);
	ck_assert_uint_ge(gw.nset, 1);
	ck_assert_str_eq(gw.set_key, CL_KEY);
	ck_assert_uint_eq(gw.ndel, 0);
	ck_assert_uint_eq(cl.ndel, 0);		/* taken over */
	ck_assert_uint_eq(conn_npeers(cl.m), 1);
	/* the other kept peer received nothing: gone after 180 s, while
	 * the connection (with traffic) stays */
	(void)run(&cl, &gw, &t, 175 - (unsigned)((t - t_kill) / SEC), true,
	    false, NULL);
	ck_assert_uint_eq(gw.ndel, 0);
	(void)run(&cl, &gw, &t, 15, true, false, NULL);
	ck_assert_uint_eq(gw.ndel, 1);
	ck_assert_uint_eq(conn_npeers(gw.m), 1);
	ck_assert_int_eq(conn_peer_state(cl.m, GW_ID, &st), 0);
	ck_assert_int_eq(st, ICE_STATE_CONNECTED);
	/* a peer taken over goes with PEER_DEL like any other */
	conn_free(gw.m);
	ck_assert_uint_eq(gw.ndel, 2);
	conn_free(cl.m);
}
END_TEST

/*
 * kill -9 the Client's fz-controld: the new one keeps the gateway's peer
 * until the portal's init (data flows while it connects), then removes
 * it so that the next packet asks for a new, supervised connection; the
 * gateway's agent (same ICE credentials: same keys) answers the new one.
 * A kept peer reported after the init is removed at once.
 */
START_TEST(test_controld_restart_client)
{
	static struct side cl = { .rng = 14 }, gw = { .rng = 15 };
	struct portal_authorization_created ac;
	struct portal_create_authorization ca;
	uint64_t t = 1000 * SEC;
	enum ice_state st;
	unsigned i;

	connect_direct(&cl, &gw, "0=" CL_DIRECT, &t);
	(void)run(&cl, &gw, &t, 10, true, false, NULL);
	conn_free(cl.m);
	cl.ndel = cl.nset = cl.nreq = 0;
	ck_assert_int_eq(conn_new(false, &ops, &cl, &cl.m), 0);
	ck_assert_int_eq(conn_set_sockets(cl.m, "0=" CL_DIRECT, t), 0);
	kept(&cl, GW_KEY " 9000 4000", t);
	ck_assert_uint_eq(conn_npeers(cl.m), 1);
	ck_assert_uint_eq(cl.ndel, 0);
	/* the portal's init: resources, then the kept peer goes */
	add_res(cl.m, RES_A, "10.50.0.0/24", false);
	conn_portal_init(cl.m, t);
	ck_assert_uint_eq(cl.ndel, 1);
	ck_assert_uint_eq(conn_npeers(cl.m), 0);
	kept(&cl, "LATEKEY= 1 1", t);
	ck_assert_uint_eq(cl.ndel, 2);
	ck_assert_uint_eq(conn_npeers(cl.m), 0);
	ck_assert_int_eq(conn_wanted(cl.m, "10.50.0.9", t), 0);
	ck_assert_uint_eq(cl.last_ngw, 0);
	memset(&ca, 0, sizeof(ca));
	snprintf(ca.resource.id, sizeof(ca.resource.id), RES_A);
	snprintf(ca.client.id, sizeof(ca.client.id), CL_ID);
	snprintf(ca.client.public_key, sizeof(ca.client.public_key), CL_KEY);
	snprintf(ca.client.ipv4, sizeof(ca.client.ipv4), "100.64.0.1");
	snprintf(ca.gateway_ice.username, 64, "gwufrag");
	snprintf(ca.gateway_ice.password, 64, "gwpasswordgwpasswordgwpw");
	snprintf(ca.client_ice.username, 64, "clufrag");
	snprintf(ca.client_ice.password, 64, "clpasswordclpasswordclpw");
	ck_assert_int_eq(conn_create_authorization(gw.m, &ca, t), 0);
	ck_assert_uint_eq(gw.ndel, 0);		/* the same connection */
	memset(&ac, 0, sizeof(ac));
	snprintf(ac.resource_id, sizeof(ac.resource_id), RES_A);
	snprintf(ac.gateway_id, sizeof(ac.gateway_id), GW_ID);
	snprintf(ac.gateway_public_key, sizeof(ac.gateway_public_key), GW_KEY);
	snprintf(ac.gateway_ipv4, sizeof(ac.gateway_ipv4), "100.64.0.2");
	ac.client_ice = ca.client_ice;
	ac.gateway_ice = ca.gateway_ice;
	signal_cands(&gw, GW_ID, t);
	ck_assert_int_eq(conn_authorization_created(cl.m, &ac, t), 0);
	signal_cands(&cl, CL_ID, t);
	for (i = 0; i < 400 && cl.nset == 0; i++) {
		t += 5 * MS;
		conn_tick(cl.m, t);
		conn_tick(gw.m, t);
		deliver(&cl, CL_DIRECT, t);
		deliver(&gw, GW_DIRECT, t);
	}
	ck_assert_uint_ge(cl.nset, 1);
	ck_assert_str_eq(cl.set_remote, GW_DIRECT);
	(void)run(&cl, &gw, &t, 30, true, false, NULL);
	ck_assert_int_eq(conn_peer_state(cl.m, GW_ID, &st), 0);
	ck_assert_int_eq(st, ICE_STATE_CONNECTED);
	ck_assert_uint_eq(gw.ndel, 0);
	conn_free(cl.m);
	conn_free(gw.m);
}
END_TEST

/*
 * The gateway's fz-controld restarts during a portal outage: the client's
 * failed connection is kept while WireGuard still receives, its request
 * lost; it is asked for again every 30 s and at the portal's init, and
 * removed (PEER_DEL) once it has received nothing for 180 s.
 */
START_TEST(test_kept_portal_down)
{
	static struct side cl = { .rng = 16 }, gw = { .rng = 17 };
	uint64_t t = 1000 * SEC;
	unsigned i, n;

	connect_direct(&cl, &gw, "0=" CL_DIRECT, &t);
	(void)run(&cl, &gw, &t, 10, true, false, NULL);
	conn_free(gw.m);
	ck_assert_int_eq(conn_new(true, &ops, &gw, &gw.m), 0);
	ck_assert_int_eq(conn_set_sockets(gw.m, "0=" GW_DIRECT, t), 0);
	for (i = 0; i < 30 && cl.nreq < 2; i++)
		(void)run(&cl, &gw, &t, 1, true, false, NULL);
	ck_assert_uint_eq(cl.nreq, 2);		/* lost: the portal is down */
	ck_assert_uint_eq(cl.ndel, 0);
	n = cl.nreq;
	(void)run(&cl, &gw, &t, 31, true, false, NULL);
	ck_assert_uint_eq(cl.nreq, n + 1);	/* every 30 s */
	t += 3 * SEC;
	conn_portal_init(cl.m, t);		/* the portal is back */
	ck_assert_uint_eq(cl.nreq, n + 2);
	ck_assert_uint_eq(cl.ndel, 0);
	ck_assert_uint_eq(conn_npeers(cl.m), 1);
	/* nothing received any more: removed 180 s after the last rx */
	(void)run(&cl, &gw, &t, 170, false, false, NULL);
	ck_assert_uint_eq(cl.ndel, 0);
	(void)run(&cl, &gw, &t, 20, false, false, NULL);
	ck_assert_uint_eq(cl.ndel, 1);
	ck_assert_uint_eq(conn_npeers(cl.m), 0);
	conn_free(cl.m);
	conn_free(gw.m);
}
END_TEST

static Suite *
conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_mapping);
	tcase_add_test(tc, test_debounce);
	tcase_add_test(tc, test_bad_sockets);
	tcase_add_test(tc, test_connect_direct);
	tcase_add_test(tc, test_dns_resource);
	tcase_add_test(tc, test_internet_resource);
	tcase_add_test(tc, test_relays);
	tcase_add_test(tc, test_connect_relayed);
	tcase_add_test(tc, test_gateway_peer_first);
	tcase_add_test(tc, test_dead_path_noticed);
	tcase_add_test(tc, test_idle_profile);
	tcase_add_test(tc, test_sockets_shrink);
	tcase_add_test(tc, test_relay_retry_backoff);
	tcase_add_test(tc, test_controld_restart_gateway);
	tcase_add_test(tc, test_controld_restart_client);
	tcase_add_test(tc, test_kept_portal_down);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(conn_suite)
