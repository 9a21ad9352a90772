/* SPDX-License-Identifier: ISC */
/*
 * privsep_child_line on whatever fz-controld writes to its stdout: no
 * crash or overrun for any output size, a level in range, and the output
 * printable ASCII only (nothing a terminal or a log reader would act on).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "privsep.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[4 * 64 + 1];
	size_t cap, i;
	int level;

	if (size == 0)
		return 0;
	/* The first byte picks the output size, 1..sizeof(out). */
	cap = 1 + data[0] % sizeof(out);
	level = privsep_child_line((const char *)data + 1, size - 1, out, cap);
	if (level < LOG_LVL_ERROR || level > LOG_LVL_TRACE)
		__builtin_trap();
	if (strlen(out) >= cap)
		__builtin_trap();
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 ||
		    (unsigned char)out[i] >= 0x7f)
			__builtin_trap();
	return 0;
}
