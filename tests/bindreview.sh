#!/bin/bash
# tests/bindreview.sh - the BIND review's regressions (tests/prog/bindreview.c):
# each case in a private network namespace with only lo (plus 10.9.9.9 and
# fd00::9 on it, addresses that are not loopback; dualnov6: IPv6 disabled),
# the program's own small
# SOCKS5 server on 127.0.0.1:1080, bind_timeout 10 (orphan: 1).
#
#   tests/bindreview.sh [CASE...]     (default: every case)
#   SOCKSIFY_TEST_LIB=/path/lib.so    another build
#
# One PASS/FAIL line per case, its failed facts under it.  Needs root (or
# user namespaces); otherwise skipped.  Ends with
# "bindreview: N passed, N failed, N skipped".

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

LIB=${SOCKSIFY_TEST_LIB:-$LIBSOCKSIFY}
PROG=$TOP/build/prog/bindreview
CASES=${*:-wakeleak pollcancel acceptnull namenull forkeof forkpidfd orphan filter cancelclose cancelpoint dualnov6 listenconnect misfire}

UNSHARE=(unshare -n)
[ "$(id -u)" -ne 0 ] && UNSHARE=(unshare -rn)
if ! "${UNSHARE[@]}" true 2>/dev/null; then
	skip "bindreview" "cannot create a network namespace"
	summary bindreview
	exit $?
fi
if [ ! -x "$PROG" ] || [ "$PROG" -ot "$TOP/tests/prog/bindreview.c" ]; then
	make -s -C "$TOP" build/prog/bindreview >/dev/null 2>&1 ||
		{ fail "bindreview (cannot build $PROG)"; summary bindreview; exit 1; }
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/socksify-bindreview.XXXXXX")
trap '[ "${BINDREVIEW_KEEP:-0}" = 1 ] || rm -rf "$WORK"' EXIT

for c in $CASES; do
	mode=always
	[ "$c" = misfire ] && mode=auto
	bt=10
	[ "$c" = orphan ] && bt=1
	printf 'bind_timeout %s\nlog_level info\n' "$bt" >"$WORK/conf"
	# shellcheck disable=SC2016 # expanded by the inner shell
	"${UNSHARE[@]}" bash -c '
		ip link set lo up
		ip addr add 10.9.9.9/32 dev lo
		ip addr add fd00::9/128 dev lo nodad
		if [ "$5" = dualnov6 ]; then
			sysctl -qw net.ipv6.conf.lo.disable_ipv6=1
			sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		fi
		exec env LD_PRELOAD="$1" SOCKSIFY_PROXY=socks5://127.0.0.1:1080 \
			SOCKSIFY_CONF="$2" SOCKSIFY_BIND="$3" \
			timeout -k 1 30 "$4" "$5"
	' _ "$LIB" "$WORK/conf" "$mode" "$PROG" "$c" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	sleep 0.1 # an orphan's child may still be writing
	if [ $rc -eq 0 ] && ! grep -q '^FAIL' "$WORK/out" && grep -q '^ok' "$WORK/out"; then
		pass "[$c]"
	else
		fail "[$c] (rc $rc)"
		grep '^FAIL' "$WORK/out" | sed 's/^/    /'
		[ "${BINDREVIEW_VERBOSE:-0}" = 1 ] && sed 's/^/    err: /' "$WORK/err"
	fi
done
summary bindreview
