# shellcheck shell=bash disable=SC2034
# tests/lab/lab.sh - a network lab of namespaces for socksify (sourced).
# (SC2034: the LAB_* variables are for the scripts that source this file.)
#
#   client 198.18.0.2  2001:db8:1::2   c4 198.18.2.2     c6 2001:db8:3::2
#     | veth  no default route;        | (IPv6 disabled)  | (no IPv4 but lo)
#     |       resolv.conf: .1.53 and   | veth             | veth
#     |       2:53, routed to border   |                  |
#   border 198.18.0.1  2001:db8:1::1      198.18.2.1         2001:db8:3::1
#          danted :1080 (no auth) on all four, :1081 (user/pass) on the first
#          two, both CONNECT and UDP ASSOCIATE; ip forwarding OFF;
#          resolv.conf: 198.18.1.53
#          198.18.1.1  2001:db8:2::1
#     | veth
#   target 198.18.1.2  2001:db8:2::2   -- HTTP :80 (body = $LAB_TOKEN), echo :7
#                                         (TCP), UDP echo :7 (udpecho.py)
#          198.18.1.53 2001:db8:2::53  -- dnsmasq (UDP+TCP 53) for socksify.test
#
# DNS (dnsmasq in the target, authoritative for socksify.test, nothing else):
#   www.socksify.test      A 198.18.1.2, AAAA 2001:db8:2::2   ($LAB_NAME)
#   target.socksify.test   the same                           ($LAB_HOSTNAME)
#   v4only.socksify.test   A only;  v6only.socksify.test AAAA only
#   cname.socksify.test    CNAME www.socksify.test
#   *.stress.socksify.test A 198.18.1.2; for n0..n9999.stress.socksify.test
#                          AAAA gets an empty NOERROR answer (NXDOMAIN for
#                          other names below stress.socksify.test)
# Only the border can reach the resolver.  The client's resolv.conf names
# it anyway (timeout:1 attempts:1) and routes exactly 198.18.1.53/32 and
# 2001:db8:2::53/128 to the border, which drops them (no forwarding): a
# leaked query shows up in a capture on the client's veth instead of failing
# locally with ENETUNREACH.  The client's /etc/hosts (a bind mount from
# /etc/netns) has localhost and "198.18.1.2 hosts-entry.socksify.test".
# c4 and c6 (for the RFC 3089 gateway tests) have the same resolv.conf idea
# (c4: 198.18.1.53 only; c6: 2001:db8:2::53 only) but no route to them.
#
# Functions:
#   lab_up           build everything; installs an EXIT/INT/TERM trap that
#                    calls lab_down.  Returns nonzero (after cleaning up) on
#                    failure.  Idempotent: a second call while up is a no-op.
#   lab_down         kill every process started here, delete the namespaces
#                    and their /etc/netns dirs, remove the temp dir.  Safe to
#                    call any number of times.
#   lab_c/lab_b/lab_t/lab_c4/lab_c6 CMD...   run CMD in that namespace
#   lab_danted_tail [N]        print the last N lines of both danted logs
#   lab_wait_port NS ADDR PORT [TENTHS]   bounded wait for a listening port
#   lab_wait_udp NS ADDR PORT [TENTHS]    the same for a bound UDP port
#   lab_danted_restart         stop the no-auth danted (LAB_PORT) and start
#                              it again with the same config (bounded)
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
LAB_UDP_PORT=7         # UDP echo (udpecho.py) on LAB_TARGET4 and LAB_TARGET6
LAB_USER=sfytest
LAB_PASS=sfy-lab-pass-42
# Extra client namespaces: c4 (IPv4 only) and c6 (IPv6 only).
LAB_C4=198.18.2.2
LAB_B4=198.18.2.1       # danted :1080 for c4
LAB_C6=2001:db8:3::2
LAB_B6=2001:db8:3::1    # danted :1080 for c6
# The resolver (dnsmasq in the target namespace) and its names.
LAB_DNS4=198.18.1.53
LAB_DNS6=2001:db8:2::53
LAB_DOMAIN=socksify.test
LAB_HOSTNAME=target.$LAB_DOMAIN    # resolvable only in the border namespace
LAB_NAME=www.$LAB_DOMAIN           # A LAB_TARGET4 + AAAA LAB_TARGET6
LAB_NAME_V4=v4only.$LAB_DOMAIN     # A only
LAB_NAME_V6=v6only.$LAB_DOMAIN     # AAAA only
LAB_NAME_CNAME=cname.$LAB_DOMAIN   # CNAME LAB_NAME
LAB_STRESS_DOMAIN=stress.$LAB_DOMAIN   # every name below: A LAB_TARGET4
LAB_STRESS_NAMES=10000                 # n0..n9999 also have an empty AAAA
LAB_HOSTS_NAME=hosts-entry.$LAB_DOMAIN # only in the client's /etc/hosts

LAB_UP=0
LAB_PIDS=()

lab_log() { printf 'lab: %s\n' "$*" >&2; }

lab_c() { ip netns exec "$LAB_NS_C" "$@"; }
lab_b() { ip netns exec "$LAB_NS_B" "$@"; }
lab_t() { ip netns exec "$LAB_NS_T" "$@"; }
lab_c4() { ip netns exec "$LAB_NS_C4" "$@"; }
lab_c6() { ip netns exec "$LAB_NS_C6" "$@"; }

# lab_available: 0 if this machine can run the lab, else prints why and 1.
lab_available() {
	if [ "$(id -u)" -ne 0 ]; then echo "not root"; return 1; fi
	if ! command -v ip >/dev/null 2>&1; then echo "no ip(8)"; return 1; fi
	if ! ip netns list >/dev/null 2>&1; then echo "ip netns unavailable"; return 1; fi
	local t
	for t in danted "$PY" tcpdump dnsmasq; do
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

# lab_wait_udp NS ADDR PORT [TENTHS]: wait (bounded) until UDP ADDR:PORT is bound.
lab_wait_udp() {
	local ns=$1 addr=$2 port=$3 tenths=${4:-100} i pat
	case $addr in *:*) pat="[$addr]:$port" ;; *) pat="$addr:$port" ;; esac
	for i in $(seq 1 "$tenths"); do
		if ip netns exec "$ns" ss -Huan 2>/dev/null | awk '{print $4}' | grep -qxF "$pat"; then
			return 0
		fi
		sleep 0.1
	done
	lab_log "timed out waiting for UDP $pat in $ns"
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

lab_danted_conf() { # FILE LOG PORT METHOD [INTERNAL ADDRS]
	danted_conf "$1" "$2" "$4" "connect disconnect error" \
		"${5:-$LAB_PROXY4 $LAB_PROXY6}" "$3" "$LAB_BORDER_T4 $LAB_BORDER_T6" \
		"connect udpassociate udpreply bind bindreply"
}

lab_danted_start() { # the no-auth instance; sets LAB_DANTED_PID
	lab_spawn "$LAB_NS_B" danted -f "$LAB_DIR/danted.conf" -p "$LAB_DIR/danted.pid" -N 2 \
		>>"$LAB_DANTED_LOG" 2>&1
	LAB_DANTED_PID=$LAB_LAST_PID
}

# lab_danted_restart: stop the no-auth danted (its children too: they are
# in its process group only if it made one, so by parent pid), wait until
# nothing listens on LAB_PORT, start it again and wait until it listens.
lab_danted_restart() {
	local kids i a
	kids=$(pgrep -P "$LAB_DANTED_PID" 2>/dev/null)
	lab_kill "$LAB_DANTED_PID"
	for i in $kids; do lab_kill "$i"; done
	for i in $(seq 1 50); do
		lab_b ss -Hltn 2>/dev/null | awk '{print $4}' | grep -q ":$LAB_PORT\$" || break
		sleep 0.1
	done
	lab_danted_start
	for a in "$LAB_PROXY4" "$LAB_PROXY6"; do
		lab_wait_port "$LAB_NS_B" "$a" "$LAB_PORT" 100 || return 1
	done
}

# The resolver's configuration: authoritative (local=) for the lab domain,
# no upstream, no /etc/hosts.
lab_dnsmasq_conf() { # FILE
	cat >"$1" <<EOF
no-resolv
no-hosts
bind-interfaces
listen-address=$LAB_DNS4
listen-address=$LAB_DNS6
port=53
user=nobody
group=nogroup
pid-file=$LAB_DIR/dnsmasq.pid
log-facility=$LAB_DIR/dnsmasq.log
log-queries
log-async=100
local=/$LAB_DOMAIN/
host-record=$LAB_NAME,$LAB_TARGET4,$LAB_TARGET6
host-record=$LAB_HOSTNAME,$LAB_TARGET4,$LAB_TARGET6
host-record=$LAB_NAME_V4,$LAB_TARGET4
host-record=$LAB_NAME_V6,$LAB_TARGET6
cname=$LAB_NAME_CNAME,$LAB_NAME
address=/$LAB_STRESS_DOMAIN/$LAB_TARGET4
addn-hosts=$LAB_DIR/dns/stress.hosts
EOF
	# address= alone answers AAAA queries for the names below it with
	# NXDOMAIN; n0..n(LAB_STRESS_NAMES-1) are also listed as hosts, which
	# makes their AAAA answer an empty NOERROR (what a real zone gives).
	# dnsmasq reads it as nobody: LAB_DIR becomes traversable (not listable).
	chmod 711 "$LAB_DIR" && mkdir -m 755 "$LAB_DIR/dns" || return 1
	seq 0 $((LAB_STRESS_NAMES - 1)) |
		awk -v t="$LAB_TARGET4" -v d="$LAB_STRESS_DOMAIN" '{print t " n" $1 "." d}' \
			>"$LAB_DIR/dns/stress.hosts"
}

# /etc/netns/NS/{resolv.conf,hosts}: ip netns exec bind-mounts them over
# /etc's for everything run in NS.
lab_netns_etc() { # NS HOSTS-EXTRA NAMESERVER...
	local ns=$1 extra=$2 a
	shift 2
	mkdir -p "/etc/netns/$ns" || return 1
	{
		for a in "$@"; do echo "nameserver $a"; done
		echo "options timeout:1 attempts:1"
	} >"/etc/netns/$ns/resolv.conf" || return 1
	{
		printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
		if [ -n "$extra" ]; then printf '%s\n' "$extra"; fi
	} >"/etc/netns/$ns/hosts"
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
	LAB_NS_C4=${p}c4 LAB_NS_C6=${p}c6
	LAB_IF_C=${p}c0     # client side of client<->border
	LAB_IF_BC=${p}b0    # border side of client<->border
	LAB_IF_BT=${p}b1    # border side of border<->target
	LAB_IF_T=${p}t0     # target side of border<->target
	LAB_IF_C4=${p}4c    # c4 side of c4<->border
	LAB_IF_B4=${p}4b    # border side of c4<->border
	LAB_IF_C6=${p}6c    # c6 side of c6<->border
	LAB_IF_B6=${p}6b    # border side of c6<->border
	LAB_DIR=$(mktemp -d /tmp/socksify-lab.XXXXXX) || return 1
	LAB_TOKEN=socksify-lab-token-$$-$RANDOM$RANDOM
	LAB_LOCAL_TOKEN=socksify-loopback-token-$$-$RANDOM$RANDOM
	LAB_DANTED_LOG=$LAB_DIR/danted.log
	LAB_DANTED_AUTH_LOG=$LAB_DIR/danted-auth.log
	LAB_DNSMASQ_LOG=$LAB_DIR/dnsmasq.log
	: >"$LAB_DANTED_LOG"; : >"$LAB_DANTED_AUTH_LOG"

	lab_user || { lab_log "cannot create user $LAB_USER"; return 1; }

	local ns
	for ns in "$LAB_NS_C" "$LAB_NS_B" "$LAB_NS_T" "$LAB_NS_C4" "$LAB_NS_C6"; do
		ip netns add "$ns" || return 1
		ip netns exec "$ns" ip link set lo up || return 1
	done
	# c4 has no IPv6 at all (not even ::1); set before its veth exists.
	lab_c4 sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null || return 1

	# Resolver configuration and hosts files (see the top of this file).
	lab_netns_etc "$LAB_NS_B" "" "$LAB_DNS4" &&
		lab_netns_etc "$LAB_NS_C" "$LAB_TARGET4 $LAB_HOSTS_NAME" "$LAB_DNS4" "$LAB_DNS6" &&
		lab_netns_etc "$LAB_NS_C4" "" "$LAB_DNS4" &&
		lab_netns_etc "$LAB_NS_C6" "" "$LAB_DNS6" || return 1
	# c4's hosts file without the ::1 line: it has no IPv6.
	printf '127.0.0.1\tlocalhost\n' >"/etc/netns/$LAB_NS_C4/hosts" || return 1

	lab_veth "$LAB_NS_C" "$LAB_IF_C" "$LAB_NS_B" "$LAB_IF_BC" || return 1
	lab_veth "$LAB_NS_B" "$LAB_IF_BT" "$LAB_NS_T" "$LAB_IF_T" || return 1
	lab_veth "$LAB_NS_C4" "$LAB_IF_C4" "$LAB_NS_B" "$LAB_IF_B4" || return 1
	lab_veth "$LAB_NS_C6" "$LAB_IF_C6" "$LAB_NS_B" "$LAB_IF_B6" || return 1

	lab_c ip addr add "$LAB_CLIENT4/24" dev "$LAB_IF_C" &&
		lab_c ip addr add "$LAB_CLIENT6/64" dev "$LAB_IF_C" nodad &&
		lab_c ip link set "$LAB_IF_C" up &&
		lab_c ip route add "$LAB_DNS4/32" via "$LAB_PROXY4" &&
		lab_c ip -6 route add "$LAB_DNS6/128" via "$LAB_PROXY6" || return 1
	lab_c4 ip addr add "$LAB_C4/24" dev "$LAB_IF_C4" &&
		lab_c4 ip link set "$LAB_IF_C4" up || return 1
	lab_c6 ip addr add "$LAB_C6/64" dev "$LAB_IF_C6" nodad &&
		lab_c6 ip link set "$LAB_IF_C6" up || return 1
	lab_b sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 >/dev/null &&
		lab_b ip addr add "$LAB_PROXY4/24" dev "$LAB_IF_BC" &&
		lab_b ip addr add "$LAB_PROXY6/64" dev "$LAB_IF_BC" nodad &&
		lab_b ip addr add "$LAB_BORDER_T4/24" dev "$LAB_IF_BT" &&
		lab_b ip addr add "$LAB_BORDER_T6/64" dev "$LAB_IF_BT" nodad &&
		lab_b ip addr add "$LAB_B4/24" dev "$LAB_IF_B4" &&
		lab_b ip addr add "$LAB_B6/64" dev "$LAB_IF_B6" nodad &&
		lab_b ip link set "$LAB_IF_BC" up &&
		lab_b ip link set "$LAB_IF_BT" up &&
		lab_b ip link set "$LAB_IF_B4" up &&
		lab_b ip link set "$LAB_IF_B6" up || return 1
	lab_t ip addr add "$LAB_TARGET4/24" dev "$LAB_IF_T" &&
		lab_t ip addr add "$LAB_TARGET6/64" dev "$LAB_IF_T" nodad &&
		lab_t ip addr add "$LAB_DNS4/32" dev "$LAB_IF_T" &&
		lab_t ip addr add "$LAB_DNS6/128" dev "$LAB_IF_T" nodad &&
		lab_t ip link set "$LAB_IF_T" up &&
		lab_t ip route add 198.18.0.0/15 via "$LAB_BORDER_T4" &&
		lab_t ip -6 route add 2001:db8::/32 via "$LAB_BORDER_T6" || return 1

	# Target servers.
	lab_spawn "$LAB_NS_T" "$PY" "$LAB_HERE/servers.py" \
		--addr "$LAB_TARGET4" --addr "$LAB_TARGET6" --http-port 80 --echo-port 7 \
		--token "$LAB_TOKEN" --ready "$LAB_DIR/target.ready" \
		2>>"$LAB_DIR/target.log"
	LAB_TARGET_PID=$LAB_LAST_PID
	lab_spawn "$LAB_NS_T" "$PY" "$LAB_HERE/udpecho.py" \
		--addr "$LAB_TARGET4" --addr "$LAB_TARGET6" --port "$LAB_UDP_PORT" \
		--ready "$LAB_DIR/udpecho.ready" 2>>"$LAB_DIR/udpecho.log"
	LAB_UDPECHO_PID=$LAB_LAST_PID

	# The resolver, in the foreground (-k) so lab_down can stop it.
	lab_dnsmasq_conf "$LAB_DIR/dnsmasq.conf" || return 1
	lab_spawn "$LAB_NS_T" dnsmasq -k -C "$LAB_DIR/dnsmasq.conf" \
		>>"$LAB_DIR/dnsmasq.err" 2>&1
	LAB_DNSMASQ_PID=$LAB_LAST_PID

	# Two danted instances: no auth on LAB_PORT, username on LAB_AUTH_PORT.
	lab_danted_conf "$LAB_DIR/danted.conf" "$LAB_DANTED_LOG" "$LAB_PORT" none \
		"$LAB_PROXY4 $LAB_PROXY6 $LAB_B4 $LAB_B6"
	lab_danted_conf "$LAB_DIR/danted-auth.conf" "$LAB_DANTED_AUTH_LOG" "$LAB_AUTH_PORT" username
	lab_danted_start
	lab_spawn "$LAB_NS_B" danted -f "$LAB_DIR/danted-auth.conf" -p "$LAB_DIR/danted-auth.pid" -N 1 \
		>>"$LAB_DANTED_AUTH_LOG" 2>&1
	LAB_DANTED_AUTH_PID=$LAB_LAST_PID

	lab_wait_file "$LAB_DIR/target.ready" 100 || return 1
	lab_wait_port "$LAB_NS_T" "$LAB_TARGET4" 80 &&
		lab_wait_port "$LAB_NS_T" "$LAB_TARGET6" 80 &&
		lab_wait_port "$LAB_NS_T" "$LAB_TARGET4" 7 &&
		lab_wait_port "$LAB_NS_T" "$LAB_TARGET6" 7 || return 1
	lab_wait_file "$LAB_DIR/udpecho.ready" 100 &&
		lab_wait_udp "$LAB_NS_T" "$LAB_TARGET4" "$LAB_UDP_PORT" &&
		lab_wait_udp "$LAB_NS_T" "$LAB_TARGET6" "$LAB_UDP_PORT" || return 1
	if ! lab_wait_port "$LAB_NS_T" "$LAB_DNS4" 53 ||
		! lab_wait_port "$LAB_NS_T" "$LAB_DNS6" 53; then
		sed 's/^/dnsmasq: /' "$LAB_DIR/dnsmasq.err" >&2
		return 1
	fi
	lab_wait_port "$LAB_NS_B" "$LAB_PROXY4" "$LAB_PORT" &&
		lab_wait_port "$LAB_NS_B" "$LAB_PROXY6" "$LAB_PORT" &&
		lab_wait_port "$LAB_NS_B" "$LAB_B4" "$LAB_PORT" &&
		lab_wait_port "$LAB_NS_B" "$LAB_B6" "$LAB_PORT" &&
		lab_wait_port "$LAB_NS_B" "$LAB_PROXY4" "$LAB_AUTH_PORT" &&
		lab_wait_port "$LAB_NS_B" "$LAB_PROXY6" "$LAB_AUTH_PORT" || return 1
	# The border resolves through dnsmasq (UDP; bounded by resolv.conf's
	# timeout:1 attempts:1 and timeout(1)).
	local i got=""
	for i in 1 2 3 4 5 6 7 8 9 10; do
		got=$(lab_b timeout 5 getent ahosts "$LAB_HOSTNAME" 2>/dev/null | awk '{print $1}' | sort -u | tr '\n' ' ')
		[ "$got" = "$LAB_TARGET4 $LAB_TARGET6 " ] && return 0
		sleep 0.2
	done
	lab_log "the border does not resolve $LAB_HOSTNAME through dnsmasq (got \"$got\")"
	sed 's/^/dnsmasq: /' "$LAB_DIR/dnsmasq.err" >&2
	return 1
}

# Every namespace this lab made.
lab_namespaces() {
	local ns
	for ns in "$LAB_NS_C" "$LAB_NS_B" "$LAB_NS_T" "$LAB_NS_C4" "$LAB_NS_C6"; do
		[ -n "$ns" ] && echo "$ns"
	done
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
	# Anything still inside our own namespaces (danted and dnsmasq children,
	# stray test processes) was started by this lab: end it before deleting
	# them.
	for ns in $(lab_namespaces); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	for ns in $(lab_namespaces); do
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

# ---------------------------------------------------------------- suite helpers
# For the test suites (run.sh, dns.sh).  They set VIA (socksify or
# proxychains: what carries the programs) and OUT (a per-suite output dir
# inside LAB_DIR).
#
#   via URL CMD...         run CMD in the client namespace through the proxy
#                          at URL (socksify -x URL, proxychains4, or with
#                          VIA=dante Dante's own client /usr/bin/socksify,
#                          which also carries UDP), bounded
#   via_ns NS URL CMD...   the same in namespace NS
#   pc_conf URL            write a proxychains4 config for URL, print its path
#   dante_conf URL         write a Dante client socks.conf for URL, print its path
#   run NAME CMD...        run CMD: stdout to $OUT/NAME.out, stderr to
#                          $OUT/NAME.err, exit code to RC
#   show NAME              print what a failed test's command did
#   got NAME TEXT          0 if NAME's stdout is exactly TEXT
#   check_eq DESC NAME EXPECTED CMD...   pass if CMD exits 0 and prints
#                          exactly EXPECTED
#   lab_capture_start NS IF FILE   tcpdump on IF in NS into FILE (bounded
#                          wait until it listens); sets LAB_CAPTURE_PID
#   lab_capture_stop       let the last packets land, stop that tcpdump

via_ns() {
	local ns=$1 url=$2
	shift 2
	case ${VIA:-socksify} in
	socksify)
		ip netns exec "$ns" timeout 60 "$SOCKSIFY" -x "$url" -- "$@"
		;;
	proxychains)
		local conf
		conf=$(pc_conf "$url") || return 99
		ip netns exec "$ns" timeout 60 proxychains4 -q -f "$conf" "$@"
		;;
	dante)
		local conf
		conf=$(dante_conf "$url") || return 99
		ip netns exec "$ns" env SOCKS_CONF="$conf" SOCKS_AUTOADD_LANROUTES=no \
			timeout 60 "$(lab_dante_client)" "$@"
		;;
	esac
}

# lab_fake SCENARIO,... CONNS PORT LOG: the scripted fake SOCKS5 server
# (tests/fake/fake_socks5.py) on $LAB_PROXY4:PORT in the border, for CONNS
# connections, logging to LOG (its stderr to $LAB_DIR/fake.err); waits
# until it listens.  Sets LAB_FAKE_PID (stop it with lab_kill); 1 when it
# does not come up.
lab_fake() {
	rm -f "$LAB_DIR/fake.ready"
	lab_spawn "$LAB_NS_B" /usr/bin/python3 "$LAB_HERE/../fake/fake_socks5.py" \
		--host "$LAB_PROXY4" --port "$3" --scenario "$1" --conns "$2" \
		--idle 20 --ready "$LAB_DIR/fake.ready" --log "$4" 2>>"$LAB_DIR/fake.err"
	LAB_FAKE_PID=$LAB_LAST_PID
	lab_wait_file "$LAB_DIR/fake.ready" 100 &&
		lab_wait_port "$LAB_NS_B" "$LAB_PROXY4" "$3" 50
}

# Dante's client: /usr/bin/socksify, or /usr/bin/socksify.dante where our
# package has diverted it (debian/socksify.preinst).
lab_dante_client() {
	if [ -x /usr/bin/socksify.dante ]; then echo /usr/bin/socksify.dante
	else echo /usr/bin/socksify; fi
}

via() { via_ns "$LAB_NS_C" "$@"; }

pc_conf() {
	local url=$1 dns="" rest cred="" host port user="" pass=""
	case $url in
	socks5h://*) dns=proxy_dns; rest=${url#socks5h://} ;;
	socks5://*) rest=${url#socks5://} ;;
	*) return 1 ;;
	esac
	rest=${rest%/}
	case $rest in *@*) cred=${rest%@*}; rest=${rest##*@} ;; esac
	if [ -n "$cred" ]; then user=${cred%%:*}; pass=${cred#*:}; fi
	port=${rest##*:}; host=${rest%:*}; host=${host#[}; host=${host%]}
	local f="$LAB_DIR/pc-$RANDOM$RANDOM.conf"
	{
		echo strict_chain
		[ -n "$dns" ] && echo "$dns"
		echo "tcp_read_time_out 15000"
		echo "tcp_connect_time_out 8000"
		echo "localnet 127.0.0.0/255.0.0.0"
		echo "[ProxyList]"
		echo "socks5 $host $port $user $pass"
	} >"$f"
	echo "$f"
}

# The URL's parts: sets U_HOST U_PORT U_USER U_PASS U_DNS (1 for socks5h).
url_parts() {
	local url=$1 rest cred=""
	U_DNS=0 U_USER="" U_PASS=""
	case $url in
	socks5h://*) U_DNS=1; rest=${url#socks5h://} ;;
	socks5://*) rest=${url#socks5://} ;;
	*) return 1 ;;
	esac
	rest=${rest%/}
	case $rest in *@*) cred=${rest%@*}; rest=${rest##*@} ;; esac
	if [ -n "$cred" ]; then U_USER=${cred%%:*}; U_PASS=${cred#*:}; fi
	U_PORT=${rest##*:}; U_HOST=${rest%:*}; U_HOST=${U_HOST#[}; U_HOST=${U_HOST%]}
}

dante_conf() {
	url_parts "$1" || return 1
	local f="$LAB_DIR/dante-$RANDOM$RANDOM.conf" m=none
	[ -n "$U_USER" ] && m=username
	{
		echo "route {"
		echo "	from: 0.0.0.0/0 to: 0.0.0.0/0 via: $U_HOST port = $U_PORT"
		echo "	proxyprotocol: socks_v5"
		echo "	command: connect udpassociate"
		echo "	method: $m"
		echo "}"
		echo "route {"
		echo "	from: ::/0 to: ::/0 via: $U_HOST port = $U_PORT"
		echo "	proxyprotocol: socks_v5"
		echo "	command: connect udpassociate"
		echo "	method: $m"
		echo "}"
	} >"$f"
	echo "$f"
}

run() {
	local name=$1; shift
	"$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
	RC=$?
	if [ "${LAB_VERBOSE:-0}" = 1 ]; then
		echo "  [$name] rc=$RC: $*"
		sed 's/^/  out| /' "$OUT/$name.out"
		sed 's/^/  err| /' "$OUT/$name.err"
	fi
	return 0
}

show() {
	local name=$1
	echo "  -- rc=$RC; stdout:"
	head -n 15 "$OUT/$name.out" | sed 's/^/  | /'
	echo "  -- stderr:"
	head -n 15 "$OUT/$name.err" | sed 's/^/  | /'
	lab_danted_tail 6 | sed 's/^/  /'
}

got() { [ "$(cat "$OUT/$1.out")" = "$2" ]; }

# lab_facts DESC NAME: pass if NAME (a run of a tests/prog program that
# prints fact.h's "ok:"/"FAIL:" lines) exited 0 with every fact holding;
# else fail with its failed facts, its stderr and danted's last lines.
lab_facts() {
	local desc=$1 name=$2 nok nfail
	nok=$(grep -c '^ok: ' "$OUT/$name.out")
	nfail=$(grep -c '^FAIL: ' "$OUT/$name.out")
	if [ "$RC" -eq 0 ] && [ "$nfail" -eq 0 ] && [ "$nok" -gt 0 ] &&
		[ "$(tail -n1 "$OUT/$name.out")" = "all facts hold" ]; then
		pass "$desc ($nok facts)"
	else
		fail "$desc (rc $RC, $nok ok, $nfail FAIL)"
		grep '^FAIL: ' "$OUT/$name.out" | sed 's/^/  | /'
		echo "  -- stderr:"
		head -n 15 "$OUT/$name.err" | sed 's/^/  | /'
		lab_danted_tail 4 | sed 's/^/  /'
	fi
}

check_eq() {
	local desc=$1 name=$2 want=$3; shift 3
	run "$name" "$@"
	if [ "$RC" -eq 0 ] && got "$name" "$want"; then
		pass "$desc"
	else
		fail "$desc (wanted \"$want\")"
		show "$name"
	fi
}

lab_capture_start() { # NS IF FILE
	local err=$3.err
	lab_spawn "$1" tcpdump -i "$2" -n -U --immediate-mode -Z root -w "$3" 2>"$err"
	LAB_CAPTURE_PID=$LAB_LAST_PID
	for _ in $(seq 1 50); do
		grep -q 'listening on' "$err" 2>/dev/null && return 0
		sleep 0.1
	done
	lab_log "tcpdump did not report listening: $(cat "$err")"
	return 1
}

lab_capture_stop() {
	sleep 0.3
	lab_kill "$LAB_CAPTURE_PID"
}
