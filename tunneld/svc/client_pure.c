/* SPDX-License-Identifier: ISC */
/* The client wiring's pure parts (client_net.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client_net.h"

int
cn_addr_list_fmt(const union fz_sockaddr *a, size_t n, char *out, size_t len)
{
	char one[ADDR_STRLEN];
	size_t i, used = 0;
	int w;

	if (len == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (addr_fmt(&a[i].sa, false, one, sizeof(one)) != 0)
			return -EINVAL;
		w = snprintf(out + used, len - used, "%s%s", i ? ", " : "",
		    one);
		if (w < 0 || (size_t)w >= len - used)
			return -ENOSPC;
		used += (size_t)w;
	}
	return 0;
}

size_t
cn_resource_cidrs(const struct ipc_resource_list *l, struct fz_cidr *out,
    size_t max, bool *has_internet)
{
	struct fz_cidr c;
	size_t n = 0;
	uint32_t i;

	*has_internet = false;
	for (i = 0; i < l->n; i++) {
		const struct ipc_resource *r = &l->r[i];

		if (r->type != NULL && strcmp(r->type, "internet") == 0) {
			*has_internet = true;
			continue;
		}
		if (r->type == NULL || strcmp(r->type, "cidr") != 0 ||
		    r->address == NULL || n == max)
			continue;
		if (cidr_parse(r->address, false, &c) != 0)
			continue;
		out[n++] = c;
	}
	return n;
}
