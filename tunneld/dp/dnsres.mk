# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am: the client's DNS resources in the
# data plane (issue 14): the proxy IP map (proxymap.c, pure) and its
# wiring to the DNS-NAT states (dp_dnsres.c); DNS_PROXY in fz-tunneld.
libfzdp_a_SOURCES += tunneld/dp/proxymap.c tunneld/dp/proxymap.h \
	tunneld/dp/dp_dnsres.c tunneld/dp/dp_dnsres.h
DP_LIBS += libfzcommon.a
fz_tunneld_SOURCES += tunneld/svc/svc_dnsres.c tunneld/svc/svc_dnsres.h

check_PROGRAMS += tests/unit/check_proxymap
UNIT_TESTS += tests/unit/check_proxymap
TESTS += tests/unit/check_proxymap
tests_unit_check_proxymap_SOURCES = tests/unit/check_proxymap.c \
	tunneld/dp/proxymap.c
tests_unit_check_proxymap_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC)
tests_unit_check_proxymap_LDADD = libfzcommon.a $(CHECK_LIBS)

fuzz_targets += tests/fuzz/fuzz_proxymap
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_proxymap
endif
tests_fuzz_fuzz_proxymap_SOURCES = tests/fuzz/fuzz_proxymap.c \
	tunneld/dp/proxymap.c
tests_fuzz_fuzz_proxymap_CFLAGS = $(AM_CFLAGS) $(TUNNELD_INC)
tests_fuzz_fuzz_proxymap_LDADD = libfzcommon.a
tests_fuzz_fuzz_proxymap_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# End to end with fz-portald (root; needs the gateway side of §5.3).
TESTS += tests/netns/dnsres.sh
dist_noinst_SCRIPTS += tests/netns/dnsres.sh

# The client's DNS-NAT wiring on a whole data plane (dataplane.c in).
check_PROGRAMS += tests/unit/check_dp_dnsres
UNIT_TESTS += tests/unit/check_dp_dnsres
TESTS += tests/unit/check_dp_dnsres
tests_unit_check_dp_dnsres_SOURCES = tests/unit/check_dp_dnsres.c
tests_unit_check_dp_dnsres_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC)
tests_unit_check_dp_dnsres_LDADD = $(DP_LIBS) $(WG_LIBS) $(CHECK_LIBS)
