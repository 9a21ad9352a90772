#!/bin/bash
# SPDX-License-Identifier: ISC
#
# DNS resources end to end (issue 14; firezone-protocols.md §4.3, §4.4,
# §4.6, §5.3), root, network namespaces, fz-portald: portal and router P,
# client C, gateway G, an upstream DNS server U (tests/netns/dns_upstream.py,
# the system resolver of C and of G), a resource host H behind G with a
# web server (IPv4 10.50.0.2 and IPv6 fd50::2).  Resources: "app"
# app.corp.test (filter tcp/80), "wild" *.wild.corp.test, "secret"
# secret.corp.test (another group's policy only).  The client's DNS
# control is etc-resolv-conf on C's own /etc/netns/C/resolv.conf, so
# curl resolves through the stub's sentinel.
#  - dig @100.100.111.1 app.corp.test: 4 proxy IPs (A and AAAA)
#  - curl http://app.corp.test/ (IPv4 and IPv6) gets the page through the
#    gateway: the client sent assigned_ips, the gateway resolved the name,
#    answered domain_status and translated the proxy IPs
#  - a wildcard resource's name does the same
#  - tcp/22 to a proxy IP is refused at once ("prohibited": EHOSTUNREACH
#    / EACCES), from the client or the gateway
#  - secret.corp.test is not the client's: no proxy IPs, nothing of it
#    reaches the gateway's TUN
#  - the policies go (SIGHUP): the gateway's last access goes, it says
#    goodbye, the client drops the connection; the name is no longer a
#    resource and no longer reaches the host
#  - FZ_DNSRES_BENCH=1: a 200 MB download by name (DNS-NAT on both sides)
#    beside the same through a CIDR resource (10.50.0.4/32) to the same
#    host, same run, MB/s and their ratio
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_fz_setup python3 dig curl tcpdump nft
UPSTREAM="${top_srcdir:-$(dirname "$0")/../..}/tests/netns/dns_upstream.py"

ns_new p; P=$NS
ns_new c; C=$NS
ns_new g; G=$NS
ns_new u; U=$NS
ns_new h; H=$NS
ns_on_cleanup "rm -rf '/etc/netns/$C' '/etc/netns/$G'; rmdir /etc/netns 2>/dev/null"
ns_link "$P" 10.99.1.1 "$C" 10.99.1.2
ns_link "$P" 10.99.2.1 "$G" 10.99.2.2
ns_link "$P" 10.99.5.1 "$U" 10.99.5.2
ns_link "$G" 10.50.0.1 "$H" 10.50.0.2
GDEV=$LINK_A
HDEV=$LINK_B
ip -n "$H" addr add 10.50.0.3/24 dev "$HDEV"
ip -n "$H" addr add 10.50.0.4/24 dev "$HDEV"
ip -n "$G" addr add fd50::1/64 dev "$GDEV" nodad
ip -n "$H" addr add fd50::2/64 dev "$HDEV" nodad
ip -n "$H" route add default via fd50::1
ip netns exec "$P" sysctl -qw net.ipv4.ip_forward=1
for n in "$C:10.99.1.1" "$G:10.99.2.1" "$U:10.99.5.1" "$H:10.50.0.1"; do
	ip -n "${n%%:*}" route add default via "${n#*:}"
done
# The system resolvers: U for both (ip netns exec binds these over
# /etc/resolv.conf); C's is rewritten to the sentinel by the client.
mkdir -p "/etc/netns/$C" "/etc/netns/$G"
printf 'nameserver 10.99.5.2\n' > "/etc/netns/$C/resolv.conf"
printf 'nameserver 10.99.5.2\n' > "/etc/netns/$G/resolv.conf"
PORT=8080

ns_bg "$U" "$T/upstream.log" python3 "$UPSTREAM" 10.99.5.2 \
	app.corp.test=10.50.0.2 app.corp.test=fd50::2 \
	x.wild.corp.test=10.50.0.2 x.wild.corp.test=fd50::2 \
	secret.corp.test=10.50.0.3
mkdir -p "$T/www"
echo "hello from the resource" > "$T/www/index.html"
ns_bg "$H" "$T/http.log" python3 -m http.server --bind :: \
	--directory "$T/www" 80
ns_bg "$H" "$T/l22.log" python3 -m http.server --bind :: \
	--directory "$T/www" 22
for p in 80 22; do
	ns_wait_for sh -c "ip netns exec '$H' ss -Htln 'sport = :$p' | grep -q LISTEN" ||
		ns_fail "no listener on H:$p"
done

CTOK="alice-$RANDOM$RANDOM"
GTOK="gw-hq-$RANDOM$RANDOM"
BOBTOK="bob-$RANDOM$RANDOM"
cat > "$T/portal.json" <<EOF2
{ "account": {"slug": "acme"},
  "relay_token": "relay-$RANDOM",
  "turn_servers": [],
  "sites": [{"name": "hq", "gateway_token": "$GTOK"}],
  "resources": [
    {"name": "app", "type": "dns", "address": "app.corp.test", "site": "hq",
     "filters": [{"protocol": "tcp", "ports": "80"}]},
    {"name": "wild", "type": "dns", "address": "*.wild.corp.test",
     "site": "hq"},
    {"name": "secret", "type": "dns", "address": "secret.corp.test",
     "site": "hq"},
    {"name": "host", "type": "cidr", "address": "10.50.0.4/32",
     "site": "hq"}],
  "clients": [{"name": "alice", "token": "$CTOK", "groups": ["eng"]},
    {"name": "bob", "token": "$BOBTOK", "groups": ["ops"]}],
  "policies": [{"group": "eng", "resource": "app"},
    {"group": "eng", "resource": "wild"},
    {"group": "eng", "resource": "host"},
    {"group": "ops", "resource": "secret"}] }
EOF2
ns_bg "$P" "$T/portald.log" "$PORTALD" --config "$T/portal.json" \
	--listen "0.0.0.0:$PORT" --state "$T/state.db"
PORTALD_PID=$BG_PID
ns_wait_for sh -c "ip netns exec '$P' ss -Htln 'sport = :$PORT' | grep -q LISTEN" ||
	{ cat "$T/portald.log"; ns_fail "fz-portald does not listen"; }

CID=$(python3 -c 'import uuid; print(uuid.uuid4())')
GID=$(python3 -c 'import uuid; print(uuid.uuid4())')
# start_device NS NAME MODE URL TOKEN ID DNS-CONTROL LOG
start_device() {
	local ns=$1 name=$2 mode=$3 url=$4 tok=$5 id=$6 dns=$7 log=$8
	mkdir -p "$T/$name"
	ns_bg "$ns" "$T/$log.log" env FIREZONE_TOKEN="$tok" \
		FIREZONE_NAME="$name" FZ_RESOLV_CONF_BACKUP="$T/$name.backup" \
		"$TUNNELD" --mode "$mode" \
		--socket "$T/$name.sock" --state-dir "$T/$name" \
		--token-path "$T/$name/no-token-file" --firezone-id "$id" \
		--api-url "$url" --user nobody --controld "$W/fz-controld" \
		--dns-control "$dns" --log-format json --log-filter debug
	eval "${name}_PID=\$BG_PID"
}
st() { "$FZCTL" --socket "$T/$1.sock" status 2>/dev/null; }
state_is() { st "$1" | grep -q "^state: *$2"; }
dump() {
	for f in portald gateway client upstream; do
		[ -f "$T/$f.log" ] && { echo "--- $f"; grep -v '"DEBUG"' "$T/$f.log" | tail -n 40; }
	done
	echo "--- client (DNS resources)"
	grep -i 'assigned_ips\|domain_status\|proxy IPs\|DNS resource' "$T/client.log" | tail -n 20
	echo "--- gateway (DNS resources)"
	grep -i 'assigned_ips\|domain_status\|control packet\|dns' "$T/gateway.log" | tail -n 20
	echo "--- gateway TUN"; tcpdump -n -r "$T/gtun.pcap" 2>&1 | tail -n 20
	return 0
}
fail() { dump; ns_fail "$*"; }

start_device "$G" gateway gateway "ws://10.99.2.1:$PORT" "$GTOK" "$GID" disabled gateway
ns_wait_for state_is gateway online || fail "the gateway is not online"
start_device "$C" client client "ws://10.99.1.1:$PORT" "$CTOK" "$CID" etc-resolv-conf client
ns_wait_for state_is client online || fail "the client is not online"
rc_sentinel() { grep -q '^nameserver 100.100.111.1$' "/etc/netns/$C/resolv.conf"; }
ns_wait_for rc_sentinel || fail "resolv.conf not pointed at the sentinel"
ns_log "ok: client and gateway online, the client's resolver is the sentinel"
# The gateway's routes back to the clients (set by hand, as in filter.sh).
ns_wait_for ip -n "$G" route replace 100.64.0.0/11 dev tun-firezone &&
	ip -n "$G" route replace fd00:2021:1111::/107 dev tun-firezone ||
	fail "no route to the clients on the gateway's tun-firezone"
# Everything the gateway's TUN sees.
ns_bg "$G" "$T/tcpdump.log" tcpdump -i tun-firezone --immediate-mode -n -U -w "$T/gtun.pcap"
TCPDUMP_PID=$BG_PID
ns_wait_for grep -q 'listening on' "$T/tcpdump.log" || fail "tcpdump in G"

# --- the stub: proxy IPs ---------------------------------------------------
qdig() { ip netns exec "$C" dig +short +time=2 +tries=2 "$@"; }
in_range() { python3 -c '
import ipaddress, sys
ips = sys.stdin.read().split()
assert len(ips) == 4, ips
assert all(ipaddress.ip_address(i) in ipaddress.ip_network(sys.argv[1]) for i in ips), ips' "$1"; }
qdig @100.100.111.1 app.corp.test A | in_range 100.96.0.0/11 ||
	fail "app.corp.test A: no proxy IPs ($(qdig @100.100.111.1 app.corp.test A))"
qdig @100.100.111.1 app.corp.test AAAA | in_range fd00:2021:1111:8000::/107 ||
	fail "app.corp.test AAAA: no proxy IPs"
ns_log "ok: dig @100.100.111.1 app.corp.test: 4 proxy IPs (A and AAAA)"

# --- curl through the gateway ----------------------------------------------
# ms NAME FAMILY: curl http://NAME/ (resolved by the system resolver, i.e.
# the sentinel); prints the time of the first success in ms.
page() {
	ip netns exec "$C" curl -s "-$2" -m 2 "http://$1/" 2>/dev/null |
		grep -q "hello from the resource"
}
# wait_page NAME FAMILY: page, retried for at most FZ_WAIT seconds.
wait_page() {
	local end=$(($(date +%s) + FZ_WAIT))
	while [ "$(date +%s)" -lt "$end" ]; do
		page "$1" "$2" && return 0
		sleep 0.2
	done
	return 1
}
t0=$(date +%s%N)
wait_page app.corp.test 4 || fail "curl -4 http://app.corp.test/ did not get the page"
ns_log "ok: curl -4 http://app.corp.test/ through the gateway ($((($(date +%s%N) - t0) / 1000000)) ms from the first try, connection setup included)"
wait_page app.corp.test 6 || fail "curl -6 http://app.corp.test/ did not get the page"
ns_log "ok: curl -6 http://app.corp.test/ through the gateway"
grep -q 'assigned_ips .*app.corp.test' "$T/client.log" ||
	fail "the client logged no assigned_ips for app.corp.test"
# Fresh names: each answered query refreshes the gateway's resolution.
t0=$(date +%s%N)
page app.corp.test 4 || fail "a second curl failed"
ns_log "ok: a second curl -4 (connected, confirmed): $((($(date +%s%N) - t0) / 1000000)) ms"
wait_page x.wild.corp.test 4 || fail "curl http://x.wild.corp.test/ (wildcard resource) failed"
wait_page x.wild.corp.test 6 || fail "curl -6 http://x.wild.corp.test/ (wildcard resource) failed"
ns_log "ok: curl http://x.wild.corp.test/ (*.wild.corp.test, IPv4 and IPv6)"

# --- a port outside the filter: refused at once ----------------------------
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
PX4=$(qdig @100.100.111.1 app.corp.test A | head -n 1)
PX6=$(qdig @100.100.111.1 app.corp.test AAAA | head -n 1)
ms=$(tcp_refused 22 "$PX4") || fail "tcp/22 to $PX4: not refused at once ($ms)"
ns_log "ok: tcp/22 to app.corp.test ($PX4) prohibited in $ms ms"
ms=$(tcp_refused 22 "$PX6") || fail "tcp/22 to $PX6: not refused at once ($ms)"
ns_log "ok: tcp/22 to app.corp.test ($PX6) prohibited in $ms ms"

# --- a DNS resource the client's policy lacks -------------------------------
a=$(qdig @100.100.111.1 secret.corp.test A)
[ "$a" = 10.50.0.3 ] ||
	fail "secret.corp.test: expected the upstream's answer, got '$a'"
ip netns exec "$C" curl -s -m 2 http://secret.corp.test/ >/dev/null &&
	fail "secret.corp.test reached without a policy"
grep -q 'assigned_ips .*secret' "$T/client.log" &&
	fail "assigned_ips sent for secret.corp.test"
sleep 0.5
kill "$TCPDUMP_PID" 2>/dev/null || :
ns_wait_for sh -c "! kill -0 $TCPDUMP_PID" || fail "tcpdump does not stop"
n=$(tcpdump -n -r "$T/gtun.pcap" 'host 10.50.0.3' 2>/dev/null | wc -l)
[ "$n" = 0 ] || fail "$n packet(s) for secret.corp.test reached the gateway's TUN"
n=$(tcpdump -n -r "$T/gtun.pcap" 'host 10.50.0.2 and tcp port 80' 2>/dev/null | wc -l)
[ "$n" -gt 0 ] || fail "the gateway's TUN saw none of the allowed traffic (capture: $(stat -c %s "$T/gtun.pcap" 2>&1) bytes; $(tr '\n' ' ' < "$T/tcpdump.log"); $(tcpdump -n -r "$T/gtun.pcap" 2>&1 | tail -n 2 | tr '\n' ' '))"
ns_log "ok: secret.corp.test (not the client's): no proxy IPs, no assigned_ips, nothing on the gateway's TUN"

# --- optional: throughput by name vs. the CIDR path, same run ---------------
if [ -n "${FZ_DNSRES_BENCH:-}" ]; then
	truncate -s 200M "$T/www/big"
	mbs() { ip netns exec "$C" nice curl -s -o /dev/null -m 120 \
		-w '%{speed_download}' "http://$1/big" |
		awk '{ printf "%.1f", $1 / 1e6 }'; }
	mbs 10.50.0.4 >/dev/null	# the CIDR resource's connection
	d1=$(mbs app.corp.test); c1=$(mbs 10.50.0.4)
	d2=$(mbs app.corp.test); c2=$(mbs 10.50.0.4)
	ns_log "bench: 200 MB download, MB/s: by name (DNS NAT) $d1, $d2; CIDR $c1, $c2; name/CIDR $(python3 -c "print('%.2f' % (($d1 + $d2) / ($c1 + $c2)))")"
fi

# --- the policies go: goodbye ------------------------------------------------
python3 - "$T/portal.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["policies"] = [p for p in c["policies"] if p["group"] != "eng"]
json.dump(c, open(sys.argv[1], "w"))
EOF
kill -HUP "$PORTALD_PID"
ns_wait_for grep -q 'said goodbye: connection dropped' "$T/client.log" ||
	fail "no goodbye from the gateway reached the client's connection manager"
no_proxy() { ! qdig @100.100.111.1 app.corp.test A | grep -q '^100\.'; }
ns_wait_for no_proxy ||
	fail "app.corp.test still answered with proxy IPs after its policy went"
page app.corp.test 4 && fail "app.corp.test still reached after its policy went"
ns_log "ok: policies gone: the gateway said goodbye, the client dropped the connection; app.corp.test unreachable"
