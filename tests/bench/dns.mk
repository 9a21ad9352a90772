# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am.

# The DNS benchmark (root; namespaces; not run by make check): answers per
# second through fz's stub resolver beside the same queries straight to the
# upstream (dnsperf), with a fast upstream of ours, tests/bench/dnsresp.
dist_noinst_SCRIPTS += tests/bench/dns
noinst_PROGRAMS += tests/bench/dnsresp
tests_bench_dnsresp_SOURCES = tests/bench/dnsresp.c

# make bench-dns: as root, against this build.
.PHONY: bench-dns
bench-dns: all
	top_builddir=$(abs_top_builddir) $(srcdir)/tests/bench/dns
