#!/bin/bash
# SPDX-License-Identifier: ISC
#
# fz-tunneld (static mode) against wireguard-go + wg(8), in namespaces:
# handshakes initiated from each side, ping both ways over IPv4 and IPv6,
# wg show against fz, a forced rekey, a restart of each peer, a 20 MB
# transfer checked by SHA-256, and the same between two fz instances; then
# fz <-> fz at the largest MTU (65472) with full-size pings, and an MTU one
# byte larger refused at configuration.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
for t in wireguard-go wg socat sha256sum; do
	command -v $t >/dev/null || ns_skip "$t not installed"
done
ns_tmpdir
T=$FZ_TMP
FZ="$top_builddir/fz-tunneld"
FZIF="fza$$"
WGIF="wgb$$"
FZB="fzb$$"

ns_new a; A=$NS
ns_new b; B=$NS
ns_link "$A" 10.99.1.1 "$B" 10.99.1.2
umask 077
for k in a b; do wg genkey > "$T/$k.key"; wg pubkey < "$T/$k.key" > "$T/$k.pub"; done
wg genpsk > "$T/psk"

conf() {	# conf FILE PRIVKEY PEERPUB ENDPOINT SELF PEER [MTU]
	cat > "$1" <<C
[Interface]
PrivateKey = $(cat "$2")
ListenPort = 51820
Address = 10.100.0.$5/24, fd00:100::$5/64
MTU = ${7:-1280}

[Peer]
PublicKey = $(cat "$3")
PresharedKey = $(cat "$T/psk")
Endpoint = $4:51820
AllowedIPs = 10.100.0.$6/32, fd00:100::$6/128
C
}
conf "$T/$FZIF.conf" "$T/a.key" "$T/b.pub" 10.99.1.2 1 2

start_fz() {	# start_fz NS CONF LOG [extra env]
	ns_bg "$1" "$3" env ${4:-} "$FZ" --config "$2" --log-filter debug
	FZ_PID=$BG_PID
	ns_wait_for test -S "/var/run/wireguard/$(basename "$2" .conf).sock" ||
		{ cat "$3"; ns_fail "fz-tunneld did not come up"; }
	# Up means sandboxed: everything below runs under the allow-list.
	ns_wait_for grep -q "seccomp on" "$3" || { cat "$3"; ns_fail "no seccomp"; }
	[ "$(awk '$1 == "Seccomp:" { print $2 }' "/proc/$FZ_PID/status")" = 2 ] ||
		ns_fail "fz-tunneld runs without a seccomp filter"
}
start_wg() {
	ns_bg "$B" "$T/wg.log" wireguard-go -f "$WGIF"
	WG_PID=$BG_PID
	ns_wait_for test -S "/var/run/wireguard/$WGIF.sock" || ns_fail "wireguard-go"
	ip netns exec "$B" wg set "$WGIF" private-key "$T/b.key" listen-port 51820 \
		peer "$(cat "$T/a.pub")" preshared-key "$T/psk" \
		endpoint 10.99.1.1:51820 allowed-ips 10.100.0.1/32,fd00:100::1/128
	ip -n "$B" addr add 10.100.0.2/24 dev "$WGIF"
	ip -n "$B" addr add fd00:100::2/64 dev "$WGIF" nodad
	ip -n "$B" link set "$WGIF" mtu 1280 up
}
pings() {	# pings NS DST [-6]
	ns_wait_for ip netns exec "$1" ping ${3:-} -c 1 -W 1 "$2" ||
		ns_fail "no ping from $1 to $2"
	ip netns exec "$1" ping ${3:-} -c 3 -i 0.2 -W 2 "$2" >/dev/null ||
		ns_fail "ping $2 lost packets"
}
transfer() {	# transfer FROMNS TONS DST
	head -c 20M /dev/urandom > "$T/in"
	rm -f "$T/out"
	ns_bg "$2" "$T/socat-srv.log" socat -u TCP-LISTEN:5001,reuseaddr OPEN:"$T/out",creat,trunc
	sleep 0.3
	ip netns exec "$1" timeout 60 socat -u OPEN:"$T/in" TCP:"$3":5001 ||
		ns_fail "transfer to $3"
	ns_wait_for sh -c "test \"\$(stat -c %s '$T/out' 2>/dev/null)\" = 20971520" ||
		ns_fail "transfer incomplete: $(stat -c %s "$T/out") bytes"
	[ "$(sha256sum < "$T/in")" = "$(sha256sum < "$T/out")" ] ||
		ns_fail "transfer corrupted"
}
hs_time() { ip netns exec "$B" wg show "$WGIF" latest-handshakes | awk '{print $2}'; }

# 1. fz initiates (its ping triggers the handshake).
start_wg
start_fz "$A" "$T/$FZIF.conf" "$T/fz.log"
pings "$A" 10.100.0.2
pings "$B" 10.100.0.1
ns_log "ok: fz-initiated handshake, ping both ways"
pings "$A" fd00:100::2 -6
pings "$B" fd00:100::1 -6
ns_log "ok: IPv6 inside the tunnel"
ip netns exec "$A" wg show "$FZIF" | grep -q "latest handshake" ||
	ns_fail "wg show against fz"
ip netns exec "$A" "$FZ" --show "$FZIF" | grep -q "transfer:" ||
	ns_fail "fz-tunneld --show"
ns_log "ok: wg show and fz-tunneld --show"
# wg set over UAPI: a keepalive on the peer, read back; a peer added and
# removed again (key allocations, peer table changes under the filter).
ip netns exec "$A" wg set "$FZIF" peer "$(cat "$T/b.pub")" persistent-keepalive 7 ||
	ns_fail "wg set against fz"
ip netns exec "$A" wg show "$FZIF" persistent-keepalive | grep -q "	7$" ||
	ns_fail "wg set keepalive not applied"
extra=$(wg genkey | wg pubkey)
ip netns exec "$A" wg set "$FZIF" peer "$extra" allowed-ips 10.100.9.9/32 ||
	ns_fail "wg set: add peer"
ip netns exec "$A" wg show "$FZIF" peers | grep -q "$extra" || ns_fail "peer not added"
ip netns exec "$A" wg set "$FZIF" peer "$extra" remove || ns_fail "wg set: remove peer"
kill -0 "$FZ_PID" || ns_fail "fz-tunneld died in wg set"
ns_log "ok: wg set against fz (keepalive, add and remove a peer)"
transfer "$A" "$B" 10.100.0.2
transfer "$B" "$A" 10.100.0.1
ns_log "ok: 20 MB each way, SHA-256 equal"

# 2. Restart fz: wireguard-go initiates this time.  SIGHUP first, then a
# SIGTERM that removes the interface and the UAPI socket, exit status 0.
kill -HUP "$FZ_PID"
ns_wait_for grep -q "SIGHUP" "$T/fz.log" || ns_fail "SIGHUP not handled"
kill "$FZ_PID"; rc=0; wait "$FZ_PID" 2>/dev/null || rc=$?
[ $rc = 0 ] || ns_fail "fz-tunneld exit status $rc after SIGTERM"
ip -n "$A" link show "$FZIF" >/dev/null 2>&1 && ns_fail "interface left after SIGTERM"
[ -e "/var/run/wireguard/$FZIF.sock" ] && ns_fail "UAPI socket left after SIGTERM"
start_fz "$A" "$T/$FZIF.conf" "$T/fz2.log"
pings "$B" 10.100.0.1
grep -q "session established" "$T/fz2.log" || ns_fail "no session after restart"
ns_log "ok: fz restarted, wireguard-go-initiated handshake"

# 3. Restart wireguard-go.
kill "$WG_PID"; wait "$WG_PID" 2>/dev/null
ns_wait_for sh -c "! ip -n $B link show $WGIF" || ns_fail "wireguard-go did not exit"
start_wg
pings "$B" 10.100.0.1
pings "$A" 10.100.0.2
ns_log "ok: wireguard-go restarted"

# 4. Rekey: fz with timers scaled down 12x rekeys after 10 s.
kill "$FZ_PID"; wait "$FZ_PID" 2>/dev/null
start_fz "$A" "$T/$FZIF.conf" "$T/fz3.log" FZ_WG_TIMER_SCALE=12
pings "$A" 10.100.0.2
first=$(hs_time)
for _ in $(seq 1 30); do
	ip netns exec "$A" ping -c 1 -W 1 10.100.0.2 >/dev/null 2>&1
	[ "$(hs_time)" != "$first" ] && break
	sleep 0.5
done
[ "$(hs_time)" != "$first" ] || ns_fail "no rekey within 25 s"
pings "$A" 10.100.0.2
ns_log "ok: rekey (handshake at $first, then $(hs_time))"
kill "$FZ_PID" "$WG_PID"; wait "$FZ_PID" "$WG_PID" 2>/dev/null

# 5. fz <-> fz.
conf "$T/$FZB.conf" "$T/b.key" "$T/a.pub" 10.99.1.1 2 1
start_fz "$A" "$T/$FZIF.conf" "$T/fz4.log"
FZA_PID=$FZ_PID
start_fz "$B" "$T/$FZB.conf" "$T/fzb.log"
pings "$A" 10.100.0.2
pings "$B" fd00:100::1 -6
transfer "$A" "$B" 10.100.0.2
ns_log "ok: fz <-> fz: ping, IPv6, 20 MB by hash"

# 6. The largest MTU: full-size packets (65472 bytes, 65504 on the wire,
# fragmented on the veth) through fz <-> fz; one byte more is refused.
kill "$FZA_PID" "$FZ_PID"; wait "$FZA_PID" "$FZ_PID" 2>/dev/null
conf "$T/$FZIF.conf" "$T/a.key" "$T/b.pub" 10.99.1.2 1 2 65473
ip netns exec "$A" "$FZ" --config "$T/$FZIF.conf" > "$T/bigmtu.log" 2>&1 &&
	ns_fail "MTU 65473 accepted"
grep -q "MTU must be 576..65472" "$T/bigmtu.log" ||
	{ cat "$T/bigmtu.log"; ns_fail "no clear error for MTU 65473"; }
conf "$T/$FZIF.conf" "$T/a.key" "$T/b.pub" 10.99.1.2 1 2 65472
conf "$T/$FZB.conf" "$T/b.key" "$T/a.pub" 10.99.1.1 2 1 65472
start_fz "$A" "$T/$FZIF.conf" "$T/fz5.log"
start_fz "$B" "$T/$FZB.conf" "$T/fzb2.log"
ip -n "$A" link show "$FZIF" | grep -q "mtu 65472" || ns_fail "MTU not set"
pings "$A" 10.100.0.2
ip netns exec "$A" ping -M do -s $((65472 - 28)) -c 3 -i 0.2 -W 2 10.100.0.2 \
	>/dev/null || ns_fail "full-size IPv4 ping at MTU 65472"
ip netns exec "$B" ping -6 -M do -s $((65472 - 48)) -c 3 -i 0.2 -W 2 \
	fd00:100::1 >/dev/null || ns_fail "full-size IPv6 ping at MTU 65472"
ip netns exec "$A" ping -M do -s $((65472 - 27)) -c 1 -W 1 10.100.0.2 \
	>/dev/null 2>&1 && ns_fail "a packet over the MTU went through"
ns_log "ok: MTU 65472: full-size pings both ways; 65473 refused"
ns_log "PASS"
exit 0
