/* SPDX-License-Identifier: ISC */
/*
 * A packet as the gateway decrypts it or the client reads it from its
 * TUN: the header walk, the checks against a small access table, and the
 * ICMP error built for it, which must itself parse and quote only bytes
 * of the packet.  The first input byte picks the filters.
 */
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "flowlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct flt_table *
table(void)
{
	static struct flt_table *t;
	static const struct flt_rule r[] = {
		{ FLT_TCP, 80, 80 }, { FLT_UDP, 53, 53 }, { FLT_ICMP, 0, 0 },
	};

	if (t != NULL)
		return t;
	if ((t = flt_table_new()) == NULL ||
	    flt_table_set_self(t, "100.64.0.1", "fd00:2021:1111::1") != 0 ||
	    flt_access_set(t, "c", "100.64.0.2", "fd00:2021:1111::2", "r1",
	    FLT_RES_CIDR, "10.0.0.0/8", r, 1, 0) != 0 ||
	    flt_access_set(t, "c", "100.64.0.2", "fd00:2021:1111::2", "r2",
	    FLT_RES_CIDR, "2001:db8::/32", r + 1, 2, 0) != 0 ||
	    flt_access_set(t, "c", "100.64.0.2", "fd00:2021:1111::2", "i",
	    FLT_RES_INTERNET, NULL, NULL, 0, 0) != 0)
		abort();
	return t;
}

static void
flow_line(const struct flow_rec *r, void *arg)
{
	char line[768];

	(void)arg;
	if (flowlog_fmt(r, line, sizeof(line)) <= 0)
		abort();
}

/* Both directions of the packet's flow, then every flow's line. */
static void
flows(const uint8_t *pkt, const struct flt_pkt *p)
{
	static struct flowlog *fl;
	int rc;

	if (fl == NULL && (fl = flowlog_new(64)) == NULL)
		abort();
	rc = flowlog_add(fl, pkt, p, true, "c\"\\", "r", 1);
	rc |= flowlog_add(fl, pkt, p, false, "c", "r", 2);
	(void)rc;
	if (flowlog_count(fl) >= 32)
		(void)flowlog_expire(fl, 0, true, flow_line, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[FLT_ICMP_MAX];
	struct flt_rule rules[8];
	struct flt_pkt p, q;
	uint8_t *copy;
	size_t n;
	int nr;
	char rid[FLT_ID_MAX + 1];
	char s[64];

	if (size > 0 && size < sizeof(s)) {
		memcpy(s, data, size);
		s[size] = '\0';
		if ((nr = flt_rules_parse(s, rules, 8)) > 0 &&
		    flt_rules_fmt(rules, (size_t)nr, s, sizeof(s)) != 0)
			abort();
	}
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	if (flt_parse(copy, size, &p) == 0) {
		if (p.len > size || p.hlen > p.len)
			abort();
		(void)flt_check(table(), &p, 1, rid);
		(void)flt_client_check(table(), "c", &p);
		(void)flt_check_return(table(), &p, 1);
		flows(copy, &p);
		n = flt_icmp_build(&p, copy, FLT_PROHIBITED, out,
		    sizeof(out));
		if (n > sizeof(out) || (n > 0 && (flt_parse(out, n, &q) != 0 ||
		    q.len != n)))
			abort();
	}
	free(copy);
	return 0;
}
