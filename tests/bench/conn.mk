# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am.

# Connection benchmarks (root; namespaces; not run by make check):
# tests/bench/connsetup (setup time, direct and relayed), tests/bench/e2e
# (client -> resource TCP: fz direct, relayed in XDP, wireguard-go) and
# their shared topology, tests/bench/conn_lib.sh.
dist_noinst_SCRIPTS += tests/bench/connsetup tests/bench/e2e
EXTRA_DIST += tests/bench/conn_lib.sh

# make bench-conn: both, as root, against this build (there is no general
# bench target: each benchmark is run by hand, see README.md).
.PHONY: bench-conn
bench-conn: all
	top_builddir=$(abs_top_builddir) $(srcdir)/tests/bench/connsetup
	top_builddir=$(abs_top_builddir) $(srcdir)/tests/bench/e2e
