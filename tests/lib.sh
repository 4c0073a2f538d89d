# tests/lib.sh - the shell test harness, sourced by the shell test suites.
#
#   pass DESC / fail DESC / skip DESC REASON   record one result
#   expect DESC CMD...                         pass if CMD exits 0
#   summary NAME                               prints "NAME: N passed, N failed, N skipped"
#                                              and returns nonzero on any failure
#
# In CI (CI=true) a skip is a failure: the lab must run there.

T_PASS=0
T_FAIL=0
T_SKIP=0
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SOCKSIFY="$TOP/socksify"
LIBSOCKSIFY="$TOP/preload/libsocksify.so"
PY=/usr/bin/python3

pass() { T_PASS=$((T_PASS + 1)); printf 'PASS: %s\n' "$*"; }
fail() { T_FAIL=$((T_FAIL + 1)); printf 'FAIL: %s\n' "$*"; }
skip() {
	if [ "${CI:-}" = true ]; then
		fail "$1 (cannot run in CI: $2)"
	else
		T_SKIP=$((T_SKIP + 1)); printf 'SKIP: %s (%s)\n' "$1" "$2"
	fi
}
expect() {
	local desc=$1; shift
	if "$@"; then pass "$desc"; else fail "$desc"; fi
}
summary() {
	printf '%s: %d passed, %d failed, %d skipped\n' "$1" "$T_PASS" "$T_FAIL" "$T_SKIP"
	[ "$T_FAIL" -eq 0 ]
}
