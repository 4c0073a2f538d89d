#!/bin/bash
# The resolver hooks' semantics as Check unit tests: builds
# build/hooks/test_resolver_hooks (it links nothing of the shim) and runs
# it with preload/libsocksify.so preloaded in remote mode
# (SOCKSIFY_PROXY=socks5h://127.0.0.1:1080, nothing listening), inside a
# network namespace of its own (unshare -n; the program brings lo up) so
# no lookup or connect can leave the machine.  Then once more under
# valgrind: no memory errors, no definite or possible leaks.  Prints
# Check's closing line; exits nonzero on any failure.  About 7 s.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

cd "$TOP" || exit 1
SRC=tests/hooks/test_resolver_hooks.c
BIN=build/hooks/test_resolver_hooks
URL=socks5h://127.0.0.1:1080
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

if [ ! -f "$LIBSOCKSIFY" ]; then
	fail "preload/libsocksify.so is built (make all)"
	summary hooks
	exit 1
fi
if ! CHECK_CFLAGS=$(pkg-config --cflags check 2>/dev/null) ||
	! CHECK_LIBS=$(pkg-config --libs check 2>/dev/null); then
	fail "libcheck is installed (pkg-config check; make deps)"
	summary hooks
	exit 1
fi
mkdir -p build/hooks
# The flags are meant to split into words.
# shellcheck disable=SC2086
if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -Ipreload -O2 -g -Wall -Wextra \
	-Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wvla -Wpointer-arith -Wcast-qual $CHECK_CFLAGS -o "$BIN" "$SRC" \
	$CHECK_LIBS -lpthread; then
	fail "tests/hooks/test_resolver_hooks.c compiles"
	summary hooks
	exit 1
fi
if ! unshare -n true 2>/dev/null; then
	skip "resolver hook unit tests" \
		"unshare -n is not permitted here (needs root or user namespaces)"
	summary hooks
	exit
fi

# hooks [WRAPPER...]: the suite in a fresh network namespace, with the
# library preloaded and no configuration but SOCKSIFY_PROXY; stdout in
# $T/out, stderr (the shim's log lines) in $T/err.
hooks() {
	timeout 120 unshare -n env -u SOCKSIFY_CONF -u SOCKSIFY_PROXY \
		-u ALL_PROXY -u all_proxy -u SOCKSIFY_LOG_FILE \
		-u SOCKSIFY_LOG_LEVEL HOME="$T" XDG_CONFIG_HOME="$T/xdg" \
		SOCKSIFY_PROXY=$URL CK_FORK=yes LD_PRELOAD="$LIBSOCKSIFY" \
		"$@" "./$BIN" >"$T/out" 2>"$T/err"
}

hooks
rc=$?
grep -v '^Running suite' "$T/out"
if [ $rc -ne 0 ]; then
	grep -q '^[0-9]*%: Checks:' "$T/out" ||
		echo "hooks: test_resolver_hooks exited $rc without a closing line"
	echo "  its stderr:"
	sed 's/^/  /' "$T/err" | head -20
	exit 1
fi

# Once under valgrind, forked test children included (each logs apart).
if command -v valgrind >/dev/null 2>&1; then
	hooks env CK_TIMEOUT_MULTIPLIER=10 valgrind -q --error-exitcode=99 \
		--leak-check=full --errors-for-leak-kinds=definite,possible \
		--log-file="$T/vg.%p.log"
	rc=$?
	if [ $rc -eq 0 ] && ! grep -qs . "$T"/vg.*.log; then
		echo "valgrind: no memory errors, no leaks"
	else
		fail "valgrind: errors or leaks (test_resolver_hooks exited $rc)"
		grep -v '^Running suite' "$T/out" | sed 's/^/  /'
		cat "$T"/vg.*.log 2>/dev/null | head -60 | sed 's/^/  /'
	fi
else
	skip "the suite under valgrind" "valgrind not installed"
fi
# A skip counts as a failure in CI (lib.sh).
[ "$T_FAIL" -eq 0 ]
