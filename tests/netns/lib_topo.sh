# SPDX-License-Identifier: ISC
# shellcheck shell=bash
#
# The Firezone topology the namespace tests share (sourced after nothing:
# it sources lib.sh): fz-portald with a site "hq", a gateway, clients and
# CIDR resources; fz-relayd instances joined to it; fz-tunneld clients and
# gateways (fz-controld as nobody); a resource host with an HTTP server.
# The namespaces, addresses and firewall rules are the caller's.
#   topo_init TOOL...          root (else exit 77), the tools (a missing one
#                              skips, fails under CI), T (private tmp),
#                              W (world-readable: fz-controld, sockets), B
#   topo_portal NS ADDR RESOURCES CLIENTS
#                              portal.json and fz-portald on ADDR:8080 in NS;
#                              RESOURCES: JSON objects (site hq, policy for
#                              group eng), CLIENTS: names (tokens TOK_<name>)
#   topo_relay NS NAME IP4 [IP6] [METRICS]
#                              fz-relayd joined to the portal; METRICS
#                              (ADDR:PORT in NS) serves /metrics
#   topo_device NS NAME MODE   fz-tunneld --mode MODE (gateway: token GTOK,
#                              else TOK_<NAME>), portal at TOPO_API
#   topo_http NS ADDR          python3 HTTP server on ADDR:80 serving $T/www
#   topo_routes NSC NSG CIDR...  the client's routes into tun-firezone and
#                              the gateway's back to the clients (issue 14)
#   topo_st NAME / topo_online NAME / topo_path NAME / topo_fail MSG
#   topo_metric NS ADDR:PORT NAME [LABELS]   a relay's counter (sum)
. "${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/tests/netns/lib.sh"

TOPO_PORT=8080
TOPO_API=""
TOPO_LOGS=""

topo_init() {
	local t wait=${FZ_WAIT:-20}
	ns_fz_setup python3 "$@"
	FZ_WAIT=$wait
	B=${top_builddir:-.}
	for t in fz-relayd fz-tunneld fzctl; do
		[ -x "$B/$t" ] || ns_fail "$t not built ($B/$t)"
	done
	RTOK="relay-$RANDOM$RANDOM"
	GTOK="gw-$RANDOM$RANDOM"
}

topo_uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }

topo_portal() {
	local ns=$1 addr=$2 res=$3 clients=$4 c cl="" pol="" n
	for c in $clients; do
		eval "TOK_$c=$c-$RANDOM$RANDOM"
		eval "cl=\"\$cl\${cl:+, }{\\\"name\\\": \\\"$c\\\", \\\"token\\\": \\\"\$TOK_$c\\\", \\\"groups\\\": [\\\"eng\\\"]}\""
	done
	for n in $(printf '%s\n' "$res" | grep -o '"name": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'); do
		pol="$pol${pol:+, }{\"group\": \"eng\", \"resource\": \"$n\"}"
	done
	(umask 077; cat > "$T/portal.json" <<EOF
{ "account": {"slug": "topo"},
  "relay_token": "$RTOK",
  "sites": [{"name": "hq", "gateway_token": "$GTOK"}],
  "resources": [$res],
  "clients": [$cl],
  "policies": [$pol] }
EOF
	)
	"$B/fz-portald" --config "$T/portal.json" --check >/dev/null ||
		{ cat "$T/portal.json"; ns_fail "portal.json refused"; }
	TOPO_API="ws://$addr:$TOPO_PORT"
	case $addr in *:*) TOPO_API="ws://[$addr]:$TOPO_PORT" ;; esac
	TOPO_LOGS="$TOPO_LOGS portald"
	ns_bg "$ns" "$T/portald.log" "$B/fz-portald" --config "$T/portal.json" \
		--listen "0.0.0.0:$TOPO_PORT" --state "$T/state.db"
	ns_wait_for sh -c "ip netns exec '$ns' ss -Htln 'sport = :$TOPO_PORT' | grep -q LISTEN" ||
		{ cat "$T/portald.log"; ns_fail "fz-portald does not listen"; }
}

topo_relay() {
	local ns=$1 name=$2 ip4=$3 ip6=${4:-} metrics=${5:-} n
	n=$(grep -c 'relay [0-9a-f-]* joined' "$T/portald.log")
	if [ ! -d "$T/rcreds" ]; then
		mkdir -m 0700 "$T/rcreds"
		printf '%s\n' "$RTOK" > "$T/rcreds/FIREZONE_TOKEN"
		chmod 0400 "$T/rcreds/FIREZONE_TOKEN"
	fi
	TOPO_LOGS="$TOPO_LOGS $name"
	ns_bg "$ns" "$T/$name.log" env CREDENTIALS_DIRECTORY="$T/rcreds" \
		FIREZONE_API_URL="$TOPO_API" FIREZONE_NAME="$name" \
		${metrics:+HEALTH_CHECK_ADDR=$metrics} "$B/fz-relayd" \
		--public-ip4-addr "$ip4" ${ip6:+--public-ip6-addr "$ip6"} \
		--allow-private-peers --log-format json --user nobody
	ns_wait_for sh -c "[ \$(grep -c 'relay [0-9a-f-]* joined' '$T/portald.log') -gt $n ]" ||
		{ tail "$T/$name.log" "$T/portald.log"; ns_fail "$name did not join"; }
}

topo_device() {
	local ns=$1 name=$2 mode=$3 tok
	if [ "$mode" = gateway ]; then tok=$GTOK; else eval "tok=\$TOK_$name"; fi
	mkdir -p "$T/$name"
	TOPO_LOGS="$TOPO_LOGS $name"
	ns_bg "$ns" "$T/$name.log" env FIREZONE_TOKEN="$tok" \
		FIREZONE_NAME="$name" "$B/fz-tunneld" --mode "$mode" \
		--socket "$W/$name.sock" --state-dir "$T/$name" \
		--token-path "$T/$name/no-token-file" --firezone-id "$(topo_uuid)" \
		--api-url "$TOPO_API" --user nobody --controld "$W/fz-controld" \
		--dns-control disabled --log-format json --log-filter "${TOPO_LOG_FILTER:-info}"
	eval "${name}_PID=\$BG_PID"
}

topo_http() {
	local ns=$1 addr=$2
	mkdir -p "$T/www"
	[ -f "$T/www/index.html" ] || echo "hello from the resource" > "$T/www/index.html"
	# No reverse lookup of the bound address (no DNS here: a 10 s stall).
	ns_bg "$ns" "$T/http-$ns.log" python3 -c '
import functools, http.server as hs, socket, socketserver, sys
class S(hs.ThreadingHTTPServer):
	address_family = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
	def server_bind(self):
		socketserver.TCPServer.server_bind(self)
		self.server_name, self.server_port = "resource", 80
S((sys.argv[2], 80), functools.partial(hs.SimpleHTTPRequestHandler,
	directory=sys.argv[1])).serve_forever()' "$T/www" "$addr"
	ns_wait_for sh -c "ip netns exec '$ns' ss -Htln 'sport = :80' | grep -q LISTEN" ||
		ns_fail "no HTTP server in $ns"
}

topo_routes() {
	local c=$1 g=$2 cidr
	shift 2
	for cidr in "$@"; do
		ns_wait_for ip -n "$c" route replace "$cidr" dev tun-firezone ||
			topo_fail "no route to $cidr on the client's tun-firezone"
	done
	ns_wait_for ip -n "$g" route replace 100.64.0.0/11 dev tun-firezone &&
		ip -n "$g" -6 route replace fd00:2021:1111::/107 dev tun-firezone ||
		topo_fail "no route to the clients on the gateway's tun-firezone"
}

topo_st() { "$B/fzctl" --socket "$W/$1.sock" status 2>/dev/null; }
topo_online() { topo_st "$1" | grep -q '^state: *online'; }
# The latest path fz-controld logged: "path direct to A:P" / "path via relay A:P ..."
topo_path() {
	grep -o 'path \(direct to\|via relay\) [^"]*' "$T/$1.log" | tail -n 1
}
topo_npaths() { grep -c 'path \(direct to\|via relay\)' "$T/$1.log"; }

topo_dump() {
	local f pid
	# Each device's status, then the device stopped (it logs its data
	# plane's drop counters as it goes), then the logs' ends.
	for f in $TOPO_LOGS; do
		[ -S "$W/$f.sock" ] || continue
		echo "--- $f: fzctl status"
		topo_st "$f"
		eval "pid=\${${f}_PID:-}"
		[ -n "$pid" ] && ns_stop "$pid"
	done
	for f in $TOPO_LOGS; do
		[ -f "$T/$f.log" ] || continue
		echo "--- $f.log"
		tail -n "${TOPO_DUMP_LINES:-40}" "$T/$f.log"
	done
	return 0
}
topo_fail() { topo_dump; ns_fail "$*"; }

topo_metric() {
	local ns=$1 at=$2 name=$3 labels=${4:-}
	ip netns exec "$ns" curl -s -m 2 "http://$at/metrics" |
		awk -v n="$name" -v l="$labels" '
			{ split($1, a, "{") }
			a[1] == n && index($1, l) { s += $2 }
			END { printf "%d\n", s }'
}

# topo_ms: milliseconds since topo_init's caller started (for summaries)
TOPO_T0=$(date +%s%N)
topo_ms() { echo $(( ($(date +%s%N) - TOPO_T0) / 1000000 )); }

# topo_handshakes [-n] NAME...: for each peer each device added, the time
# from its PEER_SET ("added") to its first session; fails over 2 s (an
# initiation lost before the responder's PEER_SET costs the initiator's
# 5 s retry), unless -n (print only).  Prints the figures.
topo_handshakes() {
	local d strict=1
	[ "$1" = -n ] && { strict=0; shift; }
	for d in "$@"; do
		python3 - "$T/$d.log" "$d" <<'PY' || [ $strict = 0 ] || topo_fail "$d: a handshake took over 2 s after its PEER_SET"
import datetime, json, re, sys
added, est, ok = {}, {}, True
for line in open(sys.argv[1], errors="replace"):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    m, ts = j.get("message", ""), j.get("timestamp", "")
    t = datetime.datetime.fromisoformat(ts.rstrip("Z")).timestamp()
    a = re.match(r"peer \S+ \((\S+)\) added", m)
    if a and a.group(1) not in added:
        added[a.group(1)] = t
    e = re.match(r"peer (\S+): session established", m)
    if e and e.group(1) not in est:
        est[e.group(1)] = t
for fp, t in added.items():
    if fp not in est:
        continue
    gap = (est[fp] - t) * 1000
    print("%s: peer %s: session %.1f ms after its PEER_SET" % (sys.argv[2], fp, gap))
    ok &= gap < 2000
sys.exit(0 if ok else 1)
PY
	done
}
