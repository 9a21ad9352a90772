/* SPDX-License-Identifier: ISC */
/* Phoenix channel frames, V1 objects and V2 arrays (see phx.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "phx.h"

static int
take_name(const json_t *v, char **out)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return -EBADMSG;
	s = json_string_value(v);
	n = json_string_length(v);
	/* jansson rejects \u0000 unless JSON_ALLOW_NUL; check anyway. */
	if (n == 0 || n > PHX_MAX_TOPIC || memchr(s, '\0', n) != NULL)
		return -EBADMSG;
	if ((*out = strndup(s, n)) == NULL)
		return -ENOMEM;
	return 0;
}

/* null -> NULL; an integer or a bounded string -> a new reference. */
static int
take_ref(const json_t *v, json_t **out)
{
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		if (json_string_length(v) > PHX_MAX_REF)
			return -EBADMSG;
	} else if (!json_is_integer(v))
		return -EBADMSG;
	*out = json_incref((json_t *)v);
	return 0;
}

static int
fill(const json_t *topic, const json_t *event, const json_t *payload,
    const json_t *ref, const json_t *join_ref, struct phx_frame *f)
{
	int r;

	if ((r = take_name(topic, &f->topic)) < 0 ||
	    (r = take_name(event, &f->event)) < 0 ||
	    (r = take_ref(ref, &f->ref)) < 0 ||
	    (r = take_ref(join_ref, &f->join_ref)) < 0)
		return r;
	/* An absent payload is null (connlib's mock portal omits it). */
	f->payload = payload != NULL ? json_incref((json_t *)payload) :
	    json_null();
	return 0;
}

int
phx_frame_decode(enum phx_vsn vsn, const char *text, size_t len,
    struct phx_frame *out)
{
	struct phx_frame f = { 0 };
	json_error_t err;
	json_t *root;
	int r = -EBADMSG;

	if (text == NULL || len == 0 || len > PHX_MAX_FRAME)
		return -EBADMSG;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL)
		return -EBADMSG;
	switch (vsn) {
	case PHX_V1:
		if (!json_is_object(root))
			break;
		r = fill(json_object_get(root, "topic"),
		    json_object_get(root, "event"),
		    json_object_get(root, "payload"),
		    json_object_get(root, "ref"),
		    json_object_get(root, "join_ref"), &f);
		break;
	case PHX_V2:
		if (!json_is_array(root) || json_array_size(root) != 5)
			break;
		r = fill(json_array_get(root, 2), json_array_get(root, 3),
		    json_array_get(root, 4), json_array_get(root, 1),
		    json_array_get(root, 0), &f);
		break;
	}
	json_decref(root);
	if (r < 0) {
		phx_frame_clear(&f);
		return r == -ENOMEM ? -ENOMEM : -EBADMSG;
	}
	*out = f;
	return 0;
}

void
phx_frame_clear(struct phx_frame *f)
{
	if (f == NULL)
		return;
	free(f->topic);
	free(f->event);
	json_decref(f->payload);
	json_decref(f->ref);
	json_decref(f->join_ref);
	memset(f, 0, sizeof(*f));
}

/* A new reference to v, or to null for NULL. */
static json_t *
or_null(const json_t *v)
{
	return v != NULL ? json_incref((json_t *)v) : json_null();
}

char *
phx_frame_encode(enum phx_vsn vsn, const char *topic, const char *event,
    const json_t *payload, const json_t *ref, const json_t *join_ref)
{
	json_t *root = NULL;
	char *text = NULL;
	int bad = 0;

	if (topic == NULL || event == NULL)
		return NULL;
	switch (vsn) {
	case PHX_V1:
		if ((root = json_object()) == NULL)
			return NULL;
		bad |= json_object_set_new(root, "topic", json_string(topic));
		bad |= json_object_set_new(root, "event", json_string(event));
		bad |= json_object_set_new(root, "payload", or_null(payload));
		bad |= json_object_set_new(root, "ref", or_null(ref));
		if (join_ref != NULL)
			bad |= json_object_set_new(root, "join_ref",
			    or_null(join_ref));
		break;
	case PHX_V2:
		if ((root = json_array()) == NULL)
			return NULL;
		bad |= json_array_append_new(root, or_null(join_ref));
		bad |= json_array_append_new(root, or_null(ref));
		bad |= json_array_append_new(root, json_string(topic));
		bad |= json_array_append_new(root, json_string(event));
		bad |= json_array_append_new(root, or_null(payload));
		break;
	default:
		return NULL;
	}
	if (!bad)
		text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return text;
}

json_t *
phx_reply_payload(bool ok, json_t *response)
{
	json_t *p;

	if (response == NULL && (response = json_object()) == NULL)
		return NULL;
	if ((p = json_object()) == NULL) {
		json_decref(response);
		return NULL;
	}
	if (json_object_set_new(p, "status",
	    json_string(ok ? "ok" : "error")) < 0 ||
	    json_object_set_new(p, "response", response) < 0) {
		json_decref(p);
		return NULL;
	}
	return p;
}

int
phx_reply_parse(const json_t *payload, bool *ok, const json_t **response)
{
	const char *s;
	const json_t *resp;

	if (!json_is_object(payload))
		return -EBADMSG;
	s = json_string_value(json_object_get(payload, "status"));
	if (s == NULL || (strcmp(s, "ok") != 0 && strcmp(s, "error") != 0))
		return -EBADMSG;
	resp = json_object_get(payload, "response");
	*ok = strcmp(s, "ok") == 0;
	*response = resp;
	return 0;
}

int
phx_ref_int(const json_t *ref, long long *out)
{
	if (!json_is_integer(ref))
		return -EBADMSG;
	*out = json_integer_value(ref);
	return 0;
}
