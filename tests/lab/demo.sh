#!/bin/bash
# tests/lab/demo.sh - a short, readable tour of socksify (`make demo`).
# Builds the lab (needs root and ip netns), shows curl failing without
# socksify and curl, wget, python3 and nc working under it, shows the
# proxy's log lines, tears down.

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
# shellcheck source=lab.sh
. "$HERE/lab.sh"

if [ -t 1 ]; then B=$(printf '\033[1m') N=$(printf '\033[0m'); else B='' N=''; fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
show() { printf '$ %s\n' "$*"; }

if ! why=$(lab_available); then
	echo "demo: cannot run here: $why (the demo needs root and ip netns)" >&2
	exit 1
fi
if [ ! -x "$SOCKSIFY" ] || [ ! -f "$LIBSOCKSIFY" ]; then
	echo "demo: socksify is not built: run make all" >&2
	exit 1
fi

echo "Setting up a small network in namespaces (a few seconds)..."
lab_up || { echo "demo: the lab did not come up" >&2; exit 1; }
cat <<EOF
  client  $LAB_CLIENT4  can reach only the proxy, nothing else
  proxy   $LAB_PROXY4:$LAB_PORT  (danted, a SOCKS5 server)
  web     $LAB_TARGET4  serves the text "$LAB_TOKEN"
EOF
URL=http://$LAB_TARGET4/
PROXY=socks5://$LAB_PROXY4:$LAB_PORT

say "1. Without socksify, the client cannot reach the web server:"
show "curl $URL"
lab_c curl -sS -m 5 "$URL" 2>&1 | sed 's/^/  /'

say "2. Under socksify, the same curl goes through the proxy:"
show "socksify -x $PROXY -- curl $URL"
body=$(lab_c "$SOCKSIFY" -x "$PROXY" -- curl -sS -m 10 "$URL" 2>&1)
printf '%s\n' "$body" | sed 's/^/  /'
ok=0
[ "$body" = "$LAB_TOKEN" ] && ok=1

say "3. Other unmodified programs too: wget, python3 and nc (to an echo server):"
show "socksify -x $PROXY -- wget -qO- $URL"
wbody=$(lab_c "$SOCKSIFY" -x "$PROXY" -- wget -qO- -T 10 -t 1 "$URL" 2>&1)
printf '%s\n' "$wbody" | sed 's/^/  /'
[ "$wbody" = "$LAB_TOKEN" ] || ok=0
PYCODE="import socket; s = socket.create_connection(('$LAB_TARGET4', 7)); s.sendall(b'hello from python'); print(s.recv(100).decode())"
show "socksify -x $PROXY -- python3 -c \"...socket.create_connection(('$LAB_TARGET4', 7))...\""
pbody=$(lab_c "$SOCKSIFY" -x "$PROXY" -- "$PY" -c "$PYCODE" 2>&1)
printf '%s\n' "$pbody" | sed 's/^/  /'
[ "$pbody" = "hello from python" ] || ok=0
show "echo hello from nc | socksify -x $PROXY -- nc -N $LAB_TARGET4 7"
nbody=$(echo "hello from nc" | lab_c "$SOCKSIFY" -x "$PROXY" -- nc -N -w 10 "$LAB_TARGET4" 7 2>&1)
printf '%s\n' "$nbody" | sed 's/^/  /'
[ "$nbody" = "hello from nc" ] || ok=0

say "4. Active FTP: the server connects back to curl, through the proxy (SOCKS BIND):"
if /usr/bin/python3 -c 'import pyftpdlib' 2>/dev/null; then
	mkdir -p "$LAB_DIR/ftp"
	echo "a file fetched over active FTP" >"$LAB_DIR/ftp/file.txt"
	lab_spawn "$LAB_NS_T" /usr/bin/python3 -m pyftpdlib -p 21 -i "$LAB_TARGET4" \
		-d "$LAB_DIR/ftp" >"$LAB_DIR/ftpd.log" 2>&1
	lab_wait_port "$LAB_NS_T" "$LAB_TARGET4" 21 50
	show "socksify -x $PROXY -- curl -P - ftp://$LAB_TARGET4/file.txt"
	fbody=$(lab_c "$SOCKSIFY" -x "$PROXY" -- curl -sS -m 10 -P - "ftp://$LAB_TARGET4/file.txt" 2>&1)
	printf '%s\n' "$fbody" | sed 's/^/  /'
	[ "$fbody" = "a file fetched over active FTP" ] || ok=0
else
	echo "  (skipped: python3-pyftpdlib is not installed; make deps installs it)"
fi

say "5. The proxy's log shows the connections it carried:"
sleep 0.3
grep -E "tcp/(connect|bind) \[" "$LAB_DANTED_LOG" | sed 's/^.*: pass/  pass/' | head -8
echo "  (client $LAB_CLIENT4 -> proxy $LAB_PROXY4:$LAB_PORT -> servers at $LAB_TARGET4)"

echo
echo "Tearing down the lab."
lab_down
if [ "$ok" = 1 ]; then
	echo "Demo done: unmodified curl, wget, python3 and nc reached the servers only through the proxy (and an FTP server reached curl back through it)."
else
	echo "demo: a socksified program did not get the expected answer" >&2
	exit 1
fi
