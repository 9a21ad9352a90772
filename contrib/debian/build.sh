#!/bin/sh
# SPDX-License-Identifier: ISC
# Build fz's Debian packages (dpkg-buildpackage) from this tree.
# Usage: contrib/debian/build.sh [OUTDIR] [dpkg-buildpackage options...]
# The tree (git's tracked and untracked, not ignored, files; or the whole
# directory outside git, without build directories) is copied to
# OUTDIR/fz-VERSION with contrib/debian as debian/, so the source tree stays
# clean; the .deb files land in OUTDIR (default: ./debian-packages).
# The nogui build profile (no fz-client-gui) is chosen when gui/ does not
# build fz-gui yet, or when DEB_BUILD_PROFILES already names it.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-debian-packages}
[ $# -gt 0 ] && shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(sed -n '1s/^fz (\([^)]*\)).*/\1/p' "$src/contrib/debian/changelog")
tree=$out/fz-$version

rm -rf "$tree"
mkdir -p "$tree"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 -r sh -c 'for f; do case $f in debian-packages/*) continue ;; esac
			[ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf -) | tar -xf - -C "$tree"
else
	(cd "$src" && tar --exclude=./.git --exclude='./build*' \
		--exclude=./debian-packages -cf - .) | tar -xf - -C "$tree"
fi
rm -rf "$tree/debian"
cp -a "$src/contrib/debian" "$tree/debian"
rm -f "$tree/debian/local.mk" "$tree/debian/build.sh"

profiles=${DEB_BUILD_PROFILES:-}
if ! grep -q 'fz-gui' "$src/gui/local.mk" 2>/dev/null; then
	case " $profiles " in
	*" nogui "*) ;;
	*) profiles="${profiles:+$profiles }nogui" ;;
	esac
fi
export DEB_BUILD_PROFILES="$profiles"
echo "build.sh: building in $tree${profiles:+ (profiles: $profiles)}"
cd "$tree"
dpkg-buildpackage -b -us -uc "$@"
ls "$out"/*.deb
