# shellcheck shell=bash disable=SC2034
# tests/lab/lab.sh - a three-namespace network lab for socksify (sourced).
# (SC2034: the LAB_* variables are for the scripts that source this file.)
#
#   client 198.18.0.2   2001:db8:1::2  -- no default route: only the proxy
#     |  veth
#   border 198.18.0.1   2001:db8:1::1  -- danted :1080 (no auth), :1081 (user/pass)
#          198.18.1.1   2001:db8:2::1     ip forwarding OFF
#     |  veth
#   target 198.18.1.2   2001:db8:2::2  -- HTTP :80 (body = $LAB_TOKEN), echo :7
#
# Functions:
#   lab_up           build everything; installs an EXIT/INT/TERM trap that
#                    calls lab_down.  Returns nonzero (after cleaning up) on
#                    failure.  Idempotent: a second call while up is a no-op.
#   lab_down         kill every process started here, delete the namespaces,
#                    remove the temp dir.  Safe to call any number of times.
#   lab_c/lab_b/lab_t CMD...   run CMD in the client/border/target namespace
#   lab_danted_tail [N]        print the last N lines of both danted logs
#   lab_wait_port NS ADDR PORT [TENTHS]   bounded wait for a listening port
#   lab_spawn NS CMD...        start CMD in the background in NS, tracked
#                              for lab_down; sets LAB_LAST_PID
#   lab_kill PID               stop one tracked process (TERM, then KILL)
#
# Only 198.18.0.0/15, 2001:db8::/32 and loopback are used.  Names carry the
# shell's pid, so parallel runs do not collide; set LAB_KEEP=1 to keep the
# temp dir (logs) after lab_down.

LAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

LAB_PROXY4=198.18.0.1
LAB_PROXY6=2001:db8:1::1
LAB_CLIENT4=198.18.0.2
LAB_CLIENT6=2001:db8:1::2
LAB_BORDER_T4=198.18.1.1
LAB_BORDER_T6=2001:db8:2::1
LAB_TARGET4=198.18.1.2
LAB_TARGET6=2001:db8:2::2
LAB_PORT=1080          # danted, no authentication
LAB_AUTH_PORT=1081     # danted, RFC 1929 username/password
LAB_DOWN_PORT=1089     # nothing listens here
LAB_USER=sfytest
LAB_PASS=sfy-lab-pass-42
LAB_HOSTNAME=target.socksify.test   # resolvable only in the border namespace

LAB_UP=0
LAB_PIDS=()

lab_log() { printf 'lab: %s\n' "$*" >&2; }

lab_c() { ip netns exec "$LAB_NS_C" "$@"; }
lab_b() { ip netns exec "$LAB_NS_B" "$@"; }
lab_t() { ip netns exec "$LAB_NS_T" "$@"; }

# lab_available: 0 if this machine can run the lab, else prints why and 1.
lab_available() {
	if [ "$(id -u)" -ne 0 ]; then echo "not root"; return 1; fi
	if ! command -v ip >/dev/null 2>&1; then echo "no ip(8)"; return 1; fi
	if ! ip netns list >/dev/null 2>&1; then echo "ip netns unavailable"; return 1; fi
	local t
	for t in danted "$PY" tcpdump; do
		command -v "$t" >/dev/null 2>&1 || { echo "$t not installed"; return 1; }
	done
	return 0
}

lab_spawn() {
	local ns=$1; shift
	ip netns exec "$ns" "$@" &
	LAB_LAST_PID=$!
	LAB_PIDS+=("$LAB_LAST_PID")
}

lab_kill() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 30); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# lab_wait_port NS ADDR PORT [TENTHS]: wait (bounded) until ADDR:PORT listens.
lab_wait_port() {
	local ns=$1 addr=$2 port=$3 tenths=${4:-100} i pat
	case $addr in *:*) pat="[$addr]:$port" ;; *) pat="$addr:$port" ;; esac
	for i in $(seq 1 "$tenths"); do
		if ip netns exec "$ns" ss -Hltn 2>/dev/null | awk '{print $4}' | grep -qxF "$pat"; then
			return 0
		fi
		sleep 0.1
	done
	lab_log "timed out waiting for $pat in $ns"
	return 1
}

lab_wait_file() {
	local f=$1 tenths=${2:-100} i
	for i in $(seq 1 "$tenths"); do
		[ -s "$f" ] && return 0
		sleep 0.1
	done
	lab_log "timed out waiting for $f"
	return 1
}

lab_danted_tail() {
	local n=${1:-20} f
	for f in "$LAB_DANTED_LOG" "$LAB_DANTED_AUTH_LOG"; do
		if [ -z "$f" ] || [ ! -f "$f" ]; then continue; fi
		echo "---- tail of $f"
		tail -n "$n" "$f"
	done
}

# The unprivileged system user danted's "username" method checks.
lab_user() {
	if ! id "$LAB_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$LAB_USER" || return 1
	fi
	# chpasswd takes a lock on /etc/shadow: retry (bounded) in case a
	# parallel lab run holds it.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		echo "$LAB_USER:$LAB_PASS" | chpasswd 2>/dev/null && return 0
		sleep 0.3
	done
	echo "$LAB_USER:$LAB_PASS" | chpasswd
}

lab_danted_conf() { # FILE LOG PORT METHOD
	danted_conf "$1" "$2" "$4" "connect disconnect error" \
		"$LAB_PROXY4 $LAB_PROXY6" "$3" "$LAB_BORDER_T4 $LAB_BORDER_T6"
}

lab_veth() { # NS_A IF_A NS_B IF_B
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || return 1
	ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_dad=0" >/dev/null
	ip netns exec "$3" sysctl -qw "net.ipv6.conf.$4.accept_dad=0" >/dev/null
	return 0
}

lab_up() {
	[ "$LAB_UP" = 1 ] && return 0
	local why
	if ! why=$(lab_available); then
		lab_log "cannot build the lab: $why"
		return 1
	fi
	trap 'lab_down' EXIT
	trap 'lab_down; exit 130' INT
	trap 'lab_down; exit 143' TERM
	LAB_UP=1
	if ! lab_build; then
		lab_log "lab_up failed"
		lab_danted_tail 20 >&2
		lab_down
		return 1
	fi
	return 0
}

lab_build() {
	local p=sfy$$
	LAB_NS_C=${p}c LAB_NS_B=${p}b LAB_NS_T=${p}t
	LAB_IF_C=${p}c0     # client side of client<->border
	LAB_IF_BC=${p}b0    # border side of client<->border
	LAB_IF_BT=${p}b1    # border side of border<->target
	LAB_IF_T=${p}t0     # target side of border<->target
	LAB_DIR=$(mktemp -d /tmp/socksify-lab.XXXXXX) || return 1
	LAB_TOKEN=socksify-lab-token-$$-$RANDOM$RANDOM
	LAB_LOCAL_TOKEN=socksify-loopback-token-$$-$RANDOM$RANDOM
	LAB_DANTED_LOG=$LAB_DIR/danted.log
	LAB_DANTED_AUTH_LOG=$LAB_DIR/danted-auth.log
	: >"$LAB_DANTED_LOG"; : >"$LAB_DANTED_AUTH_LOG"

	lab_user || { lab_log "cannot create user $LAB_USER"; return 1; }

	local ns
	for ns in "$LAB_NS_C" "$LAB_NS_B" "$LAB_NS_T"; do
		ip netns add "$ns" || return 1
		ip netns exec "$ns" ip link set lo up || return 1
	done
	# The border resolves $LAB_HOSTNAME (for socks5h tests); ip netns exec
	# bind-mounts /etc/netns/NAME/hosts over /etc/hosts.
	mkdir -p "/etc/netns/$LAB_NS_B" &&
		printf '127.0.0.1 localhost\n%s %s\n%s %s\n' \
			"$LAB_TARGET4" "$LAB_HOSTNAME" "$LAB_TARGET6" "$LAB_HOSTNAME" \
			>"/etc/netns/$LAB_NS_B/hosts" || return 1

	lab_veth "$LAB_NS_C" "$LAB_IF_C" "$LAB_NS_B" "$LAB_IF_BC" || return 1
	lab_veth "$LAB_NS_B" "$LAB_IF_BT" "$LAB_NS_T" "$LAB_IF_T" || return 1

	lab_c ip addr add "$LAB_CLIENT4/24" dev "$LAB_IF_C" &&
		lab_c ip addr add "$LAB_CLIENT6/64" dev "$LAB_IF_C" nodad &&
		lab_c ip link set "$LAB_IF_C" up || return 1
	lab_b sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 >/dev/null &&
		lab_b ip addr add "$LAB_PROXY4/24" dev "$LAB_IF_BC" &&
		lab_b ip addr add "$LAB_PROXY6/64" dev "$LAB_IF_BC" nodad &&
		lab_b ip addr add "$LAB_BORDER_T4/24" dev "$LAB_IF_BT" &&
		lab_b ip addr add "$LAB_BORDER_T6/64" dev "$LAB_IF_BT" nodad &&
		lab_b ip link set "$LAB_IF_BC" up &&
		lab_b ip link set "$LAB_IF_BT" up || return 1
	lab_t ip addr add "$LAB_TARGET4/24" dev "$LAB_IF_T" &&
		lab_t ip addr add "$LAB_TARGET6/64" dev "$LAB_IF_T" nodad &&
		lab_t ip link set "$LAB_IF_T" up &&
		lab_t ip route add 198.18.0.0/15 via "$LAB_BORDER_T4" &&
		lab_t ip -6 route add 2001:db8::/32 via "$LAB_BORDER_T6" || return 1

	# Target servers.
	lab_spawn "$LAB_NS_T" "$PY" "$LAB_HERE/servers.py" \
		--addr "$LAB_TARGET4" --addr "$LAB_TARGET6" --http-port 80 --echo-port 7 \
		--token "$LAB_TOKEN" --ready "$LAB_DIR/target.ready" \
		2>>"$LAB_DIR/target.log"
	LAB_TARGET_PID=$LAB_LAST_PID

	# Two danted instances: no auth on LAB_PORT, username on LAB_AUTH_PORT.
	lab_danted_conf "$LAB_DIR/danted.conf" "$LAB_DANTED_LOG" "$LAB_PORT" none
	lab_danted_conf "$LAB_DIR/danted-auth.conf" "$LAB_DANTED_AUTH_LOG" "$LAB_AUTH_PORT" username
	lab_spawn "$LAB_NS_B" danted -f "$LAB_DIR/danted.conf" -p "$LAB_DIR/danted.pid" -N 2 \
		>>"$LAB_DANTED_LOG" 2>&1
	LAB_DANTED_PID=$LAB_LAST_PID
	lab_spawn "$LAB_NS_B" danted -f "$LAB_DIR/danted-auth.conf" -p "$LAB_DIR/danted-auth.pid" -N 1 \
		>>"$LAB_DANTED_AUTH_LOG" 2>&1
	LAB_DANTED_AUTH_PID=$LAB_LAST_PID

	lab_wait_file "$LAB_DIR/target.ready" 100 || return 1
	lab_wait_port "$LAB_NS_T" "$LAB_TARGET4" 80 &&
		lab_wait_port "$LAB_NS_T" "$LAB_TARGET6" 80 &&
		lab_wait_port "$LAB_NS_T" "$LAB_TARGET4" 7 &&
		lab_wait_port "$LAB_NS_T" "$LAB_TARGET6" 7 || return 1
	lab_wait_port "$LAB_NS_B" "$LAB_PROXY4" "$LAB_PORT" &&
		lab_wait_port "$LAB_NS_B" "$LAB_PROXY6" "$LAB_PORT" &&
		lab_wait_port "$LAB_NS_B" "$LAB_PROXY4" "$LAB_AUTH_PORT" &&
		lab_wait_port "$LAB_NS_B" "$LAB_PROXY6" "$LAB_AUTH_PORT" || return 1
	return 0
}

lab_down() {
	[ "$LAB_UP" = 1 ] || return 0
	LAB_UP=0
	trap - EXIT INT TERM
	local pid ns
	for pid in "${LAB_PIDS[@]}"; do
		lab_kill "$pid"
	done
	LAB_PIDS=()
	# Anything still inside our own namespaces (danted children, stray test
	# processes) was started by this lab: end it before deleting them.
	for ns in "$LAB_NS_C" "$LAB_NS_B" "$LAB_NS_T"; do
		[ -n "$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	for ns in "$LAB_NS_C" "$LAB_NS_B" "$LAB_NS_T"; do
		[ -n "$ns" ] || continue
		ip netns del "$ns" 2>/dev/null
		[ -d "/etc/netns/$ns" ] && rm -rf "/etc/netns/$ns"
	done
	if [ -n "$LAB_DIR" ] && [ -d "$LAB_DIR" ]; then
		if [ "${LAB_KEEP:-0}" = 1 ]; then
			lab_log "kept $LAB_DIR"
		else
			rm -rf "$LAB_DIR"
		fi
	fi
	return 0
}
