/* SPDX-License-Identifier: ISC */
/* fz-relayd's token from a systemd credential file (relay_token.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "relay_token.h"

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
relay_token_trim(const char *buf, size_t n, char *out, size_t cap)
{
	size_t i;

	while (n > 0 && is_space(*buf)) {
		buf++;
		n--;
	}
	while (n > 0 && is_space(buf[n - 1]))
		n--;
	if (n == 0)
		return -EINVAL;
	if (n > RELAY_TOKEN_MAX || n + 1 > cap)
		return -E2BIG;
	for (i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			return -EINVAL;
	memcpy(out, buf, n);
	out[n] = '\0';
	return 0;
}

int
relay_token_read(const char *path, uid_t owner, char *out, size_t cap)
{
	char buf[RELAY_TOKEN_MAX + 64];
	struct stat st;
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != owner ||
	    (st.st_mode & 077) != 0) {
		rc = -EPERM;
		goto out;
	}
	if ((n = read(fd, buf, sizeof(buf))) < 0) {
		rc = -errno;
		goto out;
	}
	rc = (size_t)n == sizeof(buf) ? -E2BIG :
	    relay_token_trim(buf, (size_t)n, out, cap);
out:
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return rc;
}
