#!/bin/bash
# SPDX-License-Identifier: ISC
#
# A gateway with 10 000 peers (there used to be a cap of 256): fz-tunneld
# --config with a wg-quick file of 9 999 synthetic peers (any 32 bytes are
# a valid public key) and, last in the file, one wireguard-go peer.  wg
# show and fz-tunneld --show list all 10 000 peers and their allowed IPs
# over UAPI; the wireguard-go peer still handshakes and pings both ways; a
# peer removed with wg set is gone.  Prints fz-tunneld's RSS for the record.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
for t in wireguard-go wg base64 fold; do
	command -v $t >/dev/null || ns_skip "$t not installed"
done
ns_tmpdir
T=$FZ_TMP
FZ="$top_builddir/fz-tunneld"
FZIF="fzm$$"
WGIF="wgm$$"
N=10000

ns_new a; A=$NS
ns_new b; B=$NS
ns_link "$A" 10.99.3.1 "$B" 10.99.3.2
umask 077
for k in a b; do wg genkey > "$T/$k.key"; wg pubkey < "$T/$k.key" > "$T/$k.pub"; done

# 9 999 synthetic peers: 30 random bytes (40 base64 characters, no
# padding) and two zero bytes ("AAA=") make a 32-byte public key.
head -c $((30 * (N - 1))) /dev/urandom | { base64 -w0; echo; } | fold -w40 |
	sed 's/$/AAA=/' > "$T/keys"
[ "$(wc -l < "$T/keys")" = $((N - 1)) ] || ns_fail "key generation"
{
	printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n' "$(cat "$T/a.key")"
	printf 'Address = 10.100.0.1/24\nMTU = 1280\n'
	awk '{ i = NR; printf "\n[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.%d/32\n", $1, 101 + int(i / 65536), int(i / 256) % 256, i % 256 }' "$T/keys"
	printf '\n[Peer]\nPublicKey = %s\nEndpoint = 10.99.3.2:51820\n' "$(cat "$T/b.pub")"
	printf 'AllowedIPs = 10.100.0.2/32\n'
} > "$T/$FZIF.conf"

ns_bg "$B" "$T/wg.log" wireguard-go -f "$WGIF"
ns_wait_for test -S "/var/run/wireguard/$WGIF.sock" || ns_fail "wireguard-go"
ip netns exec "$B" wg set "$WGIF" private-key "$T/b.key" listen-port 51820 \
	peer "$(cat "$T/a.pub")" endpoint 10.99.3.1:51820 allowed-ips 10.100.0.1/32
ip -n "$B" addr add 10.100.0.2/24 dev "$WGIF"
ip -n "$B" link set "$WGIF" mtu 1280 up

start=$(date +%s.%N)
ns_bg "$A" "$T/fz.log" "$FZ" --config "$T/$FZIF.conf" --log-filter info
FZ_PID=$BG_PID
FZ_WAIT=60 ns_wait_for test -S "/var/run/wireguard/$FZIF.sock" ||
	{ tail -5 "$T/fz.log"; ns_fail "fz-tunneld did not come up"; }
ns_log "fz-tunneld up with $N peers in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

n=$(ip netns exec "$A" wg show "$FZIF" peers | wc -l)
[ "$n" = $N ] || ns_fail "wg show lists $n peers, not $N"
n=$(ip netns exec "$A" wg show "$FZIF" allowed-ips | grep -c '/32')
[ "$n" = $N ] || ns_fail "wg show lists $n allowed IPs, not $N"
ip netns exec "$A" wg show "$FZIF" peers | sort > "$T/shown"
{ cat "$T/keys" "$T/b.pub"; } | sort | cmp -s - "$T/shown" ||
	ns_fail "wg show's peers differ from the file's"
n=$(ip netns exec "$A" "$FZ" --show "$FZIF" | grep -c '^peer: ')
[ "$n" = $N ] || ns_fail "fz-tunneld --show lists $n peers, not $N"
ns_log "ok: wg show and fz-tunneld --show list all $N peers and their allowed IPs"

ns_wait_for ip netns exec "$A" ping -c 1 -W 1 10.100.0.2 ||
	{ tail -20 "$T/fz.log"; ns_fail "no ping from fz to wireguard-go"; }
ip netns exec "$A" ping -c 3 -i 0.2 -W 2 10.100.0.2 >/dev/null ||
	ns_fail "ping to wireguard-go lost packets"
ip netns exec "$B" ping -c 3 -i 0.2 -W 2 10.100.0.1 >/dev/null ||
	ns_fail "ping from wireguard-go lost packets"
ip netns exec "$A" wg show "$FZIF" latest-handshakes | grep "$(cat "$T/b.pub")" |
	awk '{ exit !($2 > 0) }' || ns_fail "no handshake time for wireguard-go"
ns_log "ok: handshake and pings with the 10 000th peer (wireguard-go)"

gone=$(sed -n 5000p "$T/keys")
ip netns exec "$A" wg set "$FZIF" peer "$gone" remove || ns_fail "wg set remove"
n=$(ip netns exec "$A" wg show "$FZIF" peers | wc -l)
[ "$n" = $((N - 1)) ] || ns_fail "after removal: $n peers"
ip netns exec "$A" wg show "$FZIF" peers | grep -qF "$gone" &&
	ns_fail "removed peer still listed"
ip netns exec "$A" ping -c 1 -W 2 10.100.0.2 >/dev/null ||
	ns_fail "ping after a removal"
ns_log "ok: a peer removed with wg set; traffic unaffected"
ns_log "fz-tunneld $(grep VmRSS /proc/$FZ_PID/status 2>/dev/null || ps -o rss= -p "$(pgrep -P $FZ_PID | head -1)") with $((N - 1)) peers"
kill "$FZ_PID"; wait "$FZ_PID" 2>/dev/null
ip -n "$A" link show "$FZIF" >/dev/null 2>&1 && ns_fail "interface left after SIGTERM"
ns_log "PASS"
exit 0
