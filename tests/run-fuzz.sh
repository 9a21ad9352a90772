#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and runs
# each for FZ_FUZZ_SECONDS (default 10) from its seed corpus in
# tests/fuzz/corpus/<target>/ (copied, so the tree is not modified).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir="$top/build-fuzz"
secs=${FZ_FUZZ_SECONDS:-10}

mkdir -p "$dir"
if [ ! -f "$dir/config.status" ] || [ "$top/configure" -nt "$dir/config.status" ]; then
	(cd "$dir" && CC=clang "$top/configure" --enable-fuzzing >configure.out 2>&1) ||
		{ tail -30 "$dir/config.log"; exit 1; }
fi
make -C "$dir" -j"$(nproc)" fuzz-targets >"$dir/make.out" 2>&1 ||
	{ tail -40 "$dir/make.out"; exit 1; }

targets=$(make -C "$dir" -s print-fuzz-targets)
work=$(mktemp -d /tmp/fz-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
rc=0
for t in $targets; do
	name=$(basename "$t")
	mkdir -p "$work/$name"
	if [ -d "$top/tests/fuzz/corpus/$name" ]; then
		cp -r "$top/tests/fuzz/corpus/$name/." "$work/$name/"
	fi
	if "$dir/$t" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
	    -print_final_stats=1 "$work/$name" >"$work/$name.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log")
		printf '%-28s ok (%s runs in %ss)\n' "$name" "${runs:-?}" "$secs"
	else
		printf '%-28s FAILED\n' "$name"
		tail -40 "$work/$name.log"
		rc=1
	fi
done
exit $rc
