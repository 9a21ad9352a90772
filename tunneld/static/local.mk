# SPDX-License-Identifier: ISC
# Static mode (wg-quick files): root-only namespace test.
TESTS += tests/netns/static_quick.sh
dist_noinst_SCRIPTS += tests/netns/static_quick.sh
