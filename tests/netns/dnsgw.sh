#!/bin/bash
# SPDX-License-Identifier: ISC
#
# The gateway's side of DNS resources (issue 14; firezone-protocols.md
# §4.6, §5.2 step 6, §5.3, §5.4) with real fz-tunneld data planes (root;
# network namespaces): a client (--mode client) in C and a gateway
# (--mode gateway) in G, each with a FAKE fz-controld
# (tests/netns/fake_controld.py), and a resource host S behind G.
#  - a control packet the client's fz-controld has encrypted to the
#    gateway (P2P_DOWN) comes up at the gateway's as P2P_UP with the
#    client's key, byte for byte, and never reaches the gateway's TUN
#  - before DNSNAT_SET a proxy IP is net unreachable (ICMP 3/0)
#  - DNSNAT_SET (what the real fz-controld sends once assigned_ips was
#    accepted and the domain resolved): ping and UDP to the proxy IPs
#    reach S at the real address; replies come back from the proxy IP;
#    TCP with 4 MB back (super-packets from the TUN) arrives intact
#  - PEER_GOODBYE: the client receives a goodbye (up as P2P_UP)
#  - a DNSNAT_SET with an address outside the proxy ranges is a violation
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
command -v python3 >/dev/null || ns_skip "python3 not installed"
TUNNELD="$top_builddir/fz-tunneld"
FAKE="${top_srcdir:-$(dirname "$0")/../..}/tests/netns/fake_controld.py"
FZ_WAIT=10
T=$(mktemp -d /tmp/fz-dnsgw-t.XXXXXX)
W=$(mktemp -d /tmp/fz-dnsgw-w.XXXXXX)	# the fakes run as nobody
chmod 0755 "$W"
ns_on_cleanup "rm -rf '$W'; [ -n \"\${FZ_KEEP_TMP:-}\" ] || rm -rf '$T'"
cp "$FAKE" "$W/fake_controld.py"
chmod 0755 "$W/fake_controld.py"

ns_new c; C=$NS
ns_new g; G=$NS
ns_new s; S=$NS
ns_link "$C" 10.98.1.1 "$G" 10.98.1.2
ns_link "$G" 10.98.5.1 "$S" 10.98.5.2
ip -n "$S" route add 100.64.0.0/11 via 10.98.5.1
ip netns exec "$G" sysctl -qw net.ipv4.ip_forward=1

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
}
start "$C" client client
start "$G" gateway gateway
dump() {
	for f in client gateway; do
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
# ctl TYPE [JSON]: a control packet (p2p.h) in hex
ctl() {
	python3 - "$1" "${2:-}" <<'PY'
import struct, sys
t, body = int(sys.argv[1]), sys.argv[2].encode()
pl = bytes([t]) + bytes(7) + body
print((bytes([0x60, 0, 0, 0]) + struct.pack(">H", len(pl)) +
       bytes([0xff, 0]) + bytes(32) + pl).hex())
PY
}

for n in client gateway; do
	ns_wait_for grep -q "^LOCAL_SOCKETS " "$W/$n/events" ||
		fail "$n: no LOCAL_SOCKETS"
done
CPUB=$(cat "$W/client/pub"); GPUB=$(cat "$W/gateway/pub")
sockets() { sed -n 's/^LOCAL_SOCKETS //p' "$W/$1/events" | tail -1; }
CPORT=$(sockets client | grep -o '4=10\.98\.1\.1:[0-9]*' | cut -d: -f2)
GPORT=$(sockets gateway | grep -o '4=10\.98\.1\.2:[0-9]*' | cut -d: -f2)
[ -n "$CPORT" ] && [ -n "$GPORT" ] || fail "no LOCAL_SOCKETS on the link"
ns_wait_for sh -c "ip -n '$G' -4 addr show dev tun-firezone | grep -q 100.64.0.1" ||
	fail "gateway: INTERFACE not applied"
ns_wait_for sh -c "ip -n '$C' route show table 0x2021fd00 | grep -q '^100.96.0.0/11 dev tun-firezone'" ||
	fail "client: no route for the proxy range"
ip -n "$G" route add 100.64.0.0/11 dev tun-firezone 2>/dev/null || true

peer() {	# NAME KEY ALLOWED REMOTE INITIATE
	order "$1" "{\"peer_set\": {\"peer_id\": \"p-$1\", \"public_key\": \"$2\",
	    \"allowed_ips\": \"$3\", \"sock\": 4, \"remote\": \"$4\",
	    \"relay\": \"\", \"channel\": 0, \"initiate\": $5}}"
}
peer gateway "$CPUB" "100.64.0.2/32, fd00:2021:1111::2/128" "10.98.1.1:$CPORT" false
order gateway '{"access_set": {"client_id": "cl-1", "ipv4": "100.64.0.2",
    "ipv6": "fd00:2021:1111::2", "resource_id": "r-app", "type": "dns",
    "address": ""}}'
peer client "$GPUB" "100.64.0.1/32, fd00:2021:1111::1/128, 100.96.0.0/11, fd00:2021:1111:8000::/107" \
	"10.98.1.2:$GPORT" true
ping_gw() { ip netns exec "$C" ping -c 1 -W 1 100.64.0.1 >/dev/null; }
ns_wait_for ping_gw || fail "no ping to the gateway across the tunnel"
ns_log "ok: client and gateway connected"

# --- assigned_ips up to the gateway's fz-controld ------------------------------
A=$(ctl 0 '{"resource":"r-app","domain":"app.corp.test","proxy_ips":["100.96.0.1","100.96.0.2","100.96.0.3","100.96.0.4"]}')
order client "{\"p2p_down\": {\"public_key\": \"$GPUB\", \"hex\": \"$A\"}}"
ns_wait_for grep -q "^P2P_UP $CPUB $A\$" "$W/gateway/events" ||
	fail "assigned_ips did not come up at the gateway's fz-controld"
ns_log "ok: assigned_ips from the client up at the gateway as P2P_UP, byte for byte"

# --- no NAT yet: net unreachable --------------------------------------------------
out=$(ip netns exec "$C" ping -c 1 -W 2 100.96.0.1 2>&1)
echo "$out" | grep -q "Destination Net Unreachable" ||
	fail "a proxy IP without NAT state: $out"
ns_log "ok: a proxy IP before DNSNAT_SET: net unreachable"

# --- DNSNAT_SET: proxy -> real ----------------------------------------------------
ACTIVE=$(ctl 1 '{"resource":"r-app","domain":"app.corp.test","status":"Active"}')
order gateway "{\"dnsnat_set\": {\"client_id\": \"cl-1\", \"ipv4\": \"100.64.0.2\",
    \"ipv6\": \"fd00:2021:1111::2\", \"public_key\": \"$CPUB\",
    \"resource_id\": \"r-app\", \"domain\": \"app.corp.test\",
    \"proxies\": \"100.96.0.1, 100.96.0.2, 100.96.0.3, 100.96.0.4\",
    \"resolved\": \"10.98.5.2\", \"status\": \"$ACTIVE\"}}"
ns_wait_for grep -q "app.corp.test (resource r-app): 4 proxy IP" "$T/gateway.log" ||
	fail "DNSNAT_SET not applied"
ip netns exec "$C" ping -c 3 -i 0.2 -W 2 100.96.0.1 >/dev/null ||
	fail "no ping through the DNS NAT"
ip netns exec "$S" python3 - <<'PY' &
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.98.5.2", 7777))
s.settimeout(10)
d, a = s.recvfrom(100)
s.sendto(b"echo:" + d + (" from %s" % a[0]).encode(), a)
PY
ECHO=$!
sleep 0.5
got=$(ip netns exec "$C" python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(("100.96.0.3", 7777))	# replies only from there are taken
s.send(b"hi")
print(s.recv(100).decode())
PY
)
wait "$ECHO"
case "$got" in
echo:hi*) ;;
*) fail "UDP through the DNS NAT: '$got'" ;;
esac
ns_log "ok: DNSNAT_SET: ping and UDP to proxy IPs reach the real address and come back from the proxy IP ($got)"

# TCP both ways, 4 MB back: the resource's replies reach the gateway's TUN
# as super-packets (TSO, partial checksums), translated all the same.
ip netns exec "$S" python3 - <<'PY' &
import hashlib, socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.98.5.2", 8080))
s.listen(1)
s.settimeout(10)
c, _ = s.accept()
n = int(c.recv(16).decode())
blob = bytes((i * 7) & 0xff for i in range(n))
c.sendall(blob)
c.close()
PY
SRV=$!
sleep 0.5
got=$(ip netns exec "$C" timeout 20 python3 - <<'PY'
import hashlib, socket
n = 4 << 20
s = socket.create_connection(("100.96.0.4", 8080), timeout=10)
s.sendall(b"%d" % n)
buf = bytearray()
while True:
    d = s.recv(65536)
    if not d:
        break
    buf += d
want = bytes((i * 7) & 0xff for i in range(n))
print("ok" if bytes(buf) == want else "bad %d" % len(buf))
PY
)
wait "$SRV"
[ "$got" = ok ] || fail "TCP through the DNS NAT: '$got'"
ns_log "ok: TCP through the DNS NAT, 4 MB back intact"

# --- goodbye ----------------------------------------------------------------------
BYE=$(ctl 2)
order gateway "{\"peer_goodbye\": \"$CPUB\"}"
ns_wait_for grep -q "^P2P_UP $GPUB $BYE\$" "$W/client/events" ||
	fail "no goodbye at the client"
ns_log "ok: PEER_GOODBYE: the client got a goodbye from the gateway"

# --- a DNSNAT_SET outside the proxy ranges: a violation ---------------------------
# (the fake may be killed before it notes the order done)
NOWAIT=1 order gateway "{\"dnsnat_set\": {\"client_id\": \"cl-1\", \"ipv4\": \"100.64.0.2\",
    \"public_key\": \"$CPUB\", \"resource_id\": \"r-app\", \"domain\": \"x.test\",
    \"proxies\": \"10.0.0.1\", \"resolved\": \"10.98.5.2\", \"status\": \"$ACTIVE\"}}"
ns_wait_for grep -q "DNSNAT_SET that does not parse" "$T/gateway.log" ||
	fail "a DNSNAT_SET outside the proxy ranges was not a violation"
ns_log "ok: a DNSNAT_SET outside the proxy ranges is a violation"
