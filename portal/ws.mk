# SPDX-License-Identifier: ISC
# libfzws.a: WebSocket client and server over libevent (+ OpenSSL), with wslay.
# Users link libfzws.a $(WS_LIBS_ALL) and compile with $(WS_CFLAGS_ALL).
WS_CFLAGS_ALL = $(LIBEVENT_CFLAGS) $(LIBEVENT_OPENSSL_CFLAGS) \
	$(OPENSSL_CFLAGS) $(WSLAY_CFLAGS) -I$(top_srcdir)/portal
WS_LIBS_ALL = $(LIBEVENT_OPENSSL_LIBS) $(LIBEVENT_LIBS) $(OPENSSL_LIBS) \
	$(WSLAY_LIBS)

noinst_LIBRARIES += libfzws.a
libfzws_a_SOURCES = portal/ws.h portal/ws.c portal/ws_http.c
libfzws_a_CFLAGS = $(AM_CFLAGS) $(WS_CFLAGS_ALL)

check_PROGRAMS += tests/unit/check_ws
UNIT_TESTS += tests/unit/check_ws
TESTS += tests/unit/check_ws
tests_unit_check_ws_SOURCES = tests/unit/check_ws.c
tests_unit_check_ws_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(WS_CFLAGS_ALL)
tests_unit_check_ws_LDADD = libfzws.a $(WS_LIBS_ALL) $(CHECK_LIBS)

# libFuzzer: the HTTP head parsers, URL and query decoding.
fuzz_targets += tests/fuzz/fuzz_ws_http
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_ws_http
endif
tests_fuzz_fuzz_ws_http_SOURCES = tests/fuzz/fuzz_ws_http.c
tests_fuzz_fuzz_ws_http_CFLAGS = $(AM_CFLAGS) $(WS_CFLAGS_ALL)
tests_fuzz_fuzz_ws_http_LDADD = libfzws.a $(OPENSSL_LIBS)
tests_fuzz_fuzz_ws_http_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
