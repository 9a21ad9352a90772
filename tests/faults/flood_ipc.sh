#!/bin/bash
# SPDX-License-Identifier: ISC
#
# IPC flood (issue 15, "Load and floods"; root, network namespaces):
# fz-tunneld --mode client with a HOSTILE fz-controld
# (tests/faults/flood_controld.py) that replays every message of the IPC
# fuzz corpus (tests/fuzz/corpus/fuzz_ipc) as a frame on its CONTROL
# channel, then floods valid STATUS/RELAYS frames as fast as tunneld
# takes them.  Expected: fz-tunneld never dies, `fzctl status` answers
# within 1 s throughout (probed every 0.2 s), every violation gets
# fz-controld killed and restarted with a doubling backoff, and the RSS
# and the open fds of fz-tunneld are the same (RSS within 1 MiB) before
# and after.  Prints one table row.
#
#   flood_ipc.sh          short form (make check): the corpus split over
#                         6 fz-tunneld at once (so the backoff stays
#                         short), a 10 s flood
#   flood_ipc.sh --long   one fz-tunneld takes the whole corpus (the
#                         backoff reaches its 30 s cap), a 60 s flood
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
command -v python3 >/dev/null || ns_skip "python3 not installed"
TUNNELD="$top_builddir/fz-tunneld"
FZCTL="$top_builddir/fzctl"
CORPUS="$top_srcdir/tests/fuzz/corpus/fuzz_ipc"
P=6 FLOOD=10 MAXWAIT=45 PER=4
if [ "${1:-}" = --long ]; then P=1 FLOOD=60 MAXWAIT=900 PER=28; fi
ns_tmpdir
T=$FZ_TMP
W=$(mktemp -d /tmp/fz-flood-ipc.XXXXXX)	# the fakes run as nobody
chmod 0755 "$W"
ns_on_cleanup "rm -rf '$W'"
cp "$top_srcdir/tests/netns/fake_controld.py" \
	"$top_srcdir/tests/faults/flood_controld.py" "$W/"
chmod 0755 "$W"/*.py
NFILES=$(find "$CORPUS" -maxdepth 1 -type f | wc -l)
[ "$NFILES" -gt 0 ] || ns_fail "no IPC corpus in $CORPUS"

# Each violation costs a kill and a restart with doubling backoff (to
# 30 s), so a fake replays at most PER frames in the time allowed: an even
# spread over the corpus (which the fuzz campaign grew to hundreds).
STEP=$(( (NFILES + P * PER - 1) / (P * PER) ))
i=0
n=0
for f in "$CORPUS"/*; do
	n=$((n + 1))
	[ $(( (n - 1) % STEP )) = 0 ] || continue
	k=$((i % P))
	mkdir -p -m 0777 "$W/$k/corpus"
	cp "$f" "$W/$k/corpus/$(printf %03d $i)-$(basename "$f")"
	i=$((i + 1))
done
NSEL=$i
PIDS=()
for k in $(seq 0 $((P - 1))); do
	chmod -R a+rwX "$W/$k"
	fl=0; [ "$k" = 0 ] && fl=$FLOOD
	cat > "$W/controld-$k" <<SH
#!/bin/sh
exec python3 "$W/flood_controld.py" "$W/$k" $fl
SH
	chmod 0755 "$W/controld-$k"
	ns_new "ipc$k"
	mkdir -p "$T/$k.state"
	ns_bg "$NS" "$T/$k.log" env FIREZONE_TOKEN=x "$TUNNELD" \
		--mode client --socket "$T/$k.sock" --state-dir "$T/$k.state" \
		--firezone-id "flood-$k" --token-path "$T/none" \
		--api-url "ws://127.0.0.1:9" --user nobody \
		--controld "$W/controld-$k" --dns-control disabled \
		--seccomp off --log-format json --log-filter info
	PIDS[k]=$BG_PID
done
fail() {
	for k in $(seq 0 $((P - 1))); do
		echo "--- $k"; tail -n 15 "$T/$k.log"; tail -n 5 "$W/$k/events"
	done
	echo "| IPC: hostile fz-controld | see above | $* | FAIL |"
	ns_fail "$*"
}
for k in $(seq 0 $((P - 1))); do
	ns_wait_for sh -c "'$FZCTL' --socket '$T/$k.sock' status |
		grep -q 'fz-controld:  pid'" || fail "tunneld $k not up"
	ns_wait_for grep -q "^READY" "$W/$k/events" || fail "controld $k not up"
done
sleep 0.3
fds() { ls "/proc/$1/fd" | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
FD0=$(fds "${PIDS[0]}"); RSS0=$(rss "${PIDS[0]}")

# The probe: fzctl status on every tunneld, every 0.2 s, the slowest kept.
: > "$T/probe"
(
	while [ ! -e "$T/stop" ]; do
		for k in $(seq 0 $((P - 1))); do
			a=$(date +%s%N)
			if timeout 5 "$FZCTL" --socket "$T/$k.sock" status \
			    >/dev/null 2>&1; then
				echo "$k $((($(date +%s%N) - a) / 1000000))"
			else
				echo "$k FAIL"
			fi
		done >> "$T/probe"
		sleep 0.2
	done
) &
PROBE=$!
ns_on_cleanup "touch '$T/stop'; kill $PROBE"
for k in $(seq 0 $((P - 1))); do touch "$W/$k/go"; done

end=$((SECONDS + MAXWAIT))
for k in $(seq 0 $((P - 1))); do
	want=CORPUS_DONE; [ "$k" = 0 ] && [ "$FLOOD" -gt 0 ] && want="FLOOD "
	until grep -q "^$want" "$W/$k/events" 2>/dev/null; do
		[ $SECONDS -lt $end ] || fail "tunneld $k: no $want in ${MAXWAIT}s"
		kill -0 "${PIDS[k]}" 2>/dev/null || fail "fz-tunneld $k died"
		sleep 0.2
	done
done
sleep 1
touch "$T/stop"; wait "$PROBE" 2>/dev/null
for k in $(seq 0 $((P - 1))); do
	kill -0 "${PIDS[k]}" 2>/dev/null || fail "fz-tunneld $k died"
done
FD1=$(fds "${PIDS[0]}"); RSS1=$(rss "${PIDS[0]}")
VIOL=$(cat "$T"/*.log | grep -c "violated the IPC protocol")
SURV=$(cat "$W"/*/events | grep -c "^SURVIVED")
SENT=$(cat "$W"/*/events | grep "^SEND" | awk '{print $3}' | sort -u | wc -l)
FLOODN=$(sed -n 's/^FLOOD \([0-9]*\)$/\1/p' "$W/0/events")
RESTARTS=0
for k in $(seq 0 $((P - 1))); do
	r=$("$FZCTL" --socket "$T/$k.sock" status |
		sed -n 's/.*restarted \([0-9]*\) time.*/\1/p')
	RESTARTS=$((RESTARTS + ${r:-0}))
done
MAXMS=$(awk '$2 != "FAIL" && $2 > m {m = $2} END {print m + 0}' "$T/probe")
NPROBE=$(wc -l < "$T/probe")
PFAIL=$(grep -c FAIL "$T/probe")
# The backoff: each tunneld's delays double (500, 1000, 2000, ...) up to
# the 30 s cap, as no fz-controld stayed up 30 s.
BACKOFF=ok
for k in $(seq 0 $((P - 1))); do
	grep -o 'restarting fz-controld in [0-9]* ms' "$T/$k.log" |
		awk '{print $4}' > "$T/delays.$k"
	awk 'BEGIN {e = 500} { if ($1 != e) exit 1; e = e * 2 > 30000 ? 30000 : e * 2 }' \
		"$T/delays.$k" || BACKOFF="bad: $(tr '\n' ' ' < "$T/delays.$k")"
done

MEAS="$SENT/$NSEL corpus frames sent (of $NFILES), $VIOL violations -> $RESTARTS restarts, $SURV frames harmless; backoff $BACKOFF; ${FLOODN:-0} valid frames in ${FLOOD} s; status max ${MAXMS} ms over $NPROBE probes ($PFAIL failed); fds $FD0 -> $FD1, RSS ${RSS0} -> ${RSS1} KiB"
ok=pass
[ "$SENT" = "$NSEL" ] || ok=FAIL
[ "$VIOL" = "$RESTARTS" ] && [ "$VIOL" -gt 0 ] || ok=FAIL
[ "$BACKOFF" = ok ] || ok=FAIL
[ "$MAXMS" -lt 1000 ] && [ "$PFAIL" = 0 ] || ok=FAIL
[ "$FD1" -le "$FD0" ] || ok=FAIL
[ $((RSS1 - RSS0)) -le 1024 ] || ok=FAIL
[ "${FLOODN:-0}" -gt 0 ] || ok=FAIL
echo "| IPC: hostile fz-controld (fuzz corpus replay + valid-frame flood)$([ "${1:-}" = --long ] && echo ', long') | no crash, status < 1 s, violation = kill + restart with backoff, fds/RSS bounded | $MEAS | $ok |"
[ "$ok" = pass ] || fail "$MEAS"
