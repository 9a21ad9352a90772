/* SPDX-License-Identifier: ISC */
/* The in-tunnel p2p control protocol and the client's DNS-NAT states. */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "p2p.h"

static int
zero16(const uint8_t *p)
{
	for (int i = 0; i < 16; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

int
p2p_is_control(const uint8_t *pkt, size_t len)
{
	if (len < P2P_IP6_HLEN || (pkt[0] >> 4) != 6)
		return 0;
	return pkt[6] == P2P_NEXTHDR && zero16(pkt + 8) && zero16(pkt + 24);
}

/* A copy of a JSON string into dst (cap incl. NUL): no NULs, in bounds. */
static int
get_str(json_t *o, const char *key, char *dst, size_t cap)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	if (!json_is_string(v))
		return -EINVAL;
	n = json_string_length(v);
	if (n == 0 || n >= cap || memchr(json_string_value(v), 0, n) != NULL)
		return -EINVAL;
	memcpy(dst, json_string_value(v), n);
	dst[n] = 0;
	return 0;
}

static int
parse_ip(const char *s, struct fz_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, s, ip->a) == 1) {
		ip->af = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, ip->a) == 1) {
		ip->af = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static int
parse_body(json_t *o, struct p2p_msg *m)
{
	json_t *arr, *v;
	size_t i;

	if (!json_is_object(o) ||
	    get_str(o, "resource", m->resource, sizeof(m->resource)) < 0 ||
	    get_str(o, "domain", m->domain, sizeof(m->domain)) < 0)
		return -EINVAL;
	if (m->type == P2P_DOMAIN_STATUS) {
		v = json_object_get(o, "status");
		if (!json_is_string(v))
			return -EINVAL;
		/* Unknown status strings count as Inactive. */
		m->active = strcmp(json_string_value(v), "Active") == 0 &&
		    json_string_length(v) == 6;
		return 0;
	}
	arr = json_object_get(o, "proxy_ips");
	if (!json_is_array(arr))
		return -EINVAL;
	m->nproxy = json_array_size(arr);
	if (m->nproxy != 4 && m->nproxy != 8)
		return -EINVAL;
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || json_string_length(v) > 45 ||
		    parse_ip(json_string_value(v), &m->proxy[i]) < 0)
			return -EINVAL;
	}
	return 0;
}

int
p2p_parse(const uint8_t *pkt, size_t len, struct p2p_msg *out)
{
	struct p2p_msg m;
	const uint8_t *body;
	size_t blen, plen;
	json_t *o;
	int rc;

	if (len > P2P_MAX_PKT || len < P2P_IP6_HLEN + P2P_HDR_LEN ||
	    !p2p_is_control(pkt, len) || pkt[7] != 0)
		return -EINVAL;
	plen = (size_t)pkt[4] << 8 | pkt[5];
	if (plen != len - P2P_IP6_HLEN)
		return -EINVAL;
	body = pkt + P2P_IP6_HLEN;
	for (int i = 1; i < P2P_HDR_LEN; i++)
		if (body[i] != 0)
			return -EINVAL;
	memset(&m, 0, sizeof(m));
	if (body[0] > P2P_GOODBYE)
		return -EINVAL;
	m.type = body[0];
	body += P2P_HDR_LEN;
	blen = plen - P2P_HDR_LEN;
	if (m.type == P2P_GOODBYE) {
		if (blen != 0)
			return -EINVAL;
		*out = m;
		return 0;
	}
	o = json_loadb((const char *)body, blen,
	    JSON_REJECT_DUPLICATES, NULL);
	if (o == NULL)
		return -EINVAL;
	rc = parse_body(o, &m);
	json_decref(o);
	if (rc < 0)
		return rc;
	*out = m;
	return 0;
}

static json_t *
build_json(const struct p2p_msg *m)
{
	json_t *o, *arr;
	char s[INET6_ADDRSTRLEN];

	if (m->resource[0] == 0 || m->domain[0] == 0 ||
	    strnlen(m->resource, sizeof(m->resource)) == sizeof(m->resource) ||
	    strnlen(m->domain, sizeof(m->domain)) == sizeof(m->domain))
		return NULL;
	if ((o = json_object()) == NULL)
		return NULL;
	if (json_object_set_new(o, "resource", json_string(m->resource)) < 0 ||
	    json_object_set_new(o, "domain", json_string(m->domain)) < 0)
		goto fail;
	if (m->type == P2P_DOMAIN_STATUS) {
		if (json_object_set_new(o, "status",
		    json_string(m->active ? "Active" : "Inactive")) < 0)
			goto fail;
		return o;
	}
	if (m->nproxy != 4 && m->nproxy != 8)
		goto fail;
	if ((arr = json_array()) == NULL ||
	    json_object_set_new(o, "proxy_ips", arr) < 0)
		goto fail;
	for (size_t i = 0; i < m->nproxy; i++) {
		if ((m->proxy[i].af != AF_INET && m->proxy[i].af != AF_INET6) ||
		    inet_ntop(m->proxy[i].af, m->proxy[i].a, s, sizeof(s)) ==
		    NULL || json_array_append_new(arr, json_string(s)) < 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

int
p2p_build(const struct p2p_msg *m, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t blen = 0, total;
	json_t *o;

	if (m->type > P2P_GOODBYE)
		return -EINVAL;
	if (cap > P2P_MAX_PKT)
		cap = P2P_MAX_PKT;
	if (cap < P2P_IP6_HLEN + P2P_HDR_LEN)
		return -EMSGSIZE;
	if (m->type != P2P_GOODBYE) {
		if ((o = build_json(m)) == NULL)
			return -EINVAL;
		blen = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (blen == 0 || blen > cap - P2P_IP6_HLEN - P2P_HDR_LEN) {
			json_decref(o);
			return blen == 0 ? -ENOMEM : -EMSGSIZE;
		}
		json_dumpb(o, (char *)out + P2P_IP6_HLEN + P2P_HDR_LEN, blen,
		    JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
	}
	total = P2P_IP6_HLEN + P2P_HDR_LEN + blen;
	memset(out, 0, P2P_IP6_HLEN + P2P_HDR_LEN);
	out[0] = 0x60;
	out[4] = (uint8_t)((total - P2P_IP6_HLEN) >> 8);
	out[5] = (uint8_t)(total - P2P_IP6_HLEN);
	out[6] = P2P_NEXTHDR;
	out[7] = 0;		/* hop limit */
	out[P2P_IP6_HLEN] = (uint8_t)m->type;
	*outlen = total;
	return 0;
}

/* --- client DNS-NAT states --- */

struct bufpkt {
	size_t	len;
	uint8_t	*data;
};

struct entry {
	uint64_t	gw;
	char		resource[P2P_RESOURCE_MAX + 1];
	char		domain[P2P_DOMAIN_MAX + 1];
	enum p2p_nat_state state;
	int		should_buffer;	/* Recreating: 0 when it was Confirmed */
	uint64_t	last_sent_ms;
	size_t		nbuf;
	struct bufpkt	buf[P2P_NAT_BUF];
};

/* A small table searched linearly: one entry per (gateway, resource,
 * domain) the user actually reaches. */
struct p2p_nat {
	struct entry	**e;
	size_t		n;
	struct p2p_nat_stats st;
};

struct p2p_nat *
p2p_nat_new(void)
{
	return calloc(1, sizeof(struct p2p_nat));
}

static void
drop_buf(struct entry *e)
{
	for (size_t i = 0; i < e->nbuf; i++)
		free(e->buf[i].data);
	e->nbuf = 0;
}

void
p2p_nat_free(struct p2p_nat *nat)
{
	if (nat == NULL)
		return;
	for (size_t i = 0; i < nat->n; i++) {
		drop_buf(nat->e[i]);
		free(nat->e[i]);
	}
	free(nat->e);
	free(nat);
}

static struct entry *
find(const struct p2p_nat *nat, uint64_t gw, const char *res, const char *dom)
{
	for (size_t i = 0; i < nat->n; i++) {
		struct entry *e = nat->e[i];

		if (e->gw == gw && strcmp(e->resource, res) == 0 &&
		    strcmp(e->domain, dom) == 0)
			return e;
	}
	return NULL;
}

static int
send_assigned(struct p2p_nat *nat, struct entry *e, const struct p2p_msg *m,
    uint64_t now, uint8_t *ctl, size_t ctlcap, size_t *ctllen)
{
	int rc;

	if ((rc = p2p_build(m, ctl, ctlcap, ctllen)) < 0)
		return rc;
	e->last_sent_ms = now;
	nat->st.sent_assigned++;
	return 0;
}

static int
valid_assigned(const struct p2p_msg *m)
{
	return m->type == P2P_ASSIGNED_IPS &&
	    strnlen(m->resource, sizeof(m->resource)) < sizeof(m->resource) &&
	    strnlen(m->domain, sizeof(m->domain)) < sizeof(m->domain);
}

int
p2p_nat_packet(struct p2p_nat *nat, uint64_t gw, const struct p2p_msg *m,
    const uint8_t *pkt, size_t len, uint64_t now, uint8_t *ctl, size_t ctlcap,
    size_t *ctllen)
{
	struct entry *e, **ne;
	uint8_t *copy;
	int rc;

	*ctllen = 0;
	if (!valid_assigned(m) || len == 0 || len > P2P_MAX_PKT)
		return -EINVAL;
	if ((e = find(nat, gw, m->resource, m->domain)) == NULL) {
		if (nat->n >= P2P_NAT_MAX)
			return -ENOSPC;
		ne = realloc(nat->e, (nat->n + 1) * sizeof(*ne));
		if (ne == NULL)
			return -ENOMEM;
		nat->e = ne;
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return -ENOMEM;
		e->gw = gw;
		memcpy(e->resource, m->resource, strlen(m->resource) + 1);
		memcpy(e->domain, m->domain, strlen(m->domain) + 1);
		if ((rc = send_assigned(nat, e, m, now, ctl, ctlcap,
		    ctllen)) < 0) {
			free(e);
			return rc;
		}
		e->state = P2P_NAT_PENDING;
		nat->e[nat->n++] = e;
	}
	switch (e->state) {
	case P2P_NAT_CONFIRMED:
		return P2P_NAT_FORWARD;
	case P2P_NAT_FAILED:
		/* As connlib: sent anyway; the gateway answers them. */
		nat->st.sent_failed++;
		return P2P_NAT_FORWARD;
	default:
		break;
	}
	/* Pending or Recreating: packets keep arriving, so resend. */
	if (*ctllen == 0 && now - e->last_sent_ms >= P2P_NAT_RESEND_MS &&
	    (rc = send_assigned(nat, e, m, now, ctl, ctlcap, ctllen)) < 0)
		return rc;
	if (e->state == P2P_NAT_RECREATING && !e->should_buffer)
		return P2P_NAT_FORWARD;
	if (e->nbuf >= P2P_NAT_BUF) {
		nat->st.dropped_full++;
		return P2P_NAT_DROP;
	}
	if ((copy = malloc(len)) == NULL) {
		nat->st.dropped_nomem++;
		return P2P_NAT_DROP;
	}
	memcpy(copy, pkt, len);
	e->buf[e->nbuf].data = copy;
	e->buf[e->nbuf].len = len;
	e->nbuf++;
	nat->st.buffered++;
	return P2P_NAT_BUFFERED;
}

int
p2p_nat_dns_query(struct p2p_nat *nat, uint64_t gw, const struct p2p_msg *m,
    uint64_t now, uint8_t *ctl, size_t ctlcap, size_t *ctllen)
{
	struct entry *e;
	int rc;

	*ctllen = 0;
	if (!valid_assigned(m))
		return -EINVAL;
	if ((e = find(nat, gw, m->resource, m->domain)) == NULL)
		return 0;
	if (e->state == P2P_NAT_PENDING || e->state == P2P_NAT_RECREATING) {
		/* Already asking: the 2 s rule holds. */
		if (now - e->last_sent_ms < P2P_NAT_RESEND_MS)
			return 0;
	} else
		e->should_buffer = e->state == P2P_NAT_FAILED;
	if ((rc = send_assigned(nat, e, m, now, ctl, ctlcap, ctllen)) < 0)
		return rc;
	if (e->state != P2P_NAT_PENDING)
		e->state = P2P_NAT_RECREATING;
	return 0;
}

int
p2p_nat_status(struct p2p_nat *nat, uint64_t gw, const struct p2p_msg *s,
    p2p_emit_fn emit, void *arg)
{
	struct entry *e;
	int n = 0;

	if (s->type != P2P_DOMAIN_STATUS ||
	    (e = find(nat, gw, s->resource, s->domain)) == NULL)
		return -ENOENT;
	if (!s->active) {
		e->state = P2P_NAT_FAILED;
		nat->st.dropped_failed += e->nbuf;
		drop_buf(e);
		return 0;
	}
	e->state = P2P_NAT_CONFIRMED;
	for (size_t i = 0; i < e->nbuf; i++, n++)
		emit(arg, gw, e->buf[i].data, e->buf[i].len);
	nat->st.flushed += e->nbuf;
	drop_buf(e);
	return n;
}

void
p2p_nat_forget_gateway(struct p2p_nat *nat, uint64_t gw)
{
	size_t i = 0;

	while (i < nat->n) {
		if (nat->e[i]->gw == gw) {
			drop_buf(nat->e[i]);
			free(nat->e[i]);
			nat->e[i] = nat->e[--nat->n];
		} else
			i++;
	}
}

enum p2p_nat_state
p2p_nat_state(const struct p2p_nat *nat, uint64_t gw, const char *res,
    const char *dom)
{
	struct entry *e = find(nat, gw, res, dom);

	return e == NULL ? P2P_NAT_NONE : e->state;
}

size_t
p2p_nat_buffered(const struct p2p_nat *nat, uint64_t gw, const char *res,
    const char *dom)
{
	struct entry *e = find(nat, gw, res, dom);

	return e == NULL ? 0 : e->nbuf;
}

void
p2p_nat_get_stats(const struct p2p_nat *nat, struct p2p_nat_stats *st)
{
	*st = nat->st;
}
