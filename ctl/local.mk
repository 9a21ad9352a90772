# SPDX-License-Identifier: ISC
# libfzctl.a: the front-end client fzctl and fz-gui share (fzclient.h).
noinst_LIBRARIES += libfzctl.a
libfzctl_a_SOURCES = ctl/fzclient.h ctl/fzclient.c
libfzctl_a_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/ipc $(SODIUM_CFLAGS)
FZCTL_LIBS = libfzctl.a $(IPC_LIBS)

bin_PROGRAMS += fzctl
fzctl_SOURCES = ctl/fzctl.c
fzctl_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/ipc $(LIBEVENT_CFLAGS) \
	$(JANSSON_CFLAGS) $(MSGPACK_CFLAGS)
fzctl_LDADD = $(FZCTL_LIBS) $(JANSSON_LIBS)
