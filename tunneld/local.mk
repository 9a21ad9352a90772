# SPDX-License-Identifier: ISC
sbin_PROGRAMS += fz-tunneld
fz_tunneld_SOURCES = \
	tunneld/tunneld.c tunneld/tunneld.h \
	tunneld/static_mode.c \
	tunneld/service.c
fz_tunneld_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(SODIUM_CFLAGS) \
	$(B2_CFLAGS) $(NL_CFLAGS) $(SYSTEMD_CFLAGS) $(MSGPACK_CFLAGS)
fz_tunneld_LDADD = libfzcommon.a $(LIBEVENT_LIBS) $(SODIUM_LIBS) \
	$(B2_LIBS) $(NL_LIBS) $(SYSTEMD_LIBS) $(MSGPACK_LIBS) -lpthread
