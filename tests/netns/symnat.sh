#!/bin/bash
# SPDX-License-Identifier: ISC
#
# A gateway behind a symmetric NAT (root; network namespaces): G sits
# behind NG, whose nftables masquerade is "fully-random" (a new random
# source port for every destination: the port the relay sees, the
# gateway's server-reflexive candidate, is not the port a client sees).
# Two clients: alice in C1 with a public address (no NAT), bob in C2
# behind an ordinary NAT NC (port-preserving masquerade, a port-restricted
# cone for what comes in).  fz-portald and the router in P, fz-relayd in R.
# What Firezone gets here (ICE, RFC 8445 §7.3.1.3):
#  - alice: direct.  The gateway's checks reach alice from a port alice
#    did not know (a peer-reflexive candidate, 7.3.1.3); her answer goes
#    back through the mapping the check opened.  The path the client
#    logged is direct to NG's address at a port that is not the
#    gateway's server-reflexive one (that one only the relay saw).
#  - bob: relayed.  No mapping one side opens lets the other side's
#    packets in (NC filters by address and port, NG's ports are
#    unpredictable), so the checks fail and the path goes through the
#    relay.
#  - ping and HTTP from both clients to the resource behind the gateway.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib_topo.sh"
topo_init curl nft

ns_new p; P=$NS
ns_new r; R=$NS
ns_new c1; C1=$NS
ns_new nc; NC=$NS
ns_new c2; C2=$NS
ns_new ng; NG=$NS
ns_new g; G=$NS
ns_new h; H=$NS
ns_link "$P" 10.72.4.1 "$R" 10.72.4.2
ns_link "$P" 10.72.1.1 "$C1" 10.72.1.2
ns_link "$P" 10.72.3.1 "$NC" 10.72.3.2
ns_link "$P" 10.72.2.1 "$NG" 10.72.2.2
ns_link "$NC" 192.168.3.1 "$C2" 192.168.3.2
ns_link "$NG" 192.168.2.1 "$G" 192.168.2.2
ns_link "$G" 10.50.0.1 "$H" 10.50.0.2
ip -n "$P" addr add 10.72.0.1/32 dev lo
for n in "$P" "$NC" "$NG"; do
	ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1
done
for n in "$R:10.72.4.1" "$C1:10.72.1.1" "$NC:10.72.3.1" "$NG:10.72.2.1" \
    "$C2:192.168.3.1" "$G:192.168.2.1" "$H:10.50.0.1"; do
	ip -n "${n%%:*}" route add default via "${n#*:}"
done
# nat NS PUBLIC MASQUERADE-FLAGS: a home router; nothing listens on it and
# an unsolicited datagram leaves no conntrack entry.
nat() {
	ip netns exec "$1" nft -f - <<EOF || ns_fail "nft in $1"
table ip fznat {
	chain post {
		type nat hook postrouting priority 100;
		oifname != "lo" ip saddr 192.168.0.0/16 masquerade $3
	}
	chain in {
		type filter hook input priority 0;
		ip daddr $2 meta l4proto udp drop
	}
}
EOF
}
nat "$NC" 10.72.3.2 ""
nat "$NG" 10.72.2.2 fully-random

topo_portal "$P" 10.72.0.1 \
	'{"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq"}' \
	"alice bob"
topo_relay "$R" relay 10.72.4.2
topo_http "$H" 10.50.0.2
topo_device "$G" gateway gateway
topo_device "$C1" alice client
topo_device "$C2" bob client
for d in gateway alice bob; do
	ns_wait_for topo_online $d || topo_fail "$d is not online"
done
ns_log "ok: gateway, alice and bob online ($(topo_ms) ms)"
topo_routes "$C1" "$G" 10.50.0.0/24
topo_routes "$C2" "$G" 10.50.0.0/24

ping1() { ip netns exec "$1" ping -c 1 -W 1 10.50.0.2; }
http1() { ip netns exec "$1" curl -s -m 3 http://10.50.0.2/ | grep -q "hello from"; }
for c in "$C1:alice" "$C2:bob"; do
	FZ_WAIT=30 ns_wait_for ping1 "${c%%:*}" ||
		topo_fail "${c#*:}: no ping reply from the resource"
	http1 "${c%%:*}" || topo_fail "${c#*:}: no HTTP from the resource"
done
ns_log "ok: alice and bob reach the resource ($(topo_ms) ms)"

# The NAT's mappings for the gateway's socket (NG's conntrack table): the
# port the relay saw (the gateway's server-reflexive candidate) and the
# port alice sees, for the same source port of the gateway.
ct() { ip netns exec "$NG" cat /proc/net/nf_conntrack; }
gport=$(ct | grep -o 'src=192\.168\.2\.2 dst=10\.72\.1\.2 sport=[0-9]*' |
	head -n 1 | sed 's/.*sport=//')
[ -n "$gport" ] || topo_fail "no conntrack entry from the gateway to alice in NG"
mapped() {	# mapped DST DPORT: NG's public port for gport -> DST
	ct | grep "src=192\.168\.2\.2 dst=$1 sport=$gport dport=$2 " |
		grep -o "src=$1 dst=10\.72\.2\.2 sport=$2 dport=[0-9]*" |
		head -n 1 | sed 's/.*dport=//'
}
srflx=$(mapped 10.72.4.2 3478)
pa=$(topo_path alice) pb=$(topo_path bob)
ns_log "gateway behind a fully-random NAT: its port $gport is 10.72.2.2:${srflx:-?} to the relay (server-reflexive)"
ns_log "alice (public): $pa"
ns_log "bob (behind a NAT): $pb"
case $pa in "path direct to 10.72.2.2:"*) ;;
	*) topo_fail "alice: not direct to the gateway's NAT: $pa" ;; esac
[ -n "$srflx" ] || topo_fail "no conntrack entry from the gateway's port $gport to the relay"
aport=${pa#path direct to 10.72.2.2:}
aport=${aport%% *}
[ "$aport" != "$srflx" ] ||
	topo_fail "alice reached the gateway at its server-reflexive port: the NAT is not symmetric"
ct | grep -q "src=10\.72\.1\.2 dst=10\.72\.2\.2 sport=[0-9]* dport=$aport " ||
	topo_fail "alice's path port $aport is not NG's mapping of the gateway's port to her"
ns_log "ok: alice reaches the gateway at 10.72.2.2:$aport (NG's mapping toward her, peer-reflexive), not at $srflx"
case $pb in "path via relay 10.72.4.2:3478"*|"path direct to 10.72.4.2:"*) ;;
	*) topo_fail "bob: not through the relay: $pb" ;; esac
gconns() {
	topo_st gateway | grep -q '^connection: .* direct to 10\.72\.1\.2:' &&
		topo_st gateway | grep -q '^connection: .* \(relayed via 10\.72\.4\.2:3478\|direct to 10\.72\.4\.2:\)'
}
t1=$(topo_ms)
ns_wait_for gconns || topo_fail "fzctl status on the gateway: not alice direct and bob through the relay"
ns_log "the gateway's fzctl status ($(( $(topo_ms) - t1 )) ms after both clients had replies):"
topo_st gateway | grep '^connection:'
ns_log "ok: symmetric NAT: alice direct (peer-reflexive), bob relayed ($(topo_ms) ms)"
topo_handshakes gateway alice
# bob's first handshake: his path may flap between his relay allocation
# and the gateway's while both agents re-nominate, and a response that
# comes back on a channel just replaced is dropped (5 s retry): reported.
topo_handshakes -n bob
exit 0
