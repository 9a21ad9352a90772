/* SPDX-License-Identifier: ISC */
/*
 * Credentials the portal derives (firezone-protocols.md §2.1, §3.3, §9):
 * relay (TURN) credentials from a relay's stamp_secret, the relay id,
 * ICE credentials and WireGuard PSKs for a Client/Gateway pair, the
 * external_id hash, TURN REST credentials for third-party TURN servers,
 * name-based UUIDs.  Pure except portal_stamp_secret (random).  Every
 * function returns 0 or -errno and writes its outputs only on success.
 */
#ifndef FZ_CREDS_H
#define FZ_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef FZ_WUR
#define FZ_WUR __attribute__((warn_unused_result))
#endif

#define PORTAL_UUID_STRLEN	36	/* 8-4-4-4-12, lowercase */
#define PORTAL_B64_SHA256_LEN	43	/* base64, no padding, of 32 bytes */
#define PORTAL_B64_KEY_LEN	44	/* base64, padded, of 32 bytes */
#define PORTAL_STAMP_SECRET_LEN	64	/* hex of 32 random bytes */
#define PORTAL_GATEWAY_RELAY_EXPIRY 2145916800ULL /* 2038-01-01 (§3.3) */

/* Parses a UUID as Rust's Uuid::from_str does (hyphenated, simple,
   braced, urn:uuid:); -EINVAL. */
int	portal_uuid_parse(const char *s, uint8_t out[16]) FZ_WUR;
void	portal_uuid_format(const uint8_t u[16], char out[PORTAL_UUID_STRLEN + 1]);

/* base64_std_nopad(SHA-256("<expiry>:<stamp_secret>:<salt>")) (§3.3). */
int	portal_relay_password(const char *stamp_secret, uint64_t expiry,
	    const char *salt, char out[PORTAL_B64_SHA256_LEN + 1]) FZ_WUR;
/* The portal's salt for a device: base64_std_nopad(SHA-256(pubkey_b64)). */
int	portal_relay_salt(const char *pubkey_b64,
	    char out[PORTAL_B64_SHA256_LEN + 1]) FZ_WUR;
/* "<expiry>:<salt of pubkey_b64>"; -ENOSPC when outlen is too small. */
int	portal_relay_username(uint64_t expiry, const char *pubkey_b64,
	    char *out, size_t outlen) FZ_WUR;
/* The portal's relay id: a v4-shaped UUID from SHA-256(stamp_secret). */
int	portal_relay_id(const char *stamp_secret,
	    char out[PORTAL_UUID_STRLEN + 1]) FZ_WUR;
/* 32 random bytes as 64 lowercase hex characters (libsodium). */
int	portal_stamp_secret(char out[PORTAL_STAMP_SECRET_LEN + 1]) FZ_WUR;

struct portal_ice_creds {
	char	username[5];	/* ufrag, 4 chars */
	char	password[23];	/* 22 chars */
};
/* §2.1: initiator = Client (client_ice_credentials), receiver = Gateway. */
int	portal_ice_credentials(const char *initiator_id,
	    const char *initiator_pubkey, const char *receiver_id,
	    const char *receiver_pubkey, struct portal_ice_creds *initiator,
	    struct portal_ice_creds *receiver) FZ_WUR;

/*
 * PSK = PBKDF2-HMAC-SHA256(client_base || gateway_base, "WG_PSK|C_ID:..|
 * G_ID:..|C_PK:..|G_PK:..", 1, 32), base64 padded (44 chars).
 */
int	portal_psk(const uint8_t client_base[32], const uint8_t gateway_base[32],
	    const char *client_id, const char *gateway_id,
	    const char *client_pubkey, const char *gateway_pubkey,
	    char out[PORTAL_B64_KEY_LEN + 1]) FZ_WUR;
/* Client<->client: "WG_PSK_CC|CA_ID:..|CB_ID:..|CA_PK:..|CB_PK:..". */
int	portal_psk_cc(const uint8_t a_base[32], const uint8_t b_base[32],
	    const char *a_id, const char *b_id, const char *a_pubkey,
	    const char *b_pubkey, char out[PORTAL_B64_KEY_LEN + 1]) FZ_WUR;

/*
 * The external_id sent for a device id: lowercase hex SHA-256 of the
 * string when it parses as a UUID, else the id verbatim.  malloc'd.
 */
int	portal_external_id(const char *device_id, char **out) FZ_WUR;

/*
 * TURN REST credentials (coturn use-auth-secret): username
 * "<expiry>:<name>" (or "<expiry>" when name is NULL or empty), password
 * base64(HMAC-SHA1(secret, username)).  -ENOSPC.
 */
int	portal_turn_rest_creds(const char *secret, uint64_t expiry,
	    const char *name, char *user, size_t userlen, char *pass,
	    size_t passlen) FZ_WUR;

/* Name-based UUID, version 5 (RFC 9562 §5.5, SHA-1). */
int	portal_uuid_from_name(const uint8_t ns[16], const char *name,
	    char out[PORTAL_UUID_STRLEN + 1]) FZ_WUR;
/* The namespace fz-portald derives its ids in (a fixed v4 UUID). */
extern const uint8_t portal_uuid_ns_fz[16];

#endif
