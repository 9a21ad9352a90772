# SPDX-License-Identifier: ISC
# fz-relayd: the STUN/TURN relay.
noinst_LIBRARIES += libfzrelay.a
libfzrelay_a_SOURCES = relayd/relay.c relayd/relay.h relayd/relay_token.c \
	relayd/relay_token.h
libfzrelay_a_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(OPENSSL_CFLAGS)
RELAY_LIBS = libfzrelay.a libfzcommon.a $(SODIUM_LIBS) $(OPENSSL_LIBS)

sbin_PROGRAMS += fz-relayd
fz_relayd_SOURCES = relayd/relayd.c relayd/metrics.c relayd/metrics.h \
	relayd/xdp.c relayd/xdp.h relayd/relay_portal.c relayd/relay_portal.h
nodist_fz_relayd_SOURCES = bpf/turn_router.skel.h
fz_relayd_CFLAGS = $(AM_CFLAGS) $(SODIUM_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(LIBBPF_CFLAGS) -I$(top_srcdir)/bpf $(PORTAL_CFLAGS) $(WS_CFLAGS_ALL)
fz_relayd_LDADD = libfzws.a $(PORTAL_LIBS) $(RELAY_LIBS) $(WS_LIBS_ALL) \
	$(LIBEVENT_LIBS) $(LIBBPF_LIBS) -lpthread

check_PROGRAMS += tests/unit/check_relay
UNIT_TESTS += tests/unit/check_relay
TESTS += tests/unit/check_relay
tests_unit_check_relay_SOURCES = tests/unit/check_relay.c
tests_unit_check_relay_CFLAGS = $(CHECK_CFLAGS_ALL) -I$(top_srcdir)/relayd \
	$(SODIUM_CFLAGS)
tests_unit_check_relay_LDADD = $(RELAY_LIBS) $(CHECK_LIBS)

# The token from a systemd credential file.
check_PROGRAMS += tests/unit/check_relay_token
UNIT_TESTS += tests/unit/check_relay_token
TESTS += tests/unit/check_relay_token
tests_unit_check_relay_token_SOURCES = tests/unit/check_relay_token.c
tests_unit_check_relay_token_CFLAGS = $(CHECK_CFLAGS_ALL) \
	-I$(top_srcdir)/relayd $(SODIUM_CFLAGS)
tests_unit_check_relay_token_LDADD = $(RELAY_LIBS) $(CHECK_LIBS)

# The HTTP endpoint (/readyz, /metrics) over loopback.
check_PROGRAMS += tests/unit/check_relay_metrics
UNIT_TESTS += tests/unit/check_relay_metrics
TESTS += tests/unit/check_relay_metrics
tests_unit_check_relay_metrics_SOURCES = tests/unit/check_relay_metrics.c \
	relayd/metrics.c relayd/metrics.h
tests_unit_check_relay_metrics_CFLAGS = $(CHECK_CFLAGS_ALL) \
	-I$(top_srcdir)/relayd -I$(top_srcdir)/bpf $(SODIUM_CFLAGS) \
	$(LIBEVENT_CFLAGS)
tests_unit_check_relay_metrics_LDADD = $(RELAY_LIBS) $(LIBEVENT_LIBS) \
	$(CHECK_LIBS) -lpthread

fuzz_targets += tests/fuzz/fuzz_relay
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_relay
endif
tests_fuzz_fuzz_relay_SOURCES = tests/fuzz/fuzz_relay.c
tests_fuzz_fuzz_relay_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/relayd
tests_fuzz_fuzz_relay_LDADD = $(RELAY_LIBS)
tests_fuzz_fuzz_relay_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# fz-turnbench: the load generator (works against any TURN server).
bin_PROGRAMS += fz-turnbench
fz_turnbench_SOURCES = tools/turnbench.c
fz_turnbench_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/relayd $(SODIUM_CFLAGS)
fz_turnbench_LDADD = $(RELAY_LIBS) -lpthread

# Interop with coturn's clients, aioice and tshark (root; a namespace).
TESTS += tests/interop/relay.sh
dist_noinst_SCRIPTS += tests/interop/relay.sh tests/interop/aioice_turn.py \
	tests/bench/relay

# Joining a portal: a scripted relay socket, then fz-portald with a client
# that reads the relay's credentials from init (root; a namespace).
TESTS += tests/interop/relay_portal.sh tests/interop/relay_portald.sh
dist_noinst_SCRIPTS += tests/interop/relay_portal.sh \
	tests/interop/fake_portal.py tests/interop/relay_portald.sh \
	tests/interop/portal_client.py

# The XDP program under BPF_PROG_TEST_RUN (root; exits 77 otherwise).
check_PROGRAMS += tests/unit/check_xdp
UNIT_TESTS += tests/unit/check_xdp
TESTS += tests/unit/check_xdp
tests_unit_check_xdp_SOURCES = tests/unit/check_xdp.c relayd/xdp.c
nodist_tests_unit_check_xdp_SOURCES = bpf/turn_router.skel.h
tests_unit_check_xdp_CFLAGS = $(CHECK_CFLAGS_ALL) -I$(top_srcdir)/relayd \
	-I$(top_srcdir)/bpf $(LIBBPF_CFLAGS)
tests_unit_check_xdp_LDADD = $(RELAY_LIBS) $(LIBBPF_LIBS) $(CHECK_LIBS)

# The XDP path in namespaces, driver and generic mode (root).
TESTS += tests/netns/xdp.sh
dist_noinst_SCRIPTS += tests/netns/xdp.sh
