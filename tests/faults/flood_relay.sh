#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Relay flood (issue 15, "Load and floods"; root, a network namespace):
# fz-relayd on loopback holds many allocations with a channel each made by
# fz-turnbench (tools/turnbench.c), which relays ChannelData through them,
# and, once they are all made, tests/faults/flood_allocate.py sends unauthenticated Allocate
# requests.  Expected: the legitimate relayed traffic loses < 1 %; the
# RSS per allocation is reported (the peak during the run over the
# allocations); the relay's fds are the same before and after (turnbench
# frees its allocations at the end).  Prints one table row.
#
#   flood_relay.sh          short form (make check): 1 000 allocations,
#                           10 000 packets/s, Allocate flood 20 000/s, 5 s
#   flood_relay.sh --long   16 000 allocations (two turnbench), 50 000/s
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
command -v python3 >/dev/null || ns_skip "python3 not installed"
RELAYD="$top_builddir/fz-relayd"
BENCH="$top_builddir/fz-turnbench"
ALLOCS=1000 NB=1 RATE=10000 FRATE=20000 SECS=5
if [ "${1:-}" = --long ]; then ALLOCS=8000 NB=2 FRATE=50000 SECS=20; fi
FRATE=${FLOOD_RATE:-$FRATE}	# FLOOD_RATE=0: the control, no flood
TOTAL=$((ALLOCS * NB))
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
ns_tmpdir
T=$FZ_TMP
ns_new relay; R=$NS
# Ports: the relay's below 20000, turnbench's client and peer sockets
# (two per allocation) above.
ip netns exec "$R" sysctl -qw net.ipv4.ip_local_port_range="20000 65535"
SECRET=flood-$RANDOM
export FZ_RELAY_USER=nobody
ns_bg "$R" "$T/relayd.log" "$RELAYD" --public-ip4-addr 127.0.0.1 \
	--bind-ip4-addr 127.0.0.1 --listen-port 3478 --lowest-port 1024 \
	--highest-port 19999 --static-auth-secret "$SECRET" \
	--allow-private-peers --max-allocations $((TOTAL + 1000)) \
	--user-quota $((TOTAL + 1000)) --log-filter warn \
	--metrics 127.0.0.1:9109
RPID=$BG_PID
fail() {
	tail -n 20 "$T/relayd.log"
	echo "| fz-relayd: allocations + Allocate flood | see above | $* | FAIL |"
	ns_fail "$*"
}
sleep 1
kill -0 "$RPID" 2>/dev/null || fail "fz-relayd did not start"
fds() { ls "/proc/$RPID/fd" | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$RPID/status"; }
FD0=$(fds); RSS0=$(rss)
metrics() {
	ip netns exec "$R" python3 -c 'import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:9109/metrics", timeout=5).read().decode())'
}
ip netns exec "$R" nstat -n >/dev/null 2>&1
: > "$T/rss"
( while [ ! -e "$T/stop" ]; do rss >> "$T/rss"; sleep 0.2; done ) &
SAMP=$!
ns_on_cleanup "touch '$T/stop'; kill $SAMP"

for b in $(seq 1 "$NB"); do
	ip netns exec "$R" "$BENCH" --server 127.0.0.1:3478 --secret "$SECRET" \
		--allocations "$ALLOCS" --rate $((RATE / NB)) --size 100 \
		--duration "$SECS" --json --start-signal > "$T/bench.$b" \
		2> "$T/bench.$b.err" &
	eval "B$b=\$!"
done
# Once every turnbench has made its allocations (each waits, "ready"),
# the flood, then all turnbench send together: one still making its
# allocations or already releasing them would not load the relay the
# same as the others.
FZ_WAIT=180 ns_wait_for sh -c "[ \$(cat $T/bench.*.err | grep -c '^turnbench: ready') -ge $NB ]" ||
	{ cat "$T"/bench.*.err; fail "the $TOTAL allocations were not made"; }
ip netns exec "$R" python3 "$top_srcdir/tests/faults/flood_allocate.py" \
	127.0.0.1 3478 "$FRATE" $((SECS + 15)) 16 > "$T/flood.out" 2>&1 &
FL=$!
sleep 1
for b in $(seq 1 "$NB"); do eval "kill -USR1 \$B$b"; done
for b in $(seq 1 "$NB"); do
	eval "wait \$B$b" || { cat "$T/bench.$b.err"; fail "fz-turnbench $b failed"; }
done
kill -INT "$FL" 2>/dev/null; wait "$FL" 2>/dev/null
touch "$T/stop"; wait "$SAMP" 2>/dev/null
kill -0 "$RPID" 2>/dev/null || fail "fz-relayd died"
ns_wait_for sh -c "[ \$(ls /proc/$RPID/fd | wc -l) -le $FD0 ]"
FD1=$(fds); RSS1=$(rss)
# Where packets went, stage by stage (the relay's counters, the kernel's
# UDP drops in the namespace, each turnbench's sent/received).
metrics > "$T/metrics" 2>&1
ip netns exec "$R" nstat -az > "$T/nstat" 2>&1
if [ -n "${FLOOD_KEEP:-}" ]; then mkdir -p "$FLOOD_KEEP"; cp -r "$T"/. "$FLOOD_KEEP"/; fi
LOSS=$(cat "$T"/bench.[0-9] | python3 -c 'import json, sys
js = [json.loads(l) for l in sys.stdin if l.strip()]
print("%.3f" % max(j["loss_pct"] for j in js))')
PPS=$(cat "$T"/bench.[0-9] | python3 -c 'import json, sys
print("%.0f" % sum(json.loads(l)["delivered_pps"] for l in sys.stdin if l.strip()))')
STAGES=$(cat "$T"/bench.[0-9] | python3 -c 'import json, re, sys
js = [json.loads(l) for l in sys.stdin if l.strip()]
m = open(sys.argv[1]).read()
f = re.search(r"^fz_relay_packets_total\{datapath=\"userspace\",direction=\"client_to_peer\"\} (\d+)", m, re.M)
x = re.search(r"^fz_relay_packets_total\{datapath=\"xdp\",direction=\"client_to_peer\"\} (\d+)", m, re.M)
d = re.search(r"^UdpRcvbufErrors\s+(\d+)", open(sys.argv[2]).read(), re.M)
print("sent %d, relay forwarded %s, received %d; kernel UDP receive-buffer drops %s; unreleased %d" % (
    sum(j["sent"] for j in js),
    int(f.group(1)) + (int(x.group(1)) if x else 0) if f else "?",
    sum(j["received"] for j in js), d.group(1) if d else "?",
    sum(j.get("unreleased", 0) for j in js)))' "$T/metrics" "$T/nstat")
PEAK=$(sort -n "$T/rss" | tail -n 1)
PER=$(awk -v p="$PEAK" -v r="$RSS0" -v n="$TOTAL" 'BEGIN { printf "%.2f", (p - r) / n }')
MEAS="$TOTAL allocations: $PPS pps delivered, loss ${LOSS} % (worst turnbench; $STAGES); Allocate flood at ${FRATE}/s: $(tail -n 1 "$T/flood.out"); RSS $RSS0 -> peak $PEAK KiB (${PER} KiB per allocation) -> $RSS1 after; fds $FD0 -> $FD1"
ok=pass
awk -v l="$LOSS" 'BEGIN { exit !(l < 1) }' || ok=FAIL
[ "$FD1" -le "$FD0" ] || ok=FAIL
case $STAGES in *"unreleased 0"*) ;; *) ok=FAIL ;; esac
echo "| fz-relayd: $TOTAL allocations (fz-turnbench) + unauthenticated Allocate flood | relayed traffic < 1 % loss; RSS per allocation; no fd leak | $MEAS | $ok |"
[ "$ok" = pass ] || fail "$MEAS"
