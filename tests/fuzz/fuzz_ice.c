/* SPDX-License-Identifier: ISC */
/*
 * controld/ice on arbitrary bytes: the first byte picks the target.
 * 0: the candidate parser (and, on success, format -> parse -> format is
 * stable).  Otherwise: an agent with candidates gets the rest as a series
 * of datagrams (2-byte length, 1-byte source selector, bytes), ticking a
 * fake clock between them; both roles.  Requests are accepted only with
 * valid integrity, so the corpus seeds carry real checks (see
 * tests/fuzz/corpus/fuzz_ice/).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ice.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_cand(const uint8_t *data, size_t size)
{
	struct ice_candidate c, c2;
	char out[ICE_CAND_MAXLEN], out2[ICE_CAND_MAXLEN];
	char *copy = malloc(size ? size : 1);

	memcpy(copy, data, size);
	if (ice_cand_parse(copy, size, &c) == 0) {
		if (ice_cand_fmt(&c, out, sizeof(out)) != 0 ||
		    ice_cand_parse(out, strlen(out), &c2) != 0 ||
		    ice_cand_fmt(&c2, out2, sizeof(out2)) != 0 ||
		    strcmp(out, out2) != 0)
			__builtin_trap();
	}
	free(copy);
}

static void
add(struct ice_agent *a, bool local, enum ice_cand_type t, const char *s,
    uint32_t sock)
{
	struct ice_candidate c;

	memset(&c, 0, sizeof(c));
	c.type = t;
	c.sock = sock;
	c.priority = local ? 0 : ice_cand_priority(t, 100);
	if (addr_parse(s, ADDR_PORT_REQUIRED, &c.addr) != 0)
		__builtin_trap();
	if ((local ? ice_agent_add_local_candidate(a, &c, 0) :
	    ice_agent_add_remote_candidate(a, &c, 0)) != 0)
		__builtin_trap();
}

static void
fuzz_agent(const uint8_t *data, size_t size, enum ice_role role)
{
	static const char *const from[] = {
		"192.0.2.1:1000", "192.0.2.2:2000", "[2001:db8::1]:3000",
		"198.51.100.9:4000",
	};
	struct ice_config cfg = {
		.role = role, .tie_breaker = 7,
		.local_ufrag = "aaaa", .local_pwd = "apasswordapassword1234",
		.remote_ufrag = "bbbb", .remote_pwd = "bpasswordbpassword1234",
	};
	struct ice_agent *a;
	struct ice_transmit t;
	struct ice_event ev;
	uint64_t now = 1000000000ULL;
	size_t off = 0;

	if (ice_agent_new(&cfg, now, &a) != 0)
		return;
	add(a, true, ICE_HOST, "10.0.0.1:1000", 1);
	add(a, true, ICE_HOST, "[2001:db8::9]:1000", 2);
	add(a, true, ICE_RELAY, "203.0.113.1:5000", 3);
	add(a, false, ICE_HOST, "192.0.2.1:1000", 0);
	add(a, false, ICE_SRFLX, "198.51.100.9:4000", 0);
	ice_agent_tick(a, now);
	while (size - off >= 3) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		uint8_t sel = data[off + 2];
		union fz_sockaddr sa;
		uint8_t *copy;

		off += 3;
		if (len > size - off)
			len = size - off;
		if (addr_parse(from[sel & 3], ADDR_PORT_REQUIRED, &sa) != 0)
			__builtin_trap();
		copy = malloc(len ? len : 1);
		memcpy(copy, data + off, len);
		(void)ice_agent_recv(a, (sel >> 2) & 3, NULL, &sa.sa, copy,
		    len, now);
		free(copy);
		off += len;
		now += (uint64_t)(sel >> 4) * 100000000ULL;
		if (ice_agent_deadline(a) <= now)
			ice_agent_tick(a, now);
		while (ice_agent_poll_transmit(a, &t))
			if (t.len > sizeof(t.buf))
				__builtin_trap();
		while (ice_agent_poll_event(a, &ev))
			;
	}
	ice_agent_free(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] == 0)
		fuzz_cand(data + 1, size - 1);
	else
		fuzz_agent(data + 1, size - 1, (data[0] & 1) ?
		    ICE_CONTROLLING : ICE_CONTROLLED);
	return 0;
}
