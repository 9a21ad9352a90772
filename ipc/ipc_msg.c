/* SPDX-License-Identifier: ISC */
/*
 * The message codecs and the permission table, generated from
 * ipc_msg.def: a field's encoder and decoder are the two expansions of
 * the same line.
 */
#include <errno.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

/* The wire and arena sizes of one resource, from IPC_RESOURCE_FIELDS. */
#define RES_WIRE(n, max)	+ (max) + 5
#define RES_ARENA(n, max)	+ (max) + 1
#define RESOURCE_WIRE		(1 IPC_RESOURCE_FIELDS(RES_WIRE))
#define RESOURCE_ARENA		(sizeof(struct ipc_resource) \
				    IPC_RESOURCE_FIELDS(RES_ARENA))
#define RES_ONE(n, max)		+ 1
#define RESOURCE_ARITY		(0 IPC_RESOURCE_FIELDS(RES_ONE))

/*
 * Per type, as constants: the field count, the largest payload (msgpack's
 * largest header for each field: 5 bytes before a string or array, 9 for
 * a u64; 11 for [type, [...]]) and the most the decoder may allocate.
 */
#define IPC_NONE
#define IPC_U32(n)		+1
#define IPC_I32(n)		+1
#define IPC_U64(n)		+1
#define IPC_BOOL(n)		+1
#define IPC_STR(n, max)		+1
#define IPC_BIN(n, max)		+1
#define IPC_RESOURCES(n, max)	+1
#define IPC_MSG(N, n, f, fields)	ARITY_##N = 0 fields,
enum {
#include "ipc_msg.def"
};
#undef IPC_U32
#undef IPC_I32
#undef IPC_U64
#undef IPC_BOOL
#undef IPC_STR
#undef IPC_BIN
#undef IPC_RESOURCES
#undef IPC_MSG
#define IPC_U32(n)		+5
#define IPC_I32(n)		+5
#define IPC_U64(n)		+9
#define IPC_BOOL(n)		+1
#define IPC_STR(n, max)		+(max) + 5
#define IPC_BIN(n, max)		+(max) + 5
#define IPC_RESOURCES(n, max)	+5 + (max) * RESOURCE_WIRE
#define IPC_MSG(N, n, f, fields)	WIRE_##N = 11 fields,
enum {
#include "ipc_msg.def"
};
#undef IPC_U32
#undef IPC_I32
#undef IPC_U64
#undef IPC_BOOL
#undef IPC_STR
#undef IPC_BIN
#undef IPC_RESOURCES
#undef IPC_MSG
#define IPC_U32(n)
#define IPC_I32(n)
#define IPC_U64(n)
#define IPC_BOOL(n)
#define IPC_STR(n, max)		+(max) + 1
#define IPC_BIN(n, max)		+(max)
#define IPC_RESOURCES(n, max)	+ alignof(max_align_t) + (max) * RESOURCE_ARENA
#define IPC_MSG(N, n, f, fields)	ARENA_##N = 0 fields,
enum {
#include "ipc_msg.def"
};
#undef IPC_MSG

static const struct ipc_msg_info infos[IPC_TYPE_COUNT] = {
#define IPC_MSG(N, n, f, fields)					\
	[IPC_##N] = { #N, (f), ARITY_##N, WIRE_##N, ARENA_##N },
#include "ipc_msg.def"
#undef IPC_MSG
};

#define IPC_MSG(N, n, f, fields)					\
	_Static_assert(WIRE_##N <= IPC_MAX_FRAME, #N " fits a frame");
#include "ipc_msg.def"
#undef IPC_MSG
#undef IPC_U32
#undef IPC_I32
#undef IPC_U64
#undef IPC_BOOL
#undef IPC_STR
#undef IPC_BIN
#undef IPC_RESOURCES

const struct ipc_msg_info *
ipc_msg_info(unsigned type)
{
	if (type == IPC_TYPE_INVALID || type >= IPC_TYPE_COUNT)
		return NULL;
	return &infos[type];
}

const char *
ipc_type_name(unsigned type)
{
	const struct ipc_msg_info *mi = ipc_msg_info(type);

	return mi != NULL ? mi->name : "UNKNOWN";
}

const char *
ipc_role_name(unsigned role)
{
	switch (role) {
	case IPC_T: return "fz-tunneld";
	case IPC_C: return "fz-controld";
	case IPC_F: return "front end";
	}
	return "?";
}

/* The channel sections: who may send each type on each channel. */
static const struct {
	const char	*name;
	unsigned	 roles;
} channels[IPC_CH_COUNT] = {
	[IPC_CH_CONTROL] = { "CONTROL", IPC_T | IPC_C },
	[IPC_CH_FRONT] = { "FRONT", IPC_T | IPC_F },
	[IPC_CH_DGRAM] = { "DGRAM", IPC_T | IPC_C },
};

static const uint8_t allow[IPC_CH_COUNT][IPC_TYPE_COUNT] = {
#define IPC_ALLOW(ch, N, from, ph)	[IPC_CH_##ch][IPC_##N] = (from),
#include "ipc_msg.def"
#undef IPC_ALLOW
};

static const uint8_t phases[IPC_CH_COUNT][IPC_TYPE_COUNT] = {
#define IPC_ALLOW(ch, N, from, ph)	[IPC_CH_##ch][IPC_##N] = (ph),
#include "ipc_msg.def"
#undef IPC_ALLOW
};

unsigned
ipc_channel_roles(unsigned chan)
{
	return chan > IPC_CH_DEFAULT && chan < IPC_CH_COUNT ?
	    channels[chan].roles : 0;
}

const char *
ipc_channel_name(unsigned chan)
{
	return ipc_channel_roles(chan) != 0 ? channels[chan].name : "?";
}

size_t
ipc_channel_queue(unsigned chan)
{
	return chan == IPC_CH_DGRAM ? IPC_DGRAM_QUEUE : IPC_MAX_QUEUE;
}

unsigned
ipc_channel_of(unsigned self, unsigned peer)
{
	if ((self | peer) == (IPC_T | IPC_C) && self != peer)
		return IPC_CH_CONTROL;
	if ((self | peer) == (IPC_T | IPC_F) && self != peer)
		return IPC_CH_FRONT;
	return 0;
}

bool
ipc_permitted(unsigned chan, unsigned type, unsigned from)
{
	if (ipc_msg_info(type) == NULL || ipc_channel_roles(chan) == 0 ||
	    (from & ~ipc_channel_roles(chan)) != 0 || from == 0)
		return false;
	return (allow[chan][type] & from) == from;
}

unsigned
ipc_phases(unsigned chan, unsigned type)
{
	if (ipc_msg_info(type) == NULL || ipc_channel_roles(chan) == 0)
		return 0;
	return phases[chan][type];
}

const char *
ipc_phase_name(unsigned phase)
{
	switch (phase) {
	case IPC_BOOT: return "BOOT";
	case IPC_CONFIGURED: return "CONFIGURED";
	case IPC_SIGNED_IN: return "SIGNED_IN";
	}
	return "?";
}

bool
ipc_fds_permitted(unsigned chan, unsigned from)
{
	unsigned t;

	for (t = 1; t < IPC_TYPE_COUNT; t++)
		if ((infos[t].flags & IPC_FD) && ipc_permitted(chan, t, from))
			return true;
	return false;
}

void
ipc_msg_init(struct ipc_msg *m, enum ipc_type type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->fd = -1;
}

/* msgpack-c's packer writes through this into a struct wbuf. */
static int
pk_write(void *data, const char *buf, size_t len)
{
	wbuf_put(data, buf, len);
	return 0;
}

static int
enc_str(msgpack_packer *pk, const char *s, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n > max || (n > 0 && !ipc_text_valid(s, n)))
		return -EINVAL;
	msgpack_pack_str(pk, n);
	if (n > 0)
		msgpack_pack_str_body(pk, s, n);
	return 0;
}

static int
enc_bin(msgpack_packer *pk, const uint8_t *p, uint32_t n, size_t max)
{
	if (n > max || (n > 0 && p == NULL))
		return -EINVAL;
	msgpack_pack_bin(pk, n);
	if (n > 0)
		msgpack_pack_bin_body(pk, p, n);
	return 0;
}

static int
dec_bin(struct rbuf *rb, size_t max, struct ipc_arena *a, const uint8_t **out,
    uint32_t *outlen)
{
	struct rbuf save = *rb;
	const uint8_t *p;
	uint8_t *q = NULL;
	uint32_t n;

	if (mp_get_bin(rb, &p, &n) != 0)
		return -EBADMSG;
	if ((size_t)n > max) {
		*rb = save;
		return -EBADMSG;
	}
	if (n > 0 && (q = ipc_arena_alloc(a, n, 1)) == NULL) {
		*rb = save;
		return -ENOMEM;
	}
	if (n > 0)
		memcpy(q, p, n);
	*out = q;
	*outlen = n;
	return 0;
}

static int
enc_resources(msgpack_packer *pk, const struct ipc_resource_list *l,
    uint32_t max)
{
	uint32_t i;
	int rc;

	if (l->n > max || (l->n > 0 && l->r == NULL))
		return -EINVAL;
	msgpack_pack_array(pk, l->n);
	for (i = 0; i < l->n; i++) {
		const struct ipc_resource *r = &l->r[i];

		msgpack_pack_array(pk, RESOURCE_ARITY);
#define RES_ENC(n, max)	if ((rc = enc_str(pk, r->n, (max))) != 0) return rc;
		IPC_RESOURCE_FIELDS(RES_ENC)
#undef RES_ENC
	}
	return 0;
}

static int
dec_resources(struct rbuf *rb, struct ipc_resource_list *l, uint32_t max,
    struct ipc_arena *a)
{
	struct ipc_resource *r;
	uint32_t i, n, k;

	if (mp_get_array(rb, &n) != 0 || n > max)
		return -EBADMSG;
	r = n == 0 ? NULL : ipc_arena_alloc(a, (size_t)n * sizeof(*r), 0);
	if (n > 0 && r == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (mp_get_array(rb, &k) != 0 || k != RESOURCE_ARITY)
			return -EBADMSG;
#define RES_DEC(f, max)	if (mp_get_text(rb, (max), a, &r[i].f) != 0) \
				return -EBADMSG;
		IPC_RESOURCE_FIELDS(RES_DEC)
#undef RES_DEC
	}
	l->n = n;
	l->r = r;
	return 0;
}

static int
dec_u32(struct rbuf *rb, uint32_t *v)
{
	uint64_t u;

	if (mp_get_uint(rb, &u) != 0 || u > UINT32_MAX)
		return -EBADMSG;
	*v = (uint32_t)u;
	return 0;
}

static int
dec_i32(struct rbuf *rb, int32_t *v)
{
	int64_t i;

	if (mp_get_int(rb, &i) != 0 || i < INT32_MIN || i > INT32_MAX)
		return -EBADMSG;
	*v = (int32_t)i;
	return 0;
}

/* The encoders: one statement per field. */
#define IPC_U32(n)		msgpack_pack_uint32(pk, m->n);
#define IPC_I32(n)		msgpack_pack_int32(pk, m->n);
#define IPC_U64(n)		msgpack_pack_uint64(pk, m->n);
#define IPC_BOOL(n)		if (m->n) msgpack_pack_true(pk); \
				else msgpack_pack_false(pk);
#define IPC_BIN(n, max)		if ((rc = enc_bin(pk, m->n, m->n##_len, (max))) \
				    != 0) \
					return rc;
#define IPC_STR(n, max)		if ((rc = enc_str(pk, m->n, (max))) != 0) \
					return rc;
#define IPC_RESOURCES(n, max)	if ((rc = enc_resources(pk, &m->n, (max))) \
				    != 0) \
					return rc;
#define IPC_MSG(N, n, f, fields)					\
int									\
ipc_encode_##n(struct msgpack_packer *pk, const struct ipc_##n *m)	\
{									\
	int rc = 0;							\
									\
	(void)m;							\
	msgpack_pack_array(pk, infos[IPC_##N].arity);			\
	fields								\
	return rc;							\
}
#include "ipc_msg.def"
#undef IPC_MSG
#undef IPC_U32
#undef IPC_I32
#undef IPC_U64
#undef IPC_BOOL
#undef IPC_STR
#undef IPC_BIN
#undef IPC_RESOURCES

/* The decoders: the same lines, read back strictly. */
#define IPC_U32(n)		if (dec_u32(rb, &m->n) != 0) return -EBADMSG;
#define IPC_I32(n)		if (dec_i32(rb, &m->n) != 0) return -EBADMSG;
#define IPC_U64(n)		if (mp_get_uint(rb, &m->n) != 0) return -EBADMSG;
#define IPC_BOOL(n)		if (mp_get_bool(rb, &m->n) != 0) return -EBADMSG;
#define IPC_BIN(n, max)		if ((rc = dec_bin(rb, (max), a, &m->n, \
				    &m->n##_len)) != 0) \
					return rc;
#define IPC_STR(n, max)		if ((rc = mp_get_text(rb, (max), a, &m->n)) != 0) \
					return rc;
#define IPC_RESOURCES(n, max)	if ((rc = dec_resources(rb, &m->n, (max), a)) \
				    != 0) \
					return rc;
#define IPC_MSG(N, n, f, fields)					\
int									\
ipc_decode_##n(struct rbuf *rb, struct ipc_##n *m, struct ipc_arena *a)	\
{									\
	uint32_t arity;							\
	int rc = 0;							\
									\
	(void)m; (void)a; (void)rc;					\
	if (mp_get_array(rb, &arity) != 0 ||				\
	    arity != infos[IPC_##N].arity)				\
		return -EBADMSG;					\
	fields								\
	return 0;							\
}
#include "ipc_msg.def"
#undef IPC_MSG

int
ipc_msg_encode(const struct ipc_msg *m, struct wbuf *w)
{
	msgpack_packer pk;
	int rc;

	if (ipc_msg_info(m->type) == NULL)
		return -EINVAL;
	msgpack_packer_init(&pk, w, pk_write);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, (uint32_t)m->type);
	switch (m->type) {
#define IPC_MSG(N, n, f, fields)					\
	case IPC_##N:							\
		rc = ipc_encode_##n(&pk, &m->u.n);			\
		break;
#include "ipc_msg.def"
#undef IPC_MSG
	default:
		return -EINVAL;
	}
	if (rc != 0)
		return rc;
	return wbuf_error(w);
}

int
ipc_msg_decode(const uint8_t *p, size_t len, struct ipc_msg *m,
    struct ipc_arena *a)
{
	struct rbuf rb;
	uint32_t n, type;
	int rc;

	rbuf_init(&rb, p, len);
	if (mp_get_array(&rb, &n) != 0 || n != 2 || dec_u32(&rb, &type) != 0)
		return -EBADMSG;
	if (ipc_msg_info(type) == NULL)
		return -ENOMSG;
	if (len > infos[type].wire_max)
		return -EBADMSG;
	ipc_msg_init(m, (enum ipc_type)type);
	ipc_arena_reset(a);
	a->limit = infos[type].arena_max;
	switch (m->type) {
#define IPC_MSG(N, n, f, fields)					\
	case IPC_##N:							\
		rc = ipc_decode_##n(&rb, &m->u.n, a);			\
		break;
#include "ipc_msg.def"
#undef IPC_MSG
	default:
		return -ENOMSG;
	}
	if (rc != 0)
		return rc;
	if (rbuf_done(&rb) != 0)
		return -EBADMSG;
	return 0;
}

int
ipc_msg_clone(const struct ipc_msg *src, struct ipc_msg *dst,
    struct ipc_arena *a)
{
	const struct ipc_msg_info *mi = ipc_msg_info(src->type);
	struct wbuf w;
	uint8_t *tmp;
	int rc;

	if (mi == NULL)
		return -EINVAL;
	if ((tmp = malloc(mi->wire_max)) == NULL)
		return -ENOMEM;
	wbuf_init(&w, tmp, mi->wire_max);
	if ((rc = ipc_msg_encode(src, &w)) == 0)
		rc = ipc_msg_decode(tmp, w.len, dst, a);
	if (mi->flags & IPC_SECRET)
		sodium_memzero(tmp, w.len);
	free(tmp);
	if (rc == 0)
		dst->fd = src->fd;
	return rc;
}
