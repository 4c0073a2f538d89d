#!/bin/bash
# tests/lab/udp.sh - end-to-end tests of socksify's UDP support (SOCKS5 UDP
# ASSOCIATE through danted's relay) in the namespace lab (see lab.sh): a
# client that can reach only the proxy, a UDP echo server (udpecho.py) on
# port 7 of the target's addresses, dnsmasq on the target's .53 addresses.
#
#   0  the lab itself: a hand-rolled SOCKS5 UDP client (udpecho.py
#      --relay-test, no shim) gets byte-exact echoes through danted's relay
#   a  python sendto/recvfrom; recvfrom reports the real peer
#   b  python connect + send/recv (and read/write); getpeername is the peer
#   c  python sendmsg/recvmsg
#   d  IPv6 target, via the IPv4 and the IPv6 proxy address
#   e  nc -u, socat, dig +notcp (their own UDP sockets)
#   f  payload sizes 0 .. 65497 byte-exact; 65498 -> EMSGSIZE
#   g  spoofing: datagrams sent straight to the program's UDP port from a
#      non-relay source are never delivered
#   h  the proxy restarted between two datagrams: an echo or a clear error,
#      never a hang
#   i  capture on the client's veth during a-f: every IP packet is with the
#      proxy (its TCP port or its UDP relay)
#   j  control: without socksify no echo comes back; the border's spoof does
#      reach a plain socket in the client (so g is not vacuous)
#   m  UDP to a name through its placeholder (socks5h://)
#   k  a C program (tests/prog/udpmsg.c) through every datagram call:
#      sendmmsg/recvmmsg, connect + write/read, writev/readv, send/recv,
#      MSG_PEEK, MSG_TRUNC, EAGAIN, a socket shared across fork(); IPv4 and
#      IPv6 targets; built plain (make all) and with _FORTIFY_SOURCE (the
#      __recv_chk, __recvfrom_chk and __read_chk twins; compiled here)
#   l  node's dgram (libuv) round trip
#
#   tests/lab/udp.sh            uses ./socksify (build it first: make all)
#   LAB_VIA=dante tests/lab/udp.sh
#                               validates the lab with Dante's own client
#                               (/usr/bin/socksify, IPv4 only: its IPv6 cases
#                               are skipped)
#   LAB_KEEP=1                  keep the temp dir (danted logs, pcap)
#   LAB_VERBOSE=1               print every command's output
#
# Needs root and ip netns; otherwise every test is skipped (a failure in CI).
# Ends with "udp: N passed, N failed, N skipped".

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
# shellcheck source=lab.sh
. "$HERE/lab.sh"

VIA=${LAB_VIA:-socksify}
OUT=""
UDPECHO=$HERE/udpecho.py

# ---------------------------------------------------------------- helpers
# via, run, show, got, check_eq, lab_capture_*: see lab.sh.

# The client program.  Every mode prints what it got; recv timeouts are 5 s
# unless said otherwise.
#   sendto HOST PORT MSG      sendto/recvfrom: "MSG|host port" (the sender
#                             recvfrom reports)
#   connect HOST PORT MSG     connect, send, recv: "MSG|host port" (getpeername)
#   rw HOST PORT MSG          connect, os.write, os.read: "MSG"
#   msg HOST PORT MSG         sendmsg/recvmsg: "MSG|host port"
#   sizes HOST PORT N...      one datagram of N random bytes each: "N ok" or
#                             "N bad: ..."
#   big HOST PORT N           sendto N bytes: "errno NAME" or "sent"
#   spoof HOST PORT PORTFILE GOFILE
#                             echo "first", write the local port to PORTFILE,
#                             wait (<= 15 s) for GOFILE, send "second", then
#                             print every datagram that arrives within 2 s
#   restart HOST PORT PHASEFILE GOFILE
#                             echo "before", touch PHASEFILE, wait (<= 15 s)
#                             for GOFILE, send "after" and recv WITHOUT a
#                             timeout: prints the echo or "error NAME"
PYUDP='
import errno, os, socket, sys, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
args = sys.argv[4:]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
dst = (host, port)

def peer(a):
    return "%s %d" % (a[0], a[1])

def wait_file(f, secs=15):
    end = time.time() + secs
    while not os.path.exists(f):
        if time.time() > end:
            print("timed out waiting for " + f)
            sys.exit(3)
        time.sleep(0.05)

def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno))

s.settimeout(5)
if mode == "sendto":
    s.sendto(args[0].encode(), dst)
    data, frm = s.recvfrom(65536)
    print(data.decode() + "|" + peer(frm))
elif mode == "connect":
    s.connect(dst)
    s.send(args[0].encode())
    data = s.recv(65536)
    print(data.decode() + "|" + peer(s.getpeername()))
elif mode == "rw":
    s.connect(dst)
    s.setblocking(True)
    os.write(s.fileno(), args[0].encode())
    print(os.read(s.fileno(), 65536).decode())
elif mode == "msg":
    s.sendmsg([args[0][:2].encode(), args[0][2:].encode()], [], 0, dst)
    data, anc, flags, frm = s.recvmsg(65536)
    print(data.decode() + "|" + peer(frm))
elif mode == "sizes":
    rc = 0
    for n in map(int, args):
        payload = os.urandom(n)
        try:
            s.sendto(payload, dst)
            data, frm = s.recvfrom(65536)
        except OSError as e:
            print("%d bad: %s" % (n, e)); rc = 1; continue
        if data == payload and (frm[0], frm[1]) == dst:
            print("%d ok" % n)
        else:
            print("%d bad: %d bytes back from %s" % (n, len(data), peer(frm))); rc = 1
    sys.exit(rc)
elif mode == "big":
    try:
        s.sendto(b"x" * int(args[0]), dst)
        print("sent")
    except OSError as e:
        print("errno " + ename(e))
elif mode == "spoof":
    s.sendto(b"first", dst)
    print(s.recvfrom(65536)[0].decode(), flush=True)
    with open(args[0] + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(args[0] + ".tmp", args[0])
    wait_file(args[1])
    s.sendto(b"second", dst)
    s.settimeout(2)
    end = time.time() + 2
    while time.time() < end:
        try:
            data, frm = s.recvfrom(65536)
        except socket.timeout:
            break
        print(repr(data)[2:-1] + "|" + peer(frm), flush=True)
elif mode == "restart":
    s.sendto(b"before", dst)
    print(s.recvfrom(65536)[0].decode(), flush=True)
    with open(args[0], "w") as f:
        f.write("1\n")
    wait_file(args[1])
    s.settimeout(None)
    try:
        s.sendto(b"after", dst)
        data, frm = s.recvfrom(65536)
        print(data.decode() + "|" + peer(frm))
    except OSError as e:
        print("error " + ename(e) + ": " + str(e))
'
udpc() { "$PY" -c "$PYUDP" "$@"; }

# skip_dante_v6 DESC: Dante's client (1.4) leaves IPv6 sockets alone.
skip_dante_v6() {
	[ "$VIA" = dante ] || return 1
	skip "$1" "Dante's client does not carry IPv6 UDP"
	return 0
}

# sizes_check DESC NAME SIZE...: every "N ok" line present.
sizes_check() {
	local desc=$1 name=$2 n bad=""
	shift 2
	for n in "$@"; do
		grep -qx "$n ok" "$OUT/$name.out" || bad="$bad $n"
	done
	if [ "$RC" -eq 0 ] && [ -z "$bad" ]; then
		pass "$desc: sizes $* byte-exact"
	else
		fail "$desc: sizes $* byte-exact (not:$bad)"
		show "$name"
	fi
}

# ---------------------------------------------------------------- preconditions

if ! why=$(lab_available); then
	skip "udp lab tests" "$why"
	summary udp
	exit $?
fi
case $VIA in
socksify)
	if [ ! -x "$SOCKSIFY" ] || [ ! -f "$LIBSOCKSIFY" ]; then
		fail "socksify is built ($SOCKSIFY and $LIBSOCKSIFY missing: run make all)"
		summary udp
		exit 1
	fi
	;;
dante)
	[ -x "$(lab_dante_client)" ] || { fail "Dante's client /usr/bin/socksify installed (dante-client)"; summary udp; exit 1; }
	echo "udp: LAB_VIA=dante: validating the lab with Dante's client, not socksify"
	;;
*) fail "LAB_VIA=$VIA (want socksify or dante)"; summary udp; exit 1 ;;
esac

if ! lab_up; then
	fail "lab comes up (see messages above)"
	summary udp
	exit 1
fi
OUT=$LAB_DIR/out
mkdir -p "$OUT"
echo "udp: namespaces $(lab_namespaces | tr "\n" " ")temp dir $LAB_DIR"

P4=$LAB_PROXY4 P6=$LAB_PROXY6 T4=$LAB_TARGET4 T6=$LAB_TARGET6 UP=$LAB_UDP_PORT
U4="socks5://$P4:$LAB_PORT"
U6="socks5://[$P6]:$LAB_PORT"
SIZES="0 1 512 1472 8192 65497"

# ---------------------------------------------------------------- 0. the lab
# danted's UDP relay and the echo server, without any shim.
for pt in "$P4 $T4" "$P4 $T6" "$P6 $T6"; do
	read -r p t <<<"$pt"
	sz="0 1 1472 8192"
	# The largest datagram over an IPv4 relay: 65507 - the SOCKS header
	# (10 bytes for an IPv4 destination, 22 for IPv6).
	if [ "$p" = "$P4" ] && [ "$t" = "$T4" ]; then sz="$sz 65497"; fi
	if [ "$p" = "$P4" ] && [ "$t" = "$T6" ]; then sz="$sz 65485"; fi
	# shellcheck disable=SC2086
	run relay lab_c timeout 30 "$PY" "$UDPECHO" --relay-test "$p" "$LAB_PORT" "$t" "$UP" $sz
	bad=""
	for n in $sz; do grep -qx "$n ok $t $UP" "$OUT/relay.out" || bad="$bad $n"; done
	if [ "$RC" -eq 0 ] && [ -z "$bad" ]; then
		pass "0 lab: danted relays UDP for $t:$UP via $p:$LAB_PORT (hand-rolled client; sizes $sz)"
	else
		fail "0 lab: danted relays UDP for $t:$UP via $p:$LAB_PORT (not:$bad)"
		show relay
	fi
done
run relay6 lab_c6 timeout 30 "$PY" "$UDPECHO" --relay-test "$LAB_B6" "$LAB_PORT" "$T6" "$UP" 0 1 1472 8192
if [ "$RC" -eq 0 ] && grep -qx "8192 ok $T6 $UP" "$OUT/relay6.out"; then
	pass "0 lab: danted relays UDP for the IPv6-only client c6: $T6:$UP via $LAB_B6:$LAB_PORT (hand-rolled client)"
else
	fail "0 lab: danted relays UDP for the IPv6-only client c6: $T6:$UP via $LAB_B6:$LAB_PORT"
	show relay6
fi

# ---------------------------------------------------------------- j. control
run control4 lab_c timeout 10 "$PY" -c "$PYUDP" sendto "$T4" "$UP" ctl
if [ "$RC" -ne 0 ] && ! grep -q 'ctl|' "$OUT/control4.out"; then
	pass "j control: without socksify python sendto $T4:$UP gets no echo ($(tail -n1 "$OUT/control4.err"))"
else
	fail "j control: without socksify python sendto $T4:$UP gets no echo"; show control4
fi
# The border's spoof does reach a plain socket in the client.
PYRECV='
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
s.settimeout(5)
print(s.recvfrom(65536)[0].decode())
'
rm -f "$OUT/ctlspoof.port"
lab_spawn "$LAB_NS_C" timeout 10 "$PY" -c "$PYRECV" "$LAB_CLIENT4" "$OUT/ctlspoof.port" \
	>"$OUT/ctlspoof.out" 2>"$OUT/ctlspoof.err"
ctlpid=$LAB_LAST_PID
if lab_wait_file "$OUT/ctlspoof.port" 50; then
	lab_b timeout 5 "$PY" "$UDPECHO" --spoof "$LAB_CLIENT4" "$(cat "$OUT/ctlspoof.port")" --from "$P4"
fi
wait "$ctlpid" 2>/dev/null
if grep -qx SPOOFED "$OUT/ctlspoof.out"; then
	pass "j control: a datagram from the border ($P4) reaches a plain UDP socket in the client"
else
	fail "j control: a datagram from the border ($P4) reaches a plain UDP socket in the client"
	sed 's/^/  | /' "$OUT/ctlspoof.out" "$OUT/ctlspoof.err"
fi

# ---------------------------------------------------------------- i. capture on
PCAP=$LAB_DIR/udp-client.pcap
lab_capture_start "$LAB_NS_C" "$LAB_IF_C" "$PCAP"

# ---------------------------------------------------------------- a. sendto
check_eq "a sendto/recvfrom $T4:$UP via $U4; recvfrom reports the peer" \
	a_sendto "hello-a|$T4 $UP" via "$U4" "$PY" -c "$PYUDP" sendto "$T4" "$UP" hello-a

# ---------------------------------------------------------------- b. connect
check_eq "b connect+send/recv $T4:$UP via $U4; getpeername is the peer" \
	b_connect "hello-b|$T4 $UP" via "$U4" "$PY" -c "$PYUDP" connect "$T4" "$UP" hello-b
check_eq "b connect+write/read $T4:$UP via $U4" \
	b_rw "hello-rw" via "$U4" "$PY" -c "$PYUDP" rw "$T4" "$UP" hello-rw

# ---------------------------------------------------------------- c. sendmsg
check_eq "c sendmsg/recvmsg $T4:$UP via $U4" \
	c_msg "hello-c|$T4 $UP" via "$U4" "$PY" -c "$PYUDP" msg "$T4" "$UP" hello-c

# ---------------------------------------------------------------- d. IPv6
for pu in "$U4" "$U6"; do
	skip_dante_v6 "d IPv6 sendto/recvfrom [$T6]:$UP via $pu" && continue
	check_eq "d IPv6 sendto/recvfrom [$T6]:$UP via $pu" \
		d_v6 "hello-d|$T6 $UP" via "$pu" "$PY" -c "$PYUDP" sendto "$T6" "$UP" hello-d
done
if ! skip_dante_v6 "d IPv6 connect+send/recv [$T6]:$UP via $U6"; then
	check_eq "d IPv6 connect+send/recv [$T6]:$UP via $U6" \
		d_v6c "hello-d6|$T6 $UP" via "$U6" "$PY" -c "$PYUDP" connect "$T6" "$UP" hello-d6
fi
# The IPv6-only client c6 (no IPv4 at all but lo): the relay must be IPv6.
UC6="socks5://[$LAB_B6]:$LAB_PORT"
if ! skip_dante_v6 "d IPv6-only client c6: sendto/recvfrom [$T6]:$UP via $UC6"; then
	check_eq "d IPv6-only client c6: sendto/recvfrom [$T6]:$UP via $UC6" \
		d_c6 "hello-c6|$T6 $UP" via_ns "$LAB_NS_C6" "$UC6" "$PY" -c "$PYUDP" sendto "$T6" "$UP" hello-c6
fi

# ---------------------------------------------------------------- e. tools
run e_nc via "$U4" sh -c "printf 'nc-udp-x' | nc -u -w 2 $T4 $UP"
if got e_nc nc-udp-x; then pass "e nc -u $T4 $UP echoes via $U4"; else fail "e nc -u $T4 $UP echoes via $U4"; show e_nc; fi
if command -v socat >/dev/null 2>&1; then
	run e_socat via "$U4" sh -c "printf 'socat-udp-x' | socat -t 2 -T 3 - UDP:$T4:$UP"
	if got e_socat socat-udp-x; then pass "e socat - UDP:$T4:$UP echoes via $U4"; else fail "e socat - UDP:$T4:$UP echoes via $U4"; show e_socat; fi
else
	fail "e socat installed (scripts/install-deps.sh)"
fi
if command -v dig >/dev/null 2>&1; then
	run e_dig via "$U4" dig +notcp +short +time=3 +tries=1 @"$LAB_DNS4" "$LAB_NAME" A
	if [ "$RC" -eq 0 ] && got e_dig "$T4"; then
		pass "e dig +notcp @$LAB_DNS4 $LAB_NAME answers $T4 via $U4"
	else
		fail "e dig +notcp @$LAB_DNS4 $LAB_NAME answers $T4 via $U4"; show e_dig
	fi
else
	fail "e dig installed (dnsutils)"
fi

# ---------------------------------------------------------------- f. sizes
# shellcheck disable=SC2086
run f_sizes via "$U4" "$PY" -c "$PYUDP" sizes "$T4" "$UP" $SIZES
# shellcheck disable=SC2086
sizes_check "f $T4:$UP via $U4" f_sizes $SIZES
check_eq "f 65498 bytes to $T4 via $U4 (over 65507 with the SOCKS header) -> EMSGSIZE" \
	f_big "errno EMSGSIZE" via "$U4" "$PY" -c "$PYUDP" big "$T4" "$UP" 65498

# ---------------------------------------------------------------- i. capture off
lab_capture_stop
if [ -s "$PCAP" ]; then
	STRAY='(ip and not host '"$P4"') or (ip6 and not ip6 protochain 58 and not host '"$P6"')'
	tcpdump -nn -r "$PCAP" "$STRAY" >"$OUT/stray.txt" 2>/dev/null
	nstray=$(wc -l <"$OUT/stray.txt")
	relay4=$(tcpdump -nn -r "$PCAP" "ip and udp and host $P4" 2>/dev/null | wc -l)
	relay6=$(tcpdump -nn -r "$PCAP" "ip6 and udp and host $P6" 2>/dev/null | wc -l)
	ctl=$(tcpdump -nn -r "$PCAP" "tcp port $LAB_PORT" 2>/dev/null | wc -l)
	# (relay6 may be 0: danted may hand out its IPv4 relay address to an
	# IPv6 control connection, and a dual-stack socket can use it.)
	if [ "$nstray" -eq 0 ] && [ "$relay4" -gt 0 ]; then
		pass "i capture: every IP packet of a-f was with the proxy ($ctl TCP :$LAB_PORT, $relay4 UDP with $P4, $relay6 UDP with $P6)"
	else
		fail "i capture: every IP packet of a-f was with the proxy, UDP with the relay ($nstray stray, $relay4 UDP v4, $relay6 UDP v6 with the relay)"
		head -n 10 "$OUT/stray.txt" | sed 's/^/  stray| /'
	fi
else
	fail "i capture: tcpdump wrote a capture"; sed 's/^/  | /' "$PCAP.err"
fi

# ---------------------------------------------------------------- g. spoofing
# The program's own port and every other UDP port it holds (ss) get a plain
# "SPOOFED" and one wrapped in a SOCKS UDP header claiming $T4:$UP, from the
# relay's address (another port) and from another border address.
rm -f "$OUT/g.port" "$OUT/g.go"
(
	via "$U4" timeout 25 "$PY" -c "$PYUDP" spoof "$T4" "$UP" "$OUT/g.port" "$OUT/g.go" \
		>"$OUT/g_spoof.out" 2>"$OUT/g_spoof.err"
	echo $? >"$OUT/g_spoof.rc"
) &
gjob=$!
ports=""
if lab_wait_file "$OUT/g.port" 150; then
	ports=$(cat "$OUT/g.port")
	# Other UDP sockets of the program (the shim's, if any).
	for pid in $(ip netns pids "$LAB_NS_C" 2>/dev/null); do
		case $(cat "/proc/$pid/comm" 2>/dev/null) in python3*) ;; *) continue ;; esac
		ports="$ports $(lab_c ss -Huanp 2>/dev/null | grep "pid=$pid," | awk '{print $4}' | sed 's/.*://')"
	done
	ports=$(tr ' ' '\n' <<<"$ports" | grep -E '^[1-9][0-9]*$' | sort -u | tr '\n' ' ' | sed 's/ $//')
	for port in $ports; do
		for src in "$P4" "$LAB_B4"; do
			lab_b timeout 5 "$PY" "$UDPECHO" --spoof "$LAB_CLIENT4" "$port" --from "$src" \
				--socks-from "$T4:$UP" 2>>"$OUT/g_spoof.senderr"
		done
	done
fi
touch "$OUT/g.go"
wait "$gjob" 2>/dev/null
RC=$(cat "$OUT/g_spoof.rc" 2>/dev/null || echo 99)
if grep -q SPOOFED "$OUT/g_spoof.out"; then
	fail "g spoofing: a datagram from a non-relay source was delivered to the program (ports $ports)"
	show g_spoof
elif [ "$RC" -eq 0 ] && [ "$(head -n1 "$OUT/g_spoof.out")" = first ] && [ -n "$ports" ] &&
	! grep -v -e '^first$' -e "^second|$T4 $UP\$" "$OUT/g_spoof.out" | grep -q .; then
	if grep -qx "second|$T4 $UP" "$OUT/g_spoof.out"; then
		pass "g spoofing: 4 spoofed datagrams to each of ports $ports never delivered; only the genuine echo"
	else
		pass "g spoofing: 4 spoofed datagrams to each of ports $ports never delivered (the genuine echo timed out)"
	fi
else
	fail "g spoofing: the program ran (echo, port, only the genuine echo after the spoof)"
	show g_spoof
fi

# ---------------------------------------------------------------- h. restart
rm -f "$OUT/h.phase" "$OUT/h.go"
(
	via "$U4" timeout 20 "$PY" -c "$PYUDP" restart "$T4" "$UP" "$OUT/h.phase" "$OUT/h.go" \
		>"$OUT/h_restart.out" 2>"$OUT/h_restart.err"
	echo $? >"$OUT/h_restart.rc"
) &
hjob=$!
restarted=0
if lab_wait_file "$OUT/h.phase" 150; then
	lab_danted_restart && restarted=1
fi
touch "$OUT/h.go"
wait "$hjob" 2>/dev/null
RC=$(cat "$OUT/h_restart.rc" 2>/dev/null || echo 99)
last=$(tail -n1 "$OUT/h_restart.out")
if [ "$restarted" = 1 ] && [ "$RC" -ne 124 ] && [ "$(head -n1 "$OUT/h_restart.out")" = before ]; then
	case $last in
	"after|$T4 $UP") pass "h proxy restarted between two datagrams: the second echo came back (recovered)" ;;
	"error "*) pass "h proxy restarted between two datagrams: a clear error (${last#error })" ;;
	*) fail "h proxy restarted between two datagrams: an echo or an error (rc $RC, got \"$last\")"; show h_restart ;;
	esac
else
	fail "h proxy restarted between two datagrams: no hang (restarted=$restarted, rc $RC$([ "$RC" -eq 124 ] && echo ": hung until timeout 20"))"
	show h_restart
fi

# ---------------------------------------------------------------- k. C calls
# udpmsg prints one "ok:"/"FAIL:" line per fact and "all facts hold".
UDPMSG=$TOP/build/prog/udpmsg
UDPMSG_F=$LAB_DIR/udpmsg-fortify
udpmsg_case() { # DESC NAME BINARY HOST
	local desc=$1 name=$2 bin=$3 host=$4
	run "$name" via "$U4" timeout 40 "$bin" "$host" "$UP"
	lab_facts "$desc" "$name"
}
if [ "$VIA" = dante ]; then
	skip "k udpmsg (C: every datagram call)" "only with socksify (LAB_VIA=dante)"
elif [ ! -x "$UDPMSG" ]; then
	fail "k $UDPMSG built (make all)"
else
	for t in "$T4" "$T6"; do
		udpmsg_case "k udpmsg $t:$UP via $U4: sendmmsg/recvmmsg, write/read, writev/readv, send/recv, MSG_PEEK, MSG_TRUNC, EAGAIN, fork" \
			"k_udpmsg_$t" "$UDPMSG" "$t"
	done
	# The fortified build (the Makefile's is built without it, so that
	# the plain recv, recvfrom and read are tested too).
	if cc -O2 -D_FORTIFY_SOURCE=2 -DUDPMSG_FORTIFY -std=c11 -D_GNU_SOURCE \
		-o "$UDPMSG_F" "$TOP/tests/prog/udpmsg.c" 2>"$OUT/k_fortify_cc.err"; then
		chk=$(nm -u "$UDPMSG_F" | grep -oE '__(recvfrom|recv|read)_chk' | sort -u | tr '\n' ' ')
		plain=$(nm -u "$UDPMSG" | grep -oE '__(recvfrom|recv|read)_chk' | sort -u | tr '\n' ' ')
		if [ "$chk" = "__read_chk __recv_chk __recvfrom_chk " ] && [ -z "$plain" ]; then
			pass "k the fortified udpmsg calls ${chk% } (the plain build none of them)"
		else
			fail "k the fortified udpmsg calls __read_chk __recv_chk __recvfrom_chk, the plain build none (fortified: \"$chk\", plain: \"$plain\")"
		fi
		for t in "$T4" "$T6"; do
			udpmsg_case "k udpmsg, fortified (_chk twins), $t:$UP via $U4" \
				"k_udpmsg_fortify_$t" "$UDPMSG_F" "$t"
		done
	else
		fail "k udpmsg compiles with -D_FORTIFY_SOURCE=2"
		sed 's/^/  | /' "$OUT/k_fortify_cc.err"
	fi
fi

# ---------------------------------------------------------------- l. node
NODEJS='
const d = require("dgram").createSocket("udp4");
const t = setTimeout(() => { console.log("no echo within 5 s"); process.exit(1); }, 5000);
d.on("message", (m, r) => {
	console.log(m.toString() + "|" + r.address + " " + r.port);
	clearTimeout(t);
	d.close();
});
d.on("error", (e) => { console.log("error " + e.code); process.exit(1); });
d.send("hello-node", Number(process.argv[2]), process.argv[1]);
'
if ! command -v node >/dev/null 2>&1; then
	skip "l node dgram round trip" "node is not installed"
else
	check_eq "l node dgram (libuv) send/message $T4:$UP via $U4; the sender is the peer" \
		l_node "hello-node|$T4 $UP" via "$U4" timeout 15 node -e "$NODEJS" "$T4" "$UP"
fi

# ---------------------------------------------------------------- m. names
# Remote DNS and UDP together: the program sends to the placeholder of a
# name only the proxy can resolve; the name goes to the relay (ATYP
# domain), and the reply is shown as coming from that placeholder.
PYNAME='
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
ai = socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_DGRAM)[0]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"by-name", ai[4])
data, frm = s.recvfrom(100)
print(data.decode() + "|" + ("same" if frm == ai[4] else "other") + "|" + ai[4][0])
'
run m_name via "socks5h://$P4:$LAB_PORT" timeout 15 "$PY" -c "$PYNAME" www.socksify.test "$UP"
if [ "$RC" -eq 0 ] && grep -Eq '^by-name\|same\|127\.(19[2-9]|2[0-5][0-9])\.' "$OUT/m_name.out"; then
	pass "m UDP to a name by placeholder (socks5h): echoed, sender shown as the placeholder ($(cat "$OUT/m_name.out"))"
else
	fail "m UDP to a name by placeholder (socks5h)"; show m_name
fi

lab_down
summary udp
