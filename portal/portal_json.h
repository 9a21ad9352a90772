/* SPDX-License-Identifier: ISC */
/*
 * Internal to libfzportal: the bounded JSON field readers and encoders
 * (pj_, portal_json.c) and the view pieces messages reuse (pv_,
 * portal_view.c).  Readers return 0 or -EBADMSG (-ENOMEM) and leave ""
 * or 0 for an absent optional field; they borrow their json_t.
 */
#ifndef FZ_PORTAL_JSON_H
#define FZ_PORTAL_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "portal_msg.h"

/* List element decoder/encoder; -EBADMSG or -ENOENT skips (see below). */
typedef int (*pj_elem_fn)(const json_t *, void *, const void *arg);
typedef json_t *(*pj_elem_enc_fn)(const void *, const void *arg);

/* An object under construction with a sticky error (-ENOMEM, -EINVAL). */
struct pj_enc {
	json_t	*o;
	int	 err;
};

int	pj_str_opt(const json_t *o, const char *k, char *buf, size_t cap,
	    bool *present);
int	pj_str_req(const json_t *o, const char *k, char *buf, size_t cap);
int	pj_str_dup_req(const json_t *o, const char *k, size_t max, char **out);
int	pj_id_value(const json_t *v, portal_id out);
int	pj_id_req(const json_t *o, const char *k, portal_id out);
bool	pj_is_ip(const char *s, int af);
int	pj_ip_req(const json_t *o, const char *k, int af,
	    char out[PORTAL_IP_MAX + 1]);
int	pj_ip_opt(const json_t *o, const char *k, int af,
	    char out[PORTAL_IP_MAX + 1]);
bool	pj_is_cidr(const char *s, int *af_out);
bool	pj_is_sockaddr(const char *s);
int	pj_key_req(const json_t *o, const char *k, char out[PORTAL_KEY_MAX + 1]);
int	pj_u64_req(const json_t *o, const char *k, uint64_t *out);
int	pj_bool_opt(const json_t *o, const char *k, bool dflt, bool *out);
int	pj_bool_req(const json_t *o, const char *k, bool *out);
/*
 * The array o[k] decoded element by element into a calloc'd array; absent
 * or null is empty unless required; more than max elements is -EBADMSG.
 * An element failing with -EBADMSG/-ENOENT is skipped when skip, else the
 * list fails.  On failure *out still holds what was decoded (to clear).
 */
int	pj_list_decode(const json_t *o, const char *k, bool required,
	    size_t max, size_t size, pj_elem_fn fn, const void *arg, bool skip,
	    void **out, size_t *n_out);

void	pj_enc_init(struct pj_enc *);
void	pj_put(struct pj_enc *, const char *k, json_t *v);	/* steals v */
void	pj_put_str(struct pj_enc *, const char *k, const char *s);
void	pj_put_str_or_null(struct pj_enc *, const char *k, bool present,
	    const char *s);
void	pj_put_u64(struct pj_enc *, const char *k, uint64_t v);
json_t	*pj_enc_done(struct pj_enc *);	/* the object, or NULL on error */
json_t	*pj_list_encode(const void *a, size_t n, size_t size,
	    pj_elem_enc_fn fn, const void *arg);
json_t	*pj_str_obj_enc(const char *k, const char *v);	/* {k: v} */

int	pv_filters_decode(const json_t *v, bool required,
	    struct portal_filter **f, size_t *n);
json_t	*pv_filters_enc(const struct portal_filter *f, size_t n);
/* arg: const enum portal_view *. */
int	pv_resource_elem(const json_t *v, void *out, const void *arg);
json_t	*pv_resource_elem_enc(const void *p, const void *arg);
void	pv_resources_free(struct portal_resource *a, size_t n);
int	pv_relays_decode(const json_t *o, const char *k, bool required,
	    struct portal_relay **a, size_t *n);
json_t	*pv_relays_enc(const struct portal_relay *a, size_t n);

#endif
