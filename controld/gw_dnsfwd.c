/* SPDX-License-Identifier: ISC */
/* The gateway's DNS forwarder core (gw_dnsfwd.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "gw_dnsfwd.h"

#define EDNS_UDP_SIZE	1232

enum srv_state {
	SRV_UNPROBED,
	SRV_UP,
	SRV_DOWN,
};

struct server {
	union fz_sockaddr	 addr;
	enum srv_state		 state;
	uint64_t		 rtt_ns;	/* last probe's, when UP */
	bool			 probing;
	uint16_t		 probe_id;
	uint64_t		 probe_sent;
};

struct pending {
	bool			 used;
	uint16_t		 id;		/* on the wire to the server */
	uint16_t		 orig_id;
	size_t			 server;
	struct gw_dnsfwd_client	 client;
	ldns_rr			*question;
	uint64_t		 deadline;
};

struct gw_dnsfwd {
	void			(*rng)(void *, void *, size_t);
	void			*rng_arg;
	struct server		 srv[GW_DNSFWD_MAX_SERVERS];
	size_t			 nsrv;
	struct pending		*pend;		/* GW_DNSFWD_MAX_PENDING */
	uint16_t		*by_id;		/* id -> slot + 1, 0: none */
	size_t			 npend;
	struct gw_dnsfwd_stats	 st;
};

/* --- resolv.conf --------------------------------------------------------- */

static bool
have(const union fz_sockaddr *a, size_t n, const union fz_sockaddr *x)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (addr_eq(&a[i].sa, &x->sa))
			return true;
	return false;
}

int
gw_dnsfwd_resolv_parse(const char *text, size_t len, union fz_sockaddr *out,
    size_t max, size_t *n)
{
	size_t i = 0, got = 0;

	while (i < len) {
		char line[256], word[16], addr[INET6_ADDRSTRLEN + 8];
		union fz_sockaddr a;
		size_t j = 0;

		while (i < len && text[i] != '\n') {
			if (j < sizeof(line) - 1)
				line[j++] = text[i];
			i++;
		}
		i++;		/* the newline */
		line[j] = '\0';
		if (sscanf(line, " %15s %53s", word, addr) != 2 ||
		    strcmp(word, "nameserver") != 0 || got == max)
			continue;
		memset(&a, 0, sizeof(a));
		if (inet_pton(AF_INET, addr, &a.in4.sin_addr) == 1) {
			a.in4.sin_family = AF_INET;
			a.in4.sin_port = htons(53);
		} else if (inet_pton(AF_INET6, addr, &a.in6.sin6_addr) == 1) {
			/* a scoped address (fe80::1%eth0) fails inet_pton */
			a.in6.sin6_family = AF_INET6;
			a.in6.sin6_port = htons(53);
		} else
			continue;
		if (!have(out, got, &a))
			out[got++] = a;
	}
	*n = got;
	return 0;
}

/* --- messages ------------------------------------------------------------ */

/* A query: QR clear, exactly one question.  Returns the parsed packet. */
static int
parse_query(const uint8_t *msg, size_t len, ldns_pkt **out)
{
	ldns_pkt *p = NULL;
	ldns_rr_list *ql;

	if (msg == NULL || len > 65535 ||
	    ldns_wire2pkt(&p, msg, len) != LDNS_STATUS_OK)
		return -EBADMSG;
	ql = ldns_pkt_question(p);
	if (ldns_pkt_qr(p) || ql == NULL || ldns_rr_list_rr_count(ql) != 1) {
		ldns_pkt_free(p);
		return -EBADMSG;
	}
	*out = p;
	return 0;
}

static int
servfail_of(const ldns_pkt *q, uint8_t *out, size_t outlen, size_t *len)
{
	ldns_pkt *r;
	ldns_rr *qc;
	uint8_t *wire = NULL;
	size_t n = 0;
	int error = 0;

	if ((r = ldns_pkt_new()) == NULL)
		return -ENOMEM;
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(q));
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_ra(r, true);
	ldns_pkt_set_rcode(r, LDNS_RCODE_SERVFAIL);
	if ((qc = ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0))) ==
	    NULL || !ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, qc)) {
		ldns_rr_free(qc);
		error = -ENOMEM;
		goto out;
	}
	if (ldns_pkt_edns(q))
		ldns_pkt_set_edns_udp_size(r, EDNS_UDP_SIZE);
	if (ldns_pkt2wire(&wire, r, &n) != LDNS_STATUS_OK) {
		error = -ENOMEM;
		goto out;
	}
	if (n > outlen) {
		error = -ENOBUFS;
		goto out;
	}
	memcpy(out, wire, n);
	*len = n;
out:
	free(wire);
	ldns_pkt_free(r);
	return error;
}

int
gw_dnsfwd_servfail(const uint8_t *q, size_t qlen, uint8_t *out,
    size_t outlen, size_t *len)
{
	ldns_pkt *p;
	int error;

	if ((error = parse_query(q, qlen, &p)) != 0)
		return error;
	error = servfail_of(p, out, outlen, len);
	ldns_pkt_free(p);
	return error;
}

/* Same name (case-insensitive), type and class. */
static bool
same_question(const ldns_rr *a, const ldns_rr *b)
{
	return ldns_rr_get_type(a) == ldns_rr_get_type(b) &&
	    ldns_rr_get_class(a) == ldns_rr_get_class(b) &&
	    ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b)) == 0;
}

/* --- the forwarder ------------------------------------------------------- */

struct gw_dnsfwd *
gw_dnsfwd_new(void (*rng)(void *, void *, size_t), void *rng_arg)
{
	struct gw_dnsfwd *f;

	if (rng == NULL || (f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->rng = rng;
	f->rng_arg = rng_arg;
	if ((f->pend = calloc(GW_DNSFWD_MAX_PENDING, sizeof(*f->pend))) ==
	    NULL || (f->by_id = calloc(65536, sizeof(*f->by_id))) == NULL) {
		gw_dnsfwd_free(f);
		return NULL;
	}
	return f;
}

static void
pending_drop(struct gw_dnsfwd *f, struct pending *p)
{
	f->by_id[p->id] = 0;
	ldns_rr_free(p->question);
	memset(p, 0, sizeof(*p));
	f->npend--;
}

static void
pending_clear(struct gw_dnsfwd *f)
{
	size_t i;

	for (i = 0; i < GW_DNSFWD_MAX_PENDING; i++)
		if (f->pend[i].used)
			pending_drop(f, &f->pend[i]);
}

void
gw_dnsfwd_free(struct gw_dnsfwd *f)
{
	if (f == NULL)
		return;
	if (f->pend != NULL && f->by_id != NULL)
		pending_clear(f);
	free(f->pend);
	free(f->by_id);
	free(f);
}

/* An id no pending query and no probe out uses. */
static uint16_t
fresh_id(struct gw_dnsfwd *f)
{
	uint16_t id;
	size_t i;

	for (;;) {
		bool taken = false;

		f->rng(f->rng_arg, &id, sizeof(id));
		if (f->by_id[id] != 0)
			continue;
		for (i = 0; i < f->nsrv; i++)
			if (f->srv[i].probing && f->srv[i].probe_id == id)
				taken = true;
		if (!taken)
			return id;
	}
}

int
gw_dnsfwd_set_servers(struct gw_dnsfwd *f, const union fz_sockaddr *s,
    size_t n)
{
	size_t i;

	if (n > GW_DNSFWD_MAX_SERVERS)
		return -E2BIG;
	pending_clear(f);
	memset(f->srv, 0, sizeof(f->srv));
	for (i = 0; i < n; i++)
		f->srv[i].addr = s[i];
	f->nsrv = n;
	return 0;
}

static int
best_ix(const struct gw_dnsfwd *f, size_t *ix)
{
	size_t i, best = SIZE_MAX;

	for (i = 0; i < f->nsrv; i++)
		if (f->srv[i].state == SRV_UP && (best == SIZE_MAX ||
		    f->srv[i].rtt_ns < f->srv[best].rtt_ns))
			best = i;
	if (best == SIZE_MAX)
		for (i = 0; i < f->nsrv && best == SIZE_MAX; i++)
			if (f->srv[i].state == SRV_UNPROBED)
				best = i;
	if (best == SIZE_MAX)
		return -ENOENT;
	*ix = best;
	return 0;
}

int
gw_dnsfwd_best(const struct gw_dnsfwd *f, union fz_sockaddr *out)
{
	size_t i;
	int error;

	if ((error = best_ix(f, &i)) != 0)
		return error;
	*out = f->srv[i].addr;
	return 0;
}

int
gw_dnsfwd_query(struct gw_dnsfwd *f, const uint8_t *msg, size_t len,
    const struct gw_dnsfwd_client *c, uint64_t now_ns, uint8_t *out,
    size_t outlen, struct gw_dnsfwd_out *res)
{
	struct gw_dnsfwd_out o;
	struct pending *p = NULL;
	ldns_pkt *q;
	size_t i, ix;
	int error;

	if ((error = parse_query(msg, len, &q)) != 0) {
		f->st.bad++;
		return error;
	}
	f->st.queries++;
	memset(&o, 0, sizeof(o));
	if (best_ix(f, &ix) == 0 && f->npend < GW_DNSFWD_MAX_PENDING) {
		if (len > outlen) {
			error = -ENOBUFS;
			goto out;
		}
		for (i = 0; i < GW_DNSFWD_MAX_PENDING && p == NULL; i++)
			if (!f->pend[i].used)
				p = &f->pend[i];
		p->question = ldns_rr_clone(ldns_rr_list_rr(
		    ldns_pkt_question(q), 0));
		if (p->question == NULL) {
			p = NULL;
			error = -ENOMEM;
			goto out;
		}
		p->used = true;
		p->id = fresh_id(f);
		p->orig_id = ldns_pkt_id(q);
		p->server = ix;
		p->client = *c;
		p->deadline = now_ns + GW_DNSFWD_QUERY_TIMEOUT_NS;
		f->by_id[p->id] = (uint16_t)(p - f->pend + 1);
		f->npend++;
		memcpy(out, msg, len);
		LDNS_ID_SET(out, p->id);
		o.verdict = GW_DNSFWD_FORWARD;
		o.len = len;
		o.server = f->srv[ix].addr;
		f->st.forwarded++;
	} else {
		/* §5.1: SERVFAIL if there is no nameserver to ask */
		if ((error = servfail_of(q, out, outlen, &o.len)) != 0)
			goto out;
		o.verdict = GW_DNSFWD_REPLY;
		o.client = *c;
		f->st.servfail++;
	}
	*res = o;
out:
	ldns_pkt_free(q);
	return error;
}

int
gw_dnsfwd_answer(struct gw_dnsfwd *f, const uint8_t *msg, size_t len,
    const struct sockaddr *from, uint64_t now_ns, uint8_t *out,
    size_t outlen, struct gw_dnsfwd_out *res)
{
	struct gw_dnsfwd_out o;
	struct pending *p;
	ldns_pkt *a = NULL;
	ldns_rr_list *ql;
	uint16_t id, slot;
	size_t i;
	int error = 0;

	if (msg == NULL || from == NULL || len > 65535 ||
	    ldns_wire2pkt(&a, msg, len) != LDNS_STATUS_OK) {
		f->st.bad++;
		return -EBADMSG;
	}
	ql = ldns_pkt_question(a);
	if (!ldns_pkt_qr(a) || ql == NULL || ldns_rr_list_rr_count(ql) != 1) {
		f->st.bad++;
		error = -EBADMSG;
		goto out;
	}
	id = ldns_pkt_id(a);
	memset(&o, 0, sizeof(o));
	/* a probe's answer: any rcode means the server is up */
	for (i = 0; i < f->nsrv; i++) {
		struct server *s = &f->srv[i];

		if (!s->probing || s->probe_id != id ||
		    !addr_eq(&s->addr.sa, from))
			continue;
		s->probing = false;
		s->state = SRV_UP;
		s->rtt_ns = now_ns > s->probe_sent ? now_ns - s->probe_sent : 0;
		f->st.probe_answers++;
		o.verdict = GW_DNSFWD_PROBED;
		*res = o;
		goto out;
	}
	/* Id, server and question must all be those we sent (RFC 5452 9.1). */
	if ((slot = f->by_id[id]) == 0 ||
	    !addr_eq(&f->srv[(p = &f->pend[slot - 1])->server].addr.sa,
	    from) || !same_question(p->question, ldns_rr_list_rr(ql, 0))) {
		f->st.unmatched++;
		error = -ENOENT;
		goto out;
	}
	if (len > outlen) {
		error = -ENOBUFS;
		goto out;
	}
	memcpy(out, msg, len);
	LDNS_ID_SET(out, p->orig_id);
	o.verdict = GW_DNSFWD_REPLY;
	o.len = len;
	o.client = p->client;
	*res = o;
	f->st.answers++;
	pending_drop(f, p);
out:
	ldns_pkt_free(a);
	return error;
}

int
gw_dnsfwd_probe(struct gw_dnsfwd *f, size_t i, uint64_t now_ns,
    uint8_t *out, size_t outlen, struct gw_dnsfwd_out *res)
{
	struct gw_dnsfwd_out o;
	struct server *s;
	ldns_pkt *q = NULL;
	uint8_t *wire = NULL;
	size_t n = 0;
	int error = 0;

	if (i >= f->nsrv)
		return -ENOENT;
	s = &f->srv[i];
	if (s->probing)
		return -EBUSY;
	if (ldns_pkt_query_new_frm_str(&q, GW_DNSFWD_PROBE_NAME,
	    LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
		return -ENOMEM;
	if (ldns_pkt2wire(&wire, q, &n) != LDNS_STATUS_OK) {
		error = -ENOMEM;
		goto out;
	}
	if (n > outlen) {
		error = -ENOBUFS;
		goto out;
	}
	memcpy(out, wire, n);
	s->probe_id = fresh_id(f);
	LDNS_ID_SET(out, s->probe_id);
	s->probing = true;
	s->probe_sent = now_ns;
	memset(&o, 0, sizeof(o));
	o.verdict = GW_DNSFWD_FORWARD;
	o.len = n;
	o.server = s->addr;
	*res = o;
	f->st.probes++;
out:
	free(wire);
	ldns_pkt_free(q);
	return error;
}

void
gw_dnsfwd_expire(struct gw_dnsfwd *f, uint64_t now_ns)
{
	size_t i;

	for (i = 0; i < GW_DNSFWD_MAX_PENDING && f->npend > 0; i++)
		if (f->pend[i].used && now_ns >= f->pend[i].deadline) {
			pending_drop(f, &f->pend[i]);
			f->st.timeouts++;
		}
	for (i = 0; i < f->nsrv; i++)
		if (f->srv[i].probing && now_ns >= f->srv[i].probe_sent +
		    GW_DNSFWD_PROBE_TIMEOUT_NS) {
			f->srv[i].probing = false;
			f->srv[i].state = SRV_DOWN;
		}
}

uint64_t
gw_dnsfwd_next_deadline(const struct gw_dnsfwd *f)
{
	uint64_t d = UINT64_MAX;
	size_t i;

	for (i = 0; i < GW_DNSFWD_MAX_PENDING && f->npend > 0; i++)
		if (f->pend[i].used && f->pend[i].deadline < d)
			d = f->pend[i].deadline;
	for (i = 0; i < f->nsrv; i++)
		if (f->srv[i].probing && f->srv[i].probe_sent +
		    GW_DNSFWD_PROBE_TIMEOUT_NS < d)
			d = f->srv[i].probe_sent + GW_DNSFWD_PROBE_TIMEOUT_NS;
	return d;
}

void
gw_dnsfwd_get_stats(const struct gw_dnsfwd *f, struct gw_dnsfwd_stats *st)
{
	size_t i;

	*st = f->st;
	st->pending = f->npend;
	st->servers = f->nsrv;
	st->up = 0;
	for (i = 0; i < f->nsrv; i++)
		if (f->srv[i].state == SRV_UP)
			st->up++;
}
