# SPDX-License-Identifier: ISC
# Fragment included from Makefile.am.

# Faults during a transfer (issue 15; root; namespaces; docs/RELIABILITY.md):
# make check runs the short form; tests/faults/run --long is run by hand.
TESTS += tests/faults/short.sh
dist_noinst_SCRIPTS += tests/faults/short.sh tests/faults/run \
	tests/faults/xfer.py tests/faults/ctflush.py tests/faults/delay.py
