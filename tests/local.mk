# SPDX-License-Identifier: ISC
CHECK_LDADD = libfzcommon.a $(CHECK_LIBS)
CHECK_CFLAGS_ALL = $(AM_CFLAGS) $(CHECK_CFLAGS)

common_unit_tests = \
	tests/unit/check_buf \
	tests/unit/check_addr \
	tests/unit/check_time \
	tests/unit/check_log \
	tests/unit/check_privsep
check_PROGRAMS += $(common_unit_tests)
UNIT_TESTS += $(common_unit_tests)
TESTS += $(common_unit_tests)

tests_unit_check_buf_SOURCES = tests/unit/check_buf.c
tests_unit_check_buf_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_buf_LDADD = $(CHECK_LDADD)
tests_unit_check_addr_SOURCES = tests/unit/check_addr.c
tests_unit_check_addr_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_addr_LDADD = $(CHECK_LDADD)
tests_unit_check_time_SOURCES = tests/unit/check_time.c
tests_unit_check_time_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_time_LDADD = $(CHECK_LDADD)
tests_unit_check_log_SOURCES = tests/unit/check_log.c
tests_unit_check_log_CFLAGS = $(CHECK_CFLAGS_ALL) $(JANSSON_CFLAGS)
tests_unit_check_log_LDADD = $(CHECK_LDADD) $(JANSSON_LIBS)
tests_unit_check_privsep_SOURCES = tests/unit/check_privsep.c \
	tunneld/svc/sandbox.c
tests_unit_check_privsep_CFLAGS = $(CHECK_CFLAGS_ALL) -I$(top_srcdir)/tunneld
tests_unit_check_privsep_LDADD = $(CHECK_LDADD)

# Integration tests (root; network namespaces).
dist_noinst_SCRIPTS += tests/netns/lib.sh
TESTS += tests/netns/selftest.sh
dist_noinst_SCRIPTS += tests/netns/selftest.sh
TESTS += tests/netns/portal.sh
dist_noinst_SCRIPTS += tests/netns/portal.sh

# Fuzz targets: built with --enable-fuzzing (CC=clang), run by tests/run-fuzz.sh.
fuzz_targets += tests/fuzz/fuzz_rbuf tests/fuzz/fuzz_addr \
	tests/fuzz/fuzz_child_line
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_rbuf tests/fuzz/fuzz_addr \
	tests/fuzz/fuzz_child_line
endif
tests_fuzz_fuzz_child_line_SOURCES = tests/fuzz/fuzz_child_line.c
tests_fuzz_fuzz_child_line_LDADD = libfzcommon.a
tests_fuzz_fuzz_child_line_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_rbuf_SOURCES = tests/fuzz/fuzz_rbuf.c
tests_fuzz_fuzz_rbuf_LDADD = libfzcommon.a
tests_fuzz_fuzz_rbuf_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_addr_SOURCES = tests/fuzz/fuzz_addr.c
tests_fuzz_fuzz_addr_LDADD = libfzcommon.a
tests_fuzz_fuzz_addr_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
dist_noinst_SCRIPTS += tests/run-all.sh tests/run-fuzz.sh tests/style.sh
EXTRA_DIST += tests/fuzz/corpus tests/unit/check_util.h tests/unit/wg_pair.h \
	tests/unit/dp_fixture.h

# STUN/TURN codec
check_PROGRAMS += tests/unit/check_stun
UNIT_TESTS += tests/unit/check_stun
TESTS += tests/unit/check_stun
tests_unit_check_stun_SOURCES = tests/unit/check_stun.c
tests_unit_check_stun_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_stun_LDADD = $(CHECK_LDADD) $(OPENSSL_LIBS)
fuzz_targets += tests/fuzz/fuzz_stun
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_stun
endif
tests_fuzz_fuzz_stun_SOURCES = tests/fuzz/fuzz_stun.c
tests_fuzz_fuzz_stun_LDADD = libfzcommon.a $(OPENSSL_LIBS)
tests_fuzz_fuzz_stun_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
