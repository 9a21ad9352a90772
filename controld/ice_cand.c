/* SPDX-License-Identifier: ISC */
/*
 * ICE candidate strings in Firezone's (str0m's) SDP form, RFC 8839
 * section 5.1:
 *   candidate:<foundation> 1 udp <prio> <ip> <port> typ <type>
 *       [raddr <ip> rport <port>] [<extension-att-name> <value>]...
 * Candidates come from the remote peer through the portal: untrusted.
 * The parser copies at most ICE_CAND_MAXLEN bytes, splits on single
 * spaces, and checks every token before anything is written out.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ice.h"

#define MAX_TOKENS	32

static const char *const type_names[] = {
	[ICE_HOST] = "host",
	[ICE_SRFLX] = "srflx",
	[ICE_PRFLX] = "prflx",
	[ICE_RELAY] = "relay",
};

const char *
ice_cand_type_name(enum ice_cand_type t)
{
	if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "?";
	return type_names[t];
}

/* RFC 8445 section 5.1.2.2: recommended type preferences. */
static const uint8_t type_pref[] = {
	[ICE_HOST] = 126,
	[ICE_PRFLX] = 110,
	[ICE_SRFLX] = 100,
	[ICE_RELAY] = 0,
};

uint32_t
ice_cand_priority(enum ice_cand_type t, uint16_t local_pref)
{
	/* priority = 2^24 * type pref + 2^8 * local pref + (256 - component) */
	return ((uint32_t)type_pref[t] << 24) | ((uint32_t)local_pref << 8) |
	    (256 - 1);
}

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/" */
static bool
ice_chars(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '+' || *s == '/'))
			return false;
	return true;
}

/* A decimal without sign or leading zeros (except "0"), at most max. */
static int
parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0') || strlen(s) > 10)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* An IP literal (no brackets, zone, or name) and a port 1..65535. */
static int
parse_ip_port(const char *ip, const char *port, union fz_sockaddr *out)
{
	union fz_sockaddr sa;
	uint64_t p;

	if (strpbrk(ip, "[]%") != NULL || parse_uint(port, 65535, &p) != 0 ||
	    p == 0)
		return -EINVAL;
	if (addr_parse(ip, ADDR_PORT_NONE, &sa) != 0)
		return -EINVAL;
	addr_set_port(&sa.sa, (uint16_t)p);
	*out = sa;
	return 0;
}

int
ice_cand_parse(const char *s, size_t len, struct ice_candidate *out)
{
	char copy[ICE_CAND_MAXLEN + 1], *tok[MAX_TOKENS], *p;
	struct ice_candidate c;
	unsigned n = 0, i;
	uint64_t v;

	if (len >= 2 && memcmp(s, "a=", 2) == 0) {
		s += 2;
		len -= 2;
	}
	if (len < 10 || len > ICE_CAND_MAXLEN || memchr(s, '\0', len) != NULL ||
	    memcmp(s, "candidate:", 10) != 0)
		return -EINVAL;
	memcpy(copy, s + 10, len - 10);
	copy[len - 10] = '\0';

	/* Split on single spaces: empty tokens are an error. */
	for (p = copy;;) {
		char *sp = strchr(p, ' ');

		if (n == MAX_TOKENS || *p == ' ' || *p == '\0')
			return -EINVAL;
		tok[n++] = p;
		if (sp == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	/* Printable ASCII only (no tabs, CR, LF, controls). */
	for (i = 0; i < n; i++)
		for (p = tok[i]; *p; p++)
			if (*p <= ' ' || *p > '~')
				return -EINVAL;
	if (n < 8 || (n - 8) % 2 != 0)
		return -EINVAL;

	memset(&c, 0, sizeof(c));
	if (!ice_chars(tok[0], 1, ICE_MAX_FOUNDATION))
		return -EINVAL;
	memcpy(c.foundation, tok[0], strlen(tok[0]) + 1);
	if (strcmp(tok[1], "1") != 0 || strcasecmp(tok[2], "udp") != 0)
		return -EINVAL;
	if (parse_uint(tok[3], UINT32_MAX, &v) != 0 || v == 0)
		return -EINVAL;
	c.priority = (uint32_t)v;
	if (parse_ip_port(tok[4], tok[5], &c.addr) != 0 ||
	    strcmp(tok[6], "typ") != 0)
		return -EINVAL;
	for (i = 0; i < 4; i++)
		if (strcmp(tok[7], type_names[i]) == 0)
			break;
	if (i == 4)
		return -EINVAL;
	c.type = (enum ice_cand_type)i;

	for (i = 8; i < n; i += 2) {
		if (strcmp(tok[i], "raddr") == 0) {
			if (c.has_raddr || i + 3 >= n ||
			    strcmp(tok[i + 2], "rport") != 0)
				return -EINVAL;
			/* rport 0 is what browsers send to hide it. */
			if (strcmp(tok[i + 3], "0") == 0) {
				if (parse_ip_port(tok[i + 1], "9",
				    &c.raddr) != 0)
					return -EINVAL;
				addr_set_port(&c.raddr.sa, 0);
			} else if (parse_ip_port(tok[i + 1], tok[i + 3],
			    &c.raddr) != 0)
				return -EINVAL;
			c.has_raddr = true;
			i += 2;
		} else if (strcmp(tok[i], "rport") == 0) {
			return -EINVAL;		/* rport without raddr */
		} else if (!ice_chars(tok[i], 1, 32)) {
			return -EINVAL;		/* extension name */
		}
		/* Other extensions (generation, ufrag, ...) are skipped. */
	}
	if (c.type == ICE_HOST && c.has_raddr)
		return -EINVAL;
	*out = c;
	return 0;
}

int
ice_cand_fmt(const struct ice_candidate *c, char *buf, size_t cap)
{
	char ip[ADDR_STRLEN], rip[ADDR_STRLEN];
	int n;

	if ((unsigned)c->type > ICE_RELAY ||
	    !ice_chars(c->foundation, 1, ICE_MAX_FOUNDATION) ||
	    addr_fmt(&c->addr.sa, false, ip, sizeof(ip)) != 0)
		return -EINVAL;
	if (c->has_raddr) {
		if (addr_fmt(&c->raddr.sa, false, rip, sizeof(rip)) != 0)
			return -EINVAL;
		n = snprintf(buf, cap,
		    "candidate:%s 1 udp %u %s %u typ %s raddr %s rport %u",
		    c->foundation, c->priority, ip, addr_port(&c->addr.sa),
		    type_names[c->type], rip, addr_port(&c->raddr.sa));
	} else
		n = snprintf(buf, cap, "candidate:%s 1 udp %u %s %u typ %s",
		    c->foundation, c->priority, ip, addr_port(&c->addr.sa),
		    type_names[c->type]);
	if (n < 0 || (size_t)n >= cap)
		return -ENOBUFS;
	return 0;
}
