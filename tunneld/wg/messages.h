/* SPDX-License-Identifier: ISC */
/*
 * The four WireGuard messages on the wire (the WireGuard paper, §5.4): the
 * offset of every field, so that code reads msg + WG_INIT_STATIC instead
 * of msg + 40.  Integers are little-endian except the type, whose three
 * reserved bytes are zero.  The lengths themselves (WG_INITIATION_LEN, ...)
 * are public, in wg.h; wg_msg_type() accepts a message only at its exact
 * size, so a reader of a classified message stays inside it.
 */
#ifndef FZ_WG_MESSAGES_H
#define FZ_WG_MESSAGES_H

#include "wg.h"

#define WG_AEAD_LEN(plain)	((plain) + WG_TAG_LEN)
#define WG_TAI64N_LEN		12
#define WG_MAC_LEN		16	/* mac1, mac2 and the cookie */
#define WG_COOKIE_NONCE_LEN	24	/* XChaCha20-Poly1305 */

/* Handshake initiation (type 1), 148 bytes. */
enum {
	WG_INIT_SENDER		= 4,	/* u32 le: the initiator's index */
	WG_INIT_EPHEMERAL	= 8,	/* E_pub_i */
	WG_INIT_STATIC		= 40,	/* AEAD(S_pub_i) */
	WG_INIT_TIMESTAMP	= WG_INIT_STATIC + WG_AEAD_LEN(WG_KEY_LEN),
	WG_INIT_MAC1		= WG_INIT_TIMESTAMP + WG_AEAD_LEN(WG_TAI64N_LEN),
	WG_INIT_MAC2		= WG_INIT_MAC1 + WG_MAC_LEN,
};

/* Handshake response (type 2), 92 bytes. */
enum {
	WG_RESP_SENDER		= 4,	/* u32 le: the responder's index */
	WG_RESP_RECEIVER	= 8,	/* u32 le: the initiator's index */
	WG_RESP_EPHEMERAL	= 12,	/* E_pub_r */
	WG_RESP_EMPTY		= 44,	/* AEAD(ε): a tag only */
	WG_RESP_MAC1		= WG_RESP_EMPTY + WG_AEAD_LEN(0),
	WG_RESP_MAC2		= WG_RESP_MAC1 + WG_MAC_LEN,
};

/* Cookie reply (type 3), 64 bytes. */
enum {
	WG_COOKIE_RECEIVER	= 4,	/* u32 le: the sender index answered */
	WG_COOKIE_NONCE		= 8,
	WG_COOKIE_SEALED	= WG_COOKIE_NONCE + WG_COOKIE_NONCE_LEN,
};

/* Transport data (type 4), 32 bytes and more. */
enum {
	WG_DATA_RECEIVER	= 4,	/* u32 le */
	WG_DATA_COUNTER		= 8,	/* u64 le: the nonce */
	WG_DATA_PAYLOAD		= WG_DATA_HDR_LEN,
};

/* mac1 and mac2 end both handshake messages (§5.4.4). */
#define WG_MACS_LEN		(2 * WG_MAC_LEN)

_Static_assert(WG_INIT_MAC2 + WG_MAC_LEN == WG_INITIATION_LEN,
    "initiation layout");
_Static_assert(WG_RESP_MAC2 + WG_MAC_LEN == WG_RESPONSE_LEN,
    "response layout");
_Static_assert(WG_COOKIE_SEALED + WG_AEAD_LEN(WG_MAC_LEN) == WG_COOKIE_LEN,
    "cookie reply layout");
_Static_assert(WG_DATA_COUNTER + 8 == WG_DATA_HDR_LEN, "data header layout");

#endif
