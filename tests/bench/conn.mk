# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am.

# Connection benchmarks (root; namespaces; not run by make check):
# tests/bench/connsetup (setup time, direct and relayed) and their shared
# topology, tests/bench/conn_lib.sh.
dist_noinst_SCRIPTS += tests/bench/connsetup
EXTRA_DIST += tests/bench/conn_lib.sh
