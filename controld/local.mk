# SPDX-License-Identifier: ISC
sbin_PROGRAMS += fz-controld
fz_controld_SOURCES = controld/controld.c controld/portal.c controld/portal.h \
	controld/conn.c controld/conn.h
fz_controld_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/ipc $(LIBEVENT_CFLAGS) \
	$(SODIUM_CFLAGS) $(MSGPACK_CFLAGS) $(PORTAL_CFLAGS) $(WS_CFLAGS_ALL)
fz_controld_LDADD = libfzice.a libfzturn.a $(IPC_LIBS) libfzportal.a \
	libfzws.a $(PORTAL_LIBS) $(WS_LIBS_ALL) $(SODIUM_LIBS) $(OPENSSL_LIBS)

# The portal session against a fake portal on loopback (no root).
check_PROGRAMS += tests/unit/check_controld_portal
UNIT_TESTS += tests/unit/check_controld_portal
TESTS += tests/unit/check_controld_portal
tests_unit_check_controld_portal_SOURCES = \
	tests/unit/check_controld_portal.c controld/portal.c
tests_unit_check_controld_portal_CFLAGS = $(CHECK_CFLAGS_ALL) \
	-I$(top_srcdir)/ipc -I$(top_srcdir)/controld $(PORTAL_CFLAGS) \
	$(WS_CFLAGS_ALL) $(SODIUM_CFLAGS)
tests_unit_check_controld_portal_LDADD = $(IPC_LIBS) libfzportal.a \
	libfzws.a $(PORTAL_LIBS) $(WS_LIBS_ALL) $(SODIUM_LIBS) $(CHECK_LIBS)

# The connection manager (relays, ICE agents, paths) on a fake clock.
check_PROGRAMS += tests/unit/check_conn
UNIT_TESTS += tests/unit/check_conn
TESTS += tests/unit/check_conn
tests_unit_check_conn_SOURCES = tests/unit/check_conn.c controld/conn.c \
	controld/conn.h
tests_unit_check_conn_CFLAGS = $(CHECK_CFLAGS_ALL) -I$(top_srcdir)/controld \
	-I$(top_srcdir)/relayd $(PORTAL_CFLAGS) $(SODIUM_CFLAGS)
tests_unit_check_conn_LDADD = $(ICE_LDADD) $(TURN_CLIENT_LIBS) \
	$(RELAY_LIBS) $(CHECK_LIBS)

# Client -> CIDR resource through a gateway, direct and relayed (root).
TESTS += tests/netns/connect.sh
dist_noinst_SCRIPTS += tests/netns/connect.sh

# The demo step: a client reaches a resource through a gateway, both
# behind NATs: direct, relayed with direct UDP blocked, direct again (root).
dist_noinst_SCRIPTS += contrib/demo/steps/50-connect.sh
# The same as a test: in-session switches direct -> relayed -> direct.
TESTS += tests/netns/switch.sh
dist_noinst_SCRIPTS += tests/netns/switch.sh

# The manager's text inputs from fz-tunneld (PEER_STATS, PEERS_KEPT, LOCAL_SOCKETS).
fuzz_targets += tests/fuzz/fuzz_conn
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_conn
endif
tests_fuzz_fuzz_conn_SOURCES = tests/fuzz/fuzz_conn.c controld/conn.c
tests_fuzz_fuzz_conn_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/controld \
	$(PORTAL_CFLAGS) $(SODIUM_CFLAGS)
tests_fuzz_fuzz_conn_LDADD = $(ICE_LDADD) $(TURN_CLIENT_LIBS)
tests_fuzz_fuzz_conn_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# The gateway's A/AAAA resolution of a DNS resource's domain (issue 14;
# not wired yet: see gw_resolve.h).
check_PROGRAMS += tests/unit/check_gw_resolve
UNIT_TESTS += tests/unit/check_gw_resolve
TESTS += tests/unit/check_gw_resolve
tests_unit_check_gw_resolve_SOURCES = tests/unit/check_gw_resolve.c \
	controld/gw_resolve.c controld/gw_resolve.h
tests_unit_check_gw_resolve_CFLAGS = $(CHECK_CFLAGS_ALL) $(LIBEVENT_CFLAGS) \
	-I$(top_srcdir)/controld
tests_unit_check_gw_resolve_LDADD = $(LIBEVENT_LIBS) $(CHECK_LIBS)

# The gateway's DNS-resource authorizations for assigned_ips (issue 14;
# not wired yet: see gw_dnsres.h).
check_PROGRAMS += tests/unit/check_gw_dnsres
UNIT_TESTS += tests/unit/check_gw_dnsres
TESTS += tests/unit/check_gw_dnsres
tests_unit_check_gw_dnsres_SOURCES = tests/unit/check_gw_dnsres.c \
	controld/gw_dnsres.c controld/gw_dnsres.h
tests_unit_check_gw_dnsres_CFLAGS = $(CHECK_CFLAGS_ALL) $(LDNS_CFLAGS) \
	-I$(top_srcdir)/controld
tests_unit_check_gw_dnsres_LDADD = libfzdns.a $(LDNS_LIBS) $(CHECK_LIBS)
