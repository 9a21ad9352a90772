/* SPDX-License-Identifier: ISC */
/*
 * portal/ws parsers on arbitrary bytes: the request and response heads
 * (no crash, a success consumes at most the input and at most the limit,
 * every header lookup stays inside the copy), Retry-After, the URL parser
 * and query decoding.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct ws_http_req req;
static struct ws_http_resp resp;

static void
check_hdrs(const struct ws_http_hdr *h, unsigned n, const char *buf, int hl)
{
	for (unsigned i = 0; i < n; i++) {
		if (h[i].name < buf || h[i].name >= buf + hl ||
		    h[i].value < buf || h[i].value > buf + hl ||
		    strlen(h[i].value) > (size_t)hl)
			__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char buf[256], str[WS_MAX_URL + 16];
	struct ws_url url;
	int hl;

	hl = ws_http_parse_request(s, size, &req);
	if (hl > 0) {
		if ((size_t)hl > size || hl > WS_MAX_HTTP_HEADER)
			__builtin_trap();
		check_hdrs(req.hdr, req.nhdr, req.buf, hl);
		(void)ws_http_req_header(&req, "host");
		(void)ws_query_get(req.query, "name", buf, sizeof(buf));
		(void)ws_query_get(req.query, "public_key", buf, 8);
	}
	hl = ws_http_parse_response(s, size, &resp);
	if (hl > 0) {
		if ((size_t)hl > size || hl > WS_MAX_HTTP_HEADER ||
		    resp.status < 100 || resp.status > 999)
			__builtin_trap();
		check_hdrs(resp.hdr, resp.nhdr, resp.buf, hl);
		(void)ws_http_retry_after(ws_http_resp_header(&resp,
		    "retry-after"), (time_t)1700000000);
	}
	if (size < sizeof(str)) {
		memcpy(str, data, size);
		str[size] = '\0';
		(void)ws_http_retry_after(str, (time_t)1700000000);
		(void)ws_http_has_token(str, "upgrade");
		if (ws_url_parse(str, &url) == 0 &&
		    (url.target[0] != '/' || url.port == 0))
			__builtin_trap();
		(void)ws_url_decode(str, size, buf, sizeof(buf));
	}
	return 0;
}
