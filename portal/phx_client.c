/* SPDX-License-Identifier: ISC */
/*
 * The client channel state machine of firezone-protocols.md §1.3/§1.4,
 * as connlib's phoenix-channel runs it, without I/O.
 *
 * Refs: one counter per connection from 0, taken by every outbound frame
 * in the order frames leave (join, heartbeats, messages).  Control frames
 * (join, heartbeat) get theirs when made and leave first; queued messages
 * get theirs when popped, so refs rise on the wire.
 *
 * Backoff: connlib's `backoff` crate.  Before the first join: 1 s, no
 * jitter, 15 s budget; afterwards 500 ms x1.5 up to 60 s, randomization
 * 0.5, budget max_partition_ms.  The budget runs from the first failure
 * after the last join; next_backoff fails when elapsed > budget or when
 * elapsed + the next interval would pass it.  A Retry-After replaces the
 * computed delay without consuming it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <sodium.h>

#include "phx_client.h"

#define CONNECT_TIMEOUT_MS	15000	/* the whole TCP+TLS+WS attempt */
#define MAX_ACTIONS		4
#define MAX_PROBLEM_BODY	(64 * 1024)

enum state {
	ST_IDLE,	/* not started */
	ST_WAIT,	/* backoff until retry_at */
	ST_CONNECTING,	/* CONNECT handed out */
	ST_OPEN,	/* WebSocket up: joining or joined */
	ST_DONE,	/* stopped or fatal */
};

struct ctl_frame {
	STAILQ_ENTRY(ctl_frame)	 entry;
	char			*text;
};

struct queued {
	STAILQ_ENTRY(queued)	 entry;
	char			*event;
	json_t			*payload;
};

struct pending_ev {
	STAILQ_ENTRY(pending_ev) entry;
	struct phx_event	 ev;
};

struct backoff {
	bool		active;
	bool		initial;	/* before the first join */
	uint64_t	start;
	double		cur_ms;
};

struct phx_client {
	struct phx_client_cfg	 cfg;
	char			*topic;
	enum state		 state;
	bool			 was_joined;
	unsigned		 joins;
	bool			 joined;	/* join answered on this connection */

	uint64_t		 next_ref;
	bool			 join_pending;
	long long		 join_ref;
	uint64_t		 join_deadline;
	uint64_t		 next_heartbeat;
	long long		 hb_refs[PHX_MAX_OUTSTANDING_HB + 1];
	unsigned		 n_hb;
	uint64_t		 retry_at;
	uint64_t		 connect_deadline;
	struct backoff		 bo;

	STAILQ_HEAD(, ctl_frame) ctl;
	STAILQ_HEAD(, queued)	 queue;
	unsigned		 n_queue;
	STAILQ_HEAD(, pending_ev) events;
	enum phx_action		 actions[MAX_ACTIONS];
	unsigned		 n_actions;
};

static uint32_t
default_rand32(void *arg)
{
	(void)arg;
	return randombytes_random();
}

struct phx_client *
phx_client_new(const struct phx_client_cfg *cfg)
{
	struct phx_client *c;

	if (cfg == NULL || cfg->topic == NULL || *cfg->topic == '\0' ||
	    strlen(cfg->topic) > PHX_MAX_TOPIC)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->cfg = *cfg;
	if ((c->topic = strdup(cfg->topic)) == NULL) {
		free(c);
		return NULL;
	}
	c->cfg.topic = c->topic;
	if (c->cfg.join_payload != NULL)
		json_incref(c->cfg.join_payload);
	if (c->cfg.rand32 == NULL) {
		if (sodium_init() < 0) {
			json_decref(c->cfg.join_payload);
			free(c->topic);
			free(c);
			return NULL;
		}
		c->cfg.rand32 = default_rand32;
	}
	STAILQ_INIT(&c->ctl);
	STAILQ_INIT(&c->queue);
	STAILQ_INIT(&c->events);
	c->state = ST_IDLE;
	return c;
}

static void
clear_ctl(struct phx_client *c)
{
	struct ctl_frame *f;

	while ((f = STAILQ_FIRST(&c->ctl)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->ctl, entry);
		free(f->text);
		free(f);
	}
}

static void
clear_queue(struct phx_client *c)
{
	struct queued *q;

	while ((q = STAILQ_FIRST(&c->queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->queue, entry);
		free(q->event);
		json_decref(q->payload);
		free(q);
	}
	c->n_queue = 0;
}

void
phx_client_free(struct phx_client *c)
{
	struct pending_ev *p;

	if (c == NULL)
		return;
	clear_ctl(c);
	clear_queue(c);
	while ((p = STAILQ_FIRST(&c->events)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->events, entry);
		phx_event_clear(&p->ev);
		free(p);
	}
	json_decref(c->cfg.join_payload);
	free(c->topic);
	free(c);
}

static void
push_action(struct phx_client *c, enum phx_action a)
{
	/* A CLOSE right before another CLOSE says nothing new. */
	if (c->n_actions > 0 && c->actions[c->n_actions - 1] == a)
		return;
	if (c->n_actions < MAX_ACTIONS)
		c->actions[c->n_actions++] = a;
}

/* Copies a short printable reason (control bytes become '?'). */
static char *
reason_dup(const char *s)
{
	char *r;
	size_t i, n;

	if (s == NULL)
		return NULL;
	n = strnlen(s, 200);
	if ((r = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		r[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	r[n] = '\0';
	return r;
}

/* Events are dropped under ENOMEM: the state machine stays consistent. */
static void
push_event(struct phx_client *c, enum phx_event_kind kind, char *event,
    json_t *payload, int fatal, const char *reason)
{
	struct pending_ev *p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		free(event);
		json_decref(payload);
		return;
	}
	p->ev.kind = kind;
	p->ev.event = event;
	p->ev.payload = payload;
	p->ev.fatal = fatal;
	p->ev.reason = reason_dup(reason);
	STAILQ_INSERT_TAIL(&c->events, p, entry);
}

static bool
has_connection(const struct phx_client *c)
{
	return c->state == ST_CONNECTING || c->state == ST_OPEN;
}

static void
reset_connection(struct phx_client *c)
{
	clear_ctl(c);
	c->joined = false;
	c->join_pending = false;
	c->n_hb = 0;
	c->next_ref = 0;
}

static void
fatal(struct phx_client *c, bool close, enum phx_fatal why,
    const char *reason)
{
	if (close && has_connection(c))
		push_action(c, PHX_ACT_CLOSE);
	reset_connection(c);
	c->state = ST_DONE;
	push_event(c, PHX_EV_FATAL, NULL, NULL, why, reason);
}

/* The backoff crate's next_backoff(); false when the budget is spent. */
static bool
backoff_next(struct phx_client *c, uint64_t now, uint64_t *delay)
{
	struct backoff *b = &c->bo;
	double factor, maxint, mult, delta, r, val;
	uint64_t budget, elapsed;

	if (!b->active) {
		b->active = true;
		b->initial = !c->was_joined;
		b->start = now;
		b->cur_ms = b->initial ? PHX_INITIAL_RETRY_MS :
		    PHX_BACKOFF_INITIAL_MS;
	}
	if (b->initial) {
		factor = 0.0;
		maxint = PHX_INITIAL_RETRY_MS;
		mult = 1.0;
		budget = PHX_INITIAL_BUDGET_MS;
	} else {
		factor = PHX_BACKOFF_JITTER;
		maxint = PHX_BACKOFF_MAX_MS;
		mult = PHX_BACKOFF_MULTIPLIER;
		budget = c->cfg.max_partition_ms;
	}
	elapsed = now - b->start;
	if (budget != 0 && elapsed > budget)
		return false;
	delta = factor * b->cur_ms;
	r = (double)c->cfg.rand32(c->cfg.rand_arg) / 4294967296.0;
	val = b->cur_ms - delta + r * (2.0 * delta);
	if (b->cur_ms >= maxint / mult)
		b->cur_ms = maxint;
	else
		b->cur_ms *= mult;
	if (budget != 0 && (double)elapsed + val > (double)budget)
		return false;
	*delay = (uint64_t)val;
	return true;
}

/*
 * The connection attempt or the channel failed: drop the transport when
 * it may still be there, and wait for the next attempt.
 */
static void
fail(struct phx_client *c, uint64_t now, bool close, long retry_after_s,
    const char *reason)
{
	uint64_t delay;

	if (c->state == ST_DONE || c->state == ST_IDLE)
		return;
	if (close && has_connection(c))
		push_action(c, PHX_ACT_CLOSE);
	reset_connection(c);
	if (retry_after_s >= 0)		/* bounded: a day at most */
		delay = (uint64_t)(retry_after_s < PHX_RETRY_AFTER_MAX_S ?
		    retry_after_s : PHX_RETRY_AFTER_MAX_S) * 1000;
	else if (!backoff_next(c, now, &delay)) {
		fatal(c, close, PHX_FATAL_MAX_RETRIES, reason);
		return;
	}
	c->state = ST_WAIT;
	c->retry_at = now + delay;
	push_event(c, PHX_EV_DISCONNECTED, NULL, NULL, 0, reason);
}

static void
connect_now(struct phx_client *c, uint64_t now)
{
	c->state = ST_CONNECTING;
	c->connect_deadline = now + CONNECT_TIMEOUT_MS;
	push_action(c, PHX_ACT_CONNECT);
}

void
phx_client_start(struct phx_client *c, uint64_t now)
{
	if (c == NULL || c->state != ST_IDLE)
		return;
	connect_now(c, now);
}

/* A control frame with the next ref; false on ENOMEM. */
static bool
push_ctl(struct phx_client *c, const char *topic, const char *event,
    const json_t *payload, long long *ref_out)
{
	struct ctl_frame *f;
	json_t *ref;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return false;
	if ((ref = json_integer((json_int_t)c->next_ref)) == NULL) {
		free(f);
		return false;
	}
	f->text = phx_frame_encode(PHX_V1, topic, event, payload, ref, NULL);
	json_decref(ref);
	if (f->text == NULL) {
		free(f);
		return false;
	}
	*ref_out = (long long)c->next_ref++;
	STAILQ_INSERT_TAIL(&c->ctl, f, entry);
	return true;
}

static void
join(struct phx_client *c, uint64_t now)
{
	if (!push_ctl(c, c->topic, "phx_join", c->cfg.join_payload,
	    &c->join_ref)) {
		fail(c, now, true, -1, "out of memory");
		return;
	}
	c->join_pending = true;
	c->join_deadline = now + PHX_JOIN_TIMEOUT_MS;
}

void
phx_client_ws_open(struct phx_client *c, uint64_t now)
{
	if (c == NULL || c->state != ST_CONNECTING)
		return;
	reset_connection(c);
	c->state = ST_OPEN;
	c->next_heartbeat = now + PHX_HEARTBEAT_MS;
	join(c, now);
}

void
phx_client_ws_closed(struct phx_client *c, uint64_t now)
{
	if (c == NULL || !has_connection(c))
		return;
	fail(c, now, false, -1, "connection closed");
}

/* A ref as a number; Phoenix echoes what we sent, a string is tolerated. */
static bool
ref_value(const json_t *ref, long long *out)
{
	const char *s;
	char *end;

	if (json_is_integer(ref)) {
		*out = json_integer_value(ref);
		return true;
	}
	if ((s = json_string_value(ref)) == NULL || *s == '\0')
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static void
on_reply(struct phx_client *c, const struct phx_frame *f, uint64_t now)
{
	const json_t *resp;
	const char *reason;
	long long ref;
	unsigned i;
	bool ok;
	bool ours = strcmp(f->topic, c->topic) == 0;

	if (phx_reply_parse(f->payload, &ok, &resp) < 0 ||
	    !ref_value(f->ref, &ref))
		return;		/* connlib: a reply without ref is dropped */
	if (ok) {
		for (i = 0; i < c->n_hb; i++)
			if (c->hb_refs[i] == ref) {
				c->hb_refs[i] = c->hb_refs[--c->n_hb];
				return;
			}
		if (ours && c->join_pending && ref == c->join_ref) {
			c->join_pending = false;
			c->joined = true;
			c->was_joined = true;
			c->joins++;
			c->bo.active = false;	/* backoff = None */
			push_event(c, PHX_EV_JOINED, NULL, NULL, 0, NULL);
		}
		/* connlib does not use replies to its messages. */
		return;
	}
	reason = json_string_value(json_object_get(resp, "reason"));
	if (ours && c->join_pending && ref == c->join_ref) {
		fatal(c, true, PHX_FATAL_LOGIN_FAILED,
		    reason != NULL ? reason : "join refused");
		return;
	}
	if (ours && reason != NULL && strcmp(reason, "unmatched topic") == 0
	    && !c->join_pending) {
		/* The server forgot our channel: join again. */
		c->joined = false;
		join(c, now);
	}
}

int
phx_client_ws_text(struct phx_client *c, const char *text, size_t n,
    uint64_t now)
{
	struct phx_frame f;
	const char *reason;
	char *ev;
	int r;

	if (c == NULL || c->state != ST_OPEN)
		return 0;
	if ((r = phx_frame_decode(PHX_V1, text, n, &f)) < 0)
		return r;
	if (strcmp(f.event, "phx_reply") == 0)
		on_reply(c, &f, now);
	else if (strcmp(f.event, "phx_close") == 0) {
		if (strcmp(f.topic, c->topic) == 0)
			fail(c, now, true, -1, "channel closed by the portal");
	} else if (strcmp(f.event, "phx_error") == 0) {
		/* connlib logs and ignores it. */
	} else if (strcmp(f.topic, c->topic) == 0) {
		reason = json_string_value(json_object_get(f.payload,
		    "reason"));
		if (strcmp(f.event, "disconnect") == 0 && reason != NULL &&
		    strcmp(reason, "token_expired") == 0)
			fatal(c, true, PHX_FATAL_INVALID_TOKEN,
			    "token expired");
		else if ((ev = strdup(f.event)) != NULL)
			push_event(c, PHX_EV_MESSAGE, ev,
			    json_incref(f.payload), 0, NULL);
	}
	phx_frame_clear(&f);
	return 0;
}

void
phx_client_http_error(struct phx_client *c, int status, const char *body,
    size_t n, long retry_after_s, uint64_t now)
{
	json_t *p = NULL;
	const char *code = NULL, *detail = NULL;
	char why[160];

	if (c == NULL || c->state != ST_CONNECTING)
		return;
	if (body != NULL && n > 0 && n <= MAX_PROBLEM_BODY &&
	    (p = json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL)) != NULL) {
		code = json_string_value(json_object_get(p, "code"));
		detail = json_string_value(json_object_get(p, "detail"));
	}
	if (status == 401) {
		if (code != NULL && (strcmp(code, "invalid_token") == 0 ||
		    strcmp(code, "missing_token") == 0)) {
			snprintf(why, sizeof(why), "401 %s", code);
			fatal(c, false, PHX_FATAL_INVALID_TOKEN, why);
		} else {
			snprintf(why, sizeof(why), "401 %.100s",
			    detail != NULL ? detail : "no reason provided");
			fatal(c, false, PHX_FATAL_AUTH, why);
		}
	} else {
		snprintf(why, sizeof(why), "HTTP %d%s%.100s", status,
		    code != NULL ? " " : "", code != NULL ? code : "");
		fail(c, now, false, retry_after_s, why);
	}
	json_decref(p);
}

static void
heartbeat(struct phx_client *c, uint64_t now)
{
	json_t *empty;
	long long ref;
	bool ok;

	if ((empty = json_object()) == NULL)
		return;
	ok = push_ctl(c, "phoenix", "heartbeat", empty, &ref);
	json_decref(empty);
	if (ok && c->n_hb < PHX_MAX_OUTSTANDING_HB + 1)
		c->hb_refs[c->n_hb++] = ref;
	else if (ok)
		c->n_hb++;
	c->next_heartbeat += PHX_HEARTBEAT_MS;
	if (c->next_heartbeat <= now)
		c->next_heartbeat = now + PHX_HEARTBEAT_MS;
	if (c->n_hb > PHX_MAX_OUTSTANDING_HB)
		fail(c, now, true, -1, "too many unanswered heartbeats");
}

void
phx_client_tick(struct phx_client *c, uint64_t now)
{
	if (c == NULL)
		return;
	switch (c->state) {
	case ST_WAIT:
		if (now >= c->retry_at)
			connect_now(c, now);
		break;
	case ST_CONNECTING:
		if (now >= c->connect_deadline)
			fail(c, now, true, -1, "connect timed out");
		break;
	case ST_OPEN:
		if (c->join_pending && now >= c->join_deadline) {
			fail(c, now, true, -1, "join timed out");
			break;
		}
		if (now >= c->next_heartbeat)
			heartbeat(c, now);
		break;
	case ST_IDLE:
	case ST_DONE:
		break;
	}
}

uint64_t
phx_client_deadline(const struct phx_client *c)
{
	uint64_t d = UINT64_MAX;

	if (c == NULL)
		return d;
	switch (c->state) {
	case ST_WAIT:
		return c->retry_at;
	case ST_CONNECTING:
		return c->connect_deadline;
	case ST_OPEN:
		d = c->next_heartbeat;
		if (c->join_pending && c->join_deadline < d)
			d = c->join_deadline;
		return d;
	default:
		return d;
	}
}

int
phx_client_send(struct phx_client *c, const char *event, json_t *payload)
{
	struct queued *q;

	if (c == NULL || event == NULL || *event == '\0' ||
	    strlen(event) > PHX_MAX_TOPIC) {
		json_decref(payload);
		return -EINVAL;
	}
	if (c->state == ST_DONE) {
		json_decref(payload);
		return -ESHUTDOWN;
	}
	if (payload == NULL && (payload = json_object()) == NULL)
		return -ENOMEM;
	STAILQ_FOREACH(q, &c->queue, entry)
		if (strcmp(q->event, event) == 0 &&
		    json_equal(q->payload, payload)) {
			json_decref(payload);	/* exact duplicate */
			return 0;
		}
	if (c->n_queue >= PHX_QUEUE_MAX) {
		json_decref(payload);
		return -ENOBUFS;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->event = strdup(event)) == NULL) {
		free(q);
		json_decref(payload);
		return -ENOMEM;
	}
	q->payload = payload;
	STAILQ_INSERT_TAIL(&c->queue, q, entry);
	c->n_queue++;
	return 0;
}

void
phx_client_stop(struct phx_client *c)
{
	if (c == NULL || c->state == ST_DONE)
		return;
	if (has_connection(c))
		push_action(c, PHX_ACT_CLOSE);
	reset_connection(c);
	c->state = ST_DONE;
}

char *
phx_client_pop_frame(struct phx_client *c)
{
	struct ctl_frame *f;
	struct queued *q;
	json_t *ref;
	char *text;

	if (c == NULL || c->state != ST_OPEN)
		return NULL;
	if ((f = STAILQ_FIRST(&c->ctl)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->ctl, entry);
		text = f->text;
		free(f);
		return text;
	}
	/* Messages wait for the join reply (§1.3). */
	if (!c->joined || c->join_pending ||
	    (q = STAILQ_FIRST(&c->queue)) == NULL)
		return NULL;
	if ((ref = json_integer((json_int_t)c->next_ref)) == NULL)
		return NULL;
	text = phx_frame_encode(PHX_V1, c->topic, q->event, q->payload, ref,
	    NULL);
	json_decref(ref);
	if (text == NULL)
		return NULL;
	c->next_ref++;
	STAILQ_REMOVE_HEAD(&c->queue, entry);
	c->n_queue--;
	free(q->event);
	json_decref(q->payload);
	free(q);
	return text;
}

enum phx_action
phx_client_pop_action(struct phx_client *c)
{
	enum phx_action a;

	if (c == NULL || c->n_actions == 0)
		return PHX_ACT_NONE;
	a = c->actions[0];
	memmove(c->actions, c->actions + 1,
	    (c->n_actions - 1) * sizeof(c->actions[0]));
	c->n_actions--;
	return a;
}

bool
phx_client_pop_event(struct phx_client *c, struct phx_event *out)
{
	struct pending_ev *p;

	if (c == NULL || (p = STAILQ_FIRST(&c->events)) == NULL)
		return false;
	STAILQ_REMOVE_HEAD(&c->events, entry);
	*out = p->ev;
	free(p);
	return true;
}

void
phx_event_clear(struct phx_event *ev)
{
	if (ev == NULL)
		return;
	free(ev->event);
	json_decref(ev->payload);
	free(ev->reason);
	memset(ev, 0, sizeof(*ev));
}

bool
phx_client_joined(const struct phx_client *c)
{
	return c != NULL && c->state == ST_OPEN && c->joined &&
	    !c->join_pending;
}

unsigned
phx_client_join_count(const struct phx_client *c)
{
	return c != NULL ? c->joins : 0;
}
