# SPDX-License-Identifier: ISC
# The XDP TURN fast path: clang -target bpf, then a bpftool skeleton that
# fz-relayd and the tests include.
BPF_CFLAGS = -O2 -g -Wall -target bpf $(BPF_CPPFLAGS) -I$(top_srcdir)/bpf
bpf/turn_router.bpf.o: $(top_srcdir)/bpf/turn_router.bpf.c $(top_srcdir)/bpf/turn_shared.h
	$(AM_V_GEN)$(MKDIR_P) bpf && \
	$(CLANG) $(BPF_CFLAGS) -c $(top_srcdir)/bpf/turn_router.bpf.c -o $@
bpf/turn_router.skel.h: bpf/turn_router.bpf.o
	$(AM_V_GEN)$(BPFTOOL) gen skeleton bpf/turn_router.bpf.o name turn_router > $@.tmp && \
	mv $@.tmp $@
BUILT_SOURCES += bpf/turn_router.skel.h
CLEANFILES += bpf/turn_router.bpf.o bpf/turn_router.skel.h
EXTRA_DIST += bpf/turn_router.bpf.c bpf/turn_shared.h
