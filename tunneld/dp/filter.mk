# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am.

# Resource enforcement (issue 14): the pure filter module, in the data
# plane's library; its unit test and fuzz target.
libfzdp_a_SOURCES += tunneld/dp/filter.c tunneld/dp/filter_pkt.c \
	tunneld/dp/filter.h

check_PROGRAMS += tests/unit/check_filter
UNIT_TESTS += tests/unit/check_filter
TESTS += tests/unit/check_filter
tests_unit_check_filter_SOURCES = tests/unit/check_filter.c
tests_unit_check_filter_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC)
tests_unit_check_filter_LDADD = $(DP_LIBS) libfzcommon.a $(CHECK_LIBS) \
	-lpthread

fuzz_targets += tests/fuzz/fuzz_filter
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_filter
endif
tests_fuzz_fuzz_filter_SOURCES = tests/fuzz/fuzz_filter.c
tests_fuzz_fuzz_filter_CFLAGS = $(AM_CFLAGS) $(TUNNELD_INC)
tests_fuzz_fuzz_filter_LDADD = $(DP_LIBS) libfzcommon.a -lpthread
tests_fuzz_fuzz_filter_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# The data plane's hooks and fz-tunneld's / fz-controld's ACCESS_* ends.
libfzdp_a_SOURCES += tunneld/dp/dp_filter.c tunneld/dp/dp_filter.h \
	tunneld/dp/flowlog.c tunneld/dp/flowlog.h
libfzdp_a_CFLAGS += $(URCU_CFLAGS)
fz_tunneld_SOURCES += tunneld/svc/access.c tunneld/svc/access.h
fz_controld_SOURCES += controld/access.c controld/access.h

# End to end with fz-portald: a port outside the filter refused at once by
# the client and by the gateway, nothing refused on the gateway's TUN (root).
TESTS += tests/netns/filter.sh
dist_noinst_SCRIPTS += tests/netns/filter.sh

# fz-controld's side: portal messages into ACCESS_*, read back by filter.c.
check_PROGRAMS += tests/unit/check_access
UNIT_TESTS += tests/unit/check_access
TESTS += tests/unit/check_access
tests_unit_check_access_SOURCES = tests/unit/check_access.c controld/access.c
tests_unit_check_access_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC) \
	-I$(top_srcdir)/ipc -I$(top_srcdir)/controld $(PORTAL_CFLAGS)
tests_unit_check_access_LDADD = $(DP_LIBS) $(IPC_LIBS) libfzportal.a \
	libfzcommon.a $(CHECK_LIBS) -lpthread
