#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Secrets never reach a log line, a child's environment or a core dump
# (root; network namespaces).  fz-portald (dropped to nobody), fz-relayd, a
# gateway and a client, all at trace level, the client pinging a resource
# through the tunnel; then:
#  - no log holds a token (client, gateway, relay), a device's psk_base
#    (the portal's SQLite state, in hex and base64), the content of a small
#    file of a device's state directory (its keys), or a "stamp_secret",
#    "psk", "private_key", "password" or "secret" key with a value
#  - no child of fz-tunneld (fz-controld) has a token in /proc/PID/environ
#  - fz-controld, fz-relayd and fz-portald are not dumpable (their /proc
#    files such as /proc/PID/environ are root's, not their uid's);
#    fz-portald proves its drop:
#    uid 65534, NoNewPrivs, a seccomp filter, CapEff 0, and still re-reads
#    its configuration on SIGHUP
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib_topo.sh"
topo_init python3
export RUST_LOG=trace
TOPO_LOG_FILTER=trace

ns_new p; P=$NS
ns_new r; R=$NS
ns_new c; C=$NS
ns_new g; G=$NS
ns_new h; H=$NS
ns_link "$P" 10.75.1.1 "$C" 10.75.1.2
ns_link "$P" 10.75.2.1 "$G" 10.75.2.2
ns_link "$P" 10.75.4.1 "$R" 10.75.4.2
ns_link "$G" 10.51.0.1 "$H" 10.51.0.2
ip -n "$P" addr add 10.75.0.1/32 dev lo
ip netns exec "$P" sysctl -qw net.ipv4.ip_forward=1
for n in "$C:10.75.1.1" "$G:10.75.2.1" "$R:10.75.4.1" "$H:10.51.0.1"; do
	ip -n "${n%%:*}" route add default via "${n#*:}"
done

# fz-portald as root, dropping to nobody: its configuration readable by
# nogroup (re-read on SIGHUP), its state in a directory nobody owns.
TOK_alice="alice-$RANDOM$RANDOM$RANDOM"
PD="$W/portald"
mkdir -m 0750 "$PD" && chown root:nogroup "$PD"
mkdir -m 0700 "$PD/state" && chown nobody:nogroup "$PD/state"
printf '%s\n' '{ "account": {"slug": "sec"},' \
	"  \"relay_token\": \"$RTOK\"," \
	"  \"sites\": [{\"name\": \"hq\", \"gateway_token\": \"$GTOK\"}]," \
	'  "resources": [{"name": "lan", "type": "cidr", "address": "10.51.0.0/24", "site": "hq"}],' \
	"  \"clients\": [{\"name\": \"alice\", \"token\": \"$TOK_alice\", \"groups\": [\"eng\"]}]," \
	'  "policies": [{"group": "eng", "resource": "lan"}] }' > "$PD/portal.json"
chown root:nogroup "$PD/portal.json"
chmod 0640 "$PD/portal.json"
TOPO_API="ws://10.75.0.1:$TOPO_PORT"
TOPO_LOGS="portald"
ns_bg "$P" "$T/portald.log" "$B/fz-portald" --config "$PD/portal.json" \
	--listen "0.0.0.0:$TOPO_PORT" --state "$PD/state/state.db" --user nobody
PORTALD=$BG_PID
ns_wait_for grep -q 'listening on' "$T/portald.log" ||
	{ cat "$T/portald.log"; ns_fail "fz-portald does not listen"; }
grep -q 'running as uid 65534 gid 65534: CapEff, CapPrm and CapAmb empty, CapBnd empty, no_new_privs, not dumpable, seccomp on' \
	"$T/portald.log" || topo_fail "fz-portald did not log its drop"
# ns_bg's PID is ip netns exec's, which execs the program
st=/proc/$PORTALD/status
grep -q '^Uid:[[:space:]]*65534[[:space:]]' "$st" &&
	grep -q '^NoNewPrivs:[[:space:]]*1' "$st" &&
	grep -q '^Seccomp:[[:space:]]*2' "$st" &&
	grep -q '^CapEff:[[:space:]]*0*$' "$st" ||
	{ cat "$st"; topo_fail "fz-portald is not sandboxed"; }

topo_relay "$R" relay 10.75.4.2
topo_http "$H" 10.51.0.2
topo_device "$G" gateway gateway
topo_device "$C" alice client
ns_wait_for topo_online gateway || topo_fail "the gateway is not online"
ns_wait_for topo_online alice || topo_fail "the client is not online"
topo_routes "$C" "$G" 10.51.0.0/24
ping1() { ip netns exec "$C" ping -c 1 -W 1 10.51.0.2; }
FZ_WAIT=30 ns_wait_for ping1 || topo_fail "no ping reply from the resource"

# SIGHUP under the sandbox: the configuration is re-read.
kill -HUP "$PORTALD"
ns_wait_for grep -q 'SIGHUP: .*portal.json reloaded' "$T/portald.log" ||
	topo_fail "fz-portald did not re-read its configuration after the drop"
kill -0 "$PORTALD" || topo_fail "fz-portald died"

# The environment of fz-tunneld's children (and theirs).
descendants() {
	local p
	for p in $(pgrep -P "$1"); do
		echo "$p"
		descendants "$p"
	done
}
NCTL=0
for t in $gateway_PID $alice_PID; do
	for pid in $(descendants "$t"); do
		comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
		[ "$comm" = fz-tunneld ] && continue
		for tok in "$TOK_alice" "$GTOK" "$RTOK"; do
			if tr '\0' '\n' < "/proc/$pid/environ" | grep -qF -- "$tok"; then
				topo_fail "$comm ($pid) has a token in its environment"
			fi
		done
		if [ "$comm" = fz-controld ]; then
			NCTL=$((NCTL + 1))
			[ "$(stat -c %u "/proc/$pid/environ")" = 0 ] ||
				topo_fail "fz-controld ($pid) is dumpable"
		fi
	done
done
[ "$NCTL" -ge 2 ] || topo_fail "found $NCTL fz-controld processes, expected 2"
for pid in $PORTALD $(pgrep -x fz-relayd); do
	grep -q "^Uid:[[:space:]]*65534[[:space:]]" "/proc/$pid/status" 2>/dev/null || continue
	[ "$(stat -c %u "/proc/$pid/environ")" = 0 ] ||
		topo_fail "$(cat "/proc/$pid/comm") ($pid) is dumpable"
done

# Every secret the test knows or can read back.
SECRETS="$T/secrets"
printf '%s\n' "$TOK_alice" "$GTOK" "$RTOK" > "$SECRETS"
python3 - "$PD/state/state.db" >> "$SECRETS" <<'PY' || topo_fail "cannot read psk_base"
import base64, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
n = 0
for (psk,) in db.execute("SELECT psk_base FROM devices"):
    print(psk.hex())
    print(base64.b64encode(psk).decode())
    n += 1
sys.exit(0 if n >= 2 else 1)
PY
NKEYS=0
for f in $(find "$T/gateway" "$T/alice" -type f -size -200c); do
	v=$(tr -d '\n' < "$f")
	[ ${#v} -ge 32 ] || continue
	printf '%s\n' "$v" >> "$SECRETS"
	NKEYS=$((NKEYS + 1))
	# a hex key in its base64 form too
	if [ ${#v} = 64 ] && printf '%s' "$v" | grep -qE '^[0-9a-f]+$'; then
		python3 -c 'import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$v" >> "$SECRETS"
	fi
done
n=$(grep -c . "$SECRETS")
[ "$n" -ge 7 ] || topo_fail "only $n secrets collected"
ns_log "secrets: 3 tokens, $((n - 3 - NKEYS)) psk_base forms, $NKEYS state files"

logs="$T/portald.log $T/relay.log $T/gateway.log $T/alice.log"
for f in $logs; do
	[ -s "$f" ] || topo_fail "$f is empty"
done
lines=$(cat $logs | wc -l)
grep -qi 'trace' "$T/alice.log" || topo_fail "the client did not log at trace level"
if hit=$(grep -nF -f "$SECRETS" $logs); then
	printf '%s\n' "$hit" | head -n 5 >&2
	topo_fail "a secret reached a log"
fi
if hit=$(grep -nEi '(stamp_secret|psk|private_key|password|secret)[\\"]*[[:space:]]*[:=][[:space:]]*[\\"]*[A-Za-z0-9+/]{8,}' $logs); then
	printf '%s\n' "$hit" | head -n 5 >&2
	topo_fail "a secret-named value reached a log"
fi
ns_log "ok: $n secrets absent from $lines log lines at trace level; no token in fz-tunneld's children's environment; fz-controld, fz-relayd, fz-portald not dumpable; fz-portald sandboxed as nobody, SIGHUP reload works"
