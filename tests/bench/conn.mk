# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am.

# Connection benchmarks (root; namespaces; not run by make check):
# tests/bench/connsetup (setup time, direct and relayed), tests/bench/e2e
# (client -> resource TCP: fz direct, relayed in XDP, wireguard-go) and
# their shared topology, tests/bench/conn_lib.sh.
dist_noinst_SCRIPTS += tests/bench/connsetup tests/bench/e2e
EXTRA_DIST += tests/bench/conn_lib.sh
