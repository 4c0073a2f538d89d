#!/bin/bash
# tests/lab/async.sh - asynchronous connect (issue 8) in the namespace lab
# (see lab.sh): event loops that start many non-blocking connects at once
# must get their SOCKS5 handshakes run at the same time, not one after
# another inside connect().
#
# A delaying relay (delayrelay.py, ASYNC_DELAY_MS each way, default 50) runs
# in the border namespace on $LAB_PROXY4:1082 in front of the no-auth
# danted ($LAB_PROXY4:1080); the client namespace still reaches nothing but
# the border.  The relay parses the proxy's answers and records the most
# handshakes in flight at once (peak_handshaking).  That number proves
# overlap without timing anything: connects done one after another leave
# it at 1 on any machine.  Every case starts its own relay (its own stats).
#
# With N = ASYNC_N (default 100) connections per case, each case passes
# twice: once when all N exchanges succeed, once when the relay saw
# peak_handshaking >= N/4 ("overlap"; the peak is printed either way):
#
#   0  control, no shim: curl's own --socks5 and --socks5-hostname with
#      --parallel (curl's SOCKS code is non-blocking): the overlap
#      assertion is known to work
#      and the other way round: SEQ_K (5) hand-rolled SOCKS5 clients, one
#      handshake after another, all connections kept open to the end: the
#      relay shows peak_open K but peak_handshaking 1 (it counts
#      handshakes, not connections)
#   a  curl --parallel under socksify: N GETs from the target's HTTP server
#   b  python asyncio under socksify: N asyncio.open_connection at once to
#      the target's echo server (IPv4), each line echoed back exactly
#   c  node under socksify: N net.connect at once (IPv6 target, IPv4
#      proxy), the same echo check
#   d  nginx under socksify in the client namespace (master_process off,
#      daemon off, its own config/pid/logs/temp paths in the lab's temp
#      dir) as a reverse proxy (proxy_pass to the target's HTTP server, no
#      upstream keepalive: nginx makes the upstream socket non-blocking
#      with ioctl(FIONBIO), registers it with epoll (EPOLLIN|EPOLLOUT|
#      EPOLLRDHUP|EPOLLET) and only then calls connect()); N requests at
#      once from an unsocksified curl --parallel to 127.0.0.1 in the client
#      namespace
#   e  the off switch: `async_connect no` in the config file (or, with
#      ASYNC_OFF_BY=env, SOCKSIFY_ASYNC_CONNECT=no): case b must still
#      succeed for all N; its peak is printed, not asserted.  Through a
#      relay of ASYNC_OFF_DELAY_MS (default 10): N handshakes one after
#      another at 50 ms would cost N * 0.2 s.
#
#   tests/lab/async.sh          uses ./socksify (build it first: make all)
#   ASYNC_N=200 ASYNC_DELAY_MS=100 tests/lab/async.sh
#   LAB_KEEP=1                  keep the temp dir (stats, logs, outputs)
#   LAB_VERBOSE=1               print every command's output
#
# Needs root and ip netns; otherwise every test is skipped (a failure in CI).
# Ends with "async: N passed, N failed, N skipped".

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
# shellcheck source=lab.sh
. "$HERE/lab.sh"

VIA=socksify
OUT=""
N=${ASYNC_N:-100}
DELAY=${ASYNC_DELAY_MS:-50}
OFF_DELAY=${ASYNC_OFF_DELAY_MS:-10}
OFF_BY=${ASYNC_OFF_BY:-conf}
MIN=$(((N + 3) / 4)) # peak_handshaking >= N/4
RELAY=$HERE/delayrelay.py
RELAY_PORT=1082
NGINX_PORT=8080

# ---------------------------------------------------------------- clients
# N connections at once to HOST PORT; each sends one line and wants it back
# exactly.  Prints the errors (counted) on stderr and "ok K of N" last;
# exits 0 only if K = N.
PYASYNC='
import asyncio, collections, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

async def one(i):
    r, w = await asyncio.open_connection(host, port)
    msg = b"socksify async %d\n" % i
    w.write(msg)
    await w.drain()
    got = await r.readline()
    w.close()
    await w.wait_closed()
    if got != msg:
        raise ValueError("echo %r" % got[:40])
    return True

async def main():
    res = await asyncio.gather(*(asyncio.wait_for(one(i), 50) for i in range(n)),
                               return_exceptions=True)
    ok = sum(1 for x in res if x is True)
    bad = collections.Counter("%s: %s" % (type(x).__name__, x) for x in res if x is not True)
    for what, count in bad.most_common(5):
        print("%d x %s" % (count, what), file=sys.stderr)
    print("ok %d of %d" % (ok, n))
    sys.exit(0 if ok == n else 1)

asyncio.run(main())
'

# shellcheck disable=SC2016 # JavaScript template strings, not shell
NODEASYNC='
const net = require("net");
const host = process.argv[1], port = +process.argv[2], n = +process.argv[3];
let ok = 0, closed = 0;
const bad = {};
for (let i = 0; i < n; i++) {
	const msg = `socksify async ${i}\n`;
	let buf = "";
	const s = net.connect({ host, port }, () => s.write(msg));
	s.setEncoding("utf8");
	s.setTimeout(50000, () => s.destroy(new Error("timeout")));
	s.on("data", (d) => { buf += d; if (buf.includes("\n")) s.end(); });
	s.on("error", (e) => { const k = e.code || e.message; bad[k] = (bad[k] || 0) + 1; });
	s.on("close", () => {
		if (buf === msg) ok++;
		if (++closed === n) {
			for (const [k, v] of Object.entries(bad)) console.error(`${v} x ${k}`);
			console.log(`ok ${ok} of ${n}`);
			process.exit(ok === n ? 0 : 1);
		}
	});
}
'

# A hand-rolled SOCKS5 client (method none, CONNECT to an IPv4 address):
# K handshakes one after another, every connection kept open; then a line
# echoed through each.  Prints "ok K of K" when all came back.
PYSEQ='
import socket, sys
proxy, pport, target, tport, k = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("proxy closed")
        b += c
    return b

conns = []
for i in range(k):
    s = socket.create_connection((proxy, pport), timeout=10)
    s.sendall(b"\x05\x01\x00")
    if recvn(s, 2) != b"\x05\x00":
        sys.exit("method refused")
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(target) + tport.to_bytes(2, "big"))
    head = recvn(s, 4)
    if head[1] != 0:
        sys.exit("CONNECT refused: %d" % head[1])
    recvn(s, {1: 4, 4: 16}.get(head[3]) or recvn(s, 1)[0])
    recvn(s, 2)
    conns.append(s)
ok = 0
for i, s in enumerate(conns):
    msg = b"seq %d\n" % i
    s.sendall(msg)
    ok += recvn(s, len(msg)) == msg
print("ok %d of %d" % (ok, k))
sys.exit(0 if ok == k else 1)
'
SEQ_K=5

# ---------------------------------------------------------------- helpers
# via, run, show: see lab.sh.

# relay_start NAME [DELAY_MS]: a fresh relay (stats in $OUT/NAME.stats).
relay_start() {
	local name=$1 d=${2:-$DELAY}
	rm -f "$OUT/$name.stats" "$OUT/$name.ready"
	lab_spawn "$LAB_NS_B" "$PY" "$RELAY" --listen "$LAB_PROXY4:$RELAY_PORT" \
		--to "$LAB_PROXY4:$LAB_PORT" --delay-ms "$d" \
		--stats "$OUT/$name.stats" --ready "$OUT/$name.ready" \
		2>>"$OUT/$name.relay.err"
	RELAY_PID=$LAB_LAST_PID
	lab_wait_file "$OUT/$name.ready" 100 &&
		lab_wait_port "$LAB_NS_B" "$LAB_PROXY4" "$RELAY_PORT" 100
}

# relay_stop: SIGTERM (the relay writes its stats and exits).
relay_stop() { lab_kill "$RELAY_PID"; }

# stat NAME KEY: one number from NAME's relay stats, or "?".
stat() {
	"$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$OUT/$1.stats" "$2" 2>/dev/null || echo "?"
}

# timed NAME CMD...: run (lab.sh) and the seconds it took in SECS.
timed() {
	local t0 t1
	t0=$(date +%s%N)
	run "$@"
	t1=$(date +%s%N)
	SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
}

# tokens NAME: how many lines of NAME's stdout are the target's body.
tokens() { grep -cxF "$LAB_TOKEN" "$OUT/$1.out"; }

# all_ok DESC NAME COUNT: pass if the command exited 0 and COUNT = N.
all_ok() {
	local desc=$1 name=$2 count=${3:-0}
	if [ "$RC" -eq 0 ] && [ "$count" = "$N" ]; then
		pass "$desc: all $N succeeded (${SECS}s)"
	else
		fail "$desc: $count of $N succeeded (rc $RC, ${SECS}s)"
		show "$name"
	fi
}

is_num() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

# overlap DESC NAME: pass if NAME's relay saw >= MIN handshakes at once and
# N of them completed.
overlap() {
	local desc=$1 name=$2 peak ndone conns
	peak=$(stat "$name" peak_handshaking)
	ndone=$(stat "$name" completed_handshakes)
	conns=$(stat "$name" connections)
	local facts="peak_handshaking $peak, $ndone handshakes completed, $conns connections"
	if is_num "$peak" && is_num "$ndone" && [ "$peak" -ge "$MIN" ] && [ "$ndone" -ge "$N" ]; then
		pass "$desc: overlap: $facts (want a peak >= $MIN)"
	else
		fail "$desc: overlap: $facts (want a peak >= $MIN and >= $N completed)"
		[ -s "$OUT/$name.relay.err" ] && head -5 "$OUT/$name.relay.err" | sed 's/^/  relay| /'
	fi
}

# ---------------------------------------------------------------- preconditions

if ! why=$(lab_available); then
	skip "async connect lab tests" "$why"
	summary async
	exit $?
fi
if [ ! -x "$SOCKSIFY" ] || [ ! -f "$LIBSOCKSIFY" ]; then
	fail "socksify is built ($SOCKSIFY and $LIBSOCKSIFY missing: run make all)"
	summary async
	exit 1
fi
if ! lab_up; then
	fail "lab comes up (see messages above)"
	summary async
	exit 1
fi
OUT=$LAB_DIR/out
mkdir -p "$OUT"
echo "async: N=$N, relay delay ${DELAY} ms each way, overlap means a peak >= $MIN; temp dir $LAB_DIR"

T4=$LAB_TARGET4 T6=$LAB_TARGET6
RELAY_HP=$LAB_PROXY4:$RELAY_PORT
U="socks5://$RELAY_HP"
CURL_PAR=(curl -s -f --no-progress-meter --parallel --parallel-immediate --parallel-max "$N")

# ---------------------------------------------------------------- 0. control
relay_start ctl4 || fail "0 the relay starts"
timed ctl4 lab_c timeout 60 "${CURL_PAR[@]}" --socks5 "$RELAY_HP" "http://$T4/[1-$N]"
relay_stop
all_ok "0 control: curl --socks5 --parallel, no shim" ctl4 "$(tokens ctl4)"
overlap "0 control: curl --socks5 --parallel, no shim" ctl4

relay_start ctlname || fail "0 the relay starts"
timed ctlname lab_c timeout 60 "${CURL_PAR[@]}" --socks5-hostname "$RELAY_HP" \
	"http://$LAB_NAME/[1-$N]"
relay_stop
all_ok "0 control: curl --socks5-hostname --parallel ($LAB_NAME), no shim" ctlname "$(tokens ctlname)"
overlap "0 control: curl --socks5-hostname --parallel, no shim" ctlname

relay_start seq || fail "0 the relay starts"
timed seq lab_c timeout 60 "$PY" -c "$PYSEQ" "$LAB_PROXY4" "$RELAY_PORT" "$T4" 7 "$SEQ_K"
relay_stop
SEQ_FACTS="peak_handshaking $(stat seq peak_handshaking), peak_open $(stat seq peak_open)"
if [ "$RC" -eq 0 ] && got seq "ok $SEQ_K of $SEQ_K" &&
	[ "$(stat seq peak_handshaking)" = 1 ] && [ "$(stat seq peak_open)" = "$SEQ_K" ]; then
	pass "0 control: $SEQ_K handshakes one after another, connections kept open: $SEQ_FACTS (${SECS}s)"
else
	fail "0 control: $SEQ_K handshakes one after another, connections kept open: $SEQ_FACTS (want 1 and $SEQ_K)"
	show seq
fi

# ---------------------------------------------------------------- a. curl
relay_start curl || fail "a the relay starts"
timed curl via "$U" "${CURL_PAR[@]}" "http://$T4/[1-$N]"
relay_stop
all_ok "a curl --parallel under socksify" curl "$(tokens curl)"
overlap "a curl --parallel under socksify" curl

# ---------------------------------------------------------------- b. asyncio
relay_start py || fail "b the relay starts"
timed py via "$U" "$PY" -c "$PYASYNC" "$T4" 7 "$N"
relay_stop
all_ok "b python asyncio.open_connection x$N under socksify" py \
	"$(sed -n 's/^ok \([0-9]*\) of .*/\1/p' "$OUT/py.out")"
overlap "b python asyncio under socksify" py

# ---------------------------------------------------------------- c. node
if command -v node >/dev/null 2>&1; then
	relay_start node || fail "c the relay starts"
	timed node via "$U" node -e "$NODEASYNC" "$T6" 7 "$N"
	relay_stop
	all_ok "c node net.connect x$N ([$T6]:7) under socksify" node \
		"$(sed -n 's/^ok \([0-9]*\) of .*/\1/p' "$OUT/node.out")"
	overlap "c node net.connect under socksify" node
else
	skip "c node net.connect under socksify" "node not installed"
fi

# ---------------------------------------------------------------- d. nginx
nginx_conf() { # DIR
	mkdir -p "$1/tmp" || return 1
	# nginx empties its environment at start (all but TZ and what "env"
	# names), and the shim reads SOCKSIFY_* lazily, at the first hooked
	# call: without these lines every upstream connect fails with EACCES
	# ("no proxy configured").
	cat >"$1/nginx.conf" <<EOF
env SOCKSIFY_PROXY;
env SOCKSIFY_CONF;
env SOCKSIFY_LOG_LEVEL;
env SOCKSIFY_ASYNC_CONNECT;
daemon off;
master_process off;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log info;
events {
	worker_connections 4096;
}
http {
	access_log $1/access.log;
	client_body_temp_path $1/tmp/body;
	proxy_temp_path $1/tmp/proxy;
	fastcgi_temp_path $1/tmp/fastcgi;
	uwsgi_temp_path $1/tmp/uwsgi;
	scgi_temp_path $1/tmp/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT backlog=1024;
		location / {
			proxy_pass http://$T4:80;
		}
	}
}
EOF
}

if command -v nginx >/dev/null 2>&1; then
	NG=$OUT/nginx
	nginx_conf "$NG"
	relay_start nginx || fail "d the relay starts"
	lab_spawn "$LAB_NS_C" "$SOCKSIFY" -x "$U" -- nginx -p "$NG" -c "$NG/nginx.conf" \
		-e "$NG/error.log" >"$OUT/nginx.stdout" 2>&1
	NGINX_PID=$LAB_LAST_PID
	if lab_wait_port "$LAB_NS_C" 127.0.0.1 "$NGINX_PORT" 100; then
		timed nginx lab_c timeout 60 "${CURL_PAR[@]}" "http://127.0.0.1:$NGINX_PORT/[1-$N]"
		lab_kill "$NGINX_PID"
		relay_stop
		all_ok "d nginx reverse proxy under socksify, $N requests at once" nginx "$(tokens nginx)"
		if [ "$(tokens nginx)" != "$N" ]; then
			grep -v '\[notice\]' "$NG/error.log" | tail -n 5 | sed 's/^/  nginx| /'
		fi
		overlap "d nginx upstream connects under socksify" nginx
	else
		lab_kill "$NGINX_PID"
		relay_stop
		fail "d nginx starts under socksify in the client namespace"
		tail -n 5 "$OUT/nginx.stdout" "$NG/error.log" 2>/dev/null | sed 's/^/  | /'
	fi
else
	skip "d nginx reverse proxy under socksify" "nginx not installed (scripts/install-deps.sh)"
fi

# ---------------------------------------------------------------- e. off switch
relay_start off "$OFF_DELAY" || fail "e the relay starts"
case $OFF_BY in
env)
	OFF_HOW="SOCKSIFY_ASYNC_CONNECT=no"
	timed off lab_c env SOCKSIFY_ASYNC_CONNECT=no timeout 60 "$SOCKSIFY" -x "$U" -- \
		"$PY" -c "$PYASYNC" "$T4" 7 "$N"
	;;
*)
	OFF_HOW="async_connect no"
	printf 'async_connect no\n' >"$OUT/off.conf"
	timed off lab_c timeout 60 "$SOCKSIFY" -f "$OUT/off.conf" -x "$U" -- \
		"$PY" -c "$PYASYNC" "$T4" 7 "$N"
	;;
esac
relay_stop
all_ok "e $OFF_HOW: python asyncio x$N still works (peak_handshaking $(stat off peak_handshaking), relay ${OFF_DELAY} ms)" off \
	"$(sed -n 's/^ok \([0-9]*\) of .*/\1/p' "$OUT/off.out")"

summary async
