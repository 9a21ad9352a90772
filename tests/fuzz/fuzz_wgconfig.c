/* SPDX-License-Identifier: ISC */
/* wg-quick configuration text: no crash, no leak, clear errors; every
 * hook expands to exactly its text with %i replaced. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wgconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wgconf c;
	char err[256];

	unsigned i, j;

	if (wgconf_parse((const char *)data, size, "fuzz.conf", &c, err,
	    sizeof(err)) != 0)
		return 0;
	for (i = 0; i < WGCONF_HOOKS; i++) {
		for (j = 0; j < c.nhooks[i]; j++) {
			const char *h = c.hooks[i][j];
			char *e = wgconf_hook_expand(h, "ab");
			size_t n = 0, k;

			if (e == NULL)
				continue;
			for (k = 0; h[k] != '\0'; k++)
				if (h[k] == '%' && h[k + 1] == 'i')
					n++, k++;
			/* "%i" (2 bytes) becomes "ab" (2 bytes). */
			if (strlen(e) != strlen(h) || (n == 0 &&
			    strcmp(e, h) != 0))
				abort();
			free(e);
		}
	}
	wgconf_free(&c);
	return 0;
}
