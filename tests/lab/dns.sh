#!/bin/bash
# tests/lab/dns.sh - end-to-end tests of socksify's name resolution in the
# namespace lab (see lab.sh): a client that can reach only the SOCKS5 proxy
# and cannot resolve any name itself (its resolver is routed into a black
# hole on the border), a border whose danted resolves names through dnsmasq
# in the target namespace, and two single-stack clients (c4, c6) for the
# RFC 3089 gateway cases.
#
#   a-d  remote mode (socks5h://): curl, wget, python3, getent get
#        placeholder addresses; the proxy resolves and connects
#   e    local paths: /etc/hosts names, localhost, numeric hosts
#   f    capture: nothing but proxy traffic during a-e, no port 53 at all
#   g    control: without socksify the client cannot resolve, and the
#        capture does see its leaked query
#   h    tunnel mode (dns tunnel + dns_server): real addresses, DNS over TCP
#        through the proxy
#   i    route direct <hostpattern>: such names are not placeholders
#   j    RFC 3089: IPv6-only client to an IPv4-only server and back
#   k    stress: 32 threads, 10000 names, getaddrinfo + connect + echo
#
#   tests/lab/dns.sh            uses ./socksify (build it first: make all)
#   LAB_VIA=proxychains tests/lab/dns.sh
#                               validates the lab with proxychains4
#                               (proxy_dns); socksify-only tests are skipped
#   LAB_KEEP=1                  keep the temp dir (danted/dnsmasq logs, pcaps)
#   LAB_VERBOSE=1               print every command's output
#
# Needs root and ip netns; otherwise every test is skipped (a failure in CI).
# Ends with "dns: N passed, N failed, N skipped".

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
# shellcheck source=lab.sh
. "$HERE/lab.sh"

DNSSTRESS=$TOP/build/prog/dnsstress
VIA=${LAB_VIA:-socksify}
OUT=""

# ---------------------------------------------------------------- helpers
# via, run, show, got, check_eq, lab_capture_*: see lab.sh.

# addrs NAME: the distinct addresses (first column) of NAME's stdout, e.g.
# getent ahosts output, sorted, space-separated.
addrs() { awk 'NF {print $1}' "$OUT/$1.out" | sort -u | tr '\n' ' ' | sed 's/ $//'; }

# classify ADDR...: prints "PH4 PH6 OTHER": how many are placeholders
# (127.192.0.0/10, 100::/64) and how many are not.
PYCLASS='
import ipaddress, sys
ph4 = ipaddress.ip_network("127.192.0.0/10")
ph6 = ipaddress.ip_network("100::/64")
n = [0, 0, 0]
for w in sys.argv[1:]:
    try:
        a = ipaddress.ip_address(w)
    except ValueError:
        n[2] += 1
        continue
    n[0 if a in ph4 else 1 if a in ph6 else 2] += 1
print(*n)
'
classify() { "$PY" -c "$PYCLASS" "$@"; }
# classify_out NAME: classify the addresses of NAME's stdout.
classify_out() {
	local a
	read -r -a a <<<"$(addrs "$1")"
	classify "${a[@]}"
}

# skip_unless_socksify DESC: under proxychains, skip DESC and return 1.
skip_unless_socksify() {
	[ "$VIA" = socksify ] && return 0
	skip "$1" "socksify-specific; LAB_VIA=$VIA"
	return 1
}

# facts DESC NAME: one result per "ok: "/"FAIL: " line of NAME's stdout (a
# python facts script); a failure if the script failed otherwise.
facts() {
	local desc=$1 name=$2 line n=0
	while IFS= read -r line; do
		case $line in
		"ok: "*) pass "$desc: ${line#ok: }"; n=$((n + 1)) ;;
		"FAIL: "*) fail "$desc: ${line#FAIL: }"; n=$((n + 1)) ;;
		esac
	done <"$OUT/$name.out"
	if [ "$n" -eq 0 ] || { [ "$RC" -ne 0 ] && ! grep -q '^FAIL: ' "$OUT/$name.out"; }; then
		fail "$desc: the script ran to the end (rc $RC, $n facts)"
		show "$name"
	elif grep -q '^FAIL: ' "$OUT/$name.out"; then
		show "$name"
	fi
}

# danted_saw CLIENT DEST: danted logged a connect from CLIENT (an address)
# to DEST ("addr.port", the address it resolved the name to).
danted_saw() {
	grep -F "tcp/connect [: $1." "$LAB_DANTED_LOG" | grep -q -- " $2\$"
}

# check_capture DESC PCAP P4 P6: every IP packet in PCAP is with the proxy
# (P4 or P6, either may be "-" for none), none has port 53, at least one is
# with the proxy.  ND/MLD (ICMPv6) and ARP are link housekeeping: excluded.
check_capture() {
	local desc=$1 pcap=$2 p4=$3 p6=$4 stray toproxy n53 f4 f6
	if [ ! -s "$pcap" ]; then
		fail "$desc: tcpdump wrote a capture"
		sed 's/^/  | /' "$pcap.err"
		return
	fi
	f4='ip'; [ "$p4" != - ] && f4="ip and not host $p4"
	f6='ip6 and not ip6 protochain 58'; [ "$p6" != - ] && f6="$f6 and not host $p6"
	stray="($f4) or ($f6)"
	tcpdump -nn -r "$pcap" "$stray" >"$pcap.stray" 2>/dev/null
	tcpdump -nn -r "$pcap" "port 53" >"$pcap.53" 2>/dev/null
	toproxy=$(tcpdump -nn -r "$pcap" "tcp port $LAB_PORT" 2>/dev/null | wc -l)
	n53=$(wc -l <"$pcap.53")
	if [ "$n53" -eq 0 ]; then
		pass "$desc: no packet with port 53"
	else
		fail "$desc: no packet with port 53 (got $n53)"
		head -n 5 "$pcap.53" | sed 's/^/  dns| /'
	fi
	if [ "$toproxy" -gt 0 ] && [ ! -s "$pcap.stray" ]; then
		pass "$desc: all $toproxy IP packets were with the proxy"
	else
		fail "$desc: all IP packets were with the proxy ($toproxy with the proxy, $(wc -l <"$pcap.stray") stray)"
		head -n 10 "$pcap.stray" | sed 's/^/  stray| /'
	fi
}

# Remote-mode facts from python: placeholders, reverse lookups, odd calls.
PYREMOTE='
import ipaddress, socket, sys
name, msg = sys.argv[1], sys.argv[2].encode()
PH4 = ipaddress.ip_network("127.192.0.0/10")
PH6 = ipaddress.ip_network("100::/64")
nfail = 0
def fact(ok, text):
    global nfail
    print(("ok: " if ok else "FAIL: ") + text, flush=True)
    nfail += 0 if ok else 1
def ip(a):
    return ipaddress.ip_address(a.split("%")[0])
def isph(a):
    a = ip(a)
    return a in PH4 or a in PH6
def attempt(what, f):
    try:
        return f()
    except Exception as e:
        fact(False, "%s raised %r" % (what, e))
        return None

r = attempt("getaddrinfo(name, 80)", lambda: socket.getaddrinfo(name, 80))
if r is not None:
    a = sorted({x[4][0] for x in r})
    fact(len(r) > 0 and all(isph(x) for x in a),
         "getaddrinfo(%r, 80), no hints: %d entries, all placeholders: %s" % (name, len(r), " ".join(a)))

def echo():
    s = socket.create_connection((name, 7), timeout=15)
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return data
d = attempt("create_connection((name, 7))", echo)
if d is not None:
    fact(d == msg, "create_connection((%r, 7)): echo round trip (%d bytes back)" % (name, len(d)))

a4 = a6 = None
r = attempt("getaddrinfo AF_INET", lambda: socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM))
if r is not None:
    a = [x[4][0] for x in r]
    ok = len(r) == 1 and ip(a[0]) in PH4 and r[0][4][1] == 80
    fact(ok, "getaddrinfo(AF_INET, SOCK_STREAM): one address in 127.192.0.0/10, port 80: %s" % r)
    if ok:
        a4 = a[0]
r = attempt("getaddrinfo AF_INET6", lambda: socket.getaddrinfo(name, 80, socket.AF_INET6, socket.SOCK_STREAM))
if r is not None:
    a = sorted({x[4][0] for x in r})
    ok = len(a) == 1 and ip(a[0]) in PH6 and all(x[4][1] == 80 for x in r)
    fact(ok, "getaddrinfo(AF_INET6, SOCK_STREAM): an address in 100::/64, port 80: %s" % r)
    if ok:
        a6 = a[0]

h = attempt("gethostbyname", lambda: socket.gethostbyname(name))
if h is not None:
    fact(ip(h) in PH4 and (a4 is None or h == a4),
         "gethostbyname: %s, in 127.192.0.0/10, the same as getaddrinfo AF_INET (%s)" % (h, a4))
h = attempt("gethostbyname_ex", lambda: socket.gethostbyname_ex(name))
if h is not None:
    fact(len(h[2]) >= 1 and all(ip(x) in PH4 for x in h[2]),
         "gethostbyname_ex: %r, addresses in 127.192.0.0/10" % (h,))

for a in (a4, a6):
    if a is None:
        fact(False, "no placeholder to look up in reverse")
        continue
    h = attempt("gethostbyaddr(%s)" % a, lambda: socket.gethostbyaddr(a))
    if h is not None:
        fact(h[0].lower().rstrip(".") == name, "gethostbyaddr(%s): %r" % (a, h))
    sa = (a, 80) if ":" not in a else (a, 80, 0, 0)
    h = attempt("getnameinfo(%s)" % a, lambda: socket.getnameinfo(sa, socket.NI_NAMEREQD))
    if h is not None:
        fact(h[0].lower().rstrip(".") == name, "getnameinfo((%s, 80), NI_NAMEREQD): %r" % (a, h))

r = attempt("getaddrinfo(None, \"80\")", lambda: socket.getaddrinfo(None, "80"))
if r is not None:
    fact(len(r) > 0 and all(ip(x[4][0]).is_loopback and x[4][1] == 80 for x in r),
         "getaddrinfo(None, \"80\"): loopback, port 80: %s" % sorted({(x[4][0], x[4][1]) for x in r}))
r = attempt("getaddrinfo(name, None)", lambda: socket.getaddrinfo(name, None))
if r is not None:
    fact(len(r) > 0 and all(isph(x[4][0]) and x[4][1] == 0 for x in r),
         "getaddrinfo(%r, None): placeholders, port 0: %s" % (name, sorted({x[4][0] for x in r})))
sys.exit(min(nfail, 100))
'

# Local-path facts from python: /etc/hosts, localhost, numeric hosts resolve
# to real addresses, and a connection by the /etc/hosts name works.
PYLOCAL='
import socket, sys
hname, haddr, msg = sys.argv[1], sys.argv[2], sys.argv[3].encode()
nfail = 0
def fact(ok, text):
    global nfail
    print(("ok: " if ok else "FAIL: ") + text, flush=True)
    nfail += 0 if ok else 1
def gai(host, *a):
    try:
        return sorted({x[4][0] for x in socket.getaddrinfo(host, 80, *a)})
    except Exception as e:
        return ["raised %r" % e]
def call(f, *a):
    try:
        return f(*a)
    except Exception as e:
        return "raised %r" % e

got = gai(hname, 0, socket.SOCK_STREAM)
fact(got == [haddr], "getaddrinfo(%r): %s (from /etc/hosts)" % (hname, got))
got = call(socket.gethostbyname, hname)
fact(got == haddr, "gethostbyname(%r): %s" % (hname, got))
got = gai("localhost", 0, socket.SOCK_STREAM)
fact(got == ["127.0.0.1", "::1"], "getaddrinfo(\"localhost\"): %s" % got)
got = call(socket.gethostbyname, "localhost")
fact(got == "127.0.0.1", "gethostbyname(\"localhost\"): %s" % got)
for host in ("198.18.1.2", "2001:db8:2::2"):
    got = gai(host)
    fact(got == [host], "getaddrinfo(%r) stays numeric: %s" % (host, got))
got = call(socket.gethostbyname, "198.18.1.2")
fact(got == "198.18.1.2", "gethostbyname(\"198.18.1.2\") stays numeric: %s" % got)
got = call(socket.getnameinfo, ("198.18.1.2", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)
fact(got == ("198.18.1.2", "80"), "getnameinfo(198.18.1.2, NUMERICHOST): %r" % (got,))

def echo():
    s = socket.create_connection((hname, 7), timeout=15)
    peer = s.getpeername()[0]
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return peer, data
got = call(echo)
fact(isinstance(got, tuple) and got == (haddr, msg),
     "create_connection((%r, 7)): peer %s, echo round trip" % (hname, got[0] if isinstance(got, tuple) else got))
sys.exit(min(nfail, 100))
'

# ---------------------------------------------------------------- preconditions

if ! why=$(lab_available); then
	skip "dns tests" "$why"
	summary dns
	exit $?
fi
case $VIA in
socksify)
	if [ ! -x "$SOCKSIFY" ] || [ ! -f "$LIBSOCKSIFY" ]; then
		fail "socksify is built ($SOCKSIFY and $LIBSOCKSIFY missing: run make all)"
		summary dns
		exit 1
	fi
	;;
proxychains)
	command -v proxychains4 >/dev/null || { fail "proxychains4 installed"; summary dns; exit 1; }
	echo "dns: LAB_VIA=proxychains: validating the lab with proxychains4, not socksify"
	;;
*) fail "LAB_VIA=$VIA (want socksify or proxychains)"; summary dns; exit 1 ;;
esac
[ -x "$DNSSTRESS" ] || echo "dns: $DNSSTRESS missing (make all builds it); its test will fail"

if ! lab_up; then
	fail "lab comes up (see messages above)"
	summary dns
	exit 1
fi
OUT=$LAB_DIR/out
mkdir -p "$OUT"
echo "dns: namespaces $LAB_NS_C $LAB_NS_B $LAB_NS_T $LAB_NS_C4 $LAB_NS_C6, temp dir $LAB_DIR"

P4=$LAB_PROXY4 P6=$LAB_PROXY6 T4=$LAB_TARGET4 T6=$LAB_TARGET6
UH="socks5h://$P4:$LAB_PORT"
TOKEN=$LAB_TOKEN
NAME=$LAB_NAME

# ---------------------------------------------------------------- g. control
# Without socksify the client cannot resolve (its resolver is routed into a
# black hole on the border), and the capture does see the attempt.

PCAP_G=$LAB_DIR/control.pcap
lab_capture_start "$LAB_NS_C" "$LAB_IF_C" "$PCAP_G"
run control lab_c timeout 15 getent ahosts "$NAME"
lab_capture_stop
if [ "$RC" -ne 0 ] && [ ! -s "$OUT/control.out" ]; then
	pass "g control: without socksify, getent ahosts $NAME fails in the client (rc $RC)"
else
	fail "g control: without socksify, getent ahosts $NAME fails in the client"; show control
fi
leak=$(tcpdump -nn -r "$PCAP_G" "udp and dst port 53 and (dst host $LAB_DNS4 or dst host $LAB_DNS6)" 2>/dev/null | wc -l)
if [ "$leak" -gt 0 ]; then
	pass "g control: the capture shows the $leak leaked queries to $LAB_DNS4/$LAB_DNS6 port 53"
else
	fail "g control: the capture shows the leaked query to $LAB_DNS4 port 53"
	tcpdump -nn -r "$PCAP_G" 2>&1 | head -n 10 | sed 's/^/  | /'
fi
if ! grep -q "from $LAB_CLIENT4\$" "$LAB_DNSMASQ_LOG" 2>/dev/null; then
	pass "g control: dnsmasq never heard from the client"
else
	fail "g control: dnsmasq never heard from the client"
fi

# ---------------------------------------------------------------- f. capture on
PCAP=$LAB_DIR/client.pcap
lab_capture_start "$LAB_NS_C" "$LAB_IF_C" "$PCAP"

# ---------------------------------------------------------------- a. curl
dl0=$(wc -l <"$LAB_DANTED_LOG")
check_eq "a curl -4 http://$NAME/" curl4 "$TOKEN" via "$UH" curl -4 -sS -m 15 "http://$NAME/"
check_eq "a curl -6 http://$NAME/" curl6 "$TOKEN" via "$UH" curl -6 -sS -m 15 "http://$NAME/"
check_eq "a curl http://$LAB_NAME_CNAME/ (a CNAME)" curlcn "$TOKEN" via "$UH" curl -sS -m 15 "http://$LAB_NAME_CNAME/"
sleep 0.2
nres=$(tail -n +$((dl0 + 1)) "$LAB_DANTED_LOG" | grep -E "tcp/connect \[: ($LAB_CLIENT4|$LAB_CLIENT6)\." |
	grep -cE " ($T4|$T6)\.80\$")
if [ "$nres" -ge 3 ]; then
	pass "a danted resolved the names: $nres connects to $T4.80 or $T6.80 in its log"
else
	fail "a danted resolved the names: its log shows connects to $T4.80 or $T6.80 (got $nres)"
	lab_danted_tail 8
fi

# ---------------------------------------------------------------- b. wget
check_eq "b wget -qO- http://$NAME/" wget "$TOKEN" via "$UH" wget -qO- -T 15 -t 1 "http://$NAME/"

# ---------------------------------------------------------------- c. python
if skip_unless_socksify "c python3 resolver calls (placeholder addresses)"; then
	run pyremote via "$UH" "$PY" -c "$PYREMOTE" "$NAME" "python-dns-echo-$TOKEN"
	facts "c python3" pyremote
fi

# ---------------------------------------------------------------- d. getent
if skip_unless_socksify "d getent ahosts (placeholder addresses)"; then
	run getent via "$UH" getent ahosts "$NAME"
	read -r n4 n6 nother <<<"$(classify_out getent)"
	if [ "$RC" -eq 0 ] && [ $((n4 + n6)) -gt 0 ] && [ "$nother" -eq 0 ]; then
		pass "d getent ahosts $NAME: placeholders only ($n4 IPv4, $n6 IPv6: $(addrs getent))"
	else
		fail "d getent ahosts $NAME: placeholders only (got $n4 IPv4, $n6 IPv6, $nother others)"; show getent
	fi
	canon=$(awk 'NR == 1 {print $3}' "$OUT/getent.out")
	if [ "$canon" = "$NAME" ]; then
		pass "d getent ahosts $NAME: the canonical name (AI_CANONNAME) is $canon"
	else
		fail "d getent ahosts $NAME: the canonical name (AI_CANONNAME) is $NAME (got \"$canon\")"
	fi
fi

# ---------------------------------------------------------------- e. local paths
run pylocal via "$UH" "$PY" -c "$PYLOCAL" "$LAB_HOSTS_NAME" "$T4" "python-hosts-echo-$TOKEN"
facts "e local" pylocal
run gehosts via "$UH" getent ahosts "$LAB_HOSTS_NAME"
if [ "$RC" -eq 0 ] && [ "$(addrs gehosts)" = "$T4" ]; then
	pass "e getent ahosts $LAB_HOSTS_NAME: $T4 (from /etc/hosts)"
else
	fail "e getent ahosts $LAB_HOSTS_NAME: $T4 (from /etc/hosts; got \"$(addrs gehosts)\")"; show gehosts
fi
run gelocal via "$UH" getent ahosts localhost
if [ "$RC" -eq 0 ] && [ "$(addrs gelocal)" = "127.0.0.1 ::1" ]; then
	pass "e getent ahosts localhost: 127.0.0.1 ::1"
else
	fail "e getent ahosts localhost: 127.0.0.1 ::1 (got \"$(addrs gelocal)\")"; show gelocal
fi
check_eq "e curl http://$LAB_HOSTS_NAME/ (an /etc/hosts name, through the proxy)" curlhosts "$TOKEN" \
	via "$UH" curl -sS -m 15 "http://$LAB_HOSTS_NAME/"

# ---------------------------------------------------------------- f. capture off
lab_capture_stop
check_capture "f capture during a-e" "$PCAP" "$P4" "$P6"

# ---------------------------------------------------------------- h. tunnel
if skip_unless_socksify "h tunnel mode (dns tunnel)"; then
	TCONF=$LAB_DIR/tunnel.conf
	cat >"$TCONF" <<EOF
proxy socks5://$P4:$LAB_PORT
dns tunnel
dns_server $LAB_DNS4
EOF
	PCAP_H=$LAB_DIR/tunnel.pcap
	lab_capture_start "$LAB_NS_C" "$LAB_IF_C" "$PCAP_H"
	run tgetent lab_c timeout 60 "$SOCKSIFY" -f "$TCONF" -- getent ahosts "$NAME"
	run tcurl lab_c timeout 60 "$SOCKSIFY" -f "$TCONF" -- curl -sS -m 15 "http://$NAME/"
	lab_capture_stop
	if [ "$(addrs tgetent)" = "$T4 $T6" ]; then
		pass "h tunnel: getent ahosts $NAME: $T4 $T6 (the real addresses)"
	else
		fail "h tunnel: getent ahosts $NAME: $T4 $T6 (got \"$(addrs tgetent)\")"; show tgetent
	fi
	if got tcurl "$TOKEN"; then
		pass "h tunnel: curl http://$NAME/"
	else
		fail "h tunnel: curl http://$NAME/"; show tcurl
	fi
	if danted_saw "$LAB_CLIENT4" "$LAB_DNS4.53" || danted_saw "$LAB_CLIENT6" "$LAB_DNS4.53"; then
		pass "h tunnel: danted carried a connection to $LAB_DNS4 port 53"
	else
		fail "h tunnel: danted carried a connection to $LAB_DNS4 port 53"; lab_danted_tail 8
	fi
	if grep -q "query\[A\] $NAME from $LAB_BORDER_T4\$" "$LAB_DNSMASQ_LOG"; then
		pass "h tunnel: dnsmasq got the query from the border ($LAB_BORDER_T4)"
	else
		fail "h tunnel: dnsmasq got the query from the border ($LAB_BORDER_T4)"
		tail -n 5 "$LAB_DNSMASQ_LOG" | sed 's/^/  | /'
	fi
	check_capture "h tunnel capture" "$PCAP_H" "$P4" "$P6"
fi

# ---------------------------------------------------------------- i. route direct
if skip_unless_socksify "i route direct <hostpattern> (config rules)"; then
	RCONF=$LAB_DIR/remote.conf
	DCONF=$LAB_DIR/direct.conf
	printf 'proxy socks5://%s:%s\ndns remote\n' "$P4" "$LAB_PORT" >"$RCONF"
	printf 'proxy socks5://%s:%s\ndns remote\nroute direct .%s\n' "$P4" "$LAB_PORT" "$LAB_DOMAIN" >"$DCONF"
	run iremote lab_c timeout 60 "$SOCKSIFY" -f "$RCONF" -- getent ahosts "$NAME"
	read -r n4 n6 nother <<<"$(classify_out iremote)"
	if [ "$RC" -eq 0 ] && [ $((n4 + n6)) -gt 0 ] && [ "$nother" -eq 0 ]; then
		pass "i dns remote in a config: placeholders for $NAME ($(addrs iremote))"
	else
		fail "i dns remote in a config: placeholders for $NAME (got \"$(addrs iremote)\")"; show iremote
	fi
	run idirect lab_c timeout 60 "$SOCKSIFY" -f "$DCONF" -- getent ahosts "$NAME"
	read -r n4 n6 nother <<<"$(classify_out idirect)"
	if [ $((n4 + n6)) -eq 0 ]; then
		pass "i route direct .$LAB_DOMAIN: $NAME is resolved locally, not a placeholder (rc $RC, \"$(addrs idirect)\")"
	else
		fail "i route direct .$LAB_DOMAIN: $NAME is not a placeholder (got \"$(addrs idirect)\")"; show idirect
	fi
	# socks5:// (no h): names stay local, so the client cannot resolve them.
	run ilocal via "socks5://$P4:$LAB_PORT" getent ahosts "$NAME"
	read -r n4 n6 nother <<<"$(classify_out ilocal)"
	if [ $((n4 + n6)) -eq 0 ]; then
		pass "i socks5:// (local DNS): $NAME is not a placeholder (rc $RC)"
	else
		fail "i socks5:// (local DNS): $NAME is not a placeholder (got \"$(addrs ilocal)\")"; show ilocal
	fi
fi

# ---------------------------------------------------------------- j. RFC 3089
dl0=$(wc -l <"$LAB_DANTED_LOG")
check_eq "j c6 (IPv6 only) via [$LAB_B6]: curl http://$LAB_NAME_V4/ (an IPv4-only server)" j6 "$TOKEN" \
	via_ns "$LAB_NS_C6" "socks5h://[$LAB_B6]:$LAB_PORT" curl -sS -m 15 "http://$LAB_NAME_V4/"
check_eq "j c4 (IPv4 only) via $LAB_B4: curl http://$LAB_NAME_V6/ (an IPv6-only server)" j4 "$TOKEN" \
	via_ns "$LAB_NS_C4" "socks5h://$LAB_B4:$LAB_PORT" curl -sS -m 15 "http://$LAB_NAME_V6/"
check_eq "j c6 (IPv6 only) via [$LAB_B6]: curl -6 http://$NAME/" j6www "$TOKEN" \
	via_ns "$LAB_NS_C6" "socks5h://[$LAB_B6]:$LAB_PORT" curl -6 -sS -m 15 "http://$NAME/"
sleep 0.2
if danted_saw "$LAB_C6" "$T4.80" && danted_saw "$LAB_C4" "$T6.80"; then
	pass "j danted connected c6's request to $T4.80 and c4's to $T6.80"
else
	fail "j danted connected c6's request to $T4.80 and c4's to $T6.80"
	tail -n +$((dl0 + 1)) "$LAB_DANTED_LOG" | tail -n 8 | sed 's/^/  | /'
fi

# ---------------------------------------------------------------- k. stress
if [ -x "$DNSSTRESS" ]; then
	run stress via "$UH" "$DNSSTRESS" -t 32 -n "$LAB_STRESS_NAMES" "$LAB_STRESS_DOMAIN"
	res=$(grep -m1 '^dnsstress: [0-9]* ok' "$OUT/stress.out")
	if [ "$RC" -eq 0 ] && grep -q "^dnsstress: $LAB_STRESS_NAMES ok, 0 failed" "$OUT/stress.out"; then
		pass "k stress: ${res#dnsstress: }"
	else
		fail "k stress: $LAB_STRESS_NAMES names, 32 threads, 0 failures (rc $RC: ${res:-no result line})"
		show stress
	fi
	if [ "$VIA" = socksify ]; then
		line=$(grep -m1 '^dnsstress: addresses' "$OUT/stress.out")
		if [ "$RC" -ne 124 ] && grep -q ', 0 other;' <<<"$line"; then
			pass "k stress: ${line#dnsstress: }"
		else
			fail "k stress: every address returned was a placeholder (${line:-no line})"
		fi
	fi
else
	fail "k stress: $DNSSTRESS is built (make all)"
fi

lab_down
summary dns
