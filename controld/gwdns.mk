# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am (after controld/dns.mk).
# The gateway's DNS server on <tunnel ip>:53535 (issue 14, §5.1): the core
# (gw_dnsfwd.h, sans I/O, in libfzdns.a) and its sockets (gw_dnssrv.h).
libfzdns_a_SOURCES += controld/gw_dnsfwd.c controld/gw_dnsfwd.h
fz_controld_SOURCES += controld/gw_dnssrv.c controld/gw_dnssrv.h \
	controld/dns_site.c controld/dns_site.h

check_PROGRAMS += tests/unit/check_gw_dnsfwd
UNIT_TESTS += tests/unit/check_gw_dnsfwd
TESTS += tests/unit/check_gw_dnsfwd
tests_unit_check_gw_dnsfwd_SOURCES = tests/unit/check_gw_dnsfwd.c
tests_unit_check_gw_dnsfwd_CFLAGS = $(CHECK_CFLAGS_ALL) $(LDNS_CFLAGS) \
	-I$(top_srcdir)/controld
tests_unit_check_gw_dnsfwd_LDADD = $(DNS_LIBS) $(CHECK_LIBS)

fuzz_targets += tests/fuzz/fuzz_gw_dnsfwd
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_gw_dnsfwd
endif
tests_fuzz_fuzz_gw_dnsfwd_SOURCES = tests/fuzz/fuzz_gw_dnsfwd.c
tests_fuzz_fuzz_gw_dnsfwd_CFLAGS = $(AM_CFLAGS) $(LDNS_CFLAGS) \
	-I$(top_srcdir)/controld
tests_fuzz_fuzz_gw_dnsfwd_LDADD = $(DNS_LIBS)
tests_fuzz_fuzz_gw_dnsfwd_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# SRV/TXT for DNS resources: the gateway's server, the client through the
# tunnel (root; network namespaces).
TESTS += tests/netns/dns_srv.sh
dist_noinst_SCRIPTS += tests/netns/dns_srv.sh tests/netns/dns_srvtxt.py
