#!/bin/bash
# SPDX-License-Identifier: ISC
#
# The mechanical part of ../shared/STYLE.md, checked on every tracked source
# file: an SPDX line near the top, no trailing whitespace, no CR line ends.
# Layout (tabs, OpenBSD continuation indents, aligned declarations) is kept
# by review: clang-format cannot express it, so the tree carries no
# .clang-format that it would not match.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files '*.c' '*.h' '*.def' '*.sh' '*.mk' \
	    '*.am' '*.ac' | grep -v '^tests/fuzz/corpus/')
else
	# A dist tree has no git: check what it ships.
	# A tree without git (a tarball, a fresh root): the source folders
	# only, not the build trees and what configure generated.
	mapfile -t files < <(find common ipc tunneld controld relayd ctl tools \
	    bpf tests contrib -path tests/fuzz/corpus -prune -o -type f \
	    \( -name '*.[ch]' -o -name '*.def' -o -name '*.sh' \) -print \
	    2>/dev/null)
fi
bad=0
for f in "${files[@]}"; do
	[ -f "$f" ] || continue
	if ! head -n 5 "$f" | grep -q 'SPDX-License-Identifier'; then
		echo "style: $f: no SPDX line in its first 5 lines"; bad=1
	fi
	if grep -nE '[[:blank:]]+$' "$f" | head -n 3 | sed "s|^|style: $f:|" | grep .; then
		bad=1
	fi
	if grep -q $'\r' "$f"; then
		echo "style: $f: CR line ends"; bad=1
	fi
done
# Merge conflict markers, in code and in the docs that describe it.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t docs < <(git ls-files '*.md' '*.py' '*.[1-8]' '*.in')
	if grep -nE '^(<<<<<<< |>>>>>>> |=======$)' "${files[@]}" "${docs[@]}" |
	    head -n 5 | sed 's/^/style: conflict marker: /' | grep .; then
		bad=1
	fi
fi
[ $bad = 0 ] && echo "style: ${#files[@]} files checked"
exit $bad
