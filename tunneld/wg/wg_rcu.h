/* SPDX-License-Identifier: ISC */
/*
 * urcu-bp for the WireGuard core (the files of tunneld/wg/): include this
 * instead of <urcu-bp.h>.  It inlines urcu's read-side fast paths
 * (_LGPL_SOURCE: about 2 ns for a read-side section instead of 16 ns for
 * the library calls), except under the sanitizers, whose alignment check
 * trips over urcu-bp's reader slots (mmap'd, not aligned to the 128 bytes
 * the type declares; harmless on the architectures urcu supports).
 */
#ifndef FZ_WG_RCU_H
#define FZ_WG_RCU_H

#if defined(__SANITIZE_ADDRESS__)
#define FZ_RCU_NO_INLINE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || \
    __has_feature(undefined_behavior_sanitizer)
#define FZ_RCU_NO_INLINE 1
#endif
#endif
#ifndef FZ_RCU_NO_INLINE
#define _LGPL_SOURCE 1
#endif

#include <urcu-bp.h>

#endif
