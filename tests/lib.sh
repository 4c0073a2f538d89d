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
# danted_conf FILE LOGFILE METHOD RULELOG "INTERNAL ADDRS" PORT "EXTERNAL ADDRS" [COMMANDS]
# writes a danted(8) config that passes every client and the socks-rule
# COMMANDS (default "connect"; "connect udpassociate udpreply" also lets
# UDP ASSOCIATE and the replies to it through), with socksmethod METHOD
# (none or username) and socks-rule logging RULELOG.
danted_conf() {
	local a cmds=${8:-connect}
	{
		echo "logoutput: $2"
		for a in $5; do echo "internal: $a port = $6"; done
		for a in $7; do echo "external: $a"; done
		cat <<EOF
socksmethod: $3
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
	from: 0/0 to: 0/0
	log: error
}
socks pass {
	from: 0/0 to: 0/0
	command: $cmds
	log: $4
}
EOF
	} >"$1"
}

summary() {
	printf '%s: %d passed, %d failed, %d skipped\n' "$1" "$T_PASS" "$T_FAIL" "$T_SKIP"
	[ "$T_FAIL" -eq 0 ]
}
