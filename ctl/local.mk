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

check_PROGRAMS += tests/unit/check_fzclient
UNIT_TESTS += tests/unit/check_fzclient
TESTS += tests/unit/check_fzclient
tests_unit_check_fzclient_SOURCES = tests/unit/check_fzclient.c
tests_unit_check_fzclient_CFLAGS = $(CHECK_CFLAGS_ALL) -I$(top_srcdir)/ipc \
	-I$(top_srcdir)/ctl
tests_unit_check_fzclient_LDADD = $(FZCTL_LIBS) $(CHECK_LIBS)
