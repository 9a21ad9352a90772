#!/bin/bash
# SPDX-License-Identifier: ISC
#
# SRV and TXT for DNS resources (issue 14, firezone-protocols.md §4.4, §5.1;
# root, network namespaces): fz-portald in P (a router too), the client in
# C, the gateway in G, a small authoritative server for corp.test
# (tests/netns/dns_srvtxt.py) in R, named by G's own resolv.conf
# (/etc/netns/G/resolv.conf) and by C's (the stub's upstream).
#  - the gateway's DNS server: dig @<its tunnel ipv4/ipv6> -p 53535 in G,
#    UDP and TCP, answers SRV/TXT from R's server (asked from G's address)
#  - the client: dig @100.100.111.1 SRV _http._tcp.app.corp.test and TXT
#    app.corp.test go to the gateway through the tunnel (R sees them from
#    G, not from C) and answer what R says, also before any connection to
#    the gateway (the query asks for the resource's authorization), over
#    TCP (to the gateway over TCP too) and over the IPv6 sentinel; a name of no resource still goes straight to
#    the upstream
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_fz_setup python3 dig
AUTH="${top_srcdir:-$(dirname "$0")/../..}/tests/netns/dns_srvtxt.py"

ns_new p; P=$NS
ns_new c; C=$NS
ns_new g; G=$NS
ns_new r; R=$NS
ns_on_cleanup "rm -rf '/etc/netns/$C' '/etc/netns/$G'; rmdir /etc/netns 2>/dev/null"
ns_link "$P" 10.99.1.1 "$C" 10.99.1.2
ns_link "$P" 10.99.2.1 "$G" 10.99.2.2
ns_link "$P" 10.99.3.1 "$R" 10.99.3.2
ip netns exec "$P" sysctl -qw net.ipv4.ip_forward=1
for n in "$C:10.99.1.1" "$G:10.99.2.1" "$R:10.99.3.1"; do
	ip -n "${n%%:*}" route add default via "${n#*:}"
done
# G's and C's own resolv.conf (ip netns exec binds them over
# /etc/resolv.conf): R's server; C's also an IPv6 one, for a second sentinel.
mkdir -p "/etc/netns/$C" "/etc/netns/$G"
printf 'nameserver 10.99.3.2\n' > "/etc/netns/$G/resolv.conf"
printf 'nameserver 10.99.3.2\nnameserver fd99::53\n' > "/etc/netns/$C/resolv.conf"
PORT=8080

ns_bg "$R" "$T/auth.log" python3 "$AUTH" 10.99.3.2
CTOK="alice-$RANDOM$RANDOM"
GTOK="gw-hq-$RANDOM$RANDOM"
cat > "$T/portal.json" <<EOF2
{ "account": {"slug": "acme"},
  "relay_token": "relay-$RANDOM",
  "turn_servers": [],
  "sites": [{"name": "hq", "gateway_token": "$GTOK"}],
  "resources": [
    {"name": "app", "type": "dns", "address": "**.app.corp.test", "site": "hq"}],
  "clients": [{"name": "alice", "token": "$CTOK", "groups": ["eng"]}],
  "policies": [{"group": "eng", "resource": "app"}] }
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
	for f in portald gateway client auth; do
		[ -f "$T/$f.log" ] && { echo "--- $f"; grep -v '"DEBUG"' "$T/$f.log" | tail -n 40; }
	done
	grep -h '"gwdns"\|"dns"' "$T/gateway.log" "$T/client.log" 2>/dev/null | tail -n 30
	return 0
}
fail() { dump; ns_fail "$*"; }

# --- the gateway's DNS server on its tunnel addresses -----------------------
start_device "$G" gateway gateway "ws://10.99.2.1:$PORT" "$GTOK" "$GID" disabled gateway
ns_wait_for state_is gateway online || fail "the gateway is not online"
tun_ip() { ip -n "$2" -j addr show dev tun-firezone | python3 -c "
import json, sys
for a in json.load(sys.stdin)[0]['addr_info']:
    if a['family'] == '$1' and a.get('scope') == 'global': print(a['local'])"; }
ns_wait_for sh -c "ip -n '$G' addr show dev tun-firezone | grep -q 'inet '" ||
	fail "the gateway has no tunnel address"
GW4=$(tun_ip inet "$G")
GW6=$(tun_ip inet6 "$G")
[ -n "$GW4" ] && [ -n "$GW6" ] || fail "tunnel addresses '$GW4' '$GW6'"
listening() { ip netns exec "$G" ss -Hlnu "sport = :53535" | grep -q "$GW4" &&
	ip netns exec "$G" ss -Hlnt "sport = :53535" | grep -q "$GW6"; }
ns_wait_for listening || fail "nothing listens on $GW4/$GW6 port 53535"
# fz-controld (nobody, seccomp) owns the sockets, not fz-tunneld
owner=$(ip netns exec "$G" ss -Hlnup "sport = :53535" | grep -o 'fz-controld' | head -n 1)
[ "$owner" = fz-controld ] || fail "the :53535 socket belongs to '$owner'"
gdig() { ip netns exec "$G" dig +short +time=2 +tries=2 -p 53535 "$@"; }
SRV_WANT="0 5 8080 app.corp.test."
for s in "$GW4" "$GW6"; do
	for tcp in +notcp +tcp; do
		[ "$(gdig $tcp @"$s" SRV _http._tcp.app.corp.test)" = "$SRV_WANT" ] ||
			fail "SRV through the gateway's $s:53535 ($tcp): '$(gdig $tcp @"$s" SRV _http._tcp.app.corp.test)'"
		[ "$(gdig $tcp @"$s" TXT app.corp.test)" = '"v=fz-test"' ] ||
			fail "TXT through the gateway's $s:53535 ($tcp)"
	done
done
ip netns exec "$G" dig +time=2 +tries=1 -p 53535 @"$GW4" TXT nothing.corp.test |
	grep -q 'status: NXDOMAIN' || fail "NXDOMAIN not passed through"
grep -q '^_http._tcp.app.corp.test 33 10.99.2.2$' "$T/auth.log" ||
	fail "R's server saw no SRV query from the gateway"
grep -q '^firezone.dev 1 10.99.2.2$' "$T/auth.log" ||
	fail "the gateway did not probe its nameserver with firezone.dev"
ns_log "ok: the gateway answers SRV/TXT on $GW4:53535 and [$GW6]:53535 (UDP, TCP) from its resolv.conf's server"

# --- the client: SRV/TXT to the gateway through the tunnel ------------------
start_device "$C" client client "ws://10.99.1.1:$PORT" "$CTOK" "$CID" etc-resolv-conf client
ns_wait_for state_is client online || fail "the client is not online"
ns_wait_for grep -q '^nameserver 100.100.111.1$' "/etc/netns/$C/resolv.conf" ||
	fail "resolv.conf not pointed at the sentinel"
qdig() { ip netns exec "$C" dig +short +time=2 +tries=3 "$@"; }
# the first query: no connection yet, its authorization requested
[ "$(qdig @100.100.111.1 SRV _http._tcp.app.corp.test)" = "$SRV_WANT" ] ||
	fail "SRV via the stub: '$(qdig @100.100.111.1 SRV _http._tcp.app.corp.test)'"
grep -q '^_http._tcp.app.corp.test 33 10.99.1.2$' "$T/auth.log" &&
	fail "the client asked R's server itself"
[ "$(grep -c '^_http._tcp.app.corp.test 33 10.99.2.2$' "$T/auth.log")" -ge 2 ] ||
	fail "the client's SRV query did not come through the gateway"
[ "$(qdig @100.100.111.1 TXT app.corp.test)" = '"v=fz-test"' ] ||
	fail "TXT via the stub"
[ "$(qdig +tcp @100.100.111.1 TXT app.corp.test)" = '"v=fz-test"' ] ||
	fail "TXT via the stub over TCP"
# ... and over TCP to the gateway too (§4.4: as received)
C4=$(tun_ip inet "$C")
grep -q "DNS TCP client $C4:" "$T/gateway.log" ||
	fail "the query over TCP did not reach the gateway over TCP"
[ "$(qdig @fd00:2021:1111:8000:100:100:111:0 TXT app.corp.test)" = '"v=fz-test"' ] ||
	fail "TXT via the IPv6 sentinel (to the gateway's IPv6 tunnel address)"
! grep -q '^app.corp.test 16 10.99.1.2$' "$T/auth.log" ||
	fail "the client asked R's server itself for TXT"
# a name of no resource: straight to the upstream, from C
qdig @100.100.111.1 TXT other.corp.test >/dev/null
grep -q '^other.corp.test 16 10.99.1.2$' "$T/auth.log" ||
	fail "a name of no resource was not forwarded straight to the upstream"
ns_log "ok: client SRV/TXT for a DNS resource answered by the gateway's resolver through the tunnel (UDP, TCP, IPv4 and IPv6 sentinels)"
exit 0
