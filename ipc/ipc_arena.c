/* SPDX-License-Identifier: ISC */
/*
 * The per-message arena: a chunked bump allocator.  A decoded message's
 * strings and arrays come from here, so nothing in struct ipc_msg has a
 * fixed size and nothing large lives on a stack; the connection resets
 * the arena as a whole once the handler returns (wiping it first for
 * IPC_SECRET types).  The first chunk stays for the next message, so a
 * small message costs no malloc.
 */
#include <errno.h>
#include <sodium.h>
#include <stdalign.h>
#include <stdlib.h>

#include "ipc.h"

#define CHUNK_MIN	4096
#define CHUNK_MAX	(1024 * 1024)

struct ipc_arena_chunk {
	struct ipc_arena_chunk	*next;
	size_t			 cap, used;
	alignas(max_align_t) unsigned char data[];
};

void
ipc_arena_init(struct ipc_arena *a, size_t limit)
{
	a->head = NULL;
	a->total = 0;
	a->limit = limit;
	a->wipe = false;
}

void *
ipc_arena_alloc(struct ipc_arena *a, size_t n, size_t align)
{
	struct ipc_arena_chunk *ch = a->head;
	size_t off = 0, cap, left = a->limit - a->total;

	if (align == 0)
		align = alignof(max_align_t);
	if (a->total > a->limit || n > left)
		return NULL;
	if (ch != NULL) {
		off = (ch->used + align - 1) & ~(align - 1);
		if (off <= ch->cap && ch->cap - off >= n) {
			if (off - ch->used > left - n)	/* the padding */
				return NULL;
			goto take;
		}
	}
	cap = ch == NULL ? CHUNK_MIN : ch->cap * 2;
	if (cap > CHUNK_MAX)
		cap = CHUNK_MAX;
	if (cap < n)
		cap = n;
	if ((ch = malloc(sizeof(*ch) + cap)) == NULL)
		return NULL;
	ch->cap = cap;
	ch->used = 0;
	ch->next = a->head;
	a->head = ch;
	off = 0;
take:
	a->total += off - ch->used + n;
	ch->used = off + n;
	return ch->data + off;
}

static void
chunk_free(struct ipc_arena *a, struct ipc_arena_chunk *ch)
{
	if (a->wipe)
		sodium_memzero(ch->data, ch->used);
	free(ch);
}

void
ipc_arena_reset(struct ipc_arena *a)
{
	struct ipc_arena_chunk *ch, *next;

	for (ch = a->head; ch != NULL && ch->next != NULL; ch = next) {
		next = ch->next;
		chunk_free(a, ch);
		a->head = next;
	}
	if ((ch = a->head) != NULL) {	/* the first: kept */
		if (a->wipe)
			sodium_memzero(ch->data, ch->used);
		ch->used = 0;
	}
	a->total = 0;
}

void
ipc_arena_free(struct ipc_arena *a)
{
	struct ipc_arena_chunk *ch, *next;

	for (ch = a->head; ch != NULL; ch = next) {
		next = ch->next;
		chunk_free(a, ch);
	}
	a->head = NULL;
	a->total = 0;
}
