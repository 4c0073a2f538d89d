#!/bin/bash
# tests/fake/run.sh - the shim against a scripted, misbehaving SOCKS5 server.
#
# Every case runs in its own private network namespace (only lo, up): the
# fake server (fake_socks5.py) listens on 127.0.0.1:1080, the probe
# (tests/prog/probe.c) runs with LD_PRELOAD=libsocksify.so and connects to a
# non-loopback destination (203.0.113.10, 2001:db8::10), which only the
# proxy can reach: a leak fails with ENETUNREACH instead of leaving the box.
#
# Each case checks the connect() result / errno against the contract, that
# the probe neither crashed nor hung, that no fd was left behind, the number
# of "socksify:" lines on stderr (exactly one on failure, none on success),
# and the bytes the client sent (greeting, RFC 1929, CONNECT request).
# The BIND cases (bcase, at the end) drive tests/prog/bindfake.c, the
# call-back pattern: listen() and accept() through the proxy's BIND.
#
#   tests/fake/run.sh [NAME_REGEX]      (run only the cases whose name matches)
#
# Set KEEP=1 to keep the per-case directories (printed at the end).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$HERE/../lib.sh"
PROBE=$TOP/build/prog/probe
FILTER=${1:-}
# SOCKSIFY_TEST_LIB: run the cases against another build of the shim (or a
# mutant, to check that the cases notice bugs); default: the tree's.
export LIBSOCKSIFY=${SOCKSIFY_TEST_LIB:-$LIBSOCKSIFY}
export PROBE

USER_=alice
PASS_=s3cret-Pw
USER_HEX=$(printf %s "$USER_" | od -An -tx1 | tr -d ' \n')
PASS_HEX=$(printf %s "$PASS_" | od -An -tx1 | tr -d ' \n')
PROXY=socks5://127.0.0.1:1080
PROXY_AUTH=socks5://$USER_:$PASS_@127.0.0.1:1080

# CONNECT requests the client must send.
REQ_V4=05010001cb00710a0050           # 203.0.113.10:80
REQ_V4_8443=05010001cb00710a20fb      # 203.0.113.10:8443
REQ_V6=0501000420010db80000000000000000000000100050   # [2001:db8::10]:80
REQ_V6_443=0501000420010db800000000000000000000001001bb
GREET_NOAUTH=050100
GREET_AUTH='05(020002|020200|0102)'
AUTH_MSG=01$(printf %02x ${#USER_})$USER_HEX$(printf %02x ${#PASS_})$PASS_HEX
BANNER=SERVER-FIRST-BYTES

# --- preconditions ----------------------------------------------------------
precondition() {
	if [ "$(id -u)" -ne 0 ] && ! unshare -rn true 2>/dev/null; then
		echo "not root and no user namespaces"; return 1
	fi
	command -v ip >/dev/null || { echo "ip (iproute2) missing"; return 1; }
	command -v unshare >/dev/null || { echo "unshare missing"; return 1; }
	unshare -n ip link set lo up 2>/dev/null || { echo "cannot create a network namespace"; return 1; }
	[ -x "$PY" ] || { echo "$PY missing"; return 1; }
	[ -f "$LIBSOCKSIFY" ] || { echo "$LIBSOCKSIFY not built (make all)"; return 1; }
	local p
	for p in probe bindfake; do
		if [ ! -x "$TOP/build/prog/$p" ] || [ "$TOP/build/prog/$p" -ot "$TOP/tests/prog/$p.c" ]; then
			make -s -C "$TOP" "build/prog/$p" >/dev/null 2>&1 ||
				{ echo "cannot build build/prog/$p"; return 1; }
		fi
	done
	return 0
}

if ! why=$(precondition); then
	skip "fake SOCKS5 server suite" "$why"
	summary fake
	exit $?
fi

UNSHARE=(unshare -n)
[ "$(id -u)" -ne 0 ] && UNSHARE=(unshare -rn)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/socksify-fake.XXXXXX")
cleanup() {
	if [ "${KEEP:-}" = 1 ]; then
		echo "fake: case directories kept in $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# --- one case ---------------------------------------------------------------
# tcase NAME SCENARIO EXPECT [OPTIONS...] -- PROBE_ARGS...
#   EXPECT       0 (connect succeeds) or an errno name (connect fails with it)
#   OPTIONS      proxy=URL        default $PROXY
#                timeout=S        config "timeout" (default 1)
#                level=L          log level (default error)
#                has=REGEX        the server log has a line matching ^REGEX$
#                lacks=REGEX      ... has no line matching REGEX
#                errlacks=STR     stderr does not contain STR
#                elapsed=LO-HI    connect() took LO..HI ms
#                errlines=N|any   number of "socksify:" stderr lines
#                once=HEX         HEX occurs exactly once in all client bytes
#                never=HEX        HEX occurs nowhere in the client bytes
tcase() {
	local name=$1 scen=$2 want=$3
	shift 3
	if [ -n "$FILTER" ] && ! [[ $name =~ $FILTER ]]; then return 0; fi
	local proxy=$PROXY tmo=1 lvl=error errlines opts=()
	[ "$want" = 0 ] && errlines=0 || errlines=1
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case $1 in
		proxy=*) proxy=${1#proxy=} ;;
		timeout=*) tmo=${1#timeout=} ;;
		level=*) lvl=${1#level=} ;;
		errlines=*) errlines=${1#errlines=} ;;
		*) opts+=("$1") ;;
		esac
		shift
	done
	[ "${1:-}" = -- ] && shift
	local d=$WORK/$name
	mkdir -p "$d"
	"${UNSHARE[@]}" "$HERE/case.sh" "$d" "$scen" "$proxy" "$tmo" "$lvl" "$@" \
		>"$d/case.out" 2>&1

	local why=() rc got n
	rc=$(cat "$d/rc" 2>/dev/null || echo missing)
	got=$(grep -m1 '^connect=' "$d/out" 2>/dev/null)
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		why+=("probe hung (killed by timeout 10)")
	elif [ "$rc" = missing ]; then
		why+=("case did not run: $(head -c 300 "$d/case.out" | tr '\n' ' ')")
	elif [ "$rc" -ge 128 ]; then
		why+=("probe died by signal $((rc - 128))")
	fi
	if [ "$want" = 0 ]; then
		[ "$got" = connect=0 ] || why+=("expected connect=0, got '${got:-nothing}'")
	else
		[ "$got" = "connect=-1 errno=$want" ] ||
			why+=("expected connect=-1 errno=$want, got '${got:-nothing}'")
	fi
	if grep -q '^expect=mismatch' "$d/out" 2>/dev/null; then
		why+=("application bytes: expected '$BANNER' ($(printf %s "$BANNER" | od -An -tx1 | tr -d ' \n')), $(grep -m1 '^expect=' "$d/out"))")
	elif [ "$rc" = 1 ]; then
		why+=("probe reported a data error: $(grep -E '^(send|close)=' "$d/out" | tr '\n' ' ')")
	fi
	if [[ $rc =~ ^[0-9]+$ ]] && [ "$rc" -lt 124 ]; then
		grep -q '^fds_leaked=0$' "$d/out" ||
			why+=("fd leak: $(grep -m1 '^fds_leaked=' "$d/out" || echo 'no fds_leaked line')")
	fi
	if [[ $rc =~ ^[0-9]+$ ]] && [ "$rc" -lt 124 ] && ! grep -q '^flags_kept=1$' "$d/out"; then
		why+=("the socket's file status flags (O_NONBLOCK) changed across connect()")
	fi
	n=$(grep -c 'socksify:' "$d/err" 2>/dev/null)
	[ "$errlines" = any ] || [ "${n:-0}" = "$errlines" ] ||
		why+=("stderr: ${n:-0} 'socksify:' lines, want $errlines [$(grep 'socksify:' "$d/err" | head -3 | tr '\n' '|')]")
	if [ "$scen" != none ] && ! grep -q '^accept' "$d/log"; then
		why+=("the fake server never got a connection (log: $(tr '\n' ' ' <"$d/log" | head -c 200))")
	fi
	grep -q '^error ' "$d/log" 2>/dev/null &&
		why+=("fake server: $(grep -m1 '^error ' "$d/log")")

	local o pat hexall
	hexall=$(grep -E '^(greeting|auth|request|app|raw|short) ' "$d/log" | awk '{print $NF}' | tr -d '\n')
	for o in "${opts[@]}"; do
		case $o in
		has=*)
			pat=${o#has=}
			grep -Eq "^($pat)\$" "$d/log" ||
				why+=("client bytes: want a line '$pat', got: $(grep -E "^${pat%% *} " "$d/log" | head -2 | tr '\n' '|')")
			;;
		lacks=*)
			pat=${o#lacks=}
			grep -Eq "$pat" "$d/log" &&
				why+=("client bytes: unexpected '$(grep -Em1 "$pat" "$d/log")'")
			;;
		errlacks=*)
			grep -qF -- "${o#errlacks=}" "$d/err" &&
				why+=("stderr contains '${o#errlacks=}'")
			;;
		once=*)
			n=$(grep -o "${o#once=}" <<<"$hexall" | wc -l)
			[ "$n" = 1 ] || why+=("${o#once=} occurs $n times in the client's bytes, want once")
			;;
		never=*)
			n=$(grep -o "${o#never=}" <<<"$hexall" | wc -l)
			[ "$n" = 0 ] || why+=("${o#never=} occurs $n times in the client's bytes, want never")
			;;
		elapsed=*)
			local lo hi ms
			lo=${o#elapsed=}; hi=${lo#*-}; lo=${lo%-*}
			ms=$(sed -n 's/^elapsed_ms=//p' "$d/out")
			if [ -z "$ms" ] || [ "$ms" -lt "$lo" ] || [ "$ms" -gt "$hi" ]; then
				why+=("connect() took ${ms:-?} ms, want $lo..$hi")
			fi
			;;
		*) why+=("run.sh: unknown option $o") ;;
		esac
	done

	if [ ${#why[@]} -eq 0 ]; then
		pass "$name"
	else
		local IFS=';'
		fail "$name: ${why[*]}"
	fi
}

T0=$(date +%s)
D4=(203.0.113.10 80)
OKDATA=(--send PING --expect "$BANNER")
OKLOG=(has="app 50494e47")   # PING arrived after the handshake

# --- success ----------------------------------------------------------------
tcase ok_v4 ok_v4 0 has="greeting $GREET_NOAUTH" has="request $REQ_V4" "${OKLOG[@]}" -- "${D4[@]}" "${OKDATA[@]}"
tcase ok_bnd_v6 ok_v6 0 has="request $REQ_V4" "${OKLOG[@]}" -- "${D4[@]}" "${OKDATA[@]}"
tcase ok_bnd_domain ok_domain 0 has="request $REQ_V4" "${OKLOG[@]}" -- "${D4[@]}" "${OKDATA[@]}"
tcase ok_split_v4 ok_split_v4 0 has="request $REQ_V4" "${OKLOG[@]}" -- "${D4[@]}" "${OKDATA[@]}"
tcase ok_split_bnd_v6 ok_split_v6 0 has="request $REQ_V4" "${OKLOG[@]}" -- "${D4[@]}" "${OKDATA[@]}"
tcase ok_split_bnd_domain ok_split_domain 0 has="request $REQ_V4" "${OKLOG[@]}" -- "${D4[@]}" "${OKDATA[@]}"
tcase ok_bnd_domain_255 ok_domain_255 0 has="request $REQ_V4" "${OKLOG[@]}" -- "${D4[@]}" "${OKDATA[@]}"
tcase ok_port_8443 ok_v4 0 has="request $REQ_V4_8443" -- 203.0.113.10 8443 "${OKDATA[@]}"
tcase ok_dst_v6 ok_v4 0 has="greeting $GREET_NOAUTH" has="request $REQ_V6" "${OKLOG[@]}" -- 2001:db8::10 80 "${OKDATA[@]}"
tcase ok_dst_v6_443_split ok_split_domain 0 has="request $REQ_V6_443" "${OKLOG[@]}" -- 2001:db8::10 443 "${OKDATA[@]}"
tcase ok_dst_v4mapped ok_v4 0 has="request $REQ_V4" "${OKLOG[@]}" -- 203.0.113.10 80 --v6 "${OKDATA[@]}"
tcase ok_nonblock ok_v4 0 has="request $REQ_V4" "${OKLOG[@]}" -- "${D4[@]}" --nonblock "${OKDATA[@]}"
tcase ok_nonblock_split ok_split_domain 0 has="request $REQ_V4" "${OKLOG[@]}" -- "${D4[@]}" --nonblock "${OKDATA[@]}"

# --- credentials (RFC 1929) -------------------------------------------------
tcase auth_ok ok_v4 0 proxy="$PROXY_AUTH" has="greeting $GREET_AUTH" has="auth $AUTH_MSG" \
	has="request $REQ_V4" once="$PASS_HEX" "${OKLOG[@]}" -- "${D4[@]}" "${OKDATA[@]}"
tcase auth_ok_split ok_split_v6 0 proxy="$PROXY_AUTH" has="auth $AUTH_MSG" has="request $REQ_V4" \
	once="$PASS_HEX" "${OKLOG[@]}" -- "${D4[@]}" "${OKDATA[@]}"
tcase auth_ok_debug_log ok_v4 0 proxy="$PROXY_AUTH" level=debug errlines=any has="auth $AUTH_MSG" \
	errlacks="$PASS_" -- "${D4[@]}" "${OKDATA[@]}"
tcase auth_offered_server_picks_noauth ok_pick_noauth 0 proxy="$PROXY_AUTH" \
	has="greeting 05(020002|020200)" lacks="^auth " never="$PASS_HEX" has="request $REQ_V4" \
	"${OKLOG[@]}" -- "${D4[@]}" "${OKDATA[@]}"
# 255-byte user and password (the RFC 1929 maximum)
LONG_U=$(printf 'u%.0s' $(seq 255)) LONG_P=$(printf 'p%.0s' $(seq 255))
tcase auth_ok_255 ok_v4 0 proxy="socks5://$LONG_U:$LONG_P@127.0.0.1:1080" \
	has="auth 01ff$(printf '75%.0s' $(seq 255))ff$(printf '70%.0s' $(seq 255))" \
	has="request $REQ_V4" "${OKLOG[@]}" -- "${D4[@]}" "${OKDATA[@]}"
# percent-encoded URL credentials: al@ice / p:s%s#
tcase auth_ok_pct ok_v4 0 proxy="socks5://al%40ice:p%3As%25s%23@127.0.0.1:1080" \
	has="auth 0106616c4069636506703a73257323" has="request $REQ_V4" "${OKLOG[@]}" \
	-- "${D4[@]}" "${OKDATA[@]}"
tcase auth_reject auth_reject EACCES proxy="$PROXY_AUTH" has="auth $AUTH_MSG" lacks="^request " -- "${D4[@]}"
tcase auth_reject_ff auth_reject_ff EACCES proxy="$PROXY_AUTH" lacks="^request " -- "${D4[@]}"
tcase auth_method_none method_none EACCES proxy="$PROXY_AUTH" lacks="^(auth|request) " never="$PASS_HEX" -- "${D4[@]}"
tcase auth_reply_bad_ver auth_bad_ver EPROTO proxy="$PROXY_AUTH" lacks="^request " -- "${D4[@]}"

# --- error replies ----------------------------------------------------------
for pair in 01:ECONNREFUSED 02:EACCES 03:ENETUNREACH 04:EHOSTUNREACH \
	05:ECONNREFUSED 06:ETIMEDOUT 07:EOPNOTSUPP 08:EAFNOSUPPORT \
	09:ECONNREFUSED 0a:ECONNREFUSED 80:ECONNREFUSED ff:ECONNREFUSED; do
	tcase "rep_${pair%%:*}" "rep_${pair%%:*}" "${pair#*:}" has="request $REQ_V4" -- "${D4[@]}"
done
tcase rep_03_dst_v6 rep_03 ENETUNREACH has="request $REQ_V6" -- 2001:db8::10 80
tcase rep_05_nonblock rep_05 ECONNREFUSED has="request $REQ_V4" -- "${D4[@]}" --nonblock

# --- method negotiation and malformed replies -------------------------------
tcase method_none method_none EACCES has="greeting $GREET_NOAUTH" lacks="^request " -- "${D4[@]}"
tcase method_bad_ver method_bad_ver EPROTO lacks="^request " -- "${D4[@]}"
tcase method_unoffered method_unoffered EPROTO lacks="^request " -- "${D4[@]}"
tcase method_garbage garbage EPROTO lacks="^request " -- "${D4[@]}"
tcase reply_bad_ver reply_bad_ver EPROTO -- "${D4[@]}"
tcase reply_bad_ver0 reply_bad_ver0 EPROTO -- "${D4[@]}"
tcase reply_bad_rsv reply_bad_rsv EPROTO -- "${D4[@]}"
tcase reply_bad_atyp reply_bad_atyp EPROTO -- "${D4[@]}"
tcase reply_bad_atyp0 reply_bad_atyp0 EPROTO -- "${D4[@]}"
tcase reply_garbage reply_garbage EPROTO -- "${D4[@]}"

# --- the proxy closes mid-handshake -----------------------------------------
for s in close_accept close_greeting close_method_1 close_method_2 \
	close_reply_0 close_reply_1 close_reply_2 close_reply_3 close_reply_4 \
	close_reply_5 close_reply_6 close_reply_7 close_reply_8 close_reply_9 \
	close_reply_v6_10 close_reply_v6_21 close_reply_domain_4 \
	close_reply_domain_5 close_reply_domain_12 close_reply_domain_23; do
	tcase "$s" "$s" ECONNRESET -- "${D4[@]}"
done
tcase close_auth_0 close_auth_0 ECONNRESET proxy="$PROXY_AUTH" -- "${D4[@]}"
tcase close_auth_1 close_auth_1 ECONNRESET proxy="$PROXY_AUTH" -- "${D4[@]}"
tcase close_auth_2 close_auth_2 ECONNRESET proxy="$PROXY_AUTH" -- "${D4[@]}"
tcase close_reply_4_nonblock close_reply_4 ECONNRESET -- "${D4[@]}" --nonblock

# --- the proxy aborts (RST) mid-handshake -----------------------------------
for s in reset_accept reset_greeting reset_method_1 reset_method_2 \
	reset_reply_0 reset_reply_5; do
	tcase "$s" "$s" ECONNRESET -- "${D4[@]}"
done

# --- the proxy never answers (timeout 1) ------------------------------------
for s in silent_greeting silent_method_1 silent_request silent_reply_5; do
	tcase "$s" "$s" ETIMEDOUT elapsed=800-4000 -- "${D4[@]}"
done
tcase silent_auth silent_auth ETIMEDOUT proxy="$PROXY_AUTH" elapsed=800-4000 -- "${D4[@]}"
# one byte every 0.4 s: only a bound on the whole handshake stops it
tcase trickle_reply trickle_reply ETIMEDOUT elapsed=800-4000 -- "${D4[@]}"
tcase trickle_reply_nonblock trickle_reply ETIMEDOUT elapsed=800-4000 -- "${D4[@]}" --nonblock
tcase silent_timeout_0.5 silent_greeting ETIMEDOUT timeout=0.5 elapsed=300-1500 -- "${D4[@]}"
# a signal (alarm() without SA_RESTART) interrupts the wait: EINTR at once,
# as connect(2) promises, not the whole timeout (logged at info, not error)
tcase eintr_silent silent_greeting EINTR timeout=5 errlines=0 elapsed=300-2000 -- "${D4[@]}" --alarm 500

# --- the proxy on IPv6 loopback ---------------------------------------------
tcase proxy_v6_dst_v6 ok_v4 0 proxy="socks5://[::1]:1080" has="request $REQ_V6" "${OKLOG[@]}" \
	-- 2001:db8::10 80 "${OKDATA[@]}"
tcase proxy_v6_rep_04 rep_04 EHOSTUNREACH proxy="socks5://[::1]:1080" has="request $REQ_V6" \
	-- 2001:db8::10 80

# --- the proxy is not there -------------------------------------------------
tcase proxy_not_listening none ECONNREFUSED -- "${D4[@]}"
tcase proxy_not_listening_v6dst none ECONNREFUSED -- 2001:db8::10 80

# --- BIND (RFC 1928 section 4): the call-back pattern ----------------------
# bindfake connects a control connection to 203.0.113.10:80 (CONNECT
# through the fake server), then listens on a socket bound to port 0: the
# shim sends BIND naming 203.0.113.10 on a connection of its own.  The
# server's first reply says 127.0.0.5:4321, its second that 203.0.113.10:40000
# connected, then PEER-FIRST-BYTES and a FIN follow.
#
# bcase NAME SCENARIO LISTEN ACCEPT [OPTIONS...] [-- BINDPROBE_ARGS...]
#   LISTEN       0 or the errno listen() must fail with
#   ACCEPT       ok, the errno accept() must fail with, or - (not reached)
#   OPTIONS      out=REGEX       bindfake printed a line matching ^REGEX$
#                has=REGEX       the server log has a line matching ^REGEX$
#                errhas=REGEX    the one "socksify:" line matches REGEX
#                errlines=N      "socksify:" lines on stderr (0 when both
#                                calls succeed, else 1)
#                ms=KEY:LO-HI    bindfake's KEY_ms line is in LO..HI
#                conf=LINE       a config line (default "bind_timeout 2")
#                limit=S         bindfake is killed after S s (default 8)
#                fds=no          no fds_leaked line to check (--quick)
#   BINDPROBE_ARGS default: the success checks (--expect, --send, --second)
BIND_REQ=05020001cb00710a0000           # BIND, DST 203.0.113.10 port 0
PEER_DATA=PEER-FIRST-BYTES
BOK=(out="sockname=127.0.0.5:4321" out="accept_addr=203.0.113.10:40000"
	out="peername=203.0.113.10:40000" out="accepted_sockname=127.0.0.5:4321"
	out="data=ok" out="send=0" has="app 504f4e47" out="second_accept=-1 errno=EAGAIN")
BLOCKING=(out="accepted_nonblock=0" out="accepted_cloexec=0")
bcase() {
	local name=$1 scen=$2 wl=$3 wa=$4
	shift 4
	if [ -n "$FILTER" ] && ! [[ $name =~ $FILTER ]]; then return 0; fi
	local errlines=1 conf="bind_timeout 2" limit=8 fds=yes opts=() args=()
	[ "$wl" = 0 ] && [ "$wa" = ok ] && errlines=0
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case $1 in
		errlines=*) errlines=${1#errlines=} ;;
		conf=*) conf=${1#conf=} ;;
		limit=*) limit=${1#limit=} ;;
		fds=*) fds=${1#fds=} ;;
		*) opts+=("$1") ;;
		esac
		shift
	done
	[ "${1:-}" = -- ] && shift
	args=("$@")
	[ ${#args[@]} -eq 0 ] && args=(--expect "$PEER_DATA" --send PONG --second)
	local d=$WORK/$name
	mkdir -p "$d"
	CASE_CONNS=2 CASE_CONF=$conf CASE_LIMIT=$limit PROBE=$TOP/build/prog/bindfake \
		"${UNSHARE[@]}" "$HERE/case.sh" "$d" "$scen" "$PROXY" 1 error \
		203.0.113.10 80 "${args[@]}" >"$d/case.out" 2>&1

	local why=() rc n o pat
	rc=$(cat "$d/rc" 2>/dev/null || echo missing)
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		why+=("bindfake hung (killed by timeout $limit)")
	elif [ "$rc" = missing ]; then
		why+=("case did not run: $(head -c 300 "$d/case.out" | tr '\n' ' ')")
	elif [ "$rc" -ge 128 ]; then
		why+=("bindfake died by signal $((rc - 128))")
	elif [ "$rc" != 0 ]; then
		why+=("bindfake exited $rc: $(head -c 200 "$d/err" | tr '\n' ' ')")
	fi
	grep -qx control=0 "$d/out" || why+=("control connection: $(grep -m1 '^control=' "$d/out" || echo none)")
	if [ "$wl" = 0 ]; then
		grep -qx listen=0 "$d/out" || why+=("expected listen=0, got '$(grep -m1 '^listen=' "$d/out")'")
	else
		grep -qx "listen=-1 errno=$wl" "$d/out" ||
			why+=("expected listen=-1 errno=$wl, got '$(grep -m1 '^listen=' "$d/out")'")
	fi
	case $wa in
	-) grep -q '^accept=' "$d/out" && why+=("accept() was reached: $(grep -m1 '^accept=' "$d/out")") ;;
	ok) grep -qx accept=ok "$d/out" || why+=("expected accept=ok, got '$(grep -m1 '^accept=' "$d/out")'") ;;
	*) grep -qx "accept=-1 errno=$wa" "$d/out" ||
		why+=("expected accept=-1 errno=$wa, got '$(grep -m1 '^accept=' "$d/out")'") ;;
	esac
	[ "$fds" = no ] || grep -qx 'fds_leaked=0' "$d/out" ||
		why+=("fd leak: $(grep -m1 '^fds_leaked=' "$d/out" || echo 'no fds_leaked line')")
	n=$(grep -c 'socksify:' "$d/err" 2>/dev/null)
	[ "${n:-0}" = "$errlines" ] ||
		why+=("stderr: ${n:-0} 'socksify:' lines, want $errlines [$(grep 'socksify:' "$d/err" | head -3 | tr '\n' '|')]")
	grep -q "^request $BIND_REQ\$" "$d/log" ||
		why+=("the server got no BIND request $BIND_REQ: $(grep '^request' "$d/log" | tr '\n' '|')")
	grep -q '^error ' "$d/log" && why+=("fake server: $(grep -m1 '^error ' "$d/log")")
	for o in "${opts[@]}"; do
		case $o in
		out=*)
			pat=${o#out=}
			grep -Eq "^($pat)\$" "$d/out" ||
				why+=("want a line '$pat', got '$(grep -m1 "^${pat%%=*}=" "$d/out")'")
			;;
		has=*)
			pat=${o#has=}
			grep -Eq "^($pat)\$" "$d/log" ||
				why+=("server log: want a line '$pat'")
			;;
		errhas=*)
			grep 'socksify:' "$d/err" | grep -Eq -- "${o#errhas=}" ||
				why+=("no log line matches '${o#errhas=}'")
			;;
		ms=*)
			local key lo hi ms
			key=${o#ms=}; lo=${key#*:}; key=${key%%:*}; hi=${lo#*-}; lo=${lo%-*}
			ms=$(sed -n "s/^${key}_ms=//p" "$d/out")
			if [ -z "$ms" ] || [ "$ms" -lt "$lo" ] || [ "$ms" -gt "$hi" ]; then
				why+=("$key took ${ms:-?} ms, want $lo..$hi")
			fi
			;;
		*) why+=("run.sh: unknown option $o") ;;
		esac
	done
	if [ ${#why[@]} -eq 0 ]; then
		pass "$name"
	else
		local IFS=';'
		fail "$name: ${why[*]}"
	fi
}

# success: the data byte-exact whatever the replies' arrangement; the names
bcase bind_ok bind_ok 0 ok "${BOK[@]}" "${BLOCKING[@]}"
bcase bind_ok_accept4 bind_ok 0 ok "${BOK[@]}" out="accepted_nonblock=1" \
	out="accepted_cloexec=1" -- --accept4 --expect "$PEER_DATA" --send PONG --second
bcase bind_ok_split bind_ok_split 0 ok "${BOK[@]}"
bcase bind_ok_together bind_ok_together 0 ok "${BOK[@]}"
# BND 0.0.0.0: the proxy's own address
bcase bind_ok_bnd_zero bind_ok_bnd_zero 0 ok out="sockname=127.0.0.1:4321" \
	out="accepted_sockname=127.0.0.1:4321" out="data=ok"
# an IPv6 listener: the same session, v4-mapped
bcase bind_ok_listener_v6 bind_ok 0 ok out="sockname=\[::ffff:127\.0\.0\.5\]:4321" \
	out="accept_addr=\[::ffff:203\.0\.113\.10\]:40000" \
	out="peername=\[::ffff:203\.0\.113\.10\]:40000" \
	out="accepted_sockname=\[::ffff:127\.0\.0\.5\]:4321" out="data=ok" has="app 504f4e47" \
	-- --v6 --expect "$PEER_DATA" --send PONG --second
# getsockname before listen (curl -P -) makes the request then
bcase bind_ok_sockname_first bind_ok 0 ok out="sockname_early=127.0.0.5:4321" "${BOK[@]}" \
	-- --sockname-first --expect "$PEER_DATA" --send PONG --second
# ... and a refusal then is reported by listen(), logged once (there: the
# request was speculative, its own line is at info level)
bcase bind_rep_02_sockname_first bind_first_rep_02 EACCES - \
	out="sockname_early=0\.0\.0\.0:[0-9]+" errhas='listen on fd [0-9]+ through BIND failed: .*\(EACCES\)' -- --sockname-first
# non-blocking: EAGAIN and not readable before the second reply, readable after
bcase bind_early_eagain bind_ok_slow 0 ok out="early_accept=-1 errno=EAGAIN" \
	out="poll_before=0" out="poll_after=1" "${BOK[@]}" \
	-- --early --expect "$PEER_DATA" --send PONG --second

# the first reply truncated at every byte: listen() fails at once
for n in $(seq 0 9); do
	if [ "$n" = 0 ]; then
		bcase "bind_cut_first_$n" "bind_cut_first_$n" EOPNOTSUPP - \
			errhas='hung up on the BIND request without a reply: it offers no BIND' ms=listen:0-2000
	else
		bcase "bind_cut_first_$n" "bind_cut_first_$n" ECONNRESET - \
			errhas='closed the connection' ms=listen:0-2000
	fi
done
# the second reply truncated at every byte: accept() fails
for n in $(seq 0 9); do
	bcase "bind_cut_second_$n" "bind_cut_second_$n" 0 ECONNABORTED \
		errhas='closed the connection' ms=accept:0-2500 out="second_accept=-1 errno=EAGAIN"
done

# failure codes: in the first reply listen()'s errno, in the second accept()'s
for pair in 01:ECONNREFUSED 02:EACCES 03:ENETUNREACH 04:EHOSTUNREACH \
	05:ECONNREFUSED 06:ETIMEDOUT 07:EOPNOTSUPP 08:EAFNOSUPPORT \
	09:ECONNREFUSED ff:ECONNREFUSED; do
	bcase "bind_first_rep_${pair%%:*}" "bind_first_rep_${pair%%:*}" "${pair#*:}" - \
		errhas="BIND for .* failed: .*\(${pair#*:}\)"
done
for pair in 01:ECONNABORTED 02:EPERM 03:ECONNABORTED 04:ECONNABORTED \
	05:ECONNABORTED 06:ECONNABORTED 07:ECONNABORTED 08:ECONNABORTED \
	09:ECONNABORTED ff:ECONNABORTED; do
	bcase "bind_second_rep_${pair%%:*}" "bind_second_rep_${pair%%:*}" 0 "${pair#*:}" \
		errhas="BIND for .* failed: .*accept gets ${pair#*:}" out="second_accept=-1 errno=EAGAIN"
done

# garbage in either reply
for g in bad_ver bad_rsv bad_atyp http; do
	bcase "bind_first_$g" "bind_first_$g" EPROTO - errhas='BIND for .*\(EPROTO\)'
	bcase "bind_second_$g" "bind_second_$g" 0 EPROTO errhas='garbled second reply.*EPROTO'
done

# nobody connects within bind_timeout 1: ETIMEDOUT after about 1 s
bcase bind_silent_second bind_silent_second 0 ETIMEDOUT conf="bind_timeout 1" limit=5 \
	ms=accept:700-3000 errhas='bind_timeout.*ETIMEDOUT'
# the first reply never comes: the handshake's own bound (timeout 1)
bcase bind_silent_first bind_silent_first ETIMEDOUT - ms=listen:700-3000 limit=5
# OpenSSH's -D: it hangs up on BIND
bcase bind_close_request bind_close_request EOPNOTSUPP - errhas='hung up on the BIND request without a reply: it offers no BIND'
bcase bind_reset_request bind_reset_request EOPNOTSUPP - errhas='hung up on the BIND request without a reply: it offers no BIND'
# someone else connected
bcase bind_other_peer bind_other_peer 0 ECONNABORTED \
	errhas='198\.51\.100\.7:40000 connected, not the expected peer' out="second_accept=-1 errno=EAGAIN"
bcase bind_other_peer_v6 bind_ok_peer_v6 0 ECONNABORTED \
	errhas='\[2001:db8::10\]:40000 connected, not the expected peer' -- --v6
# an IPv6 peer cannot be shown on an IPv4 socket
bcase bind_peer_v6_listener_v4 bind_ok_peer_v6 0 EAFNOSUPPORT errhas='the peer is IPv6'
# a BND the socket cannot show: a name, or IPv6 on an IPv4 socket
bcase bind_first_domain bind_first_domain EAFNOSUPPORT - errhas='names no address'
bcase bind_first_v6 bind_first_v6 EAFNOSUPPORT - errhas='listens on an IPv6 address'
bcase bind_first_v6_listener_v6 bind_first_v6 0 ok out="sockname=\[2001:db8:ffff::42\]:4321" \
	out="accepted_sockname=\[2001:db8:ffff::42\]:4321" out="data=ok" \
	-- --v6 --expect "$PEER_DATA"
bcase bind_second_domain bind_second_domain 0 EPROTO errhas='second reply names no address'
# a program that exits as soon as accept() fails still gets the line
for n in 1 2 3; do
	bcase "bind_log_before_exit_$n" bind_second_rep_05 0 ECONNABORTED fds=no \
		errhas='accept gets ECONNABORTED' -- --quick
done
# the listener closed while the waiter waits: nothing left, nothing logged
bcase bind_close_listener bind_silent_second 0 - errlines=0 out="closed_listener=1" \
	-- --close-after 300
bcase bind_close_listener_at_once bind_silent_second 0 - errlines=0 out="closed_listener=1" \
	-- --close-after 0

echo "fake: ran in $(($(date +%s) - T0)) s"
summary fake
