/* SPDX-License-Identifier: ISC */
/* wg-quick configuration text: no crash, no leak, clear errors. */
#include <stddef.h>
#include <stdint.h>

#include "wgconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wgconf c;
	char err[256];

	if (wgconf_parse((const char *)data, size, "fuzz.conf", &c, err,
	    sizeof(err)) == 0)
		wgconf_free(&c);
	return 0;
}
