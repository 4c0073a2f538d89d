#!/bin/sh
# Installs, idempotently, the Debian packages socksify builds and tests with.
# Does nothing when everything is present; needs root otherwise.
set -eu

PKGS="build-essential pkg-config uthash-dev check dante-server curl wget
python3 netcat-openbsd iproute2 tcpdump libcap2-bin proxychains4 torsocks
dante-client clang clang-format dnsmasq-base socat dnsutils strace nginx
lftp microsocks python3-pyftpdlib ftp openssh-server openssh-client git
openssl debhelper lintian bash-completion man-db golang-go
busybox-static"
# `make sanitize` needs gcc's libasan and libubsan: libasan8 and libubsan1
# on Debian 12, which gcc-12 (build-essential) already depends on.

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The package's own danted service is not what the tests use: they start
# their own instances in network namespaces.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q danted 2>/dev/null; then
	systemctl stop danted || true
fi
# Nor is nginx's: tests/lab/async.sh runs its own instance (own config, pid
# and logs in a temp dir) in the client namespace.  Stopped and kept from
# starting at boot, but only when installed here (someone's own nginx is
# left alone).
# So is openssh-server's sshd: tests/lab/examples.sh starts its own on the
# border namespace (README's ssh -D example).
for svc in nginx:nginx ssh:openssh-server; do
	case " $missing " in
	*" ${svc#*:} "*)
		if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
			systemctl disable --now "${svc%%:*}" >/dev/null 2>&1 || true
		elif [ -x "/etc/init.d/${svc%%:*}" ]; then
			"/etc/init.d/${svc%%:*}" stop >/dev/null 2>&1 || true
			update-rc.d "${svc%%:*}" disable >/dev/null 2>&1 || true
		fi
		;;
	esac
done
