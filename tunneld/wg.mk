# SPDX-License-Identifier: ISC
# The WireGuard protocol core (tunneld/wg/), as a library the data plane and
# tests link.  Its public headers (wg.h, allowedips.h, ratelimiter.h) are
# included by bare name everywhere, so the folder joins every target's
# include path.
WG_CPPFLAGS = -I$(top_srcdir)/tunneld/wg
AM_CPPFLAGS += $(WG_CPPFLAGS)
noinst_LIBRARIES += libfzwg.a
libfzwg_a_SOURCES = \
	tunneld/wg/wg.h tunneld/wg/messages.h tunneld/wg/wg_int.h \
	tunneld/wg/wg_rcu.h \
	tunneld/wg/device.c tunneld/wg/noise.c tunneld/wg/cookie.c \
	tunneld/wg/keypair.c tunneld/wg/timers.c tunneld/wg/peerlookup.c \
	tunneld/wg/allowedips.h tunneld/wg/allowedips.c \
	tunneld/wg/ratelimiter.h tunneld/wg/ratelimiter.c \
	tunneld/wg/aead.h tunneld/wg/aead.c
libfzwg_a_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(B2_CFLAGS) $(URCU_CFLAGS) \
	$(OPENSSL_CFLAGS)
WG_LIBS = libfzwg.a libfzcommon.a $(SODIUM_LIBS) $(B2_LIBS) $(URCU_LIBS) \
	$(OPENSSL_LIBS) -lpthread

wg_unit_tests = tests/unit/check_wg_noise tests/unit/check_allowedips \
	tests/unit/check_ratelimiter tests/unit/check_wg_replay \
	tests/unit/check_wg_timers tests/unit/check_wg_cookie \
	tests/unit/check_wg_index
check_PROGRAMS += $(wg_unit_tests)
UNIT_TESTS += $(wg_unit_tests)
TESTS += $(wg_unit_tests)
tests_unit_check_wg_noise_SOURCES = tests/unit/check_wg_noise.c
tests_unit_check_wg_noise_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_wg_noise_LDADD = $(WG_LIBS) $(CHECK_LIBS)
tests_unit_check_allowedips_SOURCES = tests/unit/check_allowedips.c
tests_unit_check_allowedips_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_allowedips_LDADD = $(WG_LIBS) $(CHECK_LIBS)
tests_unit_check_ratelimiter_SOURCES = tests/unit/check_ratelimiter.c
tests_unit_check_ratelimiter_CFLAGS = $(CHECK_CFLAGS_ALL)
tests_unit_check_ratelimiter_LDADD = $(WG_LIBS) $(CHECK_LIBS)
# Tests of single parts (replay window, timer rules, cookies): they see
# the core's internals (wg_int.h).
WG_INT_CFLAGS = $(SODIUM_CFLAGS) $(URCU_CFLAGS)
tests_unit_check_wg_replay_SOURCES = tests/unit/check_wg_replay.c
tests_unit_check_wg_replay_CFLAGS = $(CHECK_CFLAGS_ALL) $(WG_INT_CFLAGS)
tests_unit_check_wg_replay_LDADD = $(WG_LIBS) $(CHECK_LIBS)
tests_unit_check_wg_timers_SOURCES = tests/unit/check_wg_timers.c
tests_unit_check_wg_timers_CFLAGS = $(CHECK_CFLAGS_ALL) $(WG_INT_CFLAGS)
tests_unit_check_wg_timers_LDADD = $(WG_LIBS) $(CHECK_LIBS)
tests_unit_check_wg_cookie_SOURCES = tests/unit/check_wg_cookie.c
tests_unit_check_wg_cookie_CFLAGS = $(CHECK_CFLAGS_ALL) $(WG_INT_CFLAGS)
tests_unit_check_wg_cookie_LDADD = $(WG_LIBS) $(CHECK_LIBS)
tests_unit_check_wg_index_SOURCES = tests/unit/check_wg_index.c
tests_unit_check_wg_index_CFLAGS = $(CHECK_CFLAGS_ALL) $(WG_INT_CFLAGS)
tests_unit_check_wg_index_LDADD = $(WG_LIBS) $(CHECK_LIBS)

fuzz_targets += tests/fuzz/fuzz_wg_msg tests/fuzz/fuzz_wg_allowedips
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_wg_msg tests/fuzz/fuzz_wg_allowedips
endif
tests_fuzz_fuzz_wg_allowedips_SOURCES = tests/fuzz/fuzz_wg_allowedips.c
tests_fuzz_fuzz_wg_allowedips_CFLAGS = $(AM_CFLAGS)
tests_fuzz_fuzz_wg_allowedips_LDADD = $(WG_LIBS)
tests_fuzz_fuzz_wg_allowedips_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_wg_msg_SOURCES = tests/fuzz/fuzz_wg_msg.c
tests_fuzz_fuzz_wg_msg_CFLAGS = $(AM_CFLAGS) $(WG_INT_CFLAGS) $(B2_CFLAGS)
tests_fuzz_fuzz_wg_msg_LDADD = $(WG_LIBS)
tests_fuzz_fuzz_wg_msg_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# Handshake consumption rate (a benchmark; not run by make check).
noinst_PROGRAMS += tests/bench/handshakes
tests_bench_handshakes_SOURCES = tests/bench/handshakes.c
tests_bench_handshakes_CFLAGS = $(AM_CFLAGS)
tests_bench_handshakes_LDADD = $(WG_LIBS)

# A static-mode gateway with 10 000 peers against wireguard-go (root only).
TESTS += tests/interop/wg_many_peers.sh
dist_noinst_SCRIPTS += tests/interop/wg_many_peers.sh

# 10 vs 10 000 peers: handshakes/s, lookup cost per packet, RSS per idle
# peer (a benchmark; not run by make check).
noinst_PROGRAMS += tests/bench/peers
tests_bench_peers_SOURCES = tests/bench/peers.c
tests_bench_peers_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(TUNNELD_INC)
tests_bench_peers_LDADD = $(DP_LIBS) $(WG_LIBS)

# Transport-data AEAD: OpenSSL EVP against libsodium (tests/unit/check_aead),
# and both backends' speed per core (a benchmark; not run by make check).
check_PROGRAMS += tests/unit/check_aead
UNIT_TESTS += tests/unit/check_aead
TESTS += tests/unit/check_aead
tests_unit_check_aead_SOURCES = tests/unit/check_aead.c
tests_unit_check_aead_CFLAGS = $(CHECK_CFLAGS_ALL) $(WG_INT_CFLAGS)
tests_unit_check_aead_LDADD = $(WG_LIBS) $(CHECK_LIBS)
noinst_PROGRAMS += tests/bench/aead
tests_bench_aead_SOURCES = tests/bench/aead.c
tests_bench_aead_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS)
tests_bench_aead_LDADD = $(WG_LIBS)
