#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Client, Gateway and Relay join a portal (root; network namespaces):
# fz-portald in namespace P, fz-relayd in R, a client (fz-tunneld --mode
# client) in C, a gateway (--mode gateway) in G and a client with a wrong
# token in B, each on its own veth to P, speaking ws:// to the portal.
#  - fz-relayd joins /relay/websocket (its token from
#    $CREDENTIALS_DIRECTORY/FIREZONE_TOKEN, trimmed; /readyz on
#    HEALTH_CHECK_ADDR goes 200)
#  - both devices join (the client's token from FIREZONE_TOKEN, the
#    gateway's from $CREDENTIALS_DIRECTORY/FIREZONE_TOKEN): `fzctl status`
#    says online and lists the relay the portal logged as joined,
#    tun-firezone carries the
#    portal's addresses (/32, /128) with MTU 1280
#  - `fzctl resources` on the client lists exactly the resources its
#    policies allow (names, count, sites)
#  - a SIGHUP'd config change (a policy added, a resource removed) reaches
#    the client within a few seconds, and `fzctl events` sees it
#  - the wrong token gets invalid_token: status says sign-in required and
#    it makes no further attempt
#  - wss:// with a host name: resolved from B's /etc/hosts (read by
#    fz-controld before its sandbox), the certificate checked against
#    $SSL_CERT_FILE and the name; without it, verification fails
#  - fzctl sign-out removes the addresses and resources, sign-in restores
#  - a (fake) fz-controld sending INTERFACE with a bad address, or before a
#    sign-in, is killed and restarted
#  - fz-portald killed and restarted: both say reconnecting, then online
#    again, and the client still lists its resources; the relay's /readyz
#    goes 503, then 200 once it has rejoined, and both list it again
#  - fz-relayd stopped: relays_presence brings both to "relays: 0"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_fz_setup python3 curl
FZ_WAIT=15

ns_new p; P=$NS
ns_new c; C=$NS
ns_new g; G=$NS
ns_new b; B=$NS
ns_new r; R=$NS
ns_link "$P" 10.99.1.1 "$C" 10.99.1.2
ns_link "$P" 10.99.2.1 "$G" 10.99.2.2
ns_link "$P" 10.99.3.1 "$B" 10.99.3.2
ns_link "$P" 10.99.4.1 "$R" 10.99.4.2
PORT=8080

CTOK="alice-$RANDOM$RANDOM"
GTOK="gw-hq-$RANDOM$RANDOM"
RTOK="relay-$RANDOM$RANDOM"
config() {	# $1: extra policies (JSON objects, each with a leading comma)
	# $2: wiki to have the wiki resource and its policy, else ""
	local wiki="" wikipol=""
	if [ "$2" = wiki ]; then
		wiki='{"name": "wiki", "type": "dns", "address": "*.corp.test", "site": "hq"},'
		wikipol=', {"group": "eng", "resource": "wiki"}'
	fi
	cat > "$T/portal.json.new" <<EOF
{ "account": {"slug": "acme", "search_domain": "corp.test",
              "upstream_do53": ["10.99.1.53"]},
  "relay_token": "$RTOK",
  "turn_servers": [],
  "sites": [{"name": "hq", "gateway_token": "$GTOK"}],
  "resources": [
    {"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq",
     "filters": [{"protocol": "tcp", "ports": "80-443"}, {"protocol": "icmp"}]},
    $wiki
    {"name": "db", "type": "cidr", "address": "10.60.0.0/24", "site": "hq"},
    {"name": "Internet", "type": "internet", "site": "hq"}],
  "clients": [{"name": "alice", "token": "$CTOK", "groups": ["eng"]}],
  "policies": [{"group": "eng", "resource": "lan"}$wikipol$1] }
EOF
	mv "$T/portal.json.new" "$T/portal.json"
}
config "" wiki

start_portald() {
	ns_bg "$P" "$T/portald.$1.log" "$PORTALD" --config "$T/portal.json" \
		--listen "0.0.0.0:$PORT" --state "$T/state.db"
	PPID_=$BG_PID
	ns_wait_for sh -c "ip netns exec '$P' ss -Htln 'sport = :$PORT' | grep -q LISTEN" ||
		{ cat "$T/portald.$1.log"; ns_fail "fz-portald does not listen"; }
}
start_portald 1

# --- fz-relayd joins ------------------------------------------------------------
# Its token as a systemd credential, with white space around it; its health
# listener from HEALTH_CHECK_ADDR (no --metrics).
mkdir -m 0700 "$T/rcreds"
printf '  %s \n\n' "$RTOK" > "$T/rcreds/FIREZONE_TOKEN"
chmod 0400 "$T/rcreds/FIREZONE_TOKEN"
HEALTH=10.99.4.2:9108
ns_bg "$R" "$T/relay.log" env CREDENTIALS_DIRECTORY="$T/rcreds" \
	FIREZONE_API_URL="ws://10.99.4.1:$PORT" HEALTH_CHECK_ADDR="$HEALTH" \
	FIREZONE_NAME=portal-relay "$RELAYD" --public-ip4-addr 10.99.4.2 \
	--log-format json --user nobody
RELAY_PID=$BG_PID
ready() { ip netns exec "$R" curl -s -o /dev/null -w '%{http_code}' "http://$HEALTH/readyz"; }
is_ready() { [ "$(ready)" = "$1" ]; }
ns_wait_for is_ready 200 ||
	{ tail "$T/relay.log" "$T/portald.1.log"; ns_fail "fz-relayd did not join (/readyz $(ready))"; }
RID=$(grep -o 'relay [0-9a-f-]* joined' "$T/portald.1.log" | head -1 | awk '{ print $2 }')
[ -n "$RID" ] || ns_fail "fz-portald did not log the relay joining"
ns_log "ok: fz-relayd joined with the credential file's token (trimmed): relay $RID, /readyz 200 on HEALTH_CHECK_ADDR"

# start_device NS NAME MODE URL TOKEN: fz-tunneld in NS, socket $T/NAME.sock;
# the token in FIREZONE_TOKEN, or with TOKEN "" from $DEV_ENV's
# CREDENTIALS_DIRECTORY
start_device() {
	local ns=$1 name=$2 mode=$3 url=$4 tok=$5
	mkdir -p "$T/$name"
	ns_bg "$ns" "$T/$name.log" env ${tok:+FIREZONE_TOKEN="$tok"} ${DEV_ENV:-} \
		FIREZONE_NAME="$name" "$TUNNELD" --mode "$mode" \
		--socket "$T/$name.sock" --state-dir "$T/$name" \
		--token-path "$T/$name/no-token-file" \
		--firezone-id "$(python3 -c 'import uuid; print(uuid.uuid4())')" \
		--api-url "$url" --user nobody --controld "$W/fz-controld" \
		--dns-control disabled --log-format json --log-filter debug
	eval "${name}_PID=\$BG_PID"
}
start_device "$C" client client "ws://10.99.1.1:$PORT" "$CTOK"
# The gateway's token as a systemd credential (LoadCredential=).
mkdir -m 0700 "$T/creds"
printf '%s\n' "$GTOK" > "$T/creds/FIREZONE_TOKEN"
chmod 0400 "$T/creds/FIREZONE_TOKEN"
DEV_ENV="CREDENTIALS_DIRECTORY=$T/creds" start_device "$G" gateway gateway \
	"ws://10.99.2.1:$PORT/" ""

st() { "$FZCTL" --socket "$T/$1.sock" status 2>/dev/null; }
state_is() { st "$1" | grep -q "^state: *$2"; }
res_json() { "$FZCTL" --socket "$T/client.sock" --json resources; }
# res_names: the sorted names, comma-separated
res_names() {
	res_json | python3 -c 'import json, sys
print(",".join(sorted(r["name"] for r in json.load(sys.stdin))))'
}
# relays N [NAME...]: `fzctl status` of each says N relays (and the id)
relays() {
	local n=$1 d
	shift
	for d in "$@"; do
		if [ "$n" = 0 ]; then
			st "$d" | grep -q '^relays: *0$' || return 1
		else
			st "$d" | grep -q "^relays: *$n ($RID)$" || return 1
			[ "$("$FZCTL" --socket "$T/$d.sock" --json status |
			    python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["relays"], ",".join(s["relay_ids"]))')" = "$n $RID" ] ||
				return 1
		fi
	done
}
dump() {
	for f in portald.1 portald.2 relay client gateway badclient; do
		[ -f "$T/$f.log" ] && { echo "--- $f"; tail -n 40 "$T/$f.log"; }
	done
	for n in client gateway badclient; do
		[ -S "$T/$n.sock" ] && { echo "--- $n status"; st "$n"; }
	done
	return 0
}
fail() { dump; ns_fail "$*"; }

# --- both join ----------------------------------------------------------------
ns_wait_for state_is client online || fail "the client is not online"
ns_wait_for state_is gateway online || fail "the gateway is not online"
ns_log "ok: client and gateway joined ($(st client | grep '^state'))"
ns_wait_for relays 1 client gateway ||
	fail "the relay is not in fzctl status: $(st client | grep '^relays'), $(st gateway | grep '^relays')"
ns_log "ok: both list the relay: $(st client | grep '^relays')"
# The portal's addresses on tun-firezone, as /32 and /128; MTU 1280.
for n in client:$C gateway:$G; do
	ns=${n#*:}
	ns_wait_for sh -c "ip -n '$ns' -4 addr show dev tun-firezone | grep -q 'inet 100\\.[0-9.]*/32'" ||
		fail "${n%%:*}: no IPv4 /32 on tun-firezone: $(ip -n "$ns" addr show dev tun-firezone)"
	ip -n "$ns" -6 addr show dev tun-firezone | grep -q 'inet6 fd00:2021:1111:[0-9a-f:]*/128' ||
		fail "${n%%:*}: no IPv6 /128 on tun-firezone: $(ip -n "$ns" addr show dev tun-firezone)"
	ip -n "$ns" link show dev tun-firezone | grep -q 'mtu 1280' ||
		fail "${n%%:*}: tun-firezone MTU: $(ip -n "$ns" link show dev tun-firezone)"
	v4=$(ip -n "$ns" -4 -o addr show dev tun-firezone | awk '{ print $4 }')
	st "${n%%:*}" | grep -q "addresses: *${v4%/32}" ||
		fail "${n%%:*}: fzctl status does not show $v4"
done
ns_log "ok: tun-firezone configured from the portal's interface (client $(ip -n "$C" -4 -o addr show dev tun-firezone | awk '{ print $4 }'))"

# --- exactly the resources the policies allow ---------------------------------
ns_wait_for sh -c "[ \"\$('$FZCTL' --socket '$T/client.sock' --json resources | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 2 ]" ||
	fail "client resources: $(res_json)"
[ "$(res_names)" = "lan,wiki" ] || fail "client resources: $(res_names), expected lan,wiki"
res_json | python3 -c '
import json, sys
rs = {r["name"]: r for r in json.load(sys.stdin)}
lan, wiki = rs["lan"], rs["wiki"]
assert lan["type"] == "cidr" and lan["address"] == "10.50.0.0/24", lan
assert wiki["type"] == "dns" and wiki["address"] == "*.corp.test", wiki
for r in rs.values():
    assert r["sites"] == ["hq"], r
    assert len(r["id"]) == 36 and r["status"], r
' || fail "resource fields: $(res_json)"
"$FZCTL" --socket "$T/client.sock" resources | grep -q '^[0-9a-f-]\{36\} *lan *cidr *10.50.0.0/24 *hq' ||
	fail "fzctl resources (text): $("$FZCTL" --socket "$T/client.sock" resources)"
# The gateway is not a client: it lists none.
[ "$("$FZCTL" --socket "$T/gateway.sock" resources)" = "no resources" ] ||
	fail "the gateway lists resources"
ns_log "ok: the client lists exactly lan and wiki (site hq)"

# --- a SIGHUP'd change reaches the client -------------------------------------
# (and a subscribed front end: the list, then a "resources" event)
"$FZCTL" --socket "$T/client.sock" events > "$T/events" 2>&1 &
EV_PID=$!
FZ_PIDS="$FZ_PIDS $EV_PID"
sleep 0.5	# subscribed (fzctl events prints nothing until an event)
config ', {"group": "eng", "resource": "Internet"}' wiki
kill -HUP "$PPID_"
t0=$(date +%s%N)
FZ_WAIT=5 ns_wait_for sh -c "[ \"\$('$FZCTL' --socket '$T/client.sock' --json resources | python3 -c 'import json,sys; print(\",\".join(sorted(r[\"name\"] for r in json.load(sys.stdin))))')\" = Internet,lan,wiki ]" ||
	fail "policy added: $(res_names)"
t1=$(date +%s%N)
ns_wait_for grep -q '^resources: 3$' "$T/events" || fail "no event: $(cat "$T/events")"
grep -q '^[0-9a-f-]\{36\} *Internet *internet ' "$T/events" ||
	fail "no list in the events: $(cat "$T/events")"
kill "$EV_PID"
config ', {"group": "eng", "resource": "Internet"}' ""
kill -HUP "$PPID_"
FZ_WAIT=5 ns_wait_for sh -c "[ \"\$('$FZCTL' --socket '$T/client.sock' --json resources | python3 -c 'import json,sys; print(\",\".join(sorted(r[\"name\"] for r in json.load(sys.stdin))))')\" = Internet,lan ]" ||
	fail "resource removed: $(res_names)"
t2=$(date +%s%N)
ns_log "ok: SIGHUP: policy added seen in $(( (t1 - t0) / 1000000 )) ms, resource removed in $(( (t2 - t1) / 1000000 )) ms"

# --- a wrong token: invalid_token, sign-in required, no more attempts ---------
start_device "$B" badclient client "ws://10.99.3.1:$PORT" "wrong-$RANDOM"
ns_wait_for sh -c "'$FZCTL' --socket '$T/badclient.sock' status 2>/dev/null | grep -q '^state: *signed_out.*sign-in required'" ||
	fail "wrong token: $(st badclient | head -2)"
st badclient | grep -q 'invalid_token' || fail "no invalid_token in: $(st badclient | head -1)"
st badclient | grep -q '^signed in: *no' || fail "still signed in: $(st badclient)"
attempts() { grep -c 'refused the connection: HTTP 401' "$T/badclient.log"; }
n1=$(attempts)
[ "$n1" = 1 ] || fail "$n1 refused attempts before the wait"
sleep 5
n2=$(attempts)
[ "$n2" = 1 ] || fail "the client with a wrong token tried again ($n2 attempts)"
# The portal saw exactly one upgrade from B's address, refused.
[ "$(grep -c 'from 10\.99\.3\.2:[0-9]*: 401 invalid_token' "$T/portald.1.log")" = 1 ] ||
	fail "the portal's log: $(grep '10\.99\.3\.2' "$T/portald.1.log")"
[ "$(grep -c '10\.99\.3\.2' "$T/portald.1.log")" = 1 ] ||
	fail "further attempts from the wrong-token client: $(grep '10\.99\.3\.2' "$T/portald.1.log")"
ns_log "ok: wrong token: signed_out (sign-in required, invalid_token), one attempt, none after"

# --- wss:// by name, trust from SSL_CERT_FILE --------------------------------
kill "$badclient_PID"
ns_wait_for sh -c "! kill -0 $badclient_PID" || fail "the wrong-token client does not stop"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=fz-portal-test-ca \
	-keyout "$T/ca.key" -out "$W/ca.pem" >/dev/null 2>&1 || fail "CA"
openssl req -newkey rsa:2048 -nodes -subj /CN=portal.test \
	-keyout "$T/srv.key" -out "$T/srv.csr" >/dev/null 2>&1 || fail "CSR"
printf 'subjectAltName=DNS:portal.test\n' > "$T/san.ext"
openssl x509 -req -in "$T/srv.csr" -CA "$W/ca.pem" -CAkey "$T/ca.key" \
	-CAcreateserial -days 2 -extfile "$T/san.ext" -out "$T/srv.pem" \
	>/dev/null 2>&1 || fail "server certificate"
chmod 0644 "$W/ca.pem"
# ip netns exec mounts /etc/netns/NS/* over /etc: B's hosts and resolver.
mkdir -p "/etc/netns/$B"
ns_on_cleanup "rm -rf '/etc/netns/$B'"
printf '127.0.0.1 localhost\n10.99.3.1 portal.test\n' > "/etc/netns/$B/hosts"
printf 'nameserver 10.99.3.1\n' > "/etc/netns/$B/resolv.conf"
ns_bg "$P" "$T/portald.tls.log" "$PORTALD" --config "$T/portal.json" \
	--listen "10.99.3.1:8443" --state "$T/state-tls.db" \
	--tls-cert "$T/srv.pem" --tls-key "$T/srv.key"
ns_wait_for sh -c "ip netns exec '$P' ss -Htln 'sport = :8443' | grep -q LISTEN" ||
	{ cat "$T/portald.tls.log"; fail "fz-portald (TLS) does not listen"; }
# Without the CA: the system store does not trust it, nothing joins.
start_device "$B" tlsbad client "wss://portal.test:8443" "$CTOK"
ns_wait_for grep -q 'certificate verify failed' "$T/tlsbad.log" ||
	fail "no certificate failure: $(grep -i 'portal' "$T/tlsbad.log" | tail -3)"
state_is tlsbad online && fail "joined a portal it cannot verify"
kill "$tlsbad_PID"
ns_wait_for sh -c "! kill -0 $tlsbad_PID" || fail "tlsbad does not stop"
DEV_ENV="SSL_CERT_FILE=$W/ca.pem" start_device "$B" tls client \
	"wss://portal.test:8443" "$CTOK"
ns_wait_for state_is tls online || fail "wss:// client not online"
ns_wait_for sh -c "[ \"\$('$FZCTL' --socket '$T/tls.sock' --json resources | python3 -c 'import json,sys; print(\",\".join(sorted(r[\"name\"] for r in json.load(sys.stdin))))')\" = Internet,lan ]" ||
	fail "wss:// client resources"
grep -q 'client .* connected from 10\.99\.3\.2' "$T/portald.tls.log" ||
	fail "the TLS portal did not see the client"
ns_log "ok: wss://portal.test: name from /etc/hosts, certificate from SSL_CERT_FILE (and refused without it)"

# --- sign-out and sign-in again through fzctl --------------------------------
"$FZCTL" --socket "$T/tls.sock" sign-out >/dev/null || fail "sign-out"
state_is tls signed_out || fail "after sign-out: $(st tls | head -1)"
[ "$("$FZCTL" --socket "$T/tls.sock" resources)" = "no resources" ] ||
	fail "resources kept after sign-out"
ip -n "$B" -4 addr show dev tun-firezone | grep -q 'inet ' &&
	fail "tun-firezone keeps its address after sign-out"
printf '%s\n' "$CTOK" > "$T/tok"
"$FZCTL" --socket "$T/tls.sock" sign-in --token-file "$T/tok" >/dev/null ||
	fail "sign-in"
ns_wait_for state_is tls online || fail "not online after sign-in: $(st tls | head -1)"
ns_wait_for sh -c "ip -n '$B' -4 addr show dev tun-firezone | grep -q 'inet 100\.'" ||
	fail "no address after sign-in"
ns_wait_for sh -c "[ \"\$('$FZCTL' --socket '$T/tls.sock' resources | grep -c internet)\" = 1 ]" ||
	fail "no resources after sign-in"
ns_log "ok: sign-out removes addresses and resources; sign-in brings them back"

# --- the portal goes away and comes back --------------------------------------
kill "$PPID_"
wait "$PPID_" 2>/dev/null
ns_wait_for state_is client reconnecting || fail "client did not notice the portal going"
ns_wait_for state_is gateway reconnecting || fail "gateway did not notice the portal going"
ns_wait_for is_ready 503 || fail "the relay's /readyz $(ready) with fz-portald gone"
ns_log "ok: portal killed: client and gateway reconnecting ($(st client | grep '^state')), the relay's /readyz 503"
start_portald 2
FZ_WAIT=75 ns_wait_for state_is client online || fail "client did not rejoin"
FZ_WAIT=75 ns_wait_for state_is gateway online || fail "gateway did not rejoin"
FZ_WAIT=75 ns_wait_for is_ready 200 || fail "the relay did not rejoin (/readyz $(ready))"
grep -q "relay $RID joined" "$T/portald.2.log" || fail "the restarted portal saw another relay"
ns_wait_for sh -c "[ \"\$('$FZCTL' --socket '$T/client.sock' --json resources | python3 -c 'import json,sys; print(\",\".join(sorted(r[\"name\"] for r in json.load(sys.stdin))))')\" = Internet,lan ]" ||
	fail "after the restart: $(res_names)"
ns_wait_for relays 1 client gateway ||
	fail "the relay after the restart: $(st client | grep '^relays'), $(st gateway | grep '^relays')"
ns_log "ok: portal restarted: both online again, client lists $(res_names); relay $RID rejoined (/readyz 200), both list it"

# --- the relay goes: relays_presence --------------------------------------------
"$FZCTL" --socket "$T/client.sock" events > "$T/events2" 2>&1 &
EV_PID=$!
FZ_PIDS="$FZ_PIDS $EV_PID"
sleep 0.5	# subscribed
kill -TERM "$RELAY_PID"
wait "$RELAY_PID"; rc=$?
[ $rc = 0 ] || fail "fz-relayd exit $rc after SIGTERM"
ns_wait_for grep -q "relay $RID left" "$T/portald.2.log" || fail "the portal did not see the relay leave"
ns_wait_for relays 0 client gateway ||
	fail "relay gone: $(st client | grep '^relays'), $(st gateway | grep '^relays')"
ns_wait_for grep -q '^relays: 0$' "$T/events2" || fail "no relays event: $(cat "$T/events2")"
kill "$EV_PID"
ns_log "ok: fz-relayd stopped (exit 0): relays_presence, both say relays: 0 (and fzctl events)"

# Everything stayed sandboxed: fz-controld alive under seccomp in both.
for n in client gateway; do
	eval "tp=\$${n}_PID"
	cp_=$(pgrep -P "$tp" -f fz-controld | head -1)
	[ -n "$cp_" ] && grep -q 'Seccomp:.*2' "/proc/$cp_/status" ||
		fail "$n: no fz-controld under seccomp"
	grep -q 'fz-controld (pid [0-9]*) \(killed by signal\|exited\)' "$T/$n.log" &&
		fail "$n: fz-controld died: $(grep -m1 'fz-controld (pid' "$T/$n.log")"
done
ns_log "ok: fz-controld never killed, seccomp on"

# --- INTERFACE from the controld side: only signed in, only addresses --------
# A fake fz-controld (once; the restart is the real one; a shell script and
# python, so fz-tunneld runs without its filter here) sends HELLO and an
# INTERFACE: with an address that is not one while signed in, and any at
# all while signed out; either is a violation that gets it killed.
ns_new v; V=$NS
mkdir -m 1777 "$W/once"	# the fake runs as nobody
# fake NAME INTERFACE-PAYLOAD (msgpack bytes as a Python literal)
fake() {
	cat > "$W/controld-$1" <<SH
#!/bin/sh
if mkdir "$W/once/$1" 2>/dev/null; then
	exec python3 -c 'import os, struct, time
def frame(b): return struct.pack(">I", len(b)) + b
hello = bytes([0x92, 0x01, 0x93, 0x01, 0xab]) + b"fz-controld" + \\
    b"\\xce" + struct.pack(">I", os.getpid())
os.write(3, frame(hello) + frame(bytes([0x92, 0x13]) + $2))
time.sleep(60)'
fi
exec "$W/fz-controld" "\$@"
SH
	chmod 0755 "$W/controld-$1"
}
fake badaddr 'bytes([0x94, 0xa9]) + b"not-an-ip" + bytes([0xa0] * 3)'
fake outofphase 'bytes([0x94, 0xaa]) + b"100.64.0.9" + bytes([0xa0] * 3)'
for n in badaddr outofphase; do
	# signed in (a token) for the bad address, signed out for the other
	tokenv=FIREZONE_TOKEN=x
	[ $n = outofphase ] && tokenv=FZ_UNUSED=1
	ns_bg "$V" "$T/v-$n.log" env "$tokenv" "$TUNNELD" \
		--socket "$T/v-$n.sock" --state-dir "$T" --firezone-id v \
		--token-path "$T/none" --api-url "ws://127.0.0.1:9" \
		--user nobody --controld "$W/controld-$n" --dns-control disabled \
		--seccomp off --log-format json --log-filter info
	vp=$BG_PID
	case $n in
	badaddr) want="violated the IPC protocol on its control channel (INTERFACE with an address that is not one)" ;;
	*) want="INTERFACE from fz-controld in phase CONFIGURED" ;;
	esac
	ns_wait_for grep -q "$want" "$T/v-$n.log" ||
		{ tail -5 "$T/v-$n.log"; fail "$n: INTERFACE not refused"; }
	ns_wait_for sh -c "'$FZCTL' --socket '$T/v-$n.sock' status | grep -q 'pid .*restarted 1 time'" ||
		fail "$n: fz-controld not restarted"
	ip -n "$V" -4 addr show dev tun-firezone | grep -q 'inet ' &&
		fail "$n: an address was configured"
	kill "$vp"
	ns_wait_for sh -c "! kill -0 $vp" || fail "$n: fz-tunneld does not stop"
done
ns_log "ok: INTERFACE with a bad address, or before a sign-in: violation, killed, restarted"
exit 0
