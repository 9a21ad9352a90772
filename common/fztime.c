/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "fztime.h"

static atomic_int	 fake_on;
static _Atomic uint64_t	 fake_mono;
static _Atomic uint64_t	 fake_real;

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t
time_mono_ns(void)
{
	if (atomic_load_explicit(&fake_on, memory_order_acquire))
		return atomic_load(&fake_mono);
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t
time_real_ns(void)
{
	if (atomic_load_explicit(&fake_on, memory_order_acquire))
		return atomic_load(&fake_real);
	return clock_ns(CLOCK_REALTIME);
}

void
time_fake_enable(uint64_t mono_ns, uint64_t real_ns)
{
	atomic_store(&fake_mono, mono_ns);
	atomic_store(&fake_real, real_ns);
	atomic_store_explicit(&fake_on, 1, memory_order_release);
}

void
time_fake_advance(uint64_t ns)
{
	atomic_fetch_add(&fake_mono, ns);
	atomic_fetch_add(&fake_real, ns);
}

void
time_fake_disable(void)
{
	atomic_store_explicit(&fake_on, 0, memory_order_release);
}

int
time_is_fake(void)
{
	return atomic_load(&fake_on);
}

int
time_fmt_rfc3339(uint64_t real_ns, char *buf, unsigned long len)
{
	struct tm tm;
	time_t secs = (time_t)(real_ns / NSEC_PER_SEC);
	int n;

	if (gmtime_r(&secs, &tm) == NULL)
		return -EINVAL;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06luZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec,
	    (unsigned long)(real_ns % NSEC_PER_SEC / NSEC_PER_USEC));
	if (n < 0 || (unsigned long)n >= len)
		return -ENOBUFS;
	return 0;
}
