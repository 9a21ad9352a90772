# SPDX-License-Identifier: ISC
# shellcheck shell=bash
#
# Helpers for integration tests that need root and network namespaces.
# Source it, then:
#   ns_require_root                 # exits 77 (skip) unless root with netns
#   ns_new NAME                     # creates netns "fz$$-NAME"; sets NS to it
#   ns_name NAME                    # prints that name
#   ns_link NSA IPA NSB IPB [PREFIXLEN]   # veth; sets LINK_A and LINK_B
#   ns_bg NS LOGFILE CMD...         # CMD in NS in the background; sets BG_PID
#   ns_tmpdir                       # sets FZ_TMP to a directory removed at exit
#   ns_on_cleanup CMD...            # runs CMD at exit, before namespaces go
#   ns_wait_for CMD...              # retries CMD for up to FZ_WAIT seconds
#   ns_check_dropped PID [CAPEFF...] # PID runs as nobody, no caps, seccomp
# These set variables instead of printing: a command substitution would run
# them in a subshell and lose what they record for cleanup.
# Everything created is removed on exit, whatever the reason (trap).
set -u

FZ_NS_PREFIX="fz$$"
FZ_NS_LIST=""
FZ_PIDS=""
FZ_TMP=""
FZ_WAIT=${FZ_WAIT:-10}
FZ_CLEANUP_HOOKS=""
FZ_LINK_IDX=0

top_builddir=${top_builddir:-$(pwd)}
top_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

ns_log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
ns_fail() { ns_log "FAIL: $*"; exit 1; }
# A skip means "not root" and nothing else: as root with CI set (CI runs as
# root), a missing tool or kernel feature is a failure, so a fresh machine
# that lacks a package cannot pass by skipping.
ns_skip() {
	if [ "$(id -u)" = 0 ] && [ -n "${CI:-}" ]; then
		ns_fail "$* (CI: a root-only test may not skip)"
	fi
	ns_log "SKIP: $*"
	exit 77
}

ns_require_root() {
	[ "$(id -u)" = 0 ] || ns_skip "needs root"
	command -v ip >/dev/null 2>&1 || ns_skip "iproute2 missing"
	ip netns add "${FZ_NS_PREFIX}-probe" 2>/dev/null ||
		ns_skip "cannot create network namespaces"
	ip netns del "${FZ_NS_PREFIX}-probe"
}

ns_tmpdir() {
	if [ -z "$FZ_TMP" ]; then
		FZ_TMP=$(mktemp -d /tmp/fz-test.XXXXXX)
	fi
}

ns_on_cleanup() {
	FZ_CLEANUP_HOOKS="$FZ_CLEANUP_HOOKS
$*"
}

ns_cleanup() {
	local rc=$? ns pid
	trap - EXIT INT TERM
	set +e
	if [ -n "$FZ_CLEANUP_HOOKS" ]; then
		eval "$FZ_CLEANUP_HOOKS" >/dev/null 2>&1
	fi
	for pid in $FZ_PIDS; do
		kill "$pid" 2>/dev/null
	done
	for pid in $FZ_PIDS; do
		ns_gone "$pid" 20 || kill -9 "$pid" 2>/dev/null
	done
	for ns in $FZ_NS_LIST; do
		# Kill anything still running inside, then remove the namespace.
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "$FZ_TMP" ] && [ -z "${FZ_KEEP_TMP:-}" ]; then
		rm -rf "$FZ_TMP"
	fi
	exit "$rc"
}
trap ns_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ns_need TOOL...: each on PATH, else skip (a failure as root under CI),
# naming the Debian package where it is not the tool's name.
ns_need() {
	local t pkg
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 && continue
		case $t in
		dig) pkg=" (bind9-dnsutils)" ;;
		Xvfb) pkg=" (xvfb)" ;;
		dbus-launch) pkg=" (dbus-x11)" ;;
		*) pkg="" ;;
		esac
		ns_skip "$t not installed$pkg"
	done
}

# ns_fz_setup TOOL...: what a test of fz's daemons needs first: root and
# namespaces, the tools (ns_need), the built daemons (PORTALD RELAYD
# TUNNELD CONTROLD FZCTL, from top_builddir; fz-portald must be there),
# FZ_WAIT 20, T a private directory (removed, unless FZ_KEEP_TMP) and W a
# world-readable one holding a copy of fz-controld, which runs as nobody
# (the build tree may sit under /root), and its sockets.
ns_fz_setup() {
	ns_require_root
	ns_need "$@"
	PORTALD="$top_builddir/fz-portald"
	RELAYD="$top_builddir/fz-relayd"
	TUNNELD="$top_builddir/fz-tunneld"
	CONTROLD="$top_builddir/fz-controld"
	FZCTL="$top_builddir/fzctl"
	[ -x "$PORTALD" ] || ns_fail "fz-portald not built ($PORTALD)"
	FZ_WAIT=20
	ns_tmpdir
	T=$FZ_TMP
	W=$(mktemp -d /tmp/fz-test-w.XXXXXX) || ns_fail "mktemp"
	ns_on_cleanup "rm -rf '$W'"
	chmod 0755 "$W"
	cp "$CONTROLD" "$W/" && chmod 0755 "$W/fz-controld" ||
		ns_fail "fz-controld not built ($CONTROLD)"
}

ns_name() { printf '%s\n' "${FZ_NS_PREFIX}-$1"; }

ns_new() {
	NS="${FZ_NS_PREFIX}-$1"
	ip netns add "$NS" || ns_fail "ip netns add $NS"
	FZ_NS_LIST="$FZ_NS_LIST $NS"
	ip -n "$NS" link set lo up
}

# Interface names: fzv<idx>a in NSA, fzv<idx>b in NSB.
ns_link() {
	local nsa=$1 ipa=$2 nsb=$3 ipb=$4 plen=${5:-24}
	local a="fzv${FZ_LINK_IDX}a" b="fzv${FZ_LINK_IDX}b"
	FZ_LINK_IDX=$((FZ_LINK_IDX + 1))
	ip link add "$a" netns "$nsa" type veth peer name "$b" netns "$nsb" ||
		ns_fail "veth $a/$b"
	case $ipa in *:*) plen=${5:-64} ;; esac
	ip -n "$nsa" addr add "$ipa/$plen" dev "$a" nodad 2>/dev/null ||
		ip -n "$nsa" addr add "$ipa/$plen" dev "$a"
	ip -n "$nsb" addr add "$ipb/$plen" dev "$b" nodad 2>/dev/null ||
		ip -n "$nsb" addr add "$ipb/$plen" dev "$b"
	ip -n "$nsa" link set "$a" up
	ip -n "$nsb" link set "$b" up
	LINK_A=$a
	LINK_B=$b
}

ns_bg() {
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	BG_PID=$!
	FZ_PIDS="$FZ_PIDS $BG_PID"
}

# ns_gone PID TENTHS: waits up to TENTHS tenths of a second for PID to end.
ns_gone() {
	local i=0
	while kill -0 "$1" 2>/dev/null; do
		[ $i -lt "$2" ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}

# ns_stop PID: SIGTERM, then up to 3 s for it to end (it logs as it goes).
ns_stop() { kill -TERM "$1" 2>/dev/null && ns_gone "$1" 30; }

ns_wait_for() {
	local i=0 max=$((FZ_WAIT * 10))
	while [ $i -lt $max ]; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# ns_check_dropped PID [CAPEFF...]: a daemon started as root (fz-relayd)
# runs as --user nobody with only the kept capabilities (none unless
# listed), no_new_privs and a seccomp filter, in every thread.
ns_check_dropped() {
	local pid=$1 t uid capeff nnp sc ok
	shift
	for t in /proc/"$pid"/task/*; do
		uid=$(awk '/^Uid:/ { print $2 + $3 + $4 + $5 == 0 ? "root" : ($2 == 0 || $3 == 0 || $4 == 0 || $5 == 0) ? "partial" : $3 }' "$t/status")
		capeff=$(awk '/^CapEff:/ { print $2 }' "$t/status")
		nnp=$(awk '/^NoNewPrivs:/ { print $2 }' "$t/status")
		sc=$(awk '/^Seccomp:/ { print $2 }' "$t/status")
		[ "$uid" = 65534 ] || ns_fail "fz-relayd $t: uid $uid, not nobody"
		ok=0
		for c in 0000000000000000 "$@"; do
			[ "$capeff" = "$c" ] && ok=1
		done
		[ $ok = 1 ] || ns_fail "fz-relayd $t: CapEff $capeff"
		[ "$nnp" = 1 ] || ns_fail "fz-relayd $t: NoNewPrivs $nnp"
		[ "$sc" = 2 ] || ns_fail "fz-relayd $t: Seccomp $sc"
	done
	ns_log "ok: fz-relayd $pid runs as nobody, CapEff $capeff, NoNewPrivs 1, Seccomp 2 ($(ls /proc/"$pid"/task | wc -l) threads)"
}
