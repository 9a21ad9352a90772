/* SPDX-License-Identifier: ISC */
/*
 * Transport-data AEAD (ChaCha20-Poly1305, RFC 8439, no associated data)
 * with two backends behind one ops table: libsodium, the reference (and
 * what the handshake uses), and OpenSSL 3's EVP with one reused context
 * per thread and direction, chosen once (when the data plane starts, or at
 * the first key) when it is faster on this CPU (a short self-measurement)
 * or when FZ_AEAD=openssl|sodium forces one.
 *
 * A key (struct aead_key) lives inside its owner (a keypair) and holds no
 * secret: it says which backend the key uses; the caller passes the 32 key
 * bytes on every call.  Calls on one key may come from several threads at
 * once: each uses its own OpenSSL context, set to the key it is given
 * (aead.c says why, and when the copy it keeps is wiped).
 */
#ifndef FZ_WG_AEAD_H
#define FZ_WG_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AEAD_KEY_LEN	32
#define AEAD_NONCE_LEN	12
#define AEAD_TAG_LEN	16
/*
 * Shorter messages go through libsodium whatever the backend: its fixed
 * cost is lower (tests/bench/aead, one hot key: OpenSSL 0.6x at 16-64
 * bytes, 0.9x at 512, 1.3x at 768), and it reads no context, which with
 * thousands of keys is a chain of cache misses of its own (ACKs and
 * keepalives are short).
 */
#define AEAD_EVP_MIN_LEN	640

enum aead_backend {
	AEAD_AUTO = 0,		/* measure once, keep the faster */
	AEAD_SODIUM,
	AEAD_OPENSSL,
};

struct aead_key {
	bool		 openssl;	/* long messages: OpenSSL (else
					   libsodium) */
	bool		 direct;	/* through the provider's functions,
					   not the EVP calls */
};

/*
 * Sets the backend new keys get: AEAD_SODIUM or AEAD_OPENSSL as given;
 * AEAD_AUTO (or anything else) measures both now and keeps the faster.
 * Returns the backend in force after the call (never AEAD_AUTO).  Without
 * a call, the first key chooses by FZ_AEAD (sodium, openssl, auto: the
 * default) once.
 */
enum aead_backend aead_select(enum aead_backend);
/* The backend in force (choosing it first if nothing has yet). */
enum aead_backend aead_backend(void);
const char	*aead_backend_name(enum aead_backend);
/* "sodium", "openssl", "auto" -> backend; -EINVAL otherwise. */
int		 aead_backend_parse(const char *, enum aead_backend *)
		    __attribute__((warn_unused_result));

/*
 * Prepares k (for sealing and opening alike) with the backend in force.
 * Cannot fail: without OpenSSL, k uses libsodium (as does any message for
 * which a thread cannot make its context).
 */
void	aead_key_init(struct aead_key *k);
/* Forgets k's backend; NULL-safe (k holds nothing to free or wipe). */
void	aead_key_fini(struct aead_key *k);
/*
 * A thread that seals or opens often keeps its OpenSSL contexts keyed
 * between messages (on), so that a run of messages under one key sets it
 * once; it then calls aead_thread_wipe before it sleeps.  Other threads
 * (off, the default) have the key wiped from their context after each
 * message.  Either way a thread's contexts are freed, cleansed, when it
 * exits.
 */
void	aead_thread_hold(bool on);
/* Overwrites the keys this thread's contexts hold; cheap when none. */
void	aead_thread_wipe(void);

/* Encrypts buf[0..len) in place and writes its tag: 0, or -EIO. */
int	aead_seal(struct aead_key *k, const uint8_t key[AEAD_KEY_LEN],
	    const uint8_t nonce[AEAD_NONCE_LEN], uint8_t *buf, size_t len,
	    uint8_t tag[AEAD_TAG_LEN]) __attribute__((warn_unused_result));
/*
 * Checks tag and decrypts buf[0..len) in place: 0, or -EBADMSG (buf is
 * then zeroed, never left holding unauthenticated plaintext).
 */
int	aead_open(struct aead_key *k, const uint8_t key[AEAD_KEY_LEN],
	    const uint8_t nonce[AEAD_NONCE_LEN], uint8_t *buf, size_t len,
	    const uint8_t tag[AEAD_TAG_LEN]) __attribute__((warn_unused_result));

/*
 * OpenSSL keys made after this call use the EVP calls (on) or the
 * provider's functions directly (off, the default where found; FZ_AEAD_EVP=1
 * sets on).  For tests and benchmarks.
 */
void	aead_openssl_evp_api(bool on);
/* Does k use the provider's functions directly? */
bool	aead_key_direct(const struct aead_key *k);

/*
 * One backend on its own, whatever is in force (tests and benchmarks):
 * a key initialised with aead_key_init_with.
 */
void	aead_key_init_with(struct aead_key *k, enum aead_backend);

#endif
