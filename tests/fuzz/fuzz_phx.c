/* SPDX-License-Identifier: ISC */
/*
 * Phoenix frames (V1 and V2) and every portal message decoder on
 * arbitrary bytes; what decodes is encoded again and must decode; the
 * client state machine takes the same text as a received frame, and the
 * URL, header and Retry-After parsers take it as a string.  The first
 * byte picks the serializer; the rest is the frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phx.h"
#include "phx_client.h"
#include "portal_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint32_t
zero_rand(void *arg)
{
	(void)arg;
	return 0;
}

static void
messages(const struct phx_frame *f)
{
	struct portal_msg m, back;
	const char *ev;
	json_t *p;
	int chan;

	for (chan = PORTAL_TO_CLIENT; chan <= PORTAL_FROM_RELAY; chan++) {
		if (portal_msg_decode((enum portal_chan)chan, f->event,
		    f->payload, &m) != 0)
			continue;
		if (portal_msg_encode(&m, &ev, &p) == 0) {
			/* What we encode decodes again. */
			if (portal_msg_decode((enum portal_chan)chan, ev, p,
			    &back) != 0)
				__builtin_trap();
			portal_msg_clear(&back);
			json_decref(p);
		}
		portal_msg_clear(&m);
	}
}

static void
client(const char *text, size_t n)
{
	struct phx_client_cfg cfg = {
		.component = PHX_CLIENT, .topic = "client",
		.rand32 = zero_rand,
	};
	struct phx_client *c = phx_client_new(&cfg);
	static const char ok[] = "{\"topic\":\"client\",\"event\":"
	    "\"phx_reply\",\"ref\":0,\"payload\":{\"status\":\"ok\","
	    "\"response\":{}}}";
	struct phx_event e;
	char *f;

	if (c == NULL)
		return;
	phx_client_start(c, 0);
	phx_client_ws_open(c, 1);
	(void)phx_client_ws_text(c, ok, strlen(ok), 2);
	(void)phx_client_ws_text(c, text, n, 3);
	(void)phx_client_send(c, "no_relays", NULL);
	phx_client_tick(c, 20000);
	while ((f = phx_client_pop_frame(c)) != NULL)
		free(f);
	while (phx_client_pop_event(c, &e))
		phx_event_clear(&e);
	phx_client_http_error(c, 401, text, n, -1, 4);
	phx_client_free(c);
}

/* The text parsers of portal_url.c on the input as a C string. */
static void
strings(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1), *h, *host, *pq;
	struct portal_params pp = { .external_id = "x", .public_key = "k" };
	uint16_t port;
	bool tls;

	if (s == NULL)
		return;
	memcpy(s, data, n);
	s[n] = '\0';
	(void)portal_retry_after_parse(s, 0);
	if (portal_auth_header(s, &h) == 0)
		portal_auth_header_free(h);
	if (portal_url_split(s, &tls, &host, &port, &pq) == 0) {
		free(host);
		free(pq);
	}
	if (portal_url_build(s, PHX_CLIENT, &pp, &h) == 0)
		free(h);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phx_frame f;
	enum phx_vsn vsn;
	const json_t *resp;
	char *copy, *again;
	bool ok;

	if (size < 1)
		return 0;
	vsn = (data[0] & 1) ? PHX_V2 : PHX_V1;
	/* An exact-size copy, so ASan sees any over-read. */
	copy = malloc(size - 1 ? size - 1 : 1);
	memcpy(copy, data + 1, size - 1);
	if (phx_frame_decode(vsn, copy, size - 1, &f) == 0) {
		if (f.topic == NULL || f.event == NULL || f.payload == NULL)
			__builtin_trap();
		again = phx_frame_encode(vsn, f.topic, f.event, f.payload,
		    f.ref, f.join_ref);
		if (again != NULL) {
			struct phx_frame g;

			if (phx_frame_decode(vsn, again, strlen(again),
			    &g) == 0)
				phx_frame_clear(&g);
			free(again);
		}
		(void)phx_reply_parse(f.payload, &ok, &resp);
		messages(&f);
		phx_frame_clear(&f);
	}
	if (vsn == PHX_V1)
		client(copy, size - 1);
	strings(data + 1, size - 1);
	free(copy);
	return 0;
}
