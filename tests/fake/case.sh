#!/bin/bash
# tests/fake/case.sh - runs ONE fake-server case; meant to run inside a fresh
# private network namespace (run.sh starts it under `unshare -n`), where only
# lo exists, so a connection the shim fails to proxy cannot leave the box.
#
#   case.sh DIR SCENARIO PROXY_URL TIMEOUT LOG_LEVEL PROBE_ARGS...
#
# SCENARIO "none" starts no server (nothing listens on the proxy port).
# From the environment: CASE_CONNS, the connections the server serves (1);
# CASE_CONF, more config lines; CASE_LIMIT, the probe's bound in seconds
# (10).
# Leaves in DIR: conf, log (the server's record), out / err (the probe's
# stdout / stderr), rc (the probe's exit status, 124 if it hung).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
PROBE=${PROBE:-$TOP/build/prog/probe}
LIB=${LIBSOCKSIFY:-$TOP/preload/libsocksify.so}
PORT=1080

dir=$1 scen=$2 proxy=$3 tmo=$4 lvl=$5
shift 5

ip link set lo up || { echo "case.sh: cannot bring lo up" >"$dir/err"; echo 3 >"$dir/rc"; exit 3; }
printf 'timeout %s\nlog_level %s\n%s\n' "$tmo" "$lvl" "${CASE_CONF:-}" >"$dir/conf"
: >"$dir/log"

host=127.0.0.1
case $proxy in *'[::1]'*) host=::1 ;; esac
spid=
if [ "$scen" != none ]; then
	"$PY" "$HERE/fake_socks5.py" --host "$host" --port "$PORT" --scenario "$scen" \
		--log "$dir/log" --ready "$dir/ready" --idle 12 --conns "${CASE_CONNS:-1}" \
		2>"$dir/server.err" &
	spid=$!
	for _ in $(seq 500); do
		[ -e "$dir/ready" ] && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.01
	done
fi

timeout -k 1 "${CASE_LIMIT:-10}" env LD_PRELOAD="$LIB" SOCKSIFY_PROXY="$proxy" \
	SOCKSIFY_CONF="$dir/conf" SOCKSIFY_LOG_LEVEL="$lvl" \
	"$PROBE" "$@" >"$dir/out" 2>"$dir/err"
echo $? >"$dir/rc"

if [ -n "$spid" ]; then
	# The server exits once its connection is over; give it a moment to
	# log the end of the conversation, then stop it.
	for _ in $(seq 300); do
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.01
	done
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
fi
exit 0
