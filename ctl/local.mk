# SPDX-License-Identifier: ISC
bin_PROGRAMS += fzctl
fzctl_SOURCES = ctl/fzctl.c
fzctl_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/ipc $(LIBEVENT_CFLAGS) \
	$(JANSSON_CFLAGS) $(MSGPACK_CFLAGS)
fzctl_LDADD = $(IPC_LIBS) $(JANSSON_LIBS)
