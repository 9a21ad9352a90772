#!/bin/bash
# SPDX-License-Identifier: ISC
# demo: fz-tunneld (static wg-quick mode) talks WireGuard to wireguard-go
#
# Two namespaces joined by a veth: fz-tunneld with a wg-quick style file in
# one, wireguard-go configured with wg(8) in the other.  Shows the
# handshake, a ping each way, a short iperf3 run through the tunnel and
# both sides' `wg show` output.  Everything is removed at the end.
. "${top_srcdir:?}/tests/netns/lib.sh"
ns_require_root
for t in wireguard-go wg iperf3; do
	command -v $t >/dev/null || ns_fail "$t is not installed (contrib/bootstrap.sh installs it)"
done
ns_tmpdir
T=$FZ_TMP
FZ="${top_builddir:?}/fz-tunneld"
FZIF="fzdemo$$"
WGIF="wgdemo$$"
ns_new a; A=$NS
ns_new b; B=$NS
ns_link "$A" 10.97.0.1 "$B" 10.97.0.2
umask 077
for k in a b; do wg genkey > "$T/$k.key"; wg pubkey < "$T/$k.key" > "$T/$k.pub"; done

cat > "$T/$FZIF.conf" <<C
[Interface]
PrivateKey = $(cat "$T/a.key")
ListenPort = 51820
Address = 10.201.0.1/24, fd00:201::1/64

[Peer]
PublicKey = $(cat "$T/b.pub")
Endpoint = 10.97.0.2:51820
AllowedIPs = 10.201.0.2/32, fd00:201::2/128
PersistentKeepalive = 25
C
echo "--- fz-tunneld --config $FZIF.conf (namespace a)"
ns_bg "$A" "$T/fz.log" "$FZ" --config "$T/$FZIF.conf" --log-filter info
ns_wait_for test -S "/var/run/wireguard/$FZIF.sock" ||
	{ cat "$T/fz.log"; ns_fail "fz-tunneld did not come up"; }

echo "--- wireguard-go + wg set (namespace b)"
ns_bg "$B" "$T/wg.log" wireguard-go -f "$WGIF"
ns_wait_for test -S "/var/run/wireguard/$WGIF.sock" || ns_fail "wireguard-go did not come up"
ip netns exec "$B" wg set "$WGIF" private-key "$T/b.key" listen-port 51820 \
	peer "$(cat "$T/a.pub")" endpoint 10.97.0.1:51820 \
	allowed-ips 10.201.0.1/32,fd00:201::1/128
ip -n "$B" addr add 10.201.0.2/24 dev "$WGIF"
ip -n "$B" addr add fd00:201::2/64 dev "$WGIF" nodad
ip -n "$B" link set "$WGIF" mtu 1280 up

ns_wait_for ip netns exec "$A" ping -c 1 -W 1 10.201.0.2 || ns_fail "no handshake"
echo "--- ping fz -> wireguard-go"
ip netns exec "$A" ping -c 3 -i 0.2 10.201.0.2 | tail -2
echo "--- ping wireguard-go -> fz over IPv6"
ip netns exec "$B" ping -6 -c 3 -i 0.2 fd00:201::1 | tail -2
echo "--- iperf3, 2 s, fz -> wireguard-go"
ns_bg "$B" "$T/iperf-srv.log" iperf3 -s -1 -B 10.201.0.2
sleep 0.3
ip netns exec "$A" iperf3 -c 10.201.0.2 -t 2 | grep -E 'sender|receiver'
echo "--- wg show (wireguard-go side)"
ip netns exec "$B" wg show "$WGIF"
echo "--- wg show (fz side, through fz's UAPI socket)"
ip netns exec "$A" wg show "$FZIF"
echo "--- fz-tunneld --show"
ip netns exec "$A" "$FZ" --show "$FZIF"
