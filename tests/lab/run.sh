#!/bin/bash
# tests/lab/run.sh - end-to-end tests of socksify in the namespace lab
# (see lab.sh): unmodified programs in a client namespace that can reach
# only the SOCKS5 proxy (danted) on the border, talking to servers in the
# target namespace.
#
#   tests/lab/run.sh            uses ./socksify (build it first: make all)
#   LAB_VIA=proxychains tests/lab/run.sh
#                               validates the lab itself with proxychains4
#                               (the socksify-specific checks then fail)
#   LAB_KEEP=1                  keep the temp dir (danted logs, pcap)
#   LAB_VERBOSE=1               print every command's output
#
# Needs root and ip netns; otherwise every test is skipped (a failure in CI).
# Ends with "lab: N passed, N failed, N skipped".

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
# shellcheck source=lab.sh
. "$HERE/lab.sh"

IDENTITY=$TOP/build/prog/identity
THREADS=$TOP/build/prog/threads
VIA=${LAB_VIA:-socksify}
OUT=""   # per-test output dir, inside LAB_DIR

# ---------------------------------------------------------------- helpers
# via, pc_conf, run, show, got, check_eq: see lab.sh.

# Lines in both danted logs: any client connection makes danted log something.
danted_lines() { cat "$LAB_DANTED_LOG" "$LAB_DANTED_AUTH_LOG" | wc -l; }

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

# Prints the errno name a plain connect() fails with, or "connected".
PYERRNO='
import errno, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(20)
try:
    s.connect((host, port))
    print("connected")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
'

# ---------------------------------------------------------------- preconditions

if ! why=$(lab_available); then
	skip "lab tests" "$why"
	summary lab
	exit $?
fi
case $VIA in
socksify)
	if [ ! -x "$SOCKSIFY" ] || [ ! -f "$LIBSOCKSIFY" ]; then
		fail "socksify is built ($SOCKSIFY and $LIBSOCKSIFY missing: run make all)"
		summary lab
		exit 1
	fi
	;;
proxychains)
	command -v proxychains4 >/dev/null || { fail "proxychains4 installed"; summary lab; exit 1; }
	echo "lab: LAB_VIA=proxychains: validating the lab with proxychains4, not socksify"
	;;
*) fail "LAB_VIA=$VIA (want socksify or proxychains)"; summary lab; exit 1 ;;
esac
for p in "$IDENTITY" "$THREADS"; do
	[ -x "$p" ] || echo "lab: $p missing (make all builds it); its test will fail"
done

if ! lab_up; then
	fail "lab comes up (see messages above)"
	summary lab
	exit 1
fi
OUT=$LAB_DIR/out
mkdir -p "$OUT"
echo "lab: namespaces $(lab_namespaces | tr "\n" " ")temp dir $LAB_DIR"

P4=$LAB_PROXY4 P6=$LAB_PROXY6 T4=$LAB_TARGET4 T6=$LAB_TARGET6
U4="socks5://$P4:$LAB_PORT"
U6="socks5://[$P6]:$LAB_PORT"
TOKEN=$LAB_TOKEN

# ---------------------------------------------------------------- 8. control
# Without socksify nothing but the proxy is reachable.

run control4 lab_c curl -sS -g -m 5 "http://$T4/"
if [ "$RC" -ne 0 ] && ! grep -q "$TOKEN" "$OUT/control4.out"; then
	pass "8 control: curl http://$T4/ without socksify fails (no route; curl rc $RC)"
else
	fail "8 control: curl http://$T4/ without socksify fails"; show control4
fi
run control6 lab_c curl -sS -g -m 5 "http://[$T6]/"
if [ "$RC" -ne 0 ] && ! grep -q "$TOKEN" "$OUT/control6.out"; then
	pass "8 control: curl http://[$T6]/ without socksify fails (no route; curl rc $RC)"
else
	fail "8 control: curl http://[$T6]/ without socksify fails"; show control6
fi
run controlp lab_c nc -z -n -w 3 "$P4" "$LAB_PORT"
expect "8 control: the proxy $P4:$LAB_PORT itself is reachable directly" [ "$RC" -eq 0 ]

# ---------------------------------------------------------------- 9. capture on
# Everything the client sends or receives during tests 1-4 must be with the
# proxy.

PCAP=$LAB_DIR/client.pcap
lab_spawn "$LAB_NS_C" tcpdump -i "$LAB_IF_C" -n -U --immediate-mode -Z root -w "$PCAP" 2>"$LAB_DIR/tcpdump.err"
TCPDUMP_PID=$LAB_LAST_PID
for _ in $(seq 1 50); do
	grep -q 'listening on' "$LAB_DIR/tcpdump.err" 2>/dev/null && break
	sleep 0.1
done
grep -q 'listening on' "$LAB_DIR/tcpdump.err" || echo "lab: tcpdump did not report listening: $(cat "$LAB_DIR/tcpdump.err")"

# ---------------------------------------------------------------- 1. curl
check_eq "1 curl http://$T4/ via $U4" curl4 "$TOKEN" via "$U4" curl -sS -g -m 15 "http://$T4/"
for pu in "$U4" "$U6"; do
	check_eq "1 curl http://[$T6]/ via $pu" curl6 "$TOKEN" via "$pu" curl -sS -g -m 15 "http://[$T6]/"
done
# An IPv4 socket cannot reach a proxy that has only an IPv6 address without
# replacing the program's socket, which would lose its identity (test 10):
# it fails closed with the documented ENETUNREACH and a log line saying why.
if [ "$VIA" = socksify ]; then
	run v4via6 via "$U6" curl -sS -g -m 15 "http://$T4/"
	if [ "$RC" -ne 0 ] && ! got v4via6 "$TOKEN" &&
		grep -q "^socksify: .*IPv4 socket.*(ENETUNREACH)" "$OUT/v4via6.err"; then
		pass "1 curl http://$T4/ via $U6 fails closed: $(grep -m1 '^socksify: ' "$OUT/v4via6.err")"
	else
		fail "1 curl http://$T4/ via $U6 fails closed with ENETUNREACH"; show v4via6
	fi
fi

# ---------------------------------------------------------------- 2. wget
check_eq "2 wget -qO- http://$T4/ via $U4" wget4 "$TOKEN" via "$U4" wget -qO- -T 15 -t 1 "http://$T4/"
check_eq "2 wget -qO- http://[$T6]/ via $U6" wget6 "$TOKEN" via "$U6" wget -qO- -T 15 -t 1 "http://[$T6]/"

# ---------------------------------------------------------------- 3. python
MSG="python-echo-$TOKEN"
check_eq "3 python3 create_connection echo round trip to $T4:7" py4 "$MSG" \
	via "$U4" "$PY" -c "$PYECHO" "$T4" 7 "$MSG"
check_eq "3 python3 create_connection echo round trip to [$T6]:7" py6 "$MSG" \
	via "$U6" "$PY" -c "$PYECHO" "$T6" 7 "$MSG"

# ---------------------------------------------------------------- 4. nc
MSG="nc-echo-$TOKEN"
# shellcheck disable=SC2016 # sh -c gets its arguments as $1 $2
NCSH='printf "%s\n" "$1" | nc -N -n -w 10 "$2" 7'
run nc4 via "$U4" sh -c "$NCSH" sh "$MSG" "$T4"
if [ "$RC" -eq 0 ] && got nc4 "$MSG"; then pass "4 nc -N echo round trip to $T4:7"; else
	fail "4 nc -N echo round trip to $T4:7"; show nc4; fi
run nc6 via "$U6" sh -c "$NCSH" sh "$MSG" "$T6"
if [ "$RC" -eq 0 ] && got nc6 "$MSG"; then pass "4 nc -N echo round trip to [$T6]:7"; else
	fail "4 nc -N echo round trip to [$T6]:7"; show nc6; fi

# ---------------------------------------------------------------- 9. capture off
sleep 0.3
lab_kill "$TCPDUMP_PID"
# IPv6 neighbor discovery and MLD are ICMPv6 (protochain also sees through the
# hop-by-hop header MLD uses) and are link-local housekeeping, not traffic of
# the programs: they are excluded explicitly.  ARP is not IP.  Everything
# else must have the proxy as its other end.
STRAY='(ip and not host '"$P4"') or (ip6 and not ip6 protochain 58 and not host '"$P6"')'
if [ -s "$PCAP" ]; then
	total=$(tcpdump -nn -r "$PCAP" 2>/dev/null | wc -l)
	toproxy4=$(tcpdump -nn -r "$PCAP" "ip and host $P4 and tcp port $LAB_PORT" 2>/dev/null | wc -l)
	toproxy6=$(tcpdump -nn -r "$PCAP" "ip6 and host $P6 and tcp port $LAB_PORT" 2>/dev/null | wc -l)
	tcpdump -nn -r "$PCAP" "$STRAY" >"$OUT/stray.txt" 2>/dev/null
	nstray=$(wc -l <"$OUT/stray.txt")
	if [ "$toproxy4" -gt 0 ] && [ "$toproxy6" -gt 0 ] && [ "$nstray" -eq 0 ]; then
		pass "9 capture: all $((toproxy4 + toproxy6)) IP packets of tests 1-4 were with the proxy ($toproxy4 IPv4, $toproxy6 IPv6; $total frames incl. ARP/ND)"
	else
		fail "9 capture: all IP packets were with the proxy ($toproxy4 v4 / $toproxy6 v6 to proxy, $nstray stray)"
		head -n 10 "$OUT/stray.txt" | sed 's/^/  stray| /'
	fi
else
	fail "9 capture: tcpdump wrote a capture"; sed 's/^/  | /' "$LAB_DIR/tcpdump.err"
fi

# ---------------------------------------------------------------- 5. auth
UA="socks5://$LAB_USER:$LAB_PASS@$P4:$LAB_AUTH_PORT"
UB="socks5://$LAB_USER:wrong-password@$P4:$LAB_AUTH_PORT"
check_eq "5 username/password: right password, curl http://$T4/" auth4 "$TOKEN" \
	via "$UA" curl -sS -g -m 15 "http://$T4/"
check_eq "5 username/password: right password via [$P6], curl http://[$T6]/" auth6 "$TOKEN" \
	via "socks5://$LAB_USER:$LAB_PASS@[$P6]:$LAB_AUTH_PORT" curl -sS -g -m 15 "http://[$T6]/"
run authbad via "$UB" curl -sS -g -m 15 "http://$T4/"
if [ "$RC" -ne 0 ] && ! grep -q "$TOKEN" "$OUT/authbad.out" && grep -q '^curl: (' "$OUT/authbad.err"; then
	pass "5 wrong password: curl fails (rc $RC: $(grep -m1 '^curl:' "$OUT/authbad.err"))"
else
	fail "5 wrong password: curl fails"; show authbad
fi
if grep -Eiq '^socksify: .*authenticat' "$OUT/authbad.err"; then
	pass "5 wrong password: stderr says why: $(grep -Ei -m1 '^socksify: .*authenticat' "$OUT/authbad.err")"
else
	fail "5 wrong password: a \"socksify:\" line on stderr mentions authentication"; show authbad
fi
check_eq "5 wrong password: connect() fails with EACCES" authbadpy EACCES \
	via "$UB" "$PY" -c "$PYERRNO" "$T4" 7
if grep -q 'password authentication failed' "$LAB_DANTED_AUTH_LOG"; then
	pass "5 wrong password: danted logged the refused authentication"
else
	fail "5 wrong password: danted logged the refused authentication"; lab_danted_tail 6
fi

# ---------------------------------------------------------------- 6. proxy down
UD="socks5://$P4:$LAB_DOWN_PORT"
run down via "$UD" "$PY" -c "$PYERRNO" "$T4" 7
nlog=$(grep -c '^socksify: ' "$OUT/down.err")
if got down ECONNREFUSED; then
	pass "6 proxy down: connect() fails with ECONNREFUSED"
else
	fail "6 proxy down: connect() fails with ECONNREFUSED"; show down
fi
if [ "$nlog" -eq 1 ]; then
	pass "6 proxy down: exactly one log line: $(grep '^socksify: ' "$OUT/down.err")"
else
	fail "6 proxy down: exactly one \"socksify:\" log line (got $nlog)"; show down
fi
run downcurl via "$UD" curl -sS -g -m 15 "http://$T4/"
if [ "$RC" -ne 0 ] && ! grep -q "$TOKEN" "$OUT/downcurl.out"; then
	pass "6 proxy down: curl fails (rc $RC)"
else
	fail "6 proxy down: curl fails"; show downcurl
fi

# ---------------------------------------------------------------- 7. loopback
lab_spawn "$LAB_NS_C" "$PY" "$HERE/servers.py" --addr 127.0.0.1 --addr ::1 \
	--http-port 8080 --echo-port 8007 --token "$LAB_LOCAL_TOKEN" \
	--ready "$LAB_DIR/local.ready" 2>>"$LAB_DIR/local.log"
LOCAL_PID=$LAB_LAST_PID
if lab_wait_file "$LAB_DIR/local.ready" 100 && lab_wait_port "$LAB_NS_C" 127.0.0.1 8080 &&
	lab_wait_port "$LAB_NS_C" ::1 8080; then
	before=$(danted_lines)
	check_eq "7 loopback: curl http://127.0.0.1:8080/ under socksify goes direct" lo4 "$LAB_LOCAL_TOKEN" \
		via "$U4" curl -sS -g -m 15 "http://127.0.0.1:8080/"
	check_eq "7 loopback: curl http://[::1]:8080/ under socksify goes direct" lo6 "$LAB_LOCAL_TOKEN" \
		via "$U4" curl -sS -g -m 15 "http://[::1]:8080/"
	MSG="loopback-echo-$LAB_LOCAL_TOKEN"
	check_eq "7 loopback: python echo to 127.0.0.1:8007 under socksify" lopy "$MSG" \
		via "$U4" "$PY" -c "$PYECHO" 127.0.0.1 8007 "$MSG"
	sleep 0.3
	after=$(danted_lines)
	if [ "$before" = "$after" ] && ! grep -Eq '(^| )(127\.0\.0\.1|::1)\.80(80|07)' "$LAB_DANTED_LOG" "$LAB_DANTED_AUTH_LOG"; then
		pass "7 loopback: danted logged nothing for them ($after log lines before and after)"
	else
		fail "7 loopback: danted logged nothing for them ($before log lines before, $after after)"
		lab_danted_tail 6
	fi
else
	fail "7 loopback: local server in the client namespace came up"
fi
lab_kill "$LOCAL_PID"

# ---------------------------------------------------------------- fd lifecycle
# The fd table across dup/dup2/dup3/F_DUPFD/close/close_range/closefrom/fork,
# and TCP Fast Open's implicit connect, through the real proxy.
FDLIFE=$TOP/build/prog/fdlife
if [ "$VIA" = socksify ] && [ -x "$FDLIFE" ]; then
	for t in "$T4" "$T6"; do
		run fdlife via "$U4" "$FDLIFE" "$t" 7
		if [ "$RC" -eq 0 ] && grep -q 'all facts hold' "$OUT/fdlife.out"; then
			pass "fd lifecycle and MSG_FASTOPEN to $t:7 ($(grep -c '^ok:' "$OUT/fdlife.out") facts)"
		else
			fail "fd lifecycle and MSG_FASTOPEN to $t:7"; show fdlife
		fi
	done
elif [ "$VIA" = socksify ]; then
	fail "fd lifecycle: $FDLIFE is built (make all)"
fi

# ---------------------------------------------------------------- 10. identity
if [ -x "$IDENTITY" ]; then
	for t in "$T4" "$T6"; do
		pu=$U4; [ "$t" = "$T6" ] && pu=$U6
		run identity via "$pu" "$IDENTITY" "$t" 7
		if [ "$RC" -eq 0 ] && grep -q 'all facts hold' "$OUT/identity.out" && ! grep -q '^FAIL' "$OUT/identity.out"; then
			pass "10 identity: non-blocking + epoll before connect to $t:7 ($(grep -c '^ok:' "$OUT/identity.out") facts)"
		else
			fail "10 identity: non-blocking + epoll before connect to $t:7"; show identity
		fi
		lport=$((40000 + ($$ + RANDOM) % 20000))
		run identityb via "$pu" "$IDENTITY" -b "$lport" "$t" 7
		if [ "$RC" -eq 0 ] && grep -q 'all facts hold' "$OUT/identityb.out" && ! grep -q '^FAIL' "$OUT/identityb.out"; then
			pass "10 identity: blocking, bound to local port $lport, to $t:7 ($(grep -c '^ok:' "$OUT/identityb.out") facts)"
		else
			fail "10 identity: blocking, bound to local port $lport, to $t:7"; show identityb
		fi
	done
else
	fail "10 identity: $IDENTITY is built (make all)"
fi

# ---------------------------------------------------------------- 11. threads + fork
if [ -x "$THREADS" ]; then
	run threads4 via "$U4" "$THREADS" "$T4" 7 16 50
	if [ "$RC" -eq 0 ] && grep -q '^threads: 800 ok, 0 failed' "$OUT/threads4.out" &&
		grep -q 'child exited 0' "$OUT/threads4.out"; then
		pass "11 threads: $(head -n1 "$OUT/threads4.out"); fork child and parent ok"
	else
		fail "11 threads: 16 x 50 connections to $T4:7, then fork"; show threads4
	fi
	run threads6 via "$U6" "$THREADS" "$T6" 7 4 10
	if [ "$RC" -eq 0 ] && grep -q '^threads: 40 ok, 0 failed' "$OUT/threads6.out" &&
		grep -q 'child exited 0' "$OUT/threads6.out"; then
		pass "11 threads: IPv6: $(head -n1 "$OUT/threads6.out"); fork ok"
	else
		fail "11 threads: 4 x 10 connections to [$T6]:7, then fork"; show threads6
	fi
else
	fail "11 threads: $THREADS is built (make all)"
fi

# ---------------------------------------------------------------- extras
# (Names, socks5h:// and the resolver hooks are tested by dns.sh.)
if [ "$VIA" = socksify ]; then
	# The proxy from the environment instead of -x.
	run envproxy lab_c env SOCKSIFY_PROXY="$U4" timeout 60 "$SOCKSIFY" curl -sS -g -m 15 "http://$T4/"
	if [ "$RC" -eq 0 ] && got envproxy "$TOKEN"; then
		pass "extra SOCKSIFY_PROXY from the environment"
	else
		fail "extra SOCKSIFY_PROXY from the environment"; show envproxy
	fi

	# -v: "log connections (info)" says socksify -h.
	run verbose lab_c timeout 60 "$SOCKSIFY" -v -x "$U4" -- curl -sS -g -m 15 "http://$T4/"
	if [ "$RC" -eq 0 ] && got verbose "$TOKEN" && grep -q "^socksify: .*$T4:80" "$OUT/verbose.err"; then
		pass "extra -v logs the proxied connection: $(grep -m1 '^socksify: ' "$OUT/verbose.err")"
	else
		fail "extra -v logs the proxied connection (a \"socksify:\" line naming $T4:80)"; show verbose
	fi

	# A config file (-f) with refuse rules: refused destinations fail with
	# EACCES, the rest still goes through the proxy.
	CONF=$LAB_DIR/socks.conf
	cat >"$CONF" <<EOF
# lab config
proxy $U4
timeout 5
route refuse $T4 7
route refuse 2001:db8:2::/64 7
route proxy all
EOF
	run confok lab_c timeout 60 "$SOCKSIFY" -f "$CONF" -- curl -sS -g -m 15 "http://$T4/"
	if [ "$RC" -eq 0 ] && got confok "$TOKEN"; then
		pass "extra -f config: curl http://$T4/ through the proxy from the file"
	else
		fail "extra -f config: curl http://$T4/ through the proxy from the file"; show confok
	fi
	check_eq "extra -f config: route refuse $T4 7 -> connect() EACCES" confref4 EACCES \
		lab_c timeout 60 "$SOCKSIFY" -f "$CONF" -- "$PY" -c "$PYERRNO" "$T4" 7
	check_eq "extra -f config: route refuse 2001:db8:2::/64 7 -> connect() EACCES" confref6 EACCES \
		lab_c timeout 60 "$SOCKSIFY" -f "$CONF" -- "$PY" -c "$PYERRNO" "$T6" 7

	# A broken config reached without the launcher (LD_PRELOAD from a shell
	# profile): the program runs, proxied connects fail closed with EACCES
	# and exactly one log line naming FILE:LINE, nothing goes out directly.
	BAD=$LAB_DIR/broken.conf
	printf 'proxy %s\ntimeout soon\n' "$U4" >"$BAD"
	run broken lab_c env LD_PRELOAD="$LIBSOCKSIFY" SOCKSIFY_CONF="$BAD" timeout 60 "$PY" -c "$PYERRNO" "$T4" 7
	if got broken EACCES && [ "$(grep -c '^socksify: ' "$OUT/broken.err")" = 1 ] &&
		grep -q "^socksify: .*$BAD:2: " "$OUT/broken.err"; then
		pass "extra broken config via LD_PRELOAD: EACCES and one line: $(grep -m1 '^socksify: ' "$OUT/broken.err")"
	else
		fail "extra broken config via LD_PRELOAD: EACCES and one line naming $BAD:2"; show broken
	fi

	# SOCKSIFY_LOG_FILE: the proxy-down line goes to the file, not stderr.
	LOGF=$LAB_DIR/socksify.log
	run logfile lab_c env SOCKSIFY_LOG_FILE="$LOGF" timeout 60 "$SOCKSIFY" -x "$UD" -- "$PY" -c "$PYERRNO" "$T4" 7
	if got logfile ECONNREFUSED && [ -f "$LOGF" ] && grep -q 'ECONNREFUSED' "$LOGF" &&
		! grep -q '^socksify: ' "$OUT/logfile.err"; then
		pass "extra SOCKSIFY_LOG_FILE: the failure is logged to the file, not stderr"
	else
		fail "extra SOCKSIFY_LOG_FILE: the failure is logged to the file, not stderr"; show logfile
		[ -f "$LOGF" ] && sed 's/^/  logfile| /' "$LOGF"
	fi
fi

lab_down
summary lab
