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
# Knobs (environment): BENCH_REPS (default 9), BENCH_OPS (1000000),
# BENCH_CONNECTS (2000), BENCH_CONN_REPS (9), BENCH_STARTS (1000),
# BENCH_START_REPS (5), BENCH_NO_CALLGRIND=1.
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

PROXY_PORT=1080
PROXY_EXT=198.18.0.1
TARGET=198.18.0.2
TARGET_PORT=7

NS=sfybench$$
TMP=
ECHOD_PID=
DANTED_PID=
FAILED=0

say() { printf '%s\n' "$*"; }
err() { printf 'bench: %s\n' "$*" >&2; }
measure_failed() { err "MEASUREMENT FAILED: $*"; FAILED=1; }

cleanup() {
	local p
	for p in $ECHOD_PID $DANTED_PID; do
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
	for p in $ECHOD_PID $DANTED_PID; do
		wait "$p" 2>/dev/null
	done
	ECHOD_PID='' DANTED_PID=''
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

mkdir -p "$BIN"
for src in "$HERE"/*.c; do
	prog=$BIN/$(basename "$src" .c)
	if [ ! -x "$prog" ] || [ "$src" -nt "$prog" ]; then
		cc -O2 -Wall -Wextra -std=c11 -o "$prog" "$src" ||
			{ err "cannot compile $src"; exit 2; }
	fi
done

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
		127.0.0.1 "$PROXY_PORT" "$PROXY_EXT"
	ip netns exec "$NS" danted -f "$TMP/danted.conf" -p "$TMP/danted.pid" \
		>>"$TMP/danted.out" 2>&1 &
	DANTED_PID=$!
	ip netns exec "$NS" "$BIN/echod" "$TARGET" "$TARGET_PORT" "$PROXY_EXT" \
		2>"$TMP/echod.out" &
	ECHOD_PID=$!
	wait_port 127.0.0.1 "$PROXY_PORT" || return 1
	wait_port "$TARGET" "$TARGET_PORT" || return 1
	return 0
}

wait_port() {
	local i
	for i in $(seq 1 100); do
		ip netns exec "$NS" ss -Hltn 2>/dev/null | awk '{print $4}' |
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
	for mode in sendto dupclose; do
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
		for mode in sendto dupclose; do
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
	[sfy-launcher]="socksify -x URL (sh)"
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
}

# --- run --------------------------------------------------------------------

T0=$(date +%s)
say "socksify bench ($(uname -m), $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ))"
say "lib: $LIB"
say ""

setup_net || { err "cannot set up the namespace/danted/target"; tail -n 5 "$TMP"/danted.out >&2; exit 1; }

say "[1/3] pass-through: $REPS reps x $OPS ops, plain vs shim alternated${PIN:+, ${PIN[*]}}"
bench_pass
say "[2/3] connects: $CONN_REPS reps x $CONNECTS sequential connects per tool via danted (netns, $TARGET:$TARGET_PORT)"
bench_conn
say "[3/3] start-up: $START_REPS reps x $((STARTS / START_REPS)) starts per variant, rotated"
bench_start

# The target's own count: every connection should have come from danted.
kill -TERM "$ECHOD_PID" 2>/dev/null
wait "$ECHOD_PID" 2>/dev/null
ECHOD_PID=
ECHOD_COUNT=$(grep -o '[0-9]* proxied, [0-9]* direct' "$TMP/echod.out")
DIRECT=$(awk '{print $3}' <<<"$ECHOD_COUNT")
[ "${DIRECT:-1}" = 0 ] || measure_failed "target saw direct connections: $ECHOD_COUNT"

say ""
say "== 1. pass-through cost (median of $REPS; ratio = median of paired shim/plain) =="
printf '%-20s %11s %11s %7s %13s %14s %13s\n' "op" "plain ns/op" "shim ns/op" "ratio" "ratio range" "plain instr/op" "shim instr/op"
for mode in sendto dupclose; do
	label=$mode; [ "$mode" = dupclose ] && label="dup()+close()"
	[ "$mode" = sendto ] && label="sendto() UDP"
	printf '%-20s %11s %11s %7s %13s %14s %13s\n' "$label" "$(fmt %.1f "${PT_NS[$mode,plain]:-}")" \
		"$(fmt %.1f "${PT_NS[$mode,shim]:-}")" "$(fmt %.3f "${PT_RATIO[$mode]:-}")" "${PT_RANGE[$mode]:-?}" \
		"${PT_IR[$mode,plain]:-n/a}" "${PT_IR[$mode,shim]:-n/a}"
done
say "(instr/op: user-space instructions per op from callgrind, (I(2N)-I(N))/N; kernel time not included)"

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

say ""
say "== 3. process start-up (median of $START_REPS blocks of $((STARTS / START_REPS))) =="
printf '%-34s %10s %9s\n' "variant" "ms/start" "vs plain"
for v in "${START_VARIANTS[@]}"; do
	printf '%-34s %10s %9s\n' "${START_LABEL[$v]}" "$(fmt %.3f "${START[$v]}")" \
		"$(fmt %.3f "$(ratio "${START[$v]}" "${START[plain]}")")"
done

say ""
r1=$(fmt %.3f "${PT_RATIO[sendto]:-nan}") r2=$(fmt %.3f "${PT_RATIO[dupclose]:-nan}")
say "goal 1 pass-through sendto: ratio $r1, goal <=1.03: $(goal_le "$r1" 1.03)"
say "goal 1 pass-through dup+close: ratio $r2, goal <=1.03: $(goal_le "$r2" 1.03)"
rc=$(fmt %.3f "$CONN_RATIO")
say "goal 2 connects: socksify/fastest other (${best_name:-?} by median) = $rc (paired per rep, range $CONN_RANGE), goal >=1.0: $(goal_ge "$rc" 1.0)"
rs=$(fmt %.3f "$(ratio "${START[sfy-launcher]}" "${START[pc-launcher]}")")
rp=$(fmt %.3f "$(ratio "${START[shim-preload]}" "${START[pc-preload]}")")
say "goal 3 start-up: socksify launcher/proxychains4 launcher = $rs, goal <=1.0: $(goal_le "$rs" 1.0)"
say "goal 3 start-up: shim preload/proxychains4 preload = $rp, goal <=1.0: $(goal_le "$rp" 1.0)"
say "bench took $(($(date +%s) - T0)) s; measurements: $([ "$FAILED" = 0 ] && echo ok || echo FAILED)"
[ "$FAILED" = 0 ] || exit 1
exit 0
