#!/bin/bash
# SPDX-License-Identifier: ISC
#
# fz-relayd against real TURN clients, on loopback in a namespace:
#  - coturn's turnutils_uclient with -W SECRET: channels, -s (Send/Data
#    indications), -y (client to client), and IPv6; zero loss each time
#  - aioice's TURN client allocates and exchanges byte-exact data with a
#    UDP peer
#  - tshark decodes every fz-relayd message with no malformed packets
#  - fz-turnbench at a modest rate: no loss; the metrics agree
#  - private peers refused without --allow-private-peers
#  - SIGTERM frees everything (exit 0)
#  - started as root it runs as --user nobody: no capabilities,
#    no_new_privs, seccomp, in every thread; a missing user is an error
#  - the command line (relayd_config_from_args): --help exits 0, each
#    kind of bad flag exits 2 with its message, before anything is bound
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
for t in turnutils_uclient turnutils_peer tshark curl; do
	command -v $t >/dev/null || ns_skip "$t not installed"
done
[ -x /usr/bin/python3 ] || ns_skip "python3 missing"
/usr/bin/python3 -c 'import aioice' 2>/dev/null || ns_skip "python3-aioice missing"
ns_tmpdir
T=$FZ_TMP
ns_new r; N=$NS
ip -n "$N" addr add ::1/128 dev lo 2>/dev/null || true
X() { ip netns exec "$N" "$@"; }
SECRET="sec-$RANDOM$RANDOM"
RELAY="$top_builddir/fz-relayd"

start_relay() {	# start_relay LOG [extra flags]
	local log=$1
	shift
	ns_bg "$N" "$log" "$RELAY" --public-ip4-addr 127.0.0.1 \
		--public-ip6-addr ::1 --listen-port 3478 --lowest-port 50000 \
		--highest-port 50999 --static-auth-secret "$SECRET" \
		--metrics 127.0.0.1:9102 --log-format json --user nobody "$@"
	RPID=$BG_PID
	ns_wait_for X curl -sf http://127.0.0.1:9102/healthz ||
		{ cat "$log"; ns_fail "fz-relayd did not start"; }
	ns_check_dropped "$RPID"
}

# --- the privilege drop needs its user ---------------------------------------------
set +e
out=$(X "$RELAY" --public-ip4-addr 127.0.0.1 --static-auth-secret s \
	--listen-port 3479 --user fz-no-such-user 2>&1)
rc=$?
set -e
[ $rc != 0 ] && grep -q "fz-no-such-user does not exist" <<<"$out" ||
	ns_fail "a missing --user: rc $rc, $out"
ns_log "ok: a missing --user is a clear error (exit $rc)"

# --- safe by default: private peers refused ----------------------------------
start_relay "$T/relay0.log"
X timeout 60 /usr/bin/python3 "$top_srcdir/tests/interop/aioice_turn.py" \
	127.0.0.1 3478 "$SECRET" 127.0.0.1 3 >"$T/aioice0.log" 2>&1 &&
	ns_fail "a loopback peer was relayed without --allow-private-peers"
X curl -s http://127.0.0.1:9102/metrics | grep -q 'fz_relay_drops_total{reason="forbidden_peer"} [1-9]' ||
	ns_fail "forbidden peer not counted"
kill -TERM "$RPID"; wait "$RPID"; rc=$?
[ $rc = 0 ] || ns_fail "fz-relayd exit $rc after SIGTERM"
ns_log "ok: loopback peers refused by default; SIGTERM exits 0"

# --- the interop runs, captured by tshark ----------------------------------------
ns_bg "$N" "$T/tshark.log" tshark -q -i lo -f "udp port 3478" -w "$T/cap.pcapng"
TS=$BG_PID
ns_wait_for test -s "$T/cap.pcapng" || sleep 2
start_relay "$T/relay.log" --allow-private-peers
ns_bg "$N" "$T/peer.log" turnutils_peer -p 3480 -L 127.0.0.1 -L ::1
sleep 0.3

uclient() {	# uclient NAME FLAGS...
	local name=$1 out
	shift
	out=$(X timeout 60 turnutils_uclient -W "$SECRET" -u "fz-$name" -p 3478 \
		-n 100 -m 4 -l 200 -z 2 "$@" 2>&1)
	grep -q "Total lost packets 0 (0.000000%)" <<<"$out" ||
		{ echo "$out" | tail -20; ns_fail "turnutils_uclient $name: loss or failure"; }
	grep -q "tot_recv_msgs=400" <<<"$out" ||
		{ echo "$out" | tail -5; ns_fail "turnutils_uclient $name: not all received"; }
	ns_log "ok: turnutils_uclient $name ($*): 400/400, 0 lost"
}
uclient channels -e 127.0.0.1 127.0.0.1
uclient send -s -e 127.0.0.1 127.0.0.1
uclient client-to-client -y 127.0.0.1
uclient client-to-client-send -y -s 127.0.0.1
uclient ipv6 -e ::1 ::1

X timeout 60 /usr/bin/python3 "$top_srcdir/tests/interop/aioice_turn.py" \
	127.0.0.1 3478 "$SECRET" 127.0.0.1 100 >"$T/aioice.log" 2>&1 ||
	{ cat "$T/aioice.log"; ns_fail "aioice"; }
ns_log "ok: $(tail -1 "$T/aioice.log")"

sleep 1
kill -INT "$TS"; wait "$TS" 2>/dev/null
# The relayed payloads are coturn's test data, which tshark's RTP/RTCP
# heuristics sometimes take for RTCP: judge the TURN layer only.
TS_OPTS=(--disable-protocol rtcp --disable-protocol rtp)
n_stun=$(tshark -r "$T/cap.pcapng" "${TS_OPTS[@]}" -Y "stun" 2>/dev/null | wc -l)
n_bad=$(tshark -r "$T/cap.pcapng" "${TS_OPTS[@]}" -Y "_ws.malformed || _ws.expert.severity >= error" 2>/dev/null | wc -l)
[ "$n_stun" -gt 100 ] || ns_fail "tshark saw only $n_stun STUN/TURN packets"
[ "$n_bad" = 0 ] || {
	tshark -r "$T/cap.pcapng" "${TS_OPTS[@]}" -Y "_ws.malformed || _ws.expert.severity >= error" | head
	ns_fail "tshark: $n_bad malformed packets"; }
ns_log "ok: tshark decoded $n_stun STUN/TURN/ChannelData packets, 0 malformed"

# --- fz-turnbench and the metrics ------------------------------------------------
out=$(X "$top_builddir/fz-turnbench" --server 127.0.0.1:3478 --secret "$SECRET" \
	--allocations 4 --rate 5000 --duration 2 --json) || ns_fail "fz-turnbench"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["loss_pct"] == 0 and d["received"] > 9000, d' "$out" ||
	ns_fail "fz-turnbench: $out"
m=$(X curl -s http://127.0.0.1:9102/metrics)
pk=$(awk '/^fz_relay_packets_total\{datapath="userspace",direction="client_to_peer"\}/ { print $2 }' <<<"$m")
[ "${pk:-0}" -ge 10000 ] || ns_fail "metrics: client_to_peer packets $pk"
grep -q '^fz_relay_allocations [0-9]' <<<"$m" || ns_fail "no allocations gauge"
ns_log "ok: fz-turnbench $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["received"], "received, loss", d["loss_pct"])' "$out"); metrics count $pk packets"

# --- the log filter changes at runtime --------------------------------------------
X curl -sf -X POST "http://127.0.0.1:9102/log_filter?directives=debug" >/dev/null ||
	ns_fail "POST /log_filter"
code=$(X curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:9102/log_filter?directives=x=y=z")
[ "$code" = 400 ] || ns_fail "bad directives accepted ($code)"
ns_log "ok: runtime log filter (200, and 400 for a bad one)"

# --- the command line: exit 0 for --help, 2 and a message for bad flags ------------
out=$("$RELAY" --help) || ns_fail "--help: exit $?"
grep -q -- '--public-ip4-addr' <<<"$out" || ns_fail "--help: $out"
bad_flags() {	# bad_flags MESSAGE ARGS...: exit 2 with MESSAGE logged
	local want=$1 out rc=0
	shift
	out=$(env -u PUBLIC_IP4_ADDR -u STATIC_AUTH_SECRET -u FIREZONE_TOKEN "$RELAY" \
	    --log-format human "$@" 2>&1) || rc=$?
	[ $rc = 2 ] || ns_fail "fz-relayd $*: exit $rc, not 2"
	grep -q -- "$want" <<<"$out" || ns_fail "fz-relayd $*: $out"
}
ok4="--public-ip4-addr 127.0.0.1 --static-auth-secret x"
bad_flags 'usage:' --no-such-flag
bad_flags 'usage:' $ok4 token stray-argument
bad_flags 'give --public-ip4-addr' --static-auth-secret x
bad_flags 'not an IPv4 address' --public-ip4-addr ::1 --static-auth-secret x
bad_flags 'not an IPv6 address' --public-ip6-addr 10.0.0.1 --static-auth-secret x
bad_flags 'bad --bind' $ok4 --bind-ip4-addr nowhere
bad_flags 'bad ports' $ok4 --lowest-port 5000 --highest-port 4000
bad_flags 'bad ports' $ok4 --listen-port 0
bad_flags 'no credentials' --public-ip4-addr 127.0.0.1
bad_flags 'ebpf-int4-addr ::1: not an IPv4' $ok4 --ebpf-int4-addr ::1
bad_flags 'expected kill, trap or off' $ok4 --seccomp maybe
bad_flags 'expected driver or generic' $ok4 --ebpf-attach-mode both
bad_flags 'bad log format' $ok4 --log-format xml
ns_log "ok: --help, and exit 2 with a message for each kind of bad flag"

kill -TERM "$RPID"; wait "$RPID"; rc=$?
[ $rc = 0 ] || ns_fail "fz-relayd exit $rc"
ns_log "PASS"
