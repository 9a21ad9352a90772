# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am: the DNS-resource path's pure cores,
# the in-tunnel p2p control protocol with the client's DNS-NAT states
# (p2p.c) and the gateway's NAT table (dnsnat.c), as a library the data
# plane will link once wired (see the header comments).
noinst_LIBRARIES += libfzdnsnat.a
libfzdnsnat_a_SOURCES = tunneld/dp/p2p.c tunneld/dp/p2p.h \
	tunneld/dp/dnsnat.c tunneld/dp/dnsnat.h
libfzdnsnat_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
DNSNAT_LIBS = libfzdnsnat.a $(JANSSON_LIBS)

check_PROGRAMS += tests/unit/check_p2p tests/unit/check_dnsnat
UNIT_TESTS += tests/unit/check_p2p tests/unit/check_dnsnat
TESTS += tests/unit/check_p2p tests/unit/check_dnsnat
tests_unit_check_p2p_SOURCES = tests/unit/check_p2p.c
tests_unit_check_p2p_CFLAGS = $(CHECK_CFLAGS_ALL) -I$(top_srcdir)/tunneld/dp \
	$(JANSSON_CFLAGS)
tests_unit_check_p2p_LDADD = $(DNSNAT_LIBS) $(CHECK_LIBS)
tests_unit_check_dnsnat_SOURCES = tests/unit/check_dnsnat.c
tests_unit_check_dnsnat_CFLAGS = $(CHECK_CFLAGS_ALL) \
	-I$(top_srcdir)/tunneld/dp
tests_unit_check_dnsnat_LDADD = $(DNSNAT_LIBS) $(CHECK_LIBS)

fuzz_targets += tests/fuzz/fuzz_p2p tests/fuzz/fuzz_dnsnat
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_p2p tests/fuzz/fuzz_dnsnat
endif
tests_fuzz_fuzz_p2p_SOURCES = tests/fuzz/fuzz_p2p.c
tests_fuzz_fuzz_p2p_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/tunneld/dp
tests_fuzz_fuzz_p2p_LDADD = $(DNSNAT_LIBS)
tests_fuzz_fuzz_p2p_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_dnsnat_SOURCES = tests/fuzz/fuzz_dnsnat.c
tests_fuzz_fuzz_dnsnat_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/tunneld/dp
tests_fuzz_fuzz_dnsnat_LDADD = $(DNSNAT_LIBS)
tests_fuzz_fuzz_dnsnat_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# Wired (issue 14): the data plane's p2p hooks (dp_p2p.c) link the cores.
libfzdp_a_SOURCES += tunneld/dp/dp_p2p.c tunneld/dp/dp_p2p.h
DP_LIBS += $(DNSNAT_LIBS)
fz_tunneld_SOURCES += tunneld/svc/p2p_svc.c tunneld/svc/p2p_svc.h

# The p2p control path on a whole data plane (dataplane.c compiled in).
check_PROGRAMS += tests/unit/check_dp_p2p
UNIT_TESTS += tests/unit/check_dp_p2p
TESTS += tests/unit/check_dp_p2p
tests_unit_check_dp_p2p_SOURCES = tests/unit/check_dp_p2p.c
tests_unit_check_dp_p2p_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC)
tests_unit_check_dp_p2p_LDADD = $(DP_LIBS) $(WG_LIBS) $(CHECK_LIBS)

# fz-controld's gateway side (gw_p2p.c): assigned_ips, access lifetimes.
fz_controld_SOURCES += controld/gw_p2p.c controld/gw_p2p.h \
	controld/gw_dnsres.c controld/gw_dnsres.h \
	controld/gw_resolve.c controld/gw_resolve.h
fz_controld_CFLAGS += -I$(top_srcdir)/tunneld/dp
fz_controld_LDADD += $(DNSNAT_LIBS)

check_PROGRAMS += tests/unit/check_gw_p2p
UNIT_TESTS += tests/unit/check_gw_p2p
TESTS += tests/unit/check_gw_p2p
tests_unit_check_gw_p2p_SOURCES = tests/unit/check_gw_p2p.c \
	controld/gw_p2p.c controld/gw_dnsres.c
tests_unit_check_gw_p2p_CFLAGS = $(CHECK_CFLAGS_ALL) $(LDNS_CFLAGS) \
	$(PORTAL_CFLAGS) -I$(top_srcdir)/controld -I$(top_srcdir)/tunneld/dp
tests_unit_check_gw_p2p_LDADD = $(DNSNAT_LIBS) libfzdns.a libfzcommon.a \
	$(LDNS_LIBS) $(CHECK_LIBS)

# The gateway's DNS-resource NAT in the data plane (dp_dnsnat.c).
libfzdp_a_SOURCES += tunneld/dp/dp_dnsnat.c tunneld/dp/dp_dnsnat.h

# A client's control packets into a gateway's fz-controld (gw_p2p_up).
fuzz_targets += tests/fuzz/fuzz_gw_p2p
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_gw_p2p
endif
tests_fuzz_fuzz_gw_p2p_SOURCES = tests/fuzz/fuzz_gw_p2p.c \
	controld/gw_p2p.c controld/gw_dnsres.c
tests_fuzz_fuzz_gw_p2p_CFLAGS = $(AM_CFLAGS) $(LDNS_CFLAGS) $(PORTAL_CFLAGS) \
	-I$(top_srcdir)/controld -I$(top_srcdir)/tunneld/dp
tests_fuzz_fuzz_gw_p2p_LDADD = $(DNSNAT_LIBS) libfzdns.a libfzcommon.a \
	$(LDNS_LIBS)
tests_fuzz_fuzz_gw_p2p_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# The gateway side with real data planes and fake fz-controlds (root).
TESTS += tests/netns/dnsgw.sh
dist_noinst_SCRIPTS += tests/netns/dnsgw.sh
