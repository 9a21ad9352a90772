/* SPDX-License-Identifier: ISC */
/*
 * Clocks.  Everything that schedules or expires state reads time through
 * these so tests can substitute a fake clock (time_fake_*), which is
 * process-wide and thread-safe.
 */
#ifndef FZ_TIME_H
#define FZ_TIME_H

#include <stdint.h>

#define NSEC_PER_SEC	1000000000ULL
#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_USEC	1000ULL

/* Monotonic nanoseconds (CLOCK_MONOTONIC, or the fake clock). */
uint64_t time_mono_ns(void);
/* Wall-clock nanoseconds since the Unix epoch (CLOCK_REALTIME, or fake). */
uint64_t time_real_ns(void);

/* Switches both clocks to fake values; they move only by time_fake_advance. */
void	time_fake_enable(uint64_t mono_ns, uint64_t real_ns);
void	time_fake_advance(uint64_t ns);
void	time_fake_disable(void);
int	time_is_fake(void);

/* RFC 3339 UTC with microseconds, e.g. 2026-11-23T05:47:02.123456Z. */
int	time_fmt_rfc3339(uint64_t real_ns, char *, unsigned long);

#endif
