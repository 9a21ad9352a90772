# SPDX-License-Identifier: ISC
noinst_LIBRARIES += libfzcommon.a
libfzcommon_a_SOURCES = \
	common/addr.c common/addr.h \
	common/buf.c common/buf.h \
	common/fztime.c common/fztime.h \
	common/log.c common/log.h \
	common/privsep.c common/privsep.h \
	common/stun.c common/stun.h
libfzcommon_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
