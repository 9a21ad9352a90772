# SPDX-License-Identifier: ISC
# The systemd units pass `systemd-analyze verify` and stay at or below their
# recorded `systemd-analyze security` exposure (docs/HARDENING.md).
TESTS += tests/systemd/units.sh
dist_noinst_SCRIPTS += tests/systemd/units.sh
