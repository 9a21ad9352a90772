/* SPDX-License-Identifier: ISC */
/* DNS over TCP to the sentinels (dnstcp.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dnspkt.h"
#include "dnstcp.h"

#define QMAX	(2 + 65535)

enum tstate { T_FREE, T_OPEN, T_CLOSE_WAIT, T_LAST_ACK };

struct tconn {
	enum tstate		 st;
	union fz_sockaddr	 client, sentinel;
	uint32_t		 irs;		/* the client's SYN seq */
	uint32_t		 snd_nxt, rcv_nxt;
	uint64_t		 last_ns;
	uint8_t			*buf;		/* queries being read */
	size_t			 have;
	unsigned		 pending;	/* queries not answered yet */
};

struct dnstcp {
	const struct dnstcp_ops	*ops;
	void			*arg;
	struct tconn		 c[DNSTCP_MAX];
	uint8_t			 pkt[40 + 20 + DNSTCP_MSS];
};

struct dnstcp *
dnstcp_new(const struct dnstcp_ops *ops, void *arg)
{
	struct dnstcp *t = calloc(1, sizeof(*t));

	if (t != NULL) {
		t->ops = ops;
		t->arg = arg;
	}
	return t;
}

static void
drop(struct tconn *c)
{
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

void
dnstcp_free(struct dnstcp *t)
{
	if (t == NULL)
		return;
	for (unsigned i = 0; i < DNSTCP_MAX; i++)
		drop(&t->c[i]);
	free(t);
}

unsigned
dnstcp_count(const struct dnstcp *t)
{
	unsigned i, n = 0;

	for (i = 0; i < DNSTCP_MAX; i++)
		n += t->c[i].st != T_FREE;
	return n;
}

static void
seg(struct dnstcp *t, const union fz_sockaddr *from,
    const union fz_sockaddr *to, uint32_t seq, uint32_t ack, uint8_t flags,
    const uint8_t *p, size_t len)
{
	size_t n;

	if (dnspkt_build_tcp(from, to, seq, ack, flags, p, len, t->pkt,
	    sizeof(t->pkt), &n) == 0)
		t->ops->send(t->arg, t->pkt, n);
}

static struct tconn *
find(struct dnstcp *t, const union fz_sockaddr *client,
    const union fz_sockaddr *sentinel)
{
	for (unsigned i = 0; i < DNSTCP_MAX; i++)
		if (t->c[i].st != T_FREE &&
		    addr_eq(&t->c[i].client.sa, &client->sa) &&
		    addr_eq(&t->c[i].sentinel.sa, &sentinel->sa))
			return &t->c[i];
	return NULL;
}

/* An answer for a segment that belongs to nothing (RFC 9293 3.10.7.1). */
static void
reset(struct dnstcp *t, const struct dnspkt_tcp *s)
{
	uint32_t len = (uint32_t)s->plen + !!(s->flags & DNSPKT_SYN) +
	    !!(s->flags & DNSPKT_FIN);

	if (s->flags & DNSPKT_RST)
		return;
	if (s->flags & DNSPKT_ACK)
		seg(t, &s->sentinel, &s->client, s->ack, 0, DNSPKT_RST, NULL,
		    0);
	else
		seg(t, &s->sentinel, &s->client, 0, s->seq + len,
		    DNSPKT_RST | DNSPKT_ACK, NULL, 0);
}

/* Complete queries in the buffer go out; the rest moves to the front. */
static void
take_queries(struct dnstcp *t, struct tconn *c)
{
	size_t off = 0, l;

	if (c->buf == NULL)		/* nothing received yet (a bare FIN) */
		return;
	while (c->have - off >= 2) {
		l = (size_t)c->buf[off] << 8 | c->buf[off + 1];
		if (c->have - off - 2 < l)
			break;
		if (l > 0) {
			c->pending++;
			t->ops->query(t->arg, &c->client, &c->sentinel,
			    c->buf + off + 2, l);
		}
		off += 2 + l;
	}
	if (off == 0)
		return;
	memmove(c->buf, c->buf + off, c->have - off);
	c->have -= off;
}

int
dnstcp_input(struct dnstcp *t, const uint8_t *pkt, size_t len,
    uint64_t now)
{
	struct dnspkt_tcp s;
	struct tconn *c;
	uint32_t isn;
	unsigned i;

	if (dnspkt_parse_tcp(pkt, len, &s) != 0)
		return -EBADMSG;
	c = find(t, &s.client, &s.sentinel);
	if (s.flags & DNSPKT_RST) {
		if (c != NULL)
			drop(c);
		return 0;
	}
	if ((s.flags & (DNSPKT_SYN | DNSPKT_ACK)) == DNSPKT_SYN) {
		if (c != NULL && c->irs == s.seq) {	/* retransmitted SYN */
			seg(t, &s.sentinel, &s.client, c->snd_nxt - 1,
			    c->rcv_nxt, DNSPKT_SYN | DNSPKT_ACK, NULL, 0);
			return 0;
		}
		if (c != NULL)
			drop(c);
		for (i = 0; i < DNSTCP_MAX && t->c[i].st != T_FREE; i++)
			;
		if (i == DNSTCP_MAX) {
			reset(t, &s);
			return 0;
		}
		c = &t->c[i];
		if (getrandom(&isn, sizeof(isn), 0) != sizeof(isn))
			isn = (uint32_t)now;
		c->st = T_OPEN;
		c->client = s.client;
		c->sentinel = s.sentinel;
		c->irs = s.seq;
		c->rcv_nxt = s.seq + 1;
		c->snd_nxt = isn + 1;
		c->last_ns = now;
		seg(t, &s.sentinel, &s.client, isn, c->rcv_nxt,
		    DNSPKT_SYN | DNSPKT_ACK, NULL, 0);
		return 0;
	}
	if (c == NULL || !(s.flags & DNSPKT_ACK)) {
		reset(t, &s);
		return 0;
	}
	c->last_ns = now;
	if (c->st == T_LAST_ACK) {
		if (s.ack == c->snd_nxt)
			drop(c);
		return 0;
	}
	if (s.seq != c->rcv_nxt) {		/* a duplicate or a gap */
		if (s.plen > 0 || (s.flags & DNSPKT_FIN))
			seg(t, &c->sentinel, &c->client, c->snd_nxt,
			    c->rcv_nxt, DNSPKT_ACK, NULL, 0);
		return 0;
	}
	if (s.plen > 0) {
		if (c->buf == NULL && (c->buf = malloc(QMAX)) == NULL) {
			reset(t, &s);
			drop(c);
			return 0;
		}
		if (s.plen > QMAX - c->have) {	/* more than a query */
			reset(t, &s);
			drop(c);
			return 0;
		}
		memcpy(c->buf + c->have, s.payload, s.plen);
		c->have += s.plen;
		c->rcv_nxt += (uint32_t)s.plen;
	}
	if (s.flags & DNSPKT_FIN) {
		if (c->st != T_OPEN)
			return 0;
		c->rcv_nxt++;
		take_queries(t, c);
		/* half-closed with answers owed: ours comes after them */
		if (c->pending > 0) {
			seg(t, &c->sentinel, &c->client, c->snd_nxt,
			    c->rcv_nxt, DNSPKT_ACK, NULL, 0);
			c->st = T_CLOSE_WAIT;
			return 0;
		}
		seg(t, &c->sentinel, &c->client, c->snd_nxt, c->rcv_nxt,
		    DNSPKT_FIN | DNSPKT_ACK, NULL, 0);
		c->snd_nxt++;
		c->st = T_LAST_ACK;
		return 0;
	}
	if (c->st != T_OPEN)		/* data after its FIN */
		return 0;
	if (s.plen > 0) {
		seg(t, &c->sentinel, &c->client, c->snd_nxt, c->rcv_nxt,
		    DNSPKT_ACK, NULL, 0);
		take_queries(t, c);
	}
	return 0;
}

int
dnstcp_answer(struct dnstcp *t, const union fz_sockaddr *sentinel,
    const union fz_sockaddr *client, const uint8_t *msg, size_t len)
{
	struct tconn *c = find(t, client, sentinel);
	uint8_t *all;
	size_t off, n;

	if (c == NULL)
		return -ENOENT;
	if (len > 65535)
		return -EMSGSIZE;
	if (c->st == T_LAST_ACK || c->pending == 0)
		return 0;		/* nobody waits for it: dropped */
	if ((all = malloc(2 + len)) == NULL)
		return -ENOMEM;
	all[0] = (uint8_t)(len >> 8);
	all[1] = (uint8_t)len;
	memcpy(all + 2, msg, len);
	for (off = 0; off < 2 + len; off += n) {
		n = 2 + len - off < DNSTCP_MSS ? 2 + len - off : DNSTCP_MSS;
		seg(t, &c->sentinel, &c->client, c->snd_nxt, c->rcv_nxt,
		    DNSPKT_ACK | (off + n == 2 + len ? DNSPKT_PSH : 0),
		    all + off, n);
		c->snd_nxt += (uint32_t)n;
	}
	free(all);
	if (--c->pending == 0 && c->st == T_CLOSE_WAIT) {
		seg(t, &c->sentinel, &c->client, c->snd_nxt, c->rcv_nxt,
		    DNSPKT_FIN | DNSPKT_ACK, NULL, 0);
		c->snd_nxt++;
		c->st = T_LAST_ACK;
	}
	return 0;
}

void
dnstcp_expire(struct dnstcp *t, uint64_t now)
{
	for (unsigned i = 0; i < DNSTCP_MAX; i++)
		if (t->c[i].st != T_FREE &&
		    now - t->c[i].last_ns > DNSTCP_IDLE_NS)
			drop(&t->c[i]);
}
