#!/bin/bash
# tests/lab/check.sh - `socksify --check` against real proxies in the
# namespace lab (see lab.sh): the client reaches only the border, where
# danted listens (:1080 no authentication, :1081 username/password; both
# CONNECT, UDP ASSOCIATE and BIND), and where this suite starts microsocks
# (CONNECT only) and the scripted fake server (tests/fake/fake_socks5.py)
# when a case needs them.
#
#   a  danted, no authentication: every step ok, exit 0 (IPv4 and IPv6;
#      with and without a HOST:PORT; from a shell that preloads the
#      library, which the launcher sheds)
#   b  danted, username/password: the method and "authentication:
#      accepted"; a wrong password: FAIL, exit 2, nothing tried after it;
#      credentials from the file's keys and from the file's URL under a
#      SOCKSIFY_PROXY without any
#   c  microsocks (no UDP, no BIND): "no" lines, exit 1
#   d  the fake server hangs up (FIN, and RST) after UDP ASSOCIATE, BIND,
#      CONNECT: the line says so and gives the hint; exit 1, 1, 2
#   e  an unreachable proxy (an address nobody has, timeout 1) and a closed
#      port: FAIL reach, exit 2, within the timeout
#   f  a silent proxy (accepts, never answers; after the greeting and after
#      the request): "no answer in time" within timeout 1, exit 2
#   g  names: socks5h:// sends the name (the proxy resolves it: only the
#      border's resolver knows it); a name the proxy cannot resolve; dns
#      local: a name from the client's /etc/hosts, one it cannot resolve
#   h  where each setting came from: -x, SOCKSIFY_PROXY, ALL_PROXY, file
#      keys (FILE:LINE), SOCKSIFY_CONF, -v, -vv, -q, the SOCKSIFY_
#      variables, the rules, the password warning
#
# Every check compares whole lines (ephemeral ports and the millisecond
# count are masked).  LAB_KEEP=1 keeps the temp dir; LAB_VERBOSE=1 prints
# every command's output.  Needs root and ip netns; otherwise every test is
# skipped (a failure in CI).  Ends with "check: N passed, N failed, N
# skipped".

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
# shellcheck source=lab.sh
. "$HERE/lab.sh"

MS_PORT=1090   # microsocks
FAKE_PORT=1095 # the fake server
OUT=""

if ! why=$(lab_available); then
	skip "check lab tests" "$why"
	summary check
	exit $?
fi
if [ ! -x "$SOCKSIFY" ]; then
	fail "socksify is built ($SOCKSIFY missing: run make all)"
	summary check
	exit 1
fi
if ! lab_up; then
	fail "lab comes up (see messages above)"
	summary check
	exit 1
fi
OUT=$LAB_DIR/out
mkdir -p "$OUT" "$OUT/home"
echo "check: namespaces $(lab_namespaces | tr "\n" " ")temp dir $LAB_DIR"

P4=$LAB_PROXY4 P6=$LAB_PROXY6 T4=$LAB_TARGET4 T6=$LAB_TARGET6
B4=$LAB_BORDER_T4 B6=$LAB_BORDER_T6
U4="socks5://$P4:$LAB_PORT"

# ---------------------------------------------------------------- helpers
# sfy NAME [VAR=VALUE...] -- ARGS...: socksify ARGS in the client namespace
# with nothing of the caller's configuration (no SOCKSIFY_*, no ALL_PROXY,
# an empty HOME) but the VARs; stdout/stderr in $OUT/NAME.{out,err}, the
# status in RC, the run time in MS (milliseconds).
sfy() {
	local name=$1 t0 t1
	shift
	local vars=()
	while [ "$1" != -- ]; do vars+=("$1"); shift; done
	shift
	t0=$(date +%s%N)
	run "$name" lab_c env -u SOCKSIFY_PROXY -u SOCKSIFY_CONF -u SOCKSIFY_LOG_LEVEL \
		-u SOCKSIFY_LOG_FILE -u SOCKSIFY_BIND -u SOCKSIFY_ASYNC_CONNECT \
		-u ALL_PROXY -u all_proxy -u XDG_CONFIG_HOME HOME="$OUT/home" \
		"${vars[@]}" timeout 30 "$SOCKSIFY" "$@"
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
}

# The steps of the trial (the lines after the settings), with what varies
# from run to run masked: "(TCP, N ms)" and a 5-digit (ephemeral) port in the
# proxy's end, the relay and the BIND address.
steps() {
	grep -Ev '^(ok|-|warn) +(config file|proxy |credentials:|dns |timeout |log_level |async_connect |bind |rule [0-9]+:)' "$OUT/$1.out" |
		sed -E 's/\(TCP, [0-9]+ ms\)/(TCP, N ms)/; s/(end:|relay|at) (.*):[0-9]{5}\)$/\1 \2:PORT)/'
}
# The settings lines only.
settings() {
	grep -E '^(ok|-|warn) +(config file|proxy |credentials:|dns |timeout |log_level |async_connect |bind |rule [0-9]+:)' "$OUT/$1.out"
}

# steps_are DESC NAME RC EXPECTED: the run exited RC, said nothing on
# stderr, and its steps are exactly EXPECTED.
steps_are() {
	local desc=$1 name=$2 rc=$3 want=$4 got
	got=$(steps "$name")
	if [ "$RC" = "$rc" ] && [ "$got" = "$want" ] && [ ! -s "$OUT/$name.err" ]; then
		pass "$desc"
	else
		fail "$desc (exit $RC, wanted $rc)"
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed 's/^/  | /'
		show "$name"
	fi
}

# has_line DESC NAME LINE: stdout holds exactly LINE.
has_line() {
	if grep -qxF -- "$3" "$OUT/$2.out"; then
		pass "$1"
	else
		fail "$1 (wanted the line \"$3\")"
		show "$2"
	fi
}

# within DESC LO HI: the last sfy took LO..HI milliseconds.
within() {
	if [ "$MS" -ge "$2" ] && [ "$MS" -le "$3" ]; then
		pass "$1 (${MS} ms)"
	else
		fail "$1 (${MS} ms, wanted $2..$3)"
	fi
}

# fake SCENARIO,...: start the fake server on P4:FAKE_PORT in the border
# for as many connections as scenarios; waits until it listens.
fake() {
	lab_fake "$1" $(($(tr -cd , <<<"$1" | wc -c) + 1)) "$FAKE_PORT" "$OUT/fake.log"
	FAKE_PID=$LAB_FAKE_PID
}
fake_stop() { lab_kill "$FAKE_PID"; }

OKREACH4="ok    reach $P4:$LAB_PORT (TCP, N ms)"
NOAUTH="ok    method: the proxy chose no authentication"
USERPASS="ok    method: the proxy chose username/password (RFC 1929)"
NOTRIED="-     CONNECT: not tried (socksify --check HOST:PORT tries one)"
# The hang-up reasons (preload/handshake.c hs_eof), with their hints.
UDPHUNG="the proxy hung up on the UDP ASSOCIATE request without a reply: it carries no UDP (ssh -D, for one, does CONNECT only)"
BINDHUNG="the proxy hung up on the BIND request without a reply: it offers no BIND (ssh -D, for one, does CONNECT only)"
CONNHUNG="the proxy hung up on the CONNECT request without a reply: a proxy does so when it cannot resolve the name or reach the destination (ssh -D, for one)"

# ---------------------------------------------------------------- a. danted
sfy a_v4 -- -x "$U4" --check "$T4:80"
steps_are "a danted $U4, --check $T4:80: every step ok, exit 0" a_v4 0 \
	"$OKREACH4
$NOAUTH
ok    CONNECT $T4:80: granted (the proxy's end: $B4:PORT)
ok    UDP ASSOCIATE: granted (relay $P4:PORT)
ok    BIND: granted (the proxy listens at $B4:PORT)"
# The proxy really connected: danted logged the CONNECT to the target.
if grep -q "$T4\.80" "$LAB_DANTED_LOG"; then
	pass "a danted logged the CONNECT to $T4.80"
else
	fail "a danted logged the CONNECT to $T4.80"; lab_danted_tail 10
fi

# From a shell set up with --env the launcher has the library preloaded
# itself: it runs afresh without it, or the library would send --check's
# own connection to the proxy through the proxy (danted refuses that).
sfy a_preloaded LD_PRELOAD="$TOP/preload/libsocksify.so" -- -x "$U4" --check "$T4:80"
steps_are "a the same from a shell with the library in LD_PRELOAD (the launcher sheds it): every step ok, exit 0" a_preloaded 0 \
	"$OKREACH4
$NOAUTH
ok    CONNECT $T4:80: granted (the proxy's end: $B4:PORT)
ok    UDP ASSOCIATE: granted (relay $P4:PORT)
ok    BIND: granted (the proxy listens at $B4:PORT)"

sfy a_v6 -- -x "socks5://[$P6]:$LAB_PORT" --check "[$T6]:80"
steps_are "a danted over IPv6, --check [$T6]:80: every step ok, exit 0" a_v6 0 \
	"ok    reach [$P6]:$LAB_PORT (TCP, N ms)
$NOAUTH
ok    CONNECT [$T6]:80: granted (the proxy's end: [$B6]:PORT)
ok    UDP ASSOCIATE: granted (relay [$P6]:PORT)
ok    BIND: granted (the proxy listens at [$B6]:PORT)"

sfy a_none -- -x "$U4" --check
steps_are "a danted, no HOST:PORT: CONNECT not tried, the rest ok, exit 0" a_none 0 \
	"$OKREACH4
$NOAUTH
$NOTRIED
ok    UDP ASSOCIATE: granted (relay $P4:PORT)
ok    BIND: granted (the proxy listens at $B4:PORT)"

# ---------------------------------------------------------------- b. auth
UA="socks5://$LAB_USER:$LAB_PASS@$P4:$LAB_AUTH_PORT"
sfy b_auth -- -x "$UA" --check "$T4:80"
steps_are "b danted username/password: the method, accepted, every step ok, exit 0" b_auth 0 \
	"ok    reach $P4:$LAB_AUTH_PORT (TCP, N ms)
$USERPASS
ok    authentication: accepted
ok    CONNECT $T4:80: granted (the proxy's end: $B4:PORT)
ok    UDP ASSOCIATE: granted (relay $P4:PORT)
ok    BIND: granted (the proxy listens at $B4:PORT)"
has_line "b the credentials' line: the user, from -x" b_auth \
	"ok    credentials: user '$LAB_USER' and a password (from -x)"
if grep -q -- "$LAB_PASS" "$OUT/b_auth.out" "$OUT/b_auth.err"; then
	fail "b the password is never printed"
else
	pass "b the password is never printed"
fi

sfy b_wrong -- -x "socks5://$LAB_USER:wrong-$LAB_PASS@$P4:$LAB_AUTH_PORT" --check "$T4:80"
steps_are "b a wrong password: FAIL authentication, nothing after it, exit 2" b_wrong 2 \
	"ok    reach $P4:$LAB_AUTH_PORT (TCP, N ms)
$USERPASS
FAIL  authentication: proxy rejected the username/password (authentication failed) (EACCES)"

sfy b_nocred -- -x "socks5://$P4:$LAB_AUTH_PORT" --check "$T4:80"
steps_are "b no credentials for a proxy that wants them: FAIL method, exit 2" b_nocred 2 \
	"ok    reach $P4:$LAB_AUTH_PORT (TCP, N ms)
FAIL  method: proxy requires authentication and none is configured (EACCES)"

# Credentials from the file's keys (mode 0600: no warning).
printf 'proxy socks5://%s:%s\nusername %s\npassword %s\n' "$P4" "$LAB_AUTH_PORT" \
	"$LAB_USER" "$LAB_PASS" >"$OUT/keys.conf"
chmod 0600 "$OUT/keys.conf"
sfy b_keys -- -f "$OUT/keys.conf" --check "$T4:80"
has_line "b credentials from the file's keys: (from FILE:LINE)" b_keys \
	"ok    credentials: user '$LAB_USER' and a password (from $OUT/keys.conf:2)"
has_line "b credentials from the file's keys: accepted" b_keys "ok    authentication: accepted"
expect "b credentials from the file's keys: exit 0, no password warning" \
	eval '[ "$RC" = 0 ] && ! grep -q '\''^warn'\'' "$OUT/b_keys.out"'
# The file's URL brings them; SOCKSIFY_PROXY (without any) replaces the
# server but keeps them: they are still the file's.
printf 'proxy socks5://%s:%s@%s:1\n' "$LAB_USER" "$LAB_PASS" "$P4" >"$OUT/url.conf"
chmod 0600 "$OUT/url.conf"
sfy b_kept SOCKSIFY_PROXY="socks5://$P4:$LAB_AUTH_PORT" -- -f "$OUT/url.conf" --check "$T4:80"
has_line "b SOCKSIFY_PROXY over a file URL with credentials: the proxy from SOCKSIFY_PROXY" b_kept \
	"ok    proxy socks5://$P4:$LAB_AUTH_PORT (from SOCKSIFY_PROXY)"
has_line "b ... the credentials still from the file's URL (FILE:1, not SOCKSIFY_PROXY)" b_kept \
	"ok    credentials: user '$LAB_USER' and a password (from $OUT/url.conf:1)"
has_line "b ... and accepted" b_kept "ok    authentication: accepted"

# ---------------------------------------------------------------- c. microsocks
if ! command -v microsocks >/dev/null 2>&1; then
	skip "c microsocks: no UDP, no BIND" "microsocks not installed (scripts/install-deps.sh)"
else
	lab_spawn "$LAB_NS_B" microsocks -i "$P4" -p "$MS_PORT" >>"$OUT/microsocks.log" 2>&1
	MS_PID=$LAB_LAST_PID
	if ! lab_wait_port "$LAB_NS_B" "$P4" "$MS_PORT" 50; then
		fail "c microsocks listens on $P4:$MS_PORT"
	else
		sfy c_ms -- -x "socks5://$P4:$MS_PORT" --check "$T4:80"
		steps_are "c microsocks: CONNECT ok, UDP ASSOCIATE and BIND 'no', exit 1" c_ms 1 \
			"ok    reach $P4:$MS_PORT (TCP, N ms)
$NOAUTH
ok    CONNECT $T4:80: granted (the proxy's end: 0.0.0.0:0)
no    UDP ASSOCIATE 0.0.0.0:0: refused: Command not supported (EOPNOTSUPP)
no    BIND $T4:80: refused: Command not supported (EOPNOTSUPP)"
		sfy c_ms0 -- -x "socks5://$P4:$MS_PORT" --check
		steps_are "c microsocks, no HOST:PORT: exit 1" c_ms0 1 \
			"ok    reach $P4:$MS_PORT (TCP, N ms)
$NOAUTH
$NOTRIED
no    UDP ASSOCIATE 0.0.0.0:0: refused: Command not supported (EOPNOTSUPP)
no    BIND 0.0.0.0:0: refused: Command not supported (EOPNOTSUPP)"
	fi
	lab_kill "$MS_PID"
fi

# ---------------------------------------------------------------- d. hang-ups
# One scenario per connection --check makes, in order: the handshake
# alone, [CONNECT,] UDP ASSOCIATE, BIND.  slow_close / bind_close_request
# read the request and close (a FIN); slow_reset / bind_reset_request
# abort (an RST).
UF="socks5://$P4:$FAKE_PORT"
FAKEREACH="ok    reach $P4:$FAKE_PORT (TCP, N ms)"
for how in close reset; do
	fake "ok_v4,slow_$how,bind_ok" || fail "d the fake server starts"
	sfy "d_udp_$how" -- -x "$UF" --check
	steps_are "d hang-up ($how) after UDP ASSOCIATE: said, with the hint; BIND ok; exit 1" "d_udp_$how" 1 \
		"$FAKEREACH
$NOAUTH
$NOTRIED
no    UDP ASSOCIATE 0.0.0.0:0: $UDPHUNG
ok    BIND: granted (the proxy listens at 127.0.0.5:4321)"
	fake_stop

	fake "ok_v4,udp_closectl,bind_${how}_request" || fail "d the fake server starts"
	sfy "d_bind_$how" -- -x "$UF" --check
	steps_are "d hang-up ($how) after BIND: said, with the hint; UDP ok; exit 1" "d_bind_$how" 1 \
		"$FAKEREACH
$NOAUTH
$NOTRIED
ok    UDP ASSOCIATE: granted (relay $P4:PORT)
no    BIND 0.0.0.0:0: $BINDHUNG"
	fake_stop

	fake "ok_v4,slow_$how" || fail "d the fake server starts"
	sfy "d_conn_$how" -- -x "$UF" --check 203.0.113.10:80
	steps_are "d hang-up ($how) after CONNECT: FAIL with the hint, nothing after it, exit 2" "d_conn_$how" 2 \
		"$FAKEREACH
$NOAUTH
FAIL  CONNECT 203.0.113.10:80: $CONNHUNG"
	fake_stop
done

# ---------------------------------------------------------------- e. unreachable
# 198.18.0.99 is on the client's link and nobody has it: no ARP answer, so
# only the timeout ends the connect.
printf 'proxy socks5://198.18.0.99:%s\ntimeout 1\n' "$LAB_PORT" >"$OUT/unreach.conf"
sfy e_unreach -- -f "$OUT/unreach.conf" --check "$T4:80"
steps_are "e an unreachable proxy: FAIL reach (ETIMEDOUT), exit 2" e_unreach 2 \
	"FAIL  reach 198.18.0.99:$LAB_PORT: ETIMEDOUT"
within "e an unreachable proxy: given up after the timeout (1 s)" 900 2500
sfy e_closed -- -x "socks5://$P4:$LAB_DOWN_PORT" --check "$T4:80"
steps_are "e a closed port: FAIL reach (ECONNREFUSED), exit 2" e_closed 2 \
	"FAIL  reach $P4:$LAB_DOWN_PORT: ECONNREFUSED"
within "e a closed port: at once" 0 900

# ---------------------------------------------------------------- f. silent
printf 'proxy socks5://%s:%s\ntimeout 1\n' "$P4" "$FAKE_PORT" >"$OUT/silent.conf"
fake silent_greeting || fail "f the fake server starts"
sfy f_greet -- -f "$OUT/silent.conf" --check "$T4:80"
steps_are "f a proxy that accepts and never answers: FAIL method, no answer in time, exit 2" f_greet 2 \
	"$FAKEREACH
FAIL  method: no answer in time (ETIMEDOUT)"
within "f ... within the timeout (1 s)" 900 2500
fake_stop
fake ok_v4,silent_request || fail "f the fake server starts"
sfy f_req -- -f "$OUT/silent.conf" --check 203.0.113.10:80
steps_are "f a proxy silent after the CONNECT request: FAIL CONNECT, no answer in time, exit 2" f_req 2 \
	"$FAKEREACH
$NOAUTH
FAIL  CONNECT 203.0.113.10:80: no answer in time (ETIMEDOUT)"
within "f ... within the timeout (1 s)" 900 2500
fake_stop

# ---------------------------------------------------------------- g. names
# Only the border resolves the lab's names (the client's resolver is
# unreachable): a granted CONNECT to one went by name.
run g_control lab_c timeout 10 getent hosts "$LAB_HOSTNAME"
expect "g control: the client cannot resolve $LAB_HOSTNAME itself" [ "$RC" != 0 ]
sfy g_remote -- -x "socks5h://$P4:$LAB_PORT" --check "$LAB_HOSTNAME:80"
steps_are "g socks5h: CONNECT to a name the proxy resolves, exit 0" g_remote 0 \
	"$OKREACH4
$NOAUTH
ok    CONNECT $LAB_HOSTNAME:80: granted (the proxy's end: [$B6]:PORT)
ok    name $LAB_HOSTNAME: resolved by the proxy
ok    UDP ASSOCIATE: granted (relay $P4:PORT)
ok    BIND: granted (the proxy listens at [$B6]:PORT)"
has_line "g socks5h: dns remote, from the URL's scheme" g_remote \
	"ok    dns remote (from the proxy URL's scheme)"
sfy g_nxdomain -- -x "socks5h://$P4:$LAB_PORT" --check "nosuch.$LAB_DOMAIN:80"
steps_are "g socks5h: a name the proxy cannot resolve: FAIL CONNECT, exit 2" g_nxdomain 2 \
	"$OKREACH4
$NOAUTH
FAIL  CONNECT nosuch.$LAB_DOMAIN:80: refused: Host unreachable (EHOSTUNREACH)"
sfy g_local -- -x "$U4" --check "$LAB_HOSTS_NAME:80"
steps_are "g dns local: a name from /etc/hosts, resolved here, CONNECT to its address" g_local 0 \
	"$OKREACH4
$NOAUTH
ok    name $LAB_HOSTS_NAME: resolved here to $T4:80 (dns local)
ok    CONNECT $T4:80: granted (the proxy's end: $B4:PORT)
ok    UDP ASSOCIATE: granted (relay $P4:PORT)
ok    BIND: granted (the proxy listens at $B4:PORT)"
sfy g_localfail -- -x "$U4" --check "$LAB_HOSTNAME:80"
steps_are "g dns local: a name this machine cannot resolve: FAIL name, exit 2" g_localfail 2 \
	"$OKREACH4
$NOAUTH
FAIL  name $LAB_HOSTNAME: cannot resolve it here (dns local): Temporary failure in name resolution"

# ---------------------------------------------------------------- h. origins
# settings_are DESC NAME RC EXPECTED: the run exited RC and its settings
# lines are exactly EXPECTED.
settings_are() {
	local desc=$1 name=$2 rc=$3 want=$4 got
	got=$(settings "$name")
	if [ "$RC" = "$rc" ] && [ "$got" = "$want" ]; then
		pass "$desc"
	else
		fail "$desc (exit $RC, wanted $rc)"
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed 's/^/  | /'
		show "$name"
	fi
}
NOFILE='-     config file: none (looked for $SOCKSIFY_CONF, ~/.config/socksify/socks.conf, /etc/socksify/socks.conf)'
DEFAULTS="ok    timeout 10000 ms (from default)"
DEFTAIL="ok    async_connect yes (from default)
ok    bind auto (from default), bind_timeout 60000 ms (from default)"
sfy h_x -- -x "$U4" --check
settings_are "h -x: (from -x), the rest default" h_x 0 "$NOFILE
ok    proxy $U4 (from -x)
ok    dns local (from the proxy URL's scheme)
$DEFAULTS
ok    log_level error (from default)
$DEFTAIL"
sfy h_env SOCKSIFY_PROXY="$U4" -- --check
settings_are "h SOCKSIFY_PROXY: (from SOCKSIFY_PROXY)" h_env 0 "$NOFILE
ok    proxy $U4 (from SOCKSIFY_PROXY)
ok    dns local (from the proxy URL's scheme)
$DEFAULTS
ok    log_level error (from default)
$DEFTAIL"
sfy h_xenv SOCKSIFY_PROXY="socks5://$P4:$LAB_DOWN_PORT" -- -x "$U4" --check
has_line "h -x over SOCKSIFY_PROXY: (from -x), and the trial uses it" h_xenv "ok    proxy $U4 (from -x)"
expect "h -x over SOCKSIFY_PROXY: exit 0" [ "$RC" = 0 ]
sfy h_all ALL_PROXY="socks5h://$P4:$LAB_PORT" -- --check
has_line "h ALL_PROXY (no file, no SOCKSIFY_PROXY): (from ALL_PROXY)" h_all \
	"ok    proxy socks5h://$P4:$LAB_PORT (from ALL_PROXY)"
for v in "-v|info|-v" "-vv|debug|-vv" "-q|error|-q" "-vq|error|-q"; do
	IFS='|' read -r flag level from <<<"$v"
	sfy "h_$flag" -- "$flag" -x "$U4" --check
	settings_are "h $flag: log_level $level (from $from)" "h_$flag" 0 "$NOFILE
ok    proxy $U4 (from -x)
ok    dns local (from the proxy URL's scheme)
$DEFAULTS
ok    log_level $level (from $from)
$DEFTAIL"
done

F=$OUT/keys-all.conf
cat >"$F" <<EOF
# every key --check reports, one per line
proxy socks5://$P4:$LAB_PORT
dns remote
timeout 2.5
log_level info
log_file $OUT/sfy.log
async_connect no
bind never
bind_timeout 5

route direct 198.18.1.0/24 22
route refuse all 25
EOF
FILESET="ok    config file $F (found by SOCKSIFY_CONF, set by -f)
ok    proxy $U4 (from $F:2)
ok    dns remote (from $F:3)
ok    timeout 2500 ms (from $F:4)
ok    log_level info (from $F:5), to $OUT/sfy.log (from $F:6)
ok    async_connect no (from $F:7)
ok    bind never (from $F:8), bind_timeout 5000 ms (from $F:9)
ok    rule 1: route direct 198.18.1.0/24 22 (from $F:11)
ok    rule 2: route refuse all 25 (from $F:12)"
sfy h_file -- -f "$F" --check "$LAB_HOSTNAME:80"
settings_are "h every file key: (from FILE:LINE), the rules with their lines" h_file 0 "$FILESET"
has_line "h the file's dns remote: the name goes to the proxy" h_file \
	"ok    name $LAB_HOSTNAME: resolved by the proxy"
sfy h_conf SOCKSIFY_CONF="$F" -- --check
has_line "h SOCKSIFY_CONF without -f: found by SOCKSIFY_CONF" h_conf \
	"ok    config file $F (found by SOCKSIFY_CONF)"
mkdir -p "$OUT/home/.config/socksify"
cp "$F" "$OUT/home/.config/socksify/socks.conf"
sfy h_home -- --check
has_line "h ~/.config/socksify/socks.conf: found by HOME" h_home \
	"ok    config file $OUT/home/.config/socksify/socks.conf (found by HOME)"
rm -r "$OUT/home/.config"
sfy h_vars SOCKSIFY_LOG_LEVEL=warn SOCKSIFY_LOG_FILE="$OUT/env.log" SOCKSIFY_BIND=always \
	SOCKSIFY_ASYNC_CONNECT=yes -- -f "$F" --check
settings_are "h the SOCKSIFY_ variables over the file's keys: each (from VARIABLE), the rest still the file's" h_vars 0 \
	"ok    config file $F (found by SOCKSIFY_CONF, set by -f)
ok    proxy $U4 (from $F:2)
ok    dns remote (from $F:3)
ok    timeout 2500 ms (from $F:4)
ok    log_level warn (from SOCKSIFY_LOG_LEVEL), to $OUT/env.log (from SOCKSIFY_LOG_FILE)
ok    async_connect yes (from SOCKSIFY_ASYNC_CONNECT)
ok    bind always (from SOCKSIFY_BIND), bind_timeout 5000 ms (from $F:9)
ok    rule 1: route direct 198.18.1.0/24 22 (from $F:11)
ok    rule 2: route refuse all 25 (from $F:12)"
sfy h_vfile -- -v -f "$F" --check
has_line "h -v over the file's log_level: (from -v)" h_vfile \
	"ok    log_level info (from -v), to $OUT/sfy.log (from $F:6)"

chmod 0644 "$OUT/keys.conf"
sfy h_exposed -- -f "$OUT/keys.conf" --check
has_line "h a password in a 0644 file: the warn line names it" h_exposed \
	"warn  config file $OUT/keys.conf holds a password and other users may read it (chmod o-r $OUT/keys.conf)"
expect "h a password in a 0644 file: --check still passes (exit 0)" [ "$RC" = 0 ]

summary check
