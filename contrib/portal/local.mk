# SPDX-License-Identifier: ISC
# fz-portald: a self-hosted portal speaking Firezone's protocol.
noinst_LIBRARIES += libfzportald.a
libfzportald_a_SOURCES = contrib/portal/config.c contrib/portal/config.h \
	contrib/portal/store.c contrib/portal/store.h \
	contrib/portal/portal.c contrib/portal/portal.h \
	contrib/portal/portal_int.h contrib/portal/views.c contrib/portal/authz.c \
	contrib/portal/sandbox.c contrib/portal/sandbox.h
libfzportald_a_CFLAGS = $(AM_CFLAGS) $(PORTAL_CFLAGS) $(OPENSSL_CFLAGS) \
	$(SQLITE_CFLAGS)
PORTALD_LIBS = libfzportald.a $(PORTAL_LIBS) libfzcommon.a $(SQLITE_LIBS)

sbin_PROGRAMS += fz-portald
fz_portald_SOURCES = contrib/portal/portald.c
fz_portald_CFLAGS = $(AM_CFLAGS) $(PORTAL_CFLAGS) $(WS_CFLAGS_ALL)
fz_portald_LDADD = $(PORTALD_LIBS) libfzws.a $(WS_LIBS_ALL)

portald_unit_tests = tests/unit/check_portald_config \
	tests/unit/check_portald_store tests/unit/check_portald_portal \
	tests/unit/check_portald_sandbox
check_PROGRAMS += $(portald_unit_tests)
UNIT_TESTS += $(portald_unit_tests)
TESTS += $(portald_unit_tests)
tests_unit_check_portald_config_SOURCES = tests/unit/check_portald_config.c
tests_unit_check_portald_config_CFLAGS = $(CHECK_CFLAGS_ALL) \
	-I$(top_srcdir)/contrib/portal $(JANSSON_CFLAGS)
tests_unit_check_portald_config_LDADD = $(PORTALD_LIBS) $(CHECK_LIBS)
tests_unit_check_portald_store_SOURCES = tests/unit/check_portald_store.c
tests_unit_check_portald_store_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_portald_store_LDADD = $(PORTALD_LIBS) $(CHECK_LIBS)
tests_unit_check_portald_portal_SOURCES = tests/unit/check_portald_portal.c
tests_unit_check_portald_portal_CFLAGS = $(CHECK_CFLAGS_ALL) $(PORTAL_CFLAGS)
tests_unit_check_portald_portal_LDADD = $(PORTALD_LIBS) $(CHECK_LIBS)
tests_unit_check_portald_sandbox_SOURCES = tests/unit/check_portald_sandbox.c
tests_unit_check_portald_sandbox_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_portald_sandbox_LDADD = $(PORTALD_LIBS) $(CHECK_LIBS)

fuzz_targets += tests/fuzz/fuzz_portald_config
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_portald_config
endif
tests_fuzz_fuzz_portald_config_SOURCES = tests/fuzz/fuzz_portald_config.c
tests_fuzz_fuzz_portald_config_CFLAGS = $(AM_CFLAGS)
tests_fuzz_fuzz_portald_config_LDADD = $(PORTALD_LIBS)
tests_fuzz_fuzz_portald_config_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
fuzz_targets += tests/fuzz/fuzz_portald_portal
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_portald_portal
endif
tests_fuzz_fuzz_portald_portal_SOURCES = tests/fuzz/fuzz_portald_portal.c
tests_fuzz_fuzz_portald_portal_CFLAGS = $(AM_CFLAGS) $(PORTAL_CFLAGS)
tests_fuzz_fuzz_portald_portal_LDADD = $(PORTALD_LIBS)
tests_fuzz_fuzz_portald_portal_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# The official Phoenix JavaScript client against fz-portald (node + npm).
TESTS += tests/interop/phoenix_js.sh
dist_noinst_SCRIPTS += tests/interop/phoenix_js.sh
EXTRA_DIST += tests/interop/phoenix_js/package.json \
	tests/interop/phoenix_js/interop.js \
	tests/interop/phoenix_js/npm/phoenix-1.8.16.tgz \
	tests/interop/phoenix_js/npm/ws-8.23.0.tgz

# The demo step: fz-portald with a relay, a gateway and a client (root).
dist_noinst_SCRIPTS += contrib/demo/steps/40-portal.sh
