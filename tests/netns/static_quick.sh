#!/bin/bash
# SPDX-License-Identifier: ISC
#
# fz-tunneld --config acting on a whole wg-quick file, against wireguard-go
# in another namespace:
#  - AllowedIPs = 0.0.0.0/0, ::/0 routed as wg-quick does: table 51820,
#    "not fwmark 0xca6c lookup 51820", "lookup main suppress_prefixlength 0",
#    src_valid_mark; A reaches its peer's endpoint only through its own
#    default route, so the tunnel's UDP flows only because it is marked,
#    while a "public-looking" address (198.51.100.7, in B) goes through the
#    tunnel (B's wireguard-go counts the bytes)
#  - DNS = server + search domain through etc-resolv-conf:
#    /etc/netns/A/resolv.conf rewritten, restored on stop
#  - PreUp/PostUp/PreDown/PostDown run in order with %i expanded (marker
#    file: interface absent at PreUp and PostDown, there at PostUp/PreDown)
#  - SaveConfig writes the running peers back (one added with wg set)
#  - a group-writable config with hooks is refused, naming file and mode,
#    and one owned by another user, naming the uid;
#    a failing hook is logged and the next runs (as wg-quick)
#  - Table = N, Table = off; without FwMark the first free table from 51820
#  - everything (link, rules, table 51820, DNS) removed on stop
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
for t in wireguard-go wg; do
	command -v $t >/dev/null || ns_skip "$t not installed"
done
ns_tmpdir
T=$FZ_TMP
FZ="$top_builddir/fz-tunneld"
IF="fzq$$"
WGIF="wgq$$"

ns_new a; A=$NS
ns_new b; B=$NS
ns_link "$A" 10.99.1.1 "$B" 10.99.1.2
# A is a host with a default route; B's endpoint and the "public" target
# are reachable from A only through it.
ip -n "$A" route add default via 10.99.1.2
ip -n "$B" addr add 192.0.2.2/32 dev lo
ip -n "$B" addr add 198.51.100.7/32 dev lo
ip netns exec "$B" sysctl -qw net.ipv4.ip_forward=1
umask 077
for k in a b c; do wg genkey > "$T/$k.key"; wg pubkey < "$T/$k.key" > "$T/$k.pub"; done

# A's own resolv.conf (ip netns exec binds it over /etc/resolv.conf).
mkdir -p "/etc/netns/$A"
ns_on_cleanup rm -rf "/etc/netns/$A"
ORIG="# A's resolver
nameserver 10.99.1.2"
printf '%s\n' "$ORIG" > "/etc/netns/$A/resolv.conf"
chmod 644 "/etc/netns/$A/resolv.conf"

H="$T/hooks"
cat > "$T/$IF.conf" <<C
[Interface]
PrivateKey = $(cat "$T/a.key")
Address = 10.100.0.1/24, fd00:100::1/64
DNS = 10.100.0.53, corp.example
FwMark = 0xca6c
SaveConfig = true
PreUp = echo "PreUp %i \$(ip link show %i >/dev/null 2>&1 && echo there || echo absent)" >> $H
PostUp = echo "PostUp %i \$(ip route show table 0xca6c | grep -c '^default dev %i')" >> $H
PreDown = echo "PreDown %i \$(ip link show %i >/dev/null 2>&1 && echo there || echo absent)" >> $H
PostDown = echo "PostDown %i \$(ip link show %i >/dev/null 2>&1 && echo there || echo absent)" >> $H

[Peer]
PublicKey = $(cat "$T/b.pub")
Endpoint = 192.0.2.2:51820
AllowedIPs = 0.0.0.0/0, ::/0
C
chmod 600 "$T/$IF.conf"

# 1. A group-writable file with hooks is refused before anything is set up.
cp "$T/$IF.conf" "$T/bad.conf"
chmod 620 "$T/bad.conf"
if ip netns exec "$A" "$FZ" --config "$T/bad.conf" --interface "$IF" \
    > "$T/bad.log" 2>&1; then
	ns_fail "a group-writable config with hooks was accepted"
fi
grep -q "refusing to start: $T/bad.conf: owned by uid 0 with mode 0620" \
    "$T/bad.log" || { cat "$T/bad.log"; ns_fail "no clear refusal"; }
! ip -n "$A" link show "$IF" >/dev/null 2>&1 || ns_fail "refused, yet $IF exists"
[ ! -e "$H" ] || ns_fail "a refused config ran its hooks"
ns_log "ok: group-writable config refused (file and mode named)"
# and one not owned by root (mode 0600, owner nobody)
cp "$T/$IF.conf" "$T/notroot.conf"
chmod 600 "$T/notroot.conf"
chown nobody "$T/notroot.conf"
NOBODY=$(id -u nobody)
if ip netns exec "$A" "$FZ" --config "$T/notroot.conf" --interface "$IF" \
    > "$T/notroot.log" 2>&1; then
	ns_fail "a config with hooks owned by nobody was accepted"
fi
grep -q "refusing to start: $T/notroot.conf: owned by uid $NOBODY with mode 0600" \
    "$T/notroot.log" || { cat "$T/notroot.log"; ns_fail "no clear refusal (owner)"; }
! ip -n "$A" link show "$IF" >/dev/null 2>&1 || ns_fail "refused, yet $IF exists"
[ ! -e "$H" ] || ns_fail "a refused config ran its hooks"
ns_log "ok: a config owned by another user refused (uid named)"

# 2. B: wireguard-go.
ns_bg "$B" "$T/wg.log" wireguard-go -f "$WGIF"
ns_wait_for test -S "/var/run/wireguard/$WGIF.sock" || ns_fail "wireguard-go"
ip netns exec "$B" wg set "$WGIF" private-key "$T/b.key" listen-port 51820 \
	peer "$(cat "$T/a.pub")" allowed-ips 10.100.0.1/32,fd00:100::1/128
ip -n "$B" addr add 10.100.0.2/24 dev "$WGIF"
ip -n "$B" link set "$WGIF" mtu 1280 up

# 3. A: fz-tunneld with the whole wg-quick file.
ns_bg "$A" "$T/fz.log" env FZ_RESOLV_CONF_BACKUP="$T/resolv.backup" \
	"$FZ" --config "$T/$IF.conf" --dns-control etc-resolv-conf \
	--log-filter debug
FZ_PID=$BG_PID
ns_wait_for grep -q "seccomp on" "$T/fz.log" || { cat "$T/fz.log"; ns_fail "not up"; }

# Policy routing as wg-quick's.
rules4=$(ip -n "$A" -4 rule show)
echo "$rules4" | grep -q "^32764:	from all lookup main suppress_prefixlength 0" ||
	{ echo "$rules4"; ns_fail "no suppress_prefixlength rule"; }
echo "$rules4" | grep -q "^32765:	not from all fwmark 0xca6c lookup 51820" ||
	{ echo "$rules4"; ns_fail "no fwmark rule"; }
rules6=$(ip -n "$A" -6 rule show)
echo "$rules6" | grep -q "suppress_prefixlength 0" &&
	echo "$rules6" | grep -q "not from all fwmark 0xca6c lookup 51820" ||
	{ echo "$rules6"; ns_fail "no IPv6 rules"; }
[ "$(ip -n "$A" -4 route show table 51820 | grep -c .)" = 1 ] &&
	ip -n "$A" -4 route show table 51820 | grep -q "^default dev $IF " ||
	{ ip -n "$A" -4 route show table 51820; ns_fail "table 51820 (IPv4)"; }
ip -n "$A" -6 route show table 51820 | grep -q "^default dev $IF" ||
	ns_fail "table 51820 (IPv6)"
[ "$(ip netns exec "$A" sysctl -n net.ipv4.conf.all.src_valid_mark)" = 1 ] ||
	ns_fail "src_valid_mark not set"
ip netns exec "$A" ip route get 198.51.100.7 | grep -q "dev $IF table 51820" ||
	ns_fail "198.51.100.7 is not routed into the tunnel"
ip netns exec "$A" ip route get 192.0.2.2 mark 0xca6c | grep -q "via 10.99.1.2" ||
	ns_fail "marked packets do not take the main table"
[ "$(ip netns exec "$A" wg show "$IF" fwmark)" = 0xca6c ] ||
	ns_fail "wg show fwmark: $(ip netns exec "$A" wg show "$IF" fwmark)"
ns_log "ok: ip rule / ip route show table 51820 as wg-quick's"

# Traffic to the public-looking address goes through the tunnel; the
# tunnel's own UDP to 192.0.2.2 (default route only) still flows.
rx0=$(ip netns exec "$B" wg show "$WGIF" transfer | awk '{ print $2 }')
ns_wait_for ip netns exec "$A" ping -c 1 -W 1 198.51.100.7 ||
	{ cat "$T/fz.log"; ns_fail "no ping to 198.51.100.7 through the tunnel"; }
ip netns exec "$A" ping -c 5 -i 0.2 -s 1000 -W 2 198.51.100.7 >/dev/null ||
	ns_fail "pings to 198.51.100.7 lost"
rx1=$(ip netns exec "$B" wg show "$WGIF" transfer | awk '{ print $2 }')
[ $((rx1 - rx0)) -ge 5000 ] || ns_fail "B's wireguard-go received $((rx1 - rx0)) bytes"
ns_log "ok: 198.51.100.7 through the tunnel ($((rx1 - rx0)) bytes at B), UDP marked past it"

# DNS.
grep -q "^nameserver 10.100.0.53$" "/etc/netns/$A/resolv.conf" &&
	grep -q "^search corp.example$" "/etc/netns/$A/resolv.conf" ||
	{ cat "/etc/netns/$A/resolv.conf"; ns_fail "resolv.conf not rewritten"; }
[ "$(cat "$T/resolv.backup")" = "$ORIG" ] || ns_fail "no backup"
ns_log "ok: DNS = through etc-resolv-conf"

# Hooks so far.
[ "$(cat "$H")" = "PreUp $IF absent
PostUp $IF 1" ] || { cat "$H"; ns_fail "up hooks"; }

# SaveConfig: a peer added at run time is written back.
ip netns exec "$A" wg set "$IF" peer "$(cat "$T/c.pub")" \
	allowed-ips 10.100.0.9/32 persistent-keepalive 25 ||
	ns_fail "wg set on fz"

# 4. Stop.
kill -TERM "$FZ_PID"
ns_wait_for sh -c "! kill -0 $FZ_PID" || ns_fail "fz-tunneld did not stop"
[ "$(cat "$H")" = "PreUp $IF absent
PostUp $IF 1
PreDown $IF there
PostDown $IF absent" ] || { cat "$H"; ns_fail "hooks order or %i"; }
ns_log "ok: PreUp, PostUp, PreDown, PostDown in order, %i expanded"

S="$T/$IF.conf"
grep -q "^PublicKey = $(cat "$T/c.pub")$" "$S" &&
	grep -q "^AllowedIPs = 10.100.0.9/32$" "$S" &&
	grep -q "^PersistentKeepalive = 25$" "$S" &&
	grep -q "^PublicKey = $(cat "$T/b.pub")$" "$S" &&
	grep -q "^AllowedIPs = 0.0.0.0/0, ::/0$" "$S" &&
	grep -q "^Endpoint = 192.0.2.2:51820$" "$S" &&
	grep -q "^SaveConfig = true$" "$S" &&
	grep -q "^FwMark = 0xca6c$" "$S" &&
	grep -q "^DNS = corp.example$" "$S" &&
	grep -q "^PostDown = echo" "$S" ||
	{ cat "$S" | grep -v Key; ns_fail "SaveConfig did not write the running peers"; }
[ "$(stat -c %a "$S")" = 600 ] || ns_fail "saved config mode $(stat -c %a "$S")"
ns_log "ok: SaveConfig wrote the running peers back (mode 600)"

# Everything removed.
! ip -n "$A" link show "$IF" >/dev/null 2>&1 || ns_fail "$IF left behind"
! ip -n "$A" -4 rule show | grep -q "51820\|suppress_prefixlength" || ns_fail "IPv4 rules left"
! ip -n "$A" -6 rule show | grep -q "51820\|suppress_prefixlength" || ns_fail "IPv6 rules left"
[ -z "$(ip -n "$A" -4 route show table 51820 2>/dev/null)" ] || ns_fail "table 51820 left"
[ "$(cat "/etc/netns/$A/resolv.conf")" = "$ORIG" ] || ns_fail "resolv.conf not restored"
[ ! -e "$T/resolv.backup" ] || ns_fail "backup left behind"
ns_log "ok: link, rules, routes and DNS removed on stop"

# 5. The saved file starts again (and is parsed as a wg-quick file).
: > "$H"
ns_bg "$A" "$T/fz2.log" env FZ_RESOLV_CONF_BACKUP="$T/resolv.backup" \
	"$FZ" --config "$S" --dns-control etc-resolv-conf
FZ_PID=$BG_PID
ns_wait_for grep -q "seccomp on" "$T/fz2.log" || { cat "$T/fz2.log"; ns_fail "saved file"; }
ip netns exec "$A" wg show "$IF" allowed-ips | grep -q "10.100.0.9/32" ||
	ns_fail "the saved peer is missing"
kill -TERM "$FZ_PID"
ns_wait_for sh -c "! kill -0 $FZ_PID" || ns_fail "fz-tunneld did not stop"
ns_log "ok: the saved file brings the same peers back"

# 6. Table = 1234: every route there, no rules; Table = off: no routes.
#    Without hooks or SaveConfig a group-readable file is fine.
for tbl in 1234 off; do
	cat > "$T/$IF.conf" <<C
[Interface]
PrivateKey = $(cat "$T/a.key")
Address = 10.100.0.1/24
Table = $tbl

[Peer]
PublicKey = $(cat "$T/b.pub")
Endpoint = 192.0.2.2:51820
AllowedIPs = 0.0.0.0/0, 10.200.0.0/16
C
	chmod 664 "$T/$IF.conf"
	ns_bg "$A" "$T/fz-$tbl.log" "$FZ" --config "$T/$IF.conf"
	FZ_PID=$BG_PID
	ns_wait_for grep -q "seccomp on" "$T/fz-$tbl.log" ||
		{ cat "$T/fz-$tbl.log"; ns_fail "Table = $tbl: not up"; }
	! ip -n "$A" rule show | grep -q "suppress_prefixlength\|fwmark" ||
		ns_fail "Table = $tbl: policy rules added"
	if [ "$tbl" = off ]; then
		[ -z "$(ip -n "$A" route show table all dev "$IF" | grep -v "^local\|^multicast\|^broadcast\|proto kernel\|^fe80\|^ff00")" ] ||
			{ ip -n "$A" route show table all dev "$IF"; ns_fail "Table = off: routes added"; }
	else
		r=$(ip -n "$A" route show table 1234)
		echo "$r" | grep -q "^default dev $IF" &&
			echo "$r" | grep -q "^10.200.0.0/16 dev $IF" ||
			{ echo "$r"; ns_fail "Table = 1234: routes"; }
		! ip -n "$A" route show | grep -q "10.200.0.0/16" ||
			ns_fail "Table = 1234: a route in main"
	fi
	kill -TERM "$FZ_PID"
	ns_wait_for sh -c "! kill -0 $FZ_PID" || ns_fail "fz-tunneld did not stop"
	[ -z "$(ip -n "$A" route show table 1234 2>/dev/null)" ] ||
		ns_fail "Table = $tbl: routes left in 1234"
done
ns_log "ok: Table = 1234 (routes there, no rules) and Table = off (none)"

# 7. No FwMark, table 51820 in use: wg-quick takes the next free table
#    (51821) as table and mark; the other table's route is left alone.
ip -n "$A" route add 10.77.0.0/16 dev lo table 51820
cat > "$T/$IF.conf" <<C
[Interface]
PrivateKey = $(cat "$T/a.key")
Address = 10.100.0.1/24
PostUp = exit 3
PostUp = echo "after %i" >> $H

[Peer]
PublicKey = $(cat "$T/b.pub")
Endpoint = 192.0.2.2:51820
AllowedIPs = 0.0.0.0/0
C
chmod 600 "$T/$IF.conf"
: > "$H"
ns_bg "$A" "$T/fz-auto.log" "$FZ" --config "$T/$IF.conf"
FZ_PID=$BG_PID
ns_wait_for grep -q "seccomp on" "$T/fz-auto.log" ||
	{ cat "$T/fz-auto.log"; ns_fail "auto table: not up"; }
ip -n "$A" -4 rule show | grep -q "not from all fwmark 0xca6d lookup 51821" ||
	{ ip -n "$A" -4 rule show; ns_fail "auto table: not 51821"; }
ns_wait_for ip netns exec "$A" ping -c 1 -W 1 198.51.100.7 ||
	ns_fail "auto table: no ping through the tunnel"
kill -TERM "$FZ_PID"
ns_wait_for sh -c "! kill -0 $FZ_PID" || ns_fail "fz-tunneld did not stop"
ip -n "$A" route show table 51820 | grep -q "^10.77.0.0/16 dev lo" ||
	ns_fail "the other table's route was removed"
! ip -n "$A" -4 rule show | grep -q "51821\|suppress_prefixlength" ||
	ns_fail "auto table: rules left"
grep -q "PostUp hook 1 failed (status 3)" "$T/fz-auto.log" &&
	[ "$(cat "$H")" = "after $IF" ] ||
	ns_fail "a failing hook: not logged, or the next one did not run"
ns_log "ok: table 51820 in use: 51821 and fwmark 0xca6d, as wg-quick"
ns_log "ok: a failing hook is logged by number and the next one runs"
