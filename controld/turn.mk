# SPDX-License-Identifier: ISC
# controld/turn: the sans-I/O TURN client (see controld/turn_client.h).
noinst_LIBRARIES += libfzturn.a
libfzturn_a_SOURCES = controld/turn_client.c controld/turn_client.h \
	controld/turn_peers.c controld/turn_int.h
libfzturn_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
TURN_CLIENT_LIBS = libfzturn.a libfzcommon.a $(OPENSSL_LIBS)

check_PROGRAMS += tests/unit/check_turn_client
UNIT_TESTS += tests/unit/check_turn_client
TESTS += tests/unit/check_turn_client
tests_unit_check_turn_client_SOURCES = tests/unit/check_turn_client.c
tests_unit_check_turn_client_CFLAGS = $(CHECK_CFLAGS_ALL) \
	-I$(top_srcdir)/controld
tests_unit_check_turn_client_LDADD = $(TURN_CLIENT_LIBS) $(CHECK_LIBS)

fuzz_targets += tests/fuzz/fuzz_turn_client
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_turn_client
endif
tests_fuzz_fuzz_turn_client_SOURCES = tests/fuzz/fuzz_turn_client.c
tests_fuzz_fuzz_turn_client_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/controld
tests_fuzz_fuzz_turn_client_LDADD = $(TURN_CLIENT_LIBS)
tests_fuzz_fuzz_turn_client_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# fz-turnclient: drives the state machine over real UDP sockets (tests).
noinst_PROGRAMS += tools/fz-turnclient
tools_fz_turnclient_SOURCES = tools/fz-turnclient.c
tools_fz_turnclient_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/controld \
	$(LIBEVENT_CFLAGS) $(SODIUM_CFLAGS) $(OPENSSL_CFLAGS)
tools_fz_turnclient_LDADD = $(TURN_CLIENT_LIBS) $(LIBEVENT_LIBS) \
	$(SODIUM_LIBS)

# Against fz-relayd and coturn, on loopback in a namespace (root).
TESTS += tests/interop/turn_client.sh
dist_noinst_SCRIPTS += tests/interop/turn_client.sh
