/* SPDX-License-Identifier: ISC */
/*
 * DNS resource address patterns (firezone-protocols.md §4.4): labels
 * separated by '.', matched case-insensitively against a query name.
 *
 *   literal   app.example.com
 *   *         any run of characters within one label ("*.example.com",
 *             "app.*com" does not match "app.foo.com")
 *   ?         exactly one character, never a dot
 *   **        a whole label: zero or more labels ("**.example.com" matches
 *             example.com, a.example.com, a.b.example.com)
 *   *.        a pattern starting with "*." also matches its bare parent
 *
 * Pure functions over caller strings; nothing is kept.
 */
#ifndef FZ_DNS_PATTERN_H
#define FZ_DNS_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Longest name or pattern in text form, without the trailing dot. */
#define DNS_PATTERN_MAX		253
#define DNS_PATTERN_MAX_LABELS	127

/*
 * Checks a pattern and copies it, lower-cased and without one trailing dot,
 * into out (at least DNS_PATTERN_MAX + 1 bytes).  -EINVAL for an empty
 * pattern, an empty label, a "**" that is not a whole label, a character
 * that is neither a letter, digit, '-', '_', '*' nor '?', or one too long.
 */
int	dns_pattern_normalize(const char *pattern, char *out, size_t outlen)
	    FZ_WUR;

/*
 * Whether name (text, one trailing dot allowed) matches pattern (as
 * normalized above; an invalid pattern matches nothing).  Names longer than
 * DNS_PATTERN_MAX or with empty labels match nothing.
 */
bool	dns_pattern_match(const char *pattern, const char *name);

/*
 * Specificity order of two normalized patterns (§4.4): compared right to
 * left, literal before wildcard, '?' before '*', '*' before "**", a pattern
 * that ends (or reaches a dot) earlier before a longer one, and at the first
 * differing literal the greater byte first.  < 0 when a is more specific
 * than b, 0 when equal.  A total order (Firezone's BTreeSet order).
 */
int	dns_pattern_cmp(const char *a, const char *b);

#endif
