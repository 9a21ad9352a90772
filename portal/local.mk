# SPDX-License-Identifier: ISC
# libfzportal.a: the portal client (Phoenix channels, messages, credentials),
# sans I/O.  Users add -I$(top_srcdir)/portal and link $(PORTAL_LIBS).
noinst_LIBRARIES += libfzportal.a
libfzportal_a_SOURCES = \
	portal/phx.c portal/phx.h \
	portal/phx_client.h \
	portal/portal_msg.h \
	portal/creds.h
libfzportal_a_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(OPENSSL_CFLAGS) \
	$(SODIUM_CFLAGS)
PORTAL_LIBS = libfzportal.a $(JANSSON_LIBS) $(OPENSSL_LIBS) $(SODIUM_LIBS)
PORTAL_CFLAGS = -I$(top_srcdir)/portal $(JANSSON_CFLAGS)
