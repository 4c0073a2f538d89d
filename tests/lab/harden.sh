#!/bin/bash
# tests/lab/harden.sh - regression tests for the defects an adversarial
# review found (issue 7), each item as the issue numbers it.  Every one of
# these failed before the fix; most compare what the program sees under the
# shim with what the kernel gives it without the shim.
#
# Two settings:
#   - a private network namespace with only lo (unshare -n) and the
#     scripted fake SOCKS5 server (tests/fake/fake_socks5.py) on
#     127.0.0.1:1080, for what a real server will not do: answer slowly,
#     hold a connection, send garbage from its UDP relay;
#   - the namespace lab (lab.sh): a client that reaches the target only
#     through danted, a border that reaches it directly (the "native" runs).
#
#    1  bad pointers: tests/prog/badptr.c under the shim prints exactly
#       what it prints without it (EFAULT, EBADF, partial counts)
#    2  pthread_cancel in the proxy's name lookup and in a handshake
#       (tests/prog/cancelres.c, hsprobe cancel)
#    3  the first hook's config load under a full fd table: that call fails
#       (EMFILE), the next one works
#    4  honest readiness on proxied UDP sockets (tests/prog/udpready.c):
#       relay-only and mixed sockets, select/poll/epoll
#    5  a stray byte on the control connection (udpready ctlbyte)
#    6  SA_RESTART and socket timeouts: UDP receive (sigudp.c, compared
#       with the kernel) and TCP connect (hsprobe signal)
#    7  another thread during the handshake (hsprobe race/write/close)
#    8  a datagram sent just before close() or exit() arrives
#    9  strings that are not host names get EAI_NONAME in remote mode; the
#       debug line names the source of an answer
#   10  UDP-Lite, ICMP, raw, SCTP, packet sockets fail closed (capture:
#       nothing leaves); direct_protocols lets UDP-Lite out
#   11  a port-limited `route direct` host rule leaks no lookup (capture)
#   12  up to IOV_MAX buffers on a proxied UDP socket, as the kernel
#   13  a failed proxied connect leaves SO_ERROR 0; the socket connects
#       again (compared with the kernel)
#   s   smaller: log lines escape what they quote; association failures
#       have a line; an IPv6 socket on ::1 and an IPv4 relay; IPV6_V6ONLY
#       and an IPv4 proxy; log_file through a symlink is refused
#
#   tests/lab/harden.sh                  the tree's library
#   SOCKSIFY_TEST_LIB=/path/lib.so tests/lab/harden.sh
#                                        another build (to see the tests
#                                        fail against an older one)
#
# Needs root and namespaces; otherwise every test is skipped (a failure in
# CI).  Ends with "harden: N passed, N failed, N skipped".

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
# shellcheck source=lab.sh
. "$HERE/lab.sh"

LIB=${SOCKSIFY_TEST_LIB:-$LIBSOCKSIFY}
PROG=$TOP/build/prog
FAKE=$TOP/tests/fake/fake_socks5.py
VIA=socksify

if ! why=$(lab_available); then
	skip "hardening suite" "$why"
	summary harden
	exit $?
fi
for p in badptr hsprobe udpready cancelres sigudp udpstress; do
	if [ ! -x "$PROG/$p" ] || [ "$PROG/$p" -ot "$TOP/tests/prog/$p.c" ]; then
		make -s -C "$TOP" "build/prog/$p" >/dev/null 2>&1 ||
			{ skip "hardening suite" "cannot build build/prog/$p"; summary harden; exit $?; }
	fi
done

WORK=$(mktemp -d /tmp/socksify-harden.XXXXXX)
OUT=$WORK
# (lab_up takes over the EXIT trap: the directory goes at the end.)

# ------------------------------------------------------------- fake server
# fake NAME SCENARIO CONNS CONFTEXT -- CMD...: runs CMD under the shim in a
# fresh namespace with the fake server (SCENARIO, CONNS connections) on
# 127.0.0.1:1080 and the config CONFTEXT (printf format).  Leaves
# $WORK/NAME/{out,err,log}; RC is CMD's exit status.
fake() {
	local name=$1 scen=$2 conns=$3 conf=$4 d=$WORK/$1
	shift 5
	mkdir -p "$d"
	# shellcheck disable=SC2059 # the config text is a printf format
	printf "$conf" >"$d/conf"
	unshare -n bash -c '
		d=$1 scen=$2 conns=$3 fake=$4 lib=$5; shift 5
		ip link set lo up
		python3 "$fake" --port 1080 --scenario "$scen" --conns "$conns" \
			--log "$d/log" --ready "$d/ready" --idle 8 2>"$d/server.err" &
		for _ in $(seq 300); do [ -e "$d/ready" ] && break; sleep 0.02; done
		env LD_PRELOAD="$lib" SOCKSIFY_PROXY=socks5://127.0.0.1:1080 \
			SOCKSIFY_CONF="$d/conf" timeout -k 1 20 "$@" >"$d/out" 2>"$d/err"
		echo $? >"$d/rc"
		sleep 0.2
		kill %1 2>/dev/null; wait 2>/dev/null
	' _ "$d" "$scen" "$conns" "$FAKE" "$LIB" "$@"
	RC=$(cat "$d/rc" 2>/dev/null || echo 99)
}

# facts NAME DESC: pass when NAME's run exited 0 and printed only "ok:"
# facts; else fail with what it printed.
facts() {
	local d=$WORK/$1 desc=$2 n
	n=$(grep -c '^ok:' "$d/out" 2>/dev/null)
	if [ "$RC" = 0 ] && [ "${n:-0}" -gt 0 ] && ! grep -q '^FAIL' "$d/out"; then
		pass "$desc ($n facts)"
	else
		fail "$desc (rc $RC)"
		sed 's/^/  | /' "$d/out" | head -20
		sed 's/^/  err| /' "$d/err" | head -8
	fi
}

echo "== fake-server cases"
# 7. another thread during the handshake
fake hs_race slow_ok 1 'timeout 3\n' -- "$PROG/hsprobe" race
facts hs_race "7 a read during the handshake: EAGAIN, the program's flags, ENOTCONN; a blocking read gets the stream's first bytes"
fake hs_write slow_ok 1 'timeout 3\n' -- "$PROG/hsprobe" write
facts hs_write "7 a blocking write during the handshake waits for it"
req_at=$(grep -nE '^request ' "$WORK/hs_write/log" | head -1 | cut -d: -f1)
app_at=$(grep -nE '^app 4541524c59' "$WORK/hs_write/log" | head -1 | cut -d: -f1)
if [ -n "$req_at" ] && [ -n "$app_at" ] && [ "$app_at" -gt "$req_at" ]; then
	pass "7 ... and its bytes reach the server after the request, as application data"
else
	fail "7 the early write's bytes: $(tr '\n' '|' <"$WORK/hs_write/log")"
fi
fake hs_close slow_ok 1 'timeout 3\n' -- "$PROG/hsprobe" close
facts hs_close "7 close during the handshake is kept until its end; dup2 onto it EBUSY"
fake hs_racestorm slow_ok_20ms 300 'timeout 3\n' -- "$PROG/hsprobe" racestorm 300
facts hs_racestorm "7 300 connects, each with a blocking reader from its start: the stream's first bytes, never EAGAIN"
fake hs_dup slow_ok 1 'timeout 3\n' -- "$PROG/hsprobe" dup
facts hs_dup "7 dup() during the handshake returns after it: the copy never sees the proxy's reply"
# 2. cancellation in the handshake
fake hs_cancel hold_then_ok 2 'timeout 3\n' -- "$PROG/hsprobe" cancel
facts hs_cancel "2 a thread cancelled in the handshake leaves its socket as it was; the next connect works"
fake hs_cancelstorm rep_05 301 'timeout 3\n' -- "$PROG/hsprobe" cancelstorm 300
facts hs_cancelstorm "2 300 connects cancelled at every moment of the handshake and its end: no record, fd or flag left behind"
# 6. signals during a blocking connect
for m in restart norestart sndtimeo sndtimeo_alarm; do
	fake "hs_sig_$m" slow_ok_1500 1 'timeout 3\n' -- "$PROG/hsprobe" signal "$m"
	facts "hs_sig_$m" "6 blocking connect, SIGALRM, $m: $(head -1 "$WORK/hs_sig_$m/out")"
done
# 4. readiness
for m in select poll epoll; do
	fake "ready_relay_$m" udp_garbage 1 'timeout 3\n' -- "$PROG/udpready" relay "$m"
	facts "ready_relay_$m" "4 relay-only UDP socket, $m: garbage and spoofs never make it readable"
	fake "ready_mixed_$m" udp_garbage 1 'timeout 3\nroute proxy 127.0.0.2/32\n' -- "$PROG/udpready" mixed "$m"
	facts "ready_mixed_$m" "4 UDP socket with direct peers too, $m: readable only for what it gets"
done
# 5. a stray byte on the control connection
fake ready_ctlbyte udp_ctlbyte 1 'timeout 3\n' -- "$PROG/udpready" ctlbyte
facts ready_ctlbyte "5 a byte on the control connection: recvfrom returns the real datagram"

# ------------------------------------------------------------------- lab
echo "== lab cases"
if ! lab_up; then
	fail "the lab could not be built"
	rm -rf "$WORK"
	summary harden
	exit 1
fi
T4=$LAB_TARGET4
U4="socks5://$LAB_PROXY4:$LAB_PORT"
UH="socks5h://$LAB_PROXY4:$LAB_PORT"
DOWN="socks5://$LAB_PROXY4:$LAB_DOWN_PORT"

# cl URL CMD...: CMD in the client namespace under the shim (no launcher:
# the library under test is preloaded as it is), bounded.
cl() {
	local url=$1
	shift
	lab_c env LD_PRELOAD="$LIB" SOCKSIFY_PROXY="$url" ${CONF:+SOCKSIFY_CONF=$CONF} \
		timeout -k 1 30 "$@"
}
# native CMD...: the same program in the border namespace, which reaches
# the target directly: what the kernel answers.
native() { lab_b timeout -k 1 30 "$@"; }

# same DESC NAME CMD...: pass when CMD prints the same under the shim (in
# the client, through the proxy) as without it (in the border).
same() {
	local desc=$1 name=$2
	shift 2
	native "$@" >"$WORK/$name.native" 2>"$WORK/$name.native.err"
	cl "$U4" "$@" >"$WORK/$name.shim" 2>"$WORK/$name.shim.err"
	if [ -s "$WORK/$name.native" ] && cmp -s "$WORK/$name.native" "$WORK/$name.shim"; then
		pass "$desc ($(wc -l <"$WORK/$name.native") lines as the kernel's)"
	else
		fail "$desc: differs from the kernel's"
		diff "$WORK/$name.native" "$WORK/$name.shim" | head -20 | sed 's/^/  | /'
		head -5 "$WORK/$name.shim.err" | sed 's/^/  err| /'
	fi
}

# 1. bad pointers
same "1 bad pointers into every hooked call: the kernel's errno, no SIGSEGV" badptr \
	"$PROG/badptr" "$T4" 7

# 2. cancellation during the proxy's name lookup (the client's resolver is
# unreachable: the lookup takes its full timeout)
run cancelres cl "socks5://proxy.nowhere.$LAB_DOMAIN:1080" "$PROG/cancelres" "$T4" 7
if [ "$RC" = 0 ] && ! grep -q '^FAIL' "$OUT/cancelres.out"; then
	pass "2 pthread_cancel in the proxy's name lookup: a later connect in another thread comes back"
else
	fail "2 cancel in the proxy's name lookup (rc $RC)"; show cancelres
fi

# 2. cancellation of a thread closing a proxied UDP socket (the
# association's end runs under the fd table's lock)
run cancelclose cl "$U4" "$PROG/udpstress" "$T4" "$LAB_UDP_PORT" cancelclose
if [ "$RC" = 0 ] && ! grep -q '^FAIL' "$OUT/cancelclose.out"; then
	pass "2 a cancelled close of a proxied UDP socket, during a linger too: no lock left held, exit works"
else
	fail "2 cancelled UDP close (rc $RC)"; show cancelclose
fi

# 3. the config load in a full fd table
PYPOISON='
import socket, errno, sys
hog = []
while True:
    try: hog.append(open("/dev/null"))
    except OSError: break
hog.pop().close()
s = socket.socket(); s.settimeout(5)
try: s.connect((sys.argv[1], 7)); print("first ok")
except OSError as e: print("first", errno.errorcode[e.errno])
s.close()
for h in hog[:20]: h.close()
s = socket.socket(); s.settimeout(5)
try:
    s.connect((sys.argv[1], 7)); s.sendall(b"ping"); print("second", s.recv(4).decode())
except OSError as e: print("second", errno.errorcode[e.errno])
'
run poison lab_c bash -c "ulimit -n 64; exec env LD_PRELOAD='$LIB' SOCKSIFY_PROXY='$U4' $PY -c '$PYPOISON' $T4"
if [ "$RC" = 0 ] && grep -qx 'second ping' "$OUT/poison.out" &&
	grep -Eqx 'first (ok|EMFILE)' "$OUT/poison.out" &&
	[ "$(grep -c 'socksify:' "$OUT/poison.err")" -le 1 ]; then
	pass "3 a config load that met EMFILE is retried: $(tr '\n' ',' <"$OUT/poison.out") $(grep -c 'socksify:' "$OUT/poison.err") line"
else
	fail "3 transient config failure"; show poison
fi

# 6. SA_RESTART on a blocking UDP receive, as the kernel does it
for m in restart norestart rcvtimeo rcvtimeo_alarm; do
	native "$PROG/sigudp" "$T4" "$LAB_UDP_PORT" "$m" 2>/dev/null | head -1 >"$WORK/sig_$m.native"
	cl "$U4" "$PROG/sigudp" "$T4" "$LAB_UDP_PORT" "$m" >"$WORK/sig_$m.shim" 2>"$WORK/sig_$m.err"
	if [ -s "$WORK/sig_$m.native" ] && [ "$(head -1 "$WORK/sig_$m.shim")" = "$(cat "$WORK/sig_$m.native")" ] &&
		grep -q '^ok:' "$WORK/sig_$m.shim"; then
		pass "6 blocking UDP receive, SIGALRM, $m: $(cat "$WORK/sig_$m.native"), as the kernel"
	else
		fail "6 UDP receive $m: kernel '$(cat "$WORK/sig_$m.native")', shim '$(tr '\n' ' ' <"$WORK/sig_$m.shim")'"
	fi
done

# 8. a datagram sent just before close() or exit() arrives
SINK=$WORK/sink.out
: >"$SINK"
lab_spawn "$LAB_NS_T" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 9))
open(sys.argv[3], "w").close()
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        d, a = s.recvfrom(100); f.write(d.decode() + "\n")
' "$T4" "$SINK" "$WORK/sink.ready"
SINK_PID=$LAB_LAST_PID
lab_wait_file "$WORK/sink.ready" 50 >/dev/null 2>&1 || sleep 1
PYCLOSE='
import socket, sys, time
for i in range(30):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.sendto(b"close%d" % i, (sys.argv[1], 9))
    c.close()
    time.sleep(0.02)
'
run udpclose cl "$U4" "$PY" -c "$PYCLOSE" "$T4"
for i in $(seq 10); do
	cl "$U4" "$PY" -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"exit%s" % sys.argv[2].encode(), (sys.argv[1], 9))' "$T4" "$i"
done
sleep 0.5
nc_=$(grep -c '^close' "$SINK") ne_=$(grep -c '^exit' "$SINK")
if [ "$nc_" = 30 ] && [ "$ne_" = 10 ]; then
	pass "8 datagrams sent right before close(): 30/30 arrive; right before exit: 10/10"
else
	fail "8 datagrams before close: $nc_/30, before exit: $ne_/10"
fi
lab_kill "$SINK_PID"

# 8. ... and a control connection on fd 0 lingers and goes like any other
run fd0 lab_c bash -c "ulimit -n 64; exec env LD_PRELOAD='$LIB' SOCKSIFY_PROXY='$U4' '$PROG/udpstress' $T4 $LAB_UDP_PORT fd0"
if [ "$RC" = 0 ] && ! grep -q '^FAIL' "$OUT/fd0.out"; then
	pass "8 a control connection that got fd 0 lingers and is closed; the program's fd 0 is its own again"
else
	fail "8 fd 0 as a control connection (rc $RC)"; show fd0
fi

# 4/6. four threads sending a socket's first datagrams at once: one
# association, every answer
run udpthreads cl "$U4" "$PROG/udpstress" "$T4" "$LAB_UDP_PORT" threads
if [ "$RC" = 0 ] && ! grep -q '^FAIL' "$OUT/udpthreads.out"; then
	pass "4 four threads set up one socket's association at once: one association, every answer ($(grep -c '^ok' "$OUT/udpthreads.out") facts)"
else
	fail "4 concurrent first datagrams (rc $RC)"; show udpthreads
fi

# 10. MSG_FASTOPEN on a UDP socket is no way out: through the relay, and
# refused with the proxy down (no route to the target: a direct send would
# fail with ENETUNREACH)
PYFO='
import socket, sys, errno
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
try:
    s.sendto(b"fo", socket.MSG_FASTOPEN, (sys.argv[1], 7)); print("echo", s.recv(10).decode())
except OSError as e: print(errno.errorcode[e.errno])
m = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); m.settimeout(3)
try:
    m.sendmsg([b"fm"], [], socket.MSG_FASTOPEN, (sys.argv[1], 7)); print("echo", m.recv(10).decode())
except OSError as e: print(errno.errorcode[e.errno])
'
run fo_up cl "$U4" "$PY" -c "$PYFO" "$T4"
run fo_down cl "$DOWN" "$PY" -c "$PYFO" "$T4"
if [ "$(tr '\n' ' ' <"$OUT/fo_up.out")" = "echo fo echo fm " ] &&
	[ "$(tr '\n' ' ' <"$OUT/fo_down.out")" = "ECONNREFUSED ECONNREFUSED " ]; then
	pass "10 MSG_FASTOPEN on UDP sendto/sendmsg: through the relay; proxy down: ECONNREFUSED, never direct"
else
	fail "10 MSG_FASTOPEN on UDP: up '$(tr '\n' ' ' <"$OUT/fo_up.out")', down '$(tr '\n' ' ' <"$OUT/fo_down.out")'"
fi

# 10. raw sockets (they may write their own IP header, with any
# destination in it) are refused when created, also for loopback, unless
# direct_protocols raw
PYHDR='
import socket, errno
def tryit(what, fn):
    try: fn(); print(what, "ok")
    except OSError as e: print(what, errno.errorcode.get(e.errno, e.errno))
tryit("own-header", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW))
tryit("raw6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_RAW, 253))
tryit("raw-loopback", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 253).sendto(b"x", ("127.0.0.1", 0)))
'
run rawhdr cl "$DOWN" "$PY" -c "$PYHDR"
CONF=$WORK/raw.conf
printf 'direct_protocols raw\n' >"$CONF"
run rawok cl "$DOWN" "$PY" -c "$PYHDR"
CONF=
if [ "$(tr '\n' ' ' <"$OUT/rawhdr.out")" = "own-header EACCES raw6 EACCES raw-loopback EACCES " ] &&
	[ "$(tr '\n' ' ' <"$OUT/rawok.out")" = "own-header ok raw6 ok raw-loopback ok " ]; then
	pass "10 raw sockets: refused when created (even for loopback); direct_protocols raw allows them"
else
	fail "10 raw sockets: '$(tr '\n' ' ' <"$OUT/rawhdr.out")', allowed: '$(tr '\n' ' ' <"$OUT/rawok.out")'"; show rawhdr
fi

# 1. the checks cost no system call once a buffer passed: 1000 sendmsg on
# a Unix socketpair and 1000 direct UDP sendto, each from one of five heap
# buffers, make at most a handful of checks
if command -v strace >/dev/null 2>&1; then
	PYPT='
import socket, ctypes, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(1000):
    a.sendmsg([b"x"]); b.recv(10)
    d.sendto(b"y", u.getsockname()); u.recv(10)
print("done")
'
	run ptcalls lab_c env LD_PRELOAD="$LIB" SOCKSIFY_PROXY="$U4" \
		strace -f -c -e trace=process_vm_readv,process_vm_writev,pwrite64 -o "$WORK/pt.strace" "$PY" -c "$PYPT"
	n=$(awk '$NF ~ /^process_vm|^pwrite/ {s += $4} END {print s + 0}' "$WORK/pt.strace")
	if [ "$RC" = 0 ] && [ "$n" -le 20 ]; then
		pass "1 2000 pass-through sendmsg/sendto from reused buffers: $n kernel checks in all"
	else
		fail "1 pass-through checks: $n kernel checks for 2000 calls (rc $RC)"; cat "$WORK/pt.strace" | head
	fi
else
	skip "1 pass-through check count" "strace is not installed"
fi

# 9. strings that are no host names
PYNAMES='
import socket
for a in ["0.1.1.~1", "1+.1.1.1", "::1q", "::1::2", "1:1:1:1:1:1:1:1:1", "a_b.~", "-a.b", "a b"]:
    for fn in ("gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        try: r = getattr(socket, fn)(a); print(fn, repr(a), "->", r)
        except OSError as e: print(fn, repr(a), "raises", type(e).__name__)
    try: socket.getaddrinfo(a, 80); print("getaddrinfo", repr(a), "answers")
    except OSError as e: print("getaddrinfo", repr(a), "raises", type(e).__name__)
'
run badnames cl "$UH" "$PY" -c "$PYNAMES"
if [ "$RC" = 0 ] && [ "$(grep -c ' raises gaierror$' "$OUT/badnames.out")" = 32 ]; then
	pass "9 strings that are not host names (::1q, 0.1.1.~1, ...): gaierror from every lookup, no placeholder"
else
	fail "9 bad names: $(grep -v ' raises gaierror$' "$OUT/badnames.out" | head -3 | tr '\n' '|')"
fi
run goodname cl "$UH" "$PY" -c 'import socket; print(socket.gethostbyname("nonexistent.invalid"))'
if [ "$RC" = 0 ] && grep -Eq '^127\.(19[2-9]|2[0-5][0-9])\.' "$OUT/goodname.out"; then
	pass "9 a real name (nonexistent.invalid) still gets a placeholder: the proxy resolves it"
else
	fail "9 a real name"; show goodname
fi
run hostsline lab_c env LD_PRELOAD="$LIB" SOCKSIFY_PROXY="$UH" SOCKSIFY_LOG_LEVEL=debug \
	"$PY" -c "import socket; socket.getaddrinfo('$LAB_HOSTS_NAME', 80)"
if grep -q 'answered from /etc/hosts' "$OUT/hostsline.err" && ! grep -q 'over the proxy' "$OUT/hostsline.err"; then
	pass "9 the debug line of an /etc/hosts answer says so (not 'resolved over the proxy')"
else
	fail "9 debug line: $(grep socksify "$OUT/hostsline.err" | head -2 | tr '\n' '|')"
fi

# 10. protocols the proxy cannot carry, with the proxy down: fail closed.
# The destination is the resolver's address, the one the client has a
# route to (through the border): a flow that leaked would be on the wire.
PCAP=$WORK/proto.pcap
lab_capture_start "$LAB_NS_C" "$LAB_IF_C" "$PCAP"
lab_c sysctl -qw net.ipv4.ping_group_range="0 2147483647"
PYPROTO='
import socket, errno, sys
t = sys.argv[1]
def tryit(what, fn):
    try: r = fn(); print(what, "ok", r)
    except OSError as e: print(what, errno.errorcode.get(e.errno, e.errno))
tryit("udplite", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 136).sendto(b"LEAKLITE", (t, 7)))
def udplite_connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 136); s.connect((t, 7)); return s.send(b"LEAKLITE")
tryit("udplite-connect", udplite_connect)
tryit("icmp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).sendto(b"\x08\x00\x00\x00\x00\x01\x00\x01LEAKPING", (t, 0)))
tryit("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 253).sendto(b"LEAKRAW", (t, 0)))
tryit("sctp", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132))
tryit("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
tryit("udplite-loopback", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 136).sendto(b"lo", ("127.0.0.1", 9)))
'
run proto cl "$DOWN" "$PY" -c "$PYPROTO" "$LAB_DNS4"
want='udplite EACCES
udplite-connect EACCES
icmp EACCES
raw EACCES
sctp EACCES
packet EACCES
udplite-loopback ok 2'
if [ "$(cat "$OUT/proto.out")" = "$want" ]; then
	pass "10 UDP-Lite, ICMP, raw, SCTP and packet sockets to proxied destinations: EACCES; loopback stays direct"
else
	fail "10 uncarried protocols"; show proto
fi
n=$(grep -c 'the proxy cannot carry' "$OUT/proto.err")
if [ "$n" = 6 ]; then
	pass "10 ... one log line each, naming the protocol and direct_protocols"
else
	fail "10 log lines for the refusals: $n, want 6"; show proto
fi
CONF=$WORK/protos.conf
printf 'direct_protocols udplite\n' >"$CONF"
run proto_allowed cl "$DOWN" "$PY" -c 'import socket,sys; print(socket.socket(socket.AF_INET, socket.SOCK_DGRAM, 136).sendto(b"ALLOWEDLITE", (sys.argv[1], 7)))' "$LAB_DNS4"
CONF=
lab_capture_stop
others=$(tcpdump -nr "$PCAP" 'icmp[icmptype] == 8 or ip proto 253 or ip proto 132' 2>/dev/null | wc -l)
lite=$(tcpdump -nr "$PCAP" 'ip proto 136' 2>/dev/null | wc -l)
if [ "$(cat "$OUT/proto_allowed.out")" = 11 ] && [ "$lite" = 1 ] && [ "$others" = 0 ]; then
	pass "10 the capture shows nothing of the refused flows, and the one direct_protocols udplite let out"
else
	fail "10 capture: $lite UDP-Lite packets (want the 1 allowed), $others ICMP/raw/SCTP (allowed run: $(cat "$OUT/proto_allowed.out"))"
fi

# 11. a `route direct` host rule with a port leaks no lookup for other ports
PCAP=$WORK/dns.pcap
lab_capture_start "$LAB_NS_C" "$LAB_IF_C" "$PCAP"
CONF=$WORK/portrule.conf
printf 'route direct .%s 9999\n' "$LAB_DOMAIN" >"$CONF"
run portrule cl "$UH" curl -s -m 10 "http://$LAB_NAME/"
CONF=
lab_capture_stop
q=$(tcpdump -nr "$PCAP" 'port 53' 2>/dev/null | wc -l)
if [ "$RC" = 0 ] && [ "$(cat "$OUT/portrule.out")" = "$LAB_TOKEN" ] && [ "$q" = 0 ]; then
	pass "11 route direct .$LAB_DOMAIN 9999: http://$LAB_NAME/ through the proxy by name, no DNS packet on the wire"
else
	fail "11 port-limited direct rule: rc $RC, $q DNS packets"; show portrule
fi

# 12. as many buffers as the kernel takes
PYIOV='
import socket, errno, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)
for n in (64, 65, 100, 1023, 1024, 1025):
    try: print(n, "sendmsg ->", u.sendmsg([b"a"] * n, [], 0, (sys.argv[1], 7)))
    except OSError as e: print(n, "sendmsg ->", errno.errorcode[e.errno])
    try: print(n, "echo ->", len(u.recv(2000)) if n <= 1024 else "-")
    except OSError as e: print(n, "echo ->", errno.errorcode[e.errno])
for n in (100, 1024):
    u.sendto(b"x" * 10, (sys.argv[1], 7))
    bufs = [bytearray(1) for _ in range(n)]
    try: print("recvmsg_into", n, "->", u.recvmsg_into(bufs)[0], bytes(b"".join(bufs[:10])))
    except OSError as e: print("recvmsg_into", n, "->", errno.errorcode[e.errno])
'
same "12 sendmsg/recvmsg with 64..1025 buffers on a proxied UDP socket" iov "$PY" -c "$PYIOV" "$T4"

# 13. a failed connect, then the same socket again
PYRETRY='
import socket, errno, sys
s = socket.socket()
r1 = s.connect_ex((sys.argv[1], 9))
so = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
r2 = s.connect_ex((sys.argv[1], 7))
print("first", errno.errorcode.get(r1, r1), "SO_ERROR after", so, "retry", errno.errorcode.get(r2, r2))
if r2 == 0:
    s.sendall(b"hi"); s.settimeout(3); print("echo", s.recv(10), "peer", s.getpeername())
'
same "13 a refused connect leaves SO_ERROR 0 and the socket connects again" retry "$PY" -c "$PYRETRY" "$T4"

# s. log lines quote only escaped text
PYINJECT='
import ctypes, socket
libc = ctypes.CDLL(None); buf = ctypes.create_string_buffer(512)
libc.res_query(b"x\nsocksify: info: forged-1", 1, 1, buf, 512)
try: socket.getaddrinfo("y\nsocksify: forged-2", 80)
except OSError: pass
'
# (The raw query's refusal is an info line: SOCKSIFY_LOG_LEVEL=info.)
run inject cl "$UH" env SOCKSIFY_LOG_LEVEL=info "$PY" -c "$PYINJECT"
run inject2 lab_c env LD_PRELOAD="$LIB" SOCKSIFY_PROXY='junk' "$PY" -c "$PYINJECT"
if ! grep -hq '^socksify: info: forged\|^socksify: forged' "$OUT/inject.err" "$OUT/inject2.err" &&
	grep -hq 'x\\x0asocksify' "$OUT/inject.err" && grep -hq 'y\\x0asocksify' "$OUT/inject2.err"; then
	pass "s a newline in a name is logged as \\x0a: no forged line"
else
	fail "s log injection"; sed 's/^/  | /' "$OUT/inject.err" "$OUT/inject2.err" | head
fi

# s. a UDP association that cannot be set up says so, every time: the fd
# table is filled but for one, which the program's socket takes, so that
# the association's control connection finds none.
PYMANY='
import socket, sys, errno
w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
w.sendto(b"warm", (sys.argv[1], 7))
w.close()
fails = []
for i in range(5):
    hog = []
    while True:
        try: hog.append(open("/dev/null"))
        except OSError: break
    hog.pop().close()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try: s.sendto(b"x", (sys.argv[1], 7))
    except OSError as e: fails.append(errno.errorcode[e.errno])
    s.close()
    for h in hog: h.close()
print(len(fails), " ".join(sorted(set(fails))))
'
run many lab_c bash -c "ulimit -n 64; exec env LD_PRELOAD='$LIB' SOCKSIFY_PROXY='$U4' $PY -c '$PYMANY' $T4"
l=$(grep -c 'control connection' "$OUT/many.err")
if [ "$RC" = 0 ] && [ "$(cat "$OUT/many.out")" = "5 EMFILE" ] && [ "$l" = 5 ]; then
	pass "s a UDP association that cannot open its control connection: EMFILE and a line, 5 times out of 5"
else
	fail "s association failures: $(cat "$OUT/many.out"), $l lines"; show many
fi

# s. an IPv6 UDP socket on ::1 cannot reach an IPv4 relay: a line
run v6lo cl "$U4" "$PY" -c '
import socket, errno, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::1", 0))
try: s.sendto(b"x", (sys.argv[1], 7)); print("sent")
except OSError as e: print(errno.errorcode[e.errno])
' "$LAB_TARGET6"
if grep -qx 'E[A-Z]*' "$OUT/v6lo.out" && [ "$(grep -c 'cannot be reached from this socket' "$OUT/v6lo.err")" = 1 ]; then
	pass "s IPv6 socket bound to ::1, IPv4 relay: $(cat "$OUT/v6lo.out") and one line saying why"
else
	fail "s ::1 socket and an IPv4 relay"; show v6lo
fi

# s. IPV6_V6ONLY socket and a proxy with IPv4 addresses only
run v6only cl "$U4" "$PY" -c '
import socket, errno, sys
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
print(errno.errorcode.get(s.connect_ex((sys.argv[1], 7)), "ok"))
' "$LAB_TARGET6"
if [ "$(cat "$OUT/v6only.out")" = ENETUNREACH ] && grep -q 'IPV6_V6ONLY' "$OUT/v6only.err"; then
	pass "s IPV6_V6ONLY and an IPv4-only proxy: ENETUNREACH, and the line says why"
else
	fail "s IPV6_V6ONLY"; show v6only
fi

# s. log_file through a symlink is not followed
mkdir -p "$WORK/logs"
ln -sf "$WORK/logs/victim" "$WORK/logs/socksify.log"
CONF=$WORK/log.conf
printf 'log_file %s\n' "$WORK/logs/socksify.log" >"$CONF"
run symlog cl "$DOWN" "$PY" -c "import socket; socket.socket().connect_ex(('$T4', 7))"
CONF=
if [ ! -e "$WORK/logs/victim" ] && grep -q 'socksify:' "$OUT/symlog.err"; then
	pass "s log_file that is a symlink: not followed (the line goes to stderr)"
else
	fail "s log_file symlink followed"; show symlog
fi

if [ "${HARDEN_KEEP:-0}" = 1 ]; then
	echo "harden: kept $WORK"
else
	rm -rf "$WORK"
fi
summary harden
