# SPDX-License-Identifier: ISC
# tunneld/ (the WireGuard core: wg.h, allowedips.h), dp/ (data plane),
# net/ (TUN, netlink), static/ (wg-quick mode, UAPI); headers by bare name.
TUNNELD_INC = -I$(top_srcdir)/tunneld -I$(top_srcdir)/tunneld/dp \
	-I$(top_srcdir)/tunneld/net -I$(top_srcdir)/tunneld/static

# The data plane but dataplane.c (which its test and benchmark include):
# the send side, and the pure parts (offloads, receive classifier), linked
# by fz-tunneld, its tests, fuzz targets and benchmarks.
noinst_LIBRARIES += libfzdp.a
libfzdp_a_SOURCES = tunneld/dp/offload.c tunneld/dp/offload.h \
	tunneld/dp/rx.c tunneld/dp/rx.h tunneld/dp/tx.c tunneld/dp/dp_impl.h \
	tunneld/dp/hsq.c tunneld/dp/hsq.h
libfzdp_a_CFLAGS = $(AM_CFLAGS) $(TUNNELD_INC)
DP_LIBS = libfzdp.a

sbin_PROGRAMS += fz-tunneld
fz_tunneld_SOURCES = \
	tunneld/tunneld.c tunneld/tunneld.h tunneld/args.c \
	tunneld/static/static_mode.c \
	tunneld/svc/svc.h tunneld/svc/service.c tunneld/svc/frontend.c \
	tunneld/svc/supervise.c tunneld/svc/policy.c tunneld/svc/sandbox.c \
	tunneld/svc/peers.c \
	tunneld/svc/settings.c tunneld/svc/settings.h \
	tunneld/net/tun.c tunneld/net/tun.h \
	tunneld/net/netlink.c tunneld/net/netlink.h \
	tunneld/net/gwnat.c tunneld/net/gwnat.h \
	tunneld/static/wgconfig.c tunneld/static/wgconfig.h \
	tunneld/dp/dataplane.c tunneld/dp/dataplane.h \
	tunneld/static/uapi.c tunneld/static/uapi.h
fz_tunneld_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(SODIUM_CFLAGS) \
	$(B2_CFLAGS) $(NL_CFLAGS) $(SYSTEMD_CFLAGS) $(MSGPACK_CFLAGS) \
	-I$(top_srcdir)/ipc $(TUNNELD_INC) -I$(top_srcdir)/tunneld/svc
fz_tunneld_LDADD = libfzipc.a $(DP_LIBS) $(WG_LIBS) $(LIBEVENT_LIBS) $(NL_LIBS) \
	$(SYSTEMD_LIBS) $(MSGPACK_LIBS)

tests_unit_check_settings_SOURCES = tests/unit/check_settings.c \
	tunneld/svc/settings.c
tests_unit_check_settings_CFLAGS = $(CHECK_CFLAGS_ALL) -I$(top_srcdir)/tunneld \
	-I$(top_srcdir)/tunneld/svc $(SODIUM_CFLAGS)
tests_unit_check_settings_LDADD = libfzcommon.a $(SODIUM_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_settings
UNIT_TESTS += tests/unit/check_settings
TESTS += tests/unit/check_settings

tests_unit_check_svc_SOURCES = tests/unit/check_svc.c \
	tunneld/svc/policy.c tunneld/svc/peers.c tunneld/args.c \
	tunneld/net/gwnat.c
tests_unit_check_svc_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC) \
	-I$(top_srcdir)/tunneld/svc -I$(top_srcdir)/ipc $(SODIUM_CFLAGS)
tests_unit_check_svc_LDADD = libfzipc.a $(WG_LIBS) $(MSGPACK_LIBS) \
	$(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_svc
UNIT_TESTS += tests/unit/check_svc
TESTS += tests/unit/check_svc

tests_unit_check_wgconfig_SOURCES = tests/unit/check_wgconfig.c \
	tunneld/static/wgconfig.c
tests_unit_check_wgconfig_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC)
tests_unit_check_wgconfig_LDADD = $(WG_LIBS) $(CHECK_LIBS)
check_PROGRAMS += tests/unit/check_wgconfig
UNIT_TESTS += tests/unit/check_wgconfig
TESTS += tests/unit/check_wgconfig

fuzz_targets += tests/fuzz/fuzz_wgconfig
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_wgconfig
endif
tests_fuzz_fuzz_wgconfig_SOURCES = tests/fuzz/fuzz_wgconfig.c \
	tunneld/static/wgconfig.c
tests_fuzz_fuzz_wgconfig_CFLAGS = $(AM_CFLAGS) $(TUNNELD_INC)
tests_fuzz_fuzz_wgconfig_LDADD = $(WG_LIBS)
tests_fuzz_fuzz_wgconfig_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# The static mode's UAPI socket (uapi.c): requests and --show's replies
# parsed without the socket, on a data plane that is not started.
check_PROGRAMS += tests/unit/check_uapi
UNIT_TESTS += tests/unit/check_uapi
TESTS += tests/unit/check_uapi
tests_unit_check_uapi_SOURCES = tests/unit/check_uapi.c \
	tunneld/static/uapi.c tunneld/dp/dataplane.c
tests_unit_check_uapi_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC)
tests_unit_check_uapi_LDADD = $(DP_LIBS) $(WG_LIBS) $(CHECK_LIBS)

fuzz_targets += tests/fuzz/fuzz_uapi
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_uapi
endif
tests_fuzz_fuzz_uapi_SOURCES = tests/fuzz/fuzz_uapi.c \
	tunneld/static/uapi.c tunneld/dp/dataplane.c
tests_fuzz_fuzz_uapi_CFLAGS = $(AM_CFLAGS) $(TUNNELD_INC)
tests_fuzz_fuzz_uapi_LDADD = $(DP_LIBS) $(WG_LIBS)
tests_fuzz_fuzz_uapi_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# The data plane, compiled into its test: the send path on a worker over
# loopback without threads, and a whole dp_new'd data plane.
check_PROGRAMS += tests/unit/check_dataplane
UNIT_TESTS += tests/unit/check_dataplane
TESTS += tests/unit/check_dataplane
tests_unit_check_dataplane_SOURCES = tests/unit/check_dataplane.c
tests_unit_check_dataplane_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC)
tests_unit_check_dataplane_LDADD = $(DP_LIBS) $(WG_LIBS) $(CHECK_LIBS)

# The handshake queue (hsq.h): order, bounds, load signal, its consumer.
check_PROGRAMS += tests/unit/check_hsq
UNIT_TESTS += tests/unit/check_hsq
TESTS += tests/unit/check_hsq
tests_unit_check_hsq_SOURCES = tests/unit/check_hsq.c
tests_unit_check_hsq_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC)
tests_unit_check_hsq_LDADD = $(DP_LIBS) $(WG_LIBS) $(CHECK_LIBS)

# The offloads: segmentation, coalescing, checksums, virtio-net headers.
check_PROGRAMS += tests/unit/check_offload
UNIT_TESTS += tests/unit/check_offload
TESTS += tests/unit/check_offload
tests_unit_check_offload_SOURCES = tests/unit/check_offload.c
tests_unit_check_offload_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC)
tests_unit_check_offload_LDADD = $(DP_LIBS) libfzcommon.a $(CHECK_LIBS)

# The receive side's classifier, relay-channel table and STUN queue.
check_PROGRAMS += tests/unit/check_rx
UNIT_TESTS += tests/unit/check_rx
TESTS += tests/unit/check_rx
tests_unit_check_rx_SOURCES = tests/unit/check_rx.c
tests_unit_check_rx_CFLAGS = $(CHECK_CFLAGS_ALL) $(TUNNELD_INC)
tests_unit_check_rx_LDADD = $(DP_LIBS) libfzcommon.a $(CHECK_LIBS) -lpthread

# Packets from the TUN: virtio-net header, IP headers, segmentation.
fuzz_targets += tests/fuzz/fuzz_offload
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_offload
endif
tests_fuzz_fuzz_offload_SOURCES = tests/fuzz/fuzz_offload.c
tests_fuzz_fuzz_offload_CFLAGS = $(AM_CFLAGS) $(TUNNELD_INC)
tests_fuzz_fuzz_offload_LDADD = $(DP_LIBS)
tests_fuzz_fuzz_offload_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# Datagrams on the data plane's UDP port: the classifier, ChannelData.
fuzz_targets += tests/fuzz/fuzz_peer_set
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_peer_set
endif
tests_fuzz_fuzz_peer_set_SOURCES = tests/fuzz/fuzz_peer_set.c \
	tunneld/svc/peers.c
tests_fuzz_fuzz_peer_set_CFLAGS = $(AM_CFLAGS) $(TUNNELD_INC) \
	-I$(top_srcdir)/tunneld/svc -I$(top_srcdir)/ipc $(SODIUM_CFLAGS)
tests_fuzz_fuzz_peer_set_LDADD = libfzipc.a $(WG_LIBS) $(MSGPACK_LIBS)
tests_fuzz_fuzz_peer_set_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

fuzz_targets += tests/fuzz/fuzz_rx
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_rx
endif
tests_fuzz_fuzz_rx_SOURCES = tests/fuzz/fuzz_rx.c
tests_fuzz_fuzz_rx_CFLAGS = $(AM_CFLAGS) $(TUNNELD_INC)
tests_fuzz_fuzz_rx_LDADD = $(DP_LIBS) libfzcommon.a -lpthread
tests_fuzz_fuzz_rx_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# Interop with wireguard-go (root; network namespaces).
TESTS += tests/interop/wireguard.sh
dist_noinst_SCRIPTS += tests/interop/wireguard.sh tests/bench/throughput \
	contrib/demo/steps/10-wireguard.sh contrib/demo/steps/20-service.sh \
	contrib/demo/steps/30-relay.sh \
	contrib/demo/demo.sh

# Service mode and privilege separation (root; network namespaces).
TESTS += tests/netns/service.sh
dist_noinst_SCRIPTS += tests/netns/service.sh
# Peers and paths from a fake fz-controld: direct, relayed, CONN_WANTED.
TESTS += tests/netns/paths.sh
dist_noinst_SCRIPTS += tests/netns/paths.sh tests/netns/fake_controld.py

# Policy routing (§4.2) and DNS control (§6.3); not yet called by the service.
fz_tunneld_SOURCES += tunneld/net/routes.c tunneld/net/routes.h

check_PROGRAMS += tests/unit/check_routes
UNIT_TESTS += tests/unit/check_routes
TESTS += tests/unit/check_routes
tests_unit_check_routes_SOURCES = tests/unit/check_routes.c \
	tunneld/net/netlink.c tunneld/net/netlink.h \
	tunneld/net/routes.c tunneld/net/routes.h
tests_unit_check_routes_CFLAGS = $(CHECK_CFLAGS_ALL) $(NL_CFLAGS) $(TUNNELD_INC)
tests_unit_check_routes_LDADD = libfzcommon.a $(NL_LIBS) $(CHECK_LIBS)

# Root: tables, rules, routes and the fwmark bypass in a namespace.
check_PROGRAMS += tests/netns/routes_drv
tests_netns_routes_drv_SOURCES = tests/netns/routes_drv.c \
	tunneld/net/netlink.c tunneld/net/netlink.h \
	tunneld/net/routes.c tunneld/net/routes.h
tests_netns_routes_drv_CFLAGS = $(AM_CFLAGS) $(NL_CFLAGS) $(TUNNELD_INC)
tests_netns_routes_drv_LDADD = libfzcommon.a $(NL_LIBS)
TESTS += tests/netns/routes.sh
dist_noinst_SCRIPTS += tests/netns/routes.sh
fz_tunneld_SOURCES += tunneld/net/dnsctl.c tunneld/net/dnsctl.h \
	tunneld/net/dnsctl_impl.h tunneld/net/dnsctl_resolvconf.c \
	tunneld/net/dnsctl_resolved.c

# Needs dbus-daemon for the systemd-resolved cases (a fake resolve1).
check_PROGRAMS += tests/unit/check_dnsctl
UNIT_TESTS += tests/unit/check_dnsctl
TESTS += tests/unit/check_dnsctl
tests_unit_check_dnsctl_SOURCES = tests/unit/check_dnsctl.c \
	tunneld/net/dnsctl.c tunneld/net/dnsctl.h tunneld/net/dnsctl_impl.h \
	tunneld/net/dnsctl_resolvconf.c tunneld/net/dnsctl_resolved.c
tests_unit_check_dnsctl_CFLAGS = $(CHECK_CFLAGS_ALL) $(SYSTEMD_CFLAGS) \
	$(TUNNELD_INC)
tests_unit_check_dnsctl_LDADD = libfzcommon.a $(SYSTEMD_LIBS) $(CHECK_LIBS)

# resolv.conf bytes (a file others may write).
fuzz_targets += tests/fuzz/fuzz_resolvconf
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_resolvconf
endif
tests_fuzz_fuzz_resolvconf_SOURCES = tests/fuzz/fuzz_resolvconf.c \
	tunneld/net/dnsctl.c tunneld/net/dnsctl_resolvconf.c \
	tunneld/net/dnsctl_resolved.c
tests_fuzz_fuzz_resolvconf_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) \
	$(TUNNELD_INC)
tests_fuzz_fuzz_resolvconf_LDADD = libfzcommon.a $(SYSTEMD_LIBS)
tests_fuzz_fuzz_resolvconf_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# UDP coalescing on TUN writes (USO), fz <-> fz (root only).
TESTS += tests/netns/uso.sh
dist_noinst_SCRIPTS += tests/netns/uso.sh
