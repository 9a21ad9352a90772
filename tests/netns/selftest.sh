#!/bin/bash
# SPDX-License-Identifier: ISC
# The namespace helpers themselves: two namespaces, veths, pings, a
# background process, and nothing left behind afterwards.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/netns/lib.sh"
ns_require_root

if [ "${1:-}" != inner ]; then
	# Run the real test in a child and check its cleanup from outside.
	bash "$0" inner || exit 1
	inner=$(cat "/tmp/fz-selftest.$$")
	rm -f "/tmp/fz-selftest.$$"
	if ip netns list | grep -q "^fz$inner-"; then
		ns_fail "namespaces left behind"
	fi
	if pgrep -f "sleep 61.5" >/dev/null; then
		ns_fail "background process left behind"
	fi
	ns_log "PASS: namespaces created and removed"
	# As root, a skip for a missing tool is a failure under CI and a
	# skip (77) otherwise.
	lib="$top_srcdir/tests/netns/lib.sh"
	CI=true bash -c ". '$lib'; ns_skip 'no such tool'" 2>/dev/null
	[ $? = 1 ] || ns_fail "ns_skip under CI as root must fail"
	env -u CI bash -c ". '$lib'; ns_skip 'no such tool'" 2>/dev/null
	[ $? = 77 ] || ns_fail "ns_skip without CI must exit 77"
	ns_log "PASS: a skip as root under CI is a failure"
	exit 0
fi

echo "$$" > "/tmp/fz-selftest.$PPID"
ns_new a; a=$NS
ns_new b; b=$NS
ns_link "$a" 10.231.0.1 "$b" 10.231.0.2
ip netns exec "$a" ping -c 1 -W 2 10.231.0.2 >/dev/null || ns_fail "ping"
ns_link "$a" fd00:231::1 "$b" fd00:231::2
[ "$LINK_A" = fzv1a ] || ns_fail "link names"
ns_wait_for ip netns exec "$a" ping -6 -c 1 -W 1 fd00:231::2 || ns_fail "ping6"
ns_bg "$a" /dev/null sleep 61.5
kill -0 "$BG_PID" || ns_fail "background process"
exit 0
