/* SPDX-License-Identifier: ISC */
/*
 * Feeds arbitrary datagrams to a WireGuard device that knows one peer (no
 * session), as both handshake and data messages.  The last byte of a
 * handshake message (inside mac2) steers it: bit 0 puts the device
 * under load (cookie replies, mac2 checks), bit 1 gives the message a
 * valid mac1, so it gets past the MACs into the Noise steps; bits 2 and 3
 * make it relayed (no roaming), on the known peer's channel or another's.
 * Data messages are relayed when their last byte is odd.
 */
#include <blake2.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "messages.h"
#include "wg_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct wg_device *dev;
static struct wg_peer *known;
static const struct wg_peer *other = (const struct wg_peer *)&other;
static uint8_t mac1_key[32];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static union fz_sockaddr src;
	struct wg_path path = { .src = &src };
	uint8_t buf[2048], reply[WG_INITIATION_LEN], *plain;
	struct wg_hs_result r;
	struct wg_peer *p;
	size_t plen;

	if (dev == NULL) {
		uint8_t k[32], pub[32];

		memset(k, 0x33, 32);
		if (wg_device_new(k, &dev) != 0)
			return 0;
		wg_device_public_key(dev, pub);
		wg_cookie_derive_keys(pub, mac1_key, k);
		memset(k, 0x44, 32);
		wg_key_public(k, pub);
		if (wg_peer_add(dev, pub, &known) != 0)
			return 0;
		if (addr_parse("192.0.2.9:1", ADDR_PORT_REQUIRED, &src) != 0)
			return 0;
	}
	if (size > sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	if (size > 0 && (data[size - 1] & 0xc) != 0) {
		path.relayed = true;
		/* A channel of the known peer, or of one it never is. */
		path.peer = (data[size - 1] & 8) ? other : known;
	}
	{
		/* Whatever the datagram: the receive batch's prefetching. */
		uint8_t *m = buf;
		struct wg_peer *hint;

		wg_read_lock();
		wg_rx_prefetch(dev, &m, &size, 1, &hint);
		wg_read_unlock();
	}
	switch (wg_msg_type(buf, size)) {
	case WG_MSG_DATA:
		path.relayed = (data[size - 1] & 1) != 0;
		path.peer = path.relayed ? known : NULL;
		(void)wg_decrypt_via(dev, buf, size, &path, &plain, &plen, &p);
		break;
	case 0:
		break;
	default:
		wg_device_set_under_load(dev, (data[size - 1] & 1) != 0);
		if (data[size - 1] & 2)
			blake2s(buf + size - WG_MACS_LEN, buf, mac1_key,
			    WG_MAC_LEN, size - WG_MACS_LEN, sizeof(mac1_key));
		(void)wg_handle_handshake_via(dev, buf, size, &path, reply,
		    &r);
		break;
	}
	return 0;
}
