#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Peers and paths in service mode (root; network namespaces): a client
# (fz-tunneld --mode client) in C and a gateway (--mode gateway) in G, each
# with a FAKE fz-controld (tests/netns/fake_controld.py, speaking the IPC
# of ipc/ipc_msg.def on fds 3 and 4 and taking its orders from files), and
# a real fz-relayd in R on links to both.
#  - LOCAL_SOCKETS: sent on sign-in, the data plane's port at the host's
#    addresses
#  - PEER_SET with a direct path and a PSK on both sides (the client
#    initiates): ping across the tunnel; the PSK in no log
#  - CONN_WANTED for a packet to an address no peer has, once per 2 s, on
#    the client only; the packet is held and goes out once a peer has it
#  - a TURN allocation on fz-relayd made by the fake client controld
#    through fz-tunneld's own socket (DGRAM_DOWN / DGRAM_UP), a channel
#    bound to the gateway; PEER_SET switches the client to the relayed
#    path (the gateway to the relayed address) and the direct link goes
#    down: ping still works, by ChannelData (the relay's counters; the
#    session is the same: roaming, no new handshake needed)
#  - PEER_DEL: ping fails
#  - a PEER_SET that does not parse is a violation: killed, restarted
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
command -v python3 >/dev/null || ns_skip "python3 not installed"
TUNNELD="$top_builddir/fz-tunneld"
RELAYD="$top_builddir/fz-relayd"
FZCTL="$top_builddir/fzctl"
FAKE="${top_srcdir:-$(dirname "$0")/../..}/tests/netns/fake_controld.py"
FZ_WAIT=10
T=$(mktemp -d /tmp/fz-paths-t.XXXXXX)
W=$(mktemp -d /tmp/fz-paths-w.XXXXXX)	# the fakes run as nobody
chmod 0755 "$W"
ns_on_cleanup "rm -rf '$W'; [ -n \"\${FZ_KEEP_TMP:-}\" ] || rm -rf '$T'"
cp "$FAKE" "$W/fake_controld.py"
chmod 0755 "$W/fake_controld.py"

ns_new c; C=$NS
ns_new g; G=$NS
ns_new r; R=$NS
ns_link "$C" 10.98.1.1 "$G" 10.98.1.2; CG_LINK=$LINK_A
ns_link "$C" 10.98.2.1 "$R" 10.98.2.2; RC_LINK=$LINK_B
ns_link "$G" 10.98.3.1 "$R" 10.98.3.2

# fake NAME IPV4 IPV6: its directory $W/NAME and wrapper $W/controld-NAME
fake() {
	mkdir -p -m 0777 "$W/$1" "$W/$1/cmd"
	cat > "$W/controld-$1" <<SH
#!/bin/sh
exec python3 "$W/fake_controld.py" "$W/$1" $2 $3
SH
	chmod 0755 "$W/controld-$1"
}
fake client 100.64.0.2 fd00:2021:1111::2
fake gateway 100.64.0.1 fd00:2021:1111::1
start() {	# NS NAME MODE
	ns_bg "$1" "$T/$2.log" env FIREZONE_TOKEN=x "$TUNNELD" --mode "$3" \
		--socket "$T/$2.sock" --state-dir "$T" --firezone-id "$2" \
		--token-path "$T/none" --api-url "ws://127.0.0.1:9" \
		--user nobody --controld "$W/controld-$2" --dns-control disabled \
		--seccomp off --log-format json --log-filter debug
	eval "${2}_PID=\$BG_PID"
}
start "$C" client client
start "$G" gateway gateway
dump() {
	for f in client gateway relay; do
		[ -f "$T/$f.log" ] && { echo "--- $f"; tail -n 30 "$T/$f.log"; }
		[ -f "$W/$f/events" ] && { echo "--- $f events"; tail -n 20 "$W/$f/events"; }
	done
	return 0
}
fail() { dump; ns_fail "$*"; }
N=0
order() {	# NAME JSON
	N=$((N + 1))
	printf '%s\n' "$2" > "$W/$1/cmd/.$N.tmp"
	mv "$W/$1/cmd/.$N.tmp" "$W/$1/cmd/$(printf %04d $N).json"
	[ -n "${NOWAIT:-}" ] && return 0
	ns_wait_for grep -q "^DONE $(printf %04d $N).json" "$W/$1/events" ||
		fail "$1 did not take order $N"
}

for n in client gateway; do
	ns_wait_for grep -q "^LOCAL_SOCKETS " "$W/$n/events" ||
		fail "$n: no LOCAL_SOCKETS"
done
CPUB=$(cat "$W/client/pub"); GPUB=$(cat "$W/gateway/pub")
sockets() { sed -n 's/^LOCAL_SOCKETS //p' "$W/$1/events" | tail -1; }
CPORT=$(sockets client | grep -o '4=10\.98\.1\.1:[0-9]*' | cut -d: -f2)
GPORT=$(sockets gateway | grep -o '4=10\.98\.1\.2:[0-9]*' | cut -d: -f2)
[ -n "$CPORT" ] && [ -n "$GPORT" ] ||
	fail "LOCAL_SOCKETS without the link's address: $(sockets client) / $(sockets gateway)"
sockets client | grep -q '127\.0\.0\.1' && fail "loopback listed: $(sockets client)"
ns_log "ok: LOCAL_SOCKETS on sign-in: client $(sockets client)"
ns_wait_for sh -c "ip -n '$C' -4 addr show dev tun-firezone | grep -q 100.64.0.2" ||
	fail "client: INTERFACE not applied"
ns_wait_for sh -c "ip -n '$G' -4 addr show dev tun-firezone | grep -q 100.64.0.1" ||
	fail "gateway: INTERFACE not applied"
ns_wait_for sh -c "ip -n '$C' route show table 0x2021fd00 | grep -q '^100.64.0.0/11 dev tun-firezone'" ||
	fail "client: no route for the device range (table 0x2021fd00)"
ip -n "$G" route add 100.64.0.0/11 dev tun-firezone

# --- direct ---------------------------------------------------------------------
# A PSK on both sides: the handshake works only if both took it.
PSK=$(head -c 32 /dev/urandom | base64)
peer() {	# NAME KEY ALLOWED REMOTE RELAY CHANNEL INITIATE
	order "$1" "{\"peer_set\": {\"peer_id\": \"p-$1\", \"public_key\": \"$2\",
	    \"psk\": \"$PSK\",
	    \"allowed_ips\": \"$3\", \"sock\": 4, \"remote\": \"$4\",
	    \"relay\": \"$5\", \"channel\": $6, \"initiate\": $7}}"
}
peer gateway "$CPUB" "100.64.0.2/32" "10.98.1.1:$CPORT" "" 0 false
# A gateway forwards nothing from a client it has no access for (what
# create_authorization gives it; fz-controld sends ACCESS_SET).
order gateway '{"access_set": {"client_id": "p-gateway", "ipv4": "100.64.0.2",
    "ipv6": "fd00:2021:1111::2", "resource_id": "r-lan", "type": "cidr",
    "address": "10.98.99.0/24"}}'
# The first packet, before the client has the peer: CONN_WANTED, and the
# packet is held until PEER_SET, then goes out: this one ping succeeds.
ip netns exec "$C" ping -c 1 -W 8 100.64.0.1 >/dev/null &
HELD=$!
ns_wait_for grep -q "^CONN_WANTED 100.64.0.1$" "$W/client/events" ||
	fail "no CONN_WANTED for the gateway's address"
peer client "$GPUB" "100.64.0.1/32, fd00:2021:1111::1/128" \
	"10.98.1.2:$GPORT" "" 0 true
wait "$HELD" || fail "the held first packet did not go out once connected"
ns_log "ok: the first packet to 100.64.0.1: CONN_WANTED, held, sent once the peer was set"
ping_ok() { ip netns exec "$C" ping -c 1 -W 1 100.64.0.1 >/dev/null; }
ns_wait_for ping_ok || fail "no ping across the tunnel on the direct path"
ip netns exec "$C" ping -c 3 -i 0.2 -W 1 100.64.0.1 >/dev/null ||
	fail "ping across the direct path lost packets"
grep -q "session established" "$T/client.log" || fail "no session logged"
ns_log "ok: PEER_SET on both sides, direct path: ping across the tunnel"

# --- CONN_WANTED ----------------------------------------------------------------
ip netns exec "$C" ping -c 5 -i 0.2 -W 1 100.64.0.99 >/dev/null 2>&1
ns_wait_for grep -q "^CONN_WANTED 100.64.0.99$" "$W/client/events" ||
	fail "no CONN_WANTED for 100.64.0.99"
[ "$(grep -c '^CONN_WANTED 100.64.0.99$' "$W/client/events")" = 1 ] ||
	fail "CONN_WANTED not rate-limited: $(grep -c '^CONN_WANTED' "$W/client/events")"
sleep 2.1
ip netns exec "$C" ping -c 1 -W 1 100.64.0.99 >/dev/null 2>&1
ns_wait_for sh -c "[ \$(grep -c '^CONN_WANTED 100.64.0.99$' '$W/client/events') = 2 ]" ||
	fail "no second CONN_WANTED after 2 s"
[ "$(grep -c "^CONN_WANTED 100.64.0.1$" "$W/client/events")" = 1 ] ||
	fail "CONN_WANTED for an address a peer has"
ip netns exec "$G" ping -c 1 -W 1 100.64.0.77 >/dev/null 2>&1
sleep 0.3
grep -q "^CONN_WANTED" "$W/gateway/events" &&
	fail "a gateway sent CONN_WANTED: $(grep '^CONN_WANTED' "$W/gateway/events")"
grep -q "^CONN_WANTED ff02::\|^CONN_WANTED fe80:" "$W/client/events" &&
	fail "CONN_WANTED for multicast or link-local"
ns_log "ok: CONN_WANTED for a destination with no peer, once per 2 s (client only; never multicast)"

# --- PEER_STATS -----------------------------------------------------------------
# The data plane's per-peer counters go up to fz-controld (every 5 s, when
# they moved): the ICE agents' active/idle profiles follow the traffic.
stats_moved() {	# NAME KEY: a PEER_STATS entry for KEY with both counters > 0
	grep "^PEER_STATS " "$W/$1/events" | tr ';' '\n' |
		grep -q "$2 [1-9][0-9]* [1-9][0-9]*$"
}
FZ_WAIT=12 ns_wait_for stats_moved client "$GPUB" ||
	fail "no PEER_STATS with the gateway's counters: $(grep '^PEER_STATS' "$W/client/events" | tail -n 1)"
FZ_WAIT=12 ns_wait_for stats_moved gateway "$CPUB" ||
	fail "no PEER_STATS with the client's counters"
ns_log "ok: PEER_STATS: per-peer byte counters to fz-controld"

# --- relayed ---------------------------------------------------------------------
# fz-relayd in R (TURN REST credentials from a shared secret); the fake
# client fz-controld allocates through fz-tunneld's own socket and binds
# channel 0x4001 to the gateway's address.
SECRET="paths-$RANDOM$RANDOM"
ns_bg "$R" "$T/relay.log" "$RELAYD" --public-ip4-addr 10.98.3.2 \
	--static-auth-secret "$SECRET" --allow-private-peers --user nobody \
	--log-format json
ns_wait_for sh -c "ip netns exec '$R' ss -Hunl 'sport = :3478' | grep -q 3478" ||
	fail "fz-relayd does not listen"
order client "{\"turn\": {\"sock\": 4, \"server\": \"10.98.2.2:3478\",
    \"secret\": \"$SECRET\", \"peer\": \"10.98.3.1:$GPORT\", \"channel\": 16385}}"
grep -q "^TURN 10\.98\.3\.2:[0-9]*$" "$W/client/events" ||
	fail "no TURN allocation through fz-tunneld: $(grep '^TURN' "$W/client/events")"
RELAYED=$(cat "$W/client/relayed")
grep -q "^DGRAM_UP 4 10.98.2.2:3478 0113" "$W/client/events" ||
	fail "the relay's 401 did not come up as DGRAM_UP"
ns_log "ok: TURN allocation $RELAYED and a channel through fz-tunneld's socket (DGRAM_DOWN/UP)"
HS=$(grep -c "session established" "$T/client.log")
peer client "$GPUB" "100.64.0.1/32, fd00:2021:1111::1/128" "" \
	"10.98.2.2:3478" 16385 false
peer gateway "$CPUB" "100.64.0.2/32" "$RELAYED" "" 0 false
ip -n "$C" link set "$CG_LINK" down
ip netns exec "$R" tcpdump --immediate-mode -n -i "$RC_LINK" -w "$T/relay.pcap" \
	'udp port 3478' >/dev/null 2>&1 &
TCPDUMP=$!
ns_on_cleanup "kill $TCPDUMP"
sleep 1
ip netns exec "$C" ping -c 5 -i 0.2 -W 2 100.64.0.1 >/dev/null ||
	fail "ping lost packets on the relayed path"
sleep 0.5
kill -INT "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null
# ChannelData on channel 0x4001, both ways, each a WireGuard data message
CD_OUT=$(tcpdump -n -r "$T/relay.pcap" 'dst port 3478 and udp[8:2] = 0x4001 and udp[12] = 4' 2>/dev/null | wc -l)
CD_IN=$(tcpdump -n -r "$T/relay.pcap" 'src port 3478 and udp[8:2] = 0x4001 and udp[12] = 4' 2>/dev/null | wc -l)
[ "$CD_OUT" -ge 5 ] && [ "$CD_IN" -ge 5 ] ||
	fail "not ChannelData: $CD_OUT to the relay, $CD_IN from it"
[ "$(grep -c "session established" "$T/client.log")" = "$HS" ] ||
	fail "a new handshake for the path change (sessions not kept)"
ns_log "ok: relayed path via fz-relayd: ping with the direct link down, ChannelData 0x4001 ($CD_OUT out, $CD_IN in), same session"

# TCP over the relayed path: the client's TUN hands over TSO super-packets,
# sent as UDP GSO groups whose every segment carries its ChannelData header.
head -c $((20 << 20)) /dev/urandom > "$T/blob"
ip netns exec "$G" timeout 60 nc -l 100.64.0.1 5001 > "$T/blob.out" &
NCPID=$!
ns_wait_for sh -c "ip netns exec '$G' ss -Htln 'sport = :5001' | grep -q LISTEN" ||
	fail "nc does not listen"
T0=$(date +%s.%N)
ip netns exec "$C" timeout 60 nc -N 100.64.0.1 5001 < "$T/blob" ||
	fail "the transfer over the relayed path failed"
wait "$NCPID"
T1=$(date +%s.%N)
[ "$(sha256sum < "$T/blob")" = "$(sha256sum < "$T/blob.out")" ] ||
	fail "20 MB over the relayed path: $(stat -c %s "$T/blob.out") bytes, hash differs"
ns_log "ok: 20 MB by TCP over the relayed path, same hash ($(python3 -c "print('%.2f' % ($T1 - $T0))") s)"

# --- PEER_DEL -------------------------------------------------------------------
order client "{\"peer_del\": \"$GPUB\"}"
ip netns exec "$C" ping -c 2 -i 0.2 -W 1 100.64.0.1 >/dev/null 2>&1 &&
	fail "ping still works after PEER_DEL"
ns_log "ok: PEER_DEL: no more ping"

# --- a PEER_SET that does not parse: violation ----------------------------------
NOWAIT=1 peer client "$GPUB" "10.0.0.1/8" "10.98.1.2:$GPORT" "" 0 false
ns_wait_for grep -q "violated the IPC protocol on its control channel (PEER_SET that does not parse)" "$T/client.log" ||
	fail "a bad PEER_SET was not a violation"
ns_log "ok: a PEER_SET with a bad prefix: violation"
kill -0 "$client_PID" || fail "fz-tunneld died"
grep -qF "$PSK" "$T/client.log" "$T/gateway.log" && fail "the PSK in a log"
exit 0
