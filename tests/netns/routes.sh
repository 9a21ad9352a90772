#!/bin/bash
# SPDX-License-Identifier: ISC
#
# tunneld/net/routes in a namespace: the six "not fwmark" rules, resource
# and range routes in table 0x2021fd00, the LAN copy in 0x2021fd01, the
# Internet Resource's default routes in 0x2021fd02 toggled on and off, a
# fwmarked lookup that bypasses the tunnel, stale state of a killed run
# removed by the next start, and nothing of ours left after stop.
. "$(dirname "$0")/lib.sh"
ns_require_root

drv=$top_builddir/tests/netns/routes_drv
[ -x "$drv" ] || ns_fail "$drv not built (make check builds it)"

ns_new r
R=$NS
ns_new peer
ns_link "$R" 192.168.77.2 "$NS" 192.168.77.1 24
LAN=$LINK_A
ip -n "$R" route add default via 192.168.77.1
ip -n "$R" -6 addr add 2001:db8:77::2/64 dev "$LAN" nodad
ip -n "$R" -6 route add default via 2001:db8:77::1
ip -n "$R" tuntap add dev tunfz mode tun
ip -n "$R" link set tunfz up

coproc DRV { ip netns exec "$R" "$drv" tunfz 2>&1; }
# bash unsets DRV_PID once it reaps the coproc: keep a copy
drv_pid=$DRV_PID
FZ_PIDS="$FZ_PIDS $drv_pid"

say() {
	local ans
	echo "$*" >&"${DRV[1]}"
	read -r -t 10 ans <&"${DRV[0]}" || ns_fail "driver: no answer to '$*'"
	case $ans in
	ok) ;;
	*) ns_fail "driver: '$*' -> $ans" ;;
	esac
}

rules() { ip -n "$R" "$@" rule show; }
tbl() { ip -n "$R" "${@:2}" route show table "$1" 2>/dev/null; }
dev_of() { ip -n "$R" route get "$@" | sed -n 's/.* dev \([^ ]*\).*/\1/p'; }

# A crashed run's leftovers: a rule and a route of ours.
ip -n "$R" rule add pref 100 not fwmark 0xfd002021 table 0x2021fd00
ip -n "$R" route add 10.99.0.0/16 dev tunfz table 0x2021fd00

say start
say res 10.20.0.0/16
say res 2001:db8:20::/48
say lan on
say apply

# Stale route gone, exactly one rule per priority and family.
tbl 0x2021fd00 | grep -q 10.99.0.0 && ns_fail "stale route survived start"
for fam in -4 -6; do
	for p in 100 200 300; do
		n=$(rules "$fam" | grep -c "^$p:")
		[ "$n" = 1 ] || ns_fail "$fam rule $p: $n rules"
	done
done
# ip prints the table in decimal: 0x2021fd00 = 539098368.
rules -4 | grep -Eq '^100:.*not from all fwmark 0xfd002021 lookup (0x2021fd00|539098368)$' ||
	ns_fail "rule 100: $(rules -4)"
rules -6 | grep -Eq '^300:.*not from all fwmark 0xfd002021 lookup (0x2021fd02|539098370)$' ||
	ns_fail "rule 300 (v6): $(rules -6)"
ip -n "$R" -d rule show | grep '^100:' | grep -q 'proto kernel' ||
	ns_fail "rule protocol"

for c in 10.20.0.0/16 100.64.0.0/11 100.96.0.0/11 100.100.111.0/24; do
	tbl 0x2021fd00 | grep -q "^$c dev tunfz" || ns_fail "no route $c"
done
for c in 2001:db8:20::/48 fd00:2021:1111::/107 fd00:2021:1111:8000::/107 \
    fd00:2021:1111:8000:100:100:111:0/120; do
	tbl 0x2021fd00 -6 | grep -q "^$c dev tunfz" || ns_fail "no route $c"
done
tbl 0x2021fd01 | grep -q "^192.168.77.0/24 dev $LAN" || ns_fail "no LAN copy"
tbl 0x2021fd01 -6 | grep -q "^2001:db8:77::/64 dev $LAN" ||
	ns_fail "no IPv6 LAN copy"
[ -z "$(tbl 0x2021fd02)$(tbl 0x2021fd02 -6)" ] ||
	ns_fail "Internet Resource routes while off"

[ "$(dev_of 10.20.1.1)" = tunfz ] || ns_fail "resource not via tunnel"
[ "$(dev_of 100.100.111.1)" = tunfz ] || ns_fail "sentinel not via tunnel"
[ "$(dev_of 8.8.8.8)" = "$LAN" ] || ns_fail "internet via tunnel while off"
# fz's own marked sockets bypass the tunnel tables.
[ "$(dev_of 10.20.1.1 mark 0xfd002021)" = "$LAN" ] ||
	ns_fail "marked packet took the tunnel"

# Change: one resource replaced by another.
say clear
say res 10.30.0.0/16
say apply
tbl 0x2021fd00 | grep -q 10.20.0.0 && ns_fail "removed resource still routed"
tbl 0x2021fd00 -6 | grep -q 2001:db8:20:: && ns_fail "v6 resource stayed"
[ "$(dev_of 10.30.1.1)" = tunfz ] || ns_fail "new resource not via tunnel"

# Internet Resource on: defaults via the tunnel, the LAN still direct,
# marked packets still out the LAN.
say internet on
say apply
tbl 0x2021fd02 | grep -q '^default dev tunfz' || ns_fail "no v4 default"
tbl 0x2021fd02 -6 | grep -q '^default dev tunfz' || ns_fail "no v6 default"
[ "$(dev_of 8.8.8.8)" = tunfz ] || ns_fail "internet not via tunnel"
[ "$(dev_of 2001:4860::1)" = tunfz ] || ns_fail "v6 internet not via tunnel"
[ "$(dev_of 192.168.77.1)" = "$LAN" ] || ns_fail "LAN lost under full tunnel"
[ "$(dev_of 8.8.8.8 mark 0xfd002021)" = "$LAN" ] ||
	ns_fail "marked packet took the full tunnel"
say internet off
say apply
[ -z "$(tbl 0x2021fd02)$(tbl 0x2021fd02 -6)" ] ||
	ns_fail "Internet Resource routes after off"
[ "$(dev_of 8.8.8.8)" = "$LAN" ] || ns_fail "internet via tunnel after off"

# kill -9 (no cleanup), then a new run cleans up at start.
say internet on
say apply
kill -9 "$drv_pid"
wait "$drv_pid" 2>/dev/null
coproc DRV { ip netns exec "$R" "$drv" tunfz 2>&1; }
drv_pid=$DRV_PID
FZ_PIDS="$FZ_PIDS $drv_pid"
say start
for p in 100 200 300; do
	n=$(rules -4 | grep -c "^$p:")
	[ "$n" = 1 ] || ns_fail "after restart: rule $p x$n"
done
[ -z "$(tbl 0x2021fd00)$(tbl 0x2021fd02)$(tbl 0x2021fd02 -6)" ] ||
	ns_fail "stale routes after restart"
say res 10.40.0.0/16
say apply

# Stop: nothing of ours remains.
say stop
for fam in -4 -6; do
	rules "$fam" | grep -Eq '0xfd002021|0x2021fd0|53909837[0-9]' &&
		ns_fail "rule left after stop: $(rules "$fam")"
	for t in 0x2021fd00 0x2021fd01 0x2021fd02; do
		[ -z "$(tbl $t "$fam")" ] || ns_fail "table $t $fam not empty"
	done
done
echo quit >&"${DRV[1]}"
wait "$drv_pid" 2>/dev/null
echo "routes.sh: ok"
