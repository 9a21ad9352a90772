/* SPDX-License-Identifier: ISC */
/*
 * Two WireGuard devices that know each other, for the wg unit tests:
 * A initiates (its endpoint for B is set), B answers.  The caller owns the
 * fake clock; wg_pair_free frees both devices.
 */
#ifndef FZ_WG_PAIR_H
#define FZ_WG_PAIR_H

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "wg.h"

struct side {
	struct wg_device	*dev;
	struct wg_peer		*peer;
	uint8_t			 priv[32], pub[32];
	union fz_sockaddr	 addr;
};

/* Private keys are seed and 2 * seed bytes, clamped. */
static inline void
wg_pair_new(struct side *a, struct side *b, uint8_t seed)
{
	static const char *addrs[] = { "192.0.2.1:51820", "192.0.2.2:51820" };
	struct side *s[2] = { a, b };
	int i;

	for (i = 0; i < 2; i++) {
		memset(s[i]->priv, seed * (i + 1), 32);
		s[i]->priv[0] &= 248;
		s[i]->priv[31] = (s[i]->priv[31] & 127) | 64;
		wg_key_public(s[i]->priv, s[i]->pub);
		ck_assert_int_eq(wg_device_new(s[i]->priv, &s[i]->dev), 0);
		ck_assert_int_eq(addr_parse(addrs[i], ADDR_PORT_REQUIRED,
		    &s[i]->addr), 0);
	}
	ck_assert_int_eq(wg_peer_add(a->dev, b->pub, &a->peer), 0);
	ck_assert_int_eq(wg_peer_add(b->dev, a->pub, &b->peer), 0);
	wg_peer_set_endpoint(a->peer, &b->addr);
}

static inline void
wg_pair_free(struct side *a, struct side *b)
{
	wg_device_free(a->dev);
	wg_device_free(b->dev);
}

#endif
