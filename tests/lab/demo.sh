#!/bin/bash
# tests/lab/demo.sh - a short, readable tour of socksify (`make demo`).
# Builds the lab (needs root and ip netns), shows curl failing without
# socksify and working under it, shows the proxy's log line, tears down.

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

say "3. The proxy's log shows the connection it carried:"
sleep 0.3
grep -m1 "tcp/connect \[" "$LAB_DANTED_LOG" | sed 's/^.*: pass/  pass/'
echo "  (client $LAB_CLIENT4 -> proxy $LAB_PROXY4:$LAB_PORT -> web server $LAB_TARGET4:80)"

echo
echo "Tearing down the lab."
lab_down
if [ "$ok" = 1 ]; then
	echo "Demo done: the unmodified curl reached the server only through the proxy."
else
	echo "demo: socksified curl did not get the expected page" >&2
	exit 1
fi
