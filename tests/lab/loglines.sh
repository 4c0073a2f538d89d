#!/bin/bash
# tests/lab/loglines.sh - the shim's log lines (issue 10's "error lines that
# help") in the namespace lab (see lab.sh): each check runs a real program
# (python3, curl) under the launcher and asserts the exact "socksify:"
# lines on its stderr, how many and what they say.
#
# In the border: danted (lab.sh), microsocks on 198.18.0.1:1090 (answers
# UDP ASSOCIATE and BIND with "command not supported"), OpenSSH's ssh -D
# on 198.18.0.1:1084 (to an sshd on the border's loopback; skipped without
# openssh-server), and, one run at a time, tests/fake/fake_socks5.py on
# 198.18.0.1:1083, scripted to hang up right after the request the way
# ssh -D does (on UDP ASSOCIATE and BIND always, on a CONNECT it cannot
# carry out).
#
#   a  a hang-up right after the request names the request and what it
#      usually means: CONNECT (blocking: the synchronous driver; curl's
#      non-blocking connect: the helper thread), UDP ASSOCIATE and BIND
#      (EOPNOTSUPP); a CONNECT by name through socks5h (both placeholders
#      tried, one line); a proxy whose own name cannot be resolved (the
#      same "failed:" form); the same hang-ups through ssh -D itself (UDP ASSOCIATE,
#      BIND, and a name it cannot resolve); control: microsocks' "command
#      not supported"
#   b  one line per failed name: a program that tries a name's IPv4 and
#      IPv6 placeholders (python's create_connection, curl) gets one error
#      line, the repeat at debug level; another port is another line; the
#      same failure after SFY_NAME_FAIL_MS (2 s) is logged again; a name a
#      rule refuses, one line
#   c  -vv names the rule behind a direct decision (FILE:LINE and the rule
#      as written, or the built-in loopback / unspecified-address rule),
#      for connects and datagrams; nothing below debug; a refusal's line
#      (at error level) names its rule, for connects and datagrams
#   d  a raw DNS query (res_query, res_search) refused in remote mode: one
#      info line per process, none at the default level, the later ones
#      at debug level
#   e  a config file with a password others may read: the launcher warns
#      once; the library itself never does
#
#   tests/lab/loglines.sh       uses ./socksify (build it first: make all)
#   LAB_KEEP=1                  keep the temp dir (outputs)
#   LAB_VERBOSE=1               print every command's output
#
# Needs root and ip netns; otherwise every test is skipped (a failure in CI).
# Ends with "loglines: N passed, N failed, N skipped".

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
# shellcheck source=lab.sh
. "$HERE/lab.sh"

VIA=socksify
OUT=""
FAKE_PORT=1083
MS_PORT=1090
T_START=$(date +%s)

# The programs print "ok" or the errno's name (EOPNOTSUPP, not python's
# ENOTSUP, for 95).
PYNAME='
import errno
def name(e):
    return "EOPNOTSUPP" if e == errno.EOPNOTSUPP else errno.errorcode.get(e, str(e))
'
# A connect that prints "ok" or the errno's name.  HOST PORT [HOST PORT...]:
# one create_connection each (every address of a name in turn).
PYCONN=$PYNAME'
import socket, sys
a = sys.argv[1:]
for i in range(0, len(a), 2):
    try:
        socket.create_connection((a[i], int(a[i + 1])), timeout=10).close()
        print("ok")
    except OSError as e:
        print(name(e.errno))
'
# Datagrams: HOST PORT N: N sendto's, each "ok" or the errno's name.
PYSEND=$PYNAME'
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(n):
    try:
        u.sendto(b"x", (host, port))
        print("ok")
    except OSError as e:
        print(name(e.errno))
'
# The call-back pattern: a connection through the proxy, then a listener.
PYLISTEN=$PYNAME'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
l = socket.socket()
l.bind(("0.0.0.0", 0))
try:
    l.listen(1)
    print("listening")
except OSError as e:
    print(name(e.errno))
'
# Raw DNS: N res_query calls then one res_search, each result printed.
PYRES='
import ctypes, sys
libc = ctypes.CDLL(None)
buf = ctypes.create_string_buffer(512)
for i in range(int(sys.argv[1])):
    print(libc.res_query(b"_http._tcp.deb.socksify.test", 1, 33, buf, 512))
print(libc.res_search(b"www.socksify.test", 1, 1, buf, 512))
'

# ---------------------------------------------------------------- helpers
# via, run, show, got: see lab.sh.

# lines DESC NAME EXPECTED: pass when NAME's stderr holds exactly the
# "socksify:" lines EXPECTED (newline-separated, in order).
lines() {
	local desc=$1 name=$2 want=$3 have n
	have=$(grep '^socksify:' "$OUT/$name.err")
	n=$(printf '%s' "$want" | grep -c '^')
	if [ "$have" = "$want" ]; then
		pass "$desc ($n line$([ "$n" = 1 ] || echo s))"
	else
		fail "$desc"
		echo "  -- wanted:"
		printf '%s\n' "$want" | sed 's/^/  | /'
		echo "  -- got:"
		printf '%s\n' "$have" | sed 's/^/  | /'
		show "$name"
	fi
}

# outis DESC NAME TEXT: pass when NAME's stdout is TEXT.
outis() {
	if got "$2" "$3"; then
		pass "$1"
	else
		fail "$1 (wanted \"$3\")"
		show "$2"
	fi
}

# fake_start SCENARIO CONNS: fake_socks5.py on $P4:$FAKE_PORT in the border
# (stopped by fake_stop); 1 when it does not come up.
FAKE_PID=""
fake_start() {
	lab_fake "$1" "$2" "$FAKE_PORT" "$OUT/fake-$1.log"
	FAKE_PID=$LAB_FAKE_PID
}
fake_stop() {
	[ -n "$FAKE_PID" ] && lab_kill "$FAKE_PID"
	FAKE_PID=""
}

# vv NAME URL LEVEL CMD...: CMD through URL with the shim's log at LEVEL.
vv() {
	local name=$1 url=$2 level=$3
	shift 3
	run "$name" via "$url" env SOCKSIFY_LOG_LEVEL="$level" "$@"
}

# ---------------------------------------------------------------- preconditions

if ! why=$(lab_available); then
	skip "loglines lab tests" "$why"
	summary loglines
	exit $?
fi
if [ ! -x "$SOCKSIFY" ] || [ ! -f "$LIBSOCKSIFY" ]; then
	fail "socksify is built ($SOCKSIFY, $LIBSOCKSIFY: run make all)"
	summary loglines
	exit 1
fi
if ! lab_up; then
	fail "lab comes up (see messages above)"
	summary loglines
	exit 1
fi
OUT=$LAB_DIR/out
mkdir -p "$OUT"
echo "loglines: namespaces $(lab_namespaces | tr "\n" " ")temp dir $LAB_DIR"

P4=$LAB_PROXY4 T4=$LAB_TARGET4
UH="socks5h://$P4:$LAB_PORT"
UF="socks5://$P4:$FAKE_PORT"
UFH="socks5h://$P4:$FAKE_PORT"
UMS="socks5://$P4:$MS_PORT"
NX=nosuch.$LAB_DOMAIN # NXDOMAIN from dnsmasq: danted says host unreachable
FAKEP="$P4:$FAKE_PORT"

HINT_CONNECT="a proxy does so when it cannot resolve the name or reach the destination (ssh -D, for one)"
HINT_UDP="it carries no UDP (ssh -D, for one, does CONNECT only)"
HINT_BIND="it offers no BIND (ssh -D, for one, does CONNECT only)"

# ---------------------------------------------------------------- a. hang-ups
if fake_start close_reply_0 1; then
	run a_connect via "$UF" "$PY" -c "$PYCONN" "$T4" 80
	outis "a blocking CONNECT, the proxy hangs up after the request: ECONNRESET" a_connect ECONNRESET
	lines "a blocking CONNECT hang-up: one line naming CONNECT and what it means" a_connect \
		"socksify: connect to $T4:80 via $FAKEP failed: the proxy hung up on the CONNECT request without a reply: $HINT_CONNECT (ECONNRESET)"
else
	fail "a the fake proxy listens on $FAKEP"; sed 's/^/  | /' "$LAB_DIR/fake.err"
fi
fake_stop

if fake_start close_reply_0 1; then
	run a_curl via "$UF" curl -sS --max-time 10 "http://$T4/"
	lines "a curl (non-blocking connect, the helper thread): the same line" a_curl \
		"socksify: connect to $T4:80 via $FAKEP failed: the proxy hung up on the CONNECT request without a reply: $HINT_CONNECT (ECONNRESET)"
fi
fake_stop

if fake_start close_reply_0 1; then
	run a_udp via "$UF" "$PY" -c "$PYSEND" "$T4" 7 1
	outis "a UDP ASSOCIATE, the proxy hangs up after the request: sendto gets EOPNOTSUPP" a_udp EOPNOTSUPP
	lines "a UDP ASSOCIATE hang-up: one line naming UDP ASSOCIATE and what it means" a_udp \
		"socksify: UDP association for $T4:7 via $FAKEP failed: the proxy hung up on the UDP ASSOCIATE request without a reply: $HINT_UDP (EOPNOTSUPP)"
fi
fake_stop

# bind_close_request: CONNECT carried, a hang-up on BIND (as ssh -D).
if fake_start bind_close_request 2; then
	run a_bind via "$UF" env SOCKSIFY_LOG_LEVEL=info "$PY" -c "$PYLISTEN" "$T4" 80
	outis "a BIND, the proxy hangs up after the request: listen gets EOPNOTSUPP" a_bind EOPNOTSUPP
	# The listener's description carries its number and port: those
	# are not spelt out.
	sed -E 's/fd [0-9]+ \(0\.0\.0\.0:[0-9]+,/fd N (0.0.0.0:PORT,/' "$OUT/a_bind.err" >"$OUT/a_bindn.err"
	cp "$OUT/a_bind.out" "$OUT/a_bindn.out"
	lines "a BIND hang-up: one error line naming BIND and what it means (after the CONNECT's info line)" a_bindn \
		"socksify: info: connect to $T4:80 via $FAKEP: ok
socksify: BIND for listening fd N (0.0.0.0:PORT, peer $T4) via $FAKEP failed: the proxy hung up on the BIND request without a reply: $HINT_BIND (EOPNOTSUPP)"
fi
fake_stop

# By name through socks5h: the proxy hangs up on both placeholders' CONNECT.
if fake_start close_reply_0 2; then
	run a_name via "$UFH" "$PY" -c "$PYCONN" "$NX" 80
	outis "a CONNECT by name, the proxy hangs up (both placeholders tried): ECONNRESET" a_name ECONNRESET
	lines "a CONNECT by name hang-up: one line for the name, naming CONNECT and the hint" a_name \
		"socksify: connect to $NX:80 via $FAKEP failed: the proxy hung up on the CONNECT request without a reply: $HINT_CONNECT (ECONNRESET)"
	n=$(grep -c "^request 05010003" "$OUT/fake-close_reply_0.log")
	if [ "$n" = 2 ]; then
		pass "a the proxy was asked for the name twice (once per placeholder): one line all the same"
	else
		fail "a the proxy was asked for the name twice ($n requests by name)"
	fi
fi
fake_stop

# Control: a proxy that answers "command not supported" is no hang-up.
if ! command -v microsocks >/dev/null 2>&1; then
	skip "a microsocks' UDP refusal" "microsocks not installed (scripts/install-deps.sh)"
else
	lab_spawn "$LAB_NS_B" microsocks -i "$P4" -p "$MS_PORT" >>"$OUT/microsocks.log" 2>&1
	if lab_wait_port "$LAB_NS_B" "$P4" "$MS_PORT"; then
		run a_ms via "$UMS" "$PY" -c "$PYSEND" "$T4" 7 1
		outis "a control: microsocks refuses UDP ASSOCIATE: EOPNOTSUPP" a_ms EOPNOTSUPP
		lines "a control: microsocks' refusal is its answer, not a hang-up" a_ms \
			"socksify: UDP association for $T4:7 via $P4:$MS_PORT failed: Command not supported (EOPNOTSUPP)"
	else
		fail "a microsocks listens on $P4:$MS_PORT"
	fi
fi

# A proxy whose own name cannot be resolved: the same "... failed: why"
# form (the client's resolver is out of reach: lab.sh).
run a_noproxy via "socks5://noproxy.$LAB_DOMAIN:$LAB_PORT" "$PY" -c "$PYCONN" "$T4" 80
outis "a a proxy whose name cannot be resolved: EHOSTUNREACH" a_noproxy EHOSTUNREACH
lines "a a proxy whose name cannot be resolved: one line of the same form" a_noproxy \
	"socksify: connect to $T4:80 via noproxy.$LAB_DOMAIN failed: cannot resolve the proxy's host name (EHOSTUNREACH)"

# The real thing: OpenSSH's ssh -D in the border (sshd on the border's
# loopback, a throwaway key; the SOCKS listener on $P4:$SSH_SOCKS_PORT).
SSHD=/usr/sbin/sshd
ssh_up() {
	local d=$LAB_DIR/ssh
	mkdir -p "$d" /run/sshd && chmod 700 "$d" || return 1
	ssh-keygen -q -t ed25519 -N '' -f "$d/host" >/dev/null &&
		ssh-keygen -q -t ed25519 -N '' -f "$d/key" >/dev/null &&
		cp "$d/key.pub" "$d/authorized_keys" || return 1
	cat >"$d/sshd_config" <<EOF2
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $d/host
AuthorizedKeysFile $d/authorized_keys
PidFile $d/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
EOF2
	lab_spawn "$LAB_NS_B" "$SSHD" -D -e -f "$d/sshd_config" 2>>"$d/sshd.log"
	lab_wait_port "$LAB_NS_B" 127.0.0.1 "$SSH_PORT" 50 || return 1
	lab_spawn "$LAB_NS_B" ssh -N -F /dev/null -i "$d/key" -p "$SSH_PORT" \
		-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o ExitOnForwardFailure=yes -D "$P4:$SSH_SOCKS_PORT" root@127.0.0.1 2>>"$d/ssh.log"
	lab_wait_port "$LAB_NS_B" "$P4" "$SSH_SOCKS_PORT" 100
}
SSH_PORT=2222
SSH_SOCKS_PORT=1084
US="socks5://$P4:$SSH_SOCKS_PORT"
USH="socks5h://$P4:$SSH_SOCKS_PORT"
SSHP="$P4:$SSH_SOCKS_PORT"
if [ ! -x "$SSHD" ] || ! command -v ssh >/dev/null 2>&1; then
	skip "a ssh -D hang-ups" "openssh-server not installed (scripts/install-deps.sh)"
elif ! ssh_up; then
	fail "a ssh -D listens on $SSHP"
	sed 's/^/  | /' "$LAB_DIR/ssh/sshd.log" "$LAB_DIR/ssh/ssh.log" 2>/dev/null | tail -n 10
else
	check_eq "a ssh -D control: CONNECT through it works (curl http://$T4/)" s_ctl \
		"$LAB_TOKEN" via "$US" curl -sS --max-time 10 "http://$T4/"
	lines "a ssh -D control: no line" s_ctl ""
	run s_udp via "$US" "$PY" -c "$PYSEND" "$T4" 7 1
	outis "a ssh -D hangs up on UDP ASSOCIATE: sendto gets EOPNOTSUPP" s_udp EOPNOTSUPP
	lines "a ssh -D and UDP: one line naming UDP ASSOCIATE and what it means" s_udp \
		"socksify: UDP association for $T4:7 via $SSHP failed: the proxy hung up on the UDP ASSOCIATE request without a reply: $HINT_UDP (EOPNOTSUPP)"
	run s_bind via "$US" "$PY" -c "$PYLISTEN" "$T4" 80
	outis "a ssh -D hangs up on BIND: listen gets EOPNOTSUPP" s_bind EOPNOTSUPP
	sed -E 's/fd [0-9]+ \(0\.0\.0\.0:[0-9]+,/fd N (0.0.0.0:PORT,/' "$OUT/s_bind.err" >"$OUT/s_bindn.err"
	cp "$OUT/s_bind.out" "$OUT/s_bindn.out"
	lines "a ssh -D and BIND: one line naming BIND and what it means" s_bindn \
		"socksify: BIND for listening fd N (0.0.0.0:PORT, peer $T4) via $SSHP failed: the proxy hung up on the BIND request without a reply: $HINT_BIND (EOPNOTSUPP)"
	run s_name via "$USH" "$PY" -c "$PYCONN" "$NX" 80
	outis "a ssh -D and a name it cannot resolve (socks5h): ECONNRESET" s_name ECONNRESET
	lines "a ssh -D and that name: one line naming CONNECT and what it means" s_name \
		"socksify: connect to $NX:80 via $SSHP failed: the proxy hung up on the CONNECT request without a reply: $HINT_CONNECT (ECONNRESET)"
fi

# ---------------------------------------------------------------- b. one line per name
run b_py via "$UH" "$PY" -c "$PYCONN" "$NX" 80
outis "b python create_connection to $NX:80 (both placeholders): EHOSTUNREACH" b_py EHOSTUNREACH
lines "b python: one line for the name, not one per placeholder" b_py \
	"socksify: connect to $NX:80 via $P4:$LAB_PORT failed: Host unreachable (EHOSTUNREACH)"
vv b_py_vv "$UH" debug "$PY" -c "$PYCONN" "$NX" 80
lines "b python at debug level: the repeat (the IPv6 placeholder, v4-mapped proxy) at debug" b_py_vv \
	"socksify: debug: $NX resolved to placeholders (2 addresses)
socksify: connect to $NX:80 via $P4:$LAB_PORT failed: Host unreachable (EHOSTUNREACH)
socksify: debug: connect to $NX:80 via [::ffff:$P4]:$LAB_PORT failed: Host unreachable (EHOSTUNREACH) (again: logged once)"
run b_curl via "$UH" curl -sS --max-time 10 "http://$NX/"
lines "b curl (happy eyeballs over both placeholders, the helper thread): one line" b_curl \
	"socksify: connect to $NX:80 via $P4:$LAB_PORT failed: Host unreachable (EHOSTUNREACH)"
run b_ports via "$UH" "$PY" -c "$PYCONN" "$NX" 80 "$NX" 81 "$NX" 80
lines "b another port is another failure: two lines for :80, :81, :80" b_ports \
	"socksify: connect to $NX:80 via $P4:$LAB_PORT failed: Host unreachable (EHOSTUNREACH)
socksify: connect to $NX:81 via $P4:$LAB_PORT failed: Host unreachable (EHOSTUNREACH)"
PYLATER='
import socket, sys, time
for i in range(2):
    if i: time.sleep(2.3)
    try: socket.create_connection((sys.argv[1], 80), timeout=10)
    except OSError as e: print(e.errno)
'
run b_later via "$UH" "$PY" -c "$PYLATER" "$NX"
lines "b the same failure 2.3 s later is logged again" b_later \
	"socksify: connect to $NX:80 via $P4:$LAB_PORT failed: Host unreachable (EHOSTUNREACH)
socksify: connect to $NX:80 via $P4:$LAB_PORT failed: Host unreachable (EHOSTUNREACH)"

# ---------------------------------------------------------------- c. rules
CONF=$OUT/rules.conf
{
	echo "# rules for loglines.sh"
	echo "route direct $P4/32 80"
	echo "route refuse all 25"
	echo ""
	echo "route refuse .bad.$LAB_DOMAIN"
} >"$CONF"
# via with -f CONF: the launcher passes it as given (an absolute path).
viaf() { lab_c timeout 60 "$SOCKSIFY" -f "$CONF" -x "$1" -- "${@:2}"; }

run c_rules viaf "$UH" env SOCKSIFY_LOG_LEVEL=debug "$PY" -c "$PYCONN" \
	"$P4" 80 127.0.0.1 9 ::1 9 0.0.0.0 9
outis "c direct connects: the kernel's answers (nothing listens on the proxy's :80, nor on :9)" c_rules \
	"ECONNREFUSED
ECONNREFUSED
ECONNREFUSED
ECONNREFUSED"
lines "c -vv: each direct connect names its rule (FILE:LINE rule, or the built-in one)" c_rules \
	"socksify: debug: direct: $P4:80 by $CONF:2 route direct $P4/32 80
socksify: debug: direct: 127.0.0.1:9 by the built-in loopback rule
socksify: debug: direct: [::1]:9 by the built-in loopback rule
socksify: debug: direct: 0.0.0.0:9 by the built-in rule for the unspecified address"
run c_rules_info viaf "$UH" env SOCKSIFY_LOG_LEVEL=info "$PY" -c "$PYCONN" \
	"$P4" 80 127.0.0.1 9
lines "c -v: no line for a direct connect" c_rules_info ""
run c_udp viaf "$UH" env SOCKSIFY_LOG_LEVEL=debug "$PY" -c "$PYSEND" 127.0.0.1 9 3
lines "c -vv: a datagram's direct decision, once for 3 datagrams to one destination" c_udp \
	"socksify: debug: direct: datagram to 127.0.0.1:9 by the built-in loopback rule"
run c_refuse viaf "$UH" "$PY" -c "$PYCONN" "$T4" 25
outis "c a refused connect: EACCES" c_refuse EACCES
lines "c a refused connect's line names the rule" c_refuse \
	"socksify: connect to $T4:25 refused by $CONF:3 route refuse all 25 (EACCES)"
run c_refuse_udp viaf "$UH" "$PY" -c "$PYSEND" "$T4" 25 1
outis "c a refused datagram: EACCES" c_refuse_udp EACCES
lines "c a refused datagram's line names the rule" c_refuse_udp \
	"socksify: datagram to $T4:25 refused by $CONF:3 route refuse all 25 (EACCES)"
run c_refuse_name viaf "$UH" "$PY" -c "$PYCONN" "x.bad.$LAB_DOMAIN" 80
outis "c a name a rule refuses: EACCES" c_refuse_name EACCES
lines "c a refused name: one line (not one per placeholder) naming the rule" c_refuse_name \
	"socksify: connect to x.bad.$LAB_DOMAIN:80 refused by $CONF:5 route refuse .bad.$LAB_DOMAIN (EACCES)"

# ---------------------------------------------------------------- d. raw DNS
run d_res via "$UH" "$PY" -c "$PYRES" 3
outis "d res_query x3 and res_search refused in remote mode: -1 each" d_res "-1
-1
-1
-1"
lines "d the default level: no line for a refused raw query" d_res ""
vv d_res_info "$UH" info "$PY" -c "$PYRES" 3
lines "d -v: one info line per process" d_res_info \
	"socksify: info: res_query for _http._tcp.deb.$LAB_DOMAIN refused: a raw DNS query would leave this machine unproxied (use 'dns tunnel' to carry it); the next ones are refused too, silently"
vv d_res_debug "$UH" debug "$PY" -c "$PYRES" 2
lines "d -vv: the info line, then each later one at debug level" d_res_debug \
	"socksify: info: res_query for _http._tcp.deb.$LAB_DOMAIN refused: a raw DNS query would leave this machine unproxied (use 'dns tunnel' to carry it); the next ones are refused too, silently
socksify: debug: res_query for _http._tcp.deb.$LAB_DOMAIN refused: a raw DNS query would leave this machine unproxied (use 'dns tunnel' to carry it)
socksify: debug: res_search for www.$LAB_DOMAIN refused: a raw DNS query would leave this machine unproxied (use 'dns tunnel' to carry it)"

# ---------------------------------------------------------------- e. password
PWCONF=$OUT/password.conf
printf 'proxy socks5://%s:%s\nusername %s\npassword %s\n' "$P4" "$LAB_AUTH_PORT" \
	"$LAB_USER" "$LAB_PASS" >"$PWCONF"
chmod 644 "$PWCONF"
run e_launcher lab_c timeout 60 "$SOCKSIFY" -v -f "$PWCONF" -- curl -sS --max-time 10 "http://$T4/"
outis "e a config file others may read, with the password: curl works" e_launcher "$LAB_TOKEN"
lines "e the launcher warns once (the library, at -v, does not)" e_launcher \
	"socksify: warning: config file $PWCONF holds a password and other users may read it (chmod o-r $PWCONF)
socksify: info: connect to $T4:80 via $P4:$LAB_AUTH_PORT: ok"
run e_lib lab_c env LD_PRELOAD="$LIBSOCKSIFY" SOCKSIFY_CONF="$PWCONF" SOCKSIFY_LOG_LEVEL=debug \
	timeout 60 curl -sS --max-time 10 -o /dev/null "http://$T4/"
n=$(grep -c 'holds a password' "$OUT/e_lib.err")
if [ "$RC" = 0 ] && [ "$n" = 0 ]; then
	pass "e the library alone (LD_PRELOAD, debug level): no password warning"
else
	fail "e the library alone: no password warning (rc $RC, $n lines)"; show e_lib
fi

lab_down
echo "loglines: ran in $(($(date +%s) - T_START)) s"
summary loglines
