# SPDX-License-Identifier: ISC
# controld/dns: the DNS stub resolver core, sans I/O (dns_stub.h,
# dns_pattern.h).  Messages parsed and built by ldns.
noinst_LIBRARIES += libfzdns.a
libfzdns_a_SOURCES = controld/dns_pattern.c controld/dns_pattern.h \
	controld/dns_stub.c controld/dns_stub.h
libfzdns_a_CFLAGS = $(AM_CFLAGS) $(LDNS_CFLAGS)
DNS_LIBS = libfzdns.a libfzcommon.a $(LDNS_LIBS)

dns_unit_tests = tests/unit/check_dns_pattern tests/unit/check_dns_stub
check_PROGRAMS += $(dns_unit_tests)
UNIT_TESTS += $(dns_unit_tests)
TESTS += $(dns_unit_tests)
tests_unit_check_dns_pattern_SOURCES = tests/unit/check_dns_pattern.c
tests_unit_check_dns_pattern_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) \
	-I$(top_srcdir)/controld
tests_unit_check_dns_pattern_LDADD = $(DNS_LIBS) $(CHECK_LIBS)
tests_unit_check_dns_stub_SOURCES = tests/unit/check_dns_stub.c
tests_unit_check_dns_stub_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) \
	$(LDNS_CFLAGS) -I$(top_srcdir)/controld
tests_unit_check_dns_stub_LDADD = $(DNS_LIBS) $(CHECK_LIBS)

fuzz_targets += tests/fuzz/fuzz_dns_stub
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_dns_stub
endif
tests_fuzz_fuzz_dns_stub_SOURCES = tests/fuzz/fuzz_dns_stub.c
tests_fuzz_fuzz_dns_stub_CFLAGS = $(AM_CFLAGS) $(LDNS_CFLAGS) \
	-I$(top_srcdir)/controld
tests_fuzz_fuzz_dns_stub_LDADD = $(DNS_LIBS)
tests_fuzz_fuzz_dns_stub_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
