# SPDX-License-Identifier: ISC
# libfzportal.a: the portal client (Phoenix channels, messages, credentials),
# sans I/O.  Users add -I$(top_srcdir)/portal and link $(PORTAL_LIBS).
noinst_LIBRARIES += libfzportal.a
libfzportal_a_SOURCES = \
	portal/phx.c portal/phx.h \
	portal/phx_client.c portal/phx_client.h portal/portal_url.c \
	portal/portal_msg.c portal/portal_msg.h \
	portal/portal_view.c portal/portal_json.c portal/portal_json.h \
	portal/creds.c portal/creds.h
libfzportal_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS) \
	$(SODIUM_CFLAGS)
PORTAL_LIBS = libfzportal.a $(JANSSON_LIBS) $(OPENSSL_LIBS) $(SODIUM_LIBS)
PORTAL_CFLAGS = -I$(top_srcdir)/portal $(JANSSON_CFLAGS)

# Unit tests.
portal_unit_tests = tests/unit/check_phx tests/unit/check_phx_client \
	tests/unit/check_portal_msg tests/unit/check_creds
check_PROGRAMS += $(portal_unit_tests)
UNIT_TESTS += $(portal_unit_tests)
TESTS += $(portal_unit_tests)
tests_unit_check_creds_SOURCES = tests/unit/check_creds.c
tests_unit_check_creds_CFLAGS = $(CHECK_CFLAGS_ALL) $(PORTAL_CFLAGS)
tests_unit_check_creds_LDADD = $(PORTAL_LIBS) $(CHECK_LIBS)
tests_unit_check_phx_client_SOURCES = tests/unit/check_phx_client.c
tests_unit_check_phx_client_CFLAGS = $(CHECK_CFLAGS_ALL) $(PORTAL_CFLAGS)
tests_unit_check_phx_client_LDADD = $(PORTAL_LIBS) $(CHECK_LIBS)
tests_unit_check_phx_SOURCES = tests/unit/check_phx.c
tests_unit_check_phx_CFLAGS = $(CHECK_CFLAGS_ALL) $(PORTAL_CFLAGS)
tests_unit_check_phx_LDADD = $(PORTAL_LIBS) $(CHECK_LIBS)
tests_unit_check_portal_msg_SOURCES = tests/unit/check_portal_msg.c
tests_unit_check_portal_msg_CFLAGS = $(CHECK_CFLAGS_ALL) $(PORTAL_CFLAGS) \
	-DPORTAL_FIXTURES='"$(abs_top_srcdir)/tests/fixtures/portal"'
tests_unit_check_portal_msg_LDADD = $(PORTAL_LIBS) $(CHECK_LIBS)
EXTRA_DIST += tests/fixtures/portal

# libFuzzer target: frames and message decoders (tests/run-fuzz.sh).
fuzz_targets += tests/fuzz/fuzz_phx
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_phx
endif
tests_fuzz_fuzz_phx_SOURCES = tests/fuzz/fuzz_phx.c
tests_fuzz_fuzz_phx_CFLAGS = $(AM_CFLAGS) $(PORTAL_CFLAGS)
tests_fuzz_fuzz_phx_LDADD = $(PORTAL_LIBS)
tests_fuzz_fuzz_phx_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
