#!/bin/bash
# tests/lab/bind.sh - inbound TCP through SOCKS BIND (issue 9) in the
# namespace lab (see lab.sh): real programs and a C probe whose listening
# sockets are reached through danted's BIND, from the target, while the
# client still reaches nothing but the proxy.
#
# In the target: pyftpdlib (python3-pyftpdlib, anonymous, read-only) on
# port 21 of every address, serving one random file; the call-back server
# tests/lab/callback.py on port 2100 (it connects back to the address the
# program advertises and sends a known payload).  In the border: danted
# (bind and bindreply allowed) and, for e, microsocks on 198.18.0.1:1090.
#
#   0  the lab: pyftpdlib and the call-back server listen; without
#      socksify the client cannot reach the target
#   a  active FTP downloads, byte-exact, each with exactly one BIND session
#      in the shim's log: curl -P -, lftp (ftp:passive-mode off), Python
#      ftplib (set_pasv(False)); IPv4 (PORT), IPv6 (EPRT) and by name
#      through socks5h (v4only.socksify.test; lftp and ftplib use an IPv6
#      socket for it); curl and lftp from the IPv6-only client c6; tnftp
#      (ftp -A) over IPv4 and IPv6
#   b  tests/prog/bindprobe.c under the shim: accept after poll, select,
#      epoll level- and edge-triggered, epoll registered before listen,
#      blocking accept, non-blocking accept (EAGAIN and no readiness before
#      the peer connected), accept4(SOCK_NONBLOCK | SOCK_CLOEXEC); IPv4,
#      IPv6 and by name; getsockname before listen (curl's order); the
#      accepted stream's getpeername is the peer as it connected,
#      getsockname the proxy's BND, 100000 bytes byte-exact.  While a BIND
#      is in flight a server of the same program on 127.0.0.1 port 0 and
#      on 0.0.0.0:5555 serves local connections without BIND (the shim's
#      log and danted's show one BIND session).  A call-back from another
#      address of the target (not the expected peer: danted refuses it)
#      gives accept EPERM; bind_timeout gives ETIMEDOUT.  Config: a fixed
#      port listens locally unless bind_ports names it or SOCKSIFY_BIND is
#      always.
#   c  a capture on the client's veth during a: every IP packet is TCP
#      with the proxy's port 1080 (198.18.0.1 or 2001:db8:1::1)
#   d  direct connections from the border to the listener's real port (read with a raw syscall,
#      past the shim's getsockname) time out: the socket filter drops
#      them; the program still gets its real peer.  Control: with
#      SOCKSIFY_BIND=never the same connection gets in
#   e  microsocks refuses BIND: the probe's listen() fails with EOPNOTSUPP
#      (getsockname first or not), the shim logs one line naming the
#      answer, nothing listens (ss); curl -P - fails with a clear error
#      (CONNECT through microsocks works: the control)
#   f  fork (the child accepts; the parent keeps, or closes, its copy; a
#      child that closes its copy leaves the parent's session alone),
#      accept on a second thread; the listener closed before the peer
#      connects (close, close_range, closefrom, a dup and both closes):
#      the shim's fds (>= 512) and its waiter thread go, the proxy's port
#      closes
#   g  SOCKSIFY_BIND=never (and `bind never` in a file): the probe's
#      listener stays local (getsockname shows its own port) and the
#      call-back fails; curl -P - gets 425 from the server
#
#   tests/lab/bind.sh           uses ./socksify and build/prog/bindprobe
#                               (build them first: make all)
#   LAB_KEEP=1                  keep the temp dir (logs, pcap, outputs)
#   LAB_VERBOSE=1               print every command's output
#
# Needs root and ip netns; otherwise every test is skipped (a failure in CI).
# Ends with "bind: N passed, N failed, N skipped".

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
# shellcheck source=lab.sh
. "$HERE/lab.sh"

VIA=socksify
OUT=""
PROBE=$TOP/build/prog/bindprobe
CALLBACK=$HERE/callback.py
CB_PORT=2100
MS_PORT=1090 # microsocks
T_START=$(date +%s)
# The shim's info lines (BIND sessions) go to each program's stderr.
export SOCKSIFY_LOG_LEVEL=info

# A connect that reports "timeout", "connected" (and what it read within
# a second) or "error NAME".
PYTRY='
import errno, socket, sys
host, port, t = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.settimeout(t)
try:
    s.connect((host, port))
    s.settimeout(1)
    try:
        print("connected; read %r" % s.recv(10))
    except socket.timeout:
        print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error " + errno.errorcode.get(e.errno, str(e.errno)))
'

# Python ftplib in active mode: HOST FILE OUT.
PYFTP='
import ftplib, sys
host, name, out = sys.argv[1], sys.argv[2], sys.argv[3]
f = ftplib.FTP()
f.connect(host, 21, timeout=15)
f.login()
f.set_pasv(False)
with open(out, "wb") as o:
    f.retrbinary("RETR " + name, o.write)
f.quit()
'

# ---------------------------------------------------------------- helpers
# via, run, show, got, lab_capture_*: see lab.sh.

# facts DESC NAME: lab_facts (lab.sh).
facts() { lab_facts "$@"; }

# probe DESC NAME URL ARGS...: bindprobe ARGS through URL.
probe() {
	local desc=$1 name=$2 url=$3
	shift 3
	run "$name" via "$url" "$PROBE" "$@"
	facts "$desc" "$name"
}

# probe_env DESC NAME URL VAR=VALUE ARGS...: the same with VAR set.
probe_env() {
	local desc=$1 name=$2 url=$3 var=$4
	shift 4
	run "$name" via "$url" env "$var" "$PROBE" "$@"
	facts "$desc" "$name"
}

# nlines NAME PATTERN: lines of NAME's stderr matching PATTERN (grep -E).
nlines() { grep -cE "$2" "$OUT/$1.err"; }

# danted_binds: BIND sessions danted has opened so far.
danted_binds() { grep -c 'tcp/bind \[' "$LAB_DANTED_LOG"; }

# listening NS PORT: 0 if something listens on TCP PORT in NS.
listening() { ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q .; }

wait_listening() { # NS PORT
	for _ in $(seq 1 100); do
		listening "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}

# bg_probe NAME URL ARGS...: bindprobe in the background (-p/-r/-g set to
# $OUT/NAME.{port,ready,go}); sets BG_PID.  bg_wait waits for it (RC).
bg_probe() {
	local name=$1 url=$2
	shift 2
	rm -f "$OUT/$name".{port,ready,go,rc}
	(
		via "$url" "$PROBE" -p "$OUT/$name.port" -r "$OUT/$name.ready" \
			-g "$OUT/$name.go" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
		echo $? >"$OUT/$name.rc"
	) &
	BG_PID=$!
	BG_NAME=$name
}
bg_wait() {
	touch "$OUT/$BG_NAME.go"
	wait "$BG_PID" 2>/dev/null
	RC=$(cat "$OUT/$BG_NAME.rc" 2>/dev/null || echo 99)
}

# ---------------------------------------------------------------- preconditions

if ! why=$(lab_available); then
	skip "bind lab tests" "$why"
	summary bind
	exit $?
fi
if [ ! -x "$SOCKSIFY" ] || [ ! -f "$LIBSOCKSIFY" ] || [ ! -x "$PROBE" ]; then
	fail "socksify and the probe are built ($SOCKSIFY, $LIBSOCKSIFY, $PROBE: run make all)"
	summary bind
	exit 1
fi
HAVE_FTPD=1
"$PY" -c 'import pyftpdlib' 2>/dev/null || HAVE_FTPD=0
if ! lab_up; then
	fail "lab comes up (see messages above)"
	summary bind
	exit 1
fi
OUT=$LAB_DIR/out
mkdir -p "$OUT"
echo "bind: namespaces $(lab_namespaces | tr "\n" " ")temp dir $LAB_DIR"

P4=$LAB_PROXY4 P6=$LAB_PROXY6 T4=$LAB_TARGET4 T6=$LAB_TARGET6
U4="socks5://$P4:$LAB_PORT"
U6="socks5://[$P6]:$LAB_PORT"
UH="socks5h://$P4:$LAB_PORT"
UMS="socks5://$P4:$MS_PORT"
NV4=$LAB_NAME_V4

# ---------------------------------------------------------------- 0. the lab
FTPDIR=$LAB_DIR/ftp
mkdir -p "$FTPDIR" && chmod 755 "$FTPDIR"
head -c 1048576 /dev/urandom >"$FTPDIR/file.txt"
chmod 644 "$FTPDIR/file.txt"
if [ "$HAVE_FTPD" = 1 ]; then
	lab_spawn "$LAB_NS_T" "$PY" -m pyftpdlib -p 21 -i :: -d "$FTPDIR" \
		>>"$OUT/ftpd.log" 2>&1
	if wait_listening "$LAB_NS_T" 21; then
		pass "0 lab: pyftpdlib listens on port 21 in the target"
	else
		fail "0 lab: pyftpdlib listens on port 21 in the target"
		tail -n 5 "$OUT/ftpd.log" | sed 's/^/  | /'
		HAVE_FTPD=0
	fi
fi
lab_spawn "$LAB_NS_T" "$PY" "$CALLBACK" --addr "$T4" --addr "$T6" --port "$CB_PORT" \
	--ready "$OUT/callback.ready" 2>>"$OUT/callback.log"
if lab_wait_file "$OUT/callback.ready" 100 && lab_wait_port "$LAB_NS_T" "$T4" "$CB_PORT" &&
	lab_wait_port "$LAB_NS_T" "$T6" "$CB_PORT"; then
	pass "0 lab: the call-back server listens on $T4 and [$T6] port $CB_PORT"
else
	fail "0 lab: the call-back server listens on $T4 and [$T6] port $CB_PORT"
	sed 's/^/  | /' "$OUT/callback.log"
fi
run ctl lab_c timeout 10 "$PY" -c "$PYTRY" "$T4" "$CB_PORT" 3
if ! grep -q '^connected' "$OUT/ctl.out"; then
	pass "0 control: without socksify the client cannot reach $T4:$CB_PORT ($(cat "$OUT/ctl.out"))"
else
	fail "0 control: without socksify the client cannot reach $T4:$CB_PORT"; show ctl
fi

# ---------------------------------------------------------------- c. capture on
PCAP=$LAB_DIR/bind-client.pcap
lab_capture_start "$LAB_NS_C" "$LAB_IF_C" "$PCAP"

# ---------------------------------------------------------------- a. FTP
# ftp_check DESC NAME FILE: the download is byte-exact and the shim's log
# shows one BIND session that a peer connected to.
ftp_check() {
	local desc=$1 name=$2 file=$3 nb nc
	nb=$(nlines "$name" 'BIND for .*: the proxy listens on ')
	nc=$(nlines "$name" 'BIND for .*: .* connected$')
	if [ "$RC" -eq 0 ] && cmp -s "$file" "$FTPDIR/file.txt" && [ "$nb" = 1 ] && [ "$nc" = 1 ]; then
		pass "$desc: 1 MiB byte-exact, through one BIND session"
	else
		fail "$desc: 1 MiB byte-exact through one BIND session (rc $RC, $(stat -c %s "$file" 2>/dev/null || echo no) bytes, $nb BIND, $nc connected)"
		show "$name"
	fi
}
LFTP_SET="set ftp:passive-mode off; set net:max-retries 1; set net:timeout 5; set net:reconnect-interval-base 1"
if [ "$HAVE_FTPD" = 0 ]; then
	skip "a active FTP downloads (curl, lftp, ftplib)" "python3-pyftpdlib not installed (scripts/install-deps.sh)"
else
	for c in "v4 $U4 $T4 $T4" "v6 $U6 [$T6] $T6" "name $UH $NV4 $NV4"; do
		read -r tag url uhost phost <<<"$c"
		case $tag in
		v4) how="IPv4, PORT" ;;
		v6) how="IPv6, EPRT" ;;
		name) how="by name through socks5h" ;;
		esac
		rm -f "$OUT/curl_$tag.data"
		run "curl_$tag" via "$url" curl -sS -P - --max-time 30 \
			"ftp://$uhost/file.txt" -o "$OUT/curl_$tag.data"
		ftp_check "a curl -P - ftp://$uhost/file.txt via $url ($how)" "curl_$tag" "$OUT/curl_$tag.data"
		if command -v lftp >/dev/null 2>&1; then
			run "lftp_$tag" via "$url" lftp -e "$LFTP_SET; cat file.txt; quit" "ftp://$uhost"
			cp "$OUT/lftp_$tag.out" "$OUT/lftp_$tag.data"
			ftp_check "a lftp (passive off) cat ftp://$uhost/file.txt via $url ($how)" "lftp_$tag" "$OUT/lftp_$tag.data"
		else
			skip "a lftp ($how)" "lftp not installed (scripts/install-deps.sh)"
		fi
		rm -f "$OUT/ftplib_$tag.data"
		run "ftplib_$tag" via "$url" "$PY" -c "$PYFTP" "$phost" file.txt "$OUT/ftplib_$tag.data"
		ftp_check "a python ftplib set_pasv(False) RETR from $phost via $url ($how)" "ftplib_$tag" "$OUT/ftplib_$tag.data"
	done
	# tnftp (Debian's ftp) in active mode (-A), IPv4 and IPv6.
	if command -v ftp >/dev/null 2>&1; then
		for c in "v4 $U4 $T4" "v6 $U6 $T6"; do
			read -r tag url fhost <<<"$c"
			rm -f "$OUT/tnftp_$tag.data"
			printf 'user anonymous x\nbinary\nget file.txt %s\nquit\n' \
				"$OUT/tnftp_$tag.data" >"$OUT/tnftp_$tag.in"
			run "tnftp_$tag" via "$url" ftp -A -n "$fhost" <"$OUT/tnftp_$tag.in"
			ftp_check "a ftp -A (tnftp, active) get from $fhost via $url" "tnftp_$tag" "$OUT/tnftp_$tag.data"
		done
	else
		skip "a ftp -A (tnftp)" "ftp not installed (scripts/install-deps.sh)"
	fi
	# An IPv6-only client (c6: no IPv4 but loopback) behind the proxy's
	# IPv6 address.
	U6ONLY="socks5://[$LAB_B6]:$LAB_PORT"
	rm -f "$OUT/curl_c6.data"
	run curl_c6 via_ns "$LAB_NS_C6" "$U6ONLY" curl -sS -P - --max-time 30 \
		"ftp://[$T6]/file.txt" -o "$OUT/curl_c6.data"
	ftp_check "a curl -P - from the IPv6-only client c6 via $U6ONLY (EPRT)" curl_c6 "$OUT/curl_c6.data"
	if command -v lftp >/dev/null 2>&1; then
		run lftp_c6 via_ns "$LAB_NS_C6" "$U6ONLY" lftp -e "$LFTP_SET; cat file.txt; quit" "ftp://[$T6]"
		cp "$OUT/lftp_c6.out" "$OUT/lftp_c6.data"
		ftp_check "a lftp (passive off) from the IPv6-only client c6 via $U6ONLY" lftp_c6 "$OUT/lftp_c6.data"
	fi
fi

# ---------------------------------------------------------------- c. capture off
lab_capture_stop
if [ -s "$PCAP" ]; then
	OK4="(host $P4 and tcp port $LAB_PORT)"
	OK6="(host $P6 and tcp port $LAB_PORT)"
	STRAY="(ip and not $OK4) or (ip6 and not ip6 protochain 58 and not $OK6)"
	tcpdump -nn -r "$PCAP" "$STRAY" >"$OUT/stray.txt" 2>/dev/null
	nstray=$(wc -l <"$OUT/stray.txt")
	n4=$(tcpdump -nn -r "$PCAP" "ip and $OK4" 2>/dev/null | wc -l)
	n6=$(tcpdump -nn -r "$PCAP" "ip6 and $OK6" 2>/dev/null | wc -l)
	if [ "$nstray" -eq 0 ] && [ "$n4" -gt 0 ] && { [ "$HAVE_FTPD" = 0 ] || [ "$n6" -gt 0 ]; }; then
		pass "c capture: every IP packet of a was TCP with the proxy's port $LAB_PORT ($n4 with $P4, $n6 with $P6)"
	else
		fail "c capture: every IP packet of a was TCP with the proxy's port $LAB_PORT ($nstray stray, $n4 with $P4, $n6 with $P6)"
		head -n 10 "$OUT/stray.txt" | sed 's/^/  stray| /'
	fi
else
	fail "c capture: tcpdump wrote a capture"; sed 's/^/  | /' "$PCAP.err"
fi

# ---------------------------------------------------------------- b. the probe
for m in poll select epoll-lt epoll-et epoll-before block nonblock accept4 thread; do
	probe "b bindprobe $m: $T4:$CB_PORT via $U4" "b_${m}_4" "$U4" "$T4" "$CB_PORT" "$m"
done
for m in poll epoll-et block accept4; do
	probe "b bindprobe $m: IPv6 [$T6]:$CB_PORT via $U6" "b_${m}_6" "$U6" "$T6" "$CB_PORT" "$m"
done
probe "b bindprobe poll: IPv6 [$T6]:$CB_PORT via $U4 (an IPv4 control connection to the proxy)" \
	b_poll_64 "$U4" "$T6" "$CB_PORT" poll
probe "b bindprobe poll, getsockname before listen (as curl): $T4 via $U4" b_early_4 "$U4" -S "$T4" "$CB_PORT" poll
probe "b bindprobe poll, getsockname before listen: IPv6 via $U6" b_early_6 "$U6" -S "$T6" "$CB_PORT" poll
probe "b bindprobe poll by name: $NV4 via $UH (IPv4 socket)" b_name_4 "$UH" -4 "$NV4" "$CB_PORT" poll
probe "b bindprobe poll by name: $NV4 via $UH (IPv6 socket, IPv4-only name)" b_name_64 "$UH" -6 "$NV4" "$CB_PORT" poll
probe "b bindprobe poll by name: $LAB_NAME_V6 via $UH (IPv6 socket)" b_name_6 "$UH" -6 "$LAB_NAME_V6" "$CB_PORT" poll

# Local servers of the same program while the BIND is in flight.
before=$(danted_binds)
probe "b bindprobe local: servers on 127.0.0.1 port 0 and 0.0.0.0:5555 work while a BIND is in flight" \
	b_local "$U4" "$T4" "$CB_PORT" local
after=$(danted_binds)
nb=$(nlines b_local 'BIND for .*: the proxy listens on ')
if [ "$nb" = 1 ] && [ $((after - before)) = 1 ]; then
	pass "b bindprobe local: one BIND session only (the shim's log: $nb, danted's: $((after - before)))"
else
	fail "b bindprobe local: one BIND session only (the shim's log: $nb, danted's: $((after - before)))"
	show b_local
fi

# Failed sessions.
probe "b a call-back from $LAB_DNS4 (not the expected peer: danted refuses it): accept gives EPERM" \
	b_wrong_4 "$U4" -w "$LAB_DNS4" -e EPERM "$T4" "$CB_PORT" fail
probe "b a call-back from $LAB_DNS6 (IPv6, not the expected peer): accept gives EPERM" \
	b_wrong_6 "$U6" -w "$LAB_DNS6" -e EPERM "$T6" "$CB_PORT" fail
if [ "$(nlines b_wrong_4 'failed: connection not allowed by ruleset')" = 1 ]; then
	pass "b the refused call-back: one log line names danted's answer"
else
	fail "b the refused call-back: one log line names danted's answer"; show b_wrong_4
fi
printf 'bind_timeout 2\n' >"$OUT/timeout.conf"
run b_timeout lab_c timeout 60 "$SOCKSIFY" -f "$OUT/timeout.conf" -x "$U4" -- \
	"$PROBE" -d 4000 -e ETIMEDOUT "$T4" "$CB_PORT" fail
facts "b bind_timeout 2, the call-back 4 s late: accept gives ETIMEDOUT" b_timeout
if [ "$(nlines b_timeout 'no peer connected in time \(bind_timeout\)')" = 1 ]; then
	pass "b bind_timeout: one log line says so"
else
	fail "b bind_timeout: one log line says so"; show b_timeout
fi

# Which listeners: a fixed port stays local unless bind_ports or always.
probe "b a fixed port (5555) listens locally (bind auto)" b_fixed "$U4" -b 5555 "$T4" "$CB_PORT" never
printf 'bind_ports 5550-5560\n' >"$OUT/ports.conf"
run b_ports lab_c timeout 60 "$SOCKSIFY" -f "$OUT/ports.conf" -x "$U4" -- \
	"$PROBE" -b 5555 "$T4" "$CB_PORT" poll
facts "b bind_ports 5550-5560: port 5555 goes through BIND" b_ports
probe_env "b SOCKSIFY_BIND=always: port 5555 goes through BIND" b_always "$U4" \
	SOCKSIFY_BIND=always -b 5555 "$T4" "$CB_PORT" poll

# ---------------------------------------------------------------- d. direct
# d_case TAG URL HOST FAMILY-ARGS ADDR...: a probe waits (poll mode) while
# each ADDR:real-port is tried from the border.  (Loopback clients are let
# in by design: a program's own local clients; see README.)
d_case() {
	local tag=$1 url=$2 host=$3 a tries="" bad=0 port
	shift 3
	bg_probe "d_$tag" "$url" "$host" "$CB_PORT" poll
	if ! lab_wait_file "$OUT/d_$tag.ready" 150; then
		bg_wait
		fail "d $tag: the probe listens"; show "d_$tag"
		return
	fi
	port=$(cat "$OUT/d_$tag.port")
	if listening "$LAB_NS_C" "$port"; then
		pass "d $tag: ss shows the listener's real port $port in the client"
	else
		fail "d $tag: ss shows the listener's real port $port in the client"
	fi
	for a in "$@"; do
		r=$(lab_b timeout 10 "$PY" -c "$PYTRY" "$a" "$port" 2)
		tries="$tries, from the border to $a: $r"
		[ "$r" = timeout ] || bad=1
	done
	bg_wait
	if [ "$bad" = 0 ]; then
		pass "d $tag: direct connections to port $port time out (the filter drops them)${tries#,}"
	else
		fail "d $tag: direct connections to port $port time out${tries#,}"
	fi
	facts "d $tag: the program then gets its real peer through the proxy" "d_$tag"
}
d_case v4 "$U4" "$T4" "$LAB_CLIENT4"
d_case v6 "$U6" "$T6" "$LAB_CLIENT6" "$LAB_CLIENT4"
# The control: a plain listener takes the same connection.
rm -f "$OUT/d_ctl".{port,ready,go,rc}
(
	via "$U4" env SOCKSIFY_BIND=never "$PROBE" -p "$OUT/d_ctl.port" -r "$OUT/d_ctl.ready" \
		-g "$OUT/d_ctl.go" "$T4" "$CB_PORT" never >"$OUT/d_ctl.out" 2>"$OUT/d_ctl.err"
	echo $? >"$OUT/d_ctl.rc"
) &
BG_PID=$! BG_NAME=d_ctl
r="(the probe did not get ready)"
if lab_wait_file "$OUT/d_ctl.ready" 150; then
	r=$(lab_b timeout 10 "$PY" -c "$PYTRY" "$LAB_CLIENT4" "$(cat "$OUT/d_ctl.port")" 2)
fi
bg_wait
case $r in
connected*) pass "d control: with SOCKSIFY_BIND=never the border's connection gets in ($r)" ;;
*) fail "d control: with SOCKSIFY_BIND=never the border's connection gets in ($r)" ;;
esac
facts "d control: the plain listener accepted it" d_ctl

# ---------------------------------------------------------------- e. microsocks
if ! command -v microsocks >/dev/null 2>&1; then
	skip "e microsocks refuses BIND" "microsocks not installed (scripts/install-deps.sh)"
else
	lab_spawn "$LAB_NS_B" microsocks -i "$P4" -p "$MS_PORT" >>"$OUT/microsocks.log" 2>&1
	if ! lab_wait_port "$LAB_NS_B" "$P4" "$MS_PORT"; then
		fail "e microsocks listens on $P4:$MS_PORT"
	else
		check_eq "e control: CONNECT through microsocks works (curl http://$T4/)" \
			e_ctl "$LAB_TOKEN" via "$UMS" curl -sS --max-time 10 "http://$T4/"
		for early in "" -S; do
			tag=${early:+early}
			tag=${tag:-listen}
			# shellcheck disable=SC2086 # $early: nothing or -S
			bg_probe "e_$tag" "$UMS" $early "$T4" "$CB_PORT" refused
			if lab_wait_file "$OUT/e_$tag.ready" 150; then
				port=$(cat "$OUT/e_$tag.port")
				if listening "$LAB_NS_C" "$port"; then ls=listening; else ls=none; fi
			else
				ls="(not ready)" port="?"
			fi
			bg_wait
			facts "e microsocks${early:+, getsockname first}: listen() fails with EOPNOTSUPP" "e_$tag"
			n=$(nlines "e_$tag" 'BIND for ')
			if [ "$n" = 1 ] && [ "$(nlines "e_$tag" 'BIND for .* failed: Command not supported \(EOPNOTSUPP\)')" = 1 ]; then
				pass "e microsocks${early:+, getsockname first}: one log line names the answer ($(grep 'BIND for' "$OUT/e_$tag.err"))"
			else
				fail "e microsocks${early:+, getsockname first}: one log line names the answer ($n lines)"; show "e_$tag"
			fi
			if [ "$ls" = none ]; then
				pass "e microsocks${early:+, getsockname first}: nothing listens on the socket's port $port (ss)"
			else
				fail "e microsocks${early:+, getsockname first}: nothing listens on the socket's port $port (ss: $ls)"
			fi
		done
		if [ "$HAVE_FTPD" = 1 ]; then
			run e_curl via "$UMS" curl -sS -P - --max-time 20 "ftp://$T4/file.txt" -o /dev/null
			if [ "$RC" = 30 ] && grep -q 'Operation not supported' "$OUT/e_curl.err" &&
				[ "$(nlines e_curl 'BIND for .* failed: Command not supported')" = 1 ]; then
				pass "e curl -P - through microsocks fails at once: $(grep '^curl:' "$OUT/e_curl.err")"
			else
				fail "e curl -P - through microsocks fails at once with a clear error (rc $RC)"; show e_curl
			fi
		fi
	fi
fi

# ---------------------------------------------------------------- f. fork, threads, close
probe "f fork: the child accepts the stream (the parent's waiter serves it)" f_fork "$U4" "$T4" "$CB_PORT" fork
probe "f fork: the parent closes its copy at once, the child accepts" f_fork_close "$U4" "$T4" "$CB_PORT" fork-close
probe "f fork: a child closes its copy and exits, the parent accepts" f_fork_parent "$U4" "$T4" "$CB_PORT" fork-parent
probe "f fork over IPv6: the child accepts" f_fork_6 "$U6" "$T6" "$CB_PORT" fork
probe "f threads: accept on a second thread while the main thread waits" f_thread "$U4" "$T4" "$CB_PORT" thread
# The parent exits right after fork (a daemon): the child's waiter takes over.
rm -f "$OUT/f_exit.res"
via "$U4" "$PY" "$HERE/forkexit.py" "$T4" "$CB_PORT" "$OUT/f_exit.res" \
	>"$OUT/f_exit.out" 2>"$OUT/f_exit.err"
lab_wait_file "$OUT/f_exit.res" 200
r=$(cat "$OUT/f_exit.res" 2>/dev/null)
if [ "$r" = "ok $T4 1000" ]; then
	pass "f fork: the parent exits at once, the child accepts the stream ($r)"
else
	fail "f fork: the parent exits at once, the child accepts the stream (${r:-no result})"
	sed 's/^/  | /' "$OUT/f_exit.err"
fi
for m in close close_range closefrom close-dup; do
	probe "f $m before the peer connects: the shim's fds and waiter go, the proxy's port closes" \
		"f_$m" "$U4" "$T4" "$CB_PORT" "$m"
done

# ---------------------------------------------------------------- g. never
probe_env "g SOCKSIFY_BIND=never: the listener stays local, the call-back fails" g_never "$U4" \
	SOCKSIFY_BIND=never "$T4" "$CB_PORT" never
if [ "$(nlines g_never 'BIND for ')" = 0 ]; then
	pass "g SOCKSIFY_BIND=never: no BIND in the shim's log"
else
	fail "g SOCKSIFY_BIND=never: no BIND in the shim's log"; show g_never
fi
printf 'bind never\n' >"$OUT/never.conf"
run g_never_conf lab_c timeout 60 "$SOCKSIFY" -f "$OUT/never.conf" -x "$U4" -- \
	"$PROBE" "$T4" "$CB_PORT" never
facts "g bind never (config file): the listener stays local, the call-back fails" g_never_conf
probe "g the same probe without the switch goes through BIND (poll)" g_auto "$U4" "$T4" "$CB_PORT" poll
if [ "$HAVE_FTPD" = 1 ]; then
	run g_curl via "$U4" env SOCKSIFY_BIND=never curl -v -sS -P - --max-time 20 \
		"ftp://$T4/file.txt" -o /dev/null
	if [ "$RC" -ne 0 ] && grep -q "^< 425 " "$OUT/g_curl.err" && [ "$(nlines g_curl 'BIND for ')" = 0 ]; then
		pass "g SOCKSIFY_BIND=never: curl -P - fails, the server cannot connect back ($(grep -m1 '^< 425 ' "$OUT/g_curl.err" | tr -d '\r'))"
	else
		fail "g SOCKSIFY_BIND=never: curl -P - fails with 425 and no BIND (rc $RC)"; show g_curl
	fi
fi

lab_down
echo "bind: ran in $(($(date +%s) - T_START)) s"
summary bind
