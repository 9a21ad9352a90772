#!/bin/sh
# SPDX-License-Identifier: ISC
# make check's form of tests/faults/run (root; namespaces): 4 MB transfers,
# the quick rows (docs/RELIABILITY.md); the table goes to the test's log.
# The long form is run by hand: tests/faults/run --long.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
[ "$(id -u)" = 0 ] || exit 77
exec bash "$top_srcdir/tests/faults/run"
