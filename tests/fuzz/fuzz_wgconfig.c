/* SPDX-License-Identifier: ISC */
/* wg-quick configuration text: no crash, no leak, clear errors; every
 * hook expands to exactly its text with %i replaced. */
#include <dlfcn.h>
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wgconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * An Endpoint host name is resolved with getaddrinfo: in a fuzz target
 * that sent a DNS query to the machine's resolver for each such input and
 * waited for its timeout (most of the target's time; traffic that must not
 * leave the machine).  Here a name fails as it does without DNS; numeric
 * hosts (the forms addr_parse leaves to getaddrinfo) still go through it.
 */
int
getaddrinfo(const char *restrict node, const char *restrict service,
    const struct addrinfo *restrict hints, struct addrinfo **restrict res)
{
	static int (*real)(const char *, const char *,
	    const struct addrinfo *, struct addrinfo **);
	struct addrinfo h;

	if (real == NULL &&
	    (real = (int (*)(const char *, const char *,
	    const struct addrinfo *, struct addrinfo **))dlsym(RTLD_NEXT,
	    "getaddrinfo")) == NULL)
		abort();
	memset(&h, 0, sizeof(h));
	if (hints != NULL)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	return real(node, service, &h, res);
}

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
