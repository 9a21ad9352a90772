# SPDX-License-Identifier: ISC
# shellcheck shell=bash
#
# The Client -> Gateway -> resource topology of tests/netns/connect.sh, for
# the connection benchmarks (tests/bench/connsetup, tests/bench/e2e).
# Source it after tests/netns/lib.sh and ns_require_root, then:
#   conn_topo                  # namespaces P (portal, router), C, G, R, H
#   conn_portal                # fz-portald in P, the policy for 10.50.0.0/24
#   conn_relay [XDP]           # fz-relayd in R (XDP: driver mode on its veth)
#   conn_gateway               # fz-tunneld --mode gateway in G, online
#   conn_client                # fz-tunneld in C, online with its resource
#   conn_client_stop           # stops it (its next start has no connection)
#   conn_block / conn_unblock  # drop / allow UDP between C and G in P
#   conn_path                  # the client's latest logged path
# Addresses: C 10.99.1.2, G 10.99.2.2, R 10.99.4.2 (all via P), resource
# host H 10.50.0.2 behind G.  Interfaces: C_IF, G_IF (toward P), PC_IF
# (P's end toward C), GH_IF (G toward H), H_IF, PR_IF and R_IF (the P-R
# link).
# Sets T (work directory), B (build directory); dump prints the logs.

B=${top_builddir:?}
CONN_PORT=8080
conn_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || ns_skip "$t not installed"
	done
}

conn_topo() {
	local n
	conn_need python3 nft ethtool
	for n in fz-portald fz-relayd fz-tunneld fz-controld fzctl; do
		[ -x "$B/$n" ] || ns_fail "$n not built ($B/$n)"
	done
	FZ_TMP=$(mktemp -d /tmp/fz-bench-conn.XXXXXX)
	T=$FZ_TMP
	chmod 0755 "$T"
	# fz-controld runs as nobody: a world-readable copy (the build tree
	# may sit under /root).
	cp "$B/fz-controld" "$T/" && chmod 0755 "$T/fz-controld"
	ns_new p; P=$NS
	ns_new c; C=$NS
	ns_new g; G=$NS
	ns_new r; R=$NS
	ns_new h; H=$NS
	ns_link "$P" 10.99.1.1 "$C" 10.99.1.2; PC_IF=$LINK_A; C_IF=$LINK_B
	ns_link "$P" 10.99.2.1 "$G" 10.99.2.2; G_IF=$LINK_B
	ns_link "$P" 10.99.4.1 "$R" 10.99.4.2; PR_IF=$LINK_A; R_IF=$LINK_B
	ns_link "$G" 10.50.0.1 "$H" 10.50.0.2; GH_IF=$LINK_A; H_IF=$LINK_B
	ip netns exec "$P" sysctl -qw net.ipv4.ip_forward=1
	for n in "$C:10.99.1.1" "$G:10.99.2.1" "$R:10.99.4.1" "$H:10.50.0.1"; do
		ip -n "${n%%:*}" route add default via "${n#*:}"
	done
	CTOK="alice-$RANDOM$RANDOM"
	GTOK="gw-hq-$RANDOM$RANDOM"
	RTOK="relay-$RANDOM$RANDOM"
	CID=$(python3 -c 'import uuid; print(uuid.uuid4())')
	GID=$(python3 -c 'import uuid; print(uuid.uuid4())')
}

conn_portal() {
	(umask 077; cat > "$T/portal.json") <<EOF
{ "account": {"slug": "acme"},
  "relay_token": "$RTOK",
  "turn_servers": [],
  "sites": [{"name": "hq", "gateway_token": "$GTOK"}],
  "resources": [
    {"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq"}],
  "clients": [{"name": "alice", "token": "$CTOK", "groups": ["eng"]}],
  "policies": [{"group": "eng", "resource": "lan"}] }
EOF
	ns_bg "$P" "$T/portald.log" "$B/fz-portald" --config "$T/portal.json" \
		--listen "0.0.0.0:$CONN_PORT" --state "$T/state.db"
	ns_wait_for sh -c "ip netns exec '$P' ss -Htln 'sport = :$CONN_PORT' | grep -q LISTEN" ||
		{ cat "$T/portald.log"; ns_fail "fz-portald does not listen"; }
}

# conn_relay [xdp]: with xdp, fz-relayd relays ChannelData in XDP (driver
# mode) on R_IF; on veth that needs a program on the peer (fz_xdp_pass on
# PR_IF) and full checksums from the senders (tx offload off on C_IF, G_IF
# and PR_IF; docs/xdp.md, /work/shared/machine.md).
conn_relay() {
	local xdp=()
	if [ "${1:-}" = xdp ]; then
		[ -f "$B/bpf/turn_router.bpf.o" ] || ns_fail "no $B/bpf/turn_router.bpf.o"
		ip -n "$P" link set dev "$PR_IF" xdpdrv obj "$B/bpf/turn_router.bpf.o" \
			sec xdp program fz_xdp_pass || ns_fail "fz_xdp_pass on $PR_IF"
		ip netns exec "$C" ethtool -K "$C_IF" tx off >/dev/null
		ip netns exec "$G" ethtool -K "$G_IF" tx off >/dev/null
		ip netns exec "$P" ethtool -K "$PR_IF" tx off >/dev/null
		# A queue on the router's side, as any NIC has: a veth whose
		# peer runs XDP hands packets to the peer's 256-slot ring;
		# with veth's default noqueue a full ring drops them (TX
		# dropped on PR_IF, TCP retransmits), with a qdisc the veth
		# stops its queue instead (backpressure).
		ip netns exec "$P" tc qdisc replace dev "$PR_IF" root pfifo limit 1000 ||
			ns_fail "qdisc on $PR_IF"
		# And UDP GRO for forwarding where the router receives from the
		# relay, as a router carrying tunnels would have it: the
		# relay's XDP_TX fills the same 256-slot ring on PR_IF, which
		# its NAPI, forwarding one skb per packet, emptied too slowly
		# (xdp_tx_errors on R_IF); the direct path's batches cross
		# the router whole anyway.
		ip netns exec "$P" ethtool -K "$PR_IF" gro on rx-udp-gro-forwarding on ||
			ns_fail "UDP GRO forwarding on $PR_IF"
		xdp=(--ebpf-offloading "$R_IF" --ebpf-attach-mode driver
			--ebpf-int4-addr 10.99.4.2 --metrics 127.0.0.1:9103)
	fi
	mkdir -m 0700 "$T/rcreds"
	printf '%s\n' "$RTOK" > "$T/rcreds/FIREZONE_TOKEN"
	chmod 0400 "$T/rcreds/FIREZONE_TOKEN"
	ns_bg "$R" "$T/relay.log" env CREDENTIALS_DIRECTORY="$T/rcreds" \
		FIREZONE_API_URL="ws://10.99.4.1:$CONN_PORT" FIREZONE_NAME=relay \
		"$B/fz-relayd" --public-ip4-addr 10.99.4.2 --allow-private-peers \
		--log-format json --user nobody "${xdp[@]}"
	RELAY_PID=$BG_PID
	ns_wait_for grep -q 'relay [0-9a-f-]* joined' "$T/portald.log" ||
		{ tail "$T/relay.log" "$T/portald.log"; ns_fail "fz-relayd did not join"; }
	if [ -n "${xdp[*]}" ]; then
		ip -n "$R" link show "$R_IF" | grep -q xdp || ns_fail "no XDP on $R_IF"
	fi
}

# conn_dev NS NAME MODE URL TOKEN ID LOG
conn_dev() {
	local ns=$1 name=$2 mode=$3 url=$4 tok=$5 id=$6 log=$7
	mkdir -p "$T/$name"
	ns_bg "$ns" "$T/$log.log" env FIREZONE_TOKEN="$tok" \
		FIREZONE_NAME="$name" "$B/fz-tunneld" --mode "$mode" \
		--socket "$T/$name.sock" --state-dir "$T/$name" \
		--token-path "$T/$name/no-token-file" --firezone-id "$id" \
		--api-url "$url" --user nobody --controld "$T/fz-controld" \
		--dns-control disabled --log-format json \
		--log-filter "${CONN_LOG_FILTER:-info}"
}
conn_st() { "$B/fzctl" --socket "$T/$1.sock" status 2>/dev/null; }
conn_online() { conn_st "$1" | grep -q '^state: *online'; }

conn_gateway() {
	conn_dev "$G" gateway gateway "ws://10.99.2.1:$CONN_PORT" "$GTOK" "$GID" gateway
	GW_PID=$BG_PID
	ns_wait_for conn_online gateway || { dump; ns_fail "the gateway is not online"; }
	# The clients' addresses into the gateway's tunnel (issue 14 may
	# install it; replace is idempotent).
	ns_wait_for ip -n "$G" route replace 100.64.0.0/11 dev tun-firezone ||
		{ dump; ns_fail "no tun-firezone on the gateway"; }
}

CONN_NCLIENT=0
# conn_client: a client with no connection yet, signed in, its resource
# known and routed into its tunnel.  Log: $T/client<N>.log (CLIENT_LOG).
conn_client() {
	CONN_NCLIENT=$((CONN_NCLIENT + 1))
	CLIENT_LOG="$T/client$CONN_NCLIENT.log"
	conn_dev "$C" client client "ws://10.99.1.1:$CONN_PORT" "$CTOK" "$CID" \
		"client$CONN_NCLIENT"
	CLIENT_PID=$BG_PID
	ns_wait_for conn_online client || { dump; ns_fail "the client is not online"; }
	ns_wait_for sh -c "'$B/fzctl' --socket '$T/client.sock' resources | grep -q 10.50.0.0/24" ||
		{ dump; ns_fail "the client has no resource 10.50.0.0/24"; }
	ns_wait_for ip -n "$C" route replace 10.50.0.0/24 dev tun-firezone ||
		{ dump; ns_fail "no tun-firezone on the client"; }
}

conn_client_stop() {
	kill "$CLIENT_PID" 2>/dev/null
	ns_wait_for sh -c "! kill -0 $CLIENT_PID" || ns_fail "the client does not stop"
	wait "$CLIENT_PID" 2>/dev/null
	local p rest=""
	for p in $FZ_PIDS; do
		[ "$p" = "$CLIENT_PID" ] || rest="$rest $p"
	done
	FZ_PIDS=$rest
	rm -f "$T/client.sock"
	# The gone client's log would mix with the next one's paths.
	[ -n "${FZ_KEEP_TMP:-}" ] || [ "${CONN_KEEP_LOGS:-0}" = 1 ] || rm -f "$CLIENT_LOG"
}

conn_block() {
	ip netns exec "$P" nft -f - <<'EOF' || ns_fail "nft in P"
table ip fzblock {
	chain block {
		type filter hook forward priority 0;
		ip saddr 10.99.1.0/24 ip daddr 10.99.2.0/24 meta l4proto udp drop
		ip saddr 10.99.2.0/24 ip daddr 10.99.1.0/24 meta l4proto udp drop
	}
}
EOF
}
conn_unblock() { ip netns exec "$P" nft delete table ip fzblock 2>/dev/null; }

# conn_path: the client's latest logged path ("direct to A:P" or "via relay
# A:P ..."); direct to the relay's address means through the gateway's
# allocation, so relayed too.
conn_path() {
	grep -o 'path \(direct to\|via relay\) [0-9.:]*' "$CLIENT_LOG" 2>/dev/null | tail -n 1
}
conn_relayed() { conn_path | grep -q '10\.99\.4\.2:'; }

# dump: the devices stopped first (each logs its data plane's non-zero drop
# counters as it goes, as topo_dump has them), then the logs' ends.  Only
# where the run ends: the devices do not come back.
dump() {
	local f p
	for p in ${CLIENT_PID:-} ${GW_PID:-}; do
		ns_stop "$p"
	done
	for f in portald relay gateway "client$CONN_NCLIENT"; do
		[ -f "$T/$f.log" ] && { echo "--- $f"; grep -v '"DEBUG"' "$T/$f.log" | tail -n 40; }
	done
	return 0
}
