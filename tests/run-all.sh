#!/bin/bash
# SPDX-License-Identifier: ISC
#
# The whole test suite, as the README's test command runs it:
#   1. the normal build's `make check` (unit tests, and the root-only
#      namespace and interop tests, which skip with 77 when not root);
#   2. an ASan+UBSan build of the unit tests (build-asan/);
#   3. every libFuzzer target, briefly, from its seed corpus (build-fuzz/);
#   4. the mechanical style rules (tests/style.sh) and mandoc -Tlint of
#      the man pages.
# Prints every Check summary line and a final "N passed, N failed" line.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build="$top/$build" ;; esac
jobs=$(nproc)
status=0
pass=0 fail=0 skip=0

say() { printf '\n==> %s\n' "$*"; }

# Adds up the results of one build's test logs.
tally() {
	local dir=$1 trs log res checks f e
	while IFS= read -r trs; do
		log=${trs%.trs}.log
		res=$(sed -n 's/^:test-result: //p' "$trs" | head -1)
		if line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" 2>/dev/null | tail -1); then
			printf '%-40s %s\n' "${log#"$dir"/}" "$line"
			checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
			f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
			e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
			pass=$((pass + checks - f - e))
			fail=$((fail + f + e))
			[ "$res" = PASS ] || [ "$f$e" != 00 ] || fail=$((fail + 1))
			continue
		fi
		printf '%-40s %s\n' "${log#"$dir"/}" "$res"
		case $res in
		PASS|XFAIL) pass=$((pass + 1)) ;;
		SKIP)
			# As root under CI nothing may skip (tests/netns/lib.sh
			# ns_skip already fails there; this catches the rest).
			if [ "$(id -u)" = 0 ] && [ -n "${CI:-}" ]; then
				fail=$((fail + 1)); status=1
			else
				skip=$((skip + 1))
			fi ;;
		*) fail=$((fail + 1)) ;;
		esac
	done < <(find "$dir" -name '*.trs' | sort)
}

say "normal build: make check"
rm -f "$(find "$build" -name '*.trs' 2>/dev/null)" 2>/dev/null
if ! make -C "$build" -j"$jobs" check >"$build/check.out" 2>&1; then
	status=1
	grep -E '^(FAIL|ERROR)' "$build/check.out"
	for l in $(grep -lE '^:test-result: (FAIL|ERROR)' $(find "$build" -name '*.trs')); do
		echo "--- ${l%.trs}.log"; tail -40 "${l%.trs}.log"
	done
fi
tally "$build"

say "ASan+UBSan build: unit tests"
asan="$top/build-asan"
mkdir -p "$asan"
if [ ! -f "$asan/config.status" ] || [ "$top/configure" -nt "$asan/config.status" ]; then
	(cd "$asan" && "$top/configure" --enable-werror --enable-sanitizers >configure.out 2>&1) ||
		{ tail -30 "$asan/config.log"; exit 1; }
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if ! make -C "$asan" -j"$jobs" check-unit >"$asan/check.out" 2>&1; then
	status=1
	grep -E '^(FAIL|ERROR)' "$asan/check.out" || tail -30 "$asan/check.out"
fi
tally "$asan"

say "libFuzzer targets"
if ! "$top/tests/run-fuzz.sh"; then
	status=1
	fail=$((fail + 1))
else
	pass=$((pass + 1))
fi

say "style"
if ! "$top/tests/style.sh"; then
	status=1
	fail=$((fail + 1))
else
	pass=$((pass + 1))
fi

say "man pages"
if ! make -C "$build" -s check-man; then
	status=1
	fail=$((fail + 1))
fi

echo
echo "fz: $pass passed, $fail failed, $skip skipped"
exit $status
