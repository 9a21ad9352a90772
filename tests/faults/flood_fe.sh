#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Front-end flood (issue 15, "Load and floods"; root, a network
# namespace): fz-tunneld --mode client (with the fake fz-controld of
# tests/netns/fake_controld.py) takes 1 000 raw front-end connections
# that close at random points of a request (tests/faults/flood_fe.py, up
# to 32 open at once) and, at the same time, 200 real fzctl invocations
# (status, some killed after 10 ms).  Expected: fz-tunneld keeps
# answering (`fzctl status` within 1 s, probed every 0.2 s) and has the
# same open fds before and after (ls /proc/PID/fd).  Prints one table row.
#
#   flood_fe.sh          short form (make check)
#   flood_fe.sh --long   10 000 raw connections, 2 000 fzctl
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
command -v python3 >/dev/null || ns_skip "python3 not installed"
TUNNELD="$top_builddir/fz-tunneld"
FZCTL="$top_builddir/fzctl"
NRAW=1000 NCTL=200
if [ "${1:-}" = --long ]; then NRAW=10000 NCTL=2000; fi
ns_tmpdir
T=$FZ_TMP
W=$(mktemp -d /tmp/fz-flood-fe.XXXXXX)	# the fake runs as nobody
chmod 0755 "$W"
ns_on_cleanup "rm -rf '$W'"
cp "$top_srcdir/tests/netns/fake_controld.py" "$W/"
mkdir -p -m 0777 "$W/c" "$W/c/cmd"
cat > "$W/controld" <<SH
#!/bin/sh
exec python3 "$W/fake_controld.py" "$W/c" 100.64.0.2 fd00:2021:1111::2
SH
chmod 0755 "$W/controld" "$W/fake_controld.py"
SOCK="$T/fe.sock"
ns_new fe
ns_bg "$NS" "$T/tunneld.log" env FIREZONE_TOKEN=x "$TUNNELD" --mode client \
	--socket "$SOCK" --state-dir "$T" --firezone-id flood-fe \
	--token-path "$T/none" --api-url "ws://127.0.0.1:9" --user nobody \
	--controld "$W/controld" --dns-control disabled --seccomp off \
	--log-format json --log-filter info
TPID=$BG_PID
fail() {
	tail -n 20 "$T/tunneld.log"
	echo "| front-end: connect-and-vanish clients | see above | $* | FAIL |"
	ns_fail "$*"
}
ns_wait_for sh -c "'$FZCTL' --socket '$SOCK' status | grep -q 'fz-controld:  pid'" ||
	fail "fz-tunneld not up"
ns_wait_for grep -q "^LOCAL_SOCKETS" "$W/c/events" || fail "no sign-in"
sleep 0.5
fds() { ls "/proc/$TPID/fd" | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$TPID/status"; }
FD0=$(fds); RSS0=$(rss)

: > "$T/probe"
(
	while [ ! -e "$T/stop" ]; do
		a=$(date +%s%N)
		if timeout 5 "$FZCTL" --socket "$SOCK" status >/dev/null 2>&1
		then echo "$((($(date +%s%N) - a) / 1000000))"
		else echo FAIL
		fi >> "$T/probe"
		sleep 0.2
	done
) &
PROBE=$!
ns_on_cleanup "touch '$T/stop'; kill $PROBE"

START=$SECONDS
python3 "$top_srcdir/tests/faults/flood_fe.py" "$SOCK" "$NRAW" 32 \
	> "$T/raw.out" 2>&1 &
RAW=$!
CTLOK=0
for i in $(seq 1 "$NCTL"); do
	if [ $((i % 4)) = 0 ]; then
		(timeout -s KILL 0.01 "$FZCTL" --socket "$SOCK" status ||
			true) >/dev/null 2>&1 &
	else
		"$FZCTL" --socket "$SOCK" status >/dev/null 2>&1 &&
			CTLOK=$((CTLOK + 1))
	fi
done
wait "$RAW" || { cat "$T/raw.out"; fail "the raw clients failed"; }
NDONE=$(tail -n 1 "$T/raw.out")
sleep 1
DUR=$((SECONDS - START))
touch "$T/stop"; wait "$PROBE" 2>/dev/null
kill -0 "$TPID" 2>/dev/null || fail "fz-tunneld died"
# Held connections are gone; the ones that never sent a request are
# dropped by tunneld after its 5 s hello timeout at worst.
ns_wait_for sh -c "[ \$(ls /proc/$TPID/fd | wc -l) -le $FD0 ]"
FD1=$(fds); RSS1=$(rss)
"$FZCTL" --socket "$SOCK" status >/dev/null || fail "no status at the end"
MAXMS=$(awk '$1 != "FAIL" && $1 > m {m = $1} END {print m + 0}' "$T/probe")
NPROBE=$(wc -l < "$T/probe")
PFAIL=$(grep -c FAIL "$T/probe")
NOK=$((NCTL - NCTL / 4))
MEAS="$NDONE raw + $NCTL fzctl ($CTLOK/$NOK unkilled answered) in ${DUR} s; status max ${MAXMS} ms over $NPROBE probes ($PFAIL failed); fds $FD0 -> $FD1, RSS $RSS0 -> $RSS1 KiB"
ok=pass
[ "$NDONE" = "$NRAW" ] || ok=FAIL
[ "$CTLOK" = "$NOK" ] || ok=FAIL
[ "$MAXMS" -lt 1000 ] && [ "$PFAIL" = 0 ] || ok=FAIL
[ "$FD1" -le "$FD0" ] || ok=FAIL
echo "| front-end: $NRAW connect-and-vanish clients + $NCTL fzctl | tunneld keeps answering (status < 1 s), no fd leak | $MEAS | $ok |"
[ "$ok" = pass ] || fail "$MEAS"
