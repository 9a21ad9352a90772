#!/bin/bash
# SPDX-License-Identifier: ISC
#
# IPv6 between client and gateway (root; network namespaces): C, G and the
# relay R are dual-stack on links to the router P (fz-portald there, on
# IPv4), and P drops IPv4 UDP between C and G: the only direct path is
# IPv6 (the relay, IPv4 only, stays a fallback ICE must not prefer).
#  - the client's and the gateway's paths are direct over IPv6
#    ("direct to [fd73:2::2]:PORT"), fzctl status says the same
#  - ping and HTTP to the resource's IPv4 (10.50.0.2) and IPv6 (fd50::2)
#    addresses through the tunnel, which runs over IPv6
#  - P's IPv4 drop counted the IPv4 checks, and the tunnel's traffic went
#    over IPv6 (ip6 counter between C and G in P)
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib_topo.sh"
topo_init curl nft

ns_new p; P=$NS
ns_new r; R=$NS
ns_new c; C=$NS
ns_new g; G=$NS
ns_new h; H=$NS
ns_link "$P" 10.73.1.1 "$C" 10.73.1.2; CL=$LINK_B
ns_link "$P" 10.73.2.1 "$G" 10.73.2.2; GL=$LINK_B
ns_link "$P" 10.73.4.1 "$R" 10.73.4.2
ns_link "$G" 10.50.0.1 "$H" 10.50.0.2; HL=$LINK_A
ip -n "$P" addr add 10.73.0.1/32 dev lo
ip -n "$P" addr add fd73:1::1/64 dev fzv0a nodad
ip -n "$C" addr add fd73:1::2/64 dev "$CL" nodad
ip -n "$P" addr add fd73:2::1/64 dev fzv1a nodad
ip -n "$G" addr add fd73:2::2/64 dev "$GL" nodad
ip -n "$G" addr add fd50::1/64 dev "$HL" nodad
ip -n "$H" addr add fd50::2/64 dev fzv3b nodad
ip netns exec "$P" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$P" sysctl -qw net.ipv6.conf.all.forwarding=1
for n in "$C:10.73.1.1" "$G:10.73.2.1" "$R:10.73.4.1" "$H:10.50.0.1" \
    "$C:fd73:1::1" "$G:fd73:2::1" "$H:fd50::1"; do
	ip -n "${n%%:*}" route add default via "${n#*:}"
done
ip netns exec "$P" nft -f - <<'EOF' || ns_fail "nft in P"
table inet fzv6 {
	chain block {
		type filter hook forward priority 0; policy accept;
		ip saddr 10.73.1.2 ip daddr 10.73.2.2 meta l4proto udp counter drop
		ip saddr 10.73.2.2 ip daddr 10.73.1.2 meta l4proto udp counter drop
		ip6 saddr fd73:1::/64 ip6 daddr fd73:2::/64 meta l4proto udp counter
		ip6 saddr fd73:2::/64 ip6 daddr fd73:1::/64 meta l4proto udp counter
	}
}
EOF

topo_portal "$P" 10.73.0.1 \
	'{"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq"},
	 {"name": "lan6", "type": "cidr", "address": "fd50::/64", "site": "hq"}' alice
topo_relay "$R" relay 10.73.4.2
topo_http "$H" ::
topo_device "$G" gateway gateway
topo_device "$C" alice client
ns_wait_for topo_online gateway || topo_fail "the gateway is not online"
ns_wait_for topo_online alice || topo_fail "the client is not online"
topo_routes "$C" "$G" 10.50.0.0/24 fd50::/64

ping1() { ip netns exec "$C" ping -c 1 -W 1 "$1"; }
FZ_WAIT=30 ns_wait_for ping1 fd50::2 || topo_fail "no ping reply from fd50::2"
ping1 10.50.0.2 >/dev/null || topo_fail "no ping reply from 10.50.0.2"
ip netns exec "$C" curl -s -m 3 'http://[fd50::2]/' | grep -q "hello from" ||
	topo_fail "no HTTP from [fd50::2]"
ip netns exec "$C" curl -s -m 3 http://10.50.0.2/ | grep -q "hello from" ||
	topo_fail "no HTTP from 10.50.0.2"
ns_log "ok: ping and HTTP to 10.50.0.2 and fd50::2 through the tunnel ($(topo_ms) ms)"

pc=$(topo_path alice) pg=$(topo_path gateway)
ns_log "client: $pc; gateway: $pg"
case $pc in "path direct to [fd73:2::2]:"*) ;;
	*) topo_fail "the client's path is not direct over IPv6: $pc" ;; esac
v6conn() { topo_st "$1" | grep -q "^connection: .* direct to \[$2\]:[0-9]*,"; }
ns_wait_for v6conn alice fd73:2::2 || topo_fail "fzctl status (client): not direct over IPv6"
ns_wait_for v6conn gateway fd73:1::2 || topo_fail "fzctl status (gateway): not direct over IPv6"
topo_st alice | grep '^connection:'
topo_st gateway | grep '^connection:'
ctr=$(ip netns exec "$P" nft list chain inet fzv6 block | grep -o 'packets [0-9]*' |
	sed 's/packets //' | tr '\n' ' ')
ns_log "P's counters (v4 C->G dropped, G->C dropped, v6 C->G, G->C): $ctr"
set -- $ctr
[ "$3" -gt 4 ] && [ "$4" -gt 4 ] || topo_fail "no IPv6 traffic between C and G in P"
ns_log "ok: IPv6 between client and gateway: direct over IPv6, IPv4 UDP blocked ($(topo_ms) ms)"
topo_handshakes gateway alice
exit 0
