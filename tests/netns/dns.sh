#!/bin/bash
# SPDX-License-Identifier: ISC
#
# The client's routes and DNS, wired by the service (issue 14; root,
# network namespaces): fz-portald in P (a router too), the client in C,
# the gateway in G, an upstream DNS server (tests/netns/dns_upstream.py)
# in U.  The portal gives a CIDR resource (10.50.0.0/24), a DNS resource
# (app.corp.test) and the Internet Resource; no upstream_do53, so the
# stub forwards to the system's server, read from C's own resolv.conf
# (/etc/netns/C/resolv.conf, DNS control etc-resolv-conf).
#  - rules and routes: the six policy rules, the CIDR resource, proxy and
#    sentinel ranges in table 0x2021fd00, none added by hand; the portal
#    connection's socket carries the fwmark (handed over by fz-tunneld)
#  - resolv.conf rewritten to the sentinel, the original backed up
#  - dig @100.100.111.1 app.corp.test: 4 proxy IPs in 100.96.0.0/11;
#    AAAA: 4 in fd00:2021:1111:8000::/107; the same over IPv6 to the
#    second upstream's sentinel fd00:2021:1111:8000:100:100:111:0
#  - a forwarded name resolves through the upstream in U; the same over
#    TCP (dig +tcp), IPv4 and IPv6
#  - use-application-dns.net NXDOMAIN, HTTPS of app.corp.test empty, PTR
#    of its proxy IPs (IPv4, IPv6) app.corp.test., none of them upstream
#  - a packet to a proxy IP requests the DNS resource's authorization and
#    the client connects to the gateway, whose DNS NAT passes it on
#  - fzctl internet-resource on: default routes in table 0x2021fd02 (and
#    a LAN copy in 0x2021fd01, following a LAN that comes and goes);
#    curl to a public-looking address (198.51.100.7, 2001:db8:7::7 on U)
#    goes through the gateway, a private one (10.99.5.2, fd99:5::2) is
#    refused by it at once;
#    off: gone
#  - kill -9 and restart (FIREZONE_ACTIVATE_INTERNET_RESOURCE=true: the
#    default routes at once): the crashed run's backup is restored at
#    start, then rewritten again; stop: resolv.conf back, rules and routes
#    gone
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_fz_setup python3 dig curl
UPSTREAM="${top_srcdir:-$(dirname "$0")/../..}/tests/netns/dns_upstream.py"

ns_new p; P=$NS
ns_new c; C=$NS
ns_new g; G=$NS
ns_new u; U=$NS
ns_on_cleanup "rm -rf '/etc/netns/$C' '/etc/netns/$G'; rmdir /etc/netns 2>/dev/null"
ns_link "$P" 10.99.1.1 "$C" 10.99.1.2
ns_link "$P" 10.99.2.1 "$G" 10.99.2.2
PG_A=$LINK_A PG_B=$LINK_B
ns_link "$P" 10.99.5.1 "$U" 10.99.5.2
PU_A=$LINK_A PU_B=$LINK_B
ip netns exec "$P" sysctl -qw net.ipv4.ip_forward=1
for n in "$C:10.99.1.1" "$G:10.99.2.1" "$U:10.99.5.1"; do
	ip -n "${n%%:*}" route add default via "${n#*:}"
done
# C's own resolv.conf (ip netns exec binds it over /etc/resolv.conf).
mkdir -p "/etc/netns/$C"
ORIG="# C's resolver
nameserver 10.99.5.2
nameserver fd99::53
options edns0"
printf '%s\n' "$ORIG" > "/etc/netns/$C/resolv.conf"
# G resolves DNS resources' names (assigned_ips) through U too.
mkdir -p "/etc/netns/$G"
printf 'nameserver 10.99.5.2\n' > "/etc/netns/$G/resolv.conf"
RC="/etc/netns/$C/resolv.conf"
PORT=8080

ns_bg "$U" "$T/upstream.log" python3 "$UPSTREAM" 10.99.5.2
# A public-looking address (198.51.100.7, not in flt_is_special) on U,
# routed by P: the Internet Resource's target; its web server logs who
# came (G's address under G's masquerade, never C's).
ip -n "$U" addr add 198.51.100.7/32 dev lo
ip -n "$P" route add 198.51.100.7/32 via 10.99.5.2
mkdir -p "$T/www" && echo public > "$T/www/index.html"
ns_bg "$U" "$T/www.log" python3 -m http.server --bind 198.51.100.7 \
	--directory "$T/www" 80
# The same over IPv6: P routes G and U (fd99:2::/64, fd99:5::/64, ULA:
# refused under the Internet Resource) and 2001:db8:7::7 on U (not in
# flt_is_special: public-looking).
ip -n "$P" addr add fd99:2::1/64 dev "$PG_A" nodad
ip -n "$G" addr add fd99:2::2/64 dev "$PG_B" nodad
ip -n "$P" addr add fd99:5::1/64 dev "$PU_A" nodad
ip -n "$U" addr add fd99:5::2/64 dev "$PU_B" nodad
ip netns exec "$P" sysctl -qw net.ipv6.conf.all.forwarding=1
ip -n "$G" -6 route add default via fd99:2::1
ip -n "$U" -6 route add default via fd99:5::1
ip -n "$U" addr add 2001:db8:7::7/128 dev lo
ip -n "$P" -6 route add 2001:db8:7::7/128 via fd99:5::2
ns_bg "$U" "$T/www6.log" python3 -m http.server --bind 2001:db8:7::7 \
	--directory "$T/www" 80
CTOK="alice-$RANDOM$RANDOM"
GTOK="gw-hq-$RANDOM$RANDOM"
cat > "$T/portal.json" <<EOF2
{ "account": {"slug": "acme"},
  "relay_token": "relay-$RANDOM",
  "turn_servers": [],
  "sites": [{"name": "hq", "gateway_token": "$GTOK"}],
  "resources": [
    {"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq"},
    {"name": "app", "type": "dns", "address": "app.corp.test", "site": "hq"},
    {"name": "inet", "type": "internet", "site": "hq"}],
  "clients": [{"name": "alice", "token": "$CTOK", "groups": ["eng"]}],
  "policies": [{"group": "eng", "resource": "lan"},
    {"group": "eng", "resource": "app"},
    {"group": "eng", "resource": "inet"}] }
EOF2
ns_bg "$P" "$T/portald.log" "$PORTALD" --config "$T/portal.json" \
	--listen "0.0.0.0:$PORT" --state "$T/state.db"
ns_wait_for sh -c "ip netns exec '$P' ss -Htln 'sport = :$PORT' | grep -q LISTEN" ||
	{ cat "$T/portald.log"; ns_fail "fz-portald does not listen"; }

CID=$(python3 -c 'import uuid; print(uuid.uuid4())')
GID=$(python3 -c 'import uuid; print(uuid.uuid4())')
# start_device NS NAME MODE URL TOKEN ID DNS-CONTROL LOG
start_device() {
	local ns=$1 name=$2 mode=$3 url=$4 tok=$5 id=$6 dns=$7 log=$8
	mkdir -p "$T/$name"
	ns_bg "$ns" "$T/$log.log" env FIREZONE_TOKEN="$tok" \
		FIREZONE_NAME="$name" FZ_RESOLV_CONF_BACKUP="$T/resolv.backup" \
		FIREZONE_ACTIVATE_INTERNET_RESOURCE="${IR:-false}" \
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
	for f in portald gateway client1 client2 upstream www www6; do
		[ -f "$T/$f.log" ] && { echo "--- $f"; grep -v '"DEBUG"' "$T/$f.log" | tail -n 60; }
	done
	echo "--- C rules"; ip -n "$C" rule
	echo "--- C table 0x2021fd00"; ip -n "$C" route show table 0x2021fd00
	echo "--- resolv.conf"; cat "$RC"
	return 0
}
fail() { dump; ns_fail "$*"; }

start_device "$G" gateway gateway "ws://10.99.2.1:$PORT" "$GTOK" "$GID" disabled gateway
ns_wait_for state_is gateway online || fail "the gateway is not online"
start_device "$C" client client "ws://10.99.1.1:$PORT" "$CTOK" "$CID" etc-resolv-conf client1
ns_wait_for state_is client online || fail "the client is not online"
ns_log "ok: client and gateway online"

# --- routes, from the service alone ----------------------------------------
t0() { ip -n "$C" route show table 0x2021fd00; }
t0_has() { t0 | grep -q "^$1 dev tun-firezone"; }
ns_wait_for t0_has 10.50.0.0/24 || fail "no route to the CIDR resource"
for r in 100.64.0.0/11 100.96.0.0/11 100.100.111.0/24; do
	t0_has "$r" || fail "no route for $r in table 0x2021fd00"
done
n=$(ip -n "$C" rule | grep -c 'not from all fwmark 0xfd002021 lookup')
[ "$n" -ge 3 ] || fail "policy rules missing ($n)"
! ip -n "$C" route show | grep -q 10.50.0.0 ||
	fail "a resource route in the main table"
ns_log "ok: routes: rules, CIDR resource, proxy and sentinel ranges"
# The portal connection: a socket fz-tunneld marked for fz-controld.
portal_marked() { ip netns exec "$C" ss -Htne state established "dst 10.99.1.1:$PORT" | grep -q 'fwmark:0xfd002021'; }
ns_wait_for portal_marked ||
	fail "the portal connection is not fwmarked ($(ip netns exec "$C" ss -Htne "dst 10.99.1.1:$PORT"))"
ns_log "ok: the portal connection carries fwmark 0xfd002021"

# --- DNS control: etc-resolv-conf -----------------------------------------
rc_sentinel() { grep -q '^nameserver 100.100.111.1$' "$RC" &&
	grep -q '^nameserver fd00:2021:1111:8000:100:100:111:0$' "$RC"; }
ns_wait_for rc_sentinel || fail "resolv.conf not pointed at the sentinel"
! grep -q 10.99.5.2 "$RC" || fail "resolv.conf still names the system server"
[ "$(cat "$T/resolv.backup")" = "$ORIG" ] || fail "no backup of resolv.conf"
ns_log "ok: resolv.conf rewritten to the sentinels (one per upstream), backup kept"

# --- the stub through the tunnel device ------------------------------------
qdig() { ip netns exec "$C" dig +short +time=2 +tries=2 "$@"; }
in_proxy4() { python3 -c '
import ipaddress, sys
ips = sys.stdin.read().split()
assert len(ips) == 4, ips
assert all(ipaddress.ip_address(i) in ipaddress.ip_network("100.96.0.0/11") for i in ips), ips'; }
in_proxy6() { python3 -c '
import ipaddress, sys
ips = sys.stdin.read().split()
assert len(ips) == 4, ips
assert all(ipaddress.ip_address(i) in ipaddress.ip_network("fd00:2021:1111:8000::/107") for i in ips), ips'; }
qdig @100.100.111.1 app.corp.test A | in_proxy4 ||
	fail "app.corp.test A: no proxy IPs ($(qdig @100.100.111.1 app.corp.test A))"
qdig @100.100.111.1 app.corp.test AAAA | in_proxy6 ||
	fail "app.corp.test AAAA: no proxy IPs"
# the IPv6 sentinel (the unreachable fd99::53's): answered locally over IPv6
qdig @fd00:2021:1111:8000:100:100:111:0 app.corp.test A | in_proxy4 ||
	fail "app.corp.test A over the IPv6 sentinel: no proxy IPs"
[ "$(qdig @100.100.111.1 www.example.test A)" = 192.0.2.77 ] ||
	fail "a forwarded name did not resolve through the upstream"
grep -q '^www.example.test 1$' "$T/upstream.log" ||
	fail "the upstream saw no forwarded query"
# DNS over TCP to the sentinels (dnstcp.h): local and forwarded
qdig +tcp @100.100.111.1 app.corp.test A | in_proxy4 ||
	fail "app.corp.test over TCP: no proxy IPs ($(qdig +tcp @100.100.111.1 app.corp.test A))"
[ "$(qdig +tcp @100.100.111.1 tcp.example.test A)" = 192.0.2.77 ] ||
	fail "a forwarded name over TCP did not resolve"
qdig +tcp @fd00:2021:1111:8000:100:100:111:0 app.corp.test AAAA | in_proxy6 ||
	fail "app.corp.test AAAA over TCP/IPv6: no proxy IPs"
# the system resolver (resolv.conf -> sentinel) does the same
ip netns exec "$C" getent ahostsv4 app.corp.test | awk '{print $1}' | sort -u | in_proxy4 ||
	fail "getent through resolv.conf: no proxy IPs"
ns_log "ok: stub: proxy IPs for app.corp.test, www.example.test forwarded (UDP and TCP)"
# answered by the stub itself (§4.4): the canary, HTTPS of a resource's
# name (empty), PTR of a proxy IP (its name); nothing of it upstream
fdig() { ip netns exec "$C" dig +time=2 +tries=2 "$@"; }
fdig @100.100.111.1 use-application-dns.net A | grep -q 'status: NXDOMAIN' ||
	fail "use-application-dns.net: not NXDOMAIN"
out=$(fdig @100.100.111.1 app.corp.test HTTPS)
echo "$out" | grep -q 'status: NOERROR' && echo "$out" | grep -q 'ANSWER: 0,' ||
	fail "HTTPS app.corp.test: not an empty NOERROR ($out)"
PX=$(qdig @100.100.111.1 app.corp.test A | head -n 1)
[ "$(qdig @100.100.111.1 -x "$PX")" = app.corp.test. ] ||
	fail "PTR of proxy IP $PX: $(qdig @100.100.111.1 -x "$PX")"
PX6=$(qdig @100.100.111.1 app.corp.test AAAA | head -n 1)
[ "$(qdig @fd00:2021:1111:8000:100:100:111:0 -x "$PX6")" = app.corp.test. ] ||
	fail "PTR of proxy IP $PX6"
! grep -qE '^(use-application-dns.net|app.corp.test|[0-9.]*in-addr.arpa|[0-9a-f.]*ip6.arpa) ' "$T/upstream.log" ||
	fail "the upstream saw a query the stub answers ($(cat "$T/upstream.log"))"
ns_log "ok: stub: use-application-dns.net NXDOMAIN, HTTPS of a resource empty, PTR of proxy IPs $PX and $PX6 -> app.corp.test"

# --- a packet to a proxy IP asks for its DNS resource (issue 14) ------------
# CONN_WANTED(proxy IP) -> controld maps it to "app" -> request_authorization
# -> the gateway connects; the proxy IP is routed to it (its DNS NAT
# sends it to 192.0.2.77, which does not answer)
PX=$(qdig @100.100.111.1 app.corp.test A | head -n 1)
ip netns exec "$C" ping -c 1 -W 1 "$PX" >/dev/null 2>&1 || :
ns_wait_for grep -q "$PX: DNS resource .* requesting authorization" "$T/client1.log" ||
	fail "a packet to proxy IP $PX did not request its DNS resource"
ns_wait_for grep -q 'client .*: connecting' "$T/gateway.log" ||
	fail "the gateway got no authorization for the DNS resource"
ns_wait_for grep -q 'peer .*: path ' "$T/client1.log" ||
	fail "no connection to the gateway for the DNS resource"
# the proxy IP is routed to that gateway: pings reach its TUN, translated
# by its DNS NAT to U's answer 192.0.2.77 (where they go no further;
# tests/netns/dnsres.sh has the whole path)
gw_tun_rx() { ip -n "$G" -s -j link show tun-firezone | python3 -c '
import json, sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }
rx0=$(gw_tun_rx)
gw_got() { ip netns exec "$C" ping -c 1 -W 1 "$PX" >/dev/null 2>&1; [ "$(gw_tun_rx)" -gt "$rx0" ]; }
ns_wait_for gw_got || fail "pings to proxy IP $PX do not reach the gateway's TUN"
ns_log "ok: a packet to proxy IP $PX requested the DNS resource; gateway connected, pings reach its TUN"

# --- optional: answers per second, same run (FZ_DNS_BENCH=1) ----------------
if [ -n "${FZ_DNS_BENCH:-}" ]; then
	LOAD="${top_srcdir:-$(dirname "$0")/../..}/tests/netns/dns_load.py"
	load() { ip netns exec "$C" python3 "$LOAD" "$@" | cut -d' ' -f1; }
	loc=$(load 100.100.111.1 app.corp.test)
	fwd=$(load 100.100.111.1 www.example.test)
	dir=$(load 10.99.5.2 www.example.test)
	ns_log "bench: answers/s: resource name $loc, forwarded (cached) $fwd, straight to the upstream $dir; stub/upstream $(python3 -c "print('%.2f / %.2f' % ($loc / $dir, $fwd / $dir))")"
fi

# --- the Internet Resource at run time -------------------------------------
t2() { ip -n "$C" route show table 0x2021fd02 2>/dev/null; }
! t2 | grep -q default || fail "Internet Resource routed while inactive"
"$FZCTL" --socket "$T/client.sock" internet-resource on >/dev/null ||
	fail "fzctl internet-resource on"
ns_wait_for sh -c "ip -n '$C' route show table 0x2021fd02 | grep -q '^default dev tun-firezone'" ||
	fail "no default route in table 0x2021fd02"
"$FZCTL" --socket "$T/client.sock" status | grep -q '^internet: *on' ||
	fail "fzctl status does not show the Internet Resource on"
[ "$("$FZCTL" --socket "$T/client.sock" --json status | jq -r .internet_resource)" = true ] ||
	fail "fzctl --json status: internet_resource is not true"
ip -n "$C" route show table 0x2021fd01 | grep -q '^10.99.1.0/24 dev' ||
	fail "no LAN copy in table 0x2021fd01"
# a LAN that appears later is copied too (re-synced every 5 s)
ip -n "$C" link add fzlan0 type veth peer name fzlan1 &&
	ip -n "$C" addr add 10.77.0.1/24 dev fzlan0 &&
	ip -n "$C" link set fzlan1 up && ip -n "$C" link set fzlan0 up ||
	fail "a second LAN (veth)"
ns_wait_for sh -c "ip -n '$C' route show table 0x2021fd01 | grep -q '^10.77.0.0/24 dev fzlan0'" ||
	fail "a new LAN was not copied into table 0x2021fd01"
ip -n "$C" link del fzlan0
ns_wait_for sh -c "! ip -n '$C' route show table 0x2021fd01 | grep -q 10.77.0.0" ||
	fail "a removed LAN stayed in table 0x2021fd01"
ip netns exec "$C" ip route get 10.99.5.2 | grep -q 'dev tun-firezone' ||
	fail "traffic is not routed into the tunnel"
ip netns exec "$C" ip route get 10.99.5.2 mark 0xfd002021 | grep -q 'dev tun-firezone' &&
	fail "fz-marked traffic is routed into the tunnel"
# the Internet Resource end to end: a public-looking address through the
# gateway (asked for on the first packet, then G's masquerade); a private
# one (U's 10.99.5.2) refused by the gateway at once (ICMP net
# unreachable), never on its TUN
# (FZ_WAIT=4: 40 tries of at most 1.1 s)
FZ_WAIT=4 ns_wait_for sh -c "ip netns exec '$C' curl -sf -m 1 http://198.51.100.7/ | grep -q public" ||
	fail "the Internet Resource: 198.51.100.7 not reached through the gateway"
grep -q '^10.99.2.2 .*"GET / ' "$T/www.log" ||
	fail "198.51.100.7 was not reached from the gateway ($(cat "$T/www.log"))"
! grep -q '^10.99.1.2 ' "$T/www.log" || fail "198.51.100.7 was reached from C directly"
grep -q 'resource .* (0.0.0.0/0, ::/0): requesting authorization' "$T/client1.log" ||
	fail "no authorization requested for the Internet Resource"
rx0=$(gw_tun_rx)
t0=$(date +%s%N)
out=$(ip netns exec "$C" curl -s -m 5 http://10.99.5.2:81/ 2>&1; echo "rc=$?")
ms=$((($(date +%s%N) - t0) / 1000000))
case $out in *rc=7) ;; *) fail "10.99.5.2 under the Internet Resource: $out";; esac
[ "$ms" -lt 3000 ] || fail "10.99.5.2 under the Internet Resource refused after $ms ms"
ip netns exec "$C" ping -c 1 -W 2 10.99.5.2 2>&1 | grep -q 'Unreachable' ||
	fail "ping 10.99.5.2 under the Internet Resource: no unreachable"
[ "$(gw_tun_rx)" = "$rx0" ] || fail "a private address reached the gateway's TUN"
ms4=$ms
FZ_WAIT=4 ns_wait_for sh -c "ip netns exec '$C' curl -sf -m 1 'http://[2001:db8:7::7]/' | grep -q public" ||
	fail "the Internet Resource: 2001:db8:7::7 not reached through the gateway"
grep -q '^fd99:2::2 .*"GET / ' "$T/www6.log" ||
	fail "2001:db8:7::7 was not reached from the gateway ($(cat "$T/www6.log"))"
rx0=$(gw_tun_rx)
t0=$(date +%s%N)
out=$(ip netns exec "$C" curl -s -m 5 'http://[fd99:5::2]:81/' 2>&1; echo "rc=$?")
ms=$((($(date +%s%N) - t0) / 1000000))
case $out in *rc=7) ;; *) fail "fd99:5::2 under the Internet Resource: $out";; esac
[ "$ms" -lt 3000 ] || fail "fd99:5::2 under the Internet Resource refused after $ms ms"
[ "$(gw_tun_rx)" = "$rx0" ] || fail "a private IPv6 address reached the gateway's TUN"
ns_log "ok: the Internet Resource: 198.51.100.7 and 2001:db8:7::7 through the gateway; 10.99.5.2 and fd99:5::2 refused by it in $ms4 and $ms ms, never on its TUN"
"$FZCTL" --socket "$T/client.sock" internet-resource off >/dev/null ||
	fail "fzctl internet-resource off"
ns_wait_for sh -c "! ip -n '$C' route show table 0x2021fd02 | grep -q default" ||
	fail "default route left after off"
"$FZCTL" --socket "$T/client.sock" status | grep -q '^internet: *off' ||
	fail "fzctl status does not show the Internet Resource off"
ns_log "ok: fzctl internet-resource on/off toggles the default routes"

# --- crash and restart ------------------------------------------------------
kill -9 "$client_PID"
ns_wait_for sh -c "! kill -0 $client_PID" || fail "kill -9"
rc_sentinel || fail "resolv.conf changed by a kill -9?"
IR=true start_device "$C" client client "ws://10.99.1.1:$PORT" "$CTOK" "$CID" etc-resolv-conf client2
ns_wait_for grep -q 'restor' "$T/client2.log" || fail "the crashed run's backup was not restored"
ns_wait_for state_is client online || fail "the client is not online again"
ns_wait_for rc_sentinel || fail "resolv.conf not rewritten after the restart"
[ "$(cat "$T/resolv.backup")" = "$ORIG" ] || fail "the backup after the restart is not the original"
[ "$(qdig @100.100.111.1 www.example.test A)" = 192.0.2.77 ] ||
	fail "forwarding after the restart"
# FIREZONE_ACTIVATE_INTERNET_RESOURCE=true: routed from the start
ns_wait_for sh -c "ip -n '$C' route show table 0x2021fd02 | grep -q '^default dev tun-firezone'" ||
	fail "FIREZONE_ACTIVATE_INTERNET_RESOURCE=true: no default route"
ns_log "ok: kill -9, restart: backup restored, then rewritten; Internet Resource active from the setting"

# --- stop: everything back ---------------------------------------------------
kill "$client_PID"
ns_wait_for sh -c "! kill -0 $client_PID" || fail "the client does not stop"
[ "$(cat "$RC")" = "$ORIG" ] || fail "resolv.conf not restored on stop"
[ ! -e "$T/resolv.backup" ] || fail "backup left behind"
! ip -n "$C" rule | grep -q 0xfd002021 || fail "rules left behind"
for tb in 0x2021fd00 0x2021fd01 0x2021fd02; do
	[ -z "$(ip -n "$C" route show table $tb 2>/dev/null)" ] ||
		fail "routes left behind in table $tb"
done
ns_log "ok: stop: resolv.conf restored, rules and routes removed"
exit 0
