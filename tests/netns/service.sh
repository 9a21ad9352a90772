#!/bin/bash
# SPDX-License-Identifier: ISC
#
# Service mode and privilege separation (root; in a network namespace):
#  - token file rules: bad mode or owner refused, a good one accepted
#  - fz-controld runs with a non-zero uid, no capabilities, no_new_privs
#    and a seccomp filter; fz-tunneld keeps only what it needs
#  - root is served on the socket, a uid outside fz-client is refused
#  - kill -9 of fz-controld: a new one within seconds, tunneld unharmed
#  - a malformed IPC message from the controld side: killed and restarted
#  - sd_notify READY/STATUS through a fake NOTIFY_SOCKET; SIGHUP reloads
#    the log filter; SIGTERM removes the TUN device and the socket
#  - socket activation through systemd-socket-activate
#  - front-end limits: a connection silent past the HELLO deadline is
#    closed; a uid's 17th connection is refused; a descriptor passed on
#    the socket is refused; a member of fz-client may not sign in to
#    another portal or turn logging below warn, root may
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root
for t in python3 setpriv systemd-socket-activate groupadd groupdel; do
	command -v $t >/dev/null || ns_skip "$t not installed"
done
ns_tmpdir
T=$FZ_TMP
TUNNELD="$top_builddir/fz-tunneld"
CONTROLD="$top_builddir/fz-controld"
FZCTL="$top_builddir/fzctl"
USER_=nobody
NOBODY=$(id -u nobody)
ns_new a; A=$NS
# A world-readable place for what the unprivileged side must reach.
W=$(mktemp -d /tmp/fz-svc-w.XXXXXX)
chmod 0755 "$W"
ns_on_cleanup "rm -rf '$W'"
# fzctl and fz-controld as the unprivileged users run them: the build tree may sit under a
# directory they cannot search (/root/fz on a fresh machine).
cp "$FZCTL" "$CONTROLD" "$W/"
chmod 0755 "$W/fzctl" "$W/fz-controld"
MFZCTL="$W/fzctl"
MCONTROLD="$W/fz-controld"

common=(--user "$USER_" --state-dir "$T" --firezone-id test-device
	--log-format json --log-filter debug)

# --- token file rules -----------------------------------------------------
printf 'tok-%s\n' "$RANDOM" > "$T/token"
chmod 0644 "$T/token"
out=$("$TUNNELD" --check --token-path "$T/token" "${common[@]}" 2>&1) &&
	ns_fail "a 0644 token file was accepted"
grep -q "refusing token file" <<<"$out" || ns_fail "no clear refusal: $out"
chmod 0600 "$T/token"
chown "$NOBODY" "$T/token"
"$TUNNELD" --check --token-path "$T/token" "${common[@]}" >/dev/null 2>&1 &&
	ns_fail "a token file not owned by root was accepted"
chown 0 "$T/token"
out=$("$TUNNELD" --check --token-path "$T/token" "${common[@]}" 2>&1) ||
	ns_fail "a good token file was refused: $out"
grep -q "token present" <<<"$out" || ns_fail "token not read: $out"
grep -q "$(cat "$T/token")" <<<"$out" && ns_fail "--check printed the token"
ns_log "ok: token file ownership and mode enforced"

# A member of fz-client (read at start-up) that is not root.
if ! getent group fz-client >/dev/null; then
	groupadd --system fz-client || ns_skip "cannot create group fz-client"
	ns_on_cleanup "groupdel fz-client"
fi
FZGID=$(getent group fz-client | cut -d: -f3)
member() { setpriv --reuid="$NOBODY" --regid="$FZGID" --clear-groups "$@"; }
# --- fz-controld refuses a bounding set it cannot empty -------------------------
set +e
out=$(setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups \
	"$MCONTROLD" --log-format human 3</dev/null 2>&1)
rc=$?
set -e
[ $rc = 1 ] || ns_fail "fz-controld with a full bounding set: exit $rc ($out)"
grep -q "bounding set.*refusing to run" <<<"$out" || ns_fail "no clear refusal: $out"
set +e
out=$(setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups \
	--bounding-set -all "$MCONTROLD" --log-format human 3</dev/null 2>&1)
set -e
grep -q "bounding set" <<<"$out" && ns_fail "an empty bounding set was refused: $out"
grep -q "CapBnd and CapAmb empty" <<<"$out" || ns_fail "no self-proof: $out"
ns_log "ok: fz-controld refuses a non-empty bounding set, runs with an empty one"

# --- a fake NOTIFY_SOCKET ---------------------------------------------------
cat > "$T/notify.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
PY
python3 "$T/notify.py" "$T/notify.sock" "$T/notify.log" &
FZ_PIDS="$FZ_PIDS $!"
ns_wait_for test -S "$T/notify.sock" || ns_fail "fake notify socket"

# --- the service -------------------------------------------------------------
echo info > "$T/filter"
SOCK="$W/tunneld.sock"
ns_bg "$A" "$T/tunneld.log" env NOTIFY_SOCKET="$T/notify.sock" \
	"$TUNNELD" --socket "$SOCK" --token-path "$T/token" \
	--log-filter-file "$T/filter" "${common[@]}"
TPID=$BG_PID
ns_wait_for grep -q READY=1 "$T/notify.log" ||
	{ cat "$T/tunneld.log"; ns_fail "no READY=1 on NOTIFY_SOCKET"; }
grep -q "STATUS=" "$T/notify.log" || ns_fail "no STATUS= on NOTIFY_SOCKET"
ns_log "ok: sd_notify READY=1 and STATUS= ($(grep -m1 READY "$T/notify.log"))"
ip -n "$A" link show tun-firezone >/dev/null || ns_fail "no tun-firezone"

controld_pid() { pgrep -P "$TPID" -f fz-controld | head -1; }
ns_wait_for test -n "$(controld_pid)" || ns_fail "fz-controld not started"
CPID=$(controld_pid)
field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$CPID/status"; }
ns_wait_for sh -c "grep -q 'Seccomp:.*2' /proc/$CPID/status" ||
	ns_fail "fz-controld has no seccomp filter"
[ "$(field Uid)" != 0 ] || ns_fail "fz-controld runs as root"
[ "$(field Uid)" = "$NOBODY" ] || ns_fail "fz-controld uid $(field Uid)"
[ "$(field CapEff)" = 0000000000000000 ] || ns_fail "CapEff $(field CapEff)"
[ "$(field CapPrm)" = 0000000000000000 ] || ns_fail "CapPrm $(field CapPrm)"
[ "$(field CapBnd)" = 0000000000000000 ] || ns_fail "CapBnd $(field CapBnd)"
[ "$(field CapAmb)" = 0000000000000000 ] || ns_fail "CapAmb $(field CapAmb)"
[ "$(field NoNewPrivs)" = 1 ] || ns_fail "NoNewPrivs $(field NoNewPrivs)"
[ "$(field Seccomp)" = 2 ] || ns_fail "Seccomp $(field Seccomp)"
grep -q "CapBnd and CapAmb empty" "$T/tunneld.log" || ns_fail "no self-proof logged"
ns_log "ok: fz-controld uid $(field Uid), CapEff/CapPrm/CapBnd/CapAmb 0, NoNewPrivs 1, Seccomp 2"
# No terminal to inject keystrokes into: its own session, no controlling
# tty, /dev/null in, a pipe (read and logged by fz-tunneld) out.
stat_field() { sed 's/.*) //' "/proc/$1/stat" | awk -v n="$2" '{ print $(n - 2) }'; }
[ "$(stat_field "$CPID" 6)" != "$(stat_field "$TPID" 6)" ] ||
	ns_fail "fz-controld shares fz-tunneld's session"
[ "$(stat_field "$CPID" 6)" = "$CPID" ] || ns_fail "fz-controld is not a session leader"
[ "$(stat_field "$CPID" 7)" = 0 ] || ns_fail "fz-controld has a controlling tty"
# By device number: in a chroot, readlink may show the path outside it.
[ "$(stat -L -c %F:%t:%T "/proc/$CPID/fd/0")" = "$(stat -c %F:%t:%T /dev/null)" ] ||
	ns_fail "fd 0: $(readlink "/proc/$CPID/fd/0"), not /dev/null"
for fd in 1 2; do
	case $(readlink "/proc/$CPID/fd/$fd") in pipe:*) ;;
	*) ns_fail "fd $fd: $(readlink "/proc/$CPID/fd/$fd")" ;; esac
done
ns_wait_for grep -q "\"target\":\"controld\",\"message\":\"running as uid.*\"pid\":$TPID}" "$T/tunneld.log" ||
	ns_fail "fz-controld's output not logged by fz-tunneld"
ns_log "ok: fz-controld in session $(stat_field "$CPID" 6), no tty, fd 0 /dev/null, fd 1/2 a pipe logged by fz-tunneld"
# The two IPC channels: control on fd 3, datagrams on fd 4.
for fd in 3 4; do
	case $(readlink "/proc/$CPID/fd/$fd") in socket:*) ;;
	*) ns_fail "fd $fd is not an IPC socket: $(readlink "/proc/$CPID/fd/$fd")" ;; esac
done
ns_log "ok: fz-controld holds its two IPC sockets on fds 3 and 4"
teff=$(awk '$1 == "CapEff:" { print $2 }' "/proc/$TPID/status")
[ "$teff" = 0000000000001020 ] || ns_fail "fz-tunneld CapEff $teff (want NET_ADMIN|KILL)"
tsc=$(awk '$1 == "Seccomp:" { print $2 }' "/proc/$TPID/status")
[ "$tsc" = 2 ] || ns_fail "fz-tunneld Seccomp $tsc"
tbnd=$(awk '$1 == "CapBnd:" { print $2 }' "/proc/$TPID/status")
[ "$tbnd" = 0000000000000000 ] || ns_fail "fz-tunneld CapBnd $tbnd"
ns_log "ok: fz-tunneld CapEff $teff (CAP_NET_ADMIN, CAP_KILL), CapBnd 0, Seccomp 2"

# The token went over IPC only: not in controld's argv or environment.
tok=$(cat "$T/token")
! tr '\0' '\n' < "/proc/$CPID/cmdline" | grep -q "$tok" || ns_fail "token in argv"
! tr '\0' '\n' < "/proc/$CPID/environ" | grep -q "$tok" || ns_fail "token in environ"
! grep -q "$tok" "$T/tunneld.log" || ns_fail "token in the log"

# --- the socket: root served, others refused ----------------------------------
"$FZCTL" --socket "$SOCK" status > "$T/status" || ns_fail "fzctl status as root"
grep -q "signed in:    yes" "$T/status" || ns_fail "headless token not used"
"$FZCTL" --socket "$SOCK" --json status | python3 -c \
	'import json,sys; d=json.load(sys.stdin); assert d["firezone_id"]=="test-device", d' ||
	ns_fail "fzctl --json status"
chmod 0666 "$SOCK"	# let the daemon itself do the refusing
set +e
out=$(setpriv --reuid="$NOBODY" --regid="$(id -g nobody)" --clear-groups \
	"$MFZCTL" --socket "$SOCK" status 2>&1)
rc=$?
set -e
[ $rc = 77 ] || ns_fail "uid $NOBODY: fzctl exit $rc ($out)"
grep -q "permission denied" <<<"$out" || ns_fail "no clear refusal: $out"
kill -0 "$TPID" || ns_fail "fz-tunneld died"
"$FZCTL" --socket "$SOCK" status >/dev/null || ns_fail "root not served after a refusal"
ns_log "ok: root served, uid $NOBODY refused ($out)"
set +e
"$FZCTL" --socket "$T/nonexistent.sock" status >/dev/null 2>&1
[ $? = 69 ] || ns_fail "fzctl without a daemon should exit 69"
set -e

# --- fzctl commands --------------------------------------------------------
"$FZCTL" --socket "$SOCK" log-level "debug,ipc=trace" >/dev/null || ns_fail "log-level"
"$FZCTL" --socket "$SOCK" status | grep -q "log filter:   debug,ipc=trace" ||
	ns_fail "log filter not applied"
set +e
"$FZCTL" --socket "$SOCK" log-level "info,=bad=" >/dev/null 2>&1
[ $? = 1 ] || ns_fail "a bad filter was accepted"
set -e
"$FZCTL" --socket "$SOCK" sign-out >/dev/null || ns_fail "sign-out"
"$FZCTL" --socket "$SOCK" status | grep -q "signed in:    no" || ns_fail "still signed in"
echo "tok-other" | "$FZCTL" --socket "$SOCK" sign-in --account acme >/dev/null ||
	ns_fail "sign-in"
"$FZCTL" --socket "$SOCK" status | grep -q "account:      acme" || ns_fail "account"
"$FZCTL" --socket "$SOCK" resources | grep -q "no resources" || ns_fail "resources"
ns_log "ok: fzctl status, log-level, sign-out, sign-in, resources"

# --- STUN to the data plane's UDP port reaches fz-controld as DGRAM_UP ---------
port=$(grep -o 'UDP port [0-9]*' "$T/tunneld.log" | head -1 | awk '{ print $3 }')
[ -n "$port" ] || ns_fail "no UDP port in the log"
stun_to() {
	ip netns exec "$A" python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
# A Binding request; then a datagram that is nothing the data plane knows.
s.sendto(bytes([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]) + os.urandom(12),
         ("127.0.0.1", int(sys.argv[1])))
s.sendto(b"\xff" * 20, ("127.0.0.1", int(sys.argv[1])))
print(s.getsockname()[1])' "$1"
}
sport=$(stun_to "$port")
ns_wait_for grep -q "datagram of 20 bytes from 127.0.0.1:$sport on socket 4 dropped: no consumer" \
	"$T/tunneld.log" ||
	{ grep -i "stun\|datagram" "$T/tunneld.log" | tail -5; ns_fail "STUN did not reach fz-controld"; }
grep -q "STUN datagram of 20 bytes from 127.0.0.1:$sport to 127.0.0.1:$port (socket 4)" \
	"$T/tunneld.log" || ns_fail "no local address for the STUN datagram"
ns_log "ok: STUN to UDP port $port reached fz-controld (DGRAM_UP, from 127.0.0.1:$sport)"

# --- front-end limits and what a member of fz-client may change -------------
cat > "$W/fe.py" <<'PY'
import os, socket, struct, subprocess, sys, time
mode, path = sys.argv[1], sys.argv[2]

def conn(hello=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    if hello:   # HELLO = [1, [version 1, "fe-test", pid]]
        body = bytes([0x92, 0x01, 0x93, 0x01, 0xa7]) + b"fe-test" + \
            b"\xce" + struct.pack(">I", os.getpid())
        try:
            s.sendall(struct.pack(">I", len(body)) + body)
        except BrokenPipeError:
            pass    # refused, answered and closed before our HELLO went out
    return s

def until_eof(s, limit):
    """Bytes read, and seconds to EOF (None: still open after limit)."""
    t0, data = time.monotonic(), b""
    s.settimeout(limit)
    while True:
        try:
            b = s.recv(4096)
        except socket.timeout:
            return data, None
        except ConnectionResetError:
            b = b""
        if not b:
            return data, time.monotonic() - t0
        data += b

if mode == "silent":
    _, dt = until_eof(conn(hello=False), 15)
    assert dt is not None, "a silent connection was kept for 15 s"
    assert 4 <= dt <= 9, f"closed after {dt:.1f} s"
    print(f"{dt:.1f}")
elif mode == "cap":
    n, fzctl = int(sys.argv[3]), sys.argv[4]
    held = [conn() for _ in range(n)]
    time.sleep(0.5)
    for s in held:   # all served: none closed
        s.setblocking(False)
        try:
            assert s.recv(4096) != b"", "a connection under the cap closed"
        except BlockingIOError:
            pass
    data, dt = until_eof(conn(), 5)
    assert dt is not None and b"too many connections" in data, data
    r = subprocess.run([fzctl, "--socket", path, "status"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "too many connections" in r.stderr, r
    held.pop().close()
    time.sleep(0.5)
    r = subprocess.run([fzctl, "--socket", path, "status"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r
    print(f"{n} held, the next refused: {r.stdout and 'ok'}")
elif mode == "fd":   # STATUS_GET = [10, []] with a descriptor attached
    s = conn()
    rd, wr = os.pipe()
    frame = struct.pack(">I", 3) + bytes([0x92, 0x0a, 0x90])
    try:
        socket.send_fds(s, [frame], [rd])
    except PermissionError:
        print("refused by the kernel (SO_PASSRIGHTS)")
        sys.exit(0)
    _, dt = until_eof(s, 5)
    assert dt is not None, "a descriptor did not end the connection"
    print("connection closed")
PY
chmod 0644 "$W/fe.py"
PY3=/usr/bin/python3
out=$($PY3 "$W/fe.py" silent "$SOCK") || ns_fail "HELLO deadline: $out"
ns_log "ok: a silent front end was disconnected after $out s"
out=$(member $PY3 "$W/fe.py" cap "$SOCK" 16 "$MFZCTL" 2>&1) ||
	ns_fail "per-uid cap: $out"
ns_log "ok: per-uid cap: $out"
out=$($PY3 "$W/fe.py" fd "$SOCK" 2>&1) || ns_fail "descriptor passing: $out"
ns_log "ok: a descriptor from a front end: $out"
"$FZCTL" --socket "$SOCK" status >/dev/null || ns_fail "root not served after the limits"

set +e
out=$(echo tok-member | member "$MFZCTL" --socket "$SOCK" sign-in \
	--api-url wss://evil.example 2>&1)
rc=$?
set -e
[ $rc = 77 ] || ns_fail "member sign-in to another portal: exit $rc ($out)"
grep -q "permission denied" <<<"$out" || ns_fail "no clear refusal: $out"
"$FZCTL" --socket "$SOCK" status | grep -q "portal:       wss://api.firezone.dev/" ||
	ns_fail "the portal URL changed: $("$FZCTL" --socket "$SOCK" status)"
grep -q "refused sign-in by uid $NOBODY" "$T/tunneld.log" ||
	ns_fail "refusal not logged"
echo tok-member | member "$MFZCTL" --socket "$SOCK" sign-in \
	--api-url https://api.firezone.dev/ >/dev/null ||
	ns_fail "member sign-in to the same portal"
set +e
member "$MFZCTL" --socket "$SOCK" log-level "info,wg=off" >/dev/null 2>&1
rc=$?
set -e
[ $rc = 77 ] || ns_fail "member log-level with off: exit $rc"
member "$MFZCTL" --socket "$SOCK" log-level warn >/dev/null ||
	ns_fail "member log-level warn"
"$FZCTL" --socket "$SOCK" log-level off >/dev/null || ns_fail "root log-level off"
echo tok-root | "$FZCTL" --socket "$SOCK" sign-in --api-url wss://other.example \
	>/dev/null || ns_fail "root sign-in to another portal"
"$FZCTL" --socket "$SOCK" status | grep -q "portal:       wss://other.example" ||
	ns_fail "root could not change the portal URL"
"$FZCTL" --socket "$SOCK" log-level "debug,ipc=trace" >/dev/null
ns_log "ok: member refused another portal and logging below warn; root allowed"

# --- SIGHUP reloads the log filter ------------------------------------------
echo "warn,tunneld=info" > "$T/filter"
kill -HUP "$TPID"
ns_wait_for sh -c "'$FZCTL' --socket '$SOCK' status | grep -q 'log filter:   warn,tunneld=info'" ||
	ns_fail "SIGHUP did not reload the log filter"
ns_log "ok: SIGHUP reloaded the log filter"

# --- events, and kill -9 of fz-controld ------------------------------------
"$FZCTL" --socket "$SOCK" events > "$T/events" 2>&1 &
EPID=$!
FZ_PIDS="$FZ_PIDS $EPID"
sleep 0.3
kill -9 "$CPID"
ns_wait_for sh -c "p=\$(pgrep -P $TPID -f fz-controld); [ -n \"\$p\" ] && [ \"\$p\" != $CPID ]" ||
	ns_fail "fz-controld not restarted after kill -9"
NEW=$(controld_pid)
kill -0 "$TPID" || ns_fail "fz-tunneld died with its child"
"$FZCTL" --socket "$SOCK" status | grep -q "restarted 1 time" ||
	ns_fail "restart not counted"
ns_wait_for grep -q "status: restarting" "$T/events" || ns_fail "no event: $(cat "$T/events")"
kill "$EPID" 2>/dev/null
ns_log "ok: kill -9 of fz-controld $CPID: restarted as $NEW, events seen"

# --- SIGTERM removes what it made --------------------------------------------
kill -TERM "$TPID"
for _ in $(seq 50); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$TPID" 2>/dev/null && ns_fail "fz-tunneld did not stop on SIGTERM"
wait "$TPID"; rc=$?
[ $rc = 0 ] || ns_fail "fz-tunneld exit status $rc after SIGTERM"
ip -n "$A" link show tun-firezone >/dev/null 2>&1 && ns_fail "tun-firezone left behind"
[ -e "$SOCK" ] && ns_fail "socket left behind"
pgrep -f "fz-controld.*--user $USER_" | grep -qx "$NEW" && ns_fail "fz-controld left running"
grep -q "STOPPING=1" "$T/notify.log" || ns_fail "no STOPPING=1"
ns_log "ok: SIGTERM: exit 0, TUN device, socket and fz-controld gone"

# --- a malformed message from the controld side -------------------------------
# The first "fz-controld" writes garbage on fd 3; the restarted one is real.
cat > "$W/controld-wrapper" <<SH
#!/bin/sh
if mkdir "$W/evil.d" 2>/dev/null; then
	exec python3 -c 'import os, time
os.write(3, bytes([0, 0, 0, 4, 0x92, 0x01, 0xc1, 0xc1]))
time.sleep(60)'
fi
exec "$MCONTROLD" "\$@"
SH
chmod 0755 "$W/controld-wrapper"
chmod 1777 "$W"
# Wrapper scripts run commands, which fz-tunneld's (inherited) filter does
# not allow: these instances run without it.
ns_bg "$A" "$T/tunneld2.log" "$TUNNELD" --socket "$T/t2.sock" \
	--controld "$W/controld-wrapper" --seccomp off "${common[@]}" --token-path "$T/none"
TPID=$BG_PID
ns_wait_for grep -q "violated the IPC protocol" "$T/tunneld2.log" ||
	{ cat "$T/tunneld2.log"; ns_fail "malformed message not detected"; }
ns_wait_for sh -c "'$FZCTL' --socket '$T/t2.sock' status | grep -q 'pid .*restarted 1 time'" ||
	ns_fail "fz-controld not restarted after the violation"
pgrep -f "os.write\(3" >/dev/null && ns_fail "the misbehaving process survived"
kill -0 "$TPID" || ns_fail "fz-tunneld died"
ns_log "ok: malformed IPC from the controld side: killed and restarted"
kill -TERM "$TPID"; wait "$TPID"

# --- a state only fz-tunneld sets, reported by the controld side -------------
# A well-formed STATUS whose state is not one fz-controld may report
# ("restarting" is fz-tunneld's own): the state is an enum past the wire
# boundary, so this is a violation like a malformed frame.
cat > "$W/controld-status" <<SH
#!/bin/sh
if mkdir "$W/status.d" 2>/dev/null; then
	exec python3 -c 'import os, struct, time
def frame(b): return struct.pack(">I", len(b)) + b
hello = bytes([0x92, 0x01, 0x93, 0x01, 0xab]) + b"fz-controld" + \\
    b"\\xce" + struct.pack(">I", os.getpid())
status = bytes([0x92, 0x07, 0x92, 0xaa]) + b"restarting" + b"\\xa0"
os.write(3, frame(hello) + frame(status))
time.sleep(60)'
fi
exec "$MCONTROLD" "\$@"
SH
chmod 0755 "$W/controld-status"
ns_bg "$A" "$T/tunneld3.log" "$TUNNELD" --socket "$T/t3.sock" \
	--controld "$W/controld-status" --seccomp off "${common[@]}" --token-path "$T/none"
TPID=$BG_PID
ns_wait_for grep -q "violated the IPC protocol on its control channel (STATUS with state 'restarting')" "$T/tunneld3.log" ||
	{ cat "$T/tunneld3.log"; ns_fail "a STATUS with fz-tunneld's own state not refused"; }
ns_wait_for sh -c "'$FZCTL' --socket '$T/t3.sock' status | grep -q 'pid .*restarted 1 time'" ||
	ns_fail "fz-controld not restarted after the STATUS violation"
pgrep -f "os.write\(3, frame" >/dev/null && ns_fail "the misbehaving process survived"
kill -0 "$TPID" || ns_fail "fz-tunneld died"
ns_log "ok: STATUS 'restarting' from the controld side: killed and restarted"
kill -TERM "$TPID"; wait "$TPID"

# --- fz-controld under a directory only root can search ---------------------
# Like a tree built in /root/fz: the child execs the binary fz-tunneld opened
# while root, so the uid change before exec does not matter.
P=$(mktemp -d /tmp/fz-svc-priv.XXXXXX)
ns_on_cleanup "rm -rf '$P'"
chmod 0700 "$P"
cp "$CONTROLD" "$P/fz-controld"
chmod 0755 "$P/fz-controld"
ns_bg "$A" "$T/tunneld3.log" "$TUNNELD" --socket "$T/t3.sock" \
	--controld "$P/fz-controld" "${common[@]}" --token-path "$T/none"
TPID=$BG_PID
ns_wait_for pgrep -P "$TPID" -f fz-controld >/dev/null ||
	{ cat "$T/tunneld3.log"; ns_fail "no fz-controld from $P"; }
CPID=$(controld_pid)
ns_wait_for sh -c "grep -q 'Seccomp:.*2' /proc/$CPID/status" ||
	{ cat "$T/tunneld3.log"; ns_fail "fz-controld from a 0700 directory did not start"; }
[ "$(field Uid)" = "$NOBODY" ] || ns_fail "fz-controld uid $(field Uid)"
grep -q "cannot exec" "$T/tunneld3.log" && ns_fail "exec failed: $(cat "$T/tunneld3.log")"
ns_log "ok: fz-controld in a 0700 directory runs as uid $(field Uid)"
kill -TERM "$TPID"; wait "$TPID"

# An exec that fails is reported as such, not as an IPC violation.
chmod 0700 "$P/fz-controld"
ns_bg "$A" "$T/tunneld4.log" "$TUNNELD" --socket "$T/t4.sock" \
	--controld "$P/fz-controld" "${common[@]}" --token-path "$T/none"
TPID=$BG_PID
ns_wait_for grep -q "cannot exec fz-controld" "$T/tunneld4.log" ||
	{ cat "$T/tunneld4.log"; ns_fail "exec failure not reported"; }
grep -q "Permission denied" "$T/tunneld4.log" || ns_fail "no errno: $(cat "$T/tunneld4.log")"
grep -q "violated" "$T/tunneld4.log" && ns_fail "exec failure called an IPC violation"
kill -0 "$TPID" || ns_fail "fz-tunneld died"
kill -TERM "$TPID"; wait "$TPID"
ns_log "ok: an exec failure is logged as $(grep -o 'cannot exec fz-controld[^"]*' "$T/tunneld4.log" | head -1)"

# --- fz-controld's output: logged, rotated and capped by fz-tunneld ------------
# A first "fz-controld" floods its stdout (20 MB, some lines far longer than
# the cut, a terminal escape); the restarted one is real.  It holds no file
# in the log directory, and what reaches the disk stays small.
LD="$T/logdir"
cat > "$W/controld-flood" <<SH
#!/bin/sh
if mkdir "$W/flood.d" 2>/dev/null; then
	printf 'ESC\033[2Jhere\n'
	head -c 3000000 /dev/zero | tr '\0' B
	echo
	yes "\$(printf '%0999d' 0)" | head -n 20000
	exit 3
fi
exec "$MCONTROLD" "\$@"
SH
chmod 0755 "$W/controld-flood"
ns_bg "$A" "$T/tunneld5.log" "$TUNNELD" --socket "$T/t5.sock" --log-dir "$LD" \
	--controld "$W/controld-flood" --seccomp off "${common[@]}" --token-path "$T/none"
TPID=$BG_PID
ns_wait_for sh -c "'$FZCTL' --socket '$T/t5.sock' status | grep -q 'pid .*restarted 1 time'" ||
	{ tail -5 "$T/tunneld5.log"; ns_fail "flooding fz-controld not restarted"; }
CPID=$(controld_pid)
ns_wait_for sh -c "grep -q 'Seccomp:.*2' /proc/$CPID/status" || ns_fail "no real fz-controld"
for f in /proc/"$CPID"/fd/*; do
	t=$(readlink "$f")
	fl=$(awk '$1 == "flags:" { print $2 }' "/proc/$CPID/fdinfo/${f##*/}")
	case $t in /dev/null) continue ;; /*) ;; *) continue ;; esac
	# a file open for writing (O_WRONLY or O_RDWR)
	[ $((0$fl & 3)) = 0 ] || ns_fail "fz-controld holds $t for writing"
done
ls "$LD" | grep -q controld && ns_fail "a log file for fz-controld: $(ls "$LD")"
total=$(du -sb "$LD" | awk '{ print $1 }')
[ "$total" -lt 2000000 ] || ns_fail "log directory grew to $total bytes from a 23 MB flood"
grep -q "fz-controld: [0-9]* similar messages suppressed" "$LD"/fz-tunneld.*.jsonl || ns_fail "flood not rate-limited"
grep -q '"target":"controld","message":"ESC\\\\x1b\[2Jhere"' "$LD"/fz-tunneld.*.jsonl ||
	ns_fail "escape not escaped: $(grep -m1 ESC "$LD"/fz-tunneld.*.jsonl)"
grep -q '"target":"controld","message":"B\{1024\} \[cut\]"' "$LD"/fz-tunneld.*.jsonl ||
	ns_fail "overlong line not cut"
grep -q '"target":"controld","message":"running as uid' "$LD"/fz-tunneld.*.jsonl ||
	ns_fail "the real fz-controld's lines are not in the log directory"
kill -0 "$TPID" || ns_fail "fz-tunneld died"
kill -TERM "$TPID"; wait "$TPID"
ns_log "ok: a 23 MB flood from fz-controld left $total bytes in the log directory (no file of its own)"

# --- socket activation -----------------------------------------------------------
ACT="$T/act.sock"
ns_bg "$A" "$T/act.log" systemd-socket-activate -l "$ACT" \
	"$TUNNELD" "${common[@]}" --token-path "$T/none" --socket "$T/unused.sock"
ns_wait_for test -S "$ACT" || ns_fail "systemd-socket-activate"
"$FZCTL" --socket "$ACT" status > "$T/act.status" ||
	{ cat "$T/act.log"; ns_fail "fzctl through the activated socket"; }
grep -q "socket activation" "$T/act.log" || ns_fail "did not use the passed socket"
[ -e "$T/unused.sock" ] && ns_fail "created its own socket despite activation"
ns_log "ok: socket activation (systemd-socket-activate)"
ns_log "PASS"
