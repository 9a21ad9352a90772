#!/bin/bash
# SPDX-License-Identifier: ISC
#
# fz-relayd joins a portal (firezone-protocols.md §1.2-§1.4, §1.9, §3.1,
# §3.3), in a namespace, against tests/interop/fake_portal.py (a scripted
# relay socket written from the protocol notes):
#  - started before the portal: /readyz 503, the state set says
#    connecting; the portal comes up: the relay joins within the 1 s
#    retry, /readyz 200 with the version
#  - the connect: /relay/websocket?name=&ipv4=&port= (no ipv6 when none),
#    a User-Agent with relay/, the token as X-Authorization, a join with a
#    fresh 64-hex stamp_secret, heartbeats
#  - the token is in neither /proc/PID/environ nor /proc/PID/cmdline
#    (env and positional forms) nor the log
#  - credentials minted from the stamp_secret the portal received (§3.3,
#    as the portal mints them for clients): aioice allocates and relays
#  - the portal killed: /readyz 503 (reconnecting), relaying goes on with
#    the same credentials; the portal back: the relay rejoins with the same
#    stamp_secret, /readyz 200
#  - all of it as nobody with seccomp (kill), the portal over wss:// with a
#    CA from SSL_CERT_FILE and a name from the namespace's /etc/hosts, or
#    (positional token) one a name server answers over UDP
#  - SIGTERM: a close frame, exit 0; a token the portal refuses (401
#    invalid_token): exit 1 without retrying; no portal within the first
#    join's 15 s budget: exit 1
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
for t in curl openssl; do
	command -v $t >/dev/null || ns_skip "$t not installed"
done
[ -x /usr/bin/python3 ] || ns_skip "python3 missing"
/usr/bin/python3 -c 'import aioice' 2>/dev/null || ns_skip "python3-aioice missing"
ns_tmpdir
T=$FZ_TMP
ns_new p; N=$NS
X() { ip netns exec "$N" "$@"; }
RELAY="$top_builddir/fz-relayd"
PORTAL="$top_srcdir/tests/interop/fake_portal.py"
TOKEN="relaytoken$RANDOM$RANDOM$RANDOM"
METRICS=127.0.0.1:9104
mkdir -p "$T/p"
chmod 755 "$T"

# The portal's name, only inside the namespace (ip netns exec bind-mounts
# /etc/netns/NAME/hosts over /etc/hosts), and a CA for its certificate.
mkdir -p "/etc/netns/$N"
ns_on_cleanup rm -rf "/etc/netns/$N"
printf '127.0.0.1 localhost\n127.0.0.1 portal.fz.test\n' >"/etc/netns/$N/hosts"
printf 'nameserver 127.0.0.1\n' >"/etc/netns/$N/resolv.conf"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 2 -subj /CN=fz-test-ca -keyout "$T/ca.key" -out "$T/ca.pem" \
	-addext basicConstraints=critical,CA:TRUE 2>/dev/null ||
	ns_fail "openssl: CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj /CN=portal.fz.test -keyout "$T/srv.key" -out "$T/srv.csr" \
	2>/dev/null || ns_fail "openssl: CSR"
printf 'subjectAltName=DNS:portal.fz.test,DNS:dns.fz.test\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	-CAcreateserial -days 2 -extfile "$T/ext" -out "$T/srv.pem" \
	2>/dev/null || ns_fail "openssl: certificate"
chmod 644 "$T"/*.pem

start_portal() {
	ns_bg "$N" "$T/portal.log" env PORTAL_TLS_CERT="$T/srv.pem" \
		PORTAL_TLS_KEY="$T/srv.key" /usr/bin/python3 "$PORTAL" \
		127.0.0.1 8443 "$TOKEN" "$T/p"
	PPID_=$BG_PID
}

relay_env=(env SSL_CERT_FILE="$T/ca.pem" FIREZONE_API_URL=wss://portal.fz.test:8443
	FIREZONE_NAME=relay-one)
relay_flags=(--public-ip4-addr 127.0.0.1 --allow-private-peers
	--lowest-port 50000 --highest-port 50999 --metrics "$METRICS"
	--log-format json --log-filter trace --user nobody)

ready() { X curl -s -o /dev/null -w '%{http_code}' "http://$METRICS/readyz"; }
state() {	# the portal state the metrics report as 1
	X curl -s "http://$METRICS/metrics" |
		awk -F'"' '/^fz_relay_portal_state\{/ && / 1$/ { print $2 }'
}
is_ready() { [ "$(ready)" = "$1" ]; }
wait_ready() {	# wait_ready CODE
	ns_wait_for is_ready "$1"
}

# Firezone credentials as the portal mints them from the stamp_secret
# (§3.3): salt = b64nopad(SHA-256(public key)), password = b64nopad(
# SHA-256("expiry:secret:salt")).
mint() {
	/usr/bin/python3 - "$(cat "$T/p/stamp")" <<-'EOF'
	import base64, hashlib, sys, time
	b64 = lambda b: base64.b64encode(b).decode().rstrip("=")
	salt = b64(hashlib.sha256(b"uMBCkAxTewfSgypIyxdQ18uCi84HLtKmQJy0wvQrYWY=").digest())
	exp = int(time.time()) + 3600
	pw = b64(hashlib.sha256(("%d:%s:%s" % (exp, sys.argv[1], salt)).encode()).digest())
	print("%d:%s %s" % (exp, salt, pw))
	EOF
}
turn() {	# turn LABEL USER PASS: an aioice allocation relaying 20 datagrams
	X env TURN_USERNAME="$2" TURN_PASSWORD="$3" timeout 60 /usr/bin/python3 \
		"$top_srcdir/tests/interop/aioice_turn.py" 127.0.0.1 3478 unused \
		127.0.0.1 20 >"$T/aioice-$1.log" 2>&1 ||
		{ cat "$T/aioice-$1.log"; ns_fail "aioice ($1)"; }
}

# --- before the portal: not ready ---------------------------------------------
ns_bg "$N" "$T/relay.log" "${relay_env[@]}" FIREZONE_TOKEN="$TOKEN" \
	"$RELAY" "${relay_flags[@]}"
RPID=$BG_PID
ns_wait_for X curl -sf "http://$METRICS/healthz" ||
	{ cat "$T/relay.log"; ns_fail "fz-relayd did not start"; }
[ "$(ready)" = 503 ] || ns_fail "/readyz $(ready) before the portal"
[ "$(state)" = connecting ] || ns_fail "state $(state) before the portal"
ns_log "ok: no portal yet: /healthz 200, /readyz 503, state connecting"

# --- the portal comes up: joined -------------------------------------------------
start_portal
wait_ready 200 || { cat "$T/relay.log" "$T/portal.log"; ns_fail "not ready after the portal came up"; }
body=$(X curl -s "http://$METRICS/readyz")
grep -qx '[0-9][0-9.a-z+~-]*' <<<"$body" || ns_fail "/readyz body '$body'"
[ "$(state)" = joined ] || ns_fail "state $(state) once joined"
ns_check_dropped "$RPID"
python3 - "$T/p/log" <<-'EOF' || ns_fail "the connect or the join"
	import json, re, sys
	e = [json.loads(l) for l in open(sys.argv[1])]
	j = [x for x in e if x["event"] == "joined"]
	assert len(j) == 1, e
	j = j[0]
	assert j["path"] == "/relay/websocket", j
	assert j["query"].startswith("name=relay-one&ipv4=127.0.0.1&"), j["query"]
	assert j["params"] == {"name": ["relay-one"], "ipv4": ["127.0.0.1"],
	    "port": ["3478"]}, j["params"]
	assert re.search(r"(^| )relay/[0-9]+\.[0-9]+\.[0-9]+", j["user_agent"]), j
	assert j["token_ok"], j
	assert re.fullmatch(r"[0-9a-f]{64}", j["join"]["stamp_secret"]), j["join"]
	assert list(j["join"]) == ["stamp_secret"] and j["join_ref"] == 0, j
EOF
ns_log "ok: joined over wss:// (SSL_CERT_FILE, /etc/hosts): query, relay/ User-Agent, token, stamp_secret; /readyz 200 '$body'"

tr '\0' '\n' </proc/"$RPID"/environ | grep -q FIREZONE_TOKEN &&
	ns_fail "FIREZONE_TOKEN still in the environment"
grep -q "$TOKEN" /proc/"$RPID"/environ "$T/relay.log" &&
	ns_fail "the token is visible"
grep -q '"DEBUG"' "$T/relay.log" || ns_fail "no debug lines to look through"
ns_log "ok: the token is neither in /proc/PID/environ nor in the log (filter trace)"

grep -q "$(cat "$T/p/stamp")" "$T/relay.log" && ns_fail "the stamp_secret is in the log"
# --- credentials from the stamp_secret --------------------------------------------
read -r U P <<<"$(mint)"
turn joined "$U" "$P"
X env TURN_USERNAME="$U" TURN_PASSWORD="x$P" timeout 30 /usr/bin/python3 \
	"$top_srcdir/tests/interop/aioice_turn.py" 127.0.0.1 3478 unused \
	127.0.0.1 1 >"$T/aioice-bad.log" 2>&1 &&
	ns_fail "a wrong password was accepted"
ns_log "ok: Firezone credentials from the stamp_secret relay ($(tail -1 "$T/aioice-joined.log"))"

# heartbeats every 10 s (the first after 10 s)
sleep 10.5
# --- the portal goes away: not ready, still relaying -------------------------------
kill -9 "$PPID_"; wait "$PPID_" 2>/dev/null
wait_ready 503 || ns_fail "/readyz $(ready) with the portal gone"
[ "$(state)" = reconnecting ] || ns_fail "state $(state) with the portal gone"
turn partitioned "$U" "$P"
ns_log "ok: portal killed: /readyz 503, state reconnecting, still relaying"
python3 - "$T/p/log" <<-'EOF' || ns_fail "no heartbeat"
	import json, sys
	e = [json.loads(l) for l in open(sys.argv[1])]
	h = [x for x in e if x["event"] == "heartbeat"]
	assert h and all(type(x["ref"]) is int and x["ref"] > 0 and
	    x["payload"] == {} for x in h), e
EOF

# --- back: rejoined with the same stamp_secret --------------------------------------
stamp1=$(cat "$T/p/stamp")
start_portal
FZ_WAIT=30 wait_ready 200 || { tail "$T/relay.log"; ns_fail "no rejoin"; }
[ "$(cat "$T/p/stamp")" = "$stamp1" ] || ns_fail "a new stamp_secret on rejoin"
joins=$(X curl -s "http://$METRICS/metrics" | awk '/^fz_relay_portal_joins_total/ { print $2 }')
[ "$joins" = 2 ] || ns_fail "joins_total $joins"
turn rejoined "$U" "$P"
ns_log "ok: portal back: rejoined with the same stamp_secret, /readyz 200, joins_total 2"

# --- SIGTERM: close 1000, exit 0 ----------------------------------------------------
n0=$(grep -c '"closed"' "$T/p/log")
kill -TERM "$RPID"; wait "$RPID"; rc=$?
[ $rc = 0 ] || ns_fail "fz-relayd exit $rc after SIGTERM"
closes() { [ "$(grep -c '"closed"' "$T/p/log")" -gt "$1" ]; }
ns_wait_for closes "$n0" ||
	ns_fail "the portal saw no close"
tail -1 "$T/p/log" | grep -q '"close_code": 1000' ||
	ns_fail "no close frame with 1000: $(tail -1 "$T/p/log")"
ns_log "ok: SIGTERM: the portal connection closed with 1000, exit 0"

# --- the token as the positional argument; the name from a name server -----------
# A name server for dns.fz.test only (A 127.0.0.1), at resolv.conf's
# 127.0.0.1:53: the relay's resolver asks it over UDP inside the sandbox.
cat >"$T/dns.py" <<-'EOF'
	import socket, struct
	NAME = b"\x03dns\x02fz\x04test\x00"
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind(("127.0.0.1", 53))
	while True:
	    q, a = s.recvfrom(512)
	    qd = q[12:]
	    end = qd.index(b"\0") + 5	# the name, QTYPE, QCLASS
	    known = qd[:end - 4].lower() == NAME	# evdns mixes the case
	    ans = b""
	    if known and struct.unpack("!H", qd[end - 4:end - 2])[0] == 1:
	        ans = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01"
	    flags = b"\x81\x80" if known else b"\x81\x83"	# NOERROR, NXDOMAIN
	    s.sendto(q[:2] + flags + struct.pack("!HHHH", 1, 1 if ans else 0, 0, 0)
	             + qd[:end] + ans, a)
	EOF
ns_bg "$N" "$T/dns.log" /usr/bin/python3 "$T/dns.py"
ns_bg "$N" "$T/relay2.log" env SSL_CERT_FILE="$T/ca.pem" \
	FIREZONE_API_URL=wss://dns.fz.test:8443 "$RELAY" "${relay_flags[@]}" "$TOKEN"
RPID=$BG_PID
wait_ready 200 || { cat "$T/relay2.log" "$T/dns.log"; ns_fail "positional token: not joined"; }
grep -q "$TOKEN" /proc/"$RPID"/cmdline && ns_fail "the token is in /proc/PID/cmdline"
[ "$(cat "$T/p/stamp")" != "$stamp1" ] || ns_fail "the same stamp_secret after a restart"
kill -TERM "$RPID"; wait "$RPID"
ns_log "ok: positional token joins (portal name from a name server, in the sandbox), not in /proc/PID/cmdline; a new stamp_secret per start"

# --- a token the portal refuses: exit 1, no retry -------------------------------------
n0=$(wc -l <"$T/p/log")
X "${relay_env[@]}" FIREZONE_TOKEN=wrong timeout 20 "$RELAY" "${relay_flags[@]}" \
	>"$T/relay3.log" 2>&1
rc=$?
[ $rc = 1 ] || { tail "$T/relay3.log"; ns_fail "a refused token: exit $rc, not 1"; }
n=$(($(wc -l <"$T/p/log") - n0))
[ $n = 1 ] || ns_fail "a refused token was tried $n times"
grep -q 'wrong' "$T/relay3.log" && ns_fail "the token is in the log"
ns_log "ok: 401 invalid_token: exit 1 after one attempt"

# --- no portal at all: the 15 s first-join budget spent, exit 1 --------------------------
t0=$(date +%s)
X env FIREZONE_API_URL=ws://127.0.0.1:9 FIREZONE_TOKEN="$TOKEN" timeout 40 \
	"$RELAY" "${relay_flags[@]}" >"$T/relay5.log" 2>&1
rc=$? dt=$(($(date +%s) - t0))
[ $rc = 1 ] && [ $dt -ge 13 ] && [ $dt -le 25 ] ||
	{ tail -3 "$T/relay5.log"; ns_fail "an unreachable portal: exit $rc after $dt s"; }
ns_log "ok: an unreachable portal: exit 1 after $dt s (the first join's 15 s budget)"

# --- without a token: no portal, ready at once (today's behaviour) -------------------
ns_bg "$N" "$T/relay4.log" env -u FIREZONE_TOKEN "$RELAY" "${relay_flags[@]}" \
	--static-auth-secret s3
RPID=$BG_PID
wait_ready 200 || ns_fail "without a portal: /readyz $(ready)"
[ "$(state)" = none ] || ns_fail "state $(state) without a portal"
kill -TERM "$RPID"; wait "$RPID"
ns_log "ok: no portal: /readyz 200, state none"
ns_log "PASS"
