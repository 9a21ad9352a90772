/* SPDX-License-Identifier: ISC */
/*
 * controld/conn.c's text inputs from fz-tunneld on arbitrary bytes: a
 * manager with one peer gets the first byte's choice of PEER_STATS
 * (conn_peer_stats), PEERS_KEPT then PEER_STATS (conn_peers_kept: the same
 * grammar, unknown keys kept, then expired) or LOCAL_SOCKETS
 * (conn_set_sockets), then the other one's well-formed form; neither may
 * crash or accept what the strict grammar refuses half-way (checked by
 * parsing twice: same result).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define KEY	"HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="

static void
o_dgram(void *a, uint32_t s, const struct sockaddr *to, const uint8_t *b,
    size_t n)
{
	(void)a; (void)s; (void)to; (void)b; (void)n;
}

static void
o_set(void *a, const struct conn_peer_path *p)
{
	(void)a; (void)p;
}

static void
o_del(void *a, const char *id, const char *key)
{
	(void)a; (void)id; (void)key;
}

static void
o_req(void *a, const char *r, const portal_id *g, size_t n)
{
	(void)a; (void)r; (void)g; (void)n;
}

static void
o_cands(void *a, const char *p, char (*c)[ICE_CAND_MAXLEN + 1], size_t n)
{
	(void)a; (void)p; (void)c; (void)n;
}

static void
o_rng(void *a, void *buf, size_t len)
{
	(void)a;
	memset(buf, 0x5a, len);
}

static const struct conn_ops ops = {
	.dgram = o_dgram, .peer_set = o_set, .peer_del = o_del,
	.request_authorization = o_req, .candidates = o_cands,
	.invalidated = o_cands, .rng = o_rng,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct portal_create_authorization ca;
	struct conn_mgr *m;
	char *s;
	int r1, r2;

	if (size < 1 || conn_new(true, &ops, NULL, &m) != 0)
		return 0;
	if ((s = malloc(size)) == NULL) {
		conn_free(m);
		return 0;
	}
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (conn_set_sockets(m, "4=10.0.0.1:51820, 6=[fd00::1]:51820",
	    1000) != 0)
		__builtin_trap();
	memset(&ca, 0, sizeof(ca));
	memcpy(ca.resource.id, "r", 2);
	memcpy(ca.client.id, "c", 2);
	memcpy(ca.client.public_key, KEY, sizeof(KEY));
	memcpy(ca.gateway_ice.username, "gwuf", 5);
	memcpy(ca.gateway_ice.password, "gwpasswordgwpasswordgwpw", 25);
	memcpy(ca.client_ice.username, "cluf", 5);
	memcpy(ca.client_ice.password, "clpasswordclpasswordclpw", 25);
	(void)conn_create_authorization(m, &ca, 1000);
	if ((data[0] & 3) == 3) {
		r1 = conn_peers_kept(m, s, 2000);
		r2 = conn_peer_stats(m, s, 3000);
		if (r1 != r2 || (r1 != 0 && r1 != -EINVAL))
			__builtin_trap();
		(void)conn_create_authorization(m, &ca, 3500);
		conn_tick(m, 4000 + CONN_KEPT_IDLE_NS);
	} else if (data[0] & 1) {
		r1 = conn_peer_stats(m, s, 2000);
		r2 = conn_peer_stats(m, s, 3000);
		if (r1 != r2 || (r1 != 0 && r1 != -EINVAL))
			__builtin_trap();
		(void)conn_set_sockets(m, "4=10.0.0.2:51820", 4000);
	} else {
		r1 = conn_set_sockets(m, s, 2000);
		r2 = conn_set_sockets(m, s, 3000);
		if (r1 != r2 || (r1 != 0 && r1 != -EINVAL))
			__builtin_trap();
		if (conn_peer_stats(m, KEY " 1 2", 4000) != 0)
			__builtin_trap();
	}
	conn_tick(m, 5000);
	conn_free(m);
	free(s);
	return 0;
}
