#!/bin/bash
# SPDX-License-Identifier: ISC
#
# A Client reaches a CIDR resource behind a Gateway through the tunnel
# (root; network namespaces): fz-portald and a router in P, fz-relayd in R,
# the client in C, the gateway in G, the resource host H behind G
# (10.50.0.0/24).  fz-tunneld --mode gateway turns on IP forwarding and
# masquerades the tunnel addresses into H (table inet fz-gateway); a stale
# table from an earlier run is replaced, and stopping the gateway deletes
# the table and puts the sysctls back.
#  - direct: ping and TCP (HTTP) from C to H work, and fz-controld logged
#    the path as direct to the gateway
#  - relayed: with UDP between C and G dropped in P (nftables), a fresh
#    client connects again and ping and TCP work, the path via the relay
#  - fzctl status shows the connection direct, then through the relay
#  - stop: the gateway's table is gone, forwarding back to what it was
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_fz_setup python3 curl nft

ns_new p; P=$NS
ns_new c; C=$NS
ns_new g; G=$NS
ns_new r; R=$NS
ns_new h; H=$NS
ns_link "$P" 10.99.1.1 "$C" 10.99.1.2
ns_link "$P" 10.99.2.1 "$G" 10.99.2.2
ns_link "$P" 10.99.4.1 "$R" 10.99.4.2
ns_link "$G" 10.50.0.1 "$H" 10.50.0.2
ip netns exec "$P" sysctl -qw net.ipv4.ip_forward=1
for n in "$C:10.99.1.1" "$G:10.99.2.1" "$R:10.99.4.1" "$H:10.50.0.1"; do
	ip -n "${n%%:*}" route add default via "${n#*:}"
done
# Forwarding off in G, and a stale fz-gateway table (a killed run's) with
# a rule that must not survive fz-tunneld's start.
ip netns exec "$G" sysctl -qw net.ipv4.ip_forward=0
ip netns exec "$G" sysctl -qw net.ipv6.conf.all.forwarding=0
ip netns exec "$G" nft -f - <<'EOF' || ns_fail "nft in G"
table inet fz-gateway {
	chain stale {
		type filter hook forward priority 0;
		counter drop comment "stale"
	}
}
EOF
PORT=8080

CTOK="alice-$RANDOM$RANDOM"
GTOK="gw-hq-$RANDOM$RANDOM"
RTOK="relay-$RANDOM$RANDOM"
cat > "$T/portal.json" <<EOF
{ "account": {"slug": "acme"},
  "relay_token": "$RTOK",
  "turn_servers": [],
  "sites": [{"name": "hq", "gateway_token": "$GTOK"}],
  "resources": [
    {"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq"}],
  "clients": [{"name": "alice", "token": "$CTOK", "groups": ["eng"]}],
  "policies": [{"group": "eng", "resource": "lan"}] }
EOF
ns_bg "$P" "$T/portald.log" "$PORTALD" --config "$T/portal.json" \
	--listen "0.0.0.0:$PORT" --state "$T/state.db"
ns_wait_for sh -c "ip netns exec '$P' ss -Htln 'sport = :$PORT' | grep -q LISTEN" ||
	{ cat "$T/portald.log"; ns_fail "fz-portald does not listen"; }

mkdir -m 0700 "$T/rcreds"
printf '%s\n' "$RTOK" > "$T/rcreds/FIREZONE_TOKEN"
chmod 0400 "$T/rcreds/FIREZONE_TOKEN"
ns_bg "$R" "$T/relay.log" env CREDENTIALS_DIRECTORY="$T/rcreds" \
	FIREZONE_API_URL="ws://10.99.4.1:$PORT" FIREZONE_NAME=relay \
	"$RELAYD" --public-ip4-addr 10.99.4.2 --allow-private-peers \
	--log-format json --user nobody
ns_wait_for grep -q 'relay [0-9a-f-]* joined' "$T/portald.log" ||
	{ tail "$T/relay.log" "$T/portald.log"; ns_fail "fz-relayd did not join"; }

# The HTTP server on the resource host.
mkdir -p "$T/www"
echo "hello from the resource" > "$T/www/index.html"
ns_bg "$H" "$T/http.log" python3 -m http.server --bind 10.50.0.2 \
	--directory "$T/www" 80
ns_wait_for sh -c "ip netns exec '$H' ss -Htln 'sport = :80' | grep -q LISTEN" ||
	ns_fail "no HTTP server on H"

CID=$(python3 -c 'import uuid; print(uuid.uuid4())')
GID=$(python3 -c 'import uuid; print(uuid.uuid4())')
# start_device NS NAME MODE URL TOKEN ID [LOG]
start_device() {
	local ns=$1 name=$2 mode=$3 url=$4 tok=$5 id=$6 log=${7:-$2}
	mkdir -p "$T/$name"
	ns_bg "$ns" "$T/$log.log" env FIREZONE_TOKEN="$tok" \
		FIREZONE_NAME="$name" "$TUNNELD" --mode "$mode" \
		--socket "$T/$name.sock" --state-dir "$T/$name" \
		--token-path "$T/$name/no-token-file" --firezone-id "$id" \
		--api-url "$url" --user nobody --controld "$W/fz-controld" \
		--dns-control disabled --log-format json --log-filter debug
	eval "${name}_PID=\$BG_PID"
}
start_device "$G" gateway gateway "ws://10.99.2.1:$PORT" "$GTOK" "$GID"
start_device "$C" client client "ws://10.99.1.1:$PORT" "$CTOK" "$CID" client1

st() { "$FZCTL" --socket "$T/$1.sock" status 2>/dev/null; }
state_is() { st "$1" | grep -q "^state: *$2"; }
dump() {
	for f in portald relay gateway client1 client2; do
		[ -f "$T/$f.log" ] && { echo "--- $f"; grep -v '"DEBUG"' "$T/$f.log" | tail -n 60; }
	done
	for n in client gateway; do
		[ -S "$T/$n.sock" ] && { echo "--- $n status"; st "$n"; }
	done
	return 0
}
fail() { dump; ns_fail "$*"; }

ns_wait_for state_is gateway online || fail "the gateway is not online"
ns_wait_for state_is client online || fail "the client is not online"
ns_log "ok: client and gateway online"
gsys() { ip netns exec "$G" sysctl -n "$1"; }
[ "$(gsys net.ipv4.ip_forward)" = 1 ] && [ "$(gsys net.ipv6.conf.all.forwarding)" = 1 ] ||
	fail "the gateway did not turn on IP forwarding"
gtable=$(ip netns exec "$G" nft list table inet fz-gateway 2>&1)
echo "$gtable" | grep -q 'ip saddr 100.64.0.0/11 oifname != "tun-firezone" masquerade' &&
	echo "$gtable" | grep -q 'ip6 saddr fd00:2021:1111::/107 oifname != "tun-firezone" masquerade' ||
	{ echo "$gtable"; fail "no masquerade in table inet fz-gateway"; }
! echo "$gtable" | grep -q stale || { echo "$gtable"; fail "the stale table survived"; }
ns_log "ok: gateway: forwarding on, table inet fz-gateway replaced"
# The client's route to the resource is the service's own (table
# 0x2021fd00, issue 14); the gateway's route back is still added here.
routes() {
	ns_wait_for sh -c "ip -n '$C' route show table 0x2021fd00 | grep -q '^10.50.0.0/24 dev tun-firezone'" ||
		fail "no route to the resource on tun-firezone"
	ip -n "$G" route replace 100.64.0.0/11 dev tun-firezone ||
		fail "no route to the clients on the gateway's tun-firezone"
}
routes

ping_ok() { ip netns exec "$C" ping -c 1 -W 1 10.50.0.2; }
http_ok() {
	ip netns exec "$C" curl -s -m 3 http://10.50.0.2/ | grep -q "hello from the resource"
}

# --- direct ---------------------------------------------------------------
ns_wait_for ping_ok || fail "no ping reply from the resource through the tunnel"
grep -q 'path direct to 10\.99\.2\.2:' "$T/client1.log" ||
	fail "the client's path is not direct to the gateway"
http_ok || fail "no HTTP through the tunnel (direct)"
# fzctl status: the connection, its path, RTT and bytes (text and JSON)
conn_direct() { st client | grep -q "^connection: .* direct to 10\.99\.2\.2:[0-9]*, rtt [0-9.]* ms, rx [1-9][0-9]* B, tx [1-9][0-9]* B, since "; }
ns_wait_for conn_direct || fail "fzctl status shows no direct connection"
"$FZCTL" --socket "$T/client.sock" --json status | python3 -c '
import json, sys
c = json.load(sys.stdin)["connections"]
assert len(c) == 1 and c[0]["path"] == "direct", c
assert c[0]["remote"].startswith("10.99.2.2:") and c[0]["rx_bytes"] > 0 and c[0]["tx_bytes"] > 0, c
assert c[0]["since"] > 1600000000, c
' || fail "fzctl --json status: no direct connection"
st client | grep "^connection:"
ns_log "ok: direct: ping and HTTP from the client to 10.50.0.2 through the gateway"
# PEER_STATS: the data plane's counters reach each connection manager
# and match its peer (the ICE agents follow the traffic, §2.3 idle profile)
ns_wait_for grep -q 'conn: peer [0-9a-f-]*: traffic (rx [1-9][0-9]* B' "$T/client1.log" ||
	fail "the client's controld saw no traffic on its connection (PEER_STATS)"
ns_wait_for grep -q 'conn: peer [0-9a-f-]*: traffic (rx [1-9][0-9]* B' "$T/gateway.log" ||
	fail "the gateway's controld saw no traffic on its connection (PEER_STATS)"
ns_log "ok: PEER_STATS: both connection managers see the connection's traffic"

# --- a local address goes: its host candidates are invalidated ------------
cif=$(ip -n "$C" -o -4 addr show | awk '/ 10\.99\.1\.2\// { print $2 }')
ip -n "$C" addr add 10.99.1.77/24 dev "$cif"
ns_wait_for grep -q 'local sockets: .*10\.99\.1\.77:' "$T/client1.log" ||
	fail "10.99.1.77 not in LOCAL_SOCKETS"
ip -n "$C" addr del 10.99.1.77/24 dev "$cif"
ns_wait_for grep -q 'local address 10\.99\.1\.77:[0-9]* gone: its host candidates invalidated' \
	"$T/client1.log" || fail "the client's controld kept 10.99.1.77's host candidates"
ping_ok || fail "no ping after a local address went"
ns_log "ok: a local address added then removed: its host candidates invalidated, the connection stays"

# --- relayed: UDP between C and G dropped in P ----------------------------
ip netns exec "$P" nft -f - <<'EOF' || fail "nft in P"
table ip fzblock {
	chain block {
		type filter hook forward priority 0;
		ip saddr 10.99.1.0/24 ip daddr 10.99.2.0/24 meta l4proto udp drop
		ip saddr 10.99.2.0/24 ip daddr 10.99.1.0/24 meta l4proto udp drop
	}
}
EOF
kill "$client_PID"
ns_wait_for sh -c "! kill -0 $client_PID" || fail "the client does not stop"
start_device "$C" client client "ws://10.99.1.1:$PORT" "$CTOK" "$CID" client2
ns_wait_for state_is client online || fail "the client is not online again"
routes
ns_wait_for ping_ok || fail "no ping reply with the direct path blocked"
# Either side may send through its own allocation or straight to the
# other's: both are relayed via 10.99.4.2, never "direct to" it.
grep -q 'path via relay 10\.99\.4\.2:3478' "$T/client2.log" ||
	fail "the client's path is not through the relay"
grep -q 'path via relay 10\.99\.4\.2:3478' "$T/gateway.log" ||
	fail "the gateway's path is not through the relay"
! grep -q 'path direct to 10\.99\.4\.2:' "$T/client2.log" "$T/gateway.log" ||
	fail "a path to the relay's allocation labelled direct"
http_ok || fail "no HTTP through the tunnel (relayed)"
conn_relayed() { st "$1" | grep -q "^connection: .* relayed via 10\.99\.4\.2:3478 \(channel 0x4[0-9a-f]*\|(the peer's allocation)\), rtt [0-9.]* ms, rx [1-9][0-9]* B, tx [1-9][0-9]* B"; }
ns_wait_for conn_relayed client || fail "fzctl status shows no connection through the relay"
st client | grep "^connection:"
ns_wait_for conn_relayed gateway || fail "the gateway's fzctl status shows no connection through the relay"
st gateway | grep "^connection:"
ns_log "ok: relayed: ping and HTTP with UDP between client and gateway dropped"

# --- stop: the gateway undoes what it set up ------------------------------
kill "$gateway_PID"
ns_wait_for sh -c "! kill -0 $gateway_PID" || fail "the gateway does not stop"
if ip netns exec "$G" nft list table inet fz-gateway >/dev/null 2>&1; then
	fail "table inet fz-gateway left behind"
fi
[ "$(gsys net.ipv4.ip_forward)" = 0 ] && [ "$(gsys net.ipv6.conf.all.forwarding)" = 0 ] ||
	fail "IP forwarding not restored on stop"
grep -q 'table inet fz-gateway deleted' "$T/gateway.log" || fail "no deletion logged"
ns_log "ok: stop: table inet fz-gateway deleted, forwarding restored"
exit 0
