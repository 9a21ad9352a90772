# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am.
dist_noinst_SCRIPTS += tests/netns/lib_topo.sh
TESTS += tests/netns/relay2relay.sh
dist_noinst_SCRIPTS += tests/netns/relay2relay.sh
TESTS += tests/netns/symnat.sh
dist_noinst_SCRIPTS += tests/netns/symnat.sh
TESTS += tests/netns/ipv6.sh
dist_noinst_SCRIPTS += tests/netns/ipv6.sh
TESTS += tests/netns/integrity.sh
dist_noinst_SCRIPTS += tests/netns/integrity.sh tests/netns/seqstream.py
