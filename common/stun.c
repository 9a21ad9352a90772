/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "stun.h"

static const uint16_t known[] = {	/* comprehension-required we know */
	STUN_A_MAPPED_ADDRESS, STUN_A_USERNAME, STUN_A_MESSAGE_INTEGRITY,
	STUN_A_ERROR_CODE, STUN_A_UNKNOWN_ATTRIBUTES, TURN_A_CHANNEL_NUMBER,
	TURN_A_LIFETIME, TURN_A_XOR_PEER_ADDRESS, TURN_A_DATA, STUN_A_REALM,
	STUN_A_NONCE, TURN_A_XOR_RELAYED_ADDRESS,
	TURN_A_REQUESTED_ADDRESS_FAMILY, TURN_A_REQUESTED_TRANSPORT,
	TURN_A_DONT_FRAGMENT, STUN_A_MESSAGE_INTEGRITY_SHA256,
	STUN_A_XOR_MAPPED_ADDRESS, STUN_A_PRIORITY, STUN_A_USE_CANDIDATE,
	TURN_A_EVEN_PORT, TURN_A_RESERVATION_TOKEN,
};

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

bool
stun_is_stun(const uint8_t *p, size_t len)
{
	return len >= STUN_HDR_LEN && (p[0] & 0xc0) == 0 &&
	    be32(p + 4) == STUN_MAGIC;
}

static bool
is_known(uint16_t t)
{
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i] == t)
			return true;
	return false;
}

int
stun_parse(const uint8_t *p, size_t len, struct stun_msg *m)
{
	struct rbuf rb, ab;
	uint16_t type, mlen;
	uint32_t magic;

	rbuf_init(&rb, p, len);
	if (rbuf_get_u16(&rb, &type) != 0 || rbuf_get_u16(&rb, &mlen) != 0 ||
	    rbuf_get_u32(&rb, &magic) != 0 || rbuf_bytes(&rb, m->tid, 12) != 0)
		return -EBADMSG;
	if ((type & 0xc000) != 0 || magic != STUN_MAGIC || (mlen & 3) != 0 ||
	    rbuf_sub(&rb, mlen, &ab) != 0)
		return -EBADMSG;
	m->type = type;
	m->cls = type & 0x0110;
	m->method = (uint16_t)((type & 0x000f) | ((type & 0x00e0) >> 1) |
	    ((type & 0x3e00) >> 2));
	m->raw = p;
	m->len = STUN_HDR_LEN + (size_t)mlen;
	m->nattrs = 0;
	m->nunknown = 0;
	m->mi = m->mi256 = m->fp = -1;
	while (rbuf_left(&ab) > 0) {
		struct stun_attr a;
		uint16_t alen;
		const uint8_t *val;

		a.off = STUN_HDR_LEN + ab.off;
		if (rbuf_get_u16(&ab, &a.type) != 0 ||
		    rbuf_get_u16(&ab, &alen) != 0 ||
		    rbuf_ptr(&ab, alen, &val) != 0 ||
		    rbuf_skip(&ab, (4 - (alen & 3)) & 3) != 0)
			return -EBADMSG;
		a.len = alen;
		a.val = val;
		if (m->fp >= 0)
			return -EBADMSG;	/* FINGERPRINT must be last */
		if (a.type == STUN_A_FINGERPRINT) {
			if (alen != 4 || m->nattrs >= STUN_MAX_ATTRS)
				return -EBADMSG;
			m->fp = (int)m->nattrs;
			m->attrs[m->nattrs++] = a;
			continue;
		}
		if (m->mi >= 0 || m->mi256 >= 0) {
			/* After integrity only MI-SHA256 may follow. */
			if (a.type != STUN_A_MESSAGE_INTEGRITY_SHA256 ||
			    m->mi256 >= 0)
				continue;
		}
		if (m->nattrs >= STUN_MAX_ATTRS)
			return -EBADMSG;
		if (a.type == STUN_A_MESSAGE_INTEGRITY) {
			if (alen != 20)
				return -EBADMSG;
			m->mi = (int)m->nattrs;
		} else if (a.type == STUN_A_MESSAGE_INTEGRITY_SHA256) {
			if (alen < 16 || alen > 32 || (alen & 3) != 0)
				return -EBADMSG;
			m->mi256 = (int)m->nattrs;
		} else if (a.type < 0x8000 && !is_known(a.type) &&
		    m->nunknown < 8)
			m->unknown[m->nunknown++] = a.type;
		m->attrs[m->nattrs++] = a;
	}
	return 0;
}

const struct stun_attr *
stun_find(const struct stun_msg *m, uint16_t type)
{
	unsigned i;

	for (i = 0; i < m->nattrs; i++)
		if (m->attrs[i].type == type)
			return &m->attrs[i];
	return NULL;
}

static int
get_addr(const struct stun_attr *a, const uint8_t *xor, const uint8_t *tid,
    union fz_sockaddr *out)
{
	uint16_t port;
	size_t i;

	if (a == NULL || a->len < 4 || a->val[0] != 0)
		return -EBADMSG;
	port = be16(a->val + 2);
	if (xor != NULL)
		port ^= (uint16_t)(STUN_MAGIC >> 16);
	memset(out, 0, sizeof(*out));
	if (a->val[1] == STUN_FAMILY_IPV4 && a->len == 8) {
		uint8_t ip[4];

		for (i = 0; i < 4; i++)
			ip[i] = a->val[4 + i] ^ (xor != NULL ? xor[i] : 0);
		out->in4.sin_family = AF_INET;
		out->in4.sin_port = htons(port);
		memcpy(&out->in4.sin_addr, ip, 4);
		return 0;
	}
	if (a->val[1] == STUN_FAMILY_IPV6 && a->len == 20) {
		uint8_t ip[16];

		for (i = 0; i < 16; i++)
			ip[i] = a->val[4 + i] ^ (xor == NULL ? 0 :
			    i < 4 ? xor[i] : tid[i - 4]);
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(port);
		memcpy(&out->in6.sin6_addr, ip, 16);
		return 0;
	}
	return -EBADMSG;
}

int
stun_get_xaddr(const struct stun_msg *m, const struct stun_attr *a,
    union fz_sockaddr *out)
{
	static const uint8_t cookie[4] = { 0x21, 0x12, 0xa4, 0x42 };

	return get_addr(a, cookie, m->tid, out);
}

int
stun_get_addr(const struct stun_attr *a, union fz_sockaddr *out)
{
	return get_addr(a, NULL, NULL, out);
}

int
stun_get_u32(const struct stun_attr *a, uint32_t *v)
{
	if (a == NULL || a->len != 4)
		return -EBADMSG;
	*v = be32(a->val);
	return 0;
}

int
stun_get_error(const struct stun_attr *a, int *code, const char **reason,
    size_t *rlen)
{
	int c;

	if (a == NULL || a->len < 4 || a->val[0] != 0 || a->val[1] != 0)
		return -EBADMSG;
	c = (a->val[2] & 0x7) * 100 + a->val[3];
	if (c < 300 || c > 699 || a->val[3] > 99)
		return -EBADMSG;
	*code = c;
	*reason = (const char *)a->val + 4;
	*rlen = a->len - 4u;
	return 0;
}

int
stun_get_channel(const struct stun_attr *a, uint16_t *ch)
{
	if (a == NULL || a->len != 4)
		return -EBADMSG;
	*ch = be16(a->val);
	return 0;
}

int
stun_get_transport(const struct stun_attr *a, uint8_t *proto)
{
	if (a == NULL || a->len != 4)
		return -EBADMSG;
	*proto = a->val[0];
	return 0;
}

int
stun_get_family(const struct stun_attr *a, uint8_t *fam)
{
	if (a == NULL || a->len != 4 || (a->val[0] != STUN_FAMILY_IPV4 &&
	    a->val[0] != STUN_FAMILY_IPV6))
		return -EBADMSG;
	*fam = a->val[0];
	return 0;
}

int
stun_get_text(const struct stun_attr *a, size_t max, char *out, size_t cap)
{
	size_t i;

	if (a == NULL || a->len > max || a->len >= cap)
		return -EBADMSG;
	for (i = 0; i < a->len; i++)
		if (a->val[i] == 0)
			return -EBADMSG;
	memcpy(out, a->val, a->len);
	out[a->len] = '\0';
	return 0;
}

/*
 * OpenSSL's HMAC (EVP_MAC) with its digest set once per digest, at first
 * use: each message keys a copy of that context.  Building an EVP_PKEY and
 * fetching the MAC and digest by name for every message cost more than the
 * hashing (a third of fuzz_ice and fuzz_turn_client).  The templates are
 * never changed after hmac_setup, only copied, so threads share them.
 */
static EVP_MAC_CTX *hmac_tmpl[2];	/* SHA-1, SHA-256 */
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void
hmac_setup(void)
{
	static const char *const digest[2] = { "SHA1", "SHA256" };
	EVP_MAC *mac;
	size_t i;

	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return;
	for (i = 0; i < 2; i++) {
		OSSL_PARAM p[2];

		p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)digest[i], 0);
		p[1] = OSSL_PARAM_construct_end();
		if ((hmac_tmpl[i] = EVP_MAC_CTX_new(mac)) != NULL &&
		    EVP_MAC_CTX_set_params(hmac_tmpl[i], p) != 1) {
			EVP_MAC_CTX_free(hmac_tmpl[i]);
			hmac_tmpl[i] = NULL;
		}
	}
	EVP_MAC_free(mac);	/* each context holds its own reference */
}

/*
 * HMAC over the message up to the integrity attribute, with the header's
 * length field covering that attribute (RFC 8489 section 14.5).
 */
static int
integrity(const struct stun_msg *m, int idx, bool sha256,
    const uint8_t *key, size_t keylen, uint8_t *out, unsigned *outlen)
{
	static const uint8_t nokey[1];
	uint8_t hdr[STUN_HDR_LEN];
	const struct stun_attr *a = &m->attrs[idx];
	size_t upto = a->off;
	size_t cover = upto + 4 + a->len - STUN_HDR_LEN;
	EVP_MAC_CTX *ctx;
	size_t n = 0;
	int rc = -EBADMSG;

	memcpy(hdr, m->raw, STUN_HDR_LEN);
	hdr[2] = (uint8_t)(cover >> 8);
	hdr[3] = (uint8_t)cover;
	if (pthread_once(&hmac_once, hmac_setup) != 0 ||
	    hmac_tmpl[sha256] == NULL ||
	    (ctx = EVP_MAC_CTX_dup(hmac_tmpl[sha256])) == NULL)
		return -ENOMEM;
	/* a key pointer even when it is empty: NULL would mean "the last" */
	if (EVP_MAC_init(ctx, keylen > 0 ? key : nokey, keylen, NULL) == 1 &&
	    EVP_MAC_update(ctx, hdr, sizeof(hdr)) == 1 &&
	    EVP_MAC_update(ctx, m->raw + STUN_HDR_LEN,
	    upto - STUN_HDR_LEN) == 1 &&
	    EVP_MAC_final(ctx, out, &n, EVP_MAX_MD_SIZE) == 1) {
		*outlen = (unsigned)n;
		rc = 0;
	}
	EVP_MAC_CTX_free(ctx);
	return rc;
}

static int
ct_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

int
stun_check_integrity(const struct stun_msg *m, const uint8_t *key,
    size_t keylen)
{
	uint8_t mac[64];
	unsigned n;

	if (m->mi < 0 || integrity(m, m->mi, false, key, keylen, mac,
	    &n) != 0 || n != 20)
		return -EBADMSG;
	return ct_eq(mac, m->attrs[m->mi].val, 20) ? 0 : -EBADMSG;
}

int
stun_check_integrity_sha256(const struct stun_msg *m, const uint8_t *key,
    size_t keylen)
{
	const struct stun_attr *a;
	uint8_t mac[64];
	unsigned n;

	if (m->mi256 < 0)
		return -EBADMSG;
	a = &m->attrs[m->mi256];
	if (integrity(m, m->mi256, true, key, keylen, mac, &n) != 0 ||
	    n < a->len)
		return -EBADMSG;
	return ct_eq(mac, a->val, a->len) ? 0 : -EBADMSG;
}

static uint32_t crc_table[256];

/* CRC-32 (ISO-HDLC, as FINGERPRINT uses) continued from c over p. */
static uint32_t
crc32_update(uint32_t c, const uint8_t *p, size_t n)
{
	size_t i;

	if (crc_table[1] == 0) {
		for (uint32_t k = 0; k < 256; k++) {
			uint32_t v = k;

			for (int j = 0; j < 8; j++)
				v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
			crc_table[k] = v;
		}
	}
	for (i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c;
}

uint32_t
stun_crc32(const uint8_t *p, size_t n)
{
	return crc32_update(0xffffffffu, p, n) ^ 0xffffffffu;
}

int
stun_check_fingerprint(const struct stun_msg *m)
{
	const struct stun_attr *a;
	uint8_t hdr[STUN_HDR_LEN];
	uint32_t c;
	size_t cover;

	if (m->fp < 0)
		return -EBADMSG;
	a = &m->attrs[m->fp];
	cover = a->off + 8 - STUN_HDR_LEN;
	memcpy(hdr, m->raw, STUN_HDR_LEN);
	hdr[2] = (uint8_t)(cover >> 8);
	hdr[3] = (uint8_t)cover;
	/* CRC over the adjusted header, then the rest up to FINGERPRINT. */
	c = crc32_update(0xffffffffu, hdr, STUN_HDR_LEN);
	c = crc32_update(c, m->raw + STUN_HDR_LEN, a->off - STUN_HDR_LEN);
	c ^= 0xffffffffu;
	return (c ^ STUN_FINGERPRINT_XOR) == be32(a->val) ? 0 : -EBADMSG;
}

void
stun_long_term_key(const char *user, const char *realm, const char *pass,
    uint8_t key[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned n = 16;

	memset(key, 0, 16);
	if (ctx == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1) {
		EVP_DigestUpdate(ctx, user, strlen(user));
		EVP_DigestUpdate(ctx, ":", 1);
		EVP_DigestUpdate(ctx, realm, strlen(realm));
		EVP_DigestUpdate(ctx, ":", 1);
		EVP_DigestUpdate(ctx, pass, strlen(pass));
		EVP_DigestFinal_ex(ctx, key, &n);
	}
	EVP_MD_CTX_free(ctx);
}

/* --- building ------------------------------------------------------------ */

static void
set_length(struct stun_builder *b, size_t total)
{
	wbuf_set_u16(&b->w, 2, (uint16_t)(total - STUN_HDR_LEN));
}

void
stun_build(struct stun_builder *b, void *buf, size_t cap, uint16_t type,
    const uint8_t tid[12])
{
	wbuf_init(&b->w, buf, cap);
	memcpy(b->tid, tid, 12);
	wbuf_put_u16(&b->w, type);
	wbuf_put_u16(&b->w, 0);
	wbuf_put_u32(&b->w, STUN_MAGIC);
	wbuf_put(&b->w, tid, 12);
}

void
stun_put(struct stun_builder *b, uint16_t type, const void *v, size_t len)
{
	if (len > 0xffff) {
		b->w.err = -ENOBUFS;
		return;
	}
	wbuf_put_u16(&b->w, type);
	wbuf_put_u16(&b->w, (uint16_t)len);
	wbuf_put(&b->w, v, len);
	wbuf_pad(&b->w, 4);
	if (wbuf_error(&b->w) == 0)
		set_length(b, b->w.len);
}

void
stun_put_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

	stun_put(b, type, x, 4);
}

void
stun_put_str(struct stun_builder *b, uint16_t type, const char *s)
{
	stun_put(b, type, s, strlen(s));
}

void
stun_put_xaddr(struct stun_builder *b, uint16_t type, const struct sockaddr *sa)
{
	static const uint8_t cookie[4] = { 0x21, 0x12, 0xa4, 0x42 };
	uint8_t v[20];
	size_t i;

	v[0] = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		uint16_t port = ntohs(s->sin_port) ^ (uint16_t)(STUN_MAGIC >> 16);
		const uint8_t *ip = (const uint8_t *)&s->sin_addr;

		v[1] = STUN_FAMILY_IPV4;
		v[2] = (uint8_t)(port >> 8);
		v[3] = (uint8_t)port;
		for (i = 0; i < 4; i++)
			v[4 + i] = ip[i] ^ cookie[i];
		stun_put(b, type, v, 8);
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		uint16_t port = ntohs(s->sin6_port) ^ (uint16_t)(STUN_MAGIC >> 16);
		const uint8_t *ip = (const uint8_t *)&s->sin6_addr;

		v[1] = STUN_FAMILY_IPV6;
		v[2] = (uint8_t)(port >> 8);
		v[3] = (uint8_t)port;
		for (i = 0; i < 16; i++)
			v[4 + i] = ip[i] ^ (i < 4 ? cookie[i] : b->tid[i - 4]);
		stun_put(b, type, v, 20);
	}
}

void
stun_put_error(struct stun_builder *b, int code, const char *reason)
{
	uint8_t v[4 + 128];
	size_t n = strlen(reason);

	if (n > 128)
		n = 128;
	v[0] = v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	memcpy(v + 4, reason, n);
	stun_put(b, STUN_A_ERROR_CODE, v, 4 + n);
}

void
stun_put_unknown(struct stun_builder *b, const uint16_t *t, unsigned n)
{
	uint8_t v[16];
	unsigned i;

	for (i = 0; i < n && i < 8; i++) {
		v[2 * i] = (uint8_t)(t[i] >> 8);
		v[2 * i + 1] = (uint8_t)t[i];
	}
	stun_put(b, STUN_A_UNKNOWN_ATTRIBUTES, v, 2 * i);
}

static void
put_mac(struct stun_builder *b, uint16_t type, bool sha256, size_t maclen,
    const uint8_t *key, size_t keylen)
{
	struct stun_msg m;
	uint8_t zero[32] = { 0 };
	uint8_t mac[64];
	unsigned n;

	stun_put(b, type, zero, maclen);
	if (wbuf_error(&b->w) != 0)
		return;
	/* Parse what is there so the MAC covers exactly the RFC's bytes. */
	if (stun_parse(b->w.p, b->w.len, &m) != 0 ||
	    integrity(&m, (int)m.nattrs - 1, sha256, key, keylen, mac, &n) != 0 ||
	    n < maclen) {
		b->w.err = -EINVAL;
		return;
	}
	memcpy(b->w.p + b->w.len - maclen, mac, maclen);
}

void
stun_put_integrity(struct stun_builder *b, const uint8_t *key, size_t keylen)
{
	put_mac(b, STUN_A_MESSAGE_INTEGRITY, false, 20, key, keylen);
}

void
stun_put_integrity_sha256(struct stun_builder *b, const uint8_t *key,
    size_t keylen)
{
	put_mac(b, STUN_A_MESSAGE_INTEGRITY_SHA256, true, 32, key,
	    keylen);
}

void
stun_put_fingerprint(struct stun_builder *b)
{
	uint32_t c;
	size_t at;

	if (wbuf_error(&b->w) != 0)
		return;
	set_length(b, b->w.len + 8);
	at = b->w.len;
	c = stun_crc32(b->w.p, at) ^ STUN_FINGERPRINT_XOR;
	stun_put_u32(b, STUN_A_FINGERPRINT, c);
}

int
stun_finish(struct stun_builder *b, size_t *len)
{
	int rc;

	if ((rc = wbuf_error(&b->w)) != 0)
		return rc;
	*len = b->w.len;
	return 0;
}

int
turn_channeldata_parse(const uint8_t *p, size_t len, uint16_t *channel,
    const uint8_t **payload, size_t *plen)
{
	uint16_t ch, n;

	if (len < 4)
		return -EBADMSG;
	ch = be16(p);
	n = be16(p + 2);
	if (ch < TURN_CHANNEL_MIN || ch > TURN_CHANNEL_MAX ||
	    (size_t)n > len - 4 || len - 4 - n > 3)
		return -EBADMSG;
	*channel = ch;
	*payload = p + 4;
	*plen = n;
	return 0;
}
