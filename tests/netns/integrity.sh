#!/bin/bash
# SPDX-License-Identifier: ISC
#
# 20 MB through the tunnel, by hash, with no loss and no reordering counted
# inside the flow (root; network namespaces): the client C and the gateway
# G on the router P (fz-portald there), fz-relayd in R, the resource host H
# behind G.  On the direct path, then on the relayed path (P drops UDP
# between C and G; the session moves to the relay):
#  - UDP: tests/netns/seqstream.py sends 20 MB in 1208-byte datagrams
#    (a sequence number and 1200 bytes) from C to H at a fixed rate; H
#    counts datagrams lost, duplicated and arriving below the highest
#    number seen before them (reordered) and hashes the payload in arrival
#    order: all counts 0 and the hash equal to the sender's
#  - TCP: a 20 MB file from H over HTTP, its sha256 equal to the source's
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib_topo.sh"
topo_init curl nft sha256sum
# Enough of the logs, with the data plane's handshake steps, to tell a
# failure's story (topo_fail prints them; the devices log their drops).
TOPO_LOG_FILTER=info,dataplane=debug
TOPO_DUMP_LINES=150
SEQ="${top_srcdir:-$(dirname "$0")/../..}/tests/netns/seqstream.py"
MB=${FZ_INTEGRITY_MB:-20}
PPS=${FZ_INTEGRITY_PPS:-5000}

ns_new p; P=$NS
ns_new r; R=$NS
ns_new c; C=$NS
ns_new g; G=$NS
ns_new h; H=$NS
ns_link "$P" 10.74.1.1 "$C" 10.74.1.2
ns_link "$P" 10.74.2.1 "$G" 10.74.2.2
ns_link "$P" 10.74.4.1 "$R" 10.74.4.2
ns_link "$G" 10.50.0.1 "$H" 10.50.0.2
ip -n "$P" addr add 10.74.0.1/32 dev lo
ip netns exec "$P" sysctl -qw net.ipv4.ip_forward=1
for n in "$C:10.74.1.1" "$G:10.74.2.1" "$R:10.74.4.1" "$H:10.50.0.1"; do
	ip -n "${n%%:*}" route add default via "${n#*:}"
done

topo_portal "$P" 10.74.0.1 \
	'{"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq"}' alice
topo_relay "$R" relay 10.74.4.2
mkdir -p "$T/www"
head -c $((MB * 1000000)) /dev/urandom > "$T/www/big"
SUM=$(sha256sum < "$T/www/big")
topo_http "$H" 10.50.0.2
topo_device "$G" gateway gateway
topo_device "$C" alice client
ns_wait_for topo_online gateway || topo_fail "the gateway is not online"
ns_wait_for topo_online alice || topo_fail "the client is not online"
topo_routes "$C" "$G" 10.50.0.0/24
ping1() { ip netns exec "$C" ping -c 1 -W 1 10.50.0.2; }
FZ_WAIT=30 ns_wait_for ping1 || topo_fail "no ping reply from the resource"

# Where datagrams went missing: UDP sockets' drop counts (the last column
# of /proc/net/udp*) in C, G and H, and the tunnel devices' counters.
diag() {
	local n
	for n in "$C" "$G" "$H"; do
		echo "--- $n: UDP sockets with drops"
		ip netns exec "$n" awk 'FNR > 1 && $NF > 0' /proc/net/udp /proc/net/udp6
	done
	for n in "$C" "$G"; do
		echo "--- $n: tun-firezone"
		ip -n "$n" -s link show dev tun-firezone
	done
}

# transfer LABEL: the UDP stream and the TCP download, checked
port=5001
transfer() {
	local label=$1 out t0 t1 r s
	out="$T/seq-$label"
	ip netns exec "$H" python3 "$SEQ" recv 10.50.0.2 $port > "$out.recv" 2>&1 &
	r=$!
	FZ_PIDS="$FZ_PIDS $r"
	ns_wait_for grep -q listening "$out.recv" || topo_fail "seqstream recv"
	t0=$(topo_ms)
	ip netns exec "$C" python3 "$SEQ" send 10.50.0.2 $port $((MB * 1000000)) "$PPS" \
		> "$out.send" 2>&1 || { cat "$out.send"; topo_fail "$label: seqstream send"; }
	wait $r || { cat "$out.recv"; topo_fail "$label: seqstream recv"; }
	t1=$(topo_ms)
	port=$((port + 1))
	s=$(tail -n 1 "$out.send") r=$(tail -n 1 "$out.recv")
	ns_log "$label: UDP sent $s"
	ns_log "$label: UDP received $r ($((t1 - t0)) ms)"
	python3 - "$s" "$r" <<'EOF' || { diag; topo_fail "$label: the UDP stream lost, duplicated or reordered datagrams"; }
import json, sys
s, r = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert r["expected"] == s["sent"] == r["received"] == r["unique"], (s, r)
assert r["lost"] == r["duplicates"] == r["reordered"] == 0, r
assert r["sha256"] == r["sender_sha256"] == s["sha256"], (s, r)
EOF
	t0=$(topo_ms)
	rm -f "$T/big.got"
	ip netns exec "$C" curl -sf -m 40 -o "$T/big.got" http://10.50.0.2/big ||
		topo_fail "$label: the TCP download failed"
	t1=$(topo_ms)
	[ "$(sha256sum < "$T/big.got")" = "$SUM" ] ||
		topo_fail "$label: the TCP download's sha256 differs"
	ns_log "$label: TCP $MB MB over HTTP, sha256 equal ($((t1 - t0)) ms)"
}

case $(topo_path alice) in "path direct to 10.74.2.2:"*) ;;
	*) topo_fail "not direct: $(topo_path alice)" ;; esac
topo_st alice | grep '^connection:'
transfer direct
ns_log "ok: direct: $MB MB by UDP (no loss, no reordering) and by TCP, hashes equal ($(topo_ms) ms)"

n0=$(topo_npaths alice)
ip netns exec "$P" nft -f - <<'EOF' || topo_fail "nft in P"
table ip fzblock {
	chain block {
		type filter hook forward priority 0;
		ip saddr 10.74.1.2 ip daddr 10.74.2.2 meta l4proto udp drop
		ip saddr 10.74.2.2 ip daddr 10.74.1.2 meta l4proto udp drop
	}
}
EOF
relayed() {
	[ "$(topo_npaths alice)" -gt "$n0" ] &&
		topo_path alice | grep -q 'via relay 10\.74\.4\.2\|direct to 10\.74\.4\.2:' &&
		ping1
}
FZ_WAIT=30 ns_wait_for relayed || topo_fail "the client did not move to the relay: $(topo_path alice)"
ns_log "client: $(topo_path alice) ($(topo_ms) ms)"
st_relayed() { topo_st alice | grep -q '^connection: .* \(relayed via 10\.74\.4\.2:3478\|direct to 10\.74\.4\.2:\)'; }
ns_wait_for st_relayed || topo_fail "fzctl status does not show the relayed path"
topo_st alice | grep '^connection:'
transfer relayed
ns_log "ok: relayed: $MB MB by UDP (no loss, no reordering) and by TCP, hashes equal ($(topo_ms) ms)"
topo_handshakes gateway alice
exit 0
