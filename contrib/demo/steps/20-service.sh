#!/bin/bash
# SPDX-License-Identifier: ISC
# demo: the tunnel service: root fz-tunneld, unprivileged fz-controld, fzctl
#
# Starts fz-tunneld in service mode inside a namespace with a headless
# token file, shows what fz-controld is left with (/proc/PID/status),
# drives it with fzctl, kills fz-controld to show the supervisor restart
# it, and stops everything with SIGTERM.
. "${top_srcdir:?}/tests/netns/lib.sh"
ns_require_root
ns_tmpdir
T=$FZ_TMP
B=${top_builddir:?}
ns_new a; A=$NS
W=$(mktemp -d /tmp/fz-demo-w.XXXXXX); chmod 0755 "$W"
ns_on_cleanup "rm -rf '$W'"
umask 077
echo "demo-token-$RANDOM" > "$T/token"
SOCK="$W/tunneld.sock"

echo "--- fz-tunneld --mode client (root), fz-controld as user nobody"
ns_bg "$A" "$T/tunneld.log" "$B/fz-tunneld" --mode client --user nobody \
	--socket "$SOCK" --token-path "$T/token" --state-dir "$T" \
	--firezone-id demo-device --log-format human --log-filter info
TPID=$BG_PID
ns_wait_for test -S "$SOCK" || { cat "$T/tunneld.log"; ns_fail "fz-tunneld did not start"; }
ns_wait_for sh -c "pgrep -P $TPID -f fz-controld >/dev/null"
sleep 0.3
CPID=$(pgrep -P "$TPID" -f fz-controld)
echo "--- fz-controld (pid $CPID):"
grep -E '^(Uid|Gid|CapPrm|CapEff|NoNewPrivs|Seccomp):' "/proc/$CPID/status" | sed 's/^/    /'
echo "--- fz-tunneld (pid $TPID) keeps:"
grep -E '^(CapEff|NoNewPrivs):' "/proc/$TPID/status" | sed 's/^/    /'
echo "--- fzctl status"
"$B/fzctl" --socket "$SOCK" status | sed 's/^/    /'
echo "--- fzctl log-level info,ipc=debug; fzctl --json status | jq .log_filter"
"$B/fzctl" --socket "$SOCK" log-level info,ipc=debug | sed 's/^/    /'
"$B/fzctl" --socket "$SOCK" --json status | jq .log_filter | sed 's/^/    /'
echo "--- kill -9 fz-controld; the supervisor restarts it"
kill -9 "$CPID"
ns_wait_for sh -c "p=\$(pgrep -P $TPID -f fz-controld); [ -n \"\$p\" ] && [ \"\$p\" != $CPID ]" ||
	ns_fail "not restarted"
"$B/fzctl" --socket "$SOCK" status | grep fz-controld | sed 's/^/    /'
echo "--- SIGTERM: the TUN device and socket are removed"
kill -TERM "$TPID"; wait "$TPID"
ip -n "$A" link show tun-firezone >/dev/null 2>&1 && ns_fail "tun-firezone left"
echo "    tun-firezone gone, exit status 0"
echo "--- fz-tunneld's log"
sed 's/^/    /' "$T/tunneld.log"
