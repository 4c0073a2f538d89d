#!/bin/bash
# tests/bench/run.sh - socksify's benchmarks (`make bench`).
#
# Every ratio compares runs made side by side in this one run: variants are
# alternated (ABBA order) rep by rep, and each figure is the median over
# the reps; a ratio is the median of the per-rep ratios of adjacent runs,
# which cancels slow drift of the machine.
#
#   1. pass-through: 1,000,000 sendto() on a direct UDP socket to a
#      127.0.0.1 discard port, and 1,000,000 dup()+close() pairs, with and
#      without LD_PRELOAD=libsocksify.so.  Goal: ratio <= 1.03.  Plus user
#      space instructions per op (callgrind, deterministic) when valgrind
#      is installed.
#   2. sequential connects: 2,000 x (connect + "ping"/reply + close)
#      through one danted, under socksify, proxychains4 and torsocks.
#      Goal: socksify >= the fastest other tool (per-rep paired ratio).
#   3. process start-up: /bin/true plain, with the shim preloaded, and
#      under proxychains4 (launcher and bare preload), and socksify's
#      launcher.  Goal: socksify's launcher no slower than proxychains4's.
#   4. UDP echo (issue 4): BENCH_UDP_N sequential sendto+recvfrom round
#      trips of a 64-byte payload through danted's UDP relay, under
#      socksify and under Dante's own client (libdsocksd, dante-client),
#      alternated.  Goal: socksify >= Dante (per-rep paired ratio).  And
#      callgrind (deterministic user-space counts, (X(2N)-X(N))/N per
#      send+receive pair): instructions, the shim's own cost over the same
#      program sending directly, allocations (malloc, calloc, realloc,
#      reallocarray calls) per pair - goal 0 - and the memcpy-family
#      instructions per pair at 64 and 8192-byte payloads - goal: no growth
#      with the payload, i.e. no copy of it.  The UDP target echoes only
#      datagrams from danted's external address (anything else gets
#      "direct", which the client rejects), and the client checks every
#      reply's bytes and shown sender.
#   5. the bad-pointer checks on proxied calls (issue 7): the same UDP
#      round trips under socksify with the program's buffers reused (the
#      shim checks them once) and with a new destination, sender and
#      length buffer every call (udpbench ... rotate: the kernel is asked
#      every time, two process_vm_* calls per trip), alternated; the ratio
#      is what the check costs at worst.  No goal: it is reported.
#   6. concurrency (issue 8): N = 1, 10, 100 TCP connects started at once
#      from one event loop, each then sending a ping and reading the
#      target's answer, through tests/lab/delayrelay.py, a relay in front
#      of danted that delays every chunk BENCH_CONC_DELAY ms each way (a
#      distant proxy: a connection is 3 round trips, 6 delays).  Styles:
#      storm with one epoll set, storm with one poll array, curl
#      --parallel (N URLs, on an HTTP target that likewise answers
#      "proxied" only to danted's address; the curl process is timed) and
#      Python asyncio (aiostorm.py).  Tools: socksify, proxychains4 and
#      torsocks (preloaded, each set to the relay) and native: the same
#      loop doing its own non-blocking SOCKS5 (storm --socks, curl
#      --socks5, aiostorm.py --socks), the reference.  time(N) is the wall
#      time from the first connect to the last answer; each figure is the
#      median (min-max) of BENCH_CONC_REPS rounds, N order alternated per
#      round, tools rotated, each run started once the last one's
#      connections are all torn down; time(100)/time(1) is the median of
#      the rounds' own ratios (a single N=100 run: over the median
#      time(1)); every run is listed in $TMP/conc-runs (BENCH_KEEP=1).
#      proxychains4 and torsocks do the whole handshake inside connect(),
#      so their N connects are N handshakes in a row (~20 s for N=100 at
#      50 ms): their N=10 and N=100 runs are made side by side, the two
#      at once, and N=100 in one round only; any other tool's N=100 run is
#      not repeated once it took more than BENCH_CONC_SLOW_MS either.
#      Goal: socksify time(100)/time(1) <= 1.3 in every style.
#   7. one blocking connect's system calls (strace) and pipelining.
#   8. the supervisor (issue 11), on static builds of the bench's programs
#      (cc -static) and a pure-Go one (tests/bench/gostorm, CGO_ENABLED=0):
#      a. an untrapped, syscall-heavy loop (passthru dupclose and sockname:
#         1 syscall per op that the filter lets through) bare and under
#         the supervisor, alternated: the ratio is what the filter costs
#         every call it does not trap;
#      b. a trapped call: passthru connect (a loopback connect, direct:
#         the supervisor connects its copy of the socket) bare and under
#         the supervisor: the added microseconds per connect;
#      c. proxied connects through danted (connbench, 2 round trips to
#         danted each): the static build under the supervisor against the
#         dynamic build under the shim, alternated: connects/s and ratio;
#      d. gostorm: N = 1, 10, 100 Go dials at once (goroutines, Go's
#         netpoller: connects from many threads) via section 6's delaying
#         relay, under the supervisor, each answered "proxied" by the
#         target; and the reference, native: the same program doing
#         SOCKS5 itself (gostorm --socks), alternated with it.  Goal:
#         time(100)/time(1) <= 1.3.
#
# Network: one network namespace made here, loopback only, with two test
# addresses on its lo: 198.18.0.1 (danted's external address) and
# 198.18.0.2 (the target).  A target outside 127/8 is needed because
# torsocks refuses loopback destinations (they would go direct or fail,
# never through the proxy); the same target is used for all three tools.
# The target answers "proxied" only to connections from danted's external
# address, and the client fails on anything else, so a tool that went
# direct is caught on every connect.
#
# Knobs (environment): BENCH_ONLY (the sections to run, by number, e.g.
# "6" or "2 4"; default all), BENCH_REPS (default 9), BENCH_OPS (1000000),
# BENCH_CONNECTS (2000), BENCH_CONN_REPS (9), BENCH_STARTS (1000),
# BENCH_START_REPS (5), BENCH_NO_CALLGRIND=1, BENCH_UDP_N (20000),
# BENCH_UDP_REPS (5), BENCH_UDP_CG_N (2000), BENCH_CONC_REPS (3),
# BENCH_CONC_DELAY (50, ms), BENCH_CONC_SLOW_MS (5000), BENCH_CONC_STYLES
# ("epoll poll curl asyncio"), BENCH_CONC_TOOLS ("socksify proxychains4
# torsocks native"), BENCH_SUP_REPS (7), BENCH_SUP_OPS (300000),
# BENCH_SUP_CONNECTS (3000), BENCH_SUP_PCONNECTS (1000).  Section 6 alone: BENCH_ONLY=6 make bench; a quick
# look: BENCH_ONLY=6 BENCH_CONC_STYLES=epoll BENCH_CONC_TOOLS="socksify
# native".
#
# Exit status: 0 when every measurement ran (goals met or not), 1 when a
# measurement failed, 2 when the bench cannot run here.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh" # TOP, danted_conf
LIB=$TOP/preload/libsocksify.so
LAUNCHER=$TOP/socksify
BIN=$TOP/build/bench

REPS=${BENCH_REPS:-9}
OPS=${BENCH_OPS:-1000000}
CONNECTS=${BENCH_CONNECTS:-2000}
CONN_REPS=${BENCH_CONN_REPS:-9}
STARTS=${BENCH_STARTS:-1000}
START_REPS=${BENCH_START_REPS:-5}
UDP_N=${BENCH_UDP_N:-20000}
UDP_REPS=${BENCH_UDP_REPS:-5}
UDP_CG_N=${BENCH_UDP_CG_N:-2000}
CONC_REPS=${BENCH_CONC_REPS:-3}
CONC_DELAY=${BENCH_CONC_DELAY:-50}
CONC_SLOW_MS=${BENCH_CONC_SLOW_MS:-5000}
read -ra CONC_STYLES <<<"${BENCH_CONC_STYLES:-epoll poll curl asyncio}"
read -ra CONC_TOOLS <<<"${BENCH_CONC_TOOLS:-socksify proxychains4 torsocks native}"
SUP_REPS=${BENCH_SUP_REPS:-7}
SUP_OPS=${BENCH_SUP_OPS:-300000}
SUP_CONNECTS=${BENCH_SUP_CONNECTS:-3000}
SUP_PCONNECTS=${BENCH_SUP_PCONNECTS:-1000}
ONLY=${BENCH_ONLY:-}

PROXY_PORT=1080
PROXY_EXT=198.18.0.1
TARGET=198.18.0.2
TARGET_PORT=7
UDP_PORT=9 # the UDP echo, on the target and (direct baseline) on 127.0.0.1
HTTP_PORT=80    # section 6: the HTTP target (echod http), on the target
RELAY_PORT=1081 # section 6: the delaying relay, in front of danted
RELAY=$TOP/tests/lab/delayrelay.py

NS=sfybench$$
TMP=
ECHOD_PID=
UECHOD_PID=
LECHOD_PID=
DANTED_PID=
HTTPD_PID=
RELAY_PID=
FAILED=0

say() { printf '%s\n' "$*"; }
err() { printf 'bench: %s\n' "$*" >&2; }
measure_failed() { err "MEASUREMENT FAILED: $*"; FAILED=1; }
# want N: whether section N runs (BENCH_ONLY lists them; empty: all).
want() { [ -z "$ONLY" ] || [[ " ${ONLY//,/ } " == *" $1 "* ]]; }

cleanup() {
	local p
	for p in $ECHOD_PID $UECHOD_PID $LECHOD_PID $DANTED_PID $HTTPD_PID $RELAY_PID; do
		kill -TERM "$p" 2>/dev/null
	done
	# Whatever is left in our own namespace (danted's children): give
	# danted's mother time to stop and reap them, then KILL the rest.
	if [ -n "$NS" ] && ip netns list 2>/dev/null | grep -qw "$NS"; then
		for p in $(seq 1 30); do
			[ -z "$(ip netns pids "$NS" 2>/dev/null)" ] && break
			sleep 0.1
		done
		for p in $(ip netns pids "$NS" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$NS" 2>/dev/null
	fi
	for p in $ECHOD_PID $UECHOD_PID $LECHOD_PID $DANTED_PID $HTTPD_PID $RELAY_PID; do
		wait "$p" 2>/dev/null
	done
	ECHOD_PID='' UECHOD_PID='' LECHOD_PID='' DANTED_PID='' HTTPD_PID='' RELAY_PID=''
	[ -n "$TMP" ] && [ -z "${BENCH_KEEP:-}" ] && rm -rf "$TMP"
	TMP=
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# --- helpers --------------------------------------------------------------

median() { # numbers on stdin -> median
	sort -g | awk '{v[NR] = $1} END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.6g\n", m }'
}
fmt() { awk -v v="$2" -v f="$1" 'BEGIN { if (v == "" || v == "nan") print "?"; else printf f, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.4f", a / b; else print "nan" }'; }
# goal_le VALUE LIMIT / goal_ge VALUE LIMIT -> "met" / "NOT met"
goal_le() { awk -v v="$1" -v l="$2" 'BEGIN { print (v ~ /^[0-9.]+$/ && v + 0 <= l + 0) ? "met" : "NOT met" }'; }
goal_ge() { awk -v v="$1" -v l="$2" 'BEGIN { print (v ~ /^[0-9.]+$/ && v + 0 >= l + 0) ? "met" : "NOT met" }'; }

# Pins the pass-through runs to one CPU (the same for both variants).
PIN=()
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -gt 1 ]; then
	PIN=(taskset -c $(($(nproc) - 1)))
fi

# --- preflight ------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || { err "needs root (network namespace)"; exit 2; }
[ -f "$LIB" ] || { err "$LIB missing: run make all"; exit 2; }
for t in ip danted proxychains4 torsocks cc; do
	command -v "$t" >/dev/null 2>&1 || { err "$t not installed (make deps)"; exit 2; }
done
PROXYCHAINS=$(command -v proxychains4)
PC_LIB=
for f in /usr/lib/*/libproxychains.so.4 /usr/lib/libproxychains.so.4 \
	/usr/lib/*/libproxychains4.so; do
	[ -f "$f" ] && { PC_LIB=$f; break; }
done
TS_LIB=
for f in /usr/lib/*/torsocks/libtorsocks.so /usr/lib/torsocks/libtorsocks.so; do
	[ -f "$f" ] && { TS_LIB=$f; break; }
done
[ -n "$PC_LIB" ] || { err "libproxychains.so.4 not found"; exit 2; }
[ -n "$TS_LIB" ] || { err "libtorsocks.so not found"; exit 2; }
DANTE_LIB= # Dante's client library (dante-client), as its socksify(1) preloads it
for f in /usr/lib/*/libdsocksd.so.0 /usr/lib/libdsocksd.so.0; do
	[ -f "$f" ] && { DANTE_LIB=$f; break; }
done
if want 4 && [ -z "$DANTE_LIB" ]; then
	err "libdsocksd.so.0 (dante-client) not found"; exit 2
fi
for n in ${ONLY//,/ }; do
	case $n in [1-8]) ;; *) err "BENCH_ONLY: no section '$n' (1-8)"; exit 2 ;; esac
done
CURL=
if want 6 || want 7 || want 8; then
	CURL=$(command -v curl) || { err "curl not installed (make deps)"; exit 2; }
	[ -x "$PY" ] || { err "$PY missing (make deps)"; exit 2; }
	[ -f "$RELAY" ] || { err "$RELAY missing"; exit 2; }
	for v in "$CONC_DELAY" "$CONC_REPS" "$CONC_SLOW_MS"; do
		case $v in '' | *[!0-9]*) err "BENCH_CONC_DELAY/_REPS/_SLOW_MS: whole numbers, not '$v'"; exit 2 ;; esac
	done
	[ "$CONC_REPS" -ge 1 ] || { err "BENCH_CONC_REPS: at least 1"; exit 2; }
	for v in "${CONC_STYLES[@]}"; do
		case $v in epoll | poll | curl | asyncio) ;; *) err "BENCH_CONC_STYLES: no style '$v'"; exit 2 ;; esac
	done
	for v in "${CONC_TOOLS[@]}"; do
		case $v in socksify | proxychains4 | torsocks | native) ;; *) err "BENCH_CONC_TOOLS: no tool '$v'"; exit 2 ;; esac
	done
	[ ${#CONC_STYLES[@]} -ge 1 ] && [ ${#CONC_TOOLS[@]} -ge 1 ] || { err "BENCH_CONC_STYLES/_TOOLS: empty"; exit 2; }
fi

mkdir -p "$BIN"
for src in "$HERE"/*.c; do
	prog=$BIN/$(basename "$src" .c)
	if [ ! -x "$prog" ] || [ "$src" -nt "$prog" ]; then
		cc -O2 -Wall -Wextra -std=c11 -o "$prog" "$src" ||
			{ err "cannot compile $src"; exit 2; }
	fi
done
# Section 8: static builds (the supervisor's programs) and the Go one.
GOSTORM=
if want 8; then
	[ -x "$LAUNCHER" ] || { err "$LAUNCHER missing: run make all"; exit 2; }
	for p in passthru connbench; do
		if [ ! -x "$BIN/$p-static" ] || [ "$HERE/$p.c" -nt "$BIN/$p-static" ]; then
			cc -static -O2 -Wall -Wextra -std=c11 -o "$BIN/$p-static" "$HERE/$p.c" ||
				{ err "cannot compile $p.c -static (libc6-dev)"; exit 2; }
		fi
	done
	command -v go >/dev/null 2>&1 || { err "go not installed (make deps: golang-go)"; exit 2; }
	GOSTORM=$BIN/gostorm
	if [ ! -x "$GOSTORM" ] || [ "$HERE/gostorm/main.go" -nt "$GOSTORM" ]; then
		mkdir -p "$BIN/gocache"
		(cd "$HERE/gostorm" && env -i PATH=/usr/bin:/bin HOME="$BIN" GOCACHE="$BIN/gocache" \
			GOPATH="$BIN/gopath" GOENV=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local \
			CGO_ENABLED=0 go build -trimpath -o "$GOSTORM" .) ||
			{ err "cannot build tests/bench/gostorm"; exit 2; }
	fi
fi

TMP=$(mktemp -d /tmp/socksify-bench.XXXXXX) || exit 2

# --- the namespace, danted, the target ------------------------------------

setup_net() {
	ip netns add "$NS" || return 1
	ip -n "$NS" link set lo up || return 1
	ip -n "$NS" addr add "$PROXY_EXT/32" dev lo || return 1
	ip -n "$NS" addr add "$TARGET/32" dev lo || return 1
	# Tens of thousands of short connections: room for TIME_WAIT.
	ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" >/dev/null
	ip netns exec "$NS" sysctl -qw net.ipv4.tcp_tw_reuse=1 >/dev/null

	danted_conf "$TMP/danted.conf" "$TMP/danted.log" none error \
		127.0.0.1 "$PROXY_PORT" "$PROXY_EXT" "connect udpassociate udpreply"
	ip netns exec "$NS" danted -f "$TMP/danted.conf" -p "$TMP/danted.pid" \
		>>"$TMP/danted.out" 2>&1 &
	DANTED_PID=$!
	ip netns exec "$NS" "$BIN/echod" "$TARGET" "$TARGET_PORT" "$PROXY_EXT" \
		2>"$TMP/echod.out" &
	ECHOD_PID=$!
	ip netns exec "$NS" "$BIN/udpechod" "$TARGET" "$UDP_PORT" "$PROXY_EXT" \
		2>"$TMP/udpechod.out" &
	UECHOD_PID=$!
	# The direct baseline's echo (callgrind): answers loopback senders.
	ip netns exec "$NS" "$BIN/udpechod" 127.0.0.1 "$UDP_PORT" 127.0.0.1 \
		2>"$TMP/udpechod-lo.out" &
	LECHOD_PID=$!
	wait_port 127.0.0.1 "$PROXY_PORT" || return 1
	wait_port "$TARGET" "$TARGET_PORT" || return 1
	wait_port "$TARGET" "$UDP_PORT" u || return 1
	wait_port 127.0.0.1 "$UDP_PORT" u || return 1
	want 6 || want 7 || want 8 || return 0
	# Sections 6-8: the HTTP target and the delaying relay to danted.
	ip netns exec "$NS" "$BIN/echod" "$TARGET" "$HTTP_PORT" "$PROXY_EXT" http \
		2>"$TMP/httpd.out" &
	HTTPD_PID=$!
	ip netns exec "$NS" "$PY" "$RELAY" --listen "127.0.0.1:$RELAY_PORT" \
		--to "127.0.0.1:$PROXY_PORT" --delay-ms "$CONC_DELAY" \
		--stats "$TMP/relay-stats.json" --ready "$TMP/relay.ready" \
		>>"$TMP/relay.out" 2>&1 &
	RELAY_PID=$!
	wait_port "$TARGET" "$HTTP_PORT" || return 1
	for _ in $(seq 1 100); do
		[ -e "$TMP/relay.ready" ] && break
		sleep 0.1
	done
	wait_port 127.0.0.1 "$RELAY_PORT" || return 1
	return 0
}

wait_port() { # ADDR PORT [u: UDP]
	local i
	for i in $(seq 1 100); do
		ip netns exec "$NS" ss -Hl"${3:-t}"n 2>/dev/null | awk '{print $4}' |
			grep -qxF "$1:$2" && return 0
		sleep 0.1
	done
	err "timed out waiting for $1:$2"
	return 1
}

cat >"$TMP/proxychains.conf" <<EOF
# No localnet exclusions: everything goes through the proxy.
strict_chain
quiet_mode
tcp_read_time_out 15000
tcp_connect_time_out 8000
[ProxyList]
socks5 127.0.0.1 $PROXY_PORT
EOF
cat >"$TMP/torsocks.conf" <<EOF
TorAddress 127.0.0.1
TorPort $PROXY_PORT
OnionAddrRange 127.42.42.0/24
EOF
# Section 6: the same two, at the delaying relay.
sed "s/^socks5 127.0.0.1 $PROXY_PORT\$/socks5 127.0.0.1 $RELAY_PORT/" \
	"$TMP/proxychains.conf" >"$TMP/proxychains-relay.conf"
sed "s/^TorPort $PROXY_PORT\$/TorPort $RELAY_PORT/" "$TMP/torsocks.conf" \
	>"$TMP/torsocks-relay.conf"
cat >"$TMP/socksify-udp.conf" <<EOF
proxy socks5://127.0.0.1:$PROXY_PORT
EOF
# Dante's client: everything, UDP included, via danted.  It also needs
# SOCKS_AUTOADD_LANROUTES=no: by default it adds direct routes for every
# local interface address, and the target is one (on the namespace's lo).
cat >"$TMP/dante.conf" <<EOF
route {
	from: 0.0.0.0/0 to: 0.0.0.0/0 via: 127.0.0.1 port = $PROXY_PORT
	command: connect udpassociate
	proxyprotocol: socks_v5
	method: none
}
EOF

# --- 1. pass-through -------------------------------------------------------

# pass_run MODE plain|shim -> ns/op
pass_run() {
	if [ "$2" = shim ]; then
		LD_PRELOAD=$LIB SOCKSIFY_PROXY=socks5://127.0.0.1:$PROXY_PORT \
			"${PIN[@]}" "$BIN/passthru" "$1" "$OPS"
	else
		"${PIN[@]}" "$BIN/passthru" "$1" "$OPS"
	fi
}

# callgrind_ir MODE plain|shim N -> total user-space instructions
callgrind_ir() {
	local pre=()
	[ "$2" = shim ] && pre=(env LD_PRELOAD="$LIB" "SOCKSIFY_PROXY=socks5://127.0.0.1:$PROXY_PORT")
	"${pre[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$BIN/passthru" "$1" "$3" 2>&1 >/dev/null |
		awk '/Collected/ {print $4}'
}

declare -A PT_NS PT_RATIO PT_RANGE PT_IR
bench_pass() {
	local mode rep a b v1 v2
	for mode in sendto dupclose sockname; do
		: >"$TMP/pt-$mode-plain"; : >"$TMP/pt-$mode-shim"
		: >"$TMP/pt-$mode-ratio"
		for rep in $(seq 1 "$REPS"); do
			if [ $((rep % 2)) = 1 ]; then
				a=$(pass_run "$mode" plain) && b=$(pass_run "$mode" shim)
			else
				b=$(pass_run "$mode" shim) && a=$(pass_run "$mode" plain)
			fi || { measure_failed "passthru $mode"; return 1; }
			echo "$a" >>"$TMP/pt-$mode-plain"
			echo "$b" >>"$TMP/pt-$mode-shim"
			ratio "$b" "$a" >>"$TMP/pt-$mode-ratio"
			echo >>"$TMP/pt-$mode-ratio"
		done
		PT_NS[$mode,plain]=$(median <"$TMP/pt-$mode-plain")
		PT_NS[$mode,shim]=$(median <"$TMP/pt-$mode-shim")
		PT_RATIO[$mode]=$(grep . "$TMP/pt-$mode-ratio" | median)
		PT_RANGE[$mode]=$(grep . "$TMP/pt-$mode-ratio" | sort -g |
			awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}')
	done
	# Instructions per op, user space only: the difference between a run
	# of 2N and one of N ops, divided by N, so start-up cancels out.
	if [ -z "${BENCH_NO_CALLGRIND:-}" ] && command -v valgrind >/dev/null 2>&1; then
		local n=20000 v
		for mode in sendto dupclose sockname; do
			for v in plain shim; do
				v1=$(callgrind_ir "$mode" "$v" "$n")
				v2=$(callgrind_ir "$mode" "$v" $((2 * n)))
				if [ -n "$v1" ] && [ -n "$v2" ]; then
					PT_IR[$mode,$v]=$(awk -v a="${v1//,/}" -v b="${v2//,/}" \
						-v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')
				fi
			done
		done
	fi
	return 0
}

# --- 2. sequential connects -----------------------------------------------

conn_run() { # TOOL -> connects/s
	local cb=("$BIN/connbench" "$TARGET" "$TARGET_PORT" "$CONNECTS")
	case $1 in
	socksify)
		ip netns exec "$NS" "$LAUNCHER" -q -x "socks5://127.0.0.1:$PROXY_PORT" \
			-- "${cb[@]}" ;;
	proxychains4)
		ip netns exec "$NS" "$PROXYCHAINS" -q -f "$TMP/proxychains.conf" "${cb[@]}" ;;
	torsocks)
		ip netns exec "$NS" env TORSOCKS_CONF_FILE="$TMP/torsocks.conf" \
			torsocks "${cb[@]}" ;;
	esac 2>>"$TMP/conn-$1.err" | awk '{print $1}'
	return "${PIPESTATUS[0]}"
}

TOOLS=(socksify proxychains4 torsocks)
declare -A CONN CONN_OK
CONN_RATIO=nan CONN_RANGE='?'
bench_conn() {
	local rep i t v order
	for t in "${TOOLS[@]}"; do : >"$TMP/conn-$t"; CONN_OK[$t]=1; done
	: >"$TMP/conn-ratio"
	for rep in $(seq 1 "$CONN_REPS"); do
		# Rotate the order each rep.
		order=()
		for i in 0 1 2; do order+=("${TOOLS[$(((i + rep) % 3))]}"); done
		local -A this=()
		for t in "${order[@]}"; do
			[ "${CONN_OK[$t]}" = 1 ] || continue
			if v=$(conn_run "$t") && [ -n "$v" ]; then
				echo "$v" >>"$TMP/conn-$t"
				this[$t]=$v
			else
				CONN_OK[$t]=0
				measure_failed "connects under $t: $(tail -n 3 "$TMP/conn-$t.err" | tr '\n' ' ')"
			fi
		done
		# This rep's ratio: socksify / the fastest other tool of this rep.
		if [ -n "${this[socksify]:-}" ] && [ -n "${this[proxychains4]:-}" ] &&
			[ -n "${this[torsocks]:-}" ]; then
			awk -v s="${this[socksify]}" -v p="${this[proxychains4]}" \
				-v t="${this[torsocks]}" 'BEGIN { b = p > t ? p : t; printf "%.4f\n", s / b }' \
				>>"$TMP/conn-ratio"
		fi
	done
	for t in "${TOOLS[@]}"; do CONN[$t]=$(median <"$TMP/conn-$t"); done
	CONN_RATIO=$(median <"$TMP/conn-ratio")
	CONN_RANGE=$(sort -g "$TMP/conn-ratio" |
		awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}')
}

# --- 3. start-up ------------------------------------------------------------

START_VARIANTS=(plain shim-preload pc-preload pc-launcher sfy-launcher)
declare -A START_LABEL=(
	[plain]="/bin/true"
	[shim-preload]="LD_PRELOAD=libsocksify.so"
	[pc-preload]="LD_PRELOAD=libproxychains.so.4"
	[pc-launcher]="proxychains4 -q -f CONF"
	[sfy-launcher]="socksify -x URL (C launcher)"
)
start_run() { # VARIANT N -> ms/start
	local sp=("$BIN/spawn" "$2")
	local px=SOCKSIFY_PROXY=socks5://127.0.0.1:$PROXY_PORT
	case $1 in
	plain) "${sp[@]}" -- /bin/true ;;
	shim-preload) "${sp[@]}" LD_PRELOAD="$LIB" "$px" -- /bin/true ;;
	pc-preload) "${sp[@]}" LD_PRELOAD="$PC_LIB" \
		PROXYCHAINS_CONF_FILE="$TMP/proxychains.conf" PROXYCHAINS_QUIET_MODE=1 \
		-- /bin/true ;;
	pc-launcher) "${sp[@]}" -- "$PROXYCHAINS" -q -f "$TMP/proxychains.conf" /bin/true ;;
	sfy-launcher) "${sp[@]}" -- "$LAUNCHER" -q -x "socks5://127.0.0.1:$PROXY_PORT" /bin/true ;;
	esac
}

declare -A START
bench_start() {
	local per=$((STARTS / START_REPS)) rep i v n=${#START_VARIANTS[@]} s
	[ "$per" -ge 1 ] || per=1
	for v in "${START_VARIANTS[@]}"; do : >"$TMP/start-$v"; done
	for rep in $(seq 1 "$START_REPS"); do
		for i in $(seq 0 $((n - 1))); do
			v=${START_VARIANTS[$(((i + rep) % n))]}
			s=$(start_run "$v" "$per") || { measure_failed "start-up $v"; return 1; }
			echo "$s" >>"$TMP/start-$v"
		done
	done
	for v in "${START_VARIANTS[@]}"; do START[$v]=$(median <"$TMP/start-$v"); done
	# The goals' ratios paired per block (the same rep ran both), with
	# their spread over the blocks.
	START_RANGE_L=$(paste "$TMP/start-sfy-launcher" "$TMP/start-pc-launcher" |
		awk '{print $1 / $2}' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}')
	START_RANGE_P=$(paste "$TMP/start-shim-preload" "$TMP/start-pc-preload" |
		awk '{print $1 / $2}' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}')
}

# --- 4. UDP round trips -------------------------------------------------------

# udp_pre VARIANT -> PRE: the env(1) command that runs a program under it
udp_pre() {
	case $1 in
	plain) PRE=(env -u LD_PRELOAD) ;;
	socksify) PRE=(env -u SOCKSIFY_PROXY LD_PRELOAD="$LIB"
		SOCKSIFY_CONF="$TMP/socksify-udp.conf") ;;
	dante) PRE=(env LD_PRELOAD="$DANTE_LIB" SOCKS_CONF="$TMP/dante.conf"
		SOCKS_AUTOADD_LANROUTES=no) ;;
	esac
}

udp_run() { # TOOL [rotate] -> round trips/s
	udp_pre "$1"
	ip netns exec "$NS" timeout 60 "${PRE[@]}" \
		"$BIN/udpbench" "$TARGET" "$UDP_PORT" "$UDP_N" 64 ${2:+"$2"} \
		2>>"$TMP/udp-$1.err" | awk '{print $1}'
	return "${PIPESTATUS[0]}"
}

# 5: socksify with reused buffers against a new buffer every call.
SAFE_RATIO=nan SAFE_RANGE='?' SAFE_REUSE=nan SAFE_ROTATE=nan
bench_safemem() {
	local rep a b
	: >"$TMP/safe-ratio"; : >"$TMP/safe-reuse"; : >"$TMP/safe-rotate"
	for rep in $(seq 1 "$UDP_REPS"); do
		if [ $((rep % 2)) = 1 ]; then
			a=$(udp_run socksify) && b=$(udp_run socksify rotate) || break
		else
			b=$(udp_run socksify rotate) && a=$(udp_run socksify) || break
		fi
		echo "$a" >>"$TMP/safe-reuse"
		echo "$b" >>"$TMP/safe-rotate"
		ratio "$b" "$a" >>"$TMP/safe-ratio"
		echo >>"$TMP/safe-ratio"
	done
	if [ ! -s "$TMP/safe-rotate" ]; then
		measure_failed "UDP round trips with rotating buffers: $(tail -n 3 "$TMP/udp-socksify.err" | tr '\n' ' ')"
		return 1
	fi
	SAFE_REUSE=$(median <"$TMP/safe-reuse")
	SAFE_ROTATE=$(median <"$TMP/safe-rotate")
	SAFE_RATIO=$(grep . "$TMP/safe-ratio" | median)
	SAFE_RANGE=$(grep . "$TMP/safe-ratio" | sort -g |
		awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}')
}

UDP_TOOLS=(socksify dante)
declare -A UDP UDP_OK
UDP_RATIO=nan UDP_RANGE='?'
bench_udp() {
	local rep t v order
	for t in "${UDP_TOOLS[@]}"; do : >"$TMP/udp-$t"; UDP_OK[$t]=1; done
	: >"$TMP/udp-ratio"
	for rep in $(seq 1 "$UDP_REPS"); do
		if [ $((rep % 2)) = 1 ]; then order=(socksify dante); else order=(dante socksify); fi
		local -A this=()
		for t in "${order[@]}"; do
			[ "${UDP_OK[$t]}" = 1 ] || continue
			if v=$(udp_run "$t") && [ -n "$v" ]; then
				echo "$v" >>"$TMP/udp-$t"
				this[$t]=$v
			else
				UDP_OK[$t]=0
				measure_failed "UDP round trips under $t: $(tail -n 3 "$TMP/udp-$t.err" | tr '\n' ' ')"
			fi
		done
		if [ -n "${this[socksify]:-}" ] && [ -n "${this[dante]:-}" ]; then
			ratio "${this[socksify]}" "${this[dante]}" >>"$TMP/udp-ratio"
			echo >>"$TMP/udp-ratio"
		fi
	done
	for t in "${UDP_TOOLS[@]}"; do UDP[$t]=$(median <"$TMP/udp-$t"); done
	UDP_RATIO=$(grep . "$TMP/udp-ratio" | median)
	UDP_RANGE=$(grep . "$TMP/udp-ratio" | sort -g |
		awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}')
}

# A callgrind profile (--compress-strings=no) flattened to lines
#   self<TAB>FUNCTION [OBJECT]<TAB>instructions spent in it
#   calls<TAB>FUNCTION [OBJECT]<TAB>times it was called
#   total<TAB>-<TAB>instructions
CG_FLATTEN='
function base(p) { sub(/.*\//, "", p); return p }
function key(f, o) { sub(/\047[0-9]+$/, "", f); return f " [" base(o) "]" }
/^ob=/ { ob = substr($0, 4); next }
/^fn=/ { fn = key(substr($0, 4), ob); next }
/^cob=/ { cob = substr($0, 5); next }
/^cfn=/ { cfn = substr($0, 5); next }
/^calls=/ { split(substr($0, 7), c, " "); calls[key(cfn, cob != "" ? cob : ob)] += c[1]
	cob = ""; skip = 1; next }
/^[0-9+*-]/ { if (skip) { skip = 0; next }; self[fn] += $2; next }
/^(summary|totals):/ { total = $2 }
END {
	for (k in self) printf "self\t%s\t%d\n", k, self[k]
	for (k in calls) printf "calls\t%s\t%d\n", k, calls[k]
	printf "total\t-\t%d\n", total
}'

# udp_cg VARIANT SIZE: VARIANT is plain (no preload, to the loopback
# echo), shimdirect (the shim, to the loopback echo: a direct destination),
# socksify or dante (to the target via danted).  Runs udpbench under
# callgrind for N and 2N round trips of SIZE bytes and writes
# $TMP/cg-VARIANT-SIZE: the flattened counts per round trip,
# (X(2N) - X(N)) / N, so start-up and the association cancel out.
udp_cg() {
	local v=$1 size=$2 dst=$TARGET n k
	case $v in plain | shimdirect) dst=127.0.0.1 ;; esac
	case $v in shimdirect) udp_pre socksify ;; *) udp_pre "$v" ;; esac
	for k in 1 2; do
		n=$((k * UDP_CG_N))
		ip netns exec "$NS" timeout 120 "${PRE[@]}" valgrind --tool=callgrind \
			--compress-strings=no --compress-pos=no \
			--callgrind-out-file="$TMP/cg.out" \
			"$BIN/udpbench" "$dst" "$UDP_PORT" "$n" "$size" \
			>/dev/null 2>"$TMP/cg-$v-$size.log" || return 1
		awk "$CG_FLATTEN" "$TMP/cg.out" >"$TMP/cg-$v-$size-$k" || return 1
	done
	rm -f "$TMP/cg.out"
	awk -F'\t' -v n="$UDP_CG_N" 'FNR == NR { a[$1 FS $2] = $3; next }
		{ d = ($3 - a[$1 FS $2]) / n; if (d != 0) printf "%s\t%s\t%.3f\n", $1, $2, d }' \
		"$TMP/cg-$v-$size-1" "$TMP/cg-$v-$size-2" >"$TMP/cg-$v-$size"
}

# udp_cg_sum VARIANT SIZE -> "instr allocs frees memcpy-instr" per round trip
udp_cg_sum() {
	awk -F'\t' '
		$1 == "total" { ir = $3 }
		$1 == "calls" && $2 ~ /^(malloc|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign) \[/ { al += $3 }
		$1 == "calls" && $2 ~ /^free \[/ { fr += $3 }
		$1 == "self" && $2 ~ /^[_a-z]*mem(cpy|move|pcpy)/ { mc += $3 }
		END { printf "%.1f %.3f %.3f %.1f\n", ir, al, fr, mc }' "$TMP/cg-$1-$2"
}

UDP_CG_VARIANTS=("plain 64" "shimdirect 64" "socksify 64" "dante 64" "plain 8192" "socksify 8192")
declare -A UDP_CG_LABEL=(
	[plain]="plain, direct to 127.0.0.1"
	[shimdirect]="shim, direct to 127.0.0.1"
	[socksify]="socksify via danted"
	[dante]="Dante via danted"
)
declare -A UDP_CG
UDP_CG_DONE=0
bench_udp_cg() {
	local vs
	if [ -n "${BENCH_NO_CALLGRIND:-}" ] || ! command -v valgrind >/dev/null 2>&1; then
		return 0
	fi
	for vs in "${UDP_CG_VARIANTS[@]}"; do
		# shellcheck disable=SC2086
		if udp_cg $vs; then
			UDP_CG[$vs]=$(udp_cg_sum $vs)
		else
			measure_failed "callgrind UDP $vs: $(grep -v '^==' "$TMP/cg-${vs% *}-${vs#* }.log" | tail -n 3 | tr '\n' ' ')"
			return 1
		fi
	done
	UDP_CG_DONE=1
}

# The functions and libc calls that socksify adds per round trip: the
# per-trip profile via danted minus the plain direct one, largest first.
udp_cg_where() { # KIND (self|calls) MIN COUNT
	awk -F'\t' -v kind="$1" -v min="$2" 'FNR == NR { if ($1 == kind) a[$2] = $3; next }
		$1 == kind { d = $3 - a[$2]; if (d >= min) printf "%.1f\t%s\n", d, $2 }' \
		"$TMP/cg-plain-64" "$TMP/cg-socksify-64" | sort -t "$(printf '\t')" -k1,1gr |
		head -n "$3" | awk -F'\t' '{ n = $2; sub(/ \[.*/, "", n); o = $2; sub(/.*\[/, "", o); sub(/\]/, "", o)
			printf "%s%s %s (%s)", (NR > 1 ? ", " : ""), n, $1, (o == "libsocksify.so" ? "shim" : o) }'
	echo
}

# udp_cg_sys VARIANT SIZE -> the libc system-call wrappers called per round
# trip, "name count, ..." (the kernel work callgrind does not count).
udp_cg_sys() {
	awk -F'\t' '$1 == "calls" && $2 ~ / \[libc\.so/ {
			n = $2; sub(/ \[.*/, "", n); sub(/@.*/, "", n)
			if (n ~ /^(send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|recvmmsg|read|write|readv|writev|poll|ppoll|select|pselect|epoll_wait|fcntl|fcntl64|__libc_fcntl64|ioctl|getsockopt|setsockopt|getsockname|getpeername|clock_gettime|gettimeofday|time|getpid|sigprocmask|pthread_sigmask|sigaction|process_vm_readv|process_vm_writev|pwrite|pwrite64|pread|pread64)$/ && $3 >= 0.05)
				printf "%s %.2f\n", n, $3 }' "$TMP/cg-$1-$2" |
		sort -k2,2gr -k1,1 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }'
	echo
}

# --- 6. concurrency (issue 8) ------------------------------------------------

# N connects at once from one event loop, through the delaying relay
# (RELAY_PORT, in front of danted): what an event loop's connects cost
# when connect() on a non-blocking socket holds the loop for a handshake.
# Tools whose connect() does the whole SOCKS5 handshake before it returns,
# non-blocking socket or not: N connects are N handshakes in a row, each 2
# round trips through the relay (~20 s for N=100 at 50 ms).  Their N=10
# and N=100 runs are made side by side, the two at once, and N=100 in one
# round only: such a run waits on the relay's delay, not on the CPU (two
# N=100 runs side by side took 0.6% longer than alone, here).
CONC_SYNC=" proxychains4 torsocks "
CONC_TIMEOUT=120 # s, per run (the probes' own limit; timeout(1) kills later)
declare -A CONC_LABEL=(
	[epoll]="epoll probe (storm: one epoll set; EPOLLOUT, SO_ERROR, ping, answer)"
	[poll]="poll probe (storm: one poll array; the same steps)"
	[curl]="curl --parallel --parallel-immediate --parallel-max N, N URLs (HTTP target; the curl process timed, start-up included)"
	[asyncio]="Python asyncio (aiostorm.py: N x open_connection, ping, answer, in one loop)"
)
declare -A CONC_NATIVE=(
	[epoll]="storm --socks: its own non-blocking SOCKS5 in the loop"
	[poll]="storm --socks: its own non-blocking SOCKS5 in the loop"
	[curl]="curl --socks5: curl's own SOCKS5"
	[asyncio]="aiostorm.py --socks: SOCKS5 on the loop's streams"
)

# conc_env TOOL -> ENVS: the VAR=VALUE settings that run a program under TOOL
conc_env() {
	case $1 in
	socksify) ENVS=(LD_PRELOAD="$LIB" "SOCKSIFY_PROXY=socks5://127.0.0.1:$RELAY_PORT") ;;
	proxychains4) ENVS=(LD_PRELOAD="$PC_LIB" PROXYCHAINS_CONF_FILE="$TMP/proxychains-relay.conf"
		PROXYCHAINS_QUIET_MODE=1) ;;
	torsocks) ENVS=(LD_PRELOAD="$TS_LIB" TORSOCKS_CONF_FILE="$TMP/torsocks-relay.conf") ;;
	native) ENVS=() ;;
	esac
}

# conc_run STYLE TOOL N -> ms from the first connect to the last answer
conc_run() {
	local style=$1 tool=$2 n=$3 sx=() cx=(--proxy '') urls=() out ok bad i
	local lim=(timeout -k 5 $((CONC_TIMEOUT + 30)))
	local err=$TMP/conc-$style-$tool.err
	conc_env "$tool"
	if [ "$tool" = native ]; then
		sx=(--socks "127.0.0.1:$RELAY_PORT")
		cx=(--socks5 "127.0.0.1:$RELAY_PORT")
	fi
	case $style in
	epoll | poll)
		ip netns exec "$NS" "${lim[@]}" env "${ENVS[@]}" "$BIN/storm" --style "$style" \
			--timeout "$CONC_TIMEOUT" "${sx[@]}" "$TARGET" "$TARGET_PORT" "$n" 2>>"$err" ;;
	asyncio)
		ip netns exec "$NS" "${lim[@]}" env "${ENVS[@]}" "$PY" "$HERE/aiostorm.py" \
			--timeout "$CONC_TIMEOUT" "${sx[@]}" "$TARGET" "$TARGET_PORT" "$n" 2>>"$err" ;;
	curl)
		for i in $(seq 1 "$n"); do urls+=("http://$TARGET:$HTTP_PORT/$i"); done
		# spawn times the one curl process (and prints that last); curl
		# writes every body, each of which must be "proxied".
		out=$(ip netns exec "$NS" "${lim[@]}" "$BIN/spawn" 1 "${ENVS[@]}" -- "$CURL" \
			-sS --no-progress-meter --fail --max-time "$CONC_TIMEOUT" --parallel \
			--parallel-immediate --parallel-max "$n" "${cx[@]}" "${urls[@]}" 2>>"$err") ||
			return 1
		ok=$(head -n -1 <<<"$out" | grep -cx proxied)
		bad=$(head -n -1 <<<"$out" | grep -vcx proxied)
		if [ "$ok" != "$n" ] || [ "$bad" != 0 ]; then
			echo "curl: $ok of $n bodies 'proxied', $bad other lines: $(head -n -1 <<<"$out" |
				grep -vx proxied | head -n 3 | tr '\n' ' ')" >>"$err"
			return 1
		fi
		tail -n 1 <<<"$out" ;;
	esac
}

# conc_settle: waits (up to 5 s) until no TCP connection in the namespace
# is open but for TIME_WAIT: a run starts only once the last one's are
# torn down at the relay (which passes each end on a delay later), danted
# and the targets.  (A native N=100 run straight after the side-by-side
# pair's 200 connections took 557 ms, against 396-429 ms settled.)
conc_settle() {
	local i
	for i in $(seq 1 100); do
		[ -z "$(ip netns exec "$NS" ss -Htn state connected exclude time-wait 2>/dev/null)" ] &&
			return 0
		sleep 0.05
	done
	err "concurrency: connections still open after 5 s: $(ip netns exec "$NS" ss -Htn state connected exclude time-wait | wc -l)"
	return 0
}

declare -A CT CONC_OK # CT[STYLE,TOOL,N,REP]: ms
CONC_CAPPED=         # "style:tool ..." whose N=100 was not repeated: slow
# conc_one STYLE TOOL N REP: one run, recorded (or the tool's failure)
conc_one() {
	local v
	conc_settle
	if v=$(conc_run "$1" "$2" "$3") && [ -n "$v" ]; then
		CT[$1,$2,$3,$4]=$v
		echo "$1 $2 N=$3 round $4: $v ms" >>"$TMP/conc-runs"
	else
		CONC_OK[$1,$2]=0
		measure_failed "concurrency $1 N=$3 under $2: $(tail -n 3 "$TMP/conc-$1-$2.err" | tr '\n' ' ')"
	fi
}
# conc_sync_pair STYLE N REP: the CONC_SYNC tools' runs, side by side
conc_sync_pair() {
	local t v jobs=()
	conc_settle
	for t in $CONC_SYNC; do
		[ "${CONC_OK[$1,$t]:-0}" = 1 ] || continue
		conc_run "$1" "$t" "$2" >"$TMP/conc-pair-$t" &
		jobs+=("$t=$!")
	done
	for t in "${jobs[@]}"; do
		if wait "${t#*=}" && v=$(cat "$TMP/conc-pair-${t%=*}") && [ -n "$v" ]; then
			CT[$1,${t%=*},$2,$3]=$v
			echo "$1 ${t%=*} N=$2 round $3: $v ms (side by side)" >>"$TMP/conc-runs"
		else
			CONC_OK[$1,${t%=*}]=0
			measure_failed "concurrency $1 N=$2 under ${t%=*}: $(tail -n 3 "$TMP/conc-$1-${t%=*}.err" | tr '\n' ' ')"
		fi
	done
	return 0
}

bench_conc() {
	local style rep n t i ns order pair t0 k=${#CONC_TOOLS[@]}
	for style in "${CONC_STYLES[@]}"; do
		t0=$(date +%s)
		for t in "${CONC_TOOLS[@]}"; do CONC_OK[$style,$t]=1; done
		for rep in $(seq 1 "$CONC_REPS"); do
			# N up, then down (ABBA); the tools rotated each rep and N,
			# the side-by-side pair first, then last.
			if [ $((rep % 2)) = 1 ]; then ns=(1 10 100); else ns=(100 10 1); fi
			for n in "${ns[@]}"; do
				order=()
				for ((i = 0; i < k; i++)); do order+=("${CONC_TOOLS[$(((i + rep + n) % k))]}"); done
				pair=0
				[ "$n" = 10 ] || { [ "$n" = 100 ] && [ "$rep" = 1 ]; } && pair=1
				[ "$pair" = 1 ] && [ $((rep % 2)) = 1 ] && conc_sync_pair "$style" "$n" "$rep"
				for t in "${order[@]}"; do
					[ "${CONC_OK[$style,$t]}" = 1 ] || continue
					[ "$n" != 1 ] && [[ $CONC_SYNC == *" $t "* ]] && continue
					if [ "$n" = 100 ] && [ "$rep" -gt 1 ] &&
						awk -v v="${CT[$style,$t,100,1]:-0}" -v s="$CONC_SLOW_MS" \
							'BEGIN { exit !(v > s) }'; then
						[ "$rep" = 2 ] && CONC_CAPPED+=" $style:$t"
						continue
					fi
					conc_one "$style" "$t" "$n" "$rep"
				done
				[ "$pair" = 1 ] && [ $((rep % 2)) = 0 ] && conc_sync_pair "$style" "$n" "$rep"
			done
		done
		say "    $style: $(($(date +%s) - t0)) s"
	done
}

# conc_vals STYLE TOOL N -> the runs' ms, one a line; conc_ratios STYLE
# TOOL -> time(100)/time(1) of each rep that has both, or, when N=100 was
# run once, that run over the median time(1) (not over one round's, which
# may be the outlier)
conc_vals() {
	local rep
	for rep in $(seq 1 "$CONC_REPS"); do
		[ -n "${CT[$1,$2,$3,$rep]:-}" ] && echo "${CT[$1,$2,$3,$rep]}"
	done
	return 0
}
conc_ratios() {
	local rep
	if [ "$(conc_vals "$1" "$2" 100 | wc -l)" = 1 ]; then
		[ -n "$(conc_vals "$1" "$2" 1)" ] &&
			ratio "$(conc_vals "$1" "$2" 100)" "$(conc_vals "$1" "$2" 1 | median)" && echo
		return 0
	fi
	for rep in $(seq 1 "$CONC_REPS"); do
		[ -n "${CT[$1,$2,100,$rep]:-}" ] && [ -n "${CT[$1,$2,1,$rep]:-}" ] &&
			ratio "${CT[$1,$2,100,$rep]}" "${CT[$1,$2,1,$rep]}" && echo
	done
	return 0
}
# conc_cell FORMAT: numbers on stdin -> "MEDIAN (MIN-MAX)", or
# "VALUE (1 run)", or "-" for none
conc_cell() {
	sort -g | awk -v f="$1" '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		if (NR == 1) printf f " (1 run)\n", m
		else printf f " (" f "-" f ")\n", m, v[1], v[NR] }'
}

# --- 7. the cost of one blocking connect; pipelining (issue 8) ---------------

# sc_pre TOOL -> PRE: how connmark runs under TOOL (straight to danted)
sc_pre() {
	case $1 in
	socksify) PRE=(env LD_PRELOAD="$LIB" "SOCKSIFY_PROXY=socks5://127.0.0.1:$PROXY_PORT" "$BIN/connmark") ;;
	proxychains4) PRE=(env LD_PRELOAD="$PC_LIB" PROXYCHAINS_CONF_FILE="$TMP/proxychains.conf"
		PROXYCHAINS_QUIET_MODE=1 "$BIN/connmark") ;;
	torsocks) PRE=(env LD_PRELOAD="$TS_LIB" TORSOCKS_CONF_FILE="$TMP/torsocks.conf" "$BIN/connmark") ;;
	native) PRE=("$BIN/connmark" --socks "127.0.0.1:$PROXY_PORT") ;;
	esac
}
# sc_count TOOL -> "MEDIAN MIN MAX": system calls between connmark's markers
# (the connect, whoever makes its calls), over SC_N connects but the first
# two (one-time set-up: the configuration, the proxy's address)
SC_N=${BENCH_SYSCALL_N:-12}
SC_TOOLS=(socksify proxychains4 torsocks native)
declare -A SC
sc_count() {
	local f=$TMP/strace-$1
	sc_pre "$1"
	ip netns exec "$NS" timeout 60 strace -f -qq -o "$f" "${PRE[@]}" "$TARGET" "$TARGET_PORT" "$SC_N" \
		2>>"$TMP/sc-$1.err" || return 1
	awk '/write\(-1, "<"/ { on = 1; n = 0; next }
		/write\(-1, ">"/ { if (on) print n; on = 0; next }
		on && /^[0-9]+ +[a-z_0-9]+\(/ { n++ }' "$f" | tail -n +3 |
		sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)], v[1], v[NR] }'
}
bench_syscalls() {
	local t v
	if ! command -v strace >/dev/null 2>&1; then
		err "strace not installed: section 7's system-call counts skipped"
		return 0
	fi
	for t in "${SC_TOOLS[@]}"; do
		v=$(sc_count "$t") && [ -n "$v" ] && { SC[$t]=$v; continue; }
		measure_failed "system calls per connect under $t: $(tail -n 2 "$TMP/sc-$t.err" | tr '\n' ' ')"
	done
}

# Pipelining: one connect through the delaying relay (storm epoll, N=1
# and N=10), socksify with `pipeline no` and `pipeline yes`, alternated.
PIPE_REPS=${BENCH_PIPE_REPS:-7}
declare -A PIPE
bench_pipeline() {
	local rep v n pl
	for pl in no yes; do
		printf 'proxy socks5://127.0.0.1:%s\npipeline %s\n' "$RELAY_PORT" "$pl" >"$TMP/pipe-$pl.conf"
	done
	for rep in $(seq 1 "$PIPE_REPS"); do
		for n in 1 10; do
			for pl in $([ $((rep % 2)) = 1 ] && echo "no yes" || echo "yes no"); do
				conc_settle
				v=$(ip netns exec "$NS" timeout 60 env -u SOCKSIFY_PROXY LD_PRELOAD="$LIB" \
					SOCKSIFY_CONF="$TMP/pipe-$pl.conf" "$BIN/storm" --style epoll \
					--timeout 30 "$TARGET" "$TARGET_PORT" "$n" 2>>"$TMP/pipe.err") ||
					{ measure_failed "pipeline $pl N=$n: $(tail -n 2 "$TMP/pipe.err" | tr '\n' ' ')"; return 1; }
				echo "$v" >>"$TMP/pipe-$pl-$n"
			done
		done
	done
	for pl in no yes; do for n in 1 10; do PIPE[$pl,$n]=$(conc_cell %.0f <"$TMP/pipe-$pl-$n"); done; done
}

# --- 8. the supervisor (issue 11) -------------------------------------------

SUP_URL=socks5://127.0.0.1:$PROXY_PORT
# sup_pass MODE bare|sup N -> ns/op (passthru-static, in the namespace)
sup_pass() {
	if [ "$2" = sup ]; then
		ip netns exec "$NS" "$LAUNCHER" -q -x "$SUP_URL" -- "$BIN/passthru-static" "$1" "$3"
	else
		ip netns exec "$NS" "$BIN/passthru-static" "$1" "$3"
	fi
}
# range_of: numbers on stdin -> "MIN-MAX"
range_of() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.3f-%.3f", lo, hi}'; }

declare -A SUP
SUP_ON=0 # the precondition: the static build is really supervised
bench_sup() {
	local mode rep a b n v t
	# Precondition: the static program's loopback connect is seen by the
	# supervisor (its debug line), else this section would time nothing.
	if ip netns exec "$NS" "$LAUNCHER" -vv -x "$SUP_URL" -- "$BIN/passthru-static" connect 1 \
		2>&1 >/dev/null | grep -q 'debug: direct: 127\.0\.0\.1:'; then
		SUP_ON=1
	else
		measure_failed "supervisor: the static passthru's connect was not seen by the supervisor"
		return 1
	fi
	# a, b: bare vs supervised, ABBA.
	for mode in dupclose sockname connect; do
		n=$SUP_OPS
		[ "$mode" = connect ] && n=$SUP_CONNECTS
		: >"$TMP/sup-$mode-bare"; : >"$TMP/sup-$mode-sup"; : >"$TMP/sup-$mode-ratio"
		for rep in $(seq 1 "$SUP_REPS"); do
			if [ $((rep % 2)) = 1 ]; then
				a=$(sup_pass "$mode" bare "$n") && b=$(sup_pass "$mode" sup "$n")
			else
				b=$(sup_pass "$mode" sup "$n") && a=$(sup_pass "$mode" bare "$n")
			fi || { measure_failed "supervisor passthru $mode"; return 1; }
			echo "$a" >>"$TMP/sup-$mode-bare"
			echo "$b" >>"$TMP/sup-$mode-sup"
			ratio "$b" "$a" >>"$TMP/sup-$mode-ratio"; echo >>"$TMP/sup-$mode-ratio"
		done
		SUP[$mode,bare]=$(median <"$TMP/sup-$mode-bare")
		SUP[$mode,sup]=$(median <"$TMP/sup-$mode-sup")
		SUP[$mode,ratio]=$(grep . "$TMP/sup-$mode-ratio" | median)
		SUP[$mode,range]=$(grep . "$TMP/sup-$mode-ratio" | range_of)
		paste "$TMP/sup-$mode-sup" "$TMP/sup-$mode-bare" | awk '{printf "%.3f\n", ($1 - $2) / 1000}' \
			>"$TMP/sup-$mode-added"
		SUP[$mode,added]=$(median <"$TMP/sup-$mode-added")
		SUP[$mode,addrange]=$(range_of <"$TMP/sup-$mode-added")
	done
	# c: proxied connects, static under the supervisor vs dynamic under
	# the shim, both via danted, ABBA.
	: >"$TMP/sup-pc-sup"; : >"$TMP/sup-pc-shim"; : >"$TMP/sup-pc-ratio"
	for rep in $(seq 1 "$SUP_REPS"); do
		for t in $([ $((rep % 2)) = 1 ] && echo "shim sup" || echo "sup shim"); do
			v=$(ip netns exec "$NS" "$LAUNCHER" -q -x "$SUP_URL" -- \
				"$BIN/$([ "$t" = sup ] && echo connbench-static || echo connbench)" \
				"$TARGET" "$TARGET_PORT" "$SUP_PCONNECTS" 2>>"$TMP/sup-pc.err" | awk '{print $1}')
			[ -n "$v" ] || { measure_failed "supervisor: proxied connects ($t): $(tail -n 2 "$TMP/sup-pc.err" | tr '\n' ' ')"; return 1; }
			echo "$v" >>"$TMP/sup-pc-$t"
		done
		ratio "$(tail -n 1 "$TMP/sup-pc-sup")" "$(tail -n 1 "$TMP/sup-pc-shim")" >>"$TMP/sup-pc-ratio"
		echo >>"$TMP/sup-pc-ratio"
	done
	SUP[pc,sup]=$(median <"$TMP/sup-pc-sup")
	SUP[pc,shim]=$(median <"$TMP/sup-pc-shim")
	SUP[pc,ratio]=$(grep . "$TMP/sup-pc-ratio" | median)
	SUP[pc,range]=$(grep . "$TMP/sup-pc-ratio" | range_of)
	# d: Go dials at once via the delaying relay, N order alternated, the
	# supervised and the native (gostorm --socks) runs alternated.
	local rnd ns k pre
	for k in sup native; do
		for n in 1 10 100; do : >"$TMP/sup-go-$k-$n"; done
		: >"$TMP/sup-go-$k-ratio"
	done
	for rnd in $(seq 1 "$CONC_REPS"); do
		if [ $((rnd % 2)) = 1 ]; then ns=(1 10 100); else ns=(100 10 1); fi
		for n in "${ns[@]}"; do
			for k in $([ $((rnd % 2)) = 1 ] && echo "sup native" || echo "native sup"); do
				conc_settle
				if [ "$k" = sup ]; then
					pre=("$LAUNCHER" -q -x "socks5://127.0.0.1:$RELAY_PORT" -- "$GOSTORM")
				else
					pre=("$GOSTORM" --socks "127.0.0.1:$RELAY_PORT")
				fi
				v=$(ip netns exec "$NS" timeout -k 5 150 "${pre[@]}" "$n" "$TARGET:$TARGET_PORT" \
					2>>"$TMP/sup-go.err")
				[ -n "$v" ] || { measure_failed "supervisor: $n Go dials ($k): $(tail -n 3 "$TMP/sup-go.err" | tr '\n' ' ')"; return 1; }
				echo "$v" >>"$TMP/sup-go-$k-$n"
				echo "gostorm $k N=$n round $rnd: $v ms" >>"$TMP/conc-runs"
			done
		done
		for k in sup native; do
			ratio "$(tail -n 1 "$TMP/sup-go-$k-100")" "$(tail -n 1 "$TMP/sup-go-$k-1")" >>"$TMP/sup-go-$k-ratio"
			echo >>"$TMP/sup-go-$k-ratio"
		done
	done
	for k in sup native; do
		for n in 1 10 100; do SUP[go$k,$n]=$(conc_cell %.0f <"$TMP/sup-go-$k-$n"); done
		SUP[go$k,cell]=$(grep . "$TMP/sup-go-$k-ratio" | conc_cell %.2f)
	done
	SUP[go,ratio]=$(grep . "$TMP/sup-go-sup-ratio" | median)
}

# --- run --------------------------------------------------------------------

T0=$(date +%s)
say "socksify bench ($(uname -m), $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ))"
say "lib: $LIB"
say ""

setup_net || { err "cannot set up the namespace/danted/target"; tail -n 5 "$TMP"/danted.out >&2; exit 1; }

[ -n "$ONLY" ] && say "sections: $ONLY only (BENCH_ONLY)"
if want 1; then
	say "[1/3] pass-through: $REPS reps x $OPS ops, plain vs shim alternated${PIN:+, ${PIN[*]}}"
	bench_pass
fi
if want 2; then
	say "[2/3] connects: $CONN_REPS reps x $CONNECTS sequential connects per tool via danted (netns, $TARGET:$TARGET_PORT)"
	bench_conn
fi
if want 3; then
	say "[3/3] start-up: $START_REPS reps x $((STARTS / START_REPS)) starts per variant, rotated"
	bench_start
fi
T4=$(date +%s)
if want 4; then
	say "[4] UDP echo: $UDP_REPS reps x $UDP_N round trips per tool via danted's relay ($TARGET:$UDP_PORT), alternated; callgrind"
	bench_udp
	bench_udp_cg
fi
T4=$(($(date +%s) - T4))
if want 5; then
	say "[5] bad-pointer checks: $UDP_REPS reps x $UDP_N round trips under socksify, buffers reused vs new every call, alternated"
	bench_safemem
fi
T6=$(date +%s)
if want 6; then
	say "[6] concurrency: N = 1 10 100 connects at once; styles ${CONC_STYLES[*]}; tools ${CONC_TOOLS[*]}; $CONC_REPS rounds, via a ${CONC_DELAY} ms delaying relay in front of danted"
	bench_conc
fi
T6=$(($(date +%s) - T6))
if want 7; then
	say "[7] one blocking connect's system calls (strace, $SC_N connects per tool); pipelining through the ${CONC_DELAY} ms relay, $PIPE_REPS rounds"
	bench_syscalls
	bench_pipeline
fi
T8=$(date +%s)
if want 8; then
	say "[8] the supervisor: $SUP_REPS reps, static builds bare vs supervised alternated; proxied connects static-supervised vs dynamic-shim; $CONC_REPS rounds of N = 1 10 100 Go dials via the ${CONC_DELAY} ms relay"
	bench_sup
fi
T8=$(($(date +%s) - T8))

# The target's own count: every connection should have come from danted.
kill -TERM "$ECHOD_PID" 2>/dev/null
wait "$ECHOD_PID" 2>/dev/null
ECHOD_PID=
ECHOD_COUNT=$(grep -o '[0-9]* proxied, [0-9]* direct' "$TMP/echod.out")
DIRECT=$(awk '{print $3}' <<<"$ECHOD_COUNT")
[ "${DIRECT:-1}" = 0 ] || measure_failed "target saw direct connections: $ECHOD_COUNT"
# Likewise every datagram at the UDP target.
kill -TERM "$UECHOD_PID" 2>/dev/null
wait "$UECHOD_PID" 2>/dev/null
UECHOD_PID=
UECHOD_COUNT=$(grep -o '[0-9]* proxied, [0-9]* direct' "$TMP/udpechod.out")
DIRECT=$(awk '{print $3}' <<<"$UECHOD_COUNT")
[ "${DIRECT:-1}" = 0 ] || measure_failed "UDP target saw direct datagrams: $UECHOD_COUNT"
# And every request at the HTTP target (section 6).
HTTPD_COUNT=
if [ -n "$HTTPD_PID" ]; then
	kill -TERM "$HTTPD_PID" 2>/dev/null
	wait "$HTTPD_PID" 2>/dev/null
	HTTPD_PID=
	HTTPD_COUNT=$(grep -o '[0-9]* proxied, [0-9]* direct' "$TMP/httpd.out")
	DIRECT=$(awk '{print $3}' <<<"$HTTPD_COUNT")
	[ "${DIRECT:-1}" = 0 ] || measure_failed "HTTP target saw direct connections: $HTTPD_COUNT"
fi

if want 1; then
	say ""
	say "== 1. pass-through cost (median of $REPS; ratio = median of paired shim/plain) =="
	printf '%-20s %11s %11s %7s %13s %14s %13s\n' "op" "plain ns/op" "shim ns/op" "ratio" "ratio range" "plain instr/op" "shim instr/op"
	for mode in sendto dupclose sockname; do
		label=$mode; [ "$mode" = dupclose ] && label="dup()+close()"
		[ "$mode" = sendto ] && label="sendto() UDP"
		[ "$mode" = sockname ] && label="getsockname() TCP"
		printf '%-20s %11s %11s %7s %13s %14s %13s\n' "$label" "$(fmt %.1f "${PT_NS[$mode,plain]:-}")" \
			"$(fmt %.1f "${PT_NS[$mode,shim]:-}")" "$(fmt %.3f "${PT_RATIO[$mode]:-}")" "${PT_RANGE[$mode]:-?}" \
			"${PT_IR[$mode,plain]:-n/a}" "${PT_IR[$mode,shim]:-n/a}"
	done
	say "(instr/op: user-space instructions per op from callgrind, (I(2N)-I(N))/N; kernel time not included)"
fi

if want 2; then
	say ""
	say "== 2. sequential connects via danted (median of $CONN_REPS x $CONNECTS; order rotated per rep) =="
	printf '%-14s %14s %10s\n' "tool" "connects/s" "per conn"
	best_other=0 best_name=
	for t in "${TOOLS[@]}"; do
		c=${CONN[$t]}
		us=$(awk -v c="$c" 'BEGIN { if (c > 0) printf "%.0f us", 1e6 / c; else print "-" }')
		printf '%-14s %14s %10s\n' "$t" "$(fmt %.0f "$c")" "$us"
		if [ "$t" != socksify ] && awk -v c="$c" -v b="$best_other" 'BEGIN { exit !(c != "nan" && c + 0 > b + 0) }'; then
			best_other=$c best_name=$t
		fi
	done
	say "target saw: ${ECHOD_COUNT:-?} (every connect checked: reply 'proxied' = came from danted's $PROXY_EXT)"
fi

if want 3; then
	say ""
	say "== 3. process start-up (median of $START_REPS blocks of $((STARTS / START_REPS))) =="
	printf '%-34s %10s %9s\n' "variant" "ms/start" "vs plain"
	for v in "${START_VARIANTS[@]}"; do
		printf '%-34s %10s %9s\n' "${START_LABEL[$v]}" "$(fmt %.3f "${START[$v]}")" \
			"$(fmt %.3f "$(ratio "${START[$v]}" "${START[plain]}")")"
	done
fi

if want 4; then
	say ""
	say "== 4. UDP echo round trips via danted's relay (median of $UDP_REPS x $UDP_N, 64-byte payload; order alternated; ${T4} s) =="
	DANTE_VER=$(dpkg-query -W -f '${Version}' dante-client 2>/dev/null)
	printf '%-34s %14s %10s\n' "tool" "round trips/s" "per trip"
	for t in "${UDP_TOOLS[@]}"; do
		c=${UDP[$t]}
		us=$(awk -v c="$c" 'BEGIN { if (c > 0) printf "%.1f us", 1e6 / c; else print "-" }')
		label=$t
		[ "$t" = dante ] && label="Dante libdsocksd ${DANTE_VER:-?}"
		printf '%-34s %14s %10s\n' "$label" "$(fmt %.0f "$c")" "$us"
	done
	say "UDP target saw: ${UECHOD_COUNT:-?} datagrams (echoed only from danted's $PROXY_EXT; every reply's bytes and sender checked)"
	if [ "$UDP_CG_DONE" = 1 ]; then
		say ""
		say "user-space cost per send+receive pair (callgrind, (X(2N)-X(N))/N, N=$UDP_CG_N):"
		printf '%-34s %7s %11s %11s %10s %12s\n' "variant" "payload" "instr/pair" "allocs/pair" "frees/pair" "memcpy instr"
		for vs in "${UDP_CG_VARIANTS[@]}"; do
			read -r ir al fr mc <<<"${UDP_CG[$vs]}"
			printf '%-34s %7s %11s %11s %10s %12s\n' "${UDP_CG_LABEL[${vs% *}]}" "${vs#* }" "$ir" "$al" "$fr" "$mc"
		done
		read -r ir_p64 _ _ mc_p64 <<<"${UDP_CG[plain 64]}"
		read -r ir_d64 _ _ _ <<<"${UDP_CG[shimdirect 64]}"
		read -r ir_s64 al_s64 _ mc_s64 <<<"${UDP_CG[socksify 64]}"
		read -r ir_x64 _ _ _ <<<"${UDP_CG[dante 64]}"
		read -r ir_p8k _ _ mc_p8k <<<"${UDP_CG[plain 8192]}"
		read -r ir_s8k al_s8k _ mc_s8k <<<"${UDP_CG[socksify 8192]}"
		minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
		say "shim's own cost via danted: $(minus "$ir_s64" "$ir_p64") instr/pair over plain direct at 64 B, $(minus "$ir_s8k" "$ir_p8k") at 8192 B (Dante's: $(minus "$ir_x64" "$ir_p64")); direct destination under the shim: $(minus "$ir_d64" "$ir_p64")"
		say "where (self instr/pair added, top 10): $(udp_cg_where self 1 10)"
		for v in plain socksify dante; do
			say "syscall wrappers called/pair, ${UDP_CG_LABEL[$v]}: $(udp_cg_sys "$v" 64)"
		done
		say "(memcpy instr: self instructions in memcpy/memmove/mempcpy per pair; a copy of 8 KB more payload would add ~800)"
	fi
fi

if want 5; then
	say ""
	say "== 5. bad-pointer checks on proxied UDP calls (median of $UDP_REPS x $UDP_N; alternated) =="
	printf '%-46s %14s %10s\n' "socksify, the program's buffers" "round trips/s" "per trip"
	for v in reuse rotate; do
		c=$([ "$v" = reuse ] && echo "$SAFE_REUSE" || echo "$SAFE_ROTATE")
		us=$(awk -v c="$c" 'BEGIN { if (c > 0) printf "%.1f us", 1e6 / c; else print "-" }')
		printf '%-46s %14s %10s\n' "$([ "$v" = reuse ] && echo "reused (checked once)" || echo "new every call (the kernel asked each time)")" \
			"$(fmt %.0f "$c")" "$us"
	done
	say "check cost at worst: new-buffer/reused = $(fmt %.3f "$SAFE_RATIO") (paired per rep, range $SAFE_RANGE); reported, no goal"
fi

if want 6; then
	say ""
	say "== 6. concurrency (issue 8): N connects at once from one event loop, via a relay delaying every chunk ${CONC_DELAY} ms each way in front of danted (median (min-max) of $CONC_REPS rounds; N order alternated, tools rotated; ${T6} s) =="
	say "floor: a connection is 3 round trips through the relay (SOCKS5 greeting, SOCKS5 request, ping/answer or HTTP request/response) = $((6 * CONC_DELAY)) ms; time(N): ms from the first connect to the last answer"
	for style in "${CONC_STYLES[@]}"; do
		say ""
		say "${CONC_LABEL[$style]}"
		printf '%-14s %20s %20s %22s %20s\n' "tool" "time(1) ms" "time(10) ms" "time(100) ms" "time(100)/time(1)"
		for t in "${CONC_TOOLS[@]}"; do
			label=$t
			[ "${CONC_OK[$style,$t]:-0}" = 1 ] || label="$t FAILED"
			printf '%-14s %20s %20s %22s %20s\n' "$label" \
				"$(conc_vals "$style" "$t" 1 | conc_cell %.0f)" \
				"$(conc_vals "$style" "$t" 10 | conc_cell %.0f)" \
				"$(conc_vals "$style" "$t" 100 | conc_cell %.0f)" \
				"$(conc_ratios "$style" "$t" | conc_cell %.2f)"
		done
		say "native: ${CONC_NATIVE[$style]}"
	done
	say ""
	[[ " ${CONC_TOOLS[*]} " == *" proxychains4 "* || " ${CONC_TOOLS[*]} " == *" torsocks "* ]] &&
		say "(proxychains4, torsocks: their connect() makes the whole handshake, so N connects are N handshakes one after another, 2 round trips each; their N=10 and N=100 runs are made side by side, the two at once, N=100 in one round only: such runs wait on the relay, not on the CPU; a ratio from one N=100 run is over the median time(1))"
	[ -n "$CONC_CAPPED" ] && say "(N=100 not repeated after a first run over $CONC_SLOW_MS ms (BENCH_CONC_SLOW_MS):$CONC_CAPPED)"
	say "targets saw: echo ${ECHOD_COUNT:-?}, HTTP ${HTTPD_COUNT:-?} (every answer checked: 'proxied' = came from danted's $PROXY_EXT)"
fi

if want 7; then
	say ""
	say "== 7. one blocking proxied connect() (connmark: socket, connect, ping, close; straight to danted) and pipelining =="
	printf '%-14s %28s\n' "tool" "system calls in connect()"
	for t in "${SC_TOOLS[@]}"; do
		read -r m lo hi <<<"${SC[$t]:-? ? ?}"
		printf '%-14s %28s\n' "$t" "$m ($lo-$hi)"
	done
	say "(median (min-max) over connects 3..$SC_N; native: connmark --socks, its own blocking SOCKS5 client)"
	say ""
	say "pipeline (greeting and CONNECT in one write), socksify, storm epoll via the ${CONC_DELAY} ms relay (median (min-max) of $PIPE_REPS):"
	printf '%-16s %20s %20s\n' "pipeline" "time(1) ms" "time(10) ms"
	for pl in no yes; do
		printf '%-16s %20s %20s\n' "$pl" "${PIPE[$pl,1]:-?}" "${PIPE[$pl,10]:-?}"
	done
	say "(one round trip to the proxy is $((2 * CONC_DELAY)) ms here: pipelining saves one per connect)"
fi

if want 8 && [ "$SUP_ON" = 1 ]; then
	say ""
	say "== 8. the supervisor (issue 11): static programs (cc -static, CGO_ENABLED=0) bare and supervised (median of $SUP_REPS, alternated; ${T8} s) =="
	printf '%-42s %12s %12s %7s %13s %16s\n' "op (passthru-static)" "bare ns/op" "sup ns/op" "ratio" "ratio range" "added us/op"
	for mode in dupclose sockname connect; do
		case $mode in
		dupclose) label="dup()+close(), untrapped" ;;
		sockname) label="getsockname() TCP, untrapped" ;;
		connect) label="loopback connect+accept+close, trapped" ;;
		esac
		printf '%-42s %12s %12s %7s %13s %16s\n' "$label" "$(fmt %.1f "${SUP[$mode,bare]}")" \
			"$(fmt %.1f "${SUP[$mode,sup]}")" "$(fmt %.3f "${SUP[$mode,ratio]}")" "${SUP[$mode,range]}" \
			"$(fmt %.3f "${SUP[$mode,added]}") ($(printf %s "${SUP[$mode,addrange]}"))"
	done
	say "(connect: one trapped connect per op, which the supervisor answers by connecting its copy of the socket; dup+close: 2 calls, getsockname: 1, none trapped)"
	say ""
	printf '%-46s %14s %10s\n' "proxied connects via danted (connbench)" "connects/s" "per conn"
	for t in shim sup; do
		c=${SUP[pc,$t]}
		us=$(awk -v c="$c" 'BEGIN { if (c > 0) printf "%.0f us", 1e6 / c; else print "-" }')
		printf '%-46s %14s %10s\n' "$([ "$t" = sup ] && echo "static, under the supervisor" || echo "dynamic, under the shim (LD_PRELOAD)")" \
			"$(fmt %.0f "$c")" "$us"
	done
	say "supervisor/shim = $(fmt %.3f "${SUP[pc,ratio]}") (paired per rep, range ${SUP[pc,range]})"
	say ""
	say "gostorm: N Go dials at once via the ${CONC_DELAY} ms relay (median (min-max) of $CONC_REPS rounds, the two alternated):"
	printf '%-36s %20s %20s %22s %20s\n' "" "time(1) ms" "time(10) ms" "time(100) ms" "time(100)/time(1)"
	for k in sup native; do
		printf '%-36s %20s %20s %22s %20s\n' \
			"$([ "$k" = sup ] && echo "socksify (the supervisor)" || echo "native (gostorm --socks: Go's own)")" \
			"${SUP[go$k,1]}" "${SUP[go$k,10]}" "${SUP[go$k,100]}" "${SUP[go$k,cell]}"
	done
	say "(floor: 3 round trips through the relay = $((6 * CONC_DELAY)) ms; every answer checked 'proxied')"
fi

say ""
if want 1; then
	r1=$(fmt %.3f "${PT_RATIO[sendto]:-nan}") r2=$(fmt %.3f "${PT_RATIO[dupclose]:-nan}")
	say "goal 1 pass-through sendto: ratio $r1, goal <=1.03: $(goal_le "$r1" 1.03)"
	say "goal 1 pass-through dup+close: ratio $r2, goal <=1.03: $(goal_le "$r2" 1.03)"
	r3=$(fmt %.3f "${PT_RATIO[sockname]:-nan}")
	say "goal 1 pass-through getsockname: ratio $r3, goal <=1.03: $(goal_le "$r3" 1.03)"
fi
if want 2; then
	rc=$(fmt %.3f "$CONN_RATIO")
	say "goal 2 connects: socksify/fastest other (${best_name:-?} by median) = $rc (paired per rep, range $CONN_RANGE), goal >=1.0: $(goal_ge "$rc" 1.0)"
fi
if want 3; then
	rs=$(fmt %.3f "$(ratio "${START[sfy-launcher]}" "${START[pc-launcher]}")")
	rp=$(fmt %.3f "$(ratio "${START[shim-preload]}" "${START[pc-preload]}")")
	say "goal 3 start-up: socksify launcher/proxychains4 launcher = $rs (per block $START_RANGE_L), goal <=1.0: $(goal_le "$rs" 1.0)"
	say "goal 3 start-up: shim preload/proxychains4 preload = $rp (per block $START_RANGE_P), goal <=1.0: $(goal_le "$rp" 1.0)"
fi
if want 4; then
	ru=$(fmt %.3f "$UDP_RATIO")
	say "goal 4 UDP round trips: socksify/Dante = $ru (paired per rep, range $UDP_RANGE), goal >=1.0: $(goal_ge "$ru" 1.0)"
	if [ "$UDP_CG_DONE" = 1 ]; then
		al=$(awk -v a="$al_s64" -v b="$al_s8k" 'BEGIN { printf "%.3f", (a > b ? a : b) }')
		say "goal 4 UDP allocations: socksify allocs/pair via danted = $al_s64 (64 B), $al_s8k (8192 B), goal 0 (<0.01): $(goal_le "$al" 0.01)"
		# The shim's memcpy work beyond the program's own, at 8192 B minus at 64 B.
		gr=$(awk -v s64="$mc_s64" -v s8k="$mc_s8k" -v p64="$mc_p64" -v p8k="$mc_p8k" \
			'BEGIN { g = (s8k - p8k) - (s64 - p64); printf "%.1f", (g < 0 ? 0 : g) }')
		say "goal 4 UDP payload copy: socksify memcpy instr/pair 64 B -> 8192 B: $mc_s64 -> $mc_s8k (program's own at 8192 B: $mc_p8k), growth $gr, goal no copy (<64): $(goal_le "$gr" 64)"
	else
		say "goal 4 UDP allocations / payload copy: not measured (valgrind missing or BENCH_NO_CALLGRIND)"
	fi
fi
if want 6 && [[ " ${CONC_TOOLS[*]} " == *" socksify "* ]]; then
	for style in "${CONC_STYLES[@]}"; do
		r=$(conc_ratios "$style" socksify | median)
		say "goal 6 concurrency, $style: socksify time(100)/time(1) = $(conc_ratios "$style" socksify | conc_cell %.2f) (native: $(conc_ratios "$style" native | conc_cell %.2f)), goal <=1.3: $(goal_le "$(fmt %.3f "$r")" 1.3)"
	done
fi
if want 7; then
	read -r m _ _ <<<"${SC[socksify]:-? ? ?}"
	say "goal 7 system calls: socksify makes $m in one blocking proxied connect() (torsocks ${SC[torsocks]%% *}, proxychains4 ${SC[proxychains4]%% *}, native ${SC[native]%% *}), goal <=14: $(goal_le "$m" 14)"
fi
if want 8 && [ "$SUP_ON" = 1 ]; then
	r=$(fmt %.3f "${SUP[go,ratio]:-nan}")
	say "goal 8 supervisor: 100 Go dials at once, time(100)/time(1) = ${SUP[gosup,cell]:-?} (native: ${SUP[gonative,cell]:-?}), goal <=1.3: $(goal_le "$r" 1.3)"
	say "goal 8 supervisor: untrapped loop under the supervisor/bare = $(fmt %.3f "${SUP[dupclose,ratio]:-nan}") (dup+close), $(fmt %.3f "${SUP[sockname,ratio]:-nan}") (getsockname); a trapped connect adds $(fmt %.1f "${SUP[connect,added]:-nan}") us; reported, no goal"
fi
say "bench took $(($(date +%s) - T0)) s; measurements: $([ "$FAILED" = 0 ] && echo ok || echo FAILED)"
[ "$FAILED" = 0 ] || exit 1
exit 0
