#!/bin/bash
# SPDX-License-Identifier: ISC
# demo: fz-relayd relays TURN for coturn's client, in userspace and in XDP
#
# A client namespace and a relay namespace joined through a router.  The
# relay serves coturn's turnutils_uclient (with turnutils_peer as the
# peer) and fz-turnbench; then the same with the XDP fast path attached,
# and the metrics show where the packets went.
. "${top_srcdir:?}/tests/netns/lib.sh"
# Started as root fz-relayd drops to this user (fz-relay may not exist here).
export FZ_RELAY_USER="${FZ_RELAY_USER:-nobody}"
ns_require_root
for t in turnutils_uclient turnutils_peer curl ethtool; do
	command -v $t >/dev/null || ns_fail "$t is not installed (contrib/bootstrap.sh installs it)"
done
ns_tmpdir
T=$FZ_TMP
B=${top_builddir:?}
ns_new c; C=$NS
ns_new r; R=$NS
ns_new y; Y=$NS
ns_link "$C" 10.73.1.2 "$R" 10.73.1.1; CL=$LINK_A
ns_link "$Y" 10.73.2.2 "$R" 10.73.2.1; YL=$LINK_A
ip -n "$C" route add default via 10.73.1.1
ip -n "$Y" route add default via 10.73.2.1
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$C" ethtool -K "$CL" tx off >/dev/null
SECRET="demo-$RANDOM"
ns_bg "$C" "$T/peer.log" turnutils_peer -p 3480 -L 10.73.1.2

relay() {	# relay LOG [flags]
	local log=$1
	shift
	ns_bg "$Y" "$log" "$B/fz-relayd" --public-ip4-addr 10.73.2.2 \
		--static-auth-secret "$SECRET" --allow-private-peers \
		--metrics 127.0.0.1:9104 --log-format human "$@"
	RPID=$BG_PID
	ns_wait_for ip netns exec "$Y" curl -sf http://127.0.0.1:9104/healthz ||
		{ cat "$log"; ns_fail "fz-relayd did not start"; }
}
traffic() {
	echo "--- turnutils_uclient -W SECRET -c -m 4 -n 500 -l 1000 (peer: turnutils_peer)"
	ip netns exec "$C" turnutils_uclient -W "$SECRET" -u demo -c -m 4 -n 500 \
		-l 1000 -z 1 -e 10.73.1.2 10.73.2.2 2>&1 | grep -E "Total lost|tot_send_msgs=.*tot_recv" | tail -2 | sed 's/^/    /'
	echo "--- fz-turnbench --rate 100000 --size 1200 --duration 2"
	ip netns exec "$C" "$B/fz-turnbench" --server 10.73.2.2:3478 --secret "$SECRET" \
		--peer-addr 10.73.1.2 --rate 100000 --size 1200 --duration 2 | sed 's/^/    /'
	sleep 1.2
	echo "--- metrics"
	ip netns exec "$Y" curl -s http://127.0.0.1:9104/metrics |
		grep -E '^fz_relay_(packets_total|allocations|channels)' | sed 's/^/    /'
}

echo "=== fz-relayd in userspace"
relay "$T/relay1.log"
traffic
kill -TERM "$RPID"; wait "$RPID"
echo "=== fz-relayd with --ebpf-offloading $YL --ebpf-attach-mode generic"
relay "$T/relay2.log" --ebpf-offloading "$YL" --ebpf-attach-mode generic
ip -n "$Y" link show "$YL" | grep -o "prog/xdp id [0-9]*" | sed 's/^/    attached: /'
traffic
kill -TERM "$RPID"; wait "$RPID"
echo "--- fz-relayd's log"
sed 's/^/    /' "$T/relay2.log"
