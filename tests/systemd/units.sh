#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Every systemd unit fz installs (contrib/systemd, generated from .in at
# build time): `systemd-analyze verify` prints nothing, and
# `systemd-analyze security --offline=yes` scores each service at or below
# the ceiling recorded here and in docs/HARDENING.md (the score only goes
# down: lower a ceiling when a unit gets stricter).  Works on the files, so
# it needs no systemd as PID 1 and no root; without systemd-analyze it
# skips, except as root under CI, where it fails (tests/netns/lib.sh).
set -u
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/netns/lib.sh"

# unit  ceiling (exposure, 0-10)
CEILINGS="
fz-portald.service 1.5
fz-relayd.service 2.0
fz-tunneld.service 3.0
fz-gateway.service 3.1
"
SOCKETS="fz-tunneld.socket"

command -v systemd-analyze >/dev/null 2>&1 || ns_skip "systemd-analyze missing"
U="$top_builddir/contrib/systemd"
for u in $(printf '%s\n' "$CEILINGS" | awk 'NF { print $1 }'); do
	[ -f "$U/$u" ] || ns_fail "$U/$u not built (make)"
done

# verify resolves ExecStart: point the built units at the built programs.
ns_tmpdir
sbindir=$(sed -n 's|^ExecStart=\(/[^ ]*\)/fz-relayd .*|\1|p' "$U/fz-relayd.service")
[ -n "$sbindir" ] || ns_fail "no ExecStart in $U/fz-relayd.service"
for u in $(printf '%s\n' "$CEILINGS" | awk 'NF { print $1 }'); do
	sed -e "s|$sbindir/|$top_builddir/|g" "$U/$u" > "$FZ_TMP/$u"
done
for s in $SOCKETS; do
	cp "$top_srcdir/contrib/systemd/$s" "$FZ_TMP/$s"
done

out=$(cd "$FZ_TMP" && systemd-analyze verify --man=no ./*.service ./*.socket 2>&1)
[ -z "$out" ] || ns_fail "systemd-analyze verify: $out"
ns_log "ok: systemd-analyze verify clean ($(cd "$FZ_TMP" && echo *.service *.socket))"

rc=0
while read -r u ceiling; do
	[ -n "$u" ] || continue
	line=$(cd "$FZ_TMP" && systemd-analyze security --offline=yes "./$u" 2>&1 |
	    grep 'Overall exposure level')
	score=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')
	[ -n "$score" ] || ns_fail "$u: no score from systemd-analyze security: $line"
	if awk -v s="$score" -v c="$ceiling" 'BEGIN { exit !(s > c) }'; then
		ns_log "FAIL: $u: exposure $score above its ceiling $ceiling"
		rc=1
	else
		ns_log "ok: $u: exposure $score (ceiling $ceiling)"
	fi
done <<< "$CEILINGS"
exit $rc
