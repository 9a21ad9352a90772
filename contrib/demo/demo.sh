#!/bin/bash
# SPDX-License-Identifier: ISC
# The end-to-end demo: runs every demo step under contrib/demo/steps/ in
# order (each is self-contained, cleans up after itself, and needs root).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
export top_builddir=${top_builddir:-$(pwd)}
[ "$(id -u)" = 0 ] || { echo "the demo needs root (network namespaces)" >&2; exit 1; }
n=0
for step in "$here"/steps/*.sh; do
	[ -e "$step" ] || continue
	n=$((n + 1))
	printf '\n=== demo %d: %s\n' "$n" "$(sed -n 's/^# demo: //p' "$step")"
	bash "$step"
done
printf '\n=== demo finished: %d steps passed\n' "$n"
