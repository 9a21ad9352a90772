# SPDX-License-Identifier: ISC
sbin_PROGRAMS += fz-controld
fz_controld_SOURCES = controld/controld.c
fz_controld_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/ipc $(LIBEVENT_CFLAGS) \
	$(SODIUM_CFLAGS) $(MSGPACK_CFLAGS)
fz_controld_LDADD = $(IPC_LIBS) $(SODIUM_LIBS)
