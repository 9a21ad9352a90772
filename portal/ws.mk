# SPDX-License-Identifier: ISC
# libfzws.a: WebSocket client and server over libevent (+ OpenSSL), with wslay.
# Users link libfzws.a $(WS_LIBS_ALL) and compile with $(WS_CFLAGS_ALL).
WS_CFLAGS_ALL = $(LIBEVENT_CFLAGS) $(LIBEVENT_OPENSSL_CFLAGS) \
	$(OPENSSL_CFLAGS) $(WSLAY_CFLAGS) -I$(top_srcdir)/portal
WS_LIBS_ALL = $(LIBEVENT_OPENSSL_LIBS) $(LIBEVENT_LIBS) $(OPENSSL_LIBS) \
	$(WSLAY_LIBS)

noinst_LIBRARIES += libfzws.a
libfzws_a_SOURCES = portal/ws.h portal/ws_http.c
libfzws_a_CFLAGS = $(AM_CFLAGS) $(WS_CFLAGS_ALL)
