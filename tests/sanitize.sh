#!/bin/bash
# tests/sanitize.sh - the AddressSanitizer + UndefinedBehaviorSanitizer build
# (`make sanitize`: build/san/) under test.
#
#   a  every unit suite, build/san/unit/test_* (CK_FORK=yes), LeakSanitizer
#      on; the suites run side by side.  A suite passes when it exits 0 and
#      no sanitizer said anything.
#   b  build/san/libsocksify.so preloaded (after the ASan runtime) into
#      real, unmodified programs in the namespace lab (lab.sh) through
#      danted: curl over IPv4 and IPv6, python3 TCP echo, python3 UDP echo
#      (UDP ASSOCIATE), and names in remote-DNS mode (socks5h://: curl and
#      python3).  A program passes when its output is right and no
#      sanitizer said anything.  First a control: a deliberate heap overflow
#      in the same setup must be reported, so a silent run means something.
#
# "Said anything": ASan and LSan write to log_path files (one per process);
# UBSan in GCC's combined runtime ignores log_path and prints to stderr, so
# stderr is searched too.
#
# The lab needs root and network namespaces; without them part b is skipped
# with the reason (a failure in CI).  Ends with
# "sanitize: N passed, N failed, N skipped".  About 15 s.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lab/lab.sh
. "$TOP/tests/lab/lab.sh"

cd "$TOP" || exit 1
SANLIB=$TOP/build/san/libsocksify.so
# Keeps the ASan runtime's late initialisation from hanging curl: see
# tests/san/asan_dlerror_fix.c.
SANFIX=$TOP/build/san/asan-dlerror-fix.so
ASAN_RT=$(${CC:-gcc} -print-file-name=libasan.so)
T=$(mktemp -d /tmp/socksify-san.XXXXXX)
# lab_up replaces this trap with its own (lab_down); it is set again after.
trap 'rm -rf "$T"' EXIT

# san_said DIR ERRFILE: 0 if a sanitizer reported something: a log_path
# file in DIR, or a report on the program's stderr.
SAN_PAT='runtime error:|ERROR: (AddressSanitizer|LeakSanitizer)|UndefinedBehaviorSanitizer|SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer'
san_said() {
	compgen -G "$1/asan.*" >/dev/null || grep -Eq "$SAN_PAT" "$2" 2>/dev/null
}
# san_show DIR ERRFILE: the reports, for a failure.
san_show() {
	local f
	for f in "$1"/asan.*; do
		[ -f "$f" ] || continue
		echo "  -- $f:"
		head -n 40 "$f" | sed 's/^/  | /'
	done
	echo "  -- stderr:"
	head -n 40 "$2" | sed 's/^/  | /'
}

# UBSan stops at the first report (halt_on_error, and the build has
# -fno-sanitize-recover=undefined); ASan aborts so a Check child's report
# is a failed test, not just a message.
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Beyond the defaults, for the code built here: use of a returned
# function's stack frame, string functions reading past a terminator.
ASAN_STRICT=detect_stack_use_after_return=1:strict_string_checks=1

# ---------------------------------------------------------------- a. unit
# LeakSanitizer runs here (checked: it works in this environment, forked
# Check children included, as root without special ptrace permissions).
units=()
for t in build/san/unit/test_*; do
	[ -x "$t" ] && units+=("$t")
done
if [ ${#units[@]} -eq 0 ]; then
	fail "sanitized unit suites are built (build/san/unit/test_*: make sanitize)"
fi
declare -A upid
for t in "${units[@]}"; do
	n=${t##*/}
	mkdir -p "$T/unit/$n"
	ASAN_OPTIONS=$ASAN_STRICT:detect_leaks=1:abort_on_error=1:log_path=$T/unit/$n/asan \
		CK_FORK=yes timeout 300 "$t" >"$T/unit/$n/out" 2>"$T/unit/$n/err" &
	upid[$n]=$!
done
for t in "${units[@]}"; do
	n=${t##*/} d=$T/unit/$n
	wait "${upid[$n]}"
	rc=$?
	line=$(grep -E '^[0-9]+%: Checks: ' "$d/out" | tail -n 1)
	if [ $rc -eq 0 ] && ! san_said "$d" "$d/err"; then
		pass "a unit $n under ASan+UBSan+LSan (${line:-no closing line})"
	else
		fail "a unit $n under ASan+UBSan+LSan (exit $rc; ${line:-no closing line})"
		grep -E ':[EF]:' "$d/out" | head -n 10 | sed 's/^/  | /'
		san_show "$d" "$d/err"
	fi
done

# ---------------------------------------------------------------- b. programs
if [ ! -f "$SANLIB" ] || [ ! -f "$SANFIX" ]; then
	fail "b build/san/libsocksify.so and asan-dlerror-fix.so are built (make sanitize)"
	summary sanitize
	exit
fi
if [ ! -f "$ASAN_RT" ]; then
	fail "b the ASan runtime is installed (${CC:-gcc} -print-file-name=libasan.so gave $ASAN_RT)"
	summary sanitize
	exit
fi
if ! why=$(lab_available); then
	skip "b real programs through the sanitized library in the lab" "$why"
	summary sanitize
	exit
fi
if ! lab_up; then
	fail "b the lab comes up (see messages above)"
	summary sanitize
	exit
fi
trap 'lab_down; rm -rf "$T"' EXIT

P4=$LAB_PROXY4 P6=$LAB_PROXY6 T4=$LAB_TARGET4 T6=$LAB_TARGET6
U4="socks5://$P4:$LAB_PORT"
U6="socks5://[$P6]:$LAB_PORT"
UH="socks5h://$P4:$LAB_PORT"

# san_run NAME URL CMD...: CMD in the client namespace with the ASan
# runtime, the sanitized library and SANFIX preloaded (the runtime must
# come first: it refuses to start otherwise), the proxy from
# SOCKSIFY_PROXY and nothing else configured.  Not through the launcher: it
# puts its library first in LD_PRELOAD and checks the configuration with
# the library alone, where the ASan runtime would not come first.
# LeakSanitizer runs for curl, which frees what it allocated; not for
# python3, which leaves its interpreter's memory to the exit by design (its
# reports would bury the shim's; the unit suites check the core for leaks).
# Output in $T/NAME/{out,err}, exit code in RC.  ASan aborts on a report
# (SAN_ABORT=0: it exits 1 instead).
san_run() {
	local name=$1 url=$2 d=$T/$1 leaks=0
	shift 2
	[ "$1" = curl ] && leaks=1
	mkdir -p "$d"
	timeout 60 ip netns exec "$LAB_NS_C" env -u SOCKSIFY_CONF -u ALL_PROXY \
		-u all_proxy -u SOCKSIFY_LOG_FILE -u SOCKSIFY_LOG_LEVEL \
		HOME="$d" XDG_CONFIG_HOME="$d/xdg" SOCKSIFY_PROXY="$url" \
		ASAN_OPTIONS="detect_stack_use_after_return=1:detect_leaks=$leaks:abort_on_error=${SAN_ABORT:-1}:log_path=$d/asan" \
		LD_PRELOAD="$ASAN_RT $SANLIB $SANFIX" "$@" >"$d/out" 2>"$d/err"
	RC=$?
}

# san_expect DESC NAME WANT URL CMD...: pass if CMD exits 0, prints exactly
# WANT, and no sanitizer said anything.
san_expect() {
	local desc=$1 name=$2 want=$3
	shift 3
	san_run "$name" "$@"
	if [ "$RC" -eq 0 ] && [ "$(cat "$T/$name/out")" = "$want" ] &&
		! san_said "$T/$name" "$T/$name/err"; then
		pass "b $desc"
	else
		fail "b $desc (rc $RC; wanted \"$want\", got \"$(head -c 200 "$T/$name/out")\")"
		san_show "$T/$name" "$T/$name/err"
		lab_danted_tail 6 | sed 's/^/  /'
	fi
}

PYECHO='
import socket, sys
host, port, msg = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
s = socket.create_connection((host, port), timeout=10)
s.sendall(msg)
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
s.close()
print(data.decode(), end="")
'
# sendto/recvfrom, or connect + send/recv: prints "MSG|peer-host peer-port".
PYUDP='
import socket, sys
mode, host, port, msg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
if mode == "sendto":
    s.sendto(msg.encode(), (host, port))
    data, frm = s.recvfrom(65536)
else:
    s.connect((host, port))
    s.send(msg.encode())
    data, frm = s.recv(65536), s.getpeername()
print("%s|%s %d" % (data.decode(), frm[0], frm[1]))
'
# The control: a heap overflow through libc memmove, which the ASan
# runtime intercepts (python3 itself is not instrumented).
PYOVERFLOW='
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
p = libc.malloc(8)
ctypes.memmove(p, b"x" * 64, 64)
print("not caught")
'

SAN_ABORT=0 san_run control "$U4" "$PY" -c "$PYOVERFLOW"
if compgen -G "$T/control/asan.*" >/dev/null &&
	grep -q 'heap-buffer-overflow' "$T"/control/asan.*; then
	pass "b control: a deliberate heap overflow in python3 with the same preload is reported ($(grep -ho -m1 'AddressSanitizer: [a-z-]*' "$T"/control/asan.*))"
else
	fail "b control: a deliberate heap overflow in python3 with the same preload is reported (rc $RC)"
	san_show "$T/control" "$T/control/err"
fi

TOKEN=$LAB_TOKEN
san_expect "curl http://$T4/ via $U4" curl4 "$TOKEN" \
	"$U4" curl -sS -g -m 15 "http://$T4/"
san_expect "curl http://[$T6]/ via $U6" curl6 "$TOKEN" \
	"$U6" curl -sS -g -m 15 "http://[$T6]/"
MSG="san-tcp-$TOKEN"
san_expect "python3 TCP echo $T4:7 via $U4" pytcp "$MSG" \
	"$U4" "$PY" -c "$PYECHO" "$T4" 7 "$MSG"
san_expect "python3 UDP sendto/recvfrom echo $T4:$LAB_UDP_PORT via $U4 (UDP ASSOCIATE)" \
	pyudp4 "san-udp4|$T4 $LAB_UDP_PORT" \
	"$U4" "$PY" -c "$PYUDP" sendto "$T4" "$LAB_UDP_PORT" san-udp4
san_expect "python3 UDP connect+send/recv echo [$T6]:$LAB_UDP_PORT via $U6 (UDP ASSOCIATE)" \
	pyudp6 "san-udp6|$T6 $LAB_UDP_PORT" \
	"$U6" "$PY" -c "$PYUDP" connect "$T6" "$LAB_UDP_PORT" san-udp6
san_expect "curl http://$LAB_NAME/ via $UH (the proxy resolves the name)" curlh "$TOKEN" \
	"$UH" curl -sS -m 15 "http://$LAB_NAME/"
MSG="san-name-$TOKEN"
san_expect "python3 TCP echo $LAB_NAME:7 via $UH (getaddrinfo placeholder)" pyname "$MSG" \
	"$UH" "$PY" -c "$PYECHO" "$LAB_NAME" 7 "$MSG"

# Asynchronous connects (issue 8): 50 at once from one asyncio loop (the
# helper thread, epoll registrations taken out and put back) and from
# curl's multi interface (poll substitution).
PYASYNC='
import asyncio, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
async def one(i):
    r, w = await asyncio.open_connection(host, port)
    w.write(b"a%d\n" % i)
    await w.drain()
    w.write_eof()
    d = await r.read()
    w.close()
    return d == b"a%d\n" % i
async def main():
    ok = await asyncio.gather(*[one(i) for i in range(n)])
    print("%d of %d" % (sum(ok), n))
asyncio.run(main())
'
san_expect "python3 asyncio: 50 connects at once to $T4:7 via $U4 (asynchronous connect)" \
	pyasync "50 of 50" "$U4" "$PY" -c "$PYASYNC" "$T4" 7 50
san_expect "curl --parallel: 20 fetches at once of http://$T4/ via $U4 (poll while pending)" \
	curlpar "$(for _ in $(seq 20); do echo "$TOKEN"; done)" \
	"$U4" curl -sS -g -m 15 --parallel --parallel-max 20 \
	$(for _ in $(seq 20); do printf ' http://%s/' "$T4"; done)

# san_facts DESC NAME URL CMD...: a test program of ours (tests/prog,
# fact.h lines): pass if it exits 0, printed no FAIL and the sanitizers
# said nothing.
san_facts() {
	local desc=$1 name=$2
	shift 2
	san_run "$name" "$@"
	if [ "$RC" -eq 0 ] && grep -q '^ok:' "$T/$name/out" &&
		! grep -q '^FAIL' "$T/$name/out" && ! san_said "$T/$name" "$T/$name/err"; then
		pass "b $desc ($(grep -c '^ok:' "$T/$name/out") facts)"
	else
		fail "b $desc (rc $RC)"
		sed 's/^/  | /' "$T/$name/out" | head -10
		san_show "$T/$name" "$T/$name/err"
	fi
}
PROG=$TOP/build/prog
for p in udpstress; do
	[ -x "$PROG/$p" ] || make -s -C "$TOP" "build/prog/$p" >/dev/null 2>&1
done
san_facts "four threads set up one socket's association at once (udpstress threads)" \
	udpthreads "$U4" "$PROG/udpstress" "$T4" "$LAB_UDP_PORT" threads
san_facts "cancelled closes of proxied UDP sockets (udpstress cancelclose)" \
	udpcancel "$U4" "$PROG/udpstress" "$T4" "$LAB_UDP_PORT" cancelclose
# (No bad-pointer cases here: the ASan runtime's own interceptors, which
# come before the shim, read through such pointers themselves.)

lab_down
rm -rf "$T"
summary sanitize
