#!/bin/bash
# SPDX-License-Identifier: ISC
# demo: a Client and a Gateway join fz-portald, a self-hosted Firezone portal, with fz-relayd
#
# fz-portald in namespace P with a small configuration (a site, a gateway
# token, a client token, a cidr and a dns resource, a policy), fz-relayd in
# R joined to it with the relay token, a gateway in G and a client in C
# (fz-tunneld --mode gateway / client, fz-controld as nobody).  Shows what
# the client's user sees (fzctl status, fzctl resources), who the portal
# has online, then a configuration change (SIGHUP) arriving at the client.
. "${top_srcdir:?}/tests/netns/lib.sh"
ns_require_root
for t in curl jq; do
	command -v $t >/dev/null || ns_fail "$t is not installed (contrib/bootstrap.sh installs it)"
done
ns_tmpdir
T=$FZ_TMP
B=${top_builddir:?}
# fz-controld runs as nobody: a world-readable copy (the build tree may
# sit under /root).
W=$(mktemp -d /tmp/fz-demo-w.XXXXXX); chmod 0755 "$W"
ns_on_cleanup "rm -rf '$W'"
cp "$B/fz-controld" "$W/" && chmod 0755 "$W/fz-controld"
ns_new p; P=$NS
ns_new r; R=$NS
ns_new g; G=$NS
ns_new c; C=$NS
ns_link "$P" 10.77.1.1 "$R" 10.77.1.2
ns_link "$P" 10.77.2.1 "$G" 10.77.2.2
ns_link "$P" 10.77.3.1 "$C" 10.77.3.2
umask 077
RTOK="relay-$RANDOM$RANDOM" GTOK="gw-$RANDOM$RANDOM" CTOK="alice-$RANDOM$RANDOM"

config() {	# config [extra resource, extra policy]: portal.json
	cat > "$T/portal.json" <<EOF
{ "account": {"slug": "demo", "search_domain": "corp.test",
              "upstream_do53": ["10.77.3.1"]},
  "relay_token": "$RTOK",
  "sites": [{"name": "hq", "gateway_token": "$GTOK"}],
  "resources": [
    {"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq",
     "filters": [{"protocol": "tcp", "ports": "80-443"}, {"protocol": "icmp"}]},
    {"name": "wiki", "type": "dns", "address": "*.corp.test", "site": "hq"}${1:-}],
  "clients": [{"name": "alice", "token": "$CTOK", "groups": ["eng"]}],
  "policies": [{"group": "eng", "resource": "lan"},
               {"group": "eng", "resource": "wiki"}${2:-}] }
EOF
}
config
echo "--- portal.json (tokens elided)"
sed -E 's/("(relay_token|gateway_token|token)": *")[^"]*"/\1..."/g' "$T/portal.json" | sed 's/^/    /'

echo "--- fz-portald --config portal.json --listen 0.0.0.0:8080"
"$B/fz-portald" --config "$T/portal.json" --check >/dev/null || ns_fail "the configuration is refused"
ns_bg "$P" "$T/portald.log" env RUST_LOG=info "$B/fz-portald" --config "$T/portal.json" \
	--listen 0.0.0.0:8080 --state "$T/state.db"
PD=$BG_PID
ns_wait_for sh -c "ip netns exec '$P' ss -Htln 'sport = :8080' | grep -q LISTEN" ||
	{ cat "$T/portald.log"; ns_fail "fz-portald does not listen"; }

echo "--- fz-relayd, FIREZONE_API_URL=ws://10.77.1.1:8080, token from \$CREDENTIALS_DIRECTORY"
mkdir "$T/relay-creds"
echo "$RTOK" > "$T/relay-creds/FIREZONE_TOKEN"
ns_bg "$R" "$T/relay.log" env CREDENTIALS_DIRECTORY="$T/relay-creds" \
	FIREZONE_API_URL=ws://10.77.1.1:8080 FIREZONE_NAME=relay-1 \
	HEALTH_CHECK_ADDR=127.0.0.1:8080 "$B/fz-relayd" \
	--public-ip4-addr 10.77.1.2 --user nobody --log-format human
ns_wait_for sh -c "[ \"\$(ip netns exec '$R' curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/readyz)\" = 200 ]" ||
	{ cat "$T/relay.log"; ns_fail "fz-relayd did not join"; }
echo "    joined: /readyz on HEALTH_CHECK_ADDR says $(ip netns exec "$R" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/readyz)"

# device NS NAME MODE: fz-tunneld, socket $W/NAME.sock
device() {
	mkdir -p "$T/$3"
	ns_bg "$1" "$T/$3.log" env ${4:+FIREZONE_TOKEN="$4"} ${5:-} "$B/fz-tunneld" \
		--mode "$3" --firezone-name "$2" --socket "$W/$3.sock" \
		--state-dir "$T/$3" --token-path "$T/$3/none" \
		--api-url "ws://$6:8080" --user nobody --controld "$W/fz-controld" \
		--dns-control disabled --log-format human --log-filter info
}
echo "--- fz-tunneld --mode gateway (token from \$CREDENTIALS_DIRECTORY)"
mkdir "$T/gw-creds"
echo "$GTOK" > "$T/gw-creds/FIREZONE_TOKEN"
device "$G" gw-hq gateway "" "CREDENTIALS_DIRECTORY=$T/gw-creds" 10.77.2.1
echo "--- fz-tunneld --mode client (FIREZONE_TOKEN)"
device "$C" alice-laptop client "$CTOK" "" 10.77.3.1
ctl() { "$B/fzctl" --socket "$W/$1.sock" "${@:2}"; }
online() { ctl "$1" status 2>/dev/null | grep -q '^state: *online'; }
ns_wait_for online gateway || { cat "$T/gateway.log"; ns_fail "the gateway is not online"; }
ns_wait_for online client || { cat "$T/client.log"; ns_fail "the client is not online"; }
nres() { [ "$(ctl client --json resources | jq length)" = "$1" ]; }
ns_wait_for nres 2 || ns_fail "the client does not list 2 resources"
ns_wait_for sh -c "'$B/fzctl' --socket '$W/client.sock' status | grep -q '^relays: *1 '" ||
	ns_fail "the client does not list the relay"

echo "--- client: fzctl status"
ctl client status | sed 's/^/    /'
echo "--- client: fzctl resources"
ctl client resources | sed 's/^/    /'
echo "--- gateway: fzctl status | grep -E '^(state|mode|addresses|relays)'"
ctl gateway status | grep -E '^(state|mode|addresses|relays)' | sed 's/^/    /'
echo "--- client: ip addr show tun-firezone"
ip -n "$C" -br addr show dev tun-firezone | sed 's/^/    /'
echo "--- the portal's view (its log)"
jq -r 'select(.message? // .msg? | test("connected from|joined")) | .message // .msg' \
	"$T/portald.log" 2>/dev/null | sed 's/^/    /'

echo "--- portal.json: a resource \"db\" 10.60.0.0/24 and a policy for it; kill -HUP fz-portald"
config ',
    {"name": "db", "type": "cidr", "address": "10.60.0.0/24", "site": "hq"}' ',
               {"group": "eng", "resource": "db"}'
kill -HUP "$PD"
t0=$(date +%s%N)
FZ_WAIT=5 ns_wait_for nres 3 || ns_fail "the change did not reach the client"
t1=$(date +%s%N)
echo "--- client: fzctl resources ($(( (t1 - t0) / 1000000 )) ms later)"
ctl client resources | sed 's/^/    /'
ctl client resources | grep -q ' db  *cidr  *10\.60\.0\.0/24 ' || ns_fail "no db resource"
