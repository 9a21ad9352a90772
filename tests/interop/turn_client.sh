#!/bin/bash
# SPDX-License-Identifier: ISC
#
# controld's TURN client (through tools/fz-turnclient) against real relays,
# on loopback in a namespace:
#  - fz-relayd with --static-auth-secret: TURN REST and Firezone-scheme
#    credentials, a dual-stack allocation (IPv4 + IPv6 relayed), channels
#    to an IPv4 and an IPv6 UDP echo peer, data both ways; CreatePermission;
#    an IPv6-only allocation; a wrong password and a wrong realm refused
#  - coturn's turnserver with use-auth-secret (its own realm, short stale
#    nonces, so a held allocation meets a 438): the same with TURN REST
#    credentials; fz-relayd with a 10 s lifetime: refreshes
#  - tshark decodes every packet to and from both relays as STUN/TURN/
#    ChannelData with no malformed-packet or error expert info
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
for t in turnserver tshark; do
	command -v $t >/dev/null || ns_skip "$t not installed"
done
[ -x /usr/bin/python3 ] || ns_skip "python3 missing"
ns_tmpdir
T=$FZ_TMP
ns_new t; N=$NS
ip -n "$N" link set lo up
ip -n "$N" addr add ::1/128 dev lo 2>/dev/null || true
X() { ip netns exec "$N" "$@"; }
SECRET="sec-$RANDOM$RANDOM"
TC="$top_builddir/tools/fz-turnclient"
[ -x "$TC" ] || ns_fail "$TC not built"

ns_bg "$N" "$T/tshark.log" tshark -q -i lo -f "udp port 3478 or udp port 3479" -w "$T/cap.pcapng"
TS=$BG_PID
ns_wait_for test -s "$T/cap.pcapng" || sleep 2

# UDP echo peers on both families.
cat >"$T/echo.py" <<'PY'
import socket, sys, threading
def serve(fam, host):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, 4480))
    while True:
        d, a = s.recvfrom(4096)
        s.sendto(d, a)
ts = [threading.Thread(target=serve, args=a, daemon=True)
      for a in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"))]
for t in ts: t.start()
print("ready", flush=True)
for t in ts: t.join()
PY
ns_bg "$N" "$T/echo.log" /usr/bin/python3 "$T/echo.py"
ns_wait_for grep -q ready "$T/echo.log" || ns_fail "echo peer"

run() {	# run NAME EXPECT(0|1) GREP ARGS...: fz-turnclient's exit and output
	local name=$1 want=$2 pat=$3 rc=0
	shift 3
	X timeout 60 "$TC" --timeout 20 "$@" >"$T/$name.out" 2>&1 || rc=$?
	if [ "$rc" != "$want" ] || ! grep -q -- "$pat" "$T/$name.out"; then
		cat "$T/$name.out"
		[ -f "$T/coturn.log" ] && grep -v 'IO method' "$T/coturn.log" | tail -15
		ns_fail "$name: exit $rc (wanted $want), or no '$pat'"
	fi
	ns_log "ok: $name: $(grep -- "$pat" "$T/$name.out" | head -1)"
}

# --- fz-relayd ---------------------------------------------------------------
ns_bg "$N" "$T/relay.log" "$top_builddir/fz-relayd" --public-ip4-addr 127.0.0.1 \
	--public-ip6-addr ::1 --listen-port 3478 --lowest-port 50000 \
	--highest-port 50999 --static-auth-secret "$SECRET" --allow-private-peers \
	--log-format json --user nobody
ns_wait_for X sh -c 'ss -lun | grep -q ":3478 "' || { cat "$T/relay.log"; ns_fail "fz-relayd did not start"; }

P="--peer 127.0.0.1:4480 --peer [::1]:4480 --count 50"
run fz-rest 0 "data ok: 100" --server 127.0.0.1:3478 --secret "$SECRET" --realm firezone $P
grep -q 'relayed=127.0.0.1:.* relayed=\[::1\]:' "$T/fz-rest.out" ||
	ns_fail "fz-relayd: no dual-stack allocation: $(cat "$T/fz-rest.out")"
grep -q 'mapped 127.0.0.1:' "$T/fz-rest.out" || ns_fail "no srflx from the Binding"
run fz-firezone 0 "data ok: 100" --server 127.0.0.1:3478 --firezone-secret "$SECRET" --realm firezone $P
run fz-permission 0 "permission for 127.0.0.1" --server 127.0.0.1:3478 --secret "$SECRET" --permission --peer 127.0.0.1:4480
run fz-over-v6 0 "data ok: 100" --server [::1]:3478 --secret "$SECRET" $P
run fz-v6only 0 "data ok: 20" --server 127.0.0.1:3478 --secret "$SECRET" --family v6 --peer [::1]:4480 --count 20
grep -q 'relayed=\[::1\]:' "$T/fz-v6only.out" || ns_fail "no IPv6 relayed address"
# A short lifetime (fz-relayd grants what is asked): refreshed twice.
run fz-refresh 0 "late permission for 127.0.0.1" --server 127.0.0.1:3478 --secret "$SECRET" --lifetime 10 --hold 12 --peer 127.0.0.1:4480 --count 5
[ "$(grep -c 'refreshed lifetime=10' "$T/fz-refresh.out")" -ge 2 ] ||
	ns_fail "fz-relayd: not refreshed: $(cat "$T/fz-refresh.out")"
run fz-badpass 1 "bad credentials" --server 127.0.0.1:3478 --user "9999999999:x" --password nope $P
run fz-badrealm 1 "unexpected realm" --server 127.0.0.1:3478 --secret "$SECRET" --realm other $P

# --- coturn -----------------------------------------------------------------
cat >"$T/turnserver.conf" <<CONF
listening-ip=127.0.0.1
listening-ip=::1
relay-ip=127.0.0.1
relay-ip=::1
listening-port=3479
min-port=51000
max-port=51999
use-auth-secret
static-auth-secret=$SECRET
realm=coturn.fz.test
allow-loopback-peers
no-cli
no-tls
no-dtls
no-multicast-peers
stale-nonce=3
log-file=stdout
simple-log
pidfile=$T/turnserver.pid
CONF
ns_bg "$N" "$T/coturn.log" turnserver -c "$T/turnserver.conf"
ns_wait_for X sh -c 'ss -lun | grep -q ":3479 "' || { cat "$T/coturn.log"; ns_fail "turnserver did not start"; }

# coturn 4.6 answers the dual-stack request with IPv4 alone (ADDRESS-ERROR-CODE
# for IPv6); the IPv6 relayed address takes a request of its own.
run coturn-rest 0 "data ok: 100" --server 127.0.0.1:3479 --secret "$SECRET" --realm coturn.fz.test --peer 127.0.0.1:4480 --count 100
grep -q 'relayed=127.0.0.1:' "$T/coturn-rest.out" || ns_fail "coturn: no IPv4 relayed address"
run coturn-v6 0 "data ok: 50" --server 127.0.0.1:3479 --secret "$SECRET" --family v6 --peer [::1]:4480 --count 50
grep -q 'relayed=\[::1\]:' "$T/coturn-v6.out" || ns_fail "coturn: no IPv6 relayed address"
run coturn-permission 0 "permission for 127.0.0.1" --server 127.0.0.1:3479 --secret "$SECRET" --permission --peer 127.0.0.1:4480
run coturn-over-v6 0 "data ok: 50" --server [::1]:3479 --secret "$SECRET" --peer 127.0.0.1:4480 --count 50
# coturn's nonces live 3 s: after 5 s the next request meets a 438.
run coturn-stale 0 "late permission for 127.0.0.1" --server 127.0.0.1:3479 --secret "$SECRET" --hold 5 --peer 127.0.0.1:4480 --count 5
run coturn-badpass 1 "bad credentials" --server 127.0.0.1:3479 --user "9999999999:x" --password nope $P
run coturn-firezone-realm 1 "unexpected realm" --server 127.0.0.1:3479 --secret "$SECRET" --realm firezone $P

# --- the wire format --------------------------------------------------------
sleep 1
kill -INT "$TS"; wait "$TS" 2>/dev/null
TS_OPTS=(-d udp.port==3479,stun)
n_stun=$(tshark -r "$T/cap.pcapng" "${TS_OPTS[@]}" -Y "stun" 2>/dev/null | wc -l)
n_cd=$(tshark -r "$T/cap.pcapng" "${TS_OPTS[@]}" -Y "stun.channel" 2>/dev/null | wc -l)
n_bad=$(tshark -r "$T/cap.pcapng" "${TS_OPTS[@]}" -Y "_ws.malformed || _ws.expert.severity >= error" 2>/dev/null | wc -l)
[ "$n_stun" -gt 100 ] || ns_fail "tshark saw only $n_stun STUN/TURN packets"
[ "$n_cd" -gt 100 ] || ns_fail "tshark saw only $n_cd ChannelData packets"
[ "$n_bad" = 0 ] || {
	tshark -r "$T/cap.pcapng" "${TS_OPTS[@]}" -Y "_ws.malformed || _ws.expert.severity >= error" | head
	ns_fail "tshark: $n_bad malformed packets"; }
ns_log "ok: tshark decoded $n_stun STUN/TURN packets ($n_cd ChannelData), 0 malformed"
n_438=$(tshark -r "$T/cap.pcapng" "${TS_OPTS[@]}" -Y "udp.srcport == 3479 && stun.att.error.class == 4 && stun.att.error == 38" 2>/dev/null | wc -l)
[ "$n_438" -ge 1 ] || ns_fail "coturn never answered 438: the stale nonce path went untested"
ns_log "ok: coturn answered 438 $n_438 times, each retried with the new nonce"
ns_log "PASS"
