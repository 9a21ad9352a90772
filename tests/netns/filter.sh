#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Resource enforcement end to end (issue 14; tunneld/dp/filter.h), root,
# network namespaces, fz-portald: the topology of connect.sh (portal and
# router P, relay R, client C, gateway G, resource host H behind G).
# Resources: "web" 10.50.0.2/32 with the filter tcp/80 (policy: alice's
# group), "db" 10.50.0.3/32 (another group's policy only).
#  - allowed traffic works: HTTP to 10.50.0.2:80
#  - the client answers a port outside the filter itself: TCP to
#    10.50.0.2:22 fails at once with EHOSTUNREACH (ICMP 3/13 written back
#    into its TUN), nothing goes to the gateway
#  - with the client's own check off (FZ_CLIENT_FILTERS=off), the gateway
#    refuses: EHOSTUNREACH at once (its ICMP 3/13 through the tunnel),
#    ping "filtered" too (no icmp filter), and its TUN never sees them
#  - "db", which the client's policy lacks, never reaches the gateway's TUN
# Timings of the refusals are printed (ms).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_fz_setup python3 curl nft tcpdump

ns_new p; P=$NS
ns_new c; C=$NS
ns_new g; G=$NS
ns_new r; R=$NS
ns_new h; H=$NS
ns_link "$P" 10.99.1.1 "$C" 10.99.1.2
ns_link "$P" 10.99.2.1 "$G" 10.99.2.2
ns_link "$P" 10.99.4.1 "$R" 10.99.4.2
ns_link "$G" 10.50.0.1 "$H" 10.50.0.2
HDEV=$LINK_B
ip -n "$H" addr add 10.50.0.3/24 dev "$HDEV"
GDEV=$LINK_A
ip -n "$G" addr add fd50::1/64 dev "$GDEV" nodad
ip -n "$H" addr add fd50::2/64 dev "$HDEV" nodad
ip -n "$H" route add default via fd50::1
ip netns exec "$P" sysctl -qw net.ipv4.ip_forward=1
for n in "$C:10.99.1.1" "$G:10.99.2.1" "$R:10.99.4.1" "$H:10.50.0.1"; do
	ip -n "${n%%:*}" route add default via "${n#*:}"
done
PORT=8080

CTOK="alice-$RANDOM$RANDOM"
GTOK="gw-hq-$RANDOM$RANDOM"
RTOK="relay-$RANDOM$RANDOM"
BOBTOK="bob-$RANDOM$RANDOM"
# portal_config WEB_PORTS WEB_POLICY(true|false): portal.json
portal_config() {
	local pol=""
	[ "$2" = true ] && pol='{"group": "eng", "resource": "web"},'
	cat > "$T/portal.json" <<EOF
{ "account": {"slug": "acme"},
  "relay_token": "$RTOK",
  "turn_servers": [],
  "sites": [{"name": "hq", "gateway_token": "$GTOK"}],
  "resources": [
    {"name": "web", "type": "cidr", "address": "10.50.0.2/32", "site": "hq",
     "filters": [{"protocol": "tcp", "ports": "$1"}]},
    {"name": "web6", "type": "cidr", "address": "fd50::2/128", "site": "hq",
     "filters": [{"protocol": "tcp", "ports": "80"}]},
    {"name": "db", "type": "cidr", "address": "10.50.0.3/32", "site": "hq"}],
  "clients": [{"name": "alice", "token": "$CTOK", "groups": ["eng"]},
    {"name": "bob", "token": "$BOBTOK", "groups": ["ops"]}],
  "policies": [$pol
    {"group": "eng", "resource": "web6"},
    {"group": "ops", "resource": "db"}] }
EOF
}
portal_config 80 true
ns_bg "$P" "$T/portald.log" "$PORTALD" --config "$T/portal.json" \
	--listen "0.0.0.0:$PORT" --state "$T/state.db"
PORTALD_PID=$BG_PID
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

# HTTP on 80 and something listening on 22 and 5432 on the resource host:
# a refusal must come from Firezone, not from a closed port.
mkdir -p "$T/www"
echo "hello from the resource" > "$T/www/index.html"
ns_bg "$H" "$T/http.log" python3 -m http.server --bind :: \
	--directory "$T/www" 80
ns_bg "$H" "$T/l22.log" python3 -m http.server --bind :: \
	--directory "$T/www" 22
ns_wait_for sh -c "ip netns exec '$H' ss -Htln 'sport = :80' | grep -q LISTEN" ||
	ns_fail "no HTTP server on H"
ns_wait_for sh -c "ip netns exec '$H' ss -Htln 'sport = :22' | grep -q LISTEN" ||
	ns_fail "no listener on H:22"

CID=$(python3 -c 'import uuid; print(uuid.uuid4())')
GID=$(python3 -c 'import uuid; print(uuid.uuid4())')
# start_device NS NAME MODE URL TOKEN ID LOG [CLIENT_FILTERS]
start_device() {
	local ns=$1 name=$2 mode=$3 url=$4 tok=$5 id=$6 log=$7 cf=${8:-on}
	mkdir -p "$T/$name"
	ns_bg "$ns" "$T/$log.log" env FIREZONE_TOKEN="$tok" \
		FIREZONE_NAME="$name" FZ_CLIENT_FILTERS="$cf" \
		FIREZONE_FLOW_LOGS="$([ "$mode" = gateway ] && echo true || echo false)" \
		"$TUNNELD" \
		--mode "$mode" \
		--socket "$T/$name.sock" --state-dir "$T/$name" \
		--token-path "$T/$name/no-token-file" --firezone-id "$id" \
		--api-url "$url" --user nobody --controld "$W/fz-controld" \
		--dns-control disabled --log-format json --log-filter debug
	eval "${name}_PID=\$BG_PID"
}
start_device "$G" gateway gateway "ws://10.99.2.1:$PORT" "$GTOK" "$GID" gateway
start_device "$C" client client "ws://10.99.1.1:$PORT" "$CTOK" "$CID" client1

st() { "$FZCTL" --socket "$T/$1.sock" status 2>/dev/null; }
state_is() { st "$1" | grep -q "^state: *$2"; }
dump() {
	for f in portald gateway client1 client2; do
		[ -f "$T/$f.log" ] && { echo "--- $f"; grep -v '"DEBUG"' "$T/$f.log" | tail -n 40; }
	done
	return 0
}
fail() { dump; ns_fail "$*"; }

ns_wait_for state_is gateway online || fail "the gateway is not online"
ns_wait_for state_is client online || fail "the client is not online"
# Routes (client routes are the "dns" work of issue 14; set by hand here).
routes() {
	for a in 10.50.0.2/32 10.50.0.3/32 fd50::2/128; do
		ns_wait_for ip -n "$C" route replace "$a" dev tun-firezone ||
			fail "no route to $a on the client's tun-firezone"
	done
	ip -n "$G" route replace 100.64.0.0/11 dev tun-firezone &&
		ip -n "$G" route replace fd00:2021:1111::/107 dev tun-firezone ||
		fail "no route to the clients on the gateway's tun-firezone"
}
routes
# Everything the gateway's TUN sees (a refused packet never gets there).
ns_bg "$G" "$T/tcpdump.log" tcpdump -i tun-firezone --immediate-mode -n -U -w "$T/gtun.pcap"
TCPDUMP_PID=$BG_PID
ns_wait_for grep -q 'listening on' "$T/tcpdump.log" || fail "tcpdump in G"

http_ok() {
	ip netns exec "$C" curl -s -m 3 http://10.50.0.2/ | grep -q "hello from the resource"
}
# tcp_refused PORT ADDR: connect() fails within 1 s with EHOSTUNREACH
# (ICMP 3/13) or, for IPv6, EACCES (ICMPv6 1/1); prints the time in ms.
tcp_refused() {
	ip netns exec "$C" python3 - "$1" "$2" <<'EOF'
import errno, socket, sys, time
port, addr = int(sys.argv[1]), sys.argv[2]
want = errno.EACCES if ":" in addr else errno.EHOSTUNREACH
t = time.monotonic()
try:
    socket.create_connection((addr, port), timeout=5).close()
    print("connected"); sys.exit(1)
except OSError as e:
    ms = (time.monotonic() - t) * 1000
    print("%.1f" % ms)
    if e.errno != want: print("errno %d" % e.errno)
    sys.exit(0 if e.errno == want and ms < 1000 else 1)
EOF
}

http6_ok() {
	ip netns exec "$C" curl -s -m 3 -g 'http://[fd50::2]/' | grep -q "hello from the resource"
}
ns_wait_for http_ok || fail "no HTTP to the allowed port through the tunnel"
ns_wait_for http6_ok || fail "no HTTP over IPv6 to the allowed port"
ns_log "ok: HTTP to web and web6 (tcp/80, allowed) works"

# --- the client refuses locally -------------------------------------------
ms=$(tcp_refused 22 10.50.0.2) || fail "tcp/22: not refused at once ($ms)"
ns_log "ok: client: tcp/22 to web refused locally (EHOSTUNREACH) in $ms ms"
ms=$(tcp_refused 22 fd50::2) || fail "IPv6 tcp/22: not refused at once ($ms)"
ns_log "ok: client: tcp/22 to web6 refused locally (EACCES) in $ms ms"
pingout=$(ip netns exec "$C" ping -c 1 -W 2 10.50.0.2 2>&1)
echo "$pingout" | grep -qi 'filtered\|prohibited' ||
	{ echo "$pingout"; fail "ping: no 'prohibited' answer from the client"; }
ns_log "ok: client: ping to web answered 'prohibited' locally"
# The resource the policy lacks: never asked for, never sent.
ip netns exec "$C" curl -s -m 2 http://10.50.0.3/ >/dev/null &&
	fail "db reached without a policy"

# --- the gateway refuses (the client's own check off) ---------------------
kill "$client_PID"
ns_wait_for sh -c "! kill -0 $client_PID" || fail "the client does not stop"
start_device "$C" client client "ws://10.99.1.1:$PORT" "$CTOK" "$CID" client2 off
ns_wait_for state_is client online || fail "the client is not online again"
routes
ns_wait_for http_ok || fail "no HTTP to the allowed port (client check off)"
ns_wait_for http6_ok || fail "no HTTP over IPv6 (client check off)"
# The first refused packet may be the one that asks for the authorization:
# wait for the connection, then time.
ms=$(tcp_refused 22 10.50.0.2) || fail "tcp/22: the gateway did not refuse at once ($ms)"
ns_log "ok: gateway: tcp/22 to web refused (ICMP 3/13 through the tunnel) in $ms ms"
ms=$(tcp_refused 22 fd50::2) || fail "IPv6 tcp/22: the gateway did not refuse at once ($ms)"
ns_log "ok: gateway: tcp/22 to web6 refused (ICMPv6 1/1 through the tunnel) in $ms ms"
pingout=$(ip netns exec "$C" ping -c 1 -W 2 10.50.0.2 2>&1)
echo "$pingout" | grep -qi 'filtered\|prohibited' ||
	{ echo "$pingout"; fail "ping: no 'prohibited' answer from the gateway"; }
grep -q 'access: client .* to resource .* filters .tcp 80-80.' "$T/gateway.log" ||
	fail "the gateway logged no access with the filter"
ns_log "ok: gateway: ping to web answered 'prohibited'"
grep -q '"access: own self to resource' "$T/client1.log" &&
	! grep -q '"access: own' "$T/client2.log" ||
	fail "the client's own check was not on, then off"
ip netns exec "$C" curl -s -m 2 http://10.50.0.3/ >/dev/null &&
	fail "db reached without a policy (client check off)"

# --- the return direction: only from what the client may reach ----------
CIP=$(st client | sed -n 's/^addresses: *\([0-9.]*\).*/\1/p')
[ -n "$CIP" ] || fail "no client address in fzctl status"
ns_bg "$C" "$T/ctun.log" tcpdump -i tun-firezone --immediate-mode -n -U -l 'udp port 9999'
CTUN_PID=$BG_PID
ns_wait_for grep -q 'listening on' "$T/ctun.log" || fail "tcpdump in C"
for src in 10.50.0.2 10.50.0.3; do
	ip netns exec "$H" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
for _ in range(3): s.sendto(b"unsolicited", (sys.argv[2], 9999))
' "$src" "$CIP" || fail "sending from $src on H"
done
ns_wait_for grep -q '10.50.0.2\.[0-9]* > ' "$T/ctun.log" ||
	{ cat "$T/ctun.log"; fail "web's packet did not reach the client"; }
sleep 0.5
kill "$CTUN_PID"
! grep -q '10.50.0.3\.[0-9]* > ' "$T/ctun.log" ||
	{ cat "$T/ctun.log"; fail "db's packet reached the client through the gateway"; }
# (the client's cryptokey routing would drop it too: the gateway's log
# says who did)
grep -q 'to a client: 10.50.0.3 -> [0-9.]* proto 17 port 9999: drop' "$T/gateway.log" ||
	fail "the gateway did not drop db's packet to the client"
# Its own kernel's multicast on the TUN (router solicitations, MLD) is for
# no client: dropped without a log line taking the refusals' budget.
! grep -q 'to a client: fe80:[0-9a-f:]* -> ff02:' "$T/gateway.log" ||
	fail "the gateway logged its own link-local multicast as a refusal"
ns_log "ok: gateway: from web to the client passes, from db (no access) dropped"

# --- what the gateway's TUN saw -------------------------------------------
sleep 0.5
kill "$TCPDUMP_PID"
ns_wait_for sh -c "! kill -0 $TCPDUMP_PID" || fail "tcpdump does not stop"
n80=$(tcpdump -r "$T/gtun.pcap" -n 'dst host 10.50.0.2 and tcp dst port 80' 2>/dev/null | wc -l)
n22=$(tcpdump -r "$T/gtun.pcap" -n 'tcp dst port 22 or (ip6 and tcp dst port 22)' 2>/dev/null | wc -l)
n6=$(tcpdump -r "$T/gtun.pcap" -n 'ip6 and dst host fd50::2 and tcp dst port 80' 2>/dev/null | wc -l)
nicmp=$(tcpdump -r "$T/gtun.pcap" -n 'dst host 10.50.0.2 and icmp' 2>/dev/null | wc -l)
ndb=$(tcpdump -r "$T/gtun.pcap" -n 'dst host 10.50.0.3' 2>/dev/null | wc -l)
ns_log "gateway TUN: $n80 packets to web:80, $n6 to web6:80, $n22 to port 22, $nicmp ICMP to web, $ndb to db"
[ "$n80" -gt 0 ] && [ "$n6" -gt 0 ] || fail "the capture on the gateway's TUN saw nothing"
[ "$n22" = 0 ] && [ "$nicmp" = 0 ] || fail "refused packets reached the gateway's TUN"
[ "$ndb" = 0 ] || fail "packets for db reached the gateway's TUN"
ns_log "ok: refused packets and db never reached the gateway's TUN"

# --- flow logs (FIREZONE_FLOW_LOGS=true on the gateway) --------------------
# curl's flows ended with FIN more than 5 s ago or end within 7 s.
flow80() { grep '"target":"flow_logs"' "$T/gateway.log" | grep -F '\"dst\":\"10.50.0.2\",\"dst_port\":80,'; }
FZ_WAIT=10 ns_wait_for flow80 || fail "no flow-log line for HTTP to web"
line=$(flow80 | tail -n 1)
echo "$line" | grep -q '\\"client_id\\":\\"[0-9a-f-]*\\",\\"resource_id\\":\\"[0-9a-f-]*\\",\\"protocol\\":\\"tcp\\",\\"src\\":\\"100\.64\.[0-9.]*\\",\\"src_port\\":[1-9][0-9]*,' &&
	echo "$line" | grep -q '\\"tx_bytes\\":[1-9][0-9]*,\\"tx_packets\\":[1-9][0-9]*,\\"rx_bytes\\":[1-9][0-9]*,\\"rx_packets\\":[1-9][0-9]*,\\"start\\":\\"20[0-9-]*T[0-9:.]*Z\\",\\"end\\":\\"20[0-9-]*T[0-9:.]*Z\\"' ||
	{ echo "$line"; fail "the flow-log line lacks a field"; }
! grep '"target":"flow_logs"' "$T/gateway.log" | grep -qF '\"dst_port\":22,' ||
	fail "a refused flow was logged as a flow"
ns_log "ok: flow logs: one line per flow, e.g. $(echo "$line" | sed 's/.*"message":"//; s/","pid.*//')"

# --- resource_updated and reject_access from the portal (SIGHUP) ----------
portal_config 22 true
kill -HUP "$PORTALD_PID"
ns_wait_for grep -q "resource [0-9a-f-]*: filters 'tcp 22-22'" "$T/gateway.log" ||
	fail "the gateway did not take web's new filter"
ms=$(tcp_refused 80 10.50.0.2) || fail "tcp/80 after the filter change: not refused ($ms)"
ip netns exec "$C" python3 -c 'import socket; socket.create_connection(("10.50.0.2", 22), 3).close()' ||
	fail "tcp/22 after the filter change: no connection"
ns_log "ok: resource_updated: tcp/80 now refused by the gateway in $ms ms, tcp/22 connects"
portal_config 22 false
kill -HUP "$PORTALD_PID"
ns_wait_for grep -q 'access: [0-9a-f-]* to resource [0-9a-f-]* removed' "$T/gateway.log" ||
	fail "the gateway did not remove the revoked access"
ip netns exec "$C" python3 -c 'import socket; socket.create_connection(("10.50.0.2", 22), 2).close()' 2>/dev/null &&
	fail "tcp/22 still connects after reject_access"
ns_log "ok: reject_access: the access is gone, web unreachable"
exit 0
