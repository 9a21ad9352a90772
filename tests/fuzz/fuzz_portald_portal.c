/* SPDX-License-Identifier: ISC */
/*
 * fz-portald's portal logic on untrusted bytes: the upgrade request (path
 * selector, query, X-Authorization, User-Agent) and then frames from that
 * device, with a joined gateway and relay alongside.  Input: lines; the
 * first byte picks the path and serializer, lines 1-3 are query,
 * authorization and user agent, every further line is one frame.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "contrib/portal/config.h"
#include "contrib/portal/portal.h"
#include "contrib/portal/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char cfg_text[] =
"{\"account\":{\"slug\":\"a\",\"upstream_do53\":[\"10.0.0.53\"]},"
"\"relay_token\":\"rt\",\"turn_servers\":[{\"addr\":\"10.0.0.5:3478\","
"\"secret\":\"s\"}],\"sites\":[{\"name\":\"hq\",\"gateway_token\":\"gt\"}],"
"\"resources\":[{\"name\":\"lan\",\"type\":\"cidr\",\"address\":\"10.1.0.0/16\","
"\"site\":\"hq\",\"filters\":[{\"protocol\":\"tcp\",\"ports\":\"1-9\"}]},"
"{\"name\":\"w\",\"type\":\"dns\",\"address\":\"*.x.test\",\"site\":\"hq\"}],"
"\"clients\":[{\"name\":\"c\",\"token\":\"ct\",\"groups\":[\"g\"]}],"
"\"policies\":[{\"group\":\"g\",\"resource\":\"lan\"}]}";

static const char gw_join[] = "{\"topic\":\"gateway\",\"event\":"
    "\"phx_join\",\"payload\":null,\"ref\":0}";
static const char relay_join[] = "{\"topic\":\"relay\",\"event\":"
    "\"phx_join\",\"payload\":{\"stamp_secret\":\"abc\"},\"ref\":0}";
static int sink_n;

static int
f_send(void *c, const char *t, size_t n)
{
	(void)c;
	(void)t;
	sink_n += (int)n > 0;
	return 0;
}

static void
f_close(void *c, int code)
{
	(void)c;
	(void)code;
}

static int64_t
f_now(void *a)
{
	(void)a;
	return 1700000000;
}

static const struct pd_portal_ops ops = { f_send, f_close, f_now, NULL };
static struct pd_store *store;
/* Parsed once: the portal only reads its config (pd_portal's field is
 * const), each input's portal holds a reference. */
static struct pd_config *cfg;

static char *
next_line(const char **p, const char *end)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	const char *e = nl ? nl : end;
	char *s = strndup(*p, (size_t)(e - *p));

	*p = nl ? nl + 1 : end;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "/client/v2/websocket",
	    "/gateway/v2/websocket", "/relay/websocket", "/x" };
	const char *p = (const char *)data, *end = p + size;
	struct pd_session *gw = NULL, *rl = NULL, *s = NULL;
	struct pd_portal *portal;
	struct pd_http_error err;
	struct pd_request req = { 0 };
	char *q, *auth, *ua, e[256];
	int a, b, c;
	uint64_t now = 0;

	if (size < 1)
		return 0;
	if (store == NULL) {
		if (log_init("fuzz", LOG_FORMAT_JSON, "off") != 0 ||
		    pd_store_open_sqlite(":memory:", &store) != 0 ||
		    pd_config_parse("f", cfg_text, sizeof(cfg_text) - 1, &cfg,
		    e, sizeof(e)) != 0)
			abort();
	}
	if (pd_portal_new(pd_config_ref(cfg), store, &ops, &portal) != 0)
		abort();
	/* a gateway and a relay, joined */
	req = (struct pd_request){ "/gateway/v2/websocket",
	    "external_id=g&public_key="
	    "uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY%3D",
	    "Bearer gt", "gateway/1.4.0", NULL };
	if (pd_portal_connect(portal, &req, &a, 0, &gw, &err) != 0)
		abort();
	pd_portal_text(portal, gw, gw_join, strlen(gw_join), 0);
	req = (struct pd_request){ "/relay/websocket", "ipv4=192.0.2.1",
	    "Bearer rt", "relay/1.0.0", NULL };
	if (pd_portal_connect(portal, &req, &b, 0, &rl, &err) != 0)
		abort();
	pd_portal_text(portal, rl, relay_join, strlen(relay_join), 0);

	req.path = paths[data[0] & 3];
	p++;
	q = next_line(&p, end);
	auth = next_line(&p, end);
	ua = next_line(&p, end);
	req.query = q;
	req.authorization = auth;
	req.user_agent = ua;
	if (pd_portal_connect(portal, &req, &c, 0, &s, &err) == 0) {
		while (p < end) {
			char *line = next_line(&p, end);

			now += 500;
			pd_portal_text(portal, s, line, strlen(line), now);
			pd_portal_tick(portal, now);
			free(line);
		}
		pd_portal_tick(portal, now + 20000);
		pd_portal_closed(portal, s, now);
	} else if (err.status < 400 || err.status > 599)
		abort();
	free(q);
	free(auth);
	free(ua);
	pd_portal_free(portal);
	if (cfg->refs != 1)	/* the portal let go of its reference */
		abort();
	return 0;
}
