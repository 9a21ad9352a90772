#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Sets up a Debian 12 machine to build fz, builds it, and optionally runs
# the demo or the whole test suite:
#
#   contrib/bootstrap.sh          install packages, configure, build (./build)
#   contrib/bootstrap.sh demo     ... then run the end-to-end demo (root)
#   contrib/bootstrap.sh test     ... then run every test (root for netns tests)
#
# Idempotent: packages are installed only when missing (one apt-get update),
# autoreconf/configure only run when their inputs changed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${FZ_BUILD_DIR:-build}

say() { printf '==> %s\n' "$*"; }

install_packages() {
	local pkgs missing=()
	mapfile -t pkgs < <(grep -v -e '^#' -e '^[[:space:]]*$' contrib/packages.txt)
	# A name counts as present when a package of that name is installed
	# or an installed package provides it (NodeSource's nodejs provides
	# npm and conflicts with Debian's).
	local have
	have=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Provides}\n' 2>/dev/null |
	    awk '$1 == "ii" { for (i = 2; i <= NF; i++) { sub(/[(,].*/, "", $i); if ($i != "") print $i } }' |
	    sort -u)
	for p in "${pkgs[@]}"; do
		if ! grep -qxF "$p" <<<"$have"; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "all ${#pkgs[@]} Debian packages present"
		return
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "missing packages: ${missing[*]}" >&2
		echo "run as root (or: sudo apt-get install ${missing[*]})" >&2
		exit 1
	fi
	say "installing ${#missing[@]} packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
}

configure_tree() {
	if [ ! -x configure ] || [ configure.ac -nt configure ] ||
	    [ Makefile.am -nt Makefile.in ] ||
	    [ -n "$(find . -name local.mk -newer Makefile.in 2>/dev/null | head -1)" ]; then
		say "autoreconf"
		autoreconf -fi >/dev/null
	fi
	mkdir -p "$build"
	if [ ! -f "$build/config.status" ] || [ configure -nt "$build/config.status" ]; then
		say "configure ($build)"
		(cd "$build" && ../configure --enable-werror ${FZ_CONFIGURE_FLAGS:-} >configure.out) ||
			{ cat "$build/configure.out" "$build/config.log" | tail -40; exit 1; }
	fi
	say "make"
	make -C "$build" -j"$(nproc)" >/dev/null
}

install_packages
configure_tree

case "${1:-}" in
"")	say "built in $build/" ;;
demo)	exec make -C "$build" -s demo ;;
test)	exec "$top/tests/run-all.sh" "$build" ;;
*)	echo "usage: $0 [demo|test]" >&2; exit 2 ;;
esac
