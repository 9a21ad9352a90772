#!/bin/bash
# SPDX-License-Identifier: ISC
#
# fz-relayd joined to fz-portald, end to end, in a namespace:
#  - fz-relayd started first: /readyz 503; fz-portald comes up: the relay
#    joins (relay_token), /readyz 200
#  - a client joined to fz-portald (tests/interop/portal_client.py, a bare
#    Phoenix client) gets the relay in `init` with credentials the portal
#    minted from the relay's stamp_secret; aioice allocates with exactly
#    those and relays byte-exact datagrams: neither the test nor the client
#    ever sees the stamp_secret
#  - fz-portald killed: /readyz 503, the relay keeps relaying with the same
#    credentials; fz-portald restarted: the relay rejoins (/readyz 200), a
#    new client gets the same credentials (same relay process, same
#    secret) and they work
#  - the relay stopping (SIGTERM) reaches the client as relays_presence
#    with the relay's id among disconnected_ids
#  - a relay token fz-portald does not know: fz-relayd exits 1
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
PORTALD=${FZ_PORTALD:-$top_builddir/fz-portald}
[ -x "$PORTALD" ] || ns_skip "fz-portald not built"
command -v curl >/dev/null || ns_skip "curl not installed"
[ -x /usr/bin/python3 ] || ns_skip "python3 missing"
/usr/bin/python3 -c 'import aioice' 2>/dev/null || ns_skip "python3-aioice missing"
ns_tmpdir
T=$FZ_TMP
chmod 755 "$T"
ns_new e; N=$NS
X() { ip netns exec "$N" "$@"; }
RELAY="$top_builddir/fz-relayd"
CLIENT="$top_srcdir/tests/interop/portal_client.py"
RTOKEN="relay-$RANDOM$RANDOM$RANDOM"
CTOKEN="alice-$RANDOM$RANDOM"
PUBKEY=uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY=
METRICS=127.0.0.1:9105
cat >"$T/portald.json" <<EOF
{ "account": {"slug": "e2e"},
  "relay_token": "$RTOKEN",
  "sites": [{"name": "hq", "gateway_token": "gw-$RANDOM$RANDOM"}],
  "resources": [{"name": "lan", "type": "cidr", "address": "10.50.0.0/24",
                 "site": "hq"}],
  "clients": [{"name": "alice", "token": "$CTOKEN", "groups": ["eng"]}],
  "policies": [{"group": "eng", "resource": "lan"}] }
EOF

start_portald() {
	ns_bg "$N" "$T/portald.log" "$PORTALD" --config "$T/portald.json" \
		--listen 127.0.0.1:8443 --state "$T/state.db"
	PD=$BG_PID
}
start_relay() {	# start_relay LOG TOKEN
	ns_bg "$N" "$1" env FIREZONE_API_URL=ws://127.0.0.1:8443 \
		FIREZONE_TOKEN="$2" FIREZONE_NAME=e2e-relay "$RELAY" \
		--public-ip4-addr 127.0.0.1 --allow-private-peers \
		--lowest-port 50000 --highest-port 50999 --metrics "$METRICS" \
		--log-format json --user nobody
	RPID=$BG_PID
}
ready() { X curl -s -o /dev/null -w '%{http_code}' "http://$METRICS/readyz"; }
is_ready() { [ "$(ready)" = "$1" ]; }
start_client() {	# start_client OUT: alice, joined, events to OUT
	ns_bg "$N" "$1" /usr/bin/python3 "$CLIENT" 127.0.0.1 8443 "$CTOKEN" \
		9e2c7c1f-4d4b-4f5e-9c53-0f6a3b1f2e11 "$PUBKEY" 120
	CPID=$BG_PID
}
# The relay entry for 127.0.0.1:3478 from the client's init: "id user pass".
relay_creds() {
	/usr/bin/python3 - "$1" <<-'EOF'
	import json, sys
	for l in open(sys.argv[1]):
	    m = json.loads(l)
	    if m["event"] == "init":
	        for r in m["payload"]["relays"]:
	            if r["addr"] == "127.0.0.1:3478":
	                print(r["id"], r["username"], r["password"])
	                sys.exit(0)
	sys.exit(1)
	EOF
}
turn() {	# turn LABEL USER PASS
	X env TURN_USERNAME="$2" TURN_PASSWORD="$3" timeout 60 /usr/bin/python3 \
		"$top_srcdir/tests/interop/aioice_turn.py" 127.0.0.1 3478 unused \
		127.0.0.1 20 >"$T/aioice-$1.log" 2>&1 ||
		{ cat "$T/aioice-$1.log"; ns_fail "aioice ($1)"; }
}

# --- the relay first, then the portal ----------------------------------------------
start_relay "$T/relay.log" "$RTOKEN"
ns_wait_for X curl -sf "http://$METRICS/healthz" ||
	{ cat "$T/relay.log"; ns_fail "fz-relayd did not start"; }
[ "$(ready)" = 503 ] || ns_fail "/readyz $(ready) without a portal"
start_portald
ns_wait_for is_ready 200 ||
	{ tail "$T/relay.log" "$T/portald.log"; ns_fail "fz-relayd did not join fz-portald"; }
grep -q 'relay .* joined' "$T/portald.log" || ns_fail "fz-portald saw no join"
ns_check_dropped "$RPID"
ns_log "ok: /readyz 503 -> 200: fz-relayd joined fz-portald"

# --- a client gets credentials for it, and they work ---------------------------------
start_client "$T/client1.out"
ns_wait_for relay_creds "$T/client1.out" ||
	{ cat "$T/client1.out" "$T/portald.log"; ns_fail "no relay in the client's init"; }
read -r RID U P <<<"$(relay_creds "$T/client1.out")"
turn joined "$U" "$P"
ns_log "ok: the client's init lists relay $RID; its credentials ($U) relay: $(tail -1 "$T/aioice-joined.log")"

# --- the portal goes away: not ready, still relaying ----------------------------------
kill -9 "$PD"; wait "$PD" 2>/dev/null
ns_wait_for is_ready 503 || ns_fail "/readyz $(ready) with fz-portald gone"
turn partitioned "$U" "$P"
ns_log "ok: fz-portald killed: /readyz 503, the relay still relays with the same credentials"

# --- back: rejoined, same credentials ----------------------------------------------------
start_portald
FZ_WAIT=40 ns_wait_for is_ready 200 ||
	{ tail "$T/relay.log"; ns_fail "fz-relayd did not rejoin"; }
start_client "$T/client2.out"
ns_wait_for relay_creds "$T/client2.out" || ns_fail "no relay after the restart"
read -r RID2 U2 P2 <<<"$(relay_creds "$T/client2.out")"
[ "$RID2 $U2 $P2" = "$RID $U $P" ] || ns_fail "other credentials after the rejoin"
turn rejoined "$U2" "$P2"
ns_log "ok: fz-portald back: rejoined, /readyz 200, the same relay id and credentials work"

# --- the relay leaves: relays_presence ----------------------------------------------------
kill -TERM "$RPID"; wait "$RPID"; rc=$?
[ $rc = 0 ] || ns_fail "fz-relayd exit $rc after SIGTERM"
gone() {
	/usr/bin/python3 - "$T/client2.out" "$RID" <<-'EOF'
	import json, sys
	for l in open(sys.argv[1]):
	    m = json.loads(l)
	    if m["event"] == "relays_presence" and \
	       sys.argv[2] in m["payload"]["disconnected_ids"]:
	        sys.exit(0)
	sys.exit(1)
	EOF
}
ns_wait_for gone || { cat "$T/client2.out"; ns_fail "no relays_presence for the relay leaving"; }
ns_log "ok: SIGTERM: exit 0, the client gets relays_presence with $RID disconnected"

# --- a token fz-portald refuses ----------------------------------------------------------
X env FIREZONE_API_URL=ws://127.0.0.1:8443 FIREZONE_TOKEN=not-the-relay-token \
	timeout 30 "$RELAY" --public-ip4-addr 127.0.0.1 --log-format json \
	--user nobody >"$T/relay-bad.log" 2>&1
rc=$?
[ $rc = 1 ] || { tail "$T/relay-bad.log"; ns_fail "a refused token: exit $rc"; }
grep -q 'invalid_token' "$T/relay-bad.log" || ns_fail "no invalid_token in the log"
ns_log "ok: a token fz-portald refuses: exit 1 (invalid_token)"
kill "$CPID" 2>/dev/null
ns_log "PASS"
