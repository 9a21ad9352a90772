# SPDX-License-Identifier: ISC
# controld/ice: the sans-I/O ICE agent (see controld/ice.h).
noinst_LIBRARIES += libfzice.a
libfzice_a_SOURCES = controld/ice.c controld/ice_check.c \
	controld/ice_cand.c controld/ice.h controld/ice_int.h
libfzice_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
ICE_LDADD = libfzice.a libfzcommon.a $(OPENSSL_LIBS)

check_PROGRAMS += tests/unit/check_ice
UNIT_TESTS += tests/unit/check_ice
TESTS += tests/unit/check_ice
tests_unit_check_ice_SOURCES = tests/unit/check_ice.c
tests_unit_check_ice_CFLAGS = $(CHECK_CFLAGS_ALL) -I$(top_srcdir)/controld
tests_unit_check_ice_LDADD = $(ICE_LDADD) $(CHECK_LIBS)

# libnice interop: our agent (controlling) against libnice (controlled)
# on loopback UDP.
check_PROGRAMS += tests/interop/ice_nice
TESTS += tests/interop/ice.sh
dist_noinst_SCRIPTS += tests/interop/ice.sh
tests_interop_ice_nice_SOURCES = tests/interop/ice_nice.c
tests_interop_ice_nice_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/controld \
	$(NICE_CFLAGS) $(LIBEVENT_CFLAGS)
tests_interop_ice_nice_LDADD = $(ICE_LDADD) $(NICE_LIBS) $(LIBEVENT_LIBS)

fuzz_targets += tests/fuzz/fuzz_ice
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_ice
endif
tests_fuzz_fuzz_ice_SOURCES = tests/fuzz/fuzz_ice.c
tests_fuzz_fuzz_ice_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/controld
tests_fuzz_fuzz_ice_LDADD = $(ICE_LDADD)
tests_fuzz_fuzz_ice_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
