/* SPDX-License-Identifier: ISC */
/*
 * The message codecs and the permission table, generated from
 * ipc_msg.def: a field's encoder and decoder are the two expansions of
 * the same line.
 */
#include <errno.h>
#include <msgpack.h>
#include <string.h>

#include "ipc.h"

static const struct ipc_msg_info infos[IPC_TYPE_COUNT] = {
#define IPC_U32(n)		+1
#define IPC_I32(n)		+1
#define IPC_U64(n)		+1
#define IPC_BOOL(n)		+1
#define IPC_STR(n, max)		+1
#define IPC_RESOURCES(n)	+1
#define IPC_NONE
#define IPC_MSG(N, n, s, r, f, fields)					\
	[IPC_##N] = { #N, (s), (r), (f), 0 fields },
#include "ipc_msg.def"
#undef IPC_MSG
#undef IPC_U32
#undef IPC_I32
#undef IPC_U64
#undef IPC_BOOL
#undef IPC_STR
#undef IPC_RESOURCES
};

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

bool
ipc_permitted(unsigned type, unsigned self, unsigned peer, int send)
{
	const struct ipc_msg_info *mi = ipc_msg_info(type);

	if (mi == NULL)
		return false;
	if (send)
		return (mi->senders & self) && (mi->receivers & peer);
	return (mi->senders & peer) && (mi->receivers & self);
}

bool
ipc_fds_permitted(unsigned self, unsigned peer)
{
	unsigned t;

	for (t = 1; t < IPC_TYPE_COUNT; t++)
		if ((infos[t].flags & IPC_FD) && ipc_permitted(t, self, peer, 0))
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

int
ipc_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

/* msgpack-c's packer writes through this into a struct wbuf. */
static int
pk_write(void *data, const char *buf, size_t len)
{
	wbuf_put(data, buf, len);
	return 0;
}

static int
enc_str(msgpack_packer *pk, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap || !ipc_text_valid(s, n))
		return -EINVAL;
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
	return 0;
}

static int
enc_resources(msgpack_packer *pk, const struct ipc_resource_list *l)
{
	uint32_t i;
	int rc;

	if (l->n > IPC_MAX_RESOURCES)
		return -EINVAL;
	msgpack_pack_array(pk, l->n);
	for (i = 0; i < l->n; i++) {
		const struct ipc_resource *r = &l->r[i];

		msgpack_pack_array(pk, 5);
		if ((rc = enc_str(pk, r->id, sizeof(r->id))) != 0 ||
		    (rc = enc_str(pk, r->type, sizeof(r->type))) != 0 ||
		    (rc = enc_str(pk, r->address, sizeof(r->address))) != 0 ||
		    (rc = enc_str(pk, r->name, sizeof(r->name))) != 0 ||
		    (rc = enc_str(pk, r->status, sizeof(r->status))) != 0)
			return rc;
	}
	return 0;
}

static int
dec_resources(struct rbuf *rb, struct ipc_resource_list *l)
{
	uint32_t i, n, k;

	if (mp_get_array(rb, &n) != 0 || n > IPC_MAX_RESOURCES)
		return -EBADMSG;
	for (i = 0; i < n; i++) {
		struct ipc_resource *r = &l->r[i];

		if (mp_get_array(rb, &k) != 0 || k != 5 ||
		    mp_get_cstr(rb, r->id, sizeof(r->id)) != 0 ||
		    mp_get_cstr(rb, r->type, sizeof(r->type)) != 0 ||
		    mp_get_cstr(rb, r->address, sizeof(r->address)) != 0 ||
		    mp_get_cstr(rb, r->name, sizeof(r->name)) != 0 ||
		    mp_get_cstr(rb, r->status, sizeof(r->status)) != 0)
			return -EBADMSG;
	}
	l->n = n;
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
#define IPC_STR(n, max)		if ((rc = enc_str(pk, m->n, sizeof(m->n))) != 0) \
					return rc;
#define IPC_RESOURCES(n)	if ((rc = enc_resources(pk, &m->n)) != 0) \
					return rc;
#define IPC_MSG(N, n, s, r, f, fields)					\
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
#undef IPC_RESOURCES

/* The decoders: the same lines, read back strictly. */
#define IPC_U32(n)		if (dec_u32(rb, &m->n) != 0) return -EBADMSG;
#define IPC_I32(n)		if (dec_i32(rb, &m->n) != 0) return -EBADMSG;
#define IPC_U64(n)		if (mp_get_uint(rb, &m->n) != 0) return -EBADMSG;
#define IPC_BOOL(n)		if (mp_get_bool(rb, &m->n) != 0) return -EBADMSG;
#define IPC_STR(n, max)		if (mp_get_cstr(rb, m->n, sizeof(m->n)) != 0) \
					return -EBADMSG;
#define IPC_RESOURCES(n)	if (dec_resources(rb, &m->n) != 0) \
					return -EBADMSG;
#define IPC_MSG(N, n, s, r, f, fields)					\
int									\
ipc_decode_##n(struct rbuf *rb, struct ipc_##n *m)			\
{									\
	uint32_t arity;							\
									\
	(void)m;							\
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
#define IPC_MSG(N, n, s, r, f, fields)					\
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
ipc_msg_decode(const uint8_t *p, size_t len, struct ipc_msg *m)
{
	struct rbuf rb;
	uint32_t n, type;
	int rc;

	rbuf_init(&rb, p, len);
	if (mp_get_array(&rb, &n) != 0 || n != 2 || dec_u32(&rb, &type) != 0)
		return -EBADMSG;
	if (ipc_msg_info(type) == NULL)
		return -ENOMSG;
	ipc_msg_init(m, (enum ipc_type)type);
	switch (m->type) {
#define IPC_MSG(N, n, s, r, f, fields)					\
	case IPC_##N:							\
		rc = ipc_decode_##n(&rb, &m->u.n);			\
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
