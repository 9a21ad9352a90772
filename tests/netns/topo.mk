# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am.
dist_noinst_SCRIPTS += tests/netns/lib_topo.sh
TESTS += tests/netns/relay2relay.sh
dist_noinst_SCRIPTS += tests/netns/relay2relay.sh
TESTS += tests/netns/symnat.sh
dist_noinst_SCRIPTS += tests/netns/symnat.sh
