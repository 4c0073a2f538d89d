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
	if [ ! -x "$PROBE" ] || [ "$PROBE" -ot "$TOP/tests/prog/probe.c" ]; then
		make -s -C "$TOP" build/prog/probe >/dev/null 2>&1 ||
			{ echo "cannot build build/prog/probe"; return 1; }
	fi
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

echo "fake: ran in $(($(date +%s) - T0)) s"
summary fake
