#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Relay to relay (root; network namespaces): two fz-relayd instances, A in
# RA and B in RB, both joined to fz-portald (in P, the router).  P's
# forward chain lets the client C reach only relay A and the gateway G only
# relay B, and drops everything between C and G: the only path is
# C -> A's allocation -> B's allocation -> G.
#  - both relays joined; the client lists 2 relays
#  - ping and HTTP (1 MB, sha256) from C to the resource H behind G
#  - the client's path is via relay A, the gateway's via relay B (the
#    paths fz-controld logged and fzctl status)
#  - both relays' /metrics count the transfer: >= 1 MB relayed by each
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib_topo.sh"
topo_init curl nft sha256sum

ns_new p; P=$NS
ns_new ra; RA=$NS
ns_new rb; RB=$NS
ns_new c; C=$NS
ns_new g; G=$NS
ns_new h; H=$NS
ns_link "$P" 10.71.1.1 "$C" 10.71.1.2
ns_link "$P" 10.71.2.1 "$G" 10.71.2.2
ns_link "$P" 10.71.4.1 "$RA" 10.71.4.2
ns_link "$P" 10.71.5.1 "$RB" 10.71.5.2
ns_link "$G" 10.50.0.1 "$H" 10.50.0.2
ip -n "$P" addr add 10.71.0.1/32 dev lo
ip netns exec "$P" sysctl -qw net.ipv4.ip_forward=1
for n in "$C:10.71.1.1" "$G:10.71.2.1" "$RA:10.71.4.1" "$RB:10.71.5.1" \
    "$H:10.50.0.1"; do
	ip -n "${n%%:*}" route add default via "${n#*:}"
done
ip netns exec "$P" nft -f - <<'EOF' || ns_fail "nft in P"
table ip fzr2r {
	chain block {
		type filter hook forward priority 0; policy accept;
		ip saddr 10.71.1.2 ip daddr { 10.71.2.2, 10.71.5.2 } counter drop
		ip saddr { 10.71.2.2, 10.71.5.2 } ip daddr 10.71.1.2 counter drop
		ip saddr 10.71.2.2 ip daddr { 10.71.1.2, 10.71.4.2 } counter drop
		ip saddr { 10.71.1.2, 10.71.4.2 } ip daddr 10.71.2.2 counter drop
	}
}
EOF

topo_portal "$P" 10.71.0.1 \
	'{"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq"}' alice
topo_relay "$RA" relay-a 10.71.4.2 "" 127.0.0.1:9100
topo_relay "$RB" relay-b 10.71.5.2 "" 127.0.0.1:9100
head -c 1000000 /dev/urandom > "$T/www-big" && mkdir -p "$T/www" &&
	mv "$T/www-big" "$T/www/big"
topo_http "$H" 10.50.0.2

topo_device "$G" gateway gateway
topo_device "$C" alice client
ns_wait_for topo_online gateway || topo_fail "the gateway is not online"
ns_wait_for topo_online alice || topo_fail "the client is not online"
nrelays() { topo_st alice | grep -q '^relays: *2 '; }
ns_wait_for nrelays || topo_fail "the client does not list 2 relays"
ns_log "ok: both relays joined, client and gateway online ($(topo_ms) ms)"
topo_routes "$C" "$G" 10.50.0.0/24

ping1() { ip netns exec "$C" ping -c 1 -W 1 10.50.0.2; }
FZ_WAIT=30 ns_wait_for ping1 || topo_fail "no ping reply through the relays"
ns_log "ok: ping through the tunnel ($(topo_ms) ms)"
ca=$(topo_path alice) cg=$(topo_path gateway)
ns_log "client: $ca; gateway: $cg"
case $ca in "path via relay 10.71.4.2:3478"*) ;;
	*) topo_fail "the client's path is not via relay A: $ca" ;; esac
case $cg in "path via relay 10.71.5.2:3478"*) ;;
	*) topo_fail "the gateway's path is not via relay B: $cg" ;; esac
topo_st alice | grep -q '^connection: .* relayed via 10\.71\.4\.2:3478' ||
	topo_fail "fzctl status (client): not relayed via A"
topo_st gateway | grep -q '^connection: .* relayed via 10\.71\.5\.2:3478' ||
	topo_fail "fzctl status (gateway): not relayed via B"
topo_st alice | grep '^connection:'
topo_st gateway | grep '^connection:'

ba0=$(topo_metric "$RA" 127.0.0.1:9100 fz_relay_bytes_total)
bb0=$(topo_metric "$RB" 127.0.0.1:9100 fz_relay_bytes_total)
ip netns exec "$C" curl -sf -m 20 -o "$T/big.got" http://10.50.0.2/big ||
	topo_fail "no HTTP through the relays"
[ "$(sha256sum < "$T/big.got")" = "$(sha256sum < "$T/www/big")" ] ||
	topo_fail "the download differs"
ba=$(( $(topo_metric "$RA" 127.0.0.1:9100 fz_relay_bytes_total) - ba0 ))
bb=$(( $(topo_metric "$RB" 127.0.0.1:9100 fz_relay_bytes_total) - bb0 ))
ns_log "relayed during the 1 MB download: relay A $ba B, relay B $bb B"
[ "$ba" -ge 1000000 ] || topo_fail "relay A relayed only $ba B"
[ "$bb" -ge 1000000 ] || topo_fail "relay B relayed only $bb B"
ns_log "ok: relay to relay: client -> A -> B -> gateway, 1 MB intact, each relay carried it ($(topo_ms) ms)"
topo_handshakes gateway alice
exit 0
