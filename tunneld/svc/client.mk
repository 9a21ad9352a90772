# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am.
# The client's wiring (issue 14): routes, DNS control, the DNS datagram
# path (tunneld/svc/client_net.h), the sentinel packets (dnspkt.h).
libfzdp_a_SOURCES += tunneld/dp/dnspkt.c tunneld/dp/dnspkt.h \
	tunneld/dp/dnstcp.c tunneld/dp/dnstcp.h
fz_tunneld_SOURCES += tunneld/svc/client_net.c tunneld/svc/client_net.h \
	tunneld/svc/client_dns.c tunneld/svc/client_pure.c
fz_controld_SOURCES += controld/dns_glue.c controld/dns_glue.h
fz_controld_CFLAGS += $(LDNS_CFLAGS)
fz_controld_LDADD += libfzdns.a libfzcommon.a $(LDNS_LIBS)

check_PROGRAMS += tests/unit/check_client_net
UNIT_TESTS += tests/unit/check_client_net
TESTS += tests/unit/check_client_net
tests_unit_check_client_net_SOURCES = tests/unit/check_client_net.c \
	tunneld/svc/client_pure.c
tests_unit_check_client_net_CFLAGS = $(CHECK_CFLAGS_ALL) \
	-I$(top_srcdir)/ipc $(TUNNELD_INC) -I$(top_srcdir)/tunneld/svc
tests_unit_check_client_net_LDADD = $(DP_LIBS) $(IPC_LIBS) $(CHECK_LIBS)

TESTS += tests/netns/dns.sh
dist_noinst_SCRIPTS += tests/netns/dns.sh tests/netns/dns_upstream.py \
	tests/netns/dns_load.py

# Packets the TUN sends to a sentinel.
fuzz_targets += tests/fuzz/fuzz_dnspkt
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_dnspkt
endif
tests_fuzz_fuzz_dnspkt_SOURCES = tests/fuzz/fuzz_dnspkt.c
tests_fuzz_fuzz_dnspkt_CFLAGS = $(AM_CFLAGS) $(TUNNELD_INC)
tests_fuzz_fuzz_dnspkt_LDADD = $(DP_LIBS) libfzcommon.a
tests_fuzz_fuzz_dnspkt_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# DNS control under fz-tunneld's seccomp allow-list (check_dnsctl).
tests_unit_check_dnsctl_SOURCES += tunneld/svc/sandbox.c

# fz-controld's DNS glue on recording ops.
check_PROGRAMS += tests/unit/check_dns_glue
UNIT_TESTS += tests/unit/check_dns_glue
TESTS += tests/unit/check_dns_glue
tests_unit_check_dns_glue_SOURCES = tests/unit/check_dns_glue.c \
	controld/dns_glue.c controld/dns_glue.h
tests_unit_check_dns_glue_CFLAGS = $(CHECK_CFLAGS_ALL) $(LDNS_CFLAGS) \
	$(LIBEVENT_CFLAGS) -I$(top_srcdir)/ipc -I$(top_srcdir)/controld
tests_unit_check_dns_glue_LDADD = libfzdns.a $(IPC_LIBS) $(LDNS_LIBS) \
	$(CHECK_LIBS)
