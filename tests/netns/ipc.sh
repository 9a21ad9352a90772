#!/bin/bash
# SPDX-License-Identifier: ISC
#
# IPC phases and secrets with the real processes (root; in a network
# namespace): sign-out / sign-in cycles, sequential and two at once, move
# the CONTROL channel SIGNED_IN -> CONFIGURED -> SIGNED_IN without
# fz-controld ever being taken for a violator (SIGN_OUT is acknowledged
# by SIGNED_OUT), and no token reaches a log line even at ipc=trace.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
ns_tmpdir
T=$FZ_TMP
TUNNELD="$top_builddir/fz-tunneld"
FZCTL="$top_builddir/fzctl"
ns_new a; A=$NS
W=$(mktemp -d /tmp/fz-ipc-w.XXXXXX)
chmod 0755 "$W"
ns_on_cleanup "rm -rf '$W'"
SOCK="$W/tunneld.sock"

printf 'tok-start-%s\n' "$RANDOM" > "$T/token"
chmod 0600 "$T/token"
ns_bg "$A" "$T/tunneld.log" "$TUNNELD" --socket "$SOCK" \
	--token-path "$T/token" --user nobody --state-dir "$T" \
	--firezone-id ipc-test --log-format json --log-filter "debug,ipc=trace"
TPID=$BG_PID
ns_wait_for sh -c "'$FZCTL' --socket '$SOCK' status | grep -q 'fz-controld:  pid'" ||
	{ cat "$T/tunneld.log"; ns_fail "fz-tunneld not up"; }
ns_wait_for grep -q "CONTROL channel: phase SIGNED_IN" "$T/tunneld.log" ||
	ns_fail "the headless token did not reach SIGNED_IN"

cycle() {	# $1: a tag for the tokens
	local i
	for i in $(seq 1 15); do
		"$FZCTL" --socket "$SOCK" sign-out >/dev/null || return 1
		echo "tok-cycle-$1-$i" | "$FZCTL" --socket "$SOCK" sign-in \
			>/dev/null || return 1
	done
}
cycle a || ns_fail "sign-out/sign-in cycle failed"
cycle b & p1=$!
cycle c & p2=$!
wait $p1 || ns_fail "concurrent cycle b failed"
wait $p2 || ns_fail "concurrent cycle c failed"
ns_wait_for grep -q "recv SIGNED_OUT from fz-controld" "$T/tunneld.log" ||
	ns_fail "no SIGNED_OUT acknowledgement"
sleep 0.5
kill -0 "$TPID" || ns_fail "fz-tunneld died"
grep -q "violated the IPC protocol" "$T/tunneld.log" &&
	{ grep -i "violat\|phase" "$T/tunneld.log" | tail; ns_fail "fz-controld taken for a violator"; }
"$FZCTL" --socket "$SOCK" status > "$T/status"
grep -q "restarted 0 time" "$T/status" || { cat "$T/status"; ns_fail "fz-controld restarted"; }
grep -q "signed in:    yes" "$T/status" || ns_fail "not signed in at the end"
ns_log "ok: 45 sign-out/sign-in cycles, 30 of them concurrent: no violation, no restart"

# IPC_SECRET: no token in any log line, even with ipc=trace.
grep -q "tok-" "$T/tunneld.log" && { grep "tok-" "$T/tunneld.log" | head -3; ns_fail "a token in the log"; }
grep -q "send SIGN_IN to fz-controld" "$T/tunneld.log" ||
	ns_fail "no SIGN_IN traced (is ipc=trace on?)"
ns_log "ok: SIGN_IN traced by name only, no token in the log"
kill -TERM "$TPID"; wait "$TPID" || true
