#!/bin/sh
# SPDX-License-Identifier: ISC
# fz's ICE agent against libnice on loopback, in both roles (libnice
# controlling with regular and with aggressive nomination)
# (tests/interop/ice_nice.c).  No root needed.
set -e
bin=${top_builddir:-.}/tests/interop/ice_nice
[ -x "$bin" ] || bin=$(dirname "$0")/ice_nice
for role in controlling controlled controlled-aggressive; do
	timeout 30 "$bin" "$role"
done
