/* SPDX-License-Identifier: ISC */
/*
 * STUN (RFC 8489) and TURN (RFC 8656) messages and ChannelData framing.
 *
 * stun_parse borrows the bytes and checks every length before use: the
 * header (zero top bits, magic cookie, length a multiple of 4 that fits),
 * each attribute's padded length, FINGERPRINT last, and remembers which
 * comprehension-required attributes it does not know (for 420).
 * Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256
 * and FINGERPRINT are ignored, as the RFC requires.
 *
 * struct stun_builder writes a message into caller storage through a
 * struct wbuf; integrity and fingerprint are computed over what was
 * written so far.
 */
#ifndef FZ_STUN_H
#define FZ_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "buf.h"

#define STUN_MAGIC		0x2112a442u
#define STUN_HDR_LEN		20
#define STUN_MAX_ATTRS		32
#define STUN_FINGERPRINT_XOR	0x5354554eu

/* Classes (the C1/C0 bits, already shifted into place). */
#define STUN_REQUEST		0x0000
#define STUN_INDICATION		0x0010
#define STUN_SUCCESS		0x0100
#define STUN_ERROR		0x0110

/* Methods */
#define STUN_BINDING		0x001
#define TURN_ALLOCATE		0x003
#define TURN_REFRESH		0x004
#define TURN_SEND		0x006
#define TURN_DATA		0x007
#define TURN_CREATE_PERMISSION	0x008
#define TURN_CHANNEL_BIND	0x009

/* Attributes */
#define STUN_A_MAPPED_ADDRESS		0x0001
#define STUN_A_USERNAME			0x0006
#define STUN_A_MESSAGE_INTEGRITY	0x0008
#define STUN_A_ERROR_CODE		0x0009
#define STUN_A_UNKNOWN_ATTRIBUTES	0x000a
#define TURN_A_CHANNEL_NUMBER		0x000c
#define TURN_A_LIFETIME			0x000d
#define TURN_A_XOR_PEER_ADDRESS		0x0012
#define TURN_A_DATA			0x0013
#define STUN_A_REALM			0x0014
#define STUN_A_NONCE			0x0015
#define TURN_A_XOR_RELAYED_ADDRESS	0x0016
#define TURN_A_REQUESTED_ADDRESS_FAMILY	0x0017
#define TURN_A_EVEN_PORT		0x0018
#define TURN_A_REQUESTED_TRANSPORT	0x0019
#define TURN_A_DONT_FRAGMENT		0x001a
#define STUN_A_MESSAGE_INTEGRITY_SHA256	0x001c
#define STUN_A_PASSWORD_ALGORITHM	0x001d
#define STUN_A_USERHASH			0x001e
#define STUN_A_XOR_MAPPED_ADDRESS	0x0020
#define TURN_A_RESERVATION_TOKEN	0x0022
#define STUN_A_PRIORITY			0x0024
#define STUN_A_USE_CANDIDATE		0x0025
#define TURN_A_ADDITIONAL_ADDRESS_FAMILY 0x8000
#define TURN_A_ADDRESS_ERROR_CODE	0x8001
#define STUN_A_PASSWORD_ALGORITHMS	0x8002
#define STUN_A_SOFTWARE			0x8022
#define STUN_A_ALTERNATE_SERVER		0x8023
#define STUN_A_FINGERPRINT		0x8028
#define STUN_A_ICE_CONTROLLED		0x8029
#define STUN_A_ICE_CONTROLLING		0x802a

/* Address families in STUN address attributes. */
#define STUN_FAMILY_IPV4	0x01
#define STUN_FAMILY_IPV6	0x02

struct stun_attr {
	uint16_t	 type;
	uint16_t	 len;
	const uint8_t	*val;
	size_t		 off;		/* of the attribute header */
};

struct stun_msg {
	uint16_t		 type;		/* method | class */
	uint16_t		 method;
	uint16_t		 cls;
	uint8_t			 tid[12];
	const uint8_t		*raw;
	size_t			 len;		/* header + attributes */
	struct stun_attr	 attrs[STUN_MAX_ATTRS];
	unsigned		 nattrs;
	int			 mi, mi256, fp;	/* attribute index or -1 */
	uint16_t		 unknown[8];	/* comprehension-required */
	unsigned		 nunknown;
};

/* Whether the first bytes look like STUN (top two bits zero + cookie). */
bool	stun_is_stun(const uint8_t *, size_t);
int	stun_parse(const uint8_t *, size_t, struct stun_msg *) FZ_WUR;
const struct stun_attr *stun_find(const struct stun_msg *, uint16_t type);

/* Attribute decoders: -EBADMSG for wrong lengths, families or values. */
int	stun_get_xaddr(const struct stun_msg *, const struct stun_attr *,
	    union fz_sockaddr *) FZ_WUR;
int	stun_get_addr(const struct stun_attr *, union fz_sockaddr *) FZ_WUR;
int	stun_get_u32(const struct stun_attr *, uint32_t *) FZ_WUR;
/* ERROR-CODE: code 300..699; reason borrowed (not NUL-terminated). */
int	stun_get_error(const struct stun_attr *, int *code, const char **reason,
	    size_t *reason_len) FZ_WUR;
/* CHANNEL-NUMBER (any value; range checks are the caller's). */
int	stun_get_channel(const struct stun_attr *, uint16_t *) FZ_WUR;
/* REQUESTED-TRANSPORT: the protocol number. */
int	stun_get_transport(const struct stun_attr *, uint8_t *) FZ_WUR;
/* REQUESTED-/ADDITIONAL-ADDRESS-FAMILY: STUN_FAMILY_IPV4 or _IPV6. */
int	stun_get_family(const struct stun_attr *, uint8_t *) FZ_WUR;
/* A UTF-8 text attribute of at most max bytes into out (NUL-terminated). */
int	stun_get_text(const struct stun_attr *, size_t max, char *out,
	    size_t cap) FZ_WUR;

/*
 * Integrity checks.  key is the short-term password or the 16-byte
 * long-term key.  0 when valid, -EBADMSG when absent or wrong.
 */
int	stun_check_integrity(const struct stun_msg *, const uint8_t *key,
	    size_t keylen) FZ_WUR;
int	stun_check_integrity_sha256(const struct stun_msg *,
	    const uint8_t *key, size_t keylen) FZ_WUR;
int	stun_check_fingerprint(const struct stun_msg *) FZ_WUR;
/* MD5(username ":" realm ":" password), RFC 8489 section 9.2.2. */
void	stun_long_term_key(const char *user, const char *realm,
	    const char *pass, uint8_t key[16]);
uint32_t stun_crc32(const uint8_t *, size_t);

struct stun_builder {
	struct wbuf	 w;
	uint8_t		 tid[12];
};

void	stun_build(struct stun_builder *, void *buf, size_t cap, uint16_t type,
	    const uint8_t tid[12]);
void	stun_put(struct stun_builder *, uint16_t type, const void *, size_t);
void	stun_put_u32(struct stun_builder *, uint16_t type, uint32_t);
void	stun_put_str(struct stun_builder *, uint16_t type, const char *);
void	stun_put_xaddr(struct stun_builder *, uint16_t type,
	    const struct sockaddr *);
void	stun_put_error(struct stun_builder *, int code, const char *reason);
void	stun_put_unknown(struct stun_builder *, const uint16_t *, unsigned);
void	stun_put_integrity(struct stun_builder *, const uint8_t *key, size_t);
void	stun_put_integrity_sha256(struct stun_builder *, const uint8_t *key,
	    size_t);
void	stun_put_fingerprint(struct stun_builder *);
/* The message length, or the wbuf's sticky error. */
int	stun_finish(struct stun_builder *, size_t *len) FZ_WUR;

/*
 * ChannelData (RFC 8656 section 12.4).  RFC 8656 narrowed channel numbers
 * to 0x4000..0x4fff; RFC 5766 allowed up to 0x7fff and RFC 5766 clients
 * (coturn's among them) still pick numbers there, so the wider range is
 * accepted.
 */
#define TURN_CHANNEL_MIN	0x4000
#define TURN_CHANNEL_MAX	0x7fff
/*
 * Parses a ChannelData message: channel in 0x4000..0x7fff, length not past
 * the datagram (padding up to 4 bytes after it allowed, as over TCP).
 */
int	turn_channeldata_parse(const uint8_t *, size_t, uint16_t *channel,
	    const uint8_t **payload, size_t *len) FZ_WUR;
static inline void
turn_channeldata_header(uint8_t h[4], uint16_t channel, uint16_t len)
{
	h[0] = (uint8_t)(channel >> 8);
	h[1] = (uint8_t)channel;
	h[2] = (uint8_t)(len >> 8);
	h[3] = (uint8_t)len;
}

#endif
