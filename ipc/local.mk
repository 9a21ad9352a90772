# SPDX-License-Identifier: ISC
# The IPC library shared by fz-tunneld, fz-controld and fzctl.
noinst_LIBRARIES += libfzipc.a
libfzipc_a_SOURCES = ipc/ipc.h ipc/ipc_msg.def ipc/ipc_msg.c ipc/ipc_arena.c ipc/mp.c \
	ipc/ipc_conn.c
libfzipc_a_CFLAGS = $(AM_CFLAGS) $(MSGPACK_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(SODIUM_CFLAGS)
IPC_LIBS = libfzipc.a libfzcommon.a $(MSGPACK_LIBS) $(LIBEVENT_LIBS) \
	$(SODIUM_LIBS)

check_PROGRAMS += tests/unit/check_ipc
UNIT_TESTS += tests/unit/check_ipc
TESTS += tests/unit/check_ipc
tests_unit_check_ipc_SOURCES = tests/unit/check_ipc.c
tests_unit_check_ipc_CFLAGS = $(CHECK_CFLAGS_ALL) -I$(top_srcdir)/ipc \
	$(MSGPACK_CFLAGS) $(LIBEVENT_CFLAGS)
tests_unit_check_ipc_LDADD = $(IPC_LIBS) $(CHECK_LIBS)

fuzz_targets += tests/fuzz/fuzz_ipc
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_ipc
endif
tests_fuzz_fuzz_ipc_SOURCES = tests/fuzz/fuzz_ipc.c
tests_fuzz_fuzz_ipc_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/ipc
tests_fuzz_fuzz_ipc_LDADD = $(IPC_LIBS)
tests_fuzz_fuzz_ipc_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

TESTS += tests/netns/ipc.sh
dist_noinst_SCRIPTS += tests/netns/ipc.sh
