#!/bin/bash
# SPDX-License-Identifier: ISC
#
# UDP coalescing on TUN writes (USO): fz <-> fz in namespaces, a burst of
# UDP datagrams (IPv4 and IPv6 inside the tunnel, 1200 bytes with a
# shorter one now and then) from A to B.  Every datagram B's socket gets
# must be intact, and B's TUN must have taken fewer packets than were
# delivered (several datagrams per GSO_UDP_L4 write).  Then the same with
# FZ_NO_USO=1 on B: one TUN packet per datagram, which shows the count
# means what the first check reads into it.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
for t in wg python3; do
	command -v $t >/dev/null || ns_skip "$t not installed"
done
ns_tmpdir
T=$FZ_TMP
FZ="$top_builddir/fz-tunneld"
FZA="usa$$"
FZB="usb$$"

ns_new a; A=$NS
ns_new b; B=$NS
ns_link "$A" 10.97.1.1 "$B" 10.97.1.2
umask 077
for k in a b; do wg genkey > "$T/$k.key"; wg pubkey < "$T/$k.key" > "$T/$k.pub"; done

conf() {	# conf FILE PRIVKEY PEERPUB ENDPOINT SELF PEER
	cat > "$1" <<C
[Interface]
PrivateKey = $(cat "$2")
ListenPort = 51820
Address = 10.101.0.$5/24, fd00:101::$5/64
MTU = 1420

[Peer]
PublicKey = $(cat "$3")
Endpoint = $4:51820
AllowedIPs = 10.101.0.$6/32, fd00:101::$6/128
C
}
conf "$T/$FZA.conf" "$T/a.key" "$T/b.pub" 10.97.1.2 1 2
conf "$T/$FZB.conf" "$T/b.key" "$T/a.pub" 10.97.1.1 2 1

start_fz() {	# start_fz NS CONF LOG [extra env]
	ns_bg "$1" "$3" env ${4:-} "$FZ" --config "$2" --log-filter info
	FZ_PID=$BG_PID
	ns_wait_for test -S "/var/run/wireguard/$(basename "$2" .conf).sock" ||
		{ cat "$3"; ns_fail "fz-tunneld did not come up"; }
}

cat > "$T/udp.py" <<'PY'
import socket, sys, time
SO_RCVBUFFORCE = 33
BODY = {}
def payload(seq, n):
    # the body depends on seq only through seq * 7 mod 256: built once
    key = ((seq * 7) & 255, n)
    if key not in BODY:
        BODY[key] = bytes((key[0] + i) & 255 for i in range(n - 12))
    return seq.to_bytes(8, "big") + n.to_bytes(4, "big") + BODY[key]
def size(seq):
    return 333 if seq % 50 == 49 else 1200
mode, fam, addr, port, count = sys.argv[1:6]
fam = socket.AF_INET6 if fam == "6" else socket.AF_INET
port, count = int(port), int(count)
s = socket.socket(fam, socket.SOCK_DGRAM)
if mode == "send":
    # Bursts of 500 (batches for the sending fz to read, so USO has
    # something to coalesce at B), 10 ms apart: far below what the TUN
    # queue (10 000) holds, so a busy machine that leaves the sending fz
    # waiting for a CPU delays datagrams instead of dropping them.
    for seq in range(count):
        if seq % 500 == 499:
            time.sleep(0.01)
        while True:
            try:
                s.sendto(payload(seq, size(seq)), (addr, port))
                break
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                time.sleep(0.001)	# ENOBUFS: the TUN queue is full
    sys.exit(0)
# Room for every datagram (root: past rmem_max), so a receiver that waits
# for a CPU loses none.
try:
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
except OSError:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
s.bind((addr, port))
open(sys.argv[6], "w").write("ready\n")
s.settimeout(20)
ok = bad = 0
try:
    while ok + bad < count:
        d = s.recv(65535)
        s.settimeout(2)
        seq = int.from_bytes(d[:8], "big")
        n = int.from_bytes(d[8:12], "big")
        if len(d) == n == size(seq) and d == payload(seq, n):
            ok += 1
        else:
            bad += 1
except socket.timeout:
    pass
print(ok, bad)
PY

rx_packets() { ip -n "$B" -s link show "$FZB" | awk '/RX:/ { getline; print $2; exit }'; }
# Where datagrams went, for a failure: A's TUN queue (drops: the sending fz
# did not read in time), B's UDP (delivered into sockets, receive buffers
# overflowed).
counters() {
	echo "A's TUN tx dropped $(ip -n "$A" -s link show "$FZA" |
	    awk '/TX:/ { getline; print $4; exit }'), B's UDP in/rcvbuf errors:" \
	    "$(ip netns exec "$B" nstat -az UdpInDatagrams UdpRcvbufErrors \
	    Udp6InDatagrams Udp6RcvbufErrors 2>/dev/null |
	    awk '!/^#/ { printf "%s %s ", $1, $2 }')"
}

# blast FAMILY DST PORT COUNT: "ok bad tunpackets" of B's receive
blast() {
	local before after res
	rm -f "$T/ready"
	ip netns exec "$B" python3 "$T/udp.py" recv "$1" "$([ "$1" = 6 ] && echo :: || echo 0.0.0.0)" \
		"$3" "$4" "$T/ready" > "$T/recv.out" 2>&1 &
	local rpid=$!
	ns_wait_for test -e "$T/ready" || ns_fail "receiver did not start"
	before=$(rx_packets)
	ip netns exec "$A" python3 "$T/udp.py" send "$1" "$2" "$3" "$4" ||
		ns_fail "sender failed"
	wait $rpid
	after=$(rx_packets)
	res=$(cat "$T/recv.out")
	echo "$res $((after - before))"
}

check_run() {	# check_run LABEL FAMILY DST PORT COUNT WANT(coalesced|plain)
	local out ok bad tun
	out=$(blast "$2" "$3" "$4" "$5")
	read -r ok bad tun <<<"$out"
	ns_log "$1: $ok of $5 datagrams intact, $bad damaged, $tun TUN packets"
	[ "$bad" = 0 ] || ns_fail "$1: $bad damaged datagrams"
	[ "$ok" -ge $(($5 / 2)) ] ||
		ns_fail "$1: only $ok of $5 arrived ($(counters))"
	if [ "$6" = coalesced ]; then
		[ "$tun" -lt "$ok" ] || ns_fail "$1: no UDP coalescing ($tun TUN packets for $ok datagrams)"
	else
		[ "$tun" -ge "$ok" ] || ns_fail "$1: coalesced with FZ_NO_USO set"
	fi
}

start_fz "$A" "$T/$FZA.conf" "$T/fza.log"
start_fz "$B" "$T/$FZB.conf" "$T/fzb.log"
FZB_PID=$FZ_PID
ns_wait_for ip netns exec "$A" ping -c 1 -W 1 10.101.0.2 || ns_fail "no tunnel"
ns_wait_for ip netns exec "$A" ping -6 -c 1 -W 1 fd00:101::2 || ns_fail "no IPv6 tunnel"

check_run "IPv4, USO" 4 10.101.0.2 5002 20000 coalesced
check_run "IPv6, USO" 6 fd00:101::2 5003 20000 coalesced

kill "$FZB_PID"; wait "$FZB_PID" 2>/dev/null
ns_wait_for sh -c "! ip -n $B link show $FZB" || ns_fail "fz B did not exit"
start_fz "$B" "$T/$FZB.conf" "$T/fzb2.log" FZ_NO_USO=1
ns_wait_for ip netns exec "$A" ping -c 1 -W 1 10.101.0.2 || ns_fail "no tunnel after restart"
check_run "IPv4, FZ_NO_USO" 4 10.101.0.2 5002 5000 plain
ns_log "PASS"
