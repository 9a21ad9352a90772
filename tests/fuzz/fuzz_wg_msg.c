/* SPDX-License-Identifier: ISC */
/*
 * Feeds arbitrary datagrams to a WireGuard device that knows one peer and
 * has a session with it, as both handshake and data messages.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct wg_device *dev;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static union fz_sockaddr src;
	uint8_t buf[2048], reply[WG_INITIATION_LEN], *plain;
	struct wg_hs_result r;
	struct wg_peer *p;
	size_t plen;

	if (dev == NULL) {
		uint8_t k[32], pub[32];

		memset(k, 0x33, 32);
		if (wg_device_new(k, &dev) != 0)
			return 0;
		memset(k, 0x44, 32);
		wg_key_public(k, pub);
		if (wg_peer_add(dev, pub, &p) != 0)
			return 0;
		if (addr_parse("192.0.2.9:1", ADDR_PORT_REQUIRED, &src) != 0)
			return 0;
	}
	if (size > sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	switch (wg_msg_type(buf, size)) {
	case WG_MSG_DATA:
		(void)wg_decrypt(dev, buf, size, &src, &plain, &plen, &p);
		break;
	case 0:
		break;
	default:
		wg_device_set_under_load(dev, size > 0 && (data[0] & 0x80));
		(void)wg_handle_handshake(dev, buf, size, &src, reply, &r);
		break;
	}
	return 0;
}
