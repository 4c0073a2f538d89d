#!/bin/bash
# tests/lab/asyncmatrix.sh - a non-blocking connect() to a proxied
# destination, as an event loop sees it (issue 8): tests/prog/asyncconn.c
# under the shim against the scripted fake SOCKS5 server
# (tests/fake/fake_socks5.py) on 127.0.0.1:1080 in a private network
# namespace with only lo (unshare -n), the destination 203.0.113.5:80
# (reachable only through the proxy).
#
# The fake server appends a line to a mark file just before each final
# answer (--mark); the probe compares it with what it sees: a socket
# reported writable (or failed) before the server answered is the failure
# to detect, more than any timing.
#
#   control    the probe against the kernel, no shim: a listener whose full
#              accept queue holds the connects in SYN_SENT until it is
#              released; and a mutant in which the connects complete before
#              the "answer", where every order check must fail.  If these
#              fail the probe is wrong, not the shim.
#   matrix     poll ppoll select pselect epoll_wait epoll_pwait
#              epoll_pwait2; level, EPOLLET, EPOLLET|EPOLLONESHOT,
#              EPOLLEXCLUSIVE; registered before/after connect(); nested
#              epoll; epoll fd in poll(); waiter in another thread;
#              connector thread that exits.  Writable only after the
#              answer, once per edge, then SO_ERROR 0, the destination as
#              the peer, EISCONN, the relayed stream
#   pending    EAGAIN, EALREADY, ENOTCONN while pending; the server gets
#              only the bytes sent after completion
#   fail       slow refusals (every REP code), close, reset, garbage,
#              method and auth rejection, silence (timeout 1): writable
#              after the answer, SO_ERROR the README table's errno once,
#              then 0; a retry starts afresh
#   close      close, close_range, closefrom, dup2 over a pending socket
#   fork       both orders, both at once, the parent exiting early
#   blocking   O_NONBLOCK cleared while pending: send, recv, SO_SNDTIMEO
#   sigio      O_ASYNC + F_SETOWN
#   sigstorm   100 connects under a 1 ms SIGALRM, with/without SA_RESTART
#   many       100 connects pending at once, poll and epoll (EPOLLET)
#   off        SOCKSIFY_ASYNC_CONNECT=no / `async_connect no`: connect()
#              does the handshake itself (today's behaviour)
#   edge       regressions found in review, one namespace each, all at
#              once: forkefd (a child's eventfd numbers are not the
#              parent's: a pipe there gets nothing, nothing hangs; 6
#              rounds), dupalias (a dup made before connect), forkclose
#              (the parent closes its copy after fork), unseen (a pending
#              socket closed by a raw syscall, its number reused by a
#              pipe), sscon (EISCONN for any address and for
#              sendto(MSG_FASTOPEN), as the kernel; AF_UNSPEC dissolves),
#              stalepeer (fclose behind the shim's back), forkpeer (the
#              destination in a fork child), cancel (a cancelled poll()
#              leaks no eventfd), epfail (a refusal seen by epoll:
#              OUT|ERR|HUP); the kernel-level ones also as controls
#
#   tests/lab/asyncmatrix.sh               the tree's library
#   SOCKSIFY_TEST_LIB=/path/lib.so tests/lab/asyncmatrix.sh
#                                          another build
#   ASYNC_KEEP=1 ...                       keep the work directory
#
# One PASS/FAIL line per run and tag ("[poll]", "[fail 3 ENETUNREACH
# select]", ...), the probe's failed checks under it (expected vs seen).
# Needs root (or user namespaces) and python3; otherwise skipped, with the
# reason (a failure in CI).  Ends with
# "asyncmatrix: N passed, N failed, N skipped".

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

LIB=${SOCKSIFY_TEST_LIB:-$LIBSOCKSIFY}
PROBE=$TOP/build/prog/asyncconn
REVIEW=$TOP/build/prog/asyncreview
FAKE=$TOP/tests/fake/fake_socks5.py

precondition() {
	if [ "$(id -u)" -ne 0 ] && ! unshare -rn true 2>/dev/null; then
		echo "not root and no user namespaces"; return 1
	fi
	command -v unshare >/dev/null || { echo "unshare missing"; return 1; }
	command -v ip >/dev/null || { echo "ip (iproute2) missing"; return 1; }
	[ -x "$PY" ] || { echo "$PY missing"; return 1; }
	local u=(unshare -n)
	[ "$(id -u)" -ne 0 ] && u=(unshare -rn)
	"${u[@]}" ip link set lo up 2>/dev/null || { echo "cannot create a network namespace"; return 1; }
	[ -f "$LIB" ] || { echo "$LIB not built (make all)"; return 1; }
	if [ ! -x "$PROBE" ] || [ "$PROBE" -ot "$TOP/tests/prog/asyncconn.c" ]; then
		make -s -C "$TOP" build/prog/asyncconn >/dev/null 2>&1 ||
			{ echo "cannot build build/prog/asyncconn"; return 1; }
	fi
	return 0
}

if ! why=$(precondition); then
	skip "async connect suite" "$why"
	summary asyncmatrix
	exit $?
fi
UNSHARE=(unshare -n)
[ "$(id -u)" -ne 0 ] && UNSHARE=(unshare -rn)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/socksify-async.XXXXXX")
cleanup() {
	if [ "${ASYNC_KEEP:-0}" = 1 ]; then
		echo "asyncmatrix: kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# fake NAME SCENARIOS CONNS CONFTEXT [VAR=VALUE...] -- CMD...: runs CMD
# under the shim in a fresh namespace with the fake server (SCENARIOS, one
# name or a comma-separated list: one per connection; CONNS connections)
# on 127.0.0.1:1080 and the config CONFTEXT (printf format); VAR=VALUE go
# into CMD's environment.  Leaves $WORK/NAME/{out,err,log,mark,rc}.
fake() {
	local scen=$2 conns=$3 conf=$4 d=$WORK/$1
	local envs=()
	shift 4
	while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	mkdir -p "$d"
	# shellcheck disable=SC2059 # the config text is a printf format
	printf "$conf" >"$d/conf"
	# shellcheck disable=SC2016 # expanded by the inner shell
	"${UNSHARE[@]}" bash -c '
		d=$1 scen=$2 conns=$3 fake=$4 lib=$5 py=$6 nenv=$7; shift 7
		envs=("${@:1:$nenv}"); shift "$nenv"
		ip link set lo up
		"$py" "$fake" --port 1080 --scenario "$scen" --conns "$conns" \
			--log "$d/log" --mark "$d/mark" --ready "$d/ready" \
			--idle 8 2>"$d/server.err" &
		for _ in $(seq 300); do [ -e "$d/ready" ] && break; sleep 0.02; done
		env LD_PRELOAD="$lib" SOCKSIFY_PROXY=socks5://127.0.0.1:1080 \
			SOCKSIFY_CONF="$d/conf" ASYNC_MARK="$d/mark" ASYNC_LOG="$d/log" \
			"${envs[@]}" timeout -k 1 30 "$@" >"$d/out" 2>"$d/err"
		echo $? >"$d/rc"
		kill %1 2>/dev/null; wait 2>/dev/null
	' _ "$d" "$scen" "$conns" "$FAKE" "$LIB" "$PY" "${#envs[@]}" "${envs[@]}" "$@"
}

# report NAME DESC: one PASS or FAIL per tag the run printed ("ok: [TAG]
# ..."), in their order, with the failed checks under each FAIL; a FAIL for
# an exit status other than 0 or 1 (3: the probe's watchdog, 124: timeout).
report() {
	local desc=$2 d=$WORK/$1 rc tag ok bad why
	rc=$(cat "$d/rc" 2>/dev/null || echo 99)
	if ! grep -Eq '^(ok|FAIL|skip): \[' "$d/out" 2>/dev/null; then
		fail "$desc: no checks ran (exit status $rc)"
		sed 's/^/  | /' "$d/out" 2>/dev/null | head -10
		sed 's/^/  err| /' "$d/err" 2>/dev/null | head -10
		return
	fi
	while IFS= read -r tag; do
		ok=$(grep -cF "ok: [$tag] " "$d/out")
		bad=$(grep -cF "FAIL: [$tag] " "$d/out")
		if [ "$bad" -gt 0 ]; then
			fail "$desc [$tag]: $bad of $((ok + bad)) checks failed"
			grep -F "FAIL: [$tag] " "$d/out" | head -12 | sed 's/^FAIL: \[[^]]*\] /  | /'
		elif [ "$ok" -gt 0 ]; then
			pass "$desc [$tag] ($ok checks)"
		else
			skip "$desc [$tag]" "$(grep -F "skip: [$tag] " "$d/out" | head -1 | sed 's/^skip: \[[^]]*\] //')"
		fi
	done < <(sed -n 's/^\(ok\|FAIL\|skip\): \[\([^]]*\)\] .*/\2/p' "$d/out" | awk '!seen[$0]++')
	case $rc in
	0 | 1) why= ;;
	3) why="its watchdog: a call blocked" ;;
	124 | 137) why="killed after 30 s" ;;
	*) why="crashed?" ;;
	esac
	if [ -n "$why" ]; then
		fail "$desc: the probe exited with status $rc ($why), after: $(tail -1 "$d/out")"
		sed 's/^/  err| /' "$d/err" | head -8
	fi
	if grep -q '^error ' "$d/log" 2>/dev/null; then
		fail "$desc: the fake server broke: $(grep -m1 '^error ' "$d/log")"
	fi
}

# ------------------------------------------------------------- control
echo "== control: the probe against the kernel (no shim)"
VARIANTS=$("$PROBE" list)
# The review's regressions that mean something for a kernel socket.
CTL_EDGES="dupalias forkclose unseen sscon stalepeer forkpeer epfail"
# ctl NAME ARGS...: (inside the namespace) one control run in the
# background; all of them go at once (each waits about a second for a SYN
# retransmission).
# shellcheck disable=SC2016 # expanded by the inner shell
"${UNSHARE[@]}" bash -c '
	w=$1 probe=$2 variants=$3 edges=$4
	ip link set lo up
	ctl() {
		local n=$1; shift
		mkdir -p "$w/$n"
		(timeout -k 1 30 "$probe" "$@" >"$w/$n/out" 2>"$w/$n/err"; echo $? >"$w/$n/rc") &
	}
	for v in $variants; do ctl "ctl_matrix_$v" --control matrix "$v"; done
	ctl ctl_pending --control pending
	ctl ctl_fail --control fail ECONNREFUSED:poll:retry ECONNREFUSED:epoll ECONNREFUSED:select
	ctl ctl_close --control close close close_range closefrom dup2
	ctl ctl_fork --control fork parent_first child_first both parent_exits
	ctl ctl_blocking --control blocking send recv sndtimeo
	ctl ctl_sigio --control sigio
	ctl ctl_storm_restart --control sigstorm restart 100
	ctl ctl_storm_norestart --control sigstorm norestart 100
	ctl ctl_many_poll --control many poll 100
	ctl ctl_many_epoll --control many epoll 100
	ctl ctl_early --control-early matrix poll epoll_et epoll_oneshot_before epoll_nested thread_epoll_et
	for e in $edges; do ctl "ctl_edge_$e" --control edge "$e"; done
	wait
' _ "$WORK" "$PROBE" "$VARIANTS" "$CTL_EDGES"
for v in $VARIANTS; do report "ctl_matrix_$v" "control matrix"; done
for r in pending fail close fork blocking sigio storm_restart storm_norestart many_poll many_epoll; do
	report "ctl_$r" "control $r"
done
for e in $CTL_EDGES; do report "ctl_edge_$e" "control edge $e"; done
# The mutant: every variant must have been caught reporting early.
for v in poll epoll_et epoll_oneshot_before epoll_nested thread_epoll_et; do
	if grep -qF "FAIL: [$v] first reported" "$WORK/ctl_early/out" &&
		grep -F "FAIL: [$v] first reported" "$WORK/ctl_early/out" | grep -q 'an early report'; then
		pass "control: a socket writable before the answer is caught ($v)"
	else
		fail "control: the mutant's early report went unnoticed ($v)"
		grep -F "[$v]" "$WORK/ctl_early/out" | head -8 | sed 's/^/  | /'
	fi
done

# ------------------------------------------------------------- the shim
echo "== under the shim, against the fake server"
NV=$(echo "$VARIANTS" | wc -l)
fake matrix slow_ok "$NV" 'timeout 3\n' -- "$PROBE" matrix
report matrix "readiness"

fake pending slow_ok 1 'timeout 3\n' -- "$PROBE" pending
report pending "pending"

# The failures: scenario and expected errno (README's table), the
# readiness call, and options (retry: connect again, which takes the next
# scenario too; min=MS: a silent server, not reported before the timeout).
FAILS='
slow_rep_01 ECONNREFUSED:poll
slow_rep_02 EACCES:epoll
slow_rep_03 ENETUNREACH:select
slow_rep_04 EHOSTUNREACH:poll
slow_rep_05 ECONNREFUSED:poll:retry
slow_rep_05 ECONNREFUSED:epoll
slow_rep_05 ECONNREFUSED:select
slow_rep_06 ETIMEDOUT:epoll
slow_rep_07 EOPNOTSUPP:select
slow_rep_08 EAFNOSUPPORT:poll
slow_rep_09 ECONNREFUSED:epoll
slow_close ECONNRESET:poll
slow_reset ECONNRESET:epoll
slow_garbage EPROTO:select
slow_reply_garbage EPROTO:poll
slow_method_none EACCES:epoll
slow_auth_reject EACCES:poll
silent_request ETIMEDOUT:poll:min=800
'
scen='' specs=()
while read -r s e; do
	[ -n "$s" ] || continue
	scen+=${scen:+,}$s
	case $e in *:retry*) scen+=,$s ;; esac
	specs+=("$e")
done <<<"$FAILS"
fake fail "$scen" "$(echo "$scen" | tr ',' '\n' | wc -l)" \
	'timeout 1\nusername alice\npassword s3cret\n' ASYNC_TIMEOUT_MS=1000 -- "$PROBE" fail "${specs[@]}"
report fail "failure"

fake close slow_ok 5 'timeout 3\n' -- "$PROBE" close close close_range closefrom dup2
report close "close while pending"

fake fork slow_ok 4 'timeout 3\n' -- "$PROBE" fork parent_first child_first both parent_exits
report fork "fork while pending"
n=$(grep -c '^request ' "$WORK/fork/log" 2>/dev/null)
# A parent that exits halfway through a step of its handshake leaves the
# child ECONNABORTED (README): that connect's request may never be sent.
if [ "${n:-0}" = 3 ] && grep -q 'completed with ECONNABORTED' "$WORK/fork/out" 2>/dev/null; then
	pass "fork while pending: one handshake per connect (3 requests: the parent_exits one ended ECONNABORTED), none redone by a child"
elif [ "${n:-0}" = 4 ]; then
	pass "fork while pending: one handshake per connect (4 requests), none redone by a child"
else
	fail "fork while pending: the server got ${n:-0} requests for 4 connects"
fi

# A second review's findings (tests/prog/asyncreview.c).
fake radopt slow_ok 1 'timeout 3\n' -- "$REVIEW" adopt
report radopt "take-over by a child"
fake rloglock rep_05 1 'timeout 3\n' -- "$REVIEW" loglock
report rloglock "the log line in a full stderr pipe"
fake rorder ok_v4 300 'timeout 3\n' -- "$REVIEW" order 300
report rorder "epoll_ctl while the handshake ends"
fake rstale slow_ok 1 'timeout 3\n' -- "$REVIEW" stale
report rstale "a pending socket closed behind the shim"

fake blocking slow_ok 3 'timeout 3\n' -- "$PROBE" blocking send recv sndtimeo
report blocking "O_NONBLOCK cleared while pending"

fake sigio slow_ok 1 'timeout 3\n' -- "$PROBE" sigio
report sigio "O_ASYNC"

for m in restart norestart; do
	fake "storm_$m" slow_ok_20ms 100 'timeout 3\n' ASYNC_DELAY_MS=20 -- "$PROBE" sigstorm "$m" 100
	report "storm_$m" "signal storm"
done

for m in poll epoll; do
	fake "many_$m" slow_ok 100 'timeout 3\n' -- "$PROBE" many "$m" 100
	report "many_$m" "100 at once"
done

fake off_env slow_ok,slow_rep_05 2 'timeout 3\n' SOCKSIFY_ASYNC_CONNECT=no -- "$PROBE" off 0 ECONNREFUSED
report off_env "SOCKSIFY_ASYNC_CONNECT=no"
fake off_conf slow_ok,slow_rep_05 2 'timeout 3\nasync_connect no\n' -- "$PROBE" off 0 ECONNREFUSED
report off_conf "async_connect no"

# The review's regressions (asyncconn edge CASE), each in its own
# namespace, all at once: NAME SCENARIOS CONNS CONFIG [VAR=VALUE...].
echo "== regressions from the review"
EDGES='
forkefd slow_ok_20ms 30 timeout_3 ASYNC_DELAY_MS=20
dupalias slow_ok 1 timeout_3
forkclose slow_ok 1 timeout_3
unseen slow_ok 2 timeout_3
sscon ok_v4 4 direct_local
stalepeer ok_v4 1 direct_local
forkpeer slow_ok 2 timeout_3
cancel slow_ok 4 timeout_3
epfail slow_rep_05 1 timeout_3
'
names=()
while read -r e s n c envs; do
	[ -n "$e" ] || continue
	case $c in
	direct_local) c='timeout 3\nroute direct 127.0.0.1\n' ;;
	*) c='timeout 3\n' ;;
	esac
	# shellcheck disable=SC2086 # envs: words
	fake "edge_$e" "$s" "$n" "$c" $envs -- "$PROBE" edge "$e" &
	names+=("$e")
done <<<"$EDGES"
wait
for e in "${names[@]}"; do report "edge_$e" "review: $e"; done

summary asyncmatrix
