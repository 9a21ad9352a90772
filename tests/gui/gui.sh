#!/bin/bash
# SPDX-License-Identifier: ISC
#
# fz-gui against a real tunnel service (root; network namespaces, Xvfb, a
# session bus with AT-SPI): fz-portald in namespace P, a client
# (fz-tunneld --mode client) in C; fz-gui on a private Xvfb display, read
# and driven only through the accessibility tree (tests/gui/gui_atspi.py).
#  - the window says "Online" and its Resources list has one row per
#    resource the portal sent, named after the resource and its address
#    (the same as `fzctl --json resources`)
#  - a policy added on the portal (SIGHUP) shows up as a new row, pushed
#    (fz-gui does not poll)
#  - a screenshot of the window: $OUT/fz-gui-online.png
#  - "Sign out" clicked through AT-SPI: the state goes to "Signed out",
#    the list empties, and fz-tunneld says signed_out
#  - a token typed into the "Token" field and "Sign in" clicked: online
#    again, the rows back
#  - fz-tunneld stopped: the window says "Not connected" and why; started
#    again: the window reconnects by itself (it watches the socket's
#    directory) and lists the resources
# OUT: $FZ_TEST_OUT, else tests/gui/out in the build tree.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_fz_setup Xvfb dbus-launch
PY=/usr/bin/python3
GUI="$top_builddir/fz-gui"
ATSPI="$top_srcdir/tests/gui/gui_atspi.py"
BUSL=/usr/libexec/at-spi-bus-launcher
[ -x "$GUI" ] || ns_skip "fz-gui not built (configure found no GTK 4: libgtk-4-dev)"
[ -x "$BUSL" ] || ns_skip "at-spi-bus-launcher not installed (at-spi2-core)"
"$PY" -c 'import pyatspi' 2>/dev/null ||
	ns_skip "pyatspi not importable by $PY (python3-pyatspi, gir1.2-atspi-2.0)"
OUT=${FZ_TEST_OUT:-$top_builddir/tests/gui/out}
mkdir -p "$OUT"
rm -f "$OUT"/fz-gui-*.png

ns_new p; P=$NS
ns_new c; C=$NS
ns_link "$P" 10.99.1.1 "$C" 10.99.1.2
PORT=8080
CTOK="alice-$RANDOM$RANDOM"
GTOK="gw-hq-$RANDOM$RANDOM"
config() {	# $1: extra policies (JSON objects, each with a leading comma)
	cat > "$T/portal.json.new" <<EOC
{ "account": {"slug": "acme", "search_domain": "corp.test",
              "upstream_do53": ["10.99.1.53"]},
  "relay_token": "relay-$RANDOM",
  "turn_servers": [],
  "sites": [{"name": "hq", "gateway_token": "$GTOK"}],
  "resources": [
    {"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq"},
    {"name": "wiki", "type": "dns", "address": "*.corp.test", "site": "hq"},
    {"name": "db", "type": "cidr", "address": "10.60.0.0/24", "site": "hq"},
    {"name": "Internet", "type": "internet", "site": "hq"}],
  "clients": [{"name": "alice", "token": "$CTOK", "groups": ["eng"]}],
  "policies": [{"group": "eng", "resource": "lan"},
               {"group": "eng", "resource": "wiki"}$1] }
EOC
	mv "$T/portal.json.new" "$T/portal.json"
}
config ""
ns_bg "$P" "$T/portald.log" "$PORTALD" --config "$T/portal.json" \
	--listen "0.0.0.0:$PORT" --state "$T/state.db"
PORTAL_PID=$BG_PID
ns_wait_for sh -c "ip netns exec '$P' ss -Htln 'sport = :$PORT' | grep -q LISTEN" ||
	ns_fail "fz-portald does not listen: $(cat "$T/portald.log")"

FZID=$("$PY" -c 'import uuid; print(uuid.uuid4())')
start_client() {
	mkdir -p "$T/client"
	ns_bg "$C" "$T/client.$1.log" env FIREZONE_TOKEN="$CTOK" \
		FIREZONE_NAME=alice "$TUNNELD" --mode client \
		--socket "$T/client.sock" --state-dir "$T/client" \
		--token-path "$T/client/no-token-file" --firezone-id "$FZID" \
		--api-url "ws://10.99.1.1:$PORT" --user nobody \
		--controld "$W/fz-controld" --dns-control disabled \
		--log-format json --log-filter debug
	CLIENT_PID=$BG_PID
}
start_client 1
st() { "$FZCTL" --socket "$T/client.sock" status 2>/dev/null; }
state_is() { st | grep -q "^state: *$1"; }
dump() {
	for f in "$T"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
	echo "--- fzctl status"; st
	[ -n "${XVFB_PID:-}" ] && { kill -0 "$XVFB_PID" 2>/dev/null ||
		echo "--- Xvfb ($DISPLAY) has exited"; }
	return 0
}
fail() { dump; ns_fail "$*"; }
ns_wait_for state_is online || fail "the client is not online"

# --- a display, a session bus, the accessibility bus, the window -----------
exec 5>"$T/xvfb.display"
Xvfb -displayfd 5 -screen 0 1024x768x24 -nolisten tcp >"$T/xvfb.log" 2>&1 &
XVFB_PID=$!
FZ_PIDS="$FZ_PIDS $XVFB_PID"
exec 5>&-
ns_wait_for test -s "$T/xvfb.display" || fail "Xvfb did not start: $(cat "$T/xvfb.log")"
export DISPLAY=":$(cat "$T/xvfb.display")"
ns_wait_for test -S "/tmp/.X11-unix/X${DISPLAY#:}" ||
	fail "Xvfb gave display $DISPLAY but has no socket: $(cat "$T/xvfb.log")"
eval "$(dbus-launch --sh-syntax)"
[ -n "${DBUS_SESSION_BUS_PID:-}" ] || fail "dbus-launch gave no session bus"
ns_on_cleanup "kill $DBUS_SESSION_BUS_PID"
"$BUSL" --launch-immediately >"$T/atspi.log" 2>&1 &
FZ_PIDS="$FZ_PIDS $!"
# the a11y bus' own dbus-daemon is the launcher's child: ends with it
export GTK_A11Y=atspi GDK_BACKEND=x11 GSK_RENDERER=cairo
export FZ_GUI_SCREENSHOT="$T/shot.png"
t0=$(date +%s%N)
"$GUI" --socket "$T/client.sock" >"$T/gui.log" 2>&1 &
GUI_PID=$!
FZ_PIDS="$FZ_PIDS $GUI_PID"
at() { "$PY" "$ATSPI" "$@"; }

# --- the window lists what the portal sent ---------------------------------
at state Online >/dev/null || fail "fz-gui does not say Online: $(at state '' 1)"
ROWS=$(at rows 2) || fail "fz-gui's resource rows"
t1=$(date +%s%N)
WANT=$("$FZCTL" --socket "$T/client.sock" --json resources | "$PY" -c '
import json, sys
print(json.dumps(sorted("%s, %s, %s: %s" % (r["name"], r["address"],
    ", ".join(r["sites"]), r["status"]) for r in json.load(sys.stdin))))')
GOT=$(printf '%s' "$ROWS" | "$PY" -c 'import json, sys; print(json.dumps(sorted(json.load(sys.stdin))))')
[ "$GOT" = "$WANT" ] || fail "rows $GOT, fzctl says $WANT"
case $GOT in *'"lan, 10.50.0.0/24, hq: '*'"wiki, *.corp.test, hq: '*) ;;
	*) fail "rows do not name lan and wiki with their addresses: $GOT" ;; esac
ns_log "ok: fz-gui says Online and lists $GOT ($(( (t1 - t0) / 1000000 )) ms from start)"

# --- pushed: a policy added on the portal appears --------------------------
config ', {"group": "eng", "resource": "db"}'
kill -HUP "$PORTAL_PID"
ROWS=$(at rows 3 10) || fail "the added resource did not appear"
case $ROWS in *'"db, 10.60.0.0/24, hq: '*) ;; *) fail "no db row: $ROWS" ;; esac
ns_log "ok: a resource added on the portal appears in the window (pushed)"

# screenshot NAME: the window (SIGUSR1) as $OUT/fz-gui-NAME.png
screenshot() {
	rm -f "$FZ_GUI_SCREENSHOT"
	kill -USR1 "$GUI_PID"
	ns_wait_for test -s "$FZ_GUI_SCREENSHOT" ||
		fail "no screenshot at $FZ_GUI_SCREENSHOT: $(cat "$T/gui.log")"
	[ "$(head -c 8 "$FZ_GUI_SCREENSHOT" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
		fail "$FZ_GUI_SCREENSHOT is not a PNG"
	mv "$FZ_GUI_SCREENSHOT" "$OUT/fz-gui-$1.png"
	ns_log "ok: screenshot $OUT/fz-gui-$1.png ($(stat -c %s "$OUT/fz-gui-$1.png") bytes)"
}
screenshot online

# --- sign out through the accessibility tree -------------------------------
at click "Sign out" >/dev/null || fail "cannot click Sign out"
at state "Signed out" >/dev/null || fail "the window does not say Signed out: $(at state '' 1)"
at rows 0 >/dev/null || fail "rows remain after sign-out"
ns_wait_for state_is signed_out || fail "fz-tunneld is not signed out"
st | grep -q '^signed in: *no' || fail "fz-tunneld still has a token"
ns_log "ok: Sign out clicked through AT-SPI: the window says Signed out, no rows; fz-tunneld signed_out"
screenshot signed-out

# --- sign in again: a token typed into the Token field ---------------------
at type Token "$CTOK" >/dev/null || fail "cannot type the token"
at click "Sign in" >/dev/null || fail "cannot click Sign in"
at state Online 30 >/dev/null || fail "not online after sign-in: $(at state '' 1)"
at rows 3 >/dev/null || fail "rows not back after sign-in"
ns_log "ok: token typed and Sign in clicked: Online, 3 rows"

# --- the Internet Resource switch -------------------------------------------
# Live when the FRONT API has INTERNET_RESOURCE (configure found it), else
# insensitive, saying why.
SW=$(at switch "Internet Resource") || fail "no Internet Resource switch"
case $SW in
sensitive*)
	at toggle "Internet Resource" >/dev/null || fail "cannot toggle the Internet Resource"
	at error "Internet Resource activated" >/dev/null || fail "no answer to the switch"
	until_sw() { at switch "Internet Resource" | grep -q "^sensitive $1"; }
	ns_wait_for until_sw on || fail "the switch is not on: $(at switch "Internet Resource")"
	at toggle "Internet Resource" >/dev/null || fail "cannot toggle the Internet Resource"
	at error "Internet Resource deactivated" >/dev/null || fail "no answer to the switch"
	ns_log "ok: the Internet Resource switch turns it on and off" ;;
insensitive*"has no Internet Resource message"*)
	ns_log "ok: the Internet Resource switch is insensitive and says why ($SW)" ;;
*)	fail "Internet Resource switch: $SW" ;;
esac

# --- the service goes away, and comes back ---------------------------------
kill "$CLIENT_PID"
at state "Not connected" >/dev/null || fail "the window does not say Not connected"
at error "closed the connection" >/dev/null || fail "no error after fz-tunneld stopped"
ns_wait_for sh -c "! kill -0 $CLIENT_PID" || fail "fz-tunneld does not stop"
screenshot not-connected
start_client 2
at state Online 30 >/dev/null || fail "the window did not reconnect: $(at state '' 1)"
at rows 3 >/dev/null || fail "rows not back after the restart"
ns_log "ok: fz-tunneld stopped: Not connected, with the reason; restarted: reconnected by itself, Online, 3 rows"

kill -0 "$GUI_PID" || fail "fz-gui exited: $(cat "$T/gui.log")"

# --- a user who may not use the service: clear errors ----------------------
# A second fz-gui as nobody, with its own session and accessibility buses
# (a bus admits its owner's uid only).  The socket (0660, root and group
# fz-client) refuses nobody; made 0666, fz-tunneld refuses nobody itself.
[ "$(stat -c %a "$T/client.sock")" = 660 ] || fail "socket mode $(stat -c %a "$T/client.sock")"
mkdir -m 0700 "$T/nobody"
chown nobody "$T/nobody"
chmod 0755 "$T"
# nobody cannot read the build or source tree when it sits under /root
# (a fresh machine's 0700 /root): its own copies.
# (Same name: the accessibility tree names the application after it.)
mkdir -m 0755 "$T/bin.nobody" && cp "$GUI" "$T/bin.nobody/fz-gui" &&
	cp "$ATSPI" "$T/bin.nobody/gui_atspi.py" &&
	chmod 0755 "$T/bin.nobody/fz-gui" && chmod 0644 "$T/bin.nobody/gui_atspi.py" ||
	fail "copies for nobody"
cat > "$T/nobody/run.sh" <<EOS
"$BUSL" --launch-immediately >/dev/null 2>&1 &
"$T/bin.nobody/fz-gui" --socket "$T/client.sock" >"$T/nobody/gui.log" 2>&1 &
trap 'kill \$(jobs -p) 2>/dev/null' EXIT
at() { "$PY" "$T/bin.nobody/gui_atspi.py" "\$@"; }
at error "Permission denied on $T/client.sock" || exit 1
at state "Not connected" || exit 1
echo chmod > "$T/nobody/chmod"
while [ ! -e "$T/nobody/chmodded" ]; do sleep 0.1; done
at click Retry || exit 1
at error "fz-tunneld refused this user: permission denied" || exit 1
EOS
(cd "$T/nobody" && setpriv --reuid=nobody --regid=nogroup --clear-groups \
	env -u DBUS_SESSION_BUS_ADDRESS HOME="$T/nobody" XDG_RUNTIME_DIR="$T/nobody" \
	dbus-run-session -- bash "$T/nobody/run.sh" >"$T/nobody/out" 2>&1) &
NOB_PID=$!
FZ_PIDS="$FZ_PIDS $NOB_PID"
ns_wait_for test -e "$T/nobody/chmod" || fail "nobody's window: $(cat "$T/nobody/out")"
chmod 0666 "$T/client.sock"
touch "$T/nobody/chmodded"
wait "$NOB_PID" || fail "nobody's window: $(cat "$T/nobody/out" "$T/nobody/gui.log")"
grep -q "fz-tunneld refused this user" "$T/nobody/out" || fail "no refusal: $(cat "$T/nobody/out")"
ns_log "ok: as nobody: '$(grep -m1 'Permission denied' "$T/nobody/out" | cut -c1-60)...', then '$(grep -m1 'refused this user' "$T/nobody/out" | cut -c1-60)...'"
ns_log "ok: screenshots in $OUT"
