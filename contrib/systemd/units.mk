# SPDX-License-Identifier: ISC
# The systemd units pass `systemd-analyze verify` and stay at or below their
# recorded `systemd-analyze security` exposure (docs/HARDENING.md).
TESTS += tests/systemd/units.sh
dist_noinst_SCRIPTS += tests/systemd/units.sh
# Secrets never reach a log, a child's environment or a core dump (root).
TESTS += tests/netns/secrets.sh
dist_noinst_SCRIPTS += tests/netns/secrets.sh
