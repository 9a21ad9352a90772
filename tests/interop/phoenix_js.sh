#!/bin/bash
# SPDX-License-Identifier: ISC
#
# fz-portald against the official Phoenix JavaScript client (npm "phoenix"
# with the "ws" package under node), on loopback; root is not needed:
#  - the relay, gateway and client sockets joined with the default V2
#    serializer (vsn 2.0.0), a client once more with V1 (vsn 1.0.0, JSON
#    objects): init on each
#  - request_authorization -> create_authorization -> authorization_created
#    with the ref echoed; a tampered ref gets invalid_ref
#  - fz-portald --check, SIGHUP with a broken config (file:line: key, old
#    config kept), SIGTERM exits 0
# The npm packages are the registry's tarballs of phoenix and ws (both MIT,
# no dependencies) kept in tests/interop/phoenix_js/npm/, so the test needs
# no registry (a fresh machine may not reach it through its TLS proxy);
# installed offline, once, into $FZ_NPM_DIR (default ~/.cache/fz-npm).
# Without node/npm the test skips, except as root under CI, where it fails
# (tests/netns/lib.sh ns_skip).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"

command -v node >/dev/null || ns_skip "node not installed"
command -v npm >/dev/null || ns_skip "npm not installed"
PORTALD="$top_builddir/fz-portald"
[ -x "$PORTALD" ] || ns_fail "$PORTALD not built"
JS="$top_srcdir/tests/interop/phoenix_js"

npm_dir=${FZ_NPM_DIR:-${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/fz-npm}
mkdir -p "$npm_dir" 2>/dev/null || npm_dir="$top_builddir/.fz-npm"
mkdir -p "$npm_dir" || ns_fail "cannot create $npm_dir"
if ! cmp -s "$JS/package.json" "$npm_dir/package.json" ||
    [ ! -f "$npm_dir/node_modules/phoenix/package.json" ] ||
    [ ! -f "$npm_dir/node_modules/ws/package.json" ]; then
	rm -rf "$npm_dir/npm" "$npm_dir/node_modules" "$npm_dir/package-lock.json"
	cp -r "$JS/package.json" "$JS/npm" "$npm_dir/"
	(cd "$npm_dir" && npm install --offline --no-audit --no-fund \
	    --loglevel=error) >&2 || ns_fail "npm install of the phoenix and ws tarballs failed"
fi
ns_log "phoenix $(sed -n 's/.*"version": "\(.*\)".*/\1/p' \
    "$npm_dir/node_modules/phoenix/package.json" | head -1)"

ns_tmpdir
T=$FZ_TMP
cat > "$T/portald.json" <<'JSON'
{ "account": {"slug": "acme", "search_domain": "corp.test",
              "upstream_do53": ["10.0.0.53"]},
  "relay_token": "relay-token",
  "sites": [{"name": "hq", "gateway_token": "gw-token"}],
  "resources": [
    {"name": "lan", "type": "cidr", "address": "10.50.0.0/24", "site": "hq",
     "filters": [{"protocol": "tcp", "ports": "80-443"}]},
    {"name": "wiki", "type": "dns", "address": "*.corp.test", "site": "hq"}],
  "clients": [{"name": "alice", "token": "alice-token", "groups": ["eng"]}],
  "policies": [{"group": "eng", "resource": "lan"}] }
JSON

# --check: a valid file, then an error that names file, line and key.
"$PORTALD" --config "$T/portald.json" --check >"$T/check.out" ||
	ns_fail "--check refused a valid config: $(cat "$T/check.out")"
sed 's/"10.50.0.0\/24"/"10.50.0.1\/24"/' "$T/portald.json" > "$T/bad.json"
if "$PORTALD" --config "$T/bad.json" --check 2>"$T/check.err"; then
	ns_fail "--check accepted host bits in a CIDR"
fi
grep -q "bad.json:6: resources\[0\].address: host bits set" "$T/check.err" ||
	ns_fail "--check error: $(cat "$T/check.err")"

"$PORTALD" --config "$T/portald.json" --state "$T/state.db" \
    --listen 127.0.0.1:0 2>"$T/portald.log" &
PID=$!
ns_on_cleanup "kill $PID 2>/dev/null"
port=""
for _ in $(seq 50); do
	port=$(sed -n 's/.*listening on [^ ]* port \([0-9][0-9]*\).*/\1/p' \
	    "$T/portald.log")
	[ -n "$port" ] && break
	kill -0 $PID 2>/dev/null || break
	sleep 0.1
done
[ -n "$port" ] || ns_fail "fz-portald did not start: $(cat "$T/portald.log")"

if ! NODE_PATH="$npm_dir/node_modules" timeout 60 node "$JS/interop.js" \
    "ws://127.0.0.1:$port" >"$T/node.out" 2>&1; then
	cat "$T/node.out" >&2
	tail -20 "$T/portald.log" >&2
	ns_fail "the Phoenix JS client failed"
fi
cat "$T/node.out"
grep -q '^all ok$' "$T/node.out" || ns_fail "node: no 'all ok'"
# never a token or a PSK in the log
if grep -E 'alice-token|gw-token|relay-token|preshared' "$T/portald.log"; then
	ns_fail "a secret reached the log"
fi

# SIGHUP with a broken config: logged with file:line: key, old one kept.
cp "$T/portald.json" "$T/good.json"
sed -i 's/"site": "hq",$/"site": "nowhere",/' "$T/portald.json"
kill -HUP $PID
ns_wait_for grep -q 'portald.json:6: resources\[0\].site: unknown site' \
    "$T/portald.log" || ns_fail "SIGHUP error not logged: $(tail -3 "$T/portald.log")"
kill -0 $PID || ns_fail "fz-portald died on a bad config"
cp "$T/good.json" "$T/portald.json"
kill -HUP $PID
ns_wait_for grep -q 'SIGHUP: .*portald.json reloaded' "$T/portald.log" ||
	ns_fail "SIGHUP reload not logged"

kill -TERM $PID
rc=0
wait $PID || rc=$?
[ $rc = 0 ] || ns_fail "fz-portald exited $rc on SIGTERM"
ns_log "ok"
