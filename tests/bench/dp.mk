# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am.

# Data-plane benchmarks (root; namespaces; not run by make check; issue
# 17): tests/bench/cpu_split (where fz-tunneld's CPU goes, perf
# cpu-clock), tests/bench/udp_rate (UDP loss-free rate), tests/bench/
# tcp_streams (iperf3 -P N, out-of-order counts), their shared setup
# pair_lib.sh, and udpblast (a sendmmsg/recvmmsg sender and counter).
dist_noinst_SCRIPTS += tests/bench/cpu_split tests/bench/udp_rate \
	tests/bench/tcp_streams
EXTRA_DIST += tests/bench/pair_lib.sh tests/bench/cpu_split.awk
noinst_PROGRAMS += tests/bench/udpblast
tests_bench_udpblast_SOURCES = tests/bench/udpblast.c
