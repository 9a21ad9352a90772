/* SPDX-License-Identifier: ISC */
/*
 * A read from the TUN, as the data plane takes it: virtio-net header, IP
 * headers, checksum completion, and for GSO packets the segmentation plan
 * and every segment; the packet is also offered to the TCP coalescer as a
 * decrypted packet would be.  Every segment must fit what was planned.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t pkt[65536 + 64], seg[65536];
static uint8_t slotbuf[OFF_CO_SLOTS][OFF_CO_MAX];
static struct off_co co;

static void
flushed(struct off_coslot *s, void *arg)
{
	struct virtio_net_hdr vh;
	struct off_seg plan;

	(void)arg;
	if (s->len > OFF_CO_MAX || s->nseg == 0)
		abort();
	/* A coalesced packet is one the kernel (and we) can cut again. */
	if (off_co_finish(s, &vh) &&
	    (off_seg_plan(&vh, s->buf, s->len, 65535, &plan) != 0 ||
	    plan.nseg != s->nseg))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_net_hdr vh;
	struct off_seg plan;
	size_t len, l4off, n;
	uint8_t proto;
	unsigned i;

	if (co.flush == NULL) {
		for (i = 0; i < OFF_CO_SLOTS; i++)
			co.slot[i].buf = slotbuf[i];
		co.flush = flushed;
		co.uso = true;
	}
	if (size > sizeof(pkt) + OFF_VNET_HDR_LEN)
		return 0;
	if (off_vnet_parse(data, size, &vh) != 0)
		return 0;
	len = size - OFF_VNET_HDR_LEN;
	memcpy(pkt, data + OFF_VNET_HDR_LEN, len);
	if (off_ip_l4(pkt, len, &l4off, &proto) < 0)
		return 0;
	if (vh.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		n = off_ip_len(pkt, len);
		if (n != 0) {
			(void)off_csum_complete(&vh, pkt, n);
			if (off_co_add(&co, pkt, n) && (data[0] & 1))
				off_co_flush_all(&co);
		}
		return 0;
	}
	if (off_seg_plan(&vh, pkt, len, 9000, &plan) != 0)
		return 0;
	for (i = 0; i < plan.nseg && i < 4096; i++) {
		size_t want = off_seg_len(&plan, i);

		if (want > plan.hlen + plan.mss || want > sizeof(seg))
			abort();
		if (off_seg_build(&plan, pkt, i, seg) != want)
			abort();
		if (off_ip_len(seg, want) != want && want >= 20)
			abort();
	}
	return 0;
}
