#!/bin/bash
# SPDX-License-Identifier: ISC
# demo: a Client reaches a resource through a Gateway: direct, relayed when direct UDP is blocked, direct again
#
# The Internet is namespace P (fz-portald on 10.88.0.1 there), fz-relayd in
# R; the Client C sits behind its own NAT router NC, the Gateway G behind
# NG (nftables masquerade), and the resource host H (10.50.0.2, a CIDR
# resource 10.50.0.0/24) behind the Gateway.  A ping and an HTTP download
# go from C to H directly (NAT to NAT); then P drops UDP between the two
# NATs and the same transfer continues through the relay, without restarting
# anything; unblocked, the path goes back to direct.
. "${top_srcdir:?}/tests/netns/lib.sh"
ns_require_root
for t in curl python3 nft; do
	command -v $t >/dev/null || ns_fail "$t is not installed (contrib/bootstrap.sh installs it)"
done
ns_tmpdir
T=$FZ_TMP
B=${top_builddir:?}
FZ_WAIT=${FZ_WAIT:-20}
# fz-controld runs as nobody: a world-readable copy (the build tree may
# sit under /root).
W=$(mktemp -d /tmp/fz-demo-w.XXXXXX); chmod 0755 "$W"
ns_on_cleanup "rm -rf '$W'"
cp "$B/fz-controld" "$W/" && chmod 0755 "$W/fz-controld"
t0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - t0) / 1000000 )); }
say() { printf '[%6s ms] %s\n' "$(ms)" "$*"; }

ns_new p; P=$NS
ns_new r; R=$NS
ns_new nc; NC=$NS
ns_new c; C=$NS
ns_new ng; NG=$NS
ns_new g; G=$NS
ns_new h; H=$NS
ns_link "$P" 10.88.4.1 "$R" 10.88.4.2
ns_link "$P" 10.88.1.1 "$NC" 10.88.1.2
ns_link "$P" 10.88.2.1 "$NG" 10.88.2.2
ns_link "$NC" 192.168.1.1 "$C" 192.168.1.2
ns_link "$NG" 192.168.2.1 "$G" 192.168.2.2
ns_link "$G" 10.50.0.1 "$H" 10.50.0.2
ip -n "$P" addr add 10.88.0.1/32 dev lo
for n in "$P" "$NC" "$NG" "$G"; do
	ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1
done
for n in "$R:10.88.4.1" "$NC:10.88.1.1" "$NG:10.88.2.1" "$C:192.168.1.1" \
    "$G:192.168.2.1" "$H:10.50.0.1"; do
	ip -n "${n%%:*}" route add default via "${n#*:}"
done
for n in "$NC:10.88.1.2" "$NG:10.88.2.2"; do
	ip netns exec "${n%%:*}" nft -f - <<EOF || ns_fail "nft in ${n%%:*}"
table ip fzdemo {
	chain post {
		type nat hook postrouting priority 100;
		oifname != "lo" ip saddr 192.168.0.0/16 masquerade
	}
	# Like a home router: nothing listens on the NAT itself, and an
	# unsolicited datagram dropped here leaves no conntrack entry that
	# would make the masquerade pick another port for the hole punch.
	chain in {
		type filter hook input priority 0;
		ip daddr ${n#*:} meta l4proto udp drop
	}
}
EOF
done
say "topology: Client 192.168.1.2 behind NAT 10.88.1.2, Gateway 192.168.2.2 behind NAT 10.88.2.2, relay 10.88.4.2, portal 10.88.0.1, resource 10.50.0.2 behind the Gateway"

umask 077
RTOK="relay-$RANDOM$RANDOM" GTOK="gw-$RANDOM$RANDOM" CTOK="alice-$RANDOM$RANDOM"
cat > "$T/portal.json" <<EOF
{ "account": {"slug": "demo"},
  "relay_token": "$RTOK",
  "sites": [{"name": "hq", "gateway_token": "$GTOK"}],
  "resources": [
    {"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq"}],
  "clients": [{"name": "alice", "token": "$CTOK", "groups": ["eng"]}],
  "policies": [{"group": "eng", "resource": "lan"}] }
EOF
umask 022
PORT=8080
ns_bg "$P" "$T/portald.log" "$B/fz-portald" --config "$T/portal.json" \
	--listen "0.0.0.0:$PORT" --state "$T/state.db"
ns_wait_for sh -c "ip netns exec '$P' ss -Htln 'sport = :$PORT' | grep -q LISTEN" ||
	{ cat "$T/portald.log"; ns_fail "fz-portald does not listen"; }
mkdir -m 0700 "$T/rcreds"
printf '%s\n' "$RTOK" > "$T/rcreds/FIREZONE_TOKEN"
chmod 0400 "$T/rcreds/FIREZONE_TOKEN"
ns_bg "$R" "$T/relay.log" env CREDENTIALS_DIRECTORY="$T/rcreds" \
	FIREZONE_API_URL="ws://10.88.0.1:$PORT" FIREZONE_NAME=relay \
	"$B/fz-relayd" --public-ip4-addr 10.88.4.2 --allow-private-peers \
	--log-format json --user nobody
ns_wait_for grep -q 'relay [0-9a-f-]* joined' "$T/portald.log" ||
	{ tail "$T/relay.log" "$T/portald.log"; ns_fail "fz-relayd did not join"; }
say "fz-portald and fz-relayd up, the relay joined"

# A resource worth transferring: 60 MB served by python3 -m http.server.
mkdir -p "$T/www"
echo "hello from the resource" > "$T/www/index.html"
head -c 60000000 /dev/urandom > "$T/www/big"
say "resource host: 60 MB of random bytes written"
# python3 -m http.server with its reverse lookup of the bound address
# left out (no DNS in the namespaces: it would stall 10 s).
ns_bg "$H" "$T/http.log" python3 -c '
import functools, http.server as hs, socketserver, sys
class S(hs.ThreadingHTTPServer):
	def server_bind(self):
		socketserver.TCPServer.server_bind(self)
		self.server_name, self.server_port = "resource", 80
S(("10.50.0.2", 80), functools.partial(hs.SimpleHTTPRequestHandler,
	directory=sys.argv[1])).serve_forever()' "$T/www"
ns_wait_for sh -c "ip netns exec '$H' ss -Htln 'sport = :80' | grep -q LISTEN" ||
	ns_fail "no HTTP server on the resource host"

dev() {	# dev NS NAME MODE TOKEN
	mkdir -p "$T/$2"; chmod 0755 "$T/$2"
	ns_bg "$1" "$T/$2.log" env FIREZONE_TOKEN="$4" FIREZONE_NAME="$2" \
		"$B/fz-tunneld" --mode "$3" --socket "$W/$2.sock" \
		--state-dir "$T/$2" --token-path "$T/$2/no-token-file" \
		--firezone-id "$(python3 -c 'import uuid; print(uuid.uuid4())')" \
		--api-url "ws://10.88.0.1:$PORT" --user nobody \
		--controld "$W/fz-controld" --dns-control disabled \
		--log-format json --log-filter info
}
say "starting the Gateway and the Client (fz-tunneld, fz-controld as nobody)"
dev "$G" gateway gateway "$GTOK"
dev "$C" client client "$CTOK"
st() { "$B/fzctl" --socket "$W/$1.sock" status 2>/dev/null; }
online() { st "$1" | grep -q '^state: *online'; }
dump() {
	for f in portald relay gateway client; do
		echo "--- $f.log"; tail -n 40 "$T/$f.log"
	done
	return 0
}
fail() { dump; ns_fail "$*"; }
ns_wait_for online gateway || fail "the gateway is not online"
say "gateway online"
ns_wait_for online client || fail "the client is not online"
say "client and gateway signed in to the portal"
# The client's route to the resource is fz-tunneld's own (table
# 0x2021fd00); the gateway's route back, forwarding and masquerade of the
# tunnel addresses are still done here by hand.
ns_wait_for sh -c "ip -n '$C' route show table 0x2021fd00 | grep -q '^10.50.0.0/24 dev tun-firezone'" ||
	fail "no route to the resource on the client"
ip -n "$G" route replace 100.64.0.0/11 dev tun-firezone ||
	fail "no tun-firezone on the gateway"
ip netns exec "$G" nft -f - <<'EOF' || fail "nft in G"
table ip fzdemo {
	chain post {
		type nat hook postrouting priority 100;
		ip saddr 100.64.0.0/11 oifname != "tun-firezone" masquerade
	}
}
EOF

# path: the latest path fz-controld logged on a side
path() {
	local l
	l=$(grep -o 'path [a-z]* [a-z]* *[0-9.:]*[^"]*' "$T/$1.log" | tail -n 1)
	case $l in
	*"direct to 10.88.4.2:"*) l="$l (to the other side's relay allocation: relayed)" ;;
	esac
	printf '%s\n' "$l"
}
npaths() { grep -c 'path \(direct\|via\)' "$T/$1.log"; }
ping1() { ip netns exec "$C" ping -c 1 -W 1 10.50.0.2 >/dev/null; }

# --- direct ---------------------------------------------------------------
ns_wait_for ping1 || fail "no ping reply from the resource"
say "ping 10.50.0.2 from the client: reply"
ip netns exec "$C" curl -sf -m 3 http://10.50.0.2/ | grep -q "hello from" ||
	fail "no HTTP from the resource"
say "curl http://10.50.0.2/: \"$(ip netns exec "$C" curl -s -m 3 http://10.50.0.2/)\""
# The first pair to answer wins (as in Firezone); on a busy machine that
# can be the relayed one, and the agent moves to direct a moment later.
direct_now() { path client | grep -q 'direct to 10\.88\.2\.2:'; }
ns_wait_for direct_now ||
	fail "the client's path is not direct to the gateway's NAT: $(path client)"
say "client: $(path client)"
say "gateway: $(path gateway)"
echo "--- client: fzctl status"
st client | sed 's/^/    /'

# --- a slow transfer and a ping that keep running across the switches -----
ip netns exec "$C" curl -sS -f -m 55 --limit-rate 2M -o "$T/big.got" \
	http://10.50.0.2/big > "$T/curl.log" 2>&1 &
CURL=$!
FZ_PIDS="$FZ_PIDS $CURL"
ip netns exec "$C" ping -i 0.1 -W 1 10.50.0.2 > "$T/ping.log" 2>&1 &
PING=$!
FZ_PIDS="$FZ_PIDS $PING"
say "a 60 MB download (2 MB/s) and a ping every 100 ms started"
sleep 2

# --- relayed: P drops UDP between the NATs ---------------------------------
n0=$(npaths client)
ip netns exec "$P" nft -f - <<'EOF' || fail "nft in P"
table ip fzblock {
	chain block {
		type filter hook forward priority 0;
		ip saddr 10.88.1.2 ip daddr 10.88.2.2 meta l4proto udp drop
		ip saddr 10.88.2.2 ip daddr 10.88.1.2 meta l4proto udp drop
	}
}
EOF
tb=$(ms)
say "blocked UDP between 10.88.1.2 and 10.88.2.2 in P (nftables)"
relayed() { [ "$(npaths client)" -gt "$n0" ] && path client | grep -q 'via relay\|to 10\.88\.4\.2:'; }
FZ_WAIT=30 ns_wait_for relayed || fail "the client did not move to the relay: $(path client)"
say "client: $(path client) ($(( $(ms) - tb )) ms after the block)"
ns_wait_for ping1 || fail "no ping reply through the relay"
say "gateway: $(path gateway)"
say "the download goes on: $(stat -c %s "$T/big.got" 2>/dev/null || echo 0) bytes so far"

# --- direct again ----------------------------------------------------------
n1=$(npaths client)
ip netns exec "$P" nft delete table ip fzblock
tu=$(ms)
say "unblocked"
direct() { [ "$(npaths client)" -gt "$n1" ] && path client | grep -q 'direct to 10\.88\.2\.2:'; }
FZ_WAIT=30 ns_wait_for direct || fail "the client did not go back to direct: $(path client)"
say "client: $(path client) ($(( $(ms) - tu )) ms after the unblock)"

wait $CURL || fail "the download failed (curl $?): $(cat "$T/curl.log")"
cmp -s "$T/big.got" "$T/www/big" || fail "the download is corrupt"
say "the download completed across both switches: 60 MB, identical"
kill -INT $PING 2>/dev/null; sleep 0.3
say "ping during the switches: $(grep -o '[0-9]* packets transmitted, [0-9]* received' "$T/ping.log" || grep -c 'bytes from' "$T/ping.log")"
exit 0
