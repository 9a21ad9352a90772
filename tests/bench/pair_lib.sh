# SPDX-License-Identifier: ISC
# shellcheck shell=bash
#
# Two namespaces A (10.98.0.1) and B (10.98.0.2) joined by a veth, and a
# WireGuard tunnel between them (10.200.0.1 <-> 10.200.0.2, MTU BENCH_MTU,
# default 1280) run by fz-tunneld or wireguard-go.  For cpu_split,
# udp_rate and tcp_streams (not part of the test suite; root).  Source it
# after tests/netns/lib.sh, then:
#   pair_init                    # namespaces, link, keys
#   pair_fz LABEL [BIN]          # fz <-> fz; LABEL picks the environment:
#                                #  "before" = FZ_AEAD=sodium FZ_NO_USO=1
#                                #  (the data plane before issue 17),
#                                #  anything else = as built; BIN
#                                #  defaults to $FZ
#   pair_wggo                    # wireguard-go <-> wireguard-go
#   pair_stop                    # stops the tunnel's processes
#   pair_iperf SRCNS ARGS...     # iperf3 to 10.200.0.2, JSON on stdout
# PAIR_PIDS holds the tunnel's two pids (A's first) while it runs.
MTU=${BENCH_MTU:-1280}
QUEUES=${FZ_QUEUES:-2}
FZ=${FZ:-$top_builddir/fz-tunneld}
PAIR_PIDS=""

pair_init() {
	local t k
	for t in iperf3 wireguard-go wg jq; do
		command -v $t >/dev/null || ns_skip "$t not installed"
	done
	[ -x "$FZ" ] || ns_fail "build fz first ($FZ)"
	ns_tmpdir
	T=$FZ_TMP
	umask 077
	ns_new a; A=$NS
	ns_new b; B=$NS
	ns_link "$A" 10.98.0.1 "$B" 10.98.0.2
	for k in a b; do
		wg genkey > "$T/$k.key"
		wg pubkey < "$T/$k.key" > "$T/$k.pub"
	done
}

_pair_fz1() {	# NS IF KEY PEERPUB PEERIP SELF PEER BIN LABEL
	cat > "$T/$2.conf" <<C
[Interface]
PrivateKey = $(cat "$3")
ListenPort = 51820
Address = 10.200.0.$6/24
MTU = $MTU
[Peer]
PublicKey = $(cat "$4")
Endpoint = $5:51820
AllowedIPs = 10.200.0.$7/32
C
	if [ "$9" = before ]; then
		ns_bg "$1" "$T/$2.log" env FZ_AEAD=sodium FZ_NO_USO=1 \
		    "$8" --config "$T/$2.conf" --tun-queues "$QUEUES" \
		    --log-filter warn
	else
		ns_bg "$1" "$T/$2.log" "$8" --config "$T/$2.conf" \
		    --tun-queues "$QUEUES" --log-filter warn
	fi
	PAIR_PIDS="$PAIR_PIDS $BG_PID"
	ns_wait_for test -S "/var/run/wireguard/$2.sock" || ns_fail "fz $2"
}

pair_fz() {	# LABEL [BIN]
	local bin=${2:-$FZ}
	_pair_fz1 "$A" "fza$$" "$T/a.key" "$T/b.pub" 10.98.0.2 1 2 "$bin" "$1"
	_pair_fz1 "$B" "fzb$$" "$T/b.key" "$T/a.pub" 10.98.0.1 2 1 "$bin" "$1"
	ip netns exec "$A" ping -c 1 -W 5 10.200.0.2 >/dev/null 2>&1 ||
		ns_fail "no ping through fz ($1)"
}

_pair_wg1() {	# NS IF KEY PEERPUB PEERIP SELF PEER
	ns_bg "$1" "$T/$2.log" wireguard-go -f "$2"
	PAIR_PIDS="$PAIR_PIDS $BG_PID"
	ns_wait_for test -S "/var/run/wireguard/$2.sock" ||
		ns_fail "wireguard-go $2"
	ip netns exec "$1" wg set "$2" private-key "$3" listen-port 51820 \
		peer "$(cat "$4")" endpoint "$5:51820" allowed-ips "10.200.0.$7/32"
	ip -n "$1" addr add "10.200.0.$6/24" dev "$2"
	ip -n "$1" link set "$2" mtu "$MTU" up
}

pair_wggo() {
	_pair_wg1 "$A" "wga$$" "$T/a.key" "$T/b.pub" 10.98.0.2 1 2
	_pair_wg1 "$B" "wgb$$" "$T/b.key" "$T/a.pub" 10.98.0.1 2 1
	ip netns exec "$A" ping -c 1 -W 5 10.200.0.2 >/dev/null 2>&1 ||
		ns_fail "no ping through wireguard-go"
}

pair_stop() {
	local p
	for p in $PAIR_PIDS; do kill "$p" 2>/dev/null; done
	for p in $PAIR_PIDS; do wait "$p" 2>/dev/null; done
	PAIR_PIDS=""
	sleep 0.5
}

pair_iperf() {	# SRCNS ARGS... : iperf3 client to 10.200.0.2 (JSON)
	local src=$1
	shift
	ip netns exec "$B" iperf3 -s -1 -B 10.200.0.2 -D \
	    --logfile "$T/srv.log" >/dev/null 2>&1
	sleep 0.3
	ip netns exec "$src" iperf3 -c 10.200.0.2 -J "$@" 2>/dev/null
	sleep 0.3
}
