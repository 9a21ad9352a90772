/* SPDX-License-Identifier: ISC */
/* flowlog.h: a chained hash of flows, swept by the caller's clock. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowlog.h"

#define BUCKETS		4096
#define IDLE_TCP_MS	300000
#define IDLE_MS		60000
#define CLOSING_MS	5000

struct flow {
	struct flow	*next;
	struct flow_rec	 r;
};

struct flowlog {
	struct flow	*b[BUCKETS];
	size_t		 n, max;
	uint64_t	 overflow;
};

struct flowlog *
flowlog_new(size_t max)
{
	struct flowlog *fl = calloc(1, sizeof(*fl));

	if (fl != NULL)
		fl->max = max;
	return fl;
}

void
flowlog_free(struct flowlog *fl)
{
	struct flow *f, *n;
	size_t i;

	if (fl == NULL)
		return;
	for (i = 0; i < BUCKETS; i++)
		for (f = fl->b[i]; f != NULL; f = n) {
			n = f->next;
			free(f);
		}
	free(fl);
}

static uint32_t
hash(const struct flow_rec *k)
{
	uint32_t h = 2166136261u;
	size_t i, al = k->family == AF_INET ? 4 : 16;

	for (i = 0; i < al; i++)
		h = (h ^ k->client[i]) * 16777619u;
	for (i = 0; i < al; i++)
		h = (h ^ k->resource[i]) * 16777619u;
	h = (h ^ k->proto) * 16777619u;
	h = (h ^ k->cport) * 16777619u;
	h = (h ^ k->rport) * 16777619u;
	return h % BUCKETS;
}

static bool
same(const struct flow_rec *a, const struct flow_rec *b)
{
	return a->family == b->family && a->proto == b->proto &&
	    a->cport == b->cport && a->rport == b->rport &&
	    memcmp(a->client, b->client, 16) == 0 &&
	    memcmp(a->resource, b->resource, 16) == 0;
}

/* An id as JSON needs no quoting: [A-Za-z0-9._-], the rest '_'. */
static void
safe_id(char out[FLT_ID_MAX + 1], const char *id)
{
	size_t i;

	for (i = 0; id != NULL && id[i] != '\0' && i < FLT_ID_MAX; i++)
		out[i] = (id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= '0' && id[i] <= '9') || id[i] == '-' ||
		    id[i] == '_' || id[i] == '.' ? id[i] : '_';
	out[i] = '\0';
}

int
flowlog_add(struct flowlog *fl, const uint8_t *pkt, const struct flt_pkt *p,
    bool out, const char *cid, const char *rid, uint64_t now)
{
	struct flow_rec k;
	struct flow *f;
	size_t al = p->family == AF_INET ? 4 : 16;
	uint32_t h;

	memset(&k, 0, sizeof(k));
	k.family = p->family;
	k.proto = p->proto;
	memcpy(k.client, out ? p->src : p->dst, al);
	memcpy(k.resource, out ? p->dst : p->src, al);
	if (p->has_ports) {
		k.cport = out ? p->sport : p->dport;
		k.rport = out ? p->dport : p->sport;
	}
	h = hash(&k);
	for (f = fl->b[h]; f != NULL; f = f->next)
		if (same(&f->r, &k))
			break;
	if (f == NULL) {
		if (fl->n >= fl->max) {
			fl->overflow++;
			return -ENOSPC;
		}
		if ((f = calloc(1, sizeof(*f))) == NULL)
			return -ENOMEM;
		f->r = k;
		safe_id(f->r.client_id, cid);
		safe_id(f->r.resource_id, rid);
		f->r.start_ms = now;
		f->next = fl->b[h];
		fl->b[h] = f;
		fl->n++;
	} else if (out && rid != NULL && *rid != '\0')
		safe_id(f->r.resource_id, rid);
	if (out) {
		f->r.bytes_out += p->len;
		f->r.pkts_out++;
	} else {
		f->r.bytes_in += p->len;
		f->r.pkts_in++;
	}
	f->r.last_ms = now;
	/* TCP flags: FIN 0x01, RST 0x04 (the header is in the packet). */
	if (p->proto == 6 && p->has_ports && p->len >= p->hlen + 14 &&
	    (pkt[p->hlen + 13] & 0x05) != 0)
		f->r.closing = true;
	return 0;
}

static bool
ended(const struct flow_rec *r, uint64_t now)
{
	uint64_t idle = r->closing ? CLOSING_MS : r->proto == 6 ?
	    IDLE_TCP_MS : IDLE_MS;

	return now >= r->last_ms + idle;
}

size_t
flowlog_expire(struct flowlog *fl, uint64_t now, bool all,
    void (*fn)(const struct flow_rec *, void *), void *arg)
{
	struct flow **pp, *f;
	size_t i, n = 0;

	for (i = 0; i < BUCKETS; i++)
		for (pp = &fl->b[i]; (f = *pp) != NULL; ) {
			if (!all && !ended(&f->r, now)) {
				pp = &f->next;
				continue;
			}
			*pp = f->next;
			if (fn != NULL)
				fn(&f->r, arg);
			free(f);
			fl->n--;
			n++;
		}
	return n;
}

size_t
flowlog_count(const struct flowlog *fl)
{
	return fl->n;
}

uint64_t
flowlog_overflow(const struct flowlog *fl)
{
	return fl->overflow;
}

static int
fmt_time(uint64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&s, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -EINVAL;
	snprintf(buf + strlen(buf), len - strlen(buf), ".%03uZ",
	    (unsigned)(ms % 1000));
	return 0;
}

static const char *
proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 1:
		return "icmp";
	case 58:
		return "icmpv6";
	default:
		snprintf(buf, len, "%u", p);
		return buf;
	}
}

int
flowlog_fmt(const struct flow_rec *r, char *buf, size_t len)
{
	char c[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], t0[40], t1[40], pn[8];
	const char *proto = proto_name(r->proto, pn, sizeof(pn));
	int n;

	if (inet_ntop(r->family, r->client, c, sizeof(c)) == NULL ||
	    inet_ntop(r->family, r->resource, d, sizeof(d)) == NULL ||
	    fmt_time(r->start_ms, t0, sizeof(t0)) != 0 ||
	    fmt_time(r->last_ms, t1, sizeof(t1)) != 0)
		return -EINVAL;
	/* The ids went through safe_id: nothing to quote. */
	n = snprintf(buf, len, "{\"client_id\":\"%s\",\"resource_id\":\"%s\","
	    "\"protocol\":\"%s\",\"src\":\"%s\",\"src_port\":%u,"
	    "\"dst\":\"%s\",\"dst_port\":%u,\"tx_bytes\":%llu,"
	    "\"tx_packets\":%llu,\"rx_bytes\":%llu,\"rx_packets\":%llu,"
	    "\"start\":\"%s\",\"end\":\"%s\"}", r->client_id, r->resource_id,
	    proto, c, r->cport, d, r->rport,
	    (unsigned long long)r->bytes_out, (unsigned long long)r->pkts_out,
	    (unsigned long long)r->bytes_in, (unsigned long long)r->pkts_in,
	    t0, t1);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}
