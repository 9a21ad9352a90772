/* SPDX-License-Identifier: ISC */
/* fz-portald's JSON config: no crash, no leak, an error names a line. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "contrib/portal/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pd_config *cfg = NULL;
	char err[512];

	if (pd_config_parse("fuzz.json", (const char *)data, size, &cfg, err,
	    sizeof(err)) == 0) {
		for (size_t i = 0; i < cfg->nresources; i++)
			(void)pd_config_site(cfg, cfg->resources[i].id);
		pd_config_free(cfg);
	} else if (strncmp(err, "fuzz.json:", 10) != 0)
		__builtin_trap();
	return 0;
}
