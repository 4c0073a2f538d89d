#!/bin/bash
# The resolver hooks (getaddrinfo, gethostbyname*, gethostbyaddr*,
# getnameinfo) against glibc's semantics: build/prog/gaitest, one mode per
# environment, each in a network namespace of its own (unshare -n; -m where
# a test /etc/hosts or an /etc/resolv.conf naming gaitest's own DNS
# sentinel on 127.0.0.1 is bind-mounted) so no lookup can leave the
# machine.  No proxy runs: lookups need none, and connects must be refused
# by the proxy address.  Root (or user namespaces) needed; ip(8) and
# valgrind optional.  About 5 s.
. "$(dirname "$0")/lib.sh"

GAITEST=$TOP/build/prog/gaitest
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
URL=socks5h://127.0.0.1:1080

if [ ! -x "$GAITEST" ] || [ ! -f "$LIBSOCKSIFY" ]; then
	fail "build/prog/gaitest and the library are built (make all)"
	summary resolver
	exit
fi
if ! unshare -n true 2>/dev/null; then
	skip "resolver checks" "unshare -n is not permitted here (needs root or user namespaces)"
	summary resolver
	exit
fi
HAVE_MNT=1
unshare -m -n true 2>/dev/null || HAVE_MNT=0
HAVE_IP=1
command -v ip >/dev/null 2>&1 || HAVE_IP=0

# run NAME SETUP MODE [VAR=VALUE...]: gaitest MODE in a fresh network
# namespace (and mount namespace with UNSHARE_M=1) after the shell
# commands SETUP, with the library preloaded and the given environment.
# Its facts are counted one by one, and stderr must hold no socksify line
# that gaitest did not capture itself.  With WRAP (a command to run it
# under) only the exit code is returned: the facts were counted before.
run() {
	local name=$1 setup=$2 mode=$3 out err rc line
	shift 3
	out=$T/$name.out
	err=$T/$name.err
	# WRAP is split into words on purpose.
	# shellcheck disable=SC2086
	timeout 60 unshare ${UNSHARE_M:+-m} -n /bin/sh -c "$setup"'
		exec "$@"' sh env -u SOCKSIFY_CONF -u SOCKSIFY_PROXY -u ALL_PROXY \
		-u all_proxy -u SOCKSIFY_LOG_FILE -u SOCKSIFY_LOG_LEVEL \
		HOME="$T" XDG_CONFIG_HOME="$T/xdg" \
		LD_PRELOAD="$LIBSOCKSIFY" "$@" ${WRAP:-} "$GAITEST" "$mode" \
		>"$out" 2>"$err"
	rc=$?
	[ -n "${WRAP:-}" ] && return $rc # the wrapper's run: see below
	while IFS= read -r line; do
		case $line in
		"ok: "*) pass "$name: ${line#ok: }" ;;
		"FAIL: "*) fail "$name: ${line#FAIL: }" ;;
		*) printf '  %s\n' "$line" ;;
		esac
	done <"$out"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' "$out"; then
		fail "$name: gaitest $mode exited $rc with no failed check"
		sed 's/^/  /' "$err" | head -20
	fi
	if grep -q '^socksify:' "$err"; then
		fail "$name: unexpected log lines on stderr"
		sed 's/^/  /' "$err" | head -10
	fi
	return $rc
}

# The basic checks, in a namespace without addresses but lo (up).  Where
# a mount namespace is allowed, /etc/resolv.conf names 127.0.0.1, where
# gaitest listens: no query may arrive.
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$T/resolv.conf"
if [ $HAVE_MNT = 1 ]; then
	UNSHARE_M=1 run remote "mount --bind '$T/resolv.conf' /etc/resolv.conf" \
		remote SOCKSIFY_PROXY=$URL GAITEST_DNS_SENTINEL=1
else
	run remote : remote SOCKSIFY_PROXY=$URL
fi

# AI_ADDRCONFIG in namespaces with and without non-loopback addresses.
if [ $HAVE_IP = 1 ]; then
	run addrconfig-v4 "ip link set lo up; ip addr add 10.9.9.9/32 dev lo" \
		addrconfig SOCKSIFY_PROXY=$URL
	run addrconfig-v6 "ip link set lo up; ip -6 addr add 2001:db8::9/128 dev lo nodad" \
		addrconfig SOCKSIFY_PROXY=$URL
	run addrconfig-dual "ip link set lo up; ip addr add 10.9.9.9/32 dev lo;
		ip -6 addr add 2001:db8::9/128 dev lo nodad" \
		addrconfig SOCKSIFY_PROXY=$URL
else
	skip "AI_ADDRCONFIG with IPv4/IPv6 addresses" "ip(8) not installed"
fi

run forkfirst : forkfirst SOCKSIFY_PROXY=$URL

# Local paths: a test /etc/hosts (bind-mounted) and route direct rules.
cat >"$T/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost
192.0.2.10	myhost.test myalias
2001:db8::10	myhost6.test
EOF
cat >"$T/hosts.conf" <<EOF
proxy $URL
route direct .corp.example
route direct exact.example
route direct *.star.example
EOF
if [ $HAVE_MNT = 1 ]; then
	UNSHARE_M=1 run hosts "mount --bind '$T/hosts' /etc/hosts &&
		mount --bind '$T/resolv.conf' /etc/resolv.conf" hosts \
		SOCKSIFY_CONF="$T/hosts.conf" GAITEST_TEST_HOSTS=1 \
		GAITEST_DNS_SENTINEL=1
else
	skip "/etc/hosts and route direct names" "unshare -m is not permitted here"
fi

# dns local, by the config key and by a socks5:// URL (with the test
# /etc/hosts where it can be mounted, for localhost's ::1).
printf 'proxy %s\ndns local\n' "$URL" >"$T/local.conf"
if [ $HAVE_MNT = 1 ]; then
	mounts="mount --bind '$T/hosts' /etc/hosts &&
		mount --bind '$T/resolv.conf' /etc/resolv.conf"
	UNSHARE_M=1 run local-key "$mounts" local SOCKSIFY_CONF="$T/local.conf" \
		GAITEST_TEST_HOSTS=1 GAITEST_DNS_SENTINEL=1
	UNSHARE_M=1 run local-url "$mounts" local \
		SOCKSIFY_PROXY=socks5://127.0.0.1:1080 GAITEST_TEST_HOSTS=1 \
		GAITEST_DNS_SENTINEL=1
else
	run local-key : local SOCKSIFY_CONF="$T/local.conf"
	run local-url : local SOCKSIFY_PROXY=socks5://127.0.0.1:1080
fi

# A config with a syntax error.
printf 'proxy %s\nbogus-key 1\n' "$URL" >"$T/broken.conf"
run broken : broken SOCKSIFY_CONF="$T/broken.conf"

# Tunnel mode with nothing listening on the proxy address.
printf 'proxy %s\ndns tunnel\ndns_server 203.0.113.53\ntimeout 1\n' "$URL" \
	>"$T/tunnel.conf"
run tunnel : tunnel SOCKSIFY_CONF="$T/tunnel.conf"

# Placeholder ranges from the config.
printf 'proxy %s\ndns_v4_range 198.18.128.0/17\ndns_v6_range 2001:db8:ffff::/64\ndns_names 1024\n' \
	"$URL" >"$T/ranges.conf"
run ranges : ranges SOCKSIFY_CONF="$T/ranges.conf"

run threads : threads SOCKSIFY_PROXY=$URL

# Once under valgrind (the remote checks, fork child included): no memory
# errors, no definite or possible leaks.  The checks themselves were
# counted above.
if command -v valgrind >/dev/null 2>&1; then
	WRAP="valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,possible --log-file=$T/vg.%p.log" \
		run valgrind : remote \
		SOCKSIFY_PROXY=$URL
	rc=$?
	if [ $rc -ne 99 ] && [ $rc -ne 124 ] && ! grep -qs . "$T"/vg.*.log; then
		pass "valgrind: no errors, no leaks (gaitest remote)"
	else
		fail "valgrind: errors or leaks (gaitest remote exited $rc)"
		cat "$T"/vg.*.log | head -60 | sed 's/^/  /'
	fi
else
	skip "valgrind run" "valgrind not installed"
fi

summary resolver
