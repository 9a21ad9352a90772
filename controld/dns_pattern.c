/* SPDX-License-Identifier: ISC */
/*
 * DNS resource address patterns.  Matching works on labels: "**" is a label
 * of its own and is matched by a dynamic programme over (pattern label, name
 * label), so several "**" cost O(labels^2), never exponential time; '*' and
 * '?' are matched inside one label by the usual greedy glob with one
 * backtrack point (O(n*m) for a 63-byte label).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "dns_pattern.h"

struct label {
	const char	*p;
	size_t		 len;
};

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool
pattern_char_ok(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_' || c == '*' || c == '?';
}

int
dns_pattern_normalize(const char *pattern, char *out, size_t outlen)
{
	char buf[DNS_PATTERN_MAX + 1];
	size_t len, i, lstart;

	if (pattern == NULL)
		return -EINVAL;
	len = strnlen(pattern, DNS_PATTERN_MAX + 2);
	if (len > 0 && pattern[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_PATTERN_MAX || outlen < len + 1)
		return -EINVAL;
	lstart = 0;
	for (i = 0; i <= len; i++) {
		int c = i < len ? lower((unsigned char)pattern[i]) : '.';

		if (c == '.') {
			size_t llen = i - lstart;
			const char *l = buf + lstart;

			if (llen == 0 || llen > 63)
				return -EINVAL;
			/* "**" is a whole label or an error (as glob says). */
			if (memmem(l, llen, "**", 2) != NULL &&
			    !(llen == 2 && l[0] == '*' && l[1] == '*'))
				return -EINVAL;
			lstart = i + 1;
			if (i < len)
				buf[i] = '.';
			continue;
		}
		if (!pattern_char_ok(c))
			return -EINVAL;
		buf[i] = (char)c;
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

/* Splits text at dots; -1 on an empty label or too many labels. */
static int
split(const char *s, size_t len, struct label *labels)
{
	size_t i, start = 0;
	int n = 0;

	if (len == 0)
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (i == start || n == DNS_PATTERN_MAX_LABELS)
			return -1;
		labels[n].p = s + start;
		labels[n].len = i - start;
		n++;
		start = i + 1;
	}
	return n;
}

/* One label against one pattern label holding '*' and '?' but no '.'. */
static bool
label_match(const struct label *pat, const struct label *name)
{
	size_t p = 0, n = 0, star_p = SIZE_MAX, star_n = 0;

	while (n < name->len) {
		if (p < pat->len && pat->p[p] == '*') {
			star_p = p++;
			star_n = n;
		} else if (p < pat->len && (pat->p[p] == '?' ||
		    pat->p[p] == lower((unsigned char)name->p[n]))) {
			p++;
			n++;
		} else if (star_p != SIZE_MAX) {
			p = star_p + 1;
			n = ++star_n;
		} else
			return false;
	}
	while (p < pat->len && pat->p[p] == '*')
		p++;
	return p == pat->len;
}

static bool
labels_match(const struct label *pat, int np, const struct label *name,
    int nn)
{
	/* ok[i][j]: pattern labels i.. match name labels j.. */
	_Static_assert(DNS_PATTERN_MAX_LABELS < 128, "table size");
	bool ok[DNS_PATTERN_MAX_LABELS + 1][DNS_PATTERN_MAX_LABELS + 1];
	int i, j;

	for (i = np; i >= 0; i--) {
		for (j = nn; j >= 0; j--) {
			if (i == np) {
				ok[i][j] = j == nn;
			} else if (pat[i].len == 2 && pat[i].p[0] == '*' &&
			    pat[i].p[1] == '*') {
				ok[i][j] = ok[i + 1][j] ||
				    (j < nn && ok[i][j + 1]);
			} else {
				ok[i][j] = j < nn && ok[i + 1][j + 1] &&
				    label_match(&pat[i], &name[j]);
			}
		}
	}
	return ok[0][0];
}

bool
dns_pattern_match(const char *pattern, const char *name)
{
	struct label pl[DNS_PATTERN_MAX_LABELS], nl[DNS_PATTERN_MAX_LABELS];
	size_t plen, nlen;
	int np, nn;

	if (pattern == NULL || name == NULL)
		return false;
	plen = strnlen(pattern, DNS_PATTERN_MAX + 1);
	nlen = strnlen(name, DNS_PATTERN_MAX + 2);
	if (nlen > 0 && name[nlen - 1] == '.')
		nlen--;
	if (plen == 0 || plen > DNS_PATTERN_MAX || nlen > DNS_PATTERN_MAX)
		return false;
	if ((np = split(pattern, plen, pl)) <= 0 ||
	    (nn = split(name, nlen, nl)) < 0)
		return false;
	if (labels_match(pl, np, nl, nn))
		return true;
	/* "*.example.com" also matches "example.com" (§4.4). */
	if (np > 1 && pl[0].len == 1 && pl[0].p[0] == '*')
		return labels_match(pl + 1, np - 1, nl, nn);
	return false;
}

static bool
is_wild(int c)
{
	return c == '*' || c == '?';
}

int
dns_pattern_cmp(const char *a, const char *b)
{
	size_t i = strlen(a), j = strlen(b);

	/* -1 stands for "nothing left". */
	for (;;) {
		int ca = i > 0 ? (unsigned char)a[--i] : -1;
		int cb = j > 0 ? (unsigned char)b[--j] : -1;

		if (ca == cb) {
			if (ca == -1)
				return 0;
			continue;
		}
		if (ca == '*' && cb == '?')
			return 1;
		if (ca == '?' && cb == '*')
			return -1;
		/* Only the wildcard differs: the pattern without it first. */
		if (is_wild(ca) && (cb == -1 || cb == '.'))
			return 1;
		if ((ca == -1 || ca == '.') && is_wild(cb))
			return -1;
		if (is_wild(ca))
			return 1;
		if (is_wild(cb))
			return -1;
		if (ca != -1 && cb != -1)
			return ca > cb ? -1 : 1;
		return ca == -1 ? -1 : 1;
	}
}
