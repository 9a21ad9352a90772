/* SPDX-License-Identifier: ISC */
/*
 * A datagram on the data plane's UDP port, as the workers take it: the
 * classifier, and for ChannelData the unwrapped inner datagram (which
 * must lie inside the outer one) classified again.
 */
#include <stdlib.h>
#include <string.h>

#include "rx.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *inner;
	uint8_t *copy;
	size_t n;
	uint16_t ch;

	/* An exact-size heap copy: ASan sees any read past the end. */
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	if (dp_classify(copy, size) == DP_PKT_CHANNEL_DATA) {
		dp_channeldata(copy, size, &ch, &inner, &n);
		if (ch < 0x4000 || ch > 0x4fff || inner + n > copy + size)
			abort();
		(void)dp_classify(inner, n);
	}
	free(copy);
	return 0;
}
